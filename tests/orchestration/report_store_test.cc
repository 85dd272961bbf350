// SaveReport: a report is replaced whole, through a temporary of the writer's own.
#include "orchestration/report_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "testing/test_util.h"

namespace warmboot {
namespace {

TEST(ReportStoreTest, AReportIsReplacedWholeAndLeavesNoTemporary) {
  testing::TempDir dir;
  ASSERT_TRUE(SaveReport(dir.path(), "restore", {{"outcome", "restored"}}).ok());
  ASSERT_TRUE(SaveReport(dir.path(), "restore", {{"outcome", "partial"}}).ok());
  auto j = LoadReport(dir.path(), "restore");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->value("outcome", ""), "partial");
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename(), "restore.json") << "left behind: " << e.path();
  }
}

// Whatever lies where a temporary would go (another writer's, or a link planted there) is
// neither written through nor renamed into place.
TEST(ReportStoreTest, ALinkWhereTheTemporaryGoesIsNotFollowed) {
  testing::TempDir dir, elsewhere;
  const std::string victim = elsewhere / "victim";
  testing::WriteFile(victim, "untouched");
  for (const std::string& name :
       {std::string("restore.json.tmp"), "restore.json.tmp." + std::to_string(::getpid())}) {
    ASSERT_EQ(::symlink(victim.c_str(), (dir / name).c_str()), 0);
  }
  ASSERT_TRUE(SaveReport(dir.path(), "restore", {{"outcome", "restored"}}).ok());
  EXPECT_EQ(testing::ReadFile(victim), "untouched");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "restore.json"));
  auto j = LoadReport(dir.path(), "restore");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->value("outcome", ""), "restored");
}

}  // namespace
}  // namespace warmboot
