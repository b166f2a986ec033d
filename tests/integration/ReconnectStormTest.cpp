//
// ReconnectStormTest.cpp
//
// A reconnect storm after a restart, against the default configuration: 10,000 PeerJS clients
// from two client processes (the bench's load generator) connect at once, and every one of them
// must reach OPEN. With Poco's thread-per-connection front about half were reset.
//


#include "TestServer.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdio>
#include <future>
#include <memory>
#include <string>


using namespace Switchboard::Test;


namespace {

struct StormResult
{
	std::string readyLine; ///< the generator's {"event":"ready",...} line, or what went wrong
	long long open = -1;
	long long connectErrors = -1;
	long long handshakeErrors = -1;
};

long long jsonNumber(const std::string& line, const std::string& key)
{
	std::size_t at = line.find("\"" + key + "\":");
	return at == std::string::npos ? -1 : std::stoll(line.substr(at + key.size() + 3));
}

StormResult runGenerator(int port, const std::string& source, int connections)
// One bench-loadgen process holding `connections` PeerJS connections, all started at once.
{
	std::string command = std::string(SWITCHBOARD_BINARY_DIR) +
	                      "/bin/bench-loadgen --target 127.0.0.1:" + std::to_string(port) +
	                      " --workload hold --path /peerjs/peerjs --connections " + std::to_string(connections) +
	                      " --connect-concurrency " + std::to_string(connections) + " --source " + source +
	                      " --tag storm" + source.substr(source.rfind('.') + 1) +
	                      " --connect-timeout-ms 30000 --auto --warmup-ms 0 --measure-ms 200 --drain-ms 0 "
	                      "</dev/null 2>&1";
	StormResult result;
	std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
	if (!pipe)
	{
		result.readyLine = "cannot run " + command;
		return result;
	}
	char line[4096];
	while (std::fgets(line, sizeof(line), pipe.get()))
	{
		std::string text(line);
		if (text.find("\"event\":\"ready\"") == std::string::npos)
		{
			result.readyLine += text;
			continue;
		}
		result.readyLine = text;
		result.open = jsonNumber(text, "open");
		result.connectErrors = jsonNumber(text, "connect_errors");
		result.handshakeErrors = jsonNumber(text, "handshake_errors");
	}
	return result;
}

} // namespace


class ReconnectStormTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ReconnectStormTest);
	CPPUNIT_TEST(testTenThousandClientsAtOnceAllOpen);
	CPPUNIT_TEST_SUITE_END();

public:
	void testTenThousandClientsAtOnceAllOpen()
	{
		TestServer server;
		server.addPlugin("peerjs", "main", "/peerjs");
		server.start();
		int port = server.port("main");
		const int perProcess = 5000;
		auto first = std::async(std::launch::async, [port] { return runGenerator(port, "127.0.0.2", perProcess); });
		auto second = std::async(std::launch::async, [port] { return runGenerator(port, "127.0.0.3", perProcess); });
		for (StormResult result : {first.get(), second.get()})
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE(result.readyLine, static_cast<long long>(perProcess), result.open);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(result.readyLine, 0LL, result.connectErrors);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(result.readyLine, 0LL, result.handshakeErrors);
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ReconnectStormTest);
