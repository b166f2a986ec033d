//
// HttpParserTest.cpp
//
// Unit tests of the incremental HTTP/1.1 request parser: every rule with its status, pipelining,
// upgrades, 100-continue, every split of the input, and a deterministic mutation fuzz.
//


#include "TestRandom.h"
#include "http/HttpParser.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>


using namespace Switchboard::Core;
using namespace std::string_literals;
using State = HttpRequestParser::State;


namespace {


void require(bool condition, const char* what)
/// CPPUNIT_ASSERT builds a message object even when it passes; this is for the hot paths.
{
	if (!condition)
		CPPUNIT_FAIL(what);
}


using Random = Switchboard::Test::TestRandom;


std::string escape(const std::string& s)
{
	// Long strings are summarised so a failing comparison stays readable.
	if (s.size() > 300)
		return "<" + std::to_string(s.size()) + " bytes>";
	std::string out;
	for (const char ch : s)
	{
		const auto c = static_cast<unsigned char>(ch);
		if (c >= 0x20 && c < 0x7F && c != '\\' && c != '|')
			out += ch;
		else
		{
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\x%02X", c);
			out += buf;
		}
	}
	return out;
}


std::string describeHead(const ParsedRequest& request)
{
	std::string s = request.method + " " + escape(request.target) + " path=" + escape(request.path) +
	                " query=" + escape(request.query) + " 1." + std::to_string(request.versionMinor) + " [";
	for (const auto& header : request.headers)
		s += escape(header.first) + "=" + escape(header.second) + ";";
	s += "] keepAlive=" + std::to_string(request.keepAlive) + " continue=" + std::to_string(request.expectContinue) +
	     " ws=" + std::to_string(request.upgradeWebSocket) +
	     " body=" + std::to_string(static_cast<int>(request.bodyKind)) + "/" + std::to_string(request.contentLength);
	return s;
}


bool isKnownStatus(int status)
{
	return status == 400 || status == 413 || status == 414 || status == 417 || status == 431 || status == 501 ||
	       status == 505;
}


struct Outcome
{
	std::string events; // what the parser decided and at which offset
	std::size_t consumed = 0;
};


Outcome parsePieces(const std::string& input, const std::vector<std::size_t>& cuts, const HttpLimits& limits,
                    bool pipeline)
/// Feeds the input cut at the given (ascending) offsets, each piece in its own exactly sized heap
/// block so a sanitizer build catches reads past it, and feeds again whatever the parser left
/// unconsumed when it stopped after a head. With pipeline, each COMPLETE request is followed by
/// reset() and the next one; without, parsing ends there. Checks the invariants after every call.
{
	HttpRequestParser parser(limits);
	const std::size_t lineBound = std::max(limits.maxRequestLine, limits.maxHeaderBytes) + 1;
	Outcome outcome;
	bool stopped = false;
	std::size_t begin = 0;
	for (std::size_t i = 0; i <= cuts.size() && !stopped; ++i)
	{
		const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
		std::size_t offset = begin;
		begin = end;
		while (offset < end && !stopped)
		{
			const std::size_t length = end - offset;
			std::unique_ptr<char[]> piece(new char[length]);
			std::memcpy(piece.get(), input.data() + offset, length);
			const State before = parser.state();
			const std::size_t used = parser.feed(piece.get(), length);
			const State after = parser.state();
			require(used <= length, "feed() used more than it was given");
			offset += used;
			outcome.consumed += used;
			require(after == State::HEAD || after == State::BODY || after == State::COMPLETE || after == State::FAILED,
			        "state out of range");
			require(parser.bufferedBytes() <= lineBound, "line buffer above its bound");
			require(parser.request().body.size() <= limits.maxBodySize, "body above maxBodySize");
			require(used == length || after != before, "feed() stopped without a change of state");
			const std::string at = "@" + std::to_string(outcome.consumed) + ":";
			if (before == State::HEAD && (after == State::BODY || after == State::COMPLETE))
				outcome.events += "head" + at + describeHead(parser.request()) + "|";
			if (after == State::COMPLETE)
			{
				outcome.events += "complete" + at + escape(parser.request().body) + "|";
				require(parser.feed("x", 1) == 0, "feed() consumed after COMPLETE");
				if (pipeline)
					parser.reset();
				else
					stopped = true;
			}
			else if (after == State::FAILED)
			{
				require(isKnownStatus(parser.errorStatus()), "unexpected error status");
				require(!parser.errorReason().empty(), "error without a reason");
				require(parser.bufferedBytes() == 0, "line buffer kept after failure");
				outcome.events +=
				    "failed" + at + std::to_string(parser.errorStatus()) + " " + parser.errorReason() + "|";
				require(parser.feed("x", 1) == 0 && parser.state() == State::FAILED, "feed() consumed after FAILED");
				stopped = true;
			}
			else
				require(parser.errorStatus() == 0 && parser.errorReason().empty(), "error status without FAILED");
		}
	}
	if (!stopped)
		outcome.events += parser.state() == State::HEAD ? "pending:head" : "pending:body";
	return outcome;
}


Outcome parseEverySplit(const std::string& input, const HttpLimits& limits = HttpLimits(), bool pipeline = false)
/// Parses the input whole, in two pieces at every cut and one byte at a time, asserts that all
/// give the same result, and returns it. Long inputs are cut near both ends and at a stride.
{
	const Outcome whole = parsePieces(input, {}, limits, pipeline);
	const std::size_t n = input.size();
	const std::size_t edge = n > 100000 ? 40 : 300;
	const std::size_t stride = std::max<std::size_t>(997, n / 16);
	for (std::size_t cut = 1; cut < n; ++cut)
	{
		if (n > 2048 && cut > edge && cut + edge < n && cut % stride != 0)
			continue;
		const Outcome split = parsePieces(input, {cut}, limits, pipeline);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("cut at " + std::to_string(cut), whole.events, split.events);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("cut at " + std::to_string(cut), whole.consumed, split.consumed);
	}
	if (n <= 100000)
	{
		std::vector<std::size_t> bytes;
		for (std::size_t cut = 1; cut < n; ++cut)
			bytes.push_back(cut);
		const Outcome bytewise = parsePieces(input, bytes, limits, pipeline);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("one byte at a time", whole.events, bytewise.events);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("one byte at a time", whole.consumed, bytewise.consumed);
	}
	return whole;
}


std::string verdict(const std::string& input, const HttpLimits& limits = HttpLimits())
/// "COMPLETE", "BODY", "HEAD" or the error status, checked over every split.
{
	const Outcome outcome = parseEverySplit(input, limits);
	const std::string& events = outcome.events;
	const std::size_t failed = events.find("failed@");
	if (failed != std::string::npos)
	{
		const std::size_t status = events.find(':', failed) + 1;
		return events.substr(status, 3);
	}
	if (events.find("complete@") != std::string::npos)
		return "COMPLETE";
	return events.find("pending:body") != std::string::npos ? "BODY" : "HEAD";
}


std::string withHead(const std::string& requestLine, const std::string& fields, const std::string& body = "")
{
	return requestLine + "\r\n" + fields + "\r\n" + body;
}


std::string get(const std::string& fields)
{
	return withHead("GET / HTTP/1.1", "Host: h\r\n" + fields);
}


std::string post(const std::string& fields, const std::string& body)
{
	return withHead("POST /submit HTTP/1.1", "Host: h\r\n" + fields, body);
}


struct Parsed
/// A parser fed the whole input once, and how much it used.
{
	explicit Parsed(const std::string& input, const HttpLimits& limits = HttpLimits()):
	    parser(limits)
	{
		used = parser.feed(input.data(), input.size());
	}

	HttpRequestParser parser;
	std::size_t used = 0;
};


struct Case
{
	std::string input;
	std::string expected;
};


void checkCases(const std::vector<Case>& cases, const HttpLimits& limits = HttpLimits())
{
	for (const auto& c : cases)
		CPPUNIT_ASSERT_EQUAL_MESSAGE(escape(c.input), c.expected, verdict(c.input, limits));
}


const std::string WEBSOCKET_HEAD = "GET /ws?room=1 HTTP/1.1\r\n"
                                   "Host: example.com:8080\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "\r\n";

// A masked text frame "Hello" (RFC 6455 §5.7).
const std::string HELLO_FRAME = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s;


std::vector<std::string> sampleRequests()
/// Valid requests exercising every part of the grammar; the seeds of the split and fuzz tests.
{
	return {
	    "GET /index.html?a=1&b HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  test \t\r\nAccept:\r\n\r\n",
	    "\r\n\r\nGET / HTTP/1.0\nConnection: keep-alive\n\n",
	    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET http://example.com:80/p/q?x=%20 HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	    post("Content-Length: 11\r\nContent-Type: text/plain\r\n", "hello world"),
	    post("Content-Length: 3, 3\r\nContent-Length: 3\r\n", "abc"),
	    post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n6;ext=1;q=\"a \\\" b\"\r\n world\r\n0\r\nT: x\r\n\r\n"),
	    post("Transfer-Encoding: Chunked\r\nExpect: 100-continue\r\n", "000A \t;x\r\n0123456789\r\n0\r\n\r\n"),
	    WEBSOCKET_HEAD + HELLO_FRAME,
	    get("Connection: close\r\nX-Bin: caf\xC3\xA9\r\n") + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	    post("Content-Length: 2\r\n", "okGET /again HTTP/1.1\r\nHost: h\r\n\r\n"),
	    post("Transfer-Encoding: chunked\r\n", "1\r\na\r\n0\r\n\r\n") + post("Content-Length: 1\r\n", "b"),
	};
}


void mutate(Random& rng, std::string& s)
/// One to four flips, insertions or deletions, biased towards the bytes the grammar cares about.
{
	static const char special[] = "\r\n \t:;,=\"\\0123456789aAfF-/?*\x7F\x80";
	const std::size_t count = 1 + rng.below(4);
	for (std::size_t m = 0; m < count; ++m)
	{
		const char byte = rng.percent(60) ? special[rng.below(sizeof(special) - 1)] : static_cast<char>(rng.next());
		const std::size_t kind = rng.below(3);
		if (s.empty() || kind == 0)
			s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng.below(s.size() + 1)), byte);
		else if (kind == 1)
			s[rng.below(s.size())] = byte;
		else
			s.erase(rng.below(s.size()), 1 + rng.below(3));
	}
}


} // namespace


class HttpParserTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(HttpParserTest);
	CPPUNIT_TEST(testSimpleGet);
	CPPUNIT_TEST(testMethods);
	CPPUNIT_TEST(testRequestLine);
	CPPUNIT_TEST(testVersions);
	CPPUNIT_TEST(testTargets);
	CPPUNIT_TEST(testLineEnds);
	CPPUNIT_TEST(testLeadingEmptyLines);
	CPPUNIT_TEST(testRequestLineLimit);
	CPPUNIT_TEST(testHeaderFields);
	CPPUNIT_TEST(testHeaderLimits);
	CPPUNIT_TEST(testHost);
	CPPUNIT_TEST(testTransferEncoding);
	CPPUNIT_TEST(testContentLength);
	CPPUNIT_TEST(testDeclaredBodyTooLarge);
	CPPUNIT_TEST(testShortBodyStaysInBody);
	CPPUNIT_TEST(testChunked);
	CPPUNIT_TEST(testChunkedErrors);
	CPPUNIT_TEST(testTrailers);
	CPPUNIT_TEST(testExpect);
	CPPUNIT_TEST(testContinueFlow);
	CPPUNIT_TEST(testKeepAlive);
	CPPUNIT_TEST(testWebSocketUpgrade);
	CPPUNIT_TEST(testPipelining);
	CPPUNIT_TEST(testReset);
	CPPUNIT_TEST(testBufferedBytes);
	CPPUNIT_TEST(testLargeBody);
	CPPUNIT_TEST(testEverySplit);
	CPPUNIT_TEST(testFuzz);
	CPPUNIT_TEST_SUITE_END();

public:
	void testSimpleGet()
	{
		const std::string input =
		    "GET /index.html?a=1&b HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  test \t\r\nAccept:\r\n\r\n";
		Parsed parsed(input);
		CPPUNIT_ASSERT(parsed.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL(input.size(), parsed.used);
		const ParsedRequest& request = parsed.parser.request();
		CPPUNIT_ASSERT_EQUAL("GET"s, request.method);
		CPPUNIT_ASSERT_EQUAL("/index.html?a=1&b"s, request.target);
		CPPUNIT_ASSERT_EQUAL("/index.html"s, request.path);
		CPPUNIT_ASSERT_EQUAL("a=1&b"s, request.query);
		CPPUNIT_ASSERT_EQUAL(1, request.versionMinor);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), request.headers.size());
		CPPUNIT_ASSERT_EQUAL("Host"s, request.headers[0].first);
		CPPUNIT_ASSERT_EQUAL("example.com"s, request.headers[0].second);
		CPPUNIT_ASSERT_EQUAL("User-Agent"s, request.headers[1].first);
		CPPUNIT_ASSERT_EQUAL("test"s, request.headers[1].second);
		CPPUNIT_ASSERT_EQUAL("Accept"s, request.headers[2].first);
		CPPUNIT_ASSERT_EQUAL(""s, request.headers[2].second);
		CPPUNIT_ASSERT(request.keepAlive);
		CPPUNIT_ASSERT(!request.expectContinue);
		CPPUNIT_ASSERT(!request.upgradeWebSocket);
		CPPUNIT_ASSERT(request.bodyKind == ParsedRequest::Body::NONE);
		CPPUNIT_ASSERT(request.body.empty());
		CPPUNIT_ASSERT_EQUAL(0, parsed.parser.errorStatus());
		CPPUNIT_ASSERT(parsed.parser.errorReason().empty());

		CPPUNIT_ASSERT(request.findHeader("user-agent") != nullptr);
		CPPUNIT_ASSERT_EQUAL("test"s, *request.findHeader("USER-AGENT"));
		CPPUNIT_ASSERT(request.findHeader("Cookie") == nullptr);

		// Without '?' the query is empty; an empty query after '?' is empty too.
		Parsed plain(withHead("GET /a/b HTTP/1.1", "Host: h\r\n"));
		CPPUNIT_ASSERT_EQUAL("/a/b"s, plain.parser.request().path);
		CPPUNIT_ASSERT_EQUAL(""s, plain.parser.request().query);
		Parsed emptyQuery(withHead("GET /a? HTTP/1.1", "Host: h\r\n"));
		CPPUNIT_ASSERT_EQUAL("/a"s, emptyQuery.parser.request().path);
		CPPUNIT_ASSERT_EQUAL(""s, emptyQuery.parser.request().query);
	}

	void testMethods()
	{
		// Any token is a method; whether it is allowed is the front's decision (405/501).
		for (const char* method : {"GET", "BREW", "get", "PROPFIND", "M-SEARCH", "X!#$%&'*+.^_`|~9"})
		{
			Parsed parsed(withHead(std::string(method) + " / HTTP/1.1", "Host: h\r\n"));
			CPPUNIT_ASSERT_MESSAGE(method, parsed.parser.state() == State::COMPLETE);
			CPPUNIT_ASSERT_EQUAL(std::string(method), parsed.parser.request().method);
		}
		checkCases({
		    {withHead("G(T / HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("G@T / HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET\t/ HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("G\xC3\x89T / HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead(" GET / HTTP/1.1", "Host: h\r\n"), "400"},
		});
	}

	void testRequestLine()
	{
		checkCases({
		    {withHead("GET / HTTP/1.1", "Host: h\r\n"), "COMPLETE"},
		    {withHead("GET  / HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /  HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.1 ", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.1\t", "Host: h\r\n"), "400"},
		    {withHead("GET", "Host: h\r\n"), "400"},
		    {withHead("GET /a b HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /a\x01 HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /a\x7F HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /\xC3\xA9 HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /a\tb HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET /a\0b HTTP/1.1"s, "Host: h\r\n"), "400"},
		    {"GET / HTTP/1.1\rHost: h\r\n\r\n", "400"},
		});
	}

	void testVersions()
	{
		checkCases({
		    {withHead("GET / HTTP/1.0", ""), "COMPLETE"},
		    {withHead("GET / HTTP/1.1", "Host: h\r\n"), "COMPLETE"},
		    {withHead("GET / HTTP/2.0", "Host: h\r\n"), "505"},
		    {withHead("GET / HTTP/9.9", "Host: h\r\n"), "505"},
		    {withHead("GET / HTTP/1.2", "Host: h\r\n"), "505"},
		    {withHead("GET / HTTP/0.9", "Host: h\r\n"), "505"},
		    {withHead("GET / HTTP/0.0", "Host: h\r\n"), "505"},
		    {"GET /\r\n", "505"},               // the HTTP/0.9 simple request
		    {"GET /index.html\r\n\r\n", "505"}, // likewise
		    {"GET /a\x01\r\n\r\n", "400"},      // not even that
		    {withHead("GET / HTTP/1.10", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/10.1", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.x", "Host: h\r\n"), "400"},
		    {withHead("GET / http/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTPS/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.1x", "Host: h\r\n"), "400"},
		});
		Parsed old(withHead("GET / HTTP/1.0", ""));
		CPPUNIT_ASSERT_EQUAL(0, old.parser.request().versionMinor);
	}

	void testTargets()
	{
		Parsed absolute(withHead("GET HTTP://Example.com:80/p/q?x=1 HTTP/1.1", "Host: example.com\r\n"));
		CPPUNIT_ASSERT(absolute.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("HTTP://Example.com:80/p/q?x=1"s, absolute.parser.request().target);
		CPPUNIT_ASSERT_EQUAL("/p/q"s, absolute.parser.request().path);
		CPPUNIT_ASSERT_EQUAL("x=1"s, absolute.parser.request().query);

		Parsed noPath(withHead("GET https://h?x HTTP/1.1", "Host: h\r\n"));
		CPPUNIT_ASSERT(noPath.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("/"s, noPath.parser.request().path);
		CPPUNIT_ASSERT_EQUAL("x"s, noPath.parser.request().query);

		Parsed asterisk(withHead("OPTIONS * HTTP/1.1", "Host: h\r\n"));
		CPPUNIT_ASSERT(asterisk.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("*"s, asterisk.parser.request().path);

		Parsed authority(withHead("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443\r\n"));
		CPPUNIT_ASSERT(authority.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("example.com:443"s, authority.parser.request().target);
		CPPUNIT_ASSERT_EQUAL(""s, authority.parser.request().path);

		checkCases({
		    {withHead("GET a/b HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET * HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("OPTIONS *x HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET ftp://h/ HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET http:/h/ HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET http:///p HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET http://user@h/ HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET http://h<x>/ HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("CONNECT example.com HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("CONNECT u@example.com:443 HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("GET example.com:443 HTTP/1.1", "Host: h\r\n"), "400"},
		    {withHead("OPTIONS /x HTTP/1.1", "Host: h\r\n"), "COMPLETE"},
		    {withHead("GET /%zz/\"{}|^ HTTP/1.1", "Host: h\r\n"), "COMPLETE"}, // visible ASCII, left to the router
		});
	}

	void testLineEnds()
	{
		Parsed bareLf("GET / HTTP/1.1\nHost: h\nX: y\n\n");
		CPPUNIT_ASSERT(bareLf.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("y"s, bareLf.parser.request().headers[1].second);
		checkCases({
		    {"GET / HTTP/1.1\r\nHost: h\n\r\n", "COMPLETE"},
		    {"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", "400"},
		    {"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", "400"},
		    {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", "400"},
		    {"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", "400"},
		    {"GET / HTTP/1.1\r\nHost: h\r\n\rX", "HEAD"}, // the bare CR is found at the line end
		    {"GET / HTTP/1.1\r\nHost: h\r\n\rX\r\n", "400"},
		    {"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", "400"},
		});
	}

	void testLeadingEmptyLines()
	{
		const HttpLimits limits{64, 16384, 100, 1 << 20};
		std::string lines;
		for (int i = 0; i < 32; ++i)
			lines += "\r\n";
		const std::string request = withHead("GET / HTTP/1.1", "Host: h\r\n");
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(lines + request, limits));
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict("\n\r\n\n" + request, limits));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(lines + "\n" + request, limits));
		// Empty lines alone never complete anything.
		CPPUNIT_ASSERT_EQUAL("HEAD"s, verdict(lines, limits));
		Parsed parsed(lines + request);
		CPPUNIT_ASSERT_EQUAL(lines.size() + request.size(), parsed.used);
		CPPUNIT_ASSERT_EQUAL("/"s, parsed.parser.request().path);
	}

	void testRequestLineLimit()
	{
		const HttpLimits limits{64, 16384, 100, 1 << 20};
		const std::string fields = "Host: h\r\n";
		const auto target = [](std::size_t lineLength) {
			// "GET " + target + " HTTP/1.1" is lineLength bytes.
			return "/" + std::string(lineLength - 14, 'a');
		};
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(withHead("GET " + target(64) + " HTTP/1.1", fields), limits));
		CPPUNIT_ASSERT_EQUAL("414"s, verdict(withHead("GET " + target(65) + " HTTP/1.1", fields), limits));
		CPPUNIT_ASSERT_EQUAL("414"s, verdict(withHead("GET " + target(2000) + " HTTP/1.1", fields), limits));
		// The line is refused before its end arrives.
		CPPUNIT_ASSERT_EQUAL("414"s, verdict("GET " + target(80), limits));
		// A limit of exactly the line, also with bare LF and the CR arriving separately.
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict("GET " + target(64) + " HTTP/1.1\nHost: h\n\n", limits));
		// Long for other reasons than the target: 400.
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(withHead(std::string(70, 'G') + " / HTTP/1.1", fields), limits));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(withHead("GET / HTTP/1.1" + std::string(60, 'x'), fields), limits));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(withHead("GET / " + std::string(60, 'x'), fields), limits));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(withHead("GET  " + std::string(60, 'x'), fields), limits));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(std::string(100, '\x01'), limits));

		Parsed parsed("GET " + target(1000), limits);
		CPPUNIT_ASSERT(parsed.parser.state() == State::FAILED);
		CPPUNIT_ASSERT_EQUAL(414, parsed.parser.errorStatus());
		CPPUNIT_ASSERT_EQUAL(std::size_t(65), parsed.used);
	}

	void testHeaderFields()
	{
		Parsed parsed(get("X-Tab:\ta\tb\t\r\nX-Obs: caf\xC3\xA9\r\nX-Empty:\r\nX-Spaces:    \r\nx-lower: v\r\n"));
		CPPUNIT_ASSERT(parsed.parser.state() == State::COMPLETE);
		const auto& headers = parsed.parser.request().headers;
		CPPUNIT_ASSERT_EQUAL(std::size_t(6), headers.size());
		CPPUNIT_ASSERT_EQUAL("a\tb"s, headers[1].second);
		CPPUNIT_ASSERT_EQUAL("caf\xC3\xA9"s, headers[2].second);
		CPPUNIT_ASSERT_EQUAL(""s, headers[3].second);
		CPPUNIT_ASSERT_EQUAL(""s, headers[4].second);
		CPPUNIT_ASSERT_EQUAL("x-lower"s, headers[5].first);
		checkCases({
		    {get("Name : v\r\n"), "400"},
		    {get("Name\t: v\r\n"), "400"},
		    {get("Name v\r\n"), "400"},
		    {get(": v\r\n"), "400"},
		    {get("Na(me: v\r\n"), "400"},
		    {get("Na me: v\r\n"), "400"},
		    {get("N\xC3\xA4me: v\r\n"), "400"},
		    {get("Name: a\r\n b\r\n"), "400"},  // obs-fold
		    {get("Name: a\r\n\tb\r\n"), "400"}, // obs-fold
		    {withHead("GET / HTTP/1.1", " Host: h\r\n"), "400"},
		    {withHead("GET / HTTP/1.1", "\tHost: h\r\n"), "400"},
		    {get("Name: a\x01z\r\n"), "400"},
		    {get("Name: a\x7Fz\r\n"), "400"},
		    {get("Name: a\x1Fz\r\n"), "400"},
		    {get("Name: a\0z\r\n"s), "400"},
		    {get("Name: a\rz\r\n"), "400"},
		    {get("Name: \"quoted, with: colon\"\r\n"), "COMPLETE"},
		});
	}

	void testHeaderLimits()
	{
		const HttpLimits limits{8192, 128, 4, 1 << 20};
		// "Host: h" is 7 bytes, "X: " 3; line ends do not count.
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(get("X: " + std::string(118, 'v') + "\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(get("X: " + std::string(119, 'v') + "\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(get("X: " + std::string(5000, 'v')), limits));
		CPPUNIT_ASSERT_EQUAL(
		    "COMPLETE"s,
		    verdict(get("A: " + std::string(50, 'v') + "\r\nB: " + std::string(65, 'v') + "\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL(
		    "431"s, verdict(get("A: " + std::string(50, 'v') + "\r\nB: " + std::string(66, 'v') + "\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(get("A: 1\r\nB: 2\r\nC: 3\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(get("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), limits));

		Parsed parsed(get("X: " + std::string(5000, 'v')), limits);
		CPPUNIT_ASSERT_EQUAL(431, parsed.parser.errorStatus());
		CPPUNIT_ASSERT(parsed.used < 200);
	}

	void testHost()
	{
		checkCases({
		    {withHead("GET / HTTP/1.1", ""), "400"},
		    {withHead("GET / HTTP/1.1", "X: y\r\n"), "400"},
		    {withHead("GET / HTTP/1.0", ""), "COMPLETE"},
		    {withHead("GET / HTTP/1.1", "Host: a\r\nHost: a\r\n"), "400"},
		    {withHead("GET / HTTP/1.1", "Host: a\r\nhost: b\r\n"), "400"},
		    {withHead("GET / HTTP/1.0", "Host: a\r\nHost: b\r\n"), "400"},
		    {withHead("GET / HTTP/1.1", "HOST: example.com\r\n"), "COMPLETE"},
		    {withHead("GET / HTTP/1.1", "Host:\r\n"), "COMPLETE"},
		    {withHead("GET / HTTP/1.1", "Host: [::1]:8080\r\n"), "COMPLETE"},
		    {withHead("GET / HTTP/1.1", "Host: a b\r\n"), "400"},
		    {withHead("GET / HTTP/1.1", "Host: user@h\r\n"), "400"},
		    {withHead("GET / HTTP/1.1", "Host: h/x\r\n"), "400"},
		});
	}

	void testTransferEncoding()
	{
		const std::string chunks = "3\r\nabc\r\n0\r\n\r\n";
		Parsed parsed(post("Transfer-Encoding: chunked\r\n", chunks));
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT(parsed.parser.request().bodyKind == ParsedRequest::Body::CHUNKED);
		checkCases({
		    {post("Transfer-Encoding: chunked\r\n", chunks), "COMPLETE"},
		    {post("Transfer-Encoding: CHUNKED\r\n", chunks), "COMPLETE"},
		    {post("Transfer-Encoding: , chunked ,\r\n", chunks), "COMPLETE"},
		    {post("Transfer-Encoding: gzip, chunked\r\n", chunks), "501"},
		    {post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", chunks), "501"},
		    {post("Transfer-Encoding: identity, chunked\r\n", chunks), "501"},
		    // chunked not last: the length cannot be determined (RFC 9112 §6.3).
		    {post("Transfer-Encoding: gzip\r\n", chunks), "400"},
		    {post("Transfer-Encoding: chunked, gzip\r\n", chunks), "400"},
		    {post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", chunks), "400"},
		    {post("Transfer-Encoding: chunked;q=1\r\n", chunks), "400"},
		    {post("Transfer-Encoding: \"chunked\"\r\n", chunks), "400"},
		    {post("Transfer-Encoding: chunked, chunked\r\n", chunks), "400"},
		    {post("Transfer-Encoding:\r\n", chunks), "400"},
		    {post("Transfer-Encoding: ,\r\n", chunks), "400"},
		    // Refused rather than guessed: request smuggling.
		    {post("Transfer-Encoding: chunked\r\nContent-Length: 14\r\n", chunks), "400"},
		    {post("Content-Length: 14\r\nTransfer-Encoding: chunked\r\n", chunks), "400"},
		    {withHead("POST / HTTP/1.0", "Transfer-Encoding: chunked\r\n", chunks), "400"},
		    {withHead("POST / HTTP/1.0", "Transfer-Encoding: gzip\r\n", chunks), "400"},
		});
	}

	void testContentLength()
	{
		Parsed parsed(post("Content-Length: 5\r\n", "hello"));
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT(parsed.parser.request().bodyKind == ParsedRequest::Body::LENGTH);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), parsed.parser.request().contentLength);
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), parsed.parser.feed("hello!", 6));
		CPPUNIT_ASSERT(parsed.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("hello"s, parsed.parser.request().body);

		Parsed empty(post("Content-Length: 0\r\n", "next"));
		CPPUNIT_ASSERT(empty.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT(empty.parser.request().bodyKind == ParsedRequest::Body::LENGTH);
		CPPUNIT_ASSERT_EQUAL(empty.used + 4, post("Content-Length: 0\r\n", "next").size());

		checkCases({
		    {post("Content-Length: 5\r\n", "hello"), "COMPLETE"},
		    {post("content-length:5 \r\n", "hello"), "COMPLETE"},
		    {post("Content-Length: 005\r\n", "hello"), "COMPLETE"},
		    // Identical repeats are one length (RFC 9110 §8.6).
		    {post("Content-Length: 5, 5\r\n", "hello"), "COMPLETE"},
		    {post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), "COMPLETE"},
		    {post("Content-Length: 5\r\nContent-Length: 05\r\n", "hello"), "COMPLETE"},
		    // Different ones are not.
		    {post("Content-Length: 5, 6\r\n", "hello"), "400"},
		    {post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"), "400"},
		    {post("Content-Length: 5,\r\n", "hello"), "400"},
		    {post("Content-Length: +5\r\n", "hello"), "400"},
		    {post("Content-Length: -5\r\n", "hello"), "400"},
		    {post("Content-Length: 5 5\r\n", "hello"), "400"},
		    {post("Content-Length: 0x5\r\n", "hello"), "400"},
		    {post("Content-Length: 5.0\r\n", "hello"), "400"},
		    {post("Content-Length:\r\n", "hello"), "400"},
		    {post("Content-Length: \"5\"\r\n", "hello"), "400"},
		    {post("Content-Length: 18446744073709551616\r\n", "hello"), "400"},
		    {post("Content-Length: 99999999999999999999999999\r\n", "hello"), "400"},
		    {post("Content-Length: 18446744073709551615\r\n", "hello"), "413"},
		    // No framing header: no body, and the bytes after the head are the next request's.
		    {post("", "hello"), "COMPLETE"},
		});
	}

	void testDeclaredBodyTooLarge()
	{
		const HttpLimits limits{8192, 16384, 100, 10};
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(post("Content-Length: 10\r\n", "0123456789"), limits));
		CPPUNIT_ASSERT_EQUAL("413"s, verdict(post("Content-Length: 11\r\n", "0123456789a"), limits));
		// Refused at the end of the head, before any body byte and before a 100 Continue.
		const std::string head = post("Content-Length: 11\r\nExpect: 100-continue\r\n", "");
		Parsed parsed(head + "0123", limits);
		CPPUNIT_ASSERT(parsed.parser.state() == State::FAILED);
		CPPUNIT_ASSERT_EQUAL(413, parsed.parser.errorStatus());
		CPPUNIT_ASSERT_EQUAL(head.size(), parsed.used);
		CPPUNIT_ASSERT(parsed.parser.request().body.empty());
	}

	void testShortBodyStaysInBody()
	{
		const std::string input = post("Content-Length: 10\r\n", "abc");
		CPPUNIT_ASSERT_EQUAL("BODY"s, verdict(input));
		Parsed parsed(input);
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), parsed.parser.feed("abc", 3));
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), parsed.parser.feed("", 0));
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT_EQUAL("BODY"s, verdict(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n")));
		CPPUNIT_ASSERT_EQUAL("BODY"s, verdict(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n")));
		CPPUNIT_ASSERT_EQUAL("BODY"s, verdict(post("Transfer-Encoding: chunked\r\n", "5\r\nhel")));
	}

	void testChunked()
	{
		const std::string body = "5\r\nhello\r\n6;ext=1;q=\"a b\"\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
		const std::string input = post("Transfer-Encoding: chunked\r\n", body) + "GET /";
		const Outcome outcome = parseEverySplit(input);
		CPPUNIT_ASSERT_EQUAL(input.size() - 5, outcome.consumed);
		CPPUNIT_ASSERT(outcome.events.find("complete@" + std::to_string(input.size() - 5) + ":hello world|") !=
		               std::string::npos);

		const auto bodyOf = [](const std::string& chunks) {
			Parsed parsed(post("Transfer-Encoding: chunked\r\n", chunks));
			parsed.parser.feed(chunks.data(), chunks.size());
			CPPUNIT_ASSERT_MESSAGE(escape(chunks), parsed.parser.state() == State::COMPLETE);
			return parsed.parser.request().body;
		};
		CPPUNIT_ASSERT_EQUAL("0123456789"s, bodyOf("A\r\n0123456789\r\n0\r\n\r\n"));
		CPPUNIT_ASSERT_EQUAL("0123456789"s, bodyOf("a\r\n0123456789\r\n0\r\n\r\n"));
		CPPUNIT_ASSERT_EQUAL("hello"s, bodyOf("00000000000000000000005\r\nhello\r\n000\r\n\r\n"));
		CPPUNIT_ASSERT_EQUAL("ab"s, bodyOf("1 ;a\r\na\r\n1\t; a = b ; c=\"\\\"\"\r\nb\r\n0;last\r\n\r\n"));
		CPPUNIT_ASSERT_EQUAL(""s, bodyOf("0\r\n\r\n"));
		CPPUNIT_ASSERT_EQUAL("\r\n\r\n"s, bodyOf("4\r\n\r\n\r\n\r\n0\r\n\r\n"));
	}

	void testChunkedErrors()
	{
		const auto chunked = [](const std::string& chunks) { return post("Transfer-Encoding: chunked\r\n", chunks); };
		checkCases({
		    {chunked("g\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked(" 5\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5 \r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("+5\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("0x5\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5;\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5;a=\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5;a=\"x\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5;a=b c\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5;a\x01\r\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5\r\nhelloX\r\n0\r\n\r\n"), "400"},
		    {chunked("5\r\nhello\rX0\r\n\r\n"), "400"},
		    {chunked("5\r\nhello0\r\n\r\n"), "400"},
		    // Lines of a chunked body need CRLF: lenient chunk parsing lets proxies disagree.
		    {chunked("5\nhello\r\n0\r\n\r\n"), "400"},
		    {chunked("5\r\nhello\n0\r\n\r\n"), "400"},
		    {chunked("5\r\nhello\r\n0\n\r\n"), "400"},
		    {chunked("5\r\nhello\r\n0\r\n\n"), "400"},
		    {chunked("5\r\nhello\r\n0\r\nT: x\n\r\n"), "400"},
		    {chunked("6\r\nhel\rlo\r\n0\r\n\r\n"), "COMPLETE"}, // data is data
		    // Sizes: more than 16 significant hex digits never fit; 16 fit but are too large.
		    {chunked("10000000000000000\r\n"), "400"},
		    {chunked("FFFFFFFFFFFFFFFF\r\n"), "413"},
		    {chunked("100001\r\n"), "413"},
		    {chunked("100000\r\n"), "BODY"},
		});
		const HttpLimits limits{8192, 16384, 100, 10};
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(chunked("6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n"), limits));
		CPPUNIT_ASSERT_EQUAL("413"s, verdict(chunked("6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n"), limits));
		// The running total is refused at the chunk-size line, before its data.
		Parsed parsed(chunked(""), limits);
		const std::string chunks = "6\r\nabcdef\r\n5\r\nghijk";
		CPPUNIT_ASSERT_EQUAL(std::size_t(14), parsed.parser.feed(chunks.data(), chunks.size()));
		CPPUNIT_ASSERT_EQUAL(413, parsed.parser.errorStatus());
		// The chunk-size line is bounded by maxRequestLine.
		const HttpLimits shortLines{32, 16384, 100, 1 << 20};
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s,
		                     verdict(chunked("1;" + std::string(30, 'e') + "\r\na\r\n0\r\n\r\n"), shortLines));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(chunked("1;" + std::string(31, 'e') + "\r\na\r\n0\r\n\r\n"), shortLines));
		CPPUNIT_ASSERT_EQUAL("400"s, verdict(chunked("1;" + std::string(3000, 'e')), shortLines));
	}

	void testTrailers()
	{
		const auto chunked = [](const std::string& chunks) { return post("Transfer-Encoding: chunked\r\n", chunks); };
		Parsed parsed(chunked(""));
		const std::string chunks = "1\r\na\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
		CPPUNIT_ASSERT_EQUAL(chunks.size(), parsed.parser.feed(chunks.data(), chunks.size()));
		CPPUNIT_ASSERT(parsed.parser.state() == State::COMPLETE);
		// Trailer fields are checked, then dropped.
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), parsed.parser.request().headers.size());
		CPPUNIT_ASSERT(parsed.parser.request().findHeader("X-Sum") == nullptr);

		checkCases({
		    {chunked("0\r\nA: b\r\n c\r\n\r\n"), "400"},
		    {chunked("0\r\n A: b\r\n\r\n"), "400"},
		    {chunked("0\r\nA : b\r\n\r\n"), "400"},
		    {chunked("0\r\nA b\r\n\r\n"), "400"},
		    {chunked("0\r\nA: \x01\r\n\r\n"), "400"},
		    {chunked("0\r\nA: b\r\n\r\n"), "COMPLETE"},
		});
		// Trailers have their own budget of maxHeaderBytes and maxHeaderCount.
		const HttpLimits limits{8192, 64, 3, 1 << 20};
		const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(head + "0\r\nT: " + std::string(61, 't') + "\r\n\r\n", limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(head + "0\r\nT: " + std::string(62, 't') + "\r\n\r\n", limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(head + "0\r\nT: " + std::string(1000, 't'), limits));
		CPPUNIT_ASSERT_EQUAL("COMPLETE"s, verdict(head + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits));
		CPPUNIT_ASSERT_EQUAL("431"s, verdict(head + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits));
	}

	void testExpect()
	{
		Parsed parsed(post("Content-Length: 5\r\nExpect: 100-Continue\r\n", ""));
		CPPUNIT_ASSERT(parsed.parser.state() == State::BODY);
		CPPUNIT_ASSERT(parsed.parser.request().expectContinue);
		// An HTTP/1.0 client cannot take a 100 Continue (RFC 9110 §10.1.1).
		Parsed old(withHead("POST / HTTP/1.0", "Content-Length: 5\r\nExpect: 100-continue\r\n"));
		CPPUNIT_ASSERT(old.parser.state() == State::BODY);
		CPPUNIT_ASSERT(!old.parser.request().expectContinue);
		checkCases({
		    {post("Content-Length: 5\r\nExpect: 100-continue\r\n", "hello"), "COMPLETE"},
		    {post("Content-Length: 5\r\nExpect: foo\r\n", "hello"), "417"},
		    {post("Content-Length: 5\r\nExpect: 100-continue, foo\r\n", "hello"), "417"},
		    {post("Content-Length: 5\r\nExpect: 100-continue\r\nExpect: foo\r\n", "hello"), "417"},
		    {post("Content-Length: 5\r\nExpect:\r\n", "hello"), "417"},
		    {post("Content-Length: 5\r\nExpect: 200-ok\r\n", "hello"), "417"},
		    {withHead("POST / HTTP/1.0", "Content-Length: 5\r\nExpect: foo\r\n", "hello"), "417"},
		    // A malformed request is 400 whatever it expects.
		    {post("Content-Length: x\r\nExpect: foo\r\n", "hello"), "400"},
		});
	}

	void testContinueFlow()
	{
		const std::string head = post("Content-Length: 5\r\nExpect: 100-continue\r\n", "");
		const std::string input = head + "hello";
		HttpRequestParser parser{HttpLimits()};
		// The client may send the body early; the parser still stops after the head.
		CPPUNIT_ASSERT_EQUAL(head.size(), parser.feed(input.data(), input.size()));
		CPPUNIT_ASSERT(parser.state() == State::BODY);
		CPPUNIT_ASSERT(parser.request().expectContinue);
		CPPUNIT_ASSERT(parser.request().body.empty());
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), parser.feed(input.data() + head.size(), 5));
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("hello"s, parser.request().body);
		// Without a body there is nothing to continue: the request is complete at once.
		Parsed bodiless(get("Expect: 100-continue\r\n"));
		CPPUNIT_ASSERT(bodiless.parser.state() == State::COMPLETE);
	}

	void testKeepAlive()
	{
		const auto keepAlive = [](const std::string& input) {
			Parsed parsed(input);
			CPPUNIT_ASSERT_MESSAGE(escape(input), parsed.parser.state() == State::COMPLETE);
			return parsed.parser.request().keepAlive;
		};
		CPPUNIT_ASSERT(keepAlive(get("")));
		CPPUNIT_ASSERT(keepAlive(get("Connection: keep-alive\r\n")));
		CPPUNIT_ASSERT(!keepAlive(get("Connection: close\r\n")));
		CPPUNIT_ASSERT(!keepAlive(get("Connection: Keep-Alive, CLOSE\r\n")));
		CPPUNIT_ASSERT(!keepAlive(get("Connection: x\r\nConnection: close\r\n")));
		CPPUNIT_ASSERT(keepAlive(get("Connection: closed\r\n")));
		CPPUNIT_ASSERT(!keepAlive(withHead("GET / HTTP/1.0", "")));
		CPPUNIT_ASSERT(keepAlive(withHead("GET / HTTP/1.0", "Connection: Keep-Alive\r\n")));
		CPPUNIT_ASSERT(keepAlive(withHead("GET / HTTP/1.0", "Connection: foo , keep-alive\r\n")));
		CPPUNIT_ASSERT(!keepAlive(withHead("GET / HTTP/1.0", "Connection: keep-alive, close\r\n")));
	}

	void testWebSocketUpgrade()
	{
		const std::string input = WEBSOCKET_HEAD + HELLO_FRAME;
		Parsed parsed(input);
		CPPUNIT_ASSERT(parsed.parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT(parsed.parser.request().upgradeWebSocket);
		CPPUNIT_ASSERT(parsed.parser.request().bodyKind == ParsedRequest::Body::NONE);
		// The frame bytes are left for the WebSocket decoder.
		CPPUNIT_ASSERT_EQUAL(WEBSOCKET_HEAD.size(), parsed.used);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0),
		                     parsed.parser.feed(input.data() + parsed.used, input.size() - parsed.used));
		CPPUNIT_ASSERT_EQUAL(WEBSOCKET_HEAD.size(), parseEverySplit(input).consumed);

		const auto upgrades = [](const std::string& input) {
			Parsed parsed(input);
			CPPUNIT_ASSERT_MESSAGE(escape(input), parsed.parser.state() == State::COMPLETE);
			return parsed.parser.request().upgradeWebSocket;
		};
		CPPUNIT_ASSERT(upgrades(get("Upgrade: websocket\r\nConnection: Upgrade\r\n")));
		CPPUNIT_ASSERT(upgrades(get("Upgrade: h2c, WebSocket\r\nConnection: keep-alive, upgrade\r\n")));
		CPPUNIT_ASSERT(upgrades(get("Connection: keep-alive\r\nUpgrade: WEBSOCKET\r\nConnection: UPGRADE\r\n")));
		CPPUNIT_ASSERT(!upgrades(get("Upgrade: websocket\r\n")));
		CPPUNIT_ASSERT(!upgrades(get("Connection: Upgrade\r\n")));
		CPPUNIT_ASSERT(!upgrades(get("Upgrade: websockets\r\nConnection: Upgrade\r\n")));
		CPPUNIT_ASSERT(!upgrades(get("Upgrade: websocket\r\nConnection: Upgraded\r\n")));
		CPPUNIT_ASSERT(
		    !upgrades(withHead("POST / HTTP/1.1", "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")));
		CPPUNIT_ASSERT(
		    !upgrades(withHead("get / HTTP/1.1", "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")));
		// HTTP/1.0 cannot upgrade (RFC 9110 §7.8).
		CPPUNIT_ASSERT(!upgrades(withHead("GET / HTTP/1.0", "Upgrade: websocket\r\nConnection: Upgrade\r\n")));
	}

	void testPipelining()
	{
		const std::string first = withHead("GET /a HTTP/1.1", "Host: h\r\n");
		const std::string second = post("Content-Length: 3\r\n", "xyz");
		const std::string third = withHead("GET /c HTTP/1.1", "Host: h\r\nConnection: close\r\n");
		const std::string input = first + second + third;
		HttpRequestParser parser{HttpLimits()};
		std::size_t offset = parser.feed(input.data(), input.size());
		CPPUNIT_ASSERT_EQUAL(first.size(), offset);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL("/a"s, parser.request().path);
		parser.reset();
		CPPUNIT_ASSERT(parser.state() == State::HEAD);
		offset += parser.feed(input.data() + offset, input.size() - offset);
		CPPUNIT_ASSERT(parser.state() == State::BODY);
		offset += parser.feed(input.data() + offset, input.size() - offset);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL(first.size() + second.size(), offset);
		CPPUNIT_ASSERT_EQUAL("/submit"s, parser.request().path);
		CPPUNIT_ASSERT_EQUAL("xyz"s, parser.request().body);
		parser.reset();
		offset += parser.feed(input.data() + offset, input.size() - offset);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL(input.size(), offset);
		CPPUNIT_ASSERT_EQUAL("/c"s, parser.request().path);
		CPPUNIT_ASSERT(!parser.request().keepAlive);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), parser.request().headers.size());

		// The same over every split, reset() between the requests.
		const Outcome outcome = parseEverySplit(input, HttpLimits(), true);
		CPPUNIT_ASSERT_EQUAL(input.size(), outcome.consumed);
		CPPUNIT_ASSERT(outcome.events.find("GET /c") != std::string::npos);
		CPPUNIT_ASSERT(outcome.events.find("complete@" + std::to_string(input.size()) + ":|pending:head") !=
		               std::string::npos);
	}

	void testReset()
	{
		HttpRequestParser parser{HttpLimits()};
		const std::string input = post("Content-Length: 3\r\nX: y\r\n", "abc");
		parser.feed(input.data(), input.size());
		parser.feed(input.data() + input.size() - 3, 3);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		const std::size_t headerCapacity = parser.request().headers.capacity();
		parser.reset();
		const ParsedRequest& request = parser.request();
		CPPUNIT_ASSERT(parser.state() == State::HEAD);
		CPPUNIT_ASSERT(request.method.empty() && request.target.empty() && request.path.empty());
		CPPUNIT_ASSERT(request.headers.empty() && request.body.empty());
		CPPUNIT_ASSERT(request.bodyKind == ParsedRequest::Body::NONE && request.contentLength == 0);
		CPPUNIT_ASSERT_EQUAL(headerCapacity, request.headers.capacity());

		// A failed parser is usable again after reset().
		parser.feed("BAD\r\n", 5);
		CPPUNIT_ASSERT(parser.state() == State::FAILED);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), parser.feed("GET", 3));
		parser.reset();
		CPPUNIT_ASSERT_EQUAL(0, parser.errorStatus());
		CPPUNIT_ASSERT(parser.errorReason().empty());
		const std::string next = withHead("GET /again HTTP/1.0", "");
		CPPUNIT_ASSERT_EQUAL(next.size(), parser.feed(next.data(), next.size()));
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT(!parser.request().keepAlive);

		// A large body buffer is released, a small one kept.
		const std::string big(100000, 'b');
		const std::string bigRequest = post("Content-Length: 100000\r\n", big);
		parser.reset();
		const std::size_t headLength = parser.feed(bigRequest.data(), bigRequest.size());
		parser.feed(bigRequest.data() + headLength, bigRequest.size() - headLength);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL(big.size(), parser.request().body.size());
		parser.reset();
		CPPUNIT_ASSERT(parser.request().body.capacity() < 64 * 1024);
	}

	void testBufferedBytes()
	{
		HttpRequestParser parser{HttpLimits{64, 128, 100, 1 << 20}};
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), parser.bufferedBytes());
		parser.feed("GET /ab", 7);
		CPPUNIT_ASSERT_EQUAL(std::size_t(7), parser.bufferedBytes());
		parser.feed("c HTTP/1.1\r\nHos", 15);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), parser.bufferedBytes());
		const std::string value(200, 'v');
		parser.feed("t: ", 3);
		parser.feed(value.data(), 100);
		CPPUNIT_ASSERT(parser.state() == State::HEAD);
		CPPUNIT_ASSERT(parser.bufferedBytes() <= 129);
		parser.feed(value.data(), 100);
		CPPUNIT_ASSERT(parser.state() == State::FAILED);
		CPPUNIT_ASSERT_EQUAL(431, parser.errorStatus());
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), parser.bufferedBytes());
	}

	void testLargeBody()
	{
		const HttpLimits limits;
		std::string body(limits.maxBodySize, '\0');
		for (std::size_t i = 0; i < body.size(); ++i)
			body[i] = static_cast<char>(i * 31 + 7);
		const std::string input = post("Content-Length: " + std::to_string(body.size()) + "\r\n", body);
		const Outcome outcome = parseEverySplit(input);
		CPPUNIT_ASSERT_EQUAL(input.size(), outcome.consumed);
		HttpRequestParser parser(limits);
		std::size_t offset = parser.feed(input.data(), input.size());
		offset += parser.feed(input.data() + offset, input.size() - offset);
		CPPUNIT_ASSERT(parser.state() == State::COMPLETE);
		CPPUNIT_ASSERT_EQUAL(input.size(), offset);
		CPPUNIT_ASSERT(parser.request().body == body);

		// The same as chunks, 4 KiB at a time: exactly at the limit, then one byte over.
		std::string chunks;
		for (std::size_t i = 0; i < body.size(); i += 4096)
			chunks += "1000\r\n" + body.substr(i, 4096) + "\r\n";
		const std::string chunked = post("Transfer-Encoding: chunked\r\n", chunks + "0\r\n\r\n");
		HttpRequestParser chunkedParser(limits);
		offset = chunkedParser.feed(chunked.data(), chunked.size());
		offset += chunkedParser.feed(chunked.data() + offset, chunked.size() - offset);
		CPPUNIT_ASSERT(chunkedParser.state() == State::COMPLETE);
		CPPUNIT_ASSERT(chunkedParser.request().body == body);
		CPPUNIT_ASSERT_EQUAL("413"s, verdict(post("Transfer-Encoding: chunked\r\n", chunks + "1\r\nx\r\n0\r\n\r\n")));
	}

	void testEverySplit()
	{
		for (const auto& input : sampleRequests())
		{
			const Outcome outcome = parseEverySplit(input, HttpLimits(), true);
			CPPUNIT_ASSERT_MESSAGE(escape(input) + " -> " + outcome.events,
			                       outcome.events.find("failed") == std::string::npos ||
			                           input.find(HELLO_FRAME) != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(escape(input), outcome.events.find("complete@") != std::string::npos);
		}
		// With limits small enough to trip over.
		const HttpLimits small{24, 40, 3, 8};
		for (const auto& input : sampleRequests())
			parseEverySplit(input, small, true);
	}

	void testFuzz()
	{
		const HttpLimits limits[] = {HttpLimits(), HttpLimits{24, 40, 3, 8}, HttpLimits{40, 64, 4, 16}};
		const std::vector<std::string> seeds = sampleRequests();
		Random rng(0x48545450F022A11ULL);
		std::size_t complete = 0;
		std::size_t failed = 0;
		for (std::size_t iteration = 0; iteration < 20000; ++iteration)
		{
			std::string input = seeds[rng.below(seeds.size())];
			if (rng.percent(20))
				input += seeds[rng.below(seeds.size())];
			if (rng.percent(5))
			{
				// Pure noise.
				input.resize(rng.below(400));
				for (char& c : input)
					c = static_cast<char>(rng.next());
			}
			else
				mutate(rng, input);
			// Mostly the defaults; the small limits make every limit trip now and then.
			const HttpLimits& limit = limits[rng.percent(60) ? 0 : 1 + rng.below(2)];
			const std::string label = "iteration " + std::to_string(iteration);

			const Outcome whole = parsePieces(input, {}, limit, true);
			// The result does not depend on how the input is cut into reads.
			std::vector<std::size_t> cuts;
			for (std::size_t cut = 1 + rng.below(16); cut < input.size(); cut += 1 + rng.below(16))
				cuts.push_back(cut);
			const Outcome random = parsePieces(input, cuts, limit, true);
			CPPUNIT_ASSERT_MESSAGE(label, whole.events == random.events && whole.consumed == random.consumed);
			if (iteration % 10 == 0)
			{
				cuts.clear();
				for (std::size_t cut = 1; cut < input.size(); ++cut)
					cuts.push_back(cut);
				const Outcome bytewise = parsePieces(input, cuts, limit, true);
				CPPUNIT_ASSERT_MESSAGE(label, whole.events == bytewise.events && whole.consumed == bytewise.consumed);
			}
			if (whole.events.find("complete@") != std::string::npos)
				++complete;
			if (whole.events.find("failed@") != std::string::npos)
				++failed;
		}
		// Sanity of the generator: both accepted and refused requests were exercised.
		CPPUNIT_ASSERT(complete > 3000);
		CPPUNIT_ASSERT(failed > 3000);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(HttpParserTest);
