//
// Settings.h
//
// The host's settings model: what the configuration produces and what the server, the transport
// and the HTTP front consume. HostConfig's key tables bind every configuration key to one field
// here; docs/configuration.md has the keys, defaults and ranges. The initialisers below are the
// values of a ServerSettings built in code (tests); HostConfig sets every field it binds.
//


#ifndef Switchboard_Core_Settings_INCLUDED
#define Switchboard_Core_Settings_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


struct TransportSettings
/// The limits of the WebSocket transport, from the [websocket] and [host] sections.
{
	int eventLoops = 2;
	std::string poller = "epoll"; ///< [host] poller
	std::size_t maxConnections = 10000;
	std::int64_t maxMessageSize = 1 << 20;
	std::int64_t idleTimeoutMs = 120000;
	std::int64_t pingIntervalMs = 30000;
	std::int64_t closeTimeoutMs = 3000;
	std::size_t highWatermark = 256 * 1024;
	std::size_t lowWatermark = 64 * 1024;
	std::size_t maxOutputQueue = 1024 * 1024;
	std::int64_t fragmentTimeoutMs = 10000;   ///< first to final fragment of a message; 0 = none
	std::int64_t sendStallTimeoutMs = 10000;  ///< a read-paused peer taking none of its output; 0 = none
	std::size_t maxBufferedTotal = 256 << 20; ///< reassembly + output bytes of all connections; 0 = none
};


struct HttpSettings
/// The HTTP server in front of every listener, from [http].
{
	int maxThreads = 16;
	int maxQueued = 256;
	std::size_t maxBodySize = 1 << 20;
	bool keepAlive = true;
	std::int64_t requestTimeoutMs =
	    10000; ///< [websocket] handshake_timeout_ms: total time to send a request head (an upgrade too)
	std::int64_t bodyTimeoutMs = 30000;     ///< body_timeout_ms: total time to send a request body
	std::int64_t keepAliveTimeoutMs = 5000; ///< keep_alive_timeout_ms: idle time between requests
	std::size_t maxRequestLine = 8192;      ///< max_request_line, bytes
	std::size_t maxHeaderSize = 16384;      ///< max_header_size: all header lines, bytes
	std::size_t maxHeaderCount = 100;       ///< max_header_count
	// Abuse limits (docs/operations.md, "Limits"): generous enough for many users behind one
	// carrier-grade NAT address and for a reconnect storm of 5,000 clients from one address.
	std::size_t maxConnectionsPerClient = 10000; ///< HTTP + upgraded WebSocket per address; 0 = none
	int ipv6ClientPrefix = 64;                   ///< IPv6 clients are counted per prefix of this length
	int upgradesPerSecond = 100;                 ///< upgrade token bucket refill per client; 0 = none
	int upgradeBurst = 10000;                    ///< upgrade token bucket size per client
	std::size_t maxPendingHandshakes = 16384;    ///< connections still sending their first head; 0 = none
};


struct ListenerSpec
/// One [listener.<name>] section.
{
	std::string name;
	std::string address;
	int port = 0;
	int backlog = 4096;
	std::string tlsCertificate;      ///< PEM file; empty = plain TCP
	std::string tlsKey;              ///< PEM private key of tlsCertificate
	std::string tlsChain;            ///< optional PEM intermediates
	bool jsonErrors = false;         ///< json_errors: the host's own HTTP errors as {"error":"..."}
	bool serveWhileDraining = false; ///< serve_while_draining: keep accepting during a graceful shutdown
};


struct PluginMount
/// Where an enabled plugin is served, from its [plugin.<name>] section.
{
	std::string name;     ///< [plugin.<name>], also the library file name
	std::string listener; ///< listener name
	std::string prefix;   ///< "" or "/x"
};


struct ClusterSettings
/// The [cluster] section: several nodes acting as one server over Redis (docs/cluster.md).
{
	bool enabled = false;
	std::string nodeId; ///< unique among live nodes; empty = the machine's host name
	std::string redisHost = "127.0.0.1";
	int redisPort = 6379;
	std::string redisPassword; ///< AUTH when non-empty
	std::string keyPrefix = "switchboard:";
	int nodeTtlSeconds = 15;               ///< liveness key expiry; refreshed every third of it
	std::size_t publishQueueLimit = 65536; ///< outgoing messages waiting for Redis before new ones are dropped
};


struct PostgresSettings
/// The [storage] postgresql_* keys: the PostgreSQL backend (docs/storage.md).
{
	std::string host = "127.0.0.1"; ///< host name, IP address or Unix socket directory
	int port = 5432;
	std::string database = "switchboard";
	std::string user = "switchboard";
	std::string password;                 ///< empty: libpq's PGPASSWORD or ~/.pgpass, if any
	int poolSize = 0;                     ///< connections at most; 0 = [host] worker_threads + 2
	std::int64_t connectTimeoutMs = 5000; ///< rounded up to whole seconds by libpq
};


struct ServerSettings
/// Everything the server needs to run.
{
	TransportSettings transport;
	HttpSettings http;
	std::vector<ListenerSpec> listeners;
	bool adminEnabled = true;
	std::string adminAddress = "127.0.0.1";
	int adminPort = 9090;
	std::string adminToken;      ///< [admin] token: bearer token for every admin path but the probes; empty = none
	std::string consoleDir;      ///< the console's static files (resolved by main(), like pluginDir)
	std::string effectiveConfig; ///< the effective configuration, secrets masked, for the console
	std::string pluginDir;
	std::string storageDirectory = "./data";
	int workerThreads = 4;
	std::int64_t shutdownDeadlineMs = 5000;
	bool abortOnPluginFailure = true;
	std::vector<PluginMount> plugins;
	std::string logLevel = "information";  ///< [host] log_level, a Poco::Logger level name
	std::string storageBackend = "sqlite"; ///< [storage] backend: sqlite or postgresql
	PostgresSettings postgresql;           ///< [storage] postgresql_*
	ClusterSettings cluster;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Settings_INCLUDED
