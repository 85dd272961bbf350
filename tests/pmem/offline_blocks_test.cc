// OfflineBlocksWithin: every block tried, each bounded by its timeout, all of them by the budget.
#include "pmem/offline_blocks.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>

namespace warmboot {
namespace {

using std::chrono::milliseconds;

// Blocks by index: the errno each offline returns; a hanging block (ETIMEDOUT) takes its whole
// timeout of the fake clock, every other answer none.
struct FakeKernel {
  std::map<uint64_t, int> answer;
  std::chrono::steady_clock::time_point clock{};
  std::map<uint64_t, milliseconds> given;  // the timeout each block got
  std::map<uint64_t, milliseconds> takes;  // how long a block that goes offline takes

  OfflineBlocksResult Run(std::vector<uint64_t> blocks, milliseconds block_timeout,
                          milliseconds budget) {
    return OfflineBlocksWithin(
        blocks, block_timeout, budget,
        [&](uint64_t index, milliseconds timeout) {
          given[index] = timeout;
          const int err = answer.count(index) ? answer[index] : 0;
          if (err == ETIMEDOUT) clock += timeout;
          if (err == 0 && takes.count(index)) clock += takes[index];
          return err;
        },
        [&] { return clock; });
  }
};

TEST(OfflineBlocksTest, ManyHangingBlocksTakeTheBudgetNotATimeoutEach) {
  FakeKernel k;
  for (uint64_t i = 20; i < 24; ++i) k.answer[i] = ETIMEDOUT;
  auto r = k.Run({20, 21, 22, 23}, milliseconds(10000), milliseconds(15000));
  EXPECT_EQ(k.clock.time_since_epoch(), milliseconds(15000));
  EXPECT_EQ(k.given[20], milliseconds(10000));
  EXPECT_EQ(k.given[21], milliseconds(5000));  // what was left
  EXPECT_EQ(k.given.count(22), 0u);            // not tried: nothing left
  EXPECT_EQ(r.why, "memory20: not offline after 10000 ms");
  EXPECT_TRUE(r.retryable);
}

// A large machine's pass that keeps offlining is progress: only blocks that stay online spend
// the budget (1536 blocks at 40 ms each would otherwise run out of a 60 s step).
TEST(OfflineBlocksTest, BlocksThatGoOfflineDoNotSpendTheBudget) {
  FakeKernel k;
  std::vector<uint64_t> blocks;
  for (uint64_t i = 0; i < 1536; ++i) {
    blocks.push_back(i);
    k.takes[i] = milliseconds(40);
  }
  k.answer[1000] = ETIMEDOUT;
  auto r = k.Run(blocks, milliseconds(10000), milliseconds(60000));
  EXPECT_EQ(k.given.size(), 1536u);  // every block tried
  EXPECT_EQ(k.given[1001], milliseconds(10000));
  EXPECT_EQ(r.why, "memory1000: not offline after 10000 ms");
}

TEST(OfflineBlocksTest, EveryBlockIsTriedWhenOneRefuses) {
  FakeKernel k;
  k.answer[20] = EBUSY;
  auto r = k.Run({20, 21, 22}, milliseconds(10000), milliseconds(60000));
  EXPECT_EQ(k.given.size(), 3u);
  EXPECT_EQ(r.why, "memory20: Device or resource busy");
  EXPECT_TRUE(r.retryable);
}

TEST(OfflineBlocksTest, AnErrorNoRetryMendsIsSaid) {
  FakeKernel k;
  k.answer[21] = EIO;
  auto r = k.Run({20, 21}, milliseconds(10000), milliseconds(60000));
  EXPECT_EQ(r.why, "memory21: Input/output error");
  EXPECT_FALSE(r.retryable);
}

TEST(OfflineBlocksTest, NoBudgetLeftTriesNothing) {
  FakeKernel k;
  auto r = k.Run({20, 21}, milliseconds(10000), milliseconds(0));
  EXPECT_TRUE(k.given.empty());
  EXPECT_EQ(r.why, "the step's time ran out before memory20");
  EXPECT_TRUE(r.retryable);
}

TEST(OfflineBlocksTest, AllOfflineSaysNothing) {
  FakeKernel k;
  auto r = k.Run({20, 21}, milliseconds(10000), milliseconds(60000));
  EXPECT_TRUE(r.why.empty());
  EXPECT_TRUE(r.retryable);
}

}  // namespace
}  // namespace warmboot
