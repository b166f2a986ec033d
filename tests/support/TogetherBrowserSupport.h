//
// TogetherBrowserSupport.h
//
// What the runners of tests/browser/together/together-driver.js share (TogetherBrowserTest on
// one server, TogetherBrowserClusterTest across two nodes): where the Together web client's built
// files are, the cases the driver must report, and the report of its result JSON.
//


#ifndef Switchboard_Test_TogetherBrowserSupport_INCLUDED
#define Switchboard_Test_TogetherBrowserSupport_INCLUDED


#include "Poco/JSON/Object.h"
#include <cstddef>
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Browser {


std::string togetherWebRoot();
/// The Together web client's built files (together-web/dist, with index.html) in
/// $SWITCHBOARD_CLIENTS_DIR, else in ../shared/clients beside the source tree; "" when this
/// checkout has none (a bare clone).

std::string whyNoTogetherWebClient();
/// Why togetherWebRoot() is "" (for a skip message), or "".

const std::vector<std::string>& togetherBrowserCases();
/// Every case together-driver.js reports, in its order; one it does not report is a failure too.


struct TogetherCaseReport
/// What reportTogetherCases() read from the driver's result.
{
	std::size_t passed = 0;
	std::size_t expected = 0;
	std::string failures;
	/// "\n- <name> (<description>): <detail>" per failed case, "\n- <name>: not reported by the
	/// driver" per missing one; "" when every case passed.
	bool completed = false;
	/// The driver's "completed": it went through every step without a fatal error.
	std::string fatal;
	/// The driver's "fatal", "" if none.
};


TogetherCaseReport reportTogetherCases(const Poco::JSON::Object::Ptr& result, const std::string& runner);
/// Prints one line per case of togetherBrowserCases() ("  pass <name> (<ms> ms)", "  FAIL ...",
/// "  MISSING <name>"), then "<runner>: N/M cases passed in D ms (Chromium V)"; never throws on a
/// member that is missing or of another type (it counts as absent).


} // namespace Browser
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TogetherBrowserSupport_INCLUDED
