// Offlining a device's memory blocks one after another, every block tried, within one budget.
// The kernel retries a block's migration until a signal arrives, so each block is bounded by a
// timeout; this bounds them all together too: a shutdown with many slow blocks waits `budget`,
// not block_timeout per block. Written once, used by the real platform (pmem/ndctl) and the
// simulated one (testing/), so both keep the same rule.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace warmboot {

struct OfflineBlocksResult {
  // The first refusal, said ("memory20: Device or resource busy", "memory21: not offline after
  // 10000 ms", "the step's time ran out before memory22"); empty when every block went offline.
  std::string why;
  // False when some block failed in a way a retry cannot mend (not EBUSY, EAGAIN, EINTR, ENOMEM
  // or a timeout).
  bool retryable = true;
};

// `offline(index, timeout)` offlines one block, bounded by `timeout`: 0 or an errno value
// (ETIMEDOUT when the timeout expired). `now` is the clock the budget is spent on. The budget is
// spent by the blocks that stay online (refused or timed out), never by one that went offline:
// each block gets min(block_timeout, what is left of budget); once nothing is left, the blocks
// not yet tried are not tried (they stay online, as after a timeout).
OfflineBlocksResult OfflineBlocksWithin(
    const std::vector<uint64_t>& blocks, std::chrono::milliseconds block_timeout,
    std::chrono::milliseconds budget,
    const std::function<int(uint64_t index, std::chrono::milliseconds timeout)>& offline,
    const std::function<std::chrono::steady_clock::time_point()>& now);

}  // namespace warmboot
