// `cnn serve` and its JSON API as a client sees them: a real server process on a free loopback port, a model
// trained for the test, good requests answered, bad ones (malformed JSON, wrong image size, oversized bodies,
// unknown paths, wrong methods) answered with a 4xx and a JSON error — and the server still serving afterwards.
// A colour model too: photos uploaded as files and fitted as `cnn predict` fits them, the strip of test images
// (--data) with their true labels, and uploads that are too big, no picture, or of an absurd size.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "serve_process.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::ServerProcess;

// One small trained model per test process (about two seconds of training on Fashion-MNIST).
const std::string& trained_model() {
  static const std::string path = [] {
    const fs::path dir = fs::temp_directory_path() / ("cnn_serve_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string p = (dir / "model.cnn").string();
    const std::string cmd = std::string(CNN_BINARY_DIR) +
                            "/cnn train --epochs 1 --train-limit 3000 --test-limit 500 --quiet --out " + p +
                            " > /dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("could not train the test model: " + cmd);
    return p;
  }();
  return path;
}

std::string image_body(std::size_t n, double value = 0.0) {
  json img = json::array();
  for (std::size_t i = 0; i < n; ++i) img.push_back(value);
  return json{{"image", img}}.dump();
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<ServerProcess>(std::vector<std::string>{"serve", "--model", trained_model(), "--port", "0"});
    ASSERT_GT(server_->port(), 0) << server_->output();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(20, 0);
  }
  void expect_still_serving() {
    auto r = client_->Get("/api/model");
    ASSERT_TRUE(r) << "the server stopped answering";
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(server_->alive());
  }
  // A 4xx with a JSON body {"error": "..."}.
  void expect_client_error(const httplib::Result& r, int status, const std::string& what) {
    ASSERT_TRUE(r) << what << ": no answer";
    EXPECT_EQ(r->status, status) << what << ": " << r->body;
    const json body = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << what << ": " << r->body;
    EXPECT_TRUE(body.contains("error") && body["error"].is_string() && !body["error"].get<std::string>().empty())
        << what;
  }
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(Serve, DescribesTheModel) {
  auto r = client_->Get("/api/model");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json m = json::parse(r->body);
  EXPECT_EQ(m["input"], json({1, 28, 28}));
  EXPECT_EQ(m["classes"].size(), 10u);
  ASSERT_EQ(m["layers"].size(), 7u);  // seed5
  EXPECT_EQ(m["layers"][0]["kind"], "conv2d");
  EXPECT_EQ(m["layers"][0]["output"], json({6, 24, 24}));
  EXPECT_EQ(m["epochs_trained"], 1);

  auto k = client_->Get("/api/kernels");
  ASSERT_TRUE(k);
  const json kj = json::parse(k->body);
  ASSERT_EQ(kj["layers"].size(), 2u);
  EXPECT_EQ(kj["layers"][0]["shape"], json({6, 1, 5, 5}));
  EXPECT_EQ(kj["layers"][0]["weights"].size(), 150u);
  EXPECT_EQ(kj["layers"][0]["rgb"], false);  // a grey net's kernels are weight grids

  // Without --data there is no strip, and asking for a sample says how to get one.
  auto samples = client_->Get("/api/samples");
  ASSERT_TRUE(samples);
  EXPECT_EQ(json::parse(samples->body)["count"], 0);
  auto sample = client_->Post("/api/predict", R"({"sample": 0})", "application/json");
  expect_client_error(sample, 422, "a sample without --data");
  EXPECT_NE(sample->body.find("--data"), std::string::npos) << sample->body;
}

TEST_F(Serve, PredictsClassesWithProbabilitiesAndMaps) {
  auto r = client_->Post("/api/predict", image_body(784, 0.25), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json p = json::parse(r->body);
  ASSERT_EQ(p["classes"].size(), 10u);
  double sum = 0, previous = 2;
  for (const auto& c : p["classes"]) {
    const double prob = c["probability"].get<double>();
    EXPECT_LE(prob, previous);  // most likely first
    previous = prob;
    sum += prob;
  }
  EXPECT_NEAR(sum, 1.0, 1e-4);
  EXPECT_EQ(p["predicted"], p["classes"][0]["index"]);
  ASSERT_EQ(p["maps"].size(), 7u);
  EXPECT_EQ(p["maps"][0]["shape"], json({6, 24, 24}));
  EXPECT_EQ(p["maps"][0]["data"].size(), 6u * 24 * 24);
  // "maps": false leaves them out.
  auto q = client_->Post("/api/predict",
                         R"({"maps": false, "image": )" + json::parse(image_body(784, 0.25))["image"].dump() + "}",
                         "application/json");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 200);
  EXPECT_FALSE(json::parse(q->body).contains("maps"));
}

TEST_F(Serve, AnswersBadRequestsWithA4xxAndKeepsServing) {
  expect_client_error(client_->Post("/api/predict", "{\"image\": [0, 0", "application/json"), 400, "truncated JSON");
  expect_client_error(client_->Post("/api/predict", "not json at all", "text/plain"), 400, "not JSON");
  expect_client_error(client_->Post("/api/predict", "", "application/json"), 400, "empty body");
  expect_client_error(client_->Post("/api/predict", "[1, 2, 3]", "application/json"), 422, "an array, not an object");
  expect_client_error(client_->Post("/api/predict", "{\"picture\": []}", "application/json"), 422, "no image");
  expect_client_error(client_->Post("/api/predict", image_body(783), "application/json"), 422, "783 numbers");
  expect_client_error(client_->Post("/api/predict", image_body(785), "application/json"), 422, "785 numbers");
  expect_client_error(client_->Post("/api/predict", image_body(784, 1.5), "application/json"), 422, "values above 1");
  expect_client_error(client_->Post("/api/predict", R"({"image": "abc"})", "application/json"), 422, "a string image");
  json strings{{"image", json::array()}};
  for (int i = 0; i < 784; ++i) strings["image"].push_back("x");
  expect_client_error(client_->Post("/api/predict", strings.dump(), "application/json"), 422, "strings in the image");
  expect_still_serving();
  // Oversized: more than the server's 4 MiB limit.
  expect_client_error(client_->Post("/api/predict", std::string(5 << 20, '1'), "application/json"), 413,
                      "a 5 MiB body");
  expect_still_serving();
  expect_client_error(client_->Get("/no/such/page"), 404, "unknown path");
  expect_client_error(client_->Get("/api/nothing"), 404, "unknown API path");
  expect_client_error(client_->Get("/api/predict"), 405, "GET on predict");
  expect_client_error(client_->Post("/api/model", "{}", "application/json"), 405, "POST on model");
  // And after all that, a good request still works.
  auto r = client_->Post("/api/predict", image_body(784, 0.5), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_still_serving();
}

TEST_F(Serve, ServesThePageAndItsNpmAssets) {
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<canvas id=\"pad\""), std::string::npos);
  auto uplot = client_->Get("/vendor/uplot/uPlot.iife.min.js");
  ASSERT_TRUE(uplot);
  EXPECT_EQ(uplot->status, 200);
  EXPECT_GT(uplot->body.size(), 10000u);
}

// ---- a colour model -----------------------------------------------------------------------------------------

// A CIFAR-10-format folder from Fashion-MNIST's real pictures, coloured (R the picture on a 32×32 canvas, G its
// negative, B a third of it), and a small colour net (normalize, conv, pool, dense) trained on it through the CLI.
struct ColourModel {
  std::string data, model;
  DataSplit split;  // the folder as the library reads it
};
struct RemoveAtExit {
  fs::path dir;
  ~RemoveAtExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
const ColourModel& colour_model() {
  static const ColourModel m =
      [] {
        const fs::path dir = fs::temp_directory_path() / ("cnn_serve_colour_" + std::to_string(::getpid()));
        const fs::path bin = dir / "cifar-10-batches-bin";
        fs::create_directories(bin);
        const DataSplit fashion = load_mnist_folder(default_data_dir());
        auto write = [&](const Dataset& from, std::size_t first, std::size_t n, const fs::path& file) {
          std::string out;
          for (std::size_t i = first; i < first + n; ++i) {
            out += char(from.labels[i]);
            for (int c = 0; c < 3; ++c)
              for (int y = 0; y < 32; ++y)
                for (int x = 0; x < 32; ++x) {
                  const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                  const int p = inside ? from.images[i * 784 + std::size_t((y - 2) * 28 + x - 2)] : 0;
                  out += char(c == 0 ? p : c == 1 ? 255 - p : p / 3);
                }
          }
          std::ofstream(file, std::ios::binary) << out;
        };
        for (int b = 0; b < 5; ++b)
          write(fashion.train, std::size_t(b) * 40, 40, bin / ("data_batch_" + std::to_string(b + 1) + ".bin"));
        write(fashion.test, 0, 60, bin / "test_batch.bin");
        std::ofstream(dir / "colour.json")
            << R"({"input": [3, 32, 32], "loss": "softmax_cross_entropy", "layers": [{"type": "normalize"},
              {"type": "conv2d", "filters": 4, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
              {"type": "dense", "units": 10}]})";
        static const RemoveAtExit cleanup{dir};
        ColourModel r{bin.string(), (dir / "colour.cnn").string(), load_cifar10_folder(bin.string())};
        const std::string cmd = std::string(CNN_BINARY_DIR) + "/cnn train --net " + (dir / "colour.json").string() +
                                " --data " + r.data + " --epochs 1 --batch 20 --lr 0.01 --quiet --out " + r.model +
                                " > /dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("could not train the colour test model: " + cmd);
        return r;
      }();
  return m;
}

// A 48×24 colour photo (a red, green and blue band over grey) as PNG bytes; its path in `path`.
std::string colour_photo(const std::string& path) {
  cv::Mat photo(24, 48, CV_8UC3, cv::Scalar(128, 128, 128));
  photo(cv::Rect(0, 4, 16, 16)).setTo(cv::Scalar(0, 0, 255));  // BGR
  photo(cv::Rect(16, 4, 16, 16)).setTo(cv::Scalar(0, 255, 0));
  photo(cv::Rect(32, 4, 16, 16)).setTo(cv::Scalar(255, 0, 0));
  if (!cv::imwrite(path, photo)) throw std::runtime_error("cannot write " + path);
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// The image as numpy's tolist() writes it: H rows of W (or C planes of them) answer as the flat list does; a nested
// list of the wrong shape, or ragged, gets a 422 naming the shape the model takes.
TEST_F(Serve, TakesANestedImageAndRefusesTheWrongShapeInOneLine) {
  json rows = json::array(), flat = json::array();
  for (int y = 0; y < 28; ++y) {
    json row = json::array();
    for (int x = 0; x < 28; ++x) {
      const double v = (x > 8 && x < 20 && y > 4) ? 0.9 : 0.0;  // a pair of trousers, roughly
      row.push_back(v);
      flat.push_back(v);
    }
    rows.push_back(row);
  }
  auto nested = client_->Post("/api/predict", json{{"image", rows}, {"maps", false}}.dump(), "application/json");
  auto flat_answer = client_->Post("/api/predict", json{{"image", flat}, {"maps", false}}.dump(), "application/json");
  auto planes =
      client_->Post("/api/predict", json{{"image", json::array({rows})}, {"maps", false}}.dump(), "application/json");
  ASSERT_TRUE(nested && flat_answer && planes);
  ASSERT_EQ(nested->status, 200) << nested->body;
  ASSERT_EQ(planes->status, 200) << planes->body;
  EXPECT_EQ(json::parse(nested->body), json::parse(flat_answer->body));
  EXPECT_EQ(json::parse(planes->body), json::parse(flat_answer->body));

  json short_rows = rows;
  short_rows.erase(short_rows.size() - 1);
  auto wrong = client_->Post("/api/predict", json{{"image", short_rows}}.dump(), "application/json");
  expect_client_error(wrong, 422, "27 rows");
  EXPECT_NE(wrong->body.find("27x28"), std::string::npos) << wrong->body;
  EXPECT_NE(wrong->body.find("takes 28x28"), std::string::npos) << wrong->body;
  json ragged = rows;
  ragged[5].erase(ragged[5].size() - 1);
  auto r = client_->Post("/api/predict", json{{"image", ragged}}.dump(), "application/json");
  expect_client_error(r, 422, "a ragged image");
  EXPECT_NE(r->body.find("[5]"), std::string::npos) << r->body;
  expect_still_serving();
}

// A picture file posted to /api/predict, as its bytes or as a form's file, is read as /api/predict/image reads it.
TEST_F(Serve, TakesAPictureUploadAtApiPredictToo) {
  cv::Mat picture(40, 40, CV_8UC1, cv::Scalar(255));
  cv::rectangle(picture, cv::Rect(14, 4, 12, 32), cv::Scalar(0), cv::FILLED);  // dark on white: inverted
  std::vector<uchar> png, jpeg;
  ASSERT_TRUE(cv::imencode(".png", picture, png));
  ASSERT_TRUE(cv::imencode(".jpg", picture, jpeg));
  for (const auto* bytes : {&png, &jpeg}) {
    const std::string body(bytes->begin(), bytes->end());
    const std::string type = bytes == &png ? "image/png" : "image/jpeg";
    auto image = client_->Post("/api/predict/image?maps=false", body, type);
    ASSERT_TRUE(image);
    ASSERT_EQ(image->status, 200) << image->body;
    const json expected = json::parse(image->body);
    EXPECT_EQ(expected["inverted"], true);
    auto raw = client_->Post("/api/predict?maps=false", body, type);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->status, 200) << type << ": " << raw->body;
    EXPECT_EQ(json::parse(raw->body), expected) << type;
    // curl --data-binary @photo.png sends its own form type: the bytes still say what they are.
    auto untyped = client_->Post("/api/predict?maps=false", body, "application/x-www-form-urlencoded");
    ASSERT_TRUE(untyped);
    EXPECT_EQ(untyped->status, 200) << untyped->body;
    httplib::MultipartFormDataItems form{{"file", body, "photo", type}};
    auto multipart = client_->Post("/api/predict?maps=false", form);
    ASSERT_TRUE(multipart);
    ASSERT_EQ(multipart->status, 200) << multipart->body;
    EXPECT_EQ(json::parse(multipart->body), expected) << type;
  }
  auto text = client_->Post("/api/predict", "these are my notes", "image/png");
  expect_client_error(text, 415, "notes sent as a PNG");
  httplib::MultipartFormDataItems no_file{{"note", "hello", "", ""}};
  expect_client_error(client_->Post("/api/predict", no_file), 400, "a form without a file");
  expect_still_serving();
}

// The page's "training run" link under cnn serve: what it reads says there is no training run here.
TEST_F(Serve, SaysThereIsNoTrainingRunHere) {
  for (const char* path : {"/api/training", "/api/training/events"}) {
    auto r = client_->Get(path);
    expect_client_error(r, 404, path);
    EXPECT_NE(r->body.find("no training run here"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("--serve"), std::string::npos) << r->body;
  }
  auto page = client_->Get("/train.js");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("/api/training\")"), std::string::npos) << "the page no longer asks /api/training first";
}

// stderr of a `cnn serve` started with `args`, as a file that grows while it runs.
struct LoggedServer {
  fs::path log;
  std::unique_ptr<ServerProcess> server;
  explicit LoggedServer(const std::vector<std::string>& args) {
    log = fs::temp_directory_path() / ("cnn_serve_log_" + std::to_string(::getpid()) + "_" +
                                       std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    // The child inherits stderr when it is started: pointed at the file for that moment only.
    std::fflush(stderr);
    const int saved = ::dup(STDERR_FILENO), file = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(file, STDERR_FILENO);
    server = std::make_unique<ServerProcess>(args);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(file);
  }
  ~LoggedServer() {
    server.reset();
    fs::remove(log);
  }
  std::string text() const {
    std::ifstream f(log);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
};

TEST(ServeCommand, LogsOneLinePerRequestUnlessQuiet) {
  LoggedServer logged({"serve", "--model", trained_model(), "--port", "0"});
  ASSERT_GT(logged.server->port(), 0) << logged.server->output();
  httplib::Client client("127.0.0.1", logged.server->port());
  ASSERT_TRUE(client.Get("/api/model"));
  ASSERT_TRUE(client.Post("/api/predict?maps=false", image_body(784), "application/json"));
  ASSERT_TRUE(client.Post("/api/predict", image_body(783), "application/json"));
  ASSERT_TRUE(client.Get("/no/such/page"));
  std::vector<std::string> lines;
  for (int tries = 0; tries < 50 && lines.size() < 4; ++tries) {  // the last line may land a moment after its answer
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::istringstream in(logged.text());
    lines.clear();
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 4u) << logged.text();
  // Requests on connections of their own are logged as they end, not necessarily in the order they were sent.
  std::vector<std::string> seen;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string method, path, status, unit;
    long long us = -1;
    words >> method >> path >> status >> us >> unit;
    EXPECT_GE(us, 0) << line;
    EXPECT_LT(us, 10'000'000) << line;
    EXPECT_EQ(unit, "µs") << line;
    seen.push_back(method + " " + path + " " + status);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"GET /api/model 200", "GET /no/such/page 404", "POST /api/predict 200",
                                            "POST /api/predict 422"}));

  LoggedServer quiet({"serve", "--model", trained_model(), "--port", "0", "--quiet"});
  ASSERT_GT(quiet.server->port(), 0) << quiet.server->output();
  httplib::Client q("127.0.0.1", quiet.server->port());
  ASSERT_TRUE(q.Get("/api/model"));
  ASSERT_TRUE(q.Get("/api/model"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(quiet.text(), "");
}

class ServeColour : public Serve {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "serve", "--model", colour_model().model, "--data", colour_model().data, "--samples", "20", "--port", "0"});
    ASSERT_GT(server_->port(), 0) << server_->output();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(20, 0);
  }
};

TEST_F(ServeColour, TheStripHoldsEveryClassWithItsTestImagesBytesAndLabels) {
  const json m = json::parse(client_->Get("/api/model")->body);
  EXPECT_EQ(m["input"], json({3, 32, 32}));
  EXPECT_EQ(m["samples"], 20);
  EXPECT_EQ(m["fit"], "pad");
  const json k = json::parse(client_->Get("/api/kernels")->body);
  ASSERT_EQ(k["layers"].size(), 1u);
  EXPECT_EQ(k["layers"][0]["layer"], 1);  // after the normalize layer: it still looks at R, G and B
  EXPECT_EQ(k["layers"][0]["rgb"], true);

  auto r = client_->Get("/api/samples");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json s = json::parse(r->body);
  EXPECT_EQ(s["shape"], json({3, 32, 32}));
  ASSERT_EQ(s["count"], 20);
  ASSERT_EQ(s["samples"].size(), 20u);
  const Dataset& test = colour_model().split.test;
  std::set<int> first_round;
  for (std::size_t k2 = 0; k2 < 20; ++k2) {
    const json& x = s["samples"][k2];
    const std::size_t i = x["test_index"];
    EXPECT_EQ(x["index"], k2);
    EXPECT_EQ(x["label"], int(test.labels[i]));
    EXPECT_EQ(x["name"], cifar10_class_names()[test.labels[i]]);  // no batches.meta.txt: the standard names
    ASSERT_EQ(x["pixels"].size(), 3072u);
    EXPECT_TRUE(std::equal(test.images.begin() + std::ptrdiff_t(i * 3072),
                           test.images.begin() + std::ptrdiff_t((i + 1) * 3072), x["pixels"].begin(),
                           [](std::uint8_t a, const json& b) { return int(a) == b.get<int>(); }))
        << "sample " << k2;
    if (k2 < 10) first_round.insert(x["label"].get<int>());
  }
  EXPECT_EQ(first_round.size(), 10u) << "the first ten samples are one of each class";

  // A sample's answer is the model's on that test image, and names its true label.
  const int pick = 7;
  auto p = client_->Post("/api/predict", json{{"sample", pick}}.dump(), "application/json");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, 200) << p->body;
  const json a = json::parse(p->body);
  EXPECT_EQ(a["sample"]["label"], s["samples"][pick]["label"]);
  EXPECT_EQ(a["sample"]["name"], s["samples"][pick]["name"]);
  EXPECT_EQ(a["sample"]["correct"], a["predicted"] == s["samples"][pick]["label"]);
  EXPECT_EQ(a["input"]["shape"], json({3, 32, 32}));
  json image = json::array();
  for (const auto& v : s["samples"][pick]["pixels"]) image.push_back(v.get<int>() / 255.0);
  const json b = json::parse(client_->Post("/api/predict", json{{"image", image}}.dump(), "application/json")->body);
  ASSERT_EQ(a["classes"].size(), 10u);
  for (std::size_t c = 0; c < 10; ++c) {
    EXPECT_EQ(a["classes"][c]["index"], b["classes"][c]["index"]);
    EXPECT_NEAR(a["classes"][c]["probability"].get<double>(), b["classes"][c]["probability"].get<double>(), 1e-5);
  }
}

TEST_F(ServeColour, APhotoIsFittedAsCnnPredictFitsIt) {
  const std::string path = (fs::temp_directory_path() / ("cnn_serve_photo_" + std::to_string(::getpid()) + ".png"));
  const std::string bytes = colour_photo(path);
  const Tensor want = load_image(path, {1, 3, 32, 32}, Invert::automatic, nullptr, Fit::pad);
  for (const bool form : {false, true}) {
    httplib::Result r = form ? client_->Post("/api/predict/image",
                                             httplib::MultipartFormDataItems{{"file", bytes, "photo.png", "image/png"}})
                             : client_->Post("/api/predict/image", bytes, "image/png");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json a = json::parse(r->body);
    EXPECT_EQ(a["classes"].size(), 10u);
    EXPECT_EQ(a["fit"], "pad");
    EXPECT_EQ(a["inverted"], false);
    ASSERT_EQ(a["maps"].size(), 5u);
    EXPECT_EQ(a["maps"][1]["shape"], json({4, 28, 28}));
    ASSERT_EQ(a["input"]["data"].size(), want.size());
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::fabs(a["input"]["data"][i].get<double>() - want[i]));
    EXPECT_LT(worst, 1e-3) << (form ? "as a form" : "as the body");  // the answer rounds to 4 digits
  }
  // The red band lands at the left of the padded picture's middle rows: red in R, nothing in G and B.
  EXPECT_GT(want.at(0, 0, 16, 4), 0.9f);
  EXPECT_LT(want.at(0, 1, 16, 4), 0.1f);
  EXPECT_EQ(want.at(0, 0, 0, 0), 0.0f);  // pad's border
  auto q = client_->Post("/api/predict/image?maps=false", bytes, "image/png");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 200);
  EXPECT_FALSE(json::parse(q->body).contains("maps"));
  fs::remove(path);
}

TEST_F(ServeColour, BadUploadsGetA4xxWithOneLineAndTheServerKeepsServing) {
  const std::string path = (fs::temp_directory_path() / ("cnn_serve_bad_" + std::to_string(::getpid()) + ".png"));
  const std::string png = colour_photo(path);
  fs::remove(path);
  auto one_line = [&](const httplib::Result& r, int status, const std::string& what, const std::string& says) {
    expect_client_error(r, status, what);
    if (!r) return;
    const std::string e = json::parse(r->body)["error"];
    EXPECT_EQ(e.find('\n'), std::string::npos) << what << ": " << e;
    EXPECT_NE(e.find(says), std::string::npos) << what << ": " << e;
  };
  one_line(client_->Post("/api/predict/image", "", "image/png"), 400, "an empty body", "empty");
  one_line(client_->Post("/api/predict/image", "these are my notes", "image/png"), 415, "text", "not a picture");
  one_line(client_->Post("/api/predict/image", png.substr(0, 60), "image/png"), 415, "a truncated PNG",
           "not a picture");
  std::string huge = png;  // the same PNG, its header claiming 100000×100000 pixels
  for (const std::size_t at : {16u, 20u}) {
    const std::uint32_t v = 100000;
    for (int b = 0; b < 4; ++b) huge[at + std::size_t(b)] = char(v >> (24 - 8 * b) & 0xff);
  }
  one_line(client_->Post("/api/predict/image", huge, "image/png"), 422, "a 10-gigapixel header", "100000x100000");
  one_line(client_->Post("/api/predict/image", std::string(5 << 20, 'x'), "image/png"), 413, "a 5 MiB body",
           "too large");
  expect_still_serving();
  one_line(client_->Post("/api/predict", R"({"sample": 20})", "application/json"), 422, "sample 20 of 20", "0..19");
  one_line(client_->Post("/api/predict", R"({"sample": "first"})", "application/json"), 422, "a string sample",
           "0..19");
  one_line(client_->Post("/api/predict", image_body(1000), "application/json"), 422, "1000 numbers", "3x1024 = 3072");
  expect_client_error(client_->Get("/api/predict/image"), 405, "GET on the upload");
  expect_client_error(client_->Post("/api/samples", "{}", "application/json"), 405, "POST on samples");
  auto r = client_->Post("/api/predict/image", png, "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  expect_still_serving();
}

TEST(ServeCommand, RefusesAPortInUseWithOneLine) {
  // A plain listening socket (no SO_REUSEPORT, unlike httplib's own), so nobody else may bind the port.
  const int blocker = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(blocker, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(blocker, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  // `timeout`: should the bind wrongly succeed, the test fails instead of serving forever.
  const std::string cmd = "timeout 20 " + std::string(CNN_BINARY_DIR) + "/cnn serve --model " + trained_model() +
                          " --port " + std::to_string(port) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[1024];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  ::close(blocker);
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_NE(out.find("cnn: error: 127.0.0.1:" + std::to_string(port)), std::string::npos) << out;
}

TEST(TrainServe, StreamsBatchesAndEpochsAsServerSentEvents) {
  const fs::path dir = fs::temp_directory_path() / ("cnn_train_serve_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // the run's folder goes after the run: it is still saving when the stream shows the epoch
  struct RemoveAfter {
    fs::path dir;
    ~RemoveAfter() { fs::remove_all(dir); }
  } remove_after{dir};
  ServerProcess train({"train", "--epochs", "2", "--train-limit", "2000", "--test-limit", "200", "--threads", "1",
                       "--quiet", "--serve", "0", "--out", (dir / "m.cnn").string()});
  ASSERT_GT(train.port(), 0) << train.output();
  httplib::Client c("127.0.0.1", train.port());
  c.set_read_timeout(60, 0);
  std::string stream;
  bool saw_epoch = false;
  auto r = c.Get("/api/training/events", [&](const char* data, std::size_t n) {
    stream.append(data, n);
    saw_epoch = stream.find("\"type\":\"epoch\"") != std::string::npos;
    return !saw_epoch;  // stop reading once an epoch has been reported
  });
  EXPECT_NE(stream.find("event: run"), std::string::npos) << stream.substr(0, 500);
  EXPECT_NE(stream.find("\"type\":\"batch\""), std::string::npos) << stream.substr(0, 500);
  EXPECT_TRUE(saw_epoch) << stream.substr(0, 500);
}

}  // namespace
}  // namespace cnn
