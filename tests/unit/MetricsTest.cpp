//
// MetricsTest.cpp
//
// Unit tests of MetricsRegistry: registration rules, Prometheus text exposition, concurrency; and
// that FakeHost applies the same rules (util/MetricRules.h) as the registry.
//


#include "metrics/MetricsRegistry.h"
#include "switchboard/testing/FakeHost.h"
#include "switchboard/util/MetricRules.h"
#include "switchboard/util/Names.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <dirent.h>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>
#include <vector>


using Switchboard::Labels;
using Switchboard::Core::MetricsRegistry;
namespace MetricRules = Switchboard::MetricRules;


namespace {


std::size_t countOf(const std::string& text, const std::string& what)
{
	std::size_t n = 0;
	for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
		++n;
	return n;
}


bool contains(const std::string& text, const std::string& what)
{
	return text.find(what) != std::string::npos;
}


std::string sampleValue(const std::string& text, const std::string& series)
// The value of the sample line starting with series + ' ', or "" when absent.
{
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);)
	{
		if (line.compare(0, series.size() + 1, series + " ") == 0)
			return line.substr(series.size() + 1);
	}
	return std::string();
}


std::string checkLabelText(std::string_view s)
// A label list as the text format writes it: name="value" pairs, comma-separated, values with
// only the escapes \\, \" and \n. Returns "" or the problem.
{
	while (!s.empty())
	{
		std::size_t eq = s.find('=');
		if (eq == std::string_view::npos || !Switchboard::Names::isLabelName(s.substr(0, eq)))
			return "bad label name";
		s.remove_prefix(eq + 1);
		if (s.empty() || s.front() != '"')
			return "unquoted value";
		s.remove_prefix(1);
		bool closed = false;
		while (!s.empty() && !closed)
		{
			char c = s.front();
			s.remove_prefix(1);
			if (c == '\\')
			{
				if (s.empty() || (s.front() != '\\' && s.front() != '"' && s.front() != 'n'))
					return "bad escape";
				s.remove_prefix(1);
			}
			else if (c == '\n')
				return "raw newline";
			else if (c == '"')
				closed = true;
		}
		if (!closed)
			return "unterminated value";
		if (!s.empty())
		{
			if (s.front() != ',')
				return "expected ','";
			s.remove_prefix(1);
		}
	}
	return std::string();
}


std::string checkExposition(const std::string& text)
// A small reader of the text format: every line is a HELP, a TYPE or a sample; a name's TYPE
// comes once and before its samples; sample names and label names are valid, label values
// properly quoted and escaped, values numbers. Returns "" or the first problem.
{
	std::map<std::string, std::string> types;
	std::istringstream in(text);
	std::string line;
	if (!text.empty() && text.back() != '\n')
		return "missing final newline";
	while (std::getline(in, line))
	{
		if (line.compare(0, 2, "# ") == 0)
		{
			std::istringstream words(line.substr(2));
			std::string kind, name, type;
			words >> kind >> name;
			if (!Switchboard::Names::isMetricName(name))
				return "bad name in " + line;
			if (kind == "TYPE")
			{
				words >> type;
				if (type != "counter" && type != "gauge" && type != "histogram")
					return "bad type in " + line;
				if (!types.emplace(name, type).second)
					return "second TYPE in " + line;
			}
			else if (kind != "HELP")
				return "bad comment " + line;
			continue;
		}
		std::size_t end = 0;
		while (end < line.size() && line[end] != '{' && line[end] != ' ')
			++end;
		std::string name = line.substr(0, end);
		if (!Switchboard::Names::isMetricName(name))
			return "bad sample name in " + line;
		std::string family = name;
		for (const char* suffix : {"_bucket", "_sum", "_count"})
		{
			std::string s(suffix);
			if (!types.count(family) && name.size() > s.size() &&
			    name.compare(name.size() - s.size(), s.size(), s) == 0)
				family = name.substr(0, name.size() - s.size());
		}
		if (!types.count(family))
			return "sample before TYPE: " + line;
		if (end < line.size() && line[end] == '{')
		{
			std::size_t close = line.rfind('}');
			if (close == std::string::npos)
				return "unclosed labels in " + line;
			std::string error = checkLabelText(std::string_view(line).substr(end + 1, close - end - 1));
			if (!error.empty())
				return error + " in " + line;
			end = close + 1;
		}
		if (end >= line.size() || line[end] != ' ')
			return "no value in " + line;
		std::string value = line.substr(end + 1);
		char* stop = nullptr;
		std::strtod(value.c_str(), &stop);
		if (value.empty() || (*stop != '\0' && value != "+Inf" && value != "-Inf" && value != "NaN"))
			return "bad value in " + line;
	}
	return std::string();
}


struct MetricCase
{
	MetricRules::Kind kind;
	std::string name;
	Labels labels;
	std::vector<double> bounds;
};


} // namespace


class MetricsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(MetricsTest);
	CPPUNIT_TEST(testCounter);
	CPPUNIT_TEST(testGauge);
	CPPUNIT_TEST(testLabelledSeries);
	CPPUNIT_TEST(testHistogram);
	CPPUNIT_TEST(testHelpEscaping);
	CPPUNIT_TEST(testLabelValueEscaping);
	CPPUNIT_TEST(testInvalidNames);
	CPPUNIT_TEST(testInvalidLabels);
	CPPUNIT_TEST(testTypeConflict);
	CPPUNIT_TEST(testOwnerConflict);
	CPPUNIT_TEST(testHistogramConflicts);
	CPPUNIT_TEST(testSameObjectTwice);
	CPPUNIT_TEST(testConcurrentIncrements);
	CPPUNIT_TEST(testCollectors);
	CPPUNIT_TEST(testProcessCollector);
	CPPUNIT_TEST(testFormatNumber);
	CPPUNIT_TEST(testRulesSharedWithFakeHost);
	CPPUNIT_TEST(testFakeHostFamilyConflicts);
	CPPUNIT_TEST_SUITE_END();

public:
	void testCounter()
	{
		MetricsRegistry r;
		Switchboard::Counter& c = r.scope("echo").counter("messages_total", "Messages echoed.");
		c.increment();
		c.increment(41);
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_MESSAGE(text, contains(text, "# HELP switchboard_echo_messages_total Messages echoed.\n"
		                                            "# TYPE switchboard_echo_messages_total counter\n"
		                                            "switchboard_echo_messages_total 42\n"));
		// The host's own scope has no prefix part, and the registration-error counter is there.
		CPPUNIT_ASSERT(contains(text, "# TYPE switchboard_metric_registration_errors_total counter\n"));
		CPPUNIT_ASSERT_EQUAL(std::string("0"), sampleValue(text, "switchboard_metric_registration_errors_total"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
	}

	void testGauge()
	{
		MetricsRegistry r;
		Switchboard::Gauge& g = r.scope("").gauge("connections", "Open connections.");
		g.set(10);
		g.add(-15);
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_MESSAGE(text, contains(text, "# HELP switchboard_connections Open connections.\n"
		                                            "# TYPE switchboard_connections gauge\n"
		                                            "switchboard_connections -5\n"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
	}

	void testLabelledSeries()
	{
		MetricsRegistry r;
		Switchboard::Metrics& m = r.scope("peerjs");
		m.counter("messages_total", "Messages by type.", {{"type", "OFFER"}}).increment(2);
		m.counter("messages_total", "Ignored: the first help wins.", {{"type", "ANSWER"}}).increment(3);
		m.counter("messages_total", "", {}).increment(5);
		Switchboard::Counter& two = m.counter("pairs_total", "Two labels.", {{"b", "1"}, {"a", "2"}});
		// Order does not make a new series.
		CPPUNIT_ASSERT(&two == &m.counter("pairs_total", "Two labels.", {{"a", "2"}, {"b", "1"}}));
		two.increment(7);

		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), countOf(text, "# HELP switchboard_peerjs_messages_total "));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), countOf(text, "# TYPE switchboard_peerjs_messages_total "));
		CPPUNIT_ASSERT(contains(text, "# HELP switchboard_peerjs_messages_total Messages by type.\n"));
		CPPUNIT_ASSERT_EQUAL(std::string("2"), sampleValue(text, "switchboard_peerjs_messages_total{type=\"OFFER\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("3"), sampleValue(text, "switchboard_peerjs_messages_total{type=\"ANSWER\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("5"), sampleValue(text, "switchboard_peerjs_messages_total"));
		CPPUNIT_ASSERT_EQUAL(std::string("7"), sampleValue(text, "switchboard_peerjs_pairs_total{a=\"2\",b=\"1\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
	}

	void testHistogram()
	{
		MetricsRegistry r;
		Switchboard::Histogram& h =
		    r.scope("echo").histogram("latency_seconds", "Round trip.", {0.1, 1, 2.5}, {{"route", "/x"}});
		const double observations[] = {0.05, 0.1, 0.5, 0.5, 2, 7, 100};
		double sum = 0;
		for (double v : observations)
		{
			h.observe(v);
			sum += v;
		}
		std::string text = r.renderPrometheus();
		const std::string n = "switchboard_echo_latency_seconds";
		// le is inclusive: 0.1 falls in the first bucket; counts are cumulative.
		CPPUNIT_ASSERT_EQUAL(std::string("2"), sampleValue(text, n + "_bucket{route=\"/x\",le=\"0.1\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("4"), sampleValue(text, n + "_bucket{route=\"/x\",le=\"1\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("5"), sampleValue(text, n + "_bucket{route=\"/x\",le=\"2.5\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("7"), sampleValue(text, n + "_bucket{route=\"/x\",le=\"+Inf\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("7"), sampleValue(text, n + "_count{route=\"/x\"}"));
		CPPUNIT_ASSERT_EQUAL(MetricsRegistry::formatNumber(sum), sampleValue(text, n + "_sum{route=\"/x\"}"));
		CPPUNIT_ASSERT(contains(text, "# TYPE " + n + " histogram\n"));
		// Buckets come in ascending order, +Inf last, then _sum and _count.
		std::size_t first = text.find(n + "_bucket{route=\"/x\",le=\"0.1\"}");
		std::size_t inf = text.find(n + "_bucket{route=\"/x\",le=\"+Inf\"}");
		std::size_t count = text.find(n + "_count");
		CPPUNIT_ASSERT(first < inf && inf < text.find(n + "_sum") && text.find(n + "_sum") < count);

		// Without labels, and with a trailing +Inf bound given by the caller.
		Switchboard::Histogram& plain = r.scope("").histogram("sizes", "Sizes.", {10, HUGE_VAL});
		plain.observe(11);
		text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::string("0"), sampleValue(text, "switchboard_sizes_bucket{le=\"10\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(text, "switchboard_sizes_bucket{le=\"+Inf\"}"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), countOf(text, "switchboard_sizes_bucket{"));
		CPPUNIT_ASSERT_EQUAL(std::string("11"), sampleValue(text, "switchboard_sizes_sum"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
	}

	void testHelpEscaping()
	{
		MetricsRegistry r;
		r.scope("x").gauge("g", "Line one\nline \"two\" with C:\\path");
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_MESSAGE(text,
		                       contains(text, "# HELP switchboard_x_g Line one\\nline \"two\" with C:\\\\path\n"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
		CPPUNIT_ASSERT_EQUAL(std::string("a\\\\b\\nc\"d"), MetricRules::escapeHelp("a\\b\nc\"d"));
	}

	void testLabelValueEscaping()
	{
		MetricsRegistry r;
		// Raw values in, escaped and sorted by name on /metrics.
		Labels labels = {{"path", "/a\"b\\c\nd"}, {"code", "200"}};
		CPPUNIT_ASSERT_EQUAL(std::string("code=\"200\",path=\"/a\\\"b\\\\c\\nd\""), MetricRules::renderLabels(labels));
		r.scope("http").counter("requests_total", "Requests.", labels).increment();
		// Non-ASCII UTF-8 passes through as it is.
		r.scope("http").counter("requests_total", "Requests.", {{"path", "/caf\xC3\xA9"}, {"code", "404"}}).increment();
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_MESSAGE(
		    text, contains(text, "switchboard_http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1\n"));
		CPPUNIT_ASSERT_MESSAGE(
		    text, contains(text, "switchboard_http_requests_total{code=\"404\",path=\"/caf\xC3\xA9\"} 1\n"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
		CPPUNIT_ASSERT_EQUAL(0ull, static_cast<unsigned long long>(r.registrationErrors()));
	}

	void testInvalidNames()
	{
		MetricsRegistry r;
		std::vector<std::string> messages;
		r.setErrorHandler([&messages](const std::string& m) { messages.push_back(m); });
		const char* bad[] = {"a+b", "bad-name", "", "sp ace", "dots.too", "ümlaut", "9x"};
		for (const char* name : bad)
		{
			Switchboard::Counter& c = r.scope("p").counter(name, "Bad.");
			c.increment(); // detached objects work, they are just not exported
			CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), c.value());
		}
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(std::size(bad)), r.registrationErrors());
		CPPUNIT_ASSERT_EQUAL(std::size(bad), messages.size());
		CPPUNIT_ASSERT(contains(messages[1], "switchboard_p_bad-name"));
		CPPUNIT_ASSERT(contains(messages[1], "invalid metric name"));
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::to_string(std::size(bad)),
		                     sampleValue(text, "switchboard_metric_registration_errors_total"));
		CPPUNIT_ASSERT(!contains(text, "switchboard_p_"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
		// A prefix that makes the name invalid is refused as well; ':' is allowed.
		r.scope("a-b").counter("x", "");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(std::size(bad) + 1), r.registrationErrors());
		r.scope("").counter("ns:x_total", "").increment();
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(r.renderPrometheus(), "switchboard_ns:x_total"));

		CPPUNIT_ASSERT(MetricRules::checkName("p", "a_b:c9").empty());
		CPPUNIT_ASSERT(MetricRules::checkName("", ":x").empty());
		CPPUNIT_ASSERT(!MetricRules::checkName("p", "9x").empty()); // the name itself must be valid
		CPPUNIT_ASSERT(!MetricRules::checkName("a-b", "x").empty());
	}

	void testInvalidLabels()
	{
		MetricsRegistry r;
		Switchboard::Metrics& m = r.scope("p");
		std::vector<std::string> messages;
		r.setErrorHandler([&messages](const std::string& message) { messages.push_back(message); });
		const Labels bad[] = {{{"__name", "x"}}, {{"a", "1"}, {"a", "2"}}, {{"", "1"}},       {{"a-b", "1"}},
		                      {{"9a", "1"}},     {{"a", "bad \xFF byte"}}, {{"x:y", "colon"}}};
		for (const Labels& labels : bad)
			m.counter("c_total", "C.", labels).increment();
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(std::size(bad)), r.registrationErrors());
		CPPUNIT_ASSERT(contains(messages[1], "duplicate label a"));
		CPPUNIT_ASSERT(contains(messages[5], "not UTF-8"));
		m.histogram("h", "H.", {1}, {{"le", "5"}});
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(std::size(bad) + 1), r.registrationErrors());
		CPPUNIT_ASSERT(contains(messages.back(), "\"le\" is reserved for histogram buckets"));
		m.counter("le_total", "A counter may use le.", {{"le", "5"}}).increment();
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(std::size(bad) + 1), r.registrationErrors());
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT(!contains(text, "switchboard_p_c_total"));
		CPPUNIT_ASSERT(!contains(text, "switchboard_p_h"));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(text, "switchboard_p_le_total{le=\"5\"}"));

		CPPUNIT_ASSERT_EQUAL(std::string(), MetricRules::renderLabels({}));
		CPPUNIT_ASSERT_EQUAL(std::string("a=\"x\\ny\",z=\"\\\"\""),
		                     MetricRules::renderLabels({{"z", "\""}, {"a", "x\ny"}}));
	}

	void testTypeConflict()
	{
		MetricsRegistry r;
		std::string message;
		r.setErrorHandler([&message](const std::string& m) { message = m; });
		Switchboard::Counter& c = r.scope("p").counter("things", "Things.");
		c.increment(4);
		Switchboard::Gauge& g = r.scope("p").gauge("things", "Other.");
		g.set(99);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), r.registrationErrors());
		CPPUNIT_ASSERT(contains(message, "already registered as a counter"));
		// The same refused request gets the same detached object, so repeated calls do not grow memory.
		CPPUNIT_ASSERT(&g == &r.scope("p").gauge("things", "Other."));
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT(contains(text, "# TYPE switchboard_p_things counter\n"));
		CPPUNIT_ASSERT(!contains(text, "gauge\nswitchboard_p_things"));
		CPPUNIT_ASSERT_EQUAL(std::string("4"), sampleValue(text, "switchboard_p_things"));
	}

	void testOwnerConflict()
	{
		MetricsRegistry r;
		std::string message;
		r.setErrorHandler([&message](const std::string& m) { message = m; });
		r.scope("").counter("echo_x_total", "Host's.").increment(1);
		Switchboard::Counter& stolen = r.scope("echo").counter("x_total", "Plugin's.");
		stolen.increment(100);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), r.registrationErrors());
		CPPUNIT_ASSERT(contains(message, "already registered by the host"));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(r.renderPrometheus(), "switchboard_echo_x_total"));
	}

	void testHistogramConflicts()
	{
		MetricsRegistry r;
		Switchboard::Metrics& m = r.scope("p");
		m.histogram("h", "H.", {1, 2});
		m.histogram("h", "H.", {1, 3}, {{"x", "1"}}); // other buckets in the same family
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), r.registrationErrors());
		m.counter("h_count", "Collides with the histogram's _count.");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), r.registrationErrors());
		m.gauge("g_sum", "G.");
		m.histogram("g", "Its _sum would collide with g_sum.", {1});
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(3), r.registrationErrors());
		m.histogram("bad", "Not ascending.", {2, 1});
		m.histogram("nan", "NaN bound.", {NAN});
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), r.registrationErrors());
		m.histogram("h", "Same buckets, new series.", {1, 2}, {{"x", "1"}}).observe(1.5);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), r.registrationErrors());
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(text, "switchboard_p_h_bucket{x=\"1\",le=\"2\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
	}

	void testSameObjectTwice()
	{
		MetricsRegistry r;
		CPPUNIT_ASSERT(&r.scope("echo") == &r.scope("echo"));
		CPPUNIT_ASSERT(&r.scope("echo") != &r.scope("peerjs"));
		Switchboard::Metrics& m = r.scope("echo");
		CPPUNIT_ASSERT(&m.counter("a_total", "A.") == &m.counter("a_total", "A."));
		CPPUNIT_ASSERT(&m.gauge("g", "G.", {{"k", "v"}}) == &m.gauge("g", "G.", {{"k", "v"}}));
		CPPUNIT_ASSERT(&m.gauge("g", "G.", {{"k", "v"}}) != &m.gauge("g", "G.", {{"k", "w"}}));
		CPPUNIT_ASSERT(&m.histogram("h", "H.", {1}) == &m.histogram("h", "H.", {1}));
		// Another plugin's metric of the same short name is a different object.
		CPPUNIT_ASSERT(&m.counter("a_total", "A.") != &r.scope("peerjs").counter("a_total", "A."));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(0), r.registrationErrors());
	}

	void testConcurrentIncrements()
	{
		MetricsRegistry r;
		// More threads than a Counter has stripes, so some threads share one.
		const int THREADS = 12;
		const int PER_THREAD = 50000;
		std::vector<std::thread> threads;
		for (int t = 0; t < THREADS; ++t)
		{
			threads.emplace_back([&r, t]() {
				// Each thread looks the metrics up itself, racing on registration too.
				Switchboard::Metrics& m = r.scope("load");
				Switchboard::Counter& c = m.counter("ops_total", "Ops.");
				Switchboard::Gauge& g = m.gauge("level", "Level.");
				Switchboard::Histogram& h = m.histogram("values", "Values.", {0.5});
				Switchboard::Counter& own =
				    m.counter("per_thread_total", "Per thread.", {{"thread", std::to_string(t)}});
				for (int i = 0; i < PER_THREAD; ++i)
				{
					c.increment();
					g.add(i % 2 ? -1 : 1);
					h.observe(1.0);
					own.increment();
				}
			});
		}
		// Scrape while the threads run: must not crash or produce broken text, and a counter
		// summed over its stripes never goes backwards.
		Switchboard::Counter& shared = r.scope("load").counter("ops_total", "Ops.");
		std::uint64_t previous = 0;
		for (int i = 0; i < 20; ++i)
		{
			CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(r.renderPrometheus()));
			const std::uint64_t now = shared.value();
			CPPUNIT_ASSERT(now >= previous);
			previous = now;
		}
		for (auto& t : threads)
			t.join();
		std::string text = r.renderPrometheus();
		std::string total = std::to_string(THREADS * PER_THREAD);
		CPPUNIT_ASSERT_EQUAL(total, sampleValue(text, "switchboard_load_ops_total"));
		CPPUNIT_ASSERT_EQUAL(std::string("0"), sampleValue(text, "switchboard_load_level"));
		CPPUNIT_ASSERT_EQUAL(total, sampleValue(text, "switchboard_load_values_count"));
		CPPUNIT_ASSERT_EQUAL(total, sampleValue(text, "switchboard_load_values_sum"));
		for (int t = 0; t < THREADS; ++t)
			CPPUNIT_ASSERT_EQUAL(
			    std::to_string(PER_THREAD),
			    sampleValue(text, "switchboard_load_per_thread_total{thread=\"" + std::to_string(t) + "\"}"));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(0), r.registrationErrors());
	}

	void testCollectors()
	{
		MetricsRegistry r;
		int calls = 0;
		r.addCollector([&calls](std::string& out) {
			++calls;
			out += "# TYPE custom_figure gauge\ncustom_figure " + std::to_string(calls) + "\n";
		});
		r.addCollector(MetricsRegistry::Collector()); // ignored
		r.scope("").counter("z_total", "Z.");
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::string("1"), sampleValue(text, "custom_figure"));
		CPPUNIT_ASSERT(text.find("custom_figure") > text.find("switchboard_z_total")); // after registered metrics
		CPPUNIT_ASSERT_EQUAL(std::string("2"), sampleValue(r.renderPrometheus(), "custom_figure"));
	}

	void testProcessCollector()
	{
		MetricsRegistry r;
		r.addCollector(Switchboard::Core::processMetricsCollector());
		std::string text = r.renderPrometheus();
		CPPUNIT_ASSERT_EQUAL(std::string(), checkExposition(text));
		CPPUNIT_ASSERT(contains(text, "# TYPE process_cpu_seconds_total counter\n"));
		CPPUNIT_ASSERT(std::stod(sampleValue(text, "process_resident_memory_bytes")) > 0);
		CPPUNIT_ASSERT(std::stod(sampleValue(text, "process_cpu_seconds_total")) >= 0);
		double start = std::stod(sampleValue(text, "process_start_time_seconds"));
		double now = static_cast<double>(std::time(nullptr));
		CPPUNIT_ASSERT(start <= now + 1 && start > now - 24 * 3600);
#ifdef _WIN32
		// Windows has no descriptor limit to report, and process_open_fds counts handles (which
		// Wine reports as 0), so opening directories proves nothing there.
		CPPUNIT_ASSERT(!contains(text, "process_max_fds"));
		CPPUNIT_ASSERT(std::stoi(sampleValue(text, "process_open_fds")) >= 0);
		return;
#endif
		CPPUNIT_ASSERT(std::stod(sampleValue(text, "process_max_fds")) > 0);

		// Opening descriptors shows up in the next scrape.
		int before = std::stoi(sampleValue(text, "process_open_fds"));
		std::vector<DIR*> dirs;
		for (int i = 0; i < 5; ++i)
			dirs.push_back(opendir("/"));
		int during = std::stoi(sampleValue(r.renderPrometheus(), "process_open_fds"));
		for (DIR* d : dirs)
			closedir(d);
		CPPUNIT_ASSERT_EQUAL(before + 5, during);
	}

	void testFormatNumber()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("0.1"), MetricsRegistry::formatNumber(0.1));
		CPPUNIT_ASSERT_EQUAL(std::string("2.5"), MetricsRegistry::formatNumber(2.5));
		CPPUNIT_ASSERT_EQUAL(std::string("1"), MetricsRegistry::formatNumber(1.0));
		CPPUNIT_ASSERT_EQUAL(std::string("+Inf"), MetricsRegistry::formatNumber(HUGE_VAL));
		CPPUNIT_ASSERT_EQUAL(std::string("-Inf"), MetricsRegistry::formatNumber(-HUGE_VAL));
		CPPUNIT_ASSERT_EQUAL(std::string("NaN"), MetricsRegistry::formatNumber(NAN));
		CPPUNIT_ASSERT_EQUAL(0.30000000000000004, std::stod(MetricsRegistry::formatNumber(0.1 + 0.2)));
	}

	void testRulesSharedWithFakeHost()
	{
		// Each registration goes to a fresh registry scope and a fresh FakeHost of the same plugin
		// name: both must accept or refuse it, with the same message, as MetricRules decides.
		const MetricCase cases[] = {
		    {MetricRules::Kind::COUNTER, "ok_total", {}, {}},
		    {MetricRules::Kind::COUNTER, "ok_total", {{"b", "x\"y"}, {"a", "line\nbreak \xC3\xA9"}}, {}},
		    {MetricRules::Kind::COUNTER, "9x", {}, {}},
		    {MetricRules::Kind::COUNTER, "bad-name", {}, {}},
		    {MetricRules::Kind::GAUGE, "g", {{"__reserved", "1"}}, {}},
		    {MetricRules::Kind::GAUGE, "g", {{"a", "1"}, {"a", "1"}}, {}},
		    {MetricRules::Kind::GAUGE, "g", {{"x:y", "1"}}, {}},
		    {MetricRules::Kind::GAUGE, "g", {{"v", "\xC0\xAF"}}, {}},
		    {MetricRules::Kind::HISTOGRAM, "h", {{"le", "1"}}, {1}},
		    {MetricRules::Kind::HISTOGRAM, "h", {}, {2, 1}},
		    {MetricRules::Kind::HISTOGRAM, "h", {}, {1, HUGE_VAL}},
		    {MetricRules::Kind::COUNTER, "le_ok_total", {{"le", "1"}}, {}},
		};
		for (const MetricCase& c : cases)
		{
			std::vector<double> bounds = c.bounds;
			const bool refused = !MetricRules::checkSeries(c.kind, "p", c.name, c.labels, &bounds).empty();
			const std::string what = MetricRules::describe(c.kind, MetricRules::exportedName("p", c.name), c.labels);

			MetricsRegistry registry;
			std::string hostMessage;
			registry.setErrorHandler([&hostMessage](const std::string& m) { hostMessage = m; });
			Switchboard::FakeHost fake("p");
			register_(registry.scope("p"), c);
			register_(fake.metrics(), c);

			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, refused, registry.registrationErrors() == 1);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, refused, fake.registrationErrors().size() == 1);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, refused, !fake.hasMetric(c.name, c.labels));
			if (refused)
				CPPUNIT_ASSERT_EQUAL_MESSAGE(what, hostMessage, fake.registrationErrors().front());
			const std::string text = registry.renderPrometheus();
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what, refused, !contains(text, "switchboard_p_"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(what + "\n" + text, std::string(), checkExposition(text));
			if (!refused && !c.labels.empty() && c.kind == MetricRules::Kind::COUNTER)
				CPPUNIT_ASSERT_MESSAGE(text, contains(text, MetricRules::exportedName("p", c.name) + "{" +
				                                                MetricRules::renderLabels(c.labels) + "} 0\n"));
		}
		// The escaped form on /metrics, spelt out once.
		MetricsRegistry registry;
		registry.scope("p").counter("quoted_total", "Q.", {{"v", "say \"hi\"\nback\\slash"}}).increment();
		CPPUNIT_ASSERT(contains(registry.renderPrometheus(),
		                        "switchboard_p_quoted_total{v=\"say \\\"hi\\\"\\nback\\\\slash\"} 1\n"));
	}

	void testFakeHostFamilyConflicts()
	{
		// The rules that depend on what is already registered: type, buckets, exposition collisions.
		MetricsRegistry registry;
		std::vector<std::string> hostMessages;
		registry.setErrorHandler([&hostMessages](const std::string& m) { hostMessages.push_back(m); });
		Switchboard::FakeHost fake("p");
		for (Switchboard::Metrics* m : {&registry.scope("p"), &fake.metrics()})
		{
			m->counter("things", "T.");
			m->gauge("things", "Another type.");
			m->histogram("h", "H.", {1, 2});
			m->histogram("h", "Other buckets.", {1, 3}, {{"x", "1"}});
			m->histogram("h", "Same buckets, trailing +Inf.", {1, 2, HUGE_VAL}, {{"x", "2"}});
			m->counter("h_count", "Collides with h's _count.");
			m->gauge("g_sum", "G.");
			m->histogram("g", "Its _sum would collide with g_sum.", {1});
		}
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(4), registry.registrationErrors());
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), fake.registrationErrors().size());
		for (std::size_t i = 0; i < hostMessages.size(); ++i)
			CPPUNIT_ASSERT_EQUAL(hostMessages[i], fake.registrationErrors()[i]);
		CPPUNIT_ASSERT(fake.hasMetric("h", {{"x", "2"}}));
		CPPUNIT_ASSERT(!fake.hasMetric("h", {{"x", "1"}}));
		CPPUNIT_ASSERT(fake.logged("WARNING metric switchboard_p_things (gauge) not exported"));
	}

private:
	static void register_(Switchboard::Metrics& metrics, const MetricCase& c)
	{
		switch (c.kind)
		{
			case MetricRules::Kind::COUNTER:
				metrics.counter(c.name, "help", c.labels);
				break;
			case MetricRules::Kind::GAUGE:
				metrics.gauge(c.name, "help", c.labels);
				break;
			case MetricRules::Kind::HISTOGRAM:
				metrics.histogram(c.name, "help", c.bounds, c.labels);
				break;
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(MetricsTest);
