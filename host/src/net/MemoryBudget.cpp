//
// MemoryBudget.cpp
//


#include "net/MemoryBudget.h"
#include <algorithm>


namespace Switchboard {
namespace Core {


MemoryBudget::MemoryBudget(std::size_t limit, ShedCallback shed):
    _limit(limit),
    _shed(std::move(shed))
{
}


void MemoryBudget::updateSlow(Account& account, std::size_t held, std::int64_t nowMs, std::size_t offenderThreshold)
{
	if (account.listed)
	{
		account.held.store(held, std::memory_order_relaxed);
		if (held <= offenderThreshold / 2)
			unlist(account);
	}
	else if (held > offenderThreshold)
	{
		account.held.store(held, std::memory_order_relaxed);
		list(account, nowMs);
	}

	std::size_t before = account.counted;
	std::size_t moved = held > before ? held - before : before - held;
	if (moved == 0 || (held != 0 && moved < GRANULE_BYTES))
		return; // within a granule of what the total already holds for it
	account.counted = held;
	auto delta = static_cast<std::int64_t>(held) - static_cast<std::int64_t>(before);
	std::int64_t total = _total.fetch_add(delta, std::memory_order_relaxed) + delta;
	if (delta > 0 && _limit > 0 && total > static_cast<std::int64_t>(_limit))
		shedOffenders();
}


void MemoryBudget::list(Account& account, std::int64_t nowMs)
{
	std::lock_guard<std::mutex> lock(_mutex);
	account.listed = true;
	account.everListed = true;
	if (account.shed)
		return; // already on its way out
	account.offenderSinceMs = nowMs;
	account.onList = true;
	_offenders.push_back(&account);
}


void MemoryBudget::unlist(Account& account)
{
	std::lock_guard<std::mutex> lock(_mutex);
	account.listed = false;
	if (!account.onList)
		return;
	account.onList = false;
	// Order-preserving erase: the list is short (only holders above their share).
	_offenders.erase(std::find(_offenders.begin(), _offenders.end(), &account));
}


void MemoryBudget::shedOffenders()
{
	std::vector<std::uint64_t> chosen;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		std::int64_t excess = _total.load(std::memory_order_relaxed) - static_cast<std::int64_t>(_pendingRelease) -
		                      static_cast<std::int64_t>(_limit);
		std::size_t taken = 0;
		while (excess > 0 && taken < _offenders.size())
		{
			// Oldest first: the holder that has kept more than its share the longest.
			Account* a = _offenders[taken++];
			std::size_t bytes = a->held.load(std::memory_order_relaxed);
			a->onList = false;
			a->shed = true;
			a->pendingBytes = bytes;
			_pendingRelease += bytes;
			excess -= static_cast<std::int64_t>(bytes);
			chosen.push_back(a->id);
		}
		_offenders.erase(_offenders.begin(), _offenders.begin() + static_cast<std::ptrdiff_t>(taken));
	}
	for (std::uint64_t id : chosen)
		_shed(id);
}


void MemoryBudget::settle(Account& account)
{
	std::lock_guard<std::mutex> lock(_mutex);
	if (!account.shed || account.pendingBytes == 0)
		return;
	_pendingRelease -= std::min(_pendingRelease, account.pendingBytes);
	account.pendingBytes = 0;
}


void MemoryBudget::release(Account& account)
{
	if (account.counted != 0)
	{
		_total.fetch_sub(static_cast<std::int64_t>(account.counted), std::memory_order_relaxed);
		account.counted = 0;
	}
	account.held.store(0, std::memory_order_relaxed);
	if (!account.everListed)
		return; // never listed, so never shed: no need for the mutex
	std::lock_guard<std::mutex> lock(_mutex);
	account.listed = false;
	if (account.onList)
	{
		account.onList = false;
		_offenders.erase(std::find(_offenders.begin(), _offenders.end(), &account));
	}
	if (account.shed && account.pendingBytes > 0)
	{
		_pendingRelease -= std::min(_pendingRelease, account.pendingBytes);
		account.pendingBytes = 0;
	}
}


std::size_t MemoryBudget::offenderCount() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _offenders.size();
}


} // namespace Core
} // namespace Switchboard
