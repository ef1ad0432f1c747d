# Tests of the pictures, the classic kernels and the web verbs. cnn_tests gets OpenCV (filter2D is the oracle for
# `cnn kernels`, imread checks the PNGs) and httplib's client (the bad-request test); the browser test drives
# Debian's headless Chromium with playwright-core from web/node_modules (scripts/setup.sh installs both).
target_include_directories(cnn_tests SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
target_link_libraries(cnn_tests PRIVATE ${OpenCV_LIBS})
if(TARGET PkgConfig::HTTPLIB)
  target_link_libraries(cnn_tests PRIVATE PkgConfig::HTTPLIB)
endif()

# node is required (scripts/setup.sh installs it): the browser test is never silently dropped.
find_program(NODE_EXECUTABLE node REQUIRED)
if(TARGET cnn_tool)
  # Draws a stroke on the page of a real `cnn serve`, waits for the prediction and feature maps, follows a training
  # run, uploads a photo to a colour model and clicks a test image of its strip, and saves screenshots to
  # build/artifacts/ (serve.png, train.png, serve_colour.png).
  add_test(NAME web_browser
           COMMAND ${NODE_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/web/browser_test.js
                   --cnn $<TARGET_FILE:cnn_tool> --artifacts ${CMAKE_BINARY_DIR}/artifacts)
  set_tests_properties(web_browser PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE)
endif()
