//
// WorkerPool.cpp
//


#include "server/WorkerPool.h"
#include <pthread.h>


namespace Switchboard {
namespace Core {


WorkerPool::WorkerPool(int threads)
{
	if (threads < 1)
		threads = 1;
	for (int i = 0; i < threads; ++i)
	{
		_threads.emplace_back([this, i] {
			std::string name = "worker-" + std::to_string(i);
			pthread_setname_np(pthread_self(), name.c_str());
			run();
		});
	}
}


WorkerPool::~WorkerPool()
{
	stop();
}


void WorkerPool::submit(std::function<void()> task)
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (_stopping)
			return;
		_queue.push_back(std::move(task));
	}
	_ready.notify_one();
}


bool WorkerPool::trySubmit(std::function<void()> task, std::size_t maxQueued)
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (_stopping || _queue.size() >= maxQueued)
			return false;
		_queue.push_back(std::move(task));
	}
	_ready.notify_one();
	return true;
}


void WorkerPool::stop()
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		_stopping = true;
	}
	_ready.notify_all();
	for (auto& t : _threads)
	{
		if (t.joinable())
			t.join();
	}
	_threads.clear();
}


std::size_t WorkerPool::queued() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _queue.size();
}


void WorkerPool::run()
{
	for (;;)
	{
		std::function<void()> task;
		{
			std::unique_lock<std::mutex> lock(_mutex);
			_ready.wait(lock, [this] { return _stopping || !_queue.empty(); });
			if (_queue.empty())
				return;
			task = std::move(_queue.front());
			_queue.pop_front();
		}
		try
		{
			task();
		}
		catch (...)
		{
			// Work comes from plugins through Host::offload; their exceptions must not kill a worker.
		}
	}
}


} // namespace Core
} // namespace Switchboard
