//
// util/Reconfigure.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the first check of a
// Plugin::reconfigure, refusing a reload that changed a key the plugin takes at start only.
//


#ifndef Switchboard_Util_Reconfigure_INCLUDED
#define Switchboard_Util_Reconfigure_INCLUDED


#include <algorithm>
#include <string>
#include <vector>


namespace Switchboard {


struct FixedKey
/// A key the plugin takes at start only (a path its routes are registered under, an endpoint
/// option), and why it cannot change while running.
{
	const char* key;
	const char* why;
	bool unchanged = false; ///< its new value is the running one: a change back is harmless
};


template <class FixedKeys>
std::string fixedKeyChanged(const std::vector<std::string>& changedKeys, const FixedKeys& fixed)
/// "" when no changed key is a fixed one with a new value; else "<key> cannot change while
/// running: <why>" for the first, which reconfigure() returns as needsRestart.
{
	for (const FixedKey& f : fixed)
	{
		if (!f.unchanged && std::find(changedKeys.begin(), changedKeys.end(), f.key) != changedKeys.end())
			return std::string(f.key) + " cannot change while running: " + f.why;
	}
	return {};
}


} // namespace Switchboard


#endif // Switchboard_Util_Reconfigure_INCLUDED
