//
// Codec.h
//
// The GoVPN wire codec (docs/protocols/govpn.md §4): a strict JSON reader that keeps every
// value's source bytes (so numbers and relayed objects go back out exactly as received), the
// envelope and its three payload forms, and the server's byte-predictable output.
//


#ifndef Switchboard_Govpn_Codec_INCLUDED
#define Switchboard_Govpn_Codec_INCLUDED


#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Govpn {


enum class JsonKind
{
	NUL,
	BOOLEAN,
	NUMBER,
	STRING,
	ARRAY,
	OBJECT
};


struct JsonNode
{
	JsonKind kind = JsonKind::NUL;
	std::size_t begin = 0; ///< the value's bytes in the document's text
	std::size_t end = 0;
	bool boolean = false;
	std::string text;                                         ///< STRING: the decoded value
	std::vector<std::pair<std::string, std::size_t>> members; ///< OBJECT: key, node index
};


class JsonDocument
/// One strictly parsed JSON text (RFC 8259: one value, optional surrounding whitespace, UTF-8).
{
public:
	bool parse(std::string text);
	/// False for anything that is not exactly one JSON value; never throws on bad input.

	const JsonNode& root() const { return _nodes.front(); }

	const JsonNode* member(const JsonNode& object, std::string_view key) const;
	/// The last member named key (duplicates: the last wins), or nullptr.

	std::string compact(const JsonNode& node) const;
	/// The node's source with insignificant whitespace removed: member order, number spelling
	/// and string escapes kept as received.

	std::string_view raw(const JsonNode& node) const;

private:
	bool parseValue(std::size_t& pos, int depth, std::size_t& index);
	bool parseString(std::size_t& pos, std::string& out);
	bool parseNumber(std::size_t& pos);
	void skipWhitespace(std::size_t& pos) const;

	std::string _text;
	std::vector<JsonNode> _nodes;
};


bool isUtf8(std::string_view text);


std::string& appendGoString(std::string& out, std::string_view text);
/// Appends text as a JSON string the way Go's encoding/json writes it (§4.4): \" \\ \n \r \t,
/// \u00xx for other control characters, \u003c \u003e \u0026 for < > &, \u2028 \u2029.

std::string goQuote(std::string_view text);

bool isGoQuoted(std::string_view token);
/// Whether a JSON string token (quotes included, valid JSON and UTF-8) is exactly what
/// appendGoString() writes for its text, so a relay can copy it instead of re-escaping.

std::string& appendBase64(std::string& out, std::string_view bytes);
/// Appends bytes as padded standard base64. Not constant-time: nothing encoded here is secret.

std::string base64Encode(std::string_view bytes);

bool base64Decode(std::string_view text, std::string& bytes, const char* ignore = nullptr);
/// Canonical padded standard base64 only: a length of whole quads, '=' only as the last one or
/// two characters, unused bits zero. Characters in ignore (e.g. "\r\n") are skipped anywhere.

// The same without a std::string, for callers that reuse one buffer:
constexpr std::size_t BAD_BASE64 = ~std::size_t(0);

constexpr std::size_t base64Size(std::size_t bytes)
{
	return (bytes + 2) / 3 * 4;
}

constexpr std::size_t decodedCapacity(std::size_t digits)
/// What readBase64() may write for that many digits: the block decoders write whole blocks.
{
	return digits / 4 * 3 + 16;
}

char* writeBase64(std::string_view bytes, char* out);
/// Writes base64Size(bytes.size()) characters; returns the end.

std::size_t readBase64(std::string_view text, char* out);
/// base64Decode() without ignored characters into out (room for decodedCapacity(text.size()));
/// the number of bytes, or BAD_BASE64.


enum class VectorLevel
/// The widest instructions the codec and the relay reader may use, each level including the ones
/// below: SSE2 (every x86-64 CPU; byte-at-a-time elsewhere), SSSE3, AVX2, AVX-512 VBMI.
{
	BASELINE,
	SSSE3,
	AVX2,
	AVX512_VBMI
};

bool canUseVectors(VectorLevel level) noexcept;
/// Whether this CPU has the level and it is not limited below it. Thread-safe.

void limitVectorLevel(VectorLevel highest) noexcept;
/// Tests only: use nothing above highest (the default allows everything the CPU has), so every
/// code path can be checked on one machine.


class InnerWriter
/// Builds a compact inner payload object, fields in the order they are added.
{
public:
	InnerWriter() = default;

	InnerWriter& string(std::string_view key, std::string_view value);
	InnerWriter& integer(std::string_view key, std::int64_t value);
	InnerWriter& boolean(std::string_view key, bool value);
	InnerWriter& raw(std::string_view key, std::string_view json);
	std::string finish();

private:
	void key(std::string_view name);
	std::string _out = "{";
};


enum class PayloadForm
{
	BASE64,
	OBJECT,
	JSON_STRING
};


std::string encodeFrame(std::string_view messageId, std::string_view type, std::string_view innerJson,
                        PayloadForm form);
/// The whole outbound frame: {"message_id":…,"type":…,"payload":…} and "\n" (§4.1, §4.3).

std::string& appendFrame(std::string& out, std::string_view messageId, std::string_view type,
                         std::string_view innerJson, PayloadForm form);
/// encodeFrame() appended to out, so a caller can reuse one buffer.


class Payload
/// A request's decoded inner object (§4.2). An inner null is an empty object.
{
public:
	bool decode(const JsonDocument& envelope, const JsonNode& payload, PayloadForm form);

	const JsonNode* field(std::string_view name) const;
	/// The field, or nullptr when absent or null.

	bool stringField(std::string_view name, std::string& value) const;
	/// False when present with another type than string; absent or null leaves value empty.

	std::string compact(const JsonNode& node) const { return document().compact(node); }
	std::string_view raw(const JsonNode& node) const { return document().raw(node); }

private:
	const JsonDocument& document() const { return _pOwn ? *_pOwn : *_pEnvelope; }

	const JsonDocument* _pEnvelope = nullptr;
	std::unique_ptr<JsonDocument> _pOwn;
	const JsonNode* _pObject = nullptr; ///< nullptr: the inner value was null
};


struct Envelope
/// What §4.1's checks made of one inbound frame.
{
	enum class Status
	{
		VALID,   ///< type, id and payload form read; the payload may still fail to decode
		INVALID, ///< answer "Invalid message format" with errorMessageId
		SILENT   ///< unknown type without message_id: ignored
	};
	Status status = Status::INVALID;
	std::string messageId;
	std::string type;
	bool hasForm = false; ///< the payload is an object or a string: the connection's mode becomes form
	PayloadForm form = PayloadForm::BASE64;
	bool payloadOk = false; ///< the payload decoded to an object (§4.2)
	Payload payload;
	JsonDocument document;
};


void readEnvelope(std::string_view frame, Envelope& envelope);
/// Runs the envelope checks except "known type", which the caller decides; fills payload when
/// it decodes.


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_Codec_INCLUDED
