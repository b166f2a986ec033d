//
// TogetherSchemaTest.cpp
//
// The Together plugin's migrations on the host's real SQLite storage code: the tables, the
// uniqueness rules, the channel type check and the cascades the contract requires, and the index
// the message pages use.
//


#include "Schema.h"
#include "switchboard/testing/SqliteTestStorage.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>
#include <vector>


using namespace Switchboard;


namespace {


void run(Storage& storage, const std::string& sql, const std::vector<Value>& params = {})
{
	QueryResult result = storage.execute(sql, params);
	CPPUNIT_ASSERT_MESSAGE(sql + ": " + result.error, result.ok);
}


bool fails(Storage& storage, const std::string& sql, const std::vector<Value>& params = {})
{
	return !storage.execute(sql, params).ok;
}


std::int64_t count(Storage& storage, const std::string& sql, const std::vector<Value>& params = {})
{
	QueryResult result = storage.execute(sql, params);
	CPPUNIT_ASSERT_MESSAGE(sql + ": " + result.error, result.ok && result.rows.size() == 1);
	return valueAsInt(result.rows[0][0]);
}


void addUser(Storage& storage, const std::string& id, const std::string& name, Value email = nullptr)
{
	run(storage,
	    "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, "
	    "'$argon2id$v=19$x', 1, 1)",
	    {id, name, email});
}


} // namespace


class TogetherSchemaTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherSchemaTest);
	CPPUNIT_TEST(testMigratesOnceAndAgain);
	CPPUNIT_TEST(testUniquenessAndChecks);
	CPPUNIT_TEST(testCascades);
	CPPUNIT_TEST(testMessagePagesUseTheIndex);
	CPPUNIT_TEST_SUITE_END();

public:
	void testMigratesOnceAndAgain()
	{
		Testing::SqliteTestStorage storage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", Together::togetherMigrations(), error));
		CPPUNIT_ASSERT_EQUAL(static_cast<int>(Together::togetherMigrations().size()), storage.schemaVersion(error));
		// Applying again (the next start) changes nothing and succeeds.
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", Together::togetherMigrations(), error));
		for (const char* table : {"users", "sessions", "servers", "server_members", "channels", "messages", "settings"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(table, std::int64_t(1),
			                             count(storage,
			                                   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
			                                   "name = ?",
			                                   {std::string(table)}));
	}

	void testUniquenessAndChecks()
	{
		Testing::SqliteTestStorage storage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", Together::togetherMigrations(), error));
		addUser(storage, "u1", "alice", std::string("alice@example.com"));
		addUser(storage, "u2", "Alice"); // usernames are case-sensitive
		addUser(storage, "u3", "bob");   // several users without email
		CPPUNIT_ASSERT(fails(storage,
		                     "INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES ('u4', "
		                     "'alice', 'h', 1, 1)"));
		CPPUNIT_ASSERT(fails(storage,
		                     "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) VALUES "
		                     "('u5', 'carol', 'alice@example.com', 'h', 1, 1)"));
		run(storage, "INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('s1', 'S', 'u1', 1, 1)");
		run(storage,
		    "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('c1', 's1', 'general', 'text', 1)");
		run(storage,
		    "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('c2', 's1', 'v', 'voice', 1)");
		CPPUNIT_ASSERT(fails(storage, "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('c3', "
		                              "'s1', 'x', 'video', 1)"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT position FROM channels WHERE id = 'c1'"));
		CPPUNIT_ASSERT(fails(storage, "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('c4', "
		                              "'nope', 'x', 'text', 1)")); // foreign keys are enforced
		run(storage, "INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, expires_at) VALUES "
		             "('a', 'f', 'u1', 'h1', 1, 2)");
		CPPUNIT_ASSERT(fails(storage, "INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, "
		                              "expires_at) VALUES ('b', 'f', 'u1', 'h1', 1, 2)"));
		run(storage, "INSERT INTO server_members (server_id, user_id, joined_at) VALUES ('s1', 'u1', 1)");
		CPPUNIT_ASSERT(fails(storage, "INSERT INTO server_members (server_id, user_id, joined_at) VALUES ('s1', "
		                              "'u1', 2)"));
		run(storage, "INSERT INTO settings (key, value) VALUES ('jwt_secret', 'ab')");
	}

	void testCascades()
	{
		Testing::SqliteTestStorage storage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", Together::togetherMigrations(), error));
		addUser(storage, "alice", "alice");
		addUser(storage, "bob", "bob");
		// alice owns S; bob owns T and alice writes in T too.
		run(storage,
		    "INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('S', 'S', 'alice', 1, 1)");
		run(storage, "INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('T', 'T', 'bob', 1, 1)");
		for (const char* member : {"('S', 'alice', 1)", "('S', 'bob', 1)", "('T', 'bob', 1)", "('T', 'alice', 1)"})
			run(storage, std::string("INSERT INTO server_members (server_id, user_id, joined_at) VALUES ") + member);
		run(storage, "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('sc', 'S', 'g', 'text', 1)");
		run(storage, "INSERT INTO channels (id, server_id, name, type, created_at) VALUES ('tc', 'T', 'g', 'text', 1)");
		run(storage, "INSERT INTO messages (id, channel_id, author_id, content, created_at) VALUES ('m1', 'sc', "
		             "'bob', 'in S', 1)");
		run(storage, "INSERT INTO messages (id, channel_id, author_id, content, created_at) VALUES ('m2', 'tc', "
		             "'alice', 'in T', 2)");
		run(storage, "INSERT INTO messages (id, channel_id, author_id, content, reply_to, created_at) VALUES ('m3', "
		             "'tc', 'bob', 'reply', 'm2', 3)");
		run(storage, "INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, expires_at) VALUES "
		             "('s', 'f', 'alice', 'h', 1, 2)");

		// A hard-deleted reply target leaves the reply with reply_to NULL.
		run(storage, "INSERT INTO messages (id, channel_id, author_id, content, created_at) VALUES ('m4', 'tc', "
		             "'bob', 'gone', 4)");
		run(storage, "INSERT INTO messages (id, channel_id, author_id, content, reply_to, created_at) VALUES ('m5', "
		             "'tc', 'bob', 're', 'm4', 5)");
		run(storage, "DELETE FROM messages WHERE id = 'm4'");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count(storage, "SELECT COUNT(*) FROM messages WHERE id = 'm5' AND "
		                                                     "reply_to IS NULL"));

		// Deleting alice: her sessions, memberships and server S (its channel and messages) go;
		// her message in bob's server stays, without an author.
		run(storage, "DELETE FROM users WHERE id = 'alice'");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM sessions"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM servers WHERE id = 'S'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM channels WHERE id = 'sc'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM messages WHERE id = 'm1'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM server_members WHERE user_id = "
		                                                     "'alice'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count(storage, "SELECT COUNT(*) FROM messages WHERE id = 'm2' AND "
		                                                     "author_id IS NULL"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count(storage, "SELECT COUNT(*) FROM messages WHERE id = 'm3' AND "
		                                                     "reply_to = 'm2'"));

		// Deleting server T takes its channel, messages and memberships.
		run(storage, "DELETE FROM servers WHERE id = 'T'");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM channels"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), count(storage, "SELECT COUNT(*) FROM server_members"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count(storage, "SELECT COUNT(*) FROM users"));
	}

	void testMessagePagesUseTheIndex()
	{
		Testing::SqliteTestStorage storage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage.applyMigrations("together", Together::togetherMigrations(), error));
		QueryResult plan = storage.execute("EXPLAIN QUERY PLAN SELECT id FROM messages WHERE channel_id = ? AND "
		                                   "deleted = 0 ORDER BY created_at DESC, id DESC LIMIT 50",
		                                   {std::string("c")});
		CPPUNIT_ASSERT_MESSAGE(plan.error, plan.ok && !plan.rows.empty());
		std::string details;
		for (const auto& row : plan.rows)
			details += valueAsString(row.back()) + "\n";
		CPPUNIT_ASSERT_MESSAGE(details, details.find("messages_page") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(details, details.find("TEMP B-TREE") == std::string::npos); // no sort step
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherSchemaTest);
