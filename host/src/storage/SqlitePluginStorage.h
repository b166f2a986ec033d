//
// SqlitePluginStorage.h
//
// One plugin's storage in its own SQLite database file.
//


#ifndef Switchboard_Storage_SqlitePluginStorage_INCLUDED
#define Switchboard_Storage_SqlitePluginStorage_INCLUDED


#include "storage/PluginStorage.h"
#include "storage/StorageBackend.h"
#include <memory>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Core {


class SqliteDatabase;


class SqlitePluginStorage: public PluginStorage
/// The Storage a plugin gets from SqliteStorage: one SQLite connection (see SqliteDatabase) used
/// under one recursive mutex, so calls from several threads run one after another and a
/// transaction holds the connection until it ends.
///
/// transaction() begins with BEGIN IMMEDIATE (the write lock is taken up front, so two writers
/// never deadlock upgrading), runs body with a Storage bound to the transaction and commits if body
/// returned true and no statement through that Storage failed; otherwise, or if body threw, it
/// rolls back. transaction() inside body (on tx or on this object) nests through a SAVEPOINT: the
/// inner level commits or rolls back on its own and the outer body decides what to do with the
/// result. tx.executeAsync() runs the statement at once inside the transaction and calls done
/// before returning, since a worker could not join the transaction later.
///
/// executeAsync() hands the statement to the host's offload function: the work keeps the
/// connection alive, so closing or destroying this object first is safe (the statement then
/// fails with "closed").
///
/// Migrations keep the schema version in the one-row table _switchboard_schema(version).
{
public:
	SqlitePluginStorage(std::string pluginName, std::string path, StorageBackend::Offload offload);
	/// Does not touch the file yet; call open().

	~SqlitePluginStorage() override;
	/// Closes the storage.

	bool open(std::string& error);
	/// Opens or creates the database file. Returns false with error set on failure.

	const std::string& path() const;
	/// The database file.

	Switchboard::QueryResult execute(std::string_view sql, const std::vector<Switchboard::Value>& params = {}) override;
	bool transaction(const std::function<bool(Switchboard::Storage& tx)>& body, std::string* error = nullptr) override;
	void executeAsync(std::string sql, std::vector<Switchboard::Value> params,
	                  std::function<void(Switchboard::QueryResult)> done) override;

	const std::string& pluginName() const override;
	bool applyMigrations(const std::vector<Switchboard::Migration>& migrations, std::string& error) override;
	int schemaVersion(std::string& error) override;
	bool flush(std::string& error) override;
	void close() override;

private:
	const std::string _pluginName;
	std::shared_ptr<SqliteDatabase> _pDatabase;
	StorageBackend::Offload _offload;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_SqlitePluginStorage_INCLUDED
