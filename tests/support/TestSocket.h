//
// TestSocket.h
//
// A loopback-only TCP client socket for tests: plain POSIX, every operation bounded in time.
//


#ifndef Switchboard_Test_TestSocket_INCLUDED
#define Switchboard_Test_TestSocket_INCLUDED


#include <cstddef>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Test {


class TestSocket
/// The transport under HttpTestClient and WsTestClient. It uses raw POSIX calls, not Poco::Net,
/// so the tests do not share code paths with the server. The descriptor is non-blocking and
/// every wait goes through poll() with the caller's timeout.
///
/// Only loopback peers and local addresses are accepted (127.0.0.0/8, ::1, "localhost"); any
/// other address is refused with std::invalid_argument before a socket is created, so a test
/// can never send traffic off the machine.
///
/// Sends use MSG_NOSIGNAL: a peer that has gone away gives an exception, never SIGPIPE.
/// Not thread-safe; move-only.
{
public:
	enum ReceiveStatus
	{
		RECEIVE_DATA,
		RECEIVE_TIMEOUT,
		RECEIVE_EOF,
		RECEIVE_ERROR
	};

	TestSocket();
	~TestSocket();
	TestSocket(TestSocket&& other) noexcept;
	TestSocket& operator=(TestSocket&& other) noexcept;
	TestSocket(const TestSocket&) = delete;
	TestSocket& operator=(const TestSocket&) = delete;

	void setBindAddress(const std::string& address);
	/// Local address to bind before connecting (e.g. "127.0.0.2" to spread source addresses
	/// in load tests); empty for the kernel's choice. Applies to the next connect().

	void setReceiveBufferSize(int bytes);
	/// SO_RCVBUF set before connect() (so the TCP window is negotiated small); 0 keeps the
	/// system default. The kernel doubles the value and enforces a minimum.

	void setSendBufferSize(int bytes);
	/// SO_SNDBUF set before connect(); 0 keeps the system default.

	void connect(const std::string& host, int port, int timeoutMs);
	/// Connects with TCP_NODELAY. Throws std::invalid_argument for a non-loopback or malformed
	/// address and std::runtime_error when the connection is refused or not established in
	/// time. Closes a previous connection first.

	void sendAll(std::string_view data, int timeoutMs);
	/// Sends every byte or throws std::runtime_error (timeout, reset, not connected). On
	/// timeout the message says how many bytes went out.

	ReceiveStatus receiveSome(std::string& buffer, int timeoutMs, std::size_t maxBytes = 65536);
	/// Waits up to timeoutMs for data and appends what one recv() returns (at most maxBytes,
	/// capped at 64 KiB) to buffer.
	/// RECEIVE_EOF on an orderly shutdown by the peer, RECEIVE_ERROR on a reset or another
	/// error (see lastError()), RECEIVE_TIMEOUT when nothing arrived in time.

	void shutdownWrite();
	/// Half-close: sends FIN, keeps reading possible.

	void abort();
	/// Closes with SO_LINGER 0, so the peer sees a TCP RST.

	void close();
	/// Closes the descriptor (orderly FIN). Safe to call twice.

	bool isOpen() const { return _fd >= 0; }

	int fd() const { return _fd; }
	/// The descriptor, for socket options a test wants to set or read itself; -1 if closed.

	const std::string& lastError() const { return _lastError; }
	/// Text of the last error that receiveSome() reported as RECEIVE_ERROR.

	std::string localAddress() const;
	/// "address:port" of the local end, empty if not connected.

	static bool isLoopback(const std::string& host);
	/// True if host is "localhost" or a loopback IP literal (IPv6 optionally in brackets).

private:
	int _fd;
	std::string _bindAddress;
	int _receiveBufferSize;
	int _sendBufferSize;
	std::string _lastError;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TestSocket_INCLUDED
