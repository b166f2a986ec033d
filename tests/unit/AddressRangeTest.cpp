//
// AddressRangeTest.cpp
//
// util/AddressRange.h: address and CIDR parsing (what is refused and why), IPv4 and its
// IPv4-mapped IPv6 spelling treated as one address, and range membership at prefix edges.
//


#include "switchboard/util/AddressRange.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>


using namespace Switchboard;


namespace {

IpAddress address(const std::string& text)
{
	IpAddress out;
	CPPUNIT_ASSERT_MESSAGE(text, IpAddress::parse(text, out));
	return out;
}

AddressRange range(const std::string& text)
{
	AddressRange out;
	CPPUNIT_ASSERT_MESSAGE(text, AddressRange::parse(text, out));
	return out;
}

} // namespace


class AddressRangeTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(AddressRangeTest);
	CPPUNIT_TEST(testAddressesParseToCanonicalText);
	CPPUNIT_TEST(testMalformedAddressesAreRefused);
	CPPUNIT_TEST(testMappedIpv4IsTheSameAddress);
	CPPUNIT_TEST(testRangesContainTheirAddressesOnly);
	CPPUNIT_TEST(testMalformedRangesAreRefused);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAddressesParseToCanonicalText()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.7"), address("192.0.2.7").text());
		CPPUNIT_ASSERT_EQUAL(std::string("2001:db8::1"), address("2001:0DB8:0:0::1").text());
		CPPUNIT_ASSERT_EQUAL(std::string("::1"), address("[::1]").text());
		CPPUNIT_ASSERT(address("10.0.0.1").isV4());
		CPPUNIT_ASSERT(!address("::1").isV4());
	}

	void testMalformedAddressesAreRefused()
	{
		IpAddress out;
		for (const char* text :
		     {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:80", "::g", "[::1",
		      "fe80::1%eth0", "localhost", "1:2:3:4:5:6:7:8:9", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa"})
			CPPUNIT_ASSERT_MESSAGE(text, !IpAddress::parse(text, out));
	}

	void testMappedIpv4IsTheSameAddress()
	{
		CPPUNIT_ASSERT(address("::ffff:10.1.2.3") == address("10.1.2.3"));
		CPPUNIT_ASSERT_EQUAL(std::string("10.1.2.3"), address("::ffff:10.1.2.3").text());
		CPPUNIT_ASSERT(range("10.0.0.0/8").contains(address("::ffff:10.200.0.1")));
	}

	void testRangesContainTheirAddressesOnly()
	{
		AddressRange tens = range("10.0.0.0/8");
		CPPUNIT_ASSERT(tens.contains(address("10.0.0.0")));
		CPPUNIT_ASSERT(tens.contains(address("10.255.255.255")));
		CPPUNIT_ASSERT(!tens.contains(address("11.0.0.0")));
		CPPUNIT_ASSERT(!tens.contains(address("9.255.255.255")));

		AddressRange edge = range("192.0.2.128/25");
		CPPUNIT_ASSERT(edge.contains(address("192.0.2.128")));
		CPPUNIT_ASSERT(!edge.contains(address("192.0.2.127")));

		AddressRange single = range("192.0.2.7");
		CPPUNIT_ASSERT(single.contains(address("192.0.2.7")));
		CPPUNIT_ASSERT(!single.contains(address("192.0.2.8")));

		AddressRange v6 = range("2001:db8::/32");
		CPPUNIT_ASSERT(v6.contains(address("2001:db8:ffff::1")));
		CPPUNIT_ASSERT(!v6.contains(address("2001:db9::1")));
		CPPUNIT_ASSERT(!v6.contains(address("10.0.0.1")));

		// An IPv4 /0 covers every IPv4 address and no IPv6 one; ::/0 covers everything.
		CPPUNIT_ASSERT(range("0.0.0.0/0").contains(address("203.0.113.9")));
		CPPUNIT_ASSERT(!range("0.0.0.0/0").contains(address("2001:db8::1")));
		CPPUNIT_ASSERT(range("::/0").contains(address("203.0.113.9")));
		CPPUNIT_ASSERT(range("::1/128").contains(address("::1")));
	}

	void testMalformedRangesAreRefused()
	{
		AddressRange out;
		for (const char* text : {"10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.1/8",
		                         "2001:db8::/129", "2001:db8::1/32", "/8", "10.0.0.0/0008"})
			CPPUNIT_ASSERT_MESSAGE(text, !AddressRange::parse(text, out));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(AddressRangeTest);
