//
// PeerVaultBasicsIntegrationTest.cpp
//
// The real switchboard binary with only the PeerVault plugin, on its own loopback listener:
// /work/shared/protocols/peervault.md §12.1 (basics and envelope, cases 1-4) and §12.2
// (subscriptions and delivery, cases 5-11). Every case starts a server of its own, so no
// subscription or counter of one case can reach another.
//
// The ticker is off (metrics.interval = 0) except where a case says otherwise: these cases subscribe
// to alerts and use "receives nothing", and a threshold alert from the host's own figures (say, a
// full disk) would be a frame nobody asked for. The metrics suite covers the ticker.
//


#include "Deadline.h"
#include "PeerVaultTestSupport.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::PeerVault;
using Poco::JSON::Object;


namespace {


std::unique_ptr<TestServer> quietServer(const TestServer::Keys& keys = {})
{
	TestServer::Keys all = {{key("metrics.interval"), "0"}};
	for (const auto& entry : keys)
		all[entry.first] = entry.second;
	return startServer(all);
}


std::string fileUploaded(const std::string& fileKey, int size = 1024, const std::string& node = "n1")
{
	return "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":" + quote(fileKey) +
	       ",\"size\":" + std::to_string(size) + ",\"node\":" + quote(node) + "}}";
}


void expectEvent(const Object::Ptr& frame, const std::string& type, const std::string& topic,
                 const std::string& context)
/// {"type","topic","data":{...,"timestamp"},"timestamp"} with this type and topic.
{
	const std::string text = stringify(frame);
	expectKeys(frame, {"type", "topic", "data", "timestamp"}, context + ": " + text);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context + ": " + text, type, stringAt(frame, "type", text));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(context + ": " + text, topic, stringAt(frame, "topic", text));
	expectTimestamp(stringAt(frame, "timestamp", text), text);
	expectTimestamp(stringAt(objectAt(frame, "data", text), "timestamp", text), "data.timestamp of " + text);
}


} // namespace


class PeerVaultBasicsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultBasicsIntegrationTest);
	CPPUNIT_TEST(testPing);
	CPPUNIT_TEST(testBinaryFrame);
	CPPUNIT_TEST(testNoWelcome);
	CPPUNIT_TEST(testOneDocumentPerFrame);
	CPPUNIT_TEST(testDocumentedSubscribeForm);
	CPPUNIT_TEST(testAlternativeSubscribeForms);
	CPPUNIT_TEST(testIsolation);
	CPPUNIT_TEST(testUnsubscribe);
	CPPUNIT_TEST(testTopicErrors);
	CPPUNIT_TEST(testInvalidInputKeepsConnectionOpen);
	CPPUNIT_TEST(testOptionalAcks);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPing()
	/// Case 1: the pong has exactly type, timestamp and clientId; the id is 32 lowercase hex, fixed
	/// per connection and different on another connection.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient first = connect(*server);
		sendJson(first, "{\"type\":\"ping\"}");
		const std::string text = nextText(first);
		Object::Ptr pong = object(text);
		expectKeys(pong, {"type", "timestamp", "clientId"}, "pong " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("pong"), stringAt(pong, "type", text));
		const std::string clientId = stringAt(pong, "clientId", text);
		expectMatches(clientId, "^[0-9a-f]{32}$", "clientId");
		expectMatches(stringAt(pong, "timestamp", text), "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
		              "timestamp of the pong");
		const std::int64_t skew = timestampMillis(stringAt(pong, "timestamp", text)) - nowMillis();
		CPPUNIT_ASSERT_MESSAGE("pong timestamp is not the server's UTC time: " + text, skew > -10000 && skew < 10000);

		Object::Ptr again = ping(first);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("clientId on a second ping", clientId, stringAt(again, "clientId", "pong"));

		WsTestClient second = connect(*server);
		Object::Ptr other = ping(second);
		CPPUNIT_ASSERT_MESSAGE("a second connection got the same clientId " + clientId,
		                       stringAt(other, "clientId", "pong") != clientId);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("first connection's clientId after another connected", clientId,
		                             stringAt(ping(first), "clientId", "pong"));
	}

	void testBinaryFrame()
	/// Case 2: a binary frame holding {"type":"ping"} gets a pong (as a text frame).
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		client.sendBinary("{\"type\":\"ping\"}");
		expectPong(object(nextText(client)), "reply to a binary ping");
		expectNothing(client, "after the binary ping");
	}

	void testNoWelcome()
	/// Case 3: nothing arrives within 1 s of connecting; the first frame is the reply to a ping.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		const WsTestClient::Frame frame = client.receive(1000);
		CPPUNIT_ASSERT_MESSAGE("a frame arrived unasked within 1 s: opcode " + std::to_string(frame.opcode) + " '" +
		                           frame.payload + "'",
		                       frame.timedOut());
		ping(client);
	}

	void testOneDocumentPerFrame()
	/// Case 4: 50 events published as fast as possible arrive as exactly 50 frames, each one strict
	/// JSON document without a newline, in publish order; 20 back-to-back pings get 20 pong frames.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		subscribe(client, "file_operations");
		for (int i = 0; i < 50; ++i)
			publishAccepted(*server, fileUploaded("k" + std::to_string(i), i), 1);
		for (int i = 0; i < 50; ++i)
		{
			const std::string text = nextText(client);
			const std::string context = "frame " + std::to_string(i) + ": " + text;
			std::string why;
			CPPUNIT_ASSERT_MESSAGE("not one strict JSON document (" + why + "): " + context, strictJson(text, why));
			CPPUNIT_ASSERT_MESSAGE("newline in " + context, text.find('\n') == std::string::npos);
			Object::Ptr frame = object(text);
			expectEvent(frame, "file_uploaded", "file_operations", context);
			Object::Ptr data = objectAt(frame, "data", context);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("publish order, " + context, "k" + std::to_string(i),
			                             stringAt(data, "key", context));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(context, static_cast<std::int64_t>(i), integerAt(data, "size", context));
		}
		expectNothing(client, "after exactly 50 event frames");

		std::string burst;
		for (int i = 0; i < 20; ++i)
		{
			const unsigned char mask[4] = {0x11, 0x22, 0x33, static_cast<unsigned char>(i)};
			burst += WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, "{\"type\":\"ping\"}", true, true, 0, mask);
		}
		client.sendRaw(burst);
		for (int i = 0; i < 20; ++i)
		{
			const std::string text = nextText(client);
			std::string why;
			CPPUNIT_ASSERT_MESSAGE("pong " + std::to_string(i) + " is not one strict JSON document (" + why +
			                           "): " + text,
			                       strictJson(text, why));
			expectPong(object(text), "pong " + std::to_string(i) + " of 20");
		}
		expectNothing(client, "after 20 pongs");
	}

	void testDocumentedSubscribeForm()
	/// Case 5: {"type":"subscribe","topic":...}; the event arrives exactly as published, plus the
	/// timestamps; the publish answer says delivered 1.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"file_operations\"}");
		expectNothing(client, "subscribe has no reply by default");
		Object::Ptr answer = publishAccepted(
		    *server,
		    "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k1\",\"size\":1024,"
		    "\"node\":\"n1\"}}",
		    1);
		CPPUNIT_ASSERT_EQUAL(std::string("file_uploaded"), stringAt(answer, "type", "publish answer"));
		CPPUNIT_ASSERT_EQUAL(std::string("file_operations"), stringAt(answer, "topic", "publish answer"));

		const std::string text = nextText(client);
		Object::Ptr frame = object(text);
		expectEvent(frame, "file_uploaded", "file_operations", "event");
		Object::Ptr data = objectAt(frame, "data", text);
		expectKeys(data, {"key", "size", "node", "timestamp"}, "data of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("k1"), stringAt(data, "key", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, static_cast<std::int64_t>(1024), integerAt(data, "size", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("n1"), stringAt(data, "node", text));
		expectNothing(client, "after the one event");
	}

	void testAlternativeSubscribeForms()
	/// Case 6: "data" as the topic string and "data.topic" both subscribe.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		sendJson(client, "{\"type\":\"subscribe\",\"data\":\"peer_network\"}");
		sendJson(client, "{\"type\":\"subscribe\",\"data\":{\"topic\":\"alerts\"}}");
		expectNothing(client, "the two subscribes have no reply");

		publishAccepted(*server,
		                "{\"type\":\"peer_connected\",\"data\":{\"id\":\"p1\",\"address\":\"10.0.0.7\",\"port\":4000}}",
		                1);
		std::string text = nextText(client);
		Object::Ptr frame = object(text);
		expectEvent(frame, "peer_connected", "peer_network", "peer_connected event");
		Object::Ptr data = objectAt(frame, "data", text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("p1"), stringAt(data, "id", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("10.0.0.7"), stringAt(data, "address", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, static_cast<std::int64_t>(4000), integerAt(data, "port", text));
		CPPUNIT_ASSERT_MESSAGE("capabilities [] is filled in: " + text,
		                       data->isArray("capabilities") && data->getArray("capabilities")->size() == 0);

		publishAccepted(*server,
		                "{\"type\":\"security_alert\",\"topic\":\"alerts\",\"data\":{\"level\":\"critical\","
		                "\"message\":\"Intrusion attempt\",\"source\":\"fw\"}}",
		                1);
		text = nextText(client);
		frame = object(text);
		expectEvent(frame, "security_alert", "alerts", "security_alert event");
		data = objectAt(frame, "data", text);
		expectKeys(data, {"level", "message", "source", "timestamp"}, "data of " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("critical"), stringAt(data, "level", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("Intrusion attempt"), stringAt(data, "message", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("fw"), stringAt(data, "source", text));
		expectNothing(client, "after the two events");
	}

	void testIsolation()
	/// Case 7: a client subscribed only to alerts receives nothing of file_operations.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		subscribe(client, "alerts");
		publishAccepted(*server, fileUploaded("isolated"), 0);
		expectNothing(client, "a file_uploaded reached an alerts-only subscriber");
	}

	void testUnsubscribe()
	/// Case 8: after unsubscribing nothing arrives; a second unsubscribe is silent; a double
	/// subscribe delivers each event once.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		subscribe(client, "file_operations");
		publishAccepted(*server, fileUploaded("before"), 1);
		CPPUNIT_ASSERT_EQUAL(std::string("before"),
		                     stringAt(objectAt(nextOfType(client, "file_uploaded"), "data", "event"), "key", "event"));

		sendJson(client, "{\"type\":\"unsubscribe\",\"topic\":\"file_operations\"}");
		expectNothing(client, "unsubscribe has no reply");
		publishAccepted(*server, fileUploaded("after"), 0);
		expectNothing(client, "an event after unsubscribing");

		sendJson(client, "{\"type\":\"unsubscribe\",\"topic\":\"file_operations\"}");
		expectNothing(client, "a second unsubscribe is silent");
		sendJson(client, "{\"type\":\"unsubscribe\",\"data\":\"peer_network\"}");
		expectNothing(client, "unsubscribing from a topic never joined is silent");

		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"file_operations\"}");
		sendJson(client, "{\"type\":\"subscribe\",\"data\":{\"topic\":\"file_operations\"}}");
		expectNothing(client, "the two subscribes have no reply");
		publishAccepted(*server, fileUploaded("twice"), 1);
		CPPUNIT_ASSERT_EQUAL(std::string("twice"),
		                     stringAt(objectAt(nextOfType(client, "file_uploaded"), "data", "event"), "key", "event"));
		expectNothing(client, "an event delivered twice after a double subscribe");

		sendJson(client, "{\"type\":\"unsubscribe\",\"data\":{\"topic\":\"file_operations\"}}");
		expectNothing(client, "unsubscribe in the data.topic form");
		publishAccepted(*server, fileUploaded("gone"), 0);
		expectNothing(client, "an event after the data.topic unsubscribe");
	}

	void testTopicErrors()
	/// Case 9: an unknown topic, a missing topic and a non-string topic; the connection stays open.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"nope\"}");
		expectError(client, "INVALID_MESSAGE", "Unknown topic 'nope'");
		sendJson(client, "{\"type\":\"subscribe\"}");
		expectError(client, "INVALID_MESSAGE", "Missing topic");
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":5}");
		expectError(client, "INVALID_MESSAGE", "Message format is invalid");
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"Alerts\"}");
		expectError(client, "INVALID_MESSAGE", "Unknown topic 'Alerts'");
		sendJson(client, "{\"type\":\"unsubscribe\",\"topic\":\"nope\"}");
		expectError(client, "INVALID_MESSAGE", "Unknown topic 'nope'");
		sendJson(client, "{\"type\":\"unsubscribe\"}");
		expectError(client, "INVALID_MESSAGE", "Missing topic");
		expectNothing(client, "after the topic errors");
	}

	void testInvalidInputKeepsConnectionOpen()
	/// Case 10: each bad input gets its INVALID_MESSAGE and the next ping still gets its pong; a
	/// client timestamp is ignored.
	{
		std::unique_ptr<TestServer> server = quietServer();
		WsTestClient client = connect(*server);
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"not json", "Message format is invalid"},
		    {"[]", "Message format is invalid"},
		    {"{\"topic\":\"x\"}", "Message format is invalid"},
		    {"{\"type\":\"publish\"}", "Unknown message type 'publish'"},
		    {"{\"type\":\"connection_init\"}", "Unknown message type 'connection_init'"},
		    {"{\"type\":5}", "Message format is invalid"},
		    {"{\"type\":\"ping\"} {\"type\":\"ping\"}", "Message format is invalid"},
		    {"{\"type\":\"ping\"}\n{\"type\":\"ping\"}", "Message format is invalid"},
		    {"", "Message format is invalid"},
		    {"{\"type\":\"" + std::string(100, 'x') + "\"}", "Unknown message type '" + std::string(64, 'x') + "'"},
		};
		for (const auto& entry : cases)
		{
			sendJson(client, entry.first);
			const std::string text = nextText(client);
			Object::Ptr frame = object(text);
			CPPUNIT_ASSERT_MESSAGE("input '" + entry.first + "' answered with " + text,
			                       frame->has("type") && frame->get("type").isString() &&
			                           frame->getValue<std::string>("type") == "error");
			expectErrorFrame(frame, "INVALID_MESSAGE", entry.second);
			expectNothing(client, "after the input '" + entry.first + "'");
		}
		sendJson(client, "{\"type\":\"ping\",\"timestamp\":\"yesterday\"}");
		expectPong(object(nextText(client)), "a ping with an unparsable client timestamp");
		sendJson(client, "{\"type\":\"pong\"}");
		expectNothing(client, "an app-level pong from the client is ignored");

		// Not valid UTF-8: in a binary frame, then (last, since a host that closes on invalid UTF-8
		// text ends the connection here) in a text frame.
		const std::string badUtf8 = "{\"type\":\"p\xff\"}";
		client.sendBinary(badUtf8);
		expectError(client, "INVALID_MESSAGE", "Message format is invalid");
		expectNothing(client, "after invalid UTF-8 in a binary frame");
		client.sendText(badUtf8);
		const WsTestClient::Message reply = nextMessage(client);
		std::string got = "opcode " + std::to_string(reply.opcode) + " '" + reply.payload + "'";
		if (reply.opcode == WsTestClient::OPCODE_CLOSE && reply.payload.size() >= 2)
		{
			const int code =
			    (static_cast<unsigned char>(reply.payload[0]) << 8) | static_cast<unsigned char>(reply.payload[1]);
			got = "close " + std::to_string(code) + " '" + reply.payload.substr(2) + "'";
		}
		CPPUNIT_ASSERT_MESSAGE("invalid UTF-8 in a text frame must get INVALID_MESSAGE and keep the connection open "
		                       "(§4), got " +
		                           got,
		                       reply.opcode == WsTestClient::OPCODE_TEXT);
		expectErrorFrame(object(reply.payload), "INVALID_MESSAGE", "Message format is invalid");
		expectNothing(client, "after invalid UTF-8 in a text frame");
	}

	void testOptionalAcks()
	/// Case 11: with ack_subscriptions = true, subscribe and unsubscribe are acknowledged.
	{
		std::unique_ptr<TestServer> server = quietServer({{key("ack_subscriptions"), "true"}});
		WsTestClient client = connect(*server);
		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"system\"}");
		std::string text = nextText(client);
		Object::Ptr frame = object(text);
		expectKeys(frame, {"type", "topic", "timestamp"}, "ack " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("subscribed"), stringAt(frame, "type", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("system"), stringAt(frame, "topic", text));
		expectTimestamp(stringAt(frame, "timestamp", text), text);

		sendJson(client, "{\"type\":\"unsubscribe\",\"data\":\"system\"}");
		text = nextText(client);
		frame = object(text);
		expectKeys(frame, {"type", "topic", "timestamp"}, "ack " + text);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("unsubscribed"), stringAt(frame, "type", text));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("system"), stringAt(frame, "topic", text));

		sendJson(client, "{\"type\":\"subscribe\",\"topic\":\"nope\"}");
		expectError(client, "INVALID_MESSAGE", "Unknown topic 'nope'");
		expectNothing(client, "a failed subscribe is not acknowledged");
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultBasicsIntegrationTest);
