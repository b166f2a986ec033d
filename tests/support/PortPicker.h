//
// PortPicker.h
//
// Free loopback TCP ports for test servers, never the same one twice in a process.
//


#ifndef Switchboard_Test_PortPicker_INCLUDED
#define Switchboard_Test_PortPicker_INCLUDED


#include <string>
#include <vector>


namespace Switchboard {
namespace Test {


class PortPicker
/// Picks a port by binding 127.0.0.1:0, reading the port the kernel chose and closing the
/// socket. A port handed out once is never handed out again by this process, so two servers
/// of one test cannot be given the same port even if the first has not bound it yet.
///
/// The port is free when picked, not reserved: another process may take it before the
/// server binds it. TestServer therefore retries once with new ports when the server reports
/// that the address is in use. Thread-safe.
{
public:
	static int pick();
	/// A free loopback port not returned before in this process. Throws std::runtime_error
	/// if none can be found (socket errors, or 100 picks in a row that were already used).

	static std::vector<int> pick(int count);
	/// count distinct ports, each as from pick().

	static bool isFree(int port);
	/// True if 127.0.0.1:port can be bound right now (bound without SO_REUSEADDR, then closed).

	static std::string ipv6LoopbackUnavailable();
	/// Why this machine cannot listen on [::1] (for a test's skip message), or "" if it can.

	static int listenOnLoopback(int& port, const std::string& who);
	/// A socket listening on 127.0.0.1 at a port the kernel chose (backlog 16, close-on-exec),
	/// for a test's own stand-in server; sets port. Throws std::runtime_error naming who.
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_PortPicker_INCLUDED
