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


#include "TempDir.h"
#include "TestServer.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
// setup.sh bounds npm ci to 300 s; run-together.sh bounds the driver to --budget plus 20 s.
const int SETUP_TIMEOUT_MS = 330000;
const int RUN_BUDGET_S = 60;
const int RUN_TIMEOUT_MS = 100000;
// Every step the driver reports; a missing one is a failure too.
const char* const CASES[] = {"a-register",
                             "a-sign-out",
                             "a-wrong-password",
                             "a-sign-in",
                             "a-create-server",
                             "a-create-text-channel",
                             "b-register",
                             "b-join-from-browse",
                             "a-sees-b-member",
                             "message-a-to-b",
                             "message-b-to-a",
                             "edit-live",
                             "delete-live",
                             "presence-invisible",
                             "presence-online",
                             "a-create-voice-channel",
                             "voice-join",
                             "webrtc-connected",
                             "voice-signal-relayed",
                             "remote-audio",
                             "gateway-stable",
                             "no-uncaught-errors",
                             "console-errors-expected"};


bool isFile(const std::string& path)
{
	struct stat info;
	return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string webRoot()
/// The web client's built files, or "" when this checkout has none beside it.
{
	const char* configured = std::getenv("SWITCHBOARD_CLIENTS_DIR");
	const std::string clients = configured != nullptr && *configured != '\0'
	                                ? std::string(configured)
	                                : std::string(SWITCHBOARD_SOURCE_DIR) + "/../shared/clients";
	const std::string dist = clients + "/together-web/dist";
	return isFile(dist + "/index.html") ? dist : std::string();
}

bool onPath(const std::string& tool)
{
	const char* path = std::getenv("PATH");
	std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
	std::string dir;
	while (std::getline(dirs, dir, ':'))
		if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0)
			return true;
	return false;
}

std::string whySkip()
/// Why this machine cannot run the test, or "".
{
	if (webRoot().empty())
		return "no Together web client (together-web/dist/index.html) in $SWITCHBOARD_CLIENTS_DIR or "
		       "../shared/clients beside the source tree (a bare clone)";
	if (::access("/usr/bin/chromium", X_OK) != 0)
		return "no /usr/bin/chromium (scripts/install-deps.sh --test installs it)";
	for (const char* tool : {"node", "npm"})
		if (!onPath(tool))
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	return "";
}

std::string readAll(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	std::ostringstream text;
	text << in.rdbuf();
	return text.str();
}

std::string str(const Object::Ptr& object, const std::string& key)
{
	if (!object->has(key) || object->isNull(key))
		return "";
	return object->get(key).isString() ? object->getValue<std::string>(key) : object->get(key).toString();
}

bool boolean(const Object::Ptr& object, const std::string& key)
{
	return object->has(key) && object->get(key).isBoolean() && object->getValue<bool>(key);
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
		                         "--web-root", webRoot(), "--budget", std::to_string(RUN_BUDGET_S)},
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
		std::string failures;
		std::size_t passed = 0;
		Array::Ptr cases = result->isArray("cases") ? result->getArray("cases") : Array::Ptr(new Array);
		for (const char* name : CASES)
		{
			Object::Ptr found;
			for (std::size_t i = 0; i < cases->size(); ++i)
			{
				Object::Ptr c = cases->getObject(static_cast<unsigned>(i));
				if (c && str(c, "name") == name)
					found = c;
			}
			if (!found)
			{
				failures += std::string("\n- ") + name + ": not reported by the driver";
				std::cout << "  MISSING " << name << std::endl;
				continue;
			}
			const bool pass = boolean(found, "pass");
			if (pass)
				++passed;
			std::cout << "  " << (pass ? "pass " : "FAIL ") << name << " (" << str(found, "ms") << " ms)" << std::endl;
			if (!pass)
				failures +=
				    std::string("\n- ") + name + " (" + str(found, "description") + "): " + str(found, "detail");
		}
		std::cout << "TogetherBrowserTest: " << passed << "/" << std::size(CASES) << " cases passed in "
		          << str(result, "durationMs") << " ms (Chromium " << str(result, "browser") << ")" << std::endl;
		if (!failures.empty() || !boolean(result, "completed") || run.exitCode != 0)
		{
			work.keep();
			const std::string fatal = str(result, "fatal");
			CPPUNIT_FAIL("the Together web client run failed (work dir " + work.path() + " kept: result.json, " +
			             "run/server.log, run/artifacts/*.png)" + (fatal.empty() ? "" : "\nfatal: " + fatal) +
			             failures + "\n" + run.describe());
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherBrowserTest);
