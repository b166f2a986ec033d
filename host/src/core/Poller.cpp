//
// Poller.cpp
//
// epoll and PollSet backends of Poller.
//


#include "core/Poller.h"
#include "Poco/Exception.h"


#if defined(__linux__) && !defined(SWITCHBOARD_POLLER_POLLSET)


#include <cerrno>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>


namespace Switchboard {
namespace Core {


namespace {
constexpr std::uint64_t WAKE_TOKEN = ~std::uint64_t(0);
}


struct Poller::Impl
{
	int epollFd = -1;
	int wakeFd = -1;
	std::vector<epoll_event> buffer = std::vector<epoll_event>(256);
};


Poller::Poller():
    _pImpl(new Impl)
{
	_pImpl->epollFd = ::epoll_create1(EPOLL_CLOEXEC);
	_pImpl->wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (_pImpl->epollFd < 0 || _pImpl->wakeFd < 0)
		throw Poco::SystemException("cannot create epoll or eventfd descriptor");
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.u64 = WAKE_TOKEN;
	::epoll_ctl(_pImpl->epollFd, EPOLL_CTL_ADD, _pImpl->wakeFd, &ev);
}


Poller::~Poller()
{
	::close(_pImpl->wakeFd);
	::close(_pImpl->epollFd);
}


bool Poller::add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	epoll_event ev{};
	ev.events = EPOLLIN | EPOLLRDHUP | (wantWrite ? EPOLLOUT : 0u);
	ev.data.u64 = token;
	return ::epoll_ctl(_pImpl->epollFd, EPOLL_CTL_ADD, socket.impl()->sockfd(), &ev) == 0;
}


bool Poller::update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	epoll_event ev{};
	ev.events = EPOLLIN | EPOLLRDHUP | (wantWrite ? EPOLLOUT : 0u);
	ev.data.u64 = token;
	return ::epoll_ctl(_pImpl->epollFd, EPOLL_CTL_MOD, socket.impl()->sockfd(), &ev) == 0;
}


void Poller::remove(const Poco::Net::Socket& socket)
{
	epoll_event ev{};
	::epoll_ctl(_pImpl->epollFd, EPOLL_CTL_DEL, socket.impl()->sockfd(), &ev);
}


int Poller::wait(int timeoutMs, std::vector<PollEvent>& events)
{
	events.clear();
	int n = ::epoll_wait(_pImpl->epollFd, _pImpl->buffer.data(), static_cast<int>(_pImpl->buffer.size()), timeoutMs);
	if (n < 0)
		return 0; // EINTR: the caller loops anyway
	for (int i = 0; i < n; ++i)
	{
		const epoll_event& ev = _pImpl->buffer[i];
		if (ev.data.u64 == WAKE_TOKEN)
		{
			std::uint64_t value;
			while (::read(_pImpl->wakeFd, &value, sizeof(value)) > 0)
			{
			}
			continue;
		}
		// Hang-up and error are reported as readable so the read path sees EOF or the error.
		bool readable = (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		events.push_back({ev.data.u64, readable, (ev.events & EPOLLOUT) != 0, (ev.events & EPOLLERR) != 0});
	}
	return static_cast<int>(events.size());
}


void Poller::wake()
{
	std::uint64_t one = 1;
	ssize_t ignored = ::write(_pImpl->wakeFd, &one, sizeof(one));
	(void)ignored;
}


const char* Poller::backendName()
{
	return "epoll";
}


} // namespace Core
} // namespace Switchboard


#else // Poco::Net::PollSet backend


#include "Poco/Net/DatagramSocket.h"
#include "Poco/Net/PollSet.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Mutex.h"


namespace Switchboard {
namespace Core {


struct Poller::Impl
{
	Poco::Net::PollSet pollSet;
	std::map<Poco::Net::Socket, std::uint64_t> tokens;
	// PollSet only takes Poco sockets and 1.11 cannot interrupt a wait, so the wake-up is a
	// loopback datagram sent to a socket kept in the set (works on Windows as well).
	Poco::Net::DatagramSocket wakeReceiver{Poco::Net::SocketAddress("127.0.0.1", 0), false};
	Poco::Net::DatagramSocket wakeSender{Poco::Net::SocketAddress::IPv4};
	Poco::FastMutex wakeMutex;
};


Poller::Poller():
    _pImpl(new Impl)
{
	_pImpl->wakeReceiver.setBlocking(false);
	_pImpl->wakeSender.connect(_pImpl->wakeReceiver.address());
	_pImpl->pollSet.add(_pImpl->wakeReceiver, Poco::Net::PollSet::POLL_READ);
}


Poller::~Poller() = default;


bool Poller::add(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	_pImpl->tokens[socket] = token;
	_pImpl->pollSet.add(socket, Poco::Net::PollSet::POLL_READ | (wantWrite ? Poco::Net::PollSet::POLL_WRITE : 0));
	return true;
}


bool Poller::update(const Poco::Net::Socket& socket, std::uint64_t token, bool wantWrite)
{
	_pImpl->tokens[socket] = token;
	_pImpl->pollSet.update(socket, Poco::Net::PollSet::POLL_READ | (wantWrite ? Poco::Net::PollSet::POLL_WRITE : 0));
	return true;
}


void Poller::remove(const Poco::Net::Socket& socket)
{
	_pImpl->pollSet.remove(socket);
	_pImpl->tokens.erase(socket);
}


int Poller::wait(int timeoutMs, std::vector<PollEvent>& events)
{
	events.clear();
	Poco::Timespan timeout(timeoutMs < 0 ? 3600 * 1000LL * 1000 : timeoutMs * 1000LL);
	Poco::Net::PollSet::SocketModeMap ready = _pImpl->pollSet.poll(timeout);
	for (const auto& entry : ready)
	{
		if (entry.first == _pImpl->wakeReceiver)
		{
			char buffer[64];
			try
			{
				while (_pImpl->wakeReceiver.receiveBytes(buffer, sizeof(buffer)) > 0)
				{
				}
			}
			catch (Poco::Exception&)
			{
			}
			continue;
		}
		auto it = _pImpl->tokens.find(entry.first);
		if (it == _pImpl->tokens.end())
			continue;
		int mode = entry.second;
		bool error = (mode & Poco::Net::PollSet::POLL_ERROR) != 0;
		events.push_back({it->second, (mode & Poco::Net::PollSet::POLL_READ) != 0 || error,
		                  (mode & Poco::Net::PollSet::POLL_WRITE) != 0, error});
	}
	return static_cast<int>(events.size());
}


void Poller::wake()
{
	Poco::FastMutex::ScopedLock lock(_pImpl->wakeMutex);
	try
	{
		char one = 1;
		_pImpl->wakeSender.sendBytes(&one, 1);
	}
	catch (Poco::Exception&)
	{
	}
}


const char* Poller::backendName()
{
	return "Poco::Net::PollSet";
}


} // namespace Core
} // namespace Switchboard


#endif
