//
// TogetherPlugin.cpp
//
// Start-up and shutdown: settings, the signing secret, accounts and sessions, the in-memory
// model loaded from storage, routes, the gateway endpoints and the timers.
//


#include "TogetherPlugin.h"
#include "switchboard/util/Reconfigure.h"
#include "Rules.h"
#include "Schema.h"
#include <sodium.h>
#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>


namespace Switchboard {
namespace Together {


namespace {


constexpr std::int64_t PRUNE_INTERVAL_MS = 3600 * 1000;
constexpr std::int64_t EXPIRY_CHECK_MS = 500;
constexpr std::int64_t FIGURES_INTERVAL_MS = 1000; // the gauges users_online and gateway_sessions

// Close reasons the endpoint options point at: static, so they outlive the plugin's stop().
const char* const REASON_TIMED_OUT = "Session timed out";
const char* const REASON_SLOW_CONSUMER = "Slow consumer";
const char* const REASON_INVALID_FORMAT = "Invalid message format";

// The keys a reload cannot change, and why (docs/protocols/together.md, "Reload (SIGHUP)").
const char* const FIXED_ENDPOINT = "the host enforces it through the gateway endpoint's options, fixed when start() "
                                   "registered the endpoint";
const FixedKey RESTART_KEYS[] = {
    {"jwt_secret", "every token in use is signed with the running secret, and in a cluster all nodes must switch at "
                   "once"},
    {"ws.heartbeat_timeout", FIXED_ENDPOINT},
    {"ws.ping_interval", FIXED_ENDPOINT},
    {"ws.max_frame_bytes", FIXED_ENDPOINT},
    {"ws.send_queue.max_frames", FIXED_ENDPOINT},
    {"ws.send_queue.max_bytes", FIXED_ENDPOINT},
    {"ws.write_timeout", FIXED_ENDPOINT},
    {"ws.close_timeout", FIXED_ENDPOINT},
    {"ws.shutdown_grace", FIXED_ENDPOINT},
};


} // namespace


const PluginDescriptor& togetherDescriptor()
{
	static const PluginDescriptor descriptor = makeDescriptor<TogetherPlugin>(
	    "switchboard.protocol.together", "together", PLUGIN_VERSION,
	    "Together: chat REST API and WebSocket gateway (servers, channels, messages, presence, voice signalling)",
	    TogetherSettings::keys(), TogetherSettings::keyCount());
	return descriptor;
}


TogetherPlugin::TogetherPlugin() = default;
TogetherPlugin::~TogetherPlugin() = default;


std::vector<Migration> TogetherPlugin::migrations() const
{
	return togetherMigrations();
}


std::int64_t TogetherPlugin::nowMicros()
{
	// Strictly increasing, so two messages never share a created_at and pages stay stable.
	const std::int64_t wall =
	    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
	        .count();
	std::int64_t last = _lastMicros.load();
	std::int64_t next = 0;
	do
		next = std::max(wall, last + 1);
	while (!_lastMicros.compare_exchange_weak(last, next));
	return next;
}


std::string TogetherPlugin::newId()
{
	unsigned char bytes[16];
	_pHost->randomBytes(bytes, sizeof(bytes));
	return formatUuid(bytes);
}


std::shared_ptr<const TogetherSettings> TogetherPlugin::settings() const
{
	std::lock_guard<std::mutex> lock(_settingsMutex);
	return _pSettings;
}


std::shared_ptr<const StaticFiles> TogetherPlugin::webRoot() const
{
	std::lock_guard<std::mutex> lock(_settingsMutex);
	return _pWebRoot;
}


bool TogetherPlugin::loadSecret(std::string& error)
{
	const std::string configured = settings()->jwtSecret;
	if (!configured.empty())
	{
		_codec = std::make_unique<TokenCodec>(configured);
		return true;
	}
	Storage& storage = _pHost->storage();
	QueryResult found = storage.execute("SELECT value FROM settings WHERE key = 'jwt_secret'");
	if (!found.ok)
	{
		error = "cannot read the stored jwt_secret: " + found.error;
		return false;
	}
	std::string hex;
	if (!found.rows.empty())
		hex = valueAsString(found.rows[0][0]);
	else
	{
		unsigned char bytes[MIN_SECRET_BYTES];
		randombytes_buf(bytes, sizeof(bytes));
		char text[MIN_SECRET_BYTES * 2 + 1];
		sodium_bin2hex(text, sizeof(text), bytes, sizeof(bytes));
		hex = text;
		// Insert unless present, then read back: a concurrent first start (two nodes on one database)
		// keeps one secret. ON CONFLICT DO NOTHING is understood by both SQLite and PostgreSQL.
		QueryResult stored =
		    storage.execute("INSERT INTO settings (key, value) VALUES ('jwt_secret', ?) ON CONFLICT DO NOTHING", {hex});
		QueryResult again = storage.execute("SELECT value FROM settings WHERE key = 'jwt_secret'");
		if (!stored.ok || !again.ok || again.rows.empty())
		{
			error = "cannot store the generated jwt_secret: " + (stored.ok ? again.error : stored.error);
			return false;
		}
		hex = valueAsString(again.rows[0][0]);
		_pHost->logger().log(LogLevel::LEVEL_NOTICE, "generated a jwt_secret and stored it in the database");
	}
	std::string secret(hex.size() / 2, '\0');
	std::size_t length = 0;
	if (hex.size() < MIN_SECRET_BYTES * 2 || sodium_hex2bin(reinterpret_cast<unsigned char*>(&secret[0]), secret.size(),
	                                                        hex.c_str(), hex.size(), nullptr, &length, nullptr) != 0)
	{
		error = "the stored jwt_secret is not hex of at least 32 bytes";
		return false;
	}
	secret.resize(length);
	_codec = std::make_unique<TokenCodec>(secret);
	return true;
}


const char* const SERVER_COLUMNS = "id, name, description, owner_id, icon_url, is_public, created_at, updated_at";
const char* const MEMBER_COLUMNS = "server_id, user_id, nickname, joined_at";
const char* const CHANNEL_COLUMNS = "id, server_id, name, type, position, category, topic, created_at";


ServerInfo serverFrom(const std::vector<Value>& row)
{
	ServerInfo server;
	server.id = valueAsString(row[0]);
	server.name = valueAsString(row[1]);
	server.description = optionalText(row[2]);
	server.ownerId = valueAsString(row[3]);
	server.iconUrl = optionalText(row[4]);
	server.isPublic = valueAsInt(row[5]) != 0;
	server.createdAt = valueAsInt(row[6]);
	server.updatedAt = valueAsInt(row[7]);
	return server;
}


Member memberFrom(const std::vector<Value>& row)
{
	Member member;
	member.nickname = optionalText(row[2]);
	member.joinedAt = valueAsInt(row[3]);
	return member;
}


ChannelInfo channelFrom(const std::vector<Value>& row)
{
	ChannelInfo channel;
	channel.id = valueAsString(row[0]);
	channel.serverId = valueAsString(row[1]);
	channel.name = valueAsString(row[2]);
	channel.type = valueAsString(row[3]);
	channel.position = valueAsInt(row[4]);
	channel.category = optionalText(row[5]);
	channel.topic = optionalText(row[6]);
	channel.createdAt = valueAsInt(row[7]);
	return channel;
}


bool TogetherPlugin::loadModel(std::string& error)
{
	Storage& storage = _pHost->storage();
	QueryResult users = storage.execute(std::string("SELECT ") + USER_COLUMNS + " FROM users");
	QueryResult servers = storage.execute(std::string("SELECT ") + SERVER_COLUMNS + " FROM servers");
	QueryResult members = storage.execute(std::string("SELECT ") + MEMBER_COLUMNS + " FROM server_members");
	QueryResult channels = storage.execute(std::string("SELECT ") + CHANNEL_COLUMNS + " FROM channels");
	for (const QueryResult* r : {&users, &servers, &members, &channels})
		if (!r->ok)
		{
			error = "cannot load the model: " + r->error;
			return false;
		}
	std::lock_guard<std::mutex> lock(_mutex);
	for (const auto& row : users.rows)
	{
		UserRecord user = userFrom(row);
		_users.emplace(user.id, std::move(user));
	}
	for (const auto& row : servers.rows)
	{
		ServerInfo server = serverFrom(row);
		_servers.emplace(server.id, std::move(server));
	}
	for (const auto& row : members.rows)
	{
		auto server = _servers.find(valueAsString(row[0]));
		if (server == _servers.end())
			continue;
		const std::string userId = valueAsString(row[1]);
		server->second.members.emplace(userId, memberFrom(row));
		_userServers[userId].insert(server->first);
	}
	for (const auto& row : channels.rows)
	{
		ChannelInfo channel = channelFrom(row);
		_channels.emplace(channel.id, std::move(channel));
	}
	return true;
}


StartResult TogetherPlugin::start(Host& host, Setup& setup)
{
	_pHost = &host;
	auto loaded = std::make_shared<TogetherSettings>();
	std::string error = loaded->load(host.config());
	if (!error.empty())
		return StartResult::failed(error);
	const TogetherSettings& current = *loaded;
	{
		std::lock_guard<std::mutex> lock(_settingsMutex);
		_pSettings = loaded;
	}
	if (sodium_init() < 0)
		return StartResult::failed("libsodium could not be initialised");
	if (host.cluster().clustered())
	{
		// Every node mirrors the model (docs/protocols/together.md §9); notices queue for a worker.
		_pCluster = &host.cluster();
		ClusterChannel::Listener listener;
		listener.message = [this](NodeNumber from, std::string_view message) { onPeerMessage(from, message); };
		listener.nodeLeft = [this](NodeNumber node) { onNodeLeft(node); };
		listener.synced = [this] { onSynced(); };
		_pCluster->listen(std::move(listener));
	}
	if (!loadSecret(error) || !loadModel(error))
		return StartResult::failed(error);
	if (!current.webRoot.empty())
	{
		auto files = std::make_shared<StaticFiles>(current.webRoot);
		if (!files->open(error))
			return StartResult::failed("web_root: " + error);
		std::lock_guard<std::mutex> lock(_settingsMutex);
		_pWebRoot = std::move(files);
	}

	auto random = [&host](void* buffer, std::size_t length) { host.randomBytes(buffer, length); };
	const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
	_accounts = std::make_unique<Accounts>(host.storage(), HashCost{current.passwordOpslimit, current.passwordMemlimit},
	                                       cores, random);
	_sessions = std::make_unique<Sessions>(host.storage(), *_codec, current.tokens, random);
	_sessions->prune(nowMicros());
	_authLimit = std::make_unique<RateBuckets>(current.authRatePerSecond, current.authRateBurst);
	_connectLimit = std::make_unique<RateBuckets>(current.wsConnectRatePerSecond, current.wsConnectRateBurst);

	registerRoutes();
	auto handler = [this](const HttpRequest& request, HttpResponse& response) { dispatch(request, response); };
	if (!setup.addRoute("*", "/*", handler))
		return StartResult::failed("cannot register the REST routes");

	WebSocketOptions options;
	options.maxMessageSize = current.wsMaxFrameBytes;
	options.idleTimeoutMs = current.wsHeartbeatTimeoutS * 1000;
	options.idleCloseCode = 4009;
	options.idleCloseReason = REASON_TIMED_OUT;
	options.pingIntervalMs = current.wsPingIntervalS * 1000;
	options.maxOutputQueue = current.wsSendQueueMaxBytes;
	options.overflowCloseCode = 1013;
	options.overflowCloseReason = REASON_SLOW_CONSUMER;
	options.closeTimeoutMs = current.wsCloseTimeoutS * 1000;
	options.sendStallTimeoutMs = current.wsWriteTimeoutS * 1000;
	options.invalidTextCloseCode = 4002;
	options.invalidTextCloseReason = REASON_INVALID_FORMAT;
	options.maxOutputMessages = current.wsSendQueueMaxFrames;
	options.shutdownCloseTimeoutMs = current.wsShutdownGraceS * 1000;
	options.deliverPings = true; // pings count against ws.rate like data frames
	if (!setup.addWebSocket("/ws", *this, options) || !setup.addWebSocket("/api/ws", *this, options))
		return StartResult::failed("cannot register the gateway at /ws and /api/ws");

	_pruneTimer = host.every(PRUNE_INTERVAL_MS, [this] { _pHost->offload([this] { _sessions->prune(nowMicros()); }); });
	if (current.wsCloseOnTokenExpiry)
		_expiryTimer = host.every(EXPIRY_CHECK_MS, [this] { checkTokenExpiry(); });
	_pUsersOnline = &host.metrics().gauge("users_online", "Users whose presence is online, idle or dnd (every node)");
	_pGatewaySessions = &host.metrics().gauge("gateway_sessions", "Gateway WebSocket sessions on this node");
	refreshFigures();
	_figuresTimer = host.every(FIGURES_INTERVAL_MS, [this] { refreshFigures(); });
	host.logger().log(LogLevel::LEVEL_INFO, "together: " + std::to_string(_users.size()) + " users, " +
	                                            std::to_string(_servers.size()) + " servers, " +
	                                            std::to_string(_channels.size()) + " channels loaded");
	return StartResult::started();
}


ReconfigureResult TogetherPlugin::reconfigure(const Config& config, const std::vector<std::string>& changedKeys)
{
	// Check everything first: nothing is applied unless all of it can be.
	if (std::string why = fixedKeyChanged(changedKeys, RESTART_KEYS); !why.empty())
		return ReconfigureResult::needsRestart(why);
	auto fresh = std::make_shared<TogetherSettings>();
	std::string error = fresh->load(config);
	if (!error.empty())
		return ReconfigureResult::needsRestart(error);
	const std::shared_ptr<const TogetherSettings> before = settings();
	std::shared_ptr<const StaticFiles> files = webRoot();
	if (fresh->webRoot != before->webRoot)
	{
		files = nullptr;
		if (!fresh->webRoot.empty())
		{
			auto opened = std::make_shared<StaticFiles>(fresh->webRoot);
			if (!opened->open(error))
				return ReconfigureResult::needsRestart("web_root: " + error);
			files = std::move(opened);
		}
	}
	if (fresh->passwordOpslimit != before->passwordOpslimit || fresh->passwordMemlimit != before->passwordMemlimit)
	{
		// Made before anything else changes, as it can fail (out of memory).
		if (!_accounts->setCost(HashCost{fresh->passwordOpslimit, fresh->passwordMemlimit}))
			return ReconfigureResult::needsRestart("password.opslimit / password.memlimit: cannot hash at that cost");
	}

	const std::int64_t nowMs = _pHost->clock().monotonicMs();
	_sessions->setPolicy(fresh->tokens);
	_authLimit->setLimit(fresh->authRatePerSecond, fresh->authRateBurst, nowMs);
	_connectLimit->setLimit(fresh->wsConnectRatePerSecond, fresh->wsConnectRateBurst, nowMs);
	{
		// Under _mutex, where onMessage reads both: each session's bucket keeps its level (refilled
		// at the old rate until now, cut to the new burst), then the new settings apply.
		std::lock_guard<std::mutex> lock(_mutex);
		for (auto& entry : _gateway)
		{
			GatewaySession& session = entry.second;
			if (before->wsRatePerSecond > 0)
				session.tokens = std::min(before->wsRateBurst, session.tokens + (nowMs - session.bucketMs) *
				                                                                    before->wsRatePerSecond / 1000.0);
			session.tokens = std::min(session.tokens, fresh->wsRateBurst);
			session.bucketMs = nowMs;
		}
		std::lock_guard<std::mutex> settingsLock(_settingsMutex);
		_pSettings = fresh;
		_pWebRoot = std::move(files);
	}
	if (fresh->wsCloseOnTokenExpiry && _expiryTimer == 0)
		_expiryTimer = _pHost->every(EXPIRY_CHECK_MS, [this] { checkTokenExpiry(); });
	else if (!fresh->wsCloseOnTokenExpiry && _expiryTimer != 0)
	{
		_pHost->cancel(_expiryTimer); // a tick already running sees the new settings and does nothing
		_expiryTimer = 0;
	}
	std::string keys;
	for (const std::string& key : changedKeys)
		keys += (keys.empty() ? "" : ", ") + key;
	_pHost->logger().log(LogLevel::LEVEL_INFO, "together: reload applied live: " + keys);
	return ReconfigureResult::done();
}


void TogetherPlugin::refreshFigures()
{
	std::int64_t online = 0, sessions = 0;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		sessions = static_cast<std::int64_t>(_gateway.size());
		for (const auto& entry : _presence)
			online += entry.second != "offline" ? 1 : 0;
	}
	if (_pUsersOnline)
		_pUsersOnline->set(online);
	if (_pGatewaySessions)
		_pGatewaySessions->set(sessions);
}


void TogetherPlugin::stopping()
{
	_shuttingDown = true;
	std::vector<ConnectionId> open;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		for (const auto& entry : _gateway)
			open.push_back(entry.first);
	}
	for (ConnectionId id : open)
		_pHost->router().close(id, CloseCode::GOING_AWAY, "Server shutting down");
}


void TogetherPlugin::stop()
{
	if (_pruneTimer)
		_pHost->cancel(_pruneTimer);
	if (_expiryTimer)
		_pHost->cancel(_expiryTimer);
	_expiryTimer = 0;
	if (_figuresTimer)
		_pHost->cancel(_figuresTimer);
	std::lock_guard<std::mutex> lock(_mutex);
	if (_settleTimer)
		_pHost->cancel(_settleTimer);
	_settleTimer = 0;
}


} // namespace Together
} // namespace Switchboard
