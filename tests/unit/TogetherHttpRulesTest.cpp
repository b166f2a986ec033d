//
// TogetherHttpRulesTest.cpp
//
// Together's REST conventions as pure functions: JSON errors, CORS headers, the body checks in
// the contract's order (415, then 400, then 422 naming the field) and bearer tokens.
//


#include "HttpRules.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>


using namespace Switchboard;
using namespace Switchboard::Together;


namespace {


HttpRequest request(std::string body, std::string contentType = "application/json")
{
	HttpRequest r;
	r.method = "POST";
	r.path = "/auth/register";
	if (!contentType.empty())
		r.headers.emplace_back("Content-Type", contentType);
	r.body = std::move(body);
	return r;
}


std::string header(const HttpResponse& response, std::string_view name)
{
	return std::string(HttpText::findHeader(response.headers, name));
}


} // namespace


class TogetherHttpRulesTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherHttpRulesTest);
	CPPUNIT_TEST(testJsonError);
	CPPUNIT_TEST(testCors);
	CPPUNIT_TEST(testBodyChecksInOrder);
	CPPUNIT_TEST(testShape);
	CPPUNIT_TEST(testBearer);
	CPPUNIT_TEST_SUITE_END();

public:
	void testJsonError()
	{
		HttpResponse response;
		jsonError(response, 409, "Username already taken");
		CPPUNIT_ASSERT_EQUAL(409, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"error":"Username already taken"})"), response.body);
		CPPUNIT_ASSERT(header(response, "Content-Type").rfind("application/json", 0) == 0);
		jsonError(response, 400, "say \"hi\"\n");
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"error":"say \"hi\"\n"})"), response.body);
	}

	void testCors()
	{
		HttpRequest r = request("");
		r.headers.emplace_back("Origin", "http://ok.example");
		HttpResponse any;
		applyCors(r, any, {"*"});
		CPPUNIT_ASSERT_EQUAL(std::string("*"), header(any, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("GET, POST, PATCH, DELETE, OPTIONS"),
		                     header(any, "Access-Control-Allow-Methods"));
		CPPUNIT_ASSERT_EQUAL(std::string("Authorization, Content-Type"), header(any, "Access-Control-Allow-Headers"));
		CPPUNIT_ASSERT_EQUAL(std::string(), header(any, "Access-Control-Allow-Credentials"));

		HttpResponse listed;
		applyCors(r, listed, {"http://a.example", "http://ok.example"});
		CPPUNIT_ASSERT_EQUAL(std::string("http://ok.example"), header(listed, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), header(listed, "Vary"));

		HttpResponse other;
		applyCors(r, other, {"http://a.example"});
		CPPUNIT_ASSERT_EQUAL(std::string(), header(other, "Access-Control-Allow-Origin"));
		CPPUNIT_ASSERT_EQUAL(std::string("Origin"), header(other, "Vary"));
	}

	void testBodyChecksInOrder()
	{
		Poco::JSON::Object::Ptr body;
		HttpResponse response;
		CPPUNIT_ASSERT(readJsonBody(request(R"({"a":1})"), response, true, body) && body && body->has("a"));
		CPPUNIT_ASSERT(readJsonBody(request(R"({"a":1})", "Application/JSON; charset=utf-8"), response, true, body));

		// 415 comes before the syntax check: a text/plain body that is not JSON either.
		HttpResponse wrongType;
		CPPUNIT_ASSERT(!readJsonBody(request("not json", "text/plain"), wrongType, true, body));
		CPPUNIT_ASSERT_EQUAL(415, wrongType.status);
		CPPUNIT_ASSERT_EQUAL(std::string(R"({"error":"Content-Type must be application/json"})"), wrongType.body);
		HttpResponse noType;
		CPPUNIT_ASSERT(!readJsonBody(request(R"({"a":1})", ""), noType, true, body));
		CPPUNIT_ASSERT_EQUAL(415, noType.status);

		for (const char* bad : {"not json", "[]", "\"s\"", "1", "{", "{\"a\":}", "null"})
		{
			HttpResponse syntax;
			CPPUNIT_ASSERT_MESSAGE(bad, !readJsonBody(request(bad), syntax, true, body));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, 400, syntax.status);
			CPPUNIT_ASSERT_EQUAL(std::string(R"({"error":"Invalid JSON body"})"), syntax.body);
		}

		// A route whose body is optional (POST /channels/:id/voice): none is fine, whatever the type.
		BodyStatus status;
		HttpResponse optional;
		CPPUNIT_ASSERT(readJsonBody(request("", ""), optional, false, body, &status));
		CPPUNIT_ASSERT(status == BodyStatus::ABSENT && !body);
		HttpResponse required;
		CPPUNIT_ASSERT(!readJsonBody(request("", ""), required, true, body));
		CPPUNIT_ASSERT_EQUAL(415, required.status);
	}

	void testShape()
	{
		Poco::JSON::Object::Ptr body;
		HttpResponse response;
		CPPUNIT_ASSERT(readJsonBody(request(R"({"username":"alice","email":null,"self_mute":true,"position":3,)"
		                                    R"("type":"voice","unknown":1})"),
		                            response, true, body));
		std::string username, email, type, password;
		bool emailPresent = true, emailNull = false, mute = false, mutePresent = false, positionPresent = false;
		std::int64_t position = 0;
		Shape shape(body);
		shape.requiredString("username", username)
		    .nullableString("email", email, emailPresent, emailNull)
		    .optionalBoolean("self_mute", mute, mutePresent)
		    .optionalInteger("position", position, positionPresent)
		    .requiredEnum("type", {"text", "voice"}, type);
		CPPUNIT_ASSERT_MESSAGE(shape.detail(), shape.ok());
		CPPUNIT_ASSERT(username == "alice" && !emailPresent && emailNull && mute && mutePresent && position == 3 &&
		               type == "voice");

		auto problem = [&](const std::string& json, auto check) {
			Poco::JSON::Object::Ptr b;
			HttpResponse r;
			CPPUNIT_ASSERT_MESSAGE(json, readJsonBody(request(json), r, true, b));
			Shape s(b);
			check(s);
			HttpResponse answer;
			CPPUNIT_ASSERT(!s.answer(answer));
			CPPUNIT_ASSERT_EQUAL(422, answer.status);
			return s.detail();
		};
		CPPUNIT_ASSERT_EQUAL(std::string("password: missing"), problem(R"({"username":"a"})", [&](Shape& s) {
			                     s.requiredString("username", username).requiredString("password", password);
		                     }));
		CPPUNIT_ASSERT_EQUAL(std::string("password: expected a string"),
		                     problem(R"({"password":5})", [&](Shape& s) { s.requiredString("password", password); }));
		CPPUNIT_ASSERT_EQUAL(std::string("type: expected one of text, voice"),
		                     problem(R"({"type":"video"})", [&](Shape& s) {
			                     s.requiredEnum("type", {"text", "voice"}, type);
		                     }));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("self_mute: expected a boolean"),
		    problem(R"({"self_mute":"yes"})", [&](Shape& s) { s.optionalBoolean("self_mute", mute, mutePresent); }));
		CPPUNIT_ASSERT_EQUAL(std::string("position: expected an integer"),
		                     problem(R"({"position":1.5})",
		                             [&](Shape& s) { s.optionalInteger("position", position, positionPresent); }));
		CPPUNIT_ASSERT_EQUAL(std::string("foo: unknown field"), problem(R"({"self_mute":true,"foo":1})", [&](Shape& s) {
			                     s.onlyFields({"self_mute", "self_deaf", "muted", "deafened"});
		                     }));
		// The first problem wins.
		CPPUNIT_ASSERT_EQUAL(std::string("username: missing"), problem(R"({"password":5})", [&](Shape& s) {
			                     s.requiredString("username", username).requiredString("password", password);
		                     }));
		HttpResponse answer;
		Shape fine(body);
		CPPUNIT_ASSERT(fine.answer(answer) && answer.body.empty());
	}

	void testBearer()
	{
		std::string token;
		auto with = [](const std::string& value) {
			HttpRequest r;
			r.headers.emplace_back("Authorization", value);
			return r;
		};
		CPPUNIT_ASSERT(bearerToken(with("Bearer abc.def.ghi"), token) && token == "abc.def.ghi");
		CPPUNIT_ASSERT(bearerToken(with("bearer abc"), token) && token == "abc");
		CPPUNIT_ASSERT(bearerToken(with("BEARER  abc "), token) && token == "abc");
		for (const char* bad : {"", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "Bearer a b", "abc"})
			CPPUNIT_ASSERT_MESSAGE(bad, !bearerToken(with(bad), token));
		CPPUNIT_ASSERT(!bearerToken(HttpRequest(), token));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherHttpRulesTest);
