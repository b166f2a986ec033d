//
// Http.h
//
// Switchboard SDK: HTTP requests and responses seen by plugin routes and WebSocket accept hooks.
// (Header, query and CORS helpers are in util/HttpText.h and util/Cors.h.)
//


#ifndef Switchboard_Http_INCLUDED
#define Switchboard_Http_INCLUDED


#include "switchboard/util/HttpText.h"
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {


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


} // namespace Switchboard


#endif // Switchboard_Http_INCLUDED
