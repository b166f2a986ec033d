//
// TokenValidator.h
//
// The token_validator hook of the handshake (docs/protocols/peerjs.md §5.2 step 3).
//


#ifndef Switchboard_PeerJs_TokenValidator_INCLUDED
#define Switchboard_PeerJs_TokenValidator_INCLUDED


#include <string>
#include <string_view>


namespace Switchboard {
namespace PeerJs {


class TokenValidator
/// "" accepts every token (the reference's behaviour). "hmac-sha256:<secret>" accepts a token
/// only if it is the lowercase hex HMAC-SHA256 of the peer id under secret, so an application
/// backend can mint the token it hands its client (PeerJS option `token`). Thread-safe.
{
public:
	static bool parse(const std::string& spec, TokenValidator& out, std::string& error);

	bool enabled() const { return !_secret.empty(); }
	bool accepts(std::string_view id, std::string_view token) const;

	static std::string hmacHex(std::string_view secret, std::string_view id);

private:
	std::string _secret;
};


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_TokenValidator_INCLUDED
