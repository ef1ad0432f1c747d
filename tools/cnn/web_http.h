// The httplib side of the web verbs: the server and the limits it holds to, the page's files, JSON answers and
// errors, binding to a port. Only the files that run a server include this (httplib is a large header).
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace cnn::tool::web {

// What one client, slow, idle or hostile, may take from the others. httplib alone gives each connection one thread
// of a fixed pool (8 on a small machine) for as long as the client keeps it, and times out only a read that waits
// for a byte: eight clients sending one byte a second, or a browser's few idle connections, stop the server for
// everyone.
//
// Connections served at once, each on a thread of its own. Beyond them a newcomer takes the place of an idle
// connection (one waiting for its next request), else it is answered 503 at once: refused, never left hanging.
inline constexpr int kMaxConnections = 64;
// Threads beyond those: the ones that hand an idle connection's place to a newcomer or answer 503, so that
// answering "no" never waits behind the connections being served.
inline constexpr int kSpareThreads = 8;
// A request (its line, headers and body) must arrive within kRequestSeconds of its first byte, plus a second for
// every kRequestBytesPerSecond of it: a phone uploading a photo over a slow link gets the time it needs, a client
// dribbling a byte a second is answered 408 and dropped. No byte for kReadSeconds is 408 too.
inline constexpr int kRequestSeconds = 5;
inline constexpr std::size_t kRequestBytesPerSecond = 16 << 10;
inline constexpr int kReadSeconds = 5;
// An answer the client does not read for this long is abandoned (a server-sent event stream included).
inline constexpr int kWriteSeconds = 5;
// An idle keep-alive connection is closed after this, or at once when a newcomer needs its place.
inline constexpr int kKeepAliveSeconds = 5;
// Requests on one connection before it is closed: enough that a page's clients never reconnect for it.
inline constexpr std::size_t kKeepAliveRequests = 1000;
// Connections the kernel holds before they are accepted: httplib's 5 drops a burst of connections, whose clients
// then wait a second or more to try again.
inline constexpr int kListenBacklog = 1024;
// A body's default limit (a verb that takes bodies raises it with set_payload_max_length); a larger one is 413.
inline constexpr std::size_t kDefaultMaxBody = 64 << 10;

class Connection;

// httplib's server with those limits. Every connection is read and written through web.cpp's Connection, which
// enforces them; httplib still parses the requests and routes them to the handlers.
class Server : public httplib::Server {
 public:
  Server();
  // Binds host:port (0: any free port) and returns the port; throws cnn::Error naming the address.
  int bind(const std::string& host, int port);
  // One line on stderr for every answer: method, path, status and the microseconds from the request's first byte
  // to its answer written, as an access log does (cnn serve, unless --quiet).
  void log_requests();

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool admit();
  void release(bool yielded);
  bool wait_for_request(Connection& c, bool& yielded);

  std::mutex mutex_;
  std::condition_variable freed_;
  int busy_ = 0;      // places taken: connections being served, idle ones included, and places handed over
  int idle_ = 0;      // connections waiting for their next request
  int wanted_ = 0;    // newcomers waiting for an idle connection's place
  int yielding_ = 0;  // idle connections closing to hand their place over
  int handed_ = 0;    // places handed over, not yet taken
};

// Serves root/public at "/" and the npm packages the page uses from root/node_modules at "/vendor/…"
// (uPlot at /vendor/uplot/), read from disk at run time.
void mount_page(httplib::Server& server, const std::string& root);
// Every error answer gets a JSON body {"error": "..."} (httplib's own 404/413/… come without one), and an exception
// in a handler becomes a 500 while the server keeps serving.
void json_errors(httplib::Server& server);
void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
void send_error(httplib::Response& res, int status, const std::string& message);
// server.bind(host, port).
int bind(Server& server, const std::string& host, int port);

}  // namespace cnn::tool::web
