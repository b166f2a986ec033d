//
// GovpnFuzz.cpp
//
// Fuzz target: the GoVPN wire codec (plugins/govpn/Codec.h, docs/protocols/govpn.md §4). Input:
// one frame. Checks: JsonDocument accepts exactly the UTF-8 texts strict RFC 8259 accepts
// (ReferenceJson.h) within its 64 levels, and keeps the source bytes (raw, compact) and string
// values (Go's decoding: a lone surrogate is U+FFFD); readEnvelope() sorts the frame as the
// envelope checks of §4 say, reads the payload form (object, JSON string, base64) and decodes it
// exactly when its inner value is an object or null; an inner object, encoded in each of the
// three forms with encodeFrame(), reads back to the same id, type, form and object; the Go
// string writer's output reads back to its input; and base64 (padded, canonical, CR/LF
// ignored) round-trips and gives the same answers at every vector level the CPU has.
//


#include "Codec.h"
#include "FuzzSupport.h"
#include "ReferenceJson.h"
#include "ReferenceUtf8.h"
#include <string>
#include <vector>


using namespace Switchboard::Govpn;
using Switchboard::Test::analyseJson;
using Switchboard::Test::analyseUtf8;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;
using Switchboard::Test::JsonAnalysis;


namespace {


constexpr std::size_t MAX_VALUE_DEPTH = 64; // Codec.cpp's MAX_DEPTH: containers around any value


bool isSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


std::string_view trimmed(std::string_view text)
{
	while (!text.empty() && isSpace(text.front()))
		text.remove_prefix(1);
	while (!text.empty() && isSpace(text.back()))
		text.remove_suffix(1);
	return text;
}


JsonKind kindOf(char first)
{
	switch (first)
	{
		case '{':
			return JsonKind::OBJECT;
		case '[':
			return JsonKind::ARRAY;
		case '"':
			return JsonKind::STRING;
		case 'n':
			return JsonKind::NUL;
		case 't':
		case 'f':
			return JsonKind::BOOLEAN;
		default:
			return JsonKind::NUMBER;
	}
}


void checkMembers(const JsonDocument& doc, const JsonNode& object)
/// Each member of an object, looked up by its key, is valid JSON on its own, and a string member
/// holds the decoded value of its token.
{
	for (const auto& member : object.members)
	{
		const JsonNode* node = doc.member(object, member.first);
		FUZZ_CHECK(node != nullptr);
		const std::string_view raw = doc.raw(*node);
		FUZZ_CHECK_MSG(analyseJson(raw).valid, hexOf(raw));
		FUZZ_CHECK(node->kind == kindOf(raw.front()));
		if (node->kind == JsonKind::STRING)
			FUZZ_CHECK_MSG(node->text ==
			                   Switchboard::Test::decodeJsonString(raw, Switchboard::Test::LoneSurrogate::REPLACEMENT),
			               hexOf(raw));
	}
}


bool parsesAs(std::string_view text, JsonDocument& doc)
/// JsonDocument::parse() checked against the reference.
{
	const bool parsed = doc.parse(std::string(text));
	const JsonAnalysis reference = analyseJson(text);
	const bool expected = analyseUtf8(text).valid && reference.valid && reference.valueDepth <= MAX_VALUE_DEPTH;
	FUZZ_CHECK_MSG(parsed == expected, (parsed ? "accepted " : "refused ") + hexOf(text));
	if (!parsed)
		return false;
	const std::string_view core = trimmed(text);
	FUZZ_CHECK(doc.raw(doc.root()) == core);
	FUZZ_CHECK(doc.root().kind == kindOf(core.front()));
	FUZZ_CHECK_MSG(doc.compact(doc.root()) == Switchboard::Test::compactJson(core), hexOf(text));
	if (doc.root().kind == JsonKind::OBJECT)
		checkMembers(doc, doc.root());
	return true;
}


struct InnerValue
{
	bool decodes = false; ///< an object or null, as §4.2 requires
	bool isObject = false;
	std::string compact;
	std::vector<std::string> fields; ///< the object's keys
};


InnerValue innerOf(const JsonDocument& doc, const JsonNode& payload, PayloadForm form)
/// The payload's inner value, decoded here with the public pieces (base64Decode, a second
/// JsonDocument) rather than through Payload.
{
	InnerValue inner;
	if (form == PayloadForm::OBJECT)
	{
		inner.decodes = inner.isObject = true;
		inner.compact = doc.compact(payload);
		for (const auto& member : payload.members)
			inner.fields.push_back(member.first);
		return inner;
	}
	std::string text = payload.text;
	if (form == PayloadForm::BASE64)
	{
		std::string bytes;
		if (!base64Decode(payload.text, bytes, "\r\n"))
			return inner;
		text = bytes;
	}
	JsonDocument innerDoc;
	if (!parsesAs(text, innerDoc))
		return inner;
	inner.isObject = innerDoc.root().kind == JsonKind::OBJECT;
	inner.decodes = inner.isObject || innerDoc.root().kind == JsonKind::NUL;
	inner.compact = innerDoc.compact(innerDoc.root());
	for (const auto& member : innerDoc.root().members)
		inner.fields.push_back(member.first);
	return inner;
}


void checkGoQuote(const std::string& text)
{
	const std::string quoted = goQuote(text);
	FUZZ_CHECK(quoted.find_first_of("<>&") == std::string::npos);
	FUZZ_CHECK(quoted.find("\xE2\x80\xA8") == std::string::npos && quoted.find("\xE2\x80\xA9") == std::string::npos);
	JsonDocument doc;
	FUZZ_CHECK_MSG(doc.parse(quoted) && doc.root().kind == JsonKind::STRING && doc.root().text == text, hexOf(quoted));
	FUZZ_CHECK(isGoQuoted(quoted));
}


void checkEnvelope(std::string_view frame)
{
	Envelope envelope;
	readEnvelope(frame, envelope);

	// §4.1 from the document alone.
	JsonDocument doc;
	const bool object = parsesAs(frame, doc) && doc.root().kind == JsonKind::OBJECT;
	const JsonNode* id = object ? doc.member(doc.root(), "message_id") : nullptr;
	const JsonNode* type = object ? doc.member(doc.root(), "type") : nullptr;
	const JsonNode* payload = object ? doc.member(doc.root(), "payload") : nullptr;
	const bool idOk = id == nullptr || id->kind == JsonKind::STRING || id->kind == JsonKind::NUL;
	const bool valid = object && idOk && type != nullptr && type->kind == JsonKind::STRING;
	const std::string expectedId = id != nullptr && id->kind == JsonKind::STRING ? id->text : std::string();
	if (object && idOk)
		FUZZ_CHECK(envelope.messageId == expectedId); // echoed in the error when type is bad
	FUZZ_CHECK_MSG((envelope.status == Envelope::Status::VALID) == valid, hexOf(frame));
	if (!valid)
	{
		FUZZ_CHECK(envelope.status == Envelope::Status::INVALID && !envelope.hasForm && !envelope.payloadOk);
		FUZZ_CHECK(envelope.type.empty());
		return;
	}
	FUZZ_CHECK(envelope.type == type->text);
	const bool hasForm = payload != nullptr && (payload->kind == JsonKind::OBJECT || payload->kind == JsonKind::STRING);
	FUZZ_CHECK(envelope.hasForm == hasForm);
	if (!hasForm)
	{
		FUZZ_CHECK(!envelope.payloadOk);
		return;
	}
	PayloadForm form = PayloadForm::OBJECT;
	if (payload->kind == JsonKind::STRING)
	{
		const std::string_view text = trimmed(payload->text);
		form = !text.empty() && text.front() == '{' ? PayloadForm::JSON_STRING : PayloadForm::BASE64;
	}
	FUZZ_CHECK(envelope.form == form);
	const InnerValue inner = innerOf(doc, *payload, form);
	FUZZ_CHECK_MSG(envelope.payloadOk == inner.decodes, hexOf(frame));
	if (!inner.isObject)
		return;

	checkGoQuote(envelope.messageId);
	checkGoQuote(envelope.type);

	// The inner object in each of the three forms reads back to itself.
	for (PayloadForm out : {PayloadForm::BASE64, PayloadForm::OBJECT, PayloadForm::JSON_STRING})
	{
		const std::string encoded = encodeFrame(envelope.messageId, envelope.type, inner.compact, out);
		FUZZ_CHECK(encoded.size() >= 2 && encoded.substr(encoded.size() - 2) == "}\n");
		Envelope back;
		readEnvelope(encoded, back);
		FUZZ_CHECK_MSG(back.status == Envelope::Status::VALID && back.messageId == envelope.messageId &&
		                   back.type == envelope.type && back.hasForm && back.form == out && back.payloadOk,
		               hexOf(encoded));
		JsonDocument again;
		FUZZ_CHECK(again.parse(encoded));
		const InnerValue backInner = innerOf(again, *again.member(again.root(), "payload"), out);
		FUZZ_CHECK_MSG(backInner.isObject && backInner.compact == inner.compact, hexOf(encoded));
		// The same fields, with the same values, whichever the form.
		for (const std::string& name : inner.fields)
		{
			const JsonNode* field = back.payload.field(name);
			const JsonNode* original = envelope.payload.field(name);
			FUZZ_CHECK((field == nullptr) == (original == nullptr));
			if (field != nullptr)
				FUZZ_CHECK(field->kind == original->kind &&
				           back.payload.compact(*field) == envelope.payload.compact(*original));
		}
	}
}


void checkBase64(std::string_view bytes, std::string_view text)
{
	// Any bytes round-trip, through both interfaces.
	const std::string encoded = base64Encode(bytes);
	FUZZ_CHECK(encoded.size() == base64Size(bytes.size()));
	std::string written(encoded.size(), '\0');
	FUZZ_CHECK(writeBase64(bytes, &written[0]) == written.data() + written.size());
	FUZZ_CHECK(written == encoded);
	std::string decoded;
	FUZZ_CHECK(base64Decode(encoded, decoded) && decoded == bytes);
	std::vector<char> buffer(decodedCapacity(encoded.size()));
	FUZZ_CHECK(readBase64(encoded, buffer.data()) == bytes.size());
	FUZZ_CHECK(std::string_view(buffer.data(), bytes.size()) == bytes);

	// Any text: decoded only when canonical, and then it is what encoding the result gives.
	std::string fromText;
	const bool ok = base64Decode(text, fromText);
	if (ok)
		FUZZ_CHECK_MSG(base64Encode(fromText) == text, hexOf(text));
	std::vector<char> out(decodedCapacity(text.size()));
	const std::size_t n = readBase64(text, out.data());
	FUZZ_CHECK_MSG(ok ? n == fromText.size() && std::string_view(out.data(), n) == fromText : n == BAD_BASE64,
	               hexOf(text));
	// CR and LF are skipped anywhere when asked to be.
	std::string withoutLineBreaks;
	for (char c : text)
	{
		if (c != '\r' && c != '\n')
			withoutLineBreaks += c;
	}
	std::string ignoring;
	std::string plain;
	const bool ignoringOk = base64Decode(text, ignoring, "\r\n");
	FUZZ_CHECK(ignoringOk == base64Decode(withoutLineBreaks, plain));
	if (ignoringOk)
		FUZZ_CHECK(ignoring == plain);
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	const std::string frame(input.rest());
	checkEnvelope(frame);

	// Every vector level the CPU has gives the same answers; the widest is restored after.
	for (VectorLevel level : {VectorLevel::BASELINE, VectorLevel::SSSE3, VectorLevel::AVX2, VectorLevel::AVX512_VBMI})
	{
		limitVectorLevel(level);
		checkBase64(frame, frame);
		// A text of base64 digits only, so that the vector paths get far.
		std::string digits;
		for (char c : frame)
		{
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
			    c == '=')
				digits += c;
		}
		checkBase64(frame, digits);
		std::string reencoded = base64Encode(frame);
		checkBase64(frame, reencoded);
	}
	limitVectorLevel(VectorLevel::AVX512_VBMI);
	return 0;
}
