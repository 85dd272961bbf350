// Item 7: consuming. After unpack --consume the image is never restored again (verify and
// unpack: no image), inspect reports it consumed; generations count packs to one medium.
#include <gtest/gtest.h>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

class ConsumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MakeSmallState(state_.path());
    media_ = std::make_unique<MemoryMedia>(1 << 20);
    report_ = testing::MustPack(state_.path(), *media_, {});
  }
  TempDir state_, out_;
  std::unique_ptr<MemoryMedia> media_;
  PackReport report_;
};

TEST_F(ConsumeTest, UnpackConsumeRetiresTheImage) {
  UnpackOptions uo;
  uo.consume = true;
  auto u = UnpackImage(*media_, out_ / "first", uo);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->consumed);
  EXPECT_FALSE(u->partial());
  EXPECT_EQ(testing::DiffTrees(state_.path(), out_ / "first"), "");

  auto v = VerifyImage(*media_, {});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kNoImage);
  auto again = UnpackImage(*media_, out_ / "second", {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kNoImage);
  EXPECT_FALSE(testing::Exists(out_ / "second"));
  auto again_consume = UnpackImage(*media_, out_ / "third", uo);
  EXPECT_EQ(again_consume.status().code(), Code::kNoImage);

  auto i = InspectImage(*media_);
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->state, ImageState::kConsumed);
  ASSERT_TRUE(i->seal.has_value());
  EXPECT_EQ(i->seal->state, format::SealState::kConsumed);
  EXPECT_GE(i->seal->consumed_ns, i->seal->sealed_ns);
  EXPECT_EQ(i->header.image_uuid, report_.image_uuid);
  EXPECT_EQ(i->segments.size(), 8u);  // still fully readable for inspection
  EXPECT_TRUE(i->tables_ok);

  // Consuming again changes nothing.
  std::vector<uint8_t> before = media_->bytes();
  EXPECT_TRUE(ConsumeImage(*media_).ok());
  EXPECT_TRUE(media_->bytes() == before);
}

// Restore decides from the header and seal alone and leaves the tables to unpack: that depth
// must read no table (poison over the tables does not stop it) and still tell the states apart.
TEST_F(ConsumeTest, HeaderAndSealInspectionReadsNoTables) {
  auto full = InspectImage(*media_);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  const format::Header& h = full->header;
  media_->SetKnownBadRanges({{h.segment_table_offset, h.image_end - h.segment_table_offset}});
  auto refused = InspectImage(*media_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kNoImage);
  auto shallow = InspectImage(*media_, InspectDepth::kHeaderAndSeal);
  ASSERT_TRUE(shallow.ok()) << shallow.status().ToString();
  EXPECT_EQ(shallow->state, ImageState::kSealed);
  EXPECT_EQ(shallow->header.image_uuid, report_.image_uuid);
  EXPECT_TRUE(shallow->segments.empty());
  // Unpack, which does read the tables, refuses the image.
  auto u = UnpackImage(*media_, out_ / "dest", {});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), Code::kNoImage);

  media_->SetKnownBadRanges({});
  ASSERT_TRUE(ConsumeImage(*media_).ok());
  EXPECT_EQ(InspectImage(*media_, InspectDepth::kHeaderAndSeal)->state, ImageState::kConsumed);
  // The header's geometry is still checked: tables past the end of the medium are no image.
  media_->TruncateReadable(h.segment_table_offset + 1);
  auto truncated = InspectImage(*media_, InspectDepth::kHeaderAndSeal);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), Code::kNoImage);
}

TEST_F(ConsumeTest, WithoutConsumeTheImageStaysSealed) {
  auto u = UnpackImage(*media_, out_ / "first", {});
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->consumed);
  EXPECT_EQ(InspectImage(*media_)->state, ImageState::kSealed);
  auto u2 = UnpackImage(*media_, out_ / "second", {});
  ASSERT_TRUE(u2.ok()) << u2.status().ToString();
}

TEST_F(ConsumeTest, RefusedUnpackDoesNotConsume) {
  testing::MakeDirs(out_ / "busy");
  testing::WriteFile(out_ / "busy/x", "x");
  UnpackOptions uo;
  uo.consume = true;
  auto u = UnpackImage(*media_, out_ / "busy", uo);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(InspectImage(*media_)->state, ImageState::kSealed);
}

TEST_F(ConsumeTest, PartialRestoreStillConsumes) {
  media_->bytes()[format::kDataOffset + 10] ^= 1;  // damage a.txt
  UnpackOptions uo;
  uo.consume = true;
  auto u = UnpackImage(*media_, out_ / "first", uo);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->partial());
  EXPECT_TRUE(u->consumed);
  EXPECT_EQ(VerifyImage(*media_, {}).status().code(), Code::kNoImage);
}

// A consume torn by a power cut leaves an unsealed image: never restored twice either. (A tear
// within the first 12 bytes rewrote only unchanged bytes -- magic and version -- and is the same
// as a crash before consuming; from the state field at byte 12 on, the seal must be broken.)
TEST_F(ConsumeTest, TornConsumeIsNoImage) {
  for (uint64_t n : {uint64_t{13}, uint64_t{16}, uint64_t{100}, uint64_t{4088}, uint64_t{4095}}) {
    auto media = testing::CopyMedia(*media_);
    media->FailWritesAfter(n);
    EXPECT_FALSE(ConsumeImage(*media).ok());
    media->FailWritesAfter(UINT64_MAX);
    auto v = VerifyImage(*media, {});
    EXPECT_EQ(v.status().code(), Code::kNoImage) << "torn after " << n;
    auto i = InspectImage(*media);
    ASSERT_TRUE(i.ok());
    EXPECT_NE(i->state, ImageState::kSealed);
  }
}

TEST_F(ConsumeTest, ConsumeWithoutASealIsNoImage) {
  MemoryMedia blank(1 << 20);
  EXPECT_EQ(ConsumeImage(blank).code(), Code::kNoImage);
  EXPECT_EQ(blank.bytes_written(), 0u);
}

TEST(GenerationTest, IncrementsAcrossPacksToOneMedium) {
  TempDir out;
  MemoryMedia media(1 << 20);
  std::vector<format::Uuid> uuids;
  for (uint64_t gen = 1; gen <= 4; ++gen) {
    TempDir state;
    testing::WriteFile(state / "gen", std::to_string(gen));
    auto r = PackImage(state.path(), media, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->generation, gen);
    auto i = InspectImage(media);
    ASSERT_TRUE(i.ok());
    EXPECT_EQ(i->header.generation, gen);
    EXPECT_EQ(i->seal->generation, gen);
    EXPECT_EQ(i->state, ImageState::kSealed);
    auto v = VerifyImage(media, {});
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->header.generation, gen);
    EXPECT_EQ(std::count(uuids.begin(), uuids.end(), r->image_uuid), 0) << "uuid reused";
    uuids.push_back(r->image_uuid);
    // The latest image is the one restored; consume it every other time (a consumed image
    // still counts: its header is valid).
    UnpackOptions uo;
    uo.consume = gen % 2 == 0;
    auto u = UnpackImage(media, out / ("dest" + std::to_string(gen)), uo);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_EQ(testing::ReadFile(out / ("dest" + std::to_string(gen) + "/gen")),
              std::to_string(gen));
  }
}

}  // namespace
}  // namespace warmboot
