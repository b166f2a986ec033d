//
// HostConfig.cpp
//
// The host's configuration: loading, layering, validation and rendering.
//


#include "config/HostConfig.h"
#include "config/IniFile.h"
#include "switchboard/util/ConfigRules.h"
#include "switchboard/util/Json.h"
#include "switchboard/util/Names.h"
#include "Poco/Net/IPAddress.h"
#include "Poco/Net/SocketDefs.h"
#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <set>
#include <sstream>


#if defined(_WIN32)
#include <stdlib.h>
#define SWITCHBOARD_ENVIRON _environ
#else
extern char** environ;
#define SWITCHBOARD_ENVIRON environ
#endif


namespace Switchboard {
namespace Core {


namespace {


using Switchboard::ConfigKey;
using Switchboard::ConfigType;
using Switchboard::Json::quote;


enum class Check
{
	NONE,
	IP_ADDRESS,  // Poco::Net::IPAddress literal: no name resolution at startup
	PATH_PREFIX, // "" or "/a/b": how a plugin is mounted
	NAME_TOKEN,  // [A-Za-z0-9._-]*: a cluster node id, a Redis key prefix
	BEARER_TOKEN // "" or 16 to 256 characters of RFC 6750's b64token: [A-Za-z0-9-._~+/]+ =*
};


template <class Target>
struct KeyRow
// A host key, declared in exactly one row: the SDK declaration (name, type, default, range,
// description; validated by ConfigRules like a plugin's keys), what the SDK's ConfigKey cannot
// say, and the field the value lands in.
{
	ConfigKey key;
	const char* allowed; // "a|b" or nullptr
	Check check;
	void (*apply)(Target& target, const std::string& value); // value already validated
};


std::int64_t toInt(const std::string& value)
{
	std::int64_t v = 0;
	return ConfigParse::parseInteger(value, v) ? v : 0;
}


// Field setters: a validated value converted to the field's type. Ranges are checked before,
// so the narrowing casts cannot truncate.
void assign(std::string& field, const std::string& value)
{
	field = value;
}

void assign(int& field, const std::string& value)
{
	field = static_cast<int>(toInt(value));
}

void assign(std::int64_t& field, const std::string& value)
{
	field = toInt(value);
}

void assign(std::size_t& field, const std::string& value)
{
	field = static_cast<std::size_t>(toInt(value));
}

void assign(bool& field, const std::string& value)
{
	bool b = false;
	field = ConfigParse::parseBoolean(value, b) && b;
}

template <auto Field>
void toServer(ServerSettings& s, const std::string& value)
{
	assign(s.*Field, value);
}

template <auto Field>
void toCluster(ServerSettings& s, const std::string& value)
{
	assign(s.cluster.*Field, value);
}

template <auto Field>
void toPostgres(ServerSettings& s, const std::string& value)
{
	assign(s.postgresql.*Field, value);
}

template <auto Field>
void toTransport(ServerSettings& s, const std::string& value)
{
	assign(s.transport.*Field, value);
}

template <auto Field>
void toHttp(ServerSettings& s, const std::string& value)
{
	assign(s.http.*Field, value);
}

template <auto Field>
void toListener(ListenerSpec& listener, const std::string& value)
{
	assign(listener.*Field, value);
}

template <auto Field>
void toPlugin(PluginSection& plugin, const std::string& value)
{
	assign(plugin.*Field, value);
}

void toPluginFailurePolicy(ServerSettings& s, const std::string& value)
{
	s.abortOnPluginFailure = value != "skip";
}


using HostKey = KeyRow<ServerSettings>;
using ListenerKey = KeyRow<ListenerSpec>;
using PluginHostKey = KeyRow<PluginSection>;


const HostKey HOST_KEYS[] = {
    {{"event_loops", ConfigType::INTEGER, "0",
      "event loops (threads) serving WebSocket connections; 0 = one per CPU core but one, at least one", 0, 256},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::eventLoops>},
    {{"worker_threads", ConfigType::INTEGER, "4", "threads running blocking work (storage, offloaded plugin tasks)", 1,
      256},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::workerThreads>},
    {{"log_level", ConfigType::STRING, "information", "lowest severity written to the log", 0, 0},
     "trace|debug|information|notice|warning|error",
     Check::NONE,
     toServer<&ServerSettings::logLevel>},
    {{"shutdown_deadline_ms", ConfigType::INTEGER, "5000",
      "milliseconds shutdown waits for connections to close and plugins to stop", 100, 600000},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::shutdownDeadlineMs>},
    {{"on_plugin_failure", ConfigType::STRING, "abort",
      "when a plugin fails to load or start: abort = the host exits, skip = the host runs without it", 0, 0},
     "abort|skip",
     Check::NONE,
     toPluginFailurePolicy},
    {{"plugin_dir", ConfigType::STRING, "",
      "directory of plugin libraries; empty = the build tree's plugins when run from the build tree, else the "
      "installed directory",
      0, 0},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::pluginDir>},
    {{"poller", ConfigType::STRING, "epoll",
      "readiness backend of the event loops: epoll (Linux, fastest) or pollset (Poco::Net::PollSet, portable)"
#if defined(_WIN32)
      "; on Windows wsapoll, which the default (epoll, not there) falls back to"
#endif
      ,
      0, 0},
#if defined(_WIN32)
     "epoll|pollset|wsapoll",
#else
     "epoll|pollset",
#endif
     Check::NONE,
     toTransport<&TransportSettings::poller>},
    {{"max_connections", ConfigType::INTEGER, "0",
      "most concurrent WebSocket connections; 0 = derived from the open-file limit (RLIMIT_NOFILE)", 0, 10000000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::maxConnections>},
};

const HostKey STORAGE_KEYS[] = {
    {{"backend", ConfigType::STRING, "sqlite",
      "storage backend for plugin data: sqlite = a file per plugin (one node), postgresql = a schema per plugin "
      "in a shared database (several nodes)",
      0, 0},
     "sqlite|postgresql",
     Check::NONE,
     toServer<&ServerSettings::storageBackend>},
    {{"directory", ConfigType::STRING, "./data",
      "directory of the storage files; a relative path is relative to the working directory", 0, 0},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::storageDirectory>},
    {{"postgresql_host", ConfigType::STRING, "127.0.0.1",
      "PostgreSQL server: host name, IP address, or the directory of its Unix socket", 0, 0},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::host>},
    {{"postgresql_port", ConfigType::INTEGER, "5432", "TCP port of the PostgreSQL server", 1, 65535},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::port>},
    {{"postgresql_database", ConfigType::STRING, "switchboard", "PostgreSQL database holding every plugin's schema", 0,
      0},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::database>},
    {{"postgresql_user", ConfigType::STRING, "switchboard", "PostgreSQL role the server logs in as", 0, 0},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::user>},
    {{"postgresql_password", ConfigType::STRING, "",
      "password of postgresql_user; empty = none, or libpq's PGPASSWORD or ~/.pgpass; better set through "
      "SWITCHBOARD_STORAGE__POSTGRESQL_PASSWORD than in the file",
      0, 0},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::password>},
    {{"postgresql_pool_size", ConfigType::INTEGER, "0",
      "PostgreSQL connections kept open at most, shared by all plugins; 0 = [host] worker_threads + 2", 0, 1000},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::poolSize>},
    {{"postgresql_connect_timeout_ms", ConfigType::INTEGER, "5000",
      "milliseconds to wait for a PostgreSQL connection (start-up fails after it); rounded up to whole seconds", 2000,
      600000},
     nullptr,
     Check::NONE,
     toPostgres<&PostgresSettings::connectTimeoutMs>},
};

const HostKey HTTP_KEYS[] = {
    {{"max_threads", ConfigType::INTEGER, "16", "threads running plugin HTTP route handlers", 1, 1024},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxThreads>},
    {{"max_queued", ConfigType::INTEGER, "256",
      "route requests waiting for a handler thread; more are answered 503 with Retry-After", 1, 100000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxQueued>},
    {{"max_body_size", ConfigType::INTEGER, "1048576", "largest HTTP request body in bytes", 1, 1073741824},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxBodySize>},
    {{"keep_alive", ConfigType::BOOLEAN, "true", "whether HTTP connections are kept open between requests", 0, 0},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::keepAlive>},
    {{"keep_alive_timeout_ms", ConfigType::INTEGER, "5000",
      "milliseconds an idle keep-alive connection may wait for its next request", 100, 600000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::keepAliveTimeoutMs>},
    {{"body_timeout_ms", ConfigType::INTEGER, "30000",
      "milliseconds a client has to send a whole request body once the head is in", 100, 3600000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::bodyTimeoutMs>},
    {{"max_request_line", ConfigType::INTEGER, "8192", "longest request line in bytes; longer ones get 414", 256,
      1048576},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxRequestLine>},
    {{"max_header_size", ConfigType::INTEGER, "16384", "all header lines of a request in bytes; more gets 431", 1024,
      1048576},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxHeaderSize>},
    {{"max_header_count", ConfigType::INTEGER, "100", "header fields of a request; more gets 431", 8, 10000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxHeaderCount>},
    {{"max_connections_per_client", ConfigType::INTEGER, "10000",
      "HTTP and WebSocket connections one client address (IPv6: prefix) may hold; more are answered 429; 0 = no "
      "limit",
      0, 10000000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxConnectionsPerClient>},
    {{"ipv6_client_prefix", ConfigType::INTEGER, "64",
      "IPv6 clients are counted per address prefix of this many bits (per-client limits)", 16, 128},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::ipv6ClientPrefix>},
    {{"upgrades_per_second", ConfigType::INTEGER, "100",
      "WebSocket upgrades one client may start per second, sustained; more are answered 429; 0 = no limit", 0, 1000000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::upgradesPerSecond>},
    {{"upgrade_burst", ConfigType::INTEGER, "10000",
      "WebSocket upgrades one client may start at once before upgrades_per_second applies", 1, 10000000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::upgradeBurst>},
    {{"max_pending_handshakes", ConfigType::INTEGER, "16384",
      "connections still sending their first request head, all clients together; more are answered 503; 0 = no "
      "limit",
      0, 10000000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::maxPendingHandshakes>},
};

const HostKey WEBSOCKET_KEYS[] = {
    {{"max_message_size", ConfigType::INTEGER, "1048576",
      "largest message in bytes (summed over fragments); larger ones close the connection with 1009", 1, 1073741824},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::maxMessageSize>},
    {{"idle_timeout_ms", ConfigType::INTEGER, "120000",
      "milliseconds without any inbound frame before a connection is closed; 0 = never", 0, 86400000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::idleTimeoutMs>},
    {{"ping_interval_ms", ConfigType::INTEGER, "30000", "milliseconds between server pings; 0 = never", 0, 86400000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::pingIntervalMs>},
    {{"close_timeout_ms", ConfigType::INTEGER, "3000",
      "milliseconds to wait for the peer's close frame or FIN after a close", 100, 60000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::closeTimeoutMs>},
    {{"high_watermark", ConfigType::INTEGER, "262144",
      "queued output bytes above which the plugin is told to pause sending", 1, 1073741824},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::highWatermark>},
    {{"low_watermark", ConfigType::INTEGER, "65536",
      "queued output bytes below which a paused plugin is told to resume; below high_watermark", 0, 1073741824},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::lowWatermark>},
    {{"max_output_queue", ConfigType::INTEGER, "1048576",
      "queued output bytes above which the connection is closed with 1008; at least high_watermark", 1, 1073741824},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::maxOutputQueue>},
    {{"fragment_timeout_ms", ConfigType::INTEGER, "10000",
      "milliseconds from a message's first fragment to its final one before closing with 1008; 0 = no limit", 0,
      86400000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::fragmentTimeoutMs>},
    {{"send_stall_timeout_ms", ConfigType::INTEGER, "10000",
      "milliseconds a connection not read because its output is backed up may take none of that output before "
      "it is closed with 1008 \"slow consumer\"; 0 = no limit",
      0, 86400000},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::sendStallTimeoutMs>},
    {{"max_buffered_total", ConfigType::INTEGER, "268435456",
      "bytes held in reassembly buffers and output queues across all connections; past it the oldest offenders "
      "are closed with 1008; 0 = no limit",
      0, 1099511627776},
     nullptr,
     Check::NONE,
     toTransport<&TransportSettings::maxBufferedTotal>},
    {{"handshake_timeout_ms", ConfigType::INTEGER, "10000",
      "milliseconds a client has to send a whole HTTP request head (an upgrade too), from its first byte", 100, 600000},
     nullptr,
     Check::NONE,
     toHttp<&HttpSettings::requestTimeoutMs>},
};

const HostKey ADMIN_KEYS[] = {
    {{"enabled", ConfigType::BOOLEAN, "true", "whether the admin listener (/metrics, /health) runs", 0, 0},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::adminEnabled>},
    {{"address", ConfigType::STRING, "127.0.0.1", "IP address the admin listener binds to", 0, 0},
     nullptr,
     Check::IP_ADDRESS,
     toServer<&ServerSettings::adminAddress>},
    {{"port", ConfigType::INTEGER, "9090", "TCP port of the admin listener; 0 = any free port", 0, 65535},
     nullptr,
     Check::NONE,
     toServer<&ServerSettings::adminPort>},
    {{"token", ConfigType::STRING, "",
      "bearer token the admin listener requires (Authorization: Bearer <token>) on every path but /healthz, "
      "/readyz and the console's static files; empty = none (keep the listener on loopback then); 16 to 256 "
      "characters; shown masked by --print-config and the console",
      0, 0},
     nullptr,
     Check::BEARER_TOKEN,
     toServer<&ServerSettings::adminToken>},
};

const HostKey CLUSTER_KEYS[] = {
    {{"enabled", ConfigType::BOOLEAN, "false",
      "whether this node joins a cluster through Redis (docs/cluster.md); false = a single node, no Redis needed", 0,
      0},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::enabled>},
    {{"node_id", ConfigType::STRING, "",
      "this node's name, unique among the live nodes (letters, digits, '.', '_', '-'); empty = the host name", 0, 0},
     nullptr,
     Check::NAME_TOKEN,
     toCluster<&ClusterSettings::nodeId>},
    {{"redis_host", ConfigType::STRING, "127.0.0.1", "IP address or host name of the Redis server", 0, 0},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::redisHost>},
    {{"redis_port", ConfigType::INTEGER, "6379", "TCP port of the Redis server", 1, 65535},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::redisPort>},
    {{"redis_password", ConfigType::STRING, "", "password sent with AUTH; empty = none", 0, 0},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::redisPassword>},
    {{"key_prefix", ConfigType::STRING, "switchboard:",
      "prefix of every Redis key and channel of this cluster, so several clusters can share one Redis", 0, 0},
     nullptr,
     Check::NAME_TOKEN,
     toCluster<&ClusterSettings::keyPrefix>},
    {{"node_ttl_s", ConfigType::INTEGER, "15",
      "seconds after its last refresh that a silent node counts as dead and its names are free; refreshed every "
      "third of it",
      2, 3600},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::nodeTtlSeconds>},
    {{"publish_queue_limit", ConfigType::INTEGER, "65536",
      "messages for other nodes that may wait for Redis; beyond it new ones are dropped and counted", 16, 10000000},
     nullptr,
     Check::NONE,
     toCluster<&ClusterSettings::publishQueueLimit>},
};

const ListenerKey LISTENER_KEYS[] = {
    {{"address", ConfigType::STRING, "0.0.0.0", "IP address to bind; 0.0.0.0 = every IPv4 address, :: = every address",
      0, 0},
     nullptr,
     Check::IP_ADDRESS,
     toListener<&ListenerSpec::address>},
    {{"port", ConfigType::INTEGER, nullptr, "TCP port; 0 = any free port", 0, 65535},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::port>},
    {{"backlog", ConfigType::INTEGER, "4096",
      "length of the kernel's queue of connections not yet accepted (a reconnect storm waits there)", 1, 65535},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::backlog>},
    {{"tls_certificate", ConfigType::STRING, "",
      "PEM certificate file (intermediates may follow it): the listener speaks TLS (https, wss); empty = plain TCP; "
      "re-read on SIGHUP",
      0, 0},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::tlsCertificate>},
    {{"tls_key", ConfigType::STRING, "", "PEM private key file of tls_certificate; required with it", 0, 0},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::tlsKey>},
    {{"tls_chain", ConfigType::STRING, "", "optional PEM file of intermediate certificates sent after tls_certificate",
      0, 0},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::tlsChain>},
    {{"json_errors", ConfigType::BOOLEAN, "false",
      "whether the HTTP errors the host answers itself (404, 405, 413, 429, 503, refused upgrades, ...) carry a JSON "
      "body {\"error\":\"...\"} instead of plain text",
      0, 0},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::jsonErrors>},
    {{"serve_while_draining", ConfigType::BOOLEAN, "false",
      "whether the listener keeps accepting during a graceful shutdown, so new requests reach the plugins (which "
      "answer as shutting down) instead of being refused at TCP",
      0, 0},
     nullptr,
     Check::NONE,
     toListener<&ListenerSpec::serveWhileDraining>},
};

const PluginHostKey PLUGIN_HOST_KEYS[] = {
    {{"enabled", ConfigType::BOOLEAN, "true", "whether the plugin is loaded and started", 0, 0},
     nullptr,
     Check::NONE,
     toPlugin<&PluginSection::enabled>},
    {{"listener", ConfigType::STRING, "",
      "name of the [listener.<name>] the plugin is mounted on; empty = the only listener", 0, 0},
     nullptr,
     Check::NONE,
     toPlugin<&PluginSection::listener>},
    {{"prefix", ConfigType::STRING, "",
      "path prefix of the plugin's routes; empty = the root, else starting with '/' and not ending with '/'", 0, 0},
     nullptr,
     Check::PATH_PREFIX,
     toPlugin<&PluginSection::prefix>},
};
// Every row above is one of the SDK's host-owned plugin keys, which FakeHost refuses too
// (ConfigTest checks the names).
static_assert(std::size(PLUGIN_HOST_KEYS) == std::size(ConfigRules::HOST_OWNED_PLUGIN_KEYS));


struct FixedSection
{
	const char* name;
	const char* description;
	const HostKey* keys;
	std::size_t count;
};

const FixedSection FIXED_SECTIONS[] = {
    {"host", "The process: threads, logging, shutdown, plugins.", HOST_KEYS, std::size(HOST_KEYS)},
    {"storage", "Where plugins' persistent data lives.", STORAGE_KEYS, std::size(STORAGE_KEYS)},
    {"http", "The HTTP server in front of every listener.", HTTP_KEYS, std::size(HTTP_KEYS)},
    {"websocket", "Limits and timers of every WebSocket connection.", WEBSOCKET_KEYS, std::size(WEBSOCKET_KEYS)},
    {"admin", "The admin listener: Prometheus /metrics, the probes and the console.", ADMIN_KEYS,
     std::size(ADMIN_KEYS)},
    {"cluster", "Several nodes acting as one server, through Redis.", CLUSTER_KEYS, std::size(CLUSTER_KEYS)},
};

const char* const KNOWN_SECTIONS =
    "host, storage, http, websocket, admin, cluster, environment, listener.<name> or plugin.<name>";
const char* const ENVIRONMENT_SECTION = "environment";
const char* const LISTENER_PREFIX = "listener.";
const char* const PLUGIN_PREFIX = "plugin.";


std::string lower(std::string s)
{
	for (char& c : s)
		c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	return s;
}


std::string trimmed(std::string_view s)
{
	return std::string(ConfigParse::trim(s));
}


bool startsWith(const std::string& s, const char* prefix)
{
	return s.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}


template <class Target>
const KeyRow<Target>* findKey(const KeyRow<Target>* keys, std::size_t count, const std::string& name)
{
	for (std::size_t i = 0; i < count; ++i)
	{
		if (name == keys[i].key.name)
			return &keys[i];
	}
	return nullptr;
}


const FixedSection* findFixed(const std::string& name)
{
	for (const auto& s : FIXED_SECTIONS)
	{
		if (name == s.name)
			return &s;
	}
	return nullptr;
}


template <class Target>
std::string joinNames(const KeyRow<Target>* keys, std::size_t count)
{
	std::string out;
	for (std::size_t i = 0; i < count; ++i)
		out += (i ? ", " : "") + std::string(keys[i].key.name);
	return out;
}


std::string join(const std::vector<std::string>& items)
{
	std::string out;
	for (std::size_t i = 0; i < items.size(); ++i)
		out += (i ? ", " : "") + items[i];
	return out;
}


void splitKey(const std::string& key, std::string& section, std::string& name)
// "host.log_level" -> host / log_level; "plugin.echo.greeting" -> plugin.echo / greeting.
// Listener and plugin sections have two components, so a stray dot in a key name shows up
// as an unknown key of the right section instead of a strange section.
{
	std::size_t first = key.find('.');
	if (first == std::string::npos)
	{
		section.clear();
		name = key;
		return;
	}
	std::string head = key.substr(0, first);
	std::size_t split = first;
	if (head == "listener" || head == "plugin")
	{
		std::size_t second = key.find('.', first + 1);
		if (second != std::string::npos)
			split = second;
	}
	section = key.substr(0, split);
	name = key.substr(split + 1);
}


bool isWellFormedSection(const std::string& section)
{
	if (findFixed(section))
		return true;
	if (startsWith(section, LISTENER_PREFIX))
		return Names::isSectionName(section.substr(std::char_traits<char>::length(LISTENER_PREFIX)));
	if (startsWith(section, PLUGIN_PREFIX))
		return Names::isSectionName(section.substr(std::char_traits<char>::length(PLUGIN_PREFIX)));
	return false;
}


bool isVariableName(const std::string& name)
{
	if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (char c : name)
	{
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}


std::string listenerAddress(const std::string& value)
// "localhost" names the IPv4 loopback, so addresses written for other servers' variables
// (PEERVAULT_WS_HOST=localhost) work without name resolution at startup.
{
	return lower(value) == "localhost" ? std::string("127.0.0.1") : value;
}


bool parseAddress(const std::string& text, Poco::Net::IPAddress& address)
// Poco 1.11's IPAddress::tryParse() rejects "::" (the IPv6 wildcard), so IPv6 literals fall
// back to inet_pton.
{
	if (Poco::Net::IPAddress::tryParse(text, address))
		return true;
	struct in6_addr raw;
	if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), &raw) != 1)
		return false;
	address = Poco::Net::IPAddress(&raw, sizeof(raw));
	return true;
}


bool validPrefix(const std::string& prefix)
{
	if (prefix.empty())
		return true;
	if (prefix.front() != '/' || prefix.back() == '/' || prefix.find("//") != std::string::npos)
		return false;
	for (char c : prefix)
	{
		if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#' || c == 0x7f)
			return false;
	}
	return true;
}


bool extraCheck(Check check, const std::string& value, std::string& expected)
{
	switch (check)
	{
		case Check::NONE:
			return true;
		case Check::IP_ADDRESS:
		{
			Poco::Net::IPAddress address;
			if (parseAddress(value, address))
				return true;
			expected = "an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::)";
			return false;
		}
		case Check::PATH_PREFIX:
			if (validPrefix(value))
				return true;
			expected = "a path prefix: empty for the root, or starting with '/' and not ending with '/' (e.g. /echo)";
			return false;
		case Check::NAME_TOKEN:
			if (value.size() > 64)
			{
				expected = "at most 64 characters";
				return false;
			}
			for (char c : value)
			{
				bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
				          c == '_' || c == '-' || c == ':';
				if (!ok)
				{
					expected = "letters, digits, '.', '_', '-' or ':' only (e.g. node-1)";
					return false;
				}
			}
			return true;
		case Check::BEARER_TOKEN:
		{
			if (value.empty())
				return true;
			std::size_t i = 0;
			while (i < value.size() &&
			       (std::isalnum(static_cast<unsigned char>(value[i])) || std::strchr("-._~+/", value[i]) != nullptr))
				++i;
			while (i < value.size() && i > 0 && value[i] == '=')
				++i;
			if (i == value.size() && value.size() >= 16 && value.size() <= 256)
				return true;
			expected = "empty, or 16 to 256 characters of A-Z a-z 0-9 - . _ ~ + / (trailing '=' allowed), "
			           "e.g. from: openssl rand -hex 32";
			return false;
		}
	}
	return true;
}


template <class Target>
bool checkHostValue(const KeyRow<Target>& key, const std::string& value, std::string& expected)
{
	const char* allowed = key.allowed ? key.allowed : "";
	if (!ConfigRules::checkValue(key.key, value, allowed))
	{
		expected = ConfigRules::expectation(key.key, allowed);
		return false;
	}
	return extraCheck(key.check, value, expected);
}


std::string valueError(const std::string& origin, const std::string& key, const std::string& expected,
                       const std::string& value)
{
	return origin + ": " + key + ": expected " + expected + ", got " + quote(value);
}


bool addressesClash(const std::string& a, const std::string& b)
// Two binds on one port fail (or, with SO_REUSEPORT, silently share traffic) when the
// addresses are equal or one is a wildcard covering the other; :: covers IPv4 too (dual stack).
{
	Poco::Net::IPAddress x, y;
	if (!parseAddress(a, x) || !parseAddress(b, y))
		return a == b;
	if (x == y)
		return true;
	if (x.isWildcard() && (x.family() == Poco::Net::IPAddress::IPv6 || y.family() == x.family()))
		return true;
	if (y.isWildcard() && (y.family() == Poco::Net::IPAddress::IPv6 || x.family() == y.family()))
		return true;
	return false;
}


std::string endpoint(const std::string& address, int port)
{
	if (address.find(':') != std::string::npos)
		return "[" + address + "]:" + std::to_string(port);
	return address + ":" + std::to_string(port);
}


} // namespace


const char* const HostConfig::ENV_PREFIX = "SWITCHBOARD_";


namespace {


const char* const KEY_CHARACTERS = " (printable characters only, e.g. host.log_level)";


bool isPrintableKey(const std::string& key)
/// Keys from the environment and --set end up in error lines: a control character (a newline in
/// a variable's name) would split one problem over several lines (found by the config fuzzer).
{
	return std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 0x7F; });
}


} // namespace


HostConfig::HostConfig() {}


std::string HostConfig::environmentKey(const std::string& variable)
{
	if (!startsWith(variable, ENV_PREFIX))
		return std::string();
	std::string rest = variable.substr(std::char_traits<char>::length(ENV_PREFIX));
	if (rest.find("__") == std::string::npos)
		return std::string();
	std::string key;
	for (std::size_t i = 0; i < rest.size(); ++i)
	{
		if (rest[i] == '_' && i + 1 < rest.size() && rest[i + 1] == '_')
		{
			key += '.';
			++i;
		}
		else
			key += rest[i];
	}
	return lower(key);
}


std::map<std::string, std::string> HostConfig::processEnvironment()
{
	std::map<std::string, std::string> env;
	for (char** p = SWITCHBOARD_ENVIRON; p && *p; ++p)
	{
		std::string entry(*p);
		std::size_t eq = entry.find('=');
		if (eq != std::string::npos)
			env[entry.substr(0, eq)] = entry.substr(eq + 1);
	}
	return env;
}


bool HostConfig::load(const std::string& path, const std::map<std::string, std::string>& environment,
                      const std::vector<std::string>& overrides, HostConfig& out, std::string& error)
{
	out = HostConfig();
	out._path = path;
	error.clear();
	std::vector<std::string> errors;

	auto add = [&out, &errors](const std::string& key, const std::string& value, const std::string& origin,
	                           bool fromFile) {
		if (value.find_first_of("\r\n") != std::string::npos)
		{
			errors.push_back(valueError(origin, key, "a single line", value));
			return;
		}
		Entry& e = out._entries[key];
		e.value = trimmed(value);
		e.origin = origin;
		e.fromFile = fromFile;
		std::string section, name;
		splitKey(key, section, name);
		out._sections.emplace(section, origin);
	};

	if (!path.empty())
	{
		IniFile file;
		std::vector<std::string> fileErrors;
		if (!IniFile::read(path, file, fileErrors))
		{
			for (std::size_t i = 0; i < fileErrors.size(); ++i)
				error += (i ? "\n" : "") + fileErrors[i];
			return false;
		}
		// A section is located at its header, so a key it lacks is reported there. A header that
		// holds keys but is not a valid section is left to those keys: they name the problem, and
		// a header like [plugin.a.b] is not the section its keys fall into.
		for (const IniFile::Section& header : file.sections())
		{
			bool holdsKeys = false;
			for (const IniFile::Entry& entry : file.entries())
				holdsKeys = holdsKeys || entry.section == header.name;
			if (isWellFormedSection(header.name) || !holdsKeys)
				out._sections.emplace(header.name, file.origin(header.line));
		}
		for (const IniFile::Entry& entry : file.entries())
		{
			// A plugin's dotted key is written whole under [plugin.<name>]; a header like
			// [plugin.together.ws] would be a second spelling of the same key, so it is refused.
			std::string rest = startsWith(entry.section, PLUGIN_PREFIX)
			                       ? entry.section.substr(std::char_traits<char>::length(PLUGIN_PREFIX))
			                       : std::string();
			std::size_t dot = rest.find('.');
			if (dot != std::string::npos && Names::isSectionName(rest.substr(0, dot)))
			{
				errors.push_back(file.origin(entry.line) + ": " + entry.fullKey() + ": [" + entry.section +
				                 "] is not a plugin section (expected the key written as " + rest.substr(dot + 1) +
				                 "." + entry.name + " under [" + PLUGIN_PREFIX + rest.substr(0, dot) + "])");
				continue;
			}
			if (entry.section == ENVIRONMENT_SECTION)
			{
				out._aliases.push_back({lower(entry.name), entry.value, file.origin(entry.line)});
				continue;
			}
			add(entry.fullKey(), entry.value, file.origin(entry.line), true);
		}
	}

	// [environment]: other programs' variables (PEERVAULT_WS_PORT) as overrides of the keys they
	// name, beaten by SWITCHBOARD_* variables and --set, which are applied after them.
	for (const Alias& alias : out._aliases)
	{
		std::string section, name;
		splitKey(alias.key, section, name);
		if (section.empty() || name.empty() || section == ENVIRONMENT_SECTION)
		{
			errors.push_back(alias.origin + ": environment." + alias.key +
			                 ": expected a key written with its section, e.g. listener.main.port = MY_PORT");
			continue;
		}
		if (!isVariableName(alias.variable))
		{
			errors.push_back(
			    alias.origin + ": environment." + alias.key + ": " + quote(alias.variable) +
			    " is not an environment variable name (letters, digits and '_', not starting with a digit)");
			continue;
		}
		auto value = environment.find(alias.variable);
		if (value != environment.end())
			add(alias.key, value->second, "environment (" + alias.variable + ", through [environment])", false);
	}

	for (const auto& kv : environment)
	{
		std::string key = environmentKey(kv.first);
		if (key.empty() || startsWith(key, "environment."))
			continue;
		if (!isPrintableKey(key))
			errors.push_back("environment (" + quote(kv.first) + "): not a configuration key" + KEY_CHARACTERS);
		else
			add(key, kv.second, "environment (" + kv.first + ")", false);
	}

	for (const std::string& item : overrides)
	{
		std::size_t eq = item.find('=');
		std::string key = lower(trimmed(eq == std::string::npos ? item : item.substr(0, eq)));
		if (eq == std::string::npos || key.empty())
		{
			errors.push_back("command line: " + (!key.empty() && isPrintableKey(key) ? key : std::string("--set")) +
			                 ": expected key=value, got " + quote(item));
			continue;
		}
		if (!isPrintableKey(key))
		{
			errors.push_back("command line: " + quote(key) + ": not a configuration key" + KEY_CHARACTERS);
			continue;
		}
		if (startsWith(key, "environment."))
		{
			errors.push_back("command line: " + key + ": [environment] is read from the configuration file only");
			continue;
		}
		add(key, item.substr(eq + 1), "command line", false);
	}

	out.validate(errors);
	for (std::size_t i = 0; i < errors.size(); ++i)
		error += (i ? "\n" : "") + errors[i];
	return errors.empty();
}


bool HostConfig::validate(std::vector<std::string>& errors)
{
	for (const auto& s : _sections)
	{
		const std::string& section = s.first;
		if (findFixed(section) || section == ENVIRONMENT_SECTION)
			continue;
		// The first key of the section names it in the message; an empty section names itself.
		std::string where = section;
		std::string origin = s.second;
		for (const auto& e : _entries)
		{
			std::string sec, name;
			splitKey(e.first, sec, name);
			if (sec == section)
			{
				where = e.first;
				origin = e.second.origin;
				break;
			}
		}
		if (section.empty())
			errors.push_back(origin + ": " + where + ": key outside any section (expected it under " + KNOWN_SECTIONS +
			                 ")");
		else if (startsWith(section, LISTENER_PREFIX) || startsWith(section, PLUGIN_PREFIX))
		{
			std::string kind = startsWith(section, LISTENER_PREFIX) ? "listener" : "plugin";
			std::string name = section.substr(kind.size() + 1);
			if (!Names::isSectionName(name))
				errors.push_back(origin + ": " + where + ": invalid " + kind + " name " + quote(name) +
				                 " (expected letters, digits and '_')");
		}
		else
			errors.push_back(origin + ": " + where + ": unknown section [" + section + "] (expected " + KNOWN_SECTIONS +
			                 ")");
	}
	validateFixedSections(errors);
	validateListeners(errors);
	validatePluginSections(errors);
	checkAddressClashes(errors);
	return errors.empty();
}


std::string HostConfig::effective(const std::string& key, const char* fallback) const
{
	auto it = _entries.find(key);
	if (it != _entries.end())
		return it->second.value;
	return fallback ? fallback : "";
}


std::string HostConfig::sectionOrigin(const std::string& section) const
{
	auto it = _sections.find(section);
	if (it != _sections.end())
		return it->second;
	return _path.empty() ? std::string("configuration") : _path;
}


std::string HostConfig::origin(const std::string& key) const
{
	auto it = _entries.find(key);
	if (it != _entries.end())
		return it->second.origin;
	auto s = _sections.find(key);
	if (s != _sections.end())
		return s->second;
	return "default";
}


void HostConfig::validateFixedSections(std::vector<std::string>& errors)
{
	std::set<std::string> invalid;
	for (const auto& e : _entries)
	{
		std::string section, name;
		splitKey(e.first, section, name);
		const FixedSection* fixed = findFixed(section);
		if (!fixed)
			continue;
		const HostKey* key = findKey(fixed->keys, fixed->count, name);
		std::string expected;
		if (!key)
		{
			errors.push_back(e.second.origin + ": " + e.first + ": unknown key ([" + section +
			                 "] accepts: " + joinNames(fixed->keys, fixed->count) + ")");
		}
		else if (!checkHostValue(*key, e.second.value, expected))
		{
			errors.push_back(valueError(e.second.origin, e.first, expected, e.second.value));
			invalid.insert(e.first);
		}
	}

	// Every key sets its field; an invalid value sets the default instead (load() fails anyway).
	for (const FixedSection& section : FIXED_SECTIONS)
	{
		for (std::size_t i = 0; i < section.count; ++i)
		{
			const HostKey& row = section.keys[i];
			std::string full = std::string(section.name) + "." + row.key.name;
			row.apply(_settings,
			          invalid.count(full) ? std::string(row.key.defaultValue) : effective(full, row.key.defaultValue));
		}
	}

	// The watermarks only make sense in order: low < high <= hard cap.
	const TransportSettings& ws = _settings.transport;
	if (!invalid.count("websocket.low_watermark") && !invalid.count("websocket.high_watermark") &&
	    ws.lowWatermark >= ws.highWatermark)
	{
		errors.push_back(valueError(origin("websocket.low_watermark") == "default" ? origin("websocket.high_watermark")
		                                                                           : origin("websocket.low_watermark"),
		                            "websocket.low_watermark",
		                            "less than websocket.high_watermark (" + std::to_string(ws.highWatermark) + ")",
		                            std::to_string(ws.lowWatermark)));
	}
	if (!invalid.count("websocket.high_watermark") && !invalid.count("websocket.max_output_queue") &&
	    ws.highWatermark > ws.maxOutputQueue)
	{
		errors.push_back(valueError(origin("websocket.high_watermark") == "default"
		                                ? origin("websocket.max_output_queue")
		                                : origin("websocket.high_watermark"),
		                            "websocket.high_watermark",
		                            "at most websocket.max_output_queue (" + std::to_string(ws.maxOutputQueue) + ")",
		                            std::to_string(ws.highWatermark)));
	}

	// [storage] postgresql_*: libpq takes any characters, but these three must name something.
	for (const char* key : {"storage.postgresql_host", "storage.postgresql_database", "storage.postgresql_user"})
	{
		auto it = _entries.find(key);
		if (it == _entries.end() || invalid.count(key))
			continue; // the defaults are fine
		const std::string& value = it->second.value;
		const bool control =
		    std::any_of(value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
		if (value.empty() || control)
			errors.push_back(
			    valueError(it->second.origin, key, "a name that is not empty and has no control characters", value));
	}
}


void HostConfig::validateListeners(std::vector<std::string>& errors)
{
	for (const auto& s : _sections)
	{
		if (!startsWith(s.first, LISTENER_PREFIX))
			continue;
		ListenerSpec listener;
		listener.name = s.first.substr(std::char_traits<char>::length(LISTENER_PREFIX));
		if (!Names::isSectionName(listener.name))
			continue; // reported in validate()
		for (const ListenerKey& row : LISTENER_KEYS)
		{
			if (row.key.defaultValue)
				row.apply(listener, row.key.defaultValue);
		}
		std::set<std::string> given;
		for (const auto& e : _entries)
		{
			std::string section, name;
			splitKey(e.first, section, name);
			if (section != s.first)
				continue;
			const ListenerKey* row = findKey(LISTENER_KEYS, std::size(LISTENER_KEYS), name);
			std::string expected;
			if (!row)
			{
				errors.push_back(e.second.origin + ": " + e.first + ": unknown key ([" + section +
				                 "] accepts: " + joinNames(LISTENER_KEYS, std::size(LISTENER_KEYS)) + ")");
				continue;
			}
			given.insert(name);
			const std::string value = name == "address" ? listenerAddress(e.second.value) : e.second.value;
			if (!checkHostValue(*row, value, expected))
			{
				errors.push_back(valueError(e.second.origin, e.first, expected, e.second.value));
				continue;
			}
			row->apply(listener, value);
		}
		for (const ListenerKey& row : LISTENER_KEYS)
		{
			if (!row.key.defaultValue && !given.count(row.key.name))
				errors.push_back(s.second + ": " + s.first + "." + row.key.name + ": missing required key (expected " +
				                 ConfigRules::expectation(row.key) + ")");
		}
		if (listener.tlsCertificate.empty() != listener.tlsKey.empty() ||
		    (listener.tlsCertificate.empty() && !listener.tlsChain.empty()))
			errors.push_back(s.second + ": " + s.first +
			                 ": tls_certificate and tls_key go together (tls_chain needs them too)");
		_settings.listeners.push_back(listener);
	}
}


void HostConfig::validatePluginSections(std::vector<std::string>& errors)
{
	std::vector<std::string> listenerNames;
	for (const auto& l : _settings.listeners)
		listenerNames.push_back(l.name);

	for (const auto& s : _sections)
	{
		if (!startsWith(s.first, PLUGIN_PREFIX))
			continue;
		PluginSection plugin;
		plugin.name = s.first.substr(std::char_traits<char>::length(PLUGIN_PREFIX));
		if (!Names::isSectionName(plugin.name))
			continue; // reported in validate()
		bool listenerValid = true;
		for (const PluginHostKey& row : PLUGIN_HOST_KEYS)
		{
			std::string full = s.first + "." + row.key.name;
			auto it = _entries.find(full);
			std::string expected;
			if (it == _entries.end())
				row.apply(plugin, row.key.defaultValue);
			else if (checkHostValue(row, it->second.value, expected))
				row.apply(plugin, it->second.value);
			else
			{
				errors.push_back(valueError(it->second.origin, full, expected, it->second.value));
				listenerValid = listenerValid && std::string(row.key.name) != "listener";
			}
		}

		// A disabled plugin is not mounted, so its listener is neither required nor checked.
		std::string full = s.first + ".listener";
		if (plugin.enabled && listenerValid)
		{
			if (plugin.listener.empty())
			{
				if (listenerNames.size() == 1)
					plugin.listener = listenerNames.front();
				else if (listenerNames.empty())
					errors.push_back(
					    s.second + ": " + full +
					    ": no listener is defined (an enabled plugin needs a [listener.<name>] section with a port)");
				else
					errors.push_back(s.second + ": " + full + ": missing required key (expected one of the listeners " +
					                 join(listenerNames) + ")");
			}
			else if (std::find(listenerNames.begin(), listenerNames.end(), plugin.listener) == listenerNames.end())
			{
				std::string expected = listenerNames.empty()
				                           ? "the name of a [listener.<name>] section, but none is defined"
				                           : "one of the listeners " + join(listenerNames);
				errors.push_back(valueError(origin(full), full, expected, plugin.listener));
			}
		}
		_plugins.push_back(plugin);
		if (plugin.enabled)
			_settings.plugins.push_back(static_cast<const PluginMount&>(plugin));
	}
}


void HostConfig::checkAddressClashes(std::vector<std::string>& errors)
{
	// Endpoints with an invalid or missing address or port are already reported; comparing their
	// fallback values would only add confusing errors.
	auto valid = [this](const std::string& section, const auto* rows, std::size_t count, bool portRequired) {
		std::string expected;
		for (const char* name : {"address", "port"})
		{
			auto it = _entries.find(section + "." + name);
			if (it == _entries.end() ? (portRequired && std::string(name) == "port")
			                         : !checkHostValue(*findKey(rows, count, name), it->second.value, expected))
				return false;
		}
		return true;
	};
	std::vector<const ListenerSpec*> listeners;
	for (const auto& l : _settings.listeners)
	{
		if (l.port != 0 && valid(LISTENER_PREFIX + l.name, LISTENER_KEYS, std::size(LISTENER_KEYS), true))
			listeners.push_back(&l); // each bind to port 0 gets its own free port
	}
	for (std::size_t i = 0; i < listeners.size(); ++i)
	{
		const ListenerSpec& b = *listeners[i];
		for (std::size_t j = 0; j < i; ++j)
		{
			const ListenerSpec& a = *listeners[j];
			if (a.port == b.port && addressesClash(a.address, b.address))
			{
				std::string key = "listener." + b.name + ".port";
				errors.push_back(origin(key) + ": " + key + ": " + endpoint(b.address, b.port) +
				                 " clashes with listener." + a.name + " (" + endpoint(a.address, a.port) +
				                 "); expected a distinct address:port");
				break;
			}
		}
	}
	const ServerSettings& admin = _settings;
	if (admin.adminEnabled && admin.adminPort != 0 && valid("admin", ADMIN_KEYS, std::size(ADMIN_KEYS), false))
	{
		for (const ListenerSpec* p : listeners)
		{
			const ListenerSpec& l = *p;
			if (l.port == admin.adminPort && addressesClash(l.address, admin.adminAddress))
			{
				std::string o = origin("admin.port");
				if (o == "default")
					o = origin("listener." + l.name + ".port");
				errors.push_back(o + ": admin.port: " + endpoint(admin.adminAddress, admin.adminPort) +
				                 " clashes with listener." + l.name + " (" + endpoint(l.address, l.port) +
				                 "); expected a distinct address:port");
				break;
			}
		}
	}
}


const PluginSection* HostConfig::plugin(const std::string& name) const
{
	for (const auto& p : _plugins)
	{
		if (p.name == name)
			return &p;
	}
	return nullptr;
}


bool HostConfig::validatePlugin(const std::string& name, const Switchboard::ConfigKey* keys, std::size_t count,
                                Switchboard::Config& out, std::string& error) const
{
	error.clear();
	std::set<std::string> reserved(std::begin(ConfigRules::HOST_OWNED_PLUGIN_KEYS),
	                               std::end(ConfigRules::HOST_OWNED_PLUGIN_KEYS));
	std::string problem = ConfigRules::checkDeclarations(keys, count, reserved);
	if (!problem.empty())
	{
		error = "plugin " + name + ": invalid configuration declaration: " + problem;
		return false;
	}

	// The plugin's own keys as given; the host-owned ones were checked in load().
	std::string section = PLUGIN_PREFIX + name;
	std::map<std::string, std::string, std::less<>> given;
	std::map<std::string, std::string> origins;
	for (const auto& e : _entries)
	{
		std::string sec, key;
		splitKey(e.first, sec, key);
		if (sec != section || reserved.count(key))
			continue;
		given[key] = e.second.value;
		origins[key] = e.second.origin;
	}

	std::string accepts = "plugin " + name + " accepts: " + joinNames(PLUGIN_HOST_KEYS, std::size(PLUGIN_HOST_KEYS));
	if (count > 0)
		accepts += ", " + ConfigRules::declaredNames(keys, count);
	std::map<std::string, std::string, std::less<>> values;
	std::vector<std::string> problems;
	if (!ConfigRules::validateSection(keys, count, given, values, problems, accepts))
	{
		// Each problem is "<key>: <problem>"; the longest given or declared name it starts with
		// is the key, which locates it (a missing key is located at the section).
		for (std::size_t i = 0; i < problems.size(); ++i)
		{
			std::string key;
			auto consider = [&](const std::string& candidate) {
				if (candidate.size() > key.size() &&
				    problems[i].compare(0, candidate.size() + 2, candidate + ": ") == 0)
					key = candidate;
			};
			for (const auto& g : given)
				consider(g.first);
			for (std::size_t k = 0; k < count; ++k)
				consider(keys[k].name);
			auto where = origins.find(key);
			error += (i ? "\n" : "") + (where != origins.end() ? where->second : sectionOrigin(section)) + ": " +
			         section + "." + problems[i];
		}
		return false;
	}
	out = Switchboard::Config(std::move(values));
	return true;
}


std::vector<std::string> HostConfig::pluginsWithoutLibrary(const std::vector<std::string>& available) const
{
	std::vector<std::string> missing;
	for (const auto& p : _plugins)
	{
		if (std::find(available.begin(), available.end(), p.name) == available.end())
			missing.push_back(p.name);
	}
	return missing;
}


std::string HostConfig::unknownPluginError(const std::string& name, const std::vector<std::string>& available) const
{
	std::string section = PLUGIN_PREFIX + name;
	return sectionOrigin(section) + ": " + section + ": no plugin library named " + quote(name) +
	       " was found (available: " + (available.empty() ? std::string("none") : join(available)) + ")";
}


std::string HostConfig::renderKey(const std::string& section, const std::string& name, const std::string& description,
                                  const std::string& defaultText, const std::string& value) const
{
	std::string out = "; " + description + " (default: " + defaultText + ")\n";
	auto it = _entries.find(section + "." + name);
	if (it != _entries.end() && !it->second.fromFile)
		out += "; set by " + it->second.origin + "\n";
	// The name relative to its section, whole: a plugin's key may be dotted (ws.max_bytes).
	out += name + (value.empty() ? " =\n" : " = " + value + "\n");
	return out;
}


std::vector<std::string> HostConfig::changedKeys(const HostConfig& other) const
{
	std::vector<std::string> changed;
	auto mine = _entries.begin();
	auto theirs = other._entries.begin();
	while (mine != _entries.end() || theirs != other._entries.end())
	{
		if (theirs == other._entries.end() || (mine != _entries.end() && mine->first < theirs->first))
			changed.push_back((mine++)->first);
		else if (mine == _entries.end() || theirs->first < mine->first)
			changed.push_back((theirs++)->first);
		else
		{
			if (mine->second.value != theirs->second.value)
				changed.push_back(mine->first);
			++mine;
			++theirs;
		}
	}
	return changed;
}


std::string HostConfig::render(const std::map<std::string, PluginSchema>& plugins) const
{
	std::ostringstream out;
	out << "; Switchboard effective configuration (switchboard --print-config).\n"
	    << "; Loadable as is: switchboard --config <this file>.\n";
	if (!_path.empty())
		out << "; Read from " << _path << ", then the environment and --set overrides.\n";

	for (const FixedSection& section : FIXED_SECTIONS)
	{
		out << "\n; " << section.description << "\n[" << section.name << "]\n";
		for (std::size_t i = 0; i < section.count; ++i)
		{
			const ConfigKey& key = section.keys[i].key;
			std::string full = std::string(section.name) + "." + key.name;
			std::string description = key.description;
			if (section.keys[i].allowed)
				description += "; " + ConfigRules::expectation(key, section.keys[i].allowed);
			out << "\n"
			    << renderKey(section.name, key.name, description, ConfigRules::defaultText(key),
			                 effective(full, key.defaultValue));
		}
	}

	for (const ListenerSpec& l : _settings.listeners)
	{
		std::string section = LISTENER_PREFIX + l.name;
		out << "\n; Listener " << l.name << ": a TCP port serving HTTP and WebSocket for the plugins mounted on it.\n["
		    << section << "]\n";
		for (const ListenerKey& row : LISTENER_KEYS)
		{
			std::string full = section + "." + row.key.name;
			out << "\n"
			    << renderKey(section, row.key.name, row.key.description, ConfigRules::defaultText(row.key),
			                 effective(full, row.key.defaultValue));
		}
	}

	if (!_aliases.empty())
	{
		out << "\n; Other programs' environment variables that override a key when set.\n[" << ENVIRONMENT_SECTION
		    << "]\n";
		for (const Alias& alias : _aliases)
			out << alias.key << " = " << alias.variable << "\n";
	}

	for (const PluginSection& p : _plugins)
	{
		std::string section = PLUGIN_PREFIX + p.name;
		out << "\n; Plugin " << p.name << ".\n[" << section << "]\n";
		for (const PluginHostKey& row : PLUGIN_HOST_KEYS)
		{
			// The listener is written resolved, so the file stays valid if listeners are added.
			std::string full = section + "." + row.key.name;
			std::string value =
			    std::string(row.key.name) == "listener" ? p.listener : effective(full, row.key.defaultValue);
			out << "\n"
			    << renderKey(section, row.key.name, row.key.description, ConfigRules::defaultText(row.key), value);
		}

		auto schema = plugins.find(p.name);
		std::set<std::string> written;
		for (const PluginHostKey& row : PLUGIN_HOST_KEYS)
			written.insert(row.key.name);
		if (schema != plugins.end() && schema->second.keys)
		{
			for (std::size_t i = 0; i < schema->second.count; ++i)
			{
				const ConfigKey& key = schema->second.keys[i];
				if (!key.name || written.count(key.name))
					continue;
				written.insert(key.name);
				std::string full = section + "." + key.name;
				std::string description = key.description ? key.description : "";
				auto it = _entries.find(full);
				if (it == _entries.end() && !key.defaultValue)
					out << "\n; " << description << " (required)\n; " << key.name << " = (not set)\n";
				else
					out << "\n"
					    << renderKey(section, key.name, description, ConfigRules::defaultText(key),
					                 it != _entries.end() ? it->second.value : std::string(key.defaultValue));
			}
		}
		bool noted = false;
		for (const auto& e : _entries)
		{
			std::string sec, name;
			splitKey(e.first, sec, name);
			if (sec != section || written.count(name))
				continue;
			if (!noted)
			{
				out << "\n; Keys below are not validated: "
				    << (schema == plugins.end() ? "no plugin library provides plugin " + p.name
				                                : "plugin " + p.name + " does not declare them")
				    << ".\n";
				noted = true;
			}
			if (!e.second.fromFile)
				out << "; set by " << e.second.origin << "\n";
			out << name << (e.second.value.empty() ? " =" : " = " + e.second.value) << "\n";
		}
	}
	return out.str();
}


int resolveEventLoops(int configured, unsigned cores)
{
	if (configured > 0)
		return configured;
	return cores > 2 ? static_cast<int>(cores - 1) : 1;
}


} // namespace Core
} // namespace Switchboard
