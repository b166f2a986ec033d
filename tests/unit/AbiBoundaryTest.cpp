//
// AbiBoundaryTest.cpp
//
// The plugin boundary (the top-level SDK headers) may not change without an ABI bump: its hash,
// with comments and whitespace removed, must be the one sdk/abi-history.txt records for the
// version in Abi.h. Comments, util/ and testing/ change freely.
//


#include "switchboard/Abi.h"
#include "Poco/DigestEngine.h"
#include "Poco/SHA2Engine.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>


namespace {


std::string stripCommentsAndSpace(const std::string& source)
/// The tokens of a header as one line: comments removed, every run of whitespace one space.
/// String and character literals are kept as they are ("//" inside them is not a comment).
{
	std::string out;
	bool pendingSpace = false;
	auto emit = [&](char c) {
		if (pendingSpace && !out.empty())
			out += ' ';
		pendingSpace = false;
		out += c;
	};
	for (std::size_t i = 0; i < source.size(); ++i)
	{
		char c = source[i];
		char next = i + 1 < source.size() ? source[i + 1] : '\0';
		if (c == '/' && next == '/')
		{
			while (i < source.size() && source[i] != '\n')
				++i;
			pendingSpace = true;
		}
		else if (c == '/' && next == '*')
		{
			std::size_t end = source.find("*/", i + 2);
			i = end == std::string::npos ? source.size() : end + 1;
			pendingSpace = true;
		}
		else if (c == '"' || c == '\'')
		{
			emit(c);
			for (++i; i < source.size() && source[i] != c; ++i)
			{
				out += source[i];
				if (source[i] == '\\' && i + 1 < source.size())
					out += source[++i];
			}
			if (i < source.size())
				out += c;
		}
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\')
			pendingSpace = true; // a backslash-newline continues a macro: layout only
		else
			emit(c);
	}
	return out;
}


std::string sha256(const std::string& text)
{
	Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
	engine.update(text);
	return Poco::DigestEngine::digestToHex(engine.digest());
}


std::string boundaryHash(const std::filesystem::path& headerDir)
/// Every top-level header, in name order, each as "<name>\n<tokens>\n".
{
	std::vector<std::filesystem::path> headers;
	for (const auto& entry : std::filesystem::directory_iterator(headerDir))
	{
		if (entry.is_regular_file() && entry.path().extension() == ".h")
			headers.push_back(entry.path());
	}
	std::sort(headers.begin(), headers.end());
	std::string text;
	for (const auto& header : headers)
	{
		std::ifstream in(header, std::ios::binary);
		std::stringstream content;
		content << in.rdbuf();
		text += header.filename().string() + "\n" + stripCommentsAndSpace(content.str()) + "\n";
	}
	return sha256(text);
}


const std::filesystem::path SDK_DIR = std::filesystem::path(SWITCHBOARD_SOURCE_DIR) / "sdk";


} // namespace


class AbiBoundaryTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(AbiBoundaryTest);
	CPPUNIT_TEST(testCommentsAndLayoutDoNotCount);
	CPPUNIT_TEST(testCodeChangesCount);
	CPPUNIT_TEST(testBoundaryMatchesRecordedVersion);
	CPPUNIT_TEST(testHistoryIsOrderedAndUnique);
	CPPUNIT_TEST_SUITE_END();

public:
	void testCommentsAndLayoutDoNotCount()
	{
		std::string a = "virtual int f(int x) = 0; // does f\n/// more\nconst char* s = \"a // b\";\n";
		std::string b = "/* doc */ virtual int f(int x)\n\t= 0;\n\nconst char* s = \"a // b\"; // changed comment";
		CPPUNIT_ASSERT_EQUAL(stripCommentsAndSpace(a), stripCommentsAndSpace(b));
		CPPUNIT_ASSERT_EQUAL(std::string("virtual int f(int x) = 0; const char* s = \"a // b\";"),
		                     stripCommentsAndSpace(a));
	}

	void testCodeChangesCount()
	{
		CPPUNIT_ASSERT(stripCommentsAndSpace("virtual int f(int x) = 0;") !=
		               stripCommentsAndSpace("virtual int f(long x) = 0;"));
		CPPUNIT_ASSERT(stripCommentsAndSpace("const char* s = \"a\";") !=
		               stripCommentsAndSpace("const char* s = \"a b\";"));
	}

	void testBoundaryMatchesRecordedVersion()
	{
		std::string version = std::to_string(Switchboard::ABI_MAJOR) + "." + std::to_string(Switchboard::ABI_MINOR);
		std::vector<std::pair<std::string, std::string>> history = readHistory();
		std::string actual = boundaryHash(SDK_DIR / "include" / "switchboard");
		auto it = std::find_if(history.begin(), history.end(), [&](const auto& line) { return line.first == version; });
		CPPUNIT_ASSERT_MESSAGE("sdk/abi-history.txt has no line for ABI " + version + "; append '" + version + " " +
		                           actual + "'",
		                       it != history.end());
		CPPUNIT_ASSERT_MESSAGE("the plugin boundary (sdk/include/switchboard/*.h) changed but ABI " + version +
		                           " was not bumped: bump ABI_MAJOR (incompatible change) or ABI_MINOR (a virtual "
		                           "appended to a host-implemented class, a field appended to PluginDescriptor) in "
		                           "Abi.h and append '<version> " +
		                           actual + "' to sdk/abi-history.txt (see docs/sdk.md)",
		                       it->second == actual);
	}

	void testHistoryIsOrderedAndUnique()
	{
		std::vector<std::pair<std::string, std::string>> history = readHistory();
		CPPUNIT_ASSERT(!history.empty());
		std::pair<long, long> previous{-1, -1};
		for (const auto& [version, hash] : history)
		{
			std::size_t dot = version.find('.');
			CPPUNIT_ASSERT_MESSAGE(version, dot != std::string::npos && hash.size() == 64);
			std::pair<long, long> current{std::stol(version.substr(0, dot)), std::stol(version.substr(dot + 1))};
			CPPUNIT_ASSERT_MESSAGE("versions must grow line by line: " + version, current > previous);
			previous = current;
		}
		CPPUNIT_ASSERT_EQUAL_MESSAGE("the last line is the current version",
		                             std::to_string(Switchboard::ABI_MAJOR) + "." +
		                                 std::to_string(Switchboard::ABI_MINOR),
		                             history.back().first);
	}

private:
	static std::vector<std::pair<std::string, std::string>> readHistory()
	/// sdk/abi-history.txt's lines, in file order: (version, hash).
	{
		std::vector<std::pair<std::string, std::string>> out;
		std::ifstream in(SDK_DIR / "abi-history.txt");
		std::string line;
		while (std::getline(in, line))
		{
			if (line.empty() || line[0] == '#')
				continue;
			std::istringstream fields(line);
			std::string version, hash;
			fields >> version >> hash;
			out.emplace_back(version, hash);
		}
		return out;
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(AbiBoundaryTest);
