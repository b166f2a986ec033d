//
// TogetherAccountsTest.cpp
//
// Accounts on the host's SQLite storage code with real Argon2id (at libsodium's minimum cost, so
// the suite stays fast): creation and its conflicts, what is stored, login for right, wrong and
// unknown users, the rehash when the cost changes, concurrent registrations of one name.
//


#include "Accounts.h"
#include "Schema.h"
#include "switchboard/testing/SqliteTestStorage.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sodium.h>
#include <atomic>
#include <string>
#include <thread>
#include <vector>


using namespace Switchboard;
using namespace Switchboard::Together;


namespace {


const HashCost CHEAP{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
const HashCost LESS_CHEAP{crypto_pwhash_OPSLIMIT_MIN + 1, crypto_pwhash_MEMLIMIT_MIN * 2};
constexpr std::int64_t NOW = 1767225600LL * 1000000;


void fillRandom(void* buffer, std::size_t n)
{
	randombytes_buf(buffer, n);
}


std::string storedHash(Storage& storage, const std::string& username)
{
	QueryResult row = storage.execute("SELECT password_hash FROM users WHERE username = ?", {username});
	CPPUNIT_ASSERT(row.ok && row.rows.size() == 1);
	return valueAsString(row.rows[0][0]);
}


} // namespace


class TogetherAccountsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherAccountsTest);
	CPPUNIT_TEST(testCreateAndConflicts);
	CPPUNIT_TEST(testLogin);
	CPPUNIT_TEST(testRehashWhenTheCostChanges);
	CPPUNIT_TEST(testConcurrentRegistrationsOfOneName);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override
	{
		CPPUNIT_ASSERT(sodium_init() >= 0);
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, _storage.applyMigrations("together", togetherMigrations(), error));
	}

	void testCreateAndConflicts()
	{
		Accounts accounts(_storage, CHEAP, 2, fillRandom);
		UserRecord alice;
		CPPUNIT_ASSERT(accounts.create("alice", "alice@example.com", "password123", NOW, alice) ==
		               CreateOutcome::CREATED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(36), alice.id.size());
		CPPUNIT_ASSERT(alice.email && *alice.email == "alice@example.com");
		CPPUNIT_ASSERT(!alice.avatarUrl && !alice.customStatus);
		CPPUNIT_ASSERT_EQUAL(NOW, alice.createdAt);
		const std::string hash = storedHash(_storage, "alice");
		CPPUNIT_ASSERT_MESSAGE(hash, hash.rfind("$argon2id$v=19$", 0) == 0);
		CPPUNIT_ASSERT(hash.find("password123") == std::string::npos);

		UserRecord unused;
		CPPUNIT_ASSERT(accounts.create("alice", "", "password123", NOW, unused) == CreateOutcome::USERNAME_TAKEN);
		CPPUNIT_ASSERT(accounts.create("alice", "alice@example.com", "password123", NOW, unused) ==
		               CreateOutcome::USERNAME_TAKEN); // the username is checked first
		CPPUNIT_ASSERT(accounts.create("alice2", "alice@example.com", "password123", NOW, unused) ==
		               CreateOutcome::EMAIL_TAKEN);
		UserRecord bob, carol;
		CPPUNIT_ASSERT(accounts.create("bob", "", "password123", NOW, bob) == CreateOutcome::CREATED);
		CPPUNIT_ASSERT(accounts.create("carol", "", "password123", NOW, carol) == CreateOutcome::CREATED);
		CPPUNIT_ASSERT(!bob.email && bob.id != carol.id);

		auto found = accounts.find(alice.id);
		CPPUNIT_ASSERT(found && found->username == "alice" && found->email == alice.email);
		bool failed = true;
		CPPUNIT_ASSERT(!accounts.find("no-such-id", &failed) && !failed);
	}

	void testLogin()
	{
		Accounts accounts(_storage, CHEAP, 2, fillRandom);
		UserRecord alice, user;
		CPPUNIT_ASSERT(accounts.create("alice", "", "password123", NOW, alice) == CreateOutcome::CREATED);
		CPPUNIT_ASSERT(accounts.login("alice", "password123", user) == LoginOutcome::OK);
		CPPUNIT_ASSERT_EQUAL(alice.id, user.id);
		CPPUNIT_ASSERT(accounts.login("alice", "password124", user) == LoginOutcome::WRONG);
		CPPUNIT_ASSERT(accounts.login("Alice", "password123", user) == LoginOutcome::WRONG); // case-sensitive
		CPPUNIT_ASSERT(accounts.login("nobody", "password123", user) == LoginOutcome::WRONG);
		CPPUNIT_ASSERT(accounts.login("alice", "", user) == LoginOutcome::WRONG);
	}

	void testRehashWhenTheCostChanges()
	{
		UserRecord alice, user;
		{
			Accounts cheap(_storage, CHEAP, 1, fillRandom);
			CPPUNIT_ASSERT(cheap.create("alice", "", "password123", NOW, alice) == CreateOutcome::CREATED);
		}
		const std::string before = storedHash(_storage, "alice");
		Accounts costlier(_storage, LESS_CHEAP, 1, fillRandom);
		CPPUNIT_ASSERT(costlier.login("alice", "password123", user) == LoginOutcome::OK);
		const std::string after = storedHash(_storage, "alice");
		CPPUNIT_ASSERT(after != before);
		CPPUNIT_ASSERT(crypto_pwhash_str_needs_rehash(after.c_str(), LESS_CHEAP.opslimit, LESS_CHEAP.memlimit) == 0);
		CPPUNIT_ASSERT(costlier.login("alice", "password123", user) == LoginOutcome::OK);
		CPPUNIT_ASSERT_EQUAL(after, storedHash(_storage, "alice")); // no rehash when the cost is current
	}

	void testConcurrentRegistrationsOfOneName()
	{
		Accounts accounts(_storage, CHEAP, 2, fillRandom);
		std::atomic<int> created{0}, taken{0}, failed{0};
		std::vector<std::thread> threads;
		for (int i = 0; i < 6; ++i)
			threads.emplace_back([&] {
				UserRecord user;
				switch (accounts.create("same", "", "password123", NOW, user))
				{
					case CreateOutcome::CREATED:
						++created;
						break;
					case CreateOutcome::USERNAME_TAKEN:
						++taken;
						break;
					default:
						++failed;
				}
			});
		for (auto& t : threads)
			t.join();
		CPPUNIT_ASSERT_EQUAL(1, created.load());
		CPPUNIT_ASSERT_EQUAL(5, taken.load());
		CPPUNIT_ASSERT_EQUAL(0, failed.load());
	}

private:
	Testing::SqliteTestStorage _storage;
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherAccountsTest);
