//
// PeerJsQueueTest.cpp
//
// Unit tests of the PeerJS plugin's building blocks used directly: OfflineQueue, Registry, TokenValidator.
//


#include "OfflineQueue.h"
#include "Registry.h"
#include "TokenValidator.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <string>
#include <vector>


using namespace Switchboard::PeerJs;


namespace {


const std::int64_t T0 = 1000000; // an arbitrary start of the monotonic clock


OfflineQueue::Limits limits(std::size_t perDestination, std::size_t perSource, std::size_t totalBytes,
                            std::int64_t expireMs = 5000)
{
	OfflineQueue::Limits l;
	l.perDestination = perDestination;
	l.perSource = perSource;
	l.totalBytes = totalBytes;
	l.expireMs = expireMs;
	return l;
}


std::string joined(const std::vector<std::string>& frames)
{
	std::string out;
	for (const std::string& f : frames)
		out += (out.empty() ? "" : "|") + f;
	return out;
}


std::string expired(std::vector<OfflineQueue::Expired>& list)
/// "source>destination" per expired pair, in report order; clears the list.
{
	std::string out;
	for (const auto& e : list)
		out += (out.empty() ? "" : "|") + e.source + ">" + e.destination;
	list.clear();
	return out;
}


} // namespace


class PeerJsQueueTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsQueueTest);
	CPPUNIT_TEST(testTakeInGlobalOrder);
	CPPUNIT_TEST(testTakeEmptyAndOtherDestination);
	CPPUNIT_TEST(testExpiryBoundary);
	CPPUNIT_TEST(testExpiryPerPair);
	CPPUNIT_TEST(testNewestMessageExtendsPair);
	CPPUNIT_TEST(testPerDestinationBound);
	CPPUNIT_TEST(testPerSourceBound);
	CPPUNIT_TEST(testTotalBytesBound);
	CPPUNIT_TEST(testRejectionDiscardsPair);
	CPPUNIT_TEST(testSuppressionWindow);
	CPPUNIT_TEST(testTakeEndsSuppression);
	CPPUNIT_TEST(testExpiredPairFreesSlots);
	CPPUNIT_TEST(testClear);
	CPPUNIT_TEST(testRegistryAddFind);
	CPPUNIT_TEST(testRegistryReattach);
	CPPUNIT_TEST(testRegistryRemoveOnlyCurrent);
	CPPUNIT_TEST(testRegistryOrder);
	CPPUNIT_TEST(testHmacVector);
	CPPUNIT_TEST(testTokenValidatorParse);
	CPPUNIT_TEST(testTokenValidatorAccepts);
	CPPUNIT_TEST_SUITE_END();

public:
	// --- OfflineQueue --------------------------------------------------------------------------

	void testTakeInGlobalOrder()
	{
		OfflineQueue q(limits(128, 64, 1 << 20));
		CPPUNIT_ASSERT(q.enqueue("A", "C", "a1", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("B", "C", "b1", T0 + 1) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "D", "a-d", T0 + 2) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "C", "a2", T0 + 3) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("B", "C", "b2", T0 + 3) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), q.messageCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(11), q.byteCount());
		CPPUNIT_ASSERT_EQUAL(std::string("a1|b1|a2|b2"), joined(q.take("C")));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), q.messageCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), q.byteCount());
		// Taken pairs never expire; the other destination's pair does.
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 60000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>D"), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.messageCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.byteCount());
	}

	void testTakeEmptyAndOtherDestination()
	{
		OfflineQueue q(limits(128, 64, 1 << 20));
		CPPUNIT_ASSERT(q.take("nobody").empty());
		q.enqueue("A", "C", "x", T0);
		CPPUNIT_ASSERT(q.take("c").empty()); // ids are case-sensitive
		CPPUNIT_ASSERT(q.take("C ").empty());
		CPPUNIT_ASSERT_EQUAL(std::string("x"), joined(q.take("C")));
		CPPUNIT_ASSERT(q.take("C").empty());
	}

	void testExpiryBoundary()
	{
		// Kept at least expireMs, discarded once expireMs has passed: one report per pair.
		OfflineQueue q(limits(128, 64, 1 << 20, 5000));
		q.enqueue("A", "D", "1", T0);
		q.enqueue("A", "D", "2", T0);
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 4999, out);
		CPPUNIT_ASSERT_EQUAL(std::string(), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), q.messageCount());
		q.expire(T0 + 5000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>D"), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.messageCount());
		q.expire(T0 + 10000, out);
		CPPUNIT_ASSERT_EQUAL(std::string(), expired(out)); // reported once only
		CPPUNIT_ASSERT(q.take("D").empty());
	}

	void testExpiryPerPair()
	{
		// docs/protocols/peerjs.md §9.2 example: two sources for one destination expire independently.
		OfflineQueue q(limits(128, 64, 1 << 20, 5000));
		q.enqueue("A", "D", "a1", T0);
		q.enqueue("A", "D", "a2", T0);
		q.enqueue("B", "D", "b1", T0 + 3000);
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 5000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>D"), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), q.messageCount());
		q.expire(T0 + 7999, out);
		CPPUNIT_ASSERT_EQUAL(std::string(), expired(out));
		q.expire(T0 + 8000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("B>D"), expired(out));
	}

	void testNewestMessageExtendsPair()
	{
		OfflineQueue q(limits(128, 64, 1 << 20, 5000));
		q.enqueue("A", "D", "1", T0);
		q.enqueue("A", "D", "2", T0 + 3000);
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 5000, out);
		CPPUNIT_ASSERT_EQUAL(std::string(), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), q.messageCount()); // the first one is not discarded early
		q.expire(T0 + 8000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>D"), expired(out));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.messageCount());
	}

	void testPerDestinationBound()
	{
		// Counting the new message, the destination holds at most perDestination.
		OfflineQueue q(limits(3, 64, 1 << 20));
		for (int i = 0; i < 3; ++i)
			CPPUNIT_ASSERT(q.enqueue("A", "X", "a", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT(q.enqueue("B", "Y", "b", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT_EQUAL(std::string("a|a|a"), joined(q.take("X")));
	}

	void testPerSourceBound()
	{
		OfflineQueue q(limits(128, 2, 1 << 20));
		CPPUNIT_ASSERT(q.enqueue("A", "X", "1", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "X", "2", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "Y", "3", T0) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT(q.enqueue("B", "Y", "4", T0) == OfflineQueue::Admission::QUEUED); // another source
		CPPUNIT_ASSERT_EQUAL(std::string("1|2"), joined(q.take("X")));
		CPPUNIT_ASSERT_EQUAL(std::string("4"), joined(q.take("Y")));
		// A's slots are free again for another destination.
		CPPUNIT_ASSERT(q.enqueue("A", "Z", "5", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "Z", "6", T0) == OfflineQueue::Admission::QUEUED);
	}

	void testTotalBytesBound()
	{
		OfflineQueue q(limits(128, 64, 10));
		CPPUNIT_ASSERT(q.enqueue("A", "X", "12345", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("B", "Y", "67890", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(10), q.byteCount());
		CPPUNIT_ASSERT(q.enqueue("C", "Z", "!", T0) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(10), q.byteCount());
		q.take("X");
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), q.byteCount());
		CPPUNIT_ASSERT(q.enqueue("D", "W", "abcde", T0) == OfflineQueue::Admission::QUEUED);
	}

	void testRejectionDiscardsPair()
	{
		// A message that does not fit discards every message of its pair, and only those.
		OfflineQueue q(limits(128, 3, 1 << 20));
		q.enqueue("A", "X", "a1", T0);
		q.enqueue("B", "X", "b1", T0);
		q.enqueue("A", "X", "a2", T0);
		q.enqueue("A", "Y", "ay", T0);
		CPPUNIT_ASSERT(q.enqueue("A", "X", "a3", T0) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), q.messageCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), q.byteCount());
		CPPUNIT_ASSERT_EQUAL(std::string("b1"), joined(q.take("X")));
		// The discarded pair never expires later (its EXPIRE was the early one).
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 60000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>Y"), expired(out));
	}

	void testSuppressionWindow()
	{
		// After a rejection the pair is dropped silently for expireMs, then judged again.
		OfflineQueue q(limits(1, 64, 1 << 20, 5000));
		q.enqueue("A", "X", "a", T0);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0 + 100) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0 + 200) == OfflineQueue::Admission::SUPPRESSED);
		// Only that pair: another source for X is judged by the bound (and rejected), another
		// destination for B is fine.
		CPPUNIT_ASSERT(q.enqueue("C", "X", "c", T0 + 200) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT(q.enqueue("B", "Y", "y", T0 + 200) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0 + 5099) == OfflineQueue::Admission::SUPPRESSED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), q.messageCount());
		// The window is over, but X is still full: rejected again (a new EXPIRE is due).
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0 + 5100) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT_EQUAL(std::string("a"), joined(q.take("X")));
	}

	void testTakeEndsSuppression()
	{
		OfflineQueue q(limits(1, 64, 1 << 20, 5000));
		q.enqueue("A", "X", "a", T0);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0) == OfflineQueue::Admission::REJECTED);
		CPPUNIT_ASSERT(q.enqueue("B", "Y", "y", T0) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("C", "Y", "c", T0) == OfflineQueue::Admission::REJECTED);
		q.take("X");
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b2", T0 + 1) == OfflineQueue::Admission::QUEUED);
		// Y's window is untouched.
		CPPUNIT_ASSERT(q.enqueue("C", "Y", "c2", T0 + 1) == OfflineQueue::Admission::SUPPRESSED);
	}

	void testExpiredPairFreesSlots()
	{
		OfflineQueue q(limits(2, 2, 1 << 20, 1000));
		q.enqueue("A", "X", "1", T0);
		q.enqueue("A", "X", "2", T0);
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 1000, out);
		CPPUNIT_ASSERT_EQUAL(std::string("A>X"), expired(out));
		CPPUNIT_ASSERT(q.enqueue("A", "X", "3", T0 + 1001) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT(q.enqueue("A", "X", "4", T0 + 1001) == OfflineQueue::Admission::QUEUED);
		CPPUNIT_ASSERT_EQUAL(std::string("3|4"), joined(q.take("X")));
	}

	void testClear()
	{
		OfflineQueue q(limits(1, 64, 1 << 20));
		q.enqueue("A", "X", "a", T0);
		q.enqueue("A", "Y", "a", T0);
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0) == OfflineQueue::Admission::REJECTED);
		q.clear();
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.messageCount());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.byteCount());
		std::vector<OfflineQueue::Expired> out;
		q.expire(T0 + 60000, out);
		CPPUNIT_ASSERT(out.empty()); // nothing left to report: no EXPIRE after a shutdown
		CPPUNIT_ASSERT(q.enqueue("B", "X", "b", T0 + 1) == OfflineQueue::Admission::QUEUED); // windows gone
	}

	// --- Registry ------------------------------------------------------------------------------

	void testRegistryAddFind()
	{
		Registry r;
		CPPUNIT_ASSERT(r.find("A") == nullptr);
		Registration& a = r.add("A", "tA", 7);
		CPPUNIT_ASSERT_EQUAL(std::string("tA"), a.token);
		CPPUNIT_ASSERT_EQUAL(Switchboard::ConnectionId(7), a.connection);
		CPPUNIT_ASSERT(r.find("A") == &a);
		CPPUNIT_ASSERT(r.find("a") == nullptr);
		CPPUNIT_ASSERT(r.isCurrent("A", 7));
		CPPUNIT_ASSERT(!r.isCurrent("A", 8));
		CPPUNIT_ASSERT(!r.isCurrent("B", 7));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), r.size());
	}

	void testRegistryReattach()
	{
		Registry r;
		r.add("A", "tA", 1);
		r.add("B", "tB", 2);
		Registration* a = r.find("A");
		std::uint64_t before = a->generation;
		CPPUNIT_ASSERT_EQUAL(Switchboard::ConnectionId(1), r.reattach(*a, 3));
		CPPUNIT_ASSERT(a->generation > before);
		CPPUNIT_ASSERT(a->generation > r.find("B")->generation);
		CPPUNIT_ASSERT_EQUAL(std::string("tA"), a->token);
		CPPUNIT_ASSERT(r.isCurrent("A", 3));
		CPPUNIT_ASSERT(!r.isCurrent("A", 1)); // the superseded socket is not current any more
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), r.size());
	}

	void testRegistryRemoveOnlyCurrent()
	{
		// §5.4: a superseded socket's close never removes the newer registration.
		Registry r;
		r.add("A", "tA", 1);
		r.reattach(*r.find("A"), 2);
		CPPUNIT_ASSERT(!r.removeIf("A", 1));
		CPPUNIT_ASSERT(r.find("A") != nullptr);
		CPPUNIT_ASSERT(!r.removeIf("B", 2));
		CPPUNIT_ASSERT(r.removeIf("A", 2));
		CPPUNIT_ASSERT(r.find("A") == nullptr);
		CPPUNIT_ASSERT(!r.removeIf("A", 2));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), r.size());
	}

	void testRegistryOrder()
	{
		// /peers order: registration order; a reattach keeps its place, a re-registration goes last.
		Registry r;
		for (const char* id : {"zed", "A", "m", "B"})
			r.add(id, "t", 10);
		r.reattach(*r.find("zed"), 11);
		std::vector<std::string> ids = r.idsInOrder();
		CPPUNIT_ASSERT_EQUAL(std::string("zed|A|m|B"), joined(ids));
		r.removeIf("A", 10);
		r.add("A", "t2", 12);
		CPPUNIT_ASSERT_EQUAL(std::string("zed|m|B|A"), joined(r.idsInOrder()));
		r.clear();
		CPPUNIT_ASSERT(r.idsInOrder().empty());
	}

	// --- TokenValidator ------------------------------------------------------------------------

	void testHmacVector()
	{
		// RFC 4231, test case 2.
		CPPUNIT_ASSERT_EQUAL(std::string("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
		                     TokenValidator::hmacHex("Jefe", "what do ya want for nothing?"));
	}

	void testTokenValidatorParse()
	{
		TokenValidator v;
		std::string error;
		CPPUNIT_ASSERT(TokenValidator::parse("", v, error));
		CPPUNIT_ASSERT(!v.enabled());
		CPPUNIT_ASSERT(v.accepts("any", "thing"));
		CPPUNIT_ASSERT(TokenValidator::parse("hmac-sha256:k", v, error));
		CPPUNIT_ASSERT(v.enabled());
		for (const char* bad : {"hmac-sha256:", "hmac-sha256", "sha256:k", "HMAC-SHA256:k", "k"})
		{
			error.clear();
			CPPUNIT_ASSERT_MESSAGE(bad, !TokenValidator::parse(bad, v, error));
			CPPUNIT_ASSERT_MESSAGE(bad, !error.empty());
		}
	}

	void testTokenValidatorAccepts()
	{
		TokenValidator v;
		std::string error;
		CPPUNIT_ASSERT(TokenValidator::parse("hmac-sha256:Jefe", v, error));
		const std::string good = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
		CPPUNIT_ASSERT(v.accepts("what do ya want for nothing?", good));
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing!", good));
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing?", good.substr(0, 63)));
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing?", good + "0"));
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing?", ""));
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing?", "bad"));
		std::string upper = good;
		for (char& c : upper)
			c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
		CPPUNIT_ASSERT(!v.accepts("what do ya want for nothing?", upper)); // lowercase hex only
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsQueueTest);
