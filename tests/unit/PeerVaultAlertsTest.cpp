//
// PeerVaultAlertsTest.cpp
//
// PeerVault's threshold alerts (docs/protocols/peervault.md §6.3): names, types and default
// thresholds, alerts only on a level change with the exact messages and thresholds, the §12
// item 16 edge sequence, jumps to and from critical, disabled levels. And the process figures the
// metrics ticker samples (§6.2): RSS, CPU time, CPU count and statvfs space.
//


#include "Alerts.h"
#include "ProcessFigures.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>


using namespace Switchboard::PeerVault;


namespace {


std::array<Thresholds, ALERT_METRIC_COUNT> defaults()
{
	std::array<Thresholds, ALERT_METRIC_COUNT> out;
	for (int i = 0; i < ALERT_METRIC_COUNT; ++i)
		out[i] = defaultThresholds(static_cast<AlertMetric>(i));
	return out;
}


void assertAlert(const Alert& alert, const std::string& level, const std::string& message, double threshold)
{
	CPPUNIT_ASSERT_EQUAL(level, alert.level);
	CPPUNIT_ASSERT_EQUAL(message, alert.message);
	CPPUNIT_ASSERT_EQUAL(threshold, alert.threshold);
}


} // namespace


class PeerVaultAlertsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultAlertsTest);
	CPPUNIT_TEST(testNamesAndDefaults);
	CPPUNIT_TEST(testConnectionUsageEdge);
	CPPUNIT_TEST(testCriticalJumps);
	CPPUNIT_TEST(testBoundaries);
	CPPUNIT_TEST(testDisabledLevels);
	CPPUNIT_TEST(testLabels);
	CPPUNIT_TEST(testMetricsIndependent);
	CPPUNIT_TEST_SUITE_END();

public:
	void testNamesAndDefaults()
	{
		const char* names[] = {"memory_usage", "cpu_usage", "connection_usage", "average_response_time",
		                       "storage_usage"};
		const double figures[][2] = {{80, 95}, {90, 98}, {80, 95}, {1000, 5000}, {85, 95}};
		for (int i = 0; i < ALERT_METRIC_COUNT; ++i)
		{
			const AlertMetric metric = static_cast<AlertMetric>(i);
			CPPUNIT_ASSERT_EQUAL(std::string(names[i]), std::string(alertMetricName(metric)));
			CPPUNIT_ASSERT_EQUAL(std::string(i == 4 ? "storage_alert" : "performance_alert"),
			                     std::string(alertType(metric)));
			CPPUNIT_ASSERT_EQUAL(figures[i][0], defaultThresholds(metric).warning);
			CPPUNIT_ASSERT_EQUAL(figures[i][1], defaultThresholds(metric).critical);
		}
		AlertTracker tracker(defaults());
		CPPUNIT_ASSERT_EQUAL(1000.0, tracker.thresholds(AlertMetric::AVERAGE_RESPONSE_TIME).warning);
		CPPUNIT_ASSERT_EQUAL(95.0, tracker.thresholds(AlertMetric::STORAGE_USAGE).critical);
	}

	void testConnectionUsageEdge()
	{
		// §12 item 16: max_connections 1000, warning 0.15; one connection is 0.1 %, two are 0.2 %.
		auto thresholds = defaults();
		thresholds[static_cast<int>(AlertMetric::CONNECTION_USAGE)].warning = 0.15;
		AlertTracker tracker(thresholds);
		CPPUNIT_ASSERT_EQUAL(0.15, tracker.thresholds(AlertMetric::CONNECTION_USAGE).warning);
		Alert alert;
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.1, alert));
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.1, alert));

		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.2, alert));
		assertAlert(alert, "warning", "High connection usage detected", 0.15);
		for (int tick = 0; tick < 3; ++tick)
			CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.2, alert));

		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.1, alert));
		assertAlert(alert, "info", "Connection usage back to normal", 0.15);
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0.1, alert));
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, 0, alert));
	}

	void testCriticalJumps()
	{
		AlertTracker tracker(defaults());
		Alert alert;
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, 50, alert));
		CPPUNIT_ASSERT_MESSAGE("normal straight to critical", tracker.evaluate(AlertMetric::MEMORY_USAGE, 96, alert));
		assertAlert(alert, "critical", "Critical memory usage detected", 95);
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, 99.9, alert));
		CPPUNIT_ASSERT_MESSAGE("critical down to warning", tracker.evaluate(AlertMetric::MEMORY_USAGE, 85.5, alert));
		assertAlert(alert, "warning", "High memory usage detected", 80);
		CPPUNIT_ASSERT_MESSAGE("warning up to critical", tracker.evaluate(AlertMetric::MEMORY_USAGE, 97, alert));
		assertAlert(alert, "critical", "Critical memory usage detected", 95);
		CPPUNIT_ASSERT_MESSAGE("critical straight to normal", tracker.evaluate(AlertMetric::MEMORY_USAGE, 10, alert));
		assertAlert(alert, "info", "Memory usage back to normal", 80);
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, 79.99, alert));
	}

	void testBoundaries()
	{
		AlertTracker tracker(defaults());
		Alert alert;
		CPPUNIT_ASSERT_MESSAGE("value == warning is warning", tracker.evaluate(AlertMetric::CPU_USAGE, 90, alert));
		CPPUNIT_ASSERT_EQUAL(std::string("warning"), alert.level);
		CPPUNIT_ASSERT_MESSAGE("value == critical is critical", tracker.evaluate(AlertMetric::CPU_USAGE, 98, alert));
		CPPUNIT_ASSERT_EQUAL(std::string("critical"), alert.level);
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CPU_USAGE, std::nextafter(90.0, 0.0), alert));
		CPPUNIT_ASSERT_EQUAL(std::string("info"), alert.level);
		// Not a number is no level at all.
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CPU_USAGE, std::nan(""), alert));
	}

	void testDisabledLevels()
	{
		auto thresholds = defaults();
		thresholds[static_cast<int>(AlertMetric::STORAGE_USAGE)] = {0, 95};   // no warning level
		thresholds[static_cast<int>(AlertMetric::CPU_USAGE)] = {90, -1};      // no critical level
		thresholds[static_cast<int>(AlertMetric::MEMORY_USAGE)] = {-5, 0};    // neither
		thresholds[static_cast<int>(AlertMetric::CONNECTION_USAGE)] = {0, 0}; // neither
		AlertTracker tracker(thresholds);
		Alert alert;

		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::STORAGE_USAGE, 90, alert));
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::STORAGE_USAGE, 96, alert));
		assertAlert(alert, "critical", "Critical storage usage detected", 95);
		CPPUNIT_ASSERT_MESSAGE("below critical is normal without a warning level",
		                       tracker.evaluate(AlertMetric::STORAGE_USAGE, 90, alert));
		assertAlert(alert, "info", "Storage usage back to normal", 0);

		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CPU_USAGE, 1e9, alert));
		assertAlert(alert, "warning", "High CPU usage detected", 90);
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CPU_USAGE, 1e12, alert));

		for (double value : {-10.0, 0.0, 1.0, 100.0, 1e15})
		{
			CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, value, alert));
			CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CONNECTION_USAGE, value, alert));
		}
	}

	void testLabels()
	{
		AlertTracker tracker(defaults());
		Alert alert;
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CPU_USAGE, 99, alert));
		assertAlert(alert, "critical", "Critical CPU usage detected", 98);
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CPU_USAGE, 1, alert));
		assertAlert(alert, "info", "CPU usage back to normal", 90);

		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::AVERAGE_RESPONSE_TIME, 1500, alert));
		assertAlert(alert, "warning", "High average response time detected", 1000);
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::AVERAGE_RESPONSE_TIME, 5000, alert));
		assertAlert(alert, "critical", "Critical average response time detected", 5000);
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::AVERAGE_RESPONSE_TIME, 0.2, alert));
		assertAlert(alert, "info", "Average response time back to normal", 1000);

		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::STORAGE_USAGE, 86, alert));
		assertAlert(alert, "warning", "High storage usage detected", 85);
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::CONNECTION_USAGE, 95, alert));
		assertAlert(alert, "critical", "Critical connection usage detected", 95);
	}

	void testMetricsIndependent()
	{
		AlertTracker tracker(defaults());
		Alert alert;
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::MEMORY_USAGE, 81, alert));
		CPPUNIT_ASSERT_MESSAGE("another metric starts normal", tracker.evaluate(AlertMetric::STORAGE_USAGE, 86, alert));
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, 82, alert));
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::CPU_USAGE, 10, alert));
		CPPUNIT_ASSERT(tracker.evaluate(AlertMetric::STORAGE_USAGE, 1, alert));
		CPPUNIT_ASSERT(!tracker.evaluate(AlertMetric::MEMORY_USAGE, 83, alert));
	}
};


class PeerVaultProcessFiguresTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultProcessFiguresTest);
	CPPUNIT_TEST(testMemory);
	CPPUNIT_TEST(testCpuTime);
	CPPUNIT_TEST(testDiskSpace);
	CPPUNIT_TEST_SUITE_END();

public:
	void testMemory()
	{
		const std::int64_t before = ProcessFigures::residentBytes();
		CPPUNIT_ASSERT(before > 0);
		CPPUNIT_ASSERT(ProcessFigures::physicalMemoryBytes() > before);

		// Touching 64 MiB must show up in RSS: catches a wrong unit (pages vs bytes) or field.
		constexpr std::size_t SIZE = 64 << 20;
		std::vector<char> block(SIZE);
		for (std::size_t i = 0; i < SIZE; i += 1024)
			block[i] = static_cast<char>(i >> 10);
		volatile char sink = block[SIZE - 1024];
		(void)sink;
		const std::int64_t after = ProcessFigures::residentBytes();
		CPPUNIT_ASSERT_MESSAGE(std::to_string(before) + " -> " + std::to_string(after),
		                       after >= before + static_cast<std::int64_t>(SIZE / 2));
		rusage usage{};
		CPPUNIT_ASSERT_EQUAL(0, getrusage(RUSAGE_SELF, &usage));
		CPPUNIT_ASSERT_MESSAGE("RSS does not exceed the peak the kernel reports",
		                       after <= static_cast<std::int64_t>(usage.ru_maxrss) * 1024 + (1 << 20));

		const int cpus = ProcessFigures::cpuCount();
		CPPUNIT_ASSERT(cpus >= 1 && cpus <= 65536);
	}

	void testCpuTime()
	{
		const std::int64_t start = ProcessFigures::cpuTimeMicros();
		CPPUNIT_ASSERT(start > 0);
		// Spin until 50 ms of CPU time have been used, or give up after 10 s of wall time.
		const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		volatile std::uint64_t work = 0;
		std::int64_t now = start;
		while (now < start + 50000 && std::chrono::steady_clock::now() < deadline)
		{
			for (int i = 0; i < 100000; ++i)
				work = work + static_cast<std::uint64_t>(i) * 2654435761u;
			now = ProcessFigures::cpuTimeMicros();
		}
		CPPUNIT_ASSERT_MESSAGE(std::to_string(now - start) + " us", now >= start + 50000);
		// The figure is the process's, in microseconds: close to what getrusage says.
		rusage usage{};
		CPPUNIT_ASSERT_EQUAL(0, getrusage(RUSAGE_SELF, &usage));
		const std::int64_t rusageMicros =
		    (static_cast<std::int64_t>(usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) * 1000000 +
		    usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
		CPPUNIT_ASSERT_MESSAGE(std::to_string(ProcessFigures::cpuTimeMicros()) + " vs " + std::to_string(rusageMicros),
		                       std::llabs(ProcessFigures::cpuTimeMicros() - rusageMicros) < 100000);
	}

	void testDiskSpace()
	{
		ProcessFigures::DiskSpace root;
		CPPUNIT_ASSERT(ProcessFigures::diskSpace("/", root));
		CPPUNIT_ASSERT(root.totalBytes > 0);
		CPPUNIT_ASSERT(root.availableBytes >= 0 && root.availableBytes <= root.totalBytes);
		CPPUNIT_ASSERT(root.usedBytes >= 0 && root.usedBytes <= root.totalBytes);
		// Reserved blocks make used + available at most the total, never more.
		CPPUNIT_ASSERT(root.usedBytes + root.availableBytes <= root.totalBytes);
		// The contract's definitions, against the kernel's own figures (other writers may move them a little).
		struct statvfs figures
		{
		};
		CPPUNIT_ASSERT_EQUAL(0, statvfs("/", &figures));
		const std::int64_t unit = static_cast<std::int64_t>(figures.f_frsize);
		const std::int64_t slack = 256 << 20;
		CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(figures.f_blocks) * unit, root.totalBytes);
		CPPUNIT_ASSERT(
		    std::llabs(static_cast<std::int64_t>(figures.f_blocks - figures.f_bfree) * unit - root.usedBytes) < slack);
		CPPUNIT_ASSERT(std::llabs(static_cast<std::int64_t>(figures.f_bavail) * unit - root.availableBytes) < slack);

		char directory[] = "/tmp/peervault-figures-XXXXXX";
		CPPUNIT_ASSERT(mkdtemp(directory) != nullptr);
		ProcessFigures::DiskSpace temp;
		const bool found = ProcessFigures::diskSpace(directory, temp);
		rmdir(directory);
		CPPUNIT_ASSERT(found);
		CPPUNIT_ASSERT(temp.totalBytes > 0);

		ProcessFigures::DiskSpace untouched;
		untouched.totalBytes = 7;
		CPPUNIT_ASSERT(!ProcessFigures::diskSpace("/nonexistent/peervault/figures", untouched));
		CPPUNIT_ASSERT(!ProcessFigures::diskSpace("", untouched));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), untouched.totalBytes);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultAlertsTest);
CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultProcessFiguresTest);
