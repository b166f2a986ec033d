//
// RedisConnection.h
//
// One TCP connection to Redis speaking RESP2, with a timeout on every wait. Written on
// Poco::Net::StreamSocket rather than Poco::Redis::Client because a subscriber must poll its
// socket with a timeout (to send its own SUBSCRIBEs and notice a dead server) and must be
// unblockable from another thread at shutdown; Poco::Redis 1.11 offers neither (docs/cluster.md).
//


#ifndef Switchboard_Cluster_RedisConnection_INCLUDED
#define Switchboard_Cluster_RedisConnection_INCLUDED


#include "cluster/Resp.h"
#include "Poco/Net/StreamSocket.h"
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Cluster {


class RedisError: public std::runtime_error
/// The connection failed (refused, reset, timed out, protocol error) and must be reconnected.
{
public:
	using std::runtime_error::runtime_error;
};


struct RedisEndpoint
{
	std::string host;
	int port = 6379;
	std::string password;
	int timeoutMs = 3000; ///< connect, each write and each awaited reply
};


class RedisConnection
/// Not thread-safe, except interrupt(). Owned by one thread.
{
public:
	explicit RedisConnection(RedisEndpoint endpoint);
	~RedisConnection();

	void connect();
	/// Connects and authenticates; throws RedisError with a reason a log line can carry.
	bool connected() const { return _connected; }
	void disconnect();
	void interrupt();
	/// From any thread: shuts the socket down so a blocked wait returns with an error.

	void append(const std::vector<std::string_view>& arguments);
	/// Queues a command; flush() writes everything queued.
	void flush();
	std::size_t queuedBytes() const { return _output.size(); }

	RespValue read(int timeoutMs);
	/// The next reply; throws RedisError on timeout, end of stream or a malformed reply.
	bool tryRead(RespValue& out, int timeoutMs);
	/// Like read() but returns false on timeout (the connection stays usable).

	RespValue command(const std::vector<std::string_view>& arguments);
	/// append + flush + read with the endpoint's timeout. An error reply is returned, not thrown.

	std::string describe() const { return _endpoint.host + ":" + std::to_string(_endpoint.port); }

private:
	bool fill(int timeoutMs);

	RedisEndpoint _endpoint;
	Poco::Net::StreamSocket _socket;
	std::mutex _socketMutex; // guards _socket against interrupt() during connect/disconnect
	bool _connected = false;
	std::string _output;
	RespParser _parser;
};


} // namespace Cluster
} // namespace Switchboard


#endif // Switchboard_Cluster_RedisConnection_INCLUDED
