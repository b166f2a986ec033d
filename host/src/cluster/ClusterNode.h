//
// ClusterNode.h
//
// This process as one node of a cluster: its number and liveness in Redis, its inbox channel,
// the group and name channels its plugins need, and the bounded queue of everything it sends
// to other nodes. docs/cluster.md describes the keys, channels and failure behaviour.
//


#ifndef Switchboard_Cluster_ClusterNode_INCLUDED
#define Switchboard_Cluster_ClusterNode_INCLUDED


#include "cluster/RedisConnection.h"
#include "config/Settings.h"
#include "switchboard/Metrics.h"
#include "switchboard/NameRegistry.h"
#include "switchboard/WebSocket.h"
#include "Poco/Logger.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>


namespace Switchboard {
namespace Cluster {


class ClusterMember
/// A plugin as the cluster sees it (implemented by the plugin's context). Called on the
/// cluster's subscriber thread; implementations post to event loops and return.
{
public:
	virtual ~ClusterMember() = default;
	virtual void remoteSend(ConnectionId to, std::string_view data, MessageKind kind) = 0;
	virtual void remoteClose(ConnectionId id, std::uint16_t code, std::string_view reason) = 0;
	virtual void remotePublish(std::string_view group, std::string_view data, MessageKind kind,
	                           ConnectionId except) = 0;
	virtual void nameChanged(std::string_view name, ConnectionId owner) = 0; ///< owner 0: freed
	virtual void synced() = 0;        ///< subscribed (first, or again after a loss: notices may have been lost)
	virtual void reassertNames() = 0; ///< Redis came back: claim every held name again (command thread)
	virtual void remoteMessage(std::uint16_t fromNode, std::string_view data) = 0;
	/// From this plugin on another node (ClusterChannel).
	virtual void nodeLeft(std::uint16_t node) = 0;
	/// Gone from the node list: stopped, or its liveness key expired. synced() also comes when
	/// this node's own key had expired (the others may have reported it as left).
};


class StartError: public std::runtime_error
{
public:
	using std::runtime_error::runtime_error;
};


class ClusterNode
{
public:
	using Reply = std::function<void(bool ok, const RespValue& reply)>;

	ClusterNode(const Core::ClusterSettings& settings, Poco::Logger& logger, Metrics& hostMetrics,
	            std::function<std::size_t()> connectionCount);
	~ClusterNode();

	void start();
	/// Connects to Redis, takes a node number and the node id (waiting up to node_ttl_s + 2 s for
	/// a previous instance's to expire) and starts the threads. Throws StartError. Main thread.
	void stop();
	/// Deletes this node's keys (so others see it gone at once) and joins the threads.

	std::uint16_t number() const { return _number; }
	const std::string& nodeId() const { return _nodeId; }
	bool redisConnected() const { return _commandConnected.load() && _subscriberConnected.load(); }

	void addMember(const std::string& plugin, ClusterMember& member);
	/// Before start(): the member's name channel is subscribed from the first connection on.

	// Data plane: any thread; false when the message was dropped (queue full or Redis down).
	bool send(const std::string& plugin, ConnectionId to, std::string_view data, MessageKind kind);
	bool close(const std::string& plugin, ConnectionId id, std::uint16_t code, std::string_view reason);
	bool publish(const std::string& plugin, std::string_view group, std::string_view data, MessageKind kind,
	             ConnectionId except);
	bool broadcastToPlugin(const std::string& plugin, std::string_view data);
	/// To the plugin on every other node (its ClusterMember::remoteMessage).
	bool sendToPlugin(const std::string& plugin, std::uint16_t node, std::string_view data);
	/// To the plugin on one node, through that node's inbox.
	void subscribeGroup(const std::string& plugin, std::string_view group);
	void unsubscribeGroup(const std::string& plugin, std::string_view group);

	// Names (the host's Names implementation calls these). reply runs on the command thread.
	void claimName(const std::string& plugin, std::string_view name, ConnectionId owner, std::string_view secretHash,
	               bool announce, std::function<void(ClaimResult, ConnectionId)> done);
	/// announce false: the caller calls announceName() once the claim's owner has been told (so
	/// what other nodes then send it cannot overtake that, e.g. PeerJS's OPEN).
	void announceName(const std::string& plugin, std::string_view name, ConnectionId owner);
	void releaseName(const std::string& plugin, std::string_view name, ConnectionId owner);
	void lookupName(const std::string& plugin, std::string_view name, std::function<void(ConnectionId)> done);

	std::string statusJson();
	/// /cluster: this node, Redis state and the live nodes with their connection counts, as last
	/// read from Redis (every second). Never blocks.

private:
	struct Job
	{
		std::vector<std::string> arguments;
		Reply reply; ///< empty for fire-and-forget publishes
	};

	struct Outgoing
	/// One command of a pipelined pass: a job as it is, or a run of messages for one channel.
	{
		std::size_t first;   ///< index of the first job in the batch
		std::size_t jobs;    ///< how many consecutive jobs it carries
		bool message;        ///< a fire-and-forget PUBLISH, which later ones may join
		std::string payload; ///< the coalesced payload when jobs > 1
	};

	void commandThread();
	static std::vector<Outgoing> coalesce(std::vector<Job>& batch);
	static void appendRecord(std::string& payload, const std::string& record);
	void dispatchOne(const std::string& channel, std::string_view payload);
	void refreshNodes();
	void suspectDeparture();            ///< command thread
	void reportDepartures();            ///< subscriber thread
	void heardFrom(std::uint16_t node); ///< subscriber thread
	std::chrono::milliseconds settleTime() const;
	/// After a reconnect, while the nodes re-assert their keys.
	void subscriberThread();
	bool enqueue(Job job);
	void failQueued(const char* why);
	std::vector<std::string> heartbeatCommand() const;
	std::string nodeJson() const;
	std::string key(std::string_view suffix) const { return _prefix + std::string(suffix); }
	std::string groupChannel(const std::string& plugin, std::string_view group) const;
	void dispatch(const std::string& channel, const std::string& payload);
	void backoff(int& delayMs, std::atomic<bool>& connected, const char* which, const std::string& why);
	std::vector<std::string> wantedChannels();

	Core::ClusterSettings _settings;
	RedisEndpoint _endpoint;
	Poco::Logger& _logger;
	std::function<std::size_t()> _connectionCount;
	std::string _prefix;
	std::string _nodeId;
	std::string _token; ///< random per process: tells this instance's node key from another's
	// Plugins read it from any thread (ClusterChannel::node).
	std::atomic<std::uint16_t> _number{0};
	std::int64_t _startedMs = 0;

	std::map<std::string, ClusterMember*> _members; // fixed after start()

	std::atomic<bool> _running{false};
	std::atomic<bool> _commandConnected{false};
	std::atomic<bool> _subscriberConnected{false};
	std::atomic<bool> _reassertWanted{false}; ///< the subscription came back: Redis may have lost our keys
	std::atomic<bool> _rejoined{false};       ///< a heartbeat found this node's key gone
	std::thread _commandThread;
	std::thread _subscriberThread;
	std::unique_ptr<RedisConnection> _command;
	std::unique_ptr<RedisConnection> _subscriber;

	std::mutex _queueMutex;
	std::condition_variable _queueReady;
	std::deque<Job> _queue;

	// Group channels wanted by local members: channel -> (plugin, group); subscriber thread diffs.
	std::mutex _channelMutex;
	std::map<std::string, std::pair<ClusterMember*, std::string>> _groupChannels;

	std::mutex _nodesMutex;
	std::vector<std::string> _liveNodes;
	std::set<std::uint64_t> _liveNumbers;
	std::chrono::steady_clock::time_point _lastDepartureNotice; ///< command thread only
	std::chrono::steady_clock::time_point _nodesRefreshedAt;

	// Departures for ClusterMember::nodeLeft. The subscriber thread tells them (_departed, under
	// _nodesMutex), so they come after the messages the node sent before it went.
	std::vector<std::uint16_t> _departed;
	std::vector<std::uint16_t> _newlyHeard;             // origins of messages, for the next refresh; _nodesMutex
	std::set<std::uint16_t> _heard;                     // origins already passed on; subscriber thread
	std::set<std::uint64_t> _reportedNumbers;           // live as the members know it; command thread
	std::chrono::steady_clock::time_point _settleUntil; // no departures before it; command thread

	Counter* _published = nullptr;
	Counter* _dropped = nullptr;
	Counter* _received = nullptr;
	Counter* _reconnects = nullptr;
	Counter* _commands = nullptr;
	Gauge* _connectedGauge = nullptr;
};


} // namespace Cluster
} // namespace Switchboard


#endif // Switchboard_Cluster_ClusterNode_INCLUDED
