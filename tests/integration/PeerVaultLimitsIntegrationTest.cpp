//
// PeerVaultLimitsIntegrationTest.cpp
//
// The real switchboard binary with only the PeerVault plugin: /work/shared/protocols/peervault.md
// §12.5 (cases 20-26): the 1 MiB message limit, the per-connection rate limit and its 1008, the
// connection cap, a client that floods without reading, keep-alive timings from the environment,
// graceful shutdown, and the PEERVAULT_WS_* variables (through the host's [environment] section).
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "PeerVaultTestSupport.h"
#include "PortPicker.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/JSON/Object.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;
using Poco::JSON::Object;


namespace {


const std::string PING = "{\"type\":\"ping\"}";


std::unique_ptr<TestServer> limitsServer(const TestServer::Keys& keys = {}, const TestServer::Keys& environment = {})
{
	TestServer::Keys all = {{key("metrics.interval"), "0"}};
	for (const auto& entry : keys)
		all[entry.first] = entry.second;
	return startServer(all, environment);
}


std::string paddedPing(std::size_t size)
/// A JSON ping of exactly size bytes: {"type":"ping","pad":"xxx..."}.
{
	const std::string head = "{\"type\":\"ping\",\"pad\":\"";
	const std::string tail = "\"}";
	return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}


std::string pingFrames(int count)
/// count masked text frames holding PING, back to back.
{
	std::string bytes;
	for (int i = 0; i < count; ++i)
	{
		const unsigned char mask[4] = {static_cast<unsigned char>(i), 0x5a, static_cast<unsigned char>(i >> 8), 0xa5};
		bytes += WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, PING, true, true, 0, mask);
	}
	return bytes;
}


bool sendQuietly(WsTestClient& client, const std::string& bytes)
/// sendRaw(); false if the server has already dropped the connection.
{
	try
	{
		client.sendRaw(bytes);
		return true;
	}
	catch (const std::exception&)
	{
		return false;
	}
}


Object::Ptr websocketMetrics(TestServer& server)
{
	Object::Ptr metrics = getJson(server, "/ws/metrics");
	return objectAt(metrics, "websocket", stringify(metrics));
}


} // namespace


class PeerVaultLimitsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultLimitsIntegrationTest);
	CPPUNIT_TEST(testMessageSize);
	CPPUNIT_TEST(testRateLimit);
	CPPUNIT_TEST(testSustainedFloodCloses);
	CPPUNIT_TEST(testConnectionCap);
	CPPUNIT_TEST(testSlowConsumerFlood);
	CPPUNIT_TEST(testKeepAlive);
	CPPUNIT_TEST(testShutdown);
	CPPUNIT_TEST(testEnvironmentOverrides);
	CPPUNIT_TEST(testPingPeriodNotBelowPongWait);
	CPPUNIT_TEST_SUITE_END();

public:
	void testMessageSize()
	/// Case 20: a 1,048,576-byte message gets its pong; 1,048,577 bytes close with 1009.
	{
		std::unique_ptr<TestServer> server = limitsServer();
		WsTestClient client = connect(*server);
		client.setSendTimeout(15000);
		const std::string largest = paddedPing(1048576);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048576), largest.size());
		client.sendText(largest);
		expectPong(nextFrame(client, 10000), "the reply to a 1 MiB ping");
		expectNothing(client, "after the 1 MiB ping");

		const std::string tooLarge = paddedPing(1048577);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048577), tooLarge.size());
		sendQuietly(client, WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, tooLarge, true, true, 0,
		                                              reinterpret_cast<const unsigned char*>("\x01\x02\x03\x04")));
		const CloseResult close = awaitClose(client, 10000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("1 MiB + 1 byte: " + describe(close), 1009, close.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close reason: " + describe(close), std::string("Message too big"), close.reason);
		CPPUNIT_ASSERT_MESSAGE("no error frame before the 1009: " + describe(close), close.dataFrames.empty());

		WsTestClient after = connect(*server);
		ping(after);
	}

	void testRateLimit()
	/// Case 21: 300 pings without pause: about 100 pongs, at least one RATE_LIMIT_EXCEEDED with
	/// retryAfter 1, the connection stays open; after 1 s of silence a ping gets its pong.
	{
		std::unique_ptr<TestServer> server = limitsServer();
		WsTestClient client = connect(*server);
		const std::int64_t started = Deadline::nowMicros();
		client.sendRaw(pingFrames(300));
		const std::int64_t sentMicros = Deadline::nowMicros() - started;
		int pongs = 0;
		int errors = 0;
		// Replies until the server has been silent for 1 s (the flood is long answered by then).
		for (;;)
		{
			WsTestClient::Message message = client.receiveMessage(1000);
			if (message.timedOut())
				break;
			CPPUNIT_ASSERT_MESSAGE("connection ended during the flood: " + message.error, message.ok());
			if (message.opcode == WsTestClient::OPCODE_PONG || message.opcode == WsTestClient::OPCODE_PING)
				continue;
			CPPUNIT_ASSERT_EQUAL_MESSAGE("a non-text frame during the flood: " + message.payload.substr(0, 100),
			                             static_cast<int>(WsTestClient::OPCODE_TEXT), message.opcode);
			Object::Ptr frame = object(message.payload);
			const std::string type = stringAt(frame, "type", message.payload);
			if (type == "pong")
			{
				expectPong(frame, "during the flood");
				++pongs;
				continue;
			}
			expectErrorFrame(frame, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded. Please slow down your requests.", 1);
			++errors;
		}
		const std::string counts = std::to_string(pongs) + " pongs and " + std::to_string(errors) +
		                           " rate-limit errors for 300 pings sent in " + std::to_string(sentMicros / 1000) +
		                           " ms";
		CPPUNIT_ASSERT_MESSAGE(counts + ": the burst of 100 was not answered", pongs >= 100);
		CPPUNIT_ASSERT_MESSAGE(counts + ": more than about 110 pongs", pongs <= 115);
		CPPUNIT_ASSERT_MESSAGE(counts + ": no RATE_LIMIT_EXCEEDED", errors >= 1);
		CPPUNIT_ASSERT_MESSAGE(counts + ": more than one error per second",
		                       errors <= 1 + static_cast<int>(sentMicros / 1000000));
		expectNothing(client, "after 1 s of silence the connection is open and answers");
	}

	void testSustainedFloodCloses()
	/// Case 21: 5000 pings without pause → more than 1000 drops within 10 s → close 1008.
	{
		std::unique_ptr<TestServer> server = limitsServer();
		WsTestClient client = connect(*server);
		const std::string batch = pingFrames(100);
		CloseResult close;
		int sent = 0;
		while (sent < 5000 && sendQuietly(client, batch))
		{
			sent += 100;
			close = awaitClose(client, 0);
			if (close.code != WsTestClient::CloseInfo::TIMED_OUT)
				break;
		}
		if (close.code == WsTestClient::CloseInfo::TIMED_OUT)
			close = awaitClose(client, 10000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("after " + std::to_string(sent) + " pings: " + describe(close), 1008, close.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(close), std::string("Rate limit exceeded"), close.reason);
		CPPUNIT_ASSERT_MESSAGE("closed before 1000 messages were dropped (" + std::to_string(sent) + " sent)",
		                       sent > 1000);

		WsTestClient other = connect(*server);
		ping(other);
	}

	void testConnectionCap()
	/// Case 22: with max_connections = 2 the third connection gets CONNECTION_REFUSED and 1013;
	/// /ws/metrics shows 2 active and the refusal.
	{
		std::unique_ptr<TestServer> server = limitsServer({{key("limits.max_connections"), "2"}});
		WsTestClient first = connect(*server);
		ping(first);
		WsTestClient second = connect(*server);
		ping(second);
		WsTestClient third = connect(*server);
		expectError(third, "CONNECTION_REFUSED", "Server is not accepting connections");
		expectClose(third, 1013, "Connection limit reached");

		Object::Ptr websocket = websocketMetrics(*server);
		const std::string text = stringify(websocket);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections: " + text, static_cast<std::int64_t>(2),
		                             integerAt(websocket, "active_connections", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("rejected_connections: " + text, static_cast<std::int64_t>(1),
		                             integerAt(websocket, "rejected_connections", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("total_connections does not count the refusal: " + text,
		                             static_cast<std::int64_t>(2), integerAt(websocket, "total_connections", text));
		ping(first);
		ping(second);

		// A place freed is a place again.
		second.sendClose(1000);
		expectClose(second, 1000);
		Deadline deadline(3000);
		while (integerAt(websocketMetrics(*server), "active_connections", "metrics") != 1 && !deadline.expired())
		{
		}
		WsTestClient fourth = connect(*server);
		ping(fourth);
	}

	void testSlowConsumerFlood()
	/// Case 23: send_queue_frames = 64; a client sends 100,000 pings and never reads. The plugin
	/// stays up, that client is disconnected (1013 or 1008), and another client's pings and
	/// /ws/health are answered throughout.
	{
		std::unique_ptr<TestServer> server = limitsServer({{key("limits.send_queue_frames"), "64"}});
		WsTestClient bystander = connect(*server);
		ping(bystander);
		WsTestClient flooder;
		flooder.setReceiveBufferSize(4096);
		flooder.setSendTimeout(3000);
		const HttpResponse upgrade = flooder.connect(LOOPBACK, port(*server), "/ws");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("flooder upgrade: " + upgrade.rawHead, 101, upgrade.status);

		const std::string batch = pingFrames(500);
		int sent = 0;
		int checks = 0;
		Deadline limit(30000);
		while (sent < 100000 && !limit.expired())
		{
			if (!sendQuietly(flooder, batch))
				break;
			sent += 500;
			expectNothing(bystander, "bystander after " + std::to_string(sent) + " flood pings");
			const HttpResponse health = http(*server, "GET", "/ws/health");
			CPPUNIT_ASSERT_EQUAL_MESSAGE("/ws/health during the flood: " + health.body, 200, health.status);
			++checks;
		}
		expectNothing(bystander, "bystander after the flood (" + std::to_string(sent) + " pings sent)");
		CPPUNIT_ASSERT_MESSAGE("the server is still running", server->running());
		CPPUNIT_ASSERT_EQUAL_MESSAGE("/ws/health after the flood", 200, http(*server, "GET", "/ws/health").status);

		const CloseResult close = awaitClose(flooder, 10000);
		const std::string text = describe(close) + " after " + std::to_string(sent) + " pings";
		if (close.code == WsTestClient::CloseInfo::NO_CLOSE_FRAME)
			CPPUNIT_ASSERT_MESSAGE("flooder not disconnected: " + text, close.eof);
		else
			CPPUNIT_ASSERT_MESSAGE("flooder closed with 1013 or 1008: " + text,
			                       close.code == 1013 || close.code == 1008);
		std::cerr << "\n[peervault] slow-consumer flood: " << text << ", " << checks << " bystander checks"
		          << std::endl;

		Deadline gone(3000);
		while (integerAt(websocketMetrics(*server), "active_connections", "metrics") != 1 && !gone.expired())
		{
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the flooder is removed", static_cast<std::int64_t>(1),
		                             integerAt(websocketMetrics(*server), "active_connections", "metrics"));
		ping(bystander);
	}

	void testKeepAlive()
	/// Case 24: PEERVAULT_WS_PING_PERIOD=1s and PEERVAULT_WS_PONG_WAIT=2s. A client that answers
	/// pings stays 5 s; a client that never answers or sends is closed within about 3 s (1001 "Pong
	/// timeout", then the TCP drop); a client that ignores pings but sends an app-level ping every
	/// 500 ms stays. The three run side by side.
	{
		std::unique_ptr<TestServer> server =
		    limitsServer({}, {{"PEERVAULT_WS_PING_PERIOD", "1s"}, {"PEERVAULT_WS_PONG_WAIT", "2s"}});
		WsTestClient answering = connect(*server, "/ws", {}, true);
		WsTestClient silent = connect(*server, "/ws", {}, false);
		const std::int64_t silentSince = Deadline::nowMicros() / 1000;
		WsTestClient chatty = connect(*server, "/ws", {}, false);

		int silentPings = 0;
		int chattyPings = 0;
		int chattyPongs = 0;
		int sentByChatty = 0;
		std::int64_t silentCloseAt = -1; // ms after connecting
		std::int64_t silentDropAt = -1;
		int silentCloseCode = WsTestClient::CloseInfo::NO_CLOSE_FRAME;
		std::string silentCloseReason;
		std::int64_t nextChattyPing = 0;
		auto readSilent = [&](int timeoutMs) {
			while (silentDropAt < 0)
			{
				const WsTestClient::Frame frame = silent.receive(timeoutMs);
				if (frame.timedOut())
					return;
				const std::int64_t at = Deadline::nowMicros() / 1000 - silentSince;
				if (frame.ok() && frame.opcode == WsTestClient::OPCODE_PING)
				{
					CPPUNIT_ASSERT_MESSAGE("server Ping with a payload: '" + frame.payload + "'",
					                       frame.payload.empty());
					++silentPings;
					continue;
				}
				if (frame.ok() && frame.opcode == WsTestClient::OPCODE_CLOSE)
				{
					silentCloseAt = at;
					if (frame.payload.size() >= 2)
					{
						silentCloseCode = (static_cast<unsigned char>(frame.payload[0]) << 8) |
						                  static_cast<unsigned char>(frame.payload[1]);
						silentCloseReason = frame.payload.substr(2);
					}
					continue; // never answered: the server must drop TCP by itself
				}
				CPPUNIT_ASSERT_MESSAGE("the silent client got opcode " + std::to_string(frame.opcode) + " '" +
				                           frame.payload + "'",
				                       !frame.ok());
				silentDropAt = at;
			}
		};
		Deadline window(5500);
		while (!window.expired())
		{
			const std::int64_t now = Deadline::nowMicros() / 1000;
			if (now >= nextChattyPing)
			{
				chatty.sendText(PING);
				++sentByChatty;
				nextChattyPing = now + 500;
			}
			WsTestClient::Frame frame = answering.receive(10);
			CPPUNIT_ASSERT_MESSAGE("the answering client got something: opcode " + std::to_string(frame.opcode) + " '" +
			                           frame.payload + "' " + frame.error,
			                       frame.timedOut());
			frame = chatty.receive(10);
			if (!frame.timedOut())
			{
				CPPUNIT_ASSERT_MESSAGE("the chatty client was disconnected after " + std::to_string(sentByChatty) +
				                           " pings: " + frame.error,
				                       frame.ok());
				if (frame.opcode == WsTestClient::OPCODE_PING)
					++chattyPings;
				else
				{
					CPPUNIT_ASSERT_MESSAGE("the chatty client got opcode " + std::to_string(frame.opcode) + " '" +
					                           frame.payload + "'",
					                       frame.opcode == WsTestClient::OPCODE_TEXT);
					expectPong(object(frame.payload), "chatty client");
					++chattyPongs;
				}
			}
			readSilent(5);
		}
		std::string summary = "answering client answered " + std::to_string(answering.pingsAnswered()) +
		                      " pings; silent client saw " + std::to_string(silentPings) + " pings, close " +
		                      std::to_string(silentCloseCode) + " '" + silentCloseReason + "' at " +
		                      std::to_string(silentCloseAt) + " ms, TCP drop at " + std::to_string(silentDropAt) +
		                      " ms after connecting (-1: none yet); chatty client saw " + std::to_string(chattyPings) +
		                      " pings, " + std::to_string(chattyPongs) + " pongs for " + std::to_string(sentByChatty) +
		                      " app pings";
		std::cerr << "\n[peervault] keep-alive: " << summary << std::endl;
		CPPUNIT_ASSERT_MESSAGE("server Pings at a 1 s period: " + summary, answering.pingsAnswered() >= 3);
		CPPUNIT_ASSERT_MESSAGE("the silent client saw a server Ping: " + summary, silentPings >= 1);
		CPPUNIT_ASSERT_MESSAGE("close 1001 'Pong timeout' for the silent client: " + summary,
		                       silentCloseCode == 1001 && silentCloseReason == "Pong timeout");
		CPPUNIT_ASSERT_MESSAGE("the silent client was closed too early: " + summary, silentCloseAt >= 1500);
		CPPUNIT_ASSERT_MESSAGE("the silent client's close came later than about 3 s: " + summary,
		                       silentCloseAt <= 4000);
		CPPUNIT_ASSERT_MESSAGE("every app ping but the last was answered: " + summary, chattyPongs >= sentByChatty - 1);
		ping(answering);
		ping(chatty);

		// A client's Ping is answered with a Pong echoing its payload.
		answering.sendPing("echo-me");
		Deadline pongDeadline(WAIT_MS);
		for (;;)
		{
			WsTestClient::Frame frame = answering.receive(pongDeadline.remainingMs());
			CPPUNIT_ASSERT_MESSAGE("no Pong for a client Ping: " + frame.error, frame.ok());
			if (frame.opcode != WsTestClient::OPCODE_PONG)
				continue;
			CPPUNIT_ASSERT_EQUAL_MESSAGE("Pong payload", std::string("echo-me"), frame.payload);
			break;
		}

		// If the silent client's TCP is still up, wait (bounded) to report when the drop comes. The
		// other two are no longer served, so they may time out meanwhile.
		if (silentDropAt < 0)
		{
			readSilent(6000);
			summary += "; the silent client's TCP drop at " + std::to_string(silentDropAt) +
			           " ms after connecting (-1: none within 6 s more)";
			std::cerr << "[peervault] keep-alive: silent client's TCP drop at " << silentDropAt
			          << " ms after connecting (-1: none)" << std::endl;
		}
		// Checked last so the cases above are reported first.
		CPPUNIT_ASSERT_MESSAGE("the silent client's TCP was not dropped within about 3 s (§3.4: close attempted, "
		                       "then TCP dropped): " +
		                           summary,
		                       silentDropAt >= 0 && silentDropAt <= 4000);
		CPPUNIT_ASSERT_MESSAGE("the server sent no Ping at the 1 s period to a client sending app pings (§3.4): " +
		                           summary,
		                       chattyPings >= 3);
	}

	void testShutdown()
	/// Case 25: SIGTERM → every client gets close 1001; while the drain waits for a client that
	/// does not answer the close, a new connection is refused (CONNECTION_REFUSED and 1001, or an
	/// HTTP 503) and /ws/health answers 503. Problems after the first closes are collected and
	/// reported together.
	{
		std::unique_ptr<TestServer> server = limitsServer();
		WsTestClient first = connect(*server);
		WsTestClient second = connect(*server);
		WsTestClient stubborn = connect(*server, "/ws", {}, false);
		ping(first);
		ping(second);
		ping(stubborn);

		server->sendSignal(SIGTERM);
		CloseResult close = awaitClose(first, 5000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("first client: " + describe(close), 1001, close.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("first client: " + describe(close), std::string("Server shutting down"),
		                             close.reason);
		const CloseResult stubbornClose = awaitClose(stubborn, 5000, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("unanswering client: " + describe(stubbornClose), 1001, stubbornClose.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("unanswering client: " + describe(stubbornClose),
		                             std::string("Server shutting down"), stubbornClose.reason);

		// The drain now waits for the unanswered close.
		std::vector<std::string> problems;
		std::string refusalForm;
		try
		{
			WsTestClient late;
			const HttpResponse upgrade = late.connect(LOOPBACK, port(*server), "/ws");
			if (upgrade.status == 101)
			{
				const std::string text = nextText(late);
				expectErrorFrame(object(text), "CONNECTION_REFUSED", "Server is not accepting connections");
				expectClose(late, 1001, "Server shutting down");
				refusalForm = "101, then CONNECTION_REFUSED and close 1001 'Server shutting down'";
			}
			else if (upgrade.status == 503)
				refusalForm = "HTTP 503 before the upgrade: " + upgrade.body;
			else
				problems.push_back("a new connection during the drain got HTTP " + std::to_string(upgrade.status) +
				                   " " + upgrade.body);
		}
		catch (const std::runtime_error& error)
		{
			problems.push_back(std::string("a new connection during the drain was not answered: ") + error.what());
		}
		std::cerr << "\n[peervault] refusal during the drain: "
		          << (refusalForm.empty() ? std::string("none") : refusalForm) << std::endl;

		try
		{
			const HttpResponse health = http(*server, "GET", "/ws/health");
			if (health.status != 503)
				problems.push_back("/ws/health during the drain: HTTP " + std::to_string(health.status) + " " +
				                   health.body);
			else if (stringAt(object(health.body), "status", health.body) != "unhealthy")
				problems.push_back("/ws/health during the drain: " + health.body);
		}
		catch (const std::runtime_error& error)
		{
			problems.push_back(std::string("/ws/health during the drain was not answered: ") + error.what());
		}

		close = awaitClose(second, 5000);
		if (close.code != 1001 || close.reason != "Server shutting down")
			problems.push_back("second client: " + describe(close));
		if (!stubborn.waitForEof(10000))
			problems.push_back("the unanswering client was not dropped within 10 s");
		const int exitCode = server->stop();
		if (exitCode != 0)
			problems.push_back("exit code " + std::to_string(exitCode) + " of a graceful stop");
		std::string all;
		for (const std::string& problem : problems)
			all += "\n- " + problem;
		CPPUNIT_ASSERT_MESSAGE("shutdown:" + all, problems.empty());
	}

	void testEnvironmentOverrides()
	/// Case 26: PEERVAULT_WS_PORT serves on that port; PEERVAULT_WS_CORS_ORIGINS governs the
	/// handshake's Origin check (403 ORIGIN_NOT_ALLOWED) and the CORS headers.
	{
		const int envPort = PortPicker::pick();
		std::unique_ptr<TestServer> server = limitsServer(
		    {}, {{"PEERVAULT_WS_PORT", std::to_string(envPort)}, {"PEERVAULT_WS_CORS_ORIGINS", "http://ok.example"}});

		WsTestClient plain;
		HttpResponse upgrade = plain.connect(LOOPBACK, envPort, "/ws");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("no Origin on PEERVAULT_WS_PORT: " + upgrade.rawHead, 101, upgrade.status);
		ping(plain);

		WsTestClient evil;
		const HttpResponse refused = evil.connect(LOOPBACK, envPort, "/ws", {{"Origin", "http://evil.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Origin http://evil.example: " + refused.rawHead + refused.body, 403,
		                             refused.status);
		expectErrorFrame(object(refused.body), "ORIGIN_NOT_ALLOWED", "Origin not allowed");

		WsTestClient good;
		upgrade = good.connect(LOOPBACK, envPort, "/ws", {{"Origin", "http://ok.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Origin http://ok.example: " + upgrade.rawHead + upgrade.body, 101,
		                             upgrade.status);
		ping(good);
		WsTestClient upper;
		upgrade = upper.connect(LOOPBACK, envPort, "/ws", {{"Origin", "HTTP://OK.Example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Origin compared case-insensitively: " + upgrade.rawHead + upgrade.body, 101,
		                             upgrade.status);

		HttpResponse health =
		    HttpTestClient::request(LOOPBACK, envPort, "GET", "/ws/health", {{"Origin", "http://ok.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("health: " + health.rawHead, 200, health.status);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("listed Origin echoed: " + health.rawHead, std::string("http://ok.example"),
		                             health.header("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_MESSAGE("Vary: Origin: " + health.rawHead, health.headerHasToken("Vary", "Origin"));
		health = HttpTestClient::request(LOOPBACK, envPort, "GET", "/ws/health", {{"Origin", "http://evil.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("health: " + health.rawHead, 200, health.status);
		CPPUNIT_ASSERT_MESSAGE("no CORS for an unlisted Origin: " + health.rawHead,
		                       !health.hasHeader("Access-Control-Allow-Origin"));

		bool configPortServes = true;
		try
		{
			HttpTestClient::get(LOOPBACK, port(*server), "/ws/health", {}, 2000);
		}
		catch (const std::runtime_error&)
		{
			configPortServes = false;
		}
		CPPUNIT_ASSERT_MESSAGE("the file's port is still served although PEERVAULT_WS_PORT overrides it",
		                       !configPortServes);
		// Checked last: the 403 body is the JSON error envelope, so it is labelled as JSON.
		expectHttpError(refused, 403, "ORIGIN_NOT_ALLOWED", "Origin not allowed");
	}

	void testPingPeriodNotBelowPongWait()
	/// Case 26: PEERVAULT_WS_PING_PERIOD=70s with the default 60 s pong wait is a startup error that
	/// names the key or the variable.
	{
		TestServer server;
		configure(server, {{key("metrics.interval"), "0"}});
		server.setEnvironment("PEERVAULT_WS_PING_PERIOD", "70s");
		bool started = true;
		std::string failure;
		try
		{
			server.start();
		}
		catch (const std::runtime_error& error)
		{
			started = false;
			failure = error.what();
		}
		CPPUNIT_ASSERT_MESSAGE("the server started with a ping period above the pong wait", !started);
		CPPUNIT_ASSERT_MESSAGE("startup failed without exiting: " + failure, server.lastExit().known);
		CPPUNIT_ASSERT_MESSAGE("non-zero exit: " + server.lastExit().describe(),
		                       server.lastExit().exited && server.lastExit().exitCode != 0);
		const std::string log = server.runLogText();
		CPPUNIT_ASSERT_MESSAGE("the error names neither the key nor the variable:\n" + log,
		                       log.find("ping_period") != std::string::npos ||
		                           log.find("PEERVAULT_WS_PING_PERIOD") != std::string::npos);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultLimitsIntegrationTest);
