//
// PeerVaultMetricsIntegrationTest.cpp
//
// The real switchboard binary with only the PeerVault plugin: /work/shared/protocols/peervault.md
// §12.4 (cases 15-19): the metrics ticker on the system topic, the edge-triggered connection-usage
// alert, and the HTTP endpoints /ws/health, /ws/metrics, /ws/status with their methods, CORS
// preflight and errors.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "PeerVaultTestSupport.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cmath>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const char* const UPTIME_PATTERN = "^(\\d+h)?(\\d+m)?\\d+(\\.\\d+)?s$|^\\d+ms$";
const std::vector<std::string> ALERT_METRICS = {"memory_usage", "cpu_usage", "connection_usage",
                                                "average_response_time", "storage_usage"};


Object::Ptr nextSystemMetrics(WsTestClient& client, int timeoutMs, int* pongs = nullptr)
/// The next frame that is not a pong, which must be system_metrics; pongs (counted) may come first.
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		const std::string text = nextText(client, deadline.remainingMs());
		Object::Ptr frame = object(text);
		const std::string type = stringAt(frame, "type", text);
		if (type == "pong")
		{
			if (pongs != nullptr)
				++*pongs;
			continue;
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("expected system_metrics: " + text, std::string("system_metrics"), type);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("system"), stringAt(frame, "topic", text));
		expectKeys(frame, {"type", "topic", "data", "timestamp"}, text);
		return frame;
	}
}


void checkStorage(const Object::Ptr& storage, const std::string& text)
{
	const std::int64_t total = integerAt(storage, "totalSpace", text);
	const std::int64_t available = integerAt(storage, "availableSpace", text);
	const std::int64_t used = integerAt(storage, "usedSpace", text);
	CPPUNIT_ASSERT_MESSAGE("totalSpace >= availableSpace: " + text, total >= available);
	CPPUNIT_ASSERT_MESSAGE("positive totalSpace: " + text, total > 0);
	CPPUNIT_ASSERT_MESSAGE("used + available <= total: " + text, used >= 0 && used + available <= total);
}


} // namespace


class PeerVaultMetricsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultMetricsIntegrationTest);
	CPPUNIT_TEST(testMetricsTicker);
	CPPUNIT_TEST(testDetailedMetrics);
	CPPUNIT_TEST(testAlertEdge);
	CPPUNIT_TEST(testHealth);
	CPPUNIT_TEST(testCumulativeCounter);
	CPPUNIT_TEST(testMethods);
	CPPUNIT_TEST(testCorsHeaders);
	CPPUNIT_TEST_SUITE_END();

public:
	void testMetricsTicker()
	/// Case 15: with metrics.interval = 1s a system_metrics frame arrives within 2 s; its figures
	/// are integers where the contract says so, match the open connections and grow with traffic.
	{
		std::unique_ptr<TestServer> server = startServer({{key("metrics.interval"), "1s"}});
		WsTestClient other = connect(*server);
		ping(other);
		WsTestClient client = connect(*server);
		subscribe(client, "system");
		const Deadline twoSeconds(2000);
		Object::Ptr first = nextSystemMetrics(client, 2000);
		CPPUNIT_ASSERT_MESSAGE("system_metrics after more than 2 s", !twoSeconds.expired());
		const std::string text = stringify(first);
		expectTimestamp(stringAt(first, "timestamp", text), text);
		Object::Ptr data = objectAt(first, "data", text);
		expectKeys(data, {"storage", "network", "performance", "timestamp"}, "data of " + text);
		expectTimestamp(stringAt(data, "timestamp", text), "data.timestamp of " + text);
		Object::Ptr storage = objectAt(data, "storage", text);
		expectKeys(storage, {"totalSpace", "usedSpace", "availableSpace"}, "storage of " + text);
		checkStorage(storage, text);
		Object::Ptr network = objectAt(data, "network", text);
		expectHasKeys(network,
		              {"activeConnections", "totalConnections", "totalBytesTransferred", "bytesSent", "bytesReceived",
		               "messagesSent", "messagesReceived", "messagesPerSecond"},
		              "network of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("activeConnections with 2 test connections: " + text, static_cast<std::int64_t>(2),
		                             integerAt(network, "activeConnections", text));
		CPPUNIT_ASSERT_MESSAGE("totalConnections >= 2: " + text, integerAt(network, "totalConnections", text) >= 2);
		const std::int64_t bytes = integerAt(network, "totalBytesTransferred", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("totalBytesTransferred = bytesSent + bytesReceived: " + text,
		                             integerAt(network, "bytesSent", text) + integerAt(network, "bytesReceived", text),
		                             bytes);
		integerAt(network, "messagesSent", text);
		integerAt(network, "messagesReceived", text);
		numberAt(network, "messagesPerSecond", text);
		Object::Ptr performance = objectAt(data, "performance", text);
		expectHasKeys(performance,
		              {"averageResponseTime", "requestsPerSecond", "memoryUsage", "memoryRss", "cpuUsage", "uptime"},
		              "performance of " + text);
		CPPUNIT_ASSERT_MESSAGE("memoryRss > 0: " + text, integerAt(performance, "memoryRss", text) > 0);
		const double memoryUsage = numberAt(performance, "memoryUsage", text);
		CPPUNIT_ASSERT_MESSAGE("memoryUsage is a percentage: " + text, memoryUsage > 0 && memoryUsage < 100);
		CPPUNIT_ASSERT_MESSAGE("uptime > 0: " + text, numberAt(performance, "uptime", text) > 0);
		CPPUNIT_ASSERT_MESSAGE("cpuUsage >= 0: " + text, numberAt(performance, "cpuUsage", text) >= 0);
		CPPUNIT_ASSERT_MESSAGE("averageResponseTime >= 0: " + text,
		                       numberAt(performance, "averageResponseTime", text) >= 0);
		CPPUNIT_ASSERT_MESSAGE("requestsPerSecond >= 0: " + text,
		                       numberAt(performance, "requestsPerSecond", text) >= 0);

		// Pings while the next tick comes: the byte counter grows between the two frames.
		int pongs = 0;
		for (int i = 0; i < 10; ++i)
		{
			sendJson(client, "{\"type\":\"ping\"}");
			sendJson(other, "{\"type\":\"ping\"}");
			expectPong(nextFrame(other), "the other connection's pong");
		}
		Object::Ptr second = nextSystemMetrics(client, 2500, &pongs);
		const std::string secondText = stringify(second);
		Object::Ptr secondNetwork = objectAt(objectAt(second, "data", secondText), "network", secondText);
		CPPUNIT_ASSERT_MESSAGE("totalBytesTransferred did not grow: " + std::to_string(bytes) + " then " + secondText,
		                       integerAt(secondNetwork, "totalBytesTransferred", secondText) > bytes);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("activeConnections on the second tick: " + secondText,
		                             static_cast<std::int64_t>(2),
		                             integerAt(secondNetwork, "activeConnections", secondText));
		CPPUNIT_ASSERT_MESSAGE("messagesPerSecond > 0 with traffic in the interval: " + secondText,
		                       numberAt(secondNetwork, "messagesPerSecond", secondText) > 0);
		const std::string secondAt = stringAt(second, "timestamp", secondText);
		const std::int64_t gap = timestampMillis(secondAt) - timestampMillis(stringAt(first, "timestamp", text));
		CPPUNIT_ASSERT_MESSAGE("ticks " + std::to_string(gap) + " ms apart with a 1 s interval",
		                       gap >= 500 && gap <= 2500);
		// Every ping was answered (in order, before or after the metrics frame).
		while (pongs < 10)
		{
			expectPong(nextFrame(client), "pong " + std::to_string(pongs));
			++pongs;
		}

		// Unsubscribed: no more ticks.
		sendJson(client, "{\"type\":\"unsubscribe\",\"topic\":\"system\"}");
		expectNothing(client, "unsubscribe");
		const WsTestClient::Frame quiet = client.receive(1500);
		CPPUNIT_ASSERT_MESSAGE("a frame after unsubscribing from system: " + quiet.payload, quiet.timedOut());
	}

	void testDetailedMetrics()
	/// Case 15: with metrics.detailed = true, storage_metrics, network_metrics and
	/// performance_metrics follow every system_metrics.
	{
		std::unique_ptr<TestServer> server =
		    startServer({{key("metrics.interval"), "1s"}, {key("metrics.detailed"), "true"}});
		WsTestClient client = connect(*server);
		subscribe(client, "system");
		for (int tick = 0; tick < 2; ++tick)
		{
			Object::Ptr summary = nextSystemMetrics(client, 2500);
			const std::string summaryText = stringify(summary);
			Object::Ptr data = objectAt(summary, "data", summaryText);
			const std::vector<std::pair<std::string, std::string>> details = {
			    {"storage_metrics", "storage"}, {"network_metrics", "network"}, {"performance_metrics", "performance"}};
			for (const auto& detail : details)
			{
				const std::string text = nextText(client, 1000);
				Object::Ptr frame = object(text);
				CPPUNIT_ASSERT_EQUAL_MESSAGE("tick " + std::to_string(tick) + ", after system_metrics: " + text,
				                             detail.first, stringAt(frame, "type", text));
				CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("system"), stringAt(frame, "topic", text));
				expectKeys(frame, {"type", "topic", "data", "timestamp"}, text);
				Object::Ptr fields = objectAt(frame, "data", text);
				std::set<std::string> expected = keysOf(objectAt(data, detail.second, summaryText));
				expected.insert("timestamp");
				expectKeys(fields, expected, detail.first + " " + text);
				expectTimestamp(stringAt(fields, "timestamp", text), text);
			}
		}
	}

	void testAlertEdge()
	/// Case 16: connection_usage.warning = 0.15 (percent) with max_connections = 1000: a second
	/// connection raises exactly one warning, nothing more over 3 ticks, and closing it one info.
	/// The other metrics' thresholds are set to 0 (disabled) so only this edge can alert.
	{
		TestServer::Keys keys = {{key("metrics.interval"), "1s"},
		                         {key("limits.max_connections"), "1000"},
		                         {key("metrics.thresholds.connection_usage.warning"), "0.15"}};
		for (const std::string& metric : ALERT_METRICS)
		{
			if (metric == "connection_usage")
				continue;
			keys[key("metrics.thresholds." + metric + ".warning")] = "0";
			keys[key("metrics.thresholds." + metric + ".critical")] = "0";
		}
		std::unique_ptr<TestServer> server = startServer(keys);
		WsTestClient monitor = connect(*server);
		subscribe(monitor, "alerts");
		// One connection (0.1 %) is normal: no alert over a tick and a half.
		WsTestClient::Frame quiet = monitor.receive(1500);
		CPPUNIT_ASSERT_MESSAGE("an alert with one connection: " + quiet.payload, quiet.timedOut());

		WsTestClient second = connect(*server);
		ping(second);
		Object::Ptr alert = nextOfType(monitor, "performance_alert", 3000);
		std::string text = stringify(alert);
		expectKeys(alert, {"type", "topic", "data", "timestamp"}, text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("alerts"), stringAt(alert, "topic", text));
		Object::Ptr data = objectAt(alert, "data", text);
		expectKeys(data, {"level", "message", "metric", "value", "threshold", "timestamp"}, "data of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("warning"), stringAt(data, "level", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("connection_usage"), stringAt(data, "metric", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("High connection usage detected"),
		                             stringAt(data, "message", text));
		CPPUNIT_ASSERT_MESSAGE("value 0.2: " + text, std::fabs(numberAt(data, "value", text) - 0.2) < 1e-9);
		CPPUNIT_ASSERT_MESSAGE("threshold 0.15: " + text, std::fabs(numberAt(data, "threshold", text) - 0.15) < 1e-9);
		expectTimestamp(stringAt(data, "timestamp", text), text);

		// Edge-triggered: nothing more while the level stays at warning (3 ticks).
		quiet = monitor.receive(3200);
		CPPUNIT_ASSERT_MESSAGE("a second alert while the level stayed: " + quiet.payload, quiet.timedOut());
		expectNothing(monitor, "3 ticks at the warning level");

		second.sendClose(1000);
		expectClose(second, 1000);
		alert = nextOfType(monitor, "performance_alert", 3000);
		text = stringify(alert);
		data = objectAt(alert, "data", text);
		expectKeys(data, {"level", "message", "metric", "value", "threshold", "timestamp"}, "data of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("info"), stringAt(data, "level", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("Connection usage back to normal"),
		                             stringAt(data, "message", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("connection_usage"), stringAt(data, "metric", text));
		CPPUNIT_ASSERT_MESSAGE("value 0.1: " + text, std::fabs(numberAt(data, "value", text) - 0.1) < 1e-9);
		CPPUNIT_ASSERT_MESSAGE("threshold 0.15: " + text, std::fabs(numberAt(data, "threshold", text) - 0.15) < 1e-9);
		expectNothing(monitor, "after the info alert");
	}

	void testHealth()
	/// Case 17: GET /ws/health → 200 {status, timestamp, uptime, version}; HEAD has no body.
	{
		std::unique_ptr<TestServer> server = startServer();
		const HttpResponse response = http(*server, "GET", "/ws/health");
		const std::string context = "/ws/health -> " + std::to_string(response.status) + " " + response.body;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(context, 200, response.status);
		CPPUNIT_ASSERT_MESSAGE("Content-Type of " + context,
		                       response.header("Content-Type").rfind("application/json", 0) == 0);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Cache-Control of " + context, std::string("no-store"),
		                             response.header("Cache-Control"));
		Object::Ptr body = object(response.body);
		expectKeys(body, {"status", "timestamp", "uptime", "version"}, context);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::string("healthy"), stringAt(body, "status", context));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::string("1.0.0"), stringAt(body, "version", context));
		expectTimestamp(stringAt(body, "timestamp", context), context);
		expectMatches(stringAt(body, "uptime", context), UPTIME_PATTERN, "uptime of " + context);

		const HttpResponse head = http(*server, "HEAD", "/ws/health");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("HEAD /ws/health", 200, head.status);
		CPPUNIT_ASSERT_MESSAGE("HEAD /ws/health has a body: " + head.body, head.body.empty());
		CPPUNIT_ASSERT_MESSAGE("HEAD Content-Type", head.header("Content-Type").rfind("application/json", 0) == 0);
	}

	void testCumulativeCounter()
	/// Case 18: total_connections is cumulative, active_connections counts the open ones; /ws/status
	/// names the server and its endpoints.
	{
		std::unique_ptr<TestServer> server = startServer();
		for (int i = 0; i < 3; ++i)
		{
			WsTestClient client = connect(*server);
			ping(client);
			client.sendClose(1000);
			expectClose(client, 1000);
		}
		// The close handshake is complete; the registry may drop the connection a moment later.
		Object::Ptr websocket;
		std::string text;
		Deadline deadline(3000);
		for (;;)
		{
			Object::Ptr metrics = getJson(*server, "/ws/metrics");
			text = stringify(metrics);
			websocket = objectAt(metrics, "websocket", text);
			if (integerAt(websocket, "active_connections", text) == 0 || deadline.expired())
				break;
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections after 3 closed: " + text, static_cast<std::int64_t>(0),
		                             integerAt(websocket, "active_connections", text));
		CPPUNIT_ASSERT_MESSAGE("total_connections >= 3: " + text, integerAt(websocket, "total_connections", text) >= 3);
		Object::Ptr metrics = object(text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("running"),
		                             stringAt(objectAt(metrics, "fileserver", text), "status", text));
		expectTimestamp(stringAt(metrics, "timestamp", text), text);
		expectMatches(stringAt(websocket, "uptime", text), UPTIME_PATTERN, "uptime of " + text);
		expectHasKeys(websocket,
		              {"rejected_connections", "messages_received", "messages_sent", "bytes_received", "bytes_sent",
		               "events_published", "subscriptions"},
		              text);
		expectKeys(objectAt(websocket, "subscriptions", text), {"file_operations", "peer_network", "system", "alerts"},
		           "subscriptions of " + text);

		WsTestClient open = connect(*server);
		subscribe(open, "peer_network");
		Object::Ptr now = getJson(*server, "/ws/metrics");
		text = stringify(now);
		websocket = objectAt(now, "websocket", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections with one open: " + text, static_cast<std::int64_t>(1),
		                             integerAt(websocket, "active_connections", text));
		CPPUNIT_ASSERT_MESSAGE("total_connections >= 4: " + text, integerAt(websocket, "total_connections", text) >= 4);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("subscriptions.peer_network: " + text, static_cast<std::int64_t>(1),
		                             integerAt(objectAt(websocket, "subscriptions", text), "peer_network", text));

		Object::Ptr status = getJson(*server, "/ws/status");
		text = stringify(status);
		Object::Ptr serverPart = objectAt(status, "server", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("PeerVault WebSocket API"), stringAt(serverPart, "name", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("running"), stringAt(serverPart, "status", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("1.0.0"), stringAt(serverPart, "version", text));
		expectMatches(stringAt(serverPart, "uptime", text), UPTIME_PATTERN, "uptime of " + text);
		expectTimestamp(stringAt(status, "timestamp", text), text);
		Object::Ptr statusSocket = objectAt(status, "websocket", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("websocket.active_connections: " + text, static_cast<std::int64_t>(1),
		                             integerAt(statusSocket, "active_connections", text));
		CPPUNIT_ASSERT_MESSAGE("websocket.endpoints: " + text, statusSocket->isArray("endpoints"));
		std::set<std::string> endpoints;
		Array::Ptr list = statusSocket->getArray("endpoints");
		for (std::size_t i = 0; i < list->size(); ++i)
			endpoints.insert(list->getElement<std::string>(static_cast<unsigned>(i)));
		CPPUNIT_ASSERT_MESSAGE("endpoints contain /ws: " + text, endpoints.count("/ws") == 1);
		CPPUNIT_ASSERT_MESSAGE("endpoints contain /ws/health: " + text, endpoints.count("/ws/health") == 1);
	}

	void testMethods()
	/// Case 19: POST /ws/health → 405 with the envelope and Allow; OPTIONS → 204 with CORS; unknown
	/// paths → 404; GET /ws without upgrade headers → 400.
	{
		std::unique_ptr<TestServer> server = startServer();
		HttpResponse response = http(*server, "POST", "/ws/health", {{"Content-Type", "application/json"}}, "{}");
		expectHttpError(response, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
		CPPUNIT_ASSERT_MESSAGE("Allow on 405: " + response.rawHead, response.hasHeader("Allow"));
		CPPUNIT_ASSERT_MESSAGE("Allow lists GET: " + response.rawHead, response.headerHasToken("Allow", "GET"));
		expectHttpError(http(*server, "DELETE", "/ws/metrics"), 405, "METHOD_NOT_ALLOWED", "Method not allowed");
		expectHttpError(http(*server, "GET", "/ws/publish"), 405, "METHOD_NOT_ALLOWED", "Method not allowed");

		response = http(*server, "OPTIONS", "/ws/metrics", {{"Origin", "http://app.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("OPTIONS /ws/metrics: " + response.rawHead, 204, response.status);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Access-Control-Allow-Origin: " + response.rawHead, std::string("*"),
		                             response.header("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Access-Control-Allow-Methods: " + response.rawHead,
		                             std::string("GET, POST, OPTIONS"),
		                             response.header("Access-Control-Allow-Methods"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Access-Control-Allow-Headers: " + response.rawHead,
		                             std::string("Content-Type, Authorization"),
		                             response.header("Access-Control-Allow-Headers"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Access-Control-Max-Age: " + response.rawHead, std::string("600"),
		                             response.header("Access-Control-Max-Age"));
		CPPUNIT_ASSERT_MESSAGE("no Access-Control-Allow-Credentials: " + response.rawHead,
		                       !response.hasHeader("Access-Control-Allow-Credentials"));
		CPPUNIT_ASSERT_MESSAGE("OPTIONS has a body: " + response.body, response.body.empty());

		expectHttpError(http(*server, "GET", "/nope"), 404, "NOT_FOUND", "Not found");
		expectHttpError(http(*server, "GET", "/ws/"), 404, "NOT_FOUND", "Not found");
		expectHttpError(http(*server, "GET", "/ws/health/"), 404, "NOT_FOUND", "Not found");
		expectHttpError(http(*server, "GET", "/ws"), 400, "INVALID_MESSAGE", "WebSocket upgrade required");
	}

	void testCorsHeaders()
	/// §1.1: with the default ["*"] every response carries Access-Control-Allow-Origin: * and no
	/// credentials; with cors.enabled = false no CORS header is sent.
	{
		std::unique_ptr<TestServer> server = startServer();
		const std::vector<std::string> paths = {"/ws/health", "/ws/metrics", "/ws/status"};
		for (const std::string& path : paths)
		{
			const HttpResponse response = http(*server, "GET", path, {{"Origin", "http://app.example"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, response.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("Access-Control-Allow-Origin of " + path + ": " + response.rawHead,
			                             std::string("*"), response.header("Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_MESSAGE("credentials on " + path + ": " + response.rawHead,
			                       !response.hasHeader("Access-Control-Allow-Credentials"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE("Cache-Control of " + path, std::string("no-store"),
			                             response.header("Cache-Control"));
		}
		server->stop();

		std::unique_ptr<TestServer> closed = startServer({{key("cors.enabled"), "false"}});
		const HttpResponse preflight = http(*closed, "OPTIONS", "/ws/metrics", {{"Origin", "http://app.example"}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("OPTIONS with CORS off: " + preflight.rawHead, 204, preflight.status);
		const HttpResponse health = http(*closed, "GET", "/ws/health", {{"Origin", "http://app.example"}});
		CPPUNIT_ASSERT_EQUAL(200, health.status);
		for (const HttpResponse* response : {&preflight, &health})
		{
			for (const auto& header : response->headers)
				CPPUNIT_ASSERT_MESSAGE("a CORS header with cors.enabled = false: " + response->rawHead,
				                       header.first.size() < 13 || !HttpResponse::equalsIgnoreCase(
				                                                       header.first.substr(0, 13), "Access-Contro"));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultMetricsIntegrationTest);
