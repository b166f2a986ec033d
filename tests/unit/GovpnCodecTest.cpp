//
// GovpnCodecTest.cpp
//
// Unit tests of the GoVPN codec and value formats (docs/protocols/govpn.md §1, §4, §17.6).
//


#include "Codec.h"
#include "GovpnVectorLevels.h"
#include "Formats.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <random>
#include <sodium.h>
#include <string>
#include <vector>


using namespace Switchboard::Govpn;


namespace {


const std::string OWNER = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";


std::string seedKey(unsigned char first)
/// The base64 public key of the Ed25519 seed first, first+1, ... first+31.
{
	unsigned char seed[32], pk[32], sk[64];
	for (int i = 0; i < 32; ++i)
		seed[i] = static_cast<unsigned char>(first + i);
	crypto_sign_seed_keypair(pk, sk, seed);
	return base64Encode(std::string(reinterpret_cast<char*>(pk), 32));
}


} // namespace


class GovpnCodecTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnCodecTest);
	CPPUNIT_TEST(testExampleKeys);
	CPPUNIT_TEST(testPublicKeyFormat);
	CPPUNIT_TEST(testOtherFormats);
	CPPUNIT_TEST(testGoStringEscapes);
	CPPUNIT_TEST(testWordScansAtEveryOffset);
	CPPUNIT_TEST(testBase64AgreesWithLibsodium);
	CPPUNIT_TEST(testBase64EveryByteInEveryLane);
	CPPUNIT_TEST(testGoQuotedTokens);
	CPPUNIT_TEST(testJsonKeepsSourceTokens);
	CPPUNIT_TEST(testJsonRejectsGarbage);
	CPPUNIT_TEST(testEnvelopeForms);
	CPPUNIT_TEST(testEnvelopeFailures);
	CPPUNIT_TEST(testFrameEncoding);
	CPPUNIT_TEST(testStrictModeSignatureVector);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override { CPPUNIT_ASSERT(sodium_init() >= 0); }

	void testExampleKeys()
	{
		CPPUNIT_ASSERT_EQUAL(OWNER, seedKey(0x00));
		CPPUNIT_ASSERT_EQUAL(std::string("Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="), seedKey(0x20));
	}

	void testPublicKeyFormat()
	{
		CPPUNIT_ASSERT(isPublicKey(OWNER));
		CPPUNIT_ASSERT(!isPublicKey(OWNER.substr(0, 43)));                             // 43 characters
		CPPUNIT_ASSERT(!isPublicKey(base64Encode(std::string(33, 'x'))));              // 33 bytes
		CPPUNIT_ASSERT(!isPublicKey("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="));  // url-safe alphabet
		CPPUNIT_ASSERT(!isPublicKey("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh="));  // non-zero padding bits
		CPPUNIT_ASSERT(!isPublicKey("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg==")); // ==
		CPPUNIT_ASSERT(!isPublicKey(" A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"));  // leading space
		CPPUNIT_ASSERT(!isPublicKey(""));
	}

	void testOtherFormats()
	{
		CPPUNIT_ASSERT(isRoomId("3f9a1c0b7d2e4a68"));
		CPPUNIT_ASSERT(!isRoomId("3F9A1C0B7D2E4A68"));
		CPPUNIT_ASSERT(!isRoomId("ABC"));
		CPPUNIT_ASSERT(isPassword("1234"));
		CPPUNIT_ASSERT(!isPassword("12a4"));
		CPPUNIT_ASSERT(!isPassword("12345"));
		CPPUNIT_ASSERT(!isPassword("123"));
		CPPUNIT_ASSERT(!isPassword("\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4")); // Arabic-Indic digits
		CPPUNIT_ASSERT(isRoomName("My VPN Room"));
		CPPUNIT_ASSERT(!isRoomName(""));
		CPPUNIT_ASSERT(!isRoomName("   "));
		CPPUNIT_ASSERT(!isRoomName(std::string(256, 'a')));
		CPPUNIT_ASSERT(isRoomName(std::string(255, 'a')));
		CPPUNIT_ASSERT(!isRoomName("a\x01"
		                           "b"));
		CPPUNIT_ASSERT(isUsername(""));
		CPPUNIT_ASSERT(!isUsername("a\x7F"));
		CPPUNIT_ASSERT_EQUAL(std::string("2025-07-08T20:09:35Z"), rfc3339(1752005375000));
	}

	void testGoStringEscapes()
	{
		CPPUNIT_ASSERT_EQUAL(std::string(R"("a\"b\\c\n\r\t\u0001\u0008\u003c\u003e\u0026\u2028\u2029é/")"),
		                     goQuote("a\"b\\c\n\r\t\x01\b<>&\xE2\x80\xA8\xE2\x80\xA9\xC3\xA9/"));
	}

	void testWordScansAtEveryOffset()
	{
		// The escapers and the parser skip plain bytes eight at a time: a special byte must be
		// found at every position of a word, and at the tail after the last whole word.
		for (std::size_t before = 0; before < 20; ++before)
			for (std::size_t after : {0, 1, 7, 8, 13})
			{
				std::string head(before, 'a'), tail(after, 'b');
				for (const auto& special :
				     std::vector<std::pair<std::string, std::string>>{{"<", "\\u003c"},
				                                                      {"&", "\\u0026"},
				                                                      {"\"", "\\\""},
				                                                      {"\\", "\\\\"},
				                                                      {"\x1f", "\\u001f"},
				                                                      {"\xE2\x80\xA8", "\\u2028"},
				                                                      {"\xE2\x82\xAC", "\xE2\x82\xAC"}})
				{
					std::string text = head + special.first + tail;
					std::string quoted = "\"" + head + special.second + tail + "\"";
					CPPUNIT_ASSERT_EQUAL_MESSAGE(text, quoted, goQuote(text));
					JsonDocument doc;
					CPPUNIT_ASSERT_MESSAGE(quoted, doc.parse(quoted));
					CPPUNIT_ASSERT_EQUAL(text, doc.root().text);
				}
				JsonDocument raw;
				CPPUNIT_ASSERT(!raw.parse("\"" + head + "\x01" + tail + "\""));  // raw control character
				CPPUNIT_ASSERT(!raw.parse("\"" + head + "\xC3(" + tail + "\"")); // not UTF-8
				CPPUNIT_ASSERT(!raw.parse("\"" + head + "\xED\xA0\x80\""));      // a surrogate
				CPPUNIT_ASSERT(!isUtf8(head + "\xF4\x90\x80\x80" + tail));       // past U+10FFFF
				CPPUNIT_ASSERT(isUtf8(head + "\xF4\x8F\xBF\xBF" + tail));
			}
	}

	void testBase64AgreesWithLibsodium()
	{
		Switchboard::Tests::forEachVectorLevel([this] { checkBase64AgreesWithLibsodium(); });
	}

	void checkBase64AgreesWithLibsodium()
	{
		// Our base64 is not constant-time (payloads are not secret) and must accept and refuse
		// exactly what libsodium's strict padded decoder does, with CR and LF ignored.
		CPPUNIT_ASSERT(sodium_init() >= 0);
		std::mt19937 random(20261206);
		const std::string mutations = "AZaz09+/=-_ \r\n.\0";
		for (int round = 0; round < 4000; ++round)
		{
			// Short ones for the scalar edges, long ones for the 16-character blocks.
			std::string bytes(round % 2 == 0 ? random() % 80 : random() % 400, '\0');
			for (char& b : bytes)
				b = static_cast<char>(random());
			std::string expected(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
			sodium_bin2base64(expected.data(), expected.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
			                  bytes.size(), sodium_base64_VARIANT_ORIGINAL);
			expected.pop_back(); // NUL
			std::string encoded = base64Encode(bytes);
			CPPUNIT_ASSERT_EQUAL(expected, encoded);

			std::string text = encoded;
			int edits = round % 4;
			for (int e = 0; e < edits && !text.empty(); ++e)
			{
				std::size_t at = random() % text.size();
				switch (random() % 3)
				{
					case 0:
						text[at] = mutations[random() % mutations.size()];
						break;
					case 1:
						text.erase(at, 1);
						break;
					default:
						text.insert(at, 1, mutations[random() % mutations.size()]);
				}
			}
			std::string sodiumBytes(text.size() / 4 * 3 + 3, '\0');
			std::size_t sodiumLength = 0;
			bool sodiumOk =
			    sodium_base642bin(reinterpret_cast<unsigned char*>(sodiumBytes.data()), sodiumBytes.size(), text.data(),
			                      text.size(), "\r\n", &sodiumLength, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0;
			sodiumBytes.resize(sodiumOk ? sodiumLength : 0);
			std::string ours;
			bool oursOk = base64Decode(text, ours, "\r\n");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(text, sodiumOk, oursOk);
			if (oursOk)
				CPPUNIT_ASSERT_EQUAL_MESSAGE(text, sodiumBytes, ours);
			if (edits == 0)
				CPPUNIT_ASSERT(oursOk && ours == bytes);
		}
	}

	void testBase64EveryByteInEveryLane()
	{
		Switchboard::Tests::forEachVectorLevel([this] { checkBase64EveryByteInEveryLane(); });
	}

	void checkBase64EveryByteInEveryLane()
	{
		// The block decoders (AVX-512 VBMI: 64 digits, AVX2: 32, SSSE3: 16, each chosen at run
		// time) leave a block holding anything but the 64 digits to the narrower code and at last
		// to the scalar quads. Every byte value at the first 64 positions (each lane of the first
		// block) and at the last 64 (the blocks after the widest ones, the scalar quads and the
		// padded last quad) is accepted or refused as libsodium's strict decoder does, with the
		// same bytes. 248 digits are 3 VBMI blocks, one AVX2, one SSSE3, a scalar quad and the
		// last quad; the other lengths shift that, with none, one and two '='.
		std::mt19937 random(2026);
		std::size_t checked = 0;
		const std::size_t lengths[] = {150, 151, 158, 183, 184, 185, 186}; // 200 to 248 digits
		for (std::size_t length : lengths)
		{
			std::string bytes(length, '\0');
			for (char& b : bytes)
				b = static_cast<char>(random());
			const std::string text = base64Encode(bytes);
			std::vector<std::size_t> positions;
			for (std::size_t at = 0; at < 64; ++at)
				positions.push_back(at);
			for (std::size_t at = text.size() - 64; at < text.size(); ++at)
				positions.push_back(at);
			for (std::size_t at : positions)
				for (int value = 0; value < 256; ++value)
				{
					std::string mutated = text;
					mutated[at] = static_cast<char>(value);
					std::string sodiumBytes(mutated.size() / 4 * 3 + 3, '\0');
					std::size_t sodiumLength = 0;
					bool sodiumOk = sodium_base642bin(reinterpret_cast<unsigned char*>(sodiumBytes.data()),
					                                  sodiumBytes.size(), mutated.data(), mutated.size(), "\r\n",
					                                  &sodiumLength, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0;
					sodiumBytes.resize(sodiumOk ? sodiumLength : 0);
					std::string ours;
					bool oursOk = base64Decode(mutated, ours, "\r\n");
					const std::string message = "byte " + std::to_string(value) + " at " + std::to_string(at) + " of " +
					                            std::to_string(text.size());
					// libsodium 1.0.18 (Debian 12) reads its input as signed char, and its
					// constant-time classifier then takes every byte from 0x80 up for some digit
					// ("\x80BCD" decodes): no base64 there, we refuse them.
					if (value >= 0x80)
						sodiumOk = false;
					CPPUNIT_ASSERT_EQUAL_MESSAGE(message, sodiumOk, oursOk);
					if (oursOk)
						CPPUNIT_ASSERT_MESSAGE(message, sodiumBytes == ours);
					++checked;
				}
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(7 * 128 * 256), checked);
		// Encoding every length from 0 to 200 (the 48-, 24- and 12-byte blocks and every tail),
		// and decoding it back.
		for (std::size_t length = 0; length <= 200; ++length)
			for (int round = 0; round < 8; ++round)
			{
				std::string bytes(length, '\0');
				for (char& b : bytes)
					b = static_cast<char>(round == 0 ? 0xFF : round == 1 ? 0x00 : random());
				std::string expected(sodium_base64_encoded_len(length, sodium_base64_VARIANT_ORIGINAL), '\0');
				sodium_bin2base64(expected.data(), expected.size(),
				                  reinterpret_cast<const unsigned char*>(bytes.data()), length,
				                  sodium_base64_VARIANT_ORIGINAL);
				expected.pop_back(); // NUL
				const std::string message = "length " + std::to_string(length);
				CPPUNIT_ASSERT_EQUAL_MESSAGE(message, expected, base64Encode(bytes));
				std::string prefixed = "xyz"; // appended after other text, as frames are written
				CPPUNIT_ASSERT_EQUAL_MESSAGE(message, "xyz" + expected, appendBase64(prefixed, bytes));
				std::string back;
				CPPUNIT_ASSERT_MESSAGE(message, base64Decode(expected, back) && back == bytes);
			}
	}

	void testGoQuotedTokens()
	{
		// The relay copies a string token when isGoQuoted() says re-escaping would give the same
		// bytes: for any valid spelling of any text, it must say so exactly when that is true.
		const std::vector<std::pair<std::string, std::vector<std::string>>> spellings = {
		    {"a", {"a", "\\u0061"}},
		    {"/", {"/", "\\/", "\\u002f"}},
		    {"\"", {"\\\"", "\\u0022"}},
		    {"\\", {"\\\\", "\\u005c", "\\u005C"}},
		    {"\n", {"\\n", "\\u000a"}},
		    {"\r", {"\\r", "\\u000d", "\\u000D"}},
		    {"\t", {"\\t", "\\u0009"}},
		    {"\b", {"\\b", "\\u0008"}},
		    {"\f", {"\\f", "\\u000c", "\\u000C"}},
		    {"\x01", {"\\u0001"}},
		    {"\x1f", {"\\u001f", "\\u001F"}},
		    {"<", {"<", "\\u003c", "\\u003C"}},
		    {"&", {"&", "\\u0026"}},
		    {"\xC3\xA9", {"\xC3\xA9", "\\u00e9"}},
		    {"\xE2\x80\xA8", {"\xE2\x80\xA8", "\\u2028"}},
		    {"\xE2\x80\xA9", {"\xE2\x80\xA9", "\\u2029"}},
		    {"\xE2\x82\xAC", {"\xE2\x82\xAC", "\\u20ac"}},
		    {"\xF0\x9F\x98\x80", {"\xF0\x9F\x98\x80", "\\ud83d\\ude00"}},
		    {"0123456789abcdef", {"0123456789abcdef"}}};
		std::mt19937 random(7);
		int copied = 0;
		for (int round = 0; round < 3000; ++round)
		{
			std::string text, token = "\"";
			std::size_t length = random() % 24;
			for (std::size_t k = 0; k < length; ++k)
			{
				const auto& piece = spellings[random() % spellings.size()];
				text += piece.first;
				token += piece.second[random() % piece.second.size()];
			}
			token += '"';
			JsonDocument doc;
			CPPUNIT_ASSERT_MESSAGE(token, doc.parse(token));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(token, text, doc.root().text);
			bool same = goQuote(text) == token;
			CPPUNIT_ASSERT_EQUAL_MESSAGE(token, same, isGoQuoted(token));
			CPPUNIT_ASSERT(isGoQuoted(goQuote(text)));
			copied += same ? 1 : 0;
		}
		CPPUNIT_ASSERT(copied > 100); // both answers were exercised
	}

	void testJsonKeepsSourceTokens()
	{
		JsonDocument doc;
		CPPUNIT_ASSERT(doc.parse(R"( {"t": 1753900000123456789, "o": { "b" : [1, 2.50e3, "\u00e9 x"] }, "t":2} )"));
		const JsonNode* t = doc.member(doc.root(), "t");
		CPPUNIT_ASSERT(t != nullptr);
		CPPUNIT_ASSERT_EQUAL(std::string("2"), doc.compact(*t)); // the last duplicate wins
		const JsonNode* o = doc.member(doc.root(), "o");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"b":[1,2.50e3,"\u00e9 x"]})"), doc.compact(*o));
		JsonDocument s;
		CPPUNIT_ASSERT(s.parse(R"("\ud83d\ude00")"));
		CPPUNIT_ASSERT_EQUAL(std::string("\xF0\x9F\x98\x80"), s.root().text);
	}

	void testJsonRejectsGarbage()
	{
		for (const char* bad : {"", "not json", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "01", "1.", "\"\x01\"", "{} {}",
		                        "tru", "\"\\x\"", "{\"a\" 1}", "\xC3("})
		{
			JsonDocument doc;
			CPPUNIT_ASSERT_MESSAGE(bad, !doc.parse(bad));
		}
		std::string deep(100000, '[');
		JsonDocument doc;
		CPPUNIT_ASSERT(!doc.parse(deep)); // bounded depth, no stack overflow
	}

	void testEnvelopeForms()
	{
		Envelope base64;
		readEnvelope(R"({"message_id":"a","type":"Ping","payload":"eyJhIjoxfQ=="})", base64);
		CPPUNIT_ASSERT(base64.status == Envelope::Status::VALID && base64.hasForm && base64.payloadOk);
		CPPUNIT_ASSERT(base64.form == PayloadForm::BASE64);
		CPPUNIT_ASSERT_EQUAL(std::string("1"), base64.payload.compact(*base64.payload.field("a")));

		Envelope object;
		readEnvelope(R"({"type":"Ping","payload":{"a":"x"}})", object);
		CPPUNIT_ASSERT(object.form == PayloadForm::OBJECT && object.payloadOk);
		std::string a;
		CPPUNIT_ASSERT(object.payload.stringField("a", a));
		CPPUNIT_ASSERT_EQUAL(std::string("x"), a);

		Envelope text;
		readEnvelope(R"({"message_id":null,"type":"Ping","payload":" {\"a\":null}"})", text);
		CPPUNIT_ASSERT(text.form == PayloadForm::JSON_STRING && text.payloadOk);
		CPPUNIT_ASSERT(text.payload.field("a") == nullptr); // null counts as absent

		Envelope innerNull;
		readEnvelope(R"({"type":"Ping","payload":"bnVsbA=="})", innerNull); // base64 of null
		CPPUNIT_ASSERT(innerNull.payloadOk);

		Envelope crlf;
		readEnvelope("{\"type\":\"Ping\",\"payload\":\"eyJh\\r\\nIjoxfQ==\"}", crlf);
		CPPUNIT_ASSERT(crlf.payloadOk);
	}

	void testEnvelopeFailures()
	{
		Envelope e;
		readEnvelope("not json", e);
		CPPUNIT_ASSERT(e.status == Envelope::Status::INVALID && e.messageId.empty());
		readEnvelope(R"({"message_id":5,"type":"Ping","payload":{}})", e);
		CPPUNIT_ASSERT(e.status == Envelope::Status::INVALID && e.messageId.empty());
		readEnvelope(R"({"message_id":"x","type":5})", e);
		CPPUNIT_ASSERT(e.status == Envelope::Status::INVALID);
		CPPUNIT_ASSERT_EQUAL(std::string("x"), e.messageId);
		for (const char* payload :
		     {R"("%%%")", "[123,125]", "null", R"("e30")", R"("eyJhIjoiPz8-In0=")", "5", R"("W10=")"})
		{
			readEnvelope(std::string(R"({"message_id":"x","type":"CreateRoom","payload":)") + payload + "}", e);
			CPPUNIT_ASSERT_MESSAGE(payload, e.status == Envelope::Status::VALID && !e.payloadOk);
		}
		readEnvelope(R"({"message_id":"x","type":"CreateRoom"})", e);
		CPPUNIT_ASSERT(e.status == Envelope::Status::VALID && !e.payloadOk && !e.hasForm);
		readEnvelope(R"({"message_id":"x","type":"CreateRoom","payload":{"password":1234}})", e);
		std::string password;
		CPPUNIT_ASSERT(e.payloadOk && !e.payload.stringField("password", password));
	}

	void testFrameEncoding()
	{
		const std::string inner = R"({"error":"Incorrect password"})";
		CPPUNIT_ASSERT_EQUAL(
		    std::string(
		        R"({"message_id":"b2c3d4e5","type":"Error","payload":"eyJlcnJvciI6IkluY29ycmVjdCBwYXNzd29yZCJ9"})"
		        "\n"),
		    encodeFrame("b2c3d4e5", "Error", inner, PayloadForm::BASE64));
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"message_id":"","type":"Error","payload":{"error":"Incorrect password"}})"
		                                 "\n"),
		                     encodeFrame("", "Error", inner, PayloadForm::OBJECT));
		CPPUNIT_ASSERT_EQUAL(
		    std::string(R"({"message_id":"","type":"Error","payload":"{\"error\":\"Incorrect password\"}"})"
		                "\n"),
		    encodeFrame("", "Error", inner, PayloadForm::JSON_STRING));
	}

	void testStrictModeSignatureVector()
	{
		// §17.6: the signed message and the signature, recomputed from the seed.
		unsigned char seed[32], pk[32], sk[64];
		for (int i = 0; i < 32; ++i)
			seed[i] = static_cast<unsigned char>(i);
		crypto_sign_seed_keypair(pk, sk, seed);
		std::string nonce;
		for (int i = 0; i < 32; ++i)
			nonce += static_cast<char>(0x80 + i);
		CPPUNIT_ASSERT_EQUAL(std::string("gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="), base64Encode(nonce));
		std::string message = "govpn-auth-v1\n127.0.0.1:8080\n" + nonce + std::string(reinterpret_cast<char*>(pk), 32);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("676f76706e2d617574682d76310a3132372e302e302e313a383038300a808182838485868788898a"
		                "8b8c8d8e8f909192939495969798999a9b9c9d9e9f03a107bff3ce10be1d70dd18e74bc09967e4"
		                "d6309ba50d5f1ddc8664125531b8"),
		    lowerHex(reinterpret_cast<const unsigned char*>(message.data()), message.size()));
		unsigned char signature[64];
		crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
		                     sk);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("u7VLwLS4O0X9oeCikjAg8+5Nu1J92O879ZfZsKiJrQyiWTGW9VEEDTQxbjtdbeHS+oMFfb2eAaNqX5lQ6q1vDQ=="),
		    base64Encode(std::string(reinterpret_cast<char*>(signature), 64)));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnCodecTest);
