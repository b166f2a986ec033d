//
// MetricsRegistry.cpp
//
// The metric store and its Prometheus text exposition.
//


#include "metrics/MetricsRegistry.h"
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#if defined(__linux__)
#include <dirent.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>
#elif defined(_WIN32)
#include <windows.h>
#include <psapi.h>
#endif


namespace Switchboard {
namespace Core {


class MetricsRegistry::Scope: public Switchboard::Metrics
/// One owner's view of the registry: adds the prefix and forwards.
{
public:
	Scope(MetricsRegistry& registry, std::string prefix):
	    _registry(registry),
	    _prefix(std::move(prefix))
	{
	}

	const std::string& prefix() const { return _prefix; }

	Switchboard::Counter& counter(std::string_view name, std::string_view help,
	                              const Switchboard::Labels& labels) override
	{
		return *_registry.obtain(*this, Type::COUNTER, name, help, labels, nullptr).counter;
	}

	Switchboard::Gauge& gauge(std::string_view name, std::string_view help, const Switchboard::Labels& labels) override
	{
		return *_registry.obtain(*this, Type::GAUGE, name, help, labels, nullptr).gauge;
	}

	Switchboard::Histogram& histogram(std::string_view name, std::string_view help,
	                                  const std::vector<double>& upperBounds,
	                                  const Switchboard::Labels& labels) override
	{
		return *_registry.obtain(*this, Type::HISTOGRAM, name, help, labels, &upperBounds).histogram;
	}

private:
	MetricsRegistry& _registry;
	std::string _prefix;
};


namespace {


void appendSample(std::string& out, const std::string& name, const std::string& labels, const std::string& value)
{
	out += name;
	if (!labels.empty())
	{
		out += '{';
		out += labels;
		out += '}';
	}
	out += ' ';
	out += value;
	out += '\n';
}


} // namespace


const char* const MetricsRegistry::CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const char* const MetricsRegistry::NAME_PREFIX = MetricRules::NAME_PREFIX;


MetricsRegistry::MetricsRegistry()
{
	_registrationErrors = &scope("").counter(
	    "metric_registration_errors_total",
	    "Metric registrations refused (bad name or labels, or a name taken with another type, owner or buckets).");
}


MetricsRegistry::~MetricsRegistry() {}


Switchboard::Metrics& MetricsRegistry::scope(const std::string& prefix)
{
	std::lock_guard<std::mutex> lock(_mutex);
	auto& slot = _scopes[prefix];
	if (!slot)
		slot = std::make_unique<Scope>(*this, prefix);
	return *slot;
}


void MetricsRegistry::addCollector(Collector collector)
{
	std::lock_guard<std::mutex> lock(_mutex);
	if (collector)
		_collectors.push_back(std::move(collector));
}


void MetricsRegistry::setErrorHandler(ErrorHandler handler)
{
	std::lock_guard<std::mutex> lock(_mutex);
	_errorHandler = std::move(handler);
}


std::uint64_t MetricsRegistry::registrationErrors() const
{
	return _registrationErrors->value();
}


MetricsRegistry::Series MetricsRegistry::create(Type type, const std::vector<double>& bounds)
{
	Series s;
	switch (type)
	{
		case Type::COUNTER:
			s.counter = &_counters.emplace_back();
			break;
		case Type::GAUGE:
			s.gauge = &_gauges.emplace_back();
			break;
		case Type::HISTOGRAM:
			s.histogram = &_histograms.emplace_back(bounds);
			break;
	}
	return s;
}


std::string MetricsRegistry::checkFamily(const Scope& scope, Type type, const std::string& fullName,
                                         const std::vector<double>& bounds) const
{
	auto it = _families.find(fullName);
	if (it != _families.end())
	{
		const Family& f = it->second;
		std::string error = MetricRules::checkReuse(f.type, f.bounds, type, bounds);
		if (error.empty() && f.owner != &scope)
			error = "already registered by " +
			        (f.owner->prefix().empty() ? std::string("the host") : "plugin " + f.owner->prefix());
		return error;
	}
	return MetricRules::checkCollision(type, fullName, [this](const std::string& name) -> const Type* {
		auto other = _families.find(name);
		return other == _families.end() ? nullptr : &other->second.type;
	});
}


MetricsRegistry::Series MetricsRegistry::obtain(const Scope& scope, Type type, std::string_view name,
                                                std::string_view help, const Switchboard::Labels& labels,
                                                const std::vector<double>* bounds)
{
	const std::string fullName = MetricRules::exportedName(scope.prefix(), name);
	std::vector<double> cleanBounds = bounds ? *bounds : std::vector<double>();
	std::string error = MetricRules::checkSeries(type, scope.prefix(), name, labels, &cleanBounds);
	const std::string canonical = MetricRules::renderLabels(labels);

	std::unique_lock<std::mutex> lock(_mutex);
	if (error.empty())
		error = checkFamily(scope, type, fullName, cleanBounds);
	if (error.empty())
	{
		auto it = _families.find(fullName);
		if (it == _families.end())
		{
			Family f;
			f.type = type;
			f.help = std::string(help);
			f.owner = &scope;
			f.bounds = cleanBounds;
			it = _families.emplace(fullName, std::move(f)).first;
		}
		auto s = it->second.series.find(canonical);
		if (s == it->second.series.end())
			s = it->second.series.emplace(canonical, create(type, cleanBounds)).first;
		return s->second;
	}

	// Refused: hand out a stable object nobody scrapes, the same one for the same request.
	std::string key = std::string(MetricRules::kindName(type)) + "|" + MetricRules::seriesKey(fullName, labels);
	auto d = _detached.find(key);
	if (d == _detached.end())
		d = _detached.emplace(key, create(type, bounds ? *bounds : std::vector<double>())).first;
	Series result = d->second;
	_registrationErrors->increment();
	ErrorHandler handler = _errorHandler;
	lock.unlock();
	if (handler)
		handler("metric " + MetricRules::describe(type, fullName, labels) + " not exported: " + error);
	return result;
}


std::string MetricsRegistry::renderPrometheus() const
{
	std::string out;
	std::vector<Collector> collectors;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		for (const auto& kv : _families)
		{
			const std::string& name = kv.first;
			const Family& f = kv.second;
			if (!f.help.empty())
				out += "# HELP " + name + " " + MetricRules::escapeHelp(f.help) + "\n";
			out += std::string("# TYPE ") + name + " " + MetricRules::kindName(f.type) + "\n";
			for (const auto& s : f.series)
			{
				const std::string& labels = s.first;
				switch (f.type)
				{
					case Type::COUNTER:
						appendSample(out, name, labels, std::to_string(s.second.counter->value()));
						break;
					case Type::GAUGE:
						appendSample(out, name, labels, std::to_string(s.second.gauge->value()));
						break;
					case Type::HISTOGRAM:
					{
						const Switchboard::Histogram& h = *s.second.histogram;
						std::string prefix = labels.empty() ? std::string() : labels + ",";
						std::uint64_t cumulative = 0;
						for (std::size_t i = 0; i < f.bounds.size(); ++i)
						{
							cumulative += h.bucketCount(i);
							appendSample(out, name + "_bucket", prefix + "le=\"" + formatNumber(f.bounds[i]) + "\"",
							             std::to_string(cumulative));
						}
						cumulative += h.bucketCount(f.bounds.size());
						appendSample(out, name + "_bucket", prefix + "le=\"+Inf\"", std::to_string(cumulative));
						appendSample(out, name + "_sum", labels, formatNumber(h.sum()));
						appendSample(out, name + "_count", labels, std::to_string(cumulative));
						break;
					}
				}
			}
		}
		collectors = _collectors;
	}
	for (const auto& c : collectors)
		c(out);
	return out;
}


std::string MetricsRegistry::formatNumber(double value)
{
	if (std::isnan(value))
		return "NaN";
	if (std::isinf(value))
		return value > 0 ? "+Inf" : "-Inf";
	// Whole numbers as integers (to_chars' shortest form would write 400000 as 4e+05).
	if (std::fabs(value) < 1e15 && value == std::floor(value))
		return std::to_string(static_cast<long long>(value));
	char buf[64];
	auto result = std::to_chars(buf, buf + sizeof(buf), value);
	return std::string(buf, result.ptr);
}


MetricsRegistry::Collector processMetricsCollector()
{
#if defined(__linux__)
	// Boot time plus the process's start tick: constant, so read once.
	double startTime = -1;
	{
		std::ifstream stat("/proc/self/stat");
		std::string line;
		std::getline(stat, line);
		std::size_t paren = line.rfind(')'); // the command name may contain spaces and parentheses
		std::ifstream sys("/proc/stat");
		std::string word;
		double bootTime = -1;
		while (sys >> word)
		{
			if (word == "btime")
			{
				sys >> bootTime;
				break;
			}
		}
		long ticks = sysconf(_SC_CLK_TCK);
		if (paren != std::string::npos && bootTime >= 0 && ticks > 0)
		{
			std::istringstream fields(line.substr(paren + 2));
			std::string field;
			// After the name come the fields numbered 3 onwards; starttime is field 22.
			for (int i = 3; i <= 22 && fields >> field; ++i)
			{
				if (i == 22)
					startTime = bootTime + std::strtod(field.c_str(), nullptr) / static_cast<double>(ticks);
			}
		}
	}

	return [startTime](std::string& out) {
		auto emit = [&out](const char* name, const char* type, const char* help, const std::string& value) {
			out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
			       value + "\n";
		};

		struct rusage usage;
		if (getrusage(RUSAGE_SELF, &usage) == 0)
		{
			double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
			             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
			emit("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
			     MetricsRegistry::formatNumber(cpu));
		}

		std::ifstream statm("/proc/self/statm");
		std::uint64_t size = 0, resident = 0;
		long page = sysconf(_SC_PAGESIZE);
		if (statm >> size >> resident && page > 0)
			emit("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
			     std::to_string(resident * static_cast<std::uint64_t>(page)));

		if (DIR* dir = opendir("/proc/self/fd"))
		{
			int own = dirfd(dir);
			std::uint64_t count = 0;
			while (struct dirent* entry = readdir(dir))
			{
				if (entry->d_name[0] == '.')
					continue;
				if (std::atoi(entry->d_name) == own) // the descriptor reading the directory
					continue;
				++count;
			}
			closedir(dir);
			emit("process_open_fds", "gauge", "Number of open file descriptors.", std::to_string(count));
		}

		struct rlimit limit;
		if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
		{
			std::string value = limit.rlim_cur == RLIM_INFINITY
			                        ? std::string("+Inf")
			                        : std::to_string(static_cast<std::uint64_t>(limit.rlim_cur));
			emit("process_max_fds", "gauge", "Maximum number of open file descriptors.", value);
		}

		if (startTime >= 0)
			emit("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
			     MetricsRegistry::formatNumber(startTime));
	};
#elif defined(_WIN32)
	// FILETIMEs count 100 ns ticks; the Unix epoch is 11644473600 s after theirs (1601).
	auto seconds = [](const FILETIME& time) {
		ULARGE_INTEGER ticks;
		ticks.LowPart = time.dwLowDateTime;
		ticks.HighPart = time.dwHighDateTime;
		return static_cast<double>(ticks.QuadPart) / 1e7;
	};
	return [seconds](std::string& out) {
		auto emit = [&out](const char* name, const char* type, const char* help, const std::string& value) {
			out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
			       value + "\n";
		};
		HANDLE self = ::GetCurrentProcess();
		FILETIME created, exited, kernel, user;
		if (::GetProcessTimes(self, &created, &exited, &kernel, &user))
		{
			emit("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
			     MetricsRegistry::formatNumber(seconds(kernel) + seconds(user)));
			emit("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
			     MetricsRegistry::formatNumber(seconds(created) - 11644473600.0));
		}
		PROCESS_MEMORY_COUNTERS memory{};
		if (::GetProcessMemoryInfo(self, &memory, sizeof(memory)))
			emit("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
			     std::to_string(static_cast<std::uint64_t>(memory.WorkingSetSize)));
		// Windows has handles, not descriptors, and no limit on them that matters here.
		DWORD handles = 0;
		if (::GetProcessHandleCount(self, &handles))
			emit("process_open_fds", "gauge", "Number of open handles.", std::to_string(handles));
	};
#else
	return [](std::string&) {};
#endif
}


} // namespace Core
} // namespace Switchboard
