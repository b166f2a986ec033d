//
// CodecTest.cpp
//
// Unit tests of the WebSocket codec: UTF-8 validation, frame decoding and encoding, handshake keys.
//


#include "ws/FrameDecoder.h"
#include "ws/FrameEncoder.h"
#include "ws/Handshake.h"
#include "ws/Utf8Validator.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::WS;


namespace {


constexpr std::uint8_t FIN = 0x80;
constexpr std::uint32_t KEY = 0x37FA213D; // the masking key of the RFC 6455 examples
constexpr int AUTO = -1;
constexpr std::size_t DEFAULT_MAX = 1 << 20;


std::string escape(const char* data, std::size_t len)
{
	// Long payloads are summarised so a failing comparison stays readable.
	if (len > 64)
	{
		std::uint32_t hash = 2166136261u;
		for (std::size_t i = 0; i < len; ++i)
			hash = (hash ^ static_cast<unsigned char>(data[i])) * 16777619u;
		char buf[64];
		std::snprintf(buf, sizeof(buf), "<%zu bytes, fnv %08x>", len, static_cast<unsigned>(hash));
		return buf;
	}
	std::string out;
	for (std::size_t i = 0; i < len; ++i)
	{
		const auto c = static_cast<unsigned char>(data[i]);
		if (c >= 0x20 && c < 0x7F && c != '\\')
			out += static_cast<char>(c);
		else
		{
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\x%02X", c);
			out += buf;
		}
	}
	return out;
}


std::string describe(const std::string& payload)
{
	return escape(payload.data(), payload.size());
}


class Recorder: public DecoderHandler
/// Records every event as a line of text and flags events that arrive after a stop.
{
public:
	explicit Recorder(FrameDecoder& decoder):
	    _decoder(decoder)
	{
	}

	void onMessage(bool isText, const char* data, std::size_t len) override
	{
		checkRunning();
		events += (isText ? "text:" : "binary:") + escape(data, len) + "|";
		lastData = data;
		if (stopOnMessage)
			_decoder.stop();
	}

	void onPing(const char* data, std::size_t len) override
	{
		checkRunning();
		events += "ping:" + escape(data, len) + "|";
		if (stopOnPing)
			_decoder.stop();
	}

	void onPong(const char* data, std::size_t len) override
	{
		checkRunning();
		events += "pong:" + escape(data, len) + "|";
	}

	void onClose(std::uint16_t code, const char* reason, std::size_t reasonLen) override
	{
		checkTerminal();
		events += "close:" + std::to_string(code) + ":" + escape(reason, reasonLen) + "|";
	}

	void onProtocolError(std::uint16_t closeCode, const char* reason) override
	{
		checkTerminal();
		CPPUNIT_ASSERT(reason != nullptr && *reason != '\0');
		events += "error:" + std::to_string(closeCode) + "|";
	}

	std::string events;
	const char* lastData = nullptr;
	bool stopOnMessage = false;
	bool stopOnPing = false;
	bool afterStop = false;

private:
	void checkRunning()
	{
		if (_terminal || _decoder.stopped())
			afterStop = true;
	}

	void checkTerminal()
	{
		// The decoder stops itself before reporting a close or an error.
		if (_terminal || !_decoder.stopped())
			afterStop = true;
		_terminal = true;
	}

	FrameDecoder& _decoder;
	bool _terminal = false;
};


std::string header(std::uint8_t b0, bool masked, std::uint64_t len, int lenBytes = AUTO, std::uint32_t key = KEY)
/// A frame header written byte by byte, independent of the encoder under test. lenBytes
/// forces the 7-bit (0), 16-bit (2) or 64-bit (8) length form, also non-minimal ones.
{
	if (lenBytes == AUTO)
		lenBytes = len <= 125 ? 0 : len <= 0xFFFF ? 2 : 8;
	const std::uint8_t maskBit = masked ? 0x80 : 0x00;
	std::string h(1, static_cast<char>(b0));
	if (lenBytes == 0)
		h += static_cast<char>(maskBit | len);
	else if (lenBytes == 2)
	{
		h += static_cast<char>(maskBit | 126);
		h += static_cast<char>(len >> 8);
		h += static_cast<char>(len & 0xFF);
	}
	else
	{
		h += static_cast<char>(maskBit | 127);
		for (int shift = 56; shift >= 0; shift -= 8)
			h += static_cast<char>((len >> shift) & 0xFF);
	}
	if (masked)
	{
		for (int shift = 24; shift >= 0; shift -= 8)
			h += static_cast<char>((key >> shift) & 0xFF);
	}
	return h;
}


std::string frame(std::uint8_t b0, const std::string& payload, bool masked = true, int lenBytes = AUTO,
                  std::uint32_t key = KEY)
{
	std::string f = header(b0, masked, payload.size(), lenBytes, key);
	for (std::size_t i = 0; i < payload.size(); ++i)
	{
		const auto k = masked ? static_cast<char>((key >> (24 - 8 * (i % 4))) & 0xFF) : 0;
		f += static_cast<char>(payload[i] ^ k);
	}
	return f;
}


std::string closeBody(std::uint16_t code, const std::string& reason)
{
	std::string body;
	body += static_cast<char>(code >> 8);
	body += static_cast<char>(code & 0xFF);
	return body + reason;
}


std::string pattern(std::size_t len)
{
	std::string s(len, '\0');
	for (std::size_t i = 0; i < len; ++i)
		s[i] = static_cast<char>((i * 7 + 3) & 0xFF);
	return s;
}


struct Result
{
	std::string events;
	std::size_t consumed = 0; // sum of feed() return values
	bool afterStop = false;
};


Result decodePieces(Role role, const std::string& stream, const std::vector<std::size_t>& cuts,
                    std::size_t max = DEFAULT_MAX)
/// Feeds the stream cut at the given (ascending) offsets. Every piece gets its own exactly
/// sized heap block, so a sanitizer build catches any read past a piece.
{
	FrameDecoder decoder(role, max);
	Recorder recorder(decoder);
	Result result;
	std::size_t begin = 0;
	for (std::size_t i = 0; i <= cuts.size(); ++i)
	{
		const std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
		const std::size_t len = end - begin;
		std::unique_ptr<char[]> piece(new char[len ? len : 1]);
		std::memcpy(piece.get(), stream.data() + begin, len);
		const std::size_t consumed = decoder.feed(piece.get(), len, recorder);
		CPPUNIT_ASSERT(consumed <= len);
		result.consumed += consumed;
		begin = end;
	}
	result.events = recorder.events;
	result.afterStop = recorder.afterStop;
	return result;
}


std::string decode(Role role, const std::string& stream, std::size_t max = DEFAULT_MAX)
{
	return decodePieces(role, stream, {}, max).events;
}


std::string decodeEverySplit(Role role, const std::string& stream, std::size_t max = DEFAULT_MAX)
/// Decodes the stream whole, in two pieces at every cut and one byte at a time, asserts that
/// all give the same events, and returns them. Long streams are cut near both ends and at
/// a stride instead of everywhere.
{
	const Result whole = decodePieces(role, stream, {}, max);
	CPPUNIT_ASSERT(!whole.afterStop);
	// After a protocol error how far feed() got depends on the cuts; after a close it does not.
	const bool hasError = whole.events.find("error:") != std::string::npos;
	const std::size_t n = stream.size();
	for (std::size_t cut = 1; cut < n; ++cut)
	{
		if (n > 4096 && cut > 40 && cut + 40 < n && cut % 997 != 0)
			continue;
		const Result split = decodePieces(role, stream, {cut}, max);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("cut at " + std::to_string(cut), whole.events, split.events);
		if (!hasError)
			CPPUNIT_ASSERT_EQUAL_MESSAGE("cut at " + std::to_string(cut), whole.consumed, split.consumed);
		CPPUNIT_ASSERT(!split.afterStop);
	}
	std::vector<std::size_t> bytes;
	for (std::size_t cut = 1; cut < n; ++cut)
		bytes.push_back(cut);
	const Result bytewise = decodePieces(role, stream, bytes, max);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("one byte at a time", whole.events, bytewise.events);
	if (!hasError)
		CPPUNIT_ASSERT_EQUAL_MESSAGE("one byte at a time", whole.consumed, bytewise.consumed);
	CPPUNIT_ASSERT(!bytewise.afterStop);
	return whole.events;
}


std::string encodeUtf8(std::uint32_t cp)
/// Plain bit packing with no validity checks, so it can also produce surrogates.
{
	std::string s;
	if (cp < 0x80)
		s += static_cast<char>(cp);
	else if (cp < 0x800)
	{
		s += static_cast<char>(0xC0 | (cp >> 6));
		s += static_cast<char>(0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		s += static_cast<char>(0xE0 | (cp >> 12));
		s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		s += static_cast<char>(0x80 | (cp & 0x3F));
	}
	else
	{
		s += static_cast<char>(0xF0 | (cp >> 18));
		s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
		s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		s += static_cast<char>(0x80 | (cp & 0x3F));
	}
	return s;
}


bool referenceUtf8(const std::string& s)
/// A second, decode-then-check implementation to compare the validator against.
{
	std::size_t i = 0;
	while (i < s.size())
	{
		const auto c = static_cast<unsigned char>(s[i]);
		std::size_t len;
		std::uint32_t cp;
		std::uint32_t min;
		if (c < 0x80)
		{
			++i;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
		{
			len = 2;
			cp = c & 0x1F;
			min = 0x80;
		}
		else if ((c & 0xF0) == 0xE0)
		{
			len = 3;
			cp = c & 0x0F;
			min = 0x800;
		}
		else if ((c & 0xF8) == 0xF0)
		{
			len = 4;
			cp = c & 0x07;
			min = 0x10000;
		}
		else
			return false;
		if (i + len > s.size())
			return false;
		for (std::size_t k = 1; k < len; ++k)
		{
			const auto cc = static_cast<unsigned char>(s[i + k]);
			if ((cc & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}


bool validate(const std::string& s)
{
	return Utf8Validator::isValid(s.data(), s.size());
}


} // namespace


class CodecTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(CodecTest);
	CPPUNIT_TEST(testUtf8Table);
	CPPUNIT_TEST(testUtf8Exhaustive);
	CPPUNIT_TEST(testUtf8AsciiFastPath);
	CPPUNIT_TEST(testEverySplit);
	CPPUNIT_TEST(testPayloadLengths);
	CPPUNIT_TEST(testFragmentedWithControlFrames);
	CPPUNIT_TEST(testProtocolErrors);
	CPPUNIT_TEST(testErrorsDetectedFromHeader);
	CPPUNIT_TEST(testInvalidUtf8);
	CPPUNIT_TEST(testUtf8FailsFast);
	CPPUNIT_TEST(testOversized);
	CPPUNIT_TEST(testCloseFrames);
	CPPUNIT_TEST(testNothingAfterStop);
	CPPUNIT_TEST(testStopFromCallback);
	CPPUNIT_TEST(testZeroCopy);
	CPPUNIT_TEST(testMemory);
	CPPUNIT_TEST(testEncoderHeaders);
	CPPUNIT_TEST(testEncoderRoundTrip);
	CPPUNIT_TEST(testClosePayload);
	CPPUNIT_TEST(testApplyMask);
	CPPUNIT_TEST(testHandshake);
	CPPUNIT_TEST_SUITE_END();

public:
	void testUtf8Table()
	{
		struct Case
		{
			const char* bytes;
			bool valid;
		};
		const Case cases[] = {
		    {"", true},
		    {"hello", true},
		    {"\x7F", true},                                         // U+007F
		    {"\xC2\x80", true},                                     // U+0080
		    {"\xDF\xBF", true},                                     // U+07FF
		    {"\xE0\xA0\x80", true},                                 // U+0800
		    {"\xED\x9F\xBF", true},                                 // U+D7FF
		    {"\xEE\x80\x80", true},                                 // U+E000
		    {"\xEF\xBF\xBF", true},                                 // U+FFFF
		    {"\xF0\x90\x80\x80", true},                             // U+10000
		    {"\xF4\x8F\xBF\xBF", true},                             // U+10FFFF
		    {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", true}, // "kosme" in Greek
		    {"a\xE2\x82\xAC"
		     "b\xF0\x9D\x84\x9E",
		     true},          // euro sign, G clef
		    {"\x80", false}, // lone continuation byte
		    {"\xBF", false},
		    {"\xC0\x80", false},                 // overlong U+0000
		    {"\xC1\xBF", false},                 // overlong U+007F
		    {"\xE0\x80\x80", false},             // overlong U+0000
		    {"\xE0\x9F\xBF", false},             // overlong U+07FF
		    {"\xF0\x80\x80\x80", false},         // overlong U+0000
		    {"\xF0\x8F\xBF\xBF", false},         // overlong U+FFFF
		    {"\xED\xA0\x80", false},             // U+D800
		    {"\xED\xBF\xBF", false},             // U+DFFF
		    {"\xED\xA0\x80\xED\xB0\x80", false}, // surrogate pair (CESU-8)
		    {"\xF4\x90\x80\x80", false},         // U+110000
		    {"\xF5\x80\x80\x80", false},
		    {"\xF8\x88\x80\x80\x80", false}, // 5-byte form
		    {"\xFE", false},
		    {"\xFF", false},
		    {"\xC2\x41", false}, // bad continuation
		    {"\xE2\x82\x41", false},
		    {"\xF0\x9D\x84\x41", false},
		    {"\xC2", false}, // truncated
		    {"\xE2\x82", false},
		    {"\xF0\x9D\x84", false},
		    {"abc\xE2\x82", false},
		};
		for (const Case& c : cases)
		{
			const std::string s(c.bytes);
			const std::string label = "\"" + describe(s) + "\"";
			CPPUNIT_ASSERT_EQUAL_MESSAGE(label, c.valid, validate(s));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(label, c.valid, referenceUtf8(s));
			// Split at every byte: same verdict, and feed() never accepts a bad prefix.
			for (std::size_t cut = 0; cut <= s.size(); ++cut)
			{
				Utf8Validator v;
				const bool ok = v.feed(s.data(), cut) && v.feed(s.data() + cut, s.size() - cut) && v.complete();
				CPPUNIT_ASSERT_EQUAL_MESSAGE(label + " cut at " + std::to_string(cut), c.valid, ok);
			}
			Utf8Validator v;
			bool ok = true;
			for (char ch : s)
				ok = v.feed(&ch, 1) && ok;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(label + " bytewise", c.valid, ok && v.complete());
		}

		// A truncated sequence is a valid prefix: feed() succeeds, complete() does not.
		Utf8Validator v;
		CPPUNIT_ASSERT(v.feed("\xF0\x9D", 2));
		CPPUNIT_ASSERT(!v.complete());
		CPPUNIT_ASSERT(!v.failed());
		CPPUNIT_ASSERT(v.feed("\x84\x9E", 2));
		CPPUNIT_ASSERT(v.complete());
		// Invalid input is sticky until reset().
		CPPUNIT_ASSERT(!v.feed("\xFF", 1));
		CPPUNIT_ASSERT(v.failed());
		CPPUNIT_ASSERT(!v.feed("a", 1));
		CPPUNIT_ASSERT(!v.complete());
		v.reset();
		CPPUNIT_ASSERT(v.feed("a", 1));
		CPPUNIT_ASSERT(v.complete());
	}

	void testUtf8Exhaustive()
	{
		// Every code point: valid unless it is a surrogate.
		for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp)
		{
			const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
			if (validate(encodeUtf8(cp)) == surrogate)
				CPPUNIT_FAIL("code point " + std::to_string(cp));
		}
		// Every 1- and 2-byte string and every 3-byte string with a non-ASCII first byte,
		// compared with the reference decoder.
		std::string s;
		for (unsigned a = 0; a < 256; ++a)
		{
			s.assign(1, static_cast<char>(a));
			CPPUNIT_ASSERT_EQUAL(referenceUtf8(s), validate(s));
			for (unsigned b = 0; b < 256; ++b)
			{
				s.assign({static_cast<char>(a), static_cast<char>(b)});
				if (referenceUtf8(s) != validate(s))
					CPPUNIT_FAIL(describe(s));
				if (a < 0xC0)
					continue;
				for (unsigned c = 0; c < 256; ++c)
				{
					s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
					if (referenceUtf8(s) != validate(s))
						CPPUNIT_FAIL(describe(s));
				}
			}
		}
		// 4-byte strings: every lead and second byte, edge values for the last two.
		const unsigned edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
		for (unsigned a = 0xF0; a < 0x100; ++a)
			for (unsigned b = 0; b < 256; ++b)
				for (unsigned c : edges)
					for (unsigned d : edges)
					{
						s.assign(
						    {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
						if (referenceUtf8(s) != validate(s))
							CPPUNIT_FAIL(describe(s));
					}
	}

	void testUtf8AsciiFastPath()
	{
		// A bad byte at every position of a long ASCII run, across the 8-byte word boundaries.
		const std::string ascii(70, 'x');
		for (std::size_t pos = 0; pos < ascii.size(); ++pos)
		{
			std::string s = ascii;
			s[pos] = '\x80';
			CPPUNIT_ASSERT_MESSAGE(std::to_string(pos), !validate(s));
			s[pos] = '\xC3'; // a lead byte whose continuation is an ASCII 'x' (or missing at the end)
			CPPUNIT_ASSERT_MESSAGE(std::to_string(pos), !validate(s));
			s = ascii;
			s.insert(pos, "\xC3\xA9");
			CPPUNIT_ASSERT_MESSAGE(std::to_string(pos), validate(s));
		}
		CPPUNIT_ASSERT(validate(std::string(100000, 'a') + "\xF0\x9F\x98\x80" + std::string(33, 'b')));
	}

	void testEverySplit()
	{
		// Masked frames to a server.
		std::string stream = frame(FIN | TEXT, "Hello") + frame(FIN | BINARY, pattern(130)) +
		                     frame(FIN | TEXT, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E") + frame(FIN | TEXT, "") +
		                     frame(FIN | BINARY, std::string("\x00\xFF\x80", 3)) + frame(FIN | PING, "are you there") +
		                     frame(FIN | PONG, "") + frame(TEXT, "frag") + frame(FIN | PING, "p") +
		                     frame(CONTINUATION, "ment") + frame(FIN | CONTINUATION, "ed") +
		                     frame(FIN | BINARY, pattern(300), true, AUTO, 0xA1B2C3D4) +
		                     frame(FIN | CLOSE, closeBody(1000, "bye"));
		const std::string expected =
		    "text:Hello|binary:" + describe(pattern(130)) +
		    "|text:h\\xC3\\xA9llo \\xE2\\x82\\xAC \\xF0\\x9D\\x84\\x9E|text:|binary:\\x00\\xFF\\x80|ping:are you "
		    "there|pong:|ping:p|text:fragmented|binary:" +
		    describe(pattern(300)) + "|close:1000:bye|";
		CPPUNIT_ASSERT_EQUAL(expected, decodeEverySplit(Role::SERVER, stream));
		CPPUNIT_ASSERT_EQUAL(stream.size(), decodePieces(Role::SERVER, stream, {}).consumed);

		// The same frames unmasked, to a client.
		std::string unmasked =
		    frame(FIN | TEXT, "Hello", false) + frame(FIN | BINARY, pattern(130), false) +
		    frame(FIN | TEXT, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E", false) + frame(FIN | TEXT, "", false) +
		    frame(FIN | BINARY, std::string("\x00\xFF\x80", 3), false) + frame(FIN | PING, "are you there", false) +
		    frame(FIN | PONG, "", false) + frame(TEXT, "frag", false) + frame(FIN | PING, "p", false) +
		    frame(CONTINUATION, "ment", false) + frame(FIN | CONTINUATION, "ed", false) +
		    frame(FIN | BINARY, pattern(300), false) + frame(FIN | CLOSE, closeBody(1000, "bye"), false);
		CPPUNIT_ASSERT_EQUAL(expected, decodeEverySplit(Role::CLIENT, unmasked));
	}

	void testPayloadLengths()
	{
		const std::size_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
		for (std::size_t len : lengths)
		{
			const std::string payload = pattern(len);
			const std::string expected = "binary:" + describe(payload) + "|";
			const std::string masked = frame(FIN | BINARY, payload);
			const std::size_t headerLen = len <= 125 ? 2 : len <= 65535 ? 4 : 10;
			CPPUNIT_ASSERT_EQUAL(headerLen + 4 + len, masked.size());
			CPPUNIT_ASSERT_EQUAL(expected, decodeEverySplit(Role::SERVER, masked));
			CPPUNIT_ASSERT_EQUAL(expected, decodeEverySplit(Role::CLIENT, frame(FIN | BINARY, payload, false)));
		}
		// Non-minimal length encodings are legal and accepted.
		const std::size_t forms[][2] = {{0, 2}, {0, 8}, {5, 2}, {125, 2}, {125, 8}, {126, 8}, {65535, 8}};
		for (const auto& form : forms)
		{
			const std::string payload = pattern(form[0]);
			const std::string f = frame(FIN | BINARY, payload, true, static_cast<int>(form[1]));
			CPPUNIT_ASSERT_EQUAL(2 + form[1] + 4 + form[0], f.size());
			CPPUNIT_ASSERT_EQUAL("binary:" + describe(payload) + "|", decodeEverySplit(Role::SERVER, f));
		}
		// Also for control frames: the 125-byte limit applies to the length, not its encoding.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("ping:hello|pong:|"),
		    decodeEverySplit(Role::SERVER, frame(FIN | PING, "hello", true, 2) + frame(FIN | PONG, "", true, 8)));
		// A text message of 65536 bytes ending in a 4-byte character, and a ping of exactly 125 bytes.
		const std::string text = std::string(65532, 'a') + "\xF0\x9F\x98\x80";
		CPPUNIT_ASSERT_EQUAL("text:" + describe(text) + "|", decodeEverySplit(Role::SERVER, frame(FIN | TEXT, text)));
		CPPUNIT_ASSERT_EQUAL("ping:" + describe(pattern(125)) + "|",
		                     decodeEverySplit(Role::SERVER, frame(FIN | PING, pattern(125))));
	}

	void testFragmentedWithControlFrames()
	{
		// "€" (E2 82 AC) is split across the first and second fragment, "😀" across the second and third.
		const std::string stream = frame(TEXT, "price \xE2") + frame(FIN | PING, "ping-1") +
		                           frame(CONTINUATION, "\x82\xAC 5 \xF0\x9F") + frame(FIN | PONG, "pong-1") +
		                           frame(FIN | PING, "") + frame(FIN | CONTINUATION, "\x98\x80!") +
		                           frame(FIN | TEXT, "next");
		CPPUNIT_ASSERT_EQUAL(std::string("ping:ping-1|pong:pong-1|ping:|text:price \\xE2\\x82\\xAC 5 "
		                                 "\\xF0\\x9F\\x98\\x80!|text:next|"),
		                     decodeEverySplit(Role::SERVER, stream));

		// Binary fragments, including empty ones, and a close in the middle of a message.
		const std::string binary = frame(BINARY, "") + frame(CONTINUATION, "ab") + frame(CONTINUATION, "") +
		                           frame(FIN | CONTINUATION, "c") + frame(BINARY, "xy") +
		                           frame(FIN | CLOSE, closeBody(1001, "away"));
		CPPUNIT_ASSERT_EQUAL(std::string("binary:abc|close:1001:away|"), decodeEverySplit(Role::SERVER, binary));

		// A ping whose payload straddles two reads while a message is being reassembled.
		const std::string longPing =
		    frame(BINARY, pattern(40)) + frame(FIN | PING, pattern(100)) + frame(FIN | CONTINUATION, pattern(40));
		CPPUNIT_ASSERT_EQUAL("ping:" + describe(pattern(100)) + "|binary:" + describe(pattern(40) + pattern(40)) + "|",
		                     decodeEverySplit(Role::SERVER, longPing));
	}

	void testProtocolErrors()
	{
		const std::string ok = frame(FIN | TEXT, "ok");
		std::vector<std::pair<std::string, std::string>> cases;
		for (std::uint8_t opcode : std::initializer_list<std::uint8_t>{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF})
			cases.emplace_back("opcode " + std::to_string(opcode), frame(FIN | opcode, "x"));
		cases.emplace_back("RSV1", frame(FIN | 0x40 | TEXT, "x"));
		cases.emplace_back("RSV2", frame(FIN | 0x20 | TEXT, "x"));
		cases.emplace_back("RSV3", frame(FIN | 0x10 | TEXT, "x"));
		cases.emplace_back("RSV1 on a ping", frame(FIN | 0x40 | PING, "x"));
		cases.emplace_back("unmasked client frame", frame(FIN | TEXT, "x", false));
		cases.emplace_back("fragmented ping", frame(PING, "x"));
		cases.emplace_back("fragmented close", frame(CLOSE, closeBody(1000, "")));
		cases.emplace_back("ping of 126 bytes", frame(FIN | PING, pattern(126)));
		cases.emplace_back("pong of 126 bytes", frame(FIN | PONG, pattern(126)));
		cases.emplace_back("close of 126 bytes", frame(FIN | CLOSE, closeBody(1000, std::string(124, 'a'))));
		cases.emplace_back("continuation without start", frame(FIN | CONTINUATION, "x"));
		cases.emplace_back("unfinished continuation without start", frame(CONTINUATION, "x"));
		cases.emplace_back("text inside fragmented text", frame(TEXT, "a") + frame(FIN | TEXT, "b"));
		cases.emplace_back("binary inside fragmented text", frame(TEXT, "a") + frame(FIN | BINARY, "b"));
		cases.emplace_back("text inside fragmented binary",
		                   frame(BINARY, "a") + frame(CONTINUATION, "b") + frame(TEXT, "c"));
		cases.emplace_back("continuation after a finished message",
		                   frame(TEXT, "a") + frame(FIN | CONTINUATION, "b") + frame(FIN | CONTINUATION, "c"));
		cases.emplace_back("64-bit length with top bit", header(FIN | BINARY, true, 0x8000000000000000ULL, 8) + "abc");
		cases.emplace_back("64-bit length all ones", header(FIN | BINARY, true, ~0ULL, 8) + "abc");
		for (const auto& c : cases)
		{
			const std::string events = decodeEverySplit(Role::SERVER, ok + c.second + ok);
			// Messages delivered before the error are fine (fragments are not); nothing after it.
			const std::string prefix =
			    c.first.find("after a finished") != std::string::npos ? "text:ok|text:ab|" : "text:ok|";
			CPPUNIT_ASSERT_EQUAL_MESSAGE(c.first, prefix + "error:1002|", events);
		}
		// The client role rejects masked frames.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("text:ok|error:1002|"),
		    decodeEverySplit(Role::CLIENT, frame(FIN | TEXT, "ok", false) + frame(FIN | TEXT, "x", true)));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decodeEverySplit(Role::CLIENT, frame(FIN | PING, "", true)));
	}

	void testErrorsDetectedFromHeader()
	{
		// Header checks fire before any payload has arrived: feed only the first two bytes.
		const std::string firstTwo[] = {
		    frame(FIN | 0x40 | TEXT, "x").substr(0, 2),  frame(FIN | 0x3, "x").substr(0, 2),
		    frame(FIN | TEXT, "x", false).substr(0, 2),  frame(PING, "x").substr(0, 2),
		    frame(FIN | CONTINUATION, "x").substr(0, 2),
		};
		for (const std::string& bytes : firstTwo)
			CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decode(Role::SERVER, bytes));
		// The others from the complete header, before any payload.
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decode(Role::SERVER, header(FIN | PING, true, 126)));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decode(Role::SERVER, header(FIN | PONG, true, 126, 8)));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"),
		                     decode(Role::SERVER, header(FIN | BINARY, true, 1ULL << 63, 8)));
	}

	void testInvalidUtf8()
	{
		const std::pair<const char*, std::string> cases[] = {
		    {"overlong 2-byte", frame(FIN | TEXT, "a\xC0\xAF")},
		    {"overlong 3-byte", frame(FIN | TEXT, "a\xE0\x80\xAF")},
		    {"overlong 4-byte", frame(FIN | TEXT, "\xF0\x80\x80\xAF")},
		    {"surrogate", frame(FIN | TEXT, "a\xED\xA0\x80z")},
		    {"above U+10FFFF", frame(FIN | TEXT, "\xF4\x90\x80\x80")},
		    {"stray continuation", frame(FIN | TEXT, "ab\x80")},
		    {"truncated at FIN", frame(FIN | TEXT, "euro \xE2\x82")},
		    {"truncated in the last fragment", frame(TEXT, "euro ") + frame(FIN | CONTINUATION, "\xE2\x82")},
		    {"truncated over fragments",
		     frame(TEXT, "\xF0\x9F") + frame(CONTINUATION, "\x98") + frame(FIN | CONTINUATION, "")},
		    {"invalid in a middle fragment",
		     frame(TEXT, "ok") + frame(CONTINUATION, "\xFF") + frame(FIN | CONTINUATION, "ok")},
		    {"invalid across fragments", frame(TEXT, "\xE2") + frame(FIN | CONTINUATION, "\x28\xA1")},
		};
		for (const auto& c : cases)
			CPPUNIT_ASSERT_EQUAL_MESSAGE(c.first, std::string("error:1007|"), decodeEverySplit(Role::SERVER, c.second));
		// Binary messages are not checked.
		CPPUNIT_ASSERT_EQUAL(std::string("binary:\\xC0\\xAF|"),
		                     decodeEverySplit(Role::SERVER, frame(FIN | BINARY, "\xC0\xAF")));
		// In the client role too.
		CPPUNIT_ASSERT_EQUAL(std::string("error:1007|"),
		                     decodeEverySplit(Role::CLIENT, frame(FIN | TEXT, "\xED\xBF\xBF", false)));
	}

	void testUtf8FailsFast()
	{
		// Invalid UTF-8 in the first fragment is reported before the last fragment arrives.
		{
			const std::string first = frame(TEXT, "bad \xC0\xAF here");
			CPPUNIT_ASSERT_EQUAL(std::string("error:1007|"), decode(Role::SERVER, first));
		}
		// And in the middle of one large frame, before the rest of its payload arrives.
		{
			const std::string f = frame(FIN | TEXT, "\xFF" + std::string(100000, 'a'));
			CPPUNIT_ASSERT_EQUAL(std::string("error:1007|"), decode(Role::SERVER, f.substr(0, 20)));
		}
	}

	void testOversized()
	{
		const std::size_t max = 100;
		// Exactly the limit is fine, one fragment or several.
		CPPUNIT_ASSERT_EQUAL("binary:" + describe(pattern(100)) + "|",
		                     decodeEverySplit(Role::SERVER, frame(FIN | BINARY, pattern(100)), max));
		CPPUNIT_ASSERT_EQUAL(
		    "text:" + describe(std::string(100, 'a')) + "|",
		    decodeEverySplit(Role::SERVER,
		                     frame(TEXT, std::string(60, 'a')) + frame(FIN | CONTINUATION, std::string(40, 'a')), max));
		// One byte more is refused from the header alone, without any payload fed.
		CPPUNIT_ASSERT_EQUAL(std::string("error:1009|"), decode(Role::SERVER, header(FIN | BINARY, true, 101), max));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1009|"),
		                     decode(Role::SERVER, header(FIN | TEXT, true, 1ULL << 40), max));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1009|"),
		                     decode(Role::CLIENT, header(FIN | BINARY, false, 0x7FFFFFFFFFFFFFFFULL, 8), max));
		// The sum of fragments: refused at the header of the fragment that crosses the limit.
		const std::string fragments = frame(BINARY, pattern(60)) + frame(FIN | PING, "") +
		                              frame(CONTINUATION, pattern(30)) + header(FIN | CONTINUATION, true, 11);
		CPPUNIT_ASSERT_EQUAL(std::string("ping:|error:1009|"), decodeEverySplit(Role::SERVER, fragments, max));
		// The full stream gives the same answer.
		const std::string full = frame(BINARY, pattern(60)) + frame(FIN | PING, "") + frame(CONTINUATION, pattern(30)) +
		                         frame(FIN | CONTINUATION, pattern(11));
		CPPUNIT_ASSERT_EQUAL(std::string("ping:|error:1009|"), decodeEverySplit(Role::SERVER, full, max));
		// The limit counts a message, not the stream: a second message of 100 bytes is fine.
		CPPUNIT_ASSERT_EQUAL(
		    "binary:" + describe(pattern(100)) + "|binary:" + describe(pattern(100)) + "|",
		    decodeEverySplit(Role::SERVER, frame(FIN | BINARY, pattern(100)) + frame(FIN | BINARY, pattern(100)), max));
		// Control frames are not messages: a 125-byte ping passes a smaller limit.
		CPPUNIT_ASSERT_EQUAL("ping:" + describe(pattern(125)) + "|",
		                     decode(Role::SERVER, frame(FIN | PING, pattern(125)), 10));
		// A zero limit admits only empty messages.
		CPPUNIT_ASSERT_EQUAL(std::string("text:|error:1009|"),
		                     decode(Role::SERVER, frame(FIN | TEXT, "") + frame(FIN | TEXT, "a"), 0));
	}

	void testCloseFrames()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("close:1005:|"), decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, "")));
		for (std::uint16_t code : std::initializer_list<std::uint16_t>{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
		                                                               1011, 3000, 3999, 4000, 4999})
		{
			CPPUNIT_ASSERT_EQUAL("close:" + std::to_string(code) + ":|",
			                     decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, closeBody(code, ""))));
			CPPUNIT_ASSERT_EQUAL(
			    "close:" + std::to_string(code) + ":going \\xE2\\x82\\xAC|",
			    decodeEverySplit(Role::CLIENT, frame(FIN | CLOSE, closeBody(code, "going \xE2\x82\xAC"), false)));
		}
		// A reason of the full 123 bytes.
		CPPUNIT_ASSERT_EQUAL(
		    "close:1000:" + describe(std::string(123, 'r')) + "|",
		    decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, closeBody(1000, std::string(123, 'r')))));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, "\x03")));
		for (std::uint16_t code :
		     std::initializer_list<std::uint16_t>{0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535})
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE(std::to_string(code), std::string("error:1002|"),
			                             decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, closeBody(code, "reason"))));
		}
		CPPUNIT_ASSERT_EQUAL(std::string("error:1007|"),
		                     decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, closeBody(1000, "bad \xC0\xAF"))));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1007|"),
		                     decodeEverySplit(Role::SERVER, frame(FIN | CLOSE, closeBody(1000, "cut \xE2\x82"))));
		// Between fragments of a message, a close is delivered and the message is dropped.
		CPPUNIT_ASSERT_EQUAL(std::string("close:1000:|"),
		                     decodeEverySplit(Role::SERVER, frame(TEXT, "part") +
		                                                        frame(FIN | CLOSE, closeBody(1000, "")) +
		                                                        frame(FIN | CONTINUATION, "rest")));
		// Nothing after the close frame is looked at; feed() reports where it stopped.
		const std::string close = frame(FIN | CLOSE, closeBody(1000, "bye"));
		const std::string stream = close + frame(FIN | TEXT, "after") + "garbage";
		const Result r = decodePieces(Role::SERVER, stream, {});
		CPPUNIT_ASSERT_EQUAL(std::string("close:1000:bye|"), r.events);
		CPPUNIT_ASSERT_EQUAL(close.size(), r.consumed);
	}

	void testNothingAfterStop()
	{
		FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
		Recorder recorder(decoder);
		std::string bad = frame(FIN | 0x40 | TEXT, "x") + frame(FIN | TEXT, "after");
		CPPUNIT_ASSERT(decoder.feed(&bad[0], bad.size(), recorder) < bad.size());
		CPPUNIT_ASSERT(decoder.stopped());
		std::string more = frame(FIN | TEXT, "more") + frame(FIN | CLOSE, "");
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), decoder.feed(&more[0], more.size(), recorder));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), recorder.events);
		CPPUNIT_ASSERT(!recorder.afterStop);

		// stop() from outside a callback, with a message half received.
		FrameDecoder other(Role::SERVER, DEFAULT_MAX);
		Recorder otherRecorder(other);
		std::string f = frame(FIN | TEXT, "hello world");
		CPPUNIT_ASSERT_EQUAL(std::size_t(8), other.feed(&f[0], 8, otherRecorder));
		other.stop();
		CPPUNIT_ASSERT(other.stopped());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), other.feed(&f[8], f.size() - 8, otherRecorder));
		CPPUNIT_ASSERT_EQUAL(std::string(), otherRecorder.events);
	}

	void testStopFromCallback()
	{
		// stop() inside onMessage: the rest of the buffer is ignored and feed() says where it stopped.
		{
			FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
			Recorder recorder(decoder);
			recorder.stopOnMessage = true;
			const std::string first = frame(FIN | TEXT, "one");
			std::string stream = first + frame(FIN | TEXT, "two") + frame(FIN | PING, "p");
			CPPUNIT_ASSERT_EQUAL(first.size(), decoder.feed(&stream[0], stream.size(), recorder));
			CPPUNIT_ASSERT(decoder.stopped());
			CPPUNIT_ASSERT_EQUAL(std::string("text:one|"), recorder.events);
			CPPUNIT_ASSERT_EQUAL(std::size_t(0),
			                     decoder.feed(&stream[first.size()], stream.size() - first.size(), recorder));
			CPPUNIT_ASSERT_EQUAL(std::string("text:one|"), recorder.events);
			CPPUNIT_ASSERT(!recorder.afterStop);
		}
		// The same for a reassembled message, at every split of the stream.
		{
			const std::string stream = frame(TEXT, "o") + frame(FIN | CONTINUATION, "ne") + frame(FIN | TEXT, "two");
			for (std::size_t cut = 0; cut <= stream.size(); ++cut)
			{
				FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
				Recorder recorder(decoder);
				recorder.stopOnMessage = true;
				std::string copy = stream;
				decoder.feed(&copy[0], cut, recorder);
				decoder.feed(&copy[cut], copy.size() - cut, recorder);
				CPPUNIT_ASSERT_EQUAL(std::string("text:one|"), recorder.events);
				CPPUNIT_ASSERT(!recorder.afterStop);
			}
		}
		// stop() inside onPing, for a ping delivered from the reassembly buffer.
		{
			FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
			Recorder recorder(decoder);
			recorder.stopOnPing = true;
			std::string stream = frame(TEXT, "a") + frame(FIN | PING, "ping") + frame(FIN | CONTINUATION, "b");
			decoder.feed(&stream[0], 7 + 6 + 2, recorder); // two bytes into the ping's payload
			decoder.feed(&stream[15], stream.size() - 15, recorder);
			CPPUNIT_ASSERT_EQUAL(std::string("ping:ping|"), recorder.events);
			CPPUNIT_ASSERT(!recorder.afterStop);
		}
	}

	void testZeroCopy()
	{
		// An unfragmented frame entirely in the buffer is delivered in place, unmasked.
		std::string stream = frame(FIN | BINARY, "first") + frame(FIN | TEXT, "second") + frame(FIN | TEXT, "third");
		FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
		Recorder recorder(decoder);
		const std::size_t split = stream.size() - 4;
		decoder.feed(&stream[0], split, recorder);
		CPPUNIT_ASSERT_EQUAL(std::string("binary:first|text:second|"), recorder.events);
		CPPUNIT_ASSERT(recorder.lastData == &stream[6 + 5 + 6]); // second frame's payload
		CPPUNIT_ASSERT_EQUAL(std::string("second"), stream.substr(6 + 5 + 6, 6));
		// The third straddles two feeds, so it comes from the reassembly buffer.
		decoder.feed(&stream[split], 4, recorder);
		CPPUNIT_ASSERT_EQUAL(std::string("binary:first|text:second|text:third|"), recorder.events);
		const auto last = reinterpret_cast<std::uintptr_t>(recorder.lastData);
		const auto begin = reinterpret_cast<std::uintptr_t>(stream.data());
		CPPUNIT_ASSERT(last < begin || last >= begin + stream.size());

		// A header split from its payload still allows a view when the payload is all in the next feed.
		std::string f = frame(FIN | TEXT, "payload");
		decoder.feed(&f[0], 6, recorder);
		decoder.feed(&f[6], f.size() - 6, recorder);
		CPPUNIT_ASSERT(recorder.lastData == &f[6]);
	}

	void testMemory()
	{
		// The per-connection decoder stays small.
		CPPUNIT_ASSERT(sizeof(FrameDecoder) <= 64 + sizeof(std::string));

		// After a large straddling message the reassembly buffer's memory is returned.
		FrameDecoder decoder(Role::SERVER, DEFAULT_MAX);
		Recorder recorder(decoder);
		std::string big = frame(FIN | BINARY, pattern(200000));
		decoder.feed(&big[0], 1000, recorder);
		decoder.feed(&big[1000], big.size() - 1000, recorder);
		CPPUNIT_ASSERT_EQUAL("binary:" + describe(pattern(200000)) + "|", recorder.events);
		CPPUNIT_ASSERT(decoder.reassemblyCapacity() <= 64 * 1024);
		// Also for a fragmented one.
		std::string fragmented = frame(BINARY, pattern(100000)) + frame(FIN | CONTINUATION, pattern(100000));
		decoder.feed(&fragmented[0], fragmented.size(), recorder);
		CPPUNIT_ASSERT(decoder.reassemblyCapacity() <= 64 * 1024);
		CPPUNIT_ASSERT(!decoder.stopped());
	}

	void testEncoderHeaders()
	{
		const std::uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};
		const std::pair<std::uint64_t, std::size_t> sizes[] = {{0, 2},     {125, 2},    {126, 4},
		                                                       {65535, 4}, {65536, 10}, {1ULL << 40, 10}};
		for (const auto& s : sizes)
		{
			char out[MAX_HEADER_SIZE];
			CPPUNIT_ASSERT_EQUAL(s.second, encodeHeader(out, BINARY, true, s.first, nullptr));
			CPPUNIT_ASSERT_EQUAL(header(FIN | BINARY, false, s.first), std::string(out, s.second));
			CPPUNIT_ASSERT_EQUAL(s.second + 4, encodeHeader(out, TEXT, false, s.first, key));
			CPPUNIT_ASSERT_EQUAL(header(TEXT, true, s.first), std::string(out, s.second + 4));
		}
		// The examples of RFC 6455 section 5.7.
		CPPUNIT_ASSERT_EQUAL(std::string("\x81\x05\x48\x65\x6c\x6c\x6f"), encodeFrame(TEXT, "Hello"));
		CPPUNIT_ASSERT_EQUAL(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		                     encodeMaskedFrame(TEXT, "Hello", 0x37FA213D));
		CPPUNIT_ASSERT_EQUAL(std::string("\x01\x03\x48\x65\x6c"), encodeFrame(TEXT, "Hel", false));
		CPPUNIT_ASSERT_EQUAL(std::string("\x80\x02\x6c\x6f"), encodeFrame(CONTINUATION, "lo"));
		CPPUNIT_ASSERT_EQUAL(std::string("\x89\x05\x48\x65\x6c\x6c\x6f"), encodeFrame(PING, "Hello"));
		CPPUNIT_ASSERT_EQUAL(std::string("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		                     encodeMaskedFrame(PONG, "Hello", 0x37FA213D));
		CPPUNIT_ASSERT_EQUAL(std::string("\x82\x7E\x01\x00", 4),
		                     encodeFrame(BINARY, std::string(256, 'x')).substr(0, 4));
		CPPUNIT_ASSERT_EQUAL(std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10),
		                     encodeFrame(BINARY, std::string(65536, 'x')).substr(0, 10));
	}

	void testEncoderRoundTrip()
	{
		const std::size_t lengths[] = {0, 1, 7, 8, 9, 125, 126, 65535, 65536};
		for (std::size_t len : lengths)
		{
			const std::string payload = pattern(len);
			const std::string expected = "binary:" + describe(payload) + "|";
			CPPUNIT_ASSERT_EQUAL(expected, decode(Role::CLIENT, encodeFrame(BINARY, payload)));
			CPPUNIT_ASSERT_EQUAL(expected, decode(Role::SERVER, encodeMaskedFrame(BINARY, payload, 0xDEADBEEF)));
			CPPUNIT_ASSERT_EQUAL(expected, decode(Role::SERVER, encodeMaskedFrame(BINARY, payload, 0)));
		}
		// Fragmented text with control frames, both directions.
		const std::string client = encodeMaskedFrame(TEXT, "caf\xC3", 1, false) + encodeMaskedFrame(PING, "p", 2) +
		                           encodeMaskedFrame(CONTINUATION, "\xA9", 3) +
		                           encodeMaskedFrame(CLOSE, closePayload(1000, "done"), 4);
		CPPUNIT_ASSERT_EQUAL(std::string("ping:p|text:caf\\xC3\\xA9|close:1000:done|"),
		                     decodeEverySplit(Role::SERVER, client));
		const std::string server = encodeFrame(TEXT, "caf\xC3", false) + encodeFrame(PONG, "p") +
		                           encodeFrame(CONTINUATION, "\xA9") + encodeFrame(CLOSE, closePayload(4000, "done"));
		CPPUNIT_ASSERT_EQUAL(std::string("pong:p|text:caf\\xC3\\xA9|close:4000:done|"),
		                     decodeEverySplit(Role::CLIENT, server));
		// Each role refuses the other's frames.
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decode(Role::SERVER, encodeFrame(TEXT, "x")));
		CPPUNIT_ASSERT_EQUAL(std::string("error:1002|"), decode(Role::CLIENT, encodeMaskedFrame(TEXT, "x", 5)));
	}

	void testClosePayload()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("\x03\xE8", 2), closePayload(1000, ""));
		CPPUNIT_ASSERT_EQUAL(std::string("\x0F\xA0sorry", 7), closePayload(4000, "sorry"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(125), closePayload(1000, std::string(123, 'a')).size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(125), closePayload(1000, std::string(500, 'a')).size());
		// Multi-byte characters straddling the 123-byte limit at every alignment are cut whole.
		const char* chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
		for (const char* ch : chars)
		{
			for (std::size_t shift = 0; shift < 4; ++shift)
			{
				std::string reason(shift, 'x');
				while (reason.size() < 200)
					reason += ch;
				const std::string payload = closePayload(1011, reason);
				CPPUNIT_ASSERT(payload.size() <= 125);
				CPPUNIT_ASSERT(payload.size() >= 125 - 3);
				CPPUNIT_ASSERT(validate(payload.substr(2)));
				CPPUNIT_ASSERT_EQUAL(reason.substr(0, payload.size() - 2), payload.substr(2));
				CPPUNIT_ASSERT_EQUAL("close:1011:" + describe(payload.substr(2)) + "|",
				                     decode(Role::CLIENT, encodeFrame(CLOSE, payload)));
			}
		}
	}

	void testApplyMask()
	{
		const std::uint8_t key[4] = {0x01, 0x20, 0x03, 0x40};
		const std::string plain = pattern(50);
		std::string whole = plain;
		applyMask(&whole[0], whole.size(), key);
		for (std::size_t i = 0; i < plain.size(); ++i)
			CPPUNIT_ASSERT_EQUAL(static_cast<char>(plain[i] ^ key[i % 4]), whole[i]);
		// Masking in pieces at any offsets gives the same bytes.
		for (std::size_t cut = 0; cut <= plain.size(); ++cut)
		{
			std::string pieces = plain;
			applyMask(&pieces[0], cut, key, 0);
			applyMask(&pieces[cut], pieces.size() - cut, key, cut);
			CPPUNIT_ASSERT_EQUAL(whole, pieces);
		}
	}

	void testHandshake()
	{
		// RFC 6455 section 1.3.
		CPPUNIT_ASSERT_EQUAL(std::string("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
		CPPUNIT_ASSERT(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="));
		CPPUNIT_ASSERT(isValidClientKey("AAAAAAAAAAAAAAAAAAAAAA=="));
		CPPUNIT_ASSERT(isValidClientKey("+/+/+/+/+/+/+/+/+/+/+w=="));
		CPPUNIT_ASSERT(!isValidClientKey(""));
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25jZQ="));   // 23 characters
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25jZQ===")); // 25 characters
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25jZQAA"));  // no padding: 18 bytes
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25jZ==="));  // 15 bytes
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25j*Q=="));
		CPPUNIT_ASSERT(!isValidClientKey(" dGhlIHNhbXBsZSBub25jZQ="));
		CPPUNIT_ASSERT(!isValidClientKey("dGhlIHNhbXBsZSBub25jZQ-_"));
		const std::string key1 = generateClientKey();
		const std::string key2 = generateClientKey();
		CPPUNIT_ASSERT(isValidClientKey(key1));
		CPPUNIT_ASSERT(isValidClientKey(key2));
		CPPUNIT_ASSERT(key1 != key2);
		CPPUNIT_ASSERT_EQUAL(std::size_t(28), computeAcceptKey(key1).size());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(CodecTest);
