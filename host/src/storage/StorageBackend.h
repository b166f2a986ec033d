//
// StorageBackend.h
//
// The host's factory of per-plugin storage: one namespace (SQLite file, later PostgreSQL schema) per plugin.
//


#ifndef Switchboard_Storage_StorageBackend_INCLUDED
#define Switchboard_Storage_StorageBackend_INCLUDED


#include "storage/PluginStorage.h"
#include <functional>
#include <memory>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Core {


class StorageBackend
/// Opens the storage of each plugin. A backend decides where a plugin's data lives (SQLite: the
/// file <dir>/<plugin>.sqlite; PostgreSQL, later: a schema named after the plugin in one database
/// reached through a SessionPool) and hands out PluginStorage objects that plugins only see as
/// Switchboard::Storage, so changing the backend never touches a plugin.
///
/// Threading: open() may be called from any thread; each returned PluginStorage is thread-safe.
/// A plugin's storage must be opened at most once at a time.
{
public:
	using Offload = std::function<void(std::function<void()> work, std::function<void()> completion)>;
	///< The host's worker pool (Host::offload): runs work on a worker, then completion on the
	///< caller's event loop (or on the worker when the caller is not a loop). Storage::executeAsync
	///< goes through it. May be empty: then executeAsync runs inline on the calling thread.

	virtual ~StorageBackend() = default;

	virtual std::string name() const = 0;
	/// The backend's short name for logs and configuration ("sqlite").

	virtual std::unique_ptr<PluginStorage> open(const std::string& pluginName, Offload offload, std::string& error) = 0;
	/// Opens (creating if needed) the storage of the named plugin. Returns nullptr and sets error
	/// when the name is not valid (see isValidPluginName) or the storage cannot be opened.
	/// Migrations are not applied here: the host calls PluginStorage::applyMigrations next.

	static bool isValidPluginName(std::string_view name);
	/// True for 1 to 64 characters of [A-Za-z0-9_.-] starting with a letter or digit: safe as a
	/// file name and as a quoted PostgreSQL schema name, and no path tricks ("..", "/").
};


void runStatementAsync(const StorageBackend::Offload& offload, std::function<QueryResult()> statement,
                       std::function<void(QueryResult)> done);
/// Storage::executeAsync for every backend: statement runs through offload (inline when it is
/// empty), then done gets its result; a failure to schedule is reported to done as a result.
/// statement must hold what it uses (not the storage object), so it outlives a closing plugin.


//
// inlines
//
inline bool StorageBackend::isValidPluginName(std::string_view name)
{
	if (name.empty() || name.size() > 64)
		return false;
	for (std::size_t i = 0; i < name.size(); ++i)
	{
		const char c = name[i];
		const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_StorageBackend_INCLUDED
