//
// TogetherBrowserTest.cpp
//
// The Together web client (a third-party reference client, its built dist/), served by the
// together plugin with web_root, in headless Chromium with two browser contexts (two users):
// register, sign out and in, a wrong password, a server and a text channel, the second user joins
// from Browse Servers, live messages both ways, edit and delete seen by the other user, a presence
// change, and a voice channel whose WebRTC peer connection reaches "connected" through
// VOICE_SIGNAL (Chromium's fake media devices). tests/browser/together/run-together.sh runs it in a
// private network namespace; together-driver.js reads the results from the pages' DOM and writes
// one named case per step; this runner asserts that every case passed and prints the details.
//
// The client is looked for in $SWITCHBOARD_CLIENTS_DIR, else in ../shared/clients beside the
// source tree (together-web/dist). Without it, or without Chromium or Node.js, the test says why
// and skips.
//


#include "BrowserTestSupport.h"
#include "TempDir.h"
#include "TestServer.h"
#include "TogetherBrowserSupport.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <iostream>
#include <string>
#include <unistd.h>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Browser;
using Poco::JSON::Object;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
// setup.sh bounds npm ci to 300 s; run-together.sh bounds the driver to --budget plus 20 s.
const int SETUP_TIMEOUT_MS = 330000;
const int RUN_BUDGET_S = 60;
const int RUN_TIMEOUT_MS = 100000;


std::string whySkip()
/// Why this machine cannot run the test, or "".
{
	const std::string noClient = whyNoTogetherWebClient();
	if (!noClient.empty())
		return noClient;
	if (::access("/usr/bin/chromium", X_OK) != 0)
		return "no /usr/bin/chromium (scripts/install-deps.sh --test installs it)";
	for (const char* tool : {"node", "npm"})
		if (findExecutable(tool).empty())
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	return "";
}


} // namespace


class TogetherBrowserTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherBrowserTest);
	CPPUNIT_TEST(testWebClientTwoUsers);
	CPPUNIT_TEST_SUITE_END();

public:
	void testWebClientTwoUsers()
	/// Every step of the two-user run passes.
	{
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::cout << "\nTogetherBrowserTest: skipped: " << skip << std::endl;
			return;
		}
		TestServer::RunResult setup = TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		TempDir work("switchboard-together-browser");
		const std::string out = work.filePath("result.json");
		TestServer::RunResult run =
		    TestServer::runOnce({"--cache", NPM_CACHE, "--work", work.filePath("run"), "--out", out, "--binary",
		                         TestServer::defaultBinary(), "--plugin-dir", TestServer::defaultPluginDir(),
		                         "--web-root", togetherWebRoot(), "--budget", std::to_string(RUN_BUDGET_S)},
		                        RUN_TIMEOUT_MS, BROWSER_DIR + "/together/run-together.sh");
		std::cout << "\n" << run.stdoutText << std::flush;
		if (run.exitCode != 0 || !work.exists("result.json"))
			work.keep();
		CPPUNIT_ASSERT_MESSAGE("tests/browser/together/run-together.sh wrote no result: " + run.describe(),
		                       work.exists("result.json"));
		Object::Ptr result;
		try
		{
			result = Poco::JSON::Parser().parse(readAll(out)).extract<Object::Ptr>();
		}
		catch (const Poco::Exception& e)
		{
			work.keep();
			CPPUNIT_FAIL("unreadable " + out + ": " + e.displayText());
		}

		// One line per case, then the failures with their details.
		const TogetherCaseReport report = reportTogetherCases(result, "TogetherBrowserTest");
		if (!report.failures.empty() || !report.completed || run.exitCode != 0)
		{
			work.keep();
			CPPUNIT_FAIL("the Together web client run failed (work dir " + work.path() + " kept: result.json, " +
			             "run/server.log, run/artifacts/*.png)" +
			             (report.fatal.empty() ? "" : "\nfatal: " + report.fatal) + report.failures + "\n" +
			             run.describe());
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherBrowserTest);
