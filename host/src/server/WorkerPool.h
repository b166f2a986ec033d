//
// WorkerPool.h
//
// Threads for blocking work (storage, files) so event loops never block.
//


#ifndef Switchboard_Core_WorkerPool_INCLUDED
#define Switchboard_Core_WorkerPool_INCLUDED


#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>


namespace Switchboard {
namespace Core {


class WorkerPool
/// A fixed set of threads draining one FIFO queue. submit() is thread-safe. stop() runs what
/// is already queued, then joins.
{
public:
	explicit WorkerPool(int threads);
	~WorkerPool();

	void submit(std::function<void()> task);
	bool trySubmit(std::function<void()> task, std::size_t maxQueued);
	/// Queues task unless maxQueued tasks already wait (or the pool is stopping): false then,
	/// and the caller answers "busy" (HTTP 503) instead of queueing without bound.
	void stop();
	std::size_t queued() const;

private:
	void run();

	mutable std::mutex _mutex;
	std::condition_variable _ready;
	std::deque<std::function<void()>> _queue;
	std::vector<std::thread> _threads;
	bool _stopping = false;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_WorkerPool_INCLUDED
