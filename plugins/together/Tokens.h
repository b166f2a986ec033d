//
// Tokens.h
//
// Together's bearer tokens: compact JWS signed with HS256 and nothing else (docs/protocols/
// together.md, "Tokens"), signed and checked by Hs256 (plugins/common); the claims parsed with
// Poco::JSON.
//


#ifndef Switchboard_Together_Tokens_INCLUDED
#define Switchboard_Together_Tokens_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Together {


constexpr std::size_t MIN_SECRET_BYTES = 32;


struct TokenClaims
/// Every claim is required in a token this codec accepts.
{
	std::string subject;        ///< sub: the user's id
	std::string username;       ///< at issue time
	std::string tokenType;      ///< "access" or "refresh"
	std::string jti;            ///< a random id, so no two tokens are equal
	std::int64_t issuedAt = 0;  ///< iat, Unix seconds
	std::int64_t expiresAt = 0; ///< exp, Unix seconds
};


enum class TokenStatus
{
	VALID,
	INVALID, ///< not a compact JWS, another alg than HS256 (none included), a bad MAC, claims missing or mistyped
	EXPIRED  ///< well signed and well formed, but exp + leeway is past (the claims are filled)
};


class TokenCodec
/// Immutable once built: safe to share between threads.
{
public:
	explicit TokenCodec(std::string secret);
	/// secret: the HMAC key, MIN_SECRET_BYTES or more (the caller refuses shorter ones).

	std::string issue(const TokenClaims& claims) const;
	/// The compact JWS: header {"alg":"HS256","typ":"JWT"}, then the claims.

	TokenStatus read(std::string_view token, std::int64_t nowSeconds, std::int64_t leewaySeconds,
	                 TokenClaims& claims) const;
	/// Checks the structure, the header's alg, the MAC (constant time) and the claims' presence
	/// and types, then exp against now with the leeway. Never throws on bad input.

private:
	std::string _secret;
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_Tokens_INCLUDED
