//
// PeerJsPluginTest.cpp
//
// Unit tests of the PeerJS plugin's logic run in FakeHost, asserting the exact frames and bytes of
// docs/protocols/peerjs.md (the § numbers below are its sections).
//


#include "PeerJsPlugin.h"
#include "PeerJsSettings.h"
#include "TokenValidator.h"
#include "switchboard/testing/FakeHost.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <initializer_list>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>


using namespace Switchboard;
using Switchboard::PeerJs::PeerJsPlugin;
using Switchboard::PeerJs::PeerJsSettings;
using Switchboard::PeerJs::TokenValidator;


namespace {


// The server's frames, byte for byte as docs/protocols/peerjs.md §16 lists them.
const std::string OPEN = R"({"type":"OPEN"})";
const std::string ID_TAKEN = R"({"type":"ID-TAKEN","payload":{"msg":"ID is taken"}})";
const std::string NO_ID = R"({"type":"ERROR","payload":{"msg":"No id, token, or key supplied to websocket server"}})";
const std::string BAD_KEY = R"({"type":"ERROR","payload":{"msg":"Invalid key provided"}})";
const std::string BAD_TOKEN = R"({"type":"ERROR","payload":{"msg":"Invalid token provided"}})";
const std::string BAD_ORIGIN = R"({"type":"ERROR","payload":{"msg":"Origin not allowed"}})";
const std::string LIMIT = R"({"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}})";
const std::string INVALID = R"({"type":"ERROR","payload":{"msg":"Invalid message"}})";
const std::string ROOT_BODY = R"({"name":"PeerJS Server","description":"A server side element to broker )"
                              R"(connections between PeerJS clients.","website":"https://peerjs.com/"})";

// How Server::closed() describes a close frame without status: FakeHost reports CloseCode::NONE
// (0) with an empty reason, which browsers see as 1005.
const std::string STATUSLESS = "0 ";

const std::int64_t STEP_MS = 10; // resolution of the timing tests; the expiry check runs every 200 ms


std::string lines(std::initializer_list<std::string> frames)
/// Frames joined with newlines, the form Server::sent() returns.
{
	std::string out;
	for (const std::string& f : frames)
	{
		if (!out.empty())
			out += '\n';
		out += f;
	}
	return out;
}


std::string headerOf(const HttpResponse& response, std::string_view name)
{
	return std::string(HttpText::findHeader(response.headers, name));
}


bool hasHeader(const HttpResponse& response, std::string_view name)
{
	for (const auto& h : response.headers)
	{
		if (HttpText::equalsIgnoreCase(h.first, name))
			return true;
	}
	return false;
}


struct Timed
/// A frame sent while the virtual clock ran, with when (ms since the server started).
{
	std::int64_t at;
	ConnectionId to;
	std::string frame;
};


class Server
/// One PeerJsPlugin started in a FakeHost with the given configuration (path /myapp unless
/// given), plus the few steps every test repeats.
{
public:
	using Settings = std::initializer_list<std::pair<const char*, const char*>>;
	///< Configuration values; a map here would make Server({{"k", "v"}}) ambiguous.

	explicit Server(Settings settings = {}, const std::string& mountPrefix = ""):
	    _host("peerjs", {}, mountPrefix)
	{
		std::map<std::string, std::string> values;
		for (const auto& v : settings)
			values[v.first] = v.second;
		values.emplace("path", "/myapp");
		std::string error = _host.setConfig(PeerJsSettings::keys(), PeerJsSettings::keyCount(), values);
		if (!error.empty())
			throw std::runtime_error("config refused: " + error);
		StartResult result = _host.start(_plugin);
		if (result.status != StartStatus::STARTED)
			throw std::runtime_error("start failed: " + result.message);
		_t0 = _host.monotonicMs();
		_values = values;
		std::string path = PeerJsSettings::normalisePath(values["path"]);
		_ws = mountPrefix + (path == "/" ? "" : path) + "/peerjs";
	}

	~Server() { _host.stop(_plugin); }

	ReconfigureResult reload(Settings changes)
	/// A reload (SIGHUP) of the configuration with changes on top of the values in force.
	{
		static const PluginDescriptor descriptor = makeDescriptor<PeerJsPlugin>(
		    "test.peerjs", "peerjs", "0", "test", PeerJsSettings::keys(), PeerJsSettings::keyCount());
		for (const auto& c : changes)
			_values[c.first] = c.second;
		return _host.reconfigure(_plugin, descriptor, _values);
	}

	FakeHost& host() { return _host; }
	PeerJsPlugin& plugin() { return _plugin; }

	ConnectionId connect(const std::string& query, HeaderList headers = {})
	/// A WebSocket upgrade to the plugin's endpoint with this raw query.
	{
		return _host.connect(_ws + (query.empty() ? "" : "?" + query), std::move(headers));
	}

	ConnectionId connectAs(const std::string& id, const std::string& token = "")
	/// The client's URL for id with token (default "t" + id).
	{
		return connect("key=peerjs&id=" + id + "&token=" + (token.empty() ? "t" + id : token) + "&version=1.5.5");
	}

	ConnectionId join(const std::string& id, const std::string& token = "")
	/// connectAs() for a socket that must get exactly OPEN and stay open.
	{
		ConnectionId c = connectAs(id, token);
		CPPUNIT_ASSERT_MESSAGE("upgrade refused for " + id, c != 0);
		std::string got = sent(c);
		if (got != OPEN)
			CPPUNIT_FAIL("registering " + id + " gave: " + got);
		CPPUNIT_ASSERT(_host.isOpen(c));
		return c;
	}

	void send(ConnectionId c, std::string_view text, MessageKind kind = MessageKind::TEXT)
	{
		CPPUNIT_ASSERT_MESSAGE("deliver to a closed connection", _host.deliver(c, text, kind));
	}

	std::string sent(ConnectionId c)
	/// What the plugin sent to c since the last look, one frame a line; a binary frame is
	/// marked "[binary]" (the plugin only ever sends text).
	{
		std::string out;
		for (const SentMessage& m : _host.takeSent(c))
		{
			if (!out.empty())
				out += '\n';
			if (m.kind == MessageKind::BINARY)
				out += "[binary]";
			out += m.data;
		}
		return out;
	}

	std::string closed(ConnectionId c) const
	/// "<code> <reason>" of the server side's close, "open", or "peer" (closed by the test).
	{
		auto close = _host.closeOf(c);
		if (close)
			return std::to_string(close->first) + " " + close->second;
		return _host.isOpen(c) ? "open" : "peer";
	}

	HttpResponse http(const std::string& method, const std::string& path, HeaderList headers = {})
	{
		return _host.request(method, path, "", std::move(headers));
	}

	std::int64_t now() const { return _host.monotonicMs() - _t0; }

	void advanceTo(std::int64_t t)
	/// Moves the clock to t ms after the start (frames stay for sent()).
	{
		if (t > now())
			_host.advance(t - now());
	}

	std::vector<Timed> runUntil(std::int64_t t, std::initializer_list<ConnectionId> watch)
	/// Moves the clock to t in STEP_MS steps, noting when each watched connection got a frame.
	{
		std::vector<Timed> out;
		while (now() < t)
		{
			_host.advance(std::min(STEP_MS, t - now()));
			for (ConnectionId c : watch)
			{
				for (const SentMessage& m : _host.takeSent(c))
					out.push_back(Timed{now(), c, m.data});
			}
		}
		return out;
	}

	std::string problems() const
	/// The first ERROR or WARNING line FakeHost captured (blocking calls on a loop, invalid
	/// UTF-8 sent as text, exceptions), or "".
	{
		for (const std::string& line : _host.logLines())
		{
			if (line.rfind("ERROR ", 0) == 0 || line.rfind("WARNING ", 0) == 0)
				return line;
		}
		return {};
	}

	std::uint64_t counter(std::string_view name, const Labels& labels = {}) const
	{
		return _host.counterValue(name, labels);
	}

	std::int64_t gauge(std::string_view name) const { return _host.gaugeValue(name); }

private:
	PeerJsPlugin _plugin;
	FakeHost _host;
	std::int64_t _t0 = 0;
	std::string _ws;
	std::map<std::string, std::string> _values;
};


bool isUuidV4(const std::string& s)
{
	static const std::regex UUID("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
	return std::regex_match(s, UUID);
}


std::string offerTo(const std::string& dst, const std::string& payload)
/// An inbound OFFER as the client writes it (type, payload, dst).
{
	return R"({"type":"OFFER","payload":)" + payload + R"(,"dst":")" + dst + "\"}";
}


std::string relayed(const std::string& type, const std::string& src, const std::string& dst, const std::string& payload)
/// The outbound frame of §6.2 for plain ids; payload "" means omitted.
{
	std::string f = R"({"type":")" + type + R"(","src":")" + src + R"(","dst":")" + dst + "\"";
	if (!payload.empty())
		f += ",\"payload\":" + payload;
	return f + "}";
}


std::string expireFrame(const std::string& offline, const std::string& source)
{
	return R"({"type":"EXPIRE","src":")" + offline + R"(","dst":")" + source + "\"}";
}


} // namespace


class PeerJsPluginTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsPluginTest);
	// registration and handshake
	CPPUNIT_TEST(testOpenIsTheOnlyFrame);
	CPPUNIT_TEST(testMissingParameters);
	CPPUNIT_TEST(testInvalidKey);
	CPPUNIT_TEST(testHandshakeOrder);
	CPPUNIT_TEST(testRefusedSocketNeverRegisters);
	CPPUNIT_TEST(testIdTaken);
	CPPUNIT_TEST(testConcurrentLimit);
	CPPUNIT_TEST(testIdDecoding);
	CPPUNIT_TEST(testFirstParameterWins);
	CPPUNIT_TEST(testWebSocketPathIsExact);
	CPPUNIT_TEST(testOriginAllowlist);
	CPPUNIT_TEST(testTokenValidator);
	CPPUNIT_TEST(testBadTokenValidatorFailsStart);
	CPPUNIT_TEST(testDefaultConcurrentLimit);
	// relay
	CPPUNIT_TEST(testSpoofedSrcReplaced);
	CPPUNIT_TEST(testPayloadOmittedOrNull);
	CPPUNIT_TEST(testLeaveAndExpireRelayed);
	CPPUNIT_TEST(testSelfSend);
	CPPUNIT_TEST(testBinaryInTextOut);
	CPPUNIT_TEST(testRealClientFrames);
	CPPUNIT_TEST(testPayloadTextPreserved);
	CPPUNIT_TEST(testDstEscaped);
	CPPUNIT_TEST(testDroppedFrames);
	CPPUNIT_TEST(testMalformedFramesNeverStall);
	CPPUNIT_TEST(testInvalidMessageReplies);
	CPPUNIT_TEST(testInvalidUtf8TextCloses);
	CPPUNIT_TEST(testSupersededSocketNotRelayed);
	// offline queue and EXPIRE
	CPPUNIT_TEST(testQueueDeliveredOnRegistration);
	CPPUNIT_TEST(testQueuedThenLiveKeepOrder);
	CPPUNIT_TEST(testPerPairExpiry);
	CPPUNIT_TEST(testExpireTimeoutConfigured);
	CPPUNIT_TEST(testLifetimeExtends);
	CPPUNIT_TEST(testLifetimeExtendsThenDelivered);
	CPPUNIT_TEST(testExpireToOfflineSourceDropped);
	CPPUNIT_TEST(testExpireToReregisteredSource);
	CPPUNIT_TEST(testPerDestinationBound);
	CPPUNIT_TEST(testPerSourceBound);
	CPPUNIT_TEST(testTotalBytesBound);
	CPPUNIT_TEST(testPairOverflowDiscardsPair);
	CPPUNIT_TEST(testQueuesBelongToIds);
	CPPUNIT_TEST(testDefaultQueueBounds);
	CPPUNIT_TEST(testShutdown);
	CPPUNIT_TEST(testStoppingDiscardsQueues);
	// reattach and close
	CPPUNIT_TEST(testReattach);
	CPPUNIT_TEST(testReattachAtLimit);
	CPPUNIT_TEST(testLeaveWithoutDstIgnored);
	CPPUNIT_TEST(testCloseDeregisters);
	CPPUNIT_TEST(testOversizedMessage);
	// HTTP
	CPPUNIT_TEST(testRootDescription);
	CPPUNIT_TEST(testIdEndpoint);
	CPPUNIT_TEST(testIdSkipsRegisteredIds);
	CPPUNIT_TEST(testPeersDisabled);
	CPPUNIT_TEST(testPeersListing);
	CPPUNIT_TEST(testPeersEscaping);
	CPPUNIT_TEST(testCors);
	CPPUNIT_TEST(testCorsOriginsList);
	CPPUNIT_TEST(testPreflight);
	CPPUNIT_TEST(testOtherRequests404);
	CPPUNIT_TEST(testPathNormalised);
	CPPUNIT_TEST(testRootPath);
	CPPUNIT_TEST(testBelowMountPrefix);
	// slow consumers
	CPPUNIT_TEST(testSlowConsumer);
	CPPUNIT_TEST(testSendBufferBoundary);
	CPPUNIT_TEST(testBrokenDestination);
	// metrics
	CPPUNIT_TEST(testMetrics);
	// reload (SIGHUP)
	CPPUNIT_TEST(testReloadOrigins);
	CPPUNIT_TEST(testReloadKeyAndTokenValidator);
	CPPUNIT_TEST(testReloadLimitsAndReplies);
	CPPUNIT_TEST(testReloadQueueBoundsAndExpiry);
	CPPUNIT_TEST(testReloadSendBuffer);
	CPPUNIT_TEST(testReloadFixedKeysNeedRestart);
	CPPUNIT_TEST_SUITE_END();

public:
	// --- registration and handshake ------------------------------------------------------------

	void testOpenIsTheOnlyFrame()
	{
		// §18.2.2: the client's own URL, version included.
		Server s;
		ConnectionId a = s.connect("key=peerjs&id=alice-65oqhy&token=spbx374184&version=1.5.5");
		CPPUNIT_ASSERT(a != 0);
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("peers"));
		// HEARTBEAT is activity only: never answered.
		s.send(a, R"({"type":"HEARTBEAT"})");
		s.advanceTo(10000);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testMissingParameters()
	{
		// §18.2.1, plus a missing key: step 1 comes before the key check.
		Server s;
		for (const char* query : {"", "key=peerjs&id=x", "key=peerjs&id=&token=t", "id=a&token=t", "key=&id=a&token=t",
		                          "key=peerjs&token=t", "key=peerjs&id=a&token="})
		{
			ConnectionId c = s.connect(query);
			CPPUNIT_ASSERT_MESSAGE(query, c != 0); // the upgrade itself always succeeds
			CPPUNIT_ASSERT_EQUAL_MESSAGE(query, NO_ID, s.sent(c));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(query, STATUSLESS, s.closed(c));
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("peers"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testInvalidKey()
	{
		Server s;
		for (const char* query : {"key=bad&id=a&token=t", "key=PEERJS&id=a&token=t", "key=peerjs%20&id=a&token=t"})
		{
			ConnectionId c = s.connect(query);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(query, BAD_KEY, s.sent(c));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(query, STATUSLESS, s.closed(c));
		}
		// The comparison is made after decoding.
		ConnectionId c = s.connect("key=peer%6As&id=a&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c));

		// A configured key replaces "peerjs".
		Server k({{"key", "s3cret"}});
		ConnectionId d = k.connect("key=peerjs&id=a&token=t");
		CPPUNIT_ASSERT_EQUAL(BAD_KEY, k.sent(d));
		ConnectionId e = k.connect("key=s3cret&id=a&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, k.sent(e));
	}

	void testHandshakeOrder()
	{
		// §5.2: the first failing step decides.
		Server s({{"ws_origin_allowlist", "http://ok.test"},
		          {"token_validator", "hmac-sha256:k"},
		          {"concurrent_limit", "1"}});
		HeaderList evil{{"Origin", "http://evil.test"}};
		// Step 0 before step 1.
		ConnectionId c = s.connect("", evil);
		CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN, s.sent(c));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(c));
		// Step 1 before step 2.
		c = s.connect("key=bad&id=a");
		CPPUNIT_ASSERT_EQUAL(NO_ID, s.sent(c));
		// Step 2 before step 3.
		c = s.connect("key=bad&id=a&token=bad");
		CPPUNIT_ASSERT_EQUAL(BAD_KEY, s.sent(c));

		std::string tokenA = TokenValidator::hmacHex("k", "A");
		ConnectionId a = s.join("A", tokenA);
		// Step 3 before step 4a (the id is taken, and the token is not valid at all) ...
		c = s.connectAs("A", "bad");
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(c));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(c));
		// ... and before step 5 (the server is full).
		c = s.connectAs("C", "bad");
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(c));
		// A valid token for a new id on the full server reaches step 5. (Step 4a before step 5 is
		// in testConcurrentLimit: with this validator an id has one valid token only.)
		c = s.connectAs("C", TokenValidator::hmacHex("k", "C"));
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(c));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(c));
		// Step 4b: reattach with the same (valid) token on the full server.
		ConnectionId a2 = s.join("A", tokenA);
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a2));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testRefusedSocketNeverRegisters()
	{
		// "Nothing else is ever sent on such a socket, and it never becomes a registration."
		Server s({{"allow_discovery", "true"}});
		ConnectionId bad = s.connect("key=bad&id=a&token=t1");
		CPPUNIT_ASSERT_EQUAL(BAD_KEY, s.sent(bad));
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), s.http("GET", "/myapp/peerjs/peers").body);
		ConnectionId b = s.join("B");
		// A message for "a" is queued, not written to the refused socket.
		s.send(b, offerTo("a", "1"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(bad));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		// Another client takes "a" with a different token: no ID-TAKEN, and it gets the queue.
		ConnectionId a = s.connectAs("a", "t2");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "B", "a", "1")}), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(bad));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testIdTaken()
	{
		// §18.2.3
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		ConnectionId other = s.connectAs("A", "other");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(other));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(other));
		// The original socket is unaffected, also after the refused socket's close.
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		s.send(b, offerTo("A", "{\"n\":1}"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "B", "A", "{\"n\":1}"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(other));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("peers"));
	}

	void testConcurrentLimit()
	{
		// §18.2.4: ID-TAKEN is checked before the limit; a reattach ignores it.
		Server s({{"concurrent_limit", "1"}});
		ConnectionId a = s.join("A");
		ConnectionId c = s.connectAs("C");
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(c));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(c));
		ConnectionId taken = s.connectAs("A", "another");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(taken));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(taken));
		ConnectionId a2 = s.connectAs("A");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(a));
		s.host().disconnect(a2, CloseCode::NORMAL);
		ConnectionId c2 = s.connectAs("C");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c2));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testIdDecoding()
	{
		// §18.2.5: URLSearchParams decoding of the id.
		Server s;
		ConnectionId ab = s.connect("key=peerjs&id=a%20b&token=tab");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(ab));
		ConnectionId b = s.join("B");
		s.send(b, R"({"type":"OFFER","dst":"a b","payload":1})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"B","dst":"a b","payload":1})"), s.sent(ab));
		// id=a+b is the same id: taken with another token, reattached with the same one.
		ConnectionId plus = s.connect("key=peerjs&id=a+b&token=other");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(plus));
		ConnectionId again = s.connect("key=peerjs&id=a+b&token=tab");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(again));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(ab));
		// %2B is a literal '+': "a+b" is another id than "a b".
		ConnectionId encoded = s.connect("key=peerjs&id=a%2Bb&token=x");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(encoded));
		// The token is decoded too: %74ab is "tab", so this is a reattach of "a b".
		ConnectionId sameToken = s.connect("key=peerjs&id=a%20b&token=%74ab");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(sameToken));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(again));
		// Invalid UTF-8 after decoding becomes U+FFFD.
		ConnectionId replaced = s.connect("key=peerjs&id=%FF&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(replaced));
		s.send(b, "{\"type\":\"ANSWER\",\"dst\":\"\xEF\xBF\xBD\"}");
		CPPUNIT_ASSERT_EQUAL(std::string("{\"type\":\"ANSWER\",\"src\":\"B\",\"dst\":\"\xEF\xBF\xBD\"}"),
		                     s.sent(replaced));
		// A malformed % sequence is kept literally.
		ConnectionId literal = s.connect("key=peerjs&id=100%&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(literal));
		s.send(b, R"({"type":"ANSWER","dst":"100%"})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"ANSWER","src":"B","dst":"100%"})"), s.sent(literal));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testFirstParameterWins()
	{
		Server s;
		ConnectionId a = s.connect("key=peerjs&id=first&id=second&token=t1&token=t2");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a));
		ConnectionId b = s.join("B");
		s.send(b, R"({"type":"ANSWER","dst":"first"})");
		CPPUNIT_ASSERT_EQUAL(relayed("ANSWER", "B", "first", ""), s.sent(a));
		s.send(b, R"({"type":"ANSWER","dst":"second"})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		// The registered token is the first one.
		ConnectionId t2 = s.connect("key=peerjs&id=first&token=t2");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(t2));
		// The first key decides.
		ConnectionId badFirst = s.connect("key=bad&key=peerjs&id=x&token=t");
		CPPUNIT_ASSERT_EQUAL(BAD_KEY, s.sent(badFirst));
		ConnectionId goodFirst = s.connect("key=peerjs&key=bad&id=x&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(goodFirst));
		// An empty first occurrence counts as missing, even if a later one is set.
		ConnectionId emptyFirst = s.connect("key=peerjs&id=&id=y&token=t");
		CPPUNIT_ASSERT_EQUAL(NO_ID, s.sent(emptyFirst));
	}

	void testWebSocketPathIsExact()
	{
		// §3 and §18.2.6: upgrades elsewhere are refused with 400; a plain GET on the endpoint is 404.
		Server s;
		for (const char* path : {"/myapp/peerjs/", "/myapp//peerjs", "/MYAPP/peerjs", "/myapp/PEERJS", "/peerjs"})
		{
			ConnectionId c = s.host().connect(std::string(path) + "?key=peerjs&id=a&token=t");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ConnectionId(0), c);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 400, s.host().lastRejectStatus());
		}
		CPPUNIT_ASSERT(s.host().connect("/myapp/peerjs?key=peerjs&id=a&token=t") != 0);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/peerjs").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/peerjs?key=peerjs&id=b&token=t").status);
	}

	void testOriginAllowlist()
	{
		// §18.2.7
		Server s({{"ws_origin_allowlist", "http://ok.test, http://also.test"}});
		ConnectionId evil = s.connect("key=peerjs&id=e&token=t", {{"Origin", "http://evil.test"}});
		CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN, s.sent(evil));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(evil));
		ConnectionId ok = s.connect("key=peerjs&id=o&token=t", {{"Origin", "http://ok.test"}});
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(ok));
		ConnectionId also = s.connect("key=peerjs&id=p&token=t", {{"origin", "http://also.test"}});
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(also));
		ConnectionId none = s.connect("key=peerjs&id=n&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(none));
		// Exact comparison: a prefix or another scheme is not in the list.
		ConnectionId otherScheme = s.connect("key=peerjs&id=q&token=t", {{"Origin", "https://ok.test"}});
		CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN, s.sent(otherScheme));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), s.gauge("peers"));

		// Without an allowlist any Origin may connect (as in the reference).
		Server open;
		ConnectionId any = open.connect("key=peerjs&id=e&token=t", {{"Origin", "http://evil.test"}});
		CPPUNIT_ASSERT_EQUAL(OPEN, open.sent(any));
	}

	void testTokenValidator()
	{
		// §18.2.8 with the hmac-sha256 validator.
		Server s({{"token_validator", "hmac-sha256:topsecret"}});
		ConnectionId bad = s.connectAs("alice", "bad");
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(bad));
		CPPUNIT_ASSERT_EQUAL(STATUSLESS, s.closed(bad));
		// A token minted for another id, or under another secret, is refused too.
		ConnectionId otherId = s.connectAs("alice", TokenValidator::hmacHex("topsecret", "bob"));
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(otherId));
		ConnectionId otherSecret = s.connectAs("alice", TokenValidator::hmacHex("other", "alice"));
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(otherSecret));
		std::string good = TokenValidator::hmacHex("topsecret", "alice");
		CPPUNIT_ASSERT_EQUAL(std::size_t(64), good.size());
		ConnectionId a = s.connectAs("alice", good);
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("peers"));
	}

	void testBadTokenValidatorFailsStart()
	{
		for (const char* spec : {"md5:x", "hmac-sha256:", "topsecret"})
		{
			FakeHost host("peerjs");
			CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(PeerJsSettings::keys(), PeerJsSettings::keyCount(),
			                                                   {{"token_validator", spec}}));
			PeerJsPlugin plugin;
			StartResult r = host.start(plugin);
			CPPUNIT_ASSERT_MESSAGE(spec, r.status == StartStatus::FAILED);
			CPPUNIT_ASSERT_MESSAGE(r.message, r.message.find("token_validator") != std::string::npos);
			CPPUNIT_ASSERT(!host.running());
		}
	}

	void testDefaultConcurrentLimit()
	{
		// §2: concurrent_limit defaults to 50000 (not the reference's 5000).
		Server s;
		for (int i = 0; i < 50000; ++i)
		{
			ConnectionId c = s.connectAs("p" + std::to_string(i));
			if (s.host().takeSent(c).size() != 1 || !s.host().isOpen(c))
				CPPUNIT_FAIL("registration " + std::to_string(i) + " failed");
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(50000), s.gauge("peers"));
		ConnectionId over = s.connectAs("one-more");
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(over));
	}

	// --- relay ---------------------------------------------------------------------------------

	void testSpoofedSrcReplaced()
	{
		// §8.2 / §18.3.1
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"OFFER","src":"spoof","dst":"B","payload":{"sdp":{"type":"offer","sdp":"v=0"},)"
		          R"("type":"data","connectionId":"dc_1"},"extra":42})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":{"sdp":{"type":"offer",)"
		                                 R"("sdp":"v=0"},"type":"data","connectionId":"dc_1"}})"),
		                     s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		// Keys in another order, src after dst: the outbound order is fixed.
		s.send(a, R"({"payload":[1],"dst":"B","src":"B","type":"CANDIDATE"})");
		CPPUNIT_ASSERT_EQUAL(relayed("CANDIDATE", "A", "B", "[1]"), s.sent(b));
	}

	void testPayloadOmittedOrNull()
	{
		// §18.3.2 and §18.3.3
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"ANSWER","dst":"B"})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"ANSWER","src":"A","dst":"B"})"), s.sent(b));
		s.send(a, R"({"type":"CANDIDATE","dst":"B","payload":"str"})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"CANDIDATE","src":"A","dst":"B","payload":"str"})"), s.sent(b));
		s.send(a, R"({"type":"OFFER","dst":"B","payload":null})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":null})"), s.sent(b));
		// Duplicate keys: the last one wins.
		s.send(a, R"({"type":"OFFER","dst":"A","dst":"B","payload":1,"payload":2})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":2})"), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
	}

	void testLeaveAndExpireRelayed()
	{
		// §18.3.4
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"LEAVE","dst":"B"})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"A","dst":"B"})"), s.sent(b));
		s.send(a, R"({"type":"EXPIRE","dst":"B","payload":{"x":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"EXPIRE","src":"A","dst":"B","payload":{"x":1}})"), s.sent(b));
		// Relaying a LEAVE does not deregister anybody.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("peers"));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(b));
	}

	void testSelfSend()
	{
		// §18.3.5
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, R"({"type":"OFFER","dst":"A","payload":{"self":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"A","payload":{"self":1}})"), s.sent(a));
	}

	void testBinaryInTextOut()
	{
		// §18.3.6: a binary message is read as UTF-8 text; the relay is a text frame.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"OFFER","dst":"B","payload":{"sdp":"v=0"}})", MessageKind::BINARY);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":{"sdp":"v=0"}})"),
		                     s.sent(b)); // sent() marks binary frames
		// Invalid UTF-8 in a binary message is decoded to U+FFFD (as Node's Buffer does); the
		// relayed text frame stays valid UTF-8.
		s.send(a, std::string("{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":\"x\xFFy\"}"), MessageKind::BINARY);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\",\"payload\":\"x\xEF\xBF\xBDy\"}"), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testRealClientFrames()
	{
		// §16 / §18.3.7: real peerjs 1.5.5 frames relayed byte for byte.
		Server s;
		const std::string bob = "86ecb817-6985-4abb-ad5b-746b633bb238";
		ConnectionId alice = s.join("alice-65oqhy", "spbx374184");
		ConnectionId b = s.join(bob, "k3b2x");
		s.send(alice, R"({"type":"CANDIDATE","payload":{"candidate":{"candidate":"candidate:1042475518 1 udp )"
		              R"(2113937151 10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0",)"
		              R"("sdpMLineIndex":0,"usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"},)"
		              R"("dst":"86ecb817-6985-4abb-ad5b-746b633bb238"})");
		CPPUNIT_ASSERT_EQUAL(
		    std::string(R"({"type":"CANDIDATE","src":"alice-65oqhy","dst":"86ecb817-6985-4abb-ad5b-746b633bb238",)"
		                R"("payload":{"candidate":{"candidate":"candidate:1042475518 1 udp 2113937151 10.213.0.1 )"
		                R"(44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0","sdpMLineIndex":0,)"
		                R"("usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"}})"),
		    s.sent(b));
		const std::string payload =
		    R"({"sdp":{"sdp":"v=0\r\no=- 7908551609194361569 2 IN IP4 127.0.0.1\r\n…a=max-message-size:262144\r\n",)"
		    R"("type":"offer"},"type":"data","connectionId":"dc_tspo15p26si","metadata":{"hello":"json"},)"
		    R"("label":"dc_tspo15p26si","reliable":true,"serialization":"json"})";
		s.send(alice, R"({"type":"OFFER","payload":)" + payload + R"(,"dst":")" + bob + "\"}");
		CPPUNIT_ASSERT_EQUAL(
		    R"({"type":"OFFER","src":"alice-65oqhy","dst":")" + bob + R"(","payload":)" + payload + "}", s.sent(b));
		s.send(alice, R"({"type":"HEARTBEAT"})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(alice));
	}

	void testPayloadTextPreserved()
	{
		// §18.3.8: whitespace removed, everything else kept as written.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, "{ \"type\" : \"OFFER\" , \"dst\" : \"B\" , \"payload\" : { \"s\" : \"\xC3\xA9/<\\u2028\" , "
		          "\"n\" : 2.50e1 } }");
		CPPUNIT_ASSERT_EQUAL(std::string("{\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\",\"payload\":{\"s\":"
		                                 "\"\xC3\xA9/<\\u2028\",\"n\":2.50e1}}"),
		                     s.sent(b));
		// Whitespace inside strings is kept; tabs, CR and LF between tokens are not.
		s.send(a, "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":[\t1 ,\r\n\"a b\" ]}");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":[1,"a b"]})"), s.sent(b));
		// Non-ASCII is not escaped, and an escaped one stays escaped.
		s.send(a, "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":\"\xE2\x80\xA8\\u00e9\"}");
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\",\"payload\":\"\xE2\x80\xA8\\u00e9\"}"),
		    s.sent(b));
	}

	void testDstEscaped()
	{
		// §6.3: dst and src decoded, then written as JSON.stringify does.
		Server s;
		// id: a"b\c<TAB>d</é U+2028 \x01
		const std::string weird = "a\"b\\c\td</\xC3\xA9\xE2\x80\xA8\x01";
		ConnectionId w = s.connect("key=peerjs&id=a%22b%5Cc%09d%3C%2F%C3%A9%E2%80%A8%01&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(w));
		ConnectionId b = s.join("B");
		const std::string escaped = "\"a\\\"b\\\\c\\td</\xC3\xA9\xE2\x80\xA8\\u0001\"";
		// The client writes dst with JSON escapes; \u00e9 and \u2028 decode to the same id.
		s.send(b, "{\"type\":\"ANSWER\",\"dst\":\"a\\\"b\\\\c\\td\\u003c\\/\\u00e9\\u2028\\u0001\"}");
		CPPUNIT_ASSERT_EQUAL("{\"type\":\"ANSWER\",\"src\":\"B\",\"dst\":" + escaped + "}", s.sent(w));
		s.send(w, R"({"type":"ANSWER","dst":"B"})");
		CPPUNIT_ASSERT_EQUAL("{\"type\":\"ANSWER\",\"src\":" + escaped + ",\"dst\":\"B\"}", s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testDroppedFrames()
	{
		// §18.3.9: each sends nothing to anyone; a valid OFFER afterwards is delivered.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		ConnectionId c = s.join("C");
		for (const char* frame :
		     {R"({"type":"OFFER","payload":{"a":1}})", R"({"type":"HEARTBEAT"})",
		      R"({"type":"FOO","dst":"B","payload":1})", R"({"type":"OPEN","dst":"B"})",
		      R"({"type":"LEAVE","dst":"nobody"})", R"({"type":"EXPIRE","dst":"nobody"})",
		      R"({"type":"ERROR","dst":"B","payload":{"msg":"x"}})", R"({"type":"ID-TAKEN","dst":"B"})",
		      R"({"type":"offer","dst":"B","payload":1})", R"({"type":"OFFER","dst":"","payload":1})",
		      R"({"type":"OFFER","dst":7,"payload":1})", R"({"type":"OFFER","dst":null})"})
		{
			s.send(a, frame);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string(), s.sent(a));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string(), s.sent(b));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string(), s.sent(c));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string("open"), s.closed(a));
		}
		// LEAVE and EXPIRE to an offline id are never queued.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		s.send(a, R"({"type":"OFFER","dst":"B","payload":{"after":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":{"after":1}})"), s.sent(b));
		// Nobody registers "nobody" later and receives them.
		ConnectionId nobody = s.connectAs("nobody");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(nobody));
	}

	void testMalformedFramesNeverStall()
	{
		// §18.6.7 and §11: ignored, the socket stays open, the next frame is processed.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		for (const char* frame : {"not json", "\"just a string\"", "null", "[]", "{\"type\":5}", "42", "{}", "",
		                          "{\"type\":\"OFFER\",\"dst\":\"B\",}", "\xEF\xBB\xBF{\"type\":\"HEARTBEAT\"}",
		                          "{\"type\":\"OFFER\",\"dst\":\"B\"} x", "{\"type\":\"OFFER\",\"dst\":\"B\" /*c*/}"})
		{
			s.send(a, frame);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string(), s.sent(a));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string(), s.sent(b));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, std::string("open"), s.closed(a));
		}
		s.send(a, R"({"type":"OFFER","dst":"B","payload":{"after":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":{"after":1}})"), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testInvalidMessageReplies()
	{
		// §18.6.7 with reply_error_on_invalid_message: five ERRORs, the socket stays open.
		Server s({{"reply_error_on_invalid_message", "true"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		for (const char* frame : {"not json", "\"just a string\"", "null", "[]", "{\"type\":5}"})
			s.send(a, frame);
		CPPUNIT_ASSERT_EQUAL(lines({INVALID, INVALID, INVALID, INVALID, INVALID}), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		s.send(a, R"({"type":"OFFER","dst":"B","payload":{"after":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"OFFER","src":"A","dst":"B","payload":{"after":1}})"), s.sent(b));
		// The other rows answered (§11): unknown or server-only type, relay type without dst.
		for (const char* frame : {R"({"type":"FOO","dst":"B"})", R"({"type":"OPEN"})",
		                          R"({"type":"OFFER","payload":1})", R"({"type":"ANSWER","dst":""})"})
		{
			s.send(a, frame);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(frame, INVALID, s.sent(a));
		}
		// HEARTBEAT is never answered, and valid relays are not either.
		s.send(a, R"({"type":"HEARTBEAT"})");
		s.send(a, R"({"type":"LEAVE","dst":"nobody"})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));

		// Off by default: nothing is answered.
		Server quiet;
		ConnectionId q = quiet.join("Q");
		quiet.send(q, "not json");
		CPPUNIT_ASSERT_EQUAL(std::string(), quiet.sent(q));
	}

	void testInvalidUtf8TextCloses()
	{
		// §6.1: a text frame that is not UTF-8 closes with 1007 and deregisters.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":\"\xC3\x28\"}");
		CPPUNIT_ASSERT_EQUAL(std::string("1007 text message is not valid UTF-8"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("peers"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		ConnectionId again = s.connectAs("A", "new");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(again));
	}

	void testSupersededSocketNotRelayed()
	{
		// §5.3 step 2 / §13.5. FakeHost closes the old socket at once, so no frame can reach the
		// plugin from it afterwards; what the test can check is that nothing is relayed and the
		// old socket never counts as A again.
		Server s;
		ConnectionId a1 = s.join("A");
		ConnectionId b = s.join("B");
		ConnectionId a2 = s.join("A");
		CPPUNIT_ASSERT(!s.host().deliver(a1, R"({"type":"OFFER","dst":"B","payload":1})"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		s.send(a2, R"({"type":"OFFER","dst":"B","payload":2})");
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "A", "B", "2"), s.sent(b));
		s.send(b, R"({"type":"ANSWER","dst":"A"})");
		CPPUNIT_ASSERT_EQUAL(relayed("ANSWER", "B", "A", ""), s.sent(a2));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a1));
	}

	// --- offline queue and EXPIRE --------------------------------------------------------------

	void testQueueDeliveredOnRegistration()
	{
		// §18.4.1: global enqueue order across sources; LEAVE is not queued; no EXPIRE.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"OFFER","dst":"C","payload":{"n":1}})");
		s.send(a, R"({"type":"CANDIDATE","dst":"C","payload":{"n":2}})");
		s.send(b, R"({"type":"OFFER","dst":"C","payload":{"n":3}})");
		s.send(a, R"({"type":"LEAVE","dst":"C"})");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), s.gauge("queued_messages"));
		s.advanceTo(900);
		ConnectionId c = s.connectAs("C");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, R"({"type":"OFFER","src":"A","dst":"C","payload":{"n":1}})",
		                            R"({"type":"CANDIDATE","src":"A","dst":"C","payload":{"n":2}})",
		                            R"({"type":"OFFER","src":"B","dst":"C","payload":{"n":3}})"}),
		                     s.sent(c));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_bytes"));
		std::vector<Timed> later = s.runUntil(12000, {a, b, c});
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), later.size());
	}

	void testQueuedThenLiveKeepOrder()
	{
		// §13.2: partly queued, then live, in the order sent.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("C", "1"));
		s.send(a, offerTo("C", "2"));
		ConnectionId c = s.connectAs("C");
		s.send(a, offerTo("C", "3"));
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "C", "1"), relayed("OFFER", "A", "C", "2"),
		                            relayed("OFFER", "A", "C", "3")}),
		                     s.sent(c));
	}

	void testPerPairExpiry()
	{
		// §9.2 example / §18.4.2: pairs expire independently, each expire_timeout after its newest.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, offerTo("D", "1"));
		s.send(a, offerTo("D", "2"));
		std::vector<Timed> got = s.runUntil(3000, {a, b});
		s.send(b, offerTo("D", "3"));
		std::vector<Timed> rest = s.runUntil(12000, {a, b});
		got.insert(got.end(), rest.begin(), rest.end());
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), got.size());
		CPPUNIT_ASSERT(got[0].to == a);
		CPPUNIT_ASSERT_EQUAL(expireFrame("D", "A"), got[0].frame);
		CPPUNIT_ASSERT_MESSAGE("A's EXPIRE at " + std::to_string(got[0].at), got[0].at >= 5000 && got[0].at <= 6000);
		CPPUNIT_ASSERT(got[1].to == b);
		CPPUNIT_ASSERT_EQUAL(expireFrame("D", "B"), got[1].frame);
		CPPUNIT_ASSERT_MESSAGE("B's EXPIRE at " + std::to_string(got[1].at), got[1].at >= 8000 && got[1].at <= 9000);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		// D registering afterwards gets nothing: no pair is delivered after its EXPIRE.
		ConnectionId d = s.connectAs("D");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(d));
	}

	void testExpireTimeoutConfigured()
	{
		// The window follows expire_timeout, also for a message queued between two checks.
		Server s({{"expire_timeout", "1500"}});
		ConnectionId a = s.join("A");
		s.advanceTo(130);
		s.send(a, offerTo("D", "1"));
		std::vector<Timed> got = s.runUntil(5000, {a});
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		CPPUNIT_ASSERT_EQUAL(expireFrame("D", "A"), got[0].frame);
		CPPUNIT_ASSERT_MESSAGE("EXPIRE at " + std::to_string(got[0].at), got[0].at >= 1630 && got[0].at <= 2630);
	}

	void testLifetimeExtends()
	{
		// §18.4.3, D never comes: one EXPIRE, expire_timeout after the newest message.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("D", "1"));
		std::vector<Timed> got = s.runUntil(3000, {a});
		s.send(a, offerTo("D", "2"));
		std::vector<Timed> rest = s.runUntil(12000, {a});
		got.insert(got.end(), rest.begin(), rest.end());
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		CPPUNIT_ASSERT_EQUAL(expireFrame("D", "A"), got[0].frame);
		CPPUNIT_ASSERT_MESSAGE("EXPIRE at " + std::to_string(got[0].at), got[0].at >= 8000 && got[0].at <= 9000);
	}

	void testLifetimeExtendsThenDelivered()
	{
		// §18.4.3, second run: D connects at 6 s and gets both; A gets no EXPIRE.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("D", "1"));
		std::vector<Timed> got = s.runUntil(3000, {a});
		s.send(a, offerTo("D", "2"));
		std::vector<Timed> more = s.runUntil(6000, {a});
		got.insert(got.end(), more.begin(), more.end());
		ConnectionId d = s.connectAs("D");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "D", "1"), relayed("OFFER", "A", "D", "2")}),
		                     s.sent(d));
		more = s.runUntil(15000, {a, d});
		got.insert(got.end(), more.begin(), more.end());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), got.size());
	}

	void testExpireToOfflineSourceDropped()
	{
		// §18.4.4: the EXPIRE for a source that went away is dropped, never queued.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, offerTo("D", "1"));
		s.host().disconnect(a, CloseCode::NORMAL);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages")); // survives its source's disconnect
		std::vector<Timed> got = s.runUntil(7000, {a, b});
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), got.size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		ConnectionId a2 = s.connectAs("A");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
		got = s.runUntil(14000, {a2, b});
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), got.size());
		// D never gets the expired message either.
		ConnectionId d = s.connectAs("D");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(d));
	}

	void testExpireToReregisteredSource()
	{
		// §9.5: if another client registered the source id meanwhile, it gets the EXPIRE.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("D", "1"));
		s.host().disconnect(a);
		s.advanceTo(1000);
		ConnectionId a2 = s.join("A", "someone-else");
		std::vector<Timed> got = s.runUntil(7000, {a2});
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		CPPUNIT_ASSERT_EQUAL(expireFrame("D", "A"), got[0].frame);
		CPPUNIT_ASSERT_MESSAGE("EXPIRE at " + std::to_string(got[0].at), got[0].at >= 5000 && got[0].at <= 6000);
	}

	void testPerDestinationBound()
	{
		// §18.4.5 with max_queue_per_destination=3, plus the suppression window ending early when
		// the destination registers (§9.4 rule 4).
		Server s({{"max_queue_per_destination", "3"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		for (int i = 1; i <= 3; ++i)
			s.send(a, offerTo("X", std::to_string(i)));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		s.send(b, offerTo("X", "4"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("X", "B"), s.sent(b));
		// Within the window: dropped without another EXPIRE.
		s.advanceTo(1000);
		s.send(b, offerTo("X", "5"));
		s.send(b, R"({"type":"CANDIDATE","dst":"X","payload":6})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), s.gauge("queued_messages"));
		ConnectionId x = s.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "X", "1"), relayed("OFFER", "A", "X", "2"),
		                            relayed("OFFER", "A", "X", "3")}),
		                     s.sent(x));
		// X registered: the window is over although expire_timeout has not passed.
		s.host().disconnect(x);
		s.send(b, offerTo("X", "7"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		ConnectionId x2 = s.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "B", "X", "7")}), s.sent(x2));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.runUntil(9000, {a, b}).size());
	}

	void testPerSourceBound()
	{
		// §18.4.6 with max_queue_per_source=2, plus the window's length.
		Server s({{"max_queue_per_source", "2"}});
		ConnectionId a = s.join("A");
		s.send(a, offerTo("X", "1"));
		s.send(a, offerTo("X", "2"));
		s.advanceTo(100);
		s.send(a, offerTo("Y", "1"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("Y", "A"), s.sent(a));
		for (int i = 2; i <= 4; ++i)
			s.send(a, offerTo("Y", std::to_string(i)));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("queued_messages"));
		s.advanceTo(1000);
		ConnectionId x = s.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "X", "1"), relayed("OFFER", "A", "X", "2")}),
		                     s.sent(x));
		// A's slots are free now, yet (A, Y) stays silent until expire_timeout after its EXPIRE.
		s.advanceTo(5000);
		s.send(a, offerTo("Y", "5"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		s.advanceTo(5200);
		s.send(a, offerTo("Y", "6"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		ConnectionId y = s.connectAs("Y");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "Y", "6")}), s.sent(y));
	}

	void testTotalBytesBound()
	{
		// §9.4 total bytes, counted as the queued frames' final text (§9.1): exactly at the bound
		// is admitted, one byte beyond is not.
		Server s({{"max_queued_bytes_total", "1024"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		const std::string head = R"({"type":"OFFER","src":"A","dst":"X","payload":")";
		const std::string pad(512 - head.size() - 2, 'p');
		const std::string frame = head + pad + "\"}";
		CPPUNIT_ASSERT_EQUAL(std::size_t(512), frame.size());
		s.send(a, offerTo("X", "\"" + pad + "\""));
		s.send(a, offerTo("X", "\"" + pad + "\""));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1024), s.gauge("queued_bytes"));
		s.send(b, R"({"type":"ANSWER","dst":"Y"})");
		CPPUNIT_ASSERT_EQUAL(expireFrame("Y", "B"), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1024), s.gauge("queued_bytes"));
		ConnectionId x = s.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, frame, frame}), s.sent(x));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_bytes"));
		// Room again: another pair is admitted, the rejected pair stays in its window.
		s.send(b, R"({"type":"ANSWER","dst":"Z"})");
		s.send(b, R"({"type":"ANSWER","dst":"Y"})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(std::string(R"({"type":"ANSWER","src":"B","dst":"Z"})").size()),
		                     s.gauge("queued_bytes"));
	}

	void testPairOverflowDiscardsPair()
	{
		// §18.4.7: the whole pair goes, with one EXPIRE; never partly delivered.
		Server s({{"max_queue_per_source", "2"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(b, offerTo("X", "0"));
		s.send(a, offerTo("X", "1"));
		s.send(a, offerTo("X", "2"));
		s.send(a, offerTo("X", "3"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("X", "A"), s.sent(a));
		s.send(a, offerTo("X", "4"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		ConnectionId x = s.connectAs("X");
		// B's message (another pair) is intact.
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "B", "X", "0")}), s.sent(x));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.runUntil(8000, {a, b}).size());

		Server only({{"max_queue_per_source", "2"}});
		ConnectionId a1 = only.join("A");
		for (int i = 1; i <= 3; ++i)
			only.send(a1, offerTo("X", std::to_string(i)));
		CPPUNIT_ASSERT_EQUAL(expireFrame("X", "A"), only.sent(a1));
		ConnectionId x1 = only.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(OPEN, only.sent(x1));
	}

	void testQueuesBelongToIds()
	{
		// §18.4.8
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("C", "1"));
		ConnectionId c = s.connectAs("C", "any-token-at-all");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "C", "1")}), s.sent(c));
		// And they do not follow a token: C leaves, a message is queued, C comes back with a new token.
		s.host().disconnect(c);
		s.send(a, offerTo("C", "2"));
		ConnectionId c2 = s.connectAs("C", "yet-another");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "C", "2")}), s.sent(c2));
	}

	void testDefaultQueueBounds()
	{
		// §2 defaults: 64 messages per source, 128 per destination.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		ConnectionId c = s.join("C");
		for (int i = 0; i < 64; ++i)
			s.send(a, offerTo("X", std::to_string(i)));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		s.send(a, offerTo("Y", "64"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("Y", "A"), s.sent(a));
		for (int i = 0; i < 64; ++i)
			s.send(b, offerTo("X", std::to_string(i)));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(128), s.gauge("queued_messages"));
		s.send(c, offerTo("X", "128"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("X", "C"), s.sent(c));
		ConnectionId x = s.connectAs("X");
		CPPUNIT_ASSERT_EQUAL(std::size_t(129), s.host().takeSent(x).size());
	}

	void testShutdown()
	{
		// §14 / §18.7: close 1001 to every socket; queues discarded without EXPIRE.
		PeerJsPlugin plugin;
		FakeHost host("peerjs");
		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(PeerJsSettings::keys(), PeerJsSettings::keyCount(), {}));
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
		ConnectionId a = host.connect("/peerjs?key=peerjs&id=A&token=t");
		ConnectionId b = host.connect("/peerjs?key=peerjs&id=B&token=t");
		host.deliver(a, offerTo("D", "1"));
		host.advance(4900);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), host.gaugeValue("queued_messages"));
		host.takeSent(a);
		host.takeSent(b);
		host.stop(plugin);
		CPPUNIT_ASSERT(host.closeOf(a).has_value());
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1001), host.closeOf(a)->first);
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1001), host.closeOf(b)->first);
		CPPUNIT_ASSERT(host.takeSent(a).empty());
		CPPUNIT_ASSERT(host.takeSent(b).empty());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("queued_bytes"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("peers"));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(0), host.counterValue("expirations_total"));
	}

	void testStoppingDiscardsQueues()
	{
		// Between stopping() and the end of the drain the expiry timer may still run: it must not
		// produce the EXPIREs of the discarded queues, and nothing new is queued.
		Server s;
		ConnectionId a = s.join("A");
		s.send(a, offerTo("D", "1"));
		s.plugin().stopping();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		s.send(a, offerTo("E", "1"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.runUntil(8000, {a}).size());
	}

	// --- reattach and close --------------------------------------------------------------------

	void testReattach()
	{
		// §18.6.1 and §18.6.2
		Server s({{"allow_discovery", "true"}});
		ConnectionId a1 = s.join("A", "tA");
		ConnectionId b = s.join("B");
		ConnectionId a2 = s.connectAs("A", "tA");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(a1));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a1));
		s.send(b, offerTo("A", "{\"n\":1}"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "B", "A", "{\"n\":1}"), s.sent(a2));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a1));
		// The old socket's close (reported already) did not remove the registration.
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("peers"));
		CPPUNIT_ASSERT_EQUAL(std::string("[\"A\",\"B\"]"), s.http("GET", "/myapp/peerjs/peers").body);
		s.send(b, offerTo("A", "{\"n\":2}"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "B", "A", "{\"n\":2}"), s.sent(a2));
		ConnectionId third = s.connectAs("A", "other");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(third));
		// A third reattach supersedes the second in turn; the first stays closed and silent.
		ConnectionId a3 = s.connectAs("A", "tA");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a3));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(a2));
		s.send(a3, R"({"type":"ANSWER","dst":"B"})");
		CPPUNIT_ASSERT_EQUAL(relayed("ANSWER", "A", "B", ""), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testReattachAtLimit()
	{
		// §18.6.3
		Server s({{"concurrent_limit", "1"}});
		ConnectionId a = s.join("A");
		ConnectionId a2 = s.connectAs("A");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("peers"));
		ConnectionId c = s.connectAs("C");
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(c));
	}

	void testLeaveWithoutDstIgnored()
	{
		// §18.6.4 / §15 #6
		Server s({{"allow_discovery", "true"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, R"({"type":"LEAVE"})");
		s.send(a, R"({"type":"LEAVE","payload":{"x":1}})");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		ConnectionId other = s.connectAs("A", "another");
		CPPUNIT_ASSERT_EQUAL(ID_TAKEN, s.sent(other));
		s.send(b, offerTo("A", "1"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "B", "A", "1"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string("[\"A\",\"B\"]"), s.http("GET", "/myapp/peerjs/peers").body);
	}

	void testCloseDeregisters()
	{
		// §18.6.5: the id is free again, nobody is told, later messages are queued and expire.
		Server s({{"allow_discovery", "true"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.host().disconnect(a, CloseCode::NORMAL);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string("[\"B\"]"), s.http("GET", "/myapp/peerjs/peers").body);
		s.send(b, offerTo("A", "1"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		std::vector<Timed> got = s.runUntil(7000, {b});
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), got.size());
		CPPUNIT_ASSERT_EQUAL(expireFrame("A", "B"), got[0].frame);
		CPPUNIT_ASSERT_MESSAGE("EXPIRE at " + std::to_string(got[0].at), got[0].at >= 5000 && got[0].at <= 6000);
		ConnectionId a2 = s.connectAs("A", "new");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
		// A lost TCP connection (1006) deregisters as well.
		s.host().disconnect(a2);
		ConnectionId a3 = s.connectAs("A", "newer");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a3));
	}

	void testOversizedMessage()
	{
		// §18.6.6: beyond max_message_size (default 65536) the socket is closed with 1009.
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		const std::string head = R"({"type":"OFFER","dst":"B","payload":")";
		std::string fits = head + std::string(65536 - head.size() - 2, 'x') + "\"}";
		s.send(a, fits);
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::size_t(65536 + 10), s.sent(b).size()); // + "src":"A",
		s.send(a, std::string(70000, ' '));
		CPPUNIT_ASSERT_EQUAL(std::string("1009 Message too big"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		ConnectionId a2 = s.connectAs("A", "new");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a2));
	}

	// --- HTTP ----------------------------------------------------------------------------------

	void testRootDescription()
	{
		// §4.1 / §18.1.1
		Server s;
		CPPUNIT_ASSERT_EQUAL(std::size_t(140), ROOT_BODY.size());
		for (const char* path : {"/myapp", "/myapp/", "/MyApp", "/myapp?x=1"})
		{
			HttpResponse r = s.http("GET", path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("application/json; charset=utf-8"),
			                             headerOf(r, "Content-Type"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ROOT_BODY, r.body);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("140"), headerOf(r, "Content-Length"));
		}
		HttpResponse head = s.http("HEAD", "/myapp");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT_EQUAL(std::string(), head.body);
		CPPUNIT_ASSERT_EQUAL(std::string("140"), headerOf(head, "Content-Length"));
		CPPUNIT_ASSERT_EQUAL(std::string("application/json; charset=utf-8"), headerOf(head, "Content-Type"));
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp//").status);
	}

	void testIdEndpoint()
	{
		// §4.2 / §18.1.2 / §18.1.3
		Server s;
		std::set<std::string> seen;
		for (const char* path : {"/myapp/peerjs/id?ts=17953160365230.4419043131423206&version=1.5.5",
		                         "/myapp/peerjs/id", "/myapp/wrongkey/id", "/MYAPP/peerjs/ID", "/myapp/peerjs/id/"})
		{
			HttpResponse r = s.http("GET", path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("text/html; charset=utf-8"), headerOf(r, "Content-Type"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::size_t(36), r.body.size());
			CPPUNIT_ASSERT_MESSAGE(path + std::string(": ") + r.body, isUuidV4(r.body));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("36"), headerOf(r, "Content-Length"));
			seen.insert(r.body);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), seen.size()); // different each time
		HttpResponse head = s.http("HEAD", "/myapp/peerjs/id");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT_EQUAL(std::string(), head.body);
		CPPUNIT_ASSERT_EQUAL(std::string("36"), headerOf(head, "Content-Length"));
		CPPUNIT_ASSERT_EQUAL(404, s.http("POST", "/myapp/peerjs/id").status);
		// <anykey> is exactly one non-empty segment.
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp//id").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/a/b/id").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/peerjs/id//").status);
		// The id is not reserved: the first WebSocket with it gets it.
		std::string id = s.http("GET", "/myapp/peerjs/id").body;
		ConnectionId c = s.connectAs(id);
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c));
	}

	void testIdSkipsRegisteredIds()
	{
		// §4.2: an id registered at that moment is never handed out. FakeHost's random stream is
		// repeatable, so the next id can be registered before it is generated.
		Server s;
		s.host().setRandomSeed(12345);
		std::string first = s.http("GET", "/myapp/peerjs/id").body;
		std::string second = s.http("GET", "/myapp/peerjs/id").body;
		CPPUNIT_ASSERT(first != second);
		ConnectionId c = s.connectAs(first);
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c));
		s.host().setRandomSeed(12345);
		CPPUNIT_ASSERT_EQUAL(second, s.http("GET", "/myapp/peerjs/id").body);
	}

	void testPeersDisabled()
	{
		// §4.3 / §18.1.4, with CORS on the 401 too (§4.4).
		Server s;
		s.join("A");
		for (const char* path : {"/myapp/peerjs/peers", "/myapp/anykey/PEERS/"})
		{
			HttpResponse r = s.http("GET", path, {{"Origin", "http://example.test"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("text/plain; charset=utf-8"), headerOf(r, "Content-Type"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("Unauthorized"), r.body);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("http://example.test"),
			                             headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("Origin"), headerOf(r, "Vary"));
		}
	}

	void testPeersListing()
	{
		// §18.1.4: registration order, oldest first; a reattach keeps its place.
		Server s({{"allow_discovery", "true"}});
		HttpResponse r = s.http("GET", "/myapp/peerjs/peers");
		CPPUNIT_ASSERT_EQUAL(200, r.status);
		CPPUNIT_ASSERT_EQUAL(std::string("application/json; charset=utf-8"), headerOf(r, "Content-Type"));
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), r.body);
		// Ids chosen so that hash or lexical order would differ from registration order.
		ConnectionId z = s.join("zed");
		ConnectionId a = s.join("A");
		s.join("B");
		s.join("86ecb817-6985-4abb-ad5b-746b633bb238");
		const std::string all = R"(["zed","A","B","86ecb817-6985-4abb-ad5b-746b633bb238"])";
		CPPUNIT_ASSERT_EQUAL(all, s.http("GET", "/myapp/peerjs/peers").body);
		s.join("zed"); // reattach
		CPPUNIT_ASSERT_EQUAL(std::string("4000 superseded"), s.closed(z));
		CPPUNIT_ASSERT_EQUAL(all, s.http("GET", "/myapp/wrongkey/peers").body);
		s.host().disconnect(a, CloseCode::NORMAL);
		CPPUNIT_ASSERT_EQUAL(std::string(R"(["zed","B","86ecb817-6985-4abb-ad5b-746b633bb238"])"),
		                     s.http("GET", "/myapp/peerjs/peers").body);
		s.join("A", "back");
		CPPUNIT_ASSERT_EQUAL(std::string(R"(["zed","B","86ecb817-6985-4abb-ad5b-746b633bb238","A"])"),
		                     s.http("GET", "/myapp/peerjs/peers").body);
		HttpResponse head = s.http("HEAD", "/myapp/peerjs/peers");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT_EQUAL(std::string(), head.body);
	}

	void testPeersEscaping()
	{
		// §4.3 / §6.3: JSON.stringify escaping of ids.
		Server s({{"allow_discovery", "true"}});
		// a"b  c\d  e<LF>f  <0x01>  /<é U+2028 <0x1F>
		for (const char* id : {"a%22b", "c%5Cd", "e%0Af", "%01", "%2F%3C%C3%A9%E2%80%A8%1F", "%08%0C%0D%09"})
		{
			ConnectionId c = s.connect("key=peerjs&id=" + std::string(id) + "&token=t");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(id, OPEN, s.sent(c));
		}
		CPPUNIT_ASSERT_EQUAL(
		    std::string("[\"a\\\"b\",\"c\\\\d\",\"e\\nf\",\"\\u0001\",\"/<\xC3\xA9\xE2\x80\xA8\\u001f\","
		                "\"\\b\\f\\r\\t\"]"),
		    s.http("GET", "/myapp/peerjs/peers").body);
	}

	void testCors()
	{
		// §4.4 / §18.1.5 on every route.
		Server s({{"allow_discovery", "true"}});
		for (const char* path : {"/myapp", "/myapp/peerjs/id", "/myapp/peerjs/peers"})
		{
			HttpResponse r = s.http("GET", path, {{"Origin", "http://example.test"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("http://example.test"),
			                             headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("Origin"), headerOf(r, "Vary"));
			CPPUNIT_ASSERT_MESSAGE(path, !hasHeader(r, "Access-Control-Allow-Credentials"));

			HttpResponse none = s.http("GET", path);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, none.status);
			CPPUNIT_ASSERT_MESSAGE(path, !hasHeader(none, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("Origin"), headerOf(none, "Vary"));
			CPPUNIT_ASSERT_MESSAGE(path, !hasHeader(none, "Access-Control-Allow-Credentials"));
		}
		HttpResponse head = s.http("HEAD", "/myapp/peerjs/id", {{"Origin", "http://h.test"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://h.test"), headerOf(head, "Access-Control-Allow-Origin"));
	}

	void testCorsOriginsList()
	{
		// §18.1.5 with cors_origins: listed origins only; the status and body are unchanged.
		Server s({{"cors_origins", "http://o1, http://o2"}});
		HttpResponse o1 = s.http("GET", "/myapp/peerjs/id", {{"Origin", "http://o1"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://o1"), headerOf(o1, "Access-Control-Allow-Origin"));
		HttpResponse o2 = s.http("GET", "/myapp", {{"Origin", "http://o2"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://o2"), headerOf(o2, "Access-Control-Allow-Origin"));
		HttpResponse o3 = s.http("GET", "/myapp", {{"Origin", "http://o3"}});
		CPPUNIT_ASSERT_EQUAL(200, o3.status);
		CPPUNIT_ASSERT_EQUAL(ROOT_BODY, o3.body);
		CPPUNIT_ASSERT(!hasHeader(o3, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), headerOf(o3, "Vary"));
		HttpResponse denied = s.http("GET", "/myapp/peerjs/peers", {{"Origin", "http://o3"}});
		CPPUNIT_ASSERT_EQUAL(401, denied.status);
		CPPUNIT_ASSERT(!hasHeader(denied, "Access-Control-Allow-Origin"));
		HttpResponse pre = s.http("OPTIONS", "/myapp/peerjs/id", {{"Origin", "http://o3"}});
		CPPUNIT_ASSERT_EQUAL(204, pre.status);
		CPPUNIT_ASSERT(!hasHeader(pre, "Access-Control-Allow-Origin"));
		HttpResponse preOk = s.http("OPTIONS", "/myapp/peerjs/id", {{"Origin", "http://o2"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://o2"), headerOf(preOk, "Access-Control-Allow-Origin"));
	}

	void testPreflight()
	{
		// §4.4 preflight on every HTTP path, with the case and trailing-slash rules.
		Server s;
		for (const char* path : {"/myapp/peerjs/id", "/myapp", "/myapp/", "/myapp/peerjs/peers", "/MYAPP/x/ID/"})
		{
			HttpResponse r =
			    s.http("OPTIONS", path, {{"Origin", "http://example.test"}, {"Access-Control-Request-Headers", "x-a"}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 204, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string(), r.body);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("0"), headerOf(r, "Content-Length"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("http://example.test"),
			                             headerOf(r, "Access-Control-Allow-Origin"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("GET,HEAD,PUT,PATCH,POST,DELETE"),
			                             headerOf(r, "Access-Control-Allow-Methods"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("x-a"), headerOf(r, "Access-Control-Allow-Headers"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("Origin, Access-Control-Request-Headers"),
			                             headerOf(r, "Vary"));
			CPPUNIT_ASSERT_MESSAGE(path, !hasHeader(r, "Access-Control-Allow-Credentials"));
		}
		HttpResponse bare = s.http("OPTIONS", "/myapp/peerjs/id");
		CPPUNIT_ASSERT_EQUAL(204, bare.status);
		CPPUNIT_ASSERT(!hasHeader(bare, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT(!hasHeader(bare, "Access-Control-Allow-Headers"));
		CPPUNIT_ASSERT_EQUAL(std::string("GET,HEAD,PUT,PATCH,POST,DELETE"),
		                     headerOf(bare, "Access-Control-Allow-Methods"));
	}

	void testOtherRequests404()
	{
		// §3: other methods on these paths, and other paths under <P>, answer 404.
		Server s({{"allow_discovery", "true"}});
		CPPUNIT_ASSERT_EQUAL(404, s.http("POST", "/myapp/peerjs/id").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("PUT", "/myapp").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("DELETE", "/myapp/peerjs/peers").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("PATCH", "/myapp/peerjs/peers").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/peerjs/other").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myappx").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/peerjs/id").status);
	}

	void testPathNormalised()
	{
		// §2: path=myapp/ behaves as /myapp; doubled slashes collapse.
		for (const char* path : {"myapp/", "/myapp/", "//myapp//", "myapp"})
		{
			Server s({{"path", path}});
			HttpResponse root = s.http("GET", "/myapp");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, root.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ROOT_BODY, root.body);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, s.http("GET", "/myapp/").status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, s.http("GET", "/myapp/peerjs/id").status);
			ConnectionId c = s.host().connect("/myapp/peerjs?key=peerjs&id=a&token=t");
			CPPUNIT_ASSERT_MESSAGE(path, c != 0);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, OPEN, s.sent(c));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ConnectionId(0),
			                             s.host().connect("/myapp//peerjs?key=peerjs&id=b&token=t"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 404, s.http("GET", "/myapp//peerjs/id").status);
		}
		CPPUNIT_ASSERT_EQUAL(std::string("/a/b"), PeerJsSettings::normalisePath("a//b/"));
		CPPUNIT_ASSERT_EQUAL(std::string("/"), PeerJsSettings::normalisePath(""));
		CPPUNIT_ASSERT_EQUAL(std::string("/"), PeerJsSettings::normalisePath("///"));
	}

	void testRootPath()
	{
		// §3 with path "/": root at /, id at /peerjs/id, WebSocket at /peerjs.
		for (const char* path : {"/", ""})
		{
			Server s({{"path", path}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ROOT_BODY, s.http("GET", "/").body);
			HttpResponse id = s.http("GET", "/peerjs/id");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, id.status);
			CPPUNIT_ASSERT_MESSAGE(path, isUuidV4(id.body));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 401, s.http("GET", "/peerjs/peers").status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 404, s.http("GET", "/peerjs").status);
			ConnectionId c = s.host().connect("/peerjs?key=peerjs&id=a&token=t");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, OPEN, s.sent(c));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, ConnectionId(0), s.host().connect("//peerjs?key=peerjs&id=b&token=t"));
		}
	}

	void testBelowMountPrefix()
	{
		// The plugin's paths sit below the host's mount prefix for it.
		Server s({{"path", "/myapp"}}, "/signal");
		CPPUNIT_ASSERT_EQUAL(ROOT_BODY, s.http("GET", "/signal/myapp").body);
		CPPUNIT_ASSERT_EQUAL(200, s.http("GET", "/signal/myapp/peerjs/id").status);
		CPPUNIT_ASSERT_EQUAL(404, s.http("GET", "/myapp/peerjs/id").status);
		ConnectionId c = s.host().connect("/signal/myapp/peerjs?key=peerjs&id=a&token=t");
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c));
	}

	// --- slow consumers ------------------------------------------------------------------------

	void testSlowConsumer()
	{
		// §8.3: close 1008 "send buffer overflow", deregister, LEAVE to the sender; later
		// messages to that id are queued.
		Server s({{"allow_discovery", "true"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		// The default max_send_buffer is 16 MiB: reaching it exactly is fine.
		s.host().setBufferedAmount(b, 16 * 1024 * 1024 - relayed("OFFER", "A", "B", "0").size());
		s.send(a, offerTo("B", "0"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "A", "B", "0"), s.sent(b));
		s.host().setBufferedAmount(b, 16 * 1024 * 1024);
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(std::string("1008 send buffer overflow"), s.closed(b));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"B","dst":"A"})"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string("[\"A\"]"), s.http("GET", "/myapp/peerjs/peers").body);
		s.send(a, offerTo("B", "2"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), s.gauge("queued_messages"));
		ConnectionId b2 = s.connectAs("B", "new");
		CPPUNIT_ASSERT_EQUAL(lines({OPEN, relayed("OFFER", "A", "B", "2")}), s.sent(b2));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testSendBufferBoundary()
	{
		// "would exceed max_send_buffer": exactly reaching it is fine, one byte more is not.
		Server s({{"max_send_buffer", "65536"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		const std::string frame = relayed("OFFER", "A", "B", "1");
		s.host().setBufferedAmount(b, 65536 - frame.size());
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(frame, s.sent(b));
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(b));
		s.host().setBufferedAmount(b, 65536 - frame.size() + 1);
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(std::string("1008 send buffer overflow"), s.closed(b));
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"B","dst":"A"})"), s.sent(a));
		// A slow sender to itself is closed without a LEAVE to itself.
		s.host().setBufferedAmount(a, 65536);
		s.send(a, offerTo("A", "1"));
		CPPUNIT_ASSERT_EQUAL(std::string("1008 send buffer overflow"), s.closed(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("peers"));
	}

	void testBrokenDestination()
	{
		// §8.3 for a socket whose writes fail: closed 1008 (by the host for DROPPED), deregistered,
		// LEAVE to the sender.
		Server s({{"allow_discovery", "true"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		ConnectionId c = s.join("C");
		s.host().setSendResult(b, SendResult::DROPPED);
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT(s.host().closeOf(b).has_value());
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1008), s.host().closeOf(b)->first);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"B","dst":"A"})"), s.sent(a));
		s.host().setSendResult(c, SendResult::CLOSED);
		s.send(a, offerTo("C", "1"));
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(1008), s.host().closeOf(c)->first);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"C","dst":"A"})"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string("[\"A\"]"), s.http("GET", "/myapp/peerjs/peers").body);
	}

	// --- metrics -------------------------------------------------------------------------------

	void testMetrics()
	{
		Server s({{"concurrent_limit", "3"}, {"max_queue_per_source", "2"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("peers"));
		// Every metric the plugin registers is one the host exports (the same MetricRules decide).
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.host().registrationErrors().size());

		// Relayed, by type.
		s.send(a, offerTo("B", "1"));
		s.send(a, R"({"type":"ANSWER","dst":"B"})");
		s.send(a, R"({"type":"CANDIDATE","dst":"B","payload":1})");
		s.send(a, R"({"type":"CANDIDATE","dst":"B","payload":2})");
		s.send(a, R"({"type":"LEAVE","dst":"B"})");
		s.send(a, R"({"type":"EXPIRE","dst":"B"})");
		s.sent(b);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("relayed_messages_total", {{"type", "OFFER"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("relayed_messages_total", {{"type", "ANSWER"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), s.counter("relayed_messages_total", {{"type", "CANDIDATE"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("relayed_messages_total", {{"type", "LEAVE"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("relayed_messages_total", {{"type", "EXPIRE"}}));

		// Queued messages and bytes, then an early EXPIRE (queue limit) and a timed one.
		s.send(a, offerTo("X", "1"));
		s.send(a, offerTo("X", "2"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2 * relayed("OFFER", "A", "X", "1").size()), s.gauge("queued_bytes"));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), s.counter("queued_messages_total"));
		s.send(a, offerTo("Y", "1"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("Y", "A"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("limit_hits_total", {{"limit", "offline_queue"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("expirations_total"));
		s.send(b, offerTo("Z", "1"));
		s.runUntil(6000, {a, b});
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(3), s.counter("expirations_total")); // (A, X) and (B, Z)
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_bytes"));

		// Handshake outcomes.
		s.connectAs("A", "other");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("id_taken_total"));
		s.connect("key=bad&id=q&token=t");
		s.connect("");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), s.counter("handshake_errors_total"));
		ConnectionId c = s.join("C");
		s.connectAs("D");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("limit_hits_total", {{"limit", "concurrent_limit"}}));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(3), s.counter("handshake_errors_total"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), s.gauge("peers"));
		s.join("A");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("reattaches_total"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), s.gauge("peers"));

		// Ignored frames; HEARTBEAT is not one of them.
		s.send(b, "not json");
		s.send(b, "[]");
		s.send(b, R"({"type":"FOO","dst":"A"})");
		s.send(b, R"({"type":"HEARTBEAT"})");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(3), s.counter("invalid_messages_total"));

		// A slow consumer.
		s.host().setBufferedAmount(b, 16 * 1024 * 1024);
		s.send(c, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.counter("limit_hits_total", {{"limit", "max_send_buffer"}}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), s.gauge("peers"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	// --- reload (SIGHUP) -----------------------------------------------------------------------

	void testReloadOrigins()
	{
		Server s({{"ws_origin_allowlist", "http://ok.test"}, {"cors_origins", "http://ok.test"}});
		ConnectionId a = s.connect("key=peerjs&id=A&token=t", {{"Origin", "http://ok.test"}});
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(a));
		ConnectionId refused = s.connect("key=peerjs&id=E&token=t", {{"Origin", "http://new.test"}});
		CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN, s.sent(refused));
		HttpResponse before = s.http("GET", "/myapp/peerjs/id", {{"Origin", "http://new.test"}});
		CPPUNIT_ASSERT(!hasHeader(before, "Access-Control-Allow-Origin"));

		ReconfigureResult r =
		    s.reload({{"ws_origin_allowlist", "http://ok.test, http://new.test"}, {"cors_origins", "http://new.test"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		ConnectionId e = s.connect("key=peerjs&id=E&token=t", {{"Origin", "http://new.test"}});
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(e));
		HttpResponse after = s.http("GET", "/myapp/peerjs/id", {{"Origin", "http://new.test"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://new.test"), headerOf(after, "Access-Control-Allow-Origin"));
		HttpResponse pre = s.http("OPTIONS", "/myapp/peerjs/id", {{"Origin", "http://new.test"}});
		CPPUNIT_ASSERT_EQUAL(std::string("http://new.test"), headerOf(pre, "Access-Control-Allow-Origin"));
		HttpResponse dropped = s.http("GET", "/myapp", {{"Origin", "http://ok.test"}});
		CPPUNIT_ASSERT(!hasHeader(dropped, "Access-Control-Allow-Origin"));
		// The peer registered before the reload stays and relays both ways.
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
		s.send(a, offerTo("E", "1"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "A", "E", "1"), s.sent(e));
		s.send(e, offerTo("A", "2"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "E", "A", "2"), s.sent(a));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.problems());
	}

	void testReloadKeyAndTokenValidator()
	{
		Server s;
		ConnectionId a = s.join("A", "anything");
		ReconfigureResult r = s.reload({{"key", "k2"}, {"token_validator", "hmac-sha256:topsecret"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		ConnectionId oldKey = s.connectAs("B");
		CPPUNIT_ASSERT_EQUAL(BAD_KEY, s.sent(oldKey));
		ConnectionId badToken = s.connect("key=k2&id=B&token=bad");
		CPPUNIT_ASSERT_EQUAL(BAD_TOKEN, s.sent(badToken));
		ConnectionId b = s.connect("key=k2&id=B&token=" + TokenValidator::hmacHex("topsecret", "B"));
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(b));
		// A, admitted under the old key and without a token check, is not dropped.
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "A", "B", "1"), s.sent(b));
		// A validator that does not parse applies nothing (a start would fail on it too).
		ReconfigureResult bad = s.reload({{"token_validator", "rot13:x"}, {"key", "k3"}});
		CPPUNIT_ASSERT(!bad.applied);
		CPPUNIT_ASSERT(bad.message.find("token_validator") != std::string::npos);
		ConnectionId c = s.connect("key=k2&id=C&token=" + TokenValidator::hmacHex("topsecret", "C"));
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(c));
	}

	void testReloadLimitsAndReplies()
	{
		Server s({{"concurrent_limit", "2"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(s.connectAs("C")));
		CPPUNIT_ASSERT_EQUAL(401, s.http("GET", "/myapp/peerjs/peers").status);
		s.send(a, "not json");
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(a));

		ReconfigureResult r = s.reload(
		    {{"concurrent_limit", "3"}, {"allow_discovery", "true"}, {"reply_error_on_invalid_message", "true"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		ConnectionId c = s.join("C");
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(s.connectAs("D")));
		HttpResponse peers = s.http("GET", "/myapp/peerjs/peers");
		CPPUNIT_ASSERT_EQUAL(200, peers.status);
		CPPUNIT_ASSERT_EQUAL(std::string(R"(["A","B","C"])"), peers.body);
		s.send(a, "not json");
		CPPUNIT_ASSERT_EQUAL(INVALID, s.sent(a));

		// Tightened below the peers registered now: they stay, newcomers are refused.
		r = s.reload({{"concurrent_limit", "1"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		CPPUNIT_ASSERT_EQUAL(LIMIT, s.sent(s.connectAs("D")));
		for (ConnectionId open : {a, b, c})
			CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(open));
		s.send(c, offerTo("A", "1"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "C", "A", "1"), s.sent(a));
	}

	void testReloadQueueBoundsAndExpiry()
	{
		Server s;
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.send(a, offerTo("X", "1")); // queued under the start values
		ReconfigureResult r = s.reload({{"expire_timeout", "1000"}, {"max_queue_per_destination", "2"}});
		CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		s.send(b, offerTo("X", "2"));
		CPPUNIT_ASSERT_EQUAL(std::string(), s.sent(b));
		s.send(b, offerTo("Y", "3"));
		// The third message for X no longer fits: its pair is discarded with an early EXPIRE.
		s.send(b, offerTo("X", "4"));
		CPPUNIT_ASSERT_EQUAL(expireFrame("X", "B"), s.sent(b));
		// expire_timeout applies from the next expiry check on, to what was queued before too.
		std::vector<Timed> got = s.runUntil(1400, {a, b});
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), got.size());
		std::set<std::string> frames{got[0].frame, got[1].frame};
		CPPUNIT_ASSERT(frames.count(expireFrame("X", "A")) == 1);
		CPPUNIT_ASSERT(frames.count(expireFrame("Y", "B")) == 1);
		for (const Timed& t : got)
			CPPUNIT_ASSERT(t.at >= 1000 && t.at <= 1200);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.gauge("queued_messages"));
	}

	void testReloadSendBuffer()
	{
		Server s({{"max_send_buffer", "1048576"}});
		ConnectionId a = s.join("A");
		ConnectionId b = s.join("B");
		s.host().setBufferedAmount(b, 100000);
		s.send(a, offerTo("B", "1"));
		CPPUNIT_ASSERT_EQUAL(relayed("OFFER", "A", "B", "1"), s.sent(b));
		// Raised above the start value: the host's cap per socket was sized from that one.
		ReconfigureResult raised = s.reload({{"max_send_buffer", "2097152"}, {"concurrent_limit", "1"}});
		CPPUNIT_ASSERT(!raised.applied);
		CPPUNIT_ASSERT(raised.message.find("max_send_buffer") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(OPEN, s.sent(s.connectAs("C"))); // concurrent_limit was not applied either
		ReconfigureResult lowered = s.reload({{"max_send_buffer", "65536"}, {"concurrent_limit", "50000"}});
		CPPUNIT_ASSERT_MESSAGE(lowered.message, lowered.applied);
		s.send(a, offerTo("B", "2"));
		CPPUNIT_ASSERT_EQUAL(std::string("1008 send buffer overflow"), s.closed(b));
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"type":"LEAVE","src":"B","dst":"A"})"), s.sent(a));
	}

	void testReloadFixedKeysNeedRestart()
	{
		Server s({{"ws_origin_allowlist", "http://ok.test"}});
		ConnectionId a = s.join("A");
		for (Server::Settings fixed :
		     {Server::Settings{{"path", "/other"}}, Server::Settings{{"alive_timeout", "5000"}},
		      Server::Settings{{"max_message_size", "1024"}}, Server::Settings{{"ws_ping_interval", "1000"}}})
		{
			const std::string key = fixed.begin()->first;
			const std::string value = fixed.begin()->second;
			// Mixed with a live key: neither applies, and the answer names the fixed key.
			ReconfigureResult r = s.reload({{key.c_str(), value.c_str()}, {"ws_origin_allowlist", ""}});
			CPPUNIT_ASSERT_MESSAGE(key, !r.applied);
			CPPUNIT_ASSERT_MESSAGE(r.message, r.message.find(key) != std::string::npos);
			CPPUNIT_ASSERT_EQUAL(BAD_ORIGIN,
			                     s.sent(s.connect("key=peerjs&id=E&token=t", {{"Origin", "http://x.test"}})));
			// Changed back in the next reload: no obstacle to the live key changed with it.
			std::string original = key == "path"               ? "/myapp"
			                       : key == "alive_timeout"    ? "90000"
			                       : key == "max_message_size" ? "65536"
			                                                   : "0";
			r = s.reload({{key.c_str(), original.c_str()}, {"ws_origin_allowlist", "http://x.test"}});
			CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
			CPPUNIT_ASSERT_EQUAL(OPEN,
			                     s.sent(s.connect("key=peerjs&id=" + key + "&token=t", {{"Origin", "http://x.test"}})));
			r = s.reload({{"ws_origin_allowlist", "http://ok.test"}});
			CPPUNIT_ASSERT_MESSAGE(r.message, r.applied);
		}
		// The routes stay where start() put them.
		CPPUNIT_ASSERT_EQUAL(200, s.http("GET", "/myapp").status);
		CPPUNIT_ASSERT_EQUAL(std::string("open"), s.closed(a));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsPluginTest);
