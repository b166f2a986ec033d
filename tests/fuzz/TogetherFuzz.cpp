//
// TogetherFuzz.cpp
//
// Fuzz target: Together's inbound decoding (plugins/together, docs/protocols/together.md §1, §5,
// §6). The first input byte picks one of three modes:
//
//   0  REST bodies through the plugin's own readJsonBody() and Shape: a JSON object with a JSON
//      content type is accepted exactly when strict RFC 8259 (ReferenceJson.h) accepts it, the
//      refusals are 415 and 400 with their {"error"} bodies, and Shape's first problem names the
//      first field that breaks its rule (a second reader, JsonText, looks at the fields).
//   1  REST requests to the plugin in a FakeHost (a user, a server, a text and a voice channel
//      made at start): one route of the contract, its body, content type and token from the
//      input. Every answer is a status of the contract (never 500) with CORS headers; an error
//      is exactly {"error": "<message>"}, a success valid JSON or, for 204, nothing.
//   2  Gateway frames (0x1E-separated) on a session of that user: a frame that is not text, not
//      one JSON object or lacks a known string op closes the session with 4002 "Invalid message
//      format" and nothing else; HEARTBEAT gets exactly {"op":"HEARTBEAT_ACK"}; every other
//      frame gets nothing back and leaves the session open.
//


#include "FuzzSupport.h"
#include "HttpRules.h"
#include "JsonText.h"
#include "PluginHarness.h"
#include "ReferenceJson.h"
#include "ReferenceUtf8.h"
#include "TogetherPlugin.h"
#include "switchboard/util/HttpText.h"
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::Test::analyseJson;
using Switchboard::Test::analyseUtf8;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;
using Switchboard::Test::JsonAnalysis;


namespace {


const char* const CONTENT_TYPES[] = {
    "application/json", "application/json; charset=utf-8", "Application/JSON ;x=y", "text/plain", "",
    "application/jsonx"};


struct World
/// What the harness made at start, for the routes to name.
{
	std::string access;
	std::string refresh;
	std::string serverId;
	std::string textChannel;
	std::string voiceChannel;
};

World world;


std::string stringMember(const std::string& json, std::string_view name)
{
	std::string_view token;
	std::string value;
	FUZZ_CHECK_MSG(JsonText::member(json, name, token) && JsonText::stringValue(token, value), json);
	return value;
}


HttpResponse call(FakeHost& host, const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& contentType = "application/json")
{
	HeaderList headers;
	if (!contentType.empty())
		headers.emplace_back("Content-Type", contentType);
	if (!token.empty())
		headers.emplace_back("Authorization", "Bearer " + token);
	return host.request(method, path, body, std::move(headers));
}


void makeWorld(FakeHost& host, Together::TogetherPlugin&)
{
	HttpResponse r = call(host, "POST", "/auth/register", R"({"username":"fuzzer","password":"password123"})", "");
	FUZZ_CHECK_MSG(r.status == 201, r.body);
	world.access = stringMember(r.body, "access_token");
	world.refresh = stringMember(r.body, "refresh_token");
	r = call(host, "POST", "/servers", R"({"name":"fuzz"})", world.access);
	FUZZ_CHECK_MSG(r.status == 201, r.body);
	world.serverId = stringMember(r.body, "id");
	r = call(host, "POST", "/servers/" + world.serverId + "/channels", R"({"name":"t","type":"text"})", world.access);
	FUZZ_CHECK_MSG(r.status == 201, r.body);
	world.textChannel = stringMember(r.body, "id");
	r = call(host, "POST", "/servers/" + world.serverId + "/channels", R"({"name":"v","type":"voice"})", world.access);
	FUZZ_CHECK_MSG(r.status == 201, r.body);
	world.voiceChannel = stringMember(r.body, "id");
}


Test::PluginHarness<Together::TogetherPlugin>& harness()
{
	static Test::PluginHarness<Together::TogetherPlugin> instance(
	    "together", Together::togetherDescriptor().configKeys, Together::togetherDescriptor().configKeyCount,
	    {{"jwt_secret", "together-fuzz-secret-0123456789abcdef"},
	     {"auth_rate_limit.per_second", "0"},
	     {"ws.connect_rate.per_second", "0"},
	     {"ws.rate.per_second", "0"},
	     {"password.memlimit", "8192"},
	     {"password.opslimit", "1"},
	     {"access_token_ttl", "31536000"}},
	    makeWorld);
	return instance;
}


bool isErrorBody(const std::string& body)
/// Exactly {"error": <string>}.
{
	if (!analyseJson(body).valid || !JsonText::isValid(body))
		return false;
	std::size_t members = 0;
	bool ok = JsonText::forEachMember(body, [&](const std::string& name, std::string_view value) {
		++members;
		std::string text;
		return name == "error" && JsonText::stringValue(value, text) && !text.empty();
	});
	return ok && members == 1;
}


void checkAnswer(const HttpResponse& r, const std::string& what)
{
	static const int STATUSES[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429};
	FUZZ_CHECK_MSG(std::find(std::begin(STATUSES), std::end(STATUSES), r.status) != std::end(STATUSES),
	               std::to_string(r.status) + " " + r.body + "\n  for " + what);
	FUZZ_CHECK_MSG(!HttpText::findHeader(r.headers, "Access-Control-Allow-Methods").empty(), what);
	if (r.status >= 400)
	{
		FUZZ_CHECK_MSG(isErrorBody(r.body), std::to_string(r.status) + " " + hexOf(r.body) + "\n  for " + what);
		FUZZ_CHECK(HttpText::findHeader(r.headers, "Content-Type").rfind("application/json", 0) == 0);
	}
	else if (r.status == 204)
		FUZZ_CHECK(r.body.empty());
	else
		FUZZ_CHECK_MSG(analyseJson(r.body).valid && analyseUtf8(r.body).valid, hexOf(r.body) + "\n  for " + what);
}


bool strictObject(std::string_view text)
/// One JSON object that every reader here agrees on: UTF-8, and nested no deeper than JsonText reads.
{
	const JsonAnalysis json = analyseJson(text);
	return json.valid && json.top == '{' && json.containerDepth <= static_cast<std::size_t>(JsonText::MAX_DEPTH) &&
	       analyseUtf8(text).valid;
}


void checkBodyRules(FuzzInput& input)
{
	const std::size_t typeIndex = input.takeBelow(std::size(CONTENT_TYPES));
	const std::string contentType = CONTENT_TYPES[typeIndex];
	const bool required = input.takeBool();
	HttpRequest request;
	if (!contentType.empty())
		request.headers.emplace_back("Content-Type", contentType);
	request.body = std::string(input.rest());
	HttpResponse response;
	Poco::JSON::Object::Ptr body;
	Together::BodyStatus status = Together::BodyStatus::OK;
	const bool ok = Together::readJsonBody(request, response, required, body, &status);
	if (request.body.empty() && !required)
	{
		FUZZ_CHECK(ok && status == Together::BodyStatus::ABSENT && body.isNull());
		return;
	}
	const bool jsonType = typeIndex <= 2; // the first three name application/json
	if (!jsonType)
	{
		FUZZ_CHECK(!ok && response.status == 415);
		FUZZ_CHECK(response.body == R"({"error":"Content-Type must be application/json"})");
		return;
	}
	const bool object = strictObject(request.body);
	if (analyseUtf8(request.body).valid && analyseJson(request.body).containerDepth <= 64)
		FUZZ_CHECK_MSG(ok == object, (ok ? "accepted " : "refused ") + hexOf(request.body));
	if (!ok)
	{
		FUZZ_CHECK(response.status == 400 && response.body == R"({"error":"Invalid JSON body"})");
		return;
	}
	FUZZ_CHECK(!body.isNull() && status == Together::BodyStatus::OK);
	if (!object)
		return;

	// Shape: the first field that breaks its rule is the one named.
	std::string name;
	std::string description;
	std::string kind;
	bool present = false;
	bool isNull = false;
	Together::Shape shape(body);
	shape.requiredString("name", name).nullableString("description", description, present, isNull);
	shape.requiredEnum("type", {"text", "voice"}, kind);
	std::string expected;
	std::string_view token;
	std::string value;
	const bool hasName = JsonText::member(request.body, "name", token);
	if (!hasName || JsonText::isNull(token))
		expected = "name: missing";
	else if (!JsonText::stringValue(token, value))
		expected = "name: expected a string";
	else if (JsonText::member(request.body, "description", token) && !JsonText::isNull(token) &&
	         !JsonText::stringValue(token, value))
		expected = "description: expected a string or null";
	else if (!JsonText::member(request.body, "type", token) || JsonText::isNull(token))
		expected = "type: missing";
	else if (!JsonText::stringValue(token, value))
		expected = "type: expected a string";
	else if (value != "text" && value != "voice")
		expected = "type: expected one of text, voice";
	FUZZ_CHECK_MSG(shape.detail() == expected, shape.detail() + " != " + expected + " for " + hexOf(request.body));
	HttpResponse answer;
	FUZZ_CHECK(shape.answer(answer) == expected.empty());
	if (!expected.empty())
		FUZZ_CHECK(answer.status == 422 &&
		           answer.body == "{\"error\":" + Json::quote("Invalid request body: " + expected) + "}");
}


void checkRest(FuzzInput& input)
{
	struct Route
	{
		const char* method;
		const char* path; // S, T, V: the server and channel ids; Q: the input's query part
	};
	static const Route ROUTES[] = {{"POST", "/auth/register"},
	                               {"POST", "/auth/login"},
	                               {"POST", "/auth/refresh"},
	                               {"POST", "/auth/logout"},
	                               {"PATCH", "/users/@me"},
	                               {"POST", "/servers"},
	                               {"PATCH", "/servers/S"},
	                               {"POST", "/servers/S/channels"},
	                               {"PATCH", "/servers/S/channels/T"},
	                               {"POST", "/channels/T/messages"},
	                               {"GET", "/channels/T/messages?Q"},
	                               {"POST", "/channels/V/voice"},
	                               {"PATCH", "/channels/V/voice"},
	                               {"GET", "/api/Q"},
	                               {"PUT", "/servers/S"},
	                               {"POST", "/servers/Q/join"}};
	auto& h = harness();
	h.beginInput();
	const Route& route = ROUTES[input.takeBelow(std::size(ROUTES))];
	const std::string contentType = CONTENT_TYPES[input.takeBelow(std::size(CONTENT_TYPES))];
	const std::uint8_t auth = input.takeByte() % 4;
	const std::string token = auth == 0 ? world.access : auth == 1 ? "" : auth == 2 ? world.refresh : "x.y.z";
	const std::string query(input.takeUntil('\x1E'));
	const std::string body(input.rest());
	std::string path;
	for (const char* p = route.path; *p != '\0'; ++p)
	{
		switch (*p)
		{
			case 'S':
				path += world.serverId;
				break;
			case 'T':
				path += world.textChannel;
				break;
			case 'V':
				path += world.voiceChannel;
				break;
			case 'Q':
				path += query;
				break;
			default:
				path += *p;
		}
	}
	const HttpResponse r = call(h.host(), route.method, path, body, token, contentType);
	const std::string what = std::string(route.method) + " " + hexOf(path, 96) + " body " + hexOf(body, 96);
	checkAnswer(r, what);
	h.check(what);
}


void checkGateway(FuzzInput& input)
{
	static const char* const OPS[] = {"DISPATCH", "HEARTBEAT", "HEARTBEAT_ACK", "PRESENCE_UPDATE", "VOICE_SIGNAL"};
	auto& h = harness();
	h.beginInput();
	FakeHost& host = h.host();
	const ConnectionId c = host.connect("/ws?token=" + world.access);
	FUZZ_CHECK_MSG(c != 0, std::to_string(host.lastRejectStatus()));
	std::vector<SentMessage> sent = host.takeSent(c);
	FUZZ_CHECK(sent.size() == 1 && sent[0].data.rfind(R"({"op":"DISPATCH","t":"READY",)", 0) == 0);
	const bool binary = input.takeBool();
	for (std::size_t frames = 0; !input.empty() && frames < 32; ++frames)
	{
		const std::string frame(input.takeUntil('\x1E'));
		const bool text = !binary && analyseUtf8(frame).valid;
		host.deliver(c, frame, text ? MessageKind::TEXT : MessageKind::BINARY);
		sent = host.takeSent(c);
		std::string_view opToken;
		std::string op;
		const bool valid = text && strictObject(frame) && JsonText::member(frame, "op", opToken) &&
		                   JsonText::stringValue(opToken, op) &&
		                   std::find(std::begin(OPS), std::end(OPS), op) != std::end(OPS);
		const std::string what = "frame " + hexOf(frame);
		if (!valid)
		{
			const auto close = host.closeOf(c);
			FUZZ_CHECK_MSG(close && close->first == 4002 && close->second == "Invalid message format", what);
			FUZZ_CHECK_MSG(sent.empty(), what);
			h.check(what);
			return;
		}
		FUZZ_CHECK_MSG(host.isOpen(c), what);
		FUZZ_CHECK_MSG(sent.size() == (op == "HEARTBEAT" ? 1u : 0u), what);
		if (op == "HEARTBEAT")
			FUZZ_CHECK(sent[0].kind == MessageKind::TEXT && sent[0].data == R"({"op":"HEARTBEAT_ACK"})");
		h.check(what);
	}
	host.disconnect(c, CloseCode::NORMAL);
	h.check("disconnect");
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	switch (input.takeByte() % 3)
	{
		case 0:
			checkBodyRules(input);
			break;
		case 1:
			checkRest(input);
			break;
		default:
			checkGateway(input);
			break;
	}
	return 0;
}
