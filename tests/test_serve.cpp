// `cnn serve` and its JSON API as a client sees them: a real server process on a free loopback port, a model
// trained for the test, good requests answered, bad ones (malformed JSON, wrong image size, oversized bodies,
// unknown paths, wrong methods) answered with a 4xx and a JSON error — and the server still serving afterwards.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A child process running `cnn ARGS…`, its stdout read line by line until a line holds "http://HOST:PORT/".
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string exe = std::string(CNN_BINARY_DIR) + "/cnn";
      std::vector<char*> argv{const_cast<char*>(exe.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, out_)) {
      output_ += line;
      const std::string s = line;
      const auto at = s.find("http://127.0.0.1:");
      if (at != std::string::npos) {
        port_ = std::stoi(s.substr(at + 17));
        break;
      }
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (out_) std::fclose(out_);
  }
  int port() const { return port_; }
  const std::string& output() const { return output_; }
  bool alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int port_ = 0;
  std::string output_;
};

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
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cnn
