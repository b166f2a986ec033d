//
// GovpnMessages.cpp
//


#include "GovpnMessages.h"
#include "ClientCodec.h"
#include <algorithm>
#include <cstring>


namespace Switchboard {
namespace Bench {
namespace Govpn {


namespace {


const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The stamp's place: "<marker><ts digits><gap><seq digits>". An Offer or Answer carries it as the
// SDP origin line's session id and version, a Candidate as the foundation and the priority.
const char SDP_MARKER[] = "o=- ";
const char SDP_GAP[] = " ";
const char CANDIDATE_MARKER[] = "candidate:";
const char CANDIDATE_GAP[] = " 1 udp ";
const char STAMP_PLACEHOLDER[] = "@STAMP@";

// A data-channel session as a WebRTC stack offers it with its ICE candidates gathered (about 1.3 KB).
const char OFFER_SDP[] = "v=0\r\n"
                         "o=- @STAMP@ IN IP4 0.0.0.0\r\n"
                         "s=-\r\n"
                         "t=0 0\r\n"
                         "a=msid-semantic:WMS*\r\n"
                         "a=fingerprint:sha-256 3E:91:0C:5A:77:D2:18:B4:6F:E0:29:AC:53:81:9B:04:C7:12:"
                         "FA:66:3D:B8:E5:40:97:2B:DC:71:0E:A3:58:C9\r\n"
                         "a=extmap-allow-mixed\r\n"
                         "a=group:BUNDLE 0\r\n"
                         "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                         "c=IN IP4 0.0.0.0\r\n"
                         "a=setup:actpass\r\n"
                         "a=mid:0\r\n"
                         "a=sendrecv\r\n"
                         "a=sctp-port:5000\r\n"
                         "a=max-message-size:262144\r\n"
                         "a=ice-ufrag:qHkTmZcWvXbRsNaL\r\n"
                         "a=ice-pwd:UeJpXoGdKyHfMwBiVtQnCsRzAlEj\r\n"
                         "a=ice-options:trickle\r\n"
                         "a=candidate:2849157302 1 udp 2130706431 192.168.1.23 50123 typ host\r\n"
                         "a=candidate:2849157302 2 udp 2130706431 192.168.1.23 50123 typ host\r\n"
                         "a=candidate:1193834765 1 udp 2130706431 172.17.0.1 41879 typ host\r\n"
                         "a=candidate:1193834765 2 udp 2130706431 172.17.0.1 41879 typ host\r\n"
                         "a=candidate:3915227409 1 udp 2130706431 fd7a:115c:a1e0::4 38211 typ host\r\n"
                         "a=candidate:3915227409 2 udp 2130706431 fd7a:115c:a1e0::4 38211 typ host\r\n"
                         "a=candidate:527018864 1 udp 1694498815 203.0.113.54 50123 typ srflx raddr 0.0.0.0 "
                         "rport 50123\r\n"
                         "a=candidate:527018864 2 udp 1694498815 203.0.113.54 50123 typ srflx raddr 0.0.0.0 "
                         "rport 50123\r\n"
                         "a=candidate:4102395811 1 udp 16777215 198.51.100.7 61002 typ relay raddr 203.0.113.54 "
                         "rport 50123\r\n"
                         "a=end-of-candidates\r\n";

// The answering side: the same session with its own credentials and fewer candidates (about 1 KB).
const char ANSWER_SDP[] = "v=0\r\n"
                          "o=- @STAMP@ IN IP4 0.0.0.0\r\n"
                          "s=-\r\n"
                          "t=0 0\r\n"
                          "a=msid-semantic:WMS*\r\n"
                          "a=fingerprint:sha-256 A4:2F:E8:11:6C:93:5D:07:B2:C0:4E:79:1A:F6:38:DD:85:62:"
                          "0B:9E:C4:27:73:5F:E1:16:A8:3C:D9:40:6B:F2\r\n"
                          "a=extmap-allow-mixed\r\n"
                          "a=group:BUNDLE 0\r\n"
                          "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                          "c=IN IP4 0.0.0.0\r\n"
                          "a=setup:active\r\n"
                          "a=mid:0\r\n"
                          "a=sendrecv\r\n"
                          "a=sctp-port:5000\r\n"
                          "a=max-message-size:262144\r\n"
                          "a=ice-ufrag:GbNwYtLrPqXcVmKd\r\n"
                          "a=ice-pwd:OsHiZfTuBgWnMaJqEkRyLxCvDpSe\r\n"
                          "a=ice-options:trickle\r\n"
                          "a=candidate:1602739845 1 udp 2130706431 10.0.2.15 47512 typ host\r\n"
                          "a=candidate:1602739845 2 udp 2130706431 10.0.2.15 47512 typ host\r\n"
                          "a=candidate:3378120926 1 udp 1694498815 198.51.100.201 47512 typ srflx raddr 0.0.0.0 "
                          "rport 47512\r\n"
                          "a=candidate:3378120926 2 udp 1694498815 198.51.100.201 47512 typ srflx raddr 0.0.0.0 "
                          "rport 47512\r\n"
                          "a=end-of-candidates\r\n";

// One trickled server-reflexive candidate (about 150 bytes).
const char CANDIDATE_TEXT[] =
    "candidate:@STAMP@ 203.0.113.54 50123 typ srflx raddr 192.168.1.23 rport 50123 generation "
    "0 ufrag qHkTmZcWvXbRsNaL network-id 1 network-cost 10";

const char* const TYPE_NAMES[SIGNAL_TYPES] = {"Offer", "Answer", "Candidate"};
const char* const BODY_KEYS[SIGNAL_TYPES] = {"offer", "answer", "candidate"};


int decodeChar(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}


std::size_t decodePrefix(const char* text, std::size_t size, unsigned char* out, std::size_t capacity)
// Whole groups of four only, up to capacity bytes; stops at padding or any other character.
{
	std::size_t written = 0;
	for (std::size_t i = 0; i + 4 <= size && written + 3 <= capacity; i += 4)
	{
		const int a = decodeChar(text[i]);
		const int b = decodeChar(text[i + 1]);
		const int c = decodeChar(text[i + 2]);
		const int d = decodeChar(text[i + 3]);
		if ((a | b | c | d) < 0)
			break;
		const std::uint32_t v =
		    (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6) | std::uint32_t(d);
		out[written++] = static_cast<unsigned char>(v >> 16);
		out[written++] = static_cast<unsigned char>(v >> 8);
		out[written++] = static_cast<unsigned char>(v);
	}
	return written;
}


bool readStampAt(const unsigned char* inner, std::size_t size, const char* marker, const char* gap, std::uint64_t& tsNs,
                 std::uint64_t& seqField)
{
	const std::size_t markerSize = std::strlen(marker);
	const std::size_t gapSize = std::strlen(gap);
	const void* found = memmem(inner, size, marker, markerSize);
	if (!found)
		return false;
	const char* at = static_cast<const char*>(found) + markerSize;
	const char* end = reinterpret_cast<const char*>(inner) + size;
	if (static_cast<std::size_t>(end - at) < TS_DIGITS + gapSize + SEQ_DIGITS)
		return false;
	return readDigits(at, TS_DIGITS, tsNs) && std::memcmp(at + TS_DIGITS, gap, gapSize) == 0 &&
	       readDigits(at + TS_DIGITS + gapSize, SEQ_DIGITS, seqField);
}


} // namespace


std::string base64(const std::string& bytes)
{
	std::string out;
	out.reserve((bytes.size() + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 3 <= bytes.size(); i += 3)
	{
		const std::uint32_t v = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
		                        (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
		                        std::uint32_t(static_cast<unsigned char>(bytes[i + 2]));
		out += ALPHABET[(v >> 18) & 63];
		out += ALPHABET[(v >> 12) & 63];
		out += ALPHABET[(v >> 6) & 63];
		out += ALPHABET[v & 63];
	}
	const std::size_t rest = bytes.size() - i;
	if (rest > 0)
	{
		std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
		if (rest == 2)
			v |= std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
		out += ALPHABET[(v >> 18) & 63];
		out += ALPHABET[(v >> 12) & 63];
		out += rest == 2 ? ALPHABET[(v >> 6) & 63] : '=';
		out += '=';
	}
	return out;
}


std::string unbase64(const char* text, std::size_t size)
{
	std::string out;
	std::uint32_t bits = 0;
	int count = 0;
	for (std::size_t i = 0; i < size; ++i)
	{
		const int v = decodeChar(text[i]);
		if (v < 0)
			break;
		bits = (bits << 6) | std::uint32_t(v);
		count += 6;
		if (count >= 8)
		{
			count -= 8;
			out += static_cast<char>((bits >> count) & 0xFF);
		}
	}
	return out;
}


std::string publicKey(const std::string& tag, int index)
{
	// FNV-1a of the tag seeds an xorshift stream; the index goes into the first four bytes so
	// keys never repeat within a run, the stream makes them differ between runs.
	std::uint64_t state = 1469598103934665603ull;
	for (char c : tag)
		state = (state ^ static_cast<unsigned char>(c)) * 1099511628211ull;
	state ^= static_cast<std::uint64_t>(index) * 0x9E3779B97F4A7C15ull;
	std::string bytes(32, '\0');
	for (int i = 0; i < 4; ++i)
		bytes[static_cast<std::size_t>(i)] = static_cast<char>(static_cast<std::uint32_t>(index) >> (24 - 8 * i));
	for (std::size_t i = 4; i < bytes.size(); ++i)
	{
		state ^= state >> 12;
		state ^= state << 25;
		state ^= state >> 27;
		bytes[i] = static_cast<char>((state * 0x2545F4914F6CDD1Dull) >> 56);
	}
	return base64(bytes);
}


std::string jsonString(const std::string& text)
{
	std::string out = "\"";
	for (char c : text)
	{
		if (c == '\r')
			out += "\\r";
		else if (c == '\n')
			out += "\\n";
		else if (c == '"' || c == '\\')
			(out += '\\') += c;
		else
			out += c;
	}
	return out + "\"";
}


std::string envelope(const char* type, const std::string& messageId, const std::string& innerJson)
{
	return "{\"message_id\":\"" + messageId + "\",\"type\":\"" + type + "\",\"payload\":\"" + base64(innerJson) + "\"}";
}


std::string decodedPayload(const char* frame, std::size_t size)
{
	static const char KEY[] = "\"payload\":\"";
	const void* found = memmem(frame, size, KEY, sizeof(KEY) - 1);
	if (!found)
		return {};
	const char* at = static_cast<const char*>(found) + sizeof(KEY) - 1;
	return unbase64(at, static_cast<std::size_t>(frame + size - at));
}


bool stringField(const std::string& json, const char* name, std::string& value)
{
	const std::string key = std::string("\"") + name + "\":\"";
	const std::size_t at = json.find(key);
	if (at == std::string::npos)
		return false;
	const std::size_t start = at + key.size();
	const std::size_t end = json.find('"', start);
	if (end == std::string::npos)
		return false;
	value.assign(json, start, end - start);
	return true;
}


void SignalTemplate::build(SignalType type, const std::string& ownKey, const std::string& roomId)
{
	const bool candidate = type == CANDIDATE;
	std::string body = type == OFFER ? OFFER_SDP : (type == ANSWER ? ANSWER_SDP : CANDIDATE_TEXT);
	const std::string stamp =
	    std::string(TS_DIGITS, '0') + (candidate ? CANDIDATE_GAP : SDP_GAP) + std::string(SEQ_DIGITS, '0');
	body.replace(body.find(STAMP_PLACEHOLDER), sizeof(STAMP_PLACEHOLDER) - 1, stamp);
	// The field order of the real client: destination_id, the body, room_id, public_key.
	const std::string destinationHead = "{\"destination_id\":\"";
	_inner = destinationHead + std::string(KEY_CHARS, 'A') + "\",\"" + BODY_KEYS[type] + "\":" + jsonString(body) +
	         ",\"room_id\":\"" + roomId + "\",\"public_key\":\"" + ownKey + "\"}";
	_destOff = destinationHead.size();
	_tsOff =
	    _inner.find(candidate ? CANDIDATE_MARKER : SDP_MARKER) + std::strlen(candidate ? CANDIDATE_MARKER : SDP_MARKER);
	_seqOff = _tsOff + TS_DIGITS + std::strlen(candidate ? CANDIDATE_GAP : SDP_GAP);
	_frame = envelope(TYPE_NAMES[type], "00000000", _inner);
	_idOff = std::strlen("{\"message_id\":\"");
	_payloadOff = _frame.find("\"payload\":\"") + std::strlen("\"payload\":\"");
}


void SignalTemplate::encodeWindow(std::size_t from, std::size_t to)
{
	// Base64 groups are independent: re-encode the 3-byte groups that cover [from, to).
	from -= from % 3;
	to = std::min(_inner.size(), to + (3 - to % 3) % 3);
	char* out = &_frame[_payloadOff + from / 3 * 4];
	const unsigned char* in = reinterpret_cast<const unsigned char*>(_inner.data());
	for (std::size_t i = from; i < to; i += 3)
	{
		const std::size_t left = to - i;
		std::uint32_t v = std::uint32_t(in[i]) << 16;
		if (left > 1)
			v |= std::uint32_t(in[i + 1]) << 8;
		if (left > 2)
			v |= std::uint32_t(in[i + 2]);
		*out++ = ALPHABET[(v >> 18) & 63];
		*out++ = ALPHABET[(v >> 12) & 63];
		*out++ = left > 1 ? ALPHABET[(v >> 6) & 63] : '=';
		*out++ = left > 2 ? ALPHABET[v & 63] : '=';
	}
}


const std::string& SignalTemplate::patch(const std::string& destinationKey, std::uint64_t tsNs, std::uint64_t seqField,
                                         std::uint32_t messageId)
{
	static const char HEX[] = "0123456789abcdef";
	if (_inner.compare(_destOff, KEY_CHARS, destinationKey) != 0)
	{
		std::memcpy(&_inner[_destOff], destinationKey.data(), KEY_CHARS);
		encodeWindow(_destOff, _destOff + KEY_CHARS);
	}
	writeDigits(&_inner[_tsOff], tsNs, TS_DIGITS);
	writeDigits(&_inner[_seqOff], seqField, SEQ_DIGITS);
	encodeWindow(_tsOff, _seqOff + SEQ_DIGITS);
	for (int i = 7; i >= 0; --i)
		_frame[_idOff + static_cast<std::size_t>(7 - i)] = HEX[(messageId >> (4 * i)) & 15];
	return _frame;
}


bool readStamp(const char* frame, std::size_t size, std::uint64_t& tsNs, std::uint64_t& seqField)
{
	static const char KEY[] = "\"payload\":\"";
	// The payload starts within the first 60 bytes of a relayed frame ({"message_id":"","type":"Candidate",...).
	const void* found = memmem(frame, std::min<std::size_t>(size, 64), KEY, sizeof(KEY) - 1);
	if (!found)
		return false;
	const char* at = static_cast<const char*>(found) + sizeof(KEY) - 1;
	unsigned char inner[168];
	const std::size_t decoded = decodePrefix(at, static_cast<std::size_t>(frame + size - at), inner, sizeof(inner));
	return readStampAt(inner, decoded, SDP_MARKER, SDP_GAP, tsNs, seqField) ||
	       readStampAt(inner, decoded, CANDIDATE_MARKER, CANDIDATE_GAP, tsNs, seqField);
}


} // namespace Govpn
} // namespace Bench
} // namespace Switchboard
