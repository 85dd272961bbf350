#include "util/parallel_for.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace warmboot {

Status ParallelFor(size_t count, unsigned workers,
                   const std::function<Status(size_t index, unsigned worker)>& task) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status first_error;
  auto work = [&](unsigned w) {
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) return;
      // An exception must not leave a thread (std::terminate): out of memory in a task is its
      // failure, and the others stop.
      Status s;
      try {
        s = task(i, w);
      } catch (const std::exception& e) {
        s = Status(Code::kIoError, std::string("stopped: ") + e.what());
      } catch (...) {
        s = Status(Code::kIoError, "stopped by an exception");
      }
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = s;
        stop = true;
      }
    }
  };
  workers = std::max(1u, std::min<unsigned>(workers, count ? count : 1));
  std::vector<std::thread> threads;
  // A thread the system refuses (a cgroup's pids.max, RLIMIT_NPROC, memory) is a worker fewer,
  // not an abort: the calling thread is always one, and the tasks are shared as they come.
  try {
    threads.reserve(workers);
  } catch (...) {
    workers = 1;
  }
  for (unsigned w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(work, w);
    } catch (...) {
      break;
    }
  }
  work(0);
  for (auto& t : threads) t.join();
  return first_error;
}

}  // namespace warmboot
