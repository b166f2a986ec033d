//
// PostgresStorage.cpp
//
// The PostgreSQL storage backend: one schema per plugin in a database shared by every node.
//


#include "storage/PostgresStorage.h"
#include "storage/PostgresPluginStorage.h"
#include "Poco/Logger.h"


namespace Switchboard {
namespace Core {


namespace {


PostgresParameters parametersFrom(const PostgresSettings& settings, int workerThreads)
{
	PostgresParameters p;
	p.host = settings.host;
	p.port = settings.port;
	p.database = settings.database;
	p.user = settings.user;
	p.password = settings.password;
	p.connectTimeoutMs = settings.connectTimeoutMs;
	p.poolSize = settings.poolSize > 0 ? static_cast<std::size_t>(settings.poolSize)
	                                   : static_cast<std::size_t>(workerThreads > 0 ? workerThreads : 1) + 2;
	return p;
}


} // namespace


PostgresStorage::PostgresStorage(const PostgresSettings& settings, int workerThreads):
    _pPool(PostgresPool::create(parametersFrom(settings, workerThreads)))
{
}


std::string PostgresStorage::name() const
{
	return "postgresql";
}


const PostgresParameters& PostgresStorage::parameters() const
{
	return _pPool->parameters();
}


std::unique_ptr<PluginStorage> PostgresStorage::open(const std::string& pluginName, Offload offload, std::string& error)
{
	if (!isValidPluginName(pluginName))
	{
		error = "invalid plugin name '" + pluginName +
		        "' for storage: use 1 to 64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit";
		return nullptr;
	}
	if (pluginName.size() > MAX_SCHEMA_NAME)
	{
		error = "plugin name '" + pluginName + "' is longer than " + std::to_string(MAX_SCHEMA_NAME) +
		        " characters, the longest PostgreSQL schema name";
		return nullptr;
	}
	auto pStorage = std::make_unique<PostgresPluginStorage>(pluginName, _pPool, std::move(offload));
	std::string why;
	if (!pStorage->probe(why))
	{
		error = "plugin '" + pluginName + "': " + why;
		return nullptr;
	}
	if (!_announced.exchange(true))
	{
		const PostgresParameters& p = _pPool->parameters();
		Poco::Logger::get("storage").information("PostgreSQL storage at %s, database %s, user %s, up to %z connections",
		                                         p.endpoint(), p.database, p.user, p.poolSize);
	}
	return pStorage;
}


} // namespace Core
} // namespace Switchboard
