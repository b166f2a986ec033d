//
// PeerVaultEventsTest.cpp
//
// PeerVault's publish validation and frames: every message of the contract's validation table in
// its order, every event type's required and typed fields, the publisher's data passed through
// byte for byte apart from the normalised timestamp, topic inference, the capabilities default,
// echo truncation, and the event and error frames the server writes.
//


#include "Events.h"
#include "JsonText.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>
#include <utility>
#include <vector>


using namespace Switchboard::PeerVault;
namespace JsonText = Switchboard::JsonText;


namespace {


constexpr std::int64_t NOW_MILLIS = 1704067200002; // 2024-01-01T00:00:00.002Z
const std::string NOW_TEXT = "2024-01-01T00:00:00.002Z";
const std::string ACCEPTED = "<accepted>";


std::string publishOutcome(const std::string& body)
/// The error message, or ACCEPTED.
{
	PublishedEvent event;
	PublishError error;
	if (readPublish(body, NOW_MILLIS, event, error))
	{
		CPPUNIT_ASSERT_MESSAGE(body, error.message.empty());
		return ACCEPTED;
	}
	CPPUNIT_ASSERT_MESSAGE(body, !error.message.empty());
	return error.message;
}


PublishedEvent published(const std::string& body)
{
	PublishedEvent event;
	PublishError error;
	CPPUNIT_ASSERT_MESSAGE(body + " -> " + error.message, readPublish(body, NOW_MILLIS, event, error));
	CPPUNIT_ASSERT_MESSAGE(event.frame, JsonText::isValid(event.frame));
	return event;
}


std::string publishedData(const std::string& body)
/// The raw "data" member of the frame readPublish makes.
{
	const PublishedEvent event = published(body);
	std::string_view data;
	CPPUNIT_ASSERT(JsonText::member(event.frame, "data", data));
	return std::string(data);
}


std::string body(const std::string& type, const std::string& dataMembers)
{
	return "{\"type\":\"" + type + "\",\"data\":{" + dataMembers + "}}";
}


struct Field
{
	std::string name;
	std::string value; ///< raw JSON
};


struct EventSample
{
	std::string type;
	Topic topic;
	std::vector<Field> required; ///< valid values, in the contract's order
	std::vector<Field> optional; ///< valid values
};


std::vector<EventSample> samples()
/// One valid set of listed fields for every event type a publisher may send.
{
	return {
	    {"file_uploaded",
	     Topic::FILE_OPERATIONS,
	     {{"key", "\"k1\""}, {"size", "1024"}, {"node", "\"n1\""}},
	     {{"name", "\"a.txt\""}, {"contentType", "\"text/plain\""}}},
	    {"file_deleted", Topic::FILE_OPERATIONS, {{"key", "\"k1\""}, {"node", "\"n1\""}}, {}},
	    {"file_updated",
	     Topic::FILE_OPERATIONS,
	     {{"key", "\"k1\""}, {"node", "\"n1\""}},
	     {{"size", "0"}, {"metadata", "{\"a\":1}"}}},
	    {"file_replicated",
	     Topic::FILE_OPERATIONS,
	     {{"key", "\"k1\""}, {"node", "\"n2\""}},
	     {{"sourceNode", "\"n1\""}, {"replicas", "3"}}},
	    {"peer_connected",
	     Topic::PEER_NETWORK,
	     {{"id", "\"p1\""}, {"address", "\"10.0.0.1\""}, {"port", "4000"}},
	     {{"capabilities", "[\"storage\",\"relay\"]"}}},
	    {"peer_disconnected", Topic::PEER_NETWORK, {{"id", "\"p1\""}}, {{"reason", "\"timeout\""}}},
	    {"peer_health_changed",
	     Topic::PEER_NETWORK,
	     {{"id", "\"p1\""}, {"status", "\"degraded\""}},
	     {{"previousStatus", "\"healthy\""}, {"latencyMs", "12.5"}}},
	    {"network_topology_changed",
	     Topic::PEER_NETWORK,
	     {},
	     {{"peerCount", "2"}, {"peers", "[\"p1\",\"p2\"]"}, {"reason", "\"join\""}}},
	    {"performance_alert",
	     Topic::ALERTS,
	     {{"level", "\"warning\""}, {"message", "\"High memory usage detected\""}},
	     {{"metric", "\"memory_usage\""}, {"value", "85.5"}, {"threshold", "80.0"}, {"node", "\"n1\""}}},
	    {"security_alert",
	     Topic::ALERTS,
	     {{"level", "\"critical\""}, {"message", "\"Intrusion\""}},
	     {{"source", "\"ids\""}, {"node", "\"n1\""}}},
	    {"storage_alert",
	     Topic::ALERTS,
	     {{"level", "\"info\""}, {"message", "\"Disk ok\""}},
	     {{"metric", "\"storage_usage\""}, {"value", "50"}, {"threshold", "85"}, {"node", "\"n1\""}}},
	    {"network_alert",
	     Topic::ALERTS,
	     {{"level", "\"warning\""}, {"message", "\"Peer flapping\""}},
	     {{"peer", "\"p1\""}, {"node", "\"n1\""}}},
	};
}


std::string members(const std::vector<Field>& fields, const std::string& without = "")
{
	std::string text;
	for (const Field& field : fields)
		if (field.name != without)
			text += (text.empty() ? "\"" : ",\"") + field.name + "\":" + field.value;
	return text;
}


std::string expectation(const std::string& name)
/// The contract's wording for each listed field's type.
{
	if (name == "size")
		return "a non-negative integer";
	if (name == "port")
		return "an integer between 1 and 65535";
	if (name == "replicas")
		return "an integer greater than or equal to 1";
	if (name == "peerCount")
		return "an integer";
	if (name == "value" || name == "threshold" || name == "latencyMs")
		return "a number";
	if (name == "metadata")
		return "an object";
	if (name == "capabilities" || name == "peers")
		return "an array of strings";
	if (name == "level")
		return "one of info, warning, critical";
	return "a string";
}


std::vector<std::string> badValues(const std::string& expected)
{
	if (expected == "a string")
		return {"5", "null", "true", "{}", "[\"x\"]"};
	if (expected == "a non-negative integer")
		return {"-1", "1.5", "1.0", "1e3", "\"1\"", "null", "9223372036854775808", "[]"};
	if (expected == "an integer between 1 and 65535")
		return {"0", "65536", "-80", "80.0", "\"80\"", "null", "8e1"};
	if (expected == "an integer greater than or equal to 1")
		return {"0", "-2", "1.5", "\"3\"", "null"};
	if (expected == "an integer")
		return {"1.5", "2.0", "1E2", "\"2\"", "null", "-9223372036854775809"};
	if (expected == "a number")
		return {"\"5\"", "null", "true", "[1]", "{}"};
	if (expected == "an object")
		return {"[]", "\"x\"", "null", "1"};
	if (expected == "an array of strings")
		return {"\"a\"", "[1]", "[\"a\",null]", "[[\"a\"]]", "{}", "null", "[\"a\",{}]"};
	return {"\"panic\"", "\"INFO\"", "\"info \"", "1", "null"}; // level
}


} // namespace


class PeerVaultEventsTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultEventsTest);
	CPPUNIT_TEST(testTopicNames);
	CPPUNIT_TEST(testDocumentedPublish);
	CPPUNIT_TEST(testContractValidationExamples);
	CPPUNIT_TEST(testMessageFormatInvalid);
	CPPUNIT_TEST(testInvalidUtf8);
	CPPUNIT_TEST(testUnknownTopic);
	CPPUNIT_TEST(testUnknownEventType);
	CPPUNIT_TEST(testTypeOfAnotherTopic);
	CPPUNIT_TEST(testSystemTopicIsServerOnly);
	CPPUNIT_TEST(testDataMustBeAnObject);
	CPPUNIT_TEST(testEveryTypeAcceptsItsFields);
	CPPUNIT_TEST(testEveryRequiredField);
	CPPUNIT_TEST(testEveryFieldType);
	CPPUNIT_TEST(testIntegerBounds);
	CPPUNIT_TEST(testFieldCheckOrder);
	CPPUNIT_TEST(testDataTimestampChecked);
	CPPUNIT_TEST(testTimestampNormalised);
	CPPUNIT_TEST(testMissingTimestampFilledIn);
	CPPUNIT_TEST(testPassthroughByteForByte);
	CPPUNIT_TEST(testCapabilitiesFilledIn);
	CPPUNIT_TEST(testTopicInferred);
	CPPUNIT_TEST(testTopLevelKeys);
	CPPUNIT_TEST(testEventFrame);
	CPPUNIT_TEST(testErrorFrame);
	CPPUNIT_TEST(testTruncateEcho);
	CPPUNIT_TEST_SUITE_END();

public:
	void testTopicNames()
	{
		const Topic topics[] = {Topic::FILE_OPERATIONS, Topic::PEER_NETWORK, Topic::SYSTEM, Topic::ALERTS};
		const char* names[] = {"file_operations", "peer_network", "system", "alerts"};
		for (int i = 0; i < TOPIC_COUNT; ++i)
		{
			CPPUNIT_ASSERT_EQUAL(std::string(names[i]), std::string(topicName(topics[i])));
			Topic parsed = Topic::SYSTEM;
			if (topics[i] == Topic::SYSTEM)
				parsed = Topic::ALERTS;
			CPPUNIT_ASSERT(parseTopic(names[i], parsed));
			CPPUNIT_ASSERT(parsed == topics[i]);
		}
		Topic untouched = Topic::ALERTS;
		for (const char* name : {"", "System", "ALERTS", "alerts ", " alerts", "file-operations", "nope"})
			CPPUNIT_ASSERT_MESSAGE(name, !parseTopic(name, untouched));
		CPPUNIT_ASSERT(untouched == Topic::ALERTS);
	}

	void testDocumentedPublish()
	{
		const PublishedEvent event = published(
		    "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k1\",\"size\":1024,\"node\":"
		    "\"n1\"}}");
		CPPUNIT_ASSERT_EQUAL(std::string("file_uploaded"), event.type);
		CPPUNIT_ASSERT(event.topic == Topic::FILE_OPERATIONS);
		CPPUNIT_ASSERT_EQUAL(
		    "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k1\",\"size\":"
		    "1024,\"node\":\"n1\",\"timestamp\":\"" +
		        NOW_TEXT + "\"},\"timestamp\":\"" + NOW_TEXT + "\"}",
		    event.frame);
	}

	void testContractValidationExamples()
	{
		// §12.3 item 13, message for message.
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type 'file_exploded'"),
		                     publishOutcome("{\"type\":\"file_exploded\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("Event type 'file_uploaded' does not belong to topic 'alerts'"),
		    publishOutcome(
		        "{\"type\":\"file_uploaded\",\"topic\":\"alerts\",\"data\":{\"key\":\"k\",\"size\":1,\"node\":"
		        "\"n\"}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Topic 'system' is published by the server only"),
		                     publishOutcome("{\"type\":\"system_metrics\",\"topic\":\"system\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data' must be an object"),
		                     publishOutcome("{\"type\":\"file_uploaded\",\"data\":\"x\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' is required"),
		                     publishOutcome(body("file_uploaded", "\"key\":\"k\",\"node\":\"n\"")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"),
		                     publishOutcome(body("file_uploaded", "\"key\":\"k\",\"size\":-1,\"node\":\"n\"")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.level' must be one of info, warning, critical"),
		                     publishOutcome(body("performance_alert", "\"level\":\"panic\",\"message\":\"m\"")));
	}

	void testMessageFormatInvalid()
	{
		for (const char* text : {"",
		                         " ",
		                         "not json",
		                         "[]",
		                         "\"file_uploaded\"",
		                         "5",
		                         "null",
		                         "{",
		                         "{\"type\":\"file_deleted\",}",
		                         "{} {}",
		                         "{\"type\":\"file_deleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}\n{}",
		                         "{\"topic\":\"file_operations\"}",
		                         "{\"topic\":\"nope\"}",
		                         "{\"type\":5,\"topic\":\"nope\"}",
		                         "{\"type\":null}",
		                         "{\"type\":[\"file_deleted\"]}",
		                         "{\"Type\":\"file_deleted\"}",
		                         "{\"type\":\"file_deleted\",\"topic\":5,\"data\":{\"key\":\"k\",\"node\":\"n\"}}",
		                         "{\"type\":\"file_deleted\",\"topic\":null,\"data\":{\"key\":\"k\",\"node\":\"n\"}}",
		                         "{\"type\":\"nope\",\"topic\":[\"alerts\"]}"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string("Message format is invalid"), publishOutcome(text));
		// Whitespace around a valid document is fine.
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome(" \r\n\t" + body("file_deleted", "\"key\":\"k\",\"node\":\"n\"") + "\n"));
	}

	void testInvalidUtf8()
	{
		const std::string prefix = "{\"type\":\"file_deleted\",\"data\":{\"key\":\"";
		const std::string suffix = "\",\"node\":\"n\"}}";
		for (const std::string bytes :
		     {"\xFF", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80",
		      "\xF5\x80\x80\x80", "\x80", "\xC3", "\xE2\x82", "\xC3\x28"})
			CPPUNIT_ASSERT_EQUAL(std::string("Message format is invalid"), publishOutcome(prefix + bytes + suffix));
		// Cut off at the very end of the body.
		CPPUNIT_ASSERT_EQUAL(std::string("Message format is invalid"),
		                     publishOutcome(body("file_deleted", "\"key\":\"k\",\"node\":\"n\"") + "\xE2\x82"));
		// Valid UTF-8 of every length passes, raw.
		for (const std::string bytes :
		     {"\xC3\xA9", "\xE2\x82\xAC", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"})
		{
			const std::string data = publishedData(prefix + bytes + suffix);
			CPPUNIT_ASSERT(data.find("\"key\":\"" + bytes + "\"") != std::string::npos);
		}
	}

	void testUnknownTopic()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown topic 'nope'"),
		                     publishOutcome("{\"type\":\"file_uploaded\",\"topic\":\"nope\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown topic 'System'"),
		                     publishOutcome("{\"type\":\"system_metrics\",\"topic\":\"System\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown topic ''"), publishOutcome("{\"type\":\"x\",\"topic\":\"\"}"));
		// The topic is checked before the type, and echoed decoded and truncated.
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown topic 'nope'"),
		                     publishOutcome("{\"type\":\"file_exploded\",\"topic\":\"n\\u006fpe\"}"));
		const std::string longTopic(100, 't');
		CPPUNIT_ASSERT_EQUAL("Unknown topic '" + std::string(64, 't') + "'",
		                     publishOutcome("{\"type\":\"file_uploaded\",\"topic\":\"" + longTopic + "\"}"));
	}

	void testUnknownEventType()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type 'broadcast'"),
		                     publishOutcome("{\"type\":\"broadcast\",\"topic\":\"alerts\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type 'File_Uploaded'"),
		                     publishOutcome("{\"type\":\"File_Uploaded\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type ''"), publishOutcome("{\"type\":\"\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type 'error'"), publishOutcome("{\"type\":\"error\"}"));
		CPPUNIT_ASSERT_EQUAL("Unknown event type '" + std::string(64, 'x') + "'",
		                     publishOutcome("{\"type\":\"" + std::string(65, 'x') + "\"}"));
		// Truncation counts characters, not bytes, and never splits one.
		std::string accents;
		for (int i = 0; i < 70; ++i)
			accents += "\xC3\xA9";
		CPPUNIT_ASSERT_EQUAL("Unknown event type '" + accents.substr(0, 128) + "'",
		                     publishOutcome("{\"type\":\"" + accents + "\"}"));
		// Escapes are decoded before echoing.
		CPPUNIT_ASSERT_EQUAL(std::string("Unknown event type 'a\"b'"), publishOutcome("{\"type\":\"a\\\"b\"}"));
	}

	void testTypeOfAnotherTopic()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("Event type 'peer_connected' does not belong to topic 'file_operations'"),
		                     publishOutcome("{\"type\":\"peer_connected\",\"topic\":\"file_operations\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Event type 'security_alert' does not belong to topic 'peer_network'"),
		                     publishOutcome("{\"type\":\"security_alert\",\"topic\":\"peer_network\"}"));
		// Belonging is checked before the system topic.
		CPPUNIT_ASSERT_EQUAL(std::string("Event type 'file_uploaded' does not belong to topic 'system'"),
		                     publishOutcome("{\"type\":\"file_uploaded\",\"topic\":\"system\",\"data\":{}}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Event type 'system_metrics' does not belong to topic 'alerts'"),
		                     publishOutcome("{\"type\":\"system_metrics\",\"topic\":\"alerts\"}"));
	}

	void testSystemTopicIsServerOnly()
	{
		for (const char* type : {"system_metrics", "storage_metrics", "network_metrics", "performance_metrics"})
		{
			const std::string expected = "Topic 'system' is published by the server only";
			// Given, or inferred from the type; checked before "data".
			CPPUNIT_ASSERT_EQUAL(
			    expected, publishOutcome(std::string("{\"type\":\"") + type + "\",\"topic\":\"system\",\"data\":{}}"));
			CPPUNIT_ASSERT_EQUAL(expected, publishOutcome(std::string("{\"type\":\"") + type + "\",\"data\":{}}"));
			CPPUNIT_ASSERT_EQUAL(expected, publishOutcome(std::string("{\"type\":\"") + type + "\",\"data\":\"x\"}"));
		}
	}

	void testDataMustBeAnObject()
	{
		for (const char* data : {"\"x\"", "null", "[]", "[{}]", "5", "true"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(
			    data, std::string("Field 'data' must be an object"),
			    publishOutcome(std::string("{\"type\":\"network_topology_changed\",\"data\":") + data + "}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data' must be an object"),
		                     publishOutcome("{\"type\":\"network_topology_changed\"}"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data' must be an object"),
		                     publishOutcome("{\"type\":\"network_topology_changed\",\"Data\":{}}"));
		// The last "data" counts, as in JSON.parse.
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data' must be an object"),
		                     publishOutcome("{\"type\":\"network_topology_changed\",\"data\":{},\"data\":1}"));
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome("{\"type\":\"network_topology_changed\",\"data\":1,\"data\":{}}"));
	}

	void testEveryTypeAcceptsItsFields()
	{
		for (const EventSample& sample : samples())
		{
			// Required only, and with every optional field too.
			CPPUNIT_ASSERT_EQUAL_MESSAGE(sample.type, ACCEPTED,
			                             publishOutcome(body(sample.type, members(sample.required))));
			std::vector<Field> all = sample.required;
			all.insert(all.end(), sample.optional.begin(), sample.optional.end());
			const PublishedEvent event = published(body(sample.type, members(all)));
			CPPUNIT_ASSERT_EQUAL(sample.type, event.type);
			CPPUNIT_ASSERT(event.topic == sample.topic);
			std::string_view data;
			CPPUNIT_ASSERT(JsonText::member(event.frame, "data", data));
			CPPUNIT_ASSERT_EQUAL("{" + members(all) + ",\"timestamp\":\"" + NOW_TEXT + "\"}", std::string(data));
		}
	}

	void testEveryRequiredField()
	{
		for (const EventSample& sample : samples())
			for (const Field& missing : sample.required)
				CPPUNIT_ASSERT_EQUAL_MESSAGE(sample.type, "Field 'data." + missing.name + "' is required",
				                             publishOutcome(body(sample.type, members(sample.required, missing.name))));
		// Several missing: the first in the contract's order is named.
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.key' is required"), publishOutcome(body("file_uploaded", "")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.id' is required"),
		                     publishOutcome(body("peer_connected", "\"port\":1")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.level' is required"),
		                     publishOutcome(body("network_alert", "\"message\":\"m\"")));
		// Names are case-sensitive.
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.key' is required"),
		                     publishOutcome(body("file_deleted", "\"Key\":\"k\",\"node\":\"n\"")));
	}

	void testEveryFieldType()
	{
		for (const EventSample& sample : samples())
		{
			std::vector<Field> all = sample.required;
			all.insert(all.end(), sample.optional.begin(), sample.optional.end());
			for (const Field& field : all)
			{
				const std::string expected = expectation(field.name);
				for (const std::string& bad : badValues(expected))
				{
					std::vector<Field> fields = all;
					for (Field& candidate : fields)
						if (candidate.name == field.name)
							candidate.value = bad;
					CPPUNIT_ASSERT_EQUAL_MESSAGE(sample.type + " " + field.name + "=" + bad,
					                             "Field 'data." + field.name + "' must be " + expected,
					                             publishOutcome(body(sample.type, members(fields))));
				}
			}
		}
		// Accepted edge values.
		for (const char* data : {"\"key\":\"k\",\"size\":0,\"node\":\"n\"", "\"key\":\"\",\"size\":-0,\"node\":\"\"",
		                         "\"key\":\"k\",\"size\":9223372036854775807,\"node\":\"n\""})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(data, ACCEPTED, publishOutcome(body("file_uploaded", data)));
		for (const char* port : {"1", "65535", "443"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(
			    port, ACCEPTED,
			    publishOutcome(body("peer_connected", std::string("\"id\":\"p\",\"address\":\"a\",\"port\":") + port)));
		for (const char* data :
		     {"\"peerCount\":-3", "\"peerCount\":0", "\"peers\":[]", "\"peers\":[\"a\\\"]\", \"b\" ]", "\"peers\":[ ]",
		      "\"peerCount\":-9223372036854775808"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(data, ACCEPTED, publishOutcome(body("network_topology_changed", data)));
		for (const char* value : {"-0.5", "1e400", "0", "-12", "1.5E-3"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(
			    value, ACCEPTED,
			    publishOutcome(body("storage_alert", std::string("\"level\":\"info\",\"message\":\"m\",\"value\":") +
			                                             value + ",\"threshold\":" + value)));
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome(body("file_replicated", "\"key\":\"k\",\"node\":\"n\",\"replicas\":1")));
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome(body("file_updated", "\"key\":\"k\",\"node\":\"n\",\"metadata\":{}")));
		// An escaped level still reads as its value.
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome(body("security_alert", "\"level\":\"\\u0069nfo\",\"message\":\"m\"")));
	}

	void testIntegerBounds()
	{
		// An integer is a number token without fraction or exponent that fits int64.
		const auto sizeOutcome = [](const std::string& size) {
			return publishOutcome(body("file_uploaded", "\"key\":\"k\",\"node\":\"n\",\"size\":" + size));
		};
		CPPUNIT_ASSERT_EQUAL(ACCEPTED, sizeOutcome("9223372036854775807"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"),
		                     sizeOutcome("9223372036854775808"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"),
		                     sizeOutcome("100000000000000000000000"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"), sizeOutcome("1.0"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"), sizeOutcome("1e0"));
		const auto peerCountOutcome = [](const std::string& count) {
			return publishOutcome(body("network_topology_changed", "\"peerCount\":" + count));
		};
		CPPUNIT_ASSERT_EQUAL(ACCEPTED, peerCountOutcome("-9223372036854775808"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.peerCount' must be an integer"),
		                     peerCountOutcome("-9223372036854775809"));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.peerCount' must be an integer"), peerCountOutcome("-1.0"));
	}

	void testFieldCheckOrder()
	{
		// All required fields must be present before any type is checked.
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.node' is required"),
		                     publishOutcome(body("file_uploaded", "\"key\":5,\"size\":-1")));
		// Types in the contract's order (required first), whatever the body's order.
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.key' must be a string"),
		                     publishOutcome(body("file_uploaded", "\"name\":1,\"node\":2,\"size\":-1,\"key\":3")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.size' must be a non-negative integer"),
		                     publishOutcome(body("file_uploaded", "\"name\":1,\"node\":2,\"size\":-1,\"key\":\"k\"")));
		CPPUNIT_ASSERT_EQUAL(std::string("Field 'data.node' must be a string"),
		                     publishOutcome(body("file_uploaded", "\"name\":1,\"node\":2,\"size\":1,\"key\":\"k\"")));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("Field 'data.name' must be a string"),
		    publishOutcome(
		        body("file_uploaded", "\"contentType\":1,\"name\":1,\"node\":\"n\",\"size\":1,\"key\":\"k\"")));
		// The timestamp comes last.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("Field 'data.contentType' must be a string"),
		    publishOutcome(
		        body("file_uploaded", "\"timestamp\":1,\"contentType\":1,\"node\":\"n\",\"size\":1,\"key\":\"k\"")));
		// The last of repeated members counts.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("Field 'data.size' must be a non-negative integer"),
		    publishOutcome(body("file_uploaded", "\"key\":\"k\",\"size\":1,\"node\":\"n\",\"size\":-1")));
		CPPUNIT_ASSERT_EQUAL(
		    ACCEPTED, publishOutcome(body("file_uploaded", "\"key\":\"k\",\"size\":-1,\"node\":\"n\",\"size\":1")));
		// Unlisted members are not checked.
		CPPUNIT_ASSERT_EQUAL(ACCEPTED,
		                     publishOutcome(body("file_deleted", "\"key\":\"k\",\"node\":\"n\",\"size\":-1")));
	}

	void testDataTimestampChecked()
	{
		for (const char* value : {"\"yesterday\"", "1704067200000", "null", "\"\"", "\"2024-02-30T00:00:00Z\"",
		                          "\"2024-01-01T00:00:00\"", "{}", "[\"2024-01-01T00:00:00Z\"]"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(
			    value, std::string("Field 'data.timestamp' must be an RFC 3339 timestamp"),
			    publishOutcome(
			        body("file_deleted", std::string("\"key\":\"k\",\"node\":\"n\",\"timestamp\":") + value)));
	}

	void testTimestampNormalised()
	{
		// §12.3 item 14; the member keeps its place among the publisher's members.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"key\":\"k\",\"timestamp\":\"2024-01-01T00:00:00.000Z\",\"node\":\"n\"}"),
		    publishedData(
		        body("file_deleted", "\"key\":\"k\",\"timestamp\":\"2024-01-01T01:00:00+01:00\",\"node\":\"n\"")));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"2023-06-30T22:15:00.123Z\"}"),
		    publishedData(body("file_deleted",
		                       "\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"2023-07-01 00:15:00.123456+02:00\"")));
		// Escapes in the key or the value are read.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"2024-01-01T00:00:00.000Z\"}"),
		    publishedData(body("file_deleted",
		                       "\"key\":\"k\",\"node\":\"n\",\"time\\u0073tamp\":\"2024-01-01T00:00:00\\u005a\"")));
		// Of repeated timestamps only the last counts and stays, in its place.
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"key\":\"k\",\"timestamp\":\"2020-02-02T00:00:00.000Z\",\"node\":\"n\"}"),
		    publishedData(body("file_deleted",
		                       "\"timestamp\":\"bad\",\"key\":\"k\",\"timestamp\":\"2020-02-02T00:00:00Z\","
		                       "\"node\":\"n\"")));
		// The envelope's timestamp is always the publish time.
		const PublishedEvent event =
		    published(body("file_deleted", "\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"2020-02-02T00:00:00Z\""));
		CPPUNIT_ASSERT(event.frame.size() > NOW_TEXT.size() + 3);
		CPPUNIT_ASSERT_EQUAL(",\"timestamp\":\"" + NOW_TEXT + "\"}",
		                     event.frame.substr(event.frame.size() - NOW_TEXT.size() - 16));
	}

	void testMissingTimestampFilledIn()
	{
		CPPUNIT_ASSERT_EQUAL("{\"key\":\"k\",\"node\":\"n\",\"timestamp\":\"" + NOW_TEXT + "\"}",
		                     publishedData(body("file_deleted", "\"key\":\"k\",\"node\":\"n\"")));
		CPPUNIT_ASSERT_EQUAL("{\"timestamp\":\"" + NOW_TEXT + "\"}",
		                     publishedData(body("network_topology_changed", "")));
		CPPUNIT_ASSERT_EQUAL("{\"timestamp\":\"" + NOW_TEXT + "\"}",
		                     publishedData("{\"type\":\"network_topology_changed\",\"data\":{ \n }}"));
		// A different clock gives a different fill-in.
		PublishedEvent event;
		PublishError error;
		CPPUNIT_ASSERT(readPublish(body("file_deleted", "\"key\":\"k\",\"node\":\"n\""), 0, event, error));
		CPPUNIT_ASSERT_EQUAL(std::string("{\"type\":\"file_deleted\",\"topic\":\"file_operations\",\"data\":{\"key\":"
		                                 "\"k\",\"node\":\"n\",\"timestamp\":\"1970-01-01T00:00:00.000Z\"},"
		                                 "\"timestamp\":\"1970-01-01T00:00:00.000Z\"}"),
		                     event.frame);
	}

	void testPassthroughByteForByte()
	{
		// Extra members, number text, escapes, raw non-ASCII, nested whitespace, key order and
		// repeated keys all survive; only the whitespace between the data object's own members goes.
		const std::string extras = "\"zeta\":1.50,\"big\":12345678901234567890123,\"exp\":1E+2,\"neg\":-0,"
		                           "\"esc\":\"\\u00e9\\n\\\"\\/\",\"raw\":\"\xC3\xA9\xF0\x9F\x98\x80\","
		                           "\"nested\":{ \"b\" : [ 1 , 2.0 ] , \"a\" : null },\"k\\u0065y2\":true,"
		                           "\"dup\":1,\"dup\":2,\"empty\":\"\",\"alpha\":false";
		const std::string data =
		    publishedData(body("file_uploaded", "\"key\":\"k\",\"size\":1,\"node\":\"n\"," + extras));
		CPPUNIT_ASSERT_EQUAL(
		    "{\"key\":\"k\",\"size\":1,\"node\":\"n\"," + extras + ",\"timestamp\":\"" + NOW_TEXT + "\"}", data);
		CPPUNIT_ASSERT_EQUAL(
		    "{\"key\":\"k\",\"size\":1,\"node\":\"n\",\"timestamp\":\"" + NOW_TEXT + "\"}",
		    publishedData(
		        "{ \"type\" : \"file_uploaded\" , \"data\" : { \"key\" : \"k\" ,\n\t\"size\" :1, \"node\":\"n\" } }"));
		// Listed fields pass through as written too: the number text of value and threshold.
		CPPUNIT_ASSERT_EQUAL(
		    "{\"level\":\"info\",\"message\":\"m\",\"value\":80.00,\"threshold\":8e1,\"timestamp\":\"" + NOW_TEXT +
		        "\"}",
		    publishedData(body("storage_alert", "\"level\":\"info\",\"message\":\"m\",\"value\":80.00,"
		                                        "\"threshold\":8e1")));
	}

	void testCapabilitiesFilledIn()
	{
		CPPUNIT_ASSERT_EQUAL("{\"id\":\"p\",\"address\":\"a\",\"port\":1,\"capabilities\":[],\"timestamp\":\"" +
		                         NOW_TEXT + "\"}",
		                     publishedData(body("peer_connected", "\"id\":\"p\",\"address\":\"a\",\"port\":1")));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("{\"id\":\"p\",\"timestamp\":\"2024-01-01T00:00:00.000Z\",\"address\":\"a\",\"port\":1,"
		                "\"capabilities\":[]}"),
		    publishedData(body("peer_connected",
		                       "\"id\":\"p\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"address\":\"a\",\"port\":1")));
		// Given ones are kept as they are, however the key is spelt.
		CPPUNIT_ASSERT_EQUAL("{\"capabilities\":[\"x\"],\"id\":\"p\",\"address\":\"a\",\"port\":1,\"timestamp\":\"" +
		                         NOW_TEXT + "\"}",
		                     publishedData(body("peer_connected",
		                                        "\"capabilities\":[\"x\"],\"id\":\"p\",\"address\":\"a\",\"port\":1")));
		CPPUNIT_ASSERT_EQUAL(
		    "{\"id\":\"p\",\"address\":\"a\",\"port\":1,\"capabilit\\u0069es\":[],\"timestamp\":\"" + NOW_TEXT + "\"}",
		    publishedData(
		        body("peer_connected", "\"id\":\"p\",\"address\":\"a\",\"port\":1,\"capabilit\\u0069es\":[]")));
		// Only peer_connected gets the default.
		CPPUNIT_ASSERT_EQUAL("{\"id\":\"p\",\"timestamp\":\"" + NOW_TEXT + "\"}",
		                     publishedData(body("peer_disconnected", "\"id\":\"p\"")));
	}

	void testTopicInferred()
	{
		for (const EventSample& sample : samples())
		{
			const PublishedEvent inferred = published(body(sample.type, members(sample.required)));
			CPPUNIT_ASSERT(inferred.topic == sample.topic);
			CPPUNIT_ASSERT_EQUAL(sample.type, inferred.type);
			const std::string prefix = "{\"type\":\"" + sample.type + "\",\"topic\":\"" +
			                           std::string(topicName(sample.topic)) + "\",\"data\":{";
			CPPUNIT_ASSERT_EQUAL(prefix, inferred.frame.substr(0, prefix.size()));
			// Giving the right topic makes the same frame.
			const PublishedEvent given =
			    published("{\"topic\":\"" + std::string(topicName(sample.topic)) + "\",\"type\":\"" + sample.type +
			              "\",\"data\":{" + members(sample.required) + "}}");
			CPPUNIT_ASSERT_EQUAL(inferred.frame, given.frame);
		}
	}

	void testTopLevelKeys()
	{
		// Unknown top-level keys are ignored and not forwarded.
		const PublishedEvent event = published("{\"id\":7,\"type\":\"file_deleted\",\"clientId\":\"x\",\"timestamp\":"
		                                       "\"bogus\",\"data\":{\"key\":\"k\",\"node\":\"n\"},\"extra\":[1]}");
		CPPUNIT_ASSERT_EQUAL(
		    "{\"type\":\"file_deleted\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k\",\"node\":"
		    "\"n\",\"timestamp\":\"" +
		        NOW_TEXT + "\"},\"timestamp\":\"" + NOW_TEXT + "\"}",
		    event.frame);
		// The last of repeated keys counts; an escaped type is decoded.
		CPPUNIT_ASSERT_EQUAL(ACCEPTED, publishOutcome("{\"type\":\"bogus\",\"type\":\"file_deleted\",\"data\":{\"key\":"
		                                              "\"k\",\"node\":\"n\"}}"));
		const PublishedEvent escaped =
		    published("{\"type\":\"file_\\u0064eleted\",\"data\":{\"key\":\"k\",\"node\":\"n\"}}");
		CPPUNIT_ASSERT_EQUAL(std::string("file_deleted"), escaped.type);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"type\":\"file_deleted\","), escaped.frame.substr(0, 23));
	}

	void testEventFrame()
	{
		CPPUNIT_ASSERT_EQUAL(
		    "{\"type\":\"performance_alert\",\"topic\":\"alerts\",\"data\":{\"level\":\"info\",\"value\":1,"
		    "\"timestamp\":\"" +
		        NOW_TEXT + "\"},\"timestamp\":\"" + NOW_TEXT + "\"}",
		    eventFrame("performance_alert", Topic::ALERTS, "\"level\":\"info\",\"value\":1", NOW_MILLIS));
		CPPUNIT_ASSERT_EQUAL(std::string("{\"type\":\"system_metrics\",\"topic\":\"system\",\"data\":{\"timestamp\":"
		                                 "\"1970-01-01T00:00:01.000Z\"},\"timestamp\":\"1970-01-01T00:00:01.000Z\"}"),
		                     eventFrame("system_metrics", Topic::SYSTEM, "", 1000));
		const std::string frame = eventFrame("storage_metrics", Topic::SYSTEM, "\"totalSpace\":1", NOW_MILLIS);
		CPPUNIT_ASSERT(JsonText::isValid(frame));
	}

	void testErrorFrame()
	{
		CPPUNIT_ASSERT_EQUAL(
		    "{\"type\":\"error\",\"data\":{\"code\":\"INVALID_MESSAGE\",\"message\":\"Missing topic\"},"
		    "\"timestamp\":\"" +
		        NOW_TEXT + "\"}",
		    errorFrame("INVALID_MESSAGE", "Missing topic", NOW_MILLIS));
		CPPUNIT_ASSERT_EQUAL(
		    "{\"type\":\"error\",\"data\":{\"code\":\"RATE_LIMIT_EXCEEDED\",\"message\":\"Rate limit "
		    "exceeded. Please slow down your requests.\",\"retryAfter\":1},\"timestamp\":\"" +
		        NOW_TEXT + "\"}",
		    errorFrame("RATE_LIMIT_EXCEEDED", "Rate limit exceeded. Please slow down your requests.", NOW_MILLIS, 1));
		CPPUNIT_ASSERT_EQUAL("{\"type\":\"error\",\"data\":{\"code\":\"X\",\"message\":\"m\",\"retryAfter\":0},"
		                     "\"timestamp\":\"" +
		                         NOW_TEXT + "\"}",
		                     errorFrame("X", "m", NOW_MILLIS, 0));
		// Echoed text is escaped as JSON.
		const std::string frame = errorFrame("INVALID_MESSAGE", "Unknown message type 'a\"b\\c\n'", NOW_MILLIS);
		CPPUNIT_ASSERT(JsonText::isValid(frame));
		CPPUNIT_ASSERT(frame.find("\"message\":\"Unknown message type 'a\\\"b\\\\c\\n'\"") != std::string::npos);
	}

	void testTruncateEcho()
	{
		CPPUNIT_ASSERT_EQUAL(std::string(), truncateEcho(""));
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), truncateEcho("abc"));
		CPPUNIT_ASSERT_EQUAL(std::string(64, 'a'), truncateEcho(std::string(64, 'a')));
		CPPUNIT_ASSERT_EQUAL(std::string(64, 'a'), truncateEcho(std::string(65, 'a')));
		CPPUNIT_ASSERT_EQUAL(std::string(64, 'a'), truncateEcho(std::string(1000, 'a')));
		// Characters, not bytes: 2-, 3- and 4-byte sequences are kept whole.
		for (const std::string character : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"})
		{
			std::string sixtyFour, sixtyFive;
			for (int i = 0; i < 64; ++i)
				sixtyFour += character;
			sixtyFive = sixtyFour + character;
			CPPUNIT_ASSERT_EQUAL(sixtyFour, truncateEcho(sixtyFour));
			CPPUNIT_ASSERT_EQUAL(sixtyFour, truncateEcho(sixtyFive));
			CPPUNIT_ASSERT_EQUAL(std::string(63, 'a') + character, truncateEcho(std::string(63, 'a') + sixtyFive));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultEventsTest);
