// A pack plan is made before preserve's point of no return and written after it: packing from
// the plan gives the same image as packing from the tree, and a file that changed size in
// between fails the pack, naming it, instead of being cut short or overrunning the plan.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

class PackPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(state_.path());
    testing::WriteFile(state_ / "grow.bin", testing::RandomBytes(10000, 5));
    options_.chunk_size = 4096;
  }
  TempDir state_, out_;
  PackOptions options_;
};

TEST_F(PackPlanTest, PackFromThePlanRestoresTheTree) {
  auto plan = PlanPack(state_.path(), options_);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->summary().entries, 9u);  // MakeSmallState: 8
  MemoryMedia media(1 << 20);
  auto r = PackImage(*plan, media, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->raw_bytes, plan->summary().raw_bytes);
  EXPECT_LE(r->image_bytes, plan->summary().worst_case_image_bytes);
  ASSERT_TRUE(UnpackImage(media, out_ / "dest", {}).ok());
  EXPECT_EQ(testing::DiffTrees(state_.path(), out_ / "dest"), "");
}

TEST_F(PackPlanTest, AFileThatChangedSizeFailsThePackByName) {
  for (uint64_t now : {uint64_t{10001}, uint64_t{12288 + 5000}, uint64_t{9999}, uint64_t{100}}) {
    SCOPED_TRACE(now);
    testing::WriteFile(state_ / "grow.bin", testing::RandomBytes(10000, 5));
    auto plan = PlanPack(state_.path(), options_);
    ASSERT_TRUE(plan.ok());
    std::filesystem::resize_file(state_ / "grow.bin", now);
    MemoryMedia media(1 << 20);
    auto r = PackImage(*plan, media, options_);
    ASSERT_FALSE(r.ok()) << "packed a file whose size changed from 10000 to " << now;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("grow.bin"), std::string::npos) << r.status().ToString();
    auto v = VerifyImage(media, {});
    EXPECT_FALSE(v.ok()) << "a failed pack left a valid image";
  }
}

// Rewritten in place between plan and pack, same size: the checksums would pass on a torn copy.
TEST_F(PackPlanTest, AFileRewrittenInPlaceFailsThePackByName) {
  auto plan = PlanPack(state_.path(), options_);
  ASSERT_TRUE(plan.ok());
  testing::WriteFile(state_ / "grow.bin", testing::RandomBytes(10000, 6));  // same size
  MemoryMedia media(1 << 20);
  auto r = PackImage(*plan, media, options_);
  ASSERT_FALSE(r.ok()) << "packed a file rewritten after it was planned";
  EXPECT_NE(r.status().message().find("grow.bin was written while being packed"), std::string::npos)
      << r.status().ToString();
}

// Swapped for a FIFO between plan and pack: a clear error, not an open that waits for a writer.
TEST_F(PackPlanTest, AFileReplacedByAFifoFailsThePackByName) {
  auto plan = PlanPack(state_.path(), options_);
  ASSERT_TRUE(plan.ok());
  std::filesystem::remove(state_ / "grow.bin");
  ASSERT_EQ(::mkfifo((state_ / "grow.bin").c_str(), 0600), 0);
  pid_t pid = ::fork();  // a hang ends the child (SIGALRM), not the test run
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(10);
    MemoryMedia media(1 << 20);
    auto r = PackImage(*plan, media, options_);
    bool named = !r.ok() && r.status().message().find("grow.bin is no longer a regular file") !=
                                std::string::npos;
    ::_exit(named ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the pack hung (ended by signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the pack did not fail naming grow.bin";
}

TEST_F(PackPlanTest, ThePlanFixesTheChunkSize) {
  auto plan = PlanPack(state_.path(), options_);
  ASSERT_TRUE(plan.ok());
  PackOptions other = options_;
  other.chunk_size = 8192;
  MemoryMedia media(1 << 20);
  auto r = PackImage(*plan, media, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(media.bytes_written(), 0u);
}

}  // namespace
}  // namespace warmboot
