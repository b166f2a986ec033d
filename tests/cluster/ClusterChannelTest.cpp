//
// ClusterChannelTest.cpp
//
// The host's ClusterChannel (SDK ABI 4.2) over real Redis: three ClusterNodes in this process,
// each with two members ("alpha", "beta") whose PluginChannel records what its listener hears.
//
// * broadcast reaches the plugin on every other node, never this node and never another plugin;
//   sendTo reaches one node; both keep one sending node's order between them, and the bytes
//   (newlines, spaces, NULs) arrive as sent; sendTo this node or node 0 sends nothing;
// * a listener that throws is counted and the next message still arrives;
// * a node that stops is reported to every member of the others as left, once; no node is told
//   that it left itself;
// * joining is reported as synced, once per member; a Redis restart once more, and a node slow to re-assert its key
// then is
//   not reported as left;
// * a node whose key expired (it stalled) is reported as left, and told to re-announce (synced);
// * what a member broadcasts from synced after a Redis restart is sent (synced waits for the
//   command connection too), so the node synced last is heard by the others;
// * alone (no cluster), the channel sends nothing and is not clustered.
//
// Skips, saying why, without redis-server (or with SWITCHBOARD_TEST_NO_REDIS=1).
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "RedisTestServer.h"
#include "cluster/ClusterNode.h"
#include "metrics/MetricsRegistry.h"
#include "plugin/PluginChannel.h"
#include "Poco/Logger.h"
#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard;
using namespace Switchboard::Test;
using namespace Switchboard::Test::Cluster;
using Switchboard::Cluster::ClusterNode;
using Switchboard::Core::PluginChannel;
using Switchboard::Core::PluginSite;


namespace {


constexpr int NODE_TTL_S = 3;
constexpr int WAIT_MS = 10000;


class Member: public Switchboard::Cluster::ClusterMember, public Switchboard::Core::PluginSlot
/// One plugin on one node: the cluster's calls go to a PluginChannel, whose listener records.
{
public:
	Member(ClusterNode* node, const std::string& plugin):
	    _name(plugin),
	    _channel(plugin, node, *this, Poco::Logger::get("test.channel"))
	{
	}

	void listen()
	{
		ClusterChannel::Listener l;
		l.message = [this](NodeNumber from, std::string_view data) {
			if (data == "throw")
				throw std::runtime_error("listener threw");
			record("m " + std::to_string(from) + " " + std::string(data));
			if (announceOnSync && data == "announced")
				_channel.sendTo(from, "answer"); // as GoVPN answers H
		};
		l.nodeLeft = [this](NodeNumber node) { record("left " + std::to_string(node)); };
		l.synced = [this] {
			syncedAtMicros = Deadline::nowMicros();
			record("synced");
			if (announceOnSync)
				_channel.broadcast("announced");
		};
		_channel.listen(std::move(l));
	}

	ClusterChannel& channel() { return _channel; }

	std::vector<std::string> events()
	{
		std::lock_guard<std::mutex> lock(_mutex);
		return _events;
	}

	std::size_t count(const std::string& prefix)
	{
		std::size_t n = 0;
		for (const auto& e : events())
			n += e.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
		return n;
	}

	void clear()
	{
		std::lock_guard<std::mutex> lock(_mutex);
		_events.clear();
	}

	int caughtCount() const { return _caught.load(); }

	std::atomic<bool> announceOnSync{false}; ///< broadcast "announced" from synced, answer others' (as GoVPN)
	std::atomic<std::int64_t> syncedAtMicros{0};

	// ClusterMember
	void remoteSend(ConnectionId, std::string_view, MessageKind) override {}
	void remoteClose(ConnectionId, std::uint16_t, std::string_view) override {}
	void remotePublish(std::string_view, std::string_view, MessageKind, ConnectionId) override {}
	void nameChanged(std::string_view, ConnectionId) override {}
	void reassertNames() override {}
	void remoteMessage(std::uint16_t from, std::string_view data) override { _channel.message(from, data); }
	void nodeLeft(std::uint16_t node) override { _channel.nodeLeft(node); }
	void synced() override { _channel.synced(); }

	// PluginSlot
	Core::PluginId pluginId() const noexcept override { return 1; }
	const std::string& slotName() const noexcept override { return _name; }
	void timerFinished(TimerId) noexcept override {}
	void connectionFinished(ConnectionId) noexcept override {}

protected:
	void caught(PluginSite site, const char*) noexcept override
	{
		if (site == PluginSite::CLUSTER)
			++_caught;
	}

private:
	void record(std::string event)
	{
		std::lock_guard<std::mutex> lock(_mutex);
		_events.push_back(std::move(event));
	}

	std::string _name;
	PluginChannel _channel;
	std::mutex _mutex;
	std::vector<std::string> _events;
	std::atomic<int> _caught{0};
};


class Node
{
public:
	Node(int redisPort, const std::string& prefix, const std::string& id):
	    _node(settings(redisPort, prefix, id), Poco::Logger::get("test.cluster"), _metrics.scope(""),
	          [] { return std::size_t(0); }),
	    alpha(&_node, "alpha"),
	    beta(&_node, "beta")
	{
		_node.addMember("alpha", alpha);
		_node.addMember("beta", beta);
		alpha.listen();
		beta.listen();
		_node.start();
	}

	~Node() { _node.stop(); } // before the members go: its threads call them

	std::uint16_t number() const { return _node.number(); }
	void stop() { _node.stop(); }

private:
	static Core::ClusterSettings settings(int redisPort, const std::string& prefix, const std::string& id)
	{
		Core::ClusterSettings s;
		s.enabled = true;
		s.nodeId = id;
		s.redisPort = redisPort;
		s.keyPrefix = prefix;
		s.nodeTtlSeconds = NODE_TTL_S;
		return s;
	}

	Core::MetricsRegistry _metrics;
	ClusterNode _node;

public:
	Member alpha;
	Member beta;
};


std::string message(const Node& from, const std::string& data)
{
	return "m " + std::to_string(from.number()) + " " + data;
}


void syncSubscriptions(std::vector<Node*> nodes)
/// Broadcasts probes until every node hears every other: a node subscribes shortly after start,
/// and Redis does not keep what was published before.
{
	for (Node* from : nodes)
	{
		bool heard = waitUntil(WAIT_MS, 300, [&] {
			from->alpha.channel().broadcast("probe");
			sleepMs(100);
			for (Node* to : nodes)
				if (to != from && to->alpha.count(message(*from, "probe")) == 0)
					return false;
			return true;
		});
		CPPUNIT_ASSERT_MESSAGE("the nodes did not hear each other's probes", heard);
	}
	for (Node* n : nodes)
	{
		n->alpha.clear();
		n->beta.clear();
	}
}


std::string tagged(int i)
/// Bytes a line-based format would trip on.
{
	return "#" + std::to_string(i) + " a b\nc" + std::string(1, '\0') + "d";
}


} // namespace


class ClusterChannelTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ClusterChannelTest);
	CPPUNIT_TEST(testAloneSendsNothing);
	CPPUNIT_TEST(testBroadcastAndSendToKeepOrder);
	CPPUNIT_TEST(testStoppedNodeIsReportedLeft);
	CPPUNIT_TEST(testRedisRestartSyncsWithoutDepartures);
	CPPUNIT_TEST(testExpiredKeyIsReportedLeftAndSynced);
	CPPUNIT_TEST(testWhatSyncedAnnouncesIsSent);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAloneSendsNothing()
	{
		Member m(nullptr, "alpha");
		m.listen();
		CPPUNIT_ASSERT(!m.channel().clustered());
		CPPUNIT_ASSERT_EQUAL(NodeNumber(0), m.channel().node());
		m.channel().broadcast("x");
		m.channel().sendTo(2, "x");
		CPPUNIT_ASSERT(m.events().empty());
	}

	void testBroadcastAndSendToKeepOrder()
	{
		if (skipWithoutRedis("ClusterChannelTest", "testBroadcastAndSendToKeepOrder"))
			return;
		RedisTestServer redis;
		redis.start();
		Node a(redis.port(), "order:", "a");
		Node b(redis.port(), "order:", "b");
		Node c(redis.port(), "order:", "c");
		for (Node* n : {&a, &b, &c}) // the join: once per member, its inbox subscribed
			for (Member* m : {&n->alpha, &n->beta})
				CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return m->count("synced") == 1; }));
		syncSubscriptions({&a, &b, &c}); // (clears what the members heard)
		CPPUNIT_ASSERT(a.alpha.channel().clustered());
		CPPUNIT_ASSERT_EQUAL(a.number(), a.alpha.channel().node());
		CPPUNIT_ASSERT(a.number() != b.number() && b.number() != c.number() && a.number() != 0);

		std::vector<std::string> toB, toC;
		for (int i = 0; i < 300; ++i)
		{
			std::string data = tagged(i);
			if (i % 3 == 0)
			{
				a.alpha.channel().sendTo(b.number(), data);
				toB.push_back(message(a, data));
			}
			else
			{
				a.alpha.channel().broadcast(data);
				toB.push_back(message(a, data));
				toC.push_back(message(a, data));
			}
			if (i % 50 == 0)
			{
				a.alpha.channel().sendTo(a.number(), "to myself"); // ignored
				a.alpha.channel().sendTo(0, "to nobody");
			}
		}
		a.alpha.channel().broadcast("throw"); // B's and C's listeners throw on this one
		a.alpha.channel().sendTo(c.number(), "after");
		toC.push_back(message(a, "after"));

		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return c.alpha.count(message(a, "after")) == 1; }));
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return b.alpha.events().size() >= toB.size(); }));
		sleepMs(200); // anything stray would have come by now
		CPPUNIT_ASSERT(b.alpha.events() == toB);
		CPPUNIT_ASSERT(c.alpha.events() == toC);
		CPPUNIT_ASSERT(a.alpha.events().empty());
		for (Node* n : {&a, &b, &c})
			CPPUNIT_ASSERT(n->beta.events().empty()); // another plugin's line
		CPPUNIT_ASSERT_EQUAL(1, b.alpha.caughtCount());
		CPPUNIT_ASSERT_EQUAL(1, c.alpha.caughtCount());
	}

	void testStoppedNodeIsReportedLeft()
	{
		if (skipWithoutRedis("ClusterChannelTest", "testStoppedNodeIsReportedLeft"))
			return;
		RedisTestServer redis;
		redis.start();
		Node a(redis.port(), "left:", "a");
		Node b(redis.port(), "left:", "b");
		Node c(redis.port(), "left:", "c");
		syncSubscriptions({&a, &b, &c});
		std::string cLeft = "left " + std::to_string(c.number());
		c.stop(); // deletes its key: the others see it gone at their next look at the node list
		for (Node* n : {&a, &b})
		{
			for (Member* m : {&n->alpha, &n->beta})
				CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return m->count(cLeft) == 1; }));
		}
		sleepMs(2500); // a few more refreshes: reported once, and nobody else
		for (Node* n : {&a, &b})
		{
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), n->alpha.count("left "));
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), n->beta.count("left "));
		}
		// The others still talk.
		a.alpha.channel().broadcast("still here");
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return b.alpha.count(message(a, "still here")) == 1; }));
	}

	void testRedisRestartSyncsWithoutDepartures()
	{
		if (skipWithoutRedis("ClusterChannelTest", "testRedisRestartSyncsWithoutDepartures"))
			return;
		RedisTestServer redis;
		redis.start();
		Node a(redis.port(), "restart:", "a");
		sleepMs(500); // out of step, as separate processes are: one reconnects while the other is still away
		Node b(redis.port(), "restart:", "b");
		syncSubscriptions({&a, &b});
		redis.stop();
		redis.start(); // empty: every node's key is gone until it re-asserts it
		for (Node* n : {&a, &b})
		{
			for (Member* m : {&n->alpha, &n->beta})
				CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return m->count("synced") >= 1; }));
		}
		// B slower to re-assert its key than A to look at the node list (another machine, a
		// longer backoff): A must not report it as left, and B's heartbeat puts it back.
		std::string bKey = "restart:node:" + std::to_string(b.number());
		for (int i = 0; i < 30; ++i, sleepMs(50))
			redis.command({"DEL", bKey});
		sleepMs(NODE_TTL_S * 1000 + 3000); // past the settling time
		for (Node* n : {&a, &b})
		{
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), n->alpha.count("left "));
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), n->beta.count("left "));
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), n->alpha.count("synced")); // once per restart
		}
		syncSubscriptions({&a, &b});
	}

	void testExpiredKeyIsReportedLeftAndSynced()
	{
		if (skipWithoutRedis("ClusterChannelTest", "testExpiredKeyIsReportedLeftAndSynced"))
			return;
		RedisTestServer redis;
		redis.start();
		Node a(redis.port(), "expired:", "a");
		Node b(redis.port(), "expired:", "b");
		syncSubscriptions({&a, &b});
		// B's key gone, as if B had stalled past node_ttl_s: the node list decides, so A reports B
		// as left; B finds its key gone at its next heartbeat and re-announces. The key is deleted
		// again until A has looked (a fixed 1.5 s window missed A's check on a loaded machine).
		std::string bKey = "expired:node:" + std::to_string(b.number());
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] {
			redis.command({"DEL", bKey});
			return a.alpha.count("left " + std::to_string(b.number())) == 1;
		}));
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return b.alpha.count("synced") >= 1; }));
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return b.beta.count("synced") >= 1; }));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.alpha.count("left "));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), a.alpha.count("synced"));
		b.alpha.channel().broadcast("back");
		CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return a.alpha.count(message(b, "back")) == 1; }));
	}

	void testWhatSyncedAnnouncesIsSent()
	{
		if (skipWithoutRedis("ClusterChannelTest", "testWhatSyncedAnnouncesIsSent"))
			return;
		RedisTestServer redis;
		redis.start();
		Node a(redis.port(), "announce:", "a");
		Node b(redis.port(), "announce:", "b");
		syncSubscriptions({&a, &b});
		a.alpha.announceOnSync = true;
		b.alpha.announceOnSync = true;
		// A short outage: the subscriber notices at once, the idle command connection only when it
		// next writes. synced comes when the subscription is back; what a plugin announces in synced
		// must wait for a working command connection rather than be dropped on the dead one.
		redis.stop();
		sleepMs(200);
		redis.start();
		for (Node* n : {&a, &b})
			CPPUNIT_ASSERT(waitUntil(WAIT_MS, 20, [&] { return n->alpha.count("synced") == 1; }));
		// The node synced last announced after the other was subscribed: that announcement arrives,
		// and the other's answer comes back. (The first one's announcement may be lost if the other
		// was not back yet: at most once.)
		Node& last = a.alpha.syncedAtMicros.load() > b.alpha.syncedAtMicros.load() ? a : b;
		Node& first = &last == &a ? b : a;
		CPPUNIT_ASSERT_MESSAGE("the announcement of the node synced last did not arrive", waitUntil(WAIT_MS, 20, [&] {
			                       return first.alpha.count(message(last, "announced")) == 1;
		                       }));
		CPPUNIT_ASSERT_MESSAGE("the answer to it did not arrive",
		                       waitUntil(WAIT_MS, 20, [&] { return last.alpha.count(message(first, "answer")) == 1; }));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), first.beta.count("m "));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ClusterChannelTest);
