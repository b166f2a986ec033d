//
// TogetherTokensTest.cpp
//
// The Together plugin's token codec and value rules (docs/protocols/together.md): HS256 only,
// constant-time MAC check, every claim required, expiry with leeway; the limits and their exact
// messages; ids, timestamps and token hashes.
//


#include "Rules.h"
#include "Tokens.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sodium.h>
#include <string>


using namespace Switchboard::Together;


namespace {


const std::string SECRET(32, 'k');
const std::int64_t NOW = 1767225600; // 2026-01-01T00:00:00Z


TokenClaims aliceAccess()
{
	TokenClaims claims;
	claims.subject = "3f0c1d9e-7b1a-4c55-9d0e-2a6f8e1b7c42";
	claims.username = "alice";
	claims.tokenType = "access";
	claims.jti = "9b2f0c3e-5d7a-4e1f-8c6b-2a0d4e6f8a1c";
	claims.issuedAt = NOW;
	claims.expiresAt = NOW + 900;
	return claims;
}


std::string urlBase64(const std::string& bytes)
{
	std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
	sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out.pop_back();
	return out;
}


std::string decodedPart(const std::string& token, int index)
{
	std::size_t start = 0;
	for (int i = 0; i < index; ++i)
		start = token.find('.', start) + 1;
	std::size_t end = token.find('.', start);
	std::string part = token.substr(start, end == std::string::npos ? std::string::npos : end - start);
	std::string bytes(part.size(), '\0');
	std::size_t length = 0;
	CPPUNIT_ASSERT(sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), part.data(),
	                                 part.size(), nullptr, &length, nullptr,
	                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
	bytes.resize(length);
	return bytes;
}


std::string signedWith(const std::string& secret, const std::string& header, const std::string& payload)
/// A token built here, independently of TokenCodec: HMAC-SHA-256 over the two parts.
{
	std::string input = urlBase64(header) + "." + urlBase64(payload);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
	crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()), input.size());
	crypto_auth_hmacsha256_final(&state, mac);
	return input + "." + urlBase64(std::string(reinterpret_cast<char*>(mac), sizeof(mac)));
}


const std::string GOOD_PAYLOAD =
    R"({"sub":"u","iat":1767225600,"exp":1767226500,"username":"a","token_type":"access","jti":"j"})";


} // namespace


class TogetherTokensTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherTokensTest);
	CPPUNIT_TEST(testIssueAndRead);
	CPPUNIT_TEST(testHeaderAndClaimsOnTheWire);
	CPPUNIT_TEST(testOnlyHs256);
	CPPUNIT_TEST(testTamperingAndOtherSecrets);
	CPPUNIT_TEST(testClaimsRequiredWithTheirTypes);
	CPPUNIT_TEST(testExpiryWithLeeway);
	CPPUNIT_TEST(testGarbage);
	CPPUNIT_TEST(testValueRules);
	CPPUNIT_TEST(testPageLimit);
	CPPUNIT_TEST(testIdsTimesHashes);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override { CPPUNIT_ASSERT(sodium_init() >= 0); }

	void testIssueAndRead()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		CPPUNIT_ASSERT(codec.read(codec.issue(aliceAccess()), NOW, 60, claims) == TokenStatus::VALID);
		CPPUNIT_ASSERT_EQUAL(aliceAccess().subject, claims.subject);
		CPPUNIT_ASSERT_EQUAL(std::string("alice"), claims.username);
		CPPUNIT_ASSERT_EQUAL(std::string("access"), claims.tokenType);
		CPPUNIT_ASSERT_EQUAL(aliceAccess().jti, claims.jti);
		CPPUNIT_ASSERT_EQUAL(NOW, claims.issuedAt);
		CPPUNIT_ASSERT_EQUAL(NOW + 900, claims.expiresAt);

		// A username with quotes, a backslash and non-ASCII survives the JSON round trip.
		TokenClaims odd = aliceAccess();
		odd.username = "a\"b\\c\xC3\xA9";
		CPPUNIT_ASSERT(codec.read(codec.issue(odd), NOW, 60, claims) == TokenStatus::VALID);
		CPPUNIT_ASSERT_EQUAL(odd.username, claims.username);
	}

	void testHeaderAndClaimsOnTheWire()
	{
		TokenCodec codec(SECRET);
		const std::string token = codec.issue(aliceAccess());
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"alg":"HS256","typ":"JWT"})"), decodedPart(token, 0));
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"sub":"3f0c1d9e-7b1a-4c55-9d0e-2a6f8e1b7c42","iat":1767225600,)"
		                                 R"("exp":1767226500,"username":"alice","token_type":"access",)"
		                                 R"("jti":"9b2f0c3e-5d7a-4e1f-8c6b-2a0d4e6f8a1c"})"),
		                     decodedPart(token, 1));
		CPPUNIT_ASSERT(token.find('=') == std::string::npos && token.find('+') == std::string::npos &&
		               token.find('/') == std::string::npos);
		// The MAC is HMAC-SHA-256 of the first two parts under the secret, as any JWT library
		// computes it.
		const std::string independent = signedWith(SECRET, decodedPart(token, 0), decodedPart(token, 1));
		CPPUNIT_ASSERT_EQUAL(independent, token);
	}

	void testOnlyHs256()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		CPPUNIT_ASSERT(codec.read(signedWith(SECRET, R"({"alg":"HS256"})", GOOD_PAYLOAD), NOW, 60, claims) ==
		               TokenStatus::VALID);
		for (const char* header :
		     {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"hs256","typ":"JWT"})",
		      R"({"typ":"JWT"})", R"({"alg":256})", "[]", "not json"})
			CPPUNIT_ASSERT_MESSAGE(header, codec.read(signedWith(SECRET, header, GOOD_PAYLOAD), NOW, 60, claims) ==
			                                   TokenStatus::INVALID);
		// alg none with an empty signature, as an attacker sends it.
		const std::string none = urlBase64(R"({"alg":"none","typ":"JWT"})") + "." + urlBase64(GOOD_PAYLOAD) + ".";
		CPPUNIT_ASSERT(codec.read(none, NOW, 60, claims) == TokenStatus::INVALID);
	}

	void testTamperingAndOtherSecrets()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		const std::string token = codec.issue(aliceAccess());
		CPPUNIT_ASSERT(TokenCodec(std::string(32, 'x')).read(token, NOW, 60, claims) == TokenStatus::INVALID);
		CPPUNIT_ASSERT(codec.read(signedWith(std::string(32, 'x'), R"({"alg":"HS256","typ":"JWT"})", GOOD_PAYLOAD), NOW,
		                          60, claims) == TokenStatus::INVALID);
		// Every single-character change anywhere is refused (a changed part, MAC or dot).
		const std::string alphabet = "AQgw_-.";
		for (std::size_t i = 0; i < token.size(); ++i)
			for (char c : alphabet)
			{
				if (token[i] == c)
					continue;
				std::string changed = token;
				changed[i] = c;
				TokenStatus status = codec.read(changed, NOW, 60, claims);
				// A change in the last character's unused bits may decode to the same bytes: only
				// then may it pass, and the bytes must then be the original ones.
				if (status != TokenStatus::INVALID)
					CPPUNIT_ASSERT_MESSAGE(changed, decodedPart(changed, 2) == decodedPart(token, 2) &&
					                                    decodedPart(changed, 1) == decodedPart(token, 1) &&
					                                    decodedPart(changed, 0) == decodedPart(token, 0));
			}
	}

	void testClaimsRequiredWithTheirTypes()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		const char* payloads[] = {
		    R"({"iat":1767225600,"exp":1767226500,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","exp":1767226500,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"exp":1767226500,"token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"exp":1767226500,"username":"a","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"exp":1767226500,"username":"a","token_type":"access"})",
		    R"({"sub":7,"iat":1767225600,"exp":1767226500,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":"1767225600","exp":1767226500,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"exp":1767226500.5,"username":"a","token_type":"access","jti":"j"})",
		    R"({"sub":"u","iat":1767225600,"exp":null,"username":"a","token_type":"access","jti":"j"})",
		    R"(["sub"])",
		    "{",
		};
		for (const char* payload : payloads)
			CPPUNIT_ASSERT_MESSAGE(payload, codec.read(signedWith(SECRET, R"({"alg":"HS256","typ":"JWT"})", payload),
			                                           NOW, 60, claims) == TokenStatus::INVALID);
	}

	void testExpiryWithLeeway()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		const std::string token = codec.issue(aliceAccess()); // exp = NOW + 900
		CPPUNIT_ASSERT(codec.read(token, NOW + 900, 60, claims) == TokenStatus::VALID);
		CPPUNIT_ASSERT(codec.read(token, NOW + 960, 60, claims) == TokenStatus::VALID);
		CPPUNIT_ASSERT(codec.read(token, NOW + 961, 60, claims) == TokenStatus::EXPIRED);
		CPPUNIT_ASSERT_EQUAL(std::string("alice"), claims.username); // filled: logout accepts expired tokens
		CPPUNIT_ASSERT(codec.read(token, NOW + 901, 0, claims) == TokenStatus::EXPIRED);
		CPPUNIT_ASSERT(codec.read(token, NOW + 1200, 0, claims) == TokenStatus::EXPIRED);
	}

	void testGarbage()
	{
		TokenCodec codec(SECRET);
		TokenClaims claims;
		for (const char* token :
		     {"", ".", "..", "...", "garbage", "a.b", "a.b.c", "a.b.c.d", "eyJ.eyJ.", "\xFF\xFE.\x00.x", "Bearer x"})
			CPPUNIT_ASSERT_MESSAGE(token, codec.read(token, NOW, 60, claims) == TokenStatus::INVALID);
		const std::string good = codec.issue(aliceAccess());
		CPPUNIT_ASSERT(codec.read(good + ".", NOW, 60, claims) == TokenStatus::INVALID);
		CPPUNIT_ASSERT(codec.read(" " + good, NOW, 60, claims) == TokenStatus::INVALID);
		CPPUNIT_ASSERT(codec.read(good.substr(0, good.size() - 1), NOW, 60, claims) == TokenStatus::INVALID);
	}

	void testValueRules()
	{
		const std::string usernameMessage = "Username must be 2–32 characters: letters, digits, '_', '.' or '-'";
		CPPUNIT_ASSERT_EQUAL(std::string(), usernameError("alice_x"));
		CPPUNIT_ASSERT_EQUAL(std::string(), usernameError("A.b-9_"));
		CPPUNIT_ASSERT_EQUAL(std::string(), usernameError(std::string(32, 'z')));
		CPPUNIT_ASSERT_EQUAL(usernameMessage, usernameError("a"));
		CPPUNIT_ASSERT_EQUAL(usernameMessage, usernameError(std::string(33, 'z')));
		CPPUNIT_ASSERT_EQUAL(usernameMessage, usernameError("al ice"));
		CPPUNIT_ASSERT_EQUAL(usernameMessage, usernameError("\xC3\xA9\xC3\xA9"));

		CPPUNIT_ASSERT_EQUAL(std::string(), emailError(""));
		CPPUNIT_ASSERT_EQUAL(std::string(), emailError("alice@example.com"));
		for (const char* email : {"alice", "@example.com", "alice@example", "a@b@example.com", "alice@"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(email, std::string("Invalid email address"), emailError(email));
		CPPUNIT_ASSERT_EQUAL(std::string(), emailError(std::string(242, 'a') + "@example.com")); // 254
		CPPUNIT_ASSERT_EQUAL(std::string("Invalid email address"), emailError(std::string(243, 'a') + "@example.com"));

		// Code points, not bytes: 8 two-byte characters are 8 characters.
		CPPUNIT_ASSERT_EQUAL(std::string(), passwordError("password123"));
		std::string eightAccents;
		for (int i = 0; i < 8; ++i)
			eightAccents += "\xC3\xA9";
		CPPUNIT_ASSERT_EQUAL(std::string(), passwordError(eightAccents));
		CPPUNIT_ASSERT_EQUAL(std::string("Password must be 8–128 characters"), passwordError(eightAccents.substr(2)));
		CPPUNIT_ASSERT_EQUAL(std::string("Password must be 8–128 characters"), passwordError("short"));
		CPPUNIT_ASSERT_EQUAL(std::string(), passwordError(std::string(128, 'p')));
		CPPUNIT_ASSERT_EQUAL(std::string("Password must be 8–128 characters"), passwordError(std::string(129, 'p')));

		CPPUNIT_ASSERT_EQUAL(std::string(), messageContentError(std::string(4000, 'm')));
		CPPUNIT_ASSERT_EQUAL(std::string("Message content must be 1–4000 characters"),
		                     messageContentError(std::string(4001, 'm')));
		CPPUNIT_ASSERT_EQUAL(std::string("Message content must be 1–4000 characters"), messageContentError(""));
		CPPUNIT_ASSERT_EQUAL(std::string(), messageContentError(" "));
		CPPUNIT_ASSERT_EQUAL(std::string("Channel name must be 1–100 characters"), channelNameError(""));
		CPPUNIT_ASSERT_EQUAL(std::string("Server name must be 1–100 characters"),
		                     serverNameError(std::string(101, 's')));
		CPPUNIT_ASSERT_EQUAL(std::string(), serverDescriptionError(std::string(1024, 'd')));
		CPPUNIT_ASSERT_EQUAL(std::string("Server description must be at most 1024 characters"),
		                     serverDescriptionError(std::string(1025, 'd')));
		CPPUNIT_ASSERT_EQUAL(std::string("Icon URL must be at most 2048 characters"),
		                     iconUrlError(std::string(2049, 'u')));
		CPPUNIT_ASSERT_EQUAL(std::string("Avatar URL must be at most 2048 characters"),
		                     avatarUrlError(std::string(2049, 'u')));
		CPPUNIT_ASSERT_EQUAL(std::string("Channel topic must be at most 1024 characters"),
		                     channelTopicError(std::string(1025, 't')));
		CPPUNIT_ASSERT_EQUAL(std::string("Channel category must be at most 100 characters"),
		                     channelCategoryError(std::string(101, 'c')));
		CPPUNIT_ASSERT_EQUAL(std::string("Custom status must be at most 128 characters"),
		                     customStatusError(std::string(129, 'c')));
		CPPUNIT_ASSERT_EQUAL(std::string(), customStatusError(std::string(128, 'c')));
	}

	void testPageLimit()
	{
		int limit = 0;
		CPPUNIT_ASSERT(pageLimit("", limit) && limit == 50);
		CPPUNIT_ASSERT(pageLimit("100", limit) && limit == 100);
		CPPUNIT_ASSERT(pageLimit("500", limit) && limit == 100);
		CPPUNIT_ASSERT(pageLimit("0", limit) && limit == 1);
		CPPUNIT_ASSERT(pageLimit("-3", limit) && limit == 1);
		CPPUNIT_ASSERT(pageLimit("7", limit) && limit == 7);
		CPPUNIT_ASSERT(pageLimit("99999999999999999999999", limit) && limit == 100);
		for (const char* bad : {"abc", "1.5", "-", "+", "1e2", " 5", "5 "})
			CPPUNIT_ASSERT_MESSAGE(bad, !pageLimit(bad, limit));
	}

	void testIdsTimesHashes()
	{
		unsigned char random[16];
		for (int i = 0; i < 16; ++i)
			random[i] = static_cast<unsigned char>(0xF0 + i);
		const std::string id = formatUuid(random);
		CPPUNIT_ASSERT_EQUAL(std::string("f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff"), id);
		std::string normalized;
		CPPUNIT_ASSERT(parseUuid("F0F1F2F3-F4F5-46F7-B8F9-FAFBFCFDFEFF", normalized) && normalized == id);
		for (const char* bad : {"", "f0f1f2f3f4f546f7b8f9fafbfcfdfeff", "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfef",
		                        "g0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff", "f0f1f2f3-f4f5-46f7-b8f9_fafbfcfdfeff"})
			CPPUNIT_ASSERT_MESSAGE(bad, !parseUuid(bad, normalized));

		CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00.000000Z"), formatTimestamp(0));
		CPPUNIT_ASSERT_EQUAL(std::string("2026-02-22T20:42:02.123456Z"), formatTimestamp(1771792922123456));
		CPPUNIT_ASSERT_EQUAL(std::string("1969-12-31T23:59:59.999999Z"), formatTimestamp(-1));

		CPPUNIT_ASSERT_EQUAL(std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
		                     sha256Hex(""));
		CPPUNIT_ASSERT_EQUAL(std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		                     sha256Hex("abc"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), codePoints("a\xC3\xA9\xE2\x82\xAC"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherTokensTest);
