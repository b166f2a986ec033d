//
// SqliteStorage.h
//
// The SQLite storage backend: one database file per plugin in a data directory.
//


#ifndef Switchboard_Storage_SqliteStorage_INCLUDED
#define Switchboard_Storage_SqliteStorage_INCLUDED


#include "storage/StorageBackend.h"
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class SqliteStorage: public StorageBackend
/// The single-node default backend. Each plugin gets the file <directory>/<plugin>.sqlite (plus
/// SQLite's -wal and -shm companions while open), opened as a SqlitePluginStorage. The directory
/// is created on the first open() if it does not exist.
///
/// Threading: open() is thread-safe; the backend keeps no per-plugin state, so it may be
/// destroyed while plugin storages are still open.
{
public:
	explicit SqliteStorage(std::string directory);
	/// directory is made absolute against the current directory now, so a later chdir changes
	/// nothing.

	std::string name() const override;
	/// "sqlite"

	std::unique_ptr<PluginStorage> open(const std::string& pluginName, Offload offload, std::string& error) override;

	const std::string& directory() const;
	/// The absolute data directory.

	std::string databasePath(const std::string& pluginName) const;
	/// <directory>/<pluginName>.sqlite

private:
	bool ensureDirectory(std::string& error) const;

	std::string _directory;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_SqliteStorage_INCLUDED
