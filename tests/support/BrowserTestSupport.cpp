//
// BrowserTestSupport.cpp
//
// What the runners of the browser and Node.js scripts share (PeerJsBrowserTest, TlsClientsTest,
// PeerJsBrowserClusterTest, TogetherBrowserTest, TogetherBrowserClusterTest): typed access to the
// JSON a script recorded, failing the test with the key's name instead of throwing, and reading
// the file it wrote; for the runners that run themselves again in a private network and PID
// namespace (the cluster browser runners), finding the tools, the unshare(1) command line and the
// namespace's network.
//


#include "BrowserTestSupport.h"
#include "TestServer.h"
#include <cppunit/TestAssert.h>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>


namespace Switchboard {
namespace Test {
namespace Browser {


using Poco::JSON::Array;
using Poco::JSON::Object;


Object::Ptr object(const Object::Ptr& parent, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("result has no object '" + key + "'", parent->isObject(key));
	return parent->getObject(key);
}


Array::Ptr array(const Object::Ptr& parent, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("result has no array '" + key + "'", parent->isArray(key));
	return parent->getArray(key);
}


bool isNull(const Object::Ptr& parent, const std::string& key)
{
	return !parent->has(key) || parent->isNull(key);
}


std::string text(const Object::Ptr& parent, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("result has no string '" + key + "'", parent->has(key) && parent->get(key).isString());
	return parent->getValue<std::string>(key);
}


std::string textOrNull(const Object::Ptr& parent, const std::string& key)
{
	return isNull(parent, key) ? "null" : parent->get(key).toString();
}


bool flag(const Object::Ptr& parent, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("result has no boolean '" + key + "'", parent->has(key) && parent->get(key).isBoolean());
	return parent->getValue<bool>(key);
}


long number(const Object::Ptr& parent, const std::string& key)
{
	CPPUNIT_ASSERT_MESSAGE("result has no number '" + key + "' (" + textOrNull(parent, key) + ")",
	                       parent->has(key) && parent->get(key).isNumeric());
	return static_cast<long>(parent->getValue<double>(key));
}


std::string readAll(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	std::ostringstream text;
	text << in.rdbuf();
	return text.str();
}


std::string findExecutable(const std::string& tool)
{
	const char* path = std::getenv("PATH");
	std::istringstream dirs(std::string(path != nullptr ? path : "/usr/bin:/bin") + ":/usr/sbin:/sbin");
	std::string dir;
	while (std::getline(dirs, dir, ':'))
	{
		if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0)
			return dir + "/" + tool;
	}
	return "";
}


std::string selfPath()
{
	char buffer[PATH_MAX];
	const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
	if (n <= 0)
		throw std::runtime_error("readlink /proc/self/exe failed");
	return std::string(buffer, static_cast<std::size_t>(n));
}


std::string whyNoNetworkNamespace()
{
	for (const char* tool : {"unshare", "ip"})
	{
		if (findExecutable(tool).empty())
			return std::string("no '") + tool + "' on PATH (scripts/install-deps.sh --test installs it)";
	}
	std::vector<std::string> probe = {"--net"};
	if (::geteuid() != 0)
		probe.push_back("--map-root-user");
	probe.push_back("true");
	const TestServer::RunResult result = TestServer::runOnce(probe, 10000, findExecutable("unshare"));
	if (result.exitCode != 0)
		return "cannot create a network namespace: " + result.describe();
	return "";
}


std::vector<std::string> unshareArguments(const std::string& testName)
{
	std::vector<std::string> args = {"--net", "--pid", "--fork", "--kill-child"};
	if (::geteuid() != 0)
		args.push_back("--map-root-user");
	args.insert(args.end(), {"--", selfPath(), testName});
	return args;
}


void setUpNamespaceNetwork()
{
	const std::string ip = findExecutable("ip");
	const std::vector<std::vector<std::string>> commands = {
	    {"link", "set", "lo", "up"},
	    {"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
	    {"addr", "add", "10.213.0.1/24", "dev", "veth0"},
	    {"addr", "add", "10.213.0.2/24", "dev", "veth1"},
	    {"link", "set", "veth0", "up"},
	    {"link", "set", "veth1", "up"},
	    {"route", "add", "default", "via", "10.213.0.2", "dev", "veth0"}};
	for (const auto& command : commands)
	{
		const TestServer::RunResult result = TestServer::runOnce(command, 10000, ip);
		std::string line = "ip";
		for (const std::string& word : command)
			line += " " + word;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(line + ": " + result.describe(), 0, result.exitCode);
	}
}


} // namespace Browser
} // namespace Test
} // namespace Switchboard
