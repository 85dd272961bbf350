// Where unpack puts what it salvages: damaged files under DEST/.quarantine/files/<path>, the
// report at DEST/.quarantine/report.json. No state path can clash with the report
// (docs/format.md 12.5).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "image/image.h"
#include "testing/image_builder.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::CraftedImage;
using testing::CraftFile;

// An image of `paths` (files of 5000 random bytes) whose first chunk of each file in `damaged`
// fails its checksum.
std::unique_ptr<MemoryMedia> Image(const std::vector<std::string>& paths,
                                   const std::vector<size_t>& damaged) {
  std::vector<testing::CraftEntry> entries;
  for (size_t i = 0; i < paths.size(); ++i) {
    entries.push_back(CraftFile(paths[i], testing::RandomBytes(5000, 10 + i)));
  }
  CraftedImage img = CraftedImage::Build(entries);
  for (size_t s : damaged) {
    img.data[img.chunks[img.segments[s].first_chunk].offset - format::kDataOffset + 3] ^= 0x10;
  }
  return img.Write();
}

nlohmann::json Report(const std::string& dest) {
  return nlohmann::json::parse(testing::ReadFile(dest + "/.quarantine/report.json"), nullptr,
                               false);
}

// A damaged file at report.json/x used to make .quarantine/report.json a directory, so writing
// the report failed (exit 1) on every try.
TEST(QuarantineTest, DamagedPathUnderReportName) {
  auto media = Image({"a", "report.json/x"}, {1});
  testing::Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  ASSERT_EQ(u->damaged.size(), 1u);
  EXPECT_EQ(u->damaged[0].quarantined_as, ".quarantine/files/report.json/x");
  EXPECT_TRUE(testing::Exists(sb.dest() + "/.quarantine/files/report.json/x"));
  EXPECT_EQ(u->quarantine_report, sb.dest() + "/.quarantine/report.json");
  nlohmann::json r = Report(sb.dest());
  ASSERT_FALSE(r.is_discarded());
  EXPECT_EQ(r["damaged"][0]["path"], "report.json/x");
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

// A damaged top-level report.json used to be quarantined and then overwritten by the report.
TEST(QuarantineTest, DamagedTopLevelReportJson) {
  std::string data = testing::RandomBytes(5000, 10);  // what Image() writes
  auto media = Image({"report.json"}, {0});
  testing::Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  ASSERT_EQ(u->damaged.size(), 1u);
  EXPECT_EQ(u->damaged[0].quarantined_as, ".quarantine/files/report.json");
  // The salvaged copy is the file's bytes (one damaged 4 KiB chunk zeroed), not the report.
  std::string salvaged = testing::ReadFile(sb.dest() + "/.quarantine/files/report.json");
  ASSERT_EQ(salvaged.size(), 5000u);
  EXPECT_EQ(salvaged.substr(4096), data.substr(4096));
  EXPECT_EQ(salvaged.substr(0, 4096), std::string(4096, '\0'));
  EXPECT_FALSE(Report(sb.dest()).is_discarded());
}

// A second restore merged into the first's destination quarantines again, over the first's
// quarantine, and rewrites the report.
TEST(QuarantineTest, MergeAgain) {
  auto media = Image({"d/f", "report.json"}, {0, 1});
  testing::Sandbox sb;
  UnpackOptions uo;
  uo.merge = true;
  for (int i = 0; i < 2; ++i) {
    auto u = UnpackImage(*media, sb.dest(), uo);
    ASSERT_TRUE(u.ok()) << "run " << i << ": " << u.status().ToString();
    EXPECT_EQ(u->damaged.size(), 2u);
    EXPECT_TRUE(testing::Exists(sb.dest() + "/.quarantine/files/d/f"));
    EXPECT_FALSE(Report(sb.dest()).is_discarded());
  }
}

// A quarantine that cannot be made for want of room (not because something is in the way) fails
// the unpack: the salvaged bytes were deleted and the unpack reported success, so the image was
// consumed and they were lost for good. Here the destination runs out of inodes.
TEST(QuarantineTest, NoRoomForTheQuarantineFailsTheUnpack) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  auto media = Image({"a"}, {0});
  testing::Sandbox sb;
  // The root, the file being restored, .quarantine: .quarantine/files finds no inode.
  testing::MakeDirs(sb.dest());
  ASSERT_EQ(::mount("tmpfs", sb.dest().c_str(), "tmpfs", 0, "nr_inodes=3"), 0);
  auto u = UnpackImage(*media, sb.dest(), {});
  ::umount2(sb.dest().c_str(), MNT_DETACH);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("cannot quarantine it"), std::string::npos)
      << u.status().ToString();
}

}  // namespace
}  // namespace warmboot
