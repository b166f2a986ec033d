//
// GovpnTestSupport.cpp
//


#include "GovpnTestSupport.h"
#include "ReferenceClients.h"
#include <cppunit/TestAssert.h>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>


namespace Switchboard {
namespace Test {
namespace Govpn {


namespace {

const char* BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string regexQuote(const std::string& text)
{
	static const std::string special = "\\^$.|?*+()[]{}";
	std::string out;
	for (char c : text)
	{
		if (special.find(c) != std::string::npos)
			out += '\\';
		out += c;
	}
	return out;
}

} // namespace

std::string base64Encode(const std::string& bytes)
{
	std::string out;
	std::size_t i = 0;
	for (; i + 2 < bytes.size(); i += 3)
	{
		unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) |
		                 (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
		out += BASE64_ALPHABET[(value >> 18) & 63];
		out += BASE64_ALPHABET[(value >> 12) & 63];
		out += BASE64_ALPHABET[(value >> 6) & 63];
		out += BASE64_ALPHABET[value & 63];
	}
	std::size_t rest = bytes.size() - i;
	if (rest == 1)
	{
		unsigned value = static_cast<unsigned char>(bytes[i]) << 16;
		out += BASE64_ALPHABET[(value >> 18) & 63];
		out += BASE64_ALPHABET[(value >> 12) & 63];
		out += "==";
	}
	else if (rest == 2)
	{
		unsigned value = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
		out += BASE64_ALPHABET[(value >> 18) & 63];
		out += BASE64_ALPHABET[(value >> 12) & 63];
		out += BASE64_ALPHABET[(value >> 6) & 63];
		out += '=';
	}
	return out;
}

std::string base64Decode(const std::string& text)
/// Padded standard base64; throws on anything else.
{
	std::string out;
	if (text.size() % 4 != 0)
		throw std::runtime_error("base64 length: " + text);
	for (std::size_t i = 0; i < text.size(); i += 4)
	{
		unsigned value = 0;
		int padding = 0;
		for (std::size_t j = 0; j < 4; ++j)
		{
			char c = text[i + j];
			value <<= 6;
			if (c == '=')
			{
				++padding;
				continue;
			}
			const char* position = std::strchr(BASE64_ALPHABET, c);
			if (position == nullptr || c == '\0' || padding > 0)
				throw std::runtime_error("base64 character: " + text);
			value |= static_cast<unsigned>(position - BASE64_ALPHABET);
		}
		out += static_cast<char>((value >> 16) & 0xFF);
		if (padding < 2)
			out += static_cast<char>((value >> 8) & 0xFF);
		if (padding < 1)
			out += static_cast<char>(value & 0xFF);
	}
	return out;
}

std::string jsonQuote(const std::string& text)
/// text as a JSON string (only " and \ occur in our compact inner JSON).
{
	std::string out = "\"";
	for (char c : text)
	{
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	return out + "\"";
}

std::string jsonUnquote(const std::string& quoted)
{
	if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"')
		throw std::runtime_error("not a JSON string: " + quoted);
	std::string out;
	for (std::size_t i = 1; i + 1 < quoted.size(); ++i)
	{
		if (quoted[i] == '\\' && i + 2 < quoted.size())
			++i;
		out += quoted[i];
	}
	return out;
}

std::string publicKey(int index)
/// A distinct valid public key: the base64 of 32 bytes.
{
	std::string bytes(32, '\0');
	for (int i = 0; i < 32; ++i)
		bytes[static_cast<std::size_t>(i)] = static_cast<char>(index * 37 + i * 11 + 1);
	return base64Encode(bytes);
}

std::string payloadIn(Mode mode, const std::string& inner)
{
	switch (mode)
	{
		case MODE_BASE64:
			return "\"" + base64Encode(inner) + "\"";
		case MODE_OBJECT:
			return inner;
		case MODE_STRING:
			return jsonQuote(inner);
	}
	return inner;
}

std::string envelope(Mode mode, const std::string& messageId, const std::string& type, const std::string& inner)
/// A client frame (no trailing newline).
{
	return "{\"message_id\":\"" + messageId + "\",\"type\":\"" + type + "\",\"payload\":" + payloadIn(mode, inner) +
	       "}";
}

std::string serverFrame(Mode mode, const std::string& messageId, const std::string& type, const std::string& inner)
/// A server frame as §4 writes it, with its trailing newline.
{
	return envelope(mode, messageId, type, inner) + "\n";
}


std::string receiveText(WsTestClient& client, int timeoutMs)
{
	WsTestClient::Message message = client.receiveMessage(timeoutMs);
	CPPUNIT_ASSERT_MESSAGE("no frame: " + message.error, message.ok());
	CPPUNIT_ASSERT_EQUAL(static_cast<int>(WsTestClient::OPCODE_TEXT), message.opcode);
	return message.payload;
}

void expectExact(WsTestClient& client, const std::string& frame)
{
	CPPUNIT_ASSERT_EQUAL(frame, receiveText(client));
}

void expectQuiet(WsTestClient& client, int timeoutMs)
{
	WsTestClient::Message message = client.receiveMessage(timeoutMs);
	CPPUNIT_ASSERT_MESSAGE("unexpected frame: " + message.payload, message.timedOut());
}

std::vector<std::string> expectFrame(WsTestClient& client, Mode mode, const std::string& messageId,
                                     const std::string& type, const std::string& innerTemplate)
/// Receives one frame and checks it byte for byte against the frame of innerTemplate in mode, where
/// the server-generated values are written as <ROOM> (room id), <CONN> (connection id), <NUM>
/// (an integer) and <TIME> (an RFC 3339 timestamp). Returns those values in order.
{
	static const std::vector<std::pair<std::string, std::string>> tokens = {
	    {"<ROOM>", "([0-9a-f]{16})"},
	    {"<CONN>", "(c-[0-9a-f]{16})"},
	    {"<NUM>", "([0-9]+)"},
	    {"<TIME>", "([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)"}};
	std::string frame = receiveText(client);
	static const std::regex envelopePattern("^\\{\"message_id\":\"([^\"]*)\",\"type\":\"([A-Za-z]+)\",\"payload\":"
	                                        "([\\s\\S]*)\\}\n$");
	std::smatch parts;
	CPPUNIT_ASSERT_MESSAGE("envelope of: " + frame, std::regex_match(frame, parts, envelopePattern));
	std::string payload = parts[3].str();
	std::string inner;
	if (mode == MODE_OBJECT)
		inner = payload;
	else if (mode == MODE_BASE64)
		inner = base64Decode(jsonUnquote(payload));
	else
		inner = jsonUnquote(payload);

	std::string pattern;
	std::vector<std::string> pieces;
	std::size_t position = 0;
	while (position < innerTemplate.size())
	{
		std::size_t next = std::string::npos;
		const std::pair<std::string, std::string>* found = nullptr;
		for (const auto& token : tokens)
		{
			std::size_t at = innerTemplate.find(token.first, position);
			if (at < next)
			{
				next = at;
				found = &token;
			}
		}
		if (found == nullptr)
		{
			pattern += regexQuote(innerTemplate.substr(position));
			pieces.push_back(innerTemplate.substr(position));
			break;
		}
		pattern += regexQuote(innerTemplate.substr(position, next - position)) + found->second;
		pieces.push_back(innerTemplate.substr(position, next - position));
		position = next + found->first.size();
	}
	std::smatch values;
	CPPUNIT_ASSERT_MESSAGE("frame " + frame + " (inner " + inner + ") does not match " + innerTemplate,
	                       std::regex_match(inner, values, std::regex(pattern)));
	std::vector<std::string> captured;
	std::string expectedInner;
	for (std::size_t i = 0; i < pieces.size(); ++i)
	{
		expectedInner += pieces[i];
		if (i + 1 < values.size())
		{
			captured.push_back(values[i + 1].str());
			expectedInner += values[i + 1].str();
		}
	}
	CPPUNIT_ASSERT_EQUAL(serverFrame(mode, messageId, type, expectedInner), frame);
	return captured;
}

void connectWs(WsTestClient& client, TestServer& server, const WsTestClient::Headers& headers)
{
	HttpResponse response = client.connect(LOOPBACK, server.port("govpn"), "/ws", headers, WAIT_MS);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(response.rawHead, 101, response.status);
}

std::string pingReply(Mode mode, const std::string& messageId, WsTestClient& client)
/// Sends Ping {timestamp:42} in mode and checks the reply byte for byte; returns server_timestamp.
{
	client.sendText(envelope(mode, messageId, "Ping", "{\"timestamp\":42}"));
	return expectFrame(client, mode, messageId, "Ping",
	                   "{\"client_timestamp\":42,\"server_timestamp\":<NUM>,\"status\":\"ok\"}")
	    .at(0);
}

std::string createRoom(WsTestClient& client, const std::string& messageId, const std::string& key,
                       const std::string& name, const std::string& password)
{
	client.sendText(
	    envelope(MODE_OBJECT, messageId, "CreateRoom",
	             "{\"room_name\":\"" + name + "\",\"password\":\"" + password + "\",\"public_key\":\"" + key + "\"}"));
	return expectFrame(client, MODE_OBJECT, messageId, "RoomCreated",
	                   "{\"password\":\"" + password + "\",\"public_key\":\"" + key +
	                       "\",\"room_id\":\"<ROOM>\",\"room_name\":\"" + name + "\"}")
	    .at(0);
}


void startGovpn(TestServer& server, const TestServer::Keys& extraKeys)
{
	server.addListener("govpn");
	TestServer::Keys keys = {{"rate_limit_burst", "100"}};
	for (const auto& entry : extraKeys)
		keys[entry.first] = entry.second;
	server.addPlugin("govpn", "govpn", "", keys);
	server.start();
}


namespace {

const int CLIENT_BUILD_TIMEOUT_MS = 600000; // apt-get may have to install Go first
const int CLIENT_RUN_TIMEOUT_MS = 120000;

bool isRegularFile(const std::string& path)
{
	struct stat info;
	return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string realClientSourceDir()
/// The reference client's directory, or "" when this checkout has none.
{
	const std::string dir = referenceClientsDir() + "/govpn-client";
	return isRegularFile(dir + "/build.sh") ? dir : std::string();
}

} // namespace


std::string realClientBinary(const std::string& runner)
{
	static std::string binary;
	static bool tried = false;
	if (tried)
		return binary;
	tried = true;
	const std::string source = realClientSourceDir();
	if (source.empty())
	{
		std::cout << "\n"
		          << runner
		          << ": skipped: no GoVPN reference client (govpn-client/build.sh) in $SWITCHBOARD_CLIENTS_DIR or "
		             "../shared/clients beside the source tree (a bare clone)"
		          << std::endl;
		return binary;
	}
	// A directory per runner: two runners under ctest -j must not write one file at once.
	std::string output = std::string(SWITCHBOARD_BINARY_DIR) + "/govpn-client";
	::mkdir(output.c_str(), 0755);
	output += "/" + runner;
	::mkdir(output.c_str(), 0755);
	output += "/govpn-client";
	const TestServer::RunResult build =
	    TestServer::runOnce({source + "/build.sh", output}, CLIENT_BUILD_TIMEOUT_MS, "/bin/bash");
	CPPUNIT_ASSERT_MESSAGE("building the GoVPN reference client: " + build.describe(),
	                       build.exitCode == 0 && isRegularFile(output));
	binary = output;
	return binary;
}


TestServer::RunResult runRealClient(const std::string& binary, const std::string& url)
{
	// The client starts its reader goroutine before it marks itself connected; when the
	// goroutine wins that race it stops at once and the client never sees a reply. One
	// processor makes the goroutine start only once Connect blocks (a client-side race the
	// server cannot influence; docs/protocols/govpn.md §17).
	::setenv("GOMAXPROCS", "1", 1);
	TestServer::RunResult run = TestServer::runOnce({url}, CLIENT_RUN_TIMEOUT_MS, binary);
	std::cout << "\n" << run.stdoutText << std::flush;
	std::vector<std::string> lines;
	std::istringstream stream(run.stdoutText);
	for (std::string line; std::getline(stream, line);)
		lines.push_back(line);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(run.describe(), 0, run.exitCode);
	for (const std::string& line : lines)
		CPPUNIT_ASSERT_MESSAGE(run.describe(), line.rfind("FAIL", 0) != 0);
	for (const char* step :
	     {"ok   connect + initial ping", "ok   CreateRoom", "ok   JoinRoom", "ok   RenameRoom", "ok   GetUserRooms",
	      "ok   LeaveRoom", "  handler saw owner:UserRooms", "  handler saw owner:ClientIPInfo",
	      "  handler saw peer:UserRooms", "  handler saw peer:ClientIPInfo", "6 passed, 0 failed"})
	{
		bool found = false;
		for (const std::string& line : lines)
			found = found || line.rfind(step, 0) == 0;
		CPPUNIT_ASSERT_MESSAGE(std::string("missing step '") + step + "': " + run.describe(), found);
	}
	return run;
}


} // namespace Govpn
} // namespace Test
} // namespace Switchboard
