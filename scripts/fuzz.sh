#!/usr/bin/env bash
# Runs every libFuzzer target of a SWITCHBOARD_FUZZ=ON build for a fixed time (tests/fuzz/README.md).
#
#   scripts/fuzz.sh <build-dir> [seconds-per-target, default 20]
#
# Each <build-dir>/fuzz/fuzz_<name> runs with -max_total_time on a temporary copy of
# tests/fuzz/corpus/<name> (the committed corpus is never touched), leak detection on, and its
# own artifact directory <build-dir>/fuzz-artifacts/<name> (emptied first), which also keeps the
# log. One line per target: executions, coverage, result. Exits non-zero when any target crashed,
# leaked, timed out, ran out of memory or got a sanitizer report, naming the reproducer and its
# first bytes; also when a target has no seed corpus or a corpus has no target.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 <build-dir> [seconds-per-target]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
seconds=${2:-20}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
	echo "seconds-per-target must be a positive integer, got '$seconds'" >&2
	exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
corpora="$repo/tests/fuzz/corpus"
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
	echo "no fuzz targets in $build/fuzz: configure with CXX=clang++ -DSWITCHBOARD_FUZZ=ON and build fuzz_*" >&2
	exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
started=$(date +%s)
failures=0
printf '%-16s %12s %8s %8s  %s\n' target execs cov ft result

# A corpus directory without a built target is not silently skipped either.
for dir in "$corpora"/*/; do
	name=$(basename "$dir")
	if [[ ! -x "$build/fuzz/fuzz_$name" ]]; then
		printf '%-16s %12s %8s %8s  %s\n' "$name" - - - "FAIL: corpus $dir has no fuzz_$name in $build/fuzz"
		failures=$((failures + 1))
	fi
done

for binary in "${targets[@]}"; do
	name=${binary##*/fuzz_}
	seeds="$corpora/$name"
	artifacts="$build/fuzz-artifacts/$name"
	rm -rf "$artifacts"
	mkdir -p "$artifacts"
	log="$artifacts/fuzz.log"
	if [[ ! -d "$seeds" ]] || [[ -z $(ls -A "$seeds") ]]; then
		printf '%-16s %12s %8s %8s  %s\n' "$name" - - - "FAIL: no seed corpus in $seeds"
		failures=$((failures + 1))
		continue
	fi
	corpus="$scratch/$name"
	mkdir -p "$corpus"
	cp -- "$seeds"/* "$corpus"/
	status=0
	# -timeout: one input taking that long is a hang; timeout(1) bounds the run should libFuzzer not stop.
	timeout -k 10 $((seconds + 120)) "$binary" -max_total_time="$seconds" -detect_leaks=1 -timeout=30 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	reproducers=("$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* \
		"$artifacts"/slow-unit-*)
	report=$(grep -E -m 1 'FUZZ_CHECK failed|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log" || true)
	if [[ $status -eq 0 && ${#reproducers[@]} -eq 0 && -z $report ]]; then
		printf '%-16s %12s %8s %8s  %s\n' "$name" "${execs:--}" "${cov:--}" "${ft:--}" OK
		continue
	fi
	failures=$((failures + 1))
	if [[ $status -eq 124 || $status -eq 137 ]]; then
		report="killed by timeout(1) after $((seconds + 120)) s${report:+; $report}"
	fi
	printf '%-16s %12s %8s %8s  %s\n' "$name" "${execs:--}" "${cov:--}" "${ft:--}" \
		"FAIL (exit $status): ${report:-see the log}"
	echo "    log: $log"
	grep -E -A 3 'FUZZ_CHECK failed' "$log" | sed 's/^/    /' || true
	for reproducer in "${reproducers[@]}"; do
		echo "    reproducer: $reproducer ($(wc -c <"$reproducer") bytes)"
		echo "    first bytes: $(od -An -tx1 -N 48 -v "$reproducer" | tr -s ' \n' ' ')"
		echo "    replay: $binary $reproducer"
	done
done

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $(($(date +%s) - started)) s in all, $failures failed"
[[ $failures -eq 0 ]]
