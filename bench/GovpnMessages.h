//
// GovpnMessages.h
//
// The GoVPN client's messages for the load generator (docs/protocols/govpn.md §4, §7, §8.10): base64
// payload envelopes, public keys, and Offer/Answer/Candidate templates whose SDP or candidate text
// carries the benchmark's send time and sequence, patched in place per message.
//


#ifndef Switchboard_Bench_GovpnMessages_INCLUDED
#define Switchboard_Bench_GovpnMessages_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace Bench {
namespace Govpn {


enum SignalType
{
	OFFER = 0,
	ANSWER = 1,
	CANDIDATE = 2,
	SIGNAL_TYPES = 3
};

constexpr int TS_DIGITS = 19;  ///< CLOCK_MONOTONIC ns, fixed width
constexpr int SEQ_DIGITS = 10; ///< sender slot in the room * SLOT_SCALE + sequence to that destination
constexpr std::uint64_t SLOT_SCALE = 100000000ull;
constexpr std::size_t KEY_CHARS = 44; ///< base64 of 32 bytes
constexpr std::size_t ROOM_ID_CHARS = 16;

std::string base64(const std::string& bytes);
std::string unbase64(const char* text, std::size_t size);
/// Decodes standard padded base64, stopping at the first character outside the alphabet.

std::string publicKey(const std::string& tag, int index);
/// A client's key: base64 of 32 bytes, distinct per (tag, index), the index in the first bytes.

std::string envelope(const char* type, const std::string& messageId, const std::string& innerJson);
/// {"message_id":...,"type":...,"payload":"<base64 of innerJson>"}, as the real client sends it.

std::string jsonString(const std::string& text);
/// text as a JSON string literal (quotes included); only what the texts here need escaping.

std::string decodedPayload(const char* frame, std::size_t size);
/// The inner JSON of a server frame's base64 payload; empty when there is none.

bool stringField(const std::string& json, const char* name, std::string& value);
/// The value of "name":"..." in flat JSON (no escapes inside the value).

class SignalTemplate
/// One Offer, Answer or Candidate frame of one sender; patch() rewrites the destination key, the
/// stamp and the message id, re-encoding only the base64 groups that cover them.
{
public:
	void build(SignalType type, const std::string& ownKey, const std::string& roomId);
	const std::string& patch(const std::string& destinationKey, std::uint64_t tsNs, std::uint64_t seqField,
	                         std::uint32_t messageId);

	std::size_t size() const { return _frame.size(); }

private:
	void encodeWindow(std::size_t from, std::size_t to);

	std::string _frame; ///< the envelope as sent
	std::string _inner; ///< the payload before base64
	std::size_t _payloadOff = 0;
	std::size_t _idOff = 0;
	std::size_t _destOff = 0;
	std::size_t _tsOff = 0;
	std::size_t _seqOff = 0;
};

bool readStamp(const char* frame, std::size_t size, std::uint64_t& tsNs, std::uint64_t& seqField);
/// A relayed Offer/Answer/Candidate: decodes the first base64 groups of the payload (the stamp sits
/// in the first ~130 bytes of the inner JSON) and reads the stamp. False if it is not there.


} // namespace Govpn
} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_GovpnMessages_INCLUDED
