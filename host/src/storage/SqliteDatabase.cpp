//
// SqliteDatabase.cpp
//
// One SQLite connection opened through Poco::Data, with typed execution and transaction levels.
//


#include "storage/SqliteDatabase.h"
#include "Poco/Data/SQLite/Connector.h"
#include "Poco/Data/SQLite/Utility.h"
#include "Poco/Exception.h"
#include "Poco/Logger.h"
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <exception>
#include <mutex>

#if !defined(_WIN32)
#include <unistd.h>
#endif


namespace Switchboard {
namespace Core {


namespace {


std::string unwritableDirectoryReason(const std::string& path)
/// SQLite only says "unable to open database file"; the operator needs to know the directory is
/// read-only (access() reports EROFS even to root).
{
#if defined(_WIN32)
	(void)path;
	return ""; // no access(W_OK) for directories there; SQLite's own message stands
#else
	const std::string directory = std::filesystem::path(path).parent_path().string();
	if (directory.empty() || ::access(directory.c_str(), W_OK | X_OK) == 0)
		return "";
	return " (its directory is not writable: " + std::string(std::strerror(errno)) + ")";
#endif
}


} // namespace


SqliteDatabase::SqliteDatabase(std::string label, std::string path):
    Sqlite::Connection("the storage of '" + label + "' is closed"),
    _path(std::move(path))
{
	// A full disk or a read-only file fails every write: one line per 10 s is enough to tell
	// the operator, and the next says how many failures it stood for.
	observeFileFailures([this, label](const std::string& message) {
		const auto now = std::chrono::steady_clock::now();
		++_unreportedFailures;
		if (_lastFailureReport.time_since_epoch().count() != 0 && now - _lastFailureReport < std::chrono::seconds(10))
			return;
		Poco::Logger::get("storage").warning("storage of '" + label + "' (" + _path + "): " + message + " (" +
		                                     std::to_string(_unreportedFailures) +
		                                     " failed statements since the last report)");
		_lastFailureReport = now;
		_unreportedFailures = 0;
	});
}


SqliteDatabase::~SqliteDatabase()
{
	// The base class would release the handle only after _pSession is gone: close while it exists.
	closeNow();
}


bool SqliteDatabase::open(std::string& error)
{
	std::lock_guard<std::recursive_mutex> lock(mutex());
	if (isOpen())
		return true;
	const std::string failed = "cannot open database '" + _path + "'" + unwritableDirectoryReason(_path) + ": ";
	sqlite3* pHandle = nullptr;
	try
	{
		static std::once_flag registered;
		std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
		// Poco retries a failed open until this many seconds have passed (60 by default): an
		// unopenable file (read-only directory) would stall start-up for a minute.
		constexpr std::size_t OPEN_RETRY_SECONDS = 1;
		_pSession =
		    std::make_unique<Poco::Data::Session>(Poco::Data::SQLite::Connector::KEY, _path, OPEN_RETRY_SECONDS);
		pHandle = Poco::Data::SQLite::Utility::dbHandle(*_pSession);
	}
	catch (const Poco::Exception& e)
	{
		error = failed + e.displayText();
		_pSession.reset();
		return false;
	}
	catch (const std::exception& e)
	{
		error = failed + e.what();
		_pSession.reset();
		return false;
	}
	if (!pHandle)
	{
		error = failed + "no connection handle";
		_pSession.reset();
		return false;
	}

	// The Session owns the handle: releasing it means closing the Session.
	auto release = [this](sqlite3*) {
		try
		{
			_pSession->close();
		}
		catch (...)
		{
			// Nothing useful to do at shutdown; SQLite recovers from the WAL on the next open.
		}
		_pSession.reset();
	};
	std::string why;
	if (!attach(pHandle, release, why))
	{
		error = failed + why;
		return false;
	}
	return true;
}


const std::string& SqliteDatabase::path() const
{
	return _path;
}


} // namespace Core
} // namespace Switchboard
