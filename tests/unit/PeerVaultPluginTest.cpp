//
// PeerVaultPluginTest.cpp
//
// The PeerVault plugin as a whole, run in FakeHost: the WebSocket protocol (ping/pong, the three
// subscribe forms, validation errors, acknowledgements), the publish endpoint (auth order,
// validation, delivery, rate limit per credential), the status endpoints, CORS and the Origin
// check, the connection cap, the per-connection rate limit and flood close on the virtual clock,
// WebSocket Ping control frames, the three auth modes with static tokens and HS256 JWTs, the
// metrics ticker, the connection_usage alert edge and shutdown. Each test asserts the exact
// frames, bodies and close codes of the contract (/work/shared/protocols/peervault.md; the §
// and item numbers below are its sections and its §12 test list) and, on tear-down, that
// FakeHost logged no ERROR and refused no metric.
//


#include "Hs256.h"
#include "PeerVaultPlugin.h"
#include "PeerVaultSettings.h"
#include "switchboard/testing/FakeHost.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>


using namespace Switchboard;
using Switchboard::PeerVault::PeerVaultPlugin;
using Switchboard::PeerVault::PeerVaultSettings;


namespace {


// Windows headers declare a global ConnectionId (naptypes.h): the SDK's one, here.
using ConnectionId = Switchboard::ConnectionId;


const std::string PING = R"({"type":"ping"})";
const std::string PUB_TOKEN = "pub-token";
const std::string JWT_SECRET = "peervault-unit-test-secret-0123456789"; // 37 bytes
const std::string TOKENS = R"([{"token":"pub-token","name":"publisher","scopes":["publish"]},)"
                           R"({"token":"t1","name":"svc","scopes":[]},)"
                           R"({"token":"admin-token","name":"root","scopes":["admin"]}])";
const std::string UPLOAD =
    R"({"type":"file_uploaded","topic":"file_operations","data":{"key":"k1","size":1024,"node":"n1"}})";
const std::string SECURITY_ALERT =
    R"({"type":"security_alert","topic":"alerts","data":{"level":"warning","message":"intrusion"}})";
const std::string RATE_MESSAGE = "Rate limit exceeded. Please slow down your requests.";
const std::string FORMAT_INVALID = "Message format is invalid";
const std::string BAD_CREDENTIALS = "Invalid authentication credentials";


// --- text helpers ------------------------------------------------------------------------------


std::string quote(std::string_view text)
{
	return Json::quote(text);
}


std::string timestampOf(std::int64_t wallMs)
/// §2: RFC 3339, UTC, "Z", exactly three fractional digits.
{
	std::time_t seconds = static_cast<std::time_t>(wallMs / 1000);
	std::tm parts{};
#ifdef _WIN32
	gmtime_s(&parts, &seconds);
#else
	gmtime_r(&seconds, &parts);
#endif
	char buffer[64];
	std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
	              parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(wallMs % 1000));
	return buffer;
}


bool isTimestamp(const std::string& text)
{
	static const std::regex FORMAT(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
	return std::regex_match(text, FORMAT);
}


bool isClientId(const std::string& text)
{
	static const std::regex FORMAT("^[0-9a-f]{32}$");
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


std::vector<std::string> corsHeaderNames(const HttpResponse& response)
/// The Access-Control-* headers of a response.
{
	std::vector<std::string> names;
	for (const auto& header : response.headers)
		if (header.first.size() >= 15 && HttpText::equalsIgnoreCase(header.first.substr(0, 15), "Access-Control-"))
			names.push_back(header.first);
	return names;
}


std::set<std::string> listItems(const std::string& list)
/// "A, B, C" as its items.
{
	std::set<std::string> items;
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
			items.insert(item);
		start = comma + 1;
	}
	return items;
}


std::string base64Url(const std::string& bytes)
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


std::string unsignedJwt(const std::string& claims)
/// The claims under {"alg":"none"} without a signature.
{
	return base64Url(R"({"alg":"none","typ":"JWT"})") + "." + base64Url(claims) + ".";
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


std::string canonical(const Poco::Dynamic::Var& value)
{
	std::ostringstream out;
	Poco::JSON::Stringifier::stringify(value, out);
	return out.str();
}


std::string canonical(const std::string& text)
/// The JSON text with its object keys sorted and no spaces, so that two texts compare equal when
/// they hold the same document (key order carries no meaning, §8); a marker when it is not JSON.
{
	try
	{
		Poco::JSON::Parser parser;
		return canonical(parser.parse(text));
	}
	catch (const Poco::Exception&)
	{
		return "<not JSON> " + text;
	}
}


std::string keysOf(const Poco::JSON::Object::Ptr& object)
/// The member names, sorted, comma-separated.
{
	std::vector<std::string> names;
	object->getNames(names);
	std::sort(names.begin(), names.end());
	std::string out;
	for (const std::string& name : names)
		out += (out.empty() ? "" : ",") + name;
	return out;
}


std::string stringField(const Poco::JSON::Object::Ptr& object, const std::string& name)
{
	if (!object->has(name) || !object->get(name).isString())
		throw std::runtime_error("no string field " + name);
	return object->getValue<std::string>(name);
}


std::int64_t integerField(const Poco::JSON::Object::Ptr& object, const std::string& name)
/// A member that must be a JSON integer (§6.2: integers are JSON integers).
{
	if (!object->has(name) || !object->get(name).isInteger())
		throw std::runtime_error("no integer field " + name);
	return object->getValue<std::int64_t>(name);
}


double numberField(const Poco::JSON::Object::Ptr& object, const std::string& name)
{
	if (!object->has(name) || !object->get(name).isNumeric())
		throw std::runtime_error("no number field " + name);
	return object->getValue<double>(name);
}


// --- the frames the contract spells out --------------------------------------------------------


std::string errorJson(const std::string& code, const std::string& message, std::int64_t wallMs, int retryAfter = -1)
/// §7: {"type":"error","data":{"code","message"[,"retryAfter"]},"timestamp"}.
{
	return R"({"type":"error","data":{"code":)" + quote(code) + ",\"message\":" + quote(message) +
	       (retryAfter >= 0 ? ",\"retryAfter\":" + std::to_string(retryAfter) : std::string()) +
	       "},\"timestamp\":" + quote(timestampOf(wallMs)) + "}";
}


std::string pongJson(const std::string& clientId, std::int64_t wallMs)
{
	return R"({"type":"pong","timestamp":)" + quote(timestampOf(wallMs)) + ",\"clientId\":" + quote(clientId) + "}";
}


std::string eventJson(const std::string& type, const std::string& topic, const std::string& dataMembers,
                      std::int64_t wallMs)
/// §5: dataMembers without braces and without the timestamp, which the server adds.
{
	const std::string ts = quote(timestampOf(wallMs));
	return "{\"type\":" + quote(type) + ",\"topic\":" + quote(topic) + ",\"data\":{" + dataMembers +
	       (dataMembers.empty() ? "" : ",") + "\"timestamp\":" + ts + "},\"timestamp\":" + ts + "}";
}


std::string authenticatedJson(const std::string& subjectJson, const std::string& scopesJson,
                              const std::string& clientId, std::int64_t wallMs)
{
	return R"({"type":"authenticated","data":{"subject":)" + subjectJson + ",\"scopes\":" + scopesJson +
	       "},\"timestamp\":" + quote(timestampOf(wallMs)) + ",\"clientId\":" + quote(clientId) + "}";
}


std::string withoutTimestamps(const std::string& text)
/// The canonical text with the envelope and data timestamps (which must have the §2 format)
/// replaced by "T", for frames a timer produced at a moment the contract leaves open.
{
	Poco::JSON::Object::Ptr object;
	try
	{
		object = parseObject(text);
	}
	catch (const std::exception&)
	{
		return "<not a JSON object> " + text;
	}
	if (!object->has("timestamp") || !isTimestamp(object->getValue<std::string>("timestamp")))
		return "<bad timestamp> " + text;
	object->set("timestamp", "T");
	Poco::JSON::Object::Ptr data = object->has("data") ? object->getObject("data") : nullptr;
	if (data && data->has("timestamp"))
	{
		if (!isTimestamp(data->getValue<std::string>("timestamp")))
			return "<bad data timestamp> " + text;
		data->set("timestamp", "T");
	}
	return canonical(Poco::Dynamic::Var(object));
}


// --- the plugin in FakeHost ---------------------------------------------------------------------


class Server
/// One PeerVaultPlugin started in its own FakeHost, with the static tokens pub-token (scope
/// publish), t1 (no scope) and admin-token (scope admin), a JWT secret, and the metrics ticker
/// off unless a test sets metrics.interval; plus the steps the tests repeat.
{
public:
	using Settings = std::vector<std::pair<std::string, std::string>>;

	explicit Server(Settings settings = {}):
	    _host("peervault")
	{
		std::map<std::string, std::string> values = {{"websocket.auth.tokens", TOKENS},
		                                             {"websocket.auth.jwt_secret", JWT_SECRET},
		                                             {"websocket.metrics.interval", "0"}};
		for (const auto& setting : settings)
			values[setting.first] = setting.second;
		_values = values;
		std::string error = _host.setConfig(PeerVaultSettings::keys(), PeerVaultSettings::keyCount(), values);
		if (!error.empty())
			throw std::runtime_error("configuration refused: " + error);
		StartResult result = _host.start(_plugin);
		if (result.status != StartStatus::STARTED)
			throw std::runtime_error("start failed: " + result.message);
	}

	Server(const Server&) = delete;
	Server& operator=(const Server&) = delete;

	FakeHost& host() { return _host; }
	PeerVaultPlugin& plugin() { return _plugin; }
	void stop() { _host.stop(_plugin); }

	ReconfigureResult reconfigure(const Settings& changes)
	/// A reload (SIGHUP): the values so far with changes over them, as the host hands them over.
	{
		for (const auto& change : changes)
			_values[change.first] = change.second;
		return _host.reconfigure(_plugin, PeerVault::peervaultDescriptor(), _values);
	}

	std::int64_t wall() const { return _host.wallMs(); }
	std::int64_t wallSeconds() const { return _host.wallMs() / 1000; }

	ConnectionId connect(const std::string& query = "", HeaderList headers = {})
	/// An upgrade of /ws that must be accepted (the plugin may still refuse it at open).
	{
		ConnectionId c = _host.connect("/ws" + (query.empty() ? "" : "?" + query), std::move(headers));
		if (c == 0)
			throw std::runtime_error("upgrade refused: " + std::to_string(_host.lastRejectStatus()) + " " +
			                         _host.lastRejectBody());
		return c;
	}

	std::vector<std::string> frames(ConnectionId c)
	/// The frames sent to c since the last call; every one must be a TEXT frame (§2).
	{
		std::vector<std::string> texts;
		for (SentMessage& message : _host.takeSent(c))
		{
			if (message.kind != MessageKind::TEXT)
				throw std::runtime_error("a non-text frame was sent: " + message.data);
			texts.push_back(std::move(message.data));
		}
		return texts;
	}

	std::vector<std::string> send(ConnectionId c, const std::string& text, MessageKind kind = MessageKind::TEXT)
	/// One inbound message, then whatever was sent to c since the last look.
	{
		_host.deliver(c, text, kind);
		return frames(c);
	}

	std::string clientIdOf(ConnectionId c)
	/// The clientId of the pong to a ping (the only frame expected).
	{
		std::vector<std::string> got = send(c, PING);
		if (got.size() != 1)
			throw std::runtime_error("a ping did not get exactly one frame");
		return stringField(parseObject(got[0]), "clientId");
	}

	void subscribe(ConnectionId c, const std::string& topic)
	/// The documented form; it must produce no frame (no acknowledgements by default).
	{
		std::vector<std::string> got = send(c, R"({"type":"subscribe","topic":)" + quote(topic) + "}");
		if (!got.empty())
			throw std::runtime_error("subscribe to " + topic + " answered: " + got[0]);
	}

	HttpResponse request(const std::string& method, const std::string& path, const std::string& body = "",
	                     HeaderList headers = {})
	{
		return _host.request(method, path, body, std::move(headers));
	}

	HttpResponse publish(const std::string& body, const std::string& token = PUB_TOKEN,
	                     const std::string& contentType = "application/json")
	/// POST /ws/publish with a bearer token (none when empty).
	{
		HeaderList headers;
		if (!contentType.empty())
			headers.emplace_back("Content-Type", contentType);
		if (!token.empty())
			headers.emplace_back("Authorization", "Bearer " + token);
		return _host.request("POST", "/ws/publish", body, std::move(headers));
	}

	Poco::JSON::Object::Ptr metrics()
	{
		HttpResponse r = _host.request("GET", "/ws/metrics");
		if (r.status != 200)
			throw std::runtime_error("/ws/metrics answered " + std::to_string(r.status));
		return parseObject(r.body)->getObject("websocket");
	}

	std::int64_t subscribers(const std::string& topic)
	/// /ws/metrics' subscription count for a topic.
	{
		return integerField(metrics()->getObject("subscriptions"), topic);
	}

private:
	FakeHost _host;
	PeerVaultPlugin _plugin;
	std::map<std::string, std::string> _values; ///< the configuration in force (start, then reloads)
};


void expectFrames(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                  const CppUnit::SourceLine& line)
/// The same documents in the same order (§2: one document per frame).
{
	std::string wanted, got;
	for (const std::string& f : expected)
		wanted += canonical(f) + "\n";
	for (const std::string& f : actual)
		got += canonical(f) + "\n";
	CppUnit::assertEquals(wanted, got, line, "frames");
}


void expectLooseFrames(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                       const CppUnit::SourceLine& line)
/// As expectFrames, the timestamps only checked for their format.
{
	std::string wanted, got;
	for (const std::string& f : expected)
		wanted += withoutTimestamps(f) + "\n";
	for (const std::string& f : actual)
		got += withoutTimestamps(f) + "\n";
	CppUnit::assertEquals(wanted, got, line, "frames");
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


void expectOpen(Server& s, ConnectionId c, const CppUnit::SourceLine& line)
{
	auto close = s.host().closeOf(c);
	CppUnit::Asserter::failIf(!s.host().isOpen(c),
	                          "connection " + std::to_string(c) + " closed" +
	                              (close ? ": " + std::to_string(close->first) + " " + close->second : std::string()),
	                          line);
}


void expectQuiet(Server& s, ConnectionId c, const CppUnit::SourceLine& line)
/// "Receives nothing" (§12): nothing is pending, and a ping's pong is the very next frame.
{
	expectOpen(s, c, line);
	std::vector<std::string> pending = s.frames(c);
	CppUnit::Asserter::failIf(!pending.empty(), "unexpected frame: " + (pending.empty() ? "" : pending[0]), line);
	std::vector<std::string> got = s.send(c, PING);
	CppUnit::assertEquals(std::size_t(1), got.size(), line, "frames after a ping");
	CppUnit::assertEquals(std::string("pong"), stringField(parseObject(got[0]), "type"), line, "the next frame");
}


void expectHttp(const HttpResponse& r, int status, const std::string& expectedJson, const CppUnit::SourceLine& line)
/// The status, a JSON Content-Type and the body document.
{
	CppUnit::assertEquals(status, r.status, line, "status; body " + r.body);
	CppUnit::Asserter::failIf(headerOf(r, "Content-Type").rfind("application/json", 0) != 0,
	                          "no JSON Content-Type: " + headerOf(r, "Content-Type"), line);
	CppUnit::assertEquals(canonical(expectedJson), canonical(r.body), line, "body");
}


void expectHttpError(Server& s, const HttpResponse& r, int status, const std::string& code, const std::string& message,
                     const CppUnit::SourceLine& line)
/// §1: every HTTP error body is the error envelope.
{
	expectHttp(r, status, errorJson(code, message, s.wall()), line);
}


#define EXPECT_FRAMES(expected, actual) expectFrames((expected), (actual), CPPUNIT_SOURCELINE())
#define EXPECT_LOOSE_FRAMES(expected, actual) expectLooseFrames((expected), (actual), CPPUNIT_SOURCELINE())
#define EXPECT_CLOSE(server, c, code, reason) expectClose((server), (c), (code), (reason), CPPUNIT_SOURCELINE())
#define EXPECT_OPEN(server, c) expectOpen((server), (c), CPPUNIT_SOURCELINE())
#define EXPECT_QUIET(server, c) expectQuiet((server), (c), CPPUNIT_SOURCELINE())
#define EXPECT_HTTP(response, status, json) expectHttp((response), (status), (json), CPPUNIT_SOURCELINE())
#define EXPECT_HTTP_ERROR(server, response, status, code, message)                                                     \
	expectHttpError((server), (response), (status), (code), (message), CPPUNIT_SOURCELINE())


using Frames = std::vector<std::string>;


} // namespace


class PeerVaultPluginTest: public CppUnit::TestFixture
{
	using ConnectionId = Switchboard::ConnectionId; // not the global one of Windows' naptypes.h

	CPPUNIT_TEST_SUITE(PeerVaultPluginTest);
	// basics and envelope (§2, §4, items 1-4)
	CPPUNIT_TEST(testPingPong);
	CPPUNIT_TEST(testBinaryFrames);
	CPPUNIT_TEST(testNoWelcome);
	CPPUNIT_TEST(testOneDocumentPerFrame);
	CPPUNIT_TEST(testPongIgnored);
	// subscriptions (§4, items 5-11)
	CPPUNIT_TEST(testSubscribeForms);
	CPPUNIT_TEST(testTopicPlacePrecedence);
	CPPUNIT_TEST(testUnsubscribeAndIdempotence);
	CPPUNIT_TEST(testTopicIsolation);
	CPPUNIT_TEST(testTopicErrors);
	CPPUNIT_TEST(testInvalidInputKeepsConnection);
	CPPUNIT_TEST(testInvalidUtf8Text);
	CPPUNIT_TEST(testUnknownTypeEchoTruncated);
	CPPUNIT_TEST(testAckSubscriptions);
	CPPUNIT_TEST(testCloseLeavesTopics);
	// publish (§6.1, items 12-14)
	CPPUNIT_TEST(testPublishDisabled);
	CPPUNIT_TEST(testPublishAuthOrder);
	CPPUNIT_TEST(testRoutesRunOnTheEventLoop);
	CPPUNIT_TEST(testPublishWithJwt);
	CPPUNIT_TEST(testPublishContentType);
	CPPUNIT_TEST(testPublishValidation);
	CPPUNIT_TEST(testPublishTooLarge);
	CPPUNIT_TEST(testPublishDelivery);
	CPPUNIT_TEST(testPublishTimestamps);
	CPPUNIT_TEST(testPublishRateLimit);
	CPPUNIT_TEST(testPublishRetryAfterRoundsUp);
	// HTTP endpoints, CORS, Origin (§1, §8, items 17-19)
	CPPUNIT_TEST(testHealth);
	CPPUNIT_TEST(testMetricsEndpoint);
	CPPUNIT_TEST(testStatus);
	CPPUNIT_TEST(testNotFound);
	CPPUNIT_TEST(testMethodNotAllowed);
	CPPUNIT_TEST(testOptionsPreflight);
	CPPUNIT_TEST(testCorsOriginList);
	CPPUNIT_TEST(testCorsDisabled);
	CPPUNIT_TEST(testOriginCheck);
	// limits (§3.2, §7, items 20-23)
	CPPUNIT_TEST(testConnectionCap);
	CPPUNIT_TEST(testRateLimit);
	CPPUNIT_TEST(testRateLimitErrorSpacing);
	CPPUNIT_TEST(testRateLimitRetryAfterRoundsUp);
	CPPUNIT_TEST(testSustainedFloodCloses);
	CPPUNIT_TEST(testFloodWindow);
	CPPUNIT_TEST(testControlPings);
	CPPUNIT_TEST(testMessageSize);
	CPPUNIT_TEST(testSlowConsumer);
	CPPUNIT_TEST(testPongTimeout);
	// authentication (§3.3, items 27-32)
	CPPUNIT_TEST(testRequiredHandshakeTokens);
	CPPUNIT_TEST(testRequiredHandshakeRefusals);
	CPPUNIT_TEST(testJwtIssuerAudience);
	CPPUNIT_TEST(testRequiredPending);
	CPPUNIT_TEST(testAuthTimeout);
	CPPUNIT_TEST(testAuthMessageForms);
	CPPUNIT_TEST(testAuthMessageFailures);
	CPPUNIT_TEST(testAlreadyAuthenticated);
	CPPUNIT_TEST(testOptionalMode);
	CPPUNIT_TEST(testOffMode);
	CPPUNIT_TEST(testTopicScopes);
	CPPUNIT_TEST(testJwtExpiryRequired);
	CPPUNIT_TEST(testJwtExpiryLeeway);
	CPPUNIT_TEST(testJwtExpiryOptional);
	// metrics ticker and alerts (§6.2, §6.3, items 15-16)
	CPPUNIT_TEST(testTickerOnlyForSubscribers);
	CPPUNIT_TEST(testSystemMetricsShape);
	CPPUNIT_TEST(testDetailedMetrics);
	CPPUNIT_TEST(testTickerDefaultAndDisabled);
	CPPUNIT_TEST(testConnectionUsageAlertEdge);
	CPPUNIT_TEST(testConnectionUsageCritical);
	// shutdown (§3.5, item 25)
	CPPUNIT_TEST(testStopping);
	CPPUNIT_TEST(testStopClosesEveryClient);

	CPPUNIT_TEST(testReloadOrigins);
	CPPUNIT_TEST(testReloadRateKeepsLevel);
	CPPUNIT_TEST(testReloadPublishRateKeepsLevel);
	CPPUNIT_TEST(testReloadCapAndAcks);
	CPPUNIT_TEST(testReloadCredentialsAndScopes);
	CPPUNIT_TEST(testReloadTicker);
	CPPUNIT_TEST(testReloadThresholds);
	CPPUNIT_TEST(testReloadNeedsRestart);
	CPPUNIT_TEST(testReloadMixedAppliesNothing);
	CPPUNIT_TEST_SUITE_END();

public:
	void tearDown() override
	{
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
		std::string text;
		for (const std::string& p : problems)
			text += "\n  " + p;
		CPPUNIT_ASSERT_MESSAGE("FakeHost logged:" + text, problems.empty());
	}

	// --- basics and envelope -------------------------------------------------------------------

	void testPingPong()
	{
		// Item 1: exactly type, timestamp and clientId; the id is 32 lowercase hex, stable on the
		// connection and different on another one.
		Server& s = server();
		ConnectionId a = s.connect();
		Frames got = s.send(a, PING);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		Poco::JSON::Object::Ptr pong = parseObject(got[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("clientId,timestamp,type"), keysOf(pong));
		CPPUNIT_ASSERT_EQUAL(std::string("pong"), stringField(pong, "type"));
		const std::string id = stringField(pong, "clientId");
		CPPUNIT_ASSERT_MESSAGE(id, isClientId(id));
		CPPUNIT_ASSERT(isTimestamp(stringField(pong, "timestamp")));
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, got);

		s.host().advance(1234);
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(a, PING));
		CPPUNIT_ASSERT_EQUAL(timestampOf(FakeHost::START_WALL_MS + 1234),
		                     stringField(parseObject(s.send(a, PING)[0]), "timestamp"));

		// data is ignored, and so is the client's timestamp (item 10).
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(a, R"({"type":"ping","data":{"x":[1,2]}})"));
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(a, R"({"type":"ping","timestamp":"yesterday"})"));
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(a, R"({"clientId":"me","type":"ping","extra":1})"));

		ConnectionId b = s.connect();
		const std::string other = s.clientIdOf(b);
		CPPUNIT_ASSERT(isClientId(other));
		CPPUNIT_ASSERT(other != id);
		CPPUNIT_ASSERT_EQUAL(id, s.clientIdOf(a));
		CPPUNIT_ASSERT_EQUAL(other, s.clientIdOf(b));
	}

	void testBinaryFrames()
	{
		// Item 2 and §2: binary frames hold JSON too; the replies are text frames.
		Server& s = server();
		ConnectionId c = s.connect();
		const std::string id = s.clientIdOf(c);
		EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(c, PING, MessageKind::BINARY));
		CPPUNIT_ASSERT(s.send(c, R"({"type":"subscribe","topic":"file_operations"})", MessageKind::BINARY).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("file_operations"));
		// Not UTF-8 in a binary frame: the format error, and the connection stays open.
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", FORMAT_INVALID, s.wall())},
		              s.send(c, "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}", MessageKind::BINARY));
		EXPECT_QUIET(s, c);
	}

	void testNoWelcome()
	{
		// Item 3 and §3.2: no frame after connecting, even with a token in off mode.
		Server& s = server();
		ConnectionId a = s.connect();
		ConnectionId b = s.connect("token=bogus");
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.frames(a).empty());
		CPPUNIT_ASSERT(s.frames(b).empty());
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b);
	}

	void testOneDocumentPerFrame()
	{
		// Item 4: 50 events, 50 frames in publish order; 20 pings, 20 pongs.
		Server& s = server();
		ConnectionId c = s.connect();
		s.subscribe(c, "file_operations");
		for (int i = 0; i < 50; ++i)
		{
			HttpResponse r = s.publish(R"({"type":"file_uploaded","data":{"key":"k)" + std::to_string(i) +
			                           R"(","size":)" + std::to_string(i) + R"(,"node":"n"}})");
			CPPUNIT_ASSERT_EQUAL(202, r.status);
		}
		Frames got = s.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(50), got.size());
		for (int i = 0; i < 50; ++i)
		{
			CPPUNIT_ASSERT(got[i].find('\n') == std::string::npos);
			Poco::JSON::Object::Ptr data = parseObject(got[i])->getObject("data");
			CPPUNIT_ASSERT_EQUAL("k" + std::to_string(i), stringField(data, "key"));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(i), integerField(data, "size"));
		}
		for (int i = 0; i < 20; ++i)
			s.host().deliver(c, PING);
		got = s.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(20), got.size());
		for (const std::string& frame : got)
			CPPUNIT_ASSERT_EQUAL(std::string("pong"), stringField(parseObject(frame), "type"));
	}

	void testPongIgnored()
	{
		// §4: an app-level pong from the client is ignored silently.
		Server& s = server();
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.send(c, R"({"type":"pong"})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"pong","timestamp":"2024-01-01T00:00:00.000Z","clientId":"x"})").empty());
		EXPECT_QUIET(s, c);
	}

	// --- subscriptions -------------------------------------------------------------------------

	void testSubscribeForms()
	{
		// Items 5 and 6: the three places of the topic all take effect.
		Server& s = server();
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.send(a, R"({"type":"subscribe","topic":"file_operations"})").empty());
		CPPUNIT_ASSERT(s.send(b, R"({"type":"subscribe","data":"peer_network"})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"subscribe","data":{"topic":"alerts"}})").empty());

		HttpResponse r = s.publish(UPLOAD);
		EXPECT_HTTP(r, 202,
		            R"({"status":"accepted","type":"file_uploaded","topic":"file_operations","delivered":1,)"
		            R"("timestamp":)" +
		                quote(timestampOf(s.wall())) + "}");
		EXPECT_FRAMES(
		    Frames{eventJson("file_uploaded", "file_operations", R"("key":"k1","size":1024,"node":"n1")", s.wall())},
		    s.frames(a));

		r = s.publish(R"({"type":"peer_connected","data":{"id":"p1","address":"10.0.0.1","port":4000}})");
		CPPUNIT_ASSERT_EQUAL(202, r.status);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		EXPECT_FRAMES(Frames{eventJson("peer_connected", "peer_network",
		                               R"("id":"p1","address":"10.0.0.1","port":4000,"capabilities":[])", s.wall())},
		              s.frames(b));

		r = s.publish(SECURITY_ALERT);
		CPPUNIT_ASSERT_EQUAL(202, r.status);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		EXPECT_FRAMES(
		    Frames{eventJson("security_alert", "alerts", R"("level":"warning","message":"intrusion")", s.wall())},
		    s.frames(c));

		for (ConnectionId id : {a, b, c})
			EXPECT_QUIET(s, id);
	}

	void testTopicPlacePrecedence()
	{
		// §4: the first place that holds a topic string wins.
		Server& s = server();
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.send(c, R"({"type":"subscribe","topic":"alerts","data":"system"})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"subscribe","data":"peer_network","x":{"topic":"system"}})").empty());
		Poco::JSON::Object::Ptr subscriptions = s.metrics()->getObject("subscriptions");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(subscriptions, "alerts"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(subscriptions, "peer_network"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(subscriptions, "system"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(subscriptions, "file_operations"));
		// Unsubscribe finds it the same ways.
		CPPUNIT_ASSERT(s.send(c, R"({"type":"unsubscribe","data":{"topic":"alerts"}})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"unsubscribe","data":"peer_network"})").empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("alerts"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("peer_network"));
	}

	void testUnsubscribeAndIdempotence()
	{
		// Item 8: after unsubscribing nothing arrives; a second unsubscribe is silent; subscribing
		// twice delivers once.
		Server& s = server();
		ConnectionId c = s.connect();
		s.subscribe(c, "file_operations");
		s.subscribe(c, "file_operations");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("file_operations"));
		HttpResponse r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());

		CPPUNIT_ASSERT(s.send(c, R"({"type":"unsubscribe","topic":"file_operations"})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"unsubscribe","topic":"file_operations"})").empty());
		CPPUNIT_ASSERT(s.send(c, R"({"type":"unsubscribe","topic":"system"})").empty()); // never joined
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("file_operations"));
		r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(parseObject(r.body), "delivered"));
		EXPECT_QUIET(s, c);

		// And back again.
		s.subscribe(c, "file_operations");
		r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());
	}

	void testTopicIsolation()
	{
		// Item 7: a client on alerts only receives nothing from file_operations.
		Server& s = server();
		ConnectionId onAlerts = s.connect();
		ConnectionId onFiles = s.connect();
		ConnectionId onNothing = s.connect();
		s.subscribe(onAlerts, "alerts");
		s.subscribe(onFiles, "file_operations");
		HttpResponse r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(onFiles).size());
		EXPECT_QUIET(s, onAlerts);
		EXPECT_QUIET(s, onNothing);
		r = s.publish(SECURITY_ALERT);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(onAlerts).size());
		EXPECT_QUIET(s, onFiles);
		EXPECT_QUIET(s, onNothing);
	}

	void testTopicErrors()
	{
		// Item 9 and §4: missing, unknown (exact, case-sensitive) and non-string topics.
		Server& s = server();
		ConnectionId c = s.connect();
		auto error = [&](const std::string& message) {
			return Frames{errorJson("INVALID_MESSAGE", message, s.wall())};
		};
		EXPECT_FRAMES(error("Unknown topic 'nope'"), s.send(c, R"({"type":"subscribe","topic":"nope"})"));
		EXPECT_FRAMES(error("Missing topic"), s.send(c, R"({"type":"subscribe"})"));
		EXPECT_FRAMES(error(FORMAT_INVALID), s.send(c, R"({"type":"subscribe","topic":5})"));
		EXPECT_FRAMES(error(FORMAT_INVALID), s.send(c, R"({"type":"subscribe","topic":null})"));
		EXPECT_FRAMES(error(FORMAT_INVALID), s.send(c, R"({"type":"subscribe","topic":["alerts"]})"));
		EXPECT_FRAMES(error("Unknown topic 'System'"), s.send(c, R"({"type":"subscribe","topic":"System"})"));
		EXPECT_FRAMES(error("Unknown topic 'alerts '"), s.send(c, R"({"type":"subscribe","data":"alerts "})"));
		EXPECT_FRAMES(error("Unknown topic 'x'"), s.send(c, R"({"type":"subscribe","data":{"topic":"x"}})"));
		EXPECT_FRAMES(error("Missing topic"), s.send(c, R"({"type":"subscribe","data":{}})"));
		EXPECT_FRAMES(error("Missing topic"), s.send(c, R"({"type":"subscribe","data":5})"));
		EXPECT_FRAMES(error("Missing topic"), s.send(c, R"({"type":"unsubscribe"})"));
		EXPECT_FRAMES(error("Unknown topic 'nope'"), s.send(c, R"({"type":"unsubscribe","topic":"nope"})"));
		EXPECT_FRAMES(error(FORMAT_INVALID), s.send(c, R"({"type":"unsubscribe","topic":true})"));
		Poco::JSON::Object::Ptr subscriptions = s.metrics()->getObject("subscriptions");
		CPPUNIT_ASSERT_EQUAL(std::string("alerts,file_operations,peer_network,system"), keysOf(subscriptions));
		for (const char* topic : {"alerts", "file_operations", "peer_network", "system"})
			CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(subscriptions, topic));
		EXPECT_QUIET(s, c);
	}

	void testInvalidInputKeepsConnection()
	{
		// Item 10 and §4's validation table: an error each, then a ping still gets its pong.
		Server& s = server();
		ConnectionId c = s.connect();
		const std::string id = s.clientIdOf(c);
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"not json", FORMAT_INVALID},
		    {"[]", FORMAT_INVALID},
		    {R"({"topic":"x"})", FORMAT_INVALID},
		    {R"({"type":"publish"})", "Unknown message type 'publish'"},
		    {R"({"type":"connection_init"})", "Unknown message type 'connection_init'"},
		    {"", FORMAT_INVALID},
		    {"   ", FORMAT_INVALID},
		    {"42", FORMAT_INVALID},
		    {R"("ping")", FORMAT_INVALID},
		    {"null", FORMAT_INVALID},
		    {R"({"type":5})", FORMAT_INVALID},
		    {R"({"type":null})", FORMAT_INVALID},
		    {R"({"type":["ping"]})", FORMAT_INVALID},
		    {R"({"Type":"ping"})", FORMAT_INVALID},
		    {R"({"type":"ping"}{"type":"ping"})", FORMAT_INVALID},
		    {"{\"type\":\"ping\"}\n{\"type\":\"ping\"}", FORMAT_INVALID},
		    {R"({"type":"ping")", FORMAT_INVALID},
		    {R"({"type":"ping","topic":5})", FORMAT_INVALID},
		    {R"({"type":"PING"})", "Unknown message type 'PING'"},
		    {R"({"type":""})", "Unknown message type ''"},
		};
		for (const auto& item : cases)
		{
			Frames got = s.send(c, item.first);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(item.first, std::size_t(1), got.size());
			CPPUNIT_ASSERT_EQUAL_MESSAGE(item.first, canonical(errorJson("INVALID_MESSAGE", item.second, s.wall())),
			                             canonical(got[0]));
			EXPECT_OPEN(s, c);
			EXPECT_FRAMES(Frames{pongJson(id, s.wall())}, s.send(c, PING));
		}
		// Error frames carry no topic and no clientId (§7).
		Poco::JSON::Object::Ptr error = parseObject(s.send(c, "{}")[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("data,timestamp,type"), keysOf(error));
		CPPUNIT_ASSERT_EQUAL(std::string("code,message"), keysOf(error->getObject("data")));
	}

	void testInvalidUtf8Text()
	{
		// §4: text that is not valid UTF-8 is "Message format is invalid" and the connection
		// stays open.
		Server& s = server();
		ConnectionId c = s.connect();
		Frames got = s.send(c, "{\"type\":\"ping\",\"x\":\"\xc3\x28\"}");
		EXPECT_OPEN(s, c);
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", FORMAT_INVALID, s.wall())}, got);
	}

	void testUnknownTypeEchoTruncated()
	{
		// §4: the echoed type is cut to 64 characters (not bytes).
		Server& s = server();
		ConnectionId c = s.connect();
		const std::string ascii(100, 'x');
		EXPECT_FRAMES(
		    Frames{errorJson("INVALID_MESSAGE", "Unknown message type '" + std::string(64, 'x') + "'", s.wall())},
		    s.send(c, R"({"type":")" + ascii + "\"}"));
		const std::string exact(64, 'y');
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Unknown message type '" + exact + "'", s.wall())},
		              s.send(c, R"({"type":")" + exact + "\"}"));
		std::string wide, wide64;
		for (int i = 0; i < 70; ++i)
			wide += "\xc3\xa9"; // é
		for (int i = 0; i < 64; ++i)
			wide64 += "\xc3\xa9";
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Unknown message type '" + wide64 + "'", s.wall())},
		              s.send(c, R"({"type":")" + wide + "\"}"));
		EXPECT_QUIET(s, c);
	}

	void testAckSubscriptions()
	{
		// Item 11: with ack_subscriptions, subscribed / unsubscribed frames; errors unchanged.
		Server& s = server({{"websocket.ack_subscriptions", "true"}});
		ConnectionId c = s.connect();
		const std::string ts = quote(timestampOf(s.wall()));
		EXPECT_FRAMES(Frames{R"({"type":"subscribed","topic":"system","timestamp":)" + ts + "}"},
		              s.send(c, R"({"type":"subscribe","topic":"system"})"));
		EXPECT_FRAMES(Frames{R"({"type":"subscribed","topic":"peer_network","timestamp":)" + ts + "}"},
		              s.send(c, R"({"type":"subscribe","data":"peer_network"})"));
		EXPECT_FRAMES(Frames{R"({"type":"unsubscribed","topic":"system","timestamp":)" + ts + "}"},
		              s.send(c, R"({"type":"unsubscribe","data":{"topic":"system"}})"));
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Unknown topic 'nope'", s.wall())},
		              s.send(c, R"({"type":"subscribe","topic":"nope"})"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("system"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("peer_network"));
		// Off by default: tested by Server::subscribe everywhere else.
	}

	void testCloseLeavesTopics()
	{
		// §10: a connection that goes away leaves every topic.
		Server& s = server();
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		for (const char* topic : {"file_operations", "peer_network", "system", "alerts"})
		{
			s.subscribe(a, topic);
			s.subscribe(b, topic);
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.subscribers("system"));
		// The gauge switchboard_peervault_subscribers{topic} (the admin console shows it) follows.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.host().gaugeValue("subscribers", {{"topic", "system"}}));
		s.subscribe(a, "system"); // again: idempotent, counted once
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.host().gaugeValue("subscribers", {{"topic", "system"}}));
		s.host().disconnect(a, 1000);
		for (const char* topic : {"file_operations", "peer_network", "system", "alerts"})
		{
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers(topic));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.host().gaugeValue("subscribers", {{"topic", topic}}));
		}
		HttpResponse r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		s.host().disconnect(b);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("alerts"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.host().gaugeValue("subscribers", {{"topic", "alerts"}}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(s.metrics(), "active_connections"));
	}

	// --- publish -------------------------------------------------------------------------------

	void testPublishDisabled()
	{
		// Item 12: no static token with publish and no jwt_secret → 403, before the credentials.
		Server& s = server({{"websocket.auth.tokens", R"([{"token":"t1","name":"svc","scopes":["admin"]}])"},
		                    {"websocket.auth.jwt_secret", ""}});
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, ""), 403, "AUTH_FAILED", "Publishing is disabled");
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, "t1"), 403, "AUTH_FAILED", "Publishing is disabled");
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, "nope"), 403, "AUTH_FAILED", "Publishing is disabled");
		Server& none = server({{"websocket.auth.tokens", "[]"}, {"websocket.auth.jwt_secret", ""}});
		EXPECT_HTTP_ERROR(none, none.publish(UPLOAD), 403, "AUTH_FAILED", "Publishing is disabled");
		// A JWT secret alone enables publishing.
		Server& jwt = server({{"websocket.auth.tokens", "[]"}});
		HttpResponse r = jwt.publish(UPLOAD, "");
		EXPECT_HTTP_ERROR(jwt, r, 401, "AUTH_FAILED", BAD_CREDENTIALS);
	}

	void testRoutesRunOnTheEventLoop()
	{
		// Every HTTP answer is computed from memory, so the routes are loop routes (no worker hop);
		// FakeHost runs them in its loop context, where a blocking storage call would be caught.
		Server& s = server();
		for (const char* path : {"/ws/publish", "/ws/health", "/ws/metrics", "/ws/status", "/ws/nothing"})
			CPPUNIT_ASSERT_MESSAGE(path, s.host().routeOnLoop("POST", path) && s.host().routeOnLoop("GET", path));
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
	}

	void testPublishAuthOrder()
	{
		// Item 12 and §6.1: 401 with WWW-Authenticate for a missing or bad token, 403 without the
		// scope; the credentials are checked before the body.
		Server& s = server();
		for (const std::string& token : {std::string(), std::string("wrong"), std::string("pub-token2")})
		{
			HttpResponse r = s.publish(UPLOAD, token);
			EXPECT_HTTP_ERROR(s, r, 401, "AUTH_FAILED", BAD_CREDENTIALS);
			CPPUNIT_ASSERT_EQUAL(std::string("Bearer"), headerOf(r, "WWW-Authenticate"));
		}
		HttpResponse basic = s.request("POST", "/ws/publish", UPLOAD,
		                               {{"Content-Type", "application/json"}, {"Authorization", "Basic cHViLXRva2Vu"}});
		EXPECT_HTTP_ERROR(s, basic, 401, "AUTH_FAILED", BAD_CREDENTIALS);
		CPPUNIT_ASSERT(hasHeader(basic, "WWW-Authenticate"));
		// Bad body but no credentials: still 401.
		EXPECT_HTTP_ERROR(s, s.publish("not json", "", "text/plain"), 401, "AUTH_FAILED", BAD_CREDENTIALS);

		HttpResponse r = s.publish(UPLOAD, "t1");
		EXPECT_HTTP_ERROR(s, r, 403, "AUTH_FAILED", "Token lacks the 'publish' scope");
		CPPUNIT_ASSERT(!hasHeader(r, "WWW-Authenticate"));
		EXPECT_HTTP_ERROR(s, s.publish("not json", "admin-token"), 403, "AUTH_FAILED",
		                  "Token lacks the 'publish' scope");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		// Independent of auth.mode.
		Server& required = server({{"websocket.auth.mode", "required"}});
		CPPUNIT_ASSERT_EQUAL(202, required.publish(UPLOAD).status);
		EXPECT_HTTP_ERROR(required, required.publish(UPLOAD, "t1"), 403, "AUTH_FAILED",
		                  "Token lacks the 'publish' scope");
	}

	void testPublishWithJwt()
	{
		// §6.1: a JWT carrying the publish scope, as a string or an array.
		Server& s = server();
		const std::int64_t exp = s.wallSeconds() + 3600;
		const std::string scopeString =
		    Hs256::sign(JWT_SECRET, R"({"sub":"node-7","scope":"read publish","exp":)" + std::to_string(exp) + "}");
		const std::string scopeArray =
		    Hs256::sign(JWT_SECRET, R"({"sub":"node-8","scopes":["publish"],"exp":)" + std::to_string(exp) + "}");
		const std::string noScope = Hs256::sign(JWT_SECRET, R"({"sub":"node-9","exp":)" + std::to_string(exp) + "}");
		const std::string expired =
		    Hs256::sign(JWT_SECRET, R"({"sub":"node-7","scope":"publish","exp":)" + std::to_string(exp - 7200) + "}");
		const std::string wrongKey = Hs256::sign(std::string(40, 'k'), R"({"sub":"node-7","scope":"publish","exp":)" +
		                                                                   std::to_string(exp) + "}");
		const std::string none = unsignedJwt(R"({"sub":"node-7","scope":"publish","exp":)" + std::to_string(exp) + "}");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, scopeString).status);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, scopeArray).status);
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, noScope), 403, "AUTH_FAILED", "Token lacks the 'publish' scope");
		for (const std::string& token : {expired, wrongKey, none})
		{
			HttpResponse r = s.publish(UPLOAD, token);
			EXPECT_HTTP_ERROR(s, r, 401, "AUTH_FAILED", BAD_CREDENTIALS);
			CPPUNIT_ASSERT_EQUAL(std::string("Bearer"), headerOf(r, "WWW-Authenticate"));
		}
	}

	void testPublishContentType()
	{
		// Item 13: text/plain → 415; a missing Content-Type too; parameters are allowed.
		Server& s = server();
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, PUB_TOKEN, "text/plain"), 415, "INVALID_MESSAGE",
		                  "Content-Type must be application/json");
		EXPECT_HTTP_ERROR(s, s.publish(UPLOAD, PUB_TOKEN, ""), 415, "INVALID_MESSAGE",
		                  "Content-Type must be application/json");
		EXPECT_HTTP_ERROR(s, s.publish("not json", PUB_TOKEN, "application/xml"), 415, "INVALID_MESSAGE",
		                  "Content-Type must be application/json");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, PUB_TOKEN, "application/json; charset=utf-8").status);
	}

	void testPublishValidation()
	{
		// Item 13 and §6.1's table: 400 with the exact messages.
		Server& s = server();
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"not json", FORMAT_INVALID},
		    {"[]", FORMAT_INVALID},
		    {"", FORMAT_INVALID},
		    {R"({"topic":"alerts"})", FORMAT_INVALID},
		    {R"({"type":7})", FORMAT_INVALID},
		    {R"({"type":"file_uploaded"} {})", FORMAT_INVALID},
		    {R"({"type":"file_uploaded","topic":"nope","data":{}})", "Unknown topic 'nope'"},
		    {R"({"type":"file_exploded","topic":"file_operations","data":{}})", "Unknown event type 'file_exploded'"},
		    {R"({"type":"file_exploded","data":{}})", "Unknown event type 'file_exploded'"},
		    {R"({"type":"file_uploaded","topic":"alerts","data":{"key":"k","size":1,"node":"n"}})",
		     "Event type 'file_uploaded' does not belong to topic 'alerts'"},
		    {R"({"type":"system_metrics","topic":"system","data":{}})",
		     "Topic 'system' is published by the server only"},
		    {R"({"type":"system_metrics","data":{}})", "Topic 'system' is published by the server only"},
		    {R"({"type":"file_uploaded","data":"x"})", "Field 'data' must be an object"},
		    {R"({"type":"file_uploaded"})", "Field 'data' must be an object"},
		    {R"({"type":"file_uploaded","data":{"key":"k1","node":"n1"}})", "Field 'data.size' is required"},
		    {R"({"type":"file_uploaded","data":{"key":"k1","size":-1,"node":"n1"}})",
		     "Field 'data.size' must be a non-negative integer"},
		    {R"({"type":"file_uploaded","data":{"key":"k1","size":1.5,"node":"n1"}})",
		     "Field 'data.size' must be a non-negative integer"},
		    {R"({"type":"file_uploaded","data":{"key":5,"size":1,"node":"n1"}})", "Field 'data.key' must be a string"},
		    {R"({"type":"performance_alert","data":{"level":"panic","message":"m"}})",
		     "Field 'data.level' must be one of info, warning, critical"},
		    {R"({"type":"performance_alert","data":{"level":"info"}})", "Field 'data.message' is required"},
		    {R"({"type":"peer_connected","data":{"id":"p","address":"a","port":70000}})",
		     "Field 'data.port' must be an integer between 1 and 65535"},
		    {R"({"type":"peer_connected","data":{"id":"p","address":"a","port":1,"capabilities":[1]}})",
		     "Field 'data.capabilities' must be an array of strings"},
		    {R"({"type":"file_deleted","data":{"key":"k","node":"n","timestamp":"yesterday"}})",
		     "Field 'data.timestamp' must be an RFC 3339 timestamp"},
		};
		ConnectionId c = s.connect();
		for (const char* topic : {"file_operations", "peer_network", "alerts"})
			s.subscribe(c, topic);
		for (const auto& item : cases)
		{
			HttpResponse r = s.publish(item.first);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(item.first, 400, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(item.first, canonical(errorJson("INVALID_MESSAGE", item.second, s.wall())),
			                             canonical(r.body));
		}
		// Nothing reached the subscriber, and nothing counted as published.
		EXPECT_QUIET(s, c);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(s.metrics(), "events_published"));
		// Omitting the topic works: it is inferred.
		HttpResponse r = s.publish(R"({"type":"file_deleted","data":{"key":"k","node":"n"},"extra":true})");
		EXPECT_HTTP(r, 202,
		            R"({"status":"accepted","type":"file_deleted","topic":"file_operations","delivered":1,)"
		            R"("timestamp":)" +
		                quote(timestampOf(s.wall())) + "}");
	}

	void testPublishTooLarge()
	{
		// §6.1: a body over max_message_size → 413.
		Server& s = server({{"websocket.limits.max_message_size", "200"}});
		std::string body = R"({"type":"file_uploaded","data":{"key":"k1","size":1,"node":"n1","pad":")";
		body += std::string(200 - body.size() - 3, 'p') + "\"}}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(200), body.size());
		CPPUNIT_ASSERT_EQUAL(202, s.publish(body).status);
		body.insert(body.size() - 3, "p");
		EXPECT_HTTP_ERROR(s, s.publish(body), 413, "INVALID_MESSAGE", "Message too large");
		// The size is checked before the Content-Type.
		EXPECT_HTTP_ERROR(s, s.publish(body, PUB_TOKEN, "text/plain"), 413, "INVALID_MESSAGE", "Message too large");
	}

	void testPublishDelivery()
	{
		// Item 5 and §10: one 202 with the number of subscribers, and the same bytes to each of
		// them, none to the others.
		Server& s = server();
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		ConnectionId c = s.connect();
		ConnectionId other = s.connect();
		for (ConnectionId id : {a, b, c})
			s.subscribe(id, "file_operations");
		s.subscribe(other, "peer_network");
		s.host().advance(2500);
		HttpResponse r = s.publish(UPLOAD);
		EXPECT_HTTP(r, 202,
		            R"({"status":"accepted","type":"file_uploaded","topic":"file_operations","delivered":3,)"
		            R"("timestamp":)" +
		                quote(timestampOf(s.wall())) + "}");
		CPPUNIT_ASSERT_EQUAL(std::string("no-store"), headerOf(r, "Cache-Control"));
		Frames fa = s.frames(a), fb = s.frames(b), fc = s.frames(c);
		EXPECT_FRAMES(
		    Frames{eventJson("file_uploaded", "file_operations", R"("key":"k1","size":1024,"node":"n1")", s.wall())},
		    fa);
		CPPUNIT_ASSERT(fa == fb);
		CPPUNIT_ASSERT(fa == fc);
		EXPECT_QUIET(s, other);

		// Publisher fields beyond the listed ones pass through unchanged.
		r = s.publish(R"({"type":"file_replicated","data":{"key":"k2","node":"n3","replicas":3,)"
		              R"("sourceNode":"n1","custom":{"a":[1,"b"]}}})");
		CPPUNIT_ASSERT_EQUAL(202, r.status);
		EXPECT_FRAMES(Frames{eventJson(
		                  "file_replicated", "file_operations",
		                  R"("key":"k2","node":"n3","replicas":3,"sourceNode":"n1","custom":{"a":[1,"b"]})", s.wall())},
		              s.frames(b));
		// One disconnect later, two deliveries.
		s.host().disconnect(c);
		r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(parseObject(r.body), "delivered"));
	}

	void testPublishTimestamps()
	{
		// Item 14: a publisher's timestamp is normalised to UTC; a missing one is the publish time.
		Server& s = server();
		ConnectionId c = s.connect();
		s.subscribe(c, "file_operations");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(R"({"type":"file_deleted","data":{"key":"k","node":"n",)"
		                                    R"("timestamp":"2024-01-01T01:00:00+01:00"}})")
		                              .status);
		Frames got = s.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		Poco::JSON::Object::Ptr frame = parseObject(got[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("2024-01-01T00:00:00.000Z"),
		                     stringField(frame->getObject("data"), "timestamp"));
		CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(frame, "timestamp"));

		s.host().advance(1);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(R"({"type":"file_deleted","data":{"key":"k","node":"n"}})").status);
		frame = parseObject(s.frames(c).at(0));
		CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(frame->getObject("data"), "timestamp"));
		CPPUNIT_ASSERT_EQUAL(std::string("2023-11-14T22:13:20.001Z"), stringField(frame, "timestamp"));
	}

	void testPublishRateLimit()
	{
		// §6.1: a bucket per credential; 429 with Retry-After and retryAfter; refilled with time.
		Server& s = server({{"websocket.publish.per_second", "1"}, {"websocket.publish.burst", "2"}});
		const std::string jwt = Hs256::sign(JWT_SECRET, R"({"sub":"node-7","scope":"publish","exp":)" +
		                                                    std::to_string(s.wallSeconds() + 3600) + "}");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		HttpResponse r = s.publish(UPLOAD);
		EXPECT_HTTP(r, 429, errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 1));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), headerOf(r, "Retry-After"));
		// The rate is checked before the body.
		EXPECT_HTTP(s.publish("not json", PUB_TOKEN, "text/plain"), 429,
		            errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 1));
		// Another credential has its own bucket.
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, jwt).status);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, jwt).status);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD, jwt).status);
		// A second later one more token each.
		s.host().advance(999);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status);
		s.host().advance(1);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, jwt).status);
	}

	void testPublishRetryAfterRoundsUp()
	{
		// §7: retryAfter is the time until the bucket holds a token, rounded up.
		Server& s = server({{"websocket.publish.per_second", "0.4"}, {"websocket.publish.burst", "1"}});
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		HttpResponse r = s.publish(UPLOAD);
		EXPECT_HTTP(r, 429, errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 3));
		CPPUNIT_ASSERT_EQUAL(std::string("3"), headerOf(r, "Retry-After"));
	}

	// --- HTTP endpoints, CORS, Origin ---------------------------------------------------------

	void testHealth()
	{
		// Item 17 and §8: exact body, Go-style uptime, JSON and no-store; HEAD without body.
		Server& s = server();
		HttpResponse r = s.request("GET", "/ws/health");
		EXPECT_HTTP(r, 200,
		            R"({"status":"healthy","timestamp":)" + quote(timestampOf(s.wall())) +
		                R"(,"uptime":"0s","version":"1.0.0"})");
		CPPUNIT_ASSERT_EQUAL(std::string("no-store"), headerOf(r, "Cache-Control"));
		s.host().advance(63500);
		EXPECT_HTTP(s.request("GET", "/ws/health"), 200,
		            R"({"status":"healthy","timestamp":)" + quote(timestampOf(s.wall())) +
		                R"(,"uptime":"1m3.5s","version":"1.0.0"})");
		s.host().advance(3600000 - 63500);
		CPPUNIT_ASSERT_EQUAL(std::string("1h0m0s"),
		                     stringField(parseObject(s.request("GET", "/ws/health").body), "uptime"));
		HttpResponse head = s.request("HEAD", "/ws/health");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT(head.body.empty());
		CPPUNIT_ASSERT_EQUAL(0, int(headerOf(head, "Content-Type").rfind("application/json", 0)));
	}

	void testMetricsEndpoint()
	{
		// Item 18 and §8: cumulative total, active, rejected, the traffic counters and the
		// subscriptions per topic.
		Server& s = server({{"websocket.limits.max_connections", "2"}});
		auto expected = [&](int active, int total, int rejected, int in, std::size_t bytesIn, int out,
		                    std::size_t bytesOut, int events, const std::string& subscriptions) {
			return R"({"fileserver":{"status":"running"},"timestamp":)" + quote(timestampOf(s.wall())) +
			       R"(,"websocket":{"active_connections":)" + std::to_string(active) +
			       ",\"total_connections\":" + std::to_string(total) +
			       ",\"uptime\":\"0s\",\"rejected_connections\":" + std::to_string(rejected) +
			       ",\"messages_received\":" + std::to_string(in) + ",\"messages_sent\":" + std::to_string(out) +
			       ",\"bytes_received\":" + std::to_string(bytesIn) + ",\"bytes_sent\":" + std::to_string(bytesOut) +
			       ",\"events_published\":" + std::to_string(events) + ",\"subscriptions\":" + subscriptions + "}}";
		};
		const std::string none = R"({"file_operations":0,"peer_network":0,"system":0,"alerts":0})";
		HttpResponse r = s.request("GET", "/ws/metrics");
		EXPECT_HTTP(r, 200, expected(0, 0, 0, 0, 0, 0, 0, 0, none));
		CPPUNIT_ASSERT_EQUAL(std::string("no-store"), headerOf(r, "Cache-Control"));

		// Three connections opened and closed one after another.
		for (int i = 0; i < 3; ++i)
		{
			ConnectionId c = s.connect();
			EXPECT_HTTP(s.request("GET", "/ws/metrics"), 200, expected(1, i + 1, 0, 0, 0, 0, 0, 0, none));
			s.host().disconnect(c, 1000);
		}
		EXPECT_HTTP(s.request("GET", "/ws/metrics"), 200, expected(0, 3, 0, 0, 0, 0, 0, 0, none));

		// Traffic: two subscriptions in, a pong out, an event out, a refused connection.
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		const std::string sub1 = R"({"type":"subscribe","topic":"file_operations"})";
		const std::string sub2 = R"({"type":"subscribe","data":"alerts"})";
		s.send(a, sub1);
		s.send(b, sub2);
		Frames pong = s.send(a, PING);
		HttpResponse published = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(202, published.status);
		Frames event = s.frames(a);
		ConnectionId refused = s.connect();
		Frames refusal = s.frames(refused);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), refusal.size());
		const std::size_t bytesIn = sub1.size() + sub2.size() + PING.size();
		const std::size_t bytesOut = pong.at(0).size() + event.at(0).size() + refusal[0].size();
		EXPECT_HTTP(s.request("GET", "/ws/metrics"), 200,
		            expected(2, 5, 1, 3, bytesIn, 3, bytesOut, 1,
		                     R"({"file_operations":1,"peer_network":0,"system":0,"alerts":1})"));
		s.host().advance(5000);
		CPPUNIT_ASSERT_EQUAL(std::string("5s"), stringField(s.metrics(), "uptime"));
	}

	void testStatus()
	{
		// Item 18 and §8.
		Server& s = server();
		ConnectionId c = s.connect();
		s.host().advance(300000);
		HttpResponse r = s.request("GET", "/ws/status");
		Poco::JSON::Object::Ptr body = parseObject(r.body);
		CPPUNIT_ASSERT_EQUAL(200, r.status);
		CPPUNIT_ASSERT_EQUAL(std::string("no-store"), headerOf(r, "Cache-Control"));
		CPPUNIT_ASSERT_EQUAL(std::string("server,timestamp,websocket"), keysOf(body));
		CPPUNIT_ASSERT_EQUAL(canonical(std::string(R"({"name":"PeerVault WebSocket API","status":"running",)"
		                                           R"("uptime":"5m0s","version":"1.0.0"})")),
		                     canonical(Poco::Dynamic::Var(body->getObject("server"))));
		CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(body, "timestamp"));
		Poco::JSON::Object::Ptr websocket = body->getObject("websocket");
		CPPUNIT_ASSERT_EQUAL(std::string("active_connections,endpoints"), keysOf(websocket));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(websocket, "active_connections"));
		std::set<std::string> endpoints;
		Poco::JSON::Array::Ptr list = websocket->getArray("endpoints");
		for (std::size_t i = 0; i < list->size(); ++i)
			endpoints.insert(list->getElement<std::string>(static_cast<unsigned>(i)));
		CPPUNIT_ASSERT(endpoints ==
		               std::set<std::string>({"/ws", "/ws/health", "/ws/metrics", "/ws/status", "/ws/publish"}));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), list->size());
		s.host().disconnect(c);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     integerField(parseObject(s.request("GET", "/ws/status").body)->getObject("websocket"),
		                                  "active_connections"));
	}

	void testNotFound()
	{
		// §1: exact paths; the rest is 404 NOT_FOUND with the envelope, and CORS headers.
		Server& s = server();
		for (const char* path :
		     {"/nope", "/ws/", "/ws/health/", "/ws/nope", "/", "/WS/health", "/ws/metrics/x", "/ws/publish/"})
		{
			HttpResponse r = s.request("GET", path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 404, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, canonical(errorJson("NOT_FOUND", "Not found", s.wall())),
			                             canonical(r.body));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		}
		EXPECT_HTTP_ERROR(s, s.request("POST", "/nope", "{}"), 404, "NOT_FOUND", "Not found");
		// GET /ws without the upgrade: 400.
		EXPECT_HTTP_ERROR(s, s.request("GET", "/ws"), 400, "INVALID_MESSAGE", "WebSocket upgrade required");
	}

	void testMethodNotAllowed()
	{
		// Item 19 and §1: 405 with the envelope and Allow.
		Server& s = server();
		for (const char* path : {"/ws/health", "/ws/metrics", "/ws/status"})
			for (const char* method : {"POST", "PUT", "DELETE", "PATCH"})
			{
				HttpResponse r = s.request(method, path, "{}");
				CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string(method) + " " + path, 405, r.status);
				CPPUNIT_ASSERT_EQUAL(canonical(errorJson("METHOD_NOT_ALLOWED", "Method not allowed", s.wall())),
				                     canonical(r.body));
				std::set<std::string> allow = listItems(headerOf(r, "Allow"));
				CPPUNIT_ASSERT_MESSAGE(headerOf(r, "Allow"), allow.count("GET") == 1 && allow.count("HEAD") == 1);
				CPPUNIT_ASSERT(allow.count("POST") == 0);
			}
		for (const char* method : {"GET", "HEAD", "PUT", "DELETE"})
		{
			HttpResponse r = s.request(method, "/ws/publish");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(method, 405, r.status);
			std::set<std::string> allow = listItems(headerOf(r, "Allow"));
			CPPUNIT_ASSERT_MESSAGE(headerOf(r, "Allow"), allow.count("POST") == 1 && allow.count("GET") == 0);
		}
		EXPECT_HTTP_ERROR(s, s.request("POST", "/ws", "{}"), 405, "METHOD_NOT_ALLOWED", "Method not allowed");
	}

	void testOptionsPreflight()
	{
		// Item 19 and §1.1: OPTIONS → 204 without a body, the CORS headers, no credentials.
		Server& s = server();
		for (const char* path : {"/ws", "/ws/health", "/ws/metrics", "/ws/status", "/ws/publish"})
		{
			HttpResponse r = s.request("OPTIONS", path, "", {{"Origin", "http://any.example"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 204, r.status);
			CPPUNIT_ASSERT_MESSAGE(path, r.body.empty());
			CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, OPTIONS"), headerOf(r, "Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL(std::string("Content-Type, Authorization"),
			                     headerOf(r, "Access-Control-Allow-Headers"));
			CPPUNIT_ASSERT_EQUAL(std::string("600"), headerOf(r, "Access-Control-Max-Age"));
			CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Credentials"));
		}
		// Without an Origin too, and on every other answer.
		HttpResponse r = s.request("OPTIONS", "/ws/metrics");
		CPPUNIT_ASSERT_EQUAL(204, r.status);
		CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		r = s.request("GET", "/ws/health");
		CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Credentials"));
		r = s.publish(UPLOAD, "");
		CPPUNIT_ASSERT_EQUAL(std::string("*"), headerOf(r, "Access-Control-Allow-Origin"));
	}

	void testCorsOriginList()
	{
		// §1.1: with a list, a listed Origin is echoed with Vary: Origin; unlisted origins get no
		// CORS headers; never an empty Allow-Origin, never credentials.
		Server& s = server({{"websocket.cors.origins", "http://ok.example, https://two.example:8443"}});
		for (const char* origin : {"http://ok.example", "https://two.example:8443", "HTTP://OK.Example"})
		{
			for (const char* method : {"GET", "OPTIONS"})
			{
				HttpResponse r = s.request(method, "/ws/health", "", {{"Origin", origin}});
				CPPUNIT_ASSERT_EQUAL(std::string(origin), headerOf(r, "Access-Control-Allow-Origin"));
				CPPUNIT_ASSERT_EQUAL(std::string("Origin"), headerOf(r, "Vary"));
				CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, OPTIONS"), headerOf(r, "Access-Control-Allow-Methods"));
				CPPUNIT_ASSERT_EQUAL(std::string("Content-Type, Authorization"),
				                     headerOf(r, "Access-Control-Allow-Headers"));
				CPPUNIT_ASSERT_EQUAL(std::string("600"), headerOf(r, "Access-Control-Max-Age"));
				CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Credentials"));
			}
		}
		for (const char* origin : {"http://evil.example", "https://ok.example", "http://ok.example:80", "null"})
		{
			for (const char* method : {"GET", "OPTIONS"})
			{
				HttpResponse r = s.request(method, "/ws/health", "", {{"Origin", origin}});
				std::vector<std::string> cors = corsHeaderNames(r);
				std::string names;
				for (const std::string& name : cors)
					names += " " + name;
				CPPUNIT_ASSERT_MESSAGE(std::string(method) + " Origin " + origin + " got" + names, cors.empty());
			}
		}
		// No Origin: nothing to echo, and never an empty Allow-Origin.
		HttpResponse r = s.request("GET", "/ws/health");
		CPPUNIT_ASSERT(!hasHeader(r, "Access-Control-Allow-Origin"));
	}

	void testCorsDisabled()
	{
		// §1.1: cors.enabled=false sends no CORS headers; the handshake check still applies.
		Server& s = server({{"websocket.cors.enabled", "false"}, {"websocket.cors.origins", "http://ok.example"}});
		for (const char* method : {"GET", "OPTIONS"})
			for (const char* origin : {"http://ok.example", "http://evil.example"})
			{
				HttpResponse r = s.request(method, "/ws/metrics", "", {{"Origin", origin}});
				CPPUNIT_ASSERT(corsHeaderNames(r).empty());
				CPPUNIT_ASSERT(!hasHeader(r, "Vary"));
			}
		CPPUNIT_ASSERT_EQUAL(204, s.request("OPTIONS", "/ws/metrics").status);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect("/ws", {{"Origin", "http://evil.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT(s.host().connect("/ws", {{"Origin", "http://ok.example"}}) != 0);
		Server& star = server({{"websocket.cors.enabled", "false"}});
		CPPUNIT_ASSERT(
		    corsHeaderNames(star.request("GET", "/ws/health", "", {{"Origin", "http://a.example"}})).empty());
	}

	void testOriginCheck()
	{
		// Item 26 and §1.1: an unlisted Origin is refused with 403 before the upgrade; no Origin
		// is always allowed; "*" allows every Origin.
		Server& s = server({{"websocket.cors.origins", "http://ok.example"}});
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect("/ws", {{"Origin", "http://evil.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(canonical(errorJson("ORIGIN_NOT_ALLOWED", "Origin not allowed", s.wall())),
		                     canonical(s.host().lastRejectBody()));
		ConnectionId ok = s.host().connect("/ws", {{"Origin", "http://ok.example"}});
		CPPUNIT_ASSERT(ok != 0);
		ConnectionId upper = s.host().connect("/ws", {{"Origin", "HTTP://OK.EXAMPLE"}});
		CPPUNIT_ASSERT(upper != 0);
		ConnectionId bare = s.host().connect("/ws");
		CPPUNIT_ASSERT(bare != 0);
		for (ConnectionId c : {ok, upper, bare})
			EXPECT_QUIET(s, c);
		// The refused upgrade is not a connection.
		Poco::JSON::Object::Ptr metrics = s.metrics();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), integerField(metrics, "total_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), integerField(metrics, "active_connections"));

		Server& any = server();
		CPPUNIT_ASSERT(any.host().connect("/ws", {{"Origin", "http://evil.example"}}) != 0);
	}

	// --- limits --------------------------------------------------------------------------------

	void testConnectionCap()
	{
		// Item 22 and §3.2: CONNECTION_REFUSED, then 1013; counted as rejected only.
		Server& s = server({{"websocket.limits.max_connections", "2"}});
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		ConnectionId c = s.connect();
		EXPECT_FRAMES(Frames{errorJson("CONNECTION_REFUSED", "Server is not accepting connections", s.wall())},
		              s.frames(c));
		EXPECT_CLOSE(s, c, 1013, "Connection limit reached");
		Poco::JSON::Object::Ptr metrics = s.metrics();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(metrics, "active_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(metrics, "total_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(metrics, "rejected_connections"));
		EXPECT_QUIET(s, a);
		EXPECT_QUIET(s, b);
		// A place freed is a place taken.
		s.host().disconnect(a);
		ConnectionId d = s.connect();
		EXPECT_QUIET(s, d);
		ConnectionId e = s.connect();
		EXPECT_CLOSE(s, e, 1013, "Connection limit reached");
		metrics = s.metrics();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(metrics, "active_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), integerField(metrics, "total_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(metrics, "rejected_connections"));
	}

	void testRateLimit()
	{
		// Item 21 and §7: 300 pings in one instant → 100 pongs, one RATE_LIMIT_EXCEEDED with
		// retryAfter 1, the connection stays open; a second later pings are answered again.
		Server& s = server({{"websocket.limits.messages_per_second", "100"}, {"websocket.limits.burst", "100"}});
		ConnectionId c = s.connect();
		for (int i = 0; i < 300; ++i)
			s.host().deliver(c, PING);
		Frames got = s.frames(c);
		int pongs = 0;
		Frames errors;
		for (const std::string& frame : got)
		{
			if (stringField(parseObject(frame), "type") == "pong")
				++pongs;
			else
				errors.push_back(frame);
		}
		CPPUNIT_ASSERT_EQUAL(100, pongs);
		EXPECT_FRAMES(Frames{errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 1)}, errors);
		EXPECT_OPEN(s, c);
		// Dropped messages are not processed: a subscribe in the flood does nothing.
		s.host().deliver(c, R"({"type":"subscribe","topic":"alerts"})");
		CPPUNIT_ASSERT(s.frames(c).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("alerts"));
		s.host().advance(1000);
		const std::string id = s.clientIdOf(c);
		CPPUNIT_ASSERT(isClientId(id));
		EXPECT_OPEN(s, c);
	}

	void testRateLimitErrorSpacing()
	{
		// §7: at most one RATE_LIMIT_EXCEEDED per second; the bucket refills at the rate.
		Server& s = server();
		ConnectionId c = s.connect();
		auto flood = [&](int count, int& pongs, int& errors) {
			pongs = errors = 0;
			for (int i = 0; i < count; ++i)
				s.host().deliver(c, PING);
			for (const std::string& frame : s.frames(c))
			{
				const std::string type = stringField(parseObject(frame), "type");
				if (type == "pong")
					++pongs;
				else if (canonical(frame) == canonical(errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 1)))
					++errors;
				else
					CPPUNIT_FAIL("unexpected frame " + frame);
			}
		};
		int pongs = 0, errors = 0;
		flood(200, pongs, errors);
		CPPUNIT_ASSERT_EQUAL(100, pongs);
		CPPUNIT_ASSERT_EQUAL(1, errors);
		s.host().advance(500);
		flood(100, pongs, errors);
		CPPUNIT_ASSERT_EQUAL(50, pongs);
		CPPUNIT_ASSERT_EQUAL(0, errors);
		s.host().advance(500);
		flood(100, pongs, errors);
		CPPUNIT_ASSERT_EQUAL(50, pongs);
		CPPUNIT_ASSERT_EQUAL(1, errors);
		s.host().advance(999);
		flood(150, pongs, errors);
		CPPUNIT_ASSERT_EQUAL(99, pongs);
		CPPUNIT_ASSERT_EQUAL(0, errors);
		EXPECT_OPEN(s, c);
	}

	void testRateLimitRetryAfterRoundsUp()
	{
		// §7: retryAfter is the time until the bucket holds a token, rounded up, at least 1.
		Server& s = server({{"websocket.limits.messages_per_second", "0.5"}, {"websocket.limits.burst", "1"}});
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(c, PING).size());
		EXPECT_FRAMES(Frames{errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 2)}, s.send(c, PING));
		s.host().advance(2000);
		CPPUNIT_ASSERT_EQUAL(std::string("pong"), stringField(parseObject(s.send(c, PING).at(0)), "type"));
	}

	void testSustainedFloodCloses()
	{
		// Item 21 and §7: more than 1000 drops within 10 s → 1008 "Rate limit exceeded".
		Server& s = server();
		ConnectionId c = s.connect();
		ConnectionId bystander = s.connect();
		for (int i = 0; i < 1100; ++i) // 100 answered, 1000 dropped
			s.host().deliver(c, PING);
		EXPECT_OPEN(s, c);
		s.host().deliver(c, PING); // the 1001st drop
		EXPECT_CLOSE(s, c, 1008, "Rate limit exceeded");
		Frames got = s.frames(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(101), got.size());
		EXPECT_QUIET(s, bystander);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(s.metrics(), "active_connections"));
	}

	void testFloodWindow()
	{
		// §7: the 1000 drops count within any 10 s.
		Server& s = server();
		ConnectionId slow = s.connect();
		ConnectionId fast = s.connect();
		for (ConnectionId c : {slow, fast})
			for (int i = 0; i < 700; ++i) // 100 answered, 600 dropped
				s.host().deliver(c, PING);
		s.host().advance(9500);
		for (int i = 0; i < 500; ++i) // 100 answered (bucket full again), 400 dropped: 1000 in 9.5 s
			s.host().deliver(fast, PING);
		EXPECT_OPEN(s, fast);
		s.host().deliver(fast, PING);
		EXPECT_CLOSE(s, fast, 1008, "Rate limit exceeded");
		s.host().advance(1000); // the first 600 drops of slow are now 10.5 s old
		for (int i = 0; i < 1000; ++i)
			s.host().deliver(slow, PING);
		EXPECT_OPEN(s, slow);
	}

	void testControlPings()
	{
		// §3.4 and §7: a client Ping is answered with a Pong echoing its payload, and counts
		// against the same bucket as data frames; it is not a data frame in the counters.
		Server& s = server();
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.host().ping(c, "hello"));
		CPPUNIT_ASSERT(s.host().ping(c, ""));
		std::vector<std::string> pongs = s.host().takePongs(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), pongs.size());
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), pongs[0]);
		CPPUNIT_ASSERT_EQUAL(std::string(""), pongs[1]);
		CPPUNIT_ASSERT(s.frames(c).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(s.metrics(), "messages_received"));
		for (int i = 0; i < 98; ++i)
			s.host().ping(c, "p");
		CPPUNIT_ASSERT_EQUAL(std::size_t(98), s.host().takePongs(c).size());
		// The bucket is empty: the next ping (control or data) is dropped with the error.
		s.host().ping(c, "over");
		CPPUNIT_ASSERT(s.host().takePongs(c).empty());
		EXPECT_FRAMES(Frames{errorJson("RATE_LIMIT_EXCEEDED", RATE_MESSAGE, s.wall(), 1)}, s.frames(c));
		CPPUNIT_ASSERT(s.send(c, PING).empty());
		s.host().advance(10);
		s.host().ping(c, "again");
		std::vector<std::string> again = s.host().takePongs(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), again.size());
		CPPUNIT_ASSERT_EQUAL(std::string("again"), again[0]);
		// Both kinds of ping work side by side.
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(c, PING).size());
		EXPECT_OPEN(s, c);
	}

	void testMessageSize()
	{
		// Item 20 and §4: up to max_message_size accepted; beyond, 1009 "Message too big".
		Server& s = server({{"websocket.limits.max_message_size", "64"}});
		ConnectionId c = s.connect();
		std::string big = R"({"type":"ping","pad":")";
		big += std::string(64 - big.size() - 2, 'x') + "\"}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(64), big.size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(c, big).size());
		big.insert(big.size() - 2, "x");
		CPPUNIT_ASSERT(s.send(c, big).empty());
		EXPECT_CLOSE(s, c, 1009, "Message too big");
		// The default is 1 MiB.
		Server& d = server();
		ConnectionId e = d.connect();
		std::string mib = R"({"type":"ping","pad":")";
		mib += std::string(1048576 - mib.size() - 2, 'x') + "\"}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), d.send(e, mib).size());
		mib.insert(mib.size() - 2, "x");
		d.send(e, mib);
		EXPECT_CLOSE(d, e, 1009, "Message too big");
	}

	void testSlowConsumer()
	{
		// §7: a subscriber whose queue is full is closed 1013 "Slow consumer"; others go on.
		Server& s = server();
		ConnectionId slow = s.connect();
		ConnectionId ok = s.connect();
		s.subscribe(slow, "file_operations");
		s.subscribe(ok, "file_operations");
		s.host().setSendResult(slow, SendResult::DROPPED);
		HttpResponse r = s.publish(UPLOAD);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(r.body), "delivered"));
		EXPECT_CLOSE(s, slow, 1013, "Slow consumer");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(ok).size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("file_operations"));
		CPPUNIT_ASSERT_EQUAL(200, s.request("GET", "/ws/health").status);
	}

	void testPongTimeout()
	{
		// §3.4: silence past pong_wait closes 1001 "Pong timeout".
		Server& s = server({{"websocket.timeouts.ping_period", "1s"}, {"websocket.timeouts.pong_wait", "2s"}});
		ConnectionId c = s.connect();
		s.host().idleOut(c);
		EXPECT_CLOSE(s, c, 1001, "Pong timeout");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(s.metrics(), "active_connections"));
	}

	// --- authentication ------------------------------------------------------------------------

	void testRequiredHandshakeTokens()
	{
		// Item 27: ?token=, Authorization: Bearer, static tokens and HS256 JWTs; no frame after.
		Server& s = server({{"websocket.auth.mode", "required"}});
		const std::string jwt = Hs256::sign(JWT_SECRET, R"({"sub":"alice","scope":"read","exp":)" +
		                                                    std::to_string(s.wallSeconds() + 3600) + "}");
		std::vector<ConnectionId> ids = {
		    s.connect("token=t1"),
		    s.connect("", {{"Authorization", "Bearer t1"}}),
		    s.connect("token=" + jwt),
		    s.connect("", {{"Authorization", "Bearer " + jwt}}),
		    s.connect("token=t1", {{"Authorization", "Bearer bad"}}), // the query wins
		};
		for (ConnectionId c : ids)
		{
			CPPUNIT_ASSERT(s.frames(c).empty());
			// Authenticated: a subscribe works, and a further auth is refused.
			s.subscribe(c, "system");
			EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Already authenticated", s.wall())},
			              s.send(c, R"({"type":"auth","data":{"token":"t1"}})"));
			EXPECT_QUIET(s, c);
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5), s.subscribers("system"));
		// Past the auth timeout they stay.
		s.host().advance(11000);
		for (ConnectionId c : ids)
			EXPECT_OPEN(s, c);
	}

	void testRequiredHandshakeRefusals()
	{
		// Item 27: a bad, expired, unsigned or foreign token → AUTH_FAILED, then 1008.
		Server& s = server({{"websocket.auth.mode", "required"}});
		const std::int64_t now = s.wallSeconds();
		const std::vector<std::string> bad = {
		    "bad",
		    Hs256::sign(JWT_SECRET, R"({"sub":"alice","exp":)" + std::to_string(now - 300) + "}"),
		    unsignedJwt(R"({"sub":"alice","exp":)" + std::to_string(now + 3600) + "}"),
		    Hs256::sign(std::string(32, 'z'), R"({"sub":"alice","exp":)" + std::to_string(now + 3600) + "}"),
		    Hs256::sign(JWT_SECRET, R"({"sub":"alice"})"), // no exp
		    Hs256::sign(JWT_SECRET, R"({"sub":"alice","exp":)" + std::to_string(now + 3600) +
		                                ",\"nbf\":" + std::to_string(now + 600) + "}"), // not yet
		};
		for (const std::string& token : bad)
		{
			for (int form = 0; form < 2; ++form)
			{
				ConnectionId c =
				    form == 0 ? s.connect("token=" + token) : s.connect("", {{"Authorization", "Bearer " + token}});
				EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, s.wall())}, s.frames(c));
				EXPECT_CLOSE(s, c, 1008, "Authentication failed");
			}
		}
		// Within the 60 s leeway an expired JWT still works.
		ConnectionId lenient =
		    s.connect("token=" + Hs256::sign(JWT_SECRET, R"({"sub":"alice","exp":)" + std::to_string(now - 30) + "}"));
		EXPECT_QUIET(s, lenient);
		s.subscribe(lenient, "alerts");
	}

	void testJwtIssuerAudience()
	{
		// §3.3: iss and aud are checked when configured; aud may be one of an array.
		Server& s = server({{"websocket.auth.mode", "required"},
		                    {"websocket.auth.jwt_issuer", "peervault"},
		                    {"websocket.auth.jwt_audience", "clients"}});
		const std::string exp = std::to_string(s.wallSeconds() + 3600);
		for (const std::string& claims :
		     {R"({"sub":"a","iss":"peervault","aud":"clients","exp":)" + exp + "}",
		      R"({"sub":"a","iss":"peervault","aud":["other","clients"],"exp":)" + exp + "}"})
		{
			ConnectionId c = s.connect("token=" + Hs256::sign(JWT_SECRET, claims));
			CPPUNIT_ASSERT_MESSAGE(claims, s.frames(c).empty());
			EXPECT_OPEN(s, c);
		}
		for (const std::string& claims : {R"({"sub":"a","aud":"clients","exp":)" + exp + "}",
		                                  R"({"sub":"a","iss":"other","aud":"clients","exp":)" + exp + "}",
		                                  R"({"sub":"a","iss":"peervault","exp":)" + exp + "}",
		                                  R"({"sub":"a","iss":"peervault","aud":"others","exp":)" + exp + "}"})
		{
			ConnectionId c = s.connect("token=" + Hs256::sign(JWT_SECRET, claims));
			EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, s.wall())}, s.frames(c));
			EXPECT_CLOSE(s, c, 1008, "Authentication failed");
		}
	}

	void testRequiredPending()
	{
		// Item 28: without a token only ping and auth; anything else → "Authentication required"
		// and 1008.
		Server& s = server({{"websocket.auth.mode", "required"}});
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.frames(c).empty());
		CPPUNIT_ASSERT(isClientId(s.clientIdOf(c))); // ping is allowed while pending
		EXPECT_OPEN(s, c);
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Authentication required", s.wall())},
		              s.send(c, R"({"type":"subscribe","topic":"system"})"));
		EXPECT_CLOSE(s, c, 1008, "Authentication failed");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("system"));

		for (const char* message :
		     {R"({"type":"unsubscribe","topic":"system"})", R"({"type":"publish"})", R"({"type":"pong"})"})
		{
			ConnectionId other = s.connect();
			EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Authentication required", s.wall())},
			              s.send(other, message));
			EXPECT_CLOSE(s, other, 1008, "Authentication failed");
		}

		// auth then subscribe works.
		ConnectionId d = s.connect();
		const std::string did = s.clientIdOf(d);
		EXPECT_FRAMES(Frames{authenticatedJson("\"svc\"", "[]", did, s.wall())},
		              s.send(d, R"({"type":"auth","data":{"token":"t1"}})"));
		s.subscribe(d, "system");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("system"));
		EXPECT_QUIET(s, d);
	}

	void testAuthTimeout()
	{
		// Item 28: still pending after auth.timeout → "Authentication timeout" and 1008.
		Server& s = server({{"websocket.auth.mode", "required"}, {"websocket.auth.timeout", "1s"}});
		ConnectionId pending = s.connect();
		ConnectionId authed = s.connect();
		ConnectionId byToken = s.connect("token=t1");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(authed, R"({"type":"auth","token":"t1"})").size());
		s.host().advance(500);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(pending, PING).size()); // a ping does not authenticate
		s.host().advance(499);
		EXPECT_OPEN(s, pending);
		CPPUNIT_ASSERT(s.frames(pending).empty());
		s.host().advance(1);
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Authentication timeout", s.wall())}, s.frames(pending));
		EXPECT_CLOSE(s, pending, 1008, "Authentication failed");
		EXPECT_QUIET(s, authed);
		EXPECT_QUIET(s, byToken);

		// The default is 10 s.
		Server& d = server({{"websocket.auth.mode", "required"}});
		ConnectionId c = d.connect();
		d.host().advance(9999);
		EXPECT_OPEN(d, c);
		d.host().advance(1);
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Authentication timeout", d.wall())}, d.frames(c));
		EXPECT_CLOSE(d, c, 1008, "Authentication failed");
	}

	void testAuthMessageForms()
	{
		// §3.3: data.token, data as the token, a top-level token; the reply names the identity.
		Server& s = server({{"websocket.auth.mode", "required"}});
		const std::string jwt = Hs256::sign(JWT_SECRET, R"({"sub":"alice","scope":"admin publish","exp":)" +
		                                                    std::to_string(s.wallSeconds() + 3600) + "}");
		const std::string jwtArray = Hs256::sign(JWT_SECRET, R"({"sub":"bob","scopes":["read","admin"],"exp":)" +
		                                                         std::to_string(s.wallSeconds() + 3600) + "}");
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {R"({"type":"auth","data":{"token":"t1"}})", R"("svc")"},
		    {R"({"type":"auth","data":"t1"})", R"("svc")"},
		    {R"({"type":"auth","token":"t1"})", R"("svc")"},
		    {R"({"type":"auth","data":{"token":"admin-token"}})", R"("root")"},
		    {R"({"type":"auth","data":{"token":")" + jwt + "\"}}", R"("alice")"},
		    {R"({"type":"auth","data":")" + jwtArray + "\"}", R"("bob")"},
		};
		const std::vector<std::string> scopes = {
		    "[]", "[]", "[]", R"(["admin"])", R"(["admin","publish"])", R"(["read","admin"])"};
		for (std::size_t i = 0; i < cases.size(); ++i)
		{
			ConnectionId c = s.connect();
			const std::string id = s.clientIdOf(c);
			EXPECT_FRAMES(Frames{authenticatedJson(cases[i].second, scopes[i], id, s.wall())},
			              s.send(c, cases[i].first));
			s.subscribe(c, "peer_network");
			EXPECT_QUIET(s, c);
		}
	}

	void testAuthMessageFailures()
	{
		// §3.3: a bad or missing token in an auth message: required closes 1008, optional stays.
		Server& required = server({{"websocket.auth.mode", "required"}});
		Server& optional = server({{"websocket.auth.mode", "optional"}});
		for (const char* message :
		     {R"({"type":"auth","data":{"token":"bad"}})", R"({"type":"auth"})", R"({"type":"auth","data":{}})",
		      R"({"type":"auth","data":{"token":""}})", R"({"type":"auth","data":{"token":5}})"})
		{
			ConnectionId r = required.connect();
			EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, required.wall())},
			              required.send(r, message));
			EXPECT_CLOSE(required, r, 1008, "Authentication failed");
			ConnectionId o = optional.connect();
			EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, optional.wall())},
			              optional.send(o, message));
			EXPECT_QUIET(optional, o);
			// Still anonymous, so an auth may follow.
			EXPECT_FRAMES(Frames{authenticatedJson("\"svc\"", "[]", optional.clientIdOf(o), optional.wall())},
			              optional.send(o, R"({"type":"auth","token":"t1"})"));
		}
	}

	void testAlreadyAuthenticated()
	{
		// Item 28: a second auth → INVALID_MESSAGE "Already authenticated"; the connection stays.
		for (const char* mode : {"required", "optional"})
		{
			Server& s = server({{"websocket.auth.mode", mode}});
			ConnectionId c = s.connect();
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(c, R"({"type":"auth","data":"t1"})").size());
			EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Already authenticated", s.wall())},
			              s.send(c, R"({"type":"auth","data":"admin-token"})"));
			EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Already authenticated", s.wall())},
			              s.send(c, R"({"type":"auth","data":"bad"})"));
			EXPECT_QUIET(s, c);
			ConnectionId h = s.connect("token=admin-token");
			EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Already authenticated", s.wall())},
			              s.send(h, R"({"type":"auth","data":"t1"})"));
			EXPECT_QUIET(s, h);
		}
	}

	void testOptionalMode()
	{
		// Item 29: a bad handshake token → AUTH_FAILED first, then open as anonymous; no token →
		// anonymous; a good token → authenticated.
		Server& s = server({{"websocket.auth.mode", "optional"}});
		ConnectionId bad = s.connect("token=bad");
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, s.wall())}, s.frames(bad));
		EXPECT_QUIET(s, bad);
		s.subscribe(bad, "file_operations");
		ConnectionId badHeader = s.connect("", {{"Authorization", "Bearer bad"}});
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", BAD_CREDENTIALS, s.wall())}, s.frames(badHeader));
		EXPECT_QUIET(s, badHeader);

		ConnectionId anonymous = s.connect();
		CPPUNIT_ASSERT(s.frames(anonymous).empty());
		s.subscribe(anonymous, "file_operations");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(parseObject(s.publish(UPLOAD).body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(anonymous).size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(bad).size());
		s.host().advance(20000); // no auth timeout in optional mode
		EXPECT_QUIET(s, anonymous);
		EXPECT_QUIET(s, bad);

		ConnectionId good = s.connect("token=t1");
		CPPUNIT_ASSERT(s.frames(good).empty());
		EXPECT_FRAMES(Frames{errorJson("INVALID_MESSAGE", "Already authenticated", s.wall())},
		              s.send(good, R"({"type":"auth","data":"t1"})"));
	}

	void testOffMode()
	{
		// Item 32 and §3.3: tokens are ignored; auth replies {"subject":null,"scopes":[]};
		// topic_scopes do not apply.
		Server& s = server({{"websocket.auth.topic_scopes", R"({"alerts":"admin"})"}});
		ConnectionId c = s.connect("token=bogus");
		CPPUNIT_ASSERT(s.frames(c).empty());
		const std::string id = s.clientIdOf(c);
		for (const char* message :
		     {R"({"type":"auth","data":{"token":"t1"}})", R"({"type":"auth","data":"bad"})", R"({"type":"auth"})"})
			EXPECT_FRAMES(Frames{authenticatedJson("null", "[]", id, s.wall())}, s.send(c, message));
		s.subscribe(c, "alerts");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(s.publish(SECURITY_ALERT).body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());
		ConnectionId header = s.connect("", {{"Authorization", "Bearer bogus"}});
		EXPECT_QUIET(s, header);
		s.host().advance(20000);
		EXPECT_QUIET(s, c);
	}

	void testTopicScopes()
	{
		// Item 30: topic_scopes {"alerts":"admin"}: anonymous and scope-less refused (stays open),
		// admin allowed; other topics open.
		Server& s =
		    server({{"websocket.auth.mode", "optional"}, {"websocket.auth.topic_scopes", R"({"alerts":"admin"})"}});
		const std::string notAuthorized = "Not authorized for topic 'alerts'";
		ConnectionId anonymous = s.connect();
		ConnectionId svc = s.connect("token=t1");
		ConnectionId admin = s.connect("token=admin-token");
		ConnectionId later = s.connect();
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", notAuthorized, s.wall())},
		              s.send(anonymous, R"({"type":"subscribe","topic":"alerts"})"));
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", notAuthorized, s.wall())},
		              s.send(anonymous, R"({"type":"subscribe","data":{"topic":"alerts"}})"));
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", notAuthorized, s.wall())},
		              s.send(svc, R"({"type":"subscribe","data":"alerts"})"));
		EXPECT_OPEN(s, anonymous);
		EXPECT_OPEN(s, svc);
		s.subscribe(admin, "alerts");
		s.subscribe(anonymous, "peer_network");
		s.send(later, R"({"type":"auth","data":"admin-token"})");
		s.subscribe(later, "alerts");

		HttpResponse r = s.publish(SECURITY_ALERT);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(parseObject(r.body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(admin).size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(later).size());
		EXPECT_QUIET(s, anonymous);
		EXPECT_QUIET(s, svc);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("peer_network"));

		// Required mode applies them too.
		Server& req =
		    server({{"websocket.auth.mode", "required"}, {"websocket.auth.topic_scopes", R"({"alerts":"admin"})"}});
		ConnectionId t1 = req.connect("token=t1");
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", notAuthorized, req.wall())},
		              req.send(t1, R"({"type":"subscribe","topic":"alerts"})"));
		EXPECT_QUIET(req, t1);
		req.subscribe(req.connect("token=admin-token"), "alerts");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), req.subscribers("alerts"));
	}

	void testJwtExpiryRequired()
	{
		// Item 31: a JWT expiring in 2 s with no leeway → "Token expired", then 1008, shortly after.
		Server& s = server({{"websocket.auth.mode", "required"}, {"websocket.auth.jwt_leeway", "0"}});
		const std::string jwt =
		    Hs256::sign(JWT_SECRET, R"({"sub":"alice","exp":)" + std::to_string(s.wallSeconds() + 2) + "}");
		ConnectionId byHandshake = s.connect("token=" + jwt);
		ConnectionId byMessage = s.connect();
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.send(byMessage, R"({"type":"auth","data":")" + jwt + "\"}").size());
		ConnectionId staticToken = s.connect("token=t1");
		s.host().advance(1990);
		EXPECT_QUIET(s, byHandshake);
		EXPECT_QUIET(s, byMessage);
		s.host().advance(110);
		for (ConnectionId c : {byHandshake, byMessage})
		{
			EXPECT_LOOSE_FRAMES(Frames{errorJson("AUTH_FAILED", "Token expired", s.wall())}, s.frames(c));
			EXPECT_CLOSE(s, c, 1008, "Authentication failed");
		}
		EXPECT_QUIET(s, staticToken);
	}

	void testJwtExpiryLeeway()
	{
		// §3.3: exp is checked with the leeway (60 s by default) on a live connection too.
		Server& s = server({{"websocket.auth.mode", "required"}});
		const std::string jwt =
		    Hs256::sign(JWT_SECRET, R"({"sub":"alice","exp":)" + std::to_string(s.wallSeconds() + 2) + "}");
		ConnectionId c = s.connect("token=" + jwt);
		s.host().advance(61900);
		EXPECT_QUIET(s, c);
		s.host().advance(200);
		EXPECT_LOOSE_FRAMES(Frames{errorJson("AUTH_FAILED", "Token expired", s.wall())}, s.frames(c));
		EXPECT_CLOSE(s, c, 1008, "Authentication failed");
	}

	void testJwtExpiryOptional()
	{
		// §3.3: in optional mode an expired JWT makes the connection anonymous; it loses its
		// subscriptions to protected topics, keeps the open ones, and stays open.
		Server& s = server({{"websocket.auth.mode", "optional"},
		                    {"websocket.auth.jwt_leeway", "0"},
		                    {"websocket.auth.topic_scopes", R"({"alerts":"admin"})"}});
		const std::string jwt = Hs256::sign(JWT_SECRET, R"({"sub":"alice","scope":"admin","exp":)" +
		                                                    std::to_string(s.wallSeconds() + 2) + "}");
		ConnectionId c = s.connect("token=" + jwt);
		s.subscribe(c, "alerts");
		s.subscribe(c, "file_operations");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("alerts"));
		s.host().advance(2100);
		EXPECT_LOOSE_FRAMES(Frames{errorJson("AUTH_FAILED", "Token expired", s.wall())}, s.frames(c));
		EXPECT_OPEN(s, c);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.subscribers("alerts"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("file_operations"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(parseObject(s.publish(SECURITY_ALERT).body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(s.publish(UPLOAD).body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Not authorized for topic 'alerts'", s.wall())},
		              s.send(c, R"({"type":"subscribe","topic":"alerts"})"));
		EXPECT_QUIET(s, c);
	}

	// --- metrics ticker and alerts -------------------------------------------------------------

	void testTickerOnlyForSubscribers()
	{
		// §6.2: system_metrics each interval, only while someone is subscribed to system.
		Server& s = server({{"websocket.metrics.interval", "1s"}});
		ConnectionId watcher = s.connect();
		ConnectionId other = s.connect();
		s.subscribe(other, "file_operations");
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.frames(watcher).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(s.metrics(), "events_published"));
		s.subscribe(watcher, "system");
		s.host().advance(999);
		CPPUNIT_ASSERT(s.frames(watcher).empty());
		s.host().advance(1);
		Frames got = s.frames(watcher);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		Poco::JSON::Object::Ptr frame = parseObject(got[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("system_metrics"), stringField(frame, "type"));
		CPPUNIT_ASSERT_EQUAL(std::string("system"), stringField(frame, "topic"));
		CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(frame, "timestamp"));
		CPPUNIT_ASSERT(s.frames(other).empty());
		s.host().advance(3000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), s.frames(watcher).size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), integerField(s.metrics(), "events_published"));
		s.send(watcher, R"({"type":"unsubscribe","topic":"system"})");
		s.host().advance(3000);
		CPPUNIT_ASSERT(s.frames(watcher).empty());
		CPPUNIT_ASSERT(s.frames(other).empty());
	}

	void testSystemMetricsShape()
	{
		// Item 15 and §6.2: the keys, integer types and the figures this test can know exactly.
		Server& s = server({{"websocket.metrics.interval", "1s"}});
		ConnectionId watcher = s.connect();
		ConnectionId other = s.connect();
		s.host().advance(1000); // a first tick with nobody subscribed
		const std::string subscribe = R"({"type":"subscribe","topic":"system"})";
		s.send(watcher, subscribe);
		Frames pong = s.send(other, PING);
		s.host().ping(other, "control frames are not data frames");
		s.host().takePongs(other);
		s.host().advance(1000);
		Frames got = s.frames(watcher);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		Poco::JSON::Object::Ptr frame = parseObject(got[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("data,timestamp,topic,type"), keysOf(frame));
		Poco::JSON::Object::Ptr data = frame->getObject("data");
		CPPUNIT_ASSERT_EQUAL(std::string("network,performance,storage,timestamp"), keysOf(data));
		CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(data, "timestamp"));

		Poco::JSON::Object::Ptr storage = data->getObject("storage");
		CPPUNIT_ASSERT_EQUAL(std::string("availableSpace,totalSpace,usedSpace"), keysOf(storage));
		const std::int64_t total = integerField(storage, "totalSpace");
		CPPUNIT_ASSERT(total > 0);
		CPPUNIT_ASSERT(total >= integerField(storage, "availableSpace"));
		CPPUNIT_ASSERT(total >= integerField(storage, "usedSpace"));
		CPPUNIT_ASSERT(integerField(storage, "availableSpace") >= 0);

		Poco::JSON::Object::Ptr network = data->getObject("network");
		CPPUNIT_ASSERT_EQUAL(std::string("activeConnections,bytesReceived,bytesSent,messagesPerSecond,"
		                                 "messagesReceived,messagesSent,totalBytesTransferred,totalConnections"),
		                     keysOf(network));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(network, "activeConnections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(network, "totalConnections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(network, "messagesReceived"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(subscribe.size() + PING.size()), integerField(network, "bytesReceived"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(network, "messagesSent"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(pong.at(0).size()), integerField(network, "bytesSent"));
		CPPUNIT_ASSERT_EQUAL(integerField(network, "bytesSent") + integerField(network, "bytesReceived"),
		                     integerField(network, "totalBytesTransferred"));
		CPPUNIT_ASSERT_DOUBLES_EQUAL(3.0, numberField(network, "messagesPerSecond"), 1e-9);

		Poco::JSON::Object::Ptr performance = data->getObject("performance");
		CPPUNIT_ASSERT_EQUAL(std::string("averageResponseTime,cpuUsage,memoryRss,memoryUsage,requestsPerSecond,uptime"),
		                     keysOf(performance));
		CPPUNIT_ASSERT(integerField(performance, "memoryRss") > 0);
		CPPUNIT_ASSERT(numberField(performance, "memoryUsage") > 0);
		CPPUNIT_ASSERT(numberField(performance, "memoryUsage") < 100);
		CPPUNIT_ASSERT(numberField(performance, "cpuUsage") >= 0);
		CPPUNIT_ASSERT(numberField(performance, "averageResponseTime") >= 0);
		CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, numberField(performance, "requestsPerSecond"), 1e-9);
		CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, numberField(performance, "uptime"), 1e-9);

		// The next tick counts the first frame as sent: totalBytesTransferred grows.
		s.host().advance(1000);
		Frames next = s.frames(watcher);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), next.size());
		Poco::JSON::Object::Ptr network2 = parseObject(next[0])->getObject("data")->getObject("network");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(network2, "messagesSent"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(pong[0].size() + got[0].size()), integerField(network2, "bytesSent"));
		CPPUNIT_ASSERT(integerField(network2, "totalBytesTransferred") >
		               integerField(network, "totalBytesTransferred"));
		CPPUNIT_ASSERT_DOUBLES_EQUAL(1.0, numberField(network2, "messagesPerSecond"), 1e-9);
	}

	void testDetailedMetrics()
	{
		// Item 15 and §5.3: with metrics.detailed, storage_metrics, network_metrics and
		// performance_metrics follow each system_metrics, each with its part's fields.
		Server& s = server({{"websocket.metrics.interval", "1s"}, {"websocket.metrics.detailed", "true"}});
		ConnectionId c = s.connect();
		ConnectionId files = s.connect();
		s.subscribe(c, "system");
		s.subscribe(files, "file_operations");
		for (int tick = 0; tick < 2; ++tick)
		{
			s.host().advance(1000);
			Frames got = s.frames(c);
			CPPUNIT_ASSERT_EQUAL(std::size_t(4), got.size());
			Poco::JSON::Object::Ptr summary = parseObject(got[0]);
			CPPUNIT_ASSERT_EQUAL(std::string("system_metrics"), stringField(summary, "type"));
			const char* types[] = {"storage_metrics", "network_metrics", "performance_metrics"};
			const char* parts[] = {"storage", "network", "performance"};
			for (int i = 0; i < 3; ++i)
			{
				Poco::JSON::Object::Ptr detail = parseObject(got[i + 1]);
				CPPUNIT_ASSERT_EQUAL(std::string(types[i]), stringField(detail, "type"));
				CPPUNIT_ASSERT_EQUAL(std::string("system"), stringField(detail, "topic"));
				CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(detail, "timestamp"));
				Poco::JSON::Object::Ptr data = detail->getObject("data");
				CPPUNIT_ASSERT_EQUAL(timestampOf(s.wall()), stringField(data, "timestamp"));
				data->remove("timestamp");
				CPPUNIT_ASSERT_EQUAL(canonical(Poco::Dynamic::Var(summary->getObject("data")->getObject(parts[i]))),
				                     canonical(Poco::Dynamic::Var(data)));
			}
		}
		CPPUNIT_ASSERT(s.frames(files).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(8), integerField(s.metrics(), "events_published"));
	}

	void testTickerDefaultAndDisabled()
	{
		// §6.2: the default interval is 5 s, the first tick one interval after start; 0 disables.
		Server& s = server({{"websocket.metrics.interval", "5s"}});
		ConnectionId c = s.connect();
		s.subscribe(c, "system");
		s.host().advance(4999);
		CPPUNIT_ASSERT(s.frames(c).empty());
		s.host().advance(1);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());
		Server& off = server({{"websocket.metrics.interval", "0"}});
		ConnectionId d = off.connect();
		off.subscribe(d, "system");
		off.host().advance(60000);
		CPPUNIT_ASSERT(off.frames(d).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(off.metrics(), "events_published"));
	}

	void testConnectionUsageAlertEdge()
	{
		// Item 16 and §6.3: with max_connections 1000 and a warning at 0.15 %, a second
		// connection raises exactly one warning; nothing while unchanged; "back to normal" after a
		// close. The other metrics are disabled so that the host's own load cannot interfere.
		Server& s = alertServer({});
		ConnectionId monitor = s.connect();
		s.subscribe(monitor, "alerts");
		s.host().advance(2000);
		CPPUNIT_ASSERT(s.frames(monitor).empty());
		ConnectionId second = s.connect();
		s.host().advance(2000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"warning","message":"High connection usage detected",)"
		                                     R"("metric":"connection_usage","value":0.2,"threshold":0.15)",
		                                     s.wall())},
		                    s.frames(monitor));
		s.host().advance(3000);
		CPPUNIT_ASSERT(s.frames(monitor).empty());
		CPPUNIT_ASSERT(s.frames(second).empty());
		s.host().disconnect(second);
		s.host().advance(2000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"info","message":"Connection usage back to normal",)"
		                                     R"("metric":"connection_usage","value":0.1,"threshold":0.15)",
		                                     s.wall())},
		                    s.frames(monitor));
		s.host().advance(3000);
		EXPECT_QUIET(s, monitor);
	}

	void testConnectionUsageCritical()
	{
		// §6.3: to critical and back down to warning, each once, with their thresholds.
		Server& s = alertServer({{"websocket.metrics.thresholds.connection_usage.critical", "0.25"}});
		ConnectionId monitor = s.connect();
		s.subscribe(monitor, "alerts");
		ConnectionId second = s.connect();
		ConnectionId third = s.connect();
		s.host().advance(1000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"critical","message":"Critical connection usage detected",)"
		                                     R"("metric":"connection_usage","value":0.3,"threshold":0.25)",
		                                     s.wall())},
		                    s.frames(monitor));
		s.host().disconnect(third);
		s.host().advance(1000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"warning","message":"High connection usage detected",)"
		                                     R"("metric":"connection_usage","value":0.2,"threshold":0.15)",
		                                     s.wall())},
		                    s.frames(monitor));
		s.host().advance(2000);
		CPPUNIT_ASSERT(s.frames(monitor).empty());
		EXPECT_OPEN(s, second);
	}

	// --- shutdown ------------------------------------------------------------------------------

	void testStopping()
	{
		// Item 25 and §3.5: stopping() closes every client 1001 "Server shutting down"; health is
		// 503 "unhealthy", status "stopping", the pipeline "stopped"; a new connection is refused.
		Server& s = server();
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		s.subscribe(a, "system");
		s.plugin().stopping();
		for (ConnectionId c : {a, b})
		{
			EXPECT_CLOSE(s, c, 1001, "Server shutting down");
			CPPUNIT_ASSERT(s.frames(c).empty());
		}
		EXPECT_HTTP(s.request("GET", "/ws/health"), 503,
		            R"({"status":"unhealthy","timestamp":)" + quote(timestampOf(s.wall())) +
		                R"(,"uptime":"0s","version":"1.0.0"})");
		Poco::JSON::Object::Ptr status = parseObject(s.request("GET", "/ws/status").body);
		CPPUNIT_ASSERT_EQUAL(std::string("stopping"), stringField(status->getObject("server"), "status"));
		Poco::JSON::Object::Ptr metrics = parseObject(s.request("GET", "/ws/metrics").body);
		CPPUNIT_ASSERT_EQUAL(std::string("stopped"), stringField(metrics->getObject("fileserver"), "status"));
		ConnectionId late = s.connect();
		EXPECT_FRAMES(Frames{errorJson("CONNECTION_REFUSED", "Server is not accepting connections", s.wall())},
		              s.frames(late));
		EXPECT_CLOSE(s, late, 1001, "Server shutting down");
		Poco::JSON::Object::Ptr websocket = s.metrics();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(websocket, "active_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integerField(websocket, "total_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(websocket, "rejected_connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integerField(websocket->getObject("subscriptions"), "system"));
	}

	void testStopClosesEveryClient()
	{
		// Item 25: a graceful stop closes every client with 1001 "Server shutting down".
		Server& s = server({{"websocket.metrics.interval", "1s"}});
		std::vector<ConnectionId> ids;
		for (int i = 0; i < 5; ++i)
			ids.push_back(s.connect());
		s.subscribe(ids[0], "file_operations");
		s.stop();
		for (ConnectionId c : ids)
			EXPECT_CLOSE(s, c, 1001, "Server shutting down");
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.host().openConnections());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.host().pendingTimers());
	}

	// --- reload (SIGHUP): Plugin::reconfigure ---------------------------------------------------

	void testReloadOrigins()
	{
		Server& s = server({{"websocket.cors.origins", "http://ok.example"}});
		ConnectionId before = s.connect("", {{"Origin", "http://ok.example"}});
		s.subscribe(before, "file_operations");
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect("/ws", {{"Origin", "http://new.example"}}));

		ReconfigureResult result = s.reconfigure({{"websocket.cors.origins", "http://new.example"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT(s.host().connect("/ws", {{"Origin", "http://new.example"}}) != 0);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect("/ws", {{"Origin", "http://ok.example"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host().lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(std::string("http://new.example"),
		                     headerOf(s.request("GET", "/ws/health", "", {{"Origin", "http://new.example"}}),
		                              "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!hasHeader(s.request("GET", "/ws/health", "", {{"Origin", "http://ok.example"}}),
		                          "Access-Control-Allow-Origin"));
		result = s.reconfigure({{"websocket.cors.enabled", "false"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT(!hasHeader(s.request("GET", "/ws/health", "", {{"Origin", "http://new.example"}}),
		                          "Access-Control-Allow-Origin"));
		// The connection accepted under the old list keeps its subscription.
		EXPECT_OPEN(s, before);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integerField(parseObject(s.publish(UPLOAD).body), "delivered"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(before).size());
	}

	void testReloadRateKeepsLevel()
	{
		Server& s = server({{"websocket.limits.messages_per_second", "100"}, {"websocket.limits.burst", "100"}});
		ConnectionId c = s.connect();
		auto pongs = [&s](ConnectionId id, int pings) {
			for (int i = 0; i < pings; ++i)
				s.host().deliver(id, PING);
			int answered = 0;
			for (const std::string& frame : s.frames(id))
				answered += stringField(parseObject(frame), "type") == "pong" ? 1 : 0;
			return answered;
		};
		CPPUNIT_ASSERT_EQUAL(100, pongs(c, 100));

		ReconfigureResult result =
		    s.reconfigure({{"websocket.limits.messages_per_second", "10"}, {"websocket.limits.burst", "200"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(0, pongs(c, 1)); // still empty: the reload gave nothing back
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(10, pongs(c, 11)); // the new rate
		EXPECT_OPEN(s, c);
		ConnectionId d = s.connect();
		CPPUNIT_ASSERT_EQUAL(200, pongs(d, 201)); // the new burst
	}

	void testReloadPublishRateKeepsLevel()
	{
		Server& s = server({{"websocket.publish.per_second", "1"}, {"websocket.publish.burst", "2"}});
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status);
		ReconfigureResult result = s.reconfigure({{"websocket.publish.burst", "10"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status); // no refill by the reload
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status);
		// Tightened below the level a bucket holds: the next request sees the new burst.
		s.host().advance(5000);
		result = s.reconfigure({{"websocket.publish.burst", "1"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);
		CPPUNIT_ASSERT_EQUAL(429, s.publish(UPLOAD).status);
	}

	void testReloadCapAndAcks()
	{
		Server& s = server({{"websocket.limits.max_connections", "2"}});
		ConnectionId a = s.connect();
		ConnectionId b = s.connect();
		ConnectionId refused = s.connect();
		s.frames(refused);
		EXPECT_CLOSE(s, refused, 1013, "Connection limit reached");

		ReconfigureResult result =
		    s.reconfigure({{"websocket.limits.max_connections", "3"}, {"websocket.ack_subscriptions", "true"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		ConnectionId c = s.connect();
		EXPECT_OPEN(s, c);
		std::vector<std::string> ack = s.send(a, R"({"type":"subscribe","topic":"alerts"})");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), ack.size());
		CPPUNIT_ASSERT_EQUAL(std::string("subscribed"), stringField(parseObject(ack[0]), "type"));
		ConnectionId d = s.connect();
		s.frames(d);
		EXPECT_CLOSE(s, d, 1013, "Connection limit reached");
		EXPECT_OPEN(s, b);
	}

	void testReloadCredentialsAndScopes()
	{
		Server& s = server({{"websocket.auth.mode", "optional"}});
		ConnectionId early = s.connect();
		s.subscribe(early, "alerts");
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD).status);

		ReconfigureResult result =
		    s.reconfigure({{"websocket.auth.tokens", R"([{"token":"pub-2","name":"p2","scopes":["publish"]}])"},
		                   {"websocket.auth.topic_scopes", R"({"alerts":"admin"})"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		CPPUNIT_ASSERT_EQUAL(401, s.publish(UPLOAD).status); // the old token is gone
		CPPUNIT_ASSERT_EQUAL(202, s.publish(UPLOAD, "pub-2").status);
		ConnectionId late = s.connect();
		EXPECT_FRAMES(Frames{errorJson("AUTH_FAILED", "Not authorized for topic 'alerts'", s.wall())},
		              s.send(late, R"({"type":"subscribe","topic":"alerts"})"));
		// A subscription made before the reload is kept: the reload drops nobody.
		EXPECT_OPEN(s, early);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.subscribers("alerts"));
	}

	void testReloadTicker()
	{
		Server& s = server(); // the ticker off
		ConnectionId c = s.connect();
		s.subscribe(c, "system");
		s.host().advance(10000);
		CPPUNIT_ASSERT(s.frames(c).empty());
		ReconfigureResult result = s.reconfigure({{"websocket.metrics.interval", "1s"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.frames(c).size());
		result = s.reconfigure({{"websocket.metrics.interval", "2s"}, {"websocket.metrics.detailed", "true"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.frames(c).empty());
		s.host().advance(1000);
		CPPUNIT_ASSERT(s.frames(c).size() >= 3); // the summary and the details
		result = s.reconfigure({{"websocket.metrics.interval", "0"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(10000);
		CPPUNIT_ASSERT(s.frames(c).empty());
		EXPECT_OPEN(s, c);
	}

	void testReloadThresholds()
	{
		// One connection of 1000 is 0.1 %: under the 0.15 % warning, over a reloaded 0.05 %.
		Server& s = alertServer({});
		ConnectionId monitor = s.connect();
		s.subscribe(monitor, "alerts");
		s.host().advance(2000);
		CPPUNIT_ASSERT(s.frames(monitor).empty());
		ReconfigureResult result = s.reconfigure({{"websocket.metrics.thresholds.connection_usage.warning", "0.05"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"warning","message":"High connection usage detected",)"
		                                     R"("metric":"connection_usage","value":0.1,"threshold":0.05)",
		                                     s.wall())},
		                    s.frames(monitor));
		// max_connections is live too: 1 of 10000 is 0.01 %, back to normal.
		result = s.reconfigure({{"websocket.limits.max_connections", "10000"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		s.host().advance(1000);
		EXPECT_LOOSE_FRAMES(Frames{eventJson("performance_alert", "alerts",
		                                     R"("level":"info","message":"Connection usage back to normal",)"
		                                     R"("metric":"connection_usage","value":0.01,"threshold":0.05)",
		                                     s.wall())},
		                    s.frames(monitor));
	}

	void testReloadNeedsRestart()
	{
		Server& s = server();
		ConnectionId c = s.connect();
		ReconfigureResult result = s.reconfigure({{"websocket.auth.mode", "required"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("websocket.auth.mode") != std::string::npos);
		// Still off: a new connection without a token is served, not held pending (10 s).
		ConnectionId d = s.connect();
		s.subscribe(d, "alerts");
		s.host().advance(20000);
		EXPECT_OPEN(s, d);
		EXPECT_OPEN(s, c);

		Server& t = server();
		result = t.reconfigure({{"websocket.limits.max_message_size", "100"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message,
		                       result.message.find("websocket.limits.max_message_size") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("endpoint") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(202, t.publish(UPLOAD).status); // the publish body limit is unchanged
	}

	void testReloadMixedAppliesNothing()
	{
		Server& s = server({{"websocket.cors.origins", "http://ok.example"}});
		ReconfigureResult result = s.reconfigure({{"websocket.cors.origins", "http://new.example"},
		                                          {"websocket.limits.max_connections", "1"},
		                                          {"websocket.limits.send_queue_frames", "8"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message,
		                       result.message.find("websocket.limits.send_queue_frames") != std::string::npos);
		CPPUNIT_ASSERT(s.host().connect("/ws", {{"Origin", "http://ok.example"}}) != 0);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.host().connect("/ws", {{"Origin", "http://new.example"}}));
		ConnectionId second = s.connect(); // the cap of one did not apply either
		EXPECT_OPEN(s, second);
	}

private:
	Server& server(Server::Settings settings = {})
	{
		_servers.push_back(std::make_unique<Server>(settings));
		return *_servers.back();
	}

	Server& alertServer(Server::Settings extra)
	/// A 1 s ticker, max_connections 1000, connection_usage warning 0.15 %, every other metric off.
	{
		std::map<std::string, std::string> values = {
		    {"websocket.metrics.interval", "1s"},
		    {"websocket.limits.max_connections", "1000"},
		    {"websocket.metrics.thresholds.connection_usage.warning", "0.15"},
		};
		for (const char* metric : {"memory_usage", "cpu_usage", "average_response_time", "storage_usage"})
		{
			values[std::string("websocket.metrics.thresholds.") + metric + ".warning"] = "0";
			values[std::string("websocket.metrics.thresholds.") + metric + ".critical"] = "0";
		}
		for (const auto& e : extra)
			values[e.first] = e.second;
		return server(Server::Settings(values.begin(), values.end()));
	}

	std::vector<std::unique_ptr<Server>> _servers;
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultPluginTest);
