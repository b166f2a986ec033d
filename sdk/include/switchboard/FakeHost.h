//
// FakeHost.h
//
// Switchboard SDK: a complete in-process Host that runs a plugin without sockets, threads or
// real time, for plugin unit tests.
//


#ifndef Switchboard_FakeHost_INCLUDED
#define Switchboard_FakeHost_INCLUDED


#include "switchboard/Config.h"
#include "switchboard/Host.h"
#include "switchboard/Plugin.h"
#include "switchboard/RoutePattern.h"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {


struct SentMessage
/// One message a plugin sent to a fake connection.
{
	std::string data;
	MessageKind kind;
};


class FakeHost: public Host, public Router, public Logger, public Metrics, public Clock
/// Runs one plugin the way the host does, minus sockets and threads, so a test can drive it
/// step by step and look at everything it did:
///
///     FakeHost host("echo");
///     host.setConfig(echoDescriptor(), {{"greeting", "hi"}});  // validated like the host
///     EchoPlugin plugin;
///     host.start(plugin);
///     ConnectionId c = host.connect("/ws");                    // onAccept, onOpen
///     host.deliver(c, "ping");                                 // onMessage
///     host.takeSent(c);                                        // what the plugin sent
///     host.advance(1000);                                      // fires due timers
///     HttpResponse r = host.request("GET", "/stats");          // routes
///     host.stop(plugin);
///
/// Paths given to connect() and request() are full request paths: they include the mount
/// prefix, which FakeHost strips before matching as the host does.
///
/// What it does like the host: config validation and defaults (setConfig); migrations (into an
/// injected Storage, with the host's version table); route registration and matching with
/// RoutePattern (clashes refused; the first registered matching route answers; GET routes
/// answer HEAD with no body; no match or a wrong method is 404 "Not Found"); exact WebSocket
/// endpoint paths (another path is refused with 400); onClose exactly once per opened
/// connection; closes requested inside a callback reported after that callback returns;
/// 1001 for every open connection at stop(); 1008 after a DROPPED send; 1009 for a message
/// over the endpoint's maxMessageSize; 1007 for invalid UTF-8 text; exceptions from plugin
/// code caught and logged (a connection callback's exception closes it with 1011, a route's
/// answers 500, start()'s makes it FAILED). Because of that, a failed test assertion thrown
/// inside a plugin callback is caught too: check logLines() or assert outside callbacks.
///
/// What it checks beyond the host: it logs an ERROR line when the plugin calls
/// Storage::execute or transaction on an event loop (a connection callback, a timer, an
/// offload completion or a runOn task) or registers routes outside start(), and a WARNING
/// when it sends invalid UTF-8 as TEXT or names a metric badly. Assert that logLines() holds
/// no ERROR to keep a plugin honest.
///
/// What it does differently, by design:
///   * Threading: FakeHost is single-threaded. Every callback, timer, offload() work and
///     completion, executeAsync completion and runOn() task runs inline on the thread that
///     called into FakeHost, in a deterministic order. Do not use one FakeHost from several
///     threads; none of its methods lock.
///   * Time is virtual: monotonicMs() starts at START_MONOTONIC_MS and wallMs() at
///     START_WALL_MS, and both move only through advance(), which fires due timers in due
///     order (ties in the order they were armed), with no 10 ms tick.
///   * offload(work, completion) runs work and then completion immediately, before offload
///     returns; completion runs even if work threw (the exception is logged).
///   * randomBytes() is a deterministic xorshift64* stream (seed DEFAULT_RANDOM_SEED, see
///     setRandomSeed), not a CSPRNG, so tests are repeatable.
///   * Storage: FakeHost has no SQL engine. Inject one with setStorage(); start() then applies
///     the plugin's migrations through it, splitting each step's SQL at ';' outside quotes,
///     comments and CREATE TRIGGER bodies (the host lets SQLite split), and keeps the version
///     in MIGRATIONS_TABLE as the host does. Without an injected storage every storage call
///     fails with NO_STORAGE ("no storage in FakeHost"), and migrations are not run.
///   * Router::send and publish act at once and report QUEUED, as calls from the target's
///     own loop do in the host.
{
public:
	static constexpr std::int64_t START_MONOTONIC_MS = 1000000;
	static constexpr std::int64_t START_WALL_MS = 1700000000000; ///< 2023-11-14T22:13:20Z
	static constexpr std::uint64_t DEFAULT_RANDOM_SEED = 0x5EED5EED5EED5EEDull;
	static constexpr const char* MIGRATIONS_TABLE = "_switchboard_schema"; ///< as the host names it
	static constexpr const char* NO_STORAGE = "no storage in FakeHost";

	explicit FakeHost(std::string pluginName = "test", std::map<std::string, std::string> configValues = {},
	                  std::string mountPrefix = ""):
	    _pluginName(std::move(pluginName)),
	    _mountPrefix(normalizePrefix(std::move(mountPrefix))),
	    _config(std::map<std::string, std::string, std::less<>>(configValues.begin(), configValues.end())),
	    _storageGate(*this)
	/// configValues are taken as they are, without declared keys; use setConfig() to get the
	/// host's validation and defaults.
	{
	}

	FakeHost(const FakeHost&) = delete;
	FakeHost& operator=(const FakeHost&) = delete;

	// --- set-up --------------------------------------------------------------------------------

	std::string setConfig(const ConfigKey* keys, std::size_t count, std::map<std::string, std::string> values)
	/// Validates values against the declared keys as the host validates [plugin.<name>]: no
	/// unknown keys, required keys present, values (and defaults) parse as their type,
	/// integers within [minimum, maximum] unless both are 0. Fills defaults. Returns "" on
	/// success, otherwise the error (and the configuration is unchanged).
	{
		if (_phase == Phase::STARTING || _phase == Phase::RUNNING)
			return "the configuration cannot change while the plugin runs";
		std::string section = "[plugin." + _pluginName + "] ";
		for (const auto& given : values)
		{
			bool declared = false;
			for (std::size_t i = 0; i < count && !declared; ++i)
				declared = keys[i].name != nullptr && given.first == keys[i].name;
			if (!declared)
				return section + "unknown key '" + given.first + "'";
		}
		std::map<std::string, std::string, std::less<>> effective;
		for (std::size_t i = 0; i < count; ++i)
		{
			const ConfigKey& key = keys[i];
			if (key.name == nullptr)
				return section + "declared key #" + std::to_string(i) + " has no name";
			auto it = values.find(key.name);
			bool given = it != values.end();
			if (!given && key.defaultValue == nullptr)
				return section + key.name + " is required";
			std::string value = given ? it->second : std::string(key.defaultValue);
			std::string problem = checkConfigValue(key, value);
			if (!problem.empty())
				return section + key.name + (given ? ": " : " (declared default): ") + problem;
			effective[key.name] = value;
		}
		_config = Config(std::move(effective));
		return {};
	}

	std::string setConfig(const PluginDescriptor& descriptor, std::map<std::string, std::string> values)
	/// setConfig with the keys a plugin declares in its descriptor.
	{
		return setConfig(descriptor.configKeys, descriptor.configKeyCount, std::move(values));
	}

	void setStorage(Storage* storage) { _pStorage = storage; }
	/// Borrows a storage for the plugin (nullptr: none). It must outlive the FakeHost's use.

	void setLogLevel(LogLevel level) { _logLevel = level; }
	/// Lines below level are not captured and enabled() reports false for them. Default:
	/// everything, so a plugin's logging code runs in tests.

	void setRandomSeed(std::uint64_t seed) { _random = seed != 0 ? seed : DEFAULT_RANDOM_SEED; }

	// --- lifecycle -----------------------------------------------------------------------------

	StartResult start(Plugin& plugin)
	/// Applies migrations (with an injected storage) and calls plugin.start(*this). On
	/// DECLINED or FAILED whatever start() registered is dropped; stop() is not called.
	{
		if (_phase == Phase::STARTING || _phase == Phase::RUNNING)
			return StartResult::failed("FakeHost already runs a plugin");
		resetRegistrations();
		if (_pStorage != nullptr)
		{
			std::string error;
			if (!applyMigrations(plugin, error))
				return StartResult::failed(error);
		}
		_phase = Phase::STARTING;
		StartResult result = StartResult::failed("start() threw");
		if (!dispatch(Context::MAIN, "start()", [&] { result = plugin.start(*this); }))
			result = StartResult::failed("start() threw: " + _lastException);
		if (result.status == StartStatus::STARTED)
			_phase = Phase::RUNNING;
		else
		{
			_phase = Phase::IDLE;
			resetRegistrations();
		}
		return result;
	}

	void stop(Plugin& plugin)
	/// The host's shutdown: stopping(), then every open connection closed with 1001 (onClose
	/// reports 1001), every timer cancelled, then stop(). Does nothing unless started.
	{
		if (_phase != Phase::RUNNING)
			return;
		_phase = Phase::STOPPING;
		dispatch(Context::MAIN, "stopping()", [&] { plugin.stopping(); });
		for (ConnectionId id : openIds())
			closeConnection(id, CloseCode::GOING_AWAY, ""); // as the real host: 1001, no reason
		_timers.clear();
		dispatch(Context::MAIN, "stop()", [&] { plugin.stop(); });
		_timers.clear();
		resetRegistrations();
		_phase = Phase::IDLE;
	}

	bool running() const { return _phase == Phase::RUNNING; }

	// --- WebSocket connections -----------------------------------------------------------------

	ConnectionId connect(std::string_view pathWithQuery, HeaderList headers = {},
	                     std::string remote = "127.0.0.1:40000")
	/// An upgrade request for exactly mountPrefix() + the endpoint's path. Runs onAccept,
	/// then onOpen, and returns the new connection's id; returns 0, as the host refuses the
	/// upgrade, if no endpoint has that path (400), the plugin does not run (503), onAccept
	/// rejected (its status) or threw (500): see lastRejectStatus() and lastRejectBody(). The
	/// usual handshake headers are added unless given.
	{
		_lastRejectStatus = 0;
		_lastRejectBody.clear();
		auto [path, query] = splitQuery(pathWithQuery);
		const Endpoint* endpoint = nullptr;
		for (const Endpoint& e : _endpoints)
			if (_phase == Phase::RUNNING && _mountPrefix + e.path == path)
				endpoint = &e;
		if (endpoint == nullptr)
		{
			if (_phase != Phase::RUNNING)
				return reject(503, "Service Unavailable: shutting down");
			return reject(400, "Bad Request: no WebSocket endpoint at this path");
		}

		HttpRequest request;
		request.method = "GET";
		request.path = std::string(path);
		request.query = std::string(query);
		request.headers = std::move(headers);
		addDefaultHeader(request.headers, "Host", "localhost");
		addDefaultHeader(request.headers, "Upgrade", "websocket");
		addDefaultHeader(request.headers, "Connection", "Upgrade");
		addDefaultHeader(request.headers, "Sec-WebSocket-Version", "13");
		addDefaultHeader(request.headers, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
		request.remoteAddress = remote;

		WebSocketHandler& handler = *endpoint->handler;
		WebSocketOptions options = endpoint->options;
		AcceptDecision decision;
		if (!dispatch(Context::HTTP, "onAccept", [&] { decision = handler.onAccept(request); }))
			return reject(500, "Internal Server Error");
		if (decision.status != 0)
			return reject(decision.status, decision.body);

		ConnectionId id = _nextConnectionId++;
		auto connection = std::make_unique<FakeConnection>(*this, id, std::move(remote), handler, options);
		FakeConnection& c = *connection;
		_connections.emplace(id, std::move(connection));
		dispatch(
		    Context::LOOP, "onOpen", [&] { handler.onOpen(c, request); }, id);
		return id;
	}

	int lastRejectStatus() const { return _lastRejectStatus; }
	/// The HTTP status of the last connect() that returned 0, or 0 after a successful one.

	const std::string& lastRejectBody() const { return _lastRejectBody; }

	bool deliver(ConnectionId id, std::string_view data, MessageKind kind = MessageKind::TEXT)
	/// A message from the peer: onMessage, unless the host would refuse it first (over the
	/// endpoint's maxMessageSize: close 1009; TEXT that is not UTF-8: close 1007). Returns
	/// false if the connection is not open.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return false;
		if (c->_options.maxMessageSize > 0 && data.size() > static_cast<std::uint64_t>(c->_options.maxMessageSize))
			closeConnection(id, CloseCode::MESSAGE_TOO_BIG, "message too big");
		else if (kind == MessageKind::TEXT && !isUtf8(data))
			closeConnection(id, CloseCode::INVALID_PAYLOAD, "invalid UTF-8");
		else
			dispatch(
			    Context::LOOP, "onMessage", [&] { c->_pHandler->onMessage(*c, data, kind); }, id);
		return true;
	}

	void disconnect(ConnectionId id, std::uint16_t code = CloseCode::ABNORMAL, std::string_view reason = {})
	/// The peer goes away (1006: TCP lost) or closes with code: onClose(code, reason) at once.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return;
		markClosing(*c);
		finishClose(*c, code, reason);
	}

	std::vector<SentMessage> takeSent(ConnectionId id)
	/// The messages sent to this connection since the last call, oldest first; clears them.
	{
		FakeConnection* c = find(id);
		if (c == nullptr)
			return {};
		std::vector<SentMessage> sent;
		sent.swap(c->_sent);
		return sent;
	}

	std::optional<std::pair<std::uint16_t, std::string>> closeOf(ConnectionId id) const
	/// How the server side closed this connection (the plugin through Connection::close or
	/// Router::close, or the host: 1001 at stop, 1008, 1009, 1007, 1011), or nothing if it did
	/// not (still open, or closed by the peer through disconnect()).
	{
		const FakeConnection* c = find(id);
		return c != nullptr ? c->_closedWith : std::nullopt;
	}

	bool isOpen(ConnectionId id) const
	{
		const FakeConnection* c = find(id);
		return c != nullptr && c->_status == ConnectionState::OPEN;
	}

	std::size_t openConnections() const { return openIds().size(); }

	void setSendResult(ConnectionId id, SendResult result)
	/// What this connection's sends report from now on. QUEUED (the default) records the
	/// message; DROPPED records nothing and makes the host close the connection with 1008,
	/// as the real output-queue cap does; CLOSED records nothing.
	{
		if (FakeConnection* c = find(id))
			c->_sendResult = result;
	}

	void setBufferedAmount(ConnectionId id, std::size_t bytes)
	/// What Connection::bufferedAmount() reports (0 by default).
	{
		if (FakeConnection* c = find(id))
			c->_buffered = bytes;
	}

	void setBackpressure(ConnectionId id, bool aboveHighWatermark)
	/// Calls onBackpressure as the host does when the output queue crosses a watermark.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return;
		dispatch(
		    Context::LOOP, "onBackpressure", [&] { c->_pHandler->onBackpressure(*c, aboveHighWatermark); }, id);
	}

	std::vector<ConnectionId> groupMembers(std::string_view group) const
	{
		auto it = _groups.find(group);
		return it == _groups.end() ? std::vector<ConnectionId>()
		                           : std::vector<ConnectionId>(it->second.begin(), it->second.end());
	}

	// --- HTTP ----------------------------------------------------------------------------------

	HttpResponse request(std::string_view method, std::string_view pathWithQuery, std::string body = "",
	                     HeaderList headers = {}, std::string remote = "127.0.0.1:40001")
	/// One HTTP request, answered as the host answers it: the first registered route (in
	/// registration order) whose method fits ("*" any, a GET route also HEAD) and whose
	/// pattern matches the path below the mount prefix (compared ignoring case for a
	/// case-insensitive route) handles it; none is 404 "Not Found". The response carries
	/// Content-Length, and no body for HEAD.
	{
		HttpResponse response;
		if (_phase != Phase::RUNNING)
		{
			response.text(503, "Service Unavailable");
			return finishResponse(method, response);
		}
		auto [path, query] = splitQuery(pathWithQuery);
		for (const Route& route : _routes)
		{
			std::string_view relative;
			HeaderList params;
			bool methodFits =
			    route.method == "*" || route.method == method || (method == "HEAD" && route.method == "GET");
			if (!methodFits || !stripPrefix(path, route.options.caseInsensitive, relative) ||
			    !route.pattern.match(relative, route.options, params))
				continue;

			HttpRequest request;
			request.method = std::string(method);
			request.path = std::string(path);
			request.query = std::string(query);
			request.headers = std::move(headers);
			request.body = std::move(body);
			request.remoteAddress = std::move(remote);
			request.pathParams = std::move(params);
			RouteHandler handler = route.handler; // a copy: the handler may outlive a reset
			std::string what = "route " + route.method + " " + std::string(route.pattern.text());
			if (!dispatch(Context::HTTP, what, [&] { handler(request, response); }))
			{
				response = HttpResponse();
				response.text(500, "Internal Server Error");
			}
			return finishResponse(method, response);
		}
		response.text(404, "Not Found");
		return finishResponse(method, response);
	}

	// --- time ----------------------------------------------------------------------------------

	void advance(std::int64_t ms)
	/// Moves both clocks forward by ms (negative counts as 0), firing every timer that falls
	/// due on the way, in due order, each at its due time. every() timers re-arm from their
	/// due time; timers armed by callbacks fire too if they fall due within the step.
	{
		std::int64_t target = _monotonicMs + (ms > 0 ? ms : 0);
		while (true)
		{
			auto next = _timers.end();
			for (auto it = _timers.begin(); it != _timers.end(); ++it)
			{
				if (it->second.due <= target &&
				    (next == _timers.end() || it->second.due < next->second.due ||
				     (it->second.due == next->second.due && it->second.sequence < next->second.sequence)))
					next = it;
			}
			if (next == _timers.end())
				break;
			moveClockTo(next->second.due);
			fire(next->first);
		}
		moveClockTo(target);
	}

	void setWallMs(std::int64_t wallMs) { _wallMs = wallMs; }
	/// Steps the wall clock (as NTP might); the monotonic clock and timers are unaffected.

	std::size_t pendingTimers() const { return _timers.size(); }

	// --- looking at metrics and logs -----------------------------------------------------------

	std::uint64_t counterValue(std::string_view name, std::string_view labels = {}) const
	/// The counter's value, 0 if the plugin never created it (see hasMetric).
	{
		auto it = _counters.find(metricKey(name, labels));
		return it == _counters.end() ? 0 : it->second->value();
	}

	std::int64_t gaugeValue(std::string_view name, std::string_view labels = {}) const
	{
		auto it = _gauges.find(metricKey(name, labels));
		return it == _gauges.end() ? 0 : it->second->value();
	}

	const Histogram* histogramOf(std::string_view name, std::string_view labels = {}) const
	{
		auto it = _histograms.find(metricKey(name, labels));
		return it == _histograms.end() ? nullptr : it->second.get();
	}

	bool hasMetric(std::string_view name, std::string_view labels = {}) const
	{
		std::string key = metricKey(name, labels);
		return _counters.count(key) + _gauges.count(key) + _histograms.count(key) > 0;
	}

	const std::vector<std::string>& logLines() const { return _logLines; }
	/// Every captured line as "<LEVEL> <message>", e.g. "WARNING disk is slow", oldest first.

	bool logged(std::string_view needle) const
	/// True if a captured line contains needle.
	{
		for (const std::string& line : _logLines)
			if (line.find(needle) != std::string::npos)
				return true;
		return false;
	}

	void clearLog() { _logLines.clear(); }

	// --- Host ----------------------------------------------------------------------------------

	std::string_view pluginName() const override { return _pluginName; }
	std::string_view mountPrefix() const override { return _mountPrefix; }
	const Config& config() const override { return _config; }
	Logger& logger() override { return *this; }
	Metrics& metrics() override { return *this; }
	const Clock& clock() const override { return *this; }
	Storage& storage() override { return _storageGate; }
	Router& router() override { return *this; }

	bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	              RouteOptions options = {}) override
	{
		std::string what = "addRoute(" + std::string(method) + " " + std::string(pattern) + "): ";
		if (_phase != Phase::STARTING)
			return refuse(what + "routes can only be added in start()");
		if (method.empty() || method.find_first_of(" \t\r\n") != std::string_view::npos)
			return refuse(what + "bad method");
		if (!handler)
			return refuse(what + "empty handler");
		Route route;
		std::string error;
		if (!RoutePattern::parse(pattern, route.pattern, error))
			return refuse(what + error);
		for (const Route& other : _routes)
		{
			// The host's rule: methods overlap when equal or either is "*".
			bool methodsOverlap = other.method == method || other.method == "*" || method == "*";
			if (methodsOverlap && other.pattern.sameShape(route.pattern))
				return refuse(what + "clashes with " + other.method + " " + std::string(other.pattern.text()));
		}
		route.method = std::string(method);
		route.handler = std::move(handler);
		route.options = options;
		_routes.push_back(std::move(route));
		return true;
	}

	bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options = {}) override
	{
		std::string what = "addWebSocket(" + std::string(path) + "): ";
		if (_phase != Phase::STARTING)
			return refuse(what + "endpoints can only be added in start()");
		if (path.empty() || path.front() != '/' || path.find_first_of("?# \t\r\n") != std::string_view::npos)
			return refuse(what + "the path must start with '/' and hold no query, spaces or '#'");
		for (const Endpoint& e : _endpoints)
			if (e.path == path)
				return refuse(what + "already registered");
		_endpoints.push_back(Endpoint{std::string(path), &handler, options});
		return true;
	}

	TimerId after(std::int64_t delayMs, std::function<void()> callback) override
	{
		return arm(delayMs > 0 ? delayMs : 0, 0, std::move(callback));
	}

	TimerId every(std::int64_t intervalMs, std::function<void()> callback) override
	/// An interval of 0 or less is refused (returns 0, logs an ERROR): it would never let
	/// virtual time move on.
	{
		if (intervalMs <= 0)
		{
			refuse("every(): the interval must be positive");
			return 0;
		}
		return arm(intervalMs, intervalMs, std::move(callback));
	}

	bool cancel(TimerId timer) override { return _timers.erase(timer) > 0; }

	void offload(std::function<void()> work, std::function<void()> completion = {}) override
	{
		Context completionContext = _context == Context::LOOP ? Context::LOOP : Context::WORKER;
		if (work)
			dispatch(Context::WORKER, "offload work", work);
		if (completion)
			dispatch(completionContext, "offload completion", completion);
	}

	bool runOn(ConnectionId id, std::function<void(Connection&)> task) override
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return false;
		if (task)
			dispatch(
			    Context::LOOP, "runOn task", [&] { task(*c); }, id);
		return true;
	}

	void randomBytes(void* buffer, std::size_t length) override
	{
		auto* out = static_cast<unsigned char*>(buffer);
		for (std::size_t i = 0; i < length;)
		{
			// xorshift64*: small, deterministic, and plenty for tests (not for secrets).
			_random ^= _random >> 12;
			_random ^= _random << 25;
			_random ^= _random >> 27;
			std::uint64_t x = _random * 0x2545F4914F6CDD1Dull;
			for (int b = 0; b < 8 && i < length; ++b, ++i)
				out[i] = static_cast<unsigned char>(x >> (8 * b));
		}
	}

	// --- Router --------------------------------------------------------------------------------

	SendResult send(ConnectionId to, std::string_view data, MessageKind kind = MessageKind::TEXT) override
	{
		FakeConnection* c = find(to);
		return c == nullptr ? SendResult::CLOSED : sendOn(*c, data, kind);
	}

	void close(ConnectionId id, std::uint16_t code = CloseCode::NORMAL, std::string_view reason = {}) override
	{
		closeConnection(id, code, reason);
	}

	void join(std::string_view group, ConnectionId id) override
	{
		if (isOpen(id))
		{
			auto it = _groups.find(group);
			if (it == _groups.end())
				it = _groups.emplace(std::string(group), std::set<ConnectionId>()).first;
			it->second.insert(id);
		}
	}

	void leave(std::string_view group, ConnectionId id) override
	{
		auto it = _groups.find(group);
		if (it != _groups.end() && it->second.erase(id) > 0 && it->second.empty())
			_groups.erase(it);
	}

	std::size_t publish(std::string_view group, std::string_view data, MessageKind kind = MessageKind::TEXT,
	                    ConnectionId except = 0) override
	/// Sends to members in ascending id order and counts those whose send was QUEUED.
	{
		std::vector<ConnectionId> members = groupMembers(group); // a copy: sends may close members
		std::size_t recipients = 0;
		for (ConnectionId id : members)
			if (id != except && send(id, data, kind) == SendResult::QUEUED)
				++recipients;
		return recipients;
	}

	std::size_t groupSize(std::string_view group) const override
	{
		auto it = _groups.find(group);
		return it == _groups.end() ? 0 : it->second.size();
	}

	// --- Logger --------------------------------------------------------------------------------

	bool enabled(LogLevel level) const override { return level >= _logLevel; }

	void log(LogLevel level, std::string_view message) override
	{
		if (enabled(level))
			_logLines.push_back(std::string(levelName(level)) + " " + std::string(message));
	}

	// --- Metrics -------------------------------------------------------------------------------

	Counter& counter(std::string_view name, std::string_view /*help*/, std::string_view labels = {}) override
	{
		return findOrMake(_counters, name, labels, [] { return std::make_unique<Counter>(); });
	}

	Gauge& gauge(std::string_view name, std::string_view /*help*/, std::string_view labels = {}) override
	{
		return findOrMake(_gauges, name, labels, [] { return std::make_unique<Gauge>(); });
	}

	Histogram& histogram(std::string_view name, std::string_view /*help*/, const std::vector<double>& upperBounds,
	                     std::string_view labels = {}) override
	{
		return findOrMake(_histograms, name, labels, [&] { return std::make_unique<Histogram>(upperBounds); });
	}

	// --- Clock ---------------------------------------------------------------------------------

	std::int64_t monotonicMs() const override { return _monotonicMs; }
	std::int64_t wallMs() const override { return _wallMs; }

private:
	enum class Phase
	{
		IDLE,
		STARTING,
		RUNNING,
		STOPPING
	};

	enum class Context
	/// Where plugin code runs, as the host would run it; used to catch blocking storage calls
	/// on event loops.
	{
		NONE,  ///< the test itself
		MAIN,  ///< migrations(), start(), stopping(), stop()
		HTTP,  ///< route handlers and onAccept
		LOOP,  ///< connection callbacks, timers, loop completions, runOn tasks
		WORKER ///< offload() work
	};

	enum class ConnectionState
	{
		OPEN,
		CLOSING, ///< closed for sends; onClose not yet reported
		CLOSED   ///< onClose has run
	};

	class FakeConnection: public Connection
	/// A connection's fake: the Connection the plugin sees plus what the test inspects.
	{
	public:
		FakeConnection(FakeHost& host, ConnectionId id, std::string remote, WebSocketHandler& handler,
		               WebSocketOptions options):
		    _host(host),
		    _id(id),
		    _remote(std::move(remote)),
		    _pHandler(&handler),
		    _options(options)
		{
		}

		ConnectionId id() const override { return _id; }
		const std::string& remoteAddress() const override { return _remote; }
		SendResult send(std::string_view data, MessageKind kind = MessageKind::TEXT) override
		{
			return _host.sendOn(*this, data, kind);
		}
		void close(std::uint16_t code = CloseCode::NORMAL, std::string_view reason = {}) override
		{
			_host.closeConnection(_id, code, reason);
		}
		std::size_t bufferedAmount() const override { return _buffered; }
		void setState(std::shared_ptr<void> state) override { _pluginState = std::move(state); }
		void* state() const override { return _pluginState.get(); }

	private:
		friend class FakeHost;

		FakeHost& _host;
		ConnectionId _id;
		std::string _remote;
		WebSocketHandler* _pHandler;
		WebSocketOptions _options;
		ConnectionState _status = ConnectionState::OPEN;
		std::shared_ptr<void> _pluginState; ///< the plugin's per-connection state
		SendResult _sendResult = SendResult::QUEUED;
		std::size_t _buffered = 0;
		std::vector<SentMessage> _sent;
		std::optional<std::pair<std::uint16_t, std::string>> _closedWith;
	};

	class StorageGate: public Storage
	/// What storage() returns: forwards to the injected storage (or fails without one) and
	/// reports blocking calls made on an event loop.
	{
	public:
		explicit StorageGate(FakeHost& host):
		    _host(host)
		{
		}

		QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
		{
			_host.checkBlockingAllowed("Storage::execute");
			if (_host._pStorage == nullptr)
				return noStorage();
			return _host._pStorage->execute(sql, params);
		}

		bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) override
		{
			_host.checkBlockingAllowed("Storage::transaction");
			if (_host._pStorage == nullptr)
			{
				if (error != nullptr)
					*error = NO_STORAGE;
				return false;
			}
			return _host._pStorage->transaction(body, error);
		}

		void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) override
		{
			if (_host._pStorage != nullptr)
				_host._pStorage->executeAsync(std::move(sql), std::move(params), std::move(done));
			else if (done)
				done(noStorage());
		}

	private:
		static QueryResult noStorage()
		{
			QueryResult result;
			result.error = NO_STORAGE;
			return result;
		}

		FakeHost& _host;
	};

	struct Route
	{
		std::string method;
		RoutePattern pattern;
		RouteHandler handler;
		RouteOptions options;
	};

	struct Endpoint
	{
		std::string path;
		WebSocketHandler* handler;
		WebSocketOptions options;
	};

	struct Timer
	{
		std::int64_t due;
		std::int64_t interval;  ///< 0 for after()
		std::uint64_t sequence; ///< arming order, breaks ties between equal due times
		std::function<void()> callback;
	};

	template <class F>
	bool dispatch(Context context, std::string_view what, F&& f, ConnectionId closeOnThrow = 0)
	/// Calls plugin code as the host does: in a context, catching what it throws (logged; a
	/// connection's callback is then closed with 1011). Closes requested meanwhile are
	/// reported once the outermost call returns. Returns false if f threw.
	{
		Context saved = _context;
		_context = context;
		++_depth;
		bool ok = true;
		try
		{
			f();
		}
		catch (const std::exception& e)
		{
			ok = false;
			_lastException = e.what();
		}
		catch (...)
		{
			ok = false;
			_lastException = "an exception not derived from std::exception";
		}
		if (!ok)
		{
			log(LogLevel::LEVEL_ERROR, std::string(what) + " threw: " + _lastException);
			if (closeOnThrow != 0)
				closeConnection(closeOnThrow, CloseCode::INTERNAL_ERROR, "internal error");
		}
		--_depth;
		_context = saved;
		if (_depth == 0)
			reportCloses();
		return ok;
	}

	struct PendingClose
	{
		ConnectionId id;
		std::uint16_t code;
		std::string reason;
	};

	void closeConnection(ConnectionId id, std::uint16_t code, std::string_view reason)
	/// A server-side close: no more sends at once, onClose after the current callback.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return; // unknown, or already closing: close is idempotent
		markClosing(*c);
		c->_closedWith = std::make_pair(code, std::string(reason));
		// The peer answers a close frame without status with one without status: 1005.
		_pendingCloses.push_back({id, code == CloseCode::NONE ? CloseCode::NO_STATUS : code, std::string(reason)});
		if (_depth == 0)
			reportCloses();
	}

	void reportCloses()
	{
		if (_reportingCloses)
			return; // an onClose closed another connection: the loop below picks it up
		_reportingCloses = true;
		while (!_pendingCloses.empty())
		{
			PendingClose p = std::move(_pendingCloses.front());
			_pendingCloses.pop_front();
			if (FakeConnection* c = find(p.id))
				finishClose(*c, p.code, p.reason);
		}
		_reportingCloses = false;
	}

	void markClosing(FakeConnection& c)
	{
		c._status = ConnectionState::CLOSING;
		for (auto it = _groups.begin(); it != _groups.end();)
		{
			it->second.erase(c._id);
			it = it->second.empty() ? _groups.erase(it) : std::next(it);
		}
	}

	void finishClose(FakeConnection& c, std::uint16_t code, std::string_view reason)
	{
		if (c._status == ConnectionState::CLOSED)
			return;
		dispatch(Context::LOOP, "onClose", [&] { c._pHandler->onClose(c, code, reason); });
		c._status = ConnectionState::CLOSED;
		c._pluginState.reset(); // the host drops the plugin's state after onClose
	}

	SendResult sendOn(FakeConnection& c, std::string_view data, MessageKind kind)
	{
		if (c._status != ConnectionState::OPEN)
			return SendResult::CLOSED;
		if (kind == MessageKind::TEXT && !isUtf8(data))
			log(LogLevel::LEVEL_WARNING, "connection " + std::to_string(c._id) + ": TEXT message is not valid UTF-8");
		switch (c._sendResult)
		{
			case SendResult::QUEUED:
				c._sent.push_back({std::string(data), kind});
				return SendResult::QUEUED;
			case SendResult::DROPPED:
				closeConnection(c._id, CloseCode::POLICY_VIOLATION, "slow consumer");
				return SendResult::DROPPED;
			case SendResult::CLOSED:
				break;
		}
		return SendResult::CLOSED;
	}

	FakeConnection* find(ConnectionId id)
	{
		auto it = _connections.find(id);
		return it == _connections.end() ? nullptr : it->second.get();
	}

	const FakeConnection* find(ConnectionId id) const
	{
		auto it = _connections.find(id);
		return it == _connections.end() ? nullptr : it->second.get();
	}

	std::vector<ConnectionId> openIds() const
	{
		std::vector<ConnectionId> ids;
		for (const auto& entry : _connections)
			if (entry.second->_status == ConnectionState::OPEN)
				ids.push_back(entry.first);
		return ids;
	}

	ConnectionId reject(int status, std::string body)
	{
		_lastRejectStatus = status;
		_lastRejectBody = std::move(body);
		return 0;
	}

	bool refuse(const std::string& message)
	{
		log(LogLevel::LEVEL_ERROR, message);
		return false;
	}

	void checkBlockingAllowed(const char* call)
	{
		if (_context == Context::LOOP)
			log(LogLevel::LEVEL_ERROR,
			    std::string(call) + " called on an event loop: it blocks; use Storage::executeAsync or Host::offload");
	}

	TimerId arm(std::int64_t delayMs, std::int64_t intervalMs, std::function<void()> callback)
	{
		if (!callback)
		{
			refuse("timer with an empty callback");
			return 0;
		}
		TimerId id = _nextTimerId++;
		_timers.emplace(id, Timer{_monotonicMs + delayMs, intervalMs, _timerSequence++, std::move(callback)});
		return id;
	}

	void fire(TimerId id)
	{
		auto it = _timers.find(id);
		std::int64_t interval = it->second.interval;
		// Keep a copy: the callback may cancel its own timer, which destroys the stored one.
		std::function<void()> callback = it->second.callback;
		if (interval == 0)
			_timers.erase(it);
		dispatch(Context::LOOP, "timer", callback);
		it = _timers.find(id);
		if (interval > 0 && it != _timers.end())
		{
			it->second.due += interval;
			it->second.sequence = _timerSequence++;
		}
	}

	void moveClockTo(std::int64_t monotonicMs)
	{
		_wallMs += monotonicMs - _monotonicMs;
		_monotonicMs = monotonicMs;
	}

	void resetRegistrations()
	{
		_routes.clear();
		_endpoints.clear();
		_timers.clear();
	}

	bool applyMigrations(Plugin& plugin, std::string& error)
	/// The host's migration rules, through the injected storage: versions from 1, no duplicates,
	/// the version kept in the one-row table MIGRATIONS_TABLE (so a database migrated here is
	/// one the host accepts, and the other way round), a database newer than the plugin
	/// refused, each step applied with its version bump in one transaction.
	{
		std::vector<Migration> migrations;
		if (!dispatch(Context::MAIN, "migrations()", [&] { migrations = plugin.migrations(); }))
		{
			error = "migrations() threw: " + _lastException;
			return false;
		}
		std::sort(migrations.begin(), migrations.end(),
		          [](const Migration& a, const Migration& b) { return a.version < b.version; });
		for (std::size_t i = 0; i < migrations.size(); ++i)
		{
			if (migrations[i].version < 1 || migrations[i].sql == nullptr)
			{
				error = "migration versions start at 1 and need SQL";
				return false;
			}
			if (i > 0 && migrations[i].version == migrations[i - 1].version)
			{
				error = "migration version " + std::to_string(migrations[i].version) + " appears twice";
				return false;
			}
		}

		const std::string table = MIGRATIONS_TABLE;
		std::int64_t stored = 0;
		std::string failure, transactionError;
		bool ready = _pStorage->transaction(
		    [&](Storage& tx) {
			    QueryResult created = tx.execute("CREATE TABLE IF NOT EXISTS " + table + "(version INTEGER NOT NULL)");
			    QueryResult rows = tx.execute("SELECT count(*), max(version) FROM " + table);
			    if (!created.ok || !rows.ok || rows.rows.empty())
			    {
				    failure = created.ok ? rows.error : created.error;
				    return false;
			    }
			    std::int64_t count = valueAsInt(rows.rows[0][0]);
			    if (count == 0)
				    return tx.execute("INSERT INTO " + table + "(version) VALUES (0)").ok;
			    if (count != 1)
			    {
				    failure = table + " must hold exactly one row";
				    return false;
			    }
			    stored = valueAsInt(rows.rows[0][1]);
			    return true;
		    },
		    &transactionError);
		if (!ready)
		{
			error = "cannot read the schema version: " + (failure.empty() ? transactionError : failure);
			return false;
		}
		std::int64_t latest = migrations.empty() ? 0 : migrations.back().version;
		if (stored > latest)
		{
			error = "the database is newer than the plugin (schema version " + std::to_string(stored) +
			        ", the plugin knows up to " + std::to_string(latest) + ")";
			return false;
		}

		for (const Migration& m : migrations)
		{
			if (m.version <= stored)
				continue;
			failure.clear();
			transactionError.clear();
			bool committed = _pStorage->transaction(
			    [&](Storage& tx) {
				    for (const std::string& statement : splitSql(m.sql))
				    {
					    QueryResult r = tx.execute(statement);
					    if (!r.ok)
					    {
						    failure = r.error;
						    return false;
					    }
				    }
				    QueryResult bump =
				        tx.execute("UPDATE " + table + " SET version = ?", {static_cast<std::int64_t>(m.version)});
				    if (!bump.ok)
				    {
					    failure = bump.error;
					    return false;
				    }
				    return true;
			    },
			    &transactionError);
			if (!committed)
			{
				error = "migration " + std::to_string(m.version) +
				        " failed: " + (failure.empty() ? transactionError : failure);
				return false;
			}
		}
		return true;
	}

	static std::vector<std::string> splitSql(std::string_view sql)
	/// Splits a migration into statements at ';' outside quotes ('', "", ``, []) and comments,
	/// keeping a CREATE TRIGGER ... BEGIN ... END together; drops empty statements. (The host
	/// lets SQLite itself find the statements; this covers what migrations contain.)
	{
		std::vector<std::string> statements;
		std::string current;
		std::vector<std::string> words; // the statement's words so far, upper case, outside quotes
		std::string word;
		auto endWord = [&] {
			if (!word.empty())
				words.push_back(word);
			word.clear();
		};
		auto inTriggerBody = [&] {
			// CREATE [TEMP|TEMPORARY] TRIGGER ... BEGIN ... : only "END" closes it.
			std::size_t t = words.size() > 2 && (words[1] == "TEMP" || words[1] == "TEMPORARY") ? 2 : 1;
			bool trigger = words.size() > t && words[0] == "CREATE" && words[t] == "TRIGGER";
			bool begun = false;
			for (const std::string& w : words)
				begun = begun || w == "BEGIN";
			return trigger && begun && words.back() != "END";
		};
		for (std::size_t i = 0; i < sql.size(); ++i)
		{
			char c = sql[i];
			bool wordChar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
			if (wordChar)
			{
				word += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
				current += c;
				continue;
			}
			endWord();
			if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-')
			{
				std::size_t end = sql.find('\n', i);
				i = end == std::string_view::npos ? sql.size() : end;
				current += '\n';
				continue;
			}
			if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*')
			{
				std::size_t end = sql.find("*/", i + 2);
				i = end == std::string_view::npos ? sql.size() : end + 1;
				current += ' ';
				continue;
			}
			if (c == '\'' || c == '"' || c == '`' || c == '[')
			{
				char close = c == '[' ? ']' : c;
				std::size_t end = sql.find(close, i + 1);
				std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
				current.append(sql.substr(i, stop - i)); // a doubled quote is two quoted runs
				words.push_back("\"");                   // something that is not a keyword
				i = stop - 1;
				continue;
			}
			if (c == ';' && !inTriggerBody())
			{
				if (!words.empty())
					statements.push_back(current);
				current.clear();
				words.clear();
				continue;
			}
			current += c;
		}
		endWord();
		if (!words.empty())
			statements.push_back(current);
		return statements;
	}

	static std::string checkConfigValue(const ConfigKey& key, const std::string& value)
	{
		switch (key.type)
		{
			case ConfigType::STRING:
			case ConfigType::STRING_LIST:
				return {};
			case ConfigType::INTEGER:
			{
				std::int64_t v = 0;
				if (!ConfigParse::parseInteger(value, v))
					return "'" + value + "' is not an integer";
				if ((key.minimum != 0 || key.maximum != 0) && (v < key.minimum || v > key.maximum))
					return std::to_string(v) + " is outside " + std::to_string(key.minimum) + ".." +
					       std::to_string(key.maximum);
				return {};
			}
			case ConfigType::BOOLEAN:
			{
				bool b = false;
				return ConfigParse::parseBoolean(value, b)
				           ? std::string()
				           : "'" + value + "' is not a boolean (true/false, yes/no, on/off, 1/0)";
			}
			case ConfigType::DOUBLE:
			{
				double d = 0;
				return ConfigParse::parseDouble(value, d) ? std::string() : "'" + value + "' is not a number";
			}
		}
		return "unknown type";
	}

	template <class M, class Make>
	M& findOrMake(std::map<std::string, std::unique_ptr<M>, std::less<>>& metrics, std::string_view name,
	              std::string_view labels, Make make)
	{
		std::string key = metricKey(name, labels);
		auto it = metrics.find(key);
		if (it == metrics.end())
		{
			if (!validMetricName(name))
				log(LogLevel::LEVEL_WARNING, "metric name '" + std::string(name) + "' is not [a-zA-Z_][a-zA-Z0-9_]*");
			it = metrics.emplace(std::move(key), make()).first;
		}
		return *it->second;
	}

	static std::string metricKey(std::string_view name, std::string_view labels)
	{
		return std::string(name) + "{" + std::string(labels) + "}";
	}

	static bool validMetricName(std::string_view name)
	{
		if (name.empty() || (name.front() >= '0' && name.front() <= '9'))
			return false;
		for (char c : name)
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
				return false;
		return true;
	}

	static const char* levelName(LogLevel level)
	{
		switch (level)
		{
			case LogLevel::LEVEL_TRACE:
				return "TRACE";
			case LogLevel::LEVEL_DEBUG:
				return "DEBUG";
			case LogLevel::LEVEL_INFO:
				return "INFO";
			case LogLevel::LEVEL_NOTICE:
				return "NOTICE";
			case LogLevel::LEVEL_WARNING:
				return "WARNING";
			case LogLevel::LEVEL_ERROR:
				return "ERROR";
		}
		return "?";
	}

	static bool isUtf8(std::string_view data) { return HttpText::replaceInvalidUtf8(data) == data; }

	static std::string normalizePrefix(std::string prefix)
	{
		while (!prefix.empty() && prefix.back() == '/')
			prefix.pop_back();
		return prefix;
	}

	static std::pair<std::string_view, std::string_view> splitQuery(std::string_view pathWithQuery)
	{
		std::size_t mark = pathWithQuery.find('?');
		if (mark == std::string_view::npos)
			return {pathWithQuery, {}};
		return {pathWithQuery.substr(0, mark), pathWithQuery.substr(mark + 1)};
	}

	bool stripPrefix(std::string_view path, bool ignoreCase, std::string_view& relative) const
	/// path relative to the mount prefix, as the host computes it: false if path lies outside
	/// it ("/echoes" is not under "/echo"), "/" for the bare prefix.
	{
		std::string_view head = path.substr(0, _mountPrefix.size());
		if (ignoreCase ? !HttpText::equalsIgnoreCase(head, _mountPrefix) : head != _mountPrefix)
			return false;
		relative = path.substr(_mountPrefix.size());
		if (relative.empty())
			relative = "/";
		return relative.front() == '/';
	}

	static HttpResponse finishResponse(std::string_view method, HttpResponse& response)
	{
		response.setHeader("Content-Length", std::to_string(response.body.size()));
		if (method == "HEAD")
			response.body.clear();
		return std::move(response);
	}

	static void addDefaultHeader(HeaderList& headers, std::string_view name, std::string_view value)
	{
		if (HttpText::findHeader(headers, name).empty())
			headers.emplace_back(std::string(name), std::string(value));
	}

	std::string _pluginName;
	std::string _mountPrefix;
	Config _config;
	Phase _phase = Phase::IDLE;
	Context _context = Context::NONE;
	int _depth = 0;
	bool _reportingCloses = false;
	std::string _lastException;

	std::vector<Route> _routes;
	std::vector<Endpoint> _endpoints;

	std::map<ConnectionId, std::unique_ptr<FakeConnection>> _connections;
	ConnectionId _nextConnectionId = 1;
	std::deque<PendingClose> _pendingCloses;
	std::map<std::string, std::set<ConnectionId>, std::less<>> _groups;
	int _lastRejectStatus = 0;
	std::string _lastRejectBody;

	std::map<TimerId, Timer> _timers;
	TimerId _nextTimerId = 1;
	std::uint64_t _timerSequence = 0;
	std::int64_t _monotonicMs = START_MONOTONIC_MS;
	std::int64_t _wallMs = START_WALL_MS;

	std::map<std::string, std::unique_ptr<Counter>, std::less<>> _counters;
	std::map<std::string, std::unique_ptr<Gauge>, std::less<>> _gauges;
	std::map<std::string, std::unique_ptr<Histogram>, std::less<>> _histograms;
	std::vector<std::string> _logLines;
	LogLevel _logLevel = LogLevel::LEVEL_TRACE;
	std::uint64_t _random = DEFAULT_RANDOM_SEED;

	Storage* _pStorage = nullptr;
	StorageGate _storageGate;
};


} // namespace Switchboard


#endif // Switchboard_FakeHost_INCLUDED
