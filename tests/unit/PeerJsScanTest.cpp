//
// PeerJsScanTest.cpp
//
// Unit tests of how the PeerJS envelope scanner finds its way: the document's closing bracket as
// the bound of every scan, strings found through 64-byte blocks (every byte kind at every
// distance from a block edge and from the end), the shortcut for compact "name":"text" members,
// and the relay frame writer's exact size.
//


#include "Envelope.h"
#include "EnvelopeTestText.h"
#include "switchboard/util/Json.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>


using namespace Switchboard::PeerJs;
using namespace Switchboard::Test;
using namespace std::string_view_literals;


namespace {


void expectStatus(std::string_view text, EnvelopeStatus expected)
{
	Envelope envelope;
	const EnvelopeStatus status = parseEnvelope(text, envelope);
	CPPUNIT_ASSERT_MESSAGE(printable(text) + ": " + statusName(status) + ", expected " + statusName(expected),
	                       status == expected);
}


void expectPayload(std::string_view text, std::string_view payload)
{
	Envelope envelope;
	CPPUNIT_ASSERT_MESSAGE(printable(text), parseEnvelope(text, envelope) == EnvelopeStatus::OK);
	CPPUNIT_ASSERT_MESSAGE(printable(text), envelope.hasPayload);
	CPPUNIT_ASSERT_MESSAGE(printable(text) + " gave " + printable(envelope.payload), envelope.payload == payload);
}


} // namespace


class PeerJsScanTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsScanTest);
	CPPUNIT_TEST(testDocumentBounds);
	CPPUNIT_TEST(testScalarDocuments);
	CPPUNIT_TEST(testMalformedMembers);
	CPPUNIT_TEST(testStopsAtBlockEdges);
	CPPUNIT_TEST(testCompactMembers);
	CPPUNIT_TEST(testRelayFrameWriter);
	CPPUNIT_TEST_SUITE_END();

public:
	void testDocumentBounds()
	{
		// The scan relies on the last byte that is not whitespace closing the document: whatever
		// else consumes it, or stops before it, makes the text invalid.
		const EnvelopeStatus OK = EnvelopeStatus::OK;
		const EnvelopeStatus NOT_JSON = EnvelopeStatus::NOT_JSON;
		const EnvelopeStatus NOT_OBJECT = EnvelopeStatus::NOT_OBJECT;
		const std::vector<std::pair<std::string_view, EnvelopeStatus>> cases = {
		    {"{}", OK},
		    {" \t\r\n{ }\n", OK},
		    {"[]", NOT_OBJECT},
		    {"{", NOT_JSON},
		    {"}", NOT_JSON},
		    {"[", NOT_JSON},
		    {"]", NOT_JSON},
		    {"{]", NOT_JSON},
		    {"[}", NOT_JSON},
		    {R"({"a":{})", NOT_JSON},
		    {R"({"a":[])", NOT_JSON},
		    {R"({"a":[1])", NOT_JSON},
		    {R"({"a":{"b":{}})", NOT_JSON},
		    {"[[]", NOT_JSON},
		    {"[{}", NOT_JSON},
		    {"[[1],[2]]", NOT_OBJECT},
		    {"[1]]", NOT_JSON},
		    {R"({"a":"})", NOT_JSON},
		    {R"({"a":"]"})", OK},
		    {R"([{"a":"}"}])", NOT_OBJECT},
		    {R"({"a":"x"}})", NOT_JSON},
		    {R"({"a":1} })", NOT_JSON},
		    {R"({"a":1}])", NOT_JSON},
		    {R"({"a":"x"])", NOT_JSON},
		    {R"({"a":"\"})", NOT_JSON},
		    {R"({"a":"\\"})", OK},
		    {R"({"a":"\u007d"})", OK},
		    {R"({"a":"\u007})", NOT_JSON},
		    {R"({"a":tru})", NOT_JSON},
		    {R"({"a":true})", OK},
		    {R"({"a":1.})", NOT_JSON},
		    {R"({"a":-})", NOT_JSON},
		    {R"({"a":1e})", NOT_JSON},
		    {R"({"a":1e5})", OK},
		    {"{\"a\":1}\x01", NOT_JSON},
		    {"{\"a\":1}\x00"sv, NOT_JSON},
		};
		for (const auto& c : cases)
			expectStatus(c.first, c.second);
	}

	void testScalarDocuments()
	{
		const std::vector<std::pair<std::string_view, EnvelopeStatus>> cases = {
		    {"\"", EnvelopeStatus::NOT_JSON},        {"\"\"", EnvelopeStatus::NOT_OBJECT},
		    {" \"x\" ", EnvelopeStatus::NOT_OBJECT}, {R"("\")", EnvelopeStatus::NOT_JSON},
		    {R"("\\")", EnvelopeStatus::NOT_OBJECT}, {R"("a\"b")", EnvelopeStatus::NOT_OBJECT},
		    {R"("a)", EnvelopeStatus::NOT_JSON},     {R"(a")", EnvelopeStatus::NOT_JSON},
		    {R"("x" ")", EnvelopeStatus::NOT_JSON},  {R"("x""y")", EnvelopeStatus::NOT_JSON},
		    {"\"a\nb\"", EnvelopeStatus::NOT_JSON},  {"1", EnvelopeStatus::NOT_OBJECT},
		    {"-", EnvelopeStatus::NOT_JSON},         {"1 2", EnvelopeStatus::NOT_JSON},
		    {"null", EnvelopeStatus::NOT_OBJECT},    {"nulll", EnvelopeStatus::NOT_JSON},
		    {"tru", EnvelopeStatus::NOT_JSON},       {" ", EnvelopeStatus::NOT_JSON},
		    {"", EnvelopeStatus::NOT_JSON},
		};
		for (const auto& c : cases)
			expectStatus(c.first, c.second);
		// Every length around the 64-byte block, for strings ending at the end of the text.
		for (std::size_t length = 0; length < 140; ++length)
		{
			expectStatus("\"" + std::string(length, 'x') + "\"", EnvelopeStatus::NOT_OBJECT);
			expectStatus("\"" + std::string(length, 'x'), EnvelopeStatus::NOT_JSON);
			expectStatus("\"" + std::string(length, 'x') + "\\\"", EnvelopeStatus::NOT_JSON);
		}
	}

	void testMalformedMembers()
	{
		const char* const cases[] = {
		    R"({"a":1,})",
		    R"({,})",
		    R"({"a" "b"})",
		    R"({"a":})",
		    R"({"a"})",
		    R"({:1})",
		    R"({"a":1 "b":2})",
		    R"({"payload":[1,]})",
		    R"({"payload":[,1]})",
		    R"({"payload":{"a":"b",}})",
		    R"({"payload":{"a":"b""c":"d"}})",
		    R"({"payload":{"a":"b","c""d"}})",
		    R"({"payload":{"a":"b","c":"d})",
		    R"({"payload":{"a":"b","c":"\q"}})",
		    "{\"payload\":{\"a\":\"b\",\"c\":\"\x01\"}}",
		    "{\"payload\":{\"a\":\"b\",\"c\x1F\":\"d\"}}",
		    R"({"payload":{"a":"b","c":"d"]})",
		    R"({"payload":["a","b"}})",
		};
		for (const char* text : cases)
			expectStatus(text, EnvelopeStatus::NOT_JSON);
	}

	void testStopsAtBlockEdges()
	{
		// One byte kind inside the dst string and one inside a payload string, moved through every
		// position of documents long enough to span several 64-byte blocks.
		struct Probe
		{
			std::string_view raw;     // as written in the JSON string
			std::string_view decoded; // "" = the text is invalid
		};
		const Probe probes[] = {
		    {"\\\"", "\""}, {"\\\\", "\\"}, {"\\/", "/"}, {"\\u0041", "A"}, {"\\n", "\n"},  {"\xC3\xA9", "\xC3\xA9"},
		    {"}", "}"},     {"\x01", ""},   {"\t", ""},   {"\\x", ""},      {"\\u12G", ""},
		};
		Envelope envelope;
		for (std::size_t before = 0; before < 140; before += 1 + before / 40)
			for (std::size_t after = 0; after < 80; after += 7)
				for (const Probe& probe : probes)
				{
					const std::string value =
					    std::string(before, 'b') + std::string(probe.raw) + std::string(after, 'a');
					const std::string payload =
					    R"({"k":")" + value + R"(","n":[1,{"m":"x"}],"o":")" + std::string(after, 'o') + "\"}";
					const std::string text = R"({"type":"OFFER","dst":")" + value + R"(","payload":)" + payload + "}";
					const EnvelopeStatus status = parseEnvelope(text, envelope);
					if (probe.decoded.empty())
					{
						CPPUNIT_ASSERT_MESSAGE(printable(text), status == EnvelopeStatus::NOT_JSON);
						continue;
					}
					CPPUNIT_ASSERT_MESSAGE(printable(text), status == EnvelopeStatus::OK);
					CPPUNIT_ASSERT(envelope.dst ==
					               std::string(before, 'b') + std::string(probe.decoded) + std::string(after, 'a'));
					CPPUNIT_ASSERT(envelope.payload == payload);
					CPPUNIT_ASSERT_EQUAL(std::string("OFFER"), envelope.type);
				}
	}

	void testCompactMembers()
	{
		// "name":"text" members one after another take a shortcut; anything else in between
		// (whitespace, other values, escapes) must give the same result as without it.
		expectPayload(R"({"payload":{"a":"b","c":"d","e":"f"}})", R"({"a":"b","c":"d","e":"f"})");
		expectPayload(R"({"payload":{"a":"b", "c":"d"}})", R"({"a":"b","c":"d"})");
		expectPayload(R"({"payload":{"a":"b","c" :"d"}})", R"({"a":"b","c":"d"})");
		expectPayload(R"({"payload":{"a":"b","c": "d"}})", R"({"a":"b","c":"d"})");
		expectPayload(R"({"payload":{"a":"b" ,"c":"d"}})", R"({"a":"b","c":"d"})");
		expectPayload(R"({"payload":{"a":"b","c":1,"d":"e"}})", R"({"a":"b","c":1,"d":"e"})");
		expectPayload(R"({"payload":{"a":1,"b":"c","d":null,"e":"f"}})", R"({"a":1,"b":"c","d":null,"e":"f"})");
		expectPayload(R"({"payload":{"a":"b","c":{"d":"e","f":"g"},"h":"i"}})",
		              R"({"a":"b","c":{"d":"e","f":"g"},"h":"i"})");
		expectPayload(R"({"payload":{"a":"b","c":["d","e"],"f":"g"}})", R"({"a":"b","c":["d","e"],"f":"g"})");
		expectPayload(R"({"payload":{"a\"":"b\\","c\u0041":"\"d"}})", R"({"a\"":"b\\","c\u0041":"\"d"})");
		expectPayload(R"({"payload":["a","b",{"c":"d","e":"f"}]})", R"(["a","b",{"c":"d","e":"f"}])");
		expectPayload(R"({"payload":{"a":"b","c":"d"},"type":"T"})", R"({"a":"b","c":"d"})");

		// Top-level members after a compact payload are still seen, escaped names included.
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(R"({"payload":{"x":"y","z":"w"},"t\u0079pe":"T","dst":"D"})", envelope) ==
		               EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(std::string("T"), envelope.type);
		CPPUNIT_ASSERT_EQUAL(std::string("D"), envelope.dst);
		CPPUNIT_ASSERT(envelope.payload == R"({"x":"y","z":"w"})");
	}

	void testRelayFrameWriter()
	{
		const std::string_view payload = R"({"a":"b"})";
		const std::string_view strings[] = {"",
		                                    "A",
		                                    "OFFER",
		                                    "ANSWER",
		                                    "CANDIDATE",
		                                    "a-rather-long-id-0001",
		                                    "86ecb817-6985-4abb-ad5b-746b633bb238",
		                                    "q\"uote",
		                                    "back\\slash",
		                                    "tab\there",
		                                    "\xED\xA0\x80",
		                                    "\xC3\xA9",
		                                    "\x1F"};
		for (std::string_view type : strings)
			for (std::string_view src : strings)
				for (std::string_view dst : strings)
					for (const std::string_view* p : {&payload, static_cast<const std::string_view*>(nullptr)})
					{
						std::string expected = "{\"type\":";
						Switchboard::Json::appendString(expected, type);
						expected += ",\"src\":";
						Switchboard::Json::appendString(expected, src);
						expected += ",\"dst\":";
						Switchboard::Json::appendString(expected, dst);
						if (p != nullptr)
							expected += ",\"payload\":" + std::string(*p);
						expected += '}';

						const RelayFrameWriter writer(type, src, dst, p);
						CPPUNIT_ASSERT_EQUAL(expected.size(), writer.size());
						std::string written(writer.size() + 1, '#');
						CPPUNIT_ASSERT(writer.write(&written[0]) == &written[0] + writer.size());
						CPPUNIT_ASSERT_EQUAL('#', written.back()); // nothing past the end
						written.pop_back();
						CPPUNIT_ASSERT_EQUAL(expected, written);
						CPPUNIT_ASSERT_EQUAL(expected, relayFrame(type, src, dst, p));
						std::string appended = "x";
						CPPUNIT_ASSERT_EQUAL("x" + expected, appendRelayFrame(appended, type, src, dst, p));
					}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsScanTest);
