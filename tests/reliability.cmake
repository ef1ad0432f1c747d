# tests/test_reliability.cpp reads `cnn serve`'s request bodies through the tool's own parser
# (tools/cnn/web_body.cpp: no server, no socket), so its refusals are tested value by value.
target_sources(cnn_tests PRIVATE ${CMAKE_SOURCE_DIR}/tools/cnn/web_body.cpp)
target_include_directories(cnn_tests PRIVATE ${CMAKE_SOURCE_DIR}/tools/cnn)
