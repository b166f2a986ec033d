#!/usr/bin/env bash
# setup.sh: installs the browser test's npm packages (package.json, package-lock.json) into a cache dir.
# Usage: tests/browser/setup.sh <cache-dir>
# Installs only when the cache does not already hold exactly these pinned versions. Only the npm
# registry is used; the browser is Debian's /usr/bin/chromium (scripts/install-deps.sh --test),
# never a download by a test tool.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 <cache-dir>" >&2
	exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$1"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "setup.sh: '$tool' is not installed; run scripts/install-deps.sh --test" >&2
		exit 1
	fi
done

# The stamp is the checksum of the two manifests, written only after a complete install.
stamp="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$cache/.installed" ] && [ "$(cat "$cache/.installed")" = "$stamp" ] &&
	[ -f "$cache/node_modules/peerjs/dist/peerjs.min.js" ] &&
	[ -f "$cache/node_modules/playwright-core/package.json" ] &&
	[ -f "$cache/node_modules/peer/dist/bin/peerjs.js" ]; then
	exit 0
fi

mkdir -p "$cache"
rm -f "$cache/.installed"
cp "$here/package.json" "$here/package-lock.json" "$cache/"
echo "setup.sh: installing npm packages into $cache"
# npm ci removes node_modules first, so a half-finished earlier install cannot survive.
(cd "$cache" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
for f in node_modules/peerjs/dist/peerjs.min.js node_modules/playwright-core/package.json node_modules/peer/dist/bin/peerjs.js; do
	if [ ! -f "$cache/$f" ]; then
		echo "setup.sh: $f missing after npm ci" >&2
		exit 1
	fi
done
echo "$stamp" >"$cache/.installed"
