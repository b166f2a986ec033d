//
// Events.h
//
// PeerVault's topics, event types and the frames the plugin writes (docs/protocols/peervault.md,
// "Topics and events", "Errors"): the publish body's validation in the contract's order, and each
// event encoded once as the exact text every subscriber receives. Pure functions: thread-safe.
//


#ifndef Switchboard_PeerVault_Events_INCLUDED
#define Switchboard_PeerVault_Events_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace PeerVault {


enum class Topic
{
	FILE_OPERATIONS,
	PEER_NETWORK,
	SYSTEM,
	ALERTS
};

constexpr int TOPIC_COUNT = 4;

const char* topicName(Topic topic);
/// "file_operations", "peer_network", "system", "alerts".

bool parseTopic(std::string_view name, Topic& topic);
/// Exact, case-sensitive.


struct PublishedEvent
{
	std::string type; ///< e.g. "file_uploaded"
	Topic topic = Topic::FILE_OPERATIONS;
	std::string frame; ///< {"type":..,"topic":..,"data":{..,"timestamp":..},"timestamp":..}
};


struct PublishError
{
	std::string message; ///< the contract's exact text, e.g. "Field 'data.size' is required"
};


bool readPublish(std::string_view body, std::int64_t nowMillis, PublishedEvent& event, PublishError& error);
/// Validates a POST /ws/publish body (UTF-8 not yet checked) in the contract's order, from "not
/// JSON" on (every failure is a 400 INVALID_MESSAGE with error.message): not one JSON object or
/// "type" not a string → "Message format is invalid"; "topic" present but not a string or not one
/// of the four → "Unknown topic '<t>'" (a non-string topic: "Message format is invalid"); unknown
/// type → "Unknown event type '<type>'"; type of another topic → "Event type '<type>' does not
/// belong to topic '<topic>'"; topic system (given or inferred) → "Topic 'system' is published by
/// the server only"; "data" absent or not an object → "Field 'data' must be an object"; then
/// each required field of the type present, in the contract's order → "Field 'data.<name>' is
/// required"; then each listed field that is present, required ones first, has its type →
/// "Field 'data.<name>' must be <expectation>"; then data.timestamp, if present, must be an
/// RFC 3339 timestamp. Echoed values are truncated to 64 characters.
///
/// On success event.frame holds the envelope: "data" keeps the publisher's members in order and
/// byte for byte, except "timestamp", which is normalised (or added last, the publish time when
/// absent); peer_connected without "capabilities" gets "capabilities":[]; both timestamps use
/// TimeText::formatTimestamp and the outer one is nowMillis.

std::string eventFrame(std::string_view type, Topic topic, std::string_view dataMembers, std::int64_t nowMillis);
/// An event the server produces (system metrics, alerts): dataMembers is the inside of the data
/// object without braces and without "timestamp" (e.g. "\"level\":\"info\",\"value\":1"); the
/// frame gets data.timestamp and the envelope timestamp, both nowMillis.

std::string errorFrame(std::string_view code, std::string_view message, std::int64_t nowMillis,
                       std::int64_t retryAfterSeconds = -1);
/// {"type":"error","data":{"code":..,"message":..[,"retryAfter":n]},"timestamp":..}; retryAfter
/// only when retryAfterSeconds >= 0. Also the body of every HTTP error.

std::string truncateEcho(std::string_view value);
/// value cut to at most 64 characters (code points, never inside a UTF-8 sequence).


} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_Events_INCLUDED
