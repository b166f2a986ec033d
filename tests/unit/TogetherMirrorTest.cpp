//
// TogetherMirrorTest.cpp
//
// The Together plugin's side of cluster mode (docs/protocols/together.md §9), with two FakeHosts
// as nodes 1 and 2 sharing one database (as PostgreSQL is shared) and the test carrying their
// cluster messages across: a change on one node reaches the other's mirror; presence is one per
// user across nodes; a departed node's users go offline; garbage on the channel is ignored.
// Events for clients travel through groups, which FakeHost keeps per node: TogetherClusterTest
// runs real nodes for those.
//


#include "TogetherPlugin.h"
#include "switchboard/testing/FakeHost.h"
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <memory>
#include <random>
#include <string>


using namespace Switchboard;
using Switchboard::Together::TogetherPlugin;


namespace {


// Windows headers declare a global ConnectionId (naptypes.h): the SDK's one, here.
using ConnectionId = Switchboard::ConnectionId;


const std::string SECRET = "together-mirror-test-secret-0123456789";


std::string field(const std::string& json, const std::string& name)
{
	Poco::JSON::Parser parser;
	return parser.parse(json).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>(name);
}


struct Node
{
	Node(NodeNumber number, Testing::SqliteTestStorage& storage):
	    host("together")
	{
		host.setStorage(&storage);
		std::string error = host.setConfig(Together::togetherDescriptor(), {{"jwt_secret", SECRET},
		                                                                    {"auth_rate_limit.per_second", "0"},
		                                                                    {"password.memlimit", "8192"},
		                                                                    {"password.opslimit", "1"}});
		CPPUNIT_ASSERT_EQUAL(std::string(), error);
		host.joinCluster(number);
		host.setRandomSeed(number); // ids as two real nodes' CSPRNGs give: not the same ones
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
		CPPUNIT_ASSERT(host.clusterListener().message);
		host.clearClusterSent();
	}

	HttpResponse send(const std::string& method, const std::string& path, const std::string& body = "",
	                  const std::string& token = "")
	{
		HeaderList headers;
		if (!body.empty())
			headers.emplace_back("Content-Type", "application/json");
		if (!token.empty())
			headers.emplace_back("Authorization", "Bearer " + token);
		return host.request(method, path, body, std::move(headers), "127.0.0.1:40001");
	}

	FakeHost host;
	TogetherPlugin plugin;
};


struct Cluster
/// Nodes 1 and 2; carry() delivers what each told the other, until both are quiet.
{
	Cluster():
	    one(1, storage),
	    two(2, storage)
	{
	}

	void carry()
	{
		for (int round = 0; round < 10; ++round)
		{
			auto fromOne = one.host.clusterSent();
			auto fromTwo = two.host.clusterSent();
			one.host.clearClusterSent();
			two.host.clearClusterSent();
			if (fromOne.empty() && fromTwo.empty())
				return;
			for (const auto& m : fromOne)
				if (m.first == 0 || m.first == 2)
					two.host.clusterListener().message(1, m.second);
			for (const auto& m : fromTwo)
				if (m.first == 0 || m.first == 1)
					one.host.clusterListener().message(2, m.second);
		}
		CPPUNIT_FAIL("the nodes kept talking");
	}

	std::pair<std::string, std::string> registerOn(Node& node, const std::string& name)
	/// (user id, access token)
	{
		HttpResponse r =
		    node.send("POST", "/auth/register", R"({"username":")" + name + R"(","password":"password123"})");
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 201, r.status);
		Poco::JSON::Parser parser;
		auto body = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
		return {body->getObject("user")->getValue<std::string>("id"), body->getValue<std::string>("access_token")};
	}

	std::string statusOf(Node& node, const std::string& serverId, const std::string& userId, const std::string& token)
	{
		HttpResponse r = node.send("GET", "/servers/" + serverId + "/members", "", token);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
		std::size_t at = r.body.find("\"user_id\":\"" + userId + "\"");
		CPPUNIT_ASSERT(at != std::string::npos);
		std::size_t status = r.body.find("\"status\":\"", at) + 10;
		return r.body.substr(status, r.body.find('"', status) - status);
	}

	Testing::SqliteTestStorage storage;
	Node one;
	Node two;
};


} // namespace


class TogetherMirrorTest: public CppUnit::TestFixture
{
	using ConnectionId = Switchboard::ConnectionId; // not the global one of Windows' naptypes.h
	CPPUNIT_TEST_SUITE(TogetherMirrorTest);
	CPPUNIT_TEST(testAccountsServersAndChannelsReachTheOtherNode);
	CPPUNIT_TEST(testUserUnknownToTheMirrorIsReadFromStorage);
	CPPUNIT_TEST(testOnePresencePerUserAcrossNodes);
	CPPUNIT_TEST(testDepartedNodesUsersGoOffline);
	CPPUNIT_TEST(testResyncForgetsUsersNotAnnouncedAgain);
	CPPUNIT_TEST(testGarbageOnTheChannelIsIgnored);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAccountsServersAndChannelsReachTheOtherNode()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		auto bob = c.registerOn(c.two, "bob");
		HttpResponse server = c.one.send("POST", "/servers", R"({"name":"S"})", alice.second);
		CPPUNIT_ASSERT_EQUAL(201, server.status);
		const std::string serverId = field(server.body, "id");
		c.carry();
		// Bob joins through node 2, which learnt of the server from node 1.
		CPPUNIT_ASSERT_EQUAL(201, c.two.send("POST", "/servers/" + serverId + "/join", "", bob.second).status);
		HttpResponse channel = c.two.send("POST", "/servers/" + serverId + "/channels",
		                                  R"({"name":"general","type":"text"})", alice.second);
		CPPUNIT_ASSERT_EQUAL(201, channel.status);
		c.carry();
		HttpResponse members = c.one.send("GET", "/servers/" + serverId + "/members", "", alice.second);
		CPPUNIT_ASSERT(members.body.find(bob.first) != std::string::npos);
		HttpResponse channels = c.one.send("GET", "/servers/" + serverId + "/channels", "", bob.second);
		CPPUNIT_ASSERT_MESSAGE(channels.body, channels.body.find("\"general\"") != std::string::npos);
		// Deleted on node 2: gone on node 1.
		CPPUNIT_ASSERT_EQUAL(204, c.two.send("DELETE", "/servers/" + serverId, "", alice.second).status);
		c.carry();
		CPPUNIT_ASSERT_EQUAL(404, c.one.send("GET", "/servers/" + serverId, "", alice.second).status);
	}

	void testUserUnknownToTheMirrorIsReadFromStorage()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		c.one.host.clearClusterSent(); // node 2 never hears of her
		HttpResponse me = c.two.send("GET", "/users/@me", "", alice.second);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(me.body, 200, me.status);
		CPPUNIT_ASSERT_EQUAL(alice.first, field(me.body, "id"));
		// The same for a server and a channel made on node 1 that node 2 has not heard of.
		const std::string serverId = field(c.one.send("POST", "/servers", R"({"name":"S"})", alice.second).body, "id");
		const std::string channelId = field(
		    c.one.send("POST", "/servers/" + serverId + "/channels", R"({"name":"t","type":"text"})", alice.second)
		        .body,
		    "id");
		c.one.host.clearClusterSent();
		HttpResponse posted =
		    c.two.send("POST", "/channels/" + channelId + "/messages", R"({"content":"hi"})", alice.second);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(posted.body, 201, posted.status);
		CPPUNIT_ASSERT_EQUAL(200, c.two.send("GET", "/servers/" + serverId, "", alice.second).status);
	}

	void testOnePresencePerUserAcrossNodes()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		auto bob = c.registerOn(c.one, "bob");
		const std::string serverId = field(c.one.send("POST", "/servers", R"({"name":"S"})", alice.second).body, "id");
		c.one.send("POST", "/servers/" + serverId + "/join", "", bob.second);
		c.carry();
		ConnectionId onOne = c.one.host.connect("/ws?token=" + alice.second);
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.two, serverId, alice.first, bob.second));
		ConnectionId onTwo = c.two.host.connect("/ws?token=" + alice.second);
		c.carry();
		c.one.host.deliver(onOne, R"({"op":"PRESENCE_UPDATE","d":{"status":"dnd"}})");
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("dnd"), c.statusOf(c.two, serverId, alice.first, bob.second));
		// Her session on node 1 ends; node 2's keeps her dnd everywhere.
		c.one.host.disconnect(onOne);
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("dnd"), c.statusOf(c.one, serverId, alice.first, bob.second));
		c.two.host.disconnect(onTwo);
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), c.statusOf(c.one, serverId, alice.first, bob.second));
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), c.statusOf(c.two, serverId, alice.first, bob.second));
	}

	void testDepartedNodesUsersGoOffline()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		auto bob = c.registerOn(c.one, "bob");
		const std::string serverId = field(c.one.send("POST", "/servers", R"({"name":"S"})", alice.second).body, "id");
		c.one.send("POST", "/servers/" + serverId + "/join", "", bob.second);
		c.carry();
		ConnectionId bobOnOne = c.one.host.connect("/ws?token=" + bob.second);
		c.two.host.connect("/ws?token=" + alice.second);
		c.carry();
		c.one.host.takeSent(bobOnOne);
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, alice.first, bob.second));
		c.one.host.clusterListener().nodeLeft(2);
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), c.statusOf(c.one, serverId, alice.first, bob.second));
		bool told = false;
		for (const SentMessage& m : c.one.host.takeSent(bobOnOne))
			told =
			    told || (m.data.find("PRESENCE_UPDATE") != std::string::npos &&
			             m.data.find(alice.first) != std::string::npos && m.data.find("offline") != std::string::npos);
		CPPUNIT_ASSERT(told);
		CPPUNIT_ASSERT(c.one.host.clusterSent().empty()); // each node tells its own sessions
	}

	void testResyncForgetsUsersNotAnnouncedAgain()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		auto bob = c.registerOn(c.one, "bob");
		auto carol = c.registerOn(c.one, "carol");
		const std::string serverId = field(c.one.send("POST", "/servers", R"({"name":"S"})", alice.second).body, "id");
		c.one.send("POST", "/servers/" + serverId + "/join", "", bob.second);
		c.one.send("POST", "/servers/" + serverId + "/join", "", carol.second);
		c.carry();
		ConnectionId bobOnOne = c.one.host.connect("/ws?token=" + bob.second);
		c.two.host.connect("/ws?token=" + alice.second);
		ConnectionId carolOnTwo = c.two.host.connect("/ws?token=" + carol.second);
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, carol.first, bob.second));

		// Redis is away: Carol leaves node 2 and node 1 is not told.
		c.two.host.disconnect(carolOnTwo);
		c.two.host.clearClusterSent();
		c.one.host.takeSent(bobOnOne);
		// Back: node 1 asks, node 2 answers for Alice only.
		c.one.host.clusterListener().synced();
		c.carry();
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, alice.first, bob.second));
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, carol.first, bob.second));
		c.one.host.advance(4900);
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, carol.first, bob.second));
		c.one.host.advance(200);
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), c.statusOf(c.one, serverId, carol.first, bob.second));
		CPPUNIT_ASSERT_EQUAL(std::string("online"), c.statusOf(c.one, serverId, alice.first, bob.second));
		int carolOffline = 0, aboutAlice = 0;
		for (const SentMessage& m : c.one.host.takeSent(bobOnOne))
		{
			if (m.data.find("PRESENCE_UPDATE") == std::string::npos)
				continue;
			carolOffline +=
			    m.data.find(carol.first) != std::string::npos && m.data.find("offline") != std::string::npos;
			aboutAlice += m.data.find(alice.first) != std::string::npos;
		}
		CPPUNIT_ASSERT_EQUAL(1, carolOffline);
		CPPUNIT_ASSERT_EQUAL(0, aboutAlice);              // announced again, unchanged: nothing to tell
		CPPUNIT_ASSERT(c.one.host.clusterSent().empty()); // each node tells its own sessions
	}

	void testGarbageOnTheChannelIsIgnored()
	{
		Cluster c;
		auto alice = c.registerOn(c.one, "alice");
		const std::string serverId = field(c.one.send("POST", "/servers", R"({"name":"S"})", alice.second).body, "id");
		c.carry();
		const std::vector<std::string> garbage = {"",
		                                          "\n",
		                                          "U",
		                                          "U x y",
		                                          "S",
		                                          "S " + serverId + " extra",
		                                          "C",
		                                          "V",
		                                          "V u c 0101",
		                                          "V u c 01 1 2",
		                                          "V u c 0101 x 2",
		                                          "V u c 0101 1 -",
		                                          "P",
		                                          "P u 2 online n",
		                                          "P u 1 happy n",
		                                          "P u 1 online x",
		                                          "H extra",
		                                          "reload",
		                                          "S '; DROP TABLE servers"};
		for (const std::string& message : garbage)
			c.two.host.clusterListener().message(1, message);
		std::mt19937 random(11);
		for (int i = 0; i < 2000; ++i)
		{
			std::string message = std::string(1, "USCVPH"[random() % 6]) + " ";
			for (int length = static_cast<int>(random() % 50); length > 0; --length)
				message += static_cast<char>(random() % 256);
			c.two.host.clusterListener().message(1, message);
		}
		HttpResponse server = c.two.send("GET", "/servers/" + serverId, "", alice.second);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(server.body, 200, server.status);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherMirrorTest);
