//
// PortPicker.cpp
//
// Free loopback TCP ports for test servers, never the same one twice in a process.
//


#include "PortPicker.h"
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {


std::mutex pickedMutex;
std::set<int> pickedPorts;


// Binds 127.0.0.1:port (0 for the kernel's choice); returns the bound port, 0 if the port is taken,
// and throws on any other failure.
int bindLoopback(int port)
{
	const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::runtime_error("PortPicker: socket(): " + std::system_category().message(errno));
	sockaddr_in address;
	std::memset(&address, 0, sizeof(address));
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	address.sin_port = htons(static_cast<uint16_t>(port));
	if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
	{
		const int error = errno;
		::close(fd);
		if (error == EADDRINUSE)
			return 0;
		throw std::runtime_error("PortPicker: bind(): " + std::system_category().message(error));
	}
	socklen_t length = sizeof(address);
	const int rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
	const int error = errno;
	::close(fd);
	if (rc != 0)
		throw std::runtime_error("PortPicker: getsockname(): " + std::system_category().message(error));
	return ntohs(address.sin_port);
}


} // namespace


int PortPicker::pick()
{
	std::lock_guard<std::mutex> lock(pickedMutex);
	for (int attempt = 0; attempt < 100; ++attempt)
	{
		const int port = bindLoopback(0);
		if (port > 0 && pickedPorts.insert(port).second)
			return port;
	}
	throw std::runtime_error("PortPicker: no unused free port after 100 attempts");
}


std::vector<int> PortPicker::pick(int count)
{
	std::vector<int> ports;
	for (int i = 0; i < count; ++i)
		ports.push_back(pick());
	return ports;
}


bool PortPicker::isFree(int port)
{
	if (port <= 0 || port > 65535)
		return false;
	return bindLoopback(port) == port;
}


std::string PortPicker::ipv6LoopbackUnavailable()
{
	int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return "no IPv6 sockets";
	sockaddr_in6 address{};
	address.sin6_family = AF_INET6;
	address.sin6_addr = in6addr_loopback;
	int result = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
	::close(fd);
	return result == 0 ? "" : "cannot bind [::1]";
}


int PortPicker::listenOnLoopback(int& port, const std::string& who)
{
	const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof(address);
	if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd, 16) != 0 ||
	    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
	{
		const int error = errno;
		if (fd >= 0)
			::close(fd);
		throw std::runtime_error(who + ": cannot listen on loopback: " + std::system_category().message(error));
	}
	port = ntohs(address.sin_port);
	return fd;
}


} // namespace Test
} // namespace Switchboard
