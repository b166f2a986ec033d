//
// PluginNamesTest.cpp
//
// The host's NameRegistry on a single node: claims, takeovers by secret, release only by the
// holder, names freed when their connection finishes, watchers told of every change, and the
// callbacks handed to the poster (the caller's loop in the host), never run inside the call.
//


#include "plugin/PluginNames.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <functional>
#include <string>
#include <vector>


using Switchboard::ClaimResult;
using Switchboard::ConnectionId;
using Switchboard::Core::PluginNames;


class PluginNamesTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PluginNamesTest);
	CPPUNIT_TEST(testClaimTakeOverAndTaken);
	CPPUNIT_TEST(testReleaseOnlyByHolder);
	CPPUNIT_TEST(testFinishedConnectionFreesItsNames);
	CPPUNIT_TEST(testCallbacksArePostedNotRunInline);
	CPPUNIT_TEST(testSecretsAreHashed);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override
	{
		_posted.clear();
		_closed.clear();
		_events.clear();
		_names = std::make_unique<PluginNames>(
		    "peerjs", nullptr,
		    [this]() -> PluginNames::Post {
			    return [this](std::function<void()> task) { _posted.push_back(std::move(task)); };
		    },
		    [this](ConnectionId owner) { _closed.push_back(owner); });
		_names->watch([this](std::string_view name, ConnectionId owner) {
			_events.push_back(std::string(name) + "=" + std::to_string(owner));
		});
	}

	void testClaimTakeOverAndTaken()
	{
		CPPUNIT_ASSERT(!_names->clustered());
		CPPUNIT_ASSERT(claim("x", 1, "s") == std::make_pair(ClaimResult::CLAIMED, ConnectionId(0)));
		CPPUNIT_ASSERT(claim("x", 2, "other") == std::make_pair(ClaimResult::TAKEN, ConnectionId(0)));
		CPPUNIT_ASSERT(claim("x", 3, "") == std::make_pair(ClaimResult::TAKEN, ConnectionId(0)));
		CPPUNIT_ASSERT(claim("x", 4, "s") == std::make_pair(ClaimResult::TAKEN_OVER, ConnectionId(1)));
		CPPUNIT_ASSERT_EQUAL(ConnectionId(4), lookup("x"));
		// The previous holder finishing later must not free the name it lost.
		_names->connectionFinished(1);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(4), lookup("x"));
		CPPUNIT_ASSERT_EQUAL(std::string("x=1,x=4"), events());
	}

	void testReleaseOnlyByHolder()
	{
		claim("a", 1, "");
		_names->release("a", 2);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(1), lookup("a"));
		_names->release("a", 1);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), lookup("a"));
		CPPUNIT_ASSERT(claim("a", 2, "") == std::make_pair(ClaimResult::CLAIMED, ConnectionId(0)));
		CPPUNIT_ASSERT_EQUAL(std::string("a=1,a=0,a=2"), events());
	}

	void testFinishedConnectionFreesItsNames()
	{
		claim("a", 7, "");
		claim("b", 7, "");
		claim("c", 8, "");
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), _names->heldCount());
		_names->connectionFinished(7);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), lookup("a"));
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), lookup("b"));
		CPPUNIT_ASSERT_EQUAL(ConnectionId(8), lookup("c"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), _names->heldCount());
		CPPUNIT_ASSERT(_closed.empty()); // closing is for names lost in a cluster, not here
	}

	void testCallbacksArePostedNotRunInline()
	{
		bool ran = false;
		_names->claim("x", 1, "", [&](ClaimResult, ConnectionId) { ran = true; });
		CPPUNIT_ASSERT(!ran);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), _posted.size());
		runPosted();
		CPPUNIT_ASSERT(ran);
	}

	void testSecretsAreHashed()
	{
		CPPUNIT_ASSERT_EQUAL(std::string(), PluginNames::secretHash(""));
		// SHA-256("abc"), FIPS 180-2 appendix B.1.
		CPPUNIT_ASSERT_EQUAL(std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		                     PluginNames::secretHash("abc"));
	}

private:
	std::pair<ClaimResult, ConnectionId> claim(const std::string& name, ConnectionId owner, const std::string& secret)
	{
		std::pair<ClaimResult, ConnectionId> out{ClaimResult::UNAVAILABLE, 99};
		_names->claim(name, owner, secret, [&](ClaimResult r, ConnectionId previous) { out = {r, previous}; });
		runPosted();
		return out;
	}

	ConnectionId lookup(const std::string& name)
	{
		ConnectionId owner = 99;
		_names->lookup(name, [&](ConnectionId o) { owner = o; });
		runPosted();
		return owner;
	}

	void runPosted()
	{
		auto tasks = std::move(_posted);
		_posted.clear();
		for (auto& t : tasks)
			t();
	}

	std::string events() const
	{
		std::string out;
		for (const auto& e : _events)
			out += (out.empty() ? "" : ",") + e;
		return out;
	}

	std::unique_ptr<PluginNames> _names;
	std::vector<std::function<void()>> _posted;
	std::vector<ConnectionId> _closed;
	std::vector<std::string> _events;
};


CPPUNIT_TEST_SUITE_REGISTRATION(PluginNamesTest);
