// ONNX import: export → import → export gives the same bytes; hand-made graphs with the attributes other tools
// write (auto_pad, strides, default alphas, Gemm's transB/alpha/beta, MatMul + Add, Constant shapes, old opsets)
// import to nets that agree with OpenCV's reading of the same file; unsupported operators and attributes are
// refused by name; damaged files (truncated, wrong types, missing initializers, cycles, wrong shapes) give one-line
// errors; a bounded fuzz run of random mutations never crashes; `cnn export/import/run` work end to end.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/dnn.hpp>
#include <sstream>

#include "cnn/cnn.h"
#include "cnn/onnx.h"
#include "onnx_helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;
using test::run_opencv;

Tensor random_input(const Shape& sample, int n, std::uint64_t seed = 5) {
  Tensor x(sample.with_batch(n));
  Rng rng(seed);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(-1.0f, 1.0f);
  return x;
}

double max_diff(const float* a, const float* b, std::size_t n) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i]))));
  return m;
}

// Every layer kind that has an ONNX form, in the orders that need Flatten/Reshape helpers.
Network every_layer_net() {
  Network net({1, 2, 9, 8});
  net.add<Conv2D>(3, KernelSize{3, 2}, 2, Padding::same)
      .add<LeakyReLU>(0.2f)
      .add<MaxPool2D>(2, 1)
      .add<Conv2D>(4, 2)
      .add<Tanh>()
      .add<AvgPool2D>(2)
      .add<Softmax>()  // over c·h·w of a 4-D tensor: Flatten first
      .add<Dense>(6)
      .add<Sigmoid>()
      .add<Dropout>(0.25f)
      .add<Conv2D>(5, 1)  // a flat tensor entering a conv: Reshape [0, 6, 1, 1]
      .add<ReLU>()
      .add<Flatten>()
      .add<Dense>(4);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(11);
  return net;
}

Network l2pool_net() {
  Network net({1, 1, 8, 8});
  net.add<Conv2D>(2, 3).add<ReLU>().add<L2Pool2D>(2).add<Dense>(3);
  net.set_loss(std::make_unique<SquaredError>());
  net.init(4);
  return net;
}

TEST(OnnxImport, ExportImportExportGivesTheSameGraphAndWeights) {
  std::vector<std::pair<std::string, Network>> nets;
  for (const std::string& p : preset_names()) {
    if (p == "alexnet") continue;  // 62M parameters: the same code path as alexnet-small, too slow for the suite
    Network n = load_network(p);
    n.init(3);
    nets.emplace_back(p, std::move(n));
  }
  nets.emplace_back("every-layer", every_layer_net());
  nets.emplace_back("l2pool", l2pool_net());
  int exported = 0;
  for (auto& [name, net] : nets) {
    SCOPED_TRACE(name);
    for (bool softmax : {false, true}) {
      std::string first;
      try {
        first = export_onnx_bytes(net, {.name = name, .class_names = {"a", "b"}, .softmax_output = softmax});
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("subsampling"), std::string::npos) << e.what();
        continue;
      }
      ++exported;
      OnnxImport back = import_onnx_bytes(first, name + ".onnx");
      EXPECT_EQ(back.name, name);
      EXPECT_EQ(back.class_names, (std::vector<std::string>{"a", "b"}));
      EXPECT_EQ(back.net.loss().kind(), net.loss().kind());
      EXPECT_EQ(back.probabilities_removed, softmax && net.loss().kind() == "softmax_cross_entropy");
      // Export folds each batch normalisation into the convolution before it: γ, β go, the convolution gets a bias.
      bool folds = false;
      for (std::size_t i = 0; i < net.size(); ++i) folds = folds || net.layer(i).kind() == "batchnorm2d";
      if (!folds) {
        ASSERT_EQ(back.net.params().size(), net.params().size());
      }
      const std::string second = export_onnx_bytes(
          back.net, {.name = back.name, .class_names = back.class_names, .softmax_output = back.probabilities_removed});
      EXPECT_TRUE(first == second) << "the second export differs (" << first.size() << " vs " << second.size()
                                   << " bytes)";
      // The imported net computes what the original computes (the parameters may be permuted: compare outputs).
      const Tensor x = random_input(net.input_shape(), 3);
      const Tensor a = net.forward(x);
      const Tensor b = back.net.forward(x);
      ASSERT_EQ(a.size(), b.size());
      EXPECT_LE(max_diff(b.data(), a.data(), a.size()), 1e-6);
    }
  }
  EXPECT_GE(exported, 8);
}

// ---- hand-made graphs ----------------------------------------------------------------------------------------

struct GraphBuilder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  std::string current = "x";
  int count = 0;
  explicit GraphBuilder(std::vector<std::int64_t> input_dims, int opset = 13) {
    m.set_ir_version(7);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("hand");
    auto* in = g->add_input();
    in->set_name("x");
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_param("batch");
    for (auto d : input_dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  std::string init(const std::vector<std::int64_t>& dims, std::uint64_t seed) {
    auto* t = g->add_initializer();
    t->set_name("w" + std::to_string(g->initializer_size()));
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::size_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= std::size_t(d);
    }
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) t->add_float_data(rng.uniform(-0.5f, 0.5f));
    return t->name();
  }
  std::string int_init(const std::vector<std::int64_t>& v) {
    auto* t = g->add_initializer();
    t->set_name("s" + std::to_string(g->initializer_size()));
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(std::int64_t(v.size()));
    for (auto x : v) t->add_int64_data(x);
    return t->name();
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> extra = {}) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + std::to_string(count));
    n->add_input(current);
    for (auto& e : extra) n->add_input(e);
    current = "t" + std::to_string(count++);
    n->add_output(current);
    return *n;
  }
  static void ints(onnx::NodeProto& n, const std::string& k, std::vector<std::int64_t> v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void i(onnx::NodeProto& n, const std::string& k, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void f(onnx::NodeProto& n, const std::string& k, float v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void s(onnx::NodeProto& n, const std::string& k, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  std::string bytes(const std::vector<std::int64_t>& out_dims = {}) {
    auto* o = g->add_output();
    o->set_name(current);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = o->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->add_dim()->set_dim_param("batch");
    for (auto d : out_dims) shape->add_dim()->set_dim_value(d);
    std::string b;
    m.SerializeToString(&b);
    g->mutable_output()->RemoveLast();
    return b;
  }
};

TEST(OnnxImport, AttributesOtherToolsWriteAreHonouredAndAgreeWithOpenCv) {
  GraphBuilder b({3, 11, 10});
  auto& c1 = b.node("Conv", {b.init({4, 3, 3, 3}, 1), b.init({4}, 2)});
  GraphBuilder::ints(c1, "kernel_shape", {3, 3});  // optional in ONNX, but OpenCV 4.6 needs it
  GraphBuilder::s(c1, "auto_pad", "SAME_UPPER");   // 11x10, stride 2 → 6x5, the odd pixel at the bottom/right
  GraphBuilder::ints(c1, "strides", {2, 2});
  b.node("LeakyRelu");  // ONNX's default alpha 0.01
  auto& p1 = b.node("MaxPool");
  GraphBuilder::ints(p1, "kernel_shape", {2, 2});        // strides default to 1 in ONNX
  auto& c2 = b.node("Conv", {b.init({2, 4, 2, 2}, 3)});  // no bias
  GraphBuilder::ints(c2, "kernel_shape", {2, 2});
  GraphBuilder::ints(c2, "pads", {0, 0, 0, 0});
  b.node("Sigmoid");
  auto& fl = b.node("Flatten");
  GraphBuilder::i(fl, "axis", 1);
  b.node("MatMul", {b.init({2 * 4 * 3, 7}, 4)});
  b.node("Add", {b.init({7}, 5)});
  b.node("Relu");
  auto& gm = b.node("Gemm", {b.init({5, 7}, 6), b.init({5}, 7)});
  GraphBuilder::i(gm, "transB", 1);
  GraphBuilder::f(gm, "alpha", 1.0f);  // OpenCV 4.6 ignores Gemm's alpha and beta: checked apart, below
  GraphBuilder::f(gm, "beta", 1.0f);
  b.node("Softmax");  // opset 13's axis -1 on [N, 5]
  const std::string bytes = b.bytes({5});

  const OnnxImport r = import_onnx_bytes(bytes, "hand.onnx");
  EXPECT_TRUE(r.probabilities_removed);  // a foreign graph's final Softmax becomes the loss's softmax
  Network& net = const_cast<Network&>(r.net);
  std::vector<std::string> kinds;
  for (std::size_t i = 0; i < net.size(); ++i) kinds.push_back(net.layer(i).kind());
  EXPECT_EQ(kinds, (std::vector<std::string>{"conv2d", "leaky_relu", "maxpool2d", "conv2d", "sigmoid", "flatten",
                                             "dense", "relu", "dense"}));
  EXPECT_EQ(dynamic_cast<const LeakyReLU&>(net.layer(1)).alpha(), 0.01f);
  EXPECT_EQ(dynamic_cast<const MaxPool2D&>(net.layer(2)).window().sh, 1);
  EXPECT_EQ(dynamic_cast<const Conv2D&>(net.layer(0)).padding(), Padding::same);

  const Tensor x = random_input(net.input_shape(), 4);
  const Tensor logits = net.forward(x);
  Tensor probs;
  net.loss().probabilities(logits, probs);
  const cv::Mat theirs = run_opencv(bytes, x);
  ASSERT_EQ(theirs.total(), probs.size());
  const double d = max_diff(theirs.ptr<float>(), probs.data(), probs.size());
  std::printf("[ onnx ] hand-made graph: OpenCV dnn vs cnn import, largest difference %.3g\n", d);
  EXPECT_LE(d, 1e-5);
}

TEST(OnnxImport, GemmAlphaBetaAndTransBAreFoldedIntoTheDenseLayer) {
  // Y = alpha·A·B + beta·C with transB = 0 (B [inputs, outputs], this library's own layout) and a scalar C.
  GraphBuilder b({3});
  const std::string B = b.init({3, 2}, 1), C = b.init({1}, 2);
  auto& gm = b.node("Gemm", {B, C});
  GraphBuilder::f(gm, "alpha", 0.5f);
  GraphBuilder::f(gm, "beta", 2.0f);
  const std::string bytes = b.bytes({2});
  const OnnxImport r = import_onnx_bytes(bytes, "gemm.onnx");
  ASSERT_EQ(r.net.size(), 1u);
  const auto& init = b.g->initializer();
  const auto& d = dynamic_cast<const Dense&>(r.net.layer(0));
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(d.weight()[std::size_t(i)], 0.5f * init.Get(0).float_data(i));
  for (int k = 0; k < 2; ++k) EXPECT_FLOAT_EQ(d.bias()[std::size_t(k)], 2.0f * init.Get(1).float_data(0));
  EXPECT_FALSE(r.probabilities_removed);
}

TEST(OnnxImport, OldOpsetsConstantsReshapeAndDropoutForms) {
  GraphBuilder b({2, 4, 4}, 10);
  auto& p = b.node("AveragePool");
  GraphBuilder::ints(p, "kernel_shape", {2, 2});
  GraphBuilder::ints(p, "strides", {2, 2});
  // A Constant node holding the shape, as exporters write it.
  auto* cn = b.g->add_node();
  cn->set_op_type("Constant");
  cn->add_output("shape_const");
  auto* a = cn->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_dims(2);
  a->mutable_t()->add_int64_data(0);
  a->mutable_t()->add_int64_data(-1);
  b.node("Reshape", {"shape_const"});
  auto& dr = b.node("Dropout");
  GraphBuilder::f(dr, "ratio", 0.3f);  // opset 10: an attribute
  auto& sm = b.node("Softmax");
  GraphBuilder::i(sm, "axis", 1);
  b.node("Identity");
  const OnnxImport r = import_onnx_bytes(b.bytes(), "old.onnx");
  std::vector<std::string> kinds;
  for (std::size_t i = 0; i < r.net.size(); ++i) kinds.push_back(r.net.layer(i).kind());
  // A foreign graph ending in Softmax (Identity moves nothing) is a classifier: the Softmax becomes the loss's.
  EXPECT_EQ(kinds, (std::vector<std::string>{"avgpool2d", "flatten", "dropout"}));
  EXPECT_TRUE(r.probabilities_removed);
  EXPECT_EQ(r.net.loss().kind(), "softmax_cross_entropy");
  EXPECT_FLOAT_EQ(dynamic_cast<const Dropout&>(r.net.layer(2)).rate(), 0.3f);
}

// A graph output of the given element type and no shape.
void add_output(GraphBuilder& b, const std::string& name, int type) {
  auto* o = b.g->add_output();
  o->set_name(name);
  o->mutable_type()->mutable_tensor_type()->set_elem_type(type);
}

// ONNX's MaxPool Indices, by brute force: the flat index over the whole [N, C, H, W] batch of each window's first
// maximum, row-major (storage_order 0) or with each map's columns first (1).
std::vector<std::int64_t> maxpool_indices(const Tensor& x, int kh, int kw, int sh, int sw, Pads p, int order) {
  const Shape s = x.shape();
  const int Ho = (s.h + p.top + p.bottom - kh) / sh + 1, Wo = (s.w + p.left + p.right - kw) / sw + 1;
  std::vector<std::int64_t> r;
  for (int m = 0; m < s.n * s.c; ++m)
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        int bu = -1, bv = -1;
        for (int u = oy * sh - p.top; u < oy * sh - p.top + kh; ++u)
          for (int v = ox * sw - p.left; v < ox * sw - p.left + kw; ++v)
            if (u >= 0 && u < s.h && v >= 0 && v < s.w &&
                (bu < 0 ||
                 x.data()[(std::size_t(m) * s.h + u) * s.w + v] > x.data()[(std::size_t(m) * s.h + bu) * s.w + bv]))
              bu = u, bv = v;
        r.push_back(std::int64_t(m) * s.h * s.w + (order == 0 ? bu * s.w + bv : bv * s.h + bu));
      }
  return r;
}

TEST(OnnxImport, DropoutMaskAndMaxPoolIndicesAreGraphOutputs) {
  Tensor x = random_input({1, 3, 5, 6}, 2);
  for (std::size_t i = 0; i < x.size(); i += 7) x[i] = x[i + 1];  // ties: the first maximum is taken
  const OnnxTensor in{"x", {2, 3, 5, 6}, std::vector<float>(x.data(), x.data() + x.size())};
  for (int order : {0, 1}) {
    GraphBuilder b({3, 5, 6});
    auto& n = b.node("MaxPool");
    n.add_output("idx");
    GraphBuilder::ints(n, "kernel_shape", {2, 3});
    GraphBuilder::ints(n, "strides", {2, 1});
    GraphBuilder::ints(n, "pads", {1, 0, 1, 1});
    GraphBuilder::i(n, "storage_order", order);
    add_output(b, "idx", onnx::TensorProto::INT64);
    OnnxImport r = import_onnx_bytes(b.bytes(), "argmax.onnx");
    const std::vector<OnnxTensor> out = run_onnx(r, in, "x.pb");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].name, "idx");
    EXPECT_EQ(out[0].type, onnx::TensorProto::INT64);
    EXPECT_EQ(out[0].dims, (std::vector<std::int64_t>{2, 3, 3, 5}));
    EXPECT_EQ(out[0].ints, maxpool_indices(x, 2, 3, 2, 1, {1, 0, 1, 1}, order)) << "storage_order " << order;
    // the pooled maps are the values at those indices
    ASSERT_EQ(out[1].values.size(), out[0].ints.size());
    for (std::size_t i = 0; i < out[0].ints.size(); ++i) {
      const std::int64_t at = out[0].ints[i], plane = at / 30, within = at % 30;
      const std::int64_t u = order ? within % 5 : within / 6, v = order ? within / 5 : within % 6;
      ASSERT_EQ(out[1].values[i], x.data()[plane * 30 + u * 6 + v]) << i;
    }
    // int64 written and read back as int64
    const OnnxTensor back = parse_onnx_tensor(serialize_onnx_tensor(out[0]), "idx.pb");
    EXPECT_EQ(back.type, onnx::TensorProto::INT64);
    EXPECT_EQ(back.ints, out[0].ints);
  }
  // Dropout's mask: every element kept at inference — bool from opset 10, a float tensor before
  for (int opset : {13, 9}) {
    GraphBuilder b({3, 5, 6}, opset);
    b.node("Dropout").add_output("mask");
    add_output(b, "mask", opset >= 10 ? onnx::TensorProto::BOOL : onnx::TensorProto::FLOAT);
    OnnxImport r = import_onnx_bytes(b.bytes(), "mask.onnx");
    const std::vector<OnnxTensor> out = run_onnx(r, in, "x.pb");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].dims, in.dims);
    if (opset >= 10) {
      EXPECT_EQ(out[0].type, onnx::TensorProto::BOOL);
      EXPECT_EQ(out[0].ints, std::vector<std::int64_t>(x.size(), 1));
      EXPECT_EQ(parse_onnx_tensor(serialize_onnx_tensor(out[0]), "mask.pb").ints, out[0].ints);
    } else {
      EXPECT_EQ(out[0].values, std::vector<float>(x.size(), 1.0f));
    }
    EXPECT_EQ(out[1].values, in.values);
  }
  // Indices are no data for another node; a float32 network takes no int64 input
  GraphBuilder b({3, 5, 6});
  auto& pool = b.node("MaxPool");
  GraphBuilder::ints(pool, "kernel_shape", {2, 2});
  pool.add_output("idx");
  b.current = "idx";
  b.node("Relu");
  try {
    import_onnx_bytes(b.bytes(), "bad.onnx");
    ADD_FAILURE() << "a Relu read MaxPool's Indices";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 1 \"Relu1\" (Relu): reads \"idx\", of element type 7, as data"),
              std::string::npos)
        << e.what();
  }
  OnnxTensor ints{"x", {2, 3, 5, 6}, {}, onnx::TensorProto::INT64, std::vector<std::int64_t>(x.size(), 1)};
  GraphBuilder plain({3, 5, 6});
  plain.node("Relu");
  OnnxImport r = import_onnx_bytes(plain.bytes(), "relu.onnx");
  try {
    run_onnx(r, ints, "ints.pb");
    ADD_FAILURE() << "ran an int64 input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ints.pb: element type 7 is not float32"), std::string::npos) << e.what();
  }
}

void expect_refused(const std::string& bytes, const std::string& needle) {
  try {
    import_onnx_bytes(bytes, "bad.onnx");
    ADD_FAILURE() << "imported; expected an error containing \"" << needle << "\"";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    EXPECT_EQ(msg.rfind("bad.onnx", 0), 0u) << "does not name the file: " << msg;
  }
}

TEST(OnnxImport, UnsupportedOperatorsAndAttributesAreRefusedByName) {
  {
    GraphBuilder b({1, 4, 4});
    b.node("BatchNormalization", {b.init({1}, 1), b.init({1}, 2), b.init({1}, 3), b.init({1}, 4)});
    expect_refused(b.bytes(), "var has a negative");  // the random variance drawn is negative
  }
  {
    GraphBuilder b({2, 4, 4});
    auto& c = b.node("Conv", {b.init({2, 1, 3, 3}, 1)});
    GraphBuilder::i(c, "group", 2);
    expect_refused(b.bytes(), "attribute group = 2 is not supported");  // [2, 1, 3, 3] on 2 channels: grouped
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& c = b.node("Conv", {b.init({1, 1, 3, 3}, 1)});
    GraphBuilder::ints(c, "dilations", {2, 2});
    expect_refused(b.bytes(), "attribute dilations = [2, 2] is not supported");
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& c = b.node("Conv", {b.init({1, 1, 2, 2}, 1)});
    GraphBuilder::s(c, "auto_pad", "SAME_LOWER");  // the odd pixel at the top and left
    const OnnxImport r = import_onnx_bytes(b.bytes(), "lower.onnx");
    const auto& conv = dynamic_cast<const Conv2D&>(r.net.layer(0));
    EXPECT_EQ(conv.pad_top(), 1);
    EXPECT_EQ(conv.pad_left(), 1);
    EXPECT_EQ(conv.pad_bottom(), 0);
    EXPECT_EQ(conv.pad_right(), 0);
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& c = b.node("Conv", {b.init({1, 1, 3, 3}, 1)});
    GraphBuilder::ints(c, "pads", {2, 0, 0, 0});
    const OnnxImport r = import_onnx_bytes(b.bytes(), "pads.onnx");
    EXPECT_EQ(r.net.layer(0).output_shape().sample_str(), "1x6x4");
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& p = b.node("MaxPool");
    GraphBuilder::ints(p, "kernel_shape", {2, 2, 2});
    expect_refused(b.bytes(), "is not supported (3-D pooling");
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& p = b.node("LpPool");
    GraphBuilder::ints(p, "kernel_shape", {2, 2});
    GraphBuilder::i(p, "p", 3);
    expect_refused(b.bytes(), "p = 3 is not supported");
  }
  {
    GraphBuilder b({1, 6, 6});
    auto& p = b.node("Relu");
    GraphBuilder::i(p, "weird", 3);
    expect_refused(b.bytes(), "attribute \"weird\" is not supported");
  }
  {
    GraphBuilder b({2, 6, 6}, 11);  // before opset 13, axis 2 means rows and columns together: no layer's lines
    auto& s = b.node("Softmax");
    GraphBuilder::i(s, "axis", 2);
    b.node("Relu");
    expect_refused(b.bytes(), "axis 2 of [N, 2, 6, 6] (opset 11: that axis and all after it) is not supported");
  }
  {
    GraphBuilder b({2, 6, 6});
    auto& s = b.node("Softmax");
    GraphBuilder::i(s, "axis", 0);
    expect_refused(b.bytes(), "axis 0 of [N, 2, 6, 6] normalises across the batch of N");
  }
}

TEST(OnnxImport, DamagedFilesGiveOneLineErrors) {
  Network net = load_network("seed5");
  net.init(1);
  const std::string good = export_onnx_bytes(net, {.name = "seed5"});
  onnx::ModelProto base;
  ASSERT_TRUE(base.ParseFromString(good));
  auto with = [&](auto change) {
    onnx::ModelProto m = base;
    change(m);
    std::string b;
    m.SerializeToString(&b);
    return b;
  };
  // Truncated anywhere: refused (or, where a prefix happens to be a complete message, refused for what is missing).
  for (std::size_t len :
       {std::size_t(0), std::size_t(1), std::size_t(7), good.size() / 3, good.size() / 2, good.size() - 1}) {
    EXPECT_THROW(import_onnx_bytes(good.substr(0, len), "bad.onnx"), Error) << len;
  }
  expect_refused("this is not protobuf at all \xff\xff\xff\xff", "bad.onnx");
  expect_refused(with([](onnx::ModelProto& m) {
                   m.mutable_graph()->mutable_initializer(0)->set_data_type(onnx::TensorProto::INT32);
                 }),
                 "element type 6 is not float32");
  expect_refused(with([](onnx::ModelProto& m) {
                   m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(7);
                 }),
                 "element type 7 is not float32");
  expect_refused(with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer()->DeleteSubrange(0, 1); }),
                 "missing initializer");
  expect_refused(with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->set_dims(0, 7); }),
                 "its dims [7, 1, 5, 5] need 700");
  expect_refused(with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->set_dims(1, 9); }),
                 "bytes, its dims");
  expect_refused(
      with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(10); }),
      "bytes, its dims");
  // A cycle: the second node reads the fourth node's output instead of the first's.
  expect_refused(
      with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_node(1)->set_input(0, m.graph().node(3).output(0)); }),
      "cycle");
  expect_refused(with([](onnx::ModelProto& m) {
                   auto* g = m.mutable_graph();
                   g->mutable_node(0)->set_input(0, g->node(2).output(0));  // conv ← pool ← relu ← conv: a loop
                 }),
                 "cycle");
  expect_refused(with([](onnx::ModelProto& m) { m.mutable_graph()->mutable_output(0)->set_name("nowhere"); }),
                 "reaches no graph output (a dead node)");
  expect_refused(with([](onnx::ModelProto& m) {
                   m.mutable_graph()
                       ->mutable_input(0)
                       ->mutable_type()
                       ->mutable_tensor_type()
                       ->mutable_shape()
                       ->mutable_dim(2)
                       ->set_dim_value(3);
                 }),
                 "smaller than");
  expect_refused(with([](onnx::ModelProto& m) {
                   m.mutable_graph()->mutable_node(2)->mutable_attribute(0)->set_type(onnx::AttributeProto::FLOAT);
                 }),
                 "has the wrong type");
  expect_refused(with([](onnx::ModelProto& m) {
                   m.mutable_graph()->mutable_node(7)->mutable_input()->RemoveLast();
                   m.mutable_graph()->mutable_node(7)->mutable_input()->RemoveLast();
                 }),
                 "expected inputs A, B");
}

TEST(OnnxImport, FuzzedFilesNeverCrash) {
  // Random mutations of valid exported files (bit flips, truncations, inserted and overwritten bytes), for at most
  // a few seconds: every one either imports to a network that runs, or throws cnn::Error with one line.
  std::vector<std::string> seeds;
  for (const char* name : {"seed5", "book6x6", "lenet5-classic"}) {
    const auto all = preset_names();
    if (std::find(all.begin(), all.end(), name) == all.end()) continue;
    Network n = load_network(name);
    n.init(9);
    seeds.push_back(export_onnx_bytes(n, {.name = name, .class_names = {"x"}}));
  }
  seeds.push_back(export_onnx_bytes(every_layer_net()));
  Rng rng(20240607);
  const auto start = std::chrono::steady_clock::now();
  int tried = 0, imported = 0, refused = 0;
  std::string example;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5) && tried < 100000) {
    std::string b = seeds[rng.below(seeds.size())];
    const int edits = 1 + int(rng.below(4));
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const std::size_t at = rng.below(b.size());
      switch (rng.below(5)) {
        case 0:
          b[at] = char(b[at] ^ (1 << rng.below(8)));
          break;  // bit flip
        case 1:
          b.resize(at);
          break;  // truncation
        case 2:
          b.insert(at, 1, char(rng.below(256)));
          break;  // inserted byte
        case 3:
          b[at] = char(rng.below(256));
          break;  // overwritten byte
        default:
          b.erase(at, 1 + rng.below(std::min<std::size_t>(8, b.size() - at)));  // deleted bytes
      }
    }
    ++tried;
    try {
      OnnxImport r = import_onnx_bytes(b, "fuzz.onnx");
      const Tensor x = random_input(r.net.input_shape(), 1);
      r.net.forward(x);
      ++imported;
    } catch (const Error& e) {
      ++refused;
      const std::string msg = e.what();
      if (msg.find('\n') != std::string::npos) ADD_FAILURE() << "multi-line error: " << msg;
      if (example.empty() && tried > 10) example = msg;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a cnn::Error: " << e.what();
    }
  }
  std::printf("[ onnx ] fuzz: %d mutated files, %d imported and ran, %d refused (e.g. \"%s\")\n", tried, imported,
              refused, example.c_str());
  EXPECT_GT(tried, 100);
  EXPECT_GT(refused, 0);
}

// ---- the command-line tool ------------------------------------------------------------------------------------

struct Cli {
  int status;
  std::string out;
};
Cli cnn_cli(const std::string& args) {
  const std::string cmd = std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = p ? ::pclose(p) : -1;
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

TEST(OnnxImport, CommandLineExportImportRun) {
  const fs::path dir = fs::temp_directory_path() / ("cnn_onnx_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Network net = load_network("seed5");
  net.init(5);
  save_model((dir / "m.cnn").string(), net, "seed5", fashion_mnist_class_names(), nullptr);
  const std::string m = (dir / "m.cnn").string(), onnx = (dir / "m.onnx").string(), back = (dir / "back.cnn").string(),
                    onnx2 = (dir / "m2.onnx").string();
  Cli r = cnn_cli("export --model " + m + " --onnx " + onnx);
  ASSERT_EQ(r.status, 0) << r.out;
  r = cnn_cli("import " + onnx + " --out " + back);
  ASSERT_EQ(r.status, 0) << r.out;
  const Model loaded = load_model(back);
  EXPECT_EQ(loaded.class_names, fashion_mnist_class_names());
  r = cnn_cli("export --model " + back + " --onnx " + onnx2);
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream f1(onnx, std::ios::binary), f2(onnx2, std::ios::binary);
  std::stringstream s1, s2;
  s1 << f1.rdbuf();
  s2 << f2.rdbuf();
  EXPECT_TRUE(s1.str() == s2.str()) << "cnn export → import → export changed the file";

  // cnn run on TensorProto files, from the ONNX file and from the model file.
  const Tensor x = random_input(net.input_shape(), 3);
  write_onnx_tensor((dir / "input_0.pb").string(),
                    {"input", {3, 1, 28, 28}, std::vector<float>(x.data(), x.data() + x.size())});
  const Tensor want = net.forward(x);
  write_onnx_tensor((dir / "output_0.pb").string(),
                    {"logits", {3, 10}, std::vector<float>(want.data(), want.data() + want.size())});
  for (const std::string& model : {onnx, m}) {
    r = cnn_cli("run " + model + " --input " + (dir / "input_0.pb").string() + " --output " + (dir / "y.pb").string());
    ASSERT_EQ(r.status, 0) << r.out;
    const OnnxTensor y = read_onnx_tensor((dir / "y.pb").string());
    EXPECT_EQ(y.dims, (std::vector<std::int64_t>{3, 10}));
    ASSERT_EQ(y.values.size(), want.size());
    EXPECT_LE(max_diff(y.values.data(), want.data(), want.size()), 1e-6);
    r = cnn_cli("run " + model + " --input " + (dir / "input_0.pb").string() + " --expect " +
                (dir / "output_0.pb").string());
    EXPECT_EQ(r.status, 0) << r.out;
  }
  // Errors: one line, exit status 1 for a failure, 2 for a wrong command line.
  std::ofstream(dir / "junk.onnx") << "junk";
  r = cnn_cli("import " + (dir / "junk.onnx").string() + " --out " + back);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cnn: error: " + (dir / "junk.onnx").string()), std::string::npos) << r.out;
  r = cnn_cli("run " + onnx + " --input " + (dir / "output_0.pb").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("does not fit the network's input"), std::string::npos) << r.out;
  r = cnn_cli("run " + onnx + " --input " + (dir / "input_0.pb").string() + " --input " +
              (dir / "input_0.pb").string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("2 inputs given, the graph has 1"), std::string::npos) << r.out;
  Network sub({1, 1, 8, 8});
  sub.add<Subsampling>(2).add<Dense>(2);
  sub.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  sub.init(1);
  save_model((dir / "sub.cnn").string(), sub, "sub", {}, nullptr);
  r = cnn_cli("export --model " + (dir / "sub.cnn").string() + " --onnx " + (dir / "sub.onnx").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("layer 0 (subsampling) has no ONNX operator"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "sub.onnx"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cnn
