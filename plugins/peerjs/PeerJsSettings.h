//
// PeerJsSettings.h
//
// The plugin's configuration keys (docs/protocols/peerjs.md §2) and their typed values.
//


#ifndef Switchboard_PeerJs_PeerJsSettings_INCLUDED
#define Switchboard_PeerJs_PeerJsSettings_INCLUDED


#include "switchboard/Config.h"
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace PeerJs {


struct PeerJsSettings
{
	std::string path = "/"; ///< normalised: one leading '/', no trailing '/' except the root
	std::string key = "peerjs";
	std::int64_t expireTimeoutMs = 5000;
	std::int64_t aliveTimeoutMs = 90000;
	std::int64_t concurrentLimit = 50000;
	bool allowDiscovery = false;
	std::vector<std::string> corsOrigins;
	std::vector<std::string> wsOriginAllowlist;
	std::int64_t maxMessageSize = 65536;
	std::int64_t maxQueuePerDestination = 128;
	std::int64_t maxQueuePerSource = 64;
	std::int64_t maxQueuedBytesTotal = 64 * 1024 * 1024;
	std::int64_t maxSendBuffer = 16 * 1024 * 1024;
	bool replyErrorOnInvalidMessage = false;
	std::int64_t wsPingIntervalMs = 0;
	std::string tokenValidator; ///< "" or "hmac-sha256:<secret>"

	static const ConfigKey* keys();
	static std::uint32_t keyCount();

	static PeerJsSettings fromConfig(const Config& config);

	static std::string normalisePath(const std::string& path);
	///< "myapp/" → "/myapp", "" → "/", "//a//" → "/a"

	std::string mount(const std::string& suffix) const;
	///< path + suffix without a doubled slash: mount("/peerjs") is "/peerjs" for path "/".
};


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_PeerJsSettings_INCLUDED
