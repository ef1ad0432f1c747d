#include "cnn/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "cnn/random.h"

namespace cnn {

std::vector<std::uint32_t> epoch_order(std::size_t count, std::uint64_t seed, int epoch) {
  std::vector<std::uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0u);
  Rng rng(mix64(seed) ^ mix64(0x5eed0000ULL + std::uint64_t(epoch)));
  for (std::size_t i = count; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

std::string Augment::str() const {
  std::string s = flip ? "flip" : "";
  if (shift > 0) s += (s.empty() ? "shift:" : ",shift:") + std::to_string(shift);
  return s.empty() ? "none" : s;
}

Augment parse_augment(const std::string& text) {
  Augment a;
  auto bad = [&] {
    return Error("augmentation: expected none or a comma-separated list of flip and shift:N or crop:N (N ≤ 8), got \"" +
                 text + "\"");
  };
  if (text.empty() || text == "none") return a;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    if (item == "flip" && !a.flip) {
      a.flip = true;
    } else if ((item.rfind("shift:", 0) == 0 || item.rfind("crop:", 0) == 0) && a.shift == 0) {
      const std::string n = item.substr(item.find(':') + 1);
      if (n.empty() || n.size() > 1 || n[0] < '1' || n[0] > '8') throw bad();
      a.shift = n[0] - '0';
    } else {
      throw bad();
    }
    begin = end + 1;
  }
  return a;
}

void augment_batch(const Augment& a, Tensor& x, std::uint64_t seed, std::uint64_t step, int first) {
  if (!a.any()) return;
  const Shape& s = x.shape();
  const int C = s.c, H = s.h, W = s.w;
  std::vector<float> plane(std::size_t(H) * std::size_t(W));
  for (int i = 0; i < s.n; ++i) {
    Rng rng(mix64(seed ^ 0xa06e000000000000ULL) ^ mix64(step * 0x10000ULL + std::uint64_t(first + i)));
    const bool flip = a.flip && (rng.next() & 1);
    const int dx = a.shift ? int(rng.below(std::uint64_t(2 * a.shift + 1))) - a.shift : 0;
    const int dy = a.shift ? int(rng.below(std::uint64_t(2 * a.shift + 1))) - a.shift : 0;
    if (!flip && dx == 0 && dy == 0) continue;
    for (int c = 0; c < C; ++c) {
      float* p = x.sample(i) + std::size_t(c) * plane.size();
      std::copy(p, p + plane.size(), plane.begin());
      for (int y = 0; y < H; ++y)  // out(y, x) = in(y − dy, x' − dx), x' = x or its mirror
        for (int xo = 0; xo < W; ++xo) {
          const int ys = y - dy, xs0 = xo - dx, xs = flip ? W - 1 - xs0 : xs0;
          p[std::size_t(y) * std::size_t(W) + std::size_t(xo)] =
              (ys >= 0 && ys < H && xs0 >= 0 && xs0 < W) ? plane[std::size_t(ys) * std::size_t(W) + std::size_t(xs)]
                                                         : 0.0f;
        }
    }
  }
}

BatchSource source_of(const Dataset& data) {
  return {data.name,
          data.sample,
          data.classes,
          data.count(),
          [&data](const std::uint32_t* indices, int n, Tensor& x, int* y) { data.batch(indices, n, x, y); },
          [&data](const std::uint32_t* indices, int n) { data.prefetch(indices, n); }};
}

Evaluation evaluate(Network& net, const BatchSource& data, int batch) {
  check_sample_shape("evaluate (" + data.name + ")", net.input_shape(), data.sample);
  if (batch < 1) throw Error("evaluate: batch must be at least 1, got " + std::to_string(batch));
  const int K = int(net.output_shape().sample_size());
  Evaluation ev;
  ev.count = data.count;
  ev.confusion.assign(std::size_t(std::max(K, data.classes)), std::vector<std::size_t>(std::size_t(K), 0));
  std::vector<std::uint32_t> idx(data.count);
  std::iota(idx.begin(), idx.end(), 0u);
  Tensor x;
  std::vector<int> y(static_cast<std::size_t>(batch));
  double loss_sum = 0.0;
  std::size_t correct = 0;
  for (std::size_t b = 0; b < data.count; b += std::size_t(batch)) {
    const int n = int(std::min<std::size_t>(std::size_t(batch), data.count - b));
    data.gather(idx.data() + b, n, x, y.data());
    const Tensor& out = net.forward(x, {Mode::eval, 0});
    loss_sum += net.loss().compute(out, y.data(), nullptr) * n;
    for (int i = 0; i < n; ++i) {
      const float* o = out.sample(i);
      const int pred = int(std::max_element(o, o + K) - o);
      correct += pred == y[std::size_t(i)];
      ++ev.confusion[std::size_t(y[std::size_t(i)])][std::size_t(pred)];
    }
  }
  if (ev.count) {
    ev.loss = loss_sum / double(ev.count);
    ev.accuracy = double(correct) / double(ev.count);
  }
  return ev;
}

Trainer::Trainer(Network& net, Optimizer& optimizer, TrainOptions options)
    : net_(net), opt_(optimizer), options_(options) {
  if (options_.batch <= 0) throw Error("training: batch size must be positive, got " + std::to_string(options_.batch));
  if (options_.epochs < 0) throw Error("training: epochs must be ≥ 0, got " + std::to_string(options_.epochs));
  opt_.set_run_epochs(options_.epochs);
}

namespace {
std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
// The first rank whose hash differs from rank 0's, or 0 when all agree (every rank gets the same answer).
int differing_rank(const Collective& comm, std::uint64_t h) {
  std::vector<std::uint64_t> all(std::size_t(comm.size()));
  std::vector<std::size_t> bytes(all.size(), sizeof h);
  comm.all_gather(&h, bytes.data(), all.data());
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) return int(r);
  return 0;
}
}  // namespace

// Rank 0's parameters, buffers and optimizer state, on every rank: a run starts (or resumes) from one state. First
// the ranks check that they run the same training: the same settings, the same number of images, the same net.
void Trainer::share_state(const Collective& comm, const BatchSource& train, int start_epoch) {
  const std::string settings = std::to_string(options_.seed) + " " + std::to_string(options_.batch) + " " +
                               std::to_string(options_.epochs) + " " + std::to_string(start_epoch) + " " +
                               options_.augment.str() + " " + std::to_string(train.count) + " " +
                               std::to_string(net_.params().size()) + " " + std::to_string(net_.buffers().size());
  if (const int r = differing_rank(comm, fnv1a(settings.data(), settings.size())))
    throw Error("rank " + std::to_string(r) + " was started with other settings than rank 0 (seed, batch, epochs, "
                "augmentation, the number of training images or the net differ): every rank must run the same "
                "command on the same data");
  auto share = [&](std::vector<float>& v) {
    std::uint64_t n = v.size();
    comm.broadcast(&n, sizeof n, 0);
    if (n != v.size())
      throw Error("rank " + std::to_string(comm.rank()) + ": the optimizer has " + std::to_string(v.size()) +
                  " values where rank 0's has " + std::to_string(n));
    comm.broadcast(v.data(), v.size() * sizeof(float), 0);
  };
  share(net_.params());
  share(net_.buffers());
  std::vector<float> state = opt_.state();
  share(state);
  opt_.restore(opt_.steps(), state);
}

// The parameters and buffers must have the same bits on every rank after every epoch (a hash of them compared).
void Trainer::check_same_state(const Collective& comm, int epoch) {
  const std::uint64_t h = fnv1a(net_.buffers().data(), net_.buffers().size() * sizeof(float),
                                fnv1a(net_.params().data(), net_.params().size() * sizeof(float)));
  if (const int r = differing_rank(comm, h))
    throw Error("after epoch " + std::to_string(epoch) + " rank " + std::to_string(r) +
                "'s parameters differ from rank 0's (the ranks must run the same build on the same data)");
}

bool Trainer::fit(const Dataset& train, const Dataset* test, int start_epoch) {
  const BatchSource t = source_of(train);
  if (!test) return fit(t, nullptr, start_epoch);
  const BatchSource v = source_of(*test);
  return fit(t, &v, start_epoch);
}

bool Trainer::fit(const BatchSource& train, const BatchSource* test, int start_epoch) {
  using clock = std::chrono::steady_clock;
  check_sample_shape("training data (" + train.name + ")", net_.input_shape(), train.sample);
  if (test) check_sample_shape("test data (" + test->name + ")", net_.input_shape(), test->sample);
  const int K = int(net_.output_shape().sample_size());
  if (train.classes > K)
    throw Error("training data (" + train.name + ") has " + std::to_string(train.classes) +
                " classes but the network has " + std::to_string(K) + " outputs");
  if (train.count == 0) throw Error("training data (" + train.name + ") is empty");
  const std::size_t B = std::size_t(options_.batch);
  const std::size_t batches = (train.count + B - 1) / B;
  const Collective* comm = options_.comm && options_.comm->size() > 1 ? options_.comm : nullptr;
  if (comm) share_state(*comm, train, start_epoch);
  Tensor x;
  std::vector<int> y(B);
  for (int epoch = start_epoch; epoch < options_.epochs; ++epoch) {
    const auto order = epoch_order(train.count, options_.seed, epoch);
    const auto t0 = clock::now();
    double loss_sum = 0.0;
    std::size_t seen = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const int n = int(std::min(B, train.count - b * B));
      // this process's share of the batch: all of it, or its ranks' block of the batch's chunks
      const auto [i0, i1] = comm ? local_images(n, comm->rank(), comm->size()) : std::pair<int, int>{0, n};
      train.gather(order.data() + b * B + i0, i1 - i0, x, y.data());
      if (train.prefetch && b + 1 < batches) {
        const int next = int(std::min(B, train.count - (b + 1) * B));
        const auto [j0, j1] = comm ? local_images(next, comm->rank(), comm->size()) : std::pair<int, int>{0, next};
        train.prefetch(order.data() + (b + 1) * B + j0, j1 - j0);
      }
      const std::uint64_t step = std::uint64_t(epoch) * batches + b;
      augment_batch(options_.augment, x, options_.seed, step, i0);
      const double loss = net_.forward_backward(x, y.data(), step, {comm, n});
      if (!std::isfinite(loss))
        throw Error("training diverged: the loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                    " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                    " (try a lower learning rate)");
      opt_.set_position(epoch, b, batches);
      opt_.step(net_);
      loss_sum += loss * n;
      seen += std::size_t(n);
      if (on_batch) {
        const double el = std::chrono::duration<double>(clock::now() - t0).count();
        on_batch({epoch + 1, b + 1, batches, loss_sum / double(seen), double(seen) / std::max(el, 1e-9), el});
      }
      if (should_stop && should_stop()) return true;
    }
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    EpochReport r{epoch + 1, loss_sum / double(seen), {}, secs, double(seen) / std::max(secs, 1e-9)};
    if (comm) check_same_state(*comm, epoch + 1);
    if (test && test->count && (!comm || comm->rank() == 0)) r.test = evaluate(net_, *test, options_.eval_batch);
    if (on_epoch) on_epoch(r);
  }
  return false;
}

}  // namespace cnn
