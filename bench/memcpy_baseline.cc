// memcpy_baseline: times ONE memcpy of N bytes between two pre-faulted buffers, the in-memory
// upper bound that bench/run compares warmboot's throughput against.
//
//   memcpy_baseline SIZE [--repeat N]
//
// SIZE takes K/M/G suffixes (powers of two). Both buffers are memset (to different non-zero
// values, so every page is really faulted in, not mapped to the shared zero page) before the
// clock starts. Each repetition copies the whole buffer once with a single memcpy call on one
// thread. Prints one JSON object: every run's seconds, the best, and bytes/s of the best.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/size_arg.h"

namespace {

void* MapBuffer(uint64_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t bytes = 0;
  int repeat = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (bytes == 0 && warmboot::bench::ParseSize(argv[i], &bytes)) {
    } else {
      std::fprintf(stderr, "usage: memcpy_baseline SIZE [--repeat N]\n");
      return 2;
    }
  }
  if (bytes == 0) {
    std::fprintf(stderr, "usage: memcpy_baseline SIZE [--repeat N]\n");
    return 2;
  }
  auto* src = static_cast<uint8_t*>(MapBuffer(bytes));
  auto* dst = static_cast<uint8_t*>(MapBuffer(bytes));
  std::memset(src, 0x5a, bytes);
  std::memset(dst, 0xa5, bytes);

  std::vector<double> runs;
  for (int r = 0; r < repeat; ++r) {
    src[r % bytes] = static_cast<uint8_t>(r);  // make every copy observable
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst, src, bytes);
    auto t1 = std::chrono::steady_clock::now();
    // Keep the copy from being optimised away.
    asm volatile("" : : "r"(dst) : "memory");
    if (dst[r % bytes] != static_cast<uint8_t>(r)) return 1;
    runs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  double best = *std::min_element(runs.begin(), runs.end());
  std::printf("{\"bytes\": %llu, \"runs\": [", static_cast<unsigned long long>(bytes));
  for (size_t i = 0; i < runs.size(); ++i) std::printf("%s%.6f", i ? ", " : "", runs[i]);
  std::printf("], \"best_seconds\": %.6f, \"bytes_per_second\": %.0f}\n", best, bytes / best);
  return 0;
}
