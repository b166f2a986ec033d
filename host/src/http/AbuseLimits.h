//
// AbuseLimits.h
//
// The HTTP front's limits on what one client address, and all clients together, may hold or
// start: connections per client (HTTP and upgraded WebSocket together), WebSocket upgrades per
// client per second (a token bucket), and connections whose first request head is not complete.
//


#ifndef Switchboard_Core_AbuseLimits_INCLUDED
#define Switchboard_Core_AbuseLimits_INCLUDED


#include "config/Settings.h"
#include "net/SocketIo.h"
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


struct ClientKey
/// Who a connection counts against: an IPv4 address, or an IPv6 address cut to its prefix (one
/// subscriber usually gets a whole /64, so counting single IPv6 addresses would limit nobody).
/// An IPv4-mapped IPv6 address (a dual-stack listener) is the IPv4 address.
{
	std::array<unsigned char, 16> bytes{}; ///< the address, bits past the prefix zeroed
	bool ipv6 = false;
	int prefixBits = 32; ///< significant bits of bytes (32 for IPv4)

	static ClientKey of(const sockaddr* address, int ipv6PrefixBits);
	/// address is AF_INET or AF_INET6; any other family gives one shared key.
	std::string toString() const;
	/// "192.0.2.7" or "2001:db8:1:2::/64" style, for logs and tests.
	bool operator==(const ClientKey& other) const { return ipv6 == other.ipv6 && bytes == other.bytes; }
	bool operator!=(const ClientKey& other) const { return !(*this == other); }
};


struct ClientKeyHash
{
	std::size_t operator()(const ClientKey& key) const noexcept;
};


class AbuseLimits
/// Thread-safe: admit() runs on loop 0 (the listeners), the rest on any loop. Times are the
/// loops' monotonic milliseconds. The per-client
/// table is behind one mutex, taken once per accepted connection, per upgrade and per close;
/// established WebSockets never touch it otherwise. Entries of clients with no connection stay
/// until their bucket has refilled (they hold nothing else), at most MAX_IDLE_CLIENTS of them:
/// beyond that the longest idle is forgotten, which only forgives a partly drained bucket.
{
	struct Table;
	struct Entry;

public:
	static constexpr std::size_t MAX_IDLE_CLIENTS = 65536;

	enum class Admission
	{
		ADMITTED,
		CLIENT_LIMIT, ///< the client holds max_connections_per_client already: 429
		PENDING_LIMIT ///< max_pending_handshakes connections are still sending their first head: 503
	};

	class ClientSlot
	/// One connection's place in its client's count; freed when the last owner drops it (the
	/// HttpConnection, then the WsConnection it became).
	{
	public:
		ClientSlot(std::shared_ptr<Table> table, Entry* entry, const ClientKey& key):
		    _table(std::move(table)),
		    _entry(entry),
		    _key(key)
		{
		}
		~ClientSlot();
		ClientSlot(const ClientSlot&) = delete;
		ClientSlot& operator=(const ClientSlot&) = delete;

	private:
		friend class AbuseLimits;
		std::shared_ptr<Table> _table; // keeps the table alive after the front (WebSockets close last)
		Entry* _entry;                 // stable: an entry with a connection is never erased
		ClientKey _key;
	};

	explicit AbuseLimits(const HttpSettings& settings);

	void update(const HttpSettings& settings);
	/// A reload's new limits, for what comes next (buckets keep their level, capped at the new
	/// burst). The table itself is made at start only: see HttpFront::updateSettings. Main thread.

	bool tracksClients() const { return _table != nullptr; }
	/// False when both per-client limits are off: no table, no slot, nothing to lock.

	Admission admit(const ClientKey& key, std::int64_t nowMs, std::shared_ptr<ClientSlot>& slot);
	/// A newly accepted connection. ADMITTED: it counts as pending until handshakeDone() and
	/// against its client while slot lives (slot stays empty when clients are not tracked).
	/// Otherwise nothing is counted.
	void handshakeDone();
	/// The connection's first request head is complete, or it closed before that.
	bool takeUpgrade(ClientSlot* slot, std::int64_t nowMs);
	/// One token of the client's upgrade bucket; false (nothing taken) when it is empty.

	std::size_t pending() const { return _pending.load(std::memory_order_relaxed); }
	std::size_t maxPending() const { return _maxPending.load(std::memory_order_relaxed); } ///< 0 = no limit
	std::size_t clientsTracked() const;
	std::size_t connectionsOf(const ClientKey& key) const;
	/// For tests and diagnostics.

private:
	std::shared_ptr<Table> _table;
	std::atomic<std::size_t> _maxPending;
	std::atomic<std::size_t> _pending{0};
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_AbuseLimits_INCLUDED
