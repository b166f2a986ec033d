//
// RawRelay.h
//
// The benchmark's reference for the machine's limit: the smallest single-threaded epoll program
// that relays the generator's WebSocket frames between the same pairs, without any JSON.
//


#ifndef Switchboard_Bench_RawRelay_INCLUDED
#define Switchboard_Bench_RawRelay_INCLUDED


#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Bench {


class RawRelay
/// Accepts WebSocket upgrades on any path, takes the peer id from the query's id= parameter and
/// answers {"type":"OPEN"} as a PeerJS server would. Connections whose ids differ only in a
/// final 'a'/'b' are partners: every data frame from one is unmasked and written to the other
/// unchanged, except the exact HEARTBEAT message, which is dropped. Frames that arrive in one
/// read go out in one write per partner, as the server under test may do. Pings are answered;
/// a close frame ends the connection. Output beyond 64 MiB per connection closes it.
{
public:
	RawRelay(const std::string& address, int port);
	~RawRelay();

	RawRelay(const RawRelay&) = delete;
	RawRelay& operator=(const RawRelay&) = delete;

	int run();
	/// Serves until requestStop(); returns the exit code.

	static void requestStop();
	/// Async-signal-safe.

private:
	struct Conn
	{
		int fd = -1;
		bool upgraded = false;
		bool dirty = false;
		bool closing = false;
		std::uint32_t interest = 0;
		std::string id;
		Conn* partner = nullptr;
		std::string in; ///< request bytes, then a partial frame carried between reads
		std::string out;
		std::size_t outOff = 0;
	};

	bool listen();
	void acceptAll();
	void onReadable(Conn& conn);
	bool upgrade(Conn& conn);
	std::size_t relay(Conn& conn, char* data, std::size_t size);
	void markDirty(Conn& conn);
	void flush(Conn& conn);
	void updateInterest(Conn& conn);
	void closeConn(Conn& conn);

	std::string _address;
	int _port;
	int _listener = -1;
	int _epoll = -1;
	bool _acceptPaused = false; ///< out of descriptors: the listener is off the epoll set
	std::vector<std::unique_ptr<Conn>> _byFd;
	std::unordered_map<std::string, Conn*> _byId;
	std::vector<Conn*> _dirty;
	std::vector<Conn*> _closed;
	std::vector<char> _scratch;
};


} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_RawRelay_INCLUDED
