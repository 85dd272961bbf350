// Names, symlink targets and the kernel release are byte strings (Linux allows any byte but NUL
// and '/' in a name); JSON text is UTF-8. Every JSON form of an image report must be valid
// UTF-8 whatever those bytes are, and give the bytes back exactly (docs/format.md 2.6).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

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

// What a consumer of the JSON does with a field marked "<field>_escaped": \\ is a backslash,
// \xHH the byte HH, anything else stands for itself (written independently of the library).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
    } else if (i + 1 < s.size() && s[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (i + 3 < s.size() && s[i + 1] == 'x') {
      out += static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      ADD_FAILURE() << "stray backslash in " << s;
    }
  }
  return out;
}

// The bytes a JSON object gives for `key`.
std::string Bytes(const nlohmann::json& j, const std::string& key) {
  std::string v = j.at(key).get<std::string>();
  return j.value(key + "_escaped", false) ? Unescape(v) : v;
}

// dump() must not throw, and its text must parse back (nlohmann rejects ill-formed UTF-8).
nlohmann::json RoundTrip(const nlohmann::json& j) {
  std::string text;
  EXPECT_NO_THROW(text = j.dump(2));
  auto back = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(back.is_discarded()) << "not valid UTF-8 JSON";
  return back;
}

const std::string kDir = "d\xff";                              // a lone continuation byte
const std::string kFile = "d\xff/caf\xe9 \\x41.txt";           // Latin-1 e-acute, a literal "\x41"
const std::string kLink = "l\xc3\x28";                         // a broken two-byte sequence
const std::string kTarget = "t\xed\xa0\x80 \xf4\x90\x80\x80";  // a surrogate, beyond U+10FFFF
const std::string kDamaged = "bad\xfe\\";                      // damaged below, and a backslash
const std::string kRelease = "6.1\xff-crafted";

CraftedImage Image() {
  std::vector<CraftEntry> entries = {
      CraftDir(kDir), CraftFile(kFile, "hello\n"), CraftSymlink(kLink, kTarget),
      CraftFile(kDamaged, testing::RandomBytes(5000, 3)), CraftFile("plain", "ok")};
  CraftedImage img = CraftedImage::Build(entries);
  img.header.kernel_release = kRelease;
  return img;
}

CraftedImage DamagedImage() {
  CraftedImage img = Image();
  img.data[img.chunks[img.segments[3].first_chunk].offset - format::kDataOffset + 7] ^= 0x55;
  return img;
}

TEST(NonUtf8Test, InspectJson) {
  auto media = Image().Write();
  auto r = InspectImage(*media);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  nlohmann::json j = RoundTrip(ToJson(*r));
  EXPECT_EQ(Bytes(j["image"], "kernel_release"), kRelease);
  EXPECT_TRUE(j["image"].value("kernel_release_escaped", false));
  ASSERT_EQ(j["segments"].size(), 5u);
  EXPECT_EQ(Bytes(j["segments"][0], "path"), kDir);
  EXPECT_EQ(Bytes(j["segments"][1], "path"), kFile);
  EXPECT_EQ(Bytes(j["segments"][2], "path"), kLink);
  EXPECT_EQ(Bytes(j["segments"][2], "target"), kTarget);
  EXPECT_EQ(Bytes(j["segments"][3], "path"), kDamaged);
  // Valid UTF-8 is written as it is, with no flag.
  EXPECT_EQ(j["segments"][4]["path"], "plain");
  EXPECT_FALSE(j["segments"][4].contains("path_escaped"));
}

TEST(NonUtf8Test, VerifyJson) {
  auto media = DamagedImage().Write();
  auto r = VerifyImage(*media, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->partial());
  nlohmann::json j = RoundTrip(ToJson(*r));
  EXPECT_EQ(Bytes(j["image"], "kernel_release"), kRelease);
  ASSERT_EQ(j["damaged"].size(), 1u);
  EXPECT_EQ(Bytes(j["damaged"][0], "path"), kDamaged);
}

TEST(NonUtf8Test, UnpackAndQuarantineReport) {
  for (bool damaged : {false, true}) {
    SCOPED_TRACE(damaged ? "damaged" : "intact");
    auto media = (damaged ? DamagedImage() : Image()).Write();
    testing::Sandbox sb;
    Result<UnpackReport> r = Corruption("not run");
    ASSERT_NO_THROW(r = UnpackImage(*media, sb.dest(), {}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->partial(), damaged);
    nlohmann::json j = RoundTrip(ToJson(*r));
    EXPECT_EQ(testing::ReadFile(sb.dest() + "/" + kFile), "hello\n");
    EXPECT_EQ(sb.CheckOutsideUntouched(), "");
    if (!damaged) continue;
    ASSERT_EQ(j["damaged"].size(), 1u);
    const nlohmann::json& d = j["damaged"][0];
    EXPECT_EQ(Bytes(d, "path"), kDamaged);
    // quarantined_as names the salvaged file, bytes and all: it is there.
    std::string q = Bytes(d, "quarantined_as");
    EXPECT_TRUE(testing::Exists(sb.dest() + "/" + q)) << q;
    auto report = nlohmann::json::parse(testing::ReadFile(r->quarantine_report), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << "report.json is not valid UTF-8 JSON";
    EXPECT_EQ(Bytes(report["damaged"][0], "path"), kDamaged);
    EXPECT_EQ(Bytes(report["damaged"][0], "quarantined_as"), q);
  }
}

}  // namespace
}  // namespace warmboot
