//
// BrowserTestSupport.cpp
//
// What the runners of the browser and Node.js scripts share (PeerJsBrowserTest, TlsClientsTest,
// PeerJsBrowserClusterTest): typed access to the JSON a script recorded, failing the test with the
// key's name instead of throwing, and reading the file it wrote.
//


#include "BrowserTestSupport.h"
#include <cppunit/TestAssert.h>
#include <fstream>
#include <sstream>


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


} // namespace Browser
} // namespace Test
} // namespace Switchboard
