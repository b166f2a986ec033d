//
// ConsoleBrowserTest.cpp
//
// The admin console (host/console) in headless Chromium while this runner keeps PeerJS and echo
// traffic going: three PeerJS peers (two exchanging OFFER and ANSWER in a loop, one idle) and an
// echo client. tests/browser/console/console-driver.js opens the page (first without the token,
// then with #token=...), reads the figures back from its DOM and its charts, and writes one
// named case per check; this runner asserts that every case passed. It also saves the page, with
// its charts of this traffic, as console-screenshot.png in the build directory (1280x900; the
// picture in docs/operations.md is one such screenshot).
//
// Needs Node.js with npm (tests/browser/setup.sh installs playwright-core into the build tree's
// browser-test-cache) and /usr/bin/chromium; without them the test says why and skips. The page
// talks to loopback only and uses no WebRTC, so no network namespace is needed.
//


#include "BrowserTestSupport.h"
#include "TempDir.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <iostream>
#include <string>
#include <thread>
#include <unistd.h>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const char* LOOPBACK = "127.0.0.1";
const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
const std::string TOKEN = "browser-console-token-0123456789";
// setup.sh bounds npm ci to 300 s; the driver bounds itself to RUN_BUDGET_MS.
const int SETUP_TIMEOUT_MS = 330000;
const int RUN_BUDGET_MS = 90000;
const int RUN_TIMEOUT_MS = 120000;
const int PEERS = 3;
const char* const CASES[] = {"asks-for-token",     "token-from-fragment", "summary",       "rates-nonzero",
                             "peer-count",         "charts-nonzero",      "config-masked", "screenshot",
                             "no-uncaught-errors", "no-console-errors"};
const std::string SCREENSHOT = std::string(SWITCHBOARD_BINARY_DIR) + "/console-screenshot.png";
const unsigned SCREENSHOT_WIDTH = 1280;
const unsigned SCREENSHOT_HEIGHT = 900;
// A blank or broken page compresses to a few KiB; the console with its tables and charts does not.
const std::size_t SCREENSHOT_MIN_BYTES = 20000;


std::string whySkip()
{
	if (::access("/usr/bin/chromium", X_OK) != 0)
		return "no /usr/bin/chromium (scripts/install-deps.sh --test installs it)";
	for (const char* tool : {"node", "npm"})
	{
		if (Browser::findExecutable(tool).empty())
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	}
	return "";
}


unsigned bigEndian32(const std::string& bytes, std::size_t at)
{
	unsigned value = 0;
	for (std::size_t i = at; i < at + 4; ++i)
		value = (value << 8) | static_cast<unsigned char>(bytes[i]);
	return value;
}


std::string checkPng(const std::string& path)
/// Why the file is not a PNG of the screenshot's size, or "" if it is one.
{
	const std::string png = Browser::readAll(path);
	if (png.empty())
		return "no " + path;
	// The signature, then the IHDR chunk first: its width and height at bytes 16 and 20.
	if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || png.compare(12, 4, "IHDR") != 0)
		return path + " is not a PNG";
	if (bigEndian32(png, 16) != SCREENSHOT_WIDTH || bigEndian32(png, 20) != SCREENSHOT_HEIGHT)
		return path + " is " + std::to_string(bigEndian32(png, 16)) + "x" + std::to_string(bigEndian32(png, 20));
	if (png.size() < SCREENSHOT_MIN_BYTES)
		return path + " has only " + std::to_string(png.size()) + " bytes";
	return "";
}


std::string message(const std::string& type, const std::string& dst)
{
	return "{\"type\":\"" + type + "\",\"dst\":\"" + dst + "\",\"payload\":{\"sdp\":{\"type\":\"" +
	       (type == "OFFER" ? "offer" : "answer") + "\",\"sdp\":\"v=0\"}}}";
}


class Traffic
/// PeerJS offers and answers between alice and bob and echo round trips, about 20 a second each,
/// on a thread of its own until stop(). Carol stays registered, sending heartbeats only.
{
public:
	void open(int port)
	{
		for (int i = 0; i < PEERS; ++i)
		{
			const std::string id = ID[i];
			HttpResponse r = _peers[i].connect(LOOPBACK, port, "/peerjs?key=peerjs&id=" + id + "&token=t" + id);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(id, 101, r.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(id, std::string("{\"type\":\"OPEN\"}"),
			                             _peers[i].receiveMessage(5000).payload);
		}
		CPPUNIT_ASSERT_EQUAL(101, _echo.connect(LOOPBACK, port, "/echo/ws").status);
		_thread = std::thread([this] { run(); });
	}

	void stop()
	{
		_stop = true;
		if (_thread.joinable())
			_thread.join();
	}

	~Traffic() { stop(); }

	std::string error() const { return _error; }
	int rounds() const { return _rounds.load(); }

private:
	void run()
	{
		const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(RUN_TIMEOUT_MS + 10000);
		try
		{
			while (!_stop && std::chrono::steady_clock::now() < end)
			{
				_peers[0].sendText(message("OFFER", ID[1]));
				expect(_peers[1], "\"OFFER\"");
				_peers[1].sendText(message("ANSWER", ID[0]));
				expect(_peers[0], "\"ANSWER\"");
				_echo.sendText("ping " + std::to_string(_rounds.load()));
				expect(_echo, "ping ");
				if (_rounds.load() % 20 == 0)
					_peers[2].sendText("{\"type\":\"HEARTBEAT\"}"); // carol stays alive, silent otherwise
				++_rounds;
				std::this_thread::sleep_for(std::chrono::milliseconds(50));
			}
		}
		catch (const std::exception& e)
		{
			_error = e.what();
		}
	}

	static void expect(WsTestClient& client, const std::string& what)
	{
		// PeerJS HEARTBEAT answers are not sent by the server; anything else unexpected is an error.
		WsTestClient::Message m = client.receiveMessage(5000);
		if (!m.ok() || m.payload.find(what) == std::string::npos)
			throw std::runtime_error("expected " + what + ", got " + m.payload + " " + m.error);
	}

	static constexpr const char* ID[PEERS] = {"alice", "bob", "carol"};
	WsTestClient _peers[PEERS];
	WsTestClient _echo;
	std::thread _thread;
	std::atomic<bool> _stop{false};
	std::atomic<int> _rounds{0};
	std::string _error;
};


} // namespace


class ConsoleBrowserTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ConsoleBrowserTest);
	CPPUNIT_TEST(testPageShowsLiveFigures);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPageShowsLiveFigures()
	{
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::cout << "\nConsoleBrowserTest: skipped: " << skip << std::endl;
			return;
		}
		TestServer::RunResult setup = TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		TestServer server;
		server.addPlugin("peerjs", "main", "", {{"path", "/"}, {"key", "peerjs"}});
		server.addPlugin("echo", "main", "/echo");
		server.set("admin", "token", TOKEN);
		server.start();
		Traffic traffic;
		traffic.open(server.port("main"));

		TempDir work("switchboard-console-browser");
		const std::string out = work.filePath("result.json");
		std::remove(SCREENSHOT.c_str()); // the check below must see this run's picture
		TestServer::RunResult run =
		    TestServer::runOnce({BROWSER_DIR + "/console/console-driver.js", "--cache", NPM_CACHE, "--admin",
		                         "http://127.0.0.1:" + std::to_string(server.adminPort()), "--token", TOKEN, "--peers",
		                         std::to_string(PEERS), "--out", out, "--artifacts", work.filePath("artifacts"),
		                         "--budget-ms", std::to_string(RUN_BUDGET_MS), "--screenshot", SCREENSHOT},
		                        RUN_TIMEOUT_MS, Browser::findExecutable("node"));
		traffic.stop();
		std::cout << "\n" << run.stdoutText << "  (" << traffic.rounds() << " traffic rounds)" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("traffic: " + traffic.error(), traffic.error().empty());
		if (run.exitCode != 0 || !work.exists("result.json"))
			work.keep();
		CPPUNIT_ASSERT_MESSAGE("console-driver.js wrote no result: " + run.describe(), work.exists("result.json"));

		Object::Ptr result;
		try
		{
			result = Poco::JSON::Parser().parse(Browser::readAll(out)).extract<Object::Ptr>();
		}
		catch (const Poco::Exception& e)
		{
			work.keep();
			CPPUNIT_FAIL("unreadable " + out + ": " + e.displayText());
		}
		std::string failures;
		Array::Ptr cases = Browser::array(result, "cases");
		for (const char* name : CASES)
		{
			Object::Ptr found;
			for (std::size_t i = 0; i < cases->size(); ++i)
			{
				Object::Ptr c = cases->getObject(static_cast<unsigned>(i));
				if (c && c->optValue<std::string>("name", "") == name)
					found = c;
			}
			if (!found)
				failures += std::string("\n- ") + name + ": not reported by the driver";
			else if (!found->optValue<bool>("pass", false))
				failures += std::string("\n- ") + name + ": " + found->optValue<std::string>("detail", "");
		}
		if (!Browser::isNull(result, "fatal"))
			failures += "\n- fatal: " + Browser::text(result, "fatal");
		if (!failures.empty())
			work.keep();
		CPPUNIT_ASSERT_MESSAGE("console page checks failed (artifacts in " + work.path() + "):" + failures,
		                       failures.empty());
		const std::string badScreenshot = checkPng(SCREENSHOT);
		CPPUNIT_ASSERT_MESSAGE(badScreenshot, badScreenshot.empty());
		std::cout << "ConsoleBrowserTest: screenshot " << SCREENSHOT << std::endl;
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ConsoleBrowserTest);
