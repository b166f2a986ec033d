#!/usr/bin/env bash
# run.sh: runs the PeerJS browser test (driver.js) in a private network namespace.
#
# Usage:
#   run.sh --cache <dir> --work <dir> --out <result.json> --server switchboard --binary <switchboard> --plugin-dir <dir>
#   run.sh --cache <dir> --work <dir> --out <result.json> --server reference
# --cache is what setup.sh filled; --work receives the server config, data and logs; --server
# reference runs the official PeerJS server (npm peer 1.0.2) instead of Switchboard.
# Optional: --budget <seconds> for the driver (default 90). --tls <dir> (Switchboard only) serves the
# signaling listener over TLS with <dir>/server.pem, <dir>/server.key and <dir>/chain.pem, mounts
# the echo plugin at /echo, adds a TLS listener on port 9443 with <dir>/untrusted.pem and
# <dir>/untrusted.key, and runs tls/driver.js (given --tls <dir>) instead of driver.js.
#
# The signaling server, the driver's static page server and Chromium all run inside a new
# network namespace (and PID namespace, so nothing outlives this script): lo, plus a veth pair
# veth0 10.213.0.1/24 - veth1 10.213.0.2/24 with a default route via 10.213.0.2 on veth0,
# because Chromium gathers no ICE host candidates with only loopback or without a default
# route. The namespace has no link to the host's network. Its ports are all free, so fixed
# ports are used: signaling 9000, admin 9090, page 8000.
set -euo pipefail

usage() {
	sed -n '4,12p' "$0" >&2
	exit 2
}

cache="" work="" out="" server="" binary="" plugin_dir="" budget=90 tls=""
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--cache) cache="$2" ;;
	--work) work="$2" ;;
	--out) out="$2" ;;
	--server) server="$2" ;;
	--binary) binary="$2" ;;
	--plugin-dir) plugin_dir="$2" ;;
	--budget) budget="$2" ;;
	--tls) tls="$2" ;;
	*) usage ;;
	esac
	shift 2
done
[ -n "$cache" ] && [ -n "$work" ] && [ -n "$out" ] || usage
case "$server" in
switchboard) [ -n "$binary" ] && [ -n "$plugin_dir" ] || usage ;;
reference) [ -z "$tls" ] || usage ;;
*) usage ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
	echo "run.sh: $*" >&2
	exit 1
}

if [ "${SWITCHBOARD_BROWSER_NETNS:-}" != "1" ]; then
	for tool in unshare ip node timeout; do
		command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed; run scripts/install-deps.sh --test"
	done
	[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing; run scripts/install-deps.sh --test (Debian package chromium)"
	[ -f "$cache/node_modules/playwright-core/package.json" ] || fail "$cache has no npm packages; run tests/browser/setup.sh $cache"
	if [ "$server" = switchboard ]; then
		[ -x "$binary" ] || fail "no server binary at $binary"
		[ -f "$plugin_dir/peerjs.so" ] || fail "no $plugin_dir/peerjs.so; build the peerjs plugin"
	fi
	if [ -n "$tls" ]; then
		for f in server.pem server.key chain.pem untrusted.pem untrusted.key; do
			[ -f "$tls/$f" ] || fail "no $tls/$f"
		done
		[ -f "$plugin_dir/echo.so" ] || fail "no $plugin_dir/echo.so; build the echo plugin"
	fi
	mkdir -p "$work"
	flags=(--net --pid --fork --kill-child)
	# Unprivileged, a user namespace gives the rights to configure the new network namespace.
	[ "$(id -u)" -eq 0 ] || flags+=(--map-root-user)
	export SWITCHBOARD_BROWSER_NETNS=1
	exec unshare "${flags[@]}" -- "$0" --cache "$cache" --work "$work" --out "$out" --server "$server" \
		--binary "${binary:-none}" --plugin-dir "${plugin_dir:-none}" --budget "$budget" ${tls:+--tls "$tls"}
fi

# From here on: inside the namespaces, as PID 1.
signal_port=9000 admin_port=9090 page_port=8000 untrusted_port=9443
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

rm -rf "$work/data" "$work/user-data"
mkdir -p "$work/data" "$work/user-data"
log="$work/server.log"
: >"$log"
if [ "$server" = switchboard ]; then
	cat >"$work/switchboard.ini" <<EOF
[host]
plugin_dir = $plugin_dir
log_level = information

[storage]
directory = $work/data

[admin]
address = 127.0.0.1
port = $admin_port

[listener.main]
address = 0.0.0.0
port = $signal_port

[plugin.peerjs]
listener = main
prefix =
path = /myapp
key = peerjs
expire_timeout = 5000
EOF
	if [ -n "$tls" ]; then
		# Merged by the INI reader into the sections above.
		cat >>"$work/switchboard.ini" <<EOF

[listener.main]
tls_certificate = $tls/server.pem
tls_key = $tls/server.key
tls_chain = $tls/chain.pem

[listener.untrusted]
address = 0.0.0.0
port = $untrusted_port
tls_certificate = $tls/untrusted.pem
tls_key = $tls/untrusted.key

[plugin.echo]
listener = main
prefix = /echo
EOF
	fi
	"$binary" --config="$work/switchboard.ini" </dev/null >>"$log" 2>&1 &
	server_pid=$!
else
	node "$cache/node_modules/peer/dist/bin/peerjs.js" --port "$signal_port" --path /myapp --key peerjs \
		--expire_timeout 5000 </dev/null >>"$log" 2>&1 &
	server_pid=$!
fi

# Ready when the PeerJS root answers 200 (for Switchboard, the plugin is then mounted too); over
# TLS, which bash cannot speak, when the admin listener's /readyz does.
ready_port="$signal_port" ready_path=/myapp
[ -z "$tls" ] || ready_port="$admin_port" ready_path=/readyz
ready=""
for _ in $(seq 100); do
	if http_status "$ready_port" "$ready_path" | grep -q ' 200'; then
		ready=1
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "run.sh: the $server server did not answer GET $ready_path with 200 within 10 s; its log:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
echo "run.sh: $server server ready on 127.0.0.1:$signal_port (log $log)"

driver=("$here/driver.js")
[ -z "$tls" ] || driver=("$here/tls/driver.js" --tls "$tls" --untrusted-port "$untrusted_port")
rc=0
timeout --kill-after=5 "$((budget + 15))" node "${driver[@]}" --cache "$cache" --signal-port "$signal_port" \
	--page-port "$page_port" --out "$out" --user-data-dir "$work/user-data" --label "$server" \
	--budget-ms "$((budget * 1000))" || rc=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
	echo "run.sh: the $server server exited during the run; its log:" >&2
	tail -n 40 "$log" >&2
	rc=1
fi
exit "$rc"
