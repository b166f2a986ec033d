//
// TogetherBrowserSupport.cpp
//
// What the runners of tests/browser/together/together-driver.js share (TogetherBrowserTest on
// one server, TogetherBrowserClusterTest across two nodes): where the Together web client's built
// files are, the cases the driver must report, and the report of its result JSON.
//


#include "TogetherBrowserSupport.h"
#include "ReferenceClients.h"
#include "Poco/JSON/Array.h"
#include <cstdlib>
#include <iostream>
#include <sys/stat.h>


namespace Switchboard {
namespace Test {
namespace Browser {


using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


bool isFile(const std::string& path)
{
	struct stat info;
	return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}


std::string lenientText(const Object::Ptr& object, const std::string& key)
/// The member as text (a string as it is, anything else as JSON would show it), "" if absent.
{
	if (!object->has(key) || object->isNull(key))
		return "";
	return object->get(key).isString() ? object->getValue<std::string>(key) : object->get(key).toString();
}


bool lenientFlag(const Object::Ptr& object, const std::string& key)
/// True only for a member that is the boolean true.
{
	return object->has(key) && object->get(key).isBoolean() && object->getValue<bool>(key);
}


} // namespace


std::string togetherWebRoot()
{
	const std::string dist = referenceClientsDir() + "/together-web/dist";
	return isFile(dist + "/index.html") ? dist : std::string();
}


std::string whyNoTogetherWebClient()
{
	if (!togetherWebRoot().empty())
		return "";
	return "no Together web client (together-web/dist/index.html) in $SWITCHBOARD_CLIENTS_DIR or "
	       "../shared/clients beside the source tree (a bare clone)";
}


const std::vector<std::string>& togetherBrowserCases()
{
	static const std::vector<std::string> cases = {"a-register",
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
	return cases;
}


TogetherCaseReport reportTogetherCases(const Object::Ptr& result, const std::string& runner)
{
	TogetherCaseReport report;
	report.expected = togetherBrowserCases().size();
	report.completed = lenientFlag(result, "completed");
	report.fatal = lenientText(result, "fatal");
	Array::Ptr cases = result->isArray("cases") ? result->getArray("cases") : Array::Ptr(new Array);
	for (const std::string& name : togetherBrowserCases())
	{
		Object::Ptr found;
		for (std::size_t i = 0; i < cases->size(); ++i)
		{
			Object::Ptr c = cases->getObject(static_cast<unsigned>(i));
			if (c && lenientText(c, "name") == name)
				found = c;
		}
		if (!found)
		{
			report.failures += "\n- " + name + ": not reported by the driver";
			std::cout << "  MISSING " << name << std::endl;
			continue;
		}
		const bool pass = lenientFlag(found, "pass");
		if (pass)
			++report.passed;
		std::cout << "  " << (pass ? "pass " : "FAIL ") << name << " (" << lenientText(found, "ms") << " ms)"
		          << std::endl;
		if (!pass)
			report.failures +=
			    "\n- " + name + " (" + lenientText(found, "description") + "): " + lenientText(found, "detail");
	}
	std::cout << runner << ": " << report.passed << "/" << report.expected << " cases passed in "
	          << lenientText(result, "durationMs") << " ms (Chromium " << lenientText(result, "browser") << ")"
	          << std::endl;
	return report;
}


} // namespace Browser
} // namespace Test
} // namespace Switchboard
