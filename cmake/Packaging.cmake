# Installing Switchboard: the configuration and the systemd unit for `cmake --install`, and the
# Debian packages CPack makes from the same build (`cmake --build build --target package`).
#
# Install components:
#   server         the binary, the bundled plugins, the documentation (relative paths: any prefix)
#   prefix_config  switchboard.ini and the unit under the install prefix; `cmake --install` only
#   debian_config  switchboard.ini in /etc/switchboard and the unit in /lib/systemd/system with
#                  /usr and /etc paths, and the package's copyright and changelog; only the
#                  package (EXCLUDE_FROM_ALL)
#   sdk_debian     the SDK package's copyright and changelog (EXCLUDE_FROM_ALL)
#   sdk            the SDK headers and the CMake package (sdk/CMakeLists.txt)
# CPack groups server + debian_config into the package "switchboard" and sdk + sdk_debian into
# "switchboard-sdk-dev". The binary finds its plugins relative to itself (host/CMakeLists.txt), so
# one build serves both; docs/operations.md, "Debian package", says why.

set(SWITCHBOARD_PACKAGE_MAINTAINER "Switchboard maintainers <maintainers@switchboard.invalid>"
	CACHE STRING "Maintainer field of the Debian packages")
set(SWITCHBOARD_PACKAGE_HOMEPAGE "" CACHE STRING "Homepage field of the Debian packages (none if empty)")
set(unit_template "${PROJECT_SOURCE_DIR}/config/switchboard.service.in")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${unit_template}"
	"${PROJECT_SOURCE_DIR}/config/switchboard.ini")

# --- cmake --install: the unit is written at install time, so --prefix and DESTDIR apply --------
install(FILES config/switchboard.ini DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/switchboard COMPONENT prefix_config)
install(CODE "set(sb_template \"${unit_template}\")
	set(sb_bindir \"${CMAKE_INSTALL_BINDIR}\")
	set(sb_sysconfdir \"${CMAKE_INSTALL_SYSCONFDIR}\")
	set(sb_datadir \"${CMAKE_INSTALL_DATADIR}\")
	set(sb_libdir \"${CMAKE_INSTALL_LIBDIR}\")" COMPONENT prefix_config)
install(CODE [[
	foreach(sb_dir sb_bindir sb_sysconfdir sb_datadir sb_libdir)
		if(NOT IS_ABSOLUTE "${${sb_dir}}")
			set(${sb_dir} "${CMAKE_INSTALL_PREFIX}/${${sb_dir}}")
		endif()
	endforeach()
	set(SWITCHBOARD_UNIT_BINARY "${sb_bindir}/switchboard")
	set(SWITCHBOARD_UNIT_CONFIG "${sb_sysconfdir}/switchboard/switchboard.ini")
	set(SWITCHBOARD_UNIT_DOCDIR "${sb_datadir}/doc/switchboard")
	file(READ "${sb_template}" sb_unit)
	string(CONFIGURE "${sb_unit}" sb_unit @ONLY)
	set(sb_unit_path "${sb_libdir}/systemd/system/switchboard.service")
	message(STATUS "Installing: $ENV{DESTDIR}${sb_unit_path}")
	file(WRITE "$ENV{DESTDIR}${sb_unit_path}" "${sb_unit}")
	list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${sb_unit_path}")
]] COMPONENT prefix_config)

# --- The Debian package's own files, at Debian's absolute places ------------------------------
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(deb_dir "${PROJECT_BINARY_DIR}/packaging/debian")
set(SWITCHBOARD_UNIT_BINARY "${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/switchboard")
set(SWITCHBOARD_UNIT_CONFIG "/etc/switchboard/switchboard.ini")
set(SWITCHBOARD_UNIT_DOCDIR "${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/doc/switchboard")
configure_file("${unit_template}" "${deb_dir}/switchboard.service" @ONLY)
# The packaged configuration keeps its data in the unit's state directory whatever directory the
# server is started from; the repository's copy keeps ./data for scripts/run.sh.
file(READ "${PROJECT_SOURCE_DIR}/config/switchboard.ini" deb_ini)
set(relative_storage "\ndirectory = ./data\n")
string(FIND "${deb_ini}" "${relative_storage}" storage_at)
if(storage_at EQUAL -1)
	message(FATAL_ERROR "config/switchboard.ini: no 'directory = ./data' line for the package to replace")
endif()
string(REPLACE "${relative_storage}" "
; The Debian package's value: the systemd unit's state directory, owned by the switchboard user.
directory = /var/lib/switchboard/data
" deb_ini "${deb_ini}")
file(CONFIGURE OUTPUT "${deb_dir}/switchboard.ini" CONTENT "${deb_ini}" @ONLY)
install(FILES "${deb_dir}/switchboard.ini" DESTINATION /etc/switchboard COMPONENT debian_config EXCLUDE_FROM_ALL)
install(FILES "${deb_dir}/switchboard.service" DESTINATION /lib/systemd/system
	COMPONENT debian_config EXCLUDE_FROM_ALL)

# Debian policy 12.5 and 12.7: each package's copyright file and its Debian changelog, gzipped
# at maximum compression, in its /usr/share/doc directory. packaging/debian/changelog must name
# this version first, so a version bump cannot ship a stale changelog.
set(changelog_source "${PROJECT_SOURCE_DIR}/packaging/debian/changelog")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${changelog_source}"
	"${PROJECT_SOURCE_DIR}/packaging/debian/copyright")
file(STRINGS "${changelog_source}" changelog_first LIMIT_COUNT 1)
if(NOT changelog_first MATCHES "^switchboard \\(${PROJECT_VERSION}\\) ")
	message(FATAL_ERROR "packaging/debian/changelog: its first entry is '${changelog_first}', "
		"not version ${PROJECT_VERSION}; add an entry for it")
endif()
file(ARCHIVE_CREATE OUTPUT "${deb_dir}/changelog.Debian.gz" PATHS "${changelog_source}" FORMAT raw
	COMPRESSION GZip COMPRESSION_LEVEL 9)
set(doc_root "${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/doc")
install(FILES "${PROJECT_SOURCE_DIR}/packaging/debian/copyright" "${deb_dir}/changelog.Debian.gz"
	DESTINATION "${doc_root}/switchboard" COMPONENT debian_config EXCLUDE_FROM_ALL)
install(FILES "${PROJECT_SOURCE_DIR}/packaging/debian/copyright" "${deb_dir}/changelog.Debian.gz"
	DESTINATION "${doc_root}/switchboard-sdk-dev" COMPONENT sdk_debian EXCLUDE_FROM_ALL)

# --- CPack: two .deb files -------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VENDOR "Switchboard")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${SWITCHBOARD_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SWITCHBOARD_PACKAGE_MAINTAINER}")
if(SWITCHBOARD_PACKAGE_HOMEPAGE)
	set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${SWITCHBOARD_PACKAGE_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Install into the staging directory through DESTDIR, so the absolute destinations above land in
# the package, never on the machine that builds it.
# CMAKE_INSTALL_PREFIX is then CPACK_INSTALL_PREFIX, not the build's own prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "${CPACK_PACKAGING_INSTALL_PREFIX}")
set(CPACK_COMPONENTS_ALL server debian_config sdk sdk_debian)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENT_SERVER_GROUP runtime)
set(CPACK_COMPONENT_DEBIAN_CONFIG_GROUP runtime)
set(CPACK_COMPONENT_SDK_GROUP sdkdev)
set(CPACK_COMPONENT_SDK_DEBIAN_GROUP sdkdev)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME switchboard)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# The shared libraries' packages come from dpkg-shlibdeps (dpkg-dev); adduser runs in postinst;
# the admin console's charts are Debian's Chart.js, served from where libjs-chart.js installs it.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser, libjs-chart.js")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/debian/postinst"
	"${PROJECT_SOURCE_DIR}/packaging/debian/prerm" "${PROJECT_SOURCE_DIR}/packaging/debian/postrm"
	"${PROJECT_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "self-hosted WebSocket signaling server with protocol plugins
Switchboard serves WebSocket signaling protocols as plugins loaded at run time. This package
holds the server, its bundled plugins (echo, PeerJS, GoVPN, Together, PeerVault), the
configuration in /etc/switchboard and a systemd unit running it as the switchboard user.")

set(CPACK_DEBIAN_SDKDEV_PACKAGE_NAME switchboard-sdk-dev)
set(CPACK_DEBIAN_SDKDEV_PACKAGE_SECTION libdevel)
# Header-only: nothing is needed to install it. Plugin unit tests need SQLite's headers.
set(CPACK_DEBIAN_SDKDEV_PACKAGE_SUGGESTS "switchboard (= ${PROJECT_VERSION}), cmake, libsqlite3-dev")
set(CPACK_DEBIAN_SDKDEV_DESCRIPTION "plugin SDK for the Switchboard signaling server
The header-only SDK for Switchboard plugins and its CMake package: find_package(SwitchboardSDK)
gives Switchboard::SDK, switchboard_add_plugin() and, for plugin unit tests, Switchboard::Testing.")

include(CPack)
