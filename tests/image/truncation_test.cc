// Item 3: a truncated image is never accepted. Truncated at every chunk boundary, at every 512
// bytes of header and seal and at every byte of the tables, verify and unpack fail with "no
// image" (or a corruption error) and unpack creates nothing; never ok with the data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

bool Refused(const Status& s) {
  return s.code() == Code::kNoImage || s.code() == Code::kCorruption;
}

class TruncationTest : public ::testing::Test {
 protected:
  void PackState(uint32_t chunk_size, const std::string& compress) {
    testing::MakeSmallState(state_.path());
    testing::WriteFile(state_ / "d/big.txt", testing::TextBytes(300000, 5));
    testing::WriteFile(state_ / "d/big.bin", testing::RandomBytes(200000, 6));
    PackOptions options;
    options.chunk_size = chunk_size;
    options.threads = 1;
    options.compression = *ParseCompression(compress);
    media_ = std::make_unique<MemoryMedia>(4 << 20);
    testing::MustPack(state_.path(), *media_, options);
    auto ir = InspectImage(*media_);
    ASSERT_TRUE(ir.ok());
    h_ = ir->header;
  }

  // Every truncation point to try: chunk boundaries (and one byte either side), every 512 bytes
  // of header and seal, every byte of the padding and tables.
  std::set<uint64_t> Points() {
    std::set<uint64_t> points;
    for (uint64_t off = 0; off <= format::kDataOffset; off += 512) points.insert(off);
    points.insert(1);
    points.insert(format::kDataOffset - 1);
    const uint8_t* table = media_->bytes().data() + h_.chunk_table_offset;
    for (uint64_t c = 0; c < h_.chunk_count; ++c) {
      format::ChunkRecord r = format::DecodeChunk(std::span<const uint8_t, 32>(table + c * 32, 32));
      if (r.stored_length == 0) continue;
      for (uint64_t p : {r.offset, r.offset + r.stored_length}) {
        points.insert(p - 1);
        points.insert(p);
        points.insert(p + 1);
      }
    }
    for (uint64_t p = format::kDataOffset + h_.data_length; p < h_.image_end; ++p) points.insert(p);
    std::erase_if(points, [&](uint64_t p) { return p >= h_.image_end; });
    return points;
  }

  void ExpectEveryTruncationRefused() {
    std::set<uint64_t> points = Points();
    ASSERT_GT(points.size(), 100u);
    TempDir out;
    int reported = 0, failures = 0;
    for (uint64_t n : points) {
      media_->TruncateReadable(n);
      VerifyOptions vo;
      vo.threads = 1;
      auto v = VerifyImage(*media_, vo);
      UnpackOptions uo;
      uo.threads = 1;
      auto u = UnpackImage(*media_, out / "dest", uo);
      bool good = !v.ok() && Refused(v.status()) && !u.ok() && Refused(u.status()) &&
                  !testing::Exists(out / "dest");
      if (!good) {
        ++failures;
        if (reported++ < 10) {
          ADD_FAILURE() << "truncated to " << n << " of " << h_.image_end << " bytes: verify "
                        << (v.ok() ? (v->partial() ? "partial" : "OK") : v.status().ToString())
                        << "; unpack "
                        << (u.ok() ? (u->partial() ? "partial" : "OK") : u.status().ToString());
        }
      }
      std::error_code ec;
      std::filesystem::remove_all(out / "dest", ec);
    }
    EXPECT_EQ(failures, 0) << "of " << points.size() << " truncation points";
    // The untruncated image (and anything past image_end) is fine.
    media_->TruncateReadable(h_.image_end);
    auto v = VerifyImage(*media_, {});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_FALSE(v->partial());
  }

  TempDir state_;
  std::unique_ptr<MemoryMedia> media_;
  format::Header h_;
};

TEST_F(TruncationTest, Raw4KChunks) {
  PackState(4096, "none");
  ExpectEveryTruncationRefused();
}

TEST_F(TruncationTest, Zstd64KChunks) {
  PackState(65536, "zstd");
  ExpectEveryTruncationRefused();
}

TEST_F(TruncationTest, TruncatedImageFile) {
  PackState(4096, "none");
  TempDir work;
  const std::string image = work / "image";
  const std::string bytes(media_->bytes().begin(),
                          media_->bytes().begin() + static_cast<long>(h_.image_end));
  for (uint64_t n : {uint64_t{0}, uint64_t{4096}, uint64_t{8191}, format::kDataOffset + 4096,
                     h_.segment_table_offset, h_.names_offset + 1, h_.image_end - 1}) {
    testing::WriteFile(image, bytes);
    ASSERT_EQ(::truncate(image.c_str(), static_cast<off_t>(n)), 0);
    auto media = OpenFileMedia(image, {});
    ASSERT_TRUE(media.ok()) << media.status().ToString();
    auto v = VerifyImage(**media, {});
    EXPECT_FALSE(v.ok()) << "truncated to " << n;
    if (!v.ok()) {
      EXPECT_TRUE(Refused(v.status())) << v.status().ToString();
    }
    auto u = UnpackImage(**media, work / "dest", {});
    EXPECT_FALSE(u.ok()) << "truncated to " << n;
    if (!u.ok()) {
      EXPECT_TRUE(Refused(u.status())) << u.status().ToString();
    }
    EXPECT_FALSE(testing::Exists(work / "dest"));
  }
}

}  // namespace
}  // namespace warmboot
