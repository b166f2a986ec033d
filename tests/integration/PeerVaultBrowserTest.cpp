//
// PeerVaultBrowserTest.cpp
//
// A small event viewer page of our own (tests/browser/peervault/index.html) in headless Chromium
// against the peervault plugin (/work/shared/protocols/peervault.md): it subscribes to
// file_operations and system, two events published over HTTP and the 1 s metrics ticker's
// system_metrics events arrive, and the page shows them as rows, read back from its DOM.
// tests/browser/peervault/run-peervault.sh runs it in a private network namespace;
// peervault-driver.js writes one named case per check; this runner asserts that every case passed
// and prints the details.
//
// Needs Node.js with npm (tests/browser/setup.sh installs playwright-core into the build tree's
// browser-test-cache) and /usr/bin/chromium; without them the test says why and skips. The page is
// part of this repository, so nothing beside the source tree is needed.
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
#include <unistd.h>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const std::string BROWSER_DIR = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/browser";
const std::string NPM_CACHE = std::string(SWITCHBOARD_BINARY_DIR) + "/browser-test-cache";
// setup.sh bounds npm ci to 300 s; run-peervault.sh bounds the driver to --budget plus 20 s.
const int SETUP_TIMEOUT_MS = 330000;
const int RUN_BUDGET_S = 45;
const int RUN_TIMEOUT_MS = 90000;
// Every check the driver reports; a missing one is a failure too.
const char* const CASES[] = {"page-loaded",
                             "socket-open",
                             "subscribed",
                             "publish-accepted",
                             "published-shown",
                             "ticker-shown",
                             "only-subscribed-topics",
                             "socket-stable",
                             "no-uncaught-errors",
                             "no-console-errors"};


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
/// Why this machine cannot run the test (no browser tooling), or "".
{
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


class PeerVaultBrowserTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultBrowserTest);
	CPPUNIT_TEST(testPageShowsPublishedAndTickerEvents);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPageShowsPublishedAndTickerEvents()
	/// Every check of the page run passes.
	{
		const std::string skip = whySkip();
		if (!skip.empty())
		{
			std::cout << "\nPeerVaultBrowserTest: skipped: " << skip << std::endl;
			return;
		}
		TestServer::RunResult setup = TestServer::runOnce({NPM_CACHE}, SETUP_TIMEOUT_MS, BROWSER_DIR + "/setup.sh");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("tests/browser/setup.sh: " + setup.describe(), 0, setup.exitCode);

		TempDir work("switchboard-peervault-browser");
		const std::string out = work.filePath("result.json");
		TestServer::RunResult run =
		    TestServer::runOnce({"--cache", NPM_CACHE, "--work", work.filePath("run"), "--out", out, "--binary",
		                         TestServer::defaultBinary(), "--plugin-dir", TestServer::defaultPluginDir(),
		                         "--budget", std::to_string(RUN_BUDGET_S)},
		                        RUN_TIMEOUT_MS, BROWSER_DIR + "/peervault/run-peervault.sh");
		std::cout << "\n" << run.stdoutText << std::flush;
		if (run.exitCode != 0 || !work.exists("result.json"))
			work.keep();
		CPPUNIT_ASSERT_MESSAGE("tests/browser/peervault/run-peervault.sh wrote no result: " + run.describe(),
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
			std::cout << "  " << (pass ? "pass " : "FAIL ") << name << " (" << str(found, "ms")
			          << " ms): " << str(found, "detail") << std::endl;
			if (!pass)
				failures +=
				    std::string("\n- ") + name + " (" + str(found, "description") + "): " + str(found, "detail");
		}
		std::cout << "PeerVaultBrowserTest: " << passed << "/" << std::size(CASES) << " cases passed in "
		          << str(result, "durationMs") << " ms (Chromium " << str(result, "browser") << ")" << std::endl;
		if (!failures.empty() || !boolean(result, "completed") || run.exitCode != 0)
		{
			work.keep();
			const std::string fatal = str(result, "fatal");
			CPPUNIT_FAIL("the PeerVault page run failed (work dir " + work.path() +
			             " kept: result.json, run/server.log, run/artifacts/page.png)" +
			             (fatal.empty() ? "" : "\nfatal: " + fatal) + failures + "\n" + run.describe());
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultBrowserTest);
