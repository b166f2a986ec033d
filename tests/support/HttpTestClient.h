//
// HttpTestClient.h
//
// A one-request-per-connection HTTP/1.1 client for tests, on raw POSIX sockets.
//


#ifndef Switchboard_Test_HttpTestClient_INCLUDED
#define Switchboard_Test_HttpTestClient_INCLUDED


#include "HttpResponse.h"
#include <cstdint>
#include <string>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Test {


class TestSocket;
class Deadline;


class HttpTestClient
/// Sends one request on a fresh connection (Connection: close) and reads the response: by
/// Content-Length, chunked, or until EOF; no body for HEAD, 1xx, 204 and 304. Interim 1xx
/// responses other than 101 are skipped. Every call is bounded by its timeout.
///
/// Failures (refused connection, timeout, malformed or truncated response) throw
/// std::runtime_error with the target and what was received so far; non-loopback hosts throw
/// std::invalid_argument. Any HTTP status, including 4xx and 5xx, is a normal result.
/// Stateless and thread-safe.
{
public:
	using Headers = std::vector<std::pair<std::string, std::string>>;

	static constexpr int DEFAULT_TIMEOUT_MS = 5000;

	static HttpResponse request(const std::string& host, int port, const std::string& method,
	                            const std::string& pathAndQuery, const Headers& headers = {},
	                            const std::string& body = "", int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// Sends "METHOD pathAndQuery HTTP/1.1" with the given headers plus, unless the caller
	/// supplied them, Host, Connection: close and (for a non-empty body, or POST/PUT/PATCH)
	/// Content-Length.

	static HttpResponse get(const std::string& host, int port, const std::string& pathAndQuery,
	                        const Headers& headers = {}, int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// request() with method GET.

	static HttpResponse requestRaw(const std::string& host, int port, const std::string& rawRequest,
	                               int timeoutMs = DEFAULT_TIMEOUT_MS, bool headRequest = false);
	/// Sends rawRequest byte for byte (for malformed-request tests) and parses the response;
	/// headRequest tells the reader not to expect a body.

	static std::string exchangeRaw(const std::string& host, int port, const std::string& rawRequest,
	                               int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// Sends rawRequest and returns every byte received until the server closes the
	/// connection or the timeout passes (no parsing, no exception on timeout).

	static std::int64_t metricValue(const std::string& metrics, const std::string& series);
	/// The value of one series ("name" or "name{labels}") in Prometheus text, -1 if absent.

	static HttpResponse readResponse(TestSocket& socket, std::string& buffer, const Deadline& deadline,
	                                 bool headRequest);
	/// Reads one response from socket; buffer holds bytes already received and keeps any
	/// bytes after the response. Used by the functions above.

	static bool readHead(TestSocket& socket, std::string& buffer, const Deadline& deadline, std::string& head,
	                     std::string& error);
	/// Reads until CRLF CRLF (at most 64 KiB); moves the head out of buffer into head.
	/// Returns false with a reason on timeout, EOF, error or an oversized head.
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_HttpTestClient_INCLUDED
