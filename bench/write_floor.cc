// write_floor: times writing N bytes into FILE (from offset 8192, as an image's data) with
// pwrite(2) on every CPU, from one small cache-resident buffer per thread: no reading of state,
// no hashing. That is the fastest any writer can fill this medium, the ceiling for pack on it;
// bench/run reports pack against it next to memcpy.
//
//   write_floor FILE SIZE [--repeat N] [--threads N]
//
// FILE must exist (bench/run pre-allocates the image with fallocate, written in place). Prints
// one JSON object like memcpy_baseline: every run's seconds, the best, bytes/s of the best.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/size_arg.h"

namespace {

constexpr uint64_t kBlock = 1 << 20;  // pack's default chunk size
constexpr uint64_t kDataOffset = 8192;

int Usage() {
  std::fprintf(stderr, "usage: write_floor FILE SIZE [--repeat N] [--threads N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  uint64_t bytes = 0;
  int repeat = 1;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (file.empty()) {
      file = a;
    } else if (bytes == 0 && warmboot::bench::ParseSize(argv[i], &bytes)) {
    } else {
      return Usage();
    }
  }
  if (file.empty() || bytes == 0) return Usage();
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    std::perror(file.c_str());
    return 1;
  }
  const uint64_t blocks = (bytes + kBlock - 1) / kBlock;
  std::vector<double> runs;
  for (int r = 0; r < repeat; ++r) {
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&](unsigned t) {
      std::vector<uint8_t> buf(kBlock, static_cast<uint8_t>(0x5a + t + r));
      for (uint64_t b; (b = next.fetch_add(1)) < blocks;) {
        uint64_t len = std::min(kBlock, bytes - b * kBlock);
        if (::pwrite(fd, buf.data(), len, static_cast<off_t>(kDataOffset + b * kBlock)) !=
            static_cast<ssize_t>(len)) {
          failed = true;
          return;
        }
      }
    };
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& t : pool) t.join();
    auto t1 = std::chrono::steady_clock::now();
    if (failed) {
      std::perror("pwrite");
      return 1;
    }
    runs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  ::close(fd);
  double best = *std::min_element(runs.begin(), runs.end());
  std::printf("{\"bytes\": %llu, \"threads\": %u, \"runs\": [",
              static_cast<unsigned long long>(bytes), threads);
  for (size_t i = 0; i < runs.size(); ++i) std::printf("%s%.6f", i ? ", " : "", runs[i]);
  std::printf("], \"best_seconds\": %.6f, \"bytes_per_second\": %.0f}\n", best, bytes / best);
  return 0;
}
