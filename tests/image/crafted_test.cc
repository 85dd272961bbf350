// Item 4: crafted images. Each test builds a valid image, rewrites fields and recomputes every
// checksum (testing/image_builder.h), so only the reader's semantic checks can catch the lie. All
// must fail cleanly: "no image", or partial with the offending segment named; never a write
// outside DEST, never a crash (ASan/UBSan builds catch out-of-bounds and overflow).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zstd.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "image/checksum.h"
#include "image/image.h"
#include "image/image_json.h"
#include "testing/image_builder.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using format::EntryType;
using testing::CraftDir;
using testing::CraftedImage;
using testing::CraftEntry;
using testing::CraftFile;
using testing::CraftSymlink;
using testing::Sandbox;
using testing::TempDir;

// Segment indices of BaseEntries().
enum : uint64_t { kA = 0, kDir = 1, kB = 2, kZ = 3, kL = 4 };
// Chunk indices: a = 0,1,2 (last one 100 bytes); dir/b = 3,4; z = 5 (zero chunk).

std::vector<CraftEntry> BaseEntries() {
  std::vector<CraftEntry> e = {
      CraftFile("a", testing::RandomBytes(2 * 4096 + 100, 1)),
      CraftDir("dir", 0750),
      CraftFile("dir/b", testing::TextBytes(5000, 2), 0600),
      CraftFile("z", std::string(4096, '\0')),
      CraftSymlink("l", "a"),
  };
  int64_t t = 1650000000000000001;
  for (CraftEntry& x : e) x.mtime_ns = (t += 1000000001);
  return e;
}

// "" when `e` was restored under `dest` exactly as crafted.
std::string CheckRestored(const std::string& dest, const CraftEntry& e) {
  std::string p = dest + "/" + e.path;
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) return e.path + ": missing";
  int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (e.type == EntryType::kFile) {
    if (!S_ISREG(st.st_mode)) return e.path + ": not a file";
    if (testing::ReadFile(p) != e.data) return e.path + ": contents differ";
  } else if (e.type == EntryType::kDirectory) {
    if (!S_ISDIR(st.st_mode)) return e.path + ": not a directory";
  } else {
    if (!S_ISLNK(st.st_mode)) return e.path + ": not a symlink";
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    if (n < 0 || std::string(buf, n) != e.target) return e.path + ": target differs";
  }
  if (e.type != EntryType::kSymlink && (st.st_mode & 07777) != e.mode) return e.path + ": mode";
  if (mtime != e.mtime_ns) return e.path + ": mtime";
  return "";
}

std::vector<std::string> TempLeftovers(const std::string& dest) {
  std::vector<std::string> out;
  for (const std::string& p : testing::ListTree(dest)) {
    if (p.find(".wb-tmp.") != std::string::npos) out.push_back(p);
  }
  return out;
}

// The crafted image is sealed and sound, but exactly the segments in `damaged` are damaged,
// each with a reason containing the given text. Verify says so; unpack (unless !unpack) says so,
// restores every other entry exactly as crafted, leaves no temporaries and writes nothing
// outside DEST.
void ExpectDamaged(const std::string& label, const CraftedImage& img,
                   const std::vector<CraftEntry>& entries,
                   const std::map<uint64_t, std::string>& damaged, bool unpack = true) {
  SCOPED_TRACE(label);
  auto media = img.Write();
  std::vector<uint64_t> want;
  for (const auto& [i, reason] : damaged) want.push_back(i);
  VerifyOptions vo;
  vo.threads = 1;
  auto v = VerifyImage(*media, vo);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->partial());
  EXPECT_EQ(testing::DamagedIndices(*v), want) << ToJson(*v)["damaged"].dump(1);
  for (const DamagedSegment& d : v->damaged) {
    auto it = damaged.find(d.index);
    if (it != damaged.end()) {
      EXPECT_NE(d.reason.find(it->second), std::string::npos)
          << "segment " << d.index << " reason: " << d.reason << " (want: " << it->second << ")";
    }
  }
  auto inspected = InspectImage(*media);  // must not crash
  EXPECT_TRUE(inspected.ok()) << inspected.status().ToString();
  (void)ToJson(*inspected);
  if (!unpack) return;
  Sandbox sb;
  UnpackOptions uo;
  uo.threads = 2;
  auto u = UnpackImage(*media, sb.dest(), uo);
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->partial());
  EXPECT_EQ(testing::DamagedIndices(*u), want) << ToJson(*u)["damaged"].dump(1);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (damaged.count(i)) continue;
    EXPECT_EQ(CheckRestored(sb.dest(), entries[i]), "");
  }
  EXPECT_EQ(TempLeftovers(sb.dest()), std::vector<std::string>{});
  EXPECT_TRUE(testing::Exists(sb.dest() + "/.quarantine/report.json"));
}

// The crafted image is no image at all: verify and unpack say so and unpack creates nothing.
void ExpectNoImage(const std::string& label, const CraftedImage& img, uint64_t extra = 0) {
  SCOPED_TRACE(label);
  auto media = img.Write(extra);
  auto v = VerifyImage(*media, {});
  EXPECT_FALSE(v.ok()) << "verify accepted it; partial=" << (v.ok() && v->partial());
  if (!v.ok()) {
    EXPECT_EQ(v.status().code(), Code::kNoImage) << v.status().ToString();
  }
  Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  EXPECT_FALSE(u.ok());
  if (!u.ok()) {
    EXPECT_EQ(u.status().code(), Code::kNoImage) << u.status().ToString();
  }
  EXPECT_FALSE(testing::Exists(sb.dest()));
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  auto inspected = InspectImage(*media);  // must not crash, whatever it says
  if (inspected.ok()) (void)ToJson(*inspected);
}

// ---------------------------------------------------------------------------------------------
// The builder itself.

TEST(CraftedImageTest, BuilderMakesAValidImage) {
  auto entries = BaseEntries();
  CraftedImage img = CraftedImage::Build(entries);
  ASSERT_EQ(img.chunks.size(), 6u);
  EXPECT_EQ(img.chunks[5].codec, format::Codec::kZero);
  auto media = img.Write();
  auto v = VerifyImage(*media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial()) << ToJson(*v).dump(1);
  Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial());
  for (const CraftEntry& e : entries) EXPECT_EQ(CheckRestored(sb.dest(), e), "");
}

TEST(CraftedImageTest, BuilderReproducesThePackerByteForByte) {
  TempDir state;
  testing::MakeSmallState(state.path());
  MemoryMedia media(1 << 20);
  PackOptions options;
  options.chunk_size = 4096;
  options.compression = *ParseCompression("zstd");
  testing::MustPack(state.path(), media, options);
  auto img = CraftedImage::Parse(media);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  img->Finalize();
  auto copy = img->Write();
  const uint64_t end = img->header.image_end;
  ASSERT_EQ(copy->capacity(), end);
  EXPECT_TRUE(std::equal(copy->bytes().begin(), copy->bytes().end(), media.bytes().begin()))
      << "Finalize() + Write() must reproduce the packer's image exactly";
}

TEST(CraftedImageTest, ZstdBuilderImageIsValid) {
  std::vector<CraftEntry> entries = {CraftFile("t", testing::TextBytes(20000, 3))};
  CraftedImage img = CraftedImage::Build(entries, 4096, /*zstd=*/true);
  EXPECT_EQ(img.chunks[0].codec, format::Codec::kZstd);
  auto media = img.Write();
  auto v = VerifyImage(*media, {});
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->partial());
}

// ---------------------------------------------------------------------------------------------
// Chunk records: offsets and lengths past the end, past the data region, near UINT64_MAX.

TEST(CraftedImageTest, ChunkStoredOutsideTheDataRegion) {
  auto entries = BaseEntries();
  struct Case {
    const char* label;
    uint64_t chunk;
    std::function<void(CraftedImage&, format::ChunkRecord&)> edit;
    const char* reason = "outside the data region";
  };
  const Case cases[] = {
      {"offset past the end of the medium", 0,
       [](CraftedImage& img, format::ChunkRecord& c) { c.offset = img.layout.image_end + 4096; }},
      {"offset into the header", 0, [](CraftedImage&, format::ChunkRecord& c) { c.offset = 0; }},
      {"offset into the seal", 0, [](CraftedImage&, format::ChunkRecord& c) { c.offset = 4096; }},
      {"offset into the segment table", 0,
       [](CraftedImage& img, format::ChunkRecord& c) {
         c.offset = img.layout.segment_table_offset;
       }},
      {"offset just below the data region", 0,
       [](CraftedImage&, format::ChunkRecord& c) { c.offset = format::kDataOffset - 1; }},
      {"last chunk runs one byte past the data region", 4,
       [](CraftedImage& img, format::ChunkRecord& c) {
         c.offset = format::kDataOffset + img.data.size() - c.stored_length + 1;
       }},
      {"offset near UINT64_MAX (end overflows)", 0,
       [](CraftedImage&, format::ChunkRecord& c) { c.offset = UINT64_MAX - 10; }},
      {"offset UINT64_MAX", 3,
       [](CraftedImage&, format::ChunkRecord& c) { c.offset = UINT64_MAX; }},
      // raw_length no longer fits the file either; which of the two reasons is reported is not
      // what this case is about (the reference reader reports the layout mismatch too).
      {"stored and raw length UINT32_MAX", 0,
       [](CraftedImage&, format::ChunkRecord& c) { c.stored_length = c.raw_length = UINT32_MAX; },
       ""},
      {"offset and length both huge", 1,
       [](CraftedImage&, format::ChunkRecord& c) {
         c.offset = UINT64_MAX - 4095;
         c.codec = format::Codec::kZstd;
         c.stored_length = 4096;
       }},
  };
  for (const Case& k : cases) {
    CraftedImage img = CraftedImage::Build(entries);
    k.edit(img, img.chunks[k.chunk]);
    img.Rechecksum();
    ExpectDamaged(k.label, img, entries, {{k.chunk < 3 ? kA : kB, k.reason}});
  }
}

TEST(CraftedImageTest, ChunkRecordsThatBreakTheirCodecRules) {
  auto entries = BaseEntries();
  struct Case {
    const char* label;
    uint64_t chunk, segment;
    std::function<void(format::ChunkRecord&)> edit;
    const char* reason;
    std::map<uint64_t, std::string> also = {};  // further segments damaged as a consequence
  };
  const Case cases[] = {
      {"zero chunk with stored bytes", 5, kZ, [](auto& c) { c.stored_length = 5; }, "zero chunk"},
      {"zero chunk with a wrong hash", 5, kZ, [](auto& c) { c.hash ^= 1; }, "zero chunk"},
      {"raw chunk whose sizes differ", 0, kA, [](auto& c) { c.stored_length -= 1; }, "raw chunk"},
      {"unknown codec", 1, kA, [](auto& c) { c.codec = format::Codec(9); }, "unknown codec"},
      {"zstd chunk with no stored bytes", 3, kB,
       [](auto& c) {
         c.codec = format::Codec::kZstd;
         c.stored_length = 0;
       },
       "impossible stored size"},
      {"raw length larger than the chunk size", 0, kA,
       [](auto& c) { c.raw_length = c.stored_length = 8192; }, ""},
      {"raw length smaller than the file layout", 3, kB,
       [](auto& c) { c.raw_length = c.stored_length = 1000; }, "does not match the file's layout"},
      {"raw length of the last chunk too large (now overlapping dir/b's first chunk)",
       2,
       kA,
       [](auto& c) { c.raw_length = c.stored_length = 101; },
       "",
       {{kB, "overlaps"}}},
      {"zero chunk raw length UINT32_MAX", 5, kZ, [](auto& c) { c.raw_length = UINT32_MAX; }, ""},
  };
  for (const Case& k : cases) {
    CraftedImage img = CraftedImage::Build(entries);
    k.edit(img.chunks[k.chunk]);
    img.Rechecksum();
    std::map<uint64_t, std::string> damaged = k.also;
    damaged[k.segment] = k.reason;
    ExpectDamaged(k.label, img, entries, damaged);
  }
}

// A raw chunk of 8192 bytes whose hash is right: it covers chunks 0 and 1 of the file. Only
// the layout check (and the overlap with chunk 1) can catch it.
TEST(CraftedImageTest, OversizedChunkWithAMatchingHash) {
  auto entries = BaseEntries();
  CraftedImage img = CraftedImage::Build(entries);
  img.chunks[0].raw_length = img.chunks[0].stored_length = 8192;
  img.chunks[0].hash = testing::Hash(entries[kA].data.substr(0, 8192));
  img.Rechecksum();
  ExpectDamaged("8 KiB chunk in a 4 KiB-chunk image", img, entries, {{kA, ""}});
}

// ---------------------------------------------------------------------------------------------
// Overlapping chunks and shared chunks, with content chosen so every hash still matches.

TEST(CraftedImageTest, OverlappingChunksWithinAFile) {
  std::string half = testing::RandomBytes(4096, 5);
  std::vector<CraftEntry> entries = {CraftFile("twin", half + half), CraftFile("other", "intact")};
  CraftedImage img = CraftedImage::Build(entries);
  img.chunks[1].offset = img.chunks[0].offset;  // same bytes, same hash: only overlap catches it
  img.Rechecksum();
  ExpectDamaged("second chunk stored over the first", img, entries, {{0, "overlaps"}});
}

TEST(CraftedImageTest, OverlappingChunksAcrossFiles) {
  std::string same = testing::RandomBytes(3000, 6);
  std::vector<CraftEntry> entries = {CraftFile("p", same), CraftFile("q", same),
                                     CraftFile("r", "bystander")};
  CraftedImage img = CraftedImage::Build(entries);
  img.chunks[1].offset = img.chunks[0].offset;
  img.Rechecksum();
  ExpectDamaged("q's chunk stored over p's", img, entries, {{0, "overlaps"}, {1, "overlaps"}});
  // Partial overlap: r's bytes start inside q's.
  CraftedImage img2 = CraftedImage::Build(entries);
  img2.chunks[2].offset = img2.chunks[1].offset + 100;
  img2.Rechecksum();
  ExpectDamaged("r's chunk starts inside q's", img2, entries, {{1, "overlaps"}, {2, "overlaps"}});
}

TEST(CraftedImageTest, TwoSegmentsSharingAChunk) {
  std::string same = testing::RandomBytes(5000, 7);
  std::vector<CraftEntry> entries = {CraftFile("p", same), CraftFile("q", same),
                                     CraftFile("r", "bystander")};
  CraftedImage img = CraftedImage::Build(entries);
  img.segments[1].first_chunk = img.segments[0].first_chunk;
  img.Rechecksum();
  ExpectDamaged("q claims p's chunks", img, entries, {{1, "shares chunk"}});
  // A range that starts inside an owned one names the first chunk they share.
  CraftedImage img2 = CraftedImage::Build(entries);
  img2.segments[2].first_chunk = img2.segments[0].first_chunk + 1;
  img2.segments[2].chunk_count = 1;
  img2.segments[2].size = 4096;
  img2.Rechecksum();
  ExpectDamaged("r claims p's second chunk", img2, entries,
                {{2, "shares chunk " + std::to_string(img2.segments[0].first_chunk + 1) +
                         " with segment 0"}});
}

// A path or target longer than any valid one is refused before its checksum is computed: a
// crafted image made the reader hash up to the whole names region for each of millions of
// records.
// The record's checksum is wrong too: the reason shows the checksum was never computed.
TEST(CraftedImageTest, OverlongNamesAreRefusedBeforeTheirChecksum) {
  std::vector<CraftEntry> entries = {CraftFile("p", "payload"),
                                     CraftSymlink("q", std::string(3000, 't')),
                                     CraftSymlink("r", std::string(3000, 'u'))};
  CraftedImage img = CraftedImage::Build(entries);
  img.segments[0].path_length = 5000;  // within the names region (6003 bytes)
  img.Rechecksum();
  img.segments[0].checksum ^= 1;
  const std::vector<uint8_t> segs = img.EncodedSegments();
  img.header.segment_table_checksum = Hash64(segs.data(), segs.size());
  ExpectDamaged("a 5000-byte path", img, entries, {{0, "unsafe path in image: longer than 4095"}});
}

// ---------------------------------------------------------------------------------------------
// Segment records: sizes near UINT64_MAX, chunk ranges, names ranges, types, modes.

TEST(CraftedImageTest, SegmentRecordsThatLie) {
  auto entries = BaseEntries();
  struct Case {
    const char* label;
    uint64_t segment;
    std::function<void(CraftedImage&)> edit;
    const char* reason;
    bool new_names = false;  // the edit changed a path or target: rebuild the names region
  };
  const Case cases[] = {
      {"file size UINT64_MAX", kA, [](auto& img) { img.segments[kA].size = UINT64_MAX; },
       "inconsistent size"},
      {"file size UINT64_MAX with a matching chunk count", kA,
       [](auto& img) {
         img.segments[kA].size = UINT64_MAX;
         img.segments[kA].chunk_count = UINT64_MAX / 4096 + 1;
       },
       "inconsistent size"},
      {"file size near UINT64_MAX, chunk count wrapped", kA,
       [](auto& img) {
         img.segments[kA].size = UINT64_MAX - 4095;
         img.segments[kA].chunk_count = (UINT64_MAX - 4095) / 4096 + 1;
       },
       "inconsistent size"},
      {"first chunk near UINT64_MAX", kA,
       [](auto& img) { img.segments[kA].first_chunk = UINT64_MAX - 1; }, "inconsistent size"},
      {"chunk range past the chunk table", kB, [](auto& img) { img.segments[kB].first_chunk = 5; },
       "inconsistent size"},
      {"chunks missing for a non-empty file", kA,
       [](auto& img) { img.segments[kA].chunk_count = 0; }, "inconsistent size"},
      {"file size grown by one byte", kA, [](auto& img) { img.segments[kA].size += 1; }, ""},
      {"file with a symlink target", kA, [](auto& img) { img.targets[kA] = "x"; },
       "inconsistent size", true},
      {"name offset near UINT64_MAX", kA,
       [](auto& img) { img.segments[kA].name_offset = UINT64_MAX - 2; }, "outside the names"},
      {"path length 65535", kB, [](auto& img) { img.segments[kB].path_length = 0xffff; },
       "outside the names"},
      {"symlink target length UINT32_MAX", kL,
       [](auto& img) { img.segments[kL].target_length = UINT32_MAX; }, "outside the names"},
      {"name offset past the names region", kL,
       [](auto& img) { img.segments[kL].name_offset = img.names.size(); }, "outside the names"},
      {"directory with a size", kDir, [](auto& img) { img.segments[kDir].size = 1; },
       "directory record"},
      {"directory with chunks", kDir, [](auto& img) { img.segments[kDir].chunk_count = 1; },
       "directory record"},
      {"symlink size not its target length", kL, [](auto& img) { img.segments[kL].size = 0; },
       "invalid target"},
      {"symlink target with a NUL", kL, [](auto& img) { img.targets[kL] = std::string("a\0b", 3); },
       "invalid target", true},
      {"symlink target of 4096 bytes", kL,
       [](auto& img) { img.targets[kL] = std::string(4096, 't'); }, "invalid target", true},
      {"symlink with chunks", kL, [](auto& img) { img.segments[kL].chunk_count = 1; },
       "invalid target"},
      {"unknown entry type", kA, [](auto& img) { img.segments[kA].type = EntryType(7); },
       "unknown entry type"},
      {"entry type 0", kDir, [](auto& img) { img.segments[kDir].type = EntryType(0); },
       "unknown entry type"},
      {"mode with file-type bits", kB, [](auto& img) { img.segments[kB].mode = 0100644; },
       "mode has bits"},
      {"mode UINT32_MAX", kL, [](auto& img) { img.segments[kL].mode = UINT32_MAX; },
       "mode has bits"},
  };
  for (const Case& k : cases) {
    CraftedImage img = CraftedImage::Build(entries);
    k.edit(img);
    if (k.new_names) {
      img.Finalize();
      img.segments[kL].size = img.targets[kL].size();  // keep symlink sizes consistent
    }
    img.Rechecksum();
    ExpectDamaged(k.label, img, entries, {{k.segment, k.reason}});
  }
}

// Timestamps and owners at the extremes: whatever happens, nothing crashes, nothing escapes.
TEST(CraftedImageTest, ExtremeTimesAndOwners) {
  for (int64_t t : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, INT64_MAX}) {
    SCOPED_TRACE("mtime " + std::to_string(t));
    auto entries = BaseEntries();
    for (CraftEntry& e : entries) {
      e.mtime_ns = t;
      e.uid = e.gid = UINT32_MAX;
    }
    auto media = CraftedImage::Build(entries).Write();
    auto v = VerifyImage(*media, {});
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->partial());
    Sandbox sb;
    auto u = UnpackImage(*media, sb.dest(), {});
    EXPECT_EQ(TempLeftovers(sb.dest()), std::vector<std::string>{})
        << (u.ok() ? "ok" : u.status().ToString());
    EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  }
}

// ---------------------------------------------------------------------------------------------
// Header geometry: table offsets overlapping the header, counts and lengths near UINT64_MAX.

TEST(CraftedImageTest, HostileHeaderGeometryIsNoImage) {
  auto entries = BaseEntries();
  struct Case {
    const char* label;
    std::function<void(format::Header&)> edit;
  };
  const Case cases[] = {
      {"segment_count UINT64_MAX", [](auto& h) { h.segment_count = UINT64_MAX; }},
      {"segment_count 2^40", [](auto& h) { h.segment_count = 1ull << 40; }},
      {"segment_count 2^58 (80 * count wraps)", [](auto& h) { h.segment_count = 1ull << 58; }},
      {"segment_count just over the metadata limit", [](auto& h) { h.segment_count = 8388609; }},
      {"segment_count one too many", [](auto& h) { h.segment_count += 1; }},
      {"chunk_count UINT64_MAX", [](auto& h) { h.chunk_count = UINT64_MAX; }},
      {"chunk_count 2^59 (32 * count wraps to 0)", [](auto& h) { h.chunk_count = 1ull << 59; }},
      {"chunk_count one too many", [](auto& h) { h.chunk_count += 1; }},
      {"names_length near UINT64_MAX", [](auto& h) { h.names_length = UINT64_MAX - 5; }},
      {"names_length one too many", [](auto& h) { h.names_length += 1; }},
      {"data_length UINT64_MAX", [](auto& h) { h.data_length = UINT64_MAX; }},
      {"data_length past the image", [](auto& h) { h.data_length = h.image_end; }},
      {"image_end UINT64_MAX", [](auto& h) { h.image_end = UINT64_MAX; }},
      {"image_end before the names end", [](auto& h) { h.image_end -= 1; }},
      {"image_end 0", [](auto& h) { h.image_end = 0; }},
      {"segment table over the header", [](auto& h) { h.segment_table_offset = 0; }},
      {"segment table over the seal", [](auto& h) { h.segment_table_offset = 4096; }},
      {"chunk table over the header", [](auto& h) { h.chunk_table_offset = 100; }},
      {"names over the header", [](auto& h) { h.names_offset = 4000; }},
      {"names over the seal", [](auto& h) { h.names_offset = 8000; }},
      {"data region over the header", [](auto& h) { h.data_offset = 0; }},
      {"data region over the seal", [](auto& h) { h.data_offset = 4096; }},
      {"segment table offset near UINT64_MAX",
       [](auto& h) { h.segment_table_offset = UINT64_MAX - 10; }},
      {"names offset near UINT64_MAX", [](auto& h) { h.names_offset = UINT64_MAX - 1; }},
      {"chunk table over the segment table",
       [](auto& h) { h.chunk_table_offset = h.segment_table_offset; }},
      {"names over the data region", [](auto& h) { h.names_offset = format::kDataOffset; }},
      {"segment table over the data region",
       [](auto& h) { h.segment_table_offset = format::kDataOffset + 16; }},
      {"chunk size 0", [](auto& h) { h.chunk_size = 0; }},
      {"chunk size 4095", [](auto& h) { h.chunk_size = 4095; }},
      {"chunk size 64 MiB + 1", [](auto& h) { h.chunk_size = (64u << 20) + 1; }},
      {"chunk size 128 MiB", [](auto& h) { h.chunk_size = 128u << 20; }},
      {"chunk size UINT32_MAX", [](auto& h) { h.chunk_size = UINT32_MAX; }},
      {"unknown incompat flag", [](auto& h) { h.incompat_flags = 1ull << 63; }},
      {"major version 2", [](auto& h) { h.major = 2; }},
      {"major version 0", [](auto& h) { h.major = 0; }},
  };
  for (const Case& k : cases) {
    CraftedImage img = CraftedImage::Build(entries);
    k.edit(img.header);
    ExpectNoImage(k.label, img);
  }
}

// A seal that does not bind to its header is no seal.
TEST(CraftedImageTest, StaleOrForeignSealIsNoImage) {
  auto entries = BaseEntries();
  for (int which = 0; which < 4; ++which) {
    CraftedImage img = CraftedImage::Build(entries);
    auto media = img.Write();
    // Re-encode the seal with one binding field off.
    format::Seal s;
    s.image_uuid = img.header.image_uuid;
    s.generation = img.header.generation;
    s.image_end = img.header.image_end;
    std::vector<uint8_t> hb(4096);
    format::EncodeHeader(img.header, std::span<uint8_t, 4096>(hb.data(), 4096));
    s.header_checksum = format::BlockChecksum(std::span<const uint8_t, 4096>(hb.data(), 4096));
    if (which == 0) s.image_uuid[3] ^= 1;
    if (which == 1) s.generation += 1;
    if (which == 2) s.image_end += 1;
    if (which == 3) s.header_checksum ^= 1;
    format::EncodeSeal(s, std::span<uint8_t, 4096>(media->bytes().data() + 4096, 4096));
    auto v = VerifyImage(*media, {});
    ASSERT_FALSE(v.ok()) << "seal field " << which;
    EXPECT_EQ(v.status().code(), Code::kNoImage);
    auto i = InspectImage(*media);
    ASSERT_TRUE(i.ok());
    EXPECT_EQ(i->state, ImageState::kUnsealed);
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile names.

TEST(CraftedImageTest, HostileNames) {
  TempDir probe;
  const std::string absolute = probe / "pwned";  // an absolute path to a real place
  const std::string names[] = {
      "../x",
      "../../x",
      absolute,
      "/pwned-by-warmboot-test",
      "a/../../x",
      "a/../x",
      "",
      "a//b",
      "//a",
      std::string("a\0b", 3),
      std::string("\0", 1),
      std::string("a/\0/b", 5),
      ".",
      "..",
      "./a",
      "a/.",
      "a/..",
      "a/",
      "/",
      std::string(256, 'n'),
      "ok/" + std::string(256, 'n'),
      std::string(2048, 'a') + "/" + std::string(2047, 'b'),  // 4096 bytes
  };
  for (const std::string& name : names) {
    for (EntryType type : {EntryType::kFile, EntryType::kDirectory, EntryType::kSymlink}) {
      std::vector<CraftEntry> entries = {CraftFile("ok", "fine"), CraftDir("okdir")};
      CraftEntry bad = type == EntryType::kFile        ? CraftFile(name, "pwned")
                       : type == EntryType::kDirectory ? CraftDir(name)
                                                       : CraftSymlink(name, "/etc/passwd");
      entries.insert(entries.begin() + 1, bad);
      CraftedImage img = CraftedImage::Build(entries);
      std::string label = std::string(format::EntryTypeName(type)) + " named '" + name + "'";
      for (char& c : label) {
        if (c == '\0') c = '@';
      }
      ExpectDamaged(label, img, entries, {{1, "unsafe path"}});
    }
  }
  EXPECT_FALSE(testing::Exists("/pwned-by-warmboot-test"));
  EXPECT_FALSE(testing::Exists(absolute));
}

// /etc/passwd as a path: refused by verify (not unpacked here: a broken reader running as root
// would overwrite the machine's /etc/passwd; the absolute-path case above is unpacked instead).
TEST(CraftedImageTest, EtcPasswdIsRefused) {
  std::vector<CraftEntry> entries = {CraftFile("/etc/passwd", "root::0:0::/:/bin/sh\n"),
                                     CraftFile("ok", "fine")};
  ExpectDamaged("/etc/passwd", CraftedImage::Build(entries), entries, {{0, "unsafe path"}},
                /*unpack=*/false);
}

TEST(CraftedImageTest, DuplicatePaths) {
  struct Case {
    const char* label;
    std::vector<CraftEntry> entries;
  };
  std::vector<Case> cases = {
      {"file twice", {CraftFile("dup", "first"), CraftFile("dup", "second")}},
      {"directory then file", {CraftDir("dup"), CraftFile("dup", "second")}},
      {"file then directory", {CraftFile("dup", "first"), CraftDir("dup")}},
      {"file then symlink", {CraftFile("dup", "first"), CraftSymlink("dup", "/etc/passwd")}},
      {"symlink then file", {CraftSymlink("dup", "elsewhere"), CraftFile("dup", "second")}},
      {"nested file twice",
       {CraftDir("d"), CraftFile("d/dup", "first"), CraftFile("d/dup", "second")}},
  };
  for (Case& k : cases) {
    k.entries.push_back(CraftFile("bystander", "intact"));
    CraftedImage img = CraftedImage::Build(k.entries);
    ExpectDamaged(k.label, img, k.entries, {{k.entries.size() - 2, "duplicate path"}});
  }
}

// The image contradicts itself when it puts a path beneath one of its own files or symlinks: the
// segment beneath is damaged (named by verify, quarantined by unpack), so nothing the image
// says can make unpack fail on a fresh destination.
TEST(CraftedImageTest, PathBeneathAFileOfTheImage) {
  struct Case {
    const char* label;
    std::vector<CraftEntry> entries;
    uint64_t damaged;
  };
  std::vector<Case> cases = {
      {"file then a file beneath it", {CraftFile("a", "x"), CraftFile("a/b", "y")}, 1},
      {"file beneath, then the file", {CraftFile("a/b", "y"), CraftFile("a", "x")}, 0},
      {"deeper",
       {CraftDir("d"), CraftFile("d/f", "x"), CraftDir("d/f/g"), CraftFile("d/f/g/h", "")},
       2},
  };
  for (Case& k : cases) {
    k.entries.push_back(CraftFile("bystander", "intact"));
    uint64_t deeper = k.entries.size() - 2;
    std::map<uint64_t, std::string> want{{k.damaged, "lies beneath"}};
    if (k.damaged == 2) want[deeper] = "lies beneath";
    ExpectDamaged(k.label, CraftedImage::Build(k.entries), k.entries, want);
  }
}

// A symlink planted by the image must never be written through, whatever order its records
// come in: nothing may appear in (or be written to) what it points at.
TEST(CraftedImageTest, SymlinkThenFileBeneathIt) {
  using Shape = std::function<std::vector<CraftEntry>(const std::string& target)>;
  const std::pair<std::string, Shape> shapes[] = {
      {"symlink then file beneath it",
       [](const std::string& t) {
         return std::vector<CraftEntry>{CraftSymlink("evil", t), CraftFile("evil/x", "p")};
       }},
      {"file beneath it then the symlink",
       [](const std::string& t) {
         return std::vector<CraftEntry>{CraftFile("evil/x", "p"), CraftSymlink("evil", t)};
       }},
      {"symlink, directory of the same name, file",
       [](const std::string& t) {
         return std::vector<CraftEntry>{CraftSymlink("evil", t), CraftDir("evil"),
                                        CraftFile("evil/x", "p")};
       }},
      {"symlink, then a directory, file and symlink beneath it",
       [](const std::string& t) {
         return std::vector<CraftEntry>{CraftSymlink("evil", t), CraftDir("evil/sub"),
                                        CraftFile("evil/sub/y", "p"), CraftSymlink("evil/z", "q")};
       }},
      {"symlink inside a real directory",
       [](const std::string& t) {
         std::string up = t.starts_with("/") ? t : "../" + t;
         return std::vector<CraftEntry>{CraftDir("d"), CraftSymlink("d/evil", up),
                                        CraftFile("d/evil/x", "p")};
       }},
  };
  for (const auto& [label, make] : shapes) {
    for (bool absolute : {false, true}) {
      SCOPED_TRACE(label + (absolute ? " (absolute target)" : " (relative target)"));
      Sandbox sb;
      // DEST/evil -> <sandbox>/outside, an existing empty directory.
      auto media = CraftedImage::Build(make(absolute ? sb.outside() : "../outside")).Write();
      auto v = VerifyImage(*media, {});
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      for (bool merge : {false, true}) {
        UnpackOptions uo;
        uo.merge = merge;  // the second pass restores over what the first one made
        auto u = UnpackImage(*media, sb.dest(), uo);
        EXPECT_EQ(sb.CheckOutsideUntouched(), "");
        EXPECT_EQ(testing::ListTree(sb.outside()), std::vector<std::string>{})
            << "something was written through the symlink";
        if (u.ok()) {
          EXPECT_TRUE(u->partial()) << "a file beneath a symlink cannot be restored as such";
        }
        for (const char* dir : {"evil", "d/evil"}) {
          struct stat st;
          std::string p = sb.dest() + "/" + dir;
          if (::lstat((p + "/x").c_str(), &st) == 0) {
            ASSERT_EQ(::lstat(p.c_str(), &st), 0);
            EXPECT_TRUE(S_ISDIR(st.st_mode))
                << dir << "/x exists but " << dir << " is no directory";
          }
        }
      }
    }
  }
}

// Across restores: a first image plants DEST/evil -> outside; a second one, merged on top,
// writes beneath evil. The planted link is in DEST by then and must not be followed.
TEST(CraftedImageTest, SymlinkPlantedByAnEarlierRestore) {
  const std::vector<std::vector<CraftEntry>> seconds = {
      {CraftFile("evil/x", "p")},
      {CraftDir("evil/sub"), CraftFile("evil/sub/y", "p")},
      {CraftSymlink("evil/l", "t")},
      {CraftDir("evil")},
  };
  for (bool absolute : {false, true}) {
    for (const auto& second : seconds) {
      SCOPED_TRACE(second[0].path + (absolute ? " (absolute target)" : " (relative target)"));
      Sandbox sb;
      std::string target = absolute ? sb.outside() : "../outside";
      auto first = CraftedImage::Build({CraftSymlink("evil", target)}).Write();
      auto u1 = UnpackImage(*first, sb.dest(), {});
      ASSERT_TRUE(u1.ok()) << u1.status().ToString();
      ASSERT_FALSE(u1->partial());
      auto media = CraftedImage::Build(second).Write();
      UnpackOptions uo;
      uo.merge = true;
      auto u = UnpackImage(*media, sb.dest(), uo);
      EXPECT_EQ(testing::ListTree(sb.outside()), std::vector<std::string>{})
          << "written through a symlink an earlier restore planted";
      EXPECT_EQ(sb.CheckOutsideUntouched(), "");
      if (u.ok()) {
        EXPECT_TRUE(u->partial());
        EXPECT_FALSE(u->damaged.empty());
      }
    }
  }
}

// .quarantine is reserved by restore (format.md 12.5): any segment at or below it is damaged
// by unpack, never created. Verify describes the image as it is: such a segment is sound there.
TEST(CraftedImageTest, QuarantineEntries) {
  std::vector<CraftEntry> bad = {
      CraftFile(".quarantine", "x"),
      CraftDir(".quarantine"),
      CraftDir(".quarantine/sub"),
      CraftFile(".quarantine/report.json", "{\"forged\": true}\n"),
      CraftSymlink(".quarantine", "../outside"),
      CraftSymlink(".quarantine/report.json", "../../victim"),
      CraftFile(".quarantine/a/b", "x"),
  };
  for (const CraftEntry& e : bad) {
    std::string label = std::string(format::EntryTypeName(e.type)) + " " + e.path;
    SCOPED_TRACE(label);
    std::vector<CraftEntry> entries = {e, CraftFile("ok", "fine")};
    auto media = CraftedImage::Build(entries).Write();
    auto v = VerifyImage(*media, {});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_FALSE(v->partial()) << ToJson(*v).dump(1);
    Sandbox sb;
    auto u = UnpackImage(*media, sb.dest(), {});
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_EQ(testing::DamagedIndices(*u), std::vector<uint64_t>{0});
    EXPECT_NE(u->damaged[0].reason.find("reserved"), std::string::npos) << u->damaged[0].reason;
    EXPECT_EQ(CheckRestored(sb.dest(), entries[1]), "");
    EXPECT_EQ(TempLeftovers(sb.dest()), std::vector<std::string>{});
    EXPECT_EQ(sb.CheckOutsideUntouched(), "");
  }
  // With real damage too, the quarantine report is the reader's, not the image's.
  std::vector<CraftEntry> entries = {
      CraftDir(".quarantine"), CraftFile(".quarantine/report.json", "{\"forged\": true}\n"),
      CraftFile("damaged", testing::RandomBytes(5000, 9)), CraftFile("ok", "fine")};
  CraftedImage img = CraftedImage::Build(entries);
  ASSERT_EQ(img.segments[2].first_chunk, 1u);
  img.data[img.chunks[1].offset - format::kDataOffset + 10] ^= 0xff;  // damage "damaged"
  auto media = img.Write();
  Sandbox sb;
  auto u = UnpackImage(*media, sb.dest(), {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(testing::DamagedIndices(*u), (std::vector<uint64_t>{0, 1, 2}));
  auto report = nlohmann::json::parse(testing::ReadFile(sb.dest() + "/.quarantine/report.json"),
                                      nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_FALSE(report.contains("forged"));
  EXPECT_EQ(report["damaged"].size(), 3u);
  EXPECT_EQ(sb.CheckOutsideUntouched(), "");
}

// ---------------------------------------------------------------------------------------------
// zstd frames that lie.

std::string Zstd(const std::string& raw, bool content_size = true, int level = 3) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n;
  if (content_size) {
    n = ZSTD_compress2(cctx, out.data(), out.size(), raw.data(), raw.size());
  } else {
    // Streaming without a pledged size leaves the content size out of the frame header.
    ZSTD_inBuffer in{raw.data(), raw.size(), 0};
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    n = ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_end);
    n = ZSTD_isError(n) ? n : ob.pos;
  }
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

TEST(CraftedImageTest, LyingZstdFrames) {
  const std::string content = testing::TextBytes(4096, 11);
  const std::string frame = Zstd(content);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), 4096u);
  std::string skippable = "\x50\x2a\x4d\x18\x04\x00\x00\x00junk";
  struct Case {
    const char* label;
    std::string stored;
    uint64_t hash;
  };
  const std::string zeros(64 << 20, '\0');
  std::vector<Case> cases = {
      {"declares fewer bytes", Zstd(content.substr(0, 4095)), testing::Hash(content)},
      {"declares more bytes", Zstd(content + "x"), testing::Hash(content)},
      {"declares no content size", Zstd(content, false), testing::Hash(content)},
      {"declares 64 MiB (bomb)", Zstd(zeros, true, 1), testing::Hash(content)},
      {"trailing skippable frame", frame + skippable, testing::Hash(content)},
      {"a second frame", frame + frame, testing::Hash(content)},
      {"truncated frame", frame.substr(0, frame.size() - 3), testing::Hash(content)},
      {"not zstd at all", testing::RandomBytes(frame.size(), 12), testing::Hash(content)},
      {"other content, right size", Zstd(testing::TextBytes(4096, 13)), testing::Hash(content)},
      {"corrupted block",
       [&] {
         std::string f = frame;
         f[f.size() / 2] ^= 0x55;
         return f;
       }(),
       testing::Hash(content)},
  };
  for (const Case& k : cases) {
    ASSERT_LE(k.stored.size(), ZSTD_compressBound(4096)) << k.label;
    std::vector<CraftEntry> entries = {CraftFile("c", content), CraftFile("ok", "fine")};
    CraftedImage img = CraftedImage::Build(entries);
    format::ChunkRecord& c = img.chunks[0];
    c = img.AppendRawChunk(k.stored);
    c.codec = format::Codec::kZstd;
    c.raw_length = 4096;
    c.hash = k.hash;
    img.Rechecksum();
    ExpectDamaged(k.label, img, entries, {{0, ""}});
  }
}

}  // namespace
}  // namespace warmboot
