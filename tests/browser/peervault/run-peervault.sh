#!/usr/bin/env bash
# run-peervault.sh: runs the PeerVault browser test (peervault-driver.js) in a private network namespace.
#
# Usage:
#   run-peervault.sh --cache <dir> --work <dir> --out <result.json> --binary <switchboard> --plugin-dir <dir>
# --cache is what tests/browser/setup.sh filled (playwright-core); --work receives the server config,
# data, log and, on failure, a screenshot. Optional: --budget <seconds> for the driver (default 45).
#
# Switchboard (the peervault plugin at the root of its own listener 127.0.0.1:8083, metrics every
# 1 s, the static publishing token pub-token), the driver's page server (127.0.0.1:8000) and headless
# Chromium run inside a new network namespace and PID namespace, so nothing outlives this script and
# nothing leaves the machine. The namespace has only loopback: the page needs no other interface.
set -euo pipefail

usage() {
	sed -n '4,7p' "$0" >&2
	exit 2
}

cache="" work="" out="" binary="" plugin_dir="" budget=45
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--cache) cache="$2" ;;
	--work) work="$2" ;;
	--out) out="$2" ;;
	--binary) binary="$2" ;;
	--plugin-dir) plugin_dir="$2" ;;
	--budget) budget="$2" ;;
	*) usage ;;
	esac
	shift 2
done
[ -n "$cache" ] && [ -n "$work" ] && [ -n "$out" ] && [ -n "$binary" ] && [ -n "$plugin_dir" ] || usage
case "$budget" in
'' | *[!0-9]*) usage ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
	echo "run-peervault.sh: $*" >&2
	exit 1
}

if [ "${SWITCHBOARD_PEERVAULT_NETNS:-}" != "1" ]; then
	for tool in unshare ip node timeout; do
		command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed; run scripts/install-deps.sh --test"
	done
	[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing; run scripts/install-deps.sh --test (Debian package chromium)"
	[ -f "$cache/node_modules/playwright-core/package.json" ] || fail "$cache has no npm packages; run tests/browser/setup.sh $cache"
	[ -x "$binary" ] || fail "no server binary at $binary"
	[ -f "$plugin_dir/peervault.so" ] || fail "no $plugin_dir/peervault.so; build the peervault plugin"
	mkdir -p "$work"
	work="$(cd "$work" && pwd)"
	flags=(--net --pid --fork --kill-child)
	# Unprivileged, a user namespace gives the rights to configure the new network namespace.
	[ "$(id -u)" -eq 0 ] || flags+=(--map-root-user)
	export SWITCHBOARD_PEERVAULT_NETNS=1
	exec unshare "${flags[@]}" -- "$0" --cache "$cache" --work "$work" --out "$out" --binary "$binary" \
		--plugin-dir "$plugin_dir" --budget "$budget"
fi

# From here on: inside the namespaces, as PID 1.
ws_port=8083 admin_port=9090 page_port=8000
token=pub-token
server_pid=""
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

ip link set lo up

# A bounded HTTP GET over bash's /dev/tcp; prints the status line.
http_status() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && head -n 1 <&3" 2>/dev/null || true
}

rm -rf "$work/data" "$work/tmp" "$work/artifacts"
mkdir -p "$work/data" "$work/tmp" "$work/artifacts"
log="$work/server.log"
: >"$log"
cat >"$work/switchboard.ini" <<EOF
[host]
plugin_dir = $plugin_dir
log_level = information

[storage]
directory = $work/data

[admin]
address = 127.0.0.1
port = $admin_port

[listener.peervault]
address = 127.0.0.1
port = $ws_port

[plugin.peervault]
enabled = true
listener = peervault
prefix =
websocket.metrics.interval = 1s
websocket.auth.tokens = [{"token":"$token","name":"publisher","scopes":["publish"]}]
EOF
"$binary" --config="$work/switchboard.ini" </dev/null >>"$log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 100); do
	if http_status "$ws_port" /ws/health | grep -q ' 200'; then
		ready=1
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "run-peervault.sh: the server did not answer GET /ws/health with 200 within 10 s; its log:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
echo "run-peervault.sh: server ready on 127.0.0.1:$ws_port (log $log)"

rc=0
# Playwright's temporary browser profiles go under the work dir, not the shared /tmp.
TMPDIR="$work/tmp" timeout --kill-after=5 "$((budget + 15))" node "$here/peervault-driver.js" --cache "$cache" \
	--ws-port "$ws_port" --page-port "$page_port" --token "$token" --out "$out" --artifacts "$work/artifacts" \
	--budget-ms "$((budget * 1000))" || rc=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
	echo "run-peervault.sh: the server exited during the run; its log:" >&2
	tail -n 40 "$log" >&2
	rc=1
fi
exit "$rc"
