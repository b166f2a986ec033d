//
// StartupIntegrationTest.cpp
//
// How the real binary starts, refuses to start and reports why: configuration errors, plugins
// that cannot load or start, the failure policy, --print-config, --check-config and daemon mode.
//


#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "switchboard/Abi.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>


using namespace Switchboard::Test;


namespace {

const char* LOOPBACK = "127.0.0.1";
const int EXIT_CONFIG = 78;
const int EXIT_SOFTWARE = 70;

bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}

void useFixtures(TestServer& server)
{
	server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
}

} // namespace


class StartupIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(StartupIntegrationTest);
	CPPUNIT_TEST(testUnknownPluginKeyIsOneClearLine);
	CPPUNIT_TEST(testBadPluginValue);
	CPPUNIT_TEST(testMissingRequiredPluginKey);
	CPPUNIT_TEST(testBadHostValueFromCommandLine);
	CPPUNIT_TEST(testPluginConfigReachesPlugin);
	CPPUNIT_TEST(testAbiMismatchRefused);
	CPPUNIT_TEST(testMissingEntryPointRefused);
	CPPUNIT_TEST(testMissingLibraryRefused);
	CPPUNIT_TEST(testFailingStartAborts);
	CPPUNIT_TEST(testSkipPolicyKeepsServing);
	CPPUNIT_TEST(testPrintConfig);
	CPPUNIT_TEST(testEnvironmentOverride);
	CPPUNIT_TEST(testCheckConfigValid);
	CPPUNIT_TEST(testCheckConfigListsEveryProblem);
	CPPUNIT_TEST(testCheckConfigHostErrors);
	CPPUNIT_TEST(testDaemonWithPidfile);
	CPPUNIT_TEST(testSharedListenerAndSeparatePorts);
	CPPUNIT_TEST(testSecondServerOnTheSamePortIsRefused);
	CPPUNIT_TEST_SUITE_END();

public:
	void testUnknownPluginKeyIsOneClearLine()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greting", "hi"}});
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		// The file, the line of the key, the key: "<path>:<line>: plugin.echo.greting: unknown key".
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, server.configPath() + ":"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, ": plugin.echo.greting: unknown key"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "greeting"));
	}

	void testBadPluginValue()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"max_notes", "lots"}});
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugin.echo.max_notes: expected an integer"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "\"lots\""));
	}

	void testMissingRequiredPluginKey()
	{
		TestServer server;
		useFixtures(server);
		server.addPlugin("good", "main", "/g");
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugin.good.required_text"));
	}

	void testBadHostValueFromCommandLine()
	{
		TestServer server;
		TestServer::RunResult r = server.runWithConfig({"--set=websocket.idle_timeout_ms=soon"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(),
		                       contains(r.stderrText, "command line: websocket.idle_timeout_ms: expected"));
		TestServer::RunResult unknown = server.runWithConfig({"--set=host.no_such_key=1"});
		CPPUNIT_ASSERT_EQUAL(EXIT_CONFIG, unknown.exitCode);
		CPPUNIT_ASSERT_MESSAGE(unknown.describe(), contains(unknown.stderrText, "host.no_such_key"));
	}

	void testPluginConfigReachesPlugin()
	{
		TestServer server;
		useFixtures(server);
		server.addPlugin("good", "main", "/g", {{"required_text", "given"}, {"limit", "42"}, {"flag", "yes"}});
		server.start();
		HttpResponse r = HttpTestClient::get(LOOPBACK, server.port("main"), "/g/config");
		CPPUNIT_ASSERT_EQUAL(std::string("given|42|1"), r.body);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		server.set("plugin.good", "limit", "101");
		TestServer::RunResult range = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL(EXIT_CONFIG, range.exitCode);
		CPPUNIT_ASSERT_MESSAGE(range.describe(),
		                       contains(range.stderrText, "plugin.good.limit: expected an integer between 1 and 100"));
	}

	void testAbiMismatchRefused()
	{
		TestServer server;
		useFixtures(server);
		server.addPlugin("abi_mismatch", "main", "/a", {{"required_text", "x"}});
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(
		    r.describe(), contains(r.stderrText, "was built for SDK ABI " + std::to_string(Switchboard::ABI_MAJOR + 1) +
		                                             "." + std::to_string(Switchboard::ABI_MINOR) +
		                                             ", this host provides " + std::to_string(Switchboard::ABI_MAJOR) +
		                                             "." + std::to_string(Switchboard::ABI_MINOR)));
		server.removeSection("plugin.abi_mismatch");
		server.addPlugin("bad_signature", "main", "/b", {{"required_text", "x"}});
		r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugins must be built with the host's compiler"));
	}

	void testMissingEntryPointRefused()
	{
		TestServer server;
		useFixtures(server);
		server.addPlugin("no_entry", "main", "/n");
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "exports no switchboard_plugin_entry entry point"));
	}

	void testMissingLibraryRefused()
	{
		TestServer server;
		server.addPlugin("nonexistent", "main", "/x");
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugin nonexistent: no library at"));
	}

	void testFailingStartAborts()
	{
		TestServer server;
		useFixtures(server);
		server.addPlugin("fails_start", "main", "/f", {{"required_text", "x"}});
		TestServer::RunResult r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(),
		                       contains(r.stderrText, "plugin fails_start failed to start: fixture refuses to start"));
		server.removeSection("plugin.fails_start");
		server.addPlugin("throws_start", "main", "/t", {{"required_text", "x"}});
		r = server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "start() threw: fixture throws from start"));
	}

	void testSecondServerOnTheSamePortIsRefused()
	{
		// The listeners once bound with SO_REUSEPORT: a second server started on the same port by
		// mistake ran, and the kernel gave it half of the new connections.
		TestServer first;
		first.addPlugin("echo", "main", "/echo");
		first.start();
		TestServer second;
		second.addPlugin("echo", "main", "/echo");
		second.set("listener.main", "port", std::to_string(first.port("main")));
		TestServer::RunResult r = second.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_SOFTWARE, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(
		    r.describe(), contains(r.stderrText, "cannot listen on 127.0.0.1:" + std::to_string(first.port("main"))));
		CPPUNIT_ASSERT_EQUAL(0, first.stop());
	}

	void testSkipPolicyKeepsServing()
	{
		TestServer server;
		useFixtures(server);
		server.set("host", "on_plugin_failure", "skip");
		server.addPlugin("good", "main", "/g", {{"required_text", "ok"}});
		server.addPlugin("fails_start", "main", "/f", {{"required_text", "x"}});
		server.addPlugin("abi_mismatch", "main", "/a", {{"required_text", "x"}});
		server.start();
		HttpResponse plugins = HttpTestClient::get(LOOPBACK, server.adminPort(), "/plugins");
		CPPUNIT_ASSERT_MESSAGE(plugins.body, contains(plugins.body, "\"name\":\"fails_start\""));
		CPPUNIT_ASSERT_MESSAGE(plugins.body, contains(plugins.body, "\"state\":\"failed\""));
		CPPUNIT_ASSERT_MESSAGE(plugins.body, contains(plugins.body, "\"state\":\"running\""));
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, server.port("main"), "/g/config").status);
		// Nothing of the failed plugin stays reachable.
		WsTestClient ws;
		CPPUNIT_ASSERT_EQUAL(400, ws.connect(LOOPBACK, server.port("main"), "/f/ws").status);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPrintConfig()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hey"}});
		TestServer::RunResult r = server.runWithConfig({"--print-config", "--set=http.max_threads=7"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 0, r.exitCode);
		const std::string& out = r.stdoutText;
		for (const char* expected :
		     {"[plugin.echo]", "greeting = hey", "max_notes = 1000", "[websocket]", "idle_timeout_ms = 120000",
		      "max_threads = 7", "; set by command line", "[listener.main]"})
			CPPUNIT_ASSERT_MESSAGE(std::string(expected) + "\n" + out, contains(out, expected));
		// The output is itself a valid configuration.
		std::string path = server.dir().writeFile("printed.ini", out);
		TestServer::RunResult again = TestServer::runOnce({"--config=" + path, "--print-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(again.describe(), 0, again.exitCode);
	}

	void testCheckConfigValid()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hey"}});
		TestServer::RunResult r = server.runWithConfig({"--check-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 0, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(),
		                       contains(r.stdoutText, "configuration " + server.configPath() + " is valid (1 enabled"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), std::string(), r.stderrText);
		// -t is the short form, as with nginx.
		r = server.runWithConfig({"-t"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 0, r.exitCode);
	}

	void testCheckConfigListsEveryProblem()
	{
		// Two plugins with a bad key each, and a TLS listener whose files do not exist: all three
		// are listed, and nothing is bound, created or started.
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"max_notes", "lots"}});
		server.addPlugin("peerjs", "main", "/peerjs", {{"bogus_key", "1"}});
		const std::string missing = server.dir().filePath("missing.pem");
		server.addListener("secure", {{"tls_certificate", missing}, {"tls_key", missing}});
		const std::string data = server.dir().filePath("check-data");
		server.set("storage", "directory", data);
		TestServer::RunResult r = server.runWithConfig({"--check-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugin.echo.max_notes: expected an integer"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "plugin.peerjs.bogus_key: unknown key"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(),
		                       contains(r.stderrText, "[listener.secure]") && contains(r.stderrText, "missing.pem"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, " is not valid: 3 problem(s)"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), std::string(), r.stdoutText);
		CPPUNIT_ASSERT_MESSAGE("the check created the storage directory", !std::filesystem::exists(data));
	}

	void testCheckConfigHostErrors()
	{
		// Host keys are checked first; every error among them is listed.
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		TestServer::RunResult r =
		    server.runWithConfig({"--check-config", "--set=http.max_threads=many", "--set=host.log_level=loud"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), EXIT_CONFIG, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "http.max_threads"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, "host.log_level"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stderrText, " is not valid"));
	}

	void testEnvironmentOverride()
	{
		// The environment layer: SWITCHBOARD_<SECTION>__<KEY>.
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		setenv("SWITCHBOARD_PLUGIN__ECHO__GREETING", "from-env", 1);
		TestServer::RunResult r = server.runWithConfig({"--print-config"});
		unsetenv("SWITCHBOARD_PLUGIN__ECHO__GREETING");
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stdoutText, "greeting = from-env"));
		CPPUNIT_ASSERT_MESSAGE(r.describe(), contains(r.stdoutText, "SWITCHBOARD_PLUGIN__ECHO__GREETING"));
	}

	void testDaemonWithPidfile()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		std::string pidfile = server.dir().filePath("switchboard.pid");
		// --daemon forks and returns; relative paths keep working although the daemon chdirs to /.
		TestServer::RunResult r = server.runWithConfig({"--daemon", "--pidfile=" + pidfile});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 0, r.exitCode);
		pid_t pid = 0;
		for (int i = 0; i < 250 && pid == 0; ++i)
		{
			std::ifstream in(pidfile);
			in >> pid;
			if (pid == 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		CPPUNIT_ASSERT_MESSAGE("pidfile written", pid > 0);
		bool ready = false;
		for (int i = 0; i < 250 && !ready; ++i)
		{
			try
			{
				ready = HttpTestClient::get(LOOPBACK, server.adminPort(), "/readyz", {}, 500).status == 200;
			}
			catch (std::exception&)
			{
			}
			if (!ready)
				std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		CPPUNIT_ASSERT_MESSAGE("daemon became ready", ready);
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, server.port("main"), "/echo/stats").status);
		CPPUNIT_ASSERT_EQUAL(0, ::kill(pid, SIGTERM));
		bool gone = false;
		for (int i = 0; i < 500 && !gone; ++i)
		{
			gone = ::kill(pid, 0) != 0;
			if (!gone)
				std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		CPPUNIT_ASSERT_MESSAGE("daemon exited on SIGTERM", gone);
		CPPUNIT_ASSERT_MESSAGE("pidfile removed", !server.dir().exists("switchboard.pid"));
		CPPUNIT_ASSERT(server.dir().exists("data/echo.sqlite"));
	}

	void testSharedListenerAndSeparatePorts()
	{
		// Two plugins on one listener under prefixes, and one on a listener of its own.
		TestServer server;
		// One plugin directory holding the echo plugin and a fixture.
		std::string dir = server.dir().makeDirectory("plugins");
		std::filesystem::copy_file(std::string(SWITCHBOARD_TEST_PLUGIN_DIR) + "/echo.so", dir + "/echo.so");
		std::filesystem::copy_file(std::string(SWITCHBOARD_FIXTURE_PLUGIN_DIR) + "/good.so", dir + "/good.so");
		server.set("host", "plugin_dir", dir);
		server.addListener("second");
		server.addPlugin("echo", "main", "/echo");
		server.addPlugin("good", "second", "", {{"required_text", "solo"}});
		server.start();
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, server.port("main"), "/echo/stats").status);
		CPPUNIT_ASSERT_EQUAL(std::string("solo|10|0"),
		                     HttpTestClient::get(LOOPBACK, server.port("second"), "/config").body);
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, server.port("second"), "/echo/stats").status);
		WsTestClient a, b;
		CPPUNIT_ASSERT_EQUAL(101, a.connect(LOOPBACK, server.port("main"), "/echo/ws").status);
		CPPUNIT_ASSERT_EQUAL(101, b.connect(LOOPBACK, server.port("second"), "/ws").status);
		b.sendText("on second");
		CPPUNIT_ASSERT_EQUAL(std::string("on second"), b.receiveMessage().payload);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(StartupIntegrationTest);
