//
// MigrationPlan.cpp
//
// Validates a plugin's migration list and picks the steps a stored schema version still needs.
//


#include "storage/MigrationPlan.h"
#include <algorithm>


namespace Switchboard {
namespace Core {


MigrationPlan::MigrationPlan(std::string pluginName, const std::vector<Migration>& migrations):
    _pluginName(std::move(pluginName)),
    _ordered(migrations)
{
	std::stable_sort(_ordered.begin(), _ordered.end(),
	                 [](const Migration& a, const Migration& b) { return a.version < b.version; });
	const std::string who = "plugin '" + _pluginName + "': ";
	for (std::size_t i = 0; i < _ordered.size(); ++i)
	{
		const Migration& m = _ordered[i];
		if (m.version < 1)
			_error = who + "migration version " + std::to_string(m.version) + " is invalid (versions start at 1)";
		else if (i > 0 && _ordered[i - 1].version == m.version)
			_error = who + "migration version " + std::to_string(m.version) + " appears more than once";
		else if (!m.sql)
			_error = who + "migration " + std::to_string(m.version) + " has no SQL";
		if (!_error.empty())
		{
			_ordered.clear();
			return;
		}
	}
}


bool MigrationPlan::valid() const
{
	return _error.empty();
}


const std::string& MigrationPlan::error() const
{
	return _error;
}


int MigrationPlan::latestVersion() const
{
	return _ordered.empty() ? 0 : _ordered.back().version;
}


bool MigrationPlan::pending(int storedVersion, std::vector<Migration>& steps, std::string& error) const
{
	steps.clear();
	if (!valid())
	{
		error = _error;
		return false;
	}
	if (storedVersion > latestVersion())
	{
		error = "plugin '" + _pluginName + "': the database is newer than the plugin (schema version " +
		        std::to_string(storedVersion) + ", the plugin knows up to " + std::to_string(latestVersion()) +
		        "); run a newer build of the plugin or restore a matching backup";
		return false;
	}
	for (const Migration& m : _ordered)
	{
		if (m.version > storedVersion)
			steps.push_back(m);
	}
	return true;
}


} // namespace Core
} // namespace Switchboard
