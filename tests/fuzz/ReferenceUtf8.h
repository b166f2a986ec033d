//
// ReferenceUtf8.h
//
// A UTF-8 decoder written for the fuzz targets only, as unlike the production validators as
// practical: it decodes each sequence to its code point and asks whether the values its prefix
// can still reach meet RFC 3629's ranges, instead of narrowing the next byte's range by table.
//


#ifndef Switchboard_Test_ReferenceUtf8_INCLUDED
#define Switchboard_Test_ReferenceUtf8_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Test {


struct Utf8Analysis
/// What the reference decoder found in one text.
{
	bool valid = false;
	///< The whole text is well-formed UTF-8.

	std::size_t validPrefix = 0;
	///< The longest n such that the first n bytes can still begin some well-formed text: the
	///< offset of the first byte that makes the text invalid, or the size when there is none.

	std::vector<bool> openAfter;
	///< openAfter[t] (t = 0..size): a multi-byte sequence is unfinished after the first t bytes.

	std::size_t codePoints = 0;
	///< Complete sequences (code points) decoded.

	std::string replaced;
	///< The text with every maximal subpart of an ill-formed sequence replaced by U+FFFD
	///< (Unicode's "substitution of maximal subparts", as browsers' TextDecoder does).
};


inline bool utf8Reachable(std::uint32_t bits, int have, int length)
/// Whether a sequence of length bytes whose first have bytes carry bits can still end in a
/// code point that UTF-8 of that length may encode.
{
	const int missing = 6 * (length - have);
	const std::uint32_t low = bits << missing;
	const std::uint32_t high = low | ((std::uint32_t(1) << missing) - 1);
	switch (length)
	{
		case 2:
			return high >= 0x80 && low <= 0x7FF;
		case 3:
			// 0x800..0xFFFF without the surrogates D800..DFFF: out only if wholly below or wholly inside them.
			return high >= 0x800 && low <= 0xFFFF && !(low >= 0xD800 && high <= 0xDFFF);
		default:
			return high >= 0x10000 && low <= 0x10FFFF;
	}
}


inline Utf8Analysis analyseUtf8(std::string_view text)
{
	Utf8Analysis result;
	const std::size_t n = text.size();
	result.openAfter.assign(n + 1, false);
	result.validPrefix = n;
	bool errorSeen = false;
	auto noteError = [&](std::size_t at) {
		if (!errorSeen)
			result.validPrefix = at;
		errorSeen = true;
	};
	auto byteAt = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
	const std::string replacement = "\xEF\xBF\xBD";

	std::size_t i = 0;
	while (i < n)
	{
		const std::uint8_t lead = byteAt(i);
		int length = 0;
		std::uint32_t bits = 0;
		if (lead < 0x80)
			length = 1;
		else if ((lead >> 5) == 0x6)
			length = 2, bits = lead & 0x1F;
		else if ((lead >> 4) == 0xE)
			length = 3, bits = lead & 0x0F;
		else if ((lead >> 3) == 0x1E)
			length = 4, bits = lead & 0x07;
		if (length == 1)
		{
			result.replaced += static_cast<char>(lead);
			++result.codePoints;
			++i;
			continue;
		}
		if (length == 0 || !utf8Reachable(bits, 1, length))
		{
			// Not a lead byte, or one whose every continuation is out of range: replaced alone.
			noteError(i);
			result.replaced += replacement;
			++i;
			continue;
		}
		std::size_t j = i + 1;
		int have = 1;
		bool broken = false;
		while (have < length)
		{
			if (!errorSeen)
				result.openAfter[j] = true;
			if (j == n)
			{
				broken = true; // the text ends inside the sequence: still a prefix, not valid
				break;
			}
			const std::uint8_t next = byteAt(j);
			const std::uint32_t extended = (bits << 6) | (next & 0x3F);
			if ((next & 0xC0) != 0x80 || !utf8Reachable(extended, have + 1, length))
			{
				noteError(j);
				broken = true;
				break;
			}
			bits = extended;
			++have;
			++j;
		}
		if (broken)
		{
			// The maximal subpart i..j-1 becomes one U+FFFD; byte j is looked at again as a lead.
			result.replaced += replacement;
			i = j;
			continue;
		}
		result.replaced.append(text.data() + i, j - i);
		++result.codePoints;
		i = j;
	}
	result.valid = !errorSeen && !result.openAfter[n];
	return result;
}


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_ReferenceUtf8_INCLUDED
