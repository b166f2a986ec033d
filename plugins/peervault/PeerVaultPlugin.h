//
// PeerVaultPlugin.h
//
// The PeerVault plugin (docs/protocols/peervault.md): a pub/sub event channel. Clients open /ws,
// subscribe to four fixed topics and receive typed events; trusted services publish over
// POST /ws/publish; the plugin itself publishes live metrics of the running process and
// threshold alerts. No storage: everything lives in memory.
//
// Threading: WebSocket callbacks run on the connections' event loops (one connection's messages
// strictly in order on one loop); HTTP handlers on worker threads; the ticker on a timer. Each
// topic is a Router group ("t:<topic>"), so an event is encoded once and shared by all its
// recipients, from any thread. Per-connection state is touched only on its own loop; the
// counters shared across threads are atomics; the alert state belongs to the ticker alone.
//


#ifndef Switchboard_PeerVault_PeerVaultPlugin_INCLUDED
#define Switchboard_PeerVault_PeerVaultPlugin_INCLUDED


#include "Alerts.h"
#include "Auth.h"
#include "Events.h"
#include "PeerVaultSettings.h"
#include "switchboard/SDK.h"
#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>


namespace Switchboard {
namespace PeerVault {


const PluginDescriptor& peervaultDescriptor();

constexpr const char* PROTOCOL_VERSION = "1.0.0";


class PeerVaultPlugin: public Plugin, public WebSocketHandler
{
public:
	PeerVaultPlugin();
	~PeerVaultPlugin() override;

	StartResult start(Host& host, Setup& setup) override;
	void stopping() override;
	void stop() override;
	ReconfigureResult reconfigure(const Config& config, const std::vector<std::string>& changedKeys) override;
	/// Applies live what decides the next request, connection, message or tick (CORS, limits and
	/// rates, credentials, topic scopes, the ticker and its thresholds); declines what the host
	/// fixed with the endpoint at start and the auth mode. All or nothing; docs/protocols/
	/// peervault.md, "Reload (SIGHUP)".

	AcceptDecision onAccept(const HttpRequest& request) override;
	void onOpen(Connection& connection, const HttpRequest& request) override;
	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override;
	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override;

	void tick();
	/// One metrics interval: sample, publish system_metrics (and the details) to subscribers,
	/// evaluate the thresholds. Public so unit tests can drive it; the timer calls it otherwise.

private:
	enum class AuthState
	{
		ANONYMOUS,
		PENDING,
		AUTHENTICATED
	};

	struct Live
	/// The settings in force and what is built from them. Immutable: a reload swaps in another,
	/// so a callback holding one reads consistent values while the main thread reconfigures.
	{
		Live(PeerVaultSettings values, std::int64_t sinceMonotonicMs):
		    settings(std::move(values)),
		    auth(settings.tokens, settings.jwt),
		    sinceMs(sinceMonotonicMs)
		{
		}

		const PeerVaultSettings settings;
		const Authenticator auth;
		const std::int64_t sinceMs; ///< monotonic time these took effect
	};

	struct Client
	/// One connection's state; touched only on its event loop.
	{
		std::string clientId; ///< 32 lowercase hex
		AuthState auth = AuthState::ANONYMOUS;
		Identity identity;
		std::uint64_t authGeneration = 0; ///< bumped on each change of identity, so stale expiry timers do nothing
		std::array<bool, TOPIC_COUNT> subscribed{};
		double tokens = 0;
		std::int64_t bucketMs = 0;
		double rate = 0;                  ///< the rate the bucket last refilled at; a reload's is used from its time on
		double burst = 0;                 ///< the burst that went with it
		std::deque<std::int64_t> dropsMs; ///< drops within the last 10 s (at most the close limit + 1)
		std::int64_t lastRateErrorMs = -1;
		bool counted = false; ///< registered (in active_connections)
	};

	struct Window
	/// What one metrics interval accumulates, from every thread.
	{
		std::atomic<std::uint64_t> handled{0}; ///< HTTP requests + inbound WebSocket messages
		std::atomic<std::uint64_t> handlingMicros{0};
	};

	// HTTP
	void dispatch(const HttpRequest& request, HttpResponse& response);
	void publish(const HttpRequest& request, HttpResponse& response);
	void health(HttpResponse& response);
	void metrics(HttpResponse& response);
	void status(HttpResponse& response);
	void corsHeaders(const HttpRequest& request, HttpResponse& response) const;
	void httpError(HttpResponse& response, int status, std::string_view code, std::string_view message,
	               std::int64_t retryAfter = -1) const;
	bool originAllowed(const PeerVaultSettings& settings, std::string_view origin) const;

	// WebSocket
	bool takeToken(const Live& live, Client& client, std::int64_t nowMs);
	void onFrame(Connection& connection, Client& client, std::string_view data);
	void onSubscribe(Connection& connection, Client& client, std::string_view frame, bool subscribe);
	void onAuth(Connection& connection, Client& client, std::string_view frame);
	void authenticate(Connection& connection, Client& client, const Identity& identity);
	void scheduleExpiry(ConnectionId id, const Client& client);
	void expire(Connection& connection, Client& client, std::uint64_t generation);
	void sendError(Connection& connection, std::string_view code, std::string_view message,
	               std::int64_t retryAfter = -1);
	void sendFrame(Connection& connection, const std::string& frame);
	void refuse(Connection& connection, std::uint16_t code, const char* reason);

	// Figures
	std::shared_ptr<const Live> current() const;
	std::string systemMetricsData(const std::string& storagePath, double intervalSeconds, double& memoryUsage,
	                              double& cpuUsage, double& averageResponseMs, double& storageUsage,
	                              bool& storageKnown);
	void raiseAlert(AlertMetric metric, double value);
	std::int64_t nowMs() const;
	std::string uptime() const;
	static std::string groupOf(Topic topic);

	Host* _pHost = nullptr;
	mutable std::mutex _liveMutex;         ///< guards _pLive, swapped by reconfigure() on the main thread
	std::shared_ptr<const Live> _pLive;    ///< never null after start()
	std::unique_ptr<AlertTracker> _alerts; ///< the ticker's own
	TimerId _ticker = 0;                   ///< main thread only (start, reconfigure, stop)
	std::int64_t _startedMs = 0;
	std::atomic<bool> _shuttingDown{false};

	std::atomic<std::int64_t> _active{0};
	std::atomic<std::uint64_t> _total{0};
	std::atomic<std::uint64_t> _rejected{0};
	std::atomic<std::uint64_t> _messagesIn{0};
	std::atomic<std::uint64_t> _messagesOut{0};
	std::atomic<std::uint64_t> _bytesIn{0};
	std::atomic<std::uint64_t> _bytesOut{0};
	std::atomic<std::uint64_t> _eventsPublished{0};
	std::array<Gauge*, TOPIC_COUNT> _pSubscribers{}; ///< switchboard_peervault_subscribers{topic}
	Window _window;

	// The ticker's own: previous samples, to turn totals into rates.
	std::int64_t _lastTickMs = 0;
	std::int64_t _lastCpuMicros = 0;
	std::uint64_t _lastMessages = 0;

	std::mutex _publishMutex; ///< guards the publish rate buckets (a reload settles them under it)
	struct Bucket
	{
		double tokens;
		std::int64_t lastMs;
	};
	std::unordered_map<std::string, Bucket> _publishBuckets; ///< by credential (subject)

	std::mutex _clientsMutex; ///< guards _clients (ids only; the state itself is on the loops)
	std::unordered_map<ConnectionId, bool> _clients;
};


} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_PeerVaultPlugin_INCLUDED
