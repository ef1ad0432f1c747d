# ONNX export and import (src/io/onnx*.cpp, include/cnn/onnx.h) through Debian's libonnx-dev: its generated
# protobuf classes (onnx::ModelProto, …, built with ONNX_ML=1 in namespace onnx) and onnx::checker. The imported
# targets carry the compile definitions ONNX_NAMESPACE=onnx and ONNX_ML=1 and need protobuf::libprotobuf.
find_package(Protobuf REQUIRED)        # libprotobuf-dev
find_package(ONNX CONFIG REQUIRED)     # libonnx-dev: /usr/lib/<arch>/cmake/ONNX/ONNXConfig.cmake
# PRIVATE: include/cnn/onnx.h exposes no protobuf type, so users of the library never see these headers.
target_link_libraries(cnn PRIVATE onnx onnx_proto protobuf::libprotobuf)
