//
// Utf8Validator.h
//
// Incremental UTF-8 validation for text messages and close reasons.
//


#ifndef Switchboard_WS_Utf8Validator_INCLUDED
#define Switchboard_WS_Utf8Validator_INCLUDED


#include <cstddef>
#include <cstdint>


namespace Switchboard {
namespace WS {


class Utf8Validator
/// Validates UTF-8 as defined by RFC 3629 (Unicode "well-formed UTF-8"), incrementally: the
/// state survives across feed() calls, so a sequence may be split across fragments or reads.
/// Rejects overlong encodings, surrogates (U+D800..U+DFFF), code points above U+10FFFF and
/// bad continuation bytes. Once invalid, it stays invalid until reset().
///
/// Three bytes of state, so it can live inside every per-connection decoder.
{
public:
	Utf8Validator() = default;

	bool feed(const char* data, std::size_t len);
	/// Validates the next len bytes. Returns false as soon as the input so far is not a
	/// prefix of valid UTF-8 (and on every later call until reset()).

	bool complete() const;
	/// True if everything fed so far is valid and no multi-byte sequence is left unfinished.

	bool failed() const;
	/// True once invalid input has been seen.

	void reset();
	/// Starts over with empty input.

	static bool isValid(const char* data, std::size_t len);
	/// One-shot check of a complete string.

private:
	static constexpr std::uint8_t FAILED = 0xFF;

	std::uint8_t _pending = 0; // continuation bytes still expected, or FAILED
	std::uint8_t _lo = 0x80;   // allowed range of the next continuation byte; the first one
	std::uint8_t _hi = 0xBF;   // after E0, ED, F0 and F4 is narrower (overlongs, surrogates, > U+10FFFF)
};


//
// inlines
//
inline bool Utf8Validator::complete() const
{
	return _pending == 0;
}


inline bool Utf8Validator::failed() const
{
	return _pending == FAILED;
}


inline void Utf8Validator::reset()
{
	_pending = 0;
	_lo = 0x80;
	_hi = 0xBF;
}


} // namespace WS
} // namespace Switchboard


#endif // Switchboard_WS_Utf8Validator_INCLUDED
