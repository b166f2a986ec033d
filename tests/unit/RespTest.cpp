//
// RespTest.cpp
//
// The RESP2 codec the cluster speaks to Redis with: commands are binary-safe, replies parse
// whole whatever way the bytes are split, and a malformed stream is refused, never misread.
//


#include "cluster/Resp.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>
#include <vector>


using Switchboard::Cluster::appendCommand;
using Switchboard::Cluster::RespParser;
using Switchboard::Cluster::RespProtocolError;
using Switchboard::Cluster::RespValue;


namespace {

// Every value of a stream fed in pieces of the given size.
std::vector<RespValue> parseInPieces(const std::string& stream, std::size_t piece)
{
	RespParser parser;
	std::vector<RespValue> values;
	for (std::size_t i = 0; i < stream.size(); i += piece)
	{
		parser.feed(stream.data() + i, std::min(piece, stream.size() - i));
		RespValue v;
		while (parser.next(v))
			values.push_back(v);
	}
	return values;
}

} // namespace


class RespTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(RespTest);
	CPPUNIT_TEST(testCommandIsArrayOfBulkStrings);
	CPPUNIT_TEST(testEveryReplyType);
	CPPUNIT_TEST(testAnySplitGivesTheSameValues);
	CPPUNIT_TEST(testPubSubMessageWithBinaryPayload);
	CPPUNIT_TEST(testMalformedStreamsAreRefused);
	CPPUNIT_TEST(testIncompleteIsNotConsumed);
	CPPUNIT_TEST_SUITE_END();

public:
	void testCommandIsArrayOfBulkStrings()
	{
		std::string out;
		std::string binary("a\r\nb\0c", 6);
		appendCommand(out, {"PUBLISH", "ch", binary});
		CPPUNIT_ASSERT_EQUAL(std::string("*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$6\r\n") + binary + "\r\n", out);
		out.clear();
		appendCommand(out, {"SET", ""});
		CPPUNIT_ASSERT_EQUAL(std::string("*2\r\n$3\r\nSET\r\n$0\r\n\r\n"), out);
	}

	void testEveryReplyType()
	{
		std::vector<RespValue> v =
		    parseInPieces("+OK\r\n-ERR wrong\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n", 1000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(7), v.size());
		CPPUNIT_ASSERT(v[0].type == RespValue::Type::SIMPLE && v[0].text == "OK");
		CPPUNIT_ASSERT(v[1].isError() && v[1].text == "ERR wrong");
		CPPUNIT_ASSERT(v[2].type == RespValue::Type::INTEGER && v[2].integer == -42);
		CPPUNIT_ASSERT(v[3].type == RespValue::Type::BULK && v[3].text == "abc");
		CPPUNIT_ASSERT(v[4].isNil());
		CPPUNIT_ASSERT(v[5].isNil());
		CPPUNIT_ASSERT(v[6].type == RespValue::Type::ARRAY);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), v[6].elements.size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), v[6].elements[0].integer);
		CPPUNIT_ASSERT(v[6].elements[1].elements.size() == 1 && v[6].elements[1].elements[0].text.empty());
	}

	void testAnySplitGivesTheSameValues()
	{
		std::string stream = "*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$12\r\nhello\r\nworld\r\n:7\r\n+PONG\r\n";
		for (std::size_t piece = 1; piece <= stream.size(); ++piece)
		{
			std::vector<RespValue> v = parseInPieces(stream, piece);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("piece " + std::to_string(piece), std::size_t(3), v.size());
			CPPUNIT_ASSERT_EQUAL(std::string("hello\r\nworld"), v[0].elements[2].text);
			CPPUNIT_ASSERT_EQUAL(std::int64_t(7), v[1].integer);
			CPPUNIT_ASSERT_EQUAL(std::string("PONG"), v[2].text);
		}
	}

	void testPubSubMessageWithBinaryPayload()
	{
		std::string payload("S peerjs 42 B\n\0\xff\r\n", 18);
		std::string stream;
		appendCommand(stream, {"message", "switchboard:inbox:1", payload}); // same framing as a push
		std::vector<RespValue> v = parseInPieces(stream, 5);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), v.size());
		CPPUNIT_ASSERT_EQUAL(payload, v[0].elements[2].text);
	}

	void testMalformedStreamsAreRefused()
	{
		const char* bad[] = {
		    "?x\r\n",           ":12a\r\n",       "$-2\r\n",
		    "*-5\r\n",          "$3\r\nabcd\r\n", ":\r\n",
		    "$99999999999\r\n", "*2\r\n!\r\n",    "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"};
		for (const char* text : bad)
		{
			RespParser parser(1 << 20);
			parser.feed(text, std::string(text).size());
			RespValue v;
			CPPUNIT_ASSERT_THROW_MESSAGE(text, parser.next(v), RespProtocolError);
		}
		// A line over the limit is refused whether it arrives whole or in pieces (whole, it was
		// once accepted while the same bytes in pieces were refused).
		{
			RespParser whole;
			std::string line = "+" + std::string(70000, 'a') + "\r\n";
			whole.feed(line.data(), line.size());
			RespValue v;
			CPPUNIT_ASSERT_THROW(whole.next(v), RespProtocolError);
		}
		// A line that never ends is bounded too.
		RespParser parser;
		std::string endless = "+" + std::string(70000, 'a');
		parser.feed(endless.data(), endless.size());
		RespValue v;
		CPPUNIT_ASSERT_THROW(parser.next(v), RespProtocolError);
	}

	void testIncompleteIsNotConsumed()
	{
		RespParser parser;
		std::string first = "*2\r\n$3\r\nab";
		parser.feed(first.data(), first.size());
		RespValue v;
		CPPUNIT_ASSERT(!parser.next(v));
		CPPUNIT_ASSERT(!parser.next(v));
		std::string rest = "c\r\n:5\r\n";
		parser.feed(rest.data(), rest.size());
		CPPUNIT_ASSERT(parser.next(v));
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), v.elements[0].text);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5), v.elements[1].integer);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), parser.buffered());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(RespTest);
