//
// PeerJsReloadIntegrationTest.cpp
//
// SIGHUP on the real binary with the PeerJS plugin (docs/protocols/peerjs.md, "Reload"): a changed
// ws_origin_allowlist applies live, the log names it as live, and peers connected before the
// reload stay registered and lose no message relayed across it.
//


#include "Deadline.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>
#include <thread>


using namespace Switchboard::Test;


namespace {


const char* LOOPBACK = "127.0.0.1";
const int WAIT_MS = 5000;
const int MESSAGES = 50; // relayed while the reload runs
const std::string OPEN = R"({"type":"OPEN"})";
const std::string BAD_ORIGIN = R"({"type":"ERROR","payload":{"msg":"Origin not allowed"}})";


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


std::string receive(WsTestClient& client)
{
	const WsTestClient::Message m = client.receiveMessage(WAIT_MS);
	CPPUNIT_ASSERT_MESSAGE(m.error, m.ok());
	return m.payload;
}


void connectPeer(WsTestClient& client, TestServer& server, const std::string& id, const std::string& origin)
{
	const HttpResponse r =
	    client.connect(LOOPBACK, server.port("main"),
	                   "/peerjs?key=peerjs&id=" + id + "&token=t" + id + "&version=1.5.5", {{"Origin", origin}});
	CPPUNIT_ASSERT_EQUAL(101, r.status);
}


std::string offer(const std::string& dst, int n)
{
	return R"({"type":"OFFER","payload":)" + std::to_string(n) + R"(,"dst":")" + dst + "\"}";
}


std::string relayed(const std::string& src, const std::string& dst, int n)
{
	return R"({"type":"OFFER","src":")" + src + R"(","dst":")" + dst + R"(","payload":)" + std::to_string(n) + "}";
}


} // namespace


class PeerJsReloadIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsReloadIntegrationTest);
	CPPUNIT_TEST(testOriginAllowlistChangesLive);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOriginAllowlistChangesLive()
	{
		TestServer server;
		server.addPlugin("peerjs", "main", "", {{"ws_origin_allowlist", "http://ok.test"}});
		server.start();
		WsTestClient a, b;
		connectPeer(a, server, "A", "http://ok.test");
		CPPUNIT_ASSERT_EQUAL(OPEN, receive(a));
		connectPeer(b, server, "B", "http://ok.test");
		CPPUNIT_ASSERT_EQUAL(OPEN, receive(b));
		WsTestClient refused;
		connectPeer(refused, server, "E", "http://new.test");
		CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN, receive(refused));

		server.set("plugin.peerjs", "ws_origin_allowlist", "http://ok.test, http://new.test");
		server.reload();
		// Relayed while the server reloads: every one arrives, in order.
		for (int i = 0; i < MESSAGES; ++i)
			a.sendText(offer("B", i));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(),
			                                       "reloaded (generation 2); live: plugin.peerjs.ws_origin_allowlist");
		                       }));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), !contains(server.logText(), "only after a restart"));
		for (int i = 0; i < MESSAGES; ++i)
			CPPUNIT_ASSERT_EQUAL(relayed("A", "B", i), receive(b));

		WsTestClient e;
		connectPeer(e, server, "E", "http://new.test");
		CPPUNIT_ASSERT_EQUAL(OPEN, receive(e));
		a.sendText(offer("E", 1));
		CPPUNIT_ASSERT_EQUAL(relayed("A", "E", 1), receive(e));
		e.sendText(offer("A", 2));
		CPPUNIT_ASSERT_EQUAL(relayed("E", "A", 2), receive(a));
		b.sendText(offer("A", 3));
		CPPUNIT_ASSERT_EQUAL(relayed("B", "A", 3), receive(a));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsReloadIntegrationTest);
