//
// PackageInstallTest.cpp
//
// The switchboard Debian package of this build tree installed on this machine, as an operator
// would: apt-get install of the .deb cpack makes (dpkg -i where apt cannot), then the system user,
// the conffile and the state directory; the installed binary started with the installed
// configuration as the switchboard user (ports and storage moved by --set to loopback ports and a
// temporary directory); every bundled plugin and the admin console (with Debian's Chart.js)
// answering; then apt-get purge, after which nothing of the package is left but the system user.
//
// Changes the machine, so it skips, saying why, unless run as root with dpkg, apt-get and cpack,
// and when a switchboard package (even only its configuration) or its directories are already
// there: it never touches an operator's install. The package is purged in a cleanup path even
// when an assertion fails. The systemd unit is exercised only where systemd is PID 1.
//


#include "BrowserTestSupport.h"
#include "ChildProcess.h"
#include "DebianPackages.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TempDir.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>


using namespace Switchboard::Test;


namespace {


const char* LOOPBACK = "127.0.0.1";
const char* USER = "switchboard";
const char* STATE_DIR = "/var/lib/switchboard";
const char* CONFIG = "/etc/switchboard/switchboard.ini";
const char* BINARY = "/usr/bin/switchboard";
const char* CHART_JS = "/usr/share/javascript/chart.js/chart.min.js";
const char* PLUGINS[] = {"echo", "peerjs", "govpn", "together", "peervault"};
const int COMMAND_TIMEOUT_MS = 120000;
// What a purge must remove; the package's own paths are checked one by one as well.
const char* GONE_AFTER_PURGE[] = {"/etc/switchboard",
                                  "/usr/lib/switchboard",
                                  BINARY,
                                  STATE_DIR,
                                  "/usr/share/switchboard",
                                  "/usr/share/doc/switchboard",
                                  "/lib/systemd/system/switchboard.service",
                                  "/etc/systemd/system/multi-user.target.wants/switchboard.service"};


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


bool exists(const std::string& path)
{
	struct stat st;
	return ::lstat(path.c_str(), &st) == 0;
}


TestServer::RunResult run(const std::string& program, const std::vector<std::string>& args)
{
	// No prompt from dpkg or debconf, whatever the terminal.
	return TestServer::runOnce(args, COMMAND_TIMEOUT_MS, program, {{"DEBIAN_FRONTEND", "noninteractive"}});
}


std::string packageStatus()
/// dpkg's status of the switchboard package ("install ok installed"), "" if dpkg knows none.
{
	TestServer::RunResult r = run(Browser::findExecutable("dpkg-query"), {"-W", "-f=${Status}", USER});
	return r.exitCode == 0 ? r.stdoutText : "";
}


struct Account
{
	bool found = false;
	uid_t uid = 0;
	gid_t gid = 0;
	std::string home;
	std::string shell;
};


Account account()
{
	Account a;
	struct passwd* pw = ::getpwnam(USER);
	if (pw)
	{
		a.found = true;
		a.uid = pw->pw_uid;
		a.gid = pw->pw_gid;
		a.home = pw->pw_dir;
		a.shell = pw->pw_shell;
	}
	return a;
}


bool groupExists()
{
	return ::getgrnam(USER) != nullptr;
}


std::string whySkip()
{
	if (::geteuid() != 0)
		return "not root (installing a package needs root)";
	for (const char* tool : {"dpkg", "dpkg-query", "apt-get", "setpriv"})
	{
		if (Browser::findExecutable(tool).empty())
			return std::string("no ") + tool;
	}
	if (Debian::cpackProgram().empty())
		return "no cpack";
	const std::string status = packageStatus();
	if (!status.empty() && !contains(status, "not-installed"))
		return "a switchboard package is already on this machine (" + status + "); it is left alone";
	for (const char* path : GONE_AFTER_PURGE)
	{
		if (exists(path))
			return std::string(path) + " already exists (an install not made by this test); it is left alone";
	}
	return "";
}


class Installation
/// Installs the package; purges it when purge() was not called, even during unwinding, and then
/// removes the system user and group if this test created them, so the machine is left as found.
{
public:
	explicit Installation(const Debian::Packages& packages):
	    _packages(packages),
	    _noSources(packages.dir->makeDirectory("no-sources"))
	{
		_userExisted = account().found;
		_groupExisted = groupExists();
	}

	~Installation()
	{
		try
		{
			if (_installed)
			{
				std::string how = purge();
				std::printf("\nPackageInstallTest: cleanup: %s\n", how.c_str());
			}
			removeAccount();
		}
		catch (const std::exception& e)
		{
			std::fprintf(stderr, "PackageInstallTest: cleanup failed: %s\n", e.what());
		}
	}

	std::string install()
	/// apt-get first, from what is installed and cached only; dpkg -i when apt cannot. Says how.
	{
		_installed = true; // from here on a half-done install is purged too
		std::vector<std::string> args{"install", "-y", "--no-install-recommends"};
		for (const std::string& option : aptOptions())
			args.push_back(option);
		args.push_back(_packages.server);
		TestServer::RunResult apt = run(Browser::findExecutable("apt-get"), args);
		if (apt.exitCode == 0)
			return "installed with apt-get install " + _packages.server;
		TestServer::RunResult dpkg = run(Browser::findExecutable("dpkg"), {"-i", _packages.server});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("apt-get install failed (" + ChildProcess::tailLines(apt.output(), 5) +
		                                 "), and so did dpkg -i: " + dpkg.describe(),
		                             0, dpkg.exitCode);
		return "installed with dpkg -i, as apt-get could not: " + ChildProcess::tailLines(apt.output(), 3);
	}

	std::string purge()
	{
		_installed = false;
		std::vector<std::string> args{"purge", "-y"};
		for (const std::string& option : aptOptions())
			args.push_back(option);
		args.push_back(USER);
		TestServer::RunResult apt = run(Browser::findExecutable("apt-get"), args);
		if (apt.exitCode == 0)
			return "purged with apt-get purge";
		TestServer::RunResult dpkg = run(Browser::findExecutable("dpkg"), {"--purge", USER});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("apt-get purge failed (" + ChildProcess::tailLines(apt.output(), 5) +
		                                 "), and so did dpkg --purge: " + dpkg.describe(),
		                             0, dpkg.exitCode);
		return "purged with dpkg --purge, as apt-get could not: " + ChildProcess::tailLines(apt.output(), 3);
	}

	void removeAccount()
	/// Only what this test's install created; an account that was there before stays.
	{
		if (!_userExisted && account().found)
			run(Browser::findExecutable("userdel"), {USER});
		if (!_groupExisted && groupExists())
			run(Browser::findExecutable("groupdel"), {USER});
	}

	bool userExisted() const { return _userExisted; }

private:
	std::vector<std::string> aptOptions() const
	{
		// No package sources at all, so apt resolves against what is installed and downloads
		// nothing: the dependencies must be there already. (--no-download would say so too, but
		// apt 2.6 then refuses a .deb given by path: "Pathname to install is not absolute".)
		return {"-o", "Dir::Etc::SourceList=/dev/null", "-o", "Dir::Etc::SourceParts=" + _noSources,
		        "-o", "DPkg::Lock::Timeout=60"};
	}

	const Debian::Packages& _packages;
	const std::string _noSources;
	bool _installed = false;
	bool _userExisted = false;
	bool _groupExisted = false;
};


class WorkingDirectory
/// The runner's working directory for a while (a started child keeps the one it was given), as
/// the unit runs the server in its state directory.
{
public:
	explicit WorkingDirectory(const std::string& path):
	    _previous(std::filesystem::current_path())
	{
		std::filesystem::current_path(path);
	}

	~WorkingDirectory()
	{
		std::error_code ec;
		std::filesystem::current_path(_previous, ec);
	}

private:
	std::filesystem::path _previous;
};


std::string uidOf(pid_t pid)
/// The real uid of a running process as /proc shows it ("Uid:\t998\t998\t998\t998").
{
	std::ifstream status("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(status, line))
	{
		if (line.rfind("Uid:", 0) == 0)
		{
			std::stringstream fields(line.substr(4));
			std::string real;
			fields >> real;
			return real;
		}
	}
	return "";
}


} // namespace


class PackageInstallTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PackageInstallTest);
	CPPUNIT_TEST(testInstallRunPurge);
	CPPUNIT_TEST_SUITE_END();

public:
	void testInstallRunPurge()
	{
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::printf("\nPackageInstallTest: skipped: %s\n", skip.c_str());
			return;
		}
		Debian::Packages packages = Debian::build("PackageInstallTest");
		if (!packages.skipReason.empty())
		{
			std::printf("\nPackageInstallTest: skipped: %s\n", packages.skipReason.c_str());
			return;
		}
		CPPUNIT_ASSERT_MESSAGE(packages.failure, packages.failure.empty());
		// apt runs its download step as _apt, which must be able to read the file.
		std::filesystem::permissions(packages.dir->path(),
		                             std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
		                                 std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
		                                 std::filesystem::perms::others_exec);
		std::vector<std::string> packaged = Debian::contents(packages.dpkgDeb, packages.server);

		Installation installation(packages);
		std::printf("\nPackageInstallTest: %s\n", installation.install().c_str());
		checkInstalled(installation);
		checkUnit();
		checkServerRunsAsUser();

		std::printf("\nPackageInstallTest: %s\n", installation.purge().c_str());
		checkPurged(packaged);
		// Debian keeps system users on purge (files elsewhere may still carry their ids), and so
		// does postrm: the user and group are all that stays. Installation removes them afterwards
		// if this test created them.
		Account after = account();
		CPPUNIT_ASSERT_MESSAGE("the switchboard user stays after a purge", after.found);
		CPPUNIT_ASSERT_MESSAGE("the switchboard group stays after a purge", groupExists());
	}

private:
	void checkInstalled(const Installation& installation)
	{
		CPPUNIT_ASSERT_EQUAL(std::string("install ok installed"), packageStatus());

		Account user = account();
		CPPUNIT_ASSERT_MESSAGE("postinst created no switchboard user", user.found);
		if (!installation.userExisted())
		{
			// adduser --system: below the first ordinary uid (1000 on Debian).
			CPPUNIT_ASSERT_MESSAGE("uid " + std::to_string(user.uid), user.uid > 0 && user.uid < 1000);
			CPPUNIT_ASSERT_EQUAL(std::string(STATE_DIR), user.home);
			CPPUNIT_ASSERT_EQUAL(std::string("/usr/sbin/nologin"), user.shell);
		}
		struct group* group = ::getgrnam(USER);
		CPPUNIT_ASSERT_MESSAGE("no switchboard group", group != nullptr);
		CPPUNIT_ASSERT_EQUAL(group->gr_gid, user.gid);

		// dpkg knows the configuration as a conffile (so an edit survives upgrades and a remove).
		TestServer::RunResult conffiles = run(Browser::findExecutable("dpkg-query"), {"-W", "-f=${Conffiles}\n", USER});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(conffiles.describe(), 0, conffiles.exitCode);
		CPPUNIT_ASSERT_MESSAGE(conffiles.stdoutText, contains(conffiles.stdoutText, std::string(" ") + CONFIG + " "));
		CPPUNIT_ASSERT_MESSAGE("not a regular file: " + std::string(CONFIG), std::filesystem::is_regular_file(CONFIG));
		// It may hold the admin token and passwords: root's, readable by the service's group only.
		struct stat st;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(CONFIG, 0, ::stat(CONFIG, &st));
		CPPUNIT_ASSERT_EQUAL(static_cast<uid_t>(0), st.st_uid);
		CPPUNIT_ASSERT_EQUAL(user.gid, st.st_gid);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(CONFIG, 0640, static_cast<int>(st.st_mode & 07777));

		CPPUNIT_ASSERT_EQUAL_MESSAGE(STATE_DIR, 0, ::stat(STATE_DIR, &st));
		CPPUNIT_ASSERT(S_ISDIR(st.st_mode));
		CPPUNIT_ASSERT_EQUAL(user.uid, st.st_uid);
		CPPUNIT_ASSERT_EQUAL(user.gid, st.st_gid);
		CPPUNIT_ASSERT_EQUAL(0750, static_cast<int>(st.st_mode & 07777));

		CPPUNIT_ASSERT_EQUAL(0, ::access(BINARY, X_OK));
		for (const char* plugin : PLUGINS)
		{
			const std::string so = std::string("/usr/lib/switchboard/plugins/") + plugin + ".so";
			CPPUNIT_ASSERT_MESSAGE(so, exists(so));
		}
		// Debian policy: every package's copyright file, and a Debian changelog.
		CPPUNIT_ASSERT_MESSAGE("no copyright file", exists("/usr/share/doc/switchboard/copyright"));
		std::string copyright = Browser::readAll("/usr/share/doc/switchboard/copyright");
		CPPUNIT_ASSERT_MESSAGE(copyright, contains(copyright, "Format: https://www.debian.org/doc/packaging-manuals/"
		                                                      "copyright-format/1.0/"));
		CPPUNIT_ASSERT_MESSAGE("no changelog.Debian.gz", exists("/usr/share/doc/switchboard/changelog.Debian.gz"));
		TestServer::RunResult changelog =
		    run(Browser::findExecutable("gzip"), {"-dc", "/usr/share/doc/switchboard/changelog.Debian.gz"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(changelog.describe(), 0, changelog.exitCode);
		CPPUNIT_ASSERT_MESSAGE(changelog.stdoutText,
		                       changelog.stdoutText.rfind("switchboard (" SWITCHBOARD_VERSION ")", 0) == 0);
	}

	void checkUnit()
	/// postinst enables and starts the unit only where systemd runs; then it runs the installed
	/// configuration on its own ports, which this test does not own: stopped before our own run.
	{
		const std::string pid1 = ChildProcess::tailLines(Browser::readAll("/proc/1/comm"), 1);
		if (!std::filesystem::is_directory("/run/systemd/system"))
		{
			std::printf("\nPackageInstallTest: systemd unit not exercised: PID 1 is '%s', not systemd "
			            "(a container); postinst rightly enabled nothing\n",
			            pid1.c_str());
			CPPUNIT_ASSERT_MESSAGE("enabled without systemd",
			                       !exists("/etc/systemd/system/multi-user.target.wants/switchboard.service"));
			return;
		}
		const std::string systemctl = Browser::findExecutable("systemctl");
		TestServer::RunResult enabled = run(systemctl, {"is-enabled", "switchboard.service"});
		CPPUNIT_ASSERT_MESSAGE(enabled.describe(), contains(enabled.stdoutText, "enabled"));
		TestServer::RunResult stopped = run(systemctl, {"stop", "switchboard.service"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(stopped.describe(), 0, stopped.exitCode);
	}

	void checkServerRunsAsUser()
	{
		const Account user = account();
		TempDir work("PackageInstallTest-run");
		// The state directory of this run, owned by the user as /var/lib/switchboard is.
		CPPUNIT_ASSERT_EQUAL(0, ::chown(work.path().c_str(), user.uid, user.gid));
		const std::string asUser = Browser::findExecutable("setpriv");
		const std::vector<std::string> dropTo{"--reuid=" + std::to_string(user.uid),
		                                      "--regid=" + std::to_string(user.gid), "--clear-groups", BINARY};

		for (int attempt = 1;; ++attempt)
		{
			std::vector<int> ports = PortPicker::pick(5);
			std::vector<std::string> args{
			    std::string("--config=") + CONFIG, "--set=storage.directory=" + work.path() + "/data",
			    "--set=admin.address=127.0.0.1", "--set=admin.port=" + std::to_string(ports[0])};
			const char* listeners[] = {"main", "govpn", "together", "peervault"};
			for (int i = 0; i < 4; ++i)
			{
				args.push_back(std::string("--set=listener.") + listeners[i] + ".address=127.0.0.1");
				args.push_back(std::string("--set=listener.") + listeners[i] + ".port=" + std::to_string(ports[i + 1]));
			}

			// The user can read the installed configuration, and it is valid with these overrides.
			std::vector<std::string> check = dropTo;
			check.insert(check.end(), args.begin(), args.end());
			check.push_back("--check-config");
			TestServer::RunResult checked = run(asUser, check);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(checked.describe(), 0, checked.exitCode);
			CPPUNIT_ASSERT_MESSAGE(checked.describe(), contains(checked.stdoutText, "is valid"));
			std::vector<std::string> print = dropTo;
			print.insert(print.end(), args.begin(), args.end());
			print.push_back("--print-config");
			TestServer::RunResult printed = run(asUser, print);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(printed.describe(), 0, printed.exitCode);
			CPPUNIT_ASSERT_MESSAGE(printed.describe(), contains(printed.stdoutText, "; plugin_dir resolves to "
			                                                                        "/usr/lib/switchboard/plugins\n"));

			std::string logPath = work.path() + "/server-" + std::to_string(attempt) + ".log";
			int logFd = ChildProcess::openAppend("PackageInstallTest", logPath);
			ChildProcess server("PackageInstallTest", 5000);
			std::vector<std::string> argv{BINARY};
			argv.insert(argv.end(), args.begin(), args.end());
			{
				WorkingDirectory in(work.path());
				ChildProcess::Identity who;
				who.drop = true;
				who.uid = user.uid;
				who.gid = user.gid;
				server.start(argv, logFd, who);
			}
			::close(logFd);
			ChildProcess::Readiness readiness = Debian::waitForReadyz(server, ports[0]);
			std::string logText = ChildProcess::fileText(logPath);
			if (readiness == ChildProcess::EXITED && attempt == 1 && contains(logText, "already in use"))
				continue; // a picked port was taken meanwhile: once more with new ones
			CPPUNIT_ASSERT_MESSAGE("not ready:\n" + ChildProcess::tailLines(logText, 30),
			                       readiness == ChildProcess::READY);
			CPPUNIT_ASSERT_EQUAL(std::to_string(user.uid), uidOf(server.pid()));

			HttpResponse plugins = HttpTestClient::get(LOOPBACK, ports[0], "/plugins");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(plugins.body, 200, plugins.status);
			for (const char* plugin : PLUGINS)
				CPPUNIT_ASSERT_MESSAGE(plugins.body, contains(plugins.body, std::string("\"") + plugin + "\""));
			CPPUNIT_ASSERT_MESSAGE(plugins.body,
			                       !contains(plugins.body, "\"failed\"") && !contains(plugins.body, "\"declined\""));

			// Each plugin on its listener, at the paths the installed configuration mounts.
			WsTestClient echo;
			CPPUNIT_ASSERT_EQUAL(101, echo.connect(LOOPBACK, ports[1], "/echo/ws").status);
			echo.sendText("from the installed package");
			CPPUNIT_ASSERT_EQUAL(std::string("from the installed package"), echo.receiveMessage().payload);
			echo.close();
			HttpResponse peerId = HttpTestClient::get(LOOPBACK, ports[1], "/peerjs/peerjs/id");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(peerId.body, 200, peerId.status);
			CPPUNIT_ASSERT_MESSAGE(peerId.body, !peerId.body.empty());
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[2], "/stats").status);
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[3], "/health").status);
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[4], "/ws/health").status);

			// The console from /usr/share/switchboard/console, its charts from libjs-chart.js.
			for (const char* page : {"/", "/console"})
			{
				HttpResponse console = HttpTestClient::get(LOOPBACK, ports[0], page);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(console.body.substr(0, 300), 200, console.status);
				CPPUNIT_ASSERT_MESSAGE(console.body.substr(0, 300), contains(console.body, "<html"));
			}
			HttpResponse chart = HttpTestClient::get(LOOPBACK, ports[0], "/console/vendor/chart.js");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(chart.body.substr(0, 300), 200, chart.status);
			CPPUNIT_ASSERT_MESSAGE("/console/vendor/chart.js is not " + std::string(CHART_JS),
			                       !chart.body.empty() && chart.body == Browser::readAll(CHART_JS));

			int code = server.stop(SIGTERM, "SIGTERM", 15000, 20);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(ChildProcess::tailLines(ChildProcess::fileText(logPath), 30), 0, code);
			// The storage the user's server made is its own.
			struct stat st;
			CPPUNIT_ASSERT_EQUAL(0, ::stat((work.path() + "/data").c_str(), &st));
			CPPUNIT_ASSERT_EQUAL(user.uid, st.st_uid);
			return;
		}
	}

	void checkPurged(const std::vector<std::string>& packaged)
	{
		const std::string status = packageStatus();
		CPPUNIT_ASSERT_MESSAGE("dpkg still knows the package: " + status,
		                       status.empty() || contains(status, "not-installed"));
		for (const char* path : GONE_AFTER_PURGE)
			CPPUNIT_ASSERT_MESSAGE(std::string(path) + " is left after the purge", !exists(path));
		// Every file of the package, and every directory of its own (named after it).
		for (const std::string& entry : packaged)
		{
			std::string path = entry.substr(1); // "./usr/bin/x" -> "/usr/bin/x"
			const bool directory = !path.empty() && path.back() == '/';
			if (directory)
				path.pop_back();
			if (directory && !contains(path, USER))
				continue; // /usr, /usr/bin, ...: shared with every other package
			CPPUNIT_ASSERT_MESSAGE(path + " is left after the purge", !exists(path));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PackageInstallTest);
