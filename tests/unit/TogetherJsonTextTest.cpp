//
// TogetherJsonTextTest.cpp
//
// The gateway's JSON reading without a tree: strict syntax (what JavaScript's JSON.parse accepts,
// numbers of any size included), nesting bound, raw member text for the byte-exact relay, and
// string tokens decoded with their escapes.
//


#include "JsonText.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>


namespace JsonText = Switchboard::Together::JsonText;


class TogetherJsonTextTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherJsonTextTest);
	CPPUNIT_TEST(testValidDocuments);
	CPPUNIT_TEST(testInvalidDocuments);
	CPPUNIT_TEST(testDepthBound);
	CPPUNIT_TEST(testMembers);
	CPPUNIT_TEST(testStringValues);
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
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherJsonTextTest);
