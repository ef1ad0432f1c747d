#include "cnn/model.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnn/netfile.h"

namespace cnn {

namespace {

constexpr char kMagic[8] = {'C', 'N', 'N', 'M', 'O', 'D', 'E', 'L'};

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}
std::uint32_t get_u32(const std::string& in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::uint8_t(in[at + std::size_t(i)])) << (8 * i);
  return v;
}
void put_floats(std::string& out, const std::vector<float>& v) {
  const std::size_t at = out.size();
  out.resize(at + v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    for (int b = 0; b < 4; ++b) out[at + 4 * i + std::size_t(b)] = char((bits >> (8 * b)) & 0xff);
  }
}
std::vector<float> get_floats(const std::string& in, std::size_t at, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bits = get_u32(in, at + 4 * i);
    std::memcpy(&v[i], &bits, 4);
  }
  return v;
}

nlohmann::json optimizer_json(const OptimizerOptions& o) {
  return {{"kind", o.kind},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"nesterov", o.nesterov},
          {"weight_decay", o.weight_decay},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"schedule", o.schedule.str()}};
}
OptimizerOptions optimizer_from(const nlohmann::json& j) {
  OptimizerOptions o;
  o.kind = j.at("kind").get<std::string>();
  o.lr = j.at("lr").get<double>();
  o.momentum = j.at("momentum").get<double>();
  o.nesterov = j.at("nesterov").get<bool>();
  o.weight_decay = j.at("weight_decay").get<double>();
  o.beta1 = j.at("beta1").get<double>();
  o.beta2 = j.at("beta2").get<double>();
  o.eps = j.at("eps").get<double>();
  o.schedule = parse_schedule(j.at("schedule").get<std::string>());
  return o;
}

// A run killed while saving (kill -9, a power cut, a full disk that killed it through SIGXFSZ) leaves its
// <file>.tmp.<pid> behind; nothing ever reads one, and the next save to the same file removes those whose process is
// gone, so they do not pile up. A live pid's file is another run's save in progress and is left alone.
void remove_stale_temporaries(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
}

// The first parameter or buffer value that is not a finite number, named by layer ("layer 3 (conv2d) parameter 17
// of 150 is NaN, and 4 more values are not finite"), or "" when all are. A NaN weight makes every prediction NaN,
// and argmax over NaNs a silent class 0: such a model is neither saved nor loaded.
std::string first_non_finite(const Network& net) {
  std::string first;
  std::size_t more = 0;
  auto scan = [&](const float* v, std::size_t n, std::size_t layer, const char* what) {
    for (std::size_t k = 0; k < n; ++k) {
      if (std::isfinite(v[k])) continue;
      if (!first.empty()) {
        ++more;
        continue;
      }
      first = "layer " + std::to_string(layer + 1) + " (" + net.layer(layer).kind() + ") " + what + " " +
              std::to_string(k + 1) + " of " + std::to_string(n) + " is " +
              (std::isnan(v[k]) ? "NaN"
               : v[k] > 0       ? "+infinity"
                                : "-infinity");
    }
  };
  for (std::size_t i = 0; i < net.size(); ++i) {
    scan(net.params().data() + net.param_offset(i), net.param_count(i), i, "parameter");
    scan(net.buffers().data() + net.buffer_offset(i), net.layer(i).buffer_count(), i, "buffer value");
  }
  if (more) first += ", and " + std::to_string(more) + " more value" + (more > 1 ? "s are" : " is") + " not finite";
  return first;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) throw Error(path + ": cannot save: folder " + dir.string() + " does not exist");
  remove_stale_temporaries(target);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(path + ": cannot save: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(path + ": cannot save: " + why + " (the previous file is untouched)");
    }
    done += std::size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot save: " + why + " (the previous file is untouched)");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot save: " + why + " (the previous file is untouched)");
  }
}

void save_model(const std::string& path, const Network& net, const std::string& name,
                const std::vector<std::string>& class_names, const TrainingState* training) {
  if (const std::string bad = first_non_finite(net); !bad.empty())
    throw Error(path + ": cannot save: " + bad + " (the previous file is untouched)");
  nlohmann::json h;
  h["net"] = net.spec();
  h["name"] = name;
  h["class_names"] = class_names;
  h["param_count"] = net.params().size();
  h["buffer_count"] = net.buffers().size();
  h["state_count"] = training ? training->optimizer_state.size() : 0;
  if (training) {
    h["training"] = {{"epoch", training->epoch},
                     {"seed", training->seed},
                     {"batch", training->batch},
                     {"steps", training->steps},
                     {"optimizer", optimizer_json(training->optimizer)},
                     {"train_limit", training->train_limit},
                     {"test_limit", training->test_limit},
                     {"data", training->data},
                     {"augment", training->augment.str()},
                     {"label_smoothing", training->label_smoothing},
                     {"val_split", training->val_split}};
    if (!training->metrics.empty()) h["training"]["metrics"] = training->metrics;
  }
  const std::string header = h.dump();
  std::string out(kMagic, 8);
  put_u32(out, kModelFormatVersion);
  put_u32(out, std::uint32_t(header.size()));
  out += header;
  put_floats(out, net.params());
  put_floats(out, net.buffers());
  if (training) put_floats(out, training->optimizer_state);
  put_u32(out, std::uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), uInt(out.size()))));
  write_file_atomically(path, out);
}

Model load_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": " + (std::filesystem::exists(path) ? "cannot open" : "no such file"));
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_model(ss.str(), path);
}

Model parse_model(const std::string& in, const std::string& path) {
  if (in.size() < 20 || std::memcmp(in.data(), kMagic, 8) != 0)
    throw Error(path + ": not a cnn model file (bad magic)");
  const std::uint32_t version = get_u32(in, 8);
  if (version != 1 && version != kModelFormatVersion)
    throw Error(path + ": model format version " + std::to_string(version) +
                " is not supported (this build reads 1 to " + std::to_string(kModelFormatVersion) + ")");
  const std::uint32_t hlen = get_u32(in, 12);
  if (std::size_t(hlen) + 20 > in.size()) throw Error(path + ": wrong size (truncated header)");
  const std::uint32_t stored = get_u32(in, in.size() - 4);
  const std::uint32_t actual = std::uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(in.data()), uInt(in.size() - 4)));
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(in.substr(16, hlen));
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": " + (stored != actual ? "bad checksum (the file is corrupt)" : "unreadable header"));
  }
  std::size_t P = 0, B = 0, S = 0;
  try {
    P = h.at("param_count").get<std::size_t>();
    S = h.at("state_count").get<std::size_t>();
    if (version >= 2) B = h.at("buffer_count").get<std::size_t>();
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": header lacks param_count/state_count" + std::string(version >= 2 ? "/buffer_count" : ""));
  }
  // each count below the file's size first, so that 4 × (P + B + S) cannot wrap around to a size that matches
  if (P > in.size() || B > in.size() || S > in.size())
    throw Error(path + ": wrong size: " + std::to_string(in.size()) + " bytes, the header describes more");
  const std::size_t want = 16 + std::size_t(hlen) + 4 * (P + B + S) + 4;
  if (in.size() != want)
    throw Error(path + ": wrong size: " + std::to_string(in.size()) + " bytes, the header describes " +
                std::to_string(want));
  if (stored != actual) throw Error(path + ": bad checksum (the file is corrupt)");
  // The checksum only says the bytes are the writer's: a header another program wrote can still lack "net" or hold
  // a "name" that is no string, which must be a cnn::Error like every other fault, not nlohmann's exception.
  Model m = [&] {
    try {
      if (!h.contains("net")) throw Error(path + ": the header has no \"net\" (the network's description)");
      return Model{network_from_json(h.at("net"), path), h.value("name", std::string()), {}, std::nullopt};
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": bad header (" + std::string(e.what()) + ")");
    }
  }();
  if (m.net.params().size() != P)
    throw Error(path + ": the description has " + std::to_string(m.net.params().size()) + " parameters, the file " +
                std::to_string(P));
  const std::size_t at = 16 + hlen;
  const std::vector<float> params = get_floats(in, at, P);
  std::copy(params.begin(), params.end(), m.net.params().begin());  // into the buffer the layers view
  if (m.net.buffers().size() != B)
    throw Error(path + ": the description has " + std::to_string(m.net.buffers().size()) + " buffer values, the file " +
                std::to_string(B));
  const std::vector<float> buffers = get_floats(in, at + 4 * P, B);
  std::copy(buffers.begin(), buffers.end(), m.net.buffers().begin());
  if (const std::string bad = first_non_finite(m.net); !bad.empty())
    throw Error(path + ": " + bad + ": the model cannot predict (retrain it, or resume from an earlier file)");
  if (h.contains("class_names")) {
    if (!h["class_names"].is_array() ||
        !std::all_of(h["class_names"].begin(), h["class_names"].end(), [](const auto& v) { return v.is_string(); }))
      throw Error(path + ": bad header (\"class_names\" must be an array of strings)");
    m.class_names = h["class_names"].get<std::vector<std::string>>();
  }
  if (h.contains("training")) {
    try {
      const auto& t = h["training"];
      TrainingState s;
      s.epoch = t.at("epoch").get<int>();
      s.seed = t.at("seed").get<std::uint64_t>();
      s.batch = t.at("batch").get<int>();
      s.steps = t.at("steps").get<std::uint64_t>();
      s.optimizer = optimizer_from(t.at("optimizer"));
      s.train_limit = t.value("train_limit", std::size_t(0));
      s.test_limit = t.value("test_limit", std::size_t(0));
      s.data = t.value("data", std::string());
      s.augment = parse_augment(t.value("augment", std::string("none")));
      s.label_smoothing = t.value("label_smoothing", 0.0);
      s.val_split = t.value("val_split", 0.0);
      s.metrics = t.value("metrics", std::string());
      s.optimizer_state = get_floats(in, at + 4 * (P + B), S);
      m.training = std::move(s);
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": bad training state in header (" + std::string(e.what()) + ")");
    }
  }
  return m;
}

}  // namespace cnn
