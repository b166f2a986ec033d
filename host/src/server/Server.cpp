//
// Server.cpp
//


#include "server/Server.h"
#include "metrics/MetricsRegistry.h"
#include "plugin/PluginContext.h"
#include "plugin/PluginLoader.h"
#include "cluster/ClusterNode.h"
#include "console/Console.h"
#include "console/LogRing.h"
#include "net/Transport.h"
#include "server/WorkerPool.h"
#if SWITCHBOARD_POSTGRESQL
#include "storage/PostgresStorage.h"
#endif
#include "storage/SqliteStorage.h"
#include "switchboard/util/Json.h"
#include "Poco/Logger.h"
#include "Poco/Net/IPAddress.h"
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#if defined(_WIN32)
#include <fstream>
#else
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif


namespace Switchboard {
namespace Core {


struct Server::LoadedPlugin
{
	PluginMount mount;
	const PluginDescriptor* descriptor = nullptr;
	std::unique_ptr<PluginStorage> storage;
	std::unique_ptr<PluginContext> context;
	Plugin* instance = nullptr;
	std::string state = "loading"; ///< running, declined, failed, stopped
	std::string message;

	void destroyInstance()
	{
		if (instance)
		{
			descriptor->destroy(instance);
			instance = nullptr;
		}
	}

	~LoadedPlugin() { destroyInstance(); }
};


namespace {

Poco::Logger& hostLogger()
{
	return Poco::Logger::get("host");
}

std::size_t deriveConnectionCap(std::size_t configured)
{
#if defined(_WIN32)
	// No descriptor limit to derive from; WSAPoll (the pollset poller) scans every socket on each
	// wait, so the default stays modest: Windows is a correctness target, not a scale one.
	const std::size_t cap = 10000;
	hostLogger().information("connection cap %z", configured > 0 ? configured : cap);
	return configured > 0 ? configured : cap;
#else
	// Raise the soft descriptor limit to the hard one and keep headroom for listeners,
	// storage files, logs and HTTP requests, so upgrades get 503 instead of EMFILE.
	rlimit limit{};
	std::size_t usable = 1024;
	if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
	{
		if (limit.rlim_cur < limit.rlim_max)
		{
			limit.rlim_cur = limit.rlim_max;
			::setrlimit(RLIMIT_NOFILE, &limit);
			::getrlimit(RLIMIT_NOFILE, &limit);
		}
		usable = limit.rlim_cur == RLIM_INFINITY ? 1000000 : static_cast<std::size_t>(limit.rlim_cur);
	}
	std::size_t headroom = std::min<std::size_t>(256, usable / 4);
	std::size_t cap = usable > headroom ? usable - headroom : 1;
	hostLogger().information("open files limit %z; connection cap %z", usable,
	                         configured > 0 ? std::min(configured, cap) : cap);
	return configured > 0 ? std::min(configured, cap) : cap;
#endif
}


} // namespace


Server::Server(ServerSettings settings, PluginConfigValidator validator):
    _settings(std::move(settings)),
    _validator(std::move(validator))
{
}


Server::~Server()
{
	shutdown();
	_http.reset();
	_transport.reset();
	_workers.reset();
	_plugins.clear();
	_storage.reset();
	_metrics.reset();
	_libraries.clear();
}


void Server::reload()
{
	Poco::Logger& log = hostLogger();
	if (!_http || !_http->hasTls())
	{
		log.information("SIGHUP: no TLS listener whose files to re-read");
		return;
	}
	bool allLoaded = true;
	for (const std::string& line : _http->reloadTls(allLoaded))
	{
		if (allLoaded)
			log.notice("SIGHUP: %s", line);
		else
			log.warning("SIGHUP: %s", line);
	}
}


std::string Server::reconfigurePlugin(const std::string& name, const Config& config,
                                      const std::vector<std::string>& changedKeys)
{
	// The latest record of that name: an earlier one may be a disabled instance.
	for (auto it = _plugins.rbegin(); it != _plugins.rend(); ++it)
	{
		const auto& p = *it;
		if (p->mount.name != name)
			continue;
		if (p->state != "running" || p->instance == nullptr)
			return "it is " + p->state;
		if (p->descriptor->abiMinor < 3)
			return "it was built for SDK ABI " + std::to_string(p->descriptor->abiMajor) + "." +
			       std::to_string(p->descriptor->abiMinor) + ", before Plugin::reconfigure (4.3)";
		ReconfigureResult result;
		std::string thrown;
		if (!p->context->guarded(
		        PluginSite::RECONFIGURE, [&] { result = p->instance->reconfigure(config, changedKeys); }, &thrown))
			return "reconfigure() threw: " + thrown;
		return result.applied ? std::string() : result.message.empty() ? std::string("it declined") : result.message;
	}
	return "it is not loaded";
}


namespace {


bool isLoopbackAddress(const std::string& address)
{
	Poco::Net::IPAddress parsed;
	return Poco::Net::IPAddress::tryParse(address, parsed) && parsed.isLoopback();
}


} // namespace


bool Server::start(std::string& error)
{
	Poco::Logger& log = hostLogger();
	_settings.transport.maxConnections = deriveConnectionCap(_settings.transport.maxConnections);
	_clock = std::make_unique<SystemClock>();
	_startedAtMs = _clock->wallMs();
	_metrics = std::make_unique<MetricsRegistry>();
	Metrics& host = _metrics->scope("");
	TransportCounters counters;
	counters.openConnections = &host.gauge("connections_open", "WebSocket connections currently open");
	counters.acceptedConnections = &host.counter("connections_accepted_total", "WebSocket connections accepted");
	counters.messagesIn = &host.counter("messages_received_total", "WebSocket messages received from clients");
	counters.messagesOut = &host.counter("messages_sent_total", "WebSocket messages sent to clients");
	counters.bytesIn = &host.counter("received_bytes_total", "Bytes read from WebSocket connections");
	counters.bytesOut = &host.counter("sent_bytes_total", "Bytes written to WebSocket connections");
	counters.slowConsumerCloses =
	    &host.counter("slow_consumer_closes_total", "Connections closed because their output queue was full");
	counters.protocolErrors =
	    &host.counter("protocol_errors_total", "Connections failed for a WebSocket protocol error");
	counters.idleCloses = &host.counter("idle_closes_total", "Connections closed by the idle timeout");
	counters.memoryBudgetCloses =
	    &host.counter("memory_budget_closes_total",
	                  "Connections closed because the host's buffered memory passed max_buffered_total");
	_metrics->addCollector(processMetricsCollector());
	_metrics->addCollector([this](std::string& out) {
		out += "# HELP switchboard_plugin_up 1 for each plugin that is running\n# TYPE switchboard_plugin_up gauge\n";
		// One line per plugin name: after a disable and an enable the latest record speaks.
		std::map<std::string, bool> up;
		std::lock_guard<std::mutex> lock(_pluginsMutex);
		for (const auto& p : _plugins)
			up[p->mount.name] = p->state == "running";
		for (const auto& entry : up)
			out += "switchboard_plugin_up{plugin=\"" + entry.first + "\"} " + (entry.second ? "1" : "0") + "\n";
	});

	_workers = std::make_unique<WorkerPool>(_settings.workerThreads);
	if (_settings.storageBackend == "postgresql")
	{
#if SWITCHBOARD_POSTGRESQL
		_storage = std::make_unique<PostgresStorage>(_settings.postgresql, _settings.workerThreads);
#else
		error = "[storage] backend = postgresql: this build has no PostgreSQL support (SWITCHBOARD_POSTGRESQL=OFF)";
		_configurationFailure = true;
		shutdown();
		return false;
#endif
	}
	else
		_storage = std::make_unique<SqliteStorage>(_settings.storageDirectory);
	if (_settings.cluster.enabled && _settings.storageBackend != "postgresql")
		log.warning("cluster mode with SQLite storage: each node keeps its own plugin data (GoVPN rooms, "
		            "Together accounts); use [storage] backend = postgresql to share it (docs/cluster.md)");
	_transport = std::make_unique<Transport>(_settings.transport, Poco::Logger::get("transport"), counters);
	HttpCounters httpCounters;
	httpCounters.requests = &host.counter("http_requests_total", "HTTP requests answered (routes, upgrades, admin)");
	httpCounters.busy =
	    &host.counter("http_busy_total", "Route requests answered 503 because the handler queue was full");
	httpCounters.badRequests =
	    &host.counter("http_bad_requests_total", "HTTP requests refused before routing (malformed or over a limit)");
	httpCounters.timeouts = &host.counter("http_timeouts_total",
	                                      "HTTP connections closed by the request head, body or keep-alive deadline");
	httpCounters.openConnections = &host.gauge("http_connections_open", "HTTP connections open (not upgraded)");
	httpCounters.acceptPauses =
	    &host.counter("accept_pauses_total", "Times the listeners stopped accepting at max_connections");
	httpCounters.clientLimitRefusals = &host.counter(
	    "http_client_limit_refusals_total", "Connections answered 429: their address held max_connections_per_client");
	httpCounters.upgradeRateRefusals = &host.counter(
	    "http_upgrade_rate_refusals_total", "WebSocket upgrades answered 429: over the address's upgrades_per_second");
	httpCounters.pendingLimitRefusals = &host.counter(
	    "http_pending_limit_refusals_total", "Connections answered 503: max_pending_handshakes were in progress");
	httpCounters.pendingHandshakes =
	    &host.gauge("http_handshakes_pending", "Connections accepted whose first request head is not complete");
	if (_settings.cluster.enabled)
		_cluster = std::make_unique<Cluster::ClusterNode>(_settings.cluster, Poco::Logger::get("cluster"), host,
		                                                  [this] { return _transport->openConnections(); });
	_http = std::make_unique<HttpFront>(*_transport, _settings.http, Poco::Logger::get("http"), httpCounters);
	for (const ListenerSpec& spec : _settings.listeners)
		_http->addListener(spec);

	if (_settings.adminEnabled)
	{
		AdminHooks hooks;
		hooks.ready = [this] { return ready(); };
		hooks.configurationGeneration = [this] { return _configurationGeneration.load(); };
		hooks.healthy = [this](std::string& why) { return healthy(why); };
		hooks.metricsText = [this] { return renderMetrics(); };
		hooks.pluginsJson = [this] { return pluginsJson(); };
		if (_cluster)
			hooks.clusterJson = [this] { return _cluster->statusJson(); };
		hooks.statsJson = [this] { return statsJson(); };
		_configText = _settings.effectiveConfig;
		hooks.configText = [this] {
			std::lock_guard<std::mutex> lock(_configTextMutex);
			return _configText;
		};
		hooks.token = _settings.adminToken;
		if (_settings.adminToken.empty() && !isLoopbackAddress(_settings.adminAddress))
			log.warning("the admin listener on %s has no [admin] token: anyone who reaches it reads the metrics, "
			            "the recent log and the configuration (secrets masked); set [admin] token or bind it to "
			            "127.0.0.1",
			            _settings.adminAddress);
		if (!_settings.consoleDir.empty())
		{
			auto assets = std::make_shared<Console::Assets>();
			assets->load(_settings.consoleDir, Console::CHART_JS_PATH);
			std::string type, body, missing;
			if (!assets->find("/console/vendor/chart.js", type, body, missing))
				log.warning("admin console: %s", missing.substr(0, missing.size() - 1));
			if (!assets->find("/console", type, body, missing))
				log.warning("admin console: %s", missing.substr(0, missing.size() - 1));
			hooks.console = std::move(assets);
		}
		_http->setAdmin(_settings.adminAddress, _settings.adminPort, std::move(hooks));
	}
	_transport->start();
	if (!_http->loadTls(error))
	{
		_configurationFailure = true;
		shutdown();
		return false;
	}
	log.information("%d event loops (%s), %d worker threads", _transport->loopCount(),
	                std::string(_transport->loop(0).poller().backendName()), _settings.workerThreads);

	for (const PluginMount& mount : _settings.plugins)
	{
		std::string pluginError;
		if (startPlugin(mount, _validator, pluginError))
			continue;
		if (_settings.abortOnPluginFailure)
		{
			error = pluginError;
			shutdown();
			return false;
		}
		log.error("%s (skipped: on_plugin_failure = skip)", pluginError);
	}

	if (_cluster)
	{
		// After the plugins registered (their name channels are fixed from here on), before the
		// listeners accept: every connection id carries this node's number.
		try
		{
			_cluster->start();
		}
		catch (const Cluster::StartError& e)
		{
			error = e.what();
			shutdown();
			return false;
		}
		_transport->setNodeNumber(_cluster->number());
	}

	try
	{
		_http->start();
	}
	catch (Poco::Exception& exc)
	{
		error = exc.displayText();
		shutdown();
		return false;
	}
	_ready = true;
	log.information("Switchboard %s ready", std::string(SWITCHBOARD_VERSION));
	return true;
}


bool Server::startPlugin(const PluginMount& mount, const PluginConfigValidator& validator, std::string& error)
{
	auto record = std::make_unique<LoadedPlugin>();
	LoadedPlugin& p = *record;
	p.mount = mount;
	// Listed once complete, on every way out: the admin endpoints read the list from loop threads.
	struct ListWhenDone
	{
		Server& server;
		std::unique_ptr<LoadedPlugin>& record;
		~ListWhenDone()
		{
			std::lock_guard<std::mutex> lock(server._pluginsMutex);
			server._plugins.push_back(std::move(record));
		}
	} listWhenDone{*this, record};
	auto fail = [&](const std::string& why) {
		p.state = "failed";
		p.message = why;
		error = why;
		return false;
	};

	std::string path = _settings.pluginDir + "/" + PluginLoader::libraryFileName(mount.name);
	std::unique_ptr<PluginLibrary> library = PluginLoader::load(path, mount.name, error);
	if (!library)
		return fail(error);
	p.descriptor = &library->descriptor();
	_libraries.push_back(std::move(library));

	Config config;
	if (!validator(mount.name, p.descriptor->configKeys, p.descriptor->configKeyCount, config, error))
		return fail(error);
	int listener = _http->listenerIndex(mount.listener);
	if (listener < 0)
		return fail("plugin " + mount.name + ": listener '" + mount.listener + "' is not defined");

	LoadedPlugin* self = &p;
	p.storage = _storage->open(
	    mount.name,
	    [self](std::function<void()> work, std::function<void()> completion) {
		    // Storage is handed to the plugin only once its context exists.
		    self->context->offloadGuarded(std::move(work), std::move(completion));
	    },
	    error);
	if (!p.storage)
		return fail("plugin " + mount.name + ": storage: " + error);
	p.instance = p.descriptor->create();
	if (!p.instance)
		return fail("plugin " + mount.name + ": create() returned nothing");
	PluginServices services{_transport.get(),
	                        _http.get(),
	                        _workers.get(),
	                        _clock.get(),
	                        &_metrics->scope(""),
	                        _settings.transport.maxMessageSize,
	                        _settings.transport.idleTimeoutMs,
	                        _settings.transport.pingIntervalMs,
	                        _settings.transport.maxOutputQueue,
	                        _settings.storageDirectory,
	                        _cluster.get()};
	PluginId id = _nextPluginId++;
	p.context = std::make_unique<PluginContext>(id, mount.name, mount.prefix, listener, config,
	                                            _metrics->scope(mount.name), *p.storage, services);
	p.storage->setGuard(p.context.get());
	// Its routes appear as start() registers them; on a server already serving, none is used
	// before start() has returned.
	p.context->setRoutable(false);
	if (_cluster)
		_cluster->addMember(mount.name, *p.context);
	std::vector<Migration> migrations;
	std::string thrown;
	if (!p.context->guarded(
	        PluginSite::MIGRATIONS, [&] { migrations = p.instance->migrations(); }, &thrown))
		return fail("plugin " + mount.name + ": migrations() threw: " + thrown);
	if (!p.storage->applyMigrations(migrations, error))
		return fail("plugin " + mount.name + ": " + error);
	StartResult result;
	{
		PluginSetup setup(*p.context); // gone when start() returns: nothing can be mounted later
		if (!p.context->guarded(
		        PluginSite::START, [&] { result = p.instance->start(*p.context, setup); }, &thrown))
			result = StartResult::failed("start() threw: " + thrown);
	}
	if (result.status == StartStatus::STARTED)
	{
		p.state = "running";
		p.context->setRoutable(true);
		hostLogger().information("plugin %s %s started on listener %s at '%s' (%z routes, %z WebSocket endpoints)",
		                         mount.name, std::string(p.descriptor->version), mount.listener, mount.prefix,
		                         p.context->routeCount(), p.context->endpointCount());
		return true;
	}
	// Nothing of a plugin that did not start may stay reachable, nor run while it is destroyed.
	_http->removeOwner(p.context.get());
	p.context->cancelAllTimers();
	_transport->runOnEveryLoop([](EventLoop&) {}); // a timer it set in start() may be firing
	p.destroyInstance();
	if (result.status == StartStatus::DECLINED)
	{
		p.state = "declined";
		p.message = result.message;
		hostLogger().notice("plugin %s declined to start: %s", mount.name, result.message);
		return true;
	}
	return fail("plugin " + mount.name + " failed to start: " + result.message);
}


Server::LoadedPlugin* Server::findRunning(const std::string& name) const
{
	for (const auto& p : _plugins)
	{
		if (p->mount.name == name && p->state == "running" && p->instance)
			return p.get();
	}
	return nullptr;
}


std::string Server::disablePlugin(const std::string& name)
{
	if (_cluster)
		return "in cluster mode a plugin joins the cluster's channels at start-up only";
	LoadedPlugin* p = findRunning(name);
	if (!p)
		return "it is not running";
	Poco::Logger& log = hostLogger();
	auto started = std::chrono::steady_clock::now();
	// First nothing new reaches it; then, as at shutdown, it is told before its clients are closed.
	p->context->setRoutable(false);
	_http->removeOwner(p->context.get());
	p->context->setStopping(true);
	p->context->guarded(PluginSite::STOPPING, [&] { p->instance->stopping(); });
	p->context->setStopping(false);
	const std::int64_t deadlineMs = _settings.shutdownDeadlineMs;
	const std::int64_t holdMs = std::min<std::int64_t>(p->context->heldOpenMs(), deadlineMs / 2);
	if (holdMs > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(holdMs));
	const auto spentMs = [&] {
		return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
		    .count();
	};
	const std::size_t cut = _transport->closeOwnedBy(*p->context, p->context->connectionsGauge(), CloseCode::GOING_AWAY,
	                                                 "", std::max<std::int64_t>(100, deadlineMs - spentMs()));
	if (cut > 0)
		log.warning("plugin %s: %z connection(s) had not finished their closing handshake by the deadline; cut", name,
		            cut);
	// Route requests already handed to a worker finish before stop(), within the deadline.
	while (p->context->routesInFlight() > 0 && spentMs() < deadlineMs)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	p->context->cancelAllTimers();
	_transport->runOnEveryLoop([](EventLoop&) {}); // a timer callback already running has returned
	p->context->guarded(PluginSite::STOP, [&] { p->instance->stop(); });
	{
		std::lock_guard<std::mutex> lock(_pluginsMutex);
		p->state = "disabled";
		p->message = "disabled by a configuration reload";
	}
	log.notice("plugin %s disabled: its connections were closed with 1001 (%s ms)", name, std::to_string(spentMs()));
	return "";
}


std::string Server::enablePlugin(const PluginMount& mount, const PluginConfigValidator& validator)
{
	if (_cluster)
		return "in cluster mode a plugin joins the cluster's channels at start-up only";
	if (findRunning(mount.name))
		return "it is already running";
	std::string error;
	if (!startPlugin(mount, validator, error))
		return error;
	return "";
}


std::string Server::updateLimits(const ServerSettings& next)
{
	if (!_http)
		return "the server is not running";
	const std::string why = _http->updateSettings(next.http);
	if (!why.empty())
		return why;
	_settings.shutdownDeadlineMs = next.shutdownDeadlineMs; // read on this thread only
	return "";
}


void Server::setConfigText(std::string text)
{
	std::lock_guard<std::mutex> lock(_configTextMutex);
	_configText = std::move(text);
}


void Server::shutdown()
{
	if (_stopped)
		return;
	_stopped = true;
	_ready = false;
	Poco::Logger& log = hostLogger();
	// New clients are refused at once; requests already in progress finish (within the
	// deadline) while the admin listener keeps answering /readyz with 503.
	auto started = std::chrono::steady_clock::now();
	if (_transport)
		_transport->beginShutdown();
	if (_http)
	{
		_http->stopAccepting();
		if (!_http->drain(_settings.shutdownDeadlineMs))
			log.warning("shutdown deadline reached with HTTP requests still in progress");
	}
	std::int64_t holdMs = 0;
	for (auto& p : _plugins)
	{
		if (p->state != "running")
			continue;
		p->context->setStopping(true);
		p->context->guarded(PluginSite::STOPPING, [&] { p->instance->stopping(); });
		p->context->setStopping(false);
		holdMs = std::max(holdMs, p->context->heldOpenMs());
	}
	auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
	// What plugins asked for (Host::holdConnectionsOpen), within the shutdown deadline; the
	// event loops keep serving the connections meanwhile.
	holdMs = std::min<std::int64_t>(holdMs, _settings.shutdownDeadlineMs - spent.count() - 100);
	if (holdMs > 0)
	{
		log.information("holding connections open " + std::to_string(holdMs) + " ms, as plugins asked");
		std::this_thread::sleep_for(std::chrono::milliseconds(holdMs));
		spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
	}
	if (_transport)
		_transport->shutdown(CloseCode::GOING_AWAY, "",
		                     std::max<std::int64_t>(100, _settings.shutdownDeadlineMs - spent.count()));
	if (_http)
		_http->stop();
	for (auto& p : _plugins)
	{
		if (p->context)
			p->context->cancelAllTimers();
		if (p->state == "running")
		{
			p->context->guarded(PluginSite::STOP, [&] { p->instance->stop(); });
			std::lock_guard<std::mutex> lock(_pluginsMutex);
			p->state = "stopped";
		}
	}
	if (_cluster)
		_cluster->stop(); // before the contexts go: its subscriber thread delivers into them
	if (_workers)
		_workers->stop(); // offloaded work already queued still completes
	for (auto& p : _plugins)
	{
		p->destroyInstance();
		if (p->storage)
		{
			std::string why;
			if (!p->storage->flush(why))
				log.warning("storage of '" + p->mount.name + "': the final checkpoint failed (" + why +
				            "); what was committed stays in the -wal file and is replayed at the next start");
			p->storage->close();
		}
	}
	log.information("shutdown complete");
}


bool Server::healthy(std::string& why) const
{
	if (!_http || !_http->listening())
	{
		why = "listeners are not accepting";
		return false;
	}
	// Storage takes writes: a small file written and removed in the storage directory.
	std::error_code ignored;
	std::filesystem::create_directories(_settings.storageDirectory, ignored);
	std::string probe = _settings.storageDirectory + "/.switchboard-health";
#if defined(_WIN32)
	bool written = static_cast<bool>(std::ofstream(probe, std::ios::binary | std::ios::trunc) << "ok");
	std::filesystem::remove(probe, ignored);
#else
	int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool written = fd >= 0 && ::write(fd, "ok", 2) == 2;
	if (fd >= 0)
		::close(fd);
	::unlink(probe.c_str());
#endif
	if (!written)
	{
		why = "storage directory " + _settings.storageDirectory + " does not take writes";
		return false;
	}
	return true;
}


std::string Server::pluginsJson() const
{
	std::lock_guard<std::mutex> lock(_pluginsMutex);
	std::string out = "[";
	bool first = true;
	for (std::size_t i = 0; i < _plugins.size(); ++i)
	{
		const auto& p = _plugins[i];
		// A plugin disabled and enabled again has two records: the latest speaks.
		if (std::any_of(_plugins.begin() + static_cast<std::ptrdiff_t>(i) + 1, _plugins.end(),
		                [&p](const auto& later) { return later->mount.name == p->mount.name; }))
			continue;
		out += first ? "{" : ",{";
		first = false;
		out += "\"name\":" + Json::quote(p->mount.name);
		out += ",\"id\":" + Json::quote(p->descriptor ? p->descriptor->id : "");
		out += ",\"version\":" + Json::quote(p->descriptor ? p->descriptor->version : "");
		out += ",\"description\":" + Json::quote(p->descriptor ? p->descriptor->description : "");
		out += ",\"state\":" + Json::quote(p->state);
		if (!p->message.empty())
			out += ",\"message\":" + Json::quote(p->message);
		out += ",\"listener\":" + Json::quote(p->mount.listener);
		out += ",\"prefix\":" + Json::quote(p->mount.prefix);
		out += ",\"mounts\":" + (p->context ? p->context->mountsJson() : std::string("[]"));
		out += "}";
	}
	return out + "]";
}


std::string Server::statsJson() const
{
	std::int64_t now = _clock->wallMs();
	std::string out = "{\"version\":" + Json::quote(SWITCHBOARD_VERSION);
	out += ",\"time_ms\":" + std::to_string(now);
	out += ",\"started_ms\":" + std::to_string(_startedAtMs);
	out += ",\"uptime_seconds\":" + std::to_string((now - _startedAtMs) / 1000);
	out += std::string(",\"ready\":") + (ready() ? "true" : "false");
	out += ",\"configuration_generation\":" + std::to_string(_configurationGeneration.load());
	out += ",\"plugins\":" + pluginsJson();
	out += ",\"metrics\":" + Console::metricsJson(_metrics->renderPrometheus());
	out += ",\"log\":" + LogRing::process().json();
	return out + "}";
}


std::string Server::renderMetrics() const
{
	return _metrics->renderPrometheus();
}


} // namespace Core
} // namespace Switchboard
