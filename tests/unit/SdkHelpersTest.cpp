//
// SdkHelpersTest.cpp
//
// The SDK's inline helpers that plugins rely on for byte compatibility: JSON strings as
// JSON.stringify writes them, query decoding as URLSearchParams does it, UTF-8 repair as
// TextDecoder does it, the CORS rules, the config value parsers; the rules shared by the host and
// FakeHost (metric rules, migration plan) and the testing part's SQLite storage.
//


#include "switchboard/SDK.h"
#include "switchboard/testing/SqliteTestStorage.h"
#include "switchboard/util/MetricRules.h"
#include "switchboard/util/MigrationPlan.h"
#include "switchboard/util/Reconfigure.h"
#include <sys/stat.h>
#include <cmath>
#include <map>
#include <stdexcept>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard;


class SdkHelpersTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(SdkHelpersTest);
	CPPUNIT_TEST(testJsonStringEscapes);
	CPPUNIT_TEST(testFixedKeyChanged);
	CPPUNIT_TEST(testQueryDecoding);
	CPPUNIT_TEST(testReplaceInvalidUtf8);
	CPPUNIT_TEST(testCorsRules);
	CPPUNIT_TEST(testConfigParsers);
	CPPUNIT_TEST(testResponseHelpers);
	CPPUNIT_TEST(testMetricRules);
	CPPUNIT_TEST(testMigrationPlan);
	CPPUNIT_TEST(testSqliteTestStorageStatements);
	CPPUNIT_TEST(testSqliteTestStorageTransactions);
	CPPUNIT_TEST(testSqliteTestStorageFiles);
	CPPUNIT_TEST_SUITE_END();

public:
	void testFixedKeyChanged()
	{
		const Switchboard::FixedKey fixed[] = {{"path", "routes are under it", false},
		                                       {"ping", "an endpoint option", true}};
		// Only a fixed key this reload changed, and whose value differs from the running one.
		CPPUNIT_ASSERT_EQUAL(std::string(), Switchboard::fixedKeyChanged({"origins", "limit"}, fixed));
		CPPUNIT_ASSERT_EQUAL(std::string(), Switchboard::fixedKeyChanged({"ping"}, fixed));
		CPPUNIT_ASSERT_EQUAL(std::string("path cannot change while running: routes are under it"),
		                     Switchboard::fixedKeyChanged({"origins", "path"}, fixed));
	}

	void testJsonStringEscapes()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("\"\""), Json::quote(""));
		CPPUNIT_ASSERT_EQUAL(std::string("\"a\\\"b\\\\c\""), Json::quote("a\"b\\c"));
		CPPUNIT_ASSERT_EQUAL(std::string("\"\\b\\f\\n\\r\\t\""), Json::quote("\b\f\n\r\t"));
		CPPUNIT_ASSERT_EQUAL(std::string("\"\\u0000\\u001f\\u000b\""), Json::quote(std::string("\0\x1f\x0b", 3)));
		// JSON.stringify leaves these raw.
		CPPUNIT_ASSERT_EQUAL(std::string("\"/<>&\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\""),
		                     Json::quote("/<>&\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80"));
		std::string out = "[";
		Json::appendString(out, "x");
		CPPUNIT_ASSERT_EQUAL(std::string("[\"x\""), out);
	}

	void testQueryDecoding()
	{
		HeaderList q = HttpText::parseQuery("key=peerjs&id=a%20b&token=a+b&empty=&flag&id=second&bad=%zz%4&pct=%41%62");
		CPPUNIT_ASSERT_EQUAL(std::size_t(8), q.size());
		CPPUNIT_ASSERT_EQUAL(std::string("a b"), q[1].second);
		CPPUNIT_ASSERT_EQUAL(std::string("a b"), q[2].second);
		CPPUNIT_ASSERT_EQUAL(std::string(""), q[3].second);
		CPPUNIT_ASSERT_EQUAL(std::string("flag"), q[4].first);
		CPPUNIT_ASSERT_EQUAL(std::string("%zz%4"), q[6].second); // malformed escapes stay literal
		CPPUNIT_ASSERT_EQUAL(std::string("Ab"), q[7].second);
		HttpRequest r;
		r.query = "id=first&id=second";
		CPPUNIT_ASSERT_EQUAL(std::string("first"), r.queryParam("id")); // the first occurrence counts
		// Invalid UTF-8 after decoding becomes U+FFFD; valid multi-byte escapes decode.
		CPPUNIT_ASSERT_EQUAL(std::string("\xef\xbf\xbd"), HttpText::formDecode("%ff"));
		CPPUNIT_ASSERT_EQUAL(std::string("\xc3\xa9"), HttpText::formDecode("%C3%A9"));
	}

	void testReplaceInvalidUtf8()
	{
		const std::string fffd = "\xef\xbf\xbd";
		CPPUNIT_ASSERT_EQUAL(std::string("ok \xc3\xa9"), HttpText::replaceInvalidUtf8("ok \xc3\xa9"));
		CPPUNIT_ASSERT_EQUAL(fffd + fffd, HttpText::replaceInvalidUtf8("\xc0\xaf")); // overlong: each byte
		CPPUNIT_ASSERT_EQUAL(fffd + "a", HttpText::replaceInvalidUtf8("\xe2\x82"
		                                                              "a")); // truncated sequence: one
		CPPUNIT_ASSERT_EQUAL(fffd + fffd + fffd, HttpText::replaceInvalidUtf8("\xed\xa0\x80")); // surrogate
		CPPUNIT_ASSERT_EQUAL(std::string("\xf4\x8f\xbf\xbf"), HttpText::replaceInvalidUtf8("\xf4\x8f\xbf\xbf"));
		CPPUNIT_ASSERT_EQUAL(fffd + fffd + fffd + fffd, HttpText::replaceInvalidUtf8("\xf4\x90\x80\x80"));
		// isValidUtf8 agrees with the repair on every case, and on a few more.
		for (const char* text :
		     {"ok \xc3\xa9", "\xc0\xaf",
		      "\xe2\x82"
		      "a",
		      "\xed\xa0\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xe0\xa0\x80", "\xe0\x9f\xbf",
		      "\xf0\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf5\x80\x80\x80", "\xc3", "\x80", "plain", ""})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(text, HttpText::replaceInvalidUtf8(text) == text, HttpText::isValidUtf8(text));
	}

	void testCorsRules()
	{
		HttpRequest noOrigin;
		HttpResponse r1;
		Cors::simple(noOrigin, r1, {});
		CPPUNIT_ASSERT(!hasHeader(r1, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), header(r1, "Vary"));

		HttpRequest withOrigin;
		withOrigin.headers = {{"origin", "http://o1"}};
		HttpResponse r2;
		Cors::simple(withOrigin, r2, {});
		CPPUNIT_ASSERT_EQUAL(std::string("http://o1"), header(r2, "Access-Control-Allow-Origin"));
		HttpResponse r3;
		Cors::simple(withOrigin, r3, {"http://o2"});
		CPPUNIT_ASSERT(!hasHeader(r3, "Access-Control-Allow-Origin"));

		HttpRequest pre;
		pre.headers = {{"Origin", "http://o1"}, {"Access-Control-Request-Headers", "x-a"}};
		HttpResponse r4;
		Cors::preflight(pre, r4, {"http://o1"});
		CPPUNIT_ASSERT_EQUAL(204, r4.status);
		CPPUNIT_ASSERT_EQUAL(std::string("http://o1"), header(r4, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("GET,HEAD,PUT,PATCH,POST,DELETE"), header(r4, "Access-Control-Allow-Methods"));
		CPPUNIT_ASSERT_EQUAL(std::string("x-a"), header(r4, "Access-Control-Allow-Headers"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin, Access-Control-Request-Headers"), header(r4, "Vary"));
		CPPUNIT_ASSERT(!hasHeader(r4, "Access-Control-Allow-Credentials"));
	}

	void testConfigParsers()
	{
		std::int64_t i = 0;
		CPPUNIT_ASSERT(ConfigParse::parseInteger(" 42 ", i) && i == 42);
		CPPUNIT_ASSERT(!ConfigParse::parseInteger("42x", i));
		CPPUNIT_ASSERT(!ConfigParse::parseInteger("", i));
		CPPUNIT_ASSERT(!ConfigParse::parseInteger("99999999999999999999", i));
		bool b = false;
		CPPUNIT_ASSERT(ConfigParse::parseBoolean("Yes", b) && b);
		CPPUNIT_ASSERT(ConfigParse::parseBoolean("off", b) && !b);
		CPPUNIT_ASSERT(!ConfigParse::parseBoolean("maybe", b));
		std::vector<std::string> list = ConfigParse::parseList(" a , b,,c ");
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), list.size());
		CPPUNIT_ASSERT_EQUAL(std::string("c"), list[2]);
		CPPUNIT_ASSERT(ConfigParse::parseList("").empty());
		Config c({{"n", "7"}, {"l", "x,y"}, {"f", "true"}});
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), c.getInt("n"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.getList("l").size());
		CPPUNIT_ASSERT(c.getBool("f"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), c.getInt("undeclared"));
	}

	void testResponseHelpers()
	{
		HttpResponse r;
		r.setHeader("X-A", "1");
		r.setHeader("x-a", "2");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), r.headers.size());
		r.json(201, "{}");
		CPPUNIT_ASSERT_EQUAL(201, r.status);
		CPPUNIT_ASSERT_EQUAL(std::string("application/json; charset=utf-8"), header(r, "Content-Type"));
	}

private:
	static bool hasHeader(const HttpResponse& r, const std::string& name)
	{
		for (const auto& h : r.headers)
			if (HttpText::equalsIgnoreCase(h.first, name))
				return true;
		return false;
	}

	static std::string header(const HttpResponse& r, const std::string& name)
	{
		for (const auto& h : r.headers)
			if (HttpText::equalsIgnoreCase(h.first, name))
				return h.second;
		return {};
	}

public:
	void testMetricRules()
	{
		using MetricRules::Kind;
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard_echo_x"), MetricRules::exportedName("echo", "x"));
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard_x"), MetricRules::exportedName("", "x"));
		CPPUNIT_ASSERT_EQUAL(std::string("a\\\\b\\\"c\\nd"), MetricRules::escapeLabelValue("a\\b\"c\nd"));
		CPPUNIT_ASSERT_EQUAL(std::string("a=\"1\",b=\"x\\\"y\""),
		                     MetricRules::renderLabels({{"b", "x\"y"}, {"a", "1"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("n{a=\"1\"}"), MetricRules::seriesKey("n", {{"a", "1"}}));
		CPPUNIT_ASSERT_EQUAL(std::string("n{}"), MetricRules::seriesKey("n", {}));

		CPPUNIT_ASSERT(MetricRules::checkLabels({{"type", "OFFER"}, {"_x1", "\xC3\xA9"}}, Kind::COUNTER).empty());
		CPPUNIT_ASSERT(!MetricRules::checkLabels({{"__x", "1"}}, Kind::COUNTER).empty());
		CPPUNIT_ASSERT(!MetricRules::checkLabels({{"a", "1"}, {"a", "2"}}, Kind::GAUGE).empty());
		CPPUNIT_ASSERT(!MetricRules::checkLabels({{"le", "1"}}, Kind::HISTOGRAM).empty());
		CPPUNIT_ASSERT(MetricRules::checkLabels({{"le", "1"}}, Kind::COUNTER).empty());
		CPPUNIT_ASSERT(!MetricRules::checkLabels({{"a", "\xED\xA0\x80"}}, Kind::COUNTER).empty()); // a surrogate

		std::vector<double> bounds = {1, 2, HUGE_VAL};
		CPPUNIT_ASSERT(MetricRules::normalizeBounds(bounds).empty());
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), bounds.size()); // the implied +Inf dropped
		bounds = {2, 2};
		CPPUNIT_ASSERT(!MetricRules::normalizeBounds(bounds).empty());

		std::map<std::string, Kind> families = {{"switchboard_p_h", Kind::HISTOGRAM}};
		auto kindOf = [&families](const std::string& name) -> const Kind* {
			auto it = families.find(name);
			return it == families.end() ? nullptr : &it->second;
		};
		CPPUNIT_ASSERT(!MetricRules::checkCollision(Kind::COUNTER, "switchboard_p_h_sum", kindOf).empty());
		CPPUNIT_ASSERT(MetricRules::checkCollision(Kind::COUNTER, "switchboard_p_other_sum", kindOf).empty());
		CPPUNIT_ASSERT(!MetricRules::checkReuse(Kind::COUNTER, {}, Kind::GAUGE, {}).empty());
	}

	void testMigrationPlan()
	{
		MigrationPlan plan("p", {{2, "B"}, {1, "A"}, {3, "C"}});
		CPPUNIT_ASSERT(plan.valid());
		CPPUNIT_ASSERT_EQUAL(3, plan.latestVersion());
		std::vector<Migration> steps;
		std::string error;
		CPPUNIT_ASSERT(plan.pending(1, steps, error));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), steps.size());
		CPPUNIT_ASSERT_EQUAL(2, steps[0].version);
		CPPUNIT_ASSERT(!plan.pending(4, steps, error));
		CPPUNIT_ASSERT(error.find("newer than the plugin") != std::string::npos);
		CPPUNIT_ASSERT(!MigrationPlan("p", {{0, "X"}}).valid());
		CPPUNIT_ASSERT(!MigrationPlan("p", {{1, nullptr}}).valid());
		CPPUNIT_ASSERT_EQUAL(std::string("plugin 'p': migration version 1 appears more than once"),
		                     MigrationPlan("p", {{1, "X"}, {1, "Y"}}).error());
	}

	void testSqliteTestStorageStatements()
	{
		Testing::SqliteTestStorage storage;
		CPPUNIT_ASSERT_MESSAGE(storage.openError(), storage.isOpen());
		CPPUNIT_ASSERT(storage.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB);").ok);
		QueryResult inserted =
		    storage.execute("INSERT INTO t VALUES (?, ?, ?, ?)", {std::int64_t(7), 2.5, std::string("x"), Blob{}});
		CPPUNIT_ASSERT_MESSAGE(inserted.error, inserted.ok);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), inserted.affectedRows);
		QueryResult row = storage.execute("SELECT i, r, s, b, NULL, count(*) FROM t");
		CPPUNIT_ASSERT(row.ok);
		CPPUNIT_ASSERT_EQUAL(std::size_t(6), row.columns.size());
		CPPUNIT_ASSERT(std::holds_alternative<std::int64_t>(row.rows[0][0]));
		CPPUNIT_ASSERT(std::holds_alternative<double>(row.rows[0][1]));
		CPPUNIT_ASSERT(std::holds_alternative<std::string>(row.rows[0][2]));
		CPPUNIT_ASSERT(std::holds_alternative<Blob>(row.rows[0][3])); // an empty blob stays a blob
		CPPUNIT_ASSERT(std::holds_alternative<std::nullptr_t>(row.rows[0][4]));
		CPPUNIT_ASSERT(std::holds_alternative<std::int64_t>(row.rows[0][5])); // count(*) is an integer
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), storage.execute("SELECT 1").affectedRows);

		// The host's refusals.
		CPPUNIT_ASSERT(storage.execute("SELECT 1; SELECT 2").error.find("exactly one statement") != std::string::npos);
		CPPUNIT_ASSERT(storage.execute("SELECT 1; -- fine\n").ok);
		CPPUNIT_ASSERT(storage.execute("SELECT ?", {}).error.find("1 parameter(s) but 0") != std::string::npos);
		CPPUNIT_ASSERT(storage.execute("BEGIN").error.find("transaction control") != std::string::npos);
		CPPUNIT_ASSERT(storage.execute("ATTACH 'x.db' AS x").error.find("ATTACH") != std::string::npos);
		CPPUNIT_ASSERT(storage.execute(std::string("SELECT 1\0", 9)).error.find("NUL") != std::string::npos);
		CPPUNIT_ASSERT(!storage.execute("").ok);
		CPPUNIT_ASSERT_EQUAL(std::string("1"), valueAsString(storage.execute("PRAGMA foreign_keys").rows.at(0).at(0)));

		std::string asyncError = "not called";
		storage.executeAsync("SELECT 1", {}, [&](QueryResult r) { asyncError = r.error; });
		CPPUNIT_ASSERT_EQUAL(std::string(), asyncError);
		storage.setAsyncFailure("injected");
		storage.executeAsync("SELECT 1", {}, [&](QueryResult r) { asyncError = r.error; });
		CPPUNIT_ASSERT_EQUAL(std::string("injected"), asyncError);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), storage.asyncCalls());
	}

	void testSqliteTestStorageTransactions()
	{
		Testing::SqliteTestStorage storage;
		CPPUNIT_ASSERT(storage.execute("CREATE TABLE t (v INTEGER UNIQUE)").ok);
		auto count = [&storage] { return valueAsInt(storage.execute("SELECT count(*) FROM t").rows.at(0).at(0)); };
		std::string error;
		CPPUNIT_ASSERT(
		    storage.transaction([](Storage& tx) { return tx.execute("INSERT INTO t VALUES (1)").ok; }, &error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());
		// Body returns false, a statement failed, or the body threw: rolled back.
		CPPUNIT_ASSERT(!storage.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (2)");
			    return false;
		    },
		    &error));
		CPPUNIT_ASSERT(!storage.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (3)");
			    tx.execute("INSERT INTO t VALUES (1)"); // UNIQUE fails
			    return true;
		    },
		    &error));
		CPPUNIT_ASSERT(error.find("a statement failed inside the transaction") != std::string::npos);
		CPPUNIT_ASSERT(!storage.transaction(
		    [](Storage& tx) -> bool {
			    tx.execute("INSERT INTO t VALUES (4)");
			    throw std::runtime_error("boom");
		    },
		    &error));
		CPPUNIT_ASSERT(error.find("threw: boom") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), count());
		// Nested: the inner level rolls back on its own, the outer one commits.
		CPPUNIT_ASSERT(storage.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (5)");
			    bool inner = tx.transaction([](Storage& tx2) {
				    tx2.execute("INSERT INTO t VALUES (6)");
				    return false;
			    });
			    return !inner;
		    },
		    &error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), count());
	}

	void testSqliteTestStorageFiles()
	{
		std::string temporary;
		{
			Testing::SqliteTestStorage storage;
			temporary = storage.path();
			struct stat info;
			CPPUNIT_ASSERT(stat(temporary.c_str(), &info) == 0);
			std::string error;
			CPPUNIT_ASSERT(
			    storage.applyMigrations("p", {{1, "CREATE TABLE a (x TEXT); CREATE TABLE b (y TEXT);"}}, error));
			CPPUNIT_ASSERT_EQUAL(1, storage.schemaVersion(error));
			CPPUNIT_ASSERT(storage.applyMigrations("p", {{1, "CREATE TABLE a (x TEXT)"}}, error)); // not again
			CPPUNIT_ASSERT(!storage.applyMigrations("p", {{2, "CREATE TABLE a (x TEXT)"}}, error));
			CPPUNIT_ASSERT(error.find("plugin 'p': migration 2 failed: table a already exists") == 0);
			CPPUNIT_ASSERT_EQUAL(1, storage.schemaVersion(error));
		}
		struct stat info;
		CPPUNIT_ASSERT(stat(temporary.c_str(), &info) != 0); // removed with the storage
		CPPUNIT_ASSERT(stat((temporary + "-wal").c_str(), &info) != 0);

		Testing::SqliteTestStorage broken("/nonexistent-dir/x.sqlite");
		CPPUNIT_ASSERT(!broken.isOpen());
		CPPUNIT_ASSERT(broken.execute("SELECT 1").error.find("cannot open database") == 0);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(SdkHelpersTest);
