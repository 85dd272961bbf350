// ClaimRestoreDir (restore/restore_dir.h): restore_dir holds one image's tree; another's is
// moved aside, never merged into, never deleted, and never into a place someone else made.
#include "restore/restore_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "testing/test_util.h"
#include "util/restore_mark.h"

namespace warmboot {
namespace {

const std::string kA = "11111111-1111-4111-8111-111111111111";
const std::string kB = "22222222-2222-4222-8222-222222222222";

class RestoreDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the mark (trusted.*) needs root";
    dir_ = tmp_ / "restore";
    testing::MakeDirs(dir_);
  }
  void Mark(const std::string& uuid) {
    ASSERT_EQ(::setxattr(dir_.c_str(), kRestoreMarkXattr, uuid.data(), uuid.size(), 0), 0);
  }
  std::string Xattr(const char* name) {
    char buf[256];
    const ssize_t n = ::getxattr(dir_.c_str(), name, buf, sizeof buf);
    return n > 0 ? std::string(buf, n) : "";
  }
  Result<std::string> Claim(const std::string& uuid) {
    return ClaimRestoreDir(dir_, uuid, &notes_);
  }

  testing::TempDir tmp_;
  std::string dir_;
  std::vector<std::string> notes_;
};

TEST_F(RestoreDirTest, AnEmptyDirectoryIsMarkedAndNothingMoves) {
  auto r = Claim(kA);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "");
  EXPECT_EQ(ReadRestoreMark(dir_), kA);
  EXPECT_TRUE(notes_.empty());
}

TEST_F(RestoreDirTest, ItsOwnTreeIsResumedWhereItIs) {
  Mark(kA);
  testing::WriteFile(dir_ + "/half", "written by an interrupted run of A");
  auto r = Claim(kA);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  EXPECT_EQ(testing::ReadFile(dir_ + "/half"), "written by an interrupted run of A");
}

TEST_F(RestoreDirTest, AnotherImagesTreeGoesAsideUnderItsUuid) {
  Mark(kA);
  testing::MakeDirs(dir_ + "/app");
  testing::WriteFile(dir_ + "/app/f", "A's");
  testing::MakeDirs(dir_ + "/lost+found");
  auto r = Claim(kB);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, dir_ + "/.warmboot-earlier." + kA);
  EXPECT_EQ(testing::ReadFile(*r + "/app/f"), "A's");
  EXPECT_FALSE(testing::Exists(dir_ + "/app"));
  EXPECT_TRUE(testing::Exists(dir_ + "/lost+found"));
  EXPECT_EQ(ReadRestoreMark(dir_), kB);
  EXPECT_EQ(Xattr(kRestoreDirMovingXattr), "");
  EXPECT_EQ(Xattr(kRestoreDirAsideXattr), ".warmboot-earlier." + kA);
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("image " + kA + "'s tree"), std::string::npos) << notes_[0];

  // A third image: B's tree goes aside too; A's stays where it was put.
  testing::WriteFile(dir_ + "/b", "B's");
  auto third = Claim("33333333-3333-4333-8333-333333333333");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, dir_ + "/.warmboot-earlier." + kB);
  EXPECT_EQ(testing::ReadFile(*third + "/b"), "B's");
  EXPECT_EQ(testing::ReadFile(*r + "/app/f"), "A's");
}

// A run stopped half-way through the move: the next finishes it into the same place.
TEST_F(RestoreDirTest, AMoveStoppedHalfWayIsFinishedIntoTheSamePlace) {
  const std::string aside = ".warmboot-earlier.unmarked-20261207T000000Z";
  ASSERT_EQ(::mkdir((dir_ + "/" + aside).c_str(), 0700), 0);
  testing::WriteFile(dir_ + "/" + aside + "/moved", "1");
  testing::WriteFile(dir_ + "/left", "2");
  const std::string moving = "/" + aside;  // no mark: an unmarked tree
  ASSERT_EQ(::setxattr(dir_.c_str(), kRestoreDirMovingXattr, moving.data(), moving.size(), 0), 0);
  auto r = Claim(kB);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, dir_ + "/" + aside);
  EXPECT_EQ(testing::ReadFile(*r + "/moved"), "1");
  EXPECT_EQ(testing::ReadFile(*r + "/left"), "2");
  EXPECT_EQ(Xattr(kRestoreDirMovingXattr), "");
  EXPECT_EQ(testing::ListTree(dir_).size(), 3u);  // the aside directory and its two files
}

// A rerun of the image whose restore moved the tree, then stopped, reports where it went.
TEST_F(RestoreDirTest, ARerunOfTheSameImageSaysWhereTheEarlierTreeWent) {
  Mark(kA);
  testing::WriteFile(dir_ + "/f", "A's");
  auto first = Claim(kB);
  ASSERT_TRUE(first.ok());
  auto again = Claim(kB);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(testing::ReadFile(*again + "/f"), "A's");
}

// A note of a move left by a run of another tree (stopped before it could drop it) is not
// where this tree goes: two earlier trees are never mixed.
TEST_F(RestoreDirTest, AMoveNoteOfAnotherTreeIsNotFollowed) {
  const std::string other = ".warmboot-earlier." + kB;
  ASSERT_EQ(::mkdir((dir_ + "/" + other).c_str(), 0700), 0);
  ASSERT_EQ(::setxattr((dir_ + "/" + other).c_str(), kEarlierTreeXattr, kB.data(), kB.size(), 0),
            0);
  testing::WriteFile(dir_ + "/" + other + "/b", "B's");
  const std::string moving = kB + "/" + other;
  ASSERT_EQ(::setxattr(dir_.c_str(), kRestoreDirMovingXattr, moving.data(), moving.size(), 0), 0);
  Mark(kA);
  testing::WriteFile(dir_ + "/a", "A's");
  auto r = Claim("33333333-3333-4333-8333-333333333333");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, dir_ + "/.warmboot-earlier." + kA);
  EXPECT_EQ(testing::ReadFile(*r + "/a"), "A's");
  EXPECT_FALSE(testing::Exists(dir_ + "/" + other + "/a"));
  EXPECT_EQ(testing::ReadFile(dir_ + "/" + other + "/b"), "B's");
}

// A directory of that name that no restore set aside (say, in a tree of an image's own) is part
// of the tree, and goes with it.
TEST_F(RestoreDirTest, ADirectoryOnlyNamedLikeAnEarlierTreeGoesWithTheTree) {
  Mark(kA);
  ASSERT_EQ(::mkdir((dir_ + "/.warmboot-earlier.mine").c_str(), 0700), 0);
  auto r = Claim(kB);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(testing::Exists(*r + "/.warmboot-earlier.mine"));
  EXPECT_FALSE(testing::Exists(dir_ + "/.warmboot-earlier.mine"));
}

// Whoever can write the top of restore_dir can make a directory of the name the earlier tree
// would go to, or a link there: neither is used, and both are moved with the tree.
TEST_F(RestoreDirTest, APlaceSomeoneElseMadeIsNotUsed) {
  Mark(kA);
  const std::string planted = dir_ + "/.warmboot-earlier." + kA;
  ASSERT_EQ(::mkdir(planted.c_str(), 0700), 0);
  ASSERT_EQ(::chown(planted.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::symlink("/etc", (dir_ + "/.warmboot-earlier.link").c_str()), 0);
  testing::WriteFile(dir_ + "/f", "A's");
  auto r = Claim(kB);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, planted + ".2");
  EXPECT_EQ(testing::ReadFile(*r + "/f"), "A's");
  EXPECT_TRUE(testing::Exists(*r + "/.warmboot-earlier." + kA));  // moved, not used
  EXPECT_TRUE(testing::Exists(*r + "/.warmboot-earlier.link"));
  struct stat st;
  ASSERT_EQ(::stat(r->c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace warmboot
