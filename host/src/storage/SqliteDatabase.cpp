//
// SqliteDatabase.cpp
//
// One SQLite connection opened through Poco::Data, with typed execution and transaction levels.
//


#include "storage/SqliteDatabase.h"
#include "Poco/Data/SQLite/Connector.h"
#include "Poco/Data/SQLite/Utility.h"
#include "Poco/Exception.h"
#include <exception>
#include <mutex>


namespace Switchboard {
namespace Core {


SqliteDatabase::SqliteDatabase(std::string label, std::string path):
    Sqlite::Connection("the storage of '" + label + "' is closed"),
    _path(std::move(path))
{
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
	const std::string failed = "cannot open database '" + _path + "': ";
	sqlite3* pHandle = nullptr;
	try
	{
		static std::once_flag registered;
		std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
		_pSession = std::make_unique<Poco::Data::Session>(Poco::Data::SQLite::Connector::KEY, _path);
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
