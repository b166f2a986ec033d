//
// ChildProcess.h
//
// One child process of a test helper (RedisTestServer, PostgresTestServer): spawning with
// PR_SET_PDEATHSIG, reaping, waiting with a timeout, polling for readiness, stop and kill, and the
// file helpers their log tails are made of.
//


#ifndef Switchboard_Test_ChildProcess_INCLUDED
#define Switchboard_Test_ChildProcess_INCLUDED


#include <cstddef>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>


namespace Switchboard {
namespace Test {


struct ChildIdentity
/// Who the child runs as: with drop, the given uid and gid (no supplementary groups);
/// without, the caller's identity.
{
	bool drop = false;
	uid_t uid = 0;
	gid_t gid = 0;
};


class ChildProcess
/// At most one running process at a time; start() again once it has ended. The owner's name
/// ("RedisTestServer") begins every message and exception text. The destructor kills a process
/// still running. Not thread-safe.
{
public:
	using Identity = ChildIdentity;

	enum Readiness
	{
		READY,
		EXITED,
		TIMED_OUT
	};

	ChildProcess(const std::string& owner, int killWaitMs);
	/// killWaitMs: how long kill() waits for the process after SIGKILL.

	~ChildProcess();

	ChildProcess(const ChildProcess&) = delete;
	ChildProcess& operator=(const ChildProcess&) = delete;

	void start(const std::vector<std::string>& argv, int outputFd, const Identity& who = Identity());
	/// Starts argv[0] (a path) as who, with /dev/null as stdin and outputFd as stdout and stderr.
	/// The child gets PR_SET_PDEATHSIG = SIGKILL (after any uid change, which would clear it),
	/// default signal dispositions and an empty signal mask. Only async-signal-safe calls run
	/// between fork() and exec; an exec failure comes back via a pipe and is thrown as
	/// std::runtime_error.

	bool reap();
	/// True if no process runs (any that ended is reaped and its exit code kept).

	bool running() { return !reap(); }

	bool waitExit(int timeoutMs, int pollMs);
	/// Polls reap() every pollMs until it is true (true) or timeoutMs passes (false).

	Readiness waitReady(int timeoutMs, int pollMs, const std::function<bool(int remainingMs)>& ready);
	/// Until ready(remaining milliseconds) holds: EXITED if the process ends first, TIMED_OUT
	/// (after kill()) if timeoutMs passes.

	bool signal(int number);
	/// Sends the signal if the process runs; false if it does not.

	int stop(int signal, const std::string& signalName, int timeoutMs, int pollMs);
	/// The signal, then waits; after timeoutMs kill(). Returns lastExitCode().

	void kill();
	/// SIGKILL and waits up to the killWaitMs given at construction; nothing if not running.

	pid_t pid() const { return _pid; }

	int lastExitCode() const { return _lastExitCode; }
	/// The exit code as a shell shows it (128 + signal for a signal), -1 before any ended.

	static int shellCode(int waitStatus);
	static std::string describeErrno(int error);

	static int openAppend(const std::string& owner, const std::string& path);
	/// An O_APPEND descriptor for a log file (created 0644); throws std::runtime_error.

	static std::string fileText(const std::string& path, std::size_t from = 0);
	/// The file's bytes from offset from; "" if it cannot be read.

	static std::string tailLines(const std::string& text, std::size_t count);
	/// The last count lines of text, without the final newline.

private:
	std::string _owner;
	int _killWaitMs;
	pid_t _pid;
	int _lastExitCode;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_ChildProcess_INCLUDED
