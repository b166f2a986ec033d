//
// CodecFuzzTest.cpp
//
// Deterministic randomized robustness test of the frame decoder: valid and mutated streams, random reads.
//


#include "TestRandom.h"
#include "ws/FrameDecoder.h"
#include "switchboard/Http.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::WS;


namespace {


constexpr std::uint8_t FIN = 0x80;


void check(bool condition, const char* what)
/// CPPUNIT_ASSERT builds a message object even when it passes; this is for the hot paths.
{
	if (!condition)
		CPPUNIT_FAIL(what);
}


using Random = Switchboard::Test::TestRandom;


bool referenceUtf8(const char* data, std::size_t n)
/// Decode-then-check, independent of Utf8Validator.
{
	const auto* s = reinterpret_cast<const unsigned char*>(data);
	std::size_t i = 0;
	while (i < n)
	{
		const unsigned c = s[i];
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
		if (i + len > n)
			return false;
		for (std::size_t k = 1; k < len; ++k)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}


using Switchboard::HttpText::appendUtf8; // encodes surrogate code points too (WTF-8)


class StreamBuilder
/// Generates a valid frame stream for one role together with the events a decoder must
/// report for it, given the message size limit.
{
public:
	StreamBuilder(Random& rng, Role role, std::size_t maxMessageSize):
	    _rng(rng),
	    _role(role),
	    _max(maxMessageSize)
	{
	}

	void build()
	{
		const std::size_t items = _rng.between(1, 8);
		for (std::size_t i = 0; i < items; ++i)
		{
			if (_rng.percent(25))
				control();
			else
				message();
		}
		if (_rng.percent(30))
			close();
	}

	std::string stream;
	std::string expected;
	std::vector<std::size_t> headers; // offset of every frame header in stream

private:
	void event(const std::string& e)
	{
		if (!_dead)
			expected += e + "|";
	}

	void frame(std::uint8_t b0, const std::string& payload)
	{
		headers.push_back(stream.size());
		const std::uint64_t len = payload.size();
		int lenBytes = len <= 125 ? 0 : len <= 0xFFFF ? 2 : 8;
		if (_rng.percent(5))
			lenBytes = std::max(lenBytes, _rng.percent(50) ? 2 : 8); // legal non-minimal form
		const bool masked = _role == Role::SERVER;
		stream += static_cast<char>(b0);
		const std::uint8_t maskBit = masked ? 0x80 : 0x00;
		if (lenBytes == 0)
			stream += static_cast<char>(maskBit | len);
		else if (lenBytes == 2)
		{
			stream += static_cast<char>(maskBit | 126);
			stream += static_cast<char>(len >> 8);
			stream += static_cast<char>(len & 0xFF);
		}
		else
		{
			stream += static_cast<char>(maskBit | 127);
			for (int shift = 56; shift >= 0; shift -= 8)
				stream += static_cast<char>((len >> shift) & 0xFF);
		}
		char key[4] = {0, 0, 0, 0};
		if (masked)
		{
			const std::uint64_t k = _rng.next();
			std::memcpy(key, &k, 4);
			stream.append(key, 4);
		}
		for (std::size_t i = 0; i < payload.size(); ++i)
			stream += static_cast<char>(payload[i] ^ key[i % 4]);
	}

	std::size_t messageLength()
	{
		const std::size_t r = _rng.below(100);
		if (r < 70)
			return _rng.below(200);
		if (r < 99)
			return _rng.between(200, 3000);
		return _rng.between(60000, 70000);
	}

	std::string text(std::size_t approxLen)
	{
		std::string s;
		while (s.size() < approxLen)
		{
			const std::size_t r = _rng.below(100);
			if (r < 60)
				appendUtf8(s, static_cast<std::uint32_t>(_rng.below(0x80)));
			else if (r < 75)
				appendUtf8(s, static_cast<std::uint32_t>(_rng.between(0x80, 0x7FF)));
			else if (r < 90)
			{
				auto cp = static_cast<std::uint32_t>(_rng.between(0x800, 0xFFFF - 0x800));
				if (cp >= 0xD800)
					cp += 0x800; // skip the surrogates
				appendUtf8(s, cp);
			}
			else
				appendUtf8(s, static_cast<std::uint32_t>(_rng.between(0x10000, 0x10FFFF)));
		}
		return s;
	}

	std::string bytes(std::size_t len)
	{
		std::string s(len, '\0');
		for (char& c : s)
			c = static_cast<char>(_rng.next());
		return s;
	}

	void message()
	{
		const bool isText = _rng.percent(50);
		const std::string payload = isText ? text(messageLength()) : bytes(messageLength());
		// Split anywhere, also inside a UTF-8 sequence; fragments may be empty.
		const std::size_t fragments = _rng.percent(60) ? 1 : _rng.between(2, 5);
		std::vector<std::size_t> cuts;
		for (std::size_t i = 1; i < fragments; ++i)
			cuts.push_back(_rng.below(payload.size() + 1));
		std::sort(cuts.begin(), cuts.end());
		cuts.push_back(payload.size());
		std::size_t begin = 0;
		for (std::size_t i = 0; i < cuts.size(); ++i)
		{
			if (i > 0 && _rng.percent(30))
				control();
			const bool last = i + 1 == cuts.size();
			const std::uint8_t opcode = i == 0 ? (isText ? TEXT : BINARY) : CONTINUATION;
			if (cuts[i] > _max)
			{
				event("E:1009");
				_dead = true;
			}
			frame(static_cast<std::uint8_t>((last ? FIN : 0) | opcode), payload.substr(begin, cuts[i] - begin));
			begin = cuts[i];
		}
		event((isText ? "T:" : "B:") + payload);
	}

	void control()
	{
		const std::string payload = bytes(_rng.percent(10) ? 125 : _rng.below(20));
		const bool ping = _rng.percent(50);
		frame(FIN | (ping ? PING : PONG), payload);
		event((ping ? "P:" : "O:") + payload);
	}

	void close()
	{
		if (_rng.percent(20))
		{
			frame(FIN | CLOSE, "");
			event("C:1005:");
		}
		else
		{
			const std::uint16_t codes[] = {1000, 1001, 1003, 1008, 1011, 3000, 4999};
			const std::uint16_t code = codes[_rng.below(7)];
			std::string reason = text(_rng.below(60));
			std::string body;
			body += static_cast<char>(code >> 8);
			body += static_cast<char>(code & 0xFF);
			frame(FIN | CLOSE, body + reason);
			event("C:" + std::to_string(code) + ":" + reason);
		}
		_dead = true;
	}

	Random& _rng;
	Role _role;
	std::size_t _max;
	bool _dead = false; // the decoder has stopped at this point of the stream
};


class CheckingHandler: public DecoderHandler
/// Records events and asserts the decoder's guarantees on every one of them.
{
public:
	CheckingHandler(FrameDecoder& decoder, std::size_t maxMessageSize, Random* stopper):
	    _decoder(decoder),
	    _max(maxMessageSize),
	    _stopper(stopper)
	{
	}

	void onMessage(bool isText, const char* data, std::size_t len) override
	{
		running();
		check(len <= _max, "message larger than maxMessageSize");
		if (isText)
			check(referenceUtf8(data, len), "text message is not valid UTF-8");
		events += isText ? "T:" : "B:";
		events.append(data, len);
		events += "|";
		maybeStop();
	}

	void onPing(const char* data, std::size_t len) override
	{
		running();
		check(len <= 125, "control payload over 125 bytes");
		events += "P:";
		events.append(data, len);
		events += "|";
		maybeStop();
	}

	void onPong(const char* data, std::size_t len) override
	{
		running();
		check(len <= 125, "control payload over 125 bytes");
		events += "O:";
		events.append(data, len);
		events += "|";
		maybeStop();
	}

	void onClose(std::uint16_t code, const char* reason, std::size_t reasonLen) override
	{
		terminal();
		check(code == 1005 ? reasonLen == 0 : FrameDecoder::isValidCloseCode(code), "bad close code");
		check(reasonLen <= 123, "close reason too long");
		check(referenceUtf8(reason, reasonLen), "close reason is not valid UTF-8");
		events += "C:" + std::to_string(code) + ":";
		events.append(reason, reasonLen);
		events += "|";
	}

	void onProtocolError(std::uint16_t closeCode, const char* reason) override
	{
		terminal();
		check(closeCode == 1002 || closeCode == 1007 || closeCode == 1009, "unexpected error code");
		check(reason != nullptr, "no error reason");
		events += "E:" + std::to_string(closeCode) + "|";
	}

	std::string events;

private:
	void running() { check(!_stopped && !_decoder.stopped(), "event after stop"); }

	void terminal()
	{
		check(!_stopped, "event after stop");
		check(_decoder.stopped(), "decoder not stopped on close or error");
		_stopped = true;
	}

	void maybeStop()
	{
		if (_stopper && _stopper->percent(10))
		{
			_decoder.stop();
			_stopped = true;
		}
	}

	FrameDecoder& _decoder;
	std::size_t _max;
	Random* _stopper;
	bool _stopped = false;
};


std::string run(Role role, const std::string& stream, std::size_t max, Random* chunker, Random* stopper)
/// Feeds a private copy of the stream (the decoder unmasks in place) whole, or in random
/// chunks, each in its own exactly sized heap block so sanitizers see overreads.
{
	FrameDecoder decoder(role, max);
	CheckingHandler handler(decoder, max, stopper);
	std::size_t maxChunk = stream.size();
	if (chunker)
	{
		const std::size_t mode = chunker->below(4);
		maxChunk = mode == 0 ? 1 : mode == 1 ? 16 : mode == 2 ? 512 : 8192;
		// Byte-at-a-time reads only for short streams, to keep the runtime down.
		if (maxChunk == 1 && stream.size() > 4096)
			maxChunk = 16;
	}
	std::size_t pos = 0;
	bool stopped = false;
	do
	{
		const std::size_t len = std::min(stream.size() - pos, chunker ? chunker->between(1, maxChunk) : stream.size());
		std::unique_ptr<char[]> piece(new char[len ? len : 1]);
		std::memcpy(piece.get(), stream.data() + pos, len);
		const std::size_t consumed = decoder.feed(piece.get(), len, handler);
		check(consumed <= len, "consumed more than fed");
		if (stopped)
			check(consumed == 0, "consumed input after stop");
		stopped = decoder.stopped();
		if (!stopped)
			check(consumed == len, "did not consume all input while running");
		pos += len;
	} while (pos < stream.size());
	return handler.events;
}


void mutate(Random& rng, std::string& s, const std::vector<std::size_t>& headers)
{
	const std::size_t count = rng.between(1, 4);
	for (std::size_t m = 0; m < count; ++m)
	{
		const std::size_t kind = rng.below(9);
		if (s.empty())
			s.assign(1, static_cast<char>(rng.next()));
		const std::size_t at = rng.below(s.size());
		switch (kind)
		{
			case 0: // flip one bit
				s[at] = static_cast<char>(s[at] ^ (1 << rng.below(8)));
				break;
			case 1: // random byte
				s[at] = static_cast<char>(rng.next());
				break;
			case 2: // truncate
				s.resize(at);
				break;
			case 3: // insert random bytes
				for (std::size_t i = rng.between(1, 32); i > 0; --i)
					s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(rng.next()));
				break;
			case 4: // erase a range
				s.erase(at, rng.between(1, 64));
				break;
			case 5: // duplicate a range
				s.insert(at, s.substr(rng.below(s.size()), rng.between(1, 200)));
				break;
			default: // damage a frame header: first byte, length byte or extended length
			{
				const std::size_t h = headers[rng.below(headers.size())];
				if (h >= s.size())
					break;
				const std::size_t offset = kind == 6 ? 0 : kind == 7 ? 1 : rng.between(2, 9);
				if (h + offset < s.size())
					s[h + offset] = static_cast<char>(kind == 8 && rng.percent(50) ? 0xFF : rng.next());
				break;
			}
		}
	}
}


} // namespace


class CodecFuzzTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(CodecFuzzTest);
	CPPUNIT_TEST(testRandomStreams);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRandomStreams()
	{
		const std::size_t limits[] = {0, 16, 125, 4096, 65536, 1 << 20, 1 << 20, 1 << 20};
		Random rng(0x5EED5EED12345678ULL);
		std::size_t valid = 0;
		std::size_t errors = 0;
		for (std::size_t iteration = 0; iteration < 20000; ++iteration)
		{
			const Role role = rng.percent(50) ? Role::SERVER : Role::CLIENT;
			const std::size_t max = limits[rng.below(8)];
			StreamBuilder builder(rng, role, max);
			builder.build();
			std::string stream = builder.stream;
			const std::size_t kind = rng.below(100);
			if (kind < 5)
			{
				// Pure noise.
				Random noise(rng.next());
				stream.resize(rng.below(2000));
				for (char& c : stream)
					c = static_cast<char>(noise.next());
			}
			else if (kind < 80)
				mutate(rng, stream, builder.headers);

			const std::string label = "iteration " + std::to_string(iteration);
			const std::string whole = run(role, stream, max, nullptr, nullptr);
			if (kind >= 80)
			{
				CPPUNIT_ASSERT_EQUAL_MESSAGE(label, builder.expected, whole);
				++valid;
			}
			if (whole.find("E:") != std::string::npos)
				++errors;
			// The events do not depend on how the stream is cut into reads.
			Random chunker(rng.next());
			CPPUNIT_ASSERT_MESSAGE(label, whole == run(role, stream, max, &chunker, nullptr));
			// Stopping from callbacks at random points: the handler checks nothing follows.
			if (iteration % 4 == 0)
			{
				Random stopper(rng.next());
				run(role, stream, max, &chunker, &stopper);
			}
		}
		// Sanity of the generator itself: both valid streams and rejected ones were exercised.
		CPPUNIT_ASSERT(valid > 3000);
		CPPUNIT_ASSERT(errors > 5000);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(CodecFuzzTest);
