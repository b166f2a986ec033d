//
// Handshake.cpp
//
// The key computations of the RFC 6455 opening handshake (Sec-WebSocket-Key / -Accept).
//


#include "ws/Handshake.h"
#include "net/PerThread.h"
#include "Poco/RandomStream.h"
#include <openssl/evp.h>
#include <memory>
#include <new>


namespace Switchboard {
namespace WS {


namespace {


constexpr std::string_view WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


std::string base64(const unsigned char* data, std::size_t len)
// Standard alphabet with padding, no line breaks. Written out because a reconnect storm computes
// one Sec-WebSocket-Accept per client: a stream-based encoder cost more than the SHA-1 itself.
{
	static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string out;
	out.reserve((len + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 3 <= len; i += 3)
	{
		unsigned triple = (unsigned(data[i]) << 16) | (unsigned(data[i + 1]) << 8) | data[i + 2];
		out.push_back(ALPHABET[(triple >> 18) & 63]);
		out.push_back(ALPHABET[(triple >> 12) & 63]);
		out.push_back(ALPHABET[(triple >> 6) & 63]);
		out.push_back(ALPHABET[triple & 63]);
	}
	if (i < len)
	{
		unsigned rest = unsigned(data[i]) << 16;
		if (i + 1 < len)
			rest |= unsigned(data[i + 1]) << 8;
		out.push_back(ALPHABET[(rest >> 18) & 63]);
		out.push_back(ALPHABET[(rest >> 12) & 63]);
		out.push_back(i + 1 < len ? ALPHABET[(rest >> 6) & 63] : '=');
		out.push_back('=');
	}
	return out;
}


bool isBase64Char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}


} // namespace


std::string computeAcceptKey(std::string_view secWebSocketKey)
{
	// SHA-1 is what RFC 6455 prescribes here (an identity check, not security).
	std::string input;
	input.reserve(secWebSocketKey.size() + WEBSOCKET_GUID.size());
	input.append(secWebSocketKey);
	input.append(WEBSOCKET_GUID);
	// The algorithm is fetched once: OpenSSL 3's one-shot SHA1() looks it up in the provider
	// tables on every call, which cost several times the hashing itself.
	static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
	struct Sha1Context
	{
		std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> pContext{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
	};
	EVP_MD_CTX* const context = Core::perThread<Sha1Context>().pContext.get();
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digestLength = 0;
	if (!sha1 || !context || EVP_DigestInit_ex(context, sha1, nullptr) != 1 ||
	    EVP_DigestUpdate(context, input.data(), input.size()) != 1 ||
	    EVP_DigestFinal_ex(context, digest, &digestLength) != 1)
		throw std::bad_alloc(); // only memory exhaustion makes these fail
	return base64(digest, digestLength);
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
