//
// EventLoop.h
//
// One event-loop thread: a Poller, a TimerWheel, the connections it owns and an inbox of tasks
// posted from other threads.
//


#ifndef Switchboard_Core_EventLoop_INCLUDED
#define Switchboard_Core_EventLoop_INCLUDED


#include "core/Poller.h"
#include "core/TimerWheel.h"
#include "switchboard/WebSocket.h"
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Core {


class Transport;
class WsConnection;


class EventLoop
/// Iteration: wait for readiness (or the next timer tick) → read and decode, calling plugin
/// callbacks → run posted tasks → advance timers → finish aborted connections → write every
/// connection that gained output, one writev each (coalescing) → destroy finished connections.
///
/// Threading: post() and wake-ups are safe from any thread; everything else runs on the loop
/// thread only.
{
public:
	EventLoop(Transport& transport, int index, Poller::Backend backend);
	~EventLoop();

	void start();
	void requestStop();
	void join();

	void post(std::function<void()> task);
	/// Runs task on this loop, in posting order. Wakes the loop only on the empty → non-empty
	/// transition.

	bool inLoopThread() const { return current() == this; }
	static EventLoop* current();
	/// The loop whose thread is calling, or nullptr.

	int index() const { return _index; }
	std::int64_t now() const { return _nowMs; }
	Transport& transport() { return _transport; }
	Poller& poller() { return _poller; }
	TimerWheel& wheel() { return _wheel; }

	void adopt(std::unique_ptr<WsConnection> connection);
	WsConnection* find(ConnectionId id) const;
	void markDirty(WsConnection* connection) { _dirty.push_back(connection); }
	void deferAbort(WsConnection* connection) { _aborts.push_back(connection); }
	void deferCloseReport(WsConnection* connection) { _closeReports.push_back(connection); }
	void retire(WsConnection* connection);
	/// The connection finished: destroyed at the end of this iteration.
	void closeAll(std::uint16_t code, std::string_view reason);
	void finishAll(std::uint16_t code, std::string_view reason);
	/// Ends every connection at once without waiting for handshakes (shutdown deadline).
	std::size_t connectionCount() const { return _connectionCount.load(std::memory_order_relaxed); }

	void addTimer(std::uint64_t timerId, std::int64_t delayMs, std::int64_t intervalMs, std::function<void()> callback,
	              std::shared_ptr<std::atomic<int>> state);
	void removeTimer(std::uint64_t timerId);

private:
	struct SdkTimer
	{
		TimerNode node;
		std::uint64_t id = 0;
		std::int64_t intervalMs = 0;
		std::function<void()> callback;
		std::shared_ptr<std::atomic<int>> state;
		EventLoop* loop = nullptr;
	};

	void run();
	void runTasks();
	void processAborts();
	void processCloseReports();
	void flushDirty();
	void destroyRetired();
	void updateNow();
	static void fireSdkTimer(TimerNode* node);

	Transport& _transport;
	int _index;
	Poller _poller;
	std::int64_t _nowMs;
	TimerWheel _wheel;
	std::thread _thread;
	std::atomic<bool> _stop{false};

	std::mutex _inboxMutex;
	std::vector<std::function<void()>> _inbox;
	std::vector<std::function<void()>> _running;

	std::unordered_map<ConnectionId, std::unique_ptr<WsConnection>> _connections;
	std::atomic<std::size_t> _connectionCount{0};
	std::vector<WsConnection*> _dirty;
	std::vector<WsConnection*> _aborts;
	std::vector<WsConnection*> _closeReports;
	std::vector<WsConnection*> _retired;
	std::unordered_map<std::uint64_t, std::unique_ptr<SdkTimer>> _timers;
	std::vector<char> _scratch;
	std::vector<PollEvent> _events;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_EventLoop_INCLUDED
