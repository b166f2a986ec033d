//
// FrameDecoderFuzz.cpp
//
// Fuzz target: the RFC 6455 frame decoder (host/src/ws/FrameDecoder.h). Input: two bytes of
// set-up (role, UTF-8 checking, message size limit, how to split), then the byte stream. Checks:
// the decoder reads nothing outside what it was given (every piece is a heap block of its exact
// size, so AddressSanitizer sees any stray read); fed whole or in pieces it reports the same
// events; those events are what an independent whole-buffer reading of RFC 6455 expects; every
// error is 1002, 1007 or 1009; messages respect the size limit and UTF-8; and the events, encoded
// again with the frame encoder (fragmented at will), decode to the same events.
//


#include "FuzzSupport.h"
#include "ReferenceUtf8.h"
#include "ws/FrameDecoder.h"
#include "ws/FrameEncoder.h"
#include <cstring>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::WS;
using Switchboard::Test::analyseUtf8;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;


namespace {


const std::size_t MESSAGE_LIMITS[] = {0, 7, 125, 300, 70000};


struct Event
{
	enum Kind
	{
		TEXT,
		BINARY,
		PING,
		PONG,
		CLOSE,
		ERROR
	} kind;
	std::uint16_t code = 0;
	std::string data; ///< payload, close reason or error reason

	bool operator==(const Event& other) const { return kind == other.kind && code == other.code && data == other.data; }

	std::string describe() const
	{
		static const char* const NAMES[] = {"text", "binary", "ping", "pong", "close", "error"};
		return std::string(NAMES[kind]) + "(" + std::to_string(code) + ", " + hexOf(data, 48) + ")";
	}
};


std::string describe(const std::vector<Event>& events)
{
	std::string out;
	for (const Event& e : events)
		out += e.describe() + " ";
	return out;
}


class Recorder: public DecoderHandler
{
public:
	explicit Recorder(const FrameDecoder& decoder):
	    _decoder(decoder)
	{
	}

	void onMessage(bool isText, const char* data, std::size_t len) override
	{
		FUZZ_CHECK(!_finished);
		FUZZ_CHECK_MSG(len <= _decoder.maxMessageSize(), std::to_string(len));
		events.push_back({isText ? Event::TEXT : Event::BINARY, 0, std::string(data, len)});
	}

	void onMessageBegin() override
	{
		FUZZ_CHECK(!_finished);
		++begins;
	}

	void onPing(const char* data, std::size_t len) override
	{
		FUZZ_CHECK(!_finished);
		FUZZ_CHECK(len <= MAX_CONTROL_PAYLOAD);
		events.push_back({Event::PING, 0, std::string(data, len)});
	}

	void onPong(const char* data, std::size_t len) override
	{
		FUZZ_CHECK(!_finished);
		FUZZ_CHECK(len <= MAX_CONTROL_PAYLOAD);
		events.push_back({Event::PONG, 0, std::string(data, len)});
	}

	void onClose(std::uint16_t code, const char* reason, std::size_t reasonLen) override
	{
		FUZZ_CHECK(!_finished);
		FUZZ_CHECK(_decoder.stopped());
		FUZZ_CHECK_MSG(code == 1005 ? reasonLen == 0 : FrameDecoder::isValidCloseCode(code), std::to_string(code));
		FUZZ_CHECK(analyseUtf8(std::string_view(reason, reasonLen)).valid);
		_finished = true;
		events.push_back({Event::CLOSE, code, std::string(reason, reasonLen)});
	}

	void onProtocolError(std::uint16_t closeCode, const char* reason) override
	{
		FUZZ_CHECK(!_finished);
		FUZZ_CHECK(_decoder.stopped());
		FUZZ_CHECK_MSG(closeCode == 1002 || closeCode == 1007 || closeCode == 1009, std::to_string(closeCode));
		FUZZ_CHECK(reason != nullptr && *reason != '\0');
		_finished = true;
		events.push_back({Event::ERROR, closeCode, reason});
	}

	std::vector<Event> events;
	std::size_t begins = 0;

private:
	const FrameDecoder& _decoder;
	bool _finished = false;
};


std::uint32_t nextRandom(std::uint32_t& state)
{
	// xorshift32: a split pattern that depends on the input and nothing else.
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return state;
}


void feedPiece(FrameDecoder& decoder, Recorder& recorder, std::string_view piece)
/// Feeds a heap copy of exactly piece.size() bytes, so reading past it is a heap overflow.
{
	std::unique_ptr<char[]> copy(new char[piece.size() > 0 ? piece.size() : 1]);
	if (!piece.empty())
		std::memcpy(copy.get(), piece.data(), piece.size());
	const bool wasStopped = decoder.stopped();
	const std::size_t used = decoder.feed(copy.get(), piece.size(), recorder);
	FUZZ_CHECK_MSG(used <= piece.size(), std::to_string(used) + " of " + std::to_string(piece.size()));
	if (wasStopped)
		FUZZ_CHECK(used == 0);
	else if (!decoder.stopped())
		FUZZ_CHECK(used == piece.size());
	// The reassembly buffer holds at most one message's fragments and one control frame.
	FUZZ_CHECK(decoder.bufferedBytes() <= decoder.maxMessageSize() + MAX_CONTROL_PAYLOAD);
}


std::vector<Event> referenceEvents(std::string stream, Role role, bool checkText, std::size_t maxMessage)
/// RFC 6455 read in one pass over the whole buffer, as the decoder documents it: header checks
/// first, the size limit from the header, UTF-8 of text as far as the payload has arrived.
{
	std::vector<Event> events;
	std::string message; // fragments of the open data message
	bool open = false;
	bool messageText = false;
	std::size_t pos = 0;
	auto byteAt = [&](std::size_t i) { return static_cast<std::uint8_t>(stream[i]); };
	auto error = [&](std::uint16_t code) {
		events.push_back({Event::ERROR, code, ""});
		return events;
	};
	while (stream.size() - pos >= 2)
	{
		const std::uint8_t b0 = byteAt(pos);
		const std::uint8_t b1 = byteAt(pos + 1);
		const bool fin = b0 & 0x80;
		const std::uint8_t opcode = b0 & 0x0F;
		const bool masked = b1 & 0x80;
		const bool control = opcode >= 8;
		if ((b0 & 0x70) != 0 || !(opcode <= 2 || (opcode >= 8 && opcode <= 10)))
			return error(1002);
		if (masked != (role == Role::SERVER) || (control && !fin))
			return error(1002);
		if ((opcode == 0 && !open) || ((opcode == 1 || opcode == 2) && open))
			return error(1002);
		std::size_t header = 2;
		std::uint64_t length = b1 & 0x7F;
		const std::size_t extended = length == 126 ? 2 : length == 127 ? 8 : 0;
		if (stream.size() - pos < header + extended + (masked ? 4 : 0))
			break;
		if (extended > 0)
		{
			length = 0;
			for (std::size_t i = 0; i < extended; ++i)
				length = (length << 8) | byteAt(pos + 2 + i);
			header += extended;
			if (length >> 63)
				return error(1002);
		}
		std::uint8_t key[4] = {0, 0, 0, 0};
		if (masked)
		{
			std::memcpy(key, stream.data() + pos + header, 4);
			header += 4;
		}
		if (control && length > 125)
			return error(1002);
		if (!control && length > maxMessage - message.size())
			return error(1009);
		pos += header;
		const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(length, stream.size() - pos));
		std::string payload = stream.substr(pos, available);
		for (std::size_t i = 0; i < payload.size(); ++i)
			payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
		pos += available;
		if (!control)
		{
			if (opcode != 0)
			{
				open = true;
				messageText = opcode == 1;
			}
			message += payload;
			const bool check = checkText && messageText;
			if (check && analyseUtf8(message).validPrefix < message.size())
				return error(1007);
			if (available < length)
				break;
			if (!fin)
				continue;
			if (check && !analyseUtf8(message).valid)
				return error(1007);
			events.push_back({messageText ? Event::TEXT : Event::BINARY, 0, message});
			message.clear();
			open = false;
			continue;
		}
		if (available < length)
			break;
		if (opcode == PING || opcode == PONG)
		{
			events.push_back({opcode == PING ? Event::PING : Event::PONG, 0, payload});
			continue;
		}
		if (payload.empty())
		{
			events.push_back({Event::CLOSE, 1005, ""});
			return events;
		}
		if (payload.size() == 1)
			return error(1002);
		const auto code = static_cast<std::uint16_t>((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
		const bool codeOk =
		    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
		if (!codeOk)
			return error(1002);
		if (!analyseUtf8(std::string_view(payload).substr(2)).valid)
			return error(1007);
		events.push_back({Event::CLOSE, code, payload.substr(2)});
		return events;
	}
	return events;
}


bool sameOutcome(const std::vector<Event>& decoded, const std::vector<Event>& expected)
/// Equal events, comparing only the close code of an error (the reference has no reasons).
{
	if (decoded.size() != expected.size())
		return false;
	for (std::size_t i = 0; i < decoded.size(); ++i)
	{
		if (decoded[i].kind == Event::ERROR && expected[i].kind == Event::ERROR)
		{
			if (decoded[i].code != expected[i].code)
				return false;
		}
		else if (!(decoded[i] == expected[i]))
			return false;
	}
	return true;
}


std::string reencode(const std::vector<Event>& events, Role role, std::uint32_t& random)
/// The events as a peer of the decoder would send them; data messages fragmented at random.
{
	std::string out;
	auto frame = [&](Opcode opcode, std::string_view payload, bool fin) {
		if (role == Role::SERVER)
			out += encodeMaskedFrame(opcode, payload, nextRandom(random), fin);
		else
			out += encodeFrame(opcode, payload, fin);
	};
	for (const Event& e : events)
	{
		switch (e.kind)
		{
			case Event::TEXT:
			case Event::BINARY:
			{
				const std::size_t pieces = 1 + nextRandom(random) % 3;
				const std::size_t step = e.data.size() / pieces;
				std::size_t at = 0;
				for (std::size_t i = 0; i < pieces; ++i)
				{
					const bool last = i + 1 == pieces;
					const std::size_t n = last ? e.data.size() - at : step;
					frame(i == 0 ? (e.kind == Event::TEXT ? TEXT : BINARY) : CONTINUATION,
					      std::string_view(e.data).substr(at, n), last);
					at += n;
				}
				break;
			}
			case Event::PING:
				frame(PING, e.data, true);
				break;
			case Event::PONG:
				frame(PONG, e.data, true);
				break;
			case Event::CLOSE:
				frame(CLOSE, e.code == 1005 ? std::string() : closePayload(e.code, e.data), true);
				break;
			case Event::ERROR:
				break; // not something a peer sends; it ends the list
		}
	}
	return out;
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	const std::uint8_t setup = input.takeByte();
	const std::uint8_t split = input.takeByte();
	const Role role = (setup & 1) ? Role::CLIENT : Role::SERVER;
	const bool checkText = (setup & 2) == 0;
	const std::size_t maxMessage = MESSAGE_LIMITS[(setup >> 2) % std::size(MESSAGE_LIMITS)];
	const std::string stream(input.rest());

	// Whole: one piece.
	FrameDecoder whole(role, maxMessage);
	whole.setCheckText(checkText);
	Recorder wholeEvents(whole);
	feedPiece(whole, wholeEvents, stream);

	// In pieces of 0 to maxPiece bytes, the sizes drawn from the set-up and the stream.
	FrameDecoder pieces(role, maxMessage);
	pieces.setCheckText(checkText);
	Recorder pieceEvents(pieces);
	std::uint32_t random = 0x9E3779B9u ^ (std::uint32_t(split) << 8) ^ std::uint32_t(stream.size());
	if (random == 0)
		random = 1; // xorshift stays at 0
	const std::size_t maxPiece = 1 + (split % 24);
	std::size_t at = 0;
	while (at < stream.size() && !pieces.stopped())
	{
		const std::size_t n = std::min<std::size_t>(nextRandom(random) % (maxPiece + 1), stream.size() - at);
		feedPiece(pieces, pieceEvents, std::string_view(stream).substr(at, n));
		at += n;
	}
	// Once stopped, input is ignored.
	if (pieces.stopped())
		feedPiece(pieces, pieceEvents, "\x81\x80xxxx");

	FUZZ_CHECK_MSG(wholeEvents.events == pieceEvents.events,
	               "whole: " + describe(wholeEvents.events) + "\npieces: " + describe(pieceEvents.events));
	FUZZ_CHECK(wholeEvents.begins == pieceEvents.begins);
	FUZZ_CHECK(whole.stopped() == pieces.stopped());
	FUZZ_CHECK(whole.invalidText() == pieces.invalidText());

	const std::vector<Event> expected = referenceEvents(stream, role, checkText, maxMessage);
	FUZZ_CHECK_MSG(sameOutcome(wholeEvents.events, expected),
	               "decoder: " + describe(wholeEvents.events) + "\nreference: " + describe(expected));
	if (!wholeEvents.events.empty() && wholeEvents.events.back().kind == Event::ERROR)
	{
		const Event& last = wholeEvents.events.back();
		FUZZ_CHECK(whole.invalidText() == (last.code == 1007 && last.data.rfind("text message", 0) == 0));
	}

	// Encoded again, the events decode to themselves (the error that ended them excepted).
	std::vector<Event> replayable = wholeEvents.events;
	if (!replayable.empty() && replayable.back().kind == Event::ERROR)
		replayable.pop_back();
	const std::string again = reencode(replayable, role, random);
	FrameDecoder second(role, maxMessage);
	second.setCheckText(checkText);
	Recorder secondEvents(second);
	feedPiece(second, secondEvents, again);
	FUZZ_CHECK_MSG(secondEvents.events == replayable,
	               "first: " + describe(replayable) + "\nre-encoded: " + describe(secondEvents.events));
	return 0;
}
