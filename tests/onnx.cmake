# The ONNX tests read exported files back with OpenCV's dnn module (an independent ONNX reader) and parse them with
# the onnx protobuf classes; the PyTorch parity test runs tests/parity/torch_steps.py with Debian's /usr/bin/python3.
find_package(OpenCV REQUIRED COMPONENTS core dnn)
target_include_directories(cnn_tests SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
target_link_libraries(cnn_tests PRIVATE ${OpenCV_LIBS} onnx onnx_proto protobuf::libprotobuf)
