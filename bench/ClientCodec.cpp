//
// ClientCodec.cpp
//


#include "ClientCodec.h"
#include <cstring>


namespace Switchboard {
namespace Bench {


namespace {


void maskCopy(char* dst, const char* src, std::size_t size, std::uint32_t key)
{
	// Key bytes in wire order repeated twice: the payload is XORed 8 bytes at a time.
	unsigned char k[4] = {static_cast<unsigned char>(key >> 24), static_cast<unsigned char>(key >> 16),
	                      static_cast<unsigned char>(key >> 8), static_cast<unsigned char>(key)};
	unsigned char k8[8];
	for (int i = 0; i < 8; ++i)
		k8[i] = k[i & 3];
	std::uint64_t wide;
	std::memcpy(&wide, k8, 8);
	std::size_t i = 0;
	for (; i + 8 <= size; i += 8)
	{
		std::uint64_t v;
		std::memcpy(&v, src + i, 8);
		v ^= wide;
		std::memcpy(dst + i, &v, 8);
	}
	for (; i < size; ++i)
		dst[i] = static_cast<char>(src[i] ^ k[i & 3]);
}


} // namespace


ClientCodec::ClientCodec(std::uint64_t seed):
    _state(seed ? seed : 0x9E3779B97F4A7C15ull)
{
}


std::uint32_t ClientCodec::nextKey()
{
	// xorshift64*: masking keys need to be unpredictable to proxies, not cryptographic here.
	_state ^= _state >> 12;
	_state ^= _state << 25;
	_state ^= _state >> 27;
	return static_cast<std::uint32_t>((_state * 0x2545F4914F6CDD1Dull) >> 32);
}


void ClientCodec::appendFrame(std::string& out, int opcode, const char* data, std::size_t size)
{
	char header[14];
	std::size_t h = 0;
	header[h++] = static_cast<char>(0x80 | (opcode & 0x0F));
	if (size < 126)
		header[h++] = static_cast<char>(0x80 | size);
	else if (size <= 0xFFFF)
	{
		header[h++] = static_cast<char>(0x80 | 126);
		header[h++] = static_cast<char>(size >> 8);
		header[h++] = static_cast<char>(size);
	}
	else
	{
		header[h++] = static_cast<char>(0x80 | 127);
		for (int shift = 56; shift >= 0; shift -= 8)
			header[h++] = static_cast<char>(static_cast<std::uint64_t>(size) >> shift);
	}
	const std::uint32_t key = nextKey();
	header[h++] = static_cast<char>(key >> 24);
	header[h++] = static_cast<char>(key >> 16);
	header[h++] = static_cast<char>(key >> 8);
	header[h++] = static_cast<char>(key);
	const std::size_t start = out.size();
	out.resize(start + h + size);
	std::memcpy(&out[start], header, h);
	maskCopy(&out[start + h], data, size, key);
}


ClientCodec::Parse ClientCodec::parse(char* data, std::size_t size, std::size_t maxPayload, Frame& frame)
{
	if (size < 2)
		return Parse::NEED_MORE;
	const unsigned char b0 = static_cast<unsigned char>(data[0]);
	const unsigned char b1 = static_cast<unsigned char>(data[1]);
	if (b0 & 0x70)
		return Parse::INVALID;
	const int opcode = b0 & 0x0F;
	if (opcode != CONTINUATION && opcode != TEXT && opcode != BINARY && opcode != CLOSE && opcode != PING &&
	    opcode != PONG)
		return Parse::INVALID;
	std::size_t header = 2;
	std::uint64_t length = b1 & 0x7F;
	if (length == 126)
	{
		if (size < 4)
			return Parse::NEED_MORE;
		length = (static_cast<std::uint64_t>(static_cast<unsigned char>(data[2])) << 8) |
		         static_cast<unsigned char>(data[3]);
		header = 4;
	}
	else if (length == 127)
	{
		if (size < 10)
			return Parse::NEED_MORE;
		length = 0;
		for (int i = 2; i < 10; ++i)
			length = (length << 8) | static_cast<unsigned char>(data[i]);
		header = 10;
	}
	if (length > maxPayload)
		return Parse::INVALID;
	const bool masked = (b1 & 0x80) != 0;
	std::uint32_t key = 0;
	if (masked)
	{
		if (size < header + 4)
			return Parse::NEED_MORE;
		for (int i = 0; i < 4; ++i)
			key = (key << 8) | static_cast<unsigned char>(data[header + i]);
		header += 4;
	}
	if (size < header + length)
		return Parse::NEED_MORE;
	frame.opcode = opcode;
	frame.fin = (b0 & 0x80) != 0;
	frame.data = data + header;
	frame.size = static_cast<std::size_t>(length);
	frame.frameSize = header + frame.size;
	if (masked)
		maskCopy(frame.data, frame.data, frame.size, key);
	return Parse::FRAME;
}


void writeDigits(char* at, std::uint64_t value, int digits)
{
	for (int i = digits - 1; i >= 0; --i)
	{
		at[i] = static_cast<char>('0' + value % 10);
		value /= 10;
	}
}


bool readDigits(const char* at, int digits, std::uint64_t& value)
{
	value = 0;
	for (int i = 0; i < digits; ++i)
	{
		if (at[i] < '0' || at[i] > '9')
			return false;
		value = value * 10 + static_cast<std::uint64_t>(at[i] - '0');
	}
	return true;
}


} // namespace Bench
} // namespace Switchboard
