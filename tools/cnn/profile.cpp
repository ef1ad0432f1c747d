// cnn profile: where a training step goes, step by step of the network's plan (forward, backward, GFLOP/s).
// The images are random pixels in [0, 1]: a step's time depends on the shapes, not on what the pictures show.
#include <chrono>
#include <iostream>

#include "common.h"

namespace cnn::tool {
namespace {

struct ProfileArgs {
  std::string model, net;
  int batch = 50, steps = 20, threads = 1;
};

void run(const ProfileArgs& a) {
  use_threads(a.threads);
  ModelOrNet loaded = load_model_or_net("profile", a.model, a.net);
  Network& net = loaded.network();
  const Shape in = net.input_shape().with_batch(a.batch);
  Tensor x(in);
  Rng rng(7);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
  const int K = int(net.output_shape().sample_size());
  std::vector<int> labels(static_cast<std::size_t>(a.batch));
  for (int i = 0; i < a.batch; ++i) labels[std::size_t(i)] = i % K;
  for (int s = 0; s < 2; ++s) net.forward_backward(x, labels.data(), std::uint64_t(s));  // workspaces take their size
  net.set_profiling(true);
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < a.steps; ++s) net.forward_backward(x, labels.data(), std::uint64_t(s + 2));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << (loaded.model ? a.model : a.net) << ": " << a.steps << " training steps of a batch of " << a.batch
            << " (" << in.sample_str() << "), " << threads() << " thread" << (threads() > 1 ? "s" : "")
            << "; µs per step (the plan's steps: a fused group counts once)\n\n"
            << profile_table(net) << "\n"
            << fixed(double(a.batch) * a.steps / secs, 0) << " images/s trained (without the optimizer's update)\n";
  net.set_profiling(false);
}

void add(CLI::App& app) {
  auto a = std::make_shared<ProfileArgs>();
  auto* c = app.add_subcommand("profile", "Time a network's training step, step by step of its plan");
  c->add_option("--model", a->model, "Model file")->check(CLI::ExistingFile);
  c->add_option("--net", a->net, "Preset name or description file");
  c->add_option("--batch", a->batch, "Images per step")->capture_default_str()->check(CLI::Range(1, 100000));
  c->add_option("--steps", a->steps, "Steps timed (after two untimed ones)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str()->check(CLI::Range(0, 1024));
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("profile", add);

}  // namespace
}  // namespace cnn::tool
