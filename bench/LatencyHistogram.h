//
// LatencyHistogram.h
//
// A log-linear histogram of nanosecond durations (under 1% relative error) that merges exactly.
//


#ifndef Switchboard_Bench_LatencyHistogram_INCLUDED
#define Switchboard_Bench_LatencyHistogram_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace Bench {


class LatencyHistogram
/// Values below 128 ns have a bucket each; above, every power of two is split into 128 equal
/// buckets. Values of 2^42 ns (about 73 minutes) and more land in the last bucket. Several
/// processes' histograms merge exactly by adding their bucket counts (bench/run does that from
/// toJson()), which percentiles reported per process could not.
{
public:
	static constexpr int SUB_BITS = 7;
	static constexpr int MAX_BITS = 42;
	static constexpr std::size_t BUCKETS = static_cast<std::size_t>(MAX_BITS - SUB_BITS + 1) << SUB_BITS;

	LatencyHistogram();

	void record(std::uint64_t ns);

	std::uint64_t count() const { return _count; }
	std::uint64_t max() const { return _max; }

	std::uint64_t percentile(double fraction) const;
	/// The value at fraction (0..1) of the recorded values, as its bucket's midpoint; 0 if empty.

	std::string toJson() const;
	/// The non-empty buckets as a JSON array of [index, count] pairs.

	static std::size_t indexOf(std::uint64_t ns);
	static std::uint64_t midpointOf(std::size_t index);

private:
	std::vector<std::uint64_t> _counts;
	std::uint64_t _count = 0;
	std::uint64_t _max = 0;
};


} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_LatencyHistogram_INCLUDED
