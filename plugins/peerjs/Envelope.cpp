//
// Envelope.cpp
//
// The PeerJS message envelope: a one-pass scanner for inbound frames and the writer of relayed frames.
//


#include "Envelope.h"
#include "switchboard/util/ByteScan.h"
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


inline const char* skipSpace(const char* p, const char* end, bool& sawSpace)
{
	if (p == end || static_cast<unsigned char>(*p) > ' ')
		return p; // the usual case between tokens: no whitespace at all
	const char* q = skipSpace(p, end);
	sawSpace |= q != p;
	return q;
}


// Word-at-a-time scanning (SWAR) comes from the SDK's util/ByteScan.h, shared with Json.h.
using ByteScan::bytesBelowSpace;
using ByteScan::bytesEqual;
using ByteScan::firstMarkedByte;
using ByteScan::loadWord;


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


inline const char* findStringStop(const char* p, const char* end)
/// The first '"', '\\' or byte below 0x20 at or after p, or end.
{
#if defined(__SSE2__)
	while (end - p >= 16)
	{
		const unsigned mask = stringStops16(p);
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (end - p >= 8)
	{
		const std::uint64_t word = loadWord(p);
		const std::uint64_t marks = bytesEqual(word, '"') | bytesEqual(word, '\\') | bytesBelowSpace(word);
		if (marks != 0)
			return p + firstMarkedByte(marks);
		p += 8;
	}
	while (p != end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20)
		++p;
	return p;
}


const char* scanStringBodyFully(const char* p, const char* end, bool& escaped)
/// scanStringBody() for any string.
{
	for (;;)
	{
		p = findStringStop(p, end);
		if (p == end)
			return nullptr;
		if (*p == '"')
			return p + 1;
		if (*p != '\\' || end - p < 2)
			return nullptr;
		escaped = true;
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
				p += 2;
				break;
			case 'u':
				if (end - p < 6 || !isHex4(p + 2))
					return nullptr;
				p += 6;
				break;
			default:
				return nullptr;
		}
	}
}


inline const char* scanStringBody(const char* p, const char* end, bool& escaped)
/// p is just after the opening quote. Returns the position after the closing quote, or nullptr
/// if the string is unterminated or holds a raw control character or a bad escape. Sets escaped
/// if the string contains a backslash. Inline for the usual case, a short string without
/// escapes that ends within 16 bytes (keys, ids, most values).
{
#if defined(__SSE2__)
	if (end - p >= 16)
	{
		const unsigned mask = stringStops16(p);
		if (mask != 0 && p[__builtin_ctz(mask)] == '"')
			return p + __builtin_ctz(mask) + 1;
	}
#endif
	return scanStringBodyFully(p, end, escaped);
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


inline const char* scanLiteral(const char* p, const char* end, const char* word, std::size_t length)
{
	if (static_cast<std::size_t>(end - p) < length || std::memcmp(p, word, length) != 0)
		return nullptr;
	return p + length;
}


const char* scanScalar(const char* p, const char* end)
/// A string, number or literal at p (p < end). Returns its end or nullptr.
{
	switch (*p)
	{
		case '"':
		{
			bool escaped = false;
			return scanStringBody(p + 1, end, escaped);
		}
		case 't':
			return scanLiteral(p, end, "true", 4);
		case 'f':
			return scanLiteral(p, end, "false", 5);
		case 'n':
			return scanLiteral(p, end, "null", 4);
		default:
			return scanNumber(p, end);
	}
}


const char* scanKey(const char* p, const char* end, bool& sawSpace)
/// A member name and its colon at p. Returns the start of the member's value or nullptr.
{
	if (p == end || *p != '"')
		return nullptr;
	bool escaped = false;
	p = scanStringBody(p + 1, end, escaped);
	if (p == nullptr)
		return nullptr;
	p = skipSpace(p, end, sawSpace);
	if (p == end || *p != ':')
		return nullptr;
	return skipSpace(p + 1, end, sawSpace);
}


const char* scanValue(const char* p, const char* end, int maxLevels, bool& sawSpace)
/// Validates one JSON value starting at p (not at whitespace) with at most maxLevels nested
/// containers. Returns the position after it, or nullptr. Sets sawSpace if the value contains
/// insignificant whitespace. Iterative: the open containers are a bit stack (1 = object).
{
	std::uint64_t objectBits[(MAX_ENVELOPE_DEPTH + 63) / 64];
	int level = 0;
	for (;;)
	{
		// Here p is at the first byte of a value.
		if (p == end)
			return nullptr;
		if (*p == '{' || *p == '[')
		{
			if (level == maxLevels)
				return nullptr;
			const bool isObject = *p == '{';
			const std::uint64_t mask = std::uint64_t(1) << (level % 64);
			objectBits[level / 64] = isObject ? (objectBits[level / 64] | mask) : (objectBits[level / 64] & ~mask);
			++level;
			p = skipSpace(p + 1, end, sawSpace);
			if (p == end)
				return nullptr;
			if (*p != (isObject ? '}' : ']'))
			{
				if (isObject && (p = scanKey(p, end, sawSpace)) == nullptr)
					return nullptr;
				continue;
			}
			++p;
			--level;
		}
		else if ((p = scanScalar(p, end)) == nullptr)
			return nullptr;

		// A value is complete: close containers until one expects another element.
		for (;;)
		{
			if (level == 0)
				return p;
			p = skipSpace(p, end, sawSpace);
			if (p == end)
				return nullptr;
			const bool isObject = (objectBits[(level - 1) / 64] >> ((level - 1) % 64)) & 1;
			if (*p == ',')
			{
				p = skipSpace(p + 1, end, sawSpace);
				if (isObject && (p = scanKey(p, end, sawSpace)) == nullptr)
					return nullptr;
				break;
			}
			if (*p != (isObject ? '}' : ']'))
				return nullptr;
			++p;
			--level;
		}
	}
}


template <typename Append>
void decodeString(const char* p, const char* end, Append&& append)
/// Decodes a string body already checked by scanStringBody() (quotes excluded) with JavaScript
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


Member classifyKey(const char* begin, const char* end, bool escaped)
{
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
	if (key == "type")
		return Member::TYPE;
	if (key == "dst")
		return Member::DST;
	if (key == "payload")
		return Member::PAYLOAD;
	return Member::OTHER;
}


void decodeInto(std::string& out, const char* begin, const char* end, bool escaped)
{
	if (!escaped)
	{
		out.assign(begin, static_cast<std::size_t>(end - begin));
		return;
	}
	out.clear();
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


const char* scanTopObject(const char* p, const char* end, Envelope& out, PayloadRange& payload)
/// The members of the top-level object, p just after its '{'. Scanned here rather than by
/// scanValue() so each key is seen; member values are nested one level deeper. Returns the
/// position after the closing '}', or nullptr.
{
	p = skipSpace(p, end);
	if (p != end && *p == '}')
		return p + 1;
	for (;;)
	{
		if (p == end || *p != '"')
			return nullptr;
		const char* keyBegin = p + 1;
		bool keyEscaped = false;
		p = scanStringBody(keyBegin, end, keyEscaped);
		if (p == nullptr)
			return nullptr;
		const Member member = classifyKey(keyBegin, p - 1, keyEscaped);
		p = skipSpace(p, end);
		if (p == end || *p != ':')
			return nullptr;
		p = skipSpace(p + 1, end);
		if (p == end)
			return nullptr;

		if ((member == Member::TYPE || member == Member::DST) && *p == '"')
		{
			const char* valueBegin = p + 1;
			bool valueEscaped = false;
			p = scanStringBody(valueBegin, end, valueEscaped);
			if (p == nullptr)
				return nullptr;
			decodeInto(member == Member::TYPE ? out.type : out.dst, valueBegin, p - 1, valueEscaped);
			(member == Member::TYPE ? out.hasType : out.hasDst) = true;
		}
		else
		{
			const char* valueBegin = p;
			bool sawSpace = false;
			p = scanValue(p, end, MAX_ENVELOPE_DEPTH - 1, sawSpace);
			if (p == nullptr)
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
			else if (member == Member::PAYLOAD)
			{
				out.hasPayload = true;
				payload.begin = valueBegin;
				payload.end = p;
				payload.spaced = sawSpace;
			}
		}

		p = skipSpace(p, end);
		if (p == end)
			return nullptr;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return nullptr;
		p = skipSpace(p + 1, end);
	}
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
	const char* const end = text.data() + text.size();
	const char* p = skipSpace(text.data(), end);
	if (p == end)
		return EnvelopeStatus::NOT_JSON;

	if (*p != '{')
	{
		bool sawSpace = false;
		p = scanValue(p, end, MAX_ENVELOPE_DEPTH, sawSpace);
		if (p == nullptr || skipSpace(p, end) != end)
			return EnvelopeStatus::NOT_JSON;
		return EnvelopeStatus::NOT_OBJECT;
	}

	PayloadRange range;
	p = scanTopObject(p + 1, end, out, range);
	if (p == nullptr || skipSpace(p, end) != end)
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


std::string& appendRelayFrame(std::string& out, std::string_view type, std::string_view src, std::string_view dst,
                              const std::string_view* payload)
{
	// Fixed text: {"type": ,"src": ,"dst": } and six quotes; escapes are rare enough not to count.
	// Growth stays geometric so that appending many frames to one buffer is not quadratic.
	const std::size_t needed =
	    out.size() + 29 + type.size() + src.size() + dst.size() + (payload ? 11 + payload->size() : 0);
	if (needed > out.capacity())
		out.reserve(std::max(needed, 2 * out.capacity()));
	out.append("{\"type\":");
	Json::appendString(out, type);
	out.append(",\"src\":");
	Json::appendString(out, src);
	out.append(",\"dst\":");
	Json::appendString(out, dst);
	if (payload != nullptr)
	{
		out.append(",\"payload\":");
		out.append(payload->data(), payload->size());
	}
	out.push_back('}');
	return out;
}


std::string relayFrame(std::string_view type, std::string_view src, std::string_view dst,
                       const std::string_view* payload)
{
	std::string out;
	appendRelayFrame(out, type, src, dst, payload);
	return out;
}


} // namespace PeerJs
} // namespace Switchboard
