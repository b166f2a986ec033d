//
// Codec.cpp
//


#include "Codec.h"
#include "switchboard/util/ByteScan.h"
#include "switchboard/util/HttpText.h"
#include <atomic>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#include <tmmintrin.h>
#define SWITCHBOARD_GOVPN_SSSE3 1 // compiled for SSSE3 (and AVX2) per function, used when the CPU has it
#endif


namespace Switchboard {
namespace Govpn {


namespace {
std::atomic<int> highestVectorLevel{static_cast<int>(VectorLevel::AVX512_VBMI)};
} // namespace


void limitVectorLevel(VectorLevel highest) noexcept
{
	highestVectorLevel.store(static_cast<int>(highest), std::memory_order_relaxed);
}


bool canUseVectors(VectorLevel level) noexcept
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
	static const bool supported[] = {true, __builtin_cpu_supports("ssse3") != 0, __builtin_cpu_supports("avx2") != 0,
	                                 __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw")};
#else
	static const bool supported[] = {true, false, false, false};
#endif
	const int wanted = static_cast<int>(level);
	return supported[wanted] && wanted <= highestVectorLevel.load(std::memory_order_relaxed);
}


namespace {


const int MAX_DEPTH = 64; // deeper input is refused rather than recursed into

bool isJsonSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


int hexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


constexpr char BASE64_DIGITS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t NOT_A_DIGIT = 0xFF;

// The tables are built at compile time: constant initialization, so base64 works even from
// other translation units' static initializers (a test's global key, for one).
struct Base64Values
/// Each byte's value as a base64 digit, or NOT_A_DIGIT.
{
	std::uint8_t value[256];

	constexpr Base64Values():
	    value{}
	{
		for (std::uint8_t& v : value)
			v = NOT_A_DIGIT;
		for (int i = 0; i < 64; ++i)
			value[static_cast<unsigned char>(BASE64_DIGITS[i])] = static_cast<std::uint8_t>(i);
	}
};

constexpr Base64Values BASE64_VALUES;


// A quad of digits decodes with four reads: each table holds a digit's value already shifted to
// its place in the 24-bit group, or BAD_QUAD (above 24 bits) for any other byte.
constexpr std::uint32_t BAD_QUAD = 0x01000000;

struct Base64QuadTables
{
	std::uint32_t shifted[4][256];

	constexpr Base64QuadTables():
	    shifted{}
	{
		for (int position = 0; position < 4; ++position)
			for (int c = 0; c < 256; ++c)
			{
				std::uint8_t v = BASE64_VALUES.value[c];
				shifted[position][c] =
				    v == NOT_A_DIGIT ? BAD_QUAD : static_cast<std::uint32_t>(v) << (18 - 6 * position);
			}
	}
};

constexpr Base64QuadTables BASE64_QUADS;


bool isPlainStringByte(unsigned char c) noexcept
{
	return c >= 0x20 && c != '"' && c != '\\';
}


bool isGoPlainByte(unsigned char c) noexcept
/// A byte Go's encoder copies as it is (§4.4); 0xE2 may start U+2028 or U+2029.
{
	return isPlainStringByte(c) && c != '<' && c != '>' && c != '&' && c != 0xE2;
}


#if defined(__SSE2__)
template <bool GO_ESCAPES>
unsigned specialMask(const char* p) noexcept
/// Bit k set when byte k of the 16 at p is one plainRun() stops at.
{
	const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
	// Unsigned "byte <= 0x1F": saturating subtraction leaves zero exactly for those.
	__m128i marks = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')), _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
	    _mm_cmpeq_epi8(_mm_subs_epu8(bytes, _mm_set1_epi8(0x1F)), _mm_setzero_si128()));
	if (GO_ESCAPES)
		marks = _mm_or_si128(marks,
		                     _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('<')),
		                                               _mm_cmpeq_epi8(bytes, _mm_set1_epi8('>'))),
		                                  _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('&')),
		                                               _mm_cmpeq_epi8(bytes, _mm_set1_epi8(static_cast<char>(0xE2))))));
	return static_cast<unsigned>(_mm_movemask_epi8(marks));
}
#endif


template <bool GO_ESCAPES>
std::size_t plainRun(const char* data, std::size_t from, std::size_t size) noexcept
/// The index, from `from` on, of the first byte of data[0, size) that a JSON string cannot hold
/// raw (GO_ESCAPES: that Go's encoder escapes), or size. Sixteen bytes per step with SSE2, and
/// the tail as one window over the buffer's last sixteen bytes; eight per step without.
{
	std::size_t i = from;
#if defined(__SSE2__)
	for (; i + 16 <= size; i += 16)
		if (unsigned mask = specialMask<GO_ESCAPES>(data + i))
			return i + static_cast<std::size_t>(__builtin_ctz(mask));
	if (i < size && size >= 16)
	{
		std::size_t window = size - 16;
		unsigned mask = specialMask<GO_ESCAPES>(data + window) >> (i - window);
		return mask != 0 ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : size;
	}
#else
	for (; i + 8 <= size; i += 8)
	{
		using namespace ByteScan;
		std::uint64_t word = loadWord(data + i);
		std::uint64_t marks = bytesEqual(word, '"') | bytesEqual(word, '\\') | bytesBelowSpace(word);
		if (GO_ESCAPES)
			marks |= bytesEqual(word, '<') | bytesEqual(word, '>') | bytesEqual(word, '&') | bytesEqual(word, 0xE2);
		if (marks != 0)
			return i + firstMarkedByte(marks);
	}
#endif
	while (i < size && (GO_ESCAPES ? isGoPlainByte(static_cast<unsigned char>(data[i]))
	                               : isPlainStringByte(static_cast<unsigned char>(data[i]))))
		++i;
	return i;
}


// Base64 digit pairs for every 12-bit value: two output characters per table read.
struct Base64Pairs
{
	char pair[4096][2];

	constexpr Base64Pairs():
	    pair{}
	{
		for (int v = 0; v < 4096; ++v)
		{
			pair[v][0] = BASE64_DIGITS[v >> 6];
			pair[v][1] = BASE64_DIGITS[v & 63];
		}
	}
};

constexpr Base64Pairs BASE64_PAIRS;


std::uint64_t toBigEndian(std::uint64_t word) noexcept
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return word;
#else
	return __builtin_bswap64(word);
#endif
}


#if defined(SWITCHBOARD_GOVPN_SSSE3)
// Base64 sixteen characters at a time. Debian's x86-64 baseline is SSE2, so these are compiled
// for SSSE3 alone and chosen at run time; the scalar code handles the rest and every error.

bool cpuHasSsse3() noexcept
{
	return canUseVectors(VectorLevel::SSSE3);
}


__attribute__((target("ssse3"))) std::size_t encodeBlocks(const unsigned char* in, std::size_t n, char* out) noexcept
/// Encodes 12 bytes into 16 characters per step while 16 bytes can be read; returns the bytes
/// consumed (a multiple of 12); out receives exactly 4/3 of that.
{
	std::size_t i = 0;
	// Each 32-bit lane gets its group's bytes as b1 b0 b2 b1, so the four 6-bit indexes sit in
	// fixed bit ranges of the two 16-bit halves and two multiplies move them to byte boundaries.
	const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m128i evenBits = _mm_set1_epi32(0x0FC0FC00), evenShift = _mm_set1_epi32(0x04000040);
	const __m128i oddBits = _mm_set1_epi32(0x003F03F0), oddShift = _mm_set1_epi32(0x01000010);
	// Index class: 0 for 26..51, 1..12 for 52..63, 13 for 0..25; then the offset to its ASCII.
	const __m128i offsets = _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
	for (; i + 16 <= n; i += 12, out += 16)
	{
		__m128i bytes = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)), spread);
		__m128i even = _mm_mulhi_epu16(_mm_and_si128(bytes, evenBits), evenShift);
		__m128i odd = _mm_mullo_epi16(_mm_and_si128(bytes, oddBits), oddShift);
		__m128i indexes = _mm_or_si128(even, odd);
		__m128i klass = _mm_subs_epu8(indexes, _mm_set1_epi8(51));
		__m128i below26 = _mm_cmpgt_epi8(_mm_set1_epi8(26), indexes);
		klass = _mm_or_si128(klass, _mm_and_si128(below26, _mm_set1_epi8(13)));
		__m128i ascii = _mm_add_epi8(indexes, _mm_shuffle_epi8(offsets, klass));
		_mm_storeu_si128(reinterpret_cast<__m128i*>(out), ascii);
	}
	return i;
}


__attribute__((target("ssse3"))) std::size_t decodeBlocks(const unsigned char* in, std::size_t n, char* out) noexcept
/// Decodes 16 digits into 12 bytes per step while 16 characters can be read and 16 bytes
/// written (out has room for n / 4 * 3 + 4); stops before a block holding anything but the 64
/// digits. Returns the characters consumed (a multiple of 16).
{
	std::size_t i = 0;
	auto inRange = [](__m128i c, char low, char high) {
		return _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8(static_cast<char>(low - 1))),
		                     _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(high + 1)), c));
	};
	// Each lane's three bytes, high first, gathered to the front.
	const __m128i gather = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	for (; i + 16 <= n; i += 16, out += 12)
	{
		__m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
		__m128i upper = inRange(c, 'A', 'Z'), lower = inRange(c, 'a', 'z'), digit = inRange(c, '0', '9');
		__m128i plus = _mm_cmpeq_epi8(c, _mm_set1_epi8('+')), slash = _mm_cmpeq_epi8(c, _mm_set1_epi8('/'));
		__m128i valid = _mm_or_si128(_mm_or_si128(upper, lower), _mm_or_si128(digit, _mm_or_si128(plus, slash)));
		if (_mm_movemask_epi8(valid) != 0xFFFF)
			break; // padding, an ignored or a wrong character: the scalar code decides
		__m128i offset = _mm_or_si128(
		    _mm_or_si128(_mm_and_si128(upper, _mm_set1_epi8(-65)), _mm_and_si128(lower, _mm_set1_epi8(-71))),
		    _mm_or_si128(
		        _mm_and_si128(digit, _mm_set1_epi8(4)),
		        _mm_or_si128(_mm_and_si128(plus, _mm_set1_epi8(19)), _mm_and_si128(slash, _mm_set1_epi8(16)))));
		__m128i values = _mm_add_epi8(c, offset);
		__m128i pairs = _mm_maddubs_epi16(values, _mm_set1_epi32(0x01400140)); // (a << 6) | b
		__m128i groups = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00011000));    // (ab << 12) | cd
		_mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(groups, gather));
	}
	return i;
}


bool cpuHasAvx2() noexcept
{
	return canUseVectors(VectorLevel::AVX2);
}


__attribute__((target("avx2"))) std::size_t encodeBlocksAvx2(const unsigned char* in, std::size_t n, char* out) noexcept
/// encodeBlocks() 24 bytes into 32 characters per step, each 128-bit lane taking 12 of them the
/// same way, while 28 bytes can be read.
{
	std::size_t i = 0;
	const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1, 0, 2, 1, 4, 3, 5, 4,
	                                        7, 6, 8, 7, 10, 9, 11, 10);
	const __m256i evenBits = _mm256_set1_epi32(0x0FC0FC00), evenShift = _mm256_set1_epi32(0x04000040);
	const __m256i oddBits = _mm256_set1_epi32(0x003F03F0), oddShift = _mm256_set1_epi32(0x01000010);
	const __m256i offsets = _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0, 71, -4, -4,
	                                         -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
	for (; i + 28 <= n; i += 24, out += 32)
	{
		const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
		const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 12));
		__m256i bytes = _mm256_shuffle_epi8(_mm256_set_m128i(high, low), spread);
		__m256i even = _mm256_mulhi_epu16(_mm256_and_si256(bytes, evenBits), evenShift);
		__m256i odd = _mm256_mullo_epi16(_mm256_and_si256(bytes, oddBits), oddShift);
		__m256i indexes = _mm256_or_si256(even, odd);
		__m256i klass = _mm256_subs_epu8(indexes, _mm256_set1_epi8(51));
		__m256i below26 = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), indexes);
		klass = _mm256_or_si256(klass, _mm256_and_si256(below26, _mm256_set1_epi8(13)));
		__m256i ascii = _mm256_add_epi8(indexes, _mm256_shuffle_epi8(offsets, klass));
		_mm256_storeu_si256(reinterpret_cast<__m256i*>(out), ascii);
	}
	return i;
}


__attribute__((target("avx2"))) std::size_t decodeBlocksAvx2(const unsigned char* in, std::size_t n, char* out) noexcept
/// decodeBlocks() 32 digits into 24 bytes per step (exactly 24 written). Validity comes from two
/// nibble tables: each high nibble names a class, and the low nibble's entry has that class's
/// bit set when the pair is not a digit (0x10: a class with no digits at all).
{
	std::size_t i = 0;
	const __m256i invalidForLow = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13,
	                                               0x1A, 0x1B, 0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11,
	                                               0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
	const __m256i classOfHigh = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
	                                             0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
	                                             0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
	// Value = character + offset of its high nibble ('/' gets 3 less than '+').
	const __m256i offsetOfHigh = _mm256_setr_epi8(0, 0, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 4,
	                                              -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i nibble = _mm256_set1_epi8(0x0F);
	const __m256i gather = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6, 5, 4,
	                                        10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m256i pack = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
	for (; i + 32 <= n; i += 32, out += 24)
	{
		const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
		const __m256i high = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
		const __m256i low = _mm256_and_si256(c, nibble);
		const __m256i bad =
		    _mm256_and_si256(_mm256_shuffle_epi8(invalidForLow, low), _mm256_shuffle_epi8(classOfHigh, high));
		if (!_mm256_testz_si256(bad, bad))
			break; // padding, an ignored or a wrong character: the scalar code decides
		const __m256i slash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('/'));
		const __m256i offset =
		    _mm256_add_epi8(_mm256_shuffle_epi8(offsetOfHigh, high), _mm256_and_si256(slash, _mm256_set1_epi8(-3)));
		const __m256i values = _mm256_add_epi8(c, offset);
		const __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
		const __m256i groups = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
		const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(groups, gather), pack);
		_mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(bytes));
		_mm_storel_epi64(reinterpret_cast<__m128i*>(out + 16), _mm256_extracti128_si256(bytes, 1));
	}
	return i;
}


// AVX-512 VBMI: byte permutes across the whole register make both directions a few
// instructions per 48 bytes. Chosen only when the CPU and the OS support it.

bool cpuHasVbmi() noexcept
{
	return canUseVectors(VectorLevel::AVX512_VBMI);
}


// The unmasked forms of GCC 12's byte permutes trip -Wmaybe-uninitialized (their pass-through
// source is "undefined"); the zero-masking forms with every lane selected are the same.
constexpr __mmask64 ALL = ~__mmask64(0);


struct AsciiDigitValues
/// Each ASCII character's digit value, 0x80 when it is not a digit: a 128-byte permute table.
{
	alignas(64) std::uint8_t value[128];

	constexpr AsciiDigitValues():
	    value{}
	{
		for (int c = 0; c < 128; ++c)
			value[c] = BASE64_VALUES.value[c] == NOT_A_DIGIT ? 0x80 : BASE64_VALUES.value[c];
	}
};

constexpr AsciiDigitValues ASCII_DIGIT_VALUES;


__attribute__((target("avx512f,avx512bw,avx512vbmi"))) std::size_t encodeBlocksVbmi(const unsigned char* in,
                                                                                    std::size_t n, char* out) noexcept
/// 48 bytes into 64 characters per step; reads and writes exactly that much.
{
	std::size_t i = 0;
	// Each 32-bit lane g gets bytes 3g+2, 3g+1, 3g (and 3g again): the group's 24 bits in order,
	// so the four 6-bit indexes sit at bits 18, 12, 6 and 0 of the lane.
	alignas(64) std::uint8_t spreadIndexes[64];
	for (int g = 0; g < 16; ++g)
	{
		spreadIndexes[4 * g] = static_cast<std::uint8_t>(3 * g + 2);
		spreadIndexes[4 * g + 1] = static_cast<std::uint8_t>(3 * g + 1);
		spreadIndexes[4 * g + 2] = static_cast<std::uint8_t>(3 * g);
		spreadIndexes[4 * g + 3] = static_cast<std::uint8_t>(3 * g);
	}
	const __m512i spread = _mm512_load_si512(spreadIndexes);
	// Bit offsets of the four indexes of both lanes of each 64-bit element, first digit first.
	const __m512i shifts = _mm512_set1_epi64(0x20262C3200060C12);
	const __m512i alphabet = _mm512_loadu_si512(BASE64_DIGITS);
	const __mmask64 inputBytes = 0x0000FFFFFFFFFFFF;
	for (; i + 48 <= n; i += 48, out += 64)
	{
		const __m512i bytes = _mm512_maskz_loadu_epi8(inputBytes, in + i);
		const __m512i indexes =
		    _mm512_maskz_multishift_epi64_epi8(ALL, shifts, _mm512_maskz_permutexvar_epi8(ALL, spread, bytes));
		_mm512_storeu_si512(out, _mm512_maskz_permutexvar_epi8(ALL, indexes, alphabet)); // the low 6 bits
	}
	return i;
}


__attribute__((target("avx512f,avx512bw,avx512vbmi"))) std::size_t decodeBlocksVbmi(const unsigned char* in,
                                                                                    std::size_t n, char* out) noexcept
/// 64 digits into 48 bytes per step (exactly 48 written); stops before a block holding anything
/// but digits.
{
	std::size_t i = 0;
	const __m512i valuesLow = _mm512_load_si512(ASCII_DIGIT_VALUES.value);
	const __m512i valuesHigh = _mm512_load_si512(ASCII_DIGIT_VALUES.value + 64);
	// After the multiply-adds each 32-bit lane holds its group's 24 bits, lowest byte first.
	alignas(64) std::uint8_t gatherIndexes[64] = {};
	for (int j = 0; j < 48; ++j)
		gatherIndexes[j] = static_cast<std::uint8_t>(4 * (j / 3) + 2 - j % 3);
	const __m512i gather = _mm512_load_si512(gatherIndexes);
	const __mmask64 outputBytes = 0x0000FFFFFFFFFFFF;
	for (; i + 64 <= n; i += 64, out += 48)
	{
		const __m512i c = _mm512_loadu_si512(in + i);
		const __m512i values = _mm512_permutex2var_epi8(valuesLow, c, valuesHigh); // by the low 7 bits
		if (_mm512_movepi8_mask(_mm512_or_si512(c, values)) != 0)
			break; // a non-ASCII byte or not a digit: the narrower code decides
		const __m512i pairs = _mm512_maddubs_epi16(values, _mm512_set1_epi32(0x01400140));
		const __m512i groups = _mm512_madd_epi16(pairs, _mm512_set1_epi32(0x00011000));
		_mm512_mask_storeu_epi8(out, outputBytes, _mm512_maskz_permutexvar_epi8(ALL, gather, groups));
	}
	return i;
}
#endif


} // namespace


bool isUtf8(std::string_view text)
{
	std::size_t i = 0;
	const std::size_t n = text.size();
	while (i < n)
	{
		// Signaling text is nearly all ASCII: eight bytes per step until a byte has its top bit.
		while (i + 8 <= n && (ByteScan::loadWord(text.data() + i) & ByteScan::HIGHS) == 0)
			i += 8;
		if (i >= n)
			break;
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c < 0x80)
		{
			++i;
			continue;
		}
		std::size_t length = 0;
		std::uint32_t cp = 0;
		if ((c & 0xE0) == 0xC0)
		{
			length = 2;
			cp = c & 0x1F;
		}
		else if ((c & 0xF0) == 0xE0)
		{
			length = 3;
			cp = c & 0x0F;
		}
		else if ((c & 0xF8) == 0xF0)
		{
			length = 4;
			cp = c & 0x07;
		}
		else
			return false;
		if (n - i < length)
			return false;
		for (std::size_t k = 1; k < length; ++k)
		{
			unsigned char cc = static_cast<unsigned char>(text[i + k]);
			if ((cc & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3F);
		}
		// Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
		if ((length == 2 && cp < 0x80) || (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += length;
	}
	return true;
}


// --- JsonDocument --------------------------------------------------------------------------------


bool JsonDocument::parse(std::string text)
{
	_text = std::move(text);
	_nodes.clear();
	_nodes.reserve(16); // an envelope or a request payload, without growing
	if (!isUtf8(_text))
		return false;
	std::size_t pos = 0;
	std::size_t index = 0;
	skipWhitespace(pos);
	if (!parseValue(pos, 0, index))
	{
		_nodes.clear();
		return false;
	}
	skipWhitespace(pos);
	if (pos != _text.size())
	{
		_nodes.clear();
		return false;
	}
	return true;
}


void JsonDocument::skipWhitespace(std::size_t& pos) const
{
	while (pos < _text.size() && isJsonSpace(_text[pos]))
		++pos;
}


bool JsonDocument::parseValue(std::size_t& pos, int depth, std::size_t& index)
{
	if (depth > MAX_DEPTH || pos >= _text.size())
		return false;
	index = _nodes.size();
	_nodes.emplace_back();
	_nodes[index].begin = pos;
	char c = _text[pos];
	if (c == '{')
	{
		_nodes[index].kind = JsonKind::OBJECT;
		++pos;
		skipWhitespace(pos);
		if (pos < _text.size() && _text[pos] == '}')
			++pos;
		else
		{
			while (true)
			{
				skipWhitespace(pos);
				std::string key;
				if (pos >= _text.size() || _text[pos] != '"' || !parseString(pos, key))
					return false;
				skipWhitespace(pos);
				if (pos >= _text.size() || _text[pos] != ':')
					return false;
				++pos;
				skipWhitespace(pos);
				std::size_t child = 0;
				if (!parseValue(pos, depth + 1, child))
					return false;
				_nodes[index].members.emplace_back(std::move(key), child);
				skipWhitespace(pos);
				if (pos < _text.size() && _text[pos] == ',')
				{
					++pos;
					continue;
				}
				if (pos < _text.size() && _text[pos] == '}')
				{
					++pos;
					break;
				}
				return false;
			}
		}
	}
	else if (c == '[')
	{
		_nodes[index].kind = JsonKind::ARRAY;
		++pos;
		skipWhitespace(pos);
		if (pos < _text.size() && _text[pos] == ']')
			++pos;
		else
		{
			while (true)
			{
				skipWhitespace(pos);
				std::size_t child = 0;
				if (!parseValue(pos, depth + 1, child))
					return false;
				skipWhitespace(pos);
				if (pos < _text.size() && _text[pos] == ',')
				{
					++pos;
					continue;
				}
				if (pos < _text.size() && _text[pos] == ']')
				{
					++pos;
					break;
				}
				return false;
			}
		}
	}
	else if (c == '"')
	{
		_nodes[index].kind = JsonKind::STRING;
		std::string value;
		if (!parseString(pos, value))
			return false;
		_nodes[index].text = std::move(value);
	}
	else if (_text.compare(pos, 4, "true") == 0)
	{
		_nodes[index].kind = JsonKind::BOOLEAN;
		_nodes[index].boolean = true;
		pos += 4;
	}
	else if (_text.compare(pos, 5, "false") == 0)
	{
		_nodes[index].kind = JsonKind::BOOLEAN;
		pos += 5;
	}
	else if (_text.compare(pos, 4, "null") == 0)
	{
		_nodes[index].kind = JsonKind::NUL;
		pos += 4;
	}
	else
	{
		_nodes[index].kind = JsonKind::NUMBER;
		if (!parseNumber(pos))
			return false;
	}
	_nodes[index].end = pos;
	return true;
}


bool JsonDocument::parseString(std::size_t& pos, std::string& out)
{
	++pos; // the opening quote
	const char* data = _text.data();
	const std::size_t size = _text.size();
	// Room for the text up to the next quote (the whole string unless it holds an escaped quote).
	if (const void* quote = std::memchr(data + pos, '"', size - pos))
		out.reserve(out.size() + static_cast<std::size_t>(static_cast<const char*>(quote) - (data + pos)));
	while (pos < size)
	{
		// Copy the run of plain bytes at once.
		std::size_t start = pos;
		pos = plainRun<false>(data, pos, size);
		out.append(data + start, pos - start);
		if (pos >= size)
			return false;
		char c = data[pos];
		if (c == '"')
		{
			++pos;
			return true;
		}
		if (c != '\\')
			return false; // a raw control character
		if (pos + 1 >= _text.size())
			return false;
		char e = _text[pos + 1];
		pos += 2;
		switch (e)
		{
			case '"':
				out += '"';
				break;
			case '\\':
				out += '\\';
				break;
			case '/':
				out += '/';
				break;
			case 'b':
				out += '\b';
				break;
			case 'f':
				out += '\f';
				break;
			case 'n':
				out += '\n';
				break;
			case 'r':
				out += '\r';
				break;
			case 't':
				out += '\t';
				break;
			case 'u':
			{
				auto readHex4 = [this](std::size_t at, std::uint32_t& value) {
					if (at + 4 > _text.size())
						return false;
					value = 0;
					for (std::size_t k = 0; k < 4; ++k)
					{
						int h = hexValue(_text[at + k]);
						if (h < 0)
							return false;
						value = (value << 4) | static_cast<std::uint32_t>(h);
					}
					return true;
				};
				std::uint32_t cp = 0;
				if (!readHex4(pos, cp))
					return false;
				pos += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					std::uint32_t low = 0;
					if (pos + 1 < _text.size() && _text[pos] == '\\' && _text[pos + 1] == 'u' &&
					    readHex4(pos + 2, low) && low >= 0xDC00 && low <= 0xDFFF)
					{
						pos += 6;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
					}
					else
						cp = 0xFFFD; // a lone surrogate, as Go decodes it
				}
				else if (cp >= 0xDC00 && cp <= 0xDFFF)
					cp = 0xFFFD;
				HttpText::appendUtf8(out, cp);
				break;
			}
			default:
				return false;
		}
	}
	return false;
}


bool JsonDocument::parseNumber(std::size_t& pos)
{
	auto digit = [this](std::size_t at) { return at < _text.size() && _text[at] >= '0' && _text[at] <= '9'; };
	if (pos < _text.size() && _text[pos] == '-')
		++pos;
	if (!digit(pos))
		return false;
	if (_text[pos] == '0')
		++pos;
	else
		while (digit(pos))
			++pos;
	if (pos < _text.size() && _text[pos] == '.')
	{
		++pos;
		if (!digit(pos))
			return false;
		while (digit(pos))
			++pos;
	}
	if (pos < _text.size() && (_text[pos] == 'e' || _text[pos] == 'E'))
	{
		++pos;
		if (pos < _text.size() && (_text[pos] == '+' || _text[pos] == '-'))
			++pos;
		if (!digit(pos))
			return false;
		while (digit(pos))
			++pos;
	}
	return true;
}


const JsonNode* JsonDocument::member(const JsonNode& object, std::string_view key) const
{
	for (auto it = object.members.rbegin(); it != object.members.rend(); ++it)
		if (it->first == key)
			return &_nodes[it->second];
	return nullptr;
}


std::string_view JsonDocument::raw(const JsonNode& node) const
{
	return std::string_view(_text).substr(node.begin, node.end - node.begin);
}


std::string JsonDocument::compact(const JsonNode& node) const
{
	std::string out;
	out.reserve(node.end - node.begin);
	bool inString = false;
	for (std::size_t i = node.begin; i < node.end; ++i)
	{
		char c = _text[i];
		if (inString)
		{
			out += c;
			if (c == '\\' && i + 1 < node.end)
				out += _text[++i];
			else if (c == '"')
				inString = false;
		}
		else if (c == '"')
		{
			inString = true;
			out += c;
		}
		else if (!isJsonSpace(c))
			out += c;
	}
	return out;
}


// --- output --------------------------------------------------------------------------------------


std::string& appendGoString(std::string& out, std::string_view text)
{
	static const char HEX[] = "0123456789abcdef";
	out.reserve(out.size() + text.size() + text.size() / 16 + 2);
	out += '"';
	const char* data = text.data();
	const std::size_t size = text.size();
	for (std::size_t i = 0; i < size; ++i)
	{
		// Append the run of bytes that need no escape at once.
		std::size_t start = i;
		i = plainRun<true>(data, i, size);
		out.append(data + start, i - start);
		if (i >= size)
			break;
		unsigned char c = static_cast<unsigned char>(text[i]);
		switch (c)
		{
			case '"':
				out += "\\\"";
				break;
			case '\\':
				out += "\\\\";
				break;
			case '\n':
				out += "\\n";
				break;
			case '\r':
				out += "\\r";
				break;
			case '\t':
				out += "\\t";
				break;
			case '<':
			case '>':
			case '&':
				out += "\\u00";
				out += HEX[c >> 4];
				out += HEX[c & 0xF];
				break;
			default:
				if (c < 0x20)
				{
					out += "\\u00";
					out += HEX[c >> 4];
					out += HEX[c & 0xF];
				}
				else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
				         (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
				          static_cast<unsigned char>(text[i + 2]) == 0xA9))
				{
					out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
					i += 2;
				}
				else
					out += static_cast<char>(c);
		}
	}
	out += '"';
	return out;
}


bool isGoQuoted(std::string_view token)
{
	const char* data = token.data();
	const std::size_t last = token.size() - 1; // the closing quote
	if (token.size() < 2 || data[0] != '"' || data[last] != '"')
		return false;
	std::size_t i = 1;
	while (true)
	{
		i = plainRun<true>(data, i, last);
		if (i >= last)
			return true;
		unsigned char c = static_cast<unsigned char>(data[i]);
		if (c == 0xE2) // U+2028 and U+2029 are escaped, other characters from E2 are not
		{
			if (i + 2 < last && static_cast<unsigned char>(data[i + 1]) == 0x80 &&
			    (static_cast<unsigned char>(data[i + 2]) & 0xFE) == 0xA8)
				return false;
			++i;
			continue;
		}
		if (c != '\\' || i + 1 >= last)
			return false; // < > & raw, where Go writes \u003c \u003e \u0026
		char e = data[i + 1];
		if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't')
		{
			i += 2;
			continue;
		}
		if (e != 'u' || i + 6 > last)
			return false; // \/ \b \f: Go writes / \u0008 \u000c
		std::uint32_t value = 0;
		for (std::size_t k = i + 2; k < i + 6; ++k)
		{
			char h = data[k];
			bool lowerHex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f');
			if (!lowerHex)
				return false;
			value = (value << 4) | static_cast<std::uint32_t>(hexValue(h));
		}
		bool goEscapes = (value < 0x20 && value != '\n' && value != '\r' && value != '\t') || value == '<' ||
		                 value == '>' || value == '&' || value == 0x2028 || value == 0x2029;
		if (!goEscapes)
			return false;
		i += 6;
	}
}


std::string goQuote(std::string_view text)
{
	std::string out;
	out.reserve(text.size() + 2);
	return appendGoString(out, text);
}


char* writeBase64(std::string_view bytes, char* o)
{
	const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
	const std::size_t n = bytes.size();
	std::size_t i = 0;
#if defined(SWITCHBOARD_GOVPN_SSSE3)
	if (cpuHasVbmi())
	{
		i = encodeBlocksVbmi(in, n, o);
		o += i / 3 * 4;
	}
	if (cpuHasAvx2())
	{
		std::size_t done = encodeBlocksAvx2(in + i, n - i, o);
		i += done;
		o += done / 3 * 4;
	}
	if (cpuHasSsse3())
	{
		std::size_t done = encodeBlocks(in + i, n - i, o);
		i += done;
		o += done / 3 * 4;
	}
#endif
	// Six bytes per step from one 8-byte read while eight bytes remain, then three at a time.
	for (; i + 8 <= n; i += 6, o += 8)
	{
		std::uint64_t word;
		std::memcpy(&word, in + i, 8);
		word = toBigEndian(word) >> 16; // the six bytes, first one highest
		std::memcpy(o, BASE64_PAIRS.pair[(word >> 36) & 0xFFF], 2);
		std::memcpy(o + 2, BASE64_PAIRS.pair[(word >> 24) & 0xFFF], 2);
		std::memcpy(o + 4, BASE64_PAIRS.pair[(word >> 12) & 0xFFF], 2);
		std::memcpy(o + 6, BASE64_PAIRS.pair[word & 0xFFF], 2);
	}
	for (; i + 3 <= n; i += 3, o += 4)
	{
		std::uint32_t v = (std::uint32_t(in[i]) << 16) | (std::uint32_t(in[i + 1]) << 8) | in[i + 2];
		std::memcpy(o, BASE64_PAIRS.pair[v >> 12], 2);
		std::memcpy(o + 2, BASE64_PAIRS.pair[v & 0xFFF], 2);
	}
	if (i < n)
	{
		std::uint32_t v = std::uint32_t(in[i]) << 16;
		if (i + 1 < n)
			v |= std::uint32_t(in[i + 1]) << 8;
		o[0] = BASE64_DIGITS[v >> 18];
		o[1] = BASE64_DIGITS[(v >> 12) & 63];
		o[2] = i + 1 < n ? BASE64_DIGITS[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	return o;
}


std::string& appendBase64(std::string& out, std::string_view bytes)
{
	std::size_t at = out.size();
	out.resize(at + base64Size(bytes.size()));
	writeBase64(bytes, out.data() + at);
	return out;
}


std::string base64Encode(std::string_view bytes)
{
	std::string out;
	return appendBase64(out, bytes);
}


bool base64Decode(std::string_view text, std::string& bytes, const char* ignore)
{
	std::string kept;
	bool hasIgnored = false; // one memchr per ignored character (find_first_of tests byte by byte)
	for (const char* c = ignore; c != nullptr && *c != '\0' && !hasIgnored; ++c)
		hasIgnored = std::memchr(text.data(), *c, text.size()) != nullptr;
	if (hasIgnored)
	{
		kept.reserve(text.size());
		for (char c : text)
			if (std::strchr(ignore, c) == nullptr || c == '\0')
				kept += c;
		text = kept;
	}
	bytes.clear();
	if (text.size() % 4 != 0)
		return false;
	bytes.resize(decodedCapacity(text.size()));
	std::size_t size = readBase64(text, bytes.data());
	if (size == BAD_BASE64)
	{
		bytes.clear();
		return false;
	}
	bytes.resize(size);
	return true;
}


std::size_t readBase64(std::string_view text, char* out)
{
	if (text.size() % 4 != 0)
		return BAD_BASE64;
	if (text.empty())
		return 0;
	const std::uint8_t* values = BASE64_VALUES.value;
	const auto* in = reinterpret_cast<const unsigned char*>(text.data());
	char* o = out;
	const std::size_t lastQuad = text.size() - 4;
	const auto& quads = BASE64_QUADS.shifted;
	std::size_t i = 0;
#if defined(SWITCHBOARD_GOVPN_SSSE3)
	// Never the last quad in blocks: it carries the padding.
	if (cpuHasVbmi())
	{
		i = decodeBlocksVbmi(in, lastQuad, o);
		o += i / 4 * 3;
	}
	if (cpuHasAvx2())
	{
		std::size_t done = decodeBlocksAvx2(in + i, lastQuad - i, o);
		i += done;
		o += done / 4 * 3;
	}
	if (cpuHasSsse3())
	{
		std::size_t done = decodeBlocks(in + i, lastQuad - i, o);
		i += done;
		o += done / 4 * 3;
	}
#endif
	for (; i < lastQuad; i += 4, o += 3)
	{
		std::uint32_t v = quads[0][in[i]] | quads[1][in[i + 1]] | quads[2][in[i + 2]] | quads[3][in[i + 3]];
		if (v >= BAD_QUAD)
			return BAD_BASE64;
		o[0] = static_cast<char>(v >> 16);
		o[1] = static_cast<char>(v >> 8);
		o[2] = static_cast<char>(v);
	}
	// The last quad carries the padding: "xxxx", "xxx=" or "xx==", with the unused bits zero.
	const unsigned char* q = in + lastQuad;
	std::uint32_t a = values[q[0]], b = values[q[1]];
	if (((a | b) & 0xC0) != 0)
		return BAD_BASE64;
	std::size_t tail = 3;
	std::uint32_t c = 0, d = 0;
	if (q[2] == '=')
	{
		if (q[3] != '=' || (b & 0x0F) != 0)
			return BAD_BASE64;
		tail = 1;
	}
	else
	{
		c = values[q[2]];
		if ((c & 0xC0) != 0)
			return BAD_BASE64;
		if (q[3] == '=')
		{
			if ((c & 0x03) != 0)
				return BAD_BASE64;
			tail = 2;
		}
		else
		{
			d = values[q[3]];
			if ((d & 0xC0) != 0)
				return BAD_BASE64;
		}
	}
	std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
	o[0] = static_cast<char>(v >> 16);
	if (tail > 1)
		o[1] = static_cast<char>(v >> 8);
	if (tail > 2)
		o[2] = static_cast<char>(v);
	return static_cast<std::size_t>(o - out) + tail;
}


void InnerWriter::key(std::string_view name)
{
	if (_out.size() > 1)
		_out += ',';
	appendGoString(_out, name);
	_out += ':';
}


InnerWriter& InnerWriter::string(std::string_view name, std::string_view value)
{
	key(name);
	appendGoString(_out, value);
	return *this;
}


InnerWriter& InnerWriter::integer(std::string_view name, std::int64_t value)
{
	key(name);
	_out += std::to_string(value);
	return *this;
}


InnerWriter& InnerWriter::boolean(std::string_view name, bool value)
{
	key(name);
	_out += value ? "true" : "false";
	return *this;
}


InnerWriter& InnerWriter::raw(std::string_view name, std::string_view json)
{
	key(name);
	_out += json;
	return *this;
}


std::string InnerWriter::finish()
{
	_out += '}';
	return std::move(_out);
}


std::string& appendFrame(std::string& out, std::string_view messageId, std::string_view type,
                         std::string_view innerJson, PayloadForm form)
{
	out.reserve(out.size() + innerJson.size() * 4 / 3 + messageId.size() + type.size() + 48);
	out += "{\"message_id\":";
	appendGoString(out, messageId);
	out += ",\"type\":";
	appendGoString(out, type);
	out += ",\"payload\":";
	switch (form)
	{
		case PayloadForm::BASE64:
			out += '"';
			appendBase64(out, innerJson);
			out += '"';
			break;
		case PayloadForm::OBJECT:
			out += innerJson;
			break;
		case PayloadForm::JSON_STRING:
			appendGoString(out, innerJson);
			break;
	}
	out += "}\n";
	return out;
}


std::string encodeFrame(std::string_view messageId, std::string_view type, std::string_view innerJson, PayloadForm form)
{
	std::string out;
	return appendFrame(out, messageId, type, innerJson, form);
}


// --- inbound -------------------------------------------------------------------------------------


bool Payload::decode(const JsonDocument& envelope, const JsonNode& payload, PayloadForm form)
{
	_pEnvelope = &envelope;
	_pOwn.reset();
	_pObject = nullptr;
	const JsonNode* inner = &payload;
	if (form != PayloadForm::OBJECT)
	{
		std::string text;
		if (form == PayloadForm::JSON_STRING)
			text = payload.text;
		else if (!base64Decode(payload.text, text, "\r\n"))
			return false;
		_pOwn = std::make_unique<JsonDocument>();
		if (!_pOwn->parse(std::move(text)))
			return false;
		inner = &_pOwn->root();
	}
	if (inner->kind == JsonKind::NUL)
		return true;
	if (inner->kind != JsonKind::OBJECT)
		return false;
	_pObject = inner;
	return true;
}


const JsonNode* Payload::field(std::string_view name) const
{
	if (_pObject == nullptr)
		return nullptr;
	const JsonNode* node = document().member(*_pObject, name);
	return node == nullptr || node->kind == JsonKind::NUL ? nullptr : node;
}


bool Payload::stringField(std::string_view name, std::string& value) const
{
	value.clear();
	const JsonNode* node = field(name);
	if (node == nullptr)
		return true;
	if (node->kind != JsonKind::STRING)
		return false;
	value = node->text;
	return true;
}


void readEnvelope(std::string_view frame, Envelope& envelope)
{
	envelope.status = Envelope::Status::INVALID;
	envelope.messageId.clear();
	envelope.type.clear();
	envelope.hasForm = false;
	envelope.payloadOk = false;
	if (!envelope.document.parse(std::string(frame)) || envelope.document.root().kind != JsonKind::OBJECT)
		return;
	const JsonDocument& doc = envelope.document;
	const JsonNode& root = doc.root();
	if (const JsonNode* id = doc.member(root, "message_id"))
	{
		if (id->kind == JsonKind::STRING)
			envelope.messageId = id->text;
		else if (id->kind != JsonKind::NUL)
			return;
	}
	const JsonNode* type = doc.member(root, "type");
	if (type == nullptr || type->kind != JsonKind::STRING)
		return;
	envelope.type = type->text;
	envelope.status = Envelope::Status::VALID;
	const JsonNode* payload = doc.member(root, "payload");
	if (payload == nullptr)
		return;
	if (payload->kind == JsonKind::OBJECT)
		envelope.form = PayloadForm::OBJECT;
	else if (payload->kind == JsonKind::STRING)
	{
		std::size_t first = 0;
		while (first < payload->text.size() && isJsonSpace(payload->text[first]))
			++first;
		envelope.form = first < payload->text.size() && payload->text[first] == '{' ? PayloadForm::JSON_STRING
		                                                                            : PayloadForm::BASE64;
	}
	else
		return;
	envelope.hasForm = true;
	envelope.payloadOk = envelope.payload.decode(doc, *payload, envelope.form);
}


} // namespace Govpn
} // namespace Switchboard
