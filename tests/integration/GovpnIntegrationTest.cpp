//
// GovpnIntegrationTest.cpp
//
// The real switchboard binary with the GoVPN plugin on its own loopback listener: /health and
// /stats, rooms and the signaling relay in the three payload forms, malformed frames, rooms
// surviving a restart on the same data directory, and the Origin check
// (docs/protocols/govpn.md).
//


#include "GovpnTestSupport.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstring>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Govpn;


class GovpnIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnIntegrationTest);
	CPPUNIT_TEST(testHealthAndStats);
	CPPUNIT_TEST(testRoomsAndRelayObjectForm);
	CPPUNIT_TEST(testRoomsAndRelayBase64Form);
	CPPUNIT_TEST(testRoomsAndRelayJsonStringForm);
	CPPUNIT_TEST(testEachRecipientGetsItsOwnMode);
	CPPUNIT_TEST(testMalformedFramesKeepSocketOpen);
	CPPUNIT_TEST(testRoomSurvivesRestart);
	CPPUNIT_TEST(testAllowedOrigins);
	CPPUNIT_TEST_SUITE_END();

public:
	void testHealthAndStats()
	{
		TestServer server;
		startGovpn(server);
		HttpResponse health = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/health");
		CPPUNIT_ASSERT_EQUAL(200, health.status);
		CPPUNIT_ASSERT_EQUAL(std::string("OK"), health.body);
		CPPUNIT_ASSERT_EQUAL(std::string("text/plain; charset=utf-8"), health.header("Content-Type"));

		HttpResponse stats = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/stats");
		CPPUNIT_ASSERT_EQUAL(200, stats.status);
		CPPUNIT_ASSERT_EQUAL(std::string("application/json"), stats.header("Content-Type"));
		const std::string& body = stats.body;
		CPPUNIT_ASSERT_MESSAGE(body, body.rfind("{\"server_stats\":{", 0) == 0 && body.back() == '}');
		for (const char* key :
		     {"start_time", "uptime", "connections_total", "active_connections", "active_rooms", "peak_connections",
		      "peak_rooms", "messages_processed", "version", "last_cleanup_time", "stale_rooms_removed", "config",
		      "max_clients_per_room", "room_expiry_days", "cleanup_interval"})
			CPPUNIT_ASSERT_MESSAGE(std::string(key) + " in " + body,
			                       body.find(std::string("\"") + key + "\":") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(body, body.find("\"allow_all_origins\":true") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(body, body.find("\"max_clients_per_room\":50") != std::string::npos);
	}

	void roomsAndRelay(Mode mode)
	{
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(1);
		const std::string peer = publicKey(2);
		const std::string name = "My VPN Room";

		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		ownerSocket.sendText(
		    envelope(mode, "a1b2c3d4", "CreateRoom",
		             "{\"room_name\":\"" + name + "\",\"password\":\"1234\",\"public_key\":\"" + owner + "\"}"));
		std::string room = expectFrame(ownerSocket, mode, "a1b2c3d4", "RoomCreated",
		                               "{\"password\":\"1234\",\"public_key\":\"" + owner +
		                                   "\",\"room_id\":\"<ROOM>\",\"room_name\":\"" + name + "\"}")
		                       .at(0);

		WsTestClient peerSocket;
		connectWs(peerSocket, server);
		peerSocket.sendText(envelope(mode, "b2c3d4e5", "JoinRoom",
		                             "{\"room_id\":\"" + room + "\",\"password\":\"1234\",\"public_key\":\"" + peer +
		                                 "\",\"username\":\"Alice\"}"));
		expectFrame(peerSocket, mode, "b2c3d4e5", "RoomJoined",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"" + name + "\"}");
		std::string ownerConnection = expectFrame(peerSocket, mode, "", "PeerJoined",
		                                          "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + owner +
		                                              "\",\"room_id\":\"" + room + "\",\"username\":\"Owner\"}")
		                                  .at(0);
		std::string peerConnection = expectFrame(ownerSocket, mode, "", "PeerJoined",
		                                         "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + peer +
		                                             "\",\"room_id\":\"" + room + "\",\"username\":\"Alice\"}")
		                                 .at(0);
		CPPUNIT_ASSERT(ownerConnection != peerConnection);

		// Offer by key: delivered with public_key stamped and source_id = the owner's connection.
		ownerSocket.sendText(envelope(mode, "4e5f6a7b", "Offer",
		                              "{\"room_id\":\"" + room + "\",\"public_key\":\"" + owner +
		                                  "\",\"destination_id\":\"" + peer + "\",\"offer\":\"" + SDP + "\"}"));
		expectFrame(peerSocket, mode, "", "Offer",
		            "{\"destination_id\":\"" + peer + "\",\"offer\":\"" + SDP + "\",\"public_key\":\"" + owner +
		                "\",\"room_id\":\"" + room + "\",\"source_id\":\"" + ownerConnection + "\"}");

		// Candidate by connection id without public_key: destination_id normalised to the key.
		const std::string candidate = "candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host";
		peerSocket.sendText(envelope(mode, "5f6a7b8c", "Candidate",
		                             "{\"room_id\":\"" + room + "\",\"destination_id\":\"" + ownerConnection +
		                                 "\",\"candidate\":\"" + candidate + "\"}"));
		expectFrame(ownerSocket, mode, "", "Candidate",
		            "{\"candidate\":\"" + candidate + "\",\"destination_id\":\"" + owner + "\",\"public_key\":\"" +
		                peer + "\",\"room_id\":\"" + room + "\",\"source_id\":\"" + peerConnection + "\"}");

		// The senders got no reply: the next frame each sees is its Ping reply.
		pingReply(mode, "p1", ownerSocket);
		pingReply(mode, "p2", peerSocket);

		// The plugin's metrics on the admin listener follow (docs/protocols/govpn.md §3).
		std::string metrics = HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body;
		auto value = [&](const std::string& series) { return HttpTestClient::metricValue(metrics, series); };
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(1), value("switchboard_govpn_rooms"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(2), value("switchboard_govpn_online_members"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(1),
		                             value("switchboard_govpn_signals_relayed_total{type=\"Offer\"}"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(1),
		                             value("switchboard_govpn_signals_relayed_total{type=\"Candidate\"}"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(0),
		                             value("switchboard_govpn_signals_relayed_total{type=\"Answer\"}"));
		peerSocket.close();
		expectFrame(ownerSocket, mode, "", "PeerDisconnected",
		            "{\"public_key\":\"" + peer + "\",\"room_id\":\"" + room + "\"}");
		metrics = HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(1), value("switchboard_govpn_online_members"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(metrics, std::int64_t(1), value("switchboard_govpn_rooms"));
	}

	void testRoomsAndRelayObjectForm() { roomsAndRelay(MODE_OBJECT); }

	void testRoomsAndRelayBase64Form() { roomsAndRelay(MODE_BASE64); }

	void testRoomsAndRelayJsonStringForm() { roomsAndRelay(MODE_STRING); }

	void testEachRecipientGetsItsOwnMode()
	{
		// An object-mode owner and a base64-mode joiner (the real client): every frame, direct,
		// broadcast or relayed, is written in its recipient's mode; a spoofed key is refused.
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(7);
		const std::string peer = publicKey(8);
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		ownerSocket.sendText(
		    envelope(MODE_OBJECT, "a1", "CreateRoom",
		             "{\"room_name\":\"Mixed\",\"password\":\"1234\",\"public_key\":\"" + owner + "\"}"));
		std::string room = expectFrame(ownerSocket, MODE_OBJECT, "a1", "RoomCreated",
		                               "{\"password\":\"1234\",\"public_key\":\"" + owner +
		                                   "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Mixed\"}")
		                       .at(0);
		WsTestClient peerSocket;
		connectWs(peerSocket, server);
		peerSocket.sendText(envelope(MODE_BASE64, "b1", "JoinRoom",
		                             "{\"room_id\":\"" + room + "\",\"password\":\"1234\",\"public_key\":\"" + peer +
		                                 "\",\"username\":\"Alice\"}"));
		expectFrame(peerSocket, MODE_BASE64, "b1", "RoomJoined",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"Mixed\"}");
		std::string ownerConnection = expectFrame(peerSocket, MODE_BASE64, "", "PeerJoined",
		                                          "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + owner +
		                                              "\",\"room_id\":\"" + room + "\",\"username\":\"Owner\"}")
		                                  .at(0);
		std::string peerConnection = expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined",
		                                         "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + peer +
		                                             "\",\"room_id\":\"" + room + "\",\"username\":\"Alice\"}")
		                                 .at(0);

		// Offer sent in object form, delivered to the base64 peer in base64, addressed by connection id.
		ownerSocket.sendText(envelope(MODE_OBJECT, "o1", "Offer",
		                              "{\"room_id\":\"" + room + "\",\"destination_id\":\"" + peerConnection +
		                                  "\",\"offer\":{\"sdp\":\"v=0\",\"type\":\"offer\"}}"));
		expectFrame(peerSocket, MODE_BASE64, "", "Offer",
		            "{\"destination_id\":\"" + peer +
		                "\",\"offer\":{\"sdp\":\"v=0\",\"type\":\"offer\"},\"public_key\":\"" + owner +
		                "\",\"room_id\":\"" + room + "\",\"source_id\":\"" + ownerConnection + "\"}");

		// The peer claims the owner's key: refused, nothing is relayed.
		peerSocket.sendText(envelope(MODE_BASE64, "s1", "Answer",
		                             "{\"room_id\":\"" + room + "\",\"public_key\":\"" + owner +
		                                 "\",\"destination_id\":\"" + owner + "\",\"answer\":\"" + SDP + "\"}"));
		expectExact(peerSocket, serverFrame(MODE_BASE64, "s1", "Error",
		                                    "{\"error\":\"Public key does not match this connection\"}"));
		expectQuiet(ownerSocket);

		// An Answer from the base64 peer arrives at the object owner as an object.
		peerSocket.sendText(
		    envelope(MODE_BASE64, "s2", "Answer",
		             "{\"room_id\":\"" + room + "\",\"destination_id\":\"" + owner + "\",\"answer\":\"" + SDP + "\"}"));
		expectFrame(ownerSocket, MODE_OBJECT, "", "Answer",
		            "{\"answer\":\"" + SDP + "\",\"destination_id\":\"" + owner + "\",\"public_key\":\"" + peer +
		                "\",\"room_id\":\"" + room + "\",\"source_id\":\"" + peerConnection + "\"}");
		pingReply(MODE_BASE64, "p1", peerSocket);
	}

	void testMalformedFramesKeepSocketOpen()
	{
		TestServer server;
		startGovpn(server);
		WsTestClient client;
		connectWs(client, server);

		// §17.4, row by row.
		client.sendText("not json");
		expectExact(client, "{\"message_id\":\"\",\"type\":\"Error\",\"payload\":"
		                    "\"eyJlcnJvciI6IkludmFsaWQgbWVzc2FnZSBmb3JtYXQifQ==\"}\n");
		client.sendText("{\"message_id\":\"x1\",\"type\":\"Bogus\",\"payload\":{}}");
		expectExact(client,
		            "{\"message_id\":\"x1\",\"type\":\"Error\",\"payload\":{\"error\":\"Unknown message type\"}}\n");
		client.sendText("{\"message_id\":\"\",\"type\":\"Bogus\"}");
		client.sendText("{\"message_id\":\"x2\",\"type\":\"CreateRoom\",\"payload\":\"%%%\"}");
		expectExact(client, "{\"message_id\":\"x2\",\"type\":\"Error\",\"payload\":"
		                    "\"eyJlcnJvciI6IkludmFsaWQgY3JlYXRlIHJvb20gcmVxdWVzdCBmb3JtYXQifQ==\"}\n");
		pingReply(MODE_BASE64, "p1", client);

		// A numeric message_id: Invalid message format with "" (mode unchanged: object after this Ping).
		pingReply(MODE_OBJECT, "p2", client);
		client.sendText("{\"message_id\":7,\"type\":\"Ping\",\"payload\":{}}");
		expectExact(client, serverFrame(MODE_OBJECT, "", "Error", "{\"error\":\"Invalid message format\"}"));
		// A non-string type: Invalid message format with the id echoed.
		client.sendText("{\"message_id\":\"x3\",\"type\":5,\"payload\":{}}");
		expectExact(client, serverFrame(MODE_OBJECT, "x3", "Error", "{\"error\":\"Invalid message format\"}"));
		// Payloads that are no form at all: the per-type format error, in the current mode.
		client.sendText("{\"message_id\":\"x4\",\"type\":\"CreateRoom\",\"payload\":[123,125]}");
		expectExact(client,
		            serverFrame(MODE_OBJECT, "x4", "Error", "{\"error\":\"Invalid create room request format\"}"));
		client.sendText("{\"message_id\":\"x5\",\"type\":\"JoinRoom\"}");
		expectExact(client,
		            serverFrame(MODE_OBJECT, "x5", "Error", "{\"error\":\"Invalid join room request format\"}"));
		client.sendText("{\"message_id\":\"x6\",\"type\":\"Ping\",\"payload\":null}");
		expectExact(client, serverFrame(MODE_OBJECT, "x6", "Error", "{\"error\":\"Invalid ping format\"}"));
		// A wrongly typed field inside a decodable payload.
		client.sendText(envelope(MODE_OBJECT, "x7", "CreateRoom",
		                         "{\"room_name\":\"R\",\"password\":1234,\"public_key\":\"" + publicKey(3) + "\"}"));
		expectExact(client,
		            serverFrame(MODE_OBJECT, "x7", "Error", "{\"error\":\"Invalid create room request format\"}"));
		// Unpadded base64 ("e30" is {} without its '=').
		client.sendText("{\"message_id\":\"x8\",\"type\":\"GetUserRooms\",\"payload\":\"e30\"}");
		expectExact(client,
		            serverFrame(MODE_BASE64, "x8", "Error", "{\"error\":\"Invalid get user rooms request format\"}"));
		// Lowercase offer is not a type.
		client.sendText("{\"message_id\":\"x9\",\"type\":\"offer\",\"payload\":{}}");
		expectExact(client, serverFrame(MODE_OBJECT, "x9", "Error", "{\"error\":\"Unknown message type\"}"));

		// The socket is still open and answering.
		pingReply(MODE_OBJECT, "p3", client);
		CPPUNIT_ASSERT(client.isOpen());
	}

	void testRoomSurvivesRestart()
	{
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(4);
		const std::string peer = publicKey(5);
		const std::string third = publicKey(6);
		const std::string name = "Kept Room";
		std::string room;
		{
			WsTestClient ownerSocket;
			connectWs(ownerSocket, server);
			ownerSocket.sendText(
			    envelope(MODE_OBJECT, "c1", "CreateRoom",
			             "{\"room_name\":\"" + name + "\",\"password\":\"4321\",\"public_key\":\"" + owner + "\"}"));
			room = expectFrame(ownerSocket, MODE_OBJECT, "c1", "RoomCreated",
			                   "{\"password\":\"4321\",\"public_key\":\"" + owner +
			                       "\",\"room_id\":\"<ROOM>\",\"room_name\":\"" + name + "\"}")
			           .at(0);
			WsTestClient peerSocket;
			connectWs(peerSocket, server);
			peerSocket.sendText(envelope(MODE_OBJECT, "j1", "JoinRoom",
			                             "{\"room_id\":\"" + room + "\",\"password\":\"4321\",\"public_key\":\"" +
			                                 peer + "\",\"username\":\"Alice\"}"));
			expectFrame(peerSocket, MODE_OBJECT, "j1", "RoomJoined",
			            "{\"room_id\":\"" + room + "\",\"room_name\":\"" + name + "\"}");
			ownerSocket.close();
			peerSocket.close();
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		server.start();

		// The owner's real-client handshake: UserRooms (base64, offline after the restart), then
		// ClientIPInfo, then the Ping reply.
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server, {{"X-Client-ID", owner}});
		expectFrame(ownerSocket, MODE_BASE64, "", "UserRooms",
		            "{\"rooms\":[{\"room_id\":\"" + room + "\",\"room_name\":\"" + name +
		                "\",\"is_connected\":false,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
		expectFrame(ownerSocket, MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}");
		pingReply(MODE_BASE64, "p1", ownerSocket);

		// GetUserRooms lists it for the member too.
		WsTestClient peerSocket;
		connectWs(peerSocket, server);
		peerSocket.sendText(envelope(MODE_OBJECT, "g1", "GetUserRooms", "{\"public_key\":\"" + peer + "\"}"));
		expectFrame(peerSocket, MODE_OBJECT, "g1", "UserRooms",
		            "{\"rooms\":[{\"room_id\":\"" + room + "\",\"room_name\":\"" + name +
		                "\",\"is_connected\":false,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
		// The member comes back without the password.
		peerSocket.sendText(
		    envelope(MODE_OBJECT, "k1", "ConnectRoom",
		             "{\"room_id\":\"" + room + "\",\"public_key\":\"" + peer + "\",\"username\":\"User\"}"));
		expectFrame(peerSocket, MODE_OBJECT, "k1", "RoomConnected",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"" + name + "\"}");

		// A new key: a wrong password fails, the right one joins.
		WsTestClient thirdSocket;
		connectWs(thirdSocket, server);
		thirdSocket.sendText(envelope(MODE_OBJECT, "j2", "JoinRoom",
		                              "{\"room_id\":\"" + room + "\",\"password\":\"0000\",\"public_key\":\"" + third +
		                                  "\",\"username\":\"Bob\"}"));
		expectExact(thirdSocket, serverFrame(MODE_OBJECT, "j2", "Error", "{\"error\":\"Incorrect password\"}"));
		thirdSocket.sendText(envelope(MODE_OBJECT, "j3", "JoinRoom",
		                              "{\"room_id\":\"" + room + "\",\"password\":\"4321\",\"public_key\":\"" + third +
		                                  "\",\"username\":\"Bob\"}"));
		expectFrame(thirdSocket, MODE_OBJECT, "j3", "RoomJoined",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"" + name + "\"}");
		expectFrame(thirdSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + peer + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Alice\"}");
		expectFrame(peerSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + third + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Bob\"}");

		// Now the member is online: GetUserRooms says so.
		peerSocket.sendText(envelope(MODE_OBJECT, "g2", "GetUserRooms", "{\"public_key\":\"" + peer + "\"}"));
		expectFrame(peerSocket, MODE_OBJECT, "g2", "UserRooms",
		            "{\"rooms\":[{\"room_id\":\"" + room + "\",\"room_name\":\"" + name +
		                "\",\"is_connected\":true,\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}]}");
		expectQuiet(ownerSocket);
	}

	void testAllowedOrigins()
	{
		TestServer server;
		startGovpn(server, {{"allowed_origins", "http://ok.test"}});
		{
			WsTestClient client;
			HttpResponse response =
			    client.connect(LOOPBACK, server.port("govpn"), "/ws", {{"Origin", "http://evil.test"}}, WAIT_MS);
			CPPUNIT_ASSERT_EQUAL(403, response.status);
			CPPUNIT_ASSERT(!client.isOpen());
		}
		{
			WsTestClient client;
			connectWs(client, server, {{"Origin", "http://ok.test"}});
			pingReply(MODE_OBJECT, "p1", client);
		}
		{
			WsTestClient client;
			connectWs(client, server);
			pingReply(MODE_BASE64, "p2", client);
		}
		HttpResponse stats = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/stats");
		CPPUNIT_ASSERT_MESSAGE(stats.body, stats.body.find("\"allow_all_origins\":false") != std::string::npos);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnIntegrationTest);
