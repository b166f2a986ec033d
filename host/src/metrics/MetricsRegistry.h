//
// MetricsRegistry.h
//
// Owns every counter, gauge and histogram of the host and its plugins and renders them in the
// Prometheus text exposition format 0.0.4 for the admin listener's /metrics.
//


#ifndef Switchboard_Core_MetricsRegistry_INCLUDED
#define Switchboard_Core_MetricsRegistry_INCLUDED


#include "switchboard/Metrics.h"
#include "switchboard/util/MetricRules.h"
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Core {


class MetricsRegistry
/// The metric store behind the SDK's Switchboard::Metrics.
///
/// Naming: scope(prefix) hands out a Switchboard::Metrics whose series are exported as
/// switchboard_<prefix>_<name>; the host itself uses the empty prefix, giving
/// switchboard_<name> (plugins get their short name as prefix). A metric name belongs to the
/// scope that registered it first, so a plugin cannot take over a host metric or another
/// plugin's. Names are used as given: counters should end in _total by convention, but the
/// registry does not add it.
///
/// Labels: raw name/value pairs (Switchboard::Labels). They are checked and rendered by the SDK's
/// util/MetricRules.h (the rules FakeHost applies too): label names [a-zA-Z_][a-zA-Z0-9_]*, no
/// reserved "__" names, no duplicates, UTF-8 values, "le" not allowed on histograms; values are
/// escaped and the list sorted by name, so {{"b","1"},{"a","2"}} and {{"a","2"},{"b","1"}} are one
/// series. The host's own code registers labeled series the same way, through scope("").
///
/// Errors: an invalid metric name, label list or histogram bounds, a name already registered with another
/// type, by another scope, or with other histogram buckets, or a name whose exposition lines
/// would collide with a histogram's _bucket/_sum/_count: the first registration wins, the
/// caller gets a working but detached object that is never exported, the counter
/// switchboard_metric_registration_errors_total goes up and the error handler (if set) gets a
/// one-line message. The SDK's reference-returning interface has no failure path, and a
/// metrics mistake must not take a plugin down.
///
/// Objects live as long as the registry (addresses are stable). Thread-safe: registration and
/// rendering take one mutex; updating a metric is the SDK type's relaxed atomic operation.
{
public:
	using Collector = std::function<void(std::string& out)>;
	/// Appends complete exposition text (HELP, TYPE and samples) computed at scrape time.
	using ErrorHandler = std::function<void(const std::string& message)>;

	static const char* const CONTENT_TYPE;
	/// "text/plain; version=0.0.4; charset=utf-8", the Content-Type of renderPrometheus().
	static const char* const NAME_PREFIX;
	/// "switchboard_" (MetricRules::NAME_PREFIX).

	MetricsRegistry();
	~MetricsRegistry();
	MetricsRegistry(const MetricsRegistry&) = delete;
	MetricsRegistry& operator=(const MetricsRegistry&) = delete;

	Switchboard::Metrics& scope(const std::string& prefix);
	/// The metrics interface for one owner: "" for the host, a plugin's name for a plugin.
	/// The same prefix always yields the same object, valid as long as the registry.

	void addCollector(Collector collector);
	/// Adds text produced at every scrape after the registered metrics, e.g.
	/// processMetricsCollector(). Collectors run outside the registry's lock, possibly on
	/// several threads at once, and must produce valid exposition text.

	void setErrorHandler(ErrorHandler handler);
	/// Called (outside the lock) with a message for each registration error; set it before
	/// scopes are handed out.

	std::string renderPrometheus() const;
	/// Every exported metric, families in name order, series in label order: "# HELP" (when
	/// the help text is not empty) and "# TYPE" once per name, histogram buckets cumulative
	/// with a final le="+Inf", then _sum and _count; collector output last.

	std::uint64_t registrationErrors() const;
	/// The value of switchboard_metric_registration_errors_total.

	static std::string formatNumber(double value);
	/// Shortest round-trip decimal form; NaN, +Inf and -Inf spelt as Prometheus expects.

private:
	class Scope;

	using Type = MetricRules::Kind;

	struct Series
	{
		Switchboard::Counter* counter = nullptr;
		Switchboard::Gauge* gauge = nullptr;
		Switchboard::Histogram* histogram = nullptr;
	};

	struct Family
	{
		Type type = Type::COUNTER;
		std::string help;
		const Scope* owner = nullptr;
		std::vector<double> bounds;
		std::map<std::string, Series> series; // canonical labels -> objects
	};

	Series obtain(const Scope& scope, Type type, std::string_view name, std::string_view help,
	              const Switchboard::Labels& labels, const std::vector<double>* bounds);
	std::string checkFamily(const Scope& scope, Type type, const std::string& fullName,
	                        const std::vector<double>& bounds) const;
	Series create(Type type, const std::vector<double>& bounds);

	friend class Scope;

	mutable std::mutex _mutex;
	std::map<std::string, Family> _families;
	std::map<std::string, Series> _detached; // "<type>|<name>{<labels>}" -> objects not exported
	std::deque<Switchboard::Counter> _counters;
	std::deque<Switchboard::Gauge> _gauges;
	std::deque<Switchboard::Histogram> _histograms;
	std::map<std::string, std::unique_ptr<Scope>> _scopes;
	std::vector<Collector> _collectors;
	ErrorHandler _errorHandler;
	Switchboard::Counter* _registrationErrors = nullptr;
};


MetricsRegistry::Collector processMetricsCollector();
/// The standard process_* metrics on Linux: process_resident_memory_bytes (/proc/self/statm),
/// process_open_fds (/proc/self/fd), process_max_fds (RLIMIT_NOFILE), process_cpu_seconds_total
/// (getrusage) and process_start_time_seconds (/proc/self/stat and boot time), read at each
/// scrape. Figures that cannot be read are left out; elsewhere than Linux it renders nothing.


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_MetricsRegistry_INCLUDED
