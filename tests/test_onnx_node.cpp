// ONNX's own operator test cases (Debian's libonnx-testdata: data/node/test_*/model.onnx with test_data_set_*/
// input_*.pb and output_*.pb) for the operators the importer supports. Each case is imported (the graph's inputs
// after the first given as constants) and run; a case the importer takes must give ONNX's outputs within the
// tolerances of ONNX's backend test runner (|got − expected| ≤ 1e-7 + 1e-3·|expected|), and a case it refuses is
// refused in one line naming the node and operator. The table of every case is printed; the cases listed in
// tests/onnx/node_pass.txt must pass, so coverage cannot shrink unnoticed.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cnn/onnx.h"
#include "gtest/gtest.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

const char* const kNodeDir = "/usr/share/libonnx-testdata/data/node";

// The operators of issue 16's list: a case joins when every node is one of them.
const std::set<std::string> kOperators = {"Conv",
                                          "MaxPool",
                                          "AveragePool",
                                          "LpPool",
                                          "GlobalAveragePool",
                                          "GlobalMaxPool",
                                          "BatchNormalization",
                                          "Gemm",
                                          "MatMul",
                                          "Add",
                                          "Mul",
                                          "Sum",
                                          "Concat",
                                          "Relu",
                                          "LeakyRelu",
                                          "Sigmoid",
                                          "Tanh",
                                          "Softmax",
                                          "LogSoftmax",
                                          "Flatten",
                                          "Reshape",
                                          "Dropout",
                                          "Identity",
                                          "Constant",
                                          "Clip",
                                          "Pad"};

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Outcome {
  std::string name, status, detail;  // status: pass | refused | FAIL
};

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> v;
  for (int i = 0;; ++i) {
    const fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    v.push_back(p);
  }
  return v;
}

// ONNX's allclose: |a − e| ≤ atol + rtol·|e|, NaN equal to NaN; integers and booleans equal.
std::string compare(const OnnxTensor& got, const OnnxTensor& want) {
  if (got.dims != want.dims) {
    std::string g, w;
    for (auto d : got.dims) g += std::to_string(d) + " ";
    for (auto d : want.dims) w += std::to_string(d) + " ";
    return "output \"" + want.name + "\": dims [ " + g + "], expected [ " + w + "]";
  }
  if (got.type != want.type)
    return "output \"" + want.name + "\": element type " + std::to_string(got.type) + ", expected " +
           std::to_string(want.type);
  for (std::size_t i = 0; i < want.ints.size(); ++i)  // integers (indices, a mask): exactly
    if (i >= got.ints.size() || got.ints[i] != want.ints[i])
      return "output \"" + want.name + "\"[" + std::to_string(i) +
             "] = " + (i < got.ints.size() ? std::to_string(got.ints[i]) : std::string("none")) + ", expected " +
             std::to_string(want.ints[i]);
  if (got.ints.size() != want.ints.size() || got.values.size() != want.values.size())
    return "output \"" + want.name + "\": value count differs";
  for (std::size_t i = 0; i < got.values.size(); ++i) {
    const double a = got.values[i], e = want.values[i];
    if (std::isnan(a) && std::isnan(e)) continue;
    if (!(std::fabs(a - e) <= 1e-7 + 1e-3 * std::fabs(e)))
      return "output \"" + want.name + "\"[" + std::to_string(i) + "] = " + std::to_string(a) + ", expected " +
             std::to_string(e);
  }
  return "";
}

Outcome run_case(const fs::path& dir) {
  Outcome o{dir.filename().string(), "pass", ""};
  const std::string model = read_bytes(dir / "model.onnx");
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {o.name, "FAIL", "no test_data_set_* folder"};
  for (const fs::path& set : sets) {
    const std::vector<fs::path> ins = numbered(set, "input_"), outs = numbered(set, "output_");
    std::vector<std::string> extra;
    for (std::size_t i = 1; i < ins.size(); ++i) extra.push_back(read_bytes(ins[i]));
    std::optional<OnnxImport> r;
    try {
      r.emplace(import_onnx_bytes(model, o.name, extra));
    } catch (const Error& e) {
      std::string why = e.what();
      if (why.find('\n') != std::string::npos) return {o.name, "FAIL", "a refusal of more than one line: " + why};
      if (why.rfind(o.name + ": ", 0) == 0) why = why.substr(o.name.size() + 2);
      return {o.name, "refused", why};
    }
    try {
      if (ins.empty()) return {o.name, "FAIL", "imported a graph without input"};
      const std::vector<OnnxTensor> got = run_onnx(*r, read_onnx_tensor(ins[0].string()), ins[0].string());
      if (got.size() != outs.size())
        return {o.name, "FAIL", std::to_string(got.size()) + " outputs, expected " + std::to_string(outs.size())};
      for (std::size_t i = 0; i < outs.size(); ++i) {
        OnnxTensor want = read_onnx_tensor(outs[i].string());
        if (want.name.empty()) want.name = got[i].name;
        const std::string diff = compare(got[i], want);
        if (!diff.empty()) return {o.name, "FAIL", set.filename().string() + ": " + diff};
      }
    } catch (const Error& e) {
      return {o.name, "FAIL", std::string("imported, then: ") + e.what()};
    }
  }
  return o;
}

std::set<std::string> must_pass() {
  std::set<std::string> s;
  std::ifstream f(std::string(CNN_SOURCE_DIR) + "/tests/onnx/node_pass.txt");
  std::string line;
  while (std::getline(f, line)) {
    line = line.substr(0, line.find('#'));
    line.erase(std::remove_if(line.begin(), line.end(), ::isspace), line.end());
    if (!line.empty()) s.insert(line);
  }
  return s;
}

TEST(OnnxNode, OnnxOwnOperatorTestsPassOrAreRefusedInOneLine) {
  ASSERT_TRUE(fs::is_directory(kNodeDir)) << kNodeDir << " is missing: install libonnx-testdata (scripts/setup.sh)";
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(kNodeDir)) {
    onnx::ModelProto m;
    if (!m.ParseFromString(read_bytes(e.path() / "model.onnx"))) continue;
    bool ours = m.graph().node_size() > 0;
    for (const auto& n : m.graph().node()) ours = ours && kOperators.count(n.op_type()) > 0;
    if (ours) cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 100u) << "the node test cases of libonnx-testdata were not found";
  std::vector<Outcome> table;
  for (const auto& c : cases) table.push_back(run_case(c));
  int pass = 0, refused = 0, failed = 0;
  std::ostringstream md;
  md << "| case | status | reason |\n|---|---|---|\n";
  for (const Outcome& o : table) {
    std::cout << (o.status == "pass"      ? "  pass     "
                  : o.status == "refused" ? "  refused  "
                                          : "  FAIL     ")
              << o.name << (o.detail.empty() ? "" : "  " + o.detail) << "\n";
    pass += o.status == "pass", refused += o.status == "refused", failed += o.status == "FAIL";
    if (o.status != "pass") md << "| `" << o.name << "` | " << o.status << " | " << o.detail << " |\n";
  }
  std::cout << "ONNX node tests: " << pass << " pass of " << (pass + failed) << " imported (" << refused
            << " refused) of " << table.size() << " cases of these operators\n";
  if (const char* out = std::getenv("CNN_ONNX_NODE_TABLE")) std::ofstream(out) << md.str();
  for (const Outcome& o : table) EXPECT_NE(o.status, "FAIL") << o.name << ": " << o.detail;
  const std::set<std::string> pinned = must_pass();
  EXPECT_FALSE(pinned.empty()) << "tests/onnx/node_pass.txt is missing or empty";
  for (const Outcome& o : table) {
    if (pinned.count(o.name)) {
      EXPECT_EQ(o.status, "pass") << o.name << " is listed in tests/onnx/node_pass.txt";
    }
  }
  for (const std::string& p : pinned)
    EXPECT_TRUE(std::any_of(table.begin(), table.end(), [&](const Outcome& o) { return o.name == p; }))
        << p << " (tests/onnx/node_pass.txt) is not among the cases";
}

}  // namespace
}  // namespace cnn
