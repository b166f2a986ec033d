//
// TogetherSettings.cpp
//


#include "TogetherSettings.h"
#include "Tokens.h"
#include <sodium.h>


namespace Switchboard {
namespace Together {


namespace {


const ConfigKey KEYS[] = {
    {"jwt_secret", ConfigType::STRING, "",
     "HS256 signing secret, at least 32 bytes; empty: 32 random bytes generated on first start and kept in the "
     "plugin's database",
     0, 0},
    {"access_token_ttl", ConfigType::INTEGER, "900", "Seconds an access token is valid", 1, 31536000},
    {"refresh_token_ttl", ConfigType::INTEGER, "604800", "Seconds a refresh token is valid", 1, 315360000},
    {"jwt_leeway", ConfigType::INTEGER, "60", "Seconds of clock leeway when checking exp", 0, 3600},
    {"max_refresh_families", ConfigType::INTEGER, "10", "Login sessions (refresh-token families) kept per user", 1,
     1000},
    {"password.opslimit", ConfigType::INTEGER, "2", "Argon2id operations limit (libsodium OPSLIMIT_INTERACTIVE = 2)", 1,
     100},
    {"password.memlimit", ConfigType::INTEGER, "67108864",
     "Argon2id memory in bytes (libsodium MEMLIMIT_INTERACTIVE = 67108864)", 8192, 4294967296LL},
    {"auth_rate_limit.per_second", ConfigType::DOUBLE, "10", "Requests per second per client IP on /auth/*; 0 = off", 0,
     0},
    {"auth_rate_limit.burst", ConfigType::DOUBLE, "30", "Burst of the /auth/* rate limit", 0, 0},
    {"cors_origins", ConfigType::STRING_LIST, "*",
     "Origins answered with Access-Control-Allow-Origin: * for any, or a list echoed back", 0, 0},
    {"web_root", ConfigType::STRING, "",
     "Directory of a built web client served at / (index.html for unknown paths); empty = none", 0, 0},
    {"ws.allowed_origins", ConfigType::STRING_LIST, "",
     "Origins allowed to open the gateway (403 otherwise); empty allows any; no Origin always passes", 0, 0},
    {"ws.connect_rate.per_second", ConfigType::DOUBLE, "20", "Gateway upgrades per second per client IP; 0 = off", 0,
     0},
    {"ws.connect_rate.burst", ConfigType::DOUBLE, "50", "Burst of the gateway upgrade rate", 0, 0},
    {"ws.max_connections", ConfigType::INTEGER, "10000", "Gateway sessions in all; beyond, close 1013 Server busy", 1,
     10000000},
    {"ws.max_sessions_per_user", ConfigType::INTEGER, "10",
     "Gateway sessions per user; a new one beyond closes the oldest (1000)", 1, 100000},
    {"ws.heartbeat_interval", ConfigType::INTEGER, "30000", "Milliseconds between client HEARTBEATs, sent in READY",
     1000, 3600000},
    {"ws.heartbeat_timeout", ConfigType::INTEGER, "90", "Seconds without any inbound frame before close 4009", 1,
     86400},
    {"ws.ping_interval", ConfigType::INTEGER, "0", "Seconds between server WebSocket pings; 0 = none", 0, 86400},
    {"ws.max_frame_bytes", ConfigType::INTEGER, "65536", "Largest inbound message in bytes (close 1009)", 256,
     67108864},
    {"ws.rate.per_second", ConfigType::DOUBLE, "20", "Inbound frames per second per session (token bucket)", 0, 0},
    {"ws.rate.burst", ConfigType::DOUBLE, "60", "Burst of the inbound frame rate", 0, 0},
    {"ws.send_queue.max_frames", ConfigType::INTEGER, "1024",
     "Outbound messages queued per session before it is closed (1013)", 1, 100000000},
    {"ws.send_queue.max_bytes", ConfigType::INTEGER, "4194304",
     "Outbound bytes queued per session before it is closed (1013)", 4096, 1073741824},
    {"ws.write_timeout", ConfigType::INTEGER, "10", "Seconds a session may take none of its queued output", 1, 3600},
    {"ws.close_timeout", ConfigType::INTEGER, "5", "Seconds to wait for the client's Close", 1, 60},
    {"ws.shutdown_grace", ConfigType::INTEGER, "5",
     "Seconds a session has at shutdown to answer its 1001 before TCP is dropped (within [host] "
     "shutdown_deadline_ms)",
     1, 60},
    {"ws.close_on_token_expiry", ConfigType::BOOLEAN, "false", "Close a session with 4001 when its token expires", 0,
     0},
};


} // namespace


const ConfigKey* TogetherSettings::keys()
{
	return KEYS;
}


std::uint32_t TogetherSettings::keyCount()
{
	return static_cast<std::uint32_t>(sizeof(KEYS) / sizeof(KEYS[0]));
}


std::string TogetherSettings::load(const Config& config)
{
	jwtSecret = config.getString("jwt_secret");
	if (!jwtSecret.empty() && jwtSecret.size() < MIN_SECRET_BYTES)
		return "jwt_secret must be at least 32 bytes (or empty, to generate one)";
	tokens.accessTtlSeconds = config.getInt("access_token_ttl");
	tokens.refreshTtlSeconds = config.getInt("refresh_token_ttl");
	tokens.leewaySeconds = config.getInt("jwt_leeway");
	tokens.maxFamilies = config.getInt("max_refresh_families");
	passwordOpslimit = static_cast<unsigned long long>(config.getInt("password.opslimit"));
	passwordMemlimit = static_cast<std::size_t>(config.getInt("password.memlimit"));
	if (passwordOpslimit < crypto_pwhash_OPSLIMIT_MIN || passwordMemlimit < crypto_pwhash_MEMLIMIT_MIN)
		return "password.opslimit / password.memlimit are below libsodium's minimum";
	authRatePerSecond = config.getDouble("auth_rate_limit.per_second");
	authRateBurst = config.getDouble("auth_rate_limit.burst");
	wsConnectRatePerSecond = config.getDouble("ws.connect_rate.per_second");
	wsConnectRateBurst = config.getDouble("ws.connect_rate.burst");
	wsRatePerSecond = config.getDouble("ws.rate.per_second");
	wsRateBurst = config.getDouble("ws.rate.burst");
	// The host checks integer ranges only; this also refuses nan and inf.
	for (double rate :
	     {authRatePerSecond, authRateBurst, wsConnectRatePerSecond, wsConnectRateBurst, wsRatePerSecond, wsRateBurst})
		if (!(rate >= 0 && rate <= 1e9))
			return "rates and bursts must be numbers from 0 to 1e9";
	if (authRatePerSecond > 0 && authRateBurst < 1)
		return "auth_rate_limit.burst must be at least 1 when the limit is on";
	if (wsConnectRatePerSecond > 0 && wsConnectRateBurst < 1)
		return "ws.connect_rate.burst must be at least 1 when the limit is on";
	if (wsRatePerSecond > 0 && wsRateBurst < 1)
		return "ws.rate.burst must be at least 1 when the limit is on";
	corsOrigins = config.getList("cors_origins");
	if (corsOrigins.empty())
		return "cors_origins must be * or a list of origins";
	webRoot = config.getString("web_root");
	wsAllowedOrigins = config.getList("ws.allowed_origins");
	wsMaxConnections = config.getInt("ws.max_connections");
	wsMaxSessionsPerUser = config.getInt("ws.max_sessions_per_user");
	wsHeartbeatIntervalMs = config.getInt("ws.heartbeat_interval");
	wsHeartbeatTimeoutS = config.getInt("ws.heartbeat_timeout");
	wsPingIntervalS = config.getInt("ws.ping_interval");
	wsMaxFrameBytes = config.getInt("ws.max_frame_bytes");
	wsSendQueueMaxFrames = config.getInt("ws.send_queue.max_frames");
	wsSendQueueMaxBytes = config.getInt("ws.send_queue.max_bytes");
	wsWriteTimeoutS = config.getInt("ws.write_timeout");
	wsCloseTimeoutS = config.getInt("ws.close_timeout");
	wsShutdownGraceS = config.getInt("ws.shutdown_grace");
	wsCloseOnTokenExpiry = config.getBool("ws.close_on_token_expiry");
	return {};
}


} // namespace Together
} // namespace Switchboard
