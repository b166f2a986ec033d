//
// PeerJsPlugin.h
//
// The PeerJS signaling protocol (docs/protocols/peerjs.md), wire-compatible with the
// official server `peer` 1.0.2 for the official client `peerjs` 1.5.5, with its known flaws fixed.
//


#ifndef Switchboard_PeerJs_PeerJsPlugin_INCLUDED
#define Switchboard_PeerJs_PeerJsPlugin_INCLUDED


#include "Envelope.h"
#include "OfflineQueue.h"
#include "PeerJsSettings.h"
#include "Registry.h"
#include "TokenValidator.h"
#include "switchboard/SDK.h"
#include <memory>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <shared_mutex>
#include <string>
#include <vector>


namespace Switchboard {
namespace PeerJs {


class PeerJsPlugin: public Plugin, public WebSocketHandler
/// Threading: the WebSocket callbacks of peers on different loops, the HTTP routes and the
/// expiry timer run concurrently; the registry and the offline queue live under one
/// reader/writer lock. A relay to a registered peer only reads (shared lock, so loops do not
/// serialize on it); everything that changes state takes it exclusively. Decisions are made
/// under the lock and deliveries made after it is released (a delivery to a peer on the same
/// loop runs inline and may need the lock itself).
{
public:
	PeerJsPlugin();
	~PeerJsPlugin() override;

	StartResult start(Host& host, Setup& setup) override;
	void stopping() override;

	ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys) override;
	/// Applies live what the handshake, the HTTP routes, the relay and the offline queue read
	/// afresh (origins, key, token_validator, limits, expire_timeout, ...); keys fixed when the
	/// endpoint and routes were registered (path, max_message_size, alive_timeout,
	/// ws_ping_interval, a max_send_buffer above the start value) need a restart.

	void onOpen(Connection& connection, const HttpRequest& request) override;
	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override;
	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override;

private:
	struct Live
	/// The keys a reload may change that the handshake and the routes read: an immutable
	/// snapshot, replaced whole, so one request never sees half of a reload.
	{
		PeerJsSettings settings;
		TokenValidator tokens;
	};

	struct Peer
	{
		std::string id;
		bool registered = false;
		// The last relay destination, reused without the lock while the registry's epoch is
		// the one seen when it was looked up. Touched on this connection's loop only.
		std::string lastDst;
		ConnectionId lastTarget = 0;
		std::uint64_t lastEpoch = 0;
		// Cluster mode: the last destination found on another node, reused while no name changed
		// anywhere (the remote epoch) and no lookup of this peer is still waiting, so the order
		// of one peer's messages holds.
		std::string remoteDst;
		ConnectionId remoteTarget = 0;
		std::uint64_t remoteEpoch = 0;
		int lookupsInFlight = 0;
		std::string token; ///< kept from the handshake until the cluster has decided on the id
	};

	void registerRoutes(Setup& setup);
	void refuse(Connection& connection, std::string_view frame);
	void invalidMessage(Connection& connection, const char* why);
	class Delivery;
	void deliver(ConnectionId target, const RelayFrameWriter& frame, ConnectionId sender);
	/// Sends frame to target on its loop; on overflow closes it and tells sender (if not 0).
	void deliverHere(Connection& target, std::string_view frame, ConnectionId sender);
	/// The part of deliver() that runs on the target's loop.
	ConnectionId queueUnlessRegistered(Connection& connection, const Peer& peer, const Envelope& envelope,
	                                   int relayType);
	/// The relay's slow path, under the exclusive lock: returns the destination's connection if it
	/// is registered after all, else queues (or answers EXPIRE) and returns 0.
	void expireQueues();
	void claimInCluster(Connection& connection, Peer& peer, const std::string& token, std::int64_t concurrentLimit);
	void finishClaim(Connection& connection, ClaimResult result, ConnectionId previous);
	void relayAcrossCluster(Connection& connection, Peer& peer, std::string frame, std::string destination,
	                        int relayType);
	void queueOrExpire(Connection& connection, const Peer& peer, const std::string& destination, std::string frame,
	                   int relayType);
	void nameChanged(std::string_view name, ConnectionId owner);
	void updateGauges();
	std::string newPeerId();
	std::shared_ptr<const Live> live() const;

	Host* _host = nullptr;
	PeerJsSettings _settings; ///< as start() saw them; the live keys are read from _live instead
	mutable std::mutex _liveMutex;
	std::shared_ptr<const Live> _live; ///< under _liveMutex: reconfigure() swaps it on the main thread
	// Read for every relayed or malformed frame: atomics, so the relay takes no extra lock.
	std::atomic<std::int64_t> _maxSendBuffer{0};
	std::atomic<bool> _replyErrorOnInvalidMessage{false};
	std::shared_mutex _mutex;
	Registry _registry;
	std::unique_ptr<OfflineQueue> _queue;
	bool _stopping = false;
	bool _clustered = false;
	std::atomic<std::uint64_t> _remoteEpoch{1}; ///< bumped when a cached remote owner may have changed
	std::mutex _remoteCacheMutex;
	std::unordered_set<std::string> _cachedRemote;           ///< ids a peer here caches an owner on another node for
	std::unordered_map<std::string, ConnectionId> _claiming; ///< ids claimed here, not decided yet (under _mutex)

	Gauge* _peersGauge = nullptr;
	Gauge* _queuedGauge = nullptr;
	Gauge* _queuedBytesGauge = nullptr;
	Counter* _relayed[5] = {};
	Counter* _queuedTotal = nullptr;
	Counter* _expirations = nullptr;
	Counter* _idTaken = nullptr;
	Counter* _handshakeErrors = nullptr;
	Counter* _limitConcurrent = nullptr;
	Counter* _limitQueue = nullptr;
	Counter* _limitSendBuffer = nullptr;
	Counter* _invalidMessages = nullptr;
	Counter* _reattaches = nullptr;
};


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_PeerJsPlugin_INCLUDED
