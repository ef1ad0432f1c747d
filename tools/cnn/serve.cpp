// cnn serve: a web page where you draw (or, for a colour model, drop a photo) and watch the model think — the top
// classes, every layer's feature maps and the kernels — and the small JSON API it uses (documented in web/API.md,
// usable with curl). With --data, a strip of the data set's test images to click, each with its true label.
// Binds to loopback unless told otherwise: the model is yours, the page is for you.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <numeric>
#include <optional>

#include "cnn/show.h"
#include "common.h"
#include "web.h"
#include "web_body.h"
#include "web_http.h"

namespace cnn::tool {
namespace {

// A 28×28 image is ~10 KB of JSON; a 224×224 colour one ~1.5 MB; a phone's JPEG 2–4 MB. Anything far beyond is
// not one picture.
constexpr std::size_t kMaxBody = 4 << 20;
// A picture decodes to 12 bytes a pixel on its way to the input (RGB floats): 4096×4096 is 200 MB. A PNG of a few
// kilobytes can declare far more, so the size is checked in its header, before anything is decoded.
constexpr std::uint64_t kMaxSide = 4096, kMaxPixels = kMaxSide * kMaxSide;

struct ServeArgs {
  std::string model, host = "127.0.0.1", web, data;
  int port = 8080;
  std::size_t samples = 48;
  bool quiet = false;
};

// A request whose body is a picture file rather than JSON: a form's file, an image/* type, or the bytes of a PNG,
// JPEG, GIF or BMP whatever the type says (curl --data-binary sends its own form type).
bool is_picture_upload(const httplib::Request& req) {
  if (req.is_multipart_form_data() || req.get_header_value("Content-Type").starts_with("image/")) return true;
  const std::string& b = req.body;
  return b.starts_with("\x89PNG") || b.starts_with("\xFF\xD8\xFF") || b.starts_with("GIF8") ||
         (b.starts_with("BM") && b.size() >= 26);
}

using web::BadRequest;

// The test images the page shows as a strip: up to `n`, taking each class's first images in turn (class 0's
// first, class 1's first, …, then the second of each), so every class shows however the file is ordered.
std::vector<std::size_t> strip_indices(const Dataset& test, std::size_t n) {
  std::vector<std::vector<std::size_t>> by_class(std::size_t(std::max(test.classes, 1)));
  for (std::size_t i = 0; i < test.count(); ++i)
    if (by_class[test.labels[i]].size() < n) by_class[test.labels[i]].push_back(i);
  std::vector<std::size_t> picked;
  for (std::size_t round = 0; picked.size() < n; ++round) {
    bool any = false;
    for (const auto& c : by_class)
      if (round < c.size() && picked.size() < n) {
        picked.push_back(c[round]);
        any = true;
      }
    if (!any) break;
  }
  return picked;
}

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
  // `test`: the data set's test images for the strip (none when the server has no --data).
  ModelService(Model m, const Dataset* test, std::size_t strip_size) : m_(std::move(m)) {
    K_ = int(m_.net.output_shape().sample_size());
    names_ = class_names_for(m_.class_names.empty() && test ? test->class_names : m_.class_names, K_);
    fit_ = default_fit(m_.net.input_fit(), m_.net.input_shape(), names_);  // as cnn predict fits pictures
    if (test) {
      check_data_fits(m_.net, *test);
      strip_source_ = test->name;
      for (const std::size_t i : strip_indices(*test, strip_size)) {
        strip_.push_back({i, test->labels[i]});
        const auto* px = test->images.data() + i * test->sample.sample_size();
        strip_pixels_.insert(strip_pixels_.end(), px, px + test->sample.sample_size());
      }
    }
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
            {"fit", fit_name(fit_)},
            {"samples", strip_.size()},
            {"classes", names_},
            {"loss", m_.net.loss().kind()},
            {"parameters", m_.net.params().size()},
            {"epochs_trained", m_.training ? m_.training->epoch : 0},
            {"layers", layers}};
  }

  nlohmann::json kernels() const {
    nlohmann::json out = nlohmann::json::array();
    const int colour_layer = show::colour_kernel_layer(m_.net);
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
                     {"rgb", int(i) == colour_layer},
                     {"weights", rounded(w.data(), w.size())}});
    }
    return {{"layers", out}};
  }

  // The test images of the strip, their labels and their pixels (bytes, c·h·w each, the data set's layout).
  nlohmann::json samples() const {
    const Shape in = m_.net.input_shape();
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t k = 0; k < strip_.size(); ++k) {
      const auto* px = strip_pixels_.data() + k * in.sample_size();
      list.push_back({{"index", k},
                      {"test_index", strip_[k].test_index},
                      {"label", strip_[k].label},
                      {"name", names_[std::size_t(strip_[k].label)]},
                      {"pixels", std::vector<int>(px, px + in.sample_size())}});
    }
    return {{"source", strip_source_}, {"shape", shape_json(in)}, {"count", strip_.size()}, {"samples", list}};
  }

  // The answer to POST /api/predict; throws BadRequest with a message for the client on a bad request.
  nlohmann::json predict(const std::string& text) {
    web::PredictBody p = web::parse_predict_body(text, m_.net.input_shape(), strip_.size());
    return p.sample ? predict_sample(*p.sample, p.maps) : classify(p.image, p.maps);
  }

  // A picture file's bytes (PNG, JPEG, …), fitted to the input exactly as `cnn predict` fits it (the same default
  // fit, or `fit` when given; the same inversion rule), because it is the same function on the same bytes.
  nlohmann::json predict_picture(const std::string& bytes, bool want_maps, std::optional<Fit> fit = std::nullopt) {
    if (bytes.empty()) throw BadRequest(400, "the body is empty: send the bytes of a picture (PNG, JPEG, BMP, …)");
    const auto [w, h] = web::declared_size(bytes);
    if (w * h > kMaxPixels || w > 65535 || h > 65535)
      throw BadRequest(422, "the picture is " + std::to_string(w) + "x" + std::to_string(h) + " pixels; at most " +
                                std::to_string(kMaxPixels / 1000000) + " megapixels (" + std::to_string(kMaxSide) +
                                "x" + std::to_string(kMaxSide) + ") are read");
    const Shape in = m_.net.input_shape();
    if (in.c != 1 && in.c != 3)
      throw BadRequest(422, "this model takes " + std::to_string(in.c) + " channels; pictures give 1 or 3");
    // load_image reads files: the upload becomes one, private to this request, removed whatever happens.
    std::string path = (std::filesystem::temp_directory_path() / "cnn-serve-upload-XXXXXX").string();
    const int fd = ::mkstemp(path.data());
    if (fd < 0) throw Error("cannot create a temporary file for an upload in " + path);
    struct Remove {
      const std::string& file;
      ~Remove() {
        std::error_code ec;
        std::filesystem::remove(file, ec);
      }
    } remove{path};
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += std::size_t(n);
    }
    ::close(fd);
    if (done != bytes.size()) throw Error(path + ": cannot write the upload (disk full?)");
    PictureNotes notes;
    Tensor x;
    try {
      x = load_picture(path, in, Invert::automatic, fit.value_or(fit_), &notes);
    } catch (const Error&) {
      throw BadRequest(415, "the body is not a picture that can be read (PNG, JPEG, BMP, GIF, TIFF, WebP, …); " +
                                std::to_string(bytes.size()) + " bytes starting " + printable_start(bytes));
    }
    nlohmann::json a = classify(x, want_maps);
    a["fit"] = fit_name(fit.value_or(fit_));
    a["inverted"] = notes.inverted;
    if (notes.uniform) a["warning"] = "the picture is blank or of one tone; its answer means nothing";
    return a;
  }

  const std::string& name() const { return m_.name; }
  std::size_t strip_size() const { return strip_.size(); }

 private:
  nlohmann::json predict_sample(std::size_t k, bool want_maps) {
    const Shape in = m_.net.input_shape();
    Tensor x(in.with_batch(1));
    constexpr float inv255 = 1.0f / 255.0f;  // as Dataset::batch scales them, so the answer is eval's
    for (std::size_t i = 0; i < in.sample_size(); ++i) x[i] = float(strip_pixels_[k * in.sample_size() + i]) * inv255;
    nlohmann::json a = classify(x, want_maps);
    a["sample"] = {{"index", k},
                   {"test_index", strip_[k].test_index},
                   {"label", strip_[k].label},
                   {"name", names_[std::size_t(strip_[k].label)]},
                   {"correct", a["predicted"] == strip_[k].label}};
    return a;
  }

  static std::string printable_start(const std::string& b) {
    std::string s;
    for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 12); ++i) {
      const unsigned char c = static_cast<unsigned char>(b[i]);
      if (c >= 32 && c < 127 && c != '"' && c != '\\') {
        s += char(c);
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        s += hex;
      }
    }
    return "\"" + s + "\"";
  }

  // The classes (most likely first) and, when asked, every layer's output and the input itself.
  nlohmann::json classify(const Tensor& x, bool want_maps) {
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
      answer["input"] = {{"shape", shape_json(x.shape())}, {"data", rounded(x.data(), x.size())}};
    }
    return answer;
  }

  struct StripEntry {
    std::size_t test_index;
    int label;
  };
  Model m_;
  int K_ = 0;
  Fit fit_ = Fit::pad;
  std::vector<std::string> names_;
  std::string strip_source_;
  std::vector<StripEntry> strip_;
  std::vector<std::uint8_t> strip_pixels_;  // strip_.size() × c·h·w
  std::mutex mutex_;
};

void run(const ServeArgs& a) {
  set_threads(1);  // requests run in parallel threads already; each forward pass is small
  Model model = load_model(a.model);
  std::optional<DataSplit> data;
  if (!a.data.empty()) {  // a folder of pictures is fitted as an uploaded photo is: the model's fit, else pad
    DataOptions picture_options;
    picture_options.fit = model.net.input_fit().empty() ? "pad" : model.net.input_fit();
    data = load_data(a.data, 1, 0, picture_options, model.net.input_shape());
  }
  auto service = std::make_shared<ModelService>(std::move(model), data ? &data->test : nullptr, a.samples);
  data.reset();  // the strip keeps its own copy of its few images
  const std::string root = web::web_root(a.web);
  web::Server server;
  server.set_payload_max_length(kMaxBody);
  if (!a.quiet) server.log_requests();
  web::mount_page(server, root);
  web::json_errors(server);

  const nlohmann::json model_json = service->describe(), kernels_json = service->kernels();
  server.Get("/api/model",
             [model_json](const httplib::Request&, httplib::Response& res) { web::send_json(res, model_json); });
  server.Get("/api/kernels",
             [kernels_json](const httplib::Request&, httplib::Response& res) { web::send_json(res, kernels_json); });
  const nlohmann::json samples_json = service->samples();
  server.Get("/api/samples",
             [samples_json](const httplib::Request&, httplib::Response& res) { web::send_json(res, samples_json); });
  // A picture upload, at /api/predict/image and at /api/predict alike: the picture's bytes as the body (what the
  // page and `curl --data-binary @photo.jpg` send), or the first file of a form (`curl -F file=@photo.jpg`).
  auto picture = [service](const httplib::Request& req, httplib::Response& res) {
    const httplib::MultipartFormData* file = nullptr;
    for (const auto& [name, part] : req.files)  // the form's fields are parts too: the first with a file name
      if (!file && !part.filename.empty()) file = &part;
    if (req.is_multipart_form_data() && !file)
      return web::send_error(res, 400, "the form holds no file: send the picture as -F file=@photo.jpg");
    const std::string& bytes = file ? file->content : req.body;
    const std::string maps = req.has_param("maps") ? req.get_param_value("maps") : "true";
    if (maps != "true" && maps != "false") return web::send_error(res, 422, "?maps= must be true or false");
    const std::string fit = req.has_param("fit") ? req.get_param_value("fit") : "auto";
    if (fit != "auto" && fit != "mnist" && fit != "pad" && fit != "crop" && fit != "stretch")
      return web::send_error(res, 422, "?fit= must be auto, mnist, pad, crop or stretch");
    try {
      web::send_json(res, service->predict_picture(bytes, maps == "true",
                                                   fit == "auto" ? std::nullopt : std::optional<Fit>(parse_fit(fit))));
    } catch (const BadRequest& e) {
      web::send_error(res, e.status, e.what());
    }
  };
  server.Post("/api/predict", [service, picture](const httplib::Request& req, httplib::Response& res) {
    if (is_picture_upload(req)) return picture(req, res);
    try {
      web::send_json(res, service->predict(req.body));
    } catch (const BadRequest& e) {
      web::send_error(res, e.status, e.what());
    }
  });
  server.Post("/api/predict/image", picture);
  // The page's "training run" link leads here too: say what this server is, not a lost connection.
  for (const char* path : {"/api/training", "/api/training/events"})
    server.Get(path, [](const httplib::Request&, httplib::Response& res) {
      web::send_error(res, 404,
                      "no training run here: cnn serve serves a trained model; cnn train ... --serve PORT serves "
                      "the page of a training run as it goes");
    });
  for (const char* path : {"/api/predict", "/api/predict/image", "/api/model", "/api/kernels", "/api/samples"}) {
    // the wrong verb on a known path
    const bool post = std::string(path).starts_with("/api/predict");
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
  const bool colour = service->describe()["input"][0] == 3;
  std::cout << "cnn serve: " << a.model << " (" << service->name() << ") at http://" << a.host << ":" << port << "/\n"
            << (colour ? "  drop or choose a photo on the page" : "  draw a digit or a piece of clothing on the page");
  if (service->strip_size()) std::cout << ", or click one of " << service->strip_size() << " test images";
  std::cout << "; API: GET /api/model, GET /api/kernels, GET /api/samples, POST /api/predict, POST /api/predict/image"
               " (web/API.md)\n";
  if (a.host != "127.0.0.1" && a.host != "localhost" && a.host != "::1")
    std::cout << "  note: listening on " << a.host << ", so other machines may reach it\n";
  std::cout << std::flush;
  if (!server.listen_after_bind()) throw Error("serving on " + a.host + ":" + std::to_string(port) + " stopped");
}

void add(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = app.add_subcommand(
      "serve",
      "A web page to draw on (or drop a photo on, for a colour model) and watch the model's classes, feature maps and "
      "kernels live, and its JSON API");
  c->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  c->add_option("--host", a->host, "Address to listen on (loopback unless you say otherwise)")->capture_default_str();
  c->add_option("--port", a->port, "Port (0: any free port, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  c->add_option("--data", a->data,
                "Data folder (MNIST IDX, CIFAR-10 binary or pictures, as for cnn train) whose test images the page "
                "shows as a strip to click, each with its true label");
  c->add_option("--samples", a->samples, "How many test images the strip shows (with --data)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  c->add_flag("--quiet", a->quiet,
              "No request log (otherwise one line per request on stderr: method, path, status, microseconds)");
  c->add_option("--web", a->web,
                "Folder with the page (public/) and its npm packages (default: the source tree's web/)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("serve", add);

}  // namespace
}  // namespace cnn::tool
