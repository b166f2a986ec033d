//
// Sessions.cpp
//


#include "Sessions.h"
#include "Rules.h"


namespace Switchboard {
namespace Together {


namespace {


constexpr std::int64_t MICROS = 1000000;


} // namespace


Sessions::Sessions(Storage& storage, const TokenCodec& codec, TokenPolicy policy, RandomBytes random):
    _storage(storage),
    _codec(codec),
    _policy(policy),
    _random(std::move(random))
{
}


std::string Sessions::newId()
{
	unsigned char bytes[16];
	_random(bytes, sizeof(bytes));
	return formatUuid(bytes);
}


void Sessions::setPolicy(const TokenPolicy& policy)
{
	std::lock_guard<std::mutex> lock(_policyMutex);
	_policy = policy;
}


TokenPolicy Sessions::policy() const
{
	std::lock_guard<std::mutex> lock(_policyMutex);
	return _policy;
}


TokenPair Sessions::issuePair(const TokenPolicy& policy, const std::string& userId, const std::string& username,
                              std::int64_t nowSeconds, TokenClaims& refreshClaims)
{
	TokenClaims access;
	access.subject = userId;
	access.username = username;
	access.tokenType = "access";
	access.jti = newId();
	access.issuedAt = nowSeconds;
	access.expiresAt = nowSeconds + policy.accessTtlSeconds;
	refreshClaims = access;
	refreshClaims.tokenType = "refresh";
	refreshClaims.jti = newId();
	refreshClaims.expiresAt = nowSeconds + policy.refreshTtlSeconds;
	return {_codec.issue(access), _codec.issue(refreshClaims)};
}


bool Sessions::startFamily(const std::string& userId, const std::string& username, std::int64_t nowMicros,
                           TokenPair& tokens)
{
	const TokenPolicy current = policy();
	TokenClaims refreshClaims;
	TokenPair issued = issuePair(current, userId, username, nowMicros / MICROS, refreshClaims);
	const std::string family = newId();
	const std::string rowId = newId();
	const bool committed = _storage.transaction([&](Storage& tx) {
		// Expired rows first, so that dead families do not count against the cap.
		if (!tx.execute("DELETE FROM sessions WHERE expires_at <= ?", {nowMicros}).ok)
			return false;
		QueryResult families = tx.execute("SELECT family_id, MAX(created_at) AS newest FROM sessions WHERE user_id = ? "
		                                  "GROUP BY family_id ORDER BY newest ASC, family_id ASC",
		                                  {userId});
		if (!families.ok)
			return false;
		const std::int64_t excess = static_cast<std::int64_t>(families.rows.size()) + 1 - current.maxFamilies;
		for (std::int64_t i = 0; i < excess; ++i)
			if (!tx.execute("DELETE FROM sessions WHERE family_id = ?", {families.rows[static_cast<std::size_t>(i)][0]})
			         .ok)
				return false;
		return tx
		    .execute(
		        "INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, expires_at) VALUES (?, ?, "
		        "?, ?, ?, ?)",
		        {rowId, family, userId, sha256Hex(issued.refreshToken), nowMicros, refreshClaims.expiresAt * MICROS})
		    .ok;
	});
	if (committed)
		tokens = std::move(issued);
	return committed;
}


RefreshOutcome Sessions::refresh(std::string_view refreshToken, std::int64_t nowMicros, TokenPair& tokens,
                                 std::string& userId)
{
	TokenClaims claims;
	if (_codec.read(refreshToken, nowMicros / MICROS, policy().leewaySeconds, claims) != TokenStatus::VALID)
		return RefreshOutcome::INVALID_TOKEN;
	if (claims.tokenType != "refresh")
		return RefreshOutcome::NOT_REFRESH;
	const std::string hash = sha256Hex(refreshToken);
	RefreshOutcome outcome = RefreshOutcome::SESSION_GONE;
	TokenPair issued;
	std::string owner;
	const bool committed = _storage.transaction([&](Storage& tx) {
		// Only a live, unrotated row rotates: of two concurrent refreshes one wins here.
		QueryResult rotated = tx.execute(
		    "UPDATE sessions SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND expires_at > ?",
		    {nowMicros, hash, nowMicros});
		if (!rotated.ok)
			return false;
		if (rotated.affectedRows == 1)
		{
			QueryResult row = tx.execute("SELECT family_id, user_id FROM sessions WHERE token_hash = ?", {hash});
			if (!row.ok || row.rows.size() != 1)
				return false;
			const Value family = row.rows[0][0];
			owner = valueAsString(row.rows[0][1]);
			TokenClaims next;
			issued = issuePair(policy(), owner, claims.username, nowMicros / MICROS, next);
			outcome = RefreshOutcome::ROTATED;
			return tx
			    .execute("INSERT INTO sessions (id, family_id, user_id, token_hash, created_at, expires_at) VALUES "
			             "(?, ?, ?, ?, ?, ?)",
			             {newId(), family, owner, sha256Hex(issued.refreshToken), nowMicros, next.expiresAt * MICROS})
			    .ok;
		}
		// A token rotated before is being used again: revoke its whole family, so that the newest
		// token of that chain (perhaps a thief's) dies too.
		QueryResult reused =
		    tx.execute("SELECT family_id FROM sessions WHERE token_hash = ? AND rotated_at IS NOT NULL", {hash});
		if (!reused.ok)
			return false;
		if (!reused.rows.empty() && !tx.execute("DELETE FROM sessions WHERE family_id = ?", {reused.rows[0][0]}).ok)
			return false;
		outcome = RefreshOutcome::SESSION_GONE;
		return true;
	});
	if (!committed)
		return RefreshOutcome::STORAGE_ERROR;
	if (outcome == RefreshOutcome::ROTATED)
	{
		tokens = std::move(issued);
		userId = owner;
	}
	return outcome;
}


LogoutOutcome Sessions::logout(std::string_view refreshToken, std::int64_t nowMicros)
{
	TokenClaims claims;
	if (_codec.read(refreshToken, nowMicros / MICROS, policy().leewaySeconds, claims) == TokenStatus::INVALID)
		return LogoutOutcome::INVALID_TOKEN;
	const std::string hash = sha256Hex(refreshToken);
	const bool committed = _storage.transaction([&](Storage& tx) {
		QueryResult row = tx.execute("SELECT family_id FROM sessions WHERE token_hash = ?", {hash});
		if (!row.ok)
			return false;
		return row.rows.empty() || tx.execute("DELETE FROM sessions WHERE family_id = ?", {row.rows[0][0]}).ok;
	});
	return committed ? LogoutOutcome::DONE : LogoutOutcome::STORAGE_ERROR;
}


bool Sessions::prune(std::int64_t nowMicros)
{
	return _storage.execute("DELETE FROM sessions WHERE expires_at <= ?", {nowMicros}).ok;
}


} // namespace Together
} // namespace Switchboard
