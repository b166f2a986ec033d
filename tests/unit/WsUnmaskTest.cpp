//
// WsUnmaskTest.cpp
//
// Unit tests of the decoder's one-pass unmasking: applyMaskAscii() against applyMask() at every
// length, offset and position of a non-ASCII byte, and the UTF-8 check it lets the decoder skip
// for all-ASCII text, across pieces of a frame split anywhere.
//


#include "ws/FrameDecoder.h"
#include "ws/FrameEncoder.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <string>
#include <vector>


using namespace Switchboard::WS;


namespace {


class Events: public DecoderHandler
/// Records messages and the protocol error, if any.
{
public:
	void onMessage(bool isText, const char* data, std::size_t len) override
	{
		messages.push_back((isText ? "text:" : "binary:") + std::string(data, len));
	}
	void onPing(const char*, std::size_t) override {}
	void onPong(const char*, std::size_t) override {}
	void onClose(std::uint16_t, const char*, std::size_t) override {}
	void onProtocolError(std::uint16_t closeCode, const char*) override { error = closeCode; }

	std::vector<std::string> messages;
	std::uint16_t error = 0;
};


Events decodeInPieces(const std::string& wire, std::size_t piece)
/// Feeds the bytes piece by piece (each piece its own buffer, as reads deliver them).
{
	FrameDecoder decoder(Role::SERVER, 1 << 20);
	Events events;
	for (std::size_t at = 0; at < wire.size() && !decoder.stopped(); at += piece)
	{
		std::string chunk = wire.substr(at, piece);
		decoder.feed(&chunk[0], chunk.size(), events);
	}
	return events;
}


} // namespace


class WsUnmaskTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(WsUnmaskTest);
	CPPUNIT_TEST(testSameBytesAsApplyMask);
	CPPUNIT_TEST(testAsciiFlag);
	CPPUNIT_TEST(testTextSplitAnywhere);
	CPPUNIT_TEST(testAsciiAfterOpenSequence);
	CPPUNIT_TEST(testBinaryNotChecked);
	CPPUNIT_TEST_SUITE_END();

public:
	void testSameBytesAsApplyMask()
	{
		const std::uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};
		for (std::size_t length = 0; length <= 200; ++length)
			for (std::size_t offset = 0; offset < 8; ++offset)
			{
				std::string data;
				for (std::size_t i = 0; i < length; ++i)
					data += static_cast<char>((i * 37 + offset) & 0xFF);
				std::string expected = data;
				std::string actual = data;
				applyMask(expected.empty() ? nullptr : &expected[0], length, key, offset);
				applyMaskAscii(actual.empty() ? nullptr : &actual[0], length, key, offset);
				CPPUNIT_ASSERT_MESSAGE(std::to_string(length) + "/" + std::to_string(offset), expected == actual);
				// Masking twice gives the input back.
				applyMask(expected.empty() ? nullptr : &expected[0], length, key, offset);
				CPPUNIT_ASSERT(expected == data);
			}
	}

	void testAsciiFlag()
	{
		// The flag is about the unmasked bytes: mask ASCII text first, then unmask it.
		const std::uint8_t key[4] = {0x80, 0x01, 0xFF, 0x7F};
		for (std::size_t length = 0; length <= 150; ++length)
		{
			const std::string text(length, 'a');
			std::string wire = text;
			applyMask(wire.empty() ? nullptr : &wire[0], length, key, 1);
			std::string copy = wire;
			CPPUNIT_ASSERT(applyMaskAscii(copy.empty() ? nullptr : &copy[0], length, key, 1));
			CPPUNIT_ASSERT(copy == text);
			for (std::size_t at = 0; at < length; ++at)
			{
				std::string high = text;
				high[at] = static_cast<char>(0xC3);
				std::string masked = high;
				applyMask(&masked[0], length, key, 1);
				CPPUNIT_ASSERT_MESSAGE(std::to_string(length) + "@" + std::to_string(at),
				                       !applyMaskAscii(&masked[0], length, key, 1));
				CPPUNIT_ASSERT(masked == high);
			}
		}
	}

	void testTextSplitAnywhere()
	{
		// ASCII, valid UTF-8 around block edges, and invalid UTF-8, fed in pieces of every size.
		std::string ascii;
		for (int i = 0; i < 150; ++i)
			ascii += static_cast<char>('a' + i % 26);
		const std::string valid = ascii.substr(0, 63) + "\xC3\xA9" + ascii.substr(0, 60) + "\xE2\x82\xAC" + "z";
		const std::string invalid = ascii.substr(0, 70) + "\xC3" + "z";
		for (std::size_t piece = 1; piece <= 40; ++piece)
		{
			Events a = decodeInPieces(encodeMaskedFrame(TEXT, ascii, 0x11223344), piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(0), a.error);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), a.messages.size());
			CPPUNIT_ASSERT(a.messages[0] == "text:" + ascii);

			Events v = decodeInPieces(encodeMaskedFrame(TEXT, valid, 0xA5A5A5A5), piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(0), v.error);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), v.messages.size());
			CPPUNIT_ASSERT(v.messages[0] == "text:" + valid);

			Events bad = decodeInPieces(encodeMaskedFrame(TEXT, invalid, 0x01020304), piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(1007), bad.error);
			CPPUNIT_ASSERT(bad.messages.empty());
		}
	}

	void testAsciiAfterOpenSequence()
	{
		// A piece that is all ASCII still goes through the validator while a sequence is open:
		// here a lead byte ends one fragment and ASCII starts the next.
		const std::string wire = encodeMaskedFrame(TEXT, "abc\xC3", 7, false) +
		                         encodeMaskedFrame(CONTINUATION, "defghijklmnopqrstuvwxyz", 9);
		for (std::size_t piece = 1; piece <= wire.size(); ++piece)
		{
			Events events = decodeInPieces(wire, piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(1007), events.error);
			CPPUNIT_ASSERT(events.messages.empty());
		}
		// Completed by the next fragment, the same sequence is fine.
		const std::string good =
		    encodeMaskedFrame(TEXT, "abc\xC3", 7, false) + encodeMaskedFrame(CONTINUATION,
		                                                                     "\xA9"
		                                                                     "defghijklmnopqrstuvwxyz",
		                                                                     9);
		for (std::size_t piece = 1; piece <= good.size(); ++piece)
		{
			Events events = decodeInPieces(good, piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(0), events.error);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.messages.size());
			CPPUNIT_ASSERT(events.messages[0] == "text:abc\xC3\xA9"
			                                     "defghijklmnopqrstuvwxyz");
		}
	}

	void testBinaryNotChecked()
	{
		const std::string bytes = std::string("\xFF\xFE\x80", 3) + std::string(100, '\xC3');
		for (std::size_t piece = 1; piece <= 20; ++piece)
		{
			Events events = decodeInPieces(encodeMaskedFrame(BINARY, bytes, 0xDEADBEEF), piece);
			CPPUNIT_ASSERT_EQUAL(std::uint16_t(0), events.error);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.messages.size());
			CPPUNIT_ASSERT(events.messages[0] == "binary:" + bytes);
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(WsUnmaskTest);
