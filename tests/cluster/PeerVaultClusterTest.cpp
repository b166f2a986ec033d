//
// PeerVaultClusterTest.cpp
//
// Cluster mode with the PeerVault plugin: two or three real servers ([cluster] enabled, distinct
// node ids) sharing one real redis-server, each with its own key prefix per test, each with only
// the peervault plugin on its own loopback listener (configured as the PeerVault integration tests
// do, tests/support/PeerVaultTestSupport.h). What docs/cluster.md promises for PeerVault:
//
// * POST /ws/publish on one node reaches the topic's subscribers on every node (Router::publish
//   through Redis): every event, once, in publish order, and only the events of the topics a
//   client subscribed to; the frame arrives byte for byte as the publishing node's own
//   subscribers get it;
// * the metrics ticker and the threshold alerts are about the node that runs them and stay on it
//   (Router::publishLocal): a system subscriber sees its own node's figures only;
// * a node drops a topic's Redis channel when its last local subscriber leaves (unsubscribe or
//   close), and takes it again on a new subscription;
// * a node killed with SIGKILL does not disturb the others, and leaves /cluster after node_ttl_s;
// * after a Redis restart the nodes subscribe again (once each) and publishing resumes both ways.
//
// The tests skip, saying why, when redis-server is not installed (scripts/install-deps.sh --test
// installs it) or when SWITCHBOARD_TEST_NO_REDIS=1.
//
// Channel of a topic with key_prefix P: the plugin names its groups "t:<topic>"
// (PeerVaultPlugin::groupOf) and the cluster publishes group G of plugin N on
// "P group:N:G" (ClusterNode::groupChannel), N being the [plugin.<N>] section: here
// "P group:peervault:t:file_operations" and "P group:peervault:t:peer_network".
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include "PeerVaultTestSupport.h"
#include "RedisTestServer.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Cluster;
namespace PV = Switchboard::Test::PeerVault;


namespace {


const std::string PLUGIN = "peervault"; ///< the [plugin.<name>] section, by which the nodes route

constexpr int NODE_TTL_S = 3;
// Wait for a frame that must come.
constexpr int FRAME_MS = 5000;
// Bound on the probe rounds that wait for every node's Redis subscription (see syncSubscriptions).
constexpr int SYNC_MS = 10000;
// How long one probe round waits for its probe before the next round is published.
constexpr int PROBE_ROUND_MS = 300;
// The brief's bound: a node drops a channel within 2 s of its last local subscriber leaving.
constexpr int CHANNEL_DROP_MS = 2000;
constexpr int BURST = 200;
const std::string CONNECTION_ENDED = "the connection ended";


// --- Topics and events -----------------------------------------------------------------------

enum class Topic
{
	FILES,
	PEERS
};


const char* topicName(Topic topic)
{
	return topic == Topic::FILES ? "file_operations" : "peer_network";
}


std::string groupChannel(const std::string& prefix, const std::string& topic)
/// The Redis channel of a topic's group (see the header comment).
{
	return prefix + "group:" + PLUGIN + ":t:" + topic;
}


std::string groupChannel(const std::string& prefix, Topic topic)
{
	return groupChannel(prefix, topicName(topic));
}


std::string eventBody(Topic topic, const std::string& tag, int sequence)
/// A publishable event of the topic that carries tag where a subscriber finds it again: data.key
/// of a file_uploaded, data.id of a peer_connected.
{
	if (topic == Topic::FILES)
		return "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"" + tag +
		       "\",\"size\":" + std::to_string(sequence) + ",\"node\":\"storage-7\"}}";
	return "{\"type\":\"peer_connected\",\"topic\":\"peer_network\",\"data\":{\"id\":\"" + tag +
	       "\",\"address\":\"192.0.2.10\",\"port\":" + std::to_string(1024 + sequence % 60000) + "}}";
}


std::string burstTag(int index)
{
	return "ev-" + std::to_string(index);
}


std::string probeTag(int round)
{
	return "probe-" + std::to_string(round);
}


Topic burstTopic(int index)
/// The topics of a burst interleave irregularly: every third event is a peer_network one.
{
	return index % 3 == 1 ? Topic::PEERS : Topic::FILES;
}


struct Event
/// One data frame a subscriber received.
{
	std::string text;
	std::string type;
	std::string topic;
	std::string tag; ///< data.key or data.id: the tag eventBody() put in; "" if neither
};


std::string shortened(const std::string& text)
{
	return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}


enum class Read
{
	EVENT,
	NOTHING, ///< no data frame within the timeout
	FAILED   ///< closed, a protocol error, a binary frame or text that is not an event
};


Read readEvent(WsTestClient& client, int timeoutMs, Event& event, std::string& why)
/// The next data frame as an Event; the server's pings are answered (PV::connect turns autoPong
/// on) and pong control frames skipped.
{
	Deadline deadline(timeoutMs);
	for (;;)
	{
		const WsTestClient::Message message = client.receiveMessage(deadline.remainingMs());
		if (message.timedOut())
			return Read::NOTHING;
		if (message.closed())
		{
			why = CONNECTION_ENDED + (message.error.empty() ? std::string() : ": " + message.error);
			return Read::FAILED;
		}
		if (!message.ok())
		{
			why = "WebSocket protocol error: " + message.error;
			return Read::FAILED;
		}
		if (message.opcode == WsTestClient::OPCODE_PING || message.opcode == WsTestClient::OPCODE_PONG)
			continue;
		if (message.opcode != WsTestClient::OPCODE_TEXT)
		{
			why = "a frame with opcode " + std::to_string(message.opcode) + " (" + shortened(message.payload) + ")";
			return Read::FAILED;
		}
		event = Event();
		event.text = message.payload;
		try
		{
			Poco::JSON::Parser parser;
			const Poco::JSON::Object::Ptr root = parser.parse(message.payload).extract<Poco::JSON::Object::Ptr>();
			event.type = root->optValue<std::string>("type", "");
			event.topic = root->optValue<std::string>("topic", "");
			const Poco::JSON::Object::Ptr data = root->getObject("data");
			if (data)
			{
				if (data->has("key") && data->get("key").isString())
					event.tag = data->getValue<std::string>("key");
				else if (data->has("id") && data->get("id").isString())
					event.tag = data->getValue<std::string>("id");
			}
		}
		catch (const Poco::Exception& e)
		{
			why = "not a JSON object (" + e.displayText() + "): " + shortened(message.payload);
			return Read::FAILED;
		}
		return Read::EVENT;
	}
}


// --- Subscribers -----------------------------------------------------------------------------

struct Subscriber
{
	std::string name; ///< e.g. "b-files-2": its node, topic and number
	std::vector<Topic> topics;
	WsTestClient client;

	bool wants(Topic topic) const { return std::find(topics.begin(), topics.end(), topic) != topics.end(); }
};


Subscriber subscribe(TestServer& node, const std::string& name, const std::vector<Topic>& topics)
/// A client on the node's /ws, subscribed to topics; each subscription is known to be active on
/// its node (PV::subscribe: a ping's pong comes back after it), not yet in Redis.
{
	Subscriber subscriber{name, topics, PV::connect(node)};
	for (Topic topic : topics)
		PV::subscribe(subscriber.client, topicName(topic));
	return subscriber;
}


std::string sentinel(Subscriber& subscriber)
/// "Receives nothing": "" if the pong of a ping is the very next frame, else what came.
{
	subscriber.client.sendText("{\"type\":\"ping\"}");
	Event event;
	std::string why;
	switch (readEvent(subscriber.client, FRAME_MS, event, why))
	{
		case Read::EVENT:
			return event.type == "pong" ? "" : "an unexpected frame: " + shortened(event.text);
		case Read::NOTHING:
			return "no pong within " + std::to_string(FRAME_MS) + " ms";
		default:
			return why;
	}
}


std::string syncSubscriptions(TestServer& publisher, std::vector<Subscriber*> subscribers, int& rounds)
/// A node subscribes a topic's Redis channel when the topic gets its first member on that node,
/// asynchronously (its subscriber thread polls every 20 ms): an event published elsewhere before
/// that is never seen there. So, before anything is measured, probe events are published on
/// publisher, one per topic and round, until one round reaches every given subscriber (which
/// proves every node's subscription); earlier probes may or may not arrive and are skipped. Once a
/// round has arrived everywhere, no probe is still on its way (a node's messages keep their order).
/// Bounded by SYNC_MS. "" on success, with the rounds used; else why not.
{
	std::set<Topic> topics;
	for (const Subscriber* s : subscribers)
		topics.insert(s->topics.begin(), s->topics.end());
	const Deadline deadline(SYNC_MS);
	for (int round = 0;; ++round)
	{
		const std::string tag = probeTag(round);
		for (Topic topic : topics)
		{
			const HttpResponse response = PV::publish(publisher, eventBody(topic, tag, round));
			if (response.status != 202)
				return "probe " + tag + " to " + topicName(topic) + ": HTTP " + std::to_string(response.status) + " " +
				       response.body;
		}
		// What every subscriber still lacks of this round.
		std::vector<std::set<Topic>> missing;
		for (const Subscriber* s : subscribers)
			missing.emplace_back(s->topics.begin(), s->topics.end());
		const Deadline roundDeadline(PROBE_ROUND_MS);
		bool complete = false;
		while (!complete)
		{
			complete = true;
			for (std::size_t i = 0; i < subscribers.size(); ++i)
			{
				if (missing[i].empty())
					continue;
				Event event;
				std::string why;
				const Read read = readEvent(subscribers[i]->client, 1, event, why);
				if (read == Read::FAILED)
					return subscribers[i]->name + " while probing: " + why;
				if (read == Read::EVENT)
				{
					if (event.tag.compare(0, 6, "probe-") != 0)
						return subscribers[i]->name + " got a frame that is no probe: " + shortened(event.text);
					if (event.tag == tag)
					{
						for (Topic topic : topics)
						{
							if (event.topic == topicName(topic))
								missing[i].erase(topic);
						}
					}
				}
				if (!missing[i].empty())
					complete = false;
			}
			if (!complete && roundDeadline.expired())
				break;
		}
		if (complete)
		{
			rounds = round + 1;
			return "";
		}
		if (deadline.expired())
		{
			std::string lacking;
			for (std::size_t i = 0; i < subscribers.size(); ++i)
			{
				for (Topic topic : missing[i])
					lacking += " " + subscribers[i]->name + "/" + topicName(topic);
			}
			return "after " + std::to_string(round + 1) + " probe rounds in " + std::to_string(SYNC_MS) +
			       " ms, the last round still had not reached:" + lacking;
		}
	}
}


std::string expectSequence(Subscriber& subscriber, const std::vector<int>& indexes,
                           const std::function<Topic(int)>& topicOf, std::map<int, std::string>& reference)
/// The subscriber receives exactly the events with these burst indexes, in this order, and then
/// nothing (the sentinel). Each frame must equal the reference text of its event (the first
/// subscriber to receive it sets it), so every node delivers the same bytes. "" or what went wrong.
{
	for (std::size_t k = 0; k < indexes.size(); ++k)
	{
		const int index = indexes[k];
		const std::string where = subscriber.name + ", event " + std::to_string(k + 1) + " of " +
		                          std::to_string(indexes.size()) + " (expected " + burstTag(index) + " on " +
		                          topicName(topicOf(index)) + "): ";
		Event event;
		std::string why;
		const Read read = readEvent(subscriber.client, FRAME_MS, event, why);
		if (read == Read::NOTHING)
			return where + "nothing within " + std::to_string(FRAME_MS) + " ms (lost?)";
		if (read == Read::FAILED)
			return where + why;
		if (event.tag != burstTag(index) || event.topic != topicName(topicOf(index)))
			return where + "got " + shortened(event.text);
		auto known = reference.emplace(index, event.text);
		if (!known.second && known.first->second != event.text)
			return where + "the frame differs from the one another subscriber got:\n    " +
			       shortened(known.first->second) + "\n    " + shortened(event.text);
	}
	const std::string after = sentinel(subscriber);
	return after.empty() ? "" : subscriber.name + " after its " + std::to_string(indexes.size()) + " events: " + after;
}


std::vector<int> indexesFor(const Subscriber& subscriber, int first, int count,
                            const std::function<Topic(int)>& topicOf)
{
	std::vector<int> indexes;
	for (int i = first; i < first + count; ++i)
	{
		if (subscriber.wants(topicOf(i)))
			indexes.push_back(i);
	}
	return indexes;
}


std::string publishBurst(TestServer& publisher, int first, int count, const std::function<Topic(int)>& topicOf,
                         const std::map<Topic, int>& localSubscribers)
/// Publishes events first .. first + count - 1 on publisher, one request after the other; each
/// answer must be 202 with "delivered" = the publisher's own subscribers of the topic (the count
/// covers this node only: SDK Router::publish). "" or the first problem.
{
	for (int i = first; i < first + count; ++i)
	{
		const Topic topic = topicOf(i);
		const HttpResponse response = PV::publish(publisher, eventBody(topic, burstTag(i), i));
		const std::string where = "publish " + burstTag(i) + " to " + topicName(topic) + ": HTTP " +
		                          std::to_string(response.status) + " " + response.body;
		if (response.status != 202)
			return where;
		std::int64_t delivered = -1;
		try
		{
			Poco::JSON::Parser parser;
			const Poco::JSON::Object::Ptr body = parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
			delivered = body->getValue<std::int64_t>("delivered");
		}
		catch (const Poco::Exception& e)
		{
			return where + " (" + e.displayText() + ")";
		}
		auto local = localSubscribers.find(topic);
		const std::int64_t expected = local == localSubscribers.end() ? 0 : local->second;
		if (delivered != expected)
			return where + " (delivered should count the " + std::to_string(expected) +
			       " subscribers on the publishing node)";
	}
	return "";
}


std::string expectAll(std::vector<Subscriber*> subscribers, int first, int count,
                      const std::function<Topic(int)>& topicOf)
/// expectSequence() for every subscriber; the problems, one per line.
{
	std::map<int, std::string> reference;
	std::string problems;
	for (Subscriber* s : subscribers)
	{
		const std::string problem = expectSequence(*s, indexesFor(*s, first, count, topicOf), topicOf, reference);
		if (!problem.empty())
			problems += "\n  " + problem;
	}
	return problems;
}


// --- Nodes -----------------------------------------------------------------------------------

void configureNode(TestServer& server, const RedisTestServer& redis, const std::string& nodeId,
                   const std::string& keyPrefix, const TestServer::Keys& peervaultKeys = {})
/// PeerVault as its integration tests run it (PV::configure: its own listener, the publishing
/// token; no ticker unless peervaultKeys set websocket.metrics.interval), plus [cluster] on redis.
{
	TestServer::Keys keys = {{PV::key("metrics.interval"), "0"}};
	for (const auto& entry : peervaultKeys)
		keys[entry.first] = entry.second;
	PV::configure(server, keys);
	addClusterSection(server, redis.port(), nodeId, keyPrefix, NODE_TTL_S);
	server.set("host", "shutdown_deadline_ms", "1000");
}


void startNodes(const RedisTestServer& redis, const std::string& prefix, const std::vector<TestServer*>& nodes,
                const TestServer::Keys& peervaultKeys = {})
/// configureNode() for each node, named "a", "b", "c", ... in order, then starts them all.
{
	for (std::size_t i = 0; i < nodes.size(); ++i)
		configureNode(*nodes[i], redis, std::string(1, static_cast<char>('a' + i)), prefix, peervaultKeys);
	for (TestServer* node : nodes)
		node->start();
}


void stopNodes(const std::vector<TestServer*>& nodes)
/// Each node stops cleanly (exit code 0).
{
	for (TestServer* node : nodes)
		CPPUNIT_ASSERT_EQUAL(0, node->stop());
}

bool skipWithoutRedis(const std::string& test)
{
	return Cluster::skipWithoutRedis("PeerVaultClusterTest", test);
}


std::string awaitNumsub(const RedisTestServer& redis, const std::string& channel, long long expected,
                        int timeoutMs = CHANNEL_DROP_MS)
/// Waits (bounded) until PUBSUB NUMSUB channel is expected: "" then, else what it was. A node takes
/// and drops channels asynchronously; and the probes of syncSubscriptions() prove only the other
/// nodes' subscriptions, since the publishing node serves its own subscribers without Redis.
{
	long long last = -1;
	if (waitUntil(timeoutMs, 10, [&] { return (last = redis.numsub(channel)) == expected; }))
		return "";
	return "PUBSUB NUMSUB " + channel + " is " + std::to_string(last) + ", not " + std::to_string(expected) +
	       ", after " + std::to_string(timeoutMs) + " ms";
}


std::int64_t expectNumsubSince(const RedisTestServer& redis, const std::string& channel, long long expected,
                               std::int64_t sinceMicros, const std::string& event)
/// Waits up to CHANNEL_DROP_MS for PUBSUB NUMSUB channel to be expected (a CppUnit failure naming
/// the event if it is not); returns the milliseconds from sinceMicros, the event, until it was.
{
	const bool reached = waitUntil(CHANNEL_DROP_MS, 10, [&] { return redis.numsub(channel) == expected; });
	const std::int64_t ms = elapsedMs(sinceMicros);
	CPPUNIT_ASSERT_MESSAGE("NUMSUB " + channel + " is " + std::to_string(redis.numsub(channel)) + ", not " +
	                           std::to_string(expected) + ", " + std::to_string(CHANNEL_DROP_MS) + " ms after " + event,
	                       reached);
	return ms;
}

std::int64_t connectionFigure(const std::string& text, const std::string& name)
/// data.network.<name> of a system_metrics frame (a CppUnit failure if it is missing).
{
	const Poco::JSON::Object::Ptr frame = PV::object(text);
	const Poco::JSON::Object::Ptr network = PV::objectAt(PV::objectAt(frame, "data", text), "network", text);
	return PV::integerAt(network, name, text);
}


} // namespace


class PeerVaultClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultClusterTest);
	CPPUNIT_TEST(testPublishOnOneNodeReachesSubscribersOnOthers);
	CPPUNIT_TEST(testTickerStaysLocal);
	CPPUNIT_TEST(testUnsubscribeDropsChannel);
	CPPUNIT_TEST(testNodeKilledOthersKeepReceiving);
	CPPUNIT_TEST(testRedisRestartResumes);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPublishOnOneNodeReachesSubscribersOnOthers()
	/// Three nodes; subscribers of file_operations and of peer_network on all of them (one of both
	/// topics on c); a burst of BURST events over HTTP to node a, the topics interleaved: every
	/// subscriber gets every event of its topics, once, in publish order, the same bytes everywhere,
	/// and nothing else.
	{
		if (skipWithoutRedis("testPublishOnOneNodeReachesSubscribersOnOthers"))
			return;
		const std::string prefix = "pv1:";
		RedisTestServer redis;
		redis.start();
		TestServer a, b, c;
		startNodes(redis, prefix, {&a, &b, &c});

		std::vector<Subscriber> subscribers;
		subscribers.push_back(subscribe(a, "a-files-1", {Topic::FILES}));
		subscribers.push_back(subscribe(a, "a-peers-1", {Topic::PEERS}));
		for (TestServer* node : {&b, &c})
		{
			const std::string n = node == &b ? "b" : "c";
			for (int i = 1; i <= 3; ++i)
			{
				subscribers.push_back(subscribe(*node, n + "-files-" + std::to_string(i), {Topic::FILES}));
				subscribers.push_back(subscribe(*node, n + "-peers-" + std::to_string(i), {Topic::PEERS}));
			}
		}
		subscribers.push_back(subscribe(c, "c-both", {Topic::PEERS, Topic::FILES}));
		std::vector<Subscriber*> all;
		for (Subscriber& s : subscribers)
			all.push_back(&s);

		// Each node subscribes a topic's Redis channel asynchronously (within some 20-50 ms) after its
		// first local subscriber joined; until then events from node a would be lost there. Probes
		// published on a until one reaches every subscriber (at most SYNC_MS) prove the subscriptions.
		int rounds = 0;
		const std::int64_t syncStart = Deadline::nowMicros();
		const std::string synced = syncSubscriptions(a, all, rounds);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("every node's subscription before the burst", std::string(), synced);
		const std::int64_t syncMs = elapsedMs(syncStart);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("file_operations heard by 3 nodes", std::string(),
		                             awaitNumsub(redis, groupChannel(prefix, Topic::FILES), 3));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("peer_network heard by 3 nodes", std::string(),
		                             awaitNumsub(redis, groupChannel(prefix, Topic::PEERS), 3));

		const std::int64_t burstStart = Deadline::nowMicros();
		const std::string published = publishBurst(a, 0, BURST, burstTopic, {{Topic::FILES, 1}, {Topic::PEERS, 1}});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the burst on node a", std::string(), published);
		const std::int64_t publishMs = elapsedMs(burstStart);
		const std::string problems = expectAll(all, 0, BURST, burstTopic);
		const std::int64_t deliveredMs = elapsedMs(burstStart);
		std::cout << "\nPeerVaultClusterTest::testPublishOnOneNodeReachesSubscribersOnOthers: subscriptions in "
		          << syncMs << " ms (" << rounds << " probe rounds); " << BURST << " events published on a in "
		          << publishMs << " ms; " << subscribers.size() << " subscribers on 3 nodes read them all "
		          << deliveredMs << " ms after the first publish" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("what the subscribers received:" + problems, problems.empty());

		stopNodes({&a, &b, &c});
	}

	void testTickerStaysLocal()
	/// A 500 ms ticker on two nodes; a system and an alerts subscriber on each; five more
	/// connections on a only. Every system_metrics event b's subscriber gets shows b's connections
	/// (2), never a's (7), and they come at b's rate, not doubled by a's ticker. The connection_usage
	/// alert (threshold 50 % of 10 connections, every other threshold off) that a raises reaches a's
	/// alerts subscriber only.
	{
		if (skipWithoutRedis("testTickerStaysLocal"))
			return;
		constexpr int INTERVAL_MS = 500;
		constexpr int WINDOW_MS = 4000;
		constexpr int EXTRA_ON_A = 5;
		const std::string prefix = "pv2:";
		TestServer::Keys keys = {{PV::key("metrics.interval"), std::to_string(INTERVAL_MS) + "ms"},
		                         {PV::key("limits.max_connections"), "10"}};
		for (const char* metric : {"memory_usage", "cpu_usage", "average_response_time", "storage_usage"})
		{
			keys[PV::key(std::string("metrics.thresholds.") + metric + ".warning")] = "0";
			keys[PV::key(std::string("metrics.thresholds.") + metric + ".critical")] = "0";
		}
		keys[PV::key("metrics.thresholds.connection_usage.warning")] = "50";
		keys[PV::key("metrics.thresholds.connection_usage.critical")] = "0";
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		startNodes(redis, prefix, {&a, &b}, keys);

		WsTestClient systemA = PV::connect(a), alertsA = PV::connect(a);
		WsTestClient systemB = PV::connect(b), alertsB = PV::connect(b);
		PV::subscribe(systemA, "system");
		PV::subscribe(alertsA, "alerts");
		PV::subscribe(systemB, "system");
		PV::subscribe(alertsB, "alerts");
		std::vector<WsTestClient> extra;
		for (int i = 0; i < EXTRA_ON_A; ++i)
		{
			extra.push_back(PV::connect(a));
			PV::ping(extra.back());
		}
		const std::int64_t onA = 2 + EXTRA_ON_A;
		const std::int64_t onB = 2;
		// Both nodes hear the system and alerts channels: whatever a published there would reach b.
		for (const char* topic : {"system", "alerts"})
		{
			const std::string channel = groupChannel(prefix, topic);
			const bool both = waitUntil(2000, 10, [&] { return redis.numsub(channel) == 2; });
			CPPUNIT_ASSERT_MESSAGE("NUMSUB " + channel + " is " + std::to_string(redis.numsub(channel)) + ", not 2",
			                       both);
		}

		// Until a's ticker reports all of a's connections; b's subscriber's frames meanwhile are dropped.
		std::string last;
		const bool aCounted = waitUntil(5000, 0, [&] {
			for (WsTestClient* client : {&systemA, &systemB})
			{
				Event event;
				std::string why;
				const Read read = readEvent(*client, 5, event, why);
				CPPUNIT_ASSERT_MESSAGE("before the window: " + why, read != Read::FAILED);
				if (read == Read::EVENT && client == &systemA)
				{
					last = event.text;
					if (event.type == "system_metrics" && connectionFigure(event.text, "activeConnections") == onA)
						return true;
				}
			}
			return false;
		});
		CPPUNIT_ASSERT_MESSAGE("node a's ticker never counted its " + std::to_string(onA) +
		                           " connections within 5 s; last: " + last,
		                       aCounted);

		// The window: both system subscribers read side by side.
		std::vector<Event> seenA, seenB;
		const Deadline window(WINDOW_MS);
		while (!window.expired())
		{
			for (WsTestClient* client : {&systemA, &systemB})
			{
				Event event;
				std::string why;
				const Read read = readEvent(*client, 5, event, why);
				CPPUNIT_ASSERT_MESSAGE("in the window: " + why, read != Read::FAILED);
				if (read == Read::EVENT)
					(client == &systemA ? seenA : seenB).push_back(event);
			}
		}
		std::string figuresB;
		for (const Event& event : seenB)
			figuresB += " " + std::to_string(connectionFigure(event.text, "activeConnections"));
		std::string figuresA;
		for (const Event& event : seenA)
			figuresA += " " + std::to_string(connectionFigure(event.text, "activeConnections"));
		std::cout << "\nPeerVaultClusterTest::testTickerStaysLocal: in " << WINDOW_MS << " ms with a " << INTERVAL_MS
		          << " ms ticker, b's system subscriber got " << seenB.size() << " events, activeConnections"
		          << figuresB << "; a's got " << seenA.size() << ":" << figuresA << std::endl;

		const std::size_t most = WINDOW_MS / INTERVAL_MS + 2;
		for (const auto& side : {std::make_pair("b", &seenB), std::make_pair("a", &seenA)})
		{
			const std::string node = side.first;
			const std::vector<Event>& seen = *side.second;
			const std::int64_t expected = node == "a" ? onA : onB;
			CPPUNIT_ASSERT_MESSAGE("node " + node + "'s subscriber got " + std::to_string(seen.size()) +
			                           " system events in " + std::to_string(WINDOW_MS) + " ms",
			                       seen.size() >= 3);
			CPPUNIT_ASSERT_MESSAGE("node " + node + "'s subscriber got " + std::to_string(seen.size()) +
			                           " system events in " + std::to_string(WINDOW_MS) + " ms with one " +
			                           std::to_string(INTERVAL_MS) + " ms ticker per node: another node's too?",
			                       seen.size() <= most);
			for (const Event& event : seen)
			{
				const std::string where = "node " + node + "'s system subscriber: " + shortened(event.text);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("system_metrics"), event.type);
				CPPUNIT_ASSERT_EQUAL_MESSAGE("activeConnections (node a has " + std::to_string(onA) + ", node b " +
				                                 std::to_string(onB) + "); " + where,
				                             expected, connectionFigure(event.text, "activeConnections"));
				CPPUNIT_ASSERT_EQUAL_MESSAGE("totalConnections; " + where, expected,
				                             connectionFigure(event.text, "totalConnections"));
			}
		}

		// a's alert: warning on connection_usage, to a's subscriber only.
		Event alert;
		std::string why;
		const Read read = readEvent(alertsA, FRAME_MS, alert, why);
		CPPUNIT_ASSERT_MESSAGE("node a's alerts subscriber: " + (read == Read::NOTHING ? "no alert" : why),
		                       read == Read::EVENT);
		const Poco::JSON::Object::Ptr data = PV::objectAt(PV::object(alert.text), "data", alert.text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(alert.text, std::string("performance_alert"), alert.type);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(alert.text, std::string("connection_usage"),
		                             PV::stringAt(data, "metric", alert.text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(alert.text, std::string("warning"), PV::stringAt(data, "level", alert.text));
		CPPUNIT_ASSERT_MESSAGE(alert.text, PV::numberAt(data, "value", alert.text) >= 50);
		PV::expectNothing(alertsA, "node a's alerts subscriber after its one alert");
		PV::expectNothing(alertsB, "node b's alerts subscriber: node a's alert must stay on node a");

		stopNodes({&a, &b});
	}

	void testUnsubscribeDropsChannel()
	/// Node b drops a topic's channel when its last subscriber there leaves (an unsubscribe
	/// message, a closed connection), not before; the other nodes keep receiving; a new subscriber
	/// on b takes the channel again.
	{
		if (skipWithoutRedis("testUnsubscribeDropsChannel"))
			return;
		const std::string prefix = "pv3:";
		const std::string files = groupChannel(prefix, Topic::FILES);
		const std::string peers = groupChannel(prefix, Topic::PEERS);
		RedisTestServer redis;
		redis.start();
		TestServer a, b, c;
		startNodes(redis, prefix, {&a, &b, &c});

		Subscriber a1 = subscribe(a, "a-files", {Topic::FILES});
		Subscriber b1 = subscribe(b, "b-files-1", {Topic::FILES});
		Subscriber b2 = subscribe(b, "b-files-2", {Topic::FILES});
		Subscriber b3 = subscribe(b, "b-peers", {Topic::PEERS});
		Subscriber c1 = subscribe(c, "c-files", {Topic::FILES});
		Subscriber c2 = subscribe(c, "c-peers", {Topic::PEERS});
		int rounds = 0;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("every node's subscription", std::string(),
		                             syncSubscriptions(a, {&a1, &b1, &b2, &b3, &c1, &c2}, rounds));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("file_operations heard by a, b, c", std::string(), awaitNumsub(redis, files, 3));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("peer_network heard by b, c", std::string(), awaitNumsub(redis, peers, 2));
		std::vector<std::string> channels = redis.channels(prefix + "group:*");
		std::sort(channels.begin(), channels.end());
		std::string listed;
		for (const std::string& channel : channels)
			listed += (listed.empty() ? "" : " ") + channel;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("PUBSUB CHANNELS " + prefix + "group:*", files + " " + peers, listed);

		// b1 leaves file_operations; b2 is still there: b keeps the channel.
		PV::sendJson(b1.client, "{\"type\":\"unsubscribe\",\"topic\":\"file_operations\"}");
		PV::expectNothing(b1.client, "b-files-1's unsubscribe has no reply");
		const bool droppedEarly = waitUntil(300, 20, [&] { return redis.numsub(files) != 3; });
		CPPUNIT_ASSERT_MESSAGE("NUMSUB " + files + " changed to " + std::to_string(redis.numsub(files)) +
		                           " while b still has a subscriber",
		                       !droppedEarly);

		// b2, b's last subscriber of file_operations, closes.
		const std::int64_t closedAt = Deadline::nowMicros();
		b2.client.sendClose(1000);
		const WsTestClient::CloseInfo close = b2.client.expectClose(FRAME_MS);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("b-files-2's close answered", 1000, close.code);
		const std::int64_t filesDropMs = expectNumsubSince(redis, files, 2, closedAt, "b's last subscriber closed");

		// b3, b's only subscriber of peer_network, unsubscribes.
		const std::int64_t unsubscribedAt = Deadline::nowMicros();
		PV::sendJson(b3.client, "{\"type\":\"unsubscribe\",\"topic\":\"peer_network\"}");
		const std::int64_t peersDropMs =
		    expectNumsubSince(redis, peers, 1, unsubscribedAt, "b's last subscriber unsubscribed");
		PV::expectNothing(b3.client, "b-peers' unsubscribe has no reply");

		// Publishing on a still reaches a and c, and nothing reaches b's former subscribers.
		constexpr int COUNT = 30;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a after b left", std::string(),
		                             publishBurst(a, 0, COUNT, burstTopic, {{Topic::FILES, 1}, {Topic::PEERS, 0}}));
		const std::string received = expectAll({&a1, &c1, &c2}, 0, COUNT, burstTopic);
		CPPUNIT_ASSERT_MESSAGE("a and c after b left:" + received, received.empty());
		sleepMs(200); // what b would wrongly get arrives about when c got it
		CPPUNIT_ASSERT_EQUAL_MESSAGE("b-files-1 after unsubscribing", std::string(), sentinel(b1));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("b-peers after unsubscribing", std::string(), sentinel(b3));

		// b1 subscribes again: b takes the channel again and gets what a publishes.
		const std::int64_t resubscribedAt = Deadline::nowMicros();
		PV::subscribe(b1.client, "file_operations");
		const std::int64_t filesBackMs =
		    expectNumsubSince(redis, files, 3, resubscribedAt, "b-files-1 subscribed again");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("b-files-1 subscribed again", std::string(),
		                             syncSubscriptions(a, {&a1, &b1, &c1}, rounds));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a once b-files-1 is back", std::string(),
		                             publishBurst(a, COUNT, 10, burstTopic, {{Topic::FILES, 1}, {Topic::PEERS, 0}}));
		const std::string back = expectAll({&a1, &b1, &c1, &c2}, COUNT, 10, burstTopic);
		CPPUNIT_ASSERT_MESSAGE("after b-files-1 subscribed again:" + back, back.empty());
		CPPUNIT_ASSERT_EQUAL_MESSAGE("b-peers at the end", std::string(), sentinel(b3));
		std::cout << "\nPeerVaultClusterTest::testUnsubscribeDropsChannel: b dropped " << files << " " << filesDropMs
		          << " ms after its last subscriber closed, " << peers << " " << peersDropMs
		          << " ms after its last subscriber unsubscribed; took " << files << " again after " << filesBackMs
		          << " ms" << std::endl;

		stopNodes({&a, &b, &c});
	}

	void testNodeKilledOthersKeepReceiving()
	/// kill -9 of node b: what a publishes right after still reaches a's and c's subscribers, every
	/// event in order; b's subscribers lose their connection; b's Redis subscription is gone at
	/// once and a stops listing b within node_ttl_s + 2 s.
	{
		if (skipWithoutRedis("testNodeKilledOthersKeepReceiving"))
			return;
		const std::string prefix = "pv4:";
		const std::string files = groupChannel(prefix, Topic::FILES);
		RedisTestServer redis;
		redis.start();
		TestServer a, b, c;
		startNodes(redis, prefix, {&a, &b, &c});

		Subscriber a1 = subscribe(a, "a-files", {Topic::FILES});
		Subscriber b1 = subscribe(b, "b-files-1", {Topic::FILES});
		Subscriber b2 = subscribe(b, "b-files-2", {Topic::FILES});
		Subscriber c1 = subscribe(c, "c-files-1", {Topic::FILES});
		Subscriber c2 = subscribe(c, "c-files-2", {Topic::FILES});
		int rounds = 0;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("every node's subscription", std::string(),
		                             syncSubscriptions(a, {&a1, &b1, &b2, &c1, &c2}, rounds));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("file_operations heard by a, b, c before the kill", std::string(),
		                             awaitNumsub(redis, files, 3));
		ClusterView view;
		const bool listed = waitUntil(5000, 50, [&] {
			view = fetchCluster(a);
			return view.ids() == "a,b,c";
		});
		CPPUNIT_ASSERT_MESSAGE("node a lists a,b,c before the kill: " + view.describe(), listed);
		const auto filesOnly = [](int) { return Topic::FILES; };

		CPPUNIT_ASSERT_EQUAL_MESSAGE("node b killed", 128 + SIGKILL, b.stop(SIGKILL));
		const std::int64_t killedAt = Deadline::nowMicros();
		constexpr int COUNT = 50;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a right after b was killed", std::string(),
		                             publishBurst(a, 0, COUNT, filesOnly, {{Topic::FILES, 1}}));
		const std::string received = expectAll({&a1, &c1, &c2}, 0, COUNT, filesOnly);
		CPPUNIT_ASSERT_MESSAGE("a and c right after b was killed:" + received, received.empty());
		const std::int64_t deliveredMs = elapsedMs(killedAt);
		for (Subscriber* s : {&b1, &b2})
		{
			Event event;
			std::string why;
			const Read read = readEvent(s->client, FRAME_MS, event, why);
			CPPUNIT_ASSERT_MESSAGE(s->name + " on the killed node: " +
			                           (read == Read::EVENT     ? "got " + shortened(event.text)
			                            : read == Read::NOTHING ? "still connected"
			                                                    : why),
			                       read == Read::FAILED &&
			                           why.compare(0, CONNECTION_ENDED.size(), CONNECTION_ENDED) == 0);
		}
		const bool unsubscribed = waitUntil(2000, 20, [&] { return redis.numsub(files) == 2; });
		CPPUNIT_ASSERT_MESSAGE("NUMSUB " + files + " after the kill: " + std::to_string(redis.numsub(files)),
		                       unsubscribed);

		// a stops listing b once b's liveness key expires; a keeps delivering meanwhile.
		const int boundMs = (NODE_TTL_S + 2) * 1000;
		std::int64_t unlistedMs = -1;
		int published = COUNT;
		while (unlistedMs < 0 && elapsedMs(killedAt) <= boundMs + 1000)
		{
			view = fetchCluster(a);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(view.describe(), std::string(), view.error);
			if (view.ids() == "a,c")
				unlistedMs = elapsedMs(killedAt);
			else
			{
				CPPUNIT_ASSERT_EQUAL_MESSAGE("while b's key lives: " + view.describe(), std::string("a,b,c"),
				                             view.ids());
				CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a while b is dead but listed", std::string(),
				                             publishBurst(a, published, 1, filesOnly, {{Topic::FILES, 1}}));
				const std::string one = expectAll({&a1, &c1, &c2}, published, 1, filesOnly);
				CPPUNIT_ASSERT_MESSAGE("a and c while b is dead but listed:" + one, one.empty());
				++published;
				sleepMs(100);
			}
		}
		std::cout << "\nPeerVaultClusterTest::testNodeKilledOthersKeepReceiving: " << COUNT
		          << " events published after the kill all delivered " << deliveredMs
		          << " ms after it; node b unlisted " << unlistedMs << " ms after the kill (node_ttl_s " << NODE_TTL_S
		          << "), " << published - COUNT << " more events delivered meanwhile" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("node a stops listing node b within " + std::to_string(boundMs) +
		                           " ms of the kill; after " + std::to_string(elapsedMs(killedAt)) +
		                           " ms: " + view.describe(),
		                       unlistedMs >= 0 && unlistedMs <= boundMs);
		// c's list may be up to a second older than a's (/cluster reads Redis every second).
		ClusterView viewC;
		const bool cUnlisted = waitUntil(std::max<int>(0, boundMs - static_cast<int>(elapsedMs(killedAt))), 50, [&] {
			viewC = fetchCluster(c);
			return viewC.ids() == "a,c";
		});
		CPPUNIT_ASSERT_MESSAGE("node c stops listing node b within " + std::to_string(boundMs) +
		                           " ms of the kill; after " + std::to_string(elapsedMs(killedAt)) +
		                           " ms: " + viewC.describe(),
		                       cUnlisted);

		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a after b left /cluster", std::string(),
		                             publishBurst(a, published, 10, filesOnly, {{Topic::FILES, 1}}));
		const std::string after = expectAll({&a1, &c1, &c2}, published, 10, filesOnly);
		CPPUNIT_ASSERT_MESSAGE("a and c after b left /cluster:" + after, after.empty());
		stopNodes({&a, &c});
	}

	void testRedisRestartResumes()
	/// Redis restarts (empty) under two nodes with subscribers on both: once the nodes have
	/// subscribed again, events published on either node reach every subscriber, in order, once;
	/// each node holds one subscription to the topic's channel, not two.
	{
		if (skipWithoutRedis("testRedisRestartResumes"))
			return;
		const std::string prefix = "pv5:";
		const std::string files = groupChannel(prefix, Topic::FILES);
		RedisTestServer redis;
		redis.start();
		TestServer a, b;
		startNodes(redis, prefix, {&a, &b});
		Subscriber a1 = subscribe(a, "a-files", {Topic::FILES});
		Subscriber b1 = subscribe(b, "b-files-1", {Topic::FILES});
		Subscriber b2 = subscribe(b, "b-files-2", {Topic::FILES});
		const std::vector<Subscriber*> all = {&a1, &b1, &b2};
		int rounds = 0;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("every node's subscription", std::string(), syncSubscriptions(a, all, rounds));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("file_operations heard by a and b", std::string(), awaitNumsub(redis, files, 2));

		CPPUNIT_ASSERT_EQUAL_MESSAGE("redis stopped cleanly", 0, redis.stop());
		redis.start();
		const std::int64_t restartedAt = Deadline::nowMicros();
		// What a node publishes before the other has subscribed again is lost there (at most once):
		// probes until every subscriber has one, within SYNC_MS.
		rounds = 0;
		CPPUNIT_ASSERT_EQUAL_MESSAGE("every node's subscription after the restart", std::string(),
		                             syncSubscriptions(a, all, rounds));
		const std::int64_t resumedMs = elapsedMs(restartedAt);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("file_operations heard by a and b once each", std::string(),
		                             awaitNumsub(redis, files, 2));
		const auto filesOnly = [](int) { return Topic::FILES; };
		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on a after the restart", std::string(),
		                             publishBurst(a, 0, 50, filesOnly, {{Topic::FILES, 1}}));
		std::string received = expectAll(all, 0, 50, filesOnly);
		CPPUNIT_ASSERT_MESSAGE("events published on a after the restart:" + received, received.empty());
		CPPUNIT_ASSERT_EQUAL_MESSAGE("publishing on b after the restart", std::string(),
		                             publishBurst(b, 50, 50, filesOnly, {{Topic::FILES, 2}}));
		received = expectAll(all, 50, 50, filesOnly);
		CPPUNIT_ASSERT_MESSAGE("events published on b after the restart:" + received, received.empty());
		std::cout << "\nPeerVaultClusterTest::testRedisRestartResumes: every subscriber reached again " << resumedMs
		          << " ms after the restart (" << rounds << " probe rounds); 100 events after it delivered in order"
		          << std::endl;
		stopNodes({&a, &b});
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultClusterTest);
