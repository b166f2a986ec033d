//
// HttpResponse.cpp
//
// An HTTP response as the test clients received it: status, ordered headers, body, raw head.
//


#include "HttpResponse.h"
#include <cctype>


namespace Switchboard {
namespace Test {


namespace {


std::string trim(const std::string& text)
{
	std::size_t begin = 0;
	std::size_t end = text.size();
	while (begin < end && (text[begin] == ' ' || text[begin] == '\t'))
		++begin;
	while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t'))
		--end;
	return text.substr(begin, end - begin);
}


} // namespace


bool HttpResponse::equalsIgnoreCase(const std::string& a, const std::string& b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
	{
		if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
			return false;
	}
	return true;
}


std::string HttpResponse::header(const std::string& name, const std::string& defaultValue) const
{
	for (const auto& entry : headers)
	{
		if (equalsIgnoreCase(entry.first, name))
			return entry.second;
	}
	return defaultValue;
}


bool HttpResponse::hasHeader(const std::string& name) const
{
	return headerCount(name) > 0;
}


int HttpResponse::headerCount(const std::string& name) const
{
	int count = 0;
	for (const auto& entry : headers)
	{
		if (equalsIgnoreCase(entry.first, name))
			++count;
	}
	return count;
}


std::vector<std::string> HttpResponse::headerValues(const std::string& name) const
{
	std::vector<std::string> values;
	for (const auto& entry : headers)
	{
		if (equalsIgnoreCase(entry.first, name))
			values.push_back(entry.second);
	}
	return values;
}


bool HttpResponse::headerHasToken(const std::string& name, const std::string& token) const
{
	for (const std::string& value : headerValues(name))
	{
		std::size_t start = 0;
		while (start <= value.size())
		{
			std::size_t comma = value.find(',', start);
			if (comma == std::string::npos)
				comma = value.size();
			if (equalsIgnoreCase(trim(value.substr(start, comma - start)), token))
				return true;
			start = comma + 1;
		}
	}
	return false;
}


bool HttpResponse::parseHead(const std::string& head, HttpResponse& response, std::string& error)
{
	response.rawHead = head;
	response.headers.clear();
	std::size_t lineStart = 0;
	std::size_t lineEnd = head.find("\r\n");
	if (lineEnd == std::string::npos)
	{
		error = "no CRLF after the status line";
		return false;
	}
	// Status line: HTTP-version SP 3DIGIT SP reason-phrase (the reason may be empty).
	const std::string statusLine = head.substr(0, lineEnd);
	const std::size_t firstSpace = statusLine.find(' ');
	if (statusLine.compare(0, 5, "HTTP/") != 0 || firstSpace == std::string::npos || statusLine.size() < firstSpace + 4)
	{
		error = "malformed status line: '" + statusLine + "'";
		return false;
	}
	response.version = statusLine.substr(0, firstSpace);
	const std::string code = statusLine.substr(firstSpace + 1, 3);
	for (char c : code)
	{
		if (!std::isdigit(static_cast<unsigned char>(c)))
		{
			error = "malformed status code in '" + statusLine + "'";
			return false;
		}
	}
	if (statusLine.size() > firstSpace + 4 && statusLine[firstSpace + 4] != ' ')
	{
		error = "malformed status line: '" + statusLine + "'";
		return false;
	}
	response.status = std::stoi(code);
	response.reason = statusLine.size() > firstSpace + 5 ? statusLine.substr(firstSpace + 5) : "";

	lineStart = lineEnd + 2;
	for (;;)
	{
		lineEnd = head.find("\r\n", lineStart);
		if (lineEnd == std::string::npos)
		{
			error = "header block does not end with an empty line";
			return false;
		}
		if (lineEnd == lineStart)
			break;
		const std::string line = head.substr(lineStart, lineEnd - lineStart);
		const std::size_t colon = line.find(':');
		// RFC 7230 allows no whitespace before the colon and no obsolete line folding.
		if (colon == std::string::npos || colon == 0 || line[0] == ' ' || line[0] == '\t' || line[colon - 1] == ' ' ||
		    line[colon - 1] == '\t')
		{
			error = "malformed header line: '" + line + "'";
			return false;
		}
		response.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
		lineStart = lineEnd + 2;
	}
	return true;
}


} // namespace Test
} // namespace Switchboard
