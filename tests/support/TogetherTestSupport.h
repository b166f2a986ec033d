//
// TogetherTestSupport.h
//
// Shared pieces of the Together integration tests: the real binary with the plugin on its own
// loopback listener, JSON helpers, REST calls with bearer tokens, users made through the real
// /auth/register route, tokens minted with the test secret, and gateway sessions that have read
// their READY frame (docs/protocols/together.md).
//


#ifndef Switchboard_Test_TogetherTestSupport_INCLUDED
#define Switchboard_Test_TogetherTestSupport_INCLUDED


#include "HttpResponse.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cstdint>
#include <map>
#include <string>


namespace Switchboard {
namespace Test {
namespace Together {


inline const char* const LOOPBACK = "127.0.0.1";
constexpr int WAIT_MS = 5000;
constexpr int QUIET_MS = 300;

/// The fixed secret tests configure, so they can mint tokens (at least 32 bytes).
inline const std::string TEST_SECRET = "switchboard-together-test-secret-0123456789";


void configure(TestServer& server, const TestServer::Keys& extraKeys = {});
/// Adds [listener.together] (json_errors = true) and [plugin.together] (mounted at the root of that listener) with
/// jwt_secret = TEST_SECRET and auth_rate_limit.per_second = 0, then extraKeys (which win;
/// an empty value removes the key, e.g. {"jwt_secret", ""} to let the plugin generate one).

int port(TestServer& server);
/// The together listener's port.

Poco::Dynamic::Var parse(const std::string& json);
/// Parses JSON; a CppUnit failure (with the text) when it is not JSON.
Poco::JSON::Object::Ptr object(const std::string& json);
/// parse() that must give an object.
std::string stringify(const Poco::Dynamic::Var& value);
/// Compact JSON.
std::string quote(const std::string& text);
/// text as a JSON string literal.
Poco::JSON::Array::Ptr array(const std::string& json);
/// parse() that must give an array.
std::string text(const Poco::JSON::Object::Ptr& json, const std::string& key);
/// A string member that must be present.
std::string randomUuid();
/// A random UUID v4, lowercase and hyphenated.
std::int64_t nowSeconds();
/// Wall-clock Unix time in seconds.

HttpResponse call(TestServer& server, const std::string& method, const std::string& path, const std::string& token = "",
                  const std::string& body = "", const std::string& contentType = "application/json");
/// One request; token non-empty adds "Authorization: Bearer <token>"; a non-empty body is sent
/// with contentType (an empty contentType sends none).

void expectError(const HttpResponse& response, int status, const std::string& message);
/// Asserts the status, a JSON content type and exactly {"error": message}.

struct User
{
	std::string id;
	std::string username;
	std::string accessToken;
	std::string refreshToken;
};

std::string uniqueName(const std::string& prefix);
/// prefix plus a counter and the process id, at most 32 characters, valid as a username.

User registerUser(TestServer& server, const std::string& prefix, const std::string& password = "password123");
/// POST /auth/register with a unique username; asserts 201.

User login(TestServer& server, const User& user, const std::string& password = "password123");
/// POST /auth/login as user; asserts 200 and that the answer names user's id; user with the new
/// tokens.

std::string mintToken(const std::string& userId, const std::string& username, const std::string& tokenType,
                      std::int64_t issuedAt, std::int64_t expiresAt, const std::string& secret = TEST_SECRET);
/// An HS256 token with every claim (a fresh jti), signed with secret.
std::string mintUnsigned(const std::string& userId, const std::string& username);
/// An "alg":"none" token with valid claims and an empty signature.
std::map<std::string, Poco::Dynamic::Var> claimsOf(const std::string& token);
/// The decoded claims of a compact JWS (signature not checked). headerOf() likewise.
std::map<std::string, Poco::Dynamic::Var> headerOf(const std::string& token);

std::string createServer(TestServer& server, const User& owner, const std::string& name = "S");
/// POST /servers; asserts 201; the id.
void joinServer(TestServer& server, const User& user, const std::string& serverId);
/// POST /servers/:id/join; asserts 201.
std::string createChannel(TestServer& server, const User& owner, const std::string& serverId, const std::string& name,
                          const std::string& type);
/// POST /servers/:id/channels; asserts 201; the id.
Poco::JSON::Object::Ptr postMessage(TestServer& server, const User& author, const std::string& channelId,
                                    const std::string& content);
/// POST /channels/:id/messages; asserts 201; the Message.
Poco::JSON::Object::Ptr joinVoice(TestServer& server, const User& user, const std::string& channelId,
                                  const std::string& body = "");
/// POST /channels/:id/voice; asserts 201 and the VoiceState keys; the VoiceState.
void leaveVoice(TestServer& server, const User& user, const std::string& channelId);
/// DELETE /channels/:id/voice; asserts 204.

struct Session
/// One gateway connection that has read its READY.
{
	WsTestClient client;
	Poco::JSON::Object::Ptr ready; ///< READY's d
	std::string sessionId;
};

Session openSession(TestServer& server, const User& user, const std::string& path = "/ws");
/// Connects with ?token=, asserts 101 and that the first frame is READY; autopong on.
Poco::JSON::Object::Ptr nextFrame(WsTestClient& client, int timeoutMs = WAIT_MS);
/// The next text message as an object (CppUnit failure on timeout, close or non-JSON).
Poco::JSON::Object::Ptr nextDispatch(WsTestClient& client, const std::string& type, int timeoutMs = WAIT_MS);
/// nextFrame() that must be a DISPATCH of type; returns its d.
void expectPresence(WsTestClient& client, const std::string& userId, const std::string& status,
                    int timeoutMs = WAIT_MS);
/// The next frame is PRESENCE_UPDATE {"user_id":userId,"status":status,"custom_status":null}.
void closeSession(WsTestClient& client);
/// A client-initiated close handshake: asserts the server echoes 1000 with nothing before it.
void expectNothingBut(WsTestClient& client, const std::string& sentinelReply = "{\"op\":\"HEARTBEAT_ACK\"}");
/// The sentinel check: sends {"op":"HEARTBEAT"} and asserts the very next frame is the ACK.


} // namespace Together
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TogetherTestSupport_INCLUDED
