//
// Plugin.h
//
// Switchboard SDK: the plugin interface, its lifecycle, the descriptor a plugin library exports
// and the ABI checks the host makes before calling anything else.
//


#ifndef Switchboard_Plugin_INCLUDED
#define Switchboard_Plugin_INCLUDED


#include "switchboard/Config.h"
#include "switchboard/Host.h"
#include "switchboard/Abi.h"
#include <cstdint>
#include <new>
#include <string>
#include <vector>


namespace Switchboard {


enum class StartStatus
{
	STARTED,  ///< running; routes and endpoints registered
	DECLINED, ///< chose not to run (e.g. an optional dependency is absent); the host goes on without it
	FAILED    ///< cannot run; the host aborts start-up or skips it, as [host] on_plugin_failure says
};


struct StartResult
{
	StartStatus status = StartStatus::STARTED;
	std::string message; ///< why, for DECLINED and FAILED

	static StartResult started() { return {}; }
	static StartResult declined(std::string why) { return {StartStatus::DECLINED, std::move(why)}; }
	static StartResult failed(std::string why) { return {StartStatus::FAILED, std::move(why)}; }
};


struct ReconfigureResult
/// What Plugin::reconfigure did: all of the changes, or none of them.
{
	bool applied = true;
	std::string message; ///< why not, when !applied

	static ReconfigureResult done() { return {}; }
	static ReconfigureResult needsRestart(std::string why) { return {false, std::move(why)}; }
};


class Plugin
/// A protocol. Lifecycle, all on the host's main thread and never concurrently with each other:
/// create (descriptor) → migrations() → start(host, setup) → [connections and requests] →
/// stopping() → [the host closes every connection with 1001] → stop() → destroy (descriptor).
/// No callback of the plugin runs after stop() returns. Nothing should throw across these calls:
/// the host catches what escapes, counts it in plugin_exceptions_total{plugin,site} and acts as
/// docs/sdk.md's policy table says (an exception from start() or migrations() is FAILED).
{
public:
	virtual ~Plugin() = default;

	virtual std::vector<Migration> migrations() const { return {}; }
	/// The plugin's schema steps, applied by the host before start().

	virtual StartResult start(Host& host, Setup& setup) = 0;
	/// Registers routes and endpoints through setup (valid during this call only) and creates
	/// metrics and timers through host (valid until the plugin is destroyed).

	virtual void stopping() {}
	/// Shutdown has begun and no new connections are accepted: a last chance to send goodbye
	/// messages (Router::send still works). Keep it short: to give clients time before the
	/// close, call Host::holdConnectionsOpen() rather than waiting here.

	virtual void stop() {}
	/// Every connection is closed and every timer cancelled; flush what must be kept.

	virtual ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys)
	{
		(void)config;
		(void)changedKeys;
		return ReconfigureResult::needsRestart("it applies no key live");
	}
	/// ABI 4.3. A reload (SIGHUP) changed keys of this plugin's section: changedKeys names them
	/// ("greeting"), config holds every key of the new configuration, checked against the
	/// plugin's declaration (valid during the call; copy what you keep). Apply all of them and
	/// return done(), or none and return needsRestart(why): the running values then stay until a
	/// restart, and the host logs why. Host::config() keeps the values start() saw. Called on the
	/// host's main thread between start() and stopping(), only for a plugin that started, while
	/// connections are served: it runs concurrently with the plugin's loop, worker and timer
	/// callbacks, so synchronize as for them. Never called on a plugin built for an older minor
	/// ABI (the host checks the descriptor first).
};


struct PluginDescriptor
/// What a plugin library exports through SWITCHBOARD_PLUGIN. C layout with the size and ABI
/// fields first, so a host can check any descriptor before trusting the rest. A later minor ABI
/// may append fields; a host reads an appended field only when structSize covers it.
{
	std::uint32_t structSize; ///< sizeof(PluginDescriptor) as the plugin was built
	std::uint32_t abiMajor;   ///< ABI_MAJOR as the plugin was built
	std::uint32_t abiMinor;   ///< ABI_MINOR as the plugin was built
	std::uint32_t reservedFlags;
	const char* buildSignature; ///< SWITCHBOARD_BUILD_SIGNATURE as the plugin was built
	const char* id;             ///< reverse-DNS id, e.g. "switchboard.protocol.echo"
	const char* name;           ///< short name: [plugin.<name>] and metric prefix; [a-z0-9_]+
	const char* version;        ///< the plugin's own version, e.g. "1.0.0"
	const char* description;    ///< one line
	const ConfigKey* configKeys;
	std::uint32_t configKeyCount;
	Plugin* (*create)();      ///< allocates the plugin; nullptr on failure
	void (*destroy)(Plugin*); ///< frees what create made (whoever allocates frees)
};


} // namespace Switchboard


/// The name of the one symbol every plugin library exports.
#define SWITCHBOARD_ENTRY_SYMBOL "switchboard_plugin_entry"

/// Exports a plugin. Use once per library, at namespace scope, with a function returning a
/// reference to a static PluginDescriptor:
///     SWITCHBOARD_PLUGIN(echoDescriptor)
/// The host calls the entry point once, from its main thread, before anything else.
#define SWITCHBOARD_PLUGIN(descriptorFunction)                                                                         \
	SWITCHBOARD_EXPORT const ::Switchboard::PluginDescriptor* switchboard_plugin_entry()                               \
	{                                                                                                                  \
		return &descriptorFunction();                                                                                  \
	}


namespace Switchboard {


template <class PluginClass>
PluginDescriptor makeDescriptor(const char* id, const char* name, const char* version, const char* description,
                                const ConfigKey* keys, std::uint32_t keyCount)
/// Fills a descriptor for a plugin class with a default constructor, stamped with this build's
/// ABI numbers and signature. Keep the result in a function-local static.
{
	PluginDescriptor d{};
	d.structSize = sizeof(PluginDescriptor);
	d.abiMajor = ABI_MAJOR;
	d.abiMinor = ABI_MINOR;
	d.buildSignature = SWITCHBOARD_BUILD_SIGNATURE;
	d.id = id;
	d.name = name;
	d.version = version;
	d.description = description;
	d.configKeys = keys;
	d.configKeyCount = keyCount;
	d.create = []() -> Plugin* { return new (std::nothrow) PluginClass(); };
	d.destroy = [](Plugin* p) { delete p; };
	return d;
}


} // namespace Switchboard


#endif // Switchboard_Plugin_INCLUDED
