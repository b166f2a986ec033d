//
// ReloadIntegrationTest.cpp
//
// SIGHUP on the real binary reloads the configuration (docs/operations.md): the file is read and
// checked again as --check-config does; a configuration with a problem changes nothing (the log
// says why, /readyz keeps its generation); a valid one bumps the generation /readyz reports,
// applies the log level at once, hands the echo plugin its changed keys (Plugin::reconfigure: a
// new greeting for new connections), turns plugins off (their clients get 1001) and on, and names
// every other changed key as waiting for a restart. Other plugins' WebSockets are never disturbed.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "switchboard/Abi.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;


namespace {


const char* LOOPBACK = "127.0.0.1";
const int WAIT_MS = 5000;


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


std::string readyzBody(const TestServer& server)
{
	const HttpResponse response = HttpTestClient::get(LOOPBACK, server.adminPort(), "/readyz");
	CPPUNIT_ASSERT_EQUAL(200, response.status);
	return response.body;
}


void expectEcho(WsTestClient& client, const std::string& text)
{
	client.sendText(text);
	const WsTestClient::Message m = client.receiveMessage(WAIT_MS);
	CPPUNIT_ASSERT_MESSAGE(m.error, m.ok());
	CPPUNIT_ASSERT_EQUAL(text, m.payload);
}


class EchoTraffic
/// Echo clients on their own thread, each sending numbered messages and checking every answer
/// in order, until stop(); any drop, loss or reordering ends it with the reason.
{
public:
	EchoTraffic(int port, int clients):
	    _clients(static_cast<std::size_t>(clients))
	{
		for (auto& client : _clients)
			CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, port, "/echo/ws").status);
		_thread = std::thread([this] { run(); });
	}

	~EchoTraffic() { stop(); }

	std::int64_t rounds() const { return _rounds.load(); }

	bool waitForRounds(std::int64_t wanted)
	{
		return waitUntil(WAIT_MS, 20, [&] { return _rounds.load() >= wanted || _stop.load(); });
	}

	std::string stop()
	/// Ends the traffic: "" if every message came back in order on every connection.
	{
		_stop = true;
		if (_thread.joinable())
			_thread.join();
		return _failure;
	}

private:
	void run()
	{
		// Bounded: at most 100000 rounds (the test stops it long before).
		for (std::int64_t round = 0; round < 100000 && !_stop.load(); ++round)
		{
			for (std::size_t i = 0; i < _clients.size(); ++i)
			{
				const std::string text = "client " + std::to_string(i) + " message " + std::to_string(round);
				_clients[i].sendText(text);
				const WsTestClient::Message m = _clients[i].receiveMessage(WAIT_MS);
				if (!m.ok() || m.payload != text)
				{
					_failure = text + ": " + (m.ok() ? "got '" + m.payload + "'" : m.error);
					_stop = true;
					return;
				}
			}
			++_rounds;
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
		}
	}

	std::vector<WsTestClient> _clients;
	std::atomic<bool> _stop{false};
	std::atomic<std::int64_t> _rounds{0};
	std::string _failure;
	std::thread _thread;
};


} // namespace


class ReloadIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ReloadIntegrationTest);
	CPPUNIT_TEST(testReloadAppliesChecksAndReports);
	CPPUNIT_TEST(testPluginsThatCannotApplyKeysLive);
	CPPUNIT_TEST(testPluginsTurnedOffAndOnUnderTraffic);
	CPPUNIT_TEST(testReloadCommandSignalsThroughThePidFile);
	CPPUNIT_TEST(testDisableLetsRequestsFinishAndAFailedEnableStaysOff);
	CPPUNIT_TEST_SUITE_END();

public:
	void testReloadAppliesChecksAndReports()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hello"}});
		server.start();
		CPPUNIT_ASSERT_EQUAL(std::string("ready (configuration generation 1)\n"), readyzBody(server));
		WsTestClient client;
		CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, server.port("main"), "/echo/ws").status);
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), client.receiveMessage(WAIT_MS).payload);
		expectEcho(client, "before");

		// The greeting (live, through the plugin), the log level (live: the reload's own notice is
		// then below it) and the plugin's prefix (at the next restart) change; generation 2.
		server.set("plugin.echo", "greeting", "changed");
		server.set("plugin.echo", "prefix", "/echo2");
		server.set("host", "log_level", "warning");
		server.reload();
		CPPUNIT_ASSERT_MESSAGE(readyzBody(server),
		                       waitUntil(WAIT_MS, 20, [&] { return contains(readyzBody(server), "generation 2"); }));
		CPPUNIT_ASSERT_MESSAGE(
		    server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			    return contains(server.logText(), "these changes take effect only after a restart: plugin.echo.prefix");
		    }));
		CPPUNIT_ASSERT_MESSAGE("the notice of generation 2 is below the new level\n" + server.logTail(),
		                       !contains(server.logText(), "reloaded (generation 2)"));
		expectEcho(client, "after generation 2");
		WsTestClient newcomer;
		CPPUNIT_ASSERT_EQUAL(101, newcomer.connect(LOOPBACK, server.port("main"), "/echo/ws").status);
		CPPUNIT_ASSERT_EQUAL(std::string("changed"), newcomer.receiveMessage(WAIT_MS).payload);

		// A bad value: nothing changes, the log says what and why, the generation stays.
		server.set("plugin.echo", "max_notes", "lots");
		server.reload();
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(),
			                                       "configuration not reloaded, the running one (generation 2) stays");
		                       }));
		// (The log is written asynchronously: each line is waited for.)
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(), "plugin.echo.max_notes: expected an integer");
		                       }));
		CPPUNIT_ASSERT_EQUAL(std::string("ready (configuration generation 2)\n"), readyzBody(server));
		expectEcho(client, "after a refused reload");

		// Fixed, and the level back to information: generation 3, announced.
		server.unset("plugin.echo", "max_notes");
		server.set("host", "log_level", "information");
		server.reload();
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(), "reloaded (generation 3); live: host.log_level");
		                       }));
		const HttpResponse readyz = HttpTestClient::get(LOOPBACK, server.adminPort(), "/readyz");
		CPPUNIT_ASSERT_EQUAL(std::string("3"), readyz.header("X-Configuration-Generation"));
		expectEcho(client, "after generation 3");
		client.sendClose(1000, "bye");
		CPPUNIT_ASSERT_EQUAL(1000, client.expectClose(WAIT_MS, false).code);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPluginsThatCannotApplyKeysLive()
	{
		// A 4.3 plugin keeping Plugin::reconfigure's default, and one built for 4.2 (never asked):
		// both keep their running values, and the log says why for each.
		TestServer server;
		server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
		server.addPlugin("good", "main", "/g", {{"required_text", "x"}});
		server.addPlugin("older_minor", "main", "/o", {{"required_text", "x"}});
		server.start();
		server.set("plugin.good", "limit", "20");
		server.set("plugin.older_minor", "limit", "30");
		server.reload();
		for (const std::string& line :
		     {std::string("plugin good keeps its running values until a restart: it applies no key live"),
		      std::string("plugin older_minor keeps its running values until a restart: it was built for SDK ABI "
		                  "4.2, before Plugin::reconfigure (4.3)"),
		      std::string("take effect only after a restart: plugin.good.limit, plugin.older_minor.limit")})
			CPPUNIT_ASSERT_MESSAGE(line + "\n" + server.logTail(),
			                       waitUntil(WAIT_MS, 20, [&] { return contains(server.logText(), line); }));
		CPPUNIT_ASSERT_EQUAL(std::string("ready (configuration generation 2)\n"), readyzBody(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testDisableLetsRequestsFinishAndAFailedEnableStaysOff()
	{
		TestServer server;
		server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
		server.addPlugin("good", "main", "/g", {{"required_text", "x"}});
		server.addPlugin("fails_start", "main", "/f", {{"required_text", "x"}, {"enabled", "false"}});
		server.start();
		const int port = server.port("main");
		// A request the plugin is still handling when it is turned off is answered all the same.
		HttpResponse slow;
		std::thread request([&] { slow = HttpTestClient::get(LOOPBACK, port, "/g/sleep?ms=1500", {}, 10000); });
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		server.set("plugin.good", "enabled", "false");
		server.set("plugin.fails_start", "enabled", "true");
		server.reload();
		request.join();
		CPPUNIT_ASSERT_EQUAL(200, slow.status);
		CPPUNIT_ASSERT_EQUAL(std::string("slept"), slow.body);
		for (const std::string& line : {std::string("plugin good disabled"),
		                                std::string("plugin fails_start could not be turned on: plugin fails_start "
		                                            "failed to start"),
		                                std::string("take effect only after a restart: plugin.fails_start.enabled")})
			CPPUNIT_ASSERT_MESSAGE(line + "\n" + server.logTail(),
			                       waitUntil(WAIT_MS, 20, [&] { return contains(server.logText(), line); }));
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, port, "/g/config").status);
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, port, "/f/config").status);
		const std::string plugins = HttpTestClient::get(LOOPBACK, server.adminPort(), "/plugins").body;
		CPPUNIT_ASSERT_MESSAGE(plugins, contains(plugins, "\"state\":\"disabled\""));
		CPPUNIT_ASSERT_MESSAGE(plugins, contains(plugins, "\"state\":\"failed\""));
		CPPUNIT_ASSERT_EQUAL(std::string("ready (configuration generation 2)\n"), readyzBody(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testReloadCommandSignalsThroughThePidFile()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hello"}});
		server.start();
		const std::string pidFile = server.configPath() + ".pid";
		std::ofstream(pidFile) << server.pid() << "\n";
		server.set("plugin.echo", "greeting", "again");
		server.rewriteConfig();
		TestServer::RunResult sent = TestServer::runOnce({"--reload=" + pidFile});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(sent.describe(), 0, sent.exitCode);
		CPPUNIT_ASSERT(contains(sent.output(), "reload requested (SIGHUP to process " + std::to_string(server.pid())));
		CPPUNIT_ASSERT_MESSAGE(readyzBody(server),
		                       waitUntil(WAIT_MS, 20, [&] { return contains(readyzBody(server), "generation 2"); }));

		// A stale file naming another program: refused, nothing sent (SIGHUP would end this runner).
		std::ofstream(pidFile, std::ios::trunc) << ::getpid() << "\n";
		TestServer::RunResult stale = TestServer::runOnce({"--reload=" + pidFile});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(stale.describe(), 69, stale.exitCode);
		CPPUNIT_ASSERT(contains(stale.output(), "not switchboard (a stale pid file?); nothing sent"));
		TestServer::RunResult missing = TestServer::runOnce({"--reload=" + pidFile + ".missing"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(missing.describe(), 66, missing.exitCode);
		CPPUNIT_ASSERT_EQUAL(std::string("ready (configuration generation 2)\n"), readyzBody(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPluginsTurnedOffAndOnUnderTraffic()
	{
		// Echo clients exchange numbered messages the whole time; PeerVault is on, PeerJS off.
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		server.addPlugin("peervault", "main", "/pv");
		server.addPlugin("peerjs", "main", "/pj", {{"path", "/"}, {"key", "peerjs"}, {"enabled", "false"}});
		server.start();
		const int port = server.port("main");
		EchoTraffic traffic(port, 4);
		WsTestClient subscriber;
		CPPUNIT_ASSERT_EQUAL(101, subscriber.connect(LOOPBACK, port, "/pv/ws").status);
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, port, "/pv/ws/metrics").status);
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, port, "/pj/peerjs/id").status);
		CPPUNIT_ASSERT(traffic.waitForRounds(20));
		HttpTestClient::Headers twentyHeaders;
		for (int i = 0; i < 20; ++i)
			twentyHeaders.push_back({"X-Extra-" + std::to_string(i), "1"});
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, port, "/echo/stats", twentyHeaders).status);

		// One reload: a log level, limits (the host's and a plugin's), PeerVault off, PeerJS on,
		// and the address of the listener in use (not moved: that needs a restart).
		server.set("http", "max_header_count", "10");
		server.set("host", "log_level", "notice");
		server.set("plugin.echo", "max_notes", "7");
		server.set("plugin.peervault", "enabled", "false");
		server.set("plugin.peerjs", "enabled", "true");
		server.set("listener.main", "address", "127.0.0.2");
		server.reload();
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(
			                           server.logText(),
			                           "reloaded (generation 2); live: host.log_level, http.max_header_count, "
			                           "plugin.echo.max_notes, plugin.peerjs.enabled, plugin.peervault.enabled");
		                       }));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(),
			                                       "take effect only after a restart: listener.main.address");
		                       }));
		CPPUNIT_ASSERT_EQUAL(431, HttpTestClient::get(LOOPBACK, port, "/echo/stats", twentyHeaders).status);
		// PeerVault's client got 1001; its paths are gone; PeerJS answers on its own.
		const WsTestClient::CloseInfo closed = subscriber.expectClose(WAIT_MS, false);
		CPPUNIT_ASSERT_EQUAL(1001, closed.code);
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, port, "/pv/ws/metrics").status);
		CPPUNIT_ASSERT_EQUAL(400, WsTestClient().connect(LOOPBACK, port, "/pv/ws").status);
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, port, "/pj/peerjs/id").status);
		WsTestClient peer;
		CPPUNIT_ASSERT_EQUAL(101, peer.connect(LOOPBACK, port, "/pj/peerjs?key=peerjs&id=alice&token=t1").status);
		CPPUNIT_ASSERT(contains(peer.receiveMessage(WAIT_MS).payload, "OPEN"));
		const std::string metrics = HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body;
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     HttpTestClient::metricValue(metrics, "switchboard_plugin_up{plugin=\"peervault\"}"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     HttpTestClient::metricValue(metrics, "switchboard_plugin_up{plugin=\"peerjs\"}"));
		const std::string plugins = HttpTestClient::get(LOOPBACK, server.adminPort(), "/plugins").body;
		CPPUNIT_ASSERT_MESSAGE(plugins, contains(plugins, "\"state\":\"disabled\""));

		// PeerVault back on (a new instance on the same storage): it serves again.
		server.set("plugin.peervault", "enabled", "true");
		server.reload();
		CPPUNIT_ASSERT_MESSAGE(readyzBody(server),
		                       waitUntil(WAIT_MS, 20, [&] { return contains(readyzBody(server), "generation 3"); }));
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, port, "/pv/ws/metrics").status);
		WsTestClient again;
		CPPUNIT_ASSERT_EQUAL(101, again.connect(LOOPBACK, port, "/pv/ws").status);

		// Nobody else noticed: every echo client is open and got every answer in order.
		const std::int64_t before = traffic.rounds();
		CPPUNIT_ASSERT(traffic.waitForRounds(before + 20));
		CPPUNIT_ASSERT_EQUAL(std::string(), traffic.stop());
		peer.sendClose(1000, "bye");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ReloadIntegrationTest);
