// Direct I/O: on a medium that wants aligned writes the packer starts every stored chunk on a
// block boundary and fills the gaps with zeros (readers accept any placement, format.md 3), and
// FileMedia with O_DIRECT reads and writes any range correctly, bouncing unaligned ones.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "image/format.h"
#include "image/image.h"
#include "media/media.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

struct Tables {
  format::Header header;
  std::vector<format::ChunkRecord> chunks;
};

Tables ReadTables(MemoryMedia& media) {
  Tables t;
  const std::vector<uint8_t>& b = media.bytes();
  auto h = format::DecodeHeader(std::span<const uint8_t, format::kBlockSize>(b.data(), 4096));
  EXPECT_TRUE(h.ok());
  if (!h.ok()) return t;
  t.header = *h;
  for (uint64_t i = 0; i < h->chunk_count; ++i) {
    t.chunks.push_back(format::DecodeChunk(std::span<const uint8_t, format::kChunkRecordSize>(
        b.data() + h->chunk_table_offset + i * format::kChunkRecordSize,
        format::kChunkRecordSize)));
  }
  return t;
}

void MakeOddState(const std::string& root) {
  testing::MakeSmallState(root);
  testing::WriteFile(root + "/odd.bin", testing::RandomBytes(30001, 7));
  testing::WriteFile(root + "/text.txt", testing::TextBytes(70001, 8));  // compressible
  testing::WriteFile(root + "/tiny", "x");
}

class AlignedLayoutTest
    : public ::testing::TestWithParam<std::tuple<uint32_t, const char*, unsigned>> {};

TEST_P(AlignedLayoutTest, ChunksStartOnBlocksAndGapsAreZero) {
  auto [alignment, compression, threads] = GetParam();
  TempDir state, out;
  MakeOddState(state.path());
  MemoryMedia media(8 << 20);
  // Garbage where the gaps will be: the packer must overwrite them with zeros.
  std::fill(media.bytes().begin(), media.bytes().end(), 0xee);
  media.SetWriteAlignment(alignment);
  PackOptions o;
  o.chunk_size = 16384;
  o.compression = *ParseCompression(compression);
  o.threads = threads;
  PackReport r = testing::MustPack(state.path(), media, o);

  Tables t = ReadTables(media);
  const uint64_t data_end = t.header.data_offset + t.header.data_length;
  EXPECT_EQ(t.header.data_length % alignment, 0u);
  uint64_t stored = 0, expect_offset = format::kDataOffset;
  int unaligned_lengths = 0;
  for (const format::ChunkRecord& c : t.chunks) {
    if (c.codec == format::Codec::kZero) continue;
    stored += c.stored_length;
    EXPECT_EQ(c.offset % alignment, 0u) << "chunk at " << c.offset;
    // Back to back but for the padding: each chunk starts at the first block after the last.
    EXPECT_EQ(c.offset, expect_offset);
    uint64_t end = c.offset + c.stored_length;
    expect_offset = (end + alignment - 1) / alignment * alignment;
    if (c.stored_length % alignment != 0) ++unaligned_lengths;
    for (uint64_t p = end; p < expect_offset; ++p) {
      ASSERT_EQ(media.bytes()[p], 0) << "gap byte at " << p << " is not zero";
    }
  }
  EXPECT_EQ(expect_offset, data_end);
  EXPECT_GT(unaligned_lengths, 0) << "the state should exercise padding";
  EXPECT_EQ(t.header.total_stored_bytes, stored);
  EXPECT_EQ(r.stored_bytes, stored);

  auto v = VerifyImage(media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial());
  auto u = UnpackImage(media, out / "dest", {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(testing::DiffTrees(state.path(), out / "dest"), "");
}

INSTANTIATE_TEST_SUITE_P(Matrix, AlignedLayoutTest,
                         ::testing::Combine(::testing::Values(512u, 4096u),
                                            ::testing::Values("none", "zstd"),
                                            ::testing::Values(1u, 3u)));

// The capacity check counts the padding: a state that fits unaligned may not fit aligned, and
// is then refused before the first write.
TEST(AlignedCapacityTest, PaddingIsInTheWorstCase) {
  TempDir state;
  for (int i = 0; i < 64; ++i) {
    testing::WriteFile(state / ("f" + std::to_string(i)), testing::RandomBytes(100, i));
  }
  MemoryMedia plain(1 << 20);
  PackReport r = testing::MustPack(state.path(), plain, {});
  // Unaligned it needs about 6.4 KiB of data; 4096-aligned 256 KiB.
  MemoryMedia tight(r.image_bytes + 64 * 1024);
  tight.SetWriteAlignment(4096);
  auto refused = PackImage(state.path(), tight, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kNoSpace) << refused.status().ToString();
  EXPECT_EQ(tight.bytes_written(), 0u);
}

// A directory on a filesystem that takes O_DIRECT; tmpfs does not before Linux 6.6.
class FileDirectIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/var/tmp", W_OK) != 0) GTEST_SKIP() << "no writable /var/tmp";
    dir_ = std::make_unique<TempDir>("/var/tmp");
    auto probe = OpenFileMedia(*dir_ / "probe", {OpenMode::kCreate, 0, DirectIo::kOn});
    if (!probe.ok()) {
      ASSERT_EQ(probe.status().code(), Code::kUnsupported) << probe.status().ToString();
      GTEST_SKIP() << "no O_DIRECT on /var/tmp: " << probe.status().ToString();
    }
  }
  std::unique_ptr<TempDir> dir_;
};

TEST_F(FileDirectIoTest, AnyRangeReadsBackAsWritten) {
  const std::string path = *dir_ / "media";
  testing::WriteFile(path, std::string(300000, '\0'));
  auto m = OpenFileMedia(path, {OpenMode::kReadWrite, 0, DirectIo::kOn});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Media& media = **m;
  EXPECT_EQ(media.write_alignment(), 4096u);
  // The capacity is whole blocks: 300000 rounds down to 73 blocks.
  EXPECT_EQ(media.capacity(), 73u * 4096);
  std::string model(media.capacity(), '\0');
  std::mt19937_64 rng(42);
  for (int i = 0; i < 300; ++i) {
    uint64_t len = 1 + rng() % (i % 3 == 0 ? 20000 : 700);
    uint64_t off = rng() % (model.size() - len);
    // Some writes exactly aligned, some from unaligned buffers, some in several pieces.
    if (i % 5 == 0) off &= ~uint64_t{4095};
    std::string data = testing::RandomBytes(len, i);
    if (i % 4 == 0 && len > 2) {
      struct iovec v[2] = {{data.data(), len / 2}, {data.data() + len / 2, len - len / 2}};
      ASSERT_TRUE(media.WriteAt(off, v, 2).ok());
    } else {
      ASSERT_TRUE(media.WriteAt(off, {reinterpret_cast<const uint8_t*>(data.data()), len}).ok());
    }
    model.replace(off, len, data);
    uint64_t roff = rng() % model.size(), rlen = rng() % (model.size() - roff);
    std::string back(rlen, '\0');
    ASSERT_TRUE(media.ReadAt(roff, {reinterpret_cast<uint8_t*>(back.data()), rlen}).ok());
    ASSERT_EQ(back, model.substr(roff, rlen)) << "read " << roff << "+" << rlen;
  }
  EXPECT_TRUE(media.Flush().ok());
  m->reset();
  std::string file = testing::ReadFile(path);
  EXPECT_EQ(file.substr(0, model.size()), model);
}

TEST_F(FileDirectIoTest, PackVerifyUnpackThroughODirect) {
  TempDir state("/var/tmp"), out("/var/tmp");
  MakeOddState(state.path());
  testing::WriteRandomFile(state / "big.bin", 5 << 20, 3);
  for (const char* compression : {"none", "auto"}) {
    SCOPED_TRACE(compression);
    const std::string image = *dir_ / (std::string("image-") + compression);
    {
      auto m = OpenFileMedia(image, {OpenMode::kCreate, 0, DirectIo::kOn});
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      PackOptions o;
      o.compression = *ParseCompression(compression);
      testing::MustPack(state.path(), **m, o);
    }
    for (DirectIo d : {DirectIo::kOn, DirectIo::kOff}) {
      auto m = OpenFileMedia(image, {OpenMode::kReadOnly, 0, d});
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      auto v = VerifyImage(**m, {});
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      EXPECT_FALSE(v->partial());
      const std::string dest = out / (std::string(compression) + (d == DirectIo::kOn ? "1" : "0"));
      auto u = UnpackImage(**m, dest, {});
      ASSERT_TRUE(u.ok()) << u.status().ToString();
      EXPECT_EQ(testing::DiffTrees(state.path(), dest), "");
    }
  }
}

}  // namespace
}  // namespace warmboot
