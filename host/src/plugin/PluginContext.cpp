//
// PluginContext.cpp
//


#include "plugin/PluginContext.h"
#include "net/EventLoop.h"
#include "switchboard/util/CloseRules.h"
#include "switchboard/util/Json.h"
#include "Poco/RandomStream.h"
#include <openssl/rand.h>
#include <algorithm>
#include <chrono>


namespace Switchboard {
namespace Core {


std::int64_t SystemClock::monotonicMs() const noexcept
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}


std::int64_t SystemClock::wallMs() const noexcept
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


PluginContext::PluginContext(PluginId id, std::string name, std::string prefix, int listener, Config config,
                             Metrics& metrics, Storage& storage, const PluginServices& services):
    _id(id),
    _name(std::move(name)),
    _prefix(std::move(prefix)),
    _listener(listener),
    _config(std::move(config)),
    _metrics(metrics),
    _storage(storage),
    _services(services),
    _logger(Poco::Logger::get("plugin." + _name))
{
	// Created up front so every site shows on /metrics at 0 and counting takes no lock.
	for (std::size_t i = 0; i < _exceptions.size(); ++i)
	{
		_exceptions[i] = &_services.hostMetrics->counter(
		    "plugin_exceptions_total", "Exceptions caught from plugin code, by plugin and call site",
		    Labels{{"plugin", _name}, {"site", siteName(static_cast<PluginSite>(i))}});
	}
	// Per plugin, for the console's charts: every endpoint of the plugin counts into the same series.
	_connectionsGauge = &_services.hostMetrics->gauge(
	    "plugin_connections_open", "WebSocket connections open on the plugin's endpoints", Labels{{"plugin", _name}});
	_messagesIn = &_services.hostMetrics->counter("plugin_messages_received_total",
	                                              "WebSocket messages received on the plugin's endpoints",
	                                              Labels{{"plugin", _name}});
	_messagesOut = &_services.hostMetrics->counter(
	    "plugin_messages_sent_total", "WebSocket messages sent on the plugin's endpoints", Labels{{"plugin", _name}});
	// Name callbacks run on the loop that asked (in the order asked), else on a worker.
	auto postFactory = [this]() -> PluginNames::Post {
		EventLoop* origin = EventLoop::current();
		int loopIndex = origin ? origin->index() : -1;
		return [this, loopIndex](std::function<void()> task) {
			if (loopIndex >= 0)
				_services.transport->post(loopIndex, std::move(task), this);
			else
				_services.workers->submit([this, task = std::move(task)] { guarded(PluginSite::COMPLETION, task); });
		};
	};
	_names = std::make_unique<PluginNames>(_name, _services.cluster, postFactory, [this](ConnectionId owner) {
		_logger.warning("a name of connection " + std::to_string(owner) +
		                " was claimed elsewhere while Redis was unreachable; closing it (1012) so its client "
		                "reconnects");
		close(owner, CloseCode::SERVICE_RESTART, "name lost");
	});
	_channel = std::make_unique<PluginChannel>(_name, _services.cluster, *this, _logger);
}


PluginContext::~PluginContext() = default;


void PluginContext::caught(PluginSite site, const char* what) noexcept
{
	_exceptions[static_cast<std::size_t>(site)]->increment();
	try
	{
		if (what)
			_logger.error("plugin %s threw from %s: %s", _name, std::string(siteName(site)), std::string(what));
		else
			_logger.error("plugin %s threw from %s (not a std::exception)", _name, std::string(siteName(site)));
	}
	catch (...)
	{
		// Logging failed (memory): the counter still shows it.
	}
}


bool PluginContext::addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
                             RouteOptions options, bool onLoop)
{
	Route route{this, _prefix, std::string(method), RoutePattern(), options, std::move(handler), onLoop};
	std::string error;
	if (!RoutePattern::parse(pattern, route.pattern, error))
	{
		_logger.error("route pattern '%s': %s", std::string(pattern), error);
		return false;
	}
	if (!_services.http->addRoute(_listener, std::move(route), error))
	{
		_logger.error(error);
		return false;
	}
	++_routes;
	_mounts.push_back(std::string(method) + " " + _prefix + std::string(pattern));
	return true;
}


bool PluginContext::addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options)
{
	if (path.empty() || path.front() != '/')
	{
		_logger.error("WebSocket path '%s' must start with '/'", std::string(path));
		return false;
	}
	std::string problem = CloseRules::checkOptions(options);
	if (!problem.empty())
	{
		_logger.error("WebSocket path '%s': %s", std::string(path), problem);
		return false;
	}
	auto endpoint = std::make_unique<Endpoint>();
	endpoint->path = _prefix + std::string(path);
	endpoint->handler = &handler;
	endpoint->owner = this;
	endpoint->maxMessageSize = options.maxMessageSize > 0 ? options.maxMessageSize : _services.defaultMaxMessageSize;
	endpoint->idleTimeoutMs = options.idleTimeoutMs >= 0 ? options.idleTimeoutMs : _services.defaultIdleTimeoutMs;
	endpoint->pingIntervalMs = options.pingIntervalMs >= 0 ? options.pingIntervalMs : _services.defaultPingIntervalMs;
	endpoint->maxOutputQueue =
	    options.maxOutputQueue > 0 ? static_cast<std::size_t>(options.maxOutputQueue) : _services.defaultMaxOutputQueue;
	// The reasons are copied: the host's endpoint does not depend on the plugin's strings.
	endpoint->idleCloseCode = CloseRules::idleCode(options);
	endpoint->idleCloseReason = CloseRules::idleReason(options);
	endpoint->overflowCloseCode = CloseRules::overflowCode(options);
	endpoint->overflowCloseReason = CloseRules::overflowReason(options);
	endpoint->overflowCloseSent = CloseRules::hasOverflowClose(options);
	// -1 stays -1: the connection then takes the transport's [websocket] value.
	endpoint->closeTimeoutMs = options.closeTimeoutMs;
	endpoint->sendStallTimeoutMs = options.sendStallTimeoutMs;
	endpoint->invalidTextCloseCode = options.invalidTextCloseCode;
	if (options.invalidTextCloseReason && options.invalidTextCloseCode != CloseCode::NONE)
		endpoint->invalidTextCloseReason = options.invalidTextCloseReason;
	endpoint->maxOutputMessages = static_cast<std::size_t>(options.maxOutputMessages);
	endpoint->deliverPings = options.deliverPings;
	endpoint->shutdownCloseTimeoutMs = options.shutdownCloseTimeoutMs;
	endpoint->acceptInvalidText = options.acceptInvalidText;
	endpoint->pingOnSchedule = options.pingOnSchedule;
	endpoint->pluginConnections = _connectionsGauge;
	endpoint->pluginMessagesIn = _messagesIn;
	endpoint->pluginMessagesOut = _messagesOut;
	std::string mount = "WS " + endpoint->path;
	std::string error;
	if (!_services.http->addEndpoint(_listener, std::move(endpoint), error))
	{
		_logger.error(error);
		return false;
	}
	++_endpoints;
	_mounts.push_back(mount);
	return true;
}


std::string PluginContext::mountsJson() const
{
	std::string out = "[";
	for (std::size_t i = 0; i < _mounts.size(); ++i)
	{
		if (i > 0)
			out += ',';
		Json::appendString(out, _mounts[i]);
	}
	return out + "]";
}


TimerId PluginContext::schedule(std::int64_t delayMs, std::int64_t intervalMs, std::function<void()> callback)
{
	TimerId id = _nextTimer.fetch_add(1);
	int loop = _services.transport->timerLoop();
	auto state = std::make_shared<std::atomic<int>>(0);
	{
		std::lock_guard<std::mutex> lock(_timerMutex);
		_timers.emplace(id, TimerEntry{loop, state});
	}
	_services.transport->scheduleTimer(loop, *this, id, delayMs, intervalMs, std::move(callback), std::move(state));
	return id;
}


TimerId PluginContext::after(std::int64_t delayMs, std::function<void()> callback)
{
	return schedule(delayMs, 0, std::move(callback));
}


TimerId PluginContext::every(std::int64_t intervalMs, std::function<void()> callback)
{
	std::int64_t interval = intervalMs < 1 ? 1 : intervalMs;
	return schedule(interval, interval, std::move(callback));
}


bool PluginContext::cancel(TimerId timer) noexcept
{
	TimerEntry entry;
	{
		std::lock_guard<std::mutex> lock(_timerMutex);
		auto it = _timers.find(timer);
		if (it == _timers.end())
			return false;
		entry = std::move(it->second);
		_timers.erase(it);
	}
	int expected = 0;
	bool cancelled = entry.state->compare_exchange_strong(expected, 1);
	if (cancelled)
	{
		try
		{
			_services.transport->unscheduleTimer(entry.loop, *this, timer);
		}
		catch (...)
		{
			// No memory for the posted removal: the loop skips the cancelled timer when it comes due.
		}
	}
	return cancelled;
}


void PluginContext::timerFinished(TimerId timer) noexcept
{
	std::lock_guard<std::mutex> lock(_timerMutex);
	_timers.erase(timer);
}


std::size_t PluginContext::timerCount() const
{
	std::lock_guard<std::mutex> lock(_timerMutex);
	return _timers.size();
}


void PluginContext::cancelAllTimers()
{
	std::vector<TimerId> ids;
	{
		std::lock_guard<std::mutex> lock(_timerMutex);
		for (const auto& entry : _timers)
			ids.push_back(entry.first);
	}
	for (TimerId id : ids)
		cancel(id);
}


void PluginContext::offloadGuarded(std::function<void()> work, std::function<void()> completion)
{
	EventLoop* origin = EventLoop::current();
	int loopIndex = origin ? origin->index() : -1;
	Transport* transport = _services.transport;
	_services.workers->submit(
	    [this, work = std::move(work), completion = std::move(completion), transport, loopIndex]() mutable {
		    // The completion runs even when the work threw: callers learn the outcome from their state.
		    guarded(PluginSite::OFFLOAD, work);
		    if (!completion)
			    return;
		    if (loopIndex >= 0)
			    transport->post(loopIndex, std::move(completion), this);
		    else
			    guarded(PluginSite::COMPLETION, completion);
	    });
}


void PluginContext::offload(std::function<void()> work, std::function<void()> completion)
{
	offloadGuarded(std::move(work), std::move(completion));
}


void PluginContext::holdConnectionsOpen(std::int64_t ms) noexcept
{
	if (_inStopping && ms > _heldOpenMs)
		_heldOpenMs = ms;
}


void PluginContext::randomBytes(void* buffer, std::size_t length) noexcept
{
	// OpenSSL's CSPRNG (getrandom() underneath): thread-safe and, unlike a /dev/urandom stream per
	// thread, holds no descriptor (the soak test saw one per thread). Poco's stream only if it fails.
	auto* bytes = static_cast<unsigned char*>(buffer);
	while (length > 0)
	{
		const int chunk = static_cast<int>(std::min<std::size_t>(length, 1 << 20));
		if (RAND_bytes(bytes, chunk) != 1)
		{
			Poco::RandomInputStream fallback;
			fallback.read(reinterpret_cast<char*>(bytes), static_cast<std::streamsize>(length));
			return;
		}
		bytes += chunk;
		length -= static_cast<std::size_t>(chunk);
	}
}


SendResult PluginContext::send(ConnectionId to, std::string_view data, MessageKind kind)
{
	if (remote(to))
	{
		// At most once across nodes: a drop (Redis away, queue full) is counted, not reported.
		_services.cluster->send(_name, to, data, kind);
		return SendResult::QUEUED;
	}
	return _services.transport->send(*this, to, data, kind);
}


void PluginContext::close(ConnectionId id, std::uint16_t code, std::string_view reason)
{
	if (remote(id))
		_services.cluster->close(_name, id, code, reason);
	else
		_services.transport->close(*this, id, code, reason);
}


bool PluginContext::runOn(ConnectionId id, std::function<void(Connection&)> task)
{
	if (remote(id))
		return false; // a task cannot travel: plugins send messages to connections on other nodes
	return _services.transport->runOn(*this, id, std::move(task));
}


void PluginContext::remoteSend(ConnectionId to, std::string_view data, MessageKind kind)
{
	if (!remote(to))
		_services.transport->send(*this, to, data, kind);
}


void PluginContext::remoteClose(ConnectionId id, std::uint16_t code, std::string_view reason)
{
	if (!remote(id))
		_services.transport->close(*this, id, code, reason);
}


void PluginContext::nameChanged(std::string_view name, ConnectionId owner)
{
	// The watchers are plugin code: a throw must not end the cluster's thread.
	guarded(PluginSite::CLUSTER, [&] { _names->nameChanged(name, owner); });
}


void PluginContext::remotePublish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except)
{
	publishHere(group, data, kind, except);
}


void PluginContext::join(std::string_view group, ConnectionId id)
{
	if (id == 0)
		return;
	std::lock_guard<std::mutex> lock(_groupMutex);
	auto& members = _groups[std::string(group)];
	if (members.insert(id).second)
	{
		_membership[id].emplace_back(group);
		if (members.size() == 1 && _services.cluster)
			_services.cluster->subscribeGroup(_name, group); // the first member here: hear other nodes
	}
}


void PluginContext::leave(std::string_view group, ConnectionId id)
{
	std::lock_guard<std::mutex> lock(_groupMutex);
	auto it = _groups.find(std::string(group));
	if (it == _groups.end() || it->second.erase(id) == 0)
		return;
	if (it->second.empty())
	{
		if (_services.cluster)
			_services.cluster->unsubscribeGroup(_name, group);
		_groups.erase(it);
	}
	auto m = _membership.find(id);
	if (m == _membership.end())
		return;
	auto& names = m->second;
	auto name = std::find(names.begin(), names.end(), group);
	if (name != names.end())
		names.erase(name);
	if (names.empty())
		_membership.erase(m);
}


void PluginContext::connectionFinished(ConnectionId id) noexcept
{
	try
	{
		_names->connectionFinished(id);
	}
	catch (...)
	{
		_logger.error("freeing the names of a closed connection failed (out of memory?)");
	}
	std::lock_guard<std::mutex> lock(_groupMutex);
	auto m = _membership.find(id);
	if (m == _membership.end())
		return;
	for (const auto& name : m->second)
	{
		auto g = _groups.find(name);
		if (g != _groups.end())
		{
			g->second.erase(id);
			if (g->second.empty())
			{
				if (_services.cluster)
					_services.cluster->unsubscribeGroup(_name, name);
				_groups.erase(g);
			}
		}
	}
	_membership.erase(m);
}


std::size_t PluginContext::publish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except)
{
	if (_services.cluster)
		_services.cluster->publish(_name, group, data, kind, except);
	return publishHere(group, data, kind, except);
}


std::size_t PluginContext::publishHere(std::string_view group, std::string_view data, MessageKind kind,
                                       ConnectionId except)
{
	std::vector<ConnectionId> members;
	{
		std::lock_guard<std::mutex> lock(_groupMutex);
		auto it = _groups.find(std::string(group));
		if (it == _groups.end())
			return 0;
		members.reserve(it->second.size());
		for (ConnectionId id : it->second)
		{
			if (id != except)
				members.push_back(id);
		}
	}
	if (!members.empty())
		_services.transport->deliver(*this, members, data, kind);
	return members.size();
}


std::size_t PluginContext::groupSize(std::string_view group) const noexcept
{
	try
	{
		std::lock_guard<std::mutex> lock(_groupMutex);
		auto it = _groups.find(std::string(group));
		return it == _groups.end() ? 0 : it->second.size();
	}
	catch (...)
	{
		return 0; // no memory for the key: the group cannot be looked up
	}
}


std::size_t PluginContext::groupCount() const
{
	std::lock_guard<std::mutex> lock(_groupMutex);
	return _groups.size();
}


namespace {
Poco::Message::Priority priorityOf(LogLevel level)
{
	switch (level)
	{
		case LogLevel::LEVEL_TRACE:
			return Poco::Message::PRIO_TRACE;
		case LogLevel::LEVEL_DEBUG:
			return Poco::Message::PRIO_DEBUG;
		case LogLevel::LEVEL_INFO:
			return Poco::Message::PRIO_INFORMATION;
		case LogLevel::LEVEL_NOTICE:
			return Poco::Message::PRIO_NOTICE;
		case LogLevel::LEVEL_WARNING:
			return Poco::Message::PRIO_WARNING;
		default:
			return Poco::Message::PRIO_ERROR;
	}
}
} // namespace


bool PluginContext::enabled(LogLevel level) const noexcept
{
	return _logger.is(priorityOf(level));
}


void PluginContext::log(LogLevel level, std::string_view message)
{
	Poco::Message::Priority p = priorityOf(level);
	if (_logger.is(p))
		_logger.log(Poco::Message(_logger.name(), std::string(message), p));
}


} // namespace Core
} // namespace Switchboard
