//
// PluginLoaderTest.cpp
//
// The loader against real libraries: a good plugin loads, every broken variant is refused with a
// message that names the plugin, the file and what is wrong.
//


#include "core/PluginLoader.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


using Switchboard::Core::PluginLoader;


namespace {

std::string fixture(const std::string& name)
{
	return std::string(SWITCHBOARD_FIXTURE_PLUGIN_DIR) + "/" + PluginLoader::libraryFileName(name);
}

bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}

} // namespace


class PluginLoaderTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PluginLoaderTest);
	CPPUNIT_TEST(testGoodPluginLoads);
	CPPUNIT_TEST(testMissingFile);
	CPPUNIT_TEST(testNotALibrary);
	CPPUNIT_TEST(testMissingEntryPoint);
	CPPUNIT_TEST(testAbiMajorMismatch);
	CPPUNIT_TEST(testBuildSignatureMismatch);
	CPPUNIT_TEST(testNameMismatch);
	CPPUNIT_TEST(testDescriptorChecksBothWays);
	CPPUNIT_TEST_SUITE_END();

public:
	void testGoodPluginLoads()
	{
		std::string error;
		auto library = PluginLoader::load(fixture("good"), "good", error);
		CPPUNIT_ASSERT_MESSAGE(error, library != nullptr);
		CPPUNIT_ASSERT_EQUAL(std::string("good"), std::string(library->descriptor().name));
		CPPUNIT_ASSERT_EQUAL(3u, library->descriptor().configKeyCount);
		Switchboard::Plugin* plugin = library->descriptor().create();
		CPPUNIT_ASSERT(plugin != nullptr);
		library->descriptor().destroy(plugin);
	}

	void testMissingFile()
	{
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load("/nonexistent/dir/x.so", "x", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "no library at /nonexistent/dir/x.so"));
	}

	void testNotALibrary()
	{
		std::string path = std::string(SWITCHBOARD_SOURCE_DIR) + "/README.md";
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load(path, "readme", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "plugin readme: cannot load"));
	}

	void testMissingEntryPoint()
	{
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load(fixture("no_entry"), "no_entry", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "exports no switchboard_plugin_entry entry point"));
	}

	void testAbiMajorMismatch()
	{
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load(fixture("abi_mismatch"), "abi_mismatch", error));
		std::string expected = "was built for SDK ABI " + std::to_string(Switchboard::ABI_MAJOR + 1) + "." +
		                       std::to_string(Switchboard::ABI_MINOR) + ", this host provides " +
		                       std::to_string(Switchboard::ABI_MAJOR);
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, expected));
	}

	void testBuildSignatureMismatch()
	{
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load(fixture("bad_signature"), "bad_signature", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "was built as 'gcc-0.0|some-other-stdlib"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, SWITCHBOARD_BUILD_SIGNATURE));
	}

	void testNameMismatch()
	{
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::load(fixture("wrong_name"), "wrong_name", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "declares the name 'someone_else'"));
	}

	void testDescriptorChecksBothWays()
	{
		// An older minor loads; a newer minor needs the full struct; a null descriptor is refused.
		Switchboard::PluginDescriptor d{};
		d.structSize = sizeof(d);
		d.abiMajor = Switchboard::ABI_MAJOR;
		d.abiMinor = Switchboard::ABI_MINOR + 1;
		d.buildSignature = SWITCHBOARD_BUILD_SIGNATURE;
		d.name = "x";
		d.create = [] { return static_cast<Switchboard::Plugin*>(nullptr); };
		d.destroy = [](Switchboard::Plugin*) {};
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		d.structSize = 16;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(nullptr, "x", "x.so", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "returned no descriptor"));
		d.structSize = sizeof(d);
		d.abiMajor = Switchboard::ABI_MAJOR - 1;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PluginLoaderTest);
