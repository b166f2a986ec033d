//
// TogetherGatewayIntegrationTest.cpp
//
// The real switchboard binary with the Together plugin on its own loopback listener: the gateway
// cases 19-39 of docs/protocols/together.md §9.2. READY, the 4001 and 4002 closes, ignored input,
// heartbeats, message fan-out, presence, several sessions per user, voice events and their cleanup,
// the VOICE_SIGNAL relay and its refusals, bound voice, live membership, the frame size, rate and
// heartbeat limits, slow consumers, the Origin check, token expiry, the session cap, graceful
// shutdown and no event loss at connect.
//
// Most cases share one server (defaults, the fixed test secret, no auth rate limit); the cases that
// need another configuration get a server of their own. Every case makes its own users, so cases
// on the shared server cannot see each other's events.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include "WsTestClient.h"
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Together;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const std::string HEARTBEAT = "{\"op\":\"HEARTBEAT\"}";
const std::string ACK = "{\"op\":\"HEARTBEAT_ACK\"}";
const std::vector<std::string> VOICE_KEYS = {"channel_id", "deafened",    "joined_at",   "muted",   "self_deaf",
                                             "self_mute",  "server_deaf", "server_mute", "user_id", "username"};


TestServer& serverFor(const std::string& name, const TestServer::Keys& keys = {})
/// One running server per configuration name, started on first use, restarted if it has died (so
/// a crash fails the case that caused it and is reported, without failing every later case) and
/// killed at exit. Cheap password hashing (the brief allows it; the REST suite covers the
/// defaults): the cases here make many users.
{
	static std::map<std::string, std::unique_ptr<TestServer>> servers;
	std::unique_ptr<TestServer>& slot = servers[name];
	if (slot && slot->running())
		return *slot;
	if (slot && slot->pid() == -1 && slot->lastExit().known)
		std::cerr << "\n[together] server '" << name << "' had exited: " << slot->lastExit().describe() << "\n"
		          << slot->logTail(60) << std::endl;
	slot.reset(new TestServer());
	TestServer::Keys all = {{"password.opslimit", "1"}, {"password.memlimit", "8192"}};
	for (const auto& key : keys)
		all[key.first] = key.second;
	configure(*slot, all);
	slot->start();
	return *slot;
}

TestServer& shared()
/// Defaults plus the fixed jwt_secret and auth_rate_limit.per_second = 0 (configure()).
{
	return serverFor("shared");
}


// ---- JSON --------------------------------------------------------------------------------------

std::string canonical(const Poco::Dynamic::Var& value)
/// A JSON text with object keys sorted, so two values compare equal as JSON values.
{
	if (value.isEmpty())
		return "null";
	if (value.type() == typeid(Object::Ptr))
	{
		Object::Ptr object = value.extract<Object::Ptr>();
		if (!object)
			return "null";
		std::vector<std::string> names = object->getNames();
		std::sort(names.begin(), names.end());
		std::string out = "{";
		for (std::size_t i = 0; i < names.size(); ++i)
			out += (i ? "," : "") + quote(names[i]) + ":" + canonical(object->get(names[i]));
		return out + "}";
	}
	if (value.type() == typeid(Array::Ptr))
	{
		Array::Ptr array = value.extract<Array::Ptr>();
		if (!array)
			return "null";
		std::string out = "[";
		for (std::size_t i = 0; i < array->size(); ++i)
			out += (i ? "," : "") + canonical(array->get(static_cast<unsigned>(i)));
		return out + "]";
	}
	if (value.isString())
		return quote(value.extract<std::string>());
	if (value.isBoolean())
		return value.extract<bool>() ? "true" : "false";
	if (value.isInteger())
		return value.convert<std::string>();
	if (value.isNumeric())
	{
		std::ostringstream out;
		out.precision(17);
		out << value.convert<double>();
		return out.str();
	}
	return stringify(value);
}

void assertJsonEqual(const std::string& what, const Poco::Dynamic::Var& expected, const Poco::Dynamic::Var& actual)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what, canonical(expected), canonical(actual));
}

std::string commaList(const std::vector<std::string>& items)
{
	std::string out;
	for (const std::string& item : items)
		out += (out.empty() ? "" : ",") + item;
	return out;
}

void assertKeys(const std::string& what, std::vector<std::string> expected, const Object::Ptr& object)
/// object has exactly the keys expected.
{
	CPPUNIT_ASSERT_MESSAGE(what + ": not an object", object);
	std::vector<std::string> names = object->getNames();
	std::sort(names.begin(), names.end());
	std::sort(expected.begin(), expected.end());
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": keys of " + stringify(object), commaList(expected), commaList(names));
}

bool isNull(const Object::Ptr& object, const std::string& key)
/// True when the key is present with the value null.
{
	return object->has(key) && object->get(key).isEmpty();
}

// A raw scanner for the text of one member's value, so a relayed value can be compared byte for
// byte with what was sent (key order, number text).

std::size_t skipSpace(const std::string& json, std::size_t i)
{
	while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		++i;
	return i;
}

std::size_t skipString(const std::string& json, std::size_t i)
{
	for (++i; i < json.size(); ++i)
	{
		if (json[i] == '\\')
			++i;
		else if (json[i] == '"')
			return i + 1;
	}
	throw std::runtime_error("unterminated string in " + json);
}

std::size_t skipValue(const std::string& json, std::size_t i)
{
	i = skipSpace(json, i);
	if (i >= json.size())
		throw std::runtime_error("value expected in " + json);
	if (json[i] == '"')
		return skipString(json, i);
	if (json[i] == '{' || json[i] == '[')
	{
		int depth = 0;
		while (i < json.size())
		{
			const char c = json[i];
			if (c == '"')
			{
				i = skipString(json, i);
				continue;
			}
			if (c == '{' || c == '[')
				++depth;
			else if ((c == '}' || c == ']') && --depth == 0)
				return i + 1;
			++i;
		}
		throw std::runtime_error("unterminated value in " + json);
	}
	std::size_t end = i;
	while (end < json.size() && json[end] != ',' && json[end] != '}' && json[end] != ']' && json[end] != ' ' &&
	       json[end] != '\n' && json[end] != '\r' && json[end] != '\t')
		++end;
	return end;
}

std::string rawMember(const std::string& json, const std::string& key)
/// The exact text of key's value in the JSON object json (top level); throws when absent.
{
	std::size_t i = skipSpace(json, 0);
	if (i >= json.size() || json[i] != '{')
		throw std::runtime_error("not an object: " + json);
	++i;
	for (;;)
	{
		i = skipSpace(json, i);
		if (i >= json.size() || json[i] != '"')
			break;
		const std::size_t keyEnd = skipString(json, i);
		const std::string name = json.substr(i + 1, keyEnd - i - 2);
		i = skipSpace(json, keyEnd);
		if (i >= json.size() || json[i] != ':')
			break;
		i = skipSpace(json, i + 1);
		const std::size_t valueEnd = skipValue(json, i);
		if (name == key)
			return json.substr(i, valueEnd - i);
		i = skipSpace(json, valueEnd);
		if (i < json.size() && json[i] == ',')
			++i;
	}
	throw std::runtime_error("no member " + key + " in " + json);
}

// ---- Gateway frames ----------------------------------------------------------------------------

std::string describeClosePayload(const std::string& payload)
{
	if (payload.size() < 2)
		return "close frame without a code";
	const int code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
	return "close " + std::to_string(code) + " '" + payload.substr(2) + "'";
}

std::string nextText(WsTestClient& client, int timeoutMs = WAIT_MS)
/// The next whole message, which must be text: its exact payload.
{
	WsTestClient::Message message = client.receiveMessage(timeoutMs);
	if (message.ok() && message.opcode == WsTestClient::OPCODE_CLOSE)
		CPPUNIT_FAIL("expected a text frame, got " + describeClosePayload(message.payload));
	CPPUNIT_ASSERT_MESSAGE("expected a text frame, got none (" + message.error + ")", message.ok());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("opcode of a frame with payload " + message.payload,
	                             static_cast<int>(WsTestClient::OPCODE_TEXT), message.opcode);
	return message.payload;
}

Object::Ptr readyOf(const std::string& frameText)
/// A READY frame's d; fails for any other frame.
{
	Object::Ptr frame = object(frameText);
	CPPUNIT_ASSERT_MESSAGE("first frame must be READY: " + frameText,
	                       frame->optValue<std::string>("op", "") == "DISPATCH" &&
	                           frame->optValue<std::string>("t", "") == "READY");
	Object::Ptr d = frame->getObject("d");
	CPPUNIT_ASSERT_MESSAGE("READY d is an object: " + frameText, d);
	return d;
}

Object::Ptr connectReady(WsTestClient& client, TestServer& server, const std::string& pathAndQuery,
                         const WsTestClient::Headers& headers = {})
/// A connect that must give 101 and READY as the first frame; READY's d.
{
	client.setAutoPong(true);
	HttpResponse response = client.connect(LOOPBACK, port(server), pathAndQuery, headers, WAIT_MS);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(pathAndQuery + ": " + response.rawHead + response.body, 101, response.status);
	return readyOf(nextText(client));
}

WsTestClient::CloseInfo expectClosed(WsTestClient& client, int code, const std::string& reason, bool nothingBefore,
                                     int timeoutMs = WAIT_MS)
/// The server closes the session with code and reason (answered with a close, then EOF within the
/// timeout); with nothingBefore, no frame at all arrived before the close.
{
	WsTestClient::CloseInfo info = client.expectClose(timeoutMs);
	std::string skipped;
	for (const WsTestClient::Frame& frame : info.skippedFrames)
		skipped += "\n    " + frame.payload.substr(0, 300);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("close code (-1 = TCP closed without a close frame, -2 = nothing within " +
	                                 std::to_string(timeoutMs) + " ms; reason '" + info.reason +
	                                 "'; frames before it:" + skipped + ")",
	                             code, info.code);
	if (nothingBefore)
		CPPUNIT_ASSERT_MESSAGE("frames before the close:" + skipped, info.skippedFrames.empty());
	CPPUNIT_ASSERT_MESSAGE("TCP still open after the close handshake", info.eof);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("close reason", reason, info.reason);
	return info;
}

void settle()
/// After a socket closed, time for the server's teardown before a sentinel checks that it caused
/// nothing (a close has no reply that tells its teardown is over).
{
	std::this_thread::sleep_for(std::chrono::milliseconds(QUIET_MS));
}

std::map<std::string, Object::Ptr> nextDispatches(WsTestClient& client, int count)
/// The next count frames, DISPATCHes of distinct types in any order: type -> d.
{
	std::map<std::string, Object::Ptr> out;
	for (int i = 0; i < count; ++i)
	{
		Object::Ptr frame = nextFrame(client);
		CPPUNIT_ASSERT_MESSAGE(stringify(frame), frame->optValue<std::string>("op", "") == "DISPATCH");
		const std::string type = frame->optValue<std::string>("t", "");
		CPPUNIT_ASSERT_MESSAGE("two frames of type " + type, out.count(type) == 0);
		out[type] = frame->getObject("d");
	}
	return out;
}

std::string voiceSignal(const std::string& toUserId, const std::string& rawSignal)
{
	return "{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(toUserId) + ",\"signal\":" + rawSignal + "}}";
}

void expectSignal(WsTestClient& client, const std::string& fromUserId, const std::string& rawSignal)
/// The next frame is {"op":"DISPATCH","t":"VOICE_SIGNAL","d":{"from_user_id":from,"signal":<raw>}}
/// with the signal's text byte for byte as sent.
{
	const std::string frameText = nextText(client);
	Object::Ptr frame = object(frameText);
	assertKeys("VOICE_SIGNAL frame", {"op", "t", "d"}, frame);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(frameText, std::string("DISPATCH"), text(frame, "op"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(frameText, std::string("VOICE_SIGNAL"), text(frame, "t"));
	Object::Ptr d = frame->getObject("d");
	assertKeys("VOICE_SIGNAL d", {"from_user_id", "signal"}, d);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(frameText, fromUserId, text(d, "from_user_id"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("the relayed signal's text in " + frameText, rawSignal,
	                             rawMember(rawMember(frameText, "d"), "signal"));
}


// ---- REST --------------------------------------------------------------------------------------

struct World
/// alice owns S (text channel T, voice channel V); bob is a member; carol shares no server.
{
	User alice;
	User bob;
	User carol;
	std::string serverId;
	std::string textId;
	std::string voiceId;
};

World makeWorld(TestServer& server)
{
	World world;
	world.alice = registerUser(server, "alice");
	world.bob = registerUser(server, "bob");
	world.carol = registerUser(server, "carol");
	world.serverId = createServer(server, world.alice, "S");
	joinServer(server, world.bob, world.serverId);
	world.textId = createChannel(server, world.alice, world.serverId, "general", "text");
	world.voiceId = createChannel(server, world.alice, world.serverId, "Voice", "voice");
	return world;
}

void expectVoiceState(WsTestClient& client, const Object::Ptr& expected)
/// The next frame is VOICE_STATE_UPDATE with d equal to expected.
{
	Object::Ptr d = nextDispatch(client, "VOICE_STATE_UPDATE");
	assertJsonEqual("VOICE_STATE_UPDATE d", expected, d);
}

void expectVoiceLeave(WsTestClient& client, const User& user)
/// The next frame is the leave VOICE_STATE_UPDATE of user (§5.5).
{
	Object::Ptr d = nextDispatch(client, "VOICE_STATE_UPDATE");
	assertKeys("leave VOICE_STATE_UPDATE", VOICE_KEYS, d);
	assertJsonEqual("leave VOICE_STATE_UPDATE d",
	                parse("{\"user_id\":" + quote(user.id) +
	                      ",\"channel_id\":null,\"username\":" + quote(user.username) +
	                      ",\"muted\":false,\"deafened\":false,\"self_mute\":false,\"self_deaf\":false,"
	                      "\"server_mute\":false,\"server_deaf\":false,\"joined_at\":null}"),
	                d);
}

std::vector<std::string> voiceParticipants(TestServer& server, const User& viewer, const std::string& channelId)
{
	HttpResponse response = call(server, "GET", "/channels/" + channelId + "/voice", viewer.accessToken);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(response.body, 200, response.status);
	Poco::Dynamic::Var list = parse(response.body);
	CPPUNIT_ASSERT_MESSAGE(response.body, list.type() == typeid(Array::Ptr));
	std::vector<std::string> ids;
	Array::Ptr array = list.extract<Array::Ptr>();
	for (std::size_t i = 0; i < array->size(); ++i)
		ids.push_back(text(array->getObject(static_cast<unsigned>(i)), "user_id"));
	return ids;
}


std::int64_t kernelSendBufferMax()
/// The largest send buffer TCP autotuning may give a socket: tcp_wmem's third field.
{
	std::ifstream file("/proc/sys/net/ipv4/tcp_wmem");
	std::int64_t minimum = 0, initial = 0, maximum = 0;
	if (file >> minimum >> initial >> maximum && maximum > 0)
		return maximum;
	return 4194304;
}


} // namespace


class TogetherGatewayIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherGatewayIntegrationTest);
	CPPUNIT_TEST(testReadyFirst);
	CPPUNIT_TEST(testAuthFailuresClose4001);
	CPPUNIT_TEST(testInvalidFramesClose4002);
	CPPUNIT_TEST(testIgnoredInputKeepsSessionOpen);
	CPPUNIT_TEST(testHeartbeat);
	CPPUNIT_TEST(testMessageFanOut);
	CPPUNIT_TEST(testPresence);
	CPPUNIT_TEST(testMultiSession);
	CPPUNIT_TEST(testVoiceEvents);
	CPPUNIT_TEST(testVoiceCleanup);
	CPPUNIT_TEST(testVoiceSignalRelay);
	CPPUNIT_TEST(testVoiceSignalRefusals);
	CPPUNIT_TEST(testBoundVoice);
	CPPUNIT_TEST(testMembershipIsLive);
	CPPUNIT_TEST(testNoEventLossAtConnect);
	CPPUNIT_TEST(testFrameTooBig);
	CPPUNIT_TEST(testFloodClosesWith4008);
	CPPUNIT_TEST(testPingFloodCountsAgainstRate);
	CPPUNIT_TEST(testHeartbeatTimeout);
	CPPUNIT_TEST(testSlowConsumer);
	CPPUNIT_TEST(testAllowedOrigins);
	CPPUNIT_TEST(testCloseOnTokenExpiry);
	CPPUNIT_TEST(testSessionCap);
	CPPUNIT_TEST(testGracefulShutdown);
	CPPUNIT_TEST_SUITE_END();

	static void checkReady(TestServer& server, const User& user, const Object::Ptr& d)
	/// §5.3: user (UserDto, online), servers (as GET /servers), heartbeat_interval, session_id.
	{
		for (const char* key : {"user", "servers", "heartbeat_interval", "session_id"})
			CPPUNIT_ASSERT_MESSAGE(std::string(key) + " in READY " + stringify(d), d->has(key));
		Object::Ptr me = d->getObject("user");
		assertKeys("READY user", {"id", "username", "email", "avatar_url", "status", "custom_status", "created_at"},
		           me);
		CPPUNIT_ASSERT_EQUAL(user.id, text(me, "id"));
		CPPUNIT_ASSERT_EQUAL(user.username, text(me, "username"));
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(me, "status"));

		Array::Ptr servers = d->getArray("servers");
		CPPUNIT_ASSERT_MESSAGE("READY servers is an array: " + stringify(d), servers);
		for (std::size_t i = 0; i < servers->size(); ++i)
		{
			Object::Ptr item = servers->getObject(static_cast<unsigned>(i));
			CPPUNIT_ASSERT_MESSAGE(stringify(servers), item);
			for (const char* key : {"id", "name", "description", "owner_id", "member_count", "created_at"})
				CPPUNIT_ASSERT_MESSAGE(std::string(key) + " in READY server " + stringify(item), item->has(key));
		}
		HttpResponse list = call(server, "GET", "/servers", user.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(list.body, 200, list.status);
		assertJsonEqual("READY servers = GET /servers", parse(list.body), d->get("servers"));

		Poco::Dynamic::Var interval = d->get("heartbeat_interval");
		CPPUNIT_ASSERT_MESSAGE("heartbeat_interval is an integer", interval.isInteger());
		CPPUNIT_ASSERT_EQUAL(30000, interval.convert<int>());
		const std::string sessionId = text(d, "session_id");
		CPPUNIT_ASSERT_MESSAGE("session_id " + sessionId, std::regex_match(sessionId, std::regex("^[0-9a-f]{32}$")));
	}

public:
	void testReadyFirst()
	// §9.2 case 19.
	{
		TestServer& server = shared();
		World w = makeWorld(server);

		Session first = openSession(server, w.alice);
		checkReady(server, w.alice, first.ready);
		Array::Ptr servers = first.ready->getArray("servers");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), servers->size());
		Object::Ptr s = servers->getObject(0);
		CPPUNIT_ASSERT_EQUAL(w.serverId, text(s, "id"));
		CPPUNIT_ASSERT_EQUAL(std::string("S"), text(s, "name"));
		CPPUNIT_ASSERT(isNull(s, "description"));
		CPPUNIT_ASSERT_EQUAL(w.alice.id, text(s, "owner_id"));
		CPPUNIT_ASSERT_EQUAL(2, s->get("member_count").convert<int>());

		// /api/ws is the same gateway.
		Session api = openSession(server, w.alice, "/api/ws");
		checkReady(server, w.alice, api.ready);
		CPPUNIT_ASSERT(api.sessionId != first.sessionId);

		// Authorization: Bearer instead of ?token=, on both paths.
		WsTestClient bearer;
		Object::Ptr d = connectReady(bearer, server, "/ws", {{"Authorization", "Bearer " + w.alice.accessToken}});
		checkReady(server, w.alice, d);
		WsTestClient bearerApi;
		d = connectReady(bearerApi, server, "/api/ws", {{"Authorization", "Bearer " + w.alice.accessToken}});
		checkReady(server, w.alice, d);

		// ?token= wins over the header (§5.1): this is bob's session.
		WsTestClient both;
		d = connectReady(both, server, "/ws?token=" + w.bob.accessToken,
		                 {{"Authorization", "Bearer " + w.alice.accessToken}});
		checkReady(server, w.bob, d);

		// carol, in no server: an empty list.
		Session carol = openSession(server, w.carol);
		checkReady(server, w.carol, carol.ready);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), carol.ready->getArray("servers")->size());
	}

	void testAuthFailuresClose4001()
	// §9.2 case 20 (and §5.1's reason table): 101, then close 4001 with nothing before it.
	{
		TestServer& server = shared();
		User user = registerUser(server, "dave");
		const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
		struct Case
		{
			std::string name;
			std::string path;
			WsTestClient::Headers headers;
			std::string reason;
		};
		const std::vector<Case> cases = {
		    {"no token", "/ws", {}, "Missing token"},
		    {"no token on /api/ws", "/api/ws", {}, "Missing token"},
		    {"token=garbage", "/ws?token=garbage", {}, "Invalid or expired token"},
		    {"expired token",
		     "/ws?token=" + mintToken(user.id, user.username, "access", now - 1200, now - 300),
		     {},
		     "Invalid or expired token"},
		    {"refresh token", "/ws?token=" + user.refreshToken, {}, "Invalid token type"},
		    {"unknown user",
		     "/ws?token=" + mintToken(randomUuid(), "ghost_user", "access", now, now + 900),
		     {},
		     "Unknown user"},
		    {"alg none", "/ws?token=" + mintUnsigned(user.id, user.username), {}, "Invalid or expired token"},
		    {"other secret",
		     "/ws?token=" + mintToken(user.id, user.username, "access", now, now + 900,
		                              "another-secret-that-is-long-enough-0123456789"),
		     {},
		     "Invalid or expired token"},
		    {"Bearer garbage", "/ws", {{"Authorization", "Bearer garbage"}}, "Invalid or expired token"},
		};
		for (const Case& c : cases)
		{
			WsTestClient client;
			HttpResponse response = client.connect(LOOPBACK, port(server), c.path, c.headers, WAIT_MS);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name + ": " + response.rawHead + response.body, 101, response.status);
			try
			{
				expectClosed(client, 4001, c.reason, true);
			}
			catch (CppUnit::Exception& e)
			{
				CPPUNIT_FAIL(c.name + ": " + e.what());
			}
		}
	}

	void testInvalidFramesClose4002()
	// §9.2 case 21: each in a fresh session; close 4002 "Invalid message format".
	{
		TestServer& server = shared();
		User user = registerUser(server, "erin");
		const std::vector<std::string> texts = {
		    "hello",        "[]", "{}", "{\"op\":5}", "{\"op\":\"IDENTIFY\"}", "{\"op\":null}", "{\"t\":null,\"d\":{}}",
		    "\"HEARTBEAT\""};
		for (const std::string& payload : texts)
		{
			Session session = openSession(server, user);
			session.client.sendText(payload);
			try
			{
				expectClosed(session.client, 4002, "Invalid message format", true);
			}
			catch (CppUnit::Exception& e)
			{
				CPPUNIT_FAIL("text frame " + payload + ": " + e.what());
			}
		}
		// A binary frame, even one holding a valid HEARTBEAT.
		Session session = openSession(server, user);
		session.client.sendBinary(HEARTBEAT);
		try
		{
			expectClosed(session.client, 4002, "Invalid message format", true);
		}
		catch (CppUnit::Exception& e)
		{
			CPPUNIT_FAIL(std::string("binary frame: ") + e.what());
		}
		// Text that is not UTF-8 (§5.9): refused by the host with the plugin's code, not 1007.
		Session invalid = openSession(server, user);
		invalid.client.sendText("{\"op\":\"HEARTBEAT\",\"t\":\"\xFF\xFE\"}");
		try
		{
			expectClosed(invalid.client, 4002, "Invalid message format", true);
		}
		catch (CppUnit::Exception& e)
		{
			CPPUNIT_FAIL(std::string("invalid UTF-8: ") + e.what());
		}
	}

	void testIgnoredInputKeepsSessionOpen()
	// §9.2 case 22: no reply, no close; the next frame after each is the HEARTBEAT's ACK.
	{
		TestServer& server = shared();
		User user = registerUser(server, "frank");
		Session session = openSession(server, user);
		const std::vector<std::string> inputs = {
		    "{\"op\":\"DISPATCH\",\"t\":\"X\",\"d\":{}}",
		    "{\"op\":\"HEARTBEAT_ACK\"}",
		    "{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":\"invisible\"}}",
		    "{\"op\":\"PRESENCE_UPDATE\"}",
		    "{\"op\":\"PRESENCE_UPDATE\",\"d\":\"idle\"}",
		    "{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":\"not-a-uuid\",\"signal\":{}}}",
		    "{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(randomUuid()) + ",\"signal\":{}}}",
		    "{\"op\":\"VOICE_SIGNAL\"}",
		};
		for (const std::string& input : inputs)
		{
			session.client.sendText(input);
			try
			{
				expectNothingBut(session.client);
			}
			catch (CppUnit::Exception& e)
			{
				CPPUNIT_FAIL("after " + input + ": " + e.what());
			}
		}
		// The invalid PRESENCE_UPDATEs changed nothing.
		HttpResponse me = call(server, "GET", "/users/@me", user.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, std::string("online"), text(object(me.body), "status"));
	}

	void testHeartbeat()
	// §9.2 case 23.
	{
		TestServer& server = shared();
		User alice = registerUser(server, "alice");
		const std::string serverId = createServer(server, alice);
		const std::string channelId = createChannel(server, alice, serverId, "general", "text");
		Session one = openSession(server, alice);
		Session two = openSession(server, alice);

		one.client.sendText(HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(ACK, nextText(one.client));
		one.client.sendText("{\"op\":\"HEARTBEAT\",\"t\":null,\"d\":null}");
		CPPUNIT_ASSERT_EQUAL(ACK, nextText(one.client));
		one.client.sendText("{\"op\":\"HEARTBEAT\",\"d\":{\"seq\":42}}");
		CPPUNIT_ASSERT_EQUAL(ACK, nextText(one.client));

		// Session two got none of those ACKs: a message's MESSAGE_CREATE (a sentinel that cannot be
		// mistaken for an ACK) is its next frame.
		Object::Ptr message = postMessage(server, alice, channelId, "after the heartbeats");
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(two.client, "MESSAGE_CREATE"), "id"));
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(one.client, "MESSAGE_CREATE"), "id"));
		// Its own HEARTBEAT is ACKed on it, and session one sees nothing of that.
		two.client.sendText(HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(ACK, nextText(two.client));
		message = postMessage(server, alice, channelId, "second sentinel");
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(one.client, "MESSAGE_CREATE"), "id"));
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(two.client, "MESSAGE_CREATE"), "id"));
	}

	void testMessageFanOut()
	// §9.2 case 24.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session bob = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");
		Session carol = openSession(server, w.carol);

		HttpResponse created = call(server, "POST", "/channels/" + w.textId + "/messages", w.alice.accessToken,
		                            "{\"content\":\"Hello, everyone!\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(created.body, 201, created.status);
		const std::string messageId = text(object(created.body), "id");
		assertJsonEqual("alice's MESSAGE_CREATE d = the 201 body", parse(created.body),
		                nextDispatch(alice.client, "MESSAGE_CREATE"));
		assertJsonEqual("bob's MESSAGE_CREATE d = the 201 body", parse(created.body),
		                nextDispatch(bob.client, "MESSAGE_CREATE"));
		expectNothingBut(carol.client);

		// A message by bob reaches its author's sessions too.
		HttpResponse byBob = call(server, "POST", "/channels/" + w.textId + "/messages", w.bob.accessToken,
		                          "{\"content\":\"hi from bob\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(byBob.body, 201, byBob.status);
		assertJsonEqual("MESSAGE_CREATE of bob's post (alice)", parse(byBob.body),
		                nextDispatch(alice.client, "MESSAGE_CREATE"));
		assertJsonEqual("MESSAGE_CREATE of bob's post (bob)", parse(byBob.body),
		                nextDispatch(bob.client, "MESSAGE_CREATE"));

		HttpResponse edited =
		    call(server, "PATCH", "/messages/" + messageId, w.alice.accessToken, "{\"content\":\"edited text\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(edited.body, 200, edited.status);
		for (Session* session : {&alice, &bob})
		{
			Object::Ptr d = nextDispatch(session->client, "MESSAGE_UPDATE");
			assertJsonEqual("MESSAGE_UPDATE d = the 200 body", parse(edited.body), d);
			CPPUNIT_ASSERT_MESSAGE(stringify(d), !isNull(d, "updated_at") && d->has("updated_at"));
			CPPUNIT_ASSERT_EQUAL(text(d, "updated_at"), text(d, "edited_at"));
			CPPUNIT_ASSERT_EQUAL(std::string("edited text"), text(d, "content"));
		}

		HttpResponse deleted = call(server, "DELETE", "/messages/" + messageId, w.alice.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(deleted.body, 204, deleted.status);
		for (Session* session : {&alice, &bob})
			assertJsonEqual("MESSAGE_DELETE d",
			                parse("{\"id\":" + quote(messageId) + ",\"channel_id\":" + quote(w.textId) + "}"),
			                nextDispatch(session->client, "MESSAGE_DELETE"));
		expectNothingBut(carol.client);
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);
	}

	void testPresence()
	// §9.2 case 25.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session carol = openSession(server, w.carol);
		Session bob1 = openSession(server, w.bob);
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(bob1.ready->getObject("user"), "status"));
		expectPresence(alice.client, w.bob.id, "online");
		expectNothingBut(carol.client);
		expectNothingBut(bob1.client); // connect transitions go to co-members only

		Session bob2 = openSession(server, w.bob);
		expectNothingBut(alice.client);

		// away is stored and sent as idle; to alice and bob's other session, not to the sender.
		bob1.client.sendText("{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":\"away\"}}");
		expectPresence(alice.client, w.bob.id, "idle");
		expectPresence(bob2.client, w.bob.id, "idle");
		expectNothingBut(bob1.client);
		expectNothingBut(carol.client);
		HttpResponse me = call(server, "GET", "/users/@me", w.bob.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, std::string("idle"), text(object(me.body), "status"));

		// The same status again (as away, then as idle): no event anywhere. The sender's sentinel
		// first: once its ACK arrived the PRESENCE_UPDATEs were handled, so any broadcast would
		// already be queued ahead of the other sessions' sentinels.
		bob1.client.sendText("{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":\"away\"}}");
		bob1.client.sendText("{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":\"idle\"}}");
		expectNothingBut(bob1.client);
		expectNothingBut(alice.client);
		expectNothingBut(bob2.client);
		expectNothingBut(carol.client);

		// A change from the other session: dnd, echoed to bob1 but not to bob2.
		bob2.client.sendText("{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":\"dnd\"}}");
		expectPresence(alice.client, w.bob.id, "dnd");
		expectPresence(bob1.client, w.bob.id, "dnd");
		expectNothingBut(bob2.client);
		expectNothingBut(carol.client);
	}

	void testMultiSession()
	// §9.2 case 26.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session bob1 = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");
		Object::Ptr joined = joinVoice(server, w.bob, w.voiceId); // unbound
		expectVoiceState(alice.client, joined);
		expectVoiceState(bob1.client, joined);

		Session bob2 = openSession(server, w.bob);
		expectNothingBut(alice.client);
		expectNothingBut(bob2.client);

		closeSession(bob1.client);
		settle();
		expectNothingBut(alice.client);
		expectNothingBut(bob2.client);
		CPPUNIT_ASSERT_EQUAL(w.bob.id, commaList(voiceParticipants(server, w.alice, w.voiceId)));
		HttpResponse me = call(server, "GET", "/users/@me", w.bob.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, std::string("online"), text(object(me.body), "status"));

		closeSession(bob2.client);
		std::map<std::string, Object::Ptr> events = nextDispatches(alice.client, 2);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.count("PRESENCE_UPDATE"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.count("VOICE_STATE_UPDATE"));
		assertJsonEqual("offline PRESENCE_UPDATE",
		                parse("{\"user_id\":" + quote(w.bob.id) + ",\"status\":\"offline\",\"custom_status\":null}"),
		                events["PRESENCE_UPDATE"]);
		Object::Ptr leave = events["VOICE_STATE_UPDATE"];
		CPPUNIT_ASSERT_EQUAL(w.bob.id, text(leave, "user_id"));
		CPPUNIT_ASSERT(isNull(leave, "channel_id"));
		CPPUNIT_ASSERT(isNull(leave, "joined_at"));
		expectNothingBut(alice.client);
		CPPUNIT_ASSERT(voiceParticipants(server, w.alice, w.voiceId).empty());
	}

	void testVoiceEvents()
	// §9.2 case 27.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session bob = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");

		Object::Ptr joined = joinVoice(server, w.bob, w.voiceId);
		CPPUNIT_ASSERT_EQUAL(w.bob.id, text(joined, "user_id"));
		CPPUNIT_ASSERT_EQUAL(w.voiceId, text(joined, "channel_id"));
		CPPUNIT_ASSERT_EQUAL(w.bob.username, text(joined, "username"));
		for (const char* flag : {"muted", "deafened", "self_mute", "self_deaf", "server_mute", "server_deaf"})
			CPPUNIT_ASSERT_MESSAGE(std::string(flag) + " in " + stringify(joined), !joined->getValue<bool>(flag));
		for (Session* session : {&alice, &bob})
			expectVoiceState(session->client, joined);

		HttpResponse patched =
		    call(server, "PATCH", "/channels/" + w.voiceId + "/voice", w.bob.accessToken, "{\"self_deaf\":true}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(patched.body, 200, patched.status);
		for (Session* session : {&alice, &bob})
		{
			Object::Ptr d = nextDispatch(session->client, "VOICE_STATE_UPDATE");
			assertJsonEqual("VOICE_STATE_UPDATE after PATCH = the 200 body", parse(patched.body), d);
			CPPUNIT_ASSERT(d->getValue<bool>("deafened"));
			CPPUNIT_ASSERT(d->getValue<bool>("self_deaf"));
			CPPUNIT_ASSERT(!d->getValue<bool>("muted"));
			CPPUNIT_ASSERT_EQUAL(w.voiceId, text(d, "channel_id"));
		}

		leaveVoice(server, w.bob, w.voiceId);
		for (Session* session : {&alice, &bob})
			expectVoiceLeave(session->client, w.bob);
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);
	}

	void testVoiceCleanup()
	// §9.2 case 28: the four causes, each on a fresh channel.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);

		// 1. bob, in V, disconnects his last session (TCP closed without a close frame).
		{
			WsTestClient bob;
			connectReady(bob, server, "/ws?token=" + w.bob.accessToken);
			expectPresence(alice.client, w.bob.id, "online");
			Object::Ptr joined = joinVoice(server, w.bob, w.voiceId);
			expectVoiceState(alice.client, joined);
			expectVoiceState(bob, joined);
			bob.close();
			std::map<std::string, Object::Ptr> events = nextDispatches(alice.client, 2);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.count("VOICE_STATE_UPDATE"));
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.count("PRESENCE_UPDATE"));
			assertKeys("leave", VOICE_KEYS, events["VOICE_STATE_UPDATE"]);
			assertJsonEqual("leave on disconnect",
			                parse("{\"user_id\":" + quote(w.bob.id) +
			                      ",\"channel_id\":null,\"username\":" + quote(w.bob.username) +
			                      ",\"muted\":false,\"deafened\":false,\"self_mute\":false,\"self_deaf\":false,"
			                      "\"server_mute\":false,\"server_deaf\":false,\"joined_at\":null}"),
			                events["VOICE_STATE_UPDATE"]);
			CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(events["PRESENCE_UPDATE"], "status"));
			expectNothingBut(alice.client);
			CPPUNIT_ASSERT(voiceParticipants(server, w.alice, w.voiceId).empty());
		}

		Session bob = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");

		// 2. bob leaves a server while in its voice channel; his own session gets the leave too.
		{
			const std::string other = createServer(server, w.alice, "S2");
			joinServer(server, w.bob, other);
			const std::string voice = createChannel(server, w.alice, other, "Voice 2", "voice");
			Object::Ptr joined = joinVoice(server, w.bob, voice);
			expectVoiceState(alice.client, joined);
			expectVoiceState(bob.client, joined);
			HttpResponse left = call(server, "DELETE", "/servers/" + other + "/leave", w.bob.accessToken);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(left.body, 204, left.status);
			expectVoiceLeave(alice.client, w.bob);
			expectVoiceLeave(bob.client, w.bob);
			CPPUNIT_ASSERT(voiceParticipants(server, w.alice, voice).empty());
		}

		// 3. The owner deletes the voice channel bob is in.
		{
			Object::Ptr joined = joinVoice(server, w.bob, w.voiceId);
			expectVoiceState(alice.client, joined);
			expectVoiceState(bob.client, joined);
			HttpResponse deleted =
			    call(server, "DELETE", "/servers/" + w.serverId + "/channels/" + w.voiceId, w.alice.accessToken);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(deleted.body, 204, deleted.status);
			expectVoiceLeave(alice.client, w.bob);
			expectVoiceLeave(bob.client, w.bob);
		}

		// 4. The owner deletes the server whose voice channel bob is in.
		{
			const std::string voice = createChannel(server, w.alice, w.serverId, "Voice 3", "voice");
			Object::Ptr joined = joinVoice(server, w.bob, voice);
			expectVoiceState(alice.client, joined);
			expectVoiceState(bob.client, joined);
			HttpResponse deleted = call(server, "DELETE", "/servers/" + w.serverId, w.alice.accessToken);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(deleted.body, 204, deleted.status);
			expectVoiceLeave(alice.client, w.bob);
			expectVoiceLeave(bob.client, w.bob);
		}
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);
		// bob is in no voice channel: joining one elsewhere is a plain join, with no leave first.
		const std::string last = createServer(server, w.bob, "S4");
		const std::string voice = createChannel(server, w.bob, last, "Voice 4", "voice");
		Object::Ptr joined = joinVoice(server, w.bob, voice);
		expectVoiceState(bob.client, joined);
		expectNothingBut(bob.client);
		expectNothingBut(alice.client);
	}

	void testVoiceSignalRelay()
	// §9.2 case 29.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session bob = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");
		Object::Ptr state = joinVoice(server, w.alice, w.voiceId);
		expectVoiceState(alice.client, state);
		expectVoiceState(bob.client, state);
		state = joinVoice(server, w.bob, w.voiceId);
		expectVoiceState(alice.client, state);
		expectVoiceState(bob.client, state);

		// Nested signals, relayed verbatim (the text of the value, key order and number text
		// included: 2.5 and null inside an array), in the order sent.
		const std::vector<std::string> signals = {
		    "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\",\"n\":[1,2.5,null]}",
		    "\"a plain string signal\"",
		    "{\"candidate\":\"candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host\",\"sdpMid\":\"0\","
		    "\"sdpMLineIndex\":0}",
		    "{\"z\":1,\"a\":{\"y\":[true,false,{}],\"b\":-0.125},\"m\":[]}", "[1,\"two\",{\"three\":3}]"};
		for (const std::string& signal : signals)
			alice.client.sendText(voiceSignal(w.bob.id, signal));
		for (const std::string& signal : signals)
			expectSignal(bob.client, w.alice.id, signal);
		expectNothingBut(alice.client); // no echo to the sender

		// The flat form of the reference client.
		alice.client.sendText("{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(w.bob.id) +
		                      ",\"type\":\"answer\",\"sdp\":\"x\"}}");
		Object::Ptr d = nextDispatch(bob.client, "VOICE_SIGNAL");
		assertJsonEqual(
		    "flat answer",
		    parse("{\"from_user_id\":" + quote(w.alice.id) + ",\"type\":\"answer\",\"sdp\":\"x\",\"candidate\":null}"),
		    d);
		alice.client.sendText("{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(w.bob.id) +
		                      ",\"type\":\"candidate\",\"candidate\":\"c1\"}}");
		d = nextDispatch(bob.client, "VOICE_SIGNAL");
		assertJsonEqual("flat candidate",
		                parse("{\"from_user_id\":" + quote(w.alice.id) +
		                      ",\"type\":\"candidate\",\"sdp\":null,\"candidate\":\"c1\"}"),
		                d);
		// With signal present the flat fields are ignored.
		alice.client.sendText("{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(w.bob.id) +
		                      ",\"type\":\"offer\",\"sdp\":\"y\",\"signal\":{\"k\":1}}}");
		expectSignal(bob.client, w.alice.id, "{\"k\":1}");

		// And the other way round.
		bob.client.sendText(voiceSignal(w.alice.id, signals[0]));
		expectSignal(alice.client, w.bob.id, signals[0]);
		expectNothingBut(bob.client);
		expectNothingBut(alice.client);
	}

	void testVoiceSignalRefusals()
	// §9.2 case 30: dropped with no frame to anyone; the sender stays connected.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		const std::string otherVoice = createChannel(server, w.alice, w.serverId, "Voice B", "voice");
		const std::string carolServer = createServer(server, w.carol, "C");
		const std::string carolVoice = createChannel(server, w.carol, carolServer, "Voice C", "voice");
		Session alice = openSession(server, w.alice);
		Session bob = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");
		Session carol = openSession(server, w.carol);

		Object::Ptr state = joinVoice(server, w.alice, w.voiceId);
		expectVoiceState(alice.client, state);
		expectVoiceState(bob.client, state);
		state = joinVoice(server, w.carol, carolVoice);
		expectVoiceState(carol.client, state);
		const std::string signal = "{\"type\":\"offer\",\"sdp\":\"v=0\"}";

		// bob is in another voice channel.
		state = joinVoice(server, w.bob, otherVoice);
		expectVoiceState(alice.client, state);
		expectVoiceState(bob.client, state);
		alice.client.sendText(voiceSignal(w.bob.id, signal));
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);
		bob.client.sendText(voiceSignal(w.alice.id, signal));
		expectNothingBut(bob.client);
		expectNothingBut(alice.client);

		// bob is not in voice.
		leaveVoice(server, w.bob, otherVoice);
		expectVoiceLeave(alice.client, w.bob);
		expectVoiceLeave(bob.client, w.bob);
		alice.client.sendText(voiceSignal(w.bob.id, signal));
		alice.client.sendText("{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(w.bob.id) +
		                      ",\"type\":\"offer\",\"sdp\":\"x\"}}");
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);

		// To herself.
		alice.client.sendText(voiceSignal(w.alice.id, signal));
		expectNothingBut(alice.client);

		// carol, in a voice channel of a server alice is not in.
		alice.client.sendText(voiceSignal(w.carol.id, signal));
		expectNothingBut(alice.client);
		expectNothingBut(carol.client);
		carol.client.sendText(voiceSignal(w.alice.id, signal));
		expectNothingBut(carol.client);
		expectNothingBut(alice.client);
		expectNothingBut(bob.client);
	}

	void testBoundVoice()
	// §9.2 case 31.
	{
		TestServer& server = shared();
		World w = makeWorld(server);
		Session alice = openSession(server, w.alice);
		Session bob1 = openSession(server, w.bob);
		expectPresence(alice.client, w.bob.id, "online");
		Session bob2 = openSession(server, w.bob);
		CPPUNIT_ASSERT(bob1.sessionId != bob2.sessionId);

		HttpResponse unknown = call(server, "POST", "/channels/" + w.voiceId + "/voice", w.bob.accessToken,
		                            "{\"session_id\":\"deadbeef\"}");
		expectError(unknown, 400, "Unknown session_id");

		Object::Ptr state = joinVoice(server, w.alice, w.voiceId);
		for (Session* session : {&alice, &bob1, &bob2})
			expectVoiceState(session->client, state);
		state = joinVoice(server, w.bob, w.voiceId, "{\"session_id\":" + quote(bob2.sessionId) + "}");
		for (Session* session : {&alice, &bob1, &bob2})
			expectVoiceState(session->client, state);

		// Signals to bob reach session 2 only.
		const std::string signal = "{\"type\":\"offer\",\"sdp\":\"bound\"}";
		alice.client.sendText(voiceSignal(w.bob.id, signal));
		expectNothingBut(alice.client);
		expectSignal(bob2.client, w.alice.id, signal);
		expectNothingBut(bob1.client);
		expectNothingBut(bob2.client);

		// Only the bound session may signal for bob (§5.7 rule 3).
		bob1.client.sendText(voiceSignal(w.alice.id, signal));
		expectNothingBut(bob1.client);
		expectNothingBut(alice.client);
		bob2.client.sendText(voiceSignal(w.alice.id, signal));
		expectSignal(alice.client, w.bob.id, signal);

		// Closing session 2 clears the voice state; session 1 stays open and bob stays online.
		closeSession(bob2.client);
		expectVoiceLeave(alice.client, w.bob);
		expectVoiceLeave(bob1.client, w.bob);
		expectNothingBut(alice.client);
		expectNothingBut(bob1.client);
		CPPUNIT_ASSERT_EQUAL(w.alice.id, commaList(voiceParticipants(server, w.alice, w.voiceId)));
	}

	void testMembershipIsLive()
	// §9.2 case 32.
	{
		TestServer& server = shared();
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		const std::string serverId = createServer(server, alice);
		const std::string channelId = createChannel(server, alice, serverId, "general", "text");
		Session aliceSession = openSession(server, alice);
		Session bobSession = openSession(server, bob);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), bobSession.ready->getArray("servers")->size());

		joinServer(server, bob, serverId);
		Object::Ptr message = postMessage(server, alice, channelId, "after the join");
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(aliceSession.client, "MESSAGE_CREATE"), "id"));
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(bobSession.client, "MESSAGE_CREATE"), "id"));

		HttpResponse left = call(server, "DELETE", "/servers/" + serverId + "/leave", bob.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(left.body, 204, left.status);
		message = postMessage(server, alice, channelId, "after the leave");
		// alice got it, so the fan-out ran; bob's next frame is his sentinel's ACK.
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(nextDispatch(aliceSession.client, "MESSAGE_CREATE"), "id"));
		expectNothingBut(bobSession.client);
	}

	void testNoEventLossAtConnect()
	// §9.2 case 39. One thread posts messages in S as fast as it can while bob connects ten times.
	//
	// Interpretation of "no event loss": the plugin registers a session before it builds READY
	// (§5.3), so every message created after bob's READY left the server must reach that socket.
	// The client cannot see when a message was created, only when its POST was sent and answered;
	// "the POST's 201 arrived after READY" is not a sound test of that (the 201 of a message fanned
	// out just before the registration may be read late by a descheduled poster thread). So the
	// rule checked is: every message whose POST request was SENT after bob had received READY
	// (the request's timestamp taken before sending, READY's after reading it), and answered 201,
	// arrives on that socket; READY is the first frame; MESSAGE_CREATEs arrive in post order.
	{
		TestServer& server = shared();
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		const std::string serverId = createServer(server, alice);
		joinServer(server, bob, serverId);
		const std::string channelId = createChannel(server, alice, serverId, "general", "text");
		const int serverPort = port(server);
		const std::string path = "/channels/" + channelId + "/messages";
		const HttpTestClient::Headers headers = {{"Authorization", "Bearer " + alice.accessToken},
		                                         {"Content-Type", "application/json"}};

		struct Post
		{
			std::int64_t sentAt = 0;
			int status = 0;
			std::string body;
			std::string error;
		};
		std::mutex mutex;
		std::vector<Post> posts;
		std::atomic<bool> stop{false};
		std::atomic<std::int64_t> lastSentAt{0};
		std::thread poster([&] {
			for (int i = 0; !stop.load() && i < 100000; ++i)
			{
				Post post;
				post.sentAt = WsTestClient::nowMicros();
				lastSentAt.store(post.sentAt);
				try
				{
					HttpResponse response =
					    HttpTestClient::request(LOOPBACK, serverPort, "POST", path, headers,
					                            "{\"content\":\"loss check " + std::to_string(i) + "\"}", WAIT_MS);
					post.status = response.status;
					post.body = response.body;
				}
				catch (const std::exception& e)
				{
					post.error = e.what();
				}
				std::lock_guard<std::mutex> lock(mutex);
				posts.push_back(post);
			}
		});
		struct Joiner
		{
			std::atomic<bool>& stop;
			std::thread& thread;
			~Joiner()
			{
				stop.store(true);
				if (thread.joinable())
					thread.join();
			}
		} joiner{stop, poster};

		auto snapshot = [&] {
			std::lock_guard<std::mutex> lock(mutex);
			return posts;
		};
		std::map<std::string, std::size_t> indexOfId; // message id -> position in posts
		std::vector<std::string> ids;                 // position in posts -> message id
		auto idOf = [&](const std::vector<Post>& all, std::size_t i) -> std::string {
			while (ids.size() <= i)
			{
				const std::string id = text(object(all[ids.size()].body), "id");
				indexOfId[id] = ids.size();
				ids.push_back(id);
			}
			return ids[i];
		};

		std::size_t checkedTotal = 0;
		for (int round = 0; round < 10; ++round)
		{
			WsTestClient client;
			client.setAutoPong(true);
			HttpResponse response = client.connect(LOOPBACK, serverPort, "/ws?token=" + bob.accessToken, {}, WAIT_MS);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, 101, response.status);
			readyOf(nextText(client)); // READY first, always
			const std::int64_t readyAt = WsTestClient::nowMicros();

			std::vector<std::string> received;
			auto receiveOne = [&](int timeoutMs) {
				WsTestClient::Message message = client.receiveMessage(timeoutMs);
				if (message.timedOut())
					return;
				CPPUNIT_ASSERT_MESSAGE("round " + std::to_string(round) + ": " + message.error +
				                           (message.opcode == WsTestClient::OPCODE_CLOSE
				                                ? " " + describeClosePayload(message.payload)
				                                : ""),
				                       message.ok() && message.opcode == WsTestClient::OPCODE_TEXT);
				Object::Ptr frame = object(message.payload);
				CPPUNIT_ASSERT_MESSAGE("only MESSAGE_CREATE after READY: " + message.payload,
				                       frame->optValue<std::string>("op", "") == "DISPATCH" &&
				                           frame->optValue<std::string>("t", "") == "MESSAGE_CREATE");
				received.push_back(text(frame->getObject("d"), "id"));
			};

			// Read while the poster runs, then stop counting new posts at cutAt.
			Deadline window(250);
			while (!window.expired())
				receiveOne(window.remainingMs());
			const std::int64_t cutAt = WsTestClient::nowMicros();
			// The poster is sequential: once it has sent a request after cutAt, every request sent
			// before cutAt has been answered and recorded.
			Deadline posterDeadline(WAIT_MS);
			while (lastSentAt.load() <= cutAt && !posterDeadline.expired())
				std::this_thread::sleep_for(std::chrono::milliseconds(2));
			CPPUNIT_ASSERT_MESSAGE("the poster is stuck", lastSentAt.load() > cutAt);

			std::vector<Post> all = snapshot();
			std::set<std::string> expected;
			for (std::size_t i = 0; i < all.size(); ++i)
			{
				CPPUNIT_ASSERT_MESSAGE("POST " + std::to_string(i) + ": " + all[i].error + " " +
				                           std::to_string(all[i].status) + " " + all[i].body,
				                       all[i].error.empty() && all[i].status == 201);
				const std::string id = idOf(all, i);
				if (all[i].sentAt > readyAt && all[i].sentAt < cutAt)
					expected.insert(id);
			}
			auto missing = [&] {
				std::set<std::string> left = expected;
				for (const std::string& id : received)
					left.erase(id);
				return left;
			};
			Deadline deadline(WAIT_MS);
			while (!missing().empty() && !deadline.expired())
				receiveOne(deadline.remainingMs());
			std::set<std::string> lost = missing();
			std::string lostText;
			for (const std::string& id : lost)
				lostText +=
				    " " + id + " (sent " + std::to_string(all[indexOfId[id]].sentAt - readyAt) + " us after READY)";
			CPPUNIT_ASSERT_MESSAGE("round " + std::to_string(round) + ": " + std::to_string(lost.size()) + " of " +
			                           std::to_string(expected.size()) +
			                           " messages posted after READY were lost:" + lostText,
			                       lost.empty());
			// In post order (events for one session keep the order they were produced in).
			std::int64_t previous = -1;
			for (const std::string& id : received)
			{
				auto found = indexOfId.find(id);
				if (found == indexOfId.end())
					continue; // a post answered after cutAt
				CPPUNIT_ASSERT_MESSAGE("MESSAGE_CREATE out of post order in round " + std::to_string(round),
				                       static_cast<std::int64_t>(found->second) > previous);
				previous = static_cast<std::int64_t>(found->second);
			}
			checkedTotal += expected.size();
			client.close();
		}
		stop.store(true);
		poster.join();
		// The check had something to check.
		CPPUNIT_ASSERT_MESSAGE("no message was posted while bob was connected", checkedTotal > 0);
	}

	void testFrameTooBig()
	// §9.2 case 33: a 70,000-byte text frame -> close 1009.
	{
		TestServer& server = serverFor("limits", {{"ws.heartbeat_timeout", "2"}});
		User user = registerUser(server, "gina");
		Session session = openSession(server, user);
		// A valid HEARTBEAT padded to 70,000 bytes: only its size is wrong.
		const std::string head = "{\"op\":\"HEARTBEAT\",\"d\":\"";
		const std::string tail = "\"}";
		const std::string frame = head + std::string(70000 - head.size() - tail.size(), 'x') + tail;
		CPPUNIT_ASSERT_EQUAL(std::size_t(70000), frame.size());
		try
		{
			session.client.sendText(frame);
		}
		catch (const std::exception&)
		{
			// The server may close before it has read the whole frame.
		}
		expectClosed(session.client, 1009, "Message too big", true);
	}

	void testFloodClosesWith4008()
	// §9.2 case 33: 500 HEARTBEATs without pause -> fewer than 100 ACKs, then close 4008.
	{
		TestServer& server = serverFor("limits", {{"ws.heartbeat_timeout", "2"}});
		User user = registerUser(server, "hank");
		Session session = openSession(server, user);
		int sent = 0;
		try
		{
			for (; sent < 500; ++sent)
				session.client.sendText(HEARTBEAT);
		}
		catch (const std::exception&)
		{
			// Closed by the server while still sending.
		}
		WsTestClient::CloseInfo info = session.client.expectClose(WAIT_MS);
		std::size_t acks = 0;
		for (const WsTestClient::Frame& frame : info.skippedFrames)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("only ACKs before the close", ACK, frame.payload);
			++acks;
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close code after " + std::to_string(sent) + " HEARTBEATs and " +
		                                 std::to_string(acks) + " ACKs (reason '" + info.reason + "')",
		                             4008, info.code);
		CPPUNIT_ASSERT_EQUAL(std::string("Rate limited"), info.reason);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(acks) + " ACKs", acks > 0 && acks < 100);
	}

	void testPingFloodCountsAgainstRate()
	// The frame rate counts client Pings too (contract: "counts data frames and Pings"): 500 Pings
	// without pause get fewer than 100 Pongs (the burst of 60 plus the refill), then close 4008.
	{
		TestServer& server = serverFor("limits", {{"ws.heartbeat_timeout", "2"}});
		User user = registerUser(server, "pingy");
		Session session = openSession(server, user);
		int sent = 0;
		try
		{
			for (; sent < 500; ++sent)
				session.client.sendPing("p" + std::to_string(sent));
		}
		catch (const std::exception&)
		{
			// Closed by the server while still sending.
		}
		WsTestClient::CloseInfo info = session.client.expectClose(WAIT_MS);
		std::size_t pongs = 0;
		for (const WsTestClient::Frame& frame : info.skippedFrames)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("only Pongs before the close", static_cast<int>(WsTestClient::OPCODE_PONG),
			                             frame.opcode);
			// Each answer echoes its own Ping, in order, starting at the first.
			CPPUNIT_ASSERT_EQUAL(std::string("p") + std::to_string(pongs), frame.payload);
			++pongs;
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close code after " + std::to_string(sent) + " Pings and " +
		                                 std::to_string(pongs) + " Pongs (reason '" + info.reason + "')",
		                             4008, info.code);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(pongs) + " Pongs", pongs >= 60 && pongs < 100);
	}

	void testHeartbeatTimeout()
	// §9.2 case 33: ws.heartbeat_timeout = 2 s; a silent client is closed with 4009 within 3 s while
	// a client sending HEARTBEAT every second stays open.
	{
		TestServer& server = serverFor("limits", {{"ws.heartbeat_timeout", "2"}});
		User talker = registerUser(server, "ivan");
		User mute = registerUser(server, "judy");
		Session active = openSession(server, talker);
		Session silent = openSession(server, mute);
		const std::int64_t start = WsTestClient::nowMicros(); // after the silent client's last frame

		int closeCode = WsTestClient::CloseInfo::TIMED_OUT;
		std::string closeReason;
		std::int64_t closedAfterMs = -1;
		for (int tick = 1; tick <= 5; ++tick)
		{
			active.client.sendText(HEARTBEAT);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("ACK at tick " + std::to_string(tick), ACK, nextText(active.client));
			const std::int64_t tickEnd = start + tick * 1000000LL;
			if (closeCode != WsTestClient::CloseInfo::TIMED_OUT)
			{
				const std::int64_t left = tickEnd - WsTestClient::nowMicros();
				if (left > 0)
					std::this_thread::sleep_for(std::chrono::microseconds(left));
			}
			while (closeCode == WsTestClient::CloseInfo::TIMED_OUT)
			{
				const std::int64_t left = tickEnd - WsTestClient::nowMicros();
				if (left <= 0)
					break;
				WsTestClient::Frame frame = silent.client.receive(static_cast<int>((left + 999) / 1000));
				if (frame.timedOut())
					break;
				closedAfterMs = (WsTestClient::nowMicros() - start) / 1000;
				if (!frame.ok())
				{
					closeCode = WsTestClient::CloseInfo::NO_CLOSE_FRAME;
					closeReason = frame.error;
					break;
				}
				CPPUNIT_ASSERT_EQUAL_MESSAGE("silent client got a frame: " + frame.payload,
				                             static_cast<int>(WsTestClient::OPCODE_CLOSE), frame.opcode);
				CPPUNIT_ASSERT_MESSAGE("close payload", frame.payload.size() >= 2);
				closeCode =
				    (static_cast<unsigned char>(frame.payload[0]) << 8) | static_cast<unsigned char>(frame.payload[1]);
				closeReason = frame.payload.substr(2);
				try
				{
					silent.client.sendClose(closeCode);
				}
				catch (const std::exception&)
				{
				}
			}
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE(
		    "silent client's close (-2 = none within 5 s, -1 = TCP closed without one: " + closeReason + ")", 4009,
		    closeCode);
		CPPUNIT_ASSERT_MESSAGE("closed after " + std::to_string(closedAfterMs) + " ms",
		                       closedAfterMs >= 1500 && closedAfterMs <= 3000);
		// The active client outlived the timeout more than twice over.
		expectNothingBut(active.client);
		CPPUNIT_ASSERT_EQUAL(std::string("Session timed out"), closeReason);
	}

	void testSlowConsumer()
	// §9.2 case 34: ws.send_queue.max_bytes = 65536; a client that stops reading is closed (1013
	// if the close frame gets through) while another user posts messages of 4000 characters; the
	// plugin keeps serving others.
	//
	// The contract's 200 messages (about 860 KB of frames) are not always enough: on loopback Linux
	// autotunes the server socket's send buffer up to tcp_wmem's maximum (4 MiB here; ss showed
	// all 857 KB of 200 frames waiting in the kernel with the plugin's queue empty), and the
	// plugin's queue only fills once the kernel's is full. So at least 200 messages are posted,
	// and as many as it takes to exceed that maximum plus the queue by a fifth.
	{
		TestServer& server = serverFor("slow", {{"ws.send_queue.max_bytes", "65536"}});
		World w = makeWorld(server);
		WsTestClient slow;
		slow.setReceiveBufferSize(4096);
		connectReady(slow, server, "/ws?token=" + w.bob.accessToken);
		Session other = openSession(server, w.carol);

		const std::string content(4000, 'm');
		const int count = std::max(200, static_cast<int>((kernelSendBufferMax() + 2 * 65536) * 6 / 5 / 4000));
		const std::int64_t postStart = WsTestClient::nowMicros();
		for (int i = 0; i < count; ++i)
		{
			HttpResponse response = call(server, "POST", "/channels/" + w.textId + "/messages", w.alice.accessToken,
			                             "{\"content\":\"" + content + "\"}");
			CPPUNIT_ASSERT_EQUAL_MESSAGE("post " + std::to_string(i) + ": " + response.body, 201, response.status);
		}
		const std::int64_t postMs = (WsTestClient::nowMicros() - postStart) / 1000;
		expectNothingBut(other.client);

		// Now read what the slow client was sent: some messages, then a close 1013 or the end of
		// the connection, within a bound (write timeout 10 s plus margin).
		int messages = 0;
		int closeCode = WsTestClient::CloseInfo::TIMED_OUT;
		std::string closeReason;
		Deadline deadline(15000);
		while (closeCode == WsTestClient::CloseInfo::TIMED_OUT && !deadline.expired())
		{
			WsTestClient::Frame frame = slow.receive(deadline.remainingMs());
			if (frame.timedOut())
				break;
			if (!frame.ok())
			{
				closeCode = WsTestClient::CloseInfo::NO_CLOSE_FRAME;
				closeReason = frame.error;
			}
			else if (frame.opcode == WsTestClient::OPCODE_CLOSE)
			{
				CPPUNIT_ASSERT_MESSAGE("close payload", frame.payload.size() >= 2);
				closeCode =
				    (static_cast<unsigned char>(frame.payload[0]) << 8) | static_cast<unsigned char>(frame.payload[1]);
				closeReason = frame.payload.substr(2);
			}
			else if (frame.opcode == WsTestClient::OPCODE_TEXT || frame.opcode == WsTestClient::OPCODE_CONTINUATION)
			{
				if (frame.fin)
					++messages;
			}
		}
		const std::string what = "after " + std::to_string(messages) + " of " + std::to_string(count) +
		                         " messages (posting took " + std::to_string(postMs) + " ms): close " +
		                         std::to_string(closeCode) + " '" + closeReason + "'";
		CPPUNIT_ASSERT_MESSAGE("the slow client was not closed within 15 s, " + what,
		                       closeCode != WsTestClient::CloseInfo::TIMED_OUT);
		if (closeCode != WsTestClient::CloseInfo::NO_CLOSE_FRAME)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, 1013, closeCode);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, std::string("Slow consumer"), closeReason);
		}
		CPPUNIT_ASSERT_MESSAGE("everything was delivered, so nothing overflowed: " + what, messages < count);
		expectNothingBut(other.client);
		// bob can come back.
		Session again = openSession(server, w.bob);
		expectNothingBut(again.client);
	}

	void testAllowedOrigins()
	// §9.2 case 35: ws.allowed_origins = ["http://ok.example"].
	{
		TestServer& server = serverFor("origin", {{"ws.allowed_origins", "http://ok.example"}});
		User user = registerUser(server, "kim");
		for (const char* path : {"/ws", "/api/ws"})
		{
			WsTestClient evil;
			HttpResponse response =
			    evil.connect(LOOPBACK, port(server), std::string(path) + "?token=" + user.accessToken,
			                 {{"Origin", "http://evil.example"}}, WAIT_MS);
			expectError(response, 403, "Origin not allowed");
			CPPUNIT_ASSERT(!evil.isOpen());
		}
		WsTestClient ok;
		Object::Ptr d = connectReady(ok, server, "/ws?token=" + user.accessToken, {{"Origin", "http://ok.example"}});
		CPPUNIT_ASSERT_EQUAL(user.id, text(d->getObject("user"), "id"));
		WsTestClient none;
		d = connectReady(none, server, "/ws?token=" + user.accessToken);
		CPPUNIT_ASSERT_EQUAL(user.id, text(d->getObject("user"), "id"));
		expectNothingBut(ok);
		expectNothingBut(none);
	}

	void testCloseOnTokenExpiry()
	// §9.2 case 36: ws.close_on_token_expiry = true, jwt_leeway = 0; a token expiring in 3 s.
	{
		TestServer& server = serverFor("expiry", {{"ws.close_on_token_expiry", "true"}, {"jwt_leeway", "0"}});
		User user = registerUser(server, "lena");
		Session longLived = openSession(server, user);
		const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
		const std::int64_t expiresAt = now + 3;
		WsTestClient shortLived;
		Object::Ptr d = connectReady(shortLived, server,
		                             "/ws?token=" + mintToken(user.id, user.username, "access", now, expiresAt));
		CPPUNIT_ASSERT_EQUAL(user.id, text(d->getObject("user"), "id"));

		WsTestClient::CloseInfo info = shortLived.expectClose(7000, true, false);
		const std::int64_t closedAtMs =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
		        .count();
		const std::int64_t afterExpMs = closedAtMs - expiresAt * 1000;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close code (reason '" + info.reason + "')", 4001, info.code);
		CPPUNIT_ASSERT_EQUAL(std::string("Token expired"), info.reason);
		CPPUNIT_ASSERT_MESSAGE("no frame before the close", info.skippedFrames.empty());
		CPPUNIT_ASSERT_MESSAGE("closed " + std::to_string(afterExpMs) + " ms after exp",
		                       afterExpMs >= -20 && afterExpMs <= 2000);
		// The session with a long-lived token is untouched.
		expectNothingBut(longLived.client);
	}

	void testSessionCap()
	// §9.2 case 37: ws.max_sessions_per_user = 2.
	{
		TestServer& server = serverFor("cap", {{"ws.max_sessions_per_user", "2"}});
		User user = registerUser(server, "mona");
		Session first = openSession(server, user);
		Session second = openSession(server, user);
		Session third = openSession(server, user); // READY checked by openSession
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(third.ready->getObject("user"), "status"));
		expectClosed(first.client, 1000, "Session limit reached", true);
		expectNothingBut(second.client);
		expectNothingBut(third.client);
		// Still online: two sessions remain.
		HttpResponse me = call(server, "GET", "/users/@me", user.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, std::string("online"), text(object(me.body), "status"));
	}

	void testGracefulShutdown()
	// §9.2 case 38: every open session gets close 1001, with no frame (no presence) before it.
	{
		TestServer server;
		configure(server, {{"password.opslimit", "1"}, {"password.memlimit", "8192"}});
		server.start();
		World w = makeWorld(server);
		Session alice1 = openSession(server, w.alice);
		Session alice2 = openSession(server, w.alice);
		Session bob = openSession(server, w.bob);
		expectPresence(alice1.client, w.bob.id, "online");
		expectPresence(alice2.client, w.bob.id, "online");
		Session carol = openSession(server, w.carol);
		for (Session* session : {&alice1, &alice2, &bob, &carol})
			expectNothingBut(session->client);

		server.sendSignal(SIGTERM);
		const std::vector<std::pair<std::string, Session*>> sessions = {
		    {"alice 1", &alice1}, {"alice 2", &alice2}, {"bob", &bob}, {"carol", &carol}};
		for (const auto& entry : sessions)
		{
			try
			{
				expectClosed(entry.second->client, 1001, "Server shutting down", true);
			}
			catch (CppUnit::Exception& e)
			{
				CPPUNIT_FAIL(entry.first + ": " + e.what());
			}
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.logTail(), 0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherGatewayIntegrationTest);
