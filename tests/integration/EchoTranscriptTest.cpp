//
// EchoTranscriptTest.cpp
//
// A differential test of FakeHost against the host: one scenario of the echo plugin runs twice,
// in process under FakeHost (linking the plugin's code, echo_logic) and against the real binary
// over loopback sockets. Each run writes a transcript (requests and their answers, messages sent
// and received, close codes); the two must be equal, so FakeHost cannot drift from the host
// without a test failing.
//


#include "EchoPlugin.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "switchboard/testing/FakeHost.h"
#include "switchboard/util/Json.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>


namespace {


const char* const LOOPBACK = "127.0.0.1";
const char* const PREFIX = "/echo";
const char* const GREETING = "hi \xE2\x9C\x93"; // non-ASCII on purpose
const int TIMEOUT_MS = 5000;


struct Answer
/// The parts of an HTTP response a plugin decides (the host adds Date, Server and the like).
{
	int status = 0;
	std::string contentType;
	std::string location;
	std::string body;
};


class Driver
/// One way of running the scenario: FakeHost or the real binary. One WebSocket at a time.
{
public:
	virtual ~Driver() = default;

	virtual Answer http(const std::string& method, const std::string& path, const std::string& body) = 0;

	virtual int connect(const std::string& path) = 0;
	/// 101 when upgraded, else the refusal's status.

	virtual void send(const std::string& data, bool binary) = 0;

	virtual std::vector<std::string> receive(std::size_t count) = 0;
	/// The next count messages, each "TEXT <json string>" or "BINARY <json string>".

	virtual std::string closeByClient(int code, const std::string& reason) = 0;
	/// Sends a close frame; returns "CLOSE <code>" as the server answered it.

	virtual std::string closeByServer() = 0;
	/// Waits for the server to close; returns "CLOSE <code> <json reason>".
};


std::string printable(const std::string& text)
/// Bytes shown unambiguously: a JSON string, with bytes above ASCII as \xNN; long texts are
/// shortened to their start and length (equal starts and lengths are close enough to compare).
{
	const std::size_t LONGEST = 120;
	if (text.size() > LONGEST)
		return printable(text.substr(0, 40)) + "...(" + std::to_string(text.size()) + " bytes)";
	std::string out;
	for (unsigned char c : text)
	{
		if (c >= 0x80)
		{
			static const char* const hex = "0123456789abcdef";
			out += "\\x";
			out += hex[c >> 4];
			out += hex[c & 15];
		}
		else
			out += static_cast<char>(c);
	}
	return Switchboard::Json::quote(out);
}


std::string withoutTimestamps(std::string body)
/// created_ms is wall-clock time, which differs between the runs by design: replace the digits.
{
	const std::string key = "\"created_ms\":";
	for (std::size_t at = body.find(key); at != std::string::npos; at = body.find(key, at + 1))
	{
		std::size_t start = at + key.size();
		std::size_t end = start;
		while (end < body.size() && std::isdigit(static_cast<unsigned char>(body[end])))
			++end;
		body.replace(start, end - start, "T");
	}
	return body;
}


std::vector<std::string> runScenario(Driver& d)
{
	std::vector<std::string> lines;
	auto http = [&](const std::string& method, const std::string& path, const std::string& body = "") {
		Answer a = d.http(method, path, body);
		std::string line = method + " " + path + (body.empty() ? "" : " " + printable(body)) + " -> " +
		                   std::to_string(a.status) + " [" + a.contentType + "]";
		if (!a.location.empty())
			line += " Location: " + a.location;
		lines.push_back(line + " " + printable(withoutTimestamps(a.body)));
	};
	auto connect = [&](const std::string& path) {
		int status = d.connect(path);
		lines.push_back("WS connect " + path + " -> " + std::to_string(status));
		return status == 101;
	};
	auto exchange = [&](const std::string& data, bool binary) {
		d.send(data, binary);
		std::string line = std::string("WS send ") + (binary ? "BINARY " : "TEXT ") + printable(data) + " ->";
		for (const std::string& m : d.receive(1))
			line += " " + m;
		lines.push_back(line);
	};

	// Notes over HTTP: an empty list, a note with quotes, backslashes, a newline, a tab and
	// non-ASCII text, refusals the plugin decides, misses the host decides.
	http("GET", "/echo/notes");
	const std::string tricky = "say \"hi\" \\ back\nline\ttwo caf\xC3\xA9 \xE2\x9C\x93 </script>";
	http("POST", "/echo/notes", tricky);
	http("POST", "/echo/notes", "second");
	http("POST", "/echo/notes", "");
	http("POST", "/echo/notes", "\xFF\xFE not UTF-8");
	http("POST", "/echo/notes", std::string(4097, 'n'));
	http("GET", "/echo/notes");
	http("GET", "/echo/notes/1");
	http("GET", "/echo/notes/2/");
	http("GET", "/echo/notes/3");
	http("GET", "/echo/notes/abc");
	http("GET", "/echo/nothing-here");
	http("GET", "/echo/stats");

	// The WebSocket: the greeting, echoes of each kind, a close by the client.
	if (connect("/echo/ws"))
	{
		lines.push_back("WS greeting -> " + d.receive(1).at(0));
		exchange("h\xC3\xA9llo \"quoted\"\n", false);
		exchange(std::string("\x00\xFF\x01 bin", 7), true);
		exchange("", false);
		lines.push_back("WS close 1000 -> " + d.closeByClient(1000, "bye"));
	}
	// Text that is not UTF-8: the host closes with 1007 before the plugin sees it.
	if (connect("/echo/ws"))
	{
		lines.push_back("WS greeting -> " + d.receive(1).at(0));
		d.send("bad \xC3\x28 text", false);
		lines.push_back("WS send invalid UTF-8 -> " + d.closeByServer());
	}
	connect("/echo/elsewhere");
	http("GET", "/echo/stats");
	return lines;
}


// --- under FakeHost -----------------------------------------------------------------------------


class FakeDriver: public Driver
{
public:
	FakeDriver():
	    _host("echo", {}, PREFIX)
	{
		std::string error = _host.setConfig(Switchboard::Echo::echoDescriptor(), {{"greeting", GREETING}});
		if (!error.empty())
			throw std::runtime_error("setConfig: " + error);
		Switchboard::StartResult result = _host.start(_plugin);
		if (result.status != Switchboard::StartStatus::STARTED)
			throw std::runtime_error("start: " + result.message);
	}

	~FakeDriver() override { _host.stop(_plugin); }

	Answer http(const std::string& method, const std::string& path, const std::string& body) override
	{
		Switchboard::HttpResponse r = _host.request(method, path, body);
		Answer a;
		a.status = r.status;
		a.contentType = std::string(Switchboard::HttpText::findHeader(r.headers, "Content-Type"));
		a.location = std::string(Switchboard::HttpText::findHeader(r.headers, "Location"));
		a.body = r.body;
		return a;
	}

	int connect(const std::string& path) override
	{
		_id = _host.connect(path);
		return _id != 0 ? 101 : _host.lastRejectStatus();
	}

	void send(const std::string& data, bool binary) override
	{
		_host.deliver(_id, data, binary ? Switchboard::MessageKind::BINARY : Switchboard::MessageKind::TEXT);
	}

	std::vector<std::string> receive(std::size_t count) override
	{
		for (const Switchboard::SentMessage& m : _host.takeSent(_id))
			_pending.push_back((m.kind == Switchboard::MessageKind::BINARY ? "BINARY " : "TEXT ") + printable(m.data));
		std::vector<std::string> out;
		while (out.size() < count && !_pending.empty())
		{
			out.push_back(_pending.front());
			_pending.erase(_pending.begin());
		}
		while (out.size() < count)
			out.push_back("(nothing)");
		return out;
	}

	std::string closeByClient(int code, const std::string& reason) override
	{
		_host.disconnect(_id, static_cast<std::uint16_t>(code), reason);
		// The server answers a client's close by echoing its code (RFC 6455 5.5.1), unless it
		// had closed first.
		auto closed = _host.closeOf(_id);
		return "CLOSE " + std::to_string(closed ? closed->first : code);
	}

	std::string closeByServer() override
	{
		auto closed = _host.closeOf(_id);
		if (!closed)
			return "(still open)";
		return "CLOSE " + std::to_string(closed->first) + " " + printable(closed->second);
	}

private:
	Switchboard::FakeHost _host;
	Switchboard::Echo::EchoPlugin _plugin;
	Switchboard::ConnectionId _id = 0;
	std::vector<std::string> _pending;
};


// --- against the real binary ------------------------------------------------------------------------


class RealDriver: public Driver
{
public:
	explicit RealDriver(Switchboard::Test::TestServer& server):
	    _server(server)
	{
	}

	Answer http(const std::string& method, const std::string& path, const std::string& body) override
	{
		Switchboard::Test::HttpResponse r = Switchboard::Test::HttpTestClient::request(
		    LOOPBACK, _server.port("main"), method, path, {}, body, TIMEOUT_MS);
		Answer a;
		a.status = r.status;
		a.contentType = r.header("Content-Type");
		a.location = r.header("Location");
		a.body = r.body;
		return a;
	}

	int connect(const std::string& path) override
	{
		_client = std::make_unique<Switchboard::Test::WsTestClient>();
		return _client->connect(LOOPBACK, _server.port("main"), path, {}, TIMEOUT_MS).status;
	}

	void send(const std::string& data, bool binary) override
	{
		if (binary)
			_client->sendBinary(data);
		else
			_client->sendText(data);
	}

	std::vector<std::string> receive(std::size_t count) override
	{
		std::vector<std::string> out;
		while (out.size() < count)
		{
			Switchboard::Test::WsTestClient::Message m = _client->receiveMessage(TIMEOUT_MS);
			if (!m.ok())
				out.push_back("(nothing: " + m.error + ")");
			else if (m.opcode == Switchboard::Test::WsTestClient::OPCODE_BINARY)
				out.push_back("BINARY " + printable(m.payload));
			else
				out.push_back("TEXT " + printable(m.payload));
		}
		return out;
	}

	std::string closeByClient(int code, const std::string& reason) override
	{
		_client->sendClose(code, reason);
		Switchboard::Test::WsTestClient::CloseInfo info = _client->expectClose(TIMEOUT_MS);
		return "CLOSE " + std::to_string(info.code);
	}

	std::string closeByServer() override
	{
		Switchboard::Test::WsTestClient::CloseInfo info = _client->expectClose(TIMEOUT_MS);
		if (info.code == Switchboard::Test::WsTestClient::CloseInfo::TIMED_OUT)
			return "(still open)";
		return "CLOSE " + std::to_string(info.code) + " " + printable(info.reason);
	}

private:
	Switchboard::Test::TestServer& _server;
	std::unique_ptr<Switchboard::Test::WsTestClient> _client;
};


std::string numbered(const std::vector<std::string>& lines)
{
	std::string text;
	for (std::size_t i = 0; i < lines.size(); ++i)
		text += "  " + std::to_string(i + 1) + ". " + lines[i] + "\n";
	return text;
}


} // namespace


class EchoTranscriptTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(EchoTranscriptTest);
	CPPUNIT_TEST(testFakeHostMatchesTheHost);
	CPPUNIT_TEST_SUITE_END();

public:
	void testFakeHostMatchesTheHost()
	{
		std::vector<std::string> fake;
		{
			FakeDriver driver;
			fake = runScenario(driver);
		}

		Switchboard::Test::TestServer server;
		server.addPlugin("echo", "main", PREFIX, {{"greeting", GREETING}});
		server.start();
		std::vector<std::string> real;
		{
			RealDriver driver(server);
			real = runScenario(driver);
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		std::string report;
		for (std::size_t i = 0; i < std::max(fake.size(), real.size()); ++i)
		{
			const std::string f = i < fake.size() ? fake[i] : "(missing)";
			const std::string r = i < real.size() ? real[i] : "(missing)";
			if (f != r)
				report += "  line " + std::to_string(i + 1) + ":\n    FakeHost: " + f + "\n    host:     " + r + "\n";
		}
		CPPUNIT_ASSERT_MESSAGE("the transcripts differ\n" + report + "FakeHost:\n" + numbered(fake) + "host:\n" +
		                           numbered(real),
		                       report.empty());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(EchoTranscriptTest);
