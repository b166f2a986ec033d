//
// FrameEncoder.h
//
// Builds RFC 6455 frames: unmasked for the server role, masked for clients (tests, load generator).
//


#ifndef Switchboard_WS_FrameEncoder_INCLUDED
#define Switchboard_WS_FrameEncoder_INCLUDED


#include "ws/Opcode.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace WS {


constexpr std::size_t MAX_HEADER_SIZE = 14;
/// 2 bytes + 8-byte extended length + 4-byte masking key.

constexpr std::size_t MAX_CONTROL_PAYLOAD = 125;
/// Control frames (close, ping, pong) carry at most this many payload bytes.


std::size_t encodeHeader(char* out, Opcode opcode, bool fin, std::uint64_t payloadLen, const std::uint8_t* maskKey);
/// Writes a frame header into out (room for MAX_HEADER_SIZE bytes) and returns its length:
/// 2, 4 or 10 bytes, plus 4 when maskKey (4 bytes) is given. Uses the minimal length
/// encoding. RSV bits are zero. payloadLen must be < 2^63. The payload itself is not touched;
/// a masked payload must be passed through applyMask() by the caller.

std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin = true);
/// A complete unmasked frame (server role).

std::string encodeMaskedFrame(Opcode opcode, std::string_view payload, std::uint32_t maskKey, bool fin = true);
/// A complete masked frame (client role). The key's bytes go on the wire most significant
/// first, so 0x37FA213D is sent as 37 FA 21 3D.

std::string closePayload(std::uint16_t code, std::string_view reason);
/// The payload of a close frame: the code in network byte order followed by the reason,
/// truncated so the payload stays within MAX_CONTROL_PAYLOAD without splitting a UTF-8
/// sequence. The reason should be valid UTF-8. The caller must not send the codes that RFC 6455
/// reserves for local use (1005, 1006, 1015).

void applyMask(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset = 0);
/// XORs data with the 4-byte maskKey in place, 16 bytes at a time. offset is the position of
/// data[0] within the frame payload (only offset % 4 matters), so a payload can be masked or
/// unmasked in pieces.

bool applyMaskAscii(char* data, std::size_t len, const std::uint8_t* maskKey, std::size_t offset = 0);
/// applyMask(), and true if every byte of the result is ASCII (below 0x80): found in the same
/// pass, so that text which is all ASCII, valid UTF-8 as it stands, needs no second look.


} // namespace WS
} // namespace Switchboard


#endif // Switchboard_WS_FrameEncoder_INCLUDED
