//
// GovpnClusterTest.cpp
//
// Cluster mode with the GoVPN plugin (docs/protocols/govpn.md §18, docs/cluster.md): two real
// nodes ([cluster] enabled, node ids "a" and "b") sharing one real redis-server for messages
// between nodes and one real PostgreSQL for rooms and memberships ([storage] backend =
// postgresql). Rooms created through one node are joined through the other; presence pushes,
// renames, kicks, deletions and the signaling relay cross nodes, each frame in its recipient's
// payload form; a killed node's members go offline within node_ttl_s; a node started later
// learns who is online; after a Redis restart each node tells its members who came and went on
// the other meanwhile; the rooms survive a restart of every node; and the GoVPN reference
// client runs through a round-robin TCP forwarder (tests/support/TcpRoundRobin.h) that puts its
// owner on node a and its peer on node b.
//
// The tests that need redis-server or PostgreSQL skip, saying why, when either is not installed
// or is turned off (SWITCHBOARD_TEST_NO_REDIS=1, SWITCHBOARD_TEST_NO_POSTGRES=1); the reference
// client test also skips without ../shared/clients (see GovpnTestSupport.h).
//
// Every wait is bounded: frames by GovpnTestSupport's 5 s, a killed node by node_ttl_s + 3 s.
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "GovpnTestSupport.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "PostgresTestServer.h"
#include "RedisTestServer.h"
#include "TcpRoundRobin.h"
#include "TestServer.h"
#include "TestSocket.h"
#include "WsTestClient.h"
#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <iostream>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>
#include <cppunit/Exception.h>
#include <cppunit/Message.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Cluster;
using namespace Switchboard::Test::Govpn;


namespace {


constexpr int NODE_TTL_S = 3;
const std::string PASSWORD = "1234";
const std::string NO_SUCH_ROOM = "0000000000000000";
/// The SDP of GovpnTestSupport.h as a JSON value.
const std::string SDP_JSON = "\"" + SDP + "\"";
const std::string CANDIDATE = "candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host";

/// Argon2id at libsodium's minimum (every create and join hashes), a per-IP bucket that all the
/// creates and joins of a test fit in (every client is 127.0.0.1), no shutdown grace.
const TestServer::Keys ROOM_KEYS = {
    {"rate_limit_burst", "1000"}, {"pwhash_opslimit", "1"}, {"pwhash_memlimit", "8192"}, {"shutdown_grace", "0"}};


bool skipWithoutServices(const std::string& test)
{
	return skipWithoutRedis("GovpnClusterTest", test) || skipWithoutPostgres("GovpnClusterTest", test);
}


// --- Frames ----------------------------------------------------------------------------------

std::string strings(std::initializer_list<std::pair<std::string, std::string>> members)
/// A compact inner object whose values are all strings, members in the given order.
{
	std::string out = "{";
	for (const auto& member : members)
		out += (out.size() > 1 ? "," : "") + jsonQuote(member.first) + ":" + jsonQuote(member.second);
	return out + "}";
}


std::string fields(std::initializer_list<std::pair<std::string, std::string>> members)
/// A compact inner object whose values are given as JSON text, members in the given order.
{
	std::string out = "{";
	for (const auto& member : members)
		out += (out.size() > 1 ? "," : "") + jsonQuote(member.first) + ":" + member.second;
	return out + "}";
}


std::string userRooms(const std::string& room, const std::string& name, bool connected)
/// The inner template of a UserRooms listing exactly this room.
{
	return "{\"rooms\":[{\"room_id\":\"" + room + "\",\"room_name\":\"" + name +
	       "\",\"is_connected\":" + (connected ? "true" : "false") +
	       ",\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}";
}


// --- Parties ---------------------------------------------------------------------------------

std::string nodeName(const TestServer& node)
/// The node id of the server's [cluster] section, for messages.
{
	std::smatch match;
	const std::string config = node.configText();
	return std::regex_search(config, match, std::regex("\nnode_id = ([^\n]*)\n")) ? match[1].str() : "?";
}


const char* modeName(Mode mode)
{
	return mode == MODE_BASE64 ? "base64" : mode == MODE_OBJECT ? "object" : "json-string";
}


struct Party
/// One client socket, the key it acts as and the payload form it speaks, hence receives (§4).
{
	WsTestClient ws;
	Mode mode;
	std::string key;
	std::string username;
	std::string connection; ///< its connection id as announced to others; "" until seen
	std::string node;       ///< the node its socket is on, for messages

	Party(Mode form, int keyIndex, std::string name):
	    mode(form),
	    key(publicKey(keyIndex)),
	    username(std::move(name))
	{
	}

	void connect(TestServer& server, const WsTestClient::Headers& headers = {})
	/// A new socket on the server, so a new connection id.
	{
		ws.close();
		connection.clear();
		node = nodeName(server);
		connectWs(ws, server, headers);
	}

	std::string who() const { return username + " (" + modeName(mode) + ") on node " + node; }

	void send(const std::string& messageId, const std::string& type, const std::string& inner)
	{
		ws.sendText(envelope(mode, messageId, type, inner));
	}

	std::vector<std::string> expect(const std::string& messageId, const std::string& type,
	                                const std::string& innerTemplate)
	{
		return explained(who() + " waited for " + type + (messageId.empty() ? "" : " (reply to " + messageId + ")"),
		                 [&] { return expectFrame(ws, mode, messageId, type, innerTemplate); });
	}

	void expectExactly(const std::string& messageId, const std::string& type, const std::string& inner)
	{
		explained(who() + " waited for " + type + (messageId.empty() ? "" : " (reply to " + messageId + ")"),
		          [&] { expectExact(ws, serverFrame(mode, messageId, type, inner)); });
	}

	void expectError(const std::string& messageId, const std::string& error)
	{
		expectExactly(messageId, "Error", strings({{"error", error}}));
	}

	void expectNothing(int timeoutMs = QUIET_MS)
	{
		explained(who() + " expected nothing more", [&] { expectQuiet(ws, timeoutMs); });
	}
};


void expectPeerEvent(Party& to, const std::string& type, Party& about, const std::string& room)
/// PeerJoined or PeerConnected about `about`, in to's form; learns about's connection id the first
/// time, and checks it every later time (one id per socket, whichever node tells it).
{
	const std::string connection = to.expect("", type,
	                                         strings({{"connection_id", "<CONN>"},
	                                                  {"public_key", about.key},
	                                                  {"room_id", room},
	                                                  {"username", about.username}}))
	                                   .at(0);
	if (about.connection.empty())
		about.connection = connection;
	else
		CPPUNIT_ASSERT_EQUAL_MESSAGE(type + " about " + about.username + " to " + to.username, about.connection,
		                             connection);
}


std::string createRoom(Party& owner, const std::string& name)
/// CreateRoom from the owner's open socket; returns the room id.
{
	owner.send("c1", "CreateRoom", strings({{"room_name", name}, {"password", PASSWORD}, {"public_key", owner.key}}));
	return owner
	    .expect(
	        "c1", "RoomCreated",
	        strings({{"password", PASSWORD}, {"public_key", owner.key}, {"room_id", "<ROOM>"}, {"room_name", name}}))
	    .at(0);
}


void sendJoin(Party& joiner, const std::string& messageId, const std::string& room, const std::string& password)
{
	joiner.send(
	    messageId, "JoinRoom",
	    strings(
	        {{"room_id", room}, {"password", password}, {"public_key", joiner.key}, {"username", joiner.username}}));
}


void joinRoom(Party& joiner, const std::string& room, const std::string& name, const std::vector<Party*>& online)
/// JoinRoom with the password from the joiner's open socket: RoomJoined, then a PeerJoined about
/// each member of online (in the order they came online), and each of them one about the joiner
/// (§8.2), wherever each socket is.
{
	sendJoin(joiner, "j1", room, PASSWORD);
	joiner.expectExactly("j1", "RoomJoined", strings({{"room_id", room}, {"room_name", name}}));
	for (Party* member : online)
		expectPeerEvent(joiner, "PeerJoined", *member, room);
	for (Party* member : online)
		expectPeerEvent(*member, "PeerJoined", joiner, room);
}


void connectRoom(Party& member, const std::string& room, const std::string& name, const std::vector<Party*>& online)
/// ConnectRoom (no password, as the real client sends it): RoomConnected and PeerConnected both ways.
{
	member.send("k1", "ConnectRoom", strings({{"room_id", room}, {"public_key", member.key}, {"username", "User"}}));
	member.expectExactly("k1", "RoomConnected", strings({{"room_id", room}, {"room_name", name}}));
	for (Party* other : online)
		expectPeerEvent(member, "PeerConnected", *other, room);
	for (Party* other : online)
		expectPeerEvent(*other, "PeerConnected", member, room);
}


// --- Nodes -----------------------------------------------------------------------------------

struct Nodes: SharedStorageNodes
/// Nodes "a" and "b" with the GoVPN plugin on their "govpn" listener. Started from the test's
/// thread (PDEATHSIG).
{
	explicit Nodes(const std::string& keyPrefix):
	    SharedStorageNodes(keyPrefix, NODE_TTL_S)
	{
	}

	void startBoth(const TestServer::Keys& govpnKeys = ROOM_KEYS)
	{
		startGovpn(a, govpnKeys);
		startGovpn(b, govpnKeys);
		expectEachListsTheOther();
	}
};


struct Scene
/// An owner O online in its room through node a (object form), a member P online in it through
/// node b (base64, the real client's form).
{
	Party owner{MODE_OBJECT, 1, "Owner"};
	Party peer{MODE_BASE64, 2, "Alice"};
	const std::string name = "Cluster Room";
	std::string room;

	explicit Scene(Nodes& nodes)
	{
		owner.connect(nodes.a);
		room = createRoom(owner, name);
		peer.connect(nodes.b);
		joinRoom(peer, room, name, {&owner});
	}

	std::string roomOnly() const { return strings({{"room_id", room}}); }
	std::string aboutPeer() const { return strings({{"public_key", peer.key}, {"room_id", room}}); }
};


// --- The forwarder's self-test ---------------------------------------------------------------

class Backend
/// A loopback listener of the test's own, standing for a node behind the forwarder.
{
public:
	Backend() { _fd = PortPicker::listenOnLoopback(_port, "Backend"); }
	~Backend() { ::close(_fd); }
	Backend(const Backend&) = delete;
	Backend& operator=(const Backend&) = delete;

	int port() const { return _port; }

	int accept(int timeoutMs)
	/// The next connection (a blocking descriptor the caller closes), or -1 if none in time.
	{
		pollfd entry{_fd, POLLIN, 0};
		if (::poll(&entry, 1, timeoutMs) != 1)
			return -1;
		return ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC);
	}

private:
	int _fd = -1;
	int _port = 0;
};


std::string readFor(int fd, std::size_t count, int timeoutMs, bool* pEof = nullptr)
/// Up to count bytes from fd, returning early at EOF (then *pEof is set) or when timeoutMs passes.
{
	std::string out;
	Deadline deadline(timeoutMs);
	while (out.size() < count && !deadline.expired())
	{
		pollfd entry{fd, POLLIN, 0};
		if (::poll(&entry, 1, deadline.remainingMs()) != 1)
			continue;
		char buffer[65536];
		const ssize_t n = ::recv(fd, buffer, std::min(sizeof(buffer), count - out.size()), 0);
		if (n <= 0)
		{
			if (pEof != nullptr)
				*pEof = true;
			break;
		}
		out.append(buffer, static_cast<std::size_t>(n));
	}
	return out;
}


bool eofWithin(int fd, int timeoutMs)
{
	bool eof = false;
	readFor(fd, static_cast<std::size_t>(-1), timeoutMs, &eof);
	return eof;
}


std::string pattern(std::size_t size, int seed)
/// size bytes that differ at every offset and per seed, so a lost, doubled or reordered chunk shows.
{
	std::string bytes(size, '\0');
	for (std::size_t i = 0; i < size; ++i)
		bytes[i] = static_cast<char>((i * 131 + i / 251 + static_cast<std::size_t>(seed) * 7) & 0xFF);
	return bytes;
}


// --- The reference client's traffic, as the forwarder saw it ---------------------------------

std::vector<std::string> serverPushes(const std::string& stream, const std::string& type)
/// The decoded inner payloads of the unsolicited base64 frames of type in what a node sent on one
/// connection (the raw bytes: server frames are unmasked, so each text frame's JSON is there as
/// it is).
{
	std::vector<std::string> inners;
	const std::string marker = "{\"message_id\":\"\",\"type\":\"" + type + "\",\"payload\":\"";
	for (std::size_t at = stream.find(marker); at != std::string::npos; at = stream.find(marker, at + 1))
	{
		const std::size_t start = at + marker.size();
		const std::size_t end = stream.find('"', start);
		if (end != std::string::npos)
			inners.push_back(base64Decode(stream.substr(start, end - start)));
	}
	return inners;
}


std::string replyPayload(const std::string& stream, const std::string& type)
/// The decoded inner payload of the first base64 reply (a non-empty message_id) of type.
{
	static const std::regex frame(
	    "\\{\"message_id\":\"[0-9a-f]{8}\",\"type\":\"([A-Za-z]+)\",\"payload\":\"([^\"]*)\"\\}");
	for (std::sregex_iterator it(stream.begin(), stream.end(), frame), end; it != end; ++it)
	{
		if ((*it)[1].str() == type)
			return base64Decode((*it)[2].str());
	}
	return "";
}


} // namespace


class GovpnClusterTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnClusterTest);
	CPPUNIT_TEST(testRoundRobinForwarder);
	CPPUNIT_TEST(testRoomVisibleOnOtherNode);
	CPPUNIT_TEST(testJoinAnnouncedAcrossNodes);
	CPPUNIT_TEST(testConnectCloseAndDisconnectAcrossNodes);
	CPPUNIT_TEST(testRelayAcrossNodes);
	CPPUNIT_TEST(testRenameAcrossNodes);
	CPPUNIT_TEST(testKickAcrossNodes);
	CPPUNIT_TEST(testOwnerLeaveDeletesRoomAcrossNodes);
	CPPUNIT_TEST(testKilledNodeMembersGoOffline);
	CPPUNIT_TEST(testLateNodeLearnsPresence);
	CPPUNIT_TEST(testRoomsSurviveRestartOfAllNodes);
	CPPUNIT_TEST(testRedisRestartHealsPresence);
	CPPUNIT_TEST(testRealClientThroughRoundRobin);
	CPPUNIT_TEST_SUITE_END();

public:
	void testRoundRobinForwarder()
	{
		// The load balancer of the other tests, checked on its own (no redis or PostgreSQL needed).
		Backend first, second;
		TcpRoundRobin proxy({first.port(), second.port()});
		Backend* expected[] = {&first, &second, &first, &second};
		for (int i = 0; i < 4; ++i)
		{
			const std::string where = "connection " + std::to_string(i);
			TestSocket client;
			client.connect(LOOPBACK, proxy.port(), 3000);
			const int backend = expected[i]->accept(3000);
			CPPUNIT_ASSERT_MESSAGE(where + " reached its backend", backend >= 0);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, expected[i]->port(), proxy.backendOf(static_cast<std::size_t>(i)));
			const std::string hello = "hello " + std::to_string(i);
			client.sendAll(hello, 3000);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, hello, readFor(backend, hello.size(), 3000));
			const std::string reply = "reply " + std::to_string(i);
			CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(reply.size()),
			                     ::send(backend, reply.data(), reply.size(), MSG_NOSIGNAL));
			std::string received;
			while (received.size() < reply.size() && client.receiveSome(received, 3000) == TestSocket::RECEIVE_DATA)
				;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, reply, received);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(where, reply, proxy.received(static_cast<std::size_t>(i)));

			if (i == 0)
			{
				// 1 MiB each way at once, far beyond the 64 KiB per direction: nothing lost or reordered.
				const std::string up = pattern(1 << 20, 1);
				const std::string down = pattern(1 << 20, 2);
				timeval sendTimeout{10, 0}; // a stuck forwarder fails the test instead of hanging it
				::setsockopt(backend, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof(sendTimeout));
				std::string writerError;
				std::thread writer([&] {
					try
					{
						client.sendAll(up, 10000);
					}
					catch (const std::exception& e)
					{
						writerError = e.what();
					}
				});
				std::thread backWriter([&] {
					for (std::size_t sent = 0; sent < down.size();)
					{
						const ssize_t n = ::send(backend, down.data() + sent, down.size() - sent, MSG_NOSIGNAL);
						if (n <= 0)
							break;
						sent += static_cast<std::size_t>(n);
					}
				});
				const std::string arrived = readFor(backend, up.size(), 10000);
				std::string back;
				Deadline deadline(10000);
				while (back.size() < down.size() && !deadline.expired() &&
				       client.receiveSome(back, deadline.remainingMs()) == TestSocket::RECEIVE_DATA)
					;
				writer.join();
				backWriter.join();
				CPPUNIT_ASSERT_EQUAL(std::string(), writerError);
				CPPUNIT_ASSERT_MESSAGE("1 MiB client to backend", arrived == up);
				CPPUNIT_ASSERT_MESSAGE("1 MiB backend to client", back == down);
				CPPUNIT_ASSERT_EQUAL_MESSAGE("capture is capped", TcpRoundRobin::CAPTURE_LIMIT,
				                             proxy.received(0).size());
			}
			// Either side closing closes the other: the client on even rounds, the backend on odd ones.
			if (i % 2 == 0)
			{
				client.close();
				CPPUNIT_ASSERT_MESSAGE(where + ": the backend sees the close", eofWithin(backend, 3000));
			}
			else
			{
				::close(backend);
				std::string rest;
				Deadline deadline(3000);
				TestSocket::ReceiveStatus status = TestSocket::RECEIVE_DATA;
				while (status == TestSocket::RECEIVE_DATA && !deadline.expired())
					status = client.receiveSome(rest, deadline.remainingMs());
				CPPUNIT_ASSERT_MESSAGE(where + ": the client sees the close", status == TestSocket::RECEIVE_EOF);
				continue;
			}
			::close(backend);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), proxy.accepted());

		// A backend that refuses: the client is closed at once, and the next connection goes on.
		const int refusing = Backend().port(); // closed again: nothing listens there now
		TcpRoundRobin partial({refusing, first.port()});
		TestSocket refused;
		refused.connect(LOOPBACK, partial.port(), 3000);
		std::string nothing;
		CPPUNIT_ASSERT_EQUAL(TestSocket::RECEIVE_EOF, refused.receiveSome(nothing, 3000));
		TestSocket served;
		served.connect(LOOPBACK, partial.port(), 3000);
		const int backend = first.accept(3000);
		CPPUNIT_ASSERT(backend >= 0);
		::close(backend);

		// A WebSocket through it to a real (single) GoVPN server: the upgrade and a Ping round trip.
		TestServer server;
		startGovpn(server);
		TcpRoundRobin front({server.port("govpn")});
		WsTestClient client;
		const HttpResponse response = client.connect(LOOPBACK, front.port(), "/ws", {}, WAIT_MS);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, 101, response.status);
		pingReply(MODE_OBJECT, "p1", client);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testRoomVisibleOnOtherNode()
	{
		if (skipWithoutServices("testRoomVisibleOnOtherNode"))
			return;
		Nodes nodes("g1:");
		nodes.startBoth();
		Party owner(MODE_OBJECT, 1, "Owner");
		Party guesser(MODE_STRING, 2, "Mallory");
		Party joiner(MODE_BASE64, 3, "Alice");
		owner.connect(nodes.a);
		guesser.connect(nodes.b);
		joiner.connect(nodes.b);
		const std::string name = "Made On A";
		const std::string room = createRoom(owner, name);

		// Through node b the moment RoomCreated is in (what the real client's harness does): a wrong
		// password is refused as on one node, the right one joins.
		sendJoin(guesser, "j0", room, "0000");
		joinRoom(joiner, room, name, {&owner});
		guesser.expectError("j0", "Incorrect password");
		sendJoin(guesser, "j1", NO_SUCH_ROOM, PASSWORD);
		guesser.expectError("j1", "Room does not exist");
		joiner.send("g1", "GetUserRooms", strings({{"public_key", joiner.key}}));
		joiner.expect("g1", "UserRooms", userRooms(room, name, true));

		// The owner's other socket, bound on node b by X-Client-ID: its connect-time push lists the room.
		WsTestClient ownerOnB;
		connectWs(ownerOnB, nodes.b, {{"X-Client-ID", owner.key}});
		expectFrame(ownerOnB, MODE_BASE64, "", "UserRooms", userRooms(room, name, true));
		expectFrame(ownerOnB, MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}");
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testJoinAnnouncedAcrossNodes()
	{
		if (skipWithoutServices("testJoinAnnouncedAcrossNodes"))
			return;
		Nodes nodes("g2:");
		nodes.startBoth();
		const std::string name = "Presence";
		Party owner(MODE_OBJECT, 1, "Owner");
		Party witness(MODE_STRING, 2, "Carol"); // on node a with the owner: sees its local connection id
		Party peer(MODE_BASE64, 3, "Alice");
		owner.connect(nodes.a);
		const std::string room = createRoom(owner, name);
		witness.connect(nodes.a);
		joinRoom(witness, room, name, {&owner});
		const std::string ownerOnA = owner.connection;
		witness.send("d1", "DisconnectRoom", strings({{"room_id", room}}));
		owner.expectExactly("", "PeerDisconnected", strings({{"public_key", witness.key}, {"room_id", room}}));
		witness.expectExactly("d1", "RoomDisconnected", strings({{"room_id", room}}));

		// The peer on node b hears of the owner with the id node a gave it, and the owner of the peer,
		// each in its own form.
		peer.connect(nodes.b);
		joinRoom(peer, room, name, {&owner});
		CPPUNIT_ASSERT_EQUAL(ownerOnA, owner.connection);
		CPPUNIT_ASSERT(peer.connection != owner.connection);

		// The witness comes back on node a: PeerConnected about both (in the order they came online)
		// with the ids the others saw, and both hear of it.
		connectRoom(witness, room, name, {&owner, &peer});
		owner.expectNothing();
		peer.expectNothing();
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testConnectCloseAndDisconnectAcrossNodes()
	{
		if (skipWithoutServices("testConnectCloseAndDisconnectAcrossNodes"))
			return;
		Nodes nodes("g3:");
		nodes.startBoth();
		Scene scene(nodes);

		// The member's socket on node b closes: offline, and the owner on node a hears of it.
		const std::string oldConnection = scene.peer.connection;
		scene.peer.ws.close();
		scene.owner.expectExactly("", "PeerDisconnected", scene.aboutPeer());

		// Back on a new socket on node b without the password: PeerConnected both ways, a new id.
		scene.peer.connect(nodes.b);
		connectRoom(scene.peer, scene.room, scene.name, {&scene.owner});
		CPPUNIT_ASSERT(scene.peer.connection != oldConnection);

		// DisconnectRoom on node b: the owner hears PeerDisconnected, and relays to the peer miss.
		scene.peer.send("d1", "DisconnectRoom", strings({{"room_id", scene.room}, {"public_key", scene.peer.key}}));
		scene.owner.expectExactly("", "PeerDisconnected", scene.aboutPeer());
		scene.peer.expectExactly("d1", "RoomDisconnected", scene.roomOnly());
		scene.owner.send("o1", "Offer", fields({{"destination_id", jsonQuote(scene.peer.key)}, {"offer", SDP_JSON}}));
		scene.owner.expectError("o1", "Target client not found");
		scene.peer.expectNothing();
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testRelayAcrossNodes()
	{
		if (skipWithoutServices("testRelayAcrossNodes"))
			return;
		Nodes nodes("g4:");
		nodes.startBoth();
		Scene scene(nodes);
		Party& owner = scene.owner;
		Party& peer = scene.peer;
		// Node b to node a: an Offer by key, an Answer by connection id, a Candidate without room_id.
		peer.send("o1", "Offer",
		          fields({{"room_id", jsonQuote(scene.room)},
		                  {"public_key", jsonQuote(peer.key)},
		                  {"destination_id", jsonQuote(owner.key)},
		                  {"offer", SDP_JSON}}));
		owner.expectExactly("", "Offer",
		                    fields({{"destination_id", jsonQuote(owner.key)},
		                            {"offer", SDP_JSON},
		                            {"public_key", jsonQuote(peer.key)},
		                            {"room_id", jsonQuote(scene.room)},
		                            {"source_id", jsonQuote(peer.connection)}}));
		peer.send("a1", "Answer",
		          fields({{"room_id", jsonQuote(scene.room)},
		                  {"destination_id", jsonQuote(owner.connection)},
		                  {"answer", SDP_JSON}}));
		owner.expectExactly("", "Answer",
		                    fields({{"answer", SDP_JSON},
		                            {"destination_id", jsonQuote(owner.key)},
		                            {"public_key", jsonQuote(peer.key)},
		                            {"room_id", jsonQuote(scene.room)},
		                            {"source_id", jsonQuote(peer.connection)}}));
		peer.send("n1", "Candidate", strings({{"destination_id", owner.key}, {"candidate", CANDIDATE}}));
		owner.expectExactly("", "Candidate",
		                    strings({{"candidate", CANDIDATE},
		                             {"destination_id", owner.key},
		                             {"public_key", peer.key},
		                             {"room_id", scene.room},
		                             {"source_id", peer.connection}}));

		// Node a to node b: by connection id (an object body, copied as received) and by key.
		owner.send("o2", "Offer",
		           fields({{"room_id", jsonQuote(scene.room)},
		                   {"destination_id", jsonQuote(peer.connection)},
		                   {"offer", "{\"sdp\":\"v=0\",\"type\":\"offer\"}"}}));
		peer.expectExactly("", "Offer",
		                   fields({{"destination_id", jsonQuote(peer.key)},
		                           {"offer", "{\"sdp\":\"v=0\",\"type\":\"offer\"}"},
		                           {"public_key", jsonQuote(owner.key)},
		                           {"room_id", jsonQuote(scene.room)},
		                           {"source_id", jsonQuote(owner.connection)}}));
		owner.send("n2", "Candidate",
		           strings({{"room_id", scene.room}, {"destination_id", peer.key}, {"candidate", CANDIDATE}}));
		peer.expectExactly("", "Candidate",
		                   strings({{"candidate", CANDIDATE},
		                            {"destination_id", peer.key},
		                            {"public_key", owner.key},
		                            {"room_id", scene.room},
		                            {"source_id", owner.connection}}));

		// No reply to a sender on success: the next frame each sees is its Ping reply.
		pingReply(owner.mode, "p1", owner.ws);
		pingReply(peer.mode, "p2", peer.ws);
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testRenameAcrossNodes()
	{
		if (skipWithoutServices("testRenameAcrossNodes"))
			return;
		Nodes nodes("g5:");
		nodes.startBoth();
		Scene scene(nodes);
		const std::string renamed = strings({{"room_id", scene.room}, {"room_name", "New Name"}});
		scene.owner.send(
		    "r1", "Rename",
		    strings({{"room_id", scene.room}, {"room_name", "New Name"}, {"public_key", scene.owner.key}}));
		scene.owner.expectExactly("", "RoomRenamed", renamed);
		scene.owner.expectExactly("r1", "RenameSuccess", renamed);
		scene.peer.expectExactly("", "RoomRenamed", renamed);

		// Node b's reads follow: the member's list, and a newcomer's RoomJoined.
		scene.peer.send("g1", "GetUserRooms", strings({{"public_key", scene.peer.key}}));
		scene.peer.expect("g1", "UserRooms", userRooms(scene.room, "New Name", true));
		Party newcomer(MODE_OBJECT, 3, "Bob");
		newcomer.connect(nodes.b);
		joinRoom(newcomer, scene.room, "New Name", {&scene.owner, &scene.peer});
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testKickAcrossNodes()
	{
		if (skipWithoutServices("testKickAcrossNodes"))
			return;
		Nodes nodes("g6:");
		nodes.startBoth();
		Scene scene(nodes);
		for (const std::string& target : {scene.peer.key, scene.peer.connection})
		{
			scene.owner.send(
			    "x1", "Kick",
			    strings({{"room_id", scene.room}, {"target_id", target}, {"public_key", scene.owner.key}}));
			scene.peer.expectExactly("", "Kicked", scene.roomOnly());
			scene.owner.expectExactly("x1", "KickSuccess", strings({{"room_id", scene.room}, {"target_id", target}}));
			scene.owner.expectNothing(50);

			// No member any more, on node b too; its socket stays open and may join again.
			CPPUNIT_ASSERT(scene.peer.ws.isOpen());
			scene.peer.send("k1", "ConnectRoom",
			                strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}}));
			scene.peer.expectError("k1", "You must join this room first");
			joinRoom(scene.peer, scene.room, scene.name, {&scene.owner});
		}
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testOwnerLeaveDeletesRoomAcrossNodes()
	{
		if (skipWithoutServices("testOwnerLeaveDeletesRoomAcrossNodes"))
			return;
		Nodes nodes("g7:");
		nodes.startBoth();
		Scene scene(nodes);
		// The member's second socket on node b, bound by X-Client-ID and in no room, hears of the
		// deletion too (§8.5), in base64 since it never sent a request.
		WsTestClient watcher;
		connectWs(watcher, nodes.b, {{"X-Client-ID", scene.peer.key}});
		expectFrame(watcher, MODE_BASE64, "", "UserRooms", userRooms(scene.room, scene.name, true));
		expectFrame(watcher, MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}");

		scene.owner.send("l1", "LeaveRoom", "{}");
		scene.peer.expectExactly("", "RoomDeleted", scene.roomOnly());
		expectExact(watcher, serverFrame(MODE_BASE64, "", "RoomDeleted", scene.roomOnly()));
		scene.owner.expectExactly("l1", "LeaveRoom", scene.roomOnly());

		sendJoin(scene.peer, "j2", scene.room, PASSWORD);
		scene.peer.expectError("j2", "Room does not exist");
		scene.peer.send("g1", "GetUserRooms", strings({{"public_key", scene.peer.key}}));
		scene.peer.expectExactly("g1", "UserRooms", "{\"rooms\":[]}");
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testKilledNodeMembersGoOffline()
	{
		if (skipWithoutServices("testKilledNodeMembersGoOffline"))
			return;
		Nodes nodes("g8:");
		nodes.startBoth();
		Scene scene(nodes);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("node b killed", 128 + SIGKILL, nodes.b.stop(SIGKILL));
		const std::int64_t killedAt = Deadline::nowMicros();

		// Nothing tells node a but the expiry of node b's liveness key.
		const int boundMs = (NODE_TTL_S + 3) * 1000;
		const std::string frame = explained(scene.owner.who() + " waited for PeerDisconnected after the kill",
		                                    [&] { return receiveText(scene.owner.ws, boundMs); });
		const std::int64_t tookMs = elapsedMs(killedAt);
		std::cout << "\nGovpnClusterTest::testKilledNodeMembersGoOffline: PeerDisconnected after " << tookMs
		          << " ms (node_ttl_s " << NODE_TTL_S << ")" << std::endl;
		CPPUNIT_ASSERT_EQUAL(serverFrame(scene.owner.mode, "", "PeerDisconnected", scene.aboutPeer()), frame);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(tookMs) + " ms", tookMs <= boundMs);

		// Offline indeed; and its client, reconnecting through the balancer to node a, is back.
		scene.owner.send("o1", "Offer", fields({{"destination_id", jsonQuote(scene.peer.key)}, {"offer", SDP_JSON}}));
		scene.owner.expectError("o1", "Target client not found");
		scene.peer.connect(nodes.a);
		connectRoom(scene.peer, scene.room, scene.name, {&scene.owner});
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
	}

	void testLateNodeLearnsPresence()
	{
		if (skipWithoutServices("testLateNodeLearnsPresence"))
			return;
		Nodes nodes("g9:");
		startGovpn(nodes.a, ROOM_KEYS);
		Party owner(MODE_OBJECT, 1, "Owner");
		owner.connect(nodes.a);
		const std::string name = "Older Than B";
		const std::string room = createRoom(owner, name);

		// Node b starts only now: it reads the rooms and asks node a who is online. (Clients it
		// serves before the answer arrives would hear of the owner a moment later, as PeerConnected.)
		startGovpn(nodes.b, ROOM_KEYS);
		expectListed(nodes.b, "a");
		std::string stats;
		CPPUNIT_ASSERT_MESSAGE("node b's /stats never showed the owner's room active: " + stats,
		                       waitUntil(5000, 20, [&] {
			                       stats = HttpTestClient::get("127.0.0.1", nodes.b.port("govpn"), "/stats").body;
			                       return stats.find("\"active_rooms\":1,") != std::string::npos;
		                       }));
		Party guesser(MODE_OBJECT, 2, "Mallory");
		guesser.connect(nodes.b);
		sendJoin(guesser, "j0", room, "9999");
		guesser.expectError("j0", "Incorrect password");
		Party peer(MODE_BASE64, 3, "Alice");
		peer.connect(nodes.b);
		joinRoom(peer, room, name, {&owner});

		// The connection id it was told is the owner's: a relay addressed by it arrives.
		peer.send("c1", "Candidate",
		          strings({{"room_id", room}, {"destination_id", owner.connection}, {"candidate", CANDIDATE}}));
		owner.expectExactly("", "Candidate",
		                    strings({{"candidate", CANDIDATE},
		                             {"destination_id", owner.key},
		                             {"public_key", peer.key},
		                             {"room_id", room},
		                             {"source_id", peer.connection}}));
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testRoomsSurviveRestartOfAllNodes()
	{
		if (skipWithoutServices("testRoomsSurviveRestartOfAllNodes"))
			return;
		Nodes nodes("g10:");
		nodes.startBoth();
		const std::string name = "Kept";
		Party owner(MODE_OBJECT, 1, "Owner");
		Party member(MODE_OBJECT, 2, "Alice");
		owner.connect(nodes.a);
		const std::string room = createRoom(owner, name);
		member.connect(nodes.a);
		joinRoom(member, room, name, {&owner});
		owner.ws.close();
		member.ws.close();
		CPPUNIT_ASSERT_EQUAL(std::string("1"),
		                     nodes.postgres.superuser("SELECT count(*) FROM govpn.rooms", nodes.postgres.database()));

		// Every node stops (cleanly) and starts again: nothing is left but PostgreSQL.
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
		nodes.a.start();
		nodes.b.start();
		expectListed(nodes.a, "b");

		// The owner through the node that did not create the room: the connect-time UserRooms push
		// (offline after the restart), then ConnectRoom without a password.
		owner.connect(nodes.b, {{"X-Client-ID", owner.key}});
		expectFrame(owner.ws, MODE_BASE64, "", "UserRooms", userRooms(room, name, false));
		expectFrame(owner.ws, MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}");
		connectRoom(owner, room, name, {});
		// The member through the same node, listed and connecting too.
		member.connect(nodes.b);
		member.send("g1", "GetUserRooms", strings({{"public_key", member.key}}));
		member.expect("g1", "UserRooms", userRooms(room, name, false));
		connectRoom(member, room, name, {&owner});
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testRedisRestartHealsPresence()
	{
		if (skipWithoutServices("testRedisRestartHealsPresence"))
			return;
		Nodes nodes("g11:");
		nodes.startBoth();
		Scene scene(nodes);
		Party& owner = scene.owner;
		Party& peer = scene.peer;
		Party bob(MODE_OBJECT, 3, "Bob");
		bob.connect(nodes.b);
		joinRoom(bob, scene.room, scene.name, {&owner, &peer});
		Party carol(MODE_OBJECT, 4, "Carol");
		carol.connect(nodes.b);
		joinRoom(carol, scene.room, scene.name, {&owner, &peer, &bob});
		carol.ws.close();
		const std::string aboutCarol = strings({{"public_key", carol.key}, {"room_id", scene.room}});
		const std::string aboutBob = strings({{"public_key", bob.key}, {"room_id", scene.room}});
		for (Party* member : {&owner, &peer, &bob})
			member->expectExactly("", "PeerDisconnected", aboutCarol);

		// Redis goes away. On node b meanwhile: Bob leaves, Carol comes back. Node b's members hear
		// of both; the owner on node a hears of neither (the pushes to it are dropped).
		CPPUNIT_ASSERT_EQUAL_MESSAGE("redis stopped cleanly", 0, nodes.redis.stop());
		bob.ws.close();
		peer.expectExactly("", "PeerDisconnected", aboutBob);
		carol.connect(nodes.b);
		carol.send("k1", "ConnectRoom",
		           strings({{"room_id", scene.room}, {"public_key", carol.key}, {"username", "User"}}));
		carol.expectExactly("k1", "RoomConnected", strings({{"room_id", scene.room}, {"room_name", scene.name}}));
		expectPeerEvent(carol, "PeerConnected", owner, scene.room);
		expectPeerEvent(carol, "PeerConnected", peer, scene.room);
		carol.connection.clear(); // a new socket, a new connection id
		expectPeerEvent(peer, "PeerConnected", carol, scene.room);
		owner.expectNothing();

		// Redis is back: node a learns what it missed and tells the owner, once each: Carol is
		// connected (announced again by node b), Bob is not (not announced within the settle window).
		nodes.redis.start();
		const std::int64_t restartedAt = Deadline::nowMicros();
		const std::string carolConnected = serverFrame(owner.mode, "", "PeerConnected",
		                                               strings({{"connection_id", carol.connection},
		                                                        {"public_key", carol.key},
		                                                        {"room_id", scene.room},
		                                                        {"username", carol.username}}));
		const std::string bobDisconnected = serverFrame(owner.mode, "", "PeerDisconnected", aboutBob);
		std::vector<std::string> healed;
		for (int i = 0; i < 2; ++i)
			healed.push_back(explained(owner.who() + " waited for what node a missed during the outage",
			                           [&] { return receiveText(owner.ws, 12000); }));
		const std::int64_t healedMs = elapsedMs(restartedAt);
		std::sort(healed.begin(), healed.end());
		std::vector<std::string> expected = {carolConnected, bobDisconnected};
		std::sort(expected.begin(), expected.end());
		CPPUNIT_ASSERT_EQUAL(expected[0], healed[0]);
		CPPUNIT_ASSERT_EQUAL(expected[1], healed[1]);
		std::cout << "\nGovpnClusterTest::testRedisRestartHealsPresence: the owner was told within " << healedMs
		          << " ms of the restart" << std::endl;

		// Both settle windows have passed: node b's members heard nothing twice, nobody anything more.
		sleepMs(6000 - static_cast<int>(std::min<std::int64_t>(healedMs, 6000)));
		owner.expectNothing();
		peer.expectNothing();
		carol.expectNothing();

		// Live traffic crosses again both ways, and live presence changes still arrive once.
		owner.send("n1", "Candidate", strings({{"destination_id", carol.key}, {"candidate", CANDIDATE}}));
		carol.expectExactly("", "Candidate",
		                    strings({{"candidate", CANDIDATE},
		                             {"destination_id", carol.key},
		                             {"public_key", owner.key},
		                             {"room_id", scene.room},
		                             {"source_id", owner.connection}}));
		peer.send("n2", "Candidate", strings({{"destination_id", owner.key}, {"candidate", CANDIDATE}}));
		owner.expectExactly("", "Candidate",
		                    strings({{"candidate", CANDIDATE},
		                             {"destination_id", owner.key},
		                             {"public_key", peer.key},
		                             {"room_id", scene.room},
		                             {"source_id", peer.connection}}));
		carol.ws.close();
		owner.expectExactly("", "PeerDisconnected", aboutCarol);
		peer.expectExactly("", "PeerDisconnected", aboutCarol);
		owner.expectNothing();

		// One subscription per node to the plugin's channel: nothing doubled by the reconnect.
		const std::string bus = "g11:bus:govpn";
		long long subscribers = -1;
		CPPUNIT_ASSERT_MESSAGE("PUBSUB NUMSUB " + bus + " is " + std::to_string(subscribers) + ", not 2",
		                       waitUntil(3000, 50, [&] { return (subscribers = nodes.redis.numsub(bus)) == 2; }));
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}

	void testRealClientThroughRoundRobin()
	{
		if (skipWithoutServices("testRealClientThroughRoundRobin"))
			return;
		// Built before the nodes start, so they do not idle while Go compiles.
		const std::string client = realClientBinary("GovpnClusterTest");
		if (client.empty())
			return;
		Nodes nodes("g11:");
		// The plugin's defaults but for startGovpn's larger per-IP bucket, as the harness meets them.
		nodes.startBoth({});
		TcpRoundRobin balancer({nodes.a.port("govpn"), nodes.b.port("govpn")});
		runRealClient(client, "ws://127.0.0.1:" + std::to_string(balancer.port()));

		// The owner's connection (the first) went to node a, the peer's to node b.
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), balancer.accepted());
		CPPUNIT_ASSERT_EQUAL(nodes.a.port("govpn"), balancer.backendOf(0));
		CPPUNIT_ASSERT_EQUAL(nodes.b.port("govpn"), balancer.backendOf(1));
		// The harness's handler is not shown RoomRenamed or the Peer* pushes (the client ignores
		// them), so they are read from what the nodes sent: the peer on b got the owner's rename,
		// the owner on a heard of the peer joining.
		const std::string ownerStream = balancer.received(0);
		const std::string peerStream = balancer.received(1);
		const std::string created = replyPayload(ownerStream, "RoomCreated");
		std::smatch match;
		CPPUNIT_ASSERT_MESSAGE("RoomCreated: " + created,
		                       std::regex_search(created, match, std::regex("\"room_id\":\"([0-9a-f]{16})\"")));
		const std::string room = match[1].str();
		const std::vector<std::string> renames = serverPushes(peerStream, "RoomRenamed");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("RoomRenamed pushes to the peer on node b", std::size_t(1), renames.size());
		CPPUNIT_ASSERT_EQUAL(strings({{"room_id", room}, {"room_name", "RefRoom2"}}), renames[0]);
		// (The PeerLeft that follows the peer's LeaveRoom may still be on its way when the harness
		// exits and closes the owner's socket, so it is not looked for.)
		const std::vector<std::string> joined = serverPushes(ownerStream, "PeerJoined");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("PeerJoined pushes to the owner on node a", std::size_t(1), joined.size());
		CPPUNIT_ASSERT_MESSAGE(joined[0],
		                       std::regex_match(joined[0], std::regex("\\{\"connection_id\":\"c-[0-9a-f]{16}\","
		                                                              "\"public_key\":\"[A-Za-z0-9+/]{43}=\","
		                                                              "\"room_id\":\"" +
		                                                              room + "\",\"username\":\"bob\"\\}")));
		CPPUNIT_ASSERT_EQUAL(0, nodes.a.stop());
		CPPUNIT_ASSERT_EQUAL(0, nodes.b.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnClusterTest);
