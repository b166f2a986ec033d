//
// Poller.h
//
// Readiness notification for one event loop: epoll on Linux, WSAPoll on Windows,
// Poco::Net::PollSet anywhere.
//


#ifndef Switchboard_Core_Poller_INCLUDED
#define Switchboard_Core_Poller_INCLUDED


#include "Poco/Net/Socket.h"
#include <cstdint>
#include <map>
#include <memory>
#include <vector>


namespace Switchboard {
namespace Core {


struct PollEvent
{
	std::uint64_t token;
	bool readable;
	bool writable;
	bool error;
};


class Poller
/// Level-triggered readiness for a set of sockets, each registered with a caller token, plus a
/// wake-up that interrupts a wait from any other thread.
///
/// Three backends: on Linux epoll is used directly (events carry the token, nothing is allocated
/// per wait); on Windows WSAPoll directly; anywhere Poco::Net::PollSet. Poco 1.11's PollSet
/// builds a std::map per poll, its wakeUp() cannot interrupt a wait (#3359) and it has races
/// fixed only in 1.12 (#3628, #4194), so it is the portability path, not the fast one. On
/// Windows it is unusable: it always asks WSAPoll for writability and then retries until the
/// whole timeout has passed (#3248, #3378), so readiness and wake-ups wait for the timeout
/// (measured under Wine: connections sat in the backlog). No backend leaves writability armed
/// unless asked (the #2966 busy loop).
///
/// Threading: add/update/remove/wait belong to the loop thread; wake() is safe from any thread.
{
public:
	enum class Backend
	{
		EPOLL,   ///< Linux only
		POLLSET, ///< Poco::Net::PollSet, every platform
		WSAPOLL  ///< Windows only
	};

	explicit Poller(Backend backend = defaultBackend());
	~Poller();
	Poller(const Poller&) = delete;
	Poller& operator=(const Poller&) = delete;

	bool add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite);
	bool update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite);
	/// Reading is always wanted; wantWrite arms writability.
	bool setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite);
	/// Arms reading and writability separately: a connection that must not be read (its output is
	/// backed up, its request is being handled) stays registered without waking the loop.
	void remove(const Poco::Net::Socket& socket);

	int wait(int timeoutMs, std::vector<PollEvent>& events);
	/// Waits up to timeoutMs (-1: forever) and fills events; a wake-up returns early and is not
	/// reported as an event. Returns the number of events.

	void wake();

	const char* backendName() const;
	static Backend defaultBackend();
	static bool parseBackend(const std::string& name, Backend& out);
	/// "epoll" (Linux only), "wsapoll" (Windows only) or "pollset"; false for a backend this
	/// platform does not have.

	class Impl;

private:
	std::unique_ptr<Impl> _pImpl;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Poller_INCLUDED
