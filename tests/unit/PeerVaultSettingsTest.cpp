//
// PeerVaultSettingsTest.cpp
//
// PeerVault's configuration keys (docs/protocols/peervault.md §9): the declared table passes the
// host's own declaration rules and holds exactly the contract's names; defaults; every value read
// into its field (thresholds in AlertMetric order, topic scopes by Topic); and load()'s refusals,
// each naming its key: durations, ping period vs pong wait, auth mode, tokens, JWT secret length,
// topic scopes, CORS origins, rates and thresholds.
//


#include "PeerVaultSettings.h"
#include "switchboard/util/ConfigRules.h"
#include "switchboard/util/Names.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <map>
#include <set>
#include <string>
#include <vector>


using namespace Switchboard;
using namespace Switchboard::PeerVault;


namespace {


using Values = std::map<std::string, std::string, std::less<>>;


Config validated(const Values& given)
/// The Config the host would hand over: given values checked against the table, defaults filled.
{
	Values values;
	std::vector<std::string> errors;
	const bool valid =
	    ConfigRules::validateSection(PeerVaultSettings::keys(), PeerVaultSettings::keyCount(), given, values, errors);
	CPPUNIT_ASSERT_MESSAGE(errors.empty() ? "" : errors.front(), valid);
	return Config(values);
}


std::string problem(const Values& given)
/// What load() says of given (validated by the host's rules first).
{
	PeerVaultSettings settings;
	return settings.load(validated(given));
}


PeerVaultSettings loaded(const Values& given)
{
	PeerVaultSettings settings;
	const std::string why = settings.load(validated(given));
	CPPUNIT_ASSERT_EQUAL(std::string(), why);
	return settings;
}


bool startsWith(const std::string& text, const std::string& prefix)
{
	return text.compare(0, prefix.size(), prefix) == 0;
}


void assertDefaults(const PeerVaultSettings& s)
{
	CPPUNIT_ASSERT(s.corsEnabled);
	CPPUNIT_ASSERT(s.corsOrigins == std::vector<std::string>({"*"}));
	CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), s.readTimeoutMs);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), s.writeTimeoutMs);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(54000), s.pingPeriodMs);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(60000), s.pongWaitMs);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), s.maxConnections);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(1048576), s.maxMessageSize);
	CPPUNIT_ASSERT_EQUAL(100.0, s.messagesPerSecond);
	CPPUNIT_ASSERT_EQUAL(100.0, s.burst);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(1024), s.sendQueueFrames);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(16777216), s.sendQueueBytes);
	CPPUNIT_ASSERT(!s.ackSubscriptions);
	CPPUNIT_ASSERT(s.authMode == AuthMode::OFF);
	CPPUNIT_ASSERT(s.tokens.empty());
	CPPUNIT_ASSERT_EQUAL(std::string(), s.jwt.secret);
	CPPUNIT_ASSERT_EQUAL(std::string(), s.jwt.issuer);
	CPPUNIT_ASSERT_EQUAL(std::string(), s.jwt.audience);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(60000), s.jwt.leewayMs);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(10000), s.authTimeoutMs);
	for (const std::string& scope : s.topicScopes)
		CPPUNIT_ASSERT_EQUAL(std::string(), scope);
	CPPUNIT_ASSERT_EQUAL(1000.0, s.publishPerSecond);
	CPPUNIT_ASSERT_EQUAL(2000.0, s.publishBurst);
	CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), s.metricsIntervalMs);
	CPPUNIT_ASSERT(!s.metricsDetailed);
	CPPUNIT_ASSERT_EQUAL(std::string(), s.metricsStoragePath);
	for (int i = 0; i < ALERT_METRIC_COUNT; ++i)
	{
		CPPUNIT_ASSERT_EQUAL(defaultThresholds(static_cast<AlertMetric>(i)).warning, s.thresholds[i].warning);
		CPPUNIT_ASSERT_EQUAL(defaultThresholds(static_cast<AlertMetric>(i)).critical, s.thresholds[i].critical);
	}
	CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), s.shutdownDrainMs);
}


} // namespace


class PeerVaultSettingsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultSettingsTest);
	CPPUNIT_TEST(testDeclarations);
	CPPUNIT_TEST(testDefaults);
	CPPUNIT_TEST(testValues);
	CPPUNIT_TEST(testDurations);
	CPPUNIT_TEST(testPingBeforePong);
	CPPUNIT_TEST(testIntegerRanges);
	CPPUNIT_TEST(testAuthMode);
	CPPUNIT_TEST(testTokens);
	CPPUNIT_TEST(testJwtSecret);
	CPPUNIT_TEST(testTopicScopes);
	CPPUNIT_TEST(testOrigins);
	CPPUNIT_TEST(testRatesAndThresholds);
	CPPUNIT_TEST_SUITE_END();

public:
	void testDeclarations()
	{
		const std::set<std::string> reserved(std::begin(ConfigRules::HOST_OWNED_PLUGIN_KEYS),
		                                     std::end(ConfigRules::HOST_OWNED_PLUGIN_KEYS));
		CPPUNIT_ASSERT_EQUAL(std::string(), ConfigRules::checkDeclarations(PeerVaultSettings::keys(),
		                                                                   PeerVaultSettings::keyCount(), reserved));
		std::set<std::string> names;
		for (std::uint32_t i = 0; i < PeerVaultSettings::keyCount(); ++i)
		{
			const ConfigKey& key = PeerVaultSettings::keys()[i];
			CPPUNIT_ASSERT_MESSAGE(key.name, Names::isKeyName(key.name));
			CPPUNIT_ASSERT_MESSAGE(key.name, key.description != nullptr && *key.description != '\0');
			CPPUNIT_ASSERT_MESSAGE(key.name, key.defaultValue != nullptr);
			names.insert(key.name);
		}
		const std::set<std::string> expected = {
		    "websocket.cors.enabled",
		    "websocket.cors.origins",
		    "websocket.timeouts.read",
		    "websocket.timeouts.write",
		    "websocket.timeouts.ping_period",
		    "websocket.timeouts.pong_wait",
		    "websocket.limits.max_connections",
		    "websocket.limits.max_message_size",
		    "websocket.limits.messages_per_second",
		    "websocket.limits.burst",
		    "websocket.limits.send_queue_frames",
		    "websocket.limits.send_queue_bytes",
		    "websocket.ack_subscriptions",
		    "websocket.auth.mode",
		    "websocket.auth.tokens",
		    "websocket.auth.jwt_secret",
		    "websocket.auth.jwt_issuer",
		    "websocket.auth.jwt_audience",
		    "websocket.auth.jwt_leeway",
		    "websocket.auth.timeout",
		    "websocket.auth.topic_scopes",
		    "websocket.publish.per_second",
		    "websocket.publish.burst",
		    "websocket.metrics.interval",
		    "websocket.metrics.detailed",
		    "websocket.metrics.storage_path",
		    "websocket.metrics.thresholds.memory_usage.warning",
		    "websocket.metrics.thresholds.memory_usage.critical",
		    "websocket.metrics.thresholds.cpu_usage.warning",
		    "websocket.metrics.thresholds.cpu_usage.critical",
		    "websocket.metrics.thresholds.connection_usage.warning",
		    "websocket.metrics.thresholds.connection_usage.critical",
		    "websocket.metrics.thresholds.average_response_time.warning",
		    "websocket.metrics.thresholds.average_response_time.critical",
		    "websocket.metrics.thresholds.storage_usage.warning",
		    "websocket.metrics.thresholds.storage_usage.critical",
		    "websocket.shutdown.drain",
		};
		CPPUNIT_ASSERT_EQUAL(expected.size(), static_cast<std::size_t>(PeerVaultSettings::keyCount()));
		CPPUNIT_ASSERT(names == expected);

		// The listener owns the address: the section refuses it as the host would.
		Values values;
		std::vector<std::string> errors;
		CPPUNIT_ASSERT(!ConfigRules::validateSection(PeerVaultSettings::keys(), PeerVaultSettings::keyCount(),
		                                             {{"websocket.port", "8083"}}, values, errors));
		CPPUNIT_ASSERT(startsWith(errors.at(0), "websocket.port: unknown key"));
	}

	void testDefaults()
	{
		assertDefaults(loaded({}));
		// A Config built without the host's defaults reads the declared ones.
		PeerVaultSettings raw;
		CPPUNIT_ASSERT_EQUAL(std::string(), raw.load(Config()));
		assertDefaults(raw);
	}

	void testValues()
	{
		const PeerVaultSettings s = loaded({
		    {"websocket.cors.enabled", "false"},
		    {"websocket.cors.origins", "http://OK.example, https://b.example:8443"},
		    {"websocket.timeouts.read", "5s"},
		    {"websocket.timeouts.write", "7s"},
		    {"websocket.timeouts.ping_period", "1s"},
		    {"websocket.timeouts.pong_wait", "2s"},
		    {"websocket.limits.max_connections", "2"},
		    {"websocket.limits.max_message_size", "4096"},
		    {"websocket.limits.messages_per_second", "12.5"},
		    {"websocket.limits.burst", "25"},
		    {"websocket.limits.send_queue_frames", "64"},
		    {"websocket.limits.send_queue_bytes", "65536"},
		    {"websocket.ack_subscriptions", "yes"},
		    {"websocket.auth.mode", "required"},
		    {"websocket.auth.tokens", R"([{"token":"pub-token","name":"pub","scopes":["publish"]}])"},
		    {"websocket.auth.jwt_secret", std::string(40, 's')},
		    {"websocket.auth.jwt_issuer", "iss"},
		    {"websocket.auth.jwt_audience", "aud"},
		    {"websocket.auth.jwt_leeway", "0"},
		    {"websocket.auth.timeout", "1s"},
		    {"websocket.auth.topic_scopes", R"({"alerts":"admin","file_operations":"files"})"},
		    {"websocket.publish.per_second", "3"},
		    {"websocket.publish.burst", "4"},
		    {"websocket.metrics.interval", "1s"},
		    {"websocket.metrics.detailed", "on"},
		    {"websocket.metrics.storage_path", "/var/lib/peervault"},
		    {"websocket.metrics.thresholds.memory_usage.warning", "1"},
		    {"websocket.metrics.thresholds.memory_usage.critical", "2"},
		    {"websocket.metrics.thresholds.cpu_usage.warning", "3"},
		    {"websocket.metrics.thresholds.cpu_usage.critical", "4"},
		    {"websocket.metrics.thresholds.connection_usage.warning", "0.15"},
		    {"websocket.metrics.thresholds.connection_usage.critical", "6"},
		    {"websocket.metrics.thresholds.average_response_time.warning", "7"},
		    {"websocket.metrics.thresholds.average_response_time.critical", "8"},
		    {"websocket.metrics.thresholds.storage_usage.warning", "9"},
		    {"websocket.metrics.thresholds.storage_usage.critical", "-1"},
		    {"websocket.shutdown.drain", "2m"},
		});
		CPPUNIT_ASSERT(!s.corsEnabled);
		CPPUNIT_ASSERT(s.corsOrigins == std::vector<std::string>({"http://ok.example", "https://b.example:8443"}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), s.readTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7000), s.writeTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), s.pingPeriodMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2000), s.pongWaitMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.maxConnections);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4096), s.maxMessageSize);
		CPPUNIT_ASSERT_EQUAL(12.5, s.messagesPerSecond);
		CPPUNIT_ASSERT_EQUAL(25.0, s.burst);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(64), s.sendQueueFrames);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(65536), s.sendQueueBytes);
		CPPUNIT_ASSERT(s.ackSubscriptions);
		CPPUNIT_ASSERT(s.authMode == AuthMode::REQUIRED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.tokens.size());
		CPPUNIT_ASSERT_EQUAL(std::string("pub-token"), s.tokens[0].token);
		CPPUNIT_ASSERT_EQUAL(std::string("pub"), s.tokens[0].name);
		CPPUNIT_ASSERT(s.tokens[0].scopes == std::vector<std::string>({"publish"}));
		CPPUNIT_ASSERT_EQUAL(std::string(40, 's'), s.jwt.secret);
		CPPUNIT_ASSERT_EQUAL(std::string("iss"), s.jwt.issuer);
		CPPUNIT_ASSERT_EQUAL(std::string("aud"), s.jwt.audience);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.jwt.leewayMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), s.authTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::string("admin"), s.topicScopes[static_cast<int>(Topic::ALERTS)]);
		CPPUNIT_ASSERT_EQUAL(std::string("files"), s.topicScopes[static_cast<int>(Topic::FILE_OPERATIONS)]);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.topicScopes[static_cast<int>(Topic::SYSTEM)]);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.topicScopes[static_cast<int>(Topic::PEER_NETWORK)]);
		CPPUNIT_ASSERT_EQUAL(3.0, s.publishPerSecond);
		CPPUNIT_ASSERT_EQUAL(4.0, s.publishBurst);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), s.metricsIntervalMs);
		CPPUNIT_ASSERT(s.metricsDetailed);
		CPPUNIT_ASSERT_EQUAL(std::string("/var/lib/peervault"), s.metricsStoragePath);
		const double thresholds[][2] = {{1, 2}, {3, 4}, {0.15, 6}, {7, 8}, {9, -1}};
		for (int i = 0; i < ALERT_METRIC_COUNT; ++i)
		{
			CPPUNIT_ASSERT_EQUAL(thresholds[i][0], s.thresholds[i].warning);
			CPPUNIT_ASSERT_EQUAL(thresholds[i][1], s.thresholds[i].critical);
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(120000), s.shutdownDrainMs);

		// Loading again starts from the configuration, not from what was there.
		PeerVaultSettings again = s;
		CPPUNIT_ASSERT_EQUAL(std::string(), again.load(validated({})));
		assertDefaults(again);
	}

	void testDurations()
	{
		CPPUNIT_ASSERT_EQUAL(std::int64_t(90000), loaded({{"websocket.timeouts.read", "1m30s"}}).readTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1500), loaded({{"websocket.timeouts.write", "1.5s"}}).writeTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(250), loaded({{"websocket.auth.timeout", "250ms"}}).authTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(45000), loaded({{"websocket.shutdown.drain", "45"}}).shutdownDrainMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), loaded({{"websocket.metrics.interval", "0"}}).metricsIntervalMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), loaded({{"websocket.metrics.interval", "0s"}}).metricsIntervalMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), loaded({{"websocket.shutdown.drain", "0s"}}).shutdownDrainMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), loaded({{"websocket.auth.jwt_leeway", "0s"}}).jwt.leewayMs);

		CPPUNIT_ASSERT_EQUAL(
		    std::string("websocket.timeouts.read: expected a duration such as 30s, 1m30s, 1.5s or 250ms, got \"abc\""),
		    problem({{"websocket.timeouts.read", "abc"}}));
		for (const char* key : {"websocket.timeouts.read", "websocket.timeouts.write", "websocket.timeouts.ping_period",
		                        "websocket.timeouts.pong_wait", "websocket.auth.jwt_leeway", "websocket.auth.timeout",
		                        "websocket.metrics.interval", "websocket.shutdown.drain"})
		{
			for (const char* bad : {"", "-1s", "10 parsecs", "1x", "s"})
			{
				const std::string why = problem({{key, bad}});
				CPPUNIT_ASSERT_MESSAGE(std::string(key) + "=" + bad + ": " + why,
				                       startsWith(why, std::string(key) + ": expected a duration"));
			}
		}
		// Zero is no timeout at all: refused where the contract needs a positive time.
		for (const char* key : {"websocket.timeouts.read", "websocket.timeouts.write", "websocket.timeouts.ping_period",
		                        "websocket.auth.timeout"})
			CPPUNIT_ASSERT_EQUAL(std::string(key) + ": must be longer than 0, got \"0s\"", problem({{key, "0s"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.timeouts.pong_wait: must be longer than 0, got \"0\""),
		                     problem({{"websocket.timeouts.pong_wait", "0"}}));
	}

	void testPingBeforePong()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.timeouts.ping_period (70s) must be shorter than "
		                                 "websocket.timeouts.pong_wait (60s)"),
		                     problem({{"websocket.timeouts.ping_period", "70s"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.timeouts.ping_period (1m) must be shorter than "
		                                 "websocket.timeouts.pong_wait (60s)"),
		                     problem({{"websocket.timeouts.ping_period", "1m"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.timeouts.ping_period (54s) must be shorter than "
		                                 "websocket.timeouts.pong_wait (50s)"),
		                     problem({{"websocket.timeouts.pong_wait", "50s"}}));
		const PeerVaultSettings s =
		    loaded({{"websocket.timeouts.ping_period", "1s"}, {"websocket.timeouts.pong_wait", "1001ms"}});
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), s.pingPeriodMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1001), s.pongWaitMs);
	}

	void testIntegerRanges()
	{
		// The host refuses these before load(); load() refuses them too when handed a raw Config.
		Values values;
		std::vector<std::string> errors;
		for (const auto& entry : std::map<std::string, std::string>{{"websocket.limits.max_connections", "0"},
		                                                            {"websocket.limits.max_message_size", "67108865"},
		                                                            {"websocket.limits.send_queue_frames", "0"},
		                                                            {"websocket.limits.send_queue_bytes", "-5"},
		                                                            {"websocket.cors.enabled", "maybe"}})
		{
			errors.clear();
			CPPUNIT_ASSERT_MESSAGE(
			    entry.first, !ConfigRules::validateSection(PeerVaultSettings::keys(), PeerVaultSettings::keyCount(),
			                                               {{entry.first, entry.second}}, values, errors));
			PeerVaultSettings settings;
			const std::string why = settings.load(Config(Values{{entry.first, entry.second}}));
			CPPUNIT_ASSERT_EQUAL(errors.at(0), why);
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(67108864),
		                     loaded({{"websocket.limits.max_message_size", "67108864"}}).maxMessageSize);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), loaded({{"websocket.limits.max_message_size", "1"}}).maxMessageSize);
	}

	void testAuthMode()
	{
		CPPUNIT_ASSERT(loaded({{"websocket.auth.mode", "off"}}).authMode == AuthMode::OFF);
		CPPUNIT_ASSERT(loaded({{"websocket.auth.mode", "optional"}}).authMode == AuthMode::OPTIONAL);
		CPPUNIT_ASSERT(loaded({{"websocket.auth.mode", "required"}}).authMode == AuthMode::REQUIRED);
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.mode: expected one of off, optional, required, got \"on\""),
		                     problem({{"websocket.auth.mode", "on"}}));
		CPPUNIT_ASSERT(startsWith(problem({{"websocket.auth.mode", "Required"}}), "websocket.auth.mode: "));
		CPPUNIT_ASSERT(startsWith(problem({{"websocket.auth.mode", ""}}), "websocket.auth.mode: "));
	}

	void testTokens()
	{
		CPPUNIT_ASSERT(loaded({{"websocket.auth.tokens", ""}}).tokens.empty());
		const PeerVaultSettings s =
		    loaded({{"websocket.auth.tokens", R"([{"token":"t1","name":"a"},{"token":"t2","name":"b","scopes":[]}])"}});
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), s.tokens.size());
		CPPUNIT_ASSERT_EQUAL(std::string("t2"), s.tokens[1].token);
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.tokens: item 2: \"token\" must be a non-empty string"),
		                     problem({{"websocket.auth.tokens", R"([{"token":"t1","name":"a"},{"name":"b"}])"}}));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("websocket.auth.tokens: must be a JSON array of {\"token\", \"name\", \"scopes\"} objects"),
		    problem({{"websocket.auth.tokens", "t1,t2"}}));
	}

	void testJwtSecret()
	{
		CPPUNIT_ASSERT_EQUAL(std::string(32, 'k'),
		                     loaded({{"websocket.auth.jwt_secret", std::string(32, 'k')}}).jwt.secret);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("websocket.auth.jwt_secret: must be at least 32 bytes (or empty: no JWTs), got 31"),
		    problem({{"websocket.auth.jwt_secret", std::string(31, 'k')}}));
		CPPUNIT_ASSERT(startsWith(problem({{"websocket.auth.jwt_secret", "x"}}), "websocket.auth.jwt_secret: "));
	}

	void testTopicScopes()
	{
		for (const char* empty : {"", "{}", " { } "})
		{
			const PeerVaultSettings s = loaded({{"websocket.auth.topic_scopes", empty}});
			for (const std::string& scope : s.topicScopes)
				CPPUNIT_ASSERT_EQUAL(std::string(), scope);
		}
		const PeerVaultSettings s =
		    loaded({{"websocket.auth.topic_scopes", R"({"system":"ops","peer_network":"peers","alerts":""})"}});
		CPPUNIT_ASSERT_EQUAL(std::string("ops"), s.topicScopes[static_cast<int>(Topic::SYSTEM)]);
		CPPUNIT_ASSERT_EQUAL(std::string("peers"), s.topicScopes[static_cast<int>(Topic::PEER_NETWORK)]);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.topicScopes[static_cast<int>(Topic::ALERTS)]);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.topicScopes[static_cast<int>(Topic::FILE_OPERATIONS)]);

		CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.topic_scopes: unknown topic \"nope\" (expected "
		                                 "file_operations, peer_network, system or alerts)"),
		                     problem({{"websocket.auth.topic_scopes", R"({"alerts":"admin","nope":"x"})"}}));
		CPPUNIT_ASSERT(startsWith(problem({{"websocket.auth.topic_scopes", R"({"Alerts":"admin"})"}}),
		                          "websocket.auth.topic_scopes: unknown topic \"Alerts\""));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.topic_scopes: the scope of \"alerts\" must be a string"),
		                     problem({{"websocket.auth.topic_scopes", R"({"alerts":["admin"]})"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.topic_scopes: the scope of \"system\" must be a string"),
		                     problem({{"websocket.auth.topic_scopes", R"({"system":null})"}}));
		for (const char* bad : {"[]", "alerts=admin", "{\"alerts\":\"admin\"", "\"alerts\""})
			CPPUNIT_ASSERT_EQUAL(std::string("websocket.auth.topic_scopes: expected a JSON object of topic to scope, "
			                                 "e.g. {\"alerts\":\"admin\"}"),
			                     problem({{"websocket.auth.topic_scopes", bad}}));
	}

	void testOrigins()
	{
		CPPUNIT_ASSERT(loaded({{"websocket.cors.origins", "*"}}).corsOrigins == std::vector<std::string>({"*"}));
		CPPUNIT_ASSERT(loaded({{"websocket.cors.origins", ""}}).corsOrigins.empty());
		const PeerVaultSettings s =
		    loaded({{"websocket.cors.origins", "HTTP://Ok.Example,https://a.b.c:8443, http://127.0.0.1:3000,"
		                                       "http://[::1]:8080,http://[::1],app+x.y-z://host_1,*"}});
		CPPUNIT_ASSERT(s.corsOrigins ==
		               std::vector<std::string>({"http://ok.example", "https://a.b.c:8443", "http://127.0.0.1:3000",
		                                         "http://[::1]:8080", "http://[::1]", "app+x.y-z://host_1", "*"}));

		CPPUNIT_ASSERT_EQUAL(std::string("websocket.cors.origins: \"http://ok.example/\" is neither * nor "
		                                 "scheme://host[:port]"),
		                     problem({{"websocket.cors.origins", "https://fine.example, HTTP://OK.example/"}}));
		for (const char* bad :
		     {"ok.example", "http://", "http:/ok.example", "://ok.example", "1http://ok.example",
		      "http://ok.example:", "http://ok.example:0", "http://ok.example:65536", "http://ok.example:80a",
		      "http://user@ok.example", "http://ok.example/path", "http://ok.example?x", "http://[::1", "http://[]",
		      "http://[zz]:80", "http://ok example", "**", "null"})
		{
			const std::string why = problem({{"websocket.cors.origins", bad}});
			CPPUNIT_ASSERT_MESSAGE(std::string(bad) + ": " + why, startsWith(why, "websocket.cors.origins: \""));
		}
	}

	void testRatesAndThresholds()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.limits.messages_per_second: expected a number from 0.001 to 1e9, "
		                                 "got \"0\""),
		                     problem({{"websocket.limits.messages_per_second", "0"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.limits.burst: expected a number from 1 to 1e9, got \"0.5\""),
		                     problem({{"websocket.limits.burst", "0.5"}}));
		for (const char* key : {"websocket.limits.messages_per_second", "websocket.limits.burst",
		                        "websocket.publish.per_second", "websocket.publish.burst"})
		{
			for (const char* bad : {"-1", "nan", "inf", "2e9"})
				CPPUNIT_ASSERT(startsWith(problem({{key, bad}}), std::string(key) + ": expected a number from "));
		}
		PeerVaultSettings raw;
		CPPUNIT_ASSERT_EQUAL(std::string("websocket.publish.burst: expected a number, got \"lots\""),
		                     raw.load(Config(Values{{"websocket.publish.burst", "lots"}})));

		CPPUNIT_ASSERT_EQUAL(std::string("websocket.metrics.thresholds.cpu_usage.critical: expected a finite number, "
		                                 "got \"nan\""),
		                     problem({{"websocket.metrics.thresholds.cpu_usage.critical", "nan"}}));
		CPPUNIT_ASSERT(startsWith(problem({{"websocket.metrics.thresholds.storage_usage.warning", "inf"}}),
		                          "websocket.metrics.thresholds.storage_usage.warning: "));
		// Zero and below are allowed: they switch a level off.
		const PeerVaultSettings s = loaded({{"websocket.metrics.thresholds.memory_usage.warning", "0"},
		                                    {"websocket.metrics.thresholds.memory_usage.critical", "-3"}});
		CPPUNIT_ASSERT_EQUAL(0.0, s.thresholds[static_cast<int>(AlertMetric::MEMORY_USAGE)].warning);
		CPPUNIT_ASSERT_EQUAL(-3.0, s.thresholds[static_cast<int>(AlertMetric::MEMORY_USAGE)].critical);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultSettingsTest);
