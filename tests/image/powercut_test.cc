// Item 6: a power cut at any point of a pack leaves no image that could be restored wrongly.
// The packer's first write invalidates the old image (provisional header + zeroed seal, 8 KiB);
// once that has landed, verify and unpack see no image until the new seal is written. A cut
// inside that first write may leave the old image as it was (the first bytes of the new header
// -- magic, version, flags -- equal the old ones), and then it must restore exactly the old
// tree. Never a mix, never the wrong data.
#include <gtest/gtest.h>

#include <set>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

class PowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(old_.path());
    testing::MakeSmallState(new_.path());
    testing::WriteFile(new_ / "a.txt", testing::TextBytes(7000, 99), 0640);
    testing::WriteFile(new_ / "d/new.bin", testing::RandomBytes(30000, 98));
    options_.chunk_size = 4096;
    options_.threads = 2;
    base_ = std::make_unique<MemoryMedia>(1 << 20);
    testing::MustPack(old_.path(), *base_, options_);
    // A pack that is not cut: how many bytes it writes.
    auto dry = testing::CopyMedia(*base_);
    uint64_t before = dry->bytes_written();
    auto r = PackImage(new_.path(), *dry, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->generation, 2u);
    total_ = dry->bytes_written() - before;
    ASSERT_GT(total_, 3 * format::kBlockSize);
  }

  std::string Unpacks(Media& media, const std::string& tree) {
    TempDir out;
    auto u = UnpackImage(media, out / "dest", {});
    if (!u.ok()) return u.status().ToString();
    if (u->partial()) return "partial";
    return testing::DiffTrees(tree, out / "dest");
  }

  TempDir old_, new_;
  PackOptions options_;
  std::unique_ptr<MemoryMedia> base_;
  uint64_t total_ = 0;
};

TEST_F(PowerCutTest, CutAnywhereLeavesNoImage) {
  // By the end of its first 8 KiB of writes a packer has invalidated the old image.
  const uint64_t kInvalidation = 2 * format::kBlockSize;
  int old_image_survived = 0;
  std::set<uint64_t> cuts = {
      1,          2,         8,    33,   100,           4095,          4096,
      4097,       8191,      8192, 8193, total_ - 4097, total_ - 4096, total_ - 4095,
      total_ - 8, total_ - 1};
  for (uint64_t n = 0; n < total_; n += total_ / 40 + 1) cuts.insert(n);
  cuts.erase(0);
  for (uint64_t n : cuts) {
    SCOPED_TRACE("power cut after " + std::to_string(n) + " of " + std::to_string(total_) +
                 " bytes");
    auto media = testing::CopyMedia(*base_);
    media->FailWritesAfter(n);
    auto r = PackImage(new_.path(), *media, options_);
    EXPECT_FALSE(r.ok()) << "pack succeeded through a power cut";
    media->FailWritesAfter(UINT64_MAX);  // power is back
    auto v = VerifyImage(*media, {});
    if (v.ok() && n < kInvalidation) {
      // Nothing that mattered was overwritten: the old image, intact, restoring the old tree.
      EXPECT_FALSE(v->partial());
      EXPECT_EQ(v->header.generation, 1u);
      EXPECT_EQ(Unpacks(*media, old_.path()), "");
      ++old_image_survived;
      media->FailWritesAfter(UINT64_MAX);
      continue;
    }
    if (v.ok() && n > total_ - format::kBlockSize) {
      // The cut fell in the seal write, and the bytes it kept from landing already held their
      // intended values (the zeroed seal block), e.g. a checksum whose top byte is 0: about one
      // run in 256 for a one-byte cut. The medium then holds the complete image, which must
      // be exactly the new tree.
      EXPECT_FALSE(v->partial());
      EXPECT_EQ(v->header.generation, 2u);
      EXPECT_EQ(Unpacks(*media, new_.path()), "");
      continue;
    }
    ASSERT_FALSE(v.ok()) << "verify accepted an interrupted image (partial=" << v->partial()
                         << ", generation " << v->header.generation << ")";
    EXPECT_EQ(v.status().code(), Code::kNoImage) << v.status().ToString();
    TempDir out;
    auto u = UnpackImage(*media, out / "dest", {});
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.status().code(), Code::kNoImage);
    EXPECT_FALSE(testing::Exists(out / "dest"));
    auto i = InspectImage(*media);
    if (i.ok()) {
      EXPECT_EQ(i->state, ImageState::kUnsealed);
    } else {
      EXPECT_EQ(i.status().code(), Code::kNoImage);
    }
    // And the medium is usable again: the next pack works.
    auto again = PackImage(new_.path(), *media, options_);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(Unpacks(*media, new_.path()), "");
  }
  EXPECT_LT(old_image_survived, 4) << "only cuts in the first few bytes may spare the old image";
}

// No byte written at all: the old image is untouched and still restores the old tree.
TEST_F(PowerCutTest, CutBeforeTheFirstByteKeepsTheOldImage) {
  auto media = testing::CopyMedia(*base_);
  media->FailWritesAfter(0);
  auto r = PackImage(new_.path(), *media, options_);
  EXPECT_FALSE(r.ok());
  media->FailWritesAfter(UINT64_MAX);
  EXPECT_TRUE(media->bytes() == base_->bytes());
  auto v = VerifyImage(*media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->header.generation, 1u);
  EXPECT_EQ(Unpacks(*media, old_.path()), "");
}

// Everything landed but the final flush failed: pack reports an error; whatever verify then
// says, it is never wrong data: either no image, or exactly the new tree.
TEST_F(PowerCutTest, CutAtTheFinalFlushIsNeverWrongData) {
  auto media = testing::CopyMedia(*base_);
  media->FailWritesAfter(total_);
  auto r = PackImage(new_.path(), *media, options_);
  EXPECT_FALSE(r.ok());
  media->FailWritesAfter(UINT64_MAX);
  auto v = VerifyImage(*media, {});
  if (v.ok()) {
    EXPECT_FALSE(v->partial());
    EXPECT_EQ(v->header.generation, 2u);
    EXPECT_EQ(Unpacks(*media, new_.path()), "");
  } else {
    EXPECT_EQ(v.status().code(), Code::kNoImage);
  }
}

}  // namespace
}  // namespace warmboot
