//
// TogetherClusterTest.cpp
//
// Cluster mode with the Together plugin (docs/protocols/together.md, docs/cluster.md): two real
// nodes ([cluster] enabled, node ids "a" and "b") sharing one real redis-server for messages
// between nodes and one real PostgreSQL for users, servers, channels and messages ([storage]
// backend = postgresql). An account made through one node is usable through the other at once
// (login, /users/@me, the gateway); a server created on one node is joined through the other;
// messages, channel changes, presence and voice (states and VOICE_SIGNAL) cross the nodes as
// they would on one node; the users of a killed node go offline within node_ttl_s; a user who
// left during a Redis restart goes offline for the other node's sessions once the nodes resync;
// and every record survives a restart of both nodes.
//
// On one node nothing is dispatched when a user joins a server (TogetherGatewayIntegrationTest's
// testMembershipIsLive), so the cases that are not about presence open their gateways before the
// users share a server: no PRESENCE_UPDATE is due then, and every frame a case waits for is the
// next one on its socket.
//
// The tests skip, saying why, when redis-server or PostgreSQL is not installed or is turned off
// (SWITCHBOARD_TEST_NO_REDIS=1, SWITCHBOARD_TEST_NO_POSTGRES=1).
//
// Reads through one node may lag a write through the other by the time its notice takes
// (docs/protocols/together.md §9), so a REST read of something changed elsewhere is repeated for up
// to 2 s (PROPAGATION_MS); gateway events are simply waited for.
//
// Every wait is bounded: frames and REST calls by TogetherTestSupport's limits, propagation by
// 2 s, the cluster view by 5 s, a killed node by node_ttl_s + 3 s.
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "PostgresTestServer.h"
#include "RedisTestServer.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include "WsTestClient.h"
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cppunit/Exception.h>
#include <cppunit/Message.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Cluster;
using namespace Switchboard::Test::Together;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


constexpr int NODE_TTL_S = 3;
/// How long a socket must stay quiet after something elsewhere that must not reach it: longer
/// than on one node, since a wrong event would travel through Redis first.
constexpr int CLUSTER_QUIET_MS = 1000;

/// How long a change made through one node may take to show in the other's REST answers: reads
/// there lag writes by the time the change's notice takes (docs/protocols/together.md §9).
constexpr int PROPAGATION_MS = 2000;

/// Cheap password hashing (every case registers and logs in several users).
const TestServer::Keys FAST_HASH = {{"password.opslimit", "1"}, {"password.memlimit", "8192"}};


bool skipWithoutServices(const std::string& test)
{
	return skipWithoutRedis("TogetherClusterTest", test) || skipWithoutPostgres("TogetherClusterTest", test);
}


std::string describe(const HttpResponse& response)
{
	return "HTTP " + std::to_string(response.status) + " " + response.body;
}


std::set<std::string> idsOf(const Array::Ptr& list, const std::string& key = "id")
{
	std::set<std::string> ids;
	for (std::size_t i = 0; i < list->size(); ++i)
		ids.insert(text(list->getObject(static_cast<unsigned>(i)), key));
	return ids;
}


Object::Ptr findById(const Array::Ptr& list, const std::string& id)
/// The element of list whose "id" is id, or null.
{
	for (std::size_t i = 0; i < list->size(); ++i)
	{
		Object::Ptr item = list->getObject(static_cast<unsigned>(i));
		if (item && item->has("id") && item->get("id").isString() && item->getValue<std::string>("id") == id)
			return item;
	}
	return nullptr;
}


// --- Nodes -----------------------------------------------------------------------------------

struct Nodes: SharedStorageNodes
/// Nodes "a" and "b" with the Together plugin on their "together" listener and the fixed test
/// secret (so a token minted by one node is valid on the other). Started from the test's thread
/// (PDEATHSIG).
{
	std::string prefix;

	explicit Nodes(const std::string& keyPrefix):
	    SharedStorageNodes(keyPrefix, NODE_TTL_S),
	    prefix(keyPrefix)
	{
		for (TestServer* pNode : {&a, &b})
			configure(*pNode, FAST_HASH);
	}

	void startBoth()
	{
		a.start();
		b.start();
		expectEachListsTheOther();
	}

	void stopBoth()
	{
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node a stopped cleanly", 0, a.stop());
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node b stopped cleanly", 0, b.stop());
	}

	void expectBothSubscribed(const std::string& serverId)
	/// Both nodes hear the server's group. A node subscribes a moment after its first session
	/// joins the group, and what is published before reaches only the others (at most once).
	{
		const std::string channel = prefix + "group:together:s:" + serverId;
		long long count = -1;
		CPPUNIT_ASSERT_MESSAGE("PUBSUB NUMSUB " + channel + " is " + std::to_string(count) + ", not 2",
		                       waitUntil(5000, 10, [&] { return (count = redis.numsub(channel)) == 2; }));
	}
};


// --- Gateway sessions ------------------------------------------------------------------------

struct Gateway
/// One gateway session of a user on a node, named for messages ("alice on node a").
{
	std::string who;
	Session session;

	Gateway(Nodes& nodes, TestServer& node, const User& user, const std::string& userName):
	    who(userName + " on node " + nodes.name(node)),
	    session(explained(who + " opened the gateway", [&] { return openSession(node, user); }))
	{
	}

	Object::Ptr ready() const { return session.ready; }

	Object::Ptr expect(const std::string& type, int timeoutMs = WAIT_MS)
	/// The next frame is a DISPATCH of type: its d.
	{
		return explained(who + " waited for " + type, [&] { return nextDispatch(session.client, type, timeoutMs); });
	}

	void expectPresenceOf(const User& subject, const std::string& subjectName, const std::string& status,
	                      int timeoutMs = WAIT_MS)
	{
		explained(who + " waited for PRESENCE_UPDATE " + status + " of " + subjectName,
		          [&] { expectPresence(session.client, subject.id, status, timeoutMs); });
	}

	void expectNothing(int quietMs = CLUSTER_QUIET_MS)
	/// After quietMs, the next frame is the answer to a sentinel HEARTBEAT.
	{
		sleepMs(quietMs);
		explained(who + " expected nothing more", [&] { expectNothingBut(session.client); });
	}

	void send(const std::string& frame) { session.client.sendText(frame); }

	void close()
	{
		explained(who + " closed its session", [&] { closeSession(session.client); });
	}
};


void expectSameJson(const std::string& what, const std::string& expectedJson, const Object::Ptr& actual)
/// actual is the JSON value expectedJson (key order aside).
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what, stringify(parse(expectedJson)), stringify(actual));
}


void expectServerListed(const std::string& who, const Object::Ptr& ready, const std::string& serverId, int memberCount)
/// READY's servers hold serverId with member_count memberCount.
{
	Array::Ptr servers = ready->getArray("servers");
	CPPUNIT_ASSERT_MESSAGE("READY of " + who + " has a servers array: " + stringify(ready), servers);
	Object::Ptr listed = findById(servers, serverId);
	CPPUNIT_ASSERT_MESSAGE("READY of " + who + " lists server " + serverId + ": " + stringify(servers), listed);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("member_count in READY of " + who + ": " + stringify(listed), memberCount,
	                             listed->get("member_count").convert<int>());
}


std::string presenceFrame(const std::string& status)
{
	return "{\"op\":\"PRESENCE_UPDATE\",\"d\":{\"status\":" + quote(status) + "}}";
}


std::string voiceSignalFrame(const std::string& toUserId, const std::string& signal)
{
	return "{\"op\":\"VOICE_SIGNAL\",\"d\":{\"to_user_id\":" + quote(toUserId) + ",\"signal\":" + signal + "}}";
}


// --- REST through a node ---------------------------------------------------------------------

Array::Ptr listOn(TestServer& node, const std::string& nodeName, const User& viewer, const std::string& path)
/// GET path on the node as viewer; asserts 200 and an array.
{
	HttpResponse response = call(node, "GET", path, viewer.accessToken);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("GET " + path + " on node " + nodeName + ": " + describe(response), 200,
	                             response.status);
	return array(response.body);
}


HttpResponse callUntil(TestServer& node, const std::string& method, const std::string& path, const std::string& token,
                       const std::function<bool(const HttpResponse&)>& done, const std::string& body = "")
/// The request, repeated every 50 ms until done holds for its answer or PROPAGATION_MS pass (only
/// for requests that change nothing unless they succeed); the last answer.
{
	HttpResponse response;
	waitUntil(PROPAGATION_MS, 50, [&] {
		response = call(node, method, path, token, body);
		return done(response);
	});
	return response;
}


bool notFound(const HttpResponse& response)
{
	return response.status == 404;
}


Array::Ptr listUntil(TestServer& node, const std::string& nodeName, const User& viewer, const std::string& path,
                     const std::function<bool(const Array::Ptr&)>& done)
/// listOn() until done holds for the list or PROPAGATION_MS pass; the last list.
{
	Array::Ptr list;
	waitUntil(PROPAGATION_MS, 50, [&] {
		list = listOn(node, nodeName, viewer, path);
		return done(list);
	});
	return list;
}


void expectStatus(TestServer& node, const std::string& nodeName, const User& viewer, const std::string& userPath,
                  const std::string& status, const std::string& what)
/// GET userPath (/users/@me or /users/:id) on the node shows status (within PROPAGATION_MS).
{
	HttpResponse response = callUntil(node, "GET", userPath, viewer.accessToken, [&](const HttpResponse& r) {
		return r.status == 200 && object(r.body)->optValue<std::string>("status", "") == status;
	});
	CPPUNIT_ASSERT_EQUAL_MESSAGE("GET " + userPath + " on node " + nodeName + ": " + describe(response), 200,
	                             response.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + " (GET " + userPath + " on node " + nodeName + ")", status,
	                             text(object(response.body), "status"));
}


void joinThrough(TestServer& node, const std::string& nodeName, const User& user, const std::string& userName,
                 const std::string& serverId)
/// POST /servers/:id/join on the node; asserts 201 (a 404 is retried while the new server's
/// notice may still be on its way).
{
	HttpResponse response =
	    callUntil(node, "POST", "/servers/" + serverId + "/join", user.accessToken, std::not_fn(notFound));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(userName + " joining " + serverId + " on node " + nodeName + ": " + describe(response),
	                             201, response.status);
}


struct World
/// alice (registered through node a) and bob (through node b); alice's server S, made on node a,
/// with a text channel T and a voice channel V, joined by bob through node b. Open the users'
/// gateways between makeUsers() and shareServer() for a case without presence events.
{
	User alice;
	User bob;
	std::string serverId;
	std::string textId;
	std::string voiceId;

	void makeUsers(Nodes& nodes)
	{
		alice = explained("registering alice on node a", [&] { return registerUser(nodes.a, "alice"); });
		bob = explained("registering bob on node b", [&] { return registerUser(nodes.b, "bob"); });
	}

	void shareServer(Nodes& nodes)
	{
		serverId = explained("alice creating S on node a", [&] { return createServer(nodes.a, alice, "S"); });
		textId = explained("alice creating T on node a",
		                   [&] { return createChannel(nodes.a, alice, serverId, "general", "text"); });
		voiceId = explained("alice creating V on node a",
		                    [&] { return createChannel(nodes.a, alice, serverId, "Voice", "voice"); });
		joinThrough(nodes.b, "b", bob, "bob", serverId);
	}
};


void presenceSettled(Nodes& nodes, const World& w)
/// alice (on a) and bob (on b) are known online on the other node. Waited for before they share
/// a server: a presence notice applied after that would rightly reach the new co-member too.
{
	expectStatus(nodes.b, "b", w.alice, "/users/@me", "online", "alice's presence known to node b");
	expectStatus(nodes.a, "a", w.bob, "/users/@me", "online", "bob's presence known to node a");
}


} // namespace


class TogetherClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherClusterTest);
	CPPUNIT_TEST(testAccountUsableOnOtherNode);
	CPPUNIT_TEST(testServerJoinableAcrossNodes);
	CPPUNIT_TEST(testChatAcrossNodes);
	CPPUNIT_TEST(testChannelsVisibleAcrossNodes);
	CPPUNIT_TEST(testPresenceAcrossNodes);
	CPPUNIT_TEST(testVoiceAcrossNodes);
	CPPUNIT_TEST(testKilledNodeUsersGoOffline);
	CPPUNIT_TEST(testDataSurvivesRestartOfBothNodes);
	CPPUNIT_TEST(testRedisRestartHealsPresence);
	CPPUNIT_TEST_SUITE_END();

public:
	void testAccountUsableOnOtherNode()
	{
		if (skipWithoutServices("testAccountUsableOnOtherNode"))
			return;
		Nodes nodes("t1:");
		nodes.startBoth();
		// On the node that made the account, as on one node.
		const User alice = explained("registering alice on node a", [&] { return registerUser(nodes.a, "alice"); });
		explained("alice logging in on node a", [&] { login(nodes.a, alice); });

		// Through node b at once: login, /users/@me with node a's token, and node b's gateway.
		const User onB = explained("alice logging in on node b right after registering on node a",
		                           [&] { return login(nodes.b, alice); });
		CPPUNIT_ASSERT_EQUAL(alice.id, claimsOf(onB.accessToken).at("sub").convert<std::string>());
		HttpResponse me = call(nodes.b, "GET", "/users/@me", alice.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("GET /users/@me on node b with node a's token: " + describe(me), 200, me.status);
		CPPUNIT_ASSERT_EQUAL(alice.id, text(object(me.body), "id"));
		CPPUNIT_ASSERT_EQUAL(alice.username, text(object(me.body), "username"));
		me = call(nodes.a, "GET", "/api/users/@me", onB.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("GET /api/users/@me on node a with node b's token: " + describe(me), 200,
		                             me.status);
		CPPUNIT_ASSERT_EQUAL(alice.id, text(object(me.body), "id"));

		Gateway gateway(nodes, nodes.b, alice, "alice");
		Object::Ptr user = gateway.ready()->getObject("user");
		CPPUNIT_ASSERT_MESSAGE("READY user on node b: " + stringify(gateway.ready()), user);
		CPPUNIT_ASSERT_EQUAL(alice.id, text(user, "id"));
		CPPUNIT_ASSERT_EQUAL(alice.username, text(user, "username"));
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(user, "status"));

		// The usernames are one namespace: node b refuses node a's user's name.
		HttpResponse taken = call(nodes.b, "POST", "/auth/register", "",
		                          "{\"username\":" + quote(alice.username) + ",\"password\":\"password123\"}");
		expectError(taken, 409, "Username already taken");
		nodes.stopBoth();
	}

	void testServerJoinableAcrossNodes()
	{
		if (skipWithoutServices("testServerJoinableAcrossNodes"))
			return;
		Nodes nodes("t2:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		const User carol = explained("registering carol on node b", [&] { return registerUser(nodes.b, "carol"); });
		const std::string serverId =
		    explained("alice creating S on node a", [&] { return createServer(nodes.a, w.alice, "S"); });
		const std::string textId = explained(
		    "alice creating T on node a", [&] { return createChannel(nodes.a, w.alice, serverId, "general", "text"); });
		Gateway alice(nodes, nodes.a, w.alice, "alice");
		Gateway bob(nodes, nodes.b, w.bob, "bob");
		presenceSettled(nodes, w);
		expectServerListed(alice.who, alice.ready(), serverId, 1);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("bob's servers before the join: " + stringify(bob.ready()), std::size_t(0),
		                             bob.ready()->getArray("servers")->size());

		// bob joins through node b by the route, carol by the invite code (the server id).
		joinThrough(nodes.b, "b", w.bob, "bob", serverId);
		HttpResponse accepted =
		    callUntil(nodes.b, "POST", "/invites/" + serverId + "/accept", carol.accessToken, std::not_fn(notFound));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("carol accepting S's invite on node b: " + describe(accepted), 201,
		                             accepted.status);
		CPPUNIT_ASSERT_EQUAL(serverId, text(object(accepted.body), "server_id"));
		HttpResponse again = call(nodes.a, "POST", "/servers/" + serverId + "/join", w.bob.accessToken);
		expectError(again, 409, "Already a member of this server");

		// The membership is live on both nodes: as on one node the join itself dispatches nothing,
		// so each first frame is the MESSAGE_CREATE of alice's post.
		nodes.expectBothSubscribed(serverId);
		Object::Ptr message =
		    explained("alice posting on node a", [&] { return postMessage(nodes.a, w.alice, textId, "welcome"); });
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(alice.expect("MESSAGE_CREATE"), "id"));
		CPPUNIT_ASSERT_EQUAL(text(message, "id"), text(bob.expect("MESSAGE_CREATE"), "id"));

		// Members, listings and READY agree on either node.
		for (TestServer* pNode : {&nodes.a, &nodes.b})
		{
			const std::string name = nodes.name(*pNode);
			std::set<std::string> members = idsOf(listUntil(*pNode, name, w.bob, "/servers/" + serverId + "/members",
			                                                [](const Array::Ptr& l) { return l->size() == 3; }),
			                                      "user_id");
			CPPUNIT_ASSERT_EQUAL_MESSAGE("members of S on node " + name, std::size_t(3), members.size());
			CPPUNIT_ASSERT(members.count(w.alice.id) && members.count(w.bob.id) && members.count(carol.id));
			CPPUNIT_ASSERT_MESSAGE("bob's GET /servers on node " + name,
			                       idsOf(listOn(*pNode, name, w.bob, "/servers")).count(serverId));
			HttpResponse got =
			    callUntil(*pNode, "GET", "/servers/" + serverId, carol.accessToken, [](const HttpResponse& r) {
				    return r.status == 200 && object(r.body)->optValue<int>("member_count", 0) == 3;
			    });
			CPPUNIT_ASSERT_EQUAL_MESSAGE("carol's GET /servers/:id on node " + name + ": " + describe(got), 200,
			                             got.status);
			CPPUNIT_ASSERT_EQUAL(3, object(got.body)->get("member_count").convert<int>());
		}
		Gateway aliceOnB(nodes, nodes.b, w.alice, "alice");
		expectServerListed(aliceOnB.who, aliceOnB.ready(), serverId, 3);
		Gateway bobOnA(nodes, nodes.a, w.bob, "bob");
		expectServerListed(bobOnA.who, bobOnA.ready(), serverId, 3);
		Gateway bobOnB(nodes, nodes.b, w.bob, "bob");
		expectServerListed(bobOnB.who, bobOnB.ready(), serverId, 3);
		nodes.stopBoth();
	}

	void testChatAcrossNodes()
	{
		if (skipWithoutServices("testChatAcrossNodes"))
			return;
		Nodes nodes("t3:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		Gateway alice(nodes, nodes.a, w.alice, "alice");
		Gateway bob(nodes, nodes.b, w.bob, "bob");
		presenceSettled(nodes, w);
		w.shareServer(nodes);
		nodes.expectBothSubscribed(w.serverId);

		// bob posts through node b: alice on node a gets the same Message (and bob his own).
		HttpResponse created = call(nodes.b, "POST", "/channels/" + w.textId + "/messages", w.bob.accessToken,
		                            "{\"content\":\"hello from b\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("bob's post on node b: " + describe(created), 201, created.status);
		const std::string messageId = text(object(created.body), "id");
		expectSameJson("alice's MESSAGE_CREATE = the 201 body on node b", created.body, alice.expect("MESSAGE_CREATE"));
		expectSameJson("bob's MESSAGE_CREATE = the 201 body", created.body, bob.expect("MESSAGE_CREATE"));

		HttpResponse edited =
		    call(nodes.b, "PATCH", "/messages/" + messageId, w.bob.accessToken, "{\"content\":\"edited on b\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("bob's edit on node b: " + describe(edited), 200, edited.status);
		expectSameJson("alice's MESSAGE_UPDATE = the 200 body on node b", edited.body, alice.expect("MESSAGE_UPDATE"));
		expectSameJson("bob's MESSAGE_UPDATE = the 200 body", edited.body, bob.expect("MESSAGE_UPDATE"));

		// Node a serves the edit at once.
		Array::Ptr page =
		    listUntil(nodes.a, "a", w.alice, "/channels/" + w.textId + "/messages", [&](const Array::Ptr& list) {
			    Object::Ptr m = findById(list, messageId);
			    return m && m->optValue<std::string>("content", "") == "edited on b";
		    });
		Object::Ptr listed = findById(page, messageId);
		CPPUNIT_ASSERT_MESSAGE("bob's message listed on node a: " + stringify(page), listed);
		CPPUNIT_ASSERT_EQUAL(std::string("edited on b"), text(listed, "content"));

		HttpResponse deleted = call(nodes.b, "DELETE", "/messages/" + messageId, w.bob.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("bob's delete on node b: " + describe(deleted), 204, deleted.status);
		const std::string deletion = "{\"id\":" + quote(messageId) + ",\"channel_id\":" + quote(w.textId) + "}";
		expectSameJson("alice's MESSAGE_DELETE", deletion, alice.expect("MESSAGE_DELETE"));
		expectSameJson("bob's MESSAGE_DELETE", deletion, bob.expect("MESSAGE_DELETE"));
		HttpResponse editGone =
		    call(nodes.a, "PATCH", "/messages/" + messageId, w.bob.accessToken, "{\"content\":\"too late\"}");
		expectError(editGone, 404, "Message not found");

		// The other way: alice posts and edits through node a, bob on node b hears both.
		Object::Ptr fromA =
		    explained("alice posting on node a", [&] { return postMessage(nodes.a, w.alice, w.textId, "hi from a"); });
		expectSameJson("bob's MESSAGE_CREATE = the 201 body on node a", stringify(fromA), bob.expect("MESSAGE_CREATE"));
		expectSameJson("alice's MESSAGE_CREATE", stringify(fromA), alice.expect("MESSAGE_CREATE"));
		HttpResponse editedOnA = call(nodes.a, "PATCH", "/messages/" + text(fromA, "id"), w.alice.accessToken,
		                              "{\"content\":\"edited on a\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's edit on node a: " + describe(editedOnA), 200, editedOnA.status);
		expectSameJson("bob's MESSAGE_UPDATE = the 200 body on node a", editedOnA.body, bob.expect("MESSAGE_UPDATE"));
		expectSameJson("alice's MESSAGE_UPDATE", editedOnA.body, alice.expect("MESSAGE_UPDATE"));
		page = listUntil(nodes.b, "b", w.bob, "/channels/" + w.textId + "/messages",
		                 [&](const Array::Ptr& list) { return findById(list, text(fromA, "id")) != nullptr; });
		CPPUNIT_ASSERT_MESSAGE("alice's message listed on node b: " + stringify(page),
		                       findById(page, text(fromA, "id")));
		alice.expectNothing();
		bob.expectNothing();
		nodes.stopBoth();
	}

	void testChannelsVisibleAcrossNodes()
	{
		if (skipWithoutServices("testChannelsVisibleAcrossNodes"))
			return;
		Nodes nodes("t4:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		w.shareServer(nodes);
		const std::string channels = "/servers/" + w.serverId + "/channels";

		// Created on node a: listed by node b, readable and postable there at once.
		const std::string newsId = explained("alice creating news on node a", [&] {
			return createChannel(nodes.a, w.alice, w.serverId, "news", "text");
		});
		Array::Ptr listed = listUntil(nodes.b, "b", w.bob, channels,
		                              [&](const Array::Ptr& l) { return findById(l, newsId) != nullptr; });
		CPPUNIT_ASSERT_MESSAGE("news listed on node b: " + stringify(listed), findById(listed, newsId));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("channels on node b: " + stringify(listed), std::size_t(3), listed->size());
		HttpResponse one = call(nodes.b, "GET", channels + "/" + newsId, w.bob.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("GET news on node b: " + describe(one), 200, one.status);
		CPPUNIT_ASSERT_EQUAL(std::string("news"), text(object(one.body), "name"));
		explained("bob posting in news on node b", [&] { postMessage(nodes.b, w.bob, newsId, "first"); });

		// Renamed on node a.
		HttpResponse renamed =
		    call(nodes.a, "PATCH", channels + "/" + newsId, w.alice.accessToken, "{\"name\":\"announcements\"}");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("rename on node a: " + describe(renamed), 200, renamed.status);
		listed = listUntil(nodes.b, "b", w.bob, channels, [&](const Array::Ptr& l) {
			Object::Ptr c = findById(l, newsId);
			return c && c->optValue<std::string>("name", "") == "announcements";
		});
		Object::Ptr entry = findById(listed, newsId);
		CPPUNIT_ASSERT_MESSAGE("renamed channel listed on node b: " + stringify(listed), entry);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("its name on node b", std::string("announcements"), text(entry, "name"));
		expectSameJson("node b's channel = node a's PATCH answer", renamed.body, entry);

		// Deleted on node a: gone from node b's listing, its routes 404 there.
		HttpResponse deleted = call(nodes.a, "DELETE", channels + "/" + newsId, w.alice.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("delete on node a: " + describe(deleted), 204, deleted.status);
		listed = listUntil(nodes.b, "b", w.bob, channels,
		                   [&](const Array::Ptr& l) { return findById(l, newsId) == nullptr; });
		CPPUNIT_ASSERT_MESSAGE("deleted channel still listed on node b: " + stringify(listed),
		                       !findById(listed, newsId));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("channels on node b: " + stringify(listed), std::size_t(2), listed->size());
		expectError(call(nodes.b, "GET", channels + "/" + newsId, w.bob.accessToken), 404, "Channel not found");
		expectError(call(nodes.b, "POST", "/channels/" + newsId + "/messages", w.bob.accessToken,
		                 "{\"content\":\"into the void\"}"),
		            404, "Channel not found");
		nodes.stopBoth();
	}

	void testPresenceAcrossNodes()
	{
		if (skipWithoutServices("testPresenceAcrossNodes"))
			return;
		Nodes nodes("t5:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		w.shareServer(nodes);
		// carol shares no server with alice: she hears nothing of her.
		const User carolUser = explained("registering carol on node b", [&] { return registerUser(nodes.b, "carol"); });
		Gateway carol(nodes, nodes.b, carolUser, "carol");
		Gateway bob(nodes, nodes.b, w.bob, "bob");
		// Node a learns bob is online through node b. (Waited for before alice connects: a notice
		// that reached node a after her READY would rightly tell her too, one frame more.)
		expectStatus(nodes.a, "a", w.alice, "/users/" + w.bob.id, "online", "bob's status");

		// alice connects on node a: bob on node b hears she is online.
		std::unique_ptr<Gateway> aliceOnA(new Gateway(nodes, nodes.a, w.alice, "alice"));
		CPPUNIT_ASSERT_EQUAL(std::string("online"), text(aliceOnA->ready()->getObject("user"), "status"));
		bob.expectPresenceOf(w.alice, "alice", "online");

		// dnd set through node a's gateway reaches node b, and node b serves it.
		aliceOnA->send(presenceFrame("dnd"));
		bob.expectPresenceOf(w.alice, "alice", "dnd");
		expectStatus(nodes.b, "b", w.alice, "/users/@me", "dnd", "alice's status set on node a");
		aliceOnA->expectNothing(0);

		// A second session on node b: still one presence, so nothing for bob; READY shows dnd.
		Gateway aliceOnB(nodes, nodes.b, w.alice, "alice");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("alice's status in her READY on node b", std::string("dnd"),
		                             text(aliceOnB.ready()->getObject("user"), "status"));
		bob.expectNothing();
		aliceOnA->expectNothing(0);

		// Her session on node a closes: she is still online through node b.
		aliceOnA->close();
		aliceOnA.reset();
		bob.expectNothing();
		aliceOnB.expectNothing(0);
		expectStatus(nodes.a, "a", w.alice, "/users/@me", "dnd", "alice's status with her only session on node b");

		// The last one closes: offline for bob.
		aliceOnB.close();
		bob.expectPresenceOf(w.alice, "alice", "offline");
		expectStatus(nodes.a, "a", w.bob, "/users/" + w.alice.id, "offline", "alice's status after her last session");
		bob.expectNothing(0);
		carol.expectNothing(0);
		nodes.stopBoth();
	}

	void testVoiceAcrossNodes()
	{
		if (skipWithoutServices("testVoiceAcrossNodes"))
			return;
		Nodes nodes("t6:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		Gateway alice(nodes, nodes.a, w.alice, "alice");
		Gateway bob(nodes, nodes.b, w.bob, "bob");
		presenceSettled(nodes, w);
		w.shareServer(nodes);
		nodes.expectBothSubscribed(w.serverId);

		// alice joins V through node a, bob through node b: each gateway gets both states.
		Object::Ptr aliceState =
		    explained("alice joining V on node a", [&] { return joinVoice(nodes.a, w.alice, w.voiceId); });
		expectSameJson("alice's VOICE_STATE_UPDATE to alice", stringify(aliceState),
		               alice.expect("VOICE_STATE_UPDATE"));
		expectSameJson("alice's VOICE_STATE_UPDATE to bob", stringify(aliceState), bob.expect("VOICE_STATE_UPDATE"));
		Object::Ptr bobState =
		    explained("bob joining V on node b", [&] { return joinVoice(nodes.b, w.bob, w.voiceId); });
		expectSameJson("bob's VOICE_STATE_UPDATE to alice", stringify(bobState), alice.expect("VOICE_STATE_UPDATE"));
		expectSameJson("bob's VOICE_STATE_UPDATE to bob", stringify(bobState), bob.expect("VOICE_STATE_UPDATE"));
		for (TestServer* pNode : {&nodes.a, &nodes.b})
		{
			const std::string name = nodes.name(*pNode);
			const std::set<std::string> both = {w.alice.id, w.bob.id};
			std::set<std::string> inVoice =
			    idsOf(listUntil(*pNode, name, w.alice, "/channels/" + w.voiceId + "/voice",
			                    [&](const Array::Ptr& l) { return idsOf(l, "user_id") == both; }),
			          "user_id");
			CPPUNIT_ASSERT_MESSAGE("V's participants on node " + name, inVoice == both);
		}

		// VOICE_SIGNAL both ways (keys sorted, so the parsed relay reads back as sent).
		const std::string offer = "{\"sdp\":\"v=0\",\"type\":\"offer\"}";
		bob.send(voiceSignalFrame(w.alice.id, offer));
		Object::Ptr relayed = alice.expect("VOICE_SIGNAL");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("from_user_id of the signal from node b", w.bob.id, text(relayed, "from_user_id"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the signal from node b", offer, stringify(relayed->get("signal")));
		const std::string answer = "{\"sdp\":\"v=0 answer\",\"type\":\"answer\"}";
		alice.send(voiceSignalFrame(w.bob.id, answer));
		relayed = bob.expect("VOICE_SIGNAL");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("from_user_id of the signal from node a", w.alice.id,
		                             text(relayed, "from_user_id"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the signal from node a", answer, stringify(relayed->get("signal")));

		// bob leaves through node b: both hear it.
		explained("bob leaving V on node b", [&] { leaveVoice(nodes.b, w.bob, w.voiceId); });
		for (Gateway* pGateway : {&alice, &bob})
		{
			Object::Ptr leave = pGateway->expect("VOICE_STATE_UPDATE");
			CPPUNIT_ASSERT_EQUAL(w.bob.id, text(leave, "user_id"));
			CPPUNIT_ASSERT_MESSAGE("channel_id null in the leave: " + stringify(leave),
			                       leave->has("channel_id") && leave->get("channel_id").isEmpty());
		}
		alice.expectNothing();
		bob.expectNothing(0);
		nodes.stopBoth();
	}

	void testKilledNodeUsersGoOffline()
	{
		if (skipWithoutServices("testKilledNodeUsersGoOffline"))
			return;
		Nodes nodes("t7:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		w.shareServer(nodes);
		Gateway alice(nodes, nodes.a, w.alice, "alice");
		{
			Gateway bob(nodes, nodes.b, w.bob, "bob");
			alice.expectPresenceOf(w.bob, "bob", "online");
			CPPUNIT_ASSERT_EQUAL_MESSAGE("node b killed", 128 + SIGKILL, nodes.b.stop(SIGKILL));
		}
		const std::int64_t killedAt = Deadline::nowMicros();

		// Nothing tells node a but the expiry of node b's liveness key.
		const int boundMs = (NODE_TTL_S + 3) * 1000;
		alice.expectPresenceOf(w.bob, "bob", "offline", boundMs);
		const std::int64_t tookMs = elapsedMs(killedAt);
		std::cout << "\nTogetherClusterTest::testKilledNodeUsersGoOffline: offline after " << tookMs
		          << " ms (node_ttl_s " << NODE_TTL_S << ")" << std::endl;
		CPPUNIT_ASSERT_MESSAGE(std::to_string(tookMs) + " ms", tookMs <= boundMs);
		expectStatus(nodes.a, "a", w.alice, "/users/" + w.bob.id, "offline", "bob's status after node b died");

		// bob, reconnecting to node a, is online again.
		Gateway bobOnA(nodes, nodes.a, w.bob, "bob");
		alice.expectPresenceOf(w.bob, "bob", "online");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node a stopped cleanly", 0, nodes.a.stop());
	}

	void testDataSurvivesRestartOfBothNodes()
	{
		if (skipWithoutServices("testDataSurvivesRestartOfBothNodes"))
			return;
		Nodes nodes("t8:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		w.shareServer(nodes);
		const std::string fromA = text(
		    explained("alice posting on node a", [&] { return postMessage(nodes.a, w.alice, w.textId, "kept a"); }),
		    "id");
		const std::string fromB = text(
		    explained("bob posting on node b", [&] { return postMessage(nodes.b, w.bob, w.textId, "kept b"); }), "id");

		// Both stop (cleanly) and start again: nothing is left but PostgreSQL.
		nodes.stopBoth();
		nodes.startBoth();

		for (TestServer* pNode : {&nodes.a, &nodes.b})
		{
			const std::string name = nodes.name(*pNode);
			for (User* pUser : {&w.alice, &w.bob})
			{
				const User fresh = explained(pUser->username + " logging in on node " + name + " after the restart",
				                             [&] { return login(*pNode, *pUser); });
				CPPUNIT_ASSERT_MESSAGE(pUser->username + "'s servers on node " + name,
				                       idsOf(listOn(*pNode, name, fresh, "/servers")).count(w.serverId));
				const std::set<std::string> channels =
				    idsOf(listOn(*pNode, name, fresh, "/servers/" + w.serverId + "/channels"));
				CPPUNIT_ASSERT_MESSAGE("S's channels on node " + name,
				                       channels == std::set<std::string>({w.textId, w.voiceId}));
				const std::set<std::string> messages =
				    idsOf(listOn(*pNode, name, fresh, "/channels/" + w.textId + "/messages"));
				CPPUNIT_ASSERT_MESSAGE("T's messages on node " + name,
				                       messages == std::set<std::string>({fromA, fromB}));
			}
		}
		// READY lists the server on either node (the old access tokens still valid: the secret is fixed).
		Gateway alice(nodes, nodes.b, w.alice, "alice");
		expectServerListed(alice.who, alice.ready(), w.serverId, 2);
		Gateway bob(nodes, nodes.a, w.bob, "bob");
		expectServerListed(bob.who, bob.ready(), w.serverId, 2);
		nodes.stopBoth();
	}

	void testRedisRestartHealsPresence()
	{
		if (skipWithoutServices("testRedisRestartHealsPresence"))
			return;
		Nodes nodes("t9:");
		nodes.startBoth();
		World w;
		w.makeUsers(nodes);
		const User carolUser = explained("registering carol on node b", [&] { return registerUser(nodes.b, "carol"); });
		w.shareServer(nodes);
		joinThrough(nodes.b, "b", carolUser, "carol", w.serverId);
		Gateway alice(nodes, nodes.a, w.alice, "alice");
		expectStatus(nodes.b, "b", w.bob, "/users/" + w.alice.id, "online", "alice's presence known to node b");
		Gateway bob(nodes, nodes.b, w.bob, "bob");
		alice.expectPresenceOf(w.bob, "bob", "online");
		std::unique_ptr<Gateway> carol(new Gateway(nodes, nodes.b, carolUser, "carol"));
		alice.expectPresenceOf(carolUser, "carol", "online");
		bob.expectPresenceOf(carolUser, "carol", "online");
		nodes.expectBothSubscribed(w.serverId);

		// Redis goes away; carol leaves node b meanwhile. bob, on her node, hears it; alice does not
		// (the notice is dropped).
		CPPUNIT_ASSERT_EQUAL_MESSAGE("redis stopped cleanly", 0, nodes.redis.stop());
		carol->close();
		carol.reset();
		bob.expectPresenceOf(carolUser, "carol", "offline");
		alice.expectNothing(300);

		// Redis is back: node b announces its sessions again, carol's is not among them, and once the
		// settle window has passed node a tells alice carol is offline, once; bob hears nothing twice.
		nodes.redis.start();
		const std::int64_t restartedAt = Deadline::nowMicros();
		alice.expectPresenceOf(carolUser, "carol", "offline", 12000);
		const std::int64_t healedMs = elapsedMs(restartedAt);
		std::cout << "\nTogetherClusterTest::testRedisRestartHealsPresence: alice was told within " << healedMs
		          << " ms of the restart" << std::endl;
		sleepMs(6000 - static_cast<int>(std::min<std::int64_t>(healedMs, 6000)));
		alice.expectNothing(0);
		bob.expectNothing(0);
		expectStatus(nodes.a, "a", w.alice, "/users/" + carolUser.id, "offline", "carol's status on node a");
		expectStatus(nodes.a, "a", w.alice, "/users/" + w.bob.id, "online", "bob's status on node a");

		// Live again: presence and chat cross both ways; the channels are subscribed once per node.
		nodes.expectBothSubscribed(w.serverId);
		bob.send(presenceFrame("dnd"));
		alice.expectPresenceOf(w.bob, "bob", "dnd");
		Object::Ptr fromA = explained("alice posting on node a after the outage",
		                              [&] { return postMessage(nodes.a, w.alice, w.textId, "after the outage"); });
		expectSameJson("bob's MESSAGE_CREATE after the outage", stringify(fromA), bob.expect("MESSAGE_CREATE"));
		expectSameJson("alice's MESSAGE_CREATE after the outage", stringify(fromA), alice.expect("MESSAGE_CREATE"));
		const std::string bus = "t9:bus:together";
		long long subscribers = -1;
		CPPUNIT_ASSERT_MESSAGE("PUBSUB NUMSUB " + bus + " is " + std::to_string(subscribers) + ", not 2",
		                       waitUntil(3000, 50, [&] { return (subscribers = nodes.redis.numsub(bus)) == 2; }));
		alice.expectNothing(0);
		bob.expectNothing(0);
		nodes.stopBoth();
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherClusterTest);
