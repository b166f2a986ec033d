//
// PostgresPluginStorage.cpp
//
// One plugin's storage in its own schema of a shared PostgreSQL database.
//


#include "storage/PostgresPluginStorage.h"
#include "storage/PostgresPool.h"
#include "storage/PostgresSql.h"
#include "switchboard/util/MigrationPlan.h"
#include <atomic>
#include <exception>
#include <map>


namespace Switchboard {
namespace Core {


struct PostgresPluginStorage::Shared
/// What queued work needs after the storage object may be gone.
{
	std::string name;
	std::string schema; ///< quoted
	std::shared_ptr<PostgresPool> pPool;
	std::atomic<bool> closed{false};

	std::string closedError() const { return "the storage of '" + name + "' is closed"; }
};


namespace {


using Shared = PostgresPluginStorage::Shared;


struct Active
/// A transaction this thread has open on one plugin's storage.
{
	PostgresConnection* pConnection;
	int depth; ///< open savepoints inside it
};


std::map<const Shared*, Active>& activeTransactions()
/// Per thread: statements of a storage with an open transaction on this thread join it.
{
	thread_local std::map<const Shared*, Active> active;
	return active;
}


std::string savepointName(int level)
{
	return "switchboard_sp_" + std::to_string(level);
}


QueryResult runOn(PostgresConnection& connection, std::string_view sql, const std::vector<Value>& params)
{
	QueryResult result;
	PostgresSql::Prepared prepared;
	if (!PostgresSql::prepare(sql, prepared, result.error))
		return result;
	if (!prepared.ownDollars && static_cast<std::size_t>(prepared.placeholders) != params.size())
	{
		result.error = "the statement has " + std::to_string(prepared.placeholders) + " parameter(s) but " +
		               std::to_string(params.size()) + " value(s) were given";
		return result;
	}
	return connection.execute(prepared.text, params);
}


QueryResult executeShared(Shared& shared, std::string_view sql, const std::vector<Value>& params)
{
	QueryResult result;
	if (shared.closed)
	{
		result.error = shared.closedError();
		return result;
	}
	auto& active = activeTransactions();
	auto open = active.find(&shared);
	if (open != active.end())
		return runOn(*open->second.pConnection, sql, params);
	PostgresPool::Lease lease = shared.pPool->acquire(result.error);
	if (!lease || !lease->useSchema(shared.schema, result.error))
		return result;
	return runOn(*lease, sql, params);
}


bool runTransaction(Shared& shared, const std::function<bool(Storage& tx)>& body, std::string* pError,
                    PluginSlot* guard);


class TransactionStorage: public Storage
/// The tx handed to a transaction body: statements go to the transaction's connection, and the
/// first failure is remembered so the transaction cannot commit.
{
public:
	TransactionStorage(Shared& shared, PostgresConnection& connection, PluginSlot* guard):
	    _shared(shared),
	    _connection(connection),
	    _guard(guard)
	{
	}

	QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
	{
		QueryResult result = runOn(_connection, sql, params);
		if (!result.ok && _firstError.empty())
			_firstError = result.error.empty() ? std::string("statement failed") : result.error;
		return result;
	}

	bool transaction(const std::function<bool(Storage& tx)>& body, std::string* pError = nullptr) override
	{
		return runTransaction(_shared, body, pError, _guard);
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
	Shared& _shared;
	PostgresConnection& _connection;
	PluginSlot* _guard;
	std::string _firstError;
};


bool runBody(const std::function<bool(Storage& tx)>& body, TransactionStorage& tx, PluginSlot* guard, std::string& why)
{
	bool keep = false;
	if (guard)
	{
		std::string thrown;
		if (!guard->guarded(
		        PluginSite::TRANSACTION, [&] { keep = body(tx); }, &thrown))
			why = "the transaction body threw: " + thrown;
		return keep;
	}
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
	return keep;
}


bool runTransaction(Shared& shared, const std::function<bool(Storage& tx)>& body, std::string* pError,
                    PluginSlot* guard)
{
	std::string why;
	auto fail = [pError](const std::string& reason) {
		if (pError)
			*pError = reason;
		return false;
	};
	if (!body)
		return fail("empty transaction body");
	auto& active = activeTransactions();
	auto open = active.find(&shared);
	if (open == active.end() && shared.closed)
		return fail(shared.closedError());

	PostgresPool::Lease lease;
	PostgresConnection* pConnection = nullptr;
	int level = 0; // 0: the transaction itself, n: the n-th nested savepoint
	if (open != active.end())
	{
		pConnection = open->second.pConnection;
		level = open->second.depth + 1;
		if (!pConnection->command("SAVEPOINT " + savepointName(level), why))
			return fail("cannot begin the transaction: " + why);
		open->second.depth = level;
	}
	else
	{
		lease = shared.pPool->acquire(why);
		if (!lease || !lease->useSchema(shared.schema, why) || !lease->command("BEGIN", why))
			return fail("cannot begin the transaction: " + why);
		pConnection = &*lease;
		active.emplace(&shared, Active{pConnection, 0});
	}

	TransactionStorage tx(shared, *pConnection, guard);
	bool keep = runBody(body, tx, guard, why);
	if (keep && !tx.firstError().empty())
	{
		keep = false;
		why = "a statement failed inside the transaction: " + tx.firstError();
	}
	else if (!keep && why.empty())
		why = "the transaction body returned false";

	std::string ignored;
	if (level > 0)
	{
		active[&shared].depth = level - 1;
		const std::string name = savepointName(level);
		if (keep)
		{
			if (pConnection->command("RELEASE SAVEPOINT " + name, why))
			{
				if (pError)
					pError->clear();
				return true;
			}
			why = "commit failed: " + why;
		}
		pConnection->command("ROLLBACK TO SAVEPOINT " + name, ignored);
		pConnection->command("RELEASE SAVEPOINT " + name, ignored);
		return fail(why + " (rolled back)");
	}

	active.erase(&shared);
	if (keep)
	{
		std::string status;
		if (pConnection->command("COMMIT", why, &status))
		{
			if (status == "COMMIT")
			{
				if (pError)
					pError->clear();
				return true;
			}
			// The COMMIT of a transaction aborted by an earlier failure answers ROLLBACK.
			why = "PostgreSQL rolled the transaction back after an earlier error";
		}
		why = "commit failed: " + why;
		if (pConnection->inTransaction())
			pConnection->command("ROLLBACK", ignored);
		return fail(why + " (rolled back)");
	}
	pConnection->command("ROLLBACK", ignored);
	return fail(why + " (rolled back)");
}


} // namespace


PostgresPluginStorage::PostgresPluginStorage(std::string pluginName, std::shared_ptr<PostgresPool> pPool,
                                             StorageBackend::Offload offload):
    _pShared(std::make_shared<Shared>()),
    _offload(std::move(offload))
{
	_pShared->name = std::move(pluginName);
	_pShared->schema = PostgresSql::quoteIdentifier(_pShared->name);
	_pShared->pPool = std::move(pPool);
}


PostgresPluginStorage::~PostgresPluginStorage()
{
	close();
}


bool PostgresPluginStorage::probe(std::string& error)
{
	PostgresPool::Lease lease = _pShared->pPool->acquire(error);
	return lease && lease->useSchema(_pShared->schema, error);
}


const std::string& PostgresPluginStorage::schema() const
{
	return _pShared->schema;
}


QueryResult PostgresPluginStorage::execute(std::string_view sql, const std::vector<Value>& params)
{
	return executeShared(*_pShared, sql, params);
}


bool PostgresPluginStorage::transaction(const std::function<bool(Storage& tx)>& body, std::string* error)
{
	return runTransaction(*_pShared, body, error, guard());
}


void PostgresPluginStorage::executeAsync(std::string sql, std::vector<Value> params,
                                         std::function<void(QueryResult)> done)
{
	runStatementAsync(
	    _offload,
	    [pShared = _pShared, sql = std::move(sql), params = std::move(params)]() {
		    return executeShared(*pShared, sql, params);
	    },
	    std::move(done));
}


const std::string& PostgresPluginStorage::pluginName() const
{
	return _pShared->name;
}


bool PostgresPluginStorage::applyMigrations(const std::vector<Migration>& migrations, std::string& error)
{
	Shared& shared = *_pShared;
	const std::string who = "plugin '" + shared.name + "': ";
	MigrationPlan plan(shared.name, migrations);
	if (!plan.valid())
	{
		error = plan.error();
		return false;
	}
	if (activeTransactions().count(&shared))
	{
		error = who + "migrations cannot run inside a transaction";
		return false;
	}
	if (shared.closed)
	{
		error = who + shared.closedError();
		return false;
	}
	std::string why;
	PostgresPool::Lease lease = shared.pPool->acquire(why);
	if (!lease || !lease->useSchema(shared.schema, why))
	{
		error = who + "cannot read the schema version: " + why;
		return false;
	}
	PostgresConnection& db = *lease;
	const std::string table = shared.schema + "." + MigrationPlan::SCHEMA_TABLE;
	std::string ignored;
	int current = -1;
	// One step per transaction; every transaction first takes the plugin's advisory lock and
	// reads the version under it, so a node that waited sees what the other applied.
	for (;;)
	{
		auto rollback = [&]() {
			if (db.inTransaction())
				db.command("ROLLBACK", ignored);
		};
		if (!db.command("BEGIN", why))
		{
			error = who + "cannot start the migrations: " + why;
			return false;
		}
		QueryResult locked =
		    db.execute("SELECT pg_advisory_xact_lock(hashtext('switchboard.migrations'), hashtext($1))", {shared.name});
		if (!locked.ok || !db.command("CREATE SCHEMA IF NOT EXISTS " + shared.schema, why) ||
		    !db.command("CREATE TABLE IF NOT EXISTS " + table + " (version BIGINT NOT NULL)", why))
		{
			rollback();
			error = who + "cannot prepare the schema: " + (locked.ok ? why : locked.error);
			return false;
		}
		QueryResult stored = db.execute("SELECT count(*), max(version) FROM " + table, {});
		if (!stored.ok || stored.rows.empty())
		{
			rollback();
			error = who + "cannot read the schema version: " + stored.error;
			return false;
		}
		const std::int64_t rows = valueAsInt(stored.rows[0][0]);
		if (rows == 0)
		{
			QueryResult created = db.execute("INSERT INTO " + table + " (version) VALUES (0)", {});
			if (!created.ok)
			{
				rollback();
				error = who + "cannot read the schema version: " + created.error;
				return false;
			}
		}
		else if (rows != 1)
		{
			rollback();
			error = who + "cannot read the schema version: " + std::string(MigrationPlan::SCHEMA_TABLE) +
			        " must hold exactly one row";
			return false;
		}
		current = rows == 0 ? 0 : static_cast<int>(valueAsInt(stored.rows[0][1]));
		std::vector<Migration> steps;
		if (!plan.pending(current, steps, error))
		{
			rollback();
			return false;
		}
		if (steps.empty())
		{
			std::string status;
			if (!db.command("COMMIT", why, &status) || status != "COMMIT")
			{
				rollback();
				error = who + "cannot record the schema table: " + (why.empty() ? status : why);
				return false;
			}
			return true;
		}

		const Migration& m = steps.front();
		const std::string step = "migration " + std::to_string(m.version);
		bool applied = true;
		for (const std::string& statement : PostgresSql::split(m.sql))
		{
			std::string refused = PostgresSql::refusal(statement);
			QueryResult ran;
			if (refused.empty())
				ran = db.execute(statement, {});
			else
				ran.error = refused;
			if (!ran.ok)
			{
				applied = false;
				why = ran.error + " (in: " + PostgresSql::excerpt(statement) + ")";
				break;
			}
		}
		if (applied)
		{
			QueryResult bump = db.execute("UPDATE " + table + " SET version = $1", {std::int64_t(m.version)});
			if (!bump.ok || bump.affectedRows != 1)
			{
				applied = false;
				why = "cannot record the version: " +
				      (bump.ok ? std::string(MigrationPlan::SCHEMA_TABLE) + " must hold exactly one row" : bump.error);
			}
		}
		std::string status;
		if (applied && (!db.command("COMMIT", why, &status) || status != "COMMIT"))
		{
			applied = false;
			if (why.empty() || status == "ROLLBACK")
				why = "the commit was refused";
		}
		if (!applied)
		{
			rollback();
			error = who + step + " failed: " + why + "; the schema stays at version " + std::to_string(current);
			return false;
		}
	}
}


int PostgresPluginStorage::schemaVersion(std::string& error)
{
	Shared& shared = *_pShared;
	const std::string table = shared.schema + "." + MigrationPlan::SCHEMA_TABLE;
	QueryResult exists = execute("SELECT to_regclass(?) IS NOT NULL", {table});
	if (!exists.ok)
	{
		error = exists.error;
		return -1;
	}
	if (exists.rows.empty() || valueAsInt(exists.rows[0][0]) == 0)
		return 0;
	QueryResult version = execute("SELECT count(*), max(version) FROM " + table);
	if (!version.ok)
	{
		error = version.error;
		return -1;
	}
	if (valueAsInt(version.rows[0][0]) != 1)
	{
		error = std::string(MigrationPlan::SCHEMA_TABLE) + " must hold exactly one row";
		return -1;
	}
	return static_cast<int>(valueAsInt(version.rows[0][1]));
}


bool PostgresPluginStorage::flush(std::string& error)
{
	return true;
}


void PostgresPluginStorage::close()
{
	_pShared->closed = true;
}


} // namespace Core
} // namespace Switchboard
