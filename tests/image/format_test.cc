#include "image/format.h"

#include <gtest/gtest.h>

#include <vector>

namespace warmboot::format {
namespace {

TEST(FormatTest, HeaderRoundTrip) {
  Header h;
  h.generation = 7;
  h.kernel_release = "6.1.0-test";
  h.chunk_size = 1 << 20;
  h.image_uuid[0] = 0xab;
  h.segment_count = 3;
  h.image_end = 123456;
  std::vector<uint8_t> block(kBlockSize);
  std::span<uint8_t, kBlockSize> b(block.data(), kBlockSize);
  EncodeHeader(h, b);
  auto d = DecodeHeader(b);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->generation, 7u);
  EXPECT_EQ(d->kernel_release, "6.1.0-test");
  EXPECT_EQ(d->image_uuid[0], 0xab);
  EXPECT_EQ(d->segment_count, 3u);
  EXPECT_EQ(d->image_end, 123456u);
}

TEST(FormatTest, UnknownMajorVersionIsNoImage) {
  Header h;
  h.major = 2;
  std::vector<uint8_t> block(kBlockSize);
  std::span<uint8_t, kBlockSize> b(block.data(), kBlockSize);
  EncodeHeader(h, b);
  auto d = DecodeHeader(b);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kNoImage);
  EXPECT_NE(d.status().message().find("version 2.0"), std::string::npos);
}

TEST(FormatTest, UnknownIncompatFlagIsRejected) {
  Header h;
  h.incompat_flags = 1;
  std::vector<uint8_t> block(kBlockSize);
  std::span<uint8_t, kBlockSize> b(block.data(), kBlockSize);
  EncodeHeader(h, b);
  EXPECT_EQ(DecodeHeader(b).status().code(), Code::kNoImage);
}

TEST(FormatTest, SealRoundTripAndStates) {
  Seal s;
  s.generation = 9;
  s.state = SealState::kConsumed;
  s.consumed_ns = 42;
  std::vector<uint8_t> block(kBlockSize);
  std::span<uint8_t, kBlockSize> b(block.data(), kBlockSize);
  EncodeSeal(s, b);
  auto d = DecodeSeal(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, SealState::kConsumed);
  EXPECT_EQ(d->consumed_ns, 42);
  EXPECT_EQ(d->generation, 9u);
}

TEST(FormatTest, UuidText) {
  Uuid u{};
  ASSERT_TRUE(ParseUuid("0123456789abcdef0123456789ABCDEF", &u));
  EXPECT_EQ(UuidToString(u), "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_FALSE(ParseUuid("0123", &u));
  EXPECT_FALSE(ParseUuid("zz23456789abcdef0123456789abcdef", &u));
}

}  // namespace
}  // namespace warmboot::format
