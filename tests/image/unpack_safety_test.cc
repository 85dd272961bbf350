// Item 9: destination rules. A non-empty DEST is refused unless merging; with --merge, whatever
// is in the way (files, directories, symlinks) is replaced where the spec says so, or the
// segment is named damaged -- never followed, never written through, never outside DEST.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "image/image_json.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::Sandbox;
using testing::TempDir;

class UnpackSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(state_.path());
    media_ = std::make_unique<MemoryMedia>(1 << 20);
    testing::MustPack(state_.path(), *media_, {});
    auto ir = InspectImage(*media_);
    ASSERT_TRUE(ir.ok());
    pristine_ = *ir;
  }

  Result<UnpackReport> Unpack(const std::string& dest, bool merge) {
    UnpackOptions uo;
    uo.merge = merge;
    return UnpackImage(*media_, dest, uo);
  }

  uint64_t Index(const std::string& path) {
    return static_cast<uint64_t>(testing::SegmentIndex(*media_, path));
  }

  TempDir state_;
  std::unique_ptr<MemoryMedia> media_;
  InspectReport pristine_;
};

// What a run killed half-way leaves: a temporary, partly written. The next run of the same image
// (merging, as restore does) takes it over; none is left in the restored tree.
TEST_F(UnpackSafetyTest, AKilledRunsTemporariesAreTakenOverByTheNext) {
  Sandbox sb;
  testing::MakeDirs(sb.dest() + "/d");
  const std::string tmp = sb.dest() + "/d/.wb-tmp." +
                          format::UuidToString(pristine_.header.image_uuid).substr(0, 8) + "." +
                          std::to_string(Index("d/b.bin"));
  testing::WriteFile(tmp, std::string(20000, 'x'));
  const std::string link_tmp = sb.dest() + "/.wb-tmp." +
                               format::UuidToString(pristine_.header.image_uuid).substr(0, 8) +
                               "." + std::to_string(Index("link"));
  ASSERT_EQ(::symlink("elsewhere", link_tmp.c_str()), 0);
  auto u = Unpack(sb.dest(), true);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(testing::Exists(tmp));
  EXPECT_FALSE(testing::Exists(link_tmp));
  EXPECT_EQ(testing::DiffTrees(state_.path(), sb.dest()), "");
}

TEST_F(UnpackSafetyTest, NonEmptyDestinationIsRefused) {
  for (const char* occupant : {"file", ".hidden", "dir/", "link@"}) {
    SCOPED_TRACE(occupant);
    Sandbox sb;
    testing::MakeDirs(sb.dest());
    std::string name(occupant);
    if (name.ends_with("/")) {
      testing::MakeDirs(sb.dest() + "/" + name);
    } else if (name.ends_with("@")) {
      ASSERT_EQ(::symlink("nowhere", (sb.dest() + "/link").c_str()), 0);
    } else {
      testing::WriteFile(sb.dest() + "/" + name, "occupied");
    }
    auto before = testing::ListTree(sb.dest());
    auto u = Unpack(sb.dest(), false);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << u.status().ToString();
    EXPECT_NE(u.status().message().find("merge"), std::string::npos) << u.status().message();
    EXPECT_EQ(testing::ListTree(sb.dest()), before) << "a refused unpack changed DEST";
    EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  }
  EXPECT_EQ(InspectImage(*media_)->state, ImageState::kSealed);
}

TEST_F(UnpackSafetyTest, EmptyOrMissingDestinationIsFine) {
  Sandbox sb;
  auto u = Unpack(sb.dest(), false);  // missing: created
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(testing::DiffTrees(state_.path(), sb.dest()), "");
  struct stat st;
  ASSERT_EQ(::stat(sb.dest().c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  TempDir empty;
  auto u2 = Unpack(empty.path(), false);  // existing and empty
  ASSERT_TRUE(u2.ok()) << u2.status().ToString();
  EXPECT_EQ(testing::DiffTrees(state_.path(), empty.path()), "");
}

TEST_F(UnpackSafetyTest, DestinationThatCannotBeADirectory) {
  Sandbox sb;
  testing::WriteFile(sb.dest(), "I am a file");
  auto u = Unpack(sb.dest(), true);
  EXPECT_FALSE(u.ok());
  EXPECT_EQ(testing::ReadFile(sb.dest()), "I am a file");
  auto u2 = Unpack(sb.root / "missing/parent/dest", false);
  EXPECT_FALSE(u2.ok());
  EXPECT_FALSE(testing::Exists(sb.root / "missing"));
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

TEST_F(UnpackSafetyTest, MergeReplacesFilesAndKeepsOthers) {
  Sandbox sb;
  testing::MakeDirs(sb.dest() + "/d");
  testing::WriteFile(sb.dest() + "/a.txt", "old contents", 0444);
  testing::WriteFile(sb.dest() + "/unrelated", "keep me");
  testing::WriteFile(sb.dest() + "/d/also_unrelated", "keep me too");
  testing::WriteFile(sb.dest() + "/link", "a file where the image has a symlink");
  auto u = Unpack(sb.dest(), true);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial()) << ToJson(*u).dump(1);
  EXPECT_EQ(testing::DiffSegmentsExcept(state_.path(), sb.dest(), pristine_, {Index("d")}), "");
  EXPECT_EQ(testing::ReadFile(sb.dest() + "/unrelated"), "keep me");
  EXPECT_EQ(testing::ReadFile(sb.dest() + "/d/also_unrelated"), "keep me too");
}

// What stands in DEST is not damage in the image: the unpack fails, naming it, the image stays
// sealed for a second try, and everything else is in place.
TEST_F(UnpackSafetyTest, MergeOverAFileWhereTheImageHasADirectory) {
  Sandbox sb;
  testing::MakeDirs(sb.dest());
  testing::WriteFile(sb.dest() + "/d", "a file in the way");
  auto u = Unpack(sb.dest(), true);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), Code::kIoError);
  EXPECT_NE(u.status().message().find("could not be written"), std::string::npos)
      << u.status().message();
  EXPECT_NE(u.status().message().find("still sealed"), std::string::npos);
  std::vector<uint64_t> under_d;
  for (const SegmentInfo& s : pristine_.segments) {
    if (s.path == "d" || s.path.starts_with("d/")) under_d.push_back(s.index);
  }
  EXPECT_EQ(testing::DiffSegmentsExcept(state_.path(), sb.dest(), pristine_, under_d), "");
  EXPECT_EQ(testing::ReadFile(sb.dest() + "/d"), "a file in the way");
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

TEST_F(UnpackSafetyTest, MergeOverADirectoryWhereTheImageHasAFile) {
  for (bool empty : {true, false}) {
    SCOPED_TRACE(empty ? "empty directory" : "non-empty directory");
    Sandbox sb;
    testing::MakeDirs(sb.dest() + "/a.txt");
    if (!empty) testing::WriteFile(sb.dest() + "/a.txt/inside", "x");
    auto u = Unpack(sb.dest(), true);
    ASSERT_FALSE(u.ok());
    EXPECT_NE(u.status().message().find("a.txt"), std::string::npos) << u.status().message();
    EXPECT_EQ(testing::DiffSegmentsExcept(state_.path(), sb.dest(), pristine_, {Index("a.txt")}),
              "");
    struct stat st;
    ASSERT_EQ(::lstat((sb.dest() + "/a.txt").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    for (const std::string& p : testing::ListTree(sb.dest())) {
      EXPECT_EQ(p.find(".wb-tmp."), std::string::npos) << "temporary left behind: " << p;
    }
  }
}

// A symlink in DEST where the image has a directory: never followed.
TEST_F(UnpackSafetyTest, MergeOverASymlinkWhereTheImageHasADirectory) {
  Sandbox sb;
  testing::MakeDirs(sb.dest());
  ASSERT_EQ(::symlink(sb.outside().c_str(), (sb.dest() + "/d").c_str()), 0);
  auto u = Unpack(sb.dest(), true);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("d: cannot create directory"), std::string::npos)
      << u.status().message();
  EXPECT_EQ(testing::ListTree(sb.outside()), std::vector<std::string>{});
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  struct stat st;
  ASSERT_EQ(::lstat((sb.dest() + "/d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// A symlink in DEST where the image has a file or a symlink: replaced, not written through.
TEST_F(UnpackSafetyTest, MergeReplacesSymlinksInsteadOfFollowingThem) {
  Sandbox sb;
  testing::MakeDirs(sb.dest());
  ASSERT_EQ(::symlink(sb.victim().c_str(), (sb.dest() + "/a.txt").c_str()), 0);
  ASSERT_EQ(::symlink(sb.victim().c_str(), (sb.dest() + "/link").c_str()), 0);
  ASSERT_EQ(::symlink(sb.outside().c_str(), (sb.dest() + "/empty").c_str()), 0);
  auto u = Unpack(sb.dest(), true);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial()) << ToJson(*u).dump(1);
  EXPECT_EQ(testing::DiffTrees(state_.path(), sb.dest()), "");
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

// A pre-existing DEST/.quarantine symlink must not steer quarantined files outside.
TEST_F(UnpackSafetyTest, MergeWithAQuarantineSymlinkInTheWay) {
  Sandbox sb;
  testing::MakeDirs(sb.dest());
  ASSERT_EQ(::symlink(sb.outside().c_str(), (sb.dest() + "/.quarantine").c_str()), 0);
  media_->bytes()[format::kDataOffset + 10] ^= 1;  // damage a.txt: it goes to quarantine
  auto u = Unpack(sb.dest(), true);
  EXPECT_EQ(testing::ListTree(sb.outside()), std::vector<std::string>{});
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  if (u.ok()) {
    EXPECT_TRUE(u->partial());
  }
  for (const std::string& p : testing::ListTree(sb.dest())) {
    EXPECT_EQ(p.find(".wb-tmp."), std::string::npos) << "temporary left behind: " << p;
  }
}

}  // namespace
}  // namespace warmboot
