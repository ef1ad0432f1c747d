// Processes that train one model together (data parallelism across processes and machines). The library never
// talks to MPI itself: the `cnn` tool wraps MPI in a Collective (tools/cnn/mpi.cpp), and a program that embeds the
// library can wrap whatever it runs on.
//
// How a global batch is shared: it is cut into the thread pool's chunks (kernels::batch_chunks of the global batch
// size, a number that depends on the batch only); rank r of R takes the contiguous block of chunks
// [r·C/R, (r+1)·C/R), and its threads take chunks of that block. Every sum over the batch — each parameter's
// gradient, batch normalisation's statistics, the loss — is one fixed binary tree over the chunks: a node is the sum
// of its two halves, a leaf is one chunk's own sum. A rank adds up the largest subtrees inside its block, the ranks
// exchange those (an all-gather), and every rank adds the rest of the tree in the same order. So the sums, and with
// them every parameter after every step, have the same bits for any number of processes and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace cnn {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's bytes, concatenated in rank order, into `all` on every rank: rank r sends bytes[r] bytes (the
  // same array of sizes on every rank).
  virtual void all_gather(const void* mine, const std::size_t* bytes, void* all) const = 0;
  // Rank `root`'s `bytes` bytes of `data` into every rank's `data`.
  virtual void broadcast(void* data, std::size_t bytes, int root) const = 0;
};

// Global indices [begin, end) of the images of a global batch of n that rank `rank` of `ranks` works on.
std::pair<int, int> local_images(int n, int rank, int ranks);

// The chunks of a global batch that a training step of this process works on (see Network::forward_backward).
struct BatchPart {
  const Collective* comm = nullptr;  // nullptr: one process
  int global_n = 0;                  // images in the global batch (this process holds local_images of them)
};

}  // namespace cnn
