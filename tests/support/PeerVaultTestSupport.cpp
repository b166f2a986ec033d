//
// PeerVaultTestSupport.cpp
//


#include "PeerVaultTestSupport.h"
#include "Deadline.h"
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <cctype>
#include <chrono>
#include <cppunit/TestAssert.h>
#include <cstdio>
#include <ctime>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex>
#include <sstream>
#include <stdexcept>


namespace Switchboard {
namespace Test {
namespace PeerVault {


namespace {


constexpr int HTTP_TIMEOUT_MS = 10000;
const char* const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const char* const TIMESTAMP_PATTERN = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
const char* const CLIENT_ID_PATTERN = "[0-9a-f]{32}";


std::string hmacSha256(const std::string& key, const std::string& data)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
	         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length) == nullptr)
		throw std::runtime_error("HMAC-SHA-256 failed");
	return std::string(reinterpret_cast<const char*>(digest), length);
}


std::string frameName(const WsTestClient::Message& message)
{
	switch (message.opcode)
	{
		case WsTestClient::OPCODE_TEXT:
			return "text frame '" + message.payload.substr(0, 300) + "'";
		case WsTestClient::OPCODE_BINARY:
			return "binary frame of " + std::to_string(message.payload.size()) + " bytes";
		case WsTestClient::OPCODE_CLOSE:
			if (message.payload.size() >= 2)
			{
				const int code = (static_cast<unsigned char>(message.payload[0]) << 8) |
				                 static_cast<unsigned char>(message.payload[1]);
				return "close frame " + std::to_string(code) + " '" + message.payload.substr(2) + "'";
			}
			return "close frame without a code";
		case WsTestClient::OPCODE_PING:
			return "ping frame";
		case WsTestClient::OPCODE_PONG:
			return "pong frame";
		default:
			return "frame with opcode " + std::to_string(message.opcode);
	}
}


// A strict recursive-descent JSON reader (RFC 8259): validates only.
class StrictJson
{
public:
	explicit StrictJson(const std::string& text):
	    _text(text),
	    _position(0)
	{
	}

	bool run(std::string& why)
	{
		skipSpace();
		if (!value(0))
		{
			why = _why + " at offset " + std::to_string(_position);
			return false;
		}
		skipSpace();
		if (_position != _text.size())
		{
			why = "trailing content at offset " + std::to_string(_position);
			return false;
		}
		return true;
	}

private:
	bool fail(const std::string& why)
	{
		_why = why;
		return false;
	}

	void skipSpace()
	{
		while (_position < _text.size() && (_text[_position] == ' ' || _text[_position] == '\t' ||
		                                    _text[_position] == '\n' || _text[_position] == '\r'))
			++_position;
	}

	bool literal(const char* word)
	{
		const std::string expected(word);
		if (_text.compare(_position, expected.size(), expected) != 0)
			return fail("bad literal");
		_position += expected.size();
		return true;
	}

	bool digits()
	{
		const std::size_t start = _position;
		while (_position < _text.size() && _text[_position] >= '0' && _text[_position] <= '9')
			++_position;
		return _position > start;
	}

	bool number()
	{
		if (_text[_position] == '-')
			++_position;
		if (_position >= _text.size())
			return fail("truncated number");
		if (_text[_position] == '0')
			++_position;
		else if (!digits())
			return fail("bad number");
		if (_position < _text.size() && _text[_position] == '.')
		{
			++_position;
			if (!digits())
				return fail("bad fraction");
		}
		if (_position < _text.size() && (_text[_position] == 'e' || _text[_position] == 'E'))
		{
			++_position;
			if (_position < _text.size() && (_text[_position] == '+' || _text[_position] == '-'))
				++_position;
			if (!digits())
				return fail("bad exponent");
		}
		return true;
	}

	bool string()
	{
		++_position; // the opening quote
		while (_position < _text.size())
		{
			const unsigned char c = static_cast<unsigned char>(_text[_position]);
			if (c == '"')
			{
				++_position;
				return true;
			}
			if (c < 0x20)
				return fail("control character in a string");
			if (c == '\\')
			{
				++_position;
				if (_position >= _text.size())
					break;
				const char escape = _text[_position];
				if (escape == 'u')
				{
					for (int i = 1; i <= 4; ++i)
					{
						if (_position + i >= _text.size() ||
						    !std::isxdigit(static_cast<unsigned char>(_text[_position + i])))
							return fail("bad \\u escape");
					}
					_position += 5;
					continue;
				}
				if (std::string("\"\\/bfnrt").find(escape) == std::string::npos)
					return fail("bad escape");
				++_position;
				continue;
			}
			++_position;
		}
		return fail("unterminated string");
	}

	bool value(int depth)
	{
		if (depth > 64)
			return fail("nesting too deep");
		if (_position >= _text.size())
			return fail("missing value");
		const char c = _text[_position];
		if (c == '{')
		{
			++_position;
			skipSpace();
			if (_position < _text.size() && _text[_position] == '}')
			{
				++_position;
				return true;
			}
			for (;;)
			{
				skipSpace();
				if (_position >= _text.size() || _text[_position] != '"')
					return fail("expected a member name");
				if (!string())
					return false;
				skipSpace();
				if (_position >= _text.size() || _text[_position] != ':')
					return fail("expected ':'");
				++_position;
				skipSpace();
				if (!value(depth + 1))
					return false;
				skipSpace();
				if (_position < _text.size() && _text[_position] == ',')
				{
					++_position;
					continue;
				}
				if (_position < _text.size() && _text[_position] == '}')
				{
					++_position;
					return true;
				}
				return fail("expected ',' or '}'");
			}
		}
		if (c == '[')
		{
			++_position;
			skipSpace();
			if (_position < _text.size() && _text[_position] == ']')
			{
				++_position;
				return true;
			}
			for (;;)
			{
				skipSpace();
				if (!value(depth + 1))
					return false;
				skipSpace();
				if (_position < _text.size() && _text[_position] == ',')
				{
					++_position;
					continue;
				}
				if (_position < _text.size() && _text[_position] == ']')
				{
					++_position;
					return true;
				}
				return fail("expected ',' or ']'");
			}
		}
		if (c == '"')
			return string();
		if (c == 't')
			return literal("true");
		if (c == 'f')
			return literal("false");
		if (c == 'n')
			return literal("null");
		if (c == '-' || (c >= '0' && c <= '9'))
			return number();
		return fail("unexpected character");
	}

	const std::string& _text;
	std::size_t _position;
	std::string _why;
};


} // namespace


std::string key(const std::string& contractKey)
{
	return "websocket." + contractKey;
}


void configure(TestServer& server, const TestServer::Keys& extraKeys)
{
	// As the shipped configuration: the host's own errors on this listener are JSON too.
	server.addListener("peervault", {{"json_errors", "true"}, {"serve_while_draining", "true"}});
	TestServer::Keys keys = {{key("metrics.interval"), "1s"}, {key("auth.tokens"), PUB_TOKENS_JSON}};
	for (const auto& entry : extraKeys)
		keys[entry.first] = entry.second;
	TestServer::Keys written;
	for (const auto& entry : keys)
	{
		if (!entry.second.empty())
			written.insert(entry);
	}
	server.addPlugin("peervault", "peervault", "", written);
	server.addSection("environment", {{"listener.peervault.address", "PEERVAULT_WS_HOST"},
	                                  {"listener.peervault.port", "PEERVAULT_WS_PORT"},
	                                  {"plugin.peervault.websocket.cors.origins", "PEERVAULT_WS_CORS_ORIGINS"},
	                                  {"plugin.peervault.websocket.timeouts.read", "PEERVAULT_WS_READ_TIMEOUT"},
	                                  {"plugin.peervault.websocket.timeouts.write", "PEERVAULT_WS_WRITE_TIMEOUT"},
	                                  {"plugin.peervault.websocket.timeouts.ping_period", "PEERVAULT_WS_PING_PERIOD"},
	                                  {"plugin.peervault.websocket.timeouts.pong_wait", "PEERVAULT_WS_PONG_WAIT"}});
}


int port(TestServer& server)
{
	return server.port("peervault");
}


std::unique_ptr<TestServer> startServer(const TestServer::Keys& extraKeys, const TestServer::Keys& environment)
{
	std::unique_ptr<TestServer> server(new TestServer());
	configure(*server, extraKeys);
	for (const auto& entry : environment)
		server->setEnvironment(entry.first, entry.second);
	server->start();
	return server;
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
		CPPUNIT_FAIL("not JSON (" + error.displayText() + "): " + json.substr(0, 500));
	}
	catch (const std::exception& error)
	{
		CPPUNIT_FAIL(std::string("not JSON (") + error.what() + "): " + json.substr(0, 500));
	}
	return Poco::Dynamic::Var();
}


Poco::JSON::Object::Ptr object(const std::string& json)
{
	Poco::Dynamic::Var value = parse(json);
	if (value.type() != typeid(Poco::JSON::Object::Ptr))
		CPPUNIT_FAIL("not a JSON object: " + json.substr(0, 500));
	return value.extract<Poco::JSON::Object::Ptr>();
}


Poco::JSON::Object::Ptr objectAt(const Poco::JSON::Object::Ptr& parent, const std::string& name,
                                 const std::string& context)
{
	CPPUNIT_ASSERT_MESSAGE("no object '" + name + "' in " + context, parent->has(name) && parent->isObject(name));
	return parent->getObject(name);
}


std::string stringAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context)
{
	CPPUNIT_ASSERT_MESSAGE("no string '" + name + "' in " + context, parent->has(name) && parent->get(name).isString());
	return parent->getValue<std::string>(name);
}


std::int64_t integerAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context)
{
	CPPUNIT_ASSERT_MESSAGE("no integer '" + name + "' in " + context,
	                       parent->has(name) && parent->get(name).isInteger());
	return parent->getValue<std::int64_t>(name);
}


double numberAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context)
{
	CPPUNIT_ASSERT_MESSAGE("no number '" + name + "' in " + context,
	                       parent->has(name) && parent->get(name).isNumeric());
	return parent->getValue<double>(name);
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
		if (c == '"')
			out += "\\\"";
		else if (c == '\\')
			out += "\\\\";
		else if (byte < 0x20)
		{
			char buffer[8];
			std::snprintf(buffer, sizeof(buffer), "\\u%04x", byte);
			out += buffer;
		}
		else
			out += c;
	}
	return out + "\"";
}


std::set<std::string> keysOf(const Poco::JSON::Object::Ptr& object)
{
	std::set<std::string> keys;
	for (const auto& entry : *object)
		keys.insert(entry.first);
	return keys;
}


namespace {


std::string joined(const std::set<std::string>& keys)
{
	std::string out;
	for (const std::string& key : keys)
		out += (out.empty() ? "" : ",") + key;
	return "{" + out + "}";
}


} // namespace


void expectKeys(const Poco::JSON::Object::Ptr& object, const std::set<std::string>& keys, const std::string& context)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE("keys of " + context, joined(keys), joined(keysOf(object)));
}


void expectHasKeys(const Poco::JSON::Object::Ptr& object, const std::set<std::string>& keys, const std::string& context)
{
	for (const std::string& name : keys)
		CPPUNIT_ASSERT_MESSAGE("no key '" + name + "' in " + context, object->has(name));
}


bool strictJson(const std::string& text, std::string& why)
{
	StrictJson reader(text);
	return reader.run(why);
}


bool matches(const std::string& text, const std::string& pattern)
{
	return std::regex_match(text, std::regex(pattern));
}


void expectMatches(const std::string& text, const std::string& pattern, const std::string& context)
{
	CPPUNIT_ASSERT_MESSAGE("'" + text + "' does not match /" + pattern + "/ (" + context + ")", matches(text, pattern));
}


void expectTimestamp(const std::string& text, const std::string& context)
{
	expectMatches(text, TIMESTAMP_PATTERN, context);
}


std::int64_t timestampMillis(const std::string& text)
{
	if (!matches(text, TIMESTAMP_PATTERN))
		return -1;
	std::tm parts{};
	parts.tm_year = std::stoi(text.substr(0, 4)) - 1900;
	parts.tm_mon = std::stoi(text.substr(5, 2)) - 1;
	parts.tm_mday = std::stoi(text.substr(8, 2));
	parts.tm_hour = std::stoi(text.substr(11, 2));
	parts.tm_min = std::stoi(text.substr(14, 2));
	parts.tm_sec = std::stoi(text.substr(17, 2));
	return static_cast<std::int64_t>(::timegm(&parts)) * 1000 + std::stoi(text.substr(20, 3));
}


std::int64_t nowMillis()
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


std::int64_t nowSeconds()
{
	return nowMillis() / 1000;
}


HttpResponse http(TestServer& server, const std::string& method, const std::string& path,
                  const HttpTestClient::Headers& headers, const std::string& body)
{
	return HttpTestClient::request(LOOPBACK, port(server), method, path, headers, body, HTTP_TIMEOUT_MS);
}


HttpResponse publish(TestServer& server, const std::string& body, const std::string& token,
                     const std::string& contentType)
{
	HttpTestClient::Headers headers;
	if (!token.empty())
		headers.emplace_back("Authorization", "Bearer " + token);
	if (!contentType.empty())
		headers.emplace_back("Content-Type", contentType);
	return http(server, "POST", "/ws/publish", headers, body);
}


Poco::JSON::Object::Ptr publishAccepted(TestServer& server, const std::string& body, int delivered)
{
	const HttpResponse response = publish(server, body);
	const std::string context = "publish " + body + " -> HTTP " + std::to_string(response.status) + " " + response.body;
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, 202, response.status);
	Poco::JSON::Object::Ptr answer = object(response.body);
	expectKeys(answer, {"status", "type", "topic", "delivered", "timestamp"}, context);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::string("accepted"), stringAt(answer, "status", context));
	expectTimestamp(stringAt(answer, "timestamp", context), context);
	const std::int64_t count = integerAt(answer, "delivered", context);
	if (delivered >= 0)
		CPPUNIT_ASSERT_EQUAL_MESSAGE("delivered: " + context, static_cast<std::int64_t>(delivered), count);
	return answer;
}


void expectHttpError(const HttpResponse& response, int status, const std::string& code, const std::string& message)
{
	const std::string context = "HTTP " + std::to_string(response.status) + " " + response.body;
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, status, response.status);
	const std::string type = response.header("Content-Type");
	CPPUNIT_ASSERT_MESSAGE("Content-Type '" + type + "' of " + context, type.rfind("application/json", 0) == 0);
	expectErrorFrame(object(response.body), code, message);
}


Poco::JSON::Object::Ptr getJson(TestServer& server, const std::string& path, int status)
{
	const HttpResponse response = http(server, "GET", path);
	const std::string context = "GET " + path + " -> HTTP " + std::to_string(response.status) + " " + response.body;
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context, status, response.status);
	const std::string type = response.header("Content-Type");
	CPPUNIT_ASSERT_MESSAGE("Content-Type '" + type + "' of " + context, type.rfind("application/json", 0) == 0);
	return object(response.body);
}


WsTestClient connect(TestServer& server, const std::string& pathAndQuery, const WsTestClient::Headers& headers,
                     bool autoPong)
{
	WsTestClient client;
	client.setAutoPong(autoPong);
	const HttpResponse response = client.connect(LOOPBACK, port(server), pathAndQuery, headers);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("upgrade " + pathAndQuery + ": " + response.rawHead + response.body, 101,
	                             response.status);
	return client;
}


void sendJson(WsTestClient& client, const std::string& json)
{
	client.sendText(json);
}


WsTestClient::Message nextMessage(WsTestClient& client, int timeoutMs)
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
		if (message.opcode == WsTestClient::OPCODE_PONG)
			continue;
		return message;
	}
}


std::string nextText(WsTestClient& client, int timeoutMs)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		WsTestClient::Message message = nextMessage(client, deadline.remainingMs());
		if (message.opcode == WsTestClient::OPCODE_PING)
			continue;
		if (message.opcode != WsTestClient::OPCODE_TEXT || message.frameCount != 1)
			CPPUNIT_FAIL("expected one text frame, got a " + frameName(message) + " (" +
			             std::to_string(message.frameCount) + " frames)");
		return message.payload;
	}
}


Poco::JSON::Object::Ptr nextFrame(WsTestClient& client, int timeoutMs)
{
	return object(nextText(client, timeoutMs));
}


Poco::JSON::Object::Ptr nextOfType(WsTestClient& client, const std::string& type, int timeoutMs)
{
	const std::string text = nextText(client, timeoutMs);
	Poco::JSON::Object::Ptr frame = object(text);
	CPPUNIT_ASSERT_MESSAGE("expected a '" + type + "' frame, got " + text,
	                       frame->has("type") && frame->get("type").isString() &&
	                           frame->getValue<std::string>("type") == type);
	return frame;
}


void expectPong(const Poco::JSON::Object::Ptr& frame, const std::string& context)
{
	const std::string text = stringify(frame);
	expectKeys(frame, {"type", "timestamp", "clientId"}, "pong " + text + " " + context);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("pong " + text + " " + context, std::string("pong"), stringAt(frame, "type", text));
	expectMatches(stringAt(frame, "clientId", text), CLIENT_ID_PATTERN, "clientId of " + text);
	expectTimestamp(stringAt(frame, "timestamp", text), "timestamp of " + text);
}


Poco::JSON::Object::Ptr ping(WsTestClient& client)
{
	sendJson(client, "{\"type\":\"ping\"}");
	Poco::JSON::Object::Ptr frame = nextFrame(client);
	expectPong(frame, "(the frame right after a ping)");
	return frame;
}


void expectNothing(WsTestClient& client, const std::string& context)
{
	sendJson(client, "{\"type\":\"ping\"}");
	const std::string text = nextText(client);
	Poco::JSON::Object::Ptr frame = object(text);
	CPPUNIT_ASSERT_MESSAGE(
	    "expected nothing before the sentinel pong" + (context.empty() ? "" : " (" + context + ")") + ", got " + text,
	    frame->has("type") && frame->get("type").isString() && frame->getValue<std::string>("type") == "pong");
	expectPong(frame, context);
}


void subscribe(WsTestClient& client, const std::string& topic)
{
	sendJson(client, "{\"type\":\"subscribe\",\"topic\":" + quote(topic) + "}");
	expectNothing(client, "subscribe " + topic + " has no reply");
}


void expectErrorFrame(const Poco::JSON::Object::Ptr& frame, const std::string& code, const std::string& message,
                      int retryAfter)
{
	const std::string text = stringify(frame);
	expectKeys(frame, {"type", "data", "timestamp"}, "error " + text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("error"), stringAt(frame, "type", text));
	expectTimestamp(stringAt(frame, "timestamp", text), text);
	Poco::JSON::Object::Ptr data = objectAt(frame, "data", text);
	if (retryAfter >= 0)
	{
		expectKeys(data, {"code", "message", "retryAfter"}, "data of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("retryAfter of " + text, static_cast<std::int64_t>(retryAfter),
		                             integerAt(data, "retryAfter", text));
	}
	else
		expectKeys(data, {"code", "message"}, "data of " + text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("code of " + text, code, stringAt(data, "code", text));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("message of " + text, message, stringAt(data, "message", text));
}


void expectError(WsTestClient& client, const std::string& code, const std::string& message, int timeoutMs)
{
	expectErrorFrame(nextFrame(client, timeoutMs), code, message);
}


CloseResult awaitClose(WsTestClient& client, int timeoutMs, bool reply)
{
	Deadline deadline(timeoutMs);
	CloseResult result;
	for (;;)
	{
		WsTestClient::Message message = client.receiveMessage(deadline.remainingMs());
		if (message.timedOut())
			return result;
		if (message.closed() || message.result == WsTestClient::RESULT_PROTOCOL_ERROR)
		{
			result.code = WsTestClient::CloseInfo::NO_CLOSE_FRAME;
			result.reason = message.error;
			result.eof = message.closed();
			result.atMillis = Deadline::nowMicros() / 1000;
			return result;
		}
		if (message.opcode == WsTestClient::OPCODE_TEXT || message.opcode == WsTestClient::OPCODE_BINARY)
		{
			result.dataFrames.push_back(message.payload);
			continue;
		}
		if (message.opcode != WsTestClient::OPCODE_CLOSE)
			continue;
		result.atMillis = Deadline::nowMicros() / 1000;
		if (message.payload.size() >= 2)
		{
			result.code =
			    (static_cast<unsigned char>(message.payload[0]) << 8) | static_cast<unsigned char>(message.payload[1]);
			result.reason = message.payload.substr(2);
		}
		else
			result.code = message.payload.empty() ? 1005 : WsTestClient::CloseInfo::MALFORMED;
		if (reply)
		{
			if (!client.closeSent())
			{
				try
				{
					if (result.code >= 1000 && result.code <= 4999 && result.code != 1005)
						client.sendClose(result.code);
					else
						client.sendCloseEmpty();
				}
				catch (const std::exception&)
				{
					// The server may have dropped TCP right after its close frame.
				}
			}
			result.eof = client.waitForEof(deadline.remainingMs());
		}
		return result;
	}
}


std::string describe(const CloseResult& close)
{
	std::string text;
	if (close.code == WsTestClient::CloseInfo::TIMED_OUT)
		text = "no close within the timeout";
	else if (close.code == WsTestClient::CloseInfo::NO_CLOSE_FRAME)
		text = "TCP closed without a close frame (" + close.reason + ")";
	else
		text = "close " + std::to_string(close.code) + " '" + close.reason + "'";
	if (!close.dataFrames.empty())
	{
		text += " after " + std::to_string(close.dataFrames.size()) +
		        " data frames, first: " + close.dataFrames.front().substr(0, 200);
	}
	return text;
}


CloseResult expectClose(WsTestClient& client, int code, const std::string& reason, int timeoutMs)
{
	CloseResult close = awaitClose(client, timeoutMs, true);
	const std::string text = describe(close);
	CPPUNIT_ASSERT_MESSAGE("expected close " + std::to_string(code) + ", got " + text, close.dataFrames.empty());
	CPPUNIT_ASSERT_EQUAL_MESSAGE("close code (" + text + ")", code, close.code);
	if (!reason.empty())
		CPPUNIT_ASSERT_EQUAL_MESSAGE("close reason (" + text + ")", reason, close.reason);
	return close;
}


std::string base64Url(const std::string& bytes)
{
	std::string out;
	std::size_t i = 0;
	for (; i + 2 < bytes.size(); i += 3)
	{
		const unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) |
		                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
		                       static_cast<unsigned char>(bytes[i + 2]);
		for (int shift = 18; shift >= 0; shift -= 6)
			out += BASE64URL_ALPHABET[(value >> shift) & 63];
	}
	const std::size_t rest = bytes.size() - i;
	if (rest > 0)
	{
		unsigned value = static_cast<unsigned char>(bytes[i]) << 16;
		if (rest == 2)
			value |= static_cast<unsigned char>(bytes[i + 1]) << 8;
		out += BASE64URL_ALPHABET[(value >> 18) & 63];
		out += BASE64URL_ALPHABET[(value >> 12) & 63];
		if (rest == 2)
			out += BASE64URL_ALPHABET[(value >> 6) & 63];
	}
	return out;
}


std::string mintJwt(const std::string& claimsJson, const std::string& secret, const std::string& headerJson)
{
	const std::string signingInput = base64Url(headerJson) + "." + base64Url(claimsJson);
	return signingInput + "." + base64Url(hmacSha256(secret, signingInput));
}


std::string mintUnsignedJwt(const std::string& claimsJson)
{
	return base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + base64Url(claimsJson) + ".";
}


} // namespace PeerVault
} // namespace Test
} // namespace Switchboard
