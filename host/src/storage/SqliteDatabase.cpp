//
// SqliteDatabase.cpp
//
// One SQLite connection opened through Poco::Data, with typed execution and transaction levels.
//


#include "storage/SqliteDatabase.h"
#include "Poco/Data/SQLite/Connector.h"
#include "Poco/Data/SQLite/Utility.h"
#include "Poco/Exception.h"
#include <sqlite3.h>
#include <climits>
#include <cstring>
#include <exception>
#include <type_traits>


namespace Switchboard {
namespace Core {


namespace {


const char* const CONTROL_DENIED = "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not allowed "
                                   "here: use Storage::transaction(); migrations already run in a transaction each";
const char* const ATTACH_DENIED = "ATTACH and DETACH are not allowed: a plugin's storage is its own database only";
const char* const ROLLED_BACK = "SQLite rolled the transaction back after an earlier error";


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

	sqlite3_stmt* get() const { return _pStmt; }

private:
	sqlite3_stmt* _pStmt;
};


int bindValue(sqlite3_stmt* pStmt, int index, const Value& value)
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
		    else
		    {
			    // A null data pointer would bind NULL; an empty blob must stay an empty blob.
			    if (v.empty())
				    return sqlite3_bind_zeroblob(pStmt, index, 0);
			    return sqlite3_bind_blob64(pStmt, index, v.data(), v.size(), SQLITE_STATIC);
		    }
	    },
	    value);
}


Value columnValue(sqlite3_stmt* pStmt, int column)
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


bool checkText(std::string_view sql, std::string& error)
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


std::string excerpt(const char* pBegin, const char* pEnd)
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


std::string savepointName(int depth)
{
	return "switchboard_sp_" + std::to_string(depth);
}


} // namespace


SqliteDatabase::SqliteDatabase(std::string label, std::string path):
    _label(std::move(label)),
    _path(std::move(path))
{
}


SqliteDatabase::~SqliteDatabase()
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	// Nothing can still be inside a transaction when the last owner lets go; if it were, closing
	// the connection rolls it back.
	_depth = 0;
	closeNow();
}


bool SqliteDatabase::open(std::string& error)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (_pDB)
		return true;
	try
	{
		static std::once_flag registered;
		std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
		_pSession = std::make_unique<Poco::Data::Session>(Poco::Data::SQLite::Connector::KEY, _path);
		_pDB = Poco::Data::SQLite::Utility::dbHandle(*_pSession);
	}
	catch (const Poco::Exception& e)
	{
		error = "cannot open database '" + _path + "': " + e.displayText();
		_pSession.reset();
		_pDB = nullptr;
		return false;
	}
	catch (const std::exception& e)
	{
		error = "cannot open database '" + _path + "': " + e.what();
		_pSession.reset();
		_pDB = nullptr;
		return false;
	}
	if (!_pDB)
	{
		error = "cannot open database '" + _path + "': no connection handle";
		_pSession.reset();
		return false;
	}

	sqlite3_limit(_pDB, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_set_authorizer(_pDB, &SqliteDatabase::authorize, this);

	std::string why;
	QueryResult mode = execute("PRAGMA journal_mode=WAL", {});
	if (!mode.ok)
		why = mode.error;
	else if (mode.rows.empty() || mode.rows[0].empty() || valueAsString(mode.rows[0][0]) != "wal")
		why = "cannot switch to WAL journaling";
	else
		executeScript("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", why);
	if (!why.empty())
	{
		error = "cannot open database '" + _path + "': " + why;
		sqlite3_set_authorizer(_pDB, nullptr, nullptr);
		try
		{
			_pSession->close();
		}
		catch (...)
		{
		}
		_pSession.reset();
		_pDB = nullptr;
		return false;
	}
	return true;
}


bool SqliteDatabase::isOpen() const
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	return _pDB != nullptr;
}


const std::string& SqliteDatabase::path() const
{
	return _path;
}


std::recursive_mutex& SqliteDatabase::mutex()
{
	return _mutex;
}


QueryResult SqliteDatabase::execute(std::string_view sql, const std::vector<Value>& params)
{
	QueryResult result;
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	try
	{
		if (!usable(result.error) || !checkText(sql, result.error))
			return result;

		_pDenial = nullptr;
		sqlite3_stmt* pRaw = nullptr;
		const char* pTail = nullptr;
		const char* pEnd = sql.data() + sql.size();
		int rc = sqlite3_prepare_v2(_pDB, sql.data(), static_cast<int>(sql.size()), &pRaw, &pTail);
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

		const sqlite3_int64 totalBefore = sqlite3_total_changes64(_pDB);
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
			result.rows.clear();
			return result;
		}
		// sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE; only a statement that
		// changed something (the total moved) may report it as its own.
		if (sqlite3_total_changes64(_pDB) != totalBefore)
			result.affectedRows = sqlite3_changes64(_pDB);
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


bool SqliteDatabase::executeScript(std::string_view sql, std::string& error)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (!usable(error) || !checkText(sql, error))
		return false;
	const char* p = sql.data();
	const char* pEnd = sql.data() + sql.size();
	while (p < pEnd)
	{
		_pDenial = nullptr;
		sqlite3_stmt* pRaw = nullptr;
		const char* pTail = nullptr;
		int rc = sqlite3_prepare_v2(_pDB, p, static_cast<int>(pEnd - p), &pRaw, &pTail);
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


bool SqliteDatabase::begin(std::string& error)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (!usable(error))
		return false;
	if (!control(_depth == 0 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT " + savepointName(_depth), error))
		return false;
	++_depth;
	return true;
}


bool SqliteDatabase::commit(std::string& error)
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


void SqliteDatabase::rollback()
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


int SqliteDatabase::transactionDepth() const
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	return _depth;
}


bool SqliteDatabase::checkpoint(std::string& error)
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


void SqliteDatabase::close()
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (_depth > 0)
		_closePending = true;
	else
		closeNow();
}


int SqliteDatabase::authorize(void* pSelf, int action, const char*, const char*, const char*, const char*)
{
	auto* pDatabase = static_cast<SqliteDatabase*>(pSelf);
	switch (action)
	{
		case SQLITE_ATTACH:
		case SQLITE_DETACH:
			pDatabase->_pDenial = ATTACH_DENIED;
			return SQLITE_DENY;
		case SQLITE_TRANSACTION:
		case SQLITE_SAVEPOINT:
			if (pDatabase->_allowControl)
				return SQLITE_OK;
			pDatabase->_pDenial = CONTROL_DENIED;
			return SQLITE_DENY;
		default:
			return SQLITE_OK;
	}
}


bool SqliteDatabase::usable(std::string& error) const
{
	if (!_pDB)
	{
		error = "the storage of '" + _label + "' is closed";
		return false;
	}
	// After some errors (disk full, I/O) SQLite ends the transaction itself; statements that followed
	// would then commit one by one, so refuse them until the transaction is closed.
	if (_depth > 0 && sqlite3_get_autocommit(_pDB))
	{
		error = ROLLED_BACK;
		return false;
	}
	return true;
}


bool SqliteDatabase::control(const std::string& sql, std::string& error)
{
	_allowControl = true;
	char* pMessage = nullptr;
	const int rc = sqlite3_exec(_pDB, sql.c_str(), nullptr, nullptr, &pMessage);
	_allowControl = false;
	if (rc == SQLITE_OK)
		return true;
	error = pMessage ? pMessage : sqlite3_errstr(rc);
	sqlite3_free(pMessage);
	return false;
}


std::string SqliteDatabase::prepareError() const
{
	if (_pDenial)
		return _pDenial;
	return sqlite3_errmsg(_pDB);
}


bool SqliteDatabase::singleStatement(const char* pRest, const char* pEnd, std::string& error)
{
	// Prepare (never run) what follows the first statement: only whitespace, comments and ';' may.
	// Refusing stacked statements also takes the classic "; DROP TABLE" out of reach.
	while (pRest && pRest < pEnd)
	{
		sqlite3_stmt* pRaw = nullptr;
		const char* pNext = nullptr;
		const int rc = sqlite3_prepare_v2(_pDB, pRest, static_cast<int>(pEnd - pRest), &pRaw, &pNext);
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


void SqliteDatabase::closeNow()
{
	_closePending = false;
	if (!_pDB)
		return;
	std::string ignored;
	checkpoint(ignored);
	sqlite3_set_authorizer(_pDB, nullptr, nullptr);
	try
	{
		_pSession->close();
	}
	catch (...)
	{
		// Nothing useful to do at shutdown; SQLite recovers from the WAL on the next open.
	}
	_pSession.reset();
	_pDB = nullptr;
}


void SqliteDatabase::endLevel()
{
	--_depth;
	if (_depth == 0 && _closePending)
		closeNow();
}


} // namespace Core
} // namespace Switchboard
