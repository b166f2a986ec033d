//
// TcpRoundRobin.h
//
// A loopback TCP forwarder that hands each accepted connection to the next of several backend
// ports in turn: the load balancer an operator puts in front of a cluster, for the cluster runners.
//


#ifndef Switchboard_Test_TcpRoundRobin_INCLUDED
#define Switchboard_Test_TcpRoundRobin_INCLUDED


#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>


namespace Switchboard {
namespace Test {


class TcpRoundRobin
/// Listens on 127.0.0.1 on a free port; the n-th accepted connection goes to 127.0.0.1 on
/// backendPorts[n % size] and bytes are copied both ways until either side closes, when both are
/// closed (after what that side sent has been passed on). A backend that refuses gets the client
/// closed at once. One thread polls every socket; each direction buffers at most 64 KiB and stops
/// reading while full, so a slow reader slows its writer as a direct connection would.
///
/// For checks, the first 64 KiB each backend sent on each connection are kept (received()).
/// The destructor stops the thread and closes every socket. Only loopback, ever.
{
public:
	static constexpr std::size_t BUFFER_LIMIT = 64 * 1024;
	static constexpr std::size_t CAPTURE_LIMIT = 64 * 1024;

	explicit TcpRoundRobin(std::vector<int> backendPorts);
	/// Listens and starts forwarding. Throws std::runtime_error if it cannot listen.

	~TcpRoundRobin();

	TcpRoundRobin(const TcpRoundRobin&) = delete;
	TcpRoundRobin& operator=(const TcpRoundRobin&) = delete;

	int port() const { return _port; }

	std::size_t accepted() const;
	/// Connections accepted so far.

	int backendOf(std::size_t connection) const;
	/// The backend port the connection (0 = the first accepted) was sent to.

	std::string received(std::size_t connection) const;
	/// What the backend has sent on the connection so far (its first CAPTURE_LIMIT bytes).

private:
	struct Link;
	struct Record
	{
		int backendPort = 0;
		std::string received;
	};

	void run();
	void acceptAll(std::vector<Link>& links);
	void pump(Link& link, int side, short revents);
	Record record(std::size_t connection) const;

	std::vector<int> _backends;
	int _listenFd = -1;
	int _wakeFds[2] = {-1, -1};
	int _port = 0;
	std::atomic<bool> _stopping{false};
	mutable std::mutex _mutex;
	std::vector<Record> _records;
	std::thread _thread;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TcpRoundRobin_INCLUDED
