//
// SqliteStorage.cpp
//
// The SQLite storage backend: one database file per plugin in a data directory.
//


#include "storage/SqliteStorage.h"
#include "storage/SqlitePluginStorage.h"
#include <filesystem>
#include <system_error>


namespace Switchboard {
namespace Core {


SqliteStorage::SqliteStorage(std::string directory)
{
	std::error_code ec;
	std::filesystem::path path(directory);
	if (!directory.empty())
	{
		std::filesystem::path absolute = std::filesystem::absolute(path, ec);
		if (!ec)
			path = absolute;
	}
	_directory = path.lexically_normal().string();
	// lexically_normal() keeps a trailing '/'; drop it so every path is spelt alike.
	while (_directory.size() > 1 && _directory.back() == '/')
		_directory.pop_back();
}


std::string SqliteStorage::name() const
{
	return "sqlite";
}


std::unique_ptr<PluginStorage> SqliteStorage::open(const std::string& pluginName, Offload offload, std::string& error)
{
	if (!isValidPluginName(pluginName))
	{
		error = "invalid plugin name '" + pluginName +
		        "' for storage: use 1 to 64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit";
		return nullptr;
	}
	if (!ensureDirectory(error))
		return nullptr;
	auto pStorage = std::make_unique<SqlitePluginStorage>(pluginName, databasePath(pluginName), std::move(offload));
	std::string why;
	if (!pStorage->open(why))
	{
		error = "plugin '" + pluginName + "': " + why;
		return nullptr;
	}
	return pStorage;
}


const std::string& SqliteStorage::directory() const
{
	return _directory;
}


std::string SqliteStorage::databasePath(const std::string& pluginName) const
{
	return (std::filesystem::path(_directory) / (pluginName + ".sqlite")).string();
}


bool SqliteStorage::ensureDirectory(std::string& error) const
{
	if (_directory.empty())
	{
		error = "no storage directory is configured";
		return false;
	}
	std::error_code ec;
	const std::filesystem::path dir(_directory);
	if (std::filesystem::is_directory(dir, ec))
		return true;
	if (std::filesystem::exists(dir, ec))
	{
		error = "storage directory '" + _directory + "' exists but is not a directory";
		return false;
	}
	std::filesystem::create_directories(dir, ec);
	std::error_code checked;
	if (ec || !std::filesystem::is_directory(dir, checked))
	{
		error = "cannot create storage directory '" + _directory +
		        "': " + (ec ? ec.message() : std::string("unknown error"));
		return false;
	}
	return true;
}


} // namespace Core
} // namespace Switchboard
