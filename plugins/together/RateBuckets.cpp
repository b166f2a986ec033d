//
// RateBuckets.cpp
//


#include "RateBuckets.h"
#include <algorithm>
#include <cmath>
#include <iterator>


namespace Switchboard {
namespace Together {


namespace {
constexpr std::int64_t SWEEP_INTERVAL_MS = 60000;
} // namespace


RateBuckets::RateBuckets(double ratePerSecond, double burst):
    _rate(ratePerSecond),
    _burst(std::max(1.0, burst))
{
}


bool RateBuckets::take(const std::string& key, std::int64_t nowMs, std::int64_t& retryAfterSeconds)
{
	retryAfterSeconds = 0;
	std::lock_guard<std::mutex> lock(_mutex);
	if (_rate <= 0)
		return true;
	if (nowMs - _lastSweepMs >= SWEEP_INTERVAL_MS)
		forgetFull(nowMs);
	auto inserted = _buckets.try_emplace(key, Bucket{_burst, nowMs});
	Bucket& bucket = inserted.first->second;
	bucket.tokens = std::min(_burst, bucket.tokens + static_cast<double>(nowMs - bucket.lastMs) * _rate / 1000.0);
	bucket.lastMs = nowMs;
	if (bucket.tokens >= 1)
	{
		bucket.tokens -= 1;
		return true;
	}
	retryAfterSeconds = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1 - bucket.tokens) / _rate)));
	return false;
}


void RateBuckets::setLimit(double ratePerSecond, double burst, std::int64_t nowMs)
{
	std::lock_guard<std::mutex> lock(_mutex);
	const double newBurst = std::max(1.0, burst);
	if (_rate <= 0 || ratePerSecond <= 0)
		_buckets.clear(); // the limit was or becomes off: there is no level to keep
	for (auto& entry : _buckets)
	{
		Bucket& bucket = entry.second;
		const double level =
		    std::min(_burst, bucket.tokens + static_cast<double>(nowMs - bucket.lastMs) * _rate / 1000.0);
		bucket.tokens = std::min(newBurst, level);
		bucket.lastMs = nowMs;
	}
	_rate = ratePerSecond;
	_burst = newBurst;
}


void RateBuckets::forgetFull(std::int64_t nowMs)
{
	_lastSweepMs = nowMs;
	for (auto it = _buckets.begin(); it != _buckets.end();)
	{
		const double refilled = it->second.tokens + static_cast<double>(nowMs - it->second.lastMs) * _rate / 1000.0;
		it = refilled >= _burst ? _buckets.erase(it) : std::next(it);
	}
}


std::size_t RateBuckets::size() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _buckets.size();
}


} // namespace Together
} // namespace Switchboard
