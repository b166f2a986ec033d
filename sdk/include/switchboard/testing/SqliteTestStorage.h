//
// testing/SqliteTestStorage.h
//
// Switchboard SDK testing part (header-only, not part of the plugin ABI): a real SQLite Storage
// for plugin unit tests, on the host's own statement and transaction code
// (util/SqliteConnection.h, util/SqliteStorageCore.h). Link SQLite (Switchboard::Testing does).
//


#ifndef Switchboard_Testing_SqliteTestStorage_INCLUDED
#define Switchboard_Testing_SqliteTestStorage_INCLUDED


#include "switchboard/Storage.h"
#include "switchboard/util/SqliteConnection.h"
#include "switchboard/util/SqliteStorageCore.h"
#include <sqlite3.h>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#ifdef _WIN32
#include <atomic>
#include <fcntl.h>
#include <io.h>      // _open, _close
#include <process.h> // _getpid
#include <sys/stat.h>
#else
#include <unistd.h>
#endif


namespace Switchboard {
namespace Testing {


class SqliteTestStorage: public Storage
/// A plugin's storage as the host's SQLite backend provides it, in a real database file, so a
/// plugin's SQL runs in unit tests exactly as it will in production. It is the host's code: the
/// statement rules, refusals and connection settings are Sqlite::Connection's, transaction() and
/// applyMigrations() are Sqlite::runTransaction() and Sqlite::applyMigrations() (MigrationPlan's
/// rules), so a database migrated here is one the host accepts. Only opening differs: this
/// storage opens the handle with sqlite3_open_v2 and owns it, where the host goes through
/// Poco::Data.
///
/// What else differs: executeAsync() runs the statement on the calling thread and calls done
/// before returning (FakeHost is single-threaded); setAsyncFailure() makes those results fail, to
/// test a plugin's retry path. Every method is thread-safe (the connection's recursive mutex).
/// Nothing throws.
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
		std::lock_guard<std::recursive_mutex> lock(_connection.mutex());
		_connection.closeNow();
		if (_removeOnClose && !_path.empty())
		{
			for (const char* suffix : {"", "-wal", "-shm", "-journal"})
				std::remove((_path + suffix).c_str());
		}
	}

	SqliteTestStorage(const SqliteTestStorage&) = delete;
	SqliteTestStorage& operator=(const SqliteTestStorage&) = delete;

	bool isOpen() const { return _connection.isOpen(); }

	const std::string& openError() const { return _openError; }
	/// Why the database could not be opened ("" when it is open); every call then fails with it.

	const std::string& path() const { return _path; }

	// --- Storage -------------------------------------------------------------------------------

	QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
	{
		return _connection.execute(sql, params);
	}

	bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) override
	{
		return Sqlite::runTransaction(_connection, body, error);
	}

	void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) override
	{
		QueryResult result;
		{
			std::lock_guard<std::recursive_mutex> lock(_connection.mutex());
			++_asyncCalls;
			if (!_asyncFailure.empty())
				result.error = _asyncFailure;
			else
				result = _connection.execute(sql, params);
		}
		if (done)
			done(std::move(result));
	}

	// --- migrations ----------------------------------------------------------------------------

	bool applyMigrations(const std::string& pluginName, const std::vector<Migration>& migrations, std::string& error)
	/// Brings the schema up to the latest migration, as the host does before start().
	{
		return Sqlite::applyMigrations(_connection, pluginName, migrations, error);
	}

	int schemaVersion(std::string& error)
	/// The stored schema version (0 before any migration), or -1 with error set.
	{
		return Sqlite::readSchemaVersion(_connection, false, error);
	}

	// --- fault injection -----------------------------------------------------------------------

	void setAsyncFailure(std::string error)
	/// From now on executeAsync() runs nothing and reports a failed result with this error ("":
	/// run statements again).
	{
		std::lock_guard<std::recursive_mutex> lock(_connection.mutex());
		_asyncFailure = std::move(error);
	}

	std::size_t asyncCalls() const
	/// How many executeAsync() calls were made on this storage (not on a transaction's tx).
	{
		std::lock_guard<std::recursive_mutex> lock(_connection.mutex());
		return _asyncCalls;
	}

private:
	SqliteTestStorage(std::string path, bool removeOnClose):
	    _path(std::move(path)),
	    _removeOnClose(removeOnClose)
	{
		if (_path.empty())
		{
			failOpen("cannot create a temporary database file");
			return;
		}
		const std::string failed = "cannot open database '" + _path + "': ";
		sqlite3* pHandle = nullptr;
		if (sqlite3_open_v2(_path.c_str(), &pHandle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
		                    nullptr) != SQLITE_OK)
		{
			failOpen(failed + (pHandle ? sqlite3_errmsg(pHandle) : "out of memory"));
			sqlite3_close_v2(pHandle);
			return;
		}
		// This storage opened the handle, so releasing it closes it.
		std::string why;
		if (!_connection.attach(
		        pHandle, [](sqlite3* pOwned) { sqlite3_close_v2(pOwned); }, why))
			failOpen(failed + why);
	}

	void failOpen(std::string error)
	{
		_openError = std::move(error);
		_connection.setClosedError(_openError);
	}

	static std::string makeTempFile()
	{
#ifdef _WIN32
		// No mkstemps: a name made unique by the process id and a counter, created exclusively
		// (every fixture of a CppUnit suite exists at once, so each needs its own file).
		static std::atomic<unsigned> counter{0};
		const char* directory = std::getenv("TEMP");
		const std::string prefix = std::string(directory != nullptr && *directory != '\0' ? directory : ".") +
		                           "\\switchboard-test-" + std::to_string(_getpid()) + "-";
		for (int attempt = 0; attempt < 1000; ++attempt)
		{
			const std::string path = prefix + std::to_string(counter++) + ".sqlite";
			const int fd = _open(path.c_str(), _O_CREAT | _O_EXCL | _O_RDWR, _S_IREAD | _S_IWRITE);
			if (fd >= 0)
			{
				_close(fd); // SQLite opens the empty file as a new database
				return path;
			}
		}
		return std::string();
#else
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
#endif
	}

	std::string _path;
	bool _removeOnClose = false;
	std::string _openError;
	Sqlite::Connection _connection{"the storage is closed"};
	std::string _asyncFailure;
	std::size_t _asyncCalls = 0;
};


} // namespace Testing
} // namespace Switchboard


#endif // Switchboard_Testing_SqliteTestStorage_INCLUDED
