# The web verbs (cnn serve, cnn train --serve): cpp-httplib from Debian (libcpp-httplib-dev: the header plus a
# compiled part, found through pkg-config so its feature flags match the library) and the page's folder, web/,
# whose files (web/public) and npm packages (web/node_modules, installed by scripts/setup.sh) are read from disk
# at run time — the page can be edited without a rebuild. --web DIR or CNN_WEB_DIR point an installed tool
# elsewhere.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
if(TARGET cnn_tool)
  target_link_libraries(cnn_tool PRIVATE PkgConfig::HTTPLIB)
  target_compile_definitions(cnn_tool PRIVATE CNN_WEB_DIR="${CMAKE_SOURCE_DIR}/web")
endif()
