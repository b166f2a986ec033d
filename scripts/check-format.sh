#!/usr/bin/env bash
# Fails if any C++ file differs from what .clang-format (clang-format 14) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cpp' 2>/dev/null || find host sdk plugins tests -name '*.h' -o -name '*.cpp')
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
