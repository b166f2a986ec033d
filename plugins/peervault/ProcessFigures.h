//
// ProcessFigures.h
//
// What the metrics ticker samples from the running process and its file system: resident memory,
// physical memory, CPU time, CPU count and the space of one directory's file system. Each call
// reads the operating system afresh. Thread-safe.
//


#ifndef Switchboard_PeerVault_ProcessFigures_INCLUDED
#define Switchboard_PeerVault_ProcessFigures_INCLUDED


#include <cstdint>
#include <string>


namespace Switchboard {
namespace PeerVault {
namespace ProcessFigures {


std::int64_t residentBytes();
/// The process's RSS in bytes (/proc/self/statm resident × page size); 0 if unreadable.

std::int64_t physicalMemoryBytes();
/// Installed RAM in bytes (sysconf pages × page size); 0 if unknown.

std::int64_t cpuTimeMicros();
/// User + system CPU time of the whole process since it started, in microseconds.

int cpuCount();
/// Online CPUs, at least 1.


struct DiskSpace
{
	std::int64_t totalBytes = 0;     ///< f_blocks × f_frsize
	std::int64_t availableBytes = 0; ///< f_bavail × f_frsize
	std::int64_t usedBytes = 0;      ///< (f_blocks − f_bfree) × f_frsize
};

bool diskSpace(const std::string& path, DiskSpace& space);
/// statvfs of path; false when it fails (the path missing, for one).


} // namespace ProcessFigures
} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_ProcessFigures_INCLUDED
