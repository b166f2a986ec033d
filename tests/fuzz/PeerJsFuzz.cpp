//
// PeerJsFuzz.cpp
//
// Fuzz target: PeerJS inbound messages (plugins/peerjs/Envelope.h, docs/protocols/peerjs.md §6,
// §11). Input: messages separated by 0x1E (a byte no JSON text can hold outside a string, nor
// inside one unescaped). Checks, per message: parseEnvelope() calls NOT_JSON exactly what strict
// RFC 8259 (ReferenceJson.h, 1000 levels) refuses and NOT_OBJECT what is not an object; type,
// dst and payload are the last such members, decoded as JavaScript does (a second reader,
// JsonText, finds the members); the relayed frame written for them parses back to the same
// envelope; copies and moves keep the payload. Then the same messages go to a PeerJsPlugin in a
// FakeHost, from a registered peer, with reply_error_on_invalid_message on: each one is answered
// exactly as §11 and §8 say (the ERROR frame, its own relay when dst is itself, or nothing),
// and the socket stays open.
//


#include "Envelope.h"
#include "FuzzSupport.h"
#include "JsonText.h"
#include "PeerJsPlugin.h"
#include "PeerJsSettings.h"
#include "PluginHarness.h"
#include "ReferenceJson.h"
#include "ReferenceUtf8.h"
#include "switchboard/util/HttpText.h"
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::PeerJs::Envelope;
using Switchboard::PeerJs::EnvelopeStatus;
using Switchboard::PeerJs::parseEnvelope;
using Switchboard::Test::analyseJson;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;
using Switchboard::Test::JsonAnalysis;


namespace {


constexpr std::size_t MAX_MESSAGES = 32;
const char* const SELF = "fz";
const std::string ERROR_FRAME = R"({"type":"ERROR","payload":{"msg":"Invalid message"}})";


struct Expected
{
	EnvelopeStatus status = EnvelopeStatus::NOT_JSON;
	bool membersKnown = false; ///< the members below were found (by JsonText)
	bool hasType = false;
	std::string type;
	bool hasDst = false;
	std::string dst;
	bool hasPayload = false;
	std::string payload;
};


Expected expectedEnvelope(std::string_view text)
{
	Expected e;
	const JsonAnalysis json = analyseJson(text);
	if (!json.valid || json.containerDepth > static_cast<std::size_t>(PeerJs::MAX_ENVELOPE_DEPTH))
		return e;
	e.status = json.top == '{' ? EnvelopeStatus::OK : EnvelopeStatus::NOT_OBJECT;
	if (e.status != EnvelopeStatus::OK || json.containerDepth > static_cast<std::size_t>(JsonText::MAX_DEPTH))
		return e;
	e.membersKnown = JsonText::forEachMember(text, [&](const std::string& name, std::string_view value) {
		const bool isString = !value.empty() && value.front() == '"';
		if (name == "type")
		{
			e.hasType = isString;
			e.type = isString ? Test::decodeJsonString(value, Test::LoneSurrogate::WTF8) : std::string();
		}
		else if (name == "dst")
		{
			e.hasDst = isString;
			e.dst = isString ? Test::decodeJsonString(value, Test::LoneSurrogate::WTF8) : std::string();
		}
		else if (name == "payload")
		{
			e.hasPayload = true;
			e.payload = Test::compactJson(value);
		}
		return true;
	});
	FUZZ_CHECK_MSG(e.membersKnown, "JsonText refuses a valid object: " + hexOf(text));
	return e;
}


bool sameEnvelope(const Envelope& a, const Envelope& b)
{
	return a.hasType == b.hasType && a.type == b.type && a.hasDst == b.hasDst && a.dst == b.dst &&
	       a.hasPayload == b.hasPayload && a.payload == b.payload;
}


void checkEnvelope(std::string_view text)
{
	Envelope envelope;
	envelope.type = "left over";
	const EnvelopeStatus status = parseEnvelope(text, envelope);
	const Expected expected = expectedEnvelope(text);
	FUZZ_CHECK_MSG(status == expected.status, "status " + std::to_string(int(status)) + " for " + hexOf(text));
	if (status != EnvelopeStatus::OK)
	{
		FUZZ_CHECK(!envelope.hasType && !envelope.hasDst && !envelope.hasPayload && envelope.type.empty());
		return;
	}
	if (expected.membersKnown)
	{
		FUZZ_CHECK(envelope.hasType == expected.hasType && envelope.hasDst == expected.hasDst);
		FUZZ_CHECK_MSG(envelope.type == expected.type, hexOf(envelope.type) + " != " + hexOf(expected.type));
		FUZZ_CHECK_MSG(envelope.dst == expected.dst, hexOf(envelope.dst) + " != " + hexOf(expected.dst));
		FUZZ_CHECK(envelope.hasPayload == expected.hasPayload);
		FUZZ_CHECK_MSG(envelope.payload == expected.payload,
		               hexOf(envelope.payload) + " != " + hexOf(expected.payload));
	}

	// Copies and moves point at their own storage.
	Envelope copy(envelope);
	Envelope assigned;
	assigned = copy;
	Envelope moved(std::move(copy));
	FUZZ_CHECK(sameEnvelope(moved, envelope) && sameEnvelope(assigned, envelope));

	// The relayed frame (§6.2) says the same again, and both writers agree on its bytes.
	const std::string_view* payload = envelope.hasPayload ? &envelope.payload : nullptr;
	const std::string frame = PeerJs::relayFrame(envelope.type, "src\xF0\x9F\x98\x80", envelope.dst, payload);
	PeerJs::RelayFrameWriter writer(envelope.type, "src\xF0\x9F\x98\x80", envelope.dst, payload);
	std::string written(writer.size(), '\0');
	FUZZ_CHECK(writer.write(&written[0]) == written.data() + written.size());
	FUZZ_CHECK(written == frame);
	FUZZ_CHECK_MSG(analyseJson(frame).valid, hexOf(frame));
	Envelope again;
	FUZZ_CHECK(parseEnvelope(frame, again) == EnvelopeStatus::OK);
	FUZZ_CHECK(again.hasType && again.type == envelope.type);
	FUZZ_CHECK(again.hasDst && again.dst == envelope.dst);
	FUZZ_CHECK_MSG(again.hasPayload == envelope.hasPayload && again.payload == envelope.payload, hexOf(frame));
}


std::vector<std::string> expectedReplies(std::string_view text)
/// What the registered peer SELF gets back for one message (§11, §8.1), nothing else being
/// registered.
{
	Envelope envelope;
	const EnvelopeStatus status = parseEnvelope(text, envelope);
	if (status != EnvelopeStatus::OK || !envelope.hasType)
		return {ERROR_FRAME};
	const std::string& type = envelope.type;
	const bool relay =
	    type == "OFFER" || type == "ANSWER" || type == "CANDIDATE" || type == "LEAVE" || type == "EXPIRE";
	if (!relay)
		return type == "HEARTBEAT" ? std::vector<std::string>() : std::vector<std::string>{ERROR_FRAME};
	if (!envelope.hasDst || envelope.dst.empty())
		return type == "LEAVE" ? std::vector<std::string>() : std::vector<std::string>{ERROR_FRAME};
	if (envelope.dst != SELF)
		return {}; // queued (OFFER, ANSWER, CANDIDATE) or dropped (LEAVE, EXPIRE)
	return {PeerJs::relayFrame(type, SELF, SELF, envelope.hasPayload ? &envelope.payload : nullptr)};
}


Test::PluginHarness<PeerJs::PeerJsPlugin>& harness()
{
	static Test::PluginHarness<PeerJs::PeerJsPlugin> instance(
	    "peerjs", PeerJs::PeerJsSettings::keys(), PeerJs::PeerJsSettings::keyCount(),
	    {{"reply_error_on_invalid_message", "true"}, {"max_message_size", "1048576"}, {"expire_timeout", "1000"}});
	return instance;
}


void checkPlugin(const std::vector<std::string_view>& messages)
{
	auto& h = harness();
	h.beginInput();
	FakeHost& host = h.host();
	const ConnectionId c = host.connect(std::string("/peerjs?key=peerjs&id=") + SELF + "&token=t" + SELF);
	FUZZ_CHECK_MSG(c != 0, std::to_string(host.lastRejectStatus()) + " " + host.lastRejectBody());
	std::vector<SentMessage> sent = host.takeSent(c);
	FUZZ_CHECK(sent.size() == 1 && sent[0].data == R"({"type":"OPEN"})");
	for (std::string_view message : messages)
	{
		// Text when it is UTF-8 (else the host would close with 1007); binary otherwise, which the
		// plugin reads with invalid sequences replaced (§6.1).
		const bool text = HttpText::isValidUtf8(message);
		host.deliver(c, message, text ? MessageKind::TEXT : MessageKind::BINARY);
		const std::vector<std::string> expected =
		    expectedReplies(text ? std::string(message) : HttpText::replaceInvalidUtf8(message));
		sent = host.takeSent(c);
		FUZZ_CHECK_MSG(host.isOpen(c), "closed by " + hexOf(message));
		FUZZ_CHECK_MSG(sent.size() == expected.size(), std::to_string(sent.size()) + " replies to " + hexOf(message) +
		                                                   ", expected " + std::to_string(expected.size()));
		for (std::size_t i = 0; i < sent.size(); ++i)
		{
			FUZZ_CHECK(sent[i].kind == MessageKind::TEXT);
			FUZZ_CHECK_MSG(sent[i].data == expected[i], hexOf(sent[i].data) + " != " + hexOf(expected[i]));
		}
		h.check("message " + hexOf(message));
	}
	host.disconnect(c, CloseCode::NORMAL);
	// Let what was queued for absent peers expire while nobody is there to be told.
	host.advance(5000);
	h.check("disconnect");
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	std::vector<std::string_view> messages;
	while (!input.empty() && messages.size() < MAX_MESSAGES)
		messages.push_back(input.takeUntil('\x1E'));
	for (std::string_view message : messages)
		checkEnvelope(message);
	checkPlugin(messages);
	return 0;
}
