//
// LatencyHistogram.cpp
//


#include "LatencyHistogram.h"


namespace Switchboard {
namespace Bench {


LatencyHistogram::LatencyHistogram():
    _counts(BUCKETS, 0)
{
}


std::size_t LatencyHistogram::indexOf(std::uint64_t ns)
{
	constexpr std::uint64_t linear = std::uint64_t(1) << SUB_BITS;
	if (ns < linear)
		return static_cast<std::size_t>(ns);
	constexpr std::uint64_t top = (std::uint64_t(1) << MAX_BITS) - 1;
	if (ns > top)
		ns = top;
	const int msb = 63 - __builtin_clzll(ns);
	const int octave = msb - SUB_BITS + 1; // 1 for [128, 256)
	const std::uint64_t sub = (ns >> (msb - SUB_BITS)) & (linear - 1);
	return (static_cast<std::size_t>(octave) << SUB_BITS) + static_cast<std::size_t>(sub);
}


std::uint64_t LatencyHistogram::midpointOf(std::size_t index)
{
	constexpr std::size_t linear = std::size_t(1) << SUB_BITS;
	if (index < linear)
		return index;
	const std::size_t octave = index >> SUB_BITS;
	const std::uint64_t sub = index & (linear - 1);
	const std::uint64_t width = std::uint64_t(1) << (octave - 1);
	return ((linear + sub) << (octave - 1)) + width / 2;
}


void LatencyHistogram::record(std::uint64_t ns)
{
	++_counts[indexOf(ns)];
	++_count;
	if (ns > _max)
		_max = ns;
}


std::uint64_t LatencyHistogram::percentile(double fraction) const
{
	if (_count == 0)
		return 0;
	// The smallest bucket at which at least fraction of the values are covered.
	std::uint64_t rank = static_cast<std::uint64_t>(fraction * static_cast<double>(_count));
	if (rank >= _count)
		rank = _count - 1;
	std::uint64_t seen = 0;
	for (std::size_t i = 0; i < _counts.size(); ++i)
	{
		seen += _counts[i];
		if (seen > rank)
			return midpointOf(i);
	}
	return _max;
}


std::string LatencyHistogram::toJson() const
{
	std::string json = "[";
	for (std::size_t i = 0; i < _counts.size(); ++i)
	{
		if (_counts[i] == 0)
			continue;
		if (json.size() > 1)
			json += ',';
		json += '[';
		json += std::to_string(i);
		json += ',';
		json += std::to_string(_counts[i]);
		json += ']';
	}
	json += ']';
	return json;
}


} // namespace Bench
} // namespace Switchboard
