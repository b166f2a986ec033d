//
// TogetherRestIntegrationTest.cpp
//
// The Together plugin's REST API (docs/protocols/together.md §1-§4, the cases of §9.1) against
// the real switchboard binary on a loopback listener:
//
// - TogetherRestAuthTest: register, password storage (real Argon2id with the default cost),
//   login, bearer checks, refresh rotation with reuse detection, logout, the generated secret
//   persisted across a restart, a short secret refused, the auth rate limit;
// - TogetherRestResourceTest: servers, membership, channels, messages and their pagination, edits
//   and deletes, voice REST, /api parity, generic errors, /users/@me, /health, path ids, the body
//   limit and CORS (cheaper hashing: password.memlimit = 8192, password.opslimit = 1).
//
// Every server is started by the test that uses it; users get unique names.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include "WsTestClient.h"
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <functional>
#include <regex>
#include <set>
#include <sqlite3.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>


namespace CppUnit {

template <>
struct assertion_traits<std::vector<std::string>>
/// Lists of ids compare element by element and print as [a, b, ...].
{
	static bool equal(const std::vector<std::string>& a, const std::vector<std::string>& b) { return a == b; }

	static std::string toString(const std::vector<std::string>& list)
	{
		std::string out = "[";
		for (std::size_t i = 0; i < list.size(); ++i)
			out += (i ? ", " : "") + list[i];
		return out + "] (" + std::to_string(list.size()) + ")";
	}
};

} // namespace CppUnit


using namespace Switchboard::Test;
using namespace Switchboard::Test::Together;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const TestServer::Keys FAST_HASH = {{"password.memlimit", "8192"}, {"password.opslimit", "1"}};

const std::string USERNAME_MESSAGE = "Username must be 2–32 characters: letters, digits, '_', '.' or '-'";
const std::string PASSWORD_MESSAGE = "Password must be 8–128 characters";
const std::string REFRESH_GONE = "Session not found, expired, or token already rotated";
const std::string CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";
const std::string CORS_HEADERS = "Authorization, Content-Type";


void startTogether(TestServer& server, const TestServer::Keys& keys = {})
{
	configure(server, keys);
	server.start();
}


bool matches(const std::string& text, const char* pattern)
{
	return std::regex_match(text, std::regex(pattern));
}


bool isUuid(const std::string& text)
/// Lowercase, hyphenated UUID v4.
{
	return matches(text, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
}


bool isTimestamp(const std::string& text)
/// RFC 3339 UTC with exactly six fractional digits.
{
	return matches(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$");
}


std::string upper(std::string text)
{
	for (char& c : text)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return text;
}


std::string describe(const HttpResponse& response)
{
	return "HTTP " + std::to_string(response.status) + " " + response.body;
}


void expectJsonType(const HttpResponse& response)
{
	const std::string type = response.header("Content-Type");
	CPPUNIT_ASSERT_MESSAGE("Content-Type '" + type + "' of " + describe(response),
	                       type.rfind("application/json", 0) == 0);
}


Object::Ptr expectObject(const HttpResponse& response, int status)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), status, response.status);
	expectJsonType(response);
	return object(response.body);
}


Array::Ptr expectArray(const HttpResponse& response, int status = 200)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), status, response.status);
	expectJsonType(response);
	return array(response.body);
}


void expectEmpty(const HttpResponse& response, int status)
/// A success without a body (204).
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), status, response.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), std::string(), response.body);
}


void expectErrorPrefix(const HttpResponse& response, int status, const std::string& prefix, const std::string& part)
/// {"error": "<prefix>...<part>..."} with a JSON content type.
{
	Object::Ptr body = expectObject(response, status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), std::size_t(1), body->size());
	CPPUNIT_ASSERT_MESSAGE(describe(response), body->has("error") && body->get("error").isString());
	const std::string message = body->getValue<std::string>("error");
	CPPUNIT_ASSERT_MESSAGE(describe(response), message.rfind(prefix, 0) == 0);
	CPPUNIT_ASSERT_MESSAGE(describe(response) + " should name " + part, message.find(part) != std::string::npos);
}


std::int64_t integer(const Object::Ptr& json, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("no integer '" + key + "' in " + stringify(json),
	                       json->has(key) && json->get(key).isInteger());
	return json->getValue<std::int64_t>(key);
}


void expectNull(const Object::Ptr& json, const std::string& key)
/// The key is present with the value null.
{
	CPPUNIT_ASSERT_MESSAGE("'" + key + "' should be null in " + stringify(json),
	                       json->has(key) && json->get(key).isEmpty());
}


void expectBool(const Object::Ptr& json, const std::string& key, bool value)
{
	CPPUNIT_ASSERT_MESSAGE("'" + key + "' should be " + (value ? "true" : "false") + " in " + stringify(json),
	                       json->has(key) && json->get(key).type() == typeid(bool) &&
	                           json->getValue<bool>(key) == value);
}


void expectKeys(const Object::Ptr& json, const std::set<std::string>& keys)
/// Exactly these keys.
{
	std::string expected;
	for (const std::string& key : keys)
		expected += key + " ";
	std::set<std::string> actual;
	for (const auto& entry : *json)
		actual.insert(entry.first);
	std::string got;
	for (const std::string& key : actual)
		got += key + " ";
	CPPUNIT_ASSERT_EQUAL_MESSAGE(stringify(json), expected, got);
}


void expectHasKeys(const Object::Ptr& json, const std::set<std::string>& keys)
/// At least these keys (the objects of §4.1; the plugin may add fields of its own).
{
	for (const std::string& key : keys)
		CPPUNIT_ASSERT_MESSAGE("no '" + key + "' in " + stringify(json), json->has(key));
}


const std::set<std::string> USER_KEYS = {"id",     "username",      "email",     "avatar_url",
                                         "status", "custom_status", "created_at"};
const std::set<std::string> SERVER_KEYS = {"id",       "name",         "description", "owner_id",
                                           "icon_url", "member_count", "created_at",  "updated_at"};
const std::set<std::string> MEMBER_KEYS = {"user_id",       "username", "avatar_url", "status",
                                           "custom_status", "nickname", "joined_at"};
const std::set<std::string> CHANNEL_KEYS = {"id",       "server_id", "name",  "type",
                                            "position", "category",  "topic", "created_at"};
const std::set<std::string> MESSAGE_KEYS = {"id",         "channel_id", "author_id", "content", "reply_to",
                                            "created_at", "updated_at", "edited_at", "deleted"};
const std::set<std::string> VOICE_KEYS = {"user_id",   "channel_id", "username",    "muted",       "deafened",
                                          "self_mute", "self_deaf",  "server_mute", "server_deaf", "joined_at"};


void expectUserDto(const Object::Ptr& user, const std::string& id, const std::string& username)
{
	expectHasKeys(user, USER_KEYS);
	CPPUNIT_ASSERT_EQUAL(id, text(user, "id"));
	CPPUNIT_ASSERT_EQUAL(username, text(user, "username"));
	CPPUNIT_ASSERT_MESSAGE(stringify(user), isTimestamp(text(user, "created_at")));
}


Object::Ptr expectAuthResponse(const HttpResponse& response, int status)
/// AuthResponse with exactly its three keys and a UserDto.
{
	Object::Ptr body = expectObject(response, status);
	expectKeys(body, {"access_token", "refresh_token", "user"});
	text(body, "access_token");
	text(body, "refresh_token");
	Object::Ptr user = body->getObject("user");
	CPPUNIT_ASSERT_MESSAGE(response.body, !user.isNull());
	expectHasKeys(user, USER_KEYS);
	return body;
}


std::string credentials(const std::string& username, const std::string& password)
{
	return "{\"username\":" + quote(username) + ",\"password\":" + quote(password) + "}";
}


std::string refreshBody(const std::string& token)
{
	return "{\"refresh_token\":" + quote(token) + "}";
}


std::int64_t claimInt(const std::map<std::string, Poco::Dynamic::Var>& claims, const std::string& key)
{
	auto found = claims.find(key);
	CPPUNIT_ASSERT_MESSAGE("integer claim " + key, found != claims.end() && found->second.isInteger());
	return found->second.convert<std::int64_t>();
}


std::string claimText(const std::map<std::string, Poco::Dynamic::Var>& claims, const std::string& key)
{
	auto found = claims.find(key);
	CPPUNIT_ASSERT_MESSAGE("string claim " + key, found != claims.end() && found->second.isString());
	return found->second.convert<std::string>();
}


std::vector<std::string> idsOf(const Array::Ptr& list, const std::string& key = "id")
{
	std::vector<std::string> ids;
	for (std::size_t i = 0; i < list->size(); ++i)
	{
		Object::Ptr item = list->getObject(static_cast<unsigned>(i));
		CPPUNIT_ASSERT_MESSAGE(stringify(list), !item.isNull());
		ids.push_back(text(item, key));
	}
	return ids;
}


std::string databasePath(TestServer& server)
{
	return server.dir().filePath("data/together.sqlite");
}


std::string queryText(TestServer& server, const std::string& sql, const std::string& parameter)
/// The first cell of the first row of one statement on the plugin's SQLite file ("" for none).
{
	sqlite3* db = nullptr;
	const std::string path = databasePath(server);
	if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
	{
		const std::string error = db ? sqlite3_errmsg(db) : "out of memory";
		sqlite3_close(db);
		CPPUNIT_FAIL("cannot open " + path + ": " + error);
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt* statement = nullptr;
	if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
	{
		const std::string error = sqlite3_errmsg(db);
		sqlite3_close(db);
		CPPUNIT_FAIL("prepare " + sql + ": " + error);
	}
	if (sqlite3_bind_parameter_count(statement) > 0)
		sqlite3_bind_text(statement, 1, parameter.c_str(), -1, SQLITE_TRANSIENT);
	std::string value;
	const int rc = sqlite3_step(statement);
	if (rc == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr)
		value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
	const std::string error = sqlite3_errmsg(db);
	sqlite3_finalize(statement);
	sqlite3_close(db);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		CPPUNIT_FAIL("step " + sql + ": " + error);
	return value;
}


std::int64_t elapsedMicros(const std::function<void()>& action)
{
	const std::int64_t start = Deadline::nowMicros();
	action();
	return Deadline::nowMicros() - start;
}


User login(TestServer& server, const std::string& username, const std::string& password = "password123",
           const std::string& prefix = "")
{
	HttpResponse response = call(server, "POST", prefix + "/auth/login", "", credentials(username, password));
	Object::Ptr body = expectAuthResponse(response, 200);
	User user;
	user.username = username;
	user.id = text(body->getObject("user"), "id");
	user.accessToken = text(body, "access_token");
	user.refreshToken = text(body, "refresh_token");
	return user;
}


std::string repeat(const std::string& unit, std::size_t count)
{
	std::string out;
	out.reserve(unit.size() * count);
	for (std::size_t i = 0; i < count; ++i)
		out += unit;
	return out;
}


} // namespace


// --- accounts and tokens (default Argon2id cost unless stated) -------------------------------


class TogetherRestAuthTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherRestAuthTest);
	CPPUNIT_TEST(testRegister);
	CPPUNIT_TEST(testRegisterErrors);
	CPPUNIT_TEST(testPasswordStorage);
	CPPUNIT_TEST(testRehashOnLogin);
	CPPUNIT_TEST(testLogin);
	CPPUNIT_TEST(testBearer);
	CPPUNIT_TEST(testRefreshRotation);
	CPPUNIT_TEST(testLogout);
	CPPUNIT_TEST(testSecretPersistence);
	CPPUNIT_TEST(testShortSecretRefused);
	CPPUNIT_TEST(testAuthRateLimit);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRegister()
	{
		// §9.1 case 1.
		TestServer server;
		startTogether(server);
		const std::string username = uniqueName("alice_x");
		const std::int64_t before = nowSeconds();
		HttpResponse response = call(server, "POST", "/auth/register", "", credentials(username, "password123"));
		const std::int64_t after = nowSeconds();
		Object::Ptr body = expectAuthResponse(response, 201);
		Object::Ptr user = body->getObject("user");
		const std::string id = text(user, "id");
		CPPUNIT_ASSERT_MESSAGE(id, isUuid(id));
		expectUserDto(user, id, username);
		expectNull(user, "email");
		expectNull(user, "avatar_url");
		expectNull(user, "custom_status");
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(user, "status"));

		const std::string access = text(body, "access_token");
		auto header = headerOf(access);
		CPPUNIT_ASSERT_EQUAL(std::string("HS256"), claimText(header, "alg"));
		CPPUNIT_ASSERT_EQUAL(std::string("JWT"), claimText(header, "typ"));
		auto claims = claimsOf(access);
		CPPUNIT_ASSERT_EQUAL(id, claimText(claims, "sub"));
		const std::int64_t iat = claimInt(claims, "iat");
		CPPUNIT_ASSERT_MESSAGE("iat " + std::to_string(iat), iat >= before - 1 && iat <= after + 1);
		CPPUNIT_ASSERT_EQUAL(iat + 900, claimInt(claims, "exp"));
		CPPUNIT_ASSERT_EQUAL(username, claimText(claims, "username"));
		CPPUNIT_ASSERT_EQUAL(std::string("access"), claimText(claims, "token_type"));
		const std::string jti = claimText(claims, "jti");
		CPPUNIT_ASSERT_MESSAGE("jti " + jti, isUuid(jti));

		const std::string refresh = text(body, "refresh_token");
		CPPUNIT_ASSERT_EQUAL(std::string("HS256"), claimText(headerOf(refresh), "alg"));
		auto refreshClaims = claimsOf(refresh);
		CPPUNIT_ASSERT_EQUAL(id, claimText(refreshClaims, "sub"));
		const std::int64_t refreshIat = claimInt(refreshClaims, "iat");
		CPPUNIT_ASSERT_EQUAL(refreshIat + 604800, claimInt(refreshClaims, "exp"));
		CPPUNIT_ASSERT_EQUAL(std::string("refresh"), claimText(refreshClaims, "token_type"));
		CPPUNIT_ASSERT(claimText(refreshClaims, "jti") != jti);

		// The token works, and the email form is kept when given.
		Object::Ptr me = expectObject(call(server, "GET", "/users/@me", access), 200);
		expectUserDto(me, id, username);
		const std::string other = uniqueName("mail");
		Object::Ptr withEmail = expectAuthResponse(call(server, "POST", "/auth/register", "",
		                                                "{\"username\":" + quote(other) + ",\"email\":\"" + other +
		                                                    "@example.com\",\"password\":\"password123\"}"),
		                                           201);
		CPPUNIT_ASSERT_EQUAL(other + "@example.com", text(withEmail->getObject("user"), "email"));
		// "" is treated as absent.
		Object::Ptr emptyEmail = expectAuthResponse(
		    call(server, "POST", "/auth/register", "",
		         "{\"username\":" + quote(uniqueName("nomail")) + ",\"email\":\"\",\"password\":\"password123\"}"),
		    201);
		expectNull(emptyEmail->getObject("user"), "email");
	}

	void testRegisterErrors()
	{
		// §9.1 case 2, plus the other value checks of §4.3.
		TestServer server;
		startTogether(server, FAST_HASH);
		const std::string username = uniqueName("dup");
		const std::string email = username + "@example.com";
		expectAuthResponse(
		    call(server, "POST", "/auth/register", "",
		         "{\"username\":" + quote(username) + ",\"email\":" + quote(email) + ",\"password\":\"password123\"}"),
		    201);
		expectError(call(server, "POST", "/auth/register", "", credentials(username, "password123")), 409,
		            "Username already taken");
		expectError(call(server, "POST", "/auth/register", "",
		                 "{\"username\":" + quote(uniqueName("dup2")) + ",\"email\":" + quote(email) +
		                     ",\"password\":\"password123\"}"),
		            409, "Email already registered");
		expectError(call(server, "POST", "/auth/register", "", credentials("a", "password123")), 400, USERNAME_MESSAGE);
		expectError(call(server, "POST", "/auth/register", "", credentials(repeat("a", 33), "password123")), 400,
		            USERNAME_MESSAGE);
		expectError(call(server, "POST", "/auth/register", "", credentials("bad name!", "password123")), 400,
		            USERNAME_MESSAGE);
		expectError(call(server, "POST", "/auth/register", "", credentials(uniqueName("pw"), "short")), 400,
		            PASSWORD_MESSAGE);
		expectError(call(server, "POST", "/auth/register", "", credentials(uniqueName("pw"), repeat("p", 129))), 400,
		            PASSWORD_MESSAGE);
		expectError(call(server, "POST", "/auth/register", "",
		                 "{\"username\":" + quote(uniqueName("em")) +
		                     ",\"email\":\"no-at-sign\",\"password\":\"password123\"}"),
		            400, "Invalid email address");
		expectErrorPrefix(call(server, "POST", "/auth/register", "", "{\"username\":" + quote(uniqueName("np")) + "}"),
		                  422, "Invalid request body: ", "password");
		expectErrorPrefix(call(server, "POST", "/auth/register", "", "{\"username\":5,\"password\":\"password123\"}"),
		                  422, "Invalid request body: ", "username");
		expectError(call(server, "POST", "/auth/register", "", "not json"), 400, "Invalid JSON body");
		expectError(call(server, "POST", "/auth/register", "", "[1,2]"), 400, "Invalid JSON body");
		expectError(
		    call(server, "POST", "/auth/register", "", credentials(uniqueName("ct"), "password123"), "text/plain"), 415,
		    "Content-Type must be application/json");
		// A charset parameter is allowed.
		expectAuthResponse(call(server, "POST", "/auth/register", "", credentials(uniqueName("cs"), "password123"),
		                        "application/json; charset=utf-8"),
		                   201);
		// 128 code points of a two-byte character is a valid password (code points, not bytes).
		expectAuthResponse(
		    call(server, "POST", "/auth/register", "", credentials(uniqueName("utf"), repeat("\xC3\xA9", 128))), 201);
	}

	void testPasswordStorage()
	{
		// §9.1 case 3 with the default cost (INTERACTIVE: 64 MiB, 2 passes).
		TestServer server;
		startTogether(server);
		User user = registerUser(server, "store");
		const std::string hash = queryText(server, "SELECT password_hash FROM users WHERE id = ?", user.id);
		CPPUNIT_ASSERT_MESSAGE(hash, hash.rfind("$argon2id$", 0) == 0);
		CPPUNIT_ASSERT_MESSAGE(hash, hash.rfind("$argon2id$v=19$m=65536,t=2,", 0) == 0);
		CPPUNIT_ASSERT(hash.find("password123") == std::string::npos);
		// No accounts are seeded.
		CPPUNIT_ASSERT_EQUAL(std::string("1"), queryText(server, "SELECT COUNT(*) FROM users", ""));
	}

	void testRehashOnLogin()
	{
		// §2.3: a successful login rehashes a password whose parameters changed.
		TestServer server;
		startTogether(server);
		User user = registerUser(server, "rehash");
		const std::string before = queryText(server, "SELECT password_hash FROM users WHERE id = ?", user.id);
		CPPUNIT_ASSERT_MESSAGE(before, before.rfind("$argon2id$v=19$m=65536,t=2,", 0) == 0);
		server.set("plugin.together", "password.memlimit", "8192");
		server.set("plugin.together", "password.opslimit", "1");
		server.restart();
		expectError(call(server, "POST", "/auth/login", "", credentials(user.username, "wrong-password")), 401,
		            "Invalid username or password");
		CPPUNIT_ASSERT_EQUAL(before, queryText(server, "SELECT password_hash FROM users WHERE id = ?", user.id));
		login(server, user.username);
		const std::string after = queryText(server, "SELECT password_hash FROM users WHERE id = ?", user.id);
		CPPUNIT_ASSERT_MESSAGE(after, after.rfind("$argon2id$v=19$m=8,t=1,", 0) == 0);
		login(server, user.username);
	}

	void testLogin()
	{
		// §9.1 case 4 (default cost, so the timing comparison is meaningful).
		TestServer server;
		startTogether(server);
		User user = registerUser(server, "login");
		User first = login(server, user.username);
		CPPUNIT_ASSERT_EQUAL(user.id, first.id);
		User second = login(server, user.username);
		CPPUNIT_ASSERT(first.accessToken != second.accessToken);
		CPPUNIT_ASSERT(first.refreshToken != second.refreshToken);
		CPPUNIT_ASSERT(claimText(claimsOf(first.accessToken), "jti") != claimText(claimsOf(second.accessToken), "jti"));
		// Login does not change presence.
		Object::Ptr body =
		    expectAuthResponse(call(server, "POST", "/auth/login", "", credentials(user.username, "password123")), 200);
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(body->getObject("user"), "status"));

		std::vector<std::int64_t> wrong;
		std::vector<std::int64_t> unknown;
		for (int i = 0; i < 3; ++i)
		{
			wrong.push_back(elapsedMicros([&] {
				expectError(call(server, "POST", "/auth/login", "", credentials(user.username, "wrong-password")), 401,
				            "Invalid username or password");
			}));
			unknown.push_back(elapsedMicros([&] {
				expectError(call(server, "POST", "/auth/login", "", credentials(uniqueName("ghost"), "password123")),
				            401, "Invalid username or password");
			}));
		}
		std::sort(wrong.begin(), wrong.end());
		std::sort(unknown.begin(), unknown.end());
		const std::int64_t a = std::max<std::int64_t>(wrong[1], 1);
		const std::int64_t b = std::max<std::int64_t>(unknown[1], 1);
		CPPUNIT_ASSERT_MESSAGE("median wrong password " + std::to_string(a) + " us, unknown user " + std::to_string(b) +
		                           " us",
		                       a < 10 * b && b < 10 * a);

		expectError(call(server, "POST", "/auth/login", "", credentials("", "password123")), 400,
		            "Username and password are required");
		expectError(call(server, "POST", "/auth/login", "", credentials(user.username, "")), 400,
		            "Username and password are required");
		expectErrorPrefix(call(server, "POST", "/auth/login", "", "{\"username\":" + quote(user.username) + "}"), 422,
		                  "Invalid request body: ", "password");
	}

	void testBearer()
	{
		// §9.1 case 5, plus the scheme's case and the subject checks of §2.1.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "bearer");
		expectError(call(server, "GET", "/users/@me"), 401, "Missing or invalid Authorization header");
		expectError(
		    HttpTestClient::get(LOOPBACK, port(server), "/users/@me", {{"Authorization", "Basic dXNlcjpwdw=="}}), 401,
		    "Missing or invalid Authorization header");
		expectError(HttpTestClient::get(LOOPBACK, port(server), "/users/@me", {{"Authorization", user.accessToken}}),
		            401, "Missing or invalid Authorization header");
		Object::Ptr me = expectObject(HttpTestClient::get(LOOPBACK, port(server), "/users/@me",
		                                                  {{"Authorization", "bearer " + user.accessToken}}),
		                              200);
		CPPUNIT_ASSERT_EQUAL(user.id, text(me, "id"));
		expectError(call(server, "GET", "/users/@me", user.refreshToken), 401, "Invalid token type");
		const std::int64_t now = nowSeconds();
		expectError(
		    call(server, "GET", "/users/@me", mintToken(user.id, user.username, "access", now - 1200, now - 300)), 401,
		    "Invalid or expired token");
		expectError(call(server, "GET", "/users/@me", mintUnsigned(user.id, user.username)), 401,
		            "Invalid or expired token");
		expectError(call(server, "GET", "/users/@me",
		                 mintToken(user.id, user.username, "access", now, now + 900,
		                           "another-secret-of-at-least-32-bytes-0123456789")),
		            401, "Invalid or expired token");
		expectError(call(server, "GET", "/users/@me", "garbage"), 401, "Invalid or expired token");
		// Within the 60 s leeway an expired token still works; a minted token with the test secret does.
		expectObject(
		    call(server, "GET", "/users/@me", mintToken(user.id, user.username, "access", now - 900, now - 20)), 200);
		expectObject(call(server, "GET", "/users/@me", mintToken(user.id, user.username, "access", now, now + 900)),
		             200);
		expectError(call(server, "GET", "/users/@me", mintToken("not-a-uuid", user.username, "access", now, now + 900)),
		            401, "Invalid token subject");
		expectError(call(server, "GET", "/users/@me", mintToken(randomUuid(), "nobody", "access", now, now + 900)), 401,
		            "Invalid token subject");
		// Authentication comes before path ids and bodies.
		expectError(call(server, "GET", "/servers/not-a-uuid"), 401, "Missing or invalid Authorization header");
		expectError(call(server, "POST", "/servers", "", "not json"), 401, "Missing or invalid Authorization header");
	}

	void testRefreshRotation()
	{
		// §9.1 case 6.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "rotate");
		const std::string r1 = user.refreshToken;
		Object::Ptr second = expectAuthResponse(call(server, "POST", "/auth/refresh", "", refreshBody(r1)), 200);
		const std::string r2 = text(second, "refresh_token");
		CPPUNIT_ASSERT(r2 != r1);
		CPPUNIT_ASSERT_EQUAL(user.id, text(second->getObject("user"), "id"));
		expectObject(call(server, "GET", "/users/@me", text(second, "access_token")), 200);
		Object::Ptr third = expectAuthResponse(call(server, "POST", "/auth/refresh", "", refreshBody(r2)), 200);
		const std::string r3 = text(third, "refresh_token");
		CPPUNIT_ASSERT(r3 != r2 && r3 != r1);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(r1)), 401, REFRESH_GONE);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(r3)), 401, REFRESH_GONE);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(user.accessToken)), 401,
		            "Not a refresh token");
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody("garbage")), 401,
		            "Invalid or expired refresh token");
		const std::int64_t now = nowSeconds();
		expectError(call(server, "POST", "/auth/refresh", "",
		                 refreshBody(mintToken(user.id, user.username, "refresh", now - 2000, now - 1000))),
		            401, "Invalid or expired refresh token");
		// A well-signed refresh token that was never issued has no session row.
		expectError(call(server, "POST", "/auth/refresh", "",
		                 refreshBody(mintToken(user.id, user.username, "refresh", now, now + 604800))),
		            401, REFRESH_GONE);
		expectErrorPrefix(call(server, "POST", "/auth/refresh", "", "{}"), 422,
		                  "Invalid request body: ", "refresh_token");
		// Another family of the same user is untouched by the revocation.
		User other = login(server, user.username);
		expectAuthResponse(call(server, "POST", "/auth/refresh", "", refreshBody(other.refreshToken)), 200);
		// Only digests are stored.
		CPPUNIT_ASSERT_EQUAL(std::string("0"), queryText(server, "SELECT COUNT(*) FROM sessions WHERE token_hash = ?",
		                                                 other.refreshToken));
	}

	void testLogout()
	{
		// §9.1 case 7.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "logout");
		expectEmpty(call(server, "POST", "/auth/logout", "", refreshBody(user.refreshToken)), 204);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(user.refreshToken)), 401, REFRESH_GONE);
		expectEmpty(call(server, "POST", "/auth/logout", "", refreshBody(user.refreshToken)), 204);
		expectError(call(server, "POST", "/auth/logout", "", refreshBody("garbage")), 401,
		            "Invalid or expired refresh token");
		// An expired token with a valid signature is accepted.
		const std::int64_t now = nowSeconds();
		expectEmpty(call(server, "POST", "/auth/logout", "",
		                 refreshBody(mintToken(user.id, user.username, "refresh", now - 2000, now - 1000))),
		            204);
		// Logout ends the whole family: a rotated-to token dies with it; the access token stays valid.
		User again = login(server, user.username);
		Object::Ptr rotated =
		    expectAuthResponse(call(server, "POST", "/auth/refresh", "", refreshBody(again.refreshToken)), 200);
		expectEmpty(call(server, "POST", "/auth/logout", "", refreshBody(again.refreshToken)), 204);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(text(rotated, "refresh_token"))), 401,
		            REFRESH_GONE);
		expectObject(call(server, "GET", "/users/@me", again.accessToken), 200);
	}

	void testSecretPersistence()
	{
		// §9.1 case 8: no jwt_secret; the generated one is stored and reused.
		TestServer server;
		startTogether(server, {{"jwt_secret", ""}, {"password.memlimit", "8192"}, {"password.opslimit", "1"}});
		User user = registerUser(server, "persist");
		expectObject(call(server, "GET", "/users/@me", user.accessToken), 200);
		// Not the test secret.
		const std::int64_t now = nowSeconds();
		expectError(call(server, "GET", "/users/@me", mintToken(user.id, user.username, "access", now, now + 900)), 401,
		            "Invalid or expired token");
		server.restart();
		Object::Ptr me = expectObject(call(server, "GET", "/users/@me", user.accessToken), 200);
		CPPUNIT_ASSERT_EQUAL(user.id, text(me, "id"));
		expectAuthResponse(call(server, "POST", "/auth/refresh", "", refreshBody(user.refreshToken)), 200);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		const std::string secret = queryText(server, "SELECT value FROM settings WHERE key = ?", "jwt_secret");
		CPPUNIT_ASSERT_MESSAGE("stored secret '" + secret + "'", matches(secret, "^[0-9a-fA-F]{64}$"));
	}

	void testShortSecretRefused()
	{
		// §2.1: a jwt_secret shorter than 32 bytes is a startup error.
		TestServer server;
		configure(server, {{"jwt_secret", "0123456789abcdef0123456789abcde"}});
		CPPUNIT_ASSERT_THROW(server.start(), std::runtime_error);
	}

	void testAuthRateLimit()
	{
		// §9.1 case 18.
		TestServer server;
		startTogether(server, {{"auth_rate_limit.per_second", "1"},
		                       {"auth_rate_limit.burst", "2"},
		                       {"password.memlimit", "8192"},
		                       {"password.opslimit", "1"}});
		User user = registerUser(server, "limited");
		// Registering took one token; wait until the bucket is full again (1 token per second).
		std::this_thread::sleep_for(std::chrono::milliseconds(2100));
		std::vector<HttpResponse> answers;
		for (int i = 0; i < 4; ++i)
			answers.push_back(call(server, "POST", i == 3 ? "/api/auth/login" : "/auth/login", "",
			                       credentials(user.username, "password123")));
		expectAuthResponse(answers[0], 200);
		expectAuthResponse(answers[1], 200);
		for (int i = 2; i < 4; ++i)
		{
			expectError(answers[static_cast<std::size_t>(i)], 429, "Too many requests");
			const std::string retry = answers[static_cast<std::size_t>(i)].header("Retry-After");
			CPPUNIT_ASSERT_MESSAGE("Retry-After '" + retry + "'", matches(retry, "^[0-9]+$") && std::stoi(retry) >= 1);
		}
		// Other routes are not limited.
		for (int i = 0; i < 4; ++i)
			expectObject(call(server, "GET", "/users/@me", user.accessToken), 200);
		// After Retry-After the next login passes.
		std::this_thread::sleep_for(std::chrono::seconds(std::stoi(answers[3].header("Retry-After"))));
		expectAuthResponse(call(server, "POST", "/auth/login", "", credentials(user.username, "password123")), 200);
	}
};


// --- servers, channels, messages, voice, conventions (cheaper hashing) -------------------------


class TogetherRestResourceTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherRestResourceTest);
	CPPUNIT_TEST(testServers);
	CPPUNIT_TEST(testJoinLeaveMembers);
	CPPUNIT_TEST(testChannels);
	CPPUNIT_TEST(testChannelUpdateDelete);
	CPPUNIT_TEST(testMessages);
	CPPUNIT_TEST(testPagination);
	CPPUNIT_TEST(testEditDelete);
	CPPUNIT_TEST(testVoiceRest);
	CPPUNIT_TEST(testApiParity);
	CPPUNIT_TEST(testGenericErrors);
	CPPUNIT_TEST(testUsersMe);
	CPPUNIT_TEST(testHealth);
	CPPUNIT_TEST(testPathIds);
	CPPUNIT_TEST(testBodyLimits);
	CPPUNIT_TEST(testCorsWildcard);
	CPPUNIT_TEST(testCorsOriginList);
	CPPUNIT_TEST_SUITE_END();

public:
	void testServers()
	{
		// §9.1 case 9.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		Object::Ptr created =
		    expectObject(call(server, "POST", "/servers", alice.accessToken, "{\"name\":\"S\"}"), 201);
		expectHasKeys(created, SERVER_KEYS);
		const std::string s = text(created, "id");
		CPPUNIT_ASSERT(isUuid(s));
		CPPUNIT_ASSERT_EQUAL(std::string("S"), text(created, "name"));
		expectNull(created, "description");
		expectNull(created, "icon_url");
		CPPUNIT_ASSERT_EQUAL(alice.id, text(created, "owner_id"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integer(created, "member_count"));
		CPPUNIT_ASSERT(isTimestamp(text(created, "created_at")) && isTimestamp(text(created, "updated_at")));

		Array::Ptr list = expectArray(call(server, "GET", "/servers", alice.accessToken));
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>{s}, idsOf(list));
		CPPUNIT_ASSERT_EQUAL(stringify(created), stringify(list->get(0)));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), expectArray(call(server, "GET", "/servers", carol.accessToken))->size());
		CPPUNIT_ASSERT_EQUAL(stringify(created),
		                     stringify(expectObject(call(server, "GET", "/servers/" + s, alice.accessToken), 200)));

		expectError(call(server, "GET", "/servers/" + s, carol.accessToken), 404, "Server not found");
		expectError(call(server, "PATCH", "/servers/" + s, carol.accessToken, "{\"name\":\"x\"}"), 404,
		            "Server not found");
		expectError(call(server, "DELETE", "/servers/" + s, carol.accessToken), 404, "Server not found");
		expectError(call(server, "GET", "/servers/" + randomUuid(), alice.accessToken), 404, "Server not found");
		joinServer(server, bob, s);
		Object::Ptr seenByBob = expectObject(call(server, "GET", "/servers/" + s, bob.accessToken), 200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integer(seenByBob, "member_count"));
		expectError(call(server, "PATCH", "/servers/" + s, bob.accessToken, "{\"name\":\"x\"}"), 403,
		            "Only the server owner can update it");
		expectError(call(server, "DELETE", "/servers/" + s, bob.accessToken), 403,
		            "Only the server owner can delete it");

		Object::Ptr patched =
		    expectObject(call(server, "PATCH", "/servers/" + s, alice.accessToken, "{\"description\":\"d\"}"), 200);
		CPPUNIT_ASSERT_EQUAL(std::string("d"), text(patched, "description"));
		CPPUNIT_ASSERT_EQUAL(std::string("S"), text(patched, "name"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), integer(patched, "member_count"));
		patched =
		    expectObject(call(server, "PATCH", "/servers/" + s, alice.accessToken, "{\"description\":null}"), 200);
		expectNull(patched, "description");
		patched = expectObject(call(server, "PATCH", "/servers/" + s, alice.accessToken,
		                            "{\"name\":\"S2\",\"icon_url\":\"https://example.com/i.png\"}"),
		                       200);
		CPPUNIT_ASSERT_EQUAL(std::string("S2"), text(patched, "name"));
		CPPUNIT_ASSERT_EQUAL(std::string("https://example.com/i.png"), text(patched, "icon_url"));
		patched = expectObject(call(server, "PATCH", "/servers/" + s, alice.accessToken, "{\"icon_url\":null}"), 200);
		expectNull(patched, "icon_url");

		// Value checks of §4.5.
		const std::string nameMessage = "Server name must be 1–100 characters";
		expectError(call(server, "POST", "/servers", alice.accessToken, "{\"name\":\"\"}"), 400, nameMessage);
		expectError(call(server, "POST", "/servers", alice.accessToken, "{\"name\":" + quote(repeat("n", 101)) + "}"),
		            400, nameMessage);
		expectError(call(server, "PATCH", "/servers/" + s, alice.accessToken, "{\"name\":null}"), 400, nameMessage);
		expectError(call(server, "POST", "/servers", alice.accessToken,
		                 "{\"name\":\"S\",\"description\":" + quote(repeat("d", 1025)) + "}"),
		            400, "Server description must be at most 1024 characters");
		expectError(call(server, "POST", "/servers", alice.accessToken,
		                 "{\"name\":\"S\",\"icon_url\":" + quote(repeat("u", 2049)) + "}"),
		            400, "Icon URL must be at most 2048 characters");
		expectErrorPrefix(call(server, "POST", "/servers", alice.accessToken, "{}"), 422,
		                  "Invalid request body: ", "name");
		expectObject(call(server, "POST", "/servers", alice.accessToken, "{\"name\":" + quote(repeat("n", 100)) + "}"),
		             201);

		expectEmpty(call(server, "DELETE", "/servers/" + s, alice.accessToken), 204);
		expectError(call(server, "GET", "/servers/" + s, alice.accessToken), 404, "Server not found");
		expectError(call(server, "GET", "/servers/" + s, bob.accessToken), 404, "Server not found");
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), expectArray(call(server, "GET", "/servers", bob.accessToken))->size());
	}

	void testJoinLeaveMembers()
	{
		// §9.1 case 10, and GET /servers/:id/members.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		const std::string t = createServer(server, alice, "T");
		HttpResponse joined = call(server, "POST", "/servers/" + s + "/join", bob.accessToken);
		Object::Ptr body = expectObject(joined, 201);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"message\":\"Joined server\"}"), stringify(body));
		expectError(call(server, "POST", "/servers/" + s + "/join", bob.accessToken), 409,
		            "Already a member of this server");
		expectError(call(server, "POST", "/servers/" + randomUuid() + "/join", bob.accessToken), 404,
		            "Server not found");
		// A body on join is ignored, whatever its type.
		expectObject(call(server, "POST", "/servers/" + t + "/join", bob.accessToken, "not json", "text/plain"), 201);
		expectError(call(server, "DELETE", "/servers/" + s + "/leave", alice.accessToken), 400,
		            "Server owner cannot leave — transfer ownership or delete the server");
		joinServer(server, carol, s);

		Array::Ptr members = expectArray(call(server, "GET", "/servers/" + s + "/members", bob.accessToken));
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{alice.id, bob.id, carol.id}), idsOf(members, "user_id"));
		std::string previous;
		for (std::size_t i = 0; i < members->size(); ++i)
		{
			Object::Ptr member = members->getObject(static_cast<unsigned>(i));
			expectHasKeys(member, MEMBER_KEYS);
			CPPUNIT_ASSERT(!member->has("email"));
			expectNull(member, "nickname");
			CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(member, "status"));
			const std::string joinedAt = text(member, "joined_at");
			CPPUNIT_ASSERT(isTimestamp(joinedAt) && joinedAt >= previous);
			previous = joinedAt;
		}
		CPPUNIT_ASSERT_EQUAL(bob.username, text(members->getObject(1), "username"));
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(3),
		    integer(expectObject(call(server, "GET", "/servers/" + s, alice.accessToken), 200), "member_count"));

		expectEmpty(call(server, "DELETE", "/servers/" + s + "/leave", bob.accessToken), 204);
		expectError(call(server, "DELETE", "/servers/" + s + "/leave", bob.accessToken), 404, "Server not found");
		expectError(call(server, "GET", "/servers/" + s + "/members", bob.accessToken), 404, "Server not found");
		expectError(call(server, "GET", "/servers/" + s, bob.accessToken), 404, "Server not found");
		CPPUNIT_ASSERT_EQUAL(
		    (std::vector<std::string>{alice.id, carol.id}),
		    idsOf(expectArray(call(server, "GET", "/servers/" + s + "/members", alice.accessToken)), "user_id"));
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>{t},
		                     idsOf(expectArray(call(server, "GET", "/servers", bob.accessToken))));
		// Rejoining puts bob last.
		joinServer(server, bob, s);
		CPPUNIT_ASSERT_EQUAL(
		    (std::vector<std::string>{alice.id, carol.id, bob.id}),
		    idsOf(expectArray(call(server, "GET", "/servers/" + s + "/members", alice.accessToken)), "user_id"));
		// GET /servers lists by created_at.
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{s, t}),
		                     idsOf(expectArray(call(server, "GET", "/servers", bob.accessToken))));
	}

	void testChannels()
	{
		// §9.1 case 11.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		const std::string other = createServer(server, alice, "Other");
		joinServer(server, bob, s);
		const std::string path = "/servers/" + s + "/channels";

		Object::Ptr text0 = expectObject(
		    call(server, "POST", path, alice.accessToken, "{\"name\":\"general\",\"type\":\"text\"}"), 201);
		expectHasKeys(text0, CHANNEL_KEYS);
		CPPUNIT_ASSERT(isUuid(text(text0, "id")));
		CPPUNIT_ASSERT_EQUAL(s, text(text0, "server_id"));
		CPPUNIT_ASSERT_EQUAL(std::string("general"), text(text0, "name"));
		CPPUNIT_ASSERT_EQUAL(std::string("text"), text(text0, "type"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), integer(text0, "position"));
		expectNull(text0, "category");
		expectNull(text0, "topic");
		CPPUNIT_ASSERT(isTimestamp(text(text0, "created_at")));
		Object::Ptr voice1 =
		    expectObject(call(server, "POST", path, alice.accessToken,
		                      "{\"name\":\"Voice\",\"type\":\"voice\",\"topic\":\"t\",\"category\":\"c\"}"),
		                 201);
		CPPUNIT_ASSERT_EQUAL(std::string("voice"), text(voice1, "type"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), integer(voice1, "position"));
		CPPUNIT_ASSERT_EQUAL(std::string("t"), text(voice1, "topic"));
		CPPUNIT_ASSERT_EQUAL(std::string("c"), text(voice1, "category"));

		expectErrorPrefix(call(server, "POST", path, alice.accessToken, "{\"name\":\"v\",\"type\":\"video\"}"), 422,
		                  "Invalid request body: ", "type");
		expectErrorPrefix(call(server, "POST", path, alice.accessToken, "{\"name\":\"v\"}"), 422,
		                  "Invalid request body: ", "type");
		expectError(call(server, "POST", path, alice.accessToken, "{\"name\":\"\",\"type\":\"text\"}"), 400,
		            "Channel name must be 1–100 characters");
		expectError(call(server, "POST", path, alice.accessToken,
		                 "{\"name\":" + quote(repeat("c", 101)) + ",\"type\":\"text\"}"),
		            400, "Channel name must be 1–100 characters");
		expectError(call(server, "POST", path, alice.accessToken,
		                 "{\"name\":\"x\",\"type\":\"text\",\"topic\":" + quote(repeat("t", 1025)) + "}"),
		            400, "Channel topic must be at most 1024 characters");
		expectError(call(server, "POST", path, alice.accessToken,
		                 "{\"name\":\"x\",\"type\":\"text\",\"category\":" + quote(repeat("c", 101)) + "}"),
		            400, "Channel category must be at most 100 characters");
		expectError(call(server, "POST", path, bob.accessToken, "{\"name\":\"b\",\"type\":\"text\"}"), 403,
		            "Only the server owner can create channels");
		expectError(call(server, "POST", path, carol.accessToken, "{\"name\":\"c\",\"type\":\"text\"}"), 404,
		            "Server not found");
		expectError(call(server, "GET", path, carol.accessToken), 404, "Server not found");

		const std::string textId = text(text0, "id");
		CPPUNIT_ASSERT_EQUAL(stringify(text0),
		                     stringify(expectObject(call(server, "GET", path + "/" + textId, bob.accessToken), 200)));
		expectError(call(server, "GET", "/servers/" + other + "/channels/" + textId, alice.accessToken), 404,
		            "Channel not found");
		expectError(call(server, "GET", path + "/" + randomUuid(), alice.accessToken), 404, "Channel not found");
		expectError(call(server, "GET", path + "/" + textId, carol.accessToken), 404, "Server not found");
		expectError(call(server, "PATCH", path + "/" + textId, alice.accessToken, "{\"position\":-1}"), 400,
		            "Position must be zero or greater");

		// Listing: by position, then created_at.
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{textId, text(voice1, "id")}),
		                     idsOf(expectArray(call(server, "GET", path, bob.accessToken))));
		Object::Ptr moved =
		    expectObject(call(server, "PATCH", path + "/" + textId, alice.accessToken, "{\"position\":5}"), 200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5), integer(moved, "position"));
		const std::string third = createChannel(server, alice, s, "third", "text");
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(6),
		    integer(expectObject(call(server, "GET", path + "/" + third, alice.accessToken), 200), "position"));
		expectObject(call(server, "PATCH", path + "/" + third, alice.accessToken, "{\"position\":0}"), 200);
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{third, text(voice1, "id"), textId}),
		                     idsOf(expectArray(call(server, "GET", path, alice.accessToken))));
	}

	void testChannelUpdateDelete()
	{
		// PATCH and DELETE /servers/:id/channels/:channel_id (§4.6).
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		joinServer(server, bob, s);
		const std::string c = createChannel(server, alice, s, "general", "text");
		const std::string path = "/servers/" + s + "/channels/" + c;
		Object::Ptr patched = expectObject(call(server, "PATCH", path, alice.accessToken,
		                                        "{\"name\":\"renamed\",\"topic\":\"news\",\"category\":\"cat\","
		                                        "\"type\":\"voice\"}"),
		                                   200);
		CPPUNIT_ASSERT_EQUAL(std::string("renamed"), text(patched, "name"));
		CPPUNIT_ASSERT_EQUAL(std::string("news"), text(patched, "topic"));
		CPPUNIT_ASSERT_EQUAL(std::string("cat"), text(patched, "category"));
		CPPUNIT_ASSERT_EQUAL(std::string("text"), text(patched, "type"));
		patched =
		    expectObject(call(server, "PATCH", path, alice.accessToken, "{\"topic\":null,\"category\":null}"), 200);
		expectNull(patched, "topic");
		expectNull(patched, "category");
		CPPUNIT_ASSERT_EQUAL(std::string("renamed"), text(patched, "name"));
		expectError(call(server, "PATCH", path, alice.accessToken, "{\"name\":\"\"}"), 400,
		            "Channel name must be 1–100 characters");
		expectErrorPrefix(call(server, "PATCH", path, alice.accessToken, "{\"position\":\"one\"}"), 422,
		                  "Invalid request body: ", "position");
		expectError(call(server, "PATCH", path, bob.accessToken, "{\"name\":\"x\"}"), 403,
		            "Only the server owner can update channels");
		expectError(call(server, "PATCH", path, carol.accessToken, "{\"name\":\"x\"}"), 404, "Server not found");
		expectError(
		    call(server, "PATCH", "/servers/" + s + "/channels/" + randomUuid(), alice.accessToken, "{\"name\":\"x\"}"),
		    404, "Channel not found");
		expectError(call(server, "DELETE", path, bob.accessToken), 403, "Only the server owner can delete channels");
		expectError(call(server, "DELETE", path, carol.accessToken), 404, "Server not found");

		postMessage(server, bob, c, "before the delete");
		expectEmpty(call(server, "DELETE", path, alice.accessToken), 204);
		expectError(call(server, "GET", path, alice.accessToken), 404, "Channel not found");
		expectError(call(server, "DELETE", path, alice.accessToken), 404, "Channel not found");
		expectError(call(server, "GET", "/channels/" + c + "/messages", alice.accessToken), 404, "Channel not found");
		expectError(call(server, "POST", "/channels/" + c + "/messages", bob.accessToken, "{\"content\":\"x\"}"), 404,
		            "Channel not found");
		CPPUNIT_ASSERT_EQUAL(
		    std::size_t(0), expectArray(call(server, "GET", "/servers/" + s + "/channels", alice.accessToken))->size());
	}

	void testMessages()
	{
		// §9.1 case 12.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		joinServer(server, bob, s);
		const std::string c = createChannel(server, alice, s, "general", "text");
		const std::string c2 = createChannel(server, alice, s, "second", "text");
		const std::string v = createChannel(server, alice, s, "voice", "voice");
		const std::string path = "/channels/" + c + "/messages";

		Object::Ptr message =
		    expectObject(call(server, "POST", path, bob.accessToken, "{\"content\":\"Hello, everyone!\"}"), 201);
		expectHasKeys(message, MESSAGE_KEYS);
		CPPUNIT_ASSERT(isUuid(text(message, "id")));
		CPPUNIT_ASSERT_EQUAL(c, text(message, "channel_id"));
		CPPUNIT_ASSERT_EQUAL(bob.id, text(message, "author_id"));
		CPPUNIT_ASSERT_EQUAL(std::string("Hello, everyone!"), text(message, "content"));
		expectNull(message, "reply_to");
		expectNull(message, "updated_at");
		expectNull(message, "edited_at");
		expectBool(message, "deleted", false);
		CPPUNIT_ASSERT(isTimestamp(text(message, "created_at")));

		const std::string contentMessage = "Message content must be 1–4000 characters";
		expectError(call(server, "POST", path, alice.accessToken, "{\"content\":\"\"}"), 400, contentMessage);
		expectError(call(server, "POST", path, alice.accessToken, "{\"content\":" + quote(repeat("x", 4001)) + "}"),
		            400, contentMessage);
		Object::Ptr longest = expectObject(
		    call(server, "POST", path, alice.accessToken, "{\"content\":" + quote(repeat("x", 4000)) + "}"), 201);
		CPPUNIT_ASSERT_EQUAL(std::size_t(4000), text(longest, "content").size());
		// Code points, not bytes; stored verbatim without trimming.
		const std::string wide = repeat("\xC3\xA9", 4000);
		CPPUNIT_ASSERT_EQUAL(wide, text(postMessage(server, alice, c, wide), "content"));
		CPPUNIT_ASSERT_EQUAL(std::string("  spaced \n"), text(postMessage(server, alice, c, "  spaced \n"), "content"));
		expectErrorPrefix(call(server, "POST", path, alice.accessToken, "{}"), 422,
		                  "Invalid request body: ", "content");
		expectErrorPrefix(call(server, "POST", path, alice.accessToken, "{\"content\":5}"), 422,
		                  "Invalid request body: ", "content");

		expectError(call(server, "POST", "/channels/" + v + "/messages", alice.accessToken, "{\"content\":\"x\"}"), 400,
		            "Channel is not a text channel");
		expectError(call(server, "GET", "/channels/" + v + "/messages", alice.accessToken), 400,
		            "Channel is not a text channel");
		expectError(call(server, "POST", path, carol.accessToken, "{\"content\":\"x\"}"), 404, "Channel not found");
		expectError(call(server, "GET", path, carol.accessToken), 404, "Channel not found");
		expectError(
		    call(server, "POST", "/channels/" + randomUuid() + "/messages", alice.accessToken, "{\"content\":\"x\"}"),
		    404, "Channel not found");

		const std::string elsewhere = text(postMessage(server, alice, c2, "in the other channel"), "id");
		expectError(
		    call(server, "POST", path, alice.accessToken, "{\"content\":\"re\",\"reply_to\":" + quote(elsewhere) + "}"),
		    404, "Reply target message not found");
		expectError(call(server, "POST", path, alice.accessToken,
		                 "{\"content\":\"re\",\"reply_to\":" + quote(randomUuid()) + "}"),
		            404, "Reply target message not found");
		Object::Ptr reply = expectObject(call(server, "POST", path, alice.accessToken,
		                                      "{\"content\":\"re\",\"reply_to\":" + quote(text(message, "id")) + "}"),
		                                 201);
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(reply, "reply_to"));
		expectNull(
		    expectObject(call(server, "POST", path, alice.accessToken, "{\"content\":\"n\",\"reply_to\":null}"), 201),
		    "reply_to");
		// A deleted message cannot be replied to.
		const std::string gone = text(postMessage(server, alice, c, "soon gone"), "id");
		expectEmpty(call(server, "DELETE", "/messages/" + gone, alice.accessToken), 204);
		expectError(
		    call(server, "POST", path, alice.accessToken, "{\"content\":\"re\",\"reply_to\":" + quote(gone) + "}"), 404,
		    "Reply target message not found");
		// Unknown fields are ignored.
		expectObject(call(server, "POST", path, alice.accessToken, "{\"content\":\"u\",\"nonce\":42}"), 201);
		// The list has the REST bodies, newest first.
		Array::Ptr listed = expectArray(call(server, "GET", path, bob.accessToken));
		CPPUNIT_ASSERT_EQUAL(stringify(message), stringify(listed->get(static_cast<unsigned>(listed->size() - 1))));
	}

	void testPagination()
	{
		// §9.1 case 13.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		const std::string s = createServer(server, alice);
		const std::string c = createChannel(server, alice, s, "general", "text");
		const std::string other = createChannel(server, alice, s, "other", "text");
		std::vector<std::pair<std::string, std::string>> posted; // (created_at, id)
		for (int i = 0; i < 120; ++i)
		{
			Object::Ptr message = postMessage(server, alice, c, "message " + std::to_string(i));
			posted.emplace_back(text(message, "created_at"), text(message, "id"));
		}
		// Expected order: created_at DESC, id DESC (the timestamps have a fixed width).
		std::vector<std::pair<std::string, std::string>> ordered = posted;
		std::sort(ordered.rbegin(), ordered.rend());
		std::vector<std::string> expected;
		for (const auto& entry : ordered)
			expected.push_back(entry.second);
		CPPUNIT_ASSERT_EQUAL(posted.back().second, expected.front());
		const std::string path = "/channels/" + c + "/messages";
		auto page = [&](const std::string& query) {
			return idsOf(expectArray(call(server, "GET", path + query, alice.accessToken)));
		};
		auto slice = [&](std::size_t from, std::size_t count) {
			return std::vector<std::string>(expected.begin() + static_cast<long>(from),
			                                expected.begin() +
			                                    static_cast<long>(std::min(expected.size(), from + count)));
		};

		CPPUNIT_ASSERT_EQUAL(slice(0, 50), page(""));
		CPPUNIT_ASSERT_EQUAL(slice(0, 100), page("?limit=100"));
		CPPUNIT_ASSERT_EQUAL(slice(0, 100), page("?limit=500"));
		CPPUNIT_ASSERT_EQUAL(slice(0, 1), page("?limit=0"));
		CPPUNIT_ASSERT_EQUAL(slice(0, 1), page("?limit=-5"));
		CPPUNIT_ASSERT_EQUAL(slice(0, 7), page("?limit=7"));
		expectError(call(server, "GET", path + "?limit=abc", alice.accessToken), 400,
		            "Invalid query parameter 'limit'");
		expectError(call(server, "GET", path + "?limit=1.5", alice.accessToken), 400,
		            "Invalid query parameter 'limit'");
		expectError(call(server, "GET", path + "?before=abc", alice.accessToken), 400,
		            "Invalid query parameter 'before'");
		CPPUNIT_ASSERT_EQUAL(slice(50, 50), page("?before=" + expected[49]));
		CPPUNIT_ASSERT_EQUAL(slice(100, 50), page("?before=" + expected[99]));
		CPPUNIT_ASSERT_EQUAL(slice(50, 100), page("?before=" + expected[49] + "&limit=100"));
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>(), page("?before=" + randomUuid()));
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>(), page("?before=" + expected.back()));
		// A before id of another channel gives [].
		const std::string foreign = text(postMessage(server, alice, other, "elsewhere"), "id");
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>(), page("?before=" + foreign));

		// Deleted messages are absent from every page; before may name one.
		const std::vector<std::string> removed = {expected[0], expected[49], expected[50], expected[77]};
		for (const std::string& id : removed)
			expectEmpty(call(server, "DELETE", "/messages/" + id, alice.accessToken), 204);
		std::vector<std::string> remaining;
		for (const std::string& id : expected)
			if (std::find(removed.begin(), removed.end(), id) == removed.end())
				remaining.push_back(id);
		std::vector<std::string> walked;
		std::string cursor;
		for (int pages = 0; pages < 10; ++pages)
		{
			std::vector<std::string> ids = page(cursor.empty() ? "" : "?before=" + cursor);
			for (const std::string& id : ids)
				CPPUNIT_ASSERT_MESSAGE("deleted " + id + " listed",
				                       std::find(removed.begin(), removed.end(), id) == removed.end());
			walked.insert(walked.end(), ids.begin(), ids.end());
			if (ids.size() < 50)
				break;
			cursor = ids.back();
		}
		CPPUNIT_ASSERT_EQUAL(remaining, walked);
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>(remaining.begin() + 48, remaining.begin() + 98),
		                     page("?before=" + expected[49]));
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>(remaining.begin(), remaining.begin() + 100), page("?limit=100"));
	}

	void testEditDelete()
	{
		// §9.1 case 14, and the delete permission of §4.7.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		joinServer(server, bob, s);
		const std::string c = createChannel(server, alice, s, "general", "text");
		Object::Ptr original = postMessage(server, alice, c, "original");
		const std::string m = text(original, "id");

		expectError(call(server, "PATCH", "/messages/" + m, bob.accessToken, "{\"content\":\"hijack\"}"), 403,
		            "Only the message author can edit it");
		expectError(call(server, "PATCH", "/messages/" + m, carol.accessToken, "{\"content\":\"x\"}"), 404,
		            "Message not found");
		expectError(call(server, "PATCH", "/messages/" + m, alice.accessToken, "{\"content\":\"\"}"), 400,
		            "Message content must be 1–4000 characters");
		expectErrorPrefix(call(server, "PATCH", "/messages/" + m, alice.accessToken, "{}"), 422,
		                  "Invalid request body: ", "content");
		expectError(call(server, "PATCH", "/messages/" + randomUuid(), alice.accessToken, "{\"content\":\"x\"}"), 404,
		            "Message not found");
		Object::Ptr edited =
		    expectObject(call(server, "PATCH", "/messages/" + m, alice.accessToken, "{\"content\":\"edited\"}"), 200);
		expectHasKeys(edited, MESSAGE_KEYS);
		CPPUNIT_ASSERT_EQUAL(std::string("edited"), text(edited, "content"));
		const std::string editedAt = text(edited, "edited_at");
		CPPUNIT_ASSERT(isTimestamp(editedAt));
		CPPUNIT_ASSERT_EQUAL(editedAt, text(edited, "updated_at"));
		CPPUNIT_ASSERT(editedAt >= text(original, "created_at"));
		CPPUNIT_ASSERT_EQUAL(text(original, "created_at"), text(edited, "created_at"));
		Array::Ptr listed = expectArray(call(server, "GET", "/channels/" + c + "/messages", bob.accessToken));
		CPPUNIT_ASSERT_EQUAL(stringify(edited), stringify(listed->get(0)));

		const std::string bobs = text(postMessage(server, bob, c, "bob's"), "id");
		const std::string alices = text(postMessage(server, alice, c, "alice's"), "id");
		expectError(call(server, "DELETE", "/messages/" + alices, bob.accessToken), 403,
		            "Only the message author or server owner can delete it");
		expectError(call(server, "DELETE", "/messages/" + alices, carol.accessToken), 404, "Message not found");
		expectEmpty(call(server, "DELETE", "/messages/" + bobs, alice.accessToken), 204);
		expectError(call(server, "DELETE", "/messages/" + bobs, alice.accessToken), 404, "Message not found");
		expectError(call(server, "PATCH", "/messages/" + bobs, bob.accessToken, "{\"content\":\"x\"}"), 404,
		            "Message not found");
		const std::string own = text(postMessage(server, bob, c, "mine"), "id");
		expectEmpty(call(server, "DELETE", "/messages/" + own, bob.accessToken), 204);
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{alices, m}),
		                     idsOf(expectArray(call(server, "GET", "/channels/" + c + "/messages", bob.accessToken))));
		// An author who left the server can no longer edit.
		const std::string last = text(postMessage(server, bob, c, "before leaving"), "id");
		expectEmpty(call(server, "DELETE", "/servers/" + s + "/leave", bob.accessToken), 204);
		expectError(call(server, "PATCH", "/messages/" + last, bob.accessToken, "{\"content\":\"x\"}"), 404,
		            "Message not found");
	}

	void testVoiceRest()
	{
		// §9.1 case 15.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		User carol = registerUser(server, "carol");
		const std::string s = createServer(server, alice);
		joinServer(server, bob, s);
		const std::string t = createChannel(server, alice, s, "general", "text");
		const std::string v1 = createChannel(server, alice, s, "v1", "voice");
		const std::string v2 = createChannel(server, alice, s, "v2", "voice");

		expectError(call(server, "POST", "/channels/" + t + "/voice", bob.accessToken), 400,
		            "Channel is not a voice channel");
		expectError(call(server, "GET", "/channels/" + t + "/voice", bob.accessToken), 400,
		            "Channel is not a voice channel");
		expectError(call(server, "POST", "/channels/" + v1 + "/voice", carol.accessToken), 404, "Channel not found");
		expectError(call(server, "GET", "/channels/" + v1 + "/voice", carol.accessToken), 404, "Channel not found");
		expectError(
		    call(server, "POST", "/channels/" + v1 + "/voice", bob.accessToken, "{\"session_id\":\"deadbeef\"}"), 400,
		    "Unknown session_id");

		Object::Ptr state = expectObject(call(server, "POST", "/channels/" + v1 + "/voice", bob.accessToken), 201);
		expectHasKeys(state, VOICE_KEYS);
		CPPUNIT_ASSERT_EQUAL(bob.id, text(state, "user_id"));
		CPPUNIT_ASSERT_EQUAL(v1, text(state, "channel_id"));
		CPPUNIT_ASSERT_EQUAL(bob.username, text(state, "username"));
		for (const char* flag : {"muted", "deafened", "self_mute", "self_deaf", "server_mute", "server_deaf"})
			expectBool(state, flag, false);
		CPPUNIT_ASSERT(isTimestamp(text(state, "joined_at")));
		// Re-joining the same channel: 201 with the unchanged state.
		CPPUNIT_ASSERT_EQUAL(
		    stringify(state),
		    stringify(expectObject(call(server, "POST", "/channels/" + v1 + "/voice", bob.accessToken), 201)));

		const std::string voice = "/channels/" + v1 + "/voice";
		expectError(call(server, "PATCH", voice, bob.accessToken, "{}"), 400,
		            "At least one field (self_mute or self_deaf) must be provided");
		expectErrorPrefix(call(server, "PATCH", voice, bob.accessToken, "{\"foo\":1}"), 422,
		                  "Invalid request body: ", "foo");
		expectErrorPrefix(call(server, "PATCH", voice, bob.accessToken, "{\"self_mute\":1}"), 422,
		                  "Invalid request body: ", "self_mute");
		Object::Ptr muted = expectObject(call(server, "PATCH", voice, bob.accessToken, "{\"self_mute\":true}"), 200);
		expectBool(muted, "muted", true);
		expectBool(muted, "self_mute", true);
		expectBool(muted, "deafened", false);
		Object::Ptr unmuted = expectObject(call(server, "PATCH", voice, bob.accessToken, "{\"muted\":false}"), 200);
		expectBool(unmuted, "self_mute", false);
		expectBool(unmuted, "muted", false);
		Object::Ptr deaf = expectObject(call(server, "PATCH", voice, bob.accessToken, "{\"deafened\":true}"), 200);
		expectBool(deaf, "self_deaf", true);
		expectBool(deaf, "deafened", true);
		expectError(call(server, "PATCH", "/channels/" + v2 + "/voice", bob.accessToken, "{\"self_mute\":true}"), 404,
		            "Not in this voice channel");
		expectError(call(server, "PATCH", voice, alice.accessToken, "{\"self_mute\":true}"), 404,
		            "Not in this voice channel");

		Array::Ptr participants = expectArray(call(server, "GET", voice, alice.accessToken));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), participants->size());
		CPPUNIT_ASSERT_EQUAL(bob.username, text(participants->getObject(0), "username"));
		CPPUNIT_ASSERT_EQUAL(stringify(deaf), stringify(participants->get(0)));
		Object::Ptr aliceState = expectObject(call(server, "POST", voice, alice.accessToken), 201);
		CPPUNIT_ASSERT_EQUAL((std::vector<std::string>{bob.id, alice.id}),
		                     idsOf(expectArray(call(server, "GET", voice, bob.accessToken)), "user_id"));

		// Switching channels resets the self flags.
		expectObject(call(server, "PATCH", voice, bob.accessToken, "{\"self_mute\":true}"), 200);
		Object::Ptr switched = expectObject(call(server, "POST", "/channels/" + v2 + "/voice", bob.accessToken), 201);
		CPPUNIT_ASSERT_EQUAL(v2, text(switched, "channel_id"));
		expectBool(switched, "self_mute", false);
		expectBool(switched, "self_deaf", false);
		expectBool(switched, "muted", false);
		CPPUNIT_ASSERT_EQUAL(std::vector<std::string>{alice.id},
		                     idsOf(expectArray(call(server, "GET", voice, bob.accessToken)), "user_id"));
		expectError(call(server, "DELETE", voice, bob.accessToken), 404, "Not in this voice channel");
		expectEmpty(call(server, "DELETE", "/channels/" + v2 + "/voice", bob.accessToken), 204);
		expectError(call(server, "DELETE", "/channels/" + v2 + "/voice", bob.accessToken), 404,
		            "Not in this voice channel");
		CPPUNIT_ASSERT_EQUAL(std::size_t(0),
		                     expectArray(call(server, "GET", "/channels/" + v2 + "/voice", bob.accessToken))->size());
		// Leaving the server clears a voice state; deleting the channel clears the rest.
		expectObject(call(server, "POST", "/channels/" + v2 + "/voice", bob.accessToken), 201);
		expectEmpty(call(server, "DELETE", "/servers/" + s + "/leave", bob.accessToken), 204);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0),
		                     expectArray(call(server, "GET", "/channels/" + v2 + "/voice", alice.accessToken))->size());
		expectEmpty(call(server, "DELETE", "/servers/" + s + "/channels/" + v1, alice.accessToken), 204);
		expectError(call(server, "DELETE", voice, alice.accessToken), 404, "Channel not found");
		(void)aliceState;
	}

	void testApiParity()
	{
		// §9.1 case 16.
		TestServer server;
		startTogether(server, FAST_HASH);
		const std::string username = uniqueName("api");
		Object::Ptr registered = expectAuthResponse(
		    call(server, "POST", "/api/auth/register", "", credentials(username, "password123")), 201);
		const std::string access = text(registered, "access_token");
		expectUserDto(registered->getObject("user"), text(registered->getObject("user"), "id"), username);
		User user = login(server, username, "password123", "/api");
		User bare = login(server, username);
		CPPUNIT_ASSERT_EQUAL(user.id, bare.id);
		expectAuthResponse(call(server, "POST", "/api/auth/refresh", "", refreshBody(user.refreshToken)), 200);
		expectEmpty(call(server, "POST", "/api/auth/logout", "", refreshBody(bare.refreshToken)), 204);

		const std::string s =
		    text(expectObject(call(server, "POST", "/api/servers", access, "{\"name\":\"S\"}"), 201), "id");
		CPPUNIT_ASSERT_EQUAL(call(server, "GET", "/servers", access).body,
		                     call(server, "GET", "/api/servers", access).body);
		CPPUNIT_ASSERT_EQUAL(call(server, "GET", "/servers/" + s, access).body,
		                     call(server, "GET", "/api/servers/" + s, access).body);
		const std::string c = text(expectObject(call(server, "POST", "/api/servers/" + s + "/channels", access,
		                                             "{\"name\":\"general\",\"type\":\"text\"}"),
		                                        201),
		                           "id");
		Object::Ptr message =
		    expectObject(call(server, "POST", "/api/channels/" + c + "/messages", access, "{\"content\":\"hi\"}"), 201);
		expectHasKeys(message, MESSAGE_KEYS);
		Object::Ptr bareMessage =
		    expectObject(call(server, "POST", "/channels/" + c + "/messages", access, "{\"content\":\"hi\"}"), 201);
		expectHasKeys(bareMessage, MESSAGE_KEYS);
		CPPUNIT_ASSERT_EQUAL(call(server, "GET", "/channels/" + c + "/messages", access).body,
		                     call(server, "GET", "/api/channels/" + c + "/messages", access).body);
		CPPUNIT_ASSERT_EQUAL(call(server, "GET", "/users/@me", access).body,
		                     call(server, "GET", "/api/users/@me", access).body);
		CPPUNIT_ASSERT_EQUAL(call(server, "GET", "/servers/" + s + "/members", access).body,
		                     call(server, "GET", "/api/servers/" + s + "/members", access).body);
		expectObject(call(server, "GET", "/api/health"), 200);
		expectError(call(server, "GET", "/api/servers"), 401, "Missing or invalid Authorization header");
		expectError(call(server, "GET", "/api/servers/" + randomUuid(), access), 404, "Server not found");
		expectError(call(server, "GET", "/api/nope", access), 404, "Not found");
	}

	void testGenericErrors()
	{
		// §9.1 case 17, and the routes of §4.9.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "generic");
		expectError(call(server, "GET", "/nope"), 404, "Not found");
		expectError(call(server, "GET", "/nope", user.accessToken), 404, "Not found");
		expectError(call(server, "GET", "/invites/abc", user.accessToken), 404, "Not found");
		expectError(call(server, "GET", "/users/@me/dms", user.accessToken), 404, "Not found");
		HttpResponse put = call(server, "PUT", "/servers", user.accessToken, "{}");
		expectError(put, 405, "Method not allowed");
		const std::string allow = put.header("Allow");
		CPPUNIT_ASSERT_MESSAGE("Allow: " + allow,
		                       put.headerHasToken("Allow", "GET") && put.headerHasToken("Allow", "POST"));
		HttpResponse deleteHealth = call(server, "DELETE", "/health");
		expectError(deleteHealth, 405, "Method not allowed");
		CPPUNIT_ASSERT(deleteHealth.headerHasToken("Allow", "GET"));
		HttpResponse getLogin = call(server, "GET", "/auth/login");
		expectError(getLogin, 405, "Method not allowed");
		CPPUNIT_ASSERT(getLogin.headerHasToken("Allow", "POST"));

		HttpResponse options = call(server, "OPTIONS", "/servers");
		expectEmpty(options, 204);
		CPPUNIT_ASSERT_EQUAL(std::string("*"), options.header("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(CORS_METHODS, options.header("Access-Control-Allow-Methods"));
		CPPUNIT_ASSERT_EQUAL(CORS_HEADERS, options.header("Access-Control-Allow-Headers"));
		CPPUNIT_ASSERT(!options.hasHeader("Access-Control-Allow-Credentials"));
	}

	void testUsersMe()
	{
		// GET and PATCH /users/@me (§4.4).
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "me");
		Object::Ptr me = expectObject(call(server, "GET", "/users/@me", user.accessToken), 200);
		expectUserDto(me, user.id, user.username);
		expectNull(me, "email");
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(me, "status"));

		expectError(call(server, "PATCH", "/users/@me", user.accessToken, "{\"status\":\"invisible\"}"), 400,
		            "Invalid status 'invisible'. Must be one of: online, idle, dnd, offline");
		expectError(call(server, "PATCH", "/users/@me", user.accessToken,
		                 "{\"custom_status\":" + quote(repeat("c", 129)) + "}"),
		            400, "Custom status must be at most 128 characters");
		expectError(
		    call(server, "PATCH", "/users/@me", user.accessToken, "{\"avatar_url\":" + quote(repeat("u", 2049)) + "}"),
		    400, "Avatar URL must be at most 2048 characters");
		expectErrorPrefix(call(server, "PATCH", "/users/@me", user.accessToken, "{\"status\":5}"), 422,
		                  "Invalid request body: ", "status");
		expectError(call(server, "PATCH", "/users/@me", user.accessToken, "{\"status\":"), 400, "Invalid JSON body");

		const std::string status = repeat("\xC3\xA9", 128);
		Object::Ptr patched =
		    expectObject(call(server, "PATCH", "/users/@me", user.accessToken,
		                      "{\"custom_status\":" + quote(status) + ",\"avatar_url\":\"https://example.com/a.png\"}"),
		                 200);
		expectUserDto(patched, user.id, user.username);
		CPPUNIT_ASSERT_EQUAL(status, text(patched, "custom_status"));
		CPPUNIT_ASSERT_EQUAL(std::string("https://example.com/a.png"), text(patched, "avatar_url"));
		// Absent fields stay; null clears.
		patched = expectObject(call(server, "PATCH", "/users/@me", user.accessToken, "{\"avatar_url\":null}"), 200);
		expectNull(patched, "avatar_url");
		CPPUNIT_ASSERT_EQUAL(status, text(patched, "custom_status"));
		// Without a gateway session the status is ignored (still offline).
		patched = expectObject(call(server, "PATCH", "/users/@me", user.accessToken, "{\"status\":\"dnd\"}"), 200);
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(patched, "status"));
		patched = expectObject(call(server, "PATCH", "/users/@me", user.accessToken, "{\"custom_status\":null}"), 200);
		expectNull(patched, "custom_status");
		CPPUNIT_ASSERT_EQUAL(stringify(patched),
		                     stringify(expectObject(call(server, "GET", "/users/@me", user.accessToken), 200)));

		// With a session, away is stored as idle.
		Session session = openSession(server, user);
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(session.ready->getObject("user"), "status"));
		patched = expectObject(call(server, "PATCH", "/users/@me", user.accessToken, "{\"status\":\"away\"}"), 200);
		CPPUNIT_ASSERT_EQUAL(std::string("idle"), text(patched, "status"));
		CPPUNIT_ASSERT_EQUAL(std::string("idle"),
		                     text(expectObject(call(server, "GET", "/users/@me", user.accessToken), 200), "status"));
	}

	void testHealth()
	{
		// §4.2.
		TestServer server;
		startTogether(server, FAST_HASH);
		for (const char* path : {"/health", "/api/health"})
		{
			HttpResponse response = call(server, "GET", path);
			Object::Ptr body = expectObject(response, 200);
			expectKeys(body, {"status", "service", "version", "database"});
			CPPUNIT_ASSERT_EQUAL(std::string("ok"), text(body, "status"));
			CPPUNIT_ASSERT_EQUAL(std::string("together-server"), text(body, "service"));
			CPPUNIT_ASSERT(!text(body, "version").empty());
			CPPUNIT_ASSERT_EQUAL(std::string("ok"), text(body, "database"));
			CPPUNIT_ASSERT_EQUAL(std::string("*"), response.header("Access-Control-Allow-Origin"));
		}
	}

	void testPathIds()
	{
		// §1.2, §1.3: malformed ids in paths are 400; any letter case is accepted.
		TestServer server;
		startTogether(server, FAST_HASH);
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		const std::string s = createServer(server, alice);
		const std::string c = createChannel(server, alice, s, "general", "text");
		const std::string m = text(postMessage(server, alice, c, "hello"), "id");
		const std::string bad = "Invalid id in path";
		expectError(call(server, "GET", "/servers/not-a-uuid", alice.accessToken), 400, bad);
		expectError(call(server, "GET", "/servers/" + s + "x", alice.accessToken), 400, bad);
		expectError(call(server, "GET", "/servers/" + s + "/channels/123", alice.accessToken), 400, bad);
		expectError(call(server, "POST", "/servers/zzz/join", alice.accessToken), 400, bad);
		expectError(call(server, "GET", "/channels/xyz/messages", alice.accessToken), 400, bad);
		expectError(call(server, "POST", "/channels/xyz/voice", alice.accessToken), 400, bad);
		expectError(call(server, "PATCH", "/messages/123", alice.accessToken, "{\"content\":\"x\"}"), 400, bad);
		// Path ids come before the body checks.
		expectError(call(server, "PATCH", "/messages/123", alice.accessToken, "not json"), 400, bad);

		Object::Ptr fetched = expectObject(call(server, "GET", "/servers/" + upper(s), alice.accessToken), 200);
		CPPUNIT_ASSERT_EQUAL(s, text(fetched, "id"));
		joinServer(server, bob, upper(s));
		CPPUNIT_ASSERT_EQUAL(
		    c, text(expectObject(call(server, "GET", "/servers/" + upper(s) + "/channels/" + upper(c), bob.accessToken),
		                         200),
		            "id"));
		Object::Ptr posted = expectObject(
		    call(server, "POST", "/channels/" + upper(c) + "/messages", bob.accessToken, "{\"content\":\"up\"}"), 201);
		CPPUNIT_ASSERT_EQUAL(c, text(posted, "channel_id"));
		CPPUNIT_ASSERT_EQUAL(
		    std::vector<std::string>{m},
		    idsOf(expectArray(call(
		        server, "GET", "/channels/" + upper(c) + "/messages?before=" + upper(text(posted, "id")) + "&limit=5",
		        bob.accessToken))));
		expectObject(call(server, "PATCH", "/messages/" + upper(m), alice.accessToken, "{\"content\":\"x\"}"), 200);
		expectEmpty(call(server, "DELETE", "/messages/" + upper(m), alice.accessToken), 204);
	}

	void testBodyLimits()
	{
		// §1.3: 1 MiB body limit (413), and 415 before 400 before 422.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "limits");
		const std::string head = "POST /servers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
		                         user.accessToken + "\r\nContent-Type: application/json\r\nConnection: close\r\n";
		// Declared over the limit: answered without reading the body.
		HttpResponse tooLarge =
		    HttpTestClient::requestRaw(LOOPBACK, port(server), head + "Content-Length: 1048577\r\n\r\n", 5000);
		expectError(tooLarge, 413, "Request body too large");
		// Exactly 1 MiB is accepted (unknown fields are ignored).
		std::string body = "{\"name\":\"big\",\"pad\":\"";
		body += std::string(1048576 - body.size() - 2, 'p');
		body += "\"}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048576), body.size());
		expectObject(call(server, "POST", "/servers", user.accessToken, body), 201);

		expectError(call(server, "POST", "/servers", user.accessToken, "{\"name\":\"x\"}", "text/plain"), 415,
		            "Content-Type must be application/json");
		expectError(call(server, "POST", "/servers", user.accessToken, "not json", "text/plain"), 415,
		            "Content-Type must be application/json");
		expectError(call(server, "POST", "/servers", user.accessToken, "{\"name\":\"x\"}", ""), 415,
		            "Content-Type must be application/json");
		expectError(call(server, "POST", "/servers", user.accessToken, "{\"name\":"), 400, "Invalid JSON body");
		expectError(call(server, "POST", "/servers", user.accessToken, "\"S\""), 400, "Invalid JSON body");
		expectError(call(server, "POST", "/servers", user.accessToken, "{\"name\":5"), 400, "Invalid JSON body");
		expectErrorPrefix(call(server, "POST", "/servers", user.accessToken, "{\"name\":5}"), 422,
		                  "Invalid request body: ", "name");
		// A route that requires a body gets 400 or 422 for an empty one, never a 2xx.
		HttpResponse empty = call(server, "POST", "/servers", user.accessToken);
		CPPUNIT_ASSERT_MESSAGE(describe(empty), empty.status == 400 || empty.status == 415 || empty.status == 422);
		expectJsonType(empty);
	}

	void testCorsWildcard()
	{
		// §1.4 with the default cors_origins = "*": on successes, errors and OPTIONS, without auth.
		TestServer server;
		startTogether(server, FAST_HASH);
		User user = registerUser(server, "cors");
		const std::string s = createServer(server, user);
		std::vector<HttpResponse> responses = {
		    call(server, "GET", "/servers", user.accessToken),
		    call(server, "GET", "/servers"),
		    call(server, "GET", "/nope"),
		    HttpTestClient::get(LOOPBACK, port(server), "/servers", {{"Origin", "http://any.example"}}),
		};
		for (const HttpResponse& response : responses)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, std::string("*"),
			                             response.header("Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, CORS_METHODS,
			                             response.header("Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, CORS_HEADERS,
			                             response.header("Access-Control-Allow-Headers"));
			CPPUNIT_ASSERT(!response.hasHeader("Access-Control-Allow-Credentials"));
		}
		for (const std::string& path : {std::string("/users/@me"), "/api/servers/" + s, "/servers/" + s + "/channels",
		                                std::string("/auth/login")})
		{
			HttpResponse options =
			    HttpTestClient::request(LOOPBACK, port(server), "OPTIONS", path,
			                            {{"Origin", "http://any.example"}, {"Access-Control-Request-Method", "PATCH"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path + ": " + options.rawHead, 204, options.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("*"), options.header("Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, CORS_METHODS, options.header("Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, CORS_HEADERS, options.header("Access-Control-Allow-Headers"));
		}
	}

	void testCorsOriginList()
	{
		// §1.4 with a list: a listed Origin is echoed with Vary: Origin; others get no ACAO.
		TestServer server;
		startTogether(server, {{"cors_origins", "http://a.example, http://b.example"},
		                       {"password.memlimit", "8192"},
		                       {"password.opslimit", "1"}});
		User user = registerUser(server, "corslist");
		HttpResponse listed =
		    HttpTestClient::get(LOOPBACK, port(server), "/servers",
		                        {{"Origin", "http://b.example"}, {"Authorization", "Bearer " + user.accessToken}});
		CPPUNIT_ASSERT_EQUAL(200, listed.status);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(listed.rawHead, std::string("http://b.example"),
		                             listed.header("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_MESSAGE(listed.rawHead, listed.headerHasToken("Vary", "Origin"));
		CPPUNIT_ASSERT_EQUAL(CORS_METHODS, listed.header("Access-Control-Allow-Methods"));
		HttpResponse first =
		    HttpTestClient::request(LOOPBACK, port(server), "OPTIONS", "/servers", {{"Origin", "http://a.example"}});
		CPPUNIT_ASSERT_EQUAL(204, first.status);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(first.rawHead, std::string("http://a.example"),
		                             first.header("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(first.headerHasToken("Vary", "Origin"));
		HttpResponse error = HttpTestClient::get(LOOPBACK, port(server), "/servers", {{"Origin", "http://a.example"}});
		expectError(error, 401, "Missing or invalid Authorization header");
		CPPUNIT_ASSERT_EQUAL(std::string("http://a.example"), error.header("Access-Control-Allow-Origin"));
		HttpResponse unlisted =
		    HttpTestClient::get(LOOPBACK, port(server), "/servers",
		                        {{"Origin", "http://evil.example"}, {"Authorization", "Bearer " + user.accessToken}});
		CPPUNIT_ASSERT_EQUAL(200, unlisted.status);
		CPPUNIT_ASSERT_MESSAGE(unlisted.rawHead, !unlisted.hasHeader("Access-Control-Allow-Origin"));
		HttpResponse none = call(server, "GET", "/servers", user.accessToken);
		CPPUNIT_ASSERT_MESSAGE(none.rawHead, !none.hasHeader("Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!none.hasHeader("Access-Control-Allow-Credentials"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherRestAuthTest);
CPPUNIT_TEST_SUITE_REGISTRATION(TogetherRestResourceTest);
