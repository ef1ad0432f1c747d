#include "kernels/shard.h"

#include <map>

#include "cnn/error.h"

namespace cnn {

namespace {
// Rank r's block of chunks [r·C/R, (r+1)·C/R).
std::pair<int, int> block(int chunks, int rank, int ranks) {
  return {int((long long)chunks * rank / ranks), int((long long)chunks * (rank + 1) / ranks)};
}

// The largest nodes of the tree over [0, chunks) that lie inside [first, last), in chunk order.
void largest_nodes(kernels::Shard::Node node, int first, int last, std::vector<kernels::Shard::Node>& out) {
  if (node.second <= first || node.first >= last) return;
  if (node.first >= first && node.second <= last) {
    out.push_back(node);
    return;
  }
  const int mid = node.first + (node.second - node.first) / 2;
  largest_nodes({node.first, mid}, first, last, out);
  largest_nodes({mid, node.second}, first, last, out);
}
}  // namespace

std::pair<int, int> local_images(int n, int rank, int ranks) {
  const int chunks = kernels::batch_chunks(n);
  const auto [first, last] = block(chunks, rank, ranks);
  return {kernels::chunk_begin(n, chunks, first), kernels::chunk_begin(n, chunks, last)};
}

namespace kernels {

Shard::Shard(int n) : global_n_(n), chunks_(batch_chunks(n)), first_(0), last_(chunks_) {
  mine_.push_back({0, chunks_});
}

Shard::Shard(int global_n, const Collective* comm) : Shard(global_n) {
  if (!comm || comm->size() <= 1) return;
  if (global_n < 1) throw Error("distributed step: the global batch is empty");
  comm_ = comm, ranks_ = comm->size(), rank_ = comm->rank();
  std::tie(first_, last_) = block(chunks_, rank_, ranks_);
  offset_ = chunk_begin(global_n_, chunks_, first_);
  for (int r = 0; r < ranks_; ++r) {
    const auto [f, l] = block(chunks_, r, ranks_);
    std::vector<Node> nodes;
    largest_nodes({0, chunks_}, f, l, nodes);
    if (r == rank_) mine_ = nodes;
    rank_nodes_.push_back(nodes.size());
    all_nodes_.insert(all_nodes_.end(), nodes.begin(), nodes.end());
  }
  total_subtrees_ = all_nodes_.size();
}

void Shard::exchange(const void* mine, std::size_t node_bytes, void* all) const {
  std::vector<std::size_t> bytes(rank_nodes_.size());
  for (std::size_t r = 0; r < bytes.size(); ++r) bytes[r] = rank_nodes_[r] * node_bytes;
  comm_->all_gather(mine, bytes.data(), all);
}

void Shard::combine_gradients(const std::vector<std::pair<std::size_t, std::size_t>>& keep) const {
  if (!distributed()) return;
  const std::size_t P = stride_;
  std::vector<float> mine(mine_.size() * P);
  if (!mine_.empty()) std::copy(grads_, grads_ + P, mine.begin());
  for (std::size_t k = 1; k < mine_.size(); ++k) std::copy(extra_ + (k - 1) * P, extra_ + k * P, mine.begin() + k * P);
  std::vector<float> all(total_subtrees_ * P);
  exchange(mine.data(), P * sizeof(float), all.data());
  const float* s = add_tree<float>(all.data(), P, {0, chunks_});
  std::size_t at = 0;
  for (const auto& [b, e] : keep) {
    std::copy(s + at, s + b, grads_ + at);
    at = e;
  }
  std::copy(s + at, s + P, grads_ + at);
}

namespace {
thread_local const Shard* active = nullptr;
}

const Shard& shard_for(int n) {
  if (active && active->local_n() == n) return *active;
  thread_local std::map<int, Shard> whole;
  auto it = whole.find(n);
  if (it == whole.end()) it = whole.emplace(n, Shard(n)).first;
  return it->second;
}

ShardScope::ShardScope(const Shard* shard) : previous_(active) { active = shard; }
ShardScope::~ShardScope() { active = previous_; }

}  // namespace kernels
}  // namespace cnn
