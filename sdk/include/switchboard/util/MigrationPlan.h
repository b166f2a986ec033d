//
// util/MigrationPlan.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of how a
// plugin's migration list is checked and which steps a stored schema version still needs. The
// host's storage backends and SqliteTestStorage (FakeHost's storage) both use it, so a list the
// host refuses is refused in a plugin's unit tests with the same message.
//


#ifndef Switchboard_Util_MigrationPlan_INCLUDED
#define Switchboard_Util_MigrationPlan_INCLUDED


#include "switchboard/Storage.h"
#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>


namespace Switchboard {


class MigrationPlan
/// The backend-independent half of applying migrations: checks the list (versions start at 1,
/// no duplicates, every step has SQL), sorts it, and given the stored version returns the steps
/// to apply or says that the database is newer than the plugin. Backends run the steps, each with
/// its version bump in one transaction, and keep the version in the one-row table SCHEMA_TABLE.
/// Thread-safe once constructed (const methods only).
{
public:
	static constexpr const char* SCHEMA_TABLE = "_switchboard_schema";
	///< The table holding the schema version: one row, one INTEGER column "version".

	MigrationPlan(std::string pluginName, const std::vector<Migration>& migrations):
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
			else if (m.sql == nullptr)
				_error = who + "migration " + std::to_string(m.version) + " has no SQL";
			if (!_error.empty())
			{
				_ordered.clear();
				return;
			}
		}
	}

	bool valid() const { return _error.empty(); }
	/// False if the list is malformed; error() says how.

	const std::string& error() const { return _error; }

	int latestVersion() const { return _ordered.empty() ? 0 : _ordered.back().version; }
	/// The highest version in the list (0 for an empty list).

	bool pending(int storedVersion, std::vector<Migration>& steps, std::string& error) const
	/// Fills steps with every migration above storedVersion, in ascending order. Fails if the list
	/// is invalid or storedVersion is above latestVersion().
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

private:
	std::string _pluginName;
	std::vector<Migration> _ordered;
	std::string _error;
};


} // namespace Switchboard


#endif // Switchboard_Util_MigrationPlan_INCLUDED
