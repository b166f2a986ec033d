//
// PeerJsPlugin.cpp
//


#include "PeerJsPlugin.h"
#include "switchboard/util/Reconfigure.h"
#include "Envelope.h"
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <shared_mutex>
#include <utility>


namespace Switchboard {
namespace PeerJs {


namespace {

// Byte for byte what the reference sends (docs/protocols/peerjs.md §4.1, §5.2, §16).
const char ROOT_BODY[] = "{\"name\":\"PeerJS Server\",\"description\":\"A server side element to broker connections "
                         "between PeerJS clients.\",\"website\":\"https://peerjs.com/\"}";
const char OPEN_FRAME[] = "{\"type\":\"OPEN\"}";
const char ID_TAKEN_FRAME[] = "{\"type\":\"ID-TAKEN\",\"payload\":{\"msg\":\"ID is taken\"}}";
const char NO_ID_FRAME[] =
    "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"No id, token, or key supplied to websocket server\"}}";
const char BAD_KEY_FRAME[] = "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Invalid key provided\"}}";
const char BAD_TOKEN_FRAME[] = "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Invalid token provided\"}}";
const char ORIGIN_FRAME[] = "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Origin not allowed\"}}";
const char LIMIT_FRAME[] =
    "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Server has reached its concurrent user limit\"}}";
const char INVALID_MESSAGE_FRAME[] = "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Invalid message\"}}";
// Cluster mode only: Redis could not be reached to make the id unique (docs/cluster.md).
const char UNAVAILABLE_FRAME[] =
    "{\"type\":\"ERROR\",\"payload\":{\"msg\":\"Server is temporarily unavailable, try again\"}}";

// The relayed types, in the order of the per-type counters.
const char* const RELAY_TYPES[] = {"OFFER", "ANSWER", "CANDIDATE", "LEAVE", "EXPIRE"};

int relayIndex(std::string_view type)
/// The index in RELAY_TYPES, or -1. By length first: one comparison per message.
{
	switch (type.size())
	{
		case 5:
			return type == "OFFER" ? 0 : type == "LEAVE" ? 3 : -1;
		case 6:
			return type == "ANSWER" ? 1 : type == "EXPIRE" ? 4 : -1;
		case 9:
			return type == "CANDIDATE" ? 2 : -1;
		default:
			return -1;
	}
}

[[gnu::noinline]] Envelope& scratchEnvelope()
/// The calling thread's Envelope, reused so that it keeps its strings' capacity between
/// messages. Out of line so that a message takes the thread_local's address once: in a shared
/// library each access to it is a call, and a reference to it is not kept but re-derived.
{
	thread_local Envelope envelope;
	return envelope;
}

bool queueable(int relayType)
{
	return relayType <= 2; // OFFER, ANSWER, CANDIDATE; LEAVE and EXPIRE are never queued
}

std::string firstParam(const HeaderList& params, std::string_view name)
{
	for (const auto& p : params)
	{
		if (p.first == name)
			return p.second;
	}
	return {};
}

OfflineQueue::Limits queueLimits(const PeerJsSettings& settings)
{
	OfflineQueue::Limits limits;
	limits.perDestination = static_cast<std::size_t>(settings.maxQueuePerDestination);
	limits.perSource = static_cast<std::size_t>(settings.maxQueuePerSource);
	limits.totalBytes = static_cast<std::size_t>(settings.maxQueuedBytesTotal);
	limits.expireMs = settings.expireTimeoutMs;
	return limits;
}

bool contains(const std::vector<std::string>& keys, const char* key)
{
	return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool listed(const std::vector<std::string>& list, std::string_view value)
{
	for (const auto& item : list)
	{
		if (item == value)
			return true;
	}
	return false;
}

} // namespace


class PeerJsPlugin::Delivery
/// The task deliver() gives Host::runOn: one frame and the sender to tell if it cannot be
/// delivered. std::function keeps its own copy of the task on the heap; a frame of the usual
/// signaling size is written inside the task, so that copy is the only allocation of a relay.
/// A larger frame has a buffer of its own.
{
public:
	Delivery(PeerJsPlugin* plugin, ConnectionId sender, const RelayFrameWriter& frame):
	    _plugin(plugin),
	    _sender(sender),
	    _size(frame.size())
	{
		if (_size > sizeof(_local))
			_heap.reset(new char[_size]);
		frame.write(data());
	}

	// std::function requires a copy constructor; it only ever moves the task.
	Delivery(const Delivery& other):
	    _plugin(other._plugin),
	    _sender(other._sender),
	    _size(other._size),
	    _heap(other._heap ? new char[other._size] : nullptr)
	{
		std::memcpy(data(), other.data(), _size);
	}

	Delivery(Delivery&& other) noexcept:
	    _plugin(other._plugin),
	    _sender(other._sender),
	    _size(other._size),
	    _heap(std::move(other._heap))
	{
		if (!_heap)
			std::memcpy(_local, other._local, _size);
	}

	Delivery& operator=(const Delivery&) = delete;
	Delivery& operator=(Delivery&&) = delete;

	void operator()(Connection& target) { _plugin->deliverHere(target, std::string_view(data(), _size), _sender); }

private:
	char* data() { return _heap ? _heap.get() : _local; }
	const char* data() const { return _heap ? _heap.get() : _local; }

	PeerJsPlugin* _plugin;
	ConnectionId _sender;
	std::size_t _size;
	std::unique_ptr<char[]> _heap;
	char _local[480]; // a CANDIDATE with 36-character ids is about 400 bytes
};


PeerJsPlugin::PeerJsPlugin() = default;
PeerJsPlugin::~PeerJsPlugin() = default;


StartResult PeerJsPlugin::start(Host& host, Setup& setup)
{
	_host = &host;
	_settings = PeerJsSettings::fromConfig(host.config());
	auto live = std::make_shared<Live>();
	live->settings = _settings;
	std::string error;
	if (!TokenValidator::parse(_settings.tokenValidator, live->tokens, error))
		return StartResult::failed(error);
	_live = std::move(live);
	_maxSendBuffer = _settings.maxSendBuffer;
	_replyErrorOnInvalidMessage = _settings.replyErrorOnInvalidMessage;
	_queue = std::make_unique<OfflineQueue>(queueLimits(_settings));

	Metrics& m = host.metrics();
	_peersGauge = &m.gauge("peers", "Registered peers");
	_queuedGauge = &m.gauge("queued_messages", "Messages held for offline peers");
	_queuedBytesGauge = &m.gauge("queued_bytes", "Bytes held for offline peers");
	for (int i = 0; i < 5; ++i)
		_relayed[i] = &m.counter("relayed_messages_total", "Messages relayed to a registered peer, by type",
		                         {{"type", RELAY_TYPES[i]}});
	_queuedTotal = &m.counter("queued_messages_total", "Messages queued for an offline peer");
	_expirations = &m.counter("expirations_total", "EXPIRE notices sent for undelivered messages");
	_idTaken = &m.counter("id_taken_total", "Handshakes refused with ID-TAKEN");
	_handshakeErrors = &m.counter("handshake_errors_total", "Handshakes refused with an ERROR frame");
	const char* limitHelp = "Requests refused by a configured limit";
	_limitConcurrent = &m.counter("limit_hits_total", limitHelp, {{"limit", "concurrent_limit"}});
	_limitQueue = &m.counter("limit_hits_total", limitHelp, {{"limit", "offline_queue"}});
	_limitSendBuffer = &m.counter("limit_hits_total", limitHelp, {{"limit", "max_send_buffer"}});
	_invalidMessages = &m.counter("invalid_messages_total", "Inbound frames ignored as malformed or unknown");
	_reattaches = &m.counter("reattaches_total", "Registrations moved to a new socket with the same token");

	_clustered = host.names().clustered();
	if (_clustered)
		host.names().watch([this](std::string_view name, ConnectionId owner) { nameChanged(name, owner); });

	registerRoutes(setup);
	WebSocketOptions options;
	options.maxMessageSize = _settings.maxMessageSize;
	// Liveness is the host's idle timeout: any inbound frame counts (control frames too), and a
	// reaped peer gets a close frame without status, as from the reference (peerjs.md §10).
	options.idleTimeoutMs = _settings.aliveTimeoutMs;
	options.idleCloseCode = CloseCode::NONE;
	options.pingIntervalMs = _settings.wsPingIntervalMs;
	// The plugin enforces max_send_buffer itself (close 1008 and LEAVE to the sender, §8.3); the
	// host's hard cap sits just above it.
	options.maxOutputQueue = _settings.maxSendBuffer + _settings.maxMessageSize + 4096;
	if (!setup.addWebSocket(_settings.mount("/peerjs"), *this, options))
		return StartResult::failed("cannot register the WebSocket endpoint " + _settings.mount("/peerjs"));
	host.every(200, [this] { expireQueues(); });
	host.logger().info("PeerJS at '" + std::string(host.mountPrefix()) + _settings.mount("/") + "' with key '" +
	                   _settings.key + "'");
	return StartResult::started();
}


void PeerJsPlugin::stopping()
{
	// Queues are discarded without EXPIRE on shutdown (docs/protocols/peerjs.md §14).
	std::lock_guard<std::shared_mutex> lock(_mutex);
	_stopping = true;
	_queue->clear();
	updateGauges();
}


ReconfigureResult PeerJsPlugin::reconfigure(const Config& config, const std::vector<std::string>& changedKeys)
{
	// All or nothing: everything is checked before anything changes. Only the keys changed by
	// this reload are judged: one refused before keeps its running value, and one changed back
	// to its running value is no obstacle.
	auto live = std::make_shared<Live>();
	live->settings = PeerJsSettings::fromConfig(config);
	const PeerJsSettings& fresh = live->settings;
	const PeerJsSettings& atStart = _settings; // written in start() only
	// The host took these when start() registered the endpoint and the routes.
	const FixedKey fixed[] = {
	    {"path", "the routes and the WebSocket endpoint are registered under it", fresh.path == atStart.path},
	    {"max_message_size", "the host enforces it on the WebSocket endpoint registered at start",
	     fresh.maxMessageSize == atStart.maxMessageSize},
	    {"alive_timeout", "it is the idle timeout of the WebSocket endpoint registered at start",
	     fresh.aliveTimeoutMs == atStart.aliveTimeoutMs},
	    {"ws_ping_interval", "it is the ping interval of the WebSocket endpoint registered at start",
	     fresh.wsPingIntervalMs == atStart.wsPingIntervalMs},
	};
	if (std::string why = fixedKeyChanged(changedKeys, fixed); !why.empty())
		return ReconfigureResult::needsRestart(why);
	// The host's cap on a socket's output queue was sized from max_send_buffer at start: above
	// it the host would close a slow consumer itself, without the LEAVE to the sender.
	const bool sendBufferFits = fresh.maxSendBuffer <= atStart.maxSendBuffer;
	if (!sendBufferFits && contains(changedKeys, "max_send_buffer"))
		return ReconfigureResult::needsRestart("max_send_buffer can rise live only up to its value at start (" +
		                                       std::to_string(atStart.maxSendBuffer) +
		                                       "): the host sized each socket's output queue cap from it");
	std::string error;
	if (!TokenValidator::parse(fresh.tokenValidator, live->tokens, error))
		return ReconfigureResult::needsRestart("token_validator: " + error);

	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		_queue->setLimits(queueLimits(fresh));
	}
	if (sendBufferFits)
		_maxSendBuffer = fresh.maxSendBuffer;
	_replyErrorOnInvalidMessage = fresh.replyErrorOnInvalidMessage;
	{
		std::lock_guard<std::mutex> lock(_liveMutex);
		_live = std::move(live);
	}
	return ReconfigureResult::done();
}


std::shared_ptr<const PeerJsPlugin::Live> PeerJsPlugin::live() const
{
	std::lock_guard<std::mutex> lock(_liveMutex);
	return _live;
}


void PeerJsPlugin::registerRoutes(Setup& setup)
{
	RouteOptions options;
	options.caseInsensitive = true; // Express matches case-insensitively and tolerates one trailing '/'
	options.allowTrailingSlash = true;
	// The origins are read per request: a reload may change them.
	auto preflight = [this](const HttpRequest& request, HttpResponse& response) {
		Cors::preflight(request, response, live()->settings.corsOrigins);
	};

	setup.addRoute(
	    "GET", _settings.path,
	    [this](const HttpRequest& request, HttpResponse& response) {
		    response.json(200, ROOT_BODY);
		    Cors::simple(request, response, live()->settings.corsOrigins);
	    },
	    options);
	setup.addRoute("OPTIONS", _settings.path, preflight, options);

	setup.addRoute(
	    "GET", _settings.mount("/{key}/id"),
	    [this](const HttpRequest& request, HttpResponse& response) {
		    // text/html, as the reference; the key segment is not checked (docs/protocols/peerjs.md §4.2).
		    response.send(200, "text/html; charset=utf-8", newPeerId());
		    Cors::simple(request, response, live()->settings.corsOrigins);
	    },
	    options);
	setup.addRoute("OPTIONS", _settings.mount("/{key}/id"), preflight, options);

	setup.addRoute(
	    "GET", _settings.mount("/{key}/peers"),
	    [this](const HttpRequest& request, HttpResponse& response) {
		    std::shared_ptr<const Live> settings = live();
		    if (!settings->settings.allowDiscovery)
			    response.text(401, "Unauthorized");
		    else
		    {
			    std::vector<std::string> ids;
			    {
				    std::lock_guard<std::shared_mutex> lock(_mutex);
				    ids = _registry.idsInOrder();
			    }
			    std::string body = "[";
			    for (std::size_t i = 0; i < ids.size(); ++i)
			    {
				    if (i > 0)
					    body += ',';
				    Json::appendString(body, ids[i]);
			    }
			    body += ']';
			    response.json(200, body);
		    }
		    Cors::simple(request, response, settings->settings.corsOrigins);
	    },
	    options);
	setup.addRoute("OPTIONS", _settings.mount("/{key}/peers"), preflight, options);
}


std::string PeerJsPlugin::newPeerId()
{
	for (;;)
	{
		unsigned char b[16];
		_host->randomBytes(b, sizeof(b));
		b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40); // version 4
		b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80); // RFC 4122 variant
		char text[37];
		std::snprintf(text, sizeof(text), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		              b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
		std::string id(text, 36);
		std::lock_guard<std::shared_mutex> lock(_mutex);
		if (!_registry.find(id))
			return id;
	}
}


void PeerJsPlugin::refuse(Connection& connection, std::string_view frame)
{
	// One frame, then a close frame without status: browsers report 1005 (docs/protocols/peerjs.md §5.2).
	connection.send(frame);
	connection.close(CloseCode::NONE);
}


void PeerJsPlugin::onOpen(Connection& connection, const HttpRequest& request)
{
	auto peer = std::make_shared<Peer>();
	connection.setState(peer);
	HeaderList params = request.queryParams();
	std::string id = firstParam(params, "id");
	std::string token = firstParam(params, "token");
	std::string key = firstParam(params, "key");
	// One snapshot for the whole handshake: a reload meanwhile applies to the next one.
	std::shared_ptr<const Live> current = live();
	const PeerJsSettings& settings = current->settings;

	if (!settings.wsOriginAllowlist.empty() && request.hasHeader("Origin") &&
	    !listed(settings.wsOriginAllowlist, request.header("Origin")))
	{
		_handshakeErrors->increment();
		return refuse(connection, ORIGIN_FRAME);
	}
	if (id.empty() || token.empty() || key.empty())
	{
		_handshakeErrors->increment();
		return refuse(connection, NO_ID_FRAME);
	}
	if (key != settings.key)
	{
		_handshakeErrors->increment();
		return refuse(connection, BAD_KEY_FRAME);
	}
	if (!current->tokens.accepts(id, token))
	{
		_handshakeErrors->increment();
		return refuse(connection, BAD_TOKEN_FRAME);
	}

	if (_clustered)
	{
		peer->id = id;
		return claimInCluster(connection, *peer, token, settings.concurrentLimit);
	}
	ConnectionId superseded = 0;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		Registration* existing = _registry.find(id);
		if (existing && existing->token != token)
		{
			_idTaken->increment();
			return refuse(connection, ID_TAKEN_FRAME);
		}
		if (existing)
		{
			superseded = _registry.reattach(*existing, connection.id());
			_reattaches->increment();
			// Close the old socket first (its later frames are ignored: it is no longer current).
			_host->router().close(superseded, 4000, "superseded");
		}
		else
		{
			if (static_cast<std::int64_t>(_registry.size()) >= settings.concurrentLimit)
			{
				_limitConcurrent->increment();
				_handshakeErrors->increment();
				return refuse(connection, LIMIT_FRAME);
			}
			_registry.add(id, token, connection.id());
		}
		peer->id = id;
		peer->registered = true;
		// OPEN and the queued messages go out under the lock: no live relay to this id can come
		// between them (peerjs.md §5.3). Sends here only append to this connection's queue.
		connection.send(OPEN_FRAME);
		for (const std::string& frame : _queue->take(id))
			connection.send(frame);
		updateGauges();
	}
}


void PeerJsPlugin::invalidMessage(Connection& connection, const char* why)
{
	_invalidMessages->increment();
	if (_host->logger().enabled(LogLevel::LEVEL_DEBUG))
		_host->logger().debug(std::string("ignored a frame: ") + why);
	if (_replyErrorOnInvalidMessage.load(std::memory_order_relaxed))
		connection.send(INVALID_MESSAGE_FRAME);
}


void PeerJsPlugin::onMessage(Connection& connection, std::string_view data, MessageKind kind)
{
	Peer* peer = connection.stateAs<Peer>();
	if (!peer || !peer->registered)
		return;
	std::string converted;
	if (kind == MessageKind::BINARY)
	{
		// A binary message is read as UTF-8 text, invalid sequences replaced, as Node's Buffer does.
		converted = HttpText::replaceInvalidUtf8(data);
		data = converted;
	}
	Envelope& envelope = scratchEnvelope();
	EnvelopeStatus status = parseEnvelope(data, envelope);
	if (status == EnvelopeStatus::NOT_JSON)
		return invalidMessage(connection, "not JSON");
	if (status == EnvelopeStatus::NOT_OBJECT)
		return invalidMessage(connection, "not an object");
	if (!envelope.hasType)
		return invalidMessage(connection, "no string type");
	int relayType = relayIndex(envelope.type);
	if (relayType < 0)
	{
		if (std::string_view(envelope.type) == "HEARTBEAT")
			return; // activity only; never answered
		return invalidMessage(connection, "unknown or server-only type");
	}
	if (!envelope.hasDst || envelope.dst.empty())
	{
		if (relayType != 3) // LEAVE without dst is ignored silently (docs/protocols/peerjs.md §15 #6)
			invalidMessage(connection, "no dst");
		return;
	}

	// The common case, a registered destination, needs only the shared lock, and no lock at
	// all while nobody registered or left since this peer last sent to the same id.
	ConnectionId target = 0;
	if (peer->lastTarget != 0 && peer->lastEpoch == _registry.epoch() && peer->lastDst == envelope.dst)
		target = peer->lastTarget;
	else
	{
		std::shared_lock<std::shared_mutex> lock(_mutex);
		if (!_registry.isCurrent(peer->id, connection.id()))
			return; // a superseded socket: never relayed
		const Registration* registration = std::as_const(_registry).find(envelope.dst);
		if (registration)
		{
			target = registration->connection;
			peer->lastDst = envelope.dst;
			peer->lastTarget = target;
			peer->lastEpoch = _registry.epoch(); // under the lock: matches what was just read
		}
	}
	if (target == 0 && _clustered)
	{
		// Elsewhere in the cluster, or nowhere yet: the name registry decides.
		if (peer->lookupsInFlight == 0 && peer->remoteTarget != 0 && peer->remoteDst == envelope.dst &&
		    peer->remoteEpoch == _remoteEpoch.load(std::memory_order_acquire))
		{
			_relayed[relayType]->increment();
			_host->router().send(peer->remoteTarget, relayFrame(envelope.type, peer->id, envelope.dst,
			                                                    envelope.hasPayload ? &envelope.payload : nullptr));
			return;
		}
		{
			std::shared_lock<std::shared_mutex> lock(_mutex);
			if (!_registry.isCurrent(peer->id, connection.id()))
				return;
		}
		return relayAcrossCluster(
		    connection, *peer,
		    relayFrame(envelope.type, peer->id, envelope.dst, envelope.hasPayload ? &envelope.payload : nullptr),
		    envelope.dst, relayType);
	}
	if (target == 0)
		target = queueUnlessRegistered(connection, *peer, envelope, relayType);
	if (target == 0)
		return;
	_relayed[relayType]->increment();
	deliver(target,
	        RelayFrameWriter(envelope.type, peer->id, envelope.dst, envelope.hasPayload ? &envelope.payload : nullptr),
	        connection.id());
}


ConnectionId PeerJsPlugin::queueUnlessRegistered(Connection& connection, const Peer& peer, const Envelope& envelope,
                                                 int relayType)
{
	ConnectionId target = 0;
	bool expireNow = false;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		// Looked up again: the destination may have registered since the shared lock was released.
		if (!_registry.isCurrent(peer.id, connection.id()))
			return 0;
		Registration* registration = _registry.find(envelope.dst);
		if (registration)
			target = registration->connection;
		else if (queueable(relayType) && !_stopping)
		{
			std::string frame =
			    relayFrame(envelope.type, peer.id, envelope.dst, envelope.hasPayload ? &envelope.payload : nullptr);
			OfflineQueue::Admission admission =
			    _queue->enqueue(peer.id, envelope.dst, std::move(frame), _host->clock().monotonicMs());
			if (admission == OfflineQueue::Admission::QUEUED)
				_queuedTotal->increment();
			else if (admission == OfflineQueue::Admission::REJECTED)
			{
				_limitQueue->increment();
				expireNow = true;
			}
			updateGauges();
		}
	}
	if (expireNow)
	{
		// One early EXPIRE for the pair that did not fit (docs/protocols/peerjs.md §9.4).
		_expirations->increment();
		connection.send(relayFrame("EXPIRE", envelope.dst, peer.id, nullptr));
	}
	return target;
}


void PeerJsPlugin::claimInCluster(Connection& connection, Peer& peer, const std::string& token,
                                  std::int64_t concurrentLimit)
{
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		Registration* existing = _registry.find(peer.id);
		if ((existing && existing->token != token) || _claiming.count(peer.id))
		{
			// Decided here without asking Redis: held (or being claimed) on this node.
			_idTaken->increment();
			return refuse(connection, ID_TAKEN_FRAME);
		}
		if (!existing && static_cast<std::int64_t>(_registry.size() + _claiming.size()) >= concurrentLimit)
		{
			_limitConcurrent->increment();
			_handshakeErrors->increment();
			return refuse(connection, LIMIT_FRAME);
		}
		_claiming[peer.id] = connection.id();
	}
	peer.token = token;
	ConnectionId self = connection.id();
	_host->names().claim(peer.id, self, token, [this, self](ClaimResult result, ConnectionId previous) {
		// Runs on this connection's loop; if it closed meanwhile, onClose already let go of the id.
		_host->runOn(self, [this, result, previous](Connection& c) { finishClaim(c, result, previous); });
	});
}


void PeerJsPlugin::finishClaim(Connection& connection, ClaimResult result, ConnectionId previous)
{
	Peer* peer = connection.stateAs<Peer>();
	if (!peer || peer->registered)
		return;
	ConnectionId superseded = 0;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		auto claiming = _claiming.find(peer->id);
		if (claiming != _claiming.end() && claiming->second == connection.id())
			_claiming.erase(claiming);
		if (result == ClaimResult::CLAIMED || result == ClaimResult::TAKEN_OVER)
		{
			Registration* existing = _registry.find(peer->id);
			if (existing)
			{
				superseded = _registry.reattach(*existing, connection.id());
				existing->token = peer->token;
			}
			else
				_registry.add(peer->id, peer->token, connection.id());
			peer->registered = true;
			peer->token.clear();
			// As on a single node: OPEN, then what was queued here, before any live relay.
			connection.send(OPEN_FRAME);
			for (const std::string& frame : _queue->take(peer->id))
				connection.send(frame);
			updateGauges();
		}
	}
	switch (result)
	{
		case ClaimResult::CLAIMED:
		case ClaimResult::TAKEN_OVER:
			if (superseded != 0 || previous != 0)
				_reattaches->increment();
			// The socket that held the id before (here or on another node) is closed like a local reattach.
			if (superseded != 0)
				_host->router().close(superseded, 4000, "superseded");
			if (previous != 0 && previous != superseded)
				_host->router().close(previous, 4000, "superseded");
			return;
		case ClaimResult::TAKEN:
			_idTaken->increment();
			return refuse(connection, ID_TAKEN_FRAME);
		case ClaimResult::UNAVAILABLE:
			_handshakeErrors->increment();
			connection.send(UNAVAILABLE_FRAME);
			connection.close(CloseCode::TRY_AGAIN_LATER, "cluster unavailable");
			return;
	}
}


void PeerJsPlugin::relayAcrossCluster(Connection& connection, Peer& peer, std::string frame, std::string destination,
                                      int relayType)
{
	++peer.lookupsInFlight;
	ConnectionId self = connection.id();
	std::string name = destination; // the callback below takes destination itself
	_host->names().lookup(name, [this, self, frame = std::move(frame), destination = std::move(destination),
	                             relayType](ConnectionId owner) mutable {
		std::uint64_t epochBefore = _remoteEpoch.load(std::memory_order_acquire);
		_host->runOn(self, [&](Connection& c) {
			Peer* peer = c.stateAs<Peer>();
			if (!peer)
				return;
			--peer->lookupsInFlight;
			if (owner == 0)
				return queueOrExpire(c, *peer, destination, std::move(frame), relayType);
			_relayed[relayType]->increment();
			_host->router().send(owner, frame);
			{
				std::lock_guard<std::mutex> lock(_remoteCacheMutex);
				_cachedRemote.insert(destination);
			}
			peer->remoteDst = destination;
			peer->remoteTarget = owner;
			peer->remoteEpoch = epochBefore;
		});
	});
}


void PeerJsPlugin::queueOrExpire(Connection& connection, const Peer& peer, const std::string& destination,
                                 std::string frame, int relayType)
{
	ConnectionId local = 0;
	bool expireNow = false;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		if (!_registry.isCurrent(peer.id, connection.id()))
			return;
		// Registered here meanwhile: delivered like any local relay.
		if (Registration* registration = _registry.find(destination))
			local = registration->connection;
		else if (queueable(relayType) && !_stopping)
		{
			OfflineQueue::Admission admission =
			    _queue->enqueue(peer.id, destination, std::move(frame), _host->clock().monotonicMs());
			if (admission == OfflineQueue::Admission::QUEUED)
				_queuedTotal->increment();
			else if (admission == OfflineQueue::Admission::REJECTED)
			{
				_limitQueue->increment();
				expireNow = true;
			}
			updateGauges();
			frame.clear();
		}
	}
	if (local != 0)
	{
		_relayed[relayType]->increment();
		_host->router().send(local, frame);
	}
	if (expireNow)
	{
		_expirations->increment();
		connection.send(relayFrame("EXPIRE", destination, peer.id, nullptr));
	}
}


void PeerJsPlugin::nameChanged(std::string_view name, ConnectionId owner)
{
	// A claim or release anywhere in the cluster (the cluster's thread). Owners cached for relays
	// go stale only if that id is one of them (or a node left): churn of other ids costs no
	// look-ups. Messages queued here for a peer that just registered elsewhere go there.
	{
		std::lock_guard<std::mutex> lock(_remoteCacheMutex);
		if (name.empty())
		{
			_cachedRemote.clear();
			_remoteEpoch.fetch_add(1, std::memory_order_acq_rel);
		}
		else if (_cachedRemote.erase(std::string(name)) > 0)
			_remoteEpoch.fetch_add(1, std::memory_order_acq_rel);
	}
	if (owner == 0)
		return;
	std::vector<std::string> frames;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		std::string id(name);
		const Registration* here = _registry.find(id);
		auto claiming = _claiming.find(id);
		if ((here && here->connection == owner) || (claiming != _claiming.end() && claiming->second == owner))
			return; // registered on this node: finishClaim flushes the queue after OPEN
		frames = _queue->take(id);
		if (!frames.empty())
			updateGauges();
	}
	for (const std::string& frame : frames)
		_host->router().send(owner, frame);
}


void PeerJsPlugin::deliver(ConnectionId target, const RelayFrameWriter& frame, ConnectionId sender)
{
	// The task holds no more than the frame: the ids for the failure path are read from the
	// connections' own state, on their own loops.
	_host->runOn(target, Delivery(this, sender, frame));
}


void PeerJsPlugin::deliverHere(Connection& c, std::string_view frame, ConnectionId sender)
{
	bool overflow =
	    static_cast<std::int64_t>(c.bufferedAmount() + frame.size()) > _maxSendBuffer.load(std::memory_order_relaxed);
	if (!overflow && c.send(frame) == SendResult::QUEUED)
		return;
	// A destination that cannot keep up (or is broken) is closed and deregistered, and the
	// sender is told with LEAVE (docs/protocols/peerjs.md §8.3).
	_limitSendBuffer->increment();
	c.close(CloseCode::POLICY_VIOLATION, "send buffer overflow");
	const Peer* destination = c.stateAs<Peer>();
	if (destination == nullptr || !destination->registered)
		return;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		_registry.removeIf(destination->id, c.id());
		updateGauges();
	}
	if (sender == 0 || sender == c.id())
		return;
	_host->runOn(sender, [destinationId = destination->id](Connection& s) {
		const Peer* source = s.stateAs<Peer>();
		if (source != nullptr && source->registered)
			s.send(relayFrame("LEAVE", destinationId, source->id, nullptr));
	});
}


void PeerJsPlugin::expireQueues()
{
	std::vector<OfflineQueue::Expired> expired;
	std::vector<std::pair<ConnectionId, OfflineQueue::Expired>> notices;
	{
		std::lock_guard<std::shared_mutex> lock(_mutex);
		if (_stopping || _queue->messageCount() == 0)
			return;
		_queue->expire(_host->clock().monotonicMs(), expired);
		for (auto& e : expired)
		{
			// Through the normal relay path: dropped if the source is not registered now.
			Registration* source = _registry.find(e.source);
			if (source)
				notices.emplace_back(source->connection, std::move(e));
		}
		updateGauges();
	}
	_expirations->increment(notices.size());
	for (auto& n : notices)
		deliver(n.first, RelayFrameWriter("EXPIRE", n.second.destination, n.second.source, nullptr), 0);
}


void PeerJsPlugin::onClose(Connection& connection, std::uint16_t, std::string_view)
{
	Peer* peer = connection.stateAs<Peer>();
	if (peer && !peer->registered && !peer->id.empty() && _clustered)
	{
		// Closed while the cluster was deciding: its pending claim no longer blocks the id here
		// (the host frees the name in Redis once the claim is answered).
		std::lock_guard<std::shared_mutex> lock(_mutex);
		auto claiming = _claiming.find(peer->id);
		if (claiming != _claiming.end() && claiming->second == connection.id())
			_claiming.erase(claiming);
		return;
	}
	if (!peer || !peer->registered)
		return;
	std::lock_guard<std::shared_mutex> lock(_mutex);
	// Only if this socket is still the registration's (a superseded one never removes the newer).
	_registry.removeIf(peer->id, connection.id());
	updateGauges();
}


void PeerJsPlugin::updateGauges()
{
	_peersGauge->set(static_cast<std::int64_t>(_registry.size()));
	_queuedGauge->set(static_cast<std::int64_t>(_queue->messageCount()));
	_queuedBytesGauge->set(static_cast<std::int64_t>(_queue->byteCount()));
}


} // namespace PeerJs
} // namespace Switchboard
