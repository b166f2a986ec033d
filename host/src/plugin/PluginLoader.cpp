//
// PluginLoader.cpp
//


#include "plugin/PluginLoader.h"
#include "switchboard/util/Names.h"
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <filesystem>


namespace Switchboard {
namespace Core {


namespace {

class BoostPluginLibrary: public PluginLibrary
{
public:
	BoostPluginLibrary(boost::dll::shared_library library, const PluginDescriptor* descriptor, std::string path):
	    _library(std::move(library)),
	    _descriptor(descriptor),
	    _path(std::move(path))
	{
	}

	const PluginDescriptor& descriptor() const override { return *_descriptor; }
	const std::string& path() const override { return _path; }

private:
	boost::dll::shared_library _library;
	const PluginDescriptor* _descriptor;
	std::string _path;
};

std::string abiText(std::uint32_t major, std::uint32_t minor)
{
	return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace


std::string PluginLoader::libraryFileName(const std::string& pluginName)
{
#if defined(_WIN32)
	return pluginName + ".dll";
#elif defined(__APPLE__)
	return pluginName + ".dylib";
#else
	return pluginName + ".so";
#endif
}


bool PluginLoader::checkDescriptor(const PluginDescriptor* d, const std::string& expectedName, const std::string& path,
                                   std::string& error)
{
	const std::string who = "plugin " + expectedName + " (" + path + ")";
	if (!d)
	{
		error = who + ": the entry point returned no descriptor";
		return false;
	}
	// The first fields are laid out identically in every ABI version, so they are safe to read.
	if (d->abiMajor != ABI_MAJOR)
	{
		error = who + " was built for SDK ABI " + abiText(d->abiMajor, d->abiMinor) + ", this host provides " +
		        abiText(ABI_MAJOR, ABI_MINOR) + "; rebuild it against this host's SDK";
		return false;
	}
	if (d->abiMinor > ABI_MINOR)
	{
		error = who + " needs SDK ABI " + abiText(d->abiMajor, d->abiMinor) + ", newer than this host's " +
		        abiText(ABI_MAJOR, ABI_MINOR) + "; upgrade the host or build the plugin against its SDK";
		return false;
	}
	// Fields appended by later minors are read only when structSize covers them; ABI x.0's
	// fields end with destroy.
	if (d->structSize < offsetof(PluginDescriptor, destroy) + sizeof(d->destroy))
	{
		error = who + ": descriptor is too small (" + std::to_string(d->structSize) + " bytes)";
		return false;
	}
	const std::string ours = SWITCHBOARD_BUILD_SIGNATURE;
	if (!d->buildSignature || ours != d->buildSignature)
	{
		error = who + " was built as '" + std::string(d->buildSignature ? d->buildSignature : "(none)") +
		        "', this host as '" + ours + "'; plugins must be built with the host's compiler and exactly its SDK";
		return false;
	}
	if (!d->name || !Names::isSectionName(d->name))
	{
		error = who + ": descriptor name must be non-empty [a-z0-9_]";
		return false;
	}
	if (expectedName != d->name)
	{
		error = who + " declares the name '" + std::string(d->name) + "'; the file name and the [plugin." +
		        expectedName + "] section must match it";
		return false;
	}
	if (!d->create || !d->destroy)
	{
		error = who + ": descriptor has no create/destroy functions";
		return false;
	}
	if (d->configKeyCount > 0 && !d->configKeys)
	{
		error = who + ": descriptor declares config keys but gives none";
		return false;
	}
	return true;
}


std::unique_ptr<PluginLibrary> PluginLoader::load(const std::string& path, const std::string& expectedName,
                                                  std::string& error)
{
	std::error_code ec;
	if (!std::filesystem::exists(path, ec))
	{
		error = "plugin " + expectedName + ": no library at " + path;
		return nullptr;
	}
	boost::dll::shared_library library;
	try
	{
		// rtld_local keeps each plugin's symbols to itself; the entry point is found by name.
		library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
	}
	catch (std::exception& exc)
	{
		error = "plugin " + expectedName + ": cannot load " + path + ": " + exc.what();
		return nullptr;
	}
	if (!library.has(SWITCHBOARD_ENTRY_SYMBOL))
	{
		error = "plugin " + expectedName + ": " + path +
		        " exports no " SWITCHBOARD_ENTRY_SYMBOL " entry point; is it a Switchboard plugin?";
		return nullptr;
	}
	using Entry = const PluginDescriptor*();
	const PluginDescriptor* descriptor = nullptr;
	try
	{
		descriptor = library.get<Entry>(SWITCHBOARD_ENTRY_SYMBOL)();
	}
	catch (...)
	{
		error = "plugin " + expectedName + ": the entry point of " + path + " failed";
		return nullptr;
	}
	if (!checkDescriptor(descriptor, expectedName, path, error))
		return nullptr;
	return std::make_unique<BoostPluginLibrary>(std::move(library), descriptor, path);
}


} // namespace Core
} // namespace Switchboard
