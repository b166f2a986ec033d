//
// TogetherReloadIntegrationTest.cpp
//
// SIGHUP on the real binary with the Together plugin (docs/protocols/together.md, "Reload
// (SIGHUP)"): with two gateway sessions open and receiving messages, a changed ws.allowed_origins
// applies live (the log names it, an origin refused before is accepted after) while both sessions
// stay open and receive every message posted before, during and after the reload, in order; a
// key fixed at start is reported as waiting for a restart and changes nothing.
//


#include "Deadline.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
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
using namespace Switchboard::Test::Together;


namespace {


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


int upgradeStatus(TestServer& server, const User& user, const std::string& origin)
{
	WsTestClient client;
	return client.connect(LOOPBACK, port(server), "/ws?token=" + user.accessToken, {{"Origin", origin}}).status;
}


void expectMessage(Session& session, int n)
{
	Poco::JSON::Object::Ptr message = nextDispatch(session.client, "MESSAGE_CREATE");
	CPPUNIT_ASSERT_EQUAL("m" + std::to_string(n), text(message, "content"));
}


} // namespace


class TogetherReloadIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherReloadIntegrationTest);
	CPPUNIT_TEST(testOriginsLiveSessionsKept);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOriginsLiveSessionsKept()
	{
		TestServer server;
		configure(
		    server,
		    {{"password.opslimit", "1"}, {"password.memlimit", "8192"}, {"ws.allowed_origins", "http://ok.example"}});
		server.start();
		const User alice = registerUser(server, "alice");
		const User bob = registerUser(server, "bob");
		const std::string guild = createServer(server, alice);
		joinServer(server, bob, guild);
		const std::string channel = createChannel(server, alice, guild, "general", "text");
		Session a = openSession(server, alice);
		Session b = openSession(server, bob);
		expectPresence(a.client, bob.id, "online");
		postMessage(server, alice, channel, "m0");
		expectMessage(a, 0);
		expectMessage(b, 0);
		CPPUNIT_ASSERT_EQUAL(403, upgradeStatus(server, alice, "http://new.example"));

		// Messages keep flowing while the reload happens: every one must arrive, in order.
		server.set("plugin.together", "ws.allowed_origins", "http://ok.example, http://new.example");
		server.reload();
		const std::string live = "live: plugin.together.ws.allowed_origins";
		int posted = 1;
		const Deadline deadline(WAIT_MS);
		while (!contains(server.logText(), live) && !deadline.expired())
			postMessage(server, bob, channel, "m" + std::to_string(posted++));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), contains(server.logText(), live));
		for (int i = 0; i < 3; ++i)
			postMessage(server, bob, channel, "m" + std::to_string(posted++));
		for (int n = 1; n < posted; ++n)
		{
			expectMessage(a, n);
			expectMessage(b, n);
		}
		expectNothingBut(a.client);
		expectNothingBut(b.client);

		// The new list applies to the next upgrade; the sessions opened before stay.
		CPPUNIT_ASSERT_EQUAL(101, upgradeStatus(server, alice, "http://new.example"));
		CPPUNIT_ASSERT_EQUAL(403, upgradeStatus(server, alice, "http://evil.example"));

		// A key the endpoint fixed at start: reported, nothing applied, nobody dropped.
		server.set("plugin.together", "ws.max_frame_bytes", "4096");
		server.set("plugin.together", "ws.allowed_origins", "http://ok.example");
		server.reload();
		const std::string refused = "plugin together keeps its running values until a restart: ws.max_frame_bytes "
		                            "cannot change while running";
		CPPUNIT_ASSERT_MESSAGE(server.logTail(),
		                       waitUntil(WAIT_MS, 20, [&] { return contains(server.logText(), refused); }));
		CPPUNIT_ASSERT_MESSAGE(server.logTail(), waitUntil(WAIT_MS, 20, [&] {
			                       return contains(server.logText(), "take effect only after a restart: ");
		                       }));
		CPPUNIT_ASSERT_EQUAL(101, upgradeStatus(server, alice, "http://new.example")); // the old list stays
		postMessage(server, alice, channel, "m" + std::to_string(posted));
		expectMessage(a, posted);
		expectMessage(b, posted);
		expectNothingBut(a.client);
		expectNothingBut(b.client);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherReloadIntegrationTest);
