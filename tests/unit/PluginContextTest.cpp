//
// PluginContextTest.cpp
//
// The host's per-plugin context on a real event loop: timers live in one table only until they
// fire or are cancelled (a million one-shot timers leave memory flat), groups belong to their
// plugin, and every exception from plugin code is counted with its plugin and site.
//


#include "TempDir.h"
#include "http/HttpFront.h"
#include "metrics/MetricsRegistry.h"
#include "net/Transport.h"
#include "plugin/PluginContext.h"
#include "server/WorkerPool.h"
#include "storage/SqliteStorage.h"
#include "switchboard/util/CloseRules.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <malloc.h>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard;
using namespace Switchboard::Core;
using Switchboard::Test::TempDir;


namespace {


std::size_t heapInUse()
/// Bytes malloc has handed out and not got back: the main arena's (where this thread's
/// allocations go) plus mmapped blocks. Unlike RSS it does not move with allocator caching.
{
	struct mallinfo2 info = mallinfo2();
	return info.uordblks + info.hblkhd;
}


std::size_t residentBytes()
{
	std::ifstream statm("/proc/self/statm");
	std::size_t pages = 0, resident = 0;
	statm >> pages >> resident;
	return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}


template <class Predicate>
bool waitFor(Predicate done, int timeoutMs = 30000)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
	while (!done())
	{
		if (std::chrono::steady_clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}
	return true;
}


class Rig
/// One loop, a worker pool, real SQLite storage and two plugin contexts, "alpha" and "beta".
{
public:
	Rig():
	    _transport(settings(), Poco::Logger::get("test.transport"), TransportCounters()),
	    _http(_transport, HttpSettings(), Poco::Logger::get("test.http"), HttpCounters()),
	    _workers(2),
	    _storageBackend(_dir.path())
	{
		_transport.start();
		ListenerSpec main;
		main.name = "main";
		main.address = "127.0.0.1";
		_http.addListener(main); // listener 0, never bound: endpoints can be registered
		PluginServices services{&_transport, &_http, &_workers, &_clock, &_metrics.scope(""),
		                        1 << 20,     120000, 30000,     1 << 20, "."};
		std::string error;
		for (const char* name : {"alpha", "beta"})
		{
			_storages.push_back(_storageBackend.open(name, nullptr, error));
			CPPUNIT_ASSERT_MESSAGE(error, _storages.back() != nullptr);
			_contexts.push_back(std::make_unique<PluginContext>(static_cast<PluginId>(_contexts.size() + 1), name,
			                                                    "/" + std::string(name), 0, Config(),
			                                                    _metrics.scope(name), *_storages.back(), services));
			_storages.back()->setGuard(_contexts.back().get());
		}
	}

	~Rig()
	{
		for (auto& context : _contexts)
			context->cancelAllTimers();
		_transport.shutdown(CloseCode::GOING_AWAY, "", 1000);
		_workers.stop();
	}

	PluginContext& alpha() { return *_contexts[0]; }
	PluginContext& beta() { return *_contexts[1]; }
	std::string metrics() const { return _metrics.renderPrometheus(); }
	void onLoop(std::function<void()> task) { _transport.post(0, std::move(task)); }

private:
	static TransportSettings settings()
	{
		TransportSettings s;
		s.eventLoops = 1;
		return s;
	}

	TempDir _dir;
	MetricsRegistry _metrics;
	Transport _transport;
	HttpFront _http;
	WorkerPool _workers;
	SqliteStorage _storageBackend;
	SystemClock _clock;
	std::vector<std::unique_ptr<PluginStorage>> _storages;
	std::vector<std::unique_ptr<PluginContext>> _contexts;
};


} // namespace


class PluginContextTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PluginContextTest);
	CPPUNIT_TEST(testMillionOneShotTimersLeaveMemoryFlat);
	CPPUNIT_TEST(testEndpointCloseOptionsAreChecked);
	CPPUNIT_TEST(testEndpointTimeoutsAreChecked);
	CPPUNIT_TEST(testInvalidTextCloseIsChecked);
	CPPUNIT_TEST(testMaxOutputMessagesIsChecked);
	CPPUNIT_TEST(testCancelForgetsTheTimer);
	CPPUNIT_TEST(testTwoPluginsTimersOnOneLoopAreIndependent);
	CPPUNIT_TEST(testThrowingTimerIsCountedAndKeepsRunning);
	CPPUNIT_TEST(testGroupsBelongToTheirPlugin);
	CPPUNIT_TEST(testOffloadExceptionsAreCountedAndCompletionRuns);
	CPPUNIT_TEST(testTransactionBodyExceptionIsCountedAndRolledBack);
	CPPUNIT_TEST(testRandomBytesHoldNoDescriptorPerThread);
	CPPUNIT_TEST_SUITE_END();

public:
	void testEndpointCloseOptionsAreChecked()
	{
		struct Handler: WebSocketHandler
		{
			void onOpen(Connection&, const HttpRequest&) override {}
			void onMessage(Connection&, std::string_view, MessageKind) override {}
		} handler;
		Rig rig;
		WebSocketOptions options;
		options.idleCloseCode = 4009;
		options.idleCloseReason = "Session timed out";
		options.overflowCloseCode = 1013;
		options.overflowCloseReason = "Slow consumer";
		CPPUNIT_ASSERT(rig.alpha().addWebSocket("/ws", handler, options));
		options.idleCloseCode = CloseCode::NONE; // a close without status
		options.overflowCloseCode = -1;          // the host's
		options.overflowCloseReason = "";
		CPPUNIT_ASSERT(rig.alpha().addWebSocket("/ws2", handler, options));

		// Codes a server may not send, reasons that do not fit a close frame or are not UTF-8.
		const std::string longReason(124, 'r');
		for (auto spoil : std::vector<std::function<void(WebSocketOptions&)>>{
		         [](WebSocketOptions& o) { o.idleCloseCode = 1006; },
		         [](WebSocketOptions& o) { o.idleCloseCode = 1005; },
		         [](WebSocketOptions& o) { o.overflowCloseCode = 1015; },
		         [](WebSocketOptions& o) { o.overflowCloseCode = 2999; },
		         [](WebSocketOptions& o) { o.overflowCloseCode = 5000; },
		         [&longReason](WebSocketOptions& o) { o.idleCloseReason = longReason.c_str(); },
		         [](WebSocketOptions& o) { o.overflowCloseReason = "\xff\xfe"; }})
		{
			WebSocketOptions bad;
			spoil(bad);
			CPPUNIT_ASSERT(!rig.alpha().addWebSocket("/bad", handler, bad));
		}
		const std::string longestReason(123, 'r');
		WebSocketOptions edge;
		edge.idleCloseReason = longestReason.c_str();
		edge.overflowCloseCode = 4999;
		CPPUNIT_ASSERT(rig.alpha().addWebSocket("/edge", handler, edge));
	}

	void testEndpointTimeoutsAreChecked()
	{
		struct Handler: WebSocketHandler
		{
			void onOpen(Connection&, const HttpRequest&) override {}
			void onMessage(Connection&, std::string_view, MessageKind) override {}
		} handler;
		Rig rig;
		// -1 (the host's [websocket] value) and both ends of each range are taken.
		int registered = 0;
		for (std::int64_t closeTimeout : {std::int64_t(-1), std::int64_t(100), std::int64_t(60000)})
		{
			for (std::int64_t sendStall : {std::int64_t(-1), std::int64_t(0), std::int64_t(3600000)})
			{
				WebSocketOptions options;
				options.closeTimeoutMs = closeTimeout;
				options.sendStallTimeoutMs = sendStall;
				std::string path = "/ok" + std::to_string(registered++);
				CPPUNIT_ASSERT_MESSAGE(path, rig.alpha().addWebSocket(path, handler, options));
			}
		}
		// Anything else is refused, whatever the other fields say.
		for (std::int64_t closeTimeout : {std::int64_t(-2), std::int64_t(0), std::int64_t(99), std::int64_t(60001)})
		{
			WebSocketOptions bad;
			bad.closeTimeoutMs = closeTimeout;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(closeTimeout), !rig.alpha().addWebSocket("/bad", handler, bad));
			CPPUNIT_ASSERT(CloseRules::checkOptions(bad).find("closeTimeoutMs " + std::to_string(closeTimeout) +
			                                                  " is outside 100..60000") == 0);
		}
		for (std::int64_t sendStall : {std::int64_t(-2), std::int64_t(-100), std::int64_t(3600001)})
		{
			WebSocketOptions bad;
			bad.sendStallTimeoutMs = sendStall;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(sendStall), !rig.alpha().addWebSocket("/bad", handler, bad));
			CPPUNIT_ASSERT(CloseRules::checkOptions(bad).find("sendStallTimeoutMs " + std::to_string(sendStall) +
			                                                  " is outside 0..3600000") == 0);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(registered), rig.alpha().endpointCount());
	}

	void testInvalidTextCloseIsChecked()
	{
		struct Handler: WebSocketHandler
		{
			void onOpen(Connection&, const HttpRequest&) override {}
			void onMessage(Connection&, std::string_view, MessageKind) override {}
		} handler;
		Rig rig;
		int registered = 0;
		// -1 (1007), no status, and the sendable codes, with or without a reason.
		for (std::int32_t code : {-1, 0, 1000, 1007, 4002, 4999})
		{
			WebSocketOptions options;
			options.invalidTextCloseCode = code;
			options.invalidTextCloseReason = code == 4002 ? "Invalid message format" : nullptr;
			std::string path = "/ok" + std::to_string(registered++);
			CPPUNIT_ASSERT_MESSAGE(path, rig.alpha().addWebSocket(path, handler, options));
		}
		for (std::int32_t code : {-2, 1, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535})
		{
			WebSocketOptions bad;
			bad.invalidTextCloseCode = code;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(code), !rig.alpha().addWebSocket("/bad", handler, bad));
			CPPUNIT_ASSERT(CloseRules::checkOptions(bad).find("invalidTextCloseCode " + std::to_string(code) +
			                                                  " cannot be sent") == 0);
		}
		const std::string longReason(124, 'r');
		for (const char* reason : {longReason.c_str(), "\xff\xfe"})
		{
			WebSocketOptions bad;
			bad.invalidTextCloseCode = 4002;
			bad.invalidTextCloseReason = reason;
			CPPUNIT_ASSERT(!rig.alpha().addWebSocket("/bad", handler, bad));
			CPPUNIT_ASSERT(CloseRules::checkOptions(bad).find("invalidTextCloseReason ") == 0);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(registered), rig.alpha().endpointCount());

		// What the host sends: the endpoint's code and reason, else 1007 and its own reason.
		WebSocketOptions options;
		CPPUNIT_ASSERT(!CloseRules::hasInvalidTextClose(options));
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1007), CloseRules::invalidTextCode(options));
		CPPUNIT_ASSERT_EQUAL(std::string("why"), CloseRules::invalidTextReason(options, "why"));
		options.invalidTextCloseCode = 4002;
		options.invalidTextCloseReason = "Invalid message format";
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(4002), CloseRules::invalidTextCode(options));
		CPPUNIT_ASSERT_EQUAL(std::string("Invalid message format"), CloseRules::invalidTextReason(options, "why"));
		options.invalidTextCloseCode = CloseCode::NONE;
		CPPUNIT_ASSERT_EQUAL(std::string(), CloseRules::invalidTextReason(options, "why"));
	}

	void testMaxOutputMessagesIsChecked()
	{
		struct Handler: WebSocketHandler
		{
			void onOpen(Connection&, const HttpRequest&) override {}
			void onMessage(Connection&, std::string_view, MessageKind) override {}
		} handler;
		Rig rig;
		int registered = 0;
		for (std::int64_t count : {std::int64_t(0), std::int64_t(1), std::int64_t(100000000)})
		{
			WebSocketOptions options;
			options.maxOutputMessages = count;
			std::string path = "/ok" + std::to_string(registered++);
			CPPUNIT_ASSERT_MESSAGE(path, rig.alpha().addWebSocket(path, handler, options));
		}
		for (std::int64_t count : {std::int64_t(-1), std::int64_t(-100), std::int64_t(100000001)})
		{
			WebSocketOptions bad;
			bad.maxOutputMessages = count;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(count), !rig.alpha().addWebSocket("/bad", handler, bad));
			CPPUNIT_ASSERT(CloseRules::checkOptions(bad).find("maxOutputMessages " + std::to_string(count) +
			                                                  " is outside 0..100000000") == 0);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(registered), rig.alpha().endpointCount());
	}

	void testMillionOneShotTimersLeaveMemoryFlat()
	{
		// Ten rounds of 100,000 one-shot timers, each round scheduled by one task on the loop (as
		// a plugin's callbacks would). The first rounds size the containers (tables, buckets); from
		// then on the heap in use must stay flat: nothing is kept per fired timer. A list of ids
		// (the old design) would add 8 bytes a timer, about 5 MiB over the last rounds. One malloc
		// arena, so that the loop thread's allocations are counted too.
		mallopt(M_ARENA_MAX, 1);
		Rig rig;
		constexpr int ROUNDS = 10;
		constexpr int WARM_UP_ROUNDS = 4;
		constexpr int PER_ROUND = 100000;
		std::atomic<int> fired{0};
		std::size_t heapAfterWarmUp = 0, rssAfterWarmUp = 0;
		for (int round = 0; round < ROUNDS; ++round)
		{
			PluginContext& alpha = rig.alpha();
			rig.onLoop([&alpha, &fired] {
				for (int i = 0; i < PER_ROUND; ++i)
					alpha.after(0, [&fired] { fired.fetch_add(1, std::memory_order_relaxed); });
			});
			int expected = (round + 1) * PER_ROUND;
			CPPUNIT_ASSERT_MESSAGE("timers did not fire in time", waitFor([&] { return fired.load() == expected; }));
			// A fired one-shot timer leaves the context's table before its callback runs.
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), rig.alpha().timerCount());
			if (round + 1 == WARM_UP_ROUNDS)
			{
				heapAfterWarmUp = heapInUse();
				rssAfterWarmUp = residentBytes();
			}
		}
		std::size_t heapGrowth = heapInUse() > heapAfterWarmUp ? heapInUse() - heapAfterWarmUp : 0;
		std::size_t rssGrowth = residentBytes() > rssAfterWarmUp ? residentBytes() - rssAfterWarmUp : 0;
		std::cout << " [after " << WARM_UP_ROUNDS * PER_ROUND / 1000 << "k timers: heap " << heapAfterWarmUp / 1024
		          << " KiB, RSS " << rssAfterWarmUp / 1024 << " KiB; over the next "
		          << (ROUNDS - WARM_UP_ROUNDS) * PER_ROUND / 1000 << "k: heap +" << heapGrowth / 1024 << " KiB, RSS +"
		          << rssGrowth / 1024 << " KiB]";
		CPPUNIT_ASSERT_MESSAGE("heap in use grew by " + std::to_string(heapGrowth / 1024) + " KiB",
		                       heapGrowth < 1024 * 1024);
	}

	void testCancelForgetsTheTimer()
	{
		Rig rig;
		std::atomic<int> ticks{0};
		TimerId periodic = rig.alpha().every(10, [&ticks] { ++ticks; });
		TimerId later = rig.alpha().after(60000, [] {});
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), rig.alpha().timerCount());
		CPPUNIT_ASSERT(waitFor([&] { return ticks.load() >= 2; }));
		CPPUNIT_ASSERT(rig.alpha().cancel(periodic));
		CPPUNIT_ASSERT(!rig.alpha().cancel(periodic));
		CPPUNIT_ASSERT(rig.alpha().cancel(later));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), rig.alpha().timerCount());
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		int stopped = ticks.load();
		std::this_thread::sleep_for(std::chrono::milliseconds(60));
		CPPUNIT_ASSERT_EQUAL(stopped, ticks.load());

		std::atomic<bool> done{false};
		TimerId once = rig.alpha().after(0, [&done] { done = true; });
		CPPUNIT_ASSERT(waitFor([&] { return done.load(); }));
		CPPUNIT_ASSERT(!rig.alpha().cancel(once));    // already fired
		CPPUNIT_ASSERT(!rig.beta().cancel(periodic)); // never another plugin's
	}

	void testTwoPluginsTimersOnOneLoopAreIndependent()
	{
		// Timer ids are per plugin, so two plugins hold the same id on one loop. The loop once
		// kept its timers by id alone: the second was freed while still in the wheel (a
		// use-after-free seen as a crash at shutdown) and the first plugin's cancel removed the
		// second plugin's timer.
		Rig rig;
		std::atomic<int> alphaTicks{0}, betaTicks{0};
		TimerId alphaTimer = rig.alpha().every(10, [&alphaTicks] { ++alphaTicks; });
		TimerId betaTimer = rig.beta().every(10, [&betaTicks] { ++betaTicks; });
		CPPUNIT_ASSERT_EQUAL(alphaTimer, betaTimer);
		CPPUNIT_ASSERT(waitFor([&] { return alphaTicks.load() >= 3 && betaTicks.load() >= 3; }, 5000));
		CPPUNIT_ASSERT(rig.alpha().cancel(alphaTimer));
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		int alphaStopped = alphaTicks.load();
		int betaBefore = betaTicks.load();
		CPPUNIT_ASSERT(waitFor([&] { return betaTicks.load() >= betaBefore + 3; }, 5000));
		CPPUNIT_ASSERT_EQUAL(alphaStopped, alphaTicks.load());
		CPPUNIT_ASSERT(rig.beta().cancel(betaTimer));

		std::atomic<int> fired{0};
		rig.alpha().after(5, [&fired] { fired += 1; });
		rig.beta().after(5, [&fired] { fired += 10; });
		CPPUNIT_ASSERT(waitFor([&] { return fired.load() == 11; }, 5000));
	}

	void testThrowingTimerIsCountedAndKeepsRunning()
	{
		Rig rig;
		std::atomic<int> calls{0};
		TimerId periodic = rig.alpha().every(10, [&calls] {
			++calls;
			throw std::runtime_error("timer boom");
		});
		CPPUNIT_ASSERT(waitFor([&] { return calls.load() >= 3; }));
		rig.alpha().cancel(periodic);
		std::string text = rig.metrics();
		CPPUNIT_ASSERT_MESSAGE(text,
		                       text.find("switchboard_plugin_exceptions_total{plugin=\"alpha\",site=\"timer\"} ") !=
		                           std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text,
		                       text.find("switchboard_plugin_exceptions_total{plugin=\"alpha\",site=\"timer\"} 0") ==
		                           std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text,
		                       text.find("switchboard_plugin_exceptions_total{plugin=\"beta\",site=\"timer\"} 0") !=
		                           std::string::npos);
	}

	void testRandomBytesHoldNoDescriptorPerThread()
	{
		// Found by the soak test: each thread that drew random bytes kept /dev/urandom open.
		Rig rig;
		auto openDescriptors = [] {
			std::size_t count = 0;
			for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
			{
				(void)entry;
				++count;
			}
			return count;
		};
		const std::size_t before = openDescriptors();
		std::atomic<int> drawn{0};
		std::atomic<bool> release{false};
		std::vector<std::thread> threads;
		std::vector<std::array<unsigned char, 32>> draws(4);
		for (std::size_t t = 0; t < draws.size(); ++t)
			threads.emplace_back([&, t] {
				rig.alpha().randomBytes(draws[t].data(), draws[t].size());
				++drawn;
				for (int i = 0; i < 5000 && !release; ++i) // bounded: 5 s
					std::this_thread::sleep_for(std::chrono::milliseconds(1));
			});
		for (int i = 0; i < 5000 && drawn < 4; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		const std::size_t during = openDescriptors(); // every thread still alive
		release = true;
		for (std::thread& thread : threads)
			thread.join();
		CPPUNIT_ASSERT_EQUAL(4, drawn.load());
		CPPUNIT_ASSERT_EQUAL(before, during);
		CPPUNIT_ASSERT(draws[0] != draws[1] && draws[1] != draws[2] && draws[2] != draws[3]);
	}

	void testGroupsBelongToTheirPlugin()
	{
		Rig rig;
		rig.alpha().join("room", 257);
		rig.alpha().join("room", 513);
		rig.alpha().join("other", 257);
		rig.beta().join("room", 769);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), rig.alpha().groupSize("room"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), rig.beta().groupSize("room"));
		rig.alpha().connectionFinished(257);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), rig.alpha().groupSize("room"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), rig.alpha().groupSize("other"));
		rig.alpha().leave("room", 513);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), rig.alpha().groupCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), rig.beta().groupSize("room"));
	}

	void testOffloadExceptionsAreCountedAndCompletionRuns()
	{
		Rig rig;
		std::atomic<bool> completed{false};
		rig.alpha().offload([] { throw std::runtime_error("work boom"); }, [&completed] { completed = true; });
		CPPUNIT_ASSERT(waitFor([&] { return completed.load(); }));
		std::string text = rig.metrics();
		CPPUNIT_ASSERT_MESSAGE(text,
		                       text.find("switchboard_plugin_exceptions_total{plugin=\"alpha\",site=\"offload\"} 1") !=
		                           std::string::npos);
	}

	void testTransactionBodyExceptionIsCountedAndRolledBack()
	{
		Rig rig;
		Storage& storage = rig.alpha().storage();
		CPPUNIT_ASSERT(storage.execute("CREATE TABLE t(x INTEGER)").ok);
		std::string error;
		bool committed = storage.transaction(
		    [](Storage& tx) {
			    tx.execute("INSERT INTO t VALUES (1)");
			    throw std::runtime_error("body boom");
			    return true;
		    },
		    &error);
		CPPUNIT_ASSERT(!committed);
		CPPUNIT_ASSERT_MESSAGE(error, error.find("body boom") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), valueAsInt(storage.execute("SELECT count(*) FROM t").rows.at(0).at(0)));
		std::string text = rig.metrics();
		CPPUNIT_ASSERT_MESSAGE(
		    text, text.find("switchboard_plugin_exceptions_total{plugin=\"alpha\",site=\"transaction\"} 1") !=
		              std::string::npos);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PluginContextTest);
