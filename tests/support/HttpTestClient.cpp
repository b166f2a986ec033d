//
// HttpTestClient.cpp
//
// A one-request-per-connection HTTP/1.1 client for tests, on raw POSIX sockets.
//


#include "HttpTestClient.h"
#include "Deadline.h"
#include "TestSocket.h"
#include <cctype>
#include <stdexcept>


namespace Switchboard {
namespace Test {


namespace {


constexpr std::size_t MAX_HEAD_SIZE = 64 * 1024;
constexpr std::size_t MAX_CHUNK_LINE = 4096;


// Bytes for an error message: control characters escaped, long texts cut.
std::string printable(const std::string& bytes, std::size_t limit = 300)
{
	std::string out;
	for (std::size_t i = 0; i < bytes.size() && i < limit; ++i)
	{
		const unsigned char c = static_cast<unsigned char>(bytes[i]);
		if (c == '\r')
			out += "\\r";
		else if (c == '\n')
			out += "\\n";
		else if (c < 0x20 || c >= 0x7f)
		{
			static const char* hex = "0123456789abcdef";
			out += "\\x";
			out += hex[c >> 4];
			out += hex[c & 15];
		}
		else
			out += static_cast<char>(c);
	}
	if (bytes.size() > limit)
		out += "... (" + std::to_string(bytes.size()) + " bytes)";
	return out;
}


// Receives once more into buffer; throws with context on timeout, EOF or error.
void fillOrThrow(TestSocket& socket, std::string& buffer, const Deadline& deadline, const std::string& what)
{
	const TestSocket::ReceiveStatus status = socket.receiveSome(buffer, deadline.remainingMs());
	switch (status)
	{
		case TestSocket::RECEIVE_DATA:
			return;
		case TestSocket::RECEIVE_TIMEOUT:
			throw std::runtime_error("timed out " + what);
		case TestSocket::RECEIVE_EOF:
			throw std::runtime_error("connection closed " + what);
		case TestSocket::RECEIVE_ERROR:
			throw std::runtime_error(socket.lastError() + " " + what);
	}
}


std::string readLine(TestSocket& socket, std::string& buffer, const Deadline& deadline, const std::string& what)
{
	for (;;)
	{
		const std::size_t end = buffer.find("\r\n");
		if (end != std::string::npos)
		{
			std::string line = buffer.substr(0, end);
			buffer.erase(0, end + 2);
			return line;
		}
		if (buffer.size() > MAX_CHUNK_LINE)
			throw std::runtime_error("line longer than 4 KiB " + what);
		fillOrThrow(socket, buffer, deadline, what);
	}
}


std::string readChunked(TestSocket& socket, std::string& buffer, const Deadline& deadline)
{
	std::string body;
	for (;;)
	{
		const std::string sizeLine = readLine(socket, buffer, deadline, "reading a chunk size");
		const std::string digits = sizeLine.substr(0, sizeLine.find(';'));
		std::size_t size = 0;
		std::size_t used = 0;
		for (char c : digits)
		{
			if (c == ' ' || c == '\t')
				break;
			if (!std::isxdigit(static_cast<unsigned char>(c)) || used >= 12)
				throw std::runtime_error("malformed chunk size line: '" + printable(sizeLine) + "'");
			size = size * 16 + static_cast<std::size_t>(std::isdigit(static_cast<unsigned char>(c))
			                                                ? c - '0'
			                                                : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
			++used;
		}
		if (used == 0)
			throw std::runtime_error("malformed chunk size line: '" + printable(sizeLine) + "'");
		if (size == 0)
		{
			// Trailer fields, then the empty line that ends the message.
			while (!readLine(socket, buffer, deadline, "reading chunked trailers").empty())
			{
			}
			return body;
		}
		while (buffer.size() < size + 2)
			fillOrThrow(socket, buffer, deadline,
			            "in a chunk after " + std::to_string(buffer.size()) + " of " + std::to_string(size + 2) +
			                " bytes");
		if (buffer.compare(size, 2, "\r\n") != 0)
			throw std::runtime_error("chunk of " + std::to_string(size) + " bytes not followed by CRLF");
		body.append(buffer, 0, size);
		buffer.erase(0, size + 2);
	}
}


std::size_t contentLength(const HttpResponse& response)
{
	std::size_t length = 0;
	bool first = true;
	for (const std::string& value : response.headerValues("Content-Length"))
	{
		if (value.empty() || value.size() > 15)
			throw std::runtime_error("malformed Content-Length: '" + value + "'");
		std::size_t parsed = 0;
		for (char c : value)
		{
			if (!std::isdigit(static_cast<unsigned char>(c)))
				throw std::runtime_error("malformed Content-Length: '" + value + "'");
			parsed = parsed * 10 + static_cast<std::size_t>(c - '0');
		}
		if (!first && parsed != length)
			throw std::runtime_error("conflicting Content-Length headers");
		length = parsed;
		first = false;
	}
	return length;
}


std::string buildRequest(const std::string& host, int port, const std::string& method, const std::string& pathAndQuery,
                         const HttpTestClient::Headers& headers, const std::string& body)
{
	auto given = [&headers](const char* name) {
		for (const auto& entry : headers)
		{
			if (HttpResponse::equalsIgnoreCase(entry.first, name))
				return true;
		}
		return false;
	};
	std::string text = method + " " + pathAndQuery + " HTTP/1.1\r\n";
	if (!given("Host"))
		text += "Host: " + host + ":" + std::to_string(port) + "\r\n";
	for (const auto& entry : headers)
		text += entry.first + ": " + entry.second + "\r\n";
	if (!given("Connection"))
		text += "Connection: close\r\n";
	const bool bodyExpected = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
	if (bodyExpected && !given("Content-Length") && !given("Transfer-Encoding"))
		text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
	text += "\r\n";
	text += body;
	return text;
}


HttpResponse exchange(const std::string& host, int port, const std::string& request, int timeoutMs, bool headRequest,
                      const std::string& context)
{
	Deadline deadline(timeoutMs);
	TestSocket socket;
	try
	{
		socket.connect(host, port, deadline.remainingMs());
	}
	catch (const std::runtime_error& e)
	{
		throw std::runtime_error(context + ": " + e.what());
	}
	std::string sendError;
	try
	{
		socket.sendAll(request, deadline.remainingMs());
	}
	catch (const std::runtime_error& e)
	{
		// A server may answer (e.g. 413) and close before reading everything: try the response.
		sendError = e.what();
	}
	std::string buffer;
	try
	{
		return HttpTestClient::readResponse(socket, buffer, deadline, headRequest);
	}
	catch (const std::runtime_error& e)
	{
		std::string message = context + ": " + e.what();
		if (!sendError.empty())
			message += " (after send failed: " + sendError + ")";
		throw std::runtime_error(message);
	}
}


} // namespace


HttpResponse HttpTestClient::request(const std::string& host, int port, const std::string& method,
                                     const std::string& pathAndQuery, const Headers& headers, const std::string& body,
                                     int timeoutMs)
{
	const std::string text = buildRequest(host, port, method, pathAndQuery, headers, body);
	return exchange(host, port, text, timeoutMs, method == "HEAD",
	                method + " " + pathAndQuery + " on " + host + ":" + std::to_string(port));
}


HttpResponse HttpTestClient::get(const std::string& host, int port, const std::string& pathAndQuery,
                                 const Headers& headers, int timeoutMs)
{
	return request(host, port, "GET", pathAndQuery, headers, "", timeoutMs);
}


HttpResponse HttpTestClient::requestRaw(const std::string& host, int port, const std::string& rawRequest, int timeoutMs,
                                        bool headRequest)
{
	return exchange(host, port, rawRequest, timeoutMs, headRequest,
	                "raw request to " + host + ":" + std::to_string(port) + " ('" + printable(rawRequest, 60) + "')");
}


std::string HttpTestClient::exchangeRaw(const std::string& host, int port, const std::string& rawRequest, int timeoutMs)
{
	Deadline deadline(timeoutMs);
	TestSocket socket;
	socket.connect(host, port, deadline.remainingMs());
	std::string received;
	try
	{
		socket.sendAll(rawRequest, deadline.remainingMs());
	}
	catch (const std::runtime_error&)
	{
		// Keep reading: the server may have answered before closing.
	}
	while (socket.receiveSome(received, deadline.remainingMs()) == TestSocket::RECEIVE_DATA)
	{
	}
	return received;
}


bool HttpTestClient::readHead(TestSocket& socket, std::string& buffer, const Deadline& deadline, std::string& head,
                              std::string& error)
{
	for (;;)
	{
		const std::size_t end = buffer.find("\r\n\r\n");
		if (end != std::string::npos)
		{
			head = buffer.substr(0, end + 4);
			buffer.erase(0, end + 4);
			return true;
		}
		if (buffer.size() > MAX_HEAD_SIZE)
		{
			error = "response head larger than 64 KiB";
			return false;
		}
		const TestSocket::ReceiveStatus status = socket.receiveSome(buffer, deadline.remainingMs());
		if (status == TestSocket::RECEIVE_DATA)
			continue;
		if (status == TestSocket::RECEIVE_TIMEOUT)
			error = "timed out waiting for the response head";
		else if (status == TestSocket::RECEIVE_EOF)
			error = "connection closed before a complete response head";
		else
			error = socket.lastError() + " before a complete response head";
		error += buffer.empty() ? " (nothing received)" : " (received: '" + printable(buffer) + "')";
		return false;
	}
}


HttpResponse HttpTestClient::readResponse(TestSocket& socket, std::string& buffer, const Deadline& deadline,
                                          bool headRequest)
{
	HttpResponse response;
	for (;;)
	{
		std::string head;
		std::string error;
		if (!readHead(socket, buffer, deadline, head, error))
			throw std::runtime_error(error);
		if (!HttpResponse::parseHead(head, response, error))
			throw std::runtime_error("malformed response head: " + error + " in '" + printable(head) + "'");
		if (response.status < 100 || response.status >= 200 || response.status == 101)
			break;
	}
	if (headRequest || response.status < 200 || response.status == 204 || response.status == 304)
		return response;
	if (response.headerHasToken("Transfer-Encoding", "chunked"))
	{
		response.body = readChunked(socket, buffer, deadline);
		return response;
	}
	if (response.hasHeader("Content-Length"))
	{
		const std::size_t length = contentLength(response);
		while (buffer.size() < length)
			fillOrThrow(socket, buffer, deadline,
			            "reading the body after " + std::to_string(buffer.size()) + " of " + std::to_string(length) +
			                " bytes");
		response.body = buffer.substr(0, length);
		buffer.erase(0, length);
		return response;
	}
	// No length: the body ends when the server closes the connection.
	for (;;)
	{
		const TestSocket::ReceiveStatus status = socket.receiveSome(buffer, deadline.remainingMs());
		if (status == TestSocket::RECEIVE_EOF)
			break;
		if (status == TestSocket::RECEIVE_TIMEOUT)
			throw std::runtime_error("timed out waiting for the end of a body without Content-Length after " +
			                         std::to_string(buffer.size()) + " bytes");
		if (status == TestSocket::RECEIVE_ERROR)
			throw std::runtime_error(socket.lastError() + " while reading a body without Content-Length");
	}
	response.body.swap(buffer);
	buffer.clear();
	return response;
}


std::int64_t HttpTestClient::metricValue(const std::string& metrics, const std::string& series)
{
	std::size_t at = 0;
	while ((at = metrics.find(series + " ", at)) != std::string::npos)
	{
		if (at == 0 || metrics[at - 1] == '\n')
			return std::stoll(metrics.substr(at + series.size() + 1));
		++at;
	}
	return -1;
}


} // namespace Test
} // namespace Switchboard
