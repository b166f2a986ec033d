//
// SdkHelpersTest.cpp
//
// The SDK's inline helpers that plugins rely on for byte compatibility: JSON strings as
// JSON.stringify writes them, query decoding as URLSearchParams does it, UTF-8 repair as
// TextDecoder does it, the CORS rules, and the config value parsers.
//


#include "switchboard/SDK.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard;


class SdkHelpersTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(SdkHelpersTest);
	CPPUNIT_TEST(testJsonStringEscapes);
	CPPUNIT_TEST(testQueryDecoding);
	CPPUNIT_TEST(testReplaceInvalidUtf8);
	CPPUNIT_TEST(testCorsRules);
	CPPUNIT_TEST(testConfigParsers);
	CPPUNIT_TEST(testResponseHelpers);
	CPPUNIT_TEST_SUITE_END();

public:
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
};


CPPUNIT_TEST_SUITE_REGISTRATION(SdkHelpersTest);
