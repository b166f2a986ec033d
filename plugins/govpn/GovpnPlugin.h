//
// GovpnPlugin.h
//
// The GoVPN signaling protocol (docs/protocols/govpn.md): rooms with 4-digit passwords,
// memberships kept in the plugin's storage, presence in memory, and a WebRTC signaling relay.
//
// Concurrency: one lock guards all shared state (rooms, presence, clients, limiters) and is never
// held across storage I/O or password hashing. Requests of one connection run strictly one after
// another (a per-connection queue); requests that change rooms run one at a time plugin-wide (an
// operation queue), each validated against memory, persisted, and only then applied and answered.
//


#ifndef Switchboard_Govpn_GovpnPlugin_INCLUDED
#define Switchboard_Govpn_GovpnPlugin_INCLUDED


#include "Codec.h"
#include "GovpnSettings.h"
#include "SignalFrame.h"
#include "switchboard/SDK.h"
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Govpn {


const PluginDescriptor& govpnDescriptor();


class GovpnPlugin: public Plugin, public WebSocketHandler
{
public:
	struct Generators
	/// Sources of ids and time, replaceable so tests reproduce the contract's exact frames.
	{
		std::function<std::string()> roomId;       ///< 16 lowercase hex
		std::function<std::string()> connectionId; ///< "c-" + 16 lowercase hex
		std::function<std::int64_t()> nowNs;       ///< Ping's server_timestamp
		std::function<std::string()> nonce;        ///< strict mode: 32 raw bytes
	};

	GovpnPlugin();
	~GovpnPlugin() override;

	void setGenerators(Generators generators);
	/// Call before start(); an empty function keeps the default (CSPRNG, wall clock).

	void setFastRelay(bool enabled) { _fastRelay = enabled; }
	/// Tests only: false sends every frame down the general path, so both can be compared.

	std::vector<Migration> migrations() const override;
	StartResult start(Host& host, Setup& setup) override;
	void stopping() override;
	void stop() override;

	ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys) override;
	/// Applies live the origins, trusted_proxies, room, rate, lockout, flood-guard, timeout,
	/// shutdown and hashing keys; the paths, the endpoint's options (max_message_size,
	/// ping_interval, idle_timeout), strict_auth and rate_limit_ipv6_prefix need a restart.
	/// The live fields of _settings are written under _mutex, and read under it.

	AcceptDecision onAccept(const HttpRequest& request) override;
	void onOpen(Connection& connection, const HttpRequest& request) override;
	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override;
	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override;

	struct Client;
	struct Room;
	using ClientPtr = std::shared_ptr<Client>;
	using EnvelopePtr = std::shared_ptr<Envelope>;

private:
	struct Statement
	{
		std::string sql;
		std::vector<Value> params;
	};
	struct Plan
	/// What a room-changing request decided under the lock: an error, or statements to persist
	/// and then the effects (memory and messages) to apply once they are committed.
	{
		std::string error;
		std::vector<Statement> statements;
		std::string databaseError;
		std::function<void()> apply;
	};
	struct Bucket
	{
		double tokens = 0;
		std::int64_t lastMs = 0;
	};
	struct Lockout
	{
		std::deque<std::int64_t> failures;
		std::int64_t lockedUntilMs = 0;
		std::int64_t lastLockoutMs = 0;
		std::int64_t lastLengthMs = 0;
	};

	// --- request flow ---
	void drain(const ClientPtr& client);
	void resume(const ClientPtr& client);
	void handleFrame(const ClientPtr& client, const std::string& frame);
	void enqueueOperation(std::function<void()> operation);
	void operationDone();
	void runOperations();
	void runPlan(const ClientPtr& client, const std::string& messageId, std::function<Plan()> build);
	void persist(std::vector<Statement> statements, std::function<void(bool committed)> done);
	void storageDone();
	void offloadHashing(std::function<void()> work, std::function<void()> completion);
	void hashingDone();

	// --- requests (docs/protocols/govpn.md §8) ---
	void createRoom(const ClientPtr& client, const EnvelopePtr& envelope);
	void joinRoom(const ClientPtr& client, const EnvelopePtr& envelope, bool refreshed = false);
	void connectRoom(const ClientPtr& client, const EnvelopePtr& envelope, bool refreshed = false);
	/// refreshed: the room was just re-read from storage after a miss in the mirror (cluster).
	void disconnectRoom(const ClientPtr& client, const EnvelopePtr& envelope);
	void leaveRoom(const ClientPtr& client, const EnvelopePtr& envelope);
	void kick(const ClientPtr& client, const EnvelopePtr& envelope);
	void rename(const ClientPtr& client, const EnvelopePtr& envelope);
	void getUserRooms(const ClientPtr& client, const EnvelopePtr& envelope);
	void ping(const ClientPtr& client, const EnvelopePtr& envelope);
	void relay(const ClientPtr& client, const EnvelopePtr& envelope);
	void relaySignal(Client& client, const SignalFrame& signal, std::int64_t monotonicMs);
	/// §8.10 from AUTH on, for both paths; the lock is held.
	void authenticate(const ClientPtr& client, const EnvelopePtr& envelope);

	// --- helpers, called with the lock held ---
	std::string checkKey(Client& client, std::string_view key);
	bool refusesActingKey(Client& client, std::string_view key, std::string& error);
	/// AUTH, then KEY if a key was given (§8): true with error set when the request stops here.
	ConnectionId dropMember(Room& room, const std::string& key, std::int64_t now);
	/// Deletes key's membership of room in memory and ends its presence there; returns the socket
	/// that was online for it, or 0.
	void announcePeerLeft(Room& room, const std::string& key, ConnectionId except);
	void forgetMembership(const std::string& key, const std::string& roomId);
	bool takeRateToken(const Client& client);
	void send(const Client& client, std::string_view messageId, std::string_view type, const std::string& inner);
	void sendError(const Client& client, std::string_view messageId, std::string_view error);
	void endPresence(Room& room, ConnectionId socket);
	void leaveCurrentRoomStatements(const Client& client, std::vector<Statement>& statements);
	void leaveCurrentRoom(Client& client);
	void displaceOtherSocket(Room& room, const std::string& key, ConnectionId keep);
	void comeOnline(Room& room, Client& client);
	void announce(Room& room, Client& client, std::string_view type, bool notifyOthers);
	std::string userRoomsPayload(const std::string& key);
	void pushConnectInfo(Client& client);
	void deleteRoom(const std::string& roomId, ConnectionId except);
	void sweepExpired(bool atStart);
	void startCleanupTimer(std::int64_t intervalS);
	void sweepExpiredInStorage(std::int64_t cutoff); ///< in a cluster; an operation
	std::string statsBody();

	// --- cluster (docs/protocols/govpn.md §18): rooms and presence mirrored on every node ---
	void push(ConnectionId socket, std::string_view type, const std::string& inner);
	/// A message_id-less frame to a socket on any node, encoded there in its connection's mode.
	void share(const std::string& message);
	/// Tells the other nodes of a change made here; nothing while applying one of theirs.
	void shareRoom(const Room& room);
	void shareMember(const Room& room, const std::string& key);
	void shareOnline(const Room& room, ConnectionId socket);
	void onPeerMessage(NodeNumber from, std::string_view message);
	void onNodeLeft(NodeNumber node);
	void onSynced();
	void reloadRooms(); ///< an operation: rooms and members re-read from storage
	void addRemoteOnline(std::string_view roomId, std::string_view key, ConnectionId socket,
	                     std::string_view connectionId, bool reasserted);
	void settleResync(); ///< the settle window ended: who was not announced again went offline
	bool refreshes(const std::string& roomId, const std::string& key, bool refreshed, std::function<void()> retry);
	/// In a cluster, when the mirror lacks roomId (or key's membership of it): re-reads that room
	/// from storage, then runs retry, and returns true. A change another node committed a moment
	/// ago may not have reached this node's mirror yet.
	void loadRooms(const QueryResult& rooms, const QueryResult& members);
	Room& storedRoom(const std::vector<Value>& row);
	void storedMember(const std::vector<Value>& row);
	ClientPtr clientOf(ConnectionId id);
	std::string clientIp(const HttpRequest& request) const;
	std::string rateKey(const std::string& ip) const;
	void updateGauges();

	std::string newRoomId();
	std::string newConnectionId();
	std::int64_t nowMs() const;

	Host* _pHost = nullptr;
	ClusterChannel* _pCluster = nullptr; ///< non-null only in a cluster
	bool _applyingPeerChange = false;    ///< under the lock: a change from another node, not re-shared
	// After a resync (onSynced): the other nodes' presence as this node knew it, (room id, socket)
	// -> key, until each entry is announced again or the settle timer ends the window.
	std::map<std::pair<std::string, ConnectionId>, std::string> _unconfirmed;
	TimerId _settleTimer = 0;
	GovpnSettings _settings; ///< the keys reconfigure() may change are read and written under _mutex
	TimerId _cleanupTimer = 0;
	Generators _generators;

	mutable std::recursive_mutex _mutex;
	std::unordered_map<ConnectionId, ClientPtr> _clients;
	std::map<std::string, ConnectionId, std::less<>> _byConnectionId;
	std::map<std::string, std::set<ConnectionId>> _socketsOfKey; ///< bound sockets per key
	std::map<std::string, std::unique_ptr<Room>> _rooms;
	std::unordered_map<std::string_view, Room*> _roomById; ///< _rooms hashed, for the relay; keys view Room::id
	std::map<std::string, std::string> _roomOfOwner;
	std::map<std::string, std::set<std::string>> _roomsOfKey; ///< memberships per key
	std::map<std::string, Bucket> _ipBuckets;
	std::map<std::string, Lockout> _lockouts;

	std::deque<std::function<void()>> _operations;
	bool _operationWaiting = false;
	bool _operationsDraining = false;

	// One storage transaction on the worker pool at a time: a locked database file then holds one
	// worker, not all of them, while later requests time out on their own deadlines.
	std::deque<std::function<void()>> _storageQueue;
	bool _storageInFlight = false;

	// At most _hashingLimit Argon2id tasks on the pool at once, the rest waiting here, so a storage
	// write never queues behind a burst of joins' hashes.
	std::deque<std::pair<std::function<void()>, std::function<void()>>> _hashingQueue;
	unsigned _hashingInFlight = 0;
	unsigned _hashingLimit = 1;
	bool _stopping = false;

	// statistics
	std::int64_t _startWallMs = 0;
	std::uint64_t _connectionsTotal = 0;
	std::uint64_t _peakConnections = 0;
	std::uint64_t _peakRooms = 0;
	std::uint64_t _messagesProcessed = 0;
	std::int64_t _lastCleanupMs = -1;
	std::uint64_t _staleRoomsRemoved = 0;

	Gauge* _pRoomsGauge = nullptr;
	Gauge* _pOnlineGauge = nullptr;
	Counter* _pRateLimited = nullptr;
	Counter* _pLockouts = nullptr;
	Counter* _pRelayed[3] = {}; ///< per SignalType

	// The relay's buffers, reused under the lock so a relayed message allocates nothing.
	bool _fastRelay = true;
	std::string _relayPayload; ///< the decoded base64 payload
	RelayBuffers _relayBuffers;
};


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_GovpnPlugin_INCLUDED
