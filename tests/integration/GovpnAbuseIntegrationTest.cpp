//
// GovpnAbuseIntegrationTest.cpp
//
// The GoVPN plugin's abuse controls against the real switchboard binary over loopback sockets
// (docs/protocols/govpn.md §2, §5, §8, §9, §10, §14), with small config values instead of a fake
// clock: the per-IP token bucket for CreateRoom and JoinRoom (per source address, behind trusted
// proxies, IPv4-mapped and IPv6 prefix grouping), the wrong-password lockout and its doubling, a
// PIN brute force under the default limits, the per-connection flood guard (and signaling that
// stays prompt for the other members while one floods), strict mode's Ed25519 challenge, the idle
// close, the message size limit, binary frames and unknown message types.
//


#include "Deadline.h"
#include "GovpnTestSupport.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <atomic>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdio>
#include <netinet/in.h>
#include <regex>
#include <sodium.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Govpn;


namespace {


const std::string RATE_LIMITED = "Rate limit exceeded. Please try again later.";
/// A room id of the right shape that no test creates.
const std::string NO_SUCH_ROOM = "0123456789abcdef";


TestServer::Keys withFastHashing(TestServer::Keys keys)
/// Argon2id at libsodium's minimum cost: these tests are about limits, not hashing.
{
	keys.emplace("pwhash_opslimit", "1");
	keys.emplace("pwhash_memlimit", "8192");
	return keys;
}


std::int64_t nowMs()
{
	return WsTestClient::nowMicros() / 1000;
}


void sleepUntilMs(std::int64_t wakeMs)
/// Waiting for a configured interval to pass: there is no frame to wait for.
{
	std::int64_t left = wakeMs - nowMs();
	if (left > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(left));
}


std::string errorInner(const std::string& error)
{
	return "{\"error\":\"" + error + "\"}";
}


void expectError(WsTestClient& client, Mode mode, const std::string& messageId, const std::string& error)
{
	expectExact(client, serverFrame(mode, messageId, "Error", errorInner(error)));
}


std::string joinRequest(const std::string& messageId, const std::string& room, const std::string& password,
                        const std::string& key)
/// An object-form JoinRoom without a username.
{
	return envelope(MODE_OBJECT, messageId, "JoinRoom",
	                "{\"room_id\":\"" + room + "\",\"password\":\"" + password + "\",\"public_key\":\"" + key + "\"}");
}


std::string connectRequest(const std::string& messageId, const std::string& room, const std::string& key)
{
	return envelope(MODE_OBJECT, messageId, "ConnectRoom",
	                "{\"room_id\":\"" + room + "\",\"public_key\":\"" + key + "\",\"username\":\"User\"}");
}


std::string createRequest(const std::string& messageId, const std::string& key, const std::string& name,
                          const std::string& password)
{
	return envelope(MODE_OBJECT, messageId, "CreateRoom",
	                "{\"room_name\":\"" + name + "\",\"password\":\"" + password + "\",\"public_key\":\"" + key +
	                    "\"}");
}


std::string expectRoomCreated(WsTestClient& client, const std::string& messageId, const std::string& key,
                              const std::string& name, const std::string& password)
/// The object-form RoomCreated; returns the room id.
{
	return expectFrame(client, MODE_OBJECT, messageId, "RoomCreated",
	                   "{\"password\":\"" + password + "\",\"public_key\":\"" + key +
	                       "\",\"room_id\":\"<ROOM>\",\"room_name\":\"" + name + "\"}")
	    .at(0);
}


std::string peerInner(const std::string& connection, const std::string& key, const std::string& room,
                      const std::string& username)
/// PeerJoined / PeerConnected about one member; connection may be <CONN>.
{
	return "{\"connection_id\":\"" + connection + "\",\"public_key\":\"" + key + "\",\"room_id\":\"" + room +
	       "\",\"username\":\"" + username + "\"}";
}


void expectConnectPushes(WsTestClient& client, Mode mode, const std::string& ipv4, const std::string& ipv6)
/// The UserRooms (no rooms) and ClientIPInfo pushes of a key that owns nothing.
{
	expectExact(client, serverFrame(mode, "", "UserRooms", "{\"rooms\":[]}"));
	expectExact(client, serverFrame(mode, "", "ClientIPInfo", "{\"ipv4\":\"" + ipv4 + "\",\"ipv6\":\"" + ipv6 + "\"}"));
}


void connectFrom(WsTestClient& client, TestServer& server, const std::string& source,
                 const WsTestClient::Headers& headers = {})
{
	client.setBindAddress(source);
	connectWs(client, server, headers);
}


std::int64_t metric(TestServer& server, const std::string& series)
{
	return HttpTestClient::metricValue(HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body, series);
}


std::string challengeNonce(WsTestClient& client)
/// The strict-mode AuthChallenge, checked byte for byte in base64 form; returns the raw nonce.
{
	std::string frame = receiveText(client);
	static const std::regex challengePattern(
	    "^\\{\"message_id\":\"\",\"type\":\"AuthChallenge\",\"payload\":\"([A-Za-z0-9+/=]+)\"\\}\n$");
	std::smatch parts;
	CPPUNIT_ASSERT_MESSAGE("AuthChallenge expected: " + frame, std::regex_match(frame, parts, challengePattern));
	std::string inner = base64Decode(parts[1].str());
	static const std::regex noncePattern("^\\{\"nonce\":\"([A-Za-z0-9+/]{43}=)\"\\}$");
	std::smatch nonceParts;
	CPPUNIT_ASSERT_MESSAGE("nonce of: " + inner, std::regex_match(inner, nonceParts, noncePattern));
	std::string nonce = base64Decode(nonceParts[1].str());
	CPPUNIT_ASSERT_EQUAL(std::size_t(32), nonce.size());
	CPPUNIT_ASSERT_EQUAL(serverFrame(MODE_BASE64, "", "AuthChallenge", inner), frame);
	return nonce;
}


struct SigningKey
/// An Ed25519 key pair made with libsodium.
{
	unsigned char publicBytes[crypto_sign_PUBLICKEYBYTES];
	unsigned char secretBytes[crypto_sign_SECRETKEYBYTES];

	SigningKey() { crypto_sign_keypair(publicBytes, secretBytes); }

	std::string publicKey() const
	{
		return base64Encode(std::string(reinterpret_cast<const char*>(publicBytes), sizeof(publicBytes)));
	}

	std::string sign(const std::string& host, const std::string& nonce) const
	/// The raw signature of §5.3's message for host and nonce.
	{
		std::string message = "govpn-auth-v1\n" + host + "\n" + nonce +
		                      std::string(reinterpret_cast<const char*>(publicBytes), sizeof(publicBytes));
		unsigned char signature[crypto_sign_BYTES];
		crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
		                     secretBytes);
		return std::string(reinterpret_cast<const char*>(signature), sizeof(signature));
	}
};


std::string authenticateRequest(const std::string& messageId, const std::string& key, const std::string& rawSignature)
{
	return envelope(MODE_OBJECT, messageId, "Authenticate",
	                "{\"public_key\":\"" + key + "\",\"signature\":\"" + base64Encode(rawSignature) + "\"}");
}


void expectAuthenticated(WsTestClient& client, const std::string& messageId, const std::string& key)
/// Authenticated, then the connect-time pushes, all in object form.
{
	expectExact(client, serverFrame(MODE_OBJECT, messageId, "Authenticated", "{\"public_key\":\"" + key + "\"}"));
	expectConnectPushes(client, MODE_OBJECT, "127.0.0.1", "");
}


class JoinOnExit
/// Joins a helper thread (whose loop is bounded in time) even when the test thread throws, since
/// destroying a joinable std::thread would abort the runner.
{
public:
	explicit JoinOnExit(std::thread& thread):
	    _thread(thread)
	{
	}
	~JoinOnExit()
	{
		if (_thread.joinable())
			_thread.join();
	}
	JoinOnExit(const JoinOnExit&) = delete;
	JoinOnExit& operator=(const JoinOnExit&) = delete;

private:
	std::thread& _thread;
};


} // namespace


class GovpnAbuseIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnAbuseIntegrationTest);
	CPPUNIT_TEST(testPerIpBucket);
	CPPUNIT_TEST(testForwardedAddressesBehindTrustedProxy);
	CPPUNIT_TEST(testTrustedProxyRange);
	CPPUNIT_TEST(testIpv6AndMappedAddressGrouping);
	CPPUNIT_TEST(testWrongPasswordLockoutDoubles);
	CPPUNIT_TEST(testPinBruteForceStopped);
	CPPUNIT_TEST(testFloodGuard);
	CPPUNIT_TEST(testRelayStaysPromptWhileMemberFloods);
	CPPUNIT_TEST(testStrictModeChallenge);
	CPPUNIT_TEST(testStrictModeConfiguredHostAndTimeout);
	CPPUNIT_TEST(testIdleClose);
	CPPUNIT_TEST(testOversizedBinaryAndUnknownTypes);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override { CPPUNIT_ASSERT(sodium_init() >= 0); }

	void testPerIpBucket()
	{
		// Burst 3, one token per 2 s: the five requests below are sent at once, well inside 2 s.
		TestServer server;
		startGovpn(server, withFastHashing({{"rate_limit_burst", "3"}, {"rate_limit_refill", "2"}}));
		const std::string owner = publicKey(1);
		WsTestClient first;
		connectWs(first, server);
		first.sendText(joinRequest("r1", NO_SUCH_ROOM, "1234", owner));
		first.sendText(createRequest("r2", owner, "Bucket Room", "1234"));
		first.sendText(
		    envelope(MODE_OBJECT, "r3", "JoinRoom",
		             "{\"room_id\":\"" + NO_SUCH_ROOM + "\",\"password\":1234,\"public_key\":\"" + owner + "\"}"));
		first.sendText(joinRequest("r4", NO_SUCH_ROOM, "1234", owner));
		first.sendText(createRequest("r5", publicKey(9), "Another Room", "1234"));
		// Processed whatever the outcome: a missing room, a success, a malformed payload.
		expectError(first, MODE_OBJECT, "r1", "Room does not exist");
		const std::string room = expectRoomCreated(first, "r2", owner, "Bucket Room", "1234");
		expectError(first, MODE_OBJECT, "r3", "Invalid join room request format");
		// The bucket is shared by JoinRoom and CreateRoom, and taken before any other check.
		expectError(first, MODE_OBJECT, "r4", RATE_LIMITED);
		expectError(first, MODE_OBJECT, "r5", RATE_LIMITED);
		const std::int64_t emptiedMs = nowMs();

		// ConnectRoom never takes a token (nor do Ping and GetUserRooms).
		for (const char* id : {"k1", "k2", "k3", "k4"})
		{
			first.sendText(connectRequest(id, room, owner));
			expectExact(first, serverFrame(MODE_OBJECT, id, "RoomConnected",
			                               "{\"room_id\":\"" + room + "\",\"room_name\":\"Bucket Room\"}"));
		}
		pingReply(MODE_OBJECT, "p1", first);

		// Another source address has a bucket of its own.
		WsTestClient second;
		connectFrom(second, server, "127.0.0.2");
		const std::string member = publicKey(2);
		second.sendText(joinRequest("j1", room, "1234", member));
		expectExact(second, serverFrame(MODE_OBJECT, "j1", "RoomJoined",
		                                "{\"room_id\":\"" + room + "\",\"room_name\":\"Bucket Room\"}"));
		expectFrame(second, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", owner, room, "Owner"));
		expectFrame(first, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", member, room, ""));
		first.sendText(joinRequest("r6", NO_SUCH_ROOM, "1234", owner));
		expectError(first, MODE_OBJECT, "r6", RATE_LIMITED);

		// One refill interval later exactly one more request is processed.
		sleepUntilMs(emptiedMs + 2000 + 150);
		first.sendText(joinRequest("r7", NO_SUCH_ROOM, "1234", owner));
		first.sendText(joinRequest("r8", NO_SUCH_ROOM, "1234", owner));
		expectError(first, MODE_OBJECT, "r7", "Room does not exist");
		expectError(first, MODE_OBJECT, "r8", RATE_LIMITED);
		expectQuiet(second);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), metric(server, "switchboard_govpn_rate_limited_total"));
	}

	void testTrustedProxyRange()
	{
		// A CIDR range of proxies: 127.0.0.0/30 holds 127.0.0.0 to 127.0.0.3.
		TestServer server;
		startGovpn(server, withFastHashing({{"trusted_proxies", "192.0.2.0/24, 127.0.0.0/30"}}));
		WsTestClient inside;
		connectFrom(inside, server, "127.0.0.3", {{"X-Real-IP", "198.51.100.7"}, {"X-Client-ID", publicKey(15)}});
		expectConnectPushes(inside, MODE_BASE64, "198.51.100.7", "");
		WsTestClient outside;
		connectFrom(outside, server, "127.0.0.4", {{"X-Real-IP", "198.51.100.7"}, {"X-Client-ID", publicKey(16)}});
		expectConnectPushes(outside, MODE_BASE64, "127.0.0.4", "");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		// A range with host bits set is refused at start, with the key named.
		TestServer typo;
		typo.addListener("govpn");
		typo.addPlugin("govpn", "govpn", "", {{"trusted_proxies", "10.0.0.1/8"}});
		TestServer::RunResult refused = typo.runWithConfig({}, 10000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(refused.describe(), 70, refused.exitCode); // a plugin that refuses to start
		CPPUNIT_ASSERT_MESSAGE(refused.describe(), refused.output().find("trusted_proxies") != std::string::npos);
	}

	void testForwardedAddressesBehindTrustedProxy()
	{
		// With 127.0.0.1 trusted, X-Real-IP or the first X-Forwarded-For address is the client.
		TestServer proxied;
		startGovpn(proxied,
		           withFastHashing(
		               {{"rate_limit_burst", "3"}, {"rate_limit_refill", "600"}, {"trusted_proxies", "127.0.0.1"}}));
		WsTestClient realIp;
		connectWs(realIp, proxied, {{"X-Real-IP", "198.51.100.1"}, {"X-Client-ID", publicKey(11)}});
		expectConnectPushes(realIp, MODE_BASE64, "198.51.100.1", "");
		for (const char* id : {"a1", "a2", "a3"})
		{
			realIp.sendText(joinRequest(id, NO_SUCH_ROOM, "1234", publicKey(11)));
			expectError(realIp, MODE_OBJECT, id, "Room does not exist");
		}
		realIp.sendText(joinRequest("a4", NO_SUCH_ROOM, "1234", publicKey(11)));
		expectError(realIp, MODE_OBJECT, "a4", RATE_LIMITED);

		WsTestClient forwarded;
		connectWs(forwarded, proxied,
		          {{"X-Forwarded-For", "198.51.100.2, 198.51.100.1"}, {"X-Client-ID", publicKey(12)}});
		expectConnectPushes(forwarded, MODE_BASE64, "198.51.100.2", "");
		forwarded.sendText(joinRequest("b1", NO_SUCH_ROOM, "1234", publicKey(12)));
		expectError(forwarded, MODE_OBJECT, "b1", "Room does not exist");

		// The same client through another proxy hop: the first address decides the bucket.
		WsTestClient sameClient;
		connectWs(sameClient, proxied,
		          {{"X-Forwarded-For", "198.51.100.1, 203.0.113.9"}, {"X-Client-ID", publicKey(13)}});
		expectConnectPushes(sameClient, MODE_BASE64, "198.51.100.1", "");
		sameClient.sendText(joinRequest("c1", NO_SUCH_ROOM, "1234", publicKey(13)));
		expectError(sameClient, MODE_OBJECT, "c1", RATE_LIMITED);

		// A peer that is not a trusted proxy is its own address, whatever it claims.
		WsTestClient untrusted;
		connectFrom(untrusted, proxied, "127.0.0.2", {{"X-Real-IP", "198.51.100.1"}, {"X-Client-ID", publicKey(14)}});
		expectConnectPushes(untrusted, MODE_BASE64, "127.0.0.2", "");
		untrusted.sendText(joinRequest("d1", NO_SUCH_ROOM, "1234", publicKey(14)));
		expectError(untrusted, MODE_OBJECT, "d1", "Room does not exist");

		// Without trusted_proxies the headers are ignored: both clients are 127.0.0.1.
		TestServer direct;
		startGovpn(direct, withFastHashing({{"rate_limit_burst", "3"}, {"rate_limit_refill", "600"}}));
		WsTestClient claimsOne;
		connectWs(claimsOne, direct, {{"X-Real-IP", "198.51.100.1"}, {"X-Client-ID", publicKey(15)}});
		expectConnectPushes(claimsOne, MODE_BASE64, "127.0.0.1", "");
		for (const char* id : {"e1", "e2", "e3"})
		{
			claimsOne.sendText(joinRequest(id, NO_SUCH_ROOM, "1234", publicKey(15)));
			expectError(claimsOne, MODE_OBJECT, id, "Room does not exist");
		}
		WsTestClient claimsTwo;
		connectWs(claimsTwo, direct, {{"X-Forwarded-For", "198.51.100.2"}, {"X-Client-ID", publicKey(16)}});
		expectConnectPushes(claimsTwo, MODE_BASE64, "127.0.0.1", "");
		claimsTwo.sendText(joinRequest("f1", NO_SUCH_ROOM, "1234", publicKey(16)));
		expectError(claimsTwo, MODE_OBJECT, "f1", RATE_LIMITED);
	}

	void testIpv6AndMappedAddressGrouping()
	{
		// Addresses given by a trusted proxy: an IPv6 /64 is one client, an IPv4-mapped address is
		// the IPv4 address.
		TestServer proxied;
		startGovpn(proxied,
		           withFastHashing(
		               {{"rate_limit_burst", "3"}, {"rate_limit_refill", "600"}, {"trusted_proxies", "127.0.0.1"}}));
		auto exhaust = [&proxied](const std::string& realIp, const std::string& ipv4, const std::string& ipv6,
		                          int keyIndex) {
			WsTestClient client;
			connectWs(client, proxied, {{"X-Real-IP", realIp}, {"X-Client-ID", publicKey(keyIndex)}});
			expectConnectPushes(client, MODE_BASE64, ipv4, ipv6);
			for (const char* id : {"x1", "x2", "x3"})
			{
				client.sendText(joinRequest(id, NO_SUCH_ROOM, "1234", publicKey(keyIndex)));
				expectError(client, MODE_OBJECT, id, "Room does not exist");
			}
			client.sendText(joinRequest("x4", NO_SUCH_ROOM, "1234", publicKey(keyIndex)));
			expectError(client, MODE_OBJECT, "x4", RATE_LIMITED);
		};
		auto firstRequest = [&proxied](const std::string& realIp, const std::string& ipv4, const std::string& ipv6,
		                               int keyIndex, const std::string& expected) {
			WsTestClient client;
			connectWs(client, proxied, {{"X-Real-IP", realIp}, {"X-Client-ID", publicKey(keyIndex)}});
			expectConnectPushes(client, MODE_BASE64, ipv4, ipv6);
			client.sendText(joinRequest("y1", NO_SUCH_ROOM, "1234", publicKey(keyIndex)));
			expectError(client, MODE_OBJECT, "y1", expected);
		};
		exhaust("2001:db8:0:7::1", "", "2001:db8:0:7::1", 21);
		firstRequest("2001:db8:0:7:ffff:1:2:3", "", "2001:db8:0:7:ffff:1:2:3", 22, RATE_LIMITED);
		firstRequest("2001:db8:0:8::1", "", "2001:db8:0:8::1", 23, "Room does not exist");
		exhaust("::ffff:198.51.100.9", "198.51.100.9", "", 24);
		firstRequest("198.51.100.9", "198.51.100.9", "", 25, RATE_LIMITED);

		// A real IPv6 socket, when this machine has IPv6 loopback.
		std::string why;
		if (!(why = PortPicker::ipv6LoopbackUnavailable()).empty())
		{
			std::printf("\nGovpnAbuseIntegrationTest: the [::1] part is skipped: %s\n", why.c_str());
			return;
		}
		TestServer onIpv6;
		onIpv6.appendIni("[listener.govpn]\naddress = ::1\n");
		startGovpn(onIpv6, withFastHashing({{"rate_limit_burst", "3"}, {"rate_limit_refill", "600"}}));
		auto connectIpv6 = [&onIpv6](WsTestClient& client, int keyIndex) {
			HttpResponse response =
			    client.connect("::1", onIpv6.port("govpn"), "/ws", {{"X-Client-ID", publicKey(keyIndex)}}, WAIT_MS);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, 101, response.status);
			expectConnectPushes(client, MODE_BASE64, "", "::1");
		};
		WsTestClient one;
		connectIpv6(one, 26);
		for (const char* id : {"v1", "v2", "v3"})
		{
			one.sendText(joinRequest(id, NO_SUCH_ROOM, "1234", publicKey(26)));
			expectError(one, MODE_OBJECT, id, "Room does not exist");
		}
		WsTestClient two;
		connectIpv6(two, 27);
		two.sendText(joinRequest("v4", NO_SUCH_ROOM, "1234", publicKey(27)));
		expectError(two, MODE_OBJECT, "v4", RATE_LIMITED);
	}

	void testWrongPasswordLockoutDoubles()
	{
		// Five wrong passwords within 60 s lock the room for 2 s, then 4 s for the next lockout.
		TestServer server;
		startGovpn(server, withFastHashing({{"password_lockout", "2"}, {"password_failure_window", "60"}}));
		const std::string owner = publicKey(31);
		const std::string member = publicKey(32);
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		const std::string room = createRoom(ownerSocket, "c1", owner, "Locked Room", "1234");
		{
			WsTestClient memberSocket;
			connectWs(memberSocket, server);
			memberSocket.sendText(joinRequest("j1", room, "1234", member));
			expectExact(memberSocket, serverFrame(MODE_OBJECT, "j1", "RoomJoined",
			                                      "{\"room_id\":\"" + room + "\",\"room_name\":\"Locked Room\"}"));
			expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", member, room, ""));
		}
		expectExact(ownerSocket, serverFrame(MODE_OBJECT, "", "PeerDisconnected",
		                                     "{\"public_key\":\"" + member + "\",\"room_id\":\"" + room + "\"}"));

		const std::int64_t firstLockMs = lockRoom(server, room, publicKey(33));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_govpn_lockouts_total"));

		// A member still comes back with ConnectRoom while the room is locked.
		WsTestClient memberAgain;
		connectWs(memberAgain, server);
		memberAgain.sendText(connectRequest("k1", room, member));
		expectExact(memberAgain, serverFrame(MODE_OBJECT, "k1", "RoomConnected",
		                                     "{\"room_id\":\"" + room + "\",\"room_name\":\"Locked Room\"}"));
		const std::string ownerConnection =
		    expectFrame(memberAgain, MODE_OBJECT, "", "PeerConnected", peerInner("<CONN>", owner, room, "Owner")).at(0);
		const std::string memberConnection =
		    expectFrame(ownerSocket, MODE_OBJECT, "", "PeerConnected", peerInner("<CONN>", member, room, "")).at(0);

		// After the lockout the right password joins.
		sleepUntilMs(firstLockMs + 2000 + 200);
		const std::string guesser = publicKey(33);
		WsTestClient afterLockout;
		connectWs(afterLockout, server);
		afterLockout.sendText(joinRequest("ok", room, "1234", guesser));
		expectExact(afterLockout, serverFrame(MODE_OBJECT, "ok", "RoomJoined",
		                                      "{\"room_id\":\"" + room + "\",\"room_name\":\"Locked Room\"}"));
		expectExact(afterLockout,
		            serverFrame(MODE_OBJECT, "", "PeerJoined", peerInner(ownerConnection, owner, room, "Owner")));
		expectExact(afterLockout,
		            serverFrame(MODE_OBJECT, "", "PeerJoined", peerInner(memberConnection, member, room, "")));
		expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", guesser, room, ""));
		expectFrame(memberAgain, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", guesser, room, ""));

		// The second lockout within 24 h lasts twice as long: locked after 2.5 s, open after 4 s.
		const std::int64_t secondLockMs = lockRoom(server, room, publicKey(34));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), metric(server, "switchboard_govpn_lockouts_total"));
		sleepUntilMs(secondLockMs + 2500);
		WsTestClient stillLocked;
		connectWs(stillLocked, server);
		stillLocked.sendText(joinRequest("s1", room, "1234", publicKey(35)));
		expectError(stillLocked, MODE_OBJECT, "s1", RATE_LIMITED);
		sleepUntilMs(secondLockMs + 4000 + 200);
		stillLocked.sendText(joinRequest("s2", room, "1234", publicKey(35)));
		expectExact(stillLocked, serverFrame(MODE_OBJECT, "s2", "RoomJoined",
		                                     "{\"room_id\":\"" + room + "\",\"room_name\":\"Locked Room\"}"));
	}

	std::int64_t lockRoom(TestServer& server, const std::string& room, const std::string& key)
	/// Five wrong passwords from a fresh socket, then the right one refused; returns when the
	/// fifth answer arrived (the lockout began before it).
	{
		WsTestClient guesser;
		connectWs(guesser, server);
		for (const char* password : {"0000", "0001", "0002", "0003", "0004"})
			guesser.sendText(joinRequest(std::string("w") + password, room, password, key));
		for (const char* password : {"0000", "0001", "0002", "0003", "0004"})
			expectError(guesser, MODE_OBJECT, std::string("w") + password, "Incorrect password");
		const std::int64_t lockedMs = nowMs();
		guesser.sendText(joinRequest("right", room, "1234", key));
		expectError(guesser, MODE_OBJECT, "right", RATE_LIMITED);
		return lockedMs;
	}

	void testPinBruteForceStopped()
	{
		// The default limits (burst 3 per IP, a token per 20 s, a lockout after 5 wrong PINs):
		// an attacker trying PINs in order gets three checked per address, and a second address
		// gets only two more before the room locks, even for the right PIN.
		TestServer server;
		startGovpn(server, withFastHashing({{"rate_limit_burst", "3"}, {"rate_limit_refill", "20"}}));
		const std::string pin = "0007";
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		const std::string room = createRoom(ownerSocket, "c1", publicKey(41), "PIN Room", pin);

		auto attempt = [&room](WsTestClient& attacker, int keyIndex, int number) {
			char digits[8];
			std::snprintf(digits, sizeof(digits), "%04d", number);
			attacker.sendText(joinRequest(std::string("pin") + digits, room, digits, publicKey(keyIndex)));
			return std::string("pin") + digits;
		};
		WsTestClient attacker;
		connectFrom(attacker, server, "127.0.0.2");
		std::vector<std::string> ids;
		for (int number = 0; number < 12; ++number)
			ids.push_back(attempt(attacker, 42, number));
		int checked = 0;
		for (std::size_t i = 0; i < ids.size(); ++i)
		{
			expectError(attacker, MODE_OBJECT, ids[i], i < 3 ? "Incorrect password" : RATE_LIMITED);
			checked += i < 3 ? 1 : 0;
		}

		WsTestClient secondAddress;
		connectFrom(secondAddress, server, "127.0.0.3");
		const std::string fourth = attempt(secondAddress, 43, 3);
		const std::string fifth = attempt(secondAddress, 43, 4);
		const std::string right = attempt(secondAddress, 43, 7);
		const std::string beyond = attempt(secondAddress, 43, 8);
		expectError(secondAddress, MODE_OBJECT, fourth, "Incorrect password");
		expectError(secondAddress, MODE_OBJECT, fifth, "Incorrect password");
		checked += 2;
		// This address still had a token: the lockout refuses the right PIN.
		expectError(secondAddress, MODE_OBJECT, right, RATE_LIMITED);
		expectError(secondAddress, MODE_OBJECT, beyond, RATE_LIMITED);
		std::printf("\nGovpnAbuseIntegrationTest: %d of 16 PIN attempts were checked\n", checked);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_govpn_lockouts_total"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(11), metric(server, "switchboard_govpn_rate_limited_total"));
		expectQuiet(ownerSocket);
	}

	void testFloodGuard()
	{
		// The defaults: 100 messages/s, a bucket of 1000. 2000 Pings at once.
		TestServer server;
		startGovpn(server, withFastHashing({}));
		WsTestClient flooder;
		connectWs(flooder, server);
		const int total = 2000;
		const std::int64_t startMs = nowMs();
		for (int i = 0; i < total; ++i)
			flooder.sendText(
			    envelope(MODE_OBJECT, "f" + std::to_string(i), "Ping", "{\"timestamp\":" + std::to_string(i) + "}"));
		const std::int64_t sentMs = nowMs();

		static const std::regex replyPattern("^\\{\"message_id\":\"f([0-9]+)\",\"type\":\"Ping\",\"payload\":\\{"
		                                     "\"client_timestamp\":([0-9]+),\"server_timestamp\":[0-9]+,"
		                                     "\"status\":\"ok\"\\}\\}\n$");
		static const std::regex errorPattern("^\\{\"message_id\":\"f([0-9]+)\",\"type\":\"Error\".*\n$");
		int replies = 0;
		std::vector<int> errorIndexes;
		int lastReplied = -1;
		std::int64_t lastFrameMs = sentMs;
		for (int frames = 0; frames < total + 10; ++frames)
		{
			WsTestClient::Message message = flooder.receiveMessage(1000);
			if (message.timedOut())
				break;
			CPPUNIT_ASSERT_MESSAGE("frame: " + message.error, message.ok());
			CPPUNIT_ASSERT_EQUAL(static_cast<int>(WsTestClient::OPCODE_TEXT), message.opcode);
			lastFrameMs = nowMs();
			std::smatch parts;
			if (std::regex_match(message.payload, parts, replyPattern))
			{
				int index = std::stoi(parts[1].str());
				CPPUNIT_ASSERT_EQUAL(parts[1].str(), parts[2].str());
				// Replies come in order; the first 1000 messages all fit in the bucket.
				CPPUNIT_ASSERT(index > lastReplied);
				CPPUNIT_ASSERT(replies >= 1000 || index == replies);
				lastReplied = index;
				++replies;
			}
			else if (std::regex_match(message.payload, parts, errorPattern))
			{
				int index = std::stoi(parts[1].str());
				// The error carries the id of a dropped message.
				CPPUNIT_ASSERT(index >= 1000 && index > lastReplied);
				CPPUNIT_ASSERT_EQUAL(serverFrame(MODE_OBJECT, "f" + parts[1].str(), "Error", errorInner(RATE_LIMITED)),
				                     message.payload);
				errorIndexes.push_back(index);
			}
			else
				CPPUNIT_FAIL("unexpected frame: " + message.payload);
		}
		const double spanSeconds = static_cast<double>(lastFrameMs - startMs) / 1000.0;
		std::printf("\nGovpnAbuseIntegrationTest: flood of %d sent in %lld ms: %d replies, %zu errors, "
		            "answered within %.3f s\n",
		            total, static_cast<long long>(sentMs - startMs), replies, errorIndexes.size(), spanSeconds);
		// The bucket's 1000, plus what 100/s refilled while the burst was being read.
		CPPUNIT_ASSERT(replies >= 1000);
		CPPUNIT_ASSERT(replies <= 1000 + static_cast<int>(100 * spanSeconds) + 20);
		CPPUNIT_ASSERT(!errorIndexes.empty());
		CPPUNIT_ASSERT(errorIndexes.size() <= 1 + static_cast<std::size_t>(spanSeconds));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(total - replies), metric(server, "switchboard_govpn_rate_limited_total"));

		// The socket stays open and is served again once the bucket refilled.
		CPPUNIT_ASSERT(flooder.isOpen());
		pingReply(MODE_OBJECT, "after", flooder);
	}

	void testRelayStaysPromptWhileMemberFloods()
	{
		TestServer server;
		startGovpn(server, withFastHashing({}));
		const std::string floodKey = publicKey(51);
		const std::string aliceKey = publicKey(52);
		const std::string bobKey = publicKey(53);
		WsTestClient flooder;
		connectWs(flooder, server);
		const std::string room = createRoom(flooder, "c1", floodKey, "Busy Room", "1234");
		WsTestClient alice;
		connectWs(alice, server);
		alice.sendText(joinRequest("j1", room, "1234", aliceKey));
		expectExact(alice, serverFrame(MODE_OBJECT, "j1", "RoomJoined",
		                               "{\"room_id\":\"" + room + "\",\"room_name\":\"Busy Room\"}"));
		expectFrame(alice, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", floodKey, room, "Owner"));
		const std::string aliceConnection =
		    expectFrame(flooder, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", aliceKey, room, "")).at(0);
		WsTestClient bob;
		connectWs(bob, server);
		bob.sendText(joinRequest("j2", room, "1234", bobKey));
		expectExact(bob, serverFrame(MODE_OBJECT, "j2", "RoomJoined",
		                             "{\"room_id\":\"" + room + "\",\"room_name\":\"Busy Room\"}"));
		expectFrame(bob, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", floodKey, room, "Owner"));
		expectFrame(bob, MODE_OBJECT, "", "PeerJoined", peerInner(aliceConnection, aliceKey, room, ""));
		expectFrame(flooder, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", bobKey, room, ""));
		expectFrame(alice, MODE_OBJECT, "", "PeerJoined", peerInner("<CONN>", bobKey, room, ""));

		// The flooder sends Pings in batches for up to 2 s on its own thread, reading what comes back.
		std::atomic<bool> flooding{false};
		std::atomic<bool> floodDone{false};
		int floodSent = 0;
		int floodReplies = 0;
		int floodErrors = 0;
		std::int64_t floodMs = 0;
		std::string floodProblem;
		const std::int64_t floodStartMs = nowMs();
		std::thread floodThread([&] {
			try
			{
				Deadline deadline(2000);
				while (!deadline.expired() && floodSent < 300000)
				{
					for (int i = 0; i < 200; ++i, ++floodSent)
						flooder.sendText(envelope(MODE_OBJECT, "f" + std::to_string(floodSent), "Ping", "{}"));
					flooding = true;
					for (int frames = 0; frames < 1000; ++frames)
					{
						WsTestClient::Message message = flooder.receiveMessage(0);
						if (message.timedOut())
							break;
						if (!message.ok())
							throw std::runtime_error("flooder: " + message.error);
						if (message.payload.find("\"type\":\"Ping\"") != std::string::npos)
							++floodReplies;
						else if (message.payload.find(errorInner(RATE_LIMITED)) != std::string::npos)
							++floodErrors;
						else
							throw std::runtime_error("flooder got: " + message.payload);
					}
				}
			}
			catch (const std::exception& e)
			{
				floodProblem = e.what();
			}
			floodMs = nowMs() - floodStartMs;
			flooding = true;
			floodDone = true;
		});
		JoinOnExit floodJoiner(floodThread);
		Deadline started(5000);
		while (!flooding && !started.expired())
			std::this_thread::sleep_for(std::chrono::milliseconds(1));

		// Meanwhile Alice sends Offers to Bob; each must arrive within 1 s.
		std::int64_t worstMicros = 0;
		int relayed = 0;
		std::string problem;
		while (!floodDone && relayed < 200 && problem.empty())
		{
			const std::string sdp = "v=0 offer " + std::to_string(relayed);
			const std::int64_t sentMicros = WsTestClient::nowMicros();
			alice.sendText(envelope(MODE_OBJECT, "o" + std::to_string(relayed), "Offer",
			                        "{\"destination_id\":\"" + bobKey + "\",\"offer\":\"" + sdp + "\"}"));
			WsTestClient::Message message = bob.receiveMessage(1000);
			const std::int64_t latency = WsTestClient::nowMicros() - sentMicros;
			worstMicros = std::max(worstMicros, latency);
			const std::string expected = serverFrame(MODE_OBJECT, "", "Offer",
			                                         "{\"destination_id\":\"" + bobKey + "\",\"offer\":\"" + sdp +
			                                             "\",\"public_key\":\"" + aliceKey + "\",\"room_id\":\"" +
			                                             room + "\",\"source_id\":\"" + aliceConnection + "\"}");
			if (!message.ok())
				problem = "Offer " + std::to_string(relayed) + " not relayed within 1 s: " + message.error;
			else if (message.payload != expected)
				problem = "relayed " + message.payload + " instead of " + expected;
			++relayed;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		floodThread.join();
		std::printf("\nGovpnAbuseIntegrationTest: %d Offers relayed during a flood of %d Pings (%d answered, "
		            "%d rate-limit errors) over %lld ms; worst relay latency %.1f ms\n",
		            relayed, floodSent, floodReplies, floodErrors, static_cast<long long>(floodMs),
		            static_cast<double>(worstMicros) / 1000.0);
		CPPUNIT_ASSERT_EQUAL(std::string(), floodProblem);
		CPPUNIT_ASSERT_EQUAL(std::string(), problem);
		CPPUNIT_ASSERT(relayed >= 10);
		// At most one rate-limit Error per second of flooding.
		CPPUNIT_ASSERT(floodSent > 1000 && floodErrors >= 1);
		CPPUNIT_ASSERT(floodErrors <= 1 + static_cast<int>(floodMs / 1000));
		CPPUNIT_ASSERT(worstMicros < 1000000);
		// Alice got no reply to her Offers, and everyone is still served.
		pingReply(MODE_OBJECT, "pa", alice);
		pingReply(MODE_OBJECT, "pb", bob);
		CPPUNIT_ASSERT(flooder.isOpen());
	}

	void testStrictModeChallenge()
	{
		TestServer server;
		startGovpn(server, withFastHashing({{"strict_auth", "true"}}));
		// The signed host is the Host header, lowercased.
		const std::string hostHeader = "VPN.Example.COM:8081";
		const std::string host = "vpn.example.com:8081";
		SigningKey key;
		SigningKey otherKey;
		WsTestClient client;
		connectWs(client, server, {{"Host", hostHeader}, {"X-Client-ID", key.publicKey()}});
		const std::string nonce = challengeNonce(client);

		// Before authenticating only Ping and Authenticate are served.
		client.sendText(createRequest("c1", key.publicKey(), "Strict Room", "1234"));
		expectError(client, MODE_OBJECT, "c1", "Authentication required");
		client.sendText(joinRequest("j1", NO_SUCH_ROOM, "1234", key.publicKey()));
		expectError(client, MODE_OBJECT, "j1", "Authentication required");
		pingReply(MODE_OBJECT, "p1", client);

		// Signatures that must not pass.
		client.sendText(authenticateRequest("s1", key.publicKey(), key.sign("vpn.example.org:8081", nonce)));
		expectError(client, MODE_OBJECT, "s1", "Invalid signature");
		client.sendText(authenticateRequest("s2", key.publicKey(), key.sign(hostHeader, nonce)));
		expectError(client, MODE_OBJECT, "s2", "Invalid signature");
		std::string flipped = key.sign(host, nonce);
		flipped[17] = static_cast<char>(flipped[17] ^ 0x04);
		client.sendText(authenticateRequest("s3", key.publicKey(), flipped));
		expectError(client, MODE_OBJECT, "s3", "Invalid signature");
		client.sendText(authenticateRequest("s4", key.publicKey(), key.sign(host, nonce).substr(0, 63)));
		expectError(client, MODE_OBJECT, "s4", "Invalid signature");
		client.sendText(authenticateRequest("s5", key.publicKey(), otherKey.sign(host, nonce)));
		expectError(client, MODE_OBJECT, "s5", "Invalid signature");

		// The right one: Authenticated, then UserRooms, then ClientIPInfo.
		client.sendText(authenticateRequest("a1", key.publicKey(), key.sign(host, nonce)));
		expectAuthenticated(client, "a1", key.publicKey());
		client.sendText(authenticateRequest("a2", otherKey.publicKey(), otherKey.sign(host, nonce)));
		expectError(client, MODE_OBJECT, "a2", "Public key does not match this connection");
		createRoom(client, "c2", key.publicKey(), "Strict Room", "1234");

		// Each socket has its own nonce: a signature for another socket's nonce is refused.
		WsTestClient replay;
		connectWs(replay, server, {{"Host", hostHeader}});
		const std::string replayNonce = challengeNonce(replay);
		CPPUNIT_ASSERT(replayNonce != nonce);
		replay.sendText(authenticateRequest("r1", key.publicKey(), key.sign(host, nonce)));
		expectError(replay, MODE_OBJECT, "r1", "Invalid signature");
		replay.sendText(authenticateRequest("r2", otherKey.publicKey(), otherKey.sign(host, replayNonce)));
		expectAuthenticated(replay, "r2", otherKey.publicKey());
	}

	void testStrictModeConfiguredHostAndTimeout()
	{
		TestServer server;
		startGovpn(server,
		           withFastHashing(
		               {{"strict_auth", "true"}, {"strict_auth_host", "signal.example.net"}, {"auth_timeout", "1"}}));
		const std::int64_t openedMs = nowMs();
		WsTestClient silent;
		connectWs(silent, server);
		SigningKey key;
		WsTestClient client;
		connectWs(client, server);
		const std::string nonce = challengeNonce(client);
		// strict_auth_host replaces the Host header (here 127.0.0.1:<port>) in the signed text.
		const std::string hostHeader = "127.0.0.1:" + std::to_string(server.port("govpn"));
		client.sendText(authenticateRequest("h1", key.publicKey(), key.sign(hostHeader, nonce)));
		expectError(client, MODE_OBJECT, "h1", "Invalid signature");
		client.sendText(authenticateRequest("h2", key.publicKey(), key.sign("signal.example.net", nonce)));
		expectAuthenticated(client, "h2", key.publicKey());

		// A socket that never authenticates is closed with 1008 after auth_timeout.
		WsTestClient::CloseInfo close = silent.expectClose(5000);
		const std::int64_t closedMs = nowMs();
		CPPUNIT_ASSERT_EQUAL(1008, close.code);
		CPPUNIT_ASSERT_EQUAL(std::string("authentication timeout"), close.reason);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), close.skippedFrames.size()); // the AuthChallenge
		CPPUNIT_ASSERT_MESSAGE(std::to_string(closedMs - openedMs), closedMs - openedMs >= 900);
		// The authenticated socket outlives the timeout.
		sleepUntilMs(openedMs + 1500);
		pingReply(MODE_OBJECT, "p1", client);
	}

	void testIdleClose()
	{
		// Pings every second, a close after 2 s without any inbound frame (a pong counts).
		TestServer server;
		startGovpn(server, withFastHashing({{"ping_interval", "1"}, {"idle_timeout", "2"}}));
		WsTestClient silent;
		silent.setAutoPong(false);
		connectWs(silent, server);
		WsTestClient answering;
		answering.setAutoPong(true);
		connectWs(answering, server);
		const std::int64_t openedMs = nowMs();

		// The answering client reads (and so answers pings) on its own thread for 3.5 s.
		std::string answeringProblem;
		std::thread reader([&] {
			try
			{
				Deadline deadline(3500);
				while (!deadline.expired())
				{
					WsTestClient::Message message = answering.receiveMessage(deadline.remainingMs());
					if (!message.timedOut())
					{
						answeringProblem =
						    "answering client got a frame or a close: " + message.payload + message.error;
						return;
					}
				}
			}
			catch (const std::exception& e)
			{
				answeringProblem = e.what();
			}
		});
		JoinOnExit readerJoiner(reader);
		WsTestClient::CloseInfo close = silent.expectClose(6000);
		const std::int64_t closedMs = nowMs();
		reader.join();
		CPPUNIT_ASSERT_EQUAL(1000, close.code);
		CPPUNIT_ASSERT_EQUAL(std::string("idle timeout"), close.reason);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(closedMs - openedMs), closedMs - openedMs >= 1500);
		CPPUNIT_ASSERT(!close.skippedFrames.empty());
		for (const WsTestClient::Frame& frame : close.skippedFrames)
			CPPUNIT_ASSERT_EQUAL(static_cast<int>(WsTestClient::OPCODE_PING), frame.opcode);

		CPPUNIT_ASSERT_EQUAL(std::string(), answeringProblem);
		CPPUNIT_ASSERT(answering.pingsAnswered() >= 2);
		CPPUNIT_ASSERT(answering.isOpen());
		pingReply(MODE_BASE64, "p1", answering);
	}

	void testOversizedBinaryAndUnknownTypes()
	{
		TestServer server;
		startGovpn(server, withFastHashing({}));
		WsTestClient client;
		connectWs(client, server);

		// A binary frame is read as text; the replies are text frames (receiveText checks).
		const std::string key = publicKey(61);
		client.sendBinary(createRequest("b1", key, "Binary Room", "1234"));
		expectRoomCreated(client, "b1", key, "Binary Room", "1234");
		client.sendBinary(envelope(MODE_BASE64, "b2", "Ping", "{\"timestamp\":42}"));
		expectFrame(client, MODE_BASE64, "b2", "Ping",
		            "{\"client_timestamp\":42,\"server_timestamp\":<NUM>,\"status\":\"ok\"}");

		// Not types: a delete, the never-sent success replies, lowercase, and Authenticate in compat mode.
		for (const char* type : {"Delete", "LeaveRoomSuccess", "DeleteSuccess", "offer", "Authenticate"})
		{
			client.sendText(envelope(MODE_BASE64, std::string("u-") + type, type, "{}"));
			expectError(client, MODE_BASE64, std::string("u-") + type, "Unknown message type");
		}

		// 65536 bytes is the largest message; beyond it the socket is closed with 1009.
		const std::string head = "{\"message_id\":\"big\",\"type\":\"Ping\",\"payload\":{\"timestamp\":7,\"pad\":\"";
		const std::string tail = "\"}}";
		client.sendText(head + std::string(65536 - head.size() - tail.size(), 'x') + tail);
		expectFrame(client, MODE_OBJECT, "big", "Ping",
		            "{\"client_timestamp\":7,\"server_timestamp\":<NUM>,\"status\":\"ok\"}");
		client.sendText(head + std::string(70000 - head.size() - tail.size(), 'x') + tail);
		WsTestClient::CloseInfo close = client.expectClose(WAIT_MS);
		CPPUNIT_ASSERT_EQUAL(1009, close.code);
		CPPUNIT_ASSERT(close.skippedFrames.empty());

		// Others are unaffected.
		WsTestClient other;
		connectWs(other, server);
		pingReply(MODE_OBJECT, "p1", other);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnAbuseIntegrationTest);
