//
// SqliteDatabase.h
//
// One SQLite connection opened through Poco::Data, with typed execution and transaction levels.
//


#ifndef Switchboard_Storage_SqliteDatabase_INCLUDED
#define Switchboard_Storage_SqliteDatabase_INCLUDED


#include "switchboard/util/SqliteConnection.h"
#include "Poco/Data/Session.h"
#include <chrono>
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class SqliteDatabase: public Switchboard::Sqlite::Connection
/// The connection behind one plugin's SQLite storage. Poco::Data opens and owns the connection
/// (Session with the SQLite connector); statements run on its sqlite3 handle through the SDK's
/// Sqlite::Connection (util/SqliteConnection.h), the code SqliteTestStorage runs in plugin unit
/// tests, because Poco 1.11 types result columns by their declared type: expressions such as
/// count(*) come back as strings and an undeclared type name ("JSON") throws.
///
/// Settings, refusals, transaction levels and the locking contract are Sqlite::Connection's.
/// No method throws.
{
public:
	SqliteDatabase(std::string label, std::string path);
	/// label names the owner in error messages (the plugin); path is the database file.

	~SqliteDatabase();
	/// Closes the connection at once (see Sqlite::Connection::closeNow()).

	bool open(std::string& error);
	/// Opens or creates the file and applies the connection settings. Returns false with error
	/// set when the file cannot be opened, is not a database or WAL cannot be enabled.

	const std::string& path() const;

private:
	const std::string _path;
	std::unique_ptr<Poco::Data::Session> _pSession;
	std::chrono::steady_clock::time_point _lastFailureReport{}; ///< guarded by mutex()
	long _unreportedFailures = 0;                               ///< guarded by mutex()
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_SqliteDatabase_INCLUDED
