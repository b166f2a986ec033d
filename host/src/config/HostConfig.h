//
// HostConfig.h
//
// The host's configuration: one INI file layered under environment variables and --set
// overrides, validated against the host's key tables and, later, each plugin's declared keys.
//


#ifndef Switchboard_Core_HostConfig_INCLUDED
#define Switchboard_Core_HostConfig_INCLUDED


#include "config/Settings.h"
#include "switchboard/Config.h"
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


struct PluginSection: PluginMount
/// One [plugin.<name>] section, enabled or not; the mount of an enabled one goes to
/// ServerSettings::plugins. listener is resolved (the only listener when not given) and empty
/// when the plugin is disabled and names none.
{
	bool enabled = true;
};


struct PluginSchema
/// A plugin's declared keys, as its descriptor gives them (for HostConfig::render()).
{
	const Switchboard::ConfigKey* keys = nullptr;
	std::size_t count = 0;
};


class HostConfig
/// Loads and validates the configuration in two steps, because plugins are only known after
/// the configuration says where to find them:
///
///   1. load(): read the file, apply the environment, then the command line; validate every
///      host key, the listeners and the host-owned keys of each plugin section.
///   2. validatePlugin(): once a plugin library is loaded, validate the remaining keys of its
///      section against the keys it declares and produce its Switchboard::Config.
///
/// Every error is one line "<origin>: <full key>: <problem>", where origin is "<path>:<line>"
/// for a key of the file (the section header's line for a key it lacks), "environment
/// (SWITCHBOARD_...)" or "command line"; several errors are separated by '\n'. The file is
/// read by IniFile: section and key names are case-insensitive (stored lower-case), values are
/// trimmed. Each host key is declared once, in a table row that also binds it to the
/// ServerSettings field it sets.
///
/// Immutable after load(); const methods are safe to call from any thread.
{
public:
	static const char* const ENV_PREFIX; ///< "SWITCHBOARD_"

	static bool load(const std::string& path, const std::map<std::string, std::string>& environment,
	                 const std::vector<std::string>& overrides, HostConfig& out, std::string& error);
	/// Step 1. path empty = no file, defaults only; a path that cannot be read is an error.
	/// environment: variable name -> value (only SWITCHBOARD_<SECTION>__<KEY> names are used;
	/// names without "__" are ignored). overrides: "key=value" strings in command-line order,
	/// later ones winning. Returns false with one line per problem in error; out is then
	/// unspecified.

	static std::map<std::string, std::string> processEnvironment();
	/// The variables of this process, for load(): the SWITCHBOARD_* ones and those the file's
	/// [environment] section names.

	static std::string environmentKey(const std::string& variable);
	/// SWITCHBOARD_PLUGIN__ECHO__GREETING -> "plugin.echo.greeting"; "" when variable is not
	/// a configuration variable.

	HostConfig();

	const std::string& path() const { return _path; }
	const ServerSettings& settings() const { return _settings; }
	/// Every value the configuration sets, as written or defaulted: transport.eventLoops is the
	/// configured count (0 = automatic, see resolveEventLoops()), pluginDir and
	/// storageDirectory are as given (relative paths unresolved); plugins holds the mounts of
	/// the enabled plugins.

	const std::vector<ListenerSpec>& listeners() const { return _settings.listeners; }
	/// In name order.
	const std::vector<PluginSection>& plugins() const { return _plugins; }
	/// Every [plugin.<name>] section, enabled or not, in name order.

	const PluginSection* plugin(const std::string& name) const;
	/// The section of plugin name, or nullptr.

	bool validatePlugin(const std::string& name, const Switchboard::ConfigKey* keys, std::size_t count,
	                    Switchboard::Config& out, std::string& error) const;
	/// Step 2: checks the plugin's own keys in [plugin.<name>] (everything but enabled,
	/// listener and prefix) against its declaration: unknown keys, bad values and missing
	/// required keys are errors, as is a faulty declaration. On success out holds every
	/// declared key, defaults filled in. A plugin without a section gets its defaults.

	std::vector<std::string> pluginsWithoutLibrary(const std::vector<std::string>& available) const;
	/// Names of plugin sections with no plugin among available (the names of the loaded
	/// libraries), in name order. The caller reports them; see unknownPluginError().

	std::string unknownPluginError(const std::string& name, const std::vector<std::string>& available) const;
	/// The one-line error for a section naming a plugin that was not found.

	std::string origin(const std::string& key) const;
	/// Where the effective value of key (or, for a section name, the section) came from:
	/// "<path>:<line>", "environment (SWITCHBOARD_...)", "command line" or "default".

	std::vector<std::string> changedKeys(const HostConfig& other) const;
	/// The full keys whose effective value differs between this configuration and other (set in
	/// one only, or to different values), in name order. Defaults are the same in both, so only
	/// what the file, the environment or the command line set is compared.

	std::string render(const std::map<std::string, PluginSchema>& plugins = {}) const;
	/// The effective configuration as an INI file that load() accepts and that yields the same
	/// values: every key with a "; description (default: X)" line above it, a "; set by ..."
	/// line when the value came from the environment or the command line, and the plugin
	/// keys of every plugin found in plugins. Keys of a plugin without a schema are written
	/// as given, marked as not validated.

private:
	struct Entry
	{
		std::string value;
		std::string origin;
		bool fromFile = true;
	};

	bool validate(std::vector<std::string>& errors);
	void validateFixedSections(std::vector<std::string>& errors);
	void validateListeners(std::vector<std::string>& errors);
	void validatePluginSections(std::vector<std::string>& errors);
	void checkAddressClashes(std::vector<std::string>& errors);
	std::string effective(const std::string& key, const char* fallback) const;
	std::string sectionOrigin(const std::string& section) const;
	std::string renderKey(const std::string& section, const std::string& name, const std::string& description,
	                      const std::string& defaultText, const std::string& value) const;

	struct Alias
	/// One line of [environment]: the variable that, when set, gives the key its value.
	{
		std::string key;
		std::string variable;
		std::string origin;
	};

	std::string _path;
	std::vector<Alias> _aliases;                  // [environment], in file order
	std::map<std::string, Entry> _entries;        // full key -> effective raw value
	std::map<std::string, std::string> _sections; // every section seen -> where first seen
	ServerSettings _settings;
	std::vector<PluginSection> _plugins;
};


int resolveEventLoops(int configured, unsigned cores);
/// The number of event loops to run: configured if above 0, else one per core but one, and at
/// least one (cores is std::thread::hardware_concurrency(), 0 if unknown). The spare core runs
/// the kernel's network processing, the HTTP handshake threads and the workers; on 2 cores one
/// loop also avoids the cross-loop hand-off between peers (docs/configuration.md has figures).


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HostConfig_INCLUDED
