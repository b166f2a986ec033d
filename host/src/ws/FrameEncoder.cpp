//
// FrameEncoder.cpp
//
// Builds RFC 6455 frames: unmasked for the server role, masked for clients (tests, load generator).
//


#include "ws/FrameEncoder.h"
#include <cstring>


namespace Switchboard {
namespace WS {


std::size_t encodeHeader(char* out, Opcode opcode, bool fin, std::uint64_t payloadLen, const std::uint8_t* maskKey)
{
	auto* h = reinterpret_cast<unsigned char*>(out);
	h[0] = static_cast<unsigned char>((fin ? 0x80 : 0x00) | (opcode & 0x0F));
	const unsigned char maskBit = maskKey ? 0x80 : 0x00;
	std::size_t n;
	if (payloadLen <= 125)
	{
		h[1] = static_cast<unsigned char>(maskBit | payloadLen);
		n = 2;
	}
	else if (payloadLen <= 0xFFFF)
	{
		h[1] = maskBit | 126;
		h[2] = static_cast<unsigned char>(payloadLen >> 8);
		h[3] = static_cast<unsigned char>(payloadLen);
		n = 4;
	}
	else
	{
		h[1] = maskBit | 127;
		for (int i = 0; i < 8; ++i)
			h[2 + i] = static_cast<unsigned char>(payloadLen >> (56 - 8 * i));
		n = 10;
	}
	if (maskKey)
	{
		std::memcpy(h + n, maskKey, 4);
		n += 4;
	}
	return n;
}


std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin)
{
	char header[MAX_HEADER_SIZE];
	const std::size_t headerLen = encodeHeader(header, opcode, fin, payload.size(), nullptr);
	std::string frame;
	frame.reserve(headerLen + payload.size());
	frame.append(header, headerLen);
	frame.append(payload.data(), payload.size());
	return frame;
}


std::string encodeMaskedFrame(Opcode opcode, std::string_view payload, std::uint32_t maskKey, bool fin)
{
	const std::uint8_t key[4] = {static_cast<std::uint8_t>(maskKey >> 24), static_cast<std::uint8_t>(maskKey >> 16),
	                             static_cast<std::uint8_t>(maskKey >> 8), static_cast<std::uint8_t>(maskKey)};
	char header[MAX_HEADER_SIZE];
	const std::size_t headerLen = encodeHeader(header, opcode, fin, payload.size(), key);
	std::string frame;
	frame.reserve(headerLen + payload.size());
	frame.append(header, headerLen);
	frame.append(payload.data(), payload.size());
	applyMask(&frame[headerLen], payload.size(), key);
	return frame;
}


std::string closePayload(std::uint16_t code, std::string_view reason)
{
	constexpr std::size_t MAX_REASON = MAX_CONTROL_PAYLOAD - 2;
	std::size_t keep = reason.size();
	if (keep > MAX_REASON)
	{
		keep = MAX_REASON;
		// Back up while the first dropped byte continues a sequence, so the cut lands between
		// sequences. A valid sequence has at most 3 continuation bytes.
		for (int i = 0; i < 3 && keep > 0 && (static_cast<unsigned char>(reason[keep]) & 0xC0) == 0x80; ++i)
			--keep;
	}
	std::string payload;
	payload.reserve(2 + keep);
	payload.push_back(static_cast<char>(code >> 8));
	payload.push_back(static_cast<char>(code & 0xFF));
	payload.append(reason.data(), keep);
	return payload;
}


void applyMask(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset)
{
	// Rotate the key so that byte 0 of the pattern lines up with data[0]; since 8 is a multiple
	// of 4, the same 8-byte pattern then fits every 8-byte word.
	unsigned char pattern[8];
	for (std::size_t i = 0; i < 8; ++i)
		pattern[i] = maskKey[(offset + i) & 3];
	std::uint64_t wordMask;
	std::memcpy(&wordMask, pattern, sizeof(wordMask));

	std::size_t i = 0;
	for (; i + 8 <= len; i += 8)
	{
		std::uint64_t word;
		std::memcpy(&word, data + i, sizeof(word));
		word ^= wordMask;
		std::memcpy(data + i, &word, sizeof(word));
	}
	for (; i < len; ++i)
		data[i] = static_cast<char>(data[i] ^ pattern[i & 7]);
}


} // namespace WS
} // namespace Switchboard
