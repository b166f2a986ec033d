//
// TestMain.cpp
//
// The main() of every CppUnit runner: runs all registered suites, prints CppUnit's report and
// exits non-zero on any failure so CTest sees the result.
//


#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/Test.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <iostream>
#include <memory>
#include <stdexcept>


static void listTests(CppUnit::Test* test)
{
	if (test->getChildTestCount() == 0)
		std::cerr << "  " << test->getName() << "\n";
	for (int i = 0; i < test->getChildTestCount(); ++i)
		listTests(test->getChildTestAt(i));
}


int main(int argc, char** argv)
{
	CppUnit::TestResult controller;
	CppUnit::TestResultCollector collector;
	controller.addListener(&collector);
	CppUnit::BriefTestProgressListener progress;
	controller.addListener(&progress);

	// An optional argument selects one test or suite by name, e.g. "CodecTest::testPing".
	std::unique_ptr<CppUnit::Test> all(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
	CppUnit::Test* selected = all.get();
	if (argc > 1)
	{
		try
		{
			selected = all->findTest(argv[1]);
		}
		catch (std::invalid_argument&)
		{
			std::cerr << "no test named " << argv[1] << "; the tests are:\n";
			listTests(all.get());
			return 2;
		}
	}
	selected->run(&controller);

	CppUnit::CompilerOutputter outputter(&collector, std::cerr);
	outputter.write();
	return collector.wasSuccessful() ? 0 : 1;
}
