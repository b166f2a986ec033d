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
#include "switchboard/testing/SqliteTestStorage.h"
#include "switchboard/util/CloseRules.h"
#include "switchboard/util/ConfigRules.h"
#include "switchboard/util/MetricRules.h"
#include "switchboard/util/RoutePattern.h"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
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


class FakeHost: public Host, public Router, public NameRegistry, public Logger, public Metrics, public Clock
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
///     host.counterValue("relayed_total", {{"type", "OFFER"}});  // metrics, by raw labels
///     host.stop(plugin);
///
/// Paths given to connect() and request() are full request paths: they include the mount
/// prefix, which FakeHost strips before matching as the host does.
///
/// What it does like the host, through the rules the host itself uses (util/ConfigRules.h,
/// util/MetricRules.h, util/MigrationPlan.h): config validation and defaults (setConfig); metric
/// names, labels and bounds (a registration the host refuses is refused here: the object works
/// but is not listed, see registrationErrors()); storage in a real SQLite file with the host's
/// statement and transaction rules (testing/SqliteTestStorage.h) and migrations applied before
/// start() as the host applies them; Setup offered only during start(); route registration and matching with
/// RoutePattern (clashes refused; the first registered matching route answers; GET routes
/// answer HEAD with no body; no match or a wrong method is 404 "Not Found"); exact WebSocket
/// endpoint paths (another path is refused with 400); WebSocketOptions refused as the host
/// refuses them (util/CloseRules.h: close codes and reasons, closeTimeoutMs,
/// sendStallTimeoutMs and maxOutputMessages out of range); onClose exactly once per opened
/// connection; closes requested inside a callback reported after that callback returns; 1001 for
/// every open connection at stop(); 1008 after a DROPPED send; 1009 "Message too big" for a
/// message over the endpoint's maxMessageSize; 1007 (or the endpoint's invalidTextCloseCode) for
/// invalid UTF-8 text. There is no output queue, so maxOutputMessages is only checked: inject a
/// full queue with setSendResult(id, DROPPED). Exceptions from plugin
/// code caught and logged (a connection callback's exception closes it with 1011, a route's
/// answers 500, start()'s makes it FAILED). Because of that, a failed test assertion thrown
/// inside a plugin callback is caught too: check logLines() or assert outside callbacks.
///
/// What it checks beyond the host: it logs an ERROR line when the plugin calls
/// Storage::execute or transaction on an event loop (a connection callback, a timer, an
/// offload completion, an executeAsync completion or a runOn task) or registers routes outside
/// start(), and a WARNING when it sends invalid UTF-8 as TEXT or a metric registration is
/// refused. Assert that logLines() holds no ERROR to keep a plugin honest.
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
///   * Storage is a SqliteTestStorage in a temporary file of its own, made on first use and
///     removed with the FakeHost. setStorage() borrows another one instead (e.g. a file shared
///     by two FakeHosts to test a restart); setStorage(nullptr) takes storage away: every call
///     then fails with NO_STORAGE and no migrations run. executeAsync runs the statement at once
///     and its completion inline, in the caller's context.
///   * Router::send and publish act at once and report QUEUED, as calls from the target's
///     own loop do in the host.
///   * There is no wire: a server-side close is final at once (no closing handshake, so no
///     closeTimeoutMs to wait) and output never backs up (no sendStallTimeoutMs; a slow consumer
///     is made with setSendResult(DROPPED)). Those two options are only validated.
{
public:
	static constexpr std::int64_t START_MONOTONIC_MS = 1000000;
	static constexpr std::int64_t START_WALL_MS = 1700000000000; ///< 2023-11-14T22:13:20Z
	static constexpr std::uint64_t DEFAULT_RANDOM_SEED = 0x5EED5EED5EED5EEDull;
	static constexpr const char* MIGRATIONS_TABLE = MigrationPlan::SCHEMA_TABLE; ///< as the host names it
	static constexpr const char* NO_STORAGE = "no storage in FakeHost";

	explicit FakeHost(std::string pluginName = "test", std::map<std::string, std::string> configValues = {},
	                  std::string mountPrefix = ""):
	    _pluginName(std::move(pluginName)),
	    _mountPrefix(normalizePrefix(std::move(mountPrefix))),
	    _config(std::map<std::string, std::string, std::less<>>(configValues.begin(), configValues.end())),
	    _setup(*this),
	    _storageGate(*this)
	/// configValues are taken as they are, without declared keys; use setConfig() to get the
	/// host's validation and defaults.
	{
	}

	FakeHost(const FakeHost&) = delete;
	FakeHost& operator=(const FakeHost&) = delete;

	// --- set-up --------------------------------------------------------------------------------

	std::string setConfig(const ConfigKey* keys, std::size_t count, std::map<std::string, std::string> values)
	/// Validates values against the declared keys with the host's rules (ConfigRules): the
	/// declaration itself, no unknown keys, required keys present, values that parse as their
	/// type, integers within [minimum, maximum] unless both are 0. Fills defaults. The keys the
	/// host owns in every section (ConfigRules::HOST_OWNED_PLUGIN_KEYS: enabled, listener, prefix) are skipped as the
	/// host skips them. Returns "" on success, otherwise one line per problem, each starting
	/// "[plugin.<name>] " (and the configuration is unchanged).
	{
		if (_phase == Phase::STARTING || _phase == Phase::RUNNING)
			return "the configuration cannot change while the plugin runs";
		return checkedConfig(keys, count, std::move(values), _config);
	}

	ReconfigureResult reconfigure(Plugin& plugin, const PluginDescriptor& descriptor,
	                              std::map<std::string, std::string> values)
	/// A reload (SIGHUP) as the host runs it on a started plugin: values checked as setConfig()
	/// checks them (a problem is returned as not applied, the plugin not called), then
	/// plugin.reconfigure(new configuration, the declared keys whose value changed). Host::config()
	/// keeps the start values, as in the host. With nothing changed the plugin is not called.
	{
		if (_phase != Phase::RUNNING)
			return ReconfigureResult::needsRestart("the plugin is not running");
		Config fresh;
		std::string problem = checkedConfig(descriptor.configKeys, descriptor.configKeyCount, std::move(values), fresh);
		if (!problem.empty())
			return ReconfigureResult::needsRestart(problem);
		std::vector<std::string> changed;
		for (std::size_t i = 0; i < descriptor.configKeyCount; ++i)
		{
			const std::string name = descriptor.configKeys[i].name;
			if (fresh.getString(name) != _reloaded.getString(name))
				changed.push_back(name);
		}
		if (changed.empty())
			return ReconfigureResult::done();
		ReconfigureResult result = plugin.reconfigure(fresh, changed);
		_reloaded = std::move(fresh); // what the next reload compares with, applied or not
		return result;
	}

	std::string setConfig(const PluginDescriptor& descriptor, std::map<std::string, std::string> values)
	/// setConfig with the keys a plugin declares in its descriptor.
	{
		return setConfig(descriptor.configKeys, descriptor.configKeyCount, std::move(values));
	}

	void setStorage(Testing::SqliteTestStorage* storage)
	/// Borrows a storage for the plugin instead of the FakeHost's own (nullptr: no storage at
	/// all). It must outlive the FakeHost's use. Set it before start().
	{
		_pStorage = storage;
		_storageChosen = true;
	}

	Testing::SqliteTestStorage* sqliteStorage()
	/// The storage the plugin uses (the FakeHost's own is made now if need be), for a test to look
	/// into the database or inject failures; nullptr after setStorage(nullptr).
	{
		return activeStorage();
	}

	void setLogLevel(LogLevel level) { _logLevel = level; }
	/// Lines below level are not captured and enabled() reports false for them. Default:
	/// everything, so a plugin's logging code runs in tests.

	void setRandomSeed(std::uint64_t seed) { _random = seed != 0 ? seed : DEFAULT_RANDOM_SEED; }

	// --- lifecycle -----------------------------------------------------------------------------

	StartResult start(Plugin& plugin)
	/// Applies migrations (unless storage was taken away) and calls plugin.start(host, setup).
	/// On DECLINED or FAILED whatever start() registered is dropped; stop() is not called.
	{
		if (_phase == Phase::STARTING || _phase == Phase::RUNNING)
			return StartResult::failed("FakeHost already runs a plugin");
		resetRegistrations();
		if (Testing::SqliteTestStorage* storage = activeStorage())
		{
			std::string error;
			if (!applyMigrations(plugin, *storage, error))
				return StartResult::failed(error);
		}
		_phase = Phase::STARTING;
		StartResult result = StartResult::failed("start() threw");
		if (!dispatch(Context::MAIN, "start()", [&] { result = plugin.start(*this, _setup); }))
			result = StartResult::failed("start() threw: " + _lastException);
		if (result.status == StartStatus::STARTED)
		{
			_phase = Phase::RUNNING;
			_reloaded = _config;
		}
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
		_heldOpenMs = 0;
		dispatch(Context::MAIN, "stopping()", [&] { plugin.stopping(); });
		advance(_heldOpenMs); // the wait holdConnectionsOpen() asked for, timers running
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
	/// endpoint's maxMessageSize: close 1009; TEXT that is not UTF-8: close 1007 "text message is
	/// not valid UTF-8", or the endpoint's invalidTextCloseCode and invalidTextCloseReason). Returns
	/// false if the connection is not open.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return false;
		if (c->_options.maxMessageSize > 0 && data.size() > static_cast<std::uint64_t>(c->_options.maxMessageSize))
			closeConnection(id, CloseCode::MESSAGE_TOO_BIG, "Message too big");
		else if (kind == MessageKind::TEXT && !c->_options.acceptInvalidText && !isUtf8(data))
			closeConnection(id, CloseRules::invalidTextCode(c->_options),
			                CloseRules::invalidTextReason(c->_options, CloseRules::DEFAULT_INVALID_TEXT_REASON));
		else
			dispatch(
			    Context::LOOP, "onMessage", [&] { c->_pHandler->onMessage(*c, data, kind); }, id);
		return true;
	}

	bool ping(ConnectionId id, std::string_view payload = {})
	/// A ping from the peer: onMessage with MessageKind::PING when the endpoint set deliverPings,
	/// else the host's own pong (see takePongs). Returns false if the connection is not open.
	{
		FakeConnection* c = find(id);
		if (c == nullptr || c->_status != ConnectionState::OPEN)
			return false;
		if (c->_options.deliverPings)
			dispatch(
			    Context::LOOP, "onMessage", [&] { c->_pHandler->onMessage(*c, payload, MessageKind::PING); }, id);
		else
			c->_pongs.emplace_back(payload.substr(0, 125));
		return true;
	}

	std::vector<std::string> takePongs(ConnectionId id)
	/// The pongs sent on this connection (by the host or Connection::sendPong) since the last
	/// call, oldest first; clears them.
	{
		FakeConnection* c = find(id);
		std::vector<std::string> pongs;
		if (c != nullptr)
			pongs.swap(c->_pongs);
		return pongs;
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

	void idleOut(ConnectionId id)
	/// The host's idle timeout fires for this open connection: it is closed with the endpoint's
	/// idle close (WebSocketOptions::idleCloseCode and idleCloseReason; 1001 "idle timeout" by
	/// default), onClose following as for any server-side close. FakeHost keeps no idle clock.
	{
		if (FakeConnection* c = find(id))
			closeConnection(id, CloseRules::idleCode(c->_options), CloseRules::idleReason(c->_options));
	}

	void setSendResult(ConnectionId id, SendResult result)
	/// What this connection's sends report from now on. QUEUED (the default) records the
	/// message; DROPPED records nothing and makes the host close the connection as a slow
	/// consumer, as the real output-queue cap does: 1008 "slow consumer", or the endpoint's
	/// overflowCloseCode and overflowCloseReason; CLOSED records nothing.
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
			// A loop route runs where connection callbacks run, so blocking storage calls in it are caught.
			Context context = route.onLoop ? Context::LOOP : Context::HTTP;
			if (!dispatch(context, what, [&] { handler(request, response); }))
			{
				response = HttpResponse();
				response.text(500, "Internal Server Error");
			}
			return finishResponse(method, response);
		}
		response.text(404, "Not Found");
		return finishResponse(method, response);
	}

	bool routeOnLoop(std::string_view method, std::string_view path) const
	/// Whether the route request() would pick for method and path was registered with
	/// addLoopRoute (false also when none matches).
	{
		for (const Route& route : _routes)
		{
			std::string_view relative;
			HeaderList params;
			bool methodFits =
			    route.method == "*" || route.method == method || (method == "HEAD" && route.method == "GET");
			if (methodFits && stripPrefix(path, route.options.caseInsensitive, relative) &&
			    route.pattern.match(relative, route.options, params))
				return route.onLoop;
		}
		return false;
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

	std::uint64_t counterValue(std::string_view name, const Labels& labels = {}) const
	/// The value of the exported counter with this name (as the plugin gives it, without the
	/// switchboard_<plugin>_ prefix) and these labels (in any order); 0 if there is none (see
	/// hasMetric).
	{
		auto it = _series.find(seriesKeyOf(name, labels));
		return it == _series.end() || it->second.counter == nullptr ? 0 : it->second.counter->value();
	}

	std::int64_t gaugeValue(std::string_view name, const Labels& labels = {}) const
	{
		auto it = _series.find(seriesKeyOf(name, labels));
		return it == _series.end() || it->second.gauge == nullptr ? 0 : it->second.gauge->value();
	}

	const Histogram* histogramOf(std::string_view name, const Labels& labels = {}) const
	{
		auto it = _series.find(seriesKeyOf(name, labels));
		return it == _series.end() ? nullptr : it->second.histogram;
	}

	bool hasMetric(std::string_view name, const Labels& labels = {}) const
	/// True if the plugin registered this series and the host would export it.
	{
		return _series.count(seriesKeyOf(name, labels)) > 0;
	}

	const std::vector<std::string>& registrationErrors() const { return _registrationErrors; }
	/// One line per refused metric registration, worded as the host logs it (the host also counts
	/// them in switchboard_metric_registration_errors_total), e.g.
	/// "metric switchboard_echo_9x (counter) not exported: invalid metric name (...)".

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

	std::string_view pluginName() const noexcept override { return _pluginName; }
	std::string_view mountPrefix() const noexcept override { return _mountPrefix; }
	const Config& config() const noexcept override { return _config; }
	Logger& logger() noexcept override { return *this; }
	Metrics& metrics() noexcept override { return *this; }
	const Clock& clock() const noexcept override { return *this; }
	Storage& storage() noexcept override { return _storageGate; }
	Router& router() noexcept override { return *this; }

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

	bool cancel(TimerId timer) noexcept override { return _timers.erase(timer) > 0; }

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

	void holdConnectionsOpen(std::int64_t ms) noexcept override
	{
		if (_phase == Phase::STOPPING && ms > _heldOpenMs)
			_heldOpenMs = ms;
	}

	std::int64_t connectionsHeldOpenMs() const noexcept { return _heldOpenMs; }

	std::string_view dataDirectory() const noexcept override { return _dataDirectory; }
	void setDataDirectory(std::string directory) { _dataDirectory = std::move(directory); }
	/// What dataDirectory() answers; "." until set.
	/// What the plugin asked for in its last stopping() (0: nothing); stop() advanced the clocks
	/// by it before closing the connections.

	void randomBytes(void* buffer, std::size_t length) noexcept override
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

	std::size_t publishLocal(std::string_view group, std::string_view data, MessageKind kind = MessageKind::TEXT,
	                         ConnectionId except = 0) override
	/// One process: publish().
	{
		return publish(group, data, kind, except);
	}

	std::size_t groupSize(std::string_view group) const noexcept override
	{
		auto it = _groups.find(group);
		return it == _groups.end() ? 0 : it->second.size();
	}

	// --- NameRegistry: one process, so claims are decided at once and callbacks run inside the call -----

	NameRegistry& names() noexcept override { return *this; }
	bool clustered() const noexcept override { return false; }

	void claim(std::string_view name, ConnectionId owner, std::string_view secret, ClaimCallback done) override
	{
		ClaimResult result = ClaimResult::CLAIMED;
		ConnectionId previous = 0;
		auto it = _names.find(name);
		if (it != _names.end() && it->second.owner != owner)
		{
			if (secret.empty() || it->second.secret != secret)
				result = ClaimResult::TAKEN;
			else
			{
				result = ClaimResult::TAKEN_OVER;
				previous = it->second.owner;
			}
		}
		if (result != ClaimResult::TAKEN)
		{
			_names[std::string(name)] = NameEntry{owner, std::string(secret)};
			notifyWatchers(name, owner);
		}
		if (done)
			dispatch(Context::LOOP, "claim callback", [&] { done(result, previous); });
	}

	void release(std::string_view name, ConnectionId owner) override
	{
		auto it = _names.find(name);
		if (it == _names.end() || it->second.owner != owner)
			return;
		_names.erase(it);
		notifyWatchers(name, 0);
	}

	void lookup(std::string_view name, LookupCallback done) override
	{
		auto it = _names.find(name);
		ConnectionId owner = it == _names.end() ? 0 : it->second.owner;
		if (done)
			dispatch(Context::LOOP, "lookup callback", [&] { done(owner); });
	}

	void watch(WatchCallback callback) override
	{
		if (callback)
			_nameWatchers.push_back(std::move(callback));
	}

	// --- ClusterChannel: alone by default, as the host without [cluster] ---------------------

	ClusterChannel& cluster() noexcept override { return _clusterChannel; }

	void joinCluster(NodeNumber node) { _clusterChannel.number = node; }
	/// Before the plugin's start(): cluster() then says clustered, with this node number, and
	/// records what the plugin sends instead of sending it (clusterSent()).

	const std::vector<std::pair<NodeNumber, std::string>>& clusterSent() const noexcept { return _clusterChannel.sent; }
	/// What the plugin broadcast (node 0) or sent to a node, in order.
	void clearClusterSent() { _clusterChannel.sent.clear(); }

	const ClusterChannel::Listener& clusterListener() const noexcept { return _clusterChannel.listener; }
	/// What the plugin passed to cluster().listen() (empty until then): a test may call it to
	/// play the other nodes.

	// --- Logger --------------------------------------------------------------------------------

	bool enabled(LogLevel level) const noexcept override { return level >= _logLevel; }

	void log(LogLevel level, std::string_view message) override
	{
		if (enabled(level))
			_logLines.push_back(std::string(levelName(level)) + " " + std::string(message));
	}

	// --- Metrics -------------------------------------------------------------------------------

	Counter& counter(std::string_view name, std::string_view /*help*/, const Labels& labels = {}) override
	{
		return *obtainMetric(MetricRules::Kind::COUNTER, name, labels, {}).counter;
	}

	Gauge& gauge(std::string_view name, std::string_view /*help*/, const Labels& labels = {}) override
	{
		return *obtainMetric(MetricRules::Kind::GAUGE, name, labels, {}).gauge;
	}

	Histogram& histogram(std::string_view name, std::string_view /*help*/, const std::vector<double>& upperBounds,
	                     const Labels& labels = {}) override
	{
		return *obtainMetric(MetricRules::Kind::HISTOGRAM, name, labels, upperBounds).histogram;
	}

	// --- Clock ---------------------------------------------------------------------------------

	std::int64_t monotonicMs() const noexcept override { return _monotonicMs; }
	std::int64_t wallMs() const noexcept override { return _wallMs; }

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

		ConnectionId id() const noexcept override { return _id; }
		const std::string& remoteAddress() const noexcept override { return _remote; }
		SendResult send(std::string_view data, MessageKind kind = MessageKind::TEXT) override
		{
			return _host.sendOn(*this, data, kind);
		}
		void close(std::uint16_t code = CloseCode::NORMAL, std::string_view reason = {}) override
		{
			_host.closeConnection(_id, code, reason);
		}
		std::size_t bufferedAmount() const noexcept override { return _buffered; }
		SendResult sendPong(std::string_view payload) override
		{
			if (_status != ConnectionState::OPEN)
				return SendResult::CLOSED;
			_pongs.emplace_back(payload.substr(0, 125));
			return SendResult::QUEUED;
		}
		void attachState(std::shared_ptr<void> state, const void* typeKey) override
		{
			_pluginState = std::move(state);
			_stateTypeKey = typeKey;
		}
		void* attachedState(const void* typeKey) const noexcept override
		{
			// As the host: the state only comes back as the type it was attached as.
			return typeKey == _stateTypeKey ? _pluginState.get() : nullptr;
		}

	private:
		friend class FakeHost;

		FakeHost& _host;
		ConnectionId _id;
		std::string _remote;
		WebSocketHandler* _pHandler;
		WebSocketOptions _options;
		ConnectionState _status = ConnectionState::OPEN;
		std::shared_ptr<void> _pluginState;  ///< the plugin's per-connection state
		const void* _stateTypeKey = nullptr; ///< the type it was attached as
		SendResult _sendResult = SendResult::QUEUED;
		std::size_t _buffered = 0;
		std::vector<SentMessage> _sent;
		std::vector<std::string> _pongs;
		std::optional<std::pair<std::uint16_t, std::string>> _closedWith;
	};

	class StorageGate: public Storage
	/// What storage() returns: forwards to the active storage (or fails without one), reports
	/// blocking calls made on an event loop, and runs executeAsync completions where the host
	/// would (the caller's loop, else a worker), catching what they throw.
	{
	public:
		explicit StorageGate(FakeHost& host):
		    _host(host)
		{
		}

		QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) override
		{
			_host.checkBlockingAllowed("Storage::execute");
			Testing::SqliteTestStorage* storage = _host.activeStorage();
			return storage != nullptr ? storage->execute(sql, params) : noStorage();
		}

		bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) override
		{
			_host.checkBlockingAllowed("Storage::transaction");
			Testing::SqliteTestStorage* storage = _host.activeStorage();
			if (storage != nullptr)
				return storage->transaction(body, error);
			if (error != nullptr)
				*error = NO_STORAGE;
			return false;
		}

		void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) override
		{
			Context completionContext = _host._context == Context::LOOP ? Context::LOOP : Context::WORKER;
			auto complete = [this, completionContext, &done](QueryResult result) {
				if (done)
					_host.dispatch(completionContext, "executeAsync completion", [&] { done(std::move(result)); });
			};
			Testing::SqliteTestStorage* storage = _host.activeStorage();
			if (storage != nullptr)
				storage->executeAsync(std::move(sql), std::move(params), complete);
			else
				complete(noStorage());
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

	class FakeSetup: public Setup
	/// The Setup start() gets. A plugin that keeps the reference and registers later is refused
	/// (and an ERROR logged), as it has no Setup outside start() in the host.
	{
	public:
		explicit FakeSetup(FakeHost& host):
		    _host(host)
		{
		}

		bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
		              RouteOptions options = {}) override
		{
			return _host.registerRoute(method, pattern, std::move(handler), options);
		}

		bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options = {}) override
		{
			return _host.registerWebSocket(path, handler, options);
		}

		bool addLoopRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
		                  RouteOptions options = {}) override
		{
			return _host.registerRoute(method, pattern, std::move(handler), options, true);
		}

	private:
		FakeHost& _host;
	};

	bool registerRoute(std::string_view method, std::string_view pattern, RouteHandler handler, RouteOptions options,
	                   bool onLoop = false)
	/// Setup::addRoute (and addLoopRoute, onLoop), with the host's rules.
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
		route.onLoop = onLoop;
		_routes.push_back(std::move(route));
		return true;
	}

	bool registerWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options)
	/// Setup::addWebSocket, with the host's rules.
	{
		std::string what = "addWebSocket(" + std::string(path) + "): ";
		if (_phase != Phase::STARTING)
			return refuse(what + "endpoints can only be added in start()");
		if (path.empty() || path.front() != '/' || path.find_first_of("?# \t\r\n") != std::string_view::npos)
			return refuse(what + "the path must start with '/' and hold no query, spaces or '#'");
		for (const Endpoint& e : _endpoints)
			if (e.path == path)
				return refuse(what + "already registered");
		std::string problem = CloseRules::checkOptions(options);
		if (!problem.empty())
			return refuse(what + problem);
		_endpoints.push_back(Endpoint{std::string(path), &handler, options});
		return true;
	}

	struct Route
	{
		std::string method;
		RoutePattern pattern;
		RouteHandler handler;
		RouteOptions options;
		bool onLoop = false; ///< registered with addLoopRoute
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

	void notifyWatchers(std::string_view name, ConnectionId owner)
	{
		for (auto& w : _nameWatchers)
			dispatch(Context::WORKER, "name watcher", [&] { w(name, owner); });
	}

	void markClosing(FakeConnection& c)
	{
		c._status = ConnectionState::CLOSING;
		for (auto it = _names.begin(); it != _names.end();)
		{
			if (it->second.owner != c._id)
			{
				++it;
				continue;
			}
			std::string name = it->first;
			it = _names.erase(it);
			notifyWatchers(name, 0);
		}
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
				closeConnection(c._id, CloseRules::overflowCode(c._options), CloseRules::overflowReason(c._options));
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

	bool applyMigrations(Plugin& plugin, Testing::SqliteTestStorage& storage, std::string& error)
	/// The host's step before start(): the plugin's migrations, by the host's rules.
	{
		std::vector<Migration> migrations;
		if (!dispatch(Context::MAIN, "migrations()", [&] { migrations = plugin.migrations(); }))
		{
			error = "migrations() threw: " + _lastException;
			return false;
		}
		return storage.applyMigrations(_pluginName, migrations, error);
	}

	Testing::SqliteTestStorage* activeStorage()
	{
		if (!_storageChosen)
		{
			_ownStorage = std::make_unique<Testing::SqliteTestStorage>();
			_pStorage = _ownStorage.get();
			_storageChosen = true;
		}
		return _pStorage;
	}

	struct MetricSeries
	/// One series: exactly one of the pointers is set.
	{
		Counter* counter = nullptr;
		Gauge* gauge = nullptr;
		Histogram* histogram = nullptr;
	};

	struct MetricFamily
	{
		MetricRules::Kind kind;
		std::vector<double> bounds;
	};

	MetricSeries obtainMetric(MetricRules::Kind kind, std::string_view name, const Labels& labels,
	                          std::vector<double> bounds)
	/// The host's registration rules (MetricRules): a refused registration gets a working object
	/// that is never listed, the same one when asked again, and is recorded and logged.
	{
		const std::string exported = MetricRules::exportedName(_pluginName, name);
		std::string error = MetricRules::checkSeries(kind, _pluginName, name, labels, &bounds);
		if (error.empty())
		{
			auto family = _families.find(exported);
			if (family != _families.end())
				error = MetricRules::checkReuse(family->second.kind, family->second.bounds, kind, bounds);
			else
				error = MetricRules::checkCollision(kind, exported, [this](const std::string& other) {
					auto it = _families.find(other);
					return it == _families.end() ? nullptr : &it->second.kind;
				});
		}
		const std::string key = MetricRules::seriesKey(exported, labels);
		if (error.empty())
		{
			_families.emplace(exported, MetricFamily{kind, bounds});
			auto it = _series.find(key);
			if (it == _series.end())
				it = _series.emplace(key, makeMetric(kind, bounds)).first;
			return it->second;
		}
		const std::string detachedKey = std::string(MetricRules::kindName(kind)) + "|" + key;
		auto it = _detached.find(detachedKey);
		if (it == _detached.end())
			it = _detached.emplace(detachedKey, makeMetric(kind, bounds)).first;
		std::string message = "metric " + MetricRules::describe(kind, exported, labels) + " not exported: " + error;
		log(LogLevel::LEVEL_WARNING, message);
		_registrationErrors.push_back(std::move(message));
		return it->second;
	}

	MetricSeries makeMetric(MetricRules::Kind kind, const std::vector<double>& bounds)
	{
		MetricSeries series;
		switch (kind)
		{
			case MetricRules::Kind::COUNTER:
				series.counter = &_counters.emplace_back();
				break;
			case MetricRules::Kind::GAUGE:
				series.gauge = &_gauges.emplace_back();
				break;
			case MetricRules::Kind::HISTOGRAM:
				series.histogram = &_histograms.emplace_back(bounds);
				break;
		}
		return series;
	}

	std::string seriesKeyOf(std::string_view name, const Labels& labels) const
	{
		return MetricRules::seriesKey(MetricRules::exportedName(_pluginName, name), labels);
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

	static bool isUtf8(std::string_view data) { return HttpText::isValidUtf8(data); }

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
	Config _reloaded; ///< the configuration of the last reconfigure(), or of start()

	std::string checkedConfig(const ConfigKey* keys, std::size_t count, std::map<std::string, std::string> values,
	                          Config& out) const
	{
		const std::string section = "[plugin." + _pluginName + "] ";
		const std::set<std::string> reserved(std::begin(ConfigRules::HOST_OWNED_PLUGIN_KEYS),
		                                     std::end(ConfigRules::HOST_OWNED_PLUGIN_KEYS));
		std::string problem = ConfigRules::checkDeclarations(keys, count, reserved);
		if (!problem.empty())
			return section + "invalid configuration declaration: " + problem;
		std::map<std::string, std::string, std::less<>> given;
		for (auto& entry : values)
		{
			if (reserved.count(entry.first) == 0)
				given.emplace(entry.first, std::move(entry.second));
		}
		std::map<std::string, std::string, std::less<>> effective;
		std::vector<std::string> errors;
		if (!ConfigRules::validateSection(keys, count, given, effective, errors))
		{
			std::string text;
			for (const std::string& error : errors)
				text += (text.empty() ? "" : "\n") + section + error;
			return text;
		}
		out = Config(std::move(effective));
		return {};
	}
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
	struct NameEntry
	{
		ConnectionId owner;
		std::string secret;
	};
	std::map<std::string, NameEntry, std::less<>> _names;
	std::vector<WatchCallback> _nameWatchers;
	struct RecordingChannel: public ClusterChannel
	{
		bool clustered() const noexcept override { return number != 0; }
		NodeNumber node() const noexcept override { return number; }
		void broadcast(std::string_view m) override
		{
			if (number != 0)
				sent.emplace_back(0, std::string(m));
		}
		void sendTo(NodeNumber to, std::string_view m) override
		{
			if (number != 0 && to != 0 && to != number)
				sent.emplace_back(to, std::string(m));
		}
		void listen(Listener l) override { listener = std::move(l); }
		NodeNumber number = 0;
		std::vector<std::pair<NodeNumber, std::string>> sent;
		Listener listener;
	};
	RecordingChannel _clusterChannel;
	int _lastRejectStatus = 0;
	std::string _lastRejectBody;

	std::map<TimerId, Timer> _timers;
	TimerId _nextTimerId = 1;
	std::uint64_t _timerSequence = 0;
	std::int64_t _monotonicMs = START_MONOTONIC_MS;
	std::int64_t _heldOpenMs = 0;
	std::string _dataDirectory = ".";
	std::int64_t _wallMs = START_WALL_MS;

	std::deque<Counter> _counters; // deques: the addresses handed out stay valid
	std::deque<Gauge> _gauges;
	std::deque<Histogram> _histograms;
	std::map<std::string, MetricFamily> _families; // exported name -> its kind and bounds
	std::map<std::string, MetricSeries> _series;   // series key -> listed objects
	std::map<std::string, MetricSeries> _detached; // "<kind>|<series key>" -> refused ones
	std::vector<std::string> _registrationErrors;
	std::vector<std::string> _logLines;
	LogLevel _logLevel = LogLevel::LEVEL_TRACE;
	std::uint64_t _random = DEFAULT_RANDOM_SEED;

	std::unique_ptr<Testing::SqliteTestStorage> _ownStorage; // made on first use
	Testing::SqliteTestStorage* _pStorage = nullptr;
	bool _storageChosen = false; // false: use (and make) _ownStorage
	FakeSetup _setup;
	StorageGate _storageGate;
};


} // namespace Switchboard


#endif // Switchboard_FakeHost_INCLUDED
