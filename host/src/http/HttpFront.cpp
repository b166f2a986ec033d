//
// HttpFront.cpp
//


#include "http/HttpFront.h"
#include "ws/Handshake.h"
#include "Poco/Buffer.h"
#include "Poco/Net/HTTPRequestHandler.h"
#include "Poco/Net/HTTPRequestHandlerFactory.h"
#include "Poco/Net/HTTPServerParams.h"
#include "Poco/Net/HTTPServerRequest.h"
#include "Poco/Net/HTTPServerRequestImpl.h"
#include "Poco/Net/HTTPServerResponse.h"
#include "Poco/Net/HTTPServerSession.h"
#include "Poco/Net/NetException.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/String.h"
#include <algorithm>
#include <sstream>


namespace Switchboard {
namespace Core {


namespace {

bool hasToken(const std::string& headerValue, const char* token)
// Comma-separated header tokens, compared case-insensitively ("keep-alive, Upgrade").
{
	std::string_view rest(headerValue);
	while (!rest.empty())
	{
		std::size_t comma = rest.find(',');
		std::string_view item = ConfigParse::trim(rest.substr(0, comma));
		if (HttpText::equalsIgnoreCase(item, token))
			return true;
		if (comma == std::string_view::npos)
			break;
		rest.remove_prefix(comma + 1);
	}
	return false;
}

bool prefixMatches(std::string_view path, const std::string& prefix, bool ignoreCase, std::string_view& rest)
{
	if (path.size() < prefix.size())
		return false;
	std::string_view head = path.substr(0, prefix.size());
	if (ignoreCase ? !HttpText::equalsIgnoreCase(head, prefix) : head != prefix)
		return false;
	if (path.size() > prefix.size() && path[prefix.size()] != '/')
		return false;
	rest = path.substr(prefix.size());
	if (rest.empty())
		rest = "/";
	return true;
}

void sendPlain(Poco::Net::HTTPServerResponse& response, int status, const std::string& body,
               const std::string& contentType = "text/plain; charset=utf-8")
{
	response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
	response.setContentType(contentType);
	response.setContentLength(static_cast<std::streamsize>(body.size()));
	std::ostream& out = response.send();
	if (response.getContentLength() > 0)
		out.write(body.data(), static_cast<std::streamsize>(body.size()));
}


} // namespace


class HttpFront::Dispatcher: public Poco::Net::HTTPRequestHandler
/// Handles one request on a worker thread: an upgrade, a plugin route or an admin endpoint.
{
public:
	Dispatcher(HttpFront& front, const Listener& listener):
	    _front(front),
	    _listener(listener)
	{
	}

	void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override
	{
		++_front._requests;
		try
		{
			if (_listener.admin)
				handleAdmin(request, response);
			else if (isUpgrade(request))
				handleUpgrade(request, response);
			else
				handleRoute(request, response);
		}
		catch (Poco::Exception& exc)
		{
			_front._logger.warning("request %s %s failed: %s", request.getMethod(), request.getURI(),
			                       exc.displayText());
			if (!response.sent())
				sendPlain(response, 500, "Internal Server Error");
		}
		catch (std::exception& exc)
		{
			_front._logger.warning("request %s %s failed: %s", request.getMethod(), request.getURI(),
			                       std::string(exc.what()));
			if (!response.sent())
				sendPlain(response, 500, "Internal Server Error");
		}
	}

private:
	static bool isUpgrade(const Poco::Net::HTTPServerRequest& request)
	{
		return hasToken(request.get("Upgrade", ""), "websocket");
	}

	HttpRequest makeRequest(Poco::Net::HTTPServerRequest& request, bool readBody, bool& tooLarge)
	{
		HttpRequest out;
		out.method = request.getMethod();
		const std::string& uri = request.getURI();
		std::size_t q = uri.find('?');
		out.path = uri.substr(0, q);
		if (q != std::string::npos)
			out.query = uri.substr(q + 1);
		for (const auto& h : request)
			out.headers.emplace_back(h.first, h.second);
		out.remoteAddress = request.clientAddress().toString();
		tooLarge = false;
		if (readBody && (request.hasContentLength() || request.getChunkedTransferEncoding()))
		{
			std::size_t limit = _front._settings.maxBodySize;
			if (request.hasContentLength() && request.getContentLength64() > static_cast<Poco::Int64>(limit))
			{
				tooLarge = true;
				return out;
			}
			std::istream& in = request.stream();
			char buffer[8192];
			while (in)
			{
				in.read(buffer, sizeof(buffer));
				out.body.append(buffer, static_cast<std::size_t>(in.gcount()));
				if (out.body.size() > limit)
				{
					tooLarge = true;
					break;
				}
			}
		}
		return out;
	}

	void handleRoute(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response)
	{
		bool tooLarge = false;
		HttpRequest in = makeRequest(request, true, tooLarge);
		if (tooLarge)
		{
			response.setKeepAlive(false); // the unread body would be parsed as the next request
			sendPlain(response, 413, "Payload Too Large");
			return;
		}
		bool head = in.method == "HEAD";
		for (const Route& route : _listener.routes)
		{
			std::string_view rest;
			if (!prefixMatches(in.path, route.prefix, route.options.caseInsensitive, rest))
				continue;
			if (!(route.method == "*" || route.method == in.method || (head && route.method == "GET")))
				continue;
			in.pathParams.clear();
			if (!route.pattern.match(rest, route.options, in.pathParams))
				continue;
			HttpResponse out;
			if (!route.owner->guarded(PluginSite::ROUTE, [&] { route.handler(in, out); }))
			{
				out = HttpResponse();
				out.text(500, "Internal Server Error");
			}
			writeResponse(response, out, head);
			return;
		}
		sendPlain(response, 404, "Not Found");
	}

	static void writeResponse(Poco::Net::HTTPServerResponse& response, const HttpResponse& out, bool head)
	{
		response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
		for (const auto& h : out.headers)
		{
			if (HttpText::equalsIgnoreCase(h.first, "Content-Length"))
				continue; // ours is the truth
			response.add(h.first, h.second);
		}
		response.setContentLength(static_cast<std::streamsize>(out.body.size()));
		std::ostream& stream = response.send();
		if (!head && !out.body.empty())
			stream.write(out.body.data(), static_cast<std::streamsize>(out.body.size()));
	}

	void handleUpgrade(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response)
	{
		bool tooLarge = false;
		HttpRequest in = makeRequest(request, false, tooLarge);
		auto found = _listener.endpoints.find(in.path);
		if (found == _listener.endpoints.end())
		{
			sendPlain(response, 400, "Bad Request: no WebSocket endpoint at this path");
			return;
		}
		if (in.method != "GET" || !hasToken(request.get("Connection", ""), "upgrade"))
		{
			sendPlain(response, 400, "Bad Request: not a WebSocket upgrade");
			return;
		}
		if (request.get("Sec-WebSocket-Version", "") != "13")
		{
			response.set("Sec-WebSocket-Version", "13");
			sendPlain(response, 426, "Upgrade Required: WebSocket version 13 only");
			return;
		}
		std::string key = request.get("Sec-WebSocket-Key", "");
		if (!WS::isValidClientKey(key))
		{
			sendPlain(response, 400, "Bad Request: invalid Sec-WebSocket-Key");
			return;
		}
		if (!_front._transport.accepting())
		{
			sendPlain(response, 503, "Service Unavailable: shutting down");
			return;
		}
		if (_front._transport.atCapacity())
		{
			_front._logger.warning("connection limit reached; refusing an upgrade from %s", in.remoteAddress);
			sendPlain(response, 503, "Service Unavailable: connection limit reached");
			return;
		}
		const Endpoint& endpoint = *found->second;
		AcceptDecision decision;
		if (!endpoint.owner->guarded(PluginSite::ACCEPT, [&] { decision = endpoint.handler->onAccept(in); }))
			decision = AcceptDecision::reject(500, "Internal Server Error");
		if (decision.status != 0)
		{
			sendPlain(response, decision.status, decision.body);
			return;
		}

		// Our own 101 on the detached socket: Poco's WebSocket class cannot run non-blocking in
		// 1.11, and its handshake adds Content-Length to a 1xx response.
		auto& impl = static_cast<Poco::Net::HTTPServerRequestImpl&>(request);
		Poco::Net::StreamSocket socket = impl.detachSocket();
		Poco::Buffer<char> pipelined(0);
		impl.session().drainBuffer(pipelined); // a first frame sent right behind the request
		std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		                   "Sec-WebSocket-Accept: " +
		                   WS::computeAcceptKey(key) + "\r\n\r\n";
		std::size_t sent = 0;
		while (sent < head.size())
		{
			int n = socket.sendBytes(head.data() + sent, static_cast<int>(head.size() - sent));
			if (n <= 0)
				return;
			sent += static_cast<std::size_t>(n);
		}
		_front._transport.handOff(socket, std::string(pipelined.begin(), pipelined.size()), std::move(in), endpoint);
	}

	void handleAdmin(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response)
	{
		std::string path = request.getURI().substr(0, request.getURI().find('?'));
		const AdminHooks& hooks = _front._admin;
		if (request.getMethod() != "GET" && request.getMethod() != "HEAD")
			sendPlain(response, 405, "Method Not Allowed");
		else if (path == "/healthz")
			sendPlain(response, 200, "ok\n");
		else if (path == "/readyz")
		{
			bool ready = hooks.ready && hooks.ready();
			sendPlain(response, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
		}
		else if (path == "/metrics")
			sendPlain(response, 200, hooks.metricsText ? hooks.metricsText() : "",
			          "text/plain; version=0.0.4; charset=utf-8");
		else if (path == "/plugins")
			sendPlain(response, 200, hooks.pluginsJson ? hooks.pluginsJson() : "[]", "application/json; charset=utf-8");
		else
			sendPlain(response, 404, "Not Found");
	}

	HttpFront& _front;
	const Listener& _listener;
};


namespace {

class DispatcherFactory: public Poco::Net::HTTPRequestHandlerFactory
{
public:
	explicit DispatcherFactory(std::function<Poco::Net::HTTPRequestHandler*()> make):
	    _make(std::move(make))
	{
	}

	Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override
	{
		return _make();
	}

private:
	std::function<Poco::Net::HTTPRequestHandler*()> _make;
};

} // namespace


HttpFront::HttpFront(Transport& transport, const HttpSettings& settings, Poco::Logger& logger):
    _transport(transport),
    _settings(settings),
    _logger(logger)
{
}


HttpFront::~HttpFront()
{
	stopAccepting();
}


int HttpFront::addListener(const ListenerSpec& spec)
{
	auto listener = std::make_unique<Listener>();
	listener->spec = spec;
	_listeners.push_back(std::move(listener));
	return static_cast<int>(_listeners.size() - 1);
}


int HttpFront::listenerIndex(const std::string& name) const
{
	for (std::size_t i = 0; i < _listeners.size(); ++i)
	{
		if (!_listeners[i]->admin && _listeners[i]->spec.name == name)
			return static_cast<int>(i);
	}
	return -1;
}


void HttpFront::setAdmin(const std::string& address, int port, AdminHooks hooks)
{
	auto listener = std::make_unique<Listener>();
	listener->spec = ListenerSpec{"admin", address, port, 64};
	listener->admin = true;
	_listeners.push_back(std::move(listener));
	_admin = std::move(hooks);
}


bool HttpFront::addRoute(int listener, Route route, std::string& error)
{
	Listener& l = *_listeners.at(static_cast<std::size_t>(listener));
	for (const Route& existing : l.routes)
	{
		bool methodsOverlap = existing.method == route.method || existing.method == "*" || route.method == "*";
		if (methodsOverlap && existing.prefix == route.prefix && existing.pattern.sameShape(route.pattern))
		{
			error = "route " + route.method + " " + route.prefix + std::string(route.pattern.text()) +
			        " clashes with one of plugin " + existing.owner->slotName() + " on listener " + l.spec.name;
			return false;
		}
	}
	l.routes.push_back(std::move(route));
	return true;
}


bool HttpFront::addEndpoint(int listener, std::unique_ptr<Endpoint> endpoint, std::string& error)
{
	Listener& l = *_listeners.at(static_cast<std::size_t>(listener));
	auto it = l.endpoints.find(endpoint->path);
	if (it != l.endpoints.end())
	{
		error = "WebSocket endpoint " + endpoint->path + " on listener " + l.spec.name +
		        " is already taken by plugin " + it->second->owner->slotName();
		return false;
	}
	std::string path = endpoint->path;
	l.endpoints.emplace(path, std::move(endpoint));
	return true;
}


void HttpFront::removeOwner(const PluginSlot* owner)
{
	for (auto& listener : _listeners)
	{
		auto& routes = listener->routes;
		routes.erase(std::remove_if(routes.begin(), routes.end(), [owner](const Route& r) { return r.owner == owner; }),
		             routes.end());
		for (auto it = listener->endpoints.begin(); it != listener->endpoints.end();)
			it = it->second->owner == owner ? listener->endpoints.erase(it) : std::next(it);
	}
}


void HttpFront::start()
{
	int threads = _settings.maxThreads < 2 ? 2 : _settings.maxThreads;
	_pool = std::make_unique<Poco::ThreadPool>("http", 2, threads, 10);
	for (auto& listener : _listeners)
	{
		Poco::Net::SocketAddress address(listener->spec.address, static_cast<Poco::UInt16>(listener->spec.port));
		Poco::Net::ServerSocket socket;
		try
		{
			socket.bind(address, true);
			socket.listen(listener->spec.backlog);
		}
		catch (Poco::Exception& exc)
		{
			throw Poco::IOException("cannot listen on " + address.toString() + " (listener " + listener->spec.name +
			                        "): " + exc.displayText());
		}
		if (listener->spec.port == 0)
			listener->spec.port = socket.address().port();
		auto* params = new Poco::Net::HTTPServerParams;
		params->setMaxThreads(threads);
		params->setMaxQueued(_settings.maxQueued);
		params->setKeepAlive(_settings.keepAlive);
		params->setTimeout(Poco::Timespan(_settings.requestTimeoutMs * 1000)); // a slow request cannot hold a worker
		params->setServerName("Switchboard");
		Listener* raw = listener.get();
		auto* factory = new DispatcherFactory([this, raw] { return new Dispatcher(*this, *raw); });
		listener->server = std::make_unique<Poco::Net::HTTPServer>(factory, *_pool, socket, params);
		listener->server->start();
		_logger.information("listening on %s (%s)", address.toString(), listener->spec.name);
	}
}


void HttpFront::stopAccepting()
{
	for (auto& listener : _listeners)
	{
		if (listener->server)
		{
			listener->server->stopAll(true);
		}
	}
	if (_pool)
		_pool->joinAll();
}


std::uint64_t HttpFront::refusedConnections() const
{
	std::uint64_t total = 0;
	for (const auto& listener : _listeners)
	{
		if (listener->server)
			total += static_cast<std::uint64_t>(listener->server->refusedConnections());
	}
	return total;
}


} // namespace Core
} // namespace Switchboard
