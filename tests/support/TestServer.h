//
// TestServer.h
//
// Runs the real switchboard binary for an integration test: config, ports, readiness, logs, stop.
//


#ifndef Switchboard_Test_TestServer_INCLUDED
#define Switchboard_Test_TestServer_INCLUDED


#include "TempDir.h"
#include <csignal>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Test {


class TestServer
/// One server process per object, in its own TempDir:
///
///     TestServer server;
///     server.addPlugin("echo", "main", "/echo");
///     server.start();                      // throws with the log tail if not ready in 10 s
///     WsTestClient client;
///     client.connect("127.0.0.1", server.port("main"), "/echo/ws");
///     ...
///     CPPUNIT_ASSERT_EQUAL(0, server.stop()); // SIGTERM, wait, exit code
///
/// The config is written to <dir>/switchboard.ini before each start from sections (set(),
/// addSection(), addListener(), addPlugin()) followed by raw text (appendIni()). Its base is
///
///     [host]     log_level = information, plugin_dir = @{plugin_dir}, event_loops = 2,
///                shutdown_deadline_ms = 3000
///     [storage]  directory = @{dir}/data
///     [admin]    address = 127.0.0.1, port = @{admin_port}
///     [listener.main] address = 127.0.0.1, port = @{port:main}
///
/// All text may use placeholders, resolved when the file is written: @{port:NAME} (a port
/// from addListener()/reservePort()), @{admin_port}, @{dir} (the temp dir), @{plugin_dir},
/// @{source_dir}, @{binary_dir}. An unknown placeholder throws std::invalid_argument.
/// Ports are picked at construction and again if the server reports "address already in
/// use" on its first try, so read port()/adminPort() after start().
///
/// The process gets stdin from /dev/null and stdout+stderr appended to <dir>/server.log.
/// It is started with PR_SET_PDEATHSIG = SIGKILL, so it dies if the thread that started it
/// ends (the test runner crashed or was killed): start servers from the test's own thread.
/// The destructor kills a server still running; if it runs during exception unwinding (a failed
/// assertion), it first prints the tail of the run's log to stderr. Not thread-safe.
{
public:
	using Keys = std::map<std::string, std::string>;

	struct ExitStatus
	/// How a process ended.
	{
		bool known = false;
		/// True once the process has been reaped.
		bool exited = false;
		/// Normal exit (then exitCode is valid), else killed by signal.
		int exitCode = -1;
		int signal = 0;
		bool killedAfterTimeout = false;
		/// stop() had to send SIGKILL because the process outlived its timeout.

		int code() const;
		/// exitCode for a normal exit, 128 + signal for a kill (like a shell), -1 if unknown.

		std::string describe() const;
	};

	struct RunResult
	/// The outcome of runOnce().
	{
		int exitCode = -1;
		/// Exit code, or -1 if the process was killed by a signal.
		int signal = 0;
		/// The signal that ended it, 0 for a normal exit.
		bool timedOut = false;
		/// The process outlived the timeout and was killed with SIGKILL.
		std::string stdoutText;
		std::string stderrText;

		std::string output() const { return stdoutText + stderrText; }
		/// stdout followed by stderr.

		std::string describe() const;
		/// One line on how it ended, then the output; for assertion messages.
	};

	static constexpr int DEFAULT_READY_TIMEOUT_MS = 10000;
	static constexpr int DEFAULT_STOP_TIMEOUT_MS = 10000;

	TestServer();
	/// Uses defaultBinary().

	explicit TestServer(const std::string& binaryPath);
	/// Runs binaryPath instead, e.g. a fake server script in a self-test.

	~TestServer();

	TestServer(const TestServer&) = delete;
	TestServer& operator=(const TestServer&) = delete;

	static std::string defaultBinary();
	/// The environment's SWITCHBOARD_TEST_SERVER_BINARY if set, else SWITCHBOARD_BINARY as
	/// compiled in, or "" if it was not defined.

	static std::string defaultPluginDir();
	/// The environment's SWITCHBOARD_TEST_SERVER_PLUGINS if set, else SWITCHBOARD_TEST_PLUGIN_DIR
	/// as compiled in, or "".

	static int platformSignal(int signal);
	/// What stop() and sendSignal() send for signal: SIGINT for SIGTERM when the environment's
	/// SWITCHBOARD_TEST_SERVER_SIGTERM is "SIGINT" (a Windows build under Wine), else signal.

	void set(const std::string& section, const std::string& key, const std::string& value);
	/// Sets key in section, adding either if missing; an existing key keeps its position.

	void unset(const std::string& section, const std::string& key);
	/// Removes key from section if present.

	void addSection(const std::string& section, const Keys& keys = {});
	/// set() for every entry of keys (the section is created even if keys is empty).

	void removeSection(const std::string& section);

	void appendIni(const std::string& text);
	/// Raw INI text written after all sections (a section repeated here merges with, and
	/// overrides, the one above in Poco's INI reader).

	void addListener(const std::string& name, const Keys& extraKeys = {});
	/// [listener.NAME] with address 127.0.0.1 and port @{port:NAME} (reserved here).

	void addPlugin(const std::string& name, const std::string& listener, const std::string& prefix,
	               const Keys& extraKeys = {});
	/// [plugin.NAME] with listener and prefix, plus extraKeys.

	int reservePort(const std::string& name);
	/// Picks a port under name for @{port:NAME} (returns the existing one if reserved).

	void addArgument(const std::string& argument);
	/// A command-line argument after --config=..., e.g. "--set=host.log_level=debug".

	void setEnvironment(const std::string& name, const std::string& value);
	/// An environment variable for the server process of start() and runWithConfig(), set on top
	/// of the test runner's own environment (which the process inherits unchanged when none is set).

	void unsetEnvironment(const std::string& name);
	/// Forgets a variable given to setEnvironment() (the inherited value, if any, applies again).

	int port(const std::string& name) const;
	/// The port of a listener (or reserved name). Throws std::out_of_range if unknown.

	int adminPort() const { return _adminPort; }

	std::string configText() const;
	/// The config file's text with placeholders resolved.

	std::string configPath() const;
	std::string logPath() const;

	void rewriteConfig();
	/// Writes configText() to configPath() again (ports unchanged), e.g. before a reload.
	void reload();
	/// rewriteConfig(), then SIGHUP to the running server; does not wait for the reload.
	TempDir& dir() { return _dir; }
	const std::string& binary() const { return _binary; }

	void start(int readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS);
	/// Writes the config, spawns the binary and polls GET /readyz on the admin port every
	/// 20 ms until it answers 200. Throws std::runtime_error, with the tail of this run's log,
	/// if the process exits first or the timeout passes (the process is then killed). If the
	/// log mentions that an address is in use, retries once with new ports.
	/// Throws std::logic_error if the server is already running.

	int stop(int signal = SIGTERM, int timeoutMs = DEFAULT_STOP_TIMEOUT_MS);
	/// Sends signal and waits for the exit; after timeoutMs sends SIGKILL, says so on stderr
	/// and in lastExit().killedAfterTimeout. Returns lastExit().code(): 0 for a clean
	/// shutdown. The signal is not sent again if the last sendSignal() (or stop()) of this
	/// run already sent it, since a repeated SIGTERM may abort a graceful shutdown. If the
	/// server had already exited, returns how it exited. Throws std::logic_error if it was
	/// never started.

	void restart(int readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS);
	/// stop() if running, then start() with the same temp dir (data survives) and ports.

	void sendSignal(int signal);
	/// Sends signal without waiting (e.g. SIGHUP). Throws std::logic_error if not running.

	ExitStatus waitForExit(int timeoutMs);
	/// Waits for the process to exit by itself; the result's known is false if it is still
	/// running after timeoutMs.

	bool running();
	/// True while the process has not exited (reaps it if it has).

	pid_t pid() const { return _pid; }
	/// The process id while running, -1 otherwise.

	const ExitStatus& lastExit() const { return _lastExit; }

	std::string logText() const;
	/// The whole log file, all runs.

	std::string runLogText() const;
	/// The log of the current (or last) run only.

	std::string logTail(std::size_t lines = 40) const;
	/// The last lines of runLogText().

	bool waitForLog(const std::string& text, int timeoutMs);
	/// Polls runLogText() every 20 ms until it contains text; false on timeout.

	RunResult runWithConfig(const std::vector<std::string>& extraArgs, int timeoutMs = DEFAULT_STOP_TIMEOUT_MS);
	/// Writes the config and runs the binary once with --config=..., addArgument()s and
	/// extraArgs (e.g. "--print-config"), as runOnce().

	static RunResult runOnce(const std::vector<std::string>& args, int timeoutMs = DEFAULT_STOP_TIMEOUT_MS,
	                         const std::string& binary = defaultBinary(), const Keys& environment = {});
	/// Runs binary with args, capturing stdout and stderr, and kills it with SIGKILL if it
	/// has not exited after timeoutMs. Throws std::runtime_error if it cannot be started.
	/// environment: variables set for the process on top of the inherited ones.

private:
	struct Section
	{
		std::string name;
		std::vector<std::pair<std::string, std::string>> keys;
	};

	Section& section(const std::string& name);
	std::string expand(const std::string& text) const;
	std::string startOnce(int readyTimeoutMs);
	bool reap();
	bool waitExit(int timeoutMs);
	void killAndReap();
	void repickPorts();
	std::string adminAddress() const;

	std::string _binary;
	TempDir _dir;
	std::vector<Section> _sections;
	std::string _rawIni;
	std::map<std::string, int> _ports;
	int _adminPort;
	std::vector<std::string> _arguments;
	Keys _environment;
	pid_t _pid;
	int _signalSent;
	ExitStatus _lastExit;
	std::size_t _runLogOffset;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TestServer_INCLUDED
