//
// Utf8Validator.cpp
//
// Incremental UTF-8 validation for text messages and close reasons.
//


#include "ws/Utf8Validator.h"
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif


namespace Switchboard {
namespace WS {


namespace {


constexpr std::uint64_t HIGH_BITS = 0x8080808080808080ULL;


} // namespace


bool Utf8Validator::feed(const char* data, std::size_t len)
{
	if (_pending == FAILED)
		return false;

	const auto* p = reinterpret_cast<const unsigned char*>(data);
	const auto* end = p + len;
	// Work on locals so the compiler can keep the state in registers.
	std::uint8_t pending = _pending;
	std::uint8_t lo = _lo;
	std::uint8_t hi = _hi;
	while (p < end)
	{
		if (pending == 0)
		{
			// Between sequences: skip ASCII 16 or 8 bytes at a time (memcpy keeps unaligned loads legal).
#if defined(__SSE2__)
			while (end - p >= 16 && _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) == 0)
				p += 16;
#endif
			while (end - p >= 8)
			{
				std::uint64_t word;
				std::memcpy(&word, p, sizeof(word));
				if (word & HIGH_BITS)
					break;
				p += 8;
			}
			if (p == end)
				break;
			const unsigned char c = *p++;
			if (c < 0x80)
				continue;
			if (c < 0xC2)
			{
				// A stray continuation byte, or C0/C1 which can only start an overlong encoding.
				_pending = FAILED;
				return false;
			}
			if (c < 0xE0)
			{
				pending = 1;
				lo = 0x80;
				hi = 0xBF;
			}
			else if (c < 0xF0)
			{
				pending = 2;
				lo = c == 0xE0 ? 0xA0 : 0x80; // E0 80..9F would be overlong
				hi = c == 0xED ? 0x9F : 0xBF; // ED A0..BF would be a surrogate
			}
			else if (c < 0xF5)
			{
				pending = 3;
				lo = c == 0xF0 ? 0x90 : 0x80; // F0 80..8F would be overlong
				hi = c == 0xF4 ? 0x8F : 0xBF; // F4 90.. would exceed U+10FFFF
			}
			else
			{
				_pending = FAILED;
				return false;
			}
		}
		else
		{
			const unsigned char c = *p++;
			if (c < lo || c > hi)
			{
				_pending = FAILED;
				return false;
			}
			lo = 0x80;
			hi = 0xBF;
			--pending;
		}
	}
	_pending = pending;
	_lo = lo;
	_hi = hi;
	return true;
}


bool Utf8Validator::isValid(const char* data, std::size_t len)
{
	Utf8Validator validator;
	return validator.feed(data, len) && validator.complete();
}


} // namespace WS
} // namespace Switchboard
