//
// Envelope.h
//
// The PeerJS message envelope: a one-pass scanner for inbound frames and the writer of relayed frames.
//


#ifndef Switchboard_PeerJs_Envelope_INCLUDED
#define Switchboard_PeerJs_Envelope_INCLUDED


#include "switchboard/util/Json.h"
#include <string>
#include <string_view>


namespace Switchboard {
namespace PeerJs {


enum class EnvelopeStatus
/// The outcome of parseEnvelope().
{
	OK,        /// A JSON object; the Envelope members are set.
	NOT_JSON,  /// Not strict RFC 8259 JSON (as JavaScript's JSON.parse), or nested deeper than MAX_ENVELOPE_DEPTH.
	NOT_OBJECT /// Valid JSON whose top-level value is not an object.
};


constexpr int MAX_ENVELOPE_DEPTH = 1000;
/// The deepest nesting of objects and arrays parseEnvelope() accepts, the top-level value
/// included. Deeper input is NOT_JSON. (V8 accepts deeper input; the limit protects the server.)


struct Envelope
/// The routing members of one inbound PeerJS message, as parseEnvelope() found them.
///
/// Decoded strings follow JavaScript semantics: a \uXXXX escape is one UTF-16 code unit, an
/// escaped surrogate pair becomes one 4-byte UTF-8 sequence, and a lone surrogate is kept as its
/// 3-byte generalized UTF-8 (WTF-8) encoding, which Json::appendString() writes back as \udxxx.
/// Raw bytes of the input are copied unchanged.
///
/// payload points either into the text given to parseEnvelope() (when the value contained no
/// insignificant whitespace, the common case) or into storage owned by this Envelope. It stays
/// valid until the Envelope is parsed into again or destroyed, and, in the first case, as long
/// as the text does. Copies and moves re-point it to their own storage.
///
/// Reusing one Envelope for many messages reuses the capacity of its strings.
{
	bool hasType = false;
	/// True if the last "type" member is a JSON string.

	std::string type;
	/// The decoded value of the last "type" member, if hasType.

	bool hasDst = false;
	/// True if the last "dst" member is a JSON string.

	std::string dst;
	/// The decoded value of the last "dst" member, if hasDst.

	bool hasPayload = false;
	/// True if a "payload" member exists, whatever its value (null included).

	std::string_view payload;
	/// The text of the last "payload" value with insignificant whitespace removed; member order,
	/// number spelling and string escapes exactly as received.

	Envelope() = default;
	Envelope(const Envelope& other);
	Envelope(Envelope&& other) noexcept;
	Envelope& operator=(const Envelope& other);
	Envelope& operator=(Envelope&& other) noexcept;
	~Envelope() = default;

	void clear();
	/// Resets all members to "absent", keeping the capacity of the strings.

private:
	std::string _compacted; // the payload without whitespace, when it could not be a view of the input
	bool _payloadOwned = false;

	void repointPayload();

	friend EnvelopeStatus parseEnvelope(std::string_view text, Envelope& out);
};


EnvelopeStatus parseEnvelope(std::string_view text, Envelope& out);
/// Validates the whole text as strict JSON (as JavaScript's JSON.parse: whitespace is only
/// space, tab, LF and CR; no BOM, comments or trailing commas; nothing but whitespace after the
/// value) and, if it is an object, fills out with its "type", "dst" and "payload" members. When
/// a key repeats, the last occurrence wins; keys are compared after decoding escapes. Other
/// members, "src" included, are validated and skipped.
///
/// One pass without recursion or a tree; no allocation beyond the decoded type and dst (and the
/// compacted payload if the value contained whitespace). The text is expected to be UTF-8 but is
/// not checked as such: bytes of 0x80 and above are copied unchanged.
///
/// On any status other than OK, out is cleared. Never throws except std::bad_alloc.


class RelayFrameWriter
/// Writes the frame {"type":<type>,"src":<src>,"dst":<dst>,"payload":<payload>} into memory the
/// caller provides, after telling its exact size: type, src and dst are given decoded and
/// written with Json::appendString(); payload is copied as is, and the "payload" member is
/// omitted if payload is nullptr. The views (and *payload) must outlive the writer.
{
public:
	RelayFrameWriter(std::string_view type, std::string_view src, std::string_view dst,
	                 const std::string_view* payload);

	std::size_t size() const { return _size; }

	char* write(char* out) const;
	/// Writes size() bytes at out; returns the end.

private:
	std::string_view _type;
	std::string_view _src;
	std::string_view _dst;
	const std::string_view* _payload;
	bool _plain; // no string needs an escape: written with straight copies
	std::size_t _size = 0;
};


std::string& appendRelayFrame(std::string& out, std::string_view type, std::string_view src, std::string_view dst,
                              const std::string_view* payload);
/// Appends {"type":<type>,"src":<src>,"dst":<dst>,"payload":<payload>} to out. type, src and
/// dst are given decoded and written with Json::appendString(); payload is copied as is, and the
/// "payload" member is omitted if payload is nullptr. Returns out.


std::string relayFrame(std::string_view type, std::string_view src, std::string_view dst,
                       const std::string_view* payload);
/// Returns the frame appendRelayFrame() writes, in a string of its own.


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_Envelope_INCLUDED
