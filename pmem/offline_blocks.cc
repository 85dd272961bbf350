#include "pmem/offline_blocks.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace warmboot {

OfflineBlocksResult OfflineBlocksWithin(
    const std::vector<uint64_t>& blocks, std::chrono::milliseconds block_timeout,
    std::chrono::milliseconds budget,
    const std::function<int(uint64_t, std::chrono::milliseconds)>& offline,
    const std::function<std::chrono::steady_clock::time_point()>& now) {
  OfflineBlocksResult r;
  // Only what blocks that stayed online took is charged: a pass that keeps offlining is progress,
  // however many blocks a large machine has.
  std::chrono::steady_clock::duration failing{0};
  for (uint64_t index : blocks) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(budget - failing);
    if (left.count() <= 0) {
      if (r.why.empty()) r.why = "the step's time ran out before memory" + std::to_string(index);
      break;
    }
    const auto timeout = std::min(block_timeout, left);
    const auto start = now();
    const int err = offline(index, timeout);
    if (err == 0) continue;
    failing += now() - start;
    // The kernel refuses an offline it may grant later (pages it could not migrate yet) with
    // EBUSY, EAGAIN, EINTR or ENOMEM, and a timeout is the same story: worth a retry.
    if (err != EBUSY && err != EAGAIN && err != EINTR && err != ENOMEM && err != ETIMEDOUT) {
      r.retryable = false;
    }
    if (r.why.empty()) {
      r.why = "memory" + std::to_string(index) + ": " +
              (err == ETIMEDOUT ? "not offline after " + std::to_string(timeout.count()) + " ms"
                                : std::string(std::strerror(err)));
    }
  }
  return r;
}

}  // namespace warmboot
