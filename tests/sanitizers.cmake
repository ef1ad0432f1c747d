# The ThreadSanitizer suite: the tests of the thread pool and the threaded layers (test_thread_bits.cpp: every layer
# type trained on 1 to 4 threads), of the trainer (test_recipe.cpp, test_catalogue.cpp) and of the servers
# (test_serve.cpp: `cnn serve`, `cnn train --serve`; test_serve_load.cpp: the server under load), in one binary of
# their own, so that the TSan build (scripts/test_sanitizers.sh, build-tsan/, CNN_TSAN_TESTS=ON) compiles five test
# files, not the whole suite.
# test_fast_network.cpp cannot join: it replaces operator new and delete, which TSan's runtime defines in the same
# object as the nothrow forms, so the link fails. The ordinary build never sees this binary.
option(CNN_TSAN_TESTS "Build cnn_tsan_tests, the threaded tests alone (for a -fsanitize=thread build)" OFF)
if(CNN_TSAN_TESTS)
  add_executable(cnn_tsan_tests test_thread_bits.cpp test_recipe.cpp test_catalogue.cpp test_serve.cpp
                                test_serve_load.cpp)
  target_link_libraries(cnn_tsan_tests PRIVATE cnn cnn_reference GTest::gtest GTest::gtest_main ${OpenCV_LIBS})
  target_include_directories(cnn_tsan_tests SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
  target_include_directories(cnn_tsan_tests PRIVATE ${CMAKE_SOURCE_DIR}/tools/cnn)  # the server's limits
  if(TARGET PkgConfig::HTTPLIB)  # test_serve.cpp's client
    target_link_libraries(cnn_tsan_tests PRIVATE PkgConfig::HTTPLIB)
  endif()
  target_compile_definitions(cnn_tsan_tests PRIVATE CNN_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                                                    CNN_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set_target_properties(cnn_tsan_tests PROPERTIES EXCLUDE_FROM_ALL ON)
  if(TARGET cnn_tool)
    add_dependencies(cnn_tsan_tests cnn_tool)
  endif()
endif()

# The AddressSanitizer + UndefinedBehaviorSanitizer suite that CI runs (scripts/test_sanitizers.sh, in build-fuzz/):
# the tests of every reader and of the tool's input paths — IDX, CIFAR-10, pictures and folders of them, model and
# description files, graphs, ONNX import, the server, the damaged-input and crash tests, the fuzzers' regressions —
# in one binary, so the sanitizer build compiles 14 test files, not the whole suite. The whole of cnn_tests under
# ASan is `CNN_ASAN_FULL=1 scripts/test_sanitizers.sh`.
option(CNN_ASAN_TESTS "Build cnn_asan_tests, the readers' tests alone (for an ASan build)" OFF)
if(CNN_ASAN_TESTS)
  add_executable(cnn_asan_tests test_idx.cpp test_cifar10.cpp test_image.cpp test_folder.cpp test_model.cpp
                                test_netfile.cpp test_graph.cpp test_onnx_import.cpp test_onnx.cpp test_serve.cpp
                                test_serve_load.cpp test_reliability.cpp test_fuzz_regressions.cpp test_thread_bits.cpp
                                ${CMAKE_SOURCE_DIR}/tools/cnn/web_body.cpp)
  target_link_libraries(cnn_asan_tests PRIVATE cnn cnn_reference GTest::gtest GTest::gtest_main ${OpenCV_LIBS}
                                               onnx onnx_proto protobuf::libprotobuf)
  target_include_directories(cnn_asan_tests PRIVATE ${CMAKE_SOURCE_DIR}/tools/cnn)
  target_include_directories(cnn_asan_tests SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
  if(TARGET PkgConfig::HTTPLIB)
    target_link_libraries(cnn_asan_tests PRIVATE PkgConfig::HTTPLIB)
  endif()
  target_compile_definitions(cnn_asan_tests PRIVATE CNN_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                                                    CNN_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set_target_properties(cnn_asan_tests PROPERTIES EXCLUDE_FROM_ALL ON)
  if(TARGET cnn_tool)
    add_dependencies(cnn_asan_tests cnn_tool)
  endif()
endif()
