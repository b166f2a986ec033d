//
// ConsoleIntegrationTest.cpp
//
// The admin console over real sockets: /stats.json while PeerJS peers and an echo client are
// connected, the page and its files at / and /console (Chart.js from Debian's libjs-chart.js when
// it is installed), the effective configuration with secrets masked, and the [admin] token: data
// paths answer 401 without it, the probes and the page's static files stay open.
//


#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const char* LOOPBACK = "127.0.0.1";
const char* CHART_JS = "/usr/share/javascript/chart.js/chart.min.js";
const std::string TOKEN = "c0nsole-Test-token_0123456789";


bool contains(const std::string& text, const std::string& what)
{
	return text.find(what) != std::string::npos;
}


Object::Ptr parseObject(const std::string& text)
{
	try
	{
		return Poco::JSON::Parser().parse(text).extract<Object::Ptr>();
	}
	catch (const Poco::Exception& e)
	{
		CPPUNIT_FAIL("not a JSON object (" + e.displayText() + "): " + text.substr(0, 2000));
	}
	return nullptr;
}


double sampleValue(const Object::Ptr& stats, const std::string& family, const std::string& plugin = "")
/// The value of the family's sample (with plugin="<plugin>" when given); -1 when absent.
{
	Object::Ptr metrics = stats->getObject("metrics");
	if (!metrics->has(family))
		return -1;
	Array::Ptr samples = metrics->getObject(family)->getArray("samples");
	for (std::size_t i = 0; i < samples->size(); ++i)
	{
		Object::Ptr sample = samples->getObject(static_cast<unsigned>(i));
		Object::Ptr labels = sample->getObject("labels");
		if (plugin.empty() ? labels->size() == 0 : labels->optValue<std::string>("plugin", "") == plugin)
			return sample->getValue<double>("value");
	}
	return -1;
}


void openPeer(WsTestClient& client, int port, const std::string& id)
{
	HttpResponse r = client.connect(LOOPBACK, port, "/peerjs?key=peerjs&id=" + id + "&token=t" + id);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(id, 101, r.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(id, std::string("{\"type\":\"OPEN\"}"), client.receiveMessage(5000).payload);
}


std::string offerTo(const std::string& dst)
{
	return "{\"type\":\"OFFER\",\"dst\":\"" + dst + "\",\"payload\":{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}}";
}


} // namespace


class ConsoleIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ConsoleIntegrationTest);
	CPPUNIT_TEST(testStatsJsonCarriesFigures);
	CPPUNIT_TEST(testStatsJsonKeepsRecentErrors);
	CPPUNIT_TEST(testPageAndFilesAreServed);
	CPPUNIT_TEST(testTokenProtectsDataNotProbes);
	CPPUNIT_TEST(testReloadShowsNewGenerationAndConfiguration);
	CPPUNIT_TEST_SUITE_END();

public:
	void testStatsJsonCarriesFigures()
	{
		TestServer server;
		server.addPlugin("peerjs", "main", "", {{"path", "/"}, {"key", "peerjs"}});
		server.addPlugin("echo", "main", "/echo");
		server.start();
		const int port = server.port("main");

		WsTestClient alice, bob, echo;
		openPeer(alice, port, "alice");
		openPeer(bob, port, "bob");
		CPPUNIT_ASSERT_EQUAL(101, echo.connect(LOOPBACK, port, "/echo/ws").status);
		for (int i = 0; i < 3; ++i)
		{
			alice.sendText(offerTo("bob"));
			CPPUNIT_ASSERT(contains(bob.receiveMessage(5000).payload, "\"OFFER\""));
			echo.sendText("hello " + std::to_string(i));
			CPPUNIT_ASSERT_EQUAL(std::string("hello ") + std::to_string(i), echo.receiveMessage(5000).payload);
		}

		HttpResponse response = HttpTestClient::get(LOOPBACK, server.adminPort(), "/stats.json");
		CPPUNIT_ASSERT_EQUAL(200, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("application/json; charset=utf-8"), response.header("Content-Type"));
		CPPUNIT_ASSERT(contains(response.header("Cache-Control"), "no-cache"));
		Object::Ptr stats = parseObject(response.body);
		CPPUNIT_ASSERT(!stats->getValue<std::string>("version").empty());
		CPPUNIT_ASSERT(stats->getValue<std::int64_t>("uptime_seconds") >= 0);
		CPPUNIT_ASSERT(stats->getValue<std::int64_t>("time_ms") >= stats->getValue<std::int64_t>("started_ms"));
		CPPUNIT_ASSERT(stats->getValue<bool>("ready"));

		Array::Ptr plugins = stats->getArray("plugins");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), plugins->size());
		for (std::size_t i = 0; i < plugins->size(); ++i)
		{
			Object::Ptr p = plugins->getObject(static_cast<unsigned>(i));
			CPPUNIT_ASSERT_EQUAL(std::string("running"), p->getValue<std::string>("state"));
			CPPUNIT_ASSERT_EQUAL(std::string("main"), p->getValue<std::string>("listener"));
		}

		// The plugins' own figures and the host's per-plugin ones.
		CPPUNIT_ASSERT_EQUAL(2.0, sampleValue(stats, "switchboard_peerjs_peers"));
		CPPUNIT_ASSERT_EQUAL(0.0, sampleValue(stats, "switchboard_peerjs_queued_messages"));
		CPPUNIT_ASSERT_EQUAL(1.0, sampleValue(stats, "switchboard_echo_connections"));
		CPPUNIT_ASSERT_EQUAL(2.0, sampleValue(stats, "switchboard_plugin_connections_open", "peerjs"));
		CPPUNIT_ASSERT_EQUAL(1.0, sampleValue(stats, "switchboard_plugin_connections_open", "echo"));
		CPPUNIT_ASSERT_EQUAL(3.0, sampleValue(stats, "switchboard_plugin_messages_received_total", "peerjs"));
		// OPEN to each peer, then the three relayed offers.
		CPPUNIT_ASSERT_EQUAL(5.0, sampleValue(stats, "switchboard_plugin_messages_sent_total", "peerjs"));
		CPPUNIT_ASSERT_EQUAL(3.0, sampleValue(stats, "switchboard_plugin_messages_received_total", "echo"));
		CPPUNIT_ASSERT_EQUAL(3.0, sampleValue(stats, "switchboard_plugin_messages_sent_total", "echo"));
		CPPUNIT_ASSERT(sampleValue(stats, "switchboard_connections_open") >= 3.0);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("counter"),
		    stats->getObject("metrics")->getObject("switchboard_http_requests_total")->getValue<std::string>("type"));
		CPPUNIT_ASSERT(stats->getObject("metrics")->has("process_resident_memory_bytes"));

		// Closed connections leave the per-plugin gauge.
		alice.close();
		echo.close();
		bool dropped = false;
		for (int i = 0; i < 100 && !dropped; ++i)
		{
			stats = parseObject(HttpTestClient::get(LOOPBACK, server.adminPort(), "/stats.json").body);
			dropped = sampleValue(stats, "switchboard_plugin_connections_open", "peerjs") == 1.0 &&
			          sampleValue(stats, "switchboard_plugin_connections_open", "echo") == 0.0;
			if (!dropped)
				::usleep(50000);
		}
		CPPUNIT_ASSERT(dropped);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testStatsJsonKeepsRecentErrors()
	{
		// A plugin that fails to start under on_plugin_failure = skip: an error line in the ring.
		TestServer server;
		server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
		server.set("host", "on_plugin_failure", "skip");
		server.addPlugin("good", "main", "/g", {{"required_text", "ok"}});
		server.addPlugin("fails_start", "main", "/f", {{"required_text", "x"}});
		server.start();
		const std::string body = HttpTestClient::get(LOOPBACK, server.adminPort(), "/stats.json").body;
		Object::Ptr stats = parseObject(body);
		Object::Ptr log = stats->getObject("log");
		CPPUNIT_ASSERT_EQUAL(0, log->getValue<int>("dropped"));
		Array::Ptr lines = log->getArray("lines");
		bool found = false;
		for (std::size_t i = 0; i < lines->size(); ++i)
		{
			Object::Ptr line = lines->getObject(static_cast<unsigned>(i));
			CPPUNIT_ASSERT(line->getValue<std::string>("level") != "information");
			found = found || (line->getValue<std::string>("level") == "error" &&
			                  contains(line->getValue<std::string>("text"), "fails_start") &&
			                  contains(line->getValue<std::string>("text"), "skipped"));
		}
		CPPUNIT_ASSERT_MESSAGE(body.substr(0, 4000), found);
		// No information line made it into the ring, though the log has plenty.
		CPPUNIT_ASSERT(contains(server.runLogText(), "ready"));
		Array::Ptr plugins = stats->getArray("plugins");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), plugins->size());
		CPPUNIT_ASSERT(contains(body, "\"state\":\"failed\""));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPageAndFilesAreServed()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hey"}});
		server.start();
		const int admin = server.adminPort();
		for (const char* path : {"/", "/console", "/console/"})
		{
			HttpResponse page = HttpTestClient::get(LOOPBACK, admin, path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, page.status);
			CPPUNIT_ASSERT_EQUAL(std::string("text/html; charset=utf-8"), page.header("Content-Type"));
			CPPUNIT_ASSERT(contains(page.header("Cache-Control"), "no-cache"));
			CPPUNIT_ASSERT(contains(page.body, "<title>Switchboard console</title>"));
			CPPUNIT_ASSERT(contains(page.body, "/console/vendor/chart.js"));
		}
		HttpResponse head = HttpTestClient::request(LOOPBACK, admin, "HEAD", "/console");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT(head.body.empty());
		CPPUNIT_ASSERT(std::stoul(head.header("Content-Length")) > 1000);

		HttpResponse script = HttpTestClient::get(LOOPBACK, admin, "/console/console.js");
		CPPUNIT_ASSERT_EQUAL(200, script.status);
		CPPUNIT_ASSERT_EQUAL(std::string("text/javascript; charset=utf-8"), script.header("Content-Type"));
		CPPUNIT_ASSERT(contains(script.body, "/stats.json"));
		HttpResponse css = HttpTestClient::get(LOOPBACK, admin, "/console/console.css");
		CPPUNIT_ASSERT_EQUAL(200, css.status);
		CPPUNIT_ASSERT_EQUAL(std::string("text/css; charset=utf-8"), css.header("Content-Type"));
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, admin, "/console/nothing.js").status);

		HttpResponse chart = HttpTestClient::get(LOOPBACK, admin, "/console/vendor/chart.js");
		if (::access(CHART_JS, R_OK) == 0)
		{
			std::ifstream file(CHART_JS, std::ios::binary);
			std::ostringstream bytes;
			bytes << file.rdbuf();
			CPPUNIT_ASSERT_EQUAL(200, chart.status);
			CPPUNIT_ASSERT_EQUAL(std::string("text/javascript; charset=utf-8"), chart.header("Content-Type"));
			CPPUNIT_ASSERT(chart.body == bytes.str());
		}
		else
		{
			std::cout << "\nConsoleIntegrationTest: " << CHART_JS
			          << " is not installed (libjs-chart.js): only the 404 is checked" << std::endl;
			CPPUNIT_ASSERT_EQUAL(404, chart.status);
			CPPUNIT_ASSERT(contains(chart.body, "libjs-chart.js"));
		}

		HttpResponse config = HttpTestClient::get(LOOPBACK, admin, "/console/config.txt");
		CPPUNIT_ASSERT_EQUAL(200, config.status);
		CPPUNIT_ASSERT_EQUAL(std::string("text/plain; charset=utf-8"), config.header("Content-Type"));
		for (const char* expected : {"[admin]", "[plugin.echo]", "greeting = hey", "\ntoken =\n"})
			CPPUNIT_ASSERT_MESSAGE(expected, contains(config.body, expected));
		// Admin paths stay on the admin listener.
		CPPUNIT_ASSERT_EQUAL(404, HttpTestClient::get(LOOPBACK, server.port("main"), "/stats.json").status);
		CPPUNIT_ASSERT_EQUAL(405, HttpTestClient::request(LOOPBACK, admin, "POST", "/stats.json").status);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testReloadShowsNewGenerationAndConfiguration()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hey"}});
		server.start();
		const int admin = server.adminPort();
		auto generation = [&] {
			Object::Ptr stats = parseObject(HttpTestClient::get(LOOPBACK, admin, "/stats.json").body);
			return stats->getValue<int>("configuration_generation");
		};
		CPPUNIT_ASSERT_EQUAL(1, generation());
		server.set("plugin.echo", "greeting", "reloaded");
		server.reload();
		// Bounded: 250 x 20 ms.
		for (int i = 0; i < 250 && generation() != 2; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		CPPUNIT_ASSERT_EQUAL(2, generation());
		const std::string config = HttpTestClient::get(LOOPBACK, admin, "/console/config.txt").body;
		CPPUNIT_ASSERT_MESSAGE(config, contains(config, "greeting = reloaded"));
		CPPUNIT_ASSERT(!contains(config, "greeting = hey"));
		const std::string script = HttpTestClient::get(LOOPBACK, admin, "/console/console.js").body;
		CPPUNIT_ASSERT(contains(script, "configuration_generation"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testTokenProtectsDataNotProbes()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		server.set("admin", "token", TOKEN);
		server.start();
		const int admin = server.adminPort();
		const HttpTestClient::Headers good = {{"Authorization", "Bearer " + TOKEN}};
		const HttpTestClient::Headers wrong = {{"Authorization", "Bearer " + TOKEN + "x"}};
		const HttpTestClient::Headers basic = {{"Authorization", "Basic " + TOKEN}};
		for (const char* path : {"/stats.json", "/metrics", "/plugins", "/cluster", "/console/config.txt"})
		{
			HttpResponse none = HttpTestClient::get(LOOPBACK, admin, path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, none.status);
			CPPUNIT_ASSERT_MESSAGE(path, contains(none.header("WWW-Authenticate"), "Bearer"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, HttpTestClient::get(LOOPBACK, admin, path, wrong).status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, HttpTestClient::get(LOOPBACK, admin, path, basic).status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, HttpTestClient::request(LOOPBACK, admin, "HEAD", path).status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, HttpTestClient::get(LOOPBACK, admin, path, good).status);
		}
		// The scheme is case-insensitive (RFC 7235).
		CPPUNIT_ASSERT_EQUAL(
		    200, HttpTestClient::get(LOOPBACK, admin, "/metrics", {{"Authorization", "bearer " + TOKEN}}).status);
		// Probes stay open: a load balancer or kubelet has no token.
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, admin, "/healthz").status);
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get(LOOPBACK, admin, "/readyz").status);
		// So do the page and its files (no figures in them): the page asks for the token.
		for (const char* path : {"/", "/console", "/console/console.js", "/console/console.css"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, HttpTestClient::get(LOOPBACK, admin, path).status);
		// The token itself is never shown.
		HttpResponse config = HttpTestClient::get(LOOPBACK, admin, "/console/config.txt", good);
		CPPUNIT_ASSERT(!contains(config.body, TOKEN));
		CPPUNIT_ASSERT_MESSAGE(config.body, contains(config.body, "\ntoken = ********\n"));
		TestServer::RunResult printed = server.runWithConfig({"--print-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(printed.describe(), 0, printed.exitCode);
		CPPUNIT_ASSERT(!contains(printed.stdoutText, TOKEN));
		CPPUNIT_ASSERT(contains(printed.stdoutText, "\ntoken = ********\n"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		// A token too short to be one is a configuration error.
		TestServer bad;
		bad.set("admin", "token", "short");
		TestServer::RunResult refused = bad.runWithConfig({"--check-config"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(refused.describe(), 78, refused.exitCode);
		CPPUNIT_ASSERT_MESSAGE(refused.describe(), contains(refused.stderrText + refused.stdoutText, "admin.token"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ConsoleIntegrationTest);
