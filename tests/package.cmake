# The Debian packages (cmake/package.cmake) built by CPack from this build, their contents checked, and the tool
# and the Python module run from the unpacked files: cmake/package_test.sh.
if(TARGET cnn_python AND TARGET cnn_tool)
  add_test(NAME debian_packages COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/package_test.sh ${CMAKE_BINARY_DIR}
                                        ${CMAKE_BINARY_DIR}/package-test)
  set_tests_properties(debian_packages PROPERTIES TIMEOUT 300)
endif()
