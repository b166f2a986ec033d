//
// TogetherPlugin.h
//
// The Together plugin (docs/protocols/together.md): a Discord-like REST API (accounts, servers,
// channels, messages, voice) and a WebSocket gateway (READY, message and voice fan-out, presence,
// VOICE_SIGNAL relay). Everything but messages and login sessions is mirrored in memory after
// each commit, so the gateway never touches storage and REST checks read no tables.
//
// Threading: REST handlers run on HTTP worker threads and may block on storage; gateway callbacks
// run on event loops and never block. Both reach the shared model through _mutex, which is never
// held across a storage call or a password hash. Fan-out goes through the Router's groups:
// "s:<server id>" holds the sessions of a server's members, "u:<user id>" a user's sessions.
//


#ifndef Switchboard_Together_TogetherPlugin_INCLUDED
#define Switchboard_Together_TogetherPlugin_INCLUDED


#include "Accounts.h"
#include "RateBuckets.h"
#include "Sessions.h"
#include "StaticFiles.h"
#include "TogetherSettings.h"
#include "Tokens.h"
#include "switchboard/SDK.h"
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Together {


const PluginDescriptor& togetherDescriptor();

constexpr const char* PLUGIN_VERSION = "1.0.0";


struct Member
{
	std::optional<std::string> nickname;
	std::int64_t joinedAt = 0;
};


struct ServerInfo
{
	std::string id;
	std::string name;
	std::optional<std::string> description;
	std::string ownerId;
	std::optional<std::string> iconUrl;
	bool isPublic = false;
	std::int64_t createdAt = 0;
	std::int64_t updatedAt = 0;
	std::unordered_map<std::string, Member> members; ///< by user id
};


struct ChannelInfo
{
	std::string id;
	std::string serverId;
	std::string name;
	std::string type; ///< "text" or "voice"
	std::int64_t position = 0;
	std::optional<std::string> category;
	std::optional<std::string> topic;
	std::int64_t createdAt = 0;
};


struct VoiceState
{
	std::string channelId;
	bool selfMute = false;
	bool selfDeaf = false;
	bool serverMute = false;
	bool serverDeaf = false;
	std::int64_t joinedAt = 0;
	ConnectionId boundSession = 0; ///< 0: the state belongs to the user, not one session
};


struct GatewaySession
/// One open gateway connection, registered at onOpen.
{
	std::string userId;
	std::string sessionId;           ///< 32 hex characters, for voice binding
	std::int64_t tokenExpiresAt = 0; ///< Unix seconds
	double tokens = 0;               ///< inbound frame bucket
	std::int64_t bucketMs = 0;
	std::vector<std::int64_t> discardedMs; ///< discarded frames in the last 10 s (at most 101 kept)
};


extern const char* const SERVER_COLUMNS;              ///< the servers columns serverFrom() reads, in its order
extern const char* const MEMBER_COLUMNS;              ///< the server_members columns memberFrom() reads
extern const char* const CHANNEL_COLUMNS;             ///< the channels columns channelFrom() reads
ServerInfo serverFrom(const std::vector<Value>& row); ///< without its members
Member memberFrom(const std::vector<Value>& row);
ChannelInfo channelFrom(const std::vector<Value>& row);


class TogetherPlugin: public Plugin, public WebSocketHandler
{
public:
	TogetherPlugin();
	~TogetherPlugin() override;

	std::vector<Migration> migrations() const override;
	StartResult start(Host& host, Setup& setup) override;
	void stopping() override;
	void stop() override;
	ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys) override;
	/// Applies live the keys that decide what happens next (CORS and origins, rate limits and
	/// caps, token lifetimes, password cost, web_root, ...); declines the gateway's transport
	/// options (the host fixed them when the endpoint was registered) and jwt_secret. All or
	/// nothing; docs/protocols/together.md, "Reload (SIGHUP)".

	AcceptDecision onAccept(const HttpRequest& request) override;
	void onOpen(Connection& connection, const HttpRequest& request) override;
	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override;
	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override;

	struct Call;
	using Handler = void (TogetherPlugin::*)(Call& call);

private:
	// --- start-up (TogetherPlugin.cpp) -----------------------------------------------------
	std::shared_ptr<const TogetherSettings> settings() const;
	/// The current settings: a snapshot a reload never changes (it swaps in a new one).
	std::shared_ptr<const StaticFiles> webRoot() const; ///< nullptr: no web_root
	bool loadSecret(std::string& error);
	bool loadModel(std::string& error);
	std::int64_t nowMicros();
	std::string newId();

	// --- REST (Rest.cpp) --------------------------------------------------------------------
	void registerRoutes();
	void dispatch(const HttpRequest& request, HttpResponse& response);
	bool authenticate(Call& call);

	void health(Call& call);
	void authRegister(Call& call);
	void authLogin(Call& call);
	void authRefresh(Call& call);
	void authLogout(Call& call);
	void getMe(Call& call);
	void patchMe(Call& call);
	void createServer(Call& call);
	void listServers(Call& call);
	void browseServers(Call& call);
	void getServer(Call& call);
	void patchServer(Call& call);
	void deleteServer(Call& call);
	void joinServer(Call& call);
	void leaveServer(Call& call);
	void listMembers(Call& call);
	void createChannel(Call& call);
	void listChannels(Call& call);
	void getChannel(Call& call);
	void patchChannel(Call& call);
	void deleteChannel(Call& call);
	void postMessage(Call& call);
	void listMessages(Call& call);
	void patchMessage(Call& call);
	void deleteMessage(Call& call);
	void joinVoice(Call& call);
	void patchVoice(Call& call);
	void leaveVoice(Call& call);
	void listVoice(Call& call);
	void emptyList(Call& call);
	void registrationMode(Call& call);
	void noContent(Call& call);
	void iceServers(Call& call);
	void acceptInvite(Call& call);
	void getUser(Call& call);

	void authResponse(Call& call, int status, const UserRecord& user, const TokenPair& tokens);

	// --- the model, always under _mutex ------------------------------------------------------
	std::string userDto(const std::string& userId) const;
	std::string serverDto(const ServerInfo& server) const;
	std::string memberDto(const std::string& userId, const Member& member) const;
	std::string voiceDto(const std::string& userId, const VoiceState* state) const;
	std::string presenceOf(const std::string& userId) const;
	const ServerInfo* memberServer(const std::string& serverId, const std::string& userId) const;
	const ChannelInfo* memberChannel(const std::string& channelId, const std::string& userId) const;
	void joinGroups(const std::string& userId, const std::string& serverId);
	void leaveGroups(const std::string& userId, const std::string& serverId);
	void clearVoice(const std::string& userId, std::vector<std::pair<std::string, std::string>>& events);
	/// Removes the user's voice state; events gains (server id, leave frame) for the broadcast.
	void publishPresence(const std::string& userId, ConnectionId except, bool toOwnSessions, bool localOnly = false);
	/// localOnly: to this node's sessions only (each node tells its own when a node died).

	// --- gateway (Gateway.cpp) ----------------------------------------------------------------
	void closeSession(ConnectionId id);
	/// Ends a session the plugin is about to close itself (under the lock).
	void sessionEnded(ConnectionId id);
	void applyPresence(const std::string& userId, const std::string& status,
	                   const std::optional<std::optional<std::string>>& customStatus, ConnectionId sender);
	void relaySignal(Connection& connection, GatewaySession& session, std::string_view d);
	void checkTokenExpiry();
	void refreshFigures();
	/// Sets the gauges from the gateway sessions and presences (every second, for /metrics and the console).

	// --- cluster (TogetherCluster.cpp): the model mirrored on every node -----------------------
	void share(const std::string& message);
	/// Tells the other nodes of a change made here (nothing alone). Their copies re-read users,
	/// servers and channels from the shared storage; voice and presence travel in the message.
	void shareVoice(const std::string& userId);                                   ///< under _mutex
	std::string voiceLine(const std::string& userId) const;                       ///< under _mutex
	bool voiceHeldHere(const VoiceState& state, const std::string& userId) const; ///< under _mutex
	void sharePresence(const std::string& userId);                                ///< under _mutex
	std::string presenceLine(const std::string& userId) const;                    ///< under _mutex
	bool hasSessions(const std::string& userId) const;                            ///< on any node; under _mutex
	void onPeerMessage(NodeNumber from, std::string_view message);
	void drainPeerMessages(); ///< a worker: applies queued messages in arrival order
	void applyPeerMessage(NodeNumber from, const std::string& message);
	void applyServer(const std::string& id, const QueryResult& server, const QueryResult& members);
	void reloadModel(); ///< a worker: everything re-read (after a Redis outage)
	void onNodeLeft(NodeNumber node);
	void onSynced();
	void settleResync(); ///< the settle window ended: who was not announced again has gone
	void dropRemoteUsers(const std::vector<std::string>& voiceGone, const std::vector<std::string>& gone);
	/// Under _mutex: voice states leave and users without sessions go offline, told to this
	/// node's sessions (every node tells its own).
	bool knowsUser(const std::string& userId); ///< may read storage: REST threads only
	void knowsServer(const std::string& serverId, const std::string& memberId);
	/// The same for a server missing from the mirror or not listing memberId (who may have joined
	/// elsewhere a moment ago), with its members.
	void knowsChannel(const std::string& channelId, const std::string& memberId); ///< and its server

	Host* _pHost = nullptr;
	mutable std::mutex _settingsMutex;                  ///< guards the two pointers, swapped by reconfigure()
	std::shared_ptr<const TogetherSettings> _pSettings; ///< never null after start()
	std::shared_ptr<const StaticFiles> _pWebRoot;
	std::unique_ptr<TokenCodec> _codec;
	std::unique_ptr<Accounts> _accounts;
	std::unique_ptr<Sessions> _sessions;
	std::unique_ptr<RateBuckets> _authLimit;
	std::unique_ptr<RateBuckets> _connectLimit;
	std::atomic<std::int64_t> _lastMicros{0};
	std::atomic<bool> _shuttingDown{false};
	TimerId _pruneTimer = 0;
	TimerId _expiryTimer = 0; ///< main thread only (start, reconfigure, stop)
	TimerId _figuresTimer = 0;
	Gauge* _pUsersOnline = nullptr;          ///< switchboard_together_users_online
	Gauge* _pGatewaySessions = nullptr;      ///< switchboard_together_gateway_sessions
	TimerId _settleTimer = 0;                ///< under _mutex
	std::set<std::string> _unconfirmedUsers; ///< had sessions elsewhere before a resync; under _mutex

	struct Route
	{
		std::string method;
		std::vector<std::string> segments; ///< literals, or ":name" for an id parameter
		Handler handler;
		bool authenticated;
		bool takesBody;
	};
	std::vector<Route> _routes;

	mutable std::mutex _mutex;
	std::unordered_map<std::string, UserRecord> _users;
	std::unordered_map<std::string, ServerInfo> _servers;
	std::unordered_map<std::string, std::set<std::string>> _userServers;
	std::unordered_map<std::string, ChannelInfo> _channels;
	std::unordered_map<std::string, VoiceState> _voice; ///< by user id
	std::unordered_map<ConnectionId, GatewaySession> _gateway;
	std::unordered_map<std::string, std::vector<ConnectionId>> _userSessions; ///< in opening order
	std::unordered_map<std::string, std::string> _presence; ///< users with sessions: online/idle/dnd/offline
	std::unordered_map<std::string, std::set<NodeNumber>> _sessionNodes; ///< other nodes with a user's sessions

	ClusterChannel* _pCluster = nullptr; ///< non-null only in a cluster
	std::mutex _peerMutex;
	std::deque<std::pair<NodeNumber, std::string>> _peerQueue; ///< guarded by _peerMutex
	bool _peerDraining = false;                                ///< guarded by _peerMutex
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_TogetherPlugin_INCLUDED
