#!/usr/bin/env bash
# Installs what Switchboard needs on Debian 12, only what is missing.
# Usage: scripts/install-deps.sh [--test [--sanitize]]
#   --test adds what the test suite needs: CppUnit, clang-format, and for the PeerJS
#   conformance and browser tests Node.js with npm, Chromium and iproute2 (network namespaces),
#   for the GoVPN reference-client test Debian's Go with its gorilla/websocket package,
#   e2fsprogs for the storage-failure test's ext4 image, and redis-server and postgresql for the
#   cluster tests (tests/cluster; each test starts its own instances, the system services are not
#   needed), dpkg-dev for the Debian package test (dpkg-shlibdeps; `--target package` needs it
#   too). libpq-dev is always needed: the PostgreSQL storage backend is built in.
#   --sanitize adds clang and its sanitizer and libFuzzer runtimes (scripts/test.sh --sanitize).
set -euo pipefail
packages=(cmake g++ make pkg-config libpoco-dev libboost-dev libssl-dev libsodium-dev libsqlite3-dev libpq-dev
	libjs-chart.js)
if [ "${2:-}" = "--sanitize" ]; then
	packages+=(clang libclang-rt-14-dev)
fi
if [ "${1:-}" = "--test" ]; then
	packages+=(libcppunit-dev clang-format chromium iproute2 util-linux e2fsprogs ca-certificates
		golang-go golang-github-gorilla-websocket-dev redis-server postgresql dpkg-dev)
	# Node.js may come from elsewhere (e.g. /usr/local); only install Debian's when there is none.
	command -v node >/dev/null 2>&1 || packages+=(nodejs)
	command -v npm >/dev/null 2>&1 || packages+=(npm)
fi
"$(dirname "$0")/apt-install-missing.sh" "${packages[@]}"
