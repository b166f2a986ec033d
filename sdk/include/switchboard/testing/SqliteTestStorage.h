//
// testing/SqliteTestStorage.h
//
// Switchboard SDK testing part (header-only, not part of the plugin ABI): a real SQLite Storage
// for plugin unit tests, on the sqlite3 C API. Link SQLite (Switchboard::Testing does).
//


#ifndef Switchboard_Testing_SqliteTestStorage_INCLUDED
#define Switchboard_Testing_SqliteTestStorage_INCLUDED


#include "switchboard/Storage.h"
#include "switchboard/util/MigrationPlan.h"
#include <sqlite3.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>
#include <unistd.h>


namespace Switchboard {
namespace Testing {


class SqliteTestStorage: public Storage
/// A plugin's storage as the host's SQLite backend provides it, in a real database file, so a
/// plugin's SQL runs in unit tests exactly as it will in production:
///
///   * execute() runs exactly one statement (trailing ';', spaces and comments allowed) with
///     '?' parameters bound in order; the parameter count must match; cells keep their SQLite
///     storage class; affectedRows counts the rows the statement itself changed.
///   * Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) and ATTACH/DETACH are
///     refused in SQL: use transaction(), which begins with BEGIN IMMEDIATE, nests through
///     savepoints, commits when body returns true and no statement through tx failed, and rolls
///     back otherwise (also when body throws). tx.executeAsync runs at once inside the
///     transaction.
///   * The connection uses WAL journaling, synchronous=NORMAL, foreign_keys=ON and
///     busy_timeout=5000, as the host sets it.
///   * applyMigrations() follows the host's rules (MigrationPlan: versions from 1, no duplicates,
///     a database newer than the plugin refused; each step and its version bump in one
///     transaction; the version in MigrationPlan::SCHEMA_TABLE), and SQLite itself splits a
///     step into statements, so a database migrated here is one the host accepts.
///
/// What differs: executeAsync() runs the statement on the calling thread and calls done before
/// returning (FakeHost is single-threaded); setAsyncFailure() makes those results fail, to test
/// a plugin's retry path. Every method is thread-safe (one recursive mutex). Nothing throws.
{
public:
	SqliteTestStorage():
	    SqliteTestStorage(makeTempFile(), true)
	/// A new database in a temporary file, removed (with its -wal and -shm files) on destruction.
	{
	}

	explicit SqliteTestStorage(std::string path):
	    SqliteTestStorage(std::move(path), false)
	/// Opens or creates the database at path, which is kept. Open the same path again to test what
	/// survives a restart.
	{
	}

	~SqliteTestStorage() override
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_db != nullptr)
		{
			sqlite3_set_authorizer(_db, nullptr, nullptr);
			sqlite3_close_v2(_db);
			_db = nullptr;
		}
		if (_removeOnClose && !_path.empty())
		{
			for (const char* suffix : {"", "-wal", "-shm", "-journal"})
				std::remove((_path + suffix).c_str());
		}
	}

	SqliteTestStorage(const SqliteTestStorage&) = delete;
	SqliteTestStorage& operator=(const SqliteTestStorage&) = delete;

	bool isOpen() const
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return _db != nullptr;
	}

	const std::string& openError() const { return _openError; }
	/// Why the database could not be opened ("" when it is open); every call then fails with it.

	const std::string& path() const { return _path; }

	// --- Storage -------------------------------------------------------------------------------

	QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return run(sql, params);
	}

	bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) override
	{
		return runTransaction(body, error);
	}

	void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) override
	{
		QueryResult result;
		{
			std::lock_guard<std::recursive_mutex> lock(_mutex);
			++_asyncCalls;
			if (!_asyncFailure.empty())
				result.error = _asyncFailure;
			else
				result = run(sql, params);
		}
		if (done)
			done(std::move(result));
	}

	// --- migrations ----------------------------------------------------------------------------

	bool applyMigrations(const std::string& pluginName, const std::vector<Migration>& migrations, std::string& error)
	/// Brings the schema up to the latest migration, as the host does before start().
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		const std::string who = "plugin '" + pluginName + "': ";
		MigrationPlan plan(pluginName, migrations);
		if (!plan.valid())
		{
			error = plan.error();
			return false;
		}
		if (_depth > 0)
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
			if (!begin(why))
			{
				error = who + "cannot start " + step + ": " + why;
				return false;
			}
			bool applied = runScript(m.sql, why);
			if (applied)
			{
				QueryResult bump = run(std::string("UPDATE ") + MigrationPlan::SCHEMA_TABLE + " SET version = ?",
				                       {static_cast<std::int64_t>(m.version)});
				if (!bump.ok)
					why = "cannot record the version: " + bump.error;
				else if (bump.affectedRows != 1)
					why = std::string("cannot record the version: ") + MigrationPlan::SCHEMA_TABLE +
					      " must hold exactly one row";
				applied = bump.ok && bump.affectedRows == 1;
			}
			if (applied)
				applied = commit(why);
			else
				rollback();
			if (!applied)
			{
				error = who + step + " failed: " + why + "; the schema stays at version " + std::to_string(current);
				return false;
			}
			current = m.version;
		}
		return true;
	}

	int schemaVersion(std::string& error)
	/// The stored schema version (0 before any migration), or -1 with error set.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return readVersion(false, error);
	}

	// --- fault injection -----------------------------------------------------------------------

	void setAsyncFailure(std::string error)
	/// From now on executeAsync() runs nothing and reports a failed result with this error ("":
	/// run statements again).
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_asyncFailure = std::move(error);
	}

	std::size_t asyncCalls() const
	/// How many executeAsync() calls were made on this storage (not on a transaction's tx).
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return _asyncCalls;
	}

private:
	static constexpr const char* CONTROL_DENIED =
	    "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not allowed here: use "
	    "Storage::transaction(); migrations already run in a transaction each";
	static constexpr const char* ATTACH_DENIED =
	    "ATTACH and DETACH are not allowed: a plugin's storage is its own database only";
	static constexpr const char* ROLLED_BACK = "SQLite rolled the transaction back after an earlier error";

	class Statement
	/// Finalizes a prepared statement on every path.
	{
	public:
		explicit Statement(sqlite3_stmt* statement):
		    _statement(statement)
		{
		}
		~Statement() { sqlite3_finalize(_statement); }
		Statement(const Statement&) = delete;
		Statement& operator=(const Statement&) = delete;
		sqlite3_stmt* get() const { return _statement; }

	private:
		sqlite3_stmt* _statement;
	};

	class TransactionStorage: public Storage
	/// The tx a transaction body gets: the same connection, with the first failure remembered so
	/// the transaction cannot commit.
	{
	public:
		explicit TransactionStorage(SqliteTestStorage& owner):
		    _owner(owner)
		{
		}

		QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
		{
			QueryResult result = _owner.run(sql, params);
			if (!result.ok && _firstError.empty())
				_firstError = result.error.empty() ? std::string("statement failed") : result.error;
			return result;
		}

		bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) override
		{
			return _owner.runTransaction(body, error);
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
		SqliteTestStorage& _owner;
		std::string _firstError;
	};

	SqliteTestStorage(std::string path, bool removeOnClose):
	    _path(std::move(path)),
	    _removeOnClose(removeOnClose)
	{
		if (_path.empty())
		{
			_openError = "cannot create a temporary database file";
			return;
		}
		if (sqlite3_open_v2(_path.c_str(), &_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
		                    nullptr) != SQLITE_OK)
		{
			_openError = "cannot open database '" + _path + "': " + (_db ? sqlite3_errmsg(_db) : "out of memory");
			sqlite3_close_v2(_db);
			_db = nullptr;
			return;
		}
		sqlite3_limit(_db, SQLITE_LIMIT_ATTACHED, 0);
		sqlite3_set_authorizer(_db, &SqliteTestStorage::authorize, this);
		QueryResult mode = run("PRAGMA journal_mode=WAL", {});
		std::string why;
		if (!mode.ok)
			why = mode.error;
		else if (mode.rows.empty() || mode.rows[0].empty() || valueAsString(mode.rows[0][0]) != "wal")
			why = "cannot switch to WAL journaling";
		else
			runScript("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", why);
		if (!why.empty())
		{
			_openError = "cannot open database '" + _path + "': " + why;
			sqlite3_set_authorizer(_db, nullptr, nullptr);
			sqlite3_close_v2(_db);
			_db = nullptr;
		}
	}

	static std::string makeTempFile()
	{
		const char* directory = std::getenv("TMPDIR");
		std::string pattern = std::string(directory != nullptr && *directory != '\0' ? directory : "/tmp") +
		                      "/switchboard-test-XXXXXX.sqlite";
		std::vector<char> buffer(pattern.begin(), pattern.end());
		buffer.push_back('\0');
		int fd = mkstemps(buffer.data(), 7); // keeps the ".sqlite" suffix
		if (fd < 0)
			return std::string();
		close(fd); // SQLite opens the empty file as a new database
		return std::string(buffer.data());
	}

	static int authorize(void* self, int action, const char*, const char*, const char*, const char*)
	{
		auto* storage = static_cast<SqliteTestStorage*>(self);
		switch (action)
		{
			case SQLITE_ATTACH:
			case SQLITE_DETACH:
				storage->_denial = ATTACH_DENIED;
				return SQLITE_DENY;
			case SQLITE_TRANSACTION:
			case SQLITE_SAVEPOINT:
				if (storage->_allowControl)
					return SQLITE_OK;
				storage->_denial = CONTROL_DENIED;
				return SQLITE_DENY;
			default:
				return SQLITE_OK;
		}
	}

	bool usable(std::string& error) const
	{
		if (_db == nullptr)
		{
			error = _openError.empty() ? std::string("the storage is closed") : _openError;
			return false;
		}
		// After some errors SQLite ends the transaction itself; later statements would then commit
		// one by one, so refuse them until the transaction is closed (as the host does).
		if (_depth > 0 && sqlite3_get_autocommit(_db))
		{
			error = ROLLED_BACK;
			return false;
		}
		return true;
	}

	static bool checkText(std::string_view sql, std::string& error)
	{
		if (sql.size() > static_cast<std::size_t>(INT_MAX))
		{
			error = "SQL text is too long";
			return false;
		}
		if (sql.find('\0') != std::string_view::npos)
		{
			error = "SQL text contains a NUL byte (pass binary data as a bound parameter)";
			return false;
		}
		return true;
	}

	static std::string excerpt(const char* begin, const char* end)
	/// The start of a statement for messages, whitespace collapsed.
	{
		std::string text;
		bool space = false;
		for (const char* p = begin; p < end; ++p)
		{
			if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			{
				space = !text.empty();
				continue;
			}
			if (text.size() >= 80)
				return text + "...";
			if (space)
				text += ' ';
			space = false;
			text += *p;
		}
		return text;
	}

	std::string prepareError() const { return _denial != nullptr ? _denial : sqlite3_errmsg(_db); }

	int prepare(const char* begin, const char* end, sqlite3_stmt** statement, const char** tail)
	{
		_denial = nullptr;
		return sqlite3_prepare_v2(_db, begin, static_cast<int>(end - begin), statement, tail);
	}

	static int bind(sqlite3_stmt* statement, int index, const Value& value)
	{
		return std::visit(
		    [statement, index](const auto& v) -> int {
			    using T = std::decay_t<decltype(v)>;
			    if constexpr (std::is_same_v<T, std::nullptr_t>)
				    return sqlite3_bind_null(statement, index);
			    else if constexpr (std::is_same_v<T, std::int64_t>)
				    return sqlite3_bind_int64(statement, index, static_cast<sqlite3_int64>(v));
			    else if constexpr (std::is_same_v<T, double>)
				    return sqlite3_bind_double(statement, index, v);
			    else if constexpr (std::is_same_v<T, std::string>)
				    return sqlite3_bind_text64(statement, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
			    else if (v.empty()) // an empty blob stays a blob, not NULL
				    return sqlite3_bind_zeroblob(statement, index, 0);
			    else
				    return sqlite3_bind_blob64(statement, index, v.data(), v.size(), SQLITE_TRANSIENT);
		    },
		    value);
	}

	static Value cell(sqlite3_stmt* statement, int column)
	{
		switch (sqlite3_column_type(statement, column))
		{
			case SQLITE_INTEGER:
				return static_cast<std::int64_t>(sqlite3_column_int64(statement, column));
			case SQLITE_FLOAT:
				return sqlite3_column_double(statement, column);
			case SQLITE_TEXT:
			{
				const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
				const int length = sqlite3_column_bytes(statement, column);
				return text != nullptr && length > 0 ? std::string(text, static_cast<std::size_t>(length))
				                                     : std::string();
			}
			case SQLITE_BLOB:
			{
				const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, column));
				const int length = sqlite3_column_bytes(statement, column);
				return data != nullptr && length > 0 ? Blob(data, data + length) : Blob();
			}
			default:
				return nullptr;
		}
	}

	QueryResult run(std::string_view sql, const std::vector<Value>& params)
	/// One statement, as the host's SqliteDatabase::execute runs it. The caller holds the lock.
	{
		QueryResult result;
		if (!usable(result.error) || !checkText(sql, result.error))
			return result;
		const char* end = sql.data() + sql.size();
		sqlite3_stmt* raw = nullptr;
		const char* tail = nullptr;
		int rc = prepare(sql.data(), end, &raw, &tail);
		Statement statement(raw);
		if (rc != SQLITE_OK)
		{
			result.error = prepareError();
			return result;
		}
		if (raw == nullptr)
		{
			result.error = "empty SQL statement";
			return result;
		}
		// Only spaces, comments and ';' may follow: stacked statements are refused.
		for (const char* rest = tail; rest != nullptr && rest < end;)
		{
			sqlite3_stmt* extra = nullptr;
			const char* next = nullptr;
			int extraRc = prepare(rest, end, &extra, &next);
			Statement extraStatement(extra);
			if (extraRc != SQLITE_OK || extra != nullptr)
			{
				result.error = "execute() runs exactly one statement; found more after it: " + excerpt(rest, end);
				return result;
			}
			if (next == nullptr || next <= rest)
				break;
			rest = next;
		}
		const int expected = sqlite3_bind_parameter_count(raw);
		if (static_cast<std::size_t>(expected) != params.size())
		{
			result.error = "the statement has " + std::to_string(expected) + " parameter(s) but " +
			               std::to_string(params.size()) + " value(s) were given";
			return result;
		}
		for (std::size_t i = 0; i < params.size(); ++i)
		{
			if (bind(raw, static_cast<int>(i + 1), params[i]) != SQLITE_OK)
			{
				result.error = "cannot bind parameter " + std::to_string(i + 1) + ": " + sqlite3_errmsg(_db);
				return result;
			}
		}
		const int columns = sqlite3_column_count(raw);
		for (int c = 0; c < columns; ++c)
		{
			const char* name = sqlite3_column_name(raw, c);
			result.columns.emplace_back(name != nullptr ? name : "");
		}
		const sqlite3_int64 changesBefore = sqlite3_total_changes64(_db);
		while ((rc = sqlite3_step(raw)) == SQLITE_ROW)
		{
			std::vector<Value> row;
			row.reserve(static_cast<std::size_t>(columns));
			for (int c = 0; c < columns; ++c)
				row.push_back(cell(raw, c));
			result.rows.push_back(std::move(row));
		}
		if (rc != SQLITE_DONE)
		{
			result.error = sqlite3_errmsg(_db);
			result.rows.clear();
			return result;
		}
		// sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE: only a statement
		// that changed something may report it as its own.
		if (sqlite3_total_changes64(_db) != changesBefore)
			result.affectedRows = static_cast<std::int64_t>(sqlite3_changes64(_db));
		result.ok = true;
		return result;
	}

	bool runScript(std::string_view sql, std::string& error)
	/// Every statement of sql, split by SQLite itself, without parameters. The caller holds the lock.
	{
		if (!usable(error) || !checkText(sql, error))
			return false;
		const char* p = sql.data();
		const char* end = sql.data() + sql.size();
		while (p < end)
		{
			sqlite3_stmt* raw = nullptr;
			const char* tail = nullptr;
			int rc = prepare(p, end, &raw, &tail);
			Statement statement(raw);
			if (rc != SQLITE_OK)
			{
				error = prepareError() + " (in: " + excerpt(p, end) + ")";
				return false;
			}
			if (raw == nullptr)
				break; // only spaces, comments or ';' remain
			while ((rc = sqlite3_step(raw)) == SQLITE_ROW)
			{
			}
			if (rc != SQLITE_DONE)
			{
				error = std::string(sqlite3_errmsg(_db)) + " (in: " + excerpt(p, tail) + ")";
				return false;
			}
			if (tail == nullptr || tail <= p)
				break;
			p = tail;
		}
		return true;
	}

	bool control(const std::string& sql, std::string& error)
	{
		_allowControl = true;
		char* message = nullptr;
		const int rc = sqlite3_exec(_db, sql.c_str(), nullptr, nullptr, &message);
		_allowControl = false;
		if (rc == SQLITE_OK)
			return true;
		error = message != nullptr ? message : sqlite3_errstr(rc);
		sqlite3_free(message);
		return false;
	}

	static std::string savepoint(int depth) { return "switchboard_sp_" + std::to_string(depth); }

	bool begin(std::string& error)
	{
		if (!usable(error))
			return false;
		if (!control(_depth == 0 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT " + savepoint(_depth), error))
			return false;
		++_depth;
		return true;
	}

	bool commit(std::string& error)
	{
		if (sqlite3_get_autocommit(_db))
		{
			error = ROLLED_BACK;
			--_depth;
			return false;
		}
		if (!control(_depth == 1 ? std::string("COMMIT") : "RELEASE " + savepoint(_depth - 1), error))
		{
			rollback();
			return false;
		}
		--_depth;
		return true;
	}

	void rollback()
	{
		if (!sqlite3_get_autocommit(_db))
		{
			std::string ignored;
			if (_depth == 1)
				control("ROLLBACK", ignored);
			else
			{
				// ROLLBACK TO keeps the savepoint open; RELEASE then removes it.
				control("ROLLBACK TO " + savepoint(_depth - 1), ignored);
				control("RELEASE " + savepoint(_depth - 1), ignored);
			}
		}
		--_depth;
	}

	bool runTransaction(const std::function<bool(Storage& tx)>& body, std::string* error)
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		std::string why;
		if (!body)
			why = "empty transaction body";
		else if (!begin(why))
			why = "cannot begin the transaction: " + why;
		if (!why.empty())
		{
			if (error != nullptr)
				*error = why;
			return false;
		}
		TransactionStorage tx(*this);
		bool keep = false;
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
		if (keep && !tx.firstError().empty())
		{
			keep = false;
			why = "a statement failed inside the transaction: " + tx.firstError();
		}
		else if (!keep && why.empty())
			why = "the transaction body returned false";
		if (keep)
		{
			if (commit(why))
			{
				if (error != nullptr)
					error->clear();
				return true;
			}
			why = "commit failed: " + why;
		}
		else
			rollback();
		if (error != nullptr)
			*error = why + " (rolled back)";
		return false;
	}

	int readVersion(bool create, std::string& error)
	/// The stored version; with create, makes the table and its row (version 0) first.
	{
		const std::string table = MigrationPlan::SCHEMA_TABLE;
		if (!create)
		{
			QueryResult exists = run("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", {table});
			if (!exists.ok)
			{
				error = exists.error;
				return -1;
			}
			if (exists.rows.empty() || valueAsInt(exists.rows[0][0]) == 0)
				return 0;
		}
		std::string why;
		int version = -1;
		bool committed = runTransaction(
		    [&](Storage& tx) {
			    if (create && !tx.execute("CREATE TABLE IF NOT EXISTS " + table + "(version INTEGER NOT NULL)").ok)
				    return false;
			    QueryResult rows = tx.execute("SELECT count(*), max(version) FROM " + table);
			    if (!rows.ok)
				    return false;
			    const std::int64_t count = valueAsInt(rows.rows[0][0]);
			    if (count == 0 && create)
			    {
				    version = 0;
				    return tx.execute("INSERT INTO " + table + "(version) VALUES (0)").ok;
			    }
			    if (count != 1)
			    {
				    why = table + " must hold exactly one row";
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

	std::string _path;
	bool _removeOnClose = false;
	std::string _openError;
	mutable std::recursive_mutex _mutex;
	sqlite3* _db = nullptr;
	int _depth = 0;
	bool _allowControl = false;
	const char* _denial = nullptr;
	std::string _asyncFailure;
	std::size_t _asyncCalls = 0;
};


} // namespace Testing
} // namespace Switchboard


#endif // Switchboard_Testing_SqliteTestStorage_INCLUDED
