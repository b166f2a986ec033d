//
// FrameDecoder.cpp
//
// Incremental RFC 6455 frame parser: validates, unmasks in place and reassembles messages.
//


#include "ws/FrameDecoder.h"
#include <algorithm>
#include <cstring>


namespace Switchboard {
namespace WS {


namespace {


constexpr std::uint16_t PROTOCOL_ERROR = 1002;
constexpr std::uint16_t NO_STATUS = 1005;
constexpr std::uint16_t INVALID_PAYLOAD = 1007;
constexpr std::uint16_t MESSAGE_TOO_BIG = 1009;

// Above this the reassembly buffer is freed after each message, so idle connections stay small.
constexpr std::size_t RETAINED_CAPACITY = 64 * 1024;


std::size_t headerSize(std::uint8_t b1)
{
	const std::uint8_t len7 = b1 & 0x7F;
	return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}


} // namespace


FrameDecoder::FrameDecoder(Role role, std::size_t maxMessageSize):
    _maxMessageSize(maxMessageSize),
    _role(role)
{
}


std::size_t FrameDecoder::feed(char* data, std::size_t len, DecoderHandler& handler)
{
	if (_state == STOPPED)
	{
		releaseBuffer();
		return 0;
	}
	char* p = data;
	char* const end = data + len;
	try
	{
		while (p < end)
		{
			if (_state == HEADER)
				p = readHeader(p, end, handler);
			else if (_state == PAYLOAD_START)
				p = startPayload(p, end, handler);
			else
				p = readPayload(p, end, handler);
			if (_state == STOPPED)
			{
				// Safe now: no callback holds a view into the buffer any more.
				releaseBuffer();
				return static_cast<std::size_t>(p - data);
			}
		}
	}
	catch (...)
	{
		// The state may be half-updated; refuse to continue rather than misparse.
		_state = STOPPED;
		releaseBuffer();
		throw;
	}
	return len;
}


char* FrameDecoder::readHeader(char* p, char* end, DecoderHandler& handler)
{
	const auto avail = static_cast<std::size_t>(end - p);
	if (_headerLen == 0 && avail >= 2)
	{
		// Common case: the header starts in this buffer; parse it in place if it is all here.
		const auto* in = reinterpret_cast<const std::uint8_t*>(p);
		if (!checkFirstBytes(in[0], in[1], handler))
			return p;
		const std::size_t need = headerSize(in[1]);
		if (avail >= need)
			return beginFrame(in, p + need, end, handler);
		std::memcpy(_header, p, avail);
		_headerLen = static_cast<std::uint8_t>(avail);
		return end;
	}

	// The header straddles feed() calls: collect it in _header.
	if (_headerLen < 2)
	{
		_header[_headerLen++] = static_cast<std::uint8_t>(*p++);
		if (_headerLen < 2)
			return p;
		if (!checkFirstBytes(_header[0], _header[1], handler))
			return p;
	}
	const std::size_t need = headerSize(_header[1]);
	const std::size_t take = std::min(need - _headerLen, static_cast<std::size_t>(end - p));
	std::memcpy(_header + _headerLen, p, take);
	_headerLen = static_cast<std::uint8_t>(_headerLen + take);
	p += take;
	if (_headerLen < need)
		return p;
	_headerLen = 0;
	return beginFrame(_header, p, end, handler);
}


bool FrameDecoder::checkFirstBytes(std::uint8_t b0, std::uint8_t b1, DecoderHandler& handler)
{
	// Everything decidable from the first two bytes is checked before the rest of the header.
	const std::uint8_t opcode = b0 & 0x0F;
	const bool fin = (b0 & 0x80) != 0;
	const bool masked = (b1 & 0x80) != 0;
	if (b0 & 0x70)
		fail(handler, PROTOCOL_ERROR, "RSV bit set but no extension was negotiated");
	else if (!isKnownOpcode(opcode))
		fail(handler, PROTOCOL_ERROR, "reserved opcode");
	else if (_role == Role::SERVER && !masked)
		fail(handler, PROTOCOL_ERROR, "client frame is not masked");
	else if (_role == Role::CLIENT && masked)
		fail(handler, PROTOCOL_ERROR, "server frame is masked");
	else if (isControlOpcode(opcode) && !fin)
		fail(handler, PROTOCOL_ERROR, "fragmented control frame");
	else if (opcode == CONTINUATION && _messageOpcode == CONTINUATION)
		fail(handler, PROTOCOL_ERROR, "continuation frame without a message to continue");
	else if ((opcode == TEXT || opcode == BINARY) && _messageOpcode != CONTINUATION)
		fail(handler, PROTOCOL_ERROR, "new data frame inside a fragmented message");
	return _state != STOPPED;
}


char* FrameDecoder::beginFrame(const std::uint8_t* header, char* p, char* end, DecoderHandler& handler)
{
	_opcode = header[0] & 0x0F;
	_fin = (header[0] & 0x80) != 0;
	std::uint64_t len = header[1] & 0x7F;
	std::size_t pos = 2;
	if (len == 126)
	{
		len = (static_cast<std::uint64_t>(header[2]) << 8) | header[3];
		pos = 4;
	}
	else if (len == 127)
	{
		len = 0;
		for (std::size_t i = 2; i < 10; ++i)
			len = (len << 8) | header[i];
		pos = 10;
		if (len >> 63)
		{
			fail(handler, PROTOCOL_ERROR, "64-bit payload length has the most significant bit set");
			return p;
		}
	}
	if (_role == Role::SERVER)
		std::memcpy(_mask, header + pos, 4);
	_maskPos = 0;

	if (!isControlOpcode(_opcode))
	{
		// Here the buffer holds exactly the earlier fragments of the open message (nothing for a
		// new one), and already <= _maxMessageSize, so the subtraction cannot wrap.
		const std::size_t already = _buffer.size();
		if (len > _maxMessageSize - already)
		{
			fail(handler, MESSAGE_TOO_BIG, "Message too big");
			return p;
		}
		if (_opcode != CONTINUATION)
		{
			_messageOpcode = _opcode;
			_utf8.reset();
			handler.onMessageBegin();
		}
	}
	else if (len > MAX_CONTROL_PAYLOAD)
	{
		// Checked on the decoded length, so a short payload in a non-minimal form is still fine.
		fail(handler, PROTOCOL_ERROR, "control frame payload over 125 bytes");
		return p;
	}
	_remaining = len;
	_state = PAYLOAD_START;
	return startPayload(p, end, handler);
}


char* FrameDecoder::startPayload(char* p, char* end, DecoderHandler& handler)
{
	const auto avail = static_cast<std::size_t>(end - p);
	if (avail < _remaining)
	{
		// Stay in PAYLOAD_START while nothing has arrived, so a payload that comes whole in
		// the next feed() can still be delivered without a copy.
		if (avail == 0)
			return p;
		// The payload straddles feed() calls; readPayload() collects it.
		_state = PAYLOAD;
		if (isControlOpcode(_opcode))
			_controlLen = static_cast<std::uint8_t>(_remaining);
		return readPayload(p, end, handler);
	}

	// The whole payload is in this buffer.
	_state = HEADER;
	const auto n = static_cast<std::size_t>(_remaining);
	_remaining = 0;
	char* const next = p + n;
	if (isControlOpcode(_opcode))
	{
		if (_role == Role::SERVER)
			applyMask(p, n, _mask);
		handleControl(p, n, handler);
		return next;
	}
	const bool text = _checkText && _messageOpcode == TEXT;
	if (!unmask(p, n, text) && !_utf8.feed(p, n))
	{
		failText(handler, "text message is not valid UTF-8");
		return next;
	}
	if (!_fin)
	{
		_buffer.append(p, n);
		return next;
	}
	if (text && !_utf8.complete())
	{
		failText(handler, "text message ends inside a UTF-8 sequence");
		return next;
	}
	if (_opcode == CONTINUATION)
	{
		_buffer.append(p, n);
		deliverBuffered(handler);
	}
	else
	{
		// Unfragmented and complete: hand out a view of the caller's buffer, no copy.
		const bool isText = _messageOpcode == TEXT; // text even when its UTF-8 was not checked
		_messageOpcode = CONTINUATION;
		handler.onMessage(isText, p, n);
	}
	return next;
}


char* FrameDecoder::readPayload(char* p, char* end, DecoderHandler& handler)
{
	const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(_remaining, static_cast<std::size_t>(end - p)));
	_remaining -= n;
	char* const next = p + n;

	if (isControlOpcode(_opcode))
	{
		if (_role == Role::SERVER)
		{
			applyMask(p, n, _mask, _maskPos);
			_maskPos = static_cast<std::uint8_t>((_maskPos + n) & 3);
		}
		// Appended after any open message's fragments and removed again once delivered.
		_buffer.append(p, n);
		if (_remaining == 0)
		{
			_state = HEADER;
			const std::size_t start = _buffer.size() - _controlLen;
			handleControl(_buffer.data() + start, _controlLen, handler);
			if (_state != STOPPED)
				_buffer.resize(start);
		}
		return next;
	}

	const bool text = _checkText && _messageOpcode == TEXT;
	// Validate before buffering so bad text fails fast, mid-frame.
	if (!unmask(p, n, text) && !_utf8.feed(p, n))
	{
		failText(handler, "text message is not valid UTF-8");
		return next;
	}
	_buffer.append(p, n);
	if (_remaining == 0)
	{
		_state = HEADER;
		if (_fin)
		{
			if (text && !_utf8.complete())
				failText(handler, "text message ends inside a UTF-8 sequence");
			else
				deliverBuffered(handler);
		}
	}
	return next;
}


bool FrameDecoder::unmask(char* p, std::size_t n, bool text)
{
	if (_role == Role::SERVER)
	{
		const std::size_t offset = _maskPos;
		_maskPos = static_cast<std::uint8_t>((_maskPos + n) & 3);
		if (!text)
		{
			applyMask(p, n, _mask, offset);
			return true;
		}
		// ASCII between complete sequences leaves the validator as it is: no need to feed it.
		return applyMaskAscii(p, n, _mask, offset) && _utf8.complete();
	}
	return !text;
}


void FrameDecoder::handleControl(const char* data, std::size_t len, DecoderHandler& handler)
{
	switch (_opcode)
	{
		case PING:
			handler.onPing(data, len);
			break;
		case PONG:
			handler.onPong(data, len);
			break;
		default:
			handleClose(data, len, handler);
			break;
	}
}


void FrameDecoder::handleClose(const char* data, std::size_t len, DecoderHandler& handler)
{
	if (len == 0)
	{
		_state = STOPPED;
		handler.onClose(NO_STATUS, "", 0);
		return;
	}
	if (len == 1)
	{
		fail(handler, PROTOCOL_ERROR, "close frame payload of 1 byte");
		return;
	}
	const auto code =
	    static_cast<std::uint16_t>((static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]));
	if (!isValidCloseCode(code))
	{
		fail(handler, PROTOCOL_ERROR, "invalid close code");
		return;
	}
	if (!Utf8Validator::isValid(data + 2, len - 2))
	{
		fail(handler, INVALID_PAYLOAD, "close reason is not valid UTF-8");
		return;
	}
	_state = STOPPED;
	handler.onClose(code, data + 2, len - 2);
}


void FrameDecoder::deliverBuffered(DecoderHandler& handler)
{
	const bool text = _messageOpcode == TEXT;
	_messageOpcode = CONTINUATION;
	handler.onMessage(text, _buffer.data(), _buffer.size());
	_buffer.clear();
	if (_buffer.capacity() > RETAINED_CAPACITY)
		std::string().swap(_buffer);
}


void FrameDecoder::fail(DecoderHandler& handler, std::uint16_t closeCode, const char* reason)
{
	_state = STOPPED;
	// Called only after the payload (possibly a close reason in the buffer) has been examined.
	releaseBuffer();
	handler.onProtocolError(closeCode, reason);
}


void FrameDecoder::failText(DecoderHandler& handler, const char* reason)
{
	_invalidText = true;
	fail(handler, INVALID_PAYLOAD, reason);
}


void FrameDecoder::discard()
{
	_state = STOPPED;
	releaseBuffer();
}


void FrameDecoder::releaseBuffer()
{
	std::string().swap(_buffer);
}


} // namespace WS
} // namespace Switchboard
