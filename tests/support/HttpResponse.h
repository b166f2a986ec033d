//
// HttpResponse.h
//
// An HTTP response as the test clients received it: status, ordered headers, body, raw head.
//


#ifndef Switchboard_Test_HttpResponse_INCLUDED
#define Switchboard_Test_HttpResponse_INCLUDED


#include <string>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Test {


struct HttpResponse
/// Filled by HttpTestClient and by WsTestClient::connect(). Headers keep their order and the
/// spelling of their names as sent by the server; duplicates are kept. Lookups by name are
/// case-insensitive.
{
	int status = 0;
	std::string version;
	/// "HTTP/1.1" or "HTTP/1.0".
	std::string reason;
	std::vector<std::pair<std::string, std::string>> headers;
	/// Values with surrounding spaces and tabs trimmed.
	std::string body;
	/// Decoded body (chunked encoding removed).
	std::string rawHead;
	/// The status line and headers exactly as received, including the final empty line.

	std::string header(const std::string& name, const std::string& defaultValue = "") const;
	/// The first value of the header, or defaultValue if absent.

	bool hasHeader(const std::string& name) const;

	int headerCount(const std::string& name) const;
	/// How many times the header occurs.

	std::vector<std::string> headerValues(const std::string& name) const;
	/// All values of the header, in order.

	bool headerHasToken(const std::string& name, const std::string& token) const;
	/// True if any occurrence of the header holds token in its comma-separated list
	/// (case-insensitive), e.g. headerHasToken("Connection", "upgrade").

	static bool parseHead(const std::string& head, HttpResponse& response, std::string& error);
	/// Parses a status line and header lines ending in CRLF CRLF into response (rawHead too).
	/// Returns false with a reason in error if the head is malformed.

	static bool equalsIgnoreCase(const std::string& a, const std::string& b);
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_HttpResponse_INCLUDED
