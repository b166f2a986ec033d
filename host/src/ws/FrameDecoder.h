//
// FrameDecoder.h
//
// Incremental RFC 6455 frame parser: validates, unmasks in place and reassembles messages.
//


#ifndef Switchboard_WS_FrameDecoder_INCLUDED
#define Switchboard_WS_FrameDecoder_INCLUDED


#include "ws/FrameEncoder.h"
#include "ws/Opcode.h"
#include "ws/Utf8Validator.h"
#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace WS {


enum class Role : std::uint8_t
/// Which end of the connection the decoder is on; it decides the masking rule for received frames.
{
	SERVER, ///< peer frames must be masked
	CLIENT  ///< peer frames must not be masked
};


class DecoderHandler
/// Receives the events of a FrameDecoder. All pointers are views that are valid only during
/// the call. A handler may call FrameDecoder::stop() from inside any callback; it must not
/// call feed() re-entrantly or destroy the decoder. If a callback throws, the decoder stops
/// and the exception propagates out of feed().
{
public:
	virtual ~DecoderHandler() = default;

	virtual void onMessage(bool isText, const char* data, std::size_t len) = 0;
	/// A complete message, reassembled from its fragments. Text is valid UTF-8.

	virtual void onMessageBegin() {}
	/// The first frame header of a data message was read (so a handler can time how long the
	/// message takes to complete). Followed by onMessage() or by the decoder stopping.

	virtual void onPing(const char* data, std::size_t len) = 0;
	/// A ping (payload <= 125 bytes), delivered at once, also between fragments of a message.

	virtual void onPong(const char* data, std::size_t len) = 0;
	/// A pong (payload <= 125 bytes).

	virtual void onClose(std::uint16_t code, const char* reason, std::size_t reasonLen) = 0;
	/// A valid close frame. code is 1005 when the frame had no payload; the reason is valid
	/// UTF-8. The decoder has stopped when this is called.

	virtual void onProtocolError(std::uint16_t closeCode, const char* reason) = 0;
	/// The peer violated RFC 6455: closeCode is the code to close with (1002 protocol
	/// error, 1007 invalid UTF-8, 1009 message too big) and reason a static, human-readable
	/// explanation. The decoder has stopped when this is called.
};


class FrameDecoder
/// Parses the byte stream of one WebSocket connection into messages and control frames.
///
/// Input may be split anywhere: a partial header is kept in a fixed 14-byte array, and a
/// payload that straddles feed() calls is collected in a reassembly buffer. Payloads are
/// unmasked in place in the caller's buffer. An unfragmented data frame (or control frame)
/// whose payload lies entirely in one fed buffer is delivered as a view into that buffer
/// without copying; only straddling frames and fragmented messages are copied. After a
/// message of more than 64 KiB the reassembly buffer's memory is released.
///
/// Every violation is reported through onProtocolError() with the close code RFC 6455
/// requires, as early as it can be detected: header checks before the payload arrives,
/// the message size limit (summed over fragments) from each frame header before anything
/// is buffered, and UTF-8 of text messages as each piece of payload arrives. Non-minimal
/// length encodings are accepted. No extensions are supported, so RSV bits must be zero.
///
/// Not thread-safe; one decoder per connection, used by one thread at a time.
{
public:
	FrameDecoder(Role role, std::size_t maxMessageSize);
	/// Creates a decoder for the given role. Data messages (summed over their fragments)
	/// larger than maxMessageSize bytes are refused with 1009.

	std::size_t feed(char* data, std::size_t len, DecoderHandler& handler);
	/// Parses the next len bytes of the stream, unmasking payloads in place, and reports
	/// events to handler. Returns len unless the decoder stopped during the call (close
	/// frame, protocol error or stop() from a callback); then it returns how many bytes were
	/// processed, and the rest is ignored. Once stopped, feed() ignores all input and returns 0.

	void stop();
	/// Stops the decoder: no more events, all further input ignored. May be called from
	/// inside a callback; feed() then returns as soon as the callback does. The reassembly
	/// buffer is released by the next feed() call or the destructor.

	bool stopped() const;
	/// True after onClose(), onProtocolError() or stop().

	void setCheckText(bool check) { _checkText = check; }
	/// false: text messages are not checked for UTF-8 (delivered as binary ones are).

	bool invalidText() const { return _invalidText; }
	/// True once onProtocolError() reported a text message that is not valid UTF-8 (as opposed
	/// to another 1007, an invalid close reason), so a handler can close as its endpoint asks.

	Role role() const;

	std::size_t maxMessageSize() const;

	std::size_t reassemblyCapacity() const;
	/// Bytes currently reserved by the reassembly buffer (diagnostics and tests).

	std::size_t bufferedBytes() const;
	/// Bytes currently held in the reassembly buffer: an unfinished message's payload so far.

	void discard();
	/// stop() and free the reassembly buffer at once. Not from inside a callback (the buffer may
	/// be the view the callback holds).

	static bool isValidCloseCode(std::uint16_t code);
	/// True for the close codes a peer may send: 1000-1003, 1007-1011 and 3000-4999.

private:
	enum State : std::uint8_t
	{
		HEADER,        // reading a frame header
		PAYLOAD_START, // header done, no payload byte received yet
		PAYLOAD,       // part of the payload received
		STOPPED
	};

	char* readHeader(char* p, char* end, DecoderHandler& handler);
	bool checkFirstBytes(std::uint8_t b0, std::uint8_t b1, DecoderHandler& handler);
	char* beginFrame(const std::uint8_t* header, char* p, char* end, DecoderHandler& handler);
	char* startPayload(char* p, char* end, DecoderHandler& handler);
	char* readPayload(char* p, char* end, DecoderHandler& handler);
	bool unmask(char* p, std::size_t n, bool text);
	/// Unmasks a piece of data payload (server role) and returns true when it needs no UTF-8
	/// check: binary, or text that is all ASCII while no sequence is open.
	void handleControl(const char* data, std::size_t len, DecoderHandler& handler);
	void handleClose(const char* data, std::size_t len, DecoderHandler& handler);
	void deliverBuffered(DecoderHandler& handler);
	void fail(DecoderHandler& handler, std::uint16_t closeCode, const char* reason);
	void failText(DecoderHandler& handler, const char* reason);
	/// fail() with 1007 for a text message that is not valid UTF-8 (sets invalidText()).
	void releaseBuffer();

	std::string _buffer;          // fragments of the open message, then possibly a partial control frame
	std::uint64_t _remaining = 0; // payload bytes of the current frame not yet received
	std::size_t _maxMessageSize;
	std::uint8_t _header[MAX_HEADER_SIZE] = {};
	std::uint8_t _mask[4] = {};
	std::uint8_t _headerLen = 0;                // bytes of a straddling header collected in _header
	std::uint8_t _maskPos = 0;                  // payload offset of the next byte, modulo 4
	std::uint8_t _opcode = 0;                   // of the current frame
	std::uint8_t _controlLen = 0;               // payload length of a straddling control frame
	std::uint8_t _messageOpcode = CONTINUATION; // TEXT or BINARY while a message is open
	bool _fin = false;                          // of the current frame
	bool _invalidText = false;                  // failed on a text message's UTF-8
	bool _checkText = true;                     // validate text messages' UTF-8
	State _state = HEADER;
	Role _role;
	Utf8Validator _utf8; // of the open text message
};


//
// inlines
//
inline void FrameDecoder::stop()
{
	_state = STOPPED;
}


inline bool FrameDecoder::stopped() const
{
	return _state == STOPPED;
}


inline Role FrameDecoder::role() const
{
	return _role;
}


inline std::size_t FrameDecoder::maxMessageSize() const
{
	return _maxMessageSize;
}


inline std::size_t FrameDecoder::reassemblyCapacity() const
{
	return _buffer.capacity();
}


inline std::size_t FrameDecoder::bufferedBytes() const
{
	return _buffer.size();
}


inline bool FrameDecoder::isValidCloseCode(std::uint16_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}


} // namespace WS
} // namespace Switchboard


#endif // Switchboard_WS_FrameDecoder_INCLUDED
