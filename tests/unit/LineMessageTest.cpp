//
// LineMessageTest.cpp
//
// util/LineMessage.h: the words of a cluster message's first line and the text after it (views
// into the message, empty words kept, bytes after the newline untouched), and whole integers.
//


#include "switchboard/util/LineMessage.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <string>
#include <vector>


using namespace Switchboard;


namespace {

std::vector<std::string> wordsOf(const LineMessage& message)
{
	return std::vector<std::string>(message.words.begin(), message.words.end());
}

} // namespace


class LineMessageTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(LineMessageTest);
	CPPUNIT_TEST(testWordsAndText);
	CPPUNIT_TEST(testEdges);
	CPPUNIT_TEST(testWholeIntegers);
	CPPUNIT_TEST_SUITE_END();

public:
	void testWordsAndText()
	{
		const std::string message = "M room key 12 34\nuser name\nwith a second line";
		LineMessage m = splitLineMessage(message);
		CPPUNIT_ASSERT(wordsOf(m) == std::vector<std::string>({"M", "room", "key", "12", "34"}));
		CPPUNIT_ASSERT_EQUAL(std::string("user name\nwith a second line"), std::string(m.text));
		CPPUNIT_ASSERT(m.words[1].data() == message.data() + 2); // a view, not a copy
		m = splitLineMessage("H");
		CPPUNIT_ASSERT(wordsOf(m) == std::vector<std::string>({"H"}));
		CPPUNIT_ASSERT(m.text.empty());
	}

	void testEdges()
	{
		CPPUNIT_ASSERT(splitLineMessage("").words.empty());
		LineMessage m = splitLineMessage("\n");
		CPPUNIT_ASSERT(m.words.empty() && m.text.empty());
		m = splitLineMessage("A  b \n");
		CPPUNIT_ASSERT(wordsOf(m) == std::vector<std::string>({"A", "", "b"})); // a trailing space adds nothing
		const std::string withNuls("V \0x\n\0", 6); // the views point into it: it must outlive m
		m = splitLineMessage(withNuls);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), m.words.size());
		CPPUNIT_ASSERT_EQUAL(std::string("\0x", 2), std::string(m.words[1]));
		CPPUNIT_ASSERT_EQUAL(std::string(1, '\0'), std::string(m.text));
	}

	void testWholeIntegers()
	{
		std::int64_t signedValue = 7;
		CPPUNIT_ASSERT(readWholeInteger("-42", signedValue) && signedValue == -42);
		CPPUNIT_ASSERT(readWholeInteger("9223372036854775807", signedValue) && signedValue == INT64_MAX);
		for (const char* bad : {"", "+1", " 1", "1 ", "1x", "9223372036854775808", "0x10"})
		{
			signedValue = 7;
			CPPUNIT_ASSERT_MESSAGE(bad, !readWholeInteger(bad, signedValue));
		}
		std::uint64_t unsignedValue = 0;
		CPPUNIT_ASSERT(readWholeInteger("18446744073709551615", unsignedValue) && unsignedValue == UINT64_MAX);
		CPPUNIT_ASSERT(!readWholeInteger("-1", unsignedValue));
		CPPUNIT_ASSERT(!readWholeInteger("18446744073709551616", unsignedValue));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(LineMessageTest);
