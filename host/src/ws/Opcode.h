//
// Opcode.h
//
// WebSocket frame opcodes (RFC 6455, section 5.2), shared by the frame decoder and encoder.
//


#ifndef Switchboard_WS_Opcode_INCLUDED
#define Switchboard_WS_Opcode_INCLUDED


#include <cstdint>


namespace Switchboard {
namespace WS {


enum Opcode : std::uint8_t
/// The opcodes RFC 6455 defines; 3-7 and 0xB-0xF are reserved and rejected by the decoder.
{
	CONTINUATION = 0,
	TEXT = 1,
	BINARY = 2,
	CLOSE = 8,
	PING = 9,
	PONG = 10
};


inline bool isControlOpcode(std::uint8_t opcode)
/// Control opcodes have the high bit of the 4-bit opcode set.
{
	return (opcode & 0x08) != 0;
}


inline bool isKnownOpcode(std::uint8_t opcode)
/// True for the six opcodes above.
{
	return opcode <= BINARY || (opcode >= CLOSE && opcode <= PONG);
}


} // namespace WS
} // namespace Switchboard


#endif // Switchboard_WS_Opcode_INCLUDED
