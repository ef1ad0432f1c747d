// ONNX export and import (through Debian's libonnx-dev; no protobuf type leaks into this header).
//
// Exported graphs (opset 13, IR version 8, checked by onnx::checker::check_model before they are written):
//   input "input" float32 [N, C, H, W] (N symbolic), tensors NCHW;
//   conv2d     → Conv, weight [C_out, C_in, kh, kw] + bias, explicit pads [top, left, bottom, right] (`same` puts an
//                odd extra pixel at the bottom/right, ONNX's SAME_UPPER), strides, kernel_shape
//   maxpool2d  → MaxPool, avgpool2d → AveragePool, l2pool2d → LpPool p = 2 (kernel_shape, strides, pads; a dilated
//                window as MaxPool's dilations, refused for the other two, which take none before opset 18)
//   dense      → Gemm with transB = 1: B is our W [inputs, outputs] transposed to [outputs, inputs] (PyTorch's
//                Linear layout; OpenCV 4.6 mis-reads transB = 0 with a bias), C the bias; a Flatten (axis 1) is
//                inserted first when the input is still 4-D (a dense layer reads any input as c·h·w features)
//   relu, leaky_relu (alpha written), sigmoid, tanh → Relu, LeakyRelu, Sigmoid, Tanh
//   softmax    → Softmax axis 1 on [N, F] (a Flatten first when the input is 4-D with h·w > 1: ours is over c·h·w);
//                along an axis (1 channels, 2 rows, 3 columns): Softmax with that axis on [N, C, H, W] (opset 13)
//   log_softmax → LogSoftmax, the same way
//   flatten    → Flatten axis 1;  dropout → Dropout with its ratio (the identity at inference)
//   batchnorm2d → folded into the Conv before it (W' = W·γ/√(σ² + ε), b' = (b − μ)·γ/√(σ² + ε) + β, running
//                statistics) when nothing else reads that Conv; else, or without fold_batchnorm, BatchNormalization
//   normalize  → BatchNormalization with mean μ, variance σ², scale 1, bias 0, epsilon 0: (x − μ)/σ per channel
//   global_avgpool2d → GlobalAveragePool;  add → Add;  concat → Concat with its axis (graphs: a layer's "inputs")
//   a flat [N, F] tensor entering a conv or pool layer is reshaped back to [N, F, 1, 1] (Reshape [0, F, 1, 1])
//   subsampling (seed 002's trainable β) has no ONNX operator: exporting it throws cnn::Error naming the layer.
// The graph's output is exactly what Network::forward returns: "logits" for a softmax_cross_entropy net (its
// softmax lives in the loss), "output" otherwise. With `softmax_output` a final Softmax turns logits into
// "probabilities". metadata_props record cnn.loss, cnn.output ("logits" | "probabilities" | "output"),
// cnn.name and cnn.class_names (JSON), so that import restores the net, its loss and its class names.
//
// Import reads a graph of the operators ONNX's specification defines (opsets 7–17) onto this library's layers:
// Conv, MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, BatchNormalization (inference), Gemm,
// MatMul, Add, Mul, Sum, Concat, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, LogSoftmax, Flatten, Reshape, Dropout,
// Identity, Constant, Clip and Pad, at the ranks they allow. Tensors of any rank are mapped onto NCHW: the leading
// dimensions whose product is the batch become the batch, the rest one sample (c, h, w), and each operator checks that
// its axis falls where the layer computes it (Softmax and LogSoftmax over one of a sample's channels, rows or columns
// from opset 13, over its flattened trailing axes before; Concat along a sample's channels, rows or columns; a Concat
// input that is a constant becomes a Constant layer). A graph with fixed dimensions may be batched at any of its
// leading axes: the first split that every node accepts is taken. A Gemm or MatMul with one sample per row of A is
// a dense layer; one whose A is transposed, whose C differs from row to row or whose matrices are batched within a
// sample becomes the exact linear map of a sample (a dense layer holding every pair, up to 2^24 weights). Element-wise
// Add/Mul by a constant becomes a 1×1 convolution with a diagonal kernel (per channel, or per value after a Flatten),
// Clip is ReLUs and such convolutions, a constant Pad or a padded average pool a 1×1 identity convolution with pads.
// Graph inputs after the first may be given as tensors (`extra_inputs`): they are then constants, e.g. a Gemm's B and
// C. Anything else is refused with a one-line cnn::Error naming the file, the node, the operator and the attribute or
// shape. Malformed files (truncated, wrong types, missing initializers, cycles, wrong shapes) throw cnn::Error too,
// never crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnn/network.h"

namespace cnn {

struct OnnxExportOptions {
  std::string name;                      // the graph's name and cnn.name
  std::vector<std::string> class_names;  // written to cnn.class_names
  bool softmax_output = false;           // end a softmax_cross_entropy net in Softmax (probabilities)
  bool fold_batchnorm = true;            // a batchnorm2d right after a conv2d becomes part of the Conv's weights
};

// The serialized ModelProto; throws cnn::Error for a layer with no ONNX form.
std::string export_onnx_bytes(const Network& net, const OnnxExportOptions& options = {});
// Writes the model atomically.
void export_onnx(const std::string& path, const Network& net, const OnnxExportOptions& options = {});

// A graph input or output as the imported network sees it: its ONNX dims (for a graph with a symbolic batch, the
// batch dimension holds kOnnxBatch, and a dimension that is a multiple of it scales with the batch) and the network
// value holding its data (Network::kInput, or the index of the layer whose output it is).
constexpr std::int64_t kOnnxBatch = 1000003;
// An output may be of another element type than float32 (ONNX's TensorProto data type: 1 float, 7 int64, 9 bool):
// Dropout's mask (bool, a constant layer of ones) and MaxPool's Indices (int64, a maxpool2d_indices layer whose
// index within each map of `map_in` pixels becomes ONNX's index from the start of the batch: the i-th value of the
// network's output, counted over the whole batch, gains (i / map_out)·map_in).
struct OnnxPort {
  std::string name;
  std::vector<std::int64_t> dims;
  int value = -1;
  int type = 1;
  std::int64_t map_out = 0, map_in = 0;
};

struct OnnxImport {
  Network net;
  std::string name;
  std::vector<std::string> class_names;
  bool probabilities_removed = false;  // a Softmax that export added (cnn.output = probabilities) was dropped
  OnnxPort input;
  std::vector<OnnxPort> outputs;
  bool symbolic_batch = false;  // the input's first dimension is free (every exported graph's)
  std::int64_t batch = 1;       // network samples in one input of input.dims (kOnnxBatch when symbolic)
  // A graph exported for training (torch.onnx.export(training=TRAINING)): its BatchNormalization nodes normalise with
  // each batch's statistics (training_mode = 1, or their training outputs before opset 14). Imported, they are the
  // same batchnorm2d layers as in inference, trainable on; run_onnx runs such a graph in training mode, as ONNX's
  // runtimes do (the batch's statistics, the running ones updated).
  bool training_mode = false;
};
// `source` names the file in error messages. `extra_inputs`: serialized TensorProtos for the graph inputs after the
// first that is not an initializer, in order; each becomes a constant.
OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& source,
                             const std::vector<std::string>& extra_inputs = {});
OnnxImport import_onnx(const std::string& path, const std::vector<std::string>& extra_inputs = {});

// ONNX TensorProto files (the .pb files of ONNX test cases): float32 (double is converted) in `values`, or the
// integer types (int64, int32, int8, uint8, bool) in `ints`, `type` saying which (ONNX's data type).
struct OnnxTensor {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> values;
  int type = 1;
  std::vector<std::int64_t> ints;
  bool is_float() const { return type == 1; }
};
OnnxTensor read_onnx_tensor(const std::string& path);
OnnxTensor parse_onnx_tensor(const std::string& bytes, const std::string& source);
std::string serialize_onnx_tensor(const OnnxTensor& t);
void write_onnx_tensor(const std::string& path, const OnnxTensor& t);

// The dims an exported graph gives the network's output for a batch of n: [n, F] when it ends flat, else
// [n, C, H, W]; and the tensor as a batch for the network's input (accepts [N, C, H, W], [N, F] when the input is
// F×1×1 or C·H·W flat, or one sample [C, H, W]). Throws cnn::Error naming `source` when the shape does not fit.
std::vector<std::int64_t> onnx_output_dims(const Network& net, int n);
Tensor onnx_tensor_to_input(const Network& net, const OnnxTensor& t, const std::string& source);

// Runs an imported graph on its input tensor (its dims as declared, the batch free when it is symbolic) and returns
// every graph output with its ONNX dims (the Softmax that import dropped applied again).
std::vector<OnnxTensor> run_onnx(OnnxImport& model, const OnnxTensor& input, const std::string& source);

}  // namespace cnn
