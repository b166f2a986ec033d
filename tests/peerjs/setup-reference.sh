#!/usr/bin/env bash
# setup-reference.sh: installs the official PeerJS server (peer 1.0.2), the reference of the
# PeerJS conformance test, into a cache directory, only if it is not there yet.
# Usage: tests/peerjs/setup-reference.sh CACHE_DIR
# Afterwards the server runs as: node CACHE_DIR/node_modules/peer/dist/bin/peerjs.js --port P ...
set -euo pipefail

version="1.0.2"
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 CACHE_DIR" >&2
	exit 2
fi
cache="$1"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "setup-reference.sh: '$tool' not found; the PeerJS conformance test needs Node.js and npm" \
			"(on Debian: scripts/install-deps.sh --test)" >&2
		exit 3
	fi
done

entry="$cache/node_modules/peer/dist/bin/peerjs.js"
manifest="$cache/node_modules/peer/package.json"
installed_version() {
	# The version field of the installed package, empty if there is none.
	[ -f "$manifest" ] || return 0
	node -e 'try { process.stdout.write(String(require(process.argv[1]).version)); } catch (e) {}' "$manifest"
}

if [ -f "$entry" ] && [ "$(installed_version)" = "$version" ]; then
	exit 0
fi

mkdir -p "$cache"
echo "setup-reference.sh: installing peer@$version into $cache" >&2
if ! npm install --no-audit --no-fund --loglevel=error --prefix "$cache" "peer@$version" >&2; then
	echo "setup-reference.sh: npm install of peer@$version failed (is the npm registry reachable?)" >&2
	exit 4
fi
if [ ! -f "$entry" ] || [ "$(installed_version)" != "$version" ]; then
	echo "setup-reference.sh: after npm install, $entry (version $version) is still missing" >&2
	exit 5
fi
