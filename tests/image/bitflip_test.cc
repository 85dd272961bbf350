// Item 2: every single-bit flip in the header, the seal and the metadata tables of a small image
// is detected (exhaustively), and sampled flips in chunk data damage exactly the segment that
// owns the chunk, which is quarantined while everything else is restored byte-identical.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "image/image.h"
#include "image/image_json.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

// Reports at most a few failures of an exhaustive loop, then only counts them.
class FailureBudget {
 public:
  bool Report() { return ++failures_ <= 10; }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

void Flip(MemoryMedia& media, uint64_t bit) {
  media.bytes()[bit / 8] ^= uint8_t(1u << (bit % 8));
}

class BitFlipTest : public ::testing::Test {
 protected:
  void SetUp() override { Pack({}); }

  void Pack(const CompressionPolicy& compression, bool large_file = false) {
    testing::MakeSmallState(state_.path());
    // 200 chunks: unpack splits it into tasks of 16 chunks run by several workers.
    if (large_file)
      testing::WriteFile(state_ / "d/large.bin", testing::RandomBytes(200 * 4096 - 7, 5));
    PackOptions options;
    options.chunk_size = 4096;
    options.threads = 1;
    options.compression = compression;
    media_ = std::make_unique<MemoryMedia>(1 << 20);
    testing::MustPack(state_.path(), *media_, options);
    auto ir = InspectImage(*media_);
    ASSERT_TRUE(ir.ok()) << ir.status().ToString();
    pristine_ = *ir;
    h_ = pristine_.header;
    for (const SegmentInfo& s : pristine_.segments) {
      ASSERT_TRUE(s.record_ok);
    }
    auto v = Verify();
    ASSERT_TRUE(v.ok());
    ASSERT_FALSE(v->partial());
  }

  Result<VerifyReport> Verify() {
    VerifyOptions vo;
    vo.threads = 1;
    return VerifyImage(*media_, vo);
  }

  // Unpacks into a fresh directory (kept in `out`), single-threaded.
  Result<UnpackReport> Unpack(const std::string& dest) {
    UnpackOptions uo;
    uo.threads = 1;
    return UnpackImage(*media_, dest, uo);
  }

  format::ChunkRecord ChunkRecordAt(uint64_t c) {
    const uint8_t* p =
        media_->bytes().data() + h_.chunk_table_offset + c * format::kChunkRecordSize;
    return format::DecodeChunk(std::span<const uint8_t, format::kChunkRecordSize>(p, 32));
  }
  format::SegmentRecord SegmentRecordAt(uint64_t i) {
    const uint8_t* p =
        media_->bytes().data() + h_.segment_table_offset + i * format::kSegmentRecordSize;
    return format::DecodeSegment(std::span<const uint8_t, format::kSegmentRecordSize>(p, 80));
  }
  // The segment owning chunk `c` (file segments own [first_chunk, +chunk_count)).
  uint64_t OwnerOf(uint64_t c) {
    for (uint64_t i = 0; i < h_.segment_count; ++i) {
      format::SegmentRecord r = SegmentRecordAt(i);
      if (r.type == format::EntryType::kFile && c >= r.first_chunk &&
          c < r.first_chunk + r.chunk_count) {
        return i;
      }
    }
    return UINT64_MAX;
  }
  // The segment whose path or target bytes include names byte `k`.
  uint64_t NameOwnerOf(uint64_t k) {
    for (uint64_t i = 0; i < h_.segment_count; ++i) {
      format::SegmentRecord r = SegmentRecordAt(i);
      if (k >= r.name_offset && k < r.name_offset + r.path_length + r.target_length) return i;
    }
    return UINT64_MAX;
  }

  TempDir state_;
  std::unique_ptr<MemoryMedia> media_;
  InspectReport pristine_;
  format::Header h_;
};

class LargeFileBitFlipTest : public BitFlipTest {
 protected:
  void SetUp() override { Pack({}, /*large_file=*/true); }
};

class CompressedBitFlipTest : public BitFlipTest {
 protected:
  void SetUp() override {
    CompressionPolicy zstd;
    zstd.mode = CompressionPolicy::Mode::kZstd;
    Pack(zstd);
  }
};

TEST_F(BitFlipTest, EveryHeaderBitIsNoImage) {
  TempDir out;
  FailureBudget budget;
  for (uint64_t bit = 0; bit < format::kBlockSize * 8; ++bit) {
    Flip(*media_, bit);
    auto v = Verify();
    auto u = Unpack(out / "dest");
    auto i = InspectImage(*media_);
    bool good = !v.ok() && v.status().code() == Code::kNoImage && !u.ok() &&
                u.status().code() == Code::kNoImage && !i.ok() &&
                i.status().code() == Code::kNoImage;
    if (!good && budget.Report()) {
      ADD_FAILURE() << "header bit " << bit << ": verify " << v.status().ToString() << ", unpack "
                    << u.status().ToString() << ", inspect " << i.status().ToString();
    }
    Flip(*media_, bit);
  }
  EXPECT_EQ(budget.failures(), 0);
  EXPECT_FALSE(testing::Exists(out / "dest")) << "a refused unpack created its destination";
  auto v = Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->partial());
}

TEST_F(BitFlipTest, EverySealBitIsNoImage) {
  TempDir out;
  FailureBudget budget;
  for (uint64_t bit = format::kSealOffset * 8; bit < format::kDataOffset * 8; ++bit) {
    Flip(*media_, bit);
    auto v = Verify();
    auto u = Unpack(out / "dest");
    bool good = !v.ok() && v.status().code() == Code::kNoImage && !u.ok() &&
                u.status().code() == Code::kNoImage;
    // Inspect still describes the image, but never as sealed. It reads all the tables, so it is
    // checked on every 7th bit (a bit in each byte position over 7 bytes) to keep this fast.
    Result<InspectReport> i = NotFound("not inspected for this bit");
    if (bit % 7 == 0) {
      i = InspectImage(*media_);
      good = good && i.ok() && i->state == ImageState::kUnsealed && !i->seal_problem.empty();
    }
    if (!good && budget.Report()) {
      ADD_FAILURE() << "seal bit " << bit - format::kSealOffset * 8 << ": verify "
                    << v.status().ToString() << ", unpack " << u.status().ToString() << ", inspect "
                    << (i.ok() ? ImageStateName(i->state) : i.status().ToString());
    }
    Flip(*media_, bit);
  }
  EXPECT_EQ(budget.failures(), 0);
  EXPECT_FALSE(testing::Exists(out / "dest"));
}

// Every bit of the segment table, chunk table and names region: never intact; a flip inside a
// segment record or its names bytes damages exactly that segment; a flip inside a chunk record
// damages the chunk's owner (or, where an overlap is created, the other chunk's owner too).
TEST_F(BitFlipTest, EveryTableBitIsDetectedAndAttributed) {
  const uint64_t seg_begin = h_.segment_table_offset;
  const uint64_t chunk_begin = h_.chunk_table_offset;
  const uint64_t names_begin = h_.names_offset;
  const uint64_t end = h_.image_end;
  ASSERT_EQ(chunk_begin, seg_begin + h_.segment_count * 80);
  ASSERT_EQ(names_begin, chunk_begin + h_.chunk_count * 32);
  ASSERT_EQ(end, names_begin + h_.names_length);
  // Precompute the attribution from the pristine tables.
  std::vector<uint64_t> chunk_owner(h_.chunk_count), name_owner(h_.names_length);
  std::vector<format::Codec> codec(h_.chunk_count);
  for (uint64_t c = 0; c < h_.chunk_count; ++c) {
    chunk_owner[c] = OwnerOf(c);
    codec[c] = ChunkRecordAt(c).codec;
  }
  for (uint64_t k = 0; k < h_.names_length; ++k) name_owner[k] = NameOwnerOf(k);

  FailureBudget budget;
  uint64_t flips = 0;
  for (uint64_t bit = seg_begin * 8; bit < end * 8; ++bit, ++flips) {
    const uint64_t byte = bit / 8;
    Flip(*media_, bit);
    auto v = Verify();
    std::string why;
    if (!v.ok()) {
      if (v.status().code() != Code::kNoImage) why = "error " + v.status().ToString();
    } else if (!v->partial()) {
      why = "not detected (verify reports the image intact)";
    } else if (v->image_problems.empty()) {
      why = "no image problem for a failing table checksum";
    } else {
      std::vector<uint64_t> damaged = testing::DamagedIndices(*v);
      if (byte < chunk_begin) {
        uint64_t seg = (byte - seg_begin) / 80;
        if (damaged != std::vector<uint64_t>{seg}) {
          why = "segment record " + std::to_string(seg) +
                " flipped, damaged: " + ToJson(*v)["damaged"].dump();
        } else if (!v->damaged[0].path.empty()) {
          why = "a record that fails its checksum has no trusted path";
        }
      } else if (byte < names_begin) {
        uint64_t c = (byte - chunk_begin) / 32, field = (byte - chunk_begin) % 32;
        bool benign = codec[c] == format::Codec::kZero && field < 8;  // a zero chunk's offset
        bool owner_named =
            std::find(damaged.begin(), damaged.end(), chunk_owner[c]) != damaged.end();
        if (!benign && !owner_named) {
          why = "chunk record " + std::to_string(c) + " flipped but its segment " +
                std::to_string(chunk_owner[c]) + " is not named";
        }
        for (const DamagedSegment& d : v->damaged) {
          if (d.index != chunk_owner[c] && d.reason.find("overlaps") == std::string::npos) {
            why = "chunk record " + std::to_string(c) + " flipped, unrelated segment " +
                  std::to_string(d.index) + " damaged: " + d.reason;
          }
        }
      } else {
        uint64_t seg = name_owner[byte - names_begin];
        if (damaged != std::vector<uint64_t>{seg}) {
          why = "names byte of segment " + std::to_string(seg) +
                " flipped, damaged: " + ToJson(*v)["damaged"].dump();
        }
      }
    }
    if (!why.empty() && budget.Report()) {
      ADD_FAILURE() << "table bit at byte " << byte << " (+" << bit % 8 << "): " << why;
    }
    Flip(*media_, bit);
  }
  EXPECT_EQ(budget.failures(), 0) << "of " << flips << " flips";
  EXPECT_GT(flips, 7000u);
}

// For a sample of flips in each segment record (one bit in every field), unpack: that segment
// is damaged and not restored, every other segment is restored byte-identical.
TEST_F(BitFlipTest, SegmentRecordFlipsSpareTheOtherSegments) {
  const uint64_t field_bytes[] = {0, 2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64, 72};
  for (uint64_t seg = 0; seg < h_.segment_count; ++seg) {
    const SegmentInfo& info = pristine_.segments[seg];
    for (uint64_t fb : field_bytes) {
      uint64_t byte = h_.segment_table_offset + seg * 80 + fb;
      uint64_t bit = byte * 8 + (seg + fb) % 8;
      SCOPED_TRACE("segment " + std::to_string(seg) + " (" + info.path + ") byte " +
                   std::to_string(fb));
      Flip(*media_, bit);
      TempDir out;
      auto u = Unpack(out / "dest");
      Flip(*media_, bit);
      ASSERT_TRUE(u.ok()) << u.status().ToString();
      EXPECT_TRUE(u->partial());
      EXPECT_EQ(testing::DamagedIndices(*u), std::vector<uint64_t>{seg});
      EXPECT_EQ(testing::DiffSegmentsExcept(state_.path(), out / "dest", pristine_, {seg}), "");
      if (info.type != format::EntryType::kDirectory) {
        EXPECT_FALSE(testing::Exists(out / ("dest/" + info.path)));
      }
      EXPECT_TRUE(testing::Exists(out / "dest/.quarantine/report.json"));
    }
  }
}

// Sampled flips in chunk data: verify names exactly the owning segment and the damaged range;
// unpack restores every other segment identically, moves the damaged file to
// DEST/.quarantine/files/<path> (verified chunks intact, the damaged range zero) and writes
// DEST/.quarantine/report.json naming it.
void ExpectDataFlipsQuarantined(MemoryMedia& media, const std::string& state,
                                const InspectReport& pristine, int samples, uint64_t seed,
                                unsigned threads = 2, size_t min_files_hit = 2) {
  const format::Header& h = pristine.header;
  std::mt19937_64 rng(seed);
  std::map<uint64_t, int> hits;
  for (int n = 0; n < samples; ++n) {
    uint64_t bit = format::kDataOffset * 8 + rng() % (h.data_length * 8);
    uint64_t byte = bit / 8;
    // Locate the chunk and its owner from the pristine tables.
    uint64_t chunk = UINT64_MAX, seg = UINT64_MAX, k = 0;
    std::vector<uint8_t>& b = media.bytes();
    for (uint64_t c = 0; c < h.chunk_count; ++c) {
      format::ChunkRecord r = format::DecodeChunk(
          std::span<const uint8_t, 32>(b.data() + h.chunk_table_offset + c * 32, 32));
      if (r.stored_length && byte >= r.offset && byte < r.offset + r.stored_length) chunk = c;
    }
    ASSERT_NE(chunk, UINT64_MAX) << "data byte " << byte << " in no chunk";
    for (const SegmentInfo& s : pristine.segments) {
      format::SegmentRecord r = format::DecodeSegment(
          std::span<const uint8_t, 80>(b.data() + h.segment_table_offset + s.index * 80, 80));
      if (r.type == format::EntryType::kFile && chunk >= r.first_chunk &&
          chunk < r.first_chunk + r.chunk_count) {
        seg = s.index;
        k = chunk - r.first_chunk;
      }
    }
    ASSERT_NE(seg, UINT64_MAX);
    const std::string& path = pristine.segments[seg].path;
    const uint64_t size = pristine.segments[seg].size;
    ByteRange range{k * h.chunk_size, std::min<uint64_t>(h.chunk_size, size - k * h.chunk_size)};
    ++hits[seg];
    SCOPED_TRACE("data bit " + std::to_string(bit - format::kDataOffset * 8) + " in chunk " +
                 std::to_string(chunk) + " of " + path);

    b[byte] ^= uint8_t(1u << (bit % 8));
    VerifyOptions vo;
    vo.threads = 1;
    auto v = VerifyImage(media, vo);
    TempDir out;
    const std::string dest = out / "dest";
    UnpackOptions uo;
    uo.threads = threads;
    auto u = UnpackImage(media, dest, uo);
    b[byte] ^= uint8_t(1u << (bit % 8));

    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_TRUE(v->partial());
    ASSERT_EQ(testing::DamagedIndices(*v), std::vector<uint64_t>{seg});
    EXPECT_EQ(v->damaged[0].path, path);
    ASSERT_EQ(v->damaged[0].damaged_ranges.size(), 1u);
    EXPECT_EQ(v->damaged[0].damaged_ranges[0].offset, range.offset);
    EXPECT_EQ(v->damaged[0].damaged_ranges[0].length, range.length);
    EXPECT_TRUE(v->image_problems.empty()) << "data damage is not a table problem";

    ASSERT_TRUE(u.ok()) << u.status().ToString();
    ASSERT_TRUE(u->partial());
    ASSERT_EQ(testing::DamagedIndices(*u), std::vector<uint64_t>{seg});
    EXPECT_EQ(u->damaged[0].quarantined_as, ".quarantine/files/" + path);
    EXPECT_FALSE(testing::Exists(dest + "/" + path)) << "damaged file put in place";
    const std::string q = dest + "/.quarantine/files/" + path;
    ASSERT_TRUE(testing::Exists(q));
    std::string got = testing::ReadFile(q), want = testing::ReadFile(state + "/" + path);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(got.substr(0, range.offset), want.substr(0, range.offset));
    EXPECT_EQ(got.substr(range.end()), want.substr(range.end()));
    EXPECT_EQ(got.substr(range.offset, range.length), std::string(range.length, '\0'));
    EXPECT_EQ(testing::DiffSegmentsExcept(state, dest, pristine, {seg}), "");
    EXPECT_EQ(u->quarantine_report, dest + "/.quarantine/report.json");
    auto report =
        nlohmann::json::parse(testing::ReadFile(dest + "/.quarantine/report.json"), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << "report.json is not JSON";
    ASSERT_EQ(report["damaged"].size(), 1u);
    EXPECT_EQ(report["damaged"][0]["segment"], seg);
    EXPECT_EQ(report["damaged"][0]["path"], path);
    EXPECT_EQ(report["damaged"][0]["quarantined_as"], ".quarantine/files/" + path);
    EXPECT_EQ(report["image_uuid"], format::UuidToString(h.image_uuid));
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GE(hits.size(), min_files_hit) << "samples should hit several files";
}

TEST_F(BitFlipTest, SampledDataFlipsAreQuarantined) {
  ExpectDataFlipsQuarantined(*media_, state_.path(), pristine_, 200, 20240601);
}

// Damage inside a file restored by several workers (one task per 16 chunks).
TEST_F(LargeFileBitFlipTest, SampledDataFlipsAreQuarantined) {
  int large = testing::SegmentIndex(*media_, "d/large.bin");
  ASSERT_GE(large, 0);
  ASSERT_EQ(pristine_.segments[large].chunks, 200u);
  ExpectDataFlipsQuarantined(*media_, state_.path(), pristine_, 24, 4242, /*threads=*/4,
                             /*min_files_hit=*/1);
}

TEST_F(CompressedBitFlipTest, SampledDataFlipsAreQuarantined) {
  ASSERT_EQ(pristine_.segments[0].path, "a.txt");
  ASSERT_GT(pristine_.segments[0].zstd_chunks, 0u) << "a.txt should compress";
  ExpectDataFlipsQuarantined(*media_, state_.path(), pristine_, 60, 77);
}

}  // namespace
}  // namespace warmboot
