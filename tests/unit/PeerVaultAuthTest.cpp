//
// PeerVaultAuthTest.cpp
//
// PeerVault's credentials (docs/protocols/peervault.md §3.3): the websocket.auth.tokens JSON form
// and its error texts, static tokens matched exactly on their digests, HS256 JWTs with exp
// required, leeway on exp and nbf, iss and aud only when configured, sub and scopes, other
// algorithms refused; and whether anything can publish.
//


#include "Auth.h"
#include "Hs256.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <sodium.h>
#include <cstdint>
#include <string>
#include <vector>


using namespace Switchboard::PeerVault;


namespace {


const std::string SECRET = "0123456789abcdef0123456789abcdef"; // exactly 32 bytes
const std::int64_t NOW_S = 1767225600;                         // 2026-01-01T00:00:00Z
const std::int64_t NOW_MS = NOW_S * 1000;


std::string jwt(const std::string& payload, const std::string& secret = SECRET)
{
	return Switchboard::Hs256::sign(secret, payload);
}


std::string withExp(std::int64_t exp, const std::string& more = "")
/// A claims object with exp and, optionally, more members (given with a leading comma).
{
	return "{\"exp\":" + std::to_string(exp) + more + "}";
}


std::string urlBase64(const std::string& bytes)
{
	std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
	sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out.pop_back();
	return out;
}


std::string macSigned(const std::string& header, const std::string& payload)
/// A token with any header, its MAC made here with SECRET (so only the header can make it fail).
{
	const std::string input = urlBase64(header) + "." + urlBase64(payload);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(SECRET.data()), SECRET.size());
	crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()), input.size());
	crypto_auth_hmacsha256_final(&state, mac);
	return input + "." + urlBase64(std::string(reinterpret_cast<char*>(mac), sizeof(mac)));
}


JwtRules rules(const std::string& issuer = "", const std::string& audience = "", std::int64_t leewayMs = 60000)
{
	JwtRules out;
	out.secret = SECRET;
	out.issuer = issuer;
	out.audience = audience;
	out.leewayMs = leewayMs;
	return out;
}


std::vector<StaticToken> tokens(const std::string& json)
{
	std::vector<StaticToken> out;
	std::string why;
	CPPUNIT_ASSERT_MESSAGE(why, parseStaticTokens(json, out, why));
	return out;
}


std::string tokensProblem(const std::string& json)
{
	std::vector<StaticToken> out{StaticToken{"keep", "keep", {}}};
	std::string why;
	CPPUNIT_ASSERT_MESSAGE(json, !parseStaticTokens(json, out, why));
	CPPUNIT_ASSERT_EQUAL_MESSAGE("a failed parse leaves the list alone", std::size_t(1), out.size());
	return why;
}


} // namespace


class PeerVaultAuthTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultAuthTest);
	CPPUNIT_TEST(testStaticTokensForm);
	CPPUNIT_TEST(testStaticTokensErrors);
	CPPUNIT_TEST(testStaticTokenMatch);
	CPPUNIT_TEST(testCanPublish);
	CPPUNIT_TEST(testJwtValid);
	CPPUNIT_TEST(testJwtExpiry);
	CPPUNIT_TEST(testJwtNotBefore);
	CPPUNIT_TEST(testJwtIssuer);
	CPPUNIT_TEST(testJwtAudience);
	CPPUNIT_TEST(testJwtAlgorithmPinned);
	CPPUNIT_TEST(testJwtScopes);
	CPPUNIT_TEST(testJwtBadClaims);
	CPPUNIT_TEST(testJwtWithoutSecret);
	CPPUNIT_TEST(testGarbage);
	CPPUNIT_TEST_SUITE_END();

public:
	void testStaticTokensForm()
	{
		std::vector<StaticToken> list = tokens(
		    R"([{"token":"pub-token","name":"publisher","scopes":["publish","admin"]}, {"name":"t","token":"t1"}])");
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), list.size());
		CPPUNIT_ASSERT_EQUAL(std::string("pub-token"), list[0].token);
		CPPUNIT_ASSERT_EQUAL(std::string("publisher"), list[0].name);
		CPPUNIT_ASSERT(list[0].scopes == std::vector<std::string>({"publish", "admin"}));
		CPPUNIT_ASSERT_EQUAL(std::string("t1"), list[1].token);
		CPPUNIT_ASSERT(list[1].scopes.empty());

		CPPUNIT_ASSERT(tokens("").empty());
		CPPUNIT_ASSERT(tokens("  ").empty());
		CPPUNIT_ASSERT(tokens("[]").empty());
		CPPUNIT_ASSERT(tokens(" [ ] ").empty());
		// Escapes are decoded; brackets and commas inside strings do not split items.
		list = tokens(R"([{"token":"a,]\"}b","name":"\u00e9","scopes":[]}])");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), list.size());
		CPPUNIT_ASSERT_EQUAL(std::string("a,]\"}b"), list[0].token);
		CPPUNIT_ASSERT_EQUAL(std::string("\xC3\xA9"), list[0].name);
	}

	void testStaticTokensErrors()
	{
		const std::string notArray = "must be a JSON array of {\"token\", \"name\", \"scopes\"} objects";
		CPPUNIT_ASSERT_EQUAL(notArray, tokensProblem("{}"));
		CPPUNIT_ASSERT_EQUAL(notArray, tokensProblem("[{\"token\":\"a\",\"name\":\"b\"}"));
		CPPUNIT_ASSERT_EQUAL(notArray, tokensProblem("t1"));
		CPPUNIT_ASSERT_EQUAL(notArray, tokensProblem("[] []"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 2: \"token\" must be a non-empty string"),
		                     tokensProblem(R"([{"token":"a","name":"b"},{"token":"","name":"c"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"token\" must be a non-empty string"),
		                     tokensProblem(R"([{"token":5,"name":"b"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"token\" must be a non-empty string"),
		                     tokensProblem(R"([{"name":"b"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"name\" must be a string"), tokensProblem(R"([{"token":"a"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"name\" must be a string"),
		                     tokensProblem(R"([{"token":"a","name":null}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"scopes\" must be an array of strings"),
		                     tokensProblem(R"([{"token":"a","name":"b","scopes":"publish"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: \"scopes\" must be an array of strings"),
		                     tokensProblem(R"([{"token":"a","name":"b","scopes":["publish",1]}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 3: must be an object {\"token\", \"name\", \"scopes\"}"),
		                     tokensProblem(R"([{"token":"a","name":"b"},{"token":"c","name":"d"},"e"])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 1: unknown member \"scope\" (expected token, name, scopes)"),
		                     tokensProblem(R"([{"token":"a","name":"b","scope":"publish"}])"));
		CPPUNIT_ASSERT_EQUAL(std::string("item 2: the same token as an earlier item"),
		                     tokensProblem(R"([{"token":"a","name":"b"},{"token":"a","name":"c"}])"));
	}

	void testStaticTokenMatch()
	{
		Authenticator auth(tokens(R"([{"token":"t1","name":"one"},{"token":"t2","name":"two","scopes":["x","y"]}])"),
		                   JwtRules());
		Identity identity;
		CPPUNIT_ASSERT(auth.check("t2", NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string("two"), identity.subject);
		CPPUNIT_ASSERT(identity.scopes == std::vector<std::string>({"x", "y"}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), identity.expiresAtMs);
		CPPUNIT_ASSERT(identity.hasScope("y"));
		CPPUNIT_ASSERT(!identity.hasScope("publish"));

		CPPUNIT_ASSERT(auth.check("t1", NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string("one"), identity.subject);
		CPPUNIT_ASSERT(identity.scopes.empty());

		for (const char* wrong : {"t3", "t", "t1 ", " t1", "T1", "t1t1", ""})
		{
			Identity untouched;
			untouched.subject = "before";
			CPPUNIT_ASSERT_MESSAGE(wrong, !auth.check(wrong, NOW_MS, untouched));
			CPPUNIT_ASSERT_EQUAL(std::string("before"), untouched.subject);
		}
		// The whole digest is compared: none of a few thousand near misses gets in.
		for (int i = 0; i < 4000; ++i)
			CPPUNIT_ASSERT(!auth.check("t" + std::to_string(i + 3), NOW_MS, identity));
		// The token compares as bytes: an embedded NUL is not an end.
		CPPUNIT_ASSERT(!auth.check(std::string_view("t1\0", 3), NOW_MS, identity));
		// Static tokens never expire.
		CPPUNIT_ASSERT(auth.check("t1", INT64_MAX, identity));
	}

	void testCanPublish()
	{
		CPPUNIT_ASSERT(!Authenticator({}, JwtRules()).canPublish());
		CPPUNIT_ASSERT(
		    !Authenticator(tokens(R"([{"token":"t1","name":"a","scopes":["admin","publisher"]}])"), JwtRules())
		         .canPublish());
		CPPUNIT_ASSERT(
		    Authenticator(
		        tokens(R"([{"token":"t1","name":"a"},{"token":"t2","name":"b","scopes":["admin","publish"]}])"),
		        JwtRules())
		        .canPublish());
		CPPUNIT_ASSERT(Authenticator({}, rules()).canPublish());
	}

	void testJwtValid()
	{
		Authenticator auth({}, rules());
		Identity identity;
		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S + 3600, R"(,"sub":"alice","scope":"publish")")), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string("alice"), identity.subject);
		CPPUNIT_ASSERT(identity.scopes == std::vector<std::string>({"publish"}));
		CPPUNIT_ASSERT_EQUAL((NOW_S + 3600) * 1000, identity.expiresAtMs);

		// No sub: an empty subject. Unknown claims are ignored.
		CPPUNIT_ASSERT(
		    auth.check(jwt(withExp(NOW_S + 60, R"(,"iat":1,"jti":"x","nested":{"a":[1]})")), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string(), identity.subject);
		CPPUNIT_ASSERT(identity.scopes.empty());

		// A fractional exp is a number of seconds too.
		CPPUNIT_ASSERT(auth.check(jwt("{\"exp\":" + std::to_string(NOW_S + 10) + ".5}"), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL((NOW_S + 10) * 1000 + 500, identity.expiresAtMs);
		CPPUNIT_ASSERT(auth.check(jwt(R"({"exp":1.8e9})"), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000000000), identity.expiresAtMs);
		// A far future does not overflow into the past.
		CPPUNIT_ASSERT(auth.check(jwt(R"({"exp":1e300})"), NOW_MS, identity));
		CPPUNIT_ASSERT(auth.check(jwt(R"({"exp":99999999999999999999999})"), NOW_MS, identity));
		CPPUNIT_ASSERT(identity.expiresAtMs > NOW_MS);
	}

	void testJwtExpiry()
	{
		Authenticator auth({}, rules());
		Identity identity;
		CPPUNIT_ASSERT_MESSAGE("300 s ago is beyond the leeway",
		                       !auth.check(jwt(withExp(NOW_S - 300)), NOW_MS, identity));
		CPPUNIT_ASSERT_MESSAGE("30 s ago is within it", auth.check(jwt(withExp(NOW_S - 30)), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL((NOW_S - 30) * 1000, identity.expiresAtMs);
		// The edges: exp + leeway still holds, a millisecond later it does not.
		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S - 60)), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S - 60)), NOW_MS + 1, identity));

		Authenticator strict({}, rules("", "", 0));
		CPPUNIT_ASSERT(strict.check(jwt(withExp(NOW_S)), NOW_MS, identity));
		CPPUNIT_ASSERT(!strict.check(jwt(withExp(NOW_S)), NOW_MS + 1, identity));
		CPPUNIT_ASSERT(!strict.check(jwt(withExp(NOW_S - 30)), NOW_MS, identity));

		// A negative leeway counts as none rather than shortening the token's life.
		Authenticator negative({}, rules("", "", -5000));
		CPPUNIT_ASSERT(negative.check(jwt(withExp(NOW_S)), NOW_MS, identity));
	}

	void testJwtNotBefore()
	{
		Authenticator auth({}, rules());
		Identity identity;
		const std::string future = jwt(withExp(NOW_S + 3600, ",\"nbf\":" + std::to_string(NOW_S + 300)));
		CPPUNIT_ASSERT(!auth.check(future, NOW_MS, identity));
		CPPUNIT_ASSERT(auth.check(future, (NOW_S + 300 - 60) * 1000, identity));
		CPPUNIT_ASSERT(!auth.check(future, (NOW_S + 300 - 60) * 1000 - 1, identity));
		CPPUNIT_ASSERT(
		    auth.check(jwt(withExp(NOW_S + 3600, ",\"nbf\":" + std::to_string(NOW_S + 30))), NOW_MS, identity));
		CPPUNIT_ASSERT(
		    auth.check(jwt(withExp(NOW_S + 3600, ",\"nbf\":" + std::to_string(NOW_S - 30))), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 3600, R"(,"nbf":"yesterday")")), NOW_MS, identity));
	}

	void testJwtIssuer()
	{
		Identity identity;
		Authenticator open({}, rules());
		CPPUNIT_ASSERT(open.check(jwt(withExp(NOW_S + 60, R"(,"iss":"anyone")")), NOW_MS, identity));
		CPPUNIT_ASSERT(open.check(jwt(withExp(NOW_S + 60, R"(,"iss":5)")), NOW_MS, identity));

		Authenticator pinned({}, rules("https://issuer.example"));
		CPPUNIT_ASSERT(pinned.check(jwt(withExp(NOW_S + 60, R"(,"iss":"https://issuer.example")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"iss":"https://other.example")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"iss":"https://ISSUER.example")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60)), NOW_MS, identity));
		CPPUNIT_ASSERT(
		    !pinned.check(jwt(withExp(NOW_S + 60, R"(,"iss":["https://issuer.example"])")), NOW_MS, identity));
	}

	void testJwtAudience()
	{
		Identity identity;
		Authenticator open({}, rules());
		CPPUNIT_ASSERT(open.check(jwt(withExp(NOW_S + 60, R"(,"aud":"whatever")")), NOW_MS, identity));

		Authenticator pinned({}, rules("", "peervault"));
		CPPUNIT_ASSERT(pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":"peervault")")), NOW_MS, identity));
		CPPUNIT_ASSERT(pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":["other","peervault"])")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":["other"])")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":[])")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":"other")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":["peervault",7])")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60, R"(,"aud":{"peervault":1})")), NOW_MS, identity));
		CPPUNIT_ASSERT(!pinned.check(jwt(withExp(NOW_S + 60)), NOW_MS, identity));

		Authenticator both({}, rules("iss-a", "aud-a"));
		CPPUNIT_ASSERT(both.check(jwt(withExp(NOW_S + 60, R"(,"iss":"iss-a","aud":"aud-a")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!both.check(jwt(withExp(NOW_S + 60, R"(,"iss":"iss-a","aud":"aud-b")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!both.check(jwt(withExp(NOW_S + 60, R"(,"iss":"iss-b","aud":"aud-a")")), NOW_MS, identity));
	}

	void testJwtAlgorithmPinned()
	{
		Authenticator auth({}, rules());
		Identity identity;
		const std::string claims = withExp(NOW_S + 3600, R"(,"sub":"mallory","scope":"publish")");
		CPPUNIT_ASSERT_MESSAGE("the helper itself signs right",
		                       auth.check(macSigned(R"({"alg":"HS256","typ":"JWT"})", claims), NOW_MS, identity));
		CPPUNIT_ASSERT(
		    !auth.check(urlBase64(R"({"alg":"none","typ":"JWT"})") + "." + urlBase64(claims) + ".", NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(urlBase64(R"({"alg":"none"})") + "." + urlBase64(claims), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(macSigned(R"({"alg":"none","typ":"JWT"})", claims), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(macSigned(R"({"alg":"HS512","typ":"JWT"})", claims), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(macSigned(R"({"typ":"JWT"})", claims), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(claims, std::string(32, 'x')), NOW_MS, identity));
		// One flipped character of the signature.
		std::string token = jwt(claims);
		token.back() = token.back() == 'A' ? 'B' : 'A';
		CPPUNIT_ASSERT(!auth.check(token, NOW_MS, identity));
	}

	void testJwtScopes()
	{
		Authenticator auth({}, rules());
		Identity identity;
		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S + 60, R"(,"scope":"publish  admin read")")), NOW_MS, identity));
		CPPUNIT_ASSERT(identity.scopes == std::vector<std::string>({"publish", "admin", "read"}));
		CPPUNIT_ASSERT(identity.hasScope("admin"));

		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S + 60, R"(,"scopes":["admin","publish"])")), NOW_MS, identity));
		CPPUNIT_ASSERT(identity.scopes == std::vector<std::string>({"admin", "publish"}));
		CPPUNIT_ASSERT(identity.hasScope("publish"));

		// Both forms together: scope first, then scopes, each once.
		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S + 60, R"(,"scope":"a b","scopes":["b","c"])")), NOW_MS, identity));
		CPPUNIT_ASSERT(identity.scopes == std::vector<std::string>({"a", "b", "c"}));

		CPPUNIT_ASSERT(auth.check(jwt(withExp(NOW_S + 60, R"(,"scope":"")")), NOW_MS, identity));
		CPPUNIT_ASSERT(identity.scopes.empty());

		// A scope string is not an array and an array is not a string.
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60, R"(,"scope":["publish"])")), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60, R"(,"scopes":"publish")")), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60, R"(,"scopes":["publish",true])")), NOW_MS, identity));
	}

	void testJwtBadClaims()
	{
		Authenticator auth({}, rules());
		Identity identity;
		identity.subject = "before";
		CPPUNIT_ASSERT_MESSAGE("exp is required", !auth.check(jwt(R"({"sub":"alice"})"), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string("before"), identity.subject);
		CPPUNIT_ASSERT(!auth.check(jwt(R"({"exp":"1999999999"})"), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(R"({"exp":null})"), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(R"({"exp":true})"), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60, R"(,"sub":42)")), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60, R"(,"sub":null)")), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt("[" + withExp(NOW_S + 60) + "]"), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt("\"exp\""), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt("{\"exp\":1999999999"), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(""), NOW_MS, identity));
		CPPUNIT_ASSERT_EQUAL(std::string("before"), identity.subject);
	}

	void testJwtWithoutSecret()
	{
		// Without a secret no JWT is accepted, even one signed with the empty key.
		Authenticator auth(tokens(R"([{"token":"t1","name":"a"}])"), JwtRules());
		Identity identity;
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60), ""), NOW_MS, identity));
		CPPUNIT_ASSERT(!auth.check(jwt(withExp(NOW_S + 60)), NOW_MS, identity));
		// Static tokens and JWTs together: both kinds work.
		Authenticator mixed(tokens(R"([{"token":"t1","name":"a"}])"), rules());
		CPPUNIT_ASSERT(mixed.check("t1", NOW_MS, identity));
		CPPUNIT_ASSERT(mixed.check(jwt(withExp(NOW_S + 60)), NOW_MS, identity));
	}

	void testGarbage()
	{
		Authenticator auth(tokens(R"([{"token":"t1","name":"a"}])"), rules());
		Identity identity;
		for (const std::string& token :
		     {std::string("."), std::string(".."), std::string("..."), std::string("a.b.c"), std::string("a.b"),
		      std::string("e30.e30."), std::string("e30.e30.e30"), std::string(100000, 'x'),
		      std::string("\xFF\xFE.\x01.\x80"), std::string("Bearer t1"), std::string(1, '\0')})
			CPPUNIT_ASSERT(!auth.check(token, NOW_MS, identity));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultAuthTest);
