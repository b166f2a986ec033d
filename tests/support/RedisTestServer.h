//
// RedisTestServer.h
//
// Runs a real redis-server (Debian's) for a test: its own temp dir, a free loopback port,
// readiness by PING, stop, kill and restart on the same port, and a small RESP client.
//


#ifndef Switchboard_Test_RedisTestServer_INCLUDED
#define Switchboard_Test_RedisTestServer_INCLUDED


#include "ChildProcess.h"
#include "TempDir.h"
#include <cstddef>
#include <string>
#include <sys/types.h>
#include <vector>


namespace Switchboard {
namespace Test {


class RedisTestServer
/// One redis-server process per object, in its own TempDir:
///
///     if (!RedisTestServer::available())
///         return skip(RedisTestServer::whyUnavailable());
///     RedisTestServer redis;
///     redis.start();                              // throws with the log tail if no PONG in 10 s
///     redis.command({"SET", "k", "v"});           // "OK"
///     redis.stop();                               // SIGTERM, wait, SIGKILL after 5 s
///     redis.start();                              // the same port again
///
/// The server runs with --port P --bind 127.0.0.1 --save "" --appendonly no --dir <dir>
/// --daemonize no --logfile <dir>/redis.log (and --requirepass when a password is given), so
/// nothing survives a restart. Its stdout and stderr go to <dir>/redis.out. The port is picked
/// with PortPicker at construction; if the first start finds it taken, one more port is tried.
/// After that the port never changes, so clients configured with it reconnect after a restart.
///
/// The process is started with PR_SET_PDEATHSIG = SIGKILL: it dies with the thread that started
/// it, so start it from the test's own thread. The destructor kills a server still running; when
/// it runs during exception unwinding it first prints the tail of the log. Not thread-safe.
{
public:
	struct Reply
	/// One RESP reply, as read by request().
	{
		enum Type
		{
			TYPE_SIMPLE,
			TYPE_ERROR,
			TYPE_INTEGER,
			TYPE_BULK,
			TYPE_NIL,
			TYPE_ARRAY
		};

		Type type = TYPE_NIL;
		std::string text;
		/// Simple strings and errors: the line without its type byte; bulk strings: the bytes;
		/// integers: the digits as sent.
		long long integer = 0;
		/// Integers only.
		std::vector<Reply> elements;
		/// Arrays only.

		bool isError() const { return type == TYPE_ERROR; }

		std::string toString() const;
		/// The readable form of command(): "OK", "-ERR ...", "42", the bulk bytes, "(nil)", and
		/// an array's elements (each in this form) joined by '\n' ("" for an empty array).
	};

	static constexpr const char* BINARY = "/usr/bin/redis-server";
	static constexpr const char* DISABLE_VARIABLE = "SWITCHBOARD_TEST_NO_REDIS";
	/// Set to anything but "" or "0", available() is false: how a test's skip path is tried.
	static constexpr int DEFAULT_READY_TIMEOUT_MS = 10000;
	static constexpr int DEFAULT_STOP_TIMEOUT_MS = 5000;
	static constexpr int DEFAULT_COMMAND_TIMEOUT_MS = 3000;

	explicit RedisTestServer(const std::string& password = "");
	/// Picks the port; starts nothing. An empty password means no --requirepass.

	~RedisTestServer();

	RedisTestServer(const RedisTestServer&) = delete;
	RedisTestServer& operator=(const RedisTestServer&) = delete;

	static bool available();
	/// True if redis-server can be run here (and SWITCHBOARD_TEST_NO_REDIS does not say no).

	static std::string whyUnavailable();
	/// One line on why available() is false (for a test's skip message), "" if it is true.

	void start(int readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS);
	/// Spawns redis-server and sends PING every 20 ms until it answers +PONG. Throws
	/// std::runtime_error with the tail of the log if the process exits first or the timeout
	/// passes (the process is then killed), std::logic_error if it is already running.

	int stop(int timeoutMs = DEFAULT_STOP_TIMEOUT_MS);
	/// SIGTERM, then waits; after timeoutMs SIGKILL. Returns the exit code as a shell shows it
	/// (0 for a clean stop, 128 + signal for a kill), or -1 if it was not running.

	void kill();
	/// SIGKILL and reap; nothing if not running.

	bool running();
	/// True while the process has not exited (reaps it if it has).

	int port() const { return _port; }
	pid_t pid() const { return _child.pid(); }
	const std::string& password() const { return _password; }
	TempDir& dir() { return _dir; }

	std::string logPath() const;
	/// <dir>/redis.log, redis's own log (all runs).

	std::string logTail(std::size_t lines = 30) const;
	/// The last lines of redis.log, then of redis.out if it has anything.

	Reply request(const std::vector<std::string>& args, int timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS) const;
	/// Opens a fresh TCP connection, sends AUTH first if a password was given (an AUTH error is
	/// returned as the reply), sends args as a RESP array of bulk strings and reads one reply.
	/// Throws std::runtime_error if the server cannot be reached, the connection ends early,
	/// the reply is malformed or does not arrive within timeoutMs (all steps together).

	std::string command(const std::vector<std::string>& args, int timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS) const;
	/// request(args, timeoutMs).toString().

	std::vector<std::string> channels(const std::string& pattern) const;
	/// PUBSUB CHANNELS pattern, one entry per channel (in redis's order). Throws
	/// std::runtime_error on an error reply.

	long long numsub(const std::string& channel) const;
	/// PUBSUB NUMSUB channel: how many clients subscribe to the channel (not patterns).

	static std::string encodeCommand(const std::vector<std::string>& args);
	/// The RESP bytes of a command: *N, then $len and the bytes of each argument. For tests
	/// that talk to redis on a socket of their own (a subscriber, for example).

	static bool parseReply(const std::string& buffer, std::size_t& position, Reply& reply);
	/// Parses one reply from buffer at position: true and position moved past it, or false if
	/// the buffer ends before the reply does (position unchanged). Throws std::runtime_error on
	/// bytes that are not RESP.

private:
	void startOnce(int readyTimeoutMs, std::string& failure);

	std::string _password;
	TempDir _dir;
	int _port;
	ChildProcess _child;
	bool _everStarted;
	std::size_t _runLogOffset;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_RedisTestServer_INCLUDED
