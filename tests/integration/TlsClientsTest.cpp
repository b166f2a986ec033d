//
// TlsClientsTest.cpp
//
// Real clients over built-in TLS, each trusting a CA made by the test, with certificate
// verification on: Node's npm `ws` package (wss://) and https module against the echo plugin
// (tests/browser/tls/node-clients.js), and headless Chromium running the official peerjs 1.5.5
// client with secure: true plus a native wss:// echo (tests/browser/tls/driver.js, run by
// tests/browser/run.sh --tls in its private network namespace). Chromium trusts the CA only
// through --ignore-certificate-errors-spki-list with the CA's key hash, which it matches against
// the certificates the server presents: the CA goes out as tls_chain. A listener with a
// certificate the CA did not issue must be refused by every client. The scripts record what happened as JSON and this
// runner asserts on it. Without Node.js, Chromium, the npm packages or network namespaces a case
// prints why and passes.
//


#include "BrowserTestSupport.h"
#include "TempDir.h"
#include "TestServer.h"
#include "TestTls.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;
using namespace Switchboard::Test::Browser;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NODE_CLIENTS = BROWSER_DIR + "/tls/node-clients.js";
// Shared with PeerJsBrowserTest: the same pinned packages (ws comes with peer 1.0.2).
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
const std::string CHROMIUM = "/usr/bin/chromium";
const std::string CA_NAME = "Switchboard TLS Clients Test CA";
const std::string SERVER_NAME = "switchboard tls clients";
// setup.sh bounds npm ci to 300 s (only when the cache is empty or stale).
const int SETUP_TIMEOUT_MS = 330000;
const int NODE_BUDGET_MS = 20000;
const int NODE_TIMEOUT_MS = 30000;
// run.sh bounds the driver to --budget plus 20 s.
const int RUN_BUDGET_S = 40;
const int RUN_TIMEOUT_MS = 75000;
// run.sh's fixed ports inside its namespace.
const std::string SIGNALING = "127.0.0.1:9000";
const std::string OPEN_FRAME = "{\"type\":\"OPEN\"}";


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}

bool startsWith(const std::string& text, const std::string& prefix)
{
	return text.compare(0, prefix.size(), prefix) == 0;
}

void skip(const std::string& test, const std::string& why)
{
	std::cout << "\nTlsClientsTest::" << test << " SKIPPED: " << why << std::endl;
}

std::string spkiSha256Base64(const std::string& pemPath)
/// base64(SHA-256(DER SubjectPublicKeyInfo)) of the first certificate in a PEM file: what
/// Chromium's --ignore-certificate-errors-spki-list takes.
{
	FILE* file = std::fopen(pemPath.c_str(), "r");
	if (!file)
		throw std::runtime_error("cannot read " + pemPath);
	X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
	std::fclose(file);
	if (!cert)
		throw std::runtime_error("no certificate in " + pemPath);
	unsigned char* der = nullptr;
	const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	X509_free(cert);
	if (length <= 0)
		throw std::runtime_error("cannot encode the public key of " + pemPath);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digestLength = 0;
	const bool hashed =
	    EVP_Digest(der, static_cast<std::size_t>(length), digest, &digestLength, EVP_sha256(), nullptr) == 1;
	OPENSSL_free(der);
	if (!hashed)
		throw std::runtime_error("cannot hash the public key of " + pemPath);
	unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	const int encodedLength = EVP_EncodeBlock(encoded, digest, static_cast<int>(digestLength));
	return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(encodedLength));
}


struct Certificates
/// The test CA, a server certificate it issued (for localhost, 127.0.0.1, ::1), the CA as the
/// chain file the server sends after it, and an unrelated self-signed pair: in one directory.
{
	std::string ca, chain, certificate, key, untrusted, untrustedKey;

	explicit Certificates(const std::string& dir)
	{
		TestCa testCa(CA_NAME);
		ca = dir + "/ca.pem";
		chain = dir + "/chain.pem";
		certificate = dir + "/server.pem";
		key = dir + "/server.key";
		untrusted = dir + "/untrusted.pem";
		untrustedKey = dir + "/untrusted.key";
		testCa.writeCertificate(ca);
		testCa.writeCertificate(chain);
		testCa.issue(SERVER_NAME, 2, certificate, key);
		TestCa::writeSelfSignedPair(SERVER_NAME, untrusted, untrustedKey);
	}
};


std::string npmPackagesMissing()
/// Installs the browser test's npm packages into NPM_CACHE if needed; why they are not there, or "".
{
	if (findExecutable("npm").empty())
		return "npm is not installed (scripts/install-deps.sh --test)";
	TestServer::RunResult setup = TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
	if (setup.exitCode != 0)
		return "tests/browser/setup.sh could not install the npm packages: " + setup.describe();
	return "";
}


Object::Ptr parseResult(TempDir& work, const std::string& path, const TestServer::RunResult& run,
                        const std::string& what)
{
	if (::access(path.c_str(), R_OK) != 0)
	{
		work.keep();
		CPPUNIT_FAIL(what + " wrote no result: " + run.describe());
	}
	Object::Ptr result;
	try
	{
		result = Poco::JSON::Parser().parse(readAll(path)).extract<Object::Ptr>();
	}
	catch (const Poco::Exception& e)
	{
		work.keep();
		CPPUNIT_FAIL("unreadable " + path + ": " + e.displayText());
	}
	const std::string fatal = isNull(result, "fatal") ? "" : text(result, "fatal");
	CPPUNIT_ASSERT_MESSAGE(what + " did not complete: " + fatal + "\n" + run.describe(), flag(result, "completed"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": " + run.describe(), 0, run.exitCode);
	return result;
}


template <typename Checks>
void keepOnFailure(TempDir& work, Checks checks)
/// Runs the assertions; on a failure keeps the work dir (result JSON, server log) for a look.
{
	try
	{
		checks();
	}
	catch (...)
	{
		work.keep();
		throw;
	}
}


// Node: a TLS session as a client socket saw it, verified against the CA.
void checkNodeTls(const Object::Ptr& session, const std::string& what, const Certificates& certs)
{
	Object::Ptr tls = object(session, "tls");
	CPPUNIT_ASSERT_MESSAGE(what + ": not authorized: " + textOrNull(tls, "authorizationError"),
	                       flag(tls, "authorized"));
	const std::string version = text(tls, "protocol");
	CPPUNIT_ASSERT_MESSAGE(what + ": protocol " + version, version == "TLSv1.3" || version == "TLSv1.2");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": ALPN", std::string("http/1.1"), text(tls, "alpn"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": server certificate", certificateFingerprint(certs.certificate),
	                             text(tls, "fingerprint256"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": issuer", certificateFingerprint(certs.ca),
	                             text(tls, "issuerFingerprint256"));
}


// Node: the ws package over wss:// with the ca option: text, a 64 KiB text, binary, each echoed.
void checkNodeWss(const Object::Ptr& cases, const Certificates& certs)
{
	Object::Ptr wss = object(cases, "wss");
	CPPUNIT_ASSERT_MESSAGE("node wss: did not open: " + textOrNull(wss, "error"), flag(wss, "opened"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node wss: handshake status", 101L, number(wss, "handshakeStatus"));
	checkNodeTls(wss, "node wss", certs);
	Array::Ptr echoes = array(wss, "echoes");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node wss: echoes", std::size_t(3), echoes->size());
	for (unsigned i = 0; i < echoes->size(); ++i)
	{
		Object::Ptr echo = echoes->getObject(i);
		const std::string which = "node wss: echo #" + std::to_string(i);
		CPPUNIT_ASSERT_MESSAGE(which + " differs from the message", flag(echo, "equal"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(which + " binary", flag(echo, "sentBinary"), flag(echo, "binary"));
	}
	CPPUNIT_ASSERT_MESSAGE("node wss: error " + textOrNull(wss, "error"), isNull(wss, "error"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node wss: close code", 1000L, number(wss, "closeCode"));
}


// Node: the https module with the ca option, by DNS name: POST a note, then list it.
void checkNodeHttps(const Object::Ptr& cases, const Certificates& certs)
{
	Object::Ptr post = object(cases, "httpsPost");
	CPPUNIT_ASSERT_MESSAGE("node https POST: " + textOrNull(post, "error"), isNull(post, "error"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node https POST status", 201L, number(post, "status"));
	CPPUNIT_ASSERT_MESSAGE("node https POST body " + text(post, "body"),
	                       std::regex_match(text(post, "body"), std::regex("\\{\"id\":[0-9]+\\}")));
	checkNodeTls(post, "node https POST", certs);

	Object::Ptr get = object(cases, "httpsGet");
	CPPUNIT_ASSERT_MESSAGE("node https GET: " + textOrNull(get, "error"), isNull(get, "error"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node https GET status", 200L, number(get, "status"));
	CPPUNIT_ASSERT_MESSAGE("node https GET: the posted note is not listed: " + text(get, "body"),
	                       contains(text(get, "body"), "\"body\":\"" + text(get, "expectedNote") + "\""));
	checkNodeTls(get, "node https GET", certs);
}


// Node: no ca option, the CA given by NODE_EXTRA_CA_CERTS only.
void checkNodeExtraCa(const Object::Ptr& result, const Certificates& certs)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE("NODE_EXTRA_CA_CERTS", certs.ca, text(result, "extraCaCerts"));
	Object::Ptr extra = object(object(result, "cases"), "extraCa");
	CPPUNIT_ASSERT_MESSAGE("node https with NODE_EXTRA_CA_CERTS: " + textOrNull(extra, "error"),
	                       isNull(extra, "error"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node https with NODE_EXTRA_CA_CERTS: status", 200L, number(extra, "status"));
	checkNodeTls(extra, "node https with NODE_EXTRA_CA_CERTS", certs);
}


// Node: a self-signed certificate is refused by both clients with the same options.
void checkNodeUntrusted(const Object::Ptr& cases)
{
	Object::Ptr wss = object(cases, "untrustedWss");
	CPPUNIT_ASSERT_MESSAGE("node wss to the untrusted listener opened", !flag(wss, "opened"));
	CPPUNIT_ASSERT_MESSAGE("node wss to the untrusted listener: error " + textOrNull(wss, "error"),
	                       !isNull(wss, "error") && contains(text(wss, "error"), "SELF_SIGNED_CERT"));
	Object::Ptr https = object(cases, "untrustedHttps");
	CPPUNIT_ASSERT_MESSAGE("node https to the untrusted listener answered " + textOrNull(https, "status"),
	                       isNull(https, "status"));
	CPPUNIT_ASSERT_MESSAGE("node https to the untrusted listener: error " + textOrNull(https, "error"),
	                       !isNull(https, "error") && contains(text(https, "error"), "SELF_SIGNED_CERT"));
}


// Chromium: the flags it ran with trust the CA's key and nothing else.
void checkChromiumTrust(const Object::Ptr& result, const Certificates& certs)
{
	const std::string spki = spkiSha256Base64(certs.ca);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("SPKI hash the driver computed for the CA", spki, text(result, "spki"));
	Array::Ptr flags = array(result, "chromiumFlags");
	bool listed = false;
	for (unsigned i = 0; i < flags->size(); ++i)
	{
		const std::string f = flags->getElement<std::string>(i);
		listed = listed || f == "--ignore-certificate-errors-spki-list=" + spki;
		CPPUNIT_ASSERT_MESSAGE("Chromium flag " + f, f == "--ignore-certificate-errors-spki-list=" + spki ||
		                                                 !startsWith(f, "--ignore-certificate-errors"));
	}
	CPPUNIT_ASSERT_MESSAGE("Chromium ran without the CA's SPKI hash", listed);
}


// Chromium: what the browser reported about an https:// response's TLS session.
void checkChromiumSecurity(const Object::Ptr& request, const std::string& what)
{
	CPPUNIT_ASSERT_MESSAGE(what + ": no TLS details (" + textOrNull(request, "failed") + ")",
	                       request->isObject("security"));
	Object::Ptr security = object(request, "security");
	const std::string version = text(security, "protocol");
	CPPUNIT_ASSERT_MESSAGE(what + ": protocol " + version, version == "TLS 1.3" || version == "TLS 1.2");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": certificate subject", SERVER_NAME, text(security, "subjectName"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": certificate issuer", CA_NAME, text(security, "issuer"));
}


// Chromium: peerjs with secure: true; Bob's id over https://, both peers OPEN over wss://, a
// json DataConnection from Alice to Bob signaled through the server, echoed by Bob.
void checkPeerJs(const Object::Ptr& cases)
{
	Object::Ptr peerjs = object(cases, "peerjs");
	const std::string aliceId = text(peerjs, "aliceId");
	const std::string bobId = isNull(peerjs, "bobId") ? "" : text(peerjs, "bobId");
	CPPUNIT_ASSERT_MESSAGE("peerjs: Bob got no open event", peerjs->isObject("bobEvent"));
	Object::Ptr bobEvent = object(peerjs, "bobEvent");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: Bob's first event (" + textOrNull(bobEvent, "message") + ")",
	                             std::string("open"), text(bobEvent, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: Bob's open id", bobId, text(bobEvent, "id"));

	Array::Ptr idRequests = array(peerjs, "idRequests");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: requests for an id", std::size_t(1), idRequests->size());
	Object::Ptr idRequest = idRequests->getObject(0);
	const std::string url = text(idRequest, "url");
	CPPUNIT_ASSERT_MESSAGE("peerjs: id request URL " + url,
	                       startsWith(url, "https://" + SIGNALING + "/myapp/peerjs/id?"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: id request status", 200L, number(idRequest, "status"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: id request security state", std::string("secure"),
	                             text(idRequest, "securityState"));
	checkChromiumSecurity(idRequest, "peerjs: id request");

	CPPUNIT_ASSERT_MESSAGE("peerjs: Alice got no open event", peerjs->isObject("aliceEvent"));
	Object::Ptr aliceEvent = object(peerjs, "aliceEvent");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: Alice's first event (" + textOrNull(aliceEvent, "message") + ")",
	                             std::string("open"), text(aliceEvent, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("peerjs: Alice's open id", aliceId, text(aliceEvent, "id"));

	Object::Ptr sockets = object(peerjs, "sockets");
	for (const auto& peer : {std::make_pair(std::string("bob"), bobId), std::make_pair(std::string("alice"), aliceId)})
	{
		Object::Ptr socket = object(sockets, peer.first);
		const std::string what = "peerjs: " + peer.first + "'s WebSocket";
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "s", 1L, number(socket, "count"));
		const std::string socketUrl = text(socket, "url");
		CPPUNIT_ASSERT_MESSAGE(
		    what + " URL " + socketUrl,
		    startsWith(socketUrl, "wss://" + SIGNALING + "/myapp/peerjs?key=peerjs&id=" + peer.second + "&token="));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": handshake status", 101L, number(socket, "handshakeStatus"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": first frame", OPEN_FRAME, text(socket, "firstFrame"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": frame errors", std::size_t(0), array(socket, "errors")->size());
	}

	Object::Ptr connect = object(peerjs, "connect");
	CPPUNIT_ASSERT_MESSAGE("peerjs: Alice's DataConnection did not open", flag(connect, "opened"));
	CPPUNIT_ASSERT_MESSAGE("peerjs: Bob got no connection from Alice", flag(connect, "bobConnection"));
	CPPUNIT_ASSERT_MESSAGE("peerjs: no echo from Bob", flag(connect, "echoed") && flag(connect, "bobEchoed"));
	CPPUNIT_ASSERT_MESSAGE("peerjs: the echo differs from what Alice sent", flag(connect, "echoEqual"));
	auto received = [&](const std::string& peer) {
		std::vector<std::string> types;
		Array::Ptr list = array(object(sockets, peer), "typesFromOther");
		for (unsigned i = 0; i < list->size(); ++i)
			types.push_back(list->getElement<std::string>(i));
		return types;
	};
	auto has = [](const std::vector<std::string>& types, const std::string& type) {
		for (const std::string& t : types)
			if (t == type)
				return true;
		return false;
	};
	CPPUNIT_ASSERT_MESSAGE("peerjs: no OFFER from Alice relayed to Bob over wss://", has(received("bob"), "OFFER"));
	CPPUNIT_ASSERT_MESSAGE("peerjs: no ANSWER from Bob relayed to Alice over wss://", has(received("alice"), "ANSWER"));
}


// Chromium: the page's own WebSocket over wss:// to the echo plugin (text, binary), and a
// fetch() over https://.
void checkNativeWssAndFetch(const Object::Ptr& cases)
{
	Object::Ptr wss = object(cases, "nativeWss");
	CPPUNIT_ASSERT_MESSAGE("native wss: did not open", flag(wss, "opened"));
	CPPUNIT_ASSERT_MESSAGE("native wss: timed out", !flag(wss, "timedOut"));
	Array::Ptr echoes = array(wss, "echoes");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("native wss: echoes", std::size_t(2), echoes->size());
	for (unsigned i = 0; i < echoes->size(); ++i)
	{
		Object::Ptr echo = echoes->getObject(i);
		const std::string which = "native wss: echo #" + std::to_string(i);
		CPPUNIT_ASSERT_MESSAGE(which + " differs from the message", flag(echo, "equal"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(which + " binary", flag(echo, "sentBinary"), flag(echo, "binary"));
	}
	CPPUNIT_ASSERT_EQUAL_MESSAGE("native wss: close code", 1000L, number(wss, "closeCode"));
	CPPUNIT_ASSERT_MESSAGE("native wss: not closed cleanly", flag(wss, "wasClean"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("native wss: handshake status", 101L,
	                             number(object(wss, "socket"), "handshakeStatus"));

	Object::Ptr fetch = object(cases, "trustedFetch");
	CPPUNIT_ASSERT_MESSAGE("https fetch(): " + textOrNull(fetch, "error"), isNull(fetch, "error"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("https fetch(): response type", std::string("opaque"), text(fetch, "type"));
	Array::Ptr requests = array(fetch, "requests");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("https fetch(): requests", std::size_t(1), requests->size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("https fetch(): status", 200L, number(requests->getObject(0), "status"));
	checkChromiumSecurity(requests->getObject(0), "https fetch()");
}


// Chromium: the self-signed listener is refused for want of trust, by fetch() and WebSocket.
void checkChromiumUntrusted(const Object::Ptr& cases)
{
	Object::Ptr untrusted = object(cases, "untrusted");
	Object::Ptr fetch = object(untrusted, "fetch");
	CPPUNIT_ASSERT_MESSAGE("fetch() from the untrusted listener succeeded", !isNull(fetch, "error"));
	Array::Ptr requests = array(untrusted, "requests");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("requests to the untrusted listener", std::size_t(1), requests->size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("why Chromium refused the untrusted listener",
	                             std::string("net::ERR_CERT_AUTHORITY_INVALID"),
	                             textOrNull(requests->getObject(0), "failed"));
	Object::Ptr ws = object(untrusted, "ws");
	CPPUNIT_ASSERT_MESSAGE("a WebSocket to the untrusted listener opened", !flag(ws, "opened"));
	CPPUNIT_ASSERT_MESSAGE("a WebSocket to the untrusted listener: no error event", flag(ws, "errorEvent"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("a WebSocket to the untrusted listener: close code", 1006L, number(ws, "closeCode"));
}


} // namespace


class TlsClientsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TlsClientsTest);
	CPPUNIT_TEST(testNodeWsAndHttps);
	CPPUNIT_TEST(testChromiumPeerJsAndWss);
	CPPUNIT_TEST_SUITE_END();

public:
	void testNodeWsAndHttps()
	/// Node's ws package and https module against the echo plugin on a TLS listener (loopback).
	{
		const std::string node = findExecutable("node");
		if (node.empty())
			return skip("testNodeWsAndHttps", "Node.js is not installed (scripts/install-deps.sh --test)");
		const std::string missing = npmPackagesMissing();
		if (!missing.empty())
			return skip("testNodeWsAndHttps", missing);
		CPPUNIT_ASSERT_MESSAGE("no ws package in " + NPM_CACHE +
		                           " (it came with peer 1.0.2; pin it in "
		                           "tests/browser/package.json)",
		                       ::access((NPM_CACHE + "/node_modules/ws/package.json").c_str(), R_OK) == 0);

		TestServer server;
		Certificates certs(server.dir().path());
		server.set("listener.main", "tls_certificate", certs.certificate);
		server.set("listener.main", "tls_key", certs.key);
		server.addListener("untrusted", {{"tls_certificate", certs.untrusted}, {"tls_key", certs.untrustedKey}});
		server.addPlugin("echo", "main", "/echo");
		server.start();

		TempDir& work = server.dir();
		const std::string out = work.filePath("node-clients.json");
		TestServer::RunResult run = TestServer::runOnce(
		    {"NODE_EXTRA_CA_CERTS=" + certs.ca, node, NODE_CLIENTS, "--cache", NPM_CACHE, "--port",
		     std::to_string(server.port("main")), "--untrusted-port", std::to_string(server.port("untrusted")), "--ca",
		     certs.ca, "--out", out, "--budget-ms", std::to_string(NODE_BUDGET_MS)},
		    NODE_TIMEOUT_MS, "/usr/bin/env");
		std::cout << "\n" << run.stdoutText << std::flush;
		Object::Ptr result = parseResult(work, out, run, "tests/browser/tls/node-clients.js");
		keepOnFailure(work, [&] {
			Object::Ptr cases = object(result, "cases");
			checkNodeWss(cases, certs);
			checkNodeHttps(cases, certs);
			checkNodeExtraCa(result, certs);
			checkNodeUntrusted(cases);
			CPPUNIT_ASSERT_EQUAL(0, server.stop());
		});
	}

	void testChromiumPeerJsAndWss()
	/// Chromium with peerjs 1.5.5 (secure: true) and a native wss:// echo, in run.sh's namespace.
	{
		const std::string node = findExecutable("node");
		if (node.empty())
			return skip("testChromiumPeerJsAndWss", "Node.js is not installed (scripts/install-deps.sh --test)");
		if (::access(CHROMIUM.c_str(), X_OK) != 0)
			return skip("testChromiumPeerJsAndWss", CHROMIUM + " is missing (Debian package chromium)");
		for (const char* tool : {"unshare", "ip", "timeout"})
			if (findExecutable(tool).empty())
				return skip("testChromiumPeerJsAndWss", std::string(tool) + " is not installed");
		std::vector<std::string> unshareArgs = {"--net"};
		if (::geteuid() != 0)
			unshareArgs.push_back("--map-root-user");
		unshareArgs.push_back("true");
		TestServer::RunResult probe = TestServer::runOnce(unshareArgs, 10000, findExecutable("unshare"));
		if (probe.exitCode != 0)
			return skip("testChromiumPeerJsAndWss", "cannot create a network namespace: " + probe.describe());
		const std::string missing = npmPackagesMissing();
		if (!missing.empty())
			return skip("testChromiumPeerJsAndWss", missing);

		TempDir work("switchboard-tls-browser");
		Certificates certs(work.makeDirectory("tls"));
		const std::string out = work.filePath("result.json");
		TestServer::RunResult run = TestServer::runOnce(
		    {"--cache", NPM_CACHE, "--work", work.filePath("run"), "--out", out, "--budget",
		     std::to_string(RUN_BUDGET_S), "--server", "switchboard", "--binary", TestServer::defaultBinary(),
		     "--plugin-dir", TestServer::defaultPluginDir(), "--tls", work.filePath("tls")},
		    RUN_TIMEOUT_MS, BROWSER_DIR + "/run.sh");
		std::cout << "\n" << run.stdoutText << std::flush;
		Object::Ptr result = parseResult(work, out, run, "tests/browser/run.sh --tls");
		keepOnFailure(work, [&] {
			checkChromiumTrust(result, certs);
			Object::Ptr cases = object(result, "cases");
			checkPeerJs(cases);
			checkNativeWssAndFetch(cases);
			checkChromiumUntrusted(cases);
		});
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TlsClientsTest);
