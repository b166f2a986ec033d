//
// ProcessFigures.cpp
//


#include "ProcessFigures.h"
#include <cstdio>
#include <ctime>
#include <limits>

#if defined(_WIN32)
#include <filesystem>
#include <thread>
#include <windows.h>
#include <psapi.h>
#else
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>
#endif


namespace Switchboard {
namespace PeerVault {
namespace ProcessFigures {


#if defined(_WIN32)


std::int64_t residentBytes()
{
	PROCESS_MEMORY_COUNTERS memory{};
	if (!::GetProcessMemoryInfo(::GetCurrentProcess(), &memory, sizeof(memory)))
		return 0;
	return static_cast<std::int64_t>(memory.WorkingSetSize);
}


std::int64_t physicalMemoryBytes()
{
	MEMORYSTATUSEX status{};
	status.dwLength = sizeof(status);
	if (!::GlobalMemoryStatusEx(&status))
		return 0;
	return static_cast<std::int64_t>(status.ullTotalPhys);
}


std::int64_t cpuTimeMicros()
{
	FILETIME created, exited, kernel, user;
	if (!::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user))
		return 0;
	auto ticks = [](const FILETIME& time) { // 100 ns units
		return (static_cast<std::int64_t>(time.dwHighDateTime) << 32) | time.dwLowDateTime;
	};
	return (ticks(kernel) + ticks(user)) / 10;
}


int cpuCount()
{
	const unsigned count = std::thread::hardware_concurrency();
	return count > 0 ? static_cast<int>(count) : 1;
}


bool diskSpace(const std::string& path, DiskSpace& space)
{
	std::error_code error;
	const std::filesystem::space_info info = std::filesystem::space(path, error);
	if (path.empty() || error)
		return false;
	space.totalBytes = static_cast<std::int64_t>(info.capacity);
	space.availableBytes = static_cast<std::int64_t>(info.available);
	space.usedBytes = static_cast<std::int64_t>(info.capacity - info.free);
	return true;
}


#else


namespace {


std::int64_t pageSize()
{
	const long size = sysconf(_SC_PAGESIZE);
	return size > 0 ? size : 4096;
}


std::int64_t bytes(unsigned long long count, unsigned long long unit)
/// count × unit, saturated instead of wrapping (a huge network file system must not go negative).
{
	constexpr unsigned long long MAX = static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max());
	if (unit != 0 && count > MAX / unit)
		return std::numeric_limits<std::int64_t>::max();
	return static_cast<std::int64_t>(count * unit);
}


} // namespace


std::int64_t residentBytes()
{
	std::FILE* file = std::fopen("/proc/self/statm", "r");
	if (file == nullptr)
		return 0;
	unsigned long long sizePages = 0, residentPages = 0;
	const int fields = std::fscanf(file, "%llu %llu", &sizePages, &residentPages);
	std::fclose(file);
	return fields == 2 ? bytes(residentPages, static_cast<unsigned long long>(pageSize())) : 0;
}


std::int64_t physicalMemoryBytes()
{
	const long pages = sysconf(_SC_PHYS_PAGES);
	return pages > 0 ? bytes(static_cast<unsigned long long>(pages), static_cast<unsigned long long>(pageSize())) : 0;
}


std::int64_t cpuTimeMicros()
{
	// Nanosecond resolution and every thread of the process, user and system time together.
	timespec now{};
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now) == 0)
		return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
	rusage usage{};
	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return 0;
	return (static_cast<std::int64_t>(usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) * 1000000 +
	       usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}


int cpuCount()
{
	const long count = sysconf(_SC_NPROCESSORS_ONLN);
	return count > 0 ? static_cast<int>(count) : 1;
}


bool diskSpace(const std::string& path, DiskSpace& space)
{
	struct statvfs figures
	{
	};
	if (path.empty() || statvfs(path.c_str(), &figures) != 0)
		return false;
	// f_frsize is the unit of the block counts; some old file systems leave it 0.
	const unsigned long long unit = figures.f_frsize != 0 ? figures.f_frsize : figures.f_bsize;
	const unsigned long long freeBlocks = figures.f_bfree < figures.f_blocks ? figures.f_bfree : figures.f_blocks;
	space.totalBytes = bytes(figures.f_blocks, unit);
	space.availableBytes = bytes(figures.f_bavail, unit);
	space.usedBytes = bytes(figures.f_blocks - freeBlocks, unit);
	return true;
}


#endif


} // namespace ProcessFigures
} // namespace PeerVault
} // namespace Switchboard
