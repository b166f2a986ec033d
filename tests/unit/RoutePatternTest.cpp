//
// RoutePatternTest.cpp
//
// Unit tests of the SDK's route pattern parser and matcher (switchboard/util/RoutePattern.h).
//


#include "switchboard/util/RoutePattern.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <string>


using namespace Switchboard;


namespace {


RoutePattern parsed(const std::string& text)
{
	RoutePattern pattern;
	std::string error;
	CPPUNIT_ASSERT_MESSAGE(text + ": " + error, RoutePattern::parse(text, pattern, error));
	return pattern;
}


std::string parseError(const std::string& text)
{
	RoutePattern pattern;
	std::string error;
	CPPUNIT_ASSERT_MESSAGE(text + " should be rejected", !RoutePattern::parse(text, pattern, error));
	CPPUNIT_ASSERT_MESSAGE(text + " has no error text", !error.empty());
	CPPUNIT_ASSERT(!pattern.valid());
	return error;
}


bool matches(const RoutePattern& pattern, const std::string& path, RouteOptions options = {})
{
	HeaderList params;
	return pattern.match(path, options, params);
}


RouteOptions strict()
{
	RouteOptions options;
	options.allowTrailingSlash = false;
	return options;
}


RouteOptions anyCase()
{
	RouteOptions options;
	options.caseInsensitive = true;
	return options;
}


} // namespace


class RoutePatternTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(RoutePatternTest);
	CPPUNIT_TEST(testParseErrors);
	CPPUNIT_TEST(testLiterals);
	CPPUNIT_TEST(testRoot);
	CPPUNIT_TEST(testParameters);
	CPPUNIT_TEST(testParametersAreRaw);
	CPPUNIT_TEST(testWildcard);
	CPPUNIT_TEST(testCaseInsensitive);
	CPPUNIT_TEST(testTrailingSlash);
	CPPUNIT_TEST(testDoubledSlash);
	CPPUNIT_TEST(testParamsUntouchedOnMismatch);
	CPPUNIT_TEST(testSameShape);
	CPPUNIT_TEST(testSpecificity);
	CPPUNIT_TEST(testDefaultPatternMatchesNothing);
	CPPUNIT_TEST_SUITE_END();

public:
	void testParseErrors()
	{
		CPPUNIT_ASSERT(parseError("").find("start with '/'") != std::string::npos);
		CPPUNIT_ASSERT(parseError("notes").find("start with '/'") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a//b").find("empty segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("//").find("empty segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a/").find("empty segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{}").find("empty parameter name") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{a}/{a}").find("duplicate parameter name 'a'") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/*/a").find("'*' must be the last segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a/*/*").find("'*' must be the last segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/files*").find("'*' must be a whole segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a{b}").find("inside the literal") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a}").find("inside the literal") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{a}b").find("whole {name}") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{a").find("whole {name}") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{a b}").find("space") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{a.b}").find("letters, digits") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/{*}").find("whole segment") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a?b").find("'?'") != std::string::npos);
		CPPUNIT_ASSERT(parseError("/a#b").find("'#'") != std::string::npos);
		CPPUNIT_ASSERT(parseError(std::string("/a\x01", 3)).find("control") != std::string::npos);

		// A failed parse leaves the output alone.
		RoutePattern kept = parsed("/kept");
		std::string error;
		CPPUNIT_ASSERT(!RoutePattern::parse("bad", kept, error));
		CPPUNIT_ASSERT_EQUAL(std::string("/kept"), std::string(kept.text()));
		CPPUNIT_ASSERT(matches(kept, "/kept"));
	}

	void testLiterals()
	{
		RoutePattern p = parsed("/notes/all");
		CPPUNIT_ASSERT_EQUAL(std::string("/notes/all"), std::string(p.text()));
		CPPUNIT_ASSERT(matches(p, "/notes/all"));
		CPPUNIT_ASSERT(!matches(p, "/notes"));
		CPPUNIT_ASSERT(!matches(p, "/notes/al"));
		CPPUNIT_ASSERT(!matches(p, "/notes/alls"));
		CPPUNIT_ASSERT(!matches(p, "/notes/all/x"));
		CPPUNIT_ASSERT(!matches(p, "/Notes/all"));
		CPPUNIT_ASSERT(!matches(p, "notes/all"));
		CPPUNIT_ASSERT(!matches(p, ""));
		// Literals are raw bytes: percent-encoding is not undone.
		RoutePattern encoded = parsed("/a%20b");
		CPPUNIT_ASSERT(matches(encoded, "/a%20b"));
		CPPUNIT_ASSERT(!matches(encoded, "/a b"));
	}

	void testRoot()
	{
		RoutePattern root = parsed("/");
		CPPUNIT_ASSERT(matches(root, "/"));
		CPPUNIT_ASSERT(matches(root, "")); // the bare mount prefix
		CPPUNIT_ASSERT(!matches(root, "//"));
		CPPUNIT_ASSERT(!matches(root, "/a"));
		CPPUNIT_ASSERT(matches(root, "/", strict()));
	}

	void testParameters()
	{
		RoutePattern p = parsed("/{key}/id");
		HeaderList params;
		CPPUNIT_ASSERT(p.match("/abc/id", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), params.size());
		CPPUNIT_ASSERT_EQUAL(std::string("key"), params[0].first);
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), params[0].second);
		CPPUNIT_ASSERT(!matches(p, "//id")); // a parameter never matches an empty segment
		CPPUNIT_ASSERT(!matches(p, "/abc"));
		CPPUNIT_ASSERT(!matches(p, "/abc/def/id")); // exactly one segment

		RoutePattern two = parsed("/rooms/{room}/peers/{peer-id}");
		CPPUNIT_ASSERT(two.match("/rooms/r1/peers/p_2", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), params.size()); // replaced, not appended
		CPPUNIT_ASSERT_EQUAL(std::string("room"), params[0].first);
		CPPUNIT_ASSERT_EQUAL(std::string("r1"), params[0].second);
		CPPUNIT_ASSERT_EQUAL(std::string("peer-id"), params[1].first);
		CPPUNIT_ASSERT_EQUAL(std::string("p_2"), params[1].second);

		HttpRequest request;
		request.pathParams = params;
		CPPUNIT_ASSERT_EQUAL(std::string("p_2"), std::string(request.pathParam("peer-id")));
	}

	void testParametersAreRaw()
	{
		RoutePattern p = parsed("/files/{name}");
		HeaderList params;
		CPPUNIT_ASSERT(p.match("/files/a%2Fb%20c", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string("a%2Fb%20c"), params[0].second);
		CPPUNIT_ASSERT(p.match("/files/%E2%9C%93", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string("%E2%9C%93"), params[0].second);
	}

	void testWildcard()
	{
		RoutePattern p = parsed("/files/*");
		HeaderList params;
		CPPUNIT_ASSERT(p.match("/files/a/b/c.txt", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), params.size());
		CPPUNIT_ASSERT_EQUAL(std::string("*"), params[0].first);
		CPPUNIT_ASSERT_EQUAL(std::string("a/b/c.txt"), params[0].second);
		CPPUNIT_ASSERT(p.match("/files/", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string(""), params[0].second);
		CPPUNIT_ASSERT(p.match("/files", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string(""), params[0].second);
		CPPUNIT_ASSERT(p.match("/files/a//b/", strict(), params)); // the rest is raw, slashes and all
		CPPUNIT_ASSERT_EQUAL(std::string("a//b/"), params[0].second);
		CPPUNIT_ASSERT(!matches(p, "/filesx"));
		CPPUNIT_ASSERT(!matches(p, "/other/a"));
		CPPUNIT_ASSERT(!matches(p, "//files/a"));

		RoutePattern all = parsed("/*");
		CPPUNIT_ASSERT(all.match("/", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string(""), params[0].second);
		CPPUNIT_ASSERT(all.match("", {}, params));
		CPPUNIT_ASSERT(all.match("/x/y", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::string("x/y"), params[0].second);

		RoutePattern mixed = parsed("/{bucket}/*");
		CPPUNIT_ASSERT(mixed.match("/b1/k/e/y", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), params.size());
		CPPUNIT_ASSERT_EQUAL(std::string("b1"), params[0].second);
		CPPUNIT_ASSERT_EQUAL(std::string("k/e/y"), params[1].second);
	}

	void testCaseInsensitive()
	{
		RoutePattern p = parsed("/Notes/{id}");
		HeaderList params;
		CPPUNIT_ASSERT(!matches(p, "/notes/1"));
		CPPUNIT_ASSERT(p.match("/nOTES/AbC", anyCase(), params));
		CPPUNIT_ASSERT_EQUAL(std::string("AbC"), params[0].second); // parameters keep their case
		CPPUNIT_ASSERT(!matches(p, "/notez/1", anyCase()));
		CPPUNIT_ASSERT(!matches(p, "/notes2/1", anyCase()));
	}

	void testTrailingSlash()
	{
		RoutePattern p = parsed("/a/{b}");
		HeaderList params;
		CPPUNIT_ASSERT(p.match("/a/x/", {}, params)); // tolerated by default
		CPPUNIT_ASSERT_EQUAL(std::string("x"), params[0].second);
		CPPUNIT_ASSERT(!matches(p, "/a/x//")); // exactly one
		CPPUNIT_ASSERT(!matches(p, "/a/x/", strict()));
		CPPUNIT_ASSERT(matches(p, "/a/x", strict()));
		CPPUNIT_ASSERT(!matches(p, "/a/", {})); // the slash does not stand in for {b}
	}

	void testDoubledSlash()
	{
		RoutePattern p = parsed("/a/b");
		CPPUNIT_ASSERT(!matches(p, "/a//b"));
		CPPUNIT_ASSERT(!matches(p, "//a/b"));
		CPPUNIT_ASSERT(!matches(p, "/a/b//"));
		CPPUNIT_ASSERT(!matches(p, "/a//b", anyCase()));
		RoutePattern q = parsed("/{x}/b");
		CPPUNIT_ASSERT(!matches(q, "//b"));
		CPPUNIT_ASSERT(!matches(q, "/a//b"));
	}

	void testParamsUntouchedOnMismatch()
	{
		RoutePattern p = parsed("/{a}/x");
		HeaderList params = {{"keep", "me"}};
		CPPUNIT_ASSERT(!p.match("/1/y", {}, params));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), params.size());
		CPPUNIT_ASSERT_EQUAL(std::string("keep"), params[0].first);
	}

	void testSameShape()
	{
		CPPUNIT_ASSERT(parsed("/{a}/id").sameShape(parsed("/{b}/id")));
		CPPUNIT_ASSERT(parsed("/x/*").sameShape(parsed("/x/*")));
		CPPUNIT_ASSERT(parsed("/").sameShape(parsed("/")));
		CPPUNIT_ASSERT(!parsed("/{a}/id").sameShape(parsed("/a/id")));
		CPPUNIT_ASSERT(!parsed("/x/*").sameShape(parsed("/x/{y}")));
		CPPUNIT_ASSERT(!parsed("/x").sameShape(parsed("/x/*")));
		CPPUNIT_ASSERT(!parsed("/x/y").sameShape(parsed("/x")));
		CPPUNIT_ASSERT(!parsed("/Notes").sameShape(parsed("/notes")));
		CPPUNIT_ASSERT(parsed("/Notes").sameShape(parsed("/notes"), true));
		CPPUNIT_ASSERT(!RoutePattern().sameShape(RoutePattern()));
	}

	void testSpecificity()
	{
		RoutePattern literal = parsed("/files/index");
		RoutePattern param = parsed("/files/{name}");
		RoutePattern rest = parsed("/files/*");
		RoutePattern bare = parsed("/files");
		CPPUNIT_ASSERT(literal.moreSpecificThan(param));
		CPPUNIT_ASSERT(!param.moreSpecificThan(literal));
		CPPUNIT_ASSERT(param.moreSpecificThan(rest));
		CPPUNIT_ASSERT(!rest.moreSpecificThan(param));
		CPPUNIT_ASSERT(literal.moreSpecificThan(rest));
		CPPUNIT_ASSERT(bare.moreSpecificThan(rest));
		CPPUNIT_ASSERT(!rest.moreSpecificThan(bare));
		CPPUNIT_ASSERT(!param.moreSpecificThan(parsed("/files/{other}")));
		CPPUNIT_ASSERT(parsed("/a/{b}/c").moreSpecificThan(parsed("/{a}/b/c")));
	}

	void testDefaultPatternMatchesNothing()
	{
		RoutePattern none;
		CPPUNIT_ASSERT(!none.valid());
		CPPUNIT_ASSERT(!matches(none, "/"));
		CPPUNIT_ASSERT(!matches(none, ""));
		CPPUNIT_ASSERT(parsed("/").valid());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(RoutePatternTest);
