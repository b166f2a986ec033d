//
// TcpRoundRobin.cpp
//


#include "TcpRoundRobin.h"
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>


namespace Switchboard {
namespace Test {


struct TcpRoundRobin::Link
{
	int fds[2] = {-1, -1};  ///< [0] the client, [1] the backend
	std::string pending[2]; ///< read from side s, not yet written to the other side
	bool eof[2] = {false, false};
	bool dead = false;
	std::size_t record = 0;
};


namespace {


sockaddr_in loopback(int port)
{
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	address.sin_port = htons(static_cast<std::uint16_t>(port));
	return address;
}


void noDelay(int fd)
/// A load balancer passes small frames on at once; Nagle would hold some back for an ACK.
{
	int on = 1;
	::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}


int connectBackend(int port)
/// A non-blocking socket connected to 127.0.0.1:port, or -1. The connect itself blocks, at most
/// 2 s (SO_SNDTIMEO bounds connect on Linux); on loopback it is immediate unless the backlog is full.
{
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	timeval timeout{2, 0};
	::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	sockaddr_in address = loopback(port);
	if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
	    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
	{
		::close(fd);
		return -1;
	}
	noDelay(fd);
	return fd;
}


void closeBoth(const int (&fds)[2])
{
	::close(fds[0]);
	::close(fds[1]);
}


bool transient(int error)
{
	return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}


} // namespace


TcpRoundRobin::TcpRoundRobin(std::vector<int> backendPorts):
    _backends(std::move(backendPorts))
{
	if (_backends.empty())
		throw std::invalid_argument("TcpRoundRobin: no backend");
	_listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sockaddr_in address = loopback(0);
	socklen_t length = sizeof(address);
	if (_listenFd < 0 || ::bind(_listenFd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
	    ::listen(_listenFd, 64) != 0 || ::getsockname(_listenFd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
	    ::pipe2(_wakeFds, O_CLOEXEC | O_NONBLOCK) != 0)
	{
		for (int fd : {_listenFd, _wakeFds[0], _wakeFds[1]})
			if (fd >= 0)
				::close(fd);
		throw std::runtime_error("TcpRoundRobin: cannot listen on 127.0.0.1");
	}
	_port = ntohs(address.sin_port);
	_thread = std::thread([this] { run(); });
}


TcpRoundRobin::~TcpRoundRobin()
{
	_stopping = true;
	const char byte = 'x';
	(void)!::write(_wakeFds[1], &byte, 1);
	_thread.join();
	for (int fd : {_listenFd, _wakeFds[0], _wakeFds[1]})
		::close(fd);
}


std::size_t TcpRoundRobin::accepted() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _records.size();
}


TcpRoundRobin::Record TcpRoundRobin::record(std::size_t connection) const
{
	std::lock_guard<std::mutex> lock(_mutex);
	if (connection >= _records.size())
		throw std::out_of_range("TcpRoundRobin: no connection " + std::to_string(connection));
	return _records[connection];
}


int TcpRoundRobin::backendOf(std::size_t connection) const
{
	return record(connection).backendPort;
}


std::string TcpRoundRobin::received(std::size_t connection) const
{
	return record(connection).received;
}


void TcpRoundRobin::run()
{
	std::vector<Link> links;
	std::vector<pollfd> fds;
	while (!_stopping.load())
	{
		fds.assign({{_wakeFds[0], POLLIN, 0}, {_listenFd, POLLIN, 0}});
		for (const Link& link : links)
		{
			for (int side = 0; side < 2; ++side)
			{
				short events = 0;
				if (!link.eof[side] && link.pending[side].size() < BUFFER_LIMIT)
					events |= POLLIN;
				if (!link.pending[1 - side].empty())
					events |= POLLOUT;
				fds.push_back({link.fds[side], events, 0});
			}
		}
		if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents != 0)
			break;
		for (std::size_t i = 0; i < links.size(); ++i)
		{
			pump(links[i], 0, fds[2 + 2 * i].revents);
			pump(links[i], 1, fds[3 + 2 * i].revents);
		}
		for (Link& link : links)
		{
			if (link.dead)
				closeBoth(link.fds);
		}
		links.erase(std::remove_if(links.begin(), links.end(), [](const Link& link) { return link.dead; }),
		            links.end());
		if (fds[1].revents != 0)
			acceptAll(links);
	}
	for (Link& link : links)
		closeBoth(link.fds);
}


void TcpRoundRobin::acceptAll(std::vector<Link>& links)
{
	for (;;)
	{
		const int client = ::accept4(_listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (client < 0)
			return;
		noDelay(client);
		Link link;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			link.record = _records.size();
			_records.push_back({_backends[link.record % _backends.size()], {}});
		}
		const int backend = connectBackend(_backends[link.record % _backends.size()]);
		if (backend < 0)
		{
			::close(client);
			continue;
		}
		link.fds[0] = client;
		link.fds[1] = backend;
		links.push_back(std::move(link));
	}
}


void TcpRoundRobin::pump(Link& link, int side, short revents)
/// Reads what side has for the other (if there is room) and writes what the other has for it.
{
	if (link.dead)
		return;
	std::string& incoming = link.pending[side];
	std::string& outgoing = link.pending[1 - side];
	if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !link.eof[side] && incoming.size() < BUFFER_LIMIT)
	{
		char buffer[16384];
		const ssize_t n = ::recv(link.fds[side], buffer, std::min(sizeof(buffer), BUFFER_LIMIT - incoming.size()), 0);
		if (n > 0)
		{
			incoming.append(buffer, static_cast<std::size_t>(n));
			std::lock_guard<std::mutex> lock(_mutex);
			std::string& captured = _records[link.record].received;
			if (side == 1 && captured.size() < CAPTURE_LIMIT)
				captured.append(buffer, std::min(static_cast<std::size_t>(n), CAPTURE_LIMIT - captured.size()));
		}
		else if (n == 0)
			link.eof[side] = true;
		else if (!transient(errno))
			link.dead = true;
	}
	if ((revents & POLLOUT) != 0 && !outgoing.empty() && !link.dead)
	{
		const ssize_t n = ::send(link.fds[side], outgoing.data(), outgoing.size(), MSG_NOSIGNAL);
		if (n > 0)
			outgoing.erase(0, static_cast<std::size_t>(n));
		else if (n < 0 && !transient(errno))
			link.dead = true;
	}
	// One side closed and all it sent has been passed on: close both, as a load balancer does.
	for (int from = 0; from < 2; ++from)
	{
		if (link.eof[from] && link.pending[from].empty())
			link.dead = true;
	}
	if ((revents & POLLERR) != 0)
		link.dead = true;
}


} // namespace Test
} // namespace Switchboard
