//
// CivilTime.cpp
//


#include "CivilTime.h"


namespace Switchboard {
namespace CivilTime {


namespace {


// The calendar repeats every 400 years; counting from a March 1st puts the leap day at the end of
// each year, where it changes no other date.
constexpr std::int64_t DAYS_PER_400_YEARS = 146097;
constexpr std::int64_t DAYS_FROM_0000_03_01_TO_EPOCH = 719468;
constexpr std::int64_t SECONDS_PER_DAY = 86400;


} // namespace


std::int64_t floorDivide(std::int64_t value, std::int64_t divisor)
{
	const std::int64_t quotient = value / divisor;
	return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}


std::int64_t daysSinceEpoch(std::int64_t year, int month, int day)
{
	// Treat January and February as months 11 and 12 of the previous March-based year.
	const std::int64_t marchYear = month <= 2 ? year - 1 : year;
	const int monthFromMarch = month <= 2 ? month + 9 : month - 3;
	const std::int64_t era = floorDivide(marchYear, 400);
	const std::int64_t yearOfEra = marchYear - era * 400;
	// Month lengths from March run 31,30,31,30,31 and repeat; (153m + 2) / 5 sums them exactly.
	const std::int64_t dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1;
	const std::int64_t dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
	return era * DAYS_PER_400_YEARS + dayOfEra - DAYS_FROM_0000_03_01_TO_EPOCH;
}


void civilDate(std::int64_t days, std::int64_t& year, int& month, int& day)
{
	const std::int64_t shifted = days + DAYS_FROM_0000_03_01_TO_EPOCH;
	const std::int64_t era = floorDivide(shifted, DAYS_PER_400_YEARS);
	const std::int64_t dayOfEra = shifted - era * DAYS_PER_400_YEARS;
	// Remove the leap days of the years before this one (every 4th, not every 100th, every 400th;
	// the era's last day is the 400th year's leap day) to find the year within the era.
	const std::int64_t yearOfEra =
	    (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / (DAYS_PER_400_YEARS - 1)) / 365;
	const std::int64_t dayOfYear = dayOfEra - (yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100);
	const std::int64_t monthFromMarch = (5 * dayOfYear + 2) / 153;
	day = static_cast<int>(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1);
	month = static_cast<int>(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9);
	year = era * 400 + yearOfEra + (month <= 2 ? 1 : 0);
}


UtcTime utcTime(std::int64_t unixSeconds)
{
	UtcTime t;
	const std::int64_t days = floorDivide(unixSeconds, SECONDS_PER_DAY);
	const std::int64_t secondOfDay = unixSeconds - days * SECONDS_PER_DAY;
	civilDate(days, t.year, t.month, t.day);
	t.hour = static_cast<int>(secondOfDay / 3600);
	t.minute = static_cast<int>(secondOfDay / 60 % 60);
	t.second = static_cast<int>(secondOfDay % 60);
	// 1970-01-01 was a Thursday.
	t.weekday = static_cast<int>(days - floorDivide(days + 4, 7) * 7 + 4);
	return t;
}


} // namespace CivilTime
} // namespace Switchboard
