//
// AbuseLimitsTest.cpp
//
// The HTTP front's abuse limits without sockets: how client addresses are grouped (IPv4 by
// address, IPv6 by prefix, IPv4-mapped as IPv4), the per-client count and its release, the upgrade
// token bucket, the pending-handshake cap, and the bounded table of idle clients.
//


#include "http/AbuseLimits.h"
#include <arpa/inet.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <vector>


using Switchboard::Core::AbuseLimits;
using Switchboard::Core::ClientKey;
using Switchboard::Core::HttpSettings;


namespace {

ClientKey keyOf(const std::string& literal, int ipv6Prefix = 64)
{
	sockaddr_storage address{};
	auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
	auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
	if (::inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (::inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		throw std::invalid_argument("not an IP literal: " + literal);
	return ClientKey::of(reinterpret_cast<const sockaddr*>(&address), ipv6Prefix);
}

HttpSettings limitsOf(std::size_t perClient, int perSecond, int burst, std::size_t pending)
{
	HttpSettings settings;
	settings.maxConnectionsPerClient = perClient;
	settings.upgradesPerSecond = perSecond;
	settings.upgradeBurst = burst;
	settings.maxPendingHandshakes = pending;
	return settings;
}

using Slot = std::shared_ptr<AbuseLimits::ClientSlot>;

} // namespace


class AbuseLimitsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(AbuseLimitsTest);
	CPPUNIT_TEST(testIpv4IsGroupedByAddress);
	CPPUNIT_TEST(testIpv6IsGroupedByPrefix);
	CPPUNIT_TEST(testIpv4MappedCountsAsIpv4);
	CPPUNIT_TEST(testConnectionsPerClient);
	CPPUNIT_TEST(testUpgradeBucket);
	CPPUNIT_TEST(testPendingHandshakes);
	CPPUNIT_TEST(testIdleClientsExpireAndAreBounded);
	CPPUNIT_TEST(testOffMeansNoTable);
	CPPUNIT_TEST(testReloadedLimitsApplyToWhatComesNext);
	CPPUNIT_TEST_SUITE_END();

public:
	void testIpv4IsGroupedByAddress()
	{
		CPPUNIT_ASSERT(keyOf("192.0.2.7") == keyOf("192.0.2.7"));
		CPPUNIT_ASSERT(keyOf("192.0.2.7") != keyOf("192.0.2.8"));
		CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.7"), keyOf("192.0.2.7").toString());
	}

	void testIpv6IsGroupedByPrefix()
	{
		// One /64: a subscriber's devices (and a client rotating privacy addresses) are one client.
		ClientKey a = keyOf("2001:db8:1:2::1");
		ClientKey b = keyOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
		CPPUNIT_ASSERT(a == b);
		CPPUNIT_ASSERT_EQUAL(std::string("2001:db8:1:2::/64"), a.toString());
		// Two /64s of one /48 are two clients.
		ClientKey c = keyOf("2001:db8:1:3::1");
		CPPUNIT_ASSERT(a != c);
		// ... unless the prefix is configured shorter.
		CPPUNIT_ASSERT(keyOf("2001:db8:1:2::1", 48) == keyOf("2001:db8:1:3::1", 48));
		CPPUNIT_ASSERT_EQUAL(std::string("2001:db8:1::/48"), keyOf("2001:db8:1:3::1", 48).toString());
		// A prefix that does not end on a byte boundary.
		CPPUNIT_ASSERT(keyOf("2001:db8:1:2::1", 60) == keyOf("2001:db8:1:f::1", 60));
		CPPUNIT_ASSERT(keyOf("2001:db8:1:2::1", 60) != keyOf("2001:db8:1:12::1", 60));
		// /128 counts single addresses; an IPv6 key never equals an IPv4 one.
		CPPUNIT_ASSERT(keyOf("2001:db8::1", 128) != keyOf("2001:db8::2", 128));
		CPPUNIT_ASSERT(keyOf("::1") != keyOf("0.0.0.0"));
	}

	void testIpv4MappedCountsAsIpv4()
	{
		// A dual-stack listener ("::") sees IPv4 clients as ::ffff:a.b.c.d.
		CPPUNIT_ASSERT(keyOf("::ffff:192.0.2.7") == keyOf("192.0.2.7"));
		CPPUNIT_ASSERT(keyOf("::ffff:192.0.2.7") != keyOf("::ffff:192.0.2.8"));
	}

	void testConnectionsPerClient()
	{
		AbuseLimits limits(limitsOf(3, 0, 1, 0));
		ClientKey attacker = keyOf("192.0.2.1");
		std::vector<Slot> held(3);
		for (Slot& slot : held)
			CPPUNIT_ASSERT(limits.admit(attacker, 0, slot) == AbuseLimits::Admission::ADMITTED);
		Slot refused;
		CPPUNIT_ASSERT(limits.admit(attacker, 0, refused) == AbuseLimits::Admission::CLIENT_LIMIT);
		CPPUNIT_ASSERT(!refused);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), limits.connectionsOf(attacker));
		// Another client is not affected.
		Slot other;
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.2"), 0, other) == AbuseLimits::Admission::ADMITTED);
		// A slot shared by the HTTP connection and the WebSocket it became frees its place once.
		Slot sharedByUpgrade = held[0];
		held[0].reset();
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), limits.connectionsOf(attacker));
		sharedByUpgrade.reset();
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), limits.connectionsOf(attacker));
		CPPUNIT_ASSERT(limits.admit(attacker, 0, held[0]) == AbuseLimits::Admission::ADMITTED);
		// No bucket: a client without connections is forgotten at once.
		held.clear();
		other.reset();
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), limits.clientsTracked());
	}

	void testUpgradeBucket()
	{
		AbuseLimits limits(limitsOf(0, 5, 10, 0)); // 5/s, burst 10
		Slot slot;
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.1"), 1000, slot) == AbuseLimits::Admission::ADMITTED);
		for (int i = 0; i < 10; ++i)
			CPPUNIT_ASSERT(limits.takeUpgrade(slot.get(), 1000));
		CPPUNIT_ASSERT(!limits.takeUpgrade(slot.get(), 1000));
		CPPUNIT_ASSERT(!limits.takeUpgrade(slot.get(), 1199)); // 0.995 of a token
		CPPUNIT_ASSERT(limits.takeUpgrade(slot.get(), 1200));
		CPPUNIT_ASSERT(!limits.takeUpgrade(slot.get(), 1200));
		// A long pause refills to the burst, not beyond.
		for (int i = 0; i < 10; ++i)
			CPPUNIT_ASSERT(limits.takeUpgrade(slot.get(), 60000));
		CPPUNIT_ASSERT(!limits.takeUpgrade(slot.get(), 60000));
		// The bucket belongs to the client, not to the connection.
		Slot second;
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.1"), 60000, second) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT(!limits.takeUpgrade(second.get(), 60000));
		Slot stranger;
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.2"), 60000, stranger) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT(limits.takeUpgrade(stranger.get(), 60000));
	}

	void testPendingHandshakes()
	{
		AbuseLimits limits(limitsOf(0, 0, 1, 2));
		CPPUNIT_ASSERT(!limits.tracksClients());
		Slot slot;
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.1"), 0, slot) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.2"), 0, slot) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.3"), 0, slot) == AbuseLimits::Admission::PENDING_LIMIT);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), limits.pending());
		limits.handshakeDone();
		CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.3"), 0, slot) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), limits.pending());
	}

	void testIdleClientsExpireAndAreBounded()
	{
		AbuseLimits limits(limitsOf(0, 10, 10, 0)); // a drained bucket refills in 1 s
		{
			Slot slot;
			limits.admit(keyOf("192.0.2.1"), 0, slot);
			CPPUNIT_ASSERT(limits.takeUpgrade(slot.get(), 0));
		}
		// Idle, its bucket not yet full: remembered (a client cannot reset its bucket by reconnecting).
		Slot probe;
		limits.admit(keyOf("192.0.2.2"), 50, probe);
		probe.reset();
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), limits.clientsTracked());
		// Once its bucket is full again it is forgotten as clients arrive.
		limits.admit(keyOf("192.0.2.3"), 5000, probe);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), limits.clientsTracked());
		probe.reset();

		// Bounded: a flood of distinct addresses keeps at most MAX_IDLE_CLIENTS idle entries.
		const std::size_t flood = AbuseLimits::MAX_IDLE_CLIENTS + 1000;
		for (std::size_t i = 0; i < flood; ++i)
		{
			sockaddr_in address{};
			address.sin_family = AF_INET;
			address.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(0x0a000000u + i));
			Slot slot;
			limits.admit(ClientKey::of(reinterpret_cast<const sockaddr*>(&address), 64), 6000, slot);
			limits.takeUpgrade(slot.get(), 6000); // leaves the bucket short of full
		}
		CPPUNIT_ASSERT(limits.clientsTracked() <= AbuseLimits::MAX_IDLE_CLIENTS);
		CPPUNIT_ASSERT(limits.clientsTracked() >= AbuseLimits::MAX_IDLE_CLIENTS - 10);
	}

	void testReloadedLimitsApplyToWhatComesNext()
	{
		AbuseLimits limits(limitsOf(2, 5, 4, 0));
		ClientKey client = keyOf("192.0.2.1");
		std::vector<Slot> held(2);
		for (Slot& slot : held)
			CPPUNIT_ASSERT(limits.admit(client, 1000, slot) == AbuseLimits::Admission::ADMITTED);
		Slot third;
		CPPUNIT_ASSERT(limits.admit(client, 1000, third) == AbuseLimits::Admission::CLIENT_LIMIT);
		for (int i = 0; i < 3; ++i)
			CPPUNIT_ASSERT(limits.takeUpgrade(held[0].get(), 1000));
		// More connections, a smaller burst, a slower rate, a pending cap: the connections held
		// stay, the bucket keeps its one token (capped at the new burst of 2), refills at 1/s.
		limits.update(limitsOf(3, 1, 2, 1));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), limits.maxPending());
		CPPUNIT_ASSERT(limits.admit(client, 1000, third) == AbuseLimits::Admission::PENDING_LIMIT);
		for (int i = 0; i < 2; ++i)
			limits.handshakeDone();
		CPPUNIT_ASSERT(limits.admit(client, 1000, third) == AbuseLimits::Admission::ADMITTED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), limits.connectionsOf(client));
		CPPUNIT_ASSERT(limits.takeUpgrade(held[0].get(), 1000));
		CPPUNIT_ASSERT(!limits.takeUpgrade(held[0].get(), 1000));
		CPPUNIT_ASSERT(!limits.takeUpgrade(held[0].get(), 1999)); // 5/s would have refilled it
		CPPUNIT_ASSERT(limits.takeUpgrade(held[0].get(), 2000));
		// Both per-client limits off: nothing is refused any more.
		limits.update(limitsOf(0, 0, 1, 0));
		Slot fourth;
		CPPUNIT_ASSERT(limits.admit(client, 2000, fourth) == AbuseLimits::Admission::ADMITTED);
		for (int i = 0; i < 10; ++i)
			CPPUNIT_ASSERT(limits.takeUpgrade(fourth.get(), 2000));
	}

	void testOffMeansNoTable()
	{
		AbuseLimits limits(limitsOf(0, 0, 1, 0));
		CPPUNIT_ASSERT(!limits.tracksClients());
		for (int i = 0; i < 100; ++i)
		{
			Slot slot;
			CPPUNIT_ASSERT(limits.admit(keyOf("192.0.2.1"), 0, slot) == AbuseLimits::Admission::ADMITTED);
			CPPUNIT_ASSERT(!slot);
			CPPUNIT_ASSERT(limits.takeUpgrade(slot.get(), 0));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(AbuseLimitsTest);
