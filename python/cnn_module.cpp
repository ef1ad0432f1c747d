// The Python module `cnn` (pybind11): the embedding API of cnn/api.h on numpy arrays. Images are read where they
// lie when they are C-contiguous uint8 or float32 (a copy is made only to make them so); the GIL is released while
// training, predicting and evaluating, and taken back between batches for the progress callback and for Ctrl-C,
// which ends training cleanly after the batch under way and raises KeyboardInterrupt.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cnn/api.h"
#include "cnn/netfile.h"
#include "cnn/runtime.h"
#include "cnn/version.h"

namespace py = pybind11;

namespace {

std::string dims(const py::array& a) {
  std::string s = "[";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

// Images as the net takes them: [N, H, W] (one channel) or [N, C, H, W], uint8 or float32. `keep` holds the array
// (or its contiguous copy) alive while the view is used.
cnn::Images images_of(const cnn::Net& net, const py::handle& obj, const char* what, py::array& keep) {
  if (!py::isinstance<py::array>(obj))
    throw py::value_error(std::string(what) + ": expected a numpy array, got " +
                          std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  const cnn::Shape in = net.network().input_shape();
  const std::string want = "[N, " + std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) +
                           "]" +
                           (in.c == 1 ? " or [N, " + std::to_string(in.h) + ", " + std::to_string(in.w) + "]" : "");
  const bool u8 = a.dtype().is(py::dtype::of<std::uint8_t>()), f32 = a.dtype().is(py::dtype::of<float>());
  if (!u8 && !f32)
    throw py::value_error(std::string(what) + ": expected dtype uint8 (0-255) or float32 (0-1), got " +
                          std::string(py::str(a.dtype())));
  const bool fits = (a.ndim() == 4 && a.shape(1) == in.c && a.shape(2) == in.h && a.shape(3) == in.w) ||
                    (a.ndim() == 3 && in.c == 1 && a.shape(1) == in.h && a.shape(2) == in.w);
  if (!fits) throw py::value_error(std::string(what) + ": expected shape " + want + ", got " + dims(a));
  if (!(a.flags() & py::array::c_style))
    a = u8 ? py::array(py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(a))
           : py::array(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a));
  keep = a;
  const std::size_t n = std::size_t(a.shape(0));
  return u8 ? cnn::Images::u8(static_cast<const std::uint8_t*>(a.data()), n, in)
            : cnn::Images::f32(static_cast<const float*>(a.data()), n, in);
}

std::vector<int> labels_of(const cnn::Net& net, const py::handle& obj, std::size_t count, const char* what) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::value_error(std::string(what) + ": expected a 1-D array of integer labels");
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::value_error(std::string(what) + ": expected integer labels, got dtype " +
                          std::string(py::str(a.dtype())));
  if (a.ndim() != 1 || std::size_t(a.shape(0)) != count)
    throw py::value_error(std::string(what) + ": expected shape [" + std::to_string(count) +
                          "] (one label per image), got " + dims(a));
  auto v = py::array_t<long long, py::array::c_style | py::array::forcecast>::ensure(a);
  std::vector<int> labels(count);
  const int K = net.outputs();
  for (std::size_t i = 0; i < count; ++i) {
    const long long l = v.data()[i];
    if (l < 0 || l >= K)
      throw py::value_error(std::string(what) + ": label " + std::to_string(l) + " at " + std::to_string(i) +
                            " is not a class of the network (0 to " + std::to_string(K - 1) + ")");
    labels[i] = int(l);
  }
  return labels;
}

py::dict epoch_dict(const cnn::EpochReport& r, bool validation) {
  py::dict d;
  d["epoch"] = r.epoch;
  d["train_loss"] = r.train_loss;
  if (validation) {
    d["test_loss"] = r.test.loss;
    d["test_accuracy"] = r.test.accuracy;
  }
  d["seconds"] = r.seconds;
  d["images_per_second"] = r.images_per_second;
  return d;
}

py::dict evaluation_dict(const cnn::Evaluation& ev) {
  py::dict d;
  d["accuracy"] = ev.accuracy;
  d["loss"] = ev.loss;
  d["count"] = ev.count;
  d["confusion"] = ev.confusion;
  return d;
}

template <class T>
std::optional<T> opt(const py::object& o) {
  return o.is_none() ? std::nullopt : std::optional<T>(o.cast<T>());
}

py::list fit(cnn::Net& net, const py::object& x, const py::object& y, const py::object& epochs, const py::object& batch,
             const py::object& lr, const py::object& seed, int threads, const py::object& validation,
             const py::object& optimizer, const py::object& momentum, const py::object& nesterov,
             const py::object& weight_decay, const py::object& schedule, const py::object& augment,
             const py::object& label_smoothing, const std::string& source, const std::string& checkpoint,
             const py::object& progress, int eval_batch) {
  py::array keep_x, keep_vx;
  const cnn::Images images = images_of(net, x, "x", keep_x);
  const std::vector<int> labels = labels_of(net, y, images.count, "y");
  std::optional<cnn::Images> vimages;
  std::vector<int> vlabels;
  if (!validation.is_none()) {
    if (!py::isinstance<py::tuple>(validation) || py::len(validation) != 2)
      throw py::value_error("validation: expected a tuple (x_test, y_test)");
    const py::tuple t = validation;
    vimages = images_of(net, t[0], "validation x", keep_vx);
    vlabels = labels_of(net, t[1], vimages->count, "validation y");
  }
  cnn::FitOptions o;
  o.epochs = opt<int>(epochs);
  o.batch = opt<int>(batch);
  o.lr = opt<double>(lr);
  o.seed = opt<std::uint64_t>(seed);
  o.threads = threads;
  o.optimizer = opt<std::string>(optimizer);
  o.momentum = opt<double>(momentum);
  o.nesterov = opt<bool>(nesterov);
  o.weight_decay = opt<double>(weight_decay);
  o.schedule = opt<std::string>(schedule);
  o.augment = opt<std::string>(augment);
  o.label_smoothing = opt<double>(label_smoothing);
  o.source = source;
  o.checkpoint = checkpoint;
  o.eval_batch = eval_batch;

  // progress=True: a bar on stderr, redrawn at most 10 times a second; a callable gets a dict after every batch
  const bool bar = py::isinstance<py::bool_>(progress) && progress.cast<bool>();
  const bool call = !progress.is_none() && !py::isinstance<py::bool_>(progress);
  if (call && !py::hasattr(progress, "__call__"))
    throw py::value_error("progress: expected True, False, None or a function of one dict");
  const int total = o.epochs.value_or(net.network().recipe().epochs.value_or(10));
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  if (bar || call)
    o.on_batch = [&](const cnn::BatchReport& b) {
      const auto now = std::chrono::steady_clock::now();
      if (bar && b.batch != b.batches && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      py::gil_scoped_acquire gil;
      if (call) {
        py::dict d;
        d["epoch"] = b.epoch;
        d["batch"] = b.batch;
        d["batches"] = b.batches;
        d["loss"] = b.running_loss;
        d["images_per_second"] = b.images_per_second;
        progress(d);
        return;
      }
      const int width = 30, done = int(width * b.batch / b.batches);
      py::module_::import("sys").attr("stderr").attr("write")(
          "\r  epoch " + std::to_string(b.epoch) + (net.training() ? "" : "/" + std::to_string(total)) + " [" +
          std::string(std::size_t(done), '=') + std::string(std::size_t(width - done), ' ') + "] " +
          std::to_string(b.batch) + "/" + std::to_string(b.batches) + "  " + std::to_string(long(b.images_per_second)) +
          " img/s  loss " + std::to_string(b.running_loss) + (b.batch == b.batches ? "\n" : ""));
    };
  bool interrupted = false;
  o.should_stop = [&] {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) interrupted = true;  // the handler's exception (KeyboardInterrupt) stays set
    return interrupted;
  };
  cnn::FitResult r;
  {
    py::gil_scoped_release release;
    r = net.fit(images, labels, o, vimages ? &*vimages : nullptr, vlabels);
  }
  if (interrupted) throw py::error_already_set();
  py::list history;
  for (const auto& e : r.epochs) history.append(epoch_dict(e, vimages.has_value()));
  return history;
}

py::array_t<float> predict(cnn::Net& net, const py::object& x, int batch) {
  py::array keep;
  const cnn::Images images = images_of(net, x, "x", keep);
  std::vector<float> p;
  {
    py::gil_scoped_release release;
    p = net.predict(images, batch);
  }
  const py::ssize_t K = net.outputs();
  py::array_t<float> out({py::ssize_t(images.count), K});
  std::copy(p.begin(), p.end(), out.mutable_data());
  return out;
}

py::dict evaluate(cnn::Net& net, const py::object& x, const py::object& y, int batch) {
  py::array keep;
  const cnn::Images images = images_of(net, x, "x", keep);
  const std::vector<int> labels = labels_of(net, y, images.count, "y");
  cnn::Evaluation ev;
  {
    py::gil_scoped_release release;
    ev = net.evaluate(images, labels, batch);
  }
  return evaluation_dict(ev);
}

py::object training_dict(const cnn::Net& net) {
  if (!net.training()) return py::none();
  const cnn::TrainingState& t = *net.training();
  py::dict d;
  d["epoch"] = t.epoch;
  d["seed"] = t.seed;
  d["batch"] = t.batch;
  d["steps"] = t.steps;
  d["optimizer"] = t.optimizer.kind;
  d["lr"] = t.optimizer.lr;
  d["momentum"] = t.optimizer.momentum;
  d["nesterov"] = t.optimizer.nesterov;
  d["weight_decay"] = t.optimizer.weight_decay;
  d["schedule"] = t.optimizer.schedule.str();
  d["augment"] = t.augment.str();
  d["label_smoothing"] = t.label_smoothing;
  d["source"] = t.data;
  return d;
}

}  // namespace

PYBIND11_MODULE(cnn, m) {
  m.doc() = "Convolutional neural networks in C++20: train on numpy arrays, predict, save, export to ONNX";
  m.attr("__version__") = CNN_VERSION_STRING;
  static py::exception<cnn::Error> error(m, "Error", PyExc_RuntimeError);  // the library's errors, one line each
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cnn::Error& e) {
      error(e.what());
    }
  });

  py::class_<cnn::Net>(m, "Network", "A network with its name, class names and training run (cnn/api.h)")
      .def_static("preset", &cnn::Net::preset, py::arg("name"), "A shipped net: seed5, lenet5, resnet20, …")
      .def_static("from_file", &cnn::Net::from_file, py::arg("path"), "A description file (JSON, nets/*.json)")
      .def_static("from_json", &cnn::Net::from_json, py::arg("text"), py::arg("name") = "", "A description (JSON)")
      .def_static("load", &cnn::Net::load, py::arg("path"), "A model file (cnn train's or save()'s)")
      .def_static("presets", &cnn::preset_names)
      .def("fit", &fit, py::arg("x"), py::arg("y"), py::kw_only(), py::arg("epochs") = py::none(),
           py::arg("batch") = py::none(), py::arg("lr") = py::none(), py::arg("seed") = py::none(),
           py::arg("threads") = 0, py::arg("validation") = py::none(), py::arg("optimizer") = py::none(),
           py::arg("momentum") = py::none(), py::arg("nesterov") = py::none(), py::arg("weight_decay") = py::none(),
           py::arg("schedule") = py::none(), py::arg("augment") = py::none(), py::arg("label_smoothing") = py::none(),
           py::arg("source") = "", py::arg("checkpoint") = "", py::arg("progress") = false, py::arg("eval_batch") = 500,
           "Trains on x (uint8 [N, H, W] / [N, C, H, W] 0-255, or float32 0-1) and integer labels y; settings left "
           "None come from the net's recipe, else cnn train's defaults. A trained net continues its run. Returns one "
           "dict per epoch: epoch, train_loss, test_loss and test_accuracy (with validation), seconds, "
           "images_per_second.")
      .def("predict", &predict, py::arg("x"), py::arg("batch") = 500, "Class probabilities, float32 [N, classes]")
      .def("evaluate", &evaluate, py::arg("x"), py::arg("y"), py::arg("batch") = 500,
           "{'accuracy', 'loss', 'count', 'confusion'}")
      .def("save", &cnn::Net::save, py::arg("path"))
      .def(
          "export_onnx",
          [](const cnn::Net& net, const std::string& path, bool softmax) {
            cnn::OnnxExportOptions o;
            o.softmax_output = softmax;
            net.export_onnx(path, o);
          },
          py::arg("path"), py::arg("softmax") = false, "ONNX opset 13; softmax=True ends in probabilities")
      .def("init", &cnn::Net::init, py::arg("seed"), "Draws the parameters afresh")
      .def_property("name", &cnn::Net::name, &cnn::Net::set_name)
      .def_property("class_names", &cnn::Net::class_names, &cnn::Net::set_class_names)
      .def_property_readonly("input_shape",
                             [](const cnn::Net& n) {
                               const cnn::Shape s = n.network().input_shape();
                               return py::make_tuple(s.c, s.h, s.w);
                             })
      .def_property_readonly("outputs", &cnn::Net::outputs)
      .def_property_readonly("parameters", [](const cnn::Net& n) { return n.network().params().size(); })
      .def_property_readonly("description", [](const cnn::Net& n) { return cnn::network_to_text(n.network()); })
      .def_property_readonly("training", &training_dict, "The run so far (None before the first fit)")
      .def("__repr__", [](const cnn::Net& n) {
        return "<cnn.Network " + (n.name().empty() ? std::string("(unnamed)") : n.name()) + ": " +
               n.network().input_shape().sample_str() + " -> " + std::to_string(n.outputs()) + ", " +
               std::to_string(n.network().params().size()) + " parameters>";
      });
  m.def("load", &cnn::Net::load, py::arg("path"), "A model file as a Network");
  m.def(
      "set_threads", [](int t) { cnn::set_threads(t); }, py::arg("threads"), "The library's thread count (0: all)");
}
