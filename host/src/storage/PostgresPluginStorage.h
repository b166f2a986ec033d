//
// PostgresPluginStorage.h
//
// One plugin's storage in its own schema of a shared PostgreSQL database.
//


#ifndef Switchboard_Storage_PostgresPluginStorage_INCLUDED
#define Switchboard_Storage_PostgresPluginStorage_INCLUDED


#include "storage/PluginStorage.h"
#include "storage/StorageBackend.h"
#include <memory>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Core {


class PostgresPool;


class PostgresPluginStorage: public PluginStorage
/// The Storage a plugin gets from PostgresStorage: its tables live in the schema named after the
/// plugin (a quoted identifier), reached through connections of the backend's shared pool, each
/// set to search_path = that schema before a statement of this plugin runs on it. Unlike the
/// SQLite backend, statements of one plugin run in parallel (one pooled connection each).
///
/// execute() takes a connection for one statement (SQL rewritten by PostgresSql::prepare()).
/// transaction() keeps one connection from BEGIN to COMMIT; while it is open, statements and
/// transactions of this storage started on the same thread (on tx or on this object) run inside
/// it, as with SQLite's connection lock: nested transaction() calls become SAVEPOINTs, and a
/// plain execute() inside a body does not wait for a second connection. tx.executeAsync() runs
/// at once inside the transaction. PostgreSQL aborts a transaction at its first failed statement,
/// so a body that goes on after a failure only gets errors; the transaction rolls back either way.
///
/// executeAsync() runs the statement on the host's worker pool; the work holds the shared state,
/// not this object, so closing or destroying the storage first is safe (it then fails with
/// "closed").
///
/// Migrations keep the version in the one-row table <schema>._switchboard_schema(version). Each
/// step runs in its own transaction holding a transaction-scoped advisory lock named after the
/// plugin, and re-reads the version under the lock, so nodes starting together apply every step
/// exactly once. Nothing throws.
{
public:
	PostgresPluginStorage(std::string pluginName, std::shared_ptr<PostgresPool> pPool, StorageBackend::Offload offload);

	~PostgresPluginStorage() override;
	/// Closes the storage.

	bool probe(std::string& error);
	/// Takes a connection and sets its search_path: fails when the server cannot be reached.

	const std::string& schema() const;
	/// The quoted schema name, e.g. "echo".

	Switchboard::QueryResult execute(std::string_view sql, const std::vector<Switchboard::Value>& params = {}) override;
	bool transaction(const std::function<bool(Switchboard::Storage& tx)>& body, std::string* error = nullptr) override;
	void executeAsync(std::string sql, std::vector<Switchboard::Value> params,
	                  std::function<void(Switchboard::QueryResult)> done) override;

	const std::string& pluginName() const override;
	bool applyMigrations(const std::vector<Switchboard::Migration>& migrations, std::string& error) override;
	int schemaVersion(std::string& error) override;
	bool flush(std::string& error) override;
	/// Nothing to do: a commit is durable once PostgreSQL acknowledged it.
	void close() override;

	struct Shared;

private:
	std::shared_ptr<Shared> _pShared;
	StorageBackend::Offload _offload;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_PostgresPluginStorage_INCLUDED
