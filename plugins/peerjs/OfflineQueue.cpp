//
// OfflineQueue.cpp
//


#include "OfflineQueue.h"
#include <algorithm>


namespace Switchboard {
namespace PeerJs {


OfflineQueue::OfflineQueue(const Limits& limits):
    _limits(limits)
{
}


OfflineQueue::Admission OfflineQueue::enqueue(const std::string& source, const std::string& destination,
                                              std::string frame, std::int64_t nowMs)
{
	PairKey key(source, destination);
	auto suppressed = _suppressedUntil.find(key);
	if (suppressed != _suppressedUntil.end())
	{
		if (nowMs < suppressed->second)
			return Admission::SUPPRESSED;
		_suppressedUntil.erase(suppressed);
	}
	auto dest = _byDestination.find(destination);
	std::size_t destinationCount = (dest == _byDestination.end() ? 0 : dest->second.size()) + 1;
	auto src = _perSource.find(source);
	std::size_t sourceCount = (src == _perSource.end() ? 0 : src->second) + 1;
	if (destinationCount > _limits.perDestination || sourceCount > _limits.perSource ||
	    _bytes + frame.size() > _limits.totalBytes)
	{
		discardPair(key);
		_suppressedUntil[key] = nowMs + _limits.expireMs;
		return Admission::REJECTED;
	}
	_bytes += frame.size();
	++_messages;
	++_perSource[source];
	Pair& pair = _pairs[key];
	++pair.count;
	pair.newestMs = nowMs;
	_byDestination[destination].push_back(Item{source, std::move(frame)});
	return Admission::QUEUED;
}


void OfflineQueue::discardPair(const PairKey& key)
{
	auto pair = _pairs.find(key);
	if (pair == _pairs.end())
		return;
	auto dest = _byDestination.find(key.second);
	if (dest != _byDestination.end())
	{
		auto& items = dest->second;
		auto keep = std::remove_if(items.begin(), items.end(), [&](const Item& item) {
			if (item.source != key.first)
				return false;
			_bytes -= item.frame.size();
			--_messages;
			return true;
		});
		items.erase(keep, items.end());
		if (items.empty())
			_byDestination.erase(dest);
	}
	auto src = _perSource.find(key.first);
	if (src != _perSource.end())
	{
		src->second -= std::min(src->second, pair->second.count);
		if (src->second == 0)
			_perSource.erase(src);
	}
	_pairs.erase(pair);
}


std::vector<std::string> OfflineQueue::take(const std::string& destination)
{
	std::vector<std::string> frames;
	for (auto it = _suppressedUntil.begin(); it != _suppressedUntil.end();)
		it = it->first.second == destination ? _suppressedUntil.erase(it) : std::next(it);
	auto dest = _byDestination.find(destination);
	if (dest == _byDestination.end())
		return frames;
	frames.reserve(dest->second.size());
	for (Item& item : dest->second)
	{
		_bytes -= item.frame.size();
		--_messages;
		auto src = _perSource.find(item.source);
		if (src != _perSource.end() && --src->second == 0)
			_perSource.erase(src);
		_pairs.erase(PairKey(item.source, destination));
		frames.push_back(std::move(item.frame));
	}
	_byDestination.erase(dest);
	return frames;
}


void OfflineQueue::expire(std::int64_t nowMs, std::vector<Expired>& out)
{
	std::vector<PairKey> due;
	for (const auto& entry : _pairs)
	{
		if (nowMs - entry.second.newestMs >= _limits.expireMs)
			due.push_back(entry.first);
	}
	for (const PairKey& key : due)
	{
		discardPair(key);
		out.push_back(Expired{key.first, key.second});
	}
	for (auto it = _suppressedUntil.begin(); it != _suppressedUntil.end();)
		it = nowMs >= it->second ? _suppressedUntil.erase(it) : std::next(it);
}


void OfflineQueue::clear()
{
	_byDestination.clear();
	_pairs.clear();
	_perSource.clear();
	_suppressedUntil.clear();
	_messages = 0;
	_bytes = 0;
}


} // namespace PeerJs
} // namespace Switchboard
