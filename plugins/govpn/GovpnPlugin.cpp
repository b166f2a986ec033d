//
// GovpnPlugin.cpp
//
// Section numbers (§) refer to docs/protocols/govpn.md.
//


#include "GovpnPlugin.h"
#include "GovpnState.h"
#include "Formats.h"
#include "switchboard/util/Reconfigure.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sodium.h>
#include <thread>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif


namespace Switchboard {
namespace Govpn {


namespace {


const std::size_t MAX_PENDING_PER_CONNECTION = 1024; // requests queued behind a slow one

const Migration MIGRATIONS[] = {
    {1, "CREATE TABLE rooms (id TEXT PRIMARY KEY, name TEXT NOT NULL, password_hash TEXT NOT NULL, "
        "owner_public_key TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, last_active INTEGER NOT NULL);"
        "CREATE INDEX rooms_last_active ON rooms (last_active);"
        "CREATE TABLE memberships (room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE, "
        "public_key TEXT NOT NULL, username TEXT NOT NULL, joined_at INTEGER NOT NULL, "
        "last_connected INTEGER NOT NULL, is_connected INTEGER NOT NULL, PRIMARY KEY (room_id, public_key));"
        "CREATE INDEX memberships_public_key ON memberships (public_key)"},
};

const std::set<std::string> REQUEST_TYPES = {"CreateRoom", "JoinRoom", "ConnectRoom", "DisconnectRoom",
                                             "LeaveRoom",  "Kick",     "Rename",      "GetUserRooms",
                                             "Ping",       "Offer",    "Answer",      "Candidate"};


std::string lowercase(std::string_view text)
{
	std::string out(text);
	for (char& c : out)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return out;
}


std::string trimmed(std::string_view text)
{
	while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
		text.remove_prefix(1);
	while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
		text.remove_suffix(1);
	return std::string(text);
}


std::string roomIdPayload(const std::string& roomId)
{
	return InnerWriter().string("room_id", roomId).finish();
}


std::string keyRoomPayload(const std::string& key, const std::string& roomId)
{
	return InnerWriter().string("public_key", key).string("room_id", roomId).finish();
}


std::string jsonNumber(double value)
/// A whole number as an integer (the default 30 stays "30"), else the shortest exact decimal text.
{
	if (value == std::floor(value) && std::fabs(value) < 1e15)
		return std::to_string(static_cast<std::int64_t>(value));
	char buffer[32];
	for (int digits = 1; digits <= 17; ++digits)
	{
		std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
		if (std::strtod(buffer, nullptr) == value)
			break;
	}
	return buffer;
}


} // namespace


const PluginDescriptor& govpnDescriptor()
{
	static const PluginDescriptor descriptor = makeDescriptor<GovpnPlugin>(
	    "switchboard.protocol.govpn", "govpn", "1.0.0",
	    "GoVPN signaling: rooms, memberships and a WebRTC relay, wire-compatible with the GoVPN client",
	    GovpnSettings::keys(), GovpnSettings::keyCount());
	return descriptor;
}


GovpnPlugin::GovpnPlugin() = default;


GovpnPlugin::~GovpnPlugin() = default;


void GovpnPlugin::setGenerators(Generators generators)
{
	if (generators.roomId)
		_generators.roomId = std::move(generators.roomId);
	if (generators.connectionId)
		_generators.connectionId = std::move(generators.connectionId);
	if (generators.nowNs)
		_generators.nowNs = std::move(generators.nowNs);
	if (generators.nonce)
		_generators.nonce = std::move(generators.nonce);
}


std::vector<Migration> GovpnPlugin::migrations() const
{
	return std::vector<Migration>(std::begin(MIGRATIONS), std::end(MIGRATIONS));
}


std::int64_t GovpnPlugin::nowMs() const
{
	return _pHost->clock().wallMs();
}


std::string GovpnPlugin::newRoomId()
{
	if (_generators.roomId)
		return _generators.roomId();
	unsigned char bytes[8];
	_pHost->randomBytes(bytes, sizeof(bytes));
	return lowerHex(bytes, sizeof(bytes));
}


std::string GovpnPlugin::newConnectionId()
{
	if (_generators.connectionId)
		return _generators.connectionId();
	unsigned char bytes[8];
	_pHost->randomBytes(bytes, sizeof(bytes));
	return "c-" + lowerHex(bytes, sizeof(bytes));
}


// --- lifecycle -----------------------------------------------------------------------------------


StartResult GovpnPlugin::start(Host& host, Setup& setup)
{
	_pHost = &host;
	if (sodium_init() < 0)
		return StartResult::failed("libsodium cannot be initialised");
	std::string problem = _settings.load(host.config());
	if (!problem.empty())
		return StartResult::failed("[plugin.govpn] " + problem);
	_startWallMs = nowMs();
	_hashingLimit = std::max(1u, std::thread::hardware_concurrency()); // hashing is CPU-bound

	if (host.cluster().clustered())
	{
		// Every node mirrors the rooms and everybody's presence (§18); the listener is set before
		// the rooms are read, so a change made meanwhile elsewhere is applied, not missed.
		_pCluster = &host.cluster();
		ClusterChannel::Listener listener;
		listener.message = [this](NodeNumber from, std::string_view message) { onPeerMessage(from, message); };
		listener.nodeLeft = [this](NodeNumber node) { onNodeLeft(node); };
		listener.synced = [this] { onSynced(); };
		_pCluster->listen(std::move(listener));
	}

	// §12: nobody is online after a restart; then the expiry sweep, before any connection. In a
	// cluster the other nodes' members are online: each node clears its own rows as they go.
	if (_pCluster == nullptr)
	{
		QueryResult reset = host.storage().execute("UPDATE memberships SET is_connected = 0");
		if (!reset.ok)
			return StartResult::failed("cannot reset memberships: " + reset.error);
	}
	QueryResult rooms = host.storage().execute(SELECT_ROOMS);
	QueryResult members = host.storage().execute(SELECT_MEMBERS);
	if (!rooms.ok || !members.ok)
		return StartResult::failed("cannot load rooms: " + rooms.error + members.error);
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		loadRooms(rooms, members);
	}
	sweepExpired(true);

	Metrics& metrics = host.metrics();
	_pRoomsGauge = &metrics.gauge("rooms", "Rooms stored");
	_pOnlineGauge = &metrics.gauge("online_members", "Members online in a room");
	_pRateLimited = &metrics.counter("rate_limited_total", "Requests refused by a rate limit or the flood guard");
	_pLockouts = &metrics.counter("lockouts_total", "Rooms locked after repeated wrong passwords");
	for (int type = 0; type < 3; ++type)
		_pRelayed[type] = &metrics.counter("signals_relayed_total", "Signaling messages relayed",
		                                   {{"type", std::string(SIGNAL_TYPE_NAMES[type])}});
	updateGauges();

	WebSocketOptions options;
	options.maxMessageSize = _settings.maxMessageSize;
	options.idleTimeoutMs = _settings.idleTimeoutS * 1000;
	options.pingIntervalMs = _settings.pingIntervalS * 1000;
	options.idleCloseCode = CloseCode::NORMAL;
	bool registered = setup.addWebSocket(_settings.wsPath, *this, options) &&
	                  setup.addRoute("GET", _settings.healthPath,
	                                 [](const HttpRequest&, HttpResponse& response) { response.text(200, "OK"); }) &&
	                  setup.addRoute("GET", _settings.statsPath, [this](const HttpRequest&, HttpResponse& response) {
		                  response.send(200, "application/json", statsBody());
	                  });
	if (!registered)
		return StartResult::failed("cannot register the endpoint and routes (see the log)");
	startCleanupTimer(_settings.cleanupIntervalS);
	host.every(60000, [this] { // idle full buckets carry no information (§10.1)
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		std::int64_t now = _pHost->clock().monotonicMs();
		double refillMs = static_cast<double>(_settings.rateLimitRefillS) * 1000;
		for (auto it = _ipBuckets.begin(); it != _ipBuckets.end();)
			it = it->second.tokens + (now - it->second.lastMs) / refillMs >= _settings.rateLimitBurst
			         ? _ipBuckets.erase(it)
			         : std::next(it);
	});
	return StartResult::started();
}


void GovpnPlugin::loadRooms(const QueryResult& rooms, const QueryResult& members)
{
	// Called with the lock held. Rooms and members become what storage holds; presence on this
	// node is kept, other nodes' is dropped (they send it again when asked, §18).
	std::set<std::string> stored;
	for (const auto& row : rooms.rows)
	{
		Room& room = storedRoom(row);
		room.members.clear();
		room.online.erase(std::remove_if(room.online.begin(), room.online.end(),
		                                 [this](const Room::Online& o) { return _clients.count(o.socket) == 0; }),
		                  room.online.end());
		stored.insert(room.id);
	}
	std::vector<std::string> gone;
	for (const auto& entry : _rooms)
		if (stored.count(entry.first) == 0)
			gone.push_back(entry.first);
	bool wasApplying = _applyingPeerChange;
	_applyingPeerChange = true; // deleted elsewhere: nothing to tell the others
	for (const std::string& id : gone)
		deleteRoom(id, 0);
	_applyingPeerChange = wasApplying;
	_roomOfOwner.clear();
	_roomById.clear();
	_roomsOfKey.clear();
	for (const auto& entry : _rooms)
	{
		_roomOfOwner[entry.second->owner] = entry.first;
		_roomById[entry.second->id] = entry.second.get();
	}
	for (const auto& row : members.rows)
		storedMember(row);
	updateGauges();
}


GovpnPlugin::Room& GovpnPlugin::storedRoom(const std::vector<Value>& row)
{
	// A row of SELECT_ROOMS; the room's members and presence are left as they are.
	std::string id = valueAsString(row[0]);
	std::unique_ptr<Room>& room = _rooms[id];
	if (!room)
	{
		room = std::make_unique<Room>();
		room->id = id;
		_roomById[room->id] = room.get();
	}
	room->name = valueAsString(row[1]);
	room->passwordHash = valueAsString(row[2]);
	room->owner = valueAsString(row[3]);
	room->createdMs = valueAsInt(row[4]);
	room->lastActiveMs = valueAsInt(row[5]);
	return *room;
}


void GovpnPlugin::storedMember(const std::vector<Value>& row)
{
	// A row of SELECT_MEMBERS, for a room already in the mirror.
	auto it = _rooms.find(valueAsString(row[0]));
	if (it == _rooms.end())
		return;
	Room::Member& member = it->second->members[valueAsString(row[1])];
	member.username = valueAsString(row[2]);
	member.joinedMs = valueAsInt(row[3]);
	member.lastConnectedMs = valueAsInt(row[4]);
	_roomsOfKey[valueAsString(row[1])].insert(it->first);
}


void GovpnPlugin::stopping()
{
	std::string inner;
	std::int64_t graceS = 0;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_stopping = true;
		graceS = _settings.shutdownGraceS;
		inner = InnerWriter()
		            .string("message", "Server is shutting down for maintenance")
		            .integer("shutdown_in_seconds", _settings.shutdownGraceS)
		            .string("restart_info", _settings.shutdownRestartInfo)
		            .finish();
		for (auto& entry : _clients)
			send(*entry.second, "", "ServerShutdown", inner);
	}
	// §16: the sockets stay open (and requests answered) for the grace period before the 1001.
	_pHost->holdConnectionsOpen(graceS * 1000);
}


void GovpnPlugin::stop()
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (_settleTimer != 0)
		_pHost->cancel(_settleTimer);
	_settleTimer = 0;
	std::int64_t now = nowMs();
	for (auto& entry : _rooms)
		if (!entry.second->online.empty())
			_pHost->storage().execute("UPDATE rooms SET last_active = ? WHERE id = ?", {now, entry.first});
	if (_pCluster == nullptr)
		_pHost->storage().execute("UPDATE memberships SET is_connected = 0");
}


ReconfigureResult GovpnPlugin::reconfigure(const Config& config, const std::vector<std::string>& changedKeys)
{
	// All or nothing: checked first, then applied under the lock every callback takes. Only the
	// keys this reload changed are judged: one refused before keeps its running value, and one
	// changed back to its running value is no obstacle.
	GovpnSettings fresh;
	std::string problem = fresh.load(config);
	if (!problem.empty())
		return ReconfigureResult::needsRestart(problem);
	// The fields of these keys are written in start() only, so they hold the start values.
	const FixedKey fixed[] = {
	    {"ws_path", "the WebSocket endpoint is registered under it at start", fresh.wsPath == _settings.wsPath},
	    {"health_path", "the route is registered under it at start", fresh.healthPath == _settings.healthPath},
	    {"stats_path", "the route is registered under it at start", fresh.statsPath == _settings.statsPath},
	    {"max_message_size", "the host enforces it on the WebSocket endpoint registered at start",
	     fresh.maxMessageSize == _settings.maxMessageSize},
	    {"ping_interval", "it is the ping interval of the WebSocket endpoint registered at start",
	     fresh.pingIntervalS == _settings.pingIntervalS},
	    {"idle_timeout", "it is the idle timeout of the WebSocket endpoint registered at start",
	     fresh.idleTimeoutS == _settings.idleTimeoutS},
	    {"strict_auth", "the open connections were greeted in the other mode (with or without AuthChallenge)",
	     fresh.strictAuth == _settings.strictAuth},
	    {"rate_limit_ipv6_prefix",
	     "the per-IP buckets are keyed by it: a new prefix would give IPv6 clients fresh, full buckets",
	     fresh.rateLimitIpv6Prefix == _settings.rateLimitIpv6Prefix},
	};
	if (std::string why = fixedKeyChanged(changedKeys, fixed); !why.empty())
		return ReconfigureResult::needsRestart(why);

	bool newInterval = false;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		// Token buckets keep their level: refilled at the old rate up to now, then capped by the
		// new capacity. A raised capacity or rate gives nothing back for the time already past.
		std::int64_t now = _pHost->clock().monotonicMs();
		double refillMs = static_cast<double>(_settings.rateLimitRefillS) * 1000;
		for (auto& entry : _ipBuckets)
		{
			Bucket& bucket = entry.second;
			bucket.tokens = std::min(static_cast<double>(_settings.rateLimitBurst),
			                         bucket.tokens + static_cast<double>(now - bucket.lastMs) / refillMs);
			bucket.tokens = std::min(bucket.tokens, static_cast<double>(fresh.rateLimitBurst));
			bucket.lastMs = now;
		}
		for (auto& entry : _clients)
		{
			Client& client = *entry.second;
			client.floodTokens =
			    std::min<double>(static_cast<double>(_settings.messageBurst),
			                     client.floodTokens + static_cast<double>(now - client.floodLastMs) *
			                                              static_cast<double>(_settings.messageRate) / 1000.0);
			client.floodTokens = std::min(client.floodTokens, static_cast<double>(fresh.messageBurst));
			client.floodLastMs = now;
		}
		newInterval = fresh.cleanupIntervalS != _settings.cleanupIntervalS;
		_settings.allowedOrigins = fresh.allowedOrigins;
		_settings.trustedProxies = fresh.trustedProxies;
		_settings.maxMembersPerRoom = fresh.maxMembersPerRoom;
		_settings.roomExpiryDays = fresh.roomExpiryDays;
		_settings.cleanupIntervalS = fresh.cleanupIntervalS;
		_settings.rateLimitBurst = fresh.rateLimitBurst;
		_settings.rateLimitRefillS = fresh.rateLimitRefillS;
		_settings.passwordMaxFailures = fresh.passwordMaxFailures;
		_settings.passwordFailureWindowS = fresh.passwordFailureWindowS;
		_settings.passwordLockoutS = fresh.passwordLockoutS;
		_settings.passwordLockoutMaxS = fresh.passwordLockoutMaxS;
		_settings.messageRate = fresh.messageRate;
		_settings.messageBurst = fresh.messageBurst;
		_settings.strictAuthHost = fresh.strictAuthHost;
		_settings.authTimeoutS = fresh.authTimeoutS;
		_settings.shutdownGraceS = fresh.shutdownGraceS;
		_settings.shutdownRestartInfo = fresh.shutdownRestartInfo;
		_settings.storageTimeoutS = fresh.storageTimeoutS;
		// New password hashes only: a stored hash carries its own parameters for verification.
		_settings.pwhashOpslimit = fresh.pwhashOpslimit;
		_settings.pwhashMemlimit = fresh.pwhashMemlimit;
	}
	if (newInterval)
		startCleanupTimer(fresh.cleanupIntervalS); // the next sweep is one new interval from now
	return ReconfigureResult::done();
}


void GovpnPlugin::startCleanupTimer(std::int64_t intervalS)
{
	// Only start() and reconfigure() call it, both on the main thread.
	if (_cleanupTimer != 0)
		_pHost->cancel(_cleanupTimer);
	_cleanupTimer = _pHost->every(intervalS * 1000, [this] {
		enqueueOperation([this] { sweepExpired(false); }); // calls operationDone()
	});
}


// --- connections ---------------------------------------------------------------------------------


std::string GovpnPlugin::clientIp(const HttpRequest& request) const
{
	std::string remote = request.remoteAddress;
	std::string address;
	if (!remote.empty() && remote[0] == '[')
		address = remote.substr(1, remote.find(']') == std::string::npos ? std::string::npos : remote.find(']') - 1);
	else if (std::count(remote.begin(), remote.end(), ':') == 1)
		address = remote.substr(0, remote.find(':'));
	else
		address = remote;
	std::string ip = normaliseIp(address);
	if (ip.empty())
		ip = address;
	IpAddress peer;
	bool trusted =
	    IpAddress::parse(ip, peer) && std::any_of(_settings.trustedProxies.begin(), _settings.trustedProxies.end(),
	                                              [&](const AddressRange& range) { return range.contains(peer); });
	if (!trusted)
		return ip;
	std::string real = normaliseIp(trimmed(request.header("X-Real-IP")));
	if (!real.empty())
		return real;
	std::string forwarded(request.header("X-Forwarded-For"));
	std::string first = normaliseIp(trimmed(std::string_view(forwarded).substr(0, forwarded.find(','))));
	return first.empty() ? ip : first;
}


std::string GovpnPlugin::rateKey(const std::string& ip) const
{
	unsigned char bytes[16];
	if (ip.find(':') == std::string::npos || inet_pton(AF_INET6, ip.c_str(), bytes) != 1)
		return ip;
	int prefix = static_cast<int>(_settings.rateLimitIpv6Prefix);
	for (int bit = prefix; bit < 128; ++bit)
		bytes[bit / 8] = static_cast<unsigned char>(bytes[bit / 8] & ~(0x80 >> (bit % 8)));
	char buffer[INET6_ADDRSTRLEN];
	return std::string(inet_ntop(AF_INET6, bytes, buffer, sizeof(buffer))) + "/" + std::to_string(prefix);
}


AcceptDecision GovpnPlugin::onAccept(const HttpRequest& request)
{
	std::string_view origin = request.header("Origin");
	std::lock_guard<std::recursive_mutex> lock(_mutex); // a reload may change the list
	if (!_settings.allowedOrigins.empty() && !origin.empty() &&
	    std::find(_settings.allowedOrigins.begin(), _settings.allowedOrigins.end(), origin) ==
	        _settings.allowedOrigins.end())
		return AcceptDecision::reject(403, "Forbidden: origin not allowed");
	return AcceptDecision::accept();
}


void GovpnPlugin::onOpen(Connection& connection, const HttpRequest& request)
{
	// Under the lock from the start: trusted_proxies and message_burst may change in a reload.
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	auto client = std::make_shared<Client>();
	client->id = connection.id();
	client->ip = clientIp(request);
	client->host = lowercase(request.header("Host"));
	client->floodTokens = static_cast<double>(_settings.messageBurst);
	client->floodLastMs = _pHost->clock().monotonicMs();
	connection.setState(client);

	do
		client->connectionId = newConnectionId();
	while (_byConnectionId.count(client->connectionId) > 0);
	_clients[client->id] = client;
	_byConnectionId[client->connectionId] = client->id;
	++_connectionsTotal;
	_peakConnections = std::max<std::uint64_t>(_peakConnections, _clients.size());

	if (_settings.strictAuth)
	{
		std::string nonce;
		if (_generators.nonce)
			nonce = _generators.nonce();
		else
		{
			nonce.resize(32);
			randombytes_buf(nonce.data(), nonce.size());
		}
		client->nonce = nonce;
		send(*client, "", "AuthChallenge", InnerWriter().string("nonce", base64Encode(nonce)).finish());
		ConnectionId id = client->id;
		client->authTimer = _pHost->after(_settings.authTimeoutS * 1000, [this, id] {
			ClientPtr c = clientOf(id);
			std::lock_guard<std::recursive_mutex> guard(_mutex);
			if (c && !c->authenticated)
				_pHost->router().close(id, CloseCode::POLICY_VIOLATION, "authentication timeout");
		});
		return;
	}
	std::string key = trimmed(request.header("X-Client-ID"));
	if (isPublicKey(key))
	{
		client->boundKey = key;
		_socketsOfKey[key].insert(client->id);
		pushConnectInfo(*client);
	}
}


void GovpnPlugin::pushConnectInfo(Client& client)
{
	send(client, "", "UserRooms", userRoomsPayload(client.boundKey));
	bool v6 = client.ip.find(':') != std::string::npos;
	send(client, "", "ClientIPInfo",
	     InnerWriter().string("ipv4", v6 ? "" : client.ip).string("ipv6", v6 ? client.ip : "").finish());
}


void GovpnPlugin::onClose(Connection& connection, std::uint16_t /*code*/, std::string_view /*reason*/)
{
	ClientPtr client = clientOf(connection.id());
	if (!client)
		return;
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	client->open = false;
	client->pending.clear();
	if (client->authTimer != 0)
		_pHost->cancel(client->authTimer);
	if (!client->room.empty())
	{
		// §5.5: offline, still a member. Persisted without waiting: nobody awaits a reply.
		std::vector<Statement> statements;
		leaveCurrentRoomStatements(*client, statements);
		if (_stopping)
		{
			// §16: no PeerDisconnected during shutdown; stop() clears is_connected (alone: all rows
			// at once; in a cluster each row here, the other nodes' members being online).
			auto room = _rooms.find(client->room);
			if (room != _rooms.end())
				endPresence(*room->second, client->id);
			client->room.clear();
			if (_pCluster == nullptr)
				statements.clear();
		}
		else
			leaveCurrentRoom(*client);
		for (Statement& s : statements)
			_pHost->storage().executeAsync(std::move(s.sql), std::move(s.params), {});
	}
	if (!client->boundKey.empty())
	{
		auto it = _socketsOfKey.find(client->boundKey);
		if (it != _socketsOfKey.end())
		{
			it->second.erase(client->id);
			if (it->second.empty())
				_socketsOfKey.erase(it);
		}
	}
	_byConnectionId.erase(client->connectionId);
	_clients.erase(client->id);
	updateGauges();
}


GovpnPlugin::ClientPtr GovpnPlugin::clientOf(ConnectionId id)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	auto it = _clients.find(id);
	return it == _clients.end() ? nullptr : it->second;
}


void GovpnPlugin::onMessage(Connection& connection, std::string_view data, MessageKind /*kind*/)
{
	std::unique_lock<std::recursive_mutex> lock(_mutex);
	auto found = _clients.find(connection.id());
	if (found == _clients.end())
		return;
	Client& client = *found->second;
	// §10.3: the flood guard drops before anything is parsed or queued.
	std::int64_t now = _pHost->clock().monotonicMs();
	if (now != client.floodLastMs) // within one millisecond nothing refills (and a busy socket skips the division)
	{
		client.floodTokens =
		    std::min<double>(static_cast<double>(_settings.messageBurst),
		                     client.floodTokens + static_cast<double>(now - client.floodLastMs) *
		                                              static_cast<double>(_settings.messageRate) / 1000.0);
		client.floodLastMs = now;
	}
	if (client.floodTokens < 1 || client.pending.size() >= MAX_PENDING_PER_CONNECTION)
	{
		_pRateLimited->increment();
		if (now - client.lastFloodErrorMs >= 1000)
		{
			client.lastFloodErrorMs = now;
			Envelope envelope;
			readEnvelope(data, envelope);
			// send(), not sendError(): this drop was counted above already.
			send(client, envelope.messageId, "Error", InnerWriter().string("error", RATE_LIMITED).finish());
		}
		return;
	}
	client.floodTokens -= 1;
	// The fast relay: a signal in the real client's shape, with nothing of this connection queued
	// before it, is relayed here from the frame's own bytes. Everything else is queued.
	SignalFrame signal;
	if (_fastRelay && client.pending.empty() && !client.waiting && !client.draining && client.open &&
	    readSignalFrame(data, _relayPayload, signal))
	{
		++_messagesProcessed;
		client.mode = signal.form; // §4.3
		relaySignal(client, signal, now);
		return;
	}
	client.pending.emplace_back(data);
	ClientPtr queued = found->second;
	lock.unlock();
	drain(queued);
}


// --- request flow --------------------------------------------------------------------------------


void GovpnPlugin::drain(const ClientPtr& client)
{
	std::unique_lock<std::recursive_mutex> lock(_mutex);
	if (client->draining)
		return;
	client->draining = true;
	while (!client->waiting && !client->pending.empty() && client->open)
	{
		std::string frame = std::move(client->pending.front());
		client->pending.pop_front();
		client->waiting = true;
		lock.unlock();
		handleFrame(client, frame); // calls resume() once the request is answered
		lock.lock();
	}
	client->draining = false;
}


void GovpnPlugin::resume(const ClientPtr& client)
{
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		client->waiting = false;
		if (client->draining)
			return; // the draining loop goes on with the next request
	}
	drain(client);
}


void GovpnPlugin::enqueueOperation(std::function<void()> operation)
{
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_operations.push_back(std::move(operation));
	}
	runOperations();
}


void GovpnPlugin::runOperations()
{
	std::unique_lock<std::recursive_mutex> lock(_mutex);
	if (_operationsDraining)
		return;
	_operationsDraining = true;
	while (!_operationWaiting && !_operations.empty())
	{
		std::function<void()> operation = std::move(_operations.front());
		_operations.pop_front();
		_operationWaiting = true;
		lock.unlock();
		operation(); // calls operationDone() when finished
		lock.lock();
	}
	_operationsDraining = false;
}


void GovpnPlugin::operationDone()
{
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		_operationWaiting = false;
		if (_operationsDraining)
			return;
	}
	runOperations();
}


void GovpnPlugin::persist(std::vector<Statement> statements, std::function<void(bool committed)> done)
{
	// 0 pending, 1 the worker is committing, 2 timed out (the worker rolls back or never
	// begins), 3 completed.
	auto state = std::make_shared<std::atomic<int>>(0);
	auto committed = std::make_shared<bool>(false);
	auto finish = std::make_shared<std::function<void(bool)>>(std::move(done));
	int timeoutS = 0;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex); // a reload may change it
		timeoutS = static_cast<int>(_settings.storageTimeoutS);
	}
	TimerId timer = _pHost->after(timeoutS * 1000, [this, state, finish, timeoutS] {
		int expected = 0;
		if (state->compare_exchange_strong(expected, 2))
		{
			_pHost->logger().warning("govpn: a storage write timed out after " + std::to_string(timeoutS) + " s");
			(*finish)(false);
		}
	});
	Storage& storage = _pHost->storage();
	Host* host = _pHost;
	auto work = std::make_shared<std::vector<Statement>>(std::move(statements));
	auto start = [this, &storage, host, timer, work, state, committed, finish] {
		_pHost->offload(
		    [&storage, host, work, state, committed] {
			    if (state->load() == 2)
				    return; // answered already while it waited for the previous transaction
			    std::string error;
			    *committed = storage.transaction(
			        [&](Storage& tx) {
				        for (const Statement& s : *work)
					        if (!tx.execute(s.sql, s.params).ok)
						        return false;
				        int expected = 0;
				        return state->compare_exchange_strong(expected, 1);
			        },
			        &error);
			    // The operator's clue to a full disk or a read-only file (the client gets the contract's string).
			    if (!*committed && state->load() != 2)
				    host->logger().warning("govpn: a storage write failed: " + error);
		    },
		    [this, host, timer, state, committed, finish] {
			    int expected = 0;
			    bool answeredByTimeout = !state->compare_exchange_strong(expected, 3) && expected == 2;
			    if (!answeredByTimeout)
			    {
				    host->cancel(timer);
				    (*finish)(*committed && expected == 1);
			    }
			    storageDone();
		    });
	};
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_storageInFlight)
		{
			_storageQueue.emplace_back(std::move(start));
			return;
		}
		_storageInFlight = true;
	}
	start();
}


void GovpnPlugin::storageDone()
{
	std::function<void()> next;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_storageQueue.empty())
		{
			_storageInFlight = false;
			return;
		}
		next = std::move(_storageQueue.front());
		_storageQueue.pop_front();
	}
	next();
}


void GovpnPlugin::offloadHashing(std::function<void()> work, std::function<void()> completion)
{
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		if (_hashingInFlight >= _hashingLimit)
		{
			_hashingQueue.emplace_back(std::move(work), std::move(completion));
			return;
		}
		++_hashingInFlight;
	}
	_pHost->offload(std::move(work), [this, completion = std::move(completion)] {
		completion(); // first, so its storage write reaches the pool before the next hash
		hashingDone();
	});
}


void GovpnPlugin::hashingDone()
{
	std::pair<std::function<void()>, std::function<void()>> next;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		--_hashingInFlight;
		if (_hashingQueue.empty())
			return;
		next = std::move(_hashingQueue.front());
		_hashingQueue.pop_front();
	}
	offloadHashing(std::move(next.first), std::move(next.second));
}


void GovpnPlugin::runPlan(const ClientPtr& client, const std::string& messageId, std::function<Plan()> build)
{
	enqueueOperation([this, client, messageId, build = std::move(build)] {
		std::unique_lock<std::recursive_mutex> lock(_mutex);
		Plan plan = build();
		if (!plan.error.empty() || plan.statements.empty())
		{
			if (!plan.error.empty())
				sendError(*client, messageId, plan.error);
			else if (plan.apply)
				plan.apply();
			lock.unlock();
			operationDone();
			resume(client);
			return;
		}
		lock.unlock();
		persist(std::move(plan.statements),
		        [this, client, messageId, apply = std::move(plan.apply), error = plan.databaseError](bool ok) {
			        {
				        std::lock_guard<std::recursive_mutex> guard(_mutex);
				        if (ok)
					        apply();
				        else
					        sendError(*client, messageId, error);
			        }
			        operationDone();
			        resume(client);
		        });
	});
}


void GovpnPlugin::handleFrame(const ClientPtr& client, const std::string& frame)
{
	auto envelope = std::make_shared<Envelope>(); // shared: a queued request outlives this call
	readEnvelope(frame, *envelope);
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		++_messagesProcessed;
		if (envelope->status == Envelope::Status::VALID && envelope->hasForm)
			client->mode = envelope->form; // §4.3: every valid envelope sets the reply form
		if (envelope->status != Envelope::Status::VALID)
		{
			sendError(*client, envelope->messageId, "Invalid message format");
			resume(client);
			return;
		}
		bool known =
		    REQUEST_TYPES.count(envelope->type) > 0 || (_settings.strictAuth && envelope->type == "Authenticate");
		if (!known)
		{
			if (!envelope->messageId.empty())
				sendError(*client, envelope->messageId, "Unknown message type");
			resume(client);
			return;
		}
	}
	const std::string& type = envelope->type;
	if (type == "CreateRoom")
		createRoom(client, envelope);
	else if (type == "JoinRoom")
		joinRoom(client, envelope);
	else if (type == "ConnectRoom")
		connectRoom(client, envelope);
	else if (type == "DisconnectRoom")
		disconnectRoom(client, envelope);
	else if (type == "LeaveRoom")
		leaveRoom(client, envelope);
	else if (type == "Kick")
		kick(client, envelope);
	else if (type == "Rename")
		rename(client, envelope);
	else if (type == "GetUserRooms")
		getUserRooms(client, envelope);
	else if (type == "Ping")
		ping(client, envelope);
	else if (type == "Authenticate")
		authenticate(client, envelope);
	else
		relay(client, envelope);
}


// --- helpers -------------------------------------------------------------------------------------


void GovpnPlugin::send(const Client& client, std::string_view messageId, std::string_view type,
                       const std::string& inner)
{
	if (client.open)
		_pHost->router().send(client.id, encodeFrame(messageId, type, inner, client.mode));
}


void GovpnPlugin::sendError(const Client& client, std::string_view messageId, std::string_view error)
{
	if (error == RATE_LIMITED)
		_pRateLimited->increment();
	send(client, messageId, "Error", InnerWriter().string("error", error).finish());
}


void GovpnPlugin::forgetMembership(const std::string& key, const std::string& roomId)
{
	auto rooms = _roomsOfKey.find(key);
	if (rooms == _roomsOfKey.end())
		return;
	rooms->second.erase(roomId);
	if (rooms->second.empty())
		_roomsOfKey.erase(rooms);
}


ConnectionId GovpnPlugin::dropMember(Room& room, const std::string& key, std::int64_t now)
{
	share("G " + room.id + " " + key);
	room.members.erase(key);
	room.lastActiveMs = now;
	forgetMembership(key, room.id);
	const Room::Online* online = room.onlineByKey(key);
	if (online == nullptr)
		return 0;
	ConnectionId socket = online->socket;
	endPresence(room, socket);
	return socket;
}


void GovpnPlugin::announcePeerLeft(Room& room, const std::string& key, ConnectionId except)
{
	std::string inner = InnerWriter().string("public_key", key).string("room_id", room.id).finish();
	for (const Room::Online& o : room.online)
		if (o.socket != except)
			push(o.socket, "PeerLeft", inner);
}


std::string GovpnPlugin::checkKey(Client& client, std::string_view key)
{
	// §5.2: a payload key is never trusted alone. The bound key passed this check already.
	if (!client.boundKey.empty() && client.boundKey == key)
		return "";
	if (!isPublicKey(key))
		return "Invalid public key format";
	if (!client.boundKey.empty())
		return client.boundKey == key ? "" : "Public key does not match this connection";
	client.boundKey = key;
	_socketsOfKey[client.boundKey].insert(client.id);
	return "";
}


bool GovpnPlugin::takeRateToken(const Client& client)
{
	std::int64_t now = _pHost->clock().monotonicMs();
	double refillMs = static_cast<double>(_settings.rateLimitRefillS) * 1000;
	double burst = static_cast<double>(_settings.rateLimitBurst);
	auto inserted = _ipBuckets.try_emplace(rateKey(client.ip), Bucket{burst, now});
	Bucket& bucket = inserted.first->second;
	bucket.tokens = std::min(burst, bucket.tokens + static_cast<double>(now - bucket.lastMs) / refillMs);
	bucket.lastMs = now;
	if (bucket.tokens < 1)
		return false;
	bucket.tokens -= 1;
	return true;
}


void GovpnPlugin::endPresence(Room& room, ConnectionId socket)
{
	if (_pCluster != nullptr)
		for (const Room::Online& o : room.online)
			if (o.socket == socket)
				share("F " + room.id + " " + std::to_string(socket));
	room.online.erase(std::remove_if(room.online.begin(), room.online.end(),
	                                 [socket](const Room::Online& o) { return o.socket == socket; }),
	                  room.online.end());
	auto it = _clients.find(socket);
	if (it != _clients.end() && it->second->room == room.id)
		it->second->room.clear();
}


void GovpnPlugin::leaveCurrentRoomStatements(const Client& client, std::vector<Statement>& statements)
{
	if (client.room.empty())
		return;
	std::int64_t now = nowMs();
	statements.push_back({"UPDATE memberships SET is_connected = 0, last_connected = ? WHERE room_id = ? AND "
	                      "public_key = ?",
	                      {now, client.room, client.boundKey}});
	statements.push_back({"UPDATE rooms SET last_active = ? WHERE id = ?", {now, client.room}});
}


void GovpnPlugin::leaveCurrentRoom(Client& client)
{
	auto it = _rooms.find(client.room);
	if (it == _rooms.end())
	{
		client.room.clear();
		return;
	}
	Room& room = *it->second;
	std::int64_t now = nowMs();
	endPresence(room, client.id);
	auto member = room.members.find(client.boundKey);
	if (member != room.members.end())
		member->second.lastConnectedMs = now;
	room.lastActiveMs = now;
	shareMember(room, client.boundKey);
	for (const Room::Online& o : room.online)
		push(o.socket, "PeerDisconnected", keyRoomPayload(client.boundKey, room.id));
	updateGauges();
}


void GovpnPlugin::displaceOtherSocket(Room& room, const std::string& key, ConnectionId keep)
{
	const Room::Online* existing = room.onlineByKey(key);
	if (existing == nullptr || existing->socket == keep)
		return;
	ConnectionId displaced = existing->socket;
	endPresence(room, displaced);
	push(displaced, "RoomDisconnected", roomIdPayload(room.id));
}


void GovpnPlugin::comeOnline(Room& room, Client& client)
{
	if (!client.open)
	{
		// Closed while its request was being persisted: record it offline again.
		_pHost->storage().executeAsync("UPDATE memberships SET is_connected = 0 WHERE room_id = ? AND public_key = ?",
		                               {room.id, client.boundKey}, {});
		return;
	}
	room.addOnline(client.boundKey, client.id, client.connectionId);
	client.room = room.id;
	shareOnline(room, client.id);
	std::uint64_t activeRooms = 0;
	for (auto& entry : _rooms)
		activeRooms += entry.second->online.empty() ? 0 : 1;
	_peakRooms = std::max(_peakRooms, activeRooms);
	updateGauges();
}


void GovpnPlugin::announce(Room& room, Client& client, std::string_view type, bool notifyOthers)
{
	// §8.2/§8.3: each other online member learns of the newcomer, and the newcomer of each of them.
	const std::string& myName = room.members[client.boundKey].username;
	std::string aboutMe = InnerWriter()
	                          .string("connection_id", client.connectionId)
	                          .string("public_key", client.boundKey)
	                          .string("room_id", room.id)
	                          .string("username", myName)
	                          .finish();
	for (const Room::Online& o : room.online)
	{
		if (o.socket == client.id)
			continue;
		if (notifyOthers)
			push(o.socket, type, aboutMe);
		send(client, "", type,
		     InnerWriter()
		         .string("connection_id", o.connectionId)
		         .string("public_key", o.key)
		         .string("room_id", room.id)
		         .string("username", room.members[o.key].username)
		         .finish());
	}
}


std::string GovpnPlugin::userRoomsPayload(const std::string& key)
{
	std::vector<std::pair<std::int64_t, std::string>> entries;
	auto it = _roomsOfKey.find(key);
	if (it != _roomsOfKey.end())
		for (const std::string& roomId : it->second)
		{
			auto room = _rooms.find(roomId);
			if (room != _rooms.end() && room->second->members.count(key) > 0)
				entries.emplace_back(room->second->members[key].joinedMs / 1000, roomId);
		}
	std::sort(entries.begin(), entries.end());
	std::string rooms = "[";
	for (const auto& entry : entries)
	{
		Room& room = *_rooms[entry.second];
		const Room::Member& member = room.members[key];
		if (rooms.size() > 1)
			rooms += ',';
		rooms += InnerWriter()
		             .string("room_id", room.id)
		             .string("room_name", room.name)
		             .boolean("is_connected", room.onlineByKey(key) != nullptr)
		             .string("joined_at", rfc3339(member.joinedMs))
		             .string("last_connected", rfc3339(member.lastConnectedMs))
		             .finish();
	}
	rooms += ']';
	return InnerWriter().raw("rooms", rooms).finish();
}


void GovpnPlugin::deleteRoom(const std::string& roomId, ConnectionId except)
{
	// §8.5/§11: RoomDeleted to every socket online in it and every live socket of a member.
	auto it = _rooms.find(roomId);
	if (it == _rooms.end())
		return;
	Room& room = *it->second;
	std::set<ConnectionId> recipients;
	for (const Room::Online& o : room.online)
		recipients.insert(o.socket);
	for (const auto& member : room.members)
	{
		auto sockets = _socketsOfKey.find(member.first);
		if (sockets != _socketsOfKey.end())
			recipients.insert(sockets->second.begin(), sockets->second.end());
		forgetMembership(member.first, roomId);
	}
	for (ConnectionId socket : recipients)
	{
		auto c = _clients.find(socket);
		if (c == _clients.end())
			continue;
		if (c->second->room == roomId)
			c->second->room.clear();
		if (socket != except)
			send(*c->second, "", "RoomDeleted", roomIdPayload(roomId));
	}
	share("X " + roomId);
	_roomOfOwner.erase(room.owner);
	_lockouts.erase(roomId);
	_roomById.erase(it->second->id);
	_rooms.erase(it);
	updateGauges();
}


void GovpnPlugin::sweepExpired(bool atStart)
{
	std::unique_lock<std::recursive_mutex> lock(_mutex);
	std::int64_t now = nowMs();
	std::int64_t cutoff = now - static_cast<std::int64_t>(_settings.roomExpiryDays * static_cast<double>(DAY_MS));
	if (_pCluster != nullptr && !atStart)
	{
		// Activity elsewhere reaches storage, not this node's memory: storage decides.
		lock.unlock();
		sweepExpiredInStorage(cutoff);
		return;
	}
	std::vector<std::string> expired;
	for (const auto& entry : _rooms)
		if (entry.second->lastActiveMs <= cutoff)
			expired.push_back(entry.first);
	_lastCleanupMs = now;
	if (expired.empty())
	{
		lock.unlock();
		if (!atStart)
			operationDone();
		return;
	}
	std::vector<Statement> statements;
	for (const std::string& id : expired)
	{
		statements.push_back({"DELETE FROM memberships WHERE room_id = ?", {id}});
		statements.push_back({"DELETE FROM rooms WHERE id = ?", {id}});
	}
	if (atStart)
	{
		// start() may block: the sweep completes before the first connection.
		bool ok = _pHost->storage().transaction([&](Storage& tx) {
			for (const Statement& s : statements)
				if (!tx.execute(s.sql, s.params).ok)
					return false;
			return true;
		});
		if (!ok)
		{
			_pHost->logger().warning("govpn: the start-up expiry sweep failed; rooms kept");
			return;
		}
		for (const std::string& id : expired)
			deleteRoom(id, 0);
		_staleRoomsRemoved += expired.size();
		return;
	}
	// Periodic: runs as an operation; rooms are dropped from memory only after their rows.
	lock.unlock();
	persist(std::move(statements), [this, expired](bool ok) {
		{
			std::lock_guard<std::recursive_mutex> guard(_mutex);
			if (!ok)
				_pHost->logger().warning("govpn: an expiry sweep failed; will retry");
			else
			{
				for (const std::string& id : expired)
					deleteRoom(id, 0);
				_staleRoomsRemoved += expired.size();
			}
		}
		operationDone();
	});
}


void GovpnPlugin::sweepExpiredInStorage(std::int64_t cutoff)
{
	auto expired = std::make_shared<std::vector<std::string>>();
	auto failed = std::make_shared<bool>(false);
	Storage& storage = _pHost->storage();
	_pHost->offload(
	    [&storage, expired, failed, cutoff] {
		    bool ok = storage.transaction([&](Storage& tx) {
			    QueryResult rooms = tx.execute("SELECT id FROM rooms WHERE last_active <= ?", {cutoff});
			    if (!rooms.ok)
				    return false;
			    for (const auto& row : rooms.rows)
			    {
				    expired->push_back(valueAsString(row[0]));
				    if (!tx.execute("DELETE FROM memberships WHERE room_id = ?", {expired->back()}).ok ||
				        !tx.execute("DELETE FROM rooms WHERE id = ?", {expired->back()}).ok)
					    return false;
			    }
			    return true;
		    });
		    if (!ok)
			    expired->clear();
		    *failed = !ok;
	    },
	    [this, expired, failed] {
		    {
			    std::lock_guard<std::recursive_mutex> guard(_mutex);
			    if (*failed)
				    _pHost->logger().warning("govpn: an expiry sweep failed; will retry");
			    _lastCleanupMs = nowMs();
			    for (const std::string& id : *expired)
				    deleteRoom(id, 0); // and tells the other nodes
			    _staleRoomsRemoved += expired->size();
		    }
		    operationDone();
	    });
}


void GovpnPlugin::updateGauges()
{
	if (_pRoomsGauge == nullptr)
		return;
	std::int64_t online = 0; // this node's members: in a cluster each node counts its own
	for (const auto& entry : _rooms)
		for (const Room::Online& o : entry.second->online)
			online += _clients.count(o.socket) > 0 ? 1 : 0;
	_pRoomsGauge->set(static_cast<std::int64_t>(_rooms.size()));
	_pOnlineGauge->set(online);
}


std::string GovpnPlugin::statsBody()
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	std::int64_t now = nowMs();
	std::int64_t activeRooms = 0;
	for (const auto& entry : _rooms)
		activeRooms += entry.second->online.empty() ? 0 : 1;
	std::string serverStats =
	    InnerWriter()
	        .string("start_time", rfc3339(_startWallMs))
	        .integer("uptime", (now - _startWallMs) / 1000)
	        .integer("connections_total", static_cast<std::int64_t>(_connectionsTotal))
	        .integer("active_connections", static_cast<std::int64_t>(_clients.size()))
	        .integer("active_rooms", activeRooms)
	        .integer("peak_connections", static_cast<std::int64_t>(_peakConnections))
	        .integer("peak_rooms", static_cast<std::int64_t>(_peakRooms))
	        .integer("messages_processed", static_cast<std::int64_t>(_messagesProcessed))
	        .string("version", "1.0.0")
	        .raw("last_cleanup_time", _lastCleanupMs < 0 ? "null" : goQuote(rfc3339(_lastCleanupMs)))
	        .integer("stale_rooms_removed", static_cast<std::int64_t>(_staleRoomsRemoved))
	        .finish();
	std::string config = InnerWriter()
	                         .integer("max_clients_per_room", _settings.maxMembersPerRoom)
	                         .raw("room_expiry_days", jsonNumber(_settings.roomExpiryDays))
	                         .integer("cleanup_interval", _settings.cleanupIntervalS)
	                         .boolean("allow_all_origins", _settings.allowedOrigins.empty())
	                         .finish();
	return InnerWriter().raw("server_stats", serverStats).raw("config", config).finish();
}


} // namespace Govpn
} // namespace Switchboard
