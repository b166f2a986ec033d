//
// PostgresStorage.h
//
// The PostgreSQL storage backend: one schema per plugin in a database shared by every node.
//


#ifndef Switchboard_Storage_PostgresStorage_INCLUDED
#define Switchboard_Storage_PostgresStorage_INCLUDED


#include "config/Settings.h"
#include "storage/PostgresPool.h"
#include "storage/StorageBackend.h"
#include <atomic>
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class PostgresStorage: public StorageBackend
/// The cluster backend ([storage] backend = postgresql, docs/storage.md): every plugin gets the
/// schema named after it (created by its first migration run), reached through one pool of libpq
/// connections shared by all plugins. open() checks that the server can be reached, so an
/// unreachable server fails start-up within the connect timeout.
///
/// Threading: open() is thread-safe; the pool lives as long as any storage opened from it, so the
/// backend may be destroyed first.
{
public:
	PostgresStorage(const PostgresSettings& settings, int workerThreads);
	/// Connects nothing yet. A pool size of 0 means workerThreads + 2 (every worker running a
	/// statement, plus HTTP handlers and start-up).

	std::string name() const override;
	/// "postgresql"

	std::unique_ptr<PluginStorage> open(const std::string& pluginName, Offload offload, std::string& error) override;

	const PostgresParameters& parameters() const;

	static constexpr std::size_t MAX_SCHEMA_NAME = 63;
	///< PostgreSQL truncates longer identifiers (NAMEDATALEN - 1): two plugins would share a schema.

private:
	std::shared_ptr<PostgresPool> _pPool;
	std::atomic<bool> _announced{false};
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_PostgresStorage_INCLUDED
