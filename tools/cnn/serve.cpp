// cnn serve: a web page where you draw and watch the model think — the top classes, every layer's feature maps and
// the kernels, live as you draw — and the small JSON API it uses (documented in web/API.md, usable with curl).
// Binds to loopback unless told otherwise: the model is yours, the page is for you.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <mutex>
#include <numeric>

#include "cnn/show.h"
#include "common.h"
#include "web.h"
#include "web_http.h"

namespace cnn::tool {
namespace {

// A 28×28 image is ~10 KB of JSON; a 224×224 colour one ~1.5 MB. Anything far beyond is not a drawing.
constexpr std::size_t kMaxBody = 4 << 20;

struct ServeArgs {
  std::string model, host = "127.0.0.1", web;
  int port = 8080;
};

nlohmann::json shape_json(const Shape& s) { return {s.c, s.h, s.w}; }

// Values rounded to 4 significant digits: the page draws them as colours, and it keeps the answer small.
nlohmann::json rounded(const float* v, std::size_t n) {
  nlohmann::json a = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const float x = std::isfinite(v[i]) ? v[i] : 0.0f;
    a.push_back(x == 0.0f ? 0.0 : std::stod(fixed(x, std::max(0, 3 - int(std::floor(std::log10(std::fabs(x))))))));
  }
  return a;
}

class ModelService {
 public:
  explicit ModelService(Model m) : m_(std::move(m)) {
    K_ = int(m_.net.output_shape().sample_size());
    names_ = class_names_for(m_.class_names, K_);
  }

  nlohmann::json describe() const {
    nlohmann::json layers = nlohmann::json::array();
    for (std::size_t i = 0; i < m_.net.size(); ++i) {
      const Layer& l = m_.net.layer(i);
      layers.push_back({{"index", i},
                        {"kind", l.kind()},
                        {"summary", l.summary()},
                        {"output", shape_json(l.output_shape())},
                        {"parameters", m_.net.param_count(i)}});
    }
    return {{"name", m_.name},
            {"input", shape_json(m_.net.input_shape())},
            {"classes", names_},
            {"loss", m_.net.loss().kind()},
            {"parameters", m_.net.params().size()},
            {"epochs_trained", m_.training ? m_.training->epoch : 0},
            {"layers", layers}};
  }

  nlohmann::json kernels() const {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < m_.net.size(); ++i) {
      const auto* conv = dynamic_cast<const Conv2D*>(&m_.net.layer(i));
      if (!conv) continue;
      const Tensor w = conv->weight();
      float scale = 0;
      for (std::size_t k = 0; k < w.size(); ++k) scale = std::max(scale, std::fabs(w[k]));
      out.push_back({{"layer", i},
                     {"summary", conv->summary()},
                     {"shape", {w.shape().n, w.shape().c, w.shape().h, w.shape().w}},
                     {"scale", scale},
                     {"weights", rounded(w.data(), w.size())}});
    }
    return {{"layers", out}};
  }

  // Throws std::invalid_argument with a message for the client on a bad request.
  nlohmann::json predict(const nlohmann::json& body) {
    if (!body.is_object()) throw std::invalid_argument("the body must be a JSON object {\"image\": [...]}");
    if (!body.contains("image") || !body["image"].is_array())
      throw std::invalid_argument("\"image\" must be an array of numbers in 0..1");
    const Shape in = m_.net.input_shape();
    const std::size_t plane = std::size_t(in.h) * in.w, n = body["image"].size();
    if (n != plane && n != in.sample_size())
      throw std::invalid_argument("\"image\" has " + std::to_string(n) + " numbers; this model takes " +
                                  std::to_string(in.h) + "x" + std::to_string(in.w) + " = " + std::to_string(plane) +
                                  " (row-major, 0..1)");
    bool want_maps = true;
    if (body.contains("maps")) {
      if (!body["maps"].is_boolean()) throw std::invalid_argument("\"maps\" must be true or false");
      want_maps = body["maps"].get<bool>();
    }
    Tensor x(in.with_batch(1));
    for (std::size_t i = 0; i < n; ++i) {
      const auto& v = body["image"][i];
      if (!v.is_number()) throw std::invalid_argument("image[" + std::to_string(i) + "] is not a number");
      const double d = v.get<double>();
      if (!(d >= 0.0 && d <= 1.0))
        throw std::invalid_argument("image[" + std::to_string(i) + "] = " + v.dump() + " is outside 0..1");
      x[i] = float(d);
    }
    for (std::size_t c = n / plane; c < std::size_t(in.c); ++c)  // one grey plane for a colour net: every channel
      std::copy(x.data(), x.data() + plane, x.data() + c * plane);

    std::lock_guard lock(mutex_);  // one network, its workspaces shared: one forward pass at a time
    Tensor probs;
    m_.net.loss().probabilities(m_.net.forward(x), probs);
    std::vector<int> order(static_cast<std::size_t>(K_));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return probs[std::size_t(a)] > probs[std::size_t(b)]; });
    nlohmann::json classes = nlohmann::json::array();
    for (int k : order)
      classes.push_back({{"index", k}, {"name", names_[std::size_t(k)]}, {"probability", probs[std::size_t(k)]}});
    nlohmann::json answer{{"classes", classes}, {"predicted", order.front()}};
    if (want_maps) {
      nlohmann::json maps = nlohmann::json::array();
      for (std::size_t i = 0; i < m_.net.size(); ++i) {
        const Tensor& a = m_.net.activation(i);
        const auto [lo, hi] = std::minmax_element(a.data(), a.data() + a.size());
        maps.push_back({{"layer", i},
                        {"kind", m_.net.layer(i).kind()},
                        {"shape", shape_json(a.shape())},
                        {"min", *lo},
                        {"max", *hi},
                        {"data", rounded(a.data(), a.size())}});
      }
      answer["maps"] = maps;
    }
    return answer;
  }

  const std::string& name() const { return m_.name; }

 private:
  Model m_;
  int K_ = 0;
  std::vector<std::string> names_;
  std::mutex mutex_;
};

void run(const ServeArgs& a) {
  set_threads(1);  // requests run in parallel threads already; each forward pass is small
  auto service = std::make_shared<ModelService>(load_model(a.model));
  const std::string root = web::web_root(a.web);
  httplib::Server server;
  server.set_payload_max_length(kMaxBody);
  web::mount_page(server, root);
  web::json_errors(server);

  const nlohmann::json model_json = service->describe(), kernels_json = service->kernels();
  server.Get("/api/model",
             [model_json](const httplib::Request&, httplib::Response& res) { web::send_json(res, model_json); });
  server.Get("/api/kernels",
             [kernels_json](const httplib::Request&, httplib::Response& res) { web::send_json(res, kernels_json); });
  server.Post("/api/predict", [service](const httplib::Request& req, httplib::Response& res) {
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return web::send_error(res, 400, "the body is not valid JSON");
    try {
      web::send_json(res, service->predict(body));
    } catch (const std::invalid_argument& e) {
      web::send_error(res, 422, e.what());
    }
  });
  for (const char* path : {"/api/predict", "/api/model", "/api/kernels"}) {  // the wrong verb on a known path
    const bool post = std::string(path) == "/api/predict";
    auto wrong = [post](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", post ? "POST" : "GET");
      web::send_error(res, 405, req.method + " " + req.path + ": use " + (post ? "POST" : "GET"));
    };
    if (post)
      server.Get(path, wrong);
    else
      server.Post(path, wrong);
  }

  const int port = web::bind(server, a.host, a.port);
  std::cout
      << "cnn serve: " << a.model << " (" << service->name() << ") at http://" << a.host << ":" << port << "/\n"
      << "  draw a digit or a piece of clothing on the page; API: GET /api/model, GET /api/kernels, POST /api/predict"
         " (web/API.md)\n";
  if (a.host != "127.0.0.1" && a.host != "localhost" && a.host != "::1")
    std::cout << "  note: listening on " << a.host << ", so other machines may reach it\n";
  std::cout << std::flush;
  if (!server.listen_after_bind()) throw Error("serving on " + a.host + ":" + std::to_string(port) + " stopped");
}

void add(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = app.add_subcommand(
      "serve", "A web page to draw on and watch the model's classes, feature maps and kernels live, and its JSON API");
  c->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  c->add_option("--host", a->host, "Address to listen on (loopback unless you say otherwise)")->capture_default_str();
  c->add_option("--port", a->port, "Port (0: any free port, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  c->add_option("--web", a->web,
                "Folder with the page (public/) and its npm packages (default: the source tree's web/)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("serve", add);

}  // namespace
}  // namespace cnn::tool
