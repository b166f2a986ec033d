//
// TestServer.cpp
//
// Runs the real switchboard binary for an integration test: config, ports, readiness, logs, stop.
//


#include "TestServer.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TestSocket.h"
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <exception>
#include <fstream>
#include <fcntl.h>
#include <iostream>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {


constexpr const char* CONFIG_FILE = "switchboard.ini";
constexpr const char* LOG_FILE = "server.log";
constexpr std::size_t MAX_CAPTURE = 64 * 1024 * 1024;
constexpr int KILL_WAIT_MS = 5000;


std::string errnoText(int error)
{
	return std::system_category().message(error);
}


void sleepMs(int ms)
{
	if (ms > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}


std::string lowercase(std::string text)
{
	for (char& c : text)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return text;
}


bool mentionsAddressInUse(const std::string& log)
{
	const std::string text = lowercase(log);
	return text.find("address already in use") != std::string::npos ||
	       text.find("address in use") != std::string::npos || text.find("eaddrinuse") != std::string::npos;
}


std::string lastLines(const std::string& text, std::size_t count)
{
	if (count == 0)
		return "";
	std::size_t position = text.size();
	if (position > 0 && text[position - 1] == '\n')
		--position;
	std::size_t found = 0;
	while (position > 0)
	{
		if (text[position - 1] == '\n' && ++found == count)
			break;
		--position;
	}
	return text.substr(position);
}


std::string signalName(int signal)
{
	const char* name = ::sigabbrev_np(signal);
	return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(signal);
}


void fillExitStatus(int waitStatus, TestServer::ExitStatus& status)
{
	status.known = true;
	if (WIFEXITED(waitStatus))
	{
		status.exited = true;
		status.exitCode = WEXITSTATUS(waitStatus);
		status.signal = 0;
	}
	else if (WIFSIGNALED(waitStatus))
	{
		status.exited = false;
		status.exitCode = -1;
		status.signal = WTERMSIG(waitStatus);
	}
}


// Reaps pid if it has exited: 1 reaped (waitStatus set), 0 still running, -1 no such child.
int tryReap(pid_t pid, int& waitStatus)
{
	for (;;)
	{
		const pid_t rc = ::waitpid(pid, &waitStatus, WNOHANG);
		if (rc == pid)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}


// Polls for the exit of pid until the deadline; 1 reaped, 0 still running, -1 no such child.
int reapWithin(pid_t pid, int timeoutMs, int& waitStatus)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		const int rc = tryReap(pid, waitStatus);
		if (rc != 0 || deadline.expired())
			return rc;
		sleepMs(std::min(2, deadline.remainingMs()));
	}
}


// fork() + execv() with the given descriptors as 0, 1 and 2. The child dies with the spawning
// thread (PR_SET_PDEATHSIG) and starts with default signal handling and an empty signal mask, so
// SIGTERM reaches the server even if the test runner blocks or ignores it.
pid_t spawnProcess(const std::vector<std::string>& argv, int stdinFd, int stdoutFd, int stderrFd,
                   const TestServer::Keys& environment = {})
{
	if (argv.empty() || argv[0].empty())
		throw std::runtime_error("no program to run (is SWITCHBOARD_BINARY defined?)");
	// Everything the child needs is prepared here: between fork() and exec only
	// async-signal-safe calls are allowed in a multi-threaded process.
	std::vector<char*> args;
	for (const std::string& arg : argv)
		args.push_back(const_cast<char*>(arg.c_str()));
	args.push_back(nullptr);
	// With variables to set, the child gets the inherited environment minus those names, plus them.
	std::vector<std::string> environmentText;
	std::vector<char*> environmentPointers;
	if (!environment.empty())
	{
		for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
		{
			const std::string text(*entry);
			const std::string name = text.substr(0, text.find('='));
			if (environment.find(name) == environment.end())
				environmentText.push_back(text);
		}
		for (const auto& entry : environment)
			environmentText.push_back(entry.first + "=" + entry.second);
		for (std::string& text : environmentText)
			environmentPointers.push_back(&text[0]);
		environmentPointers.push_back(nullptr);
	}
	struct sigaction defaultAction;
	std::memset(&defaultAction, 0, sizeof(defaultAction));
	defaultAction.sa_handler = SIG_DFL;
	sigset_t emptyMask;
	sigemptyset(&emptyMask);
	const int resetSignals[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};

	int errorPipe[2];
	if (::pipe2(errorPipe, O_CLOEXEC) != 0)
		throw std::runtime_error("pipe2(): " + errnoText(errno));
	const pid_t parent = ::getpid();
	const pid_t pid = ::fork();
	if (pid < 0)
	{
		const int error = errno;
		::close(errorPipe[0]);
		::close(errorPipe[1]);
		throw std::runtime_error("fork(): " + errnoText(error));
	}
	if (pid == 0)
	{
		::prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (::getppid() != parent)
			::_exit(127);
		for (int signal : resetSignals)
			::sigaction(signal, &defaultAction, nullptr);
		::sigprocmask(SIG_SETMASK, &emptyMask, nullptr);
		if (::dup2(stdinFd, 0) < 0 || ::dup2(stdoutFd, 1) < 0 || ::dup2(stderrFd, 2) < 0)
		{
			const int error = errno;
			(void)!::write(errorPipe[1], &error, sizeof(error));
			::_exit(127);
		}
		if (environmentPointers.empty())
			::execv(args[0], args.data());
		else
			::execve(args[0], args.data(), environmentPointers.data());
		const int error = errno;
		(void)!::write(errorPipe[1], &error, sizeof(error));
		::_exit(127);
	}
	::close(errorPipe[1]);
	int childError = 0;
	ssize_t n = 0;
	do
	{
		n = ::read(errorPipe[0], &childError, sizeof(childError));
	} while (n < 0 && errno == EINTR);
	::close(errorPipe[0]);
	if (n == static_cast<ssize_t>(sizeof(childError)))
	{
		int ignored = 0;
		::waitpid(pid, &ignored, 0);
		throw std::runtime_error("cannot execute " + argv[0] + ": " + errnoText(childError));
	}
	return pid;
}


std::string readWholeFile(const std::string& path)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "";
	std::string text;
	char chunk[16384];
	for (;;)
	{
		const ssize_t n = ::read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		text.append(chunk, static_cast<std::size_t>(n));
	}
	::close(fd);
	return text;
}


// The environment can point every runner at another build of the server (tests/windows/
// run-under-wine.sh: switchboard.exe under Wine through a launcher script, its .dll plugins).
std::string fromEnvironment(const char* name)
{
	const char* value = std::getenv(name);
	return value == nullptr ? std::string() : std::string(value);
}


} // namespace


int TestServer::ExitStatus::code() const
{
	if (!known)
		return -1;
	return exited ? exitCode : 128 + signal;
}


std::string TestServer::ExitStatus::describe() const
{
	if (!known)
		return "still running or unknown";
	std::string text = exited ? "exited with code " + std::to_string(exitCode) : "killed by " + signalName(signal);
	if (killedAfterTimeout)
		text += " (SIGKILL after the stop timeout)";
	return text;
}


std::string TestServer::RunResult::describe() const
{
	std::string text;
	if (timedOut)
		text = "timed out and was killed";
	else if (signal != 0)
		text = "killed by " + signalName(signal);
	else
		text = "exited with code " + std::to_string(exitCode);
	return text + "\n--- stdout ---\n" + stdoutText + "\n--- stderr ---\n" + stderrText;
}


TestServer::TestServer():
    TestServer(defaultBinary())
{
}


TestServer::TestServer(const std::string& binaryPath):
    _binary(binaryPath),
    _dir("switchboard-test"),
    _adminPort(PortPicker::pick()),
    _pid(-1),
    _runLogOffset(0)
{
	addSection("host", {{"log_level", "information"}, {"plugin_dir", "@{plugin_dir}"}});
	set("host", "event_loops", "2");
	set("host", "shutdown_deadline_ms", "3000");
	set("storage", "directory", "@{dir}/data");
	set("admin", "address", "127.0.0.1");
	set("admin", "port", "@{admin_port}");
	addListener("main");
}


TestServer::~TestServer()
{
	// Unwinding from a failed assertion: show what the server said, since the dir goes away.
	try
	{
		if (std::uncaught_exceptions() > 0 && _runLogOffset < logText().size())
		{
			std::cerr << "TestServer: test ended by an exception; last lines of " << logPath() << ":\n"
			          << logTail(40) << std::endl;
		}
		killAndReap();
	}
	catch (...)
	{
		// Never throw from a destructor; the process dies with us anyway (PDEATHSIG).
	}
}


std::string TestServer::defaultBinary()
{
	const std::string overridden = fromEnvironment("SWITCHBOARD_TEST_SERVER_BINARY");
	if (!overridden.empty())
		return overridden;
#ifdef SWITCHBOARD_BINARY
	return SWITCHBOARD_BINARY;
#else
	return "";
#endif
}


int TestServer::platformSignal(int signal)
{
	// Windows has no SIGTERM; its graceful stop is Ctrl-C, which Wine delivers for SIGINT.
	if (signal == SIGTERM && fromEnvironment("SWITCHBOARD_TEST_SERVER_SIGTERM") == "SIGINT")
		return SIGINT;
	return signal;
}


std::string TestServer::defaultPluginDir()
{
	const std::string overridden = fromEnvironment("SWITCHBOARD_TEST_SERVER_PLUGINS");
	if (!overridden.empty())
		return overridden;
#ifdef SWITCHBOARD_TEST_PLUGIN_DIR
	return SWITCHBOARD_TEST_PLUGIN_DIR;
#else
	return "";
#endif
}


TestServer::Section& TestServer::section(const std::string& name)
{
	for (Section& existing : _sections)
	{
		if (existing.name == name)
			return existing;
	}
	if (name.empty() || name.find_first_of("[]\r\n") != std::string::npos)
		throw std::invalid_argument("TestServer: bad section name '" + name + "'");
	_sections.push_back(Section{name, {}});
	return _sections.back();
}


void TestServer::set(const std::string& sectionName, const std::string& key, const std::string& value)
{
	if (key.empty() || key.find_first_of("=[]\r\n") != std::string::npos)
		throw std::invalid_argument("TestServer: bad key '" + key + "'");
	if (value.find_first_of("\r\n") != std::string::npos)
		throw std::invalid_argument("TestServer: value of " + key + " contains a line break");
	Section& target = section(sectionName);
	for (auto& entry : target.keys)
	{
		if (entry.first == key)
		{
			entry.second = value;
			return;
		}
	}
	target.keys.emplace_back(key, value);
}


void TestServer::unset(const std::string& sectionName, const std::string& key)
{
	for (Section& existing : _sections)
	{
		if (existing.name == sectionName)
		{
			existing.keys.erase(
			    std::remove_if(existing.keys.begin(), existing.keys.end(),
			                   [&key](const std::pair<std::string, std::string>& entry) { return entry.first == key; }),
			    existing.keys.end());
		}
	}
}


void TestServer::addSection(const std::string& sectionName, const Keys& keys)
{
	section(sectionName);
	for (const auto& entry : keys)
		set(sectionName, entry.first, entry.second);
}


void TestServer::removeSection(const std::string& sectionName)
{
	_sections.erase(std::remove_if(_sections.begin(), _sections.end(),
	                               [&sectionName](const Section& existing) { return existing.name == sectionName; }),
	                _sections.end());
}


void TestServer::appendIni(const std::string& text)
{
	_rawIni += text;
	if (!_rawIni.empty() && _rawIni.back() != '\n')
		_rawIni += '\n';
}


void TestServer::addListener(const std::string& name, const Keys& extraKeys)
{
	reservePort(name);
	const std::string sectionName = "listener." + name;
	set(sectionName, "address", "127.0.0.1");
	set(sectionName, "port", "@{port:" + name + "}");
	for (const auto& entry : extraKeys)
		set(sectionName, entry.first, entry.second);
}


void TestServer::addPlugin(const std::string& name, const std::string& listener, const std::string& prefix,
                           const Keys& extraKeys)
{
	const std::string sectionName = "plugin." + name;
	set(sectionName, "listener", listener);
	set(sectionName, "prefix", prefix);
	for (const auto& entry : extraKeys)
		set(sectionName, entry.first, entry.second);
}


int TestServer::reservePort(const std::string& name)
{
	if (name.empty() || name.find('}') != std::string::npos)
		throw std::invalid_argument("TestServer: bad port name '" + name + "'");
	auto found = _ports.find(name);
	if (found != _ports.end())
		return found->second;
	const int picked = PortPicker::pick();
	_ports[name] = picked;
	return picked;
}


void TestServer::addArgument(const std::string& argument)
{
	_arguments.push_back(argument);
}


void TestServer::setEnvironment(const std::string& name, const std::string& value)
{
	if (name.empty() || name.find('=') != std::string::npos)
		throw std::invalid_argument("TestServer: bad environment variable name '" + name + "'");
	_environment[name] = value;
}


void TestServer::unsetEnvironment(const std::string& name)
{
	_environment.erase(name);
}


int TestServer::port(const std::string& name) const
{
	auto found = _ports.find(name);
	if (found == _ports.end())
		throw std::out_of_range("TestServer: no listener or reserved port named '" + name + "'");
	return found->second;
}


std::string TestServer::expand(const std::string& text) const
{
	std::string out;
	std::size_t position = 0;
	for (;;)
	{
		const std::size_t open = text.find("@{", position);
		if (open == std::string::npos)
		{
			out.append(text, position, std::string::npos);
			return out;
		}
		const std::size_t close = text.find('}', open);
		if (close == std::string::npos)
			throw std::invalid_argument("TestServer: unterminated placeholder in config: " + text.substr(open, 40));
		out.append(text, position, open - position);
		const std::string name = text.substr(open + 2, close - open - 2);
		if (name == "dir")
			out += _dir.path();
		else if (name == "admin_port")
			out += std::to_string(_adminPort);
		else if (name.compare(0, 5, "port:") == 0)
		{
			auto found = _ports.find(name.substr(5));
			if (found == _ports.end())
				throw std::invalid_argument("TestServer: @{" + name +
				                            "} names no port; call addListener() or "
				                            "reservePort() first");
			out += std::to_string(found->second);
		}
		else if (name == "plugin_dir")
			out += defaultPluginDir();
#ifdef SWITCHBOARD_SOURCE_DIR
		else if (name == "source_dir")
			out += SWITCHBOARD_SOURCE_DIR;
#endif
#ifdef SWITCHBOARD_BINARY_DIR
		else if (name == "binary_dir")
			out += SWITCHBOARD_BINARY_DIR;
#endif
		else
			throw std::invalid_argument("TestServer: unknown placeholder @{" + name + "}");
		position = close + 1;
	}
}


std::string TestServer::configText() const
{
	std::string text;
	for (const Section& existing : _sections)
	{
		text += "[" + existing.name + "]\n";
		for (const auto& entry : existing.keys)
			text += entry.first + " = " + entry.second + "\n";
		text += "\n";
	}
	text += _rawIni;
	return expand(text);
}


std::string TestServer::configPath() const
{
	return _dir.path() + "/" + CONFIG_FILE;
}


void TestServer::rewriteConfig()
{
	std::ofstream file(configPath(), std::ios::trunc);
	file << configText();
	if (!file.good())
		throw std::runtime_error("TestServer: cannot rewrite " + configPath());
}


void TestServer::reload()
{
	rewriteConfig();
	if (_pid <= 0 || ::kill(_pid, SIGHUP) != 0)
		throw std::runtime_error("TestServer: no running server to send SIGHUP to");
}


std::string TestServer::logPath() const
{
	return _dir.path() + "/" + LOG_FILE;
}


std::string TestServer::adminAddress() const
{
	for (const Section& existing : _sections)
	{
		if (existing.name != "admin")
			continue;
		for (const auto& entry : existing.keys)
		{
			if (entry.first == "address")
				return expand(entry.second);
		}
	}
	return "127.0.0.1";
}


void TestServer::repickPorts()
{
	for (auto& entry : _ports)
		entry.second = PortPicker::pick();
	_adminPort = PortPicker::pick();
}


void TestServer::start(int readyTimeoutMs)
{
	if (running())
		throw std::logic_error("TestServer::start: the server is already running (pid " + std::to_string(_pid) + ")");
	if (_binary.empty())
		throw std::runtime_error("TestServer::start: no server binary (SWITCHBOARD_BINARY is not defined)");
	if (!TestSocket::isLoopback(adminAddress()))
		throw std::invalid_argument("TestServer::start: admin address must be loopback, not " + adminAddress());
	for (int attempt = 0;; ++attempt)
	{
		const std::string failure = startOnce(readyTimeoutMs);
		if (failure.empty())
			return;
		const std::string log = runLogText();
		if (attempt == 0 && mentionsAddressInUse(log))
		{
			std::cerr << "TestServer: address in use, retrying with new ports" << std::endl;
			repickPorts();
			continue;
		}
		throw std::runtime_error("TestServer: " + failure + "\n--- last lines of " + logPath() + " ---\n" +
		                         lastLines(log, 40));
	}
}


std::string TestServer::startOnce(int readyTimeoutMs)
{
	_dir.writeFile(CONFIG_FILE, configText());
	struct stat info;
	_runLogOffset = ::stat(logPath().c_str(), &info) == 0 ? static_cast<std::size_t>(info.st_size) : 0;

	const int logFd = ::open(logPath().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logFd < 0)
		throw std::runtime_error("TestServer: cannot open " + logPath() + ": " + errnoText(errno));
	const int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullFd < 0)
	{
		const int error = errno;
		::close(logFd);
		throw std::runtime_error("TestServer: cannot open /dev/null: " + errnoText(error));
	}
	std::vector<std::string> argv = {_binary, "--config=" + configPath()};
	argv.insert(argv.end(), _arguments.begin(), _arguments.end());
	try
	{
		_pid = spawnProcess(argv, nullFd, logFd, logFd, _environment);
	}
	catch (...)
	{
		::close(logFd);
		::close(nullFd);
		throw;
	}
	::close(logFd);
	::close(nullFd);
	_lastExit = ExitStatus();
	_signalSent = 0;

	const std::string address = adminAddress();
	Deadline deadline(readyTimeoutMs);
	// The last status /readyz answered says more than an attempt cut short by the deadline.
	std::string lastAnswer;
	std::string lastError = "no attempt";
	for (;;)
	{
		if (reap())
			return "the server " + _lastExit.describe() + " before /readyz answered 200";
		try
		{
			const HttpResponse response = HttpTestClient::get(address, _adminPort, "/readyz", {},
			                                                  std::max(1, std::min(1000, deadline.remainingMs())));
			if (response.status == 200)
				return "";
			lastAnswer = "answered " + std::to_string(response.status) + " " + response.reason;
		}
		catch (const std::exception& e)
		{
			lastError = e.what();
		}
		if (deadline.expired())
		{
			killAndReap();
			return "the server was not ready within " + std::to_string(readyTimeoutMs) + " ms (/readyz " +
			       (lastAnswer.empty() ? "never answered; last error: " + lastError : "last " + lastAnswer) +
			       "); killed it";
		}
		sleepMs(std::min(20, deadline.remainingMs()));
	}
}


bool TestServer::reap()
{
	if (_pid <= 0)
		return true;
	int waitStatus = 0;
	const int rc = tryReap(_pid, waitStatus);
	if (rc == 0)
		return false;
	if (rc > 0)
		fillExitStatus(waitStatus, _lastExit);
	_pid = -1;
	return true;
}


bool TestServer::waitExit(int timeoutMs)
{
	if (_pid <= 0)
		return true;
	int waitStatus = 0;
	const int rc = reapWithin(_pid, timeoutMs, waitStatus);
	if (rc == 0)
		return false;
	if (rc > 0)
		fillExitStatus(waitStatus, _lastExit);
	_pid = -1;
	return true;
}


void TestServer::killAndReap()
{
	if (_pid <= 0)
		return;
	const pid_t pid = _pid;
	::kill(pid, SIGKILL);
	if (!waitExit(KILL_WAIT_MS))
		std::cerr << "TestServer: pid " << pid << " survived SIGKILL for " << KILL_WAIT_MS << " ms" << std::endl;
}


int TestServer::stop(int signal, int timeoutMs)
{
	if (_pid <= 0)
	{
		if (_lastExit.known)
			return _lastExit.code();
		throw std::logic_error("TestServer::stop: the server was never started");
	}
	if (reap())
		return _lastExit.code();
	signal = platformSignal(signal);
	// A second SIGTERM may cut a graceful shutdown short, so one sent by sendSignal() is not repeated.
	if (_signalSent != signal)
		::kill(_pid, signal);
	_signalSent = signal;
	if (waitExit(timeoutMs))
		return _lastExit.code();
	const pid_t pid = _pid;
	killAndReap();
	_lastExit.killedAfterTimeout = true;
	std::cerr << "TestServer: pid " << pid << " did not exit within " << timeoutMs << " ms after " << signalName(signal)
	          << "; killed it with SIGKILL" << std::endl;
	return _lastExit.code();
}


void TestServer::restart(int readyTimeoutMs)
{
	if (running())
		stop();
	start(readyTimeoutMs);
}


void TestServer::sendSignal(int signal)
{
	if (!running())
		throw std::logic_error("TestServer::sendSignal: the server is not running");
	signal = platformSignal(signal);
	::kill(_pid, signal);
	_signalSent = signal;
}


TestServer::ExitStatus TestServer::waitForExit(int timeoutMs)
{
	if (_pid <= 0)
		return _lastExit;
	if (waitExit(timeoutMs))
		return _lastExit;
	return ExitStatus();
}


bool TestServer::running()
{
	return !reap();
}


std::string TestServer::logText() const
{
	return readWholeFile(logPath());
}


std::string TestServer::runLogText() const
{
	const std::string text = logText();
	return _runLogOffset < text.size() ? text.substr(_runLogOffset) : "";
}


std::string TestServer::logTail(std::size_t lines) const
{
	return lastLines(runLogText(), lines);
}


bool TestServer::waitForLog(const std::string& text, int timeoutMs)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		if (runLogText().find(text) != std::string::npos)
			return true;
		if (deadline.expired())
			return false;
		sleepMs(std::min(20, deadline.remainingMs()));
	}
}


TestServer::RunResult TestServer::runWithConfig(const std::vector<std::string>& extraArgs, int timeoutMs)
{
	_dir.writeFile(CONFIG_FILE, configText());
	std::vector<std::string> args = {"--config=" + configPath()};
	args.insert(args.end(), _arguments.begin(), _arguments.end());
	args.insert(args.end(), extraArgs.begin(), extraArgs.end());
	return runOnce(args, timeoutMs, _binary, _environment);
}


TestServer::RunResult TestServer::runOnce(const std::vector<std::string>& args, int timeoutMs,
                                          const std::string& binary, const Keys& environment)
{
	if (binary.empty())
		throw std::runtime_error("TestServer::runOnce: no binary (SWITCHBOARD_BINARY is not defined)");
	int outPipe[2];
	int errPipe[2];
	if (::pipe2(outPipe, O_CLOEXEC) != 0)
		throw std::runtime_error("pipe2(): " + errnoText(errno));
	if (::pipe2(errPipe, O_CLOEXEC) != 0)
	{
		const int error = errno;
		::close(outPipe[0]);
		::close(outPipe[1]);
		throw std::runtime_error("pipe2(): " + errnoText(error));
	}
	const int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	std::vector<std::string> argv = {binary};
	argv.insert(argv.end(), args.begin(), args.end());
	pid_t pid = -1;
	try
	{
		if (nullFd < 0)
			throw std::runtime_error("cannot open /dev/null: " + errnoText(errno));
		pid = spawnProcess(argv, nullFd, outPipe[1], errPipe[1], environment);
	}
	catch (...)
	{
		for (int fd : {outPipe[0], outPipe[1], errPipe[0], errPipe[1], nullFd})
		{
			if (fd >= 0)
				::close(fd);
		}
		throw;
	}
	::close(outPipe[1]);
	::close(errPipe[1]);
	::close(nullFd);

	RunResult result;
	Deadline deadline(timeoutMs);
	int fds[2] = {outPipe[0], errPipe[0]};
	std::string* sinks[2] = {&result.stdoutText, &result.stderrText};
	bool open[2] = {true, true};
	char chunk[16384];
	while ((open[0] || open[1]) && !deadline.expired())
	{
		pollfd entries[2];
		nfds_t count = 0;
		int which[2];
		for (int i = 0; i < 2; ++i)
		{
			if (open[i])
			{
				entries[count] = pollfd{fds[i], POLLIN, 0};
				which[count++] = i;
			}
		}
		const int rc = ::poll(entries, count, deadline.remainingMs());
		if (rc < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; rc > 0 && k < count; ++k)
		{
			if ((entries[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			const int i = which[k];
			const ssize_t n = ::read(fds[i], chunk, sizeof(chunk));
			if (n > 0)
			{
				if (sinks[i]->size() < MAX_CAPTURE)
					sinks[i]->append(chunk, static_cast<std::size_t>(n));
			}
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				open[i] = false;
		}
	}
	::close(outPipe[0]);
	::close(errPipe[0]);

	int waitStatus = 0;
	int rc = reapWithin(pid, deadline.remainingMs(), waitStatus);
	if (rc == 0)
	{
		result.timedOut = true;
		::kill(pid, SIGKILL);
		rc = reapWithin(pid, KILL_WAIT_MS, waitStatus);
	}
	if (rc > 0)
	{
		ExitStatus status;
		fillExitStatus(waitStatus, status);
		result.exitCode = status.exitCode;
		result.signal = status.signal;
	}
	return result;
}


} // namespace Test
} // namespace Switchboard
