//
// HttpFront.cpp
//


#include "http/HttpFront.h"
#include "http/HttpConnection.h"
#include "http/HttpListener.h"
#include "net/EventLoop.h"
#include "server/WorkerPool.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/SocketAddress.h"
#include <chrono>
#include <future>
#include <thread>


namespace Switchboard {
namespace Core {


HttpFront::HttpFront(Transport& transport, const HttpSettings& settings, Poco::Logger& logger,
                     const HttpCounters& counters):
    _transport(transport),
    _settings(std::make_shared<const HttpSettings>(settings)),
    _logger(logger),
    _counters(counters),
    _limits(settings)
{
}


HttpFront::~HttpFront()
{
	stop();
	// Loops are stopped by now (the Server stops the Transport first): connections and
	// acceptors are destroyed here, on the main thread, with no loop running.
	_shards.clear();
	for (auto& listener : _listeners)
		listener->acceptor.reset();
}


int HttpFront::addListener(const ListenerSpec& spec)
{
	auto listener = std::make_unique<Listener>();
	listener->spec = spec;
	_listeners.push_back(std::move(listener));
	return static_cast<int>(_listeners.size() - 1);
}


namespace {

TlsFiles tlsFilesOf(const ListenerSpec& spec)
{
	return TlsFiles{spec.tlsCertificate, spec.tlsKey, spec.tlsChain};
}

} // namespace


bool HttpFront::loadTls(std::string& error)
{
	for (auto& listener : _listeners)
	{
		TlsFiles files = tlsFilesOf(listener->spec);
		if (!files.enabled())
			continue;
		std::string why;
		std::shared_ptr<TlsContext> context = TlsContext::load(files, why);
		if (!context)
		{
			error = "[listener." + listener->spec.name + "] TLS: " + why;
			return false;
		}
		_logger.information("TLS on listener %s: %s", listener->spec.name, context->description());
		std::lock_guard<std::mutex> lock(listener->tlsMutex);
		listener->tls = std::move(context);
	}
	return true;
}


std::vector<std::string> HttpFront::reloadTls(bool& allLoaded)
{
	std::vector<std::string> report;
	allLoaded = true;
	for (auto& listener : _listeners)
	{
		TlsFiles files = tlsFilesOf(listener->spec);
		if (!files.enabled())
			continue;
		std::string why;
		std::shared_ptr<TlsContext> context = TlsContext::load(files, why);
		if (!context)
		{
			allLoaded = false;
			report.push_back("listener " + listener->spec.name +
			                 ": certificate not reloaded, keeping the current one: " + why);
			continue;
		}
		report.push_back("listener " + listener->spec.name + ": certificate reloaded: " + context->description());
		std::lock_guard<std::mutex> lock(listener->tlsMutex);
		listener->tls = std::move(context);
	}
	return report;
}


bool HttpFront::hasTls() const
{
	for (const auto& listener : _listeners)
	{
		if (listener->currentTls())
			return true;
	}
	return false;
}


int HttpFront::listenerIndex(const std::string& name) const
{
	for (std::size_t i = 0; i < _listeners.size(); ++i)
	{
		if (!_listeners[i]->admin && _listeners[i]->spec.name == name)
			return static_cast<int>(i);
	}
	return -1;
}


void HttpFront::setAdmin(const std::string& address, int port, AdminHooks hooks)
{
	auto listener = std::make_unique<Listener>();
	listener->spec = ListenerSpec{"admin", address, port, 64, "", "", ""};
	listener->admin = true;
	_listeners.push_back(std::move(listener));
	_admin = std::move(hooks);
}


bool HttpFront::addRoute(int listener, Route route, std::string& error)
{
	Listener& l = *_listeners.at(static_cast<std::size_t>(listener));
	std::lock_guard<std::mutex> lock(_mountsMutex);
	std::shared_ptr<const Listener::Mounts> current = l.mounts();
	for (const Route& existing : current->routes)
	{
		bool methodsOverlap = existing.method == route.method || existing.method == "*" || route.method == "*";
		if (methodsOverlap && existing.prefix == route.prefix && existing.pattern.sameShape(route.pattern))
		{
			error = "route " + route.method + " " + route.prefix + std::string(route.pattern.text()) +
			        " clashes with one of plugin " + existing.owner->slotName() + " on listener " + l.spec.name;
			return false;
		}
	}
	auto next = std::make_shared<Listener::Mounts>(*current);
	next->routes.push_back(std::move(route));
	l.replaceMounts(std::move(next));
	return true;
}


bool HttpFront::addEndpoint(int listener, std::unique_ptr<Endpoint> endpoint, std::string& error)
{
	Listener& l = *_listeners.at(static_cast<std::size_t>(listener));
	std::lock_guard<std::mutex> lock(_mountsMutex);
	std::shared_ptr<const Listener::Mounts> current = l.mounts();
	auto it = current->endpoints.find(endpoint->path);
	if (it != current->endpoints.end())
	{
		error = "WebSocket endpoint " + endpoint->path + " on listener " + l.spec.name +
		        " is already taken by plugin " + it->second->owner->slotName();
		return false;
	}
	std::shared_ptr<Endpoint> shared(std::move(endpoint));
	_everyEndpoint.push_back(shared);
	auto next = std::make_shared<Listener::Mounts>(*current);
	next->endpoints.emplace(shared->path, std::move(shared));
	l.replaceMounts(std::move(next));
	return true;
}


void HttpFront::removeOwner(const PluginSlot* owner)
{
	std::lock_guard<std::mutex> lock(_mountsMutex);
	for (auto& listener : _listeners)
	{
		auto next = std::make_shared<Listener::Mounts>(*listener->mounts());
		auto& routes = next->routes;
		routes.erase(std::remove_if(routes.begin(), routes.end(), [owner](const Route& r) { return r.owner == owner; }),
		             routes.end());
		for (auto it = next->endpoints.begin(); it != next->endpoints.end();)
			it = it->second->owner == owner ? next->endpoints.erase(it) : std::next(it);
		listener->replaceMounts(std::move(next));
	}
}


std::string HttpFront::updateSettings(const HttpSettings& next)
{
	const std::shared_ptr<const HttpSettings> current = settings();
	if (!_limits.tracksClients() && (next.maxConnectionsPerClient > 0 || next.upgradesPerSecond > 0))
		return "the per-client limits were both off at start (max_connections_per_client and "
		       "upgrades_per_second = 0), so nothing tracks clients until a restart";
	auto updated = std::make_shared<HttpSettings>(next);
	updated->maxThreads = current->maxThreads;
	updated->ipv6ClientPrefix = current->ipv6ClientPrefix;
	_limits.update(*updated);
	std::atomic_store(&_settings, std::shared_ptr<const HttpSettings>(std::move(updated)));
	return "";
}


void HttpFront::start()
{
	const int threads = settings()->maxThreads;
	_workers = std::make_unique<WorkerPool>(threads < 1 ? 1 : threads);
	_shards.resize(static_cast<std::size_t>(_transport.loopCount()));
	for (auto& listener : _listeners)
	{
		Poco::Net::SocketAddress address(listener->spec.address, static_cast<Poco::UInt16>(listener->spec.port));
		Poco::Net::ServerSocket socket;
		try
		{
			// SO_REUSEADDR for a quick restart, never SO_REUSEPORT: a second server started on the
			// same port by mistake must fail, not silently take half of the connections.
			socket.bind(address, true, false);
			// Accepted sockets inherit both from the listening socket (Linux copies its options):
			// two system calls fewer per client in a reconnect storm.
			socket.setNoDelay(true);
			socket.setKeepAlive(true);
			socket.listen(listener->spec.backlog);
		}
		catch (Poco::Exception& exc)
		{
			throw Poco::IOException("cannot listen on " + address.toString() + " (listener " + listener->spec.name +
			                        "): " + exc.displayText());
		}
		if (listener->spec.port == 0)
			listener->spec.port = socket.address().port();
		listener->acceptor = std::make_unique<HttpListener>(*this, _transport.loop(0), *listener, socket);
		_logger.information("listening on %s (%s)", socket.address().toString(), listener->spec.name);
	}
	_acceptingRequests = true;
	_started = true;
	runOnLoop0Sync([this] {
		for (auto& listener : _listeners)
			listener->acceptor->start();
	});
}


void HttpFront::runOnLoop0Sync(std::function<void()> task)
{
	auto done = std::make_shared<std::promise<void>>();
	std::future<void> finished = done->get_future();
	_transport.post(0, [task = std::move(task), done] {
		task();
		done->set_value();
	});
	// Bounded: a loop that does not answer within 10 s is stuck, and waiting longer helps nobody.
	finished.wait_for(std::chrono::seconds(10));
}


void HttpFront::stopAccepting()
{
	if (!_started)
		return;
	_acceptingRequests = false;
	runOnLoop0Sync([this] {
		for (auto& listener : _listeners)
		{
			if (!listener->admin && listener->acceptor && !listener->spec.serveWhileDraining)
				listener->acceptor->close();
		}
	});
	// Idle keep-alive connections close now; busy ones after their current response.
	for (int i = 0; i < _transport.loopCount(); ++i)
	{
		_transport.post(i, [this, i] {
			std::vector<HttpConnection*> all;
			for (auto& entry : _shards[static_cast<std::size_t>(i)].connections)
				all.push_back(entry.second.get());
			for (HttpConnection* c : all)
				c->drain();
		});
	}
}


bool HttpFront::drain(std::int64_t deadlineMs)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadlineMs);
	while (_inFlight.load() > 0 && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	return _inFlight.load() <= 0;
}


void HttpFront::stop()
{
	if (_workers)
	{
		_workers->stop(); // queued handlers still run; their responses find no loop and are dropped
		_workers.reset();
	}
}


bool HttpFront::listening() const
{
	if (!_started || !_acceptingRequests.load())
		return false;
	for (const auto& listener : _listeners)
	{
		if (!listener->acceptor || !listener->acceptor->open())
			return false;
	}
	return true;
}


bool HttpFront::atCapacity() const
{
	return _open.load(std::memory_order_relaxed) + _transport.openConnections() >= _transport.settings().maxConnections;
}


void HttpFront::connectionOpened()
{
	std::size_t n = ++_open;
	if (_counters.openConnections)
		_counters.openConnections->set(static_cast<std::int64_t>(n));
}


void HttpFront::connectionClosed()
{
	std::size_t n = --_open;
	if (_counters.openConnections)
		_counters.openConnections->set(static_cast<std::int64_t>(n));
}


void HttpFront::handshakeDone()
{
	_limits.handshakeDone();
	updatePendingGauge();
}


void HttpFront::updatePendingGauge()
{
	if (_counters.pendingHandshakes)
		_counters.pendingHandshakes->set(static_cast<std::int64_t>(_limits.pending()));
}


void HttpFront::adoptAccepted(Poco::Net::StreamSocket socket, std::string remoteAddress, Listener& listener,
                              ClientSlotPtr clientSlot)
{
	int loops = _transport.loopCount();
	int target =
	    static_cast<int>(_nextLoop.fetch_add(1, std::memory_order_relaxed) % static_cast<std::uint64_t>(loops));
	if (target == 0)
	{
		adopt(0, std::move(socket), std::move(remoteAddress), listener, std::move(clientSlot));
		return;
	}
	Listener* where = &listener;
	_transport.post(target, [this, target, socket, remote = std::move(remoteAddress), where,
	                         slot = std::move(clientSlot)]() mutable {
		adopt(target, std::move(socket), std::move(remote), *where, std::move(slot));
	});
}


void HttpFront::adopt(int loopIndex, Poco::Net::StreamSocket socket, std::string remoteAddress, Listener& listener,
                      ClientSlotPtr clientSlot)
{
	LoopShard& shard = _shards[static_cast<std::size_t>(loopIndex)];
	std::uint64_t serial = shard.nextSerial++;
	auto connection =
	    std::make_unique<HttpConnection>(*this, _transport.loop(loopIndex), loopIndex, serial, std::move(socket),
	                                     std::move(remoteAddress), listener, std::move(clientSlot));
	HttpConnection* raw = connection.get();
	shard.connections.emplace(serial, std::move(connection));
	raw->start();
	if (!_acceptingRequests.load())
		raw->drain();
}


void HttpFront::retire(int loopIndex, std::uint64_t serial)
{
	// Destroyed by a task of the same loop: after the current batch of events, in which the
	// connection may still be named.
	_transport.post(loopIndex, [this, loopIndex, serial] {
		_shards[static_cast<std::size_t>(loopIndex)].connections.erase(serial);
	});
}


HttpConnection* HttpFront::find(int loopIndex, std::uint64_t serial) const
{
	const LoopShard& shard = _shards[static_cast<std::size_t>(loopIndex)];
	auto it = shard.connections.find(serial);
	return it == shard.connections.end() || it->second->finished() ? nullptr : it->second.get();
}


bool HttpFront::submitRoute(std::function<void()> work)
{
	return _workers && _workers->trySubmit(std::move(work), static_cast<std::size_t>(settings()->maxQueued));
}


} // namespace Core
} // namespace Switchboard
