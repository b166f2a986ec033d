//
// ChildProcess.cpp
//
// One child process of a test helper (RedisTestServer, PostgresTestServer): spawning with
// PR_SET_PDEATHSIG, reaping, waiting with a timeout, polling for readiness, stop and kill, and the
// file helpers their log tails are made of.
//


#include "ChildProcess.h"
#include "Deadline.h"
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <iostream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {


void pauseMs(int ms)
{
	std::this_thread::sleep_for(std::chrono::milliseconds(std::max(1, ms)));
}


} // namespace


ChildProcess::ChildProcess(const std::string& owner, int killWaitMs):
    _owner(owner),
    _killWaitMs(killWaitMs),
    _pid(-1),
    _lastExitCode(-1)
{
}


ChildProcess::~ChildProcess()
{
	try
	{
		kill();
	}
	catch (...)
	{
		// Never throw from a destructor; the process dies with this thread anyway (PDEATHSIG).
	}
}


std::string ChildProcess::describeErrno(int error)
{
	return std::system_category().message(error);
}


int ChildProcess::shellCode(int waitStatus)
{
	if (WIFEXITED(waitStatus))
		return WEXITSTATUS(waitStatus);
	if (WIFSIGNALED(waitStatus))
		return 128 + WTERMSIG(waitStatus);
	return -1;
}


int ChildProcess::openAppend(const std::string& owner, const std::string& path)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		throw std::runtime_error(owner + ": cannot open " + path + ": " + describeErrno(errno));
	return fd;
}


std::string ChildProcess::fileText(const std::string& path, std::size_t from)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "";
	std::string text;
	char block[8192];
	for (;;)
	{
		const ssize_t n = ::read(fd, block, sizeof(block));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		text.append(block, static_cast<std::size_t>(n));
	}
	::close(fd);
	return from < text.size() ? text.substr(from) : std::string();
}


std::string ChildProcess::tailLines(const std::string& text, std::size_t count)
{
	std::size_t end = text.size();
	if (end > 0 && text[end - 1] == '\n')
		--end;
	std::size_t begin = end;
	std::size_t seen = 0;
	while (begin > 0 && seen < count)
	{
		--begin;
		if (text[begin] == '\n' && ++seen == count)
		{
			++begin;
			break;
		}
	}
	return text.substr(begin, end - begin);
}


void ChildProcess::start(const std::vector<std::string>& argv, int outputFd, const Identity& who)
{
	if (argv.empty())
		throw std::invalid_argument(_owner + ": nothing to run");
	if (running())
		throw std::logic_error(_owner + ": a child is still running (pid " + std::to_string(_pid) + ")");
	std::vector<char*> pointers;
	pointers.reserve(argv.size() + 1);
	for (const std::string& arg : argv)
		pointers.push_back(const_cast<char*>(arg.c_str()));
	pointers.push_back(nullptr);

	struct sigaction byDefault;
	std::memset(&byDefault, 0, sizeof(byDefault));
	byDefault.sa_handler = SIG_DFL;
	sigset_t noSignals;
	sigemptyset(&noSignals);
	const int handled[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};

	const int inputFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (inputFd < 0)
		throw std::runtime_error(_owner + ": cannot open /dev/null: " + describeErrno(errno));
	int report[2];
	if (::pipe2(report, O_CLOEXEC) != 0)
	{
		const int error = errno;
		::close(inputFd);
		throw std::runtime_error(_owner + ": pipe2(): " + describeErrno(error));
	}
	const pid_t parent = ::getpid();
	const pid_t child = ::fork();
	if (child < 0)
	{
		const int error = errno;
		::close(report[0]);
		::close(report[1]);
		::close(inputFd);
		throw std::runtime_error(_owner + ": fork(): " + describeErrno(error));
	}
	if (child == 0)
	{
		int error = 0;
		if (who.drop && (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0))
			error = errno;
		if (error == 0)
		{
			::prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (::getppid() != parent)
				::_exit(127);
			for (int number : handled)
				::sigaction(number, &byDefault, nullptr);
			::sigprocmask(SIG_SETMASK, &noSignals, nullptr);
			if (::dup2(inputFd, 0) >= 0 && ::dup2(outputFd, 1) >= 0 && ::dup2(outputFd, 2) >= 0)
				::execv(pointers[0], pointers.data());
			error = errno;
		}
		(void)!::write(report[1], &error, sizeof(error));
		::_exit(127);
	}
	::close(report[1]);
	::close(inputFd);
	int childError = 0;
	ssize_t got = 0;
	do
	{
		got = ::read(report[0], &childError, sizeof(childError));
	} while (got < 0 && errno == EINTR);
	::close(report[0]);
	if (got == static_cast<ssize_t>(sizeof(childError)))
	{
		int ignored = 0;
		::waitpid(child, &ignored, 0);
		throw std::runtime_error(_owner + ": cannot execute " + argv[0] + ": " + describeErrno(childError));
	}
	_pid = child;
	_lastExitCode = -1;
}


bool ChildProcess::reap()
{
	if (_pid <= 0)
		return true;
	for (;;)
	{
		int status = 0;
		const pid_t rc = ::waitpid(_pid, &status, WNOHANG);
		if (rc == 0)
			return false;
		if (rc < 0 && errno == EINTR)
			continue;
		_lastExitCode = rc == _pid ? shellCode(status) : -1;
		_pid = -1;
		return true;
	}
}


bool ChildProcess::waitExit(int timeoutMs, int pollMs)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		if (reap())
			return true;
		if (deadline.expired())
			return false;
		pauseMs(std::min(pollMs, deadline.remainingMs()));
	}
}


ChildProcess::Readiness ChildProcess::waitReady(int timeoutMs, int pollMs,
                                                const std::function<bool(int remainingMs)>& ready)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		if (reap())
			return EXITED;
		if (ready(deadline.remainingMs()))
			return READY;
		if (deadline.expired())
		{
			kill();
			return TIMED_OUT;
		}
		pauseMs(std::min(pollMs, deadline.remainingMs()));
	}
}


bool ChildProcess::signal(int number)
{
	if (reap())
		return false;
	::kill(_pid, number);
	return true;
}


int ChildProcess::stop(int signal, const std::string& signalName, int timeoutMs, int pollMs)
{
	if (reap())
		return _lastExitCode;
	::kill(_pid, signal);
	if (waitExit(timeoutMs, pollMs))
		return _lastExitCode;
	std::cerr << _owner << ": pid " << _pid << " did not exit within " << timeoutMs << " ms after " << signalName
	          << "; killing it" << std::endl;
	kill();
	return _lastExitCode;
}


void ChildProcess::kill()
{
	if (reap())
		return;
	const pid_t pid = _pid;
	::kill(pid, SIGKILL);
	if (!waitExit(_killWaitMs, 5))
		std::cerr << _owner << ": pid " << pid << " survived SIGKILL for " << _killWaitMs << " ms" << std::endl;
}


} // namespace Test
} // namespace Switchboard
