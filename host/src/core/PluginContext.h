//
// PluginContext.h
//
// The host as one plugin sees it: implements the SDK's Host, Router and Logger for that plugin.
//


#ifndef Switchboard_Core_PluginContext_INCLUDED
#define Switchboard_Core_PluginContext_INCLUDED


#include "core/HttpFront.h"
#include "core/Transport.h"
#include "core/WorkerPool.h"
#include "switchboard/Host.h"
#include "Poco/Logger.h"
#include <string>


namespace Switchboard {
namespace Core {


class SystemClock: public Clock
{
public:
	std::int64_t monotonicMs() const override;
	std::int64_t wallMs() const override;
};


struct PluginServices
/// Host-wide services shared by every plugin context; all outlive the contexts.
{
	Transport* transport;
	HttpFront* http;
	WorkerPool* workers;
	const Clock* clock;
	std::int64_t defaultMaxMessageSize;
	std::int64_t defaultIdleTimeoutMs;
	std::int64_t defaultPingIntervalMs;
	std::size_t defaultMaxOutputQueue;
};


void offloadWork(WorkerPool& workers, Transport& transport, std::function<void()> work,
                 std::function<void()> completion);
///< Runs work on the pool; completion runs on the calling event loop (on the worker when the
///< caller is not a loop thread).


class PluginContext: public Host, public Router, public Logger
{
public:
	PluginContext(std::string name, std::string prefix, int listener, Config config, Metrics& metrics, Storage& storage,
	              const PluginServices& services);

	void setRegistrationOpen(bool open) { _registrationOpen = open; }
	std::size_t routeCount() const { return _routes; }
	std::size_t endpointCount() const { return _endpoints; }
	std::string mountsJson() const;

	// Host
	std::string_view pluginName() const override { return _name; }
	std::string_view mountPrefix() const override { return _prefix; }
	const Config& config() const override { return _config; }
	Logger& logger() override { return *this; }
	Metrics& metrics() override { return _metrics; }
	const Clock& clock() const override { return *_services.clock; }
	Storage& storage() override { return _storage; }
	Router& router() override { return *this; }
	bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	              RouteOptions options) override;
	bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options) override;
	TimerId after(std::int64_t delayMs, std::function<void()> callback) override;
	TimerId every(std::int64_t intervalMs, std::function<void()> callback) override;
	bool cancel(TimerId timer) override;
	void offload(std::function<void()> work, std::function<void()> completion) override;
	bool runOn(ConnectionId id, std::function<void(Connection&)> task) override;
	void randomBytes(void* buffer, std::size_t length) override;

	// Router
	SendResult send(ConnectionId to, std::string_view data, MessageKind kind) override;
	void close(ConnectionId id, std::uint16_t code, std::string_view reason) override;
	void join(std::string_view group, ConnectionId id) override;
	void leave(std::string_view group, ConnectionId id) override;
	std::size_t publish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except) override;
	std::size_t groupSize(std::string_view group) const override;

	// Logger
	bool enabled(LogLevel level) const override;
	void log(LogLevel level, std::string_view message) override;

	void cancelAllTimers();

private:
	std::string _name;
	std::string _prefix;
	int _listener;
	Config _config;
	Metrics& _metrics;
	Storage& _storage;
	PluginServices _services;
	Poco::Logger& _logger;
	bool _registrationOpen = false;
	std::size_t _routes = 0;
	std::size_t _endpoints = 0;
	std::vector<std::string> _mounts;
	std::mutex _timerMutex;
	std::vector<TimerId> _timers;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginContext_INCLUDED
