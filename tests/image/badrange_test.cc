// Item 8: known bad ranges (persistent-memory poison). A chunk over a bad range is reported
// damaged without being read -- a read of poison can crash the machine -- and the rest of the
// image is verified and restored.
#include <gtest/gtest.h>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

// Counts reads that touch a known bad range (MemoryMedia then refuses them, but a real medium
// would deliver a machine check).
class PoisonTripwire : public MemoryMedia {
 public:
  using MemoryMedia::MemoryMedia;
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    for (const ByteRange& r : KnownBadRanges()) {
      if (out.size() && r.Overlaps(offset, out.size())) ++poison_reads;
    }
    return MemoryMedia::ReadAt(offset, out);
  }
  int poison_reads = 0;
};

class BadRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(state_.path());
    media_ = std::make_unique<PoisonTripwire>(1 << 20);
    PackOptions o;
    o.chunk_size = 4096;
    testing::MustPack(state_.path(), *media_, o);
    auto ir = InspectImage(*media_);
    ASSERT_TRUE(ir.ok());
    pristine_ = *ir;
    const format::Header& h = pristine_.header;
    for (uint64_t c = 0; c < h.chunk_count; ++c) {
      chunks_.push_back(format::DecodeChunk(std::span<const uint8_t, 32>(
          media_->bytes().data() + h.chunk_table_offset + c * 32, 32)));
    }
    b_bin_ = testing::SegmentIndex(*media_, "d/b.bin");
    a_txt_ = testing::SegmentIndex(*media_, "a.txt");
    ASSERT_EQ(a_txt_, 0);
    ASSERT_EQ(b_bin_, 2);
    // a.txt: chunks 0-1; d/b.bin: chunks 2-4 (stored back to back after a.txt's).
    ASSERT_EQ(chunks_[3].raw_length, 4096u);
  }

  TempDir state_;
  std::unique_ptr<PoisonTripwire> media_;
  InspectReport pristine_;
  std::vector<format::ChunkRecord> chunks_;
  int b_bin_ = -1, a_txt_ = -1;
};

TEST_F(BadRangeTest, ChunkOverPoisonIsDamagedWithoutBeingRead) {
  const format::ChunkRecord& c = chunks_[3];  // the middle chunk of d/b.bin
  for (ByteRange bad : {ByteRange{c.offset, c.stored_length}, ByteRange{c.offset + 100, 1},
                        ByteRange{c.offset + c.stored_length - 1, 1}}) {
    SCOPED_TRACE("bad range at " + std::to_string(bad.offset) + "+" + std::to_string(bad.length));
    media_->SetKnownBadRanges({bad});
    media_->poison_reads = 0;
    VerifyOptions vo;
    vo.threads = 2;
    auto v = VerifyImage(*media_, vo);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(testing::DamagedIndices(*v), std::vector<uint64_t>{uint64_t(b_bin_)});
    EXPECT_EQ(v->damaged[0].path, "d/b.bin");
    EXPECT_NE(v->damaged[0].reason.find("known media error"), std::string::npos)
        << v->damaged[0].reason;
    ASSERT_EQ(v->damaged[0].damaged_ranges.size(), 1u);
    EXPECT_EQ(v->damaged[0].damaged_ranges[0].offset, 4096u);
    EXPECT_EQ(v->damaged[0].damaged_ranges[0].length, 4096u);
    EXPECT_TRUE(v->image_problems.empty());
    EXPECT_EQ(media_->poison_reads, 0) << "verify read poisoned bytes";

    TempDir out;
    UnpackOptions uo;
    uo.threads = 2;
    auto u = UnpackImage(*media_, out / "dest", uo);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_TRUE(u->partial());
    EXPECT_EQ(testing::DamagedIndices(*u), std::vector<uint64_t>{uint64_t(b_bin_)});
    EXPECT_EQ(media_->poison_reads, 0) << "unpack read poisoned bytes";
    EXPECT_EQ(
        testing::DiffSegmentsExcept(state_.path(), out / "dest", pristine_, {uint64_t(b_bin_)}),
        "");
    EXPECT_FALSE(testing::Exists(out / "dest/d/b.bin"));
    std::string q = testing::ReadFile(out / "dest/.quarantine/files/d/b.bin");
    std::string want = testing::ReadFile(state_ / "d/b.bin");
    ASSERT_EQ(q.size(), want.size());
    EXPECT_EQ(q.substr(0, 4096), want.substr(0, 4096));
    EXPECT_EQ(q.substr(8192), want.substr(8192));
    EXPECT_TRUE(testing::Exists(out / "dest/.quarantine/report.json"));
  }
}

TEST_F(BadRangeTest, PoisonAcrossTwoFilesDamagesBoth) {
  // The last byte of a.txt's stored data and the first of d/b.bin's.
  const format::ChunkRecord& last_a = chunks_[1];
  ASSERT_EQ(last_a.offset + last_a.stored_length, chunks_[2].offset);
  media_->SetKnownBadRanges({{chunks_[2].offset - 1, 2}});
  auto v = VerifyImage(*media_, {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(testing::DamagedIndices(*v), (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(media_->poison_reads, 0);
}

TEST_F(BadRangeTest, PoisonOutsideChunksHarmsNothing) {
  // The zero padding between the data and the tables, and beyond image_end.
  const format::Header& h = pristine_.header;
  ASSERT_LT(h.data_offset + h.data_length, h.segment_table_offset);
  media_->SetKnownBadRanges({{h.data_offset + h.data_length, 1}, {h.image_end, 4096}});
  auto v = VerifyImage(*media_, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial());
  EXPECT_EQ(media_->poison_reads, 0);
}

// Poison over the header, seal or tables: nothing can be trusted, and nothing is read.
TEST_F(BadRangeTest, PoisonOverMetadataIsNoImageWithoutReading) {
  const format::Header& h = pristine_.header;
  for (ByteRange bad : {ByteRange{0, 1}, ByteRange{4088, 8}, ByteRange{format::kSealOffset + 20, 1},
                        ByteRange{h.segment_table_offset + 7, 1},
                        ByteRange{h.chunk_table_offset, 32}, ByteRange{h.image_end - 1, 1}}) {
    SCOPED_TRACE("bad range at " + std::to_string(bad.offset));
    media_->SetKnownBadRanges({bad});
    media_->poison_reads = 0;
    auto v = VerifyImage(*media_, {});
    EXPECT_FALSE(v.ok());
    TempDir out;
    auto u = UnpackImage(*media_, out / "dest", {});
    EXPECT_FALSE(u.ok());
    EXPECT_FALSE(testing::Exists(out / "dest"));
    EXPECT_EQ(media_->poison_reads, 0);
  }
}

}  // namespace
}  // namespace warmboot
