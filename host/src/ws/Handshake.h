//
// Handshake.h
//
// The key computations of the RFC 6455 opening handshake (Sec-WebSocket-Key / -Accept).
//


#ifndef Switchboard_WS_Handshake_INCLUDED
#define Switchboard_WS_Handshake_INCLUDED


#include <string>
#include <string_view>


namespace Switchboard {
namespace WS {


std::string computeAcceptKey(std::string_view secWebSocketKey);
/// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key: Base64 of the SHA-1 of the
/// key followed by the RFC 6455 GUID. The key is used exactly as given (the HTTP layer trims
/// header whitespace).

bool isValidClientKey(std::string_view secWebSocketKey);
/// True if the key is Base64 of 16 bytes: 22 Base64 characters followed by "==" (24 in all).
/// No whitespace is allowed.

std::string generateClientKey();
/// A fresh Sec-WebSocket-Key for the client role: 16 random bytes, Base64-encoded.


} // namespace WS
} // namespace Switchboard


#endif // Switchboard_WS_Handshake_INCLUDED
