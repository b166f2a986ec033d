#!/usr/bin/env bash
# The README's second command: install what is missing, build everything (Release, warnings as
# errors) and run the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR=ON
cmake --build build-test -j"$(nproc)"
scripts/check-format.sh
cd build-test
ctest --output-on-failure --timeout 900 "$@"
