//
// SqliteDatabase.h
//
// One SQLite connection opened through Poco::Data, with typed execution and transaction levels.
//


#ifndef Switchboard_Storage_SqliteDatabase_INCLUDED
#define Switchboard_Storage_SqliteDatabase_INCLUDED


#include "switchboard/Storage.h"
#include "Poco/Data/Session.h"
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>


struct sqlite3;


namespace Switchboard {
namespace Core {


class SqliteDatabase
/// The connection behind one plugin's SQLite storage. Poco::Data opens and owns the connection
/// (Session with the SQLite connector); statements run on its sqlite3 handle through the SQLite C
/// API because Poco 1.11 types result columns by their declared type: expressions such as
/// count(*) come back as strings and an undeclared type name ("JSON") throws. Here each cell
/// keeps its SQLite storage class (NULL, INTEGER, REAL, TEXT, BLOB).
///
/// On open the connection is set to WAL journaling, synchronous=NORMAL, foreign_keys=ON and
/// busy_timeout=5000; ATTACH is refused (a plugin must not reach another plugin's file), and so
/// are transaction-control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) except when
/// issued by begin()/commit()/rollback(), which map nested levels onto savepoints.
///
/// Threading: every method locks mutex(), a recursive mutex. Hold it yourself across begin() ...
/// commit()/rollback() so that other threads cannot interleave statements with a transaction.
/// No method throws.
{
public:
	SqliteDatabase(std::string label, std::string path);
	/// label names the owner in error messages (the plugin); path is the database file.

	~SqliteDatabase();
	/// Closes the connection (see close()).

	SqliteDatabase(const SqliteDatabase&) = delete;
	SqliteDatabase& operator=(const SqliteDatabase&) = delete;

	bool open(std::string& error);
	/// Opens or creates the file and applies the connection settings. Returns false with error
	/// set when the file cannot be opened, is not a database or WAL cannot be enabled.

	bool isOpen() const;

	const std::string& path() const;

	std::recursive_mutex& mutex();
	/// The lock that serialises all use of the connection.

	Switchboard::QueryResult execute(std::string_view sql, const std::vector<Switchboard::Value>& params);
	/// Runs exactly one statement with positional parameters ('?', '?NNN' or named, bound in index
	/// order). Cells keep their storage class; affectedRows is the number of rows the statement
	/// itself inserted, updated or deleted (0 for anything else).

	bool executeScript(std::string_view sql, std::string& error);
	/// Runs every statement of sql in order, without parameters, discarding result rows; stops at
	/// the first failure. Statements split exactly as SQLite parses them, so ';' inside quotes,
	/// comments and trigger bodies is safe.

	bool begin(std::string& error);
	/// Opens a transaction level: BEGIN IMMEDIATE at depth 0, a SAVEPOINT inside a transaction.

	bool commit(std::string& error);
	/// Closes the innermost level keeping its work (COMMIT or RELEASE). On failure the level is
	/// rolled back, closed and false returned.

	void rollback();
	/// Closes the innermost level discarding its work.

	int transactionDepth() const;
	/// The number of open levels (0: autocommit).

	bool checkpoint(std::string& error);
	/// Copies the WAL into the database file and truncates it (PRAGMA wal_checkpoint(TRUNCATE)).
	/// Fails when a transaction is open or a checkpoint could not complete.

	void close();
	/// Checkpoints and closes. Inside an open transaction the close is deferred until its
	/// outermost level ends. Idempotent.

private:
	static int authorize(void* pSelf, int action, const char*, const char*, const char*, const char*);
	bool usable(std::string& error) const;
	bool control(const std::string& sql, std::string& error);
	std::string prepareError() const;
	bool singleStatement(const char* pRest, const char* pEnd, std::string& error);
	void closeNow();
	void endLevel();

	const std::string _label;
	const std::string _path;
	mutable std::recursive_mutex _mutex;
	std::unique_ptr<Poco::Data::Session> _pSession;
	sqlite3* _pDB = nullptr;
	int _depth = 0;
	bool _allowControl = false;
	const char* _pDenial = nullptr;
	bool _closePending = false;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_SqliteDatabase_INCLUDED
