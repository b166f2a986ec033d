//
// TestMain.cpp
//
// The main() of every CppUnit runner: runs all registered suites, prints CppUnit's report and
// exits non-zero on any failure so CTest sees the result.
//


#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <iostream>


int main(int argc, char** argv)
{
	CppUnit::TestResult controller;
	CppUnit::TestResultCollector collector;
	controller.addListener(&collector);
	CppUnit::BriefTestProgressListener progress;
	controller.addListener(&progress);

	CppUnit::TestRunner runner;
	runner.addTest(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
	// An optional argument selects one test or suite by name, e.g. "CodecTest::testPing".
	runner.run(controller, argc > 1 ? argv[1] : "");

	CppUnit::CompilerOutputter outputter(&collector, std::cerr);
	outputter.write();
	return collector.wasSuccessful() ? 0 : 1;
}
