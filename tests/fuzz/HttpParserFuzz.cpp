//
// HttpParserFuzz.cpp
//
// Fuzz target: the HTTP/1.1 request parser (host/src/http/HttpParser.h) and the upgrade key
// checks (host/src/ws/Handshake.h). Input: one byte of set-up (limits, how to split), then the
// bytes of a connection, parsed as pipelined requests the way HttpConnection does. Checks: fed
// whole or in pieces the requests and failures are the same; a failure is one of the
// documented statuses with a reason; what is buffered stays within the limits; an accepted
// request obeys the framing rules the parser promises (one Host on HTTP/1.1, not both
// Transfer-Encoding and Content-Length, keep-alive, 100-continue and upgrade as the headers
// say); printed again it parses to the same request; and every Sec-WebSocket-Key is judged as
// RFC 6455 says, with an accept key of the right form.
//


#include "FuzzSupport.h"
#include "http/HttpParser.h"
#include "ws/Handshake.h"
#include <cstring>
#include <memory>
#include <string>
#include <vector>


using Switchboard::Core::HttpLimits;
using Switchboard::Core::HttpRequestParser;
using Switchboard::Core::ParsedRequest;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;


namespace {


constexpr std::size_t MAX_REQUESTS = 8;


HttpLimits limitsFor(std::uint8_t choice)
{
	HttpLimits limits;
	switch (choice % 4)
	{
		case 1:
			limits.maxRequestLine = 64;
			limits.maxHeaderBytes = 128;
			limits.maxHeaderCount = 4;
			limits.maxBodySize = 64;
			break;
		case 2:
			limits.maxRequestLine = 16;
			limits.maxHeaderBytes = 24;
			limits.maxHeaderCount = 2;
			limits.maxBodySize = 5;
			break;
		case 3:
			limits.maxRequestLine = 40;
			limits.maxHeaderBytes = 1000;
			limits.maxHeaderCount = 30;
			limits.maxBodySize = 0;
			break;
		default:
			break;
	}
	return limits;
}


struct Outcome
/// One request of the connection as the parser left it.
{
	HttpRequestParser::State state = HttpRequestParser::State::HEAD;
	int errorStatus = 0;
	std::string errorReason;
	std::size_t end = 0; ///< offset in the stream after the request (COMPLETE only)
	ParsedRequest request;
};


bool sameRequest(const ParsedRequest& a, const ParsedRequest& b)
{
	return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query &&
	       a.versionMinor == b.versionMinor && a.headers == b.headers && a.keepAlive == b.keepAlive &&
	       a.expectContinue == b.expectContinue && a.upgradeWebSocket == b.upgradeWebSocket &&
	       a.bodyKind == b.bodyKind && a.contentLength == b.contentLength && a.body == b.body;
}


std::string describe(const Outcome& o)
{
	static const char* const STATES[] = {"HEAD", "BODY", "COMPLETE", "FAILED"};
	std::string out = STATES[static_cast<int>(o.state)];
	if (o.state == HttpRequestParser::State::FAILED)
		return out + " " + std::to_string(o.errorStatus) + " " + o.errorReason;
	out += " end " + std::to_string(o.end) + " " + o.request.method + " " + o.request.target + " HTTP/1." +
	       std::to_string(o.request.versionMinor) + " headers " + std::to_string(o.request.headers.size()) + " body " +
	       hexOf(o.request.body, 32);
	return out;
}


std::string describe(const std::vector<Outcome>& outcomes)
{
	std::string out;
	for (const Outcome& o : outcomes)
		out += "[" + describe(o) + "] ";
	return out;
}


bool sameOutcomes(const std::vector<Outcome>& a, const std::vector<Outcome>& b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
	{
		if (a[i].state != b[i].state || a[i].errorStatus != b[i].errorStatus || a[i].errorReason != b[i].errorReason)
			return false;
		if (a[i].state == HttpRequestParser::State::FAILED)
			continue;
		if (a[i].state == HttpRequestParser::State::COMPLETE && a[i].end != b[i].end)
			return false;
		// The head is final from BODY on; HEAD is the head still arriving, nothing to compare.
		if (a[i].state != HttpRequestParser::State::HEAD && !sameRequest(a[i].request, b[i].request))
			return false;
	}
	return true;
}


void checkBuffered(const HttpRequestParser& parser)
{
	const HttpLimits& limits = parser.limits();
	FUZZ_CHECK(parser.bufferedBytes() <= std::max(limits.maxRequestLine, limits.maxHeaderBytes) + 1);
	FUZZ_CHECK(parser.request().body.size() <= limits.maxBodySize);
}


std::vector<Outcome> parseConnection(const std::string& stream, const HttpLimits& limits,
                                     const std::vector<std::size_t>& cuts)
/// The requests of one connection, the stream fed in pieces ending at each of cuts (ascending)
/// and at the end; each piece is a heap copy of its exact size. After a complete request the
/// parser is reset and takes the rest, as a keep-alive connection does.
{
	std::vector<Outcome> outcomes;
	HttpRequestParser parser(limits);
	std::size_t from = 0;
	std::size_t offset = 0; // bytes of the stream the parser consumed
	std::vector<std::size_t> ends = cuts;
	ends.push_back(stream.size());
	for (std::size_t pieceEnd : ends)
	{
		if (pieceEnd < from)
			continue;
		const std::size_t length = pieceEnd - from;
		std::unique_ptr<char[]> piece(new char[length > 0 ? length : 1]);
		if (length > 0)
			std::memcpy(piece.get(), stream.data() + from, length);
		std::size_t used = 0;
		while (used < length && outcomes.size() < MAX_REQUESTS)
		{
			const std::size_t n = parser.feed(piece.get() + used, length - used);
			FUZZ_CHECK(n <= length - used);
			checkBuffered(parser);
			used += n;
			offset += n;
			const auto state = parser.state();
			if (state == HttpRequestParser::State::FAILED)
			{
				Outcome failed;
				failed.state = state;
				failed.errorStatus = parser.errorStatus();
				failed.errorReason = parser.errorReason();
				outcomes.push_back(failed);
				return outcomes;
			}
			if (state == HttpRequestParser::State::COMPLETE)
			{
				Outcome done;
				done.state = state;
				done.end = offset;
				done.request = parser.request();
				outcomes.push_back(done);
				parser.reset();
				continue;
			}
			FUZZ_CHECK_MSG(n > 0 || used == length, "no progress in state " + std::to_string(int(state)));
			if (n == 0)
				break;
		}
		from = pieceEnd;
	}
	if (outcomes.size() < MAX_REQUESTS)
	{
		Outcome unfinished;
		unfinished.state = parser.state();
		if (unfinished.state == HttpRequestParser::State::BODY)
			unfinished.request = parser.request();
		outcomes.push_back(unfinished);
		// The body so far depends on where the stream ended, not on the split: compare the head only.
		outcomes.back().request.body.clear();
	}
	return outcomes;
}


char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}


bool sameWord(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
	{
		if (lower(a[i]) != lower(b[i]))
			return false;
	}
	return true;
}


bool listHas(std::string_view list, std::string_view word)
/// Whether a comma-separated header list has word as a member (case-insensitive, OWS trimmed).
{
	while (true)
	{
		const std::size_t comma = list.find(',');
		std::string_view member = list.substr(0, comma);
		while (!member.empty() && (member.front() == ' ' || member.front() == '\t'))
			member.remove_prefix(1);
		while (!member.empty() && (member.back() == ' ' || member.back() == '\t'))
			member.remove_suffix(1);
		if (sameWord(member, word))
			return true;
		if (comma == std::string_view::npos)
			return false;
		list.remove_prefix(comma + 1);
	}
}


bool isTokenText(std::string_view s)
{
	if (s.empty())
		return false;
	for (char c : s)
	{
		const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr)
			return false;
		if (c == '\0')
			return false;
	}
	return true;
}


void checkAccepted(const ParsedRequest& r, const HttpLimits& limits)
/// What an accepted request must be, recomputed from its headers.
{
	FUZZ_CHECK(isTokenText(r.method));
	FUZZ_CHECK(!r.target.empty());
	for (char c : r.target)
		FUZZ_CHECK(c > 0x20 && c < 0x7F);
	FUZZ_CHECK(r.versionMinor == 0 || r.versionMinor == 1);
	FUZZ_CHECK(r.headers.size() <= limits.maxHeaderCount);
	std::size_t hosts = 0;
	bool transferEncoding = false;
	bool contentLength = false;
	bool close = false;
	bool keepAlive = false;
	bool upgrade = false;
	bool websocket = false;
	bool expect = false;
	for (const auto& header : r.headers)
	{
		FUZZ_CHECK_MSG(isTokenText(header.first), hexOf(header.first));
		for (char c : header.second)
		{
			const auto u = static_cast<unsigned char>(c);
			FUZZ_CHECK_MSG(u >= 0x80 || u == '\t' || (u >= 0x20 && u != 0x7F), hexOf(header.second));
		}
		if (!header.second.empty())
		{
			FUZZ_CHECK(header.second.front() != ' ' && header.second.front() != '\t');
			FUZZ_CHECK(header.second.back() != ' ' && header.second.back() != '\t');
		}
		const std::string& name = header.first;
		hosts += sameWord(name, "host") ? 1 : 0;
		transferEncoding = transferEncoding || sameWord(name, "transfer-encoding");
		contentLength = contentLength || sameWord(name, "content-length");
		if (sameWord(name, "connection"))
		{
			close = close || listHas(header.second, "close");
			keepAlive = keepAlive || listHas(header.second, "keep-alive");
			upgrade = upgrade || listHas(header.second, "upgrade");
		}
		if (sameWord(name, "upgrade"))
			websocket = websocket || listHas(header.second, "websocket");
		if (sameWord(name, "expect"))
		{
			FUZZ_CHECK(sameWord(header.second, "100-continue"));
			expect = true;
		}
	}
	FUZZ_CHECK(hosts <= 1);
	FUZZ_CHECK(hosts == 1 || r.versionMinor == 0);
	FUZZ_CHECK(!(transferEncoding && contentLength));
	FUZZ_CHECK(!(transferEncoding && r.versionMinor == 0));
	const bool http11 = r.versionMinor == 1;
	FUZZ_CHECK(r.keepAlive == (!close && (http11 || keepAlive)));
	FUZZ_CHECK(r.expectContinue == (http11 && expect));
	FUZZ_CHECK(r.upgradeWebSocket == (http11 && r.method == "GET" && upgrade && websocket));
	using Body = ParsedRequest::Body;
	FUZZ_CHECK(r.bodyKind == (transferEncoding ? Body::CHUNKED : contentLength ? Body::LENGTH : Body::NONE));
	if (r.bodyKind == Body::LENGTH)
		FUZZ_CHECK(r.contentLength == r.body.size());
	else
		FUZZ_CHECK(r.contentLength == 0);
	FUZZ_CHECK(r.body.size() <= limits.maxBodySize);
	FUZZ_CHECK(r.bodyKind != Body::NONE || r.body.empty());
	// path and query are cut from the target.
	if (r.target[0] == '/')
	{
		const std::size_t question = r.target.find('?');
		FUZZ_CHECK(r.path == r.target.substr(0, question));
		FUZZ_CHECK(r.query == (question == std::string::npos ? "" : r.target.substr(question + 1)));
	}
}


std::string print(const ParsedRequest& r, std::uint32_t chunkSeed)
/// The request written again: "name:value" lines (never longer than received, so the limits
/// still hold) and a chunked body in chunks of seed-chosen sizes.
{
	std::string out = r.method + " " + r.target + " HTTP/1." + std::to_string(r.versionMinor) + "\r\n";
	for (const auto& header : r.headers)
		out += header.first + ":" + header.second + "\r\n";
	out += "\r\n";
	if (r.bodyKind == ParsedRequest::Body::CHUNKED)
	{
		static const char HEX[] = "0123456789abcdef";
		std::size_t at = 0;
		while (at < r.body.size())
		{
			chunkSeed = chunkSeed * 1103515245u + 12345u;
			const std::size_t n = std::min<std::size_t>(r.body.size() - at, 1 + (chunkSeed >> 16) % 7);
			out += HEX[n];
			out += "\r\n" + r.body.substr(at, n) + "\r\n";
			at += n;
		}
		out += "0\r\n\r\n";
	}
	else
		out += r.body;
	return out;
}


bool referenceClientKey(std::string_view key)
{
	if (key.size() != 24 || key.substr(22) != "==")
		return false;
	for (std::size_t i = 0; i < 22; ++i)
	{
		const char c = key[i];
		const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && c != '+' && c != '/')
			return false;
	}
	return true;
}


void checkHandshake(const ParsedRequest& r)
{
	for (const auto& header : r.headers)
	{
		const bool valid = Switchboard::WS::isValidClientKey(header.second);
		FUZZ_CHECK_MSG(valid == referenceClientKey(header.second), hexOf(header.second));
		if (!valid || !sameWord(header.first, "sec-websocket-key"))
			continue;
		// Base64 of a 20-byte SHA-1: 27 characters and one '='.
		const std::string accept = Switchboard::WS::computeAcceptKey(header.second);
		FUZZ_CHECK_MSG(accept.size() == 28 && accept[27] == '=' && accept[26] != '=', accept);
		FUZZ_CHECK(Switchboard::WS::computeAcceptKey(header.second) == accept);
	}
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	static const bool SAMPLE_OK =
	    Switchboard::WS::computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
	FUZZ_CHECK(SAMPLE_OK); // RFC 6455 section 1.3

	FuzzInput input(data, size);
	const std::uint8_t setup = input.takeByte();
	const HttpLimits limits = limitsFor(setup);
	const std::string stream(input.rest());

	const std::vector<Outcome> whole = parseConnection(stream, limits, {});
	std::vector<std::size_t> cuts;
	std::uint32_t seed = 0x2545F491u ^ setup ^ (std::uint32_t(stream.size()) << 8);
	const std::size_t maxPiece = 1 + (setup >> 2) % 40;
	for (std::size_t at = 0; at < stream.size();)
	{
		seed = seed * 1664525u + 1013904223u;
		at += (seed >> 16) % (maxPiece + 1);
		cuts.push_back(std::min(at, stream.size()));
	}
	const std::vector<Outcome> split = parseConnection(stream, limits, cuts);
	FUZZ_CHECK_MSG(sameOutcomes(whole, split), "whole: " + describe(whole) + "\nsplit: " + describe(split));

	for (const Outcome& o : whole)
	{
		if (o.state == HttpRequestParser::State::FAILED)
		{
			const int s = o.errorStatus;
			FUZZ_CHECK_MSG(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505,
			               std::to_string(s));
			FUZZ_CHECK(!o.errorReason.empty());
			continue;
		}
		FUZZ_CHECK(o.errorStatus == 0 && o.errorReason.empty());
		if (o.state == HttpRequestParser::State::HEAD)
			continue;
		checkHandshake(o.request);
		if (o.state != HttpRequestParser::State::COMPLETE)
			continue;
		checkAccepted(o.request, limits);
		const std::string printed = print(o.request, seed);
		const std::vector<Outcome> again = parseConnection(printed, limits, {});
		FUZZ_CHECK_MSG(!again.empty() && again[0].state == HttpRequestParser::State::COMPLETE &&
		                   again[0].end == printed.size() && sameRequest(again[0].request, o.request),
		               "printed " + hexOf(printed) + " parsed as " + describe(again));
	}
	return 0;
}
