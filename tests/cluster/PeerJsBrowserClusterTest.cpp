//
// PeerJsBrowserClusterTest.cpp
//
// The official PeerJS client (npm peerjs 1.5.5, tests/browser/page as it is) in headless Chromium
// against two nodes of one cluster: two real servers with the peerjs plugin and [cluster] on one
// real redis-server. Tab A's peer signals through node A, tab B's through node B; DataConnections
// open from A to B (json, binary) and from B to A (json) and carry an echo each way; node B refuses
// the id node A holds. tests/browser/cluster-driver.js drives the browser and records the frames;
// this runner asserts on its JSON: each OFFER, ANSWER and CANDIDATE reached the other node's peer
// exactly as peerjs.md §6.2 relays it (src added, the payload's bytes unchanged). run.sh and
// driver.js serve one server on one port, so the cluster case has a driver of its own; it reuses
// page-server.js and the page unchanged (each tab configures page.js for its own node). The
// existing driver has no media call case, so there is none here either.
//
// Chromium gathers no ICE host candidates with only loopback or without a default route, so the
// whole run (redis, the two nodes, the driver and Chromium) happens in a private network and PID
// namespace, as tests/browser/run.sh does it: lo plus a veth pair 10.213.0.1/24 - 10.213.0.2/24
// with a default route via 10.213.0.2; nothing leaves it, and the servers listen on 127.0.0.1.
// The runner enters it by running itself again under unshare(1), this one test, with
// SWITCHBOARD_CLUSTER_BROWSER_NETNS=1: that second process (PID 1 of the namespace) sets up the
// network, starts the servers and the driver and asserts; the first reports its outcome.
//
// Needs redis-server, /usr/bin/chromium, Node.js with npm (tests/browser/setup.sh installs
// playwright-core and peerjs into the build tree's browser-test-cache), unshare and ip, and the
// right to create a network namespace; without them the test says why and skips. Nothing beside
// the source tree is needed.
//


#include "BrowserTestSupport.h"
#include "ClusterTestSupport.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "RedisTestServer.h"
#include "TempDir.h"
#include "TestServer.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>
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
const std::string TEST_NAME = "PeerJsBrowserClusterTest::testDataConnectionsAcrossNodes";
const char* const INSIDE_VARIABLE = "SWITCHBOARD_CLUSTER_BROWSER_NETNS";
const char* const WORK_VARIABLE = "SWITCHBOARD_CLUSTER_BROWSER_WORK";
const std::string PEERJS_PATH = "/myapp";
const std::string PEERJS_KEY = "peerjs";
const std::string OPEN_FRAME = "{\"type\":\"OPEN\"}";
const std::string ID_TAKEN_FRAME = "{\"type\":\"ID-TAKEN\",\"payload\":{\"msg\":\"ID is taken\"}}";
// setup.sh bounds npm ci to 300 s; the driver bounds itself to DRIVER_BUDGET_MS.
const int SETUP_TIMEOUT_MS = 330000;
const int DRIVER_BUDGET_MS = 90000;
const int DRIVER_TIMEOUT_MS = DRIVER_BUDGET_MS + 20000;
const int INSIDE_TIMEOUT_MS = DRIVER_TIMEOUT_MS + 60000;


std::string whySkip()
/// Why this machine cannot run the test, or "".
{
	if (!RedisTestServer::available())
		return RedisTestServer::whyUnavailable();
	if (::access(CHROMIUM.c_str(), X_OK) != 0)
		return "no " + CHROMIUM + " (scripts/install-deps.sh --test installs it)";
	for (const char* tool : {"node", "npm"})
	{
		if (findExecutable(tool).empty())
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	}
	return whyNoNetworkNamespace();
}


// --- inside the namespace ----------------------------------------------------------------------

void configureNode(TestServer& server, const RedisTestServer& redis, const std::string& nodeId,
                   const std::string& keyPrefix)
/// PeerJS as run.sh mounts it (http://127.0.0.1:<main>/myapp, key peerjs), and [cluster] on redis.
{
	addClusterSection(server, redis.port(), nodeId, keyPrefix, 3);
	server.addPlugin("peerjs", "main", "", {{"path", PEERJS_PATH}, {"key", PEERJS_KEY}, {"expire_timeout", "5000"}});
	server.set("host", "shutdown_deadline_ms", "1000");
}


std::string clusterIds(const TestServer& server)
/// The node ids GET /cluster lists, sorted and comma-separated; "(...)" when it cannot be read.
{
	const ClusterView view = fetchCluster(server);
	return view.error.empty() ? view.ids() : "(" + view.error + ")";
}


void checkPeer(const Object::Ptr& result, const std::string& peer, const std::string& node, int port)
/// The peer opened with its own id over a WebSocket to its own node, and got OPEN first.
{
	Object::Ptr p = object(object(result, "peers"), peer);
	const std::string what = peer + " on node " + node + ": ";
	const std::string id = text(p, "id");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "node", node, text(p, "node"));
	CPPUNIT_ASSERT_MESSAGE(what + "no event", !isNull(p, "event"));
	Object::Ptr event = object(p, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "first event", std::string("open"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "open with its id", id, text(event, "id"));
	Array::Ptr urls = array(p, "socketUrls");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "WebSockets", std::size_t(1), urls->size());
	const std::string url = urls->getElement<std::string>(0);
	const std::string expected =
	    "ws://127.0.0.1:" + std::to_string(port) + PEERJS_PATH + "/peerjs?key=" + PEERJS_KEY + "&id=" + id + "&token=";
	CPPUNIT_ASSERT_MESSAGE(what + "WebSocket URL " + url + ", expected it to start with " + expected,
	                       url.compare(0, expected.size(), expected) == 0);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "handshake status", 101L, number(p, "handshakeStatus"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "first frame", OPEN_FRAME, text(p, "firstFrame"));
}


void checkRuns(const Object::Ptr& result)
/// Each DataConnection opened on both sides and echoed; its signaling crossed the nodes unchanged.
{
	Array::Ptr runs = array(result, "runs");
	const char* const names[] = {"alice-to-bob-json", "alice-to-bob-binary", "bob-to-alice-json"};
	CPPUNIT_ASSERT_EQUAL_MESSAGE("DataConnection runs", std::size(names), runs->size());
	for (unsigned i = 0; i < runs->size(); ++i)
	{
		Object::Ptr run = runs->getObject(i);
		const std::string name = text(run, "name");
		const std::string what = name + " (node " + text(run, "fromNode") + " to node " + text(run, "toNode") + "): ";
		CPPUNIT_ASSERT_EQUAL_MESSAGE("run " + std::to_string(i), std::string(names[i]), name);
		std::string errors;
		if (run->isArray("errors"))
		{
			Array::Ptr list = run->getArray("errors");
			for (unsigned k = 0; k < list->size(); ++k)
				errors += " [" + list->getElement<std::string>(k) + "]";
		}
		CPPUNIT_ASSERT_MESSAGE(what + "the remote peer got no 'connection'" + errors, flag(run, "remoteConnection"));
		CPPUNIT_ASSERT_MESSAGE(what + "the DataConnection did not open" + errors, flag(run, "opened"));
		CPPUNIT_ASSERT_MESSAGE(what + "the remote side's DataConnection did not open" + errors,
		                       flag(run, "remoteOpen"));
		CPPUNIT_ASSERT_MESSAGE(what + "the remote peer never received the message" + errors, flag(run, "remoteEchoed"));
		CPPUNIT_ASSERT_MESSAGE(what + "no echo came back" + errors, flag(run, "echoed"));
		CPPUNIT_ASSERT_MESSAGE(what + "the echo differs from what was sent", flag(run, "echoEqual"));

		const std::string from = text(object(object(result, "peers"), text(run, "from")), "id");
		Array::Ptr relays = array(run, "relays");
		int offers = 0, answers = 0, candidates = 0;
		for (unsigned k = 0; k < relays->size(); ++k)
		{
			Object::Ptr pair = relays->getObject(k);
			const std::string type = text(pair, "type");
			const std::string sender = text(pair, "from");
			const std::string where = what + type + " #" + std::to_string(k) + " from " + sender + ": ";
			CPPUNIT_ASSERT_MESSAGE(where + "received but never sent: " + text(pair, "received"), !isNull(pair, "sent"));
			CPPUNIT_ASSERT_MESSAGE(where +
			                           "sent frame not in the client's {type,payload,dst} form: " + text(pair, "sent"),
			                       !isNull(pair, "expected"));
			CPPUNIT_ASSERT_MESSAGE(where + "sent but never received: " + text(pair, "sent").substr(0, 200),
			                       !isNull(pair, "received"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where + "relayed frame", text(pair, "expected"), text(pair, "received"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where + "relayed frame opcode (1 = text)", 1L, number(pair, "receivedOpcode"));
			offers += type == "OFFER" && sender == from;
			answers += type == "ANSWER" && sender != from;
			candidates += type == "CANDIDATE";
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "OFFERs relayed from the initiator", 1, offers);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "ANSWERs relayed from the other peer", 1, answers);
		CPPUNIT_ASSERT_MESSAGE(what + "no CANDIDATE relayed", candidates > 0);
	}
}


void checkIdTaken(const Object::Ptr& result)
/// A peer on node B asking for the id node A holds gets unavailable-id; Alice stays open.
{
	Object::Ptr taken = object(result, "taken");
	const std::string id = text(taken, "id");
	CPPUNIT_ASSERT_MESSAGE("alice's id on node b: no event", !isNull(taken, "event"));
	Object::Ptr event = object(taken, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's id on node b: event", std::string("error"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's id on node b: error type", std::string("unavailable-id"),
	                             text(event, "type"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's id on node b: message", "ID \"" + id + "\" is taken", text(event, "message"));
	Array::Ptr received = array(taken, "received");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's id on node b: frames", std::size_t(1), received->size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's id on node b: frame", ID_TAKEN_FRAME, received->getElement<std::string>(0));
	CPPUNIT_ASSERT_MESSAGE("alice lost her open state", flag(taken, "aliceStillOpen"));
}


void runInside(const std::string& work)
/// PID 1 of the namespace: network, redis, nodes a and b, the driver, the assertions.
{
	setUpNamespaceNetwork();
	RedisTestServer redis;
	redis.start();
	TestServer a, b;
	configureNode(a, redis, "a", "pjb:");
	configureNode(b, redis, "b", "pjb:");
	a.start();
	b.start();
	std::string ids;
	waitUntil(5000, 50, [&] { return (ids = clusterIds(a)) == "a,b"; });
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node a's /cluster", std::string("a,b"), ids);

	const std::string out = work + "/result.json";
	const std::string userData = work + "/user-data";
	::mkdir(userData.c_str(), 0700);
	const TestServer::RunResult run =
	    TestServer::runOnce({BROWSER_DIR + "/cluster-driver.js", "--cache", NPM_CACHE, "--port-a",
	                         std::to_string(a.port("main")), "--port-b", std::to_string(b.port("main")), "--page-port",
	                         std::to_string(PortPicker::pick()), "--out", out, "--user-data-dir", userData, "--path",
	                         PEERJS_PATH, "--key", PEERJS_KEY, "--budget-ms", std::to_string(DRIVER_BUDGET_MS)},
	                        DRIVER_TIMEOUT_MS, findExecutable("node"));
	std::cout << "\n" << run.stdoutText << std::flush;
	CPPUNIT_ASSERT_MESSAGE("tests/browser/cluster-driver.js wrote no result: " + run.describe(),
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
	const std::string fatal = isNull(result, "fatal") ? "" : text(result, "fatal");
	CPPUNIT_ASSERT_MESSAGE("the browser run did not complete: " + fatal + "\n" + run.describe(),
	                       flag(result, "completed"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/cluster-driver.js: " + run.describe(), 0, run.exitCode);

	checkPeer(result, "alice", "a", a.port("main"));
	checkPeer(result, "bob", "b", b.port("main"));
	checkRuns(result);
	checkIdTaken(result);
	Array::Ptr pageErrors = array(result, "pageErrors");
	CPPUNIT_ASSERT_MESSAGE("uncaught exceptions in the pages: " + std::to_string(pageErrors->size()),
	                       pageErrors->size() == 0);

	CPPUNIT_ASSERT_EQUAL_MESSAGE("node a stops cleanly", 0, a.stop());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("node b stops cleanly", 0, b.stop());
}


} // namespace


class PeerJsBrowserClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsBrowserClusterTest);
	CPPUNIT_TEST(testDataConnectionsAcrossNodes);
	CPPUNIT_TEST_SUITE_END();

public:
	void testDataConnectionsAcrossNodes()
	/// Two peers of the real client on two nodes: DataConnections both ways, echoes, a taken id.
	{
		const char* inside = std::getenv(INSIDE_VARIABLE);
		if (inside != nullptr && std::string(inside) == "1")
		{
			const char* work = std::getenv(WORK_VARIABLE);
			CPPUNIT_ASSERT_MESSAGE(std::string(WORK_VARIABLE) + " is not set", work != nullptr);
			runInside(work);
			return;
		}
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::cout << "\nPeerJsBrowserClusterTest: skipped: " << skip << std::endl;
			return;
		}
		const TestServer::RunResult setup =
		    TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		TempDir work("switchboard-peerjs-cluster-browser");
		const TestServer::RunResult run =
		    TestServer::runOnce(unshareArguments(TEST_NAME), INSIDE_TIMEOUT_MS, findExecutable("unshare"),
		                        {{INSIDE_VARIABLE, "1"}, {WORK_VARIABLE, work.path()}});
		std::cout << "\n" << run.stdoutText << std::flush;
		if (run.exitCode != 0)
		{
			work.keep();
			CPPUNIT_FAIL("the run in the namespace failed (work dir " + work.path() +
			             " kept: result.json, user-data)\n" + run.describe());
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsBrowserClusterTest);
