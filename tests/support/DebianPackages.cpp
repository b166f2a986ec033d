//
// DebianPackages.cpp
//
// Running cpack for this build tree and listing the packages it made.
//


#include "DebianPackages.h"
#include "BrowserTestSupport.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include <algorithm>
#include <chrono>
#include <exception>
#include <cppunit/TestAssert.h>
#include <cstdio>
#include <filesystem>
#include <sstream>


namespace Switchboard {
namespace Test {
namespace Debian {


std::string cpackProgram()
{
	std::filesystem::path beside = std::filesystem::path(SWITCHBOARD_CMAKE_COMMAND).parent_path() / "cpack";
	std::error_code ec;
	if (std::filesystem::is_regular_file(beside, ec))
		return beside.string();
	return Browser::findExecutable("cpack");
}


Packages build(const std::string& who, int timeoutMs)
{
	Packages p;
	std::string cpack = cpackProgram();
	p.dpkgDeb = Browser::findExecutable("dpkg-deb");
	if (cpack.empty())
		p.skipReason = "no cpack";
	else if (p.dpkgDeb.empty())
		p.skipReason = "no dpkg-deb (dpkg)";
	else if (Browser::findExecutable("dpkg-shlibdeps").empty())
		p.skipReason = "no dpkg-shlibdeps (dpkg-dev; scripts/install-deps.sh installs it)";
	if (!p.skipReason.empty())
		return p;
	p.dir = std::make_unique<TempDir>(who);
	auto started = std::chrono::steady_clock::now();
	TestServer::RunResult r = TestServer::runOnce(
	    {"-G", "DEB", "-B", p.dir->path(), "--config", SWITCHBOARD_BINARY_DIR "/CPackConfig.cmake"}, timeoutMs, cpack);
	p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	std::printf("\n%s: cpack took %.1f s\n", who.c_str(), p.seconds);
	if (r.exitCode != 0)
	{
		p.failure = "cpack failed: " + r.describe();
		return p;
	}
	for (const auto& entry : std::filesystem::directory_iterator(p.dir->path()))
	{
		std::string name = entry.path().filename().string();
		if (name.rfind("switchboard_", 0) == 0 && entry.path().extension() == ".deb")
			p.server = entry.path().string();
		else if (name.rfind("switchboard-sdk-dev_", 0) == 0 && entry.path().extension() == ".deb")
			p.sdk = entry.path().string();
	}
	if (p.server.empty() || p.sdk.empty())
		p.failure = "cpack made no switchboard_*.deb or switchboard-sdk-dev_*.deb: " + r.describe();
	return p;
}


std::vector<std::string> contents(const std::string& dpkgDeb, const std::string& deb)
{
	TestServer::RunResult r = TestServer::runOnce({"-c", deb}, 60000, dpkgDeb);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("dpkg-deb -c: " + r.describe(), 0, r.exitCode);
	std::stringstream listing(r.stdoutText);
	std::vector<std::string> paths;
	std::string line;
	while (std::getline(listing, line))
	{
		std::size_t at = line.find(" ./");
		if (at == std::string::npos)
			continue;
		std::string path = line.substr(at + 1);
		std::size_t link = path.find(" -> ");
		paths.push_back(link == std::string::npos ? path : path.substr(0, link));
	}
	return paths;
}


ChildProcess::Readiness waitForReadyz(ChildProcess& server, int adminPort, int timeoutMs)
{
	return server.waitReady(timeoutMs, 20, [&](int remainingMs) {
		try
		{
			return HttpTestClient::get("127.0.0.1", adminPort, "/readyz", {}, std::min(remainingMs, 1000)).status ==
			       200;
		}
		catch (const std::exception&)
		{
			return false;
		}
	});
}


} // namespace Debian
} // namespace Test
} // namespace Switchboard
