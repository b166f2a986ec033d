//
// Events.cpp
//


#include "Events.h"
#include "JsonText.h"
#include "switchboard/util/HttpText.h"
#include "TimeText.h"
#include "switchboard/util/Json.h"
#include <limits>
#include <utility>
#include <vector>


namespace Switchboard {
namespace PeerVault {


namespace {


const char* const TOPIC_NAMES[TOPIC_COUNT] = {"file_operations", "peer_network", "system", "alerts"};

constexpr std::size_t MAX_ECHO_CHARACTERS = 64;

const char* const MESSAGE_FORMAT_INVALID = "Message format is invalid";


enum class FieldKind
{
	STRING,
	NON_NEGATIVE_INTEGER,
	PORT,
	POSITIVE_INTEGER,
	INTEGER,
	NUMBER,
	OBJECT,
	STRING_ARRAY,
	LEVEL
};


struct FieldRule
{
	const char* name;
	FieldKind kind;
};


struct EventRule
{
	const char* type;
	Topic topic;
	std::vector<FieldRule> required; ///< in the contract's order
	std::vector<FieldRule> optional;
};


const std::vector<EventRule>& eventRules()
/// The contract's tables of event types, their topics and their listed data fields.
{
	static const std::vector<EventRule> RULES = {
	    {"file_uploaded",
	     Topic::FILE_OPERATIONS,
	     {{"key", FieldKind::STRING}, {"size", FieldKind::NON_NEGATIVE_INTEGER}, {"node", FieldKind::STRING}},
	     {{"name", FieldKind::STRING}, {"contentType", FieldKind::STRING}}},
	    {"file_deleted", Topic::FILE_OPERATIONS, {{"key", FieldKind::STRING}, {"node", FieldKind::STRING}}, {}},
	    {"file_updated",
	     Topic::FILE_OPERATIONS,
	     {{"key", FieldKind::STRING}, {"node", FieldKind::STRING}},
	     {{"size", FieldKind::NON_NEGATIVE_INTEGER}, {"metadata", FieldKind::OBJECT}}},
	    {"file_replicated",
	     Topic::FILE_OPERATIONS,
	     {{"key", FieldKind::STRING}, {"node", FieldKind::STRING}},
	     {{"sourceNode", FieldKind::STRING}, {"replicas", FieldKind::POSITIVE_INTEGER}}},
	    {"peer_connected",
	     Topic::PEER_NETWORK,
	     {{"id", FieldKind::STRING}, {"address", FieldKind::STRING}, {"port", FieldKind::PORT}},
	     {{"capabilities", FieldKind::STRING_ARRAY}}},
	    {"peer_disconnected", Topic::PEER_NETWORK, {{"id", FieldKind::STRING}}, {{"reason", FieldKind::STRING}}},
	    {"peer_health_changed",
	     Topic::PEER_NETWORK,
	     {{"id", FieldKind::STRING}, {"status", FieldKind::STRING}},
	     {{"previousStatus", FieldKind::STRING}, {"latencyMs", FieldKind::NUMBER}}},
	    {"network_topology_changed",
	     Topic::PEER_NETWORK,
	     {},
	     {{"peerCount", FieldKind::INTEGER}, {"peers", FieldKind::STRING_ARRAY}, {"reason", FieldKind::STRING}}},
	    {"system_metrics", Topic::SYSTEM, {}, {}},
	    {"storage_metrics", Topic::SYSTEM, {}, {}},
	    {"network_metrics", Topic::SYSTEM, {}, {}},
	    {"performance_metrics", Topic::SYSTEM, {}, {}},
	    {"performance_alert",
	     Topic::ALERTS,
	     {{"level", FieldKind::LEVEL}, {"message", FieldKind::STRING}},
	     {{"metric", FieldKind::STRING},
	      {"value", FieldKind::NUMBER},
	      {"threshold", FieldKind::NUMBER},
	      {"node", FieldKind::STRING}}},
	    {"security_alert",
	     Topic::ALERTS,
	     {{"level", FieldKind::LEVEL}, {"message", FieldKind::STRING}},
	     {{"source", FieldKind::STRING}, {"node", FieldKind::STRING}}},
	    {"storage_alert",
	     Topic::ALERTS,
	     {{"level", FieldKind::LEVEL}, {"message", FieldKind::STRING}},
	     {{"metric", FieldKind::STRING},
	      {"value", FieldKind::NUMBER},
	      {"threshold", FieldKind::NUMBER},
	      {"node", FieldKind::STRING}}},
	    {"network_alert",
	     Topic::ALERTS,
	     {{"level", FieldKind::LEVEL}, {"message", FieldKind::STRING}},
	     {{"peer", FieldKind::STRING}, {"node", FieldKind::STRING}}},
	};
	return RULES;
}


const EventRule* findEventRule(std::string_view type)
{
	for (const EventRule& rule : eventRules())
		if (type == rule.type)
			return &rule;
	return nullptr;
}


const char* expectation(FieldKind kind)
{
	switch (kind)
	{
		case FieldKind::STRING:
			return "a string";
		case FieldKind::NON_NEGATIVE_INTEGER:
			return "a non-negative integer";
		case FieldKind::PORT:
			return "an integer between 1 and 65535";
		case FieldKind::POSITIVE_INTEGER:
			return "an integer greater than or equal to 1";
		case FieldKind::INTEGER:
			return "an integer";
		case FieldKind::NUMBER:
			return "a number";
		case FieldKind::OBJECT:
			return "an object";
		case FieldKind::STRING_ARRAY:
			return "an array of strings";
		case FieldKind::LEVEL:
			return "one of info, warning, critical";
	}
	return "";
}


bool integerValue(std::string_view token, std::int64_t& value)
/// A JSON number token written without fraction or exponent ("1.0" and "1e2" are not integers)
/// whose value fits int64. token is known to be valid JSON.
{
	std::size_t pos = 0;
	const bool negative = !token.empty() && token[0] == '-';
	if (negative)
		++pos;
	if (pos == token.size())
		return false;
	// Accumulated as a negative number so that INT64_MIN fits as well.
	std::int64_t accumulated = 0;
	constexpr std::int64_t LOWEST = std::numeric_limits<std::int64_t>::min();
	for (; pos < token.size(); ++pos)
	{
		const char c = token[pos];
		if (c < '0' || c > '9')
			return false;
		const int digit = c - '0';
		if (accumulated < (LOWEST + digit) / 10)
			return false;
		accumulated = accumulated * 10 - digit;
	}
	if (!negative)
	{
		if (accumulated == LOWEST)
			return false;
		accumulated = -accumulated;
	}
	value = accumulated;
	return true;
}


bool isNumberToken(std::string_view token)
{
	return !token.empty() && (token[0] == '-' || (token[0] >= '0' && token[0] <= '9'));
}


bool isStringArray(std::string_view token)
/// token is valid JSON; true when it is an array whose elements are all strings.
{
	std::size_t pos = 0;
	const auto skipSpace = [&]() {
		while (pos < token.size() &&
		       (token[pos] == ' ' || token[pos] == '\t' || token[pos] == '\n' || token[pos] == '\r'))
			++pos;
	};
	if (token.empty() || token[0] != '[')
		return false;
	++pos;
	skipSpace();
	if (pos < token.size() && token[pos] == ']')
		return true;
	while (pos < token.size())
	{
		if (token[pos] != '"')
			return false;
		// Skip the string; in valid JSON a backslash always escapes the byte after it.
		for (++pos; pos < token.size() && token[pos] != '"'; ++pos)
			if (token[pos] == '\\')
				++pos;
		++pos;
		skipSpace();
		if (pos < token.size() && token[pos] == ']')
			return true;
		++pos; // the ','
		skipSpace();
	}
	return false;
}


bool hasKind(std::string_view token, FieldKind kind)
{
	std::int64_t integer = 0;
	switch (kind)
	{
		case FieldKind::STRING:
			return !token.empty() && token[0] == '"';
		case FieldKind::NON_NEGATIVE_INTEGER:
			return integerValue(token, integer) && integer >= 0;
		case FieldKind::PORT:
			return integerValue(token, integer) && integer >= 1 && integer <= 65535;
		case FieldKind::POSITIVE_INTEGER:
			return integerValue(token, integer) && integer >= 1;
		case FieldKind::INTEGER:
			return integerValue(token, integer);
		case FieldKind::NUMBER:
			return isNumberToken(token);
		case FieldKind::OBJECT:
			return !token.empty() && token[0] == '{';
		case FieldKind::STRING_ARRAY:
			return isStringArray(token);
		case FieldKind::LEVEL:
		{
			std::string level;
			return JsonText::stringValue(token, level) &&
			       (level == "info" || level == "warning" || level == "critical");
		}
	}
	return false;
}


struct DataMember
{
	std::string name;     ///< unescaped, for matching
	std::string_view key; ///< the key token as written
	std::string_view value;
};


bool readDataMembers(std::string_view data, std::vector<DataMember>& members)
{
	std::size_t scannedTo = 0;
	return JsonText::forEachMember(data, [&](const std::string& name, std::string_view value) {
		const auto valueOffset = static_cast<std::size_t>(value.data() - data.data());
		// Only whitespace, ',' and '{' precede a key, and only whitespace and ':' follow it, so the
		// first and last quotes around this stretch are the key token's own.
		const std::size_t keyStart = data.find('"', scannedTo);
		const std::size_t keyEnd = data.rfind('"', valueOffset - 1);
		members.push_back({name, data.substr(keyStart, keyEnd - keyStart + 1), value});
		scannedTo = valueOffset + value.size();
		return true;
	});
}


const DataMember* findMember(const std::vector<DataMember>& members, std::string_view name)
/// The last member with this name: the one a JSON.parse receiver would see.
{
	for (auto member = members.rbegin(); member != members.rend(); ++member)
		if (member->name == name)
			return &*member;
	return nullptr;
}


bool fail(PublishError& error, std::string message)
{
	error.message = std::move(message);
	return false;
}


std::string quoted(std::string_view value)
/// 'value', truncated for echoing.
{
	return "'" + truncateEcho(value) + "'";
}


void appendEnvelopeStart(std::string& frame, std::string_view type, Topic topic)
{
	frame += "{\"type\":";
	Json::appendString(frame, type);
	frame += ",\"topic\":\"";
	frame += topicName(topic);
	frame += "\",\"data\":{";
}


void appendEnvelopeEnd(std::string& frame, std::int64_t nowMillis)
{
	frame += "},\"timestamp\":\"";
	TimeText::appendTimestamp(frame, nowMillis);
	frame += "\"}";
}


} // namespace


const char* topicName(Topic topic)
{
	return TOPIC_NAMES[static_cast<int>(topic)];
}


bool parseTopic(std::string_view name, Topic& topic)
{
	for (int index = 0; index < TOPIC_COUNT; ++index)
		if (name == TOPIC_NAMES[index])
		{
			topic = static_cast<Topic>(index);
			return true;
		}
	return false;
}


bool readPublish(std::string_view body, std::int64_t nowMillis, PublishedEvent& event, PublishError& error)
{
	// JsonText trusts its input to be UTF-8, so that is checked first.
	if (!HttpText::isValidUtf8(body) || !JsonText::isValid(body))
		return fail(error, MESSAGE_FORMAT_INVALID);
	std::string_view typeToken, topicToken, dataToken;
	bool hasTopic = false, hasData = false;
	const bool isObject = JsonText::forEachMember(body, [&](const std::string& name, std::string_view value) {
		// Repeated keys: the last one counts, as in JSON.parse.
		if (name == "type")
			typeToken = value;
		else if (name == "topic")
		{
			topicToken = value;
			hasTopic = true;
		}
		else if (name == "data")
		{
			dataToken = value;
			hasData = true;
		}
		return true;
	});
	std::string type;
	if (!isObject || !JsonText::stringValue(typeToken, type))
		return fail(error, MESSAGE_FORMAT_INVALID);

	Topic givenTopic = Topic::FILE_OPERATIONS;
	if (hasTopic)
	{
		std::string topicText;
		if (!JsonText::stringValue(topicToken, topicText))
			return fail(error, MESSAGE_FORMAT_INVALID);
		if (!parseTopic(topicText, givenTopic))
			return fail(error, "Unknown topic " + quoted(topicText));
	}
	const EventRule* rule = findEventRule(type);
	if (rule == nullptr)
		return fail(error, "Unknown event type " + quoted(type));
	if (hasTopic && givenTopic != rule->topic)
		return fail(error, "Event type " + quoted(type) + " does not belong to topic " + quoted(topicName(givenTopic)));
	if (rule->topic == Topic::SYSTEM)
		return fail(error, "Topic 'system' is published by the server only");

	std::vector<DataMember> members;
	if (!hasData || dataToken.empty() || dataToken[0] != '{' || !readDataMembers(dataToken, members))
		return fail(error, "Field 'data' must be an object");
	for (const FieldRule& field : rule->required)
		if (findMember(members, field.name) == nullptr)
			return fail(error, std::string("Field 'data.") + field.name + "' is required");
	for (const auto* fields : {&rule->required, &rule->optional})
		for (const FieldRule& field : *fields)
		{
			const DataMember* member = findMember(members, field.name);
			if (member != nullptr && !hasKind(member->value, field.kind))
				return fail(error, std::string("Field 'data.") + field.name + "' must be " + expectation(field.kind));
		}
	std::int64_t dataMillis = nowMillis;
	const DataMember* timestamp = findMember(members, "timestamp");
	if (timestamp != nullptr)
	{
		std::string timestampText;
		if (!JsonText::stringValue(timestamp->value, timestampText) ||
		    !TimeText::parseTimestamp(timestampText, dataMillis))
			return fail(error, "Field 'data.timestamp' must be an RFC 3339 timestamp");
	}

	std::string frame;
	frame.reserve(body.size() + 160);
	appendEnvelopeStart(frame, type, rule->topic);
	bool first = true;
	const auto separate = [&]() {
		if (!first)
			frame += ',';
		first = false;
	};
	for (const DataMember& member : members)
	{
		if (member.name == "timestamp")
		{
			// Only the last timestamp was validated; it keeps its place and earlier ones are dropped.
			if (&member != timestamp)
				continue;
			separate();
			frame += "\"timestamp\":\"";
			TimeText::appendTimestamp(frame, dataMillis);
			frame += '"';
			continue;
		}
		separate();
		frame += member.key;
		frame += ':';
		frame += member.value;
	}
	if (type == "peer_connected" && findMember(members, "capabilities") == nullptr)
	{
		separate();
		frame += "\"capabilities\":[]";
	}
	if (timestamp == nullptr)
	{
		separate();
		frame += "\"timestamp\":\"";
		TimeText::appendTimestamp(frame, dataMillis);
		frame += '"';
	}
	appendEnvelopeEnd(frame, nowMillis);

	event.type = std::move(type);
	event.topic = rule->topic;
	event.frame = std::move(frame);
	return true;
}


std::string eventFrame(std::string_view type, Topic topic, std::string_view dataMembers, std::int64_t nowMillis)
{
	std::string frame;
	frame.reserve(dataMembers.size() + 128);
	appendEnvelopeStart(frame, type, topic);
	frame += dataMembers;
	if (!dataMembers.empty())
		frame += ',';
	frame += "\"timestamp\":\"";
	TimeText::appendTimestamp(frame, nowMillis);
	frame += '"';
	appendEnvelopeEnd(frame, nowMillis);
	return frame;
}


std::string errorFrame(std::string_view code, std::string_view message, std::int64_t nowMillis,
                       std::int64_t retryAfterSeconds)
{
	std::string frame = "{\"type\":\"error\",\"data\":{\"code\":";
	Json::appendString(frame, code);
	frame += ",\"message\":";
	Json::appendString(frame, message);
	if (retryAfterSeconds >= 0)
	{
		frame += ",\"retryAfter\":";
		frame += std::to_string(retryAfterSeconds);
	}
	frame += "},\"timestamp\":\"";
	TimeText::appendTimestamp(frame, nowMillis);
	frame += "\"}";
	return frame;
}


std::string truncateEcho(std::string_view value)
{
	std::size_t characters = 0;
	for (std::size_t i = 0; i < value.size(); ++i)
	{
		// Every byte that is not a continuation byte (10xxxxxx) starts a character.
		if ((static_cast<unsigned char>(value[i]) & 0xC0) != 0x80 && ++characters > MAX_ECHO_CHARACTERS)
			return std::string(value.substr(0, i));
	}
	return std::string(value);
}


} // namespace PeerVault
} // namespace Switchboard
