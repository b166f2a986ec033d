//
// PeerJsClusterTest.cpp
//
// Cluster mode with the PeerJS plugin: two or three real servers ([cluster] enabled, distinct
// node ids) sharing one real redis-server, each with its own key prefix per test. Relays between
// nodes, the race for an id, reattach on another node, queued messages for a peer that appears on
// another node, a killed node's ids freed after node_ttl_s, a redis restart, the admin /cluster
// endpoint, and a server without [cluster] (which needs no redis).
//
// The tests that need redis-server skip, saying why, when it is not installed
// (scripts/install-deps.sh --test installs it) or when SWITCHBOARD_TEST_NO_REDIS=1.
//
// Key layout with key_prefix P (docs of [cluster]): P node:<number> (liveness, JSON with id,
// number, connections), P inbox:<number> (a node's channel), P name:peerjs:<id>, P names:peerjs,
// P bus:peerjs (the plugin's ClusterChannel broadcasts).
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "RedisTestServer.h"
#include "TestServer.h"
#include "TestSocket.h"
#include "WsTestClient.h"
#include "Poco/Dynamic/Var.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Cluster;


namespace {


const char* const LOOPBACK = "127.0.0.1";

// Wait for a frame that must come.
constexpr int FRAME_MS = 3000;
// Watch window for "nothing (more) arrives".
constexpr int QUIET_MS = 300;
constexpr int NODE_TTL_S = 3;
constexpr int CLOSE_CODE_NONE = 1005;
constexpr int CLOSE_CODE_SUPERSEDED = 4000;
constexpr int EXIT_CONFIG = 78;

const std::string OPEN = "text {\"type\":\"OPEN\"}";
const std::string ID_TAKEN = "text {\"type\":\"ID-TAKEN\",\"payload\":{\"msg\":\"ID is taken\"}}";
const std::string NOTHING = "(nothing)";


// --- Frames ----------------------------------------------------------------------------------

std::string wsPath(const std::string& id, const std::string& token)
{
	return "/peerjs?key=peerjs&id=" + id + "&token=" + token;
}


std::string inbound(const std::string& type, const std::string& dst, const std::string& payload)
/// A frame as the client sends it; payload is compact JSON text.
{
	return "{\"type\":\"" + type + "\",\"dst\":\"" + dst + "\",\"payload\":" + payload + "}";
}


std::string relayed(const std::string& type, const std::string& src, const std::string& dst, const std::string& payload)
/// The frame description (see nextFrame()) of a relayed message: peerjs.md §6.2.
{
	return "text {\"type\":\"" + type + "\",\"src\":\"" + src + "\",\"dst\":\"" + dst + "\",\"payload\":" + payload +
	       "}";
}


std::string offerPayload(const std::string& connectionId)
/// An OFFER payload as the client builds it, with a non-ASCII label, an escaped control
/// character and a non-canonical number that must all survive the trip through redis unchanged.
{
	return "{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 4611731400430051336 2 IN IP4 "
	       "127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n\"},\"type\":\"data\",\"connectionId\":\"" +
	       connectionId +
	       "\",\"label\":\"Zoë's \\u2028 channel </script>\",\"metadata\":{\"n\":2.50e1,\"tab\":\"\\t\"},"
	       "\"reliable\":true,\"serialization\":\"binary\"}";
}


std::string answerPayload(const std::string& connectionId)
{
	return "{\"sdp\":{\"type\":\"answer\",\"sdp\":\"v=0\\r\\no=- 1837166310462325119 2 IN IP4 "
	       "127.0.0.1\\r\\ns=-\\r\\n\"},\"type\":\"data\",\"connectionId\":\"" +
	       connectionId + "\"}";
}


std::string candidatePayload(const std::string& connectionId, int seq)
/// About 300 bytes, like a real CANDIDATE; seq makes every one distinct.
{
	return "{\"candidate\":{\"candidate\":\"candidate:842163049 1 udp 1677729535 192.0.2.17 " +
	       std::to_string(50000 + seq) +
	       " typ srflx raddr 10.0.0.5 rport 50000 generation 0 ufrag 9qXe network-cost 999\",\"sdpMid\":\"0\","
	       "\"sdpMLineIndex\":0,\"usernameFragment\":\"9qXe\"},\"type\":\"data\",\"connectionId\":\"" +
	       connectionId + "\",\"seq\":" + std::to_string(seq) + "}";
}


int closeCodeOf(const std::string& payload)
{
	if (payload.size() < 2)
		return CLOSE_CODE_NONE;
	return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}


std::string nextFrame(WsTestClient& client, int timeoutMs = FRAME_MS)
/// The next message as one line: "text <payload>", "close <code>[ <reason>]", NOTHING on a
/// timeout, "(eof...)" when the connection ended without a close frame.
{
	const WsTestClient::Message m = client.receiveMessage(timeoutMs);
	if (m.timedOut())
		return NOTHING;
	if (m.closed())
		return "(eof" + (m.error.empty() ? std::string() : ": " + m.error) + ")";
	if (!m.ok())
		return "(protocol error: " + m.error + ")";
	switch (m.opcode)
	{
		case WsTestClient::OPCODE_TEXT:
			return "text " + m.payload;
		case WsTestClient::OPCODE_BINARY:
			return "binary " + m.payload;
		case WsTestClient::OPCODE_CLOSE:
		{
			std::string text = "close " + std::to_string(closeCodeOf(m.payload));
			if (m.payload.size() > 2)
				text += " " + m.payload.substr(2);
			return text;
		}
		case WsTestClient::OPCODE_PING:
			return "ping " + m.payload;
		case WsTestClient::OPCODE_PONG:
			return "pong " + m.payload;
		default:
			return "opcode " + std::to_string(m.opcode);
	}
}


std::string describeClose(const WsTestClient::CloseInfo& info)
{
	std::string text;
	switch (info.code)
	{
		case WsTestClient::CloseInfo::TIMED_OUT:
			text = "no close within the timeout";
			break;
		case WsTestClient::CloseInfo::NO_CLOSE_FRAME:
			text = "TCP closed without a close frame";
			break;
		case WsTestClient::CloseInfo::MALFORMED:
			text = "malformed close frame";
			break;
		default:
			text = "close " + std::to_string(info.code) + (info.reason.empty() ? "" : " " + info.reason);
	}
	for (const WsTestClient::Frame& frame : info.skippedFrames)
		text += " [after a frame: " + frame.payload + "]";
	return text;
}


// --- Peers -----------------------------------------------------------------------------------

void openPeer(WsTestClient& client, int port, const std::string& id, const std::string& token, const std::string& what)
/// Connects and asserts the 101 and OPEN as the first frame.
{
	const HttpResponse response = client.connect(LOOPBACK, port, wsPath(id, token));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": upgrade status", 101, response.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": first frame", OPEN, nextFrame(client));
}


std::string tryPeer(WsTestClient& client, int port, const std::string& id, const std::string& token)
/// Connects and returns the first frame; after ID-TAKEN also how the socket was closed, as
/// ID_TAKEN + " then " + describeClose(). The client stays open after OPEN.
{
	const HttpResponse response = client.connect(LOOPBACK, port, wsPath(id, token));
	if (response.status != 101)
		return "HTTP " + std::to_string(response.status) + " " + response.body;
	const std::string first = nextFrame(client);
	if (first != ID_TAKEN)
		return first;
	return first + " then " + describeClose(client.expectClose(FRAME_MS));
}


const std::string ID_TAKEN_THEN_CLOSED = ID_TAKEN + " then close " + std::to_string(CLOSE_CODE_NONE);
/// What tryPeer() gives for a taken id: ID-TAKEN, then a close without status code, as a single
/// server sends it (peerjs.md §5.2).


void expectIdTaken(int port, const std::string& id, const std::string& token, const std::string& what)
{
	WsTestClient probe;
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what, ID_TAKEN_THEN_CLOSED, tryPeer(probe, port, id, token));
}


void expectRelay(WsTestClient& from, const std::string& fromId, WsTestClient& to, const std::string& toId,
                 const std::string& type, const std::string& payload, const std::string& what)
/// from sends one frame to toId; to must receive exactly its relayed form next.
{
	from.sendText(inbound(type, toId, payload));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what, relayed(type, fromId, toId, payload), nextFrame(to));
}


void expectQuiet(WsTestClient& client, const std::string& what, int ms = QUIET_MS)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what, NOTHING, nextFrame(client, ms));
}


// --- Nodes -----------------------------------------------------------------------------------

void configureNode(TestServer& server, const RedisTestServer& redis, const std::string& nodeId,
                   const std::string& keyPrefix, int nodeTtlSeconds = NODE_TTL_S,
                   const TestServer::Keys& peerjsKeys = {})
/// [cluster] on redis, and PeerJS at the root: ws://127.0.0.1:<main>/peerjs.
{
	addClusterSection(server, redis.port(), nodeId, keyPrefix, nodeTtlSeconds);
	TestServer::Keys keys = {{"path", "/"}, {"key", "peerjs"}};
	for (const auto& entry : peerjsKeys)
		keys[entry.first] = entry.second;
	server.addPlugin("peerjs", "main", "", keys);
	server.set("host", "shutdown_deadline_ms", "1000");
}


std::string sortedText(std::vector<std::string> items)
{
	std::sort(items.begin(), items.end());
	std::string text;
	for (const std::string& item : items)
		text += (text.empty() ? "" : " ") + item;
	return text.empty() ? "(none)" : text;
}


bool skipWithoutRedis(const std::string& test)
{
	return Cluster::skipWithoutRedis("PeerJsClusterTest", test);
}


} // namespace


class PeerJsClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsClusterTest);
	CPPUNIT_TEST(testRedisTestServerSelfCheck);
	CPPUNIT_TEST(testRelayAcrossNodes);
	CPPUNIT_TEST(testIdRaceExactlyOneWins);
	CPPUNIT_TEST(testSameTokenReattachOnOtherNode);
	CPPUNIT_TEST(testMessagesToPeerOnLaterNodeAreDelivered);
	CPPUNIT_TEST(testKilledNodeIdsFreedWithinTtl);
	CPPUNIT_TEST(testMessagesToPeerOfDeadNodeExpire);
	CPPUNIT_TEST(testRedisRestartResumes);
	CPPUNIT_TEST(testClusterEndpointListsNodes);
	CPPUNIT_TEST(testDisabledClusterNeedsNoRedis);
	CPPUNIT_TEST(testBadClusterConfigRefused);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRedisTestServerSelfCheck()
	{
		if (skipWithoutRedis("testRedisTestServerSelfCheck"))
			return;
		RedisTestServer redis;
		redis.start();
		const int port = redis.port();
		CPPUNIT_ASSERT(redis.running());
		CPPUNIT_ASSERT_EQUAL(std::string("PONG"), redis.command({"PING"}));
		CPPUNIT_ASSERT_EQUAL(std::string("OK"), redis.command({"SET", "greeting", "hello\r\nworld"}));
		CPPUNIT_ASSERT_EQUAL(std::string("hello\r\nworld"), redis.command({"GET", "greeting"}));
		CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), redis.command({"GET", "missing"}));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), redis.command({"INCR", "counter"}));
		CPPUNIT_ASSERT_EQUAL(std::string("hello\r\nworld\n(nil)"), redis.command({"MGET", "greeting", "missing"}));
		CPPUNIT_ASSERT_EQUAL(std::string(""), redis.command({"KEYS", "nothing-matches-*"}));
		const std::string unknown = redis.command({"NO-SUCH-COMMAND"});
		CPPUNIT_ASSERT_MESSAGE(unknown, unknown.compare(0, 5, "-ERR ") == 0);
		// The arguments took effect: no snapshots, no AOF, the test's own directory.
		CPPUNIT_ASSERT_EQUAL(std::string("save\n"), redis.command({"CONFIG", "GET", "save"}));
		CPPUNIT_ASSERT_EQUAL(std::string("appendonly\nno"), redis.command({"CONFIG", "GET", "appendonly"}));
		CPPUNIT_ASSERT_EQUAL("dir\n" + redis.dir().path(), redis.command({"CONFIG", "GET", "dir"}));

		// Pub/sub helpers: nothing on a fresh server, then one subscriber of our own.
		CPPUNIT_ASSERT_EQUAL(std::string("(none)"), sortedText(redis.channels("*")));
		CPPUNIT_ASSERT_EQUAL(0LL, redis.numsub("self:check"));
		{
			TestSocket subscriber;
			subscriber.connect(LOOPBACK, port, 3000);
			subscriber.sendAll(RedisTestServer::encodeCommand({"SUBSCRIBE", "self:check", "self:other"}), 3000);
			std::string buffer;
			std::size_t position = 0;
			Deadline deadline(3000);
			int confirmations = 0;
			while (confirmations < 2 && !deadline.expired())
			{
				RedisTestServer::Reply reply;
				if (RedisTestServer::parseReply(buffer, position, reply))
				{
					CPPUNIT_ASSERT_EQUAL(std::string("subscribe"), reply.elements.at(0).text);
					++confirmations;
					continue;
				}
				subscriber.receiveSome(buffer, std::max(1, deadline.remainingMs()));
			}
			CPPUNIT_ASSERT_EQUAL(2, confirmations);
			CPPUNIT_ASSERT_EQUAL(std::string("self:check self:other"), sortedText(redis.channels("self:*")));
			CPPUNIT_ASSERT_EQUAL(std::string("self:check"), sortedText(redis.channels("self:c*")));
			CPPUNIT_ASSERT_EQUAL(1LL, redis.numsub("self:check"));
			CPPUNIT_ASSERT_EQUAL(std::string("1"), redis.command({"PUBLISH", "self:check", "ping"}));
		}
		CPPUNIT_ASSERT(waitUntil(3000, 20, [&] { return redis.numsub("self:check") == 0; }));

		// Restart on the same port; nothing survives.
		CPPUNIT_ASSERT_EQUAL(0, redis.stop());
		CPPUNIT_ASSERT(!redis.running());
		CPPUNIT_ASSERT_THROW(redis.command({"PING"}, 500), std::runtime_error);
		redis.start();
		CPPUNIT_ASSERT_EQUAL(port, redis.port());
		CPPUNIT_ASSERT_EQUAL(std::string("PONG"), redis.command({"PING"}));
		CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), redis.command({"GET", "greeting"}));
		CPPUNIT_ASSERT_EQUAL(std::string("(none)"), sortedText(redis.channels("*")));
		// A kill, then a start on the same port again.
		redis.kill();
		CPPUNIT_ASSERT(!redis.running());
		CPPUNIT_ASSERT_THROW(redis.command({"PING"}, 500), std::runtime_error);
		redis.start();
		CPPUNIT_ASSERT_EQUAL(port, redis.port());
		CPPUNIT_ASSERT_EQUAL(std::string("PONG"), redis.command({"PING"}));
		CPPUNIT_ASSERT_MESSAGE(redis.logTail(),
		                       redis.logTail().find("Ready to accept connections") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(0, redis.stop());

		// The reader waits for a whole reply: a cut one leaves the position where it was.
		const std::string whole = ":-7\r\n*3\r\n$5\r\nab\r\nc\r\n$-1\r\n*0\r\n+after\r\n";
		for (std::size_t cut = 0; cut < whole.size(); ++cut)
		{
			std::size_t position = 0;
			RedisTestServer::Reply reply;
			const bool complete = RedisTestServer::parseReply(whole.substr(0, cut), position, reply);
			const std::string where = "cut at " + std::to_string(cut);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, cut >= 5, complete);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(complete ? 5 : 0), position);
		}
		std::size_t offset = 0;
		RedisTestServer::Reply first, second, third;
		CPPUNIT_ASSERT(RedisTestServer::parseReply(whole, offset, first));
		CPPUNIT_ASSERT_EQUAL(-7LL, first.integer);
		CPPUNIT_ASSERT(RedisTestServer::parseReply(whole, offset, second));
		CPPUNIT_ASSERT_EQUAL(std::string("ab\r\nc\n(nil)\n"), second.toString());
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), second.elements.size());
		CPPUNIT_ASSERT(RedisTestServer::parseReply(whole, offset, third));
		CPPUNIT_ASSERT_EQUAL(std::string("after"), third.toString());
		CPPUNIT_ASSERT_EQUAL(whole.size(), offset);
		std::size_t start = 0;
		CPPUNIT_ASSERT_THROW(RedisTestServer::parseReply("?x\r\n", start, first), std::runtime_error);

		// With a password: command() authenticates, a bare connection is refused.
		RedisTestServer secured("s3cret pass");
		secured.start();
		CPPUNIT_ASSERT_EQUAL(std::string("PONG"), secured.command({"PING"}));
		CPPUNIT_ASSERT_EQUAL(std::string("OK"), secured.command({"SET", "k", "v"}));
		TestSocket bare;
		bare.connect(LOOPBACK, secured.port(), 3000);
		bare.sendAll(RedisTestServer::encodeCommand({"GET", "k"}), 3000);
		std::string buffer;
		std::size_t position = 0;
		RedisTestServer::Reply refused;
		Deadline deadline(3000);
		while (!RedisTestServer::parseReply(buffer, position, refused) && !deadline.expired())
			bare.receiveSome(buffer, std::max(1, deadline.remainingMs()));
		CPPUNIT_ASSERT_MESSAGE(refused.toString(), refused.toString().compare(0, 7, "-NOAUTH") == 0);
		CPPUNIT_ASSERT_EQUAL(0, secured.stop());
	}

	void testRelayAcrossNodes()
	{
		if (skipWithoutRedis("testRelayAcrossNodes"))
			return;
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t1:");
		configureNode(b, redis, "b", "t1:");
		a.start();
		b.start();

		WsTestClient x, y;
		openPeer(x, a.port("main"), "x-ray", "tx", "X on node a");
		openPeer(y, b.port("main"), "yankee", "ty", "Y on node b");

		expectRelay(x, "x-ray", y, "yankee", "OFFER", offerPayload("dc_1"), "X to Y on another node: OFFER");
		expectRelay(x, "x-ray", y, "yankee", "ANSWER", answerPayload("dc_1"), "X to Y: ANSWER");
		expectRelay(x, "x-ray", y, "yankee", "CANDIDATE", candidatePayload("dc_1", 0), "X to Y: CANDIDATE");
		expectRelay(y, "yankee", x, "x-ray", "ANSWER", answerPayload("dc_1"), "Y to X: ANSWER");
		expectRelay(y, "yankee", x, "x-ray", "CANDIDATE", candidatePayload("dc_1", 1), "Y to X: CANDIDATE");

		// Three frames back to back arrive in the order sent.
		x.sendText(inbound("OFFER", "yankee", offerPayload("dc_2")));
		x.sendText(inbound("ANSWER", "yankee", answerPayload("dc_2")));
		x.sendText(inbound("CANDIDATE", "yankee", candidatePayload("dc_2", 0)));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("burst 1/3", relayed("OFFER", "x-ray", "yankee", offerPayload("dc_2")),
		                             nextFrame(y));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("burst 2/3", relayed("ANSWER", "x-ray", "yankee", answerPayload("dc_2")),
		                             nextFrame(y));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("burst 3/3", relayed("CANDIDATE", "x-ray", "yankee", candidatePayload("dc_2", 0)),
		                             nextFrame(y));

		// 200 CANDIDATEs each way, sent interleaved before anything is read.
		constexpr int COUNT = 200;
		for (int seq = 0; seq < COUNT; ++seq)
		{
			x.sendText(inbound("CANDIDATE", "yankee", candidatePayload("dc_3x", seq)));
			y.sendText(inbound("CANDIDATE", "x-ray", candidatePayload("dc_3y", seq)));
		}
		for (int seq = 0; seq < COUNT; ++seq)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("Y, candidate " + std::to_string(seq),
			                             relayed("CANDIDATE", "x-ray", "yankee", candidatePayload("dc_3x", seq)),
			                             nextFrame(y));
		}
		for (int seq = 0; seq < COUNT; ++seq)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("X, candidate " + std::to_string(seq),
			                             relayed("CANDIDATE", "yankee", "x-ray", candidatePayload("dc_3y", seq)),
			                             nextFrame(x));
		}
		expectQuiet(x, "X after the candidates (a duplicate?)");
		expectQuiet(y, "Y after the candidates (a duplicate?)");
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testIdRaceExactlyOneWins()
	{
		if (skipWithoutRedis("testIdRaceExactlyOneWins"))
			return;
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t2:");
		configureNode(b, redis, "b", "t2:");
		a.start();
		b.start();
		const int ports[2] = {a.port("main"), b.port("main")};

		constexpr int ROUNDS = 20;
		int wins[2] = {0, 0};
		for (int round = 0; round < ROUNDS; ++round)
		{
			const std::string id = "race-" + std::to_string(round);
			const std::string tokens[2] = {"ta" + std::to_string(round), "tb" + std::to_string(round)};
			WsTestClient clients[2];
			std::string results[2];
			std::atomic<int> ready{0};
			std::atomic<bool> go{false};
			auto contend = [&](int side) {
				try
				{
					++ready;
					Deadline wait(5000);
					while (!go.load() && !wait.expired())
						std::this_thread::yield();
					results[side] = tryPeer(clients[side], ports[side], id, tokens[side]);
				}
				catch (const std::exception& e)
				{
					results[side] = std::string("exception: ") + e.what();
				}
			};
			// Alternate which thread is created first, so neither node is always ahead.
			std::thread first(contend, round % 2);
			std::thread second(contend, 1 - round % 2);
			waitUntil(5000, 1, [&] { return ready.load() == 2; });
			go = true;
			first.join();
			second.join();

			const std::string where = "round " + std::to_string(round) + ", id " + id + ": node a got \"" + results[0] +
			                          "\", node b got \"" + results[1] + "\"";
			const int opened = (results[0] == OPEN ? 1 : 0) + (results[1] == OPEN ? 1 : 0);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("exactly one OPEN; " + where, 1, opened);
			const int winner = results[0] == OPEN ? 0 : 1;
			const int loser = 1 - winner;
			CPPUNIT_ASSERT_EQUAL_MESSAGE("the other ID-TAKEN and a close; " + where, ID_TAKEN_THEN_CLOSED,
			                             results[loser]);
			++wins[winner];
			// No node is left believing in the loser: the id stays taken for a third token on both.
			expectIdTaken(ports[loser], id, "tc", "third token on the losing node; " + where);
			expectIdTaken(ports[winner], id, "tc", "third token on the winning node; " + where);
			clients[winner].sendClose(1000);
			clients[winner].expectClose(FRAME_MS);
		}
		std::cout << "\nPeerJsClusterTest::testIdRaceExactlyOneWins: node a won " << wins[0] << ", node b won "
		          << wins[1] << " of " << ROUNDS << std::endl;
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testSameTokenReattachOnOtherNode()
	{
		if (skipWithoutRedis("testSameTokenReattachOnOtherNode"))
			return;
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t3:");
		configureNode(b, redis, "b", "t3:");
		a.start();
		b.start();

		WsTestClient onA, onB, zed;
		openPeer(onA, a.port("main"), "roamer", "tr", "roamer on node a");
		openPeer(zed, a.port("main"), "zed", "tz", "zed on node a");
		openPeer(onB, b.port("main"), "roamer", "tr", "roamer again, same token, on node b (a reattach)");

		// As a local reattach (peerjs.md §5.3): the superseded socket is closed with 4000 "superseded".
		const WsTestClient::CloseInfo superseded = onA.expectClose(FRAME_MS);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the superseded socket on node a: " + describeClose(superseded),
		                             CLOSE_CODE_SUPERSEDED, superseded.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close reason", std::string("superseded"), superseded.reason);
		CPPUNIT_ASSERT_MESSAGE("frames before the 4000 close: " + describeClose(superseded),
		                       superseded.skippedFrames.empty());

		expectRelay(zed, "zed", onB, "roamer", "OFFER", offerPayload("dc_z"), "zed on node a to roamer, now on node b");
		expectRelay(onB, "roamer", zed, "zed", "ANSWER", answerPayload("dc_z"), "roamer on node b answers zed on a");
		expectQuiet(onB, "roamer on node b after the exchange");
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testMessagesToPeerOnLaterNodeAreDelivered()
	{
		if (skipWithoutRedis("testMessagesToPeerOnLaterNodeAreDelivered"))
			return;
		constexpr int EXPIRE_MS = 3000;
		const TestServer::Keys peerjs = {{"expire_timeout", std::to_string(EXPIRE_MS)}};
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t4:", NODE_TTL_S, peerjs);
		configureNode(b, redis, "b", "t4:", NODE_TTL_S, peerjs);
		a.start();
		b.start();

		WsTestClient x, late;
		openPeer(x, a.port("main"), "early", "te", "early on node a");
		const std::int64_t queuedAt = Deadline::nowMicros();
		x.sendText(inbound("OFFER", "late", offerPayload("dc_l")));
		x.sendText(inbound("CANDIDATE", "late", candidatePayload("dc_l", 0)));
		sleepMs(500);
		openPeer(late, b.port("main"), "late", "tl", "late on node b, 0.5 s after the OFFER was queued on node a");
		CPPUNIT_ASSERT_MESSAGE("late connected within 2 s", elapsedMs(queuedAt) < 2000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("late's frame after OPEN", relayed("OFFER", "early", "late", offerPayload("dc_l")),
		                             nextFrame(late));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(
		    "late's next frame", relayed("CANDIDATE", "early", "late", candidatePayload("dc_l", 0)), nextFrame(late));
		expectQuiet(late, "late after the queued messages (a duplicate?)");
		// Delivered messages earn no EXPIRE (peerjs.md §9.2), even from the node that queued them.
		const int watchMs = EXPIRE_MS + 1250 - static_cast<int>(elapsedMs(queuedAt));
		expectQuiet(x, "early must get no EXPIRE for delivered messages", std::max(watchMs, QUIET_MS));
		// And the two now talk directly.
		expectRelay(late, "late", x, "early", "ANSWER", answerPayload("dc_l"), "late answers early");
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testKilledNodeIdsFreedWithinTtl()
	{
		if (skipWithoutRedis("testKilledNodeIdsFreedWithinTtl"))
			return;
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t5:", NODE_TTL_S);
		configureNode(b, redis, "b", "t5:", NODE_TTL_S);
		a.start();
		b.start();

		WsTestClient p, q, victim;
		openPeer(p, a.port("main"), "p", "tp", "p on node a");
		openPeer(q, a.port("main"), "q", "tq", "q on node a");
		openPeer(victim, b.port("main"), "victim", "tv", "victim on node b");
		ClusterView before;
		const bool listed = waitUntil(5000, 50, [&] {
			before = fetchCluster(a);
			return before.lists("b");
		});
		CPPUNIT_ASSERT_MESSAGE("node a lists node b before the kill: " + before.describe(), listed);

		const int killed = b.stop(SIGKILL);
		const std::int64_t killedAt = Deadline::nowMicros();
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node b killed", 128 + SIGKILL, killed);
		expectIdTaken(a.port("main"), "victim", "tz", "victim's id right after node b was killed");

		// Poll until the id is free on node a; node a's own relays work all along.
		const int boundMs = (NODE_TTL_S + 3) * 1000;
		Deadline deadline(boundMs);
		WsTestClient successor;
		std::string lastProbe;
		std::int64_t freedMs = -1;
		std::int64_t unlistedMs = -1;
		ClusterView view;
		for (int round = 0; freedMs < 0 || unlistedMs < 0; ++round)
		{
			expectRelay(p, "p", q, "q", "CANDIDATE", candidatePayload("dc_pq", round),
			            "relay on node a while node b is dead, round " + std::to_string(round));
			if (unlistedMs < 0)
			{
				view = fetchCluster(a);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(view.describe(), std::string(), view.error);
				if (!view.lists("b"))
					unlistedMs = elapsedMs(killedAt);
			}
			if (freedMs < 0)
			{
				WsTestClient probe;
				lastProbe = tryPeer(probe, a.port("main"), "victim", "tz");
				if (lastProbe == OPEN)
				{
					freedMs = elapsedMs(killedAt);
					successor = std::move(probe);
				}
				else
					CPPUNIT_ASSERT_EQUAL_MESSAGE("a probe for victim's id on node a", ID_TAKEN_THEN_CLOSED, lastProbe);
			}
			if (deadline.expired())
				break;
			sleepMs(std::min(250, deadline.remainingMs()));
		}
		std::cout << "\nPeerJsClusterTest::testKilledNodeIdsFreedWithinTtl: id free after " << freedMs
		          << " ms, node b unlisted after " << unlistedMs << " ms (node_ttl_s " << NODE_TTL_S << ")"
		          << std::endl;
		CPPUNIT_ASSERT_MESSAGE("victim's id free on node a within " + std::to_string(boundMs) +
		                           " ms of the kill; last probe: " + lastProbe,
		                       freedMs >= 0 && freedMs <= boundMs);
		CPPUNIT_ASSERT_MESSAGE("node a stops listing node b within " + std::to_string(boundMs) +
		                           " ms of the kill; last: " + view.describe(),
		                       unlistedMs >= 0 && unlistedMs <= boundMs);
		ClusterView after = fetchCluster(a);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(after.describe(), std::string("a"), after.ids());
		// The new holder of the id is reachable, and p and q were never disturbed.
		expectRelay(p, "p", successor, "victim", "OFFER", offerPayload("dc_pv"), "p to the new victim on node a");
		expectRelay(q, "q", p, "p", "ANSWER", answerPayload("dc_pq"), "q to p at the end");
		expectQuiet(p, "p at the end");
		expectQuiet(q, "q at the end");
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
	}

	void testMessagesToPeerOfDeadNodeExpire()
	{
		// A sender that has been relaying to a peer on another node keeps that peer's owner cached;
		// once that node is gone (its key expired), the next message must not vanish into its dead
		// inbox: it is queued like one for an unknown peer and answered with EXPIRE. (Before node
		// departures were announced, the cached owner stayed in use and nothing came back.)
		if (skipWithoutRedis("testMessagesToPeerOfDeadNodeExpire"))
			return;
		constexpr int EXPIRE_MS = 2000;
		const TestServer::Keys peerjs = {{"expire_timeout", std::to_string(EXPIRE_MS)}};
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", "t10:", NODE_TTL_S, peerjs);
		configureNode(b, redis, "b", "t10:", NODE_TTL_S, peerjs);
		a.start();
		b.start();

		WsTestClient sender, victim;
		openPeer(sender, a.port("main"), "sender", "ts", "sender on node a");
		openPeer(victim, b.port("main"), "victim", "tv", "victim on node b");
		for (int i = 0; i < 5; ++i)
			expectRelay(sender, "sender", victim, "victim", "CANDIDATE", candidatePayload("dc_sv", i),
			            "sender to victim before the kill, " + std::to_string(i));
		// Node a must have seen node b alive, or "no longer listed" below would prove nothing.
		CPPUNIT_ASSERT_MESSAGE("node a lists node b before the kill",
		                       waitUntil(5000, 50, [&] { return fetchCluster(a).lists("b"); }));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node b killed", 128 + SIGKILL, b.stop(SIGKILL));
		const bool gone = waitUntil((NODE_TTL_S + 3) * 1000, 100, [&] { return !fetchCluster(a).lists("b"); });
		CPPUNIT_ASSERT_MESSAGE("node a stops listing node b", gone);
		sleepMs(300); // node a notices the departure on its next refresh of the node list

		sender.sendText(inbound("OFFER", "victim", offerPayload("dc_sv")));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the sender's answer for a message to the dead node's peer",
		                             std::string("text {\"type\":\"EXPIRE\",\"src\":\"victim\",\"dst\":\"sender\"}"),
		                             nextFrame(sender, EXPIRE_MS + 2000));
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
	}

	void testRedisRestartResumes()
	{
		if (skipWithoutRedis("testRedisRestartResumes"))
			return;
		const std::string prefix = "t6:";
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		configureNode(a, redis, "a", prefix);
		configureNode(b, redis, "b", prefix);
		a.start();
		b.start();

		WsTestClient x, y;
		openPeer(x, a.port("main"), "xid", "tx", "X on node a");
		openPeer(y, b.port("main"), "yid", "ty", "Y on node b");
		expectRelay(x, "xid", y, "yid", "OFFER", offerPayload("dc_1"), "X to Y before the redis restart");
		expectRelay(y, "yid", x, "xid", "ANSWER", answerPayload("dc_1"), "Y to X before the redis restart");

		CPPUNIT_ASSERT_EQUAL_MESSAGE("redis stopped cleanly", 0, redis.stop());
		sleepMs(1000);
		redis.start();
		const std::int64_t restartedAt = Deadline::nowMicros();
		Deadline deadline(10000);

		// Probes every 200 ms until one arrives. Earlier probes may arrive late, each at most once, or
		// come back to their sender as one EXPIRE (lost in the outage, peerjs.md §9.2): both are
		// tolerated here and counted; anything else fails.
		int expires = 0;
		auto accept = [&](const std::string& frame, const std::string& otherId, const std::string& readerId,
		                  const std::set<std::string>& sent, std::set<std::string>& received) -> std::string {
			if (frame == "text {\"type\":\"EXPIRE\",\"src\":\"" + otherId + "\",\"dst\":\"" + readerId + "\"}")
			{
				++expires;
				return "";
			}
			if (sent.count(frame) == 0)
				return "unexpected frame at " + readerId + ": " + frame;
			if (!received.insert(frame).second)
				return "probe delivered twice to " + readerId + ": " + frame;
			return "";
		};
		auto resume = [&](WsTestClient& from, const std::string& fromId, WsTestClient& to, const std::string& toId,
		                  std::set<std::string>& sent, std::set<std::string>& received) -> std::string {
			for (int n = 0; !deadline.expired(); ++n)
			{
				const std::string payload = "{\"probe\":" + std::to_string(n) + "}";
				from.sendText(inbound("OFFER", toId, payload));
				sent.insert(relayed("OFFER", fromId, toId, payload));
				Deadline step(200);
				for (;;)
				{
					const std::string frame = nextFrame(to, std::max(1, step.remainingMs()));
					if (frame == NOTHING)
						break;
					const std::string problem = accept(frame, fromId, toId, sent, received);
					if (!problem.empty())
						return problem;
				}
				if (!received.empty())
					return "";
			}
			return "no probe from " + fromId + " reached " + toId + " within 10 s of the restart (" +
			       std::to_string(sent.size()) + " sent)";
		};
		std::set<std::string> sentXY, receivedXY, sentYX, receivedYX;
		const std::string xToY = resume(x, "xid", y, "yid", sentXY, receivedXY);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("X to Y after the restart", std::string(), xToY);
		const std::int64_t xToYMs = elapsedMs(restartedAt);
		const std::string yToX = resume(y, "yid", x, "xid", sentYX, receivedYX);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Y to X after the restart", std::string(), yToX);
		const std::int64_t yToXMs = elapsedMs(restartedAt);

		// Late probes drain (y also holds X's probes, x Y's); then the relay is exact again.
		auto drain = [&](WsTestClient& reader, const std::string& readerId, const std::string& otherId,
		                 const std::set<std::string>& sent, std::set<std::string>& received) {
			for (std::string frame = nextFrame(reader, 500); frame != NOTHING; frame = nextFrame(reader, 500))
			{
				const std::string problem = accept(frame, otherId, readerId, sent, received);
				CPPUNIT_ASSERT_EQUAL_MESSAGE("draining " + readerId, std::string(), problem);
			}
		};
		drain(y, "yid", "xid", sentXY, receivedXY);
		drain(x, "xid", "yid", sentYX, receivedYX);
		auto exactly = [&](WsTestClient& from, const std::string& fromId, WsTestClient& to, const std::string& toId,
		                   const std::string& payload, const std::string& what) {
			from.sendText(inbound("CANDIDATE", toId, payload));
			const std::string lateExpire =
			    "text {\"type\":\"EXPIRE\",\"src\":\"" + fromId + "\",\"dst\":\"" + toId + "\"}";
			std::string frame = nextFrame(to);
			for (; frame == lateExpire; frame = nextFrame(to))
				++expires;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, relayed("CANDIDATE", fromId, toId, payload), frame);
		};
		exactly(x, "xid", y, "yid", candidatePayload("dc_1", 1), "X to Y once resumed");
		exactly(y, "yid", x, "xid", candidatePayload("dc_1", 2), "Y to X once resumed");
		std::cout << "\nPeerJsClusterTest::testRedisRestartResumes: X to Y after " << xToYMs << " ms, Y to X after "
		          << yToXMs << " ms; probes delivered " << receivedXY.size() + receivedYX.size() << " of "
		          << sentXY.size() + sentYX.size() << ", EXPIREs " << expires << std::endl;

		// The names are claimed again in the new redis.
		expectIdTaken(b.port("main"), "xid", "other", "X's id, other token, on node b after the restart");
		expectIdTaken(a.port("main"), "yid", "other", "Y's id, other token, on node a after the restart");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("key of X's name", std::string("1"),
		                             redis.command({"EXISTS", prefix + "name:peerjs:xid"}));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("key of Y's name", std::string("1"),
		                             redis.command({"EXISTS", prefix + "name:peerjs:yid"}));

		// Exactly one subscription per node and channel: nothing doubled by the reconnect.
		const ClusterView viewA = fetchCluster(a), viewB = fetchCluster(b);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(viewA.describe(), std::string(), viewA.error);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(viewB.describe(), std::string(), viewB.error);
		CPPUNIT_ASSERT_MESSAGE(viewA.describe(), viewA.redisConnected);
		CPPUNIT_ASSERT_MESSAGE(viewB.describe(), viewB.redisConnected);
		const std::string inboxA = prefix + "inbox:" + std::to_string(viewA.nodeNumber);
		const std::string inboxB = prefix + "inbox:" + std::to_string(viewB.nodeNumber);
		const std::string names = prefix + "names:peerjs";
		const std::string bus = prefix + "bus:peerjs";
		const std::string expected = sortedText({inboxA, inboxB, names, bus}) + "; subscribers 1 1 2 2";
		std::string observed;
		waitUntil(3000, 100, [&] {
			observed = sortedText(redis.channels(prefix + "*")) + "; subscribers " +
			           std::to_string(redis.numsub(inboxA)) + " " + std::to_string(redis.numsub(inboxB)) + " " +
			           std::to_string(redis.numsub(names)) + " " + std::to_string(redis.numsub(bus));
			return observed == expected;
		});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("PUBSUB CHANNELS " + prefix + "* and NUMSUB of inbox a, inbox b, names, bus",
		                             expected, observed);
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testClusterEndpointListsNodes()
	{
		if (skipWithoutRedis("testClusterEndpointListsNodes"))
			return;
		const std::string prefix = "t7:";
		RedisTestServer redis;
		redis.start();
		TestServer a, b, c;
		configureNode(a, redis, "a", prefix);
		configureNode(b, redis, "b", prefix);
		configureNode(c, redis, "c", prefix);
		a.start();
		b.start();
		c.start();
		TestServer* servers[3] = {&a, &b, &c};
		const std::string ids[3] = {"a", "b", "c"};

		std::vector<ClusterView> views(3);
		for (int i = 0; i < 3; ++i)
		{
			ClusterView& view = views[static_cast<std::size_t>(i)];
			waitUntil(5000, 50, [&] {
				view = fetchCluster(*servers[i]);
				return view.ids() == "a,b,c";
			});
			const std::string where = "node " + ids[i] + ": " + view.describe();
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, 200, view.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string(), view.error);
			CPPUNIT_ASSERT_MESSAGE(where, view.enabled);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, ids[i], view.nodeId);
			CPPUNIT_ASSERT_MESSAGE(where, view.redisConnected);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("a,b,c"), view.ids());
			std::set<long long> numbers;
			for (const ClusterNodeEntry& node : view.nodes)
				numbers.insert(node.number);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("distinct numbers; " + where, std::size_t(3), numbers.size());
			CPPUNIT_ASSERT_EQUAL_MESSAGE("its own number in the list; " + where, view.nodeNumber,
			                             view.find(ids[i])->number);
		}
		// All three agree on the numbers, and each liveness key holds its node.
		for (int i = 0; i < 3; ++i)
		{
			const long long number = views[static_cast<std::size_t>(i)].nodeNumber;
			for (const ClusterView& view : views)
				CPPUNIT_ASSERT_EQUAL_MESSAGE("number of " + ids[i] + " in " + view.describe(), number,
				                             view.find(ids[i])->number);
			const std::string key = prefix + "node:" + std::to_string(number);
			const std::string value = redis.command({"GET", key});
			try
			{
				Poco::JSON::Parser parser;
				const Poco::JSON::Object::Ptr object = parser.parse(value).extract<Poco::JSON::Object::Ptr>();
				CPPUNIT_ASSERT_EQUAL_MESSAGE(key + " = " + value, ids[i], object->getValue<std::string>("id"));
				CPPUNIT_ASSERT_EQUAL_MESSAGE(key + " = " + value, number, integerMember(object, "number"));
				CPPUNIT_ASSERT_MESSAGE(key + " = " + value, object->has("connections"));
			}
			catch (const Poco::Exception& e)
			{
				CPPUNIT_FAIL(key + " = " + value + ": " + e.displayText());
			}
			const std::string ttl = redis.command({"PTTL", key});
			CPPUNIT_ASSERT_MESSAGE("PTTL " + key + " = " + ttl + " (node_ttl_s " + std::to_string(NODE_TTL_S) + ")",
			                       std::stoll(ttl) > 0 && std::stoll(ttl) <= NODE_TTL_S * 1000);
		}

		const long long numberC = views[2].nodeNumber;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node c stops on SIGTERM", 0, c.stop());
		const std::int64_t stoppedAt = Deadline::nowMicros();
		ClusterView viewA, viewB;
		const bool gone = waitUntil(1000, 20, [&] {
			viewA = fetchCluster(a);
			viewB = fetchCluster(b);
			return viewA.ids() == "a,b" && viewB.ids() == "a,b";
		});
		std::cout << "\nPeerJsClusterTest::testClusterEndpointListsNodes: node c unlisted after "
		          << elapsedMs(stoppedAt) << " ms" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("within 1 s of node c's graceful stop, a and b list a,b; node a: " + viewA.describe() +
		                           "; node b: " + viewB.describe(),
		                       gone);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node c's liveness key after its graceful stop", std::string("0"),
		                             redis.command({"EXISTS", prefix + "node:" + std::to_string(numberC)}));
		CPPUNIT_ASSERT_EQUAL(0, a.stop());
		CPPUNIT_ASSERT_EQUAL(0, b.stop());
	}

	void testDisabledClusterNeedsNoRedis()
	{
		// No redis on purpose: runs even where redis-server is not installed.
		TestServer server;
		server.addPlugin("peerjs", "main", "", {{"path", "/"}, {"key", "peerjs"}});
		server.start();
		WsTestClient x, y;
		openPeer(x, server.port("main"), "solo-x", "tx", "X without [cluster]");
		openPeer(y, server.port("main"), "solo-y", "ty", "Y without [cluster]");
		expectRelay(x, "solo-x", y, "solo-y", "OFFER", offerPayload("dc_s"), "X to Y without [cluster]");
		expectIdTaken(server.port("main"), "solo-x", "other", "a taken id without [cluster]");

		const HttpResponse response = HttpTestClient::get(LOOPBACK, server.adminPort(), "/cluster");
		const std::string where = "GET /cluster: " + std::to_string(response.status) + " " + response.body;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(where, 200, response.status);
		try
		{
			Poco::JSON::Parser parser;
			const Poco::JSON::Object::Ptr root = parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), root->size());
			CPPUNIT_ASSERT_MESSAGE(where, root->has("enabled") && root->get("enabled").isBoolean());
			CPPUNIT_ASSERT_MESSAGE(where, !root->get("enabled").convert<bool>());
		}
		catch (const Poco::Exception& e)
		{
			CPPUNIT_FAIL(where + ": " + e.displayText());
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testBadClusterConfigRefused()
	{
		// Refused while reading the configuration, before any connection: needs no redis.
		struct Case
		{
			std::string key;
			std::string value;
		};
		const std::vector<Case> cases = {
		    {"node_id", "bad id!"}, {"node_id", std::string(65, 'n')}, {"node_ttl_s", "1"}};
		for (const Case& bad : cases)
		{
			TestServer server;
			addClusterSection(server, PortPicker::pick(), "a", "t9:", 3);
			server.set("cluster", bad.key, bad.value);
			server.addPlugin("peerjs", "main", "", {{"path", "/"}, {"key", "peerjs"}});
			const TestServer::RunResult result = server.runWithConfig({});
			const std::string name = "cluster." + bad.key;
			const std::string where = name + " = \"" + bad.value + "\": " + result.describe();
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, EXIT_CONFIG, result.exitCode);
			// One error line, "<file>:<line>: cluster.<key>: ...", under the usual header.
			std::istringstream lines(result.stderrText);
			std::vector<std::string> naming;
			int errorLines = 0;
			for (std::string line; std::getline(lines, line);)
			{
				if (line.empty() || line == "switchboard: configuration error:")
					continue;
				++errorLines;
				if (line.find(name) != std::string::npos)
					naming.push_back(line);
			}
			CPPUNIT_ASSERT_EQUAL_MESSAGE("error lines; " + where, 1, errorLines);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("lines naming " + name + "; " + where, std::size_t(1), naming.size());
			CPPUNIT_ASSERT_MESSAGE(
			    where, naming[0].compare(0, server.configPath().size() + 1, server.configPath() + ":") == 0);
			CPPUNIT_ASSERT_MESSAGE(where, naming[0].find(": " + name + ": ") != std::string::npos);
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsClusterTest);
