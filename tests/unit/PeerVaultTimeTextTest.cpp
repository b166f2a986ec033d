//
// PeerVaultTimeTextTest.cpp
//
// PeerVault's time formats: UTC timestamps with three fractional digits (checked day by day
// against the C library's timegm), RFC 3339 input with offsets, fractions, leap years and bad
// dates, Go-style uptimes as /ws/health prints them, and Go durations as the configuration
// accepts them, including a bare number of seconds.
//


#include "TimeText.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <regex>
#include <string>


namespace TimeText = Switchboard::PeerVault::TimeText;


namespace {


constexpr std::int64_t EARLIEST_MILLIS = -62167219200000;    // 0000-01-01T00:00:00.000Z
constexpr std::int64_t LATEST_MILLIS = 253402300799999;      // 9999-12-31T23:59:59.999Z
constexpr std::int64_t NEW_YEAR_2024_MILLIS = 1704067200000; // 2024-01-01T00:00:00.000Z


std::int64_t parsedTimestamp(const std::string& text)
{
	std::int64_t millis = 0;
	CPPUNIT_ASSERT_MESSAGE(text, TimeText::parseTimestamp(text, millis));
	return millis;
}


std::int64_t parsedDuration(const std::string& text)
{
	std::int64_t millis = -1;
	CPPUNIT_ASSERT_MESSAGE(text, TimeText::parseDuration(text, millis));
	return millis;
}


std::string expectedText(int year, int month, int day, int hour, int minute, int second, int millis)
{
	char text[80];
	std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day, hour, minute, second,
	              millis);
	return text;
}


} // namespace


class PeerVaultTimeTextTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultTimeTextTest);
	CPPUNIT_TEST(testFormatTimestamp);
	CPPUNIT_TEST(testFormatClampsToFourDigitYears);
	CPPUNIT_TEST(testCalendarAgainstTimegm);
	CPPUNIT_TEST(testParseTimestamp);
	CPPUNIT_TEST(testParseOffsetsAndFractions);
	CPPUNIT_TEST(testLeapYears);
	CPPUNIT_TEST(testBadTimestamps);
	CPPUNIT_TEST(testTimestampRangeEdges);
	CPPUNIT_TEST(testFormatUptime);
	CPPUNIT_TEST(testUptimeMatchesHealthPattern);
	CPPUNIT_TEST(testParseDuration);
	CPPUNIT_TEST(testDurationPrecision);
	CPPUNIT_TEST(testDurationBound);
	CPPUNIT_TEST(testBadDurations);
	CPPUNIT_TEST_SUITE_END();

public:
	void testFormatTimestamp()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00.000Z"), TimeText::formatTimestamp(0));
		CPPUNIT_ASSERT_EQUAL(std::string("2024-01-01T00:00:00.123Z"),
		                     TimeText::formatTimestamp(NEW_YEAR_2024_MILLIS + 123));
		CPPUNIT_ASSERT_EQUAL(std::string("1969-12-31T23:59:59.999Z"), TimeText::formatTimestamp(-1));
		CPPUNIT_ASSERT_EQUAL(std::string("2024-02-29T12:34:56.789Z"), TimeText::formatTimestamp(1709210096789));
		CPPUNIT_ASSERT_EQUAL(std::string("2000-02-29T00:00:00.000Z"), TimeText::formatTimestamp(951782400000));
		CPPUNIT_ASSERT_EQUAL(std::string("1900-03-01T00:00:00.000Z"), TimeText::formatTimestamp(-2203891200000));
		CPPUNIT_ASSERT_EQUAL(std::string("0000-01-01T00:00:00.000Z"), TimeText::formatTimestamp(EARLIEST_MILLIS));
		CPPUNIT_ASSERT_EQUAL(std::string("9999-12-31T23:59:59.999Z"), TimeText::formatTimestamp(LATEST_MILLIS));

		std::string out = "at ";
		TimeText::appendTimestamp(out, NEW_YEAR_2024_MILLIS + 2);
		CPPUNIT_ASSERT_EQUAL(std::string("at 2024-01-01T00:00:00.002Z"), out);
	}

	void testFormatClampsToFourDigitYears()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("0000-01-01T00:00:00.000Z"), TimeText::formatTimestamp(EARLIEST_MILLIS - 1));
		CPPUNIT_ASSERT_EQUAL(std::string("0000-01-01T00:00:00.000Z"),
		                     TimeText::formatTimestamp(std::numeric_limits<std::int64_t>::min()));
		CPPUNIT_ASSERT_EQUAL(std::string("9999-12-31T23:59:59.999Z"), TimeText::formatTimestamp(LATEST_MILLIS + 1));
		CPPUNIT_ASSERT_EQUAL(std::string("9999-12-31T23:59:59.999Z"),
		                     TimeText::formatTimestamp(std::numeric_limits<std::int64_t>::max()));
	}

	void testCalendarAgainstTimegm()
	{
		// Every day of 1890..2110, then every 13th day across the whole range (the stride visits
		// every month and every day of the week), each at a time of day that varies with the day.
		const auto check = [](std::int64_t day) {
			const std::int64_t secondOfDay = (day * 7919 % 86400 + 86400) % 86400;
			const int fraction = static_cast<int>((day * 31 % 1000 + 1000) % 1000);
			const auto seconds = static_cast<std::time_t>(day * 86400 + secondOfDay);
			const std::int64_t millis = static_cast<std::int64_t>(seconds) * 1000 + fraction;
			std::tm parts{};
			CPPUNIT_ASSERT(gmtime_r(&seconds, &parts) != nullptr);
			const std::string text = TimeText::formatTimestamp(millis);
			CPPUNIT_ASSERT_EQUAL(expectedText(parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
			                                  parts.tm_min, parts.tm_sec, fraction),
			                     text);
			CPPUNIT_ASSERT_EQUAL(millis, parsedTimestamp(text));
			CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(timegm(&parts)), static_cast<std::int64_t>(seconds));
		};
		for (std::int64_t day = -29220; day <= 51135; ++day)
			check(day);
		for (std::int64_t day = EARLIEST_MILLIS / 86400000; day <= LATEST_MILLIS / 86400000; day += 13)
			check(day);
	}

	void testParseTimestamp()
	{
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS + 123, parsedTimestamp("2024-01-01T00:00:00.123Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01t00:00:00z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01 00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), parsedTimestamp("1970-01-01T00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(-1), parsedTimestamp("1969-12-31T23:59:59.999Z"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1709210096789), parsedTimestamp("2024-02-29T12:34:56.789Z"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(951782400000), parsedTimestamp("2000-02-29T00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(std::string("2024-07-15T08:09:10.500Z"),
		                     TimeText::formatTimestamp(parsedTimestamp("2024-07-15T08:09:10.5Z")));
	}

	void testParseOffsetsAndFractions()
	{
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T01:00:00+01:00"));
		CPPUNIT_ASSERT_EQUAL(std::string("2024-01-01T00:00:00.000Z"),
		                     TimeText::formatTimestamp(parsedTimestamp("2024-01-01T01:00:00+01:00")));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2023-12-31T19:00:00-05:00"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T05:30:00+05:30"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T00:00:00-00:00"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T23:59:00+23:59"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2023-12-31T00:01:00-23:59"));
		// Crossing a leap day backwards.
		CPPUNIT_ASSERT_EQUAL(std::string("2024-02-29T23:30:00.000Z"),
		                     TimeText::formatTimestamp(parsedTimestamp("2024-03-01T01:00:00+01:30")));

		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS + 100, parsedTimestamp("2024-01-01T00:00:00.1Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS + 120, parsedTimestamp("2024-01-01T00:00:00.12Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS + 123, parsedTimestamp("2024-01-01T00:00:00.123999999Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS + 999,
		                     parsedTimestamp("2024-01-01T00:00:00.99999999999999999999999999Z"));
		CPPUNIT_ASSERT_EQUAL(NEW_YEAR_2024_MILLIS, parsedTimestamp("2024-01-01T00:00:00.000000Z"));
		// Fractions are truncated toward earlier time, also before 1970.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(-1), parsedTimestamp("1969-12-31T23:59:59.9999Z"));
	}

	void testLeapYears()
	{
		std::int64_t millis = 0;
		for (const char* leapDay : {"2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2400-02-29T00:00:00Z",
		                            "1600-02-29T00:00:00Z", "0000-02-29T00:00:00Z", "1996-02-29T23:59:59Z"})
		{
			CPPUNIT_ASSERT_MESSAGE(leapDay, TimeText::parseTimestamp(leapDay, millis));
			CPPUNIT_ASSERT_EQUAL(std::string(leapDay).substr(0, 19), TimeText::formatTimestamp(millis).substr(0, 19));
		}
		for (const char* notLeapDay : {"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		                               "2200-02-29T00:00:00Z", "0100-02-29T00:00:00Z", "2024-02-30T00:00:00Z"})
			CPPUNIT_ASSERT_MESSAGE(notLeapDay, !TimeText::parseTimestamp(notLeapDay, millis));
		// The day after a leap day is March 1st, and the year has 366 days.
		CPPUNIT_ASSERT_EQUAL(std::string("2024-03-01T00:00:00.000Z"),
		                     TimeText::formatTimestamp(parsedTimestamp("2024-02-29T00:00:00Z") + 86400000));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(366) * 86400000,
		                     parsedTimestamp("2025-01-01T00:00:00Z") - parsedTimestamp("2024-01-01T00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(365) * 86400000,
		                     parsedTimestamp("1901-01-01T00:00:00Z") - parsedTimestamp("1900-01-01T00:00:00Z"));
	}

	void testBadTimestamps()
	{
		std::int64_t millis = 42;
		for (const char* text : {"",
		                         "yesterday",
		                         "2024-01-01",
		                         "2024-01-01T00:00:00",
		                         "2024-01-01T00:00Z",
		                         "2024-13-01T00:00:00Z",
		                         "2024-00-10T00:00:00Z",
		                         "2024-01-00T00:00:00Z",
		                         "2024-01-32T00:00:00Z",
		                         "2024-04-31T00:00:00Z",
		                         "2024-06-31T00:00:00Z",
		                         "2024-09-31T00:00:00Z",
		                         "2024-11-31T00:00:00Z",
		                         "2024-01-01T24:00:00Z",
		                         "2024-01-01T00:60:00Z",
		                         "2024-01-01T23:59:60Z",
		                         "2024-01-01T00:00:00.Z",
		                         "2024-01-01T00:00:00,5Z",
		                         "2024-01-01T00:00:00+01",
		                         "2024-01-01T00:00:00+0100",
		                         "2024-01-01T00:00:00+24:00",
		                         "2024-01-01T00:00:00+01:60",
		                         "2024-01-01T00:00:00UTC",
		                         "2024-01-01T00:00:00Z ",
		                         " 2024-01-01T00:00:00Z",
		                         "2024-01-01  00:00:00Z",
		                         "2024-01-01X00:00:00Z",
		                         "2024-1-01T00:00:00Z",
		                         "24-01-01T00:00:00Z",
		                         "+2024-01-01T00:00:00Z",
		                         "2024/01/01T00:00:00Z",
		                         "2024-01-01T0:00:00Z",
		                         "2024-01-01T00:00:00ZZ",
		                         "2024-0a-01T00:00:00Z",
		                         "１２３４-01-01T00:00:00Z"})
			CPPUNIT_ASSERT_MESSAGE(text, !TimeText::parseTimestamp(text, millis));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(42), millis);
	}

	void testTimestampRangeEdges()
	{
		CPPUNIT_ASSERT_EQUAL(EARLIEST_MILLIS, parsedTimestamp("0000-01-01T00:00:00Z"));
		CPPUNIT_ASSERT_EQUAL(LATEST_MILLIS, parsedTimestamp("9999-12-31T23:59:59.999Z"));
		CPPUNIT_ASSERT_EQUAL(EARLIEST_MILLIS, parsedTimestamp("0000-01-01T01:00:00+01:00"));
		// An offset that moves the instant out of years 0000..9999 leaves nothing to print.
		std::int64_t millis = 0;
		CPPUNIT_ASSERT(!TimeText::parseTimestamp("0000-01-01T00:30:00+01:00", millis));
		CPPUNIT_ASSERT(!TimeText::parseTimestamp("9999-12-31T23:30:00-01:00", millis));
	}

	void testFormatUptime()
	{
		// The contract's examples first.
		CPPUNIT_ASSERT_EQUAL(std::string("1.008s"), TimeText::formatUptime(1008));
		CPPUNIT_ASSERT_EQUAL(std::string("2m3.5s"), TimeText::formatUptime(123500));
		CPPUNIT_ASSERT_EQUAL(std::string("1h0m0s"), TimeText::formatUptime(3600000));
		CPPUNIT_ASSERT_EQUAL(std::string("26h3m4.25s"), TimeText::formatUptime(93784250));
		CPPUNIT_ASSERT_EQUAL(std::string("1m3.5s"), TimeText::formatUptime(63500));
		CPPUNIT_ASSERT_EQUAL(std::string("5m0s"), TimeText::formatUptime(300000));
		CPPUNIT_ASSERT_EQUAL(std::string("0s"), TimeText::formatUptime(0));

		CPPUNIT_ASSERT_EQUAL(std::string("850ms"), TimeText::formatUptime(850));
		CPPUNIT_ASSERT_EQUAL(std::string("1ms"), TimeText::formatUptime(1));
		CPPUNIT_ASSERT_EQUAL(std::string("999ms"), TimeText::formatUptime(999));
		CPPUNIT_ASSERT_EQUAL(std::string("1s"), TimeText::formatUptime(1000));
		CPPUNIT_ASSERT_EQUAL(std::string("1.1s"), TimeText::formatUptime(1100));
		CPPUNIT_ASSERT_EQUAL(std::string("1.01s"), TimeText::formatUptime(1010));
		CPPUNIT_ASSERT_EQUAL(std::string("59.999s"), TimeText::formatUptime(59999));
		CPPUNIT_ASSERT_EQUAL(std::string("1m0s"), TimeText::formatUptime(60000));
		CPPUNIT_ASSERT_EQUAL(std::string("59m59s"), TimeText::formatUptime(3599000));
		CPPUNIT_ASSERT_EQUAL(std::string("1h0m1s"), TimeText::formatUptime(3601000));
		CPPUNIT_ASSERT_EQUAL(std::string("1h1m0s"), TimeText::formatUptime(3660000));
		CPPUNIT_ASSERT_EQUAL(std::string("1h0m0.001s"), TimeText::formatUptime(3600001));
		CPPUNIT_ASSERT_EQUAL(std::string("876600h0m0s"), TimeText::formatUptime(3155760000000));
		CPPUNIT_ASSERT_EQUAL(std::string("0s"), TimeText::formatUptime(-5));
	}

	void testUptimeMatchesHealthPattern()
	{
		const std::regex pattern(R"(^(\d+h)?(\d+m)?\d+(\.\d+)?s$|^\d+ms$)");
		for (std::int64_t millis = 0; millis < 10000000; millis = millis * 3 / 2 + 7)
		{
			const std::string uptime = TimeText::formatUptime(millis);
			CPPUNIT_ASSERT_MESSAGE(uptime, std::regex_match(uptime, pattern));
			// What /ws/health prints reads back as the same duration.
			CPPUNIT_ASSERT_EQUAL(millis, parsedDuration(uptime));
		}
	}

	void testParseDuration()
	{
		CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), parsedDuration("30s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(90000), parsedDuration("1m30s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1500), parsedDuration("1.5s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(54000), parsedDuration("54s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(70000), parsedDuration("70s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3600000), parsedDuration("1h"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(9900000), parsedDuration("2h45m"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5400000), parsedDuration("1.5h"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(300), parsedDuration("300ms"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3661001), parsedDuration("1h1m1s1ms"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(61000), parsedDuration("1s1m"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2000), parsedDuration("1s1s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), parsedDuration("+5s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), parsedDuration("1.s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(500), parsedDuration(".5s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), parsedDuration("0s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), parsedDuration("0"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), parsedDuration("005s"));
		// Microseconds in all three spellings, nanoseconds; results are rounded down.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), parsedDuration("2500us"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), parsedDuration("2500\xC2\xB5s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), parsedDuration("2500\xCE\xBCs"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), parsedDuration("3999999ns"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), parsedDuration("999999ns"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), parsedDuration("500us500000ns"));
		// A bare number means seconds.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), parsedDuration("30"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(500), parsedDuration("0.5"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1250), parsedDuration("+1.25"));
	}

	void testDurationPrecision()
	{
		// Exact decimal arithmetic: no binary floating-point error creeps into the milliseconds.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(300), parsedDuration("0.3s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3960000), parsedDuration("1.1h"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), parsedDuration("0.001s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), parsedDuration("0.0009s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(999), parsedDuration("0.99999999999999999999999999s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), parsedDuration("1.0000000000000000000001s"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(59999), parsedDuration("0.99999999999999999999m"));
	}

	void testDurationBound()
	{
		// 100 years of 365.25 days is the most accepted.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3155760000000), parsedDuration("876600h"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3155760000000), parsedDuration("3155760000"));
		std::int64_t millis = 7;
		for (const char* text :
		     {"876600h1ns", "876601h", "876599h61m", "3155760000.000000001", "99999999999999999999s",
		      "9223372036854775807ns", "9223372036854775808ns", "438300h438300h1ms", "1000000000000000000000000h"})
			CPPUNIT_ASSERT_MESSAGE(text, !TimeText::parseDuration(text, millis));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), millis);
	}

	void testBadDurations()
	{
		std::int64_t millis = 7;
		for (const char* text :
		     {"",          "+",         "-5s",  "-0",   "-0s",   "s",   "5x",  "5sec", "5S",           "5Ms",   "5H",
		      "1m30",      "30 s",      " 30s", "30s ", "1..5s", ".s",  ".",   "1e3s", "0x10",         "1h-5m", "1.5.5",
		      "5\xCE\xBC", "5\xC2\xB5", "5mss", "++5s", "5s+",   "NaN", "inf", "1,5s", "\xEF\xBC\x95s"})
			CPPUNIT_ASSERT_MESSAGE(text, !TimeText::parseDuration(text, millis));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), millis);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultTimeTextTest);
