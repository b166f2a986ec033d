#!/usr/bin/env bash
# The README's first command: install what is missing, build (Release) and start the server in
# the foreground with config/switchboard.ini (SQLite in ./data, every bundled plugin enabled).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_BUILD_TESTS=OFF
cmake --build build -j"$(nproc)"
exec build/bin/switchboard --config=config/switchboard.ini "$@"
