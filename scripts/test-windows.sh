#!/usr/bin/env bash
# The Windows tests (CTest label `windows`), which CI (.ci/run) runs after the Linux suite:
#
#   scripts/test-windows.sh [ctest arguments]
#
# 1. scripts/build-windows.sh: installs the mingw-w64 toolchain and Wine when missing, builds the
#    Windows dependencies and CppUnit or reuses their cache (~/.cache/switchboard-windows),
#    cross-builds build-windows/ (switchboard.exe, the plugins as .dll files, the loader tests'
#    fixtures, the portable unit runners as tests/*.exe).
# 2. scripts/install-deps.sh --test, then the Linux build in build-test/ (the one scripts/test.sh
#    makes) configured with -DSWITCHBOARD_WINDOWS_BUILD_DIR, which registers the `windows` tests:
#    tests/windows/*Test.cpp, Linux runners (the PeerJS differential conformance test) run again
#    against switchboard.exe under Wine, and the Windows unit runners under Wine
#    (tests/windows/run-under-wine.sh).
# 3. ctest -L windows with SWITCHBOARD_WINDOWS_REQUIRED=1, so a missing build or a missing wine is
#    a failure here, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-windows.sh
scripts/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR=ON \
	-DSWITCHBOARD_WINDOWS_BUILD_DIR="$PWD/build-windows"
cmake --build build-test -j"$(nproc)"
cd build-test
SWITCHBOARD_WINDOWS_REQUIRED=1 exec ctest --output-on-failure --timeout 1800 -L windows "$@"
