//
// PostgresStorageTest.cpp
//
// The PostgreSQL storage backend ([storage] backend = postgresql, docs/storage.md) against a real
// PostgreSQL 15 started by the test (tests/support/PostgresTestServer.h):
//
// - the SQL rules (placeholders, translations, refusals) without a server;
// - a plugin's storage: migrations applied once, a second start is a no-op, two backends starting
//   together apply every step exactly once, every value type round-trips, transactions commit,
//   roll back and nest, errors are results, a server that goes away and comes back, an
//   unreachable server at open;
// - the real switchboard binary with the echo, govpn and together plugins on PostgreSQL: data
//   written through each protocol survives a restart of the server and of PostgreSQL; two
//   servers share it; an unreachable database fails start-up with exit code 70 within the
//   connect timeout.
//
// Without PostgreSQL installed (or with SWITCHBOARD_TEST_NO_POSTGRES=1) the tests that need it
// say why and pass as skipped.
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "GovpnTestSupport.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "PostgresTestServer.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include "WsTestClient.h"
#include "storage/PostgresPluginStorage.h"
#include "storage/PostgresSql.h"
#include "storage/PostgresStorage.h"
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard;
using namespace Switchboard::Core;
using namespace Switchboard::Test;
using Switchboard::Value;
using Switchboard::Test::Cluster::usePostgres;


namespace {


const TestServer::Keys FAST_HASH = {{"password.memlimit", "8192"}, {"password.opslimit", "1"}};


bool skipWithoutPostgres()
{
	if (PostgresTestServer::available())
		return false;
	std::cout << "\n[skipped] " << PostgresTestServer::whyUnavailable() << std::endl;
	return true;
}


PostgresTestServer& sharedPostgres()
/// One cluster for the unit-level tests (each uses schemas of its own), started on first use from
/// the test thread and killed at exit.
{
	static std::unique_ptr<PostgresTestServer> pServer;
	if (!pServer)
	{
		auto pStarted = std::make_unique<PostgresTestServer>();
		pStarted->start();
		pServer = std::move(pStarted);
	}
	return *pServer;
}


PostgresSettings settingsFor(const PostgresTestServer& postgres, int poolSize = 4)
{
	PostgresSettings s;
	s.host = postgres.host();
	s.port = postgres.port();
	s.database = postgres.database();
	s.user = postgres.user();
	s.password = postgres.password();
	s.poolSize = poolSize;
	s.connectTimeoutMs = 2000;
	return s;
}


std::string uniquePlugin(const std::string& prefix)
{
	static std::atomic<int> counter{0};
	return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}


std::unique_ptr<PluginStorage> openStorage(PostgresStorage& backend, const std::string& plugin,
                                           StorageBackend::Offload offload = {})
{
	std::string error;
	std::unique_ptr<PluginStorage> pStorage = backend.open(plugin, std::move(offload), error);
	CPPUNIT_ASSERT_MESSAGE(error, pStorage != nullptr);
	return pStorage;
}


QueryResult must(const QueryResult& result, const std::string& what)
{
	CPPUNIT_ASSERT_MESSAGE(what + ": " + result.error, result.ok);
	return result;
}


std::int64_t number(PluginStorage& storage, const std::string& sql, const std::vector<Value>& params = {})
{
	QueryResult r = must(storage.execute(sql, params), sql);
	CPPUNIT_ASSERT_MESSAGE(sql, !r.rows.empty() && !r.rows[0].empty());
	const std::int64_t* pValue = std::get_if<std::int64_t>(&r.rows[0][0]);
	CPPUNIT_ASSERT_MESSAGE(sql + ": not an integer", pValue != nullptr);
	return *pValue;
}


void expectFailure(const QueryResult& result, const std::string& part)
{
	CPPUNIT_ASSERT_MESSAGE("expected a failure containing: " + part, !result.ok);
	CPPUNIT_ASSERT_MESSAGE("'" + result.error + "' should contain '" + part + "'",
	                       result.error.find(part) != std::string::npos);
}


bool sameValue(const Value& a, const Value& b)
{
	if (a.index() != b.index())
		return false;
	if (auto pa = std::get_if<double>(&a))
	{
		const double pb = std::get<double>(b);
		if (std::isnan(*pa))
			return std::isnan(pb);
		return *pa == pb && std::signbit(*pa) == std::signbit(pb);
	}
	return a == b;
}


std::string describe(const Value& v)
{
	switch (v.index())
	{
		case 0:
			return "NULL";
		case 1:
			return "int " + std::to_string(std::get<std::int64_t>(v));
		case 2:
			return "real " + std::to_string(std::get<double>(v));
		case 3:
			return "text '" + std::get<std::string>(v) + "'";
		default:
			return "blob of " + std::to_string(std::get<Blob>(v).size()) + " bytes";
	}
}


void expectValue(const Value& expected, const Value& actual)
{
	CPPUNIT_ASSERT_MESSAGE("expected " + describe(expected) + ", got " + describe(actual), sameValue(expected, actual));
}


class ThreadOffload
/// StorageBackend::Offload for the unit tests: each work item on a thread of its own, joined by
/// wait() (what the host's worker pool does, without event loops).
{
public:
	StorageBackend::Offload function()
	{
		return [this](std::function<void()> work, std::function<void()> completion) {
			std::lock_guard<std::mutex> lock(_mutex);
			_threads.emplace_back([work = std::move(work), completion = std::move(completion)] {
				work();
				completion();
			});
		};
	}

	void wait()
	{
		std::vector<std::thread> threads;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			threads.swap(_threads);
		}
		for (std::thread& t : threads)
			t.join();
	}

	~ThreadOffload() { wait(); }

private:
	std::mutex _mutex;
	std::vector<std::thread> _threads;
};


class SilentListener
/// A loopback port that completes TCP handshakes (the kernel's backlog) but never answers: a
/// database that hangs rather than refuses.
{
public:
	SilentListener() { _fd = PortPicker::listenOnLoopback(_port, "SilentListener"); }
	~SilentListener() { ::close(_fd); }
	int port() const { return _port; }

private:
	int _fd = -1;
	int _port = 0;
};


void addStoringPlugins(TestServer& server)
/// echo on the main listener at /echo, govpn on "govpn", together on "together".
{
	server.addPlugin("echo", "main", "/echo");
	server.addListener("govpn");
	server.addPlugin("govpn", "govpn", "", {{"rate_limit_burst", "100"}});
	Together::configure(server, FAST_HASH);
}


std::string postNote(TestServer& server, const std::string& text)
{
	Test::HttpResponse r = HttpTestClient::request("127.0.0.1", server.port("main"), "POST", "/echo/notes", {}, text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 201, r.status);
	return r.body;
}


std::string notes(TestServer& server)
{
	Test::HttpResponse r = HttpTestClient::get("127.0.0.1", server.port("main"), "/echo/notes");
	CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
	return r.body;
}


void joinRoom(TestServer& server, const std::string& roomId, const std::string& roomName, const std::string& password,
              int keyIndex)
{
	WsTestClient socket;
	Govpn::connectWs(socket, server);
	socket.sendText(Govpn::envelope(Govpn::MODE_OBJECT, "j1", "JoinRoom",
	                                "{\"room_id\":\"" + roomId + "\",\"password\":\"" + password +
	                                    "\",\"public_key\":\"" + Govpn::publicKey(keyIndex) +
	                                    "\",\"username\":\"Joiner\"}"));
	Govpn::expectFrame(socket, Govpn::MODE_OBJECT, "j1", "RoomJoined",
	                   "{\"room_id\":\"" + roomId + "\",\"room_name\":\"" + roomName + "\"}");
}


std::string startupFailureLine(const std::string& output)
{
	const std::string marker = "switchboard: start-up failed: ";
	const std::size_t at = output.find(marker);
	if (at == std::string::npos)
		return "";
	const std::size_t end = output.find('\n', at);
	return output.substr(at, end == std::string::npos ? std::string::npos : end - at);
}


} // namespace


class PostgresStorageTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PostgresStorageTest);
	CPPUNIT_TEST(testSqlRules);
	CPPUNIT_TEST(testMigrationsApplyOnce);
	CPPUNIT_TEST(testConcurrentStartAppliesEachStepOnce);
	CPPUNIT_TEST(testFailedMigrationRollsBack);
	CPPUNIT_TEST(testValuesRoundTrip);
	CPPUNIT_TEST(testAffectedRows);
	CPPUNIT_TEST(testTransactions);
	CPPUNIT_TEST(testErrorsAreResults);
	CPPUNIT_TEST(testAsyncAndParallel);
	CPPUNIT_TEST(testServerGoesAwayAndComesBack);
	CPPUNIT_TEST(testUnreachableAtOpen);
	CPPUNIT_TEST(testPluginsSurviveRestarts);
	CPPUNIT_TEST(testTwoNodesShareTheDatabase);
	CPPUNIT_TEST(testStartupWithoutDatabase);
	CPPUNIT_TEST_SUITE_END();

public:
	void testSqlRules()
	{
		using PostgresSql::Prepared;
		Prepared p;
		std::string error;
		CPPUNIT_ASSERT(PostgresSql::prepare(
		    "SELECT ?, '?', \"a?\", $$?$$, $t$ ? $t$, E'\\'?', ? -- ?\n/* ? /* ? */ */ ;", p, error));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("SELECT $1, '?', \"a?\", $$?$$, $t$ ? $t$, E'\\'?', $2 -- ?\n/* ? /* ? */ */ "), p.text);
		CPPUNIT_ASSERT_EQUAL(2, p.placeholders);
		CPPUNIT_ASSERT(PostgresSql::prepare("SELECT ?2, ?1, ?", p, error));
		CPPUNIT_ASSERT_EQUAL(std::string("SELECT $2, $1, $3"), p.text);
		CPPUNIT_ASSERT_EQUAL(3, p.placeholders);
		CPPUNIT_ASSERT(PostgresSql::prepare("SELECT x::integer, CAST(y AS REAL), integer_count FROM t", p, error));
		CPPUNIT_ASSERT_EQUAL(std::string("SELECT x::BIGINT, CAST(y AS DOUBLE PRECISION), integer_count FROM t"),
		                     p.text);

		CPPUNIT_ASSERT_EQUAL(std::string("CREATE TABLE notes (id BIGSERIAL PRIMARY KEY , body TEXT, n BIGINT, "
		                                 "r DOUBLE PRECISION, d DOUBLE PRECISION, b BYTEA, \"INTEGER\" TEXT)"),
		                     PostgresSql::translateTypes("CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, "
		                                                 "body TEXT, n INTEGER, r REAL, d DOUBLE PRECISION, b BLOB, "
		                                                 "\"INTEGER\" TEXT)"));
		CPPUNIT_ASSERT_EQUAL(std::string("SELECT integer, real FROM blob"),
		                     PostgresSql::translateTypes("SELECT integer, real FROM blob"));

		const std::vector<std::string> parts =
		    PostgresSql::split("CREATE TABLE a (x TEXT DEFAULT ';');\n-- c;\n;CREATE INDEX i ON a (x);  ");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), parts.size());
		CPPUNIT_ASSERT_EQUAL(std::string("CREATE TABLE a (x TEXT DEFAULT ';')"), parts[0]);

		for (const char* refused : {"BEGIN", "commit", "  ROLLBACK", "SAVEPOINT a", "SET search_path TO public",
		                            "RESET ALL", "DISCARD ALL", "INSERT OR IGNORE INTO t VALUES (1)",
		                            "REPLACE INTO t VALUES (1)", "PRAGMA foreign_keys=ON", "ATTACH 'x' AS y"})
			CPPUNIT_ASSERT_MESSAGE(refused, !PostgresSql::prepare(refused, p, error));
		CPPUNIT_ASSERT(!PostgresSql::prepare("SELECT 1; DROP TABLE t", p, error));
		CPPUNIT_ASSERT(error.find("exactly one statement") != std::string::npos);
		CPPUNIT_ASSERT(!PostgresSql::prepare(" -- nothing\n", p, error));
		CPPUNIT_ASSERT_EQUAL(std::string("empty SQL statement"), error);
		CPPUNIT_ASSERT(!PostgresSql::prepare(std::string("SELECT '\0'", 11), p, error));
		CPPUNIT_ASSERT_EQUAL(std::string("\"a\"\"b\""), PostgresSql::quoteIdentifier("a\"b"));
	}

	void testMigrationsApplyOnce()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		const std::string plugin = uniquePlugin("mig");
		const std::vector<Migration> migrations = {
		    {1, "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);"
		        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"},
		    {2, "INSERT INTO counters (name, value) VALUES ('applied', 1)"},
		};
		{
			PostgresStorage backend(settingsFor(postgres), 4);
			auto pStorage = openStorage(backend, plugin);
			std::string error;
			CPPUNIT_ASSERT_EQUAL(0, pStorage->schemaVersion(error));
			CPPUNIT_ASSERT_MESSAGE(error, pStorage->applyMigrations(migrations, error));
			CPPUNIT_ASSERT_EQUAL(2, pStorage->schemaVersion(error));
			CPPUNIT_ASSERT_MESSAGE(error, pStorage->applyMigrations(migrations, error));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1), number(*pStorage, "SELECT count(*) FROM counters"));
			// AUTOINCREMENT became a sequence: ids are assigned, RETURNING gives them.
			QueryResult inserted =
			    must(pStorage->execute("INSERT INTO notes (body) VALUES (?) RETURNING id", {std::string("a")}), "ins");
			expectValue(Value(std::int64_t(1)), inserted.rows.at(0).at(0));
			CPPUNIT_ASSERT(pStorage->flush(error));
		}
		// A restart (a new backend, new connections) is a no-op; the tables are in the plugin's
		// schema, with the version table beside them.
		PostgresStorage backend(settingsFor(postgres), 4);
		auto pStorage = openStorage(backend, plugin);
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, pStorage->applyMigrations(migrations, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), number(*pStorage, "SELECT count(*) FROM counters"));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("3"),
		    postgres.superuser("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + plugin + "'",
		                       postgres.database()));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("2"),
		    postgres.superuser("SELECT version FROM \"" + plugin + "\"._switchboard_schema", postgres.database()));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("bigint"),
		    postgres.superuser("SELECT data_type FROM information_schema.columns WHERE table_schema = '" + plugin +
		                           "' AND table_name = 'counters' AND column_name = 'value'",
		                       postgres.database()));
		// An older plugin build on a newer database is refused.
		CPPUNIT_ASSERT(!pStorage->applyMigrations({migrations[0]}, error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("newer than the plugin") != std::string::npos);
		CPPUNIT_ASSERT(!pStorage->applyMigrations({{0, "SELECT 1"}}, error));
	}

	void testConcurrentStartAppliesEachStepOnce()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		const std::string plugin = uniquePlugin("race");
		// Every step leaves a row, so a step applied twice shows (and step 3's ALTER would fail).
		const std::vector<Migration> migrations = {
		    {1, "CREATE TABLE applied (step INTEGER NOT NULL); INSERT INTO applied (step) VALUES (1)"},
		    {2, "INSERT INTO applied (step) VALUES (2); SELECT pg_sleep(0.05)"},
		    {3, "ALTER TABLE applied ADD COLUMN note TEXT; INSERT INTO applied (step, note) VALUES (3, 'x')"},
		};
		constexpr int NODES = 2;
		constexpr int PER_NODE = 3;
		std::vector<std::unique_ptr<PostgresStorage>> backends;
		std::vector<std::unique_ptr<PluginStorage>> storages;
		for (int n = 0; n < NODES; ++n)
		{
			backends.push_back(std::make_unique<PostgresStorage>(settingsFor(postgres, PER_NODE + 1), 4));
			for (int i = 0; i < PER_NODE; ++i)
				storages.push_back(openStorage(*backends.back(), plugin));
		}
		std::mutex mutex;
		std::condition_variable go;
		bool started = false;
		std::vector<std::future<std::string>> results;
		for (auto& pStorage : storages)
		{
			PluginStorage* pRaw = pStorage.get();
			results.push_back(std::async(std::launch::async, [&, pRaw] {
				{
					std::unique_lock<std::mutex> lock(mutex);
					go.wait(lock, [&] { return started; });
				}
				std::string error;
				return pRaw->applyMigrations(migrations, error) ? std::string() : error;
			}));
		}
		{
			std::lock_guard<std::mutex> lock(mutex);
			started = true;
		}
		go.notify_all();
		for (auto& result : results)
		{
			CPPUNIT_ASSERT(result.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
			const std::string error = result.get();
			CPPUNIT_ASSERT_MESSAGE(error, error.empty());
		}
		QueryResult counts =
		    must(storages[0]->execute("SELECT step, count(*) FROM applied GROUP BY step ORDER BY step"), "counts");
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), counts.rows.size());
		for (std::size_t i = 0; i < 3; ++i)
		{
			expectValue(Value(std::int64_t(i + 1)), counts.rows[i][0]);
			expectValue(Value(std::int64_t(1)), counts.rows[i][1]);
		}
	}

	void testFailedMigrationRollsBack()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		PostgresStorage backend(settingsFor(postgres), 4);
		auto pStorage = openStorage(backend, uniquePlugin("fail"));
		std::string error;
		CPPUNIT_ASSERT(!pStorage->applyMigrations(
		    {{1, "CREATE TABLE a (x INTEGER)"}, {2, "CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1)"}},
		    error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("migration 2 failed") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(error, error.find("nowhere") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(error, error.find("stays at version 1") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(1, pStorage->schemaVersion(error));
		expectFailure(pStorage->execute("SELECT * FROM b"), "does not exist");
		must(pStorage->execute("SELECT * FROM a"), "table of step 1");
		CPPUNIT_ASSERT(!pStorage->applyMigrations({{1, "CREATE TABLE a (x INTEGER)"}, {2, "BEGIN"}}, error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("transaction control") != std::string::npos);
	}

	void testValuesRoundTrip()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		PostgresStorage backend(settingsFor(postgres), 4);
		auto pStorage = openStorage(backend, uniquePlugin("values"));
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(
		    error, pStorage->applyMigrations({{1, "CREATE TABLE v (k INTEGER PRIMARY KEY, i INTEGER, r REAL, "
		                                          "t TEXT, b BLOB)"}},
		                                     error));
		Blob everyByte;
		for (int i = 0; i < 256; ++i)
			everyByte.push_back(static_cast<std::uint8_t>(i));
		const std::vector<std::vector<Value>> rows = {
		    {std::int64_t(1), std::numeric_limits<std::int64_t>::max(), 0.1, std::string("plain"), everyByte},
		    {std::int64_t(2), std::numeric_limits<std::int64_t>::min(), -0.0, std::string(""), Blob()},
		    {std::int64_t(3), std::int64_t(9007199254740993), 1e308, std::string("it's ? \"q\" \\ ünï €"),
		     Blob{0, 0, 0}},
		    {std::int64_t(4), nullptr, std::numeric_limits<double>::denorm_min(), nullptr, nullptr},
		    {std::int64_t(5), std::int64_t(0), std::numeric_limits<double>::infinity(),
		     std::string("x'); DROP TABLE v; --"), Blob{'a'}},
		    {std::int64_t(6), std::int64_t(-1), -std::numeric_limits<double>::infinity(), std::string(1000, 'z'),
		     Blob{}},
		    {std::int64_t(7), std::int64_t(7), std::nan(""), std::string("nan"), nullptr},
		};
		for (const auto& row : rows)
			must(pStorage->execute("INSERT INTO v (k, i, r, t, b) VALUES (?, ?, ?, ?, ?)", row), "insert");
		QueryResult back = must(pStorage->execute("SELECT k, i, r, t, b FROM v ORDER BY k"), "select");
		CPPUNIT_ASSERT_EQUAL(std::string("k,i,r,t,b"), back.columns[0] + "," + back.columns[1] + "," + back.columns[2] +
		                                                   "," + back.columns[3] + "," + back.columns[4]);
		CPPUNIT_ASSERT_EQUAL(rows.size(), back.rows.size());
		for (std::size_t r = 0; r < rows.size(); ++r)
			for (std::size_t c = 0; c < rows[r].size(); ++c)
				CPPUNIT_ASSERT_MESSAGE("row " + std::to_string(r) + " column " + std::to_string(c) + ": " +
				                           describe(rows[r][c]) + " came back as " + describe(back.rows[r][c]),
				                       sameValue(rows[r][c], back.rows[r][c]));
		// The empty blob stayed an empty blob, not NULL.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
		                     number(*pStorage, "SELECT count(*) FROM v WHERE k = 2 AND b IS NOT NULL"));

		// Expressions keep the type of what was bound, and aggregates come back as numbers.
		for (const Value& v : {Value(std::int64_t(9007199254740993)), Value(2.5), Value(std::string("s")),
		                       Value(Blob{1, 0, 2}), Value(nullptr)})
		{
			QueryResult echoed = must(pStorage->execute("SELECT ?", {v}), "SELECT ?");
			CPPUNIT_ASSERT_MESSAGE(describe(v) + " came back as " + describe(echoed.rows[0][0]),
			                       sameValue(v, echoed.rows[0][0]));
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), number(*pStorage, "SELECT count(*) FROM v"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(28), number(*pStorage, "SELECT sum(k) FROM v"));
		QueryResult mixed =
		    must(pStorage->execute("SELECT avg(k), k = 1, t IS NULL FROM v WHERE k = 1 GROUP BY k, t"), "mixed");
		CPPUNIT_ASSERT(sameValue(Value(1.0), mixed.rows[0][0]));
		CPPUNIT_ASSERT(sameValue(Value(std::int64_t(1)), mixed.rows[0][1]));
		CPPUNIT_ASSERT(sameValue(Value(std::int64_t(0)), mixed.rows[0][2]));
		// Text cannot hold NUL in PostgreSQL: refused with a reason, not truncated.
		expectFailure(pStorage->execute("SELECT ?", {std::string("a\0b", 3)}), "NUL");
	}

	void testAffectedRows()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		PostgresStorage backend(settingsFor(postgres), 4);
		auto pStorage = openStorage(backend, uniquePlugin("rows"));
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(
		    error, pStorage->applyMigrations({{1, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"}}, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3),
		                     must(pStorage->execute("INSERT INTO t (n) VALUES (1), (2), (3)"), "ins").affectedRows);
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(2),
		    must(pStorage->execute("UPDATE t SET n = n + 10 WHERE n >= ?", {std::int64_t(2)}), "upd").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), must(pStorage->execute("SELECT * FROM t"), "sel").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     must(pStorage->execute("UPDATE t SET n = 0 WHERE n < 0"), "none").affectedRows);
		QueryResult returning =
		    must(pStorage->execute("INSERT INTO t (n) VALUES (?) RETURNING id, n", {std::int64_t(4)}), "returning");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), returning.affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), returning.rows.size());
		expectValue(Value(std::int64_t(4)), returning.rows[0][1]);
		QueryResult upsert =
		    must(pStorage->execute("INSERT INTO t (id, n) VALUES (1, 5) ON CONFLICT (id) DO UPDATE SET "
		                           "n = t.n + excluded.n"),
		         "upsert");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), upsert.affectedRows);
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(0),
		    must(pStorage->execute("INSERT INTO t (id, n) VALUES (1, 5) ON CONFLICT DO NOTHING"), "ign").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), must(pStorage->execute("DELETE FROM t"), "del").affectedRows);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     must(pStorage->execute("CREATE TABLE u (x INTEGER)"), "ddl").affectedRows);
	}

	void testTransactions()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		// One connection: a plain execute() or a nested transaction inside a body must join it
		// rather than wait for a second one.
		PostgresStorage backend(settingsFor(postgres, 1), 4);
		auto pStorage = openStorage(backend, uniquePlugin("tx"));
		PluginStorage& s = *pStorage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, s.applyMigrations({{1, "CREATE TABLE t (n INTEGER UNIQUE)"}}, error));
		auto count = [&] { return number(s, "SELECT count(*) FROM t"); };

		CPPUNIT_ASSERT(s.transaction([](Storage& tx) { return tx.execute("INSERT INTO t VALUES (1)").ok; }, &error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());
		CPPUNIT_ASSERT(!s.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (2)");
			    return false;
		    },
		    &error));
		CPPUNIT_ASSERT_EQUAL(std::string("the transaction body returned false (rolled back)"), error);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());
		// A failed statement rolls everything back, even when the body says commit.
		CPPUNIT_ASSERT(!s.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (3)");
			    tx.execute("INSERT INTO t VALUES (1)");
			    return true;
		    },
		    &error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("a statement failed inside the transaction") == 0);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());
		CPPUNIT_ASSERT(!s.transaction(
		    [](Storage& tx) -> bool {
			    tx.execute("INSERT INTO t VALUES (4)");
			    throw std::runtime_error("boom");
		    },
		    &error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("boom") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());

		// Nesting: the inner level rolls back alone; plain execute() and executeAsync() join.
		bool innerCommitted = true;
		CPPUNIT_ASSERT(s.transaction(
		    [&](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (5)");
			    std::string inner;
			    innerCommitted = s.transaction(
			        [](Storage& nested) {
				        nested.execute("INSERT INTO t VALUES (6)");
				        nested.execute("INSERT INTO t VALUES (5)"); // duplicate: the savepoint rolls back
				        return true;
			        },
			        &inner);
			    CPPUNIT_ASSERT(tx.transaction(
			        [](Storage& nested) { return nested.execute("INSERT INTO t VALUES (7)").ok; }, &inner));
			    std::int64_t seen = -1;
			    tx.executeAsync("SELECT count(*) FROM t", {},
			                    [&](QueryResult r) { seen = r.ok ? valueAsInt(r.rows[0][0]) : -2; });
			    CPPUNIT_ASSERT_EQUAL(std::int64_t(3), seen);
			    return s.execute("SELECT count(*) FROM t WHERE n IN (5, 7)").rows.at(0).at(0) == Value(std::int64_t(2));
		    },
		    &error));
		CPPUNIT_ASSERT(!innerCommitted);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), count());
		CPPUNIT_ASSERT(!s.transaction({}, &error));
		// The connection went back to the pool clean: the next statement runs at once.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), count());
	}

	void testErrorsAreResults()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		PostgresStorage backend(settingsFor(postgres), 4);
		auto pStorage = openStorage(backend, uniquePlugin("errors"));
		PluginStorage& s = *pStorage;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, s.applyMigrations({{1, "CREATE TABLE t (n INTEGER PRIMARY KEY)"}}, error));
		expectFailure(s.execute("SELEC 1"), "syntax error");
		must(s.execute("INSERT INTO t VALUES (1)"), "first");
		expectFailure(s.execute("INSERT INTO t VALUES (?)", {std::int64_t(1)}), "duplicate key");
		expectFailure(s.execute("SELECT ?, ?", {std::int64_t(1)}), "2 parameter(s) but 1 value(s)");
		expectFailure(s.execute("SELECT 1; DROP TABLE t"), "exactly one statement");
		expectFailure(s.execute("BEGIN"), "Storage::transaction()");
		expectFailure(s.execute("SET search_path TO public"), "search_path");
		expectFailure(s.execute("INSERT OR IGNORE INTO t VALUES (1)"), "ON CONFLICT");
		expectFailure(s.execute("PRAGMA journal_mode=WAL"), "SQLite only");
		expectFailure(s.execute(""), "empty SQL statement");
		expectFailure(s.execute("SELECT * FROM nowhere"), "does not exist");
		// Another plugin's tables are not on the search path.
		PostgresStorage other(settingsFor(postgres), 4);
		auto pOther = openStorage(other, uniquePlugin("errors-other"));
		expectFailure(pOther->execute("SELECT * FROM t"), "does not exist");
		s.close();
		expectFailure(s.execute("SELECT 1"), "closed");
		CPPUNIT_ASSERT(!s.transaction([](Storage&) { return true; }, &error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("closed") != std::string::npos);
		std::string why;
		CPPUNIT_ASSERT(backend.open("../etc", {}, why) == nullptr);
		CPPUNIT_ASSERT(backend.open(std::string(64, 'p'), {}, why) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(why, why.find("63") != std::string::npos);
	}

	void testAsyncAndParallel()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer& postgres = sharedPostgres();
		ThreadOffload offload;
		PostgresStorage backend(settingsFor(postgres, 3), 4);
		const std::string plugin = uniquePlugin("async");
		auto pStorage = openStorage(backend, plugin, offload.function());
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, pStorage->applyMigrations({{1, "CREATE TABLE t (n INTEGER)"}}, error));
		// 8 threads against a pool of 3: callers wait for a connection rather than fail.
		std::vector<std::thread> writers;
		std::atomic<int> failures{0};
		for (int w = 0; w < 8; ++w)
			writers.emplace_back([&, w] {
				for (int i = 0; i < 50; ++i)
					if (!pStorage->execute("INSERT INTO t VALUES (?)", {std::int64_t(w * 1000 + i)}).ok)
						++failures;
			});
		for (std::thread& t : writers)
			t.join();
		CPPUNIT_ASSERT_EQUAL(0, failures.load());
		std::atomic<int> done{0};
		std::atomic<std::int64_t> seen{0};
		for (int i = 0; i < 10; ++i)
			pStorage->executeAsync("SELECT count(*) FROM t", {}, [&](QueryResult r) {
				if (r.ok)
					seen = valueAsInt(r.rows[0][0]);
				++done;
			});
		offload.wait();
		CPPUNIT_ASSERT_EQUAL(10, done.load());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(400), seen.load());
		// Work queued after the storage closed completes with an error, not a crash.
		pStorage->close();
		QueryResult late;
		pStorage->executeAsync("SELECT 1", {}, [&](QueryResult r) { late = std::move(r); });
		pStorage.reset();
		offload.wait();
		expectFailure(late, "closed");
	}

	void testServerGoesAwayAndComesBack()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer postgres;
		postgres.start();
		PostgresStorage backend(settingsFor(postgres, 2), 4);
		auto pStorage = openStorage(backend, "echo");
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, pStorage->applyMigrations({{1, "CREATE TABLE t (n INTEGER)"}}, error));
		must(pStorage->execute("INSERT INTO t VALUES (1)"), "before");

		postgres.stop();
		const Deadline deadline(10000);
		QueryResult down = pStorage->execute("INSERT INTO t VALUES (2)");
		CPPUNIT_ASSERT_MESSAGE("a statement while the server is down returns within the connect timeout",
		                       !deadline.expired());
		expectFailure(down, "PostgreSQL at 127.0.0.1:" + std::to_string(postgres.port()));
		CPPUNIT_ASSERT(!pStorage->transaction([](Storage&) { return true; }, &error));

		postgres.start();
		// The pooled connections died with the server: the very next statement reconnects.
		must(pStorage->execute("INSERT INTO t VALUES (3)"), "after the restart");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), number(*pStorage, "SELECT count(*) FROM t"));
		CPPUNIT_ASSERT(
		    pStorage->transaction([](Storage& tx) { return tx.execute("INSERT INTO t VALUES (4)").ok; }, &error));

		// Killed under the pool (no goodbye to the clients): the same.
		postgres.kill();
		postgres.start();
		must(pStorage->execute("SELECT count(*) FROM t"), "after kill -9");
	}

	void testUnreachableAtOpen()
	{
		PostgresSettings refused;
		refused.port = PortPicker::pick();
		refused.connectTimeoutMs = 2000;
		PostgresStorage backend(refused, 4);
		std::string error;
		CPPUNIT_ASSERT(backend.open("echo", {}, error) == nullptr);
		CPPUNIT_ASSERT_MESSAGE(error, error.find("cannot connect to PostgreSQL at 127.0.0.1:" +
		                                         std::to_string(refused.port)) != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(error, error.find('\n') == std::string::npos);

		SilentListener silent;
		PostgresSettings hanging = refused;
		hanging.port = silent.port();
		PostgresStorage slow(hanging, 4);
		const auto started = std::chrono::steady_clock::now();
		CPPUNIT_ASSERT(slow.open("echo", {}, error) == nullptr);
		const auto elapsed =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
		CPPUNIT_ASSERT_MESSAGE(error, error.find("timeout") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(elapsed) + " ms", elapsed >= 1500 && elapsed < 5000);
	}

	void testPluginsSurviveRestarts()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer postgres;
		postgres.start();
		TestServer server;
		usePostgres(server, postgres);
		addStoringPlugins(server);
		server.start();

		postNote(server, "kept in postgres");
		std::string roomId;
		{
			WsTestClient socket;
			Govpn::connectWs(socket, server);
			roomId = Govpn::createRoom(socket, "c1", Govpn::publicKey(1), "Durable", "1234");
		}
		Together::User alice = Together::registerUser(server, "alice");
		const std::string s = Together::createServer(server, alice, "Kept");
		const std::string channel = Together::createChannel(server, alice, s, "general", "text");
		Together::postMessage(server, alice, channel, "hello from postgres");
		CPPUNIT_ASSERT_EQUAL(std::string("0"), postgres.superuser("SELECT count(*) FROM pg_tables WHERE schemaname = "
		                                                          "'public'",
		                                                          postgres.database()));

		// A restart of the server: everything is read back from PostgreSQL.
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		server.start();
		CPPUNIT_ASSERT(notes(server).find("kept in postgres") != std::string::npos);
		joinRoom(server, roomId, "Durable", "1234", 2);
		const std::string token = Together::login(server, alice).accessToken;
		Test::HttpResponse listed = Together::call(server, "GET", "/channels/" + channel + "/messages", token);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(listed.body, 200, listed.status);
		CPPUNIT_ASSERT(listed.body.find("hello from postgres") != std::string::npos);

		// PostgreSQL goes away: requests fail (the server stays up); back: they work again at once.
		postgres.stop();
		Test::HttpResponse down =
		    HttpTestClient::request("127.0.0.1", server.port("main"), "POST", "/echo/notes", {}, "while down");
		CPPUNIT_ASSERT_MESSAGE(down.body, down.status >= 500);
		CPPUNIT_ASSERT(server.running());
		postgres.start();
		postNote(server, "after the database restart");
		CPPUNIT_ASSERT(notes(server).find("after the database restart") != std::string::npos);
		CPPUNIT_ASSERT(notes(server).find("while down") == std::string::npos);
		Together::postMessage(server, alice, channel, "after too");

		// And both restarted: still there.
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		postgres.stop();
		postgres.start();
		server.start();
		CPPUNIT_ASSERT(notes(server).find("after the database restart") != std::string::npos);
		joinRoom(server, roomId, "Durable", "1234", 3);
		listed = Together::call(server, "GET", "/channels/" + channel + "/messages",
		                        Together::login(server, alice).accessToken);
		CPPUNIT_ASSERT(listed.body.find("after too") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testTwoNodesShareTheDatabase()
	{
		if (skipWithoutPostgres())
			return;
		PostgresTestServer postgres;
		postgres.start();
		TestServer nodeA;
		TestServer nodeB;
		for (TestServer* pNode : {&nodeA, &nodeB})
		{
			usePostgres(*pNode, postgres);
			addStoringPlugins(*pNode);
		}
		// Started together: both apply the plugins' migrations, each step once (advisory lock).
		nodeA.start();
		nodeB.start();
		CPPUNIT_ASSERT_EQUAL(std::string("2"), postgres.superuser("SELECT version FROM together._switchboard_schema",
		                                                          postgres.database()));

		// Written through A, read through B and the other way round.
		postNote(nodeA, "written on A");
		CPPUNIT_ASSERT(notes(nodeB).find("written on A") != std::string::npos);
		postNote(nodeB, "written on B");
		CPPUNIT_ASSERT(notes(nodeA).find("written on B") != std::string::npos);
		// A user registered through A logs in through B: the password check and the new refresh
		// family are B's queries on the shared tables (the token names A's user).
		Together::User alice = Together::registerUser(nodeA, "alice");
		Test::HttpResponse fromB =
		    Together::call(nodeB, "POST", "/auth/login", "",
		                   "{\"username\":" + Together::quote(alice.username) + ",\"password\":\"password123\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(fromB.body, 200, fromB.status);
		const std::string token = Together::object(fromB.body)->getValue<std::string>("access_token");
		CPPUNIT_ASSERT_EQUAL(alice.id, Together::claimsOf(token).at("sub").convert<std::string>());
		// The usernames are one namespace: B refuses A's user's name.
		Test::HttpResponse taken =
		    Together::call(nodeB, "POST", "/auth/register", "",
		                   "{\"username\":" + Together::quote(alice.username) + ",\"password\":\"password123\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(taken.body, 409, taken.status);

		// GoVPN keeps its rooms in memory, loaded at start (the plugin is not cluster-aware yet): a
		// room created through A is found through B's JoinRoom once B (re)starts.
		std::string roomId;
		{
			WsTestClient socket;
			Govpn::connectWs(socket, nodeA);
			roomId = Govpn::createRoom(socket, "c1", Govpn::publicKey(1), "Shared", "4321");
		}
		CPPUNIT_ASSERT_EQUAL(0, nodeB.stop());
		nodeB.start();
		joinRoom(nodeB, roomId, "Shared", "4321", 2);
		// Together too keeps users and servers in memory: after its restart B knows alice fully.
		const std::string again = Together::login(nodeB, alice).accessToken;
		Test::HttpResponse me = Together::call(nodeB, "GET", "/users/@me", again);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, 200, me.status);
		CPPUNIT_ASSERT(me.body.find(alice.id) != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(0, nodeA.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodeB.stop());
	}

	void testStartupWithoutDatabase()
	{
		// Nothing listens: refused at once. Exit 70 (a storage start-up failure), one line.
		TestServer refused;
		refused.addPlugin("echo", "main", "/echo");
		const int port = PortPicker::pick();
		refused.addSection("storage", {{"backend", "postgresql"}, {"postgresql_port", std::to_string(port)}});
		TestServer::RunResult r = refused.runWithConfig({}, 20000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 70, r.exitCode);
		const std::string line = startupFailureLine(r.output());
		CPPUNIT_ASSERT_MESSAGE(r.describe(), line.find("cannot connect to PostgreSQL at 127.0.0.1:" +
		                                               std::to_string(port)) != std::string::npos);

		// A server that never answers: start-up fails after the connect timeout, not later.
		SilentListener silent;
		TestServer hanging;
		hanging.addPlugin("echo", "main", "/echo");
		hanging.addSection("storage", {{"backend", "postgresql"},
		                               {"postgresql_port", std::to_string(silent.port())},
		                               {"postgresql_connect_timeout_ms", "2000"}});
		const auto started = std::chrono::steady_clock::now();
		r = hanging.runWithConfig({}, 20000);
		const auto elapsed =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 70, r.exitCode);
		CPPUNIT_ASSERT_MESSAGE(r.describe(), startupFailureLine(r.output()).find("timeout") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(elapsed) + " ms", elapsed < 8000);

		// Bad values are configuration errors: exit 78, one line each.
		TestServer bad;
		r = bad.runWithConfig({"--set=storage.backend=postgres", "--set=storage.postgresql_port=0",
		                       "--set=storage.postgresql_user=", "--set=storage.postgresql_connect_timeout_ms=10"});
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.describe(), 78, r.exitCode);
		for (const char* expected :
		     {"storage.backend: expected one of sqlite, postgresql, got \"postgres\"",
		      "storage.postgresql_port: expected an integer between 1 and 65535, got \"0\"",
		      "storage.postgresql_user: expected a name that is not empty",
		      "storage.postgresql_connect_timeout_ms: expected an integer between 2000 and 600000, got \"10\""})
			CPPUNIT_ASSERT_MESSAGE(r.describe(), r.output().find(expected) != std::string::npos);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PostgresStorageTest);
