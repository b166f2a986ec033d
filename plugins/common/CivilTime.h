//
// CivilTime.h
//
// UTC calendar dates and times from Unix time, computed here rather than with gmtime_r/gmtime_s:
// Windows' C library refuses instants before 1970, and the plugins must format any instant the
// same way on every platform. Proleptic Gregorian calendar, every int64 day count.
//


#ifndef Switchboard_CivilTime_INCLUDED
#define Switchboard_CivilTime_INCLUDED


#include <cstdint>


namespace Switchboard {
namespace CivilTime {


struct UtcTime
{
	std::int64_t year = 1970;
	int month = 1; ///< 1..12
	int day = 1;   ///< 1..31
	int hour = 0;
	int minute = 0;
	int second = 0;
	int weekday = 4; ///< 0 = Sunday .. 6 = Saturday
};


/// value / divisor rounded towards negative infinity (divisor > 0).
std::int64_t floorDivide(std::int64_t value, std::int64_t divisor);

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
std::int64_t daysSinceEpoch(std::int64_t year, int month, int day);

/// The date of a day count since 1970-01-01 (the inverse of daysSinceEpoch).
void civilDate(std::int64_t days, std::int64_t& year, int& month, int& day);

/// The UTC date and time of whole seconds since 1970-01-01T00:00:00Z, before 1970 too.
UtcTime utcTime(std::int64_t unixSeconds);


} // namespace CivilTime
} // namespace Switchboard


#endif // Switchboard_CivilTime_INCLUDED
