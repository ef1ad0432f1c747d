// Bad input met as a user meets it: one line from the project, never a library's own message around it (libpng's
// through OpenCV), and numbers that are not numbers (NaN, infinities, 1e400, denormals) refused or given a meaning.
#include <signal.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include <onnx/onnx_pb.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "io/picture.h"
#include "web_body.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("cnn_reliability_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
  std::string put(const std::string& name, const std::string& bytes) const {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return *this / name;
  }
};

// A PNG chunk: length, type, data, CRC-32 of type and data (or a wrong one).
std::string chunk(const std::string& type, const std::string& data, bool good_crc = true) {
  std::string c;
  for (int s = 24; s >= 0; s -= 8) c += char((data.size() >> s) & 0xff);
  c += type + data;
  std::uint32_t crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(c.data() + 4), uInt(c.size() - 4)));
  if (!good_crc) crc ^= 1;
  for (int s = 24; s >= 0; s -= 8) c += char((crc >> s) & 0xff);
  return c;
}

// A 28×28 grey PNG of a diagonal gradient, its IDAT made of `idat` (the zlib stream) and `extra` chunks before it.
std::string png(const std::function<std::string(const std::string&)>& idat, const std::string& extra = "") {
  std::string ihdr = {0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0};
  std::string raw;
  for (int y = 0; y < 28; ++y) {
    raw += '\0';
    for (int x = 0; x < 28; ++x) raw += char((x * 9 + y * 5) & 0xff);
  }
  std::string z(compressBound(uLong(raw.size())), '\0');
  uLongf zn = uLongf(z.size());
  compress(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()));
  z.resize(zn);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra + chunk("IDAT", idat(z)) +
         chunk("IEND", "");
}
std::string same(const std::string& z) { return z; }
std::string flipped(const std::string& z) {  // a damaged byte inside the stream, the chunk's CRC still right
  std::string d = z;
  d[d.size() - 2] = char(d[d.size() - 2] ^ 0x55);
  return d;
}

// What `f` writes to stderr (file descriptor 2, where libpng's default handlers write).
std::string stderr_of(const std::function<void()>& f) {
  std::fflush(stderr);
  const std::string path = (fs::temp_directory_path() / ("cnn_stderr_" + std::to_string(::getpid()))).string();
  const int saved = ::dup(2);
  FILE* sink = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(sink), 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(sink);
  const std::string text = read_all(path);
  fs::remove(path);
  return text;
}

struct CmdResult {
  int code;
  std::string out;
};
CmdResult cnn_cmd(const std::string& args) {
  FILE* p = popen((std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

const Shape kGrey{1, 1, 28, 28};

TEST(OneLine, ADamagedPngIsRefusedInTheProjectsWordsAndLibpngSaysNothing) {
  Scratch s;
  const std::string bad = s.put("bad.png", png(flipped));
  const std::string cut = s.put("cut.png", png(same).substr(0, 60));
  std::string e1, e2;
  const std::string said = stderr_of([&] {
    e1 = error_of([&] { load_image(bad, kGrey); });
    e2 = error_of([&] { load_image(cut, kGrey); });
  });
  EXPECT_EQ(said, "");
  EXPECT_EQ(e1, bad + ": not a readable image (a damaged PNG: libpng says \"IDAT: incorrect data check\")");
  EXPECT_EQ(e2, cut + ": not a readable image (a damaged PNG: libpng says \"the file ends early\")");
}

TEST(OneLine, AWarningAboutAnAncillaryChunkCostsThatChunkNotThePicture) {
  Scratch s;
  const std::string clean = s.put("clean.png", png(same));
  const std::string text = s.put("text.png", png(same, chunk("tEXt", std::string("Comment\0hello", 13), false)));
  Tensor a, b;
  const std::string said = stderr_of([&] {
    a = load_image(clean, kGrey);
    b = load_image(text, kGrey);
  });
  EXPECT_EQ(said, "");  // libpng's "tEXt: CRC error" warning is not printed
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(OneLine, APngWarningAboutTheImageDataRefusesThePicture) {
  // more rows of data than the header declares: libpng warns ("IDAT: Too much image data"), OpenCV would decode
  std::string raw;
  for (int y = 0; y < 40; ++y) raw += '\0' + std::string(28, '\x40');
  const auto longer = [&](const std::string&) {
    std::string z(compressBound(uLong(raw.size())), '\0');
    uLongf zn = uLongf(z.size());
    compress(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()));
    return z.substr(0, zn);
  };
  std::string why;
  std::string said = stderr_of([&] { EXPECT_TRUE(picture::decode_bytes(png(longer), 1, &why).empty()); });
  EXPECT_EQ(said, "");
  EXPECT_NE(why.find("a damaged PNG: libpng says \"IDAT:"), std::string::npos) << why;
}

TEST(OneLine, PredictOnADamagedPngPrintsOneLine) {
  Scratch s;
  const std::string bad = s.put("bad.png", png(flipped));
  const CmdResult r = cnn_cmd("predict --model " + std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn " + bad);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "cnn: error: " + bad + ": not a readable image (a damaged PNG: libpng says \"IDAT: incorrect data "
                   "check\")\n");
  const CmdResult ok = cnn_cmd("predict --model " + std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn " +
                         s.put("text.png", png(same, chunk("tEXt", std::string("a\0b", 3), false))));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out.find("libpng"), std::string::npos) << ok.out;
}

// Damaged ONNX files through the tool, as protobuf meets them: cut short, a length beyond the file, nesting deeper
// than protobuf's limit of 100, bytes that are no UTF-8 in a name. Each is one line of the project's and nothing of
// protobuf's ("[libprotobuf ERROR …]") or ONNX's around it.
TEST(OneLine, DamagedOnnxFilesArePlainOneLineRefusals) {
  Scratch s;
  const Model m = load_model(std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn");
  const std::string good = export_onnx_bytes(m.net);
  onnx::ModelProto deep;
  onnx::GraphProto* g = deep.mutable_graph();
  for (int i = 0; i < 150; ++i) {
    onnx::AttributeProto* a = g->add_node()->add_attribute();
    a->set_name("then_branch");
    a->set_type(onnx::AttributeProto::GRAPH);
    g = a->mutable_g();
  }
  std::string utf8 = good;
  utf8[utf8.find("Conv")] = char(0xff);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"short.onnx", good.substr(0, good.size() / 2)},
      {"length.onnx", std::string("\x3a\xff\xff\xff\xff\x0f", 6) + std::string(10, '\0')},
      {"deep.onnx", deep.SerializeAsString()},
      {"utf8.onnx", utf8}};
  for (const auto& [name, bytes] : files) {
    const CmdResult r = cnn_cmd("import " + s.put(name, bytes) + " --out " + (s / "m.cnn"));
    EXPECT_EQ(r.code, 1) << name << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << name << ": " << r.out;
    EXPECT_EQ(r.out.rfind("cnn: error: " + (s / name) + ": ", 0), 0u) << r.out;
    EXPECT_EQ(r.out.find("protobuf ERROR"), std::string::npos) << r.out;
  }
  // the byte that is no UTF-8 is shown escaped, the rest of the name as it is
  EXPECT_NE(cnn_cmd("import " + (s / "utf8.onnx") + " --out " + (s / "m.cnn")).out.find("\\xffonv"), std::string::npos);
}

// A description of one layer after a 1×4×4 input, as text.
std::string net_with(const std::string& layer) {
  return R"({"input": [1, 4, 4], "layers": [)" + layer + R"(, {"type": "dense", "units": 2}]})";
}
std::string net_error(const std::string& layer) {
  return error_of([&] { network_from_text(net_with(layer), "n.json"); });
}

TEST(NotANumber, NetDescriptionsRefuseWhatAFloatCannotHold) {
  EXPECT_EQ(net_error(R"({"type": "leaky_relu", "alpha": 1e39})"),
            "n.json: layer 0 (leaky_relu): field \"alpha\" = 1e+39 is beyond the range of a float (3.4e38)");
  EXPECT_EQ(net_error(R"({"type": "dropout", "rate": 1e-40})"),
            "n.json: layer 0 (dropout): field \"rate\" = 1e-40 is below the smallest normal float (1.2e-38); "
            "write 0 for zero");
  EXPECT_EQ(net_error(R"({"type": "batchnorm2d", "eps": -1e-320})"),
            "n.json: layer 0 (batchnorm2d): field \"eps\" = -1e-320 is below the smallest normal float (1.2e-38); "
            "write 0 for zero");
  EXPECT_EQ(net_error(R"({"type": "normalize", "mean": [0.5], "std": [1e300]})"),
            "n.json: layer 0 (normalize): field \"std\"[0] = 1e+300 is beyond the range of a float (3.4e38)");
  // 1e400 is no double: nlohmann refuses it while parsing; NaN and Infinity are no JSON at all
  EXPECT_EQ(net_error(R"({"type": "leaky_relu", "alpha": 1e400})"),
            "n.json: not valid JSON ([json.exception.out_of_range.406] number overflow parsing '1e400')");
  EXPECT_NE(net_error(R"({"type": "leaky_relu", "alpha": NaN})").find("n.json: not valid JSON"), std::string::npos);
  EXPECT_NE(net_error(R"({"type": "dropout", "rate": -Infinity})").find("n.json: not valid JSON"), std::string::npos);
  // a description built in code can hold them
  nlohmann::json j = nlohmann::json::parse(net_with(R"({"type": "leaky_relu", "alpha": 0.1})"));
  j["layers"][0]["alpha"] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_of([&] { network_from_json(j, "j"); }),
            "j: layer 0 (leaky_relu): field \"alpha\" = null is not a finite number");
  j["layers"][0]["alpha"] = 0.2;
  j["layers"][0]["lr"] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(error_of([&] { network_from_json(j, "j"); }),
            "j: layer 0 (leaky_relu): field \"lr\" must be a positive number");
  // zero, and ordinary small numbers, are numbers
  EXPECT_EQ(net_error(R"({"type": "leaky_relu", "alpha": 0})"), "(no error)");
  EXPECT_EQ(net_error(R"({"type": "batchnorm2d", "eps": 1e-30})"), "(no error)");
}

TEST(NotANumber, IntegersBeyondAnIntAreRefusedNotWrapped) {
  // 4294967302 is 2^32 + 6: read as an int it would have been a plausible 6
  EXPECT_EQ(net_error(R"({"type": "conv2d", "filters": 4294967302, "kernel": 3})"),
            "n.json: layer 0 (conv2d): field \"filters\" = 4294967302 is beyond the range of an int");
  EXPECT_NE(net_error(R"({"type": "conv2d", "filters": 2, "kernel": [3, 4294967299]})").find("\"kernel\" must be"),
            std::string::npos);
  EXPECT_EQ(error_of([] { network_from_text(R"({"input": [1, 4294967297, 4], "layers": [{"type": "relu"}]})", "n"); }),
            "n: field \"input\" must be [channels, height, width], three integers");
}

TEST(NotANumber, ApiBodiesRefuseOverflowsAndNamesAndTakeDenormalsAsZero) {
  using web = std::pair<int, std::string>;
  const auto refusal = [](const std::string& body) -> web {
    try {
      tool::web::parse_predict_body(body, Shape{1, 1, 1, 2}, 0);
    } catch (const tool::web::BadRequest& e) {
      return {e.status, e.what()};
    }
    return {0, ""};
  };
  EXPECT_EQ(refusal(R"({"image": [0.5, 1e400]})"),
            web(400, "the body is not valid JSON (number overflow parsing '1e400')"));
  EXPECT_EQ(refusal(R"({"image": [0.5, NaN]})").first, 400);
  EXPECT_EQ(refusal(R"({"image": [0.5, Infinity]})").first, 400);
  EXPECT_EQ(refusal(R"({"image": [0.5, 1e300]})"), web(422, "image[1] = 1e+300 is outside 0..1"));
  EXPECT_EQ(refusal(R"({"image": [-1e-310, 0.5]})"), web(422, "image[0] = -1e-310 is outside 0..1"));
  const tool::web::PredictBody p = tool::web::parse_predict_body(R"({"image": [1e-310, 1]})", Shape{1, 1, 1, 2}, 0);
  EXPECT_EQ(p.image[0], 0.0f);  // a denormal double is the darkest value, 0, as a float
  EXPECT_EQ(p.image[1], 1.0f);
}

// model_v1 exported to ONNX, with one value of its first float initializer replaced.
std::string onnx_with(float value) {
  const Model m = load_model(std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn");
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(export_onnx_bytes(m.net)));
  onnx::TensorProto* t = proto.mutable_graph()->mutable_initializer(0);
  if (t->has_raw_data()) {
    std::string raw = t->raw_data();
    std::memcpy(raw.data() + 4, &value, 4);
    t->set_raw_data(raw);
  } else {
    t->set_float_data(1, value);
  }
  return proto.SerializeAsString();
}

TEST(NotANumber, OnnxInitializersMustBeFiniteDenormalsAreKept) {
  const std::string nan = error_of([] { import_onnx_bytes(onnx_with(std::nanf("")), "m.onnx"); });
  EXPECT_NE(nan.find("m.onnx: "), std::string::npos) << nan;
  EXPECT_NE(nan.find(": value 1 is NaN (a constant of the graph must be a finite float32)"), std::string::npos) << nan;
  const std::string inf =
      error_of([] { import_onnx_bytes(onnx_with(-std::numeric_limits<float>::infinity()), "m.onnx"); });
  EXPECT_NE(inf.find(": value 1 is infinite (a constant of the graph must be a finite float32)"), std::string::npos)
      << inf;
  const float denormal = std::numeric_limits<float>::denorm_min() * 7;
  const OnnxImport kept = import_onnx_bytes(onnx_with(denormal), "m.onnx");
  EXPECT_NE(std::find(kept.net.params().begin(), kept.net.params().end(), denormal), kept.net.params().end());
}

// A model with a NaN weight predicts NaN for every picture, and argmax over NaNs is a silent class 0: such a model
// is never written (the file already there stays as it was), and a file holding one, checksum and all (another
// program wrote it), is refused with the layer named. Fails if either check is dropped.
TEST(NotANumber, ModelFilesNeverHoldANaNWeight) {
  Scratch s;
  const std::string good = (s.dir / "m.cnn").string();
  Model m = load_model(std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn");
  save_model(good, m.net, "m", m.class_names, nullptr);
  const std::string before = read_all(good);
  std::size_t last = m.net.size() - 1;  // the last layer with parameters
  while (m.net.param_count(last) == 0) --last;
  m.net.params()[m.net.param_offset(last) + 2] = std::nanf("");
  m.net.params()[m.net.param_offset(last) + 5] = std::numeric_limits<float>::infinity();
  const std::string saved = error_of([&] { save_model(good, m.net, "m", m.class_names, nullptr); });
  EXPECT_EQ(saved, good + ": cannot save: layer " + std::to_string(last + 1) + " (" + m.net.layer(last).kind() +
                       ") parameter 3 of " + std::to_string(m.net.param_count(last)) +
                       " is NaN, and 1 more value is not finite (the previous file is untouched)");
  EXPECT_EQ(read_all(good), before);

  // The same bytes as a good file, one weight made NaN and the checksum made right again.
  std::string bytes = before;
  std::uint32_t hlen;
  std::memcpy(&hlen, bytes.data() + 12, 4);
  const float nan = std::nanf("");
  std::memcpy(bytes.data() + 16 + hlen + 4 * 7, &nan, 4);
  const auto crc = std::uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  const std::string loaded = error_of([&] { parse_model(bytes, "n.cnn"); });
  EXPECT_EQ(loaded, "n.cnn: layer 1 (" + m.net.layer(0).kind() + ") parameter 8 of " +
                        std::to_string(m.net.param_count(0)) +
                        " is NaN: the model cannot predict (retrain it, or resume from an earlier file)");
}

// `cnn train … --out OUT` in a child process of its own (killed by the test, so not through a shell). `in_child`
// runs in the child before the tool starts; its stderr goes to `err`.
pid_t start_training(const std::string& out, int epochs, const std::function<void()>& in_child = {},
                     const std::string& err = "/dev/null", const char* threads = "1") {
  const std::string tool = std::string(CNN_BINARY_DIR) + "/cnn";
  const std::string data = std::string(CNN_BINARY_DIR) + "/data/mnist-digits";
  const std::string epochs_str = std::to_string(epochs);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    if (in_child) in_child();
    ::execl(tool.c_str(), "cnn", "train", "--net", "seed5", "--data", data.c_str(), "--train-limit", "200",
            "--test-limit", "50", "--batch", "20", "--epochs", epochs_str.c_str(), "--threads", threads, "--quiet",
            "--out", out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

std::vector<std::string> temporaries(const Scratch& s) {
  std::vector<std::string> t;
  for (const auto& e : fs::directory_iterator(s.dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) t.push_back(e.path().string());
  return t;
}

// kill -9 at a random moment of a run that saves after every epoch (every few milliseconds here): whatever the
// moment, the model file is absent (killed before the first save) or loads, and a killed save's temporary file is
// removed by the next run's first save.
TEST(CrashSafe, KillDashNineWhileTrainingAndSavingAlwaysLeavesAFileThatLoads) {
  Scratch s;
  const std::string out = s / "m.cnn";
  std::mt19937 rng(2026);
  int killed = 0, loaded = 0, left_temporaries = 0;
  for (int round = 0; round < 16; ++round) {
    const pid_t pid = start_training(out, 100000);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 1500)(rng)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (fs::exists(out)) {
      EXPECT_EQ(error_of([&] { load_model(out); }), "(no error)") << "round " << round;
      ++loaded;
    }
    left_temporaries += int(temporaries(s).size());
  }
  EXPECT_EQ(killed, 16);
  EXPECT_GE(loaded, 12) << "most kills come after the first save";
  // and one left for certain: the temporary file of a process that is gone (a kill mid-save is a matter of luck)
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  std::ofstream(out + ".tmp." + std::to_string(gone)) << "half a save";
  // a run to its end: its saves remove what the killed ones left, and what it leaves loads
  const pid_t pid = start_training(out, 2);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(load_model(out).training->epoch, 2);
  EXPECT_EQ(temporaries(s), std::vector<std::string>()) << left_temporaries << " seen after the kills";
}

// Two runs saving to the same --out at once: each writes its own temporary file and renames it over the target,
// so the file is always one run's whole save, never a mix.
TEST(CrashSafe, TwoRunsWritingTheSameOutNeverTearIt) {
  Scratch s;
  const std::string out = s / "m.cnn";
  const pid_t a = start_training(out, 40), b = start_training(out, 40);
  int checks = 0, status = 0;
  while (::waitpid(a, &status, WNOHANG) == 0) {
    if (fs::exists(out)) {
      EXPECT_EQ(error_of([&] { load_model(out); }), "(no error)");
      ++checks;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::waitpid(b, &status, 0);
  EXPECT_EQ(error_of([&] { load_model(out); }), "(no error)");
  EXPECT_GT(checks, 0);
}

// The status of a training run to its end, and its stderr.
std::pair<int, std::string> train_to_end(const Scratch& s, const std::string& out,
                                         const std::function<void()>& in_child) {
  const std::string err = s / "stderr.txt";
  int status = 0;
  ::waitpid(start_training(out, 1, in_child, err), &status, 0);
  return {status, read_all(err)};
}

// Under a low process limit (ulimit -u; a container's pids limit is the same to the tool) OpenBLAS cannot start its
// threads when it loads, before main: it used to print two lines of its own and kill the tool with SIGINT, before
// the tool's first word. Now the run starts, says in one line that it got fewer threads than asked for, trains on
// those and saves. The limit binds only a user other than root, so the child becomes nobody (which needs root).
TEST(OneLine, ALowProcessLimitCostsThreadsNotTheRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the tool as another user under a process limit";
  Scratch s;
  fs::permissions(s.dir, fs::perms::all);
  const std::string out = s / "m.cnn", err = s / "stderr.txt";
  int status = 0;
  const pid_t pid = start_training(
      out, 1,
      [] {
        // Under the sanitizers their reports go to stderr, which the test reads whole: a report fails it there too
        // (their log folder belongs to root, whom the child stops being). No leak check: LeakSanitizer's tracer is
        // a thread of its own, which a limit of one refuses.
        if (std::getenv("ASAN_OPTIONS")) ::setenv("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=0", 1);
        if (std::getenv("UBSAN_OPTIONS")) ::setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1", 1);
        if (std::getenv("TSAN_OPTIONS")) ::setenv("TSAN_OPTIONS", "halt_on_error=1", 1);
        const rlimit one{1, 1};
        if (::setgid(65534) != 0 || ::setuid(65534) != 0 || ::setrlimit(RLIMIT_NPROC, &one) != 0) ::_exit(126);
      },
      err, "2");
  ::waitpid(pid, &status, 0);
  const std::string said = read_all(err);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << ": " << said;
  EXPECT_EQ(said,
            "cnn: warning: the system started 1 of the 2 threads asked for (the process limit, ulimit -u, or a "
            "container's pids limit); going on with 1\n");
  EXPECT_EQ(error_of([&] { load_model(out); }), "(no error)");
}

// A save that cannot be written whole keeps the previous file, byte for byte, and says so in one line: with a limit
// on the size of the files the run writes (`ulimit -f`, below the model's size). The kernel sends a process that
// writes past the limit SIGXFSZ, which kills it; the tool ignores it, so the write fails as on a full disk (EFBIG
// rather than ENOSPC). Fails if the model is written in place (the previous file is then half overwritten), if the
// temporary file is left behind, or if the signal is not ignored (the run dies mid-save, without a word).
TEST(CrashSafe, AFileSizeLimitKeepsThePreviousFileWithOneLine) {
  Scratch s;
  const std::string out = s / "m.cnn";
  ASSERT_EQ(train_to_end(s, out, {}).first, 0);
  const std::string previous = read_all(out);
  ASSERT_GT(previous.size(), 8192u);
  const auto [status, err] = train_to_end(s, out, [&] {
    const rlimit r{previous.size() / 2, previous.size() / 2};
    ::setrlimit(RLIMIT_FSIZE, &r);
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("cnn: error: " + out + ": cannot save: File too large (the previous file is untouched)"),
            std::string::npos)
      << err;
  // the epoch whose save failed is not what the file holds: the line must not say it is
  EXPECT_EQ(err.find("holds the model after epoch"), std::string::npos) << err;
  EXPECT_EQ(read_all(out), previous);
  EXPECT_EQ(temporaries(s), std::vector<std::string>());
}

// The same on a disk that is full: a 256 KiB tmpfs holding the previous model and a file filling the rest. Mounting
// one needs root; elsewhere the file size limit above stands for it.
TEST(CrashSafe, AFullDiskKeepsThePreviousFileWithOneLine) {
  Scratch s;
  const std::string disk = s / "disk";
  fs::create_directories(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "): not root";
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{disk};
  const std::string first = s / "first.cnn";
  ASSERT_EQ(train_to_end(s, first, {}).first, 0);
  const std::string previous = read_all(first);
  const std::string out = disk + "/m.cnn";
  std::ofstream(out, std::ios::binary) << previous;
  ASSERT_EQ(read_all(out), previous);
  {
    const int fd = ::open((disk + "/filler").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    const std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    EXPECT_EQ(errno, ENOSPC);
    ::close(fd);
  }
  const auto [status, err] = train_to_end(s, out, {});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("cnn: error: " + out + ": cannot save: No space left on device (the previous file is untouched)"),
            std::string::npos)
      << err;
  EXPECT_EQ(read_all(out), previous);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(disk)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"filler", "m.cnn"}));
}

}  // namespace
}  // namespace cnn
