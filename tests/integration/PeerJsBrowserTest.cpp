//
// PeerJsBrowserTest.cpp
//
// The official PeerJS client (npm peerjs 1.5.5) in headless Chromium against the PeerJS plugin:
// the real-browser cases of docs/protocols/peerjs.md §18.8, run by tests/browser/run.sh in a private network
// namespace; tests/browser/driver.js records what happened and this runner asserts on it.
//


#include "BrowserTestSupport.h"
#include "TempDir.h"
#include "TestServer.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;
using namespace Switchboard::Test::Browser;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
// setup.sh bounds npm ci to 300 s; run.sh bounds the driver to --budget plus 20 s.
const int SETUP_TIMEOUT_MS = 330000;
const int RUN_BUDGET_S = 90;
const int RUN_TIMEOUT_MS = 120000;
const std::string OPEN_FRAME = "{\"type\":\"OPEN\"}";
const std::string HEARTBEAT_FRAME = "{\"type\":\"HEARTBEAT\"}";
const std::regex UUID_V4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");


enum class Server
{
	SWITCHBOARD,
	REFERENCE
};


std::vector<std::string> strings(const Object::Ptr& parent, const std::string& key)
{
	std::vector<std::string> out;
	Array::Ptr items = array(parent, key);
	for (std::size_t i = 0; i < items->size(); ++i)
		out.push_back(items->getElement<std::string>(static_cast<unsigned>(i)));
	return out;
}

std::string join(const std::vector<std::string>& items)
{
	std::string out;
	for (const std::string& item : items)
		out += (out.empty() ? "" : " | ") + item;
	return "[" + out + "]";
}


// Case 1: Bob without an id gets one from GET <path>/peerjs/id, cross-origin, then OPEN and open.
void checkServerAssignedId(const Object::Ptr& result)
{
	const std::string origin = text(result, "pageOrigin");
	const std::string signaling = text(result, "signaling");
	Object::Ptr bob = object(object(result, "cases"), "bob");
	Array::Ptr requests = array(bob, "idRequests");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: HTTP requests for an id", std::size_t(1), requests->size());
	Object::Ptr request = requests->getObject(0);
	const std::string url = text(request, "url");
	CPPUNIT_ASSERT_MESSAGE("case 1: id request URL " + url,
	                       std::regex_match(url, std::regex(std::regex_replace(signaling, std::regex("\\."), "\\.") +
	                                                        "/peerjs/id\\?ts=[0-9]+(\\.[0-9]+)?&version=1\\.5\\.5")));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: id request method", std::string("GET"), text(request, "method"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: /id status", 200L, number(request, "status"));
	CPPUNIT_ASSERT_MESSAGE("case 1: /id has no Access-Control-Allow-Origin", !isNull(request, "acao"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: /id Access-Control-Allow-Origin", origin, text(request, "acao"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: /id Content-Type", std::string("text/html; charset=utf-8"),
	                             text(request, "contentType"));
	const std::string id = text(request, "body");
	CPPUNIT_ASSERT_MESSAGE("case 1: /id body is not a version 4 UUID: " + id, std::regex_match(id, UUID_V4));

	Object::Ptr event = object(bob, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: Bob's first event", std::string("open"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: open fires with the id from /id", id, text(event, "id"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: Bob's id", id, text(bob, "id"));
	const std::string socketUrl = text(bob, "socketUrl");
	const std::string wsBase = "ws" + signaling.substr(4) + "/peerjs?key=peerjs&id=" + id + "&token=";
	CPPUNIT_ASSERT_MESSAGE(
	    "case 1: WebSocket URL " + socketUrl,
	    socketUrl.rfind(wsBase, 0) == 0 &&
	        std::regex_match(socketUrl.substr(wsBase.size()), std::regex("[a-z0-9]+&version=1\\.5\\.5")));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: handshake status", 101L, number(bob, "handshakeStatus"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 1: Bob's first frame", OPEN_FRAME, text(bob, "firstFrame"));
}


// Case 2: Alice with her own id: no HTTP request, OPEN, open.
std::string checkOwnId(const Object::Ptr& result)
{
	Object::Ptr alice = object(object(result, "cases"), "alice");
	const std::string id = text(alice, "requestedId");
	CPPUNIT_ASSERT_MESSAGE("case 2: Alice's id " + id, std::regex_match(id, std::regex("alice-[a-z0-9]{6}")));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 2: HTTP requests for an id", 0L, number(alice, "idRequestsDuring"));
	Object::Ptr event = object(alice, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 2: Alice's first event", std::string("open"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 2: open fires with Alice's id", id, text(event, "id"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 2: Alice's first frame", OPEN_FRAME, text(alice, "firstFrame"));
	return id;
}


// Case 3: DataConnections with json and binary serialization; the signaling frames they caused
// are relayed with src set and the payload bytes unchanged (the expected frame is built from the
// sent frame's payload text by the driver; here received must equal it exactly).
void checkDataConnections(const Object::Ptr& result, const std::string& aliceId)
{
	Array::Ptr runs = array(object(object(result, "cases"), "connect"), "runs");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 3: connection runs", std::size_t(2), runs->size());
	const char* serializations[] = {"json", "binary"};
	for (unsigned i = 0; i < 2; ++i)
	{
		Object::Ptr run = runs->getObject(i);
		const std::string what = std::string("case 3 (") + serializations[i] + "): ";
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "serialization", std::string(serializations[i]),
		                             text(run, "serialization"));
		CPPUNIT_ASSERT_MESSAGE(what + "Bob got no 'connection' from Alice", flag(run, "bobConnection"));
		CPPUNIT_ASSERT_MESSAGE(what + "Alice's DataConnection did not open", flag(run, "opened"));
		CPPUNIT_ASSERT_MESSAGE(what + "Bob's DataConnection did not open", flag(run, "bobConnectionOpen"));
		CPPUNIT_ASSERT_MESSAGE(what + "no echo from Bob", flag(run, "echoed") && flag(run, "bobEchoed"));
		CPPUNIT_ASSERT_MESSAGE(what + "the echo differs from what Alice sent", flag(run, "echoEqual"));

		Array::Ptr relays = array(run, "relays");
		int offers = 0, answers = 0, candidates = 0;
		for (unsigned k = 0; k < relays->size(); ++k)
		{
			Object::Ptr pair = relays->getObject(k);
			const std::string type = text(pair, "type");
			const std::string from = text(pair, "from");
			const std::string where = what + type + " #" + std::to_string(k) + " from " + from + ": ";
			CPPUNIT_ASSERT_MESSAGE(where + "received but never sent", !isNull(pair, "sent"));
			CPPUNIT_ASSERT_MESSAGE(where +
			                           "sent frame not in the client's {type,payload,dst} form: " + text(pair, "sent"),
			                       !isNull(pair, "expected"));
			CPPUNIT_ASSERT_MESSAGE(where + "sent but never received: " + text(pair, "sent").substr(0, 200),
			                       !isNull(pair, "received"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where + "relayed frame", text(pair, "expected"), text(pair, "received"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where + "relayed payload", text(pair, "sentPayload"),
			                             text(pair, "receivedPayload"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where + "relayed frame opcode (1 = text)", 1L, number(pair, "receivedOpcode"));
			offers += type == "OFFER" && from == aliceId;
			answers += type == "ANSWER" && from != aliceId;
			candidates += type == "CANDIDATE";
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "OFFERs relayed from Alice", 1, offers);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "ANSWERs relayed from Bob", 1, answers);
		CPPUNIT_ASSERT_MESSAGE(what + "no CANDIDATE relayed", candidates > 0);
	}
}


// Case 4: a third Peer with Alice's id gets unavailable-id; Alice is unaffected.
void checkIdTaken(const Object::Ptr& result, const std::string& aliceId)
{
	Object::Ptr taken = object(object(result, "cases"), "taken");
	Object::Ptr event = object(taken, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: event", std::string("error"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: error type", std::string("unavailable-id"), text(event, "type"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: error message", "ID \"" + aliceId + "\" is taken", text(event, "message"));
	const std::vector<std::string> received = strings(taken, "received");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: frames received " + join(received), std::size_t(1), received.size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE(
	    "case 4: frame", std::string("{\"type\":\"ID-TAKEN\",\"payload\":{\"msg\":\"ID is taken\"}}"), received[0]);
	CPPUNIT_ASSERT_MESSAGE("case 4: the refused socket was not closed", flag(taken, "socketClosed"));
	// A close frame without a status code, which the browser reports as 1005 (§5.2).
	Array::Ptr closes = array(taken, "closes");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: sockets of the refused Peer", std::size_t(1), closes->size());
	CPPUNIT_ASSERT_MESSAGE("case 4: the refused socket has no close code", !isNull(closes->getObject(0), "closeCode"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 4: close code of the refused socket", 1005L,
	                             number(closes->getObject(0), "closeCode"));
	CPPUNIT_ASSERT_MESSAGE("case 4: Alice lost her open state", flag(object(taken, "aliceState"), "open"));
	CPPUNIT_ASSERT_MESSAGE("case 4: Alice's socket was closed", flag(taken, "aliceSocketOpen"));
}


// Case 5: a connection to an id nobody has ends in one EXPIRE and peer-unavailable after >= 5 s.
void checkExpire(const Object::Ptr& result, const std::string& aliceId, Server server)
{
	Object::Ptr expire = object(object(result, "cases"), "expire");
	CPPUNIT_ASSERT_MESSAGE("case 5: no error event on Alice", !isNull(expire, "event"));
	Object::Ptr event = object(expire, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 5: error type", std::string("peer-unavailable"), text(event, "type"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 5: error message", std::string("Could not connect to peer nobody-here"),
	                             text(event, "message"));
	const long afterMs = number(expire, "errorAfterMs");
	CPPUNIT_ASSERT_MESSAGE("case 5: peer-unavailable after " + std::to_string(afterMs) + " ms, before 5000 ms",
	                       afterMs >= 5000);
	// expire_timeout plus the 1 s check tolerance (§2), plus slack for a loaded machine.
	CPPUNIT_ASSERT_MESSAGE("case 5: peer-unavailable only after " + std::to_string(afterMs) + " ms", afterMs <= 7500);
	Array::Ptr errors = array(expire, "errors");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 5: error events on Alice", std::size_t(1), errors->size());
	const std::vector<std::string> types = strings(expire, "sentTypes");
	CPPUNIT_ASSERT_MESSAGE("case 5: Alice sent no OFFER to nobody-here " + join(types),
	                       !types.empty() && types[0] == "OFFER");
	const std::vector<std::string> frames = strings(expire, "expireFrames");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 5: EXPIRE frames " + join(frames), std::size_t(1), frames.size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE(
	    "case 5: EXPIRE frame", "{\"type\":\"EXPIRE\",\"src\":\"nobody-here\",\"dst\":\"" + aliceId + "\"}", frames[0]);
	if (server == Server::SWITCHBOARD)
	{
		// Every queued message is kept its full expire_timeout (§9.2), the last candidate too.
		const long afterLast = number(expire, "expireAfterLastSendMs");
		CPPUNIT_ASSERT_MESSAGE("case 5: EXPIRE " + std::to_string(afterLast) + " ms after the last queued message",
		                       afterLast >= 5000);
	}
}


// Case 6: disconnect() + reconnect() fires open again; name is "reconnect" (the old socket's
// close reached the server) or "reattach" (it did not: the server must reattach, §5.3).
void checkReconnect(const Object::Ptr& result, const std::string& name, const std::string& aliceId)
{
	Object::Ptr c = object(object(result, "cases"), name);
	const std::string what = "case 6 (" + name + "): ";
	CPPUNIT_ASSERT_MESSAGE(what + "no event after reconnect()", !isNull(c, "event"));
	Object::Ptr event = object(c, "event");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "event after reconnect()", std::string("open"), text(event, "kind"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "open id", aliceId, text(event, "id"));
	Array::Ptr sockets = array(c, "newSockets");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "new sockets", std::size_t(1), sockets->size());
	Object::Ptr socket = sockets->getObject(0);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "handshake status", 101L, number(socket, "handshakeStatus"));
	const std::vector<std::string> received = strings(socket, "received");
	CPPUNIT_ASSERT_MESSAGE(what + "frames on the new socket " + join(received),
	                       !received.empty() && received[0] == OPEN_FRAME);
	CPPUNIT_ASSERT_MESSAGE(what + "Bob cannot reach the reconnected Alice",
	                       c->isObject("bobToAlice") && flag(object(c, "bobToAlice"), "echoEqual"));
	if (name == "reattach")
	{
		Object::Ptr old = object(c, "oldSocket");
		CPPUNIT_ASSERT_MESSAGE(what + "the superseded socket was not closed by the server", !isNull(old, "closeCode"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "close code of the superseded socket", 4000L, number(old, "closeCode"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "close reason of the superseded socket", std::string("superseded"),
		                             text(old, "closeReason"));
	}
}


// Case 7: HEARTBEAT about every 5 s from an idle client, and nothing sent back.
void checkHeartbeats(const Object::Ptr& result)
{
	Object::Ptr hb = object(object(result, "cases"), "heartbeat");
	CPPUNIT_ASSERT_MESSAGE("case 7: Carol never opened", flag(hb, "carolOpen"));
	CPPUNIT_ASSERT_MESSAGE("case 7: Carol's socket was closed", flag(hb, "carolSocketOpen"));
	const std::vector<std::string> sent = strings(hb, "sent");
	CPPUNIT_ASSERT_MESSAGE("case 7: Carol sent " + join(sent), sent.size() >= 3);
	for (const std::string& frame : sent)
		CPPUNIT_ASSERT_EQUAL_MESSAGE("case 7: frame sent by idle Carol", HEARTBEAT_FRAME, frame);
	const long first = number(hb, "firstAfterOpenMs");
	CPPUNIT_ASSERT_MESSAGE("case 7: first HEARTBEAT " + std::to_string(first) + " ms after open",
	                       first >= 4500 && first <= 6000);
	Array::Ptr intervals = array(hb, "intervalsMs");
	for (unsigned i = 0; i < intervals->size(); ++i)
	{
		const long ms = static_cast<long>(intervals->getElement<double>(i));
		CPPUNIT_ASSERT_MESSAGE("case 7: HEARTBEAT interval " + std::to_string(ms) + " ms", ms >= 4500 && ms <= 6000);
	}
	const std::vector<std::string> received = strings(hb, "received");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 7: frames received by idle Carol " + join(received), std::size_t(1),
	                             received.size());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("case 7: Carol's only frame", OPEN_FRAME, received[0]);
	const std::vector<std::string> replies = strings(hb, "heartbeatTypedFramesReceived");
	CPPUNIT_ASSERT_MESSAGE("case 7: HEARTBEAT frames sent to clients " + join(replies), replies.empty());
}


} // namespace


class PeerJsBrowserTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsBrowserTest);
	CPPUNIT_TEST(testOfficialClientAgainstSwitchboard);
	CPPUNIT_TEST(testHarnessAgainstReferenceServer);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOfficialClientAgainstSwitchboard()
	/// Every case of §18.8 against the real binary with the peerjs plugin.
	{
		TempDir work("switchboard-browser");
		Object::Ptr result = runBrowser(work, Server::SWITCHBOARD);
		keepOnFailure(work, [&] {
			checkServerAssignedId(result);
			const std::string aliceId = checkOwnId(result);
			checkDataConnections(result, aliceId);
			checkIdTaken(result, aliceId);
			checkExpire(result, aliceId, Server::SWITCHBOARD);
			checkReconnect(result, "reconnect", aliceId);
			checkReconnect(result, "reattach", aliceId);
			checkHeartbeats(result);
		});
	}

	void testHarnessAgainstReferenceServer()
	/// The same run against the official server (npm peer 1.0.2), so that a wrong expectation of
	/// the harness shows up as a failure there. Case 6 is only reported: the reference sends no
	/// OPEN on a reattach (peerjs.md §15 #1), and only our fixes are asserted for Switchboard.
	{
		TempDir work("switchboard-browser-ref");
		Object::Ptr result = runBrowser(work, Server::REFERENCE);
		keepOnFailure(work, [&] {
			checkServerAssignedId(result);
			const std::string aliceId = checkOwnId(result);
			checkDataConnections(result, aliceId);
			checkIdTaken(result, aliceId);
			checkExpire(result, aliceId, Server::REFERENCE);
			checkHeartbeats(result);
		});
		Object::Ptr cases = object(result, "cases");
		std::cout << "reference server, case 6: open after reconnect() "
		          << (flag(object(cases, "reconnect"), "reopened") ? "fired" : "did not fire")
		          << "; after reconnect() with the old socket still registered (reattach) "
		          << (flag(object(cases, "reattach"), "reopened") ? "fired" : "did not fire") << std::endl;
	}

private:
	static Object::Ptr runBrowser(TempDir& work, Server server)
	/// Installs the npm packages if missing, runs run.sh and returns the driver's result.
	{
		TestServer::RunResult setup = TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		const std::string out = work.filePath("result.json");
		std::vector<std::string> args = {"--cache", NPM_CACHE, "--work",   work.filePath("run"),
		                                 "--out",   out,       "--budget", std::to_string(RUN_BUDGET_S)};
		if (server == Server::SWITCHBOARD)
			args.insert(args.end(), {"--server", "switchboard", "--binary", TestServer::defaultBinary(), "--plugin-dir",
			                         TestServer::defaultPluginDir()});
		else
			args.insert(args.end(), {"--server", "reference"});
		TestServer::RunResult run = TestServer::runOnce(args, RUN_TIMEOUT_MS, BROWSER_DIR + "/run.sh");
		std::cout << run.stdoutText << std::flush;
		if (run.exitCode != 0 || !work.exists("result.json"))
			work.keep();
		CPPUNIT_ASSERT_MESSAGE("tests/browser/run.sh wrote no result: " + run.describe(), work.exists("result.json"));
		Object::Ptr result;
		try
		{
			result = Poco::JSON::Parser().parse(readAll(out)).extract<Object::Ptr>();
		}
		catch (const Poco::Exception& e)
		{
			work.keep();
			CPPUNIT_FAIL("unreadable " + out + ": " + e.displayText());
		}
		const std::string fatal = result->has("fatal") && !result->isNull("fatal") ? text(result, "fatal") : "";
		CPPUNIT_ASSERT_MESSAGE("the browser run did not complete: " + fatal + "\n" + run.describe(),
		                       flag(result, "completed"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/run.sh: " + run.describe(), 0, run.exitCode);
		return result;
	}

	template <typename Checks>
	static void keepOnFailure(TempDir& work, Checks checks)
	/// Runs the assertions; on a failure keeps the work dir (result.json, server log) for a look.
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
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsBrowserTest);
