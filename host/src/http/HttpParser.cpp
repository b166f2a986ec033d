//
// HttpParser.cpp
//
// Incremental HTTP/1.1 request parser (RFC 9112): request line, header fields, message framing
// and body. Pure logic, no I/O.
//


#include "http/HttpParser.h"
#include <algorithm>
#include <cstring>


namespace Switchboard {
namespace Core {


namespace {


constexpr int BAD_REQUEST = 400;
constexpr int CONTENT_TOO_LARGE = 413;
constexpr int URI_TOO_LONG = 414;
constexpr int EXPECTATION_FAILED = 417;
constexpr int FIELDS_TOO_LARGE = 431;
constexpr int NOT_IMPLEMENTED = 501;
constexpr int VERSION_NOT_SUPPORTED = 505;

// "HTTP/" DIGIT "." DIGIT
constexpr std::size_t VERSION_LENGTH = 8;

// 16 hex digits fill 64 bits; more significant digits would overflow.
constexpr std::size_t MAX_CHUNK_SIZE_DIGITS = 16;

// A body buffer larger than this is released by reset(), so idle keep-alive connections stay small.
constexpr std::size_t RETAINED_BODY_CAPACITY = 64 * 1024;


bool isTokenChar(char c)
{
	// tchar of RFC 9110 §5.6.2
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}


bool isToken(const std::string& s, std::size_t begin, std::size_t end)
{
	if (begin >= end)
		return false;
	for (std::size_t i = begin; i < end; ++i)
	{
		if (!isTokenChar(s[i]))
			return false;
	}
	return true;
}


bool isWhitespace(char c)
{
	return c == ' ' || c == '\t';
}


bool isVisible(char c)
{
	return c > 0x20 && c < 0x7F;
}


bool isFieldValueChar(char c)
{
	// field-vchar, SP and HT; obs-text (0x80-0xFF) is allowed, every other CTL and DEL is not.
	const auto u = static_cast<unsigned char>(c);
	return u >= 0x80 || isVisible(c) || isWhitespace(c);
}


bool isHexDigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}


unsigned hexValue(char c)
{
	if (c >= '0' && c <= '9')
		return static_cast<unsigned>(c - '0');
	if (c >= 'a' && c <= 'f')
		return static_cast<unsigned>(c - 'a' + 10);
	return static_cast<unsigned>(c - 'A' + 10);
}


char toLower(char c)
{
	return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}


bool equalsIgnoreCase(const char* a, std::size_t aLength, const char* b)
{
	const std::size_t bLength = std::strlen(b);
	if (aLength != bLength)
		return false;
	for (std::size_t i = 0; i < aLength; ++i)
	{
		if (toLower(a[i]) != toLower(b[i]))
			return false;
	}
	return true;
}


bool equalsIgnoreCase(const std::string& a, const char* b)
{
	return equalsIgnoreCase(a.data(), a.size(), b);
}


template <typename Visitor>
void forEachListMember(const std::string& value, Visitor visit)
/// Calls visit(data, length) for each member of a comma-separated list, without surrounding
/// whitespace; empty members are passed too, so that callers can decide about them.
{
	std::size_t begin = 0;
	while (true)
	{
		std::size_t end = value.find(',', begin);
		if (end == std::string::npos)
			end = value.size();
		std::size_t first = begin;
		std::size_t last = end;
		while (first < last && isWhitespace(value[first]))
			++first;
		while (last > first && isWhitespace(value[last - 1]))
			--last;
		visit(value.data() + first, last - first);
		if (end == value.size())
			return;
		begin = end + 1;
	}
}


bool listContains(const std::string& value, const char* token)
{
	bool found = false;
	forEachListMember(value, [&](const char* member, std::size_t length) {
		if (equalsIgnoreCase(member, length, token))
			found = true;
	});
	return found;
}


bool isAuthorityChar(char c)
{
	// unreserved, sub-delims, pct-encoded, ':' before a port and the brackets of an IP literal
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && std::strchr("-._~!$&'()*+,;=%:[]", c) != nullptr;
}


bool isAuthority(const std::string& s, std::size_t begin, std::size_t end)
{
	for (std::size_t i = begin; i < end; ++i)
	{
		if (!isAuthorityChar(s[i]))
			return false;
	}
	return true;
}


const char* checkFieldLine(const std::string& line, std::size_t& nameEnd, std::size_t& valueBegin,
                           std::size_t& valueEnd)
/// Splits a non-empty field line into name and trimmed value. Returns nullptr, or why the line
/// is malformed.
{
	if (isWhitespace(line[0]))
		return "folded or indented header field line (obs-fold)";
	const std::size_t colon = line.find(':');
	if (colon == std::string::npos)
		return "header field line without a colon";
	if (colon == 0)
		return "empty header field name";
	if (isWhitespace(line[colon - 1]))
		return "whitespace between header field name and colon";
	if (!isToken(line, 0, colon))
		return "invalid character in header field name";
	valueBegin = colon + 1;
	valueEnd = line.size();
	while (valueBegin < valueEnd && isWhitespace(line[valueBegin]))
		++valueBegin;
	while (valueEnd > valueBegin && isWhitespace(line[valueEnd - 1]))
		--valueEnd;
	for (std::size_t i = valueBegin; i < valueEnd; ++i)
	{
		if (!isFieldValueChar(line[i]))
			return "control character in header field value";
	}
	nameEnd = colon;
	return nullptr;
}


bool skipQuotedString(const std::string& s, std::size_t& pos)
/// quoted-string of RFC 9110 §5.6.4 starting at pos; on success pos is after the closing quote.
{
	if (pos >= s.size() || s[pos] != '"')
		return false;
	for (++pos; pos < s.size(); ++pos)
	{
		const char c = s[pos];
		if (c == '"')
		{
			++pos;
			return true;
		}
		if (c == '\\')
		{
			if (++pos == s.size() || !isFieldValueChar(s[pos]))
				return false;
		}
		else if (!isFieldValueChar(c))
			return false;
	}
	return false;
}


bool checkChunkExtensions(const std::string& line, std::size_t pos)
/// *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) up to the end of the line
/// (RFC 9112 §7.1.1). The extensions are ignored, but only once they are known to be well-formed.
{
	const auto skipWhitespace = [&]() {
		while (pos < line.size() && isWhitespace(line[pos]))
			++pos;
	};
	const auto skipToken = [&]() {
		const std::size_t begin = pos;
		while (pos < line.size() && isTokenChar(line[pos]))
			++pos;
		return pos > begin;
	};
	while (pos < line.size())
	{
		skipWhitespace();
		if (pos == line.size() || line[pos] != ';')
			return false;
		++pos;
		skipWhitespace();
		if (!skipToken())
			return false;
		skipWhitespace();
		if (pos < line.size() && line[pos] == '=')
		{
			++pos;
			skipWhitespace();
			if (pos < line.size() && line[pos] == '"')
			{
				if (!skipQuotedString(line, pos))
					return false;
			}
			else if (!skipToken())
				return false;
		}
	}
	return true;
}


int longRequestLineStatus(const std::string& prefix)
/// Given the first maxRequestLine + 1 bytes of a too long request line: 414 when the target is
/// what made it long (a method, then a target running to the end or followed by no more than a
/// version), else 400.
{
	const std::size_t methodEnd = prefix.find(' ');
	if (methodEnd == std::string::npos || !isToken(prefix, 0, methodEnd))
		return BAD_REQUEST;
	const std::size_t targetEnd = prefix.find(' ', methodEnd + 1);
	if (targetEnd == std::string::npos)
		return URI_TOO_LONG;
	if (targetEnd == methodEnd + 1)
		return BAD_REQUEST;
	return prefix.size() - (targetEnd + 1) <= VERSION_LENGTH ? URI_TOO_LONG : BAD_REQUEST;
}


} // namespace


const std::string* ParsedRequest::findHeader(const std::string& name) const
{
	for (const auto& header : headers)
	{
		if (equalsIgnoreCase(header.first, name.c_str()))
			return &header.second;
	}
	return nullptr;
}


void ParsedRequest::clear()
{
	method.clear();
	target.clear();
	path.clear();
	query.clear();
	versionMinor = 1;
	headers.clear();
	keepAlive = true;
	expectContinue = false;
	upgradeWebSocket = false;
	bodyKind = Body::NONE;
	contentLength = 0;
	body.clear();
}


HttpRequestParser::HttpRequestParser(const HttpLimits& limits):
    _limits(limits)
{
}


void HttpRequestParser::reset()
{
	_request.clear();
	if (_request.body.capacity() > RETAINED_BODY_CAPACITY)
		std::string().swap(_request.body);
	_line.clear();
	_errorReason.clear();
	_remaining = 0;
	_skippedBytes = 0;
	_fieldBytes = 0;
	_fieldCount = 0;
	_errorStatus = 0;
	_lineEndedWithCR = false;
	_state = State::HEAD;
	_phase = Phase::REQUEST_LINE;
}


std::size_t HttpRequestParser::feed(const char* data, std::size_t length)
{
	if (_state == State::COMPLETE || _state == State::FAILED)
		return 0;
	const State startState = _state;
	const char* p = data;
	const char* const end = data + length;
	// Any change of state ends the call: after the head the caller decides what the rest is.
	while (p < end && _state == startState)
	{
		switch (_phase)
		{
			case Phase::REQUEST_LINE:
				p = readRequestLine(p, end);
				break;
			case Phase::FIELD_LINE:
				p = readFieldLine(p, end);
				break;
			case Phase::LENGTH_BODY:
				p = readLengthBody(p, end);
				break;
			case Phase::CHUNK_SIZE_LINE:
				p = readChunkSizeLine(p, end);
				break;
			case Phase::CHUNK_DATA:
				p = readChunkData(p, end);
				break;
			case Phase::CHUNK_DATA_CR:
			case Phase::CHUNK_DATA_LF:
				p = readChunkDataEnd(p, end);
				break;
			case Phase::TRAILER_LINE:
				p = readTrailerLine(p, end);
				break;
			case Phase::DONE:
				return static_cast<std::size_t>(p - data);
		}
	}
	return static_cast<std::size_t>(p - data);
}


HttpRequestParser::LineResult HttpRequestParser::readLine(const char*& p, const char* end, std::size_t maxContent)
{
	// At most maxContent + 1 bytes are buffered: the content and a CR that may start the line end.
	// Deciding TOO_LONG from that prefix alone makes the outcome independent of how input is split.
	const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
	const char* const stop = lf != nullptr ? lf : end;
	maxContent = std::min(maxContent, SIZE_MAX - 1);
	const std::size_t room = maxContent + 1 - _line.size();
	const auto available = static_cast<std::size_t>(stop - p);
	if (available > room)
	{
		_line.append(p, room);
		p += room;
		return LineResult::TOO_LONG;
	}
	_line.append(p, available);
	p = stop;
	if (lf == nullptr)
		return LineResult::INCOMPLETE;
	++p;
	_lineEndedWithCR = !_line.empty() && _line.back() == '\r';
	if (_lineEndedWithCR)
		_line.pop_back();
	if (_line.size() > maxContent)
		return LineResult::TOO_LONG;
	if (_line.find('\r') != std::string::npos)
		return LineResult::BARE_CR;
	return LineResult::COMPLETE;
}


const char* HttpRequestParser::readRequestLine(const char* p, const char* end)
{
	const LineResult result = readLine(p, end, _limits.maxRequestLine);
	if (result == LineResult::TOO_LONG)
		fail(longRequestLineStatus(_line), "request line too long");
	else if (result == LineResult::BARE_CR)
		fail(BAD_REQUEST, "bare CR in request line");
	else if (result == LineResult::COMPLETE)
	{
		if (_line.empty())
		{
			// RFC 9112 §2.2: skip empty lines before a request line, but not endlessly.
			_skippedBytes += _lineEndedWithCR ? 2 : 1;
			if (_skippedBytes > _limits.maxRequestLine)
				fail(BAD_REQUEST, "too many empty lines before the request line");
		}
		else
			parseRequestLine();
		_line.clear();
	}
	return p;
}


void HttpRequestParser::parseRequestLine()
{
	const std::size_t methodEnd = _line.find(' ');
	if (methodEnd == std::string::npos)
	{
		fail(BAD_REQUEST, "malformed request line");
		return;
	}
	if (!isToken(_line, 0, methodEnd))
	{
		fail(BAD_REQUEST, "invalid method");
		return;
	}
	const std::size_t targetBegin = methodEnd + 1;
	std::size_t targetEnd = _line.find(' ', targetBegin);
	const bool hasVersion = targetEnd != std::string::npos;
	if (!hasVersion)
		targetEnd = _line.size();
	if (targetEnd == targetBegin)
	{
		fail(BAD_REQUEST, "empty request target");
		return;
	}
	for (std::size_t i = targetBegin; i < targetEnd; ++i)
	{
		if (!isVisible(_line[i]))
		{
			fail(BAD_REQUEST, "invalid character in request target");
			return;
		}
	}
	if (!hasVersion)
	{
		// "GET /path" is an HTTP/0.9 simple request.
		fail(VERSION_NOT_SUPPORTED, "HTTP/0.9 is not supported");
		return;
	}
	const std::size_t versionBegin = targetEnd + 1;
	const char* version = _line.data() + versionBegin;
	if (_line.size() - versionBegin != VERSION_LENGTH || std::memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' ||
	    version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9')
	{
		fail(BAD_REQUEST, "malformed HTTP version");
		return;
	}
	if (version[5] != '1' || version[7] > '1')
	{
		fail(VERSION_NOT_SUPPORTED, "HTTP version not supported");
		return;
	}
	_request.method.assign(_line, 0, methodEnd);
	_request.target.assign(_line, targetBegin, targetEnd - targetBegin);
	_request.versionMinor = version[7] - '0';
	if (!parseTarget())
		return;
	_phase = Phase::FIELD_LINE;
}


bool HttpRequestParser::parseTarget()
{
	// RFC 9112 §3.2: the four forms of request-target.
	const std::string& target = _request.target;
	std::size_t pathBegin = 0;
	if (target[0] == '/')
		pathBegin = 0;
	else if (target == "*")
	{
		if (_request.method != "OPTIONS")
		{
			fail(BAD_REQUEST, "asterisk-form target is only for OPTIONS");
			return false;
		}
		_request.path = target;
		return true;
	}
	else if (_request.method == "CONNECT")
	{
		if (!isAuthority(target, 0, target.size()) || target.find(':') == std::string::npos)
		{
			fail(BAD_REQUEST, "invalid authority-form target");
			return false;
		}
		return true;
	}
	else
	{
		const std::size_t schemeEnd = target.find("://");
		if (schemeEnd == std::string::npos || !(equalsIgnoreCase(target.data(), schemeEnd, "http") ||
		                                        equalsIgnoreCase(target.data(), schemeEnd, "https")))
		{
			fail(BAD_REQUEST, "request target is neither a path nor an http URI");
			return false;
		}
		const std::size_t authorityBegin = schemeEnd + 3;
		std::size_t authorityEnd = target.find_first_of("/?", authorityBegin);
		if (authorityEnd == std::string::npos)
			authorityEnd = target.size();
		// An empty host is invalid for http URIs (RFC 9110 §4.2.1), userinfo is deprecated (§4.2.4).
		if (authorityEnd == authorityBegin || !isAuthority(target, authorityBegin, authorityEnd))
		{
			fail(BAD_REQUEST, "invalid authority in absolute-form target");
			return false;
		}
		pathBegin = authorityEnd;
	}
	const std::size_t question = target.find('?', pathBegin);
	const std::size_t pathEnd = question == std::string::npos ? target.size() : question;
	_request.path.assign(target, pathBegin, pathEnd - pathBegin);
	if (_request.path.empty())
		_request.path = "/";
	if (question != std::string::npos)
		_request.query.assign(target, question + 1, std::string::npos);
	return true;
}


const char* HttpRequestParser::readFieldLine(const char* p, const char* end)
{
	const LineResult result = readLine(p, end, _limits.maxHeaderBytes - _fieldBytes);
	if (result == LineResult::TOO_LONG)
		fail(FIELDS_TOO_LARGE, "header fields too large");
	else if (result == LineResult::BARE_CR)
		fail(BAD_REQUEST, "bare CR in header field line");
	else if (result == LineResult::COMPLETE)
	{
		if (_line.empty())
			finishHead();
		else if (++_fieldCount > _limits.maxHeaderCount)
			fail(FIELDS_TOO_LARGE, "too many header fields");
		else
		{
			_fieldBytes += _line.size();
			std::size_t nameEnd = 0;
			std::size_t valueBegin = 0;
			std::size_t valueEnd = 0;
			if (const char* error = checkFieldLine(_line, nameEnd, valueBegin, valueEnd))
				fail(BAD_REQUEST, error);
			else
			{
				if (_request.headers.capacity() == 0)
					_request.headers.reserve(16); // a browser's upgrade has about a dozen: no regrowth
				_request.headers.emplace_back(_line.substr(0, nameEnd),
				                              _line.substr(valueBegin, valueEnd - valueBegin));
			}
		}
		_line.clear();
	}
	return p;
}


void HttpRequestParser::finishHead()
{
	// Checked in this order so that a request with several faults always gets the same answer:
	// malformed (400) first, then unsupported (501), refused expectation (417) and size (413).
	std::size_t hostCount = 0;
	for (const auto& header : _request.headers)
	{
		if (!equalsIgnoreCase(header.first, "host"))
			continue;
		if (++hostCount > 1)
		{
			fail(BAD_REQUEST, "more than one Host header field");
			return;
		}
		if (!isAuthority(header.second, 0, header.second.size()))
		{
			fail(BAD_REQUEST, "invalid Host header field");
			return;
		}
	}
	if (hostCount == 0 && _request.versionMinor == 1)
	{
		fail(BAD_REQUEST, "HTTP/1.1 request without Host header field");
		return;
	}
	if (!checkFraming())
		return;

	bool connectionClose = false;
	bool connectionKeepAlive = false;
	bool connectionUpgrade = false;
	bool upgradeToWebSocket = false;
	bool expectContinue = false;
	for (const auto& header : _request.headers)
	{
		const std::string& name = header.first;
		if (equalsIgnoreCase(name, "connection"))
		{
			connectionClose = connectionClose || listContains(header.second, "close");
			connectionKeepAlive = connectionKeepAlive || listContains(header.second, "keep-alive");
			connectionUpgrade = connectionUpgrade || listContains(header.second, "upgrade");
		}
		else if (equalsIgnoreCase(name, "upgrade"))
			upgradeToWebSocket = upgradeToWebSocket || listContains(header.second, "websocket");
		else if (equalsIgnoreCase(name, "expect"))
		{
			if (!equalsIgnoreCase(header.second, "100-continue"))
			{
				fail(EXPECTATION_FAILED, "unsupported expectation");
				return;
			}
			expectContinue = true;
		}
	}
	const bool http11 = _request.versionMinor == 1;
	_request.keepAlive = !connectionClose && (http11 || connectionKeepAlive);
	// HTTP/1.0 cannot upgrade (RFC 9110 §7.8) and its 100-continue is ignored (§10.1.1).
	_request.expectContinue = http11 && expectContinue;
	_request.upgradeWebSocket = http11 && _request.method == "GET" && connectionUpgrade && upgradeToWebSocket;

	if (_request.bodyKind == ParsedRequest::Body::LENGTH && _request.contentLength > _limits.maxBodySize)
	{
		fail(CONTENT_TOO_LARGE, "declared body too large");
		return;
	}
	if (_request.bodyKind == ParsedRequest::Body::CHUNKED)
	{
		_state = State::BODY;
		_phase = Phase::CHUNK_SIZE_LINE;
	}
	else if (_request.bodyKind == ParsedRequest::Body::LENGTH && _request.contentLength > 0)
	{
		_remaining = _request.contentLength;
		_state = State::BODY;
		_phase = Phase::LENGTH_BODY;
	}
	else
		complete();
}


bool HttpRequestParser::checkFraming()
{
	// RFC 9112 §6.1-6.3. Anything two parties could read differently is refused.
	std::vector<std::string> codings;
	bool hasTransferEncoding = false;
	bool hasContentLength = false;
	bool lengthValid = true;
	std::uint64_t length = 0;
	for (const auto& header : _request.headers)
	{
		if (equalsIgnoreCase(header.first, "transfer-encoding"))
		{
			hasTransferEncoding = true;
			forEachListMember(header.second, [&](const char* member, std::size_t size) {
				if (size > 0)
					codings.emplace_back(member, size);
			});
		}
		else if (equalsIgnoreCase(header.first, "content-length"))
		{
			forEachListMember(header.second, [&](const char* member, std::size_t size) {
				std::uint64_t value = 0;
				bool valid = size > 0;
				for (std::size_t i = 0; i < size && valid; ++i)
				{
					const char c = member[i];
					const auto digit = static_cast<std::uint64_t>(c - '0');
					valid = c >= '0' && c <= '9' && value <= (UINT64_MAX - digit) / 10;
					value = value * 10 + digit;
				}
				// Repeats of the same value are one length (RFC 9110 §8.6); different ones are not.
				if (!valid || (hasContentLength && value != length))
					lengthValid = false;
				length = value;
				hasContentLength = true;
			});
		}
	}
	if (hasTransferEncoding)
	{
		if (_request.versionMinor == 0)
		{
			fail(BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
			return false;
		}
		if (hasContentLength)
		{
			fail(BAD_REQUEST, "both Transfer-Encoding and Content-Length");
			return false;
		}
		if (codings.empty() || !equalsIgnoreCase(codings.back(), "chunked"))
		{
			fail(BAD_REQUEST, "chunked is not the final transfer coding");
			return false;
		}
		if (codings.size() > 1)
		{
			const bool chunkedTwice = std::any_of(codings.begin(), codings.end() - 1,
			                                      [](const std::string& c) { return equalsIgnoreCase(c, "chunked"); });
			if (chunkedTwice)
				fail(BAD_REQUEST, "chunked transfer coding applied more than once");
			else
				fail(NOT_IMPLEMENTED, "unsupported transfer coding");
			return false;
		}
		_request.bodyKind = ParsedRequest::Body::CHUNKED;
	}
	else if (hasContentLength)
	{
		if (!lengthValid)
		{
			fail(BAD_REQUEST, "invalid or conflicting Content-Length");
			return false;
		}
		_request.bodyKind = ParsedRequest::Body::LENGTH;
		_request.contentLength = length;
	}
	return true;
}


const char* HttpRequestParser::readLengthBody(const char* p, const char* end)
{
	const std::size_t take = static_cast<std::size_t>(std::min(_remaining, static_cast<std::uint64_t>(end - p)));
	_request.body.append(p, take);
	_remaining -= take;
	if (_remaining == 0)
		complete();
	return p + take;
}


const char* HttpRequestParser::readChunkSizeLine(const char* p, const char* end)
{
	const LineResult result = readLine(p, end, _limits.maxRequestLine);
	if (result == LineResult::TOO_LONG)
		fail(BAD_REQUEST, "chunk-size line too long");
	else if (result == LineResult::BARE_CR)
		fail(BAD_REQUEST, "bare CR in chunk-size line");
	else if (result == LineResult::COMPLETE)
	{
		std::size_t pos = 0;
		while (pos < _line.size() && _line[pos] == '0')
			++pos;
		const std::size_t significantBegin = pos;
		std::uint64_t size = 0;
		while (pos < _line.size() && isHexDigit(_line[pos]) && pos - significantBegin < MAX_CHUNK_SIZE_DIGITS)
			size = (size << 4) | hexValue(_line[pos++]);
		const std::uint64_t bodySoFar = _request.body.size();
		if (!_lineEndedWithCR)
			fail(BAD_REQUEST, "chunk-size line not ended by CRLF");
		else if (_line.empty() || !isHexDigit(_line[0]))
			fail(BAD_REQUEST, "invalid chunk size");
		else if (pos < _line.size() && isHexDigit(_line[pos]))
			fail(BAD_REQUEST, "chunk size has too many digits");
		else if (!checkChunkExtensions(_line, pos))
			fail(BAD_REQUEST, "malformed chunk extension");
		else if (size > _limits.maxBodySize - bodySoFar)
			fail(CONTENT_TOO_LARGE, "chunked body too large");
		else if (size == 0)
		{
			_fieldBytes = 0;
			_fieldCount = 0;
			_phase = Phase::TRAILER_LINE;
		}
		else
		{
			_remaining = size;
			_phase = Phase::CHUNK_DATA;
		}
		_line.clear();
	}
	return p;
}


const char* HttpRequestParser::readChunkData(const char* p, const char* end)
{
	const std::size_t take = static_cast<std::size_t>(std::min(_remaining, static_cast<std::uint64_t>(end - p)));
	_request.body.append(p, take);
	_remaining -= take;
	if (_remaining == 0)
		_phase = Phase::CHUNK_DATA_CR;
	return p + take;
}


const char* HttpRequestParser::readChunkDataEnd(const char* p, const char* end)
{
	const char expected = _phase == Phase::CHUNK_DATA_CR ? '\r' : '\n';
	if (*p != expected)
	{
		fail(BAD_REQUEST, "chunk data not followed by CRLF");
		return p + 1;
	}
	_phase = _phase == Phase::CHUNK_DATA_CR ? Phase::CHUNK_DATA_LF : Phase::CHUNK_SIZE_LINE;
	return p + 1;
}


const char* HttpRequestParser::readTrailerLine(const char* p, const char* end)
{
	const LineResult result = readLine(p, end, _limits.maxHeaderBytes - _fieldBytes);
	if (result == LineResult::TOO_LONG)
		fail(FIELDS_TOO_LARGE, "trailer fields too large");
	else if (result == LineResult::BARE_CR)
		fail(BAD_REQUEST, "bare CR in trailer field line");
	else if (result == LineResult::COMPLETE)
	{
		std::size_t nameEnd = 0;
		std::size_t valueBegin = 0;
		std::size_t valueEnd = 0;
		if (!_lineEndedWithCR)
			fail(BAD_REQUEST, "trailer line not ended by CRLF");
		else if (_line.empty())
			complete();
		else if (++_fieldCount > _limits.maxHeaderCount)
			fail(FIELDS_TOO_LARGE, "too many trailer fields");
		else if (const char* error = checkFieldLine(_line, nameEnd, valueBegin, valueEnd))
			fail(BAD_REQUEST, error);
		else
			_fieldBytes += _line.size(); // trailer fields are checked, then dropped
		_line.clear();
	}
	return p;
}


void HttpRequestParser::complete()
{
	_state = State::COMPLETE;
	_phase = Phase::DONE;
}


void HttpRequestParser::fail(int status, const char* reason)
{
	_state = State::FAILED;
	_phase = Phase::DONE;
	_errorStatus = status;
	_errorReason = reason;
	_line.clear();
}


} // namespace Core
} // namespace Switchboard
