# Install rules: `cmake --install build [--prefix P]` puts, with LIB = CMAKE_INSTALL_LIBDIR (lib/x86_64-linux-gnu
# on Debian's amd64, below),
#   LIB/libcnn.so.0.2.0 (SONAME libcnn.so.0) and libcnn.so        component runtime (the .so link: dev)
#   LIB/libcnn.a, include/cnn/…, LIB/cmake/cnn/, LIB/pkgconfig/cnn.pc  component dev
#   bin/cnn, share/cnn/nets/*.json, share/cnn/web/ (the page)   component tool
# so that another project finds it with find_package(cnn 0.2 REQUIRED) (targets cnn::cnn, the shared library, and
# cnn::cnn_static) or pkg-config (cnn; --static for the archive). Only include/cnn/ is installed: src/ holds the
# private headers, and no public header includes one of them.
# One build makes both an install tree (any prefix) and the .deb (prefix /usr, cmake/package.cmake), and the
# destinations are fixed when it is configured. GNUInstallDirs picks Debian's multiarch folder only for a build
# configured with prefix /usr, which would leave the .deb's libraries in /usr/lib; so where the toolchain has a
# multiarch tuple it is the default for every prefix (-DCMAKE_INSTALL_LIBDIR=lib gives a plain lib/). A cache that
# GNUInstallDirs filled with its own "lib" before this rule existed is moved over once, and a later change of the
# prefix keeps the folder (GNUInstallDirs would reset it to "lib" for a prefix other than /usr).
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT DEFINED CACHE{CNN_MULTIARCH_LIBDIR})
  if(NOT DEFINED CACHE{CMAKE_INSTALL_LIBDIR} OR
     (DEFINED CACHE{_GNUInstallDirs_LAST_CMAKE_INSTALL_PREFIX} AND "$CACHE{CMAKE_INSTALL_LIBDIR}" STREQUAL "lib"))
    set(CMAKE_INSTALL_LIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE} CACHE PATH
        "Object code libraries (Debian's multiarch folder)" FORCE)
  endif()
  set(CNN_MULTIARCH_LIBDIR ON CACHE INTERNAL "CMAKE_INSTALL_LIBDIR's default was chosen")
endif()
set(CNN_LIBDIR_BEFORE "$CACHE{CMAKE_INSTALL_LIBDIR}")
include(GNUInstallDirs)
if(CMAKE_LIBRARY_ARCHITECTURE AND CNN_LIBDIR_BEFORE STREQUAL "lib/${CMAKE_LIBRARY_ARCHITECTURE}" AND
   NOT CMAKE_INSTALL_LIBDIR STREQUAL CNN_LIBDIR_BEFORE)
  set_property(CACHE CMAKE_INSTALL_LIBDIR PROPERTY VALUE "${CNN_LIBDIR_BEFORE}")
  set(CMAKE_INSTALL_LIBDIR "${CNN_LIBDIR_BEFORE}")
endif()
include(CMakePackageConfigHelpers)

set_target_properties(cnn PROPERTIES EXPORT_NAME cnn_static)
set_target_properties(cnn_shared PROPERTIES EXPORT_NAME cnn)
set(CNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cnn)

install(TARGETS cnn_shared EXPORT cnnTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS cnn EXPORT cnnStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/cnn ${CMAKE_BINARY_DIR}/generated/include/cnn
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(EXPORT cnnTargets NAMESPACE cnn:: DESTINATION ${CNN_CMAKE_DIR} COMPONENT dev)
install(EXPORT cnnStaticTargets NAMESPACE cnn:: DESTINATION ${CNN_CMAKE_DIR} COMPONENT dev)
# cnnConfig.cmake and cnn.pc are written at the end of the configure step: parts included after this file (e.g.
# cmake/png.cmake) link more libraries to `cnn`, and a user of libcnn.a must find those too.
function(cnn_write_package_files)
  get_target_property(libs cnn LINK_LIBRARIES)
  set(CNN_STATIC_EXTRA_DEPENDENCIES "")
  set(CNN_PC_REQUIRES_PRIVATE_EXTRA "")
  if("PNG::PNG" IN_LIST libs)
    string(APPEND CNN_STATIC_EXTRA_DEPENDENCIES "find_dependency(PNG)")
    string(APPEND CNN_PC_REQUIRES_PRIVATE_EXTRA " libpng")
  endif()
  configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/install/cnnConfig.cmake.in
                                ${CMAKE_BINARY_DIR}/generated/cnnConfig.cmake INSTALL_DESTINATION ${CNN_CMAKE_DIR})
  # pkg-config: ${pcfiledir} makes the file relocatable (the install test installs into a temporary prefix).
  file(RELATIVE_PATH CNN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/install/cnn.pc.in ${CMAKE_BINARY_DIR}/generated/cnn.pc @ONLY)
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL cnn_write_package_files)
# 0.x: a minor version may change the API, so 0.2 accepts 0.2.y only
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/cnnConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/cnnConfig.cmake ${CMAKE_BINARY_DIR}/generated/cnnConfigVersion.cmake
        DESTINATION ${CNN_CMAKE_DIR} COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/generated/cnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(TARGET cnn_tool)
  install(TARGETS cnn_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tool)
endif()
install(FILES ${CNN_PRESET_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/cnn/nets COMPONENT tool)
# The page of `cnn serve` and `cnn train --serve`, which the tool reads from disk (cmake/web.cmake): web/public and
# the one npm package it loads, uPlot's dist/ with its licence, in the layout of web/ (`cnn serve --web
# PREFIX/share/cnn/web`, or CNN_WEB_DIR).
set(CNN_UPLOT ${CMAKE_SOURCE_DIR}/web/node_modules/uplot)
if(TARGET cnn_tool)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/public DESTINATION ${CMAKE_INSTALL_DATADIR}/cnn/web COMPONENT tool)
  if(EXISTS ${CNN_UPLOT}/dist/uPlot.iife.min.js)
    install(DIRECTORY ${CNN_UPLOT}/dist DESTINATION ${CMAKE_INSTALL_DATADIR}/cnn/web/node_modules/uplot COMPONENT tool)
    install(FILES ${CNN_UPLOT}/LICENSE ${CNN_UPLOT}/package.json
            DESTINATION ${CMAKE_INSTALL_DATADIR}/cnn/web/node_modules/uplot COMPONENT tool)
  else()
    message(WARNING "${CNN_UPLOT}: not there (scripts/setup.sh installs it), so an installed cnn serve will not start")
  endif()
endif()

# The headers use C++20 (<span>, designated initialisers), so every user of the targets compiles as C++20.
target_compile_features(cnn PUBLIC cxx_std_20)
target_compile_features(cnn_shared PUBLIC cxx_std_20)
