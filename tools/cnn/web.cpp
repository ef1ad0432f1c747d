// The web helpers both web verbs use, and the training monitor behind `cnn train --serve PORT`: the page
// /train.html draws the run's loss and accuracy from GET /api/training (everything so far) and
// GET /api/training/events (server-sent events, one per new batch point or epoch).
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "web.h"
#include "web_http.h"

#ifndef CNN_WEB_DIR
#define CNN_WEB_DIR "web"
#endif

namespace cnn::tool::web {

namespace fs = std::filesystem;

std::string web_root(const std::string& given) {
  std::string root = given;
  if (root.empty()) {
    const char* env = std::getenv("CNN_WEB_DIR");
    root = env && *env ? env : CNN_WEB_DIR;
  }
  if (given.empty() && !std::getenv("CNN_WEB_DIR")) {  // an installed tool: PREFIX/bin/cnn, PREFIX/share/cnn/web
    std::error_code ec;
    const fs::path installed = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "share/cnn/web";
    if (!ec && fs::is_regular_file(installed / "public" / "index.html")) root = installed.string();
  }
  if (!fs::is_regular_file(fs::path(root) / "public" / "index.html"))
    throw Error(root + ": not the page's folder (no public/index.html); pass --web DIR or set CNN_WEB_DIR");
  if (!fs::is_regular_file(fs::path(root) / "node_modules" / "uplot" / "dist" / "uPlot.iife.min.js"))
    throw Error(
        root +
        "/node_modules/uplot: the page's npm packages are not installed (run scripts/setup.sh, or npm install in " +
        root + ")");
  return root;
}

void mount_page(httplib::Server& server, const std::string& root) {
  server.set_mount_point("/", (fs::path(root) / "public").string());
  server.set_mount_point("/vendor/uplot", (fs::path(root) / "node_modules" / "uplot" / "dist").string());
  server.set_file_extension_and_mimetype_mapping("mjs", "text/javascript");
}

void send_json(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}}, status);
}

void json_errors(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already explained itself
    std::string why = res.status == 404   ? "no such path: " + req.path
                      : res.status == 413 ? "the request body is too large"
                      : res.status == 400 ? "bad request"
                                          : "error " + std::to_string(res.status);
    send_error(res, res.status, why);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string why = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    send_error(res, 500, why);
  });
}

int bind(httplib::Server& server, const std::string& host, int port) {
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    throw Error(host + ":" + std::to_string(port) +
                ": cannot listen there (in use, or not an address of this machine)");
  return bound;
}

// ---- TrainMonitor ----------------------------------------------------------------------------------------

struct TrainMonitor::Impl {
  httplib::Server server;
  std::thread thread;
  std::string host;
  int port = 0;
  nlohmann::json run;

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> events;  // each one JSON object, in order
  bool done = false, stopping = false;
  std::chrono::steady_clock::time_point last_point{};

  void push(const nlohmann::json& e) {
    {
      std::lock_guard lock(mutex);
      events.push_back(e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    changed.notify_all();
  }
};

TrainMonitor::TrainMonitor(const std::string& host, int port, const std::string& run_description_json)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.host = host;
  m.run = nlohmann::json::parse(run_description_json);
  const std::string root = web_root();
  mount_page(m.server, root);
  json_errors(m.server);
  m.server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/train.html"); });
  m.server.Get("/api/training", [&m](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(m.mutex);
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : m.events) events.push_back(nlohmann::json::parse(e));
    send_json(res, {{"run", m.run}, {"events", events}, {"done", m.done}});
  });
  m.server.Get("/api/training/events", [&m](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto next = std::make_shared<std::size_t>(0);
    // Every connection starts with the run's description and replays the events so far, so a page opened (or
    // reconnected) late draws the whole run.
    res.set_chunked_content_provider("text/event-stream", [&m, next, sent_run = std::make_shared<bool>(false)](
                                                              std::size_t, httplib::DataSink& sink) {
      if (!*sent_run) {
        const std::string hello = "event: run\ndata: " + m.run.dump() + "\n\n";
        if (!sink.write(hello.data(), hello.size())) return false;
        *sent_run = true;
      }
      std::unique_lock lock(m.mutex);
      m.changed.wait_for(lock, std::chrono::seconds(1),
                         [&] { return m.events.size() > *next || m.stopping || m.done; });
      if (m.stopping) return false;
      std::string out;
      for (; *next < m.events.size(); ++*next) out += "data: " + m.events[*next] + "\n\n";
      const bool finished = m.done && *next == m.events.size();
      lock.unlock();
      if (out.empty()) out = ": still training\n\n";  // a comment: keeps proxies awake, notices a closed page
      if (!sink.write(out.data(), out.size())) return false;
      if (finished) sink.done();
      return true;
    });
  });
  m.port = bind(m.server, host, port);
  m.thread = std::thread([&m] { m.server.listen_after_bind(); });
}

TrainMonitor::~TrainMonitor() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mutex);
    m.done = true;
  }
  m.changed.notify_all();
  // A moment for open pages to receive the last events before the server goes away.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::lock_guard lock(m.mutex);
    m.stopping = true;
  }
  m.changed.notify_all();
  m.server.stop();
  if (m.thread.joinable()) m.thread.join();
}

int TrainMonitor::port() const { return impl_->port; }
std::string TrainMonitor::url() const {
  return "http://" + impl_->host + ":" + std::to_string(impl_->port) + "/train.html";
}

void TrainMonitor::batch(const BatchReport& b) {
  Impl& m = *impl_;
  const auto now = std::chrono::steady_clock::now();
  if (b.batch != b.batches && b.batch != 1 && now - m.last_point < std::chrono::milliseconds(50)) return;
  m.last_point = now;
  m.push({{"type", "batch"},
          {"epoch", b.epoch},
          {"batch", b.batch},
          {"batches", b.batches},
          {"x", double(b.epoch - 1) + double(b.batch) / double(b.batches)},
          {"running_loss", b.running_loss},
          {"images_per_second", b.images_per_second}});
}

void TrainMonitor::epoch(const EpochReport& r) {
  impl_->push({{"type", "epoch"},
               {"epoch", r.epoch},
               {"train_loss", r.train_loss},
               {"test_loss", r.test.loss},
               {"test_accuracy", r.test.accuracy},
               {"seconds", r.seconds},
               {"images_per_second", r.images_per_second}});
}

void TrainMonitor::finish(const std::string& outcome) {
  impl_->push({{"type", "done"}, {"outcome", outcome}});
  {
    std::lock_guard lock(impl_->mutex);
    impl_->done = true;
  }
  impl_->changed.notify_all();
}

}  // namespace cnn::tool::web
