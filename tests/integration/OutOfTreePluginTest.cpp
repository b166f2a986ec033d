//
// OutOfTreePluginTest.cpp
//
// What a third party does: install Switchboard, build a plugin in its own project against the
// installed SDK package (find_package(SwitchboardSDK)), and load it into the installed binary.
//


#include "HttpTestClient.h"
#include "TempDir.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <filesystem>


using namespace Switchboard::Test;


namespace {


void run(const std::string& what, const std::vector<std::string>& args, int timeoutMs = 300000)
{
	TestServer::RunResult r = TestServer::runOnce(args, timeoutMs, SWITCHBOARD_CMAKE_COMMAND);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": " + r.describe(), 0, r.exitCode);
}

} // namespace


class OutOfTreePluginTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(OutOfTreePluginTest);
	CPPUNIT_TEST(testBuildAgainstInstalledSdkAndLoad);
	CPPUNIT_TEST_SUITE_END();

public:
	void testBuildAgainstInstalledSdkAndLoad()
	{
		TempDir work("switchboard-outoftree");
		std::string prefix = work.path() + "/prefix";
		std::string pluginBuild = work.path() + "/plugin-build";
		std::string pluginSource = work.path() + "/plugin-source";

		run("install", {"--install", SWITCHBOARD_BINARY_DIR, "--prefix", prefix});
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/include/switchboard/SDK.h"));
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/include/switchboard/Abi.h"));
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/include/switchboard/util/Json.h"));
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/include/switchboard/testing/FakeHost.h"));
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/lib/cmake/SwitchboardSDK/SwitchboardSDKConfig.cmake"));
		CPPUNIT_ASSERT(std::filesystem::exists(prefix + "/etc/switchboard/switchboard.ini"));

		// A copy of the example, as a third party would start: its own directory, nothing of the tree.
		std::filesystem::create_directories(pluginSource + "/standalone");
		std::string echoDir = std::string(SWITCHBOARD_SOURCE_DIR) + "/plugins/echo";
		for (const char* file : {"EchoPlugin.cpp", "EchoPlugin.h"})
			std::filesystem::copy_file(echoDir + "/" + file, pluginSource + "/" + file);
		std::filesystem::copy_file(echoDir + "/standalone/CMakeLists.txt", pluginSource + "/standalone/CMakeLists.txt");

		run("configure", {"-S", pluginSource + "/standalone", "-B", pluginBuild, "-DCMAKE_BUILD_TYPE=Release",
		                  "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_CXX_COMPILER=" SWITCHBOARD_CXX_COMPILER});
		run("build", {"--build", pluginBuild});
		CPPUNIT_ASSERT(std::filesystem::exists(pluginBuild + "/echo.so"));

		// The installed binary loads the out-of-tree plugin.
		TestServer server(prefix + "/bin/switchboard");
		server.set("host", "plugin_dir", pluginBuild);
		server.addPlugin("echo", "main", "/echo", {{"greeting", "built outside"}});
		server.start();
		WsTestClient client;
		CPPUNIT_ASSERT_EQUAL(101, client.connect("127.0.0.1", server.port("main"), "/echo/ws").status);
		CPPUNIT_ASSERT_EQUAL(std::string("built outside"), client.receiveMessage().payload);
		client.sendText("round trip");
		CPPUNIT_ASSERT_EQUAL(std::string("round trip"), client.receiveMessage().payload);
		HttpResponse plugins = HttpTestClient::get("127.0.0.1", server.adminPort(), "/plugins");
		CPPUNIT_ASSERT_MESSAGE(plugins.body, plugins.body.find("\"state\":\"running\"") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(OutOfTreePluginTest);
