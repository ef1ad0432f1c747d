// Networks as graphs: description files with "name" and "inputs", the errors a bad graph gets, the plan a graph
// compiles into, batch normalisation's buffers in model files, and graphs exported to ONNX and read by OpenCV.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "onnx_helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::string& text) {
  try {
    network_from_text(text, "g.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* const kHead = R"({"input": [2, 6, 6], "layers": [)";
std::string net_text(const std::string& layers) { return kHead + layers + "]}"; }

TEST(GraphFile, BadGraphsGetOneLineNamingTheFileTheLayerAndTheField) {
  const std::string unknown =
      error_of(net_text(R"({"type": "relu", "name": "a"}, {"type": "add", "inputs": ["a", "nope"]})"));
  EXPECT_EQ(unknown.rfind("g.json: layer 1 (add): field \"inputs\": no layer is named \"nope\"", 0), 0u) << unknown;

  const std::string cycle = error_of(
      net_text(R"({"type": "relu", "name": "a", "inputs": ["b"]}, {"type": "relu", "name": "b", "inputs": ["a"]},)"
               R"({"type": "add", "inputs": ["a", "b"]})"));
  EXPECT_EQ(cycle.rfind("g.json: layer 0 (relu) \"a\": field \"inputs\": the layers read each other in a cycle", 0), 0u)
      << cycle;

  const std::string shapes =
      error_of(net_text(R"({"type": "conv2d", "name": "c", "filters": 3, "kernel": 3, "padding": 1},)"
                        R"({"type": "add", "inputs": ["c", "input"]})"));
  EXPECT_EQ(shapes.rfind("g.json: layer 1 (add): add layer: input 2 is 2x6x6 but input 1 is 3x6x6", 0), 0u) << shapes;

  const std::string dangling =
      error_of(net_text(R"({"type": "relu", "name": "a"}, {"type": "tanh", "name": "t", "inputs": ["input"]},)"
                        R"({"type": "sigmoid", "inputs": ["a"]})"));
  EXPECT_EQ(dangling.rfind("g.json: layer 1 (tanh) \"t\": its output is read by no layer", 0), 0u) << dangling;

  const std::string twice = error_of(net_text(R"({"type": "relu", "name": "a"}, {"type": "tanh", "name": "a"})"));
  EXPECT_EQ(twice.rfind("g.json: layer 1 (tanh): field \"name\": \"a\" is already the name of layer 0", 0), 0u)
      << twice;

  const std::string self = error_of(net_text(R"({"type": "relu", "name": "a", "inputs": ["a"]})"));
  EXPECT_NE(self.find("cannot read its own output"), std::string::npos) << self;
  const std::string type = error_of(net_text(R"({"type": "relu", "inputs": "input"})"));
  EXPECT_NE(type.find("field \"inputs\" must be a non-empty array of layer names"), std::string::npos) << type;
  const std::string one = error_of(net_text(R"({"type": "add", "inputs": ["input"]})"));
  EXPECT_NE(one.find("needs two or more inputs"), std::string::npos) << one;
  const std::string reserved = error_of(net_text(R"({"type": "relu", "name": "input"})"));
  EXPECT_NE(reserved.find("\"input\" is the network's input"), std::string::npos) << reserved;
}

// A layer may read one the file lists after it; the network runs them in an order that respects the reads.
TEST(GraphFile, LayersMayNameLayersListedLater) {
  Network later = network_from_text(
      net_text(
          R"({"type": "add", "name": "sum", "inputs": ["t", "s"]}, {"type": "tanh", "name": "t", "inputs": ["input"]},)"
          R"({"type": "sigmoid", "name": "s", "inputs": ["input"]}, {"type": "relu", "inputs": ["sum"]})"),
      "later");
  // the same graph written in order
  Network ordered = network_from_text(
      net_text(R"({"type": "tanh", "name": "t"}, {"type": "sigmoid", "name": "s", "inputs": ["input"]},)"
               R"({"type": "add", "name": "sum", "inputs": ["t", "s"]}, {"type": "relu"})"),
      "ordered");
  ASSERT_EQ(later.size(), 4u);
  const Tensor x = test::random_tensor({3, 2, 6, 6}, 1);
  const Tensor a = later.forward(x), b = ordered.forward(x);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_FLOAT_EQ(a[i], std::max(0.0f, std::tanh(x[i]) + 1 / (1 + std::exp(-x[i]))));
}

TEST(GraphFile, ChainsMeanWhatTheyMeantAndGraphsRoundTrip) {
  const std::string seed5 = network_to_text(load_network("seed5"));
  EXPECT_EQ(seed5.find("\"inputs\""), std::string::npos);  // a chain needs no names
  EXPECT_EQ(seed5.find("\"name\""), std::string::npos);
  for (const std::string preset : {"resnet8", "resnet20"}) {
    Network net = load_network(preset);
    net.init(4);
    Network back = network_from_text(network_to_text(net), "round trip");
    EXPECT_EQ(back.spec(), net.spec()) << preset;
    ASSERT_EQ(back.params().size(), net.params().size());
    ASSERT_EQ(back.buffers().size(), net.buffers().size());
    back.params() = net.params();
    back.buffers() = net.buffers();
    const Tensor x = test::random_tensor(net.input_shape().with_batch(2), 2, 0.0f, 1.0f);
    const Tensor a = net.forward(x), b = back.forward(x);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << preset;
    for (std::size_t i = 0; i < net.size(); ++i) EXPECT_EQ(back.layer_inputs(i), net.layer_inputs(i)) << i;
  }
}

// He et al. 2015, section 4.2: ResNet-20 has 0.27M parameters (our shortcuts with a change of shape are 1×1
// projections, option B, which adds 2,560 weights and their batch normalisations).
TEST(GraphFile, ResNetPresetsHaveThePapersShape) {
  auto count = [](int n) {
    std::size_t p = 16 * 3 * 9 + 2 * 16;  // stem conv (no bias) and its batch norm
    int c = 16;
    for (int o : {16, 32, 64})
      for (int b = 0; b < n; ++b) {
        p += std::size_t(o) * c * 9 + 2 * o + std::size_t(o) * o * 9 + 2 * o;
        if (o != c) p += std::size_t(o) * c + 2 * o;  // the projection and its batch norm
        c = o;
      }
    return p + 64 * 10 + 10;
  };
  Network r20 = load_network("resnet20"), r8 = load_network("resnet8");
  EXPECT_EQ(r20.params().size(), count(3));
  EXPECT_EQ(r8.params().size(), count(1));
  EXPECT_NEAR(double(r20.params().size()), 0.27e6, 0.005e6);
  EXPECT_EQ(r20.input_shape(), (Shape{1, 3, 32, 32}));
  EXPECT_EQ(r20.output_shape(), (Shape{1, 10, 1, 1}));
  int convs = 0, bns = 0, adds = 0;
  for (std::size_t i = 0; i < r20.size(); ++i) {
    const std::string k = r20.layer(i).kind();
    convs += k == "conv2d", bns += k == "batchnorm2d", adds += k == "add";
  }
  EXPECT_EQ(convs, 19 + 2);  // 19 on the main path (+ the dense: 20 weight layers), 2 projections
  EXPECT_EQ(bns, convs);
  EXPECT_EQ(adds, 9);
  // a running mean and variance per channel of every batch norm: stem 16, 3 blocks × 2 × (16, 32, 64), 32 + 64;
  // and the input's mean and deviation per channel
  EXPECT_EQ(r20.layer(0).kind(), "normalize");
  EXPECT_EQ(r20.buffers().size(), std::size_t(2 * (16 + 3 * 2 * (16 + 32 + 64) + 32 + 64) + 2 * 3));
}

// The seeds' AlexNet pattern at CIFAR size: 5 convolutions, 3 poolings, 2 dense layers with dropout, 10 outputs.
TEST(GraphFile, AlexNetCifarKeepsTheSeedsPattern) {
  Network net = load_network("alexnet-cifar");
  std::size_t want = 0;
  int c = 3;
  for (int o : {64, 128, 256, 256, 128}) want += std::size_t(o) * c * 9 + o, c = o;
  want += 2048 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;  // 128×4×4 after the third pooling
  EXPECT_EQ(net.params().size(), want);
  int convs = 0, pools = 0, dropouts = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const std::string k = net.layer(i).kind();
    convs += k == "conv2d", pools += k == "maxpool2d", dropouts += k == "dropout";
  }
  EXPECT_EQ(convs, 5);
  EXPECT_EQ(pools, 3);
  EXPECT_EQ(dropouts, 2);
  EXPECT_EQ(net.input_shape(), (Shape{1, 3, 32, 32}));
}

std::vector<std::string> step_names(Network& net) {
  std::vector<std::string> names;
  for (const auto& s : net.plan().steps()) names.push_back(s->name());
  return names;
}

TEST(Plan, FusesChainsWhereNothingElseReadsTheMiddleAndKeepsEverythingWhenAsked) {
  Network seed5 = load_network("seed5");
  const auto folded = step_names(seed5);
  ASSERT_EQ(folded.size(), 3u);
  EXPECT_EQ(folded[0], "conv2d 6@5x5 stride 1 valid + relu + maxpool2d 2x2 stride 2");
  seed5.set_need_input_gradient(true);  // every activation kept: the pooling no longer takes the ReLU over
  const auto kept = step_names(seed5);
  ASSERT_EQ(kept.size(), 5u);
  EXPECT_EQ(kept[0], "conv2d 6@5x5 stride 1 valid + relu");
  EXPECT_EQ(kept[1], "maxpool2d 2x2 stride 2");

  // conv → relu where the add reads the conv's output too: no fusion (the conv's gradient is the sum of two)
  Network shared = network_from_text(
      net_text(
          R"({"type": "conv2d", "name": "c", "filters": 2, "kernel": 3, "padding": 1}, {"type": "relu", "name": "r"},)"
          R"({"type": "add", "inputs": ["c", "r"]})"),
      "shared");
  EXPECT_EQ(step_names(shared).size(), 3u);
  Network resnet = load_network("resnet8");
  for (const auto& s : resnet.plan().steps())
    for (int l : s->layers()) EXPECT_LT(l, int(resnet.size()));
}

// A value read by two layers gets the sum of both gradients: y = x + relu(x) has dy/dx = 1 + [x ≥ 0].
TEST(Plan, AValueReadTwiceGetsTheSumOfBothGradients) {
  Network net =
      network_from_text(net_text(R"({"type": "relu", "name": "r"}, {"type": "add", "inputs": ["input", "r"]})"), "sum");
  net.set_need_input_gradient(true);
  const Tensor x = test::spaced_tensor({2, 2, 6, 6}, 3);
  net.forward(x, {Mode::train, 0});
  Tensor dy(x.shape(), 1.0f);
  net.backward(dy);
  const Tensor& dx = net.network_input_gradient();
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx[i], x[i] >= 0 ? 2.0f : 1.0f) << i;
  // and the same layer twice: y = relu(x) + relu(x)
  Network twice =
      network_from_text(net_text(R"({"type": "relu", "name": "r"}, {"type": "add", "inputs": ["r", "r"]})"), "twice");
  twice.set_need_input_gradient(true);
  twice.forward(x, {Mode::train, 0});
  twice.backward(dy);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(twice.network_input_gradient()[i], x[i] >= 0 ? 2.0f : 0.0f);
}

// A side output (an imported graph's MaxPool Indices, Dropout mask): computed, read with activation(i), written back
// as "output": true, and outside backward, so the trained gradients are those of the net without it.
TEST(Plan, SideOutputsAreComputedAndGetNoGradient) {
  const std::string conv = R"({"type": "conv2d", "filters": 3, "kernel": 3, "name": "c"}, )";
  const std::string side = R"({"type": "maxpool2d_indices", "kernel": [2, 3], "stride": [2, 1], "padding": [1, 0, 1, 1],
                              "order": "columns", "inputs": ["c"], "output": true}, )";
  const std::string rest = R"({"type": "relu", "inputs": ["c"]}, {"type": "flatten"}, {"type": "dense", "units": 4})";
  Network with = network_from_text(kHead + conv + side + rest + "]}", "side");
  Network without = network_from_text(kHead + conv + rest + "]}", "plain");
  ASSERT_EQ(with.size(), 5u);
  without.init(3);
  with.params() = without.params();  // the side layer has no parameters; the others come in the same order
  with.set_loss(std::make_unique<SoftmaxCrossEntropy>()), without.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  const Tensor x = test::random_tensor({3, 2, 6, 6}, 4, -1.0f, 1.0f);
  const std::vector<int> labels{0, 3, 1};
  const double lw = with.forward_backward(x, labels.data(), 0), lo = without.forward_backward(x, labels.data(), 0);
  EXPECT_EQ(lw, lo);
  ASSERT_EQ(with.grads().size(), without.grads().size());
  for (std::size_t i = 0; i < with.grads().size(); ++i) ASSERT_EQ(with.grads()[i], without.grads()[i]) << i;
  // the side output: the index of each window's first maximum in the conv's 4×4 maps, by columns (v·H + u)
  std::size_t side_layer = 0;
  while (with.layer(side_layer).kind() != "maxpool2d_indices") ++side_layer;
  EXPECT_TRUE(with.is_output(side_layer));
  std::size_t conv_layer = 0;
  while (with.layer(conv_layer).kind() != "conv2d") ++conv_layer;
  const Tensor& maps = with.activation(conv_layer);
  const Tensor& idx = with.activation(side_layer);
  ASSERT_EQ(idx.shape(), (Shape{3, 3, 3, 3}));  // (4 + 2 − 2)/2 + 1 rows, (4 + 1 − 3)/1 + 1 columns
  for (int m = 0; m < 9; ++m)
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox) {
        int best = -1;
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 3; ++j) {
            const int u = oy * 2 - 1 + i, v = ox - 0 + j;
            if (u < 0 || u >= 4 || v < 0 || v >= 4) continue;
            if (best < 0 || maps.data()[m * 16 + u * 4 + v] > maps.data()[m * 16 + best]) best = u * 4 + v;
          }
        ASSERT_EQ(idx.data()[(m * 3 + oy) * 3 + ox], float(best % 4 * 4 + best / 4)) << m << " " << oy << " " << ox;
      }
  // written back as it was read
  const nlohmann::json spec = with.spec();
  int marked = 0;
  for (const auto& l : spec["layers"]) marked += l.value("output", false);
  EXPECT_EQ(marked, 1);
  Network again = network_from_json(spec, "again");
  EXPECT_EQ(again.spec(), spec);
  // ONNX's MaxPool gives its Indices as int64 across the batch: no export
  try {
    export_onnx_bytes(with);
    ADD_FAILURE() << "exported a maxpool2d_indices layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("maxpool2d_indices) has no ONNX operator"), std::string::npos) << e.what();
  }
  // an unread layer not marked as an output, and a mark that is not a boolean
  std::string no_mark = side;
  no_mark.replace(no_mark.find(R"(, "output": true)"), 16, "");
  EXPECT_NE(error_of(kHead + conv + no_mark + rest + "]}").find("its output is read by no layer"), std::string::npos);
  std::string bad_mark = side;
  bad_mark.replace(bad_mark.find("true"), 4, R"("yes")");
  EXPECT_NE(error_of(kHead + conv + bad_mark + rest + "]}").find(R"(field "output" must be true or false)"),
            std::string::npos);
  EXPECT_NE(error_of(net_text(R"({"type": "maxpool2d_indices", "order": "diagonal"}, {"type": "flatten"})"))
                .find(R"(field "order" must be "rows" or "columns")"),
            std::string::npos);
}

Network trained_resnet8(std::uint64_t seed, int steps = 3) {
  Network net = load_network("resnet8");
  net.init(seed);
  Optimizer sgd({.lr = 0.05, .momentum = 0.9});
  const Tensor x = test::random_tensor({8, 3, 32, 32}, seed, 0.0f, 1.0f);
  std::vector<int> labels{0, 1, 2, 3, 4, 5, 6, 7};
  for (int s = 0; s < steps; ++s) {
    net.forward_backward(x, labels.data(), std::uint64_t(s));
    sgd.step(net);
  }
  return net;
}

// Inference folds each batch normalisation into the convolution before it; keeping every value runs them apart.
TEST(Plan, EvaluationFoldsBatchNormIntoTheConvolution) {
  Network net = trained_resnet8(7);
  const auto folded = step_names(net);
  EXPECT_EQ(folded[1], "conv2d 16@3x3 stride 1 pad 1, no bias + batchnorm2d 16 channels + relu");
  const Tensor x = test::random_tensor({3, 3, 32, 32}, 11, 0.0f, 1.0f);
  const Tensor a = net.forward(x, {Mode::eval, 0});
  net.set_need_input_gradient(true);
  EXPECT_GT(step_names(net).size(), folded.size());
  const Tensor b = net.forward(x, {Mode::eval, 0});
  EXPECT_LE(test::max_rel_diff(a.data(), b.data(), a.size(), 1.0), 1e-5);
  EXPECT_NE(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));  // two roundings: the fold did run
  // a backward after a folded forward still gets every gradient right
  net.set_need_input_gradient(false);
  net.forward(x, {Mode::eval, 0});
  Tensor dout(net.output_shape().with_batch(3), 0.1f);
  net.backward(dout);
  const std::vector<float> g1 = net.grads();
  net.set_need_input_gradient(true);
  net.forward(x, {Mode::eval, 0});
  net.backward(dout);
  EXPECT_LE(test::max_rel_diff(g1.data(), net.grads().data(), g1.size(), 1e-3), 1e-6);
}

TEST(Plan, BatchNormRunningStatisticsAreSavedAndLoaded) {
  Network net = trained_resnet8(5);
  const BatchNorm2D* bn = dynamic_cast<const BatchNorm2D*>(&net.layer(2));
  ASSERT_NE(bn, nullptr);
  EXPECT_NE(bn->running_var()[0], 1.0f);  // training moved them
  const std::string path = (fs::temp_directory_path() / "cnn_graph_bn.cnn").string();
  save_model(path, net, "resnet8", {}, nullptr);
  Model m = load_model(path);
  fs::remove(path);
  EXPECT_EQ(m.net.buffers(), net.buffers());
  const Tensor x = test::random_tensor({4, 3, 32, 32}, 8, 0.0f, 1.0f);
  const Tensor a = net.forward(x), b = m.net.forward(x);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

int count_ops(const std::string& bytes, const std::string& op) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  int n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == op;
  return n;
}

// OpenCV's dnn, an independent ONNX reader, computes what our eval-mode forward computes.
TEST(GraphOnnx, OpenCvRunsExportedResidualNetsWithBatchNormFoldedOrNot) {
  Network net = trained_resnet8(6);
  const Tensor x = test::random_tensor({5, 3, 32, 32}, 9, 0.0f, 1.0f);
  const Tensor ours = net.forward(x);
  for (bool fold : {true, false}) {
    const std::string bytes = export_onnx_bytes(net, {.name = "resnet8", .fold_batchnorm = fold});
    // the input's normalize is a BatchNormalization node either way: it cannot fold into a zero-padded convolution
    EXPECT_EQ(count_ops(bytes, "BatchNormalization"), fold ? 1 : 10);
    EXPECT_EQ(count_ops(bytes, "Add"), 3);
    EXPECT_EQ(count_ops(bytes, "GlobalAveragePool"), 1);
    const cv::Mat theirs = test::run_opencv(bytes, x);
    ASSERT_EQ(theirs.total(), ours.size());
    const double d = test::max_rel_diff(theirs.ptr<float>(), ours.data(), ours.size(), 1.0);
    std::printf("[ onnx ] resnet8 batchnorm %s: OpenCV dnn vs cnn, largest difference %.3g\n",
                fold ? "folded into the convs" : "as BatchNormalization", d);
    EXPECT_LE(d, 1e-5);
  }
}

TEST(GraphOnnx, ConcatAndGlobalPoolingExportAndRun) {
  Network net = network_from_text(R"({"input": [3, 8, 8], "layers": [
      {"type": "conv2d", "name": "a", "filters": 4, "kernel": 3, "padding": 1},
      {"type": "conv2d", "name": "b", "filters": 2, "kernel": 1, "inputs": ["input"], "bias": false},
      {"type": "concat", "inputs": ["a", "b"]}, {"type": "batchnorm2d"}, {"type": "relu"},
      {"type": "global_avgpool2d"}, {"type": "dense", "units": 3}]})",
                                  "concat");
  net.init(2);
  Optimizer sgd({.lr = 0.1});
  const Tensor x = test::random_tensor({6, 3, 8, 8}, 4, 0.0f, 1.0f);
  std::vector<int> labels{0, 1, 2, 0, 1, 2};
  for (int s = 0; s < 2; ++s) {
    net.forward_backward(x, labels.data(), std::uint64_t(s));
    sgd.step(net);
  }
  const Tensor ours = net.forward(x);
  const std::string bytes = export_onnx_bytes(net);
  EXPECT_EQ(count_ops(bytes, "Concat"), 1);
  EXPECT_EQ(count_ops(bytes, "BatchNormalization"), 1);  // after a concat there is no conv to fold it into
  const cv::Mat theirs = test::run_opencv(bytes, x);
  ASSERT_EQ(theirs.total(), ours.size());
  EXPECT_LE(test::max_rel_diff(theirs.ptr<float>(), ours.data(), ours.size(), 1.0), 1e-5);
}

// Softmax over channels and concatenation along rows and columns: the description's fields, the model file, ONNX
// (OpenCV reads what we write, and our import reads it back to the same layers) and a constant joined by concat.
TEST(GraphOnnx, SoftmaxAlongChannelsAndConcatAlongRowsAndColumnsExportAndRun) {
  const std::string text = R"({"input": [3, 6, 6], "layers": [
      {"type": "conv2d", "name": "a", "filters": 4, "kernel": 3, "padding": 1},
      {"type": "conv2d", "name": "b", "filters": 4, "kernel": 1, "inputs": ["input"]},
      {"type": "concat", "name": "rows", "axis": 2, "inputs": ["a", "b"]},
      {"type": "softmax", "name": "s", "axis": 1},
      {"type": "concat", "axis": -1, "inputs": ["s", "rows"]},
      {"type": "log_softmax", "axis": 3}, {"type": "dense", "units": 3}]})";
  Network net = network_from_text(text, "axes");
  EXPECT_EQ(net.layer(2).spec()["axis"], 2);
  EXPECT_EQ(net.layer(3).spec()["axis"], 1);
  EXPECT_EQ(net.layer(4).summary(), "concat along columns");
  net.init(3);
  const Tensor x = test::random_tensor({5, 3, 6, 6}, 6, -1.0f, 1.0f);
  const Tensor ours = net.forward(x);
  Network back = network_from_text(network_to_text(net), "round trip");
  EXPECT_EQ(back.spec(), net.spec());
  const std::string bytes = export_onnx_bytes(net);
  EXPECT_EQ(count_ops(bytes, "Concat"), 2);
  EXPECT_EQ(count_ops(bytes, "LogSoftmax"), 1);
  const cv::Mat theirs = test::run_opencv(bytes, x);
  ASSERT_EQ(theirs.total(), ours.size());
  EXPECT_LE(test::max_rel_diff(theirs.ptr<float>(), ours.data(), ours.size(), 1.0), 1e-5);
  OnnxImport im = import_onnx_bytes(bytes, "axes.onnx");
  std::vector<std::string> axes;
  for (std::size_t i = 0; i < im.net.size(); ++i)
    if (im.net.layer(i).spec().contains("axis")) axes.push_back(im.net.layer(i).summary());
  EXPECT_EQ(axes, (std::vector<std::string>{"concat along rows", "softmax over channels", "concat along columns",
                                            "log_softmax over columns"}));
  const Tensor again = im.net.forward(x);
  EXPECT_LE(test::max_rel_diff(again.data(), ours.data(), ours.size(), 1.0), 1e-6);

  // A constant has no input of its own: its values are buffers, kept in the model file, and it exports to no node.
  Network with_constant = network_from_text(R"({"input": [2, 3, 3], "layers": [
      {"type": "relu", "name": "r"}, {"type": "constant", "name": "c", "shape": [1, 3, 3], "value": 0.5},
      {"type": "concat", "inputs": ["r", "c"]}]})",
                                            "constant");
  with_constant.init(1);
  EXPECT_EQ(with_constant.output_shape(), (Shape{1, 3, 3, 3}));
  const Tensor y = with_constant.forward(test::random_tensor({2, 2, 3, 3}, 7, -1.0f, 1.0f));
  for (int n = 0; n < 2; ++n)
    for (int i = 18; i < 27; ++i) ASSERT_EQ(y.sample(n)[i], 0.5f);
  const std::string path = (fs::temp_directory_path() / "cnn_graph_constant.cnn").string();
  with_constant.buffers()[4] = -2.0f;
  save_model(path, with_constant, "constant", {}, nullptr);
  Model m = load_model(path);
  fs::remove(path);
  EXPECT_EQ(m.net.buffers(), with_constant.buffers());
  EXPECT_EQ(m.net.forward(test::random_tensor({1, 2, 3, 3}, 8, -1.0f, 1.0f)).sample(0)[22], -2.0f);
  try {
    (void)export_onnx_bytes(with_constant);
    ADD_FAILURE() << "a constant layer exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("constant"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cnn
