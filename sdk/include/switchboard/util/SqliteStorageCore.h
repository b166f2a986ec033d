//
// util/SqliteStorageCore.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one implementation of
// Storage::transaction() and of applying migrations on a Sqlite::Connection, shared by the host's
// SQLite backend and SqliteTestStorage. Needs SQLite's headers and library; SDK.h does not
// include it.
//


#ifndef Switchboard_Util_SqliteStorageCore_INCLUDED
#define Switchboard_Util_SqliteStorageCore_INCLUDED


#include "switchboard/Storage.h"
#include "switchboard/util/MigrationPlan.h"
#include "switchboard/util/SqliteConnection.h"
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Sqlite {


using BodyGuard = std::function<bool(const std::function<void()>& run, std::string& thrown)>;
/// Runs a transaction body under its owner's exception policy: true when run returned, false with
/// thrown describing the exception otherwise. The host passes the plugin's guard (which logs and
/// counts); empty means runTransaction catches by itself.


inline bool runTransaction(Connection& db, const std::function<bool(Storage& tx)>& body, std::string* pError,
                           const BodyGuard& guard = {});
/// Storage::transaction() on db: BEGIN IMMEDIATE (a SAVEPOINT when nested), body with a Storage
/// bound to the transaction, then COMMIT if body returned true and no statement through that
/// Storage failed; otherwise, or if body threw, ROLLBACK. pError (when given) says why it did not
/// commit, ending in " (rolled back)", and is cleared on success. Holds db's lock throughout.


class TransactionStorage: public Storage
/// The tx handed to a transaction body: statements go to the same connection (whose lock the
/// body's thread holds) and the first failure is remembered so the transaction cannot commit.
{
public:
	TransactionStorage(Connection& db, const BodyGuard& guard):
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
		// A worker could not join this transaction later: run it now, inside it.
		QueryResult result = execute(sql, params);
		if (done)
			done(std::move(result));
	}

	const std::string& firstError() const { return _firstError; }

private:
	Connection& _db;
	const BodyGuard& _guard;
	std::string _firstError;
};


inline bool runTransaction(Connection& db, const std::function<bool(Storage& tx)>& body, std::string* pError,
                           const BodyGuard& guard)
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
	if (guard)
	{
		std::string thrown;
		if (!guard([&] { keep = body(tx); }, thrown))
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


inline int readSchemaVersion(Connection& db, bool create, std::string& error)
/// The version stored in MigrationPlan::SCHEMA_TABLE (0 when there is none yet), or -1 with error
/// set. With create, makes the table and its row (version 0) first if they are missing.
{
	std::lock_guard<std::recursive_mutex> lock(db.mutex());
	const std::string table = MigrationPlan::SCHEMA_TABLE;
	const std::string oneRow = table + " must hold exactly one row";
	if (!create)
	{
		QueryResult exists =
		    db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", {table});
		if (!exists.ok)
		{
			error = exists.error;
			return -1;
		}
		if (exists.rows.empty() || valueAsInt(exists.rows[0][0]) == 0)
			return 0;
		QueryResult version = db.execute("SELECT count(*), max(version) FROM " + table, {});
		if (!version.ok)
		{
			error = version.error;
			return -1;
		}
		if (valueAsInt(version.rows[0][0]) != 1)
		{
			error = oneRow;
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
		    if (!tx.execute("CREATE TABLE IF NOT EXISTS " + table + "(version INTEGER NOT NULL)").ok)
			    return false;
		    QueryResult rows = tx.execute("SELECT count(*), max(version) FROM " + table);
		    if (!rows.ok)
			    return false;
		    const std::int64_t count = valueAsInt(rows.rows[0][0]);
		    if (count == 0)
		    {
			    version = 0;
			    return tx.execute("INSERT INTO " + table + "(version) VALUES (0)").ok;
		    }
		    if (count != 1)
		    {
			    why = oneRow;
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


inline bool applyMigrations(Connection& db, const std::string& pluginName, const std::vector<Migration>& migrations,
                            std::string& error)
/// Brings the schema up to the latest migration by the rules of MigrationPlan: each pending step
/// runs as a script together with its version bump in one transaction. Returns false with an
/// error naming the plugin (and the failed version, the schema staying at the one before).
{
	std::lock_guard<std::recursive_mutex> lock(db.mutex());
	const std::string who = "plugin '" + pluginName + "': ";

	MigrationPlan plan(pluginName, migrations);
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
	int current = readSchemaVersion(db, true, why);
	if (current < 0)
	{
		error = who + "cannot read the schema version: " + why;
		return false;
	}
	std::vector<Migration> steps;
	if (!plan.pending(current, steps, error))
		return false;

	const std::string table = MigrationPlan::SCHEMA_TABLE;
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
			QueryResult bump = db.execute("UPDATE " + table + " SET version = ?", {std::int64_t(m.version)});
			if (!bump.ok)
			{
				applied = false;
				why = "cannot record the version: " + bump.error;
			}
			else if (bump.affectedRows != 1)
			{
				applied = false;
				why = "cannot record the version: " + table + " must hold exactly one row";
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


} // namespace Sqlite
} // namespace Switchboard


#endif // Switchboard_Util_SqliteStorageCore_INCLUDED
