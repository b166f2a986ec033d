//
// PeerVaultReloadIntegrationTest.cpp
//
// SIGHUP on the real binary with the PeerVault plugin (docs/protocols/peervault.md, "Reload
// (SIGHUP)"): with a subscriber connected and receiving events, a changed origin list applies
// live (the log names it, an origin refused before is accepted after) while the subscriber stays
// connected and receives every event published before, during and after the reload, in order;
// a key fixed at start is reported as waiting for a restart and changes nothing.
//


#include "Deadline.h"
#include "PeerVaultTestSupport.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;


namespace {


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


std::string lineWith(const std::string& text, const std::string& part)
/// The first line of text containing part ("" when none does).
{
	const std::size_t at = text.find(part);
	if (at == std::string::npos)
		return {};
	const std::size_t start = text.rfind('\n', at);
	const std::size_t end = text.find('\n', at);
	return text.substr(start == std::string::npos ? 0 : start + 1,
	                   end == std::string::npos ? std::string::npos
	                                            : end - (start == std::string::npos ? 0 : start + 1));
}


void reload(TestServer& server, const std::string& logLine)
/// Writes the configuration as the server's sections now say, sends SIGHUP and waits for logLine.
{
	server.reload();
	CPPUNIT_ASSERT_MESSAGE(logLine + "\n" + server.logTail(),
	                       waitUntil(WAIT_MS, 20, [&] { return contains(server.logText(), logLine); }));
}


std::string event(int n)
{
	return "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k" + std::to_string(n) +
	       "\",\"size\":1024,\"node\":\"reload-node\"}}";
}


void expectEvent(WsTestClient& client, int n)
{
	Poco::JSON::Object::Ptr frame = nextOfType(client, "file_uploaded");
	CPPUNIT_ASSERT_EQUAL(std::string("k") + std::to_string(n),
	                     stringAt(objectAt(frame, "data", "event"), "key", "event data"));
}


int upgradeStatus(TestServer& server, const std::string& origin)
{
	WsTestClient client;
	return client.connect(LOOPBACK, port(server), "/ws", {{"Origin", origin}}).status;
}


} // namespace


class PeerVaultReloadIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultReloadIntegrationTest);
	CPPUNIT_TEST(testOriginsLiveSubscriberKept);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOriginsLiveSubscriberKept()
	{
		std::unique_ptr<TestServer> server = startServer({{key("cors.origins"), "http://ok.example"}});
		WsTestClient subscriber = connect(*server, "/ws", {{"Origin", "http://ok.example"}});
		subscribe(subscriber, "file_operations");
		publishAccepted(*server, event(0), 1);
		expectEvent(subscriber, 0);
		CPPUNIT_ASSERT_EQUAL(403, upgradeStatus(*server, "http://new.example"));

		// Events keep flowing while the reload happens: every one must arrive, in order.
		int published = 1;
		server->set("plugin.peervault", key("cors.origins"), "http://ok.example, http://new.example");
		server->reload();
		const std::string live = "live: plugin.peervault.websocket.cors.origins";
		const Deadline deadline(WAIT_MS);
		while (!contains(server->logText(), live) && !deadline.expired())
			publishAccepted(*server, event(published++), 1);
		CPPUNIT_ASSERT_MESSAGE(server->logTail(), contains(server->logText(), live));
		for (int i = 0; i < 3; ++i)
			publishAccepted(*server, event(published++), 1);
		for (int n = 1; n < published; ++n)
			expectEvent(subscriber, n);
		expectNothing(subscriber, "after the reload");

		// The new list applies to the next upgrade; the connection made under the old one stays.
		CPPUNIT_ASSERT_EQUAL(101, upgradeStatus(*server, "http://new.example"));
		CPPUNIT_ASSERT_EQUAL(403, upgradeStatus(*server, "http://evil.example"));
		WsTestClient newcomer = connect(*server, "/ws", {{"Origin", "http://new.example"}});
		subscribe(newcomer, "file_operations");
		publishAccepted(*server, event(published), 2);
		expectEvent(subscriber, published);
		expectEvent(newcomer, published);
		++published;

		// A key the endpoint fixed at start: reported, nothing applied, nobody dropped.
		server->set("plugin.peervault", key("limits.send_queue_frames"), "64");
		server->set("plugin.peervault", key("cors.origins"), "http://ok.example");
		reload(*server, "plugin peervault keeps its running values until a restart: "
		                "websocket.limits.send_queue_frames cannot change while running");
		const std::string restart = "take effect only after a restart: ";
		CPPUNIT_ASSERT_MESSAGE(server->logTail(),
		                       waitUntil(WAIT_MS, 20, [&] { return contains(server->logText(), restart); }));
		const std::string line = lineWith(server->logText(), restart);
		CPPUNIT_ASSERT_MESSAGE(line, contains(line, "plugin.peervault.websocket.cors.origins"));
		CPPUNIT_ASSERT_MESSAGE(line, contains(line, "plugin.peervault.websocket.limits.send_queue_frames"));
		CPPUNIT_ASSERT_EQUAL(101, upgradeStatus(*server, "http://new.example")); // the old list stays
		publishAccepted(*server, event(published), 2);
		expectEvent(subscriber, published);
		expectEvent(newcomer, published);
		expectNothing(subscriber, "after the refused reload");
		CPPUNIT_ASSERT_EQUAL(0, server->stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultReloadIntegrationTest);
