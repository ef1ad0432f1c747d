// Our side of the PyTorch comparison (bench/run.sh): train a preset net for one epoch on Fashion-MNIST with plain
// SGD, then time inference over the test set, and print one line of key=value pairs:
//   net=seed5 threads=1 train_ips=… infer_ips=… accuracy=… peak_rss_mb=… train_s=… loss=…
// With --profile it also prints where a training step's time goes, per layer, forward and backward. With
// --save-start PREFIX it writes the initial weights (PREFIX.params.f32, the network's flat layout) and the first
// epoch's order (PREFIX.order.u32), from which bench/torch_bench.py --start PREFIX trains PyTorch's copy of the net.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "cnn/cnn.h"

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void usage() {
  std::fprintf(stderr,
               "usage: cnn_bench [--net seed5] [--threads N] [--batch 50] [--lr 0.1] [--epochs 1] [--seed 1]\n"
               "                 [--data DIR] [--train-limit N] [--infer-batch 50] [--profile] [--save-start PREFIX]\n"
               "                 [--save MODEL.cnn]\n");
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace cnn;
  using clock = std::chrono::steady_clock;
  std::string net_name = "seed5", data_dir = default_data_dir();
  int threads = 0, batch = 50, epochs = 1, infer_batch = 50;
  double lr = 0.1;
  std::uint64_t seed = 1;
  std::size_t train_limit = 0;
  bool profile = false;
  std::string save_start, save_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--net")
      net_name = next();
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--infer-batch")
      infer_batch = std::stoi(next());
    else if (a == "--lr")
      lr = std::stod(next());
    else if (a == "--epochs")
      epochs = std::stoi(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--data")
      data_dir = next();
    else if (a == "--train-limit")
      train_limit = std::stoul(next());
    else if (a == "--save-start")
      save_start = next();
    else if (a == "--save")
      save_path = next();
    else if (a == "--profile")
      profile = true;
    else {
      usage();
      return 2;
    }
  }
  set_threads(threads);

  DataSplit data = load_mnist_folder(data_dir);
  if (train_limit && train_limit < data.train.count()) data.train = data.train.slice(0, train_limit);
  Network net = load_network(net_name);
  net.init(seed);
  if (!save_start.empty()) {
    const auto order = epoch_order(data.train.count(), seed, 0);
    auto write = [](const std::string& path, const void* bytes_at, std::size_t bytes) {
      std::FILE* f = std::fopen(path.c_str(), "wb");
      const bool written = f && std::fwrite(bytes_at, 1, bytes, f) == bytes;
      if ((f && std::fclose(f) != 0) || !written) throw Error("cannot write " + path);
    };
    write(save_start + ".params.f32", net.params().data(), net.params().size() * sizeof(float));
    write(save_start + ".order.u32", order.data(), order.size() * sizeof(std::uint32_t));
  }
  net.set_profiling(profile);
  Optimizer sgd({.lr = lr});
  Trainer trainer(net, sgd, {.epochs = epochs, .batch = batch, .seed = seed});
  double train_s = 0.0, loss = 0.0;
  trainer.on_epoch = [&](const EpochReport& r) {
    train_s += r.seconds;
    loss = r.train_loss;
  };
  trainer.fit(data.train, nullptr);
  const double train_ips = double(data.train.count()) * epochs / train_s;

  if (profile) {
    std::printf("where one training step goes (batch %d, mean over the epoch's steps):\n%s", batch,
                profile_table(net).c_str());
    net.set_profiling(false);
  }

  // Inference: the whole test set in batches of infer_batch, best of three passes (the first warms the caches).
  double infer_s = 1e30;
  Evaluation ev;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clock::now();
    ev = evaluate(net, data.test, infer_batch);
    infer_s = std::min(infer_s, std::chrono::duration<double>(clock::now() - t0).count());
  }
  const double infer_ips = double(data.test.count()) / infer_s;
  // Latency: one image at a time (the first 200 test images, after 20 to warm up), the median.
  std::vector<double> latency;
  Tensor x1;
  int y1 = 0;
  for (std::uint32_t i = 0; i < 220 && i < data.test.count(); ++i) {
    data.test.batch(&i, 1, x1, &y1);
    const auto t0 = clock::now();
    net.forward(x1);
    if (i >= 20) latency.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
  }
  std::nth_element(latency.begin(), latency.begin() + std::ptrdiff_t(latency.size() / 2), latency.end());
  const double latency1_us = latency.empty() ? 0.0 : latency[latency.size() / 2];
  if (!save_path.empty()) save_model(save_path, net, net_name, fashion_mnist_class_names(), nullptr);
  // The limit in the same run: one thread's FMA peak with the vectors the kernels use (256-bit), and the work of a
  // training image as 3 × its forward multiply-adds (the forward, dW and dA products) × 2 flops.
  const CpuInfo cpu = cpu_info(true);
  std::printf(
      "net=%s threads=%d train_ips=%.0f infer_ips=%.0f accuracy=%.4f peak_rss_mb=%.1f train_s=%.3f loss=%.4f "
      "isa=%s macs=%zu peak256_gflops=%.1f peak512_gflops=%.1f latency1_us=%.1f\n",
      net_name.c_str(), cnn::threads(), train_ips, infer_ips, ev.accuracy, peak_rss_mb(), train_s, loss,
      cpu.kernels.c_str(), net.macs_per_sample(), cpu.peak_256, cpu.peak_512, latency1_us);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cnn_bench: error: %s\n", e.what());
  return 1;
}
