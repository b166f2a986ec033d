//
// PeerJsEnvelopeTest.cpp
//
// Unit tests of the PeerJS envelope scanner and relay frame writer against the exact bytes of
// docs/protocols/peerjs.md (the § numbers below are its sections).
//


#include "Envelope.h"
#include "EnvelopeTestText.h"
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


std::string relay(std::string_view inbound, std::string_view src)
/// What the plugin sends for a relayable frame: parse, then rebuild with the server-known src.
{
	Envelope envelope;
	const EnvelopeStatus status = parseEnvelope(inbound, envelope);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(inbound), std::string("OK"), std::string(statusName(status)));
	CPPUNIT_ASSERT_MESSAGE(printable(inbound), envelope.hasType);
	CPPUNIT_ASSERT_MESSAGE(printable(inbound), envelope.hasDst);
	return relayFrame(envelope.type, src, envelope.dst, envelope.hasPayload ? &envelope.payload : nullptr);
}


void assertBytes(std::string_view expected, std::string_view actual, std::string_view context)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(context), printable(expected), printable(actual));
	CPPUNIT_ASSERT_MESSAGE(printable(context), expected == actual);
}


std::string stringify(std::string_view decoded)
{
	std::string out;
	return Switchboard::Json::appendString(out, decoded);
}


std::string nested(int depth)
/// A top-level object whose "payload" nests arrays so that the whole text is depth levels deep.
{
	const int arrays = depth - 1;
	return "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":" + std::string(static_cast<std::size_t>(arrays), '[') +
	       std::string(static_cast<std::size_t>(arrays), ']') + "}";
}


} // namespace


class PeerJsEnvelopeTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsEnvelopeTest);
	CPPUNIT_TEST(testSpoofedSrcAndExtraKeysDropped);
	CPPUNIT_TEST(testRelayExamples);
	CPPUNIT_TEST(testServerFrames);
	CPPUNIT_TEST(testRealClientCandidate);
	CPPUNIT_TEST(testRealClientOffer);
	CPPUNIT_TEST(testWhitespaceRemovedFromPayload);
	CPPUNIT_TEST(testPayloadKinds);
	CPPUNIT_TEST(testDroppedFrameShapes);
	CPPUNIT_TEST(testDuplicateKeysLastWins);
	CPPUNIT_TEST(testEscapedKeys);
	CPPUNIT_TEST(testDecodedStrings);
	CPPUNIT_TEST(testStringScanAtEveryOffset);
	CPPUNIT_TEST(testInvalidJson);
	CPPUNIT_TEST(testNotObject);
	CPPUNIT_TEST(testStringifyControlCharacters);
	CPPUNIT_TEST(testStringifyOtherCharacters);
	CPPUNIT_TEST(testDepthLimit);
	CPPUNIT_TEST(testZeroCopy);
	CPPUNIT_TEST(testReuseAndFailureClears);
	CPPUNIT_TEST(testCopyAndMoveKeepPayload);
	CPPUNIT_TEST(testAppendRelayFrame);
	CPPUNIT_TEST_SUITE_END();

public:
	void testSpoofedSrcAndExtraKeysDropped()
	{
		// §8.2 / §18.3.1
		assertBytes(
		    R"({"type":"OFFER","src":"A","dst":"B","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1"}})",
		    relay(
		        R"({"type":"OFFER","src":"spoof","dst":"B","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1"},"extra":42})",
		        "A"),
		    "spoofed src");
	}

	void testRelayExamples()
	{
		// §18.3.2 to §18.3.5: payload omitted when absent, kept when null, strings and objects as sent.
		const std::vector<std::pair<std::string_view, std::string_view>> cases = {
		    {R"({"type":"ANSWER","dst":"B"})", R"({"type":"ANSWER","src":"A","dst":"B"})"},
		    {R"({"type":"CANDIDATE","dst":"B","payload":"str"})",
		     R"({"type":"CANDIDATE","src":"A","dst":"B","payload":"str"})"},
		    {R"({"type":"OFFER","dst":"B","payload":null})", R"({"type":"OFFER","src":"A","dst":"B","payload":null})"},
		    {R"({"type":"LEAVE","dst":"B"})", R"({"type":"LEAVE","src":"A","dst":"B"})"},
		    {R"({"type":"EXPIRE","dst":"B","payload":{"x":1}})",
		     R"({"type":"EXPIRE","src":"A","dst":"B","payload":{"x":1}})"},
		    {R"({"type":"OFFER","dst":"A","payload":{"self":1}})",
		     R"({"type":"OFFER","src":"A","dst":"A","payload":{"self":1}})"},
		    // Non-ASCII is not escaped, on the way in or out (§18.3.8).
		    {"{\"type\":\"OFFER\",\"dst\":\"B\xC3\xA9\",\"payload\":\"\xE2\x82\xAC/<\"}",
		     "{\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\xC3\xA9\",\"payload\":\"\xE2\x82\xAC/<\"}"},
		};
		for (const auto& c : cases)
			assertBytes(c.second, relay(c.first, "A"), c.first);

		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","payload":null})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasPayload);
		CPPUNIT_ASSERT_EQUAL(std::string("null"), std::string(envelope.payload));
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"ANSWER","dst":"B"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasPayload);
		CPPUNIT_ASSERT(envelope.payload.empty());
	}

	void testServerFrames()
	{
		// §16: the server-generated relay shapes.
		const std::string_view payload = R"({"x":1})";
		const std::string_view str = R"("str")";
		assertBytes(R"({"type":"EXPIRE","src":"nobody-here","dst":"alice-65oqhy"})",
		            relayFrame("EXPIRE", "nobody-here", "alice-65oqhy", nullptr), "EXPIRE");
		assertBytes(R"({"type":"LEAVE","src":"B","dst":"A"})", relayFrame("LEAVE", "B", "A", nullptr), "LEAVE");
		assertBytes(R"({"type":"ANSWER","src":"A","dst":"B"})", relayFrame("ANSWER", "A", "B", nullptr), "ANSWER");
		assertBytes(R"({"type":"CANDIDATE","src":"A","dst":"B","payload":"str"})",
		            relayFrame("CANDIDATE", "A", "B", &str), "CANDIDATE");
		assertBytes(R"({"type":"EXPIRE","src":"A","dst":"B","payload":{"x":1}})",
		            relayFrame("EXPIRE", "A", "B", &payload), "EXPIRE with payload");
		// Ids are escaped like JSON.stringify does.
		assertBytes("{\"type\":\"LEAVE\",\"src\":\"a\\\"b\\\\c\\n\",\"dst\":\"\xC3\xA9/<\"}",
		            relayFrame("LEAVE", "a\"b\\c\n", "\xC3\xA9/<", nullptr), "escaped ids");
	}

	void testRealClientCandidate()
	{
		// §16 and §18.3.7: byte for byte.
		const std::string_view inbound =
		    R"({"type":"CANDIDATE","payload":{"candidate":{"candidate":"candidate:1042475518 1 udp 2113937151 10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"},"dst":"86ecb817-6985-4abb-ad5b-746b633bb238"})";
		const std::string_view expected =
		    R"({"type":"CANDIDATE","src":"alice-65oqhy","dst":"86ecb817-6985-4abb-ad5b-746b633bb238","payload":{"candidate":{"candidate":"candidate:1042475518 1 udp 2113937151 10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"}})";
		assertBytes(expected, relay(inbound, "alice-65oqhy"), "CANDIDATE");
	}

	void testRealClientOffer()
	{
		// A complete data-channel OFFER as JSON.stringify writes it (key order type, payload, dst),
		// with the SDP's CRLFs as \r\n escapes.
		const std::string_view inbound =
		    R"({"type":"OFFER","payload":{"sdp":{"sdp":"v=0\r\no=- 7908551609194361569 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n)"
		    R"(a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n)"
		    R"(c=IN IP4 0.0.0.0\r\na=ice-ufrag:LHOA\r\na=ice-pwd:u2VJ8oE0RTbWUwKjnYwEYy/D\r\na=ice-options:trickle\r\n)"
		    R"(a=fingerprint:sha-256 3C:4A:9E:31:05:B2:7F:60:D8:1C:AA:52:E4:0B:9D:77:21:C6:F3:88:5E:19:0A:B4:6D:E2:93:7C:10:F5:4B:A8\r\n)"
		    R"(a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n","type":"offer"},"type":"data",)"
		    R"("connectionId":"dc_tspo15p26si","metadata":{"hello":"json"},"label":"dc_tspo15p26si","reliable":true,)"
		    R"("serialization":"json"},"dst":"86ecb817-6985-4abb-ad5b-746b633bb238"})";
		const std::string_view expected =
		    R"({"type":"OFFER","src":"alice-65oqhy","dst":"86ecb817-6985-4abb-ad5b-746b633bb238","payload":{"sdp":{"sdp":)"
		    R"("v=0\r\no=- 7908551609194361569 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n)"
		    R"(a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n)"
		    R"(c=IN IP4 0.0.0.0\r\na=ice-ufrag:LHOA\r\na=ice-pwd:u2VJ8oE0RTbWUwKjnYwEYy/D\r\na=ice-options:trickle\r\n)"
		    R"(a=fingerprint:sha-256 3C:4A:9E:31:05:B2:7F:60:D8:1C:AA:52:E4:0B:9D:77:21:C6:F3:88:5E:19:0A:B4:6D:E2:93:7C:10:F5:4B:A8\r\n)"
		    R"(a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n","type":"offer"},"type":"data",)"
		    R"("connectionId":"dc_tspo15p26si","metadata":{"hello":"json"},"label":"dc_tspo15p26si","reliable":true,)"
		    R"("serialization":"json"}})";
		assertBytes(expected, relay(inbound, "alice-65oqhy"), "OFFER");
	}

	void testWhitespaceRemovedFromPayload()
	{
		// §18.3.8: whitespace goes, everything else (the \u2028 escape, the number's spelling) stays.
		const std::string inbound =
		    "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":{ \"s\" : \"\xC3\xA9/<\\u2028\", \"n\" : 2.50e1 }}";
		assertBytes(
		    "{\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\",\"payload\":{\"s\":\"\xC3\xA9/<\\u2028\",\"n\":2.50e1}}",
		    relay(inbound, "A"), "whitespace");

		// Whitespace inside strings is kept; all four kinds outside are removed, at every depth.
		Envelope envelope;
		CPPUNIT_ASSERT(
		    parseEnvelope("\r\n{ \"payload\" :\t[ 1 ,\r\n{ \"a b\" : \" x \\\" y \" } , [ ] , { } ,\"\\\\\" ] ,"
		                  "\"type\":\"T\" } \n",
		                  envelope) == EnvelopeStatus::OK);
		assertBytes(R"([1,{"a b":" x \" y "},[],{},"\\"])", envelope.payload, "nested whitespace");
		CPPUNIT_ASSERT_EQUAL(std::string("T"), envelope.type);

		// Whitespace around the payload value, but not inside it, is not part of the value.
		const std::string_view spacedAround = "{\"payload\" :  {\"a\":[1,2]}  ,\"type\":\"T\"}";
		CPPUNIT_ASSERT(parseEnvelope(spacedAround, envelope) == EnvelopeStatus::OK);
		assertBytes(R"({"a":[1,2]})", envelope.payload, "spaced around");
		CPPUNIT_ASSERT(envelope.payload.data() >= spacedAround.data() &&
		               envelope.payload.data() < spacedAround.data() + spacedAround.size());
	}

	void testPayloadKinds()
	{
		const std::vector<std::pair<std::string_view, std::string_view>> cases = {
		    {"0", "0"},
		    {"-0", "-0"},
		    {"-12.5E+07", "-12.5E+07"},
		    {"1e-3", "1e-3"},
		    {"true", "true"},
		    {"false", "false"},
		    {"null", "null"},
		    {R"("")", R"("")"},
		    {R"("\u00e9\/\b\f\n\r\t\"\\")", R"("\u00e9\/\b\f\n\r\t\"\\")"},
		    {"[]", "[]"},
		    {"{}", "{}"},
		    {"[ ]", "[]"},
		    {"{ }", "{}"},
		    {"[ [ [ 1 ] ] ]", "[[[1]]]"},
		    {R"({"type":"x","dst":"y","payload":"z"})", R"({"type":"x","dst":"y","payload":"z"})"},
		};
		for (const auto& c : cases)
		{
			const std::string inbound = "{\"type\":\"OFFER\",\"payload\":" + std::string(c.first) + ",\"dst\":\"B\"}";
			Envelope envelope;
			CPPUNIT_ASSERT_MESSAGE(inbound, parseEnvelope(inbound, envelope) == EnvelopeStatus::OK);
			CPPUNIT_ASSERT(envelope.hasPayload);
			assertBytes(c.second, envelope.payload, inbound);
			// Nested members named like routing members do not count.
			CPPUNIT_ASSERT_EQUAL(std::string("OFFER"), envelope.type);
			CPPUNIT_ASSERT_EQUAL(std::string("B"), envelope.dst);
		}
	}

	void testDroppedFrameShapes()
	{
		// §18.3.9 and §11: these parse; the plugin decides from the members what to drop.
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","payload":{"a":1}})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && !envelope.hasDst && envelope.hasPayload);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"HEARTBEAT"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		CPPUNIT_ASSERT_EQUAL(std::string("HEARTBEAT"), envelope.type);
		CPPUNIT_ASSERT(parseEnvelope(R"({"dst":"B","payload":1})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasType && envelope.hasDst);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":7,"dst":"B"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasType);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":null})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && !envelope.hasDst);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":["B"]})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasDst);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":""})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasDst && envelope.dst.empty());
		CPPUNIT_ASSERT(parseEnvelope(R"({})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		// type is case-sensitive and kept exactly.
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"offer","Type":"X","TYPE":"Y"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(std::string("offer"), envelope.type);
	}

	void testDuplicateKeysLastWins()
	{
		Envelope envelope;
		CPPUNIT_ASSERT(
		    parseEnvelope(R"({"type":"OFFER","dst":"B","payload":1,"type":"ANSWER","dst":"C","payload":{"p":2}})",
		                  envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(std::string("ANSWER"), envelope.type);
		CPPUNIT_ASSERT_EQUAL(std::string("C"), envelope.dst);
		assertBytes(R"({"p":2})", envelope.payload, "last payload");

		// A non-string value after a string one makes the member absent, and the other way round.
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","type":1})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasType);
		CPPUNIT_ASSERT(envelope.type.empty());
		CPPUNIT_ASSERT(envelope.hasDst);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","dst":{"id":"B"}})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType);
		CPPUNIT_ASSERT(!envelope.hasDst);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":null,"type":"LEAVE","dst":false,"dst":"B"})", envelope) ==
		               EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && envelope.hasDst);
		CPPUNIT_ASSERT_EQUAL(std::string("LEAVE"), envelope.type);
		CPPUNIT_ASSERT_EQUAL(std::string("B"), envelope.dst);

		// payload: null after an object is still present; each member is independent.
		CPPUNIT_ASSERT(parseEnvelope(R"({"payload":{"a":1},"type":"X","payload":null})", envelope) ==
		               EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasPayload);
		assertBytes("null", envelope.payload, "null payload");
		// A spaced payload followed by a compact one: the view goes to the input.
		const std::string_view text = R"({"payload":[ 1 ],"payload":[2]})";
		CPPUNIT_ASSERT(parseEnvelope(text, envelope) == EnvelopeStatus::OK);
		assertBytes("[2]", envelope.payload, "compact after spaced");
		CPPUNIT_ASSERT(envelope.payload.data() == text.data() + text.rfind('['));
		CPPUNIT_ASSERT(parseEnvelope(R"({"payload":[1],"payload":[ 2 ]})", envelope) == EnvelopeStatus::OK);
		assertBytes("[2]", envelope.payload, "spaced after compact");
	}

	void testEscapedKeys()
	{
		Envelope envelope;
		CPPUNIT_ASSERT(
		    parseEnvelope(
		        R"({"\u0074ype":"OFFER","d\u0073t":"B","p\u0061yload":[1],"\u0070\u0061\u0079\u006C\u006F\u0061\u0064":[2]})",
		        envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && envelope.hasDst && envelope.hasPayload);
		CPPUNIT_ASSERT_EQUAL(std::string("OFFER"), envelope.type);
		CPPUNIT_ASSERT_EQUAL(std::string("B"), envelope.dst);
		assertBytes("[2]", envelope.payload, "escaped payload key");

		// An escaped key overrides a plain one and vice versa.
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"A","typ\u0065":"B"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(std::string("B"), envelope.type);
		CPPUNIT_ASSERT(parseEnvelope(R"({"\/type":"A","type\u0000":"B","typ":"C","types":"D","\"type\"":"E"})",
		                             envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasType);
		// A long escaped key is not mistaken for anything.
		CPPUNIT_ASSERT(parseEnvelope(R"({"payload\u0020and more text":"x","type\ud800":"y"})", envelope) ==
		               EnvelopeStatus::OK);
		CPPUNIT_ASSERT(!envelope.hasPayload && !envelope.hasType);
		// "src" in any spelling is ignored.
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"A","\u0073rc":"spoof","dst":"B"})", envelope) == EnvelopeStatus::OK);
		assertBytes(R"({"type":"A","src":"me","dst":"B"})", relayFrame(envelope.type, "me", envelope.dst, nullptr),
		            "src");
	}

	void testDecodedStrings()
	{
		// Expected relays as Node.js writes them: JSON.stringify({type, src, dst}) after JSON.parse.
		const std::vector<std::pair<std::string_view, std::string_view>> cases = {
		    {R"({"type":"X","dst":"\ud800"})", R"({"type":"X","src":"A","dst":"\ud800"})"},
		    {R"({"type":"X","dst":"\uDFFF"})", R"({"type":"X","src":"A","dst":"\udfff"})"},
		    {R"({"type":"X","dst":"\ud83d"})", R"({"type":"X","src":"A","dst":"\ud83d"})"},
		    {R"({"type":"X","dst":"\ud83d\ude00"})", "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\xF0\x9F\x98\x80\"}"},
		    {R"({"type":"X","dst":"\uD83D\uDE00"})", "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\xF0\x9F\x98\x80\"}"},
		    {R"({"type":"X","dst":"\ud800\udc00\udbff\udfff"})",
		     "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"}"},
		    {R"({"type":"X","dst":"\ud83d\u0041"})", R"({"type":"X","src":"A","dst":"\ud83dA"})"},
		    {R"({"type":"X","dst":"\udc00\ud800"})", R"({"type":"X","src":"A","dst":"\udc00\ud800"})"},
		    {R"({"type":"X","dst":"\ud800\ud800\udc00"})",
		     "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\\ud800\xF0\x90\x80\x80\"}"},
		    {R"({"type":"X","dst":"a\/b\u0000\u001F\u2028\"\\"})",
		     "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"a/b\\u0000\\u001f\xE2\x80\xA8\\\"\\\\\"}"},
		    {R"({"type":"X","dst":"\u00e9\u20AC\u0080\u07ff\u0800\uffff"})",
		     "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\xC3\xA9\xE2\x82\xAC\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\"}"},
		    {R"({"type":"\u004f\u0046FER","dst":"\b\f\n\r\t"})", R"({"type":"OFFER","src":"A","dst":"\b\f\n\r\t"})"},
		    // Raw UTF-8 (here U+D7FF, which starts with ED too, and an emoji) passes through.
		    {"{\"type\":\"X\",\"dst\":\"\xED\x9F\xBF\xF0\x9F\x98\x80\"}",
		     "{\"type\":\"X\",\"src\":\"A\",\"dst\":\"\xED\x9F\xBF\xF0\x9F\x98\x80\"}"},
		};
		for (const auto& c : cases)
			assertBytes(c.second, relay(c.first, "A"), c.first);

		// The internal form of a lone surrogate is WTF-8; a pair is one 4-byte sequence.
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"\ud800","dst":"\udfff\ud83d\ude00"})", envelope) ==
		               EnvelopeStatus::OK);
		assertBytes("\xED\xA0\x80", envelope.type, "lone high surrogate");
		assertBytes("\xED\xBF\xBF\xF0\x9F\x98\x80", envelope.dst, "lone low surrogate and a pair");
	}

	void testStringScanAtEveryOffset()
	{
		// The scanner and Json::appendString read 16 and 8 bytes at a time: put each kind of byte at
		// every position of strings of every short length, at every distance from the end of the text.
		struct Probe
		{
			std::string_view raw;         // as written in the JSON string
			std::string_view decoded;     // "" = the text is invalid
			std::string_view stringified; // as JSON.stringify writes the decoded text
		};
		const Probe probes[] = {
		    {"\x1F", "", ""},
		    {"\x00"sv, "", ""},
		    {"\n", "", ""},
		    {"\\\"", "\"", "\\\""},
		    {"\\\\", "\\", "\\\\"},
		    {"\\u0041", "A", "A"},
		    {"\\t", "\t", "\\t"},
		    {"\\u001f", "\x1F", "\\u001f"},
		    {"\\ud800", "\xED\xA0\x80", "\\ud800"},
		    {" ", " ", " "},
		    {"\x7F", "\x7F", "\x7F"},
		    {"\x80", "\x80", "\x80"},
		    {"\xED", "\xED", "\xED"},
		    {"\xED\x9F\xBF", "\xED\x9F\xBF", "\xED\x9F\xBF"},
		    {"\xFF", "\xFF", "\xFF"},
		    {"!", "!", "!"},
		    {"#", "#", "#"},
		    {"]", "]", "]"},
		};
		Envelope envelope;
		for (std::size_t length = 0; length <= 40; ++length)
			for (std::size_t at = 0; at <= length; ++at)
				for (const Probe& probe : probes)
					for (std::size_t trailing = 0; trailing <= 17; trailing += 1 + trailing / 4)
					{
						const std::string before(at, 'a');
						const std::string after(length - at, 'b');
						const std::string text = "{\"dst\":\"" + before + std::string(probe.raw) + after + "\"}" +
						                         std::string(trailing, ' ');
						const EnvelopeStatus status = parseEnvelope(text, envelope);
						if (probe.decoded.empty())
						{
							CPPUNIT_ASSERT_MESSAGE(printable(text), status == EnvelopeStatus::NOT_JSON);
							continue;
						}
						CPPUNIT_ASSERT_MESSAGE(printable(text), status == EnvelopeStatus::OK);
						CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(text),
						                             printable(before + std::string(probe.decoded) + after),
						                             printable(envelope.dst));
						CPPUNIT_ASSERT_EQUAL_MESSAGE(
						    printable(text), printable("\"" + before + std::string(probe.stringified) + after + "\""),
						    printable(stringify(envelope.dst)));
					}
	}

	void testInvalidJson()
	{
		// Each of these makes JavaScript's JSON.parse throw (checked with Node.js 20).
		const std::vector<std::string_view> cases = {
		    ""sv,
		    " "sv,
		    "\t\r\n "sv,
		    "{"sv,
		    "}"sv,
		    "{\"type\":\"A\",}"sv,
		    "{\"type\":\"A\"} x"sv,
		    "{\"type\":\"A\"}}"sv,
		    "{\"type\":\"A\"}{}"sv,
		    "{'type':'A'}"sv,
		    "{type:\"A\"}"sv,
		    "{\"type\" \"A\"}"sv,
		    "{\"type\":}"sv,
		    "{\"type\"}"sv,
		    "{,}"sv,
		    "{\"a\":1,,\"b\":2}"sv,
		    "{\"a\":[1,]}"sv,
		    "{\"a\":[,1]}"sv,
		    "{\"a\":01}"sv,
		    "{\"a\":-}"sv,
		    "{\"a\":1.}"sv,
		    "{\"a\":.5}"sv,
		    "{\"a\":+1}"sv,
		    "{\"a\":NaN}"sv,
		    "{\"a\":Infinity}"sv,
		    "{\"a\":-Infinity}"sv,
		    "{\"a\":1e}"sv,
		    "{\"a\":1e+}"sv,
		    "{\"a\":0x10}"sv,
		    "{\"a\":tru}"sv,
		    "{\"a\":True}"sv,
		    "{\"a\":nul}"sv,
		    "{\"a\":undefined}"sv,
		    "{\"a\":\"x\ty\"}"sv,
		    "{\"a\":\"\x01\"}"sv,
		    "{\"a\":\"x\ny\"}"sv,
		    "{\"a\":\"\\x41\"}"sv,
		    "{\"a\":\"\\u12\"}"sv,
		    "{\"a\":\"\\u12G4\"}"sv,
		    "{\"a\":\"\\U0041\"}"sv,
		    "{\"a\":\"abc}"sv,
		    "{\"a\":[1,2}"sv,
		    "{\"a\":{\"b\":1]}"sv,
		    "{\"a\":1 /* c */}"sv,
		    "// c\n{}"sv,
		    "\xef\xbb\xbf{}"sv,
		    "{\"a\":1}\x00"sv,
		    "{\"a\":\"\\\"}"sv,
		    "{\"a\" : 1 2}"sv,
		    "\v{}"sv,
		    "\f{}"sv,
		    "\xc2\xa0{}"sv,
		    "{\"a\":- 1}"sv,
		    "{\"a\":1.5e3.2}"sv,
		    "{\"a\":[1 2]}"sv,
		    "{\"a\":\"\\'\"}"sv,
		    "{\"a\":'x'}"sv,
		    "[1,]"sv,
		    "nul"sv,
		    "\"abc"sv,
		    "{\"type\":\"A\""sv,
		    "{\"type\":\"A\",\"dst\":\"B\",\"payload\":{\"x\":[1,{\"y\":}]}}"sv,
		    "{\"a\":\"\\\n\"}"sv,
		    "{\"a\x00\":1}"sv,
		    "{\"a\":-01}"sv,
		    "{\"a\":00}"sv,
		    "{\"a\":1e5.}"sv,
		    "{\"\\ud800\":1"sv,
		    "{\"a\":[]]}"sv,
		    "{\"type\":\"OFFER\"}\n,"sv,
		    "{\"a\":1}\xe2\x80\xa8"sv,
		    "{\"a\":[\"x\",]}"sv,
		    "{\"a\":{\"b\":1,}}"sv,
		    "{\"a\":{,\"b\":1}}"sv,
		    "{\"a\"::1}"sv,
		    "{\"a\":1:2}"sv,
		    "{1:2}"sv,
		    "{null:1}"sv,
		    "{\"a\":[}"sv,
		    "{\"a\":]}"sv,
		    "{\"a\":\"\\u00\"}"sv,
		    "{\"a\":\"\\"sv,
		    "{\"a\":1"sv,
		    "{\"a\":"sv,
		    "{\"a\""sv,
		    "{\"a"sv,
		    "["sv,
		    "\""sv,
		    "{\"payload\":{\"a\":1}"sv,
		    "{\"payload\":[1,2,3]]"sv,
		    "{}\x00"sv,
		    "{}}"sv,
		    "{\"a\":truex}"sv,
		    "{\"a\":nullnull}"sv,
		    "{\"a\":1true}"sv,
		    "{\"a\":\"b\"\"c\"}"sv,
		    "{\"a\":-0.}"sv,
		    "{\"a\":-.0}"sv,
		    "{\"a\":1E}"sv,
		    "{\"a\":1e-}"sv,
		    "{\"a\":\"\x1f\"}"sv,
		};
		CPPUNIT_ASSERT(cases.size() >= 40);
		for (const std::string_view text : cases)
		{
			Envelope envelope;
			envelope.hasType = true;
			const EnvelopeStatus status = parseEnvelope(text, envelope);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(text), std::string("NOT_JSON"), std::string(statusName(status)));
			CPPUNIT_ASSERT_MESSAGE(printable(text), !envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		}
		Envelope empty;
		CPPUNIT_ASSERT(parseEnvelope(std::string_view(), empty) == EnvelopeStatus::NOT_JSON);
		// Every proper prefix of a valid message is invalid.
		const std::string_view valid = R"({"type":"OFFER","dst":"B","payload":{"a":[1,2.5e3,"x\u00e9"],"b":null}})";
		for (std::size_t length = 0; length < valid.size(); ++length)
		{
			Envelope envelope;
			CPPUNIT_ASSERT_MESSAGE(std::string(valid.substr(0, length)),
			                       parseEnvelope(valid.substr(0, length), envelope) == EnvelopeStatus::NOT_JSON);
		}
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(valid, envelope) == EnvelopeStatus::OK);
	}

	void testNotObject()
	{
		const std::vector<std::string_view> cases = {
		    R"("just a string")",
		    "null",
		    "[]",
		    "42",
		    "true",
		    "false",
		    "-0.5e-3",
		    " [ {\"type\":\"OFFER\",\"dst\":\"B\"} ] ",
		    "\"\\u0000\"",
		    "\t\"{}\"\r\n",
		    "[[],{},[{}]]",
		};
		for (const std::string_view text : cases)
		{
			Envelope envelope;
			const EnvelopeStatus status = parseEnvelope(text, envelope);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(text), std::string("NOT_OBJECT"), std::string(statusName(status)));
			CPPUNIT_ASSERT(!envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		}
	}

	void testStringifyControlCharacters()
	{
		// JSON.stringify(String.fromCharCode(i)) for i = 0..31, from Node.js 20.
		static const char* const expected[32] = {
		    R"("\u0000")", R"("\u0001")", R"("\u0002")", R"("\u0003")", R"("\u0004")", R"("\u0005")", R"("\u0006")",
		    R"("\u0007")", R"("\b")",     R"("\t")",     R"("\n")",     R"("\u000b")", R"("\f")",     R"("\r")",
		    R"("\u000e")", R"("\u000f")", R"("\u0010")", R"("\u0011")", R"("\u0012")", R"("\u0013")", R"("\u0014")",
		    R"("\u0015")", R"("\u0016")", R"("\u0017")", R"("\u0018")", R"("\u0019")", R"("\u001a")", R"("\u001b")",
		    R"("\u001c")", R"("\u001d")", R"("\u001e")", R"("\u001f")",
		};
		for (int c = 0; c < 32; ++c)
			assertBytes(expected[c], stringify(std::string(1, static_cast<char>(c))), std::to_string(c));
		// Escapes mid-run keep the surrounding text.
		assertBytes(R"("ab\u0000cd\tef")", stringify(std::string_view("ab\0cd\tef", 8)), "mixed");
	}

	void testStringifyOtherCharacters()
	{
		const std::vector<std::pair<std::string_view, std::string_view>> cases = {
		    {"", R"("")"},
		    {"\"", R"("\"")"},
		    {"\\", R"("\\")"},
		    {"/", R"("/")"},
		    {"<>&'", R"("<>&'")"},
		    {"\x7F", "\"\x7F\""},
		    {"\xC3\xA9", "\"\xC3\xA9\""},
		    {"\xE2\x80\xA8\xE2\x80\xA9", "\"\xE2\x80\xA8\xE2\x80\xA9\""}, // U+2028, U+2029 raw
		    {"\xEF\xBF\xBF", "\"\xEF\xBF\xBF\""},                         // U+FFFF raw
		    {"\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""},                 // 4-byte emoji raw
		    {"\xED\x9F\xBF", "\"\xED\x9F\xBF\""},                         // U+D7FF raw
		    {"\xED\xA0\x80", R"("\ud800")"},                              // lone high surrogate
		    {"\xED\xBF\xBF", R"("\udfff")"},                              // lone low surrogate
		    {"\xED\xAF\xBFx\xED\xB0\x80", R"("\udbffx\udc00")"},
		    {"\xED\xA0", "\"\xED\xA0\""}, // truncated: copied, not read past
		    {"a\"b\\c/d", R"("a\"b\\c/d")"},
		};
		for (const auto& c : cases)
			assertBytes(c.second, stringify(c.first), c.first);
		// Json::appendString appends.
		std::string out = "x=";
		CPPUNIT_ASSERT(&Switchboard::Json::appendString(out, "y") == &out);
		CPPUNIT_ASSERT_EQUAL(std::string("x=\"y\""), out);
	}

	void testDepthLimit()
	{
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(nested(MAX_ENVELOPE_DEPTH), envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(2 * (MAX_ENVELOPE_DEPTH - 1)), envelope.payload.size());
		CPPUNIT_ASSERT(parseEnvelope(nested(MAX_ENVELOPE_DEPTH + 1), envelope) == EnvelopeStatus::NOT_JSON);
		CPPUNIT_ASSERT(parseEnvelope(nested(100000), envelope) == EnvelopeStatus::NOT_JSON);

		// Objects count like arrays, mixed, and a non-object top level counts itself.
		std::string objects = "{\"payload\":";
		for (int i = 2; i <= MAX_ENVELOPE_DEPTH; ++i)
			objects += i % 2 ? "[" : "{\"k\":";
		objects += "0";
		for (int i = MAX_ENVELOPE_DEPTH; i >= 2; --i)
			objects += i % 2 ? "]" : "}";
		objects += "}";
		CPPUNIT_ASSERT(parseEnvelope(objects, envelope) == EnvelopeStatus::OK);
		const std::string deeper = "{\"payload\":[" + objects.substr(11, objects.size() - 12) + "]}";
		CPPUNIT_ASSERT(parseEnvelope(deeper, envelope) == EnvelopeStatus::NOT_JSON);
		const std::string arrays(MAX_ENVELOPE_DEPTH, '[');
		const std::string closes(MAX_ENVELOPE_DEPTH, ']');
		CPPUNIT_ASSERT(parseEnvelope(arrays + closes, envelope) == EnvelopeStatus::NOT_OBJECT);
		CPPUNIT_ASSERT(parseEnvelope("[" + arrays + closes + "]", envelope) == EnvelopeStatus::NOT_JSON);
		// Siblings do not add up: depth is per path.
		std::string siblings = "{\"payload\":[";
		for (int i = 0; i < 50; ++i)
			siblings +=
			    (i ? "," : "") + std::string(MAX_ENVELOPE_DEPTH - 2, '[') + std::string(MAX_ENVELOPE_DEPTH - 2, ']');
		siblings += "]}";
		CPPUNIT_ASSERT(parseEnvelope(siblings, envelope) == EnvelopeStatus::OK);
	}

	void testZeroCopy()
	{
		const std::string text = R"({"type":"OFFER","dst":"B","payload":{"sdp":"v=0\r\n","n":[1,2]}})";
		Envelope envelope;
		CPPUNIT_ASSERT(parseEnvelope(text, envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.payload.data() == text.data() + text.find("{\"sdp\""));
		CPPUNIT_ASSERT_EQUAL(text.size() - text.find("{\"sdp\"") - 1, envelope.payload.size());

		// With whitespace the payload lives in the Envelope, independent of the input.
		std::string spaced = R"({"type":"OFFER","dst":"B","payload":{ "n" : 1 }})";
		CPPUNIT_ASSERT(parseEnvelope(spaced, envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.payload.data() < spaced.data() ||
		               envelope.payload.data() >= spaced.data() + spaced.size());
		spaced.assign(spaced.size(), 'x');
		assertBytes(R"({"n":1})", envelope.payload, "owned payload");
	}

	void testReuseAndFailureClears()
	{
		Envelope envelope;
		CPPUNIT_ASSERT(
		    parseEnvelope(R"({"type":"OFFER","dst":"a-rather-long-destination-id-0001","payload":{ "a" : 1 }})",
		                  envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"HEARTBEAT"})", envelope) == EnvelopeStatus::OK);
		CPPUNIT_ASSERT(envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		CPPUNIT_ASSERT(envelope.dst.empty() && envelope.payload.empty());

		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","payload":1})", envelope) == EnvelopeStatus::OK);
		// Failing late, after the members were seen, still leaves nothing behind.
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","payload":1,})", envelope) ==
		               EnvelopeStatus::NOT_JSON);
		CPPUNIT_ASSERT(!envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
		CPPUNIT_ASSERT(envelope.type.empty() && envelope.dst.empty() && envelope.payload.empty());
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","payload":1} 1)", envelope) ==
		               EnvelopeStatus::NOT_JSON);
		CPPUNIT_ASSERT(!envelope.hasType && !envelope.hasDst && !envelope.hasPayload);
	}

	void testCopyAndMoveKeepPayload()
	{
		Envelope original;
		CPPUNIT_ASSERT(parseEnvelope(R"({"type":"OFFER","dst":"B","payload":[ 1 ]})", original) == EnvelopeStatus::OK);
		Envelope copy(original);
		CPPUNIT_ASSERT(copy.payload.data() != original.payload.data());
		assertBytes("[1]", copy.payload, "copy");
		Envelope assigned;
		assigned = copy;
		assertBytes("[1]", assigned.payload, "copy-assigned");
		Envelope moved(std::move(copy));
		assertBytes("[1]", moved.payload, "moved");
		Envelope moveAssigned;
		moveAssigned = std::move(moved);
		assertBytes("[1]", moveAssigned.payload, "move-assigned");
		CPPUNIT_ASSERT_EQUAL(std::string("OFFER"), moveAssigned.type);
		CPPUNIT_ASSERT_EQUAL(std::string("B"), moveAssigned.dst);
		original.clear();
		assertBytes("[1]", assigned.payload, "independent of the original");

		// A compact payload keeps pointing into the input after a copy.
		const std::string_view text = R"({"type":"OFFER","dst":"B","payload":[1]})";
		CPPUNIT_ASSERT(parseEnvelope(text, original) == EnvelopeStatus::OK);
		Envelope viewCopy(original);
		CPPUNIT_ASSERT(viewCopy.payload.data() == original.payload.data());
	}

	void testAppendRelayFrame()
	{
		std::string out = "prefix";
		const std::string_view payload = "[1]";
		CPPUNIT_ASSERT(&appendRelayFrame(out, "OFFER", "A", "B", &payload) == &out);
		assertBytes(R"(prefix{"type":"OFFER","src":"A","dst":"B","payload":[1]})", out, "append");
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsEnvelopeTest);
