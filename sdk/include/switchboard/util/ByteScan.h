//
// util/ByteScan.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): word-at-a-time byte search
// (SWAR), used by the JSON writer in Json.h and by protocol scanners.
//


#ifndef Switchboard_Util_ByteScan_INCLUDED
#define Switchboard_Util_ByteScan_INCLUDED


#include <cstddef>
#include <cstdint>
#include <cstring>


namespace Switchboard {
namespace ByteScan {


// Each helper marks, with the high bit of the byte, exactly the bytes of a 64-bit word that
// match. Adding to the low 7 bits never carries into the next byte, so there are no false
// positives and the first mark is the first match. All are thread-safe and allocate nothing.
constexpr std::uint64_t ONES = 0x0101010101010101ULL;
constexpr std::uint64_t LOW7 = 0x7F7F7F7F7F7F7F7FULL;
constexpr std::uint64_t HIGHS = ~LOW7;


inline std::uint64_t zeroBytes(std::uint64_t word) noexcept
{
	return ~(((word & LOW7) + LOW7) | word | LOW7);
}


inline std::uint64_t bytesEqual(std::uint64_t word, unsigned char c) noexcept
{
	return zeroBytes(word ^ (ONES * c));
}


inline std::uint64_t bytesBelowSpace(std::uint64_t word) noexcept
/// Bytes below 0x20.
{
	return ~(((word & LOW7) + ONES * (0x80 - 0x20)) | word) & HIGHS;
}


inline std::uint64_t loadWord(const char* p) noexcept
/// Eight bytes from p, unaligned.
{
	std::uint64_t word;
	std::memcpy(&word, p, sizeof(word));
	return word;
}


inline std::size_t firstMarkedByte(std::uint64_t marks) noexcept
/// The index in memory order of the first marked byte of a word read by loadWord(); marks != 0.
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return static_cast<std::size_t>(__builtin_clzll(marks)) / 8;
#elif defined(__GNUC__)
	return static_cast<std::size_t>(__builtin_ctzll(marks)) / 8;
#else
	std::size_t index = 0; // little-endian, as every MSVC target
	while ((marks & 0x80) == 0)
	{
		marks >>= 8;
		++index;
	}
	return index;
#endif
}


} // namespace ByteScan
} // namespace Switchboard


#endif // Switchboard_Util_ByteScan_INCLUDED
