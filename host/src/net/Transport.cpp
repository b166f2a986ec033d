//
// Transport.cpp
//


#include "net/Transport.h"
#include "net/WsConnection.h"
#include "ws/FrameEncoder.h"
#include "Poco/Net/NetException.h"
#include <chrono>
#include <thread>


namespace Switchboard {
namespace Core {


namespace {
constexpr int LOOP_BITS = 8;
constexpr ConnectionId LOOP_MASK = (ConnectionId(1) << LOOP_BITS) - 1;
} // namespace


Transport::Transport(const TransportSettings& settings, Poco::Logger& logger, const TransportCounters& counters):
    _settings(settings),
    _logger(logger),
    _counters(counters),
    _memoryBudget(settings.maxBufferedTotal, [this](std::uint64_t id) {
	    // Closed on its own loop; it may have finished by the time the task runs.
	    EventLoop* loop = loopOf(id);
	    if (loop != nullptr)
		    loop->post([loop, id] {
			    if (WsConnection* c = loop->find(id))
				    c->closeForMemoryBudget();
		    });
    })
{
	int loops = settings.eventLoops < 1 ? 1 : settings.eventLoops;
	if (loops > 1 << LOOP_BITS)
		loops = 1 << LOOP_BITS;
	Poller::Backend backend = Poller::defaultBackend();
	Poller::parseBackend(settings.poller, backend); // validated by HostConfig
	for (int i = 0; i < loops; ++i)
		_loops.push_back(std::make_unique<EventLoop>(*this, i, backend));
}


Transport::~Transport()
{
	for (auto& loop : _loops)
		loop->requestStop();
	for (auto& loop : _loops)
		loop->join();
}


void Transport::start()
{
	for (auto& loop : _loops)
		loop->start();
	_accepting = true;
}


void Transport::shutdown(std::uint16_t code, std::string_view reason, std::int64_t deadlineMs)
{
	_accepting = false;
	_shuttingDown = true;
	std::string why(reason);
	for (auto& loop : _loops)
		loop->post([l = loop.get(), code, why] { l->closeAll(code, why); });
	// Wait for the closing handshakes; connections still open at the deadline are cut.
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadlineMs);
	while (openConnections() > 0 && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	if (openConnections() > 0)
	{
		_logger.warning("shutdown deadline reached with %z connections open; closing them", openConnections());
		std::vector<std::shared_ptr<std::atomic<int>>> done;
		for (auto& loop : _loops)
		{
			auto flag = std::make_shared<std::atomic<int>>(0);
			done.push_back(flag);
			loop->post([l = loop.get(), flag, code, why] {
				l->closeAll(code, why);
				l->finishAll(code, why);
				flag->store(1);
			});
		}
		for (auto& flag : done)
		{
			for (int i = 0; i < 200 && flag->load() == 0; ++i)
				std::this_thread::sleep_for(std::chrono::milliseconds(5));
		}
	}
	for (auto& loop : _loops)
		loop->requestStop();
	for (auto& loop : _loops)
		loop->join();
}


std::size_t Transport::closeOwnedBy(const PluginSlot& owner, const Gauge& ownedOpen, std::uint16_t code,
                                    std::string_view reason, std::int64_t deadlineMs)
{
	const std::string why(reason);
	const PluginSlot* slot = &owner;
	for (auto& loop : _loops)
		loop->post([l = loop.get(), slot, code, why] { l->closeOwnedBy(*slot, code, why, false); });
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadlineMs);
	while (ownedOpen.value() > 0 && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	const std::size_t cut = static_cast<std::size_t>(std::max<std::int64_t>(0, ownedOpen.value()));
	// A connection's count drops before its onClose runs: one more task through every loop
	// (which also finishes the stragglers) so no callback of the plugin is still on its way.
	runOnEveryLoop([slot, code, why, finish = cut > 0](EventLoop& loop) {
		if (finish)
			loop.closeOwnedBy(*slot, code, why, true);
	});
	return cut;
}


void Transport::runOnEveryLoop(const std::function<void(EventLoop&)>& task)
{
	std::vector<std::shared_ptr<std::atomic<int>>> done;
	for (auto& loop : _loops)
	{
		auto flag = std::make_shared<std::atomic<int>>(0);
		done.push_back(flag);
		loop->post([l = loop.get(), flag, task] {
			task(*l);
			flag->store(1);
		});
	}
	// Bounded: a loop that does not answer within 5 s is stuck, and waiting longer helps nobody.
	for (auto& flag : done)
	{
		for (int i = 0; i < 1000 && flag->load() == 0; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
}


std::size_t Transport::openConnections() const
{
	return _open.load(std::memory_order_relaxed);
}


void Transport::connectionOpened()
{
	std::size_t n = ++_open;
	if (_counters.openConnections)
		_counters.openConnections->set(static_cast<std::int64_t>(n));
	if (_counters.acceptedConnections)
		_counters.acceptedConnections->increment();
}


void Transport::connectionClosed()
{
	std::size_t n = --_open;
	if (_counters.openConnections)
		_counters.openConnections->set(static_cast<std::int64_t>(n));
}


void Transport::handOff(Poco::Net::StreamSocket socket, std::unique_ptr<TlsSession> tls, std::string initialBytes,
                        HttpRequest request, const Endpoint& endpoint, std::shared_ptr<void> heldUntilClosed)
{
	// The HTTP front accepted the socket non-blocking, with TCP_NODELAY and keep-alive inherited: no
	// more system calls here (a reconnect storm pays each one ten thousand times).
	// The least loaded loop; ties go round robin through the sequence number.
	std::uint64_t sequence = _nextSequence.fetch_add(1);
	std::size_t best = sequence % _loops.size();
	for (std::size_t i = 0; i < _loops.size(); ++i)
	{
		if (_loops[i]->connectionCount() < _loops[best]->connectionCount())
			best = i;
	}
	ConnectionId id = _nodeBits | ((sequence << LOOP_BITS) & ~NODE_MASK) | best;
	connectionOpened();
	if (endpoint.pluginConnections)
		endpoint.pluginConnections->add(1);
	std::string remote = request.remoteAddress;
	EventLoop* loop = _loops[best].get();
	struct Payload
	{
		HttpRequest request;
		std::string initialBytes;
		std::unique_ptr<TlsSession> tls;
	};
	auto payload = std::make_shared<Payload>(Payload{std::move(request), std::move(initialBytes), std::move(tls)});
	loop->post([this, loop, id, &endpoint, socket, remote, payload, held = std::move(heldUntilClosed)]() mutable {
		if (!endpoint.owner->routable())
		{
			// Its plugin was disabled by a reload after the upgrade was answered: no callback may
			// reach it any more, so the connection is dropped before it exists.
			socket.close();
			connectionClosed();
			if (endpoint.pluginConnections)
				endpoint.pluginConnections->add(-1);
			return;
		}
		std::int64_t maxMessage = endpoint.maxMessageSize;
		auto connection =
		    std::make_unique<WsConnection>(*loop, id, endpoint, socket, std::move(payload->tls), remote, maxMessage);
		connection->holdUntilClosed(std::move(held));
		WsConnection* raw = connection.get();
		loop->adopt(std::move(connection));
		raw->open(payload->request, payload->initialBytes);
		// Shutdown may have closed this loop's connections before the hand-off arrived: this one
		// gets its 1001 like the others instead of waiting for the deadline.
		if (!loop->transport().accepting() && raw->connectionState() == WsConnection::State::OPEN)
			raw->close(CloseCode::GOING_AWAY, "");
	});
}


EventLoop* Transport::loopOf(ConnectionId id) const
{
	if ((id & NODE_MASK) != _nodeBits)
		return nullptr; // another node's connection (cluster mode): the Router sends it through Redis
	std::size_t index = static_cast<std::size_t>(id & LOOP_MASK);
	return index < _loops.size() ? _loops[index].get() : nullptr;
}


SendResult Transport::send(PluginSlot& owner, ConnectionId id, std::string_view data, MessageKind kind)
{
	EventLoop* loop = loopOf(id);
	if (!loop || id == 0)
		return SendResult::CLOSED;
	if (loop->inLoopThread())
	{
		WsConnection* c = loop->find(id);
		if (!c || c->endpoint().owner != &owner)
			return SendResult::CLOSED;
		return c->send(data, kind);
	}
	LoopTask task;
	task.kind = LoopTask::Kind::SEND;
	task.messageKind = kind;
	task.target = id;
	task.owner = &owner;
	task.data.assign(data.data(), data.size());
	loop->post(std::move(task));
	return SendResult::QUEUED;
}


void Transport::close(PluginSlot& owner, ConnectionId id, std::uint16_t code, std::string_view reason)
{
	runOn(owner, id, [code, why = std::string(reason)](Connection& c) { c.close(code, why); });
}


bool Transport::runOn(PluginSlot& owner, ConnectionId id, std::function<void(Connection&)>&& task)
{
	EventLoop* loop = loopOf(id);
	if (!loop || id == 0)
		return false;
	if (loop->inLoopThread())
	{
		WsConnection* c = loop->find(id);
		if (!c || c->endpoint().owner != &owner)
			return false;
		owner.guarded(PluginSite::TASK, [&] { task(*c); });
		return true;
	}
	LoopTask posted;
	posted.kind = LoopTask::Kind::ON_CONNECTION;
	posted.target = id;
	posted.owner = &owner;
	posted.onConnection = std::move(task);
	loop->post(std::move(posted));
	return true;
}


void Transport::deliver(PluginSlot& owner, const std::vector<ConnectionId>& ids, std::string_view data,
                        MessageKind kind)
{
	std::vector<std::vector<ConnectionId>> perLoop(_loops.size());
	for (ConnectionId id : ids)
	{
		std::size_t index = static_cast<std::size_t>(id & LOOP_MASK);
		if (id != 0 && index < perLoop.size())
			perLoop[index].push_back(id);
	}
	// Encoded once; every recipient's queue points at the same bytes.
	auto frame =
	    std::make_shared<const std::string>(WS::encodeFrame(kind == MessageKind::TEXT ? WS::TEXT : WS::BINARY, data));
	for (std::size_t i = 0; i < perLoop.size(); ++i)
	{
		if (perLoop[i].empty())
			continue;
		EventLoop* loop = _loops[i].get();
		PluginSlot* slot = &owner;
		auto deliverHere = [loop, slot, frame, members = std::move(perLoop[i])] {
			for (ConnectionId id : members)
			{
				WsConnection* c = loop->find(id);
				if (c && c->endpoint().owner == slot)
					c->sendShared(frame);
			}
		};
		if (loop->inLoopThread())
			deliverHere();
		else
			loop->post(std::move(deliverHere));
	}
}


int Transport::timerLoop() const
{
	EventLoop* here = EventLoop::current();
	return here && &here->transport() == this ? here->index() : 0;
}


void Transport::scheduleTimer(int loopIndex, PluginSlot& owner, TimerId id, std::int64_t delayMs,
                              std::int64_t intervalMs, std::function<void()> callback,
                              std::shared_ptr<std::atomic<int>> state)
{
	if (delayMs < 0)
		delayMs = 0;
	EventLoop* loop = _loops[static_cast<std::size_t>(loopIndex) % _loops.size()].get();
	PluginSlot* slot = &owner;
	if (loop->inLoopThread())
		loop->addTimer(*slot, id, delayMs, intervalMs, std::move(callback), std::move(state));
	else
		loop->post([loop, slot, id, delayMs, intervalMs, cb = std::move(callback), state]() mutable {
			loop->addTimer(*slot, id, delayMs, intervalMs, std::move(cb), std::move(state));
		});
}


void Transport::unscheduleTimer(int loopIndex, PluginSlot& owner, TimerId id)
{
	EventLoop* loop = _loops[static_cast<std::size_t>(loopIndex) % _loops.size()].get();
	PluginSlot* slot = &owner;
	loop->post([loop, slot, id] { loop->removeTimer(*slot, id); });
}


void Transport::post(int loopIndex, std::function<void()> task, PluginSlot* owner)
{
	LoopTask posted;
	posted.call = std::move(task);
	posted.owner = owner;
	_loops[static_cast<std::size_t>(loopIndex) % _loops.size()]->post(std::move(posted));
}


} // namespace Core
} // namespace Switchboard
