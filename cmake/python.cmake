# The Python module `cnn` (python/cnn_module.cpp, pybind11) for Debian's /usr/bin/python3 (pybind11-dev,
# python3-dev; numpy at run time): build/python/cnn.cpython-*.so, importable from the build tree with
#   PYTHONPATH=build/python /usr/bin/python3 -c 'import cnn'
# It links the static library, whose objects are position-independent, so the module needs no libcnn.so.
set(Python_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python the module is built for (Debian's)")
find_package(Python 3 REQUIRED COMPONENTS Interpreter Development.Module)
set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 CONFIG REQUIRED)
# NO_EXTRAS: no link-time optimisation of the module (it only adds a serial LTO step to the build)
pybind11_add_module(cnn_python NO_EXTRAS ${CMAKE_SOURCE_DIR}/python/cnn_module.cpp)
set_target_properties(cnn_python PROPERTIES OUTPUT_NAME cnn LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/python)
target_link_libraries(cnn_python PRIVATE cnn)
target_compile_options(cnn_python PRIVATE ${CNN_WARNINGS})
# Debian's layout for python3-* packages: /usr/lib/python3/dist-packages
set(CNN_PYTHON_INSTALL_DIR lib/python3/dist-packages CACHE STRING "Where the module is installed, under the prefix")
install(TARGETS cnn_python LIBRARY DESTINATION ${CNN_PYTHON_INSTALL_DIR} COMPONENT python)
