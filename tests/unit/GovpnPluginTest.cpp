//
// GovpnPluginTest.cpp
//
// Unit tests of the GoVPN plugin in FakeHost, asserting the exact frames of
// docs/protocols/govpn.md (§ numbers below are its sections) with the example ids and keys.
//


#include "Codec.h"
#include "GovpnPlugin.h"
#include "switchboard/testing/FakeHost.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::Govpn::GovpnPlugin;


namespace {


const std::string O = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const std::string P = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
const std::string ROOM = "3f9a1c0b7d2e4a68";
const std::string Q = Govpn::base64Encode(std::string(32, '\x07')); // a third key
const std::int64_t EXAMPLE_WALL_MS = 1752005375000;                 // 2025-07-08T20:09:35Z

// §17.1 frames, as the real client sends them and as the server answers (without the "\n").
const std::string CREATE =
    R"({"message_id":"a1b2c3d4","type":"CreateRoom","payload":"eyJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0iLCJyb29tX25hbWUiOiJNeSBWUE4gUm9vbSIsInBhc3N3b3JkIjoiMTIzNCJ9"})";
const std::string CREATED =
    R"({"message_id":"a1b2c3d4","type":"RoomCreated","payload":"eyJwYXNzd29yZCI6IjEyMzQiLCJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0iLCJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik15IFZQTiBSb29tIn0="})";
const std::string JOIN =
    R"({"message_id":"b2c3d4e5","type":"JoinRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInBhc3N3b3JkIjoiMTIzNCIsInB1YmxpY19rZXkiOiJLYXk2NFVHOHl2Q3lMaHFVMDAwTHh6WWVVbTBML2hMSWw1UzhreUtXYmRjPSIsInVzZXJuYW1lIjoiQWxpY2UifQ=="})";
const std::string JOINED =
    R"({"message_id":"b2c3d4e5","type":"RoomJoined","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik15IFZQTiBSb29tIn0="})";
const std::string PEER_JOINED_ALICE =
    R"({"message_id":"","type":"PeerJoined","payload":"eyJjb25uZWN0aW9uX2lkIjoiYy0wZTRiN2MxOWE4ZDJmMzU2IiwicHVibGljX2tleSI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJ1c2VybmFtZSI6IkFsaWNlIn0="})";
const std::string PEER_JOINED_OWNER =
    R"({"message_id":"","type":"PeerJoined","payload":"eyJjb25uZWN0aW9uX2lkIjoiYy01ZDJhOWU3MWIzYzQwZjY4IiwicHVibGljX2tleSI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJ1c2VybmFtZSI6Ik93bmVyIn0="})";
const std::string WRONG_PASSWORD =
    R"({"message_id":"b2c3d4e5","type":"Error","payload":"eyJlcnJvciI6IkluY29ycmVjdCBwYXNzd29yZCJ9"})";
const std::string CONNECT =
    R"({"message_id":"c3d4e5f6","type":"ConnectRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInB1YmxpY19rZXkiOiJLYXk2NFVHOHl2Q3lMaHFVMDAwTHh6WWVVbTBML2hMSWw1UzhreUtXYmRjPSIsInVzZXJuYW1lIjoiVXNlciJ9"})";
const std::string CONNECTED =
    R"({"message_id":"c3d4e5f6","type":"RoomConnected","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik15IFZQTiBSb29tIn0="})";
const std::string PEER_CONNECTED_ALICE =
    R"({"message_id":"","type":"PeerConnected","payload":"eyJjb25uZWN0aW9uX2lkIjoiYy03YTNmMGI5MmQ0MWU2YzU4IiwicHVibGljX2tleSI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJ1c2VybmFtZSI6IkFsaWNlIn0="})";
const std::string PEER_CONNECTED_OWNER =
    R"({"message_id":"","type":"PeerConnected","payload":"eyJjb25uZWN0aW9uX2lkIjoiYy01ZDJhOWU3MWIzYzQwZjY4IiwicHVibGljX2tleSI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJ1c2VybmFtZSI6Ik93bmVyIn0="})";
const std::string DISCONNECT =
    R"({"message_id":"d4e5f6a7","type":"DisconnectRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInB1YmxpY19rZXkiOiJLYXk2NFVHOHl2Q3lMaHFVMDAwTHh6WWVVbTBML2hMSWw1UzhreUtXYmRjPSJ9"})";
const std::string PEER_DISCONNECTED =
    R"({"message_id":"","type":"PeerDisconnected","payload":"eyJwdWJsaWNfa2V5IjoiS2F5NjRVRzh5dkN5TGhxVTAwMEx4elllVW0wTC9oTElsNVM4a3lLV2JkYz0iLCJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string DISCONNECTED =
    R"({"message_id":"d4e5f6a7","type":"RoomDisconnected","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string LEAVE =
    R"({"message_id":"e5f6a7b8","type":"LeaveRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInB1YmxpY19rZXkiOiJLYXk2NFVHOHl2Q3lMaHFVMDAwTHh6WWVVbTBML2hMSWw1UzhreUtXYmRjPSJ9"})";
const std::string PEER_LEFT =
    R"({"message_id":"","type":"PeerLeft","payload":"eyJwdWJsaWNfa2V5IjoiS2F5NjRVRzh5dkN5TGhxVTAwMEx4elllVW0wTC9oTElsNVM4a3lLV2JkYz0iLCJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string LEFT =
    R"({"message_id":"e5f6a7b8","type":"LeaveRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string ROOM_DELETED =
    R"({"message_id":"","type":"RoomDeleted","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string KICK =
    R"({"message_id":"0a1b2c3d","type":"Kick","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInRhcmdldF9pZCI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9IiwicHVibGljX2tleSI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9In0="})";
const std::string KICKED = R"({"message_id":"","type":"Kicked","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})";
const std::string KICK_SUCCESS =
    R"({"message_id":"0a1b2c3d","type":"KickSuccess","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInRhcmdldF9pZCI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9In0="})";
const std::string RENAME =
    R"({"message_id":"1b2c3d4e","type":"Rename","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik5ldyBSb29tIE5hbWUiLCJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0ifQ=="})";
const std::string RENAMED =
    R"({"message_id":"","type":"RoomRenamed","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik5ldyBSb29tIE5hbWUifQ=="})";
const std::string RENAME_SUCCESS =
    R"({"message_id":"1b2c3d4e","type":"RenameSuccess","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInJvb21fbmFtZSI6Ik5ldyBSb29tIE5hbWUifQ=="})";
const std::string PING =
    R"({"message_id":"2c3d4e5f","type":"Ping","payload":"eyJhY3Rpb24iOiJwaW5nIiwicHVibGljS2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0iLCJ0aW1lc3RhbXAiOjE3NTM5MDAwMDAxMjM0NTY3ODl9"})";
const std::string PONG =
    R"({"message_id":"2c3d4e5f","type":"Ping","payload":"eyJjbGllbnRfdGltZXN0YW1wIjoxNzUzOTAwMDAwMTIzNDU2Nzg5LCJzZXJ2ZXJfdGltZXN0YW1wIjoxNzUzOTAwMDAwMjIzNDU2Nzg5LCJzdGF0dXMiOiJvayJ9"})";
const std::string GET_ROOMS =
    R"({"message_id":"3d4e5f6a","type":"GetUserRooms","payload":"eyJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0ifQ=="})";
const std::string USER_ROOMS =
    R"({"message_id":"3d4e5f6a","type":"UserRooms","payload":"eyJyb29tcyI6W3sicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJyb29tX25hbWUiOiJNeSBWUE4gUm9vbSIsImlzX2Nvbm5lY3RlZCI6dHJ1ZSwiam9pbmVkX2F0IjoiMjAyNS0wNy0wOFQyMDowOTozNVoiLCJsYXN0X2Nvbm5lY3RlZCI6IjIwMjUtMDctMDhUMjA6MDk6MzVaIn1dfQ=="})";
const std::string NO_ROOMS_PUSH = R"({"message_id":"","type":"UserRooms","payload":"eyJyb29tcyI6W119"})";
const std::string IP_INFO_PUSH =
    R"({"message_id":"","type":"ClientIPInfo","payload":"eyJpcHY0IjoiMjAzLjAuMTEzLjciLCJpcHY2IjoiIn0="})";
const std::string SHUTDOWN =
    R"({"message_id":"","type":"ServerShutdown","payload":"eyJtZXNzYWdlIjoiU2VydmVyIGlzIHNodXR0aW5nIGRvd24gZm9yIG1haW50ZW5hbmNlIiwic2h1dGRvd25faW5fc2Vjb25kcyI6MiwicmVzdGFydF9pbmZvIjoiU2VydmVyIGlzIGJlaW5nIHJlc3RhcnRlZCBmb3IgbWFpbnRlbmFuY2UuIn0="})";
// §17.2
const std::string OFFER =
    R"({"message_id":"4e5f6a7b","type":"Offer","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInB1YmxpY19rZXkiOiJBNkVIdi9QT0VMNGRjTjBZNTB2QW1XZmsxakNicFExZkhkeUdaQkpWTWJnPSIsImRlc3RpbmF0aW9uX2lkIjoiS2F5NjRVRzh5dkN5TGhxVTAwMEx4elllVW0wTC9oTElsNVM4a3lLV2JkYz0iLCJvZmZlciI6InY9MFxyXG5vPS0gNDYxMTcgMiBJTiBJUDQgMTI3LjAuMC4xXHJcbnM9LVxyXG4ifQ=="})";
const std::string OFFER_DELIVERED =
    R"({"message_id":"","type":"Offer","payload":"eyJkZXN0aW5hdGlvbl9pZCI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwib2ZmZXIiOiJ2PTBcclxubz0tIDQ2MTE3IDIgSU4gSVA0IDEyNy4wLjAuMVxyXG5zPS1cclxuIiwicHVibGljX2tleSI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJzb3VyY2VfaWQiOiJjLTVkMmE5ZTcxYjNjNDBmNjgifQ=="})";
const std::string CANDIDATE =
    R"({"message_id":"5f6a7b8c","type":"Candidate","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsImRlc3RpbmF0aW9uX2lkIjoiYy01ZDJhOWU3MWIzYzQwZjY4IiwiY2FuZGlkYXRlIjoiY2FuZGlkYXRlOjEgMSB1ZHAgMjExMzkzNzE1MSAxOTIuMC4yLjEwIDUwMDAwIHR5cCBob3N0In0="})";
const std::string CANDIDATE_DELIVERED =
    R"({"message_id":"","type":"Candidate","payload":"eyJjYW5kaWRhdGUiOiJjYW5kaWRhdGU6MSAxIHVkcCAyMTEzOTM3MTUxIDE5Mi4wLjIuMTAgNTAwMDAgdHlwIGhvc3QiLCJkZXN0aW5hdGlvbl9pZCI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9IiwicHVibGljX2tleSI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJzb3VyY2VfaWQiOiJjLTBlNGI3YzE5YThkMmYzNTYifQ=="})";
const std::string TARGET_NOT_FOUND =
    R"({"message_id":"4e5f6a7b","type":"Error","payload":"eyJlcnJvciI6IlRhcmdldCBjbGllbnQgbm90IGZvdW5kIn0="})";
// §17.3
const std::string CREATE_OBJECT =
    R"({"message_id":"a1b2c3d4","type":"CreateRoom","payload":{"room_name":"My VPN Room","password":"1234","public_key":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="}})";
const std::string CREATED_OBJECT =
    R"({"message_id":"a1b2c3d4","type":"RoomCreated","payload":{"password":"1234","public_key":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","room_id":"3f9a1c0b7d2e4a68","room_name":"My VPN Room"}})";
const std::string CREATE_STRING =
    R"({"message_id":"a1b2c3d4","type":"CreateRoom","payload":"{\"room_name\":\"My VPN Room\",\"password\":\"1234\",\"public_key\":\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\"}"})";
const std::string CREATED_STRING =
    R"({"message_id":"a1b2c3d4","type":"RoomCreated","payload":"{\"password\":\"1234\",\"public_key\":\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\",\"room_id\":\"3f9a1c0b7d2e4a68\",\"room_name\":\"My VPN Room\"}"})";
const std::string PEER_JOINED_ALICE_OBJECT =
    R"({"message_id":"","type":"PeerJoined","payload":{"connection_id":"c-0e4b7c19a8d2f356","public_key":"Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=","room_id":"3f9a1c0b7d2e4a68","username":"Alice"}})";
// §17.4
const std::string RATE_LIMITED_FRAME =
    R"({"message_id":"b2c3d4e5","type":"Error","payload":"eyJlcnJvciI6IlJhdGUgbGltaXQgZXhjZWVkZWQuIFBsZWFzZSB0cnkgYWdhaW4gbGF0ZXIuIn0="})";
const std::string ALREADY_CREATED =
    R"({"message_id":"a1b2c3d4","type":"Error","payload":"eyJlcnJvciI6IlRoaXMgcHVibGljIGtleSBoYXMgYWxyZWFkeSBjcmVhdGVkIHJvb206IDNmOWExYzBiN2QyZTRhNjgifQ=="})";
// §17.5
const std::string CHALLENGE =
    R"({"message_id":"","type":"AuthChallenge","payload":"eyJub25jZSI6ImdJR0NnNFNGaG9lSWlZcUxqSTJPajVDUmtwT1VsWmFYbUptYW01eWRucDg9In0="})";
const std::string AUTHENTICATE =
    R"({"message_id":"6a7b8c9d","type":"Authenticate","payload":"eyJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0iLCJzaWduYXR1cmUiOiJ1N1ZMd0xTNE8wWDlvZUNpa2pBZzgrNU51MUo5Mk84NzlaZlpzS2lKclF5aVdUR1c5VkVFRFRReGJqdGRiZUhTK29NRmZiMmVBYU5xWDVsUTZxMXZEUT09In0="})";
const std::string AUTHENTICATED =
    R"({"message_id":"6a7b8c9d","type":"Authenticated","payload":"eyJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0ifQ=="})";

const std::string OWNER_SOCKET = "c-5d2a9e71b3c40f68";
const std::string PEER_SOCKET = "c-0e4b7c19a8d2f356";
const std::string PEER_SECOND_SOCKET = "c-7a3f0b92d41e6c58";


std::string errorFrame(const std::string& id, const std::string& error)
{
	std::string frame =
	    Govpn::encodeFrame(id, "Error", R"({"error":)" + Govpn::goQuote(error) + "}", Govpn::PayloadForm::BASE64);
	frame.pop_back(); // the "\n", as Server::sent() strips it
	return frame;
}


std::string objectRequest(const std::string& id, const std::string& type, const std::string& payload)
{
	return R"({"message_id":")" + id + R"(","type":")" + type + R"(","payload":)" + payload + "}";
}


struct Server
/// One FakeHost running the plugin with the example generators of §17.
{
	explicit Server(std::map<std::string, std::string> config = {}, Testing::SqliteTestStorage* storage = nullptr):
	    host("govpn")
	{
		config.emplace("pwhash_opslimit", "1"); // fast hashing in tests
		config.emplace("pwhash_memlimit", "8192");
		config.emplace("shutdown_grace", "0");
		values = config;
		std::string error = host.setConfig(Govpn::govpnDescriptor(), config);
		CPPUNIT_ASSERT_EQUAL(std::string(), error);
		if (storage != nullptr)
			host.setStorage(storage);
		host.setWallMs(EXAMPLE_WALL_MS);
		auto ids = socketIds;
		plugin.setGenerators({[] { return ROOM; },
		                      [ids] {
			                      // the example ids first, then c-f000000000000001, c-f000000000000002, ...
			                      static const char HEX[] = "0123456789abcdef";
			                      if (ids->empty())
			                      {
				                      static std::uint64_t next = 0xf000000000000000ull;
				                      std::uint64_t n = ++next;
				                      std::string id = "c-";
				                      for (int shift = 60; shift >= 0; shift -= 4)
					                      id += HEX[(n >> shift) & 0xF];
				                      return id;
			                      }
			                      std::string id = ids->front();
			                      ids->pop_front();
			                      return id;
		                      },
		                      [] { return std::int64_t(1753900000223456789); },
		                      [] {
			                      std::string nonce;
			                      for (int i = 0; i < 32; ++i)
				                      nonce += static_cast<char>(0x80 + i);
			                      return nonce;
		                      }});
		started = host.start(plugin).status == StartStatus::STARTED;
	}

	ConnectionId connect(const std::string& clientId = "", const std::string& remote = "127.0.0.1:40000",
	                     HeaderList extra = {})
	{
		if (!clientId.empty())
			extra.emplace_back("X-Client-ID", clientId);
		return host.connect("/ws", extra, remote);
	}

	std::vector<std::string> sent(ConnectionId c)
	/// Frames sent since the last call, each without its trailing "\n" (checked here).
	{
		std::vector<std::string> frames;
		for (const SentMessage& m : host.takeSent(c))
		{
			CPPUNIT_ASSERT(m.kind == MessageKind::TEXT);
			CPPUNIT_ASSERT(!m.data.empty() && m.data.back() == '\n');
			frames.push_back(m.data.substr(0, m.data.size() - 1));
			if (std::getenv("GOVPN_TEST_TRACE") != nullptr) // shows every frame when a test needs debugging
				std::fprintf(stderr, "%llu <- %s", static_cast<unsigned long long>(c), m.data.c_str());
		}
		return frames;
	}

	ReconfigureResult reload(const std::map<std::string, std::string>& changes)
	/// A reload (SIGHUP) of the configuration with changes on top of the values in force.
	{
		for (const auto& c : changes)
			values[c.first] = c.second;
		return host.reconfigure(plugin, Govpn::govpnDescriptor(), values);
	}

	std::vector<std::string> ask(ConnectionId c, const std::string& frame)
	{
		host.deliver(c, frame);
		return sent(c);
	}

	void ownerCreatesAndPeerJoins(ConnectionId& owner, ConnectionId& peer)
	{
		owner = connect();
		CPPUNIT_ASSERT(ask(owner, CREATE) == std::vector<std::string>{CREATED});
		peer = connect();
		CPPUNIT_ASSERT(ask(peer, JOIN) == (std::vector<std::string>{JOINED, PEER_JOINED_OWNER}));
		CPPUNIT_ASSERT(sent(owner) == std::vector<std::string>{PEER_JOINED_ALICE});
	}

	std::shared_ptr<std::deque<std::string>> socketIds = std::make_shared<std::deque<std::string>>(
	    std::deque<std::string>{OWNER_SOCKET, PEER_SOCKET, PEER_SECOND_SOCKET});
	std::map<std::string, std::string> values;
	FakeHost host;
	GovpnPlugin plugin;
	bool started = false;
};


std::string ipInfo(const std::string& ipv4)
{
	std::string frame =
	    Govpn::encodeFrame("", "ClientIPInfo", R"({"ipv4":")" + ipv4 + R"(","ipv6":""})", Govpn::PayloadForm::BASE64);
	frame.pop_back();
	return frame;
}


using Frames = std::vector<std::string>;


} // namespace


class GovpnPluginTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnPluginTest);
	CPPUNIT_TEST(testConfigValidated);
	CPPUNIT_TEST(testHealthAndStats);
	CPPUNIT_TEST(testCreateInThreeForms);
	CPPUNIT_TEST(testCreateErrors);
	CPPUNIT_TEST(testJoinExactFrames);
	CPPUNIT_TEST(testJoinErrorsAndCapacity);
	CPPUNIT_TEST(testConnectAfterSocketClose);
	CPPUNIT_TEST(testDisconnect);
	CPPUNIT_TEST(testLeaveByMemberAndOwner);
	CPPUNIT_TEST(testOwnerAuthorityIsTheBoundKey);
	CPPUNIT_TEST(testKick);
	CPPUNIT_TEST(testRename);
	CPPUNIT_TEST(testPingAndUserRooms);
	CPPUNIT_TEST(testConnectTimePushes);
	CPPUNIT_TEST(testMalformedInput);
	CPPUNIT_TEST(testModeTracking);
	CPPUNIT_TEST(testRelay);
	CPPUNIT_TEST(testOneSocketPerKeyPerRoom);
	CPPUNIT_TEST(testRateLimit);
	CPPUNIT_TEST(testLockout);
	CPPUNIT_TEST(testFloodGuard);
	CPPUNIT_TEST(testPersistenceAcrossRestart);
	CPPUNIT_TEST(testExpiry);
	CPPUNIT_TEST(testStrictMode);
	CPPUNIT_TEST(testShutdown);
	CPPUNIT_TEST(testReloadOriginsAndProxies);
	CPPUNIT_TEST(testReloadRateLimitKeepsLevel);
	CPPUNIT_TEST(testReloadFloodGuardKeepsLevel);
	CPPUNIT_TEST(testReloadRoomLimitAndExpiry);
	CPPUNIT_TEST(testReloadFixedKeysNeedRestart);
	CPPUNIT_TEST_SUITE_END();

public:
	void testConfigValidated()
	{
		FakeHost host("govpn");
		CPPUNIT_ASSERT(!host.setConfig(Govpn::govpnDescriptor(), {{"max_members_per_room", "0"}}).empty());
		CPPUNIT_ASSERT(!host.setConfig(Govpn::govpnDescriptor(), {{"bogus", "1"}}).empty());
		CPPUNIT_ASSERT(host.setConfig(Govpn::govpnDescriptor(), {{"trusted_proxies", "not-an-ip"}}).empty());
		GovpnPlugin plugin;
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::FAILED);
	}

	void testHealthAndStats()
	{
		Server s;
		CPPUNIT_ASSERT(s.started);
		HttpResponse health = s.host.request("GET", "/health");
		CPPUNIT_ASSERT_EQUAL(200, health.status);
		CPPUNIT_ASSERT_EQUAL(std::string("OK"), health.body);
		CPPUNIT_ASSERT_EQUAL(std::string("text/plain; charset=utf-8"),
		                     std::string(HttpText::findHeader(health.headers, "Content-Type")));
		HttpResponse stats = s.host.request("GET", "/stats");
		CPPUNIT_ASSERT_EQUAL(std::string("application/json"),
		                     std::string(HttpText::findHeader(stats.headers, "Content-Type")));
		CPPUNIT_ASSERT_EQUAL(
		    std::string(R"({"server_stats":{"start_time":"2025-07-08T20:09:35Z","uptime":0,"connections_total":0,)"
		                R"("active_connections":0,"active_rooms":0,"peak_connections":0,"peak_rooms":0,)"
		                R"("messages_processed":0,"version":"1.0.0","last_cleanup_time":"2025-07-08T20:09:35Z",)"
		                R"("stale_rooms_removed":0},"config":{"max_clients_per_room":50,"room_expiry_days":30,)"
		                R"("cleanup_interval":3600,"allow_all_origins":true}})"),
		    stats.body);
		CPPUNIT_ASSERT(s.host.registrationErrors().empty());
	}

	void testCreateInThreeForms()
	{
		{
			Server s;
			ConnectionId c = s.connect();
			CPPUNIT_ASSERT(s.ask(c, CREATE) == Frames{CREATED});
			CPPUNIT_ASSERT(s.ask(c, CREATE) == Frames{ALREADY_CREATED});
			auto rows = s.host.sqliteStorage()->execute("SELECT password_hash FROM rooms");
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.rows.size());
			std::string hash = valueAsString(rows.rows[0][0]);
			CPPUNIT_ASSERT(hash.rfind("$argon2id$", 0) == 0 && hash.find("1234") == std::string::npos);
		}
		{
			Server s;
			ConnectionId c = s.connect();
			CPPUNIT_ASSERT(s.ask(c, CREATE_OBJECT) == Frames{CREATED_OBJECT});
		}
		{
			Server s;
			ConnectionId c = s.connect();
			CPPUNIT_ASSERT(s.ask(c, CREATE_STRING) == Frames{CREATED_STRING});
		}
		{
			Server s; // a binary frame is read as text; the reply is text
			ConnectionId c = s.connect();
			s.host.deliver(c, CREATE, MessageKind::BINARY);
			CPPUNIT_ASSERT(s.sent(c) == Frames{CREATED});
		}
	}

	void testCreateErrors()
	{
		Server s;
		ConnectionId c = s.connect();
		auto create = [&](const std::string& payload) {
			Frames reply = s.ask(c, objectRequest("x", "CreateRoom", payload));
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), reply.size());
			return reply[0];
		};
		auto error = [](const std::string& text) {
			return Govpn::encodeFrame("x", "Error", R"({"error":")" + text + R"("})", Govpn::PayloadForm::OBJECT)
			    .substr(0, std::string::npos);
		};
		auto trimmed = [](std::string frame) {
			frame.pop_back();
			return frame;
		};
		const std::string required = "Room name, password, and public key are required";
		CPPUNIT_ASSERT_EQUAL(trimmed(error(required)), create(R"({"password":"1234","public_key":")" + O + R"("})"));
		CPPUNIT_ASSERT_EQUAL(trimmed(error("Password does not match required pattern")),
		                     create(R"({"room_name":"r","password":"12a4","public_key":")" + O + R"("})"));
		CPPUNIT_ASSERT_EQUAL(trimmed(error("Invalid create room request format")),
		                     create(R"({"room_name":"r","password":1234,"public_key":")" + O + R"("})"));
		CPPUNIT_ASSERT_EQUAL(trimmed(error("Rate limit exceeded. Please try again later.")),
		                     create(R"({"room_name":"r","password":"1234","public_key":")" + O + R"("})"));
	}

	void testJoinExactFrames()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		CPPUNIT_ASSERT(!s.host.logged("ERROR")); // no blocking storage call on a loop, nothing thrown
	}

	void testJoinErrorsAndCapacity()
	{
		Server s({{"max_members_per_room", "2"}, {"rate_limit_burst", "100"}});
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		ConnectionId third = s.connect();
		const std::string wrongPassword =
		    R"({"room_id":"3f9a1c0b7d2e4a68","password":"9999","public_key":")" + P + R"(","username":"Alice"})";
		CPPUNIT_ASSERT(s.ask(peer, objectRequest("w", "JoinRoom", wrongPassword)) ==
		               Frames{R"({"message_id":"w","type":"Error","payload":{"error":"Incorrect password"}})"});
		CPPUNIT_ASSERT(s.ask(peer, R"({"message_id":"b2c3d4e5","type":"JoinRoom","payload":")" +
		                               Govpn::base64Encode(wrongPassword) + "\"}") == Frames{WRONG_PASSWORD});
		for (const char* room : {"0000000000000000", "ABC"})
			CPPUNIT_ASSERT(s.ask(third, objectRequest("r", "JoinRoom",
			                                          std::string(R"({"room_id":")") + room +
			                                              R"(","password":"1234","public_key":")" + Q + R"("})")) ==
			               Frames{R"({"message_id":"r","type":"Error","payload":{"error":"Room does not exist"}})"});
		CPPUNIT_ASSERT(
		    s.ask(third, objectRequest("k", "JoinRoom", R"({"room_id":"3f9a1c0b7d2e4a68","password":"1234"})")) ==
		    Frames{R"({"message_id":"k","type":"Error","payload":{"error":"Public key is required"}})"});
		CPPUNIT_ASSERT(s.ask(third, objectRequest("f", "JoinRoom",
		                                          R"({"room_id":"3f9a1c0b7d2e4a68","password":"1234","public_key":")" +
		                                              Q + R"("})")) ==
		               Frames{R"({"message_id":"f","type":"Error","payload":{"error":"Room is full"}})"});
		// P joins again: a re-entry, RoomJoined and PeerJoined about the owner; the owner hears nothing.
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == (Frames{JOINED, PEER_JOINED_OWNER}));
		CPPUNIT_ASSERT(s.sent(owner).empty());
	}

	void testConnectAfterSocketClose()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		s.host.disconnect(peer);
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_DISCONNECTED});
		ConnectionId second = s.connect();
		CPPUNIT_ASSERT(s.ask(second, CONNECT) == (Frames{CONNECTED, PEER_CONNECTED_OWNER}));
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_CONNECTED_ALICE});
		ConnectionId stranger = s.connect();
		CPPUNIT_ASSERT(
		    s.ask(stranger,
		          objectRequest("j", "ConnectRoom",
		                        R"({"room_id":"3f9a1c0b7d2e4a68","username":"User","public_key":")" + Q + R"("})")) ==
		    Frames{R"({"message_id":"j","type":"Error","payload":{"error":"You must join this room first"}})"});
	}

	void testDisconnect()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		CPPUNIT_ASSERT(s.ask(peer, DISCONNECT) == Frames{DISCONNECTED});
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_DISCONNECTED});
		CPPUNIT_ASSERT(s.ask(peer, DISCONNECT) == Frames{errorFrame("d4e5f6a7", "Not connected to any room")});
		CPPUNIT_ASSERT(s.ask(owner, objectRequest("n", "DisconnectRoom", R"({"room_id":"0000000000000000"})")) ==
		               Frames{R"({"message_id":"n","type":"Error","payload":{"error":"Not connected to this room"}})"});
	}

	void testLeaveByMemberAndOwner()
	{
		Server s(std::map<std::string, std::string>{{"rate_limit_burst", "100"}});
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		CPPUNIT_ASSERT(s.ask(peer, LEAVE) == Frames{LEFT});
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_LEFT});
		CPPUNIT_ASSERT(s.ask(peer, CONNECT) == Frames{errorFrame("c3d4e5f6", "You must join this room first")});
		CPPUNIT_ASSERT(s.ask(peer, LEAVE) == Frames{LEFT}); // idempotent
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == (Frames{JOINED, PEER_JOINED_OWNER}));
		s.sent(owner);
		CPPUNIT_ASSERT(s.ask(owner, objectRequest("o", "LeaveRoom", "{}")) ==
		               Frames{R"({"message_id":"o","type":"LeaveRoom","payload":{"room_id":"3f9a1c0b7d2e4a68"}})"});
		CPPUNIT_ASSERT(s.sent(peer) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.ask(owner, CREATE) == Frames{CREATED}); // O can create a new room
	}

	void testOwnerAuthorityIsTheBoundKey()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("s", "LeaveRoom", R"({"public_key":")" + O + R"("})")) ==
		    Frames{
		        R"({"message_id":"s","type":"Error","payload":{"error":"Public key does not match this connection"}})"});
		CPPUNIT_ASSERT(s.sent(owner).empty());
		CPPUNIT_ASSERT(
		    s.ask(peer,
		          objectRequest("t", "Offer",
		                        R"({"destination_id":")" + O + R"(","offer":"x","public_key":")" + O + R"("})")) ==
		    Frames{
		        R"({"message_id":"t","type":"Error","payload":{"error":"Public key does not match this connection"}})"});
	}

	void testKick()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		s.host.deliver(owner, KICK);
		CPPUNIT_ASSERT(s.sent(peer) == Frames{KICKED});
		CPPUNIT_ASSERT(s.sent(owner) == Frames{KICK_SUCCESS});
		CPPUNIT_ASSERT(s.host.isOpen(peer));
		CPPUNIT_ASSERT(s.ask(peer, CONNECT) == Frames{errorFrame("c3d4e5f6", "You must join this room first")});
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == (Frames{JOINED, PEER_JOINED_OWNER}));
		s.sent(owner);
		CPPUNIT_ASSERT(
		    s.ask(owner,
		          objectRequest("u", "Kick", R"({"room_id":"3f9a1c0b7d2e4a68","target_id":"c-0000000000000000"})")) ==
		    Frames{R"({"message_id":"u","type":"Error","payload":{"error":"Target client not found"}})"});
		CPPUNIT_ASSERT(
		    s.ask(owner, objectRequest("v", "Kick", R"({"room_id":"3f9a1c0b7d2e4a68","target_id":")" + O + R"("})")) ==
		    Frames{R"({"message_id":"v","type":"Error","payload":{"error":"Cannot kick the room owner"}})"});
		// by connection id: KickSuccess echoes it
		CPPUNIT_ASSERT(
		    s.ask(owner, objectRequest("w", "Kick",
		                               R"({"room_id":"3f9a1c0b7d2e4a68","target_id":")" + PEER_SOCKET + R"("})")) ==
		    Frames{R"({"message_id":"w","type":"KickSuccess","payload":{"room_id":"3f9a1c0b7d2e4a68","target_id":")" +
		           PEER_SOCKET + R"("}})"});
		CPPUNIT_ASSERT(s.sent(peer) == Frames{KICKED});
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("p", "Kick", R"({"room_id":"3f9a1c0b7d2e4a68","target_id":")" + O + R"("})")) ==
		    Frames{R"({"message_id":"p","type":"Error","payload":{"error":"Only room owner can kick users"}})"});
	}

	void testRename()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		s.host.deliver(owner, RENAME);
		CPPUNIT_ASSERT(s.sent(owner) == (Frames{RENAMED, RENAME_SUCCESS}));
		CPPUNIT_ASSERT(s.sent(peer) == Frames{RENAMED});
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("r", "Rename", R"({"room_id":"3f9a1c0b7d2e4a68","room_name":"x"})")) ==
		    Frames{R"({"message_id":"r","type":"Error","payload":{"error":"Only room owner can rename the room"}})"});
		CPPUNIT_ASSERT(s.ask(owner, objectRequest("e", "Rename", R"({"room_id":"3f9a1c0b7d2e4a68","room_name":""})")) ==
		               Frames{R"({"message_id":"e","type":"Error","payload":{"error":"Invalid room name"}})"});
		Frames rooms = s.ask(owner, objectRequest("g", "GetUserRooms", R"({"public_key":")" + O + R"("})"));
		CPPUNIT_ASSERT(rooms.size() == 1 && rooms[0].find("New Room Name") != std::string::npos);
	}

	void testPingAndUserRooms()
	{
		Server s;
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
		CPPUNIT_ASSERT(
		    s.ask(c, objectRequest("p", "Ping", "{}")) ==
		    Frames{
		        R"({"message_id":"p","type":"Ping","payload":{"client_timestamp":null,"server_timestamp":1753900000223456789,"status":"ok"}})"});
		CPPUNIT_ASSERT(
		    s.ask(c, R"({"message_id":"q","type":"Ping"})") ==
		    Frames{
		        R"({"message_id":"q","type":"Error","payload":{"error":"Invalid ping format"}})"}); // mode stays object
		CPPUNIT_ASSERT(s.ask(c, objectRequest("k", "Ping", R"({"public_key":"x"})")) ==
		               Frames{R"({"message_id":"k","type":"Error","payload":{"error":"Invalid public key format"}})"});
		CPPUNIT_ASSERT(s.ask(c, objectRequest("g", "GetUserRooms", R"({"public_key":")" + O + R"("})")) ==
		               Frames{R"({"message_id":"g","type":"UserRooms","payload":{"rooms":[]}})"});
		CPPUNIT_ASSERT(s.ask(c, CREATE) == Frames{CREATED});
		CPPUNIT_ASSERT(s.ask(c, GET_ROOMS) == Frames{USER_ROOMS});
	}

	void testConnectTimePushes()
	{
		Server s;
		ConnectionId c = s.connect(O, "203.0.113.7:5000");
		CPPUNIT_ASSERT(s.sent(c) == (Frames{NO_ROOMS_PUSH, IP_INFO_PUSH}));
		CPPUNIT_ASSERT(s.ask(c, CREATE) == Frames{CREATED});
		ConnectionId again = s.connect(O, "[::1]:5000");
		Frames pushes = s.sent(again);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), pushes.size());
		CPPUNIT_ASSERT(pushes[0].find(R"("type":"UserRooms")") != std::string::npos);
		CPPUNIT_ASSERT(pushes[0] != NO_ROOMS_PUSH);
		CPPUNIT_ASSERT_EQUAL(
		    Govpn::encodeFrame("", "ClientIPInfo", R"({"ipv4":"","ipv6":"::1"})", Govpn::PayloadForm::BASE64),
		    pushes[1] + "\n");
		ConnectionId none = s.connect("not-a-key");
		CPPUNIT_ASSERT(s.sent(none).empty());
	}

	void testMalformedInput()
	{
		Server s;
		ConnectionId c = s.connect();
		CPPUNIT_ASSERT(
		    s.ask(c, "not json") ==
		    Frames{R"({"message_id":"","type":"Error","payload":"eyJlcnJvciI6IkludmFsaWQgbWVzc2FnZSBmb3JtYXQifQ=="})"});
		CPPUNIT_ASSERT(s.ask(c, R"({"message_id":"x1","type":"Bogus","payload":{}})") ==
		               Frames{R"({"message_id":"x1","type":"Error","payload":{"error":"Unknown message type"}})"});
		CPPUNIT_ASSERT(s.ask(c, R"({"message_id":"","type":"Bogus"})").empty());
		CPPUNIT_ASSERT(
		    s.ask(c, R"({"message_id":"x2","type":"CreateRoom","payload":"%%%"})") ==
		    Frames{
		        R"({"message_id":"x2","type":"Error","payload":"eyJlcnJvciI6IkludmFsaWQgY3JlYXRlIHJvb20gcmVxdWVzdCBmb3JtYXQifQ=="})"});
		CPPUNIT_ASSERT(s.ask(c, R"({"message_id":5,"type":"Ping","payload":"e30="})") ==
		               Frames{errorFrame("", "Invalid message format")});
		for (const char* type : {"Delete", "LeaveRoomSuccess", "offer", "Authenticate"})
			CPPUNIT_ASSERT(s.ask(c, std::string(R"({"message_id":"u","type":")") + type + R"(","payload":"e30="})") ==
			               Frames{errorFrame("u", "Unknown message type")});
		CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
		CPPUNIT_ASSERT(s.host.isOpen(c));
		s.host.deliver(c, std::string(70000, 'x'));
		CPPUNIT_ASSERT(!s.host.isOpen(c));
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1009), s.host.closeOf(c)->first);
	}

	void testModeTracking()
	{
		Server s;
		ConnectionId owner = s.connect();
		CPPUNIT_ASSERT(s.ask(owner, CREATE_OBJECT) == Frames{CREATED_OBJECT});
		ConnectionId peer = s.connect();
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == (Frames{JOINED, PEER_JOINED_OWNER}));
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_JOINED_ALICE_OBJECT});
		CPPUNIT_ASSERT(s.ask(owner, PING) == Frames{PONG}); // back to base64
	}

	void testRelay()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		CPPUNIT_ASSERT(s.ask(owner, OFFER).empty());
		CPPUNIT_ASSERT(s.sent(peer) == Frames{OFFER_DELIVERED});
		CPPUNIT_ASSERT(s.ask(peer, CANDIDATE).empty());
		CPPUNIT_ASSERT(s.sent(owner) == Frames{CANDIDATE_DELIVERED});
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.host.counterValue("signals_relayed_total", {{"type", "Offer"}}));
		// an object body is copied as received
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("o", "Answer",
		                              R"({"destination_id":")" + O + R"(","answer":{ "sdp":"v=0", "type":"answer" }})"))
		        .empty());
		Frames answer = s.sent(owner);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), answer.size());
		CPPUNIT_ASSERT_EQUAL(
		    Govpn::encodeFrame("", "Answer",
		                       R"({"answer":{"sdp":"v=0","type":"answer"},"destination_id":")" + O +
		                           R"(","public_key":")" + P +
		                           R"(","room_id":"3f9a1c0b7d2e4a68","source_id":"c-0e4b7c19a8d2f356"})",
		                       Govpn::PayloadForm::BASE64),
		    answer[0] + "\n");
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("n", "Offer", R"({"destination_id":")" + O + R"(","offer":42})")) ==
		    Frames{R"({"message_id":"n","type":"Error","payload":{"error":"Invalid offer request format"}})"});
		CPPUNIT_ASSERT(
		    s.ask(peer, objectRequest("m", "Candidate", R"({"destination_id":")" + O + R"(","candidate":""})")) ==
		    Frames{
		        R"({"message_id":"m","type":"Error","payload":{"error":"Destination ID and candidate are required"}})"});
		CPPUNIT_ASSERT(s.ask(peer, objectRequest("s", "Offer", R"({"destination_id":")" + P + R"(","offer":"x"})")) ==
		               Frames{R"({"message_id":"s","type":"Error","payload":{"error":"Target client not found"}})"});
		CPPUNIT_ASSERT(s.ask(peer, objectRequest("r", "Offer",
		                                         R"({"destination_id":")" + O +
		                                             R"(","offer":"x","room_id":"0000000000000000"})")) ==
		               Frames{R"({"message_id":"r","type":"Error","payload":{"error":"Not connected to this room"}})"});
		s.host.disconnect(peer);
		s.sent(owner);
		CPPUNIT_ASSERT(s.ask(owner, OFFER) == Frames{TARGET_NOT_FOUND});
		ConnectionId lonely = s.connect();
		CPPUNIT_ASSERT(s.ask(lonely, objectRequest("l", "Offer", R"({"destination_id":")" + O + R"(","offer":"x"})")) ==
		               Frames{R"({"message_id":"l","type":"Error","payload":{"error":"Not connected to any room"}})"});
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}

	void testOneSocketPerKeyPerRoom()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		ConnectionId second = s.connect();
		CPPUNIT_ASSERT(s.ask(second, CONNECT) == (Frames{CONNECTED, PEER_CONNECTED_OWNER}));
		CPPUNIT_ASSERT(
		    s.sent(peer) ==
		    Frames{
		        R"({"message_id":"","type":"RoomDisconnected","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})"});
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_CONNECTED_ALICE});
		s.host.deliver(owner, OFFER);
		CPPUNIT_ASSERT(s.sent(peer).empty());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.sent(second).size());
	}

	void testRateLimit()
	{
		Server s;
		ConnectionId c = s.connect();
		for (int i = 0; i < 3; ++i)
			CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{errorFrame("b2c3d4e5", "Room does not exist")});
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{RATE_LIMITED_FRAME});
		ConnectionId other = s.connect("", "198.51.100.1:1000"); // another IP, another bucket
		CPPUNIT_ASSERT(s.ask(other, JOIN) == Frames{errorFrame("b2c3d4e5", "Room does not exist")});
		s.host.advance(20000);
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{errorFrame("b2c3d4e5", "Room does not exist")});
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{RATE_LIMITED_FRAME});
		CPPUNIT_ASSERT(s.host.counterValue("rate_limited_total") >= 2);
	}

	void testLockout()
	{
		Server s(std::map<std::string, std::string>{{"rate_limit_burst", "1000"}});
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		s.host.disconnect(peer);
		ConnectionId guesser = s.connect();
		const std::string wrong = objectRequest(
		    "g", "JoinRoom", R"({"room_id":"3f9a1c0b7d2e4a68","password":"0000","public_key":")" + Q + R"("})");
		const std::string right = objectRequest(
		    "g", "JoinRoom", R"({"room_id":"3f9a1c0b7d2e4a68","password":"1234","public_key":")" + Q + R"("})");
		const Frames incorrect{R"({"message_id":"g","type":"Error","payload":{"error":"Incorrect password"}})"};
		const Frames limited{
		    R"({"message_id":"g","type":"Error","payload":{"error":"Rate limit exceeded. Please try again later."}})"};
		for (int i = 0; i < 5; ++i)
			CPPUNIT_ASSERT(s.ask(guesser, wrong) == incorrect);
		CPPUNIT_ASSERT(s.ask(guesser, right) == limited);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.host.counterValue("lockouts_total"));
		ConnectionId member = s.connect(); // members still connect during a lockout
		CPPUNIT_ASSERT(s.ask(member, CONNECT).size() == 2);
		s.host.advance(900 * 1000);
		for (int i = 0; i < 5; ++i)
			CPPUNIT_ASSERT(s.ask(guesser, wrong) == incorrect);
		s.host.advance(900 * 1000); // the second lockout lasts 30 minutes
		CPPUNIT_ASSERT(s.ask(guesser, right) == limited);
		s.host.advance(900 * 1000);
		Frames joined = s.ask(guesser, right);
		CPPUNIT_ASSERT(!joined.empty() && joined[0].find("RoomJoined") != std::string::npos);
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}

	void testFloodGuard()
	{
		Server s;
		ConnectionId c = s.connect();
		for (int i = 0; i < 2000; ++i)
			s.host.deliver(c, PING);
		Frames replies = s.sent(c);
		std::size_t errors = 0;
		for (const std::string& f : replies)
			errors += f.find(R"("type":"Error")") != std::string::npos ? 1 : 0;
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), errors);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1001), replies.size());
		s.host.advance(1000);
		CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
	}

	void testPersistenceAcrossRestart()
	{
		Testing::SqliteTestStorage storage;
		{
			Server s({}, &storage);
			ConnectionId owner = 0, peer = 0;
			s.ownerCreatesAndPeerJoins(owner, peer);
			s.host.stop(s.plugin);
		}
		Server s({}, &storage);
		CPPUNIT_ASSERT(s.started);
		ConnectionId owner = s.connect(O);
		Frames pushes = s.sent(owner);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), pushes.size());
		CPPUNIT_ASSERT_EQUAL(
		    Govpn::encodeFrame(
		        "", "UserRooms",
		        R"({"rooms":[{"room_id":"3f9a1c0b7d2e4a68","room_name":"My VPN Room","is_connected":false,)"
		        R"("joined_at":"2025-07-08T20:09:35Z","last_connected":"2025-07-08T20:09:35Z"}]})",
		        Govpn::PayloadForm::BASE64),
		    pushes[0] + "\n");
		ConnectionId peer = s.connect();
		CPPUNIT_ASSERT(s.ask(peer, CONNECT) == (Frames{CONNECTED}));
		ConnectionId third = s.connect(); // P again, with the password: the first socket is displaced
		CPPUNIT_ASSERT(s.ask(third, JOIN) == Frames{JOINED});
		CPPUNIT_ASSERT(
		    s.sent(peer) ==
		    Frames{
		        R"({"message_id":"","type":"RoomDisconnected","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCJ9"})"});
		ConnectionId fourth = s.connect();
		CPPUNIT_ASSERT(s.ask(fourth, objectRequest("w", "JoinRoom",
		                                           R"({"room_id":"3f9a1c0b7d2e4a68","password":"9999","public_key":")" +
		                                               Q + R"("})")) ==
		               Frames{R"({"message_id":"w","type":"Error","payload":{"error":"Incorrect password"}})"});
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}


	void testExpiry()
	{
		Server s;
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		ConnectionId bound = s.connect(P); // P's other socket, not in the room
		s.sent(bound);
		s.host.advance(29 * 86400000LL);
		s.host.deliver(owner, RENAME); // activity at day 29
		s.sent(owner);
		s.sent(peer);
		s.host.advance(2 * 86400000LL);
		CPPUNIT_ASSERT(s.sent(owner).empty()); // alive at day 31
		s.host.advance(29 * 86400000LL);
		CPPUNIT_ASSERT(s.sent(owner) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.sent(peer) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.sent(bound) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.host.request("GET", "/stats").body.find(R"("stale_rooms_removed":1)") != std::string::npos);
		auto rows = s.host.sqliteStorage()->execute("SELECT COUNT(*) FROM memberships");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), valueAsInt(rows.rows[0][0]));
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}

	void testStrictMode()
	{
		Server s({{"strict_auth", "true"}, {"strict_auth_host", "127.0.0.1:8080"}});
		ConnectionId c = s.connect(O);
		CPPUNIT_ASSERT(s.sent(c) == Frames{CHALLENGE});
		CPPUNIT_ASSERT(s.ask(c, CREATE) == Frames{errorFrame("a1b2c3d4", "Authentication required")});
		CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
		Frames reply = s.ask(c, AUTHENTICATE);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), reply.size());
		CPPUNIT_ASSERT_EQUAL(AUTHENTICATED, reply[0]);
		CPPUNIT_ASSERT_EQUAL(NO_ROOMS_PUSH, reply[1]);
		CPPUNIT_ASSERT(
		    s.ask(c, objectRequest("p", "Authenticate", R"({"public_key":")" + P + R"(","signature":"x"})")) ==
		    Frames{
		        R"({"message_id":"p","type":"Error","payload":{"error":"Public key does not match this connection"}})"});
		ConnectionId wrongHost = s.connect();
		s.sent(wrongHost);
		s.host.advance(10);
		Server t({{"strict_auth", "true"}, {"strict_auth_host", "example.com"}});
		ConnectionId d = t.connect();
		t.sent(d);
		CPPUNIT_ASSERT(t.ask(d, AUTHENTICATE) == Frames{errorFrame("6a7b8c9d", "Invalid signature")});
		t.host.advance(30000);
		CPPUNIT_ASSERT(!t.host.isOpen(d));
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1008), t.host.closeOf(d)->first);
	}

	void testShutdown()
	{
		Server s(std::map<std::string, std::string>{{"shutdown_grace", "2"}}); // the §17.1 frame says 2
		ConnectionId owner = 0, peer = 0;
		s.ownerCreatesAndPeerJoins(owner, peer);
		ConnectionId idle = s.connect();
		std::int64_t before = s.host.monotonicMs();
		s.host.stop(s.plugin);
		// The grace is the host's wait (Host::holdConnectionsOpen), not a sleep in stopping().
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2000), s.host.connectionsHeldOpenMs());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2000), s.host.monotonicMs() - before);
		CPPUNIT_ASSERT(s.sent(owner) == Frames{SHUTDOWN});
		CPPUNIT_ASSERT(s.sent(idle) == Frames{SHUTDOWN});
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1001), s.host.closeOf(idle)->first);
		auto rows = s.host.sqliteStorage()->execute("SELECT COUNT(*) FROM memberships WHERE is_connected = 1");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), valueAsInt(rows.rows[0][0]));
	}

	// --- reload (SIGHUP) -----------------------------------------------------------------------

	void testReloadOriginsAndProxies()
	{
		Server s(std::map<std::string, std::string>{{"allowed_origins", "https://a.test"}});
		ConnectionId first =
		    s.connect(O, "10.0.0.1:4000", {{"Origin", "https://a.test"}, {"X-Real-IP", "203.0.113.7"}});
		CPPUNIT_ASSERT(first != 0);
		Frames pushed = s.sent(first);
		CPPUNIT_ASSERT(pushed.size() == 2 && pushed[1] == ipInfo("10.0.0.1")); // the header is not believed
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.connect("", "127.0.0.1:4001", {{"Origin", "https://b.test"}}));
		CPPUNIT_ASSERT_EQUAL(403, s.host.lastRejectStatus());

		ReconfigureResult r =
		    s.reload({{"allowed_origins", "https://a.test, https://b.test"}, {"trusted_proxies", "10.0.0.0/8"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		ConnectionId second =
		    s.connect(P, "10.0.0.2:4000", {{"Origin", "https://b.test"}, {"X-Real-IP", "203.0.113.7"}});
		CPPUNIT_ASSERT(second != 0);
		pushed = s.sent(second);
		CPPUNIT_ASSERT(pushed.size() == 2 && pushed[1] == ipInfo("203.0.113.7"));
		CPPUNIT_ASSERT(s.host.request("GET", "/stats").body.find(R"("allow_all_origins":false)") != std::string::npos);
		// The connection made before the reload is served as before.
		CPPUNIT_ASSERT(s.host.isOpen(first));
		CPPUNIT_ASSERT(s.ask(first, CREATE) == Frames{CREATED});
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}

	void testReloadRateLimitKeepsLevel()
	{
		Server s;
		ConnectionId c = s.connect();
		const Frames missing{errorFrame("b2c3d4e5", "Room does not exist")};
		for (int i = 0; i < 3; ++i)
			CPPUNIT_ASSERT(s.ask(c, JOIN) == missing);
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{RATE_LIMITED_FRAME});
		s.host.advance(10000); // half a token at the start rate

		ReconfigureResult r = s.reload({{"rate_limit_burst", "10"}, {"rate_limit_refill", "2"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		// The empty bucket stays empty: a larger capacity refills nothing by itself.
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{RATE_LIMITED_FRAME});
		s.host.advance(1000); // the half token from before plus half a token at the new rate
		CPPUNIT_ASSERT(s.ask(c, JOIN) == missing);
		CPPUNIT_ASSERT(s.ask(c, JOIN) == Frames{RATE_LIMITED_FRAME});

		// Tightened: a bucket holding 9 tokens keeps 1, the new capacity.
		ConnectionId other = s.connect("", "198.51.100.1:1000");
		CPPUNIT_ASSERT(s.ask(other, JOIN) == missing);
		r = s.reload({{"rate_limit_burst", "1"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		CPPUNIT_ASSERT(s.ask(other, JOIN) == missing);
		CPPUNIT_ASSERT(s.ask(other, JOIN) == Frames{RATE_LIMITED_FRAME});
		ConnectionId third = s.connect("", "198.51.100.2:1000");
		CPPUNIT_ASSERT(s.ask(third, JOIN) == missing);
		CPPUNIT_ASSERT(s.ask(third, JOIN) == Frames{RATE_LIMITED_FRAME});
	}

	void testReloadFloodGuardKeepsLevel()
	{
		Server s({{"message_rate", "1"}, {"message_burst", "3"}});
		ConnectionId c = s.connect();
		for (int i = 0; i < 3; ++i)
			CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
		CPPUNIT_ASSERT(s.ask(c, PING) != Frames{PONG}); // dropped by the flood guard
		const std::uint64_t dropped = s.host.counterValue("rate_limited_total");

		ReconfigureResult r = s.reload({{"message_rate", "1000"}, {"message_burst", "5"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		s.ask(c, PING); // still empty: no refill for the reload itself
		CPPUNIT_ASSERT_EQUAL(dropped + 1, s.host.counterValue("rate_limited_total"));
		s.host.advance(10); // ten tokens at the new rate, capped at the new burst of 5
		for (int i = 0; i < 5; ++i)
			CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG});
		s.ask(c, PING);
		CPPUNIT_ASSERT_EQUAL(dropped + 2, s.host.counterValue("rate_limited_total"));
		CPPUNIT_ASSERT(s.host.isOpen(c));
	}

	void testReloadRoomLimitAndExpiry()
	{
		Server s(std::map<std::string, std::string>{{"max_members_per_room", "1"}});
		ConnectionId owner = s.connect();
		CPPUNIT_ASSERT(s.ask(owner, CREATE) == Frames{CREATED});
		ConnectionId peer = s.connect();
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == Frames{errorFrame("b2c3d4e5", "Room is full")});

		ReconfigureResult r = s.reload({{"max_members_per_room", "2"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		CPPUNIT_ASSERT(s.ask(peer, JOIN) == (Frames{JOINED, PEER_JOINED_OWNER}));
		CPPUNIT_ASSERT(s.sent(owner) == Frames{PEER_JOINED_ALICE});

		// A shorter expiry and sweep interval: the next sweep is one new interval after the reload.
		r = s.reload({{"room_expiry_days", "0.0001"}, {"cleanup_interval", "5"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		s.host.advance(4000);
		CPPUNIT_ASSERT(s.sent(owner).empty());
		s.host.advance(6000); // the sweep at 10 s finds the room 8.64 s idle
		CPPUNIT_ASSERT(s.sent(owner) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.sent(peer) == Frames{ROOM_DELETED});
		CPPUNIT_ASSERT(s.host.request("GET", "/stats").body.find(R"("cleanup_interval":5,)") != std::string::npos);
		CPPUNIT_ASSERT(s.host.isOpen(owner) && s.host.isOpen(peer));
		CPPUNIT_ASSERT(!s.host.logged("ERROR"));
	}

	void testReloadFixedKeysNeedRestart()
	{
		Server s(std::map<std::string, std::string>{{"allowed_origins", "https://a.test"}});
		ConnectionId c = s.connect();
		const std::map<std::string, std::string> fixed = {
		    {"ws_path", "/other"},  {"health_path", "/h"},  {"stats_path", "/s"},    {"max_message_size", "1024"},
		    {"ping_interval", "5"}, {"idle_timeout", "10"}, {"strict_auth", "true"}, {"rate_limit_ipv6_prefix", "48"}};
		for (const auto& key : fixed)
		{
			const std::string original = s.values.count(key.first) ? s.values[key.first] : "";
			// Mixed with a live key: neither applies, and the answer names the fixed key.
			ReconfigureResult r = s.reload({{key.first, key.second}, {"allowed_origins", ""}});
			CPPUNIT_ASSERT_MESSAGE(key.first, !r.applied);
			CPPUNIT_ASSERT_MESSAGE(r.message, r.message.find(key.first) != std::string::npos);
			CPPUNIT_ASSERT_EQUAL(ConnectionId(0), s.connect("", "127.0.0.1:4001", {{"Origin", "https://b.test"}}));
			// Changed back in the next reload: no obstacle to the live key changed with it.
			std::map<std::string, std::string> back = {{"allowed_origins", "https://b.test"}};
			if (original.empty())
				s.values.erase(key.first); // its default again
			else
				back[key.first] = original;
			r = s.reload(back);
			CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
			ConnectionId b = s.connect("", "127.0.0.1:4002", {{"Origin", "https://b.test"}});
			CPPUNIT_ASSERT(b != 0);
			s.host.disconnect(b);
			r = s.reload({{"allowed_origins", "https://a.test"}});
			CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		}
		CPPUNIT_ASSERT_EQUAL(200, s.host.request("GET", "/health").status);
		CPPUNIT_ASSERT(s.host.connect("/ws") != 0);
		CPPUNIT_ASSERT(s.ask(c, PING) == Frames{PONG}); // strict_auth stayed off for it
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnPluginTest);
