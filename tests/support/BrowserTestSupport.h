//
// BrowserTestSupport.h
//
// What the runners of the browser and Node.js scripts share (PeerJsBrowserTest, TlsClientsTest,
// PeerJsBrowserClusterTest): typed access to the JSON a script recorded, failing the test with the
// key's name instead of throwing, and reading the file it wrote.
//


#ifndef Switchboard_Test_BrowserTestSupport_INCLUDED
#define Switchboard_Test_BrowserTestSupport_INCLUDED


#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include <string>


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


} // namespace Browser
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_BrowserTestSupport_INCLUDED
