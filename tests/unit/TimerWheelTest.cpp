//
// TimerWheelTest.cpp
//
// The loop's timer wheel: never early, far deadlines across revolutions, cancel and reschedule
// from callbacks.
//


#include "net/TimerWheel.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <vector>


using Switchboard::Core::TimerNode;
using Switchboard::Core::TimerWheel;


namespace {

struct Probe
{
	TimerNode node;
	std::vector<std::int64_t>* log = nullptr;
	std::int64_t* now = nullptr;
	TimerWheel* wheel = nullptr;
	std::int64_t rescheduleEvery = 0;
	TimerNode* cancelOther = nullptr;

	Probe()
	{
		node.owner = this;
		node.fire = [](TimerNode* n) {
			auto* p = static_cast<Probe*>(n->owner);
			p->log->push_back(*p->now);
			if (p->cancelOther)
				p->wheel->cancel(*p->cancelOther);
			if (p->rescheduleEvery > 0)
				p->wheel->schedule(p->node, *p->now + p->rescheduleEvery);
		};
	}
};

} // namespace


class TimerWheelTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TimerWheelTest);
	CPPUNIT_TEST(testNeverEarly);
	CPPUNIT_TEST(testFarDeadline);
	CPPUNIT_TEST(testCancel);
	CPPUNIT_TEST(testRescheduleFromCallback);
	CPPUNIT_TEST(testCancelFromCallback);
	CPPUNIT_TEST(testSleepHint);
	CPPUNIT_TEST(testLongSleepThenFire);
	CPPUNIT_TEST_SUITE_END();

public:
	void testNeverEarly()
	{
		std::int64_t now = 1000;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe p;
		p.log = &log;
		p.now = &now;
		p.wheel = &wheel;
		wheel.schedule(p.node, 1025);
		for (now = 1001; now <= 1060; ++now)
			wheel.advance(now);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.size());
		CPPUNIT_ASSERT(log[0] >= 1025);
		CPPUNIT_ASSERT(log[0] <= 1025 + TimerWheel::TICK_MS);
	}

	void testFarDeadline()
	{
		// Beyond one revolution (10.24 s): visited on earlier passes but fired only when due.
		std::int64_t now = 0;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe p;
		p.log = &log;
		p.now = &now;
		p.wheel = &wheel;
		wheel.schedule(p.node, 35000);
		for (now = 10; now <= 40000; now += 10)
			wheel.advance(now);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.size());
		CPPUNIT_ASSERT(log[0] >= 35000 && log[0] <= 35010);
	}

	void testCancel()
	{
		std::int64_t now = 0;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe p;
		p.log = &log;
		p.now = &now;
		p.wheel = &wheel;
		wheel.schedule(p.node, 100);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), wheel.size());
		wheel.cancel(p.node);
		wheel.cancel(p.node); // twice is harmless
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), wheel.size());
		for (now = 10; now <= 300; now += 10)
			wheel.advance(now);
		CPPUNIT_ASSERT(log.empty());
	}

	void testRescheduleFromCallback()
	{
		std::int64_t now = 0;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe p;
		p.log = &log;
		p.now = &now;
		p.wheel = &wheel;
		p.rescheduleEvery = 100;
		wheel.schedule(p.node, 100);
		for (now = 10; now <= 1000; now += 10)
			wheel.advance(now);
		CPPUNIT_ASSERT_EQUAL(std::size_t(10), log.size());
		for (std::size_t i = 0; i < log.size(); ++i)
			CPPUNIT_ASSERT_EQUAL(std::int64_t(100 * (i + 1)), log[i]);
		// The node is scheduled again and dies before the wheel: its owner cancels it first (found
		// by AddressSanitizer: the wheel's destructor unlinked a node that no longer existed).
		wheel.cancel(p.node);
	}

	void testCancelFromCallback()
	{
		std::int64_t now = 0;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe first, second;
		for (Probe* p : {&first, &second})
		{
			p->log = &log;
			p->now = &now;
			p->wheel = &wheel;
		}
		first.cancelOther = &second.node;
		wheel.schedule(first.node, 50);
		wheel.schedule(second.node, 50); // same slot, behind first
		for (now = 10; now <= 200; now += 10)
			wheel.advance(now);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), wheel.size());
	}

	void testSleepHint()
	{
		TimerWheel wheel(0);
		CPPUNIT_ASSERT_EQUAL(-1, wheel.millisecondsToNextTick(5));
		TimerNode node;
		node.fire = [](TimerNode*) {};
		wheel.schedule(node, 500);
		// The loop sleeps until the slot that holds the timer, not one tick at a time...
		int hint = wheel.millisecondsToNextTick(5);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(hint), hint >= 495 - TimerWheel::TICK_MS && hint <= 495);
		// ...and a nearer timer shortens it.
		TimerNode near;
		near.fire = [](TimerNode*) {};
		wheel.schedule(near, 30);
		hint = wheel.millisecondsToNextTick(5);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(hint), hint >= 25 - TimerWheel::TICK_MS && hint <= 25);
		wheel.cancel(near);
		CPPUNIT_ASSERT(wheel.millisecondsToNextTick(5) >= 485);
		// Beyond one revolution: at most a revolution's sleep, then the wheel re-checks.
		wheel.cancel(node);
		wheel.schedule(node, 60000);
		hint = wheel.millisecondsToNextTick(5);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(hint), hint > 0 && hint <= int(TimerWheel::SLOTS) * TimerWheel::TICK_MS);
		wheel.cancel(node);
		CPPUNIT_ASSERT_EQUAL(-1, wheel.millisecondsToNextTick(5));
	}

	void testLongSleepThenFire()
	{
		// A loop that sleeps as advised and then advances still fires every timer on time.
		std::int64_t now = 0;
		std::vector<std::int64_t> log;
		TimerWheel wheel(now);
		Probe a, b;
		for (Probe* p : {&a, &b})
		{
			p->log = &log;
			p->now = &now;
			p->wheel = &wheel;
		}
		wheel.schedule(a.node, 700);
		wheel.schedule(b.node, 25000);
		for (int i = 0; i < 100 && log.size() < 2; ++i)
		{
			int sleep = wheel.millisecondsToNextTick(now);
			CPPUNIT_ASSERT(sleep >= 0);
			now += sleep;
			wheel.advance(now);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), log.size());
		CPPUNIT_ASSERT(log[0] >= 700 && log[0] <= 700 + TimerWheel::TICK_MS);
		CPPUNIT_ASSERT(log[1] >= 25000 && log[1] <= 25000 + TimerWheel::TICK_MS);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TimerWheelTest);
