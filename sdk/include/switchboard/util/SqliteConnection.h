//
// util/SqliteConnection.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one implementation of
// how a plugin's SQLite storage runs statements on a sqlite3 handle. The host's SQLite backend
// (handle opened through Poco::Data) and SqliteTestStorage (handle opened with sqlite3_open_v2)
// both use it, so SQL behaves the same in plugin unit tests as in production. Needs SQLite's
// headers and library; SDK.h does not include it.
//


#ifndef Switchboard_Util_SqliteConnection_INCLUDED
#define Switchboard_Util_SqliteConnection_INCLUDED


#include "switchboard/Storage.h"
#include <sqlite3.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>


namespace Switchboard {
namespace Sqlite {


// The 64-bit change counters came with SQLite 3.37; older copies (the one bundled with Poco
// 1.11, which the Windows build uses, is 3.35) have only the int ones.
inline sqlite3_int64 totalChanges(sqlite3* pDB)
{
#if SQLITE_VERSION_NUMBER >= 3037000
	return sqlite3_total_changes64(pDB);
#else
	return sqlite3_total_changes(pDB);
#endif
}

inline sqlite3_int64 changes(sqlite3* pDB)
{
#if SQLITE_VERSION_NUMBER >= 3037000
	return sqlite3_changes64(pDB);
#else
	return sqlite3_changes(pDB);
#endif
}


class Connection
/// Typed execution and transaction levels on a sqlite3 handle someone else opened. Cells keep
/// their SQLite storage class (NULL, INTEGER, REAL, TEXT, BLOB) whatever the declared column type.
///
/// attach() sets the connection to WAL journaling, synchronous=NORMAL, foreign_keys=ON and
/// busy_timeout=5000; ATTACH is refused (a plugin must not reach another plugin's file), and so
/// are transaction-control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) except when
/// issued by begin()/commit()/rollback(), which map nested levels onto savepoints.
///
/// Who owns the handle is the caller's business: attach() takes a release function, called once
/// when the connection lets go of the handle (close, a failed attach, destruction), which closes
/// it however it was opened.
///
/// Threading: every method locks mutex(), a recursive mutex. Hold it yourself across begin() ...
/// commit()/rollback() so that other threads cannot interleave statements with a transaction.
/// No method throws.
{
public:
	using Release = std::function<void(sqlite3* pHandle)>;

	explicit Connection(std::string closedError):
	    _closedError(std::move(closedError))
	/// closedError is what every call reports while no handle is attached.
	{
	}

	~Connection() { closeNow(); }

	Connection(const Connection&) = delete;
	Connection& operator=(const Connection&) = delete;

	using FileFailureObserver = std::function<void(const std::string& message)>;

	void observeFileFailures(FileFailureObserver observer)
	/// observer is called, on the calling thread with mutex() held, whenever a statement or a
	/// commit fails because of the file rather than the SQL: disk full, read-only file, I/O error,
	/// corruption. The caller still gets the failure; this is the operator's side of it (a log line).
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_fileFailureObserver = std::move(observer);
	}

	bool attach(sqlite3* pHandle, Release release, std::string& error)
	/// Takes pHandle into use and applies the connection settings. On failure (WAL cannot be
	/// enabled, the file is not a database) the handle is released at once and error says why.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_pDB)
		{
			error = "a connection is already attached";
			return false;
		}
		_pDB = pHandle;
		_release = std::move(release);
		sqlite3_limit(_pDB, SQLITE_LIMIT_ATTACHED, 0);
		sqlite3_set_authorizer(_pDB, &Connection::authorize, this);

		std::string why;
		QueryResult mode = execute("PRAGMA journal_mode=WAL", {});
		if (!mode.ok)
			why = mode.error;
		else if (mode.rows.empty() || mode.rows[0].empty() || valueAsString(mode.rows[0][0]) != "wal")
			why = "cannot switch to WAL journaling";
		else
			executeScript("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", why);
		if (why.empty())
			return true;
		error = why;
		releaseHandle();
		return false;
	}

	bool isOpen() const
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return _pDB != nullptr;
	}

	void setClosedError(std::string closedError)
	/// Changes what calls report while no handle is attached (e.g. why opening failed).
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_closedError = std::move(closedError);
	}

	std::recursive_mutex& mutex() const { return _mutex; }
	/// The lock that serialises all use of the connection.

	QueryResult execute(std::string_view sql, const std::vector<Value>& params)
	/// Runs exactly one statement with positional parameters ('?', '?NNN' or named, bound in index
	/// order). affectedRows is the number of rows the statement itself inserted, updated or
	/// deleted (0 for anything else).
	{
		QueryResult result;
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		try
		{
			if (!usable(result.error) || !checkText(sql, result.error))
				return result;

			const char* pEnd = sql.data() + sql.size();
			sqlite3_stmt* pRaw = nullptr;
			const char* pTail = nullptr;
			int rc = prepare(sql.data(), pEnd, &pRaw, &pTail);
			StatementHandle stmt(pRaw);
			if (rc != SQLITE_OK)
			{
				result.error = prepareError();
				return result;
			}
			if (!pRaw)
			{
				result.error = "empty SQL statement";
				return result;
			}
			if (!singleStatement(pTail, pEnd, result.error))
				return result;

			const int expected = sqlite3_bind_parameter_count(pRaw);
			if (static_cast<std::size_t>(expected) != params.size())
			{
				result.error = "the statement has " + std::to_string(expected) + " parameter(s) but " +
				               std::to_string(params.size()) + " value(s) were given";
				return result;
			}
			for (std::size_t i = 0; i < params.size(); ++i)
			{
				if (bindValue(pRaw, static_cast<int>(i + 1), params[i]) != SQLITE_OK)
				{
					result.error = "cannot bind parameter " + std::to_string(i + 1) + ": " + sqlite3_errmsg(_pDB);
					return result;
				}
			}

			const int columns = sqlite3_column_count(pRaw);
			result.columns.reserve(static_cast<std::size_t>(columns));
			for (int c = 0; c < columns; ++c)
			{
				const char* pName = sqlite3_column_name(pRaw, c);
				result.columns.emplace_back(pName ? pName : "");
			}

			const sqlite3_int64 totalBefore = totalChanges(_pDB);
			while ((rc = sqlite3_step(pRaw)) == SQLITE_ROW)
			{
				std::vector<Value> row;
				row.reserve(static_cast<std::size_t>(columns));
				for (int c = 0; c < columns; ++c)
					row.push_back(columnValue(pRaw, c));
				result.rows.push_back(std::move(row));
			}
			if (rc != SQLITE_DONE)
			{
				result.error = sqlite3_errmsg(_pDB);
				noteFileFailure(result.error);
				result.rows.clear();
				return result;
			}
			// sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE; only a statement
			// that changed something (the total moved) may report it as its own.
			if (totalChanges(_pDB) != totalBefore)
				result.affectedRows = static_cast<std::int64_t>(changes(_pDB));
			result.ok = true;
		}
		catch (const std::exception& e)
		{
			QueryResult failed;
			failed.error = std::string("storage error: ") + e.what();
			return failed;
		}
		return result;
	}

	bool executeScript(std::string_view sql, std::string& error)
	/// Runs every statement of sql in order, without parameters, discarding result rows; stops at
	/// the first failure. Statements split exactly as SQLite parses them, so ';' inside quotes,
	/// comments and trigger bodies is safe.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (!usable(error) || !checkText(sql, error))
			return false;
		const char* p = sql.data();
		const char* pEnd = sql.data() + sql.size();
		while (p < pEnd)
		{
			sqlite3_stmt* pRaw = nullptr;
			const char* pTail = nullptr;
			int rc = prepare(p, pEnd, &pRaw, &pTail);
			StatementHandle stmt(pRaw);
			if (rc != SQLITE_OK)
			{
				error = prepareError() + " (in: " + excerpt(p, pEnd) + ")";
				return false;
			}
			if (!pRaw)
				break; // only whitespace, comments or ';' remain
			while ((rc = sqlite3_step(pRaw)) == SQLITE_ROW)
			{
			}
			if (rc != SQLITE_DONE)
			{
				error = std::string(sqlite3_errmsg(_pDB)) + " (in: " + excerpt(p, pTail) + ")";
				return false;
			}
			if (!pTail || pTail <= p)
				break;
			p = pTail;
		}
		return true;
	}

	bool begin(std::string& error)
	/// Opens a transaction level: BEGIN IMMEDIATE at depth 0, a SAVEPOINT inside a transaction.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (!usable(error))
			return false;
		if (!control(_depth == 0 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT " + savepointName(_depth), error))
			return false;
		++_depth;
		return true;
	}

	bool commit(std::string& error)
	/// Closes the innermost level keeping its work (COMMIT or RELEASE). On failure the level is
	/// rolled back, closed and false returned.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_depth == 0)
		{
			error = "no transaction is open";
			return false;
		}
		if (!_pDB || sqlite3_get_autocommit(_pDB))
		{
			error = ROLLED_BACK;
			endLevel();
			return false;
		}
		if (!control(_depth == 1 ? std::string("COMMIT") : "RELEASE " + savepointName(_depth - 1), error))
		{
			rollback();
			return false;
		}
		endLevel();
		return true;
	}

	void rollback()
	/// Closes the innermost level discarding its work.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_depth == 0)
			return;
		if (_pDB && !sqlite3_get_autocommit(_pDB))
		{
			std::string ignored;
			if (_depth == 1)
				control("ROLLBACK", ignored);
			else
			{
				// ROLLBACK TO keeps the savepoint open; RELEASE then removes it.
				control("ROLLBACK TO " + savepointName(_depth - 1), ignored);
				control("RELEASE " + savepointName(_depth - 1), ignored);
			}
		}
		endLevel();
	}

	int transactionDepth() const
	/// The number of open levels (0: autocommit).
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		return _depth;
	}

	bool checkpoint(std::string& error)
	/// Copies the WAL into the database file and truncates it (PRAGMA wal_checkpoint(TRUNCATE)).
	/// Fails when a transaction is open or a checkpoint could not complete.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_depth > 0)
		{
			error = "cannot checkpoint inside a transaction";
			return false;
		}
		QueryResult result = execute("PRAGMA wal_checkpoint(TRUNCATE)", {});
		if (!result.ok)
		{
			error = result.error;
			return false;
		}
		// The row is (busy, log frames, checkpointed frames); busy means a reader kept it from finishing.
		if (!result.rows.empty() && !result.rows[0].empty() && valueAsInt(result.rows[0][0]) != 0)
		{
			error = "the WAL checkpoint could not complete (database busy)";
			return false;
		}
		return true;
	}

	void close()
	/// Checkpoints and releases the handle. Inside an open transaction the close is deferred until
	/// its outermost level ends. Idempotent.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_depth > 0)
			_closePending = true;
		else
			closeAndRelease();
	}

	void closeNow()
	/// Like close() but at once, also inside a transaction (releasing the handle rolls it back):
	/// for an owner going away, when nothing can still be using the connection.
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_depth = 0;
		closeAndRelease();
	}

private:
	static constexpr const char* CONTROL_DENIED =
	    "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not allowed here: use "
	    "Storage::transaction(); migrations already run in a transaction each";
	static constexpr const char* ATTACH_DENIED =
	    "ATTACH and DETACH are not allowed: a plugin's storage is its own database only";
	static constexpr const char* ROLLED_BACK = "SQLite rolled the transaction back after an earlier error";

	class StatementHandle
	/// Finalizes a prepared statement on every exit path.
	{
	public:
		explicit StatementHandle(sqlite3_stmt* pStmt):
		    _pStmt(pStmt)
		{
		}

		~StatementHandle() { sqlite3_finalize(_pStmt); }

		StatementHandle(const StatementHandle&) = delete;
		StatementHandle& operator=(const StatementHandle&) = delete;

	private:
		sqlite3_stmt* _pStmt;
	};

	static int bindValue(sqlite3_stmt* pStmt, int index, const Value& value)
	/// Binds with the storage class matching the variant alternative. The statement is finished
	/// before the values go away, so SQLite need not copy them (SQLITE_STATIC).
	{
		return std::visit(
		    [pStmt, index](const auto& v) -> int {
			    using T = std::decay_t<decltype(v)>;
			    if constexpr (std::is_same_v<T, std::nullptr_t>)
				    return sqlite3_bind_null(pStmt, index);
			    else if constexpr (std::is_same_v<T, std::int64_t>)
				    return sqlite3_bind_int64(pStmt, index, static_cast<sqlite3_int64>(v));
			    else if constexpr (std::is_same_v<T, double>)
				    return sqlite3_bind_double(pStmt, index, v);
			    else if constexpr (std::is_same_v<T, std::string>)
				    return sqlite3_bind_text64(pStmt, index, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
			    else if (v.empty()) // a null data pointer would bind NULL; an empty blob stays a blob
				    return sqlite3_bind_zeroblob(pStmt, index, 0);
			    else
				    return sqlite3_bind_blob64(pStmt, index, v.data(), v.size(), SQLITE_STATIC);
		    },
		    value);
	}

	static Value columnValue(sqlite3_stmt* pStmt, int column)
	/// The cell with its own storage class, whatever the column's declared type.
	{
		switch (sqlite3_column_type(pStmt, column))
		{
			case SQLITE_INTEGER:
				return static_cast<std::int64_t>(sqlite3_column_int64(pStmt, column));
			case SQLITE_FLOAT:
				return sqlite3_column_double(pStmt, column);
			case SQLITE_TEXT:
			{
				const auto* pText = reinterpret_cast<const char*>(sqlite3_column_text(pStmt, column));
				const int length = sqlite3_column_bytes(pStmt, column);
				if (!pText || length <= 0)
					return std::string();
				return std::string(pText, static_cast<std::size_t>(length));
			}
			case SQLITE_BLOB:
			{
				const auto* pData = static_cast<const std::uint8_t*>(sqlite3_column_blob(pStmt, column));
				const int length = sqlite3_column_bytes(pStmt, column);
				if (!pData || length <= 0)
					return Blob();
				return Blob(pData, pData + length);
			}
			default:
				return nullptr;
		}
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
			// SQLite stops parsing at a NUL byte and would silently ignore the rest.
			error = "SQL text contains a NUL byte (pass binary data as a bound parameter)";
			return false;
		}
		return true;
	}

	static std::string excerpt(const char* pBegin, const char* pEnd)
	/// The start of a statement for error messages, whitespace collapsed.
	{
		std::string text;
		bool space = false;
		for (const char* p = pBegin; p < pEnd; ++p)
		{
			const char c = *p;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			{
				space = !text.empty();
				continue;
			}
			if (text.size() >= 80)
				return text + "...";
			if (space)
				text += ' ';
			space = false;
			text += c;
		}
		return text;
	}

	static std::string savepointName(int depth) { return "switchboard_sp_" + std::to_string(depth); }

	static int authorize(void* pSelf, int action, const char*, const char*, const char*, const char*)
	{
		auto* pConnection = static_cast<Connection*>(pSelf);
		switch (action)
		{
			case SQLITE_ATTACH:
			case SQLITE_DETACH:
				pConnection->_pDenial = ATTACH_DENIED;
				return SQLITE_DENY;
			case SQLITE_TRANSACTION:
			case SQLITE_SAVEPOINT:
				if (pConnection->_allowControl)
					return SQLITE_OK;
				pConnection->_pDenial = CONTROL_DENIED;
				return SQLITE_DENY;
			default:
				return SQLITE_OK;
		}
	}

	bool usable(std::string& error) const
	{
		if (!_pDB)
		{
			error = _closedError;
			return false;
		}
		// After some errors (disk full, I/O) SQLite ends the transaction itself; statements that
		// followed would then commit one by one, so refuse them until the transaction is closed.
		if (_depth > 0 && sqlite3_get_autocommit(_pDB))
		{
			error = ROLLED_BACK;
			return false;
		}
		return true;
	}

	int prepare(const char* pBegin, const char* pEnd, sqlite3_stmt** ppStmt, const char** ppTail)
	{
		// The authorizer says why it denied a statement here; forget an earlier statement's reason.
		_pDenial = nullptr;
		return sqlite3_prepare_v2(_pDB, pBegin, static_cast<int>(pEnd - pBegin), ppStmt, ppTail);
	}

	std::string prepareError() const
	{
		if (_pDenial)
			return _pDenial;
		return sqlite3_errmsg(_pDB);
	}

	bool singleStatement(const char* pRest, const char* pEnd, std::string& error)
	{
		// Prepare (never run) what follows the first statement: only whitespace, comments and ';'
		// may. Refusing stacked statements also takes the classic "; DROP TABLE" out of reach.
		while (pRest && pRest < pEnd)
		{
			sqlite3_stmt* pRaw = nullptr;
			const char* pNext = nullptr;
			const int rc = prepare(pRest, pEnd, &pRaw, &pNext);
			StatementHandle extra(pRaw);
			if (rc != SQLITE_OK || pRaw)
			{
				error = "execute() runs exactly one statement; found more after it: " + excerpt(pRest, pEnd);
				return false;
			}
			if (!pNext || pNext <= pRest)
				break;
			pRest = pNext;
		}
		return true;
	}

	bool control(const std::string& sql, std::string& error)
	{
		_allowControl = true;
		char* pMessage = nullptr;
		const int rc = sqlite3_exec(_pDB, sql.c_str(), nullptr, nullptr, &pMessage);
		_allowControl = false;
		if (rc == SQLITE_OK)
			return true;
		error = pMessage ? pMessage : sqlite3_errstr(rc);
		sqlite3_free(pMessage);
		noteFileFailure(error);
		return false;
	}

	void noteFileFailure(const std::string& message)
	{
		switch (sqlite3_extended_errcode(_pDB) & 0xFF)
		{
			case SQLITE_FULL:
			case SQLITE_IOERR:
			case SQLITE_READONLY:
			case SQLITE_CORRUPT:
			case SQLITE_NOTADB:
			case SQLITE_CANTOPEN:
			case SQLITE_PERM:
				if (_fileFailureObserver)
					_fileFailureObserver(message);
				break;
			default:
				break; // the SQL's own failure (constraint, syntax, busy): the caller's business
		}
	}

	void closeAndRelease()
	{
		_closePending = false;
		if (!_pDB)
			return;
		std::string ignored;
		checkpoint(ignored);
		releaseHandle();
	}

	void releaseHandle()
	{
		sqlite3* pHandle = _pDB;
		_pDB = nullptr;
		sqlite3_set_authorizer(pHandle, nullptr, nullptr);
		Release release = std::move(_release);
		_release = nullptr;
		if (!release)
			return;
		try
		{
			release(pHandle);
		}
		catch (...)
		{
			// Nothing useful to do at shutdown; SQLite recovers from the WAL on the next open.
		}
	}

	void endLevel()
	{
		--_depth;
		if (_depth == 0 && _closePending)
			closeAndRelease();
	}

	std::string _closedError;
	mutable std::recursive_mutex _mutex;
	sqlite3* _pDB = nullptr;
	Release _release;
	int _depth = 0;
	bool _allowControl = false;
	FileFailureObserver _fileFailureObserver;
	const char* _pDenial = nullptr;
	bool _closePending = false;
};


} // namespace Sqlite
} // namespace Switchboard


#endif // Switchboard_Util_SqliteConnection_INCLUDED
