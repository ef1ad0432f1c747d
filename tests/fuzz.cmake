# The libFuzzer targets, tests/fuzz/fuzz_<parser>.cpp, one per parser. Built only by scripts/fuzz.sh, in a clang
# build of its own (build-fuzz/) whose every source is compiled with -fsanitize=fuzzer-no-link,address,undefined;
# the ordinary build never sees them (CNN_FUZZ is off).
option(CNN_FUZZ "Build the libFuzzer targets in tests/fuzz/ (clang only)" OFF)
if(CNN_FUZZ)
  # the API's bodies and the declared picture size are the tool's (tools/cnn/web_body.cpp), not the library's
  add_library(cnn_fuzz_web OBJECT ${CMAKE_SOURCE_DIR}/tools/cnn/web_body.cpp)
  target_link_libraries(cnn_fuzz_web PRIVATE cnn)
  file(GLOB CNN_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.cpp)
  foreach(src ${CNN_FUZZ_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src} $<TARGET_OBJECTS:cnn_fuzz_web>)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tools/cnn)
    target_include_directories(${name} SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
    target_link_libraries(${name} PRIVATE cnn ZLIB::ZLIB ${OpenCV_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endforeach()
  # the seed corpora's maker (tests/fuzz/corpus/ is checked in; this remakes it)
  add_executable(make_corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/make_corpus.cpp)
  target_include_directories(make_corpus SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
  target_link_libraries(make_corpus PRIVATE cnn ${OpenCV_LIBS})
  set_target_properties(make_corpus PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
endif()
