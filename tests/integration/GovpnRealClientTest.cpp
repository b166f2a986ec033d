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


#include "TestServer.h"
#include "TestTls.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>


using namespace Switchboard::Test;


namespace {

const int BUILD_TIMEOUT_MS = 600000; // apt-get may have to install Go first
const int CLIENT_TIMEOUT_MS = 120000;

bool isFile(const std::string& path)
{
	struct stat info;
	return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string clientSourceDir()
/// The reference client's directory, or "" when this checkout has none.
{
	const char* configured = std::getenv("SWITCHBOARD_CLIENTS_DIR");
	std::string clients = configured != nullptr && *configured != '\0'
	                          ? std::string(configured)
	                          : std::string(SWITCHBOARD_SOURCE_DIR) + "/../shared/clients";
	std::string dir = clients + "/govpn-client";
	return isFile(dir + "/build.sh") ? dir : std::string();
}

std::string builtClient()
/// Builds the harness once per runner; "" (after printing why) when there is nothing to build.
{
	static std::string binary;
	static bool tried = false;
	if (tried)
		return binary;
	tried = true;
	std::string source = clientSourceDir();
	if (source.empty())
	{
		std::cout << "\nGovpnRealClientTest: skipped: no GoVPN reference client (govpn-client/build.sh) in "
		             "$SWITCHBOARD_CLIENTS_DIR or ../shared/clients beside the source tree (a bare clone)"
		          << std::endl;
		return binary;
	}
	std::string output = std::string(SWITCHBOARD_BINARY_DIR) + "/govpn-client";
	::mkdir(output.c_str(), 0755);
	output += "/govpn-client";
	TestServer::RunResult build = TestServer::runOnce({source + "/build.sh", output}, BUILD_TIMEOUT_MS, "/bin/bash");
	CPPUNIT_ASSERT_MESSAGE("building the GoVPN reference client: " + build.describe(),
	                       build.exitCode == 0 && isFile(output));
	binary = output;
	return binary;
}

std::vector<std::string> lines(const std::string& text)
{
	std::vector<std::string> out;
	std::istringstream stream(text);
	for (std::string line; std::getline(stream, line);)
		out.push_back(line);
	return out;
}

void runHarness(const std::string& client, const std::string& url)
/// Runs the harness against url and checks every step and every push it reports.
{
	// The client starts its reader goroutine before it marks itself connected; when the
	// goroutine wins that race it stops at once and the client never sees a reply. One
	// processor makes the goroutine start only once Connect blocks (a client-side race the
	// server cannot influence).
	::setenv("GOMAXPROCS", "1", 1);
	TestServer::RunResult run = TestServer::runOnce({url}, CLIENT_TIMEOUT_MS, client);
	std::cout << "\n" << run.stdoutText << std::flush;
	const std::vector<std::string> output = lines(run.stdoutText);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(run.describe(), 0, run.exitCode);
	for (const std::string& line : output)
		CPPUNIT_ASSERT_MESSAGE(run.describe(), line.rfind("FAIL", 0) != 0);
	for (const char* step :
	     {"ok   connect + initial ping", "ok   CreateRoom", "ok   JoinRoom", "ok   RenameRoom", "ok   GetUserRooms",
	      "ok   LeaveRoom", "  handler saw owner:UserRooms", "  handler saw owner:ClientIPInfo",
	      "  handler saw peer:UserRooms", "  handler saw peer:ClientIPInfo", "6 passed, 0 failed"})
	{
		bool found = false;
		for (const std::string& line : output)
			found = found || line.rfind(step, 0) == 0;
		CPPUNIT_ASSERT_MESSAGE(std::string("missing step '") + step + "': " + run.describe(), found);
	}
}

} // namespace


class GovpnRealClientTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnRealClientTest);
	CPPUNIT_TEST(testRealClientOverWebSocket);
	CPPUNIT_TEST(testRealClientOverTls);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRealClientOverWebSocket()
	{
		std::string client = builtClient();
		if (client.empty())
			return;
		TestServer server;
		server.addListener("govpn");
		server.addPlugin("govpn", "govpn", "");
		server.start();
		runHarness(client, "ws://127.0.0.1:" + std::to_string(server.port("govpn")));
		// A second run after a restart: the rooms of the first are on disk, the new keys are not
		// members of them, and the per-IP buckets (3 requests, the harness uses 2) start full.
		server.restart();
		runHarness(client, "ws://127.0.0.1:" + std::to_string(server.port("govpn")));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testRealClientOverTls()
	{
		std::string client = builtClient();
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
		runHarness(client, "wss://127.0.0.1:" + std::to_string(server.port("govpn")));
		::unsetenv("SSL_CERT_FILE");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnRealClientTest);
