//
// GovpnRealClientTest.cpp
//
// The real GoVPN desktop client's signaling code (a third-party reference client kept next to
// the project, with a headless harness) against the real binary: built with Debian's Go
// (installed when missing), then run against the GoVPN plugin in its default settings, over
// plain WebSocket and over TLS. Every step of the harness must pass: connect with X-Client-ID
// and the initial Ping under its 10 s deadline, CreateRoom, JoinRoom, Rename, GetUserRooms,
// LeaveRoom, and the connect-time UserRooms and ClientIPInfo pushes reaching its handler.
//
// The client is looked for in $SWITCHBOARD_CLIENTS_DIR, else in ../shared/clients beside the
// source tree. A bare clone has neither: the test then says why and skips.
//


#include "GovpnTestSupport.h"
#include "TestServer.h"
#include "TestTls.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <string>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Govpn;


class GovpnRealClientTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnRealClientTest);
	CPPUNIT_TEST(testRealClientOverWebSocket);
	CPPUNIT_TEST(testRealClientOverTls);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRealClientOverWebSocket()
	{
		std::string client = realClientBinary("GovpnRealClientTest");
		if (client.empty())
			return;
		TestServer server;
		server.addListener("govpn");
		server.addPlugin("govpn", "govpn", "");
		server.start();
		runRealClient(client, "ws://127.0.0.1:" + std::to_string(server.port("govpn")));
		// A second run after a restart: the rooms of the first are on disk, the new keys are not
		// members of them, and the per-IP buckets (3 requests, the harness uses 2) start full.
		server.restart();
		runRealClient(client, "ws://127.0.0.1:" + std::to_string(server.port("govpn")));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testRealClientOverTls()
	{
		std::string client = realClientBinary("GovpnRealClientTest");
		if (client.empty())
			return;
		TestServer server;
		TestCa ca;
		std::string caFile = server.dir().path() + "/ca.pem";
		std::string certFile = server.dir().path() + "/server.pem";
		std::string keyFile = server.dir().path() + "/server.key";
		ca.writeCertificate(caFile);
		ca.issue("switchboard test server", 3, certFile, keyFile);
		server.addListener("govpn", {{"tls_certificate", certFile}, {"tls_key", keyFile}});
		server.addPlugin("govpn", "govpn", "");
		server.start();
		// Go's TLS stack reads the trusted roots from SSL_CERT_FILE.
		::setenv("SSL_CERT_FILE", caFile.c_str(), 1);
		runRealClient(client, "wss://127.0.0.1:" + std::to_string(server.port("govpn")));
		::unsetenv("SSL_CERT_FILE");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnRealClientTest);
