// The web helpers both web verbs use, and the training monitor behind `cnn train --serve PORT`: the page
// /train.html draws the run's loss and accuracy from GET /api/training (everything so far) and
// GET /api/training/events (server-sent events, one per new batch point or epoch).
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
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

// ---- Server ----------------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a connection that waits for bytes looks up: to notice the server stopping, or a newcomer asking for
// an idle connection's place.
constexpr milliseconds kSlice{50};
// Room for a request's line and headers, and for the chunk lines of a chunked body, beside the body itself.
constexpr std::size_t kHeadRoom = 64 << 10;

const char* reason(int status) {
  return status == 408 ? "Request Timeout" : status == 413 ? "Payload Too Large" : "Service Unavailable";
}

}  // namespace

// One connection as httplib reads its requests and writes its answers. The buffer lives as long as the connection
// (httplib's own stream is made anew for each request, losing what a client sent ahead). A read waits no longer
// than the request has left (kRequestSeconds, kReadSeconds); past that, or past the bytes a request may have, the
// connection answers 408 or 413 itself and fails every read and write after it, so httplib drops the request and
// the connection is closed.
class Connection final : public httplib::Stream {
 public:
  Connection(int sock, const std::atomic<socket_t>& listening, std::size_t max_body)
      : sock_(sock), listening_(listening), max_body_(max_body) {}
  using httplib::Stream::write;

  // Called when a request's first byte has arrived. A body over the limit is still read (httplib drains it, so
  // that the client, which is sending it, reads the 413), up to twice the limit.
  void start_request() {
    start_ = last_byte_ = Clock::now();
    received_ = 0;
    limit_ = 2 * max_body_ + kHeadRoom;
  }
  // A chunked body, on which httplib checks no limit: its bytes are counted here instead.
  void limit_chunked_body() { limit_ = std::min(limit_, received_ + max_body_ + kHeadRoom); }
  void close_after_answer() { close_ = true; }
  bool buffered() const { return at_ < end_; }
  bool over() const { return failed_ || close_; }
  // poll() for input, at most `ms`.
  int wait_readable(int ms) const { return poll_for(POLLIN, ms); }

  bool is_readable() const override { return !failed_ && (buffered() || poll_for(POLLIN, 0) > 0); }
  bool is_writable() const override {
    if (failed_ || poll_for(POLLOUT, 0) <= 0) return false;
    if (poll_for(POLLIN, 0) <= 0) return true;
    char b;
    return ::recv(sock_, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 0;  // 0: the client has gone
  }
  ssize_t read(char* ptr, std::size_t size) override {
    if (failed_) return -1;
    if (!buffered()) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    const std::size_t n = std::min(size, end_ - at_);
    std::memcpy(ptr, buf_ + at_, n);
    at_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    while (!failed_) {
      const int ready = poll_for(POLLOUT, kWriteSeconds * 1000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      const ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) break;
    }
    failed_ = true;
    return -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return sock_; }

  // Answers `status` with {"error": why} and ends the connection: for what httplib cannot answer itself.
  void refuse(int status, const std::string& why) {
    const std::string body = nlohmann::json{{"error", why}}.dump();
    const std::string answer =
        "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
        "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n" +
        (status == 503 ? "Retry-After: 1\r\n" : "") + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
        body;
    for (std::size_t done = 0; done < answer.size();) {
      const ssize_t n = write(answer.data() + done, answer.size() - done);
      if (n <= 0) break;
      done += std::size_t(n);
    }
    failed_ = true;
  }

  // Sends what is left, then closes. What the client sent that was not read is read first: closing a socket with
  // unread bytes resets the connection, and the client may lose the answer it has not read yet.
  void close() {
    ::shutdown(sock_, SHUT_WR);
    char sink[4096];
    while (::recv(sock_, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    ::close(sock_);
  }

 private:
  int poll_for(short events, int ms) const {
    pollfd p{sock_, events, 0};
    return ::poll(&p, 1, ms);
  }

  // Reads what has arrived into the buffer: its byte count, 0 when the client has closed the connection, -1 when
  // the request has run out of time or bytes (then answered 408 or 413) or the server is stopping.
  ssize_t fill() {
    while (listening_ != INVALID_SOCKET) {
      const auto now = Clock::now();
      const auto allowed =
          std::chrono::seconds(kRequestSeconds) + milliseconds(received_ * 1000 / kRequestBytesPerSecond);
      const auto deadline = std::min(start_ + allowed, last_byte_ + std::chrono::seconds(kReadSeconds));
      if (now >= deadline) {
        refuse(408, "the request took too long to arrive: a request has " + std::to_string(kRequestSeconds) +
                        " s from its first byte, one more for every " + std::to_string(kRequestBytesPerSecond >> 10) +
                        " KiB, and no pause of " + std::to_string(kReadSeconds) + " s");
        return -1;
      }
      const auto wait = std::min<Clock::duration>(kSlice, deadline - now);
      const int ready = poll_for(POLLIN, int(std::chrono::ceil<milliseconds>(wait).count()));
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      if (ready < 0) break;
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) {  // closed by the client, or broken
        failed_ = true;
        return n < 0 ? -1 : 0;
      }
      received_ += std::size_t(n);
      last_byte_ = Clock::now();
      if (received_ > limit_) {
        refuse(413, "the request is too large: a body may have " + std::to_string(max_body_) + " bytes");
        return -1;
      }
      at_ = 0;
      end_ = std::size_t(n);
      return n;
    }
    failed_ = true;
    return -1;
  }

  void address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    if ((remote ? ::getpeername(sock_, sa, &len) : ::getsockname(sock_, sa, &len)) != 0) return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (::getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) return;
    ip = host;
    port = std::atoi(serv);
  }

  int sock_;
  const std::atomic<socket_t>& listening_;
  std::size_t max_body_;
  Clock::time_point start_{}, last_byte_{};
  std::size_t received_ = 0, limit_ = 0;
  bool failed_ = false, close_ = false;
  char buf_[16 << 10];
  std::size_t at_ = 0, end_ = 0;
};

namespace {

// The connection the calling thread serves: httplib's handlers see the request, not the connection.
thread_local Connection* current = nullptr;
// When the request the calling thread serves began to arrive, for the request log.
thread_local std::chrono::steady_clock::time_point request_began{};

}  // namespace

Server::Server() {
  new_task_queue = [] { return new httplib::ThreadPool(std::size_t(kMaxConnections + kSpareThreads)); };
  // What httplib writes in its Keep-Alive header and applies as socket options; Connection enforces them.
  set_read_timeout(kReadSeconds);
  set_write_timeout(kWriteSeconds);
  set_keep_alive_timeout(kKeepAliveSeconds);
  set_keep_alive_max_count(kKeepAliveRequests);
  set_payload_max_length(kDefaultMaxBody);
  set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    if (current && req.has_header("Transfer-Encoding")) current->limit_chunked_body();
    return HandlerResponse::Unhandled;
  });
  // `curl --data-binary @big` asks before sending a large body: a body over the limit is refused before it is sent,
  // and the connection closed, since the client may send it anyway.
  set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty() || std::strtoull(length.c_str(), nullptr, 10) <= payload_max_length_) return 100;
    res.status = 413;
    res.set_header("Connection", "close");
    if (current) current->close_after_answer();
    return 413;
  });
}

int Server::bind(const std::string& host, int port) {
  const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    throw Error(host + ":" + std::to_string(port) +
                ": cannot listen there (in use, or not an address of this machine)");
  ::listen(svr_sock_, kListenBacklog);  // listening again sets the backlog httplib chose
  return bound;
}

// A place for a new connection: a free one, else one an idle connection hands over (it closes to make room),
// waited for a moment; false when every place is in a request.
bool Server::admit() {
  std::unique_lock lock(mutex_);
  const auto take = [this] {
    if (handed_ > 0) {
      --handed_;
      return true;
    }
    if (busy_ >= kMaxConnections) return false;
    ++busy_;
    return true;
  };
  if (take()) return true;
  if (idle_ == 0) return false;
  ++wanted_;
  const bool got = freed_.wait_for(lock, 4 * kSlice, take);
  --wanted_;
  return got;
}

void Server::release(bool yielded) {
  {
    std::lock_guard lock(mutex_);
    if (yielded) {  // the place goes to the newcomer that asked for it, not to whoever comes first
      --yielding_;
      ++handed_;
    } else {
      --busy_;
    }
  }
  freed_.notify_all();
}

// Waits for the next request's first byte; false when the connection is to close instead: the client closed it or
// was idle for kKeepAliveSeconds, the server is stopping, or a newcomer needs the place (`yielded`). A connection
// idle for less than kSlice keeps its place: its request may be on its way.
bool Server::wait_for_request(Connection& c, bool& yielded) {
  if (c.buffered()) return true;
  std::unique_lock lock(mutex_);
  ++idle_;
  const auto since = Clock::now(), until = since + std::chrono::seconds(kKeepAliveSeconds);
  bool ready = false;
  while (svr_sock_ != INVALID_SOCKET) {
    const auto now = Clock::now();
    if (wanted_ > yielding_ + handed_ && now - since >= kSlice) {
      ++yielding_;
      yielded = true;
      break;
    }
    if (now >= until) break;
    lock.unlock();
    const int r =
        c.wait_readable(int(std::chrono::ceil<milliseconds>(std::min<Clock::duration>(kSlice, until - now)).count()));
    const int error = errno;
    lock.lock();
    if (r > 0 || (r < 0 && error != EINTR)) {
      ready = r > 0;
      break;
    }
  }
  --idle_;
  return ready;
}

bool Server::process_and_close_socket(socket_t sock) {
  // httplib's parser was built with select(), which cannot watch a descriptor from FD_SETSIZE on: it answers 500.
  if (sock >= FD_SETSIZE) {
    const int low = ::fcntl(sock, F_DUPFD, 0);
    if (low >= 0 && low < FD_SETSIZE) {
      ::close(sock);
      sock = low;
    } else if (low >= 0) {
      ::close(low);
    }
  }
  // httplib writes an answer's headers and its body apart: with Nagle's algorithm the body waits for the client
  // to acknowledge the headers, which a client delays (40 ms on Linux), on every answer.
  const int yes = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  Connection c(sock, svr_sock_, payload_max_length_);
  bool ok = false;
  if (sock >= FD_SETSIZE || !admit()) {
    c.refuse(503, "the server is busy: " + std::to_string(kMaxConnections) +
                      " connections are being served at once; try again in a moment");
  } else {
    current = &c;
    bool yielded = false;
    for (std::size_t n = 0; n < kKeepAliveRequests && wait_for_request(c, yielded); ++n) {
      c.start_request();
      request_began = std::chrono::steady_clock::now();
      bool closed = false;
      ok = process_request(c, n + 1 == kKeepAliveRequests, closed, nullptr);
      if (!ok || closed || c.over()) break;
    }
    current = nullptr;
    release(yielded);
  }
  c.close();
  return ok;
}

void Server::log_requests() {
  set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - request_began).count();
    std::ostringstream line;
    line << req.method << " " << req.path << " " << res.status << " " << us << " µs\n";
    // One write per line, so that lines of requests answered at once never interleave.
    static std::mutex mutex;
    const std::string text = line.str();
    std::lock_guard lock(mutex);
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  });
}

int bind(Server& server, const std::string& host, int port) { return server.bind(host, port); }

// ---- TrainMonitor ----------------------------------------------------------------------------------------

struct TrainMonitor::Impl {
  Server server;
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
