//
// TogetherPluginTest.cpp
//
// The Together plugin as a whole, run in FakeHost: the REST dispatcher and every route, the
// gateway (READY, 4001, 4002, heartbeats, fan-out, presence, voice, VOICE_SIGNAL), the inbound
// rate limit on FakeHost's virtual clock, the session caps, shutdown and the signing secret.
// Each test asserts the exact bodies, frames and close codes of the contract
// (/work/shared/protocols/together.md; the § and case numbers below are its sections and its
// §9 test cases) and, on tear-down, that FakeHost logged no ERROR (a blocking storage call on an
// event loop is one) and refused no metric.
//


#include "Rules.h"
#include "TempDir.h"
#include "TogetherPlugin.h"
#include "Tokens.h"
#include "switchboard/testing/FakeHost.h"
#include "switchboard/util/Json.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>


using namespace Switchboard;
using Switchboard::Together::TogetherPlugin;
using Switchboard::Together::TokenClaims;
using Switchboard::Together::TokenCodec;


namespace {


const std::string SECRET = "together-unit-test-secret-0123456789"; // 36 bytes
const std::string PASSWORD = "password123";
const std::string HEARTBEAT = R"({"op":"HEARTBEAT"})";
const std::string ACK = R"({"op":"HEARTBEAT_ACK"})"; // §5.4: exactly this, t and d omitted
const std::string NO_SUCH_ID = "0b0e9f3c-1d2a-4b5c-8d6e-7f8091a2b3c4";


// --- text helpers ------------------------------------------------------------------------------


std::string quote(std::string_view text)
{
	return Json::quote(text);
}


std::string errorBody(const std::string& message)
{
	return "{\"error\":" + quote(message) + "}";
}


std::string dispatchFrame(const std::string& type, const std::string& data)
{
	return R"({"op":"DISPATCH","t":")" + type + R"(","d":)" + data + "}";
}


std::string presenceFrame(const std::string& userId, const std::string& status, const std::string& customJson = "null")
{
	return dispatchFrame("PRESENCE_UPDATE", R"({"user_id":")" + userId + R"(","status":")" + status +
	                                            R"(","custom_status":)" + customJson + "}");
}


std::string voiceLeaveFrame(const std::string& userId, const std::string& username)
/// §5.5: the leave form, every flag false, channel_id and joined_at null, username kept.
{
	return dispatchFrame("VOICE_STATE_UPDATE",
	                     R"({"user_id":")" + userId + R"(","channel_id":null,"username":")" + username +
	                         R"(","muted":false,"deafened":false,"self_mute":false,"self_deaf":false,)"
	                         R"("server_mute":false,"server_deaf":false,"joined_at":null})");
}


std::string signalFrame(const std::string& fromUserId, const std::string& rest)
/// A relayed VOICE_SIGNAL: rest is what follows from_user_id inside d, leading comma included.
{
	return dispatchFrame("VOICE_SIGNAL", R"({"from_user_id":")" + fromUserId + "\"" + rest + "}");
}


std::string sendSignal(const std::string& toUserId, const std::string& signalJson)
{
	return R"({"op":"VOICE_SIGNAL","d":{"to_user_id":")" + toUserId + R"(","signal":)" + signalJson + "}}";
}


std::string upper(std::string text)
{
	std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::toupper(c)); });
	return text;
}


std::string repeat(const std::string& unit, std::size_t count)
{
	std::string out;
	for (std::size_t i = 0; i < count; ++i)
		out += unit;
	return out;
}


bool isTimestamp(const std::string& text)
{
	static const std::regex FORMAT(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$)");
	return std::regex_match(text, FORMAT);
}


bool isUuid(const std::string& text)
{
	static const std::regex FORMAT(R"(^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$)");
	return std::regex_match(text, FORMAT);
}


std::string headerOf(const HttpResponse& response, std::string_view name)
{
	return std::string(HttpText::findHeader(response.headers, name));
}


bool hasHeader(const HttpResponse& response, std::string_view name)
{
	for (const auto& header : response.headers)
		if (HttpText::equalsIgnoreCase(header.first, name))
			return true;
	return false;
}


std::vector<std::string> listItems(const std::string& list)
/// "A, B, C" as its items.
{
	std::vector<std::string> items;
	std::size_t start = 0;
	while (start <= list.size())
	{
		std::size_t comma = list.find(',', start);
		if (comma == std::string::npos)
			comma = list.size();
		std::string item = list.substr(start, comma - start);
		item.erase(0, item.find_first_not_of(' '));
		item.erase(item.find_last_not_of(' ') + 1);
		if (!item.empty())
			items.push_back(item);
		start = comma + 1;
	}
	return items;
}


std::int64_t nowSeconds()
{
	return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


// --- JSON --------------------------------------------------------------------------------------


Poco::JSON::Object::Ptr parseObject(const std::string& text)
{
	Poco::JSON::Parser parser;
	Poco::Dynamic::Var value = parser.parse(text);
	if (value.type() != typeid(Poco::JSON::Object::Ptr))
		throw std::runtime_error("not a JSON object: " + text);
	return value.extract<Poco::JSON::Object::Ptr>();
}


Poco::JSON::Array::Ptr parseArray(const std::string& text)
{
	Poco::JSON::Parser parser;
	Poco::Dynamic::Var value = parser.parse(text);
	if (value.type() != typeid(Poco::JSON::Array::Ptr))
		throw std::runtime_error("not a JSON array: " + text);
	return value.extract<Poco::JSON::Array::Ptr>();
}


std::string stringField(const Poco::JSON::Object::Ptr& object, const std::string& name)
{
	if (!object->has(name) || !object->get(name).isString())
		throw std::runtime_error("no string field " + name);
	return object->getValue<std::string>(name);
}


std::string stringField(const std::string& json, const std::string& name)
{
	return stringField(parseObject(json), name);
}


std::string jsonOf(const std::string& json, const std::string& name)
/// The JSON text of one member's value ("null", "2", "\"x\"").
{
	Poco::JSON::Object::Ptr object = parseObject(json);
	if (!object->has(name))
		throw std::runtime_error("no field " + name + " in " + json);
	if (object->isNull(name))
		return "null";
	std::ostringstream out;
	Poco::JSON::Stringifier::stringify(object->get(name), out);
	return out.str();
}


std::vector<std::string> idsOf(const std::string& jsonArray)
{
	std::vector<std::string> ids;
	Poco::JSON::Array::Ptr array = parseArray(jsonArray);
	for (std::size_t i = 0; i < array->size(); ++i)
		ids.push_back(stringField(array->getObject(static_cast<unsigned>(i)), "id"));
	return ids;
}


// --- tokens ------------------------------------------------------------------------------------


std::string base64UrlDecode(const std::string& text)
{
	static const std::string ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	std::string out;
	unsigned buffer = 0;
	int bits = 0;
	for (char c : text)
	{
		const std::size_t value = ALPHABET.find(c);
		if (value == std::string::npos)
			throw std::runtime_error("not base64url: " + text);
		buffer = (buffer << 6) | static_cast<unsigned>(value);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out += static_cast<char>((buffer >> bits) & 0xFF);
		}
	}
	return out;
}


std::string base64UrlEncode(const std::string& bytes)
{
	static const char* const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	std::string out;
	unsigned buffer = 0;
	int bits = 0;
	for (unsigned char c : bytes)
	{
		buffer = (buffer << 8) | c;
		bits += 8;
		while (bits >= 6)
		{
			bits -= 6;
			out += ALPHABET[(buffer >> bits) & 0x3F];
		}
	}
	if (bits > 0)
		out += ALPHABET[(buffer << (6 - bits)) & 0x3F];
	return out;
}


std::vector<std::string> tokenParts(const std::string& token)
{
	std::vector<std::string> parts;
	std::size_t start = 0;
	while (true)
	{
		std::size_t dot = token.find('.', start);
		parts.push_back(token.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
		if (dot == std::string::npos)
			return parts;
		start = dot + 1;
	}
}


std::string mint(const std::string& secret, const std::string& subject, const std::string& username,
                 const std::string& type, std::int64_t issuedAt, std::int64_t expiresAt)
/// A token as the plugin would issue it, signed with secret.
{
	TokenClaims claims;
	claims.subject = subject;
	claims.username = username;
	claims.tokenType = type;
	claims.jti = "5d0c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
	claims.issuedAt = issuedAt;
	claims.expiresAt = expiresAt;
	return TokenCodec(secret).issue(claims);
}


std::string unsignedToken(const std::string& signedToken)
/// The same claims under {"alg":"none"} and without a signature.
{
	return base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + tokenParts(signedToken).at(1) + ".";
}


// --- the plugin in FakeHost ---------------------------------------------------------------------


struct User
{
	std::string id;
	std::string name;
	std::string access;
	std::string refresh;
	std::string createdAt;
};


std::string userDto(const User& user, const std::string& status, const std::string& emailJson = "null",
                    const std::string& avatarJson = "null", const std::string& customJson = "null")
/// §4.1 UserDto, keys in the order the plugin writes them.
{
	return R"({"id":")" + user.id + R"(","username":)" + quote(user.name) + ",\"email\":" + emailJson +
	       ",\"avatar_url\":" + avatarJson + R"(,"status":")" + status + R"(","custom_status":)" + customJson +
	       R"(,"created_at":")" + user.createdAt + "\"}";
}


std::string serverDto(const std::string& id, const std::string& name, const std::string& descriptionJson,
                      const std::string& ownerId, const std::string& iconJson, int members,
                      const std::string& createdAt, const std::string& updatedAt)
/// §4.1 ServerDto, with is_public, the web client's extension (docs/protocols/together.md §5).
{
	return R"({"id":")" + id + R"(","name":)" + quote(name) + ",\"description\":" + descriptionJson +
	       R"(,"owner_id":")" + ownerId + R"(","icon_url":)" + iconJson + R"(,"is_public":false,"member_count":)" +
	       std::to_string(members) + R"(,"created_at":")" + createdAt + R"(","updated_at":")" + updatedAt + "\"}";
}


std::string channelDto(const std::string& id, const std::string& serverId, const std::string& name,
                       const std::string& type, int position, const std::string& categoryJson,
                       const std::string& topicJson, const std::string& createdAt)
{
	return R"({"id":")" + id + R"(","server_id":")" + serverId + R"(","name":)" + quote(name) + R"(,"type":")" + type +
	       R"(","position":)" + std::to_string(position) + ",\"category\":" + categoryJson + ",\"topic\":" + topicJson +
	       R"(,"created_at":")" + createdAt + "\"}";
}


std::string messageDto(const std::string& id, const std::string& channelId, const std::string& authorId,
                       const std::string& content, const std::string& replyJson, const std::string& createdAt,
                       const std::string& editedJson = "null")
/// §4.1 Message: updated_at and edited_at always equal, deleted always false; then the web
/// client's mention fields, always empty (docs/protocols/together.md §7).
{
	return R"({"id":")" + id + R"(","channel_id":")" + channelId + R"(","author_id":")" + authorId + R"(","content":)" +
	       quote(content) + ",\"reply_to\":" + replyJson + R"(,"created_at":")" + createdAt + R"(","updated_at":)" +
	       editedJson + ",\"edited_at\":" + editedJson +
	       R"(,"deleted":false,"mention_user_ids":[],"mention_everyone":false})";
}


std::string voiceDto(const std::string& userId, const std::string& channelId, const std::string& username,
                     bool selfMute, bool selfDeaf, const std::string& joinedAt)
/// §4.1 VoiceState of a participant (the server flags are never set).
{
	auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
	return R"({"user_id":")" + userId + R"(","channel_id":")" + channelId + R"(","username":)" + quote(username) +
	       ",\"muted\":" + flag(selfMute) + ",\"deafened\":" + flag(selfDeaf) + ",\"self_mute\":" + flag(selfMute) +
	       ",\"self_deaf\":" + flag(selfDeaf) + R"(,"server_mute":false,"server_deaf":false,"joined_at":")" + joinedAt +
	       "\"}";
}


class Server
/// One TogetherPlugin started in its own FakeHost with a fixed jwt_secret, the auth rate limit
/// off and the cheapest Argon2id cost (as §9 asks), plus the steps the tests repeat.
{
public:
	using Settings = std::initializer_list<std::pair<const char*, const char*>>;
	///< Configuration values over the defaults above; a map would make server({{"k", "v"}}) ambiguous.

	explicit Server(Settings settings = {}, Testing::SqliteTestStorage* storage = nullptr):
	    _host("together")
	{
		std::map<std::string, std::string> values = {{"jwt_secret", SECRET},
		                                             {"auth_rate_limit.per_second", "0"},
		                                             {"password.memlimit", "8192"},
		                                             {"password.opslimit", "1"}};
		for (const auto& setting : settings)
			values[setting.first] = setting.second;
		_values = values;
		if (storage != nullptr)
			_host.setStorage(storage);
		std::string error = _host.setConfig(Together::togetherDescriptor(), values);
		if (!error.empty())
			throw std::runtime_error("configuration refused: " + error);
		StartResult result = _host.start(_plugin);
		if (result.status != StartStatus::STARTED)
			throw std::runtime_error("start failed: " + result.message);
	}

	Server(const Server&) = delete;
	Server& operator=(const Server&) = delete;

	FakeHost& host() { return _host; }

	void stop() { _host.stop(_plugin); }

	ReconfigureResult reconfigure(Settings changes)
	/// A reload (SIGHUP): the values so far with changes over them, as the host hands them over.
	{
		for (const auto& change : changes)
			_values[change.first] = change.second;
		return _host.reconfigure(_plugin, Together::togetherDescriptor(), _values);
	}

	HttpResponse send(const std::string& method, const std::string& path, const std::string& body = "",
	                  const std::string& token = "", HeaderList headers = {},
	                  const std::string& remote = "127.0.0.1:40001")
	/// A request with Content-Type: application/json when it has a body and a bearer token when
	/// one is given, unless headers already name them.
	{
		if (!body.empty() && HttpText::findHeader(headers, "Content-Type").empty())
			headers.emplace_back("Content-Type", "application/json");
		if (!token.empty())
			headers.emplace_back("Authorization", "Bearer " + token);
		return _host.request(method, path, body, std::move(headers), remote);
	}

	User registerUser(const std::string& name, const std::string& emailJson = "null")
	{
		HttpResponse r =
		    send("POST", "/auth/register",
		         R"({"username":)" + quote(name) + R"(,"email":)" + emailJson + R"(,"password":")" + PASSWORD + "\"}");
		if (r.status != 201)
			throw std::runtime_error("register " + name + ": " + std::to_string(r.status) + " " + r.body);
		Poco::JSON::Object::Ptr body = parseObject(r.body);
		Poco::JSON::Object::Ptr user = body->getObject("user");
		return User{stringField(user, "id"), name, stringField(body, "access_token"),
		            stringField(body, "refresh_token"), stringField(user, "created_at")};
	}

	std::string createServer(const User& owner, const std::string& name)
	{
		HttpResponse r = send("POST", "/servers", R"({"name":)" + quote(name) + "}", owner.access);
		if (r.status != 201)
			throw std::runtime_error("create server: " + std::to_string(r.status) + " " + r.body);
		return stringField(r.body, "id");
	}

	std::string createChannel(const User& owner, const std::string& serverId, const std::string& name,
	                          const std::string& type)
	{
		HttpResponse r = send("POST", "/servers/" + serverId + "/channels",
		                      R"({"name":)" + quote(name) + R"(,"type":")" + type + "\"}", owner.access);
		if (r.status != 201)
			throw std::runtime_error("create channel: " + std::to_string(r.status) + " " + r.body);
		return stringField(r.body, "id");
	}

	void join(const User& user, const std::string& serverId)
	{
		HttpResponse r = send("POST", "/servers/" + serverId + "/join", "", user.access);
		if (r.status != 201)
			throw std::runtime_error("join: " + std::to_string(r.status) + " " + r.body);
	}

	HttpResponse post(const User& author, const std::string& channelId, const std::string& content)
	{
		return send("POST", "/channels/" + channelId + "/messages", R"({"content":)" + quote(content) + "}",
		            author.access);
	}

	ConnectionId open(const User& user, std::string* sessionId = nullptr)
	/// A gateway session; its READY is checked and taken.
	{
		ConnectionId c = _host.connect("/ws?token=" + user.access);
		if (c == 0)
			throw std::runtime_error("connect refused: " + std::to_string(_host.lastRejectStatus()));
		std::vector<std::string> sent = frames(c);
		if (sent.size() != 1 || sent[0].rfind(R"({"op":"DISPATCH","t":"READY",)", 0) != 0)
			throw std::runtime_error("the session did not start with READY alone");
		if (sessionId != nullptr)
			*sessionId = stringField(parseObject(sent[0])->getObject("d"), "session_id");
		return c;
	}

	std::vector<std::string> frames(ConnectionId c)
	/// The text frames sent to c since the last call (the server never sends binary, §5.2).
	{
		std::vector<std::string> texts;
		for (SentMessage& message : _host.takeSent(c))
		{
			if (message.kind != MessageKind::TEXT)
				throw std::runtime_error("a binary frame was sent");
			texts.push_back(std::move(message.data));
		}
		return texts;
	}

	void drain(std::initializer_list<ConnectionId> connections)
	{
		for (ConnectionId c : connections)
			_host.takeSent(c);
	}

	std::vector<std::string> heartbeat(ConnectionId c)
	/// The sentinel of §9: a HEARTBEAT, then everything sent since the last look.
	{
		_host.deliver(c, HEARTBEAT);
		return frames(c);
	}

	QueryResult sql(const std::string& statement, const std::vector<Value>& params = {})
	{
		return _host.sqliteStorage()->execute(statement, params);
	}

private:
	FakeHost _host;
	TogetherPlugin _plugin;
	std::map<std::string, std::string> _values; ///< the configuration in force (start, then reloads)
};


struct World
/// "alice, bob in S; carol outside" (§9): alice owns S with a text channel and two voice
/// channels, bob joined S; carol owns T with one voice channel.
{
	User alice, bob, carol;
	std::string server, text, voice, voice2;
	std::string other, otherVoice;
};


World makeWorld(Server& s)
{
	World w;
	w.alice = s.registerUser("alice");
	w.bob = s.registerUser("bob");
	w.carol = s.registerUser("carol");
	w.server = s.createServer(w.alice, "S");
	s.join(w.bob, w.server);
	w.text = s.createChannel(w.alice, w.server, "general", "text");
	w.voice = s.createChannel(w.alice, w.server, "V", "voice");
	w.voice2 = s.createChannel(w.alice, w.server, "V2", "voice");
	w.other = s.createServer(w.carol, "T");
	w.otherVoice = s.createChannel(w.carol, w.other, "TV", "voice");
	return w;
}


using Frames = std::vector<std::string>;


void expectError(const HttpResponse& r, int status, const std::string& message, const CppUnit::SourceLine& line)
{
	CppUnit::assertEquals(status, r.status, line, "status; body " + r.body);
	CppUnit::assertEquals(errorBody(message), r.body, line, "error body");
	CppUnit::Asserter::failIf(headerOf(r, "Content-Type").rfind("application/json", 0) != 0,
	                          "error without a JSON Content-Type", line);
}


void expectStatus(const HttpResponse& r, int status, const CppUnit::SourceLine& line)
{
	CppUnit::assertEquals(status, r.status, line, "status; body " + r.body);
}


void expectClose(Server& s, ConnectionId c, std::uint16_t code, const std::string& reason,
                 const CppUnit::SourceLine& line)
{
	auto close = s.host().closeOf(c);
	CppUnit::Asserter::failIf(!close, "the server did not close connection " + std::to_string(c), line);
	CppUnit::assertEquals(int(code), int(close->first), line, "close code");
	CppUnit::assertEquals(reason, close->second, line, "close reason");
	CppUnit::Asserter::failIf(s.host().isOpen(c), "still open", line);
}


void expectFrames(const Frames& expected, const Frames& actual, const CppUnit::SourceLine& line)
{
	std::string wanted, got;
	for (const std::string& f : expected)
		wanted += f + "\n";
	for (const std::string& f : actual)
		got += f + "\n";
	CppUnit::assertEquals(wanted, got, line, "frames");
}


#define EXPECT_ERROR(response, status, message) expectError((response), (status), (message), CPPUNIT_SOURCELINE())
#define EXPECT_STATUS(response, status) expectStatus((response), (status), CPPUNIT_SOURCELINE())
#define EXPECT_CLOSE(server, c, code, reason) expectClose((server), (c), (code), (reason), CPPUNIT_SOURCELINE())
#define EXPECT_FRAMES(expected, actual) expectFrames((expected), (actual), CPPUNIT_SOURCELINE())
#define EXPECT_QUIET(server, c) expectFrames(Frames{ACK}, (server).heartbeat(c), CPPUNIT_SOURCELINE())
///< "Nothing arrives" (§9): a HEARTBEAT's ACK is the very next frame.


} // namespace


class TogetherPluginTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherPluginTest);
	// the dispatcher (§1)
	CPPUNIT_TEST(testHealthBareApiAndTrailingSlash);
	CPPUNIT_TEST(testUnknownRoutes);
	CPPUNIT_TEST(testMethodNotAllowed);
	CPPUNIT_TEST(testOptionsAndCors);
	CPPUNIT_TEST(testCorsOriginList);
	CPPUNIT_TEST(testInvalidIdInPath);
	CPPUNIT_TEST(testUppercaseIdsInPaths);
	CPPUNIT_TEST(testOrderOfChecks);
	CPPUNIT_TEST(testBodyChecks);
	CPPUNIT_TEST(testGatewayPathWithoutUpgrade);
	// auth (§2, §4.3)
	CPPUNIT_TEST(testRegister);
	CPPUNIT_TEST(testRegisterErrors);
	CPPUNIT_TEST(testPasswordStorage);
	CPPUNIT_TEST(testLogin);
	CPPUNIT_TEST(testRehashOnLogin);
	CPPUNIT_TEST(testBearer);
	CPPUNIT_TEST(testRefreshRotation);
	CPPUNIT_TEST(testLogout);
	CPPUNIT_TEST(testAuthRateLimit);
	CPPUNIT_TEST(testJwtSecretGeneratedStoredAndReused);
	CPPUNIT_TEST(testShortJwtSecretRefused);
	// REST resources (§4)
	CPPUNIT_TEST(testUsersMe);
	CPPUNIT_TEST(testServers);
	CPPUNIT_TEST(testServerValues);
	CPPUNIT_TEST(testJoinLeaveMembers);
	CPPUNIT_TEST(testChannels);
	CPPUNIT_TEST(testMessages);
	CPPUNIT_TEST(testPagination);
	CPPUNIT_TEST(testEditAndDelete);
	CPPUNIT_TEST(testDeleteServerCascades);
	CPPUNIT_TEST(testVoiceRest);
	CPPUNIT_TEST(testHourlyPruneOffTheLoop);
	CPPUNIT_TEST(testDatabaseErrorIs500);
	CPPUNIT_TEST(testApiParity);
	// the gateway (§5)
	CPPUNIT_TEST(testReadyFirst);
	CPPUNIT_TEST(testReadyAliasesAndTokenSources);
	CPPUNIT_TEST(testBadTokensClose4001);
	CPPUNIT_TEST(testBadFramesClose4002);
	CPPUNIT_TEST(testIgnoredInputs);
	CPPUNIT_TEST(testHeartbeat);
	CPPUNIT_TEST(testMessageFanOut);
	CPPUNIT_TEST(testMembershipIsLive);
	CPPUNIT_TEST(testPresence);
	CPPUNIT_TEST(testPresenceMultiSession);
	CPPUNIT_TEST(testPresenceAppearOffline);
	CPPUNIT_TEST(testPresenceCustomStatus);
	CPPUNIT_TEST(testPresenceOverRest);
	CPPUNIT_TEST(testVoiceEvents);
	CPPUNIT_TEST(testVoiceMoves);
	CPPUNIT_TEST(testVoiceCleanup);
	CPPUNIT_TEST(testVoiceSignalRelay);
	CPPUNIT_TEST(testVoiceSignalBigNumber);
	CPPUNIT_TEST(testVoiceSignalFlatForm);
	CPPUNIT_TEST(testVoiceSignalRefusals);
	CPPUNIT_TEST(testBoundVoice);
	CPPUNIT_TEST(testInboundRateLimit);
	CPPUNIT_TEST(testInboundRateLimitWindow);
	CPPUNIT_TEST(testPingsCountAgainstRate);
	CPPUNIT_TEST(testFrameSizeLimit);
	CPPUNIT_TEST(testHeartbeatTimeout);
	CPPUNIT_TEST(testSlowConsumer);
	CPPUNIT_TEST(testSessionCap);
	CPPUNIT_TEST(testDefaultSessionCap);
	CPPUNIT_TEST(testConnectionCap);
	CPPUNIT_TEST(testOriginAndConnectRate);
	CPPUNIT_TEST(testTokenExpiryOnLiveSocket);
	CPPUNIT_TEST(testStoppingClosesEverySession);

	CPPUNIT_TEST(testReloadOrigins);
	CPPUNIT_TEST(testReloadAuthRateKeepsLevel);
	CPPUNIT_TEST(testReloadGatewayRateKeepsLevel);
	CPPUNIT_TEST(testReloadCapsAndReady);
	CPPUNIT_TEST(testReloadTokenLifetimes);
	CPPUNIT_TEST(testReloadCloseOnTokenExpiry);
	CPPUNIT_TEST(testReloadPasswordCost);
	CPPUNIT_TEST(testReloadWebRoot);
	CPPUNIT_TEST(testReloadNeedsRestart);
	CPPUNIT_TEST(testReloadMixedAppliesNothing);
	CPPUNIT_TEST_SUITE_END();

public:
	void tearDown() override
	{
		// Stop every plugin, then check what FakeHost saw: no ERROR (a blocking storage call on
		// an event loop, a route registered late, an exception), no refused metric.
		std::vector<std::string> problems;
		for (auto& s : _servers)
		{
			s->stop();
			for (const std::string& line : s->host().logLines())
				if (line.rfind("ERROR", 0) == 0)
					problems.push_back(line);
			for (const std::string& error : s->host().registrationErrors())
				problems.push_back(error);
		}
		_servers.clear();
		_storage.reset();
		std::string text;
		for (const std::string& p : problems)
			text += "\n  " + p;
		CPPUNIT_ASSERT_MESSAGE("FakeHost logged:" + text, problems.empty());
	}

	// --- the dispatcher ------------------------------------------------------------------------

	void testHealthBareApiAndTrailingSlash()
	{
		Server& s = server();
		const std::string body = R"({"status":"ok","service":"together-server","version":"1.0.0","database":"ok"})";
		for (const char* path : {"/health", "/api/health", "/health/", "/api/health/"})
		{
			HttpResponse r = s.send("GET", path);
			EXPECT_STATUS(r, 200);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, body, r.body);
			CPPUNIT_ASSERT_EQUAL(0, int(headerOf(r, "Content-Type").rfind("application/json", 0)));
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		}
		// HEAD is GET without the body.
		HttpResponse head = s.send("HEAD", "/health");
		EXPECT_STATUS(head, 200);
		CPPUNIT_ASSERT(head.body.empty());
		// Authenticated routes the same, bare, under /api and with a trailing slash.
		User alice = s.registerUser("alice");
		std::string expected = s.send("GET", "/servers", "", alice.access).body;
		for (const char* path : {"/servers/", "/api/servers", "/api/servers/"})
		{
			HttpResponse r = s.send("GET", path, "", alice.access);
			EXPECT_STATUS(r, 200);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, expected, r.body);
		}
	}

	void testUnknownRoutes()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		// Unknown paths, the routes §4.9 leaves out, two trailing slashes, /api alone: 404, no
		// authentication needed to learn that.
		for (const char* path : {"/nope", "/api/nope", "/attachments", "/invites/abc", "/roles", "/api", "/api/", "/",
		                         "/healthz", "/api/api/health", "/auth"})
		{
			EXPECT_ERROR(s.send("GET", path), 404, "Not found");
			EXPECT_ERROR(s.send("GET", path, "", alice.access), 404, "Not found");
		}
		EXPECT_ERROR(s.send("POST", "/servers/" + NO_SUCH_ID + "/nope", "{}", alice.access), 404, "Not found");
		EXPECT_ERROR(s.send("GET", "/users/@me/settings", "", alice.access), 404, "Not found");
	}

	void testMethodNotAllowed()
	{
		Server& s = server();
		// A known path with another method: 405 with Allow, before authentication.
		struct Case
		{
			const char* method;
			std::string path;
			std::vector<std::string> allowed;
		};
		const std::vector<Case> cases = {
		    {"PUT", "/servers", {"GET", "POST"}},
		    {"DELETE", "/api/servers", {"GET", "POST"}},
		    {"GET", "/auth/login", {"POST"}},
		    {"PUT", "/servers/" + NO_SUCH_ID, {"GET", "PATCH", "DELETE"}},
		    {"GET", "/servers/" + NO_SUCH_ID + "/join", {"POST"}},
		    {"POST", "/messages/" + NO_SUCH_ID, {"PATCH", "DELETE"}},
		    {"POST", "/health", {"GET"}},
		};
		for (const Case& c : cases)
		{
			HttpResponse r = s.send(c.method, c.path, "");
			EXPECT_ERROR(r, 405, "Method not allowed");
			std::vector<std::string> allow = listItems(headerOf(r, "Allow"));
			for (const std::string& method : c.allowed)
				CPPUNIT_ASSERT_MESSAGE(c.path + " Allow: " + headerOf(r, "Allow"),
				                       std::count(allow.begin(), allow.end(), method) == 1);
			CPPUNIT_ASSERT_MESSAGE(headerOf(r, "Allow"), std::count(allow.begin(), allow.end(), c.method) == 0);
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		}
	}

	void testOptionsAndCors()
	{
		Server& s = server();
		// §1.4: OPTIONS on any route is 204 with the CORS headers, no authentication.
		for (const std::string& path :
		     {std::string("/servers"), std::string("/api/servers"), "/servers/" + NO_SUCH_ID + "/channels",
		      std::string("/auth/login"), std::string("/users/@me"), "/channels/" + NO_SUCH_ID + "/voice"})
		{
			HttpResponse r = s.send("OPTIONS", path, "", "", {{"Origin", "http://app.example"}});
			EXPECT_STATUS(r, 204);
			CPPUNIT_ASSERT_MESSAGE(path, r.body.empty());
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, PATCH, DELETE, OPTIONS"),
			                     headerOf(r, "Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL(std::string("Authorization, Content-Type"),
			                     headerOf(r, "Access-Control-Allow-Headers"));
			CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Credentials"));
		}
		// Every response carries them, errors included.
		for (const HttpResponse& r : {s.send("GET", "/servers"), s.send("GET", "/nope"), s.send("GET", "/health")})
		{
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, PATCH, DELETE, OPTIONS"),
			                     headerOf(r, "Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL(std::string("Authorization, Content-Type"),
			                     headerOf(r, "Access-Control-Allow-Headers"));
			CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Credentials"));
		}
	}

	void testCorsOriginList()
	{
		Server& s = server({{"cors_origins", "http://a.example, http://b.example"}});
		HttpResponse listed = s.send("GET", "/health", "", "", {{"Origin", "http://b.example"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://b.example"), headerOf(listed, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), headerOf(listed, "Vary"));
		HttpResponse other = s.send("GET", "/health", "", "", {{"Origin", "http://evil.example"}});
		CPPUNIT_ASSERT(!hasHeader(other, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), headerOf(other, "Vary"));
		HttpResponse preflight = s.send("OPTIONS", "/servers", "", "", {{"Origin", "http://a.example"}});
		EXPECT_STATUS(preflight, 204);
		CPPUNIT_ASSERT_EQUAL(std::string("http://a.example"), headerOf(preflight, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, PATCH, DELETE, OPTIONS"),
		                     headerOf(preflight, "Access-Control-Allow-Methods"));
		CPPUNIT_ASSERT(!hasHeader(preflight, "Access-Control-Allow-Credentials"));
	}

	void testInvalidIdInPath()
	{
		Server& s = server();
		World w = makeWorld(s);
		const std::string token = w.alice.access;
		const std::vector<std::pair<const char*, std::string>> cases = {
		    {"GET", "/servers/not-a-uuid"},
		    {"GET", "/api/servers/123"},
		    {"PATCH", "/servers/" + w.server.substr(0, 35)},
		    {"DELETE", "/servers/" + w.server + "x"},
		    {"POST", "/servers/zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz/join"},
		    {"DELETE", "/servers/nope/leave"},
		    {"GET", "/servers/nope/members"},
		    {"GET", "/servers/" + w.server + "/channels/nope"},
		    {"GET", "/servers/nope/channels/" + w.text},
		    {"POST", "/channels/nope/messages"},
		    {"GET", "/channels/nope/messages"},
		    {"PATCH", "/messages/nope"},
		    {"DELETE", "/messages/nope"},
		    {"POST", "/channels/nope/voice"},
		    {"GET", "/channels/" + w.voice.substr(1) + "/voice"},
		};
		for (const auto& c : cases)
			EXPECT_ERROR(s.send(c.first, c.second, "", token), 400, "Invalid id in path");
	}

	void testUppercaseIdsInPaths()
	{
		Server& s = server();
		World w = makeWorld(s);
		const std::string S = upper(w.server);
		const std::string C = upper(w.text);
		HttpResponse r = s.send("GET", "/servers/" + S, "", w.alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(w.server, stringField(r.body, "id"));
		r = s.send("GET", "/servers/" + S + "/channels/" + C, "", w.alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(w.text, stringField(r.body, "id"));
		CPPUNIT_ASSERT_EQUAL(w.server, stringField(r.body, "server_id"));
		r = s.send("POST", "/channels/" + C + "/messages", R"({"content":"hi"})", w.bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(w.text, stringField(r.body, "channel_id"));
		const std::string M = upper(stringField(r.body, "id"));
		EXPECT_STATUS(s.send("PATCH", "/messages/" + M, R"({"content":"edited"})", w.bob.access), 200);
		EXPECT_STATUS(s.send("GET", "/channels/" + C + "/messages?before=" + M, "", w.bob.access), 200);
		r = s.send("POST", "/channels/" + upper(w.voice) + "/voice", "", w.bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(w.voice, stringField(r.body, "channel_id"));
		EXPECT_STATUS(s.send("DELETE", "/messages/" + M, "", w.bob.access), 204);
		EXPECT_STATUS(s.send("DELETE", "/servers/" + S + "/leave", "", w.bob.access), 204);
		EXPECT_STATUS(s.send("POST", "/servers/" + upper(w.other) + "/join", "", w.bob.access), 201);
		EXPECT_ERROR(s.send("POST", "/servers/" + upper(w.other) + "/join", "", w.bob.access), 409,
		             "Already a member of this server");
	}

	void testOrderOfChecks()
	{
		// §1.3: 401, then path ids (400), then the body (415, 400, 422), then values (400), then
		// existence (404), then permission (403), then conflicts (409).
		Server& s = server();
		World w = makeWorld(s);
		const std::string bad = "/servers/not-a-uuid";
		const std::string unknown = "/servers/" + NO_SUCH_ID;
		const std::string S = "/servers/" + w.server;
		HeaderList plain = {{"Content-Type", "text/plain"}};

		EXPECT_ERROR(s.send("PATCH", bad, "x", "", plain), 401, "Missing or invalid Authorization header");
		EXPECT_ERROR(s.send("PATCH", bad, "x", "garbage", plain), 401, "Invalid or expired token");
		EXPECT_ERROR(s.send("PATCH", bad, "x", w.alice.access, plain), 400, "Invalid id in path");
		EXPECT_ERROR(s.send("PATCH", unknown, "x", w.alice.access, plain), 415,
		             "Content-Type must be application/json");
		EXPECT_ERROR(s.send("PATCH", unknown, "not json", w.alice.access), 400, "Invalid JSON body");
		HttpResponse shape = s.send("PATCH", unknown, R"({"name":5})", w.alice.access);
		EXPECT_STATUS(shape, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(shape.body, "error").rfind("Invalid request body: name", 0)));
		EXPECT_ERROR(s.send("PATCH", unknown, R"({"name":""})", w.alice.access), 400,
		             "Server name must be 1–100 characters");
		EXPECT_ERROR(s.send("PATCH", unknown, R"({"name":"ok"})", w.alice.access), 404, "Server not found");
		// A non-member learns nothing more than about a missing server; a member lacks the role.
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":""})", w.carol.access), 400, "Server name must be 1–100 characters");
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":"ok"})", w.carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":""})", w.bob.access), 400, "Server name must be 1–100 characters");
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":"ok"})", w.bob.access), 403, "Only the server owner can update it");
		EXPECT_ERROR(s.send("DELETE", S, "", w.carol.access), 404, "Server not found");
		// Existence before conflict: joining a missing server is 404, a second join 409.
		EXPECT_ERROR(s.send("POST", unknown + "/join", "", w.bob.access), 404, "Server not found");
		EXPECT_ERROR(s.send("POST", S + "/join", "", w.bob.access), 409, "Already a member of this server");
		// Values before conflicts: a taken username with a bad password is 400, not 409.
		EXPECT_ERROR(s.send("POST", "/auth/register", R"({"username":"alice","password":"short"})"), 400,
		             "Password must be 8–128 characters");
		EXPECT_ERROR(s.send("POST", "/auth/register", R"({"username":"alice","email":"bad","password":"password123"})"),
		             400, "Invalid email address");
		EXPECT_ERROR(s.send("POST", "/auth/register", R"({"username":"alice","password":"password123"})"), 409,
		             "Username already taken");
		// Channels: path ids, body, values, existence, permission.
		const std::string channel = S + "/channels/" + w.text;
		EXPECT_ERROR(s.send("PATCH", S + "/channels/x", R"({"position":-1})", w.bob.access), 400, "Invalid id in path");
		EXPECT_ERROR(s.send("PATCH", channel, R"({"position":-1})", w.carol.access), 400,
		             "Position must be zero or greater");
		EXPECT_ERROR(s.send("PATCH", channel, R"({"position":1})", w.carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("PATCH", S + "/channels/" + NO_SUCH_ID, R"({"position":1})", w.bob.access), 404,
		             "Channel not found");
		EXPECT_ERROR(s.send("PATCH", channel, R"({"position":1})", w.bob.access), 403,
		             "Only the server owner can update channels");
		// Messages: body shape before values before existence.
		const std::string posts = "/channels/" + w.text + "/messages";
		HttpResponse missing = s.send("POST", posts, R"({"contents":"x"})", w.carol.access);
		EXPECT_STATUS(missing, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(missing.body, "error").rfind("Invalid request body: content", 0)));
		EXPECT_ERROR(s.send("POST", posts, R"({"content":""})", w.carol.access), 400,
		             "Message content must be 1–4000 characters");
		EXPECT_ERROR(s.send("POST", posts, R"({"content":"x"})", w.carol.access), 404, "Channel not found");
	}

	void testBodyChecks()
	{
		Server& s = server();
		World w = makeWorld(s);
		const std::string S = "/servers/" + w.server;
		// 415 for a body route with another type, also for an empty required body; a charset is fine.
		EXPECT_ERROR(s.send("POST", "/servers", R"({"name":"x"})", w.alice.access, {{"Content-Type", "text/plain"}}),
		             415, "Content-Type must be application/json");
		EXPECT_ERROR(s.send("POST", "/servers", "", w.alice.access), 415, "Content-Type must be application/json");
		EXPECT_STATUS(s.send("POST", "/servers", R"({"name":"x"})", w.alice.access,
		                     {{"Content-Type", "application/json; charset=utf-8"}}),
		              201);
		// 400 for what is not a JSON object.
		for (const char* body : {"not json", "[]", "\"x\"", "1", "null", "{", "{\"name\":\"x\",}"})
			EXPECT_ERROR(s.send("POST", "/servers", body, w.alice.access), 400, "Invalid JSON body");
		EXPECT_ERROR(s.send("POST", "/servers", "", w.alice.access, {{"Content-Type", "application/json"}}), 400,
		             "Invalid JSON body");
		// 422 names the field; unknown fields are ignored.
		HttpResponse r = s.send("POST", "/servers", R"({"title":"x"})", w.alice.access);
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: name", 0)));
		EXPECT_STATUS(s.send("POST", "/servers", R"({"name":"x","unknown":[1,2]})", w.alice.access), 201);
		r = s.send("POST", S + "/channels", R"({"name":"x","type":"video"})", w.alice.access);
		EXPECT_ERROR(r, 422, "Invalid request body: type: expected one of text, voice");
		// Routes without a body ignore whatever is sent.
		EXPECT_STATUS(s.send("POST", "/servers/" + w.other + "/join", "garbage", w.alice.access,
		                     {{"Content-Type", "text/plain"}}),
		              201);
		EXPECT_STATUS(s.send("GET", "/servers", "garbage", w.alice.access, {{"Content-Type", "text/plain"}}), 200);
		EXPECT_STATUS(
		    s.send("DELETE", "/servers/" + w.other + "/leave", "{", w.alice.access, {{"Content-Type", "text/plain"}}),
		    204);
		// The voice join takes an optional body: none is fine, a body is checked.
		const std::string voice = "/channels/" + w.voice + "/voice";
		EXPECT_ERROR(s.send("POST", voice, "x", w.bob.access, {{"Content-Type", "text/plain"}}), 415,
		             "Content-Type must be application/json");
		EXPECT_ERROR(s.send("POST", voice, "not json", w.bob.access), 400, "Invalid JSON body");
		r = s.send("POST", voice, R"({"session_id":5})", w.bob.access);
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: session_id", 0)));
		EXPECT_STATUS(s.send("POST", voice, "", w.bob.access), 201);
		EXPECT_STATUS(s.send("POST", voice, "{}", w.bob.access), 201);
	}

	void testGatewayPathWithoutUpgrade()
	{
		Server& s = server();
		EXPECT_ERROR(s.send("GET", "/ws"), 400, "WebSocket upgrade required");
		EXPECT_ERROR(s.send("GET", "/api/ws"), 400, "WebSocket upgrade required");
	}

	// --- auth ----------------------------------------------------------------------------------

	void testRegister()
	{
		// Case 1.
		Server& s = server();
		const std::int64_t before = nowSeconds();
		HttpResponse r = s.send("POST", "/auth/register", R"({"username":"alice_x","password":"password123"})");
		const std::int64_t after = nowSeconds();
		EXPECT_STATUS(r, 201);
		Poco::JSON::Object::Ptr body = parseObject(r.body);
		Poco::JSON::Object::Ptr user = body->getObject("user");
		User alice{stringField(user, "id"), "alice_x", stringField(body, "access_token"),
		           stringField(body, "refresh_token"), stringField(user, "created_at")};
		CPPUNIT_ASSERT(isUuid(alice.id));
		CPPUNIT_ASSERT(isTimestamp(alice.createdAt));
		CPPUNIT_ASSERT_EQUAL(R"({"access_token":")" + alice.access + R"(","refresh_token":")" + alice.refresh +
		                         R"(","user":)" + userDto(alice, "offline") + "}",
		                     r.body);
		CPPUNIT_ASSERT_EQUAL(0, int(headerOf(r, "Content-Type").rfind("application/json", 0)));

		std::vector<std::string> access = tokenParts(alice.access);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), access.size());
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"alg":"HS256","typ":"JWT"})"), base64UrlDecode(access[0]));
		Poco::JSON::Object::Ptr claims = parseObject(base64UrlDecode(access[1]));
		CPPUNIT_ASSERT_EQUAL(alice.id, stringField(claims, "sub"));
		CPPUNIT_ASSERT_EQUAL(std::string("alice_x"), stringField(claims, "username"));
		CPPUNIT_ASSERT_EQUAL(std::string("access"), stringField(claims, "token_type"));
		CPPUNIT_ASSERT(isUuid(stringField(claims, "jti")));
		const std::int64_t iat = claims->getValue<Poco::Int64>("iat");
		CPPUNIT_ASSERT(iat >= before && iat <= after);
		CPPUNIT_ASSERT_EQUAL(iat + 900, std::int64_t(claims->getValue<Poco::Int64>("exp")));

		std::vector<std::string> refresh = tokenParts(alice.refresh);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), refresh.size());
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"alg":"HS256","typ":"JWT"})"), base64UrlDecode(refresh[0]));
		Poco::JSON::Object::Ptr refreshClaims = parseObject(base64UrlDecode(refresh[1]));
		CPPUNIT_ASSERT_EQUAL(alice.id, stringField(refreshClaims, "sub"));
		CPPUNIT_ASSERT_EQUAL(std::string("refresh"), stringField(refreshClaims, "token_type"));
		const std::int64_t refreshIat = refreshClaims->getValue<Poco::Int64>("iat");
		CPPUNIT_ASSERT_EQUAL(refreshIat + 604800, std::int64_t(refreshClaims->getValue<Poco::Int64>("exp")));
		CPPUNIT_ASSERT(stringField(refreshClaims, "jti") != stringField(claims, "jti"));

		// With an email; "" means none; usernames are case-sensitive.
		User bob = s.registerUser("bob", R"("bob@example.com")");
		r = s.send("GET", "/users/@me", "", bob.access);
		CPPUNIT_ASSERT_EQUAL(userDto(bob, "offline", R"("bob@example.com")"), r.body);
		User carol = s.registerUser("carol", R"("")");
		User dave = s.registerUser("dave", R"("")");
		CPPUNIT_ASSERT_EQUAL(userDto(carol, "offline"), s.send("GET", "/users/@me", "", carol.access).body);
		CPPUNIT_ASSERT_EQUAL(userDto(dave, "offline"), s.send("GET", "/users/@me", "", dave.access).body);
		User upperAlice = s.registerUser("Alice_X");
		CPPUNIT_ASSERT(upperAlice.id != alice.id);
	}

	void testRegisterErrors()
	{
		// Case 2 and the value rules of §4.3.
		Server& s = server();
		s.registerUser("alice", R"("alice@example.com")");
		auto registerWith = [&s](const std::string& username, const std::string& emailJson,
		                         const std::string& password) {
			return s.send("POST", "/auth/register",
			              R"({"username":)" + quote(username) + R"(,"email":)" + emailJson + R"(,"password":)" +
			                  quote(password) + "}");
		};
		EXPECT_ERROR(registerWith("alice", "null", PASSWORD), 409, "Username already taken");
		EXPECT_ERROR(registerWith("alice2", R"("alice@example.com")", PASSWORD), 409, "Email already registered");
		const std::string usernameRule = "Username must be 2–32 characters: letters, digits, '_', '.' or '-'";
		for (const std::string& name : {std::string("a"), std::string(33, 'u'), std::string("bad name"),
		                                std::string("ünï"), std::string("a/b"), std::string()})
			EXPECT_ERROR(registerWith(name, "null", PASSWORD), 400, usernameRule);
		for (const std::string& name : {std::string("ab"), std::string(32, 'u'), std::string("a.b-c_D9")})
			EXPECT_STATUS(registerWith(name, "null", PASSWORD), 201);
		for (const std::string& email :
		     {std::string("nope"), std::string("a@b"), std::string("@x.com"), std::string("a@@x.com"),
		      std::string("a@x@y.com"), std::string(243, 'e') + "@example.com"})
			EXPECT_ERROR(registerWith("emailer", quote(email), PASSWORD), 400, "Invalid email address");
		EXPECT_STATUS(registerWith("emailer", quote(std::string(242, 'e') + "@example.com"), PASSWORD), 201);
		const std::string passwordRule = "Password must be 8–128 characters";
		for (const std::string& password : {std::string("short"), repeat("é", 7), repeat("é", 129), std::string()})
			EXPECT_ERROR(registerWith("pw", "null", password), 400, passwordRule);
		EXPECT_STATUS(registerWith("pw", "null", repeat("é", 128)), 201);
		EXPECT_STATUS(registerWith("pw8", "null", "12345678"), 201);

		HttpResponse r = s.send("POST", "/auth/register", R"({"username":"nopw"})");
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: password", 0)));
		r = s.send("POST", "/auth/register", R"({"username":5,"password":"password123"})");
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: username", 0)));
		r = s.send("POST", "/auth/register", R"({"username":"x1","email":5,"password":"password123"})");
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: email", 0)));
		EXPECT_ERROR(s.send("POST", "/auth/register", "not json"), 400, "Invalid JSON body");
		EXPECT_ERROR(s.send("POST", "/auth/register", R"({"username":"tp","password":"password123"})", "",
		                    {{"Content-Type", "text/plain"}}),
		             415, "Content-Type must be application/json");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     valueAsInt(s.sql("SELECT COUNT(*) FROM users WHERE username = 'tp'").rows.at(0).at(0)));
	}

	void testPasswordStorage()
	{
		// Case 3, and §2.2: a refresh token is stored as its SHA-256 only.
		Server& s = server();
		User alice = s.registerUser("alice");
		QueryResult row = s.sql("SELECT password_hash FROM users WHERE id = ?", {alice.id});
		CPPUNIT_ASSERT(row.ok);
		const std::string hash = valueAsString(row.rows.at(0).at(0));
		CPPUNIT_ASSERT_EQUAL(0, int(hash.rfind("$argon2id$v=19$", 0)));
		CPPUNIT_ASSERT(hash.find(PASSWORD) == std::string::npos);
		QueryResult sessions = s.sql("SELECT token_hash FROM sessions WHERE user_id = ?", {alice.id});
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), sessions.rows.size());
		CPPUNIT_ASSERT_EQUAL(Together::sha256Hex(alice.refresh), valueAsString(sessions.rows[0][0]));
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(0),
		    valueAsInt(s.sql("SELECT COUNT(*) FROM sessions WHERE token_hash = ?", {alice.refresh}).rows.at(0).at(0)));
	}

	void testLogin()
	{
		// Case 4.
		Server& s = server();
		User alice = s.registerUser("alice");
		const std::string credentials = R"({"username":"alice","password":"password123"})";
		HttpResponse first = s.send("POST", "/auth/login", credentials);
		EXPECT_STATUS(first, 200);
		Poco::JSON::Object::Ptr body = parseObject(first.body);
		const std::string access = stringField(body, "access_token");
		const std::string refresh = stringField(body, "refresh_token");
		CPPUNIT_ASSERT_EQUAL(R"({"access_token":")" + access + R"(","refresh_token":")" + refresh + R"(","user":)" +
		                         userDto(alice, "offline") + "}",
		                     first.body);
		HttpResponse second = s.send("POST", "/auth/login", credentials);
		EXPECT_STATUS(second, 200);
		CPPUNIT_ASSERT(stringField(second.body, "access_token") != access);
		CPPUNIT_ASSERT(stringField(second.body, "refresh_token") != refresh);
		CPPUNIT_ASSERT(access != alice.access);
		EXPECT_STATUS(s.send("GET", "/users/@me", "", access), 200);

		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"alice","password":"password124"})"), 401,
		             "Invalid username or password");
		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"nobody","password":"password123"})"), 401,
		             "Invalid username or password");
		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"ALICE","password":"password123"})"), 401,
		             "Invalid username or password");
		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"","password":"password123"})"), 400,
		             "Username and password are required");
		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"alice","password":""})"), 400,
		             "Username and password are required");
		HttpResponse shape = s.send("POST", "/auth/login", R"({"username":"alice"})");
		EXPECT_STATUS(shape, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(shape.body, "error").rfind("Invalid request body: password", 0)));

		// Logging in changes no presence: a connected alice who chose dnd stays dnd, unannounced.
		ConnectionId c = s.open(alice);
		s.host().deliver(c, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd"}})");
		HttpResponse during = s.send("POST", "/auth/login", credentials);
		EXPECT_STATUS(during, 200);
		CPPUNIT_ASSERT_EQUAL(R"({"access_token":")" + stringField(during.body, "access_token") +
		                         R"(","refresh_token":")" + stringField(during.body, "refresh_token") + R"(","user":)" +
		                         userDto(alice, "dnd") + "}",
		                     during.body);
		EXPECT_QUIET(s, c);
	}

	void testRehashOnLogin()
	{
		// §2.3: a hash made at another cost is replaced on the next successful login.
		_storage = std::make_unique<Testing::SqliteTestStorage>();
		Server& first = server({}, _storage.get());
		User alice = first.registerUser("alice");
		const std::string before = valueAsString(first.sql("SELECT password_hash FROM users").rows.at(0).at(0));
		CPPUNIT_ASSERT(before.find(",t=1,") != std::string::npos);
		first.stop();
		Server& second = server({{"password.opslimit", "2"}}, _storage.get());
		EXPECT_ERROR(second.send("POST", "/auth/login", R"({"username":"alice","password":"wrongpass"})"), 401,
		             "Invalid username or password");
		CPPUNIT_ASSERT_EQUAL(before, valueAsString(second.sql("SELECT password_hash FROM users").rows.at(0).at(0)));
		EXPECT_STATUS(second.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})"), 200);
		const std::string after = valueAsString(second.sql("SELECT password_hash FROM users").rows.at(0).at(0));
		CPPUNIT_ASSERT_EQUAL(0, int(after.rfind("$argon2id$v=19$", 0)));
		CPPUNIT_ASSERT(after.find(",t=2,") != std::string::npos);
		EXPECT_STATUS(second.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})"), 200);
	}

	void testBearer()
	{
		// Case 5 and §2.1's table.
		Server& s = server();
		User alice = s.registerUser("alice");
		const std::int64_t now = nowSeconds();
		EXPECT_STATUS(s.send("GET", "/users/@me", "", alice.access), 200);
		EXPECT_STATUS(s.send("GET", "/users/@me", "", "", {{"Authorization", "bearer " + alice.access}}), 200);
		EXPECT_STATUS(s.send("GET", "/users/@me", "", "", {{"Authorization", "BEARER " + alice.access}}), 200);
		const std::string missing = "Missing or invalid Authorization header";
		EXPECT_ERROR(s.send("GET", "/users/@me"), 401, missing);
		for (const std::string& header : {std::string("Bearer"), std::string("Bearer "), "Basic " + alice.access,
		                                  std::string(alice.access), "Token " + alice.access})
			EXPECT_ERROR(s.send("GET", "/users/@me", "", "", {{"Authorization", header}}), 401, missing);
		const std::string invalid = "Invalid or expired token";
		for (const std::string& token :
		     {std::string("garbage"), std::string("a.b.c"),
		      mint(SECRET, alice.id, "alice", "access", now - 1200, now - 300), unsignedToken(alice.access),
		      mint(std::string(32, 'o'), alice.id, "alice", "access", now, now + 900),
		      alice.access.substr(0, alice.access.size() - 2), alice.access + "x"})
			EXPECT_ERROR(s.send("GET", "/users/@me", "", token), 401, invalid);
		// Within the 60 s leeway an expired token still passes.
		EXPECT_STATUS(s.send("GET", "/users/@me", "", mint(SECRET, alice.id, "alice", "access", now - 930, now - 30)),
		              200);
		EXPECT_ERROR(s.send("GET", "/users/@me", "", alice.refresh), 401, "Invalid token type");
		EXPECT_ERROR(s.send("GET", "/servers", "", mint(SECRET, NO_SUCH_ID, "ghost", "access", now, now + 900)), 401,
		             "Invalid token subject");
		EXPECT_ERROR(s.send("GET", "/servers", "", mint(SECRET, "not-a-uuid", "ghost", "access", now, now + 900)), 401,
		             "Invalid token subject");
		// The routes without authentication.
		EXPECT_STATUS(s.send("GET", "/health", "", "garbage"), 200);
		EXPECT_STATUS(s.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})", "garbage"),
		              200);
	}

	void testRefreshRotation()
	{
		// Case 6 and §2.2.
		Server& s = server();
		User alice = s.registerUser("alice");
		auto refresh = [&s](const std::string& token) {
			return s.send("POST", "/auth/refresh", R"({"refresh_token":)" + quote(token) + "}");
		};
		HttpResponse r = refresh(alice.refresh);
		EXPECT_STATUS(r, 200);
		const std::string a2 = stringField(r.body, "access_token");
		const std::string r2 = stringField(r.body, "refresh_token");
		CPPUNIT_ASSERT_EQUAL(R"({"access_token":")" + a2 + R"(","refresh_token":")" + r2 + R"(","user":)" +
		                         userDto(alice, "offline") + "}",
		                     r.body);
		CPPUNIT_ASSERT(r2 != alice.refresh);
		CPPUNIT_ASSERT(a2 != alice.access);
		EXPECT_STATUS(s.send("GET", "/users/@me", "", a2), 200);
		r = refresh(r2);
		EXPECT_STATUS(r, 200);
		const std::string r3 = stringField(r.body, "refresh_token");
		const std::string gone = "Session not found, expired, or token already rotated";
		EXPECT_ERROR(refresh(alice.refresh), 401, gone); // reuse: the family is revoked
		EXPECT_ERROR(refresh(r3), 401, gone);
		EXPECT_ERROR(refresh(r2), 401, gone);
		EXPECT_ERROR(refresh(alice.access), 401, "Not a refresh token");
		const std::int64_t now = nowSeconds();
		const std::string invalid = "Invalid or expired refresh token";
		EXPECT_ERROR(refresh("garbage"), 401, invalid);
		EXPECT_ERROR(refresh(mint(std::string(40, 'z'), alice.id, "alice", "refresh", now, now + 600)), 401, invalid);
		EXPECT_ERROR(refresh(mint(SECRET, alice.id, "alice", "refresh", now - 700000, now - 1000)), 401, invalid);
		EXPECT_ERROR(refresh(unsignedToken(r3)), 401, invalid);
		// Well signed but never issued: no session.
		EXPECT_ERROR(refresh(mint(SECRET, alice.id, "alice", "refresh", now, now + 600)), 401, gone);
		r = s.send("POST", "/auth/refresh", "{}");
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: refresh_token", 0)));
		EXPECT_STATUS(s.send("POST", "/auth/refresh", R"({"refresh_token":5})"), 422);
		// Another family (a login) is untouched by the revocation.
		HttpResponse login = s.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})");
		EXPECT_STATUS(refresh(stringField(login.body, "refresh_token")), 200);
	}

	void testLogout()
	{
		// Case 7 and §2.2.
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		auto logout = [&s](const std::string& token) {
			return s.send("POST", "/auth/logout", R"({"refresh_token":)" + quote(token) + "}");
		};
		HttpResponse r = logout(alice.refresh);
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(0),
		    valueAsInt(s.sql("SELECT COUNT(*) FROM sessions WHERE user_id = ?", {alice.id}).rows.at(0).at(0)));
		EXPECT_ERROR(s.send("POST", "/auth/refresh", R"({"refresh_token":)" + quote(alice.refresh) + "}"), 401,
		             "Session not found, expired, or token already rotated");
		EXPECT_STATUS(logout(alice.refresh), 204);
		const std::int64_t now = nowSeconds();
		EXPECT_STATUS(logout(mint(SECRET, alice.id, "alice", "refresh", now - 700000, now - 1000)), 204);
		EXPECT_ERROR(logout("garbage"), 401, "Invalid or expired refresh token");
		EXPECT_ERROR(logout(mint(std::string(40, 'z'), alice.id, "alice", "refresh", now, now + 600)), 401,
		             "Invalid or expired refresh token");
		EXPECT_STATUS(s.send("POST", "/auth/logout", "{}"), 422);
		// Live gateway sockets stay; access tokens are stateless.
		CPPUNIT_ASSERT(s.host().isOpen(c));
		EXPECT_QUIET(s, c);
		EXPECT_STATUS(s.send("GET", "/users/@me", "", alice.access), 200);
	}

	void testAuthRateLimit()
	{
		// Case 18: 1/s, burst 2, per client IP, /auth/* bare and under /api.
		Server& s = server({{"auth_rate_limit.per_second", "1"}, {"auth_rate_limit.burst", "2"}});
		User alice;
		{
			HttpResponse r = s.send("POST", "/auth/register", R"({"username":"alice","password":"password123"})", "",
			                        {}, "10.0.0.9:1000");
			EXPECT_STATUS(r, 201);
			alice.access = stringField(r.body, "access_token");
		}
		const std::string credentials = R"({"username":"alice","password":"password123"})";
		EXPECT_STATUS(s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.1:5000"), 200);
		EXPECT_STATUS(s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.1:5001"), 200);
		for (int i = 0; i < 2; ++i)
		{
			HttpResponse r = s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.1:5002");
			EXPECT_ERROR(r, 429, "Too many requests");
			CPPUNIT_ASSERT_MESSAGE(headerOf(r, "Retry-After"),
			                       std::regex_match(headerOf(r, "Retry-After"), std::regex("^[1-9][0-9]*$")));
		}
		EXPECT_ERROR(s.send("POST", "/api/auth/login", credentials, "", {}, "10.0.0.1:5003"), 429, "Too many requests");
		EXPECT_ERROR(s.send("POST", "/auth/refresh", "{}", "", {}, "10.0.0.1:5003"), 429, "Too many requests");
		EXPECT_STATUS(s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.2:5000"), 200);
		EXPECT_STATUS(s.send("GET", "/servers", "", alice.access, {}, "10.0.0.1:5004"), 200);
		EXPECT_STATUS(s.send("GET", "/health", "", "", {}, "10.0.0.1:5004"), 200);
		s.host().advance(1000);
		EXPECT_STATUS(s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.1:5005"), 200);
		EXPECT_ERROR(s.send("POST", "/auth/login", credentials, "", {}, "10.0.0.1:5005"), 429, "Too many requests");
	}

	void testJwtSecretGeneratedStoredAndReused()
	{
		// Case 8 and §2.1: no jwt_secret configured.
		_storage = std::make_unique<Testing::SqliteTestStorage>();
		Server& first = server({{"jwt_secret", ""}}, _storage.get());
		QueryResult stored = first.sql("SELECT value FROM settings WHERE key = 'jwt_secret'");
		CPPUNIT_ASSERT(stored.ok);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), stored.rows.size());
		const std::string hex = valueAsString(stored.rows[0][0]);
		CPPUNIT_ASSERT_MESSAGE(hex, std::regex_match(hex, std::regex("^[0-9a-f]{64}$")));
		User alice = first.registerUser("alice");
		const std::string serverId = first.createServer(alice, "S");
		// The tokens are signed with the stored bytes, not with the hex text.
		std::string secret;
		for (std::size_t i = 0; i < hex.size(); i += 2)
			secret += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
		const std::int64_t now = nowSeconds();
		const std::string minted = mint(secret, alice.id, "alice", "access", now, now + 900);
		EXPECT_STATUS(first.send("GET", "/users/@me", "", minted), 200);
		EXPECT_ERROR(first.send("GET", "/users/@me", "", mint(hex, alice.id, "alice", "access", now, now + 900)), 401,
		             "Invalid or expired token");
		first.stop();

		// A second instance on the same database reuses it: the first one's tokens still work.
		Server& second = server({{"jwt_secret", ""}}, _storage.get());
		stored = second.sql("SELECT value FROM settings WHERE key = 'jwt_secret'");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), stored.rows.size());
		CPPUNIT_ASSERT_EQUAL(hex, valueAsString(stored.rows[0][0]));
		HttpResponse me = second.send("GET", "/users/@me", "", alice.access);
		EXPECT_STATUS(me, 200);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline"), me.body);
		EXPECT_STATUS(second.send("GET", "/users/@me", "", minted), 200);
		HttpResponse rotated =
		    second.send("POST", "/auth/refresh", R"({"refresh_token":)" + quote(alice.refresh) + "}");
		EXPECT_STATUS(rotated, 200);
		// The model is loaded back too: the server, its membership and READY.
		std::vector<std::string> listed = idsOf(second.send("GET", "/servers", "", alice.access).body);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), listed.size());
		CPPUNIT_ASSERT_EQUAL(serverId, listed[0]);
		ConnectionId c = second.host().connect("/ws?token=" + alice.access);
		Frames ready = second.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ready.size());
		CPPUNIT_ASSERT_EQUAL(
		    serverId, stringField(parseObject(ready[0])->getObject("d")->getArray("servers")->getObject(0), "id"));
		second.stop();

		// A configured secret takes precedence: the generated one's tokens are refused.
		Server& third = server({}, _storage.get());
		EXPECT_ERROR(third.send("GET", "/users/@me", "", alice.access), 401, "Invalid or expired token");
		CPPUNIT_ASSERT_EQUAL(
		    hex, valueAsString(third.sql("SELECT value FROM settings WHERE key = 'jwt_secret'").rows.at(0).at(0)));
	}

	void testShortJwtSecretRefused()
	{
		// §2.1: a configured secret shorter than 32 bytes is a start-up error.
		{
			FakeHost host("together");
			CPPUNIT_ASSERT_EQUAL(std::string(),
			                     host.setConfig(Together::togetherDescriptor(), {{"jwt_secret", std::string(31, 'k')},
			                                                                     {"password.memlimit", "8192"},
			                                                                     {"password.opslimit", "1"}}));
			TogetherPlugin plugin;
			StartResult result = host.start(plugin);
			CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
			CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("jwt_secret") != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("32 bytes") != std::string::npos);
			CPPUNIT_ASSERT_EQUAL(503, host.request("GET", "/health").status);
		}
		// Exactly 32 bytes is enough, and nothing is stored for a configured secret.
		Server& s = server({{"jwt_secret", "0123456789abcdef0123456789abcdef"}});
		User alice = s.registerUser("alice");
		const std::int64_t now = nowSeconds();
		EXPECT_STATUS(s.send("GET", "/users/@me", "",
		                     mint("0123456789abcdef0123456789abcdef", alice.id, "alice", "access", now, now + 60)),
		              200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), valueAsInt(s.sql("SELECT COUNT(*) FROM settings").rows.at(0).at(0)));
	}

	// --- REST resources ------------------------------------------------------------------------

	void testUsersMe()
	{
		Server& s = server();
		User alice = s.registerUser("alice", R"("alice@example.com")");
		const std::string email = R"("alice@example.com")";
		const std::string me = "/users/@me";
		EXPECT_STATUS(s.send("GET", me, "", alice.access), 200);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline", email), s.send("GET", me, "", alice.access).body);
		const std::string avatar = R"("http://x.example/a.png")";
		HttpResponse r =
		    s.send("PATCH", me, R"({"avatar_url":)" + avatar + R"(,"custom_status":"hi","unknown":1})", alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline", email, avatar, R"("hi")"), r.body);
		CPPUNIT_ASSERT_EQUAL(r.body, s.send("GET", me, "", alice.access).body);
		QueryResult row = s.sql("SELECT avatar_url, custom_status FROM users WHERE id = ?", {alice.id});
		CPPUNIT_ASSERT_EQUAL(std::string("http://x.example/a.png"), valueAsString(row.rows.at(0).at(0)));
		CPPUNIT_ASSERT_EQUAL(std::string("hi"), valueAsString(row.rows.at(0).at(1)));
		// Absent fields stay, null clears.
		r = s.send("PATCH", me, R"({"avatar_url":null})", alice.access);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline", email, "null", R"("hi")"), r.body);
		r = s.send("PATCH", me, R"({"custom_status":null})", alice.access);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline", email), r.body);
		r = s.send("PATCH", me, "{}", alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "offline", email), r.body);
		row = s.sql("SELECT avatar_url, custom_status FROM users WHERE id = ?", {alice.id});
		CPPUNIT_ASSERT(std::holds_alternative<std::nullptr_t>(row.rows.at(0).at(0)));
		CPPUNIT_ASSERT(std::holds_alternative<std::nullptr_t>(row.rows.at(0).at(1)));
		// Values.
		EXPECT_ERROR(s.send("PATCH", me, R"({"status":"x"})", alice.access), 400,
		             "Invalid status 'x'. Must be one of: online, idle, dnd, offline");
		EXPECT_ERROR(s.send("PATCH", me, R"({"status":"invisible"})", alice.access), 400,
		             "Invalid status 'invisible'. Must be one of: online, idle, dnd, offline");
		EXPECT_ERROR(s.send("PATCH", me, R"({"custom_status":)" + quote(std::string(129, 'c')) + "}", alice.access),
		             400, "Custom status must be at most 128 characters");
		EXPECT_STATUS(s.send("PATCH", me, R"({"custom_status":)" + quote(repeat("é", 128)) + "}", alice.access), 200);
		EXPECT_ERROR(s.send("PATCH", me, R"({"avatar_url":)" + quote(std::string(2049, 'a')) + "}", alice.access), 400,
		             "Avatar URL must be at most 2048 characters");
		EXPECT_STATUS(s.send("PATCH", me, R"({"avatar_url":)" + quote(std::string(2048, 'a')) + "}", alice.access),
		              200);
		for (const char* body :
		     {R"({"status":5})", R"({"status":null})", R"({"avatar_url":5})", R"({"custom_status":[]})"})
		{
			r = s.send("PATCH", me, body, alice.access);
			EXPECT_STATUS(r, 422);
			CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: ", 0)));
		}
		// Without a gateway session a status is ignored: still offline.
		r = s.send("PATCH", me, R"({"status":"dnd","custom_status":"away for lunch"})", alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), stringField(r.body, "status"));
		CPPUNIT_ASSERT_EQUAL(std::string("away for lunch"), stringField(r.body, "custom_status"));
		EXPECT_ERROR(s.send("GET", me), 401, "Missing or invalid Authorization header");
		EXPECT_ERROR(s.send("PATCH", me, "{}"), 401, "Missing or invalid Authorization header");
	}

	void testServers()
	{
		// Case 9.
		Server& s = server();
		World w = makeWorld(s);
		HttpResponse r = s.send("POST", "/servers", R"({"name":"Fresh"})", w.alice.access);
		EXPECT_STATUS(r, 201);
		const std::string fresh = stringField(r.body, "id");
		const std::string created = stringField(r.body, "created_at");
		CPPUNIT_ASSERT(isUuid(fresh));
		CPPUNIT_ASSERT(isTimestamp(created));
		CPPUNIT_ASSERT_EQUAL(serverDto(fresh, "Fresh", "null", w.alice.id, "null", 1, created, created), r.body);
		CPPUNIT_ASSERT_EQUAL(r.body, s.send("GET", "/servers/" + fresh, "", w.alice.access).body);
		std::vector<std::string> mine = idsOf(s.send("GET", "/servers", "", w.alice.access).body);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), mine.size());
		CPPUNIT_ASSERT_EQUAL(w.server, mine[0]); // by created_at
		CPPUNIT_ASSERT_EQUAL(fresh, mine[1]);

		const std::string S = "/servers/" + w.server;
		EXPECT_ERROR(s.send("GET", S, "", w.carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":"mine"})", w.carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("DELETE", S, "", w.carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("GET", "/servers/" + NO_SUCH_ID, "", w.alice.access), 404, "Server not found");
		r = s.send("GET", S, "", w.bob.access);
		EXPECT_STATUS(r, 200);
		Poco::JSON::Object::Ptr dto = parseObject(r.body);
		const std::string sCreated = stringField(dto, "created_at");
		CPPUNIT_ASSERT_EQUAL(
		    serverDto(w.server, "S", "null", w.alice.id, "null", 2, sCreated, stringField(dto, "updated_at")), r.body);
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":"bob's"})", w.bob.access), 403,
		             "Only the server owner can update it");
		EXPECT_ERROR(s.send("DELETE", S, "", w.bob.access), 403, "Only the server owner can delete it");

		r = s.send("PATCH", S, R"({"description":"d"})", w.alice.access);
		EXPECT_STATUS(r, 200);
		const std::string updated = stringField(r.body, "updated_at");
		CPPUNIT_ASSERT(isTimestamp(updated) && updated >= sCreated);
		CPPUNIT_ASSERT_EQUAL(serverDto(w.server, "S", R"("d")", w.alice.id, "null", 2, sCreated, updated), r.body);
		r = s.send("PATCH", S, R"({"description":null})", w.alice.access);
		CPPUNIT_ASSERT_EQUAL(std::string("null"), jsonOf(r.body, "description"));
		r = s.send("PATCH", S, R"({"name":"S2","icon_url":"http://i.example/x.png"})", w.alice.access);
		CPPUNIT_ASSERT_EQUAL(std::string("S2"), stringField(r.body, "name"));
		CPPUNIT_ASSERT_EQUAL(std::string("http://i.example/x.png"), stringField(r.body, "icon_url"));
		r = s.send("PATCH", S, R"({"icon_url":null})", w.alice.access);
		CPPUNIT_ASSERT_EQUAL(std::string("null"), jsonOf(r.body, "icon_url"));
		CPPUNIT_ASSERT_EQUAL(std::string("S2"), stringField(r.body, "name"));
		EXPECT_ERROR(s.send("PATCH", S, R"({"name":null})", w.alice.access), 400,
		             "Server name must be 1–100 characters");
		CPPUNIT_ASSERT_EQUAL(r.body, s.send("GET", S, "", w.bob.access).body);

		r = s.send("DELETE", S, "", w.alice.access);
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		EXPECT_ERROR(s.send("GET", S, "", w.alice.access), 404, "Server not found");
		EXPECT_ERROR(s.send("GET", S, "", w.bob.access), 404, "Server not found");
		EXPECT_ERROR(s.send("DELETE", S, "", w.alice.access), 404, "Server not found");
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), s.send("GET", "/servers", "", w.bob.access).body);

		r = s.send("POST", "/servers", R"({"name":"D","description":"about","icon_url":"http://i.example/d.png"})",
		           w.bob.access);
		EXPECT_STATUS(r, 201);
		const std::string d = stringField(r.body, "id");
		const std::string dCreated = stringField(r.body, "created_at");
		CPPUNIT_ASSERT_EQUAL(
		    serverDto(d, "D", R"("about")", w.bob.id, R"("http://i.example/d.png")", 1, dCreated, dCreated), r.body);
	}

	void testServerValues()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		auto create = [&s, &alice](const std::string& body) { return s.send("POST", "/servers", body, alice.access); };
		const std::string nameRule = "Server name must be 1–100 characters";
		EXPECT_ERROR(create(R"({"name":""})"), 400, nameRule);
		EXPECT_ERROR(create(R"({"name":)" + quote(std::string(101, 'n')) + "}"), 400, nameRule);
		EXPECT_STATUS(create(R"({"name":)" + quote(std::string(100, 'n')) + "}"), 201);
		EXPECT_STATUS(create(R"({"name":)" + quote(repeat("é", 100)) + "}"), 201);
		EXPECT_ERROR(create(R"({"name":"x","description":)" + quote(std::string(1025, 'd')) + "}"), 400,
		             "Server description must be at most 1024 characters");
		EXPECT_STATUS(create(R"({"name":"x","description":)" + quote(std::string(1024, 'd')) + "}"), 201);
		EXPECT_ERROR(create(R"({"name":"x","icon_url":)" + quote(std::string(2049, 'i')) + "}"), 400,
		             "Icon URL must be at most 2048 characters");
		EXPECT_STATUS(create(R"({"name":"x","icon_url":)" + quote(std::string(2048, 'i')) + "}"), 201);
		for (const char* body : {R"({})", R"({"name":5})", R"({"name":null})", R"({"name":"x","description":5})",
		                         R"({"name":"x","icon_url":true})"})
		{
			HttpResponse r = create(body);
			EXPECT_STATUS(r, 422);
			CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: ", 0)));
		}
	}

	void testJoinLeaveMembers()
	{
		// Case 10.
		Server& s = server();
		User alice = s.registerUser("alice");
		User bob = s.registerUser("bob");
		User carol = s.registerUser("carol");
		const std::string id = s.createServer(alice, "S");
		const std::string S = "/servers/" + id;
		HttpResponse r = s.send("POST", S + "/join", "", bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"message":"Joined server"})"), r.body);
		EXPECT_ERROR(s.send("POST", S + "/join", "", bob.access), 409, "Already a member of this server");
		EXPECT_ERROR(s.send("POST", S + "/join", "", alice.access), 409, "Already a member of this server");
		EXPECT_ERROR(s.send("POST", "/servers/" + NO_SUCH_ID + "/join", "", bob.access), 404, "Server not found");
		CPPUNIT_ASSERT_EQUAL(std::string("2"), jsonOf(s.send("GET", S, "", alice.access).body, "member_count"));
		EXPECT_ERROR(s.send("DELETE", S + "/leave", "", alice.access), 400,
		             "Server owner cannot leave — transfer ownership or delete the server");
		EXPECT_ERROR(s.send("GET", S + "/members", "", carol.access), 404, "Server not found");
		s.join(carol, id);
		ConnectionId c = s.open(bob);
		r = s.send("GET", S + "/members", "", carol.access);
		EXPECT_STATUS(r, 200);
		Poco::JSON::Array::Ptr members = parseArray(r.body);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), members->size());
		std::string expected = "[";
		const std::vector<std::pair<const User*, const char*>> order = {
		    {&alice, "offline"}, {&bob, "online"}, {&carol, "offline"}};
		std::string previous;
		for (std::size_t i = 0; i < order.size(); ++i)
		{
			Poco::JSON::Object::Ptr member = members->getObject(static_cast<unsigned>(i));
			CPPUNIT_ASSERT(!member->has("email"));
			const std::string joined = stringField(member, "joined_at");
			CPPUNIT_ASSERT(isTimestamp(joined) && joined >= previous);
			previous = joined;
			expected += std::string(i ? "," : "") + R"({"user_id":")" + order[i].first->id + R"(","username":")" +
			            order[i].first->name + R"(","avatar_url":null,"status":")" + order[i].second +
			            R"(","custom_status":null,"nickname":null,"joined_at":")" + joined + "\"}";
		}
		CPPUNIT_ASSERT_EQUAL(expected + "]", r.body);

		r = s.send("DELETE", S + "/leave", "", bob.access);
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		EXPECT_ERROR(s.send("DELETE", S + "/leave", "", bob.access), 404, "Server not found");
		EXPECT_ERROR(s.send("GET", S, "", bob.access), 404, "Server not found");
		EXPECT_ERROR(s.send("GET", S + "/members", "", bob.access), 404, "Server not found");
		EXPECT_ERROR(s.send("DELETE", "/servers/" + NO_SUCH_ID + "/leave", "", bob.access), 404, "Server not found");
		std::vector<std::string> left;
		Poco::JSON::Array::Ptr remaining = parseArray(s.send("GET", S + "/members", "", alice.access).body);
		for (std::size_t i = 0; i < remaining->size(); ++i)
			left.push_back(stringField(remaining->getObject(static_cast<unsigned>(i)), "user_id"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), left.size());
		CPPUNIT_ASSERT_EQUAL(alice.id, left[0]);
		CPPUNIT_ASSERT_EQUAL(carol.id, left[1]);
		CPPUNIT_ASSERT_EQUAL(std::string("2"), jsonOf(s.send("GET", S, "", alice.access).body, "member_count"));
		// A server's id is its invite: bob can come back.
		EXPECT_STATUS(s.send("POST", S + "/join", "", bob.access), 201);
		CPPUNIT_ASSERT(s.host().isOpen(c));
	}

	void testChannels()
	{
		// Case 11.
		Server& s = server();
		User alice = s.registerUser("alice");
		User bob = s.registerUser("bob");
		User carol = s.registerUser("carol");
		const std::string id = s.createServer(alice, "S");
		s.join(bob, id);
		const std::string S = "/servers/" + id;
		HttpResponse r = s.send("POST", S + "/channels", R"({"name":"general","type":"text"})", alice.access);
		EXPECT_STATUS(r, 201);
		const std::string text = stringField(r.body, "id");
		const std::string textCreated = stringField(r.body, "created_at");
		CPPUNIT_ASSERT(isUuid(text) && isTimestamp(textCreated));
		CPPUNIT_ASSERT_EQUAL(channelDto(text, id, "general", "text", 0, "null", "null", textCreated), r.body);
		r = s.send("POST", S + "/channels", R"({"name":"Voice","type":"voice","topic":"talk","category":"Rooms"})",
		           alice.access);
		EXPECT_STATUS(r, 201);
		const std::string voice = stringField(r.body, "id");
		const std::string voiceCreated = stringField(r.body, "created_at");
		CPPUNIT_ASSERT_EQUAL(channelDto(voice, id, "Voice", "voice", 1, R"("Rooms")", R"("talk")", voiceCreated),
		                     r.body);

		EXPECT_ERROR(s.send("POST", S + "/channels", R"({"name":"x","type":"video"})", alice.access), 422,
		             "Invalid request body: type: expected one of text, voice");
		r = s.send("POST", S + "/channels", R"({"name":"x"})", alice.access);
		EXPECT_STATUS(r, 422);
		CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: type", 0)));
		EXPECT_ERROR(s.send("POST", S + "/channels", R"({"name":"","type":"text"})", alice.access), 400,
		             "Channel name must be 1–100 characters");
		EXPECT_ERROR(s.send("POST", S + "/channels",
		                    R"({"name":)" + quote(std::string(101, 'c')) + R"(,"type":"text"})", alice.access),
		             400, "Channel name must be 1–100 characters");
		EXPECT_ERROR(s.send("POST", S + "/channels",
		                    R"({"name":"x","type":"text","topic":)" + quote(std::string(1025, 't')) + "}",
		                    alice.access),
		             400, "Channel topic must be at most 1024 characters");
		EXPECT_ERROR(s.send("POST", S + "/channels",
		                    R"({"name":"x","type":"text","category":)" + quote(std::string(101, 'c')) + "}",
		                    alice.access),
		             400, "Channel category must be at most 100 characters");
		EXPECT_ERROR(s.send("POST", S + "/channels", R"({"name":"x","type":"text"})", bob.access), 403,
		             "Only the server owner can create channels");
		EXPECT_ERROR(s.send("POST", S + "/channels", R"({"name":"x","type":"text"})", carol.access), 404,
		             "Server not found");

		// Reading: members only, and only through the owning server.
		EXPECT_STATUS(s.send("GET", S + "/channels/" + text, "", bob.access), 200);
		EXPECT_ERROR(s.send("GET", S + "/channels/" + text, "", carol.access), 404, "Server not found");
		EXPECT_ERROR(s.send("GET", S + "/channels", "", carol.access), 404, "Server not found");
		const std::string otherServer = s.createServer(alice, "Other");
		EXPECT_ERROR(s.send("GET", "/servers/" + otherServer + "/channels/" + text, "", alice.access), 404,
		             "Channel not found");
		EXPECT_ERROR(s.send("GET", S + "/channels/" + NO_SUCH_ID, "", alice.access), 404, "Channel not found");

		// Updates: position >= 0, type ignored; listing by position.
		EXPECT_ERROR(s.send("PATCH", S + "/channels/" + text, R"({"position":-1})", alice.access), 400,
		             "Position must be zero or greater");
		r = s.send("PATCH", S + "/channels/" + text, R"({"position":"1"})", alice.access);
		EXPECT_STATUS(r, 422);
		r = s.send("PATCH", S + "/channels/" + text, R"({"position":5,"topic":"news","type":"voice"})", alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(channelDto(text, id, "general", "text", 5, "null", R"("news")", textCreated), r.body);
		r = s.send("PATCH", S + "/channels/" + text, R"({"topic":null,"name":"lobby"})", alice.access);
		CPPUNIT_ASSERT_EQUAL(channelDto(text, id, "lobby", "text", 5, "null", "null", textCreated), r.body);
		EXPECT_ERROR(s.send("PATCH", S + "/channels/" + text, R"({"name":null})", alice.access), 400,
		             "Channel name must be 1–100 characters");
		EXPECT_ERROR(s.send("PATCH", S + "/channels/" + text, R"({"name":"x"})", bob.access), 403,
		             "Only the server owner can update channels");
		r = s.send("POST", S + "/channels", R"({"name":"third","type":"text"})", alice.access);
		CPPUNIT_ASSERT_EQUAL(std::string("6"), jsonOf(r.body, "position")); // the highest + 1
		const std::string third = stringField(r.body, "id");
		r = s.send("GET", S + "/channels", "", bob.access);
		EXPECT_STATUS(r, 200);
		std::vector<std::string> listed = idsOf(r.body);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), listed.size());
		CPPUNIT_ASSERT_EQUAL(voice, listed[0]);
		CPPUNIT_ASSERT_EQUAL(text, listed[1]);
		CPPUNIT_ASSERT_EQUAL(third, listed[2]);

		// Deletion.
		EXPECT_ERROR(s.send("DELETE", S + "/channels/" + text, "", bob.access), 403,
		             "Only the server owner can delete channels");
		EXPECT_ERROR(s.send("DELETE", S + "/channels/" + text, "", carol.access), 404, "Server not found");
		r = s.send("DELETE", S + "/channels/" + text, "", alice.access);
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		EXPECT_ERROR(s.send("GET", S + "/channels/" + text, "", alice.access), 404, "Channel not found");
		EXPECT_ERROR(s.send("DELETE", S + "/channels/" + text, "", alice.access), 404, "Channel not found");
		EXPECT_ERROR(s.send("GET", "/channels/" + text + "/messages", "", alice.access), 404, "Channel not found");
	}

	void testMessages()
	{
		// Case 12.
		Server& s = server();
		World w = makeWorld(s);
		HttpResponse r = s.post(w.alice, w.text, "Hello, everyone!");
		EXPECT_STATUS(r, 201);
		const std::string first = stringField(r.body, "id");
		const std::string created = stringField(r.body, "created_at");
		CPPUNIT_ASSERT(isUuid(first) && isTimestamp(created));
		CPPUNIT_ASSERT_EQUAL(messageDto(first, w.text, w.alice.id, "Hello, everyone!", "null", created), r.body);
		const std::string contentRule = "Message content must be 1–4000 characters";
		EXPECT_ERROR(s.post(w.alice, w.text, ""), 400, contentRule);
		EXPECT_ERROR(s.post(w.alice, w.text, std::string(4001, 'm')), 400, contentRule);
		EXPECT_STATUS(s.post(w.alice, w.text, std::string(4000, 'm')), 201);
		EXPECT_STATUS(s.post(w.alice, w.text, repeat("é", 4000)), 201); // code points, not bytes
		EXPECT_ERROR(s.post(w.alice, w.text, repeat("é", 4001)), 400, contentRule);
		// Stored verbatim: no trimming, escapes round-trip.
		const std::string odd = "  \"quoted\"\n\ttabbed \\ back \xF0\x9F\x98\x80  ";
		r = s.post(w.bob, w.text, odd);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(odd, stringField(r.body, "content"));
		EXPECT_ERROR(s.post(w.alice, w.voice, "hi"), 400, "Channel is not a text channel");
		EXPECT_ERROR(s.post(w.carol, w.text, "hi"), 404, "Channel not found");
		EXPECT_ERROR(s.post(w.alice, NO_SUCH_ID, "hi"), 404, "Channel not found");
		for (const char* body : {R"({})", R"({"content":5})", R"({"content":null})", R"({"content":"x","reply_to":5})",
		                         R"({"content":"x","reply_to":"not-a-uuid"})"})
		{
			r = s.send("POST", "/channels/" + w.text + "/messages", body, w.alice.access);
			EXPECT_STATUS(r, 422);
			CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: ", 0)));
		}
		// Replies: same channel only, not deleted.
		r = s.send("POST", "/channels/" + w.text + "/messages", R"({"content":"re","reply_to":")" + first + "\"}",
		           w.bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(messageDto(stringField(r.body, "id"), w.text, w.bob.id, "re", quote(first),
		                                stringField(r.body, "created_at")),
		                     r.body);
		EXPECT_STATUS(
		    s.send("POST", "/channels/" + w.text + "/messages", R"({"content":"re","reply_to":null})", w.bob.access),
		    201);
		const std::string elsewhere = s.createChannel(w.alice, w.server, "random", "text");
		const std::string foreign = stringField(s.post(w.alice, elsewhere, "there").body, "id");
		const std::string replyRule = "Reply target message not found";
		EXPECT_ERROR(s.send("POST", "/channels/" + w.text + "/messages",
		                    R"({"content":"re","reply_to":")" + foreign + "\"}", w.bob.access),
		             404, replyRule);
		EXPECT_ERROR(s.send("POST", "/channels/" + w.text + "/messages",
		                    R"({"content":"re","reply_to":")" + NO_SUCH_ID + "\"}", w.bob.access),
		             404, replyRule);
		EXPECT_STATUS(s.send("DELETE", "/messages/" + first, "", w.alice.access), 204);
		EXPECT_ERROR(s.send("POST", "/channels/" + w.text + "/messages",
		                    R"({"content":"re","reply_to":")" + first + "\"}", w.bob.access),
		             404, replyRule);
	}

	void testPagination()
	{
		// Case 13, on 105 messages.
		Server& s = server();
		World w = makeWorld(s);
		std::vector<std::string> ids; // oldest first
		std::string newestBody;
		for (int i = 0; i < 105; ++i)
		{
			HttpResponse r = s.post(i % 2 ? w.bob : w.alice, w.text, "m" + std::to_string(i));
			EXPECT_STATUS(r, 201);
			ids.push_back(stringField(r.body, "id"));
			newestBody = r.body;
		}
		auto page = [&](const std::string& query) {
			HttpResponse r = s.send("GET", "/channels/" + w.text + "/messages" + query, "", w.bob.access);
			EXPECT_STATUS(r, 200);
			return idsOf(r.body);
		};
		auto newest = [&ids](std::size_t from, std::size_t count) {
			// count ids going back from index from (inclusive), newest first
			std::vector<std::string> out;
			for (std::size_t i = 0; i < count; ++i)
				out.push_back(ids.at(from - i));
			return out;
		};
		auto same = [](const std::vector<std::string>& a, const std::vector<std::string>& b) {
			return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
		};
		HttpResponse full = s.send("GET", "/channels/" + w.text + "/messages", "", w.alice.access);
		EXPECT_STATUS(full, 200);
		CPPUNIT_ASSERT_EQUAL(0, int(full.body.rfind("[" + newestBody + ",", 0))); // newest first, the DTO as posted
		CPPUNIT_ASSERT(same(newest(104, 50), page("")));
		CPPUNIT_ASSERT(same(newest(104, 100), page("?limit=100")));
		CPPUNIT_ASSERT(same(newest(104, 100), page("?limit=500")));
		CPPUNIT_ASSERT(same(newest(104, 1), page("?limit=0")));
		CPPUNIT_ASSERT(same(newest(104, 1), page("?limit=-7")));
		CPPUNIT_ASSERT(same(newest(104, 7), page("?limit=7")));
		for (const char* limit : {"abc", "1.5", "10abc", "0x10"})
			EXPECT_ERROR(s.send("GET", "/channels/" + w.text + "/messages?limit=" + limit, "", w.bob.access), 400,
			             "Invalid query parameter 'limit'");
		// before: strictly older, no overlap, no gap.
		CPPUNIT_ASSERT(same(newest(54, 50), page("?before=" + ids[55])));
		CPPUNIT_ASSERT(same(newest(4, 5), page("?before=" + ids[5] + "&limit=100")));
		CPPUNIT_ASSERT(page("?before=" + ids[0]).empty());
		CPPUNIT_ASSERT(page("?before=" + NO_SUCH_ID).empty());
		const std::string elsewhere = s.createChannel(w.alice, w.server, "random", "text");
		const std::string foreign = stringField(s.post(w.alice, elsewhere, "there").body, "id");
		CPPUNIT_ASSERT(page("?before=" + foreign).empty());
		EXPECT_ERROR(s.send("GET", "/channels/" + w.text + "/messages?before=nope", "", w.bob.access), 400,
		             "Invalid query parameter 'before'");
		// A deleted message is on no page, and may still anchor one.
		EXPECT_STATUS(s.send("DELETE", "/messages/" + ids[60], "", w.alice.access), 204);
		std::vector<std::string> expected = newest(104, 44);
		for (const std::string& id : newest(59, 6))
			expected.push_back(id);
		CPPUNIT_ASSERT(same(expected, page("")));
		CPPUNIT_ASSERT(same(newest(59, 50), page("?before=" + ids[60])));
		std::vector<std::string> all = page("?limit=100");
		CPPUNIT_ASSERT(std::find(all.begin(), all.end(), ids[60]) == all.end());
		// Not a text channel, not a member.
		EXPECT_ERROR(s.send("GET", "/channels/" + w.voice + "/messages", "", w.bob.access), 400,
		             "Channel is not a text channel");
		EXPECT_ERROR(s.send("GET", "/channels/" + w.text + "/messages", "", w.carol.access), 404, "Channel not found");
	}

	void testEditAndDelete()
	{
		// Case 14.
		Server& s = server();
		World w = makeWorld(s);
		HttpResponse posted = s.post(w.alice, w.text, "hello");
		const std::string m = stringField(posted.body, "id");
		const std::string created = stringField(posted.body, "created_at");
		const std::string bobs = stringField(s.post(w.bob, w.text, "bob's").body, "id");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + m, R"({"content":"mine"})", w.bob.access), 403,
		             "Only the message author can edit it");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + m, R"({"content":"mine"})", w.carol.access), 404,
		             "Message not found");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + NO_SUCH_ID, R"({"content":"x"})", w.alice.access), 404,
		             "Message not found");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + m, R"({"content":""})", w.alice.access), 400,
		             "Message content must be 1–4000 characters");
		EXPECT_STATUS(s.send("PATCH", "/messages/" + m, R"({"content":5})", w.alice.access), 422);
		HttpResponse r = s.send("PATCH", "/messages/" + m, R"({"content":"edited"})", w.alice.access);
		EXPECT_STATUS(r, 200);
		const std::string edited = stringField(r.body, "edited_at");
		CPPUNIT_ASSERT(isTimestamp(edited) && edited >= created);
		CPPUNIT_ASSERT_EQUAL(messageDto(m, w.text, w.alice.id, "edited", "null", created, quote(edited)), r.body);
		HttpResponse list = s.send("GET", "/channels/" + w.text + "/messages", "", w.bob.access);
		CPPUNIT_ASSERT(list.body.find(r.body) != std::string::npos);

		EXPECT_ERROR(s.send("DELETE", "/messages/" + m, "", w.bob.access), 403,
		             "Only the message author or server owner can delete it");
		EXPECT_ERROR(s.send("DELETE", "/messages/" + m, "", w.carol.access), 404, "Message not found");
		r = s.send("DELETE", "/messages/" + bobs, "", w.alice.access); // the owner
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		EXPECT_ERROR(s.send("DELETE", "/messages/" + bobs, "", w.alice.access), 404, "Message not found");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + bobs, R"({"content":"back"})", w.bob.access), 404,
		             "Message not found");
		QueryResult row = s.sql("SELECT deleted, content FROM messages WHERE id = ?", {bobs});
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), valueAsInt(row.rows.at(0).at(0)));
		CPPUNIT_ASSERT_EQUAL(std::string(), valueAsString(row.rows.at(0).at(1)));
		CPPUNIT_ASSERT(s.send("GET", "/channels/" + w.text + "/messages", "", w.bob.access).body.find(bobs) ==
		               std::string::npos);
		const std::string own = stringField(s.post(w.bob, w.text, "again").body, "id");
		EXPECT_STATUS(s.send("DELETE", "/messages/" + own, "", w.bob.access), 204);
		// An author who left the server can no longer edit or delete.
		const std::string left = stringField(s.post(w.bob, w.text, "before leaving").body, "id");
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server + "/leave", "", w.bob.access), 204);
		EXPECT_ERROR(s.send("PATCH", "/messages/" + left, R"({"content":"x"})", w.bob.access), 404,
		             "Message not found");
		EXPECT_ERROR(s.send("DELETE", "/messages/" + left, "", w.bob.access), 404, "Message not found");
	}

	void testDeleteServerCascades()
	{
		Server& s = server();
		World w = makeWorld(s);
		const std::string m = stringField(s.post(w.bob, w.text, "hello").body, "id");
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server, "", w.alice.access), 204);
		EXPECT_ERROR(s.send("GET", "/channels/" + w.text + "/messages", "", w.alice.access), 404, "Channel not found");
		EXPECT_ERROR(s.post(w.bob, w.text, "still here?"), 404, "Channel not found");
		EXPECT_ERROR(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 404, "Channel not found");
		EXPECT_ERROR(s.send("PATCH", "/messages/" + m, R"({"content":"x"})", w.bob.access), 404, "Message not found");
		for (const char* table : {"channels", "server_members"})
			CPPUNIT_ASSERT_EQUAL(
			    std::int64_t(0),
			    valueAsInt(s.sql(std::string("SELECT COUNT(*) FROM ") + table + " WHERE server_id = ?", {w.server})
			                   .rows.at(0)
			                   .at(0)));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     valueAsInt(s.sql("SELECT COUNT(*) FROM messages WHERE id = ?", {m}).rows.at(0).at(0)));
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), s.send("GET", "/servers", "", w.bob.access).body);
		ConnectionId b = s.host().connect("/ws?token=" + w.bob.access);
		Frames ready = s.frames(b);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ready.size());
		CPPUNIT_ASSERT(ready[0].find(R"(,"servers":[],)") != std::string::npos);
		// carol's server is untouched.
		EXPECT_STATUS(s.send("GET", "/servers/" + w.other, "", w.carol.access), 200);
	}

	void testVoiceRest()
	{
		// Case 15.
		Server& s = server();
		World w = makeWorld(s);
		const std::string V = "/channels/" + w.voice + "/voice";
		const std::string V2 = "/channels/" + w.voice2 + "/voice";
		EXPECT_ERROR(s.send("POST", "/channels/" + w.text + "/voice", "", w.bob.access), 400,
		             "Channel is not a voice channel");
		EXPECT_ERROR(s.send("POST", V, "", w.carol.access), 404, "Channel not found");
		EXPECT_ERROR(s.send("POST", "/channels/" + NO_SUCH_ID + "/voice", "", w.bob.access), 404, "Channel not found");
		EXPECT_ERROR(s.send("POST", V, R"({"session_id":"deadbeef"})", w.bob.access), 400, "Unknown session_id");
		HttpResponse r = s.send("POST", V, "", w.bob.access); // no gateway session needed
		EXPECT_STATUS(r, 201);
		const std::string joined = stringField(r.body, "joined_at");
		CPPUNIT_ASSERT(isTimestamp(joined));
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", false, false, joined), r.body);

		EXPECT_ERROR(s.send("PATCH", V, "{}", w.bob.access), 400,
		             "At least one field (self_mute or self_deaf) must be provided");
		for (const char* body : {R"({"foo":1})", R"({"self_mute":true,"foo":1})", R"({"self_mute":"yes"})",
		                         R"({"self_deaf":1})", R"({"muted":null})"})
		{
			r = s.send("PATCH", V, body, w.bob.access);
			EXPECT_STATUS(r, 422);
			CPPUNIT_ASSERT_EQUAL(0, int(stringField(r.body, "error").rfind("Invalid request body: ", 0)));
		}
		r = s.send("PATCH", V, R"({"self_mute":true})", w.bob.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", true, false, joined), r.body);
		r = s.send("PATCH", V, R"({"muted":false})", w.bob.access);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", false, false, joined), r.body);
		r = s.send("PATCH", V, R"({"deafened":true,"self_mute":true})", w.bob.access);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", true, true, joined), r.body);
		EXPECT_ERROR(s.send("PATCH", V2, R"({"self_mute":true})", w.bob.access), 404, "Not in this voice channel");
		EXPECT_ERROR(s.send("PATCH", V, R"({"self_mute":true})", w.alice.access), 404, "Not in this voice channel");
		EXPECT_ERROR(s.send("PATCH", V, R"({"self_mute":true})", w.carol.access), 404, "Channel not found");
		// Re-joining the same channel changes nothing.
		r = s.send("POST", V, "", w.bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", true, true, joined), r.body);

		// Listing by joined_at, with usernames.
		HttpResponse aliceJoin = s.send("POST", V, "", w.alice.access);
		EXPECT_STATUS(aliceJoin, 201);
		r = s.send("GET", V, "", w.alice.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL("[" + voiceDto(w.bob.id, w.voice, "bob", true, true, joined) + "," + aliceJoin.body + "]",
		                     r.body);
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), s.send("GET", V2, "", w.alice.access).body);
		EXPECT_ERROR(s.send("GET", "/channels/" + w.text + "/voice", "", w.alice.access), 400,
		             "Channel is not a voice channel");
		EXPECT_ERROR(s.send("GET", V, "", w.carol.access), 404, "Channel not found");

		// Switching channels resets the self flags and joined_at.
		r = s.send("POST", V2, "", w.bob.access);
		EXPECT_STATUS(r, 201);
		const std::string moved = stringField(r.body, "joined_at");
		CPPUNIT_ASSERT(moved >= joined);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice2, "bob", false, false, moved), r.body);
		CPPUNIT_ASSERT_EQUAL("[" + aliceJoin.body + "]", s.send("GET", V, "", w.alice.access).body);
		EXPECT_ERROR(s.send("DELETE", V, "", w.bob.access), 404, "Not in this voice channel");
		r = s.send("DELETE", V2, "", w.bob.access);
		EXPECT_STATUS(r, 204);
		CPPUNIT_ASSERT(r.body.empty());
		EXPECT_ERROR(s.send("DELETE", V2, "", w.bob.access), 404, "Not in this voice channel");
		EXPECT_ERROR(s.send("DELETE", V2, "", w.carol.access), 404, "Channel not found");
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), s.send("GET", V2, "", w.alice.access).body);
	}

	void testHourlyPruneOffTheLoop()
	{
		// §2.2: expired rows are pruned hourly, by work that does not block an event loop (the
		// tear-down's ERROR check would see a storage call on one).
		Server& s = server();
		User alice = s.registerUser("alice");
		CPPUNIT_ASSERT(s.sql("INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, expires_at) "
		                     "VALUES ('old', 'f-old', ?, 'h-old', 1, 2)",
		                     {alice.id})
		                   .ok);
		auto rows = [&s]() { return valueAsInt(s.sql("SELECT COUNT(*) FROM sessions").rows.at(0).at(0)); };
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), rows());
		s.host().advance(3600 * 1000 - 1);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), rows());
		s.host().advance(1);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), rows());
		EXPECT_STATUS(s.send("POST", "/auth/refresh", R"({"refresh_token":)" + quote(alice.refresh) + "}"), 200);
	}

	void testDatabaseErrorIs500()
	{
		// §1.3: a database failure is 500 {"error":"Internal server error"}, with the CORS headers.
		Server& s = server();
		World w = makeWorld(s);
		CPPUNIT_ASSERT(s.sql("DROP TABLE messages").ok);
		for (const HttpResponse& r :
		     {s.post(w.alice, w.text, "hello"), s.send("GET", "/channels/" + w.text + "/messages", "", w.alice.access),
		      s.send("PATCH", "/messages/" + NO_SUCH_ID, R"({"content":"x"})", w.alice.access),
		      s.send("DELETE", "/messages/" + NO_SUCH_ID, "", w.alice.access)})
		{
			EXPECT_ERROR(r, 500, "Internal server error");
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		}
		// The plugin may log what failed; that is no FakeHost complaint.
		s.host().clearLog();
		EXPECT_STATUS(s.send("GET", "/servers", "", w.alice.access), 200);
	}

	void testApiParity()
	{
		// Case 16: the same under /api.
		Server& s = server();
		HttpResponse r = s.send("POST", "/api/auth/register", R"({"username":"alice","password":"password123"})");
		EXPECT_STATUS(r, 201);
		User alice{stringField(parseObject(r.body)->getObject("user"), "id"), "alice",
		           stringField(r.body, "access_token"), stringField(r.body, "refresh_token"),
		           stringField(parseObject(r.body)->getObject("user"), "created_at")};
		r = s.send("POST", "/api/auth/login", R"({"username":"alice","password":"password123"})");
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT(r.body.find(userDto(alice, "offline")) != std::string::npos);
		const std::string serverId =
		    stringField(s.send("POST", "/api/servers", R"({"name":"S"})", alice.access).body, "id");
		CPPUNIT_ASSERT_EQUAL(s.send("GET", "/servers", "", alice.access).body,
		                     s.send("GET", "/api/servers", "", alice.access).body);
		const std::string channel = stringField(
		    s.send("POST", "/api/servers/" + serverId + "/channels", R"({"name":"g","type":"text"})", alice.access)
		        .body,
		    "id");
		r = s.send("POST", "/api/channels/" + channel + "/messages", R"({"content":"via api"})", alice.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL("[" + r.body + "]",
		                     s.send("GET", "/channels/" + channel + "/messages", "", alice.access).body);
		CPPUNIT_ASSERT_EQUAL(s.send("GET", "/health").body, s.send("GET", "/api/health").body);
		EXPECT_STATUS(s.send("GET", "/api/health"), 200);
		EXPECT_ERROR(s.send("GET", "/api/users/@me"), 401, "Missing or invalid Authorization header");
	}

	// --- the gateway ---------------------------------------------------------------------------

	void testReadyFirst()
	{
		// Case 19 and §5.3.
		Server& s = server();
		User alice = s.registerUser("alice");
		User bob = s.registerUser("bob");
		const std::string first = s.createServer(alice, "S");
		s.join(bob, first);
		s.createServer(bob, "B"); // not alice's
		s.createServer(alice, "S3");
		HttpResponse list = s.send("GET", "/servers", "", alice.access);
		ConnectionId c = s.host().connect("/ws?token=" + alice.access);
		CPPUNIT_ASSERT(c != 0);
		Frames sent = s.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), sent.size());
		Poco::JSON::Object::Ptr d = parseObject(sent[0])->getObject("d");
		const std::string sid = stringField(d, "session_id");
		CPPUNIT_ASSERT_MESSAGE(sid, std::regex_match(sid, std::regex("^[0-9a-f]{32}$")));
		CPPUNIT_ASSERT_EQUAL(R"({"op":"DISPATCH","t":"READY","d":{"user":)" + userDto(alice, "online") +
		                         R"(,"servers":)" + list.body + R"(,"heartbeat_interval":30000,"session_id":")" + sid +
		                         "\"}}",
		                     sent[0]);
		Poco::JSON::Array::Ptr servers = d->getArray("servers");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), servers->size());
		for (std::size_t i = 0; i < servers->size(); ++i)
			for (const char* key : {"id", "name", "description", "owner_id", "member_count", "created_at"})
				CPPUNIT_ASSERT_MESSAGE(key, servers->getObject(static_cast<unsigned>(i))->has(key));
		CPPUNIT_ASSERT_EQUAL(first, stringField(servers->getObject(0), "id"));
		CPPUNIT_ASSERT_EQUAL(userDto(alice, "online"), s.send("GET", "/users/@me", "", alice.access).body);

		// Another session: its own READY first, its own session id, nothing for the first one.
		std::string sid2;
		ConnectionId c2 = s.open(alice, &sid2);
		CPPUNIT_ASSERT(sid2 != sid);
		CPPUNIT_ASSERT_MESSAGE(sid2, std::regex_match(sid2, std::regex("^[0-9a-f]{32}$")));
		EXPECT_QUIET(s, c);
		// bob's READY comes first, then alice hears bob come online.
		HttpResponse bobList = s.send("GET", "/servers", "", bob.access);
		ConnectionId b = s.host().connect("/ws?token=" + bob.access);
		Frames bobSent = s.frames(b);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), bobSent.size());
		const std::string bobSid = stringField(parseObject(bobSent[0])->getObject("d"), "session_id");
		CPPUNIT_ASSERT_EQUAL(R"({"op":"DISPATCH","t":"READY","d":{"user":)" + userDto(bob, "online") +
		                         R"(,"servers":)" + bobList.body + R"(,"heartbeat_interval":30000,"session_id":")" +
		                         bobSid + "\"}}",
		                     bobSent[0]);
		EXPECT_FRAMES(Frames{presenceFrame(bob.id, "online")}, s.frames(c));
		EXPECT_FRAMES(Frames{presenceFrame(bob.id, "online")}, s.frames(c2));
	}

	void testReadyAliasesAndTokenSources()
	{
		// Case 19: /api/ws, Authorization: Bearer, ?token= winning; heartbeat_interval configured.
		Server& s = server({{"ws.heartbeat_interval", "45000"}});
		User alice = s.registerUser("alice");
		auto readyOf = [&s](ConnectionId c) {
			Frames sent = s.frames(c);
			if (sent.size() != 1)
				throw std::runtime_error("expected READY alone, got " + std::to_string(sent.size()) + " frames");
			return parseObject(sent[0]);
		};
		for (const std::string& path : {"/ws?token=" + alice.access, "/api/ws?token=" + alice.access,
		                                "/ws?v=1&token=" + alice.access + "&encoding=json"})
		{
			ConnectionId c = s.host().connect(path);
			CPPUNIT_ASSERT_MESSAGE(path, c != 0);
			Poco::JSON::Object::Ptr ready = readyOf(c);
			CPPUNIT_ASSERT_EQUAL(std::string("READY"), stringField(ready, "t"));
			CPPUNIT_ASSERT_EQUAL(45000, ready->getObject("d")->getValue<int>("heartbeat_interval"));
			CPPUNIT_ASSERT_EQUAL(alice.id, stringField(ready->getObject("d")->getObject("user"), "id"));
		}
		ConnectionId header = s.host().connect("/ws", {{"Authorization", "Bearer " + alice.access}});
		CPPUNIT_ASSERT_EQUAL(std::string("READY"), stringField(readyOf(header), "t"));
		ConnectionId apiHeader = s.host().connect("/api/ws", {{"Authorization", "Bearer " + alice.access}});
		CPPUNIT_ASSERT_EQUAL(std::string("READY"), stringField(readyOf(apiHeader), "t"));
		ConnectionId queryWins = s.host().connect("/ws?token=" + alice.access, {{"Authorization", "Bearer garbage"}});
		CPPUNIT_ASSERT_EQUAL(std::string("READY"), stringField(readyOf(queryWins), "t"));
		ConnectionId queryLoses = s.host().connect("/ws?token=garbage", {{"Authorization", "Bearer " + alice.access}});
		CPPUNIT_ASSERT(queryLoses != 0);
		CPPUNIT_ASSERT(s.frames(queryLoses).empty());
		EXPECT_CLOSE(s, queryLoses, 4001, "Invalid or expired token");
	}

	void testBadTokensClose4001()
	{
		// Case 20 and §5.1: the upgrade is accepted, then a close 4001 and nothing before it.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		const std::int64_t now = nowSeconds();
		struct Case
		{
			std::string path;
			const char* reason;
		};
		const std::vector<Case> cases = {
		    {"/ws", "Missing token"},
		    {"/ws?token=", "Missing token"},
		    {"/api/ws?encoding=json", "Missing token"},
		    {"/ws?token=garbage", "Invalid or expired token"},
		    {"/ws?token=a.b.c", "Invalid or expired token"},
		    {"/ws?token=" + mint(SECRET, w.bob.id, "bob", "access", now - 1200, now - 300), "Invalid or expired token"},
		    {"/ws?token=" + unsignedToken(w.bob.access), "Invalid or expired token"},
		    {"/ws?token=" + mint(std::string(32, 'o'), w.bob.id, "bob", "access", now, now + 900),
		     "Invalid or expired token"},
		    {"/ws?token=" + w.bob.refresh, "Invalid token type"},
		    {"/api/ws?token=" + w.bob.refresh, "Invalid token type"},
		    {"/ws?token=" + mint(SECRET, NO_SUCH_ID, "ghost", "access", now, now + 900), "Unknown user"},
		    {"/ws?token=" + mint(SECRET, "not-a-uuid", "ghost", "access", now, now + 900), "Unknown user"},
		};
		for (const Case& c : cases)
		{
			ConnectionId id = s.host().connect(c.path);
			CPPUNIT_ASSERT_MESSAGE(c.path, id != 0); // 101: never an HTTP refusal for a token
			CPPUNIT_ASSERT_MESSAGE(c.path, s.frames(id).empty());
			EXPECT_CLOSE(s, id, 4001, c.reason);
		}
		ConnectionId header = s.host().connect("/ws", {{"Authorization", "Bearer " + w.bob.refresh}});
		CPPUNIT_ASSERT(s.frames(header).empty());
		EXPECT_CLOSE(s, header, 4001, "Invalid token type");
		// None of them was a session: no presence for bob reached alice, and bob is offline.
		EXPECT_QUIET(s, a);
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "offline"), s.send("GET", "/users/@me", "", w.bob.access).body);
	}

	void testBadFramesClose4002()
	{
		// Case 21 and §5.4: each closes a fresh session with 4002, after nothing but READY.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		const std::vector<std::pair<std::string, MessageKind>> inputs = {
		    {"hello", MessageKind::TEXT},
		    {"[]", MessageKind::TEXT},
		    {"{}", MessageKind::TEXT},
		    {R"({"op":5})", MessageKind::TEXT},
		    {R"({"op":"IDENTIFY"})", MessageKind::TEXT},
		    {HEARTBEAT, MessageKind::BINARY},
		    {"", MessageKind::TEXT},
		    {"null", MessageKind::TEXT},
		    {R"("HEARTBEAT")", MessageKind::TEXT},
		    {R"({"op":null})", MessageKind::TEXT},
		    {R"({"op":"heartbeat"})", MessageKind::TEXT},
		    {R"({"op":["HEARTBEAT"]})", MessageKind::TEXT},
		    {R"({"OP":"HEARTBEAT"})", MessageKind::TEXT},
		    {R"({"op":"HEARTBEAT")", MessageKind::TEXT},
		    {R"({"d":{},"t":null})", MessageKind::TEXT},
		};
		for (const auto& input : inputs)
		{
			ConnectionId b = s.open(w.bob);
			CPPUNIT_ASSERT(s.host().deliver(b, input.first, input.second));
			CPPUNIT_ASSERT_MESSAGE(input.first, s.frames(b).empty());
			EXPECT_CLOSE(s, b, 4002, "Invalid message format");
			// The teardown ran the presence rules once: online, then offline, for alice.
			EXPECT_FRAMES((Frames{presenceFrame(w.bob.id, "online"), presenceFrame(w.bob.id, "offline")}), s.frames(a));
		}
		EXPECT_QUIET(s, a);
	}

	void testIgnoredInputs()
	{
		// Case 22 and §5.4: known opcodes with bad payloads are ignored; the session stays.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		s.drain({a, b});
		const std::vector<std::string> inputs = {
		    R"({"op":"DISPATCH","t":"X","d":{}})",
		    R"({"op":"HEARTBEAT_ACK"})",
		    R"({"op":"PRESENCE_UPDATE","d":{"status":"invisible"}})",
		    R"({"op":"PRESENCE_UPDATE"})",
		    R"({"op":"VOICE_SIGNAL","d":{"to_user_id":"not-a-uuid","signal":{}}})",
		    R"({"op":"DISPATCH"})",
		    R"({"op":"HEARTBEAT_ACK","t":null,"d":null})",
		    R"({"op":"PRESENCE_UPDATE","d":"online"})",
		    R"({"op":"PRESENCE_UPDATE","d":null})",
		    R"({"op":"PRESENCE_UPDATE","d":{"status":5}})",
		    R"({"op":"PRESENCE_UPDATE","d":{"status":"idle","custom_status":5}})",
		    R"({"op":"PRESENCE_UPDATE","d":{"status":"idle","custom_status":)" + quote(std::string(129, 'c')) + "}}",
		    R"({"op":"VOICE_SIGNAL"})",
		    R"({"op":"VOICE_SIGNAL","d":[]})",
		    R"({"op":"VOICE_SIGNAL","d":{"signal":{}}})",
		    R"({"op":"VOICE_SIGNAL","d":{"to_user_id":")" + w.alice.id + R"(","signal":{}}})",
		};
		for (const std::string& input : inputs)
		{
			CPPUNIT_ASSERT(s.host().deliver(b, input));
			CPPUNIT_ASSERT_MESSAGE(input, s.host().isOpen(b));
			EXPECT_QUIET(s, b);
			EXPECT_QUIET(s, a);
		}
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "online"), s.send("GET", "/users/@me", "", w.bob.access).body);
	}

	void testHeartbeat()
	{
		// Case 23.
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId one = s.open(alice);
		ConnectionId two = s.open(alice);
		for (const char* beat : {R"({"op":"HEARTBEAT"})", R"({"op":"HEARTBEAT","t":null,"d":null})",
		                         R"({"op":"HEARTBEAT","d":12345})", R"( { "op" : "HEARTBEAT" } )"})
		{
			s.host().deliver(one, beat);
			EXPECT_FRAMES(Frames{ACK}, s.frames(one));
			CPPUNIT_ASSERT(s.frames(two).empty());
		}
		// Session two's next frame is its own ACK.
		s.host().deliver(two, HEARTBEAT);
		EXPECT_FRAMES(Frames{ACK}, s.frames(two));
		CPPUNIT_ASSERT(s.frames(one).empty());
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"op":"HEARTBEAT_ACK"})"), ACK);
	}

	void testMessageFanOut()
	{
		// Case 24: members' sessions only, the author's included.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a1 = s.open(w.alice);
		ConnectionId a2 = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		s.drain({a1, a2, b, c});
		HttpResponse created = s.post(w.alice, w.text, "Hello, everyone!");
		EXPECT_STATUS(created, 201);
		const Frames create{dispatchFrame("MESSAGE_CREATE", created.body)};
		EXPECT_FRAMES(create, s.frames(a1));
		EXPECT_FRAMES(create, s.frames(a2));
		EXPECT_FRAMES(create, s.frames(b));
		EXPECT_QUIET(s, c);
		const std::string id = stringField(created.body, "id");

		HttpResponse edited = s.send("PATCH", "/messages/" + id, R"({"content":"edited"})", w.alice.access);
		EXPECT_STATUS(edited, 200);
		CPPUNIT_ASSERT(isTimestamp(stringField(edited.body, "updated_at")));
		const Frames update{dispatchFrame("MESSAGE_UPDATE", edited.body)};
		EXPECT_FRAMES(update, s.frames(a1));
		EXPECT_FRAMES(update, s.frames(a2));
		EXPECT_FRAMES(update, s.frames(b));
		EXPECT_QUIET(s, c);

		EXPECT_STATUS(s.send("DELETE", "/messages/" + id, "", w.alice.access), 204);
		const Frames remove{
		    dispatchFrame("MESSAGE_DELETE", R"({"id":")" + id + R"(","channel_id":")" + w.text + "\"}")};
		EXPECT_FRAMES(remove, s.frames(a1));
		EXPECT_FRAMES(remove, s.frames(a2));
		EXPECT_FRAMES(remove, s.frames(b));
		EXPECT_QUIET(s, c);

		// Refused requests broadcast nothing; carol's own server is hers alone.
		EXPECT_STATUS(s.post(w.alice, w.text, ""), 400);
		EXPECT_STATUS(s.send("PATCH", "/messages/" + id, R"({"content":"x"})", w.alice.access), 404);
		const std::string carolText = s.createChannel(w.carol, w.other, "t", "text");
		HttpResponse carols = s.post(w.carol, carolText, "mine");
		EXPECT_FRAMES(Frames{dispatchFrame("MESSAGE_CREATE", carols.body)}, s.frames(c));
		EXPECT_QUIET(s, a1);
		EXPECT_QUIET(s, a2);
		EXPECT_QUIET(s, b);
	}

	void testMembershipIsLive()
	{
		// Case 32.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId c = s.open(w.carol);
		s.drain({a, c});
		s.join(w.carol, w.server);
		EXPECT_QUIET(s, a); // membership changes have no gateway events (§4.5)
		EXPECT_QUIET(s, c);
		HttpResponse first = s.post(w.alice, w.text, "welcome");
		EXPECT_FRAMES(Frames{dispatchFrame("MESSAGE_CREATE", first.body)}, s.frames(c));
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server + "/leave", "", w.carol.access), 204);
		s.post(w.alice, w.text, "gone");
		EXPECT_QUIET(s, c);
	}

	void testPresence()
	{
		// Case 25 and §5.6; alice and bob share two servers and still hear each change once.
		Server& s = server();
		World w = makeWorld(s);
		const std::string second = s.createServer(w.alice, "S2");
		s.join(w.bob, second);
		ConnectionId a = s.open(w.alice);
		ConnectionId c = s.open(w.carol);
		s.drain({a, c});
		ConnectionId b1 = s.open(w.bob);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online")}, s.frames(a));
		EXPECT_QUIET(s, c);
		ConnectionId b2 = s.open(w.bob);
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b1);

		s.host().deliver(b1, R"({"op":"PRESENCE_UPDATE","d":{"status":"away"}})");
		const Frames idle{presenceFrame(w.bob.id, "idle")};
		EXPECT_FRAMES(idle, s.frames(a));
		EXPECT_FRAMES(idle, s.frames(b2));
		EXPECT_QUIET(s, b1); // no echo to the sender
		EXPECT_QUIET(s, c);
		for (const char* again :
		     {R"({"op":"PRESENCE_UPDATE","d":{"status":"away"}})", R"({"op":"PRESENCE_UPDATE","d":{"status":"idle"}})"})
		{
			s.host().deliver(b2, again);
			EXPECT_QUIET(s, a);
			EXPECT_QUIET(s, b1);
			EXPECT_QUIET(s, b2);
		}
		s.host().deliver(b2, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd"},"t":null})");
		const Frames dnd{presenceFrame(w.bob.id, "dnd")};
		EXPECT_FRAMES(dnd, s.frames(a));
		EXPECT_FRAMES(dnd, s.frames(b1));
		EXPECT_QUIET(s, b2);
		EXPECT_QUIET(s, c);
		// The live status shows in every DTO, and a further session keeps it.
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "dnd"), s.send("GET", "/users/@me", "", w.bob.access).body);
		ConnectionId b3 = s.host().connect("/ws?token=" + w.bob.access);
		Frames third = s.frames(b3);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), third.size());
		CPPUNIT_ASSERT(third[0].find(userDto(w.bob, "dnd")) != std::string::npos);
		EXPECT_QUIET(s, a);
		s.host().disconnect(b3, CloseCode::NORMAL);
		EXPECT_QUIET(s, a);
		CPPUNIT_ASSERT(s.send("GET", "/servers/" + w.server + "/members", "", w.carol.access).status == 404);
		CPPUNIT_ASSERT(s.send("GET", "/servers/" + w.server + "/members", "", w.alice.access)
		                   .body.find(R"({"user_id":")" + w.bob.id +
		                              R"(","username":"bob","avatar_url":null,"status":"dnd")") != std::string::npos);
		// alice's own change reaches bob's two sessions, once each.
		s.host().deliver(a, R"({"op":"PRESENCE_UPDATE","d":{"status":"idle"}})");
		EXPECT_FRAMES(Frames{presenceFrame(w.alice.id, "idle")}, s.frames(b1));
		EXPECT_FRAMES(Frames{presenceFrame(w.alice.id, "idle")}, s.frames(b2));
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, c);
	}

	void testPresenceMultiSession()
	{
		// Case 26: presence and unbound voice follow the last session.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b1 = s.open(w.bob);
		ConnectionId b2 = s.open(w.bob);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online")}, s.frames(a));
		HttpResponse joined = s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access);
		EXPECT_STATUS(joined, 201);
		s.drain({a, b1, b2});
		s.host().disconnect(b1, CloseCode::NORMAL);
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b2);
		CPPUNIT_ASSERT_EQUAL("[" + joined.body + "]",
		                     s.send("GET", "/channels/" + w.voice + "/voice", "", w.alice.access).body);
		s.host().disconnect(b2, CloseCode::GOING_AWAY);
		Frames got = s.frames(a);
		std::sort(got.begin(), got.end());
		Frames expected{presenceFrame(w.bob.id, "offline"), voiceLeaveFrame(w.bob.id, "bob")};
		std::sort(expected.begin(), expected.end());
		EXPECT_FRAMES(expected, got);
		CPPUNIT_ASSERT_EQUAL(std::string("[]"),
		                     s.send("GET", "/channels/" + w.voice + "/voice", "", w.alice.access).body);
		EXPECT_QUIET(s, a);
		// Back: online again.
		ConnectionId b3 = s.open(w.bob);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online")}, s.frames(a));
		// The gauges the admin console shows, refreshed once a second.
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.host().gaugeValue("users_online"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.host().gaugeValue("gateway_sessions"));
		s.host().disconnect(b3, CloseCode::NORMAL);
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.host().gaugeValue("users_online"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.host().gaugeValue("gateway_sessions"));
	}

	void testPresenceAppearOffline()
	{
		// §5.6: offline while connected is "appear offline"; the last close then announces nothing.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		s.drain({a, b});
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"offline"}})");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "offline")}, s.frames(a));
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "offline"), s.send("GET", "/users/@me", "", w.bob.access).body);
		// A further session changes nothing: still offline, unannounced, also in its READY.
		ConnectionId b2 = s.host().connect("/ws?token=" + w.bob.access);
		Frames second = s.frames(b2);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), second.size());
		CPPUNIT_ASSERT(second[0].find(userDto(w.bob, "offline")) != std::string::npos);
		EXPECT_QUIET(s, a);
		s.host().disconnect(b2, CloseCode::NORMAL);
		s.host().disconnect(b, CloseCode::NORMAL);
		EXPECT_QUIET(s, a);
		// Presence is not restored on reconnect.
		ConnectionId again = s.host().connect("/ws?token=" + w.bob.access);
		Frames ready = s.frames(again);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ready.size());
		CPPUNIT_ASSERT(ready[0].find(userDto(w.bob, "online")) != std::string::npos);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online")}, s.frames(a));
	}

	void testPresenceCustomStatus()
	{
		// §5.6: custom_status changes are broadcast, stored, and survive reconnects.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		s.drain({a, b});
		auto stored = [&]() {
			QueryResult row = s.sql("SELECT custom_status FROM users WHERE id = ?", {w.bob.id});
			return std::holds_alternative<std::nullptr_t>(row.rows.at(0).at(0)) ? std::string("null")
			                                                                    : quote(valueAsString(row.rows[0][0]));
		};
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd","custom_status":"busy"}})");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "dnd", R"("busy")")}, s.frames(a));
		CPPUNIT_ASSERT_EQUAL(std::string(R"("busy")"), stored());
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd","custom_status":"busy"}})");
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd"}})"); // no key: unchanged
		EXPECT_QUIET(s, a);
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd","custom_status":null}})");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "dnd")}, s.frames(a));
		CPPUNIT_ASSERT_EQUAL(std::string("null"), stored());
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"online","custom_status":"lunch"}})");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online", R"("lunch")")}, s.frames(a));
		CPPUNIT_ASSERT_EQUAL(std::string(R"("lunch")"), stored());
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"online","custom_status":)" +
		                        quote(repeat("é", 128)) + "}}");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online", quote(repeat("é", 128)))}, s.frames(a));
		s.host().deliver(b, R"({"op":"PRESENCE_UPDATE","d":{"status":"online","custom_status":"lunch"}})");
		s.drain({a});
		// Not cleared on connect: the last close, a new session, READY.
		s.host().disconnect(b, CloseCode::NORMAL);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "offline", R"("lunch")")}, s.frames(a));
		ConnectionId again = s.host().connect("/ws?token=" + w.bob.access);
		Frames ready = s.frames(again);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ready.size());
		CPPUNIT_ASSERT(ready[0].find(userDto(w.bob, "online", "null", "null", R"("lunch")")) != std::string::npos);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online", R"("lunch")")}, s.frames(a));
	}

	void testPresenceOverRest()
	{
		// §4.4: PATCH /users/@me acts as a PRESENCE_UPDATE from no session: every session hears it.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		s.drain({a, b, c});
		HttpResponse r = s.send("PATCH", "/users/@me", R"({"status":"away"})", w.bob.access);
		EXPECT_STATUS(r, 200);
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "idle"), r.body);
		const Frames idle{presenceFrame(w.bob.id, "idle")};
		EXPECT_FRAMES(idle, s.frames(a));
		EXPECT_FRAMES(idle, s.frames(b));
		EXPECT_QUIET(s, c);
		r = s.send("PATCH", "/users/@me", R"({"custom_status":"x"})", w.bob.access);
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "idle", "null", "null", R"("x")"), r.body);
		const Frames custom{presenceFrame(w.bob.id, "idle", R"("x")")};
		EXPECT_FRAMES(custom, s.frames(a));
		EXPECT_FRAMES(custom, s.frames(b));
		for (const char* same : {R"({"status":"idle"})", R"({"custom_status":"x"})", R"({"avatar_url":"http://a/b"})"})
		{
			EXPECT_STATUS(s.send("PATCH", "/users/@me", same, w.bob.access), 200);
			EXPECT_QUIET(s, a);
			EXPECT_QUIET(s, b);
		}
		EXPECT_QUIET(s, c);
	}

	void testVoiceEvents()
	{
		// Case 27: every session of the server's members, the actor's included.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		s.drain({a, b, c});
		const std::string V = "/channels/" + w.voice + "/voice";
		HttpResponse joined = s.send("POST", V, "", w.bob.access);
		EXPECT_STATUS(joined, 201);
		const std::string joinedAt = stringField(joined.body, "joined_at");
		const Frames join{
		    dispatchFrame("VOICE_STATE_UPDATE", voiceDto(w.bob.id, w.voice, "bob", false, false, joinedAt))};
		EXPECT_FRAMES(join, s.frames(a));
		EXPECT_FRAMES(join, s.frames(b));
		EXPECT_QUIET(s, c);
		HttpResponse deaf = s.send("PATCH", V, R"({"self_deaf":true})", w.bob.access);
		EXPECT_STATUS(deaf, 200);
		const Frames update{
		    dispatchFrame("VOICE_STATE_UPDATE", voiceDto(w.bob.id, w.voice, "bob", false, true, joinedAt))};
		CPPUNIT_ASSERT_EQUAL(dispatchFrame("VOICE_STATE_UPDATE", deaf.body), update[0]);
		EXPECT_FRAMES(update, s.frames(a));
		EXPECT_FRAMES(update, s.frames(b));
		// A re-join and refused requests announce nothing.
		EXPECT_STATUS(s.send("POST", V, "", w.bob.access), 201);
		EXPECT_STATUS(s.send("PATCH", V, "{}", w.bob.access), 400);
		EXPECT_STATUS(s.send("PATCH", "/channels/" + w.voice2 + "/voice", R"({"self_mute":true})", w.bob.access), 404);
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b);
		EXPECT_STATUS(s.send("DELETE", V, "", w.bob.access), 204);
		const Frames leave{voiceLeaveFrame(w.bob.id, "bob")};
		EXPECT_FRAMES(leave, s.frames(a));
		EXPECT_FRAMES(leave, s.frames(b));
		EXPECT_QUIET(s, c);
	}

	void testVoiceMoves()
	{
		// §4.8: a move within a server is the join alone; across servers the old one hears a leave.
		Server& s = server();
		World w = makeWorld(s);
		s.join(w.bob, w.other);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		s.drain({a, b, c});
		HttpResponse r = s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access);
		EXPECT_STATUS(s.send("PATCH", "/channels/" + w.voice + "/voice", R"({"self_mute":true})", w.bob.access), 200);
		s.drain({a, b, c});
		r = s.send("POST", "/channels/" + w.voice2 + "/voice", "", w.bob.access);
		EXPECT_STATUS(r, 201);
		const Frames moved{dispatchFrame("VOICE_STATE_UPDATE", r.body)};
		CPPUNIT_ASSERT_EQUAL(std::string("false"), jsonOf(r.body, "self_mute"));
		EXPECT_FRAMES(moved, s.frames(a));
		EXPECT_FRAMES(moved, s.frames(b));
		EXPECT_QUIET(s, c);
		r = s.send("POST", "/channels/" + w.otherVoice + "/voice", "", w.bob.access);
		EXPECT_STATUS(r, 201);
		const std::string leave = voiceLeaveFrame(w.bob.id, "bob");
		const std::string join = dispatchFrame("VOICE_STATE_UPDATE", r.body);
		EXPECT_FRAMES(Frames{leave}, s.frames(a));
		EXPECT_FRAMES(Frames{join}, s.frames(c));
		EXPECT_FRAMES((Frames{leave, join}), s.frames(b));
		CPPUNIT_ASSERT_EQUAL(std::string("[]"),
		                     s.send("GET", "/channels/" + w.voice2 + "/voice", "", w.alice.access).body);
	}

	void testVoiceCleanup()
	{
		// Case 28: each clearing sends the leave to the remaining members.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		const std::string leave = voiceLeaveFrame(w.bob.id, "bob");
		auto joinVoice = [&](const std::string& channel) {
			EXPECT_STATUS(s.send("POST", "/channels/" + channel + "/voice", "", w.bob.access), 201);
		};

		// bob's last session closes.
		ConnectionId b = s.open(w.bob);
		joinVoice(w.voice);
		s.drain({a, b});
		s.host().disconnect(b, CloseCode::ABNORMAL);
		Frames got = s.frames(a);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), got.size());
		CPPUNIT_ASSERT(std::count(got.begin(), got.end(), leave) == 1);
		CPPUNIT_ASSERT(std::count(got.begin(), got.end(), presenceFrame(w.bob.id, "offline")) == 1);

		// bob leaves S: his own session hears the leave too, then nothing more of S.
		b = s.open(w.bob);
		joinVoice(w.voice);
		s.drain({a, b});
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server + "/leave", "", w.bob.access), 204);
		EXPECT_FRAMES(Frames{leave}, s.frames(a));
		EXPECT_FRAMES(Frames{leave}, s.frames(b));
		s.post(w.alice, w.text, "after bob left");
		EXPECT_QUIET(s, b);
		s.drain({a});

		// The owner deletes the voice channel.
		s.join(w.bob, w.server);
		joinVoice(w.voice);
		s.drain({a, b});
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server + "/channels/" + w.voice, "", w.alice.access), 204);
		EXPECT_FRAMES(Frames{leave}, s.frames(a));
		EXPECT_FRAMES(Frames{leave}, s.frames(b));

		// The owner deletes the server: its members as they were hear it.
		joinVoice(w.voice2);
		s.drain({a, b});
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server, "", w.alice.access), 204);
		EXPECT_FRAMES(Frames{leave}, s.frames(a));
		EXPECT_FRAMES(Frames{leave}, s.frames(b));
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b);
		EXPECT_ERROR(s.send("GET", "/channels/" + w.voice2 + "/voice", "", w.bob.access), 404, "Channel not found");
	}

	void testVoiceSignalRelay()
	{
		// Case 29: the signal value byte for byte.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.alice.access), 201);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, b, c});
		const std::vector<std::string> signals = {
		    R"({"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1","n":[1,2.5,null]})",
		    R"({"z":1,"a":{"y":[[1,[2,[3]]],{"b":true}],"x":-0.0},"big":18446744073709551615,"e":1E-7,"f":2.50})",
		    R"({"u":"\u00e9\ud83d\ude00","q":"a\"b\\","empty":{},"list":[]})",
		    R"({"candidate":"candidate:1 1 UDP 2122252543 192.168.1.2 54321 typ host","sdpMid":"0","sdpMLineIndex":0})",
		    R"("a plain string")",
		    R"([1,"two",{"three":3}])",
		    R"(0.1)",
		    R"(true)",
		};
		for (const std::string& signal : signals)
		{
			s.host().deliver(a, sendSignal(w.bob.id, signal));
			EXPECT_FRAMES(Frames{signalFrame(w.alice.id, ",\"signal\":" + signal)}, s.frames(b));
			EXPECT_QUIET(s, a);
			EXPECT_QUIET(s, c);
		}
		// The value's text is found by its JSON structure, not by searching: strings holding
		// braces, quotes and a "signal" key, and spaces inside the value, are kept as they are.
		s.host().deliver(a, R"({"op":"VOICE_SIGNAL","d":{"note":"}{\"signal\":1","to_user_id":")" + w.bob.id +
		                        R"(","signal" :  {"s":"]}\\","t":"\"{" , "n" : [1 , 2]} },"t":null})");
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, R"(,"signal":{"s":"]}\\","t":"\"{" , "n" : [1 , 2]})")},
		              s.frames(b));
		// Other key orders in the frame, and bob to alice.
		s.host().deliver(b, R"({"d":{"signal":{"type":"answer","sdp":"x"},"to_user_id":")" + w.alice.id +
		                        R"("},"t":null,"op":"VOICE_SIGNAL"})");
		EXPECT_FRAMES(Frames{signalFrame(w.bob.id, R"(,"signal":{"type":"answer","sdp":"x"})")}, s.frames(a));
		// Order from one sender to one target is kept; every session of an unbound target hears it.
		ConnectionId b2 = s.open(w.bob);
		Frames expected;
		for (int i = 0; i < 5; ++i)
		{
			const std::string signal = R"({"seq":)" + std::to_string(i) + "}";
			s.host().deliver(a, sendSignal(w.bob.id, signal));
			expected.push_back(signalFrame(w.alice.id, ",\"signal\":" + signal));
		}
		EXPECT_FRAMES(expected, s.frames(b));
		EXPECT_FRAMES(expected, s.frames(b2));
		EXPECT_QUIET(s, a);
	}

	void testVoiceSignalBigNumber()
	{
		// §5.4 and §5.7: a frame that is valid JSON is relayed, its numbers without loss of
		// precision, whatever their size (RFC 8259 numbers have no range); it is no bad frame.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.alice.access), 201);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, b});
		const std::string signal = R"({"id":12345678901234567890123,"n":-98765432109876543210987})";
		s.host().deliver(a, sendSignal(w.bob.id, signal));
		CPPUNIT_ASSERT_MESSAGE("a valid JSON frame closed the session", s.host().isOpen(a));
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, ",\"signal\":" + signal)}, s.frames(b));
		EXPECT_QUIET(s, a);
	}

	void testVoiceSignalFlatForm()
	{
		// §5.7: the reference client's flat form.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.alice.access), 201);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, b});
		const std::string to = R"({"op":"VOICE_SIGNAL","d":{"to_user_id":")" + w.bob.id + "\"";
		s.host().deliver(a, to + R"(,"type":"answer","sdp":"x"}})");
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, R"(,"type":"answer","sdp":"x","candidate":null)")}, s.frames(b));
		s.host().deliver(a,
		                 to + R"(,"type":"candidate","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}})");
		EXPECT_FRAMES(
		    Frames{signalFrame(
		        w.alice.id,
		        R"(,"type":"candidate","sdp":null,"candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0})")},
		    s.frames(b));
		s.host().deliver(a, to + R"(,"type":"offer","sdp":"v=0\r\n","candidate":null}})");
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, R"(,"type":"offer","sdp":"v=0\r\n","candidate":null)")},
		              s.frames(b));
		// With a signal the flat fields are ignored.
		s.host().deliver(a, to + R"(,"type":"answer","sdp":"x","signal":{"a":1}}})");
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, R"(,"signal":{"a":1})")}, s.frames(b));
		// Another type, or none, is dropped.
		for (const char* rest : {R"(,"type":"bogus","sdp":"x"}})", R"(,"sdp":"x"}})", R"(,"type":5}})", "}}"})
		{
			s.host().deliver(a, to + rest);
			EXPECT_QUIET(s, b);
			EXPECT_QUIET(s, a);
		}
	}

	void testVoiceSignalRefusals()
	{
		// Case 30: dropped, nothing to anyone, the sender's session stays.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId a2 = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId c = s.open(w.carol);
		const std::string signal = R"({"type":"offer","sdp":"x"})";
		auto refused = [&](ConnectionId from, const std::string& frame, const CppUnit::SourceLine& line) {
			s.host().deliver(from, frame);
			CppUnit::Asserter::failIf(!s.host().isOpen(from), "the sender was closed", line);
			for (ConnectionId each : {a, a2, b, c})
				expectFrames(Frames{ACK}, s.heartbeat(each), line);
		};
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.alice.access), 201);
		s.drain({a, a2, b, c});
		// bob not in voice.
		refused(a, sendSignal(w.bob.id, signal), CPPUNIT_SOURCELINE());
		// bob in another voice channel.
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice2 + "/voice", "", w.bob.access), 201);
		s.drain({a, a2, b, c});
		refused(a, sendSignal(w.bob.id, signal), CPPUNIT_SOURCELINE());
		refused(b, sendSignal(w.alice.id, signal), CPPUNIT_SOURCELINE());
		// alice herself.
		refused(a, sendSignal(w.alice.id, signal), CPPUNIT_SOURCELINE());
		// carol is no member (she is in her own server's voice channel).
		EXPECT_STATUS(s.send("POST", "/channels/" + w.otherVoice + "/voice", "", w.carol.access), 201);
		s.drain({a, a2, b, c});
		refused(a, sendSignal(w.carol.id, signal), CPPUNIT_SOURCELINE());
		refused(c, sendSignal(w.alice.id, signal), CPPUNIT_SOURCELINE());
		// Now bob is in V with alice: bad targets and null signals are still dropped.
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, a2, b, c});
		refused(a, sendSignal(w.bob.id, "null"), CPPUNIT_SOURCELINE());
		refused(a, sendSignal(NO_SUCH_ID, signal), CPPUNIT_SOURCELINE());
		refused(a, R"({"op":"VOICE_SIGNAL","d":{"to_user_id":5,"signal":{}}})", CPPUNIT_SOURCELINE());
		refused(a, R"({"op":"VOICE_SIGNAL","d":{"to_user_id":null,"signal":{}}})", CPPUNIT_SOURCELINE());
		// bob gone from voice: nothing; back in, and it flows again.
		EXPECT_STATUS(s.send("DELETE", "/channels/" + w.voice + "/voice", "", w.bob.access), 204);
		s.drain({a, a2, b, c});
		refused(a, sendSignal(w.bob.id, signal), CPPUNIT_SOURCELINE());
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, a2, b, c});
		s.host().deliver(a2, sendSignal(w.bob.id, signal));
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, ",\"signal\":" + signal)}, s.frames(b));
		// A former member can no longer signal: bob leaves S.
		EXPECT_STATUS(s.send("DELETE", "/servers/" + w.server + "/leave", "", w.bob.access), 204);
		s.drain({a, a2, b, c});
		refused(b, sendSignal(w.alice.id, signal), CPPUNIT_SOURCELINE());
		refused(a, sendSignal(w.bob.id, signal), CPPUNIT_SOURCELINE());
	}

	void testBoundVoice()
	{
		// Case 31 and §5.7: a state bound to one session.
		Server& s = server();
		World w = makeWorld(s);
		std::string aliceSid, sid1, sid2;
		ConnectionId a = s.open(w.alice, &aliceSid);
		ConnectionId b1 = s.open(w.bob, &sid1);
		ConnectionId b2 = s.open(w.bob, &sid2);
		const std::string V = "/channels/" + w.voice + "/voice";
		EXPECT_ERROR(s.send("POST", V, R"({"session_id":"deadbeef"})", w.bob.access), 400, "Unknown session_id");
		EXPECT_ERROR(s.send("POST", V, R"({"session_id":")" + aliceSid + "\"}", w.bob.access), 400,
		             "Unknown session_id"); // another user's session
		HttpResponse r = s.send("POST", V, R"({"session_id":")" + sid2 + "\"}", w.bob.access);
		EXPECT_STATUS(r, 201);
		CPPUNIT_ASSERT_EQUAL(voiceDto(w.bob.id, w.voice, "bob", false, false, stringField(r.body, "joined_at")),
		                     r.body);
		HttpResponse aliceJoin = s.send("POST", V, "", w.alice.access);
		EXPECT_STATUS(aliceJoin, 201);
		s.drain({a, b1, b2});

		const std::string signal = R"({"type":"offer","sdp":"x"})";
		s.host().deliver(a, sendSignal(w.bob.id, signal));
		EXPECT_FRAMES(Frames{signalFrame(w.alice.id, ",\"signal\":" + signal)}, s.frames(b2));
		EXPECT_QUIET(s, b1);
		// From the bound session only.
		s.host().deliver(b1, sendSignal(w.alice.id, signal));
		EXPECT_QUIET(s, a);
		CPPUNIT_ASSERT(s.host().isOpen(b1));
		s.host().deliver(b2, sendSignal(w.alice.id, signal));
		EXPECT_FRAMES(Frames{signalFrame(w.bob.id, ",\"signal\":" + signal)}, s.frames(a));

		// Closing the bound session clears the state although b1 stays; presence does not change.
		s.host().disconnect(b2, CloseCode::NORMAL);
		const Frames leave{voiceLeaveFrame(w.bob.id, "bob")};
		EXPECT_FRAMES(leave, s.frames(a));
		EXPECT_FRAMES(leave, s.frames(b1));
		CPPUNIT_ASSERT_EQUAL("[" + aliceJoin.body + "]", s.send("GET", V, "", w.alice.access).body);
		EXPECT_QUIET(s, a);
		// A closed session's id binds nothing.
		EXPECT_ERROR(s.send("POST", V, R"({"session_id":")" + sid2 + "\"}", w.bob.access), 400, "Unknown session_id");
	}

	// --- gateway limits, caps and shutdown -------------------------------------------------------

	void testInboundRateLimit()
	{
		// §5.8: 20/s, burst 60; a frame finding the bucket empty is dropped unread; more than 100
		// drops within 10 s close with 4008.
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		for (int i = 0; i < 60; ++i)
			s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), s.frames(c).size());
		for (int i = 0; i < 100; ++i)
			s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT(s.frames(c).empty()); // dropped unprocessed
		CPPUNIT_ASSERT(s.host().isOpen(c));
		// Dropped frames are not read at all: not even a bad frame closes with 4002.
		s.host().advance(999);
		for (int i = 0; i < 19; ++i)
			s.host().deliver(c, HEARTBEAT);
		EXPECT_FRAMES(Frames(19, ACK), s.frames(c));
		s.host().advance(1); // 20 tokens in 1000 ms
		s.host().deliver(c, HEARTBEAT);
		EXPECT_FRAMES(Frames{ACK}, s.frames(c));
		CPPUNIT_ASSERT(s.host().isOpen(c));
		s.host().deliver(c, HEARTBEAT); // the 101st drop within 10 s
		CPPUNIT_ASSERT(s.frames(c).empty());
		EXPECT_CLOSE(s, c, 4008, "Rate limited");
		// With alice gone her presence went offline (nobody to tell) and a new session works.
		ConnectionId again = s.open(alice);
		EXPECT_QUIET(s, again);
	}

	void testPingsCountAgainstRate()
	{
		// §5.8 counts data frames and Pings: the bucket's 60 tokens answer 60 Pings (echoing each
		// payload), the rest are dropped unanswered, and a HEARTBEAT then finds the bucket empty too.
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		for (int i = 0; i < 70; ++i)
			s.host().ping(c, "p" + std::to_string(i));
		std::vector<std::string> pongs = s.host().takePongs(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), pongs.size());
		CPPUNIT_ASSERT_EQUAL(std::string("p59"), pongs.back());
		s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT(s.frames(c).empty());
		for (int i = 0; i < 91; ++i) // drops 11..101 within 10 s
			s.host().ping(c);
		EXPECT_CLOSE(s, c, 4008, "Rate limited");
	}

	void testInboundRateLimitWindow()
	{
		// §5.8: only drops within the last 10 s count.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		s.drain({a, b});
		auto flood = [&s](ConnectionId c, int frames) {
			for (int i = 0; i < frames; ++i)
				s.host().deliver(c, HEARTBEAT);
			return s.frames(c).size();
		};
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), flood(b, 160)); // 60 answered, 100 dropped
		s.host().advance(10000);                              // those drops leave the window
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), flood(b, 160)); // the bucket is full again; 100 more drops
		CPPUNIT_ASSERT(s.host().isOpen(b));
		s.host().advance(9999); // the last 100 drops are still within 10 s
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), flood(b, 61));
		EXPECT_CLOSE(s, b, 4008, "Rate limited");
		// The teardown ran: alice hears bob go offline. alice herself was never limited.
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "offline")}, s.frames(a));
		EXPECT_QUIET(s, a);
		// A rate of 0 turns the limit off.
		Server& off = server({{"ws.rate.per_second", "0"}});
		User carol = off.registerUser("carol");
		ConnectionId c = off.open(carol);
		for (int i = 0; i < 300; ++i)
			off.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(300), off.frames(c).size());
		CPPUNIT_ASSERT(off.host().isOpen(c));
	}

	void testFrameSizeLimit()
	{
		// §5.8: 64 KiB after reassembly; larger closes with 1009.
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		const std::string head = R"({"op":"HEARTBEAT","d":")";
		std::string largest = head + std::string(65536 - head.size() - 2, 'x') + "\"}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(65536), largest.size());
		s.host().deliver(c, largest);
		EXPECT_FRAMES(Frames{ACK}, s.frames(c));
		s.host().deliver(c, largest + " ");
		CPPUNIT_ASSERT(s.frames(c).empty());
		auto close = s.host().closeOf(c);
		CPPUNIT_ASSERT(close);
		CPPUNIT_ASSERT_EQUAL(int(CloseCode::MESSAGE_TOO_BIG), int(close->first));
		// ws.max_frame_bytes is the endpoint's limit.
		Server& small = server({{"ws.max_frame_bytes", "1024"}});
		User bob = small.registerUser("bob");
		ConnectionId b = small.open(bob);
		small.host().deliver(b, R"({"op":"HEARTBEAT","d":")" + std::string(1024, 'x') + "\"}");
		CPPUNIT_ASSERT(small.frames(b).empty());
		CPPUNIT_ASSERT_EQUAL(int(CloseCode::MESSAGE_TOO_BIG), int(small.host().closeOf(b)->first));
	}

	void testHeartbeatTimeout()
	{
		// §5.8: no inbound frame for ws.heartbeat_timeout: 4009 "Session timed out" (the host's idle
		// close, with the code and reason the plugin gives its endpoints).
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		s.drain({a, b});
		s.host().idleOut(b);
		EXPECT_CLOSE(s, b, 4009, "Session timed out");
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "offline")}, s.frames(a));
		ConnectionId api = s.host().connect("/api/ws?token=" + w.bob.access);
		s.drain({api, a});
		s.host().idleOut(api);
		EXPECT_CLOSE(s, api, 4009, "Session timed out");
	}

	void testSlowConsumer()
	{
		// §5.8 and case 34: a session whose queue overflows is closed with 1013 "Slow consumer";
		// the others go on.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b = s.open(w.bob);
		ConnectionId b2 = s.open(w.bob);
		s.drain({a, b, b2});
		s.host().setSendResult(b, SendResult::DROPPED);
		HttpResponse posted = s.post(w.alice, w.text, "flood");
		EXPECT_STATUS(posted, 201);
		EXPECT_CLOSE(s, b, 1013, "Slow consumer");
		const Frames create{dispatchFrame("MESSAGE_CREATE", posted.body)};
		EXPECT_FRAMES(create, s.frames(a));
		EXPECT_FRAMES(create, s.frames(b2));
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b2);
		HttpResponse next = s.post(w.alice, w.text, "after");
		EXPECT_FRAMES(Frames{dispatchFrame("MESSAGE_CREATE", next.body)}, s.frames(b2));
	}

	void testSessionCap()
	{
		// Case 37: with ws.max_sessions_per_user = 2 a third session closes the oldest with 1000;
		// the eviction runs the teardown rules (here: bob's voice state bound to that session).
		Server& s = server({{"ws.max_sessions_per_user", "2"}});
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		std::string sid1;
		ConnectionId b1 = s.open(w.bob, &sid1);
		ConnectionId b2 = s.open(w.bob);
		EXPECT_STATUS(
		    s.send("POST", "/channels/" + w.voice + "/voice", R"({"session_id":")" + sid1 + "\"}", w.bob.access), 201);
		s.drain({a, b1, b2});
		ConnectionId b3 = s.host().connect("/ws?token=" + w.bob.access);
		CPPUNIT_ASSERT(b3 != 0);
		Frames third = s.frames(b3);
		const std::string leave = voiceLeaveFrame(w.bob.id, "bob");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), third.size());
		CPPUNIT_ASSERT_EQUAL(0, int(third[0].rfind(R"({"op":"DISPATCH","t":"READY",)", 0)));
		CPPUNIT_ASSERT_EQUAL(leave, third[1]);
		EXPECT_CLOSE(s, b1, 1000, "Session limit reached");
		CPPUNIT_ASSERT(s.frames(b1).empty());
		EXPECT_FRAMES(Frames{leave}, s.frames(a)); // no presence change: bob is still online
		EXPECT_FRAMES(Frames{leave}, s.frames(b2));
		CPPUNIT_ASSERT(s.host().isOpen(b2) && s.host().isOpen(b3));
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b2);
		EXPECT_QUIET(s, b3);
		CPPUNIT_ASSERT_EQUAL(userDto(w.bob, "online"), s.send("GET", "/users/@me", "", w.bob.access).body);
		ConnectionId b4 = s.open(w.bob);
		EXPECT_CLOSE(s, b2, 1000, "Session limit reached");
		CPPUNIT_ASSERT(s.host().isOpen(b3) && s.host().isOpen(b4));
		EXPECT_QUIET(s, a);
		// The cap is per user: alice's sessions are untouched.
		ConnectionId a2 = s.open(w.alice);
		CPPUNIT_ASSERT(s.host().isOpen(a) && s.host().isOpen(a2));
	}

	void testDefaultSessionCap()
	{
		// §5.1: ten sessions per user by default.
		Server& s = server();
		User alice = s.registerUser("alice");
		std::vector<ConnectionId> sessions;
		for (int i = 0; i < 10; ++i)
			sessions.push_back(s.open(alice));
		for (ConnectionId c : sessions)
			CPPUNIT_ASSERT(s.host().isOpen(c));
		ConnectionId eleventh = s.open(alice);
		EXPECT_CLOSE(s, sessions[0], 1000, "Session limit reached");
		for (std::size_t i = 1; i < sessions.size(); ++i)
			CPPUNIT_ASSERT(s.host().isOpen(sessions[i]));
		EXPECT_QUIET(s, eleventh);
	}

	void testConnectionCap()
	{
		// §5.1: over ws.max_connections the session is accepted, then closed 1013 "Server busy".
		Server& s = server({{"ws.max_connections", "2"}});
		World w = makeWorld(s);
		ConnectionId a1 = s.open(w.alice);
		ConnectionId a2 = s.open(w.alice);
		ConnectionId b = s.host().connect("/ws?token=" + w.bob.access);
		CPPUNIT_ASSERT(b != 0);
		CPPUNIT_ASSERT(s.frames(b).empty());
		EXPECT_CLOSE(s, b, 1013, "Server busy");
		EXPECT_QUIET(s, a1); // bob never came online
		EXPECT_QUIET(s, a2);
		s.host().disconnect(a2, CloseCode::NORMAL);
		ConnectionId again = s.open(w.bob);
		EXPECT_FRAMES(Frames{presenceFrame(w.bob.id, "online")}, s.frames(a1));
		EXPECT_QUIET(s, again);
	}

	void testOriginAndConnectRate()
	{
		// Case 35 and §5.1: the only HTTP answers before the upgrade.
		Server& s = server({{"ws.allowed_origins", "http://ok.example"},
		                    {"ws.connect_rate.per_second", "1"},
		                    {"ws.connect_rate.burst", "3"}});
		User alice = s.registerUser("alice");
		const std::string path = "/ws?token=" + alice.access;
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect(path, {{"Origin", "http://evil.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(errorBody("Origin not allowed"), s.host().lastRejectBody());
		// Refused before the token is looked at.
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0),
		                     s.host().connect("/ws?token=garbage", {{"Origin", "http://evil.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		ConnectionId ok = s.host().connect(path, {{"Origin", "http://ok.example"}}, "10.1.0.1:1");
		CPPUNIT_ASSERT(ok != 0);
		ConnectionId none = s.host().connect(path, {}, "10.1.0.1:2");
		CPPUNIT_ASSERT(none != 0);
		ConnectionId third = s.host().connect(path, {}, "10.1.0.1:3");
		CPPUNIT_ASSERT(third != 0);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect(path, {}, "10.1.0.1:4"));
		CPPUNIT_ASSERT_EQUAL(429, s.host().lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(errorBody("Too many requests"), s.host().lastRejectBody());
		CPPUNIT_ASSERT(s.host().connect(path, {}, "10.1.0.2:1") != 0); // per IP
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.host().connect(path, {}, "10.1.0.1:5") != 0);
	}

	void testTokenExpiryOnLiveSocket()
	{
		// Case 36: with ws.close_on_token_expiry a session closes with 4001 "Token expired" once
		// its token's exp (plus the leeway, 0 here) has passed; without it the token is checked
		// at connect only. The token expires now (wall clock), so it is valid at connect.
		Server& on = server({{"ws.close_on_token_expiry", "true"}, {"jwt_leeway", "0"}});
		Server& off = server({{"jwt_leeway", "0"}});
		User alice = on.registerUser("alice");
		User bob = off.registerUser("bob");
		auto connectExpiring = [](Server& s, const User& user) {
			for (int attempt = 0; attempt < 3; ++attempt)
			{
				const std::int64_t now = nowSeconds();
				ConnectionId c =
				    s.host().connect("/ws?token=" + mint(SECRET, user.id, user.name, "access", now - 900, now));
				if (s.host().isOpen(c))
					return c;
				// The second turned between minting and connecting: try again.
			}
			throw std::runtime_error("could not connect with a token expiring now");
		};
		ConnectionId expiring = connectExpiring(on, alice);
		ConnectionId lasting = on.open(alice);
		on.drain({expiring});
		ConnectionId kept = connectExpiring(off, bob);
		off.drain({kept});
		// Tokens are checked against the wall clock: a token is valid through its exp second, so
		// wait (at most about a second) until that second has passed, then let the timer run.
		const std::int64_t connectedAt = nowSeconds();
		for (int i = 0; i < 40 && nowSeconds() <= connectedAt; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		on.host().advance(1000);
		off.host().advance(1000);
		EXPECT_CLOSE(on, expiring, 4001, "Token expired");
		CPPUNIT_ASSERT(on.host().isOpen(lasting));
		EXPECT_QUIET(on, lasting);
		CPPUNIT_ASSERT(off.host().isOpen(kept));
		EXPECT_QUIET(off, kept);
	}

	void testStoppingClosesEverySession()
	{
		// Case 38 and §5.6: 1001 "Server shutting down" for every session, and no presence or voice
		// broadcasts on the way out.
		Server& s = server();
		World w = makeWorld(s);
		ConnectionId a = s.open(w.alice);
		ConnectionId b1 = s.open(w.bob);
		ConnectionId b2 = s.open(w.bob);
		ConnectionId c = s.host().connect("/api/ws?token=" + w.carol.access);
		EXPECT_STATUS(s.send("POST", "/channels/" + w.voice + "/voice", "", w.bob.access), 201);
		s.drain({a, b1, b2, c});
		s.stop();
		for (ConnectionId id : {a, b1, b2, c})
		{
			EXPECT_CLOSE(s, id, 1001, "Server shutting down");
			CPPUNIT_ASSERT(s.frames(id).empty());
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.host().openConnections());
	}


	// --- reload (SIGHUP): Plugin::reconfigure ---------------------------------------------------

	void testReloadOrigins()
	{
		Server& s = server({{"cors_origins", "http://a.example"}, {"ws.allowed_origins", "http://ok.example"}});
		User alice = s.registerUser("alice");
		const std::string path = "/ws?token=" + alice.access;
		ConnectionId before = s.open(alice);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect(path, {{"Origin", "http://new.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT(!hasHeader(s.send("GET", "/health", "", "", {{"Origin", "http://b.example"}}),
		                          "Access-Control-Allow-Origin"));

		ReconfigureResult result =
		    s.reconfigure({{"cors_origins", "http://b.example"}, {"ws.allowed_origins", "http://new.example"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		ConnectionId fresh = s.host().connect(path, {{"Origin", "http://new.example"}});
		CPPUNIT_ASSERT(fresh != 0);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect(path, {{"Origin", "http://ok.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(std::string("http://b.example"),
		                     headerOf(s.send("GET", "/health", "", "", {{"Origin", "http://b.example"}}),
		                              "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!hasHeader(s.send("GET", "/health", "", "", {{"Origin", "http://a.example"}}),
		                          "Access-Control-Allow-Origin"));
		// The session opened under the old list is kept and served.
		CPPUNIT_ASSERT(s.host().isOpen(before));
		s.drain({before});
		EXPECT_QUIET(s, before);
	}

	void testReloadAuthRateKeepsLevel()
	{
		// /auth/refresh with an empty body is refused (400) after the limit, cheaply.
		Server& s = server({{"auth_rate_limit.per_second", "1"}, {"auth_rate_limit.burst", "2"}});
		auto limited = [&s](const std::string& remote) {
			return s.send("POST", "/auth/refresh", "{}", "", {}, remote).status == 429;
		};
		CPPUNIT_ASSERT(!limited("10.0.0.1:1"));
		CPPUNIT_ASSERT(!limited("10.0.0.1:2"));
		CPPUNIT_ASSERT(limited("10.0.0.1:3"));

		ReconfigureResult result = s.reconfigure({{"auth_rate_limit.burst", "5"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		// The empty bucket stays empty (no refill by the reload); a new client gets the new burst.
		CPPUNIT_ASSERT(limited("10.0.0.1:4"));
		for (int i = 0; i < 5; ++i)
			CPPUNIT_ASSERT(!limited("10.0.0.2:" + std::to_string(i)));
		CPPUNIT_ASSERT(limited("10.0.0.2:9"));
		s.host().advance(1000);
		CPPUNIT_ASSERT(!limited("10.0.0.1:5"));
		CPPUNIT_ASSERT(limited("10.0.0.1:6"));

		// Tightened: the next request of a client with tokens left sees the smaller burst.
		CPPUNIT_ASSERT(!limited("10.0.0.3:1"));
		result = s.reconfigure({{"auth_rate_limit.burst", "1"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT(!limited("10.0.0.3:2"));
		CPPUNIT_ASSERT(limited("10.0.0.3:3"));
		// Off: nobody is limited.
		result = s.reconfigure({{"auth_rate_limit.per_second", "0"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		for (int i = 0; i < 5; ++i)
			CPPUNIT_ASSERT(!limited("10.0.0.1:7"));
	}

	void testReloadGatewayRateKeepsLevel()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		for (int i = 0; i < 60; ++i)
			s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), s.frames(c).size()); // the default burst, now used up

		ReconfigureResult result = s.reconfigure({{"ws.rate.per_second", "5"}, {"ws.rate.burst", "100"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT(s.frames(c).empty()); // still empty: the reload gave nothing back
		s.host().advance(1000);
		for (int i = 0; i < 6; ++i)
			s.host().deliver(c, HEARTBEAT);
		EXPECT_FRAMES(Frames(5, ACK), s.frames(c)); // the new rate: 5 a second
		CPPUNIT_ASSERT(s.host().isOpen(c));
		// A new session starts with the new burst.
		ConnectionId d = s.open(alice);
		s.drain({c});
		for (int i = 0; i < 101; ++i)
			s.host().deliver(d, HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(100), s.frames(d).size());
	}

	void testReloadCapsAndReady()
	{
		Server& s = server({{"ws.max_connections", "1"}, {"ws.max_sessions_per_user", "5"}});
		World w = makeWorld(s);
		ConnectionId a1 = s.open(w.alice);
		ConnectionId refused = s.host().connect("/ws?token=" + w.bob.access);
		EXPECT_CLOSE(s, refused, 1013, "Server busy");

		ReconfigureResult result = s.reconfigure(
		    {{"ws.max_connections", "3"}, {"ws.max_sessions_per_user", "1"}, {"ws.heartbeat_interval", "45000"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		ConnectionId b = s.host().connect("/ws?token=" + w.bob.access);
		std::vector<std::string> ready = s.frames(b);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ready.size());
		CPPUNIT_ASSERT_EQUAL(std::string("45000"), jsonOf(jsonOf(ready[0], "d"), "heartbeat_interval"));
		// The per-user cap of one: alice's second session closes her first.
		s.drain({a1});
		ConnectionId a2 = s.open(w.alice);
		EXPECT_CLOSE(s, a1, 1000, "Session limit reached");
		s.drain({a2, b});
		EXPECT_QUIET(s, a2);
		EXPECT_QUIET(s, b);
	}

	void testReloadTokenLifetimes()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		auto lifetime = [](const std::string& token) {
			Poco::JSON::Object::Ptr claims = parseObject(base64UrlDecode(tokenParts(token).at(1)));
			return claims->getValue<std::int64_t>("exp") - claims->getValue<std::int64_t>("iat");
		};
		CPPUNIT_ASSERT_EQUAL(std::int64_t(900), lifetime(alice.access));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(604800), lifetime(alice.refresh));

		ReconfigureResult result = s.reconfigure({{"access_token_ttl", "60"}, {"refresh_token_ttl", "3600"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		HttpResponse login = s.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})");
		EXPECT_STATUS(login, 200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(60), lifetime(stringField(login.body, "access_token")));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3600), lifetime(stringField(login.body, "refresh_token")));
		// Tokens issued before stay valid for what they were issued with.
		EXPECT_STATUS(s.send("GET", "/users/@me", "", alice.access), 200);
		HttpResponse refreshed = s.send("POST", "/auth/refresh", R"({"refresh_token":")" + alice.refresh + "\"}");
		EXPECT_STATUS(refreshed, 200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(60), lifetime(stringField(refreshed.body, "access_token")));
	}

	void testReloadCloseOnTokenExpiry()
	{
		// Turned on by a reload: the expiry timer starts and closes a session whose token has
		// passed its exp; turned off again, it stops.
		Server& s = server({{"jwt_leeway", "0"}});
		User alice = s.registerUser("alice");
		ConnectionId expiring = 0;
		for (int attempt = 0; attempt < 3 && expiring == 0; ++attempt)
		{
			const std::int64_t now = nowSeconds();
			ConnectionId c =
			    s.host().connect("/ws?token=" + mint(SECRET, alice.id, alice.name, "access", now - 900, now));
			if (s.host().isOpen(c))
				expiring = c;
		}
		CPPUNIT_ASSERT(expiring != 0);
		ConnectionId lasting = s.open(alice);
		s.drain({expiring});
		const std::int64_t connectedAt = nowSeconds();
		for (int i = 0; i < 40 && nowSeconds() <= connectedAt; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.host().isOpen(expiring)); // off: checked at connect only

		ReconfigureResult result = s.reconfigure({{"ws.close_on_token_expiry", "true"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		EXPECT_CLOSE(s, expiring, 4001, "Token expired");
		CPPUNIT_ASSERT(s.host().isOpen(lasting));
		result = s.reconfigure({{"ws.close_on_token_expiry", "false"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		s.drain({lasting});
		EXPECT_QUIET(s, lasting);
	}

	void testReloadPasswordCost()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		auto hashOf = [&s](const std::string& id) {
			return valueAsString(s.sql("SELECT password_hash FROM users WHERE id = ?", {id}).rows.at(0).at(0));
		};
		CPPUNIT_ASSERT(hashOf(alice.id).find(",t=1,") != std::string::npos);
		ReconfigureResult result = s.reconfigure({{"password.opslimit", "2"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		User bob = s.registerUser("bob");
		CPPUNIT_ASSERT(hashOf(bob.id).find(",t=2,") != std::string::npos);
		// A stored hash is redone at the new cost on its next login.
		EXPECT_STATUS(s.send("POST", "/auth/login", R"({"username":"alice","password":"password123"})"), 200);
		CPPUNIT_ASSERT(hashOf(alice.id).find(",t=2,") != std::string::npos);
		EXPECT_ERROR(s.send("POST", "/auth/login", R"({"username":"nobody","password":"password123"})"), 401,
		             "Invalid username or password");
	}

	void testReloadWebRoot()
	{
		Test::TempDir tmp("together-reload");
		tmp.writeFile("one/index.html", "<p>one</p>");
		tmp.writeFile("two/index.html", "<p>two</p>");
		const std::string one = tmp.path() + "/one", two = tmp.path() + "/two", missing = tmp.path() + "/missing";
		Server& s = server();
		const HeaderList browser = {{"Accept", "text/html"}};
		EXPECT_ERROR(s.send("GET", "/", "", "", browser), 404, "Not found");

		ReconfigureResult result = s.reconfigure({{"web_root", one.c_str()}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(std::string("<p>one</p>"), s.send("GET", "/", "", "", browser).body);
		// A directory that cannot be served refuses the whole reload: the old root stays.
		result = s.reconfigure({{"web_root", missing.c_str()}, {"cors_origins", "http://b.example"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("web_root") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::string("<p>one</p>"), s.send("GET", "/", "", "", browser).body);
		CPPUNIT_ASSERT_EQUAL(std::string("*"),
		                     headerOf(s.send("GET", "/health", "", "", {{"Origin", "http://b.example"}}),
		                              "Access-Control-Allow-Origin"));
		result = s.reconfigure({{"web_root", two.c_str()}, {"cors_origins", "*"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(std::string("<p>two</p>"), s.send("GET", "/", "", "", browser).body);
		result = s.reconfigure({{"web_root", ""}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		EXPECT_ERROR(s.send("GET", "/", "", "", browser), 404, "Not found");
	}

	void testReloadNeedsRestart()
	{
		Server& s = server();
		User alice = s.registerUser("alice");
		ConnectionId c = s.open(alice);
		ReconfigureResult result = s.reconfigure({{"jwt_secret", "another-secret-of-at-least-32-bytes-long"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("jwt_secret") != std::string::npos);
		// Still the old secret: tokens issued before keep working, the session stays.
		EXPECT_STATUS(s.send("GET", "/users/@me", "", alice.access), 200);
		CPPUNIT_ASSERT(s.host().connect("/ws?token=" + alice.access) != 0);
		s.drain({c});
		EXPECT_QUIET(s, c);

		Server& t = server();
		result = t.reconfigure({{"ws.max_frame_bytes", "1024"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("ws.max_frame_bytes") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("endpoint") != std::string::npos);
	}

	void testReloadMixedAppliesNothing()
	{
		Server& s = server({{"cors_origins", "http://a.example"}, {"ws.rate.burst", "60"}});
		User alice = s.registerUser("alice");
		ReconfigureResult result = s.reconfigure(
		    {{"cors_origins", "http://b.example"}, {"ws.rate.burst", "2"}, {"ws.send_queue.max_frames", "10"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("ws.send_queue.max_frames") != std::string::npos);
		// Neither live key changed.
		CPPUNIT_ASSERT_EQUAL(std::string("http://a.example"),
		                     headerOf(s.send("GET", "/health", "", "", {{"Origin", "http://a.example"}}),
		                              "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!hasHeader(s.send("GET", "/health", "", "", {{"Origin", "http://b.example"}}),
		                          "Access-Control-Allow-Origin"));
		ConnectionId c = s.open(alice);
		for (int i = 0; i < 60; ++i)
			s.host().deliver(c, HEARTBEAT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(60), s.frames(c).size());
	}

private:
	Server& server(Server::Settings settings = {}, Testing::SqliteTestStorage* storage = nullptr)
	{
		_servers.push_back(std::make_unique<Server>(settings, storage));
		return *_servers.back();
	}

	std::unique_ptr<Testing::SqliteTestStorage> _storage; // outlives the servers using it
	std::vector<std::unique_ptr<Server>> _servers;
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherPluginTest);
