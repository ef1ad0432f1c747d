# Installs the build into a temporary prefix and builds and runs examples/ against it as an outside project
# (CMake's find_package and pkg-config): cmake/install_test.sh.
add_test(NAME install_and_use
         COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/install_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/install-test ${CMAKE_INSTALL_LIBDIR})
set_tests_properties(install_and_use PROPERTIES TIMEOUT 600)
