//
// PeerVaultSettings.cpp
//


#include "PeerVaultSettings.h"
#include "JsonText.h"
#include "TimeText.h"
#include "switchboard/util/ConfigRules.h"
#include "switchboard/util/Json.h"
#include <cmath>
#include <cstring>
#include <utility>


namespace Switchboard {
namespace PeerVault {


namespace {


constexpr const char* THRESHOLDS_PREFIX = "websocket.metrics.thresholds.";


const ConfigKey KEYS[] = {
    {"websocket.cors.enabled", ConfigType::BOOLEAN, "true", "Send CORS headers on HTTP responses", 0, 0},
    {"websocket.cors.origins", ConfigType::STRING_LIST, "*",
     "Origins allowed for the handshake and echoed in CORS headers: * for any, or scheme://host[:port] entries "
     "(PEERVAULT_WS_CORS_ORIGINS)",
     0, 0},
    {"websocket.timeouts.read", ConfigType::STRING, "30s",
     "Longest time to receive one HTTP request or one WebSocket frame, a duration such as 30s "
     "(PEERVAULT_WS_READ_TIMEOUT)",
     0, 0},
    {"websocket.timeouts.write", ConfigType::STRING, "30s",
     "Longest time to write one frame or HTTP response, a duration (PEERVAULT_WS_WRITE_TIMEOUT)", 0, 0},
    {"websocket.timeouts.ping_period", ConfigType::STRING, "54s",
     "Interval of server Ping frames, a duration shorter than pong_wait (PEERVAULT_WS_PING_PERIOD)", 0, 0},
    {"websocket.timeouts.pong_wait", ConfigType::STRING, "60s",
     "Silence after which a connection is closed 1001 Pong timeout, a duration (PEERVAULT_WS_PONG_WAIT)", 0, 0},
    {"websocket.limits.max_connections", ConfigType::INTEGER, "1000",
     "Open WebSocket connections; beyond, CONNECTION_REFUSED and close 1013", 1, 10000000},
    {"websocket.limits.max_message_size", ConfigType::INTEGER, "1048576",
     "Largest inbound message and publish body in bytes (close 1009 / 413)", 1, 67108864},
    {"websocket.limits.messages_per_second", ConfigType::DOUBLE, "100",
     "Inbound messages per second per connection (token bucket)", 0, 0},
    {"websocket.limits.burst", ConfigType::DOUBLE, "100", "Burst of the per-connection message rate", 0, 0},
    {"websocket.limits.send_queue_frames", ConfigType::INTEGER, "1024",
     "Outbound frames queued per connection before close 1013 Slow consumer", 1, 100000000},
    {"websocket.limits.send_queue_bytes", ConfigType::INTEGER, "16777216",
     "Outbound bytes queued per connection before close 1013 Slow consumer", 1, 4294967296LL},
    {"websocket.ack_subscriptions", ConfigType::BOOLEAN, "false",
     "Answer subscribe/unsubscribe with subscribed/unsubscribed", 0, 0},
    {"websocket.auth.mode", ConfigType::STRING, "off", "WebSocket authentication: off, optional or required", 0, 0},
    {"websocket.auth.tokens", ConfigType::STRING, "[]",
     "Static tokens as a JSON array, e.g. [{\"token\":\"t1\",\"name\":\"svc\",\"scopes\":[\"publish\"]}] (scopes "
     "optional)",
     0, 0},
    {"websocket.auth.jwt_secret", ConfigType::STRING, "",
     "HS256 secret for JWTs, at least 32 bytes; empty: JWTs are not accepted", 0, 0},
    {"websocket.auth.jwt_issuer", ConfigType::STRING, "", "Required JWT iss; empty: not checked", 0, 0},
    {"websocket.auth.jwt_audience", ConfigType::STRING, "",
     "Required JWT aud (a string or one of an array); empty: not checked", 0, 0},
    {"websocket.auth.jwt_leeway", ConfigType::STRING, "60s", "Clock leeway for JWT exp and nbf, a duration", 0, 0},
    {"websocket.auth.timeout", ConfigType::STRING, "10s",
     "How long a connection may stay unauthenticated in required mode, a duration", 0, 0},
    {"websocket.auth.topic_scopes", ConfigType::STRING, "{}",
     "Scope needed to subscribe per topic as a JSON object, e.g. {\"alerts\":\"admin\"}; topics not listed are open", 0,
     0},
    {"websocket.publish.per_second", ConfigType::DOUBLE, "1000", "POST /ws/publish requests per second per credential",
     0, 0},
    {"websocket.publish.burst", ConfigType::DOUBLE, "2000", "Burst of the publish rate", 0, 0},
    {"websocket.metrics.interval", ConfigType::STRING, "5s",
     "Metrics ticker period, a duration; 0 disables the ticker and the alerts", 0, 0},
    {"websocket.metrics.detailed", ConfigType::BOOLEAN, "false",
     "Also publish storage_metrics, network_metrics and performance_metrics each tick", 0, 0},
    {"websocket.metrics.storage_path", ConfigType::STRING, "",
     "Directory whose file system the storage figures describe; empty: the host's data directory", 0, 0},
    {"websocket.metrics.thresholds.memory_usage.warning", ConfigType::DOUBLE, "80",
     "memory_usage warning alert at this percent of RAM; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.memory_usage.critical", ConfigType::DOUBLE, "95",
     "memory_usage critical alert at this percent of RAM; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.cpu_usage.warning", ConfigType::DOUBLE, "90",
     "cpu_usage warning alert at this percent of all CPUs; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.cpu_usage.critical", ConfigType::DOUBLE, "98",
     "cpu_usage critical alert at this percent of all CPUs; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.connection_usage.warning", ConfigType::DOUBLE, "80",
     "connection_usage warning alert at this percent of max_connections; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.connection_usage.critical", ConfigType::DOUBLE, "95",
     "connection_usage critical alert at this percent of max_connections; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.average_response_time.warning", ConfigType::DOUBLE, "1000",
     "average_response_time warning alert at this many milliseconds; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.average_response_time.critical", ConfigType::DOUBLE, "5000",
     "average_response_time critical alert at this many milliseconds; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.storage_usage.warning", ConfigType::DOUBLE, "85",
     "storage_usage warning alert at this percent of the file system; 0 or less: off", 0, 0},
    {"websocket.metrics.thresholds.storage_usage.critical", ConfigType::DOUBLE, "95",
     "storage_usage critical alert at this percent of the file system; 0 or less: off", 0, 0},
    {"websocket.shutdown.drain", ConfigType::STRING, "30s",
     "Longest time shutdown waits for connections to drain, a duration", 0, 0},
};

constexpr std::size_t KEY_COUNT = sizeof(KEYS) / sizeof(KEYS[0]);


const ConfigKey& keyNamed(const char* name)
/// The declaration of one of KEYS (every name load() asks for is in the table).
{
	for (const ConfigKey& key : KEYS)
	{
		if (std::strcmp(key.name, name) == 0)
			return key;
	}
	return KEYS[0];
}


class Reader
/// Reads load()'s values: the given one, or the declared default when a Config built without the
/// host's validation lacks the key; each checked again with the host's own rules, so that load()
/// alone never takes an unchecked value. The first problem is kept.
{
public:
	explicit Reader(const Config& config):
	    _config(config)
	{
	}

	const std::string& problem() const { return _problem; }

	std::string text(const char* name)
	{
		const ConfigKey& key = keyNamed(name);
		std::string value = _config.has(name) ? _config.getString(name) : std::string(key.defaultValue);
		if (!ConfigRules::checkValue(key, value))
			fail(std::string(name) + ": expected " + ConfigRules::expectation(key) + ", got " + Json::quote(value));
		return std::string(ConfigParse::trim(value));
	}

	std::int64_t integer(const char* name)
	{
		std::int64_t value = 0;
		ConfigParse::parseInteger(text(name), value);
		return value;
	}

	bool boolean(const char* name)
	{
		bool value = false;
		ConfigParse::parseBoolean(text(name), value);
		return value;
	}

	double number(const char* name, double minimum, const char* range)
	/// A DOUBLE from minimum to 1e9; the host also accepts nan, inf and negatives, which mean nothing here.
	{
		const std::string raw = text(name);
		double value = 0;
		ConfigParse::parseDouble(raw, value);
		if (!(value >= minimum && value <= 1e9))
		{
			fail(std::string(name) + ": expected a number " + range + ", got " + Json::quote(raw));
			return 0;
		}
		return value;
	}

	double threshold(const std::string& name)
	{
		const std::string raw = text(name.c_str());
		double value = 0;
		ConfigParse::parseDouble(raw, value);
		if (!std::isfinite(value))
		{
			fail(name + ": expected a finite number, got " + Json::quote(raw));
			return 0;
		}
		return value;
	}

	std::int64_t duration(const char* name, bool mayBeZero)
	{
		const std::string raw = text(name);
		std::int64_t millis = 0;
		if (!TimeText::parseDuration(raw, millis))
			fail(std::string(name) + ": expected a duration such as 30s, 1m30s, 1.5s or 250ms, got " +
			     Json::quote(raw));
		else if (millis <= 0 && !mayBeZero)
			fail(std::string(name) + ": must be longer than 0, got " + Json::quote(raw));
		return millis;
	}

	void fail(std::string problem)
	{
		if (_problem.empty())
			_problem = std::move(problem);
	}

private:
	const Config& _config;
	std::string _problem;
};


bool isSchemeChar(char c, bool first)
{
	const bool letter = c >= 'a' && c <= 'z';
	return first ? letter : letter || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}


bool isHostChar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}


bool isOrigin(std::string_view origin)
/// scheme://host[:port] in lower case, as browsers serialise an Origin header; the host a name,
/// an IPv4 address or a bracketed IPv6 address; the port 1..65535. No path, no user info.
{
	const std::size_t separator = origin.find("://");
	if (separator == std::string_view::npos || separator == 0)
		return false;
	for (std::size_t i = 0; i < separator; ++i)
	{
		if (!isSchemeChar(origin[i], i == 0))
			return false;
	}
	std::string_view rest = origin.substr(separator + 3);
	std::size_t hostEnd = 0;
	if (!rest.empty() && rest.front() == '[')
	{
		hostEnd = rest.find(']');
		if (hostEnd == std::string_view::npos || hostEnd < 3)
			return false;
		for (char c : rest.substr(1, hostEnd - 1))
		{
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.'))
				return false;
		}
		++hostEnd;
	}
	else
	{
		while (hostEnd < rest.size() && isHostChar(rest[hostEnd]))
			++hostEnd;
		if (hostEnd == 0)
			return false;
	}
	std::string_view port = rest.substr(hostEnd);
	if (port.empty())
		return true;
	if (port.front() != ':' || port.size() < 2 || port.size() > 6)
		return false;
	long number = 0;
	for (char c : port.substr(1))
	{
		if (c < '0' || c > '9')
			return false;
		number = number * 10 + (c - '0');
	}
	return number >= 1 && number <= 65535;
}


std::string loadTopicScopes(const std::string& json, std::array<std::string, TOPIC_COUNT>& scopes)
/// "" or what is wrong with the topic → scope object ("" meaning {}).
{
	scopes.fill(std::string());
	std::string_view text = json;
	const std::size_t first = text.find_first_not_of(" \t\r\n");
	text = first == std::string_view::npos ? std::string_view() : text.substr(first);
	text = text.substr(0, text.find_last_not_of(" \t\r\n") + 1);
	if (text.empty())
		return {};
	std::string problem;
	const bool isObject = JsonText::isValid(text) && text.front() == '{' &&
	                      JsonText::forEachMember(text, [&](const std::string& name, std::string_view raw) {
		                      Topic topic = Topic::FILE_OPERATIONS;
		                      if (!parseTopic(name, topic))
			                      problem = "unknown topic " + Json::quote(name) +
			                                " (expected file_operations, peer_network, system or alerts)";
		                      else if (!JsonText::stringValue(raw, scopes[static_cast<int>(topic)]))
			                      problem = "the scope of " + Json::quote(name) + " must be a string";
		                      return problem.empty();
	                      });
	if (!isObject)
		return "expected a JSON object of topic to scope, e.g. {\"alerts\":\"admin\"}";
	return problem;
}


} // namespace


const ConfigKey* PeerVaultSettings::keys()
{
	return KEYS;
}


std::uint32_t PeerVaultSettings::keyCount()
{
	return static_cast<std::uint32_t>(KEY_COUNT);
}


std::string PeerVaultSettings::load(const Config& config)
{
	Reader read(config);

	corsEnabled = read.boolean("websocket.cors.enabled");
	corsOrigins = ConfigParse::parseList(read.text("websocket.cors.origins"));
	for (std::string& origin : corsOrigins)
	{
		for (char& c : origin)
			c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		if (origin != "*" && !isOrigin(origin))
			read.fail("websocket.cors.origins: " + Json::quote(origin) + " is neither * nor scheme://host[:port]");
	}

	readTimeoutMs = read.duration("websocket.timeouts.read", false);
	writeTimeoutMs = read.duration("websocket.timeouts.write", false);
	pingPeriodMs = read.duration("websocket.timeouts.ping_period", false);
	pongWaitMs = read.duration("websocket.timeouts.pong_wait", false);
	if (read.problem().empty() && pingPeriodMs >= pongWaitMs)
		read.fail("websocket.timeouts.ping_period (" + read.text("websocket.timeouts.ping_period") +
		          ") must be shorter than websocket.timeouts.pong_wait (" + read.text("websocket.timeouts.pong_wait") +
		          ")");

	maxConnections = read.integer("websocket.limits.max_connections");
	maxMessageSize = read.integer("websocket.limits.max_message_size");
	// A rate of 0 would starve every connection after its burst; the contract has no "off" here.
	messagesPerSecond = read.number("websocket.limits.messages_per_second", 0.001, "from 0.001 to 1e9");
	burst = read.number("websocket.limits.burst", 1, "from 1 to 1e9");
	sendQueueFrames = read.integer("websocket.limits.send_queue_frames");
	sendQueueBytes = read.integer("websocket.limits.send_queue_bytes");
	ackSubscriptions = read.boolean("websocket.ack_subscriptions");

	const std::string mode = read.text("websocket.auth.mode");
	if (mode == "off")
		authMode = AuthMode::OFF;
	else if (mode == "optional")
		authMode = AuthMode::OPTIONAL;
	else if (mode == "required")
		authMode = AuthMode::REQUIRED;
	else
		read.fail("websocket.auth.mode: expected one of off, optional, required, got " + Json::quote(mode));

	std::string why;
	if (!parseStaticTokens(read.text("websocket.auth.tokens"), tokens, why))
		read.fail("websocket.auth.tokens: " + why);
	jwt.secret = read.text("websocket.auth.jwt_secret");
	if (!jwt.secret.empty() && jwt.secret.size() < 32)
		read.fail("websocket.auth.jwt_secret: must be at least 32 bytes (or empty: no JWTs), got " +
		          std::to_string(jwt.secret.size()));
	jwt.issuer = read.text("websocket.auth.jwt_issuer");
	jwt.audience = read.text("websocket.auth.jwt_audience");
	jwt.leewayMs = read.duration("websocket.auth.jwt_leeway", true);
	authTimeoutMs = read.duration("websocket.auth.timeout", false);
	const std::string scopesProblem = loadTopicScopes(read.text("websocket.auth.topic_scopes"), topicScopes);
	if (!scopesProblem.empty())
		read.fail("websocket.auth.topic_scopes: " + scopesProblem);

	publishPerSecond = read.number("websocket.publish.per_second", 0.001, "from 0.001 to 1e9");
	publishBurst = read.number("websocket.publish.burst", 1, "from 1 to 1e9");

	metricsIntervalMs = read.duration("websocket.metrics.interval", true);
	metricsDetailed = read.boolean("websocket.metrics.detailed");
	metricsStoragePath = read.text("websocket.metrics.storage_path");
	for (int i = 0; i < ALERT_METRIC_COUNT; ++i)
	{
		const std::string prefix = std::string(THRESHOLDS_PREFIX) + alertMetricName(static_cast<AlertMetric>(i));
		thresholds[i].warning = read.threshold(prefix + ".warning");
		thresholds[i].critical = read.threshold(prefix + ".critical");
	}

	shutdownDrainMs = read.duration("websocket.shutdown.drain", true);
	return read.problem();
}


} // namespace PeerVault
} // namespace Switchboard
