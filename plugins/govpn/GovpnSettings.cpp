//
// GovpnSettings.cpp
//


#include "GovpnSettings.h"
#include "Codec.h"
#include <cstring>
#include <sodium.h>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif


namespace Switchboard {
namespace Govpn {


namespace {


const ConfigKey KEYS[] = {
    {"ws_path", ConfigType::STRING, "/ws", "WebSocket endpoint path below the mount prefix", 0, 0},
    {"health_path", ConfigType::STRING, "/health", "Health endpoint path (200 OK)", 0, 0},
    {"stats_path", ConfigType::STRING, "/stats", "Statistics endpoint path (JSON)", 0, 0},
    {"allowed_origins", ConfigType::STRING_LIST, "",
     "Origins allowed to open the WebSocket (403 otherwise); empty allows any; no Origin always passes", 0, 0},
    {"trusted_proxies", ConfigType::STRING_LIST, "",
     "Peer IP addresses or CIDR ranges whose X-Real-IP / X-Forwarded-For headers are believed", 0, 0},
    {"max_members_per_room", ConfigType::INTEGER, "50", "Most memberships, and most online members, per room", 1,
     100000},
    {"room_expiry_days", ConfigType::DOUBLE, "30",
     "Days of inactivity after which a room is deleted; fractions allowed, from 0.0001 (8.64 s) to 36500", 0, 0},
    {"cleanup_interval", ConfigType::INTEGER, "3600", "Seconds between expiry sweeps (one also runs at start)", 1,
     31536000},
    {"rate_limit_burst", ConfigType::INTEGER, "3", "Token-bucket capacity per client IP for CreateRoom and JoinRoom", 1,
     1000000},
    {"rate_limit_refill", ConfigType::INTEGER, "20", "Seconds per token added to a client IP's bucket", 1, 86400},
    {"rate_limit_ipv6_prefix", ConfigType::INTEGER, "64", "Prefix length grouping IPv6 clients into one bucket", 1,
     128},
    {"password_max_failures", ConfigType::INTEGER, "5", "Wrong passwords per room within the window before a lockout",
     1, 1000000},
    {"password_failure_window", ConfigType::INTEGER, "900", "Seconds of the sliding wrong-password window", 1,
     31536000},
    {"password_lockout", ConfigType::INTEGER, "900",
     "Seconds of the first lockout; doubles for each further lockout within 24 h", 1, 31536000},
    {"password_lockout_max", ConfigType::INTEGER, "86400", "Cap on a lockout, in seconds", 1, 31536000},
    {"message_rate", ConfigType::INTEGER, "100", "Messages per second per connection (flood guard refill)", 1, 1000000},
    {"message_burst", ConfigType::INTEGER, "1000", "Flood guard bucket capacity per connection", 1, 10000000},
    {"max_message_size", ConfigType::INTEGER, "65536", "Largest inbound WebSocket message in bytes (close 1009)", 256,
     67108864},
    {"ping_interval", ConfigType::INTEGER, "30", "Seconds between WebSocket pings; 0 = none", 0, 86400},
    {"idle_timeout", ConfigType::INTEGER, "90", "Seconds without any inbound frame before a close 1000; 0 = never", 0,
     86400},
    {"strict_auth", ConfigType::BOOLEAN, "false", "Require Ed25519 proof of key possession (AuthChallenge)", 0, 0},
    {"strict_auth_host", ConfigType::STRING, "",
     "Host string signatures must cover; empty: the lowercase Host header of the upgrade", 0, 0},
    {"auth_timeout", ConfigType::INTEGER, "30", "Strict mode: seconds allowed to authenticate (then close 1008)", 1,
     86400},
    {"shutdown_grace", ConfigType::INTEGER, "2", "ServerShutdown's shutdown_in_seconds and the wait before closing", 0,
     30},
    {"shutdown_restart_info", ConfigType::STRING, "Server is being restarted for maintenance.",
     "restart_info of ServerShutdown", 0, 0},
    {"storage_timeout", ConfigType::INTEGER, "5", "Seconds a request waits for storage before failing", 1, 600},
    {"pwhash_opslimit", ConfigType::INTEGER, "2", "Argon2id operations limit (libsodium OPSLIMIT_INTERACTIVE = 2)", 1,
     100},
    {"pwhash_memlimit", ConfigType::INTEGER, "67108864",
     "Argon2id memory in bytes (libsodium MEMLIMIT_INTERACTIVE = 67108864)", 8192, 4294967296LL},
};


bool isPath(const std::string& path)
{
	return !path.empty() && path[0] == '/' && path.find_first_of(" ?#{}*") == std::string::npos;
}


} // namespace


const ConfigKey* GovpnSettings::keys()
{
	return KEYS;
}


std::uint32_t GovpnSettings::keyCount()
{
	return static_cast<std::uint32_t>(sizeof(KEYS) / sizeof(KEYS[0]));
}


std::string normaliseIp(const std::string& text)
{
	unsigned char bytes[16];
	char buffer[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, text.c_str(), bytes) == 1)
		return inet_ntop(AF_INET, bytes, buffer, sizeof(buffer)) ? buffer : "";
	if (inet_pton(AF_INET6, text.c_str(), bytes) != 1)
		return "";
	static const unsigned char MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	if (std::memcmp(bytes, MAPPED, sizeof(MAPPED)) == 0)
		return inet_ntop(AF_INET, bytes + 12, buffer, sizeof(buffer)) ? buffer : "";
	return inet_ntop(AF_INET6, bytes, buffer, sizeof(buffer)) ? buffer : "";
}


std::string GovpnSettings::load(const Config& config)
{
	wsPath = config.getString("ws_path");
	healthPath = config.getString("health_path");
	statsPath = config.getString("stats_path");
	for (const std::string* path : {&wsPath, &healthPath, &statsPath})
		if (!isPath(*path))
			return "paths must start with '/' and hold no spaces, '?', '#', '{', '}' or '*': " + *path;
	allowedOrigins = config.getList("allowed_origins");
	trustedProxies.clear();
	for (const std::string& proxy : config.getList("trusted_proxies"))
	{
		AddressRange range;
		if (!AddressRange::parse(proxy, range))
			return "trusted_proxies: not an IP address or CIDR range (such as 10.0.0.0/8): " + proxy;
		trustedProxies.push_back(range);
	}
	maxMembersPerRoom = config.getInt("max_members_per_room");
	roomExpiryDays = config.getDouble("room_expiry_days");
	// The host checks ranges of integers only; this also refuses nan and inf.
	if (!(roomExpiryDays >= 0.0001 && roomExpiryDays <= 36500))
		return "room_expiry_days must be a number of days from 0.0001 to 36500";
	cleanupIntervalS = config.getInt("cleanup_interval");
	rateLimitBurst = config.getInt("rate_limit_burst");
	rateLimitRefillS = config.getInt("rate_limit_refill");
	rateLimitIpv6Prefix = config.getInt("rate_limit_ipv6_prefix");
	passwordMaxFailures = config.getInt("password_max_failures");
	passwordFailureWindowS = config.getInt("password_failure_window");
	passwordLockoutS = config.getInt("password_lockout");
	passwordLockoutMaxS = config.getInt("password_lockout_max");
	if (passwordLockoutMaxS < passwordLockoutS)
		return "password_lockout_max must not be below password_lockout";
	messageRate = config.getInt("message_rate");
	messageBurst = config.getInt("message_burst");
	maxMessageSize = config.getInt("max_message_size");
	pingIntervalS = config.getInt("ping_interval");
	idleTimeoutS = config.getInt("idle_timeout");
	strictAuth = config.getBool("strict_auth");
	strictAuthHost = config.getString("strict_auth_host");
	authTimeoutS = config.getInt("auth_timeout");
	shutdownGraceS = config.getInt("shutdown_grace");
	shutdownRestartInfo = config.getString("shutdown_restart_info");
	if (!isUtf8(shutdownRestartInfo) || !isUtf8(strictAuthHost))
		return "shutdown_restart_info and strict_auth_host must be UTF-8";
	storageTimeoutS = config.getInt("storage_timeout");
	pwhashOpslimit = config.getInt("pwhash_opslimit");
	pwhashMemlimit = config.getInt("pwhash_memlimit");
	if (static_cast<unsigned long long>(pwhashOpslimit) < crypto_pwhash_OPSLIMIT_MIN ||
	    static_cast<std::size_t>(pwhashMemlimit) < crypto_pwhash_MEMLIMIT_MIN)
		return "pwhash_opslimit / pwhash_memlimit are below libsodium's minimum";
	return {};
}


} // namespace Govpn
} // namespace Switchboard
