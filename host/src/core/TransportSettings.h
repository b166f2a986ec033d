//
// TransportSettings.h
//
// The limits of the WebSocket transport, from the [websocket] and [host] sections.
//


#ifndef Switchboard_Core_TransportSettings_INCLUDED
#define Switchboard_Core_TransportSettings_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace Core {


struct TransportSettings
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
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_TransportSettings_INCLUDED
