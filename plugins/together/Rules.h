//
// Rules.h
//
// Together's value rules and formats (docs/protocols/together.md): the limits on names, texts and
// URLs with the exact error messages clients match on, ids (UUID v4), timestamps and token hashes.
// Lengths are counted in Unicode code points, as the contract does. All functions are pure and
// thread-safe.
//


#ifndef Switchboard_Together_Rules_INCLUDED
#define Switchboard_Together_Rules_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Together {


std::size_t codePoints(std::string_view utf8);
/// The number of code points in valid UTF-8 (each byte that does not continue a sequence).

// Each check returns "" when the value is allowed, otherwise the contract's message.
std::string usernameError(std::string_view username);
std::string emailError(std::string_view email); ///< "" is allowed: it means no email
std::string passwordError(std::string_view password);
std::string serverNameError(std::string_view name);
std::string serverDescriptionError(std::string_view description);
std::string iconUrlError(std::string_view url);
std::string avatarUrlError(std::string_view url);
std::string channelNameError(std::string_view name);
std::string channelTopicError(std::string_view topic);
std::string channelCategoryError(std::string_view category);
std::string messageContentError(std::string_view content);
std::string customStatusError(std::string_view status);

constexpr int DEFAULT_PAGE = 50;
constexpr int MAX_PAGE = 100;

bool pageLimit(std::string_view query, int& limit);
/// The `limit` query value: absent (empty) is DEFAULT_PAGE, an integer is clamped to
/// 1..MAX_PAGE, anything else is false ("Invalid query parameter 'limit'").


std::string formatUuid(const unsigned char random[16]);
/// A UUID v4 in its lowercase hyphenated form from 16 random bytes (version and variant set).

bool parseUuid(std::string_view text, std::string& normalized);
/// Any UUID written 8-4-4-4-12 in hex of either case; normalized is its lowercase form.

std::string formatTimestamp(std::int64_t micros);
/// RFC 3339 in UTC with exactly six fractional digits and Z, e.g. 2026-02-22T20:42:02.123456Z.

std::string sha256Hex(std::string_view text);
/// The SHA-256 of text in lowercase hex (how refresh tokens are stored).

std::string clientIp(const std::string& remoteAddress);
/// The address of "ip:port" or "[v6]:port", the key of the per-IP rate limits.


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_Rules_INCLUDED
