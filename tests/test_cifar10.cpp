// The CIFAR-10 binary reader on small files in that format made from real pictures (Fashion-MNIST, padded to
// 32×32 and given a different transform in each colour plane), in both layouts users have, and every broken file.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

constexpr int kSide = 32, kPlane = kSide * kSide, kPixels = 3 * kPlane, kRecord = 1 + kPixels;
const int kTrainCounts[5] = {4, 5, 6, 7, 8};  // unequal, so a batch read twice or skipped shows
constexpr int kTestCount = 7;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("cnn_cifar10_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

const DataSplit& fashion() {
  static const DataSplit s = load_mnist_folder(default_data_dir());
  return s;
}

// Byte (c, y, x) of the colour picture made from 28×28 picture `p`: R is the picture centred, G its negative in
// the top-left corner, B its transpose in the bottom-right corner; borders are 0. Three different planes, so a
// plane read in the wrong order, a row for a column, or an offset shows.
std::uint8_t colour(const std::uint8_t* p, int c, int y, int x) {
  const int off = c == 0 ? 2 : c == 1 ? 0 : 4;
  const int py = y - off, px = x - off;
  if (py < 0 || px < 0 || py >= 28 || px >= 28) return 0;
  if (c == 0) return p[py * 28 + px];
  if (c == 1) return std::uint8_t(255 - p[py * 28 + px]);
  return p[px * 28 + py];
}

struct Source {
  const Dataset* data;
  std::size_t index;
  const std::uint8_t* picture() const { return data->images.data() + index * 784; }
  std::uint8_t label() const { return data->labels[index]; }
};

std::vector<char> records(const std::vector<Source>& src) {
  std::vector<char> out;
  for (const Source& s : src) {
    out.push_back(char(s.label()));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) out.push_back(char(colour(s.picture(), c, y, x)));
  }
  return out;
}

void write_bytes(const fs::path& p, const std::vector<char>& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), std::streamsize(b.size()));
}

// Training record i comes from Fashion-MNIST training image i, test record i from test image i.
std::vector<Source> train_sources() {
  std::vector<Source> v;
  for (std::size_t i = 0; i < 30; ++i) v.push_back({&fashion().train, i});
  return v;
}
std::vector<Source> test_sources() {
  std::vector<Source> v;
  for (std::size_t i = 0; i < kTestCount; ++i) v.push_back({&fashion().test, i});
  return v;
}

// The class names of the pictures, written as users' files look: trailing spaces, \r\n, blank lines.
const char* const kMeta =
    "T-shirt/top \nTrouser\r\n\nPullover\nDress\nCoat\nSandal\nShirt\nSneaker\nBag\nAnkle boot  \n\n";

void write_cifar_folder(const fs::path& folder, bool meta = true) {
  fs::create_directories(folder);
  const auto train = train_sources();
  std::size_t next = 0;
  for (int b = 0; b < 5; ++b) {
    const std::vector<Source> part(train.begin() + std::ptrdiff_t(next),
                                   train.begin() + std::ptrdiff_t(next + std::size_t(kTrainCounts[b])));
    next += std::size_t(kTrainCounts[b]);
    write_bytes(folder / ("data_batch_" + std::to_string(b + 1) + ".bin"), records(part));
  }
  write_bytes(folder / "test_batch.bin", records(test_sources()));
  if (meta) std::ofstream(folder / "batches.meta.txt", std::ios::binary) << kMeta;
}

// Every byte of `d` is where the format puts it: label i, then plane c row y column x at i·3072 + c·1024 + y·32 + x.
void expect_holds(const Dataset& d, const std::vector<Source>& src) {
  ASSERT_EQ(d.count(), src.size());
  EXPECT_EQ(d.sample, (Shape{1, 3, 32, 32}));
  EXPECT_EQ(d.classes, 10);
  ASSERT_EQ(d.images.size(), src.size() * kPixels);
  int wrong = 0;
  for (std::size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(d.labels[i], src[i].label()) << "record " << i;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x)
          if (d.images[i * kPixels + std::size_t(c * kPlane + y * kSide + x)] != colour(src[i].picture(), c, y, x) &&
              ++wrong <= 5)
            ADD_FAILURE() << "record " << i << " plane "
                          << "RGB"[c] << " (" << y << ", " << x << ")";
  }
  EXPECT_EQ(wrong, 0);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Cifar10, SourcePicturesAreRealAndThePlanesDiffer) {
  ASSERT_TRUE(fs::exists(default_data_dir() + "/train-images-idx3-ubyte.gz"))
      << "dataset-fashion-mnist is not installed: run scripts/setup.sh";
  // the planes must differ for the checks to tell them apart
  const auto src = train_sources();
  int differ_rb = 0, differ_gb = 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      differ_rb += colour(src[0].picture(), 0, y, x) != colour(src[0].picture(), 2, y, x);
      differ_gb += colour(src[0].picture(), 1, y, x) != colour(src[0].picture(), 2, y, x);
    }
  EXPECT_GT(differ_rb, 200);
  EXPECT_GT(differ_gb, 200);
  std::vector<int> labels(10);
  for (const Source& s : src) ++labels[s.label()];
  EXPECT_GE(std::count_if(labels.begin(), labels.end(), [](int n) { return n > 0; }), 8);
}

TEST(Cifar10, TheBatchesFolderItselfLoadsEveryByteInPlace) {
  TempDir t;
  const fs::path folder = t.path / "cifar-10-batches-bin";
  write_cifar_folder(folder);
  EXPECT_TRUE(is_cifar10_folder(folder.string()));
  const DataSplit s = load_cifar10_folder(folder.string());
  expect_holds(s.train, train_sources());
  expect_holds(s.test, test_sources());
  EXPECT_EQ(s.train.class_names, fashion_mnist_class_names());  // "Ankle boot" keeps its inner space
  EXPECT_EQ(s.test.class_names, fashion_mnist_class_names());
  EXPECT_EQ(s.test.name, (folder / "test_batch.bin").string());
  // the images are a straight copy of the files without their label bytes
  std::ifstream f(folder / "test_batch.bin", std::ios::binary);
  const std::vector<char> raw{std::istreambuf_iterator<char>(f), {}};
  ASSERT_EQ(raw.size(), std::size_t(kTestCount) * kRecord);
  for (int i = 0; i < kTestCount; ++i)
    EXPECT_TRUE(std::equal(raw.begin() + i * kRecord + 1, raw.begin() + (i + 1) * kRecord,
                           s.test.images.begin() + i * kPixels,
                           [](char a, std::uint8_t b) { return std::uint8_t(a) == b; }))
        << "record " << i;
  // and a batch for the network is the same bytes / 255, channel-major
  Tensor x;
  int y[2];
  const std::uint32_t idx[2] = {6, 1};
  s.test.batch(idx, 2, x, y);
  EXPECT_EQ(x.shape(), (Shape{2, 3, 32, 32}));
  EXPECT_EQ(y[0], test_sources()[6].label());
  EXPECT_FLOAT_EQ(x[kPixels + 2 * kPlane + 20 * kSide + 9],
                  float(colour(test_sources()[1].picture(), 2, 20, 9)) / 255.0f);
}

TEST(Cifar10, TheParentFolderLoadsTooAndNamesDefaultWithoutMeta) {
  TempDir t;
  write_cifar_folder(t.path / "cifar-10-batches-bin", /*meta=*/false);
  EXPECT_TRUE(is_cifar10_folder(t.path.string()));
  const DataSplit s = load_cifar10_folder(t.path.string());
  expect_holds(s.train, train_sources());
  expect_holds(s.test, test_sources());
  const std::vector<std::string> standard{"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(s.train.class_names, standard);
  EXPECT_EQ(cifar10_class_names(), standard);
  EXPECT_EQ(s.test.name, t / "cifar-10-batches-bin/test_batch.bin");
  // neither an MNIST folder, nor an empty one, nor a missing one is CIFAR-10
  EXPECT_FALSE(is_cifar10_folder(default_data_dir()));
  fs::create_directories(t.path / "empty");
  EXPECT_FALSE(is_cifar10_folder(t / "empty"));
  EXPECT_FALSE(is_cifar10_folder(t / "no-such-folder"));
}

TEST(Cifar10, BrokenFilesAreRefusedInOneLineNamingTheFile) {
  TempDir t;
  const fs::path folder = t.path / "cifar-10-batches-bin";
  const std::string f = folder.string() + "/";
  auto fresh = [&] {
    fs::remove_all(folder);
    write_cifar_folder(folder);
  };
  auto load = [&] { load_cifar10_folder(t.path.string()); };

  const std::vector<Source> train = train_sources();
  const std::vector<Source> ten(train.begin(), train.begin() + 10), twenty(train.begin(), train.begin() + 20);

  fresh();  // ten records cut 30 bytes short
  std::vector<char> b = records(ten);
  b.resize(b.size() - 30);
  write_bytes(folder / "data_batch_3.bin", b);
  EXPECT_EQ(error_of(load), f + "data_batch_3.bin: 30,700 bytes is not a whole number of 3,073-byte records");

  fresh();  // one byte too many
  b = records(ten);
  b.push_back(0);
  write_bytes(folder / "data_batch_5.bin", b);
  EXPECT_EQ(error_of(load), f + "data_batch_5.bin: 30,731 bytes is not a whole number of 3,073-byte records");

  fresh();
  b = records(twenty);
  b[17 * kRecord] = 12;
  write_bytes(folder / "data_batch_2.bin", b);
  EXPECT_EQ(error_of(load), f + "data_batch_2.bin: record 17 has label 12, expected 0..9");

  fresh();  // 10 is the first label out of range
  b = records(test_sources());
  b[0] = 10;
  write_bytes(folder / "test_batch.bin", b);
  EXPECT_EQ(error_of(load), f + "test_batch.bin: record 0 has label 10, expected 0..9");

  fresh();
  fs::remove(folder / "test_batch.bin");
  EXPECT_TRUE(is_cifar10_folder(t.path.string()));
  EXPECT_EQ(error_of(load),
            f + "test_batch.bin: no such file (CIFAR-10 needs data_batch_1.bin … data_batch_5.bin and test_batch.bin)");

  fresh();  // a missing file is named before the others are read
  fs::remove(folder / "data_batch_4.bin");
  write_bytes(folder / "data_batch_1.bin", {1, 2, 3});
  EXPECT_EQ(error_of(load), f + "data_batch_4.bin: no such file (CIFAR-10 needs data_batch_1.bin … data_batch_5.bin "
                                "and test_batch.bin)");

  fresh();
  write_bytes(folder / "data_batch_1.bin", {});
  EXPECT_EQ(error_of(load), f + "data_batch_1.bin: empty file (a CIFAR-10 batch holds 3,073-byte records)");

  fresh();
  std::ofstream(folder / "batches.meta.txt") << "cat\ndog\n\nbird\n";
  EXPECT_EQ(error_of(load), f + "batches.meta.txt: 3 class names (one a line), expected 10, one for each label 0..9");

  EXPECT_EQ(error_of([&] { load_cifar10_folder(t / "no-such-folder"); }), t / "no-such-folder" + ": no such folder");
}

// `cnn` as a user runs it, through the shell, stdout and stderr together.
struct Result {
  int code;
  std::string out;
};
Result cnn_cmd(const std::string& args) {
  const std::string cmd = std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

TEST(Cifar10, CliTrainsAColourNetOnACifarFolder) {
  TempDir t;
  write_cifar_folder(t.path / "cifar-10-batches-bin");
  std::ofstream(t / "colour.json") << R"({"input": [3, 32, 32], "loss": "softmax_cross_entropy",
    "layers": [{"type": "conv2d", "filters": 4, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
               {"type": "dense", "units": 10}]})";
  const Result tr = cnn_cmd("train --net " + t / "colour.json" + " --data " + t.path.string() +
                            " --epochs 1 --batch 10 --threads 1 --quiet --out " + t / "c.cnn");
  ASSERT_EQ(tr.code, 0) << tr.out;
  ASSERT_TRUE(fs::exists(t / "c.cnn")) << tr.out;
  // evaluation reads the same folder's test_batch.bin, and the model carries the names from batches.meta.txt
  const Result ev = cnn_cmd("eval --model " + t / "c.cnn" + " --data " + t.path.string());
  ASSERT_EQ(ev.code, 0) << ev.out;
  EXPECT_NE(ev.out.find("cifar-10-batches-bin/test_batch.bin (7 images)"), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("Ankle boot"), std::string::npos) << ev.out;
  // a grey net is told the pictures are colour
  const Result grey =
      cnn_cmd("train --data " + t.path.string() + " --epochs 1 --threads 1 --quiet --out " + t / "g.cnn");
  EXPECT_EQ(grey.code, 1) << grey.out;
  EXPECT_NE(grey.out.find("3x32x32"), std::string::npos) << grey.out;
  EXPECT_NE(grey.out.find("1x28x28"), std::string::npos) << grey.out;
}

TEST(Cifar10, CliErrorsAreOneLine) {
  TempDir t;
  write_cifar_folder(t.path / "cifar-10-batches-bin");
  fs::resize_file(t.path / "cifar-10-batches-bin/data_batch_3.bin", 30700);
  const Result r = cnn_cmd("train --data " + t.path.string() + " --epochs 1 --quiet --out " + t / "m.cnn");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out, "cnn: error: " + t / "cifar-10-batches-bin/data_batch_3.bin" +
                       ": 30,700 bytes is not a whole number of 3,073-byte records\n");
  // a folder of no layout lists all three
  fs::create_directories(t.path / "holiday-photos");
  std::ofstream(t / "holiday-photos/beach.jpg") << "not really";
  const Result n = cnn_cmd("train --data " + t / "holiday-photos" + " --epochs 1 --quiet --out " + t / "m.cnn");
  EXPECT_EQ(n.code, 1) << n.out;
  EXPECT_EQ(n.out, "cnn: error: " + t / "holiday-photos" +
                       ": holds neither the four MNIST-format IDX files (train-images-idx3-ubyte, "
                       "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or .gz), "
                       "nor CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin and test_batch.bin, here "
                       "or in cifar-10-batches-bin/), nor a folder of pictures (DIR/train/<class>/… and "
                       "DIR/test/<class>/…, or DIR/<class>/… with --val-split)\n");
  // a half-copied MNIST folder still names its missing file
  std::ofstream(t / "holiday-photos/train-images-idx3-ubyte") << "x";
  const Result m = cnn_cmd("train --data " + t / "holiday-photos" + " --epochs 1 --quiet --out " + t / "m.cnn");
  EXPECT_EQ(m.code, 1) << m.out;
  EXPECT_NE(m.out.find("no train-labels-idx1-ubyte"), std::string::npos) << m.out;
}

}  // namespace
}  // namespace cnn
