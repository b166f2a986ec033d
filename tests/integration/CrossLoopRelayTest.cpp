//
// CrossLoopRelayTest.cpp
//
// Relays between connections on different event loops, under load: the real server with two
// loops and the PeerJS plugin, many pairs sending in both directions at once from two threads.
// Tasks a loop posts to another are handed over in batches (EventLoop::flushOutbox); this
// checks that nothing is lost, duplicated or reordered on the way.
//


#include "TestServer.h"
#include "WsTestClient.h"
#include <atomic>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>
#include <thread>
#include <vector>


using namespace Switchboard::Test;


namespace {

const char* LOOPBACK = "127.0.0.1";
constexpr int PAIRS = 16;
constexpr int MESSAGES_PER_DIRECTION = 1500;

std::string peerId(int pair, char side)
{
	return "peer-" + std::to_string(pair) + side;
}

std::string payloadFor(int pair, char side, int seq)
/// About 300 bytes, like a real CANDIDATE; the sequence number is checked on arrival.
{
	return "{\"candidate\":{\"candidate\":\"candidate:1042475518 1 udp 2113937151 10.213.0.1 44758 typ host "
	       "generation 0 ufrag LHOA network-cost 999\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,"
	       "\"usernameFragment\":\"LHOA\"},\"type\":\"data\",\"connectionId\":\"dc_" +
	       std::to_string(pair) + side + "\",\"seq\":" + std::to_string(seq) + "}";
}

std::string inbound(const std::string& dst, const std::string& payload)
{
	return "{\"type\":\"CANDIDATE\",\"payload\":" + payload + ",\"dst\":\"" + dst + "\"}";
}

std::string relayed(const std::string& src, const std::string& dst, const std::string& payload)
{
	return "{\"type\":\"CANDIDATE\",\"src\":\"" + src + "\",\"dst\":\"" + dst + "\",\"payload\":" + payload + "}";
}

} // namespace


class CrossLoopRelayTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(CrossLoopRelayTest);
	CPPUNIT_TEST(testBurstsBetweenLoopsArriveWholeAndInOrder);
	CPPUNIT_TEST_SUITE_END();

public:
	void testBurstsBetweenLoopsArriveWholeAndInOrder()
	{
		TestServer server;
		server.set("host", "event_loops", "2");
		server.addPlugin("peerjs", "main", "", {{"path", "/"}, {"key", "peerjs"}});
		server.start();

		// Connections go to the least loaded loop, so A and B of a pair land on different loops.
		std::vector<WsTestClient> a(PAIRS), b(PAIRS);
		for (int i = 0; i < PAIRS; ++i)
		{
			for (char side : {'a', 'b'})
			{
				WsTestClient& client = side == 'a' ? a[i] : b[i];
				const std::string id = peerId(i, side);
				HttpResponse r =
				    client.connect(LOOPBACK, server.port("main"), "/peerjs?key=peerjs&id=" + id + "&token=t" + id);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(id, 101, r.status);
				WsTestClient::Message open = client.receiveMessage(5000);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(id, std::string("{\"type\":\"OPEN\"}"), open.payload);
			}
		}

		// Two sender threads, each owning half of the clients' sending side (a socket is only
		// written by one thread); receiving waits until all is sent, so the server buffers
		// about 0.5 MB per receiver, well under the default send buffer limit.
		std::atomic<int> sendFailures{0};
		auto sendHalf = [&](int first) {
			try
			{
				for (int seq = 0; seq < MESSAGES_PER_DIRECTION; ++seq)
				{
					for (int i = first; i < PAIRS; i += 2)
					{
						a[i].sendText(inbound(peerId(i, 'b'), payloadFor(i, 'a', seq)));
						b[i].sendText(inbound(peerId(i, 'a'), payloadFor(i, 'b', seq)));
					}
				}
			}
			catch (...)
			{
				++sendFailures;
			}
		};
		std::thread even(sendHalf, 0), odd(sendHalf, 1);
		even.join();
		odd.join();
		CPPUNIT_ASSERT_EQUAL(0, sendFailures.load());

		for (int i = 0; i < PAIRS; ++i)
		{
			for (char side : {'a', 'b'})
			{
				WsTestClient& receiver = side == 'a' ? a[i] : b[i];
				const char from = side == 'a' ? 'b' : 'a';
				for (int seq = 0; seq < MESSAGES_PER_DIRECTION; ++seq)
				{
					WsTestClient::Message m = receiver.receiveMessage(10000);
					const std::string where = peerId(i, side) + " message " + std::to_string(seq);
					CPPUNIT_ASSERT_MESSAGE(where + ": " + m.error, m.ok());
					CPPUNIT_ASSERT_EQUAL_MESSAGE(
					    where, relayed(peerId(i, from), peerId(i, side), payloadFor(i, from, seq)), m.payload);
				}
			}
		}
		for (int i = 0; i < PAIRS; ++i)
		{
			// Nothing extra (a duplicate) behind the expected messages.
			CPPUNIT_ASSERT_MESSAGE(peerId(i, 'a'), a[i].receiveMessage(100).timedOut());
			CPPUNIT_ASSERT_MESSAGE(peerId(i, 'b'), b[i].receiveMessage(100).timedOut());
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(CrossLoopRelayTest);
