//
// PeerVaultPublishIntegrationTest.cpp
//
// The real switchboard binary with only the PeerVault plugin: POST /ws/publish,
// /work/shared/protocols/peervault.md §12.3 (cases 12-14) with the §6.1 table: who may publish,
// the validation messages in the contract's order, the inferred topic and the normalised
// data.timestamp as a subscriber receives it.
//


#include "HttpTestClient.h"
#include "PeerVaultTestSupport.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/JSON/Object.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;
using Poco::JSON::Object;


namespace {


const std::string VALID_UPLOAD =
    "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"abc123\",\"size\":1024,"
    "\"node\":\"node-7\"}}";

const std::string READER_TOKENS = "[{\"token\":\"pub-token\",\"name\":\"publisher\",\"scopes\":[\"publish\"]},"
                                  "{\"token\":\"reader-token\",\"name\":\"reader\",\"scopes\":[\"read\"]}]";


std::unique_ptr<TestServer> publishServer(const TestServer::Keys& keys = {})
{
	TestServer::Keys all = {{key("metrics.interval"), "0"}};
	for (const auto& entry : keys)
		all[entry.first] = entry.second;
	return startServer(all);
}


void expectUnauthorized(const HttpResponse& response, const std::string& context)
{
	expectHttpError(response, 401, "AUTH_FAILED", "Invalid authentication credentials");
	const std::string challenge = response.header("WWW-Authenticate");
	CPPUNIT_ASSERT_MESSAGE("WWW-Authenticate '" + challenge + "' on 401 (" + context + ")",
	                       challenge.rfind("Bearer", 0) == 0);
}


std::string jwtClaims(const std::string& subject, std::int64_t expiresAt, const std::string& scopeMember)
{
	return "{\"sub\":" + quote(subject) + ",\"exp\":" + std::to_string(expiresAt) + "," + scopeMember + "}";
}


} // namespace


class PeerVaultPublishIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultPublishIntegrationTest);
	CPPUNIT_TEST(testAuthentication);
	CPPUNIT_TEST(testJwtPublishers);
	CPPUNIT_TEST(testPublishingDisabled);
	CPPUNIT_TEST(testValidation);
	CPPUNIT_TEST(testContentTypeAndInferredTopic);
	CPPUNIT_TEST(testTimestamps);
	CPPUNIT_TEST(testPublishRateLimit);
	CPPUNIT_TEST(testBodyLimit);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAuthentication()
	/// Case 12: no Authorization → 401 with WWW-Authenticate; a wrong token → 401; a static token
	/// without the publish scope → 403; pub-token → 202.
	{
		std::unique_ptr<TestServer> server = publishServer({{key("auth.tokens"), READER_TOKENS}});
		expectUnauthorized(publish(*server, VALID_UPLOAD, ""), "no Authorization header");
		expectUnauthorized(publish(*server, VALID_UPLOAD, "wrong-token"), "a wrong token");
		expectUnauthorized(http(*server, "POST", "/ws/publish",
		                        {{"Authorization", "Basic cHViLXRva2VuOg=="}, {"Content-Type", "application/json"}},
		                        VALID_UPLOAD),
		                   "a Basic credential");
		expectHttpError(publish(*server, VALID_UPLOAD, "reader-token"), 403, "AUTH_FAILED",
		                "Token lacks the 'publish' scope");
		Object::Ptr answer = publishAccepted(*server, VALID_UPLOAD, 0);
		CPPUNIT_ASSERT_EQUAL(std::string("file_uploaded"), stringAt(answer, "type", "answer"));
		CPPUNIT_ASSERT_EQUAL(std::string("file_operations"), stringAt(answer, "topic", "answer"));
	}

	void testJwtPublishers()
	/// §6.1: a JWT with the publish scope (scope string or scopes array) may publish; one without it
	/// gets 403, an expired or forged one 401.
	{
		std::unique_ptr<TestServer> server = publishServer({{key("auth.jwt_secret"), JWT_SECRET}});
		const std::int64_t later = nowSeconds() + 600;
		const std::string withScope = mintJwt(jwtClaims("node-7", later, "\"scope\":\"read publish\""));
		HttpResponse response = publish(*server, VALID_UPLOAD, withScope);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("JWT with scope 'read publish': " + response.body, 202, response.status);
		const std::string withScopes = mintJwt(jwtClaims("node-8", later, "\"scopes\":[\"publish\"]"));
		response = publish(*server, VALID_UPLOAD, withScopes);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("JWT with scopes [publish]: " + response.body, 202, response.status);
		expectHttpError(publish(*server, VALID_UPLOAD, mintJwt(jwtClaims("node-9", later, "\"scope\":\"read\""))), 403,
		                "AUTH_FAILED", "Token lacks the 'publish' scope");
		expectUnauthorized(
		    publish(*server, VALID_UPLOAD, mintJwt(jwtClaims("node-7", nowSeconds() - 300, "\"scope\":\"publish\""))),
		    "an expired JWT");
		expectUnauthorized(publish(*server, VALID_UPLOAD,
		                           mintJwt(jwtClaims("node-7", later, "\"scope\":\"publish\""),
		                                   "another-secret-of-at-least-32-bytes-0123456789")),
		                   "a JWT signed with another secret");
		expectUnauthorized(
		    publish(*server, VALID_UPLOAD, mintUnsignedJwt(jwtClaims("node-7", later, "\"scope\":\"publish\""))),
		    "an alg:none JWT");
	}

	void testPublishingDisabled()
	/// Case 12: no static token with the publish scope and no jwt_secret → 403 "Publishing is
	/// disabled", before any token is looked at.
	{
		std::unique_ptr<TestServer> server = publishServer(
		    {{key("auth.tokens"), "[{\"token\":\"reader-token\",\"name\":\"reader\",\"scopes\":[\"read\"]}]"}});
		expectHttpError(publish(*server, VALID_UPLOAD, ""), 403, "AUTH_FAILED", "Publishing is disabled");
		expectHttpError(publish(*server, VALID_UPLOAD, "pub-token"), 403, "AUTH_FAILED", "Publishing is disabled");
		expectHttpError(publish(*server, VALID_UPLOAD, "reader-token"), 403, "AUTH_FAILED", "Publishing is disabled");
		server->stop();

		std::unique_ptr<TestServer> empty = publishServer({{key("auth.tokens"), ""}});
		expectHttpError(publish(*empty, VALID_UPLOAD, PUB_TOKEN), 403, "AUTH_FAILED", "Publishing is disabled");
	}

	void testValidation()
	/// Case 13 and the §6.1 table: each bad body gets 400 INVALID_MESSAGE with its exact message.
	{
		std::unique_ptr<TestServer> server = publishServer();
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"{\"type\":\"file_exploded\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}",
		     "Unknown event type 'file_exploded'"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"alerts\",\"data\":{\"key\":\"k\",\"size\":1,\"node\":\"n\"}}",
		     "Event type 'file_uploaded' does not belong to topic 'alerts'"},
		    {"{\"type\":\"system_metrics\",\"topic\":\"system\",\"data\":{}}",
		     "Topic 'system' is published by the server only"},
		    {"{\"type\":\"system_metrics\",\"data\":{}}", "Topic 'system' is published by the server only"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":\"x\"}",
		     "Field 'data' must be an object"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"file_operations\"}", "Field 'data' must be an object"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}",
		     "Field 'data.size' is required"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k\",\"size\":-1,"
		     "\"node\":\"n\"}}",
		     "Field 'data.size' must be a non-negative integer"},
		    {"{\"type\":\"performance_alert\",\"topic\":\"alerts\",\"data\":{\"level\":\"panic\",\"message\":\"m\"}}",
		     "Field 'data.level' must be one of info, warning, critical"},
		    {"not json", "Message format is invalid"},
		    {"[]", "Message format is invalid"},
		    {"{\"topic\":\"file_operations\",\"data\":{}}", "Message format is invalid"},
		    {"{\"type\":\"file_uploaded\",\"topic\":\"nope\",\"data\":{}}", "Unknown topic 'nope'"},
		    {"{\"type\":\"peer_connected\",\"data\":{\"id\":\"p\",\"address\":\"a\",\"port\":70000}}",
		     "Field 'data.port' must be an integer between 1 and 65535"},
		    {"{\"type\":\"file_deleted\",\"data\":{\"key\":5,\"node\":\"n\"}}", "Field 'data.key' must be a string"},
		    {"{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"yesterday\"}}",
		     "Field 'data.timestamp' must be an RFC 3339 timestamp"},
		};
		for (const auto& entry : cases)
		{
			const HttpResponse response = publish(*server, entry.first);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("body " + entry.first + " -> " + response.body, 400, response.status);
			expectHttpError(response, 400, "INVALID_MESSAGE", entry.second);
		}
		// Nothing of the above was published.
		Object::Ptr metrics = getJson(*server, "/ws/metrics");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(
		    "events_published after only invalid bodies", static_cast<std::int64_t>(0),
		    integerAt(objectAt(metrics, "websocket", "/ws/metrics"), "events_published", "/ws/metrics"));
	}

	void testContentTypeAndInferredTopic()
	/// Case 13: text/plain → 415; without "topic" the topic is inferred; unknown top-level keys are
	/// ignored.
	{
		std::unique_ptr<TestServer> server = publishServer();
		expectHttpError(publish(*server, VALID_UPLOAD, PUB_TOKEN, "text/plain"), 415, "INVALID_MESSAGE",
		                "Content-Type must be application/json");
		const HttpResponse charset = publish(*server, VALID_UPLOAD, PUB_TOKEN, "application/json; charset=utf-8");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("application/json with a charset: " + charset.body, 202, charset.status);

		WsTestClient client = connect(*server);
		subscribe(client, "file_operations");
		Object::Ptr answer = publishAccepted(
		    *server, "{\"type\":\"file_uploaded\",\"data\":{\"key\":\"k2\",\"size\":0,\"node\":\"n2\"},\"extra\":true}",
		    1);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("inferred topic", std::string("file_operations"),
		                             stringAt(answer, "topic", "answer"));
		Object::Ptr frame = nextOfType(client, "file_uploaded");
		CPPUNIT_ASSERT_EQUAL(std::string("file_operations"), stringAt(frame, "topic", "event"));
		CPPUNIT_ASSERT_EQUAL(std::string("k2"), stringAt(objectAt(frame, "data", "event"), "key", "event"));
		expectNothing(client, "after the one event");
	}

	void testTimestamps()
	/// Case 14: a publisher's data.timestamp with an offset is delivered as UTC with milliseconds;
	/// a missing one is filled in with the publish time. Extra data fields pass through.
	{
		std::unique_ptr<TestServer> server = publishServer();
		WsTestClient client = connect(*server);
		subscribe(client, "file_operations");
		publishAccepted(
		    *server,
		    "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"2024-01-01T01:"
		    "00:00+01:00\",\"custom\":{\"a\":[1,2]}}}",
		    1);
		std::string text = nextText(client);
		Object::Ptr data = objectAt(object(text), "data", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("2024-01-01T00:00:00.000Z"), stringAt(data, "timestamp", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("extra field passed through: " + text, std::string("{\"a\":[1,2]}"),
		                             stringify(data->get("custom")));

		const std::int64_t before = nowMillis();
		publishAccepted(*server, "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}", 1);
		const std::int64_t after = nowMillis();
		text = nextText(client);
		Object::Ptr frame = object(text);
		data = objectAt(frame, "data", text);
		const std::string filled = stringAt(data, "timestamp", text);
		expectTimestamp(filled, "filled-in data.timestamp");
		const std::int64_t at = timestampMillis(filled);
		CPPUNIT_ASSERT_MESSAGE("filled-in data.timestamp " + filled + " is not the publish time",
		                       at >= before - 2000 && at <= after + 2000);
		expectTimestamp(stringAt(frame, "timestamp", text), "envelope timestamp");
		expectNothing(client, "after the two events");
	}

	void testPublishRateLimit()
	/// §6.1: beyond publish.burst at publish.per_second → 429 RATE_LIMIT_EXCEEDED with retryAfter and
	/// Retry-After.
	{
		std::unique_ptr<TestServer> server =
		    publishServer({{key("publish.per_second"), "1"}, {key("publish.burst"), "2"}});
		const std::string body = "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}";
		int accepted = 0;
		HttpResponse limited;
		for (int i = 0; i < 4; ++i)
		{
			const HttpResponse response = publish(*server, body);
			if (response.status == 202)
			{
				++accepted;
				continue;
			}
			limited = response;
			break;
		}
		CPPUNIT_ASSERT_MESSAGE("publishes accepted before the limit: " + std::to_string(accepted),
		                       accepted >= 2 && accepted <= 3);
		const std::string context = "HTTP " + std::to_string(limited.status) + " " + limited.body;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(context, 429, limited.status);
		expectErrorFrame(object(limited.body), "RATE_LIMIT_EXCEEDED",
		                 "Rate limit exceeded. Please slow down your requests.", 1);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("Retry-After of " + context + "\n" + limited.rawHead, std::string("1"),
		                             limited.header("Retry-After"));
	}

	void testBodyLimit()
	/// §6.1: a body over 1 MiB → 413. With the defaults the host's [http] max_body_size (1 MiB)
	/// refuses it before the plugin sees it, as JSON (json_errors); with a larger host limit the
	/// plugin's own check answers with the protocol's envelope (docs/protocols/peervault.md, §8).
	{
		std::unique_ptr<TestServer> server = publishServer();
		const std::string head = "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\",\"pad\":\"";
		const std::string tail = "\"}}";
		const std::string largest = head + std::string(1048576 - head.size() - tail.size(), 'x') + tail;
		const HttpResponse fits = publish(*server, largest);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("a 1 MiB body: " + fits.body, 202, fits.status);
		const std::string tooLarge = head + std::string(1048577 - head.size() - tail.size(), 'x') + tail;
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048577), tooLarge.size());
		const HttpResponse refused = publish(*server, tooLarge);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(refused.body, 413, refused.status);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"error\":\"Request body too large\"}"), refused.body);

		std::unique_ptr<TestServer> roomy(new TestServer());
		roomy->set("http", "max_body_size", "2097152");
		configure(*roomy);
		roomy->start();
		expectHttpError(publish(*roomy, tooLarge), 413, "INVALID_MESSAGE", "Message too large");
		CPPUNIT_ASSERT_EQUAL(202, publish(*roomy, largest).status);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultPublishIntegrationTest);
