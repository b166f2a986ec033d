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
#include <csignal>
#include <cstdlib>
#include <exception>
#include <fcntl.h>
#include <iostream>
#include <pwd.h>
#include <stdexcept>
#include <sys/stat.h>
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


using Identity = ChildProcess::Identity;


Identity identity()
/// Who the PostgreSQL programs run as: the system user "postgres" when we are root (PostgreSQL
/// refuses to run as root), else ourselves (drop = false).
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
    _child("PostgresTestServer", KILL_WAIT_MS),
    _initialised(false)
{
}


PostgresTestServer::~PostgresTestServer()
{
	try
	{
		if (std::uncaught_exceptions() > 0 && _initialised)
			std::cerr << "PostgresTestServer: test ended by an exception; last lines of the log:\n"
			          << logTail(10) << std::endl;
		if (_child.signal(SIGQUIT) && !_child.waitExit(5000, 10)) // immediate shutdown: its backends go too
			kill();
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
	std::string text = ChildProcess::tailLines(ChildProcess::fileText(_dir.path() + "/" + LOG_FILE), lines);
	const std::string initdb = ChildProcess::fileText(_dir.path() + "/" + INITDB_LOG_FILE);
	if (!_initialised && !initdb.empty())
		text += "\n--- " + std::string(INITDB_LOG_FILE) + " ---\n" + ChildProcess::tailLines(initdb, lines);
	return text;
}


void PostgresTestServer::initialise()
{
	const Identity who = identity();
	if (who.drop && ::chown(_dir.path().c_str(), who.uid, who.gid) != 0)
		throw std::runtime_error("PostgresTestServer: chown " + _dir.path() + ": " +
		                         ChildProcess::describeErrno(errno));
	const int logFd = ChildProcess::openAppend("PostgresTestServer", _dir.path() + "/" + INITDB_LOG_FILE);
	ChildProcess initdb("PostgresTestServer", KILL_WAIT_MS);
	try
	{
		initdb.start({std::string(BIN_DIR) + "/initdb", "-D", _dir.path() + "/data", "-U", SUPERUSER,
		              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"},
		             logFd, who);
	}
	catch (...)
	{
		::close(logFd);
		throw;
	}
	::close(logFd);
	if (!initdb.waitExit(INITDB_TIMEOUT_MS, 20))
	{
		initdb.kill();
		throw std::runtime_error("PostgresTestServer: initdb did not finish within " +
		                         std::to_string(INITDB_TIMEOUT_MS) + " ms\n" + logTail());
	}
	if (initdb.lastExitCode() != 0)
		throw std::runtime_error("PostgresTestServer: initdb failed (shell code " +
		                         std::to_string(initdb.lastExitCode()) + ")\n" + logTail());
}


void PostgresTestServer::start(int readyTimeoutMs)
{
	if (running())
		throw std::logic_error("PostgresTestServer::start: already running (pid " + std::to_string(_child.pid()) + ")");
	const bool first = !_initialised;
	if (first)
		initialise();
	const std::string port = std::to_string(_port);
	const char* const keywords[] = {"host", "port", "dbname", "connect_timeout", nullptr};
	const char* const values[] = {_host.c_str(), port.c_str(), "postgres", "2", nullptr};
	auto launch = [&] {
		const int logFd = ChildProcess::openAppend("PostgresTestServer", _dir.path() + "/" + LOG_FILE);
		try
		{
			_child.start({std::string(BIN_DIR) + "/postgres", "-D", _dir.path() + "/data", "-p", port, "-k",
			              _dir.path(), "-c", "listen_addresses=" + _host, "-c", "fsync=off"},
			             logFd, identity());
		}
		catch (...)
		{
			::close(logFd);
			throw;
		}
		::close(logFd);
		return _child.waitReady(readyTimeoutMs, 20,
		                        [&](int) { return PQpingParams(keywords, values, 0) == PQPING_OK; });
	};
	ChildProcess::Readiness readiness = launch();
	// After kill(), the old postmaster's backends may hold its shared memory a moment longer (they
	// end when they notice it died), and postgres refuses to start until they are gone.
	for (int attempt = 0; readiness == ChildProcess::EXITED && attempt < 50 &&
	                      logTail().find("pre-existing shared memory block") != std::string::npos;
	     ++attempt)
	{
		::usleep(100 * 1000);
		readiness = launch();
	}
	if (readiness == ChildProcess::EXITED)
		throw std::runtime_error("PostgresTestServer: postgres ended (shell code " +
		                         std::to_string(_child.lastExitCode()) + ") before accepting connections\n" +
		                         logTail());
	if (readiness == ChildProcess::TIMED_OUT)
		throw std::runtime_error("PostgresTestServer: postgres on port " + port +
		                         " did not accept connections within " + std::to_string(readyTimeoutMs) +
		                         " ms; killed it\n" + logTail());
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


bool PostgresTestServer::running()
{
	return _child.running();
}


int PostgresTestServer::stop(int timeoutMs)
{
	return _child.stop(SIGINT, "SIGINT", timeoutMs, 10);
}


void PostgresTestServer::kill()
{
	_child.kill();
}


} // namespace Test
} // namespace Switchboard
