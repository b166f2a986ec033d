//
// SocketIo.cpp
//


#include "net/SocketIo.h"
#include <cerrno>

#if !defined(_WIN32)
#include <sys/ioctl.h>
#include <unistd.h>
#endif


namespace Switchboard {
namespace Core {
namespace SocketIo {


#if defined(_WIN32)


namespace {

constexpr int MAX_PIECES = 64;

SOCKET native(int fd)
{
	return static_cast<SOCKET>(fd);
}

} // namespace


Failure lastFailure()
{
	switch (::WSAGetLastError())
	{
		case WSAEWOULDBLOCK:
			return Failure::WOULD_BLOCK;
		case WSAEINTR:
			return Failure::INTERRUPTED;
		case WSAECONNRESET:
		case WSAECONNABORTED:
			return Failure::ABORTED;
		case WSAEMFILE:
		case WSAENOBUFS:
			return Failure::NO_RESOURCES;
		default:
			return Failure::OTHER;
	}
}


long sendPieces(int fd, const iovec* pieces, int count)
{
	WSABUF buffers[MAX_PIECES];
	DWORD used = 0;
	for (int i = 0; i < count && i < MAX_PIECES; ++i, ++used)
	{
		buffers[i].buf = static_cast<char*>(pieces[i].iov_base);
		buffers[i].len = static_cast<ULONG>(pieces[i].iov_len);
	}
	DWORD sent = 0;
	if (::WSASend(native(fd), buffers, used, &sent, 0, nullptr, nullptr) != 0)
		return -1;
	return static_cast<long>(sent);
}


long sendBytes(int fd, const void* data, std::size_t size, bool)
{
	// Every socket the host writes raw is non-blocking: accepted by acceptNonBlocking().
	return ::send(native(fd), static_cast<const char*>(data), static_cast<int>(size), 0);
}


long receiveBytes(int fd, void* buffer, std::size_t size, bool)
{
	return ::recv(native(fd), static_cast<char*>(buffer), static_cast<int>(size), 0);
}


int acceptNonBlocking(int listenFd, sockaddr_storage& address)
{
	int length = sizeof(address);
	SOCKET s = ::accept(native(listenFd), reinterpret_cast<sockaddr*>(&address), &length);
	if (s == INVALID_SOCKET)
		return -1;
	u_long nonBlocking = 1;
	::ioctlsocket(s, FIONBIO, &nonBlocking);
	return static_cast<int>(s);
}


std::size_t unreadBytes(int fd)
{
	u_long bytes = 0;
	if (::ioctlsocket(native(fd), FIONREAD, &bytes) != 0)
		return 0;
	return static_cast<std::size_t>(bytes);
}


void shutdownWrite(int fd)
{
	::shutdown(native(fd), SD_SEND);
}


void closeSocket(int fd)
{
	::closesocket(native(fd));
}


#else


Failure lastFailure()
{
	switch (errno)
	{
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return Failure::WOULD_BLOCK;
		case EINTR:
			return Failure::INTERRUPTED;
		case ECONNABORTED:
			return Failure::ABORTED;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			return Failure::NO_RESOURCES;
		default:
			return Failure::OTHER;
	}
}


long sendPieces(int fd, const iovec* pieces, int count)
{
	msghdr message{};
	message.msg_iov = const_cast<iovec*>(pieces);
	message.msg_iovlen = static_cast<std::size_t>(count);
	return ::sendmsg(fd, &message, MSG_NOSIGNAL); // a vanished peer must not raise SIGPIPE
}


long sendBytes(int fd, const void* data, std::size_t size, bool dontWait)
{
	return ::send(fd, data, size, MSG_NOSIGNAL | (dontWait ? MSG_DONTWAIT : 0));
}


long receiveBytes(int fd, void* buffer, std::size_t size, bool dontWait)
{
	return ::recv(fd, buffer, size, dontWait ? MSG_DONTWAIT : 0);
}


int acceptNonBlocking(int listenFd, sockaddr_storage& address)
{
	socklen_t length = sizeof(address);
	return ::accept4(listenFd, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}


std::size_t unreadBytes(int fd)
{
	int bytes = 0;
	if (::ioctl(fd, FIONREAD, &bytes) != 0 || bytes < 0)
		return 0;
	return static_cast<std::size_t>(bytes);
}


void shutdownWrite(int fd)
{
	::shutdown(fd, SHUT_WR);
}


void closeSocket(int fd)
{
	::close(fd);
}


#endif


} // namespace SocketIo
} // namespace Core
} // namespace Switchboard
