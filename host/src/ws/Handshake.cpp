//
// Handshake.cpp
//
// The key computations of the RFC 6455 opening handshake (Sec-WebSocket-Key / -Accept).
//


#include "ws/Handshake.h"
#include "Poco/Base64Encoder.h"
#include "Poco/RandomStream.h"
#include "Poco/SHA1Engine.h"
#include <sstream>


namespace Switchboard {
namespace WS {


namespace {


constexpr std::string_view WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


std::string base64(const unsigned char* data, std::size_t len)
{
	std::ostringstream out;
	Poco::Base64Encoder encoder(out);
	encoder.rdbuf()->setLineLength(0);
	encoder.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(len));
	encoder.close();
	return out.str();
}


bool isBase64Char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}


} // namespace


std::string computeAcceptKey(std::string_view secWebSocketKey)
{
	Poco::SHA1Engine sha1;
	sha1.update(secWebSocketKey.data(), secWebSocketKey.size());
	sha1.update(WEBSOCKET_GUID.data(), WEBSOCKET_GUID.size());
	const Poco::DigestEngine::Digest& digest = sha1.digest();
	return base64(digest.data(), digest.size());
}


bool isValidClientKey(std::string_view secWebSocketKey)
{
	// 16 bytes = 128 bits = 21 full Base64 characters + one carrying 2 bits, then "==" padding.
	// Non-zero unused bits in the 22nd character are tolerated: the key still decodes to 16 bytes.
	if (secWebSocketKey.size() != 24 || secWebSocketKey[22] != '=' || secWebSocketKey[23] != '=')
		return false;
	for (std::size_t i = 0; i < 22; ++i)
	{
		if (!isBase64Char(secWebSocketKey[i]))
			return false;
	}
	return true;
}


std::string generateClientKey()
{
	unsigned char nonce[16];
	Poco::RandomInputStream random;
	random.read(reinterpret_cast<char*>(nonce), sizeof(nonce));
	return base64(nonce, sizeof(nonce));
}


} // namespace WS
} // namespace Switchboard
