//
// SqlitePluginStorage.cpp
//
// One plugin's storage in its own SQLite database file.
//


#include "storage/SqlitePluginStorage.h"
#include "switchboard/util/MigrationPlan.h"
#include "storage/SqliteDatabase.h"
#include <exception>
#include <mutex>


namespace Switchboard {
namespace Core {


namespace {


const char* const SCHEMA_TABLE = "_switchboard_schema";


bool runTransaction(SqliteDatabase& db, const std::function<bool(Storage&)>& body, std::string* pError,
                    PluginSlot* guard = nullptr);


class TransactionStorage: public Storage
/// The tx handed to a transaction body: statements go to the same connection (whose lock the
/// body's thread holds) and a failure is remembered so the transaction cannot commit.
{
public:
	TransactionStorage(SqliteDatabase& db, PluginSlot* guard):
	    _db(db),
	    _guard(guard)
	{
	}

	QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
	{
		QueryResult result = _db.execute(sql, params);
		if (!result.ok && _firstError.empty())
			_firstError = result.error.empty() ? std::string("statement failed") : result.error;
		return result;
	}

	bool transaction(const std::function<bool(Storage& tx)>& body, std::string* pError = nullptr) override
	{
		return runTransaction(_db, body, pError, _guard);
	}

	void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) override
	{
		QueryResult result = execute(sql, params);
		if (done)
			done(std::move(result));
	}

	const std::string& firstError() const { return _firstError; }

private:
	SqliteDatabase& _db;
	PluginSlot* _guard;
	std::string _firstError;
};


bool runTransaction(SqliteDatabase& db, const std::function<bool(Storage&)>& body, std::string* pError,
                    PluginSlot* guard)
{
	std::lock_guard<std::recursive_mutex> lock(db.mutex());
	std::string why;
	if (!body)
		why = "empty transaction body";
	else if (!db.begin(why))
		why = "cannot begin the transaction: " + why;
	if (!why.empty())
	{
		if (pError)
			*pError = why;
		return false;
	}

	TransactionStorage tx(db, guard);
	bool keep = false;
	std::string thrown;
	if (guard)
	{
		// A plugin's body: its guard logs and counts the exception (site "transaction").
		if (!guard->guarded(
		        PluginSite::TRANSACTION, [&] { keep = body(tx); }, &thrown))
			why = "the transaction body threw: " + thrown;
	}
	else
	{
		try
		{
			keep = body(tx);
		}
		catch (const std::exception& e)
		{
			why = std::string("the transaction body threw: ") + e.what();
		}
		catch (...)
		{
			why = "the transaction body threw an unknown exception";
		}
	}

	if (keep && !tx.firstError().empty())
	{
		keep = false;
		why = "a statement failed inside the transaction: " + tx.firstError();
	}
	else if (!keep && why.empty())
		why = "the transaction body returned false";

	if (keep)
	{
		if (db.commit(why))
		{
			if (pError)
				pError->clear();
			return true;
		}
		why = "commit failed: " + why;
	}
	else
		db.rollback();
	if (pError)
		*pError = why + " (rolled back)";
	return false;
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
	return runTransaction(*_pDatabase, body, error, guard());
}


void SqlitePluginStorage::executeAsync(std::string sql, std::vector<Value> params,
                                       std::function<void(QueryResult)> done)
{
	auto pResult = std::make_shared<QueryResult>();
	// The work holds the connection, not this object, so it stays valid if the plugin goes first.
	auto work = [pDatabase = _pDatabase, sql = std::move(sql), params = std::move(params), pResult]() {
		*pResult = pDatabase->execute(sql, params);
	};
	auto completion = [pResult, done]() {
		if (done)
			done(std::move(*pResult));
	};
	if (!_offload)
	{
		work();
		completion();
		return;
	}
	try
	{
		_offload(std::move(work), std::move(completion));
	}
	catch (const std::exception& e)
	{
		if (done)
		{
			QueryResult failed;
			failed.error = std::string("cannot schedule the statement: ") + e.what();
			done(std::move(failed));
		}
	}
}


const std::string& SqlitePluginStorage::pluginName() const
{
	return _pluginName;
}


bool SqlitePluginStorage::applyMigrations(const std::vector<Migration>& migrations, std::string& error)
{
	SqliteDatabase& db = *_pDatabase;
	std::lock_guard<std::recursive_mutex> lock(db.mutex());
	const std::string who = "plugin '" + _pluginName + "': ";

	MigrationPlan plan(_pluginName, migrations);
	if (!plan.valid())
	{
		error = plan.error();
		return false;
	}
	if (db.transactionDepth() > 0)
	{
		error = who + "migrations cannot run inside a transaction";
		return false;
	}
	std::string why;
	int current = readVersion(true, why);
	if (current < 0)
	{
		error = who + "cannot read the schema version: " + why;
		return false;
	}
	std::vector<Migration> steps;
	if (!plan.pending(current, steps, error))
		return false;

	for (const Migration& m : steps)
	{
		const std::string step = "migration " + std::to_string(m.version);
		if (!db.begin(why))
		{
			error = who + "cannot start " + step + ": " + why;
			return false;
		}
		bool applied = db.executeScript(m.sql, why);
		if (applied)
		{
			QueryResult bump = db.execute("UPDATE _switchboard_schema SET version = ?", {std::int64_t(m.version)});
			if (!bump.ok)
			{
				applied = false;
				why = "cannot record the version: " + bump.error;
			}
			else if (bump.affectedRows != 1)
			{
				applied = false;
				why = "cannot record the version: _switchboard_schema must hold exactly one row";
			}
		}
		if (applied)
			applied = db.commit(why); // a failed commit rolls back by itself
		else
			db.rollback();
		if (!applied)
		{
			error = who + step + " failed: " + why + "; the schema stays at version " + std::to_string(current);
			return false;
		}
		current = m.version;
	}
	return true;
}


int SqlitePluginStorage::schemaVersion(std::string& error)
{
	return readVersion(false, error);
}


void SqlitePluginStorage::flush()
{
	std::string ignored;
	_pDatabase->checkpoint(ignored);
}


void SqlitePluginStorage::close()
{
	_pDatabase->close();
}


int SqlitePluginStorage::readVersion(bool create, std::string& error)
{
	SqliteDatabase& db = *_pDatabase;
	std::lock_guard<std::recursive_mutex> lock(db.mutex());
	if (!create)
	{
		QueryResult exists = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
		                                {std::string(SCHEMA_TABLE)});
		if (!exists.ok)
		{
			error = exists.error;
			return -1;
		}
		if (exists.rows.empty() || valueAsInt(exists.rows[0][0]) == 0)
			return 0;
		QueryResult version = db.execute("SELECT count(*), max(version) FROM _switchboard_schema", {});
		if (!version.ok)
		{
			error = version.error;
			return -1;
		}
		if (valueAsInt(version.rows[0][0]) != 1)
		{
			error = "_switchboard_schema must hold exactly one row";
			return -1;
		}
		return static_cast<int>(valueAsInt(version.rows[0][1]));
	}

	// Create the table and its row in one transaction so a crash cannot leave it empty.
	std::string why;
	int version = -1;
	bool committed = runTransaction(
	    db,
	    [&](Storage& tx) {
		    if (!tx.execute("CREATE TABLE IF NOT EXISTS _switchboard_schema(version INTEGER NOT NULL)").ok)
			    return false;
		    QueryResult rows = tx.execute("SELECT count(*), max(version) FROM _switchboard_schema");
		    if (!rows.ok)
			    return false;
		    const std::int64_t count = valueAsInt(rows.rows[0][0]);
		    if (count == 0)
		    {
			    version = 0;
			    return tx.execute("INSERT INTO _switchboard_schema(version) VALUES (0)").ok;
		    }
		    if (count != 1)
		    {
			    why = "_switchboard_schema must hold exactly one row";
			    return false;
		    }
		    version = static_cast<int>(valueAsInt(rows.rows[0][1]));
		    return true;
	    },
	    &error);
	if (!committed)
	{
		if (!why.empty())
			error = why;
		return -1;
	}
	return version;
}


} // namespace Core
} // namespace Switchboard
