//
// SignalFrame.h
//
// The fast reader for the frames a busy GoVPN server mostly sees: Offer, Answer and Candidate
// exactly as the real client writes them. It reads the envelope and the inner object in one pass
// without building a tree, and declines (returns false) anything outside that one shape, which
// then takes the general path (readEnvelope). Declining is always safe; accepting promises that
// the general path would have read the same fields and values (GovpnFastRelayTest holds both
// paths to the same output on mutated frames).
//


#ifndef Switchboard_Govpn_SignalFrame_INCLUDED
#define Switchboard_Govpn_SignalFrame_INCLUDED


#include "Codec.h"
#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Govpn {


enum class SignalType : std::uint8_t
{
	OFFER,
	ANSWER,
	CANDIDATE
};

constexpr std::string_view SIGNAL_TYPE_NAMES[] = {"Offer", "Answer", "Candidate"};
constexpr std::string_view SIGNAL_BODY_NAMES[] = {"offer", "answer", "candidate"};


struct SignalFrame
/// One relay request (§8.10), as either path read it.
{
	SignalType type = SignalType::OFFER;
	PayloadForm form = PayloadForm::BASE64;
	std::string_view messageId;
	std::string_view roomId;        ///< "" when absent
	std::string_view publicKey;     ///< "" when absent
	std::string_view destinationId; ///< "" when absent
	std::string_view body;          ///< the body's compact JSON in the relayed form, "" when absent
};


bool readSignalFrame(std::string_view frame, std::string& scratch, SignalFrame& signal);
/// True when frame is a relay request in the fast shape: an envelope of "message_id" (optional),
/// "type" (Offer, Answer or Candidate) and "payload" (base64 or an object) and nothing else; an
/// inner object of "room_id", "public_key", "destination_id" and the type's body, each at most
/// once and nothing else; every value a string, the ids and message_id ASCII from space to DEL
/// without quotes or escapes, the body already in Go's escaping (so it is relayed as it is). JSON whitespace is
/// allowed between tokens. The views point into frame or into scratch, which receives the decoded
/// base64 payload.


struct RelayBuffers
/// Where writeRelayedSignal() builds its frame; reused from relay to relay, never shrunk.
{
	std::string inner;
	std::string frame;
};


std::string_view writeRelayedInner(RelayBuffers& buffers, const SignalFrame& signal, std::string_view destinationKey,
                                   std::string_view senderKey, std::string_view roomId, std::string_view sourceId);
/// The inner object of the frame below alone (for a destination on another node, which encodes
/// it in its own connection's mode). The view points into buffers.inner.


std::string_view writeRelayedSignal(RelayBuffers& buffers, const SignalFrame& signal, std::string_view destinationKey,
                                    std::string_view senderKey, std::string_view roomId, std::string_view sourceId,
                                    PayloadForm form);
/// The frame the destination receives (§8.10), in its encoding mode: message_id "", the fields
/// in alphabetical order, the body as given. The view points into buffers, valid until the next
/// call with them.


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_SignalFrame_INCLUDED
