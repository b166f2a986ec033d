//
// Auth.h
//
// PeerVault's credentials (docs/protocols/peervault.md, "Authentication"): configured static tokens,
// compared in constant time on SHA-256 digests, and JWTs signed with HS256 (exp required, nbf,
// iss and aud checked as configured, a leeway). Immutable once built: safe to share between threads.
//


#ifndef Switchboard_PeerVault_Auth_INCLUDED
#define Switchboard_PeerVault_Auth_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace PeerVault {


struct StaticToken
{
	std::string token; ///< as configured (hashed when the Authenticator is built)
	std::string name;  ///< the identity
	std::vector<std::string> scopes;
};


bool parseStaticTokens(std::string_view json, std::vector<StaticToken>& tokens, std::string& why);
/// The websocket.auth.tokens value: a JSON array of {"token": non-empty string, "name": string,
/// "scopes": array of strings (optional, default [])}; "" is the empty list. False with why
/// (e.g. "item 2: \"token\" must be a non-empty string") for anything else.


struct Identity
{
	std::string subject;             ///< the static token's name or the JWT's sub ("" when it has none)
	std::vector<std::string> scopes; ///< in the order given
	std::int64_t expiresAtMs = 0;    ///< a JWT's exp in Unix ms (the leeway not added); 0 for a static token

	bool hasScope(std::string_view scope) const;
};


struct JwtRules
{
	std::string secret;   ///< "" = JWTs are not accepted; else at least 32 bytes (the settings check)
	std::string issuer;   ///< "" = iss not checked
	std::string audience; ///< "" = aud not checked (aud may be a string or an array of strings)
	std::int64_t leewayMs = 60000;
};


class Authenticator
{
public:
	Authenticator(const std::vector<StaticToken>& tokens, JwtRules rules);

	bool check(std::string_view token, std::int64_t nowMs, Identity& identity) const;
	/// True for a configured static token, or for an HS256 JWT (the alg pinned, the MAC right)
	/// whose claims hold: exp present (an integer or a number of seconds) and nowMs <= exp +
	/// leeway; nbf, when present, nowMs >= nbf - leeway; iss and aud when the rules name them;
	/// sub, when present, a string; scope a space-separated string or scopes an array of strings.
	/// Never throws on bad input.

	bool canPublish() const;
	/// True when some static token has the scope "publish" or a JWT secret is configured.

private:
	struct Hashed
	{
		unsigned char digest[32];
		std::string name;
		std::vector<std::string> scopes;
	};

	std::vector<Hashed> _tokens;
	JwtRules _rules;
};


} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_Auth_INCLUDED
