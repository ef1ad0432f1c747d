# Install rules: `cmake --install build [--prefix P]` puts
#   lib/libcnn.so.0.2.0 (SONAME libcnn.so.0) and libcnn.so        component runtime (the .so link: dev)
#   lib/libcnn.a, include/cnn/…, lib/cmake/cnn/, lib/pkgconfig/cnn.pc  component dev
#   bin/cnn, share/cnn/nets/*.json                              component tool
# so that another project finds it with find_package(cnn 0.2 REQUIRED) (targets cnn::cnn, the shared library, and
# cnn::cnn_static) or pkg-config (cnn; --static for the archive). Only include/cnn/ is installed: src/ holds the
# private headers, and no public header includes one of them.
include(GNUInstallDirs)
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
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/install/cnnConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/generated/cnnConfig.cmake INSTALL_DESTINATION ${CNN_CMAKE_DIR})
# 0.x: a minor version may change the API, so 0.2 accepts 0.2.y only
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/cnnConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/cnnConfig.cmake ${CMAKE_BINARY_DIR}/generated/cnnConfigVersion.cmake
        DESTINATION ${CNN_CMAKE_DIR} COMPONENT dev)

# pkg-config: ${pcfiledir} makes the file relocatable (the install test installs into a temporary prefix).
file(RELATIVE_PATH CNN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_SOURCE_DIR}/cmake/install/cnn.pc.in ${CMAKE_BINARY_DIR}/generated/cnn.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/generated/cnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(TARGET cnn_tool)
  install(TARGETS cnn_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tool)
endif()
install(FILES ${CNN_PRESET_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/cnn/nets COMPONENT tool)

# The headers use C++20 (<span>, designated initialisers), so every user of the targets compiles as C++20.
target_compile_features(cnn PUBLIC cxx_std_20)
target_compile_features(cnn_shared PUBLIC cxx_std_20)
