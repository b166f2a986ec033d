//
// GovpnRoomsIntegrationTest.cpp
//
// The GoVPN plugin's rooms, signaling and codec cases over real loopback sockets against the real
// switchboard binary, byte for byte (whole frames with their trailing "\n"): the same cases that
// tests/unit/GovpnPluginTest.cpp runs in FakeHost, here through the host's HTTP front, WebSocket
// codec, worker pool and SQLite storage. Each test starts one server and runs its case in the
// three payload forms (base64, object, JSON string), each form with its own keys and rooms; the
// order of frames on each socket is asserted too (docs/protocols/govpn.md §4-§9, §15, §17).
//


#include "GovpnTestSupport.h"
#include "PortPicker.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <netinet/in.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Govpn;


namespace {


const Mode MODES[] = {MODE_BASE64, MODE_OBJECT, MODE_STRING};
const std::string PASSWORD = "1234";
const std::string NO_SUCH_ROOM = "0000000000000000";
const std::string NO_SUCH_CONNECTION = "c-0000000000000000";
/// The SDP of GovpnTestSupport.h as a JSON value.
const std::string SDP_JSON = "\"" + SDP + "\"";


void startRooms(TestServer& server, const TestServer::Keys& extraKeys = {})
/// startGovpn with Argon2id at libsodium's minimum cost (every create and join hashes), a per-IP
/// bucket large enough for all the creates and joins of a test (every client is 127.0.0.1) and
/// no shutdown grace: these tests are about rooms, not about cost, limits or shutdown.
{
	TestServer::Keys keys = {
	    {"rate_limit_burst", "1000"}, {"pwhash_opslimit", "1"}, {"pwhash_memlimit", "8192"}, {"shutdown_grace", "0"}};
	for (const auto& entry : extraKeys)
		keys[entry.first] = entry.second;
	startGovpn(server, keys);
}


const char* modeName(Mode mode)
{
	switch (mode)
	{
		case MODE_BASE64:
			return "base64";
		case MODE_OBJECT:
			return "object";
		case MODE_STRING:
			return "json-string";
	}
	return "?";
}


Mode otherMode(Mode mode)
/// A form different from mode, to show that a frame did not switch the connection's mode.
{
	return mode == MODE_OBJECT ? MODE_STRING : MODE_OBJECT;
}


std::string strings(std::initializer_list<std::pair<std::string, std::string>> fields)
/// A compact inner object whose values are all strings, fields in the given order.
{
	std::string out = "{";
	for (const auto& field : fields)
	{
		if (out.size() > 1)
			out += ',';
		out += jsonQuote(field.first) + ":" + jsonQuote(field.second);
	}
	return out + "}";
}


std::string fields(std::initializer_list<std::pair<std::string, std::string>> rawFields)
/// A compact inner object whose values are given as JSON text, fields in the given order.
{
	std::string out = "{";
	for (const auto& field : rawFields)
	{
		if (out.size() > 1)
			out += ',';
		out += jsonQuote(field.first) + ":" + field.second;
	}
	return out + "}";
}


void expectError(WsTestClient& client, Mode mode, const std::string& messageId, const std::string& error)
{
	expectExact(client, serverFrame(mode, messageId, "Error", strings({{"error", error}})));
}


struct Party
/// One client socket and the key it acts as.
{
	WsTestClient ws;
	std::string key;
	std::string username;
	std::string connection; ///< its connection id once announced to someone; "" for a new socket

	Party(std::string publicKey, std::string name):
	    key(std::move(publicKey)),
	    username(std::move(name))
	{
	}

	void reconnect(TestServer& server)
	/// A new socket for the same key: a new connection id.
	{
		ws.close();
		connection.clear();
		connectWs(ws, server);
	}
};


void expectPeerEvent(Party& to, Mode mode, const std::string& type, Party& about, const std::string& room)
/// PeerJoined or PeerConnected about `about`; learns its connection id the first time.
{
	std::string connection = expectFrame(to.ws, mode, "", type,
	                                     strings({{"connection_id", "<CONN>"},
	                                              {"public_key", about.key},
	                                              {"room_id", room},
	                                              {"username", about.username}}))
	                             .at(0);
	if (about.connection.empty())
		about.connection = connection;
	else
		CPPUNIT_ASSERT_EQUAL(about.connection, connection);
}


std::string createRoom(TestServer& server, Mode mode, Party& owner, const std::string& name)
/// Connects the owner's socket and creates its room; returns the room id.
{
	connectWs(owner.ws, server);
	owner.ws.sendText(envelope(mode, "c1", "CreateRoom",
	                           strings({{"room_name", name}, {"password", PASSWORD}, {"public_key", owner.key}})));
	return expectFrame(
	           owner.ws, mode, "c1", "RoomCreated",
	           strings({{"password", PASSWORD}, {"public_key", owner.key}, {"room_id", "<ROOM>"}, {"room_name", name}}))
	    .at(0);
}


void joinRoom(TestServer& server, Mode mode, Party& joiner, const std::string& room, const std::string& name,
              const std::vector<Party*>& online)
/// JoinRoom with the password from the joiner's socket (connected first if needed): RoomJoined,
/// then a PeerJoined about each member of online (in the order they came online), and each of
/// them a PeerJoined about the joiner (§8.2).
{
	if (!joiner.ws.isOpen())
		connectWs(joiner.ws, server);
	joiner.ws.sendText(envelope(
	    mode, "j1", "JoinRoom",
	    strings(
	        {{"room_id", room}, {"password", PASSWORD}, {"public_key", joiner.key}, {"username", joiner.username}})));
	expectExact(joiner.ws, serverFrame(mode, "j1", "RoomJoined", strings({{"room_id", room}, {"room_name", name}})));
	for (Party* member : online)
		expectPeerEvent(joiner, mode, "PeerJoined", *member, room);
	for (Party* member : online)
		expectPeerEvent(*member, mode, "PeerJoined", joiner, room);
}


struct Scene
/// An owner O with its room and a member P online in it, all in one payload form.
{
	Mode mode;
	std::string name;
	Party owner;
	Party peer;
	std::string room;

	Scene(TestServer& server, Mode form, int keyIndex):
	    mode(form),
	    name(std::string("Room ") + modeName(form)),
	    owner(publicKey(keyIndex), "Owner"),
	    peer(publicKey(keyIndex + 1), "Alice")
	{
		room = createRoom(server, mode, owner, name);
		joinRoom(server, mode, peer, room, name, {&owner});
	}

	std::string frame(const std::string& messageId, const std::string& type, const std::string& inner) const
	{
		return serverFrame(mode, messageId, type, inner);
	}

	std::string roomOnly() const { return strings({{"room_id", room}}); }
	std::string aboutPeer() const { return strings({{"public_key", peer.key}, {"room_id", room}}); }
};


std::string innerOf(Mode mode, const std::string& frame)
/// The inner payload JSON of a server frame written in mode.
{
	const std::string marker = ",\"payload\":";
	std::size_t start = frame.find(marker);
	CPPUNIT_ASSERT_MESSAGE(frame, start != std::string::npos && frame.size() > start + marker.size() + 2 &&
	                                  frame.compare(frame.size() - 2, 2, "}\n") == 0);
	start += marker.size();
	std::string payload = frame.substr(start, frame.size() - 2 - start);
	if (mode == MODE_OBJECT)
		return payload;
	return mode == MODE_BASE64 ? base64Decode(jsonUnquote(payload)) : jsonUnquote(payload);
}


std::string userRoomPattern(const std::string& room, const std::string& name, bool connected)
/// A regex for one UserRooms entry; captures joined_at and last_connected.
{
	const std::string time = "([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)";
	return "\\{\"room_id\":\"" + room + "\",\"room_name\":\"" + name +
	       "\",\"is_connected\":" + (connected ? "true" : "false") + ",\"joined_at\":\"" + time +
	       "\",\"last_connected\":\"" + time + "\"\\}";
}


int keyBase(Mode mode)
/// Keys of different forms never meet: 20 per form.
{
	return 20 * static_cast<int>(mode) + 1;
}


} // namespace


class GovpnRoomsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnRoomsIntegrationTest);
	CPPUNIT_TEST(testModeTracking);
	CPPUNIT_TEST(testConnectTimePushes);
	CPPUNIT_TEST(testIpv6ClientIpInfo);
	CPPUNIT_TEST(testMalformedInput);
	CPPUNIT_TEST(testCreateErrors);
	CPPUNIT_TEST(testJoin);
	CPPUNIT_TEST(testCapacity);
	CPPUNIT_TEST(testConnectAfterSocketClose);
	CPPUNIT_TEST(testDisconnect);
	CPPUNIT_TEST(testLeaveByMember);
	CPPUNIT_TEST(testLeaveByOwner);
	CPPUNIT_TEST(testOwnerAuthorityIsTheBoundKey);
	CPPUNIT_TEST(testKickByKeyAndByConnectionId);
	CPPUNIT_TEST(testKickErrors);
	CPPUNIT_TEST(testRename);
	CPPUNIT_TEST(testOneRoomPerSocket);
	CPPUNIT_TEST(testOneSocketPerKeyPerRoom);
	CPPUNIT_TEST(testOfferByKeyCandidateByConnectionId);
	CPPUNIT_TEST(testSignalWaitsForEarlierRequest);
	CPPUNIT_TEST(testSpoofedKeyIsRefused);
	CPPUNIT_TEST(testRelayMisses);
	CPPUNIT_TEST(testRelayMissingFields);
	CPPUNIT_TEST(testRelayBodyTypes);
	CPPUNIT_TEST(testPing);
	CPPUNIT_TEST_SUITE_END();

public:
	// --- codec (§4, §5.1) ------------------------------------------------------------------------

	void testModeTracking()
	{
		// Each request with a string or object payload switches the reply form (§4.3).
		TestServer server;
		startRooms(server);
		WsTestClient client;
		connectWs(client, server);
		pingReply(MODE_OBJECT, "p1", client);
		pingReply(MODE_BASE64, "p2", client);
		pingReply(MODE_STRING, "p3", client);
		pingReply(MODE_OBJECT, "p4", client);
		pingReply(MODE_STRING, "p5", client);
		pingReply(MODE_BASE64, "p6", client);
	}

	void testConnectTimePushes()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			// A valid X-Client-ID: UserRooms then ClientIPInfo, in base64 whatever the client uses
			// later (nothing has set a mode yet), then the reply in the request's form.
			const std::string key = publicKey(keyBase(mode));
			WsTestClient client;
			connectWs(client, server, {{"X-Client-ID", key}});
			expectExact(client, serverFrame(MODE_BASE64, "", "UserRooms", "{\"rooms\":[]}"));
			expectExact(client, serverFrame(MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}"));
			pingReply(mode, "p1", client);

			// The push lists the key's rooms; the room is online through the first socket.
			client.sendText(envelope(mode, "c1", "CreateRoom",
			                         strings({{"room_name", "Pushed"}, {"password", PASSWORD}, {"public_key", key}})));
			std::string room =
			    expectFrame(
			        client, mode, "c1", "RoomCreated",
			        strings(
			            {{"password", PASSWORD}, {"public_key", key}, {"room_id", "<ROOM>"}, {"room_name", "Pushed"}}))
			        .at(0);
			WsTestClient second;
			connectWs(second, server, {{"X-Client-ID", key}});
			expectFrame(second, MODE_BASE64, "", "UserRooms",
			            "{\"rooms\":[{\"room_id\":\"" + room +
			                "\",\"room_name\":\"Pushed\",\"is_connected\":true,\"joined_at\":\"<TIME>\","
			                "\"last_connected\":\"<TIME>\"}]}");
			expectExact(second, serverFrame(MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}"));
			pingReply(mode, "p2", second);

			// No header, or one that is not a valid key: no pushes, the Ping reply comes first.
			WsTestClient anonymous;
			connectWs(anonymous, server);
			pingReply(mode, "p3", anonymous);
			for (const std::string& invalid : {std::string("not-a-key"), key.substr(0, 43)})
			{
				WsTestClient rejected;
				connectWs(rejected, server, {{"X-Client-ID", invalid}});
				pingReply(mode, "p4", rejected);
			}
		}
	}

	void testIpv6ClientIpInfo()
	{
		std::string why = PortPicker::ipv6LoopbackUnavailable();
		if (!why.empty())
		{
			std::printf("\nGovpnRoomsIntegrationTest: IPv6 ClientIPInfo skipped: %s\n", why.c_str());
			return;
		}
		TestServer server;
		server.addListener("govpn", {{"address", "::1"}});
		server.addPlugin("govpn", "govpn", "", {{"shutdown_grace", "0"}});
		server.start();
		WsTestClient client;
		HttpResponse response =
		    client.connect("::1", server.port("govpn"), "/ws", {{"X-Client-ID", publicKey(1)}}, WAIT_MS);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, 101, response.status);
		expectExact(client, serverFrame(MODE_BASE64, "", "UserRooms", "{\"rooms\":[]}"));
		expectExact(client, serverFrame(MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"\",\"ipv6\":\"::1\"}"));
		pingReply(MODE_OBJECT, "p1", client);
	}

	void testMalformedInput()
	{
		TestServer server;
		startRooms(server);
		// The per-type format error of §9 for each request type.
		const std::vector<std::pair<std::string, std::string>> formatErrors = {
		    {"CreateRoom", "Invalid create room request format"},
		    {"JoinRoom", "Invalid join room request format"},
		    {"ConnectRoom", "Invalid connect room request format"},
		    {"DisconnectRoom", "Invalid disconnect room request format"},
		    {"LeaveRoom", "Invalid leave room request format"},
		    {"Kick", "Invalid kick request format"},
		    {"Rename", "Invalid rename request format"},
		    {"GetUserRooms", "Invalid get user rooms request format"},
		    {"Ping", "Invalid ping format"},
		    {"Offer", "Invalid offer request format"},
		    {"Answer", "Invalid answer request format"},
		    {"Candidate", "Invalid candidate request format"}};
		for (Mode mode : MODES)
		{
			WsTestClient client;
			connectWs(client, server);
			pingReply(mode, "p1", client);

			// A numeric message_id: an invalid envelope, "" as id, and the mode is unchanged even
			// though its payload is in another form.
			client.sendText("{\"message_id\":7,\"type\":\"Ping\",\"payload\":" +
			                payloadIn(otherMode(mode), "{\"timestamp\":1}") + "}");
			expectError(client, mode, "", "Invalid message format");

			// Payloads that are no form at all (an array, null, absent): the per-type error, in the
			// current mode.
			for (const auto& entry : formatErrors)
			{
				client.sendText("{\"message_id\":\"a1\",\"type\":\"" + entry.first + "\",\"payload\":[123,125]}");
				expectError(client, mode, "a1", entry.second);
			}
			client.sendText("{\"message_id\":\"n1\",\"type\":\"JoinRoom\",\"payload\":null}");
			expectError(client, mode, "n1", "Invalid join room request format");
			client.sendText("{\"message_id\":\"n2\",\"type\":\"ConnectRoom\"}");
			expectError(client, mode, "n2", "Invalid connect room request format");

			// A wrongly typed field inside a payload that decodes.
			client.sendText(envelope(mode, "t1", "CreateRoom",
			                         fields({{"room_name", "\"R\""},
			                                 {"password", "1234"},
			                                 {"public_key", jsonQuote(publicKey(keyBase(mode)))}})));
			expectError(client, mode, "t1", "Invalid create room request format");

			// Strings that are not canonical base64 are the base64 form: the mode becomes base64.
			client.sendText("{\"message_id\":\"b1\",\"type\":\"GetUserRooms\",\"payload\":\"e30\"}");
			expectError(client, MODE_BASE64, "b1", "Invalid get user rooms request format");
			pingReply(mode, "p2", client);
			client.sendText("{\"message_id\":\"b2\",\"type\":\"Kick\",\"payload\":\"eyJhIjoiPz8-In0=\"}");
			expectError(client, MODE_BASE64, "b2", "Invalid kick request format");

			// The socket is kept and answers in the form of the next request.
			pingReply(mode, "p3", client);
			CPPUNIT_ASSERT(client.isOpen());
		}
	}

	// --- rooms (§6, §8.1-§8.8) -------------------------------------------------------------------

	void testCreateErrors()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			const std::string key = publicKey(keyBase(mode));
			WsTestClient client;
			connectWs(client, server);
			auto create = [&](const std::string& inner, const std::string& error) {
				client.sendText(envelope(mode, "e1", "CreateRoom", inner));
				expectError(client, mode, "e1", error);
			};
			const std::string required = "Room name, password, and public key are required";
			create(strings({{"password", PASSWORD}, {"public_key", key}}), required);
			create(strings({{"room_name", "R"}, {"public_key", key}}), required);
			create(strings({{"room_name", "R"}, {"password", PASSWORD}}), required);
			create(strings({{"room_name", "R"}, {"password", ""}, {"public_key", key}}), required);

			// Exactly four ASCII digits (the last: Arabic-Indic one to four).
			for (const std::string& password : {std::string("12a4"), std::string("12345"), std::string("123"),
			                                    std::string("\\u0661\\u0662\\u0663\\u0664")})
				create(
				    fields(
				        {{"room_name", "\"R\""}, {"password", "\"" + password + "\""}, {"public_key", jsonQuote(key)}}),
				    "Password does not match required pattern");

			// Keys that are not the canonical padded standard base64 of 32 bytes.
			std::string urlSafe = key;
			urlSafe[0] = '-';
			urlSafe[1] = '_';
			std::string paddingBits = key;
			paddingBits[42] = paddingBits[42] == 'B' ? 'C' : 'B'; // 'B' and 'C' have low bits set
			const std::string thirtyThreeBytes = base64Encode(std::string(33, '\x05'));
			const std::string doublePadded = base64Encode(std::string(31, '\x05'));
			for (const std::string& badKey :
			     {key.substr(0, 43), thirtyThreeBytes, urlSafe, paddingBits, doublePadded, " " + key, key + " "})
				create(strings({{"room_name", "R"}, {"password", PASSWORD}, {"public_key", badKey}}),
				       "Invalid public key format");

			// Names: 1-255 bytes, no control characters, not only whitespace.
			create(strings({{"room_name", std::string(256, 'n')}, {"password", PASSWORD}, {"public_key", key}}),
			       "Invalid room name");
			create(fields({{"room_name", "\"a\\u0001b\""}, {"password", "\"1234\""}, {"public_key", jsonQuote(key)}}),
			       "Invalid room name");
			create(strings({{"room_name", "   "}, {"password", PASSWORD}, {"public_key", key}}), "Invalid room name");

			// 255 bytes is a name; a second room for the key names the first.
			const std::string longName(255, 'n');
			client.sendText(envelope(mode, "c1", "CreateRoom",
			                         strings({{"room_name", longName}, {"password", PASSWORD}, {"public_key", key}})));
			std::string room =
			    expectFrame(
			        client, mode, "c1", "RoomCreated",
			        strings(
			            {{"password", PASSWORD}, {"public_key", key}, {"room_id", "<ROOM>"}, {"room_name", longName}}))
			        .at(0);
			create(strings({{"room_name", "Second"}, {"password", PASSWORD}, {"public_key", key}}),
			       "This public key has already created room: " + room);

			// The owner is a member, online.
			client.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", key}})));
			expectFrame(client, mode, "g1", "UserRooms",
			            "{\"rooms\":[{\"room_id\":\"" + room + "\",\"room_name\":\"" + longName +
			                "\",\"is_connected\":true,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
		}
	}

	void testJoin()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode)); // RoomJoined, PeerJoined both ways
			Party stranger(publicKey(keyBase(mode) + 2), "Bob");
			connectWs(stranger.ws, server);
			stranger.ws.sendText(envelope(mode, "w1", "JoinRoom",
			                              strings({{"room_id", scene.room},
			                                       {"password", "9999"},
			                                       {"public_key", stranger.key},
			                                       {"username", "Bob"}})));
			expectError(stranger.ws, mode, "w1", "Incorrect password");
			for (const std::string& room : {NO_SUCH_ROOM, std::string("ABC"), scene.room.substr(0, 15) + "G"})
			{
				stranger.ws.sendText(
				    envelope(mode, "r1", "JoinRoom",
				             strings({{"room_id", room}, {"password", PASSWORD}, {"public_key", stranger.key}})));
				expectError(stranger.ws, mode, "r1", "Room does not exist");
			}
			stranger.ws.sendText(
			    envelope(mode, "k1", "JoinRoom", strings({{"room_id", scene.room}, {"password", PASSWORD}})));
			expectError(stranger.ws, mode, "k1", "Public key is required");
			// None of that reached the room.
			expectQuiet(scene.owner.ws);
			expectQuiet(scene.peer.ws, 50);
		}
	}

	void testCapacity()
	{
		TestServer server;
		startRooms(server, {{"max_members_per_room", "2"}});
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			Party third(publicKey(keyBase(mode) + 2), "Bob");
			connectWs(third.ws, server);
			third.ws.sendText(
			    envelope(mode, "f1", "JoinRoom",
			             strings({{"room_id", scene.room}, {"password", PASSWORD}, {"public_key", third.key}})));
			expectError(third.ws, mode, "f1", "Room is full");

			// P joins again while online: RoomJoined and its own PeerJoined about O, nothing to O (§8.2).
			scene.peer.ws.sendText(envelope(mode, "j2", "JoinRoom",
			                                strings({{"room_id", scene.room},
			                                         {"password", PASSWORD},
			                                         {"public_key", scene.peer.key},
			                                         {"username", "Alice"}})));
			expectExact(scene.peer.ws,
			            scene.frame("j2", "RoomJoined", strings({{"room_id", scene.room}, {"room_name", scene.name}})));
			expectPeerEvent(scene.peer, mode, "PeerJoined", scene.owner, scene.room);
			expectQuiet(scene.owner.ws);
			pingReply(mode, "p1", scene.peer.ws);
		}
	}

	void testConnectAfterSocketClose()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			Party stranger(publicKey(keyBase(mode) + 2), "Bob");
			connectWs(stranger.ws, server);
			stranger.ws.sendText(
			    envelope(mode, "s1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", stranger.key}, {"username", "User"}})));
			expectError(stranger.ws, mode, "s1", "You must join this room first");

			// P's socket closes: offline, still a member.
			const std::string oldConnection = scene.peer.connection;
			scene.peer.ws.close();
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));

			// Back on a new socket without the password, as the real client does ("User" is
			// ignored: the stored username is announced).
			scene.peer.reconnect(server);
			scene.peer.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
			expectExact(scene.peer.ws, scene.frame("k1", "RoomConnected",
			                                       strings({{"room_id", scene.room}, {"room_name", scene.name}})));
			expectPeerEvent(scene.peer, mode, "PeerConnected", scene.owner, scene.room);
			expectPeerEvent(scene.owner, mode, "PeerConnected", scene.peer, scene.room);
			CPPUNIT_ASSERT(scene.peer.connection != oldConnection);
		}
	}

	void testDisconnect()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			scene.peer.ws.sendText(envelope(mode, "d1", "DisconnectRoom",
			                                strings({{"room_id", scene.room}, {"public_key", scene.peer.key}})));
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));
			expectExact(scene.peer.ws, scene.frame("d1", "RoomDisconnected", scene.roomOnly()));
			scene.peer.ws.sendText(envelope(mode, "d2", "DisconnectRoom",
			                                strings({{"room_id", scene.room}, {"public_key", scene.peer.key}})));
			expectError(scene.peer.ws, mode, "d2", "Not connected to any room");
			scene.owner.ws.sendText(envelope(mode, "d3", "DisconnectRoom", strings({{"room_id", NO_SUCH_ROOM}})));
			expectError(scene.owner.ws, mode, "d3", "Not connected to this room");
			// Still connected: the owner's Offer to the offline peer finds nobody.
			scene.owner.ws.sendText(envelope(
			    mode, "o1", "Offer", fields({{"destination_id", jsonQuote(scene.peer.key)}, {"offer", SDP_JSON}})));
			expectError(scene.owner.ws, mode, "o1", "Target client not found");
			expectQuiet(scene.peer.ws);
		}
	}

	void testLeaveByMember()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			const std::string leave = strings({{"room_id", scene.room}, {"public_key", scene.peer.key}});
			scene.peer.ws.sendText(envelope(mode, "l1", "LeaveRoom", leave));
			expectExact(scene.owner.ws, scene.frame("", "PeerLeft", scene.aboutPeer()));
			expectExact(scene.peer.ws, scene.frame("l1", "LeaveRoom", scene.roomOnly()));
			scene.peer.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
			expectError(scene.peer.ws, mode, "k1", "You must join this room first");
			// Leaving again is answered the same way (a non-member just gets the reply).
			scene.peer.ws.sendText(envelope(mode, "l2", "LeaveRoom", leave));
			expectExact(scene.peer.ws, scene.frame("l2", "LeaveRoom", scene.roomOnly()));
			expectQuiet(scene.owner.ws);
			scene.peer.ws.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", scene.peer.key}})));
			expectExact(scene.peer.ws, scene.frame("g1", "UserRooms", "{\"rooms\":[]}"));

			// P back in, then leaving from another socket of its key (bound by X-Client-ID, not in
			// the room): the online socket gets an unsolicited LeaveRoom (§8.5).
			joinRoom(server, mode, scene.peer, scene.room, scene.name, {&scene.owner});
			WsTestClient other;
			connectWs(other, server, {{"X-Client-ID", scene.peer.key}});
			expectFrame(other, MODE_BASE64, "", "UserRooms",
			            "{\"rooms\":[{\"room_id\":\"" + scene.room + "\",\"room_name\":\"" + scene.name +
			                "\",\"is_connected\":true,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
			expectExact(other, serverFrame(MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}"));
			other.sendText(envelope(mode, "l3", "LeaveRoom", scene.roomOnly()));
			expectExact(scene.peer.ws, scene.frame("", "LeaveRoom", scene.roomOnly()));
			expectExact(scene.owner.ws, scene.frame("", "PeerLeft", scene.aboutPeer()));
			expectExact(other, scene.frame("l3", "LeaveRoom", scene.roomOnly()));
			expectQuiet(scene.peer.ws);
		}
	}

	void testLeaveByOwner()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			// A socket bound to P's key but in no room hears of the deletion too (§8.5), in base64
			// since it never sent a request.
			WsTestClient watcher;
			connectWs(watcher, server, {{"X-Client-ID", scene.peer.key}});
			receiveText(watcher); // the UserRooms and ClientIPInfo pushes
			receiveText(watcher);
			scene.owner.ws.sendText(envelope(mode, "l1", "LeaveRoom", "{}"));
			expectExact(scene.peer.ws, scene.frame("", "RoomDeleted", scene.roomOnly()));
			expectExact(watcher, serverFrame(MODE_BASE64, "", "RoomDeleted", scene.roomOnly()));
			expectExact(scene.owner.ws, scene.frame("l1", "LeaveRoom", scene.roomOnly()));
			scene.peer.ws.sendText(envelope(mode, "j2", "JoinRoom",
			                                strings({{"room_id", scene.room},
			                                         {"password", PASSWORD},
			                                         {"public_key", scene.peer.key},
			                                         {"username", "Alice"}})));
			expectError(scene.peer.ws, mode, "j2", "Room does not exist");
			// The key owns no room any more: it can create another, with a new id.
			scene.owner.ws.sendText(
			    envelope(mode, "c2", "CreateRoom",
			             strings({{"room_name", "Again"}, {"password", PASSWORD}, {"public_key", scene.owner.key}})));
			std::string again = expectFrame(scene.owner.ws, mode, "c2", "RoomCreated",
			                                strings({{"password", PASSWORD},
			                                         {"public_key", scene.owner.key},
			                                         {"room_id", "<ROOM>"},
			                                         {"room_name", "Again"}}))
			                        .at(0);
			CPPUNIT_ASSERT(again != scene.room);
			expectQuiet(scene.peer.ws);
		}
	}

	void testOwnerAuthorityIsTheBoundKey()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			// P's socket claims O's key to delete O's room: refused, nothing happens.
			scene.peer.ws.sendText(
			    envelope(mode, "s1", "LeaveRoom", strings({{"room_id", scene.room}, {"public_key", scene.owner.key}})));
			expectError(scene.peer.ws, mode, "s1", "Public key does not match this connection");
			expectQuiet(scene.owner.ws);
			scene.owner.ws.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", scene.owner.key}})));
			expectFrame(scene.owner.ws, mode, "g1", "UserRooms",
			            "{\"rooms\":[{\"room_id\":\"" + scene.room + "\",\"room_name\":\"" + scene.name +
			                "\",\"is_connected\":true,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
			// A Kick or Rename without public_key from P is judged by P's bound key.
			scene.peer.ws.sendText(
			    envelope(mode, "s2", "Kick", strings({{"room_id", scene.room}, {"target_id", scene.peer.key}})));
			expectError(scene.peer.ws, mode, "s2", "Only room owner can kick users");
			scene.peer.ws.sendText(
			    envelope(mode, "s3", "Rename", strings({{"room_id", scene.room}, {"room_name", "Taken"}})));
			expectError(scene.peer.ws, mode, "s3", "Only room owner can rename the room");
			expectQuiet(scene.owner.ws, 50);
		}
	}

	void testKickByKeyAndByConnectionId()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			Party third(publicKey(keyBase(mode) + 2), "Bob");
			joinRoom(server, mode, third, scene.room, scene.name, {&scene.owner, &scene.peer});

			for (const std::string& target : {scene.peer.key, scene.peer.connection})
			{
				scene.owner.ws.sendText(envelope(
				    mode, "x1", "Kick",
				    strings({{"room_id", scene.room}, {"target_id", target}, {"public_key", scene.owner.key}})));
				expectExact(scene.peer.ws, scene.frame("", "Kicked", scene.roomOnly()));
				expectExact(third.ws, scene.frame("", "PeerLeft", scene.aboutPeer()));
				expectExact(scene.owner.ws, scene.frame("x1", "KickSuccess",
				                                        strings({{"room_id", scene.room}, {"target_id", target}})));
				expectQuiet(scene.owner.ws, 50);

				// The kicked socket stays open; it is no member any more, but may join again.
				CPPUNIT_ASSERT(scene.peer.ws.isOpen());
				scene.peer.ws.sendText(
				    envelope(mode, "k1", "ConnectRoom",
				             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
				expectError(scene.peer.ws, mode, "k1", "You must join this room first");
				joinRoom(server, mode, scene.peer, scene.room, scene.name, {&scene.owner, &third});
			}
		}
	}

	void testKickErrors()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			auto kick = [&](Party& from, const std::string& target, const std::string& error) {
				from.ws.sendText(
				    envelope(mode, "x1", "Kick", strings({{"room_id", scene.room}, {"target_id", target}})));
				expectError(from.ws, mode, "x1", error);
			};
			kick(scene.peer, scene.owner.key, "Only room owner can kick users");
			kick(scene.peer, scene.peer.key, "Only room owner can kick users");
			kick(scene.owner, NO_SUCH_CONNECTION, "Target client not found");
			kick(scene.owner, publicKey(keyBase(mode) + 5), "Target client not found");
			kick(scene.owner, scene.owner.key, "Cannot kick the room owner");
			kick(scene.owner, scene.owner.connection, "Cannot kick the room owner");
			scene.owner.ws.sendText(
			    envelope(mode, "x2", "Kick", strings({{"room_id", NO_SUCH_ROOM}, {"target_id", scene.peer.key}})));
			expectError(scene.owner.ws, mode, "x2", "Room does not exist");
			expectQuiet(scene.peer.ws);

			// An offline member (its socket open but out of the room) kicked by key: the membership
			// goes, and no Kicked is sent since no socket of it is in the room.
			scene.peer.ws.sendText(envelope(mode, "d1", "DisconnectRoom", scene.roomOnly()));
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));
			expectExact(scene.peer.ws, scene.frame("d1", "RoomDisconnected", scene.roomOnly()));
			scene.owner.ws.sendText(
			    envelope(mode, "x3", "Kick", strings({{"room_id", scene.room}, {"target_id", scene.peer.key}})));
			expectExact(scene.owner.ws, scene.frame("x3", "KickSuccess",
			                                        strings({{"room_id", scene.room}, {"target_id", scene.peer.key}})));
			expectQuiet(scene.peer.ws);
			scene.peer.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
			expectError(scene.peer.ws, mode, "k1", "You must join this room first");
			scene.peer.ws.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", scene.peer.key}})));
			expectExact(scene.peer.ws, scene.frame("g1", "UserRooms", "{\"rooms\":[]}"));
		}
	}

	void testRename()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			const std::string renamed = strings({{"room_id", scene.room}, {"room_name", "New Room Name"}});
			scene.owner.ws.sendText(envelope(
			    mode, "r1", "Rename",
			    strings({{"room_id", scene.room}, {"room_name", "New Room Name"}, {"public_key", scene.owner.key}})));
			expectExact(scene.owner.ws, scene.frame("", "RoomRenamed", renamed));
			expectExact(scene.owner.ws, scene.frame("r1", "RenameSuccess", renamed));
			expectExact(scene.peer.ws, scene.frame("", "RoomRenamed", renamed));

			scene.peer.ws.sendText(
			    envelope(mode, "r2", "Rename", strings({{"room_id", scene.room}, {"room_name", "Mine"}})));
			expectError(scene.peer.ws, mode, "r2", "Only room owner can rename the room");
			scene.owner.ws.sendText(
			    envelope(mode, "r3", "Rename", strings({{"room_id", scene.room}, {"room_name", ""}})));
			expectError(scene.owner.ws, mode, "r3", "Invalid room name");
			expectQuiet(scene.peer.ws);

			for (Party* party : {&scene.owner, &scene.peer})
			{
				party->ws.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", party->key}})));
				expectFrame(party->ws, mode, "g1", "UserRooms",
				            "{\"rooms\":[{\"room_id\":\"" + scene.room +
				                "\",\"room_name\":\"New Room Name\",\"is_connected\":true,\"joined_at\":\"<TIME>\","
				                "\"last_connected\":\"<TIME>\"}]}");
			}
		}
	}

	void testOneRoomPerSocket()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode)); // room A: O and P
			Party otherOwner(publicKey(keyBase(mode) + 2), "Owner");
			const std::string otherName = "Other Room";
			std::string otherRoom = createRoom(server, mode, otherOwner, otherName);

			// P, online in A, joins B: it first leaves A (PeerDisconnected to O), then is in B.
			joinRoom(server, mode, scene.peer, otherRoom, otherName, {&otherOwner});
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));

			// A's broadcasts and relays no longer reach P.
			scene.owner.ws.sendText(
			    envelope(mode, "r1", "Rename", strings({{"room_id", scene.room}, {"room_name", "Renamed"}})));
			const std::string renamed = strings({{"room_id", scene.room}, {"room_name", "Renamed"}});
			expectExact(scene.owner.ws, scene.frame("", "RoomRenamed", renamed));
			expectExact(scene.owner.ws, scene.frame("r1", "RenameSuccess", renamed));
			scene.owner.ws.sendText(envelope(
			    mode, "o1", "Offer", fields({{"destination_id", jsonQuote(scene.peer.key)}, {"offer", SDP_JSON}})));
			expectError(scene.owner.ws, mode, "o1", "Target client not found");
			expectQuiet(scene.peer.ws);
			expectQuiet(otherOwner.ws, 50);

			// P is still a member of A: both rooms listed (by joined_at, then room_id), online in B only.
			scene.peer.ws.sendText(envelope(mode, "g1", "GetUserRooms", strings({{"public_key", scene.peer.key}})));
			const std::string frame = receiveText(scene.peer.ws);
			const std::string inner = innerOf(mode, frame);
			CPPUNIT_ASSERT_EQUAL(serverFrame(mode, "g1", "UserRooms", inner), frame);
			const std::string entryA = userRoomPattern(scene.room, "Renamed", false);
			const std::string entryB = userRoomPattern(otherRoom, otherName, true);
			std::smatch match;
			bool aFirst =
			    std::regex_match(inner, match, std::regex("\\{\"rooms\":\\[" + entryA + "," + entryB + "\\]\\}"));
			bool bFirst =
			    !aFirst &&
			    std::regex_match(inner, match, std::regex("\\{\"rooms\":\\[" + entryB + "," + entryA + "\\]\\}"));
			CPPUNIT_ASSERT_MESSAGE(inner, aFirst || bFirst);
			const std::string firstJoined = match[1].str();
			const std::string secondJoined = match[3].str();
			const std::string firstRoom = aFirst ? scene.room : otherRoom;
			const std::string secondRoom = aFirst ? otherRoom : scene.room;
			CPPUNIT_ASSERT_MESSAGE(inner, firstJoined < secondJoined ||
			                                  (firstJoined == secondJoined && firstRoom < secondRoom));

			// ConnectRoom back to A leaves B; creating a room of its own leaves A.
			scene.peer.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
			expectExact(scene.peer.ws, scene.frame("k1", "RoomConnected",
			                                       strings({{"room_id", scene.room}, {"room_name", "Renamed"}})));
			expectPeerEvent(scene.peer, mode, "PeerConnected", scene.owner, scene.room);
			expectPeerEvent(scene.owner, mode, "PeerConnected", scene.peer, scene.room);
			expectExact(otherOwner.ws, scene.frame("", "PeerDisconnected",
			                                       strings({{"public_key", scene.peer.key}, {"room_id", otherRoom}})));
			scene.peer.ws.sendText(
			    envelope(mode, "c1", "CreateRoom",
			             strings({{"room_name", "Own"}, {"password", PASSWORD}, {"public_key", scene.peer.key}})));
			expectFrame(scene.peer.ws, mode, "c1", "RoomCreated",
			            strings({{"password", PASSWORD},
			                     {"public_key", scene.peer.key},
			                     {"room_id", "<ROOM>"},
			                     {"room_name", "Own"}}));
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));
			expectQuiet(otherOwner.ws, 50);
		}
	}

	void testOneSocketPerKeyPerRoom()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			Party second(scene.peer.key, "Alice"); // P's second socket
			connectWs(second.ws, server);
			second.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", second.key}, {"username", "User"}})));
			expectExact(second.ws, scene.frame("k1", "RoomConnected",
			                                   strings({{"room_id", scene.room}, {"room_name", scene.name}})));
			expectPeerEvent(second, mode, "PeerConnected", scene.owner, scene.room);
			// The older socket is displaced with an unsolicited RoomDisconnected; O hears the new one.
			expectExact(scene.peer.ws, scene.frame("", "RoomDisconnected", scene.roomOnly()));
			expectPeerEvent(scene.owner, mode, "PeerConnected", second, scene.room);
			CPPUNIT_ASSERT(second.connection != scene.peer.connection);
			expectQuiet(scene.owner.ws, 50);

			// Relays to P reach the second socket only.
			scene.owner.ws.sendText(envelope(mode, "o1", "Offer",
			                                 fields({{"room_id", jsonQuote(scene.room)},
			                                         {"destination_id", jsonQuote(scene.peer.key)},
			                                         {"offer", SDP_JSON}})));
			expectExact(second.ws, scene.frame("", "Offer",
			                                   fields({{"destination_id", jsonQuote(scene.peer.key)},
			                                           {"offer", SDP_JSON},
			                                           {"public_key", jsonQuote(scene.owner.key)},
			                                           {"room_id", jsonQuote(scene.room)},
			                                           {"source_id", jsonQuote(scene.owner.connection)}})));
			expectQuiet(scene.peer.ws);
			// The displaced socket's old connection id no longer addresses anyone in the room.
			scene.owner.ws.sendText(
			    envelope(mode, "o2", "Offer",
			             fields({{"destination_id", jsonQuote(scene.peer.connection)}, {"offer", SDP_JSON}})));
			expectError(scene.owner.ws, mode, "o2", "Target client not found");
			// It closes without a PeerDisconnected: P is still online through the second socket.
			scene.peer.ws.close();
			expectQuiet(scene.owner.ws);
			pingReply(mode, "p1", second.ws);
		}
	}

	// --- signaling (§8.10) -----------------------------------------------------------------------

	void testOfferByKeyCandidateByConnectionId()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			scene.owner.ws.sendText(envelope(mode, "4e5f6a7b", "Offer",
			                                 fields({{"room_id", jsonQuote(scene.room)},
			                                         {"public_key", jsonQuote(scene.owner.key)},
			                                         {"destination_id", jsonQuote(scene.peer.key)},
			                                         {"offer", SDP_JSON}})));
			expectExact(scene.peer.ws, scene.frame("", "Offer",
			                                       fields({{"destination_id", jsonQuote(scene.peer.key)},
			                                               {"offer", SDP_JSON},
			                                               {"public_key", jsonQuote(scene.owner.key)},
			                                               {"room_id", jsonQuote(scene.room)},
			                                               {"source_id", jsonQuote(scene.owner.connection)}})));
			expectQuiet(scene.owner.ws);

			// By connection id and without public_key: destination_id arrives as the key.
			const std::string candidate = "candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host";
			scene.peer.ws.sendText(envelope(
			    mode, "5f6a7b8c", "Candidate",
			    strings(
			        {{"room_id", scene.room}, {"destination_id", scene.owner.connection}, {"candidate", candidate}})));
			expectExact(scene.owner.ws, scene.frame("", "Candidate",
			                                        strings({{"candidate", candidate},
			                                                 {"destination_id", scene.owner.key},
			                                                 {"public_key", scene.peer.key},
			                                                 {"room_id", scene.room},
			                                                 {"source_id", scene.peer.connection}})));
			expectQuiet(scene.peer.ws);

			// Answer (alphabetically before destination_id), without room_id.
			scene.peer.ws.sendText(envelope(
			    mode, "6a", "Answer", fields({{"destination_id", jsonQuote(scene.owner.key)}, {"answer", SDP_JSON}})));
			expectExact(scene.owner.ws, scene.frame("", "Answer",
			                                        fields({{"answer", SDP_JSON},
			                                                {"destination_id", jsonQuote(scene.owner.key)},
			                                                {"public_key", jsonQuote(scene.peer.key)},
			                                                {"room_id", jsonQuote(scene.room)},
			                                                {"source_id", jsonQuote(scene.peer.connection)}})));
			pingReply(mode, "p1", scene.peer.ws);
		}
	}

	void testSignalWaitsForEarlierRequest()
	{
		// A connection's frames are handled in order: an Offer sent right behind a ConnectRoom
		// (whose membership write takes a while) is relayed after it, never answered "Not
		// connected to any room" ahead of it. (Signals take a fast path when nothing is queued.)
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			scene.peer.ws.close();
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected", scene.aboutPeer()));
			scene.peer.reconnect(server);
			scene.peer.ws.sendText(
			    envelope(mode, "k1", "ConnectRoom",
			             strings({{"room_id", scene.room}, {"public_key", scene.peer.key}, {"username", "User"}})));
			scene.peer.ws.sendText(envelope(mode, "o1", "Offer",
			                                fields({{"room_id", jsonQuote(scene.room)},
			                                        {"public_key", jsonQuote(scene.peer.key)},
			                                        {"destination_id", jsonQuote(scene.owner.key)},
			                                        {"offer", SDP_JSON}})));
			expectExact(scene.peer.ws, scene.frame("k1", "RoomConnected",
			                                       strings({{"room_id", scene.room}, {"room_name", scene.name}})));
			expectPeerEvent(scene.peer, mode, "PeerConnected", scene.owner, scene.room);
			expectPeerEvent(scene.owner, mode, "PeerConnected", scene.peer, scene.room);
			expectExact(scene.owner.ws, scene.frame("", "Offer",
			                                        fields({{"destination_id", jsonQuote(scene.owner.key)},
			                                                {"offer", SDP_JSON},
			                                                {"public_key", jsonQuote(scene.peer.key)},
			                                                {"room_id", jsonQuote(scene.room)},
			                                                {"source_id", jsonQuote(scene.peer.connection)}})));
			expectQuiet(scene.peer.ws);
		}
	}

	void testSpoofedKeyIsRefused()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			for (const char* type : {"Offer", "Answer", "Candidate"})
			{
				const std::string body = type == std::string("Offer")    ? "offer"
				                         : type == std::string("Answer") ? "answer"
				                                                         : "candidate";
				scene.peer.ws.sendText(envelope(mode, "s1", type,
				                                fields({{"room_id", jsonQuote(scene.room)},
				                                        {"public_key", jsonQuote(scene.owner.key)},
				                                        {"destination_id", jsonQuote(scene.owner.key)},
				                                        {body, SDP_JSON}})));
				expectError(scene.peer.ws, mode, "s1", "Public key does not match this connection");
			}
			expectQuiet(scene.owner.ws);
		}
	}

	void testRelayMisses()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			Party offline(publicKey(keyBase(mode) + 2), "Bob");
			joinRoom(server, mode, offline, scene.room, scene.name, {&scene.owner, &scene.peer});
			offline.ws.close();
			expectExact(scene.owner.ws, scene.frame("", "PeerDisconnected",
			                                        strings({{"public_key", offline.key}, {"room_id", scene.room}})));
			expectExact(scene.peer.ws, scene.frame("", "PeerDisconnected",
			                                       strings({{"public_key", offline.key}, {"room_id", scene.room}})));
			Party elsewhere(publicKey(keyBase(mode) + 3), "Owner");
			std::string elsewhereRoom = createRoom(server, mode, elsewhere, "Elsewhere");
			Party scout(publicKey(keyBase(mode) + 5), "Scout"); // learns elsewhere's connection id
			joinRoom(server, mode, scout, elsewhereRoom, "Elsewhere", {&elsewhere});

			auto offer = [&](Party& from, const std::string& destination, const std::string& error,
			                 const std::string& room = "") {
				from.ws.sendText(
				    envelope(mode, "m1", "Offer",
				             room.empty() ? fields({{"destination_id", jsonQuote(destination)}, {"offer", SDP_JSON}})
				                          : fields({{"room_id", jsonQuote(room)},
				                                    {"destination_id", jsonQuote(destination)},
				                                    {"offer", SDP_JSON}})));
				expectError(from.ws, mode, "m1", error);
			};
			const std::string notFound = "Target client not found";
			offer(scene.owner, offline.key, notFound);          // a member, offline
			offer(scene.owner, offline.connection, notFound);   // its closed socket
			offer(scene.owner, elsewhere.key, notFound);        // online in another room
			offer(scene.owner, elsewhere.connection, notFound); // likewise by connection id
			offer(scene.owner, scene.owner.key, notFound);      // oneself
			offer(scene.owner, scene.owner.connection, notFound);
			offer(scene.owner, publicKey(keyBase(mode) + 9), notFound);
			offer(scene.owner, NO_SUCH_CONNECTION, notFound);
			offer(scene.owner, scene.peer.key, "Not connected to this room", NO_SUCH_ROOM);

			Party lonely(publicKey(keyBase(mode) + 4), "");
			connectWs(lonely.ws, server);
			offer(lonely, scene.owner.key, "Not connected to any room");
			offer(lonely, scene.owner.key, "Not connected to any room", scene.room);
			expectQuiet(scene.peer.ws);
			expectQuiet(elsewhere.ws, 50);
			expectQuiet(scout.ws, 50);
		}
	}

	void testRelayMissingFields()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			for (const std::string body : {"offer", "answer", "candidate"})
			{
				std::string type = body;
				type[0] = static_cast<char>(type[0] - 'a' + 'A');
				const std::string error = "Destination ID and " + body + " are required";
				for (const std::string& inner :
				     {fields({{body, SDP_JSON}}), fields({{"destination_id", "\"\""}, {body, SDP_JSON}}),
				      fields({{"destination_id", jsonQuote(scene.peer.key)}}),
				      fields({{"destination_id", jsonQuote(scene.peer.key)}, {body, "\"\""}}),
				      fields({{"destination_id", jsonQuote(scene.peer.key)}, {body, "null"}})})
				{
					scene.owner.ws.sendText(envelope(mode, "m1", type, inner));
					expectError(scene.owner.ws, mode, "m1", error);
				}
			}
			expectQuiet(scene.peer.ws);
		}
	}

	void testRelayBodyTypes()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			Scene scene(server, mode, keyBase(mode));
			// An object body is copied as received, insignificant whitespace removed.
			scene.owner.ws.sendText(envelope(mode, "o1", "Offer",
			                                 fields({{"destination_id", jsonQuote(scene.peer.key)},
			                                         {"offer", "{ \"sdp\" : \"v=0\", \"type\":\"offer\" }"}})));
			expectExact(scene.peer.ws, scene.frame("", "Offer",
			                                       fields({{"destination_id", jsonQuote(scene.peer.key)},
			                                               {"offer", "{\"sdp\":\"v=0\",\"type\":\"offer\"}"},
			                                               {"public_key", jsonQuote(scene.owner.key)},
			                                               {"room_id", jsonQuote(scene.room)},
			                                               {"source_id", jsonQuote(scene.owner.connection)}})));
			// Any other JSON type is the per-type format error.
			for (const std::string& value : {std::string("42"), std::string("[1]"), std::string("true")})
			{
				scene.owner.ws.sendText(envelope(
				    mode, "n1", "Offer", fields({{"destination_id", jsonQuote(scene.peer.key)}, {"offer", value}})));
				expectError(scene.owner.ws, mode, "n1", "Invalid offer request format");
			}
			scene.peer.ws.sendText(envelope(
			    mode, "n2", "Answer", fields({{"destination_id", jsonQuote(scene.owner.key)}, {"answer", "42"}})));
			expectError(scene.peer.ws, mode, "n2", "Invalid answer request format");
			scene.peer.ws.sendText(envelope(
			    mode, "n3", "Candidate", fields({{"destination_id", jsonQuote(scene.owner.key)}, {"candidate", "7"}})));
			expectError(scene.peer.ws, mode, "n3", "Invalid candidate request format");
			expectQuiet(scene.peer.ws);
			expectQuiet(scene.owner.ws, 50);
		}
	}

	// --- Ping and GetUserRooms (§8.8, §8.9) ------------------------------------------------------

	void testPing()
	{
		TestServer server;
		startRooms(server);
		for (Mode mode : MODES)
		{
			WsTestClient client;
			connectWs(client, server);
			// A 19-digit timestamp goes back verbatim (no float rounding); server_timestamp is Unix ns.
			client.sendText(envelope(mode, "2c3d4e5f", "Ping",
			                         fields({{"action", "\"ping\""},
			                                 {"publicKey", jsonQuote(publicKey(keyBase(mode)))},
			                                 {"timestamp", "1751990100123456789"}})));
			const std::int64_t beforeNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
			                                  std::chrono::system_clock::now().time_since_epoch())
			                                  .count();
			std::string serverNs =
			    expectFrame(client, mode, "2c3d4e5f", "Ping",
			                "{\"client_timestamp\":1751990100123456789,\"server_timestamp\":<NUM>,\"status\":\"ok\"}")
			        .at(0);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(serverNs, std::size_t(19), serverNs.size());
			const std::int64_t skewNs = std::stoll(serverNs) - beforeNs;
			CPPUNIT_ASSERT_MESSAGE(serverNs, skewNs > -60000000000LL && skewNs < 60000000000LL);

			client.sendText(envelope(mode, "p2", "Ping", "{}"));
			expectFrame(client, mode, "p2", "Ping",
			            "{\"client_timestamp\":null,\"server_timestamp\":<NUM>,\"status\":\"ok\"}");
			client.sendText("{\"message_id\":\"p3\",\"type\":\"Ping\"}");
			expectError(client, mode, "p3", "Invalid ping format");
			client.sendText(envelope(mode, "p4", "Ping", strings({{"public_key", "x"}})));
			expectError(client, mode, "p4", "Invalid public key format");

			// A valid public_key in a Ping does not bind the socket: GetUserRooms for another key
			// works, and a key with no rooms has an empty list.
			client.sendText(envelope(mode, "p5", "Ping", strings({{"public_key", publicKey(keyBase(mode) + 1)}})));
			expectFrame(client, mode, "p5", "Ping",
			            "{\"client_timestamp\":null,\"server_timestamp\":<NUM>,\"status\":\"ok\"}");
			client.sendText(
			    envelope(mode, "3d4e5f6a", "GetUserRooms", strings({{"public_key", publicKey(keyBase(mode) + 2)}})));
			expectExact(client, serverFrame(mode, "3d4e5f6a", "UserRooms", "{\"rooms\":[]}"));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnRoomsIntegrationTest);
