//
// ClientCodec.h
//
// Client-role RFC 6455 framing for the load generator: masked frames out, server frames in.
// Deliberately independent of host/src/ws, which is the code under test.
//


#ifndef Switchboard_Bench_ClientCodec_INCLUDED
#define Switchboard_Bench_ClientCodec_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace Bench {


class ClientCodec
/// Not thread-safe (it owns the masking-key generator); the generator is single-threaded.
{
public:
	enum Opcode
	{
		CONTINUATION = 0x0,
		TEXT = 0x1,
		BINARY = 0x2,
		CLOSE = 0x8,
		PING = 0x9,
		PONG = 0xA
	};

	struct Frame
	{
		int opcode = 0;
		bool fin = false;
		char* data = nullptr; ///< points into the parsed buffer, unmasked
		std::size_t size = 0;
		std::size_t frameSize = 0; ///< header + payload: how far to advance
	};

	enum class Parse
	{
		FRAME,     ///< frame is complete
		NEED_MORE, ///< the buffer ends inside a frame
		INVALID    ///< reserved bits, unknown opcode or payload over the limit
	};

	explicit ClientCodec(std::uint64_t seed);

	void appendFrame(std::string& out, int opcode, const char* data, std::size_t size);
	/// Appends one final frame with a fresh masking key; the payload is masked while copied.

	static Parse parse(char* data, std::size_t size, std::size_t maxPayload, Frame& frame);
	/// Parses the frame at data. A masked server frame (not allowed, but harmless) is unmasked in
	/// place, which is why data is writable.

private:
	std::uint32_t nextKey();

	std::uint64_t _state;
};


void writeDigits(char* at, std::uint64_t value, int digits);
/// value as exactly digits decimal digits at at (zero-padded, high digits cut off).

bool readDigits(const char* at, int digits, std::uint64_t& value);
/// The decimal number in the digits characters at at; false if one is not a digit.


} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_ClientCodec_INCLUDED
