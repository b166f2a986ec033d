//
// DebianPackageTest.cpp
//
// The Debian packages CPack makes from this build tree (cmake/Packaging.cmake): their control
// fields, computed dependencies, conffiles and contents; the maintainer scripts (syntax, and
// postinst/postrm run against stand-in commands only); and the switchboard package's binary,
// plugins and configuration extracted into a temporary directory, checked and started there on
// loopback ports. Skips, saying why, when cpack, dpkg-deb or dpkg-shlibdeps is missing. Never
// installs anything on this machine.
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
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;


namespace {


const char* LOOPBACK = "127.0.0.1";
const char* PLUGINS[] = {"echo", "peerjs", "govpn", "together", "peervault"};
const int COMMAND_TIMEOUT_MS = 60000;


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


TestServer::RunResult run(const std::string& program, const std::vector<std::string>& args,
                          const TestServer::Keys& environment = {}, int timeoutMs = COMMAND_TIMEOUT_MS)
{
	return TestServer::runOnce(args, timeoutMs, program, environment);
}


std::string runOk(const std::string& what, const std::string& program, const std::vector<std::string>& args)
/// The command's stdout; fails the test unless it exits 0.
{
	TestServer::RunResult r = run(program, args);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": " + r.describe(), 0, r.exitCode);
	return r.stdoutText;
}


const Debian::Packages& packages()
/// The two packages, made once per runner.
{
	static Debian::Packages made = Debian::build("DebianPackageTest");
	return made;
}


bool skipped(const char* test)
/// True (after saying why) when the tools are missing; fails the test if cpack failed.
{
	const Debian::Packages& p = packages();
	if (!p.skipReason.empty())
	{
		std::printf("\nDebianPackageTest::%s: skipped: %s\n", test, p.skipReason.c_str());
		return true;
	}
	CPPUNIT_ASSERT_MESSAGE(p.failure, p.failure.empty());
	return false;
}


std::string field(const std::string& deb, const std::string& name)
/// One control field of the package, "" if it has none.
{
	TestServer::RunResult r = run(packages().dpkgDeb, {"-f", deb, name});
	CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 0, r.exitCode);
	std::string value = r.stdoutText;
	while (!value.empty() && (value.back() == '\n' || value.back() == ' '))
		value.pop_back();
	return value;
}


std::vector<std::string> contents(const std::string& deb)
{
	return Debian::contents(packages().dpkgDeb, deb);
}


bool has(const std::vector<std::string>& paths, const std::string& path)
{
	for (const std::string& p : paths)
	{
		if (p == path)
			return true;
	}
	return false;
}


std::string joined(const std::vector<std::string>& paths)
{
	std::string text;
	for (const std::string& p : paths)
		text += p + "\n";
	return text;
}


std::string pluginDirIn(const std::vector<std::string>& paths)
/// The packaged plugin directory ("./usr/lib/switchboard/plugins"), from where echo.so is.
{
	for (const std::string& p : paths)
	{
		const std::string suffix = "/switchboard/plugins/echo.so";
		if (p.size() > suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
			return p.substr(0, p.size() - std::string("/echo.so").size());
	}
	return "";
}


std::string stub(TempDir& dir, const std::string& name, const std::string& log, int exitCode = 0)
/// A stand-in command that only records its arguments (shell built-ins only).
{
	return dir.writeFile(
	    "stubs/" + name,
	    "#!/bin/sh\necho \"" + name + " $*\" >> '" + log + "'\nexit " + std::to_string(exitCode) + "\n", 0755);
}


} // namespace


class DebianPackageTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(DebianPackageTest);
	CPPUNIT_TEST(testServerPackageFields);
	CPPUNIT_TEST(testServerPackageContents);
	CPPUNIT_TEST(testSdkPackage);
	CPPUNIT_TEST(testMaintainerScripts);
	CPPUNIT_TEST(testPackagedUnit);
	CPPUNIT_TEST(testExtractedServerRuns);
	CPPUNIT_TEST_SUITE_END();

public:
	void testServerPackageFields()
	{
		if (skipped("testServerPackageFields"))
			return;
		const Debian::Packages& p = packages();
		CPPUNIT_ASSERT_MESSAGE("cpack must not rebuild the tree: " + std::to_string(p.seconds) + " s", p.seconds < 90);
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard"), field(p.server, "Package"));
		CPPUNIT_ASSERT_EQUAL(std::string("net"), field(p.server, "Section"));
		CPPUNIT_ASSERT_EQUAL(std::string(SWITCHBOARD_VERSION), field(p.server, "Version"));
		CPPUNIT_ASSERT_MESSAGE(field(p.server, "Maintainer"), contains(field(p.server, "Maintainer"), "<"));
		CPPUNIT_ASSERT_MESSAGE(field(p.server, "Description"),
		                       contains(field(p.server, "Description"), "WebSocket signaling server"));
		// Computed by dpkg-shlibdeps from the binary and the plugins, plus adduser for postinst.
		std::string depends = field(p.server, "Depends");
		for (const char* package : {"adduser", "libjs-chart.js", "libc6", "libstdc++6", "libpocofoundation",
		                            "libpoconet", "libpocodatasqlite", "libssl3", "libsodium23", "libpq5"})
			CPPUNIT_ASSERT_MESSAGE(std::string(package) + " not in Depends: " + depends, contains(depends, package));
		// Control files: the configuration is a conffile, once; the maintainer scripts are there.
		CPPUNIT_ASSERT_EQUAL(std::string("/etc/switchboard/switchboard.ini\n"),
		                     runOk("conffiles", p.dpkgDeb, {"-I", p.server, "conffiles"}));
		std::string info = runOk("dpkg-deb -I", p.dpkgDeb, {"-I", p.server});
		for (const char* script : {"postinst", "prerm", "postrm"})
			CPPUNIT_ASSERT_MESSAGE(info, contains(info, std::string(" ") + script));
	}

	void testServerPackageContents()
	{
		if (skipped("testServerPackageContents"))
			return;
		std::vector<std::string> paths = contents(packages().server);
		std::string listing = joined(paths);
		for (const char* path :
		     {"./usr/bin/switchboard", "./etc/switchboard/switchboard.ini", "./lib/systemd/system/switchboard.service",
		      "./usr/share/doc/switchboard/operations.md", "./usr/share/doc/switchboard/configuration.md",
		      "./usr/share/switchboard/console/index.html", "./usr/share/doc/switchboard/copyright",
		      "./usr/share/doc/switchboard/changelog.Debian.gz"})
			CPPUNIT_ASSERT_MESSAGE(std::string(path) + " missing:\n" + listing, has(paths, path));
		std::string pluginDir = pluginDirIn(paths);
		CPPUNIT_ASSERT_MESSAGE(listing, pluginDir.rfind("./usr/lib/", 0) == 0);
		for (const char* plugin : PLUGINS)
			CPPUNIT_ASSERT_MESSAGE(listing, has(paths, pluginDir + "/" + plugin + ".so"));
		for (const std::string& path : paths)
		{
			// Nothing of the SDK, the build's test fixtures or a prefix-style /usr/etc.
			CPPUNIT_ASSERT_MESSAGE(path, !contains(path, "/include/") && !contains(path, "/cmake/"));
			CPPUNIT_ASSERT_MESSAGE(path, !contains(path, "fixture") && path.rfind("./usr/etc", 0) != 0);
			CPPUNIT_ASSERT_MESSAGE(path, path.rfind("./usr/local", 0) != 0);
		}
	}

	void testSdkPackage()
	{
		if (skipped("testSdkPackage"))
			return;
		const Debian::Packages& p = packages();
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard-sdk-dev"), field(p.sdk, "Package"));
		CPPUNIT_ASSERT_EQUAL(std::string("libdevel"), field(p.sdk, "Section"));
		// Header-only: it needs nothing installed; SQLite's headers only for plugin unit tests.
		CPPUNIT_ASSERT_EQUAL(std::string(""), field(p.sdk, "Depends"));
		CPPUNIT_ASSERT_MESSAGE(field(p.sdk, "Suggests"), contains(field(p.sdk, "Suggests"), "libsqlite3-dev"));
		std::vector<std::string> paths = contents(p.sdk);
		std::string listing = joined(paths);
		for (const char* path :
		     {"./usr/include/switchboard/SDK.h", "./usr/include/switchboard/Abi.h",
		      "./usr/include/switchboard/util/Json.h", "./usr/include/switchboard/testing/FakeHost.h",
		      "./usr/share/doc/switchboard-sdk-dev/copyright",
		      "./usr/share/doc/switchboard-sdk-dev/changelog.Debian.gz"})
			CPPUNIT_ASSERT_MESSAGE(std::string(path) + " missing:\n" + listing, has(paths, path));
		for (const char* file :
		     {"SwitchboardSDKConfig.cmake", "SwitchboardSDKConfigVersion.cmake", "SwitchboardSDKTargets.cmake"})
		{
			bool found = false;
			for (const std::string& path : paths)
				found = found || (path.rfind("./usr/lib/", 0) == 0 &&
				                  contains(path, "/cmake/SwitchboardSDK/" + std::string(file)));
			CPPUNIT_ASSERT_MESSAGE(std::string(file) + " missing:\n" + listing, found);
		}
		for (const std::string& path : paths)
			CPPUNIT_ASSERT_MESSAGE(path,
			                       !contains(path, "/bin/") && !contains(path, ".so") && !contains(path, "/etc/"));
		CPPUNIT_ASSERT_MESSAGE(runOk("dpkg-deb -I", p.dpkgDeb, {"-I", p.sdk}),
		                       !contains(runOk("dpkg-deb -I", p.dpkgDeb, {"-I", p.sdk}), "postinst"));
	}

	void testMaintainerScripts()
	/// Syntax of every script; then postinst and postrm run by /bin/sh with PATH holding only
	/// stand-ins that record their arguments, so nothing on this machine is changed: postinst
	/// creates the user and the state directory and touches systemd only where it runs.
	{
		if (skipped("testMaintainerScripts"))
			return;
		TempDir work("switchboard-deb-scripts");
		std::string control = work.path() + "/control";
		runOk("dpkg-deb -e", packages().dpkgDeb, {"-e", packages().server, control});
		for (const char* script : {"postinst", "prerm", "postrm"})
		{
			TestServer::RunResult syntax = run("/bin/sh", {"-n", control + "/" + script});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string(script) + ": " + syntax.describe(), 0, syntax.exitCode);
		}

		std::string log = work.path() + "/calls.log";
		for (const char* command : {"adduser", "install", "systemctl", "rm", "chown", "chmod"})
			stub(work, command, log);
		stub(work, "getent", log, 2);            // no such user or group yet
		stub(work, "dpkg-statoverride", log, 1); // no override of the configuration's rights
		TestServer::Keys onlyStubs{{"PATH", work.path() + "/stubs"}};
		std::error_code ec;
		const bool systemdRuns = std::filesystem::is_directory("/run/systemd/system", ec);
		const bool stateExists = std::filesystem::exists("/var/lib/switchboard", ec);

		TestServer::RunResult install = run("/bin/sh", {control + "/postinst", "configure", ""}, onlyStubs);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(install.describe(), 0, install.exitCode);
		std::string calls = work.readFile("calls.log");
		CPPUNIT_ASSERT_MESSAGE(calls, contains(calls, "getent passwd switchboard"));
		CPPUNIT_ASSERT_MESSAGE(calls, contains(calls, "adduser --system --quiet --group --home /var/lib/switchboard "
		                                              "--no-create-home --shell /usr/sbin/nologin"));
		if (!stateExists)
			CPPUNIT_ASSERT_MESSAGE(
			    calls, contains(calls, "install -d -o switchboard -g switchboard -m 0750 /var/lib/switchboard"));
		// In a container without systemd the install succeeds without calling systemctl.
		CPPUNIT_ASSERT_EQUAL_MESSAGE(calls, systemdRuns, contains(calls, "systemctl"));
		if (systemdRuns)
			CPPUNIT_ASSERT_MESSAGE(calls, contains(calls, "systemctl enable switchboard.service") &&
			                                  contains(calls, "systemctl start switchboard.service"));

		work.writeFile("calls.log", "");
		TestServer::RunResult remove = run("/bin/sh", {control + "/postrm", "remove"}, onlyStubs);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(remove.describe(), 0, remove.exitCode);
		calls = work.readFile("calls.log");
		CPPUNIT_ASSERT_MESSAGE("remove keeps the data: " + calls, !contains(calls, "rm "));
		TestServer::RunResult purge = run("/bin/sh", {control + "/postrm", "purge"}, onlyStubs);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(purge.describe(), 0, purge.exitCode);
		calls = work.readFile("calls.log");
		CPPUNIT_ASSERT_MESSAGE(calls, contains(calls, "rm -rf /var/lib/switchboard"));
		CPPUNIT_ASSERT_MESSAGE(calls, !contains(calls, "deluser") && !contains(calls, "userdel"));
	}

	void testPackagedUnit()
	{
		if (skipped("testPackagedUnit"))
			return;
		TempDir work("switchboard-deb-unit");
		runOk("dpkg-deb -x", packages().dpkgDeb, {"-x", packages().server, work.path() + "/root"});
		std::string unit = work.readFile("root/lib/systemd/system/switchboard.service");
		for (const char* line :
		     {"ExecStart=/usr/bin/switchboard --config=/etc/switchboard/switchboard.ini\n",
		      "ExecStartPre=/usr/bin/switchboard --config=/etc/switchboard/switchboard.ini --check-config\n",
		      "Documentation=file:///usr/share/doc/switchboard/operations.md\n", "Type=notify\n", "NotifyAccess=main\n",
		      "ExecReload=/bin/kill -HUP $MAINPID\n", "RestartPreventExitStatus=78\n", "LimitNOFILE=524288\n",
		      "User=switchboard\n", "WorkingDirectory=/var/lib/switchboard\n", "ReadWritePaths=/var/lib/switchboard\n",
		      "ProtectSystem=strict\n", "NoNewPrivileges=true\n", "WantedBy=multi-user.target\n"})
			CPPUNIT_ASSERT_MESSAGE(std::string(line) + " missing:\n" + unit, contains(unit, line));
		CPPUNIT_ASSERT_MESSAGE(unit, !contains(unit, "@") && !contains(unit, "/usr/local"));
		// The packaged configuration keeps its data in the unit's state directory.
		std::string ini = work.readFile("root/etc/switchboard/switchboard.ini");
		CPPUNIT_ASSERT_MESSAGE(ini, contains(ini, "\ndirectory = /var/lib/switchboard/data\n"));
		CPPUNIT_ASSERT_MESSAGE(ini, contains(ini, "\nplugin_dir =\n"));

		std::string analyze = Browser::findExecutable("systemd-analyze");
		if (analyze.empty())
		{
			std::printf("\nDebianPackageTest: systemd-analyze verify skipped: no systemd-analyze\n");
			return;
		}
		// Only where verify works at all here: a minimal unit must pass first. The unit is verified
		// as a copy whose commands run the extracted binary (/usr/bin/switchboard is not installed).
		work.writeFile("probe.service", "[Unit]\nDescription=probe\n[Service]\nType=oneshot\nExecStart=/bin/true\n");
		TestServer::RunResult probe = run(analyze, {"verify", work.path() + "/probe.service"});
		if (probe.exitCode != 0)
		{
			std::printf("\nDebianPackageTest: systemd-analyze verify skipped: it does not work here (%s)\n",
			            ChildProcess::tailLines(probe.output(), 1).c_str());
			return;
		}
		std::string copy = unit;
		const std::string installed = "/usr/bin/switchboard ";
		const std::string extracted = work.path() + "/root/usr/bin/switchboard";
		for (std::size_t at = copy.find(installed); at != std::string::npos;
		     at = copy.find(installed, at + extracted.size()))
			copy.replace(at, installed.size() - 1, extracted);
		std::string copyPath = work.writeFile("switchboard.service", copy);
		TestServer::RunResult verify = run(analyze, {"verify", copyPath});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(verify.describe(), 0, verify.exitCode);
		CPPUNIT_ASSERT_MESSAGE(verify.describe(), verify.output().empty());
	}

	void testExtractedServerRuns()
	/// The packaged binary, plugins and configuration, extracted: the binary finds the plugins
	/// relative to itself; only the storage directory and the ports are changed (loopback).
	{
		if (skipped("testExtractedServerRuns"))
			return;
		TempDir work("switchboard-deb-run");
		std::string root = work.path() + "/root";
		runOk("dpkg-deb -x", packages().dpkgDeb, {"-x", packages().server, root});
		std::string binary = root + "/usr/bin/switchboard";
		std::string config = "--config=" + root + "/etc/switchboard/switchboard.ini";
		std::string pluginDir =
		    std::filesystem::canonical(root).string() + pluginDirIn(contents(packages().server)).substr(1);

		TestServer::RunResult printed = run(binary, {config, "--print-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(printed.describe(), 0, printed.exitCode);
		CPPUNIT_ASSERT_MESSAGE(printed.describe(),
		                       contains(printed.stdoutText, "; plugin_dir resolves to " + pluginDir + "\n"));

		for (int attempt = 1;; ++attempt)
		{
			std::vector<int> ports = PortPicker::pick(5);
			std::vector<std::string> args{config, "--set=storage.directory=" + work.path() + "/data",
			                              "--set=admin.port=" + std::to_string(ports[0])};
			const char* listeners[] = {"main", "govpn", "together", "peervault"};
			for (int i = 0; i < 4; ++i)
			{
				args.push_back(std::string("--set=listener.") + listeners[i] + ".address=127.0.0.1");
				args.push_back(std::string("--set=listener.") + listeners[i] + ".port=" + std::to_string(ports[i + 1]));
			}

			std::vector<std::string> check = args;
			check.push_back("--check-config");
			TestServer::RunResult checked = run(binary, check);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(checked.describe(), 0, checked.exitCode);
			CPPUNIT_ASSERT_MESSAGE(checked.describe(), contains(checked.stdoutText, "is valid"));

			std::string logPath = work.path() + "/server-" + std::to_string(attempt) + ".log";
			int logFd = ChildProcess::openAppend("DebianPackageTest", logPath);
			ChildProcess server("DebianPackageTest", 5000);
			std::vector<std::string> argv{binary};
			argv.insert(argv.end(), args.begin(), args.end());
			server.start(argv, logFd);
			::close(logFd);
			ChildProcess::Readiness readiness = Debian::waitForReadyz(server, ports[0]);
			std::string logText = ChildProcess::fileText(logPath);
			if (readiness == ChildProcess::EXITED && attempt == 1 && contains(logText, "already in use"))
				continue; // a picked port was taken meanwhile: once more with new ones
			CPPUNIT_ASSERT_MESSAGE("not ready:\n" + ChildProcess::tailLines(logText, 30),
			                       readiness == ChildProcess::READY);

			HttpResponse plugins = HttpTestClient::get(LOOPBACK, ports[0], "/plugins");
			for (const char* plugin : PLUGINS)
				CPPUNIT_ASSERT_MESSAGE(plugins.body, contains(plugins.body, std::string("\"") + plugin + "\""));
			// The console's page, found relative to the extracted binary (../share/switchboard/console).
			HttpResponse console = HttpTestClient::get(LOOPBACK, ports[0], "/console");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(console.body.substr(0, 300), 200, console.status);
			CPPUNIT_ASSERT_MESSAGE(console.body.substr(0, 300), contains(console.body, "<html"));
			CPPUNIT_ASSERT_MESSAGE(plugins.body, !contains(plugins.body, "\"failed\""));

			WsTestClient client;
			CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, ports[1], "/echo/ws").status);
			client.sendText("from the package");
			CPPUNIT_ASSERT_EQUAL(std::string("from the package"), client.receiveMessage().payload);
			client.close();
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[1], "/peerjs/peerjs/id").status);
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[2], "/stats").status);
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[3], "/health").status);
			CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, ports[4], "/ws/health").status);

			int code = server.stop(SIGTERM, "SIGTERM", 15000, 20);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(ChildProcess::tailLines(ChildProcess::fileText(logPath), 30), 0, code);
			CPPUNIT_ASSERT(std::filesystem::exists(work.path() + "/data"));
			return;
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(DebianPackageTest);
