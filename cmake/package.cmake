# Debian packages with CPack (`cd build && cpack -G DEB`), one per install component:
#   libcnn0      the shared library (runtime)          libcnn-dev   headers, libcnn.a, CMake package, pkg-config
#   cnn          the tool and the presets (tool)       python3-cnn  the Python module (python)
# Library dependencies are found by dpkg-shlibdeps; the test (cmake/package_test.sh) checks the contents and runs
# the tool and the module from the unpacked files.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cnn)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "cnn maintainers <cnn@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Convolutional neural networks in C++20: train, run, export to ONNX")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime dev tool python)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # xz takes minutes over the static library on two cores
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libcnn0)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcnn-dev)
set(CPACK_DEBIAN_TOOL_PACKAGE_NAME cnn)
set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-cnn)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_GENERATE_SHLIBS ON)  # a shlibs file and the ldconfig trigger
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "nlohmann-json3-dev")
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "python3 (>= 3.11), python3 (<< 3.12), python3-numpy")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "cnn: convolutional neural networks - shared library")
set(CPACK_COMPONENT_DEV_DESCRIPTION "cnn: convolutional neural networks - development files")
set(CPACK_COMPONENT_TOOL_DESCRIPTION "cnn: convolutional neural networks - the command-line tool and presets")
set(CPACK_COMPONENT_PYTHON_DESCRIPTION "cnn: convolutional neural networks - Python 3 module")
include(CPack)
