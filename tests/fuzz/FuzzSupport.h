//
// FuzzSupport.h
//
// What every fuzz target shares: the invariant check that aborts (so libFuzzer and the corpus
// replay runners both see a violation), a reader that turns fuzz bytes into decisions, and
// hex dumps for messages.
//


#ifndef Switchboard_Test_FuzzSupport_INCLUDED
#define Switchboard_Test_FuzzSupport_INCLUDED


#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>


/// Checks an invariant of a fuzz target. On failure it prints the condition and where it is
/// and aborts: libFuzzer saves the input as a crash, a replay runner dies and CTest reports it.
#define FUZZ_CHECK(condition)                                                                                          \
	do                                                                                                                 \
	{                                                                                                                  \
		if (!(condition))                                                                                              \
			::Switchboard::Test::fuzzCheckFailed(#condition, __FILE__, __LINE__, std::string());                       \
	} while (false)

/// FUZZ_CHECK with a detail printed on failure: any expression convertible to std::string,
/// evaluated only then.
#define FUZZ_CHECK_MSG(condition, detail)                                                                              \
	do                                                                                                                 \
	{                                                                                                                  \
		if (!(condition))                                                                                              \
			::Switchboard::Test::fuzzCheckFailed(#condition, __FILE__, __LINE__, std::string(detail));                 \
	} while (false)


namespace Switchboard {
namespace Test {


[[noreturn]] inline void fuzzCheckFailed(const char* condition, const char* file, int line, const std::string& detail)
{
	std::fprintf(stderr, "\nFUZZ_CHECK failed: %s\n  at %s:%d\n", condition, file, line);
	if (!detail.empty())
		std::fprintf(stderr, "  %s\n", detail.c_str());
	std::fflush(stderr);
	std::abort();
}


inline std::string hexOf(std::string_view bytes, std::size_t limit = 256)
/// Lower-case hex of the first limit bytes, "..." appended when there were more.
{
	static const char DIGITS[] = "0123456789abcdef";
	std::string out;
	const std::size_t n = std::min(bytes.size(), limit);
	out.reserve(2 * n + 3);
	for (std::size_t i = 0; i < n; ++i)
	{
		const auto byte = static_cast<unsigned char>(bytes[i]);
		out += DIGITS[byte >> 4];
		out += DIGITS[byte & 15];
	}
	if (bytes.size() > n)
		out += "...";
	return out;
}


class FuzzInput
/// Reads decisions from the front of a fuzz input: bytes, small numbers and pieces. Every read
/// past the end yields zeros or empty pieces, so any input is a complete program.
{
public:
	FuzzInput(const std::uint8_t* data, std::size_t size):
	    _data(reinterpret_cast<const char*>(data), size)
	{
	}

	explicit FuzzInput(std::string_view data):
	    _data(data)
	{
	}

	bool empty() const { return _pos >= _data.size(); }

	std::size_t remaining() const { return _data.size() - _pos; }

	std::uint8_t takeByte()
	{
		if (empty())
			return 0;
		return static_cast<std::uint8_t>(_data[_pos++]);
	}

	std::size_t takeBelow(std::size_t bound)
	/// A number in [0, bound) from one or two bytes; 0 when bound is 0 or 1.
	{
		if (bound <= 1)
			return 0;
		std::size_t value = takeByte();
		if (bound > 256)
			value = (value << 8) | takeByte();
		return value % bound;
	}

	bool takeBool() { return (takeByte() & 1) != 0; }

	std::string_view takeBytes(std::size_t count)
	/// The next count bytes, or fewer at the end.
	{
		const std::size_t n = std::min(count, remaining());
		std::string_view piece = _data.substr(_pos, n);
		_pos += n;
		return piece;
	}

	std::string_view takeUntil(char separator)
	/// The bytes up to the next separator (consumed, not returned), or the rest.
	{
		const std::size_t end = _data.find(separator, _pos);
		const std::size_t stop = end == std::string_view::npos ? _data.size() : end;
		std::string_view piece = _data.substr(_pos, stop - _pos);
		_pos = end == std::string_view::npos ? _data.size() : end + 1;
		return piece;
	}

	std::string_view rest() { return takeBytes(remaining()); }

private:
	std::string_view _data;
	std::size_t _pos = 0;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_FuzzSupport_INCLUDED
