//
// Server.h
//
// Puts the host together: metrics, storage, transport, HTTP front, plugins; and takes it apart
// again in the right order on shutdown.
//


#ifndef Switchboard_Core_Server_INCLUDED
#define Switchboard_Core_Server_INCLUDED


#include "config/Settings.h"
#include "http/HttpFront.h"
#include "net/TransportSettings.h"
#include "switchboard/Plugin.h"
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>


namespace Switchboard {
namespace Cluster {
class ClusterNode;
}
namespace Core {


class MetricsRegistry;


using PluginConfigValidator = std::function<bool(const std::string& name, const ConfigKey* keys, std::size_t count,
                                                 Config& out, std::string& error)>;
///< Validates [plugin.<name>] against the plugin's declared keys (see HostConfig).


class Server
{
public:
	Server(ServerSettings settings, PluginConfigValidator validator);
	~Server();

	bool start(std::string& error);
	/// Loads and starts everything; on failure returns false with one readable line (and
	/// leaves nothing running).
	bool failedOnConfiguration() const { return _configurationFailure; }
	/// start() failed on what the operator configured (a TLS certificate or key): exit 78.

	void reload();
	/// SIGHUP: re-reads what can change without a restart (TLS certificates) and logs what it did.

	std::string reconfigurePlugin(const std::string& name, const Config& config,
	                              const std::vector<std::string>& changedKeys);
	/// A reload changed keys of plugin name's section: hands them to Plugin::reconfigure. ""
	/// when the plugin applied them; else why they wait for a restart (the plugin is not running,
	/// was built for an older SDK, declined, or threw). Main thread, between start() and shutdown().

	std::string disablePlugin(const std::string& name);
	/// A reload turned the plugin's `enabled` off: no new request or connection reaches it, it is
	/// told (stopping()), its connections are closed with 1001 (within the shutdown deadline; the
	/// other plugins' are untouched), its timers cancelled, then stop(). Its library and storage
	/// stay open until the process ends. "" when done, else why not. Main thread.

	std::string enablePlugin(const PluginMount& mount, const PluginConfigValidator& validator);
	/// A reload turned the plugin on (or it is back after a disable): started as at start-up,
	/// reachable once start() returned. validator checks its keys in the new configuration. ""
	/// when it runs (or declined), else why not. Main thread.

	std::string updateLimits(const ServerSettings& next);
	/// A reload: the [http] limits and timeouts (see HttpFront::updateSettings) and the shutdown
	/// deadline take next's values. "" when applied, else why not. Main thread.

	void setConfigText(std::string text);
	/// /console/config.txt after a reload: the effective configuration, secrets masked.

	void setConfigurationGeneration(std::uint64_t generation) { _configurationGeneration = generation; }
	/// What /readyz reports: 1 at start, one more per configuration reload that was applied.

	void shutdown();
	/// Graceful stop: no new connections, plugins told, clients closed with 1001, storage
	/// flushed, within the shutdown deadline. Idempotent.

	bool ready() const { return _ready.load(); }
	bool healthy(std::string& why) const;
	/// The public listeners accept and storage takes writes (/healthz).

private:
	struct LoadedPlugin;

	bool startPlugin(const PluginMount& mount, const PluginConfigValidator& validator, std::string& error);
	LoadedPlugin* findRunning(const std::string& name) const;
	std::string pluginsJson() const;
	std::string renderMetrics() const;
	std::string statsJson() const;

	// Declared first so it is destroyed last: plugin code must stay mapped until every object it
	// made (routes, timers, queued tasks, connection state) is gone.
	std::vector<std::unique_ptr<class PluginLibrary>> _libraries;
	ServerSettings _settings;
	PluginConfigValidator _validator;
	std::unique_ptr<MetricsRegistry> _metrics;
	std::unique_ptr<class StorageBackend> _storage;
	std::unique_ptr<class Transport> _transport;
	std::unique_ptr<Cluster::ClusterNode> _cluster; ///< null on a single node
	std::unique_ptr<HttpFront> _http;
	std::unique_ptr<class WorkerPool> _workers;
	std::unique_ptr<class SystemClock> _clock;
	std::vector<std::unique_ptr<LoadedPlugin>> _plugins; ///< appended to (a reload) under _pluginsMutex
	mutable std::mutex _pluginsMutex;                    ///< also guards each record's state and message
	PluginId _nextPluginId = 1;
	mutable std::mutex _configTextMutex;
	std::string _configText;
	std::atomic<bool> _ready{false};
	std::atomic<std::uint64_t> _configurationGeneration{1};
	bool _stopped = false;
	bool _configurationFailure = false;
	std::int64_t _startedAtMs = 0;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Server_INCLUDED
