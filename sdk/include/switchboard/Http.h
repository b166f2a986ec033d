//
// Http.h
//
// Switchboard SDK: HTTP requests and responses seen by plugin routes and WebSocket accept hooks,
// plus the URL-query and CORS helpers the protocols need.
//


#ifndef Switchboard_Http_INCLUDED
#define Switchboard_Http_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {


using HeaderList = std::vector<std::pair<std::string, std::string>>;


namespace HttpText {

inline bool equalsIgnoreCase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
	{
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = static_cast<char>(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = static_cast<char>(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

inline std::string_view findHeader(const HeaderList& headers, std::string_view name)
{
	for (const auto& h : headers)
		if (equalsIgnoreCase(h.first, name))
			return h.second;
	return {};
}

inline void appendUtf8(std::string& out, std::uint32_t cp)
{
	if (cp < 0x80)
		out += static_cast<char>(cp);
	else if (cp < 0x800)
	{
		out += static_cast<char>(0xC0 | (cp >> 6));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		out += static_cast<char>(0xE0 | (cp >> 12));
		out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	}
	else
	{
		out += static_cast<char>(0xF0 | (cp >> 18));
		out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
		out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (cp & 0x3F));
	}
}

inline std::string replaceInvalidUtf8(std::string_view in)
/// Returns in with every maximal invalid UTF-8 subsequence replaced by U+FFFD, as
/// browsers' TextDecoder does.
{
	std::string out;
	out.reserve(in.size());
	std::size_t i = 0;
	while (i < in.size())
	{
		unsigned char c = static_cast<unsigned char>(in[i]);
		if (c < 0x80)
		{
			out += static_cast<char>(c);
			++i;
			continue;
		}
		std::size_t need = 0;
		std::uint32_t cp = 0, lower = 0x80, upper = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 2, cp = c & 0x0F;
			if (c == 0xE0)
				lower = 0xA0;
			if (c == 0xED)
				upper = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 3, cp = c & 0x07;
			if (c == 0xF0)
				lower = 0x90;
			if (c == 0xF4)
				upper = 0x8F;
		}
		else
		{
			appendUtf8(out, 0xFFFD);
			++i;
			continue;
		}
		std::size_t j = i + 1, got = 0;
		for (; got < need && j < in.size(); ++got, ++j)
		{
			unsigned char d = static_cast<unsigned char>(in[j]);
			if (d < lower || d > upper)
				break;
			lower = 0x80, upper = 0xBF;
			cp = (cp << 6) | (d & 0x3F);
		}
		if (got == need)
			appendUtf8(out, cp);
		else
			appendUtf8(out, 0xFFFD);
		i = j;
	}
	return out;
}

inline std::string formDecode(std::string_view in)
/// application/x-www-form-urlencoded decoding as WHATWG URLSearchParams does it: '+' is a
/// space, %XX is a byte, a malformed '%' stays literal, invalid UTF-8 becomes U+FFFD.
{
	auto hex = [](char c) -> int {
		if (c >= '0' && c <= '9')
			return c - '0';
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		if (c >= 'A' && c <= 'F')
			return c - 'A' + 10;
		return -1;
	};
	std::string bytes;
	bytes.reserve(in.size());
	for (std::size_t i = 0; i < in.size(); ++i)
	{
		char c = in[i];
		if (c == '+')
			bytes += ' ';
		else if (c == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0)
		{
			bytes += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
			i += 2;
		}
		else
			bytes += c;
	}
	return replaceInvalidUtf8(bytes);
}

inline HeaderList parseQuery(std::string_view query)
/// Splits a query string (without '?') into decoded name/value pairs, in order.
{
	HeaderList pairs;
	while (!query.empty())
	{
		std::size_t amp = query.find('&');
		std::string_view part = query.substr(0, amp);
		if (!part.empty())
		{
			std::size_t eq = part.find('=');
			if (eq == std::string_view::npos)
				pairs.emplace_back(formDecode(part), std::string());
			else
				pairs.emplace_back(formDecode(part.substr(0, eq)), formDecode(part.substr(eq + 1)));
		}
		if (amp == std::string_view::npos)
			break;
		query.remove_prefix(amp + 1);
	}
	return pairs;
}

} // namespace HttpText


struct HttpRequest
/// An HTTP request as a plugin sees it: a route's request or a WebSocket upgrade request.
/// Owned by the host; valid only during the call it is passed to (copy what you keep).
{
	std::string method;        ///< as sent, e.g. "GET"
	std::string path;          ///< the full request path, percent-encoding untouched, no query
	std::string query;         ///< the raw query string without '?', possibly empty
	HeaderList headers;        ///< in arrival order, names as sent
	std::string body;          ///< empty for upgrades; limited by the host's max_body_size
	std::string remoteAddress; ///< "ip:port" of the peer
	HeaderList pathParams;     ///< values of {name} segments of the matched route pattern

	std::string_view header(std::string_view name) const { return HttpText::findHeader(headers, name); }
	/// The first header with this name (case-insensitive), or empty.

	bool hasHeader(std::string_view name) const
	{
		for (const auto& h : headers)
			if (HttpText::equalsIgnoreCase(h.first, name))
				return true;
		return false;
	}

	std::string_view pathParam(std::string_view name) const
	{
		for (const auto& p : pathParams)
			if (p.first == name)
				return p.second;
		return {};
	}

	HeaderList queryParams() const { return HttpText::parseQuery(query); }
	/// The decoded query (URLSearchParams rules), in order, repeats kept.

	std::string queryParam(std::string_view name) const
	/// The first decoded value of a query parameter, or empty.
	{
		for (auto& p : queryParams())
			if (p.first == name)
				return p.second;
		return {};
	}
};


struct HttpResponse
/// What a route handler fills in. The host adds Content-Length, sends no body for HEAD and
/// defaults to 200 with an empty body.
{
	int status = 200;
	HeaderList headers;
	std::string body;

	void setHeader(std::string name, std::string value)
	/// Replaces every header of that name (case-insensitive) with one.
	{
		for (auto it = headers.begin(); it != headers.end();)
			it = HttpText::equalsIgnoreCase(it->first, name) ? headers.erase(it) : it + 1;
		headers.emplace_back(std::move(name), std::move(value));
	}

	void send(int statusCode, std::string contentType, std::string content)
	{
		status = statusCode;
		setHeader("Content-Type", std::move(contentType));
		body = std::move(content);
	}

	void json(int statusCode, std::string content)
	{
		send(statusCode, "application/json; charset=utf-8", std::move(content));
	}
	void text(int statusCode, std::string content)
	{
		send(statusCode, "text/plain; charset=utf-8", std::move(content));
	}
};


namespace Cors {

inline void applyOrigin(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed)
/// Adds Vary: Origin and, when the request has an Origin that is allowed (any origin when
/// allowed is empty), reflects it in Access-Control-Allow-Origin. Never adds credentials.
{
	std::string_view origin = request.header("Origin");
	bool ok = false;
	if (request.hasHeader("Origin"))
	{
		ok = allowed.empty();
		for (const auto& a : allowed)
			ok = ok || a == origin;
	}
	if (ok)
		response.setHeader("Access-Control-Allow-Origin", std::string(origin));
}

inline void preflight(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed,
                      std::string_view methods = "GET,HEAD,PUT,PATCH,POST,DELETE")
/// Answers an OPTIONS preflight: 204, the origin rule above, the allowed methods and the
/// requested headers echoed back.
{
	response.status = 204;
	response.body.clear();
	applyOrigin(request, response, allowed);
	response.setHeader("Access-Control-Allow-Methods", std::string(methods));
	if (request.hasHeader("Access-Control-Request-Headers"))
		response.setHeader("Access-Control-Allow-Headers",
		                   std::string(request.header("Access-Control-Request-Headers")));
	response.setHeader("Vary", "Origin, Access-Control-Request-Headers");
}

inline void simple(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed)
/// The headers of a non-preflight response: Vary: Origin plus the origin rule.
{
	applyOrigin(request, response, allowed);
	response.setHeader("Vary", "Origin");
}

} // namespace Cors


} // namespace Switchboard


#endif // Switchboard_Http_INCLUDED
