//
// EventLoop.cpp
//


#include "net/EventLoop.h"
#include "net/Transport.h"
#include "net/WsConnection.h"
#include "Poco/Thread.h"
#include <chrono>
#include <iterator>


namespace Switchboard {
namespace Core {


namespace {
thread_local EventLoop* currentLoop = nullptr;
constexpr std::size_t SCRATCH_SIZE = 64 * 1024;

std::int64_t monotonicNowMs()
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}
} // namespace


EventLoop::EventLoop(Transport& transport, int index, Poller::Backend backend):
    _transport(transport),
    _index(index),
    _poller(backend),
    _nowMs(monotonicNowMs()),
    _wheel(_nowMs),
    _scratch(SCRATCH_SIZE)
{
}


EventLoop::~EventLoop()
{
	requestStop();
	join();
	for (auto& entry : _timers)
		_wheel.cancel(entry.second->node);
}


EventLoop* EventLoop::current()
{
	return currentLoop;
}


void EventLoop::start()
{
	_thread = std::thread([this] {
		currentLoop = this;
		std::string name = "loop-" + std::to_string(_index);
		pthread_setname_np(pthread_self(), name.c_str());
		run();
		currentLoop = nullptr;
	});
}


void EventLoop::requestStop()
{
	_stop.store(true);
	_poller.wake();
}


void EventLoop::join()
{
	if (_thread.joinable())
		_thread.join();
}


void EventLoop::post(std::function<void()> task)
{
	LoopTask t;
	t.call = std::move(task);
	post(std::move(t));
}


void EventLoop::post(LoopTask task)
{
	EventLoop* from = current();
	if (from != nullptr && from != this)
	{
		from->stage(this, std::move(task));
		return;
	}
	bool wasEmpty;
	{
		std::lock_guard<std::mutex> lock(_inboxMutex);
		wasEmpty = _inbox.empty();
		_inbox.push_back(std::move(task));
	}
	if (wasEmpty && _sleeping.load())
		_poller.wake();
}


void EventLoop::stage(EventLoop* target, LoopTask&& task)
{
	for (auto& entry : _outbox)
	{
		if (entry.first == target)
		{
			entry.second.push_back(std::move(task));
			return;
		}
	}
	_outbox.emplace_back(target, std::vector<LoopTask>());
	_outbox.back().second.push_back(std::move(task));
}


void EventLoop::flushOutbox()
{
	for (auto& entry : _outbox)
	{
		if (!entry.second.empty())
			entry.first->receive(entry.second);
	}
}


void EventLoop::receive(std::vector<LoopTask>& batch)
{
	bool wasEmpty;
	{
		std::lock_guard<std::mutex> lock(_inboxMutex);
		wasEmpty = _inbox.empty();
		if (wasEmpty)
			_inbox.swap(batch); // the sender keeps the empty vector's capacity for its next batch
		else
			std::move(batch.begin(), batch.end(), std::back_inserter(_inbox));
	}
	batch.clear();
	if (wasEmpty && _sleeping.load())
		_poller.wake(); // a busy loop reaches its inbox anyway
}


void EventLoop::updateNow()
{
	_nowMs = monotonicNowMs();
}


void EventLoop::run()
{
	while (!_stop.load(std::memory_order_relaxed))
	{
		int timeout = _wheel.millisecondsToNextTick(_nowMs);
		// Announce the sleep before looking at the inbox: a poster that finds the flag clear
		// knows this loop will see its task before blocking, and skips the wake-up syscall.
		_sleeping.store(true);
		{
			std::lock_guard<std::mutex> lock(_inboxMutex);
			if (!_inbox.empty())
				timeout = 0;
		}
		_poller.wait(timeout, _events);
		_sleeping.store(false, std::memory_order_relaxed);
		updateNow();
		for (const PollEvent& event : _events)
		{
			LoopHandler* handler = LoopHandler::fromToken(event.token);
			if (handler->finished())
				continue; // finished earlier in this iteration; memory still valid until destroyRetired
			if (event.readable)
				handler->onReadable(_scratch.data(), _scratch.size());
			if (event.writable && !handler->finished())
				handler->onWritable();
		}
		runTasks();
		_wheel.advance(_nowMs);
		processAborts();
		processCloseReports();
		flushOutbox(); // before writing: the other loops start on their share meanwhile
		flushDirty();
		processAborts();
		processCloseReports();
		if (!_dirty.empty())
			flushDirty(); // sends made by onClose handlers
		destroyRetired();
		flushOutbox(); // posts made while writing or closing
	}
}


void EventLoop::runTasks()
{
	{
		std::lock_guard<std::mutex> lock(_inboxMutex);
		_running.swap(_inbox);
	}
	for (auto& task : _running)
		runTask(task);
	_running.clear();
}


void EventLoop::runTask(LoopTask& task)
{
	if (task.kind == LoopTask::Kind::CALL)
	{
		if (task.owner)
			task.owner->guarded(PluginSite::COMPLETION, task.call);
		else
			runHostTask(task.call);
		return;
	}
	WsConnection* c = find(task.target);
	if (c == nullptr || c->endpoint().owner != task.owner)
		return;
	if (task.kind == LoopTask::Kind::SEND)
		c->send(task.data, task.messageKind);
	else
		task.owner->guarded(PluginSite::TASK, [&] { task.onConnection(*c); });
}


void EventLoop::runHostTask(std::function<void()>& call)
{
	// The host's own tasks (hand-off, shutdown) do not throw but for memory exhaustion; a loop
	// must survive it all the same.
	try
	{
		call();
	}
	catch (std::exception& exc)
	{
		_transport.logger().error("host task on loop %d threw: %s", _index, std::string(exc.what()));
	}
	catch (...)
	{
		_transport.logger().error("host task on loop %d threw", _index);
	}
}


void EventLoop::processAborts()
{
	while (!_aborts.empty())
	{
		std::vector<WsConnection*> batch;
		batch.swap(_aborts);
		for (WsConnection* c : batch)
			c->completeAbort();
	}
}


void EventLoop::processCloseReports()
{
	while (!_closeReports.empty())
	{
		std::vector<WsConnection*> batch;
		batch.swap(_closeReports);
		for (WsConnection* c : batch)
			c->reportClose();
	}
}


void EventLoop::flushDirty()
{
	// Indexed loop: a flush can finish a connection whose onClose sends to others on this loop.
	for (std::size_t i = 0; i < _dirty.size(); ++i)
	{
		WsConnection* c = _dirty[i];
		if (c->dirty())
			c->flush();
	}
	_dirty.clear();
}


void EventLoop::adopt(std::unique_ptr<WsConnection> connection)
{
	ConnectionId id = connection->id();
	_connections.emplace(id, std::move(connection));
	_connectionCount.store(_connections.size(), std::memory_order_relaxed);
}


WsConnection* EventLoop::find(ConnectionId id) const
{
	auto it = _connections.find(id);
	if (it == _connections.end() || it->second->connectionState() == WsConnection::State::DONE)
		return nullptr;
	return it->second.get();
}


void EventLoop::retire(WsConnection* connection)
{
	_retired.push_back(connection);
}


void EventLoop::destroyRetired()
{
	if (_retired.empty())
		return;
	for (WsConnection* c : _retired)
		_connections.erase(c->id());
	_retired.clear();
	_connectionCount.store(_connections.size(), std::memory_order_relaxed);
}


void EventLoop::closeAll(std::uint16_t code, std::string_view reason)
{
	for (auto& entry : _connections)
		entry.second->close(code, reason);
}


void EventLoop::finishAll(std::uint16_t code, std::string_view reason)
{
	std::vector<WsConnection*> all;
	for (auto& entry : _connections)
		all.push_back(entry.second.get());
	for (WsConnection* c : all)
		c->finish(code, reason);
	destroyRetired();
}


void EventLoop::closeOwnedBy(const PluginSlot& owner, std::uint16_t code, std::string_view reason, bool finish)
{
	std::vector<WsConnection*> owned;
	for (auto& entry : _connections)
	{
		if (entry.second->endpoint().owner == &owner)
			owned.push_back(entry.second.get());
	}
	for (WsConnection* c : owned)
	{
		if (finish)
			c->finish(code, reason);
		else
			c->close(code, reason);
	}
	if (finish)
		destroyRetired();
}


void EventLoop::addTimer(PluginSlot& owner, std::uint64_t timerId, std::int64_t delayMs, std::int64_t intervalMs,
                         std::function<void()> callback, std::shared_ptr<std::atomic<int>> state)
{
	if (state->load() != 0)
		return; // cancelled before it reached this loop
	auto timer = std::make_unique<SdkTimer>();
	timer->id = timerId;
	timer->intervalMs = intervalMs;
	timer->callback = std::move(callback);
	timer->state = std::move(state);
	timer->loop = this;
	timer->owner = &owner;
	timer->node.owner = timer.get();
	timer->node.fire = &EventLoop::fireSdkTimer;
	SdkTimer* added = timer.get();
	// Linked into the wheel only once the table holds it: a node must never outlive its entry.
	if (!_timers.emplace(TimerKey{&owner, timerId}, std::move(timer)).second)
		return; // the plugin context never reuses an id; nothing was linked
	_wheel.schedule(added->node, _nowMs + delayMs);
}


void EventLoop::removeTimer(PluginSlot& owner, std::uint64_t timerId)
{
	auto it = _timers.find(TimerKey{&owner, timerId});
	if (it == _timers.end())
		return;
	_wheel.cancel(it->second->node);
	_timers.erase(it);
}


void EventLoop::fireSdkTimer(TimerNode* node)
{
	auto* timer = static_cast<SdkTimer*>(node->owner);
	EventLoop* loop = timer->loop;
	std::uint64_t id = timer->id;
	PluginSlot* owner = timer->owner;
	if (timer->intervalMs > 0)
	{
		if (timer->state->load() != 0) // cancelled from another thread; its removal is posted
			return;
		loop->_wheel.schedule(timer->node, loop->_nowMs + timer->intervalMs);
		// The callback may cancel its own timer: the removal is posted, so timer stays valid.
		owner->guarded(PluginSite::TIMER, timer->callback);
		return;
	}
	// A one-shot leaves both tables before its callback runs, unless cancel() won the race.
	int expected = 0;
	bool fire = timer->state->compare_exchange_strong(expected, 2);
	std::function<void()> callback = std::move(timer->callback);
	loop->_timers.erase(TimerKey{owner, id}); // destroys timer
	if (!fire)
		return;
	owner->timerFinished(id);
	owner->guarded(PluginSite::TIMER, callback);
}


} // namespace Core
} // namespace Switchboard
