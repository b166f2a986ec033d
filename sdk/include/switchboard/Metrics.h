//
// Metrics.h
//
// Switchboard SDK: counters, gauges and histograms exported on the admin listener's /metrics.
//


#ifndef Switchboard_Metrics_INCLUDED
#define Switchboard_Metrics_INCLUDED


#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {


class Counter
/// A monotonically increasing count. Thread-safe and cheap enough for the hot path: an update
/// is one relaxed atomic add on one of STRIPES cache lines, chosen once per thread, so event
/// loops counting the same event do not fight over one line; value() sums the lines (each is
/// exact, the sum may miss adds made while it reads). Owned by the host; a reference stays
/// valid until the plugin is destroyed.
{
public:
	void increment(std::uint64_t by = 1) noexcept
	{
		_stripes[stripeIndex()].value.fetch_add(by, std::memory_order_relaxed);
	}

	std::uint64_t value() const noexcept
	{
		std::uint64_t sum = 0;
		for (const Stripe& stripe : _stripes)
			sum += stripe.value.load(std::memory_order_relaxed);
		return sum;
	}

private:
	static constexpr std::size_t STRIPES = 8;

	struct alignas(64) Stripe
	{
		std::atomic<std::uint64_t> value{0};
	};

	static std::size_t stripeIndex() noexcept
	{
		// Threads take stripes in turn; a plugin and the host may number threads separately,
		// which only changes which stripe a thread uses.
		static std::atomic<std::size_t> nextThread{0};
		thread_local const std::size_t index = nextThread.fetch_add(1, std::memory_order_relaxed) % STRIPES;
		return index;
	}

	Stripe _stripes[STRIPES];
};


class Gauge
/// A value that goes up and down (connected peers, queued messages). Thread-safe; owned by the
/// host like Counter.
{
public:
	void set(std::int64_t value) noexcept { _value.store(value, std::memory_order_relaxed); }
	void add(std::int64_t delta) noexcept { _value.fetch_add(delta, std::memory_order_relaxed); }
	std::int64_t value() const noexcept { return _value.load(std::memory_order_relaxed); }

private:
	std::atomic<std::int64_t> _value{0};
};


class Histogram
/// Observations counted into fixed buckets (upper bounds, ascending), Prometheus style.
/// Thread-safe; owned by the host like Counter.
{
public:
	explicit Histogram(std::vector<double> upperBounds):
	    _bounds(std::move(upperBounds)),
	    _counts(_bounds.size() + 1)
	{
	}

	void observe(double value) noexcept
	{
		std::size_t i = 0;
		while (i < _bounds.size() && value > _bounds[i])
			++i;
		_counts[i].fetch_add(1, std::memory_order_relaxed);
		double sum = _sum.load(std::memory_order_relaxed);
		while (!_sum.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed))
		{
		}
	}

	const std::vector<double>& upperBounds() const noexcept { return _bounds; }
	std::uint64_t bucketCount(std::size_t index) const noexcept
	{
		return _counts[index].load(std::memory_order_relaxed);
	}
	/// Observations in bucket index (not cumulative); index upperBounds().size() is +Inf.
	double sum() const noexcept { return _sum.load(std::memory_order_relaxed); }

private:
	std::vector<double> _bounds;
	std::vector<std::atomic<std::uint64_t>> _counts;
	std::atomic<double> _sum{0};
};


using Labels = std::vector<std::pair<std::string, std::string>>;
///< Label names and raw values, e.g. {{"type", "OFFER"}}. Names are [a-zA-Z_][a-zA-Z0-9_]*, not
///< starting with "__"; values are any UTF-8 text: the host escapes them. Order does not matter.


class Metrics
/// Creates the plugin's metrics. Names are exported as switchboard_<plugin>_<name> and must be
/// [a-zA-Z_:][a-zA-Z0-9_:]*. Asking twice for the same name and labels returns the same object.
/// A mistake (bad name or label, a name reused with another type or other buckets, "le" on a
/// histogram) never fails the plugin: the object works but is not exported, and the host logs it
/// and counts it in switchboard_metric_registration_errors_total.
/// Thread-safe; create metrics in start() and keep the references (lookups take a lock). Owned
/// by the host; references stay valid until the plugin is destroyed.
{
public:
	virtual ~Metrics() = default;

	virtual Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {}) = 0;
	virtual Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {}) = 0;
	virtual Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& upperBounds,
	                             const Labels& labels = {}) = 0;
};


} // namespace Switchboard


#endif // Switchboard_Metrics_INCLUDED
