//
// MigrationPlan.h
//
// Validates a plugin's migration list and picks the steps a stored schema version still needs.
//


#ifndef Switchboard_Storage_MigrationPlan_INCLUDED
#define Switchboard_Storage_MigrationPlan_INCLUDED


#include "switchboard/Storage.h"
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


class MigrationPlan
/// The backend-independent half of applying migrations: checks the list (versions start at 1,
/// no duplicates, every step has SQL), sorts it, and given the stored version returns the steps
/// to apply or says that the database is newer than the plugin. Backends run the steps.
{
public:
	MigrationPlan(std::string pluginName, const std::vector<Switchboard::Migration>& migrations);

	bool valid() const;
	/// False if the list is malformed; error() says how.

	const std::string& error() const;

	int latestVersion() const;
	/// The highest version in the list (0 for an empty list).

	bool pending(int storedVersion, std::vector<Switchboard::Migration>& steps, std::string& error) const;
	/// Fills steps with every migration above storedVersion, in ascending order. Fails if the list
	/// is invalid or storedVersion is above latestVersion().

private:
	std::string _pluginName;
	std::vector<Switchboard::Migration> _ordered;
	std::string _error;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_MigrationPlan_INCLUDED
