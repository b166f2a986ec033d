#!/usr/bin/env bash
# Installs what Switchboard needs to build, run and test on Debian 12, only if missing.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
packages=(cmake g++ make pkg-config libpoco-dev libboost-dev libssl-dev libsodium-dev libsqlite3-dev)
if [ "${1:-}" = "--test" ]; then
	packages+=(libcppunit-dev clang-format)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}"
	sudo_cmd=""
	[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
	$sudo_cmd apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
