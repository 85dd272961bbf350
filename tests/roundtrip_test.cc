#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/test_util.h"
#include "warmboot/image.h"

namespace warmboot {
namespace {

using testing::TempDir;

TEST(RoundTripTest, SmallTreeThroughMemoryMedia) {
  TempDir state, out;
  testing::MakeDirs(state / "a/b");
  testing::WriteFile(state / "a/b/f.txt", "hello", 0640);
  testing::WriteRandomFile(state / "big.bin", 3 * 1024 * 1024 + 17, 1);
  ASSERT_EQ(::symlink("a/b/f.txt", (state / "link").c_str()), 0);
  MemoryMedia media(64 << 20);
  auto packed = PackImage(state.path(), media, {});
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  EXPECT_EQ(packed->files, 2u);
  auto unpacked = UnpackImage(media, out / "dest", {});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_FALSE(unpacked->partial());
  EXPECT_EQ(testing::DiffTrees(state.path(), out / "dest"), "");
}

}  // namespace
}  // namespace warmboot
