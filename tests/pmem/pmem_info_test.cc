// The seam's own helpers: mode names and the block lists every message uses.
#include <gtest/gtest.h>

#include "pmem/pmem.h"

namespace warmboot {
namespace {

TEST(PmemInfoTest, ModeNamesRoundTrip) {
  for (PmemMode m : {PmemMode::kSystemRam, PmemMode::kDevdax, PmemMode::kRaw, PmemMode::kFsdax}) {
    EXPECT_EQ(PmemModeFromName(PmemModeName(m)), m);
  }
  EXPECT_STREQ(PmemModeName(PmemMode::kUnknown), "unknown");
  EXPECT_EQ(PmemModeFromName("sector"), PmemMode::kUnknown);
}

TEST(PmemInfoTest, BlockNamesListsAndCaps) {
  std::vector<MemoryBlockState> blocks;
  for (uint64_t i = 16; i < 20; ++i) blocks.push_back({i, i % 2 == 0, "Movable"});
  EXPECT_EQ(BlockNames(blocks, true), "memory16, memory18");
  EXPECT_EQ(BlockNames(blocks, false), "memory17, memory19");
  std::vector<MemoryBlockState> many(40, MemoryBlockState{0, true, "Movable"});
  for (uint64_t i = 0; i < many.size(); ++i) many[i].index = i;
  std::string s = BlockNames(many, true);
  EXPECT_NE(s.find("memory31 and 8 more"), std::string::npos) << s;
  EXPECT_EQ(BlockNames(many, false), "");
}

}  // namespace
}  // namespace warmboot
