//
// AbuseLimits.cpp
//


#include "http/AbuseLimits.h"
#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>


namespace Switchboard {
namespace Core {


namespace {
constexpr int EXPIRY_CHECKS_PER_ADMISSION = 4; // amortised: idle entries are looked at as clients arrive
}


ClientKey ClientKey::of(const sockaddr* address, int ipv6PrefixBits)
{
	ClientKey key;
	if (address && address->sa_family == AF_INET)
	{
		const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
		std::memcpy(key.bytes.data(), &v4->sin_addr, 4);
		return key;
	}
	if (address && address->sa_family == AF_INET6)
	{
		const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
		{
			// A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: count them as IPv4.
			std::memcpy(key.bytes.data(), reinterpret_cast<const unsigned char*>(&v6->sin6_addr) + 12, 4);
			return key;
		}
		int prefix = std::clamp(ipv6PrefixBits, 0, 128);
		std::memcpy(key.bytes.data(), &v6->sin6_addr, 16);
		for (int bit = prefix; bit < 128; ++bit)
			key.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
		key.ipv6 = true;
		key.prefixBits = prefix;
		return key;
	}
	key.prefixBits = 0; // unknown family: all such clients share one key
	return key;
}


std::string ClientKey::toString() const
{
	char text[INET6_ADDRSTRLEN] = {};
	if (!ipv6)
	{
		if (prefixBits == 0)
			return "unknown";
		::inet_ntop(AF_INET, bytes.data(), text, sizeof(text));
		return text;
	}
	::inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
	return std::string(text) + "/" + std::to_string(prefixBits);
}


std::size_t ClientKeyHash::operator()(const ClientKey& key) const noexcept
{
	std::uint64_t hash = 1469598103934665603ull; // FNV-1a
	for (unsigned char byte : key.bytes)
		hash = (hash ^ byte) * 1099511628211ull;
	hash = (hash ^ static_cast<std::uint64_t>(key.prefixBits)) * 1099511628211ull;
	return static_cast<std::size_t>(hash ^ (key.ipv6 ? 1u : 0u));
}


struct AbuseLimits::Entry
{
	std::size_t connections = 0;
	double tokens = 0;
	std::int64_t refilledAtMs = 0;
	bool idle = false; ///< no connection: on the idle list, may be forgotten
	std::list<ClientKey>::iterator idlePosition;
};


struct AbuseLimits::Table
{
	std::mutex mutex;
	std::unordered_map<ClientKey, Entry, ClientKeyHash> entries; // node-based: Entry* stays valid
	std::list<ClientKey> idle;                                   // longest idle first
	std::size_t maxConnections = 0;
	double tokensPerMs = 0;
	double burst = 0;

	void refill(Entry& entry, std::int64_t nowMs) const
	{
		if (nowMs <= entry.refilledAtMs)
			return;
		entry.tokens = std::min(burst, entry.tokens + static_cast<double>(nowMs - entry.refilledAtMs) * tokensPerMs);
		entry.refilledAtMs = nowMs;
	}

	void forget(std::list<ClientKey>::iterator at)
	{
		entries.erase(*at);
		idle.erase(at);
	}

	void expireIdle(std::int64_t nowMs)
	{
		// An idle client whose bucket is full again is exactly a client never seen: drop it.
		for (int i = 0; i < EXPIRY_CHECKS_PER_ADMISSION && !idle.empty(); ++i)
		{
			Entry& oldest = entries.find(idle.front())->second;
			refill(oldest, nowMs);
			if (oldest.tokens < burst)
				break;
			forget(idle.begin());
		}
	}

	void release(Entry* entry, const ClientKey& key)
	{
		std::lock_guard<std::mutex> lock(mutex);
		if (--entry->connections > 0)
			return;
		if (tokensPerMs <= 0)
		{
			entries.erase(key); // no bucket: nothing worth remembering
			return;
		}
		entry->idle = true;
		entry->idlePosition = idle.insert(idle.end(), key);
		while (idle.size() > MAX_IDLE_CLIENTS)
			forget(idle.begin());
	}
};


AbuseLimits::ClientSlot::~ClientSlot()
{
	_table->release(_entry, _key);
}


AbuseLimits::AbuseLimits(const HttpSettings& settings):
    _maxPending(settings.maxPendingHandshakes)
{
	if (settings.maxConnectionsPerClient == 0 && settings.upgradesPerSecond <= 0)
		return;
	_table = std::make_shared<Table>();
	_table->maxConnections = settings.maxConnectionsPerClient;
	_table->tokensPerMs = settings.upgradesPerSecond > 0 ? settings.upgradesPerSecond / 1000.0 : 0.0;
	_table->burst = static_cast<double>(std::max(1, settings.upgradeBurst));
}


void AbuseLimits::update(const HttpSettings& settings)
{
	_maxPending.store(settings.maxPendingHandshakes, std::memory_order_relaxed);
	if (!_table)
		return;
	std::lock_guard<std::mutex> lock(_table->mutex);
	_table->maxConnections = settings.maxConnectionsPerClient;
	_table->tokensPerMs = settings.upgradesPerSecond > 0 ? settings.upgradesPerSecond / 1000.0 : 0.0;
	_table->burst = static_cast<double>(std::max(1, settings.upgradeBurst));
}


AbuseLimits::Admission AbuseLimits::admit(const ClientKey& key, std::int64_t nowMs, std::shared_ptr<ClientSlot>& slot)
{
	const std::size_t maxPending = _maxPending.load(std::memory_order_relaxed);
	if (maxPending > 0 && _pending.load(std::memory_order_relaxed) >= maxPending)
		return Admission::PENDING_LIMIT;
	if (_table)
	{
		std::lock_guard<std::mutex> lock(_table->mutex);
		_table->expireIdle(nowMs);
		auto [it, inserted] = _table->entries.try_emplace(key);
		Entry& entry = it->second;
		if (inserted)
		{
			entry.tokens = _table->burst;
			entry.refilledAtMs = nowMs;
		}
		if (_table->maxConnections > 0 && entry.connections >= _table->maxConnections)
			return Admission::CLIENT_LIMIT;
		if (entry.idle)
		{
			_table->idle.erase(entry.idlePosition);
			entry.idle = false;
		}
		++entry.connections;
		slot = std::make_shared<ClientSlot>(_table, &entry, key);
	}
	_pending.fetch_add(1, std::memory_order_relaxed);
	return Admission::ADMITTED;
}


void AbuseLimits::handshakeDone()
{
	_pending.fetch_sub(1, std::memory_order_relaxed);
}


bool AbuseLimits::takeUpgrade(ClientSlot* slot, std::int64_t nowMs)
{
	if (!slot || !_table || _table->tokensPerMs <= 0)
		return true;
	std::lock_guard<std::mutex> lock(_table->mutex);
	Entry& entry = *slot->_entry;
	_table->refill(entry, nowMs);
	if (entry.tokens < 1.0)
		return false;
	entry.tokens -= 1.0;
	return true;
}


std::size_t AbuseLimits::clientsTracked() const
{
	if (!_table)
		return 0;
	std::lock_guard<std::mutex> lock(_table->mutex);
	return _table->entries.size();
}


std::size_t AbuseLimits::connectionsOf(const ClientKey& key) const
{
	if (!_table)
		return 0;
	std::lock_guard<std::mutex> lock(_table->mutex);
	auto it = _table->entries.find(key);
	return it == _table->entries.end() ? 0 : it->second.connections;
}


} // namespace Core
} // namespace Switchboard
