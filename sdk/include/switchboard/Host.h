//
// Host.h
//
// Switchboard SDK: the services the host offers a plugin: registration during start (Setup),
// delivery (Router), timers, blocking work, storage, metrics, logging, configuration, clock.
//


#ifndef Switchboard_Host_INCLUDED
#define Switchboard_Host_INCLUDED


#include "switchboard/ClusterChannel.h"
#include "switchboard/Config.h"
#include "switchboard/Http.h"
#include "switchboard/Log.h"
#include "switchboard/Metrics.h"
#include "switchboard/NameRegistry.h"
#include "switchboard/Storage.h"
#include "switchboard/WebSocket.h"
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>


namespace Switchboard {


using RouteHandler = std::function<void(const HttpRequest& request, HttpResponse& response)>;
///< Runs on an HTTP worker thread, concurrently with other requests and with event loops.
///< May block briefly (storage is fine); should not throw (the host answers 500 if it does).


struct RouteOptions
{
	bool caseInsensitive = false;   ///< match the path ignoring ASCII case
	bool allowTrailingSlash = true; ///< "/a/b/" matches the pattern "/a/b"
};


using TimerId = std::uint64_t; ///< 0 is never a valid timer


class Router
/// Delivery to connections and groups by id, across every node when the host runs in a cluster
/// ([cluster] in the configuration), so plugins that use it for everything beyond the
/// connection in hand scale out unchanged.
///
/// Groups belong to the plugin: two plugins using the same group name never see each other's.
///
/// Threading: every call is safe from any thread. A call from the target connection's own loop
/// acts at once; from elsewhere it is posted to that loop, so it reports QUEUED and may still be
/// dropped if the connection closes first. Messages from one thread to one connection keep
/// their order. Owned by the host.
///
/// Across nodes delivery is at most once: a message to a connection on another node, or to a
/// group's members there, travels through Redis and is lost if Redis or that node fails on the
/// way (QUEUED is returned all the same). Order is kept per sending node and target.
{
public:
	virtual ~Router() = default;

	virtual SendResult send(ConnectionId to, std::string_view data, MessageKind kind = MessageKind::TEXT) = 0;
	/// Copies data and sends it to one connection of this plugin. CLOSED if it is known gone.

	virtual void close(ConnectionId id, std::uint16_t code = CloseCode::NORMAL, std::string_view reason = {}) = 0;
	/// Connection::close for a connection held by id.

	virtual void join(std::string_view group, ConnectionId id) = 0;
	/// Adds a connection of this node to a group; connections leave all groups when they close.

	virtual void leave(std::string_view group, ConnectionId id) = 0;

	virtual std::size_t publish(std::string_view group, std::string_view data, MessageKind kind = MessageKind::TEXT,
	                            ConnectionId except = 0) = 0;
	/// Sends one message to every member but except, on every node. The frame is encoded once
	/// and shared by all recipients. Returns the number of recipients on this node.

	virtual std::size_t groupSize(std::string_view group) const noexcept = 0;
	/// Members on this node.

	virtual std::size_t publishLocal(std::string_view group, std::string_view data,
	                                 MessageKind kind = MessageKind::TEXT, ConnectionId except = 0) = 0;
	/// (ABI 4.1) publish() to the members on this node only, for messages about this node (its
	/// own figures). The same as publish() when the host runs alone.
};


class Setup
/// Registration, offered to Plugin::start only: a plugin cannot mount anything later, because
/// it has no Setup outside start(). Owned by the host; the reference is valid until start()
/// returns. Main thread.
{
public:
	virtual ~Setup() = default;

	virtual bool addRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	                      RouteOptions options = {}) = 0;
	/// Registers an HTTP route. method is "GET", "POST", ... or "*" for any; a GET route also
	/// answers HEAD (without body). pattern is relative to Host::mountPrefix(); a segment "{name}"
	/// matches one non-empty segment (see HttpRequest::pathParam), a final "*" matches the
	/// rest. Returns false (and logs) for a malformed pattern or a clash.

	virtual bool addWebSocket(std::string_view path, WebSocketHandler& handler, WebSocketOptions options = {}) = 0;
	/// Registers a WebSocket endpoint at exactly mountPrefix() + path (case-sensitive, no
	/// trailing slash tolerance). The handler is borrowed and must outlive stop().

	virtual bool addLoopRoute(std::string_view method, std::string_view pattern, RouteHandler handler,
	                          RouteOptions options = {}) = 0;
	/// (ABI 4.4) addRoute() for a handler that never blocks. It runs on the event loop that read
	/// the request (after what was already posted to that loop), not on a worker: two thread
	/// hand-offs fewer per request (PeerVault's publish: half the server CPU per request).
	/// It must not block or wait (no storage, no sleeping, no waiting for other threads): every
	/// connection on that loop waits while it runs. Not bounded by [http] max_queued. Same
	/// rules and matching as addRoute(); loop and worker routes may not clash either.
};


class Host
/// What the host gives a plugin in Plugin::start: services for its whole life. Owned by the
/// host and valid until the plugin is destroyed. Every method is thread-safe.
{
public:
	virtual ~Host() = default;

	// --- identity and configuration --------------------------------------------------------

	virtual std::string_view pluginName() const noexcept = 0;
	/// The short name, also the config section [plugin.<name>].

	virtual std::string_view mountPrefix() const noexcept = 0;
	/// The path prefix this plugin is mounted under ("" for the root); routes and endpoints
	/// are registered relative to it.

	virtual const Config& config() const noexcept = 0;
	/// The plugin's validated section: every declared key has a value.

	virtual Logger& logger() noexcept = 0;
	virtual Metrics& metrics() noexcept = 0;
	virtual const Clock& clock() const noexcept = 0;
	virtual Storage& storage() noexcept = 0;
	virtual Router& router() noexcept = 0;

	// --- time and work ---------------------------------------------------------------------

	virtual TimerId after(std::int64_t delayMs, std::function<void()> callback) = 0;
	virtual TimerId every(std::int64_t intervalMs, std::function<void()> callback) = 0;
	/// Timers run on an event loop: the caller's own loop when called from a loop callback,
	/// otherwise the first loop. They must not block. Resolution is the host's timer tick
	/// (10 ms); a timer never fires early. The host holds a timer only until it has fired (for
	/// after()) or is cancelled, so one-shot timers cost nothing once done. A callback that throws
	/// is counted and logged; an every() timer keeps running.

	virtual bool cancel(TimerId timer) noexcept = 0;
	/// Stops a timer; true if it had not fired (or, for every(), was still running). From
	/// another thread a callback may already be running when cancel returns.

	virtual void offload(std::function<void()> work, std::function<void()> completion = {}) = 0;
	/// Runs blocking work on the host's worker pool; completion then runs on the caller's
	/// event loop (on the worker when called from elsewhere).

	virtual bool runOn(ConnectionId id, std::function<void(Connection&)> task) = 0;
	/// Runs task on the connection's loop with the connection in hand, if it is still open
	/// then. Returns false if the id is already known closed.

	// --- crypto helpers --------------------------------------------------------------------

	virtual void randomBytes(void* buffer, std::size_t length) noexcept = 0;
	/// Fills buffer from the operating system's CSPRNG.

	// --- shutdown (ABI 2.1) ----------------------------------------------------------------

	virtual void holdConnectionsOpen(std::int64_t ms) noexcept = 0;
	/// From Plugin::stopping() only (ignored elsewhere): the host waits up to ms before it closes
	/// the connections with 1001, and the event loops keep serving them meanwhile, so clients
	/// told of a restart can still be answered. One wait for all plugins, the longest asked,
	/// bounded by [host] shutdown_deadline_ms. Main thread.

	// --- environment (ABI 4.0) -------------------------------------------------------------

	virtual std::string_view dataDirectory() const noexcept = 0;
	/// The directory the host keeps its data in ([storage] directory, as configured, relative to
	/// the working directory when not absolute); for plugins that report on it, such as disk
	/// space. Plugins store through storage(), not files here. Valid for the plugin's life; any thread.

	// --- cluster (ABI 4.1) -----------------------------------------------------------------

	virtual NameRegistry& names() noexcept = 0;
	/// The plugin's unique names, cluster-wide in a cluster. Owned by the host; any thread.

	// --- cluster (ABI 4.2) -----------------------------------------------------------------
	virtual ClusterChannel& cluster() noexcept = 0;
	/// Messages to this plugin on the other nodes, and their comings and goings. Owned by the
	/// host; any thread.
};


} // namespace Switchboard


#endif // Switchboard_Host_INCLUDED
