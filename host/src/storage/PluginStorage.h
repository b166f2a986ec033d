//
// PluginStorage.h
//
// The host's side of one plugin's storage: the SDK Storage plus migrations and shutdown.
//


#ifndef Switchboard_Storage_PluginStorage_INCLUDED
#define Switchboard_Storage_PluginStorage_INCLUDED


#include "plugin/PluginSlot.h"
#include "switchboard/Storage.h"
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


class PluginStorage: public Switchboard::Storage
/// What a StorageBackend hands out per plugin. The plugin sees only Switchboard::Storage; the host
/// also applies the plugin's migrations before start() and flushes and closes the storage after
/// stop(). Every method is thread-safe and none throws.
{
public:
	virtual const std::string& pluginName() const = 0;
	/// The plugin whose namespace this is.

	virtual bool applyMigrations(const std::vector<Switchboard::Migration>& migrations, std::string& error) = 0;
	/// Brings the schema up to the highest version in migrations: applies each migration above the
	/// stored version in ascending order, each in its own transaction together with the version
	/// bump. Returns false with an error naming the plugin and the version when the list is
	/// invalid (a version below 1, a duplicate, no SQL), when a migration fails (that migration
	/// is rolled back; earlier ones stay), or when the stored version is above every known one
	/// (the database is newer than the plugin). Blocking.

	virtual int schemaVersion(std::string& error) = 0;
	/// The stored schema version (0 before any migration), or -1 with error set.

	virtual bool flush(std::string& error) = 0;
	/// Makes everything written so far durable in the main store (SQLite: checkpoints the WAL).
	/// False with error set when that failed; what was committed stays in the WAL (SQLite
	/// replays it at the next open), so this is for the log, not a loss.

	virtual void close() = 0;
	/// flush(), then releases the connection. Later calls fail with "closed"; work already queued
	/// by executeAsync completes with that error. Idempotent; the destructor calls it.

	void setGuard(PluginSlot* guard) { _guard = guard; }
	/// The plugin's guard, around transaction bodies (plugin code); set before the plugin starts.

protected:
	PluginSlot* guard() const { return _guard; }

private:
	PluginSlot* _guard = nullptr;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_PluginStorage_INCLUDED
