//
// Hs256.cpp
//


#include "Hs256.h"
#include "JsonText.h"
#include <sodium.h>


namespace Switchboard {
namespace Hs256 {


namespace {


constexpr int URL_SAFE = sodium_base64_VARIANT_URLSAFE_NO_PADDING;


std::string base64Url(std::string_view bytes)
{
	std::string out(sodium_base64_encoded_len(bytes.size(), URL_SAFE), '\0');
	sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
	                  URL_SAFE);
	out.pop_back(); // the terminating NUL
	return out;
}


bool fromBase64Url(std::string_view text, std::string& bytes)
{
	bytes.assign(text.size() / 4 * 3 + 3, '\0');
	std::size_t length = 0;
	const char* end = nullptr;
	if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(), text.size(),
	                      nullptr, &length, &end, URL_SAFE) != 0 ||
	    end != text.data() + text.size())
		return false;
	bytes.resize(length);
	return true;
}


std::string mac(std::string_view secret, std::string_view signingInput)
{
	unsigned char digest[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
	crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(signingInput.data()),
	                              signingInput.size());
	crypto_auth_hmacsha256_final(&state, digest);
	return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}


} // namespace


std::string sign(std::string_view secret, std::string_view payloadJson)
{
	std::string token = base64Url(R"({"alg":"HS256","typ":"JWT"})") + '.' + base64Url(payloadJson);
	return token + '.' + base64Url(mac(secret, token));
}


bool verify(std::string_view secret, std::string_view token, std::string& payloadJson)
{
	const std::size_t firstDot = token.find('.');
	const std::size_t secondDot = firstDot == std::string_view::npos ? firstDot : token.find('.', firstDot + 1);
	if (secondDot == std::string_view::npos || token.find('.', secondDot + 1) != std::string_view::npos)
		return false;
	std::string header, payload, signature;
	if (!fromBase64Url(token.substr(0, firstDot), header) ||
	    !fromBase64Url(token.substr(firstDot + 1, secondDot - firstDot - 1), payload) ||
	    !fromBase64Url(token.substr(secondDot + 1), signature) || signature.size() != crypto_auth_hmacsha256_BYTES)
		return false;
	// The algorithm is pinned: whatever else the header says, HS256 or nothing ("none" included).
	std::string_view algToken;
	std::string algorithm;
	if (!JsonText::isValid(header) || !JsonText::member(header, "alg", algToken) ||
	    !JsonText::stringValue(algToken, algorithm) || algorithm != "HS256")
		return false;
	const std::string expected = mac(secret, token.substr(0, secondDot));
	if (sodium_memcmp(expected.data(), signature.data(), expected.size()) != 0)
		return false;
	payloadJson = std::move(payload);
	return true;
}


} // namespace Hs256
} // namespace Switchboard
