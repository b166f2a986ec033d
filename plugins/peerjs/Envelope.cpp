//
// Envelope.cpp
//
// The PeerJS message envelope: a one-pass scanner for inbound frames and the writer of relayed frames.
//


#include "Envelope.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif


namespace Switchboard {
namespace PeerJs {


namespace {


enum class Member
{
	OTHER,
	TYPE,
	DST,
	PAYLOAD
};


struct PayloadRange
{
	const char* begin = nullptr;
	const char* end = nullptr;
	bool spaced = false; // contains insignificant whitespace
};


inline bool isSpace(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}


inline bool isDigit(char c)
{
	return c >= '0' && c <= '9';
}


inline bool isHex4(const char* p)
{
	return HttpText::hexDigitValue(p[0]) >= 0 && HttpText::hexDigitValue(p[1]) >= 0 &&
	       HttpText::hexDigitValue(p[2]) >= 0 && HttpText::hexDigitValue(p[3]) >= 0;
}


inline unsigned hex4(const char* p)
/// Only for digits already validated by isHex4().
{
	return static_cast<unsigned>(HttpText::hexDigitValue(p[0]) << 12 | HttpText::hexDigitValue(p[1]) << 8 |
	                             HttpText::hexDigitValue(p[2]) << 4 | HttpText::hexDigitValue(p[3]));
}


inline const char* skipSpace(const char* p, const char* end)
{
	while (p != end && static_cast<unsigned char>(*p) <= ' ' && isSpace(*p))
		++p;
	return p;
}


#if defined(__SSE2__)
inline unsigned stringStops16(const char* p)
/// A bit per byte of the 16 at p: set for '"', '\\' and bytes below 0x20.
{
	const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
	// min(chunk, 0x1F) == chunk exactly for the bytes below 0x20 (unsigned).
	const __m128i hits = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')), _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))),
	    _mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1F)), chunk));
	return static_cast<unsigned>(_mm_movemask_epi8(hits));
}
#endif


inline std::uint64_t stringStops64(const char* p)
/// A bit per byte of the 64 at p (bit i for p[i]): set for '"', '\\' and bytes below 0x20.
{
#if defined(__SSE2__)
	return std::uint64_t(stringStops16(p)) | std::uint64_t(stringStops16(p + 16)) << 16 |
	       std::uint64_t(stringStops16(p + 32)) << 32 | std::uint64_t(stringStops16(p + 48)) << 48;
#else
	std::uint64_t bits = 0;
	for (int i = 0; i < 64; ++i)
	{
		const auto c = static_cast<unsigned char>(p[i]);
		if (c == '"' || c == '\\' || c < 0x20)
			bits |= std::uint64_t(1) << i;
	}
	return bits;
#endif
}


// The scanner's helpers must be inlined into its loops: that keeps the scan position and the
// block of stops in registers instead of memory.
#define SWITCHBOARD_ALWAYS_INLINE inline __attribute__((always_inline))


struct StopBlock
/// Where the string stops ('"', '\\', bytes below 0x20) are in the 64 bytes from base: bit i for
/// base[i]. Bytes at or after the end of the scanned range count as no stop. Two words, so it
/// comes back from loadStops() in registers and stays there while a document is scanned.
{
	const char* base;
	std::uint64_t bits;
};


[[gnu::noinline]] StopBlock loadStops(const char* p, const char* begin, const char* end)
/// The block for p (begin <= p < end), reading only [begin, end). Once per 64 bytes of strings,
/// out of line to keep nextStop() small.
{
	if (end - p >= 64)
		return {p, stringStops64(p)};
	if (end - begin >= 64)
		return {end - 64, stringStops64(end - 64)}; // the last 64 bytes; those before p are shifted out
	// A range under 64 bytes: scan a padded copy.
	char padded[64];
	std::memset(padded, 'a', sizeof(padded));
	const auto length = static_cast<std::size_t>(end - p);
	std::memcpy(padded, p, length);
	return {p, stringStops64(padded) & ((std::uint64_t(1) << length) - 1)};
}


SWITCHBOARD_ALWAYS_INLINE const char* nextStop(const char* p, StopBlock& block, const char* begin, const char* end)
/// The first stop at or after p, or end. Positions asked for must not decrease (one
/// left-to-right pass); start with block.base = end.
{
	for (;;)
	{
		const auto offset = static_cast<std::uint64_t>(p - block.base);
		if (offset < 64)
		{
			const std::uint64_t bits = block.bits >> offset;
			if (bits != 0)
				return p + __builtin_ctzll(bits);
			if (end - block.base <= 64)
				return end;
			p = block.base + 64;
		}
		else if (p >= end)
			return end;
		block = loadStops(p, begin, end);
	}
}


inline bool isLiteral(const char* p, const char* end, const char* word, std::size_t length)
{
	return static_cast<std::size_t>(end - p) >= length && std::memcmp(p, word, length) == 0;
}


const char* scanNumber(const char* p, const char* end)
/// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at p. Returns the end or nullptr.
{
	if (*p == '-')
		++p;
	if (p == end)
		return nullptr;
	if (*p == '0')
		++p;
	else if (*p >= '1' && *p <= '9')
	{
		do
			++p;
		while (p != end && isDigit(*p));
	}
	else
		return nullptr;
	if (p != end && *p == '.')
	{
		++p;
		if (p == end || !isDigit(*p))
			return nullptr;
		do
			++p;
		while (p != end && isDigit(*p));
	}
	if (p != end && (*p == 'e' || *p == 'E'))
	{
		++p;
		if (p != end && (*p == '+' || *p == '-'))
			++p;
		if (p == end || !isDigit(*p))
			return nullptr;
		do
			++p;
		while (p != end && isDigit(*p));
	}
	return p;
}


template <typename Append>
void decodeString(const char* p, const char* end, Append&& append)
/// Decodes a string body already checked by scanString() (quotes excluded) with JavaScript
/// semantics, passing the bytes to append(const char*, std::size_t) in pieces.
{
	while (p != end)
	{
		const void* backslash = std::memchr(p, '\\', static_cast<std::size_t>(end - p));
		const char* runEnd = backslash ? static_cast<const char*>(backslash) : end;
		if (runEnd != p)
			append(p, static_cast<std::size_t>(runEnd - p));
		if (runEnd == end)
			return;
		p = runEnd + 1;
		char out[4];
		std::size_t length = 1;
		switch (*p++)
		{
			case 'b':
				out[0] = '\b';
				break;
			case 'f':
				out[0] = '\f';
				break;
			case 'n':
				out[0] = '\n';
				break;
			case 'r':
				out[0] = '\r';
				break;
			case 't':
				out[0] = '\t';
				break;
			case 'u':
			{
				std::uint32_t code = hex4(p);
				p += 4;
				if (code >= 0xD800 && code <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
				{
					const unsigned low = hex4(p + 2);
					if (low >= 0xDC00 && low <= 0xDFFF)
					{
						code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
						p += 6;
					}
				}
				// A lone surrogate falls into the 3-byte case: that is its WTF-8 form.
				if (code < 0x80)
					out[0] = static_cast<char>(code);
				else if (code < 0x800)
				{
					out[0] = static_cast<char>(0xC0 | code >> 6);
					out[1] = static_cast<char>(0x80 | (code & 0x3F));
					length = 2;
				}
				else if (code < 0x10000)
				{
					out[0] = static_cast<char>(0xE0 | code >> 12);
					out[1] = static_cast<char>(0x80 | (code >> 6 & 0x3F));
					out[2] = static_cast<char>(0x80 | (code & 0x3F));
					length = 3;
				}
				else
				{
					out[0] = static_cast<char>(0xF0 | code >> 18);
					out[1] = static_cast<char>(0x80 | (code >> 12 & 0x3F));
					out[2] = static_cast<char>(0x80 | (code >> 6 & 0x3F));
					out[3] = static_cast<char>(0x80 | (code & 0x3F));
					length = 4;
				}
				break;
			}
			default: // '"', '\\' and '/' stand for themselves
				out[0] = p[-1];
				break;
		}
		append(out, length);
	}
}


inline Member classifyPlainKey(const char* key, std::size_t size)
/// By length first: most keys are ruled out without comparing bytes.
{
	switch (size)
	{
		case 3:
			return std::memcmp(key, "dst", 3) == 0 ? Member::DST : Member::OTHER;
		case 4:
			return std::memcmp(key, "type", 4) == 0 ? Member::TYPE : Member::OTHER;
		case 7:
			return std::memcmp(key, "payload", 7) == 0 ? Member::PAYLOAD : Member::OTHER;
		default:
			return Member::OTHER;
	}
}


Member classifyKey(const char* begin, const char* end, bool escaped)
{
	if (!escaped)
		return classifyPlainKey(begin, static_cast<std::size_t>(end - begin));
	std::string_view key(begin, static_cast<std::size_t>(end - begin));
	char buffer[8];
	if (escaped)
	{
		// Only a decoded length up to 7 can match; longer keys stop early without allocating.
		std::size_t size = 0;
		bool tooLong = false;
		decodeString(begin, end, [&](const char* data, std::size_t length) {
			if (tooLong || length > sizeof(buffer) - size)
				tooLong = true;
			else
			{
				std::memcpy(buffer + size, data, length);
				size += length;
			}
		});
		if (tooLong)
			return Member::OTHER;
		key = std::string_view(buffer, size);
	}
	return classifyPlainKey(key.data(), key.size());
}


void decodeInto(std::string& out, const char* begin, const char* end, bool escaped)
{
	out.clear();
	if (!escaped)
	{
		out.append(begin, static_cast<std::size_t>(end - begin)); // cheaper than assign(), which allows overlap
		return;
	}
	decodeString(begin, end, [&out](const char* data, std::size_t length) { out.append(data, length); });
}


void compact(const char* p, const char* end, std::string& out)
/// Copies a valid JSON value without the whitespace outside its strings.
{
	out.clear();
	out.reserve(static_cast<std::size_t>(end - p));
	while (p != end)
	{
		const char* run = p;
		while (p != end && !isSpace(*p) && *p != '"')
			++p;
		if (p != end && *p == '"')
		{
			++p;
			while (*p != '"')
				p += *p == '\\' ? 2 : 1;
			++p;
		}
		out.append(run, static_cast<std::size_t>(p - run));
		p = skipSpace(p, end);
	}
}


const char* skipEscape(const char* p, const char* end)
/// p is at a stop inside a string other than its closing quote: a backslash, or a raw control
/// character (invalid). Returns the position after a valid escape sequence, or nullptr.
{
	if (*p != '\\' || end - p < 2)
		return nullptr; // a raw control character, or an escape cut short
	switch (p[1])
	{
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			return p + 2;
		case 'u':
			return end - p >= 6 && isHex4(p + 2) ? p + 6 : nullptr;
		default:
			return nullptr;
	}
}


struct Scan
/// The state of one pass over a document: the bytes [begin, end) and where the stops are.
{
	const char* begin;
	const char* end;
	StopBlock block;
};


SWITCHBOARD_ALWAYS_INLINE const char* scanString(const char* p, Scan& scan, bool& escaped)
/// p is just after an opening quote. Returns the position after the closing quote, or nullptr if
/// the string is unterminated or holds a raw control character or a bad escape. Sets escaped if
/// the string contains a backslash.
{
	for (;;)
	{
		p = nextStop(p, scan.block, scan.begin, scan.end);
		if (*p == '"') // *scan.end is readable and not a quote (see scanContainer)
			return p + 1;
		if (p == scan.end)
			return nullptr;
		escaped = true;
		if ((p = skipEscape(p, scan.end)) == nullptr)
			return nullptr;
	}
}


inline const char* skipBlanks(const char* p)
/// Whitespace before a byte known not to be whitespace (see scanContainer).
{
	while (isSpace(*p))
		++p;
	return p;
}


SWITCHBOARD_ALWAYS_INLINE const char* skipBlanks(const char* p, bool& sawSpace)
{
	if (static_cast<unsigned char>(*p) > ' ')
		return p; // the usual case between tokens: no whitespace at all
	const char* q = skipBlanks(p);
	sawSpace |= q != p;
	return q;
}


const char* scanScalar(const char* p, const char* end)
/// A number or literal at p (p < end). Returns its end or nullptr.
{
	switch (*p)
	{
		case 't':
			return isLiteral(p, end, "true", 4) ? p + 4 : nullptr;
		case 'f':
			return isLiteral(p, end, "false", 5) ? p + 5 : nullptr;
		case 'n':
			return isLiteral(p, end, "null", 4) ? p + 4 : nullptr;
		default:
			return scanNumber(p, end);
	}
}


SWITCHBOARD_ALWAYS_INLINE const char* scanMemberName(const char* p, Scan& scan, bool& escaped, bool& sawSpace)
/// A member name and its colon at p (see scanContainer). Returns the start of the member's value
/// or nullptr.
{
	if (*p != '"' || (p = scanString(p + 1, scan, escaped)) == nullptr)
		return nullptr;
	if (*p != ':' && *(p = skipBlanks(p, sawSpace)) != ':')
		return nullptr;
	return skipBlanks(p + 1, sawSpace);
}


SWITCHBOARD_ALWAYS_INLINE const char* scanContainer(const char* p, Scan& scan, int maxLevels, bool& sawSpace)
/// Validates the object or array at p with at most maxLevels nested containers (itself
/// included) and returns the position after its closing bracket, or nullptr. Sets sawSpace if
/// it contains insignificant whitespace.
///
/// scan.end is the document's last byte that is not whitespace, its closing bracket: a string
/// never reaches it, and every other token and whitespace stops at it, so the scan reads no
/// further without checking for the end at every byte. Only a closing bracket may consume it.
/// Iterative: the open containers are a bit stack (1 = object).
{
	const char* const end = scan.end + 1;
	std::uint64_t objectBits[(MAX_ENVELOPE_DEPTH + 63) / 64];
	int level = 0;
	bool inObject = false; // the innermost open container is an object
	bool escaped = false;  // not needed here: only the top level's strings are decoded
	for (;;)
	{
		// p is at the first byte of a value.
		const char c = *p;
		if (c == '"')
		{
			if ((p = scanString(p + 1, scan, escaped)) == nullptr)
				return nullptr;
		}
		else if (c == '{' || c == '[')
		{
			if (level == maxLevels)
				return nullptr;
			const bool isObject = c == '{';
			const std::uint64_t bit = std::uint64_t(1) << (level % 64);
			objectBits[level / 64] = isObject ? (objectBits[level / 64] | bit) : (objectBits[level / 64] & ~bit);
			++level;
			inObject = isObject;
			p = skipBlanks(p + 1, sawSpace);
			if (*p != (isObject ? '}' : ']'))
			{
				if (isObject && (p = scanMemberName(p, scan, escaped, sawSpace)) == nullptr)
					return nullptr;
				continue;
			}
			// Empty: closed at once.
			++p;
			if (--level == 0)
				return p;
			if (p == end)
				return nullptr; // the document's last bracket closed an inner container
			inObject = ((objectBits[(level - 1) / 64] >> ((level - 1) % 64)) & 1) != 0;
		}
		else if ((p = scanScalar(p, end)) == nullptr)
			return nullptr;

		// A value is complete: close containers until one expects another element.
		for (;;)
		{
			if (inObject && p[0] == ',' && p[1] == '"')
			{
				// The usual compact object: take a "name":"text" member without the general dispatch.
				if ((p = scanString(p + 2, scan, escaped)) == nullptr)
					return nullptr;
				if (p[0] == ':' && p[1] == '"')
				{
					if ((p = scanString(p + 2, scan, escaped)) == nullptr)
						return nullptr;
					continue; // another value complete at this level
				}
				if (*p != ':' && *(p = skipBlanks(p, sawSpace)) != ':')
					return nullptr;
				p = skipBlanks(p + 1, sawSpace);
				break;
			}
			p = skipBlanks(p, sawSpace);
			if (*p == ',')
			{
				p = skipBlanks(p + 1, sawSpace);
				if (inObject && (p = scanMemberName(p, scan, escaped, sawSpace)) == nullptr)
					return nullptr;
				break;
			}
			if (*p != (inObject ? '}' : ']'))
				return nullptr;
			++p;
			if (--level == 0)
				return p;
			if (p == end)
				return nullptr;
			inObject = ((objectBits[(level - 1) / 64] >> ((level - 1) % 64)) & 1) != 0;
		}
	}
}


const char* scanTopObject(const char* p, Scan& scan, Envelope& out, PayloadRange& payload)
/// The members of the top-level object, p just after its '{' and scan.end at its '}' (see
/// scanContainer). Scanned here so that each key is seen; member values are nested one level
/// deeper. Returns the position after the closing '}', or nullptr.
{
	const char* const end = scan.end + 1;
	p = skipBlanks(p);
	if (*p == '}')
		return p + 1;
	bool sawSpace = false;
	for (;;)
	{
		if (*p != '"')
			return nullptr;
		const char* keyBegin = ++p;
		bool escaped = false;
		if ((p = scanString(p, scan, escaped)) == nullptr)
			return nullptr;
		const Member member = classifyKey(keyBegin, p - 1, escaped);
		if (*p != ':' && *(p = skipBlanks(p)) != ':')
			return nullptr;
		p = skipBlanks(p + 1);

		const char* valueBegin = p;
		const char c = *p;
		sawSpace = false;
		if (c == '"')
		{
			escaped = false;
			if ((p = scanString(p + 1, scan, escaped)) == nullptr)
				return nullptr;
			if (member == Member::TYPE || member == Member::DST)
			{
				decodeInto(member == Member::TYPE ? out.type : out.dst, valueBegin + 1, p - 1, escaped);
				(member == Member::TYPE ? out.hasType : out.hasDst) = true;
			}
		}
		else
		{
			if (c == '{' || c == '[')
			{
				p = scanContainer(p, scan, MAX_ENVELOPE_DEPTH - 1, sawSpace);
				if (p == nullptr || p == end)
					return nullptr; // invalid, or it took the document's closing bracket
			}
			else if ((p = scanScalar(p, end)) == nullptr)
				return nullptr;
			// A later non-string type or dst overrides an earlier string one.
			if (member == Member::TYPE)
			{
				out.hasType = false;
				out.type.clear();
			}
			else if (member == Member::DST)
			{
				out.hasDst = false;
				out.dst.clear();
			}
		}
		if (member == Member::PAYLOAD)
		{
			out.hasPayload = true;
			payload.begin = valueBegin;
			payload.end = p;
			payload.spaced = sawSpace;
		}

		p = skipBlanks(p);
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return nullptr;
		p = skipBlanks(p + 1);
	}
}


const char* scanTopArray(const char* p, Scan& scan)
/// A document that is an array, p at its '[' and scan.end at its ']'.
{
	bool sawSpace = false;
	return scanContainer(p, scan, MAX_ENVELOPE_DEPTH, sawSpace);
}


const char* scanTopScalar(const char* p, const char* last)
/// A document that is a string, number or literal, from p to last (its last byte that is not
/// whitespace): returns the end of the value, last + 1 when it is valid, or nullptr.
{
	if (*p != '"')
		return scanScalar(p, last + 1);
	// A string document ends with its closing quote: the scan stops at last as at a bracket,
	// and reads the quote there.
	if (p == last || *last != '"')
		return nullptr;
	Scan scan{p, last, {last, 0}};
	bool escaped = false;
	return scanString(p + 1, scan, escaped);
}


} // namespace


Envelope::Envelope(const Envelope& other):
    hasType(other.hasType),
    type(other.type),
    hasDst(other.hasDst),
    dst(other.dst),
    hasPayload(other.hasPayload),
    payload(other.payload),
    _compacted(other._compacted),
    _payloadOwned(other._payloadOwned)
{
	repointPayload();
}


Envelope::Envelope(Envelope&& other) noexcept:
    hasType(other.hasType),
    type(std::move(other.type)),
    hasDst(other.hasDst),
    dst(std::move(other.dst)),
    hasPayload(other.hasPayload),
    payload(other.payload),
    _compacted(std::move(other._compacted)),
    _payloadOwned(other._payloadOwned)
{
	repointPayload();
	other.clear();
}


Envelope& Envelope::operator=(const Envelope& other)
{
	if (this != &other)
	{
		hasType = other.hasType;
		type = other.type;
		hasDst = other.hasDst;
		dst = other.dst;
		hasPayload = other.hasPayload;
		payload = other.payload;
		_compacted = other._compacted;
		_payloadOwned = other._payloadOwned;
		repointPayload();
	}
	return *this;
}


Envelope& Envelope::operator=(Envelope&& other) noexcept
{
	if (this != &other)
	{
		hasType = other.hasType;
		type = std::move(other.type);
		hasDst = other.hasDst;
		dst = std::move(other.dst);
		hasPayload = other.hasPayload;
		payload = other.payload;
		_compacted = std::move(other._compacted);
		_payloadOwned = other._payloadOwned;
		repointPayload();
		other.clear();
	}
	return *this;
}


void Envelope::clear()
{
	hasType = false;
	type.clear();
	hasDst = false;
	dst.clear();
	hasPayload = false;
	payload = std::string_view();
	_compacted.clear();
	_payloadOwned = false;
}


void Envelope::repointPayload()
{
	if (_payloadOwned)
		payload = _compacted;
}


EnvelopeStatus parseEnvelope(std::string_view text, Envelope& out)
{
	out.clear();
	const char* const begin = text.data();
	const char* const end = begin + text.size();
	const char* p = skipSpace(begin, end);
	if (p == end)
		return EnvelopeStatus::NOT_JSON;
	const char* last = end - 1;
	while (isSpace(*last))
		--last; // stops at *p at the latest
	const char first = *p;
	if (first != '{' && first != '[')
		return scanTopScalar(p, last) == last + 1 ? EnvelopeStatus::NOT_OBJECT : EnvelopeStatus::NOT_JSON;
	// A container ends with its closing bracket: the scan relies on finding it at last.
	if (p == last || *last != (first == '{' ? '}' : ']'))
		return EnvelopeStatus::NOT_JSON;
	Scan scan{begin, last, {last, 0}};
	if (first == '[')
		return scanTopArray(p, scan) == last + 1 ? EnvelopeStatus::NOT_OBJECT : EnvelopeStatus::NOT_JSON;

	PayloadRange range;
	if (scanTopObject(p + 1, scan, out, range) != last + 1)
	{
		out.clear();
		return EnvelopeStatus::NOT_JSON;
	}
	if (out.hasPayload)
	{
		if (range.spaced)
		{
			compact(range.begin, range.end, out._compacted);
			out._payloadOwned = true;
			out.payload = out._compacted;
		}
		else
			out.payload = std::string_view(range.begin, static_cast<std::size_t>(range.end - range.begin));
	}
	return EnvelopeStatus::OK;
}


namespace {


#if defined(__SSE2__)
inline unsigned escapes16(__m128i chunk)
/// A bit per byte: set for '"', '\\', bytes below 0x20 and 0xED.
{
	const __m128i hits = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')), _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))),
	    _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1F)), chunk),
	                 _mm_cmpeq_epi8(chunk, _mm_set1_epi8(static_cast<char>(0xED)))));
	return static_cast<unsigned>(_mm_movemask_epi8(hits));
}
#endif


bool needsEscape(std::string_view text)
/// True if Json::appendString() would write text other than as itself between quotes: it holds
/// '"', '\\', a byte below 0x20, or 0xED (which may start a lone surrogate).
{
	const char* p = text.data();
	const std::size_t size = text.size();
#if defined(__SSE2__)
	// Overlapping loads cover every length from 8 up without a byte loop.
	if (size >= 16)
	{
		const char* const last = p + size - 16;
		for (; p < last; p += 16)
		{
			if (escapes16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) != 0)
				return true;
		}
		return escapes16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(last))) != 0;
	}
	if (size >= 8)
	{
		const __m128i head = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
		const __m128i tail = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + size - 8));
		return escapes16(_mm_unpacklo_epi64(head, tail)) != 0;
	}
	if (size >= 4)
	{
		std::int32_t head;
		std::int32_t tail;
		std::memcpy(&head, p, 4);
		std::memcpy(&tail, p + size - 4, 4);
		return (escapes16(_mm_unpacklo_epi32(_mm_cvtsi32_si128(head), _mm_cvtsi32_si128(tail))) & 0xFF) != 0;
	}
#endif
	for (const char* const end = p + size; p != end; ++p)
	{
		const auto c = static_cast<unsigned char>(*p);
		if (c < 0x20 || c == '"' || c == '\\' || c == 0xED)
			return true;
	}
	return false;
}


inline char* put(char* out, std::string_view text)
{
	// Types and ids are short: two overlapping word copies instead of a call.
	const std::size_t n = text.size();
	const char* in = text.data();
	if (n >= 8 && n <= 16)
	{
		std::uint64_t head;
		std::uint64_t tail;
		std::memcpy(&head, in, 8);
		std::memcpy(&tail, in + n - 8, 8);
		std::memcpy(out, &head, 8);
		std::memcpy(out + n - 8, &tail, 8);
	}
	else
		std::memcpy(out, in, n);
	return out + n;
}


template <std::size_t N>
inline char* put(char* out, const char (&text)[N])
/// A literal, copied with its length known at compile time.
{
	std::memcpy(out, text, N - 1);
	return out + N - 1;
}


} // namespace


RelayFrameWriter::RelayFrameWriter(std::string_view type, std::string_view src, std::string_view dst,
                                   const std::string_view* payload):
    _type(type),
    _src(src),
    _dst(dst),
    _payload(payload),
    _plain(!needsEscape(type) && !needsEscape(src) && !needsEscape(dst))
{
	// {"type":<type>,"src":<src>,"dst":<dst>[,"payload":<payload>]}: 23 bytes of fixed text.
	if (_plain)
		_size = 29 + type.size() + src.size() + dst.size();
	else
	{
		std::string quoted; // rare: ids and types are plain text in practice
		_size = 23 + Json::appendString(quoted, type).size();
		quoted.clear();
		_size += Json::appendString(quoted, src).size();
		quoted.clear();
		_size += Json::appendString(quoted, dst).size();
	}
	if (payload != nullptr)
		_size += 11 + payload->size();
}


char* RelayFrameWriter::write(char* out) const
{
	if (_plain)
	{
		out = put(out, "{\"type\":\"");
		out = put(out, _type);
		out = put(out, "\",\"src\":\"");
		out = put(out, _src);
		out = put(out, "\",\"dst\":\"");
		out = put(out, _dst);
		*out++ = '"';
	}
	else
	{
		std::string head = "{\"type\":";
		Json::appendString(head, _type);
		head.append(",\"src\":");
		Json::appendString(head, _src);
		head.append(",\"dst\":");
		Json::appendString(head, _dst);
		out = put(out, head);
	}
	if (_payload != nullptr)
	{
		out = put(out, ",\"payload\":");
		out = put(out, *_payload);
	}
	*out++ = '}';
	return out;
}


std::string& appendRelayFrame(std::string& out, std::string_view type, std::string_view src, std::string_view dst,
                              const std::string_view* payload)
{
	const RelayFrameWriter writer(type, src, dst, payload);
	const std::size_t offset = out.size();
	// Growth stays geometric so that appending many frames to one buffer is not quadratic.
	if (offset + writer.size() > out.capacity())
		out.reserve(std::max(offset + writer.size(), 2 * out.capacity()));
	out.resize(offset + writer.size());
	writer.write(&out[offset]);
	return out;
}


std::string relayFrame(std::string_view type, std::string_view src, std::string_view dst,
                       const std::string_view* payload)
{
	const RelayFrameWriter writer(type, src, dst, payload);
	std::string out(writer.size(), '\0');
	writer.write(&out[0]);
	return out;
}


} // namespace PeerJs
} // namespace Switchboard
