//
// TokenValidator.cpp
//


#include "TokenValidator.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


namespace Switchboard {
namespace PeerJs {


bool TokenValidator::parse(const std::string& spec, TokenValidator& out, std::string& error)
{
	out = TokenValidator();
	if (spec.empty())
		return true;
	const std::string prefix = "hmac-sha256:";
	if (spec.compare(0, prefix.size(), prefix) != 0 || spec.size() == prefix.size())
	{
		error = "token_validator must be empty or hmac-sha256:<secret>";
		return false;
	}
	out._secret = spec.substr(prefix.size());
	return true;
}


std::string TokenValidator::hmacHex(std::string_view secret, std::string_view id)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
	     reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest, &length);
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	out.reserve(length * 2);
	for (unsigned int i = 0; i < length; ++i)
	{
		out += HEX[digest[i] >> 4];
		out += HEX[digest[i] & 0x0F];
	}
	return out;
}


bool TokenValidator::accepts(std::string_view id, std::string_view token) const
{
	if (_secret.empty())
		return true;
	std::string expected = hmacHex(_secret, id);
	// Constant time: the comparison must not tell an attacker how much of a guess was right.
	return token.size() == expected.size() && CRYPTO_memcmp(token.data(), expected.data(), expected.size()) == 0;
}


} // namespace PeerJs
} // namespace Switchboard
