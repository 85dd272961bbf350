#include "bench/random_fill.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/daemon_process.h"
#include "util/io.h"
#include "util/xoshiro.h"

namespace warmboot::bench {
namespace {

constexpr size_t kBuffer = 1 << 20;

double Clock(clockid_t id) {
  struct timespec ts;
  ::clock_gettime(id, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

FillCost FillRandom(const std::vector<int>& fds, uint64_t bytes, uint64_t seed) {
  std::vector<uint64_t> words(kBuffer / 8);
  Xoshiro256 rng(seed);
  FillCost cost;
  for (uint64_t off = 0; off < bytes; off += kBuffer) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBuffer, bytes - off));
    for (size_t i = 0; i < (n + 7) / 8; ++i) words[i] = rng.Next();
    const double wall = Clock(CLOCK_MONOTONIC), cpu = Clock(CLOCK_THREAD_CPUTIME_ID);
    for (int fd : fds) {
      if (int err = PwriteAll(fd, words.data(), n, off); err != 0) {
        Fail(std::string("cannot fill a descriptor: ") + std::strerror(err));
      }
    }
    cost.cpu_s += Clock(CLOCK_THREAD_CPUTIME_ID) - cpu;
    cost.wall_s += Clock(CLOCK_MONOTONIC) - wall;
  }
  return cost;
}

UniqueFd NewMemfd(const std::string& name) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) Fail(std::string("memfd_create: ") + std::strerror(errno));
  return fd;
}

void Seal(int fd) {
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) != 0) {
    Fail(std::string("cannot seal a memfd: ") + std::strerror(errno));
  }
}

}  // namespace warmboot::bench
