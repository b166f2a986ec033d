//
// Transport.h
//
// The WebSocket data plane: N event loops, connection hand-off, delivery by id, and placement of
// timers and tasks on loops. Groups and timer bookkeeping belong to each plugin's context.
//


#ifndef Switchboard_Core_Transport_INCLUDED
#define Switchboard_Core_Transport_INCLUDED


#include "net/EventLoop.h"
#include "net/MemoryBudget.h"
#include "net/Tls.h"
#include "net/TransportSettings.h"
#include "plugin/PluginSlot.h"
#include "switchboard/Host.h"
#include "switchboard/Metrics.h"
#include "Poco/Logger.h"
#include "Poco/Net/StreamSocket.h"
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


class WsConnection;


struct Endpoint
/// A plugin's WebSocket endpoint as the transport needs it. Lives as long as the transport.
{
	std::string path;          ///< full request path, mount prefix included
	WebSocketHandler* handler; ///< borrowed from the plugin
	PluginSlot* owner;         ///< the plugin that registered it; outlives the transport's loops
	std::int64_t maxMessageSize;
	std::int64_t idleTimeoutMs;
	std::int64_t pingIntervalMs;
	std::size_t maxOutputQueue;
	std::uint16_t idleCloseCode; ///< CloseCode::NONE for a close frame without status
	// With these defaults an Endpoint built in code (tests) closes as the host does by default.
	std::string idleCloseReason = "idle timeout";                  ///< empty with CloseCode::NONE
	std::uint16_t overflowCloseCode = CloseCode::POLICY_VIOLATION; ///< reported for a slow consumer; NONE: 1005
	std::string overflowCloseReason = "slow consumer";             ///< empty with CloseCode::NONE
	bool overflowCloseSent = false;           ///< the plugin named its own: try to send it before cutting TCP
	std::int64_t closeTimeoutMs = -1;         ///< after our close frame; -1 = the transport's close_timeout_ms
	std::int64_t sendStallTimeoutMs = -1;     ///< -1 = the transport's send_stall_timeout_ms; 0 = no limit
	std::int32_t invalidTextCloseCode = -1;   ///< for invalid UTF-8 text; -1 = 1007, CloseCode::NONE: no status
	std::string invalidTextCloseReason = {};  ///< its reason; empty = the decoder's (none with CloseCode::NONE)
	std::size_t maxOutputMessages = 0;        ///< data messages queued and not fully written; 0 = no limit
	bool deliverPings = false;                ///< pings go to the plugin (MessageKind::PING), not answered here
	std::int64_t shutdownCloseTimeoutMs = -1; ///< wait for the peer's close once shutting down; -1 = closeTimeoutMs
	bool acceptInvalidText = false;           ///< TEXT is not checked for UTF-8: the plugin answers bad text
	bool pingOnSchedule = false;              ///< ping every interval, not only after silence
	// The owning plugin's figures (switchboard_plugin_connections_open and _messages_*_total with
	// plugin="<name>"); null in tests that build an Endpoint in code.
	Gauge* pluginConnections = nullptr;
	Counter* pluginMessagesIn = nullptr;
	Counter* pluginMessagesOut = nullptr;
};


struct TransportCounters
/// Host-level figures exported on /metrics; owned by the MetricsRegistry.
{
	Gauge* openConnections = nullptr;
	Counter* acceptedConnections = nullptr;
	Counter* messagesIn = nullptr;
	Counter* messagesOut = nullptr;
	Counter* bytesIn = nullptr;
	Counter* bytesOut = nullptr;
	Counter* slowConsumerCloses = nullptr;
	Counter* protocolErrors = nullptr;
	Counter* idleCloses = nullptr;
	Counter* memoryBudgetCloses = nullptr;
};


class Transport
/// Owns the loops. Connection ids carry their loop index in the low 8 bits, so delivery by id
/// needs no shared table. Thread-safe unless noted.
{
public:
	Transport(const TransportSettings& settings, Poco::Logger& logger, const TransportCounters& counters);
	~Transport();

	void start();
	/// Starts the loop threads (main thread, once).

	static constexpr int NODE_SHIFT = 48;
	static constexpr ConnectionId NODE_MASK = ~ConnectionId(0) << NODE_SHIFT;
	void setNodeNumber(std::uint16_t node) { _nodeBits = ConnectionId(node) << NODE_SHIFT; }
	/// Cluster mode: the node's number goes into the top 16 bits of every connection id, so ids
	/// are unique cluster-wide and say where a connection lives. Main thread, before start().
	static std::uint16_t nodeOf(ConnectionId id) { return static_cast<std::uint16_t>(id >> NODE_SHIFT); }
	bool isLocal(ConnectionId id) const { return (id & NODE_MASK) == _nodeBits; }

	void shutdown(std::uint16_t code, std::string_view reason, std::int64_t deadlineMs);
	/// Closes every connection with code, waits for the closing handshakes until the deadline,
	/// finishes whatever is left, then stops and joins the loops (main thread, once).

	std::size_t closeOwnedBy(const PluginSlot& owner, const Gauge& ownedOpen, std::uint16_t code,
	                         std::string_view reason, std::int64_t deadlineMs);
	/// Closes the connections of one plugin with code (its others are untouched), waits for their
	/// closing handshakes until the deadline (ownedOpen: the plugin's open-connections gauge),
	/// finishes whatever is left, and returns once every loop has reported their closes: how
	/// many had to be cut. Main thread, while the loops run.

	void runOnEveryLoop(const std::function<void(EventLoop&)>& task);
	/// Runs task on each loop's thread and returns once all have run it (at most 5 s per loop):
	/// afterwards nothing the loops were running before the call is still running. Main thread.

	bool accepting() const { return _accepting.load(); }
	void beginShutdown() { _shuttingDown.store(true); }
	/// Shutdown has started (plugins are being told): closes from now on wait for the peer's close
	/// frame as long as the endpoint's shutdownCloseTimeoutMs says.
	bool shuttingDown() const { return _shuttingDown.load(std::memory_order_relaxed); }

	void handOff(Poco::Net::StreamSocket socket, std::unique_ptr<TlsSession> tls, std::string initialBytes,
	             HttpRequest request, const Endpoint& endpoint, std::shared_ptr<void> heldUntilClosed = nullptr);
	/// Gives an upgraded socket (non-blocking, TCP_NODELAY and SO_KEEPALIVE inherited from the
	/// listening socket) to the least loaded loop, which creates the connection, calls
	/// onOpen and feeds initialBytes (frames pipelined behind the handshake). tls: the
	/// connection's TLS session on a TLS listener (null otherwise), handshake done. heldUntilClosed
	/// (the HTTP front's per-client count) is released when the connection finishes.

	// Delivery (the Router of each plugin forwards here with its identity). A connection of
	// another plugin is treated as gone.
	SendResult send(PluginSlot& owner, ConnectionId id, std::string_view data, MessageKind kind);
	void close(PluginSlot& owner, ConnectionId id, std::uint16_t code, std::string_view reason);
	bool runOn(PluginSlot& owner, ConnectionId id, std::function<void(Connection&)>&& task);
	/// Runs task at once on the connection's own loop, else posts it. Taken by reference: moved only if posted.
	void deliver(PluginSlot& owner, const std::vector<ConnectionId>& ids, std::string_view data, MessageKind kind);
	/// One message to many connections: encoded once, handed to each loop in one task.

	// Timers and posted work
	int timerLoop() const;
	/// The loop a new timer goes to: the caller's own loop, else the first.
	void scheduleTimer(int loopIndex, PluginSlot& owner, TimerId id, std::int64_t delayMs, std::int64_t intervalMs,
	                   std::function<void()> callback, std::shared_ptr<std::atomic<int>> state);
	void unscheduleTimer(int loopIndex, PluginSlot& owner, TimerId id);
	/// Always posted, so a timer cancelling itself from its own callback is safe.
	void post(int loopIndex, std::function<void()> task, PluginSlot* owner = nullptr);
	/// owner: the plugin whose code task runs (guarded as PluginSite::COMPLETION), or nullptr.
	int loopCount() const { return static_cast<int>(_loops.size()); }
	EventLoop& loop(int index) { return *_loops[static_cast<std::size_t>(index)]; }

	const TransportSettings& settings() const { return _settings; }
	const TransportCounters& counters() const { return _counters; }
	MemoryBudget& memoryBudget() { return _memoryBudget; }
	Poco::Logger& logger() { return _logger; }
	std::size_t openConnections() const;

	void connectionOpened();
	void connectionClosed();

private:
	EventLoop* loopOf(ConnectionId id) const;

	TransportSettings _settings;
	Poco::Logger& _logger;
	TransportCounters _counters;
	MemoryBudget _memoryBudget; // before _loops: connections release their share when destroyed
	std::vector<std::unique_ptr<EventLoop>> _loops;
	std::atomic<std::uint64_t> _nextSequence{1};
	ConnectionId _nodeBits = 0;
	std::atomic<std::size_t> _open{0};
	std::atomic<bool> _accepting{false};
	std::atomic<bool> _shuttingDown{false};
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Transport_INCLUDED
