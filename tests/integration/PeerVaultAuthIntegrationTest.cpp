//
// PeerVaultAuthIntegrationTest.cpp
//
// The real switchboard binary with only the PeerVault plugin: /work/shared/protocols/peervault.md
// §12.6 (cases 27-32) with §3.3: handshake tokens (query, Bearer, HS256 JWTs good and bad) in
// required mode, first-message auth and its timeout, optional mode, per-topic scopes, a JWT that
// expires on a live connection, and off mode ignoring tokens.
//


#include "Deadline.h"
#include "PeerVaultTestSupport.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const std::string TOKENS = "[{\"token\":\"pub-token\",\"name\":\"publisher\",\"scopes\":[\"publish\"]},"
                           "{\"token\":\"t1\",\"name\":\"user-one\",\"scopes\":[]},"
                           "{\"token\":\"admin-token\",\"name\":\"administrator\",\"scopes\":[\"admin\",\"ops\"]}]";

const std::string SECURITY_ALERT =
    "{\"type\":\"security_alert\",\"data\":{\"level\":\"warning\",\"message\":\"Suspicious login\"}}";


std::unique_ptr<TestServer> authServer(const std::string& mode, const TestServer::Keys& keys = {})
{
	TestServer::Keys all = {{key("metrics.interval"), "0"},
	                        {key("auth.mode"), mode},
	                        {key("auth.tokens"), TOKENS},
	                        {key("auth.jwt_secret"), JWT_SECRET}};
	for (const auto& entry : keys)
		all[entry.first] = entry.second;
	return startServer(all);
}


std::string claims(const std::string& subject, std::int64_t expiresAt, const std::string& extra = "")
{
	return "{\"sub\":" + quote(subject) + ",\"exp\":" + std::to_string(expiresAt) + (extra.empty() ? "" : ",") + extra +
	       "}";
}


void expectAuthenticated(WsTestClient& client)
/// The connection is authenticated: another auth is "Already authenticated" and it stays open.
{
	sendJson(client, "{\"type\":\"auth\",\"data\":{\"token\":\"t1\"}}");
	expectError(client, "INVALID_MESSAGE", "Already authenticated");
	expectNothing(client, "after Already authenticated");
}


void expectRejected(TestServer& server, const std::string& pathAndQuery, const WsTestClient::Headers& headers,
                    const std::string& what)
/// required mode: AUTH_FAILED "Invalid authentication credentials", then close 1008.
{
	WsTestClient client = connect(server, pathAndQuery, headers);
	const std::string text = nextText(client);
	Object::Ptr frame = object(text);
	CPPUNIT_ASSERT_MESSAGE(what + ": expected AUTH_FAILED, got " + text,
	                       frame->has("type") && frame->get("type").isString() &&
	                           frame->getValue<std::string>("type") == "error");
	expectErrorFrame(frame, "AUTH_FAILED", "Invalid authentication credentials");
	expectClose(client, 1008, "Authentication failed");
}


void expectAuthenticatedReply(const Object::Ptr& frame, const std::string& subject,
                              const std::vector<std::string>& scopes)
{
	const std::string text = stringify(frame);
	expectKeys(frame, {"type", "data", "timestamp", "clientId"}, text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("authenticated"), stringAt(frame, "type", text));
	expectMatches(stringAt(frame, "clientId", text), "^[0-9a-f]{32}$", "clientId of " + text);
	expectTimestamp(stringAt(frame, "timestamp", text), text);
	Object::Ptr data = objectAt(frame, "data", text);
	expectKeys(data, {"subject", "scopes"}, "data of " + text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("subject of " + text, subject, stringAt(data, "subject", text));
	CPPUNIT_ASSERT_MESSAGE("scopes array in " + text, data->isArray("scopes"));
	Array::Ptr list = data->getArray("scopes");
	std::vector<std::string> got;
	for (std::size_t i = 0; i < list->size(); ++i)
		got.push_back(list->getElement<std::string>(static_cast<unsigned>(i)));
	CPPUNIT_ASSERT_MESSAGE("scopes of " + text, got == scopes);
}


} // namespace


class PeerVaultAuthIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultAuthIntegrationTest);
	CPPUNIT_TEST(testRequiredHandshakeTokens);
	CPPUNIT_TEST(testRequiredHandshakeRejections);
	CPPUNIT_TEST(testFirstMessageAuth);
	CPPUNIT_TEST(testMessageBeforeAuth);
	CPPUNIT_TEST(testAuthTimeout);
	CPPUNIT_TEST(testOptionalMode);
	CPPUNIT_TEST(testTopicPermissions);
	CPPUNIT_TEST(testJwtExpiryRequired);
	CPPUNIT_TEST(testJwtExpiryOptional);
	CPPUNIT_TEST(testOffModeIgnoresTokens);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRequiredHandshakeTokens()
	/// Case 27: ?token=t1, Authorization: Bearer t1 and an HS256 JWT with a future exp authenticate
	/// at the handshake; nothing is sent unasked.
	{
		std::unique_ptr<TestServer> server = authServer("required");
		WsTestClient query = connect(*server, "/ws?token=t1");
		ping(query);
		subscribe(query, "file_operations");
		expectAuthenticated(query);

		WsTestClient bearer = connect(*server, "/ws", {{"Authorization", "Bearer t1"}});
		ping(bearer);
		subscribe(bearer, "peer_network");
		expectAuthenticated(bearer);

		const std::string jwt = mintJwt(claims("jwt-user", nowSeconds() + 600, "\"scope\":\"read\""));
		WsTestClient signed_ = connect(*server, "/ws?token=" + jwt);
		ping(signed_);
		subscribe(signed_, "file_operations");
		expectAuthenticated(signed_);

		publishAccepted(*server, "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}", 2);
		nextOfType(query, "file_deleted");
		nextOfType(signed_, "file_deleted");
		expectNothing(bearer, "peer_network subscriber");
	}

	void testRequiredHandshakeRejections()
	/// Case 27: a bad static token, a JWT expired 300 s ago, an alg:none JWT (and a JWT signed with
	/// another secret) → AUTH_FAILED "Invalid authentication credentials", then 1008.
	{
		std::unique_ptr<TestServer> server = authServer("required");
		expectRejected(*server, "/ws?token=bad", {}, "?token=bad");
		expectRejected(*server, "/ws", {{"Authorization", "Bearer bad"}}, "Bearer bad");
		expectRejected(*server, "/ws?token=" + mintJwt(claims("jwt-user", nowSeconds() - 300)), {},
		               "a JWT expired 300 s ago");
		expectRejected(*server, "/ws?token=" + mintUnsignedJwt(claims("jwt-user", nowSeconds() + 600)), {},
		               "an alg:none JWT");
		expectRejected(*server,
		               "/ws?token=" + mintJwt(claims("jwt-user", nowSeconds() + 600),
		                                      "a-different-secret-that-is-32-bytes-or-more"),
		               {}, "a JWT signed with another secret");
		expectRejected(*server,
		               "/ws?token=" + mintJwt(claims("jwt-user", nowSeconds() + 600), JWT_SECRET,
		                                      "{\"alg\":\"HS512\",\"typ\":\"JWT\"}"),
		               {}, "a JWT whose header says HS512");
		expectRejected(*server, "/ws?token=" + mintJwt("{\"sub\":\"no-exp\"}"), {}, "a JWT without exp");
		expectRejected(*server,
		               "/ws?token=" + mintJwt(claims("jwt-user", nowSeconds() + 600,
		                                             "\"nbf\":" + std::to_string(nowSeconds() + 300))),
		               {}, "a JWT not valid before 300 s from now");
	}

	void testFirstMessageAuth()
	/// Case 28: without a handshake token, {"type":"auth","data":{"token":"t1"}} → authenticated
	/// with clientId, then subscribing works; a ping before auth gets its pong; a second auth is
	/// "Already authenticated". The other token places and a JWT work too.
	{
		std::unique_ptr<TestServer> server = authServer("required", {{key("auth.timeout"), "3s"}});
		WsTestClient client = connect(*server);
		Object::Ptr pong = ping(client);
		sendJson(client, "{\"type\":\"auth\",\"data\":{\"token\":\"t1\"}}");
		Object::Ptr reply = nextOfType(client, "authenticated");
		expectAuthenticatedReply(reply, "user-one", {});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the same clientId as the pong before auth", stringAt(pong, "clientId", "pong"),
		                             stringAt(reply, "clientId", "authenticated"));
		subscribe(client, "file_operations");
		publishAccepted(*server, "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}", 1);
		nextOfType(client, "file_deleted");
		sendJson(client, "{\"type\":\"auth\",\"data\":{\"token\":\"t1\"}}");
		expectError(client, "INVALID_MESSAGE", "Already authenticated");
		ping(client);

		WsTestClient stringForm = connect(*server);
		sendJson(stringForm, "{\"type\":\"auth\",\"data\":\"admin-token\"}");
		expectAuthenticatedReply(nextOfType(stringForm, "authenticated"), "administrator", {"admin", "ops"});

		WsTestClient topLevel = connect(*server);
		sendJson(topLevel, "{\"type\":\"auth\",\"token\":\"t1\"}");
		expectAuthenticatedReply(nextOfType(topLevel, "authenticated"), "user-one", {});

		WsTestClient jwtClient = connect(*server);
		sendJson(jwtClient, "{\"type\":\"auth\",\"data\":{\"token\":" +
		                        quote(mintJwt(claims("jwt-user", nowSeconds() + 600, "\"scopes\":[\"a\",\"b\"]"))) +
		                        "}}");
		expectAuthenticatedReply(nextOfType(jwtClient, "authenticated"), "jwt-user", {"a", "b"});

		WsTestClient badAuth = connect(*server);
		sendJson(badAuth, "{\"type\":\"auth\",\"data\":{\"token\":\"bad\"}}");
		expectError(badAuth, "AUTH_FAILED", "Invalid authentication credentials");
		expectClose(badAuth, 1008, "Authentication failed");

		WsTestClient noToken = connect(*server);
		sendJson(noToken, "{\"type\":\"auth\",\"data\":{}}");
		expectError(noToken, "AUTH_FAILED", "Invalid authentication credentials");
		expectClose(noToken, 1008, "Authentication failed");
	}

	void testMessageBeforeAuth()
	/// Case 28: a subscribe before auth → AUTH_FAILED "Authentication required", then 1008.
	{
		std::unique_ptr<TestServer> server = authServer("required");
		WsTestClient client = connect(*server);
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"system\"}");
		expectError(client, "AUTH_FAILED", "Authentication required");
		expectClose(client, 1008);

		WsTestClient invalid = connect(*server);
		sendJson(invalid, "{\"type\":\"unsubscribe\",\"topic\":\"alerts\"}");
		expectError(invalid, "AUTH_FAILED", "Authentication required");
		expectClose(invalid, 1008);
	}

	void testAuthTimeout()
	/// Case 28: auth.timeout = 1s and nothing sent → AUTH_FAILED "Authentication timeout", then 1008;
	/// a ping does not authenticate.
	{
		std::unique_ptr<TestServer> server = authServer("required", {{key("auth.timeout"), "1s"}});
		const std::int64_t start = Deadline::nowMicros() / 1000;
		WsTestClient client = connect(*server);
		WsTestClient pinging = connect(*server);
		ping(pinging);
		expectError(client, "AUTH_FAILED", "Authentication timeout", 4000);
		const std::int64_t elapsed = Deadline::nowMicros() / 1000 - start;
		CPPUNIT_ASSERT_MESSAGE("timeout after " + std::to_string(elapsed) + " ms with auth.timeout = 1s",
		                       elapsed >= 800 && elapsed <= 3000);
		expectClose(client, 1008);
		expectError(pinging, "AUTH_FAILED", "Authentication timeout", 4000);
		expectClose(pinging, 1008);
	}

	void testOptionalMode()
	/// Case 29: ?token=bad → an AUTH_FAILED frame and the connection stays open; no token is
	/// anonymous and may use open topics; a valid auth message authenticates.
	{
		std::unique_ptr<TestServer> server = authServer("optional");
		WsTestClient bad = connect(*server, "/ws?token=bad");
		expectError(bad, "AUTH_FAILED", "Invalid authentication credentials");
		ping(bad);
		subscribe(bad, "peer_network");

		WsTestClient anonymous = connect(*server);
		subscribe(anonymous, "file_operations");
		publishAccepted(*server, "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}", 1);
		nextOfType(anonymous, "file_deleted");
		expectNothing(anonymous, "one event");

		sendJson(anonymous, "{\"type\":\"auth\",\"data\":{\"token\":\"nope\"}}");
		expectError(anonymous, "AUTH_FAILED", "Invalid authentication credentials");
		ping(anonymous);
		sendJson(anonymous, "{\"type\":\"auth\",\"data\":{\"token\":\"t1\"}}");
		expectAuthenticatedReply(nextOfType(anonymous, "authenticated"), "user-one", {});
		sendJson(anonymous, "{\"type\":\"auth\",\"data\":{\"token\":\"t1\"}}");
		expectError(anonymous, "INVALID_MESSAGE", "Already authenticated");

		WsTestClient handshake = connect(*server, "/ws?token=t1");
		expectNothing(handshake, "a valid handshake token sends nothing");
		expectAuthenticated(handshake);
	}

	void testTopicPermissions()
	/// Case 30: optional mode, topic_scopes {"alerts":"admin"}: an anonymous subscribe to alerts is
	/// refused and gets no alert; a token with the admin scope subscribes and gets alerts.
	{
		std::unique_ptr<TestServer> server =
		    authServer("optional", {{key("auth.topic_scopes"), "{\"alerts\":\"admin\"}"}});
		WsTestClient anonymous = connect(*server);
		sendJson(anonymous, "{\"type\":\"subscribe\",\"topic\":\"alerts\"}");
		expectError(anonymous, "AUTH_FAILED", "Not authorized for topic 'alerts'");
		ping(anonymous);
		WsTestClient user = connect(*server, "/ws?token=t1");
		sendJson(user, "{\"type\":\"subscribe\",\"data\":\"alerts\"}");
		expectError(user, "AUTH_FAILED", "Not authorized for topic 'alerts'");
		subscribe(user, "peer_network");

		publishAccepted(*server, SECURITY_ALERT, 0);
		expectNothing(anonymous, "an alert reached a refused anonymous subscriber");
		expectNothing(user, "an alert reached a refused subscriber without the scope");

		WsTestClient admin = connect(*server, "/ws?token=admin-token");
		subscribe(admin, "alerts");
		WsTestClient jwtAdmin = connect(
		    *server, "/ws?token=" + mintJwt(claims("jwt-admin", nowSeconds() + 600, "\"scope\":\"read admin\"")));
		subscribe(jwtAdmin, "alerts");
		publishAccepted(*server, SECURITY_ALERT, 2);
		Object::Ptr alert = nextOfType(admin, "security_alert");
		CPPUNIT_ASSERT_EQUAL(std::string("alerts"), stringAt(alert, "topic", "alert"));
		nextOfType(jwtAdmin, "security_alert");
		expectNothing(anonymous, "after the delivered alert");
	}

	void testJwtExpiryRequired()
	/// Case 31: required mode, jwt_leeway = 0s, a JWT expiring in 2 s → AUTH_FAILED "Token expired"
	/// shortly after exp, then 1008.
	{
		std::unique_ptr<TestServer> server = authServer("required", {{key("auth.jwt_leeway"), "0s"}});
		const std::int64_t expiresAt = nowSeconds() + 2;
		WsTestClient client = connect(*server, "/ws?token=" + mintJwt(claims("short-lived", expiresAt)));
		ping(client);
		subscribe(client, "file_operations");
		expectError(client, "AUTH_FAILED", "Token expired", 6000);
		const std::int64_t late = nowMillis() - expiresAt * 1000;
		CPPUNIT_ASSERT_MESSAGE("Token expired " + std::to_string(late) + " ms after exp", late >= -200 && late <= 2000);
		expectClose(client, 1008);
	}

	void testJwtExpiryOptional()
	/// §3.3: optional mode, a JWT expiring on a live connection → AUTH_FAILED "Token expired"; the
	/// connection stays open as anonymous and loses its subscription to a protected topic.
	{
		std::unique_ptr<TestServer> server = authServer(
		    "optional", {{key("auth.jwt_leeway"), "0s"}, {key("auth.topic_scopes"), "{\"alerts\":\"admin\"}"}});
		const std::int64_t expiresAt = nowSeconds() + 2;
		WsTestClient client =
		    connect(*server, "/ws?token=" + mintJwt(claims("short-admin", expiresAt, "\"scope\":\"admin\"")));
		subscribe(client, "alerts");
		subscribe(client, "file_operations");
		publishAccepted(*server, SECURITY_ALERT, 1);
		nextOfType(client, "security_alert");
		expectError(client, "AUTH_FAILED", "Token expired", 6000);
		const std::int64_t late = nowMillis() - expiresAt * 1000;
		CPPUNIT_ASSERT_MESSAGE("Token expired " + std::to_string(late) + " ms after exp", late >= -200 && late <= 2000);
		ping(client);
		publishAccepted(*server, SECURITY_ALERT, 0);
		publishAccepted(*server, "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}", 1);
		nextOfType(client, "file_deleted");
		expectNothing(client, "after expiry only the open topic is delivered");
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"alerts\"}");
		expectError(client, "AUTH_FAILED", "Not authorized for topic 'alerts'");
	}

	void testOffModeIgnoresTokens()
	/// Case 32: off mode, ?token=bogus → the connection works and the first frame after a ping is
	/// the pong; an auth message is answered without validation.
	{
		std::unique_ptr<TestServer> server = authServer("off", {{key("auth.topic_scopes"), "{\"alerts\":\"admin\"}"}});
		WsTestClient client = connect(*server, "/ws?token=bogus");
		ping(client);
		subscribe(client, "alerts");
		publishAccepted(*server, SECURITY_ALERT, 1);
		nextOfType(client, "security_alert");

		sendJson(client, "{\"type\":\"auth\",\"data\":{\"token\":\"anything\"}}");
		const std::string text = nextText(client);
		Object::Ptr reply = object(text);
		expectKeys(reply, {"type", "data", "timestamp", "clientId"}, text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("authenticated"), stringAt(reply, "type", text));
		Object::Ptr data = objectAt(reply, "data", text);
		expectKeys(data, {"subject", "scopes"}, text);
		CPPUNIT_ASSERT_MESSAGE("subject null in off mode: " + text, data->isNull("subject"));
		CPPUNIT_ASSERT_MESSAGE("scopes [] in off mode: " + text,
		                       data->isArray("scopes") && data->getArray("scopes")->size() == 0);

		WsTestClient bearer = connect(*server, "/ws", {{"Authorization", "Bearer bogus"}});
		ping(bearer);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultAuthIntegrationTest);
