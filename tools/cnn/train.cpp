// cnn train: train a network (a preset or a description file) on an MNIST-format data set, evaluate after every
// epoch, save the model after every epoch (so the last good model survives a failure), log metrics.
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "common.h"
#include "web.h"

namespace cnn::tool {
namespace {

struct TrainArgs {
  std::string net = "seed5", data, out = "model.cnn", metrics, resume, init_from, lr_decay = "none", optimizer = "sgd",
              augment = "none";
  int epochs = 10, batch = 50, threads = 0, serve = -1;  // serve: port for the live curves (-1: none)
  double lr = 0.1, momentum = 0.0, weight_decay = 0.0, label_smoothing = 0.0;
  bool nesterov = false, quiet = false, append = false;
  std::uint64_t seed = 1;
  std::size_t train_limit = 0, test_limit = 0;
  DataOptions data_options;  // --fit, --val-split, --strict: how a folder of pictures is read
};

void append_metrics(const std::string& path, const EpochReport& r) {
  const bool json = path.size() >= 5 && (path.ends_with(".jsonl") || path.ends_with(".json"));
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  std::ofstream f(path, std::ios::app);
  if (!f) throw Error(path + ": cannot write the metrics file");
  if (json) {
    f << nlohmann::json{{"epoch", r.epoch},         {"train_loss", r.train_loss},
                        {"test_loss", r.test.loss}, {"test_accuracy", r.test.accuracy},
                        {"seconds", r.seconds},     {"images_per_second", r.images_per_second}}
             .dump()
      << "\n";
  } else {
    if (fresh) f << "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n";
    f << r.epoch << "," << fixed(r.train_loss, 6) << "," << fixed(r.test.loss, 6) << "," << fixed(r.test.accuracy, 6)
      << "," << fixed(r.seconds, 3) << "," << fixed(r.images_per_second, 1) << "\n";
  }
  if (!f) throw Error(path + ": write failed");
}

// Rows (epochs) already in a metrics file: a second run appended to them would draw as one zig-zag curve.
std::size_t metrics_rows(const std::string& path) {
  std::ifstream f(path);
  std::size_t rows = 0;
  bool header = false;
  for (std::string line; std::getline(f, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!header && line.starts_with("epoch,")) {
      header = true;
      continue;
    }
    ++rows;
  }
  return rows;
}

// Ctrl-C asks the run to stop after the batch in progress (Trainer::should_stop); a second one kills as usual.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) {
  interrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}

std::string duration(double s) {
  const int t = int(std::lround(s));
  return t >= 60 ? std::to_string(t / 60) + "m" + (t % 60 < 10 ? "0" : "") + std::to_string(t % 60) + "s"
                 : std::to_string(t) + "s";
}

// The settings of a new run: each from its flag when given, else from the net's recipe, else the flag's default.
void apply_recipe(const Recipe& r, const std::function<bool(const std::string&)>& given, TrainArgs& a,
                  std::vector<std::string>& from_recipe) {
  auto take = [&](const char* flag, const auto& field, auto& target) {
    if (field && !given(flag)) {
      target = *field;
      from_recipe.push_back(flag);
    }
  };
  take("--epochs", r.epochs, a.epochs);
  take("--batch", r.batch, a.batch);
  take("--optimizer", r.optimizer, a.optimizer);
  take("--lr", r.lr, a.lr);
  take("--momentum", r.momentum, a.momentum);
  take("--nesterov", r.nesterov, a.nesterov);
  take("--weight-decay", r.weight_decay, a.weight_decay);
  take("--lr-decay", r.schedule, a.lr_decay);
  take("--augment", r.augment, a.augment);
  take("--label-smoothing", r.label_smoothing, a.label_smoothing);
}

// The bytes of a file as rank 0 reads them, on every rank (the file need exist only where rank 0 runs).
std::string rank0_file(const std::string& path) {
  std::string bytes;
  std::uint64_t size = 0;
  if (is_writer()) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open");
    bytes.assign(std::istreambuf_iterator<char>(f), {});
    size = bytes.size();
  }
  if (const Collective* comm = cluster()) {
    comm->broadcast(&size, sizeof size, 0);
    bytes.resize(size);
    comm->broadcast(bytes.data(), bytes.size(), 0);
  }
  return bytes;
}

void run(TrainArgs a, const std::function<bool(const std::string&)>& given) {
  use_threads(a.threads);
  std::string name = a.net, data_dir = a.data;
  TrainingState state;
  std::vector<std::string> class_names;
  std::optional<Network> net;
  int start_epoch = 0, saved_epoch = 0;  // saved_epoch: what the file on disk holds, for the last line
  if (!a.resume.empty()) {
    for (const char* flag :
         {"--net", "--batch", "--lr", "--lr-decay", "--optimizer", "--momentum", "--nesterov", "--weight-decay",
          "--seed", "--train-limit", "--test-limit", "--augment", "--label-smoothing", "--fit", "--val-split"})
      if (given(flag))
        throw UsageError(std::string(flag) +
                         " cannot be combined with --resume: the run continues with the settings saved in " + a.resume);
    Model m = parse_model(rank0_file(a.resume), a.resume);  // under mpirun every rank resumes rank 0's state
    if (!m.training) throw Error(a.resume + ": holds no training state (it was not saved by cnn train)");
    state = *m.training;
    name = m.name;
    class_names = m.class_names;
    net.emplace(std::move(m.net));
    net->reseed(state.seed);  // dropout's masks as the run drew them
    start_epoch = saved_epoch = state.epoch;
    if (!given("--epochs") && net->recipe().epochs) a.epochs = *net->recipe().epochs;
    if (data_dir.empty()) data_dir = state.data == default_data_dir() ? "" : state.data;
    if (!given("--out")) a.out = a.resume;  // a resumed run continues its file, as Keras's fit(initial_epoch) would
    if (!given("--metrics") && !given("--out")) a.metrics = state.metrics;  // and appends to its metrics file
    if (a.epochs <= start_epoch)
      throw UsageError("--epochs " + std::to_string(a.epochs) + " is not beyond the " + std::to_string(start_epoch) +
                       " epochs already in " + a.resume + " (--epochs is the total)");
  } else if (!a.init_from.empty()) {
    // Fine-tuning: the network, its parameters and running statistics from a model or an ONNX file (Keras's
    // load_weights, PyTorch's load_state_dict); the run itself starts afresh: epoch 0, a new optimizer, the flags'
    // settings (or the description's recipe, for a model file that carries one).
    if (given("--net"))
      throw UsageError("--net cannot be combined with --init-from: the network is the one in " + a.init_from);
    Model m = model_from_bytes(rank0_file(a.init_from), a.init_from);  // under mpirun, rank 0's file on every rank
    net.emplace(std::move(m.net));
    net->reseed(a.seed);
    name = std::filesystem::path(a.init_from).stem().string();
  } else {
    net.emplace(load_network(a.net));
    net->init(a.seed);
  }
  if (a.resume.empty()) {
    std::vector<std::string> from_recipe;
    apply_recipe(net->recipe(), given, a, from_recipe);
    if (!from_recipe.empty()) {
      std::string flags;
      for (const auto& f : from_recipe) flags += (flags.empty() ? "" : " ") + f;
      std::cout << "the net's recipe sets " << flags << " (a flag given overrides it)\n";
    }
    if (a.nesterov && !(a.momentum > 0))
      throw UsageError("--nesterov needs --momentum above 0 (Nesterov momentum with no momentum is plain SGD)");
    state.seed = a.seed;
    state.batch = a.batch;
    state.optimizer = {.kind = a.optimizer,
                       .lr = a.lr,
                       .momentum = a.momentum,
                       .nesterov = a.nesterov,
                       .weight_decay = a.weight_decay};
    try {
      state.optimizer.schedule = parse_schedule(a.lr_decay).resolved(a.epochs);
    } catch (const Error& e) {
      throw UsageError(std::string("--lr-decay: ") + e.what());
    }
    try {
      state.augment = parse_augment(a.augment);
    } catch (const Error& e) {
      throw UsageError(std::string("--augment: ") + e.what());
    }
    state.label_smoothing = a.label_smoothing;
    state.train_limit = a.train_limit;
    state.test_limit = a.test_limit;
    if (a.init_from.empty() && std::filesystem::exists(a.net)) name = std::filesystem::path(a.net).stem().string();
  }
  // Softmax before softmax_cross_entropy squashes the logits twice and trains badly without an error (measured 63%
  // against 90%); PyTorch's CrossEntropyLoss and Keras's from_logits carry the same trap.
  if (net->size() > 0 && net->layer(net->size() - 1).kind() == "softmax" &&
      net->loss().kind() == "softmax_cross_entropy")
    throw Error(name +
                ": the last layer is softmax, but the loss softmax_cross_entropy already includes it: remove "
                "the layer (predict shows probabilities; export --softmax adds it to an ONNX file)");
  net->set_label_smoothing(float(state.label_smoothing));
  Optimizer opt(state.optimizer);
  opt.restore(state.steps, state.optimizer_state);

  // A folder of pictures is split with the run's seed and fitted as the run began (a resumed run's saved fit).
  DataOptions data_options = a.data_options;
  data_options.seed = state.seed;
  if (a.resume.empty())
    state.val_split = data_options.val_split;
  else
    data_options.val_split = state.val_split;  // the same images held out as when the run began
  if (!a.resume.empty() && !net->input_fit().empty()) data_options.fit = net->input_fit();
  DataSplit data = load_data(data_dir, state.train_limit, state.test_limit, data_options, net->input_shape());
  if (a.resume.empty() && is_picture_data(data_dir)) net->set_input_fit(data_options.fit);
  state.data = data_dir.empty() ? default_data_dir() : data_dir;
  state.metrics = a.metrics;
  check_data_fits(*net, data.train);
  check_data_fits(*net, data.test);
  if (class_names.empty()) class_names = data.train.class_names;
  // A net that starts with `normalize` (and fixes no statistics itself) standardises its input with the training
  // set's per-channel mean and deviation, computed here once and saved in the model with it.
  // (a resumed or fine-tuned network keeps the statistics it was trained with)
  if (auto* norm = dynamic_cast<Normalize*>(&net->layer(0));
      norm && !norm->fixed() && a.resume.empty() && a.init_from.empty()) {
    const ChannelStatistics st = channel_statistics(data.train);
    norm->set_statistics(st.mean, st.std);
    if (!a.quiet) std::cout << "input: " << norm->summary() << " (the training set's, per channel)\n";
  }
  if (!a.metrics.empty() && a.resume.empty() && !a.append && is_writer())
    if (const std::size_t rows = metrics_rows(a.metrics))
      throw UsageError("--metrics " + a.metrics + " already holds a run (" + std::to_string(rows) +
                       " epochs): pass --append to add this one after it, or name another file");
  const std::string out = a.out;
  if (std::filesystem::path(out).has_parent_path() &&
      !std::filesystem::is_directory(std::filesystem::path(out).parent_path()))
    throw Error(out + ": cannot save: folder " + std::filesystem::path(out).parent_path().string() + " does not exist");

  std::cout << "cnn train: " << name << " (" << net->params().size() << " parameters) on " << state.data << ": "
            << data.train.count() << " training / " << data.test.count() << " test images, batch " << state.batch
            << ", " << state.optimizer.kind << " lr " << state.optimizer.lr;
  if (state.optimizer.momentum > 0)
    std::cout << " momentum " << state.optimizer.momentum << (state.optimizer.nesterov ? " (nesterov)" : "");
  if (state.optimizer.schedule.kind != LrSchedule::Kind::constant)
    std::cout << " decay " << state.optimizer.schedule.str();
  if (state.augment.any()) std::cout << ", augment " << state.augment.str();
  if (state.label_smoothing > 0) std::cout << ", label smoothing " << state.label_smoothing;
  std::cout << ", ";
  if (const Collective* comm = cluster()) std::cout << comm->size() << " processes × ";
  std::cout << threads() << " thread" << (threads() > 1 ? "s" : "") << ", seed " << state.seed;
  if (start_epoch) std::cout << ", resuming after epoch " << start_epoch;
  std::cout << std::endl;

  std::unique_ptr<web::TrainMonitor> monitor;  // --serve: loss and accuracy live in a browser
  if (a.serve >= 0 && is_writer()) {
    monitor = std::make_unique<web::TrainMonitor>(
        "127.0.0.1", a.serve,
        nlohmann::json{{"net", name},
                       {"data", state.data},
                       {"epochs", a.epochs},
                       {"start_epoch", start_epoch},
                       {"batches", (data.train.count() + std::size_t(state.batch) - 1) / std::size_t(state.batch)}}
            .dump());
    std::cout << "following the run at " << monitor->url() << std::endl;
  }
  Trainer trainer(
      *net, opt,
      {.epochs = a.epochs, .batch = state.batch, .seed = state.seed, .augment = state.augment, .comm = cluster()});
  const bool tty = stdout_is_terminal() && !a.quiet;
  trainer.on_batch = [&](const BatchReport& b) {
    if (monitor) monitor->batch(b);
    if (a.quiet) return;
    if (tty) {
      const int width = 30, done = int(width * b.batch / b.batches);
      const double eta = b.elapsed_seconds / double(b.batch) * double(b.batches - b.batch);
      std::cout << "\r  epoch " << b.epoch << "/" << a.epochs << " [" << std::string(std::size_t(done), '=')
                << std::string(std::size_t(width - done), ' ') << "] " << b.batch << "/" << b.batches << "  "
                << fixed(b.images_per_second, 0) << " img/s  loss " << fixed(b.running_loss, 4) << "  left "
                << duration(eta) << "   " << std::flush;
    } else {
      for (std::size_t q = 1; q <= 3; ++q)  // plain lines at a quarter, half and three quarters of each epoch
        if (b.batches >= 8 && b.batch == b.batches * q / 4)
          std::cout << "  epoch " << b.epoch << ": batch " << b.batch << "/" << b.batches << ", loss "
                    << fixed(b.running_loss, 4) << ", " << fixed(b.images_per_second, 0) << " img/s" << std::endl;
    }
  };
  double mpi_seconds = cluster_seconds();
  trainer.on_epoch = [&](const EpochReport& r) {
    if (tty) std::cout << "\r" << std::string(100, ' ') << "\r";
    std::string mpi_line;
    if (const Collective* comm = cluster()) {  // rank 0's time in the exchanges, its wait for the others included
      const double mpi = cluster_seconds() - mpi_seconds, steps = double(opt.steps() - state.steps);
      mpi_seconds = cluster_seconds();
      mpi_line = "  " + std::to_string(comm->size()) + " processes: " + fixed(mpi, 2) + " s of the epoch in MPI (" +
                 fixed(1000 * mpi / std::max(steps, 1.0), 2) + " ms a step)\n";
    }
    state.epoch = r.epoch;
    state.steps = opt.steps();
    state.optimizer_state = opt.state();
    if (is_writer()) {  // one writer: the ranks hold the same model
      if (!a.metrics.empty()) append_metrics(a.metrics, r);
      if (monitor) monitor->epoch(r);
      save_model(out, *net, name, class_names, &state);
    }
    saved_epoch = r.epoch;
    // printed after the save, so that the line says what the file on disk holds
    std::cout << "epoch " << r.epoch << "/" << a.epochs << "  train loss " << fixed(r.train_loss, 4) << "  test loss "
              << fixed(r.test.loss, 4) << "  test accuracy " << fixed(100 * r.test.accuracy, 2) << "%  "
              << fixed(r.seconds, 1) << " s  " << fixed(r.images_per_second, 0) << " img/s"
              << (is_writer() ? "  saved " + out : "") << "\n"
              << mpi_line << std::flush;
  };
  // Under mpirun the ranks would see Ctrl-C at different batches and wait on each other forever: mpirun ends them.
  const bool catch_interrupt = cluster() == nullptr;
  BatchReport last_batch{};
  if (catch_interrupt) {
    interrupted = 0;
    std::signal(SIGINT, on_interrupt);
    trainer.should_stop = [] { return interrupted != 0; };
    const auto progress = trainer.on_batch;
    trainer.on_batch = [&last_batch, progress](const BatchReport& b) {
      last_batch = b;
      progress(b);
    };
  }
  bool stopped = false;
  try {
    stopped = trainer.fit(data.train, &data.test, start_epoch);
    if (catch_interrupt) std::signal(SIGINT, SIG_DFL);
  } catch (const Error& e) {
    if (monitor) monitor->finish(e.what());
    if (tty) std::cout << "\n";
    std::string kept;
    if (saved_epoch > start_epoch)
      kept = "; " + out + " holds the model after epoch " + std::to_string(saved_epoch);
    else if (!a.resume.empty())
      kept = "; " + a.resume + " still holds the model after epoch " + std::to_string(start_epoch);
    throw Error(std::string(e.what()) + kept);
  }
  if (stopped) {
    if (tty) std::cout << "\n";
    std::string held;
    if (saved_epoch > start_epoch || !a.resume.empty())
      held = (saved_epoch > start_epoch ? out : a.resume) + " holds the model after epoch " +
             std::to_string(saved_epoch) + "; resume with: cnn train --resume " +
             (saved_epoch > start_epoch ? out : a.resume) + " --epochs " + std::to_string(a.epochs) +
             (a.metrics.empty() ? "" : " --metrics " + a.metrics);
    else
      held = "no epoch finished, nothing was saved";
    const std::string line = "interrupted at epoch " + std::to_string(last_batch.epoch) + ", batch " +
                             std::to_string(last_batch.batch) + "/" + std::to_string(last_batch.batches) + ": " + held;
    if (monitor) monitor->finish(line);
    throw Interrupted(line);
  }
  if (monitor) monitor->finish("saved " + out);
  std::cout << "saved " << out << " (" << name << ", " << state.epoch << " epochs)\n"
            << "use it:  cnn eval --model " << out << (data_dir.empty() ? "" : " --data " + data_dir)
            << "   |   cnn predict --model " << out << " IMAGE.png   |   cnn info --model " << out << "\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* c = app.add_subcommand(
      "train", "Train a network on a data set (MNIST-format IDX files, CIFAR-10, a folder of pictures) and save it");
  c->add_option(
       "--net", a->net,
       "Preset name (" +
           [] {
             std::string s;
             for (const auto& n : preset_names()) s += (s.empty() ? "" : ", ") + n;
             return s;
           }() +
           ") or a description file (JSON)")
      ->capture_default_str();
  c->add_option(
      "--data", a->data,
      "Folder with the four MNIST-format IDX files, CIFAR-10's binary batches, or pictures in train/<class>/ and "
      "test/<class>/ (or <class>/ with --val-split) (default: Debian's Fashion-MNIST)");
  add_data_options(c, a->data_options);
  c->add_option("--epochs", a->epochs, "Total number of epochs")->capture_default_str()->check(CLI::Range(1, 100000));
  c->add_option("--batch", a->batch, "Images per mini-batch (the gradient is their mean)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  c->add_option("--lr", a->lr, "Learning rate (a layer's own \"lr\" in the description overrides it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option(
       "--lr-decay", a->lr_decay,
       "Learning-rate schedule: none, step:EPOCHS:GAMMA, exp:GAMMA, cos[:EPOCHS] (per epoch) or "
       "onecycle[:EPOCHS[:PCT]] "
       "(per batch), optionally after warmup:EPOCHS, (e.g. warmup:1,cos); without EPOCHS the curve spans the run")
      ->capture_default_str();
  c->add_option("--optimizer", a->optimizer, "sgd or adam")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam"}));
  c->add_option("--momentum", a->momentum, "SGD momentum (0: plain SGD as in the seeds)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  c->add_flag("--nesterov", a->nesterov, "Nesterov momentum");
  c->add_option("--weight-decay", a->weight_decay, "L2 weight decay")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_option("--augment", a->augment,
                "Training-image augmentation: none, or flip and/or shift:N (crop:N: the same, padding N and "
                "cropping back; e.g. flip,crop:4)")
      ->capture_default_str();
  c->add_option("--label-smoothing", a->label_smoothing,
                "Label smoothing ε of the training loss (softmax cross-entropy; 0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  c->add_option("--seed", a->seed, "Seed for initialisation, shuffling and dropout")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str()->check(CLI::Range(0, 1024));
  c->add_option("--out", a->out, "Model file to write (after every epoch, atomically; with --resume: that file)")
      ->capture_default_str();
  c->add_option("--metrics", a->metrics,
                "Write per-epoch figures to this file (.csv, or .jsonl for JSON lines); one that already holds a run "
                "needs --append (a resumed run appends to the file its run wrote, unless this names another)");
  c->add_flag("--append", a->append,
              "Add this run to a --metrics file that already holds one (show curves draws the "
              "last run)");
  c->add_option("--resume", a->resume,
                "Continue the run saved in this model file up to --epochs, saving to the same file (unless --out)")
      ->check(CLI::ExistingFile);
  c->add_option("--init-from", a->init_from,
                "Start from the network and weights of this model or ONNX file (fine-tuning): a new run, epoch 0")
      ->check(CLI::ExistingFile)
      ->excludes("--resume");
  c->add_option("--train-limit", a->train_limit, "Use only the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--test-limit", a->test_limit, "Use only the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--quiet", a->quiet, "No progress output, only the per-epoch lines");
  c->add_option("--serve", a->serve,
                "Follow the run in a browser: loss and accuracy curves on this loopback port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  c->callback([a, c] { run(*a, [c](const std::string& flag) { return c->get_option(flag)->count() > 0; }); });
}

const RegisterVerb reg("train", add);

}  // namespace
}  // namespace cnn::tool
