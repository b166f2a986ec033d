//
// GovpnFastRelayTest.cpp
//
// The fast relay path (plugins/govpn/SignalFrame.h) held to the general path (readEnvelope and
// relay, docs/protocols/govpn.md §4 and §8.10). Two plugins under FakeHost with the same
// generators, one with the fast path and one with setFastRelay(false), get the same frames (valid
// relay requests in the three payload forms and many thousands of seeded mutations of them) and
// must send every connection the same frames, byte for byte and in order, with the same metrics,
// /stats and storage. Every relayed frame is also checked against this file's own encoder (Go's
// escaping, libsodium's base64), readSignalFrame() against its header's rules one by one, and the
// contract's relayed frames (§17.2) on the fast path.
//


#include "Codec.h"
#include "GovpnVectorLevels.h"
#include "GovpnPlugin.h"
#include "SignalFrame.h"
#include "switchboard/testing/FakeHost.h"
#include "switchboard/util/HttpText.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <sodium.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


using namespace Switchboard;
using Switchboard::Govpn::canUseVectors;
using Switchboard::Govpn::GovpnPlugin;
using Switchboard::Govpn::limitVectorLevel;
using Switchboard::Govpn::PayloadForm;
using Switchboard::Govpn::SignalFrame;
using Switchboard::Govpn::SignalType;
using Switchboard::Govpn::VectorLevel;
using namespace std::string_literals; // "\0"s: a NUL inside a string


namespace {


const std::int64_t EXAMPLE_WALL_MS = 1752005375000; // 2025-07-08T20:09:35Z
const std::string ROOM = "3f9a1c0b7d2e4a68";
const std::string OTHER_ROOM = "9e8d7c6b5a493827";
const std::string OWNER_SOCKET = "c-5d2a9e71b3c40f68";
const std::string PEER_SOCKET = "c-0e4b7c19a8d2f356";
const std::vector<std::string> ROOM_IDS = {ROOM, OTHER_ROOM, "00000000000000a1", "00000000000000a2"};
const std::vector<std::string> SOCKET_IDS = {OWNER_SOCKET,         PEER_SOCKET,          "c-7a3f0b92d41e6c58",
                                             "c-1a2b3c4d5e6f7081", "c-92a3b4c5d6e7f809", "c-a1b2c3d4e5f60718",
                                             "c-b2c3d4e5f6071829", "c-c3d4e5f60718293a", "c-d4e5f60718293a4b"};
const std::string TYPE_NAMES[] = {"Offer", "Answer", "Candidate"};
const std::string BODY_NAMES[] = {"offer", "answer", "candidate"};

// §17.2, as the real client sends them and as the destination receives them (without the "\n").
const std::string O = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const std::string P = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
const std::string CREATE =
    R"({"message_id":"a1b2c3d4","type":"CreateRoom","payload":"eyJwdWJsaWNfa2V5IjoiQTZFSHYvUE9FTDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZz0iLCJyb29tX25hbWUiOiJNeSBWUE4gUm9vbSIsInBhc3N3b3JkIjoiMTIzNCJ9"})";
const std::string JOIN =
    R"({"message_id":"b2c3d4e5","type":"JoinRoom","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInBhc3N3b3JkIjoiMTIzNCIsInB1YmxpY19rZXkiOiJLYXk2NFVHOHl2Q3lMaHFVMDAwTHh6WWVVbTBML2hMSWw1UzhreUtXYmRjPSIsInVzZXJuYW1lIjoiQWxpY2UifQ=="})";
const std::string OFFER =
    R"({"message_id":"4e5f6a7b","type":"Offer","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsInB1YmxpY19rZXkiOiJBNkVIdi9QT0VMNGRjTjBZNTB2QW1XZmsxakNicFExZkhkeUdaQkpWTWJnPSIsImRlc3RpbmF0aW9uX2lkIjoiS2F5NjRVRzh5dkN5TGhxVTAwMEx4elllVW0wTC9oTElsNVM4a3lLV2JkYz0iLCJvZmZlciI6InY9MFxyXG5vPS0gNDYxMTcgMiBJTiBJUDQgMTI3LjAuMC4xXHJcbnM9LVxyXG4ifQ=="})";
const std::string OFFER_DELIVERED =
    R"({"message_id":"","type":"Offer","payload":"eyJkZXN0aW5hdGlvbl9pZCI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwib2ZmZXIiOiJ2PTBcclxubz0tIDQ2MTE3IDIgSU4gSVA0IDEyNy4wLjAuMVxyXG5zPS1cclxuIiwicHVibGljX2tleSI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJzb3VyY2VfaWQiOiJjLTVkMmE5ZTcxYjNjNDBmNjgifQ=="})";
const std::string CANDIDATE =
    R"({"message_id":"5f6a7b8c","type":"Candidate","payload":"eyJyb29tX2lkIjoiM2Y5YTFjMGI3ZDJlNGE2OCIsImRlc3RpbmF0aW9uX2lkIjoiYy01ZDJhOWU3MWIzYzQwZjY4IiwiY2FuZGlkYXRlIjoiY2FuZGlkYXRlOjEgMSB1ZHAgMjExMzkzNzE1MSAxOTIuMC4yLjEwIDUwMDAwIHR5cCBob3N0In0="})";
const std::string CANDIDATE_DELIVERED =
    R"({"message_id":"","type":"Candidate","payload":"eyJjYW5kaWRhdGUiOiJjYW5kaWRhdGU6MSAxIHVkcCAyMTEzOTM3MTUxIDE5Mi4wLjIuMTAgNTAwMDAgdHlwIGhvc3QiLCJkZXN0aW5hdGlvbl9pZCI6IkE2RUh2L1BPRUw0ZGNOMFk1MHZBbVdmazFqQ2JwUTFmSGR5R1pCSlZNYmc9IiwicHVibGljX2tleSI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9Iiwicm9vbV9pZCI6IjNmOWExYzBiN2QyZTRhNjgiLCJzb3VyY2VfaWQiOiJjLTBlNGI3YzE5YThkMmYzNTYifQ=="})";
const std::string TARGET_NOT_FOUND =
    R"({"message_id":"4e5f6a7b","type":"Error","payload":"eyJlcnJvciI6IlRhcmdldCBjbGllbnQgbm90IGZvdW5kIn0="})";
const std::string OFFER_SDP = R"("v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\n")";


// --- this file's own encoders, independent of the plugin's codec ---------------------------------


std::string printable(std::string_view bytes)
/// For failure messages: every byte outside printable ASCII as \xNN.
{
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	for (char c : bytes)
	{
		auto u = static_cast<unsigned char>(c);
		if (u >= 0x20 && u < 0x7F && u != '\\')
			out += c;
		else
		{
			out += "\\x";
			out += HEX[u >> 4];
			out += HEX[u & 15];
		}
	}
	return out;
}


std::size_t sequenceLength(std::string_view text, std::size_t i)
/// The length of the well-formed UTF-8 sequence at i, or 0.
{
	auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
	const unsigned char lead = at(i);
	if (lead < 0x80)
		return 1;
	std::size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
	                     : lead >= 0xE0 && lead <= 0xEF ? 3
	                     : lead >= 0xF0 && lead <= 0xF4 ? 4
	                                                    : 0;
	if (length == 0 || i + length > text.size())
		return 0;
	std::uint32_t cp = lead & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
	for (std::size_t k = 1; k < length; ++k)
	{
		if ((at(i + k) & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (at(i + k) & 0x3F);
	}
	const std::uint32_t lowest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
	if (cp < lowest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return length;
}


bool validUtf8(std::string_view text)
{
	for (std::size_t i = 0; i < text.size();)
	{
		std::size_t length = sequenceLength(text, i);
		if (length == 0)
			return false;
		i += length;
	}
	return true;
}


std::string goEscape(std::string_view text)
/// The JSON string Go's encoding/json writes for valid UTF-8 text (§4): \" \\ \n \r \t, \u00xx for
/// other control characters and for < > &, \u2028 \u2029, everything else raw.
{
	static const char HEX[] = "0123456789abcdef";
	std::string out = "\"";
	for (std::size_t i = 0; i < text.size(); ++i)
	{
		auto c = static_cast<unsigned char>(text[i]);
		if (c == '"')
			out += "\\\"";
		else if (c == '\\')
			out += "\\\\";
		else if (c == '\n')
			out += "\\n";
		else if (c == '\r')
			out += "\\r";
		else if (c == '\t')
			out += "\\t";
		else if (c < 0x20 || c == '<' || c == '>' || c == '&')
		{
			out += "\\u00";
			out += HEX[c >> 4];
			out += HEX[c & 15];
		}
		else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
		         (static_cast<unsigned char>(text[i + 2]) & 0xFE) == 0xA8)
		{
			out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
			i += 2;
		}
		else
			out += static_cast<char>(c);
	}
	return out + "\"";
}


bool unquote(std::string_view token, std::string& text)
/// A JSON string token (quotes included) decoded as RFC 8259 says, a lone surrogate as U+FFFD (as
/// Go decodes it); false when the token is not a JSON string. Raw bytes are copied unchecked.
{
	text.clear();
	if (token.size() < 2 || token.front() != '"' || token.back() != '"')
		return false;
	const std::size_t end = token.size() - 1;
	auto hex4 = [&](std::size_t at, std::uint32_t& value) {
		if (at + 4 > end)
			return false;
		value = 0;
		for (std::size_t k = at; k < at + 4; ++k)
		{
			char h = token[k];
			int digit = h >= '0' && h <= '9'   ? h - '0'
			            : h >= 'a' && h <= 'f' ? h - 'a' + 10
			            : h >= 'A' && h <= 'F' ? h - 'A' + 10
			                                   : -1;
			if (digit < 0)
				return false;
			value = (value << 4) | static_cast<std::uint32_t>(digit);
		}
		return true;
	};
	for (std::size_t i = 1; i < end; ++i)
	{
		auto c = static_cast<unsigned char>(token[i]);
		if (c == '"' || c < 0x20)
			return false;
		if (c != '\\')
		{
			text += static_cast<char>(c);
			continue;
		}
		if (i + 1 >= end)
			return false;
		char e = token[++i];
		switch (e)
		{
			case '"':
			case '\\':
			case '/':
				text += e;
				break;
			case 'b':
				text += '\b';
				break;
			case 'f':
				text += '\f';
				break;
			case 'n':
				text += '\n';
				break;
			case 'r':
				text += '\r';
				break;
			case 't':
				text += '\t';
				break;
			case 'u':
			{
				std::uint32_t cp = 0, low = 0;
				if (!hex4(i + 1, cp))
					return false;
				i += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < end && token[i + 1] == '\\' && token[i + 2] == 'u' &&
				    hex4(i + 3, low) && low >= 0xDC00 && low <= 0xDFFF)
				{
					cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
					i += 6;
				}
				else if (cp >= 0xD800 && cp <= 0xDFFF)
					cp = 0xFFFD;
				HttpText::appendUtf8(text, cp);
				break;
			}
			default:
				return false;
		}
	}
	return true;
}


bool isGoSpelled(std::string_view token)
/// The oracle of the fast path's body rule: a JSON string of valid UTF-8 that is exactly what Go
/// writes for its text.
{
	std::string text;
	return unquote(token, text) && validUtf8(token) && validUtf8(text) && goEscape(text) == token;
}


std::string sodiumEncode(std::string_view bytes)
{
	std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
	sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
	                  sodium_base64_VARIANT_ORIGINAL);
	out.pop_back(); // NUL
	return out;
}


bool sodiumDecode(std::string_view text, std::string& bytes)
{
	bytes.assign(text.size() / 4 * 3 + 3, '\0');
	std::size_t length = 0;
	if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(), text.size(),
	                      nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	bytes.resize(length);
	return true;
}


std::string quoted(std::string_view text)
{
	return "\"" + std::string(text) + "\"";
}


// --- the cast ------------------------------------------------------------------------------------


enum Role
{
	OWNER,    ///< key O, created ROOM
	ALICE,    ///< key P, member of ROOM
	BOB,      ///< a third key, member of ROOM
	STRANGER, ///< a fourth key, owner of OTHER_ROOM
	LONELY,   ///< no key, no room
	BOUND,    ///< P's second socket (X-Client-ID), in no room
	ROLES
};

const char* const ROLE_NAMES[] = {"owner", "alice", "bob", "stranger", "lonely", "bound"};


struct Identity
{
	std::string key;
	std::string publicKey; ///< 32 raw bytes
	unsigned char secret[crypto_sign_SECRETKEYBYTES] = {};
};


const Identity& person(unsigned char first)
/// The Ed25519 identity of the seed first, first+1, ... (0x00: O, 0x20: P).
{
	static std::map<unsigned char, Identity> people;
	auto found = people.find(first);
	if (found != people.end())
		return found->second;
	CPPUNIT_ASSERT(sodium_init() >= 0);
	Identity& id = people[first];
	unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	for (std::size_t i = 0; i < sizeof seed; ++i)
		seed[i] = static_cast<unsigned char>(first + i);
	crypto_sign_seed_keypair(pk, id.secret, seed);
	id.publicKey.assign(reinterpret_cast<const char*>(pk), sizeof pk);
	id.key = sodiumEncode(id.publicKey);
	return id;
}


const unsigned char SEED_OF[ROLES] = {0x00, 0x20, 0x40, 0x60, 0, 0x20};

std::string keyOf(Role role)
/// The key a role acts as ("" for the lonely socket).
{
	return role == LONELY ? std::string() : person(SEED_OF[role]).key;
}

std::string roomOf(Role role)
{
	return role == STRANGER ? OTHER_ROOM : role == LONELY || role == BOUND ? std::string() : ROOM;
}

const std::string& unknownKey()
/// A valid key that is no member anywhere.
{
	return person(0xA0).key;
}


std::string exampleNonce()
{
	std::string nonce;
	for (int i = 0; i < 32; ++i)
		nonce += static_cast<char>(0x80 + i);
	return nonce;
}


std::string objectRequest(const std::string& id, const std::string& type, const std::string& payload)
{
	return R"({"message_id":")" + id + R"(","type":")" + type + R"(","payload":)" + payload + "}";
}


std::string pingIn(PayloadForm form)
{
	return form == PayloadForm::OBJECT   ? R"({"message_id":"p1","type":"Ping","payload":{}})"
	       : form == PayloadForm::BASE64 ? R"({"message_id":"p1","type":"Ping","payload":"e30="})"
	                                     : R"({"message_id":"p1","type":"Ping","payload":"{}"})";
}


class Session
/// One FakeHost running the plugin, with generators that give every session the same ids.
{
public:
	Session(bool fast, std::map<std::string, std::string> config):
	    host("govpn")
	{
		config.emplace("pwhash_opslimit", "1"); // fast hashing in tests
		config.emplace("pwhash_memlimit", "8192");
		config.emplace("shutdown_grace", "0");
		config.emplace("rate_limit_burst", "1000");
		config.emplace("message_rate", "1000000");
		config.emplace("message_burst", "10000000");
		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(Govpn::govpnDescriptor(), config));
		host.setWallMs(EXAMPLE_WALL_MS);
		plugin.setFastRelay(fast);
		plugin.setGenerators({[this] { return ROOM_IDS.at(_rooms++); },
		                      [this] {
			                      lastConnectionId = SOCKET_IDS.at(_sockets++);
			                      return lastConnectionId;
		                      },
		                      [] { return std::int64_t(1753900000223456789); }, [] { return exampleNonce(); }});
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
	}

	Session(const Session&) = delete;
	Session& operator=(const Session&) = delete;

	void connect(Role role, const std::string& clientId = "")
	{
		HeaderList headers;
		if (!clientId.empty())
			headers.emplace_back("X-Client-ID", clientId);
		socket[role] = host.connect("/ws", headers, "127.0.0.1:40000");
		CPPUNIT_ASSERT(socket[role] != 0);
		connectionId[role] = lastConnectionId;
	}

	void deliver(Role role, std::string_view frame)
	{
		// Text when it is UTF-8 (the host closes a text frame that is not with 1007 before the
		// plugin sees it), binary otherwise: the plugin reads both alike (§4).
		bool text = validUtf8(frame) && frame.size() % 5 != 0;
		host.deliver(socket[role], frame, text ? MessageKind::TEXT : MessageKind::BINARY);
	}

	void authenticate(Role role)
	/// §5.3 with the fixed nonce, for strict_auth_host 127.0.0.1:8080.
	{
		const Identity& who = person(SEED_OF[role]);
		std::string message = "govpn-auth-v1\n127.0.0.1:8080\n" + exampleNonce() + who.publicKey;
		unsigned char signature[crypto_sign_BYTES];
		crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
		                     who.secret);
		std::string signatureText(reinterpret_cast<const char*>(signature), sizeof signature);
		deliver(role, objectRequest("au", "Authenticate",
		                            R"({"public_key":")" + who.key + R"(","signature":")" +
		                                sodiumEncode(signatureText) + R"("})"));
	}

	std::string metrics() const
	{
		std::string out;
		for (const std::string& type : TYPE_NAMES)
			out += type + "=" + std::to_string(host.counterValue("signals_relayed_total", {{"type", type}})) + " ";
		out += "rate_limited=" + std::to_string(host.counterValue("rate_limited_total"));
		out += " lockouts=" + std::to_string(host.counterValue("lockouts_total"));
		out += " rooms=" + std::to_string(host.gaugeValue("rooms"));
		out += " online=" + std::to_string(host.gaugeValue("online_members"));
		return out;
	}

	std::uint64_t relayed() const
	{
		std::uint64_t total = 0;
		for (const std::string& type : TYPE_NAMES)
			total += host.counterValue("signals_relayed_total", {{"type", type}});
		return total;
	}

	std::string table(const char* sql)
	{
		QueryResult result = host.sqliteStorage()->execute(sql);
		CPPUNIT_ASSERT_MESSAGE(result.error, result.ok);
		std::string out;
		for (const auto& row : result.rows)
		{
			for (const Value& value : row)
				out +=
				    (std::holds_alternative<std::nullptr_t>(value) ? std::string("null") : valueAsString(value)) + "|";
			out += "\n";
		}
		return out;
	}

	FakeHost host;
	GovpnPlugin plugin;
	ConnectionId socket[ROLES] = {};
	std::string connectionId[ROLES];
	std::string lastConnectionId;

private:
	std::size_t _rooms = 0;
	std::size_t _sockets = 0;
};


std::string relayProblem(const std::string& data, Role to, Role from, const Session& session)
/// Checks a relayed frame the destination received against §8.10 with this file's encoders: the
/// envelope, the payload in one of the three forms, the fields in alphabetical order, the stamped
/// ids, and a string body in Go's escaping. "" when it is right.
{
	static const std::string HEAD = R"({"message_id":"","type":")";
	if (data.compare(0, HEAD.size(), HEAD) != 0 || data.size() < HEAD.size() + 2 || data.back() != '\n')
		return "not a relayed frame";
	std::size_t typeEnd = data.find('"', HEAD.size());
	const std::string type = data.substr(HEAD.size(), typeEnd - HEAD.size());
	int kind = 0;
	while (kind < 3 && TYPE_NAMES[kind] != type)
		++kind;
	if (kind == 3)
		return "unknown type";
	static const std::string PAYLOAD = R"(","payload":)";
	if (data.compare(typeEnd, PAYLOAD.size(), PAYLOAD) != 0 || data.compare(data.size() - 2, 2, "}\n") != 0)
		return "envelope";
	const std::string payload = data.substr(typeEnd + PAYLOAD.size(), data.size() - 2 - typeEnd - PAYLOAD.size());
	std::string inner;
	if (!payload.empty() && payload.front() == '{')
		inner = payload;
	else if (payload.size() >= 2 && payload[0] == '"' && payload[1] == '{')
	{
		if (!unquote(payload, inner) || goEscape(inner) != payload)
			return "json-string payload not in Go's escaping";
	}
	else if (payload.size() < 2 || payload.front() != '"' ||
	         !sodiumDecode(std::string_view(payload).substr(1, payload.size() - 2), inner) ||
	         "\"" + sodiumEncode(inner) + "\"" != payload)
		return "base64 payload";
	const std::string destination = R"("destination_id":")" + keyOf(to) + "\"";
	const std::string tail = R"(,"public_key":")" + keyOf(from) + R"(","room_id":")" + roomOf(from) +
	                         R"(","source_id":")" + session.connectionId[from] + "\"}";
	const std::string head = kind == 0 ? "{" + destination + R"(,"offer":)" : "{\"" + BODY_NAMES[kind] + "\":";
	const std::string beforeTail = kind == 0 ? "" : "," + destination;
	if (inner.size() < head.size() + beforeTail.size() + tail.size() || inner.compare(0, head.size(), head) != 0 ||
	    inner.compare(inner.size() - tail.size(), tail.size(), tail) != 0 ||
	    inner.compare(inner.size() - tail.size() - beforeTail.size(), beforeTail.size(), beforeTail) != 0)
		return "inner fields: " + printable(inner);
	const std::string body = inner.substr(head.size(), inner.size() - head.size() - beforeTail.size() - tail.size());
	if (!body.empty() && body.front() == '{' && body.back() == '}')
		return ""; // an object body, compacted: the differential comparison holds it to the general path
	std::string text;
	if (!isGoSpelled(body) || !unquote(body, text) || text.empty())
		return "body not in Go's escaping: " + printable(body);
	return "";
}


class Pair
/// The same scene twice: the fast path on in one session, off in the other.
{
public:
	explicit Pair(const std::map<std::string, std::string>& config = {}):
	    fast(std::make_unique<Session>(true, config)),
	    general(std::make_unique<Session>(false, config))
	{
	}

	template <class Action>
	void both(Action action)
	{
		action(*fast);
		action(*general);
	}

	void send(Role from, const std::string& frame, const std::string& context)
	{
		fast->deliver(from, frame);
		general->deliver(from, frame);
		compare(from, context + "\nfrom " + ROLE_NAMES[from] + ": " + printable(frame));
	}

	void compare(Role from, const std::string& context)
	/// Every connection got the same frames from both sessions, and the metrics agree.
	{
		for (int r = 0; r < ROLES; ++r)
		{
			const Role role = static_cast<Role>(r);
			std::vector<SentMessage> a = fast->host.takeSent(fast->socket[r]);
			std::vector<SentMessage> b = general->host.takeSent(general->socket[r]);
			bool same =
			    a.size() == b.size() && fast->host.isOpen(fast->socket[r]) == general->host.isOpen(general->socket[r]);
			for (std::size_t i = 0; same && i < a.size(); ++i)
				same = a[i].data == b[i].data && a[i].kind == b[i].kind;
			if (!same)
			{
				std::string message = context + "\nto " + ROLE_NAMES[r] + ", fast path:\n";
				for (const SentMessage& m : a)
					message += "  " + printable(m.data) + "\n";
				message += "general path:\n";
				for (const SentMessage& m : b)
					message += "  " + printable(m.data) + "\n";
				CPPUNIT_FAIL(message);
			}
			for (const SentMessage& m : a)
			{
				CPPUNIT_ASSERT_MESSAGE(context, m.kind == MessageKind::TEXT && validUtf8(m.data));
				bool relayed = false;
				for (const std::string& type : TYPE_NAMES)
					relayed = relayed || m.data.rfind(R"({"message_id":"","type":")" + type + "\"", 0) == 0;
				if (relayed)
				{
					CPPUNIT_ASSERT_MESSAGE(context + "\nrelayed to its sender", role != from);
					std::string problem = relayProblem(m.data, role, from, *fast);
					CPPUNIT_ASSERT_EQUAL_MESSAGE(context + "\nrelayed: " + printable(m.data), std::string(), problem);
					++deliveries;
				}
			}
		}
		const std::string metrics = fast->metrics();
		if (metrics != general->metrics())
			CPPUNIT_FAIL(context + "\nmetrics, fast path: " + metrics + "\ngeneral path: " + general->metrics());
	}

	void finalCompare()
	{
		std::string stats = fast->host.request("GET", "/stats").body;
		CPPUNIT_ASSERT_EQUAL(general->host.request("GET", "/stats").body, stats);
		for (const char* sql : {"SELECT id, name, owner_public_key, created_at, last_active FROM rooms ORDER BY id",
		                        "SELECT room_id, public_key, username, joined_at, last_connected, is_connected FROM "
		                        "memberships ORDER BY room_id, public_key"})
			CPPUNIT_ASSERT_EQUAL(general->table(sql), fast->table(sql));
		CPPUNIT_ASSERT(fast->host.logLines() == general->host.logLines());
		CPPUNIT_ASSERT(!fast->host.logged("ERROR"));
		CPPUNIT_ASSERT(!fast->host.logged("WARNING"));
		for (int r = 0; r < ROLES; ++r)
			CPPUNIT_ASSERT_EQUAL(general->connectionId[r], fast->connectionId[r]);
	}

	void seatEveryone(bool strict)
	/// OWNER creates ROOM, ALICE and BOB join it, STRANGER creates OTHER_ROOM; LONELY is in no room
	/// and BOUND is P's second socket, bound by X-Client-ID in compat mode. In strict mode the four
	/// with a room authenticate first; LONELY and BOUND never do.
	{
		both([&](Session& s) {
			auto enter = [&](Role role, const std::string& clientId = "") {
				s.connect(role, clientId);
				if (strict && role < LONELY)
					s.authenticate(role);
			};
			enter(OWNER);
			s.deliver(OWNER, objectRequest("s1", "CreateRoom",
			                               R"({"room_name":"My VPN Room","password":"1234","public_key":")" +
			                                   keyOf(OWNER) + R"("})"));
			enter(ALICE);
			s.deliver(ALICE, objectRequest("s2", "JoinRoom",
			                               R"({"room_id":")" + ROOM + R"(","password":"1234","public_key":")" +
			                                   keyOf(ALICE) + R"(","username":"Alice"})"));
			enter(BOB);
			s.deliver(BOB, objectRequest("s3", "JoinRoom",
			                             R"({"room_id":")" + ROOM + R"(","password":"1234","public_key":")" +
			                                 keyOf(BOB) + R"(","username":"Bob"})"));
			enter(STRANGER);
			s.deliver(STRANGER, objectRequest("s4", "CreateRoom",
			                                  R"({"room_name":"Elsewhere","password":"5678","public_key":")" +
			                                      keyOf(STRANGER) + R"("})"));
			enter(LONELY);
			enter(BOUND, keyOf(ALICE));
		});
		compare(OWNER, "seating");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), fast->host.gaugeValue("rooms"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), fast->host.gaugeValue("online_members"));
	}

	void setModes(std::size_t shift)
	/// Each socket's reply form (§4.3) by a Ping in that form, rotated by shift.
	{
		for (int r = 0; r < ROLES; ++r)
		{
			const auto form = static_cast<PayloadForm>((static_cast<std::size_t>(r) + shift) % 3);
			send(static_cast<Role>(r), pingIn(form), "mode");
		}
	}

	std::unique_ptr<Session> fast;
	std::unique_ptr<Session> general;
	std::size_t deliveries = 0; ///< relayed frames checked by relayProblem()
};


std::string readerProblem(const std::string& frame, std::string& scratch, bool& accepted)
/// When readSignalFrame() accepts frame, the general path must read the same request: the same
/// type, form, message_id and ids, and the body must be the very token, exactly Go's escaping of
/// its text (this file's goEscape). "" when that holds or the frame is declined.
{
	SignalFrame signal;
	accepted = Govpn::readSignalFrame(frame, scratch, signal);
	if (!accepted)
		return "";
	Govpn::Envelope envelope;
	Govpn::readEnvelope(frame, envelope);
	const int type = static_cast<int>(signal.type);
	if (envelope.status != Govpn::Envelope::Status::VALID)
		return "the general path finds the envelope invalid";
	if (envelope.type != TYPE_NAMES[type])
		return "type: general " + printable(envelope.type);
	if (!envelope.hasForm || envelope.form != signal.form)
		return "payload form";
	if (!envelope.payloadOk)
		return "the general path cannot decode the payload";
	if (envelope.messageId != signal.messageId)
		return "message_id";
	for (const auto& field : {std::make_pair("destination_id", signal.destinationId),
	                          std::make_pair("room_id", signal.roomId), std::make_pair("public_key", signal.publicKey)})
	{
		std::string value;
		if (!envelope.payload.stringField(field.first, value) || value != field.second)
			return std::string(field.first) + ": fast " + printable(field.second) + ", general " + printable(value);
	}
	const Govpn::JsonNode* body = envelope.payload.field(BODY_NAMES[type]);
	if (signal.body.empty())
		return body == nullptr ? "" : "body absent on the fast path only";
	if (body == nullptr || body->kind != Govpn::JsonKind::STRING)
		return "body: not a string on the general path";
	if (envelope.payload.raw(*body) != signal.body)
		return "body: another token";
	if (goEscape(body->text) != signal.body)
		return "body not in Go's escaping: " + printable(signal.body);
	return "";
}


// --- mutated frames ------------------------------------------------------------------------------


const char* const SDP_LINES[] = {
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:Fp1x",
    "a=ice-pwd:Yq5s0oB0uN0fD0yGkKzQ7e2L",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 4F:AB:10:9C:2D:77:E1:05:6B:3A:C8:91:0E:5F:D2:44:18:A7:6C:33:F0:29:B5:8E:7D:02:C6:1B:94:E8",
    "a=setup:actpass",
    "a=mid:0",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
    "a=candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host generation 0 network-cost 999"};

std::vector<std::string> joined(std::vector<std::string> first, const std::vector<std::string>& second,
                                const std::vector<std::string>& third = {})
/// The lists one after the other (short lists keep clang-format's columns).
{
	first.insert(first.end(), second.begin(), second.end());
	first.insert(first.end(), third.begin(), third.end());
	return first;
}


// Decoded text of every class: ASCII, JSON specials, control characters, what Go escapes, and
// non-ASCII of each length.
const std::vector<std::string> TEXT_PIECES =
    joined({"a",    "Z", "0", " ", "/", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f",
            "\x7f", "<", ">", "&", "'", "=",  "+",  "{",  "}",  "[",  "]",  ":",  ","},
           {"\xc2\x80", "\xc3\xa9", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x82\xac", "\xe2\x80\xa7", "\xe2\x80\xa8",
            "\xe2\x80\xa9", "\xe2\x80\xaa", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbb\xbf", "\xef\xbf\xbd",
            "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"},
           {"\0"s, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"});

// Token text that keeps a JSON string valid, most of it outside Go's own spelling.
const std::vector<std::string> VALID_PIECES =
    joined({"\\u0041", "\\/",     "\\b",     "\\f",     "\\u003C", "\\u003c", "\\u003e", "\\u0026", "\\u002F",
            "\\u2028", "\\u2029", "\\u00e9", "\\u00E9", "\\u0000", "\\u001f", "\\u001F", "\\u000a", "\\u000A",
            "\\u0009", "\\u007f", "\\u0022", "\\u005c", "\\n",     "\\r",     "\\t",     "\\\"",    "\\\\"},
           {"\\ud83d\\ude00",
            "\\uD83D\\uDE00",
            "\\ud800",
            "\\udc00",
            "\\ud83d\\u0041",
            "<",
            ">",
            "&",
            "\xe2\x80\xa8",
            "\xe2\x80\xa9",
            "\x7f",
            "\xc3\xa9",
            "\xe2\x82\xac",
            "\xf0\x9f\x98\x80",
            "\xef\xbb\xbf",
            "\xf4\x8f\xbf\xbf",
            "\xc2\x80",
            "\xed\x9f\xbf",
            "\xee\x80\x80",
            "\xe2\x80\xa7",
            "\xe2\x81\x9f",
            "/",
            "'"});

// Token text that makes a JSON string invalid: raw control characters, bad UTF-8 (stray and
// missing continuation bytes, overlong forms, surrogates, past U+10FFFF), bad escapes.
const std::vector<std::string> BROKEN_PIECES =
    joined({"\x01", "\x1f", "\n", "\r", "\t", "\\x", "\\u12", "\\u12G4", "\\U0041", "\\'", "\\0", "\\", "\""},
           {"\x80",
            "\xbf",
            "\xc0\x80",
            "\xc0\xaf",
            "\xc1\xbf",
            "\xc3",
            "\xc3\x28",
            "\xe0\x80\x80",
            "\xe0\x9f\xbf",
            "\xe2\x82",
            "\xe2\x80",
            "\xed\xa0\x80",
            "\xed\xbf\xbf",
            "\xf0\x80\x80\x80",
            "\xf0\x8f\xbf\xbf",
            "\xf0\x9f\x98",
            "\xf4\x90\x80\x80",
            "\xf5\x80\x80\x80",
            "\xf8\x88\x80\x80\x80",
            "\xfe",
            "\xff"},
           {"\0"s});

// Pieces put at every offset of a body, across the 16- and 32-byte blocks: escapes Go writes and
// others, raw characters of each length, truncated UTF-8, bad escapes, an early closing quote.
const std::vector<std::string> BOUNDARY_PIECES =
    joined({"\\n",     "\\r",     "\\t",     "\\\"",    "\\\\",           "\\/",         "\\b",
            "\\f",     "\\u003c", "\\u003C", "\\u2028", "\\u2029",        "\\u0041",     "\\u00e9",
            "\\u001f", "\\u0000", "\\u000a", "\\u007f", "\\ud83d\\ude00", "\\r\\n\\r\\n"},
           {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xa7", "<", "&",
            "\x7f", "\x01", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "\\", "\\u12", "\""});

const std::vector<std::string> OTHER_VALUES = {"null",  "0",  "42",      "-1.5e3", "true",
                                               "false", "[]", "[\"x\"]", "{}",     R"({"a":"b"})"};

const char INTERESTING_BYTES[] = {'"',    '\\',   '{',  '}',    '[',    ']',    ':',    ',',    ' ',    '\t',
                                  '\n',   '\r',   '\0', '\x01', '\x1f', '\x7f', '\x80', '\xc3', '\xe2', '\xed',
                                  '\xf0', '\xff', 'u',  '=',    '/',    '+',    '-',    '_',    '<',    '>',
                                  '&',    'n',    'r',  't',    '0',    'A',    'a',    'e',    'l',    '\f'};


struct Member
{
	std::string key;   ///< the key's token, quotes included
	std::string value; ///< the value's JSON text
};


class FrameMaker
/// Relay requests as the real client writes them, in all three payload forms, and seeded
/// mutations of every part of them.
{
public:
	explicit FrameMaker(std::uint32_t seed):
	    _random(seed)
	{
	}

	std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(_random() % n); }
	bool chance(std::size_t percent) { return below(100) < percent; }

	template <class T>
	const T& pick(const std::vector<T>& items)
	{
		return items[below(items.size())];
	}

	Role sender()
	{
		const std::size_t roll = below(100);
		return roll < 30   ? OWNER
		       : roll < 52 ? ALICE
		       : roll < 74 ? BOB
		       : roll < 86 ? STRANGER
		       : roll < 93 ? LONELY
		                   : BOUND;
	}

	std::string frame(const Session& session, Role sender)
	{
		const int type = static_cast<int>(below(3));
		std::string inner = innerText(session, type, sender);
		if (chance(6))
			mutateBytes(inner);
		std::string envelope = envelopeText(type, payloadToken(inner));
		if (chance(6))
			mutateBytes(envelope);
		return envelope;
	}

	std::string sdp()
	{
		std::string text = "v=0\r\n";
		for (std::size_t lines = below(16); lines > 0; --lines)
			text += std::string(SDP_LINES[below(sizeof SDP_LINES / sizeof SDP_LINES[0])]) + "\r\n";
		return text;
	}

	std::string candidate()
	{
		std::string text = "candidate:" + std::to_string(below(4000000000u)) + " 1 udp " +
		                   std::to_string(below(2200000000u)) + " 192.0.2." + std::to_string(below(256)) + " " +
		                   std::to_string(1024 + below(60000)) + " typ " + (chance(50) ? "host" : "srflx");
		if (chance(40))
			text += " generation 0 ufrag Fp1x network-id 1";
		return text;
	}

	std::string weird()
	{
		std::string text;
		for (std::size_t n = below(40); n > 0; --n)
			text += pick(TEXT_PIECES);
		return text;
	}

	std::string alternativeSpelling(std::string_view text, std::size_t percent)
	/// A valid JSON string for text, each character spelled another valid way with the given
	/// chance: \u escapes in either case, surrogate pairs, \/ \b \f, raw < > & U+2028 U+2029.
	{
		static const char LOWER[] = "0123456789abcdef", UPPER[] = "0123456789ABCDEF";
		std::string out = "\"";
		for (std::size_t i = 0; i < text.size();)
		{
			std::size_t length = sequenceLength(text, i);
			if (length == 0)
			{
				out += text[i++]; // not UTF-8: copied, the token is then broken
				continue;
			}
			const std::string_view character = text.substr(i, length);
			i += length;
			std::string go = goEscape(character);
			go = go.substr(1, go.size() - 2);
			if (!chance(percent))
			{
				out += go;
				continue;
			}
			std::string decoded;
			unquote(goEscape(character), decoded);
			std::uint32_t cp = 0;
			auto lead = static_cast<unsigned char>(character[0]);
			cp = length == 1 ? lead : length == 2 ? lead & 0x1F : length == 3 ? lead & 0x0F : lead & 0x07;
			for (std::size_t k = 1; k < length; ++k)
				cp = (cp << 6) | (static_cast<unsigned char>(character[k]) & 0x3F);
			const char* hex = chance(50) ? LOWER : UPPER;
			auto unit = [&](std::uint32_t u) {
				return std::string("\\u") + hex[(u >> 12) & 15] + hex[(u >> 8) & 15] + hex[(u >> 4) & 15] + hex[u & 15];
			};
			switch (below(3))
			{
				case 0:
					out += cp < 0x10000
					           ? unit(cp)
					           : unit(0xD800 + ((cp - 0x10000) >> 10)) + unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
					break;
				case 1:
					if (cp == '/')
						out += "\\/";
					else if (cp == '\b')
						out += "\\b";
					else if (cp == '\f')
						out += "\\f";
					else if (cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029)
						out += character;
					else
						out += go;
					break;
				default:
					out += go;
			}
		}
		return out + "\"";
	}

	std::string withPiece(std::string token, const std::vector<std::string>& pieces)
	/// A piece put somewhere inside the string token.
	{
		token.insert(1 + below(token.size() - 1), pick(pieces));
		return token;
	}

	std::string bodyToken(int type)
	{
		std::string text = type == 2 ? (chance(80) ? candidate() : sdp()) : (chance(85) ? sdp() : candidate());
		if (chance(10))
			text = weird();
		else if (chance(10))
			text.insert(below(text.size() + 1), weird()); // the SDP and candidate texts are ASCII
		const std::size_t roll = below(100);
		if (roll < 66)
			return goEscape(text);
		if (roll < 76)
			return alternativeSpelling(text, 1 + below(20));
		if (roll < 84)
			return withPiece(goEscape(text), VALID_PIECES);
		if (roll < 90)
			return withPiece(goEscape(text), BROKEN_PIECES);
		if (roll < 95)
		{
			static const std::vector<std::string> OBJECTS = {
			    R"({"sdp":"v=0\r\n","type":"offer"})", R"({ "sdp" : "v=0\r\n" , "type" : "answer" })",
			    R"({"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host","sdpMid":"0","sdpMLineIndex":0})",
			    R"({"a":[1, 2.50e3, {"b" : null}], "c":"\u00e9\/<"})", R"({})"};
			return pick(OBJECTS);
		}
		return chance(30) ? std::string("\"\"") : pick(OTHER_VALUES);
	}

	std::string idToken(const std::string& value)
	{
		const std::size_t roll = below(100);
		if (roll < 92 || (roll < 95 && value.empty()))
			return quoted(value);
		if (roll < 95)
		{
			// One character escaped: the same text to the general path, not plain to the fast one.
			static const char HEX[] = "0123456789abcdef";
			std::size_t at = below(value.size());
			auto c = static_cast<unsigned char>(value[at]);
			std::string escape =
			    c == '/' && chance(50) ? std::string("\\/") : std::string("\\u00") + HEX[c >> 4] + HEX[c & 15];
			return quoted(value.substr(0, at) + escape + value.substr(at + 1));
		}
		if (roll < 97)
			return withPiece(quoted(value), chance(50) ? VALID_PIECES : BROKEN_PIECES);
		return chance(25) ? quoted("") : pick(OTHER_VALUES);
	}

	std::string destination(const Session& session, Role sender)
	{
		const std::size_t roll = below(100);
		const Role member = static_cast<Role>(below(3)); // OWNER, ALICE or BOB, the sender too
		if (roll < 50)
		{
			// Another member of ROOM, by key or by connection id.
			Role other = sender == member || sender > BOB ? member : static_cast<Role>((sender + 1 + below(2)) % 3);
			if (other == sender)
				other = static_cast<Role>((sender + 1) % 3);
			return chance(50) ? keyOf(other) : session.connectionId[other];
		}
		if (roll < 60)
			return keyOf(member);
		if (roll < 70)
			return session.connectionId[member];
		if (roll < 76)
			return chance(50) ? keyOf(STRANGER) : session.connectionId[STRANGER];
		if (roll < 82)
			return session.connectionId[chance(50) ? LONELY : BOUND];
		if (roll < 86)
			return unknownKey();
		if (roll < 89)
			return "c-0000000000000000";
		if (roll < 92)
			return "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh="; // O with padding bits set: no key
		if (roll < 95)
			return session.connectionId[sender];
		if (roll < 98)
			return "";
		return "x" + std::to_string(below(1000));
	}

	std::string roomChoice(Role sender)
	{
		const std::size_t roll = below(100);
		const bool elsewhere = sender == STRANGER;
		if (roll < 80)
			return elsewhere ? OTHER_ROOM : ROOM;
		if (roll < 88)
			return elsewhere ? ROOM : OTHER_ROOM;
		if (roll < 92)
			return "";
		if (roll < 96)
			return "0000000000000000";
		return "3F9A1C0B7D2E4A68";
	}

	std::string keyChoice(Role sender)
	{
		const std::size_t roll = below(100);
		if (roll < 75)
			return sender == LONELY ? keyOf(static_cast<Role>(below(4))) : keyOf(sender);
		if (roll < 85)
			return keyOf(static_cast<Role>(below(4)));
		if (roll < 90)
			return unknownKey();
		if (roll < 94)
			return "";
		if (roll < 97)
			return "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh=";
		return "not-a-key";
	}

	std::string escapedKey(const std::string& name)
	{
		static const char HEX[] = "0123456789abcdef";
		if (name.empty())
			return quoted("\\u0000");
		std::size_t at = below(name.size());
		auto c = static_cast<unsigned char>(name[at]);
		return quoted(name.substr(0, at) + "\\u00" + HEX[c >> 4] + HEX[c & 15] + name.substr(at + 1));
	}

	std::string space(bool spaced)
	{
		// JSON's four whitespace characters, and now and then one that JSON does not allow.
		static const std::vector<std::string> SPACES = {" ", "\t", "\n", "\r\n", "  ", " \t\r\n "};
		static const std::vector<std::string> NOT_SPACES = {"\f", "\v", "\xc2\xa0", "\0"s, "\xe2\x80\xa8"};
		if (!spaced || !chance(40))
			return "";
		return chance(3) ? pick(NOT_SPACES) : pick(SPACES);
	}

	std::string render(const std::vector<Member>& members, bool spaced)
	{
		std::string out = space(spaced) + "{";
		for (std::size_t i = 0; i < members.size(); ++i)
		{
			if (i > 0)
				out += space(spaced) + ",";
			out += space(spaced) + members[i].key + space(spaced) + ":" + space(spaced) + members[i].value;
		}
		return out + space(spaced) + "}" + space(spaced);
	}

	void shuffleSome(std::vector<Member>& members, std::size_t percent)
	{
		if (chance(percent))
			std::shuffle(members.begin(), members.end(), _random);
	}

	void addOddMembers(std::vector<Member>& members, const std::vector<Member>& extras)
	/// Duplicates, unknown keys and escaped keys, now and then.
	{
		if (chance(4) && !members.empty())
		{
			Member copy = pick(members);
			if (chance(50))
				copy.value = chance(50) ? quoted("") : pick(OTHER_VALUES);
			members.insert(members.begin() + static_cast<std::ptrdiff_t>(below(members.size() + 1)), copy);
		}
		if (chance(4))
			members.insert(members.begin() + static_cast<std::ptrdiff_t>(below(members.size() + 1)), pick(extras));
		if (chance(3) && !members.empty())
		{
			Member& m = members[below(members.size())];
			m.key = escapedKey(m.key.substr(1, m.key.size() - 2));
		}
	}

	std::string innerText(const Session& session, int type, Role sender)
	{
		std::vector<Member> members;
		if (chance(75))
			members.push_back({quoted("room_id"), idToken(roomChoice(sender))});
		if (chance(50))
			members.push_back({quoted("public_key"), idToken(keyChoice(sender))});
		if (chance(96))
			members.push_back({quoted("destination_id"), idToken(destination(session, sender))});
		if (chance(96))
		{
			static const std::vector<std::string> ODD_BODY_KEYS = {
			    quoted("offer"), quoted("answer"),      quoted("candidate"), quoted("Offer"),
			    quoted("sdp"),   quoted("off\\u0065r"), quoted("offer ")};
			members.push_back({chance(93) ? quoted(BODY_NAMES[type]) : pick(ODD_BODY_KEYS), bodyToken(type)});
		}
		static const std::vector<Member> EXTRAS = {{quoted("type"), quoted("offer")},
		                                           {quoted("sdp"), quoted("v=0")},
		                                           {quoted("source_id"), quoted("c-1")},
		                                           {quoted("message_id"), quoted("m")},
		                                           {quoted(""), quoted("")},
		                                           {quoted("Room_id"), quoted(ROOM)},
		                                           {quoted("room_id "), quoted(ROOM)},
		                                           {quoted("username"), quoted("User")}};
		addOddMembers(members, EXTRAS);
		shuffleSome(members, 30);
		return render(members, chance(15));
	}

	std::string base64Variant(std::string digits)
	{
		static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		static const char HEX[] = "0123456789abcdef";
		switch (below(13))
		{
			case 0: // padding missing
				while (!digits.empty() && digits.back() == '=')
					digits.pop_back();
				break;
			case 1:
				digits += '=';
				break;
			case 2: // an escaped line break: the general path's decoder skips CR and LF
				digits.insert(below(digits.size() / 4 + 1) * 4, "\\r\\n");
				break;
			case 3:
				digits.insert(below(digits.size() + 1), chance(50) ? "\\n" : "\\r");
				break;
			case 4:
				digits.insert(below(digits.size() + 1), " ");
				break;
			case 5: // the url-safe alphabet
				std::replace(digits.begin(), digits.end(), '+', '-');
				std::replace(digits.begin(), digits.end(), '/', '_');
				break;
			case 6: // the unused bits of the last digit set: not canonical
			{
				std::size_t padding = digits.size() - std::min(digits.size(), digits.find_last_not_of('=') + 1);
				if (padding == 0 || digits.size() < 3)
					break;
				char& last = digits[digits.size() - padding - 1];
				const char* at = std::find(ALPHABET, ALPHABET + 64, last);
				last = ALPHABET[(at - ALPHABET) | 1];
				break;
			}
			case 7:
				if (!digits.empty())
					digits.erase(below(digits.size()), 1);
				break;
			case 8: // a digit as \u00xx: the same text to the general path
				if (!digits.empty())
				{
					std::size_t at = below(digits.size());
					auto c = static_cast<unsigned char>(digits[at]);
					digits.replace(at, 1, std::string("\\u00") + HEX[c >> 4] + HEX[c & 15]);
				}
				break;
			case 9:
			{
				std::size_t at = digits.find('/');
				if (at != std::string::npos)
					digits.replace(at, 1, "\\/");
				else
					digits.insert(0, "\\/");
				break;
			}
			case 10: // raw: not JSON
				digits.insert(below(digits.size() + 1), "\r\n");
				break;
			case 11:
				digits += "====";
				break;
			default:
				digits.insert(0, chance(50) ? " " : "=");
		}
		return digits;
	}

	std::string payloadToken(const std::string& inner)
	{
		const std::size_t roll = below(100);
		if (roll < 62)
		{
			std::string digits = sodiumEncode(inner);
			return quoted(chance(12) ? base64Variant(digits) : digits);
		}
		if (roll < 85)
			return inner;
		if (roll < 95)
		{
			std::string token = chance(70) ? goEscape(inner) : alternativeSpelling(inner, 5);
			if (chance(20))
				token.insert(1, chance(50) ? " " : "\\n ");
			return token;
		}
		static const std::vector<std::string> ODD = {"null",     "42",           "[]",       "true",    "\"\"",
		                                             "\"e30=\"", "\"bnVsbA==\"", "\"W10=\"", "\"   \"", "\"{\""};
		return pick(ODD);
	}

	std::string envelopeText(int type, const std::string& payload)
	{
		std::vector<Member> members;
		if (chance(92))
			members.push_back({quoted("message_id"), messageIdToken()});
		members.push_back({quoted("type"), typeToken(type)});
		if (chance(98))
			members.push_back({quoted("payload"), payload});
		static const std::vector<Member> EXTRAS = {
		    {quoted("extra"), "1"},     {quoted("room_id"), quoted(ROOM)}, {quoted("Type"), quoted("Offer")},
		    {quoted("payload "), "{}"}, {quoted("message_id"), "null"},    {quoted("type"), quoted("Ping")}};
		addOddMembers(members, EXTRAS);
		shuffleSome(members, 15);
		return render(members, chance(12));
	}

	std::string messageIdToken()
	{
		if (chance(82))
		{
			static const char HEX[] = "0123456789abcdef";
			std::string id;
			for (int i = 0; i < 8; ++i)
				id += HEX[below(16)];
			return quoted(id);
		}
		static const std::vector<std::string> ODD = {"\"\"",
		                                             "null",
		                                             "5",
		                                             "{}",
		                                             "[]",
		                                             "true",
		                                             "\"\xc3\xa9t\xc3\xa9\"",
		                                             "\"\\u0041bc\"",
		                                             "\"a\x7f\"",
		                                             "\"<id>&\"",
		                                             "\"a\\u003cb\"",
		                                             "\"\\ud800\"",
		                                             "\"x\x01y\"",
		                                             "\"tab\\there\"",
		                                             "\"\xe2\x80\xa8\"",
		                                             "\"a\\/b\"",
		                                             "\"\xff\"",
		                                             "\"a-b_c.d~!@#$%^*() \""};
		if (chance(5))
			return quoted(std::string(300, 'm'));
		return pick(ODD);
	}

	std::string typeToken(int type)
	{
		if (chance(92))
			return quoted(TYPE_NAMES[type]);
		static const std::vector<std::string> ODD =
		    joined({"\"offer\"", "\"OFFER\"", "\"Offer \"", "\" Offer\"", "\"Of\\u0066er\"", "\"Answer\"",
		            "\"Candidate\"", "\"Offer\"", "\"Ping\"", "\"Bogus\"", "\"\"", "null", "5", "\"Authenticate\"",
		            "\"GetUserRooms\"", "\"Cand\\u0069date\"", "\"Answer\\u0000\"", "\"Offer\\/\""},
		           {"\"Offer\0\""s});
		return pick(ODD);
	}

	void mutateBytes(std::string& text)
	{
		for (std::size_t edits = 1 + below(3); edits > 0; --edits)
		{
			const std::size_t at = below(text.size());
			const char interesting = INTERESTING_BYTES[below(sizeof INTERESTING_BYTES)];
			switch (below(8))
			{
				case 0:
					if (!text.empty())
						text[at] = static_cast<char>(below(256));
					break;
				case 1:
					if (!text.empty())
						text[at] = interesting;
					break;
				case 2:
					text.insert(at, 1, static_cast<char>(below(256)));
					break;
				case 3:
					text.insert(at, 1, interesting);
					break;
				case 4:
					text.insert(at, chance(50) ? pick(VALID_PIECES) : pick(BROKEN_PIECES));
					break;
				case 5:
					text.erase(at, 1 + below(4));
					break;
				case 6: // truncated
					text.resize(at);
					break;
				default: // a copied range
					if (!text.empty())
						text.insert(at, text.substr(below(text.size()), 1 + below(6)));
			}
		}
	}

private:
	std::mt19937 _random;
};


std::string frameOf(const std::string& type, const std::string& inner, PayloadForm form, const std::string& id = "m1")
/// A relay request around an inner object, in one of the forms the fast path reads.
{
	const std::string payload = form == PayloadForm::BASE64   ? quoted(sodiumEncode(inner))
	                            : form == PayloadForm::OBJECT ? inner
	                                                          : goEscape(inner);
	return R"({"message_id":")" + id + R"(","type":")" + type + R"(","payload":)" + payload + "}";
}


std::string offerTo(const std::string& destination, const std::string& body, bool bodyFirst)
{
	return bodyFirst
	           ? R"({"offer":)" + body + R"(,"room_id":")" + ROOM + R"(","destination_id":")" + destination + R"("})"
	           : R"({"room_id":")" + ROOM + R"(","public_key":")" + O + R"(","destination_id":")" + destination +
	                 R"(","offer":)" + body + "}";
}


std::string readableSdp()
/// An SDP in Go's escaping (the token's content, no quotes) long enough for several blocks.
{
	std::string text = "v=0\r\n";
	for (const char* line : SDP_LINES)
		text += std::string(line) + "\r\n";
	std::string token = goEscape(text);
	return token.substr(1, token.size() - 2);
}


} // namespace


class GovpnFastRelayTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnFastRelayTest);
	CPPUNIT_TEST(testContractFramesOnFastPath);
	CPPUNIT_TEST(testReaderAccepts);
	CPPUNIT_TEST(testReaderDeclines);
	CPPUNIT_TEST(testReaderBodyRuleAtEveryOffset);
	CPPUNIT_TEST(testMutatedFramesSameOnBothPaths);
	CPPUNIT_TEST(testEveryByteInEveryLaneSameOnBothPaths);
	CPPUNIT_TEST(testEscapesAcrossBlocksSameOnBothPaths);
	CPPUNIT_TEST(testStrictModeSameOnBothPaths);
	CPPUNIT_TEST(testFloodGuardSameOnBothPaths);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override { CPPUNIT_ASSERT(sodium_init() >= 0); }

	void testContractFramesOnFastPath()
	{
		// §17.2 on the fast path (readSignalFrame() takes both frames), byte for byte, then the
		// same Offer to members in the object and json-string modes, and an Answer body first.
		std::string scratch;
		SignalFrame signal;
		CPPUNIT_ASSERT(Govpn::readSignalFrame(OFFER, scratch, signal));
		CPPUNIT_ASSERT(Govpn::readSignalFrame(CANDIDATE, scratch, signal));
		const std::string Q = keyOf(BOB);
		std::vector<std::vector<SentMessage>> transcripts;
		for (bool fast : {true, false})
		{
			Session s(fast, {});
			s.connect(OWNER);
			s.deliver(OWNER, CREATE);
			s.connect(ALICE);
			s.deliver(ALICE, JOIN);
			s.connect(BOB);
			s.deliver(BOB, objectRequest("j", "JoinRoom",
			                             R"({"room_id":")" + ROOM + R"(","password":"1234","public_key":")" + Q +
			                                 R"(","username":"Bob"})"));
			std::vector<SentMessage> transcript;
			auto take = [&](Role role) {
				std::vector<SentMessage> sent = s.host.takeSent(s.socket[role]);
				transcript.insert(transcript.end(), sent.begin(), sent.end());
				std::vector<std::string> frames;
				for (const SentMessage& m : sent)
					frames.push_back(m.data);
				return frames;
			};
			for (Role role : {OWNER, ALICE, BOB})
				take(role);

			s.host.deliver(s.socket[OWNER], OFFER);
			CPPUNIT_ASSERT(take(OWNER).empty()); // no reply on success
			CPPUNIT_ASSERT(take(ALICE) == std::vector<std::string>{OFFER_DELIVERED + "\n"});
			s.host.deliver(s.socket[ALICE], CANDIDATE); // by connection id
			CPPUNIT_ASSERT(take(ALICE).empty());
			CPPUNIT_ASSERT(take(OWNER) == std::vector<std::string>{CANDIDATE_DELIVERED + "\n"});

			const std::string inner = R"({"destination_id":")" + Q + R"(","offer":)" + OFFER_SDP +
			                          R"(,"public_key":")" + O + R"(","room_id":")" + ROOM + R"(","source_id":")" +
			                          OWNER_SOCKET + R"("})";
			const std::string toBob = frameOf("Offer", offerTo(Q, OFFER_SDP, false), PayloadForm::BASE64, "4e5f6a7c");
			CPPUNIT_ASSERT(Govpn::readSignalFrame(toBob, scratch, signal));
			s.host.deliver(s.socket[OWNER], toBob); // Bob is in object mode since his JoinRoom
			CPPUNIT_ASSERT(take(BOB) ==
			               std::vector<std::string>{R"({"message_id":"","type":"Offer","payload":)" + inner + "}\n"});
			s.host.deliver(s.socket[BOB], pingIn(PayloadForm::JSON_STRING));
			take(BOB);
			s.host.deliver(s.socket[OWNER], toBob);
			CPPUNIT_ASSERT(take(BOB) == std::vector<std::string>{R"({"message_id":"","type":"Offer","payload":)" +
			                                                     goEscape(inner) + "}\n"});
			// Hand-written: the json-string frame in full.
			CPPUNIT_ASSERT_EQUAL(
			    std::string(
			        R"("{\"destination_id\":\")" + Q +
			        R"(\",\"offer\":\"v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n\",\"public_key\":\")" + O +
			        R"(\",\"room_id\":\"3f9a1c0b7d2e4a68\",\"source_id\":\"c-5d2a9e71b3c40f68\"}")"),
			    goEscape(inner));

			// An Answer in the object form from Bob: the body first, Bob's key stamped.
			const std::string answer = frameOf(
			    "Answer", R"({"destination_id":")" + OWNER_SOCKET + R"(","answer":"v=0\r\na=setup:active\r\n"})",
			    PayloadForm::OBJECT, "ans1");
			CPPUNIT_ASSERT(Govpn::readSignalFrame(answer, scratch, signal));
			s.host.deliver(s.socket[BOB], answer);
			CPPUNIT_ASSERT(take(BOB).empty());
			CPPUNIT_ASSERT(take(OWNER) ==
			               std::vector<std::string>{
			                   R"({"message_id":"","type":"Answer","payload":")" +
			                   sodiumEncode(R"({"answer":"v=0\r\na=setup:active\r\n","destination_id":")" + O +
			                                R"(","public_key":")" + Q +
			                                R"(","room_id":"3f9a1c0b7d2e4a68","source_id":"c-7a3f0b92d41e6c58"})") +
			                   "\"}\n"});

			// Errors on the fast path carry the request's id.
			s.host.deliver(s.socket[OWNER],
			               frameOf("Offer", offerTo(unknownKey(), OFFER_SDP, false), PayloadForm::BASE64, "4e5f6a7b"));
			CPPUNIT_ASSERT(take(OWNER) == std::vector<std::string>{TARGET_NOT_FOUND + "\n"});
			CPPUNIT_ASSERT_EQUAL(std::uint64_t(3), s.host.counterValue("signals_relayed_total", {{"type", "Offer"}}));
			CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), s.host.counterValue("signals_relayed_total", {{"type", "Answer"}}));
			CPPUNIT_ASSERT_EQUAL(std::uint64_t(1),
			                     s.host.counterValue("signals_relayed_total", {{"type", "Candidate"}}));
			CPPUNIT_ASSERT(s.host.request("GET", "/stats").body.find(R"("messages_processed":10,)") !=
			               std::string::npos);
			CPPUNIT_ASSERT(!s.host.logged("ERROR"));
			transcripts.push_back(transcript);
		}
		CPPUNIT_ASSERT_EQUAL(transcripts[0].size(), transcripts[1].size());
		for (std::size_t i = 0; i < transcripts[0].size(); ++i)
			CPPUNIT_ASSERT_EQUAL(transcripts[1][i].data, transcripts[0][i].data);
	}

	void testReaderAccepts()
	{
		struct Case
		{
			std::string frame;
			SignalType type;
			PayloadForm form;
			std::string messageId, roomId, publicKey, destinationId, body;
		};
		// Every escape Go writes (but \u007f: Go writes DEL raw), raw UTF-8 of each length, '/'.
		const std::string goBody = "\"a\\u003cb\\u003ec\\u0026d\\u2028e\\u2029f\\u0001\\u001f\\\"\\\\\\n\\r\\t "
		                           "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa7 \xef\xbf\xbf / \x7f'\"";
		CPPUNIT_ASSERT(isGoSpelled(goBody));
		const std::string spacedInner = " {\n\t\"offer\" : \"x\" ,\r\n \"destination_id\":\"d\" } \n";
		std::vector<Case> cases = {
		    {OFFER, SignalType::OFFER, PayloadForm::BASE64, "4e5f6a7b", ROOM, O, P, OFFER_SDP},
		    {CANDIDATE, SignalType::CANDIDATE, PayloadForm::BASE64, "5f6a7b8c", ROOM, "", OWNER_SOCKET,
		     R"("candidate:1 1 udp 2113937151 192.0.2.10 50000 typ host")"},
		    {R"({"message_id":"m","type":"Answer","payload":{"destination_id":"c-0e4b7c19a8d2f356","answer":"sdp"}})",
		     SignalType::ANSWER, PayloadForm::OBJECT, "m", "", "", "c-0e4b7c19a8d2f356", R"("sdp")"},
		    // message_id is optional, and may be empty
		    {R"({"type":"Offer","payload":{"offer":"x","destination_id":"d"}})", SignalType::OFFER, PayloadForm::OBJECT,
		     "", "", "", "d", R"("x")"},
		    {R"({"message_id":"","type":"Candidate","payload":{"candidate":"c","destination_id":"d"}})",
		     SignalType::CANDIDATE, PayloadForm::OBJECT, "", "", "", "d", R"("c")"},
		    // JSON whitespace between every token, of the envelope and of the inner object
		    {" \t\r\n{ \"message_id\" :\t\"w\" ,\r\n \"type\"\n: \"Offer\" , \"payload\" : { \"room_id\" : \"r\" "
		     ", \"offer\" : \"o\" } }\n ",
		     SignalType::OFFER, PayloadForm::OBJECT, "w", "r", "", "", R"("o")"},
		    {frameOf("Offer", spacedInner, PayloadForm::BASE64), SignalType::OFFER, PayloadForm::BASE64, "m1", "", "",
		     "d", R"("x")"},
		    // any order: the type after the payload
		    {R"({"payload":{"answer":"o","destination_id":"d"},"type":"Answer","message_id":"z"})", SignalType::ANSWER,
		     PayloadForm::OBJECT, "z", "", "", "d", R"("o")"},
		    {R"({"payload":")" + sodiumEncode(R"({"candidate":"o"})") + R"(","message_id":"z","type":"Candidate"})",
		     SignalType::CANDIDATE, PayloadForm::BASE64, "z", "", "", "", R"("o")"},
		    // no body, no fields at all, empty strings: relaySignal() answers those
		    {R"({"type":"Answer","payload":{"destination_id":"d","room_id":"r","public_key":"k"}})", SignalType::ANSWER,
		     PayloadForm::OBJECT, "", "r", "k", "d", ""},
		    {R"({"type":"Offer","payload":{}})", SignalType::OFFER, PayloadForm::OBJECT, "", "", "", "", ""},
		    {R"({"type":"Offer","payload":"e30="})", SignalType::OFFER, PayloadForm::BASE64, "", "", "", "", ""},
		    {R"({"type":"Offer","payload":{"room_id":"","public_key":"","destination_id":"","offer":""}})",
		     SignalType::OFFER, PayloadForm::OBJECT, "", "", "", "", "\"\""},
		    // every escape Go writes, and raw UTF-8 of every length, DEL and '/'
		    {frameOf("Offer", R"({"destination_id":"d","offer":)" + goBody + "}", PayloadForm::BASE64),
		     SignalType::OFFER, PayloadForm::BASE64, "m1", "", "", "d", goBody},
		    {frameOf("Offer", R"({"destination_id":"d","offer":)" + goBody + "}", PayloadForm::OBJECT),
		     SignalType::OFFER, PayloadForm::OBJECT, "m1", "", "", "d", goBody},
		    // printable ASCII ids
		    {frameOf("Candidate", R"({"destination_id":"a-b_c.d~!@#$%^*() ","room_id":"{}[]:,","candidate":"c"})",
		             PayloadForm::OBJECT, "<id>&'/"),
		     SignalType::CANDIDATE, PayloadForm::OBJECT, "<id>&'/", "{}[]:,", "", "a-b_c.d~!@#$%^*() ", R"("c")"},
		};
		// An SDP long enough for several blocks, and bodies of every length around the block sizes.
		const std::string sdp = quoted(readableSdp());
		cases.push_back({frameOf("Offer", offerTo(P, sdp, false), PayloadForm::BASE64), SignalType::OFFER,
		                 PayloadForm::BASE64, "m1", ROOM, O, P, sdp});
		cases.push_back({frameOf("Offer", offerTo(P, sdp, true), PayloadForm::OBJECT), SignalType::OFFER,
		                 PayloadForm::OBJECT, "m1", ROOM, "", P, sdp});
		for (std::size_t n = 0; n < 100; ++n)
		{
			const std::string body = quoted(std::string(n, 'x') + (n % 3 == 0 ? "\\r\\n" : ""));
			cases.push_back({frameOf("Answer", R"({"answer":)" + body + "}",
			                         n % 2 == 0 ? PayloadForm::BASE64 : PayloadForm::OBJECT),
			                 SignalType::ANSWER, n % 2 == 0 ? PayloadForm::BASE64 : PayloadForm::OBJECT, "m1", "", "",
			                 "", body});
		}
		std::string scratch = "stale bytes of an earlier, longer frame";
		for (const Case& c : cases)
		{
			const std::string message = printable(c.frame);
			SignalFrame signal;
			CPPUNIT_ASSERT_MESSAGE(message, Govpn::readSignalFrame(c.frame, scratch, signal));
			CPPUNIT_ASSERT_MESSAGE(message, signal.type == c.type);
			CPPUNIT_ASSERT_MESSAGE(message, signal.form == c.form);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, c.messageId, std::string(signal.messageId));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, c.roomId, std::string(signal.roomId));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, c.publicKey, std::string(signal.publicKey));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, c.destinationId, std::string(signal.destinationId));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, c.body, std::string(signal.body));
			// The views point into the frame or into scratch.
			auto inside = [](std::string_view view, std::string_view buffer) {
				return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
			};
			for (std::string_view view :
			     {signal.messageId, signal.roomId, signal.publicKey, signal.destinationId, signal.body})
				CPPUNIT_ASSERT_MESSAGE(message, view.empty() || inside(view, c.frame) || inside(view, scratch));
			bool accepted = false;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(message, std::string(), readerProblem(c.frame, scratch, accepted));
			CPPUNIT_ASSERT(accepted);
		}
	}

	void testReaderDeclines()
	{
		const std::string inner =
		    R"({"room_id":"3f9a1c0b7d2e4a68","destination_id":"c-0e4b7c19a8d2f356","offer":"v=0\r\n"})";
		const std::string object = frameOf("Offer", inner, PayloadForm::OBJECT);
		const std::string base64 = frameOf("Offer", inner, PayloadForm::BASE64);
		std::string scratch;
		SignalFrame signal;
		CPPUNIT_ASSERT(Govpn::readSignalFrame(object, scratch, signal)); // the templates are in the fast shape
		CPPUNIT_ASSERT(Govpn::readSignalFrame(base64, scratch, signal));
		const std::string digits = sodiumEncode(inner);
		auto withDigits = [](const std::string& text) {
			return R"({"message_id":"m1","type":"Offer","payload":")" + text + R"("})";
		};
		auto envelope = [&](const std::string& members) { return "{" + members + "}"; };
		const std::string I = inner;
		// A base64 text with '/' and '+', one without padding and one with a single '='.
		std::string slashy, slashyDigits; // '?' and '~' as a group's third byte give '/' and '+'
		for (std::size_t pad = 0;
		     slashyDigits.find('/') == std::string::npos || slashyDigits.find('+') == std::string::npos; ++pad)
		{
			slashy = R"({"destination_id":"d","offer":")" + std::string(pad, 'x') + R"(?~?~~??~"})";
			slashyDigits = sodiumEncode(slashy);
		}
		CPPUNIT_ASSERT(slashyDigits.find('/') != std::string::npos && slashyDigits.find('+') != std::string::npos);
		CPPUNIT_ASSERT(Govpn::readSignalFrame(withDigits(slashyDigits), scratch, signal));
		std::string urlSafe = slashyDigits;
		std::replace(urlSafe.begin(), urlSafe.end(), '+', '-');
		std::replace(urlSafe.begin(), urlSafe.end(), '/', '_');
		std::string slashEscaped = slashyDigits;
		slashEscaped.replace(slashEscaped.find('/'), 1, "\\/");
		std::string unpaddedInner = R"({"offer":"x","destination_id":"d"})";
		while (unpaddedInner.size() % 3 != 0)
			unpaddedInner += ' ';
		const std::string padded = sodiumEncode(unpaddedInner); // no '='
		CPPUNIT_ASSERT(padded.back() != '=');
		CPPUNIT_ASSERT(Govpn::readSignalFrame(withDigits(padded), scratch, signal));
		const std::string onePad = sodiumEncode(R"({"offer":"x","destination_id":"dd"})");
		CPPUNIT_ASSERT(onePad.size() >= 2 && onePad[onePad.size() - 1] == '=' && onePad[onePad.size() - 2] != '=');
		std::string nonCanonical = onePad;
		nonCanonical[nonCanonical.size() - 2] = 'B'; // value 1: an unused bit set

		const std::vector<std::pair<std::string, std::string>> declined = {
		    // the envelope: message_id, type and payload, nothing else, each once
		    {"extra key", envelope(R"("message_id":"m","type":"Offer","payload":)" + I + R"(,"x":1)")},
		    {"room_id in the envelope", envelope(R"("room_id":"r","type":"Offer","payload":)" + I)},
		    {"message_id twice", envelope(R"("message_id":"m","message_id":"n","type":"Offer","payload":)" + I)},
		    {"type twice", envelope(R"("type":"Offer","type":"Offer","payload":)" + I)},
		    {"payload twice", envelope(R"("type":"Offer","payload":)" + I + R"(,"payload":)" + I)},
		    {"no type", envelope(R"("message_id":"m","payload":)" + I)},
		    {"no payload", envelope(R"("message_id":"m","type":"Offer")")},
		    {"empty object", "{}"},
		    // the type: exactly Offer, Answer or Candidate, plain
		    {"type offer", envelope(R"("type":"offer","payload":)" + I)},
		    {"type OFFER", envelope(R"("type":"OFFER","payload":)" + I)},
		    {"type with a space", envelope(R"("type":"Offer ","payload":)" + I)},
		    {"type escaped", envelope(R"("type":"Of\u0066er","payload":)" + I)},
		    {"type Ping", envelope(R"("type":"Ping","payload":)" + I)},
		    {"type Candidat", envelope(R"("type":"Candidat","payload":)" + I)},
		    {"type null", envelope(R"("type":null,"payload":)" + I)},
		    {"type number", envelope(R"("type":5,"payload":)" + I)},
		    // message_id: a plain printable ASCII string
		    {"message_id null", envelope(R"("message_id":null,"type":"Offer","payload":)" + I)},
		    {"message_id number", envelope(R"("message_id":5,"type":"Offer","payload":)" + I)},
		    {"message_id object", envelope(R"("message_id":{},"type":"Offer","payload":)" + I)},
		    {"message_id not ASCII", envelope("\"message_id\":\"\xc3\xa9\",\"type\":\"Offer\",\"payload\":" + I)},
		    {"message_id escaped", envelope(R"("message_id":"\u0041","type":"Offer","payload":)" + I)},
		    {"message_id \\n", envelope(R"("message_id":"a\nb","type":"Offer","payload":)" + I)},
		    {"message_id raw tab", envelope("\"message_id\":\"a\tb\",\"type\":\"Offer\",\"payload\":" + I)},
		    {"escaped key", envelope(R"("message\u005fid":"m","type":"Offer","payload":)" + I)},
		    {"escaped type key", envelope(R"("typ\u0065":"Offer","payload":)" + I)},
		    {"escaped payload key", envelope(R"("type":"Offer","p\u0061yload":)" + I)},
		    // the payload: base64 or an object
		    {"payload null", envelope(R"("type":"Offer","payload":null)")},
		    {"payload number", envelope(R"("type":"Offer","payload":5)")},
		    {"payload array", envelope(R"("type":"Offer","payload":[)" + I + "]")},
		    {"payload true", envelope(R"("type":"Offer","payload":true)")},
		    {"payload empty string", envelope(R"("type":"Offer","payload":"")")},
		    {"json-string form", frameOf("Offer", inner, PayloadForm::JSON_STRING)},
		    {"json-string form, leading space", envelope(R"("type":"Offer","payload":" )" + goEscape(inner).substr(1))},
		    // base64: canonical, padded, standard alphabet, nothing but digits
		    {"escaped CR LF in base64", withDigits(digits.substr(0, 8) + "\\r\\n" + digits.substr(8))},
		    {"escaped LF at the end", withDigits(digits + "\\n")},
		    {"space in base64", withDigits(digits.substr(0, 8) + " " + digits.substr(8))},
		    {"leading space", withDigits(" " + digits)},
		    {"padding missing", withDigits(onePad.substr(0, onePad.size() - 1))},
		    {"padding extra", withDigits(onePad + "=")},
		    {"padding on a whole quad", withDigits(padded + "====")},
		    {"url-safe", withDigits(urlSafe)},
		    {"'/' escaped", withDigits(slashEscaped)},
		    {"digit escaped", withDigits("\\u0065" + digits.substr(1))},
		    {"non-canonical last digit", withDigits(nonCanonical)},
		    {"length not a multiple of 4", withDigits(digits.substr(1))},
		    {"base64 of null", withDigits(sodiumEncode("null"))},
		    {"base64 of an array", withDigits(sodiumEncode("[" + inner + "]"))},
		    {"base64 of garbage after the object", withDigits(sodiumEncode(inner + "x"))},
		    {"base64 of two objects", withDigits(sodiumEncode(inner + "{}"))},
		    {"base64 with a BOM", withDigits(sodiumEncode("\xef\xbb\xbf" + inner))},
		    {"base64 of a trailing comma", withDigits(sodiumEncode(inner.substr(0, inner.size() - 1) + ",}"))},
		    {"base64 with a form feed", withDigits(sodiumEncode("\f" + inner))},
		    {"base64 truncated object", withDigits(sodiumEncode(inner.substr(0, inner.size() - 1)))},
		    // the frame: one object, nothing after it
		    {"garbage after", object + "x"},
		    {"second object", object + "{}"},
		    {"trailing comma", object.substr(0, object.size() - 1) + ",}"},
		    {"array", "[" + object + "]"},
		    {"empty", ""},
		    {"only space", " \n"},
		    {"BOM", "\xef\xbb\xbf" + object},
		    {"form feed", "\f" + object},
		    {"vertical tab", object + "\v"},
		    {"NUL after", object + "\0"s},
		};
		std::vector<std::pair<std::string, std::string>> all = declined;
		// The inner object: room_id, public_key, destination_id and the type's body, each once,
		// each a string, the ids plain printable ASCII.
		const std::vector<std::pair<std::string, std::string>> inners = {
		    {"unknown key", R"({"destination_id":"d","offer":"x","sdp":"x"})"},
		    {"source_id", R"({"destination_id":"d","offer":"x","source_id":"c-1"})"},
		    {"type inside", R"({"type":"offer","destination_id":"d","offer":"x"})"},
		    {"empty key", R"({"":"","destination_id":"d","offer":"x"})"},
		    {"destination_id twice", R"({"destination_id":"d","destination_id":"e","offer":"x"})"},
		    {"room_id twice", R"({"room_id":"r","destination_id":"d","offer":"x","room_id":"r"})"},
		    {"public_key twice", R"({"public_key":"k","public_key":"k","destination_id":"d","offer":"x"})"},
		    {"body twice", R"({"destination_id":"d","offer":"x","offer":"y"})"},
		    {"another type's body", R"({"destination_id":"d","answer":"x"})"},
		    {"two bodies", R"({"destination_id":"d","offer":"x","answer":"y"})"},
		    {"room_id null", R"({"room_id":null,"destination_id":"d","offer":"x"})"},
		    {"room_id number", R"({"room_id":5,"destination_id":"d","offer":"x"})"},
		    {"public_key null", R"({"public_key":null,"destination_id":"d","offer":"x"})"},
		    {"public_key object", R"({"public_key":{},"destination_id":"d","offer":"x"})"},
		    {"destination_id array", R"({"destination_id":["d"],"offer":"x"})"},
		    {"destination_id true", R"({"destination_id":true,"offer":"x"})"},
		    {"body null", R"({"destination_id":"d","offer":null})"},
		    {"body number", R"({"destination_id":"d","offer":42})"},
		    {"body object", R"({"destination_id":"d","offer":{"sdp":"x"}})"},
		    {"body array", R"({"destination_id":"d","offer":["x"]})"},
		    {"body false", R"({"destination_id":"d","offer":false})"},
		    {"escaped id", R"({"destination_id":"c-0e4b7c19a8d2f35\u0036","offer":"x"})"},
		    {"escaped key in id", R"({"public_key":"A6EHv\/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","offer":"x"})"},
		    {"escaped room", R"({"room_id":"3f9a1c0b7d2e4a6\u0038","offer":"x"})"},
		    {"id not ASCII", "{\"destination_id\":\"d\xc3\xa9\",\"offer\":\"x\"}"},
		    {"id with raw tab", "{\"destination_id\":\"d\te\",\"offer\":\"x\"}"},
		    {"escaped inner key", R"({"destination\u005fid":"d","offer":"x"})"},
		    {"escaped body key", R"({"destination_id":"d","off\u0065r":"x"})"},
		    {"trailing comma", R"({"destination_id":"d","offer":"x",})"},
		    {"missing colon", R"({"destination_id" "d","offer":"x"})"},
		    {"unclosed", R"({"destination_id":"d","offer":"x")"},
		};
		for (const auto& c : inners)
			for (PayloadForm form : {PayloadForm::BASE64, PayloadForm::OBJECT})
				all.push_back({c.first, frameOf("Offer", c.second, form)});
		// Every prefix of a frame in the fast shape is declined.
		for (const std::string& whole : {OFFER, object})
			for (std::size_t n = 0; n < whole.size(); ++n)
				all.push_back({"prefix", whole.substr(0, n)});
		for (const auto& c : all)
		{
			CPPUNIT_ASSERT_MESSAGE(c.first + ": " + printable(c.second),
			                       !Govpn::readSignalFrame(c.second, scratch, signal));
		}
		// The body: exactly Go's escaping of its text; every other spelling, invalid JSON or bad
		// UTF-8 declines, wherever it stands.
		const std::vector<std::string> bodies = joined(
		    {"\\/",     "\\u0041", "\\b",     "\\f",     "\\u003C", "\\u003E", "\\u002F", "\\u00e9", "\\ud83d\\ude00",
		     "\\u000a", "\\u000d", "\\u0009", "\\u0022", "\\u005c", "\\u007f", "\\u001F", "\\u202a", "\\ud800",
		     "\\udc00", "\\U2028", "\\x",     "\\u12",   "\\u123",  "\\"},
		    {"<",
		     ">",
		     "&",
		     "\xe2\x80\xa8",
		     "\xe2\x80\xa9",
		     "\x01",
		     "\t",
		     "\x1f",
		     "\n",
		     "\x80",
		     "\xc0\xaf",
		     "\xc1\xbf",
		     "\xe0\x80\xaf",
		     "\xed\xa0\x80",
		     "\xf0\x80\x80\xaf",
		     "\xf4\x90\x80\x80",
		     "\xf5\x80\x80\x80",
		     "\xff",
		     "\xc3(",
		     "\xe2\x82",
		     "\0"s});
		for (const std::string& piece : bodies)
			for (std::size_t at = 0; at < 70; ++at)
			{
				const std::string body = "\"" + std::string(at, 'x') + piece + "yz\"";
				for (PayloadForm form : {PayloadForm::BASE64, PayloadForm::OBJECT})
				{
					const std::string frame = frameOf("Offer", offerTo(P, body, at % 2 == 0), form);
					CPPUNIT_ASSERT_MESSAGE(printable(frame), !Govpn::readSignalFrame(frame, scratch, signal));
				}
			}
		// Unterminated: the body runs to the end of the text.
		for (std::size_t at = 0; at < 70; ++at)
			for (const std::string& end : {std::string("\\"), std::string("\\u00"), std::string("x")})
			{
				const std::string inner2 = R"({"destination_id":"d","offer":")" + std::string(at, 'x') + end;
				CPPUNIT_ASSERT(!Govpn::readSignalFrame(frameOf("Offer", inner2, PayloadForm::BASE64), scratch, signal));
				CPPUNIT_ASSERT(!Govpn::readSignalFrame(R"({"message_id":"m1","type":"Offer","payload":)" + inner2,
				                                       scratch, signal));
			}
	}

	void testReaderBodyRuleAtEveryOffset()
	{
		Switchboard::Tests::forEachVectorLevel([this] { checkReaderBodyRuleAtEveryOffset(); });
	}

	void checkReaderBodyRuleAtEveryOffset()
	{
		// Every byte value at every position of a long body, in both forms: readSignalFrame()
		// accepts exactly when the body is Go's spelling of valid UTF-8 (this file's oracle), and
		// what it accepts the general path reads alike. Also two-byte pieces (escapes, UTF-8) at
		// every offset, across the 16- and 32-byte blocks.
		std::string scratch;
		std::size_t accepted = 0, total = 0;
		auto check = [&](const std::string& content, bool bodyFirst, PayloadForm form) {
			const std::string body = quoted(content);
			const std::string frame = frameOf("Offer", offerTo(P, body, bodyFirst), form);
			bool ok = false;
			const std::string problem = readerProblem(frame, scratch, ok);
			if (!problem.empty() || ok != isGoSpelled(body))
				CPPUNIT_FAIL(printable(frame) + "\nfast path " + (ok ? "accepts" : "declines") + "; " + problem);
			accepted += ok ? 1 : 0;
			++total;
		};
		for (const std::string& base : {readableSdp(), std::string(150, 'a') + "0123456789"})
		{
			for (std::size_t at = 0; at < base.size(); ++at)
				for (int value = 0; value < 256; ++value)
				{
					std::string content = base;
					content[at] = static_cast<char>(value);
					check(content, value % 2 == 0,
					      (at + static_cast<std::size_t>(value)) % 3 == 0 ? PayloadForm::OBJECT : PayloadForm::BASE64);
				}
		}
		const std::vector<std::string>& pieces = BOUNDARY_PIECES;
		for (const std::string& piece : pieces)
			for (std::size_t at = 0; at < 70; ++at)
				for (const std::string& fill : {std::string("abc\\r\\n"), std::string("yz"), std::string("\\r\\n")})
				{
					std::string content = std::string(at, 'x') + piece;
					while (content.size() < at + 120)
						content += fill;
					check(content, at % 2 == 1, at % 3 == 0 ? PayloadForm::OBJECT : PayloadForm::BASE64);
					// The same after a run of short escapes, so the piece meets the block skip.
					std::string escapes;
					for (std::size_t k = 0; k < at; ++k)
						escapes += k % 2 == 0 ? "\\r" : "\\n";
					check(escapes + piece + fill + fill, at % 2 == 0, PayloadForm::BASE64);
				}
		CPPUNIT_ASSERT(accepted > total / 4 && accepted < total);
	}

	void testMutatedFramesSameOnBothPaths()
	{
		Pair pair;
		pair.seatEveryone(false);
		FrameMaker maker(20261207);
		const std::size_t ROUNDS = 30000;
		std::string scratch;
		std::size_t accepted = 0;
		bool aliceAway = false;
		for (std::size_t round = 0; round < ROUNDS; ++round)
		{
			if (round % 40 == 0)
				pair.setModes(round / 40);
			if (round == ROUNDS / 4)
			{
				// A minute later: the relay's once-a-minute last_active touch, in storage.
				pair.both([](Session& s) { s.host.advance(61000); });
				pair.compare(OWNER, "61 s later");
			}
			if (round == ROUNDS / 2)
			{
				// Alice's socket closes: she is offline, her key and old id lead nowhere.
				pair.both([](Session& s) { s.host.disconnect(s.socket[ALICE]); });
				pair.compare(OWNER, "Alice gone");
				aliceAway = true;
			}
			if (round == ROUNDS / 2 + 400)
			{
				pair.both([](Session& s) {
					s.connect(ALICE);
					s.deliver(ALICE, objectRequest("c", "ConnectRoom",
					                               R"({"room_id":")" + ROOM + R"(","public_key":")" + keyOf(ALICE) +
					                                   R"(","username":"User"})"));
				});
				pair.compare(ALICE, "Alice back");
				aliceAway = false;
			}
			Role sender = maker.sender();
			if (aliceAway && sender == ALICE)
				sender = BOB;
			const std::string frame = maker.frame(*pair.fast, sender);
			bool ok = false;
			const std::string problem = readerProblem(frame, scratch, ok);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(frame), std::string(), problem);
			accepted += ok ? 1 : 0;
			pair.send(sender, frame, "round " + std::to_string(round));
		}
		// The real client's frame once more, after everything.
		pair.send(OWNER, OFFER, "the contract's Offer at the end");
		pair.finalCompare();
		// Both answers of the fast reader were exercised, and many relays went through.
		std::fprintf(stderr, "\nmutated frames: %zu, fast reader accepted %zu, relayed %llu, checked deliveries %zu\n",
		             ROUNDS, accepted, static_cast<unsigned long long>(pair.fast->relayed()), pair.deliveries);
		CPPUNIT_ASSERT(accepted > ROUNDS / 4);
		CPPUNIT_ASSERT(accepted < ROUNDS * 3 / 4);
		CPPUNIT_ASSERT(pair.fast->relayed() > ROUNDS / 6);
	}

	void testEveryByteInEveryLaneSameOnBothPaths()
	{
		Switchboard::Tests::forEachVectorLevel([this] { checkEveryByteInEveryLaneSameOnBothPaths(); });
	}

	void checkEveryByteInEveryLaneSameOnBothPaths()
	{
		// Every byte value at the first 64 positions of a long body (two 32-byte blocks: each lane
		// sees each byte class) and at its last 40 (the last block, read as the buffer's final 32
		// bytes), relayed by both sessions.
		Pair pair;
		pair.seatEveryone(false);
		pair.setModes(0);
		for (const std::string& base : {readableSdp(), std::string(200, 'a')})
		{
			std::vector<std::size_t> positions;
			for (std::size_t at = 0; at < 64; ++at)
				positions.push_back(at);
			for (std::size_t at = base.size() - 40; at < base.size(); ++at)
				positions.push_back(at);
			for (std::size_t at : positions)
				for (int value = 0; value < 256; ++value)
				{
					std::string content = base;
					content[at] = static_cast<char>(value);
					const Role to = (at + static_cast<std::size_t>(value)) % 2 == 0 ? ALICE : BOB;
					const PayloadForm form = (value / 2) % 2 == 0 ? PayloadForm::BASE64 : PayloadForm::OBJECT;
					const std::string frame =
					    frameOf("Offer", offerTo(keyOf(to), quoted(content), value % 3 == 0), form, "e1");
					pair.send(OWNER, frame, "byte " + std::to_string(value) + " at " + std::to_string(at));
				}
			pair.setModes(1);
		}
		pair.finalCompare();
		CPPUNIT_ASSERT(pair.fast->relayed() > 10000);
	}

	void testEscapesAcrossBlocksSameOnBothPaths()
	{
		Switchboard::Tests::forEachVectorLevel([this] { checkEscapesAcrossBlocksSameOnBothPaths(); });
	}

	void checkEscapesAcrossBlocksSameOnBothPaths()
	{
		// Escapes and multi-byte characters straddling each block boundary, after plain text and
		// after runs of \r\n (the block skip), with a backslash as the last byte of a block.
		Pair pair;
		pair.seatEveryone(false);
		const std::vector<std::string>& pieces = BOUNDARY_PIECES;
		std::size_t n = 0;
		for (const std::string& piece : pieces)
			for (std::size_t at = 0; at < 67; ++at)
			{
				std::string escapes;
				for (std::size_t k = 0; k < at; ++k)
					escapes += k % 2 == 0 ? "\\r" : "\\n";
				for (const std::string& content :
				     {std::string(at, 'x') + piece + "abc\\r\\nabc\\r\\nabc\\r\\nabc\\r\\n",
				      escapes + piece + "\\r\\n\\r\\n\\r\\n\\r\\n\\r\\n\\r\\n\\r\\n\\r\\n"})
				{
					const Role to = n % 3 == 0 ? ALICE : BOB;
					const PayloadForm form = n % 2 == 0 ? PayloadForm::BASE64 : PayloadForm::OBJECT;
					if (n % 97 == 0)
						pair.setModes(n / 97);
					pair.send(OWNER,
					          frameOf("Answer",
					                  R"({"destination_id":")" + keyOf(to) + R"(","answer":)" + quoted(content) + "}",
					                  form),
					          "piece");
					++n;
				}
			}
		pair.finalCompare();
	}

	void testStrictModeSameOnBothPaths()
	{
		// strict_auth: the four in rooms authenticated, LONELY and BOUND not (§5.3: every relay of
		// theirs is "Authentication required", on both paths).
		Pair pair({{"strict_auth", "true"}, {"strict_auth_host", "127.0.0.1:8080"}});
		pair.seatEveryone(true);
		FrameMaker maker(5309);
		std::string scratch;
		for (std::size_t round = 0; round < 2000; ++round)
		{
			if (round % 50 == 0)
				pair.setModes(round / 50);
			const Role sender = maker.sender();
			const std::string frame = maker.frame(*pair.fast, sender);
			bool ok = false;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(printable(frame), std::string(), readerProblem(frame, scratch, ok));
			pair.send(sender, frame, "strict round " + std::to_string(round));
		}
		pair.send(LONELY, frameOf("Offer", offerTo(O, OFFER_SDP, false), PayloadForm::BASE64), "unauthenticated");
		pair.finalCompare();
		CPPUNIT_ASSERT(pair.fast->relayed() > 200);
	}

	void testFloodGuardSameOnBothPaths()
	{
		// A small flood bucket: drops, their one Error a second and rate_limited_total agree.
		Pair pair({{"message_burst", "25"}, {"message_rate", "50"}});
		pair.seatEveryone(false);
		FrameMaker maker(77);
		for (std::size_t round = 0; round < 600; ++round)
		{
			const Role sender = round % 3 == 0 ? OWNER : maker.sender();
			const std::string frame = round % 2 == 0
			                              ? frameOf("Offer", offerTo(P, OFFER_SDP, false), PayloadForm::BASE64)
			                              : maker.frame(*pair.fast, sender);
			pair.send(sender, frame, "flood round " + std::to_string(round));
			if (round % 10 == 0)
				pair.both([](Session& s) { s.host.advance(37); });
		}
		pair.finalCompare();
		CPPUNIT_ASSERT(pair.fast->host.counterValue("rate_limited_total") > 50);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnFastRelayTest);
