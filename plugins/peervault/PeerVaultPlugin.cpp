//
// PeerVaultPlugin.cpp
//


#include "PeerVaultPlugin.h"
#include "JsonText.h"
#include "ProcessFigures.h"
#include "TimeText.h"
#include "switchboard/util/Reconfigure.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"
#include <sodium.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>


namespace Switchboard {
namespace PeerVault {


namespace {


const char* const REASON_SHUTTING_DOWN = "Server shutting down";
const char* const REASON_LIMIT = "Connection limit reached";
const char* const REASON_AUTH = "Authentication failed";
const char* const REASON_RATE = "Rate limit exceeded";
const char* const REASON_PONG_TIMEOUT = "Pong timeout";
const char* const REASON_SLOW = "Slow consumer";

const char* const INVALID_MESSAGE = "INVALID_MESSAGE";
const char* const AUTH_FAILED = "AUTH_FAILED";
const char* const RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED";
const char* const FORMAT_INVALID = "Message format is invalid";
const char* const BAD_CREDENTIALS = "Invalid authentication credentials";
const char* const RATE_MESSAGE = "Rate limit exceeded. Please slow down your requests.";

constexpr std::int64_t DROP_WINDOW_MS = 10000;
constexpr std::size_t MAX_DROPS = 1000;
constexpr std::int64_t RATE_ERROR_SPACING_MS = 1000;
constexpr std::int64_t SHUTDOWN_CLOSE_WAIT_MS = 5000;
constexpr std::int64_t CLOSE_WAIT_MS = 1000;

// The keys a reload cannot change, and why (docs/protocols/peervault.md, "Reload (SIGHUP)").
const char* const FIXED_ENDPOINT = "the host enforces it through the /ws endpoint's options, fixed when start() "
                                   "registered the endpoint";
const FixedKey RESTART_KEYS[] = {
    {"websocket.timeouts.write", FIXED_ENDPOINT},
    {"websocket.timeouts.ping_period", FIXED_ENDPOINT},
    {"websocket.timeouts.pong_wait", FIXED_ENDPOINT},
    {"websocket.limits.max_message_size", FIXED_ENDPOINT},
    {"websocket.limits.send_queue_frames", FIXED_ENDPOINT},
    {"websocket.limits.send_queue_bytes", FIXED_ENDPOINT},
    {"websocket.auth.mode", "each connection's authentication state is set by the mode when it opens; a restart "
                            "makes every client connect again under the new mode"},
};

const char* const ENDPOINTS[] = {"/ws", "/ws/health", "/ws/metrics", "/ws/status", "/ws/publish"};


std::int64_t steadyMicros()
{
	return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}


std::string number(double value)
/// A JSON number: integers without a fraction, others with up to 4 decimals, never NaN or inf.
{
	if (!std::isfinite(value))
		return "0";
	char buffer[64];
	double rounded = std::round(value * 10000.0) / 10000.0;
	if (rounded == std::floor(rounded) && std::fabs(rounded) < 1e15)
		std::snprintf(buffer, sizeof(buffer), "%.0f", rounded);
	else
	{
		std::snprintf(buffer, sizeof(buffer), "%.4f", rounded);
		std::string text(buffer);
		while (!text.empty() && text.back() == '0')
			text.pop_back();
		return text;
	}
	return buffer;
}


std::string quoted(std::string_view text)
{
	std::string out;
	Json::appendString(out, text);
	return out;
}


bool stringMember(std::string_view object, std::string_view key, std::string& value, bool& present)
/// The member's string value; present says whether the member exists at all.
{
	std::string_view raw;
	present = JsonText::member(object, key, raw);
	return present && JsonText::stringValue(raw, value);
}


std::string bearerToken(const HttpRequest& request)
{
	std::string_view header = request.header("Authorization");
	if (header.size() > 7 && HttpText::equalsIgnoreCase(header.substr(0, 7), "Bearer "))
		return std::string(ConfigParse::trim(header.substr(7)));
	return std::string();
}


bool isJsonContentType(std::string_view value)
{
	std::string_view type = ConfigParse::trim(value.substr(0, value.find(';')));
	return HttpText::equalsIgnoreCase(type, "application/json");
}


} // namespace


const PluginDescriptor& peervaultDescriptor()
{
	static const PluginDescriptor descriptor = makeDescriptor<PeerVaultPlugin>(
	    "switchboard.protocol.peervault", "peervault", PROTOCOL_VERSION,
	    "PeerVault: pub/sub event API (topics, HTTP publish, live metrics and threshold alerts)",
	    PeerVaultSettings::keys(), PeerVaultSettings::keyCount());
	return descriptor;
}


PeerVaultPlugin::PeerVaultPlugin() = default;
PeerVaultPlugin::~PeerVaultPlugin() = default;


std::int64_t PeerVaultPlugin::nowMs() const
{
	return _pHost->clock().wallMs();
}


std::string PeerVaultPlugin::uptime() const
{
	return TimeText::formatUptime(_pHost->clock().monotonicMs() - _startedMs);
}


std::string PeerVaultPlugin::groupOf(Topic topic)
{
	return std::string("t:") + topicName(topic);
}


StartResult PeerVaultPlugin::start(Host& host, Setup& setup)
{
	_pHost = &host;
	for (int t = 0; t < TOPIC_COUNT; ++t)
		_pSubscribers[t] = &host.metrics().gauge("subscribers", "Connections on this node subscribed to a topic",
		                                         {{"topic", std::string(topicName(static_cast<Topic>(t)))}});
	PeerVaultSettings loaded;
	std::string error = loaded.load(host.config());
	if (!error.empty())
		return StartResult::failed(error);
	if (sodium_init() < 0)
		return StartResult::failed("libsodium could not be initialised");
	if (loaded.metricsStoragePath.empty())
		loaded.metricsStoragePath = std::string(host.dataDirectory());
	_startedMs = host.clock().monotonicMs();
	auto live = std::make_shared<const Live>(std::move(loaded), _startedMs);
	const PeerVaultSettings& settings = live->settings;
	{
		std::lock_guard<std::mutex> lock(_liveMutex);
		_pLive = live;
	}
	_alerts = std::make_unique<AlertTracker>(settings.thresholds);
	_lastTickMs = _startedMs;
	_lastCpuMicros = ProcessFigures::cpuTimeMicros();

	// Every answer is computed from memory (publish encodes once and hands the frame to the
	// router), so the routes run on the event loop: no worker hop per publish.
	auto handler = [this](const HttpRequest& request, HttpResponse& response) { dispatch(request, response); };
	if (!setup.addLoopRoute("*", "/*", handler))
		return StartResult::failed("cannot register the HTTP endpoints");

	WebSocketOptions options;
	options.maxMessageSize = settings.maxMessageSize;
	options.idleTimeoutMs = settings.pongWaitMs;
	options.idleCloseCode = CloseCode::GOING_AWAY;
	options.idleCloseReason = REASON_PONG_TIMEOUT;
	options.pingIntervalMs = settings.pingPeriodMs;
	options.maxOutputQueue = settings.sendQueueBytes;
	options.maxOutputMessages = settings.sendQueueFrames;
	options.overflowCloseCode = 1013;
	options.overflowCloseReason = REASON_SLOW;
	options.sendStallTimeoutMs = std::min<std::int64_t>(settings.writeTimeoutMs, 3600000);
	// After our close frame (pong timeout, auth failure, flood) the peer has 1 s to answer, as the
	// contract gives a slow consumer's close, then TCP is dropped.
	options.closeTimeoutMs = CLOSE_WAIT_MS;
	options.shutdownCloseTimeoutMs = SHUTDOWN_CLOSE_WAIT_MS;
	options.deliverPings = true;      // client Pings count against the message rate
	options.acceptInvalidText = true; // bad UTF-8 is answered with INVALID_MESSAGE, the socket kept
	options.pingOnSchedule = true;    // a Ping every period, busy or not
	if (!setup.addWebSocket("/ws", *this, options))
		return StartResult::failed("cannot register the WebSocket endpoint /ws");

	if (settings.metricsIntervalMs > 0)
		_ticker = host.every(settings.metricsIntervalMs, [this] { tick(); });
	return StartResult::started();
}


void PeerVaultPlugin::stopping()
{
	_shuttingDown = true;
	std::vector<ConnectionId> open;
	{
		std::lock_guard<std::mutex> lock(_clientsMutex);
		for (const auto& entry : _clients)
			open.push_back(entry.first);
	}
	for (ConnectionId id : open)
		_pHost->router().close(id, CloseCode::GOING_AWAY, REASON_SHUTTING_DOWN);
}


void PeerVaultPlugin::stop()
{
	if (_ticker)
		_pHost->cancel(_ticker);
	_ticker = 0;
}


ReconfigureResult PeerVaultPlugin::reconfigure(const Config& config, const std::vector<std::string>& changedKeys)
{
	// Check everything first: nothing is applied unless all of it can be.
	if (std::string why = fixedKeyChanged(changedKeys, RESTART_KEYS); !why.empty())
		return ReconfigureResult::needsRestart(why);
	PeerVaultSettings fresh;
	std::string error = fresh.load(config);
	if (!error.empty())
		return ReconfigureResult::needsRestart(error);
	if (fresh.metricsStoragePath.empty())
		fresh.metricsStoragePath = std::string(_pHost->dataDirectory());

	const std::int64_t nowMs = _pHost->clock().monotonicMs();
	const std::shared_ptr<const Live> before = current();
	auto next = std::make_shared<const Live>(std::move(fresh), nowMs);
	const PeerVaultSettings& was = before->settings;
	const PeerVaultSettings& now = next->settings;
	{
		// Under _publishMutex, where publish() reads both: each credential's bucket keeps its level
		// (refilled at the old rate until now, cut to the new burst), then the new settings apply.
		// Connection buckets settle on their own loop (takeToken), from next->sinceMs.
		std::lock_guard<std::mutex> lock(_publishMutex);
		for (auto& entry : _publishBuckets)
		{
			Bucket& bucket = entry.second;
			bucket.tokens =
			    std::min(was.publishBurst, bucket.tokens + (nowMs - bucket.lastMs) * was.publishPerSecond / 1000.0);
			bucket.tokens = std::min(bucket.tokens, now.publishBurst);
			bucket.lastMs = nowMs;
		}
		std::lock_guard<std::mutex> liveLock(_liveMutex);
		_pLive = next;
	}
	if (now.metricsIntervalMs != was.metricsIntervalMs)
	{
		// Both timers are made here or in start(), on the main thread, so both run on the first
		// loop: a tick of the old one still running cannot overlap one of the new.
		if (_ticker)
			_pHost->cancel(_ticker);
		_ticker = now.metricsIntervalMs > 0 ? _pHost->every(now.metricsIntervalMs, [this] { tick(); }) : 0;
	}
	std::string keys;
	for (const std::string& key : changedKeys)
		keys += (keys.empty() ? "" : ", ") + key;
	_pHost->logger().log(LogLevel::LEVEL_INFO, "peervault: reload applied live: " + keys);
	return ReconfigureResult::done();
}


std::shared_ptr<const PeerVaultPlugin::Live> PeerVaultPlugin::current() const
{
	std::lock_guard<std::mutex> lock(_liveMutex);
	return _pLive;
}


// --- HTTP ---------------------------------------------------------------------------------------


bool PeerVaultPlugin::originAllowed(const PeerVaultSettings& settings, std::string_view origin) const
{
	std::string lowered(origin);
	std::transform(lowered.begin(), lowered.end(), lowered.begin(),
	               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	for (const std::string& allowed : settings.corsOrigins)
	{
		if (allowed == "*" || allowed == lowered)
			return true;
	}
	return false;
}


void PeerVaultPlugin::corsHeaders(const HttpRequest& request, HttpResponse& response) const
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	if (!settings.corsEnabled)
		return;
	const bool any =
	    std::find(settings.corsOrigins.begin(), settings.corsOrigins.end(), "*") != settings.corsOrigins.end();
	std::string_view origin = request.header("Origin");
	if (any)
		response.setHeader("Access-Control-Allow-Origin", "*");
	else
	{
		// A listed origin is echoed; an unlisted one (or none) gets no CORS headers at all.
		response.setHeader("Vary", "Origin");
		if (origin.empty() || !originAllowed(settings, origin))
			return;
		response.setHeader("Access-Control-Allow-Origin", std::string(origin));
	}
	response.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	response.setHeader("Access-Control-Allow-Headers", "Content-Type, Authorization");
	response.setHeader("Access-Control-Max-Age", "600");
}


void PeerVaultPlugin::httpError(HttpResponse& response, int status, std::string_view code, std::string_view message,
                                std::int64_t retryAfter) const
{
	response.json(status, errorFrame(code, message, nowMs(), retryAfter));
	response.setHeader("Cache-Control", "no-store");
}


void PeerVaultPlugin::dispatch(const HttpRequest& request, HttpResponse& response)
{
	const std::int64_t started = steadyMicros();
	std::string_view path(request.path);
	std::string_view prefix = _pHost->mountPrefix();
	if (!prefix.empty() && prefix != "/" && path.substr(0, prefix.size()) == prefix)
		path.remove_prefix(prefix.size());
	const std::string& method = request.method;
	const bool known = std::find(std::begin(ENDPOINTS), std::end(ENDPOINTS), path) != std::end(ENDPOINTS);
	if (!known)
		httpError(response, 404, "NOT_FOUND", "Not found");
	else if (method == "OPTIONS")
	{
		response.status = 204;
		response.body.clear();
	}
	else if (path == "/ws/publish")
	{
		if (method == "POST")
			publish(request, response);
		else
		{
			httpError(response, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
			response.setHeader("Allow", "POST, OPTIONS");
		}
	}
	else if (method != "GET" && method != "HEAD")
	{
		httpError(response, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
		response.setHeader("Allow", "GET, HEAD, OPTIONS");
	}
	else if (path == "/ws")
		httpError(response, 400, INVALID_MESSAGE, "WebSocket upgrade required");
	else if (path == "/ws/health")
		health(response);
	else if (path == "/ws/metrics")
		metrics(response);
	else
		status(response);
	corsHeaders(request, response);
	_window.handled.fetch_add(1, std::memory_order_relaxed);
	_window.handlingMicros.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, steadyMicros() - started)),
	                                 std::memory_order_relaxed);
}


void PeerVaultPlugin::health(HttpResponse& response)
{
	const bool healthy = !_shuttingDown;
	std::string body = "{\"status\":";
	body += healthy ? "\"healthy\"" : "\"unhealthy\"";
	body += ",\"timestamp\":\"";
	TimeText::appendTimestamp(body, nowMs());
	body += "\",\"uptime\":" + quoted(uptime()) + ",\"version\":\"" + PROTOCOL_VERSION + "\"}";
	response.json(healthy ? 200 : 503, body);
	response.setHeader("Cache-Control", "no-store");
}


void PeerVaultPlugin::metrics(HttpResponse& response)
{
	std::string body = "{\"fileserver\":{\"status\":";
	body += _shuttingDown ? "\"stopped\"" : "\"running\"";
	body += "},\"timestamp\":\"";
	TimeText::appendTimestamp(body, nowMs());
	body += "\",\"websocket\":{\"active_connections\":" + std::to_string(_active.load()) +
	        ",\"total_connections\":" + std::to_string(_total.load()) + ",\"uptime\":" + quoted(uptime()) +
	        ",\"rejected_connections\":" + std::to_string(_rejected.load()) +
	        ",\"messages_received\":" + std::to_string(_messagesIn.load()) +
	        ",\"messages_sent\":" + std::to_string(_messagesOut.load()) +
	        ",\"bytes_received\":" + std::to_string(_bytesIn.load()) +
	        ",\"bytes_sent\":" + std::to_string(_bytesOut.load()) +
	        ",\"events_published\":" + std::to_string(_eventsPublished.load()) + ",\"subscriptions\":{";
	for (int t = 0; t < TOPIC_COUNT; ++t)
	{
		Topic topic = static_cast<Topic>(t);
		body += (t ? ",\"" : "\"") + std::string(topicName(topic)) +
		        "\":" + std::to_string(_pHost->router().groupSize(groupOf(topic)));
	}
	body += "}}}";
	response.json(200, body);
	response.setHeader("Cache-Control", "no-store");
}


void PeerVaultPlugin::status(HttpResponse& response)
{
	std::string body = "{\"server\":{\"name\":\"PeerVault WebSocket API\",\"status\":";
	body += _shuttingDown ? "\"stopping\"" : "\"running\"";
	body += ",\"uptime\":" + quoted(uptime()) + ",\"version\":\"" + PROTOCOL_VERSION + "\"},\"timestamp\":\"";
	TimeText::appendTimestamp(body, nowMs());
	body += "\",\"websocket\":{\"active_connections\":" + std::to_string(_active.load()) + ",\"endpoints\":[";
	for (std::size_t i = 0; i < std::size(ENDPOINTS); ++i)
		body += (i ? ",\"" : "\"") + std::string(ENDPOINTS[i]) + "\"";
	body += "]}}";
	response.json(200, body);
	response.setHeader("Cache-Control", "no-store");
}


void PeerVaultPlugin::publish(const HttpRequest& request, HttpResponse& response)
{
	const std::shared_ptr<const Live> live = current();
	if (!live->auth.canPublish())
		return httpError(response, 403, AUTH_FAILED, "Publishing is disabled");
	Identity identity;
	const std::string token = bearerToken(request);
	if (token.empty() || !live->auth.check(token, nowMs(), identity))
	{
		httpError(response, 401, AUTH_FAILED, BAD_CREDENTIALS);
		response.setHeader("WWW-Authenticate", "Bearer");
		return;
	}
	if (!identity.hasScope("publish"))
		return httpError(response, 403, AUTH_FAILED, "Token lacks the 'publish' scope");
	{
		// One bucket per credential: a static token's name or a JWT's subject.
		std::lock_guard<std::mutex> lock(_publishMutex);
		// Read again under the lock: a reload settles the buckets and swaps the settings under it.
		const std::shared_ptr<const Live> latest = current();
		const PeerVaultSettings& rates = latest->settings;
		const std::int64_t now = _pHost->clock().monotonicMs();
		auto inserted = _publishBuckets.emplace(identity.subject, Bucket{rates.publishBurst, now});
		Bucket& bucket = inserted.first->second;
		bucket.tokens =
		    std::min(rates.publishBurst, bucket.tokens + (now - bucket.lastMs) * rates.publishPerSecond / 1000.0);
		bucket.lastMs = now;
		if (bucket.tokens < 1)
		{
			const std::int64_t retry = std::max<std::int64_t>(
			    1, static_cast<std::int64_t>(std::ceil((1 - bucket.tokens) / rates.publishPerSecond)));
			httpError(response, 429, RATE_LIMIT_EXCEEDED, RATE_MESSAGE, retry);
			response.setHeader("Retry-After", std::to_string(retry));
			return;
		}
		bucket.tokens -= 1;
		if (_publishBuckets.size() > 10000)
			_publishBuckets.clear(); // credentials are configured or signed: this bounds a JWT subject flood
	}
	if (static_cast<std::int64_t>(request.body.size()) > live->settings.maxMessageSize)
		return httpError(response, 413, INVALID_MESSAGE, "Message too large");
	if (!isJsonContentType(request.header("Content-Type")))
		return httpError(response, 415, INVALID_MESSAGE, "Content-Type must be application/json");
	PublishedEvent event;
	PublishError problem;
	const std::int64_t now = nowMs();
	if (!readPublish(request.body, now, event, problem))
		return httpError(response, 400, INVALID_MESSAGE, problem.message);
	const std::size_t delivered = _pHost->router().publish(groupOf(event.topic), event.frame);
	_eventsPublished.fetch_add(1, std::memory_order_relaxed);
	_messagesOut.fetch_add(delivered, std::memory_order_relaxed);
	_bytesOut.fetch_add(delivered * event.frame.size(), std::memory_order_relaxed);
	std::string body = "{\"status\":\"accepted\",\"type\":" + quoted(event.type) + ",\"topic\":\"" +
	                   topicName(event.topic) + "\",\"delivered\":" + std::to_string(delivered) + ",\"timestamp\":\"";
	TimeText::appendTimestamp(body, now);
	body += "\"}";
	response.json(202, body);
	response.setHeader("Cache-Control", "no-store");
}


// --- WebSocket ----------------------------------------------------------------------------------


AcceptDecision PeerVaultPlugin::onAccept(const HttpRequest& request)
{
	if (request.hasHeader("Origin") && !originAllowed(current()->settings, request.header("Origin")))
		return AcceptDecision::reject(403, errorFrame("ORIGIN_NOT_ALLOWED", "Origin not allowed", nowMs()));
	return AcceptDecision::accept();
}


void PeerVaultPlugin::sendFrame(Connection& connection, const std::string& frame)
{
	if (connection.send(frame) == SendResult::QUEUED)
	{
		_messagesOut.fetch_add(1, std::memory_order_relaxed);
		_bytesOut.fetch_add(frame.size(), std::memory_order_relaxed);
	}
}


void PeerVaultPlugin::sendError(Connection& connection, std::string_view code, std::string_view message,
                                std::int64_t retryAfter)
{
	sendFrame(connection, errorFrame(code, message, nowMs(), retryAfter));
}


void PeerVaultPlugin::refuse(Connection& connection, std::uint16_t code, const char* reason)
{
	_rejected.fetch_add(1, std::memory_order_relaxed);
	sendError(connection, "CONNECTION_REFUSED", "Server is not accepting connections");
	connection.close(code, reason);
}


void PeerVaultPlugin::onOpen(Connection& connection, const HttpRequest& request)
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	// The cap and shutdown first: a refused connection is in neither active nor total.
	if (_shuttingDown)
		return refuse(connection, CloseCode::GOING_AWAY, REASON_SHUTTING_DOWN);
	std::int64_t active = _active.load();
	do
	{
		if (active >= settings.maxConnections)
			return refuse(connection, 1013, REASON_LIMIT);
	} while (!_active.compare_exchange_weak(active, active + 1));

	Client& client = connection.emplaceState<Client>();
	client.counted = true;
	unsigned char idBytes[16];
	_pHost->randomBytes(idBytes, sizeof(idBytes));
	static const char HEX[] = "0123456789abcdef";
	for (unsigned char b : idBytes)
	{
		client.clientId.push_back(HEX[b >> 4]);
		client.clientId.push_back(HEX[b & 15]);
	}
	client.tokens = settings.burst;
	client.bucketMs = _pHost->clock().monotonicMs();
	client.rate = settings.messagesPerSecond;
	client.burst = settings.burst;
	{
		std::lock_guard<std::mutex> lock(_clientsMutex);
		_clients.emplace(connection.id(), true);
	}
	_total.fetch_add(1, std::memory_order_relaxed);

	if (settings.authMode == AuthMode::OFF)
		return;
	std::string token = request.queryParam("token");
	if (token.empty())
		token = bearerToken(request);
	Identity identity;
	if (!token.empty() && live->auth.check(token, nowMs(), identity))
		return authenticate(connection, client, identity);
	if (!token.empty())
	{
		sendError(connection, AUTH_FAILED, BAD_CREDENTIALS);
		if (settings.authMode == AuthMode::REQUIRED)
			connection.close(CloseCode::POLICY_VIOLATION, REASON_AUTH);
		return;
	}
	if (settings.authMode == AuthMode::REQUIRED)
	{
		client.auth = AuthState::PENDING;
		const ConnectionId id = connection.id();
		_pHost->after(settings.authTimeoutMs, [this, id] {
			_pHost->runOn(id, [this](Connection& c) {
				Client* state = c.stateAs<Client>();
				if (state && state->auth == AuthState::PENDING)
				{
					sendError(c, AUTH_FAILED, "Authentication timeout");
					c.close(CloseCode::POLICY_VIOLATION, REASON_AUTH);
				}
			});
		});
	}
}


void PeerVaultPlugin::authenticate(Connection& connection, Client& client, const Identity& identity)
{
	client.auth = AuthState::AUTHENTICATED;
	client.identity = identity;
	++client.authGeneration;
	scheduleExpiry(connection.id(), client);
}


void PeerVaultPlugin::scheduleExpiry(ConnectionId id, const Client& client)
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	if (client.identity.expiresAtMs <= 0)
		return;
	const std::int64_t due = client.identity.expiresAtMs + settings.jwt.leewayMs - nowMs();
	const std::uint64_t generation = client.authGeneration;
	_pHost->after(std::max<std::int64_t>(1, due + 1), [this, id, generation] {
		_pHost->runOn(id, [this, generation](Connection& c) {
			if (Client* state = c.stateAs<Client>())
				expire(c, *state, generation);
		});
	});
}


void PeerVaultPlugin::expire(Connection& connection, Client& client, std::uint64_t generation)
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	if (client.auth != AuthState::AUTHENTICATED || client.authGeneration != generation)
		return;
	sendError(connection, AUTH_FAILED, "Token expired");
	if (settings.authMode == AuthMode::REQUIRED)
	{
		client.auth = AuthState::PENDING;
		connection.close(CloseCode::POLICY_VIOLATION, REASON_AUTH);
		return;
	}
	// Optional mode: anonymous from now on, without the topics that need a scope.
	client.auth = AuthState::ANONYMOUS;
	client.identity = Identity();
	++client.authGeneration;
	for (int t = 0; t < TOPIC_COUNT; ++t)
	{
		if (client.subscribed[t] && !settings.topicScopes[t].empty())
		{
			client.subscribed[t] = false;
			_pSubscribers[t]->add(-1);
			_pHost->router().leave(groupOf(static_cast<Topic>(t)), connection.id());
		}
	}
}


bool PeerVaultPlugin::takeToken(const Live& live, Client& client, std::int64_t nowMs)
{
	const PeerVaultSettings& settings = live.settings;
	if (client.rate != settings.messagesPerSecond || client.burst != settings.burst)
	{
		// A reload changed the rate: the old one refilled until the reload, the new one from
		// then on, and the level is cut to the new burst (no free refill, no reset).
		const std::int64_t until = std::max(client.bucketMs, std::min(nowMs, live.sinceMs));
		client.tokens = std::min(client.burst, client.tokens + (until - client.bucketMs) * client.rate / 1000.0);
		client.tokens = std::min(client.tokens, settings.burst);
		client.bucketMs = until;
		client.rate = settings.messagesPerSecond;
		client.burst = settings.burst;
	}
	client.tokens =
	    std::min(settings.burst, client.tokens + (nowMs - client.bucketMs) * settings.messagesPerSecond / 1000.0);
	client.bucketMs = nowMs;
	if (client.tokens >= 1)
	{
		client.tokens -= 1;
		return true;
	}
	return false;
}


void PeerVaultPlugin::onMessage(Connection& connection, std::string_view data, MessageKind kind)
{
	Client* client = connection.stateAs<Client>();
	if (client == nullptr)
		return; // refused at open: closing
	const std::int64_t started = steadyMicros();
	const std::int64_t now = _pHost->clock().monotonicMs();
	const std::shared_ptr<const Live> live = current();
	if (!takeToken(*live, *client, now))
	{
		// Dropped unprocessed; one error a second at most; a sustained flood ends the connection.
		auto& drops = client->dropsMs;
		while (!drops.empty() && drops.front() <= now - DROP_WINDOW_MS)
			drops.pop_front();
		drops.push_back(now);
		if (drops.size() > MAX_DROPS)
		{
			connection.close(CloseCode::POLICY_VIOLATION, REASON_RATE);
			return;
		}
		if (client->lastRateErrorMs < 0 || now - client->lastRateErrorMs >= RATE_ERROR_SPACING_MS)
		{
			client->lastRateErrorMs = now;
			const double missing = 1 - client->tokens;
			const std::int64_t retry = std::max<std::int64_t>(
			    1, static_cast<std::int64_t>(std::ceil(missing / live->settings.messagesPerSecond)));
			sendError(connection, RATE_LIMIT_EXCEEDED, RATE_MESSAGE, retry);
		}
		return;
	}
	if (kind == MessageKind::PING)
	{
		connection.sendPong(data);
		return;
	}
	_messagesIn.fetch_add(1, std::memory_order_relaxed);
	_bytesIn.fetch_add(data.size(), std::memory_order_relaxed);
	onFrame(connection, *client, data);
	_window.handled.fetch_add(1, std::memory_order_relaxed);
	_window.handlingMicros.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, steadyMicros() - started)),
	                                 std::memory_order_relaxed);
}


void PeerVaultPlugin::onFrame(Connection& connection, Client& client, std::string_view data)
{
	std::string_view typeToken, topicToken;
	std::string type;
	const bool wellFormed = HttpText::isValidUtf8(data) && JsonText::isValid(data) &&
	                        JsonText::member(data, "type", typeToken) && JsonText::stringValue(typeToken, type) &&
	                        (!JsonText::member(data, "topic", topicToken) || topicToken.front() == '"');
	if (!wellFormed)
		return sendError(connection, INVALID_MESSAGE, FORMAT_INVALID);
	const bool isPing = type == "ping";
	if (client.auth == AuthState::PENDING && !isPing && type != "auth")
	{
		sendError(connection, AUTH_FAILED, "Authentication required");
		connection.close(CloseCode::POLICY_VIOLATION, REASON_AUTH);
		return;
	}
	if (isPing)
	{
		std::string pong = "{\"type\":\"pong\",\"timestamp\":\"";
		TimeText::appendTimestamp(pong, nowMs());
		pong += "\",\"clientId\":\"" + client.clientId + "\"}";
		return sendFrame(connection, pong);
	}
	if (type == "subscribe" || type == "unsubscribe")
		return onSubscribe(connection, client, data, type == "subscribe");
	if (type == "auth")
		return onAuth(connection, client, data);
	if (type == "pong")
		return; // some clients echo: ignored
	sendError(connection, INVALID_MESSAGE, "Unknown message type '" + truncateEcho(type) + "'");
}


void PeerVaultPlugin::onSubscribe(Connection& connection, Client& client, std::string_view frame, bool subscribe)
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	// The topic: top-level "topic", else "data" as a string, else "data.topic".
	std::string name;
	bool present = false;
	bool found = stringMember(frame, "topic", name, present);
	std::string_view dataToken;
	if (!found && JsonText::member(frame, "data", dataToken))
	{
		found = JsonText::stringValue(dataToken, name);
		if (!found && dataToken.front() == '{')
			found = stringMember(dataToken, "topic", name, present);
	}
	if (!found)
		return sendError(connection, INVALID_MESSAGE, "Missing topic");
	Topic topic;
	if (!parseTopic(name, topic))
		return sendError(connection, INVALID_MESSAGE, "Unknown topic '" + truncateEcho(name) + "'");
	const int index = static_cast<int>(topic);
	if (subscribe && settings.authMode != AuthMode::OFF && !settings.topicScopes[index].empty() &&
	    !(client.auth == AuthState::AUTHENTICATED && client.identity.hasScope(settings.topicScopes[index])))
		return sendError(connection, AUTH_FAILED, "Not authorized for topic '" + truncateEcho(name) + "'");
	if (subscribe && !client.subscribed[index])
		_pHost->router().join(groupOf(topic), connection.id());
	else if (!subscribe && client.subscribed[index])
		_pHost->router().leave(groupOf(topic), connection.id());
	if (subscribe != client.subscribed[index])
		_pSubscribers[index]->add(subscribe ? 1 : -1);
	client.subscribed[index] = subscribe;
	if (settings.ackSubscriptions)
	{
		std::string ack =
		    subscribe ? "{\"type\":\"subscribed\",\"topic\":\"" : "{\"type\":\"unsubscribed\",\"topic\":\"";
		ack += topicName(topic);
		ack += "\",\"timestamp\":\"";
		TimeText::appendTimestamp(ack, nowMs());
		ack += "\"}";
		sendFrame(connection, ack);
	}
}


void PeerVaultPlugin::onAuth(Connection& connection, Client& client, std::string_view frame)
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	std::string reply = "{\"type\":\"authenticated\",\"data\":{\"subject\":";
	if (settings.authMode == AuthMode::OFF)
	{
		reply += "null,\"scopes\":[]},\"timestamp\":\"";
		TimeText::appendTimestamp(reply, nowMs());
		reply += "\",\"clientId\":\"" + client.clientId + "\"}";
		return sendFrame(connection, reply);
	}
	if (client.auth == AuthState::AUTHENTICATED)
		return sendError(connection, INVALID_MESSAGE, "Already authenticated");
	// The token: data.token, else data as the token itself, else a top-level "token".
	std::string token;
	bool present = false;
	std::string_view dataToken;
	bool found = false;
	if (JsonText::member(frame, "data", dataToken))
	{
		found = JsonText::stringValue(dataToken, token);
		if (!found && dataToken.front() == '{')
			found = stringMember(dataToken, "token", token, present);
	}
	if (!found)
		found = stringMember(frame, "token", token, present);
	Identity identity;
	if (!found || token.empty() || !live->auth.check(token, nowMs(), identity))
	{
		sendError(connection, AUTH_FAILED, BAD_CREDENTIALS);
		if (settings.authMode == AuthMode::REQUIRED)
			connection.close(CloseCode::POLICY_VIOLATION, REASON_AUTH);
		return;
	}
	authenticate(connection, client, identity);
	if (identity.subject.empty())
		reply += "null";
	else
		Json::appendString(reply, identity.subject);
	reply += ",\"scopes\":[";
	for (std::size_t i = 0; i < identity.scopes.size(); ++i)
	{
		if (i)
			reply += ',';
		Json::appendString(reply, identity.scopes[i]);
	}
	reply += "]},\"timestamp\":\"";
	TimeText::appendTimestamp(reply, nowMs());
	reply += "\",\"clientId\":\"" + client.clientId + "\"}";
	sendFrame(connection, reply);
}


void PeerVaultPlugin::onClose(Connection& connection, std::uint16_t, std::string_view)
{
	Client* client = connection.stateAs<Client>();
	if (client != nullptr)
	{
		for (int t = 0; t < TOPIC_COUNT; ++t)
		{
			if (client->subscribed[t])
				_pSubscribers[t]->add(-1);
			client->subscribed[t] = false;
		}
	}
	if (client == nullptr || !client->counted)
		return;
	client->counted = false;
	_active.fetch_sub(1, std::memory_order_relaxed);
	std::lock_guard<std::mutex> lock(_clientsMutex);
	_clients.erase(connection.id());
}


// --- figures ------------------------------------------------------------------------------------


std::string PeerVaultPlugin::systemMetricsData(const std::string& storagePath, double intervalSeconds,
                                               double& memoryUsage, double& cpuUsage, double& averageResponseMs,
                                               double& storageUsage, bool& storageKnown)
{
	std::string data;
	ProcessFigures::DiskSpace space;
	storageKnown = ProcessFigures::diskSpace(storagePath, space);
	storageUsage = storageKnown && space.totalBytes > 0 ? 100.0 * space.usedBytes / space.totalBytes : 0;
	if (storageKnown)
		data += "\"storage\":{\"totalSpace\":" + std::to_string(space.totalBytes) +
		        ",\"usedSpace\":" + std::to_string(space.usedBytes) +
		        ",\"availableSpace\":" + std::to_string(space.availableBytes) + "},";

	const std::uint64_t in = _messagesIn.load(), out = _messagesOut.load();
	const std::uint64_t bytesIn = _bytesIn.load(), bytesOut = _bytesOut.load();
	const std::uint64_t messages = in + out;
	const double messagesPerSecond = intervalSeconds > 0 ? (messages - _lastMessages) / intervalSeconds : 0;
	_lastMessages = messages;
	data += "\"network\":{\"activeConnections\":" + std::to_string(_active.load()) +
	        ",\"totalConnections\":" + std::to_string(_total.load()) +
	        ",\"totalBytesTransferred\":" + std::to_string(bytesIn + bytesOut) +
	        ",\"bytesSent\":" + std::to_string(bytesOut) + ",\"bytesReceived\":" + std::to_string(bytesIn) +
	        ",\"messagesSent\":" + std::to_string(out) + ",\"messagesReceived\":" + std::to_string(in) +
	        ",\"messagesPerSecond\":" + number(messagesPerSecond) + "},";

	const std::uint64_t handled = _window.handled.exchange(0);
	const std::uint64_t micros = _window.handlingMicros.exchange(0);
	averageResponseMs = handled ? micros / 1000.0 / handled : 0;
	const double requestsPerSecond = intervalSeconds > 0 ? handled / intervalSeconds : 0;
	const std::int64_t rss = ProcessFigures::residentBytes();
	const std::int64_t physical = ProcessFigures::physicalMemoryBytes();
	memoryUsage = physical > 0 ? 100.0 * rss / physical : 0;
	const std::int64_t cpu = ProcessFigures::cpuTimeMicros();
	cpuUsage =
	    intervalSeconds > 0 ? 100.0 * (cpu - _lastCpuMicros) / 1e6 / (intervalSeconds * ProcessFigures::cpuCount()) : 0;
	_lastCpuMicros = cpu;
	const double uptimeSeconds = (_pHost->clock().monotonicMs() - _startedMs) / 1000.0;
	data += "\"performance\":{\"averageResponseTime\":" + number(averageResponseMs) +
	        ",\"requestsPerSecond\":" + number(requestsPerSecond) + ",\"memoryUsage\":" + number(memoryUsage) +
	        ",\"memoryRss\":" + std::to_string(rss) + ",\"cpuUsage\":" + number(cpuUsage) +
	        ",\"uptime\":" + number(uptimeSeconds) + "}";
	return data;
}


void PeerVaultPlugin::tick()
{
	const std::shared_ptr<const Live> live = current();
	const PeerVaultSettings& settings = live->settings;
	_alerts->setThresholds(settings.thresholds); // the tracker is the ticker's: a reload's reach it here
	const std::int64_t monotonic = _pHost->clock().monotonicMs();
	const double intervalSeconds = (monotonic - _lastTickMs) / 1000.0;
	_lastTickMs = monotonic;
	double memoryUsage = 0, cpuUsage = 0, averageResponseMs = 0, storageUsage = 0;
	bool storageKnown = false;
	const std::string data = systemMetricsData(settings.metricsStoragePath, intervalSeconds, memoryUsage, cpuUsage,
	                                           averageResponseMs, storageUsage, storageKnown);

	const std::string group = groupOf(Topic::SYSTEM);
	if (_pHost->router().groupSize(group) > 0)
	{
		const std::int64_t now = nowMs();
		auto send = [&](const char* type, std::string_view members) {
			const std::string frame = eventFrame(type, Topic::SYSTEM, members, now);
			// Figures of this node, for its own subscribers: other nodes publish their own.
			const std::size_t delivered = _pHost->router().publishLocal(group, frame);
			_eventsPublished.fetch_add(1, std::memory_order_relaxed);
			_messagesOut.fetch_add(delivered, std::memory_order_relaxed);
			_bytesOut.fetch_add(delivered * frame.size(), std::memory_order_relaxed);
		};
		send("system_metrics", data);
		if (settings.metricsDetailed)
		{
			// Each detail event holds the fields of one part of the summary.
			auto part = [&data](const char* key) {
				std::string_view object;
				std::string whole = "{" + data + "}";
				if (!JsonText::member(whole, key, object) || object.size() < 2)
					return std::string();
				return std::string(object.substr(1, object.size() - 2));
			};
			if (storageKnown)
				send("storage_metrics", part("storage"));
			send("network_metrics", part("network"));
			send("performance_metrics", part("performance"));
		}
	}

	const double connectionUsage = settings.maxConnections > 0 ? 100.0 * _active.load() / settings.maxConnections : 0;
	raiseAlert(AlertMetric::MEMORY_USAGE, memoryUsage);
	raiseAlert(AlertMetric::CPU_USAGE, cpuUsage);
	raiseAlert(AlertMetric::CONNECTION_USAGE, connectionUsage);
	raiseAlert(AlertMetric::AVERAGE_RESPONSE_TIME, averageResponseMs);
	if (storageKnown)
		raiseAlert(AlertMetric::STORAGE_USAGE, storageUsage);
}


void PeerVaultPlugin::raiseAlert(AlertMetric metric, double value)
{
	Alert alert;
	if (!_alerts->evaluate(metric, value, alert))
		return;
	std::string members = "\"level\":" + quoted(alert.level) + ",\"message\":" + quoted(alert.message) +
	                      ",\"metric\":\"" + alertMetricName(metric) + "\",\"value\":" + number(value) +
	                      ",\"threshold\":" + number(alert.threshold);
	const std::string frame = eventFrame(alertType(metric), Topic::ALERTS, members, nowMs());
	// About this node's figures, like the ticker: to this node's subscribers (docs/cluster.md).
	const std::size_t delivered = _pHost->router().publishLocal(groupOf(Topic::ALERTS), frame);
	_eventsPublished.fetch_add(1, std::memory_order_relaxed);
	_messagesOut.fetch_add(delivered, std::memory_order_relaxed);
	_bytesOut.fetch_add(delivered * frame.size(), std::memory_order_relaxed);
}


} // namespace PeerVault
} // namespace Switchboard
