//
// TogetherTestSupport.cpp
//


#include "TogetherTestSupport.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cppunit/TestAssert.h>
#include <cstdio>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Together {


namespace {


constexpr int HTTP_TIMEOUT_MS = 15000;
/// The keys of a VoiceState (§5), sorted.
const std::vector<std::string> VOICE_STATE_KEYS = {"channel_id", "deafened",    "joined_at",   "muted",   "self_deaf",
                                                   "self_mute",  "server_deaf", "server_mute", "user_id", "username"};
const char* const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


std::string base64UrlEncode(const std::string& bytes)
/// RFC 4648 §5 without padding.
{
	std::string out;
	std::size_t i = 0;
	for (; i + 2 < bytes.size(); i += 3)
	{
		unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) |
		                 (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
		out += BASE64URL_ALPHABET[(value >> 18) & 63];
		out += BASE64URL_ALPHABET[(value >> 12) & 63];
		out += BASE64URL_ALPHABET[(value >> 6) & 63];
		out += BASE64URL_ALPHABET[value & 63];
	}
	const std::size_t rest = bytes.size() - i;
	if (rest == 1)
	{
		unsigned value = static_cast<unsigned char>(bytes[i]) << 16;
		out += BASE64URL_ALPHABET[(value >> 18) & 63];
		out += BASE64URL_ALPHABET[(value >> 12) & 63];
	}
	else if (rest == 2)
	{
		unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
		out += BASE64URL_ALPHABET[(value >> 18) & 63];
		out += BASE64URL_ALPHABET[(value >> 12) & 63];
		out += BASE64URL_ALPHABET[(value >> 6) & 63];
	}
	return out;
}


std::string base64UrlDecode(const std::string& text)
/// Unpadded (or padded) base64url; a CppUnit failure on anything else.
{
	std::string out;
	unsigned value = 0;
	int bits = 0;
	for (char c : text)
	{
		if (c == '=')
			break;
		int digit = -1;
		if (c >= 'A' && c <= 'Z')
			digit = c - 'A';
		else if (c >= 'a' && c <= 'z')
			digit = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			digit = c - '0' + 52;
		else if (c == '-')
			digit = 62;
		else if (c == '_')
			digit = 63;
		if (digit < 0)
			CPPUNIT_FAIL("not base64url: " + text);
		value = (value << 6) | static_cast<unsigned>(digit);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out += static_cast<char>((value >> bits) & 0xFF);
		}
	}
	return out;
}


std::string hmacSha256(const std::string& key, const std::string& data)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
	         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length) == nullptr)
		throw std::runtime_error("HMAC-SHA-256 failed");
	return std::string(reinterpret_cast<const char*>(digest), length);
}


std::string claimsJson(const std::string& userId, const std::string& username, const std::string& tokenType,
                       std::int64_t issuedAt, std::int64_t expiresAt)
{
	return "{\"sub\":" + quote(userId) + ",\"iat\":" + std::to_string(issuedAt) +
	       ",\"exp\":" + std::to_string(expiresAt) + ",\"username\":" + quote(username) +
	       ",\"token_type\":" + quote(tokenType) + ",\"jti\":" + quote(randomUuid()) + "}";
}


std::map<std::string, Poco::Dynamic::Var> decodePart(const std::string& token, std::size_t index)
{
	std::vector<std::string> parts;
	std::size_t start = 0;
	for (;;)
	{
		const std::size_t dot = token.find('.', start);
		parts.push_back(token.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
		if (dot == std::string::npos)
			break;
		start = dot + 1;
	}
	CPPUNIT_ASSERT_MESSAGE("not a compact JWS: " + token, parts.size() == 3);
	Poco::JSON::Object::Ptr json = object(base64UrlDecode(parts[index]));
	std::map<std::string, Poco::Dynamic::Var> out;
	for (const auto& entry : *json)
		out[entry.first] = entry.second;
	return out;
}


std::string closeDescription(const WsTestClient::Message& message)
{
	if (message.opcode == WsTestClient::OPCODE_CLOSE)
	{
		if (message.payload.size() >= 2)
		{
			const int code =
			    (static_cast<unsigned char>(message.payload[0]) << 8) | static_cast<unsigned char>(message.payload[1]);
			return "close " + std::to_string(code) + " '" + message.payload.substr(2) + "'";
		}
		return "close without code";
	}
	return "opcode " + std::to_string(message.opcode);
}


std::string nextText(WsTestClient& client, int timeoutMs)
/// The next text message's payload; pongs are skipped; anything else fails.
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		WsTestClient::Message message = client.receiveMessage(deadline.remainingMs());
		if (message.timedOut())
			CPPUNIT_FAIL("no frame within " + std::to_string(timeoutMs) + " ms");
		if (message.closed())
			CPPUNIT_FAIL("connection closed instead of a frame: " + message.error);
		if (!message.ok())
			CPPUNIT_FAIL("WebSocket protocol error: " + message.error);
		if (message.opcode == WsTestClient::OPCODE_PONG || message.opcode == WsTestClient::OPCODE_PING)
			continue;
		if (message.opcode != WsTestClient::OPCODE_TEXT)
			CPPUNIT_FAIL("expected a text frame, got " + closeDescription(message));
		return message.payload;
	}
}


std::string canonical(const std::string& json)
/// Compact JSON with sorted keys (Poco's default parser keeps objects sorted).
{
	return stringify(parse(json));
}


} // namespace


void configure(TestServer& server, const TestServer::Keys& extraKeys)
{
	// The host's own errors on this listener (e.g. 413 before the plugin sees the request) are
	// JSON too, as the contract requires of every error (docs/configuration.md, json_errors).
	server.addListener("together", {{"json_errors", "true"}});
	TestServer::Keys keys = {{"jwt_secret", TEST_SECRET}, {"auth_rate_limit.per_second", "0"}};
	for (const auto& entry : extraKeys)
		keys[entry.first] = entry.second;
	TestServer::Keys written;
	for (const auto& entry : keys)
		if (!entry.second.empty())
			written.insert(entry);
	server.addPlugin("together", "together", "", written);
}


int port(TestServer& server)
{
	return server.port("together");
}


Poco::Dynamic::Var parse(const std::string& json)
{
	try
	{
		Poco::JSON::Parser parser;
		return parser.parse(json);
	}
	catch (const Poco::Exception& error)
	{
		CPPUNIT_FAIL("not JSON (" + error.displayText() + "): " + json);
	}
	catch (const std::exception& error)
	{
		CPPUNIT_FAIL(std::string("not JSON (") + error.what() + "): " + json);
	}
	return Poco::Dynamic::Var();
}


Poco::JSON::Object::Ptr object(const std::string& json)
{
	Poco::Dynamic::Var value = parse(json);
	if (value.type() != typeid(Poco::JSON::Object::Ptr))
		CPPUNIT_FAIL("not a JSON object: " + json);
	return value.extract<Poco::JSON::Object::Ptr>();
}


Poco::JSON::Array::Ptr array(const std::string& json)
{
	Poco::Dynamic::Var value = parse(json);
	if (value.type() != typeid(Poco::JSON::Array::Ptr))
		CPPUNIT_FAIL("not a JSON array: " + json);
	return value.extract<Poco::JSON::Array::Ptr>();
}


std::string stringify(const Poco::Dynamic::Var& value)
{
	std::ostringstream out;
	Poco::JSON::Stringifier::condense(value, out);
	return out.str();
}


std::string quote(const std::string& text)
{
	std::string out = "\"";
	for (char c : text)
	{
		const unsigned char byte = static_cast<unsigned char>(c);
		switch (c)
		{
			case '"':
				out += "\\\"";
				break;
			case '\\':
				out += "\\\\";
				break;
			case '\n':
				out += "\\n";
				break;
			case '\r':
				out += "\\r";
				break;
			case '\t':
				out += "\\t";
				break;
			case '\b':
				out += "\\b";
				break;
			case '\f':
				out += "\\f";
				break;
			default:
				if (byte < 0x20)
				{
					char buffer[8];
					std::snprintf(buffer, sizeof(buffer), "\\u%04x", byte);
					out += buffer;
				}
				else
					out += c;
		}
	}
	return out + "\"";
}


std::string text(const Poco::JSON::Object::Ptr& json, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("no object to read '" + key + "' from", json);
	CPPUNIT_ASSERT_MESSAGE("no string '" + key + "' in " + stringify(json),
	                       json->has(key) && json->get(key).isString());
	return json->getValue<std::string>(key);
}


std::string randomUuid()
{
	unsigned char bytes[16];
	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		throw std::runtime_error("RAND_bytes failed");
	bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);
	bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);
	static const char* HEX = "0123456789abcdef";
	std::string out;
	for (int i = 0; i < 16; ++i)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out += '-';
		out += HEX[bytes[i] >> 4];
		out += HEX[bytes[i] & 0x0F];
	}
	return out;
}


std::int64_t nowSeconds()
{
	return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


HttpResponse call(TestServer& server, const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body, const std::string& contentType)
{
	HttpTestClient::Headers headers;
	if (!token.empty())
		headers.emplace_back("Authorization", "Bearer " + token);
	if (!body.empty() && !contentType.empty())
		headers.emplace_back("Content-Type", contentType);
	return HttpTestClient::request(LOOPBACK, port(server), method, path, headers, body, HTTP_TIMEOUT_MS);
}


void expectError(const HttpResponse& response, int status, const std::string& message)
{
	const std::string context = "HTTP " + std::to_string(response.status) + " " + response.body;
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, status, response.status);
	const std::string type = response.header("Content-Type");
	CPPUNIT_ASSERT_MESSAGE("Content-Type '" + type + "' of " + context, type.rfind("application/json", 0) == 0);
	Poco::JSON::Object::Ptr body = object(response.body);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::size_t(1), body->size());
	CPPUNIT_ASSERT_MESSAGE("no string 'error' in " + context, body->has("error") && body->get("error").isString());
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, message, body->getValue<std::string>("error"));
}


std::string uniqueName(const std::string& prefix)
{
	static std::atomic<unsigned> counter(0);
	const std::string suffix = "_" + std::to_string(++counter) + "_" + std::to_string(::getpid());
	const std::size_t room = suffix.size() < 32 ? 32 - suffix.size() : 0;
	return prefix.substr(0, room) + suffix;
}


User registerUser(TestServer& server, const std::string& prefix, const std::string& password)
{
	User user;
	user.username = uniqueName(prefix);
	HttpResponse response = call(server, "POST", "/auth/register", "",
	                             "{\"username\":" + quote(user.username) + ",\"password\":" + quote(password) + "}");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("register " + user.username + ": " + response.body, 201, response.status);
	Poco::JSON::Object::Ptr body = object(response.body);
	CPPUNIT_ASSERT_MESSAGE("AuthResponse: " + response.body, body->has("access_token") && body->has("refresh_token") &&
	                                                             !body->getObject("user").isNull());
	user.accessToken = body->getValue<std::string>("access_token");
	user.refreshToken = body->getValue<std::string>("refresh_token");
	user.id = body->getObject("user")->getValue<std::string>("id");
	return user;
}


User login(TestServer& server, const User& user, const std::string& password)
{
	HttpResponse response = call(server, "POST", "/auth/login", "",
	                             "{\"username\":" + quote(user.username) + ",\"password\":" + quote(password) + "}");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("login " + user.username + ": " + response.body, 200, response.status);
	Poco::JSON::Object::Ptr body = object(response.body);
	CPPUNIT_ASSERT_MESSAGE("no user object in the login answer " + response.body, body->getObject("user"));
	User out;
	out.username = user.username;
	out.id = text(body->getObject("user"), "id");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("the logged-in user's id: " + response.body, user.id, out.id);
	out.accessToken = text(body, "access_token");
	out.refreshToken = text(body, "refresh_token");
	return out;
}


std::string mintToken(const std::string& userId, const std::string& username, const std::string& tokenType,
                      std::int64_t issuedAt, std::int64_t expiresAt, const std::string& secret)
{
	const std::string signingInput = base64UrlEncode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." +
	                                 base64UrlEncode(claimsJson(userId, username, tokenType, issuedAt, expiresAt));
	return signingInput + "." + base64UrlEncode(hmacSha256(secret, signingInput));
}


std::string mintUnsigned(const std::string& userId, const std::string& username)
{
	const std::int64_t now = nowSeconds();
	return base64UrlEncode("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." +
	       base64UrlEncode(claimsJson(userId, username, "access", now, now + 900)) + ".";
}


std::map<std::string, Poco::Dynamic::Var> claimsOf(const std::string& token)
{
	return decodePart(token, 1);
}


std::map<std::string, Poco::Dynamic::Var> headerOf(const std::string& token)
{
	return decodePart(token, 0);
}


std::string createServer(TestServer& server, const User& owner, const std::string& name)
{
	HttpResponse response = call(server, "POST", "/servers", owner.accessToken, "{\"name\":" + quote(name) + "}");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("create server: " + response.body, 201, response.status);
	return object(response.body)->getValue<std::string>("id");
}


void joinServer(TestServer& server, const User& user, const std::string& serverId)
{
	HttpResponse response = call(server, "POST", "/servers/" + serverId + "/join", user.accessToken);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("join server: " + response.body, 201, response.status);
}


std::string createChannel(TestServer& server, const User& owner, const std::string& serverId, const std::string& name,
                          const std::string& type)
{
	HttpResponse response = call(server, "POST", "/servers/" + serverId + "/channels", owner.accessToken,
	                             "{\"name\":" + quote(name) + ",\"type\":" + quote(type) + "}");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("create channel: " + response.body, 201, response.status);
	return object(response.body)->getValue<std::string>("id");
}


Poco::JSON::Object::Ptr postMessage(TestServer& server, const User& author, const std::string& channelId,
                                    const std::string& content)
{
	HttpResponse response = call(server, "POST", "/channels/" + channelId + "/messages", author.accessToken,
	                             "{\"content\":" + quote(content) + "}");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("post message: " + response.body, 201, response.status);
	return object(response.body);
}


Poco::JSON::Object::Ptr joinVoice(TestServer& server, const User& user, const std::string& channelId,
                                  const std::string& body)
{
	HttpResponse response = call(server, "POST", "/channels/" + channelId + "/voice", user.accessToken, body);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("join voice: " + response.body, 201, response.status);
	Poco::JSON::Object::Ptr state = object(response.body);
	std::vector<std::string> names = state->getNames();
	std::sort(names.begin(), names.end());
	CPPUNIT_ASSERT_MESSAGE("the keys of the VoiceState " + response.body, names == VOICE_STATE_KEYS);
	return state;
}


void leaveVoice(TestServer& server, const User& user, const std::string& channelId)
{
	HttpResponse response = call(server, "DELETE", "/channels/" + channelId + "/voice", user.accessToken);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("leave voice: " + response.body, 204, response.status);
}


Session openSession(TestServer& server, const User& user, const std::string& path)
{
	Session session;
	session.client.setAutoPong(true);
	HttpResponse response = session.client.connect(LOOPBACK, port(server), path + "?token=" + user.accessToken);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("upgrade " + path + ": " + response.rawHead + response.body, 101, response.status);
	const std::string text = nextText(session.client, WAIT_MS);
	Poco::JSON::Object::Ptr frame = object(text);
	CPPUNIT_ASSERT_MESSAGE("first frame is not READY: " + text, frame->has("op") && frame->get("op").isString() &&
	                                                                frame->getValue<std::string>("op") == "DISPATCH" &&
	                                                                frame->has("t") && frame->get("t").isString() &&
	                                                                frame->getValue<std::string>("t") == "READY");
	session.ready = frame->getObject("d");
	CPPUNIT_ASSERT_MESSAGE("READY without an object d: " + text, !session.ready.isNull());
	CPPUNIT_ASSERT_MESSAGE("READY without session_id: " + text,
	                       session.ready->has("session_id") && session.ready->get("session_id").isString());
	session.sessionId = session.ready->getValue<std::string>("session_id");
	return session;
}


Poco::JSON::Object::Ptr nextFrame(WsTestClient& client, int timeoutMs)
{
	return object(nextText(client, timeoutMs));
}


Poco::JSON::Object::Ptr nextDispatch(WsTestClient& client, const std::string& type, int timeoutMs)
{
	const std::string text = nextText(client, timeoutMs);
	Poco::JSON::Object::Ptr frame = object(text);
	CPPUNIT_ASSERT_MESSAGE("expected DISPATCH " + type + ", got " + text,
	                       frame->has("op") && frame->get("op").isString() &&
	                           frame->getValue<std::string>("op") == "DISPATCH" && frame->has("t") &&
	                           frame->get("t").isString() && frame->getValue<std::string>("t") == type);
	Poco::JSON::Object::Ptr d = frame->getObject("d");
	CPPUNIT_ASSERT_MESSAGE("DISPATCH " + type + " without an object d: " + text, !d.isNull());
	return d;
}


void expectPresence(WsTestClient& client, const std::string& userId, const std::string& status, int timeoutMs)
{
	Poco::JSON::Object::Ptr d = nextDispatch(client, "PRESENCE_UPDATE", timeoutMs);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(
	    "PRESENCE_UPDATE d",
	    canonical("{\"user_id\":" + quote(userId) + ",\"status\":" + quote(status) + ",\"custom_status\":null}"),
	    stringify(d));
}


void closeSession(WsTestClient& client)
{
	client.sendClose(1000);
	WsTestClient::CloseInfo info = client.expectClose(WAIT_MS);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("the echo of a client close 1000", 1000, info.code);
	CPPUNIT_ASSERT_MESSAGE("frames before the close echo", info.skippedFrames.empty());
}


void expectNothingBut(WsTestClient& client, const std::string& sentinelReply)
{
	client.sendText("{\"op\":\"HEARTBEAT\"}");
	const std::string text = nextText(client, WAIT_MS);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("the frame after the sentinel HEARTBEAT", canonical(sentinelReply), canonical(text));
}


} // namespace Together
} // namespace Test
} // namespace Switchboard
