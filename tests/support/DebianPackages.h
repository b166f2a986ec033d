//
// DebianPackages.h
//
// The two Debian packages CPack makes from this build tree (cmake/Packaging.cmake), for the
// runners that inspect them (DebianPackageTest) or install them (PackageInstallTest): finding the
// tools, running cpack into a temporary directory, and listing a package's paths.
//


#ifndef Switchboard_Test_DebianPackages_INCLUDED
#define Switchboard_Test_DebianPackages_INCLUDED


#include "ChildProcess.h"
#include "TempDir.h"
#include <memory>
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Debian {


struct Packages
/// What build() made: the .deb paths, or why there are none.
{
	std::string skipReason;
	/// A tool is missing: the caller skips, saying this.
	std::string failure;
	/// cpack ran and failed (or made no package): the caller fails with this.
	std::string dpkgDeb;
	std::unique_ptr<TempDir> dir;
	std::string server;
	/// .../switchboard_<version>_<arch>.deb
	std::string sdk;
	/// .../switchboard-sdk-dev_<version>_<arch>.deb
	double seconds = 0;
	/// How long cpack took.
};


std::string cpackProgram();
/// cpack beside the cmake this tree was configured with, else the one on PATH, else "".

Packages build(const std::string& who, int timeoutMs = 300000);
/// Runs cpack -G DEB for this build tree into a new TempDir (prefix: who), printing how long it
/// took under who's name. Needs cpack, dpkg-deb and dpkg-shlibdeps (else skipReason says which
/// is missing). cpack first runs the tree's "preinstall" target: with the tree built (ctest runs
/// after the build) that only checks it is up to date.

ChildProcess::Readiness waitForReadyz(ChildProcess& server, int adminPort, int timeoutMs = 15000);
/// Waits for a packaged server just started to answer 200 on its admin /readyz (or to exit).

std::vector<std::string> contents(const std::string& dpkgDeb, const std::string& deb);
/// The package's paths as dpkg-deb -c lists them ("./usr/bin/switchboard"; directories end in
/// '/'); a CppUnit failure if dpkg-deb fails.


} // namespace Debian
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_DebianPackages_INCLUDED
