//
// PluginContext.h
//
// The host as one plugin sees it: implements the SDK's Host, Router and Logger for that plugin,
// owns the plugin's groups and timers, and is the plugin's PluginSlot for the loops.
//


#ifndef Switchboard_Core_PluginContext_INCLUDED
#define Switchboard_Core_PluginContext_INCLUDED


#include "http/HttpFront.h"
#include "net/Transport.h"
#include "cluster/ClusterNode.h"
#include "plugin/PluginChannel.h"
#include "plugin/PluginNames.h"
#include "plugin/PluginSlot.h"
#include "server/WorkerPool.h"
#include "switchboard/Host.h"
#include "Poco/Logger.h"
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Core {


class SystemClock: public Clock
{
public:
	std::int64_t monotonicMs() const noexcept override;
	std::int64_t wallMs() const noexcept override;
};


struct PluginServices
/// Host-wide services shared by every plugin context; all outlive the contexts.
{
	Transport* transport;
	HttpFront* http;
	WorkerPool* workers;
	const Clock* clock;
	Metrics* hostMetrics; ///< where switchboard_plugin_exceptions_total{plugin,site} lives
	std::int64_t defaultMaxMessageSize;
	std::int64_t defaultIdleTimeoutMs;
	std::int64_t defaultPingIntervalMs;
	std::size_t defaultMaxOutputQueue;
	std::string dataDirectory;               ///< [storage] directory
	Cluster::ClusterNode* cluster = nullptr; ///< null on a single node
};


class PluginContext: public Host, public Router, public Logger, public PluginSlot, public Cluster::ClusterMember
{
public:
	PluginContext(PluginId id, std::string name, std::string prefix, int listener, Config config, Metrics& metrics,
	              Storage& storage, const PluginServices& services);
	~PluginContext() override;

	const Gauge& connectionsGauge() const { return *_connectionsGauge; }
	/// switchboard_plugin_connections_open{plugin}: what a disable waits to see at 0.
	std::size_t routeCount() const { return _routes; }
	std::size_t endpointCount() const { return _endpoints; }
	std::string mountsJson() const;
	std::size_t timerCount() const;
	/// Timers scheduled and neither fired (one-shot) nor cancelled.
	std::size_t groupCount() const;

	bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler, RouteOptions options,
	              bool onLoop = false);
	bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options);
	/// What Setup forwards to during Plugin::start (see PluginSetup).

	void cancelAllTimers();
	void setStopping(bool inStopping) noexcept { _inStopping = inStopping; }
	/// Server::stop brackets Plugin::stopping() with this: holdConnectionsOpen() counts only there.
	std::int64_t heldOpenMs() const noexcept { return _heldOpenMs; }
	/// The longest wait this plugin asked for in stopping().
	void offloadGuarded(std::function<void()> work, std::function<void()> completion);
	/// Host::offload; also what the plugin's Storage::executeAsync runs through.

	// Host
	std::string_view pluginName() const noexcept override { return _name; }
	std::string_view mountPrefix() const noexcept override { return _prefix; }
	const Config& config() const noexcept override { return _config; }
	Logger& logger() noexcept override { return *this; }
	Metrics& metrics() noexcept override { return _metrics; }
	const Clock& clock() const noexcept override { return *_services.clock; }
	Storage& storage() noexcept override { return _storage; }
	Router& router() noexcept override { return *this; }
	TimerId after(std::int64_t delayMs, std::function<void()> callback) override;
	TimerId every(std::int64_t intervalMs, std::function<void()> callback) override;
	bool cancel(TimerId timer) noexcept override;
	void offload(std::function<void()> work, std::function<void()> completion) override;
	bool runOn(ConnectionId id, std::function<void(Connection&)> task) override;
	void randomBytes(void* buffer, std::size_t length) noexcept override;
	void holdConnectionsOpen(std::int64_t ms) noexcept override;
	std::string_view dataDirectory() const noexcept override { return _services.dataDirectory; }
	NameRegistry& names() noexcept override { return *_names; }
	ClusterChannel& cluster() noexcept override { return *_channel; }

	// Router
	SendResult send(ConnectionId to, std::string_view data, MessageKind kind) override;
	void close(ConnectionId id, std::uint16_t code, std::string_view reason) override;
	void join(std::string_view group, ConnectionId id) override;
	void leave(std::string_view group, ConnectionId id) override;
	std::size_t publish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except) override;
	std::size_t groupSize(std::string_view group) const noexcept override;
	std::size_t publishLocal(std::string_view group, std::string_view data, MessageKind kind,
	                         ConnectionId except) override
	{
		return publishHere(group, data, kind, except);
	}

	// ClusterMember: what other nodes send this plugin (the cluster's subscriber thread)
	void remoteSend(ConnectionId to, std::string_view data, MessageKind kind) override;
	void remoteClose(ConnectionId id, std::uint16_t code, std::string_view reason) override;
	void remotePublish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except) override;
	void nameChanged(std::string_view name, ConnectionId owner) override;
	void remoteMessage(std::uint16_t fromNode, std::string_view data) override { _channel->message(fromNode, data); }
	void nodeLeft(std::uint16_t node) override { _channel->nodeLeft(node); }
	void synced() override { _channel->synced(); }
	void reassertNames() override { _names->reassert(); }

	// Logger
	bool enabled(LogLevel level) const noexcept override;
	void log(LogLevel level, std::string_view message) override;

	// PluginSlot
	PluginId pluginId() const noexcept override { return _id; }
	const std::string& slotName() const noexcept override { return _name; }
	void timerFinished(TimerId timer) noexcept override;
	void connectionFinished(ConnectionId id) noexcept override;

protected:
	void caught(PluginSite site, const char* what) noexcept override;

private:
	struct TimerEntry
	{
		int loop;
		std::shared_ptr<std::atomic<int>> state; ///< shared with the loop: 0 pending, 1 cancelled, 2 fired
	};

	TimerId schedule(std::int64_t delayMs, std::int64_t intervalMs, std::function<void()> callback);
	std::size_t publishHere(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except);
	bool remote(ConnectionId id) const { return _services.cluster && !_services.transport->isLocal(id); }

	std::atomic<bool> _inStopping{false};
	std::atomic<std::int64_t> _heldOpenMs{0};
	PluginId _id;
	std::string _name;
	std::string _prefix;
	int _listener;
	Config _config;
	Metrics& _metrics;
	Storage& _storage;
	PluginServices _services;
	Poco::Logger& _logger;
	std::array<Counter*, static_cast<std::size_t>(PluginSite::SITE_COUNT)> _exceptions{};
	Gauge* _connectionsGauge = nullptr; ///< switchboard_plugin_connections_open{plugin}
	Counter* _messagesIn = nullptr;     ///< switchboard_plugin_messages_received_total{plugin}
	Counter* _messagesOut = nullptr;    ///< switchboard_plugin_messages_sent_total{plugin}
	std::size_t _routes = 0;
	std::size_t _endpoints = 0;
	std::vector<std::string> _mounts;

	// A timer is in this table from after()/every() until it fires (one-shot) or is cancelled.
	mutable std::mutex _timerMutex;
	std::unordered_map<TimerId, TimerEntry> _timers;
	std::atomic<TimerId> _nextTimer{1};

	// Groups are this plugin's alone; a connection leaves all of them when it finishes.
	mutable std::mutex _groupMutex;
	std::unordered_map<std::string, std::set<ConnectionId>> _groups;
	std::unordered_map<ConnectionId, std::vector<std::string>> _membership;

	std::unique_ptr<PluginNames> _names;
	std::unique_ptr<PluginChannel> _channel;
};


class PluginSetup: public Setup
/// The Setup handed to one Plugin::start call; lives on the stack of that call's caller.
{
public:
	explicit PluginSetup(PluginContext& context):
	    _context(context)
	{
	}

	bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	              RouteOptions options) override
	{
		return _context.addRoute(method, pattern, std::move(handler), options);
	}

	bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options) override
	{
		return _context.addWebSocket(path, handler, options);
	}

	bool addLoopRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	                  RouteOptions options) override
	{
		return _context.addRoute(method, pattern, std::move(handler), options, true);
	}

private:
	PluginContext& _context;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginContext_INCLUDED
