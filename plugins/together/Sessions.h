//
// Sessions.h
//
// Together's refresh-token sessions (docs/protocols/together.md, "Refresh-token sessions"): one
// family per login chain, each issued refresh token one row holding only its SHA-256, rotation
// with reuse detection (a rotated token presented again deletes its whole family), at most
// maxFamilies families per user, expired rows pruned.
//
// Threading: every call blocks on storage; call from HTTP route handlers or Host::offload work,
// never on an event loop. Calls may run concurrently: each change is one storage transaction, so
// of two refreshes with the same token one wins and the other counts as reuse.
//


#ifndef Switchboard_Together_Sessions_INCLUDED
#define Switchboard_Together_Sessions_INCLUDED


#include "Tokens.h"
#include "switchboard/Storage.h"
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Together {


struct TokenPolicy
{
	std::int64_t accessTtlSeconds = 900;
	std::int64_t refreshTtlSeconds = 604800;
	std::int64_t leewaySeconds = 60;
	std::int64_t maxFamilies = 10;
};


struct TokenPair
{
	std::string accessToken;
	std::string refreshToken;
};


enum class RefreshOutcome
{
	ROTATED,       ///< tokens hold the new pair
	INVALID_TOKEN, ///< 401 "Invalid or expired refresh token"
	NOT_REFRESH,   ///< 401 "Not a refresh token"
	SESSION_GONE,  ///< 401 "Session not found, expired, or token already rotated" (a reuse also revokes the family)
	STORAGE_ERROR  ///< 500
};


enum class LogoutOutcome
{
	DONE,          ///< 204, also when the family was already gone
	INVALID_TOKEN, ///< 401 "Invalid or expired refresh token": bad signature or not parseable
	STORAGE_ERROR
};


class Sessions
{
public:
	using RandomBytes = std::function<void(void* buffer, std::size_t length)>;

	Sessions(Storage& storage, const TokenCodec& codec, TokenPolicy policy, RandomBytes random);
	/// storage has togetherMigrations() applied; codec and storage outlive this object.

	bool startFamily(const std::string& userId, const std::string& username, std::int64_t nowMicros, TokenPair& tokens);
	/// register and login: a new family with its first refresh token, and an access token. Drops
	/// the user's families beyond the cap (the one whose newest row is oldest first) and prunes
	/// expired rows. False on a storage error.

	RefreshOutcome refresh(std::string_view refreshToken, std::int64_t nowMicros, TokenPair& tokens,
	                       std::string& userId);
	/// Rotates: marks this token's row rotated and issues the next pair in its family.

	LogoutOutcome logout(std::string_view refreshToken, std::int64_t nowMicros);
	/// Deletes the token's family. An expired token with a valid signature is accepted.

	bool prune(std::int64_t nowMicros);
	/// Deletes the rows past their expiry (rotated ones are kept until then, for reuse detection).

	void setPolicy(const TokenPolicy& policy);
	/// A reload's values, for the tokens issued and checked from now on (any thread).

	TokenPolicy policy() const;

private:
	std::string newId();
	TokenPair issuePair(const TokenPolicy& policy, const std::string& userId, const std::string& username,
	                    std::int64_t nowSeconds, TokenClaims& refreshClaims);

	Storage& _storage;
	const TokenCodec& _codec;
	mutable std::mutex _policyMutex;
	TokenPolicy _policy; ///< guarded by _policyMutex: a reload may change it while workers read it
	RandomBytes _random;
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_Sessions_INCLUDED
