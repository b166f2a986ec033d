//
// Tokens.cpp
//


#include "Tokens.h"
#include "Hs256.h"
#include "switchboard/util/Json.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <exception>


namespace Switchboard {
namespace Together {


namespace {


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
	return Hs256::sign(_secret, payload);
}


TokenStatus TokenCodec::read(std::string_view token, std::int64_t nowSeconds, std::int64_t leewaySeconds,
                             TokenClaims& claims) const
{
	std::string payload;
	if (!Hs256::verify(_secret, token, payload))
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
