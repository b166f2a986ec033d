#!/usr/bin/env bash
# run-together.sh: runs the Together web client test (together-driver.js) in a private network namespace.
#
# Usage:
#   run-together.sh --cache <dir> --work <dir> --out <result.json> --binary <switchboard> --plugin-dir <dir> --web-root <dir>
# --cache is what tests/browser/setup.sh filled (playwright-core); --work receives the server
# config, data, logs and, on failure, screenshots; --web-root is the Together web client's built
# files (dist/, with index.html). Optional: --budget <seconds> for the driver (default 60).
#
# Switchboard (the together plugin at the root of its own listener, serving --web-root) and headless
# Chromium run inside a new network namespace and PID namespace, so nothing outlives this script
# and nothing leaves the machine: lo plus a veth pair veth0 10.213.0.1/24 - veth1 10.213.0.2/24
# with a default route via 10.213.0.2, because Chromium gathers no ICE host candidates with only
# loopback or without a default route. The listener is 0.0.0.0:8080 inside the namespace; the
# pages load from http://127.0.0.1:8080, a secure context, so the client gets its microphone.
set -euo pipefail

usage() {
	sed -n '4,8p' "$0" >&2
	exit 2
}

cache="" work="" out="" binary="" plugin_dir="" web_root="" budget=60
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--cache) cache="$2" ;;
	--work) work="$2" ;;
	--out) out="$2" ;;
	--binary) binary="$2" ;;
	--plugin-dir) plugin_dir="$2" ;;
	--web-root) web_root="$2" ;;
	--budget) budget="$2" ;;
	*) usage ;;
	esac
	shift 2
done
[ -n "$cache" ] && [ -n "$work" ] && [ -n "$out" ] && [ -n "$binary" ] && [ -n "$plugin_dir" ] && [ -n "$web_root" ] || usage
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
	echo "run-together.sh: $*" >&2
	exit 1
}

if [ "${SWITCHBOARD_TOGETHER_NETNS:-}" != "1" ]; then
	for tool in unshare ip node timeout; do
		command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed; run scripts/install-deps.sh --test"
	done
	[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing; run scripts/install-deps.sh --test (Debian package chromium)"
	[ -f "$cache/node_modules/playwright-core/package.json" ] || fail "$cache has no npm packages; run tests/browser/setup.sh $cache"
	[ -x "$binary" ] || fail "no server binary at $binary"
	[ -f "$plugin_dir/together.so" ] || fail "no $plugin_dir/together.so; build the together plugin"
	[ -f "$web_root/index.html" ] || fail "no $web_root/index.html; --web-root must be the web client's built dist/"
	mkdir -p "$work"
	work="$(cd "$work" && pwd)"
	web_root="$(cd "$web_root" && pwd)"
	flags=(--net --pid --fork --kill-child)
	# Unprivileged, a user namespace gives the rights to configure the new network namespace.
	[ "$(id -u)" -eq 0 ] || flags+=(--map-root-user)
	export SWITCHBOARD_TOGETHER_NETNS=1
	exec unshare "${flags[@]}" -- "$0" --cache "$cache" --work "$work" --out "$out" --binary "$binary" \
		--plugin-dir "$plugin_dir" --web-root "$web_root" --budget "$budget"
fi

# From here on: inside the namespaces, as PID 1.
port=8080 admin_port=9090
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
ip link add veth0 type veth peer name veth1
ip addr add 10.213.0.1/24 dev veth0
ip addr add 10.213.0.2/24 dev veth1
ip link set veth0 up
ip link set veth1 up
ip route add default via 10.213.0.2 dev veth0

# A bounded HTTP GET over bash's /dev/tcp; prints the status line.
http_status() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && head -n 1 <&3" 2>/dev/null || true
}

rm -rf "$work/data" "$work/tmp" "$work/artifacts"
mkdir -p "$work/data" "$work/tmp" "$work/artifacts"
log="$work/server.log"
: >"$log"
# A fixed signing secret (at least 32 bytes), so a kept work dir can be replayed with the same tokens.
cat >"$work/switchboard.ini" <<EOF
[host]
plugin_dir = $plugin_dir
log_level = information

[storage]
directory = $work/data

[admin]
address = 127.0.0.1
port = $admin_port

[listener.together]
address = 0.0.0.0
port = $port

[plugin.together]
enabled = true
listener = together
prefix =
web_root = $web_root
jwt_secret = together-browser-test-secret-0123456789abcdef
EOF
"$binary" --config="$work/switchboard.ini" </dev/null >>"$log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 100); do
	if http_status "$port" /health | grep -q ' 200'; then
		ready=1
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "run-together.sh: the server did not answer GET /health with 200 within 10 s; its log:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
echo "run-together.sh: server ready on 127.0.0.1:$port (log $log)"

rc=0
# Playwright's temporary browser profiles go under the work dir, not the shared /tmp.
TMPDIR="$work/tmp" timeout --kill-after=5 "$((budget + 15))" node "$here/together-driver.js" --cache "$cache" \
	--url "http://127.0.0.1:$port" --out "$out" --artifacts "$work/artifacts" --budget-ms "$((budget * 1000))" || rc=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
	echo "run-together.sh: the server exited during the run; its log:" >&2
	tail -n 40 "$log" >&2
	rc=1
fi
exit "$rc"
