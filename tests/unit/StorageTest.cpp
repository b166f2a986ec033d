//
// StorageTest.cpp
//
// Tests of the SQLite storage backend on real database files in a fresh temporary directory.
//


#include "storage/PluginStorage.h"
#include "storage/SqliteStorage.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>


using namespace Switchboard;
using Switchboard::Core::PluginStorage;
using Switchboard::Core::SqliteStorage;
using Switchboard::Core::StorageBackend;


namespace {


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


QueryResult must(Storage& storage, std::string_view sql, const std::vector<Value>& params = {})
/// Runs a statement the test depends on; fails the test with SQLite's message if it fails.
{
	QueryResult result = storage.execute(sql, params);
	CPPUNIT_ASSERT_MESSAGE(std::string(sql) + ": " + result.error, result.ok);
	return result;
}


std::int64_t scalar(Storage& storage, std::string_view sql, const std::vector<Value>& params = {})
{
	QueryResult result = must(storage, sql, params);
	CPPUNIT_ASSERT_EQUAL(std::size_t(1), result.rows.size());
	CPPUNIT_ASSERT(!result.rows[0].empty());
	CPPUNIT_ASSERT_MESSAGE("not an integer", std::holds_alternative<std::int64_t>(result.rows[0][0]));
	return std::get<std::int64_t>(result.rows[0][0]);
}


class ThreadOffload
/// Like Host::offload called off a loop: work on a fresh thread, completion right after on it.
{
public:
	~ThreadOffload() { join(); }

	StorageBackend::Offload function()
	{
		return [this](std::function<void()> work, std::function<void()> completion) {
			std::lock_guard<std::mutex> lock(_mutex);
			_threads.emplace_back([work = std::move(work), completion = std::move(completion)] {
				work();
				if (completion)
					completion();
			});
		};
	}

	void join()
	{
		std::vector<std::thread> threads;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			threads.swap(_threads);
		}
		for (std::thread& t : threads)
			t.join();
	}

private:
	std::mutex _mutex;
	std::vector<std::thread> _threads;
};


} // namespace


class StorageTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(StorageTest);
	CPPUNIT_TEST(testValueRoundTrip);
	CPPUNIT_TEST(testDeclaredColumnTypes);
	CPPUNIT_TEST(testExpressionColumnsKeepTheirTypes);
	CPPUNIT_TEST(testBoundParametersPreventInjection);
	CPPUNIT_TEST(testStackedStatementsRejected);
	CPPUNIT_TEST(testParameterCountMismatch);
	CPPUNIT_TEST(testAffectedRows);
	CPPUNIT_TEST(testErrorsAreReportedNotThrown);
	CPPUNIT_TEST(testConnectionSettings);
	CPPUNIT_TEST(testTransactionCommits);
	CPPUNIT_TEST(testTransactionRollsBackWhenBodyReturnsFalse);
	CPPUNIT_TEST(testTransactionRollsBackWhenStatementFails);
	CPPUNIT_TEST(testTransactionRollsBackWhenBodyThrows);
	CPPUNIT_TEST(testNestedTransactionUsesSavepoint);
	CPPUNIT_TEST(testTransactionExcludesOtherThreads);
	CPPUNIT_TEST(testCloseInsideTransactionIsDeferred);
	CPPUNIT_TEST(testMigrationsAppliedInOrder);
	CPPUNIT_TEST(testMigrationsNotReappliedOnReopen);
	CPPUNIT_TEST(testNewMigrationAppliedLater);
	CPPUNIT_TEST(testFailingMigrationLeavesSchemaUnchanged);
	CPPUNIT_TEST(testDatabaseNewerThanPlugin);
	CPPUNIT_TEST(testInvalidMigrationLists);
	CPPUNIT_TEST(testMigrationScriptsSplitLikeSqlite);
	CPPUNIT_TEST(testMigrationMayNotControlTransactions);
	CPPUNIT_TEST(testPluginsAreIsolated);
	CPPUNIT_TEST(testDataSurvivesRestart);
	CPPUNIT_TEST(testFlushTruncatesWal);
	CPPUNIT_TEST(testClosedStorageFails);
	CPPUNIT_TEST(testExecuteAsyncDeliversResult);
	CPPUNIT_TEST(testExecuteAsyncOutlivesStorage);
	CPPUNIT_TEST(testConcurrentInserts);
	CPPUNIT_TEST(testInvalidPluginNames);
	CPPUNIT_TEST(testUnusableDirectory);
	CPPUNIT_TEST(testNotADatabase);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override
	{
		std::string pattern = (std::filesystem::temp_directory_path() / "switchboard-storage-XXXXXX").string();
		CPPUNIT_ASSERT(::mkdtemp(pattern.data()) != nullptr);
		_dir = pattern;
		// A subdirectory that does not exist yet, so every test also covers its creation.
		_dataDir = (std::filesystem::path(_dir) / "data").string();
	}

	void tearDown() override
	{
		std::error_code ec;
		std::filesystem::remove_all(_dir, ec);
	}

	std::unique_ptr<PluginStorage> open(SqliteStorage& backend, const std::string& plugin,
	                                    StorageBackend::Offload offload = {})
	{
		std::string error;
		std::unique_ptr<PluginStorage> storage = backend.open(plugin, std::move(offload), error);
		CPPUNIT_ASSERT_MESSAGE(error, storage != nullptr);
		CPPUNIT_ASSERT(error.empty());
		return storage;
	}

	void testValueRoundTrip()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		// No declared type: no column affinity, so every value keeps the storage class it was bound with.
		must(*storage, "CREATE TABLE cells(id INTEGER PRIMARY KEY, v)");

		Blob pattern(4096);
		for (std::size_t i = 0; i < pattern.size(); ++i)
			pattern[i] = static_cast<std::uint8_t>(i * 7);
		const std::vector<Value> values = {
		    nullptr,
		    std::int64_t(0),
		    std::int64_t(-1),
		    std::numeric_limits<std::int64_t>::max(),
		    std::numeric_limits<std::int64_t>::min(),
		    std::int64_t(9007199254740993), // 2^53 + 1: not representable as a double
		    3.25,
		    -1.0e300,
		    4.9e-324,
		    std::string(),
		    std::string("a\0b\0", 4),
		    std::string("Gr\xC3\xBC\xC3\x9F"
		                "e \xE2\x9C\x93 \xF0\x9F\x98\x80"),
		    std::string("it's \"quoted\"; -- not a comment"),
		    Blob(),
		    Blob{0, 1, 0, 255, 0},
		    pattern,
		};
		const char* const storageClass[] = {"null", "integer", "integer", "integer", "integer", "integer",
		                                    "real", "real",    "real",    "text",    "text",    "text",
		                                    "text", "blob",    "blob",    "blob"};

		for (std::size_t i = 0; i < values.size(); ++i)
		{
			QueryResult inserted =
			    must(*storage, "INSERT INTO cells(id, v) VALUES (?, ?)", {std::int64_t(i), values[i]});
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1), inserted.affectedRows);
		}

		QueryResult result = must(*storage, "SELECT id, v, typeof(v) FROM cells ORDER BY id");
		CPPUNIT_ASSERT(result.columns == std::vector<std::string>({"id", "v", "typeof(v)"}));
		CPPUNIT_ASSERT_EQUAL(values.size(), result.rows.size());
		for (std::size_t i = 0; i < values.size(); ++i)
		{
			const std::string where = "value " + std::to_string(i);
			CPPUNIT_ASSERT_MESSAGE(where, result.rows[i][0] == Value(std::int64_t(i)));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, values[i].index(), result.rows[i][1].index());
			CPPUNIT_ASSERT_MESSAGE(where, result.rows[i][1] == values[i]);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string(storageClass[i]), valueAsString(result.rows[i][2]));
		}

		// Values also work as bound parameters in a WHERE clause, including the ones with NUL bytes.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(10), scalar(*storage, "SELECT id FROM cells WHERE v = ?", {values[10]}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(14), scalar(*storage, "SELECT id FROM cells WHERE v = ?", {values[14]}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     scalar(*storage, "SELECT count(*) FROM cells WHERE v IS ?", {Value(nullptr)}));
	}

	void testDeclaredColumnTypes()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE typed(i INTEGER, r REAL, t TEXT, b BLOB, j JSON, d DATETIME)");
		must(*storage, "INSERT INTO typed VALUES (?, ?, ?, ?, ?, ?)",
		     {std::numeric_limits<std::int64_t>::max(), 0.5, std::string("text"), Blob{0, 0, 7},
		      std::string("{\"a\":1}"), std::string("2024-01-02 03:04:05")});
		must(*storage, "INSERT INTO typed VALUES (NULL, NULL, NULL, NULL, NULL, NULL)");

		QueryResult result = must(*storage, "SELECT * FROM typed ORDER BY rowid");
		CPPUNIT_ASSERT(result.columns == std::vector<std::string>({"i", "r", "t", "b", "j", "d"}));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), result.rows.size());
		const std::vector<Value>& first = result.rows[0];
		CPPUNIT_ASSERT(first[0] == Value(std::numeric_limits<std::int64_t>::max()));
		CPPUNIT_ASSERT(first[1] == Value(0.5));
		CPPUNIT_ASSERT(first[2] == Value(std::string("text")));
		CPPUNIT_ASSERT(first[3] == Value(Blob{0, 0, 7}));
		CPPUNIT_ASSERT(first[4] == Value(std::string("{\"a\":1}")));
		CPPUNIT_ASSERT(first[5] == Value(std::string("2024-01-02 03:04:05")));
		for (const Value& cell : result.rows[1])
			CPPUNIT_ASSERT(std::holds_alternative<std::nullptr_t>(cell));

		// Affinity is SQLite's: an integer stored in a REAL column comes back as a real.
		must(*storage, "INSERT INTO typed(r) VALUES (?)", {std::int64_t(2)});
		QueryResult real = must(*storage, "SELECT r FROM typed WHERE rowid = 3");
		CPPUNIT_ASSERT(real.rows[0][0] == Value(2.0));
	}

	void testExpressionColumnsKeepTheirTypes()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(x)");
		must(*storage, "INSERT INTO t VALUES (1), (2), (3)");
		QueryResult result =
		    must(*storage, "SELECT count(*) AS n, sum(x) * 1.5 AS r, 'x' || 'y' AS s, x'00ff00' AS b, NULL AS z, "
		                   "9007199254740993 AS big FROM t");
		CPPUNIT_ASSERT(result.columns == std::vector<std::string>({"n", "r", "s", "b", "z", "big"}));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), result.rows.size());
		const std::vector<Value>& row = result.rows[0];
		CPPUNIT_ASSERT(row[0] == Value(std::int64_t(3)));
		CPPUNIT_ASSERT(row[1] == Value(9.0));
		CPPUNIT_ASSERT(row[2] == Value(std::string("xy")));
		CPPUNIT_ASSERT(row[3] == Value(Blob{0x00, 0xff, 0x00}));
		CPPUNIT_ASSERT(std::holds_alternative<std::nullptr_t>(row[4]));
		CPPUNIT_ASSERT(row[5] == Value(std::int64_t(9007199254740993)));

		QueryResult empty = must(*storage, "SELECT x FROM t WHERE x > 10");
		CPPUNIT_ASSERT(empty.columns == std::vector<std::string>({"x"}));
		CPPUNIT_ASSERT(empty.rows.empty());
	}

	void testBoundParametersPreventInjection()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE users(name TEXT NOT NULL)");
		const std::string evil = "x'); DROP TABLE users; --";
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     must(*storage, "INSERT INTO users(name) VALUES (?)", {evil}).affectedRows);

		QueryResult found = must(*storage, "SELECT name FROM users WHERE name = ?", {evil});
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), found.rows.size());
		CPPUNIT_ASSERT(found.rows[0][0] == Value(evil));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM users WHERE name = ?",
		                                             {std::string("' OR '1'='1")}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "SELECT count(*) FROM users"));
	}

	void testStackedStatementsRejected()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE users(name TEXT)");
		QueryResult stacked = storage->execute("INSERT INTO users VALUES ('a'); DROP TABLE users");
		CPPUNIT_ASSERT(!stacked.ok);
		CPPUNIT_ASSERT_MESSAGE(stacked.error, contains(stacked.error, "exactly one statement"));
		// Neither part ran.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM users"));

		// A trailing ';', blank lines and comments are not a second statement.
		must(*storage, "INSERT INTO users VALUES ('b');  -- done\n/* really */ ;\n");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "SELECT count(*) FROM users"));
	}

	void testParameterCountMismatch()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(a, b)");
		QueryResult few = storage->execute("INSERT INTO t VALUES (?, ?)", {std::int64_t(1)});
		CPPUNIT_ASSERT(!few.ok);
		CPPUNIT_ASSERT_MESSAGE(few.error, contains(few.error, "2 parameter(s) but 1 value(s)"));
		QueryResult many =
		    storage->execute("INSERT INTO t VALUES (?, ?)", {std::int64_t(1), std::int64_t(2), std::int64_t(3)});
		CPPUNIT_ASSERT(!many.ok);
		CPPUNIT_ASSERT_MESSAGE(many.error, contains(many.error, "2 parameter(s) but 3 value(s)"));
		QueryResult none = storage->execute("SELECT 1", {std::int64_t(1)});
		CPPUNIT_ASSERT(!none.ok);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM t"));
	}

	void testAffectedRows()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		QueryResult created = must(*storage, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), created.affectedRows);
		for (std::int64_t v = 1; v <= 3; ++v)
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1), must(*storage, "INSERT INTO t(v) VALUES (?)", {v}).affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), must(*storage, "INSERT INTO t(v) VALUES (10), (11), (12)").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), must(*storage, "UPDATE t SET v = v + 100 WHERE v BETWEEN ? AND ?",
		                                           {std::int64_t(2), std::int64_t(3)})
		                                          .affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     must(*storage, "DELETE FROM t WHERE v = ?", {std::int64_t(1)}).affectedRows);
		// Statements that change nothing report 0, not the count of the last change.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), must(*storage, "SELECT * FROM t").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     must(*storage, "UPDATE t SET v = 0 WHERE v < ?", {std::int64_t(-5)}).affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), must(*storage, "CREATE TABLE u(x)").affectedRows);

		QueryResult returning = must(*storage, "INSERT INTO t(v) VALUES (?) RETURNING id, v", {std::int64_t(42)});
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), returning.affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), returning.rows.size());
		CPPUNIT_ASSERT(returning.rows[0][1] == Value(std::int64_t(42)));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(6), must(*storage, "DELETE FROM t").affectedRows);
	}

	void testErrorsAreReportedNotThrown()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE parent(id INTEGER PRIMARY KEY)");
		must(*storage, "CREATE TABLE child(pid INTEGER NOT NULL REFERENCES parent(id), name TEXT UNIQUE)");

		struct Case
		{
			const char* sql;
			std::vector<Value> params;
			const char* expected;
		};
		const std::vector<Case> cases = {
		    {"SELEC 1", {}, "syntax error"},
		    {"SELECT * FROM nowhere", {}, "no such table: nowhere"},
		    {"", {}, "empty SQL statement"},
		    {"  -- only a comment\n", {}, "empty SQL statement"},
		    {"INSERT INTO child VALUES (?, 'a')", {std::int64_t(99)}, "FOREIGN KEY constraint failed"},
		    {"INSERT INTO child VALUES (NULL, 'a')", {}, "NOT NULL constraint failed: child.pid"},
		    {"BEGIN", {}, "use Storage::transaction()"},
		    {"COMMIT", {}, "use Storage::transaction()"},
		    {"SAVEPOINT s", {}, "use Storage::transaction()"},
		    {"ATTACH DATABASE 'other.sqlite' AS other", {}, "ATTACH and DETACH are not allowed"},
		};
		for (const Case& c : cases)
		{
			QueryResult result;
			CPPUNIT_ASSERT_NO_THROW(result = storage->execute(c.sql, c.params));
			CPPUNIT_ASSERT_MESSAGE(c.sql, !result.ok);
			CPPUNIT_ASSERT_MESSAGE(std::string(c.sql) + " -> " + result.error, contains(result.error, c.expected));
			CPPUNIT_ASSERT(result.rows.empty());
		}

		must(*storage, "INSERT INTO parent(id) VALUES (1)");
		must(*storage, "INSERT INTO child VALUES (1, 'a')");
		QueryResult duplicate = storage->execute("INSERT INTO child VALUES (1, 'a')");
		CPPUNIT_ASSERT(!duplicate.ok);
		CPPUNIT_ASSERT_MESSAGE(duplicate.error, contains(duplicate.error, "UNIQUE constraint failed: child.name"));

		QueryResult nul = storage->execute(std::string_view("SELECT 1\0; DROP TABLE child", 27));
		CPPUNIT_ASSERT(!nul.ok);
		CPPUNIT_ASSERT_MESSAGE(nul.error, contains(nul.error, "NUL byte"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "SELECT count(*) FROM child"));

		// After all that the connection is fine and not stuck in a transaction.
		must(*storage, "INSERT INTO parent(id) VALUES (2)");
		CPPUNIT_ASSERT(
		    storage->transaction([](Storage& tx) { return tx.execute("DELETE FROM parent WHERE id = 2").ok; }));
	}

	void testConnectionSettings()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		QueryResult mode = must(*storage, "PRAGMA journal_mode");
		CPPUNIT_ASSERT(mode.rows[0][0] == Value(std::string("wal")));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "PRAGMA synchronous")); // NORMAL
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "PRAGMA foreign_keys"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), scalar(*storage, "PRAGMA busy_timeout"));
	}

	void testTransactionCommits()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");
		std::string error = "stale";
		const bool committed = storage->transaction(
		    [](Storage& tx) {
			    return tx.execute("INSERT INTO t VALUES (?)", {std::int64_t(1)}).ok &&
			           tx.execute("INSERT INTO t VALUES (?)", {std::int64_t(2)}).ok;
		    },
		    &error);
		CPPUNIT_ASSERT_MESSAGE(error, committed);
		CPPUNIT_ASSERT(error.empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), scalar(*storage, "SELECT sum(v) FROM t"));
	}

	void testTransactionRollsBackWhenBodyReturnsFalse()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");
		std::string error;
		std::int64_t seenInside = -1;
		const bool committed = storage->transaction(
		    [&](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (1)");
			    seenInside = valueAsInt(tx.execute("SELECT count(*) FROM t").rows.at(0).at(0));
			    return false;
		    },
		    &error);
		CPPUNIT_ASSERT(!committed);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), seenInside);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "returned false"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM t"));
	}

	void testTransactionRollsBackWhenStatementFails()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");
		std::string error;
		const bool committed = storage->transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (1)");
			    tx.execute("INSERT INTO missing VALUES (2)");
			    tx.execute("INSERT INTO t VALUES (3)");
			    return true; // ignores the failure, the transaction does not
		    },
		    &error);
		CPPUNIT_ASSERT(!committed);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "no such table: missing"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM t"));
	}

	void testTransactionRollsBackWhenBodyThrows()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");
		std::string error;
		bool committed = true;
		CPPUNIT_ASSERT_NO_THROW(committed = storage->transaction(
		                            [](Storage& tx) -> bool {
			                            tx.execute("INSERT INTO t VALUES (1)");
			                            throw std::runtime_error("boom");
		                            },
		                            &error));
		CPPUNIT_ASSERT(!committed);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "boom"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM t"));
		// The connection is back in autocommit mode: a new transaction works.
		CPPUNIT_ASSERT(storage->transaction([](Storage& tx) { return tx.execute("INSERT INTO t VALUES (2)").ok; }));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "SELECT count(*) FROM t"));
		CPPUNIT_ASSERT(!storage->transaction({}, &error));
	}

	void testNestedTransactionUsesSavepoint()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");

		// The inner level rolls back alone; the outer one commits the rest.
		bool inner = true;
		bool outer = storage->transaction([&](Storage& tx) {
			tx.execute("INSERT INTO t VALUES (1)");
			inner = tx.transaction([](Storage& nested) {
				nested.execute("INSERT INTO t VALUES (2)");
				return false;
			});
			tx.execute("INSERT INTO t VALUES (3)");
			return true;
		});
		CPPUNIT_ASSERT(outer);
		CPPUNIT_ASSERT(!inner);
		QueryResult rows = must(*storage, "SELECT v FROM t ORDER BY v");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), rows.rows.size());
		CPPUNIT_ASSERT(rows.rows[0][0] == Value(std::int64_t(1)));
		CPPUNIT_ASSERT(rows.rows[1][0] == Value(std::int64_t(3)));

		// A committed inner level still goes when the outer one rolls back.
		outer = storage->transaction([&](Storage& tx) {
			inner = tx.transaction([](Storage& nested) { return nested.execute("INSERT INTO t VALUES (4)").ok; });
			return false;
		});
		CPPUNIT_ASSERT(inner);
		CPPUNIT_ASSERT(!outer);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM t WHERE v = 4"));
	}

	void testTransactionExcludesOtherThreads()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(who TEXT)");

		std::promise<void> inside;
		std::atomic<bool> otherDone{false};
		bool otherFinishedEarly = true;
		std::thread other;
		const bool committed = storage->transaction([&](Storage& tx) {
			tx.execute("INSERT INTO t VALUES ('transaction')");
			other = std::thread([&] {
				inside.get_future().wait();
				storage->execute("INSERT INTO t VALUES ('other')");
				otherDone = true;
			});
			inside.set_value();
			std::this_thread::sleep_for(std::chrono::milliseconds(150));
			otherFinishedEarly = otherDone;
			return false;
		});
		other.join();
		// The other thread's statement must wait for the transaction, not join it.
		CPPUNIT_ASSERT(!otherFinishedEarly);
		CPPUNIT_ASSERT(!committed);
		CPPUNIT_ASSERT(otherDone);
		QueryResult rows = must(*storage, "SELECT who FROM t");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.rows.size());
		CPPUNIT_ASSERT(rows.rows[0][0] == Value(std::string("other")));
	}

	void testCloseInsideTransactionIsDeferred()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE t(v)");
		const bool committed = storage->transaction([&](Storage& tx) {
			storage->close();
			return tx.execute("INSERT INTO t VALUES (1)").ok;
		});
		CPPUNIT_ASSERT(committed);
		QueryResult closed = storage->execute("SELECT 1");
		CPPUNIT_ASSERT(!closed.ok);
		CPPUNIT_ASSERT_MESSAGE(closed.error, contains(closed.error, "closed"));

		auto reopened = open(backend, "alpha");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*reopened, "SELECT count(*) FROM t"));
	}

	std::vector<Migration> notesMigrations() const
	{
		// Deliberately out of order: 2 needs the table of 1.
		return {
		    {2, "INSERT INTO notes(body) VALUES ('second')"},
		    {1, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n"
		        "INSERT INTO notes(body) VALUES ('first; with a semicolon');"},
		};
	}

	void testMigrationsAppliedInOrder()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		std::string error;
		CPPUNIT_ASSERT_EQUAL(0, storage->schemaVersion(error));
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
		CPPUNIT_ASSERT_EQUAL(2, storage->schemaVersion(error));
		QueryResult notes = must(*storage, "SELECT body FROM notes ORDER BY id");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), notes.rows.size());
		CPPUNIT_ASSERT(notes.rows[0][0] == Value(std::string("first; with a semicolon")));
		CPPUNIT_ASSERT(notes.rows[1][0] == Value(std::string("second")));
		QueryResult schema = must(*storage, "SELECT version FROM _switchboard_schema");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), schema.rows.size());
		CPPUNIT_ASSERT(schema.rows[0][0] == Value(std::int64_t(2)));
	}

	void testMigrationsNotReappliedOnReopen()
	{
		std::string error;
		{
			SqliteStorage backend(_dataDir);
			auto storage = open(backend, "alpha");
			CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
			CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM notes"));
			storage->close();
		}
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		CPPUNIT_ASSERT_EQUAL(2, storage->schemaVersion(error));
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM notes"));
		CPPUNIT_ASSERT_EQUAL(2, storage->schemaVersion(error));
	}

	void testNewMigrationAppliedLater()
	{
		std::string error;
		{
			SqliteStorage backend(_dataDir);
			auto storage = open(backend, "alpha");
			CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
		}
		std::vector<Migration> migrations = notesMigrations();
		migrations.push_back({3, "ALTER TABLE notes ADD COLUMN tag TEXT; UPDATE notes SET tag = 'v3';"});
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(migrations, error));
		CPPUNIT_ASSERT_EQUAL(3, storage->schemaVersion(error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM notes WHERE tag = 'v3'"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM notes"));
	}

	void testFailingMigrationLeavesSchemaUnchanged()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations({{1, "CREATE TABLE a(x)"}}, error));

		const std::vector<Migration> broken = {
		    {1, "CREATE TABLE a(x)"},
		    {2, "CREATE TABLE extra(y); INSERT INTO a VALUES (1); INSERT INTO missing VALUES (1);"},
		    {3, "CREATE TABLE never(z)"},
		};
		CPPUNIT_ASSERT(!storage->applyMigrations(broken, error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "plugin 'alpha'"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "migration 2 failed"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "no such table: missing"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "stays at version 1"));
		CPPUNIT_ASSERT_EQUAL(1, storage->schemaVersion(error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     scalar(*storage, "SELECT count(*) FROM sqlite_master WHERE name IN ('extra', 'never')"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM a"));

		// A corrected migration 2 goes through afterwards.
		const std::vector<Migration> fixed = {
		    {1, "CREATE TABLE a(x)"},
		    {2, "CREATE TABLE extra(y); INSERT INTO a VALUES (1);"},
		};
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(fixed, error));
		CPPUNIT_ASSERT_EQUAL(2, storage->schemaVersion(error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*storage, "SELECT count(*) FROM a"));
	}

	void testDatabaseNewerThanPlugin()
	{
		std::string error;
		{
			SqliteStorage backend(_dataDir);
			auto storage = open(backend, "alpha");
			CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations(notesMigrations(), error));
		}
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		CPPUNIT_ASSERT(
		    !storage->applyMigrations({{1, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)"}}, error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "newer than the plugin"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "plugin 'alpha'"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "version 2"));
		CPPUNIT_ASSERT_EQUAL(2, storage->schemaVersion(error));
		CPPUNIT_ASSERT(!storage->applyMigrations({}, error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "newer than the plugin"));
	}

	void testInvalidMigrationLists()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		struct Case
		{
			std::vector<Migration> migrations;
			const char* expected;
		};
		const std::vector<Case> cases = {
		    {{{0, "CREATE TABLE a(x)"}}, "version 0 is invalid"},
		    {{{1, "CREATE TABLE a(x)"}, {-2, "CREATE TABLE b(x)"}}, "version -2 is invalid"},
		    {{{1, "CREATE TABLE a(x)"}, {2, "CREATE TABLE b(x)"}, {1, "CREATE TABLE c(x)"}},
		     "1 appears more than once"},
		    {{{1, nullptr}}, "migration 1 has no SQL"},
		};
		for (const Case& c : cases)
		{
			std::string error;
			CPPUNIT_ASSERT(!storage->applyMigrations(c.migrations, error));
			CPPUNIT_ASSERT_MESSAGE(error, contains(error, c.expected));
			CPPUNIT_ASSERT_MESSAGE(error, contains(error, "plugin 'alpha'"));
		}
		// Nothing ran, not even the version table.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*storage, "SELECT count(*) FROM sqlite_master"));
		std::string error;
		CPPUNIT_ASSERT_EQUAL(0, storage->schemaVersion(error));
		// An empty list on a fresh database is fine.
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations({}, error));
		CPPUNIT_ASSERT_EQUAL(0, storage->schemaVersion(error));
	}

	void testMigrationScriptsSplitLikeSqlite()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		const char* script = "-- a comment; with a semicolon\n"
		                     "CREATE TABLE items(name TEXT);\n"
		                     "CREATE TABLE log(entry TEXT);\n"
		                     "/* block; comment */\n"
		                     "CREATE TRIGGER items_log AFTER INSERT ON items BEGIN\n"
		                     "  INSERT INTO log VALUES ('added ' || new.name);\n"
		                     "  INSERT INTO log VALUES ('second; statement');\n"
		                     "END;\n"
		                     "INSERT INTO items VALUES ('semi;colon ''quoted''');\n";
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage->applyMigrations({{1, script}}, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM log"));
		QueryResult item = must(*storage, "SELECT name FROM items");
		CPPUNIT_ASSERT(item.rows[0][0] == Value(std::string("semi;colon 'quoted'")));
		must(*storage, "INSERT INTO items VALUES (?)", {std::string("later")});
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), scalar(*storage, "SELECT count(*) FROM log"));
	}

	void testMigrationMayNotControlTransactions()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		std::string error;
		CPPUNIT_ASSERT(!storage->applyMigrations({{1, "CREATE TABLE a(x); COMMIT; CREATE TABLE b(y);"}}, error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "migration 1 failed"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "transaction"));
		CPPUNIT_ASSERT_EQUAL(0, storage->schemaVersion(error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     scalar(*storage, "SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'b')"));
	}

	void testPluginsAreIsolated()
	{
		SqliteStorage backend(_dataDir);
		auto alpha = open(backend, "alpha");
		auto beta = open(backend, "beta");
		must(*alpha, "CREATE TABLE secret(v TEXT)");
		must(*alpha, "INSERT INTO secret VALUES ('alpha only')");

		QueryResult peek = beta->execute("SELECT v FROM secret");
		CPPUNIT_ASSERT(!peek.ok);
		CPPUNIT_ASSERT_MESSAGE(peek.error, contains(peek.error, "no such table: secret"));
		// Same table name, different namespace.
		must(*beta, "CREATE TABLE secret(v TEXT)");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), scalar(*beta, "SELECT count(*) FROM secret"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), scalar(*alpha, "SELECT count(*) FROM secret"));
		// Nor can one plugin open the other's file.
		QueryResult attach = beta->execute("ATTACH DATABASE ? AS other", {backend.databasePath("alpha")});
		CPPUNIT_ASSERT(!attach.ok);

		CPPUNIT_ASSERT(std::filesystem::is_regular_file(std::filesystem::path(_dataDir) / "alpha.sqlite"));
		CPPUNIT_ASSERT(std::filesystem::is_regular_file(std::filesystem::path(_dataDir) / "beta.sqlite"));
		CPPUNIT_ASSERT_EQUAL((std::filesystem::path(_dataDir) / "alpha.sqlite").string(),
		                     backend.databasePath("alpha"));
		CPPUNIT_ASSERT_EQUAL(std::string("alpha"), alpha->pluginName());
	}

	void testDataSurvivesRestart()
	{
		const std::filesystem::path wal = std::filesystem::path(_dataDir) / "alpha.sqlite-wal";
		{
			SqliteStorage backend(_dataDir);
			auto storage = open(backend, "alpha");
			must(*storage, "CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB)");
			must(*storage, "INSERT INTO kv VALUES (?, ?)", {std::string("key"), Blob{1, 2, 3}});
			CPPUNIT_ASSERT(
			    storage->transaction([](Storage& tx) { return tx.execute("INSERT INTO kv VALUES ('tx', x'ff')").ok; }));
			CPPUNIT_ASSERT(std::filesystem::exists(wal));
			storage->close();
			// Closing checkpoints: SQLite removes the WAL with the last connection.
			CPPUNIT_ASSERT(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
		}
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		QueryResult rows = must(*storage, "SELECT k, v FROM kv ORDER BY k");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), rows.rows.size());
		CPPUNIT_ASSERT(rows.rows[0][0] == Value(std::string("key")));
		CPPUNIT_ASSERT(rows.rows[0][1] == Value(Blob{1, 2, 3}));
		CPPUNIT_ASSERT(rows.rows[1][1] == Value(Blob{0xff}));
	}

	void testFlushTruncatesWal()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		const std::filesystem::path wal = std::filesystem::path(_dataDir) / "alpha.sqlite-wal";
		must(*storage, "CREATE TABLE t(v)");
		for (std::int64_t i = 0; i < 50; ++i)
			must(*storage, "INSERT INTO t VALUES (?)", {i});
		CPPUNIT_ASSERT(std::filesystem::file_size(wal) > 0);
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, storage->flush(error));
		CPPUNIT_ASSERT_EQUAL(std::uintmax_t(0), std::filesystem::file_size(wal));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(50), scalar(*storage, "SELECT count(*) FROM t"));
	}

	void testClosedStorageFails()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		storage->close();
		storage->close();
		QueryResult result = storage->execute("SELECT 1");
		CPPUNIT_ASSERT(!result.ok);
		CPPUNIT_ASSERT_MESSAGE(result.error, contains(result.error, "alpha") && contains(result.error, "closed"));
		std::string error;
		CPPUNIT_ASSERT(!storage->transaction([](Storage&) { return true; }, &error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "closed"));
		CPPUNIT_ASSERT_EQUAL(-1, storage->schemaVersion(error));
		CPPUNIT_ASSERT(!storage->applyMigrations({{1, "CREATE TABLE a(x)"}}, error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "closed"));
		CPPUNIT_ASSERT(!storage->flush(error));
	}

	void testExecuteAsyncDeliversResult()
	{
		ThreadOffload offload;
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha", offload.function());
		must(*storage, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");

		std::promise<std::pair<QueryResult, std::thread::id>> delivered;
		storage->executeAsync("INSERT INTO t(v) VALUES (?) RETURNING id, v", {std::string("async")},
		                      [&](QueryResult result) {
			                      delivered.set_value({std::move(result), std::this_thread::get_id()});
		                      });
		auto future = delivered.get_future();
		CPPUNIT_ASSERT(future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
		auto [result, thread] = future.get();
		CPPUNIT_ASSERT_MESSAGE(result.error, result.ok);
		CPPUNIT_ASSERT(thread != std::this_thread::get_id());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), result.affectedRows);
		CPPUNIT_ASSERT(result.rows.at(0).at(1) == Value(std::string("async")));

		std::promise<QueryResult> failed;
		storage->executeAsync("SELEC nonsense", {}, [&](QueryResult r) { failed.set_value(std::move(r)); });
		auto failure = failed.get_future();
		CPPUNIT_ASSERT(failure.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
		QueryResult bad = failure.get();
		CPPUNIT_ASSERT(!bad.ok);
		CPPUNIT_ASSERT_MESSAGE(bad.error, contains(bad.error, "syntax error"));

		// done may be empty; the statement still runs.
		storage->executeAsync("INSERT INTO t(v) VALUES ('no callback')", {}, {});
		offload.join();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), scalar(*storage, "SELECT count(*) FROM t"));

		// Without an offload function the statement runs inline.
		auto inlineStorage = open(backend, "beta");
		bool called = false;
		inlineStorage->executeAsync(
		    "SELECT 7", {}, [&](QueryResult r) { called = r.ok && r.rows.at(0).at(0) == Value(std::int64_t(7)); });
		CPPUNIT_ASSERT(called);
	}

	void testExecuteAsyncOutlivesStorage()
	{
		std::vector<std::pair<std::function<void()>, std::function<void()>>> queued;
		StorageBackend::Offload hold = [&](std::function<void()> work, std::function<void()> completion) {
			queued.emplace_back(std::move(work), std::move(completion));
		};
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha", hold);
		must(*storage, "CREATE TABLE t(v)");
		QueryResult late;
		late.ok = true;
		storage->executeAsync("INSERT INTO t VALUES (1)", {}, [&](QueryResult r) { late = std::move(r); });
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), queued.size());
		storage.reset(); // the plugin is gone before the worker gets to the statement

		queued[0].first();
		queued[0].second();
		CPPUNIT_ASSERT(!late.ok);
		CPPUNIT_ASSERT_MESSAGE(late.error, contains(late.error, "closed"));
	}

	void testConcurrentInserts()
	{
		SqliteStorage backend(_dataDir);
		auto storage = open(backend, "alpha");
		must(*storage, "CREATE TABLE hits(thread INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (thread, seq))");
		const int threads = 4;
		const int perThread = 500;
		std::atomic<int> failures{0};
		std::vector<std::thread> workers;
		for (int t = 0; t < threads; ++t)
		{
			workers.emplace_back([&, t] {
				for (int i = 0; i < perThread; ++i)
				{
					QueryResult r = storage->execute("INSERT INTO hits(thread, seq) VALUES (?, ?)",
					                                 {std::int64_t(t), std::int64_t(i)});
					if (!r.ok || r.affectedRows != 1)
						++failures;
				}
			});
		}
		for (std::thread& w : workers)
			w.join();
		CPPUNIT_ASSERT_EQUAL(0, failures.load());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(threads * perThread), scalar(*storage, "SELECT count(*) FROM hits"));
		for (int t = 0; t < threads; ++t)
		{
			CPPUNIT_ASSERT_EQUAL(std::int64_t(perThread),
			                     scalar(*storage, "SELECT count(*) FROM hits WHERE thread = ?", {std::int64_t(t)}));
		}
	}

	void testInvalidPluginNames()
	{
		SqliteStorage backend(_dataDir);
		const std::vector<std::string> names = {
		    "", "../escape", "a/b", ".hidden", "-dash", "with space", std::string("nul\0x", 5), std::string(65, 'a')};
		for (const std::string& name : names)
		{
			std::string error;
			CPPUNIT_ASSERT_MESSAGE(name, backend.open(name, {}, error) == nullptr);
			CPPUNIT_ASSERT_MESSAGE(error, contains(error, "invalid plugin name"));
		}
		CPPUNIT_ASSERT(!std::filesystem::exists(std::filesystem::path(_dir) / "escape.sqlite"));
		// The longest valid name and the allowed punctuation work.
		open(backend, std::string(64, 'a'));
		open(backend, "Plugin_2.x-y");
	}

	void testUnusableDirectory()
	{
		const std::filesystem::path file = std::filesystem::path(_dir) / "plain-file";
		std::ofstream(file) << "not a directory";
		std::string error;

		SqliteStorage underFile((file / "data").string());
		CPPUNIT_ASSERT(underFile.open("alpha", {}, error) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "cannot create storage directory"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, (file / "data").string()));

		SqliteStorage isFile(file.string());
		CPPUNIT_ASSERT(isFile.open("alpha", {}, error) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "is not a directory"));

		SqliteStorage unset("");
		CPPUNIT_ASSERT(unset.open("alpha", {}, error) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "no storage directory"));

		// Nested directories that do not exist yet are created.
		SqliteStorage nested((std::filesystem::path(_dir) / "a" / "b" / "c").string());
		auto storage = open(nested, "alpha");
		CPPUNIT_ASSERT(
		    std::filesystem::is_regular_file(std::filesystem::path(_dir) / "a" / "b" / "c" / "alpha.sqlite"));
	}

	void testNotADatabase()
	{
		std::filesystem::create_directories(_dataDir);
		std::ofstream(std::filesystem::path(_dataDir) / "alpha.sqlite")
		    << "This is certainly not an SQLite database, just some text that is long enough to have a header.";
		SqliteStorage backend(_dataDir);
		std::string error;
		CPPUNIT_ASSERT(backend.open("alpha", {}, error) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "plugin 'alpha'"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "not a database"));
	}

private:
	std::string _dir;
	std::string _dataDir;
};


CPPUNIT_TEST_SUITE_REGISTRATION(StorageTest);
