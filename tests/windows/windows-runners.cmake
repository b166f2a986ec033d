# Included by the top-level CMakeLists.txt in a Windows build given SWITCHBOARD_WINDOWS_CPPUNIT (a
# CppUnit built for Windows: scripts/build-windows.sh makes one from Debian's source package):
# builds the portable unit runners of unit-runners.cmake as tests/<Name>.exe. They are not
# registered with CTest here; the Linux build's `windows` tests run them under Wine.
include("${CMAKE_CURRENT_LIST_DIR}/unit-runners.cmake")
add_library(switchboard_windows_cppunit STATIC IMPORTED)
set_target_properties(switchboard_windows_cppunit PROPERTIES
	IMPORTED_LOCATION "${SWITCHBOARD_WINDOWS_CPPUNIT}/lib/libcppunit.a"
	INTERFACE_INCLUDE_DIRECTORIES "${SWITCHBOARD_WINDOWS_CPPUNIT}/include")
get_property(windows_plugin_logic GLOBAL PROPERTY SWITCHBOARD_PLUGIN_LOGIC_LIBRARIES)
add_custom_target(switchboard_windows_unit_runners)
foreach(name IN LISTS SWITCHBOARD_WINDOWS_UNIT_RUNNERS)
	add_executable(${name} "${PROJECT_SOURCE_DIR}/tests/unit/${name}.cpp" "${PROJECT_SOURCE_DIR}/tests/support/TestMain.cpp")
	target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests/support")
	target_link_libraries(${name} PRIVATE switchboard_core Switchboard::Testing ${windows_plugin_logic}
	                                      switchboard_windows_cppunit switchboard_warnings)
	target_compile_definitions(${name} PRIVATE SWITCHBOARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
	set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tests")
	add_dependencies(switchboard_windows_unit_runners ${name})
endforeach()
# mingw's runtime DLLs, copied beside switchboard.exe by host/CMakeLists.txt, beside the runners.
add_dependencies(switchboard_windows_unit_runners switchboard)
foreach(runtime libstdc++-6.dll libgcc_s_seh-1.dll libwinpthread-1.dll)
	add_custom_command(TARGET switchboard_windows_unit_runners POST_BUILD
	                   COMMAND "${CMAKE_COMMAND}" -E copy_if_different "$<TARGET_FILE_DIR:switchboard>/${runtime}"
	                           "${PROJECT_BINARY_DIR}/tests")
endforeach()
