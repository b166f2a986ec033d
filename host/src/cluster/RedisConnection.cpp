//
// RedisConnection.cpp
//


#include "cluster/RedisConnection.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Timespan.h"
#include <chrono>


namespace Switchboard {
namespace Cluster {


RedisConnection::RedisConnection(RedisEndpoint endpoint):
    _endpoint(std::move(endpoint))
{
}


RedisConnection::~RedisConnection()
{
	disconnect();
}


void RedisConnection::connect()
{
	disconnect();
	try
	{
		Poco::Net::SocketAddress address(_endpoint.host, static_cast<Poco::UInt16>(_endpoint.port));
		Poco::Net::StreamSocket socket;
		socket.connect(address, Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(_endpoint.timeoutMs) * 1000));
		socket.setNoDelay(true);
		socket.setKeepAlive(true);
		std::lock_guard<std::mutex> lock(_socketMutex);
		_socket = socket;
	}
	catch (const Poco::Exception& e)
	{
		throw RedisError("cannot connect to Redis at " + describe() + ": " + e.displayText());
	}
	_connected = true;
	if (!_endpoint.password.empty())
	{
		RespValue reply = command({"AUTH", _endpoint.password});
		if (reply.isError())
		{
			disconnect();
			throw RedisError("Redis at " + describe() + " refused AUTH: " + reply.text);
		}
	}
}


void RedisConnection::disconnect()
{
	std::lock_guard<std::mutex> lock(_socketMutex);
	if (_connected)
	{
		try
		{
			_socket.close();
		}
		catch (...)
		{
		}
	}
	_socket = Poco::Net::StreamSocket();
	_connected = false;
	_output.clear();
	_parser.reset();
}


void RedisConnection::interrupt()
{
	std::lock_guard<std::mutex> lock(_socketMutex);
	if (!_connected)
		return;
	try
	{
		_socket.shutdown();
	}
	catch (...)
	{
	}
}


void RedisConnection::append(const std::vector<std::string_view>& arguments)
{
	appendCommand(_output, arguments);
}


void RedisConnection::flush()
{
	if (!_connected)
		throw RedisError("not connected to Redis at " + describe());
	std::size_t sent = 0;
	try
	{
		while (sent < _output.size())
		{
			if (!_socket.poll(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(_endpoint.timeoutMs) * 1000),
			                  Poco::Net::Socket::SELECT_WRITE))
				throw RedisError("writing to Redis at " + describe() + " timed out");
			int n = _socket.sendBytes(_output.data() + sent,
			                          static_cast<int>(std::min<std::size_t>(_output.size() - sent, 1 << 20)));
			if (n <= 0)
				throw RedisError("Redis at " + describe() + " closed the connection");
			sent += static_cast<std::size_t>(n);
		}
	}
	catch (const Poco::Exception& e)
	{
		throw RedisError("writing to Redis at " + describe() + " failed: " + e.displayText());
	}
	_output.clear();
}


bool RedisConnection::fill(int timeoutMs)
{
	if (!_connected)
		throw RedisError("not connected to Redis at " + describe());
	char buffer[16384];
	try
	{
		if (!_socket.poll(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeoutMs) * 1000),
		                  Poco::Net::Socket::SELECT_READ))
			return false;
		int n = _socket.receiveBytes(buffer, sizeof buffer);
		if (n <= 0)
			throw RedisError("Redis at " + describe() + " closed the connection");
		_parser.feed(buffer, static_cast<std::size_t>(n));
		return true;
	}
	catch (const Poco::Exception& e)
	{
		throw RedisError("reading from Redis at " + describe() + " failed: " + e.displayText());
	}
}


bool RedisConnection::tryRead(RespValue& out, int timeoutMs)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
	try
	{
		while (!_parser.next(out))
		{
			auto left =
			    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
			        .count();
			if (left < 0 || !fill(static_cast<int>(left)))
				return false;
		}
	}
	catch (const RespProtocolError& e)
	{
		throw RedisError("malformed reply from Redis at " + describe() + ": " + e.what());
	}
	return true;
}


RespValue RedisConnection::read(int timeoutMs)
{
	RespValue value;
	if (!tryRead(value, timeoutMs))
		throw RedisError("no reply from Redis at " + describe() + " within " + std::to_string(timeoutMs) + " ms");
	return value;
}


RespValue RedisConnection::command(const std::vector<std::string_view>& arguments)
{
	append(arguments);
	flush();
	return read(_endpoint.timeoutMs);
}


} // namespace Cluster
} // namespace Switchboard
