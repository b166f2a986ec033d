//
// Allocator.h
//
// How the process's memory allocator is set up before any thread starts.
//


#ifndef Switchboard_Core_Allocator_INCLUDED
#define Switchboard_Core_Allocator_INCLUDED


namespace Switchboard {
namespace Core {


bool keepFreedMemoryNearby();
/// With glibc: keeps up to 32 MiB of freed memory at the top of each heap mapped instead of
/// returning it to the kernel once 128 KiB is free. A relay's buffers come and go in bursts of a
/// few MB; with the default the same pages were unmapped and faulted in again and again (GoVPN
/// relay load: 84 to 244 page faults per 1,000 messages in most runs and a third of the server's
/// CPU in the kernel, against 2 with this). Leaves an operator's own MALLOC_TRIM_THRESHOLD_ or
/// GLIBC_TUNABLES alone. Returns whether it changed anything. Call from main, before threads.


} // namespace Core
} // namespace Switchboard


#endif
