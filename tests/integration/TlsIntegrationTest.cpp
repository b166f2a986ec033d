//
// TlsIntegrationTest.cpp
//
// Built-in TLS on a listener, against the real binary with a CA made by the test: https and
// wss (echo, keep-alive, messages spanning many records), ALPN http/1.1, refusal at start of a
// missing or mismatched key (exit 78), SIGHUP re-reading the certificate while open connections
// keep theirs, and clients that speak no TLS or stall their handshake.
//


#include "HttpTestClient.h"
#include "TestServer.h"
#include "TestSocket.h"
#include "TestTls.h"
#include "WsTestClient.h"
#include <openssl/ssl.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>


using namespace Switchboard::Test;


namespace {

const int EXIT_CONFIG = 78;

bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}

std::string readFile(const std::string& path)
{
	std::ifstream in(path);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

bool waitForLog(TestServer& server, const std::string& text, std::size_t occurrences, int timeoutMs = 5000)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
	for (;;)
	{
		std::string log = readFile(server.logPath());
		std::size_t count = 0;
		for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
			++count;
		if (count >= occurrences)
			return true;
		if (std::chrono::steady_clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

bool readUntilClosed(TestSocket& socket, std::string& received, int timeoutMs)
/// True when the server closed the connection (FIN or reset) within timeoutMs.
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
	while (std::chrono::steady_clock::now() < deadline)
	{
		TestSocket::ReceiveStatus status = socket.receiveSome(received, 100);
		if (status == TestSocket::RECEIVE_EOF || status == TestSocket::RECEIVE_ERROR)
			return true;
	}
	return false;
}

struct TlsRig
/// A test CA, a server certificate issued by it, and the echo plugin on a TLS listener.
{
	TestServer server;
	TestCa ca;
	std::string caFile, certFile, keyFile;

	TlsRig()
	{
		caFile = server.dir().path() + "/ca.pem";
		certFile = server.dir().path() + "/server.pem";
		keyFile = server.dir().path() + "/server.key";
		ca.writeCertificate(caFile);
		ca.issue("switchboard test server", 2, certFile, keyFile);
		server.set("listener.main", "tls_certificate", certFile);
		server.set("listener.main", "tls_key", keyFile);
		server.addPlugin("echo", "main", "/echo");
	}
};

} // namespace


class TlsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TlsIntegrationTest);
	CPPUNIT_TEST(testHttpsAndWssEcho);
	CPPUNIT_TEST(testMissingOrMismatchedKeyIsRefusedAtStart);
	CPPUNIT_TEST(testSighupReloadsCertificateKeepingOpenConnections);
	CPPUNIT_TEST(testPlaintextAndStalledHandshakesAreClosed);
	CPPUNIT_TEST(testRefusedAtAcceptGetsNoPlaintext);
	CPPUNIT_TEST_SUITE_END();

public:
	void testHttpsAndWssEcho()
	{
		TlsRig rig;
		rig.server.start();
		int port = rig.server.port("main");

		TlsTestClient https(port, rig.caFile);
		CPPUNIT_ASSERT_EQUAL(std::string("http/1.1"), https.alpnSelected());
		CPPUNIT_ASSERT_MESSAGE(https.protocolVersion(),
		                       https.protocolVersion() == "TLSv1.3" || https.protocolVersion() == "TLSv1.2");
		CPPUNIT_ASSERT_EQUAL(certificateFingerprint(rig.certFile), https.peerFingerprint());
		// TLS 1.2 is the floor: 1.2 and 1.3 succeed, 1.1 and 1.0 are refused by the server.
		CPPUNIT_ASSERT_EQUAL(std::string(), tryHandshake(port, rig.caFile, TLS1_2_VERSION));
		CPPUNIT_ASSERT_EQUAL(std::string(), tryHandshake(port, rig.caFile, TLS1_3_VERSION));
		std::string old = tryHandshake(port, rig.caFile, TLS1_1_VERSION);
		CPPUNIT_ASSERT_MESSAGE("TLS 1.1 was accepted", !old.empty());
		CPPUNIT_ASSERT_MESSAGE(old, contains(old, "version") || contains(old, "protocol"));
		CPPUNIT_ASSERT_MESSAGE("TLS 1.0 was accepted", !tryHandshake(port, rig.caFile, TLS1_VERSION).empty());
		std::string posted = https.request("POST", "/echo/notes", "over tls");
		CPPUNIT_ASSERT_MESSAGE(posted, contains(posted, "HTTP/1.1 201"));
		std::string listed = https.request("GET", "/echo/notes"); // same connection: keep-alive
		CPPUNIT_ASSERT_MESSAGE(listed, contains(listed, "HTTP/1.1 200") && contains(listed, "over tls"));

		TlsTestClient wss(port, rig.caFile);
		CPPUNIT_ASSERT_EQUAL(101, wss.upgrade("/echo/ws"));
		for (std::size_t size : {std::size_t(5), std::size_t(300), std::size_t(100000), std::size_t(700000)})
		{
			std::string text(size, 'x');
			for (std::size_t i = 0; i < size; ++i)
				text[i] = static_cast<char>('a' + (i * 7 + size) % 26);
			wss.sendText(text);
			std::string echoed = wss.receiveMessage();
			CPPUNIT_ASSERT_EQUAL_MESSAGE("echo of " + std::to_string(size) + " bytes", text, echoed);
		}
		// A burst of small messages (coalesced into few records) arrives whole and in order.
		for (int i = 0; i < 200; ++i)
			wss.sendText("m" + std::to_string(i));
		for (int i = 0; i < 200; ++i)
			CPPUNIT_ASSERT_EQUAL("m" + std::to_string(i), wss.receiveMessage());
		// 1 MiB of echoes to a client with a small receive buffer that does not read at first: the
		// server's TLS writes find the kernel full and resume on writability (the session's
		// pending record); nothing is lost or reordered.
		TlsTestClient slow(port, rig.caFile, "localhost", "http/1.1", 4096);
		CPPUNIT_ASSERT_EQUAL(101, slow.upgrade("/echo/ws"));
		std::vector<std::string> burst;
		for (int i = 0; i < 64; ++i)
		{
			burst.push_back(std::to_string(i) + ":" + std::string(16 * 1024 - 8, static_cast<char>('A' + i % 26)));
			slow.sendText(burst.back());
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		for (const std::string& expected : burst)
			CPPUNIT_ASSERT_EQUAL(expected, slow.receiveMessage());
		CPPUNIT_ASSERT_EQUAL(0, rig.server.stop());
	}

	void testMissingOrMismatchedKeyIsRefusedAtStart()
	{
		TlsRig rig;
		std::string otherCert = rig.server.dir().path() + "/other.pem";
		std::string otherKey = rig.server.dir().path() + "/other.key";
		TestCa::writeSelfSignedPair("someone else", otherCert, otherKey);

		rig.server.set("listener.main", "tls_key", rig.server.dir().path() + "/missing.key");
		TestServer::RunResult missing = rig.server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(missing.describe(), EXIT_CONFIG, missing.exitCode);
		CPPUNIT_ASSERT_MESSAGE(missing.describe(),
		                       contains(missing.stderrText, "[listener.main] TLS: cannot read " +
		                                                        rig.server.dir().path() + "/missing.key"));

		rig.server.set("listener.main", "tls_key", otherKey);
		TestServer::RunResult mismatched = rig.server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(mismatched.describe(), EXIT_CONFIG, mismatched.exitCode);
		CPPUNIT_ASSERT_MESSAGE(mismatched.describe(),
		                       contains(mismatched.stderrText, "the private key does not belong to the certificate"));

		rig.server.unset("listener.main", "tls_key");
		TestServer::RunResult alone = rig.server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(alone.describe(), EXIT_CONFIG, alone.exitCode);
		CPPUNIT_ASSERT_MESSAGE(alone.describe(), contains(alone.stderrText, "tls_certificate and tls_key go together"));

		rig.server.set("listener.main", "tls_key", rig.keyFile);
		rig.server.set("listener.main", "tls_certificate", rig.keyFile); // a key where the certificate belongs
		TestServer::RunResult notCert = rig.server.runWithConfig({});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(notCert.describe(), EXIT_CONFIG, notCert.exitCode);
		CPPUNIT_ASSERT_MESSAGE(notCert.describe(), contains(notCert.stderrText, "not a PEM certificate"));
	}

	void testSighupReloadsCertificateKeepingOpenConnections()
	{
		TlsRig rig;
		rig.server.start();
		int port = rig.server.port("main");
		std::string first = certificateFingerprint(rig.certFile);
		TlsTestClient old(port, rig.caFile);
		CPPUNIT_ASSERT_EQUAL(first, old.peerFingerprint());
		CPPUNIT_ASSERT_EQUAL(101, old.upgrade("/echo/ws"));
		old.sendText("before");
		CPPUNIT_ASSERT_EQUAL(std::string("before"), old.receiveMessage());

		rig.ca.issue("switchboard test server, renewed", 3, rig.certFile, rig.keyFile);
		std::string second = certificateFingerprint(rig.certFile);
		CPPUNIT_ASSERT(first != second);
		CPPUNIT_ASSERT_EQUAL(0, ::kill(rig.server.pid(), SIGHUP));
		CPPUNIT_ASSERT_MESSAGE(readFile(rig.server.logPath()),
		                       waitForLog(rig.server, "listener main: certificate reloaded", 1));
		TlsTestClient renewed(port, rig.caFile);
		CPPUNIT_ASSERT_EQUAL(second, renewed.peerFingerprint());
		// The connection made before the reload is still open and served.
		old.sendText("after");
		CPPUNIT_ASSERT_EQUAL(std::string("after"), old.receiveMessage());

		// A broken file on the next SIGHUP changes nothing: the current certificate stays.
		{
			std::ofstream broken(rig.certFile, std::ios::trunc);
			broken << "not a certificate\n";
		}
		CPPUNIT_ASSERT_EQUAL(0, ::kill(rig.server.pid(), SIGHUP));
		CPPUNIT_ASSERT(waitForLog(rig.server, "certificate not reloaded, keeping the current one", 1));
		TlsTestClient still(port, rig.caFile);
		CPPUNIT_ASSERT_EQUAL(second, still.peerFingerprint());
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get("127.0.0.1", rig.server.adminPort(), "/readyz").status);
		CPPUNIT_ASSERT_EQUAL(0, rig.server.stop());
	}

	void testPlaintextAndStalledHandshakesAreClosed()
	{
		TlsRig rig;
		rig.server.set("websocket", "handshake_timeout_ms", "500");
		rig.server.start();
		int port = rig.server.port("main");

		// Plain HTTP to a TLS port: no plaintext answer, the connection is closed.
		TestSocket plain;
		plain.connect("127.0.0.1", port, 2000);
		plain.sendAll("GET /echo/notes HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
		std::string answer;
		CPPUNIT_ASSERT(readUntilClosed(plain, answer, 3000));
		CPPUNIT_ASSERT_MESSAGE(answer, !contains(answer, "HTTP/1.1"));

		// A client that connects and never finishes its handshake is closed at the head deadline,
		// and others are served meanwhile.
		TestSocket stalled;
		stalled.connect("127.0.0.1", port, 2000);
		stalled.sendAll(std::string("\x16\x03\x01\x02\x00", 5), 2000); // a ClientHello record header, no body
		TlsTestClient other(port, rig.caFile);
		std::string listed = other.request("GET", "/echo/notes");
		CPPUNIT_ASSERT_MESSAGE(listed, contains(listed, "HTTP/1.1 200"));
		auto started = std::chrono::steady_clock::now();
		std::string nothing;
		CPPUNIT_ASSERT(readUntilClosed(stalled, nothing, 5000));
		auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(waited.count()) + " ms", waited.count() < 3000);
		CPPUNIT_ASSERT_EQUAL(0, rig.server.stop());
	}

	void testRefusedAtAcceptGetsNoPlaintext()
	{
		// A plain listener answers a client over its connection cap with a plaintext 429; a TLS
		// client could not read that (it would see a handshake failure with a garbled record), so
		// a TLS listener just closes. Counted like on a plain listener.
		TlsRig rig;
		rig.server.set("http", "max_connections_per_client", "1");
		rig.server.start();
		int port = rig.server.port("main");
		TlsTestClient holder(port, rig.caFile);
		TestSocket refused;
		refused.connect("127.0.0.1", port, 2000);
		refused.sendAll(std::string("\x16\x03\x01\x00\x05hello", 10), 2000);
		std::string answer;
		CPPUNIT_ASSERT(readUntilClosed(refused, answer, 3000));
		CPPUNIT_ASSERT_MESSAGE(answer, answer.empty());
		std::string metrics = HttpTestClient::get("127.0.0.1", rig.server.adminPort(), "/metrics").body;
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     HttpTestClient::metricValue(metrics, "switchboard_http_client_limit_refusals_total"));
		std::string listed = holder.request("GET", "/echo/notes");
		CPPUNIT_ASSERT_MESSAGE(listed, contains(listed, "HTTP/1.1 200"));
		CPPUNIT_ASSERT_EQUAL(0, rig.server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TlsIntegrationTest);
