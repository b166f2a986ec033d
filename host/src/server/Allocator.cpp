//
// Allocator.cpp
//


#include "server/Allocator.h"
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif


namespace Switchboard {
namespace Core {


bool keepFreedMemoryNearby()
{
#if defined(__GLIBC__)
	if (std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr)
		return false;
	const int trimThreshold = 32 << 20;
	const int topPad = 4 << 20; // each growth of the heap reserves this much more, untouched until used
	return mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1 && mallopt(M_TOP_PAD, topPad) == 1;
#else
	return false;
#endif
}


} // namespace Core
} // namespace Switchboard
