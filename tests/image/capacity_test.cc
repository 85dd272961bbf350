// Item 5: a state that cannot fit is refused before the first write: kNoSpace naming how much is
// short, not one byte written, and an earlier image on the medium still valid.
#include <gtest/gtest.h>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

// The worst-case image size from the layout rules of docs/format.md section 3, with every
// non-hole chunk stored raw: tables at the next 4096 boundary after the data.
uint64_t WorstCase(uint64_t segments, uint64_t chunks, uint64_t names, uint64_t data) {
  uint64_t data_end = format::kDataOffset + data;
  uint64_t tables = (data_end + 4095) / 4096 * 4096;
  return tables + 80 * segments + 32 * chunks + names;
}

class CapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(state_.path());
    testing::WriteFile(state_ / "d/big.bin", testing::RandomBytes(200000, 4));
    // From the image itself: 9 segments; d/zero is made of written zeros (not holes), so the
    // worst case stores it too.
    MemoryMedia probe(4 << 20);
    PackOptions o;
    o.chunk_size = 4096;
    testing::MustPack(state_.path(), probe, o);
    auto ir = InspectImage(probe);
    ASSERT_TRUE(ir.ok());
    need_ = WorstCase(ir->header.segment_count, ir->header.chunk_count, ir->header.names_length,
                      ir->header.total_raw_bytes);
    options_.chunk_size = 4096;
  }
  TempDir state_;
  uint64_t need_ = 0;
  PackOptions options_;
};

TEST_F(CapacityTest, ShortMediaRefusedBeforeAnyWrite) {
  for (uint64_t short_by :
       {uint64_t{1}, uint64_t{4096}, uint64_t{100000}, need_ - 8192, need_ - 1}) {
    SCOPED_TRACE("short by " + std::to_string(short_by));
    MemoryMedia media(need_ - short_by);
    auto r = PackImage(state_.path(), media, options_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kNoSpace);
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("short by " + std::to_string(short_by) + " byte"), std::string::npos) << m;
    EXPECT_EQ(media.bytes_written(), 0u);
    EXPECT_EQ(media.flush_count(), 0);
    EXPECT_TRUE(
        std::all_of(media.bytes().begin(), media.bytes().end(), [](uint8_t b) { return !b; }));
  }
}

TEST_F(CapacityTest, ExactFitIsAccepted) {
  MemoryMedia media(need_);
  auto r = PackImage(state_.path(), media, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto v = VerifyImage(media, {});
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->partial());
}

TEST_F(CapacityTest, EarlierImageSurvivesARefusedPack) {
  TempDir small;
  testing::WriteFile(small / "only", "the earlier state");
  MemoryMedia media(need_ - 1);
  auto first = PackImage(small.path(), media, options_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::vector<uint8_t> before = media.bytes();
  const uint64_t written = media.bytes_written();
  auto r = PackImage(state_.path(), media, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNoSpace);
  EXPECT_NE(r.status().message().find("short by 1 byte"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(media.bytes_written(), written) << "the refused pack wrote";
  EXPECT_TRUE(media.bytes() == before);
  auto v = VerifyImage(media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial());
  EXPECT_EQ(v->header.generation, 1u);
  TempDir out;
  auto u = UnpackImage(media, out / "dest", {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(testing::DiffTrees(small.path(), out / "dest"), "");
}

TEST_F(CapacityTest, MediumSmallerThanHeaderAndSeal) {
  TempDir empty;
  MemoryMedia media(format::kDataOffset - 1);
  auto r = PackImage(empty.path(), media, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNoSpace);
  EXPECT_NE(r.status().message().find("short by 1 byte"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(media.bytes_written(), 0u);
}

// Holes are not data: a sparse 1 GiB file (one 1 MiB chunk of data) fits a 2 MiB medium.
TEST_F(CapacityTest, HolesDoNotCount) {
  TempDir sparse;
  testing::MakeSparseFile(sparse / "huge", 1ull << 30, {1 << 20}, "x");
  MemoryMedia media(2 << 20);
  auto r = PackImage(sparse.path(), media, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->zero_chunks, 1023u);
  VerifyOptions vo;
  auto v = VerifyImage(media, vo);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->partial());
}

}  // namespace
}  // namespace warmboot
