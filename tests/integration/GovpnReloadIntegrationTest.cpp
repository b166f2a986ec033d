//
// GovpnReloadIntegrationTest.cpp
//
// SIGHUP on the real binary with the GoVPN plugin (docs/protocols/govpn.md, "Reload"): a changed
// allowed_origins applies live, the log names it as live, and a client connected before the
// reload stays connected and gets an answer to every request sent across it.
//


#include "Deadline.h"
#include "GovpnTestSupport.h"
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
using namespace Switchboard::Test::Govpn;


namespace {


const int REQUESTS = 50; // sent while the reload runs


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


int upgrade(WsTestClient& client, TestServer& server, const std::string& origin)
{
	return client.connect(LOOPBACK, server.port("govpn"), "/ws", {{"Origin", origin}}).status;
}


} // namespace


class GovpnReloadIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnReloadIntegrationTest);
	CPPUNIT_TEST(testAllowedOriginsChangeLive);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAllowedOriginsChangeLive()
	{
		TestServer server;
		startGovpn(server, {{"allowed_origins", "https://a.test"}});
		WsTestClient owner;
		CPPUNIT_ASSERT_EQUAL(101, upgrade(owner, server, "https://a.test"));
		pingReply(MODE_OBJECT, "p0", owner);
		const std::string room = createRoom(owner, "c1", publicKey(1), "Before", "1234");
		WsTestClient refused;
		CPPUNIT_ASSERT_EQUAL(403, upgrade(refused, server, "https://b.test"));

		server.set("plugin.govpn", "allowed_origins", "https://a.test, https://b.test");
		server.reload();
		// Requests in flight while the server reloads: every one is answered, in order.
		for (int i = 0; i < REQUESTS; ++i)
			owner.sendText(envelope(MODE_OBJECT, "r" + std::to_string(i), "Ping", "{\"timestamp\":42}"));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(),
			                                       "reloaded (generation 2); live: plugin.govpn.allowed_origins");
		                       }));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), !contains(server.logText(), "only after a restart"));
		for (int i = 0; i < REQUESTS; ++i)
			expectFrame(owner, MODE_OBJECT, "r" + std::to_string(i), "Ping",
			            "{\"client_timestamp\":42,\"server_timestamp\":<NUM>,\"status\":\"ok\"}");

		WsTestClient newcomer;
		CPPUNIT_ASSERT_EQUAL(101, upgrade(newcomer, server, "https://b.test"));
		pingReply(MODE_OBJECT, "n0", newcomer);
		CPPUNIT_ASSERT(createRoom(newcomer, "c2", publicKey(2), "After", "5678") != room);
		pingReply(MODE_OBJECT, "p1", owner);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnReloadIntegrationTest);
