// Where the code and docs/format.md once disagreed, the behaviour they now agree on: chunk
// sizes a reader accepts, the reserved name checked only by restore, seal bytes consume keeps,
// what IMAGE and DEST may be, and metadata a restore cannot apply as recorded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <nlohmann/json.hpp>

#include "image/image.h"
#include "image/image_json.h"
#include "testing/image_builder.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::CraftDir;
using testing::CraftedImage;
using testing::CraftEntry;
using testing::CraftFile;
using testing::CraftSymlink;

// 4.1: any chunk size in [4096, 64 MiB] is accepted by readers; only writers use multiples
// of 4096.
TEST(SpecRulesTest, ChunkSizeNotAMultipleOf4096) {
  for (uint32_t chunk_size : {4097u, 5000u, 65535u}) {
    SCOPED_TRACE(chunk_size);
    std::string data = testing::RandomBytes(3 * chunk_size + 17, chunk_size);
    std::vector<CraftEntry> entries = {CraftFile("f", data), CraftDir("d"),
                                       CraftFile("d/g", "small")};
    auto media = CraftedImage::Build(entries, chunk_size).Write();
    auto v = VerifyImage(*media, {});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_FALSE(v->partial()) << ToJson(*v).dump(1);
    testing::Sandbox sb;
    auto u = UnpackImage(*media, sb.dest(), {});
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_FALSE(u->partial());
    EXPECT_EQ(testing::ReadFile(sb.dest() + "/f"), data);
  }
}

// 12.5: the name .quarantine is reserved by restore; verify and inspect (section 11) describe
// the image as it is: such a segment is sound.
TEST(SpecRulesTest, ReservedNameIsARestoreRule) {
  std::vector<CraftEntry> entries = {
      CraftDir(".quarantine"), CraftFile(".quarantine/report.json", "{\"forged\": 1}\n"),
      CraftSymlink(".quarantine/files", "/etc"), CraftFile("ok", "fine")};
  auto media = CraftedImage::Build(entries).Write();
  auto v = VerifyImage(*media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial()) << ToJson(*v).dump(1);
  auto i = InspectImage(*media);
  ASSERT_TRUE(i.ok());
  for (const SegmentInfo& s : i->segments) EXPECT_TRUE(s.record_ok) << s.index << s.problem;

  testing::Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(testing::DamagedIndices(*u), (std::vector<uint64_t>{0, 1, 2}));
  for (const DamagedSegment& d : u->damaged) {
    EXPECT_NE(d.reason.find("reserved"), std::string::npos) << d.reason;
  }
  EXPECT_EQ(testing::ReadFile(sb.dest() + "/ok"), "fine");
  auto report = nlohmann::json::parse(testing::ReadFile(sb.dest() + "/.quarantine/report.json"),
                                      nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_FALSE(report.contains("forged"));
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

// 5.4 and 13: consuming rewrites state and consumed_ns only; the seal's reserved bytes (which
// a later minor version may define) are kept.
TEST(SpecRulesTest, ConsumeKeepsReservedSealBytes) {
  auto media = CraftedImage::Build({CraftFile("f", "x")}).Write();
  std::vector<uint8_t>& b = media->bytes();
  const uint64_t seal = format::kSealOffset;
  b[seal + 72] = 0x5a;
  b[seal + 4000] = 0xa5;
  b[seal + 10] = 7;  // minor 7
  std::span<uint8_t, format::kBlockSize> block(b.data() + seal, format::kBlockSize);
  uint64_t sum = format::BlockChecksum(block);
  std::memcpy(b.data() + seal + format::kBlockChecksumOffset, &sum, 8);
  auto before = format::DecodeSeal(block);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  std::vector<uint8_t> was(b.begin() + seal, b.begin() + seal + format::kBlockSize);
  ASSERT_EQ(InspectImage(*media)->state, ImageState::kSealed);

  ASSERT_TRUE(ConsumeImage(*media).ok());
  auto after = InspectImage(*media);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, ImageState::kConsumed);
  EXPECT_EQ(after->seal->sealed_ns, before->sealed_ns);
  // Only bytes 12-15 (state), 64-71 (consumed_ns) and the checksum changed.
  for (uint64_t i = 0; i < format::kBlockChecksumOffset; ++i) {
    if ((i >= 12 && i < 16) || (i >= 64 && i < 72)) continue;
    ASSERT_EQ(b[seal + i], was[i]) << "seal byte " << i << " changed";
  }
}

// IMAGE must be a regular file or a block device; a FIFO is refused at once, not opened (which
// would wait forever for a writer).
TEST(SpecRulesTest, FifoImageIsRefused) {
  testing::TempDir dir;
  std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite, OpenMode::kCreate}) {
    FileMediaOptions o;
    o.mode = mode;
    auto opened = std::async(std::launch::async, [&] { return OpenFileMedia(fifo, o); });
    if (opened.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      // Release the blocked open (a writer arrives) so the test can end.
      int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      opened.wait();
      if (w >= 0) ::close(w);
      ADD_FAILURE() << "opening a FIFO as IMAGE blocked";
      continue;
    }
    auto m = opened.get();
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("neither a regular file nor a block device"),
              std::string::npos)
        << m.status().ToString();
  }
  // A character device is refused the same way.
  auto null = OpenFileMedia("/dev/null", {});
  EXPECT_FALSE(null.ok());
}

// 12.1: DEST that is a symbolic link is refused, not followed (with or without a trailing
// slash): a link planted where DEST is to be made would otherwise steer the whole restore.
TEST(SpecRulesTest, DestSymlinkIsRefused) {
  auto media = CraftedImage::Build({CraftFile("f", "x")}).Write();
  for (std::string suffix : {"", "/"}) {
    testing::Sandbox sb;
    ASSERT_EQ(::symlink(sb.outside().c_str(), sb.dest().c_str()), 0);
    UnpackOptions uo;
    uo.merge = true;
    auto u = UnpackImage(*media, sb.dest() + suffix, uo);
    ASSERT_FALSE(u.ok());
    EXPECT_NE(u.status().message().find("symbolic link"), std::string::npos)
        << u.status().ToString();
    EXPECT_EQ(testing::ListTree(sb.outside()), std::vector<std::string>{});
  }
}

// The JSON of unpack's report lists segments whose metadata could not be applied as recorded.
std::map<uint64_t, std::string> MetadataProblems(const UnpackReport& r) {
  std::map<uint64_t, std::string> out;
  nlohmann::json j = ToJson(r);
  if (!j.contains("metadata_problems")) return out;
  for (const nlohmann::json& p : j["metadata_problems"]) {
    out[p["segment"].get<uint64_t>()] = p["problem"].get<std::string>();
  }
  return out;
}

// 12.4: uid or gid 4294967295 is (uid_t)-1, which chown takes as "leave it": such an owner
// cannot be restored, and the restore says so instead of leaving root's owner silently.
TEST(SpecRulesTest, UnrepresentableOwnerIsReported) {
  if (::geteuid() != 0) GTEST_SKIP() << "owners are restored only as root";
  std::vector<CraftEntry> entries = {CraftDir("d"), CraftFile("d/f", "x"), CraftSymlink("l", "f"),
                                     CraftFile("g", "y")};
  entries[0].gid = 4294967295u;
  entries[1].uid = 4294967295u;
  entries[2].uid = 4294967295u;
  entries[3].uid = 1234;
  entries[3].gid = 5678;
  auto media = CraftedImage::Build(entries).Write();
  testing::Sandbox sb;
  UnpackOptions uo;
  uo.restore_owner = true;
  auto u = UnpackImage(*media, sb.dest(), uo);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial());
  auto problems = MetadataProblems(*u);
  EXPECT_EQ(problems.size(), 3u) << ToJson(*u).dump(1);
  for (uint64_t i : {0, 1, 2}) {
    EXPECT_NE(problems[i].find("4294967295"), std::string::npos) << i << ": " << problems[i];
  }
  struct stat st;
  ASSERT_EQ(::lstat((sb.dest() + "/g").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
}

// 12.4: an mtime the destination's file system cannot store is clamped by the kernel; the
// restore reports it. ext4 stores 1901-12-13 to 2446; the image's i64 ns reach back to 1677.
TEST(SpecRulesTest, MtimeOutOfRangeIsReported) {
  const int64_t ancient = -9000000000000000000;  // 1684-10-10
  testing::TempDir base("/var/tmp");
  {
    std::string probe = base / "probe";
    testing::WriteFile(probe, "");
    testing::SetMtime(probe, ancient);
    struct stat st;
    ASSERT_EQ(::stat(probe.c_str(), &st), 0);
    if (st.st_mtim.tv_sec == ancient / 1000000000) {
      GTEST_SKIP() << "/var/tmp stores 1684; no clamping to observe";
    }
  }
  std::vector<CraftEntry> entries = {CraftDir("d"), CraftFile("d/f", "x"), CraftSymlink("l", "f"),
                                     CraftFile("ok", "y")};
  for (int i = 0; i < 3; ++i) entries[i].mtime_ns = ancient;
  auto media = CraftedImage::Build(entries).Write();
  std::string dest = base / "dest";
  auto u = UnpackImage(*media, dest, {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial());
  auto problems = MetadataProblems(*u);
  EXPECT_EQ(problems.size(), 3u) << ToJson(*u).dump(1);
  for (uint64_t i : {0, 1, 2}) {
    EXPECT_NE(problems[i].find("mtime"), std::string::npos) << i << ": " << problems[i];
  }
}

}  // namespace
}  // namespace warmboot
