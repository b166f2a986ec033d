//
// PluginCommonTest.cpp
//
// The code the bundled plugins share (plugins/common). JsonText: strict syntax (what JavaScript's
// JSON.parse accepts, numbers of any size included), nesting bound, raw member text for byte-exact
// relays, member walks, and string tokens decoded with their escapes. Hs256: tokens it signs
// verify, and a changed byte, another algorithm or a malformed token does not.
//


#include "CivilTime.h"
#include "Hs256.h"
#include "JsonText.h"
#include <sodium.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>
#include <vector>


namespace JsonText = Switchboard::JsonText;


class PluginCommonTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PluginCommonTest);
	CPPUNIT_TEST(testValidDocuments);
	CPPUNIT_TEST(testInvalidDocuments);
	CPPUNIT_TEST(testDepthBound);
	CPPUNIT_TEST(testMembers);
	CPPUNIT_TEST(testStringValues);
	CPPUNIT_TEST(testMemberWalk);
	CPPUNIT_TEST(testHs256);
	CPPUNIT_TEST(testCivilTime);
	CPPUNIT_TEST_SUITE_END();

public:
	void testValidDocuments()
	{
		for (const char* text : {"{}", "[]", " {\"a\" : 1 } ", "\"x\"", "0", "-0.5e+10", "12345678901234567890123",
		                         "1e400", "true", "null", "{\"a\":[1,2.5,null,{\"b\":\"\\u00e9\\n\\\"\"}],\"c\":false}",
		                         "[\"\xC3\xA9\", \"\\ud83d\\ude00\"]", "\r\n\t[1]\n"})
			CPPUNIT_ASSERT_MESSAGE(text, JsonText::isValid(text));
	}

	void testInvalidDocuments()
	{
		for (const char* text : {"",
		                         " ",
		                         "hello",
		                         "{",
		                         "}",
		                         "{\"a\":}",
		                         "{\"a\" 1}",
		                         "{a:1}",
		                         "{\"a\":1,}",
		                         "[1,]",
		                         "[1 2]",
		                         "01",
		                         "1.",
		                         ".5",
		                         "-",
		                         "1e",
		                         "+1",
		                         "0x10",
		                         "NaN",
		                         "Infinity",
		                         "tru",
		                         "nul",
		                         "'x'",
		                         "\"\\x\"",
		                         "\"\\u12g4\"",
		                         "\"a",
		                         "{} {}",
		                         "[1]]",
		                         "\"tab\there\""})
			CPPUNIT_ASSERT_MESSAGE(text, !JsonText::isValid(text));
		CPPUNIT_ASSERT(!JsonText::isValid(std::string("\"a\0b\"", 5)));
	}

	void testDepthBound()
	{
		std::string deep(64, '[');
		deep += std::string(64, ']');
		CPPUNIT_ASSERT(JsonText::isValid(deep));
		// One level more is refused, and a hostile depth costs nothing (no recursion beyond the bound).
		CPPUNIT_ASSERT(!JsonText::isValid("[" + deep + "]"));
		CPPUNIT_ASSERT(!JsonText::isValid(std::string(100000, '[')));
	}

	void testMembers()
	{
		const std::string frame =
		    "{ \"op\" : \"VOICE_SIGNAL\", \"d\":{\"to_user_id\":\"u\",\"signal\":{\"z\":1,\"a\":[1, 2.50,null]} } }";
		std::string_view value;
		CPPUNIT_ASSERT(JsonText::member(frame, "op", value));
		CPPUNIT_ASSERT_EQUAL(std::string("\"VOICE_SIGNAL\""), std::string(value));
		CPPUNIT_ASSERT(JsonText::member(frame, "d", value));
		std::string_view signal;
		CPPUNIT_ASSERT(JsonText::member(value, "signal", signal));
		CPPUNIT_ASSERT_EQUAL(std::string("{\"z\":1,\"a\":[1, 2.50,null]}"), std::string(signal));
		CPPUNIT_ASSERT(!JsonText::member(frame, "missing", value));
		CPPUNIT_ASSERT(!JsonText::member("[1,2]", "op", value));
		// The last of repeated keys, and keys compared after unescaping.
		CPPUNIT_ASSERT(JsonText::member("{\"op\":1,\"op\":2}", "op", value));
		CPPUNIT_ASSERT_EQUAL(std::string("2"), std::string(value));
		CPPUNIT_ASSERT(JsonText::member("{\"\\u006fp\":\"x\"}", "op", value));
		CPPUNIT_ASSERT_EQUAL(std::string("\"x\""), std::string(value));
		// Strings holding braces, quotes and commas do not end a value early.
		CPPUNIT_ASSERT(JsonText::member("{\"a\":\"}\\\",{\",\"b\":7}", "b", value));
		CPPUNIT_ASSERT_EQUAL(std::string("7"), std::string(value));
	}

	void testStringValues()
	{
		std::string value;
		CPPUNIT_ASSERT(JsonText::stringValue("\"plain\"", value));
		CPPUNIT_ASSERT_EQUAL(std::string("plain"), value);
		CPPUNIT_ASSERT(JsonText::stringValue("\"a\\\"b\\\\c\\/d\\n\\t\"", value));
		CPPUNIT_ASSERT_EQUAL(std::string("a\"b\\c/d\n\t"), value);
		CPPUNIT_ASSERT(JsonText::stringValue("\"\\u00e9\\ud83d\\ude00\"", value));
		CPPUNIT_ASSERT_EQUAL(std::string("\xC3\xA9\xF0\x9F\x98\x80"), value);
		CPPUNIT_ASSERT(!JsonText::stringValue("42", value));
		CPPUNIT_ASSERT(!JsonText::stringValue("\"", value));
		CPPUNIT_ASSERT(JsonText::isNull("null"));
		CPPUNIT_ASSERT(!JsonText::isNull("\"null\""));
	}

	void testMemberWalk()
	{
		std::vector<std::string> seen;
		CPPUNIT_ASSERT(JsonText::forEachMember("{\"b\":1, \"a\" : [2, {\"x\":3}] ,\"\\u0063\":\"s\"}",
		                                       [&](const std::string& name, std::string_view raw) {
			                                       seen.push_back(name + "=" + std::string(raw));
			                                       return true;
		                                       }));
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), seen.size());
		CPPUNIT_ASSERT_EQUAL(std::string("b=1"), seen[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("a=[2, {\"x\":3}]"), seen[1]);
		CPPUNIT_ASSERT_EQUAL(std::string("c=\"s\""), seen[2]);
		// Stopping early, an empty object, and a non-object.
		int calls = 0;
		CPPUNIT_ASSERT(JsonText::forEachMember("{\"a\":1,\"b\":2}", [&](const std::string&, std::string_view) {
			++calls;
			return false;
		}));
		CPPUNIT_ASSERT_EQUAL(1, calls);
		CPPUNIT_ASSERT(JsonText::forEachMember(" { } ", [&](const std::string&, std::string_view) { return true; }));
		CPPUNIT_ASSERT(!JsonText::forEachMember("[1]", [&](const std::string&, std::string_view) { return true; }));
	}

	void testHs256()
	{
		CPPUNIT_ASSERT(sodium_init() >= 0);
		const std::string secret(32, 'k');
		const std::string token = Switchboard::Hs256::sign(secret, "{\"sub\":\"u1\"}");
		std::string payload;
		CPPUNIT_ASSERT(Switchboard::Hs256::verify(secret, token, payload));
		CPPUNIT_ASSERT_EQUAL(std::string("{\"sub\":\"u1\"}"), payload);
		CPPUNIT_ASSERT(!Switchboard::Hs256::verify(std::string(32, 'j'), token, payload));
		std::string changed = token;
		changed[changed.size() - 2] = changed[changed.size() - 2] == 'A' ? 'B' : 'A';
		CPPUNIT_ASSERT(!Switchboard::Hs256::verify(secret, changed, payload));
		// alg none, with or without a signature part, and a token of the wrong shape.
		const std::string noneHeader = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
		const std::string body = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
		CPPUNIT_ASSERT(!Switchboard::Hs256::verify(secret, noneHeader + "." + body + ".", payload));
		CPPUNIT_ASSERT(
		    !Switchboard::Hs256::verify(secret, noneHeader + "." + body + token.substr(token.rfind('.')), payload));
		for (const char* bad : {"", "a.b", "a.b.c.d", "...", "e30.e30.e30"})
			CPPUNIT_ASSERT_MESSAGE(bad, !Switchboard::Hs256::verify(secret, bad, payload));
	}

	void testCivilTime()
	{
		// Known instants, before 1970 too (Windows' gmtime_s refuses those; this must not).
		using Switchboard::CivilTime::utcTime;
		const struct
		{
			std::int64_t seconds;
			std::int64_t year;
			int month, day, hour, minute, second, weekday;
		} cases[] = {
		    {0, 1970, 1, 1, 0, 0, 0, 4},
		    {-1, 1969, 12, 31, 23, 59, 59, 3},
		    {951782400, 2000, 2, 29, 0, 0, 0, 2},        // a leap day of a 400th year
		    {1771792922, 2026, 2, 22, 20, 42, 2, 0},     // a Sunday
		    {-2203891200, 1900, 3, 1, 0, 0, 0, 4},       // 1900 was no leap year
		    {-62167219200, 0, 1, 1, 0, 0, 0, 6},         // year 0, proleptic
		    {253402300799, 9999, 12, 31, 23, 59, 59, 5}, // the last four-digit second
		};
		for (const auto& c : cases)
		{
			const Switchboard::CivilTime::UtcTime t = utcTime(c.seconds);
			const std::string at = std::to_string(c.seconds);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.year, t.year);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.month, t.month);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.day, t.day);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.hour, t.hour);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.minute, t.minute);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.second, t.second);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, c.weekday, t.weekday);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(at, Switchboard::CivilTime::floorDivide(c.seconds, 86400),
			                             Switchboard::CivilTime::daysSinceEpoch(t.year, t.month, t.day));
		}
		// Every day over four centuries round-trips.
		for (std::int64_t days = -200000; days <= 200000; ++days)
		{
			std::int64_t year = 0;
			int month = 0;
			int day = 0;
			Switchboard::CivilTime::civilDate(days, year, month, day);
			CPPUNIT_ASSERT_EQUAL(days, Switchboard::CivilTime::daysSinceEpoch(year, month, day));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PluginCommonTest);
