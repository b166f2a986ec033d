#!/bin/sh
# Runs a Linux integration runner against the Windows build under Wine:
#
#   tests/windows/run-under-wine.sh WINDOWS_BUILD_DIR WINE RUNNER [ARGS...]
#   tests/windows/run-under-wine.sh WINDOWS_BUILD_DIR WINE --windows-runners NAME...
#
# Makes a Wine prefix of its own (wineboot, bounded), writes a launcher that runs
# WINDOWS_BUILD_DIR/bin/switchboard.exe in it, and runs RUNNER with the environment that points
# TestServer at that launcher, at the build's .dll plugins, and at SIGINT (Ctrl-C under Wine) where
# a test asks for SIGTERM. The second form runs the unit runners built for Windows,
# WINDOWS_BUILD_DIR/tests/NAME.exe, one after the other in that one prefix (one wineboot for all)
# and fails if any fails or is missing. Without the build or wine it says why and exits 0 (skipped), unless
# SWITCHBOARD_WINDOWS_REQUIRED=1, which makes that a failure. The prefix and every Wine process in
# it go when the runner ends.
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 WINDOWS_BUILD_DIR WINE RUNNER [ARGS...]" >&2
	exit 2
fi
build=$1
wine=$2
shift 2

missing=""
[ -r "$build/bin/switchboard.exe" ] || missing="no $build/bin/switchboard.exe (build it with scripts/build-windows.sh)"
[ -n "$missing" ] || [ -x "$wine" ] || missing="no wine (Debian's wine package)"
if [ -n "$missing" ]; then
	if [ "${SWITCHBOARD_WINDOWS_REQUIRED:-}" = 1 ]; then
		echo "SWITCHBOARD_WINDOWS_REQUIRED=1 but $missing" >&2
		exit 1
	fi
	echo "skipped: $missing"
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-wine-run.XXXXXX")
export WINEPREFIX="$dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
	# The prefix's wineserver (and any server a killed test left) go with it.
	timeout 20 "$(dirname "$wine")/wineserver" -k 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wine's first start in a fresh prefix takes a minute or more on a busy machine.
if ! timeout 300 "$wine" wineboot --init >"$dir/wineboot.log" 2>&1; then
	echo "wineboot --init failed:" >&2
	cat "$dir/wineboot.log" >&2
	exit 1
fi

printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$wine" "$(cd "$build" && pwd)/bin/switchboard.exe" >"$dir/switchboard-wine"
chmod 755 "$dir/switchboard-wine"
export SWITCHBOARD_TEST_SERVER_BINARY="$dir/switchboard-wine"
export SWITCHBOARD_TEST_SERVER_PLUGINS="$(cd "$build" && pwd)/plugins"
export SWITCHBOARD_TEST_SERVER_SIGTERM=SIGINT
status=0
if [ "$1" = --windows-runners ]; then
	shift
	failed=""
	for name in "$@"; do
		runner="$build/tests/$name.exe"
		if [ ! -r "$runner" ]; then
			echo "$name: MISSING ($runner; scripts/build-windows.sh builds it)"
			failed="$failed $name"
			continue
		fi
		# Each runner is bounded; a hung one fails the whole test rather than hanging it.
		if timeout 600 "$wine" "$runner" >"$dir/$name.log" 2>&1; then
			echo "$name: $(grep -E '^OK \(' "$dir/$name.log" | tail -1)"
		else
			echo "$name: FAILED"
			cat "$dir/$name.log"
			failed="$failed $name"
		fi
	done
	if [ -n "$failed" ]; then
		echo "failed under Wine:$failed" >&2
		status=1
	fi
else
	"$@" || status=$?
fi
exit "$status"
