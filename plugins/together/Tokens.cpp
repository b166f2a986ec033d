//
// Tokens.cpp
//


#include "Tokens.h"
#include "switchboard/util/Json.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sodium.h>
#include <exception>


namespace Switchboard {
namespace Together {


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


Poco::JSON::Object::Ptr parseObject(const std::string& json)
/// The JSON object in json, or null for anything else.
{
	try
	{
		Poco::JSON::Parser parser;
		Poco::Dynamic::Var value = parser.parse(json);
		if (value.type() == typeid(Poco::JSON::Object::Ptr))
			return value.extract<Poco::JSON::Object::Ptr>();
	}
	catch (const Poco::Exception&)
	{
	}
	catch (const std::exception&)
	{
	}
	return nullptr;
}


bool stringClaim(const Poco::JSON::Object& claims, const std::string& name, std::string& value)
{
	Poco::Dynamic::Var v = claims.get(name);
	if (!v.isString())
		return false;
	value = v.extract<std::string>();
	return true;
}


bool integerClaim(const Poco::JSON::Object& claims, const std::string& name, std::int64_t& value)
{
	Poco::Dynamic::Var v = claims.get(name);
	if (!v.isInteger())
		return false;
	try
	{
		value = v.convert<Poco::Int64>();
		return true;
	}
	catch (const Poco::Exception&)
	{
		return false; // an unsigned value beyond the signed range
	}
}


} // namespace


TokenCodec::TokenCodec(std::string secret):
    _secret(std::move(secret))
{
}


std::string TokenCodec::mac(std::string_view signingInput) const
{
	unsigned char digest[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(_secret.data()), _secret.size());
	crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(signingInput.data()),
	                              signingInput.size());
	crypto_auth_hmacsha256_final(&state, digest);
	return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}


std::string TokenCodec::issue(const TokenClaims& claims) const
{
	std::string payload = "{\"sub\":";
	Json::appendString(payload, claims.subject);
	payload += ",\"iat\":" + std::to_string(claims.issuedAt);
	payload += ",\"exp\":" + std::to_string(claims.expiresAt);
	payload += ",\"username\":";
	Json::appendString(payload, claims.username);
	payload += ",\"token_type\":";
	Json::appendString(payload, claims.tokenType);
	payload += ",\"jti\":";
	Json::appendString(payload, claims.jti);
	payload += '}';
	std::string token = base64Url(R"({"alg":"HS256","typ":"JWT"})") + '.' + base64Url(payload);
	return token + '.' + base64Url(mac(token));
}


TokenStatus TokenCodec::read(std::string_view token, std::int64_t nowSeconds, std::int64_t leewaySeconds,
                             TokenClaims& claims) const
{
	const std::size_t firstDot = token.find('.');
	const std::size_t secondDot = firstDot == std::string_view::npos ? firstDot : token.find('.', firstDot + 1);
	if (secondDot == std::string_view::npos || token.find('.', secondDot + 1) != std::string_view::npos)
		return TokenStatus::INVALID;
	std::string header, payload, signature;
	if (!fromBase64Url(token.substr(0, firstDot), header) ||
	    !fromBase64Url(token.substr(firstDot + 1, secondDot - firstDot - 1), payload) ||
	    !fromBase64Url(token.substr(secondDot + 1), signature) || signature.size() != crypto_auth_hmacsha256_BYTES)
		return TokenStatus::INVALID;
	// The algorithm is pinned: whatever else the header says, HS256 or nothing ("none" included).
	Poco::JSON::Object::Ptr headerObject = parseObject(header);
	std::string algorithm;
	if (headerObject.isNull() || !stringClaim(*headerObject, "alg", algorithm) || algorithm != "HS256")
		return TokenStatus::INVALID;
	const std::string expected = mac(token.substr(0, secondDot));
	if (sodium_memcmp(expected.data(), signature.data(), expected.size()) != 0)
		return TokenStatus::INVALID;
	Poco::JSON::Object::Ptr body = parseObject(payload);
	TokenClaims read;
	if (body.isNull() || !stringClaim(*body, "sub", read.subject) || !stringClaim(*body, "username", read.username) ||
	    !stringClaim(*body, "token_type", read.tokenType) || !stringClaim(*body, "jti", read.jti) ||
	    !integerClaim(*body, "iat", read.issuedAt) || !integerClaim(*body, "exp", read.expiresAt))
		return TokenStatus::INVALID;
	claims = read;
	return nowSeconds > read.expiresAt + leewaySeconds ? TokenStatus::EXPIRED : TokenStatus::VALID;
}


} // namespace Together
} // namespace Switchboard
