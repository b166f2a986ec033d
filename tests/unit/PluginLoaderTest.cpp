//
// PluginLoaderTest.cpp
//
// The loader against real libraries: a good plugin loads, every broken variant is refused with a
// message that names the plugin, the file and what is wrong.
//


#include "plugin/PluginLoader.h"
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
	CPPUNIT_TEST(testAbi3PluginsAreRefused);
	CPPUNIT_TEST(testOlderMinorPluginLoads);
	CPPUNIT_TEST(testSignatureIgnoresSdkHeaderText);
	CPPUNIT_TEST_SUITE_END();

public:
	void testGoodPluginLoads()
	{
		std::string error;
		auto library = PluginLoader::load(fixture("good"), "good", error);
		CPPUNIT_ASSERT_MESSAGE(error, library != nullptr);
		CPPUNIT_ASSERT_EQUAL(std::string("good"), std::string(library->descriptor().name));
		CPPUNIT_ASSERT_EQUAL(16u, library->descriptor().configKeyCount);
		// Dotted key names cross the boundary as they are.
		CPPUNIT_ASSERT_EQUAL(std::string("ws.idle_close.code"), std::string(library->descriptor().configKeys[5].name));
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
		// The host's own minor loads; a newer minor (a plugin that may call host functions this
		// host lacks) is refused; so is a descriptor smaller than ABI x.0's, another major and none.
		Switchboard::PluginDescriptor d{};
		d.structSize = sizeof(d);
		d.abiMajor = Switchboard::ABI_MAJOR;
		d.abiMinor = Switchboard::ABI_MINOR;
		d.buildSignature = SWITCHBOARD_BUILD_SIGNATURE;
		d.name = "x";
		d.create = [] { return static_cast<Switchboard::Plugin*>(nullptr); };
		d.destroy = [](Switchboard::Plugin*) {};
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		d.abiMinor = Switchboard::ABI_MINOR + 1;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "newer than this host's"));
		d.abiMinor = Switchboard::ABI_MINOR;
		d.structSize = 16;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "descriptor is too small"));
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(nullptr, "x", "x.so", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "returned no descriptor"));
		d.structSize = sizeof(d);
		d.abiMajor = Switchboard::ABI_MAJOR - 1;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
	}

	void testAbi3PluginsAreRefused()
	{
		// ABI 4.0 changed WebSocketOptions' layout again: a plugin built against 3.0 would hand the
		// host a shorter struct, so it must be rebuilt, and the refusal says so.
		CPPUNIT_ASSERT_EQUAL(4u, static_cast<unsigned>(Switchboard::ABI_MAJOR));
		CPPUNIT_ASSERT_EQUAL(4u, static_cast<unsigned>(Switchboard::ABI_MINOR));
		Switchboard::PluginDescriptor d{};
		d.structSize = sizeof(d);
		d.abiMajor = 3;
		d.abiMinor = 0;
		d.buildSignature = SWITCHBOARD_BUILD_SIGNATURE;
		d.name = "x";
		d.create = [] { return static_cast<Switchboard::Plugin*>(nullptr); };
		d.destroy = [](Switchboard::Plugin*) {};
		std::string error;
		CPPUNIT_ASSERT(!PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "was built for SDK ABI 3.0, this host provides 4.4"));
		CPPUNIT_ASSERT_MESSAGE(error, contains(error, "rebuild it against this host's SDK"));
		// 4.1 (names(), publishLocal), 4.2 (cluster()) and 4.4 (addLoopRoute) only appended to
		// classes the host implements, 4.3 a Plugin virtual the host calls only on 4.3 plugins:
		// 4.0 to 4.3 load.
		d.abiMajor = 4;
		d.abiMinor = 0;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		d.abiMinor = 1;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		d.abiMinor = 2;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
		d.abiMinor = 3;
		CPPUNIT_ASSERT_MESSAGE(error, PluginLoader::checkDescriptor(&d, "x", "x.so", error));
	}

	void testOlderMinorPluginLoads()
	{
		// A real library declaring an older minor (4.2), through dlopen as the host loads it.
		std::string error;
		auto library = PluginLoader::load(fixture("older_minor"), "older_minor", error);
		CPPUNIT_ASSERT_MESSAGE(error, library != nullptr);
		CPPUNIT_ASSERT_EQUAL(2u, static_cast<unsigned>(library->descriptor().abiMinor));
	}

	void testSignatureIgnoresSdkHeaderText()
	{
		// The signature names the toolchain only; the boundary's version is ABI_MAJOR.ABI_MINOR,
		// so editing a comment or a util/ header no longer refuses deployed plugins.
		std::string signature = SWITCHBOARD_BUILD_SIGNATURE;
		CPPUNIT_ASSERT_MESSAGE(signature, !contains(signature, "sdk-"));
		CPPUNIT_ASSERT_MESSAGE(signature, contains(signature, "|cxx"));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PluginLoaderTest);
