//
// HttpParser.h
//
// Incremental HTTP/1.1 request parser (RFC 9112): request line, header fields, message framing
// and body. Pure logic, no I/O.
//


#ifndef Switchboard_Core_HttpParser_INCLUDED
#define Switchboard_Core_HttpParser_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Core {


struct HttpLimits
/// What one request may make the parser hold. Line ends never count towards a limit.
{
	std::size_t maxRequestLine = 8192;
	///< Bytes of "METHOD target HTTP/1.1"; beyond: 414 when the target made it long, else 400.
	///< Also bounds the empty lines skipped before a request line (counted with their line ends)
	///< and each chunk-size line with its extensions (400).

	std::size_t maxHeaderBytes = 16384;
	///< Bytes of all header field lines together; beyond: 431. Trailer fields of a chunked body
	///< have a budget of the same size of their own.

	std::size_t maxHeaderCount = 100;
	///< Header field lines; beyond: 431. Trailer fields are counted separately.

	std::size_t maxBodySize = 1 << 20;
	///< Declared Content-Length or running total of a chunked body; beyond: 413.
};


struct ParsedRequest
/// One request as the parser understood it. Everything but body is final at the end of the head.
{
	std::string method;   ///< as sent: a case-sensitive token; any token is accepted (the caller answers 405/501)
	std::string target;   ///< the request-target as sent
	std::string path;     ///< of origin-form and absolute-form: up to '?' ("/" when absolute-form has none);
	                      ///< "*" for asterisk-form (OPTIONS only); empty for authority-form (CONNECT only)
	std::string query;    ///< after '?', without it
	int versionMinor = 1; ///< HTTP/1.0 or HTTP/1.1
	std::vector<std::pair<std::string, std::string>> headers;
	///< In order, names as sent, values without surrounding whitespace. Trailer fields are not kept.

	bool keepAlive = true;
	///< HTTP/1.1: true unless Connection lists "close"; HTTP/1.0: false unless it lists "keep-alive"
	///< (and not "close").

	bool expectContinue = false;
	///< "Expect: 100-continue" on HTTP/1.1 (ignored on HTTP/1.0, RFC 9110 §10.1.1). The caller
	///< sends "100 Continue" only while the parser is in BODY.

	bool upgradeWebSocket = false;
	///< An HTTP/1.1 GET whose Upgrade lists "websocket" and whose Connection lists "upgrade"
	///< (case-insensitive). The handshake headers themselves are the caller's to check.

	enum class Body
	{
		NONE,
		LENGTH,
		CHUNKED
	} bodyKind = Body::NONE;

	std::uint64_t contentLength = 0; ///< with Body::LENGTH
	std::string body;                ///< the decoded body once the request is COMPLETE

	const std::string* findHeader(const std::string& name) const;
	///< The value of the first field with this name (case-insensitive), or nullptr. The pointer
	///< is valid until the headers change (the parser's reset()).

	void clear();
	///< Back to a default-constructed request, keeping the capacity of strings and vectors.
};


class HttpRequestParser
/// Parses the bytes of one HTTP/1.1 connection, one request at a time, as RFC 9112 requires of
/// a server, and refuses everything ambiguous instead of guessing (request smuggling):
///
/// - Request line: method token, one SP, request-target (origin-form, absolute-form with http or
///   https, "*" for OPTIONS, authority-form for CONNECT; visible ASCII only), one SP, HTTP/1.0 or
///   HTTP/1.1. Other well-formed versions, and a line without a version (HTTP/0.9), give 505.
///   Up to maxRequestLine bytes of empty lines before it are skipped.
/// - Lines of the head end with CRLF or a bare LF; a CR anywhere else is refused. Lines of a
///   chunked body (chunk-size, trailers) must end with CRLF: lenient chunk parsing is a known
///   source of disagreement between servers and proxies.
/// - Field lines: token name directly followed by ':', value of visible characters, SP, HT and
///   obs-text; obs-fold is refused (400).
/// - Framing (RFC 9112 §6): Transfer-Encoding must end with chunked (else 400, §6.3) and consist
///   of chunked alone (else 501); it is refused on HTTP/1.0 and together with Content-Length
///   (400). Content-Length is one decimal number; repeated fields or list members with the same
///   value are accepted as one (RFC 9110 §8.6), different ones refused (400). Without either,
///   the request has no body. A declared length above maxBodySize fails with 413 at the end of
///   the head, before any body byte is consumed.
/// - HTTP/1.1 needs exactly one Host (400 otherwise); more than one is refused on HTTP/1.0 too.
/// - Expect other than "100-continue" gives 417.
///
/// Any split of the input into feed() calls gives the same result. Not thread-safe; one parser
/// per connection, used by one thread at a time.
{
public:
	enum class State
	{
		HEAD,     ///< reading the request line and header fields
		BODY,     ///< head complete (request() is valid), reading the body
		COMPLETE, ///< the request is complete; reset() before the next one
		FAILED    ///< refused; see errorStatus()
	};

	explicit HttpRequestParser(const HttpLimits& limits);

	std::size_t feed(const char* data, std::size_t length);
	/// Consumes bytes of one request and returns how many it used. It stops (returning fewer
	/// than length) right after the head is complete, with state() then BODY, or COMPLETE when
	/// there is no body, so that the caller can answer "100 Continue", route, or take the
	/// remaining bytes as WebSocket frames of an upgrade; and it stops at the end of the request,
	/// leaving bytes of a pipelined next request unconsumed. In COMPLETE and FAILED it consumes
	/// nothing. On failure the return value counts the bytes up to the offending one. Never
	/// throws except std::bad_alloc.

	State state() const;

	int errorStatus() const;
	/// On FAILED: 400, 413, 414, 417, 431, 501 or 505; otherwise 0.

	const std::string& errorReason() const;
	/// On FAILED: one short line for logs or a response body; otherwise empty.

	ParsedRequest& request();
	/// Valid from the end of the head on (BODY or COMPLETE); body is complete in COMPLETE.
	/// The caller may move strings out of it; reset() clears it.

	const ParsedRequest& request() const;

	void reset();
	/// Ready for the next request on the same connection (keep-alive), keeping capacity, except
	/// that a body buffer above 64 KiB is released so idle connections stay small.

	std::size_t bufferedBytes() const;
	/// Bytes held for an incomplete line (request line, field line, chunk-size or trailer line);
	/// at most max(maxRequestLine, maxHeaderBytes) + 1. The body is in request().body, at most
	/// maxBodySize bytes.

	const HttpLimits& limits() const;

private:
	enum class Phase : std::uint8_t
	{
		REQUEST_LINE,
		FIELD_LINE,
		LENGTH_BODY,
		CHUNK_SIZE_LINE,
		CHUNK_DATA,
		CHUNK_DATA_CR, // expecting the CR after chunk data
		CHUNK_DATA_LF, // expecting the LF after chunk data
		TRAILER_LINE,
		DONE
	};

	enum class LineResult : std::uint8_t
	{
		INCOMPLETE,
		COMPLETE, // the line, without its line end, is in _line
		TOO_LONG,
		BARE_CR
	};

	LineResult readLine(const char*& p, const char* end, std::size_t maxContent);
	const char* readRequestLine(const char* p, const char* end);
	const char* readFieldLine(const char* p, const char* end);
	const char* readLengthBody(const char* p, const char* end);
	const char* readChunkSizeLine(const char* p, const char* end);
	const char* readChunkData(const char* p, const char* end);
	const char* readChunkDataEnd(const char* p, const char* end);
	const char* readTrailerLine(const char* p, const char* end);
	void parseRequestLine();
	bool parseTarget();
	void finishHead();
	bool checkFraming();
	void complete();
	void fail(int status, const char* reason);

	HttpLimits _limits;
	ParsedRequest _request;
	std::string _line; // the incomplete line, then the complete one without its line end
	std::string _errorReason;
	std::uint64_t _remaining = 0;  // body bytes of a Content-Length body or of the current chunk
	std::size_t _skippedBytes = 0; // of empty lines before the request line
	std::size_t _fieldBytes = 0;   // of the header (or trailer) field lines so far
	std::size_t _fieldCount = 0;   // header (or trailer) field lines so far
	int _errorStatus = 0;
	bool _lineEndedWithCR = false; // of the last complete line
	State _state = State::HEAD;
	Phase _phase = Phase::REQUEST_LINE;
};


//
// inlines
//
inline HttpRequestParser::State HttpRequestParser::state() const
{
	return _state;
}


inline int HttpRequestParser::errorStatus() const
{
	return _errorStatus;
}


inline const std::string& HttpRequestParser::errorReason() const
{
	return _errorReason;
}


inline ParsedRequest& HttpRequestParser::request()
{
	return _request;
}


inline const ParsedRequest& HttpRequestParser::request() const
{
	return _request;
}


inline std::size_t HttpRequestParser::bufferedBytes() const
{
	return _line.size();
}


inline const HttpLimits& HttpRequestParser::limits() const
{
	return _limits;
}


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HttpParser_INCLUDED
