//
// Accounts.cpp
//


#include "Accounts.h"
#include "Rules.h"
#include <sodium.h>
#include <algorithm>


namespace Switchboard {
namespace Together {


const char* const USER_COLUMNS = "id, username, email, avatar_url, custom_status, created_at, updated_at";


std::optional<std::string> optionalText(const Value& v)
{
	if (std::holds_alternative<std::nullptr_t>(v))
		return std::nullopt;
	return valueAsString(v);
}


UserRecord userFrom(const std::vector<Value>& row)
{
	UserRecord user;
	user.id = valueAsString(row[0]);
	user.username = valueAsString(row[1]);
	user.email = optionalText(row[2]);
	user.avatarUrl = optionalText(row[3]);
	user.customStatus = optionalText(row[4]);
	user.createdAt = valueAsInt(row[5]);
	user.updatedAt = valueAsInt(row[6]);
	return user;
}


Accounts::Accounts(Storage& storage, HashCost cost, unsigned maxConcurrentHashes, RandomBytes random):
    _storage(storage),
    _cost(cost),
    _random(std::move(random)),
    _maxHashing(std::max(1u, maxConcurrentHashes))
{
	// A password nobody knows: unknown usernames are checked against it, so they cost what
	// known ones do.
	unsigned char secret[32];
	_random(secret, sizeof(secret));
	std::string password(reinterpret_cast<char*>(secret), sizeof(secret));
	hash(password, _dummyHash);
	sodium_memzero(secret, sizeof(secret));
}


void Accounts::acquire()
{
	std::unique_lock<std::mutex> lock(_mutex);
	_freed.wait(lock, [this] { return _hashing < _maxHashing; });
	++_hashing;
}


void Accounts::release()
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		--_hashing;
	}
	_freed.notify_one();
}


HashCost Accounts::cost() const
{
	std::lock_guard<std::mutex> lock(_costMutex);
	return _cost;
}


std::string Accounts::dummyHash() const
{
	std::lock_guard<std::mutex> lock(_costMutex);
	return _dummyHash;
}


bool Accounts::setCost(HashCost cost)
{
	unsigned char secret[32];
	_random(secret, sizeof(secret));
	std::string password(reinterpret_cast<char*>(secret), sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	std::string dummy;
	const bool made = hashAt(cost, password, dummy);
	sodium_memzero(&password[0], password.size());
	if (!made)
		return false;
	std::lock_guard<std::mutex> lock(_costMutex);
	_cost = cost;
	_dummyHash = std::move(dummy);
	return true;
}


bool Accounts::hash(const std::string& password, std::string& encoded)
{
	return hashAt(cost(), password, encoded);
}


bool Accounts::hashAt(const HashCost& cost, const std::string& password, std::string& encoded)
{
	char out[crypto_pwhash_STRBYTES];
	acquire();
	const int result = crypto_pwhash_str(out, password.data(), password.size(), cost.opslimit, cost.memlimit);
	release();
	if (result != 0)
		return false; // out of memory
	encoded = out;
	return true;
}


bool Accounts::verify(const std::string& encoded, const std::string& password)
{
	acquire();
	const bool matches = crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
	release();
	return matches;
}


CreateOutcome Accounts::create(const std::string& username, const std::string& email, const std::string& password,
                               std::int64_t nowMicros, UserRecord& user)
{
	std::string encoded;
	if (!hash(password, encoded))
		return CreateOutcome::FAILED;
	unsigned char idBytes[16];
	_random(idBytes, sizeof(idBytes));
	UserRecord created;
	created.id = formatUuid(idBytes);
	created.username = username;
	if (!email.empty())
		created.email = email;
	created.createdAt = created.updatedAt = nowMicros;
	CreateOutcome outcome = CreateOutcome::FAILED;
	const Value emailValue = email.empty() ? Value(nullptr) : Value(email);
	auto classify = [&](Storage& tx) {
		QueryResult taken = tx.execute("SELECT username = ?, email = ? FROM users WHERE username = ? OR email = ?",
		                               {username, emailValue, username, emailValue});
		if (!taken.ok)
			return false;
		for (const auto& row : taken.rows)
			if (valueAsInt(row[0]) != 0)
				outcome = CreateOutcome::USERNAME_TAKEN;
		if (outcome != CreateOutcome::USERNAME_TAKEN && !taken.rows.empty())
			outcome = CreateOutcome::EMAIL_TAKEN;
		return true;
	};
	const bool committed = _storage.transaction([&](Storage& tx) {
		if (!classify(tx))
			return false;
		if (outcome != CreateOutcome::FAILED)
			return true; // taken: nothing to write
		const bool inserted = tx.execute("INSERT INTO users (id, username, email, password_hash, created_at, "
		                                 "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		                                 {created.id, username, emailValue, encoded, nowMicros, nowMicros})
		                          .ok;
		if (inserted)
			outcome = CreateOutcome::CREATED;
		return inserted;
	});
	if (!committed)
	{
		// A concurrent registration may have taken the name between our check and our insert.
		outcome = CreateOutcome::FAILED;
		if (!_storage.transaction([&](Storage& tx) { return classify(tx); }))
			return CreateOutcome::FAILED;
		return outcome;
	}
	if (outcome == CreateOutcome::CREATED)
		user = created;
	return outcome;
}


LoginOutcome Accounts::login(const std::string& username, const std::string& password, UserRecord& user)
{
	QueryResult row = _storage.execute(std::string("SELECT ") + USER_COLUMNS +
	                                       ", password_hash FROM users WHERE "
	                                       "username = ?",
	                                   {username});
	if (!row.ok)
		return LoginOutcome::FAILED;
	if (row.rows.empty())
	{
		verify(dummyHash(), password); // the same work as for a known user, then the same answer
		return LoginOutcome::WRONG;
	}
	const std::string encoded = valueAsString(row.rows[0][7]);
	if (!verify(encoded, password))
		return LoginOutcome::WRONG;
	user = userFrom(row.rows[0]);
	const HashCost current = cost();
	if (crypto_pwhash_str_needs_rehash(encoded.c_str(), current.opslimit, current.memlimit) != 0)
	{
		// The configured cost changed since this hash was made: store one at the current cost.
		// A failure here does not fail the login; the next one tries again.
		std::string fresh;
		if (hash(password, fresh))
			_storage.execute("UPDATE users SET password_hash = ? WHERE id = ?", {fresh, user.id});
	}
	return LoginOutcome::OK;
}


std::optional<UserRecord> Accounts::find(const std::string& id, bool* failed)
{
	QueryResult row = _storage.execute(std::string("SELECT ") + USER_COLUMNS + " FROM users WHERE id = ?", {id});
	if (failed != nullptr)
		*failed = !row.ok;
	if (!row.ok || row.rows.empty())
		return std::nullopt;
	return userFrom(row.rows[0]);
}


} // namespace Together
} // namespace Switchboard
