//
// AllocatorTest.cpp
//
// keepFreedMemoryNearby(): an operator's own allocator settings are left alone, and after it a
// burst of freed buffers stays mapped at the top of the heap instead of being returned to the
// kernel (and faulted in again by the next burst).
//


#include "server/Allocator.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif


using namespace Switchboard::Core;


// clang tells of ASan and TSan through __has_feature (gcc through __SANITIZE_*__).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SWITCHBOARD_TEST_HAS_SANITIZER 1
#endif
#endif
#ifndef SWITCHBOARD_TEST_HAS_SANITIZER
#define SWITCHBOARD_TEST_HAS_SANITIZER 0
#endif


class AllocatorTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(AllocatorTest);
	CPPUNIT_TEST(testOperatorSettingsWin);
	CPPUNIT_TEST(testFreedBurstStaysMapped);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOperatorSettingsWin()
	{
		::setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1);
		CPPUNIT_ASSERT(!keepFreedMemoryNearby());
		::unsetenv("MALLOC_TRIM_THRESHOLD_");
	}

	void testFreedBurstStaysMapped()
	{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || SWITCHBOARD_TEST_HAS_SANITIZER
		std::cout << " [skipped: a sanitizer's allocator replaces glibc's malloc, which this is about]";
		return;
#endif
#if defined(__GLIBC__)
		if (std::getenv("GLIBC_TUNABLES") != nullptr)
			return; // the operator's (here: the caller's) settings apply instead
		CPPUNIT_ASSERT(keepFreedMemoryNearby());
		// 4 MiB of relay-sized buffers on this (the main) thread's heap, then all freed: glibc
		// would give back all but 128 KiB of the top; now it keeps it.
		std::vector<char*> buffers;
		for (int i = 0; i < 2048; ++i)
		{
			buffers.push_back(static_cast<char*>(std::malloc(2048)));
			buffers.back()[0] = static_cast<char>(i); // touched, as a real buffer is
		}
		for (auto it = buffers.rbegin(); it != buffers.rend(); ++it)
			std::free(*it);
		struct mallinfo2 info = mallinfo2();
		CPPUNIT_ASSERT_MESSAGE("releasable top of the heap: " + std::to_string(info.keepcost) + " bytes",
		                       info.keepcost >= (2u << 20));
#endif
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(AllocatorTest);
