//
// TimeText.cpp
//


#include "TimeText.h"
#include "CivilTime.h"


namespace Switchboard {
namespace PeerVault {
namespace TimeText {


namespace {


using CivilTime::civilDate;
using CivilTime::daysSinceEpoch;
using CivilTime::floorDivide;

constexpr std::int64_t MILLIS_PER_SECOND = 1000;
constexpr std::int64_t MILLIS_PER_MINUTE = 60 * MILLIS_PER_SECOND;
constexpr std::int64_t MILLIS_PER_HOUR = 60 * MILLIS_PER_MINUTE;
constexpr std::int64_t MILLIS_PER_DAY = 24 * MILLIS_PER_HOUR;

// Days from 1970-01-01 to 0000-01-01 and to 10000-01-01: the range a four-digit year can show.
constexpr std::int64_t DAYS_TO_YEAR_0 = -719528;
constexpr std::int64_t DAYS_TO_YEAR_10000 = 2932897;
constexpr std::int64_t EARLIEST_MILLIS = DAYS_TO_YEAR_0 * MILLIS_PER_DAY;
constexpr std::int64_t LATEST_MILLIS = DAYS_TO_YEAR_10000 * MILLIS_PER_DAY - 1;

constexpr std::int64_t NANOS_PER_MILLI = 1000000;
// 100 years of 365.25 days: far above any sensible timeout, and under half of int64 nanoseconds'
// limit, so the sum of two in-range values never overflows.
constexpr std::int64_t MAX_DURATION_NANOS = 36525LL * 86400 * 1000000000;


bool isLeapYear(std::int64_t year)
{
	return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}


int daysInMonth(std::int64_t year, int month)
{
	static const int LENGTHS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 2 && isLeapYear(year) ? 29 : LENGTHS[month - 1];
}


char* writeDigits(char* out, std::int64_t value, int width)
/// value as exactly width decimal digits (zero-padded); returns the end.
{
	for (int i = width - 1; i >= 0; --i)
	{
		out[i] = static_cast<char>('0' + value % 10);
		value /= 10;
	}
	return out + width;
}


bool isDigit(char c)
{
	return c >= '0' && c <= '9';
}


bool readFixedDigits(std::string_view text, std::size_t& pos, int width, int& value)
{
	if (pos + static_cast<std::size_t>(width) > text.size())
		return false;
	value = 0;
	for (int i = 0; i < width; ++i)
	{
		const char c = text[pos++];
		if (!isDigit(c))
			return false;
		value = value * 10 + (c - '0');
	}
	return true;
}


bool readExpected(std::string_view text, std::size_t& pos, char expected)
{
	if (pos >= text.size() || text[pos] != expected)
		return false;
	++pos;
	return true;
}


bool unitNanos(std::string_view unit, std::int64_t& nanos)
{
	// Go accepts both the micro sign (U+00B5) and the Greek small mu (U+03BC).
	if (unit == "ns")
		nanos = 1;
	else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
		nanos = 1000;
	else if (unit == "ms")
		nanos = 1000000;
	else if (unit == "s")
		nanos = 1000000000;
	else if (unit == "m")
		nanos = 60LL * 1000000000;
	else if (unit == "h")
		nanos = 3600LL * 1000000000;
	else
		return false;
	return true;
}


bool readQuantity(std::string_view text, std::size_t& pos, std::string_view& whole, std::string_view& fraction)
/// digits, optionally '.' and digits; at least one digit on either side (Go accepts "1." and ".5").
{
	const std::size_t wholeStart = pos;
	while (pos < text.size() && isDigit(text[pos]))
		++pos;
	whole = text.substr(wholeStart, pos - wholeStart);
	fraction = {};
	if (pos < text.size() && text[pos] == '.')
	{
		const std::size_t fractionStart = ++pos;
		while (pos < text.size() && isDigit(text[pos]))
			++pos;
		fraction = text.substr(fractionStart, pos - fractionStart);
	}
	return !whole.empty() || !fraction.empty();
}


bool quantityNanos(std::string_view whole, std::string_view fraction, std::int64_t unit, std::int64_t& nanos)
/// (whole.fraction) × unit in nanoseconds, rounded down; false when the whole part alone passes
/// MAX_DURATION_NANOS (the caller bounds the total).
{
	const std::int64_t maxCount = MAX_DURATION_NANOS / unit;
	std::int64_t count = 0;
	for (const char c : whole)
	{
		const int digit = c - '0';
		if (count > (maxCount - digit) / 10)
			return false;
		count = count * 10 + digit;
	}
	// floor(unit × 0.d1d2…dk) exactly, from the last digit back: each step divides by ten, and
	// flooring at every step gives the same result as flooring once at the end.
	std::int64_t fractionPart = 0;
	for (auto digit = fraction.rbegin(); digit != fraction.rend(); ++digit)
		fractionPart = (fractionPart + (*digit - '0') * unit) / 10;
	nanos = count * unit + fractionPart;
	return true;
}


} // namespace


std::string formatTimestamp(std::int64_t unixMillis)
{
	std::string text;
	appendTimestamp(text, unixMillis);
	return text;
}


void appendTimestamp(std::string& out, std::int64_t unixMillis)
{
	// Outside years 0000..9999 the four-digit form cannot show the instant: clamp to the ends.
	if (unixMillis < EARLIEST_MILLIS)
		unixMillis = EARLIEST_MILLIS;
	else if (unixMillis > LATEST_MILLIS)
		unixMillis = LATEST_MILLIS;
	const std::int64_t days = floorDivide(unixMillis, MILLIS_PER_DAY);
	std::int64_t millisOfDay = unixMillis - days * MILLIS_PER_DAY;
	std::int64_t year = 0;
	int month = 0;
	int day = 0;
	civilDate(days, year, month, day);

	char text[24];
	char* p = writeDigits(text, year, 4);
	*p++ = '-';
	p = writeDigits(p, month, 2);
	*p++ = '-';
	p = writeDigits(p, day, 2);
	*p++ = 'T';
	p = writeDigits(p, millisOfDay / MILLIS_PER_HOUR, 2);
	millisOfDay %= MILLIS_PER_HOUR;
	*p++ = ':';
	p = writeDigits(p, millisOfDay / MILLIS_PER_MINUTE, 2);
	millisOfDay %= MILLIS_PER_MINUTE;
	*p++ = ':';
	p = writeDigits(p, millisOfDay / MILLIS_PER_SECOND, 2);
	*p++ = '.';
	p = writeDigits(p, millisOfDay % MILLIS_PER_SECOND, 3);
	*p++ = 'Z';
	out.append(text, static_cast<std::size_t>(p - text));
}


bool parseTimestamp(std::string_view text, std::int64_t& unixMillis)
{
	std::size_t pos = 0;
	int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
	if (!readFixedDigits(text, pos, 4, year) || !readExpected(text, pos, '-') ||
	    !readFixedDigits(text, pos, 2, month) || !readExpected(text, pos, '-') || !readFixedDigits(text, pos, 2, day))
		return false;
	if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
		return false;
	++pos;
	if (!readFixedDigits(text, pos, 2, hour) || !readExpected(text, pos, ':') ||
	    !readFixedDigits(text, pos, 2, minute) || !readExpected(text, pos, ':') ||
	    !readFixedDigits(text, pos, 2, second))
		return false;
	if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
		return false;

	int millis = 0;
	if (pos < text.size() && text[pos] == '.')
	{
		++pos;
		const std::size_t digitsStart = pos;
		for (; pos < text.size() && isDigit(text[pos]); ++pos)
			if (pos - digitsStart < 3)
				millis = millis * 10 + (text[pos] - '0');
		const std::size_t digitCount = pos - digitsStart;
		if (digitCount == 0)
			return false;
		for (std::size_t shown = digitCount; shown < 3; ++shown)
			millis *= 10;
	}

	std::int64_t offsetMinutes = 0;
	if (pos >= text.size())
		return false;
	const char zone = text[pos++];
	if (zone == '+' || zone == '-')
	{
		int offsetHours = 0, offsetMinutesPart = 0;
		if (!readFixedDigits(text, pos, 2, offsetHours) || !readExpected(text, pos, ':') ||
		    !readFixedDigits(text, pos, 2, offsetMinutesPart) || offsetHours > 23 || offsetMinutesPart > 59)
			return false;
		offsetMinutes = offsetHours * 60 + offsetMinutesPart;
		if (zone == '-')
			offsetMinutes = -offsetMinutes;
	}
	else if (zone != 'Z' && zone != 'z')
		return false;
	if (pos != text.size())
		return false;

	const std::int64_t result = daysSinceEpoch(year, month, day) * MILLIS_PER_DAY + hour * MILLIS_PER_HOUR +
	                            minute * MILLIS_PER_MINUTE + second * MILLIS_PER_SECOND + millis -
	                            offsetMinutes * MILLIS_PER_MINUTE;
	// An offset can carry year 0000 or 9999 across the edge; such an instant has no UTC text.
	if (result < EARLIEST_MILLIS || result > LATEST_MILLIS)
		return false;
	unixMillis = result;
	return true;
}


std::string formatUptime(std::int64_t millis)
{
	if (millis <= 0)
		return "0s";
	if (millis < MILLIS_PER_SECOND)
		return std::to_string(millis) + "ms";
	std::string text;
	const std::int64_t hours = millis / MILLIS_PER_HOUR;
	const std::int64_t minutes = millis % MILLIS_PER_HOUR / MILLIS_PER_MINUTE;
	const std::int64_t seconds = millis % MILLIS_PER_MINUTE / MILLIS_PER_SECOND;
	std::int64_t fraction = millis % MILLIS_PER_SECOND;
	if (hours > 0)
		text += std::to_string(hours) + 'h';
	if (hours > 0 || minutes > 0)
		text += std::to_string(minutes) + 'm';
	text += std::to_string(seconds);
	if (fraction > 0)
	{
		int width = 3;
		while (fraction % 10 == 0)
		{
			fraction /= 10;
			--width;
		}
		char digits[3];
		text += '.';
		text.append(digits, static_cast<std::size_t>(writeDigits(digits, fraction, width) - digits));
	}
	text += 's';
	return text;
}


bool parseDuration(std::string_view text, std::int64_t& millis)
{
	std::size_t pos = 0;
	// Only '+' is allowed: a '-' would make a negative duration, which nothing here accepts.
	if (pos < text.size() && text[pos] == '+')
		++pos;
	if (pos == text.size())
		return false;

	std::int64_t totalNanos = 0;
	bool first = true;
	while (pos < text.size())
	{
		std::string_view whole, fraction;
		if (!readQuantity(text, pos, whole, fraction))
			return false;
		const std::size_t unitStart = pos;
		while (pos < text.size() && !isDigit(text[pos]) && text[pos] != '.')
			++pos;
		const std::string_view unit = text.substr(unitStart, pos - unitStart);
		std::int64_t unitSize = 0;
		if (unit.empty())
		{
			// The contract's extension: a bare number, and nothing else, means seconds.
			if (!first || pos != text.size())
				return false;
			unitSize = 1000000000;
		}
		else if (!unitNanos(unit, unitSize))
			return false;
		std::int64_t nanos = 0;
		if (!quantityNanos(whole, fraction, unitSize, nanos))
			return false;
		totalNanos += nanos;
		if (totalNanos > MAX_DURATION_NANOS)
			return false;
		first = false;
	}
	millis = totalNanos / NANOS_PER_MILLI;
	return true;
}


} // namespace TimeText
} // namespace PeerVault
} // namespace Switchboard
