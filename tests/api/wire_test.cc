// The checkpoint API's frames and names (docs/api.md sections 2 and 3).
#include "api/wire.h"

#include <gtest/gtest.h>

#include "api/names.h"
#include "util/endian.h"

namespace warmboot::api {
namespace {

std::string Encode(const nlohmann::json& body, const std::string& data = "", uint16_t fds = 0) {
  Frame f;
  f.body = body;
  f.data = data;
  f.fd_count = fds;
  auto bytes = EncodeFrame(f);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : "";
}

TEST(WireTest, FramesRoundTripFedAByteAtATime) {
  std::string stream = Encode({{"op", "put"}, {"id", 7}}, std::string("\0\xff data", 7), 1) +
                       Encode({{"op", "list"}});
  EXPECT_EQ(stream.substr(0, 4), "WBAP");
  FrameDecoder d;
  std::vector<Frame> got;
  for (char c : stream) {
    d.Feed(std::string_view(&c, 1));
    while (auto f = d.Next()) got.push_back(std::move(*f));
    if (got.empty()) EXPECT_GT(d.pending(), 0u);
  }
  ASSERT_TRUE(d.status().ok()) << d.status().ToString();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body["id"], 7);
  EXPECT_EQ(got[0].data, std::string("\0\xff data", 7));
  EXPECT_EQ(got[0].fd_count, 1);
  EXPECT_EQ(got[1].body["op"], "list");
  EXPECT_EQ(d.pending(), 0u);
}

// A header with the given fields and a body of `body` bytes.
std::string Header(uint32_t magic, uint16_t version, uint16_t fds, uint32_t body_len,
                   uint32_t data_len) {
  std::string h(kHeaderSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(h.data());
  StoreLE<uint32_t>(p, magic);
  StoreLE<uint16_t>(p + 4, version);
  StoreLE<uint16_t>(p + 6, fds);
  StoreLE<uint32_t>(p + 8, body_len);
  StoreLE<uint32_t>(p + 12, data_len);
  return h;
}

std::string Broken(const std::string& bytes) {
  FrameDecoder d;
  d.Feed(bytes);
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_FALSE(d.status().ok());
  return d.status().message();
}

// The daemon's frames may be larger than a client's (a round's result names every app): a
// client decodes them, the daemon refuses them from a client.
TEST(WireTest, ARepliesBodyMayBeLargerThanARequests) {
  Frame big;
  big.body = {{"op", "checkpointed"}, {"apps", std::string(200 * 1024, 'a')}};
  EXPECT_FALSE(EncodeFrame(big).ok());
  auto bytes = EncodeFrame(big, kMaxReplyBody);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  FrameDecoder client(kMaxReplyBody);
  client.Feed(*bytes);
  auto f = client.Next();
  ASSERT_TRUE(f.has_value()) << client.status().ToString();
  EXPECT_EQ(f->body["apps"].get<std::string>().size(), 200u * 1024);
  EXPECT_NE(Broken(*bytes).find("body of"), std::string::npos);
}

TEST(WireTest, BrokenFramesAreRefusedSayingWhy) {
  EXPECT_NE(Broken("GET / HTTP/1.1\r\n\r\n").find("bad magic"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 2, 0, 2, 0) + "{}").find("version 2"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 2, 2, 0) + "{}").find("2 descriptors"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, kMaxBody + 1, 0)).find("body of"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, 0, 0)).find("body of 0"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, 2, kMaxData + 1)).find("data of"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, 2, 0) + "[]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, 3, 0) + "{x}").find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(Broken(Header(kMagic, 1, 0, 9, 0) + "{\"op\": 1}").find("no \"op\""),
            std::string::npos);
}

TEST(WireTest, AnIncompleteFrameWaitsAndAnOversizedOneIsNotEncoded) {
  FrameDecoder d;
  d.Feed(Header(kMagic, 1, 1, 100, 0));
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_TRUE(d.status().ok());
  EXPECT_EQ(d.pending_fds(), 1);
  Frame f;
  f.body = {{"op", "put"}};
  f.data.assign(kMaxData + 1, 'x');
  EXPECT_FALSE(EncodeFrame(f).ok());
}

TEST(NamesTest, EveryRuleIsNamed) {
  EXPECT_TRUE(CheckName("segment name", "heap-0.bin").ok());
  EXPECT_TRUE(CheckName("segment name", "données").ok());
  EXPECT_TRUE(CheckName("segment name", std::string(255, 'a')).ok());
  auto why = [](std::string_view n) { return CheckName("segment name", n).message(); };
  EXPECT_NE(why("").find("empty"), std::string::npos);
  EXPECT_NE(why(std::string(256, 'a')).find("256 bytes"), std::string::npos);
  EXPECT_NE(why("a/b").find("'/'"), std::string::npos);
  EXPECT_NE(why("..").find("not allowed"), std::string::npos);
  EXPECT_NE(why(".").find("not allowed"), std::string::npos);
  EXPECT_NE(why(std::string("a\0b", 3)).find("control"), std::string::npos);
  EXPECT_NE(why("a\nb").find("control"), std::string::npos);
  EXPECT_NE(why("\xc2\x9b").find("control"), std::string::npos);
  EXPECT_NE(why("\xff").find("not UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace warmboot::api
