//
// Accounts.h
//
// Together's user accounts (docs/protocols/together.md, "Passwords"): Argon2id hashes through
// libsodium's crypto_pwhash_str, at most a fixed number of hashes computed at once, a dummy hash
// verified for unknown usernames so that they cost what known ones do, and a rehash on login when
// the configured cost changed. The value rules (Rules.h) are the caller's: these calls store and
// verify.
//
// Threading: every call may block on storage and on hashing; call from HTTP route handlers or
// Host::offload work, never on an event loop. Calls may run concurrently.
//


#ifndef Switchboard_Together_Accounts_INCLUDED
#define Switchboard_Together_Accounts_INCLUDED


#include "switchboard/Storage.h"
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>


namespace Switchboard {
namespace Together {


struct UserRecord
{
	std::string id;
	std::string username;
	std::optional<std::string> email;
	std::optional<std::string> avatarUrl;
	std::optional<std::string> customStatus;
	std::int64_t createdAt = 0; ///< microseconds
	std::int64_t updatedAt = 0;
};


extern const char* const USER_COLUMNS;
///< The users columns userFrom() reads, in its order.

UserRecord userFrom(const std::vector<Value>& row);
/// A row of USER_COLUMNS.

std::optional<std::string> optionalText(const Value& value);
/// A nullable text cell.


struct HashCost
{
	unsigned long long opslimit;
	std::size_t memlimit;
};


enum class CreateOutcome
{
	CREATED,
	USERNAME_TAKEN, ///< 409 "Username already taken"
	EMAIL_TAKEN,    ///< 409 "Email already registered"
	FAILED          ///< 500 (storage, or the hash could not be computed)
};


enum class LoginOutcome
{
	OK,
	WRONG, ///< 401 "Invalid username or password": unknown user or wrong password, alike
	FAILED
};


class Accounts
{
public:
	using RandomBytes = std::function<void(void* buffer, std::size_t length)>;

	Accounts(Storage& storage, HashCost cost, unsigned maxConcurrentHashes, RandomBytes random);
	/// Computes the dummy hash (one Argon2id run). storage has togetherMigrations() applied.

	CreateOutcome create(const std::string& username, const std::string& email, const std::string& password,
	                     std::int64_t nowMicros, UserRecord& user);
	/// email "" means none.

	LoginOutcome login(const std::string& username, const std::string& password, UserRecord& user);

	std::optional<UserRecord> find(const std::string& id, bool* failed = nullptr);
	/// The user, or nothing (failed set when storage failed rather than the user being unknown).

	bool setCost(HashCost cost);
	/// A reload's cost, for the hashes made from now on (stored ones are redone at the next login).
	/// Blocks for one Argon2id run: the dummy hash is remade at the new cost, so unknown usernames
	/// keep costing what known ones do. False (nothing changed) when that hash cannot be made.

private:
	bool hash(const std::string& password, std::string& encoded);
	bool hashAt(const HashCost& cost, const std::string& password, std::string& encoded);
	HashCost cost() const;
	std::string dummyHash() const;
	bool verify(const std::string& encoded, const std::string& password);
	void acquire();
	void release();

	Storage& _storage;
	mutable std::mutex _costMutex; ///< guards _cost and _dummyHash, which a reload may change
	HashCost _cost;
	RandomBytes _random;
	std::string _dummyHash;

	std::mutex _mutex;
	std::condition_variable _freed;
	unsigned _hashing = 0;
	const unsigned _maxHashing;
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_Accounts_INCLUDED
