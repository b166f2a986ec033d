//
// PeerVaultFuzz.cpp
//
// Fuzz target: PeerVault's inbound decoding (plugins/peervault, docs/protocols/peervault.md §3,
// §4). The first input byte picks one of three modes:
//
//   0  A publish body through readPublish(): a body that is not one JSON object (strict RFC 8259,
//      ReferenceJson.h) is "Message format is invalid"; every refusal is one of §3's messages; an
//      accepted event's frame is valid JSON and UTF-8 whose type and topic are the body's, and
//      whose data keeps the body's data members byte for byte (timestamp aside).
//   1  POST /ws/publish to the plugin in a FakeHost, with a subscriber on every public topic:
//      202 exactly when readPublish() accepts, the subscriber then getting exactly the frame
//      readPublish() makes; otherwise 400 with readPublish()'s message (413 and 415 before it),
//      always in the error envelope.
//   2  WebSocket frames (0x1E-separated; auth optional, subscriptions acknowledged): each gets
//      exactly one answer (none for "pong"): INVALID_MESSAGE "Message format is invalid" for what
//      is not a JSON object with a string type, a pong with a 32-hex clientId for "ping",
//      subscribed/unsubscribed or a topic error for subscriptions, authenticated or AUTH_FAILED
//      for auth, "Unknown message type '<type>'" otherwise; the socket stays open.
//


#include "Events.h"
#include "FuzzSupport.h"
#include "JsonText.h"
#include "PeerVaultPlugin.h"
#include "PeerVaultSettings.h"
#include "PluginHarness.h"
#include "ReferenceJson.h"
#include "ReferenceUtf8.h"
#include "switchboard/util/HttpText.h"
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::PeerVault::PublishedEvent;
using Switchboard::PeerVault::PublishError;
using Switchboard::Test::analyseJson;
using Switchboard::Test::analyseUtf8;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;
using Switchboard::Test::JsonAnalysis;


namespace {


const char* const TOKENS = R"([{"token":"pub-token","name":"publisher","scopes":["publish"]},)"
                           R"({"token":"admin-token","name":"root","scopes":["admin"]}])";
const char* const CONTENT_TYPES[] = {"application/json", "application/json; charset=utf-8", "text/plain", ""};
const char* const PUBLIC_TOPICS[] = {"file_operations", "peer_network", "alerts"};


bool strictObject(std::string_view text)
{
	const JsonAnalysis json = analyseJson(text);
	return json.valid && json.top == '{' && json.containerDepth <= static_cast<std::size_t>(JsonText::MAX_DEPTH);
}


std::string stringMember(std::string_view json, std::string_view name)
{
	std::string_view token;
	std::string value;
	if (!JsonText::member(json, name, token) || !JsonText::stringValue(token, value))
		return "<absent>";
	return value;
}


bool isKnownPublishError(const std::string& message)
{
	static const char* const EXACT[] = {"Message format is invalid", "Topic 'system' is published by the server only",
	                                    "Field 'data' must be an object"};
	static const char* const PREFIXES[] = {"Unknown topic '", "Unknown event type '", "Event type '", "Field 'data."};
	for (const char* exact : EXACT)
	{
		if (message == exact)
			return true;
	}
	for (const char* prefix : PREFIXES)
	{
		if (message.rfind(prefix, 0) == 0)
			return true;
	}
	return false;
}


void checkPublishBody(std::string_view body, std::int64_t now, PublishedEvent& event, PublishError& error, bool& ok)
{
	ok = PeerVault::readPublish(body, now, event, error);
	if (!strictObject(body))
		FUZZ_CHECK_MSG(!ok && error.message == "Message format is invalid", hexOf(body));
	if (!ok)
	{
		FUZZ_CHECK_MSG(isKnownPublishError(error.message), error.message);
		FUZZ_CHECK(analyseUtf8(error.message).valid || !analyseUtf8(body).valid);
		return;
	}
	FUZZ_CHECK_MSG(analyseJson(event.frame).valid && strictObject(event.frame), hexOf(event.frame));
	if (analyseUtf8(body).valid)
		FUZZ_CHECK_MSG(analyseUtf8(event.frame).valid, hexOf(event.frame));
	FUZZ_CHECK(stringMember(event.frame, "type") == event.type && stringMember(body, "type") == event.type);
	FUZZ_CHECK(stringMember(event.frame, "topic") == PeerVault::topicName(event.topic));
	FUZZ_CHECK(event.topic != PeerVault::Topic::SYSTEM);
	// The publisher's data members pass through byte for byte, except timestamp.
	std::string_view data;
	std::string_view sent;
	FUZZ_CHECK(JsonText::member(body, "data", data) && JsonText::member(event.frame, "data", sent));
	JsonText::forEachMember(data, [&](const std::string& name, std::string_view value) {
		if (name == "timestamp")
			return true;
		std::string_view out;
		FUZZ_CHECK_MSG(JsonText::member(sent, name, out), name);
		// A repeated name: the frame keeps the last one, as the reader does.
		std::string_view last;
		JsonText::member(data, name, last);
		FUZZ_CHECK_MSG(out == last, name + ": " + hexOf(out) + " != " + hexOf(last));
		return true;
	});
}


Test::PluginHarness<PeerVault::PeerVaultPlugin>& harness()
{
	static Test::PluginHarness<PeerVault::PeerVaultPlugin> instance(
	    "peervault", PeerVault::PeerVaultSettings::keys(), PeerVault::PeerVaultSettings::keyCount(),
	    {{"websocket.auth.tokens", TOKENS},
	     {"websocket.auth.mode", "optional"},
	     {"websocket.auth.topic_scopes", R"({"alerts":"admin"})"},
	     {"websocket.ack_subscriptions", "true"},
	     {"websocket.metrics.interval", "0"}});
	return instance;
}


bool isErrorFrame(const std::string& frame, std::string* code = nullptr, std::string* message = nullptr)
{
	std::string_view data;
	if (!strictObject(frame) || stringMember(frame, "type") != "error" || !JsonText::member(frame, "data", data))
		return false;
	const std::string c = stringMember(data, "code");
	const std::string m = stringMember(data, "message");
	if (code != nullptr)
		*code = c;
	if (message != nullptr)
		*message = m;
	return c != "<absent>" && m != "<absent>" && stringMember(frame, "timestamp") != "<absent>";
}


void checkPublishRoute(FuzzInput& input)
{
	auto& h = harness();
	h.beginInput();
	FakeHost& host = h.host();
	host.advance(1000); // the publish and message buckets refill
	const ConnectionId subscriber = host.connect("/ws?token=admin-token");
	FUZZ_CHECK(subscriber != 0);
	for (const char* topic : PUBLIC_TOPICS)
		host.deliver(subscriber, std::string(R"({"type":"subscribe","topic":")") + topic + "\"}");
	FUZZ_CHECK(host.takeSent(subscriber).size() == std::size(PUBLIC_TOPICS));

	const std::string contentType = CONTENT_TYPES[input.takeBelow(std::size(CONTENT_TYPES))];
	const std::string body(input.rest());
	HeaderList headers{{"Authorization", "Bearer pub-token"}};
	if (!contentType.empty())
		headers.emplace_back("Content-Type", contentType);
	const HttpResponse r = host.request("POST", "/ws/publish", body, headers);
	const std::string what = "publish " + hexOf(body);
	PublishedEvent event;
	PublishError error;
	bool ok = false;
	checkPublishBody(body, host.wallMs(), event, error, ok);
	const std::vector<SentMessage> sent = host.takeSent(subscriber);
	if (r.status == 202)
	{
		FUZZ_CHECK_MSG(ok, what);
		FUZZ_CHECK_MSG(sent.size() == 1 && sent[0].data == event.frame && sent[0].kind == MessageKind::TEXT, what);
		FUZZ_CHECK_MSG(analyseUtf8(sent[0].data).valid, "an event frame that is not UTF-8: " + hexOf(sent[0].data));
		FUZZ_CHECK(stringMember(r.body, "status") == "accepted" && stringMember(r.body, "type") == event.type);
	}
	else
	{
		FUZZ_CHECK_MSG(sent.empty(), what);
		std::string code;
		std::string message;
		FUZZ_CHECK_MSG(isErrorFrame(r.body, &code, &message), r.body);
		FUZZ_CHECK(code == "INVALID_MESSAGE");
		if (contentType.rfind("application/json", 0) != 0)
			FUZZ_CHECK(r.status == 415);
		else
			FUZZ_CHECK_MSG(r.status == 400 && !ok && message == error.message,
			               std::to_string(r.status) + " " + r.body + " for " + what);
	}
	host.disconnect(subscriber, CloseCode::NORMAL);
	h.check(what);
}


void checkSocket(FuzzInput& input)
{
	auto& h = harness();
	h.beginInput();
	FakeHost& host = h.host();
	host.advance(1000);
	const ConnectionId c = host.connect("/ws");
	FUZZ_CHECK(c != 0 && host.takeSent(c).empty()); // nothing is sent on connect
	const bool binary = input.takeBool();
	for (std::size_t frames = 0; !input.empty() && frames < 32; ++frames)
	{
		const std::string frame(input.takeUntil('\x1E'));
		host.deliver(c, frame, binary ? MessageKind::BINARY : MessageKind::TEXT);
		const std::vector<SentMessage> sent = host.takeSent(c);
		const std::string what = "frame " + hexOf(frame);
		FUZZ_CHECK_MSG(host.isOpen(c), what);
		std::string_view topicToken;
		const bool wellFormed = analyseUtf8(frame).valid && strictObject(frame) &&
		                        stringMember(frame, "type") != "<absent>" &&
		                        (!JsonText::member(frame, "topic", topicToken) || topicToken.front() == '"');
		const std::string type = wellFormed ? stringMember(frame, "type") : std::string();
		if (wellFormed && type == "pong")
		{
			FUZZ_CHECK_MSG(sent.empty(), what);
			continue;
		}
		FUZZ_CHECK_MSG(sent.size() == 1, std::to_string(sent.size()) + " answers to " + what);
		const std::string& answer = sent[0].data;
		FUZZ_CHECK(sent[0].kind == MessageKind::TEXT && analyseUtf8(answer).valid && strictObject(answer));
		std::string code;
		std::string message;
		const bool error = isErrorFrame(answer, &code, &message);
		const std::string answerType = stringMember(answer, "type");
		const std::string context = what + " answered " + answer;
		if (!wellFormed)
			FUZZ_CHECK_MSG(error && code == "INVALID_MESSAGE" && message == "Message format is invalid", context);
		else if (type == "ping")
		{
			const std::string clientId = stringMember(answer, "clientId");
			FUZZ_CHECK_MSG(answerType == "pong" && clientId.size() == 32 &&
			                   clientId.find_first_not_of("0123456789abcdef") == std::string::npos,
			               context);
		}
		else if (type == "subscribe" || type == "unsubscribe")
			FUZZ_CHECK_MSG(answerType == type + "d" || (error && (code == "INVALID_MESSAGE" || code == "AUTH_FAILED")),
			               context);
		else if (type == "auth")
			FUZZ_CHECK_MSG(answerType == "authenticated" ||
			                   (error && (code == "AUTH_FAILED" || code == "INVALID_MESSAGE")),
			               context);
		else
			FUZZ_CHECK_MSG(error && code == "INVALID_MESSAGE" &&
			                   message == "Unknown message type '" + PeerVault::truncateEcho(type) + "'",
			               context);
		h.check(what);
	}
	host.disconnect(c, CloseCode::NORMAL);
	h.check("disconnect");
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	switch (input.takeByte() % 3)
	{
		case 0:
		{
			PublishedEvent event;
			PublishError error;
			bool ok = false;
			checkPublishBody(input.rest(), 1700000000123, event, error, ok);
			break;
		}
		case 1:
			checkPublishRoute(input);
			break;
		default:
			checkSocket(input);
			break;
	}
	return 0;
}
