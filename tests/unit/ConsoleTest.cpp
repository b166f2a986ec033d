//
// ConsoleTest.cpp
//
// Unit tests of the admin console's host side: the ring of recent warnings (LogRing), which
// configuration keys are masked and how (Console::isSecretKey, maskSecrets, the [admin] token
// key), the JSON that /stats.json carries the metrics in (Console::metricsJson, read back with
// Poco's parser), and the console's files served from memory (Console::Assets).
//


#include "config/HostConfig.h"
#include "console/Console.h"
#include "console/LogRing.h"
#include "metrics/MetricsRegistry.h"
#include "TempDir.h"
#include "Poco/AutoPtr.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include "Poco/Message.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <fstream>
#include <string>


using namespace Switchboard::Core;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


Object::Ptr parseObject(const std::string& text)
{
	try
	{
		return Poco::JSON::Parser().parse(text).extract<Object::Ptr>();
	}
	catch (const Poco::Exception& e)
	{
		CPPUNIT_FAIL("not a JSON object (" + e.displayText() + "): " + text);
	}
	return nullptr;
}


void logLine(LogRing& ring, Poco::Message::Priority priority, const std::string& text)
{
	ring.log(Poco::Message("plugin.peerjs", text, priority));
}


bool contains(const std::string& text, const std::string& what)
{
	return text.find(what) != std::string::npos;
}


} // namespace


class ConsoleTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ConsoleTest);
	CPPUNIT_TEST(testLogRingKeepsWarningsAndAbove);
	CPPUNIT_TEST(testLogRingIsBoundedAndCountsDropped);
	CPPUNIT_TEST(testLogRingCutsLongLinesOnUtf8Boundary);
	CPPUNIT_TEST(testSecretKeyNames);
	CPPUNIT_TEST(testMaskSecretsInRenderedConfig);
	CPPUNIT_TEST(testAdminTokenValidation);
	CPPUNIT_TEST(testMetricsJsonShape);
	CPPUNIT_TEST(testMetricsJsonFromRegistry);
	CPPUNIT_TEST(testAssetsServeFromMemory);
	CPPUNIT_TEST_SUITE_END();

public:
	void testLogRingKeepsWarningsAndAbove()
	{
		Poco::AutoPtr<LogRing> ring(new LogRing(10));
		logLine(*ring, Poco::Message::PRIO_INFORMATION, "started");
		logLine(*ring, Poco::Message::PRIO_DEBUG, "detail");
		logLine(*ring, Poco::Message::PRIO_NOTICE, "notice");
		logLine(*ring, Poco::Message::PRIO_WARNING, "queue \"full\"\nagain");
		logLine(*ring, Poco::Message::PRIO_ERROR, "failed");
		logLine(*ring, Poco::Message::PRIO_CRITICAL, "worse");
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), ring->size());
		Object::Ptr json = parseObject(ring->json());
		CPPUNIT_ASSERT_EQUAL(0, json->getValue<int>("dropped"));
		Array::Ptr lines = json->getArray("lines");
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), lines->size());
		Object::Ptr first = lines->getObject(0);
		CPPUNIT_ASSERT_EQUAL(std::string("warning"), first->getValue<std::string>("level"));
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.peerjs"), first->getValue<std::string>("source"));
		CPPUNIT_ASSERT_EQUAL(std::string("queue \"full\"\nagain"), first->getValue<std::string>("text"));
		CPPUNIT_ASSERT(first->getValue<std::int64_t>("time_ms") > 1500000000000);
		CPPUNIT_ASSERT_EQUAL(std::string("error"), lines->getObject(1)->getValue<std::string>("level"));
		CPPUNIT_ASSERT_EQUAL(std::string("critical"), lines->getObject(2)->getValue<std::string>("level"));
	}

	void testLogRingIsBoundedAndCountsDropped()
	{
		Poco::AutoPtr<LogRing> ring(new LogRing(5));
		for (int i = 0; i < 12; ++i)
			logLine(*ring, Poco::Message::PRIO_WARNING, "line " + std::to_string(i));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), ring->size());
		Object::Ptr json = parseObject(ring->json());
		CPPUNIT_ASSERT_EQUAL(7, json->getValue<int>("dropped"));
		Array::Ptr lines = json->getArray("lines");
		CPPUNIT_ASSERT_EQUAL(std::string("line 7"), lines->getObject(0)->getValue<std::string>("text"));
		CPPUNIT_ASSERT_EQUAL(std::string("line 11"), lines->getObject(4)->getValue<std::string>("text"));
	}

	void testLogRingCutsLongLinesOnUtf8Boundary()
	{
		Poco::AutoPtr<LogRing> ring(new LogRing(2));
		std::string text = "x";
		while (text.size() < LogRing::MAX_TEXT + 100)
			text += "\xc3\xa9"; // é: two bytes, so the cut falls inside one on either parity
		logLine(*ring, Poco::Message::PRIO_ERROR, text);
		Object::Ptr json = parseObject(ring->json());
		std::string kept = json->getArray("lines")->getObject(0)->getValue<std::string>("text");
		CPPUNIT_ASSERT(kept.size() <= LogRing::MAX_TEXT + 3);
		CPPUNIT_ASSERT_EQUAL(std::string("..."), kept.substr(kept.size() - 3));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), (kept.size() - 4) % 2); // "x", whole two-byte characters, "..."
	}

	void testSecretKeyNames()
	{
		for (const char* secret :
		     {"jwt_secret", "postgresql_password", "redis_password", "token", "password", "websocket.auth.jwt_secret",
		      "websocket.auth.tokens", "key", "api_key", "client_credentials", "JWT_SECRET"})
			CPPUNIT_ASSERT_MESSAGE(secret, Console::isSecretKey(secret));
		for (const char* open : {"tls_key", "public_key", "key_prefix", "access_token_ttl", "refresh_token_ttl",
		                         "password.memlimit", "password_lockout", "password_max_failures", "token_validator",
		                         "ws.close_on_token_expiry", "port", "address"})
			CPPUNIT_ASSERT_MESSAGE(open, !Console::isSecretKey(open));
	}

	void testMaskSecretsInRenderedConfig()
	{
		HostConfig config;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error,
		                       HostConfig::load("", {{"SWITCHBOARD_STORAGE__POSTGRESQL_PASSWORD", "hunter2-in-env"}},
		                                        {"admin.token=abcdefghijklmnop0123", "listener.main.port=9000",
		                                         "plugin.together.jwt_secret=s3cr3t-value",
		                                         "plugin.together.access_token_ttl=900", "cluster.redis_password="},
		                                        config, error));
		const std::string rendered = config.render();
		CPPUNIT_ASSERT(contains(rendered, "abcdefghijklmnop0123"));
		const std::string masked = Console::maskSecrets(rendered);
		for (const char* secret : {"abcdefghijklmnop0123", "s3cr3t-value", "hunter2-in-env"})
			CPPUNIT_ASSERT_MESSAGE(secret, !contains(masked, secret));
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\ntoken = ********\n"));
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\njwt_secret = ********\n"));
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\npostgresql_password = ********\n"));
		// Not secret, or not set: as they were.
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\naccess_token_ttl = 900\n"));
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\nredis_password =\n"));
		CPPUNIT_ASSERT_MESSAGE(masked, contains(masked, "\ntls_key =\n"));
		// Only values change: the comments and every other line stay.
		CPPUNIT_ASSERT_EQUAL(std::count(rendered.begin(), rendered.end(), '\n'),
		                     std::count(masked.begin(), masked.end(), '\n'));
		// [environment] lines name variables, not values.
		CPPUNIT_ASSERT_EQUAL(std::string("[environment]\nstorage.postgresql_password = PGPASSWORD\n"),
		                     Console::maskSecrets("[environment]\nstorage.postgresql_password = PGPASSWORD\n"));
	}

	void testAdminTokenValidation()
	{
		HostConfig config;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load("", {}, {}, config, error));
		CPPUNIT_ASSERT_EQUAL(std::string(), config.settings().adminToken);
		CPPUNIT_ASSERT_MESSAGE(
		    error, HostConfig::load("", {}, {"admin.token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="}, config, error));
		CPPUNIT_ASSERT_EQUAL(std::string("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="), config.settings().adminToken);
		for (const char* bad : {"admin.token=short", "admin.token=has space in the middle!",
		                        "admin.token=a=b0123456789abcdef", "admin.token=0123456789abcdef\"quote"})
		{
			HostConfig rejected;
			error.clear();
			CPPUNIT_ASSERT_MESSAGE(bad, !HostConfig::load("", {}, {bad}, rejected, error));
			CPPUNIT_ASSERT_MESSAGE(error, contains(error, "admin.token"));
		}
	}

	void testMetricsJsonShape()
	{
		const std::string text = "# HELP switchboard_peerjs_peers Registered peers\n"
		                         "# TYPE switchboard_peerjs_peers gauge\n"
		                         "switchboard_peerjs_peers 2\n"
		                         "# HELP switchboard_plugin_messages_received_total Messages \\\\ \\n in\n"
		                         "# TYPE switchboard_plugin_messages_received_total counter\n"
		                         "switchboard_plugin_messages_received_total{plugin=\"echo\"} 5\n"
		                         "switchboard_plugin_messages_received_total{plugin=\"pe\\\"er}js\",x=\"a\\\\b\"} 7\n"
		                         "# TYPE lat histogram\n"
		                         "lat_bucket{le=\"0.5\"} 1\n"
		                         "lat_bucket{le=\"+Inf\"} 3\n"
		                         "lat_sum 2.25\n"
		                         "lat_count 3\n"
		                         "odd_value NaN\n"
		                         "garbage line without value\n";
		Object::Ptr json = parseObject(Console::metricsJson(text));
		Object::Ptr peers = json->getObject("switchboard_peerjs_peers");
		CPPUNIT_ASSERT_EQUAL(std::string("gauge"), peers->getValue<std::string>("type"));
		CPPUNIT_ASSERT_EQUAL(std::string("Registered peers"), peers->getValue<std::string>("help"));
		Array::Ptr samples = peers->getArray("samples");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), samples->size());
		CPPUNIT_ASSERT_EQUAL(2, samples->getObject(0)->getValue<int>("value"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), samples->getObject(0)->getObject("labels")->size());

		Object::Ptr received = json->getObject("switchboard_plugin_messages_received_total");
		CPPUNIT_ASSERT_EQUAL(std::string("counter"), received->getValue<std::string>("type"));
		CPPUNIT_ASSERT_EQUAL(std::string("Messages \\ \n in"), received->getValue<std::string>("help"));
		samples = received->getArray("samples");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), samples->size());
		CPPUNIT_ASSERT_EQUAL(std::string("echo"),
		                     samples->getObject(0)->getObject("labels")->getValue<std::string>("plugin"));
		Object::Ptr odd = samples->getObject(1)->getObject("labels");
		CPPUNIT_ASSERT_EQUAL(std::string("pe\"er}js"), odd->getValue<std::string>("plugin"));
		CPPUNIT_ASSERT_EQUAL(std::string("a\\b"), odd->getValue<std::string>("x"));
		CPPUNIT_ASSERT_EQUAL(7, samples->getObject(1)->getValue<int>("value"));

		Object::Ptr histogram = json->getObject("lat");
		CPPUNIT_ASSERT_EQUAL(std::string("histogram"), histogram->getValue<std::string>("type"));
		samples = histogram->getArray("samples");
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), samples->size());
		CPPUNIT_ASSERT_EQUAL(std::string("lat_bucket"), samples->getObject(1)->getValue<std::string>("name"));
		CPPUNIT_ASSERT_EQUAL(std::string("+Inf"),
		                     samples->getObject(1)->getObject("labels")->getValue<std::string>("le"));
		CPPUNIT_ASSERT_EQUAL(2.25, samples->getObject(2)->getValue<double>("value"));
		CPPUNIT_ASSERT_EQUAL(std::string("lat_count"), samples->getObject(3)->getValue<std::string>("name"));

		// A value JSON cannot spell is a string; a line without a value is left out.
		Object::Ptr nan = json->getObject("odd_value");
		CPPUNIT_ASSERT_EQUAL(std::string("untyped"), nan->getValue<std::string>("type"));
		CPPUNIT_ASSERT_EQUAL(std::string("NaN"),
		                     nan->getArray("samples")->getObject(0)->getValue<std::string>("value"));
		CPPUNIT_ASSERT(!json->has("garbage"));
		CPPUNIT_ASSERT_EQUAL(std::string("{}"), Console::metricsJson(""));
	}

	void testMetricsJsonFromRegistry()
	{
		// Whatever the registry renders (collectors included) comes through as JSON.
		MetricsRegistry registry;
		registry.scope("peerjs").gauge("peers", "Registered peers").set(3);
		registry.scope("").counter("plugin_messages_sent_total", "sent", {{"plugin", "peerjs"}}).increment(4);
		registry.scope("govpn").histogram("wait_seconds", "waits", {0.1, 1}).observe(0.5);
		registry.addCollector(processMetricsCollector());
		Object::Ptr json = parseObject(Console::metricsJson(registry.renderPrometheus()));
		CPPUNIT_ASSERT_EQUAL(
		    3, json->getObject("switchboard_peerjs_peers")->getArray("samples")->getObject(0)->getValue<int>("value"));
		Object::Ptr sent = json->getObject("switchboard_plugin_messages_sent_total");
		CPPUNIT_ASSERT_EQUAL(4, sent->getArray("samples")->getObject(0)->getValue<int>("value"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5),
		                     json->getObject("switchboard_govpn_wait_seconds")->getArray("samples")->size());
		CPPUNIT_ASSERT(json->has("switchboard_metric_registration_errors_total"));
		CPPUNIT_ASSERT(json->has("process_open_fds"));
	}

	void testAssetsServeFromMemory()
	{
		Switchboard::Test::TempDir dir("switchboard-console-assets");
		for (const char* name : {"index.html", "console.css", "console.js"})
			std::ofstream(dir.filePath(name)) << "<" << name << ">";
		Console::Assets assets;
		assets.load(dir.path(), dir.filePath("no-chart.js"));
		std::string type, body, missing;
		for (const char* path : {"/", "/console", "/console/"})
		{
			CPPUNIT_ASSERT_MESSAGE(path, assets.find(path, type, body, missing));
			CPPUNIT_ASSERT_EQUAL(std::string("<index.html>"), body);
			CPPUNIT_ASSERT_EQUAL(std::string("text/html; charset=utf-8"), type);
		}
		CPPUNIT_ASSERT(assets.find("/console/console.js", type, body, missing));
		CPPUNIT_ASSERT_EQUAL(std::string("text/javascript; charset=utf-8"), type);
		CPPUNIT_ASSERT(assets.find("/console/console.css", type, body, missing));
		CPPUNIT_ASSERT_EQUAL(std::string("text/css; charset=utf-8"), type);
		// The file is read once: a change on disk shows after a restart only.
		std::ofstream(dir.filePath("console.css")) << "changed";
		CPPUNIT_ASSERT(assets.find("/console/console.css", type, body, missing));
		CPPUNIT_ASSERT_EQUAL(std::string("<console.css>"), body);
		CPPUNIT_ASSERT(!assets.find("/console/vendor/chart.js", type, body, missing));
		CPPUNIT_ASSERT_MESSAGE(missing, contains(missing, "libjs-chart.js"));
		CPPUNIT_ASSERT(!assets.find("/console/../etc/passwd", type, body, missing));
		CPPUNIT_ASSERT(missing.empty());
		CPPUNIT_ASSERT(Console::Assets::isConsolePath("/console/anything"));
		CPPUNIT_ASSERT(!Console::Assets::isConsolePath("/metrics"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ConsoleTest);
