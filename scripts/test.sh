#!/usr/bin/env bash
# The README's second command: install what is missing, build everything (Release, warnings as
# errors) and run the whole test suite through CTest.
#
#   scripts/test.sh [ctest arguments]             the suite, gcc Release build in build-test/
#   scripts/test.sh --sanitize [ctest arguments]  the same suite built with clang under
#       AddressSanitizer + UndefinedBehaviorSanitizer (and libFuzzer's coverage, so the fuzz
#       targets come out of the same build) in build-sanitize/; fails on any sanitizer report,
#       including one from a server process a test started (docs/hardening.md)
#   scripts/test.sh --tsan [ctest arguments]      the threaded tests under ThreadSanitizer in
#       build-tsan/ (run by hand, not by CI: docs/hardening.md)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=plain
case "${1:-}" in
	--sanitize) mode=sanitize; shift ;;
	--tsan) mode=tsan; shift ;;
esac

if [ "$mode" = plain ]; then
	scripts/install-deps.sh --test
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR=ON
	cmake --build build-test -j"$(nproc)"
	scripts/check-format.sh
	cd build-test
	exec ctest --output-on-failure --timeout 900 "$@"
fi

scripts/install-deps.sh --test --sanitize
if [ "$mode" = sanitize ]; then
	build=build-sanitize
	sanitizers="address;undefined"
	fuzz=ON
else
	build=build-tsan
	sanitizers=thread
	fuzz=OFF
fi
# -O1 keeps the instrumented suite fast; line tables give reports file:line at a fraction of -g's
# compile and link time; NDEBUG as in Release.
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DSWITCHBOARD_WERROR=ON \
	-DSWITCHBOARD_SANITIZE="$sanitizers" -DSWITCHBOARD_FUZZ="$fuzz"
cmake --build "$build" -j"$(nproc)"

# Every report goes to a file in one directory, whichever process wrote it (test runners and the
# servers they start inherit these variables), so none can scroll by unnoticed.
reports="$PWD/$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
suppressions="$PWD/tests/sanitizer"
export ASAN_OPTIONS="log_path=$reports/asan:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$suppressions/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1:suppressions=$suppressions/tsan.supp"

status=0
if [ "$mode" = sanitize ]; then
	(cd "$build" && ctest --output-on-failure --timeout 900 "$@") || status=$?
else
	# The tests whose subject is threads: event loops, cross-loop posting, the worker pool, storage.
	(cd "$build" && ctest --output-on-failure --timeout 900 \
		-R '^(EchoTranscriptTest|CrossLoopRelayTest|HostIntegrationTest|StorageTest|TransportHandOffTest|TimerWheelTest|PluginContextTest|GovpnDurabilityIntegrationTest|TogetherDurabilityIntegrationTest|ReconnectStormTest|PeerVaultFanoutIntegrationTest|PeerJsClusterTest|PostgresStorageTest|ClusterChannelTest|GovpnClusterTest|TogetherClusterTest)$' \
		"$@") || status=$?
fi

shopt -s nullglob
found=("$reports"/*)
if [ ${#found[@]} -gt 0 ]; then
	echo "=== ${#found[@]} sanitizer report file(s) in $reports ==="
	for file in "${found[@]}"; do
		echo "--- $file"
		head -c 20000 "$file"
	done
	exit 1
fi
echo "sanitizer reports: none ($mode)"
exit "$status"
