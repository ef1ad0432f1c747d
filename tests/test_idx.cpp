// The IDX reader against good files, real files and every kind of broken file.
#include <filesystem>
#include <fstream>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("cnn_idx_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                        "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

Dataset tiny(int count, int h = 4, int w = 3) {
  Dataset d;
  d.sample = {1, 1, h, w};
  for (int i = 0; i < count * h * w; ++i) d.images.push_back(std::uint8_t(i * 7));
  for (int i = 0; i < count; ++i) d.labels.push_back(std::uint8_t(i % 10));
  return d;
}

std::vector<char> bytes_of(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void write_bytes(const std::string& p, const std::vector<char>& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), std::streamsize(b.size()));
}

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    FAIL() << "no error, expected one mentioning " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(Idx, PlainAndGzipRoundTrip) {
  TempDir t;
  const Dataset d = tiny(5);
  for (const std::string ext : {"", ".gz"}) {
    save_idx(d, t / ("im" + ext), t / ("lb" + ext));
    const Dataset r = load_idx(t / ("im" + ext), t / ("lb" + ext));
    EXPECT_EQ(r.images, d.images);
    EXPECT_EQ(r.labels, d.labels);
    EXPECT_EQ(r.sample, d.sample);
  }
  Tensor x;
  int y[2];
  const std::uint32_t idx[2] = {4, 0};
  load_idx(t / "im", t / "lb").batch(idx, 2, x, y);
  EXPECT_EQ(x.shape(), (Shape{2, 1, 4, 3}));
  EXPECT_FLOAT_EQ(x[0], float(std::uint8_t(48 * 7)) / 255.0f);
  EXPECT_EQ(y[0], 4);
}

TEST(Idx, BrokenFilesAreRefusedWithTheFileNamed) {
  TempDir t;
  save_idx(tiny(5), t / "im", t / "lb");
  save_idx(tiny(4), t / "im4", t / "lb4");
  auto im = bytes_of(t / "im");
  expect_error([&] { load_idx(t / "missing", t / "lb"); }, "missing: no such file");
  expect_error([&] { load_idx(t / "im", t / "lb4"); }, "5 images");  // counts differ
  auto trunc = im;
  trunc.resize(trunc.size() - 3);
  write_bytes(t / "trunc", trunc);
  expect_error([&] { load_idx(t / "trunc", t / "lb"); }, "truncated");
  write_bytes(t / "short", {0, 0, 8});
  expect_error([&] { load_idx(t / "short", t / "lb"); }, "short: truncated IDX header");
  auto magic = im;
  magic[0] = 1;
  write_bytes(t / "magic", magic);
  expect_error([&] { load_idx(t / "magic", t / "lb"); }, "magic");
  auto type = im;
  type[2] = 0x0D;  // float data
  write_bytes(t / "type", type);
  expect_error([&] { load_idx(t / "type", t / "lb"); }, "unsigned byte");
  expect_error([&] { load_idx(t / "lb", t / "lb"); }, "dimensions");  // labels given as images
  auto longer = im;
  longer.push_back(1);
  write_bytes(t / "long", longer);
  expect_error([&] { load_idx(t / "long", t / "lb"); }, "longer");
  Dataset bad = tiny(5);
  bad.labels[3] = 12;
  save_idx(bad, t / "imb", t / "lbb");
  expect_error([&] { load_idx(t / "imb", t / "lbb"); }, "label 12");
  auto gz = bytes_of(t / "lb");
  save_idx(tiny(5), t / "im.gz", t / "lb.gz");
  auto gzb = bytes_of(t / "im.gz");
  gzb.resize(gzb.size() / 2);
  write_bytes(t / "cut.gz", gzb);
  EXPECT_THROW(load_idx(t / "cut.gz", t / "lb"), Error);
  expect_error([&] { load_mnist_folder(t / "nothing-here"); }, "no such folder");
  expect_error([&] { load_mnist_folder(t.path.string()); }, "-ubyte.gz) in this folder");
}

TEST(Idx, FolderWithTheFourMnistNamesLoads) {
  TempDir t;
  save_idx(tiny(6), t / "train-images-idx3-ubyte", t / "train-labels-idx1-ubyte.gz");
  save_idx(tiny(2), t / "t10k-images-idx3-ubyte.gz", t / "t10k-labels-idx1-ubyte");
  const DataSplit s = load_mnist_folder(t.path.string());
  EXPECT_EQ(s.train.count(), 6u);
  EXPECT_EQ(s.test.count(), 2u);
}

// The real Fashion-MNIST from Debian's dataset-fashion-mnist, which the test setup installs.
TEST(Idx, RealFashionMnist) {
  ASSERT_TRUE(fs::exists(default_data_dir() + "/train-images-idx3-ubyte.gz"))
      << "dataset-fashion-mnist is not installed: run scripts/setup.sh";
  const DataSplit s = load_mnist_folder(default_data_dir());
  EXPECT_EQ(s.train.count(), 60000u);
  EXPECT_EQ(s.test.count(), 10000u);
  EXPECT_EQ(s.train.sample, (Shape{1, 1, 28, 28}));
  EXPECT_EQ(s.train.class_names.size(), 10u);
  std::vector<int> per_class(10);
  for (auto l : s.test.labels) ++per_class[l];
  for (int c : per_class) EXPECT_EQ(c, 1000);
}

}  // namespace
}  // namespace cnn
