//
// TogetherRateBucketsTest.cpp
//
// The per-IP token bucket of /auth/* and gateway upgrades: burst, refill, Retry-After in whole
// seconds, keys apart, off at rate 0, and full buckets forgotten.
//


#include "RateBuckets.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>


using Switchboard::Together::RateBuckets;


class TogetherRateBucketsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherRateBucketsTest);
	CPPUNIT_TEST(testBurstRefillAndRetryAfter);
	CPPUNIT_TEST(testKeysApart);
	CPPUNIT_TEST(testOff);
	CPPUNIT_TEST(testFullBucketsForgotten);
	CPPUNIT_TEST_SUITE_END();

public:
	void testBurstRefillAndRetryAfter()
	{
		// The contract's test: per_second 1, burst 2, four rapid logins: the third and fourth fail.
		RateBuckets buckets(1, 2);
		std::int64_t retry = -1;
		CPPUNIT_ASSERT(buckets.take("10.0.0.1", 1000, retry) && retry == 0);
		CPPUNIT_ASSERT(buckets.take("10.0.0.1", 1001, retry));
		CPPUNIT_ASSERT(!buckets.take("10.0.0.1", 1002, retry));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), retry);
		CPPUNIT_ASSERT(!buckets.take("10.0.0.1", 1003, retry));
		CPPUNIT_ASSERT(buckets.take("10.0.0.1", 2010, retry)); // a second later one token is back
		CPPUNIT_ASSERT(!buckets.take("10.0.0.1", 2011, retry));

		// A slow refill gives a longer Retry-After, in whole seconds.
		RateBuckets slow(0.25, 1);
		CPPUNIT_ASSERT(slow.take("k", 0, retry));
		CPPUNIT_ASSERT(!slow.take("k", 1, retry));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), retry);
		CPPUNIT_ASSERT(!slow.take("k", 3500, retry));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), retry);
		CPPUNIT_ASSERT(slow.take("k", 4001, retry));
	}

	void testKeysApart()
	{
		RateBuckets buckets(10, 30);
		std::int64_t retry = 0;
		for (int i = 0; i < 30; ++i)
			CPPUNIT_ASSERT(buckets.take("a", 0, retry));
		CPPUNIT_ASSERT(!buckets.take("a", 0, retry));
		CPPUNIT_ASSERT(buckets.take("b", 0, retry));
		CPPUNIT_ASSERT(buckets.take("a", 100, retry)); // 10/s: one token per 100 ms
		CPPUNIT_ASSERT(!buckets.take("a", 100, retry));
	}

	void testOff()
	{
		RateBuckets off(0, 30);
		std::int64_t retry = 0;
		for (int i = 0; i < 1000; ++i)
			CPPUNIT_ASSERT(off.take("a", 0, retry));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), off.size());
	}

	void testFullBucketsForgotten()
	{
		RateBuckets buckets(1, 2);
		std::int64_t retry = 0;
		for (int i = 0; i < 100; ++i)
			buckets.take("ip" + std::to_string(i), 0, retry);
		buckets.take("busy", 59000, retry);
		buckets.take("busy", 59000, retry);
		CPPUNIT_ASSERT_EQUAL(std::size_t(101), buckets.size());
		// A minute on, every bucket that has refilled is dropped; the busy one is not full yet.
		buckets.take("other", 60000, retry);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), buckets.size());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherRateBucketsTest);
