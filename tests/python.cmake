# The Python module's pytest suite (python/tests) with Debian's /usr/bin/python3: the module from the build tree, the
# built tool (the model file of `cnn train`, `cnn eval`, `cnn predict`, `cnn import`) and the suite's digits.
if(TARGET cnn_python AND TARGET cnn_tool)
  add_test(NAME python_module COMMAND ${Python_EXECUTABLE} -m pytest -q -p no:cacheprovider
                                      ${CMAKE_SOURCE_DIR}/python/tests)
  set_tests_properties(python_module PROPERTIES TIMEOUT 300 ENVIRONMENT
    "PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1;CNN_TOOL=$<TARGET_FILE:cnn_tool>;\
CNN_DIGITS=${CMAKE_BINARY_DIR}/data/mnist-digits")
endif()
