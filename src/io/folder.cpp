// A folder of the user's own pictures as a Dataset: the files listed and sorted, decoded once on the library's
// threads into uint8 planes fitted to the network's input, and cached in one checksummed file so that the next run
// over the same folder reads bytes instead of decoding tens of thousands of pictures again.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "cnn/dataset.h"
#include "cnn/model.h"
#include "cnn/random.h"
#include "io/picture.h"
#include "kernels/parallel.h"

namespace cnn {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t kMaxClasses = 256;  // labels are one byte
constexpr std::uint32_t kCacheVersion = 1;
const char kCacheMagic[8] = {'C', 'N', 'N', 'P', 'I', 'C', 'S', '\0'};

// What OpenCV's imgcodecs may read, by the name's ending; any other file in a class folder is not a picture (a
// README, a Thumbs.db). GIF is listed so that a GIF is named as unreadable rather than passed over in silence.
bool has_picture_name(const fs::path& p) {
  static const std::set<std::string> kEndings = {".bmp",  ".dib",  ".jpeg", ".jpg", ".jpe", ".jp2", ".png", ".webp",
                                                 ".avif", ".pbm",  ".pgm",  ".ppm", ".pxm", ".pnm", ".pfm", ".sr",
                                                 ".ras",  ".tiff", ".tif",  ".exr", ".hdr", ".pic", ".gif"};
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return kEndings.contains(e);
}

bool hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

// One picture file: where it is, what validates a cached copy of it, and its place in the data.
struct Entry {
  std::string rel;  // relative to the folder, '/'-separated: train/cat/001.png
  std::string file_name;
  std::uintmax_t size = 0;
  std::int64_t mtime = 0;  // the file clock's ticks
  int label = 0;
  int part = 0;  // index into Listing::parts
};

struct Listing {
  fs::path root;
  std::vector<std::string> parts;        // {"train", "test"}, or {""} for the one-level layout
  std::vector<std::string> class_names;  // sorted
  std::vector<Entry> entries;            // part by part; in a part by file name, then label
  std::size_t ignored = 0;               // files in class folders that are not pictures by their names
  std::string ignored_example;
};

std::vector<std::string> subfolders(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot list the folder (" + ec.message() + ")");
  std::vector<std::string> names;
  for (const auto& e : it)
    if (!hidden(e.path()) && e.is_directory(ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const char* const kLayout =
    "a picture folder is DIR/train/<class>/… and DIR/test/<class>/…, or DIR/<class>/… with a validation split";

Listing list_pictures(const std::string& dir, bool split) {
  Listing l;
  std::error_code ec;
  l.root = fs::path(dir);
  const bool has_train = fs::is_directory(l.root / "train", ec), has_test = fs::is_directory(l.root / "test", ec);
  if (has_train != has_test)
    throw Error(dir + ": has " + (has_train ? "train/ but no test/" : "test/ but no train/") + " (" + kLayout + ")");
  if (has_train) {
    if (split) throw Error(dir + ": has train/ and test/ already, so it takes no validation split (--val-split)");
    l.parts = {"train", "test"};
  } else {
    l.parts = {""};
  }
  std::vector<std::vector<std::string>> classes;
  for (const auto& part : l.parts) {
    classes.push_back(subfolders(l.root / part));
    const std::string where = part.empty() ? dir : (l.root / part).string();
    if (classes.back().empty()) throw Error(where + ": no class folders (" + kLayout + ")");
  }
  if (classes.size() == 2 && classes[0] != classes[1]) {
    std::vector<std::string> only_train, only_test;
    std::set_difference(classes[0].begin(), classes[0].end(), classes[1].begin(), classes[1].end(),
                        std::back_inserter(only_train));
    std::set_difference(classes[1].begin(), classes[1].end(), classes[0].begin(), classes[0].end(),
                        std::back_inserter(only_test));
    std::string what;
    if (!only_train.empty()) what += "only in train/: " + joined(only_train);
    if (!only_test.empty()) what += std::string(what.empty() ? "" : "; ") + "only in test/: " + joined(only_test);
    throw Error(dir + ": train/ and test/ must hold the same class folders (" + what + ")");
  }
  l.class_names = classes[0];
  if (l.class_names.size() > kMaxClasses)
    throw Error(dir + ": " + std::to_string(l.class_names.size()) + " class folders, at most " +
                std::to_string(kMaxClasses) + " (labels are one byte)");
  if (!split && !has_train)
    throw Error(dir +
                ": holds class folders but no train/ and test/: pass a validation split (--val-split 0.1) to "
                "hold out part of each class for testing");

  for (int p = 0; p < int(l.parts.size()); ++p) {
    const std::size_t first = l.entries.size();
    for (int k = 0; k < int(l.class_names.size()); ++k) {
      const fs::path folder = l.root / l.parts[std::size_t(p)] / l.class_names[std::size_t(k)];
      fs::directory_iterator it(folder, ec);
      if (ec) throw Error(folder.string() + ": cannot list the folder (" + ec.message() + ")");
      std::size_t found = 0;
      for (const auto& e : it) {
        if (hidden(e.path()) || !e.is_regular_file(ec)) continue;
        if (!has_picture_name(e.path())) {
          if (!l.ignored++) l.ignored_example = e.path().string();
          continue;
        }
        Entry en;
        en.file_name = e.path().filename().string();
        en.rel = (fs::path(l.parts[std::size_t(p)]) / l.class_names[std::size_t(k)] / en.file_name).generic_string();
        en.size = e.file_size(ec);
        if (ec) throw Error(e.path().string() + ": cannot read its size (" + ec.message() + ")");
        en.mtime = std::int64_t(e.last_write_time(ec).time_since_epoch().count());
        en.label = k;
        en.part = p;
        l.entries.push_back(std::move(en));
        ++found;
      }
      if (!found) throw Error(folder.string() + ": no pictures (PNG, JPEG, BMP, …) in this class folder");
    }
    std::sort(l.entries.begin() + std::ptrdiff_t(first), l.entries.end(), [](const Entry& a, const Entry& b) {
      return a.file_name != b.file_name ? a.file_name < b.file_name : a.label < b.label;
    });
  }
  return l;
}

// The cache file: a header that must equal the one made from today's listing byte for byte (format version, the
// folder, the input shape and fit, every picture's name, size and time), one byte per picture (1: decoded, 0:
// unreadable), the pixels of the decoded ones, and a CRC-32 of everything before it.
void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}
void put_str(std::string& s, const std::string& v) {
  put_u32(s, std::uint32_t(v.size()));
  s += v;
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::uint8_t(p[i])) << (8 * i);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(std::uint8_t(p[i])) << (8 * i);
  return v;
}
std::uint32_t crc_of(const char* p, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n) {  // zlib takes uInt lengths: a cache of several GiB goes through in pieces
    const uInt piece = uInt(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), piece);
    p += piece;
    n -= piece;
  }
  return std::uint32_t(crc);
}

std::string cache_header(const std::string& key, const Listing& l) {
  std::string h(kCacheMagic, sizeof kCacheMagic);
  put_u32(h, kCacheVersion);
  put_str(h, key);
  put_u64(h, l.entries.size());
  for (const Entry& e : l.entries) {
    put_str(h, e.rel);
    put_u64(h, e.size);
    put_u64(h, std::uint64_t(e.mtime));
  }
  return h;
}

// FNV-1a: a stable name for the cache file (the key itself is checked inside it, so a collision only costs a
// rebuild).
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
  return h;
}

fs::path cache_folder(const std::string& option) {
  if (option == "-") return {};
  if (!option.empty()) return option;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') return fs::path(x) / "cnn";
  if (const char* home = std::getenv("HOME"); home && home[0]) return fs::path(home) / ".cache" / "cnn";
  return {};
}

// The cached decode of today's listing, when the file is there, current and intact; false otherwise.
bool read_cache(const fs::path& file, const std::string& header, std::size_t sample_bytes,
                std::vector<std::uint8_t>& ok, std::vector<std::uint8_t>& images) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(file, ec);
  const std::size_t n = ok.size();
  if (ec || size < header.size() + n + 8 + 4) return false;
  // The decoded images can be no bigger than every picture decoded: a wrong size is a wrong file, not a reason to
  // allocate it.
  if (size > header.size() + n + 8 + n * sample_bytes + 4) return false;
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::ifstream f(file, std::ios::binary);
  if (!f.read(bytes.data(), std::streamsize(size))) return false;
  if (bytes.compare(0, header.size(), header) != 0) return false;
  if (crc_of(bytes.data(), bytes.size() - 4) != get_u32(bytes.data() + bytes.size() - 4)) return false;
  const char* p = bytes.data() + header.size();
  std::size_t decoded = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::uint8_t(p[i]) > 1) return false;
    ok[i] = std::uint8_t(p[i]);
    decoded += ok[i];
  }
  p += n;
  const std::uint64_t image_bytes = get_u64(p);
  p += 8;
  if (image_bytes != decoded * sample_bytes || header.size() + n + 8 + image_bytes + 4 != size) return false;
  images.assign(reinterpret_cast<const std::uint8_t*>(p), reinterpret_cast<const std::uint8_t*>(p) + image_bytes);
  return true;
}

void write_cache(const fs::path& file, const std::string& header, const std::vector<std::uint8_t>& ok,
                 const std::vector<std::uint8_t>& images) {
  std::string bytes;
  bytes.reserve(header.size() + ok.size() + 8 + images.size() + 4);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(ok.data()), ok.size());
  put_u64(bytes, images.size());
  bytes.append(reinterpret_cast<const char*>(images.data()), images.size());
  put_u32(bytes, crc_of(bytes.data(), bytes.size()));
  // No cache is still a correct load: a read-only home or a full disk only costs the next run its decoding.
  try {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    if (!ec) write_file_atomically(file.string(), bytes);
  } catch (const std::exception&) {
  }
}

// Every picture of the listing decoded into `images` (sample_bytes each, in order; `ok` says which could be read).
// Chunks of pictures go to the library's threads; each picture writes only its own slot, so the bytes are those of
// one thread.
void decode_all(const Listing& l, Shape sample, Fit fit, bool progress, std::vector<std::uint8_t>& ok,
                std::vector<std::uint8_t>& images) {
  const std::size_t n = l.entries.size(), S = sample.sample_size();
  std::vector<std::uint8_t> all(n * S);
  const bool bar = progress && ::isatty(STDERR_FILENO) == 1;
  std::atomic<std::size_t> done{0};
  std::mutex print;
  const auto t0 = clock_type::now();
  auto last = t0;
  const auto show = [&](std::size_t d) {
    const int width = 30, filled = int(width * d / std::max<std::size_t>(n, 1));
    std::fprintf(stderr, "\r  decoding pictures [%s%s] %zu/%zu ", std::string(std::size_t(filled), '=').c_str(),
                 std::string(std::size_t(width - filled), ' ').c_str(), d, n);
    std::fflush(stderr);
  };
  const int chunks = int(std::min<std::size_t>(std::max<std::size_t>(n, 1), 4096));
  kernels::parallel_for(chunks, [&](int c) {
    const std::size_t begin = n * std::size_t(c) / std::size_t(chunks),
                      end = n * std::size_t(c + 1) / std::size_t(chunks);
    for (std::size_t i = begin; i < end; ++i) {
      try {  // nothing may leave a chunk: a picture OpenCV chokes on is one more unreadable picture
        const cv::Mat img = picture::decode((l.root / l.entries[i].rel).string(), sample.c);
        if (!img.empty()) {
          picture::to_planes(picture::fit_to(img, sample.h, sample.w, fit), all.data() + i * S);
          ok[i] = 1;
        }
      } catch (...) {
        ok[i] = 0;
      }
      const std::size_t d = done.fetch_add(1) + 1;
      if (bar && print.try_lock()) {
        const auto now = clock_type::now();
        if (now - last > std::chrono::milliseconds(100)) {
          last = now;
          show(d);
        }
        print.unlock();
      }
    }
  });
  if (bar) std::fprintf(stderr, "\r%s\r", std::string(60, ' ').c_str());
  // Keep only the decoded pictures, in order, moved down over the slots of the unreadable ones.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (ok[i]) {
      if (kept != i) std::memmove(all.data() + kept * S, all.data() + i * S, S);
      ++kept;
    }
  all.resize(kept * S);
  images = std::move(all);
}

std::string seconds_str(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

bool is_picture_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (fs::is_directory(fs::path(dir) / "train", ec) || fs::is_directory(fs::path(dir) / "test", ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (!hidden(e.path()) && e.is_directory(ec)) return true;
  return false;
}

DataSplit load_picture_folder(const std::string& dir, Shape sample, const FolderOptions& options,
                              FolderReport* report) {
  const auto t0 = clock_type::now();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such folder");
  if (sample.c != 1 && sample.c != 3)
    throw Error(dir + ": the network takes " + std::to_string(sample.c) + " channels; pictures give 1 or 3");
  if (sample.h < 1 || sample.w < 1) throw Error(dir + ": input size " + sample.sample_str() + " holds no pixels");
  if (!(options.val_split >= 0 && options.val_split < 1))
    throw Error(dir + ": validation split " + std::to_string(options.val_split) + ": expected 0 < split < 1");
  const bool split = options.val_split > 0;
  const Listing l = list_pictures(dir, split);
  const std::size_t n = l.entries.size(), S = sample.sample_size();

  FolderReport r;
  fs::path absolute = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) absolute = fs::absolute(dir);
  const std::string key = absolute.string() + "\n" + sample.sample_str() + "\n" + fit_name(options.fit);
  const std::string header = cache_header(key, l);
  const fs::path folder = cache_folder(options.cache_dir);
  char name[40];
  std::snprintf(name, sizeof name, "pictures-%016llx.bin", static_cast<unsigned long long>(fnv1a(key)));
  const fs::path cache = folder.empty() ? fs::path() : folder / name;
  r.cache_file = cache.string();

  std::vector<std::uint8_t> ok(n, 0), images;
  r.from_cache = !cache.empty() && read_cache(cache, header, S, ok, images);
  if (!r.from_cache) {
    decode_all(l, sample, options.fit, options.progress, ok, images);
    r.decoded = n;
    if (!cache.empty()) write_cache(cache, header, ok, images);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!ok[i]) r.unreadable.push_back(l.entries[i].rel);
  r.pictures = n - r.unreadable.size();
  r.ignored = l.ignored;
  if (options.strict && !r.unreadable.empty())
    throw Error((l.root / r.unreadable.front()).string() +
                ": not a readable picture (PNG, JPEG, BMP, …); strict loading refuses to skip it");

  // Every class of every part needs a picture: a class the network never sees is a mistake in the folder.
  std::vector<std::size_t> per_class(l.parts.size() * l.class_names.size(), 0),
      listed(l.parts.size() * l.class_names.size(), 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t slot = std::size_t(l.entries[i].part) * l.class_names.size() + std::size_t(l.entries[i].label);
    ++listed[slot];
    per_class[slot] += ok[i];
  }
  for (std::size_t slot = 0; slot < per_class.size(); ++slot)
    if (!per_class[slot])
      throw Error(
          (l.root / l.parts[slot / l.class_names.size()] / l.class_names[slot % l.class_names.size()]).string() +
          ": none of its " + std::to_string(listed[slot]) + " pictures can be read");

  DataSplit out;
  for (Dataset* d : {&out.train, &out.test}) {
    d->sample = sample.with_batch(1);
    d->classes = int(l.class_names.size());
    d->class_names = l.class_names;
  }
  // part[i]: which set picture i goes to (0 train, 1 test).
  std::vector<std::uint8_t> part(n, 0);
  if (split) {
    out.train.name = dir + " (training pictures)";
    out.test.name = dir + " (validation pictures)";
    // Per class, a seeded shuffle of its readable pictures; the first round(split·count) are held out, and every
    // class keeps at least one picture to train on.
    Rng rng(options.seed);
    std::vector<std::vector<std::size_t>> members(l.class_names.size());
    for (std::size_t i = 0; i < n; ++i)
      if (ok[i]) members[std::size_t(l.entries[i].label)].push_back(i);
    for (auto& m : members) {
      for (std::size_t i = m.size(); i > 1; --i) std::swap(m[i - 1], m[std::size_t(rng.below(i))]);
      const std::size_t held = std::min(m.size() - 1, std::size_t(std::llround(double(m.size()) * options.val_split)));
      for (std::size_t j = 0; j < held; ++j) part[m[j]] = 1;
    }
  } else {
    out.train.name = (l.root / "train").string();
    out.test.name = (l.root / "test").string();
    for (std::size_t i = 0; i < n; ++i) part[i] = std::uint8_t(l.entries[i].part);
  }
  const std::uint8_t* src = images.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (!ok[i]) continue;
    Dataset& d = part[i] ? out.test : out.train;
    d.images.insert(d.images.end(), src, src + S);
    d.labels.push_back(std::uint8_t(l.entries[i].label));
    src += S;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();

  if (options.progress) {
    if (r.from_cache)
      std::fprintf(stderr, "read %zu pictures from the cache %s in %s s\n", r.pictures, r.cache_file.c_str(),
                   seconds_str(r.seconds).c_str());
    else
      std::fprintf(stderr, "decoded %zu pictures in %s s\n", r.pictures, seconds_str(r.seconds).c_str());
    if (!r.unreadable.empty()) {
      constexpr std::size_t kNamed = 5;
      std::string names;
      for (std::size_t i = 0; i < std::min(kNamed, r.unreadable.size()); ++i)
        names += (i ? ", " : "") + r.unreadable[i];
      if (r.unreadable.size() > kNamed) names += " and " + std::to_string(r.unreadable.size() - kNamed) + " more";
      std::fprintf(stderr, "skipped %zu pictures that cannot be read: %s\n", r.unreadable.size(), names.c_str());
    }
    if (l.ignored)
      std::fprintf(stderr, "ignored %zu files that are not pictures by their names (such as %s)\n", l.ignored,
                   l.ignored_example.c_str());
  }
  if (report) *report = std::move(r);
  return out;
}

}  // namespace cnn
