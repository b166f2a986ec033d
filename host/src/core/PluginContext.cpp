//
// PluginContext.cpp
//


#include "core/PluginContext.h"
#include "core/EventLoop.h"
#include "Poco/RandomStream.h"
#include <algorithm>
#include <chrono>
#include <fstream>


namespace Switchboard {
namespace Core {


std::int64_t SystemClock::monotonicMs() const
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}


std::int64_t SystemClock::wallMs() const
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


PluginContext::PluginContext(std::string name, std::string prefix, int listener, Config config, Metrics& metrics,
                             Storage& storage, const PluginServices& services):
    _name(std::move(name)),
    _prefix(std::move(prefix)),
    _listener(listener),
    _config(std::move(config)),
    _metrics(metrics),
    _storage(storage),
    _services(services),
    _logger(Poco::Logger::get("plugin." + _name))
{
}


bool PluginContext::addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
                             RouteOptions options)
{
	if (!_registrationOpen)
	{
		_logger.error("addRoute(%s %s) called outside start(); ignored", std::string(method), std::string(pattern));
		return false;
	}
	Route route{this, _name, _prefix, std::string(method), RoutePattern(), options, std::move(handler), &_logger};
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
	if (!_registrationOpen)
	{
		_logger.error("addWebSocket(%s) called outside start(); ignored", std::string(path));
		return false;
	}
	if (path.empty() || path.front() != '/')
	{
		_logger.error("WebSocket path '%s' must start with '/'", std::string(path));
		return false;
	}
	auto endpoint = std::make_unique<Endpoint>();
	endpoint->path = _prefix + std::string(path);
	endpoint->handler = &handler;
	endpoint->owner = this;
	endpoint->pluginName = _name;
	endpoint->logger = &_logger;
	endpoint->maxMessageSize = options.maxMessageSize > 0 ? options.maxMessageSize : _services.defaultMaxMessageSize;
	endpoint->idleTimeoutMs = options.idleTimeoutMs >= 0 ? options.idleTimeoutMs : _services.defaultIdleTimeoutMs;
	endpoint->pingIntervalMs = options.pingIntervalMs >= 0 ? options.pingIntervalMs : _services.defaultPingIntervalMs;
	endpoint->maxOutputQueue =
	    options.maxOutputQueue > 0 ? static_cast<std::size_t>(options.maxOutputQueue) : _services.defaultMaxOutputQueue;
	endpoint->idleCloseCode =
	    options.idleCloseCode >= 0 ? static_cast<std::uint16_t>(options.idleCloseCode) : CloseCode::GOING_AWAY;
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
		out += i ? ",\"" : "\"";
		for (char c : _mounts[i])
		{
			if (c == '"' || c == '\\')
				out += '\\';
			out += c;
		}
		out += '"';
	}
	return out + "]";
}


TimerId PluginContext::after(std::int64_t delayMs, std::function<void()> callback)
{
	TimerId id = _services.transport->addTimer(delayMs, 0, std::move(callback));
	std::lock_guard<std::mutex> lock(_timerMutex);
	_timers.push_back(id);
	return id;
}


TimerId PluginContext::every(std::int64_t intervalMs, std::function<void()> callback)
{
	if (intervalMs < 1)
		intervalMs = 1;
	TimerId id = _services.transport->addTimer(intervalMs, intervalMs, std::move(callback));
	std::lock_guard<std::mutex> lock(_timerMutex);
	_timers.push_back(id);
	return id;
}


bool PluginContext::cancel(TimerId timer)
{
	{
		std::lock_guard<std::mutex> lock(_timerMutex);
		_timers.erase(std::remove(_timers.begin(), _timers.end(), timer), _timers.end());
	}
	return _services.transport->cancelTimer(timer);
}


void PluginContext::cancelAllTimers()
{
	std::vector<TimerId> timers;
	{
		std::lock_guard<std::mutex> lock(_timerMutex);
		timers.swap(_timers);
	}
	for (TimerId id : timers)
		_services.transport->cancelTimer(id);
}


void offloadWork(WorkerPool& workers, Transport& transport, std::function<void()> work,
                 std::function<void()> completion)
{
	EventLoop* origin = EventLoop::current();
	int loopIndex = origin ? origin->index() : -1;
	Transport* t = &transport;
	workers.submit([work = std::move(work), completion = std::move(completion), t, loopIndex] {
		try
		{
			work();
		}
		catch (...)
		{
			// The completion still runs: callers learn the outcome from their own state.
		}
		if (!completion)
			return;
		if (loopIndex >= 0)
			t->post(loopIndex, completion);
		else
			completion();
	});
}


void PluginContext::offload(std::function<void()> work, std::function<void()> completion)
{
	offloadWork(*_services.workers, *_services.transport, std::move(work), std::move(completion));
}


bool PluginContext::runOn(ConnectionId id, std::function<void(Connection&)> task)
{
	return _services.transport->runOn(this, id, std::move(task));
}


void PluginContext::randomBytes(void* buffer, std::size_t length)
{
	// /dev/urandom through Poco's RandomInputStream falls back to a weaker generator when the
	// device is missing; read it directly so a failure is visible instead.
	static thread_local std::ifstream urandom("/dev/urandom", std::ios::binary);
	urandom.read(static_cast<char*>(buffer), static_cast<std::streamsize>(length));
	if (!urandom)
	{
		urandom.clear();
		Poco::RandomInputStream fallback;
		fallback.read(static_cast<char*>(buffer), static_cast<std::streamsize>(length));
	}
}


SendResult PluginContext::send(ConnectionId to, std::string_view data, MessageKind kind)
{
	return _services.transport->send(this, to, data, kind);
}


void PluginContext::close(ConnectionId id, std::uint16_t code, std::string_view reason)
{
	_services.transport->close(this, id, code, reason);
}


void PluginContext::join(std::string_view group, ConnectionId id)
{
	_services.transport->join(this, group, id);
}


void PluginContext::leave(std::string_view group, ConnectionId id)
{
	_services.transport->leave(this, group, id);
}


std::size_t PluginContext::publish(std::string_view group, std::string_view data, MessageKind kind, ConnectionId except)
{
	return _services.transport->publish(this, group, data, kind, except);
}


std::size_t PluginContext::groupSize(std::string_view group) const
{
	return _services.transport->groupSize(this, group);
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


bool PluginContext::enabled(LogLevel level) const
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
