//
// Abi.h
//
// Switchboard SDK: the version of the plugin boundary and the build signature a plugin carries.
//
// The boundary is every type and virtual call that crosses dlopen: the top-level headers of
// this folder (util/ and testing/ are header-only helpers compiled into each side and are not
// part of it). tests/unit/AbiBoundaryTest.cpp hashes these headers with comments and whitespace
// removed and fails when the hash differs from sdk/abi-history.txt's entry for this version, so
// the boundary cannot change without a bump here. docs/sdk.md says what to bump when.
//


#ifndef Switchboard_Abi_INCLUDED
#define Switchboard_Abi_INCLUDED


#include <cstdint>


namespace Switchboard {


constexpr std::uint32_t ABI_MAJOR = 4;
///< Bumped (and ABI_MINOR reset to 0) by any incompatible change: a changed or removed
///< signature, a new virtual in a class plugins implement (Plugin, WebSocketHandler), a changed
///< layout of a struct or class that crosses the boundary. The host refuses another major.
constexpr std::uint32_t ABI_MINOR = 4;
///< Bumped by a compatible addition: a new virtual appended to a class the host implements
///< (Host, Setup, Router, Connection, Logger, Metrics, Storage, Clock), a field appended to
///< PluginDescriptor, or a virtual appended to Plugin that the host calls only on plugins built
///< for that minor or later (4.3: Plugin::reconfigure). A host loads plugins of its own major
///< and any minor up to its own.


} // namespace Switchboard


#define SWITCHBOARD_STRINGIFY_(x) #x
#define SWITCHBOARD_STRINGIFY(x) SWITCHBOARD_STRINGIFY_(x)

#if defined(__clang__)
#define SWITCHBOARD_COMPILER_ID                                                                                        \
	"clang-" SWITCHBOARD_STRINGIFY(__clang_major__) "." SWITCHBOARD_STRINGIFY(__clang_minor__)
#elif defined(__GNUC__)
#define SWITCHBOARD_COMPILER_ID "gcc-" SWITCHBOARD_STRINGIFY(__GNUC__) "." SWITCHBOARD_STRINGIFY(__GNUC_MINOR__)
#elif defined(_MSC_VER)
#define SWITCHBOARD_COMPILER_ID "msvc-" SWITCHBOARD_STRINGIFY(_MSC_VER)
#else
#define SWITCHBOARD_COMPILER_ID "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define SWITCHBOARD_STDLIB_ID "libstdc++-cxx11abi" SWITCHBOARD_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define SWITCHBOARD_STDLIB_ID "libc++-" SWITCHBOARD_STRINGIFY(_LIBCPP_VERSION)
#else
#define SWITCHBOARD_STDLIB_ID "stdlib"
#endif

/// Everything besides the ABI numbers that must match exactly between host and plugin, because
/// the boundary passes C++ standard-library types (std::string, std::function, vtables).
#define SWITCHBOARD_BUILD_SIGNATURE                                                                                    \
	SWITCHBOARD_COMPILER_ID "|" SWITCHBOARD_STDLIB_ID "|cxx" SWITCHBOARD_STRINGIFY(__cplusplus)

#if defined(_WIN32)
#define SWITCHBOARD_EXPORT extern "C" __declspec(dllexport)
#else
#define SWITCHBOARD_EXPORT extern "C" __attribute__((visibility("default")))
#endif


#endif // Switchboard_Abi_INCLUDED
