// Item 1: pack -> verify -> unpack reproduces the state tree exactly (contents, types, symlink
// targets, modes, nanosecond mtimes), for every shape of tree and every pack option.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <tuple>

#include "image/image.h"
#include "image/image_json.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

struct RoundTripResult {
  PackReport pack;
  VerifyReport verify;
  UnpackReport unpack;
};

// Packs `state` into `media`, verifies it and unpacks it into a fresh directory, expecting
// everything to be intact and the trees equal.
RoundTripResult ExpectRoundTripOn(MemoryMedia& media, const std::string& state,
                                  const PackOptions& options) {
  RoundTripResult out;
  auto packed = PackImage(state, media, options);
  EXPECT_TRUE(packed.ok()) << packed.status().ToString();
  if (!packed.ok()) return out;
  out.pack = *packed;
  VerifyOptions vo;
  vo.threads = options.threads;
  auto verified = VerifyImage(media, vo);
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
  if (!verified.ok()) return out;
  out.verify = *verified;
  EXPECT_FALSE(verified->partial()) << ToJson(*verified).dump(2);
  EXPECT_EQ(verified->bytes_verified, packed->raw_bytes);
  EXPECT_EQ(verified->segments, packed->files + packed->directories + packed->symlinks);
  TempDir out_dir;
  UnpackOptions uo;
  uo.threads = options.threads;
  auto unpacked = UnpackImage(media, out_dir / "dest", uo);
  EXPECT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  if (!unpacked.ok()) return out;
  out.unpack = *unpacked;
  EXPECT_FALSE(unpacked->partial()) << ToJson(*unpacked).dump(2);
  EXPECT_EQ(unpacked->files, packed->files);
  EXPECT_EQ(unpacked->directories, packed->directories);
  EXPECT_EQ(unpacked->symlinks, packed->symlinks);
  EXPECT_FALSE(testing::Exists(out_dir / "dest/.quarantine"));
  EXPECT_EQ(testing::DiffTrees(state, out_dir / "dest", {}), "");
  return out;
}

RoundTripResult ExpectRoundTrip(const std::string& state, const PackOptions& options = {},
                                uint64_t media_size = 64 << 20) {
  MemoryMedia media(media_size);
  return ExpectRoundTripOn(media, state, options);
}

TEST(RoundTripTest, SmallTreeThroughMemoryMedia) {
  TempDir state, out;
  testing::MakeDirs(state / "a/b");
  testing::WriteFile(state / "a/b/f.txt", "hello", 0640);
  testing::WriteRandomFile(state / "big.bin", 3 * 1024 * 1024 + 17, 1);
  ASSERT_EQ(::symlink("a/b/f.txt", (state / "link").c_str()), 0);
  MemoryMedia media(64 << 20);
  auto packed = PackImage(state.path(), media, {});
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  EXPECT_EQ(packed->files, 2u);
  auto unpacked = UnpackImage(media, out / "dest", {});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_FALSE(unpacked->partial());
  EXPECT_EQ(testing::DiffTrees(state.path(), out / "dest"), "");
}

TEST(RoundTripTest, EmptyDirectory) {
  TempDir state;
  auto r = ExpectRoundTrip(state.path(), {}, 1 << 20);
  EXPECT_EQ(r.pack.files + r.pack.directories + r.pack.symlinks, 0u);
  EXPECT_EQ(r.pack.chunks, 0u);
  EXPECT_EQ(r.verify.segments, 0u);
}

TEST(RoundTripTest, TenThousandSmallFiles) {
  TempDir state;
  uint64_t n = 0;
  for (int d = 0; d < 40; ++d) {
    std::string dir = state / ("dir" + std::to_string(d));
    if (d % 4 == 3) dir += "/nested" + std::to_string(d);
    testing::MakeDirs(dir);
    for (int f = 0; f < 250; ++f, ++n) {
      std::string path = dir + "/f" + std::to_string(f);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      std::string contents = testing::RandomBytes((n * 37) % 700, n);  // some are empty
      ASSERT_EQ(::write(fd, contents.data(), contents.size()),
                static_cast<ssize_t>(contents.size()));
      ::close(fd);
    }
  }
  ASSERT_EQ(n, 10000u);
  PackOptions options;
  options.threads = 2;
  auto r = ExpectRoundTrip(state.path(), options, 32 << 20);
  EXPECT_EQ(r.pack.files, 10000u);
  EXPECT_EQ(r.pack.directories, 50u);
}

TEST(RoundTripTest, SparseAndZeroHeavyFiles) {
  TempDir state;
  const uint64_t MiB = 1 << 20;
  std::string island = testing::RandomBytes(3000, 7);
  // Holes (truncate -s style) with data islands: at the start, mid-chunk, across a chunk
  // boundary and at the very end.
  testing::MakeSparseFile(state / "sparse.img", 64 * MiB,
                          {0, 10 * MiB + 123, 40 * MiB - 1000, 64 * MiB - 3000}, island);
  // Nothing but a hole, with an odd size.
  testing::MakeSparseFile(state / "hole_only", 16 * MiB + 5, {}, "");
  // Random data with zero runs inside: one run covers chunk 2 entirely, one is unaligned.
  std::string mixed = testing::RandomBytes(5 * MiB + 77, 8);
  std::fill(mixed.begin() + MiB + 100, mixed.begin() + 3 * MiB + 7, '\0');
  std::fill(mixed.begin() + 4 * MiB + 5, mixed.begin() + 4 * MiB + 9000, '\0');
  testing::WriteFile(state / "mixed.bin", mixed);
  // Zeros written out (not holes): every chunk is a zero chunk found by reading.
  testing::WriteFile(state / "zeros.bin", std::string(2 * MiB + 1, '\0'));
  // A small sparse file below one chunk.
  testing::MakeSparseFile(state / "small_sparse", 100000, {50000}, "x");

  auto r = ExpectRoundTrip(state.path(), {}, 32 << 20);
  // sparse.img: 64 chunks, 4 with data (the island near 40 MiB straddles a boundary: 5);
  // hole_only: 17 zero chunks; mixed.bin: chunk 2 zero; zeros.bin: 3 zero chunks.
  EXPECT_GE(r.pack.zero_chunks, 59u + 17u + 1u + 3u);
  EXPECT_LT(r.pack.stored_bytes, 12 * MiB);
  EXPECT_EQ(r.pack.raw_bytes, 64 * MiB + 16 * MiB + 5 + mixed.size() + 2 * MiB + 1 + 100000);
}

TEST(RoundTripTest, SparseFilesStaySparse) {
  TempDir state, out;
  const uint64_t MiB = 1 << 20;
  testing::MakeSparseFile(state / "sparse.img", 128 * MiB, {0, 100 * MiB}, "data");
  MemoryMedia media(8 << 20);
  testing::MustPack(state.path(), media);
  auto unpacked = UnpackImage(media, out / "dest", {});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(testing::DiffTrees(state.path(), out / "dest"), "");
  // Zero chunks are restored as holes, not as written zeros.
  EXPECT_LT(testing::AllocatedBytes(out / "dest/sparse.img"), 16 * MiB);
}

TEST(RoundTripTest, NestedDirectories) {
  TempDir state;
  std::string rel;
  for (int i = 0; i < 60; ++i) {
    rel += (rel.empty() ? "" : "/") + std::string("level") + std::to_string(i);
    testing::MakeDirs(state / rel);
    testing::WriteFile(state / (rel + "/file"), "depth " + std::to_string(i));
    if (i % 10 == 0) testing::MakeDirs(state / (rel + "/empty"));
  }
  // Long paths: eight 255-byte components.
  std::string longrel = "long";
  for (int i = 0; i < 8; ++i) longrel += "/" + std::string(254, static_cast<char>('a' + i)) + "x";
  testing::MakeDirs(state / longrel);
  testing::WriteFile(state / (longrel + "/leaf"), "leaf");
  for (int i = 0; i < 20; ++i) testing::MakeDirs(state / ("wide/d" + std::to_string(i) + "/e"));
  ExpectRoundTrip(state.path(), {}, 4 << 20);
}

TEST(RoundTripTest, SymlinksAreRecreatedNotFollowed) {
  TempDir state, outside;
  testing::MakeDirs(state / "dir/sub");
  testing::WriteFile(state / "dir/sub/file", "target file");
  testing::WriteFile(outside / "secret", "outside the state");
  const std::pair<const char*, std::string> links[] = {
      {"rel", "dir/sub/file"},
      {"dir/up", "../dir/sub/file"},
      {"abs", "/etc/passwd"},
      {"abs_dir", outside.path()},  // a directory outside the state: must not be descended
      {"dangling", "does/not/exist"},
      {"to_dir", "dir"},
      {"loop", "loop"},
      {"odd target", "a b\nc\t\xc3\xa9 -x"},
      {"long_target", std::string(4000, 'x')},
  };
  for (const auto& [path, target] : links) {
    ASSERT_EQ(::symlink(target.c_str(), (state / path).c_str()), 0) << path;
  }
  testing::SetMtime(state / "rel", 1234567890123456789);
  auto r = ExpectRoundTrip(state.path(), {}, 4 << 20);
  EXPECT_EQ(r.pack.symlinks, std::size(links));
  EXPECT_EQ(r.pack.files, 1u);  // outside/secret was not packed through abs_dir
}

TEST(RoundTripTest, OddNames) {
  TempDir state;
  const std::string names[] = {
      "with space",
      " leading space",
      "trailing space ",
      "new\nline",
      "tab\there",
      "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x90\x8d",  // UTF-8
      "\xff\xfe not utf-8",
      "-rf",
      "--json",
      "-",
      "...",
      ".hidden",
      "..hidden",
      "a\\b",
      "*?[",
      "\x01\x1f",
      "semi;colon",
      "quote'\"",
      std::string(255, 'n'),
  };
  for (const std::string& n : names) {
    testing::WriteFile(state / n, "contents of " + n);
  }
  testing::MakeDirs(state / "dir with\nnewline/.hidden dir/...");
  testing::WriteFile(state / "dir with\nnewline/.hidden dir/.../-f", "deep");
  testing::MakeDirs(state / std::string(255, 'd'));
  testing::WriteFile(state / (std::string(255, 'd') + "/" + std::string(255, 'f')), "x");
  ASSERT_EQ(::symlink("new\nline", (state / "link\nto newline").c_str()), 0);
  auto r = ExpectRoundTrip(state.path(), {}, 4 << 20);
  EXPECT_EQ(r.pack.files, std::size(names) + 2);
}

TEST(RoundTripTest, ModesAndNanosecondMtimes) {
  const bool root = ::geteuid() == 0;
  TempDir state;
  testing::MakeDirs(state / "modes");
  // Every permission mode 0000..07777 on a file. Without root, a 0000 file cannot be read to
  // pack it, so files unreadable to their owner are left empty then.
  for (unsigned m = 0; m <= 07777; ++m) {
    char name[16];
    std::snprintf(name, sizeof name, "m%04o", m);
    std::string path = state / ("modes/" + std::string(name));
    testing::WriteFile(path, (root || (m & 0400)) ? std::string(name) : std::string(), 0600);
    ASSERT_EQ(::chmod(path.c_str(), m), 0);
  }
  // Directory modes: read-only with contents, setgid, sticky, private, and (root) 0000.
  testing::MakeDirs(state / "ro/inner_ro");
  testing::WriteFile(state / "ro/file", "in a read-only dir");
  testing::WriteFile(state / "ro/inner_ro/file", "deeper");
  testing::MakeDirs(state / "setgid/sub");
  testing::WriteFile(state / "setgid/sub/f", "g");
  testing::MakeDirs(state / "sticky");
  testing::MakeDirs(state / "private");
  testing::MakeDirs(state / "none");
  // Nanosecond mtimes, including 0 and 999999999 ns and times before 1970.
  const int64_t times[] = {
      0, 1, 999999999, 1000000000, 1600000000123456789, 4102444800999999999, -1, -1500000001};
  for (size_t i = 0; i < std::size(times); ++i) {
    std::string p = state / ("t" + std::to_string(i));
    testing::WriteFile(p, "t");
    testing::SetMtime(p, times[i]);
  }
  ASSERT_EQ(::symlink("t0", (state / "tlink").c_str()), 0);
  testing::SetMtime(state / "tlink", 1111111111222222222);
  testing::SetMtime(state / "modes/m0644", 1500000000000000001);
  ASSERT_EQ(::chmod((state / "ro/inner_ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((state / "ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((state / "setgid").c_str(), 02775), 0);
  ASSERT_EQ(::chmod((state / "sticky").c_str(), 01777), 0);
  ASSERT_EQ(::chmod((state / "private").c_str(), 0700), 0);
  ASSERT_EQ(::chmod((state / "none").c_str(), root ? 0000 : 0700), 0);
  testing::SetMtime(state / "ro", 1400000000987654321);
  testing::SetMtime(state / "setgid", 1300000000000000007);
  testing::SetMtime(state / "modes", 1200000000000000003);
  auto r = ExpectRoundTrip(state.path(), {}, 32 << 20);
  EXPECT_EQ(r.pack.files, 4096u + 3 + std::size(times));
}

TEST(RoundTripTest, FileMedia) {
  TempDir state, work;
  testing::MakeSmallState(state.path());
  testing::WriteRandomFile(state / "big", 3 << 20, 9);
  {
    FileMediaOptions mo;
    mo.mode = OpenMode::kCreate;
    auto media = OpenFileMedia(work / "image", mo);
    ASSERT_TRUE(media.ok()) << media.status().ToString();
    testing::MustPack(state.path(), **media);
  }
  auto media = OpenFileMedia(work / "image", {});
  ASSERT_TRUE(media.ok()) << media.status().ToString();
  auto v = VerifyImage(**media, {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->partial());
  auto u = UnpackImage(**media, work / "dest", {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->partial());
  EXPECT_EQ(testing::DiffTrees(state.path(), work / "dest"), "");
}

// Compression modes x chunk sizes x threads.
using PackParams = std::tuple<std::string, uint32_t, unsigned>;

class PackOptionsTest : public ::testing::TestWithParam<PackParams> {};

void MakeMixedState(const std::string& root, bool small) {
  const uint64_t scale = small ? 1 : 3;
  testing::MakeDirs(root + "/text");
  testing::WriteFile(root + "/text/words.txt", testing::TextBytes(scale * 150000, 1));
  testing::WriteFile(root + "/text/short.txt", testing::TextBytes(1000, 2));
  testing::WriteFile(root + "/random.bin", testing::RandomBytes(scale * 70000 + 3, 3));
  testing::WriteFile(root + "/zeros.bin", std::string(scale * 70000, '\0'));
  std::string mixed = testing::RandomBytes(scale * 90000, 4) + testing::TextBytes(50000, 5) +
                      std::string(70000, '\0') + testing::RandomBytes(1234, 6);
  testing::WriteFile(root + "/mixed.bin", mixed);
  testing::WriteFile(root + "/empty", "");
  ::symlink("text/words.txt", (root + "/link").c_str());
}

TEST_P(PackOptionsTest, RoundTripAndInspectCounts) {
  const auto& [compress, chunk_size, threads] = GetParam();
  auto policy = ParseCompression(compress);
  ASSERT_TRUE(policy.ok());
  TempDir state;
  MakeMixedState(state.path(), compress == "zstd:19");
  PackOptions options;
  options.compression = *policy;
  options.chunk_size = chunk_size;
  options.threads = threads;
  MemoryMedia media(8 << 20);
  auto r = ExpectRoundTripOn(media, state.path(), options);
  ASSERT_FALSE(HasFailure());
  const PackReport* packed = &r.pack;

  // Chunk accounting in the pack report.
  EXPECT_EQ(packed->chunks, packed->zero_chunks + packed->zstd_chunks + packed->raw_chunks);
  EXPECT_GT(packed->zero_chunks, 0u);
  if (compress == "none") {
    EXPECT_EQ(packed->zstd_chunks, 0u);
  } else {
    EXPECT_GT(packed->zstd_chunks, 0u) << "text should compress";
    EXPECT_GT(packed->raw_chunks, 0u) << "random data should be stored raw";
  }

  // Inspect agrees with the pack report, per segment and in total.
  auto inspected = InspectImage(media);
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  const InspectReport& ir = *inspected;
  EXPECT_EQ(ir.state, ImageState::kSealed);
  EXPECT_TRUE(ir.tables_ok);
  EXPECT_EQ(ir.header.chunk_size, chunk_size);
  EXPECT_EQ(ir.header.generation, 1u);
  EXPECT_EQ(ir.header.segment_count, 8u);
  EXPECT_EQ(ir.segments.size(), 8u);
  EXPECT_EQ(ir.header.chunk_count, packed->chunks);
  EXPECT_EQ(ir.header.total_raw_bytes, packed->raw_bytes);
  EXPECT_EQ(ir.header.total_stored_bytes, packed->stored_bytes);
  EXPECT_EQ(ir.header.image_end, packed->image_bytes);
  uint64_t files = 0, dirs = 0, links = 0, chunks = 0, zero = 0, zstd = 0, stored = 0, raw = 0;
  for (const SegmentInfo& s : ir.segments) {
    EXPECT_TRUE(s.record_ok) << s.problem;
    if (s.type == format::EntryType::kFile) {
      ++files;
      raw += s.size;
      EXPECT_EQ(s.chunks, (s.size + chunk_size - 1) / chunk_size) << s.path;
    }
    if (s.type == format::EntryType::kDirectory) ++dirs;
    if (s.type == format::EntryType::kSymlink) {
      ++links;
      EXPECT_EQ(s.target, "text/words.txt");
    }
    chunks += s.chunks;
    zero += s.zero_chunks;
    zstd += s.zstd_chunks;
    stored += s.stored_bytes;
    if (s.path == "zeros.bin") {
      EXPECT_EQ(s.zero_chunks, s.chunks);
      EXPECT_EQ(s.stored_bytes, 0u);
    }
    if (s.path == "random.bin") {
      EXPECT_EQ(s.zstd_chunks, 0u);
    }
  }
  EXPECT_EQ(files, packed->files);
  EXPECT_EQ(dirs, packed->directories);
  EXPECT_EQ(links, packed->symlinks);
  EXPECT_EQ(chunks, packed->chunks);
  EXPECT_EQ(zero, packed->zero_chunks);
  EXPECT_EQ(zstd, packed->zstd_chunks);
  EXPECT_EQ(stored, packed->stored_bytes);
  EXPECT_EQ(raw, packed->raw_bytes);

  // The compression ratio: raw file bytes over stored chunk bytes.
  nlohmann::json j = ToJson(ir);
  double expected = double(packed->raw_bytes) / double(packed->stored_bytes);
  EXPECT_NEAR(j["compression_ratio"].get<double>(), expected, 1e-9);
  EXPECT_GT(expected, 1.0);  // zero chunks alone make the ratio exceed 1
  if (compress != "none") {
    // Text compresses at least 2:1, so stored bytes fall well below raw bytes minus zeros.
    EXPECT_LT(packed->stored_bytes, (packed->raw_bytes - 70000 * 2) * 3 / 4);
  }
  EXPECT_EQ(j["state"], "sealed");
  EXPECT_EQ(j["image"]["segments"], 8u);
}

INSTANTIATE_TEST_SUITE_P(Matrix, PackOptionsTest,
                         ::testing::Combine(::testing::Values("none", "zstd", "zstd:19", "auto"),
                                            ::testing::Values(4096u, 65536u,
                                                              format::kDefaultChunkSize),
                                            ::testing::Values(1u, 4u)),
                         [](const ::testing::TestParamInfo<PackParams>& info) {
                           std::string c = std::get<0>(info.param);
                           for (char& ch : c) {
                             if (ch == ':') ch = '_';
                           }
                           return c + "_chunk" + std::to_string(std::get<1>(info.param)) +
                                  "_threads" + std::to_string(std::get<2>(info.param));
                         });

TEST(InspectTest, ZeroOnlyImageRatio) {
  TempDir state;
  testing::WriteFile(state / "zeros", std::string(10000, '\0'));
  MemoryMedia media(1 << 20);
  testing::MustPack(state.path(), media);
  auto ir = InspectImage(media);
  ASSERT_TRUE(ir.ok());
  EXPECT_EQ(ir->header.total_stored_bytes, 0u);
  EXPECT_EQ(ir->header.total_raw_bytes, 10000u);
  EXPECT_EQ(ir->segments.at(0).zero_chunks, 1u);
  // No stored bytes: docs/cli.md defines the ratio as 0 then (JSON has no infinity).
  double ratio = ToJson(*ir)["compression_ratio"].get<double>();
  EXPECT_EQ(ratio, 0.0);
}

}  // namespace
}  // namespace warmboot

namespace warmboot {
namespace {

// One thread per CPU by default, but never more than kMaxAutoThreads: every worker holds its
// own chunk buffers, so a large machine would otherwise grow the resident set with its cores.
TEST(EffectiveThreadsTest, TheDefaultFollowsTheCpusUpToTheCap) {
  EXPECT_EQ(EffectiveThreads(0, 2), 2u);
  EXPECT_EQ(EffectiveThreads(0, 64), kMaxAutoThreads);
  EXPECT_EQ(EffectiveThreads(0, 0), 1u) << "an unknown count (0) is one";
  EXPECT_EQ(EffectiveThreads(32, 2), 32u) << "an explicit count is taken as given";
  EXPECT_GE(EffectiveThreads(0), 1u);
  EXPECT_LE(EffectiveThreads(0), kMaxAutoThreads);
}

}  // namespace
}  // namespace warmboot
