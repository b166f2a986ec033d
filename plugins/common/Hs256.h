//
// Hs256.h
//
// Compact JWS signed with HMAC-SHA-256 (the JWT "HS256" algorithm) and nothing else: the one
// signer and checker the bundled plugins share. Each plugin reads its own claims from the
// payload. libsodium computes the MAC and compares it in constant time. Pure functions:
// thread-safe.
//


#ifndef Switchboard_Common_Hs256_INCLUDED
#define Switchboard_Common_Hs256_INCLUDED


#include <string>
#include <string_view>


namespace Switchboard {
namespace Hs256 {


std::string sign(std::string_view secret, std::string_view payloadJson);
/// The compact JWS: base64url({"alg":"HS256","typ":"JWT"}) . base64url(payload) . base64url(MAC).

bool verify(std::string_view secret, std::string_view token, std::string& payloadJson);
/// True when token is three base64url parts (no padding), its header is a JSON object whose
/// "alg" is "HS256" (so "none" and every other algorithm fail) and the MAC over the first two
/// parts matches. payloadJson receives the decoded payload, which the caller must still parse.
/// Never throws on bad input.


} // namespace Hs256
} // namespace Switchboard


#endif // Switchboard_Common_Hs256_INCLUDED
