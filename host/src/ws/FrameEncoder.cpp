//
// FrameEncoder.cpp
//
// Builds RFC 6455 frames: unmasked for the server role, masked for clients (tests, load generator).
//


#include "ws/FrameEncoder.h"
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#define SWITCHBOARD_WS_AVX2 1 // compiled for AVX2 per function, used when the CPU has it
#endif


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


namespace {


#if defined(SWITCHBOARD_WS_AVX2)
bool cpuHasAvx2() noexcept
{
	static const bool has = __builtin_cpu_supports("avx2");
	return has;
}


template <bool CheckAscii>
__attribute__((target("avx2"))) std::size_t maskBlocksAvx2(char* data, std::size_t len, std::uint32_t pattern32,
                                                           bool& sawHigh) noexcept
/// XORs 64 bytes per step while 64 remain (pattern32 lines up with data[0]); returns the bytes done.
{
	const __m256i pattern = _mm256_set1_epi32(static_cast<int>(pattern32));
	__m256i seen = _mm256_setzero_si256();
	std::size_t i = 0;
	for (; i + 64 <= len; i += 64)
	{
		__m256i* at = reinterpret_cast<__m256i*>(data + i);
		const __m256i b0 = _mm256_xor_si256(_mm256_loadu_si256(at), pattern);
		const __m256i b1 = _mm256_xor_si256(_mm256_loadu_si256(at + 1), pattern);
		_mm256_storeu_si256(at, b0);
		_mm256_storeu_si256(at + 1, b1);
		if (CheckAscii)
			seen = _mm256_or_si256(seen, _mm256_or_si256(b0, b1));
	}
	if (CheckAscii && _mm256_movemask_epi8(seen) != 0)
		sawHigh = true;
	return i;
}
#endif


template <bool CheckAscii>
inline bool mask(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset)
/// XORs data with the key; when CheckAscii, also returns whether every result byte is below 0x80.
{
	// Rotate the key so that byte 0 of the pattern lines up with data[0]; since 8 and 16 are
	// multiples of 4, the pattern repeated then fits every word.
	const unsigned char pattern[4] = {maskKey[offset & 3], maskKey[(offset + 1) & 3], maskKey[(offset + 2) & 3],
	                                  maskKey[(offset + 3) & 3]};
	std::uint32_t pattern32;
	std::memcpy(&pattern32, pattern, sizeof(pattern32));
	const std::uint64_t pattern64 = pattern32 * 0x0000000100000001ULL; // the same bytes twice, either byte order
	std::size_t i = 0;
	std::uint64_t seen = 0; // the OR of the result words, for the high bits
#if defined(SWITCHBOARD_WS_AVX2)
	if (len >= 128 && cpuHasAvx2())
	{
		bool sawHigh = false;
		i = maskBlocksAvx2<CheckAscii>(data, len, pattern32, sawHigh);
		if (sawHigh)
			seen = 0x80;
	}
#endif
#if defined(__SSE2__)
	const __m128i pattern128 = _mm_set1_epi32(static_cast<int>(pattern32));
	__m128i seen128 = _mm_setzero_si128();
	for (; i + 64 <= len; i += 64)
	{
		// Four blocks per round: fewer loop instructions per byte for the usual payload sizes.
		__m128i* at = reinterpret_cast<__m128i*>(data + i);
		const __m128i b0 = _mm_xor_si128(_mm_loadu_si128(at), pattern128);
		const __m128i b1 = _mm_xor_si128(_mm_loadu_si128(at + 1), pattern128);
		const __m128i b2 = _mm_xor_si128(_mm_loadu_si128(at + 2), pattern128);
		const __m128i b3 = _mm_xor_si128(_mm_loadu_si128(at + 3), pattern128);
		_mm_storeu_si128(at, b0);
		_mm_storeu_si128(at + 1, b1);
		_mm_storeu_si128(at + 2, b2);
		_mm_storeu_si128(at + 3, b3);
		if (CheckAscii)
			seen128 = _mm_or_si128(seen128, _mm_or_si128(_mm_or_si128(b0, b1), _mm_or_si128(b2, b3)));
	}
	for (; i + 16 <= len; i += 16)
	{
		__m128i* at = reinterpret_cast<__m128i*>(data + i);
		const __m128i block = _mm_xor_si128(_mm_loadu_si128(at), pattern128);
		_mm_storeu_si128(at, block);
		if (CheckAscii)
			seen128 = _mm_or_si128(seen128, block);
	}
	if (CheckAscii && _mm_movemask_epi8(seen128) != 0)
		seen = 0x80;
#endif
	for (; i + 8 <= len; i += 8)
	{
		std::uint64_t word;
		std::memcpy(&word, data + i, sizeof(word));
		word ^= pattern64;
		std::memcpy(data + i, &word, sizeof(word));
		seen |= word;
	}
	if (i + 4 <= len)
	{
		std::uint32_t word;
		std::memcpy(&word, data + i, sizeof(word));
		word ^= pattern32;
		std::memcpy(data + i, &word, sizeof(word));
		seen |= word;
		i += 4;
	}
	for (; i < len; ++i)
	{
		data[i] = static_cast<char>(data[i] ^ pattern[i & 3]);
		seen |= static_cast<unsigned char>(data[i]);
	}
	return (seen & 0x8080808080808080ULL) == 0;
}


} // namespace


void applyMask(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset)
{
	mask<false>(data, len, maskKey, offset);
}


bool applyMaskAscii(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset)
{
	return mask<true>(data, len, maskKey, offset);
}


} // namespace WS
} // namespace Switchboard
