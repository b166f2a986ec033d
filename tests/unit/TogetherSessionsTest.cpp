//
// TogetherSessionsTest.cpp
//
// Refresh-token families on the host's SQLite storage code: rotation, reuse revoking the whole
// family, logout (idempotent, expired tokens accepted), the per-user family cap, pruning, and
// only a hash of each token stored.
//


#include "Rules.h"
#include "Schema.h"
#include "Sessions.h"
#include "switchboard/testing/SqliteTestStorage.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sodium.h>
#include <string>


using namespace Switchboard;
using namespace Switchboard::Together;


namespace {


constexpr std::int64_t NOW = 1767225600LL * 1000000; // 2026-01-01, microseconds
constexpr std::int64_t SECOND = 1000000;


struct Fixture
{
	Testing::SqliteTestStorage storage;
	TokenCodec codec{std::string(32, 's')};
	Sessions sessions{storage, codec, TokenPolicy{}, [](void* buffer, std::size_t n) { randombytes_buf(buffer, n); }};

	Fixture()
	{
		CPPUNIT_ASSERT(sodium_init() >= 0);
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", togetherMigrations(), error));
		addUser("u1", "alice");
		addUser("u2", "bob");
	}

	void addUser(const std::string& id, const std::string& name)
	{
		CPPUNIT_ASSERT(storage
		                   .execute("INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES "
		                            "(?, ?, 'h', 1, 1)",
		                            {id, name})
		                   .ok);
	}

	std::int64_t rows(const std::string& where = "1 = 1")
	{
		return valueAsInt(storage.execute("SELECT COUNT(*) FROM sessions WHERE " + where).rows.at(0).at(0));
	}

	TokenPair login(const std::string& user = "u1", std::int64_t at = NOW)
	{
		TokenPair tokens;
		CPPUNIT_ASSERT(sessions.startFamily(user, user == "u1" ? "alice" : "bob", at, tokens));
		return tokens;
	}
};


} // namespace


class TogetherSessionsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherSessionsTest);
	CPPUNIT_TEST(testIssuedPair);
	CPPUNIT_TEST(testRotationAndReuse);
	CPPUNIT_TEST(testWrongTokens);
	CPPUNIT_TEST(testLogout);
	CPPUNIT_TEST(testFamilyCap);
	CPPUNIT_TEST(testExpiryAndPruning);
	CPPUNIT_TEST_SUITE_END();

public:
	void testIssuedPair()
	{
		Fixture f;
		TokenPair tokens = f.login();
		TokenClaims access, refresh;
		CPPUNIT_ASSERT(f.codec.read(tokens.accessToken, NOW / SECOND, 0, access) == TokenStatus::VALID);
		CPPUNIT_ASSERT(f.codec.read(tokens.refreshToken, NOW / SECOND, 0, refresh) == TokenStatus::VALID);
		CPPUNIT_ASSERT_EQUAL(std::string("access"), access.tokenType);
		CPPUNIT_ASSERT_EQUAL(std::string("refresh"), refresh.tokenType);
		CPPUNIT_ASSERT_EQUAL(access.issuedAt + 900, access.expiresAt);
		CPPUNIT_ASSERT_EQUAL(refresh.issuedAt + 604800, refresh.expiresAt);
		CPPUNIT_ASSERT_EQUAL(std::string("u1"), access.subject);
		CPPUNIT_ASSERT(access.jti != refresh.jti);
		// Only the SHA-256 of the refresh token is stored.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), f.rows());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), f.rows("token_hash = '" + sha256Hex(tokens.refreshToken) + "'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), f.rows("token_hash LIKE '%" + tokens.refreshToken.substr(0, 20) + "%'"));
		// Two logins in the same second still differ.
		TokenPair again = f.login();
		CPPUNIT_ASSERT(again.accessToken != tokens.accessToken && again.refreshToken != tokens.refreshToken);
	}

	void testRotationAndReuse()
	{
		Fixture f;
		TokenPair first = f.login();
		TokenPair other = f.login(); // a second family of the same user, untouched by the reuse below
		TokenPair second, third, unused;
		std::string user;
		CPPUNIT_ASSERT(f.sessions.refresh(first.refreshToken, NOW + SECOND, second, user) == RefreshOutcome::ROTATED);
		CPPUNIT_ASSERT_EQUAL(std::string("u1"), user);
		CPPUNIT_ASSERT(second.refreshToken != first.refreshToken);
		CPPUNIT_ASSERT(f.sessions.refresh(second.refreshToken, NOW + 2 * SECOND, third, user) ==
		               RefreshOutcome::ROTATED);
		// R1 again: reuse. The whole family goes, R3 included.
		CPPUNIT_ASSERT(f.sessions.refresh(first.refreshToken, NOW + 3 * SECOND, unused, user) ==
		               RefreshOutcome::SESSION_GONE);
		CPPUNIT_ASSERT(f.sessions.refresh(third.refreshToken, NOW + 4 * SECOND, unused, user) ==
		               RefreshOutcome::SESSION_GONE);
		CPPUNIT_ASSERT(f.sessions.refresh(other.refreshToken, NOW + 5 * SECOND, unused, user) ==
		               RefreshOutcome::ROTATED);
	}

	void testWrongTokens()
	{
		Fixture f;
		TokenPair tokens = f.login();
		TokenPair unused;
		std::string user;
		CPPUNIT_ASSERT(f.sessions.refresh(tokens.accessToken, NOW, unused, user) == RefreshOutcome::NOT_REFRESH);
		CPPUNIT_ASSERT(f.sessions.refresh("garbage", NOW, unused, user) == RefreshOutcome::INVALID_TOKEN);
		TokenCodec otherSecret(std::string(32, 'o'));
		TokenClaims claims;
		f.codec.read(tokens.refreshToken, NOW / SECOND, 0, claims);
		CPPUNIT_ASSERT(f.sessions.refresh(otherSecret.issue(claims), NOW, unused, user) ==
		               RefreshOutcome::INVALID_TOKEN);
		// Well signed but never issued (no row): gone.
		claims.jti = "another";
		CPPUNIT_ASSERT(f.sessions.refresh(f.codec.issue(claims), NOW, unused, user) == RefreshOutcome::SESSION_GONE);
		// Expired beyond the leeway: invalid.
		CPPUNIT_ASSERT(f.sessions.refresh(tokens.refreshToken, NOW + (604800 + 61) * SECOND, unused, user) ==
		               RefreshOutcome::INVALID_TOKEN);
	}

	void testLogout()
	{
		Fixture f;
		TokenPair tokens = f.login();
		TokenPair kept = f.login("u2");
		CPPUNIT_ASSERT(f.sessions.logout(tokens.refreshToken, NOW) == LogoutOutcome::DONE);
		TokenPair unused;
		std::string user;
		CPPUNIT_ASSERT(f.sessions.refresh(tokens.refreshToken, NOW, unused, user) == RefreshOutcome::SESSION_GONE);
		CPPUNIT_ASSERT(f.sessions.logout(tokens.refreshToken, NOW) == LogoutOutcome::DONE); // idempotent
		CPPUNIT_ASSERT(f.sessions.logout("not.a.token", NOW) == LogoutOutcome::INVALID_TOKEN);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), f.rows("user_id = 'u2'"));
		// Logout still works after the refresh token expired.
		TokenPair late = f.login();
		CPPUNIT_ASSERT(f.sessions.logout(late.refreshToken, NOW + 700000 * SECOND) == LogoutOutcome::DONE);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), f.rows("user_id = 'u1'"));
		(void)kept;
	}

	void testFamilyCap()
	{
		Fixture f;
		TokenPair oldest = f.login("u1", NOW);
		for (int i = 1; i < 10; ++i)
			f.login("u1", NOW + i * SECOND);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(10), f.rows("user_id = 'u1'"));
		// Rotating the oldest family makes its newest row recent: the 11th login drops the
		// second one instead.
		TokenPair rotated, unused;
		std::string user;
		CPPUNIT_ASSERT(f.sessions.refresh(oldest.refreshToken, NOW + 20 * SECOND, rotated, user) ==
		               RefreshOutcome::ROTATED);
		f.login("u1", NOW + 30 * SECOND);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(10), valueAsInt(f.storage
		                                                      .execute("SELECT COUNT(DISTINCT family_id) FROM sessions "
		                                                               "WHERE user_id = 'u1'")
		                                                      .rows.at(0)
		                                                      .at(0)));
		CPPUNIT_ASSERT(f.sessions.refresh(rotated.refreshToken, NOW + 31 * SECOND, unused, user) ==
		               RefreshOutcome::ROTATED);
		// Another user's families are not counted.
		f.login("u2", NOW + 32 * SECOND);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), f.rows("user_id = 'u2'"));
	}

	void testExpiryAndPruning()
	{
		Fixture f;
		TokenPair tokens = f.login("u1", NOW);
		TokenPair next;
		std::string user;
		CPPUNIT_ASSERT(f.sessions.refresh(tokens.refreshToken, NOW + SECOND, next, user) == RefreshOutcome::ROTATED);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), f.rows());         // the rotated row is kept for reuse detection
		CPPUNIT_ASSERT(f.sessions.prune(NOW + 604800 * SECOND)); // the first row's expiry
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), f.rows());
		CPPUNIT_ASSERT(f.sessions.prune(NOW + 604801 * SECOND));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), f.rows());
		// A login prunes too.
		f.login("u2", NOW);
		f.login("u1", NOW + 604801 * SECOND);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), f.rows("user_id = 'u2'"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherSessionsTest);
