//
// RateBuckets.h
//
// A token bucket per key (a client IP for /auth/* and for gateway upgrades): `rate` tokens a
// second up to `burst`. Thread-safe. Full buckets are forgotten, so memory follows the clients
// that are being limited, not every client ever seen.
//


#ifndef Switchboard_Together_RateBuckets_INCLUDED
#define Switchboard_Together_RateBuckets_INCLUDED


#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>


namespace Switchboard {
namespace Together {


class RateBuckets
{
public:
	RateBuckets(double ratePerSecond, double burst);
	/// ratePerSecond 0 turns the limit off: take() always succeeds.

	bool take(const std::string& key, std::int64_t nowMs, std::int64_t& retryAfterSeconds);
	/// Takes one token. False when the bucket is empty, with the whole seconds (at least 1) until
	/// a token is back, for Retry-After.

	void setLimit(double ratePerSecond, double burst, std::int64_t nowMs);
	/// A reload's new rate and burst. Each bucket keeps the level it had at nowMs (refilled at the
	/// old rate until then, cut to the new burst): a change neither refills nor resets anyone.

	std::size_t size() const;
	/// Buckets held (for tests and metrics).

private:
	struct Bucket
	{
		double tokens;
		std::int64_t lastMs;
	};

	void forgetFull(std::int64_t nowMs);

	mutable std::mutex _mutex;
	double _rate;  ///< guarded by _mutex (a reload may change it)
	double _burst; ///< guarded by _mutex
	std::unordered_map<std::string, Bucket> _buckets;
	std::int64_t _lastSweepMs = 0;
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_RateBuckets_INCLUDED
