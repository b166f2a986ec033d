//
// SignalFrame.cpp
//


#include "SignalFrame.h"
#include "switchboard/util/ByteScan.h"
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#define SWITCHBOARD_GOVPN_AVX2 1 // compiled for AVX2 per function, used when the CPU has it
#endif


namespace Switchboard {
namespace Govpn {


namespace {


bool isSpace(char c)
{
	// Compact JSON has none: one comparison tells the common case.
	return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
}


std::size_t firstBit(unsigned mask)
{
	return static_cast<std::size_t>(__builtin_ctz(mask));
}


// --- byte classes, sixteen at a time -------------------------------------------------------------

#if defined(__SSE2__)
unsigned asciiStops(const char* p)
/// Bit k: byte k ends a plain ASCII string (" \ control, or not ASCII).
{
	const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
	const __m128i marks = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')), _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
	    _mm_cmpeq_epi8(_mm_subs_epu8(bytes, _mm_set1_epi8(0x1F)), _mm_setzero_si128()));
	return static_cast<unsigned>(_mm_movemask_epi8(marks) | _mm_movemask_epi8(bytes));
}


unsigned bodyStops(const char* p)
/// Bit k: byte k needs a look in a Go-escaped string (also < > & and every non-ASCII byte).
{
	const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
	const __m128i quoteOrBackslash =
	    _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')), _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\')));
	const __m128i htmlChars =
	    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('<')), _mm_cmpeq_epi8(bytes, _mm_set1_epi8('>'))),
	                 _mm_cmpeq_epi8(bytes, _mm_set1_epi8('&')));
	const __m128i control = _mm_cmpeq_epi8(_mm_subs_epu8(bytes, _mm_set1_epi8(0x1F)), _mm_setzero_si128());
	const __m128i marks = _mm_or_si128(_mm_or_si128(quoteOrBackslash, htmlChars), control);
	return static_cast<unsigned>(_mm_movemask_epi8(marks) | _mm_movemask_epi8(bytes));
}


unsigned shortEscapeStarts(const char* p)
/// Bit k: byte k is a backslash and byte k + 1 is n, r or t (reads 17 bytes).
{
	const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
	const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
	const __m128i letter =
	    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('n')), _mm_cmpeq_epi8(next, _mm_set1_epi8('r'))),
	                 _mm_cmpeq_epi8(next, _mm_set1_epi8('t')));
	return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\')), letter)));
}
#else
unsigned maskOf(std::uint64_t marks)
{
	unsigned mask = 0;
	for (std::size_t k = 0; k < 8; ++k)
		if (((marks >> (8 * k)) & 0x80) != 0)
			mask |= 1u << k;
	return mask;
}

unsigned asciiStops(const char* p)
{
	using namespace ByteScan;
	unsigned mask = 0;
	for (std::size_t half = 0; half < 2; ++half)
	{
		std::uint64_t word = loadWord(p + 8 * half);
		std::uint64_t marks = bytesEqual(word, '"') | bytesEqual(word, '\\') | bytesBelowSpace(word) | (word & HIGHS);
		mask |= maskOf(marks) << (8 * half);
	}
	return mask;
}

unsigned bodyStops(const char* p)
{
	using namespace ByteScan;
	unsigned mask = 0;
	for (std::size_t half = 0; half < 2; ++half)
	{
		std::uint64_t word = loadWord(p + 8 * half);
		std::uint64_t marks = bytesEqual(word, '"') | bytesEqual(word, '\\') | bytesBelowSpace(word) |
		                      bytesEqual(word, '<') | bytesEqual(word, '>') | bytesEqual(word, '&') | (word & HIGHS);
		mask |= maskOf(marks) << (8 * half);
	}
	return mask;
}

unsigned shortEscapeStarts(const char* p)
{
	unsigned mask = 0;
	for (std::size_t k = 0; k < 16; ++k)
		if (p[k] == '\\' && (p[k + 1] == 'n' || p[k + 1] == 'r' || p[k + 1] == 't'))
			mask |= 1u << k;
	return mask;
}
#endif


bool isAsciiStop(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}


bool isBodyStop(unsigned char c)
{
	return isAsciiStop(c) || c == '<' || c == '>' || c == '&';
}


// --- strings -------------------------------------------------------------------------------------


const char* asciiStringEnd(const char* start, const char* p, const char* end)
/// p is just past an opening quote in the buffer [start, end): the closing quote of a string of
/// printable ASCII without escapes, or nullptr. The last bytes are read as the buffer's final
/// sixteen, shifted, rather than one at a time.
{
	for (; p + 16 <= end; p += 16)
		if (unsigned mask = asciiStops(p))
		{
			p += firstBit(mask);
			return *p == '"' ? p : nullptr;
		}
	if (p < end && end - start >= 16)
	{
		const char* window = end - 16;
		if (unsigned mask = asciiStops(window) >> (p - window))
		{
			p += firstBit(mask);
			return *p == '"' ? p : nullptr;
		}
		return nullptr;
	}
	while (p < end && !isAsciiStop(static_cast<unsigned char>(*p)))
		++p;
	return p < end && *p == '"' ? p : nullptr;
}


std::size_t utf8Length(const unsigned char* p, const unsigned char* end)
/// The length of the well-formed UTF-8 sequence at p (its lead byte is 0x80 or above), or 0.
{
	const unsigned char lead = p[0];
	std::size_t length = 0;
	std::uint32_t low = 0; // the smallest code point this length may carry
	std::uint32_t cp = 0;
	if (lead >= 0xC2 && lead <= 0xDF)
	{
		length = 2;
		low = 0x80;
		cp = lead & 0x1F;
	}
	else if ((lead & 0xF0) == 0xE0)
	{
		length = 3;
		low = 0x800;
		cp = lead & 0x0F;
	}
	else if (lead >= 0xF0 && lead <= 0xF4)
	{
		length = 4;
		low = 0x10000;
		cp = lead & 0x07;
	}
	else
		return 0;
	if (static_cast<std::size_t>(end - p) < length)
		return 0;
	for (std::size_t k = 1; k < length; ++k)
	{
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	if (cp < low || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return length;
}


int lowerHexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}


bool isShortEscape(char e)
{
	return e == 'n' || e == 'r' || e == '"' || e == '\\' || e == 't';
}


const char* pastBodyStop(const char* p, const char* end, bool& closed)
/// p is at a byte isBodyStop() marks: the position after it (and after the escape or character it
/// starts), with closed set when it is the closing quote; nullptr when the string is not valid
/// JSON in Go's escaping (§4.4): a raw < > & U+2028 U+2029 or control character, an escape Go
/// does not write, or bad UTF-8.
{
	const auto c = static_cast<unsigned char>(*p);
	if (c == '"')
	{
		closed = true;
		return p + 1;
	}
	if (c == '\\')
	{
		if (end - p < 2)
			return nullptr;
		const char e = p[1];
		if (isShortEscape(e))
			return p + 2;
		if (e != 'u' || end - p < 6)
			return nullptr;
		int value = 0;
		for (std::size_t k = 2; k < 6; ++k)
		{
			int digit = lowerHexValue(p[k]);
			if (digit < 0)
				return nullptr;
			value = (value << 4) | digit;
		}
		const bool goEscapes = (value < 0x20 && value != '\n' && value != '\r' && value != '\t') || value == '<' ||
		                       value == '>' || value == '&' || value == 0x2028 || value == 0x2029;
		return goEscapes ? p + 6 : nullptr;
	}
	if (c < 0x80)
		return nullptr; // a raw control character, < > or &
	const auto* u = reinterpret_cast<const unsigned char*>(p);
	std::size_t length = utf8Length(u, reinterpret_cast<const unsigned char*>(end));
	if (length == 0 || (length == 3 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] & 0xFE) == 0xA8))
		return nullptr;
	return p + length;
}


struct BaselineBlocks
/// SSE2 (or eight bytes at a time without it): every x86-64 CPU.
{
	static constexpr std::size_t WIDTH = 16;
	static std::uint32_t stops(const char* p) { return bodyStops(p); }
	static std::uint32_t shortEscapes(const char* p) { return shortEscapeStarts(p); }
};


#if defined(SWITCHBOARD_GOVPN_AVX2)
struct Avx2Blocks
/// bodyStops() 32 bytes at a time from two nibble tables: each high nibble names a class bit,
/// and a byte stops the scan when its low nibble's entry has that bit.
{
	static constexpr std::size_t WIDTH = 32;

	__attribute__((target("avx2"))) static std::uint32_t stops(const char* p)
	{
		// class 0x01: control characters and non-ASCII (any low nibble); 0x02: '"' and '&';
		// 0x04: '<' and '>'; 0x08: '\\'.
		const __m256i classOfHigh = _mm256_setr_epi8(1, 1, 2, 4, 0, 8, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 0, 8,
		                                             0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
		const __m256i stopsForLow = _mm256_setr_epi8(1, 1, 3, 1, 1, 1, 3, 1, 1, 1, 1, 1, 13, 1, 5, 1, 1, 1, 3, 1, 1, 1,
		                                             3, 1, 1, 1, 1, 1, 13, 1, 5, 1);
		const __m256i nibble = _mm256_set1_epi8(0x0F);
		const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
		const __m256i high = _mm256_and_si256(_mm256_srli_epi32(bytes, 4), nibble);
		const __m256i low = _mm256_and_si256(bytes, nibble);
		const __m256i hits =
		    _mm256_and_si256(_mm256_shuffle_epi8(classOfHigh, high), _mm256_shuffle_epi8(stopsForLow, low));
		return ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hits, _mm256_setzero_si256())));
	}

	__attribute__((target("avx2"))) static std::uint32_t shortEscapes(const char* p)
	{
		const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
		const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
		const __m256i letter = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(next, _mm256_set1_epi8('n')),
		                                                       _mm256_cmpeq_epi8(next, _mm256_set1_epi8('r'))),
		                                       _mm256_cmpeq_epi8(next, _mm256_set1_epi8('t')));
		const __m256i escapes = _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi8('\\')), letter);
		return static_cast<std::uint32_t>(_mm256_movemask_epi8(escapes));
	}
};
#endif


template <class Blocks>
inline __attribute__((always_inline)) const char* scanGoString(const char* start, const char* p, const char* end)
/// goStringEnd() a block at a time; the last block is the buffer's final one when it overlaps
/// what was scanned already (only the bits from p on count).
{
	constexpr std::size_t WIDTH = Blocks::WIDTH;
	bool closed = false;
	while (p < end)
	{
		const char* block = p;
		std::uint32_t mask;
		if (p + WIDTH <= end)
		{
			mask = Blocks::stops(block);
			// Text with line breaks (SDP) stops at every \r and \n: when those are all a block
			// holds, it is done in one step (the byte after the block is read too).
			if (mask != 0 && block + WIDTH < end && Blocks::shortEscapes(block) == mask)
			{
				p = block + WIDTH + (mask >> (WIDTH - 1)); // + the last one's letter
				continue;
			}
		}
		else if (static_cast<std::size_t>(end - start) >= WIDTH)
		{
			block = end - WIDTH;
			mask = Blocks::stops(block) & (~0u << (p - block));
			if (mask == 0)
				return nullptr; // no closing quote
		}
		else
			break;
		while (mask != 0)
		{
			const char* at = block + __builtin_ctz(mask);
			if (at[0] == '\\' && at + 1 < end && isShortEscape(at[1]))
				p = at + 2; // handled here, the rest below
			else
			{
				p = pastBodyStop(at, end, closed);
				if (p == nullptr || closed)
					return p;
			}
			const std::size_t done = static_cast<std::size_t>(p - block);
			mask = done >= WIDTH ? 0 : mask & (~0u << done);
		}
		if (p < block + WIDTH)
			p = block + WIDTH;
	}
	while (p < end)
	{
		if (!isBodyStop(static_cast<unsigned char>(*p)))
		{
			++p;
			continue;
		}
		p = pastBodyStop(p, end, closed);
		if (p == nullptr || closed)
			return p;
	}
	return nullptr;
}


#if defined(SWITCHBOARD_GOVPN_AVX2)
__attribute__((target("avx2"))) const char* scanGoStringAvx2(const char* start, const char* p, const char* end)
{
	return scanGoString<Avx2Blocks>(start, p, end);
}
#endif


const char* goStringEnd(const char* start, const char* p, const char* end)
/// p is just past an opening quote in the buffer [start, end): the position after the closing
/// quote of a string that is already exactly what Go's encoder writes for its text, or nullptr.
{
#if defined(SWITCHBOARD_GOVPN_AVX2)
	if (canUseVectors(VectorLevel::AVX2))
		return scanGoStringAvx2(start, p, end);
#endif
	return scanGoString<BaselineBlocks>(start, p, end);
}


// --- objects -------------------------------------------------------------------------------------


class Reader
/// A cursor over one JSON text that only moves forward.
{
public:
	Reader(const char* begin, const char* end):
	    _start(begin),
	    _p(begin),
	    _end(end)
	{
	}

	bool take(char c)
	{
		skipSpace();
		if (_p == _end || *_p != c)
			return false;
		++_p;
		return true;
	}

	template <std::size_t N>
	bool literal(const char (&text)[N])
	/// Takes exactly these bytes (no whitespace skipped), or nothing.
	{
		if (static_cast<std::size_t>(_end - _p) < N - 1 || std::memcmp(_p, text, N - 1) != 0)
			return false;
		_p += N - 1;
		return true;
	}

	template <std::size_t N>
	bool key(const char (&name)[N])
	/// Just past a key's opening quote: takes the key if it is exactly name (a known key is
	/// compared, never scanned for), its closing quote and the colon; otherwise nothing.
	{
		const char* at = _p;
		if (static_cast<std::size_t>(_end - _p) < N || std::memcmp(_p, name, N - 1) != 0 || _p[N - 1] != '"')
			return false;
		_p += N;
		if (take(':'))
			return true;
		_p = at;
		return false;
	}

	bool peek(char c)
	{
		skipSpace();
		return _p != _end && *_p == c;
	}

	bool asciiString(std::string_view& value)
	{
		if (!take('"'))
			return false;
		const char* close = asciiStringEnd(_start, _p, _end);
		if (close == nullptr)
			return false;
		value = std::string_view(_p, static_cast<std::size_t>(close - _p));
		_p = close + 1;
		return true;
	}

	bool goString(std::string_view& token)
	{
		if (!peek('"'))
			return false;
		const char* open = _p;
		const char* after = goStringEnd(_start, _p + 1, _end);
		if (after == nullptr)
			return false;
		token = std::string_view(open, static_cast<std::size_t>(after - open));
		_p = after;
		return true;
	}

	bool atEnd()
	{
		skipSpace();
		return _p == _end;
	}

	const char* position() const { return _p; }
	const char* end() const { return _end; }
	void moveTo(const char* p) { _p = p; }

private:
	void skipSpace()
	{
		while (_p != _end && isSpace(*_p))
			++_p;
	}

	const char* _start;
	const char* _p;
	const char* _end;
};


template <class MemberReader>
bool readObject(Reader& reader, MemberReader readMember)
/// An object; readMember() is called just past each key's opening quote, reads the key (a known
/// one: Reader::key) and then its value.
{
	if (!reader.take('{'))
		return false;
	if (reader.take('}'))
		return true;
	do
	{
		if (!reader.take('"') || !readMember())
			return false;
	} while (reader.take(','));
	return reader.take('}');
}


bool readInner(Reader& reader, SignalFrame& signal, int& bodyType)
/// The inner object; bodyType receives which of the three bodies it holds (-1: none), since
/// the envelope's type may come after its payload.
{
	unsigned seen = 0;
	auto once = [&seen](unsigned bit) {
		if ((seen & bit) != 0)
			return false; // a duplicate: the general path keeps the last one
		seen |= bit;
		return true;
	};
	bodyType = -1;
	return readObject(reader, [&] {
		if (reader.key("room_id"))
			return once(1) && reader.asciiString(signal.roomId);
		if (reader.key("public_key"))
			return once(2) && reader.asciiString(signal.publicKey);
		if (reader.key("destination_id"))
			return once(4) && reader.asciiString(signal.destinationId);
		bodyType = reader.key("offer") ? 0 : reader.key("answer") ? 1 : reader.key("candidate") ? 2 : -1;
		return bodyType >= 0 && once(8) && reader.goString(signal.body);
	});
}


bool readType(Reader& reader, SignalType& type)
{
	if (!reader.take('"'))
		return false;
	type = SignalType::OFFER;
	if (reader.literal("Offer\""))
		return true;
	type = SignalType::ANSWER;
	if (reader.literal("Answer\""))
		return true;
	type = SignalType::CANDIDATE;
	return reader.literal("Candidate\"");
}


} // namespace


bool readSignalFrame(std::string_view frame, std::string& scratch, SignalFrame& signal)
{
	signal = SignalFrame();
	Reader reader(frame.data(), frame.data() + frame.size());
	unsigned seen = 0;
	int bodyType = -1;
	auto once = [&seen](unsigned bit) {
		if ((seen & bit) != 0)
			return false;
		seen |= bit;
		return true;
	};
	auto readPayload = [&] {
		if (reader.peek('{'))
		{
			signal.form = PayloadForm::OBJECT;
			return readInner(reader, signal, bodyType);
		}
		if (!reader.take('"'))
			return false;
		// Base64: up to the closing quote; the strict decoder refuses everything else there
		// (escapes, whitespace, the "{" of the JSON-string form).
		const char* text = reader.position();
		const void* close = std::memchr(text, '"', static_cast<std::size_t>(reader.end() - text));
		if (close == nullptr)
			return false;
		const auto* after = static_cast<const char*>(close);
		const std::string_view digits(text, static_cast<std::size_t>(after - text));
		if (scratch.size() < decodedCapacity(digits.size()))
			scratch.resize(decodedCapacity(digits.size())); // grows only: nothing cleared per frame
		const std::size_t size = readBase64(digits, scratch.data());
		if (size == BAD_BASE64)
			return false;
		reader.moveTo(after + 1);
		signal.form = PayloadForm::BASE64;
		Reader inner(scratch.data(), scratch.data() + size);
		return readInner(inner, signal, bodyType) && inner.atEnd();
	};
	const bool read = readObject(reader, [&] {
		if (reader.key("message_id"))
			return once(1) && reader.asciiString(signal.messageId);
		if (reader.key("type"))
			return once(2) && readType(reader, signal.type);
		if (reader.key("payload"))
			return once(4) && readPayload();
		return false;
	});
	// An absent body, or the one the type names; another type's body is the general path's case.
	return read && reader.atEnd() && (seen & 6) == 6 && (bodyType < 0 || bodyType == static_cast<int>(signal.type));
}


static char* grownTo(std::string& buffer, std::size_t size)
/// The buffers only grow: a relay neither allocates nor clears memory it then overwrites.
{
	if (buffer.size() < size)
		buffer.resize(size);
	return buffer.data();
}


std::string_view writeRelayedInner(RelayBuffers& buffers, const SignalFrame& signal, std::string_view destinationKey,
                                   std::string_view senderKey, std::string_view roomId, std::string_view sourceId)
{
	// {"<body>":B,"destination_id":"D","public_key":"K","room_id":"R","source_id":"S"}: the
	// fields in alphabetical order (§7.2), so the body comes first for answer and candidate.
	static constexpr std::string_view OPEN = "{", BODY_START = "\"", BODY_COLON = "\":", BODY_END = ",",
	                                  DESTINATION = "\"destination_id\":\"", DESTINATION_END = "\",",
	                                  KEY = "\"public_key\":\"", ROOM = "\",\"room_id\":\"",
	                                  SOURCE = "\",\"source_id\":\"", CLOSE = "\"}";
	const std::string_view bodyName = SIGNAL_BODY_NAMES[static_cast<int>(signal.type)];
	const std::size_t innerSize = OPEN.size() + BODY_START.size() + bodyName.size() + BODY_COLON.size() +
	                              signal.body.size() + BODY_END.size() + DESTINATION.size() + destinationKey.size() +
	                              DESTINATION_END.size() + KEY.size() + senderKey.size() + ROOM.size() + roomId.size() +
	                              SOURCE.size() + sourceId.size() + CLOSE.size();
	char* o = grownTo(buffers.inner, innerSize);
	const char* const innerStart = o;
	auto put = [&o](std::string_view text) {
		std::memcpy(o, text.data(), text.size());
		o += text.size();
	};
	auto putBody = [&] {
		put(BODY_START);
		put(bodyName);
		put(BODY_COLON);
		put(signal.body);
		put(BODY_END);
	};
	put(OPEN);
	if (bodyName < "destination_id")
		putBody();
	put(DESTINATION);
	put(destinationKey);
	put(DESTINATION_END);
	if (bodyName > "destination_id")
		putBody();
	put(KEY);
	put(senderKey);
	put(ROOM);
	put(roomId);
	put(SOURCE);
	put(sourceId);
	put(CLOSE);
	return std::string_view(innerStart, static_cast<std::size_t>(o - innerStart));
}


std::string_view writeRelayedSignal(RelayBuffers& buffers, const SignalFrame& signal, std::string_view destinationKey,
                                    std::string_view senderKey, std::string_view roomId, std::string_view sourceId,
                                    PayloadForm form)
{
	static constexpr std::string_view FRAME_START = "{\"message_id\":\"\",\"type\":\"",
	                                  FRAME_PAYLOAD = "\",\"payload\":\"", FRAME_END = "\"}\n";
	const std::string_view type = SIGNAL_TYPE_NAMES[static_cast<int>(signal.type)];
	const std::string_view inner = writeRelayedInner(buffers, signal, destinationKey, senderKey, roomId, sourceId);
	if (form != PayloadForm::BASE64)
	{
		buffers.frame.clear();
		appendFrame(buffers.frame, "", type, inner, form);
		return buffers.frame;
	}
	const std::size_t frameSize =
	    FRAME_START.size() + type.size() + FRAME_PAYLOAD.size() + base64Size(inner.size()) + FRAME_END.size();
	char* o = grownTo(buffers.frame, frameSize);
	const char* const frameStart = o;
	auto put = [&o](std::string_view text) {
		std::memcpy(o, text.data(), text.size());
		o += text.size();
	};
	put(FRAME_START);
	put(type);
	put(FRAME_PAYLOAD);
	o = writeBase64(inner, o);
	put(FRAME_END);
	return std::string_view(frameStart, static_cast<std::size_t>(o - frameStart));
}


} // namespace Govpn
} // namespace Switchboard
