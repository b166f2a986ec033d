//
// PeerJsSettings.cpp
//


#include "PeerJsSettings.h"


namespace Switchboard {
namespace PeerJs {


namespace {

// Defaults fix the reference server's troublesome ones (docs/protocols/peerjs.md §15 #9, #10).
const ConfigKey KEYS[] = {
    {"path", ConfigType::STRING, "/", "Mount path below the host prefix; clients use host prefix + path", 0, 0},
    {"key", ConfigType::STRING, "peerjs", "The only API key accepted on the WebSocket", 0, 0},
    {"expire_timeout", ConfigType::INTEGER, "5000", "Milliseconds a message for an offline peer is kept at least", 1,
     86400000},
    {"alive_timeout", ConfigType::INTEGER, "90000", "Milliseconds without any inbound frame before a peer is reaped",
     1000, 86400000},
    {"concurrent_limit", ConfigType::INTEGER, "50000", "Most registered peers", 1, 10000000},
    {"allow_discovery", ConfigType::BOOLEAN, "false", "Serve GET <path>/<key>/peers", 0, 0},
    {"cors_origins", ConfigType::STRING_LIST, "",
     "Origins allowed by CORS on the HTTP routes; empty reflects any Origin", 0, 0},
    {"ws_origin_allowlist", ConfigType::STRING_LIST, "",
     "Origins allowed to open the WebSocket; empty allows any (requests without Origin always pass)", 0, 0},
    {"max_message_size", ConfigType::INTEGER, "65536", "Largest inbound message in bytes (close 1009 beyond)", 256,
     67108864},
    {"max_queue_per_destination", ConfigType::INTEGER, "128", "Most messages queued for one offline id", 1, 1000000},
    {"max_queue_per_source", ConfigType::INTEGER, "64", "Most messages one id may have queued for offline peers", 1,
     1000000},
    {"max_queued_bytes_total", ConfigType::INTEGER, "67108864", "Most bytes held in all offline queues", 1024,
     17179869184LL},
    {"max_send_buffer", ConfigType::INTEGER, "16777216",
     "Unsent bytes per socket before it counts as a slow consumer (close 1008, LEAVE to the sender)", 65536,
     1073741824},
    {"reply_error_on_invalid_message", ConfigType::BOOLEAN, "false",
     "Answer ignored malformed frames with ERROR \"Invalid message\" (browsers treat ERROR as fatal)", 0, 0},
    {"ws_ping_interval", ConfigType::INTEGER, "0", "Milliseconds between WebSocket pings from the server; 0 = off", 0,
     86400000},
    {"token_validator", ConfigType::STRING, "",
     "Empty: any token; hmac-sha256:<secret>: the token must be hex HMAC-SHA256(secret, id)", 0, 0},
};

} // namespace


const ConfigKey* PeerJsSettings::keys()
{
	return KEYS;
}


std::uint32_t PeerJsSettings::keyCount()
{
	return static_cast<std::uint32_t>(sizeof(KEYS) / sizeof(KEYS[0]));
}


std::string PeerJsSettings::normalisePath(const std::string& path)
{
	std::string out = "/";
	for (char c : path)
	{
		if (c == '/' && out.back() == '/')
			continue;
		out += c;
	}
	if (out.size() > 1 && out.back() == '/')
		out.pop_back();
	return out;
}


std::string PeerJsSettings::mount(const std::string& suffix) const
{
	return path == "/" ? suffix : path + suffix;
}


PeerJsSettings PeerJsSettings::fromConfig(const Config& config)
{
	PeerJsSettings s;
	s.path = normalisePath(config.getString("path"));
	s.key = config.getString("key");
	s.expireTimeoutMs = config.getInt("expire_timeout");
	s.aliveTimeoutMs = config.getInt("alive_timeout");
	s.concurrentLimit = config.getInt("concurrent_limit");
	s.allowDiscovery = config.getBool("allow_discovery");
	s.corsOrigins = config.getList("cors_origins");
	s.wsOriginAllowlist = config.getList("ws_origin_allowlist");
	s.maxMessageSize = config.getInt("max_message_size");
	s.maxQueuePerDestination = config.getInt("max_queue_per_destination");
	s.maxQueuePerSource = config.getInt("max_queue_per_source");
	s.maxQueuedBytesTotal = config.getInt("max_queued_bytes_total");
	s.maxSendBuffer = config.getInt("max_send_buffer");
	s.replyErrorOnInvalidMessage = config.getBool("reply_error_on_invalid_message");
	s.wsPingIntervalMs = config.getInt("ws_ping_interval");
	s.tokenValidator = config.getString("token_validator");
	return s;
}


} // namespace PeerJs
} // namespace Switchboard
