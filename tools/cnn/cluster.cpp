#include "cluster.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "cnn/error.h"

#ifdef CNN_HAVE_MPI
#include <mpi.h>
#endif

namespace cnn::tool {

#ifdef CNN_HAVE_MPI
namespace {

// Whether a launcher started this process: Open MPI's mpirun, MPICH's hydra, Slurm's srun with PMI or PMIx.
bool launched() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

struct Timer {
  explicit Timer(double& total) : total_(total), t0_(MPI_Wtime()) {}
  ~Timer() { total_ += MPI_Wtime() - t0_; }
  double& total_;
  double t0_;
};

class MpiCollective : public Collective {
 public:
  MpiCollective() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_gather(const void* mine, const std::size_t* bytes, void* all) const override {
    const Timer timer(seconds_);
    std::vector<int> counts(static_cast<std::size_t>(size_)), at(static_cast<std::size_t>(size_));
    long long total = 0;
    for (int r = 0; r < size_; ++r) {
      if (bytes[r] > std::size_t(1) << 30) throw Error("all-gather: a message of over 1 GiB");
      counts[std::size_t(r)] = int(bytes[r]);
      at[std::size_t(r)] = int(total);
      total += (long long)bytes[r];
    }
    if (total > (1LL << 31) - 1) throw Error("all-gather: over 2 GiB in all");
    check(MPI_Allgatherv(mine, counts[std::size_t(rank_)], MPI_BYTE, all, counts.data(), at.data(), MPI_BYTE,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv");
  }
  void broadcast(void* data, std::size_t bytes, int root) const override {
    const Timer timer(seconds_);
    for (std::size_t at = 0; at < bytes;) {  // MPI counts are int
      const std::size_t n = std::min<std::size_t>(bytes - at, std::size_t(1) << 30);
      check(MPI_Bcast(static_cast<char*>(data) + at, int(n), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      at += n;
    }
  }

 private:
  static void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(std::string(what) + ": " + std::string(text, std::size_t(len)));
  }
  int rank_ = 0, size_ = 1;

 public:
  mutable double seconds_ = 0;  // in MPI calls, waiting for the other ranks included
};

MpiCollective* world = nullptr;

}  // namespace

void start_cluster(int& argc, char**& argv) {
  if (!launched()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);  // only the main thread calls MPI
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);     // errors become cnn::Error, then one line
  world = new MpiCollective;
  if (world->rank() != 0) std::cout.setstate(std::ios::badbit);
}

const Collective* cluster() { return world && world->size() > 1 ? world : nullptr; }
bool is_writer() { return !world || world->rank() == 0; }
double cluster_seconds() { return world ? world->seconds_ : 0.0; }

std::string cluster_description() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, std::size_t(len));
  if (const auto cut = v.find_first_of(",\n"); cut != std::string::npos) v.resize(cut);
  return "MPI: " + v + " (run under mpirun or srun to train with several processes)";
}

void finish_cluster() {
  if (world) MPI_Finalize();
}

void abort_cluster(const std::string& line, int status) {
  std::cout.flush();
  if (world && world->size() > 1) {
    std::cerr << "cnn: error: rank " << world->rank() << " of " << world->size() << ": " << line << std::endl;
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  std::cerr << "cnn: error: " << line << std::endl;
  if (world) MPI_Finalize();
  std::exit(status);
}

#else

void start_cluster(int&, char**&) {}
const Collective* cluster() { return nullptr; }
bool is_writer() { return true; }
double cluster_seconds() { return 0.0; }
std::string cluster_description() { return "MPI: not in this build (libopenmpi-dev was not found)"; }
void finish_cluster() {}
void abort_cluster(const std::string& line, int status) {
  std::cout.flush();
  std::cerr << "cnn: error: " << line << std::endl;
  std::exit(status);
}

#endif

}  // namespace cnn::tool
