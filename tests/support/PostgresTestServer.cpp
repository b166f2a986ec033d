//
// PostgresTestServer.cpp
//
// Runs a throwaway PostgreSQL 15 cluster (Debian's) for a test: initdb in its own temp dir, a
// free loopback port, a role and database for the server under test, stop and start again on
// the same port, and superuser SQL for checks.
//


#include "PostgresTestServer.h"
#include "Deadline.h"
#include "PortPicker.h"
#include <libpq-fe.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <grp.h>
#include <iostream>
#include <pwd.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>


namespace Switchboard {
namespace Test {


namespace {


constexpr const char* LOG_FILE = "postgres.log";
constexpr const char* INITDB_LOG_FILE = "initdb.log";
constexpr const char* SUPERUSER = "postgres";
constexpr int INITDB_TIMEOUT_MS = 120000;
constexpr int KILL_WAIT_MS = 10000;


std::string describeErrno(int error)
{
	return std::system_category().message(error);
}


std::string fileText(const std::string& path)
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
	return text;
}


std::string tailLines(const std::string& text, std::size_t count)
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


int shellCode(int waitStatus)
{
	if (WIFEXITED(waitStatus))
		return WEXITSTATUS(waitStatus);
	if (WIFSIGNALED(waitStatus))
		return 128 + WTERMSIG(waitStatus);
	return -1;
}


struct Identity
/// Who the PostgreSQL programs run as: the system user "postgres" when we are root (PostgreSQL
/// refuses to run as root), else ourselves (drop = false).
{
	bool drop = false;
	uid_t uid = 0;
	gid_t gid = 0;
};


Identity identity()
{
	Identity who;
	if (::geteuid() != 0)
		return who;
	struct passwd* pEntry = ::getpwnam(PostgresTestServer::SYSTEM_USER);
	if (!pEntry)
		throw std::runtime_error("PostgresTestServer: running as root and there is no user '" +
		                         std::string(PostgresTestServer::SYSTEM_USER) + "' to run PostgreSQL as");
	who.drop = true;
	who.uid = pEntry->pw_uid;
	who.gid = pEntry->pw_gid;
	return who;
}


// Starts argv[0] as `who` with /dev/null as stdin and outputFd as stdout and stderr. The child gets
// PR_SET_PDEATHSIG = SIGKILL (after the uid change, which would clear it), default signal
// dispositions and an empty signal mask. Only async-signal-safe calls run between fork() and exec;
// an exec failure comes back via a pipe.
pid_t launch(const std::vector<std::string>& argv, const Identity& who, int outputFd)
{
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
		throw std::runtime_error("PostgresTestServer: cannot open /dev/null: " + describeErrno(errno));
	int report[2];
	if (::pipe2(report, O_CLOEXEC) != 0)
	{
		const int error = errno;
		::close(inputFd);
		throw std::runtime_error("PostgresTestServer: pipe2(): " + describeErrno(error));
	}
	const pid_t parent = ::getpid();
	const pid_t child = ::fork();
	if (child < 0)
	{
		const int error = errno;
		::close(report[0]);
		::close(report[1]);
		::close(inputFd);
		throw std::runtime_error("PostgresTestServer: fork(): " + describeErrno(error));
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
			for (int signal : handled)
				::sigaction(signal, &byDefault, nullptr);
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
		throw std::runtime_error("PostgresTestServer: cannot execute " + argv[0] + ": " + describeErrno(childError));
	}
	return child;
}


int openLog(const std::string& path)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		throw std::runtime_error("PostgresTestServer: cannot open " + path + ": " + describeErrno(errno));
	return fd;
}


std::string literal(const std::string& text)
/// A standard SQL string literal ('' for a quote; standard_conforming_strings is on).
{
	std::string out = "'";
	for (char c : text)
	{
		out += c;
		if (c == '\'')
			out += '\'';
	}
	return out + "'";
}


} // namespace


PostgresTestServer::PostgresTestServer():
    _dir("switchboard-postgres"),
    _host("127.0.0.1"),
    _port(PortPicker::pick()),
    _database("switchboard"),
    _user("switchboard"),
    _password("sb test'pw\\x"),
    _pid(-1),
    _initialised(false),
    _lastExitCode(-1)
{
}


PostgresTestServer::~PostgresTestServer()
{
	try
	{
		if (std::uncaught_exceptions() > 0 && _initialised)
			std::cerr << "PostgresTestServer: test ended by an exception; last lines of the log:\n"
			          << logTail(10) << std::endl;
		if (running())
		{
			::kill(_pid, SIGQUIT); // immediate shutdown: its backends go too
			if (!waitExit(5000))
				kill();
		}
	}
	catch (...)
	{
		// Never throw from a destructor; the process dies with this thread anyway (PDEATHSIG).
	}
}


bool PostgresTestServer::available()
{
	return whyUnavailable().empty();
}


std::string PostgresTestServer::whyUnavailable()
{
	const char* disabled = std::getenv(DISABLE_VARIABLE);
	if (disabled != nullptr && *disabled != '\0' && std::string(disabled) != "0")
		return std::string(DISABLE_VARIABLE) + " is set, so the tests that need PostgreSQL do not run";
	for (const char* program : {"initdb", "postgres"})
	{
		const std::string path = std::string(BIN_DIR) + "/" + program;
		if (::access(path.c_str(), X_OK) != 0)
			return "PostgreSQL 15 not installed (no " + path + "): run scripts/install-deps.sh --test";
	}
	if (::geteuid() == 0 && ::getpwnam(SYSTEM_USER) == nullptr)
		return std::string("running as root without a '") + SYSTEM_USER + "' user to run PostgreSQL as";
	return "";
}


std::string PostgresTestServer::logTail(std::size_t lines) const
{
	std::string text = tailLines(fileText(_dir.path() + "/" + LOG_FILE), lines);
	const std::string initdb = fileText(_dir.path() + "/" + INITDB_LOG_FILE);
	if (!_initialised && !initdb.empty())
		text += "\n--- " + std::string(INITDB_LOG_FILE) + " ---\n" + tailLines(initdb, lines);
	return text;
}


void PostgresTestServer::initialise()
{
	const Identity who = identity();
	if (who.drop && ::chown(_dir.path().c_str(), who.uid, who.gid) != 0)
		throw std::runtime_error("PostgresTestServer: chown " + _dir.path() + ": " + describeErrno(errno));
	const int logFd = openLog(_dir.path() + "/" + INITDB_LOG_FILE);
	pid_t initdb = -1;
	try
	{
		initdb = launch({std::string(BIN_DIR) + "/initdb", "-D", _dir.path() + "/data", "-U", SUPERUSER,
		                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"},
		                who, logFd);
	}
	catch (...)
	{
		::close(logFd);
		throw;
	}
	::close(logFd);
	Deadline deadline(INITDB_TIMEOUT_MS);
	int status = 0;
	for (;;)
	{
		const pid_t rc = ::waitpid(initdb, &status, WNOHANG);
		if (rc == initdb)
			break;
		if (rc < 0 && errno != EINTR)
			throw std::runtime_error("PostgresTestServer: waitpid(initdb): " + describeErrno(errno));
		if (deadline.expired())
		{
			::kill(initdb, SIGKILL);
			::waitpid(initdb, &status, 0);
			throw std::runtime_error("PostgresTestServer: initdb did not finish within " +
			                         std::to_string(INITDB_TIMEOUT_MS) + " ms\n" + logTail());
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	if (shellCode(status) != 0)
		throw std::runtime_error("PostgresTestServer: initdb failed (shell code " + std::to_string(shellCode(status)) +
		                         ")\n" + logTail());
}


void PostgresTestServer::start(int readyTimeoutMs)
{
	if (running())
		throw std::logic_error("PostgresTestServer::start: already running (pid " + std::to_string(_pid) + ")");
	const bool first = !_initialised;
	if (first)
		initialise();
	const int logFd = openLog(_dir.path() + "/" + LOG_FILE);
	try
	{
		_pid = launch({std::string(BIN_DIR) + "/postgres", "-D", _dir.path() + "/data", "-p", std::to_string(_port),
		               "-k", _dir.path(), "-c", "listen_addresses=" + _host, "-c", "fsync=off"},
		              identity(), logFd);
	}
	catch (...)
	{
		::close(logFd);
		throw;
	}
	::close(logFd);
	_lastExitCode = -1;

	const std::string port = std::to_string(_port);
	const char* const keywords[] = {"host", "port", "dbname", "connect_timeout", nullptr};
	const char* const values[] = {_host.c_str(), port.c_str(), "postgres", "2", nullptr};
	Deadline deadline(readyTimeoutMs);
	for (;;)
	{
		if (reap())
			throw std::runtime_error("PostgresTestServer: postgres ended (shell code " + std::to_string(_lastExitCode) +
			                         ") before accepting connections\n" + logTail());
		if (PQpingParams(keywords, values, 0) == PQPING_OK)
			break;
		if (deadline.expired())
		{
			kill();
			throw std::runtime_error("PostgresTestServer: postgres on port " + port +
			                         " did not accept connections within " + std::to_string(readyTimeoutMs) +
			                         " ms; killed it\n" + logTail());
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20, std::max(1, deadline.remainingMs()))));
	}
	if (first)
	{
		superuser("CREATE ROLE " + _user + " LOGIN PASSWORD " + literal(_password));
		superuser("CREATE DATABASE " + _database + " OWNER " + _user);
		_initialised = true;
	}
}


std::string PostgresTestServer::superuser(const std::string& sql, const std::string& database) const
{
	const std::string port = std::to_string(_port);
	const char* const keywords[] = {"host", "port", "user", "dbname", "connect_timeout", nullptr};
	const char* const values[] = {_dir.path().c_str(), port.c_str(), SUPERUSER, database.c_str(), "5", nullptr};
	PGconn* pConnection = PQconnectdbParams(keywords, values, 0);
	if (!pConnection || PQstatus(pConnection) != CONNECTION_OK)
	{
		const std::string message = pConnection ? PQerrorMessage(pConnection) : "out of memory";
		PQfinish(pConnection);
		throw std::runtime_error("PostgresTestServer: cannot connect as superuser: " + message);
	}
	PGresult* pResult = PQexec(pConnection, sql.c_str());
	const ExecStatusType status = pResult ? PQresultStatus(pResult) : PGRES_FATAL_ERROR;
	std::string value;
	std::string failure;
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		failure = pResult ? PQresultErrorMessage(pResult) : PQerrorMessage(pConnection);
	else if (PQntuples(pResult) > 0 && PQnfields(pResult) > 0 && !PQgetisnull(pResult, 0, 0))
		value = PQgetvalue(pResult, 0, 0);
	PQclear(pResult);
	PQfinish(pConnection);
	if (!failure.empty())
		throw std::runtime_error("PostgresTestServer: " + sql + ": " + failure);
	return value;
}


bool PostgresTestServer::reap()
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


bool PostgresTestServer::waitExit(int timeoutMs)
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		if (reap())
			return true;
		if (deadline.expired())
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, std::max(1, deadline.remainingMs()))));
	}
}


bool PostgresTestServer::running()
{
	return !reap();
}


int PostgresTestServer::stop(int timeoutMs)
{
	if (_pid <= 0 || reap())
		return _lastExitCode;
	::kill(_pid, SIGINT);
	if (waitExit(timeoutMs))
		return _lastExitCode;
	std::cerr << "PostgresTestServer: pid " << _pid << " did not exit within " << timeoutMs
	          << " ms after SIGINT; killing it" << std::endl;
	kill();
	return _lastExitCode;
}


void PostgresTestServer::kill()
{
	if (_pid <= 0 || reap())
		return;
	::kill(_pid, SIGKILL);
	if (!waitExit(KILL_WAIT_MS))
		std::cerr << "PostgresTestServer: pid " << _pid << " survived SIGKILL for " << KILL_WAIT_MS << " ms"
		          << std::endl;
}


} // namespace Test
} // namespace Switchboard
