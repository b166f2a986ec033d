//
// CorpusReplayTest.cpp
//
// The CppUnit side of every fuzz target: feeds each file of the target's committed corpus
// (SWITCHBOARD_FUZZ_CORPUS, compiled in) to LLVMFuzzerTestOneInput, so the seeds and every saved
// reproducer run as a unit test with any compiler. A broken invariant aborts the runner (the
// target's FUZZ_CHECK); the file being replayed is printed first, so the report names it.
//


#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);


class CorpusReplayTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(CorpusReplayTest);
	CPPUNIT_TEST(testCorpus);
	CPPUNIT_TEST_SUITE_END();

public:
	void testCorpus()
	{
		const std::filesystem::path directory(SWITCHBOARD_FUZZ_CORPUS);
		CPPUNIT_ASSERT_MESSAGE("no corpus directory " + directory.string(), std::filesystem::is_directory(directory));
		std::vector<std::filesystem::path> files;
		for (const auto& entry : std::filesystem::directory_iterator(directory))
		{
			if (entry.is_regular_file())
				files.push_back(entry.path());
		}
		std::sort(files.begin(), files.end());
		CPPUNIT_ASSERT_MESSAGE("the corpus of " SWITCHBOARD_FUZZ_TARGET " has no files", !files.empty());
		for (const auto& file : files)
		{
			std::ifstream in(file, std::ios::binary);
			CPPUNIT_ASSERT_MESSAGE("cannot read " + file.string(), in.good());
			const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
			// Printed before the run: an invariant failure aborts the process.
			std::cerr << "replaying " << file.filename().string() << " (" << bytes.size() << " bytes)" << std::endl;
			LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
		}
		std::cerr << SWITCHBOARD_FUZZ_TARGET ": " << files.size() << " corpus files replayed" << std::endl;
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(CorpusReplayTest);
