//
// BrowserTestSupport.h
//
// What the runners of the browser and Node.js scripts share (PeerJsBrowserTest, TlsClientsTest,
// PeerJsBrowserClusterTest, TogetherBrowserTest, TogetherBrowserClusterTest): typed access to the
// JSON a script recorded, failing the test with the key's name instead of throwing, and reading
// the file it wrote; for the runners that run themselves again in a private network and PID
// namespace (the cluster browser runners), finding the tools, the unshare(1) command line and the
// namespace's network.
//


#ifndef Switchboard_Test_BrowserTestSupport_INCLUDED
#define Switchboard_Test_BrowserTestSupport_INCLUDED


#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Browser {


Poco::JSON::Object::Ptr object(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member object (a CppUnit failure if there is none).

Poco::JSON::Array::Ptr array(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member array (a CppUnit failure if there is none).

bool isNull(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// True if the member is missing or null.

std::string text(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member string (a CppUnit failure if it is not one).

std::string textOrNull(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member as text, "null" if it is missing or null.

bool flag(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member boolean (a CppUnit failure if it is not one).

long number(const Poco::JSON::Object::Ptr& parent, const std::string& key);
/// The member number, truncated (a CppUnit failure, showing what is there, if it is not one).

std::string readAll(const std::string& path);
/// The file's bytes; "" if it cannot be read.


// --- a private network namespace for Chromium ------------------------------------------------
//
// Chromium gathers no ICE host candidates with only loopback or without a default route, so a
// runner whose pages use WebRTC runs itself again (one test) under unshare(1), as PID 1 of a new
// network and PID namespace (and a user namespace when not root), and there sets up lo plus a veth
// pair 10.213.0.1/24 - 10.213.0.2/24 with a default route via 10.213.0.2; nothing leaves it.

std::string findExecutable(const std::string& tool);
/// The tool's path on PATH (plus /usr/sbin and /sbin, where Debian keeps ip), or "".

std::string selfPath();
/// The running test runner's executable (/proc/self/exe); std::runtime_error if unreadable.

std::string whyNoNetworkNamespace();
/// Why unshare(1) cannot create a network namespace here (unshare or ip missing, or not
/// allowed), or "" if it can.

std::vector<std::string> unshareArguments(const std::string& testName);
/// unshare's arguments that run this runner again, only testName ("Fixture::test"), as PID 1 of
/// new network and PID namespaces, killed with its parent; --map-root-user when not root (a user
/// namespace gives the rights to configure the network namespace). Run them with
/// findExecutable("unshare").

void setUpNamespaceNetwork();
/// Inside the new namespace: lo up, and the veth pair with its addresses and the default route
/// (a CppUnit failure naming the ip command that failed).


} // namespace Browser
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_BrowserTestSupport_INCLUDED
