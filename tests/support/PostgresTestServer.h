//
// PostgresTestServer.h
//
// Runs a throwaway PostgreSQL 15 cluster (Debian's) for a test: initdb in its own temp dir, a
// free loopback port, a role and database for the server under test, stop and start again on
// the same port, and superuser SQL for checks.
//


#ifndef Switchboard_Test_PostgresTestServer_INCLUDED
#define Switchboard_Test_PostgresTestServer_INCLUDED


#include "ChildProcess.h"
#include "TempDir.h"
#include <cstddef>
#include <string>
#include <sys/types.h>


namespace Switchboard {
namespace Test {


class PostgresTestServer
/// One postgres process per object, with its data in its own TempDir:
///
///     if (!PostgresTestServer::available())
///         return skip(PostgresTestServer::whyUnavailable());
///     PostgresTestServer postgres;
///     postgres.start();                 // initdb, role and database on the first start
///     ... connect to 127.0.0.1:postgres.port() as user() / password() to database() ...
///     postgres.stop();                  // fast shutdown: sessions are ended
///     postgres.start();                 // the same port and data again
///
/// initdb runs with --auth-host=scram-sha-256 (so the password is really checked) and local
/// trust for the superuser "postgres" on the Unix socket in the temp dir, which superuser() uses.
/// The server runs as `postgres -D <dir>/data -p PORT -k <dir> -c listen_addresses=127.0.0.1
/// -c fsync=off` (fsync off only for speed). When the test runs as root, initdb and postgres run
/// as the system user "postgres" (PostgreSQL refuses root) and the temp dir is chowned to it.
///
/// The process is started with PR_SET_PDEATHSIG = SIGKILL (set after dropping privileges): it
/// dies with the thread that started it, so start it from the test's own thread. The destructor
/// kills a server still running; during exception unwinding it first prints the log tail.
/// Not thread-safe.
{
public:
	static constexpr const char* BIN_DIR = "/usr/lib/postgresql/15/bin";
	static constexpr const char* SYSTEM_USER = "postgres";
	static constexpr const char* DISABLE_VARIABLE = "SWITCHBOARD_TEST_NO_POSTGRES";
	/// Set to anything but "" or "0", available() is false: how a test's skip path is tried.
	static constexpr int DEFAULT_READY_TIMEOUT_MS = 30000;
	static constexpr int DEFAULT_STOP_TIMEOUT_MS = 15000;

	PostgresTestServer();
	/// Picks the port; starts nothing.

	~PostgresTestServer();

	PostgresTestServer(const PostgresTestServer&) = delete;
	PostgresTestServer& operator=(const PostgresTestServer&) = delete;

	static bool available();
	/// True if PostgreSQL 15's binaries are installed (and, as root, the postgres user exists) and
	/// SWITCHBOARD_TEST_NO_POSTGRES does not say no.

	static std::string whyUnavailable();
	/// One line on why available() is false (for a test's skip message), "" if it is true.

	void start(int readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS);
	/// The first call runs initdb and, once the server accepts connections, creates user() with
	/// password() and database() owned by it. Waits until the server answers on TCP. Throws
	/// std::runtime_error with the log tail on failure, std::logic_error if already running.

	int stop(int timeoutMs = DEFAULT_STOP_TIMEOUT_MS);
	/// SIGINT (fast shutdown), then waits; SIGKILL after timeoutMs. Returns the exit code as a
	/// shell shows it, or -1 if it was not running.

	void kill();
	/// SIGKILL to the postmaster and waits for it; its backends end by themselves (start() retries
	/// while they still hold the old shared memory, up to 5 s).

	bool running();

	int port() const { return _port; }
	const std::string& host() const { return _host; }
	const std::string& socketDirectory() const { return _dir.path(); }
	/// The directory of its Unix socket (postgres -k; the socket is .s.PGSQL.<port()> in it): a
	/// client's host for a connection over the socket, which local trust lets in without checking
	/// the password. A filesystem socket also reaches it from another network namespace, where
	/// 127.0.0.1:port() is not this server.
	const std::string& database() const { return _database; }
	const std::string& user() const { return _user; }
	const std::string& password() const { return _password; }
	/// Contains a space, a quote and a backslash: a client must pass it as it is.

	std::string superuser(const std::string& sql, const std::string& database = "postgres") const;
	/// Runs sql as the superuser over the Unix socket; returns the first cell of the first row
	/// ("" if none or NULL). Throws std::runtime_error with the server's message on failure.

	std::string logTail(std::size_t lines = 30) const;
	TempDir& dir() { return _dir; }

private:
	void initialise();

	TempDir _dir;
	std::string _host;
	int _port;
	std::string _database;
	std::string _user;
	std::string _password;
	ChildProcess _child;
	bool _initialised;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_PostgresTestServer_INCLUDED
