//
// EventLoop.h
//
// One event-loop thread: a Poller, a TimerWheel, the connections it owns and an inbox of tasks
// posted from other threads.
//


#ifndef Switchboard_Core_EventLoop_INCLUDED
#define Switchboard_Core_EventLoop_INCLUDED


#include "net/Poller.h"
#include "net/TimerWheel.h"
#include "plugin/PluginSlot.h"
#include "switchboard/WebSocket.h"
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Core {


class Transport;
class WsConnection;


struct LoopTask
/// One unit of work for a loop: a plain call, a call on one connection (Host::runOn) or a frame
/// for one connection (Router::send). The last two are skipped when the connection is gone or
/// belongs to another plugin. A task carrying a plugin runs under that plugin's guard. One type instead of nested
/// std::function wrappers: a relayed message costs no allocation beyond its own closure or frame.
{
	enum class Kind : std::uint8_t
	{
		CALL,
		ON_CONNECTION,
		SEND
	};

	Kind kind = Kind::CALL;
	MessageKind messageKind = MessageKind::TEXT;
	ConnectionId target = 0;
	PluginSlot* owner = nullptr;                   // the plugin whose code runs; nullptr for the host's own
	std::function<void()> call;                    // CALL
	std::function<void(Connection&)> onConnection; // ON_CONNECTION
	std::string data;                              // SEND
};


class EventLoop
/// Iteration: wait for readiness (or the next timer tick) → read and decode, calling plugin
/// callbacks → run posted tasks → advance timers → finish aborted connections → write every
/// connection that gained output, one sendmsg each (coalescing) → destroy finished connections.
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
	void post(LoopTask task);
	/// Runs task on this loop, in posting order per posting thread. From another loop's thread
	/// the task is staged there and handed over in one batch at the end of that loop's
	/// iteration phase (one lock and at most one wake-up per batch, not per message). Wakes this
	/// loop only when its inbox was empty and it is about to sleep or asleep.

	bool inLoopThread() const { return current() == this; }
	void handOverPosts() { flushOutbox(); }
	/// Loop thread only: hands what this loop posted to others over now rather than at the end
	/// of the iteration, before an answer the client may react to is written.
	static EventLoop* current();
	/// The loop whose thread is calling, or nullptr.

	int index() const { return _index; }
	std::int64_t now() const { return _nowMs; }
	Transport& transport() { return _transport; }
	Poller& poller() { return _poller; }
	TimerWheel& wheel() { return _wheel; }
	char* scratch() { return _scratch.data(); }
	std::size_t scratchSize() const { return _scratch.size(); }
	/// The loop's read buffer, for a handler that reads outside onReadable (TLS on writability).

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
	void closeOwnedBy(const PluginSlot& owner, std::uint16_t code, std::string_view reason, bool finish);
	/// The same for the connections of one plugin only (a reload disabled it).
	std::size_t connectionCount() const { return _connectionCount.load(std::memory_order_relaxed); }

	void addTimer(PluginSlot& owner, std::uint64_t timerId, std::int64_t delayMs, std::int64_t intervalMs,
	              std::function<void()> callback, std::shared_ptr<std::atomic<int>> state);
	/// state: 0 pending, 1 cancelled (by Host::cancel on any thread), 2 fired (one-shot).
	void removeTimer(PluginSlot& owner, std::uint64_t timerId);

private:
	struct TimerKey
	/// Timer ids are unique per plugin only: several plugins share a loop.
	{
		const PluginSlot* owner;
		std::uint64_t id;
		bool operator==(const TimerKey& other) const { return owner == other.owner && id == other.id; }
	};
	struct TimerKeyHash
	{
		std::size_t operator()(const TimerKey& key) const
		{
			return std::hash<std::uint64_t>()(key.id * 0x9E3779B97F4A7C15ull ^
			                                  reinterpret_cast<std::uintptr_t>(key.owner));
		}
	};
	struct SdkTimer
	{
		TimerNode node;
		std::uint64_t id = 0;
		std::int64_t intervalMs = 0;
		std::function<void()> callback;
		std::shared_ptr<std::atomic<int>> state;
		EventLoop* loop = nullptr;
		PluginSlot* owner = nullptr;
	};

	void run();
	void runTasks();
	void runTask(LoopTask& task);
	void runHostTask(std::function<void()>& call);
	void stage(EventLoop* target, LoopTask&& task);
	void flushOutbox();
	/// Hands every staged batch to its loop.
	void receive(std::vector<LoopTask>& batch);
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

	// True from just before this loop checks its inbox for the last time until its wait
	// returns. Posters wake the loop only while it is set; the inbox lock orders the two.
	std::atomic<bool> _sleeping{false};
	std::mutex _inboxMutex;
	std::vector<LoopTask> _inbox;
	std::vector<LoopTask> _running;
	// Tasks this loop's thread posted to other loops during the current iteration, per target.
	std::vector<std::pair<EventLoop*, std::vector<LoopTask>>> _outbox;

	std::unordered_map<ConnectionId, std::unique_ptr<WsConnection>> _connections;
	std::atomic<std::size_t> _connectionCount{0};
	std::vector<WsConnection*> _dirty;
	std::vector<WsConnection*> _aborts;
	std::vector<WsConnection*> _closeReports;
	std::vector<WsConnection*> _retired;
	std::unordered_map<TimerKey, std::unique_ptr<SdkTimer>, TimerKeyHash> _timers;
	std::vector<char> _scratch;
	std::vector<PollEvent> _events;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_EventLoop_INCLUDED
