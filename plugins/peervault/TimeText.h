//
// TimeText.h
//
// PeerVault's time formats (docs/protocols/peervault.md): RFC 3339 timestamps as sent (UTC, "Z",
// exactly three fractional digits) and as accepted from publishers (any offset, any number of
// fractional digits); Go-style durations as the configuration accepts them ("30s", "1m30s",
// "1.5s", a bare number of seconds) and as /ws/health prints uptimes ("2m3.5s", "850ms").
// Pure functions: thread-safe.
//


#ifndef Switchboard_PeerVault_TimeText_INCLUDED
#define Switchboard_PeerVault_TimeText_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace PeerVault {
namespace TimeText {


std::string formatTimestamp(std::int64_t unixMillis);
/// "2024-01-01T00:00:00.123Z" (UTC, three fractional digits). Years 0000..9999.

void appendTimestamp(std::string& out, std::int64_t unixMillis);
/// formatTimestamp appended to out, without a temporary.

bool parseTimestamp(std::string_view text, std::int64_t& unixMillis);
/// An RFC 3339 date-time: YYYY-MM-DD, 'T' or 't' (or one space), hh:mm:ss, optional '.' and one or
/// more digits (beyond milliseconds truncated), then 'Z', 'z' or +hh:mm / -hh:mm. Calendar-checked
/// (month lengths, leap years; second 60 refused). False for anything else.

std::string formatUptime(std::int64_t millis);
/// Go's Duration.String() at millisecond precision: "0s", "850ms", "1.008s", "2m3.5s", "1h0m0s",
/// "26h3m4.25s". Negative values print as "0s".

bool parseDuration(std::string_view text, std::int64_t& millis);
/// Go duration syntax: one or more <number><unit> with units ns, us, µs (U+00B5 or U+03BC), ms, s,
/// m, h, numbers with an optional fraction ("1.5s"), an optional leading '+'; or a bare
/// non-negative number meaning seconds ("30", "0.5"). Negative durations, empty text, unknown
/// units and results beyond 100 years are refused. The result is rounded down to milliseconds.


} // namespace TimeText
} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_TimeText_INCLUDED
