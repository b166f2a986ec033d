#!/usr/bin/env bash
# Cross-builds Switchboard for 64-bit Windows (x86_64-w64-mingw32) on Debian 12.
#
#   scripts/build-windows.sh [--build-dir DIR] [--install-only | --deps-only] [--jobs N]
#
# 1. Installs what is missing with apt-get: Debian's mingw-w64 toolchain (posix threads), Wine,
#    cmake, make, dpkg-dev, perl, patch, autoconf/automake/libtool (libsodium's source has no
#    configure script) and the Boost headers (header-only use).
# 2. Fetches Debian 12's own source packages of poco (1.11.0, with its bundled SQLite), libsodium
#    (1.0.18) and openssl (3.0.x) with `apt-get source --download-only`, through a private deb-src
#    list made from the machine's Debian entries and private list and cache directories: the
#    machine's apt configuration is never changed.
# 3. Builds them static for Windows into a cache directory outside the clone,
#      ${SWITCHBOARD_WINDOWS_CACHE:-$HOME/.cache/switchboard-windows}/<key>
#    where <key> names the three Debian versions, the toolchain and the recipe revision. A build
#    is reused only when its stamp file exists; the stamp is written last. A warm run needs no
#    network: the fetched sources and the private index are kept under the cache root.
#    CppUnit (Debian's cppunit 1.15.1 source) goes the same way into a directory of its own.
# 4. Cross-builds Switchboard with cmake/toolchain-mingw-w64.cmake into DIR (default
#    build-windows/ in the clone): bin/switchboard.exe and the bundled plugins as
#    plugins/<name>.dll, the deliberately broken plugins of tests/fixtures, and the portable unit
#    test runners as tests/<Name>.exe (tests/windows/unit-runners.cmake). The `windows` CTest
#    tests run on Linux: they run those runners under Wine and drive the .exe from Linux clients.
#
# Options:
#   --build-dir DIR  where Switchboard is built (default: build-windows in the clone)
#   --install-only   stop after the packages (step 1); .ci/run installs them before it starts the
#                    rest in the background, so that two apt-get runs never overlap
#   --deps-only      stop after the dependencies (steps 1-3)
#   --jobs N         parallel jobs (default: the number of CPUs)
#   --help           this text
# Environment: SWITCHBOARD_WINDOWS_CACHE overrides the cache root.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$repo/build-windows"
deps_only=0
install_only=0
jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
	--install-only) install_only=1; shift ;;
	--deps-only) deps_only=1; shift ;;
	--jobs) jobs="$2"; shift 2 ;;
	--help | -h) usage; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
done

# Bump when the way the dependencies are built changes, so an old cache is not reused.
recipe_revision=1
triplet=x86_64-w64-mingw32
cache_root=${SWITCHBOARD_WINDOWS_CACHE:-$HOME/.cache/switchboard-windows}
started=$(date +%s)
log() { echo "[build-windows $(($(date +%s) - started))s] $*"; }

# --- 1. packages -----------------------------------------------------------------------------
packages=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 mingw-w64-tools
	wine wine64 cmake make dpkg-dev perl patch autoconf automake libtool pkg-config libboost-dev ca-certificates)
"$repo/scripts/apt-install-missing.sh" "${packages[@]}"
[ "$install_only" -eq 0 ] || exit 0

cc="$triplet-gcc-posix"
cxx="$triplet-g++-posix"
toolchain_version="gcc$($cxx -dumpfullversion)-mingw$(dpkg-query -W -f='${Version}' mingw-w64-x86-64-dev)"

# --- 2. sources ------------------------------------------------------------------------------
apt_dir="$cache_root/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
src_list="$apt_dir/sources.list"

# One deb-src line per Debian entry (deb.debian.org or any mirror's /debian, /debian-security)
# of the machine's sources, in both the one-line and the deb822 format.
debian_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?/\1/p' "$f" |
			awk '{ opts = ""; if ($1 ~ /^\[/) { opts = $1; while ($1 !~ /\]$/) { $1 = ""; $0 = $0; opts = opts " " $1 } $1 = ""; $0 = $0 }
				print "deb-src " opts " " $0 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled != "no")
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
						print "deb-src " (key != "" ? "[signed-by=" key "] " : "") u[i] " " s[j] " " comps
				types = ""; enabled = ""; key = ""; comps = ""; nu = 0; ns = 0
			}
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
			tolower($1) == "components:" { $1 = ""; comps = $0 }
			tolower($1) == "enabled:" { enabled = tolower($2) }
			tolower($1) == "signed-by:" { key = $2 }
			END { flush() }' "$f"
	done
}
debian_entries | grep -E '[[:space:]]https?://[^[:space:]]+/debian(-security)?/?[[:space:]]' | tr -s ' ' |
	sort -u >"$src_list.new"
if [ ! -s "$src_list.new" ]; then
	echo "no Debian entry found in /etc/apt/sources.list(.d) to derive a deb-src list from" >&2
	exit 1
fi
apt_opts=(-o Dir::Etc::SourceList="$src_list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o Dir::Cache::pkgcache=
	-o Dir::Cache::srcpkgcache= -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
# The index is refreshed only when the entries changed or none was fetched yet, so a warm run
# works offline.
if ! cmp -s "$src_list.new" "$src_list" || ! ls "$apt_dir/lists/"*Sources* >/dev/null 2>&1; then
	mv "$src_list.new" "$src_list"
	log "fetching the source index: $(tr '\n' ';' <"$src_list")"
	apt-get "${apt_opts[@]}" update -q
else
	rm -f "$src_list.new"
fi

# Debian's source package $1 at the newest version starting with $2 that can be had: one already
# fetched into $cache_root/sources (so a warm run needs no network), else the newest the mirror
# serves (a mirror may list a security update whose files it does not have yet). Prints the
# version; its files stay in $cache_root/sources/$1_<version>.
fetch_source() {
	local versions=() v dir
	for v in $(apt-cache "${apt_opts[@]}" showsrc "$1" | sed -n 's/^Version: //p' | sort -u); do
		case "$v" in "$2"*) versions+=("$v") ;; esac
	done
	[ ${#versions[@]} -gt 0 ] || { echo "no source package $1 $2* in the index" >&2; return 1; }
	# Newest first.
	local sorted=()
	while [ ${#versions[@]} -gt 0 ]; do
		local best=${versions[0]} rest=()
		for v in "${versions[@]:1}"; do dpkg --compare-versions "$v" gt "$best" && best=$v; done
		sorted+=("$best")
		for v in "${versions[@]}"; do [ "$v" = "$best" ] || rest+=("$v"); done
		versions=("${rest[@]+"${rest[@]}"}")
	done
	for v in "${sorted[@]}"; do
		[ -f "$cache_root/sources/$1_$v/.fetched" ] && { echo "$v"; return 0; }
	done
	for v in "${sorted[@]}"; do
		dir="$cache_root/sources/$1_$v"
		rm -rf "$dir"
		mkdir -p "$dir"
		if (cd "$dir" && apt-get "${apt_opts[@]}" source --download-only -q "$1=$v" >&2); then
			touch "$dir/.fetched"
			echo "$v"
			return 0
		fi
		echo "$1 $v: not available from the mirror, trying an older version" >&2
		rm -rf "$dir"
	done
	echo "no version of $1 $2* could be fetched" >&2
	return 1
}
poco_version=$(fetch_source poco 1.11.0)
sodium_version=$(fetch_source libsodium 1.0.18)
openssl_version=$(fetch_source openssl 3.0)

key="poco-${poco_version}_sodium-${sodium_version}_openssl-${openssl_version}_${toolchain_version}_r${recipe_revision}"
key=${key//[:~+]/.}
prefix="$cache_root/$key"
stamp="$prefix/.complete"

# --- 3. dependencies -------------------------------------------------------------------------
# Each component is extracted afresh (Debian's patches applied), built and installed into the
# prefix, then marked done, so an interrupted build resumes with the first unfinished one.
unpack() {
	rm -rf "$work/src-$1"
	dpkg-source --no-check -x "$cache_root/sources/$1_$2"/*.dsc "$work/src-$1" >/dev/null
}

build_openssl() {
	unpack openssl "$openssl_version"
	(cd "$work/src-openssl" &&
		./Configure mingw64 no-shared no-tests --cross-compile-prefix="$triplet-" \
			--prefix="$prefix" --libdir=lib CC=gcc-posix CXX=g++-posix &&
		make -j"$jobs" build_libs && make install_dev)
}

build_libsodium() {
	unpack libsodium "$sodium_version"
	# Debian's source has no generated configure script (its build runs autoreconf too).
	(cd "$work/src-libsodium" && autoreconf -fi &&
		./configure --host="$triplet" CC="$cc" --prefix="$prefix" --disable-shared --enable-static &&
		make -j"$jobs" && make install)
	# A static libsodium's headers must not declare dllimport.
	sed -i 's/^Cflags: \(.*\)$/Cflags: \1 -DSODIUM_STATIC/' "$prefix/lib/pkgconfig/libsodium.pc"
}

build_poco() {
	unpack poco "$poco_version"
	(cd "$work/src-poco" && patch -p1 <"$repo/scripts/windows/poco-icmp-timestamp-macros.patch")
	# Poco includes <Windows.h>, <Winsock2.h>, <Iphlpapi.h>...; mingw's headers are lower-case.
	# Every capitalised system header Poco names gets a link to the lower-case one.
	local mingw_include="/usr/$triplet/include" header
	rm -rf "$prefix/include-case"
	mkdir -p "$prefix/include-case"
	for header in $(grep -rhoE '#[[:space:]]*include[[:space:]]*<[A-Za-z0-9_]+\.h>' "$work/src-poco" |
		sed -E 's/.*<(.*)>/\1/' | sort -u); do
		local lower=${header,,}
		if [ "$header" != "$lower" ] && [ ! -e "$mingw_include/$header" ] && [ -e "$mingw_include/$lower" ]; then
			ln -sf "$mingw_include/$lower" "$prefix/include-case/$header"
		fi
	done
	local flags="-idirafter $prefix/include-case"
	rm -rf "$work/build-poco"
	cmake -S "$work/src-poco" -B "$work/build-poco" -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/toolchain-mingw-w64.cmake" \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DBUILD_SHARED_LIBS=OFF -DPOCO_UNBUNDLED=OFF \
		-DENABLE_FOUNDATION=ON -DENABLE_NET=ON -DENABLE_JSON=ON -DENABLE_UTIL=ON -DENABLE_XML=ON \
		-DENABLE_DATA=ON -DENABLE_DATA_SQLITE=ON -DENABLE_CRYPTO=OFF -DENABLE_NETSSL=OFF \
		-DENABLE_NETSSL_WIN=OFF -DENABLE_JWT=OFF -DENABLE_ENCODINGS=OFF -DENABLE_ENCODINGS_COMPILER=OFF \
		-DENABLE_MONGODB=OFF -DENABLE_REDIS=OFF -DENABLE_PDF=OFF -DENABLE_ZIP=OFF -DENABLE_SEVENZIP=OFF \
		-DENABLE_CPPPARSER=OFF -DENABLE_POCODOC=OFF -DENABLE_PAGECOMPILER=OFF \
		-DENABLE_PAGECOMPILER_FILE2PAGE=OFF -DENABLE_ACTIVERECORD=OFF -DENABLE_ACTIVERECORD_COMPILER=OFF \
		-DENABLE_DATA_MYSQL=OFF -DENABLE_DATA_POSTGRESQL=OFF -DENABLE_DATA_ODBC=OFF \
		-DENABLE_APACHECONNECTOR=OFF -DENABLE_PROMETHEUS=OFF -DENABLE_TESTS=OFF -DENABLE_SAMPLES=OFF
	cmake --build "$work/build-poco" -j"$jobs"
	cmake --install "$work/build-poco"
	# The host calls SQLite directly on the connection Poco::Data opened: the header of the copy
	# bundled into PocoDataSQLite.
	cp "$work/src-poco/Data/SQLite/src/sqlite3.h" "$prefix/include/"
}

build_dependencies() {
	work="$cache_root/work-$key"
	mkdir -p "$prefix/include" "$prefix/lib" "$work"
	log "building the dependencies into $prefix (work and logs in $work)"
	local component
	for component in openssl libsodium poco; do
		if [ -f "$prefix/.done-$component" ]; then
			log "$component: already built"
			continue
		fi
		log "$component: building (log: $work/$component.log)"
		local component_started=$(date +%s)
		if ! ("build_$component") >"$work/$component.log" 2>&1; then
			tail -40 "$work/$component.log"
			echo "building $component failed; the whole log is $work/$component.log" >&2
			exit 1
		fi
		touch "$prefix/.done-$component"
		log "$component: built in $(($(date +%s) - component_started))s"
	done
	rm -rf "$work"
	date -u +%FT%TZ >"$stamp"
	log "dependencies ready"
}
if [ -f "$stamp" ]; then
	log "dependencies: reusing $prefix"
else
	build_dependencies
fi

# CppUnit (Debian's source package, 1.15.1) for the unit test runners built for Windows, in a
# cache directory of its own so that adding it did not invalidate the one above.
cppunit_version=$(fetch_source cppunit 1.15)
cppunit_key="cppunit-${cppunit_version}_${toolchain_version}_r1"
cppunit_key=${cppunit_key//[:~+]/.}
cppunit_prefix="$cache_root/$cppunit_key"
build_cppunit() {
	unpack cppunit "$cppunit_version"
	cd "$work/src-cppunit"
	[ -x configure ] || autoreconf -fi
	./configure --host="$triplet" CC="$cc" CXX="$cxx" --prefix="$cppunit_prefix" --disable-shared \
		--enable-static --disable-doxygen --disable-html-docs --disable-werror
	make -j"$jobs" -C src/cppunit
	make -C src/cppunit install
	make -C include install
}
if [ -f "$cppunit_prefix/.complete" ]; then
	log "cppunit: reusing $cppunit_prefix"
else
	work="$cache_root/work-$cppunit_key"
	mkdir -p "$work"
	log "cppunit: building into $cppunit_prefix (log: $work/cppunit.log)"
	if ! (build_cppunit) >"$work/cppunit.log" 2>&1; then
		tail -40 "$work/cppunit.log"
		echo "building cppunit failed; the whole log is $work/cppunit.log" >&2
		exit 1
	fi
	rm -rf "$work"
	date -u +%FT%TZ >"$cppunit_prefix/.complete"
	log "cppunit: built"
fi
[ "$deps_only" -eq 0 ] || exit 0

# --- 4. Switchboard --------------------------------------------------------------------------
# Only the Boost headers, not the rest of /usr/include (glibc's), join the Windows include path.
mkdir -p "$prefix/include-boost"
ln -sfn /usr/include/boost "$prefix/include-boost/boost"
log "switchboard into $build_dir"
cmake -S "$repo" -B "$build_dir" -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/toolchain-mingw-w64.cmake" \
	-DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WINDOWS_DEPS="$prefix" -DSWITCHBOARD_WERROR=ON \
	-DSWITCHBOARD_BUILD_TESTS=OFF -DSWITCHBOARD_BUILD_FIXTURES=ON -DSWITCHBOARD_POSTGRESQL=OFF \
	-DSWITCHBOARD_WINDOWS_CPPUNIT="$cppunit_prefix"
cmake --build "$build_dir" -j"$jobs" --target switchboard switchboard_bundled_plugins switchboard_fixture_plugins \
	switchboard_windows_unit_runners
log "done: $build_dir/bin/switchboard.exe, $build_dir/plugins/*.dll, the unit runners $build_dir/tests/*.exe (and the loader tests' $build_dir/fixture-plugins)"
