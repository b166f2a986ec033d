//
// WsTestClient.cpp
//
// A blocking RFC 6455 WebSocket client for tests, with its own framing on raw POSIX sockets.
//


#include "WsTestClient.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include "Poco/Base64Encoder.h"
#include "Poco/SHA1Engine.h"
#include <sstream>
#include <stdexcept>


namespace Switchboard {
namespace Test {


namespace {


constexpr const char* WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


std::string base64(const unsigned char* data, std::size_t length)
{
	std::ostringstream out;
	Poco::Base64Encoder encoder(out);
	encoder.rdbuf()->setLineLength(0);
	encoder.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(length));
	encoder.close();
	return out.str();
}


enum ParseOutcome
{
	PARSE_NEED_MORE,
	PARSE_FRAME,
	PARSE_ERROR
};


// Decodes one frame at buffer[position...]; on PARSE_FRAME sets consumed to its wire size.
ParseOutcome parseFrame(const std::string& buffer, std::size_t position, std::size_t maxPayload,
                        WsTestClient::Frame& frame, std::size_t& consumed, std::string& error)
{
	const std::size_t available = buffer.size() - position;
	if (available < 2)
		return PARSE_NEED_MORE;
	const auto* bytes = reinterpret_cast<const unsigned char*>(buffer.data() + position);
	const bool masked = (bytes[1] & 0x80) != 0;
	const unsigned lengthCode = bytes[1] & 0x7F;
	std::size_t headerSize = 2 + (lengthCode == 126 ? 2 : lengthCode == 127 ? 8 : 0) + (masked ? 4 : 0);
	if (available < headerSize)
		return PARSE_NEED_MORE;
	uint64_t length = lengthCode;
	if (lengthCode == 126)
		length = (uint64_t(bytes[2]) << 8) | bytes[3];
	else if (lengthCode == 127)
	{
		length = 0;
		for (int i = 0; i < 8; ++i)
			length = (length << 8) | bytes[2 + i];
		if (length >> 63)
		{
			error = "frame length with the most significant bit set";
			return PARSE_ERROR;
		}
	}
	if (length > maxPayload)
	{
		error = "frame payload of " + std::to_string(length) + " bytes exceeds the client's limit of " +
		        std::to_string(maxPayload);
		return PARSE_ERROR;
	}
	if (available - headerSize < length)
		return PARSE_NEED_MORE;

	frame.fin = (bytes[0] & 0x80) != 0;
	frame.rsv = (bytes[0] >> 4) & 0x7;
	frame.opcode = bytes[0] & 0x0F;
	frame.masked = masked;
	frame.payload.assign(buffer, position + headerSize, static_cast<std::size_t>(length));
	if (masked)
	{
		const unsigned char* key = bytes + headerSize - 4;
		for (std::size_t i = 0; i < frame.payload.size(); ++i)
			frame.payload[i] = static_cast<char>(static_cast<unsigned char>(frame.payload[i]) ^ key[i % 4]);
	}
	consumed = headerSize + static_cast<std::size_t>(length);
	return PARSE_FRAME;
}


bool isValidWireCloseCode(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}


} // namespace


WsTestClient::WsTestClient():
    _random(std::random_device{}() ^ static_cast<std::mt19937::result_type>(nowMicros())),
    _inPosition(0),
    _upgraded(false),
    _handshakeStatus(0),
    _eof(false),
    _autoPong(false),
    _sendTimeoutMs(DEFAULT_TIMEOUT_MS),
    _maxFrameSize(64 * 1024 * 1024),
    _pingsAnswered(0),
    _closeSent(false),
    _closeReceived(false),
    _partialOpcode(-1),
    _partialFrames(0)
{
}


WsTestClient::~WsTestClient() = default;


void WsTestClient::setBindAddress(const std::string& address)
{
	_socket.setBindAddress(address);
}


void WsTestClient::setReceiveBufferSize(int bytes)
{
	_socket.setReceiveBufferSize(bytes);
}


void WsTestClient::setSendBufferSize(int bytes)
{
	_socket.setSendBufferSize(bytes);
}


void WsTestClient::setAutoPong(bool enabled)
{
	_autoPong = enabled;
}


void WsTestClient::setSendTimeout(int timeoutMs)
{
	_sendTimeoutMs = timeoutMs;
}


void WsTestClient::setMaxFrameSize(std::size_t bytes)
{
	_maxFrameSize = bytes;
}


void WsTestClient::resetState()
{
	_in.clear();
	_inPosition = 0;
	_upgraded = false;
	_handshakeStatus = 0;
	_eof = false;
	_eofReason.clear();
	_protocolError.clear();
	_pingsAnswered = 0;
	_closeSent = false;
	_closeReceived = false;
	_partialOpcode = -1;
	_partialPayload.clear();
	_partialFrames = 0;
	_partialControl.clear();
}


HttpResponse WsTestClient::connect(const std::string& host, int port, const std::string& pathAndQuery,
                                   const Headers& extraHeaders, int timeoutMs)
{
	resetState();
	Deadline deadline(timeoutMs);
	const std::string target = "WebSocket handshake for " + pathAndQuery + " on " + host + ":" + std::to_string(port);

	unsigned char nonce[16];
	for (unsigned char& byte : nonce)
		byte = static_cast<unsigned char>(_random() & 0xFF);
	_key = base64(nonce, sizeof(nonce));

	Headers headers = {{"Host", host + ":" + std::to_string(port)},
	                   {"Upgrade", "websocket"},
	                   {"Connection", "Upgrade"},
	                   {"Sec-WebSocket-Key", _key},
	                   {"Sec-WebSocket-Version", "13"}};
	for (const auto& extra : extraHeaders)
	{
		bool replaced = false;
		for (auto& header : headers)
		{
			if (HttpResponse::equalsIgnoreCase(header.first, extra.first))
			{
				header.second = extra.second;
				replaced = true;
				break;
			}
		}
		if (!replaced)
			headers.push_back(extra);
		if (HttpResponse::equalsIgnoreCase(extra.first, "Sec-WebSocket-Key"))
			_key = extra.second;
	}
	std::string request = "GET " + pathAndQuery + " HTTP/1.1\r\n";
	for (const auto& header : headers)
		request += header.first + ": " + header.second + "\r\n";
	request += "\r\n";

	try
	{
		_socket.connect(host, port, deadline.remainingMs());
		_socket.sendAll(request, deadline.remainingMs());
	}
	catch (const std::runtime_error& e)
	{
		_socket.close();
		throw std::runtime_error(target + ": " + e.what());
	}

	std::string head;
	std::string error;
	HttpResponse response;
	if (!HttpTestClient::readHead(_socket, _in, deadline, head, error) ||
	    !HttpResponse::parseHead(head, response, error))
	{
		_socket.close();
		throw std::runtime_error(target + ": " + error);
	}
	_handshakeStatus = response.status;

	if (response.status == 101)
	{
		std::string problem;
		if (!response.headerHasToken("Upgrade", "websocket"))
			problem = "101 without 'Upgrade: websocket'";
		else if (!response.headerHasToken("Connection", "upgrade"))
			problem = "101 without 'Connection: upgrade'";
		else if (response.headerCount("Sec-WebSocket-Accept") != 1)
			problem = "101 with " + std::to_string(response.headerCount("Sec-WebSocket-Accept")) +
			          " Sec-WebSocket-Accept headers";
		else if (response.header("Sec-WebSocket-Accept") != computeAcceptKey(_key))
			problem = "Sec-WebSocket-Accept is '" + response.header("Sec-WebSocket-Accept") + "', expected '" +
			          computeAcceptKey(_key) + "'";
		if (!problem.empty())
		{
			_socket.close();
			throw std::runtime_error(target + ": " + problem + "\n" + response.rawHead);
		}
		// Whatever followed the head in _in is already frame data.
		_upgraded = true;
		return response;
	}

	// Refused upgrade: read the body if its length is known, without failing the call over it.
	if (response.hasHeader("Content-Length"))
	{
		std::size_t length = 0;
		try
		{
			length = static_cast<std::size_t>(std::stoull(response.header("Content-Length")));
		}
		catch (const std::exception&)
		{
			length = 0;
		}
		while (_in.size() < length && _socket.receiveSome(_in, deadline.remainingMs()) == TestSocket::RECEIVE_DATA)
		{
		}
		const std::size_t take = std::min(length, _in.size());
		response.body = _in.substr(0, take);
		_in.erase(0, take);
	}
	return response;
}


void WsTestClient::requireOpen(const char* what) const
{
	if (!_upgraded)
	{
		throw std::logic_error(std::string(what) + ": the WebSocket is not open (handshake status " +
		                       std::to_string(_handshakeStatus) + ")");
	}
}


void WsTestClient::send(std::string_view bytes)
{
	if (!_socket.isOpen())
		throw std::runtime_error("send on a closed WebSocket test client");
	_socket.sendAll(bytes, _sendTimeoutMs);
}


void WsTestClient::sendText(std::string_view text)
{
	sendFrame(OPCODE_TEXT, text);
}


void WsTestClient::sendBinary(std::string_view data)
{
	sendFrame(OPCODE_BINARY, data);
}


void WsTestClient::sendPing(std::string_view payload)
{
	sendFrame(OPCODE_PING, payload);
}


void WsTestClient::sendPong(std::string_view payload)
{
	sendFrame(OPCODE_PONG, payload);
}


void WsTestClient::sendClose(int code, std::string_view reason)
{
	std::string payload;
	payload += static_cast<char>((code >> 8) & 0xFF);
	payload += static_cast<char>(code & 0xFF);
	payload.append(reason.data(), reason.size());
	sendFrame(OPCODE_CLOSE, payload);
}


void WsTestClient::sendCloseEmpty()
{
	sendFrame(OPCODE_CLOSE, {});
}


void WsTestClient::sendFrame(int opcode, std::string_view payload, bool fin, bool masked, int rsv)
{
	requireOpen("sendFrame");
	if (opcode < 0 || opcode > 15 || rsv < 0 || rsv > 7)
		throw std::invalid_argument("sendFrame: opcode must be 0-15 and rsv 0-7");
	unsigned char maskKey[4];
	const uint32_t random = _random();
	for (int i = 0; i < 4; ++i)
		maskKey[i] = static_cast<unsigned char>(random >> (8 * i));
	send(encodeFrame(opcode, payload, fin, masked, rsv, maskKey));
	if (opcode == OPCODE_CLOSE)
		_closeSent = true;
}


void WsTestClient::sendFragmented(int opcode, std::string_view payload, std::size_t fragmentSize)
{
	if (fragmentSize == 0)
		throw std::invalid_argument("sendFragmented: fragment size must be positive");
	std::size_t offset = 0;
	do
	{
		const std::size_t size = std::min(fragmentSize, payload.size() - offset);
		const bool last = offset + size >= payload.size();
		sendFrame(offset == 0 ? opcode : OPCODE_CONTINUATION, payload.substr(offset, size), last);
		offset += size;
	} while (offset < payload.size());
}


void WsTestClient::sendRaw(std::string_view bytes)
{
	send(bytes);
}


WsTestClient::Frame WsTestClient::receive(int timeoutMs)
{
	if (!_upgraded && _in.empty() && !_socket.isOpen())
		throw std::logic_error("receive: the WebSocket test client is not connected");
	Deadline deadline(timeoutMs);
	Frame frame;
	for (;;)
	{
		if (!_protocolError.empty())
		{
			frame.result = RESULT_PROTOCOL_ERROR;
			frame.error = _protocolError;
			return frame;
		}
		std::size_t consumed = 0;
		std::string error;
		const ParseOutcome outcome = parseFrame(_in, _inPosition, _maxFrameSize, frame, consumed, error);
		if (outcome == PARSE_ERROR)
		{
			_protocolError = error;
			continue;
		}
		if (outcome == PARSE_FRAME)
		{
			_inPosition += consumed;
			if (_inPosition == _in.size())
			{
				_in.clear();
				_inPosition = 0;
			}
			else if (_inPosition > 1024 * 1024)
			{
				_in.erase(0, _inPosition);
				_inPosition = 0;
			}
			if (frame.opcode == OPCODE_CLOSE)
				_closeReceived = true;
			if (_autoPong && frame.opcode == OPCODE_PING)
			{
				try
				{
					sendFrame(OPCODE_PONG, frame.payload);
				}
				catch (const std::exception&)
				{
					// The server may already be gone; receive() reports that next.
				}
				++_pingsAnswered;
				frame = Frame();
				continue;
			}
			frame.result = RESULT_OK;
			return frame;
		}
		if (_eof)
		{
			frame = Frame();
			frame.result = RESULT_CLOSED;
			frame.error = _eofReason;
			if (bufferedBytes() > 0)
				frame.error += " (" + std::to_string(bufferedBytes()) + " bytes of an incomplete frame left)";
			return frame;
		}
		const TestSocket::ReceiveStatus status = _socket.receiveSome(_in, deadline.remainingMs());
		if (status == TestSocket::RECEIVE_TIMEOUT)
		{
			frame = Frame();
			frame.result = RESULT_TIMEOUT;
			return frame;
		}
		if (status == TestSocket::RECEIVE_EOF)
		{
			_eof = true;
			_eofReason = "connection closed by the server";
		}
		else if (status == TestSocket::RECEIVE_ERROR)
		{
			_eof = true;
			_eofReason = _socket.lastError();
		}
	}
}


WsTestClient::Message WsTestClient::receiveMessage(int timeoutMs)
{
	Deadline deadline(timeoutMs);
	Message message;
	for (;;)
	{
		Frame frame = receive(deadline.remainingMs());
		if (!frame.ok())
		{
			message.result = frame.result;
			message.error = frame.error;
			return message;
		}
		const bool control = frame.opcode >= 8;
		const bool known = frame.opcode <= OPCODE_BINARY || (control && frame.opcode <= OPCODE_PONG);
		if (!known)
		{
			message.result = RESULT_PROTOCOL_ERROR;
			message.opcode = frame.opcode;
			message.payload = frame.payload;
			message.error = "reserved opcode " + std::to_string(frame.opcode);
			return message;
		}
		if (control)
		{
			if (_partialOpcode >= 0 && frame.opcode != OPCODE_CLOSE)
			{
				_partialControl.push_back(std::move(frame));
				continue;
			}
			if (_partialOpcode >= 0)
				message.error = "close frame inside a fragmented message";
			message.result = RESULT_OK;
			message.opcode = frame.opcode;
			message.payload = std::move(frame.payload);
			message.frameCount = 1;
			return message;
		}
		if (frame.opcode == OPCODE_CONTINUATION)
		{
			if (_partialOpcode < 0)
			{
				message.result = RESULT_PROTOCOL_ERROR;
				message.opcode = frame.opcode;
				message.payload = frame.payload;
				message.error = "continuation frame without a message in progress";
				return message;
			}
		}
		else
		{
			if (_partialOpcode >= 0)
			{
				message.result = RESULT_PROTOCOL_ERROR;
				message.opcode = frame.opcode;
				message.payload = frame.payload;
				message.error = "new data frame while a fragmented message is open";
				_partialOpcode = -1;
				_partialPayload.clear();
				_partialFrames = 0;
				_partialControl.clear();
				return message;
			}
			_partialOpcode = frame.opcode;
		}
		_partialPayload += frame.payload;
		++_partialFrames;
		if (frame.fin)
		{
			message.result = RESULT_OK;
			message.opcode = _partialOpcode;
			message.payload.swap(_partialPayload);
			message.frameCount = _partialFrames;
			message.controlFrames.swap(_partialControl);
			_partialOpcode = -1;
			_partialPayload.clear();
			_partialFrames = 0;
			_partialControl.clear();
			return message;
		}
	}
}


WsTestClient::CloseInfo WsTestClient::expectClose(int timeoutMs, bool reply, bool waitEof)
{
	Deadline deadline(timeoutMs);
	CloseInfo info;
	for (;;)
	{
		Frame frame = receive(deadline.remainingMs());
		if (frame.timedOut())
			return info;
		if (frame.closed() || frame.result == RESULT_PROTOCOL_ERROR)
		{
			info.code = CloseInfo::NO_CLOSE_FRAME;
			info.reason = frame.error;
			info.eof = _eof;
			return info;
		}
		if (frame.opcode != OPCODE_CLOSE)
		{
			info.skippedFrames.push_back(std::move(frame));
			continue;
		}
		if (frame.payload.empty())
			info.code = 1005;
		else if (frame.payload.size() == 1)
			info.code = CloseInfo::MALFORMED;
		else
		{
			info.code =
			    (static_cast<unsigned char>(frame.payload[0]) << 8) | static_cast<unsigned char>(frame.payload[1]);
			info.reason = frame.payload.substr(2);
		}
		break;
	}
	if (reply && !_closeSent && _socket.isOpen())
	{
		try
		{
			if (isValidWireCloseCode(info.code))
				sendClose(info.code);
			else
				sendCloseEmpty();
		}
		catch (const std::exception&)
		{
			// The server may have closed TCP right after its close frame.
		}
	}
	info.eof = waitEof ? waitForEof(deadline.remainingMs()) : _eof;
	return info;
}


bool WsTestClient::waitForEof(int timeoutMs)
{
	Deadline deadline(timeoutMs);
	while (!_eof)
	{
		const TestSocket::ReceiveStatus status = _socket.receiveSome(_in, deadline.remainingMs());
		if (status == TestSocket::RECEIVE_TIMEOUT)
			return false;
		if (status == TestSocket::RECEIVE_EOF)
		{
			_eof = true;
			_eofReason = "connection closed by the server";
		}
		else if (status == TestSocket::RECEIVE_ERROR)
		{
			_eof = true;
			_eofReason = _socket.lastError();
		}
	}
	return true;
}


void WsTestClient::shutdownWrite()
{
	_socket.shutdownWrite();
}


void WsTestClient::abort()
{
	_socket.abort();
	_upgraded = false;
}


void WsTestClient::close()
{
	_socket.close();
	_upgraded = false;
}


std::string WsTestClient::encodeFrame(int opcode, std::string_view payload, bool fin, bool masked, int rsv,
                                      const unsigned char maskKey[4])
{
	std::string out;
	out.reserve(payload.size() + 14);
	out += static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F));
	const unsigned char maskBit = masked ? 0x80 : 0;
	const uint64_t length = payload.size();
	if (length < 126)
		out += static_cast<char>(maskBit | length);
	else if (length <= 0xFFFF)
	{
		out += static_cast<char>(maskBit | 126);
		out += static_cast<char>((length >> 8) & 0xFF);
		out += static_cast<char>(length & 0xFF);
	}
	else
	{
		out += static_cast<char>(maskBit | 127);
		for (int shift = 56; shift >= 0; shift -= 8)
			out += static_cast<char>((length >> shift) & 0xFF);
	}
	if (!masked)
	{
		out.append(payload.data(), payload.size());
		return out;
	}
	out.append(reinterpret_cast<const char*>(maskKey), 4);
	const std::size_t start = out.size();
	out.append(payload.data(), payload.size());
	for (std::size_t i = 0; i < payload.size(); ++i)
		out[start + i] = static_cast<char>(static_cast<unsigned char>(out[start + i]) ^ maskKey[i % 4]);
	return out;
}


std::string WsTestClient::computeAcceptKey(const std::string& secWebSocketKey)
{
	Poco::SHA1Engine sha1;
	sha1.update(secWebSocketKey);
	sha1.update(std::string(WEBSOCKET_GUID));
	const Poco::DigestEngine::Digest& digest = sha1.digest();
	return base64(digest.data(), digest.size());
}


int64_t WsTestClient::nowMicros()
{
	return Deadline::nowMicros();
}


} // namespace Test
} // namespace Switchboard
