//
// TogetherBrowserClusterTest.cpp
//
// The Together web client (a third-party reference client, its built dist/) in headless Chromium
// against two nodes of one cluster: two real servers with the together plugin at the root of their
// listener (web_root, the same jwt_secret), [cluster] on one real redis-server and [storage]
// backend = postgresql on one real PostgreSQL. User A's browser context loads the client from node
// A, user B's from node B, so each user's REST calls and gateway reach only its own node (what
// docs/protocols/together.md §9 asks for voice). tests/browser/together/together-driver.js, with
// --url-b, runs the cases it runs against one server in TogetherBrowserTest: register, sign out
// and in, a server and a text channel, B joins from Browse Servers, the member list, live messages
// both ways, edit and delete, presence, and a voice channel whose WebRTC call connects through
// VOICE_SIGNAL relayed from one node to the other, with the remote audio playing. This runner
// asserts that every case passed, that A's page talked to node A only and B's to node B only, and
// that both nodes still list each other and stop cleanly.
//
// Chromium gathers no ICE host candidates with only loopback or without a default route, so the
// driver, Chromium, redis and the nodes run in a private network and PID namespace (lo and a veth
// pair, tests/support/BrowserTestSupport.h), which the runner enters by running itself again under
// unshare(1), this one test, with SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_NETNS=1. PostgreSQL cannot
// start in there when the runner is not root (a user namespace maps only our uid, and as root it
// runs as the system user "postgres"), so the first process starts it and hands its Unix socket
// directory, port, database, user and password to the second through the environment; the nodes
// reach it over that socket (postgresql_host may be its directory), which works across network
// namespaces. The nodes listen on 127.0.0.1 (a secure context, so the pages get their microphone).
//
// Needs the web client ($SWITCHBOARD_CLIENTS_DIR or ../shared/clients beside the source tree,
// together-web/dist), redis-server, PostgreSQL 15, /usr/bin/chromium, Node.js with npm
// (tests/browser/setup.sh installs playwright-core into the build tree's browser-test-cache),
// unshare and ip, and the right to create a network namespace; without them the test says why and
// skips. On a failure the work dir is kept: result.json, node-a.log, node-b.log and screenshots in
// artifacts/.
//


#include "BrowserTestSupport.h"
#include "ClusterTestSupport.h"
#include "PostgresTestServer.h"
#include "RedisTestServer.h"
#include "TempDir.h"
#include "TestServer.h"
#include "TogetherBrowserSupport.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>
#include <sys/stat.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;
using namespace Switchboard::Test::Browser;
using namespace Switchboard::Test::Cluster;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
const std::string CHROMIUM = "/usr/bin/chromium";
const std::string TEST_NAME = "TogetherBrowserClusterTest::testWebClientAcrossNodes";
const char* const INSIDE_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_NETNS";
const char* const WORK_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_WORK";
const char* const PG_SOCKET_DIR_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_PG_SOCKET_DIR";
const char* const PG_PORT_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_PG_PORT";
const char* const PG_DATABASE_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_PG_DATABASE";
const char* const PG_USER_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_PG_USER";
const char* const PG_PASSWORD_VARIABLE = "SWITCHBOARD_TOGETHER_CLUSTER_BROWSER_PG_PASSWORD";
const std::string KEY_PREFIX = "tbc:";
const int NODE_TTL_S = 3;
// Both nodes sign and check tokens with it (at least 32 bytes); fixed, as run-together.sh's.
const std::string JWT_SECRET = "together-browser-cluster-secret-0123456789abcdef";
// setup.sh bounds npm ci to 300 s; the driver bounds itself to DRIVER_BUDGET_MS.
const int SETUP_TIMEOUT_MS = 330000;
const int DRIVER_BUDGET_MS = 120000;
const int DRIVER_TIMEOUT_MS = DRIVER_BUDGET_MS + 20000;
const int INSIDE_TIMEOUT_MS = DRIVER_TIMEOUT_MS + 60000;


std::string whySkip()
/// Why this machine cannot run the test, or "".
{
	const std::string noClient = whyNoTogetherWebClient();
	if (!noClient.empty())
		return noClient;
	if (!RedisTestServer::available())
		return RedisTestServer::whyUnavailable();
	if (!PostgresTestServer::available())
		return PostgresTestServer::whyUnavailable();
	if (::access(CHROMIUM.c_str(), X_OK) != 0)
		return "no " + CHROMIUM + " (scripts/install-deps.sh --test installs it)";
	for (const char* tool : {"node", "npm"})
	{
		if (findExecutable(tool).empty())
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	}
	return whyNoNetworkNamespace();
}


std::string variable(const char* name)
/// An environment variable the first process set for the second (a CppUnit failure if unset).
{
	const char* value = std::getenv(name);
	CPPUNIT_ASSERT_MESSAGE(std::string(name) + " is not set", value != nullptr);
	return value;
}


// --- inside the namespace ----------------------------------------------------------------------

void configureNode(TestServer& node, const RedisTestServer& redis, const std::string& nodeId)
/// The together plugin as run-together.sh mounts it (the root of its listener, the web client,
/// a fixed secret), [cluster] on redis, and [storage] on the first process's PostgreSQL through
/// its Unix socket.
{
	addClusterSection(node, redis.port(), nodeId, KEY_PREFIX, NODE_TTL_S);
	node.addSection("storage", {{"backend", "postgresql"},
	                            {"postgresql_host", variable(PG_SOCKET_DIR_VARIABLE)},
	                            {"postgresql_port", variable(PG_PORT_VARIABLE)},
	                            {"postgresql_database", variable(PG_DATABASE_VARIABLE)},
	                            {"postgresql_user", variable(PG_USER_VARIABLE)},
	                            {"postgresql_connect_timeout_ms", "2000"}});
	node.setEnvironment("SWITCHBOARD_STORAGE__POSTGRESQL_PASSWORD", variable(PG_PASSWORD_VARIABLE));
	node.addPlugin("together", "main", "", {{"web_root", togetherWebRoot()}, {"jwt_secret", JWT_SECRET}});
	node.set("host", "shutdown_deadline_ms", "1000");
}


std::string clusterIds(const TestServer& node)
/// The node ids GET /cluster lists, sorted and comma-separated; "(...)" when it cannot be read.
{
	const ClusterView view = fetchCluster(node);
	return view.error.empty() ? view.ids() : "(" + view.error + ")";
}


void expectBothListed(const TestServer& a, const TestServer& b, const std::string& when)
/// Within 5 s each node's GET /cluster lists exactly a and b.
{
	for (const TestServer* pNode : {&a, &b})
	{
		std::string ids;
		waitUntil(5000, 50, [&] { return (ids = clusterIds(*pNode)) == "a,b"; });
		CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string("node ") + (pNode == &a ? "a" : "b") + "'s /cluster " + when,
		                             std::string("a,b"), ids);
	}
}


void saveLog(const TestServer& node, const std::string& path)
/// The node's whole log into the work dir, which the first process keeps on a failure.
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << node.logText();
}


void checkUser(const Object::Ptr& result, const std::string& label, const std::string& node, int port)
/// The user's context loaded the client from its node, and its page sent every request and opened
/// every WebSocket to that node only.
{
	Object::Ptr user = object(object(result, "users"), label);
	const std::string what = "user " + label + " (node " + node + "): ";
	const std::string host = "127.0.0.1:" + std::to_string(port);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "the URL its context loaded", "http://" + host, text(user, "url"));
	Array::Ptr hosts = array(user, "hosts");
	std::string seen;
	for (unsigned i = 0; i < hosts->size(); ++i)
		seen += (seen.empty() ? "" : ", ") + hosts->getElement<std::string>(i);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "the hosts its page talked to", host, seen);
}


void runInside(const std::string& work)
/// PID 1 of the namespace: network, redis, nodes a and b, the driver, the assertions.
{
	setUpNamespaceNetwork();
	RedisTestServer redis;
	redis.start();
	TestServer a, b;
	configureNode(a, redis, "a");
	configureNode(b, redis, "b");
	a.start();
	b.start();
	expectBothListed(a, b, "before the run");

	const std::string out = work + "/result.json";
	const std::string artifacts = work + "/artifacts";
	const std::string tmp = work + "/tmp";
	::mkdir(artifacts.c_str(), 0700);
	::mkdir(tmp.c_str(), 0700);
	const std::string urlA = "http://127.0.0.1:" + std::to_string(a.port("main"));
	const std::string urlB = "http://127.0.0.1:" + std::to_string(b.port("main"));
	std::cout << "\nTogetherBrowserClusterTest: user A on node a (" << urlA << "), user B on node b (" << urlB << ")"
	          << std::endl;
	// Playwright's temporary browser profiles go under the work dir, not the shared /tmp.
	const TestServer::RunResult run = TestServer::runOnce(
	    {BROWSER_DIR + "/together/together-driver.js", "--cache", NPM_CACHE, "--url", urlA, "--url-b", urlB, "--out",
	     out, "--artifacts", artifacts, "--budget-ms", std::to_string(DRIVER_BUDGET_MS)},
	    DRIVER_TIMEOUT_MS, findExecutable("node"), {{"TMPDIR", tmp}});
	// The driver prints its progress on stderr.
	std::cout << run.stdoutText << run.stderrText << std::flush;
	saveLog(a, work + "/node-a.log");
	saveLog(b, work + "/node-b.log");
	CPPUNIT_ASSERT_MESSAGE("node a exited during the run:\n" + a.logTail(), a.running());
	CPPUNIT_ASSERT_MESSAGE("node b exited during the run:\n" + b.logTail(), b.running());
	CPPUNIT_ASSERT_MESSAGE("tests/browser/together/together-driver.js wrote no result: " + run.describe(),
	                       ::access(out.c_str(), R_OK) == 0);
	Object::Ptr result;
	try
	{
		result = Poco::JSON::Parser().parse(readAll(out)).extract<Object::Ptr>();
	}
	catch (const Poco::Exception& e)
	{
		CPPUNIT_FAIL("unreadable " + out + ": " + e.displayText());
	}

	const TogetherCaseReport report = reportTogetherCases(result, "TogetherBrowserClusterTest");
	if (!report.failures.empty() || !report.completed || run.exitCode != 0)
		CPPUNIT_FAIL("the Together web client run across nodes a and b failed" +
		             (report.fatal.empty() ? "" : "\nfatal: " + report.fatal) + report.failures + "\n" +
		             run.describe());
	checkUser(result, "A", "a", a.port("main"));
	checkUser(result, "B", "b", b.port("main"));
	expectBothListed(a, b, "after the run");

	CPPUNIT_ASSERT_EQUAL_MESSAGE("node a stops cleanly", 0, a.stop());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node b stops cleanly", 0, b.stop());
}


} // namespace


class TogetherBrowserClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherBrowserClusterTest);
	CPPUNIT_TEST(testWebClientAcrossNodes);
	CPPUNIT_TEST_SUITE_END();

public:
	void testWebClientAcrossNodes()
	/// User A on node a and user B on node b: every case of the two-user run passes.
	{
		const char* inside = std::getenv(INSIDE_VARIABLE);
		if (inside != nullptr && std::string(inside) == "1")
		{
			runInside(variable(WORK_VARIABLE));
			return;
		}
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::cout << "\nTogetherBrowserClusterTest: skipped: " << skip << std::endl;
			return;
		}
		const TestServer::RunResult setup =
		    TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		// Started from this thread, which waits for the namespace's run (PDEATHSIG).
		PostgresTestServer postgres;
		postgres.start();
		TempDir work("switchboard-together-cluster-browser");
		const TestServer::RunResult run =
		    TestServer::runOnce(unshareArguments(TEST_NAME), INSIDE_TIMEOUT_MS, findExecutable("unshare"),
		                        {{INSIDE_VARIABLE, "1"},
		                         {WORK_VARIABLE, work.path()},
		                         {PG_SOCKET_DIR_VARIABLE, postgres.socketDirectory()},
		                         {PG_PORT_VARIABLE, std::to_string(postgres.port())},
		                         {PG_DATABASE_VARIABLE, postgres.database()},
		                         {PG_USER_VARIABLE, postgres.user()},
		                         {PG_PASSWORD_VARIABLE, postgres.password()}});
		std::cout << "\n" << run.stdoutText << std::flush;
		if (run.exitCode != 0)
		{
			work.keep();
			CPPUNIT_FAIL("the run in the namespace failed (work dir " + work.path() +
			             " kept: result.json, node-a.log, node-b.log, artifacts/*.png)\n" + run.describe());
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherBrowserClusterTest);
