//
// PluginLoader.h
//
// Loads a plugin library through Boost.DLL and checks its descriptor before anything else runs.
//


#ifndef Switchboard_Core_PluginLoader_INCLUDED
#define Switchboard_Core_PluginLoader_INCLUDED


#include "switchboard/Plugin.h"
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class PluginLibrary
/// A loaded library and its checked descriptor. Keep it alive until every object the plugin
/// made is destroyed: destroying it unloads the code.
{
public:
	virtual ~PluginLibrary() = default;
	virtual const PluginDescriptor& descriptor() const = 0;
	virtual const std::string& path() const = 0;
};


class PluginLoader
{
public:
	static std::string libraryFileName(const std::string& pluginName);
	/// "<name>.so" on Linux (".dll", ".dylib" elsewhere).

	static std::unique_ptr<PluginLibrary> load(const std::string& path, const std::string& expectedName,
	                                           std::string& error);
	/// Loads and checks; on failure returns nullptr and one readable line in error.

	static bool checkDescriptor(const PluginDescriptor* descriptor, const std::string& expectedName,
	                            const std::string& path, std::string& error);
	/// The checks: ABI major equal, minor no newer than the host's, a descriptor at least as large as
	/// ABI x.0's, the exact build signature, a well-formed name equal to the expected one, a factory.
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginLoader_INCLUDED
