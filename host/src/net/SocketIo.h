//
// SocketIo.h
//
// The few raw socket calls of the data plane, for POSIX sockets and for Winsock: sending
// gathered pieces, receiving, accepting non-blocking, and what a failure means.
//


#ifndef Switchboard_Core_SocketIo_INCLUDED
#define Switchboard_Core_SocketIo_INCLUDED


#include <cstddef>

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>

/// Winsock gathers WSABUFs; the host keeps the POSIX shape and SocketIo converts.
struct iovec
{
	void* iov_base;
	std::size_t iov_len;
};
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#endif


namespace Switchboard {
namespace Core {
namespace SocketIo {


/// Descriptors stay ints in the host: a Winsock SOCKET is a kernel handle, whose values fit.

enum class Failure
{
	WOULD_BLOCK,  ///< nothing to read, or the kernel's buffer is full: wait for readiness
	INTERRUPTED,  ///< a signal interrupted the call: retry
	ABORTED,      ///< accept: the client was gone before it was accepted
	NO_RESOURCES, ///< accept: out of descriptors or memory
	OTHER         ///< the connection failed
};

Failure lastFailure();
/// What the last failed call of this thread meant.

long sendPieces(int fd, const iovec* pieces, int count);
/// Sends what the kernel takes of the pieces, never raising SIGPIPE. -1 on failure.

long sendBytes(int fd, const void* data, std::size_t size, bool dontWait);
/// Sends what the kernel takes, never raising SIGPIPE; dontWait even on a blocking socket.

long receiveBytes(int fd, void* buffer, std::size_t size, bool dontWait);
/// Receives up to size bytes: 0 at the peer's end, -1 on failure.

int acceptNonBlocking(int listenFd, sockaddr_storage& address);
/// Accepts one connection as a non-blocking socket not inherited by child processes; -1 on
/// failure.

std::size_t unreadBytes(int fd);
/// Bytes received by the kernel and not read yet; 0 when unknown.

void shutdownWrite(int fd);
void closeSocket(int fd);


} // namespace SocketIo
} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_SocketIo_INCLUDED
