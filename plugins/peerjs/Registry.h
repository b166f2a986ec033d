//
// Registry.h
//
// Registered peers: id → token, current connection, generation and registration order.
//


#ifndef Switchboard_PeerJs_Registry_INCLUDED
#define Switchboard_PeerJs_Registry_INCLUDED


#include "switchboard/WebSocket.h"
#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>


namespace Switchboard {
namespace PeerJs {


struct Registration
{
	std::string token;
	ConnectionId connection = 0; ///< the current socket; ids are never reused, so this also tells generations apart
	std::uint64_t generation = 0;
	std::uint64_t order = 0; ///< registration order for /peers; a reattach keeps it
};


class Registry
/// Not thread-safe: the plugin holds its lock around every call, because registering and
/// flushing the offline queue must be atomic with respect to relays (docs/protocols/peerjs.md §5.3).
{
public:
	Registration* find(const std::string& id);
	const Registration* find(const std::string& id) const;
	/// The const overloads may run concurrently with each other (the plugin's shared lock).

	Registration& add(const std::string& id, const std::string& token, ConnectionId connection);

	ConnectionId reattach(Registration& registration, ConnectionId connection);
	/// Points the registration at a new socket; returns the superseded one.

	bool removeIf(const std::string& id, ConnectionId connection);
	/// Removes id only while connection is still its current socket (a superseded socket's
	/// close never removes the newer registration). Returns whether it removed.

	bool isCurrent(const std::string& id, ConnectionId connection) const;

	std::uint64_t epoch() const { return _epoch.load(std::memory_order_acquire); }
	/// Changes whenever an id gains, changes or loses its connection. The one member that may
	/// be read without the plugin's lock: a relay may reuse a destination it looked up under
	/// the lock for as long as the epoch it saw then is unchanged.

	std::size_t size() const { return _byId.size(); }
	std::vector<std::string> idsInOrder() const;
	void clear()
	{
		_byId.clear();
		changed();
	}

private:
	void changed() { _epoch.fetch_add(1, std::memory_order_release); }

	std::unordered_map<std::string, Registration> _byId;
	std::atomic<std::uint64_t> _epoch{1};
	std::uint64_t _nextOrder = 1;
	std::uint64_t _nextGeneration = 1;
};


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_Registry_INCLUDED
