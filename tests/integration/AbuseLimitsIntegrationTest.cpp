//
// AbuseLimitsIntegrationTest.cpp
//
// The HTTP front's abuse limits against the real binary, each set small: connections per client
// address (HTTP and WebSocket together, freed when they close), WebSocket upgrades per client per
// second, and handshakes in progress over all clients. The attacker connects from 127.0.0.2 (and
// 127.0.0.4 where it takes two addresses); a well-behaved client from 127.0.0.3 is still served.
// IPv6 clients are counted per prefix: checked on [::1] when the machine has IPv6 loopback.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TestServer.h"
#include "TestSocket.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <chrono>
#include <cstdio>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;


namespace {

const std::string LOOPBACK = "127.0.0.1";
const std::string ATTACKER = "127.0.0.2";
const std::string GOOD_CLIENT = "127.0.0.3";
const std::string SECOND_ATTACKER = "127.0.0.4";

std::int64_t metric(TestServer& server, const std::string& series)
{
	// The admin listener is exempt from the limits: it answers while the front is attacked.
	return HttpTestClient::metricValue(HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body, series);
}

bool waitForMetric(TestServer& server, const std::string& series, std::int64_t expected, int timeoutMs)
{
	Deadline deadline(timeoutMs);
	while (!deadline.expired())
	{
		if (metric(server, series) == expected)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return metric(server, series) == expected;
}

HttpResponse getFrom(const std::string& source, const std::string& host, int port, const std::string& path)
// GET on a fresh connection from the given source address.
{
	TestSocket socket;
	socket.setBindAddress(source);
	socket.connect(host, port, 2000);
	socket.sendAll("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2000);
	std::string buffer;
	return HttpTestClient::readResponse(socket, buffer, Deadline(5000), false);
}

HttpResponse upgradeFrom(const std::string& source, const std::string& host, int port, WsTestClient& client)
{
	client.setBindAddress(source);
	return client.connect(host, port, "/echo/ws", {}, 5000);
}

bool echoes(WsTestClient& client)
{
	client.sendText("still served");
	WsTestClient::Message message = client.receiveMessage(3000);
	return message.ok() && message.payload == "still served";
}

void assertWellBehavedClientIsServed(const std::string& host, int port)
{
	HttpResponse stats = getFrom(GOOD_CLIENT, host, port, "/echo/stats");
	CPPUNIT_ASSERT_EQUAL(200, stats.status);
	WsTestClient client;
	CPPUNIT_ASSERT_EQUAL(101, upgradeFrom(GOOD_CLIENT, host, port, client).status);
	CPPUNIT_ASSERT(echoes(client));
	client.close();
}

void closeAll(std::vector<WsTestClient>& clients)
{
	for (WsTestClient& client : clients)
	{
		if (client.isOpen())
		{
			client.sendClose(1000);
			client.expectClose(3000);
		}
		client.close();
	}
	clients.clear();
}

} // namespace


class AbuseLimitsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(AbuseLimitsIntegrationTest);
	CPPUNIT_TEST(testConnectionsPerClient);
	CPPUNIT_TEST(testUpgradesPerClientPerSecond);
	CPPUNIT_TEST(testPendingHandshakes);
	CPPUNIT_TEST(testOneAddressCannotFillThePendingHandshakes);
	CPPUNIT_TEST(testIpv6LoopbackCountsAsOneClient);
	CPPUNIT_TEST_SUITE_END();

public:
	void testConnectionsPerClient()
	{
		const int limit = 10;
		TestServer server;
		server.set("http", "max_connections_per_client", std::to_string(limit));
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		// Half WebSockets, half idle HTTP connections: they count together.
		std::vector<WsTestClient> sockets(limit / 2);
		for (WsTestClient& ws : sockets)
			CPPUNIT_ASSERT_EQUAL(101, upgradeFrom(ATTACKER, LOOPBACK, port, ws).status);
		std::vector<TestSocket> idle(limit - limit / 2);
		for (TestSocket& socket : idle)
		{
			socket.setBindAddress(ATTACKER);
			socket.connect(LOOPBACK, port, 2000);
		}
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_handshakes_pending", std::int64_t(idle.size()), 5000));

		// Over the limit: 429 at once, before any request is read, for HTTP and upgrades alike.
		HttpResponse refused = getFrom(ATTACKER, LOOPBACK, port, "/echo/stats");
		CPPUNIT_ASSERT_EQUAL(429, refused.status);
		CPPUNIT_ASSERT_EQUAL(std::string("10"), refused.header("Retry-After"));
		CPPUNIT_ASSERT_EQUAL(std::string("close"), refused.header("Connection"));
		WsTestClient extra;
		CPPUNIT_ASSERT_EQUAL(429, upgradeFrom(ATTACKER, LOOPBACK, port, extra).status);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), metric(server, "switchboard_http_client_limit_refusals_total"));

		assertWellBehavedClientIsServed(LOOPBACK, port);

		// Refused connections were never counted; closed ones stop counting, WebSockets included.
		closeAll(sockets);
		for (TestSocket& socket : idle)
			socket.close();
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_handshakes_pending", 0, 5000));
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_connections_open", 0, 5000));
		std::vector<WsTestClient> again(limit);
		for (WsTestClient& ws : again)
			CPPUNIT_ASSERT_EQUAL(101, upgradeFrom(ATTACKER, LOOPBACK, port, ws).status);
		WsTestClient overAgain;
		CPPUNIT_ASSERT_EQUAL(429, upgradeFrom(ATTACKER, LOOPBACK, port, overAgain).status);
		CPPUNIT_ASSERT(echoes(again.back()));
		closeAll(again);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testUpgradesPerClientPerSecond()
	{
		const int burst = 5;
		TestServer server;
		server.set("http", "upgrades_per_second", "1");
		server.set("http", "upgrade_burst", std::to_string(burst));
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		// Twenty upgrades as fast as one client can: the burst passes, then one per second.
		auto start = std::chrono::steady_clock::now();
		std::vector<WsTestClient> opened;
		int refusedCount = 0;
		for (int i = 0; i < 20; ++i)
		{
			WsTestClient client;
			HttpResponse response = upgradeFrom(ATTACKER, LOOPBACK, port, client);
			if (response.status == 101)
			{
				opened.push_back(std::move(client));
				continue;
			}
			CPPUNIT_ASSERT_EQUAL(429, response.status);
			CPPUNIT_ASSERT_EQUAL(std::string("1"), response.header("Retry-After"));
			++refusedCount;
		}
		auto elapsedSeconds =
		    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
		CPPUNIT_ASSERT(refusedCount > 0);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(opened.size()) + " opened in " + std::to_string(elapsedSeconds) + " s",
		                       opened.size() <= std::size_t(burst + elapsedSeconds + 1));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(refusedCount),
		                     metric(server, "switchboard_http_upgrade_rate_refusals_total"));
		// Plain HTTP from the same address is not an upgrade.
		CPPUNIT_ASSERT_EQUAL(200, getFrom(ATTACKER, LOOPBACK, port, "/echo/stats").status);

		assertWellBehavedClientIsServed(LOOPBACK, port);

		// Retry-After: 1 is honest: a second later the attacker's bucket has a token again.
		std::this_thread::sleep_for(std::chrono::milliseconds(1100));
		WsTestClient later;
		CPPUNIT_ASSERT_EQUAL(101, upgradeFrom(ATTACKER, LOOPBACK, port, later).status);
		CPPUNIT_ASSERT(echoes(later));
		later.close();
		closeAll(opened);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPendingHandshakes()
	{
		// Handshakes in progress are capped over all clients: an attack from many addresses
		// (two here) fills them and new connections get 503 until some complete or close.
		const int limit = 50;
		TestServer server;
		server.set("http", "max_pending_handshakes", std::to_string(limit));
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		std::vector<TestSocket> stalled(limit);
		for (std::size_t i = 0; i < stalled.size(); ++i)
		{
			stalled[i].setBindAddress(i % 2 == 0 ? ATTACKER : SECOND_ATTACKER);
			stalled[i].connect(LOOPBACK, port, 2000);
			stalled[i].sendAll("GET /echo/stats HTTP/1.1\r\nHost: x\r\n", 2000); // never finished
		}
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_handshakes_pending", limit, 5000));

		HttpResponse refused = getFrom(GOOD_CLIENT, LOOPBACK, port, "/echo/stats");
		CPPUNIT_ASSERT_EQUAL(503, refused.status);
		CPPUNIT_ASSERT_EQUAL(std::string("1"), refused.header("Retry-After"));
		CPPUNIT_ASSERT_EQUAL(std::string("close"), refused.header("Connection"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_http_pending_limit_refusals_total"));

		// A stalled client that completes its head is answered and leaves the pending count.
		stalled[0].sendAll("\r\n", 2000);
		std::string buffer;
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::readResponse(stalled[0], buffer, Deadline(5000), false).status);
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_handshakes_pending", limit - 1, 5000));
		// Closed ones leave it too; then the well-behaved client is served again.
		for (std::size_t i = 1; i < 10; ++i)
			stalled[i].close();
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_handshakes_pending", limit - 10, 5000));
		assertWellBehavedClientIsServed(LOOPBACK, port);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testOneAddressCannotFillThePendingHandshakes()
	{
		// With both limits set, one address alone cannot take every handshake place.
		TestServer server;
		server.set("http", "max_pending_handshakes", "50");
		server.set("http", "max_connections_per_client", "20");
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		std::vector<TestSocket> stalled(30);
		int refused = 0;
		for (TestSocket& socket : stalled)
		{
			// Silent: a connection that has not sent its head yet is a pending handshake too.
			socket.setBindAddress(ATTACKER);
			socket.connect(LOOPBACK, port, 2000);
		}
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_http_client_limit_refusals_total", 10, 5000));
		for (TestSocket& socket : stalled)
		{
			std::string received;
			if (socket.receiveSome(received, 50) == TestSocket::RECEIVE_DATA &&
			    received.find(" 429 ") != std::string::npos)
				++refused;
		}
		CPPUNIT_ASSERT_EQUAL(10, refused);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(20), metric(server, "switchboard_http_handshakes_pending"));
		assertWellBehavedClientIsServed(LOOPBACK, port);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), metric(server, "switchboard_http_pending_limit_refusals_total"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testIpv6LoopbackCountsAsOneClient()
	{
		std::string why;
		if (!(why = PortPicker::ipv6LoopbackUnavailable()).empty())
		{
			std::printf("\nAbuseLimitsIntegrationTest: IPv6 check skipped: %s\n", why.c_str());
			return;
		}
		const int limit = 3;
		TestServer server;
		server.set("listener.main", "address", "::1");
		server.set("http", "max_connections_per_client", std::to_string(limit));
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		std::vector<WsTestClient> clients(limit);
		for (WsTestClient& ws : clients)
			CPPUNIT_ASSERT_EQUAL(101, ws.connect("::1", port, "/echo/ws", {}, 5000).status);
		WsTestClient over;
		HttpResponse refused = over.connect("::1", port, "/echo/ws", {}, 5000);
		CPPUNIT_ASSERT_EQUAL(429, refused.status);
		CPPUNIT_ASSERT(refused.hasHeader("Retry-After"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_http_client_limit_refusals_total"));
		closeAll(clients);
		CPPUNIT_ASSERT(waitForMetric(server, "switchboard_connections_open", 0, 5000));
		WsTestClient back;
		CPPUNIT_ASSERT_EQUAL(101, back.connect("::1", port, "/echo/ws", {}, 5000).status);
		CPPUNIT_ASSERT(echoes(back));
		back.close();
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(AbuseLimitsIntegrationTest);
