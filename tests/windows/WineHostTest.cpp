//
// WineHostTest.cpp
//
// The Windows build (scripts/build-windows.sh) under Wine: switchboard.exe starts with a
// configuration on free loopback ports, loads the echo plugin's DLL and serves it to this Linux
// client over a real WebSocket; its SQLite data survives a restart; Ctrl-C (SIGINT, which Wine
// delivers as a console control event) is the graceful shutdown: clients get 1001, exit code 0;
// plugins built for another SDK ABI or by another compiler are refused with the loader's message.
//
// As a Windows service (Poco's /registerService, Wine's `net start` and `net stop`), the same
// server serves, and a service stop is the same graceful shutdown.
//
// Wine runs in a prefix of its own in a temporary directory, created once per runner (wineboot,
// bounded). Without the Windows build or without wine the runner says why and passes as skipped,
// unless SWITCHBOARD_WINDOWS_REQUIRED=1 (scripts/test-windows.sh) makes that a failure.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TempDir.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;


namespace {


const char* const LOOPBACK = "127.0.0.1";
// A fresh prefix makes Wine set itself up on the first start; later starts take seconds.
const int PREFIX_TIMEOUT_MS = 300000;
const int READY_TIMEOUT_MS = 120000;
const int STOP_TIMEOUT_MS = 30000;


std::string windowsBuild()
{
	return SWITCHBOARD_WINDOWS_BUILD_DIR;
}


std::string executable()
{
	return windowsBuild() + "/bin/switchboard.exe";
}


std::string whySkip()
{
	if (::access(executable().c_str(), R_OK) != 0)
		return "no " + executable() + " (build it with scripts/build-windows.sh)";
	if (std::string(SWITCHBOARD_WINE).empty() || ::access(SWITCHBOARD_WINE, X_OK) != 0)
		return "no wine (Debian's wine package)";
	return "";
}


std::string shippedConfigurationOnFreePorts()
/// config/switchboard.ini with each listener's and the admin port replaced by TestServer's
/// placeholders, addresses by loopback and the storage directory by the test's own.
{
	std::ifstream file(std::string(SWITCHBOARD_SOURCE_DIR) + "/config/switchboard.ini");
	if (!file)
		throw std::runtime_error("cannot read config/switchboard.ini");
	std::string text;
	std::string section;
	std::string line;
	while (std::getline(file, line))
	{
		if (!line.empty() && line[0] == '[')
			section = line.substr(1, line.find(']') - 1);
		const bool listener = section.rfind("listener.", 0) == 0;
		if (line.rfind("port = ", 0) == 0 && section == "admin")
			line = "port = @{admin_port}";
		else if (line.rfind("port = ", 0) == 0 && listener)
			line = "port = @{port:" + section.substr(std::string("listener.").size()) + "}";
		else if (line.rfind("address = ", 0) == 0 && (listener || section == "admin"))
			line = "address = 127.0.0.1";
		else if (line.rfind("directory = ", 0) == 0 && section == "storage")
			line = "directory = @{dir}/data";
		text += line + "\n";
	}
	return text;
}


bool skipped(const char* test)
{
	const std::string why = whySkip();
	if (why.empty())
		return false;
	// scripts/test-windows.sh builds first and sets this: a missing build is then a failure.
	const char* required = std::getenv("SWITCHBOARD_WINDOWS_REQUIRED");
	if (required != nullptr && std::string(required) == "1")
		CPPUNIT_FAIL(std::string("SWITCHBOARD_WINDOWS_REQUIRED=1 but ") + why);
	std::printf("\nWineHostTest::%s: skipped: %s\n", test, why.c_str());
	return true;
}


class Wine
/// The runner's Wine prefix and a launcher script that TestServer starts as "the binary".
{
public:
	Wine():
	    _dir("switchboard-wine")
	{
		_prefix = _dir.makeDirectory("prefix");
		_environment = {{"WINEPREFIX", _prefix},
		                {"WINEDEBUG", "-all"},
		                // No Mono or Gecko installers: nothing here needs .NET or HTML.
		                {"WINEDLLOVERRIDES", "mscoree,mshtml="}};
		_launcher = _dir.writeFile(
		    "switchboard-wine",
		    "#!/bin/sh\nexec '" + std::string(SWITCHBOARD_WINE) + "' '" + executable() + "' \"$@\"\n", 0755);
		TestServer::RunResult boot =
		    TestServer::runOnce({"wineboot", "--init"}, PREFIX_TIMEOUT_MS, SWITCHBOARD_WINE, _environment);
		if (boot.timedOut || boot.exitCode != 0)
			throw std::runtime_error("wineboot --init failed: " + boot.describe());
	}

	~Wine()
	{
		// The prefix's wineserver outlives the last process for a few seconds: end it now, so
		// the temporary directory can go.
		const std::string wine = SWITCHBOARD_WINE;
		TestServer::runOnce({"-k"}, 20000, wine.substr(0, wine.rfind('/') + 1) + "wineserver", _environment);
	}

	static Wine& instance()
	{
		static std::unique_ptr<Wine> wine(new Wine);
		return *wine;
	}

	void configure(TestServer& server) const
	{
		for (const auto& entry : _environment)
			server.setEnvironment(entry.first, entry.second);
		server.set("host", "plugin_dir", windowsBuild() + "/plugins");
		server.addPlugin("echo", "main", "/echo");
	}

	const std::string& launcher() const { return _launcher; }

	TestServer::RunResult run(const std::vector<std::string>& args, int timeoutMs = 60000) const
	/// wine with args (a program and its arguments) in the prefix.
	{
		return TestServer::runOnce(args, timeoutMs, SWITCHBOARD_WINE, _environment);
	}

private:
	TempDir _dir;
	std::string _prefix;
	std::string _launcher;
	TestServer::Keys _environment;
};


} // namespace


class WineHostTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(WineHostTest);
	CPPUNIT_TEST(testServesEchoOverWebSocket);
	CPPUNIT_TEST(testStartsWithTheDefaultConfiguration);
	CPPUNIT_TEST(testSqliteDataSurvivesRestart);
	CPPUNIT_TEST(testRunsAsService);
	CPPUNIT_TEST(testRefusesPluginsOfAnotherSdk);
	CPPUNIT_TEST_SUITE_END();

public:
	void testServesEchoOverWebSocket()
	{
		if (skipped("testServesEchoOverWebSocket"))
			return;
		Wine& wine = Wine::instance();
		TestServer server(wine.launcher());
		wine.configure(server);
		server.start(READY_TIMEOUT_MS);

		HttpResponse plugins = HttpTestClient::get(LOOPBACK, server.adminPort(), "/plugins");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(plugins.body, 200, plugins.status);
		CPPUNIT_ASSERT_MESSAGE(plugins.body, plugins.body.find("\"state\":\"running\"") != std::string::npos);

		std::vector<WsTestClient> clients(3);
		for (auto& c : clients)
		{
			HttpResponse upgrade = c.connect(LOOPBACK, server.port("main"), "/echo/ws", {}, 20000);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 101, upgrade.status);
		}
		for (std::size_t i = 0; i < clients.size(); ++i)
			clients[i].sendText("from linux " + std::to_string(i) + " \xE2\x9C\x93");
		for (std::size_t i = 0; i < clients.size(); ++i)
		{
			WsTestClient::Message echoed = clients[i].receiveMessage(20000);
			CPPUNIT_ASSERT_MESSAGE(echoed.error, echoed.ok());
			CPPUNIT_ASSERT_EQUAL(std::string("from linux " + std::to_string(i) + " \xE2\x9C\x93"), echoed.payload);
		}

		// Ctrl-C: the same graceful shutdown as SIGTERM on Linux.
		server.sendSignal(SIGINT);
		for (auto& c : clients)
			CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 1001, c.expectClose(STOP_TIMEOUT_MS, true).code);
		TestServer::ExitStatus status = server.waitForExit(STOP_TIMEOUT_MS);
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), status.known);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 0, status.code());
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), server.runLogText().find("shutdown complete") != std::string::npos);
	}

	void testStartsWithTheDefaultConfiguration()
	{
		if (skipped("testStartsWithTheDefaultConfiguration"))
			return;
		// config/switchboard.ini as shipped, but on free loopback ports and a temporary data
		// directory: every bundled plugin, SQLite storage, plugin_dir left empty (found beside
		// the .exe).
		Wine& wine = Wine::instance();
		TestServer server(wine.launcher());
		wine.configure(server);
		for (const char* section : {"host", "storage", "admin", "listener.main", "plugin.echo"})
			server.removeSection(section);
		const std::vector<std::string> listeners = {"main", "govpn", "together", "peervault"};
		for (const std::string& name : listeners)
			server.reservePort(name);
		server.appendIni(shippedConfigurationOnFreePorts());
		server.start(READY_TIMEOUT_MS);

		HttpResponse plugins = HttpTestClient::get(LOOPBACK, server.adminPort(), "/plugins", {}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(plugins.body, 200, plugins.status);
		for (const char* name : {"echo", "peerjs", "govpn", "together", "peervault"})
			CPPUNIT_ASSERT_MESSAGE(std::string(name) + " in " + plugins.body,
			                       plugins.body.find("\"name\":\"" + std::string(name) + "\"") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(plugins.body, plugins.body.find("\"state\":\"running\"") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(plugins.body, plugins.body.find("\"state\":\"failed\"") == std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(plugins.body, plugins.body.find("\"state\":\"declined\"") == std::string::npos);

		WsTestClient echo;
		HttpResponse upgrade = echo.connect(LOOPBACK, server.port("main"), "/echo/ws", {}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 101, upgrade.status);
		echo.sendText("default configuration");
		WsTestClient::Message echoed = echo.receiveMessage(20000);
		CPPUNIT_ASSERT_MESSAGE(echoed.error, echoed.ok());
		CPPUNIT_ASSERT_EQUAL(std::string("default configuration"), echoed.payload);
		// Each plugin answers on its own listener.
		HttpResponse peerId = HttpTestClient::get(LOOPBACK, server.port("main"), "/peerjs/peerjs/id", {}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(peerId.body, 200, peerId.status);
		HttpResponse govpn = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/health", {}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(govpn.body, 200, govpn.status);

		server.sendSignal(SIGINT);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 1001, echo.expectClose(STOP_TIMEOUT_MS, true).code);
		TestServer::ExitStatus status = server.waitForExit(STOP_TIMEOUT_MS);
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), status.known);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 0, status.code());
	}

	void testSqliteDataSurvivesRestart()
	{
		if (skipped("testSqliteDataSurvivesRestart"))
			return;
		Wine& wine = Wine::instance();
		TestServer server(wine.launcher());
		wine.configure(server);
		server.start(READY_TIMEOUT_MS);
		HttpResponse posted =
		    HttpTestClient::request(LOOPBACK, server.port("main"), "POST", "/echo/notes", {}, "kept under wine", 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(posted.body, 201, posted.status);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 0, server.stop(SIGINT, STOP_TIMEOUT_MS));

		server.start(READY_TIMEOUT_MS);
		HttpResponse notes = HttpTestClient::get(LOOPBACK, server.port("main"), "/echo/notes", {}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(notes.body, 200, notes.status);
		CPPUNIT_ASSERT_MESSAGE(notes.body, notes.body.find("kept under wine") != std::string::npos);
		struct stat file;
		CPPUNIT_ASSERT_MESSAGE("the storage file is where the configuration says",
		                       ::stat(server.dir().filePath("data/echo.sqlite").c_str(), &file) == 0);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 0, server.stop(SIGINT, STOP_TIMEOUT_MS));
	}

	void testRefusesPluginsOfAnotherSdk()
	{
		if (skipped("testRefusesPluginsOfAnotherSdk"))
			return;
		Wine& wine = Wine::instance();
		// tests/fixtures built for Windows: one declares the next ABI major, one another compiler's
		// build signature. Each must be refused at start with the loader's message.
		const std::pair<const char*, const char*> cases[] = {
		    {"abi_mismatch", "was built for SDK ABI"},
		    {"bad_signature", "was built as 'gcc-0.0|some-other-stdlib"},
		};
		for (const auto& entry : cases)
		{
			TestServer server(wine.launcher());
			wine.configure(server);
			server.removeSection("plugin.echo");
			server.set("host", "plugin_dir", windowsBuild() + "/fixture-plugins");
			server.addPlugin(entry.first, "main", "/fixture");
			TestServer::RunResult run = server.runWithConfig({}, READY_TIMEOUT_MS);
			CPPUNIT_ASSERT_MESSAGE(run.describe(), !run.timedOut && run.exitCode != 0);
			CPPUNIT_ASSERT_MESSAGE(run.describe(), run.output().find(entry.second) != std::string::npos);
		}
	}

	void testRunsAsService()
	{
		if (skipped("testRunsAsService"))
			return;
		Wine& wine = Wine::instance();
		// Poco registers the .exe without arguments, so the service reads switchboard.ini beside
		// it: a copy of the build with its own configuration, in a temporary directory.
		TempDir install("switchboard-wine-service");
		namespace fs = std::filesystem;
		fs::copy(windowsBuild() + "/bin", install.path() + "/bin", fs::copy_options::recursive);
		fs::create_directories(install.path() + "/plugins");
		for (const auto& entry : fs::directory_iterator(windowsBuild() + "/plugins"))
		{
			if (entry.path().extension() == ".dll")
				fs::copy_file(entry.path(), install.path() + "/plugins/" + entry.path().filename().string());
		}
		TestServer config(wine.launcher()); // only for its configuration text and free ports
		wine.configure(config);
		config.set("host", "plugin_dir", install.path() + "/plugins");
		// Relative, so the test sees that a service resolves it against the configuration's directory.
		config.set("storage", "directory", "service-data");
		install.writeFile("bin/switchboard.ini", config.configText());
		const std::string exe = install.path() + "/bin/switchboard.exe";
		const std::string name = "switchboard";

		TestServer::RunResult registered = wine.run(
		    {exe, "/registerService", "/displayName=Switchboard (test)", "/description=Signaling server under test"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(registered.describe(), 0, registered.exitCode);
		bool unregistered = false;
		try
		{
			// What the service manager recorded: name, description and start type (3: on demand).
			TestServer::RunResult entry =
			    wine.run({"reg", "query", "HKLM\\System\\CurrentControlSet\\Services\\" + name});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(entry.describe(), 0, entry.exitCode);
			CPPUNIT_ASSERT_MESSAGE(entry.describe(), entry.output().find("Switchboard (test)") != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(entry.describe(),
			                       entry.output().find("Signaling server under test") != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(entry.describe(), entry.output().find("0x3") != std::string::npos);
			TestServer::RunResult started = wine.run({"net", "start", name}, 120000);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(started.describe(), 0, started.exitCode);
			const bool ready = waitUntil(READY_TIMEOUT_MS, 200, [&] {
				try
				{
					return HttpTestClient::get(LOOPBACK, config.adminPort(), "/readyz", {}, 2000).status == 200;
				}
				catch (const std::exception&)
				{
					return false; // not listening yet
				}
			});
			CPPUNIT_ASSERT_MESSAGE("the service answers /readyz", ready);

			WsTestClient client;
			CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, config.port("main"), "/echo/ws", {}, 20000).status);
			client.sendText("from a service");
			CPPUNIT_ASSERT_EQUAL(std::string("from a service"), client.receiveMessage(20000).payload);
			HttpResponse posted = HttpTestClient::request(LOOPBACK, config.port("main"), "POST", "/echo/notes", {},
			                                              "by the service", 20000);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(posted.body, 201, posted.status);

			TestServer::RunResult stopped = wine.run({"net", "stop", name}, 120000);
			CPPUNIT_ASSERT_EQUAL(1001, client.expectClose(STOP_TIMEOUT_MS, true).code);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(stopped.describe(), 0, stopped.exitCode);
			CPPUNIT_ASSERT_MESSAGE("the storage lies beside the configuration, not in the service's working directory",
			                       fs::exists(install.path() + "/bin/service-data/echo.sqlite"));

			TestServer::RunResult removed = wine.run({exe, "/unregisterService"});
			unregistered = true;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(removed.describe(), 0, removed.exitCode);
			TestServer::RunResult again = wine.run({"net", "start", name}, 60000);
			CPPUNIT_ASSERT_MESSAGE("an unregistered service does not start: " + again.describe(), again.exitCode != 0);
		}
		catch (...)
		{
			if (!unregistered)
			{
				wine.run({"net", "stop", name}, 60000);
				wine.run({exe, "/unregisterService"});
			}
			throw;
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(WineHostTest);
