// What must happen before any shared library starts. OpenBLAS starts a thread per core when it is loaded, before
// main; when the process limit (ulimit -u, a container's pids limit) refuses one, it prints two lines of its own and
// kills the process with SIGINT, so the tool would die before its first word. The library runs every product on its
// own pool with OpenBLAS kept to one thread (kernels/gemm_im2col.cpp), so OpenBLAS may as well start none: it reads
// OPENBLAS_NUM_THREADS when it loads. The executable's .preinit_array runs before the initialiser of any shared
// library, but also before the C library's, which sets the environment afresh from the one the process was started
// with: so the variable is changed there in place when it is set, and otherwise, where a process limit is low
// enough to matter, the tool starts itself again with it (one exec; ordinary machines never pay it).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

constexpr char kVar[] = "OPENBLAS_NUM_THREADS=";
constexpr long kLowLimit = 4096;  // processes (threads count) below which a limit is someone's choice

// A number in the first line of `path` below kLowLimit ("max", no file: no limit).
bool low_limit_in(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char b[32] = {};
  const ssize_t n = ::read(fd, b, sizeof b - 1);
  ::close(fd);
  return n > 0 && b[0] >= '0' && b[0] <= '9' && std::strtol(b, nullptr, 10) < kLowLimit;
}

bool low_process_limit() {
  rlimit r{};
  if (::geteuid() != 0 && ::getrlimit(RLIMIT_NPROC, &r) == 0 && r.rlim_cur != RLIM_INFINITY &&
      r.rlim_cur < rlim_t(kLowLimit))
    return true;
  return low_limit_in("/sys/fs/cgroup/pids.max") || low_limit_in("/sys/fs/cgroup/pids/pids.max");
}

void one_openblas_thread(int, char** argv, char** envp) {
  std::size_t count = 0;
  for (char** e = envp; *e; ++e, ++count)
    if (std::strncmp(*e, kVar, sizeof kVar - 1) == 0) {
      if ((*e)[sizeof kVar - 1] != '\0') (*e)[sizeof kVar - 1] = '1', (*e)[sizeof kVar] = '\0';
      return;
    }
  static char* again[4096];
  static char var[] = "OPENBLAS_NUM_THREADS=1";
  if (count + 2 > sizeof again / sizeof *again || !low_process_limit()) return;
  std::memcpy(again, envp, count * sizeof *envp);
  again[count] = var;
  ::execve("/proc/self/exe", argv, again);  // where it fails, on as before
}

}  // namespace

__attribute__((section(".preinit_array"), used)) void (*const cnn_preinit)(int, char**, char**) = one_openblas_thread;
