//
// GovpnMirrorTest.cpp
//
// The GoVPN plugin's side of cluster mode (docs/protocols/govpn.md §18) in a FakeHost that plays
// node 1 of a cluster: the changes it tells the other nodes, in order; the other nodes' rooms,
// members and presence applied to its mirror; pushes for its sockets delivered in their mode;
// a departed node's members announced offline; a room another node just created read from
// storage on a miss; and garbage on the channel ignored. GovpnClusterTest runs real nodes.
//


#include "Codec.h"
#include "GovpnPlugin.h"
#include "switchboard/testing/FakeHost.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <random>
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::Govpn::GovpnPlugin;


namespace {


const std::string OWNER_KEY = std::string(43, 'A') + "=";
const std::string MEMBER_KEY = std::string(42, 'A') + "E=";
const std::string REMOTE_KEY = std::string(42, 'A') + "I=";
const std::string ROOM = "00112233445566aa";
const NodeNumber OTHER_NODE = 2;
const ConnectionId REMOTE_SOCKET = (ConnectionId(OTHER_NODE) << 48) | 77;


struct Node
/// The plugin on node 1 of a cluster; what it tells the others is in host.clusterSent().
{
	Node():
	    host("govpn")
	{
		std::string error =
		    host.setConfig(Govpn::govpnDescriptor(), {{"pwhash_opslimit", "1"}, {"pwhash_memlimit", "8192"}});
		CPPUNIT_ASSERT_EQUAL(std::string(), error);
		host.joinCluster(1);
		plugin.setGenerators({[] { return ROOM; }, {}, {}, {}});
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
		CPPUNIT_ASSERT(host.clusterListener().message);
	}

	void fromOtherNode(const std::string& message) { host.clusterListener().message(OTHER_NODE, message); }

	std::string ask(ConnectionId c, const std::string& type, const std::string& payloadObject)
	/// Sends a request in the object form (so replies are plain JSON) and returns all it was sent.
	{
		host.deliver(c, R"({"message_id":"m1","type":")" + type + R"(","payload":)" + payloadObject + "}");
		return sent(c);
	}

	std::string sent(ConnectionId c)
	{
		std::string all;
		for (const SentMessage& m : host.takeSent(c))
			all += m.data;
		return all;
	}

	std::vector<std::string> shared()
	{
		std::vector<std::string> out;
		for (const auto& entry : host.clusterSent())
			out.push_back((entry.first == 0 ? std::string("all: ") : std::to_string(entry.first) + ": ") +
			              entry.second);
		host.clearClusterSent();
		return out;
	}

	FakeHost host;
	GovpnPlugin plugin;
};


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


std::string createRequest()
{
	return R"({"room_name":"Lab","password":"1234","public_key":")" + OWNER_KEY + R"("})";
}


} // namespace


class GovpnMirrorTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnMirrorTest);
	CPPUNIT_TEST(testChangesAreSharedInOrder);
	CPPUNIT_TEST(testOtherNodesMembersArePresent);
	CPPUNIT_TEST(testPushesForThisNodeUseTheConnectionsForm);
	CPPUNIT_TEST(testDepartedNodesMembersGoOffline);
	CPPUNIT_TEST(testHelloIsAnsweredWithThisNodesPresence);
	CPPUNIT_TEST(testResyncTellsWhoCameAndWentMeanwhile);
	CPPUNIT_TEST(testRoomMissingFromMirrorIsReadFromStorage);
	CPPUNIT_TEST(testGarbageOnTheChannelIsIgnored);
	CPPUNIT_TEST_SUITE_END();

public:
	void testChangesAreSharedInOrder()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		CPPUNIT_ASSERT(contains(node.ask(owner, "CreateRoom", createRequest()), "RoomCreated"));
		std::vector<std::string> shared = node.shared();
		// The room, its owner, then the owner online: a node applies them in this order.
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), shared.size());
		CPPUNIT_ASSERT(shared[0].rfind("all: N " + ROOM + " " + OWNER_KEY + " ", 0) == 0);
		CPPUNIT_ASSERT(contains(shared[0], "$argon2id$") && contains(shared[0], "\nLab"));
		CPPUNIT_ASSERT(shared[1].rfind("all: M " + ROOM + " " + OWNER_KEY + " ", 0) == 0 &&
		               contains(shared[1], "\nOwner"));
		CPPUNIT_ASSERT_EQUAL("all: O " + ROOM + " " + OWNER_KEY + " " + std::to_string(owner) + " ",
		                     shared[2].substr(0, shared[2].rfind(' ') + 1));

		CPPUNIT_ASSERT(contains(
		    node.ask(owner, "Rename",
		             R"({"room_id":")" + ROOM + R"(","room_name":"Lab 2","public_key":")" + OWNER_KEY + R"("})"),
		    "RenameSuccess"));
		CPPUNIT_ASSERT(node.shared() == std::vector<std::string>{"all: A " + ROOM + "\nLab 2"});

		node.host.disconnect(owner);
		shared = node.shared();
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), shared.size()); // offline, then last_connected
		CPPUNIT_ASSERT_EQUAL("all: F " + ROOM + " " + std::to_string(owner), shared[0]);
		CPPUNIT_ASSERT(shared[1].rfind("all: M " + ROOM + " " + OWNER_KEY + " ", 0) == 0);
	}

	void testOtherNodesMembersArePresent()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		node.ask(owner, "CreateRoom", createRequest());
		node.shared();
		// A member joined and came online through node 2.
		node.fromOtherNode("M " + ROOM + " " + REMOTE_KEY + " 1752005375000 1752005375000\nrita");
		node.fromOtherNode("O " + ROOM + " " + REMOTE_KEY + " " + std::to_string(REMOTE_SOCKET) +
		                   " c-00000000000000r1");
		CPPUNIT_ASSERT(node.shared().empty()); // nothing echoed back

		// A local joiner hears of both, and node 2 is asked to tell its member about the joiner.
		ConnectionId member = node.host.connect("/ws");
		std::string replies = node.ask(member, "JoinRoom",
		                               R"({"room_id":")" + ROOM + R"(","password":"1234","public_key":")" + MEMBER_KEY +
		                                   R"(","username":"mia"})");
		CPPUNIT_ASSERT(contains(replies, "RoomJoined"));
		CPPUNIT_ASSERT(contains(replies, R"("connection_id":"c-00000000000000r1","public_key":")" + REMOTE_KEY +
		                                     R"(","room_id":")" + ROOM + R"(","username":"rita")"));
		bool toNode2 = false;
		for (const std::string& m : node.shared())
			toNode2 = toNode2 || (m.rfind("2: D " + std::to_string(REMOTE_SOCKET) + " PeerJoined\n", 0) == 0 &&
			                      contains(m, R"("username":"mia")"));
		CPPUNIT_ASSERT(toNode2);

		// The relay reaches the remote member through its node, by key and by connection id.
		std::string offer = R"({"room_id":")" + ROOM + R"(","public_key":")" + MEMBER_KEY +
		                    R"(","destination_id":"c-00000000000000r1","offer":"v=0"})";
		CPPUNIT_ASSERT_EQUAL(std::string(), node.ask(member, "Offer", offer));
		std::vector<std::string> relayed = node.shared();
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), relayed.size());
		CPPUNIT_ASSERT_EQUAL("2: D " + std::to_string(REMOTE_SOCKET) + " Offer\n" + R"({"destination_id":")" +
		                         REMOTE_KEY + R"(","offer":"v=0","public_key":")" + MEMBER_KEY + R"(","room_id":")" +
		                         ROOM + R"(","source_id":")",
		                     relayed[0].substr(0, relayed[0].rfind(':') + 2));

		// Node 2's member leaves the room's presence: a signal to it finds nobody.
		node.fromOtherNode("F " + ROOM + " " + std::to_string(REMOTE_SOCKET));
		CPPUNIT_ASSERT(contains(node.ask(member, "Offer", offer), "Target client not found"));
	}

	void testPushesForThisNodeUseTheConnectionsForm()
	{
		Node node;
		ConnectionId base64Socket = node.host.connect("/ws");
		node.fromOtherNode("D " + std::to_string(base64Socket) + " RoomRenamed\n{\"room_id\":\"" + ROOM + "\"}");
		std::string frame = node.sent(base64Socket);
		CPPUNIT_ASSERT_EQUAL(R"({"message_id":"","type":"RoomRenamed","payload":")" +
		                         Govpn::base64Encode("{\"room_id\":\"" + ROOM + "\"}") + "\"}\n",
		                     frame);
		node.fromOtherNode("D 999 RoomRenamed\n{}"); // no such socket here: dropped
	}

	void testDepartedNodesMembersGoOffline()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		node.ask(owner, "CreateRoom", createRequest());
		node.fromOtherNode("M " + ROOM + " " + REMOTE_KEY + " 1 1\nrita");
		node.fromOtherNode("O " + ROOM + " " + REMOTE_KEY + " " + std::to_string(REMOTE_SOCKET) +
		                   " c-00000000000000r1");
		node.shared();
		node.host.clusterListener().nodeLeft(3); // another node: nothing happens
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
		node.host.clusterListener().nodeLeft(OTHER_NODE);
		CPPUNIT_ASSERT(contains(node.sent(owner), R"("type":"PeerDisconnected")"));
		CPPUNIT_ASSERT(node.shared().empty());            // every node tells its own members
		node.host.clusterListener().nodeLeft(OTHER_NODE); // once is enough
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
	}

	void testHelloIsAnsweredWithThisNodesPresence()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		node.ask(owner, "CreateRoom", createRequest());
		node.shared();
		node.fromOtherNode("H");
		std::vector<std::string> answer = node.shared();
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), answer.size());
		CPPUNIT_ASSERT(answer[0].rfind("2: R " + ROOM + " " + OWNER_KEY + " " + std::to_string(owner) + " c-", 0) == 0);
		// synced: the rooms are re-read, then the others are asked and told.
		node.host.clusterListener().synced();
		std::vector<std::string> announced = node.shared();
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), announced.size());
		CPPUNIT_ASSERT_EQUAL(std::string("all: H"), announced[0]);
		CPPUNIT_ASSERT(announced[1].rfind("all: R " + ROOM + " " + OWNER_KEY + " ", 0) == 0);
	}

	void testResyncTellsWhoCameAndWentMeanwhile()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		node.ask(owner, "CreateRoom", createRequest());
		// Three members of the room, as the shared storage holds them; two online on node 2.
		const std::string goneKey = std::string(42, 'A') + "M=";
		const std::string newKey = std::string(42, 'A') + "Q=";
		const ConnectionId goneSocket = (ConnectionId(OTHER_NODE) << 48) | 78;
		const ConnectionId newSocket = (ConnectionId(OTHER_NODE) << 48) | 79;
		for (const auto& member :
		     {std::make_pair(REMOTE_KEY, "rita"), std::make_pair(goneKey, "gus"), std::make_pair(newKey, "nia")})
		{
			CPPUNIT_ASSERT(node.host.sqliteStorage()
			                   ->execute("INSERT INTO memberships (room_id, public_key, username, joined_at, "
			                             "last_connected, is_connected) VALUES (?, ?, ?, 1, 1, 1)",
			                             {ROOM, member.first, std::string(member.second)})
			                   .ok);
			node.fromOtherNode("M " + ROOM + " " + member.first + " 1 1\n" + member.second);
		}
		node.fromOtherNode("O " + ROOM + " " + REMOTE_KEY + " " + std::to_string(REMOTE_SOCKET) +
		                   " c-00000000000000r1");
		node.fromOtherNode("O " + ROOM + " " + goneKey + " " + std::to_string(goneSocket) + " c-00000000000000g1");
		node.sent(owner);
		node.shared();

		// Redis comes back: nothing is pushed before the others answer.
		node.host.clusterListener().synced();
		CPPUNIT_ASSERT_EQUAL(std::string("all: H"), node.shared().at(0));
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
		// rita is still there (already known: silent); nia came online during the outage.
		node.fromOtherNode("R " + ROOM + " " + REMOTE_KEY + " " + std::to_string(REMOTE_SOCKET) +
		                   " c-00000000000000r1");
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
		node.fromOtherNode("R " + ROOM + " " + newKey + " " + std::to_string(newSocket) + " c-00000000000000n1");
		const std::string connected = node.sent(owner);
		CPPUNIT_ASSERT_MESSAGE(
		    connected, contains(connected, R"("type":"PeerConnected")") &&
		                   contains(connected, R"("connection_id":"c-00000000000000n1","public_key":")" + newKey +
		                                           R"(","room_id":")" + ROOM + R"(","username":"nia")"));
		// gus was not announced again: offline once the window settles, and only once.
		node.host.advance(4900);
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
		node.host.advance(200);
		const std::string disconnected = node.sent(owner);
		CPPUNIT_ASSERT_MESSAGE(disconnected, contains(disconnected, R"("type":"PeerDisconnected")") &&
		                                         contains(disconnected, R"("public_key":")" + goneKey + "\"") &&
		                                         !contains(disconnected, REMOTE_KEY) &&
		                                         !contains(disconnected, newKey));
		node.host.advance(10000);
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));

		// gus reaches node 2 late: announced again, so the owner hears of him once more.
		node.fromOtherNode("R " + ROOM + " " + goneKey + " " + std::to_string(goneSocket) + " c-00000000000000g1");
		CPPUNIT_ASSERT(contains(node.sent(owner), R"("username":"gus")"));
		// A live announcement brings no push here: its node sends the pushes itself.
		node.fromOtherNode("F " + ROOM + " " + std::to_string(newSocket));
		node.fromOtherNode("O " + ROOM + " " + newKey + " " + std::to_string(newSocket + 1) + " c-00000000000000n2");
		CPPUNIT_ASSERT_EQUAL(std::string(), node.sent(owner));
	}

	void testRoomMissingFromMirrorIsReadFromStorage()
	{
		Node node;
		// Another node created the room a moment ago: in storage, not yet in this mirror.
		Storage& storage = *node.host.sqliteStorage();
		const std::string secondRoom = "00112233445566bb";
		for (const auto& room : {std::make_pair(ROOM, OWNER_KEY), std::make_pair(secondRoom, REMOTE_KEY)})
		{
			CPPUNIT_ASSERT(storage
			                   .execute("INSERT INTO rooms (id, name, password_hash, owner_public_key, created_at, "
			                            "last_active) VALUES (?, 'Far', 'not-a-hash', ?, 1, 1)",
			                            {room.first, room.second})
			                   .ok);
			CPPUNIT_ASSERT(storage
			                   .execute("INSERT INTO memberships (room_id, public_key, username, joined_at, "
			                            "last_connected, is_connected) VALUES (?, ?, 'Owner', 1, 1, 1)",
			                            {room.first, room.second})
			                   .ok);
		}
		// The owner's ConnectRoom on this node finds the room and its membership.
		ConnectionId owner = node.host.connect("/ws");
		std::string replies =
		    node.ask(owner, "ConnectRoom",
		             R"({"room_id":")" + ROOM + R"(","public_key":")" + OWNER_KEY + R"(","username":"x"})");
		CPPUNIT_ASSERT_MESSAGE(replies, contains(replies, "RoomConnected") && contains(replies, "Far"));
		// JoinRoom finds the other room; its hash is not a real one, so the password is wrong.
		ConnectionId member = node.host.connect("/ws");
		replies = node.ask(member, "JoinRoom",
		                   R"({"room_id":")" + secondRoom + R"(","password":"1234","public_key":")" + MEMBER_KEY +
		                       R"(","username":"mia"})");
		CPPUNIT_ASSERT_MESSAGE(replies, contains(replies, "Incorrect password"));
		// A room that exists nowhere is still "Room does not exist" (one read, no loop).
		replies = node.ask(member, "JoinRoom",
		                   R"({"room_id":"ffffffffffffffff","password":"1234","public_key":")" + MEMBER_KEY +
		                       R"(","username":"mia"})");
		CPPUNIT_ASSERT_MESSAGE(replies, contains(replies, "Room does not exist"));
	}

	void testGarbageOnTheChannelIsIgnored()
	{
		Node node;
		ConnectionId owner = node.host.connect("/ws");
		node.ask(owner, "CreateRoom", createRequest());
		node.shared();
		const std::vector<std::string> garbage = {"",
		                                          "\n",
		                                          "Z",
		                                          "ZZ " + ROOM,
		                                          "N",
		                                          "N " + ROOM,
		                                          "N " + ROOM + " k x y h\nname",
		                                          "N nothex k 1 1 h\nn",
		                                          "M " + ROOM,
		                                          "M " + ROOM + " k -1 99999999999999999999999\nx",
		                                          "M ffffffffffffffff k 1 1\nx",
		                                          "G",
		                                          "G " + ROOM,
		                                          "G ffffffffffffffff " + OWNER_KEY,
		                                          "X",
		                                          "X ffffffffffffffff",
		                                          "A",
		                                          "A nothere\nn",
		                                          "O",
		                                          "O " + ROOM + " k 0 c-1",
		                                          "O " + ROOM + " k notanumber c-1",
		                                          "O ffffffffffffffff k 5 c-1",
		                                          "F",
		                                          "F " + ROOM + " -5",
		                                          "F " + ROOM + " 18446744073709551616",
		                                          "D",
		                                          "D x Offer\n{}",
		                                          "D 0 Offer\n{}",
		                                          "H extra",
		                                          std::string("O \0\0 \n", 6),
		                                          "O " + ROOM + " " + OWNER_KEY + " 12 c-x extra"};
		for (const std::string& message : garbage)
			node.fromOtherNode(message);
		std::mt19937 random(7);
		for (int i = 0; i < 2000; ++i)
		{
			std::string message = std::string(1, "NMGAXOFDH"[random() % 9]) + " ";
			for (int length = static_cast<int>(random() % 60); length > 0; --length)
				message += static_cast<char>(random() % 256);
			node.fromOtherNode(message);
		}
		// The owner's room is intact and the plugin answers.
		std::string rooms = node.ask(owner, "GetUserRooms", R"({"public_key":")" + OWNER_KEY + R"("})");
		CPPUNIT_ASSERT_MESSAGE(rooms, contains(rooms, R"("room_id":")" + ROOM + R"(","room_name":"Lab")"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnMirrorTest);
