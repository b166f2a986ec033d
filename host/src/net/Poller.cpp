//
// Poller.cpp
//
// The epoll, WSAPoll and Poco::Net::PollSet backends of Poller.
//


#include "net/Poller.h"
#include "Poco/Exception.h"
#include "Poco/Mutex.h"
#include "Poco/Net/DatagramSocket.h"
#include "Poco/Net/PollSet.h"
#include "Poco/Net/SocketAddress.h"

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#endif

#if defined(_WIN32)
#include <unordered_map>
#include <winsock2.h>
#endif


namespace Switchboard {
namespace Core {


class Poller::Impl
{
public:
	virtual ~Impl() = default;
	virtual bool add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) = 0;
	virtual bool update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) = 0;
	virtual bool setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite) = 0;
	virtual void remove(const Poco::Net::Socket& socket) = 0;
	virtual int wait(int timeoutMs, std::vector<PollEvent>& events) = 0;
	virtual void wake() = 0;
	virtual const char* name() const = 0;
};


namespace {


#if defined(__linux__)

class EpollImpl: public Poller::Impl
{
public:
	EpollImpl():
	    _buffer(256)
	{
		_epollFd = ::epoll_create1(EPOLL_CLOEXEC);
		_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (_epollFd < 0 || _wakeFd < 0)
			throw Poco::SystemException("cannot create epoll or eventfd descriptor");
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = WAKE_TOKEN;
		::epoll_ctl(_epollFd, EPOLL_CTL_ADD, _wakeFd, &ev);
	}

	~EpollImpl() override
	{
		::close(_wakeFd);
		::close(_epollFd);
	}

	bool add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		return control(EPOLL_CTL_ADD, socket, token, wantWrite);
	}

	bool update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		return control(EPOLL_CTL_MOD, socket, token, wantWrite);
	}

	bool setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite) override
	{
		return control(EPOLL_CTL_MOD, socket, token, wantWrite, wantRead);
	}

	void remove(const Poco::Net::Socket& socket) override
	{
		epoll_event ev{};
		::epoll_ctl(_epollFd, EPOLL_CTL_DEL, socket.impl()->sockfd(), &ev);
	}

	int wait(int timeoutMs, std::vector<PollEvent>& events) override
	{
		events.clear();
		int n = ::epoll_wait(_epollFd, _buffer.data(), static_cast<int>(_buffer.size()), timeoutMs);
		if (n < 0)
			return 0; // EINTR: the caller loops anyway
		for (int i = 0; i < n; ++i)
		{
			const epoll_event& ev = _buffer[static_cast<std::size_t>(i)];
			if (ev.data.u64 == WAKE_TOKEN)
			{
				std::uint64_t value; // one read resets an eventfd counter
				ssize_t ignored = ::read(_wakeFd, &value, sizeof(value));
				(void)ignored;
				continue;
			}
			// Hang-up and error are reported as readable so the read path sees EOF or the error.
			bool readable = (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
			events.push_back({ev.data.u64, readable, (ev.events & EPOLLOUT) != 0, (ev.events & EPOLLERR) != 0});
		}
		return static_cast<int>(events.size());
	}

	void wake() override
	{
		std::uint64_t one = 1;
		ssize_t ignored = ::write(_wakeFd, &one, sizeof(one));
		(void)ignored;
	}

	const char* name() const override { return "epoll"; }

private:
	static constexpr std::uint64_t WAKE_TOKEN = ~std::uint64_t(0);

	bool control(int op, const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite, bool wantRead = true)
	{
		epoll_event ev{};
		// Hang-up and errors are reported even when neither is wanted.
		ev.events = (wantRead ? static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP) : 0u) |
		            (wantWrite ? static_cast<std::uint32_t>(EPOLLOUT) : 0u);
		ev.data.u64 = token;
		return ::epoll_ctl(_epollFd, op, socket.impl()->sockfd(), &ev) == 0;
	}

	int _epollFd = -1;
	int _wakeFd = -1;
	std::vector<epoll_event> _buffer;
};

#endif


class WakeSockets
/// A loopback datagram pair for the portable backends: the receiver stays in the poll set, and a
/// byte sent to it ends a wait (PollSet takes only Poco sockets, and 1.11 cannot interrupt a wait,
/// #3359). Works on Windows too.
{
public:
	WakeSockets():
	    receiver(Poco::Net::SocketAddress("127.0.0.1", 0), false),
	    _sender(Poco::Net::SocketAddress::IPv4)
	{
		receiver.setBlocking(false);
		_sender.connect(receiver.address());
	}

	void wake()
	{
		Poco::FastMutex::ScopedLock lock(_mutex);
		try
		{
			char one = 1;
			_sender.sendBytes(&one, 1);
		}
		catch (Poco::Exception&)
		{
			// A full socket buffer already holds a pending wake-up.
		}
	}

	void drain()
	{
		char buffer[64];
		try
		{
			while (receiver.receiveBytes(buffer, sizeof(buffer)) > 0)
			{
			}
		}
		catch (Poco::Exception&)
		{
			// would block: drained
		}
	}

	Poco::Net::DatagramSocket receiver;

private:
	Poco::Net::DatagramSocket _sender;
	Poco::FastMutex _mutex;
};


#if defined(_WIN32)

class WsaPollImpl: public Poller::Impl
/// One WSAPOLLFD per socket, the loopback wake-up datagram socket first. Removal swaps the last
/// entry into the hole, so each call is O(1); a wait scans the array, as WSAPoll itself does.
{
public:
	WsaPollImpl()
	{
		_fds.push_back(WSAPOLLFD{_wake.receiver.impl()->sockfd(), POLLRDNORM, 0});
		_tokens.push_back(0);
	}

	bool add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		return setInterest(socket, token, true, wantWrite);
	}

	bool update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		return setInterest(socket, token, true, wantWrite);
	}

	bool setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite) override
	{
		const SOCKET fd = socket.impl()->sockfd();
		// Hang-up and errors are reported whatever is asked.
		const SHORT events = static_cast<SHORT>((wantRead ? POLLRDNORM : 0) | (wantWrite ? POLLWRNORM : 0));
		auto it = _index.find(fd);
		if (it == _index.end())
		{
			_index.emplace(fd, _fds.size());
			_fds.push_back(WSAPOLLFD{fd, events, 0});
			_tokens.push_back(token);
			return true;
		}
		_fds[it->second].events = events;
		_tokens[it->second] = token;
		return true;
	}

	void remove(const Poco::Net::Socket& socket) override
	{
		auto it = _index.find(socket.impl()->sockfd());
		if (it == _index.end())
			return;
		const std::size_t hole = it->second;
		_index.erase(it);
		const std::size_t last = _fds.size() - 1;
		if (hole != last)
		{
			_fds[hole] = _fds[last];
			_tokens[hole] = _tokens[last];
			_index[_fds[hole].fd] = hole;
		}
		_fds.pop_back();
		_tokens.pop_back();
	}

	int wait(int timeoutMs, std::vector<PollEvent>& events) override
	{
		events.clear();
		const int n = ::WSAPoll(_fds.data(), static_cast<ULONG>(_fds.size()), timeoutMs < 0 ? -1 : timeoutMs);
		if (n <= 0)
			return 0;
		for (std::size_t i = 0; i < _fds.size(); ++i)
		{
			const SHORT revents = _fds[i].revents;
			if (revents == 0)
				continue;
			_fds[i].revents = 0;
			if (i == 0)
			{
				_wake.drain();
				continue;
			}
			const bool error = (revents & (POLLERR | POLLNVAL)) != 0;
			// Hang-up and error are reported as readable so the read path sees EOF or the error.
			events.push_back(
			    {_tokens[i], (revents & (POLLRDNORM | POLLHUP)) != 0 || error, (revents & POLLWRNORM) != 0, error});
		}
		return static_cast<int>(events.size());
	}

	void wake() override { _wake.wake(); }

	const char* name() const override { return "wsapoll"; }

private:
	std::vector<WSAPOLLFD> _fds;
	std::vector<std::uint64_t> _tokens;
	std::unordered_map<SOCKET, std::size_t> _index;
	WakeSockets _wake;
};

#endif


class PollSetImpl: public Poller::Impl
{
public:
	PollSetImpl() { _pollSet.add(_wake.receiver, Poco::Net::PollSet::POLL_READ); }

	bool add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		_tokens[socket] = token;
		_pollSet.add(socket, mode(wantWrite));
		return true;
	}

	bool update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite) override
	{
		_tokens[socket] = token;
		_pollSet.update(socket, mode(wantWrite));
		return true;
	}

	bool setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite) override
	{
		_tokens[socket] = token;
		_pollSet.update(socket, (wantRead ? Poco::Net::PollSet::POLL_READ : 0) |
		                            (wantWrite ? Poco::Net::PollSet::POLL_WRITE : 0));
		return true;
	}

	void remove(const Poco::Net::Socket& socket) override
	{
		_pollSet.remove(socket);
		_tokens.erase(socket);
	}

	int wait(int timeoutMs, std::vector<PollEvent>& events) override
	{
		events.clear();
		Poco::Timespan timeout(timeoutMs < 0 ? 3600LL * 1000 * 1000 : timeoutMs * 1000LL);
		Poco::Net::PollSet::SocketModeMap ready = _pollSet.poll(timeout);
		for (const auto& entry : ready)
		{
			if (entry.first == _wake.receiver)
			{
				_wake.drain();
				continue;
			}
			auto it = _tokens.find(entry.first);
			if (it == _tokens.end())
				continue;
			int m = entry.second;
			bool error = (m & Poco::Net::PollSet::POLL_ERROR) != 0;
			events.push_back({it->second, (m & Poco::Net::PollSet::POLL_READ) != 0 || error,
			                  (m & Poco::Net::PollSet::POLL_WRITE) != 0, error});
		}
		return static_cast<int>(events.size());
	}

	void wake() override { _wake.wake(); }

	const char* name() const override { return "pollset"; }

private:
	static int mode(bool wantWrite)
	{
		return Poco::Net::PollSet::POLL_READ | (wantWrite ? Poco::Net::PollSet::POLL_WRITE : 0);
	}

	Poco::Net::PollSet _pollSet;
	std::map<Poco::Net::Socket, std::uint64_t> _tokens;
	WakeSockets _wake;
};


} // namespace


Poller::Poller(Backend backend)
{
#if defined(__linux__)
	if (backend == Backend::EPOLL)
	{
		_pImpl = std::make_unique<EpollImpl>();
		return;
	}
#endif
#if defined(_WIN32)
	if (backend == Backend::WSAPOLL)
	{
		_pImpl = std::make_unique<WsaPollImpl>();
		return;
	}
#endif
	_pImpl = std::make_unique<PollSetImpl>();
	(void)backend;
}


Poller::~Poller() = default;


bool Poller::add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	return _pImpl->add(socket, token, wantWrite);
}


bool Poller::update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	return _pImpl->update(socket, token, wantWrite);
}


bool Poller::setInterest(const Poco::Net::Socket& socket, std::uint64_t token, bool wantRead, bool wantWrite)
{
	return _pImpl->setInterest(socket, token, wantRead, wantWrite);
}


void Poller::remove(const Poco::Net::Socket& socket)
{
	_pImpl->remove(socket);
}


int Poller::wait(int timeoutMs, std::vector<PollEvent>& events)
{
	return _pImpl->wait(timeoutMs, events);
}


void Poller::wake()
{
	_pImpl->wake();
}


const char* Poller::backendName() const
{
	return _pImpl->name();
}


Poller::Backend Poller::defaultBackend()
{
#if defined(__linux__)
	return Backend::EPOLL;
#elif defined(_WIN32)
	return Backend::WSAPOLL;
#else
	return Backend::POLLSET;
#endif
}


bool Poller::parseBackend(const std::string& name, Backend& out)
{
#if defined(__linux__)
	if (name == "epoll")
	{
		out = Backend::EPOLL;
		return true;
	}
#endif
#if defined(_WIN32)
	if (name == "wsapoll")
	{
		out = Backend::WSAPOLL;
		return true;
	}
#endif
	if (name == "pollset")
	{
		out = Backend::POLLSET;
		return true;
	}
	return false;
}


} // namespace Core
} // namespace Switchboard
