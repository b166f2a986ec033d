//
// HttpConnection.cpp
//


#include "http/HttpConnection.h"
#include "net/EventLoop.h"
#include "net/SocketIo.h"
#include "ws/Handshake.h"
#include "switchboard/util/ConfigParse.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"


namespace Switchboard {
namespace Core {


namespace {

constexpr std::size_t MAX_BUFFERED_INPUT = 64 * 1024; // beyond one request's parse position

const char* reasonPhrase(int status)
{
	switch (status)
	{
		case 100:
			return "Continue";
		case 101:
			return "Switching Protocols";
		case 200:
			return "OK";
		case 201:
			return "Created";
		case 202:
			return "Accepted";
		case 204:
			return "No Content";
		case 301:
			return "Moved Permanently";
		case 302:
			return "Found";
		case 304:
			return "Not Modified";
		case 400:
			return "Bad Request";
		case 401:
			return "Unauthorized";
		case 403:
			return "Forbidden";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 408:
			return "Request Timeout";
		case 409:
			return "Conflict";
		case 413:
			return "Content Too Large";
		case 414:
			return "URI Too Long";
		case 417:
			return "Expectation Failed";
		case 426:
			return "Upgrade Required";
		case 429:
			return "Too Many Requests";
		case 431:
			return "Request Header Fields Too Large";
		case 500:
			return "Internal Server Error";
		case 501:
			return "Not Implemented";
		case 503:
			return "Service Unavailable";
		case 505:
			return "HTTP Version Not Supported";
		default:
			return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
	}
}

const char* errorMessage(int status)
// The start of a json_errors listener's {"error":...} message for a status the host answers itself.
{
	switch (status)
	{
		case 400:
			return "Bad request";
		case 404:
			return "Not found";
		case 405:
			return "Method not allowed";
		case 408:
			return "Request timeout";
		case 413:
			return "Request body too large";
		case 414:
			return "Request line too long";
		case 417:
			return "Expectation failed";
		case 426:
			return "Upgrade required";
		case 429:
			return "Too many requests";
		case 431:
			return "Request header fields too large";
		case 500:
			return "Internal server error";
		case 501:
			return "Not implemented";
		case 503:
			return "Service unavailable";
		case 505:
			return "HTTP version not supported";
		default:
			return reasonPhrase(status);
	}
}

bool messageTakesDetail(int status)
// Whether a JSON error message goes on with the detail ("Bad request: invalid method"); these
// statuses say all a client needs in their fixed message.
{
	return status != 404 && status != 405 && status != 413 && status != 429 && status != 500 && status != 503;
}

std::string jsonError(const std::string& message)
{
	return "{\"error\":" + Json::quote(message) + "}";
}

HttpResponse handlerFailed(bool jsonErrors)
// The answer to a route handler that threw, whatever it had put in its response.
{
	HttpResponse response;
	if (jsonErrors)
		response.json(500, jsonError(errorMessage(500)));
	else
		response.text(500, "Internal Server Error");
	return response;
}

bool isKnownMethod(const std::string& method)
{
	static const char* const KNOWN[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	for (const char* known : KNOWN)
	{
		if (method == known)
			return true;
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

bool safeHeaderText(std::string_view text)
// A plugin's header name or value must not split the response (CR, LF) or carry NUL.
{
	for (char c : text)
	{
		if (c == '\r' || c == '\n' || c == '\0')
			return false;
	}
	return true;
}

HttpLimits limitsOf(const HttpSettings& settings)
{
	HttpLimits limits;
	limits.maxRequestLine = settings.maxRequestLine;
	limits.maxHeaderBytes = settings.maxHeaderSize;
	limits.maxHeaderCount = settings.maxHeaderCount;
	limits.maxBodySize = settings.maxBodySize;
	return limits;
}

} // namespace


HttpConnection::HttpConnection(HttpFront& front, EventLoop& loop, int loopIndex, std::uint64_t serial,
                               Poco::Net::StreamSocket socket, std::string remoteAddress, HttpFront::Listener& listener,
                               HttpFront::ClientSlotPtr clientSlot):
    _front(front),
    _loop(loop),
    _loopIndex(loopIndex),
    _serial(serial),
    _socket(std::move(socket)),
    _fd(_socket.impl()->sockfd()),
    _remoteAddress(std::move(remoteAddress)),
    _listener(listener),
    _clientSlot(std::move(clientSlot)),
    _parser(limitsOf(*front.settings())),
    _awaitingFirstHead(!listener.admin)
{
	_timer.owner = this;
	_timer.fire = &HttpConnection::onTimer;
}


HttpConnection::~HttpConnection()
{
	_loop.wheel().cancel(_timer);
	if (_state != State::DONE)
		finish();
}


void HttpConnection::start()
{
	_front.connectionOpened();
	if (std::shared_ptr<TlsContext> context = _listener.currentTls())
	{
		try
		{
			_tls = std::make_unique<TlsSession>(*context, _fd);
		}
		catch (std::bad_alloc&)
		{
			finish();
			return;
		}
	}
	_registered = _loop.poller().add(_socket, pollToken(), false);
	_readArmed = true;
	if (!_registered)
	{
		finish();
		return;
	}
	// A fresh connection has the head deadline to send its request: a client that connects and
	// says nothing is closed then, and costs nobody else anything meanwhile.
	armDeadline(_loop.now() + _front.settings()->requestTimeoutMs);
}


void HttpConnection::setReading(bool reading)
{
	if (_state == State::DONE || !_registered)
		return;
	bool write = outputPending() || (_tls && _tls->wantsWritable());
	if (reading == _readArmed && write == _writeArmed)
		return;
	_readArmed = reading;
	_writeArmed = write;
	_loop.poller().setInterest(_socket, pollToken(), reading, write);
}


bool HttpConnection::outputPending() const
{
	return _outOffset < _out.size() || (_tls && _tls->hasPendingOutput());
}


void HttpConnection::onReadable(char* scratch, std::size_t scratchSize)
{
	if (_state == State::DONE)
		return;
	if (_tls)
	{
		readTls(scratch, scratchSize);
		return;
	}
	long n;
	do
		n = SocketIo::receiveBytes(_fd, scratch, scratchSize, false);
	while (n < 0 && SocketIo::lastFailure() == SocketIo::Failure::INTERRUPTED);
	if (n == 0 || (n < 0 && SocketIo::lastFailure() != SocketIo::Failure::WOULD_BLOCK))
	{
		finish(); // the client went away (or the connection broke): nothing to answer
		return;
	}
	if (n < 0)
		return;
	received(scratch, static_cast<std::size_t>(n));
}


void HttpConnection::received(const char* data, std::size_t length)
{
	_in.append(data, length);
	if (_state != State::READING)
	{
		// Bytes that arrived while a response is pending: keep them (pipelining) up to a bound,
		// then stop reading until the response is out.
		if (_in.size() > MAX_BUFFERED_INPUT)
			setReading(false);
		return;
	}
	process();
}


void HttpConnection::readTls(char* scratch, std::size_t scratchSize)
{
	// The handshake runs under the request head's deadline, armed at start: a client that
	// stalls its handshake is closed like one that stalls its request.
	TlsSession::Io io = _tls->handshake();
	if (io == TlsSession::Io::OK)
	{
		// What one read from the socket brought, all of it: the poller cannot see what OpenSSL
		// holds (bounded by its read buffer). More on the socket comes back as readiness.
		do
		{
			std::size_t got = 0;
			io = _tls->read(scratch, scratchSize, got);
			if (io == TlsSession::Io::OK)
				received(scratch, got);
		} while (io == TlsSession::Io::OK && _state != State::DONE && _tls->hasBufferedInput());
	}
	if (_state == State::DONE)
		return;
	if (io == TlsSession::Io::CLOSED || io == TlsSession::Io::FAILED)
	{
		finish(); // the client went away, or its TLS is broken: nothing to answer in plaintext
		return;
	}
	setReading(_readArmed); // a step that waits for writability arms it
}


void HttpConnection::process()
{
	// Iterative, not recursive: a response written at once (admin, errors) comes back here
	// through afterResponse() while this loop is still running, and the loop takes the next
	// pipelined request.
	if (_processing)
		return;
	_processing = true;
	while (_state == State::READING && !_in.empty())
	{
		if (!_requestStarted)
		{
			_requestStarted = true;
			armDeadline(_loop.now() + _front.settings()->requestTimeoutMs);
		}
		std::size_t used = _parser.feed(_in.data(), _in.size());
		_in.erase(0, used);
		HttpRequestParser::State state = _parser.state();
		if (state == HttpRequestParser::State::FAILED)
		{
			if (_front.counters().badRequests)
				_front.counters().badRequests->increment();
			sendError(_parser.errorStatus(), _parser.errorReason());
			break;
		}
		if (state == HttpRequestParser::State::HEAD)
			break; // wants more bytes
		if (!_headDone)
		{
			_headDone = true;
			firstHeadDone();
			onHeadComplete();
			if (_state != State::READING)
				break;
		}
		if (_parser.state() == HttpRequestParser::State::COMPLETE)
			onRequestComplete();
		else if (used == 0)
			break; // in BODY with nothing consumable: wait for bytes
	}
	_processing = false;
}


void HttpConnection::firstHeadDone()
{
	// Only the first head counts as a pending handshake: a keep-alive connection between requests
	// has its own deadline and does not hold a place among new clients.
	if (!_awaitingFirstHead)
		return;
	_awaitingFirstHead = false;
	_front.handshakeDone();
}


void HttpConnection::onHeadComplete()
{
	ParsedRequest& request = _parser.request();
	if (!isKnownMethod(request.method))
	{
		sendError(501, "method " + request.method + " is not implemented");
		return;
	}
	if (_parser.state() == HttpRequestParser::State::BODY)
	{
		// The body deadline starts now; "100 Continue" only once the size is known to fit (the
		// parser already refused a declared length above max_body_size with 413).
		armDeadline(_loop.now() + _front.settings()->bodyTimeoutMs);
		if (request.expectContinue && request.versionMinor >= 1)
		{
			_out.append("HTTP/1.1 100 Continue\r\n\r\n");
			writeOut();
		}
	}
}


void HttpConnection::onRequestComplete()
{
	_loop.wheel().cancel(_timer);
	if (_front.counters().requests)
		_front.counters().requests->increment();
	ParsedRequest& request = _parser.request();
	if (_listener.admin)
		handleAdmin();
	else if (request.upgradeWebSocket)
		handleUpgrade();
	else
		handleRoute();
}


HttpRequest HttpConnection::makeRequest()
{
	ParsedRequest& parsed = _parser.request();
	HttpRequest out;
	out.method = parsed.method;
	out.path = parsed.path;
	out.query = parsed.query;
	out.headers = std::move(parsed.headers);
	out.body = std::move(parsed.body);
	out.remoteAddress = _remoteAddress;
	return out;
}


void HttpConnection::handleAdmin()
{
	ParsedRequest& request = _parser.request();
	const AdminHooks& hooks = _front.admin();
	bool head = request.method == "HEAD";
	HttpResponse response;
	if (request.method != "GET" && !head)
	{
		response.text(405, "Method Not Allowed");
		response.setHeader("Allow", "GET, HEAD");
	}
	else if (request.path != "/healthz" && request.path != "/readyz" && !adminAuthorized(request, hooks) &&
	         !(hooks.console && Console::Assets::isConsolePath(request.path) && request.path != "/console/config.txt"))
	{
		// The probes stay open (a kubelet or load balancer has no token) and so do the console's
		// static files (they hold no figures; the page asks for the token). Everything with data
		// needs the token.
		response.text(401, "Unauthorized: this admin path needs \"Authorization: Bearer <token>\" ([admin] token)\n");
		response.setHeader("WWW-Authenticate", "Bearer realm=\"switchboard-admin\"");
	}
	else if (request.path == "/healthz")
	{
		std::string why;
		bool healthy = !hooks.healthy || hooks.healthy(why);
		response.text(healthy ? 200 : 503, healthy ? "ok\n" : "unhealthy: " + why + "\n");
	}
	else if (request.path == "/readyz")
	{
		bool ready = hooks.ready && hooks.ready();
		const std::string generation =
		    std::to_string(hooks.configurationGeneration ? hooks.configurationGeneration() : 1);
		response.text(ready ? 200 : 503, (ready ? "ready" : "not ready") + std::string(" (configuration generation ") +
		                                     generation + ")\n");
		response.setHeader("X-Configuration-Generation", generation);
	}
	else if (request.path == "/metrics")
		response.send(200, "text/plain; version=0.0.4; charset=utf-8", hooks.metricsText ? hooks.metricsText() : "");
	else if (request.path == "/plugins")
		response.json(200, hooks.pluginsJson ? hooks.pluginsJson() : "[]");
	else if (request.path == "/cluster")
		response.json(200, hooks.clusterJson ? hooks.clusterJson() : "{\"enabled\":false}");
	else if (request.path == "/stats.json" && hooks.statsJson)
		response.json(200, hooks.statsJson());
	else if (request.path == "/console/config.txt" && hooks.configText)
		response.text(200, hooks.configText());
	else if (hooks.console && Console::Assets::isConsolePath(request.path))
	{
		std::string type, body, missing;
		if (hooks.console->find(request.path, type, body, missing))
			response.send(200, type, std::move(body));
		else
			response.text(404, missing.empty() ? std::string("Not Found") : missing);
	}
	else
		response.text(404, "Not Found");
	response.setHeader("Cache-Control", "no-cache, no-store");
	queueResponse(response, head);
}


bool HttpConnection::adminAuthorized(const ParsedRequest& request, const AdminHooks& hooks)
{
	if (hooks.token.empty())
		return true;
	std::string_view given = HttpText::findHeader(request.headers, "Authorization");
	const std::string_view scheme = "Bearer ";
	if (given.size() <= scheme.size() || !HttpText::equalsIgnoreCase(given.substr(0, scheme.size()), scheme))
		return false;
	given.remove_prefix(scheme.size());
	while (!given.empty() && given.front() == ' ')
		given.remove_prefix(1);
	// Compared in time that does not depend on where the first difference is.
	const std::string& want = hooks.token;
	unsigned char diff = given.size() == want.size() ? 0 : 1;
	for (std::size_t i = 0; i < want.size(); ++i)
		diff |= static_cast<unsigned char>(want[i] ^ (i < given.size() ? given[i] : 0));
	return diff == 0;
}


void HttpConnection::handleUpgrade()
{
	ParsedRequest& parsed = _parser.request();
	// Endpoints outlive the table (HttpFront keeps every one): the pointer below stays valid.
	const std::shared_ptr<const HttpFront::Listener::Mounts> mounts = _listener.mounts();
	auto found = mounts->endpoints.find(parsed.path);
	if (found == mounts->endpoints.end() || !found->second->owner->routable())
	{
		sendError(400, "no WebSocket endpoint at this path");
		return;
	}
	HttpRequest request = makeRequest();
	if (request.header("Sec-WebSocket-Version") != "13")
	{
		HttpResponse response;
		hostError(response, 426, "Upgrade Required: WebSocket version 13 only",
		          "Upgrade required: WebSocket version 13 only");
		response.setHeader("Sec-WebSocket-Version", "13");
		_closeAfterWrite = true;
		queueResponse(response, false);
		return;
	}
	std::string key(request.header("Sec-WebSocket-Key"));
	if (!WS::isValidClientKey(key))
	{
		sendError(400, "invalid Sec-WebSocket-Key", "WebSocket upgrade required");
		return;
	}
	if ((!_front.accepting() && !_listener.spec.serveWhileDraining) || !_front.transport().accepting())
	{
		sendError(503, "shutting down");
		return;
	}
	if (!_front.limits().takeUpgrade(_clientSlot.get(), _loop.now()))
	{
		if (_front.counters().upgradeRateRefusals)
			_front.counters().upgradeRateRefusals->increment();
		// Every token refills within a second (upgrades_per_second is at least 1).
		HttpResponse response;
		hostError(response, 429, "Too Many Requests: WebSocket upgrades from this address are over the rate limit",
		          errorMessage(429));
		response.setHeader("Retry-After", "1");
		_closeAfterWrite = true;
		queueResponse(response, false);
		return;
	}
	const Endpoint& endpoint = *found->second;
	AcceptDecision decision;
	if (!endpoint.owner->guarded(PluginSite::ACCEPT, [&] { decision = endpoint.handler->onAccept(request); }))
	{
		HttpResponse response;
		hostError(response, 500, "Internal Server Error", errorMessage(500));
		queueResponse(response, false);
		return;
	}
	if (decision.status != 0)
	{
		// The plugin's own words: as they are, except that a json_errors listener sends JSON, so
		// a body that is not a JSON object becomes the message of one.
		HttpResponse response;
		if (!_listener.spec.jsonErrors)
			response.text(decision.status, decision.body);
		else if (!decision.body.empty() && decision.body.front() == '{')
			response.json(decision.status, decision.body);
		else
			response.json(decision.status, jsonError(decision.body));
		queueResponse(response, false);
		return;
	}
	_out.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	            "Sec-WebSocket-Accept: ");
	_out.append(WS::computeAcceptKey(key));
	_out.append("\r\n\r\n");
	_upgradeEndpoint = &endpoint;
	_upgradeRequest = std::move(request);
	_state = State::UPGRADING;
	writeOut();
}


void HttpConnection::handleRoute()
{
	ParsedRequest& parsed = _parser.request();
	bool head = parsed.method == "HEAD";
	const Route* match = nullptr;
	HeaderList params;
	std::string allowed;
	// Held until the handler has run: a reload may replace the table meanwhile.
	std::shared_ptr<const HttpFront::Listener::Mounts> mounts = _listener.mounts();
	for (const Route& route : mounts->routes)
	{
		if (!route.owner->routable())
			continue;
		std::string_view rest;
		if (!prefixMatches(parsed.path, route.prefix, route.options.caseInsensitive, rest))
			continue;
		params.clear();
		if (!route.pattern.match(rest, route.options, params))
			continue;
		if (route.method == "*" || route.method == parsed.method || (head && route.method == "GET"))
		{
			match = &route;
			break;
		}
		if (allowed.find(route.method) == std::string::npos)
			allowed += (allowed.empty() ? "" : ", ") + route.method + (route.method == "GET" ? ", HEAD" : "");
	}
	if (!match && !parsed.upgradeWebSocket && mounts->endpoints.count(parsed.path) &&
	    _parser.request().headers.size() > 0)
	{
		for (const auto& h : _parser.request().headers)
		{
			if (HttpText::equalsIgnoreCase(h.first, "Upgrade"))
			{
				// An upgrade attempt that is not one (POST, no "Connection: upgrade"): say so.
				sendError(400, "not a WebSocket upgrade", "WebSocket upgrade required");
				return;
			}
		}
	}
	if (!match)
	{
		HttpResponse response;
		if (allowed.empty())
			hostError(response, 404, "Not Found", errorMessage(404));
		else
		{
			hostError(response, 405, "Method Not Allowed", errorMessage(405));
			response.setHeader("Allow", allowed);
		}
		queueResponse(response, head);
		return;
	}
	HttpRequest request = makeRequest();
	request.pathParams = std::move(params);
	if (match->onLoop)
	{
		runLoopRoute(*match, mounts, std::move(request), head);
		return;
	}
	_front.inFlight().fetch_add(1);
	match->owner->routeStarted();
	HttpFront* front = &_front;
	Transport* transport = &_front.transport();
	int loopIndex = _loopIndex;
	std::uint64_t serial = _serial;
	bool jsonErrors = _listener.spec.jsonErrors;
	bool queued = _front.submitRoute(
	    [front, transport, loopIndex, serial, match, mounts, head, jsonErrors, request = std::move(request)]() mutable {
		    auto response = std::make_shared<HttpResponse>();
		    if (!match->owner->guarded(PluginSite::ROUTE, [&] { match->handler(request, *response); }))
			    *response = handlerFailed(jsonErrors);
		    match->owner->routeFinished();
		    transport->post(loopIndex, [front, loopIndex, serial, response, head] {
			    front->inFlight().fetch_sub(1);
			    if (HttpConnection* c = front->find(loopIndex, serial))
				    c->deliver(*response, head);
		    });
	    });
	if (!queued)
	{
		match->owner->routeFinished();
		_front.inFlight().fetch_sub(1);
		if (_front.counters().busy)
			_front.counters().busy->increment();
		HttpResponse response;
		hostError(response, 503, "Service Unavailable: too many requests in progress", errorMessage(503));
		response.setHeader("Retry-After", "1");
		queueResponse(response, head);
		return;
	}
	_state = State::WAITING;
	setReading(false);
}


void HttpConnection::runLoopRoute(const Route& route, std::shared_ptr<const void> keepRoute, HttpRequest&& request,
                                  bool head)
{
	// Run as a task of this loop rather than at once: after everything other loops posted here
	// before this request was read (a publish whose answer the client already has must reach
	// this loop's sockets before the one this request makes). Reading stays armed (no epoll
	// change): bytes arriving meanwhile are buffered up to the bound, as for a worker route.
	_state = State::WAITING;
	route.owner->routeStarted();
	HttpFront* front = &_front;
	EventLoop* loop = &_loop;
	const int loopIndex = _loopIndex;
	const std::uint64_t serial = _serial;
	const bool jsonErrors = _listener.spec.jsonErrors;
	const Route* pRoute = &route;
	loop->post([front, loop, loopIndex, serial, pRoute, keepRoute = std::move(keepRoute), request = std::move(request),
	            head, jsonErrors] {
		HttpResponse response;
		if (!pRoute->owner->guarded(PluginSite::ROUTE, [&] { pRoute->handler(request, response); }))
			response = handlerFailed(jsonErrors);
		pRoute->owner->routeFinished();
		// What the handler posted to other loops is handed over before the client can read the
		// answer and react to it.
		loop->handOverPosts();
		if (HttpConnection* c = front->find(loopIndex, serial))
			c->deliver(response, head);
	});
}


void HttpConnection::deliver(const HttpResponse& response, bool headOnly)
{
	if (_state != State::WAITING)
		return;
	queueResponse(response, headOnly);
}


void HttpConnection::sendError(int status, const std::string& detail, const char* jsonMessage)
{
	// After a framing error the rest of the stream cannot be trusted: answer and close.
	HttpResponse response;
	std::string message = jsonMessage ? std::string(jsonMessage) : std::string(errorMessage(status));
	if (!jsonMessage && messageTakesDetail(status) && !detail.empty())
		message += ": " + detail;
	hostError(response, status, std::string(reasonPhrase(status)) + (detail.empty() ? "" : ": " + detail), message);
	_closeAfterWrite = true;
	queueResponse(response, false);
}


void HttpConnection::hostError(HttpResponse& response, int status, const std::string& text,
                               const std::string& message) const
{
	if (_listener.spec.jsonErrors)
		response.json(status, jsonError(message));
	else
		response.text(status, text);
}


void HttpConnection::queueResponse(const HttpResponse& response, bool headOnly)
{
	const ParsedRequest& request = _parser.request();
	bool keepAlive = !_closeAfterWrite && !_draining && (_front.accepting() || _listener.admin) &&
	                 _front.settings()->keepAlive && _parser.state() == HttpRequestParser::State::COMPLETE &&
	                 request.keepAlive;
	_closeAfterWrite = !keepAlive;
	std::string& out = _out;
	out.append("HTTP/1.1 ");
	out.append(std::to_string(response.status));
	out.push_back(' ');
	out.append(reasonPhrase(response.status));
	out.append("\r\n");
	for (const auto& h : response.headers)
	{
		if (HttpText::equalsIgnoreCase(h.first, "Content-Length") ||
		    HttpText::equalsIgnoreCase(h.first, "Transfer-Encoding") ||
		    HttpText::equalsIgnoreCase(h.first, "Connection"))
			continue; // framing is ours
		if (!safeHeaderText(h.first) || !safeHeaderText(h.second) || h.first.empty())
		{
			_front.logger().warning("dropped a response header with CR, LF or NUL from %s %s", request.method,
			                        request.path);
			continue;
		}
		out.append(h.first);
		out.append(": ");
		out.append(h.second);
		out.append("\r\n");
	}
	out.append("Content-Length: ");
	out.append(std::to_string(response.body.size()));
	out.append(keepAlive ? (request.versionMinor == 0 ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\n\r\n")
	                     : "\r\nConnection: close\r\n\r\n");
	if (!headOnly)
		out.append(response.body);
	_state = State::WRITING;
	// A client that does not read its response is cut after the body deadline.
	armDeadline(_loop.now() + _front.settings()->bodyTimeoutMs);
	writeOut();
}


void HttpConnection::writeOut()
{
	while (_tls && outputPending())
	{
		if (!_tls->handshakeDone())
			return; // nothing is written before the handshake (an error found in it closes)
		iovec piece{_out.data() + _outOffset, _out.size() - _outOffset};
		std::size_t taken = 0;
		TlsSession::Io io = _outOffset < _out.size() ? _tls->write(&piece, 1, taken) : _tls->flushPending();
		if (io == TlsSession::Io::CLOSED || io == TlsSession::Io::FAILED)
		{
			finish();
			return;
		}
		_outOffset += taken;
		if (io == TlsSession::Io::WOULD_BLOCK || (taken == 0 && _tls->hasPendingOutput()))
			break;
	}
	while (!_tls && _outOffset < _out.size())
	{
		long n = SocketIo::sendBytes(_fd, _out.data() + _outOffset, _out.size() - _outOffset, false);
		if (n < 0)
		{
			SocketIo::Failure failure = SocketIo::lastFailure();
			if (failure == SocketIo::Failure::INTERRUPTED)
				continue;
			if (failure == SocketIo::Failure::WOULD_BLOCK)
				break;
			finish();
			return;
		}
		_outOffset += static_cast<std::size_t>(n);
	}
	if (outputPending())
	{
		setReading(_state == State::READING); // arms writability
		return;
	}
	_out.clear();
	_outOffset = 0;
	if (_state == State::WRITING)
		afterResponse();
	else if (_state == State::UPGRADING)
		handOff();
	else
		setReading(_state == State::READING);
}


void HttpConnection::onWritable()
{
	if (_state == State::DONE)
		return;
	if (_tls && _tls->wantsWritable())
	{
		readTls(_loop.scratch(), _loop.scratchSize()); // a handshake or read step waited for this
		if (_state == State::DONE)
			return;
	}
	writeOut();
}


void HttpConnection::afterResponse()
{
	if (_closeAfterWrite)
	{
		// Half-close first so the client reads the whole response before it sees the end.
		if (_tls)
			_tls->shutdown();
		SocketIo::shutdownWrite(_fd);
		finish();
		return;
	}
	_parser.reset();
	_headDone = false;
	_requestStarted = false;
	_state = State::READING;
	setReading(true);
	armDeadline(_loop.now() + _front.settings()->keepAliveTimeoutMs);
	process(); // a pipelined request may already be buffered (a no-op when called from process())
}


void HttpConnection::handOff()
{
	// The socket leaves this loop's poller before the Transport registers it on its loop.
	_loop.wheel().cancel(_timer);
	if (_registered)
		_loop.poller().remove(_socket);
	_registered = false;
	_state = State::DONE;
	_front.connectionClosed();
	_front.transport().handOff(_socket, std::move(_tls), std::move(_in), std::move(_upgradeRequest), *_upgradeEndpoint,
	                           std::move(_clientSlot));
	_front.retire(_loopIndex, _serial);
}


void HttpConnection::drain()
{
	if (_listener.admin)
		return; // /readyz and /metrics keep answering until the very end
	_draining = true;
	// A serve_while_draining listener answers one more request on each connection (the plugins
	// say they are shutting down); others close connections that have not started one.
	if (_state == State::READING && !_requestStarted && !_listener.spec.serveWhileDraining)
		finish();
}


void HttpConnection::armDeadline(std::int64_t dueMs)
{
	_deadlineMs = dueMs;
	_loop.wheel().schedule(_timer, dueMs);
}


void HttpConnection::onTimer(TimerNode* node)
{
	static_cast<HttpConnection*>(node->owner)->handleTimer();
}


void HttpConnection::handleTimer()
{
	if (_state == State::DONE)
		return;
	if (_loop.now() < _deadlineMs)
	{
		_loop.wheel().schedule(_timer, _deadlineMs);
		return;
	}
	if (_state == State::WAITING)
		return; // a route handler runs: its response re-arms the deadline
	if (_front.counters().timeouts)
		_front.counters().timeouts->increment();
	if (_state == State::READING && _requestStarted)
	{
		// Too slow to send its request: say so, but do not wait for a client this slow to read it.
		if (_listener.spec.jsonErrors)
		{
			std::string body = jsonError(errorMessage(408));
			_out.append("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\n"
			            "Content-Length: " +
			            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
		}
		else
			_out.append("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		if (!_tls)
			SocketIo::sendBytes(_fd, _out.data(), _out.size(), true);
		else if (_tls->handshakeDone())
		{
			iovec piece{_out.data(), _out.size()};
			std::size_t taken = 0;
			_tls->write(&piece, 1, taken); // one attempt; a client this slow gets what fits
		}
	}
	finish();
}


void HttpConnection::finish()
{
	if (_state == State::DONE)
		return;
	_state = State::DONE;
	_loop.wheel().cancel(_timer);
	if (_registered)
		_loop.poller().remove(_socket);
	_registered = false;
	try
	{
		_socket.close();
	}
	catch (...)
	{
	}
	firstHeadDone(); // closed before its head was complete: no longer pending
	_clientSlot.reset();
	_front.connectionClosed();
	_front.retire(_loopIndex, _serial);
}


} // namespace Core
} // namespace Switchboard
