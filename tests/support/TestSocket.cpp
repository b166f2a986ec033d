//
// TestSocket.cpp
//
// A loopback-only TCP client socket for tests: plain POSIX, every operation bounded in time.
//


#include "TestSocket.h"
#include "Deadline.h"
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {


std::string errnoText(int error)
{
	return std::system_category().message(error);
}


bool parseAddress(const std::string& host, int port, sockaddr_storage& address, socklen_t& length)
{
	std::string literal = host;
	if (literal == "localhost")
		literal = "127.0.0.1";
	if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']')
		literal = literal.substr(1, literal.size() - 2);
	std::memset(&address, 0, sizeof(address));
	auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
	if (inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1)
	{
		v4->sin_family = AF_INET;
		v4->sin_port = htons(static_cast<uint16_t>(port));
		length = sizeof(sockaddr_in);
		return true;
	}
	auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
	if (inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1)
	{
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(static_cast<uint16_t>(port));
		length = sizeof(sockaddr_in6);
		return true;
	}
	return false;
}


bool isLoopbackAddress(const sockaddr_storage& address)
{
	if (address.ss_family == AF_INET)
	{
		const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
		return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	}
	if (address.ss_family == AF_INET6)
	{
		const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
		return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
	}
	return false;
}


void resolveLoopback(const std::string& host, int port, sockaddr_storage& address, socklen_t& length)
{
	if (!parseAddress(host, port, address, length))
		throw std::invalid_argument("test sockets take only 'localhost' or an IP literal, not '" + host + "'");
	if (!isLoopbackAddress(address))
		throw std::invalid_argument("test sockets talk to loopback addresses only, not '" + host + "'");
}


std::string formatAddress(const sockaddr_storage& address)
{
	char text[INET6_ADDRSTRLEN] = {0};
	if (address.ss_family == AF_INET)
	{
		const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
		inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
		return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
	}
	if (address.ss_family == AF_INET6)
	{
		const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
		inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
		return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
	}
	return "";
}


// poll() for one event, retrying on EINTR; returns >0 ready, 0 timeout, <0 error (errno set).
int pollFor(int fd, short events, const Deadline& deadline, short& revents)
{
	for (;;)
	{
		pollfd entry{fd, events, 0};
		const int rc = ::poll(&entry, 1, deadline.remainingMs());
		if (rc < 0 && errno == EINTR)
			continue;
		revents = entry.revents;
		if (rc == 0 && !deadline.expired())
			continue;
		return rc;
	}
}


} // namespace


TestSocket::TestSocket():
    _fd(-1),
    _receiveBufferSize(0),
    _sendBufferSize(0)
{
}


TestSocket::~TestSocket()
{
	close();
}


TestSocket::TestSocket(TestSocket&& other) noexcept:
    _fd(other._fd),
    _bindAddress(std::move(other._bindAddress)),
    _receiveBufferSize(other._receiveBufferSize),
    _sendBufferSize(other._sendBufferSize),
    _lastError(std::move(other._lastError))
{
	other._fd = -1;
}


TestSocket& TestSocket::operator=(TestSocket&& other) noexcept
{
	if (this != &other)
	{
		close();
		_fd = other._fd;
		_bindAddress = std::move(other._bindAddress);
		_receiveBufferSize = other._receiveBufferSize;
		_sendBufferSize = other._sendBufferSize;
		_lastError = std::move(other._lastError);
		other._fd = -1;
	}
	return *this;
}


void TestSocket::setBindAddress(const std::string& address)
{
	if (!address.empty())
	{
		sockaddr_storage ignored;
		socklen_t length = 0;
		resolveLoopback(address, 0, ignored, length);
	}
	_bindAddress = address;
}


void TestSocket::setReceiveBufferSize(int bytes)
{
	_receiveBufferSize = bytes;
}


void TestSocket::setSendBufferSize(int bytes)
{
	_sendBufferSize = bytes;
}


void TestSocket::connect(const std::string& host, int port, int timeoutMs)
{
	close();
	if (port <= 0 || port > 65535)
		throw std::invalid_argument("port out of range: " + std::to_string(port));
	sockaddr_storage peer;
	socklen_t peerLength = 0;
	resolveLoopback(host, port, peer, peerLength);
	const std::string target = formatAddress(peer);

	const int fd = ::socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::runtime_error("socket(): " + errnoText(errno));
	_fd = fd;

	const int one = 1;
	::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (_receiveBufferSize > 0)
		::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &_receiveBufferSize, sizeof(_receiveBufferSize));
	if (_sendBufferSize > 0)
		::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &_sendBufferSize, sizeof(_sendBufferSize));
	if (!_bindAddress.empty())
	{
		sockaddr_storage local;
		socklen_t localLength = 0;
		resolveLoopback(_bindAddress, 0, local, localLength);
		if (local.ss_family != peer.ss_family)
		{
			close();
			throw std::invalid_argument("bind address " + _bindAddress + " and peer " + host + " differ in family");
		}
		if (::bind(fd, reinterpret_cast<sockaddr*>(&local), localLength) != 0)
		{
			const int error = errno;
			close();
			throw std::runtime_error("bind(" + _bindAddress + "): " + errnoText(error));
		}
	}

	Deadline deadline(timeoutMs);
	if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), peerLength) != 0)
	{
		if (errno != EINPROGRESS)
		{
			const int error = errno;
			close();
			throw std::runtime_error("connect to " + target + ": " + errnoText(error));
		}
		short revents = 0;
		const int rc = pollFor(fd, POLLOUT, deadline, revents);
		if (rc <= 0)
		{
			const int error = errno;
			close();
			if (rc == 0)
				throw std::runtime_error("connect to " + target + " timed out after " + std::to_string(timeoutMs) +
				                         " ms");
			throw std::runtime_error("poll() during connect to " + target + ": " + errnoText(error));
		}
		int error = 0;
		socklen_t errorLength = sizeof(error);
		::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &errorLength);
		if (error != 0)
		{
			close();
			throw std::runtime_error("connect to " + target + ": " + errnoText(error));
		}
	}
}


void TestSocket::sendAll(std::string_view data, int timeoutMs)
{
	if (_fd < 0)
		throw std::runtime_error("send on a closed test socket");
	Deadline deadline(timeoutMs);
	std::size_t sent = 0;
	while (sent < data.size())
	{
		const ssize_t n = ::send(_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
		if (n > 0)
		{
			sent += static_cast<std::size_t>(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			throw std::runtime_error("send(): " + errnoText(errno) + " after " + std::to_string(sent) + " of " +
			                         std::to_string(data.size()) + " bytes");
		short revents = 0;
		const int rc = pollFor(_fd, POLLOUT, deadline, revents);
		if (rc == 0)
			throw std::runtime_error("send timed out after " + std::to_string(timeoutMs) + " ms with " +
			                         std::to_string(sent) + " of " + std::to_string(data.size()) + " bytes sent");
		if (rc < 0)
			throw std::runtime_error("poll() during send: " + errnoText(errno));
	}
}


TestSocket::ReceiveStatus TestSocket::receiveSome(std::string& buffer, int timeoutMs, std::size_t maxBytes)
{
	if (_fd < 0)
	{
		_lastError = "receive on a closed test socket";
		return RECEIVE_ERROR;
	}
	if (maxBytes == 0)
		maxBytes = 1;
	Deadline deadline(timeoutMs);
	char chunk[65536];
	if (maxBytes > sizeof(chunk))
		maxBytes = sizeof(chunk);
	for (;;)
	{
		const ssize_t n = ::recv(_fd, chunk, maxBytes, 0);
		if (n > 0)
		{
			buffer.append(chunk, static_cast<std::size_t>(n));
			return RECEIVE_DATA;
		}
		if (n == 0)
			return RECEIVE_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
		{
			_lastError = "recv(): " + errnoText(errno);
			return RECEIVE_ERROR;
		}
		short revents = 0;
		const int rc = pollFor(_fd, POLLIN, deadline, revents);
		if (rc == 0)
			return RECEIVE_TIMEOUT;
		if (rc < 0)
		{
			_lastError = "poll(): " + errnoText(errno);
			return RECEIVE_ERROR;
		}
	}
}


void TestSocket::shutdownWrite()
{
	if (_fd >= 0)
		::shutdown(_fd, SHUT_WR);
}


void TestSocket::abort()
{
	if (_fd >= 0)
	{
		linger option{1, 0};
		::setsockopt(_fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
		close();
	}
}


void TestSocket::close()
{
	if (_fd >= 0)
	{
		::close(_fd);
		_fd = -1;
	}
}


std::string TestSocket::localAddress() const
{
	if (_fd < 0)
		return "";
	sockaddr_storage address;
	socklen_t length = sizeof(address);
	if (::getsockname(_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
		return "";
	return formatAddress(address);
}


bool TestSocket::isLoopback(const std::string& host)
{
	sockaddr_storage address;
	socklen_t length = 0;
	return parseAddress(host, 0, address, length) && isLoopbackAddress(address);
}


} // namespace Test
} // namespace Switchboard
