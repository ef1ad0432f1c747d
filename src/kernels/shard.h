// A process's share of a global batch, and the fixed-order sums over it (include/cnn/collective.h says the rule).
// Layers whose results add up over the batch ask shard_for(n) how the batch of n images they are given is cut:
// with one process that is the whole batch in batch_chunks(n) chunks; during a distributed training step it is this
// rank's block of the global batch's chunks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "cnn/collective.h"
#include "kernels/parallel.h"

namespace cnn::kernels {

class Shard {
 public:
  // Node [lo, hi) of the chunk tree.
  using Node = std::pair<int, int>;

  explicit Shard(int n);  // the whole batch of n images, one process
  Shard(int global_n, const Collective* comm);

  int global_n() const { return global_n_; }
  int chunks() const { return chunks_; }
  int local_chunks() const { return last_ - first_; }
  // Local index of the first image of local chunk j (j = local_chunks() gives the local batch size).
  int begin(int j) const { return chunk_begin(global_n_, chunks_, first_ + j) - offset_; }
  int local_n() const { return begin(local_chunks()); }
  int offset() const { return offset_; }  // the global index of local image 0
  bool distributed() const { return ranks_ > 1; }

  // Where gradients' subtree sums go: subtree 0 of a layer's gradient into the layer's own place in the network's
  // gradient buffer (`grads`, `stride` floats), subtree k ≥ 1 into `extra` + (k − 1)·stride at the same offset.
  void set_gradient_slots(float* grads, float* extra, std::size_t stride) {
    grads_ = grads, extra_ = extra, stride_ = stride;
  }
  int subtrees() const { return int(mine_.size()); }
  std::size_t stride() const { return stride_; }

  // Adds the local chunks' partial sums part(j) (count values each, overwritten as scratch) up this rank's
  // subtrees; subtree k goes to out_k(k) (count values).
  template <class T, class Part, class Out>
  void fold(Part&& part, std::size_t count, Out&& out_k) const {
    for (std::size_t k = 0; k < mine_.size(); ++k) {
      const T* s = fold_local<T>(part, count, mine_[k].first - first_, mine_[k].second - first_);
      T* o = out_k(int(k));
      if (o != s) std::copy(s, s + count, o);
    }
  }
  // A gradient: fold into the gradient slots (dw is the layer's gradient in the network's buffer). With one process
  // the result is the whole batch's sum; distributed, Network::forward_backward completes it (combine_gradients).
  template <class Part>
  void fold_gradient(Part&& part, std::size_t count, float* dw) const {
    fold<float>(part, count, [&](int k) { return gradient_slot(dw, k); });
  }
  // Where subtree k of the gradient whose subtree 0 is at dw goes.
  float* gradient_slot(float* dw, int k) const { return k == 0 ? dw : extra_ + (k - 1) * stride_ + (dw - grads_); }
  // The sum over the whole global batch, the same bits on every rank: fold, exchange the subtrees, add the rest.
  template <class T, class Part>
  void sum(Part&& part, std::size_t count, T* out) const {
    if (!distributed()) {
      fold<T>(part, count, [&](int) { return out; });
      return;
    }
    std::vector<T> mine(mine_.size() * count);
    fold<T>(part, count, [&](int k) { return mine.data() + std::size_t(k) * count; });
    std::vector<T> all(total_subtrees_ * count);
    exchange(mine.data(), count * sizeof(T), all.data());
    const T* s = add_tree<T>(all.data(), count, {0, chunks_});
    std::copy(s, s + count, out);
  }
  // Completes the gradients of a distributed step: every rank's subtrees (grads and extra, `stride` floats each)
  // exchanged and added up the rest of the tree; the floats of [0, stride) that `keep` marks (ranges already summed
  // over the global batch, batch normalisation's) are left as they are.
  void combine_gradients(const std::vector<std::pair<std::size_t, std::size_t>>& keep) const;

 private:
  // The sum of local chunks [lo, hi) (a node of the tree, in local indices), in part(lo)'s storage.
  template <class T, class Part>
  static T* fold_local(Part& part, std::size_t count, int lo, int hi) {
    if (hi - lo == 1) return part(lo);
    const int mid = lo + (hi - lo) / 2;
    T* a = fold_local<T>(part, count, lo, mid);
    const T* b = fold_local<T>(part, count, mid, hi);
    add_into(a, b, count);
    return a;
  }
  // The sum of tree node `node` over the exchanged subtrees `all` (every rank's, in chunk order), in place.
  template <class T>
  T* add_tree(T* all, std::size_t count, Node node) const {
    for (std::size_t i = 0; i < all_nodes_.size(); ++i)
      if (all_nodes_[i] == node) return all + i * count;
    const int mid = node.first + (node.second - node.first) / 2;
    T* a = add_tree(all, count, {node.first, mid});
    const T* b = add_tree(all, count, {mid, node.second});
    add_into(a, b, count);
    return a;
  }
  template <class T>
  static void add_into(T* a, const T* b, std::size_t count) {
    constexpr std::size_t kSlab = 1 << 14;  // big gradients are added on the pool, slab by slab
    const int slabs = int((count + kSlab - 1) / kSlab);
    if (slabs <= 1) {
      for (std::size_t i = 0; i < count; ++i) a[i] += b[i];
      return;
    }
    parallel_for(slabs, [&](int s) {
      const std::size_t e = std::min(count, (std::size_t(s) + 1) * kSlab);
      for (std::size_t i = std::size_t(s) * kSlab; i < e; ++i) a[i] += b[i];
    });
  }
  void exchange(const void* mine, std::size_t node_bytes, void* all) const;

  int global_n_ = 0, chunks_ = 1, first_ = 0, last_ = 1, offset_ = 0, ranks_ = 1, rank_ = 0;
  const Collective* comm_ = nullptr;
  std::vector<Node> mine_;               // this rank's subtrees, in chunk order
  std::vector<Node> all_nodes_;          // every rank's, in rank order (distributed only)
  std::vector<std::size_t> rank_nodes_;  // how many each rank has (distributed only)
  std::size_t total_subtrees_ = 0;
  float* grads_ = nullptr;
  float* extra_ = nullptr;
  std::size_t stride_ = 0;
};

// The shard of a batch of n images: the one of the distributed step in progress on this thread when it holds n
// images, else the whole batch of n.
const Shard& shard_for(int n);

// Makes `shard` the step in progress on this thread while it lives.
class ShardScope {
 public:
  explicit ShardScope(const Shard* shard);
  ~ShardScope();
  ShardScope(const ShardScope&) = delete;
  ShardScope& operator=(const ShardScope&) = delete;

 private:
  const Shard* previous_;
};

}  // namespace cnn::kernels
