//
// PeerVaultTestSupport.h
//
// Shared pieces of the PeerVault integration tests (/work/shared/protocols/peervault.md, §12): the
// real binary with only the PeerVault plugin, on its own loopback listener; the publish endpoint
// with the test's Bearer token; WebSocket connections that read one JSON frame at a time; the
// "receives nothing" sentinel (an app-level ping whose pong must be the very next frame); exact
// checks of the error envelope, of close codes and of key sets; HS256 tokens minted here.
//


#ifndef Switchboard_Test_PeerVaultTestSupport_INCLUDED
#define Switchboard_Test_PeerVaultTestSupport_INCLUDED


#include "HttpResponse.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace PeerVault {


inline const char* const LOOPBACK = "127.0.0.1";
constexpr int WAIT_MS = 5000;

/// The publishing credential every test server has (§12 setup).
inline const std::string PUB_TOKEN = "pub-token";
inline const std::string PUB_TOKENS_JSON =
    "[{\"token\":\"pub-token\",\"name\":\"publisher\",\"scopes\":[\"publish\"]}]";

/// The HS256 secret tests configure when they need JWTs (at least 32 bytes).
inline const std::string JWT_SECRET = "peervault-integration-test-secret-0123456789";

/// The plugin key prefix of every contract key (§9), e.g. key("auth.mode") = "websocket.auth.mode".
std::string key(const std::string& contractKey);

void configure(TestServer& server, const TestServer::Keys& extraKeys = {});
/// Adds [listener.peervault] (127.0.0.1, a free port), [plugin.peervault] (listener = peervault,
/// prefix at the root) with websocket.metrics.interval = 1s and websocket.auth.tokens =
/// PUB_TOKENS_JSON, then extraKeys (full plugin key names; they win, an empty value removes the
/// key), and the host's [environment] section mapping the seven PEERVAULT_WS_* variables to their
/// config paths. No other plugin section is written, so only PeerVault runs.

int port(TestServer& server);
/// The peervault listener's port.

std::unique_ptr<TestServer> startServer(const TestServer::Keys& extraKeys = {},
                                        const TestServer::Keys& environment = {});
/// A new TestServer, configure()d with extraKeys, with the given environment variables, started.

// --- JSON ---------------------------------------------------------------------------------------

Poco::Dynamic::Var parse(const std::string& json);
/// Parses JSON; a CppUnit failure (with the text) when it is not JSON.
Poco::JSON::Object::Ptr object(const std::string& json);
/// parse() that must give an object.
Poco::JSON::Object::Ptr objectAt(const Poco::JSON::Object::Ptr& parent, const std::string& name,
                                 const std::string& context);
/// parent[name], which must be an object.
std::string stringAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context);
/// parent[name], which must be a string.
std::int64_t integerAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context);
/// parent[name], which must be a JSON integer.
double numberAt(const Poco::JSON::Object::Ptr& parent, const std::string& name, const std::string& context);
/// parent[name], which must be a JSON number (integer or not).
std::string stringify(const Poco::Dynamic::Var& value);
/// Compact JSON.
std::string quote(const std::string& text);
/// text as a JSON string literal.
std::set<std::string> keysOf(const Poco::JSON::Object::Ptr& object);
void expectKeys(const Poco::JSON::Object::Ptr& object, const std::set<std::string>& keys, const std::string& context);
/// The object has exactly these keys.
void expectHasKeys(const Poco::JSON::Object::Ptr& object, const std::set<std::string>& keys,
                   const std::string& context);
/// The object has at least these keys.
bool strictJson(const std::string& text, std::string& why);
/// True if text is exactly one RFC 8259 JSON value (surrounding whitespace allowed, nothing else);
/// an independent strict check, not Poco's parser.

// --- text checks --------------------------------------------------------------------------------

bool matches(const std::string& text, const std::string& pattern);
/// std::regex_match (ECMAScript) of the whole text.
void expectMatches(const std::string& text, const std::string& pattern, const std::string& context);
void expectTimestamp(const std::string& text, const std::string& context);
/// The contract's timestamp form: ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$.
std::int64_t timestampMillis(const std::string& text);
/// Unix milliseconds of a timestamp in the contract's form (-1 if it is not in that form).
std::int64_t nowMillis();
/// Wall-clock Unix time in milliseconds.
std::int64_t nowSeconds();

// --- HTTP ---------------------------------------------------------------------------------------

HttpResponse http(TestServer& server, const std::string& method, const std::string& path,
                  const HttpTestClient::Headers& headers = {}, const std::string& body = "");
/// One request to the peervault listener.

HttpResponse publish(TestServer& server, const std::string& body, const std::string& token = PUB_TOKEN,
                     const std::string& contentType = "application/json");
/// POST /ws/publish; token non-empty adds "Authorization: Bearer <token>"; an empty contentType
/// sends none.

Poco::JSON::Object::Ptr publishAccepted(TestServer& server, const std::string& body, int delivered = -1);
/// publish() that must answer 202 with {"status":"accepted",type,topic,delivered,timestamp};
/// delivered >= 0 is checked too. Returns the response body.

void expectHttpError(const HttpResponse& response, int status, const std::string& code, const std::string& message);
/// The status, a JSON content type and exactly the error envelope
/// {"type":"error","data":{"code":..,"message":..},"timestamp":..}.

Poco::JSON::Object::Ptr getJson(TestServer& server, const std::string& path, int status = 200);
/// GET path; asserts the status and a JSON object body with Content-Type application/json.

// --- WebSocket ----------------------------------------------------------------------------------

WsTestClient connect(TestServer& server, const std::string& pathAndQuery = "/ws",
                     const WsTestClient::Headers& headers = {}, bool autoPong = true);
/// Opens a WebSocket on the peervault listener and asserts 101. autoPong answers the server's
/// Ping control frames inside every read.

void sendJson(WsTestClient& client, const std::string& json);
/// One text frame.

WsTestClient::Message nextMessage(WsTestClient& client, int timeoutMs = WAIT_MS);
/// The next message or control frame other than a Pong control frame; a CppUnit failure on timeout,
/// EOF or a protocol error.

std::string nextText(WsTestClient& client, int timeoutMs = WAIT_MS);
/// The next data message, which must be one text frame (a close or binary frame fails with what
/// it was). Pong control frames are skipped.

Poco::JSON::Object::Ptr nextFrame(WsTestClient& client, int timeoutMs = WAIT_MS);
/// nextText() parsed as a JSON object.

Poco::JSON::Object::Ptr nextOfType(WsTestClient& client, const std::string& type, int timeoutMs = WAIT_MS);
/// nextFrame() that must have this "type".

void expectPong(const Poco::JSON::Object::Ptr& frame, const std::string& context);
/// Exactly {"type":"pong","timestamp":..,"clientId":<32 hex>}.

Poco::JSON::Object::Ptr ping(WsTestClient& client);
/// Sends {"type":"ping"} and asserts that the very next frame is its pong; returns the pong.

void expectNothing(WsTestClient& client, const std::string& context = "");
/// "Receives nothing": ping() (nothing queued before the pong).

void subscribe(WsTestClient& client, const std::string& topic);
/// {"type":"subscribe","topic":topic}, then ping() so the subscription is known to be active
/// (without ack_subscriptions, no other reply is allowed).

void expectErrorFrame(const Poco::JSON::Object::Ptr& frame, const std::string& code, const std::string& message,
                      int retryAfter = -1);
/// Exactly {"type":"error","data":{"code":..,"message":..[,"retryAfter":n]},"timestamp":..}.

void expectError(WsTestClient& client, const std::string& code, const std::string& message, int timeoutMs = WAIT_MS);
/// nextFrame() that must be this error envelope.

struct CloseResult
{
	int code = WsTestClient::CloseInfo::TIMED_OUT;
	std::string reason;
	bool eof = false;
	std::vector<std::string> dataFrames; ///< text of data frames received before the close
	std::int64_t atMillis = 0;           ///< monotonic ms when the close (or EOF) was seen
};

CloseResult awaitClose(WsTestClient& client, int timeoutMs = WAIT_MS, bool reply = true);
/// Reads until a close frame or EOF; data frames are collected; the server's pings are answered
/// if the client auto-pongs. With reply, answers the close and waits for EOF.

CloseResult expectClose(WsTestClient& client, int code, const std::string& reason = "", int timeoutMs = WAIT_MS);
/// The next frame is a close frame with this code, and with this reason when reason is not empty;
/// no data frame may come before it. Answers it and waits for EOF.

std::string describe(const CloseResult& close);

// --- tokens ---------------------------------------------------------------------------------------

std::string base64Url(const std::string& bytes);
/// RFC 4648 §5 without padding.
std::string mintJwt(const std::string& claimsJson, const std::string& secret = JWT_SECRET,
                    const std::string& headerJson = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
/// A compact JWS signed with HMAC-SHA-256 over the given header and claims.
std::string mintUnsignedJwt(const std::string& claimsJson);
/// {"alg":"none"} and an empty signature.


} // namespace PeerVault
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_PeerVaultTestSupport_INCLUDED
