// Model files: round trip, every kind of damage refused with the file named, old format versions still load,
// and a failed save leaves the previous file untouched.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("cnn_model_test_" + std::to_string(::getpid()) + "_" + name)).string();
}
// A file that cannot be read fails the test: two missing files must not compare equal as two empty strings.
std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.is_open()) << "cannot read " << p;
  return {std::istreambuf_iterator<char>(f), {}};
}
void write_all(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

void expect_refused(const std::string& path, const std::string& part) {
  try {
    load_model(path);
    FAIL() << path << " loaded";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path, 0), 0u) << m;
    EXPECT_NE(m.find(part), std::string::npos) << m;
  }
}

TEST(Model, RoundTripKeepsEverything) {
  Network net = load_network("seed5");
  net.init(3);
  net.layer(0).learning_rate = 0.01;
  TrainingState st;
  st.epoch = 2;
  st.seed = 77;
  st.steps = 2400;
  st.optimizer = {
      .kind = "sgd", .lr = 0.05, .momentum = 0.9, .nesterov = true, .schedule = parse_schedule("step:2:0.5")};
  st.optimizer_state.assign(net.params().size(), 0.5f);
  const std::string p = temp_path("rt.cnn");
  save_model(p, net, "seed5", fashion_mnist_class_names(), &st);
  Model m = load_model(p);
  EXPECT_EQ(m.net.params(), net.params());
  EXPECT_EQ(m.name, "seed5");
  EXPECT_EQ(m.class_names, fashion_mnist_class_names());
  ASSERT_TRUE(m.training);
  EXPECT_EQ(m.training->epoch, 2);
  EXPECT_EQ(m.training->seed, 77u);
  EXPECT_EQ(m.training->steps, 2400u);
  EXPECT_TRUE(m.training->optimizer.nesterov);
  EXPECT_EQ(m.training->optimizer.schedule.str(), "step:2:0.5");
  EXPECT_EQ(m.training->optimizer_state, st.optimizer_state);
  EXPECT_DOUBLE_EQ(*m.net.layer(0).learning_rate, 0.01);
  // the loaded network computes what the saved one computed
  const Tensor x = test::random_tensor({3, 1, 28, 28}, 1, 0, 1);
  const Tensor want = net.forward(x);
  EXPECT_EQ(std::vector<float>(m.net.forward(x).data(), m.net.forward(x).data() + 30),
            std::vector<float>(want.data(), want.data() + 30));
  fs::remove(p);
}

TEST(Model, DamagedFilesAreRefused) {
  Network net = load_network("book6x6");
  net.init(1);
  const std::string p = temp_path("good.cnn");
  save_model(p, net, "book6x6", {}, nullptr);
  const std::string good = read_all(p);
  const std::string bad = temp_path("bad.cnn");

  std::string s = good;
  s[0] = 'X';
  write_all(bad, s);
  expect_refused(bad, "bad magic");
  s = good;
  s[8] = 9;  // version 9
  write_all(bad, s);
  expect_refused(bad, "version 9");
  write_all(bad, good.substr(0, good.size() - 10));
  expect_refused(bad, "wrong size");
  write_all(bad, good + "xx");
  expect_refused(bad, "wrong size");
  s = good;
  s[s.size() - 20] ^= 0x40;  // a parameter bit flips
  write_all(bad, s);
  expect_refused(bad, "checksum");
  write_all(bad, "tiny");
  expect_refused(bad, "bad magic");
  expect_refused(temp_path("absent.cnn"), "no such file");
  fs::remove(p);
  fs::remove(bad);
}

// Models saved by older builds must keep loading (tiny-dnn #857, dlib #1731 broke exactly this). One file per
// format version lives in tests/data with the outputs it gave when it was written.
TEST(Model, EveryFormatVersionStillLoads) {
  for (std::uint32_t v = 1; v <= kModelFormatVersion; ++v) {
    const std::string dir = std::string(CNN_SOURCE_DIR) + "/tests/data/";
    const std::string file = dir + "model_v" + std::to_string(v) + ".cnn";
    ASSERT_TRUE(fs::exists(file)) << "keep a model file of format version " << v << " in tests/data";
    Model m = load_model(file);
    std::ifstream f(dir + "model_v" + std::to_string(v) + ".expected.json");
    const nlohmann::json want = nlohmann::json::parse(f);
    Tensor x({1, 1, 6, 6});
    for (std::size_t i = 0; i < 36; ++i) x[i] = float(i % 7) / 7.0f;
    const Tensor& y = m.net.forward(x);
    ASSERT_EQ(y.size(), want["output"].size());
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want["output"][i].get<double>(), 1e-6);
    // the parameters themselves, not only the three outputs they give on one input
    ASSERT_TRUE(want.contains("param_sum")) << file;
    double sum = 0.0;
    for (float p : m.net.params()) sum += p;
    EXPECT_GT(m.net.params().size(), 0u) << file;
    EXPECT_NEAR(sum, want["param_sum"].get<double>(), 1e-6) << file;
    EXPECT_EQ(m.class_names, (std::vector<std::string>{"one", "two", "three"}));
    ASSERT_TRUE(m.training);
    EXPECT_EQ(m.training->epoch, 3);
    EXPECT_DOUBLE_EQ(m.training->optimizer.momentum, 0.9);
  }
}

// A save that fails half-way (here: the file-size limit is hit) reports it and leaves the old file as it was.
TEST(Model, FailedSaveLeavesThePreviousFileUntouched) {
  Network small = load_network("book6x6");
  small.init(1);
  const std::string p = temp_path("keep.cnn");
  save_model(p, small, "book6x6", {}, nullptr);
  const std::string before = read_all(p);

  Network big = load_network("seed5");
  big.init(1);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto* prev = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old;
  lim.rlim_cur = 4096;  // seed5's file is about 16 kB
  setrlimit(RLIMIT_FSIZE, &lim);
  std::string message;
  try {
    save_model(p, big, "seed5", {}, nullptr);
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, prev);
  EXPECT_NE(message.find("cannot save"), std::string::npos) << message;
  EXPECT_NE(message.find("untouched"), std::string::npos) << message;
  EXPECT_TRUE(read_all(p) == before) << "the previous model file was changed";
  EXPECT_EQ(load_model(p).net.params(), small.params());
  for (const auto& e : fs::directory_iterator(fs::path(p).parent_path()))
    EXPECT_EQ(e.path().string().find(p + ".tmp"), std::string::npos) << "temporary file left: " << e.path();
  EXPECT_THROW(save_model("/no/such/folder/m.cnn", small, "x", {}, nullptr), Error);
  fs::remove(p);
}

}  // namespace
}  // namespace cnn
