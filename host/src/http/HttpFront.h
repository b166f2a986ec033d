//
// HttpFront.h
//
// The HTTP side of the host, on the event loops: listeners accepted by a loop, HTTP/1.1
// connections parsed incrementally (HttpParser), plugin routes run on a bounded worker pool,
// WebSocket upgrades handed to the Transport without leaving the loops, and the admin endpoints.
//


#ifndef Switchboard_Core_HttpFront_INCLUDED
#define Switchboard_Core_HttpFront_INCLUDED


#include "config/Settings.h"
#include "console/Console.h"
#include "http/AbuseLimits.h"
#include "net/Tls.h"
#include "net/Transport.h"
#include "switchboard/Host.h"
#include "switchboard/util/RoutePattern.h"
#include "Poco/Logger.h"
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace Core {


class HttpConnection;
class HttpListener;
class WorkerPool;


struct Route
{
	PluginSlot* owner; ///< the plugin that registered it; its guard runs the handler
	std::string prefix;
	std::string method;
	RoutePattern pattern;
	RouteOptions options;
	RouteHandler handler;
	bool onLoop = false; ///< Setup::addLoopRoute: run where the request was read, never on a worker
};


struct AdminHooks
/// What the admin endpoints report; each is called on an event loop and must not block long.
{
	std::function<bool()> ready;
	std::function<bool(std::string& why)> healthy;
	std::function<std::string()> metricsText;
	std::function<std::string()> pluginsJson;
	std::function<std::string()> clusterJson;
	std::function<std::uint64_t()> configurationGeneration; ///< 1 at start, +1 per applied reload
	std::function<std::string()> statsJson;         ///< /stats.json: uptime, version, plugins, metrics, recent log
	std::function<std::string()> configText;        ///< /console/config.txt: effective configuration, secrets masked
	std::shared_ptr<const Console::Assets> console; ///< the console's files; null: no console
	std::string token; ///< non-empty: every path but /healthz and /readyz needs "Authorization: Bearer <token>"
};


struct HttpCounters
/// Figures exported on /metrics; owned by the MetricsRegistry.
{
	Counter* requests = nullptr;             ///< requests answered (routes, upgrades, admin, errors)
	Counter* busy = nullptr;                 ///< route requests answered 503 because the handler queue was full
	Counter* badRequests = nullptr;          ///< requests refused by the parser (4xx/5xx before routing)
	Counter* timeouts = nullptr;             ///< connections closed by a head, body or keep-alive deadline
	Gauge* openConnections = nullptr;        ///< HTTP connections not (yet) upgraded
	Counter* acceptPauses = nullptr;         ///< times the listeners stopped accepting at max_connections
	Counter* clientLimitRefusals = nullptr;  ///< connections answered 429: max_connections_per_client
	Counter* upgradeRateRefusals = nullptr;  ///< upgrades answered 429: the client's upgrade bucket was empty
	Counter* pendingLimitRefusals = nullptr; ///< connections answered 503: max_pending_handshakes
	Gauge* pendingHandshakes = nullptr;      ///< connections still sending their first request head
};


class HttpFront
/// Routes and endpoints are registered by plugins in Plugin::start, before start() or (a plugin
/// enabled by a reload) while serving: each listener's table is an immutable snapshot that a
/// registration replaces whole, so the loops read it with one atomic load and no lock.
///
/// Threading: registration, start(), stopAccepting(), drain() and stop() run on the main
/// thread; connections live on loops; route handlers run on the front's worker pool.
{
public:
	HttpFront(Transport& transport, const HttpSettings& settings, Poco::Logger& logger, const HttpCounters& counters);
	~HttpFront();

	int addListener(const ListenerSpec& spec);
	/// Declares a listener; returns its index. The socket is bound in start().
	int listenerIndex(const std::string& name) const;
	void setAdmin(const std::string& address, int port, AdminHooks hooks);

	bool addRoute(int listener, Route route, std::string& error);
	bool addEndpoint(int listener, std::unique_ptr<Endpoint> endpoint, std::string& error);

	void removeOwner(const PluginSlot* owner);
	/// Drops every route and endpoint of a plugin (one that failed to start, or is disabled by a
	/// reload): requests already routed finish; new ones get 404. Any thread but the loops.

	void start();
	/// Binds every listener and starts accepting on the loops; throws Poco::Exception naming the
	/// address on failure. The Transport's loops must be running.
	void stopAccepting();
	/// Shutdown, first step: the public listeners close (new clients are refused by the kernel),
	/// idle keep-alive connections close, responses say "Connection: close". The admin
	/// listener keeps serving (/readyz answers 503 meanwhile).
	bool drain(std::int64_t deadlineMs);
	/// Waits until no route request is in flight, at most deadlineMs; false if some still were.
	void stop();
	/// Closes everything left, the admin listener included, and stops the worker pool.

	bool listening() const;
	/// Every public listener is open (it may be pausing at max_connections).
	std::size_t connectionCount() const { return _open.load(std::memory_order_relaxed); }
	std::shared_ptr<const HttpSettings> settings() const { return std::atomic_load(&_settings); }
	/// The current [http] settings (a reload may replace them; hold the snapshot while using it).
	std::string updateSettings(const HttpSettings& next);
	/// A reload: request limits, timeouts, keep-alive, max_queued and the per-client limits apply
	/// to what comes next (connections accepted, requests started, upgrades); max_threads and
	/// ipv6_client_prefix keep their start values. "" when applied, else why nothing was (the
	/// per-client limits were off at start: their table does not exist). Main thread.

	// For HttpConnection and HttpListener, on loop threads.
	struct Listener;
	using ClientSlotPtr = std::shared_ptr<AbuseLimits::ClientSlot>;
	void adoptAccepted(Poco::Net::StreamSocket socket, std::string remoteAddress, Listener& listener,
	                   ClientSlotPtr clientSlot);
	/// An accepted and admitted socket (on loop 0): given to the next loop in turn.
	void adopt(int loopIndex, Poco::Net::StreamSocket socket, std::string remoteAddress, Listener& listener,
	           ClientSlotPtr clientSlot);
	/// Creates an HttpConnection for an accepted socket on loop loopIndex (its own thread).
	void retire(int loopIndex, std::uint64_t serial);
	/// Destroys a finished connection after the loop's current batch of events.
	HttpConnection* find(int loopIndex, std::uint64_t serial) const;
	bool submitRoute(std::function<void()> work);
	/// Queues a route handler on the worker pool; false when the queue is full.
	bool accepting() const { return _acceptingRequests.load(std::memory_order_relaxed); }
	bool atCapacity() const;
	void connectionOpened();
	void connectionClosed();
	AbuseLimits& limits() { return _limits; }
	void handshakeDone();
	/// A public connection's first request head is complete, or it closed before that.
	void updatePendingGauge();
	Transport& transport() { return _transport; }
	Poco::Logger& logger() { return _logger; }
	const HttpCounters& counters() const { return _counters; }
	const AdminHooks& admin() const { return _admin; }
	std::atomic<std::int64_t>& inFlight() { return _inFlight; }

	bool loadTls(std::string& error);
	/// Reads every TLS listener's certificate and key; before start(). False with the reason.
	std::vector<std::string> reloadTls(bool& allLoaded);
	/// SIGHUP: re-reads them; a listener whose files fail keeps its current certificate. One
	/// line per TLS listener for the log. New connections get the new certificate, open ones
	/// keep theirs. Any thread.
	bool hasTls() const;

	struct Listener
	{
		ListenerSpec spec;
		bool admin = false;
		std::shared_ptr<TlsContext> tls; ///< null: plain TCP; swapped on reload under tlsMutex
		mutable std::mutex tlsMutex;

		std::shared_ptr<TlsContext> currentTls() const
		{
			std::lock_guard<std::mutex> lock(tlsMutex);
			return tls;
		}
		struct Mounts
		{
			std::vector<Route> routes;
			std::map<std::string, std::shared_ptr<Endpoint>> endpoints;
		};
		std::shared_ptr<const Mounts> mounts() const { return std::atomic_load(&_mounts); }
		/// The current table; hold it while a Route or Endpoint found in it is used.
		void replaceMounts(std::shared_ptr<const Mounts> next) { std::atomic_store(&_mounts, std::move(next)); }
		std::unique_ptr<HttpListener> acceptor; ///< lives on loop 0

	private:
		std::shared_ptr<const Mounts> _mounts = std::make_shared<Mounts>();
	};

private:
	struct LoopShard
	/// The connections of one loop; touched by that loop's thread only.
	{
		std::unordered_map<std::uint64_t, std::unique_ptr<HttpConnection>> connections;
		std::uint64_t nextSerial = 1;
	};

	void runOnLoop0Sync(std::function<void()> task);

	Transport& _transport;
	std::shared_ptr<const HttpSettings> _settings; ///< replaced whole by updateSettings()
	Poco::Logger& _logger;
	HttpCounters _counters;
	AbuseLimits _limits;
	std::vector<std::unique_ptr<Listener>> _listeners;
	AdminHooks _admin;
	std::unique_ptr<WorkerPool> _workers;
	std::vector<LoopShard> _shards;
	std::atomic<std::size_t> _open{0};
	std::atomic<std::int64_t> _inFlight{0};
	std::atomic<bool> _acceptingRequests{false};
	std::atomic<std::uint64_t> _nextLoop{0};
	bool _started = false;
	std::mutex _mountsMutex; ///< serialises table replacements (readers take snapshots)
	std::vector<std::shared_ptr<Endpoint>> _everyEndpoint;
	///< Kept to the end: a connection upgraded on an endpoint holds a plain pointer to it.
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HttpFront_INCLUDED
