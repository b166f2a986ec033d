//
// SystemdNotify.cpp
//


#include "server/SystemdNotify.h"
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#if !defined(_WIN32)
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif


namespace Switchboard {
namespace Core {


#if defined(_WIN32)


// No systemd: Poco's service control handler reports a Windows service's state.
bool notifyServiceManager(std::string_view, std::string*)
{
	return false;
}


std::string reloadingState()
{
	return "RELOADING=1";
}


#else


bool notifyServiceManager(std::string_view state, std::string* pError)
{
	const char* target = std::getenv("NOTIFY_SOCKET");
	if (target == nullptr || *target == '\0')
		return false;
	const std::string path(target);
	auto fail = [pError](const std::string& why) {
		if (pError != nullptr)
			*pError = why;
		return false;
	};
	sockaddr_un address{};
	address.sun_family = AF_UNIX;
	if (path.size() >= sizeof(address.sun_path) || (path[0] != '/' && path[0] != '@'))
		return fail("NOTIFY_SOCKET is neither an absolute path nor an abstract name: " + path);
	std::memcpy(address.sun_path, path.data(), path.size());
	if (path[0] == '@')
		address.sun_path[0] = '\0'; // abstract namespace: no file, the name follows the NUL
	const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
	const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(std::string("socket: ") + std::strerror(errno));
	const ssize_t sent =
	    ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address), length);
	const int sendError = errno;
	::close(fd);
	if (sent != static_cast<ssize_t>(state.size()))
		return fail("sendto " + path + ": " + std::strerror(sendError));
	return true;
}


std::string reloadingState()
{
	timespec now{};
	::clock_gettime(CLOCK_MONOTONIC, &now);
	const long long micros = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
	return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(micros);
}


#endif


} // namespace Core
} // namespace Switchboard
