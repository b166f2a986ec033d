//
// SqlitePluginStorage.cpp
//
// One plugin's storage in its own SQLite database file.
//


#include "storage/SqlitePluginStorage.h"
#include "switchboard/util/SqliteStorageCore.h"
#include "storage/SqliteDatabase.h"
#include <exception>


namespace Switchboard {
namespace Core {


namespace {


Sqlite::BodyGuard pluginGuard(PluginSlot* guard)
/// A plugin's transaction body runs under its guard, which logs and counts an exception (site
/// "transaction"); without a guard (host code) the shared runner catches by itself.
{
	if (!guard)
		return {};
	return [guard](const std::function<void()>& run, std::string& thrown) {
		return guard->guarded(PluginSite::TRANSACTION, run, &thrown);
	};
}


} // namespace


SqlitePluginStorage::SqlitePluginStorage(std::string pluginName, std::string path, StorageBackend::Offload offload):
    _pluginName(std::move(pluginName)),
    _pDatabase(std::make_shared<SqliteDatabase>(_pluginName, std::move(path))),
    _offload(std::move(offload))
{
}


SqlitePluginStorage::~SqlitePluginStorage()
{
	close();
}


bool SqlitePluginStorage::open(std::string& error)
{
	return _pDatabase->open(error);
}


const std::string& SqlitePluginStorage::path() const
{
	return _pDatabase->path();
}


QueryResult SqlitePluginStorage::execute(std::string_view sql, const std::vector<Value>& params)
{
	return _pDatabase->execute(sql, params);
}


bool SqlitePluginStorage::transaction(const std::function<bool(Storage& tx)>& body, std::string* error)
{
	return Sqlite::runTransaction(*_pDatabase, body, error, pluginGuard(guard()));
}


void SqlitePluginStorage::executeAsync(std::string sql, std::vector<Value> params,
                                       std::function<void(QueryResult)> done)
{
	// The work holds the connection, not this object, so it stays valid if the plugin goes first.
	runStatementAsync(
	    _offload,
	    [pDatabase = _pDatabase, sql = std::move(sql), params = std::move(params)]() {
		    return pDatabase->execute(sql, params);
	    },
	    std::move(done));
}


const std::string& SqlitePluginStorage::pluginName() const
{
	return _pluginName;
}


bool SqlitePluginStorage::applyMigrations(const std::vector<Migration>& migrations, std::string& error)
{
	return Sqlite::applyMigrations(*_pDatabase, _pluginName, migrations, error);
}


int SqlitePluginStorage::schemaVersion(std::string& error)
{
	return Sqlite::readSchemaVersion(*_pDatabase, false, error);
}


bool SqlitePluginStorage::flush(std::string& error)
{
	return _pDatabase->checkpoint(error);
}


void SqlitePluginStorage::close()
{
	_pDatabase->close();
}


} // namespace Core
} // namespace Switchboard
