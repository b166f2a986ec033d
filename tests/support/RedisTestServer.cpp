//
// RedisTestServer.cpp
//
// Runs a real redis-server (Debian's) for a test: its own temp dir, a free loopback port,
// readiness by PING, stop, kill and restart on the same port, and a small RESP client.
//


#include "RedisTestServer.h"
#include "Deadline.h"
#include "PortPicker.h"
#include "TestSocket.h"
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>


namespace Switchboard {
namespace Test {


namespace {


constexpr const char* LOG_FILE = "redis.log";
constexpr const char* OUTPUT_FILE = "redis.out";
constexpr const char* LOOPBACK = "127.0.0.1";
constexpr int KILL_WAIT_MS = 5000;
constexpr int MAX_REPLY_DEPTH = 32;


bool saysAddressInUse(std::string text)
{
	for (char& c : text)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return text.find("address already in use") != std::string::npos;
}


long long parseInteger(const std::string& digits, const char* what)
{
	std::size_t i = 0;
	if (i < digits.size() && (digits[i] == '-' || digits[i] == '+'))
		++i;
	if (i == digits.size() || digits.size() > 20)
		throw std::runtime_error(std::string("RedisTestServer: malformed ") + what + " \"" + digits + "\"");
	for (; i < digits.size(); ++i)
	{
		if (digits[i] < '0' || digits[i] > '9')
			throw std::runtime_error(std::string("RedisTestServer: malformed ") + what + " \"" + digits + "\"");
	}
	errno = 0;
	const long long value = std::strtoll(digits.c_str(), nullptr, 10);
	if (errno == ERANGE)
		throw std::runtime_error(std::string("RedisTestServer: ") + what + " out of range: " + digits);
	return value;
}


// One reply starting at position; false if the buffer ends first.
bool parseAt(const std::string& buffer, std::size_t& position, RedisTestServer::Reply& reply, int depth)
{
	using Reply = RedisTestServer::Reply;
	if (depth > MAX_REPLY_DEPTH)
		throw std::runtime_error("RedisTestServer: reply nested deeper than " + std::to_string(MAX_REPLY_DEPTH));
	if (position >= buffer.size())
		return false;
	const std::size_t lineEnd = buffer.find("\r\n", position + 1);
	if (lineEnd == std::string::npos)
		return false;
	const char type = buffer[position];
	const std::string line = buffer.substr(position + 1, lineEnd - position - 1);
	std::size_t next = lineEnd + 2;
	reply = Reply();
	switch (type)
	{
		case '+':
			reply.type = Reply::TYPE_SIMPLE;
			reply.text = line;
			break;
		case '-':
			reply.type = Reply::TYPE_ERROR;
			reply.text = line;
			break;
		case ':':
			reply.type = Reply::TYPE_INTEGER;
			reply.integer = parseInteger(line, "integer reply");
			reply.text = line;
			break;
		case '$':
		{
			const long long length = parseInteger(line, "bulk length");
			if (length == -1)
			{
				reply.type = Reply::TYPE_NIL;
				break;
			}
			if (length < 0 || length > 512LL * 1024 * 1024)
				throw std::runtime_error("RedisTestServer: bad bulk length " + line);
			const std::size_t size = static_cast<std::size_t>(length);
			if (buffer.size() < next + size + 2)
				return false;
			if (buffer.compare(next + size, 2, "\r\n") != 0)
				throw std::runtime_error("RedisTestServer: bulk string of " + line + " bytes not followed by CRLF");
			reply.type = Reply::TYPE_BULK;
			reply.text = buffer.substr(next, size);
			next += size + 2;
			break;
		}
		case '*':
		{
			const long long count = parseInteger(line, "array length");
			if (count == -1)
			{
				reply.type = Reply::TYPE_NIL;
				break;
			}
			if (count < 0 || count > 10000000)
				throw std::runtime_error("RedisTestServer: bad array length " + line);
			reply.type = Reply::TYPE_ARRAY;
			for (long long i = 0; i < count; ++i)
			{
				Reply element;
				if (!parseAt(buffer, next, element, depth + 1))
					return false;
				reply.elements.push_back(std::move(element));
			}
			break;
		}
		default:
			throw std::runtime_error("RedisTestServer: not a RESP reply, type byte 0x" +
			                         std::to_string(static_cast<unsigned char>(type)) + " in line \"" + line + "\"");
	}
	position = next;
	return true;
}


} // namespace


std::string RedisTestServer::Reply::toString() const
{
	switch (type)
	{
		case TYPE_SIMPLE:
		case TYPE_BULK:
		case TYPE_INTEGER:
			return text;
		case TYPE_ERROR:
			return "-" + text;
		case TYPE_NIL:
			return "(nil)";
		case TYPE_ARRAY:
		{
			std::string joined;
			for (std::size_t i = 0; i < elements.size(); ++i)
			{
				if (i > 0)
					joined += '\n';
				joined += elements[i].toString();
			}
			return joined;
		}
	}
	return "";
}


RedisTestServer::RedisTestServer(const std::string& password):
    _password(password),
    _dir("switchboard-redis"),
    _port(PortPicker::pick()),
    _child("RedisTestServer", KILL_WAIT_MS),
    _everStarted(false),
    _runLogOffset(0)
{
}


RedisTestServer::~RedisTestServer()
{
	try
	{
		if (std::uncaught_exceptions() > 0 && _everStarted)
			std::cerr << "RedisTestServer: test ended by an exception; last lines of " << logPath() << ":\n"
			          << logTail(10) << std::endl;
		kill();
	}
	catch (...)
	{
		// Never throw from a destructor; the process dies with this thread anyway (PDEATHSIG).
	}
}


bool RedisTestServer::available()
{
	return whyUnavailable().empty();
}


std::string RedisTestServer::whyUnavailable()
{
	const char* disabled = std::getenv(DISABLE_VARIABLE);
	if (disabled != nullptr && *disabled != '\0' && std::string(disabled) != "0")
		return std::string(DISABLE_VARIABLE) + " is set, so the tests that need redis-server do not run";
	if (::access(BINARY, X_OK) != 0)
		return std::string("redis-server not installed (no ") + BINARY + "): run scripts/install-deps.sh --test";
	return "";
}


std::string RedisTestServer::logPath() const
{
	return _dir.path() + "/" + LOG_FILE;
}


std::string RedisTestServer::logTail(std::size_t lines) const
{
	std::string text = ChildProcess::tailLines(ChildProcess::fileText(logPath()), lines);
	const std::string output = ChildProcess::fileText(_dir.path() + "/" + OUTPUT_FILE);
	if (!output.empty())
		text += "\n--- " + std::string(OUTPUT_FILE) + " ---\n" + ChildProcess::tailLines(output, lines);
	return text;
}


void RedisTestServer::start(int readyTimeoutMs)
{
	if (running())
		throw std::logic_error("RedisTestServer::start: already running (pid " + std::to_string(_child.pid()) + ")");
	for (int attempt = 0;; ++attempt)
	{
		std::string failure;
		startOnce(readyTimeoutMs, failure);
		if (failure.empty())
		{
			_everStarted = true;
			return;
		}
		const std::string thisRun =
		    ChildProcess::fileText(logPath(), _runLogOffset) + ChildProcess::fileText(_dir.path() + "/" + OUTPUT_FILE);
		// Only a first start may move to another port: later ones must keep the clients' port.
		if (!_everStarted && attempt == 0 && saysAddressInUse(thisRun))
		{
			std::cerr << "RedisTestServer: port " << _port << " in use, retrying with another" << std::endl;
			_port = PortPicker::pick();
			continue;
		}
		throw std::runtime_error("RedisTestServer: " + failure + "\n--- last lines of " + logPath() + " ---\n" +
		                         logTail(30));
	}
}


void RedisTestServer::startOnce(int readyTimeoutMs, std::string& failure)
{
	struct stat info;
	_runLogOffset = ::stat(logPath().c_str(), &info) == 0 ? static_cast<std::size_t>(info.st_size) : 0;
	const int outputFd = ChildProcess::openAppend("RedisTestServer", _dir.path() + "/" + OUTPUT_FILE);
	std::vector<std::string> argv = {
	    BINARY, "--port", std::to_string(_port), "--bind",      LOOPBACK, "--save",    "",       "--appendonly",
	    "no",   "--dir",  _dir.path(),           "--daemonize", "no",     "--logfile", logPath()};
	if (!_password.empty())
	{
		argv.push_back("--requirepass");
		argv.push_back(_password);
	}
	try
	{
		_child.start(argv, outputFd);
	}
	catch (...)
	{
		::close(outputFd);
		throw;
	}
	::close(outputFd);

	std::string lastAnswer = "no attempt";
	const ChildProcess::Readiness readiness = _child.waitReady(readyTimeoutMs, 20, [&](int remainingMs) {
		try
		{
			const Reply pong = request({"PING"}, std::max(1, std::min(1000, remainingMs)));
			if (pong.type == Reply::TYPE_SIMPLE && pong.text == "PONG")
				return true;
			lastAnswer = "answered " + pong.toString();
		}
		catch (const std::exception& e)
		{
			lastAnswer = e.what();
		}
		return false;
	});
	if (readiness == ChildProcess::EXITED)
		failure = "redis-server ended (shell code " + std::to_string(_child.lastExitCode()) + ") before answering PING";
	else if (readiness == ChildProcess::TIMED_OUT)
		failure = "redis-server on port " + std::to_string(_port) + " did not answer +PONG within " +
		          std::to_string(readyTimeoutMs) + " ms (last: " + lastAnswer + "); killed it";
}


bool RedisTestServer::running()
{
	return _child.running();
}


int RedisTestServer::stop(int timeoutMs)
{
	return _child.stop(SIGTERM, "SIGTERM", timeoutMs, 5);
}


void RedisTestServer::kill()
{
	_child.kill();
}


std::string RedisTestServer::encodeCommand(const std::vector<std::string>& args)
{
	std::string out = "*" + std::to_string(args.size()) + "\r\n";
	for (const std::string& arg : args)
	{
		out += "$" + std::to_string(arg.size()) + "\r\n";
		out += arg;
		out += "\r\n";
	}
	return out;
}


bool RedisTestServer::parseReply(const std::string& buffer, std::size_t& position, Reply& reply)
{
	std::size_t at = position;
	Reply parsed;
	if (!parseAt(buffer, at, parsed, 0))
		return false;
	reply = std::move(parsed);
	position = at;
	return true;
}


RedisTestServer::Reply RedisTestServer::request(const std::vector<std::string>& args, int timeoutMs) const
{
	if (args.empty())
		throw std::invalid_argument("RedisTestServer::request: no command");
	const std::string target = std::string(LOOPBACK) + ":" + std::to_string(_port);
	Deadline deadline(timeoutMs);
	TestSocket socket;
	socket.connect(LOOPBACK, _port, std::max(1, deadline.remainingMs()));
	std::string out;
	std::size_t expected = 1;
	if (!_password.empty())
	{
		out += encodeCommand({"AUTH", _password});
		expected = 2;
	}
	out += encodeCommand(args);
	socket.sendAll(out, std::max(1, deadline.remainingMs()));

	std::string buffer;
	std::size_t position = 0;
	std::vector<Reply> replies;
	while (replies.size() < expected)
	{
		Reply reply;
		if (parseReply(buffer, position, reply))
		{
			replies.push_back(std::move(reply));
			continue;
		}
		const int waitMs = deadline.remainingMs();
		if (waitMs <= 0)
			throw std::runtime_error("RedisTestServer: no complete reply to " + args[0] + " from " + target +
			                         " within " + std::to_string(timeoutMs) + " ms (got " +
			                         std::to_string(buffer.size()) + " bytes)");
		switch (socket.receiveSome(buffer, waitMs))
		{
			case TestSocket::RECEIVE_DATA:
			case TestSocket::RECEIVE_TIMEOUT:
				break;
			case TestSocket::RECEIVE_EOF:
				throw std::runtime_error("RedisTestServer: " + target + " closed the connection during " + args[0] +
				                         " after " + std::to_string(buffer.size()) + " bytes");
			case TestSocket::RECEIVE_ERROR:
				throw std::runtime_error("RedisTestServer: " + target + " during " + args[0] + ": " +
				                         socket.lastError());
		}
	}
	if (expected == 2 && replies.front().isError())
		return replies.front();
	return replies.back();
}


std::string RedisTestServer::command(const std::vector<std::string>& args, int timeoutMs) const
{
	return request(args, timeoutMs).toString();
}


std::vector<std::string> RedisTestServer::channels(const std::string& pattern) const
{
	const Reply reply = request({"PUBSUB", "CHANNELS", pattern});
	if (reply.isError())
		throw std::runtime_error("RedisTestServer: PUBSUB CHANNELS " + pattern + ": " + reply.toString());
	std::vector<std::string> names;
	for (const Reply& element : reply.elements)
		names.push_back(element.text);
	return names;
}


long long RedisTestServer::numsub(const std::string& channel) const
{
	const Reply reply = request({"PUBSUB", "NUMSUB", channel});
	if (reply.type != Reply::TYPE_ARRAY || reply.elements.size() != 2 || reply.elements[1].type != Reply::TYPE_INTEGER)
		throw std::runtime_error("RedisTestServer: PUBSUB NUMSUB " + channel + " answered " + reply.toString());
	return reply.elements[1].integer;
}


} // namespace Test
} // namespace Switchboard
