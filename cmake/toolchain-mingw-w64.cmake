# Cross-compiling for 64-bit Windows with Debian's mingw-w64 toolchain (posix threads, so that
# std::thread and std::mutex exist). scripts/build-windows.sh uses it for Poco and for Switchboard.
#
# SWITCHBOARD_WINDOWS_DEPS: the prefix scripts/build-windows.sh built Poco, OpenSSL and libsodium
# into; searched first, with its case-folding header links and its Boost header link.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(mingw_triplet x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${mingw_triplet}-gcc-posix)
set(CMAKE_CXX_COMPILER ${mingw_triplet}-g++-posix)
set(CMAKE_RC_COMPILER ${mingw_triplet}-windres)
# Poco's CMake compiles its message resources with it.
set(CMAKE_MC_COMPILER ${mingw_triplet}-windmc)

set(CMAKE_FIND_ROOT_PATH /usr/${mingw_triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SWITCHBOARD_WINDOWS_DEPS)
if(SWITCHBOARD_WINDOWS_DEPS)
	list(APPEND CMAKE_FIND_ROOT_PATH "${SWITCHBOARD_WINDOWS_DEPS}")
	list(APPEND CMAKE_PREFIX_PATH "${SWITCHBOARD_WINDOWS_DEPS}")
	# Poco installs its CMake package files under <prefix>/cmake on Windows.
	set(Poco_DIR "${SWITCHBOARD_WINDOWS_DEPS}/cmake")
	set(OPENSSL_ROOT_DIR "${SWITCHBOARD_WINDOWS_DEPS}")
	set(OPENSSL_USE_STATIC_LIBS TRUE)
	# The sqlite3.h of the SQLite copy compiled into PocoDataSQLite, which provides its symbols.
	set(SQLite3_INCLUDE_DIR "${SWITCHBOARD_WINDOWS_DEPS}/include")
	set(SQLite3_LIBRARY "${SWITCHBOARD_WINDOWS_DEPS}/lib/libPocoDataSQLite.a")
	set(ENV{PKG_CONFIG_LIBDIR} "${SWITCHBOARD_WINDOWS_DEPS}/lib/pkgconfig")
	set(ENV{PKG_CONFIG_PATH} "")
	# Poco includes <Windows.h> and friends; Boost is header-only and comes from the build machine.
	set(CMAKE_C_FLAGS_INIT "-idirafter ${SWITCHBOARD_WINDOWS_DEPS}/include-case")
	set(CMAKE_CXX_FLAGS_INIT
	    "-idirafter ${SWITCHBOARD_WINDOWS_DEPS}/include-case -isystem ${SWITCHBOARD_WINDOWS_DEPS}/include-boost")
endif()
