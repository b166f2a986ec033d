//
// Formats.h
//
// The value formats of docs/protocols/govpn.md §1: public keys, room and connection ids,
// passwords, names and timestamps.
//


#ifndef Switchboard_Govpn_Formats_INCLUDED
#define Switchboard_Govpn_Formats_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Govpn {


bool isPublicKey(std::string_view text);
/// Canonical padded standard base64 of exactly 32 bytes.

bool isRoomId(std::string_view text);
/// 16 lowercase hex characters.

bool isPassword(std::string_view text);
/// Exactly four ASCII digits.

bool isRoomName(std::string_view text);
/// 1..255 bytes, no control characters, not only whitespace.

bool isUsername(std::string_view text);
/// 0..255 bytes, no control characters.

std::string rfc3339(std::int64_t unixMs);
/// "2025-07-08T20:09:35Z": UTC, second precision.

std::string lowerHex(const unsigned char* bytes, std::size_t length);


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_Formats_INCLUDED
