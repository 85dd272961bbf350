// The image reader from arbitrary bytes on a memory medium: inspect, verify and unpack.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/targets.h"
#include "fuzz/write_guard.h"
#include "image/checksum.h"
#include "image/codec.h"
#include "image/format.h"
#include "image/image.h"
#include "image/image_json.h"
#include "image/zero.h"
#include "media/media.h"
#include "util/endian.h"
#include "util/json_text.h"

namespace warmboot::fuzz {
namespace {

namespace fs = std::filesystem;
using P = ImageInputPrefix;

// Header and segment record field offsets (docs/format.md sections 4 and 6.1).
constexpr size_t kHChunkSize = 144, kHDataOffset = 160, kHDataLength = 168, kHSegCount = 176,
                 kHSegOffset = 184, kHChunkCount = 192, kHChunkOffset = 200, kHNamesOffset = 208,
                 kHNamesLength = 216, kHSegSum = 224, kHChunkSum = 232, kHNamesSum = 240,
                 kHImageEnd = 264;
constexpr size_t kBlockSum = format::kBlockChecksumOffset;

// [off, +len) inside a buffer of `size` bytes.
bool Inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

// Repairs what the prefix asks for, in the order a writer computes it: record checksums, chunk
// hashes, table checksums, the header block, the seal.
void Repair(std::vector<uint8_t>& m, uint8_t what) {
  if (m.size() < format::kMinImageSize) return;
  uint8_t* h = m.data();
  const uint64_t seg_count = LoadLE<uint64_t>(h + kHSegCount);
  const uint64_t seg_off = LoadLE<uint64_t>(h + kHSegOffset);
  const uint64_t chunk_count = LoadLE<uint64_t>(h + kHChunkCount);
  const uint64_t chunk_off = LoadLE<uint64_t>(h + kHChunkOffset);
  const uint64_t names_off = LoadLE<uint64_t>(h + kHNamesOffset);
  const uint64_t names_len = LoadLE<uint64_t>(h + kHNamesLength);
  const uint32_t chunk_size = LoadLE<uint32_t>(h + kHChunkSize);
  const uint64_t data_off = LoadLE<uint64_t>(h + kHDataOffset);
  const uint64_t data_len = LoadLE<uint64_t>(h + kHDataLength);
  const uint64_t size = m.size();
  const bool segs_in = seg_count <= size / 80 && Inside(seg_off, seg_count * 80, size);
  const bool chunks_in = chunk_count <= size / 32 && Inside(chunk_off, chunk_count * 32, size);
  const bool names_in = Inside(names_off, names_len, size);
  if ((what & P::kRecords) && segs_in && names_in) {
    for (uint64_t i = 0; i < seg_count; ++i) {
      uint8_t* r = m.data() + seg_off + i * 80;
      uint64_t name_off = LoadLE<uint64_t>(r + 56);
      uint64_t len = uint64_t{LoadLE<uint16_t>(r + 2)} + LoadLE<uint32_t>(r + 4);
      if (!Inside(name_off, len, names_len)) continue;
      Hasher64 hasher;
      hasher.Update(r, 72);
      hasher.Update(m.data() + names_off + name_off, len);
      StoreLE<uint64_t>(r + 72, hasher.Digest());
    }
  }
  if ((what & P::kChunks) && chunks_in) {
    ChunkDecompressor dctx;
    std::vector<uint8_t> raw;
    for (uint64_t i = 0; i < chunk_count; ++i) {
      uint8_t* c = m.data() + chunk_off + i * 32;
      const uint64_t off = LoadLE<uint64_t>(c);
      const uint32_t stored = LoadLE<uint32_t>(c + 8), raw_len = LoadLE<uint32_t>(c + 12);
      if (raw_len > chunk_size || raw_len > (1u << 20)) continue;  // bounded work per input
      uint64_t hash;
      if (c[24] == 2) {
        hash = ZeroHash(raw_len);
      } else if (!Inside(off, stored, size) || !Inside(off, stored, data_off + data_len)) {
        continue;
      } else if (c[24] == 0 && stored == raw_len) {
        hash = Hash64(m.data() + off, raw_len);
      } else if (c[24] == 1) {
        raw.resize(raw_len);
        if (!dctx.Decompress({m.data() + off, stored}, {raw.data(), raw_len}).ok()) continue;
        hash = Hash64(raw.data(), raw_len);
      } else {
        continue;
      }
      StoreLE<uint64_t>(c + 16, hash);
    }
  }
  if (what & P::kTables) {
    if (segs_in) StoreLE<uint64_t>(h + kHSegSum, Hash64(m.data() + seg_off, seg_count * 80));
    if (chunks_in) {
      StoreLE<uint64_t>(h + kHChunkSum, Hash64(m.data() + chunk_off, chunk_count * 32));
    }
    if (names_in) StoreLE<uint64_t>(h + kHNamesSum, Hash64(m.data() + names_off, names_len));
  }
  if (what & P::kHeader) StoreLE<uint64_t>(h + kBlockSum, Hash64(h, kBlockSum));
  if (what & (P::kSeal | P::kConsumedSeal)) {
    uint8_t* s = m.data() + format::kSealOffset;
    std::memcpy(s, format::kSealMagic.data(), 8);
    StoreLE<uint16_t>(s + 8, 1);
    StoreLE<uint32_t>(s + 12, (what & P::kConsumedSeal) ? 2 : 1);
    std::memcpy(s + 16, h + 32, 16);                              // image_uuid
    std::memcpy(s + 32, h + 48, 8);                               // generation
    StoreLE<uint64_t>(s + 40, LoadLE<uint64_t>(h + kBlockSum));   // header checksum
    StoreLE<uint64_t>(s + 48, LoadLE<uint64_t>(h + kHImageEnd));  // image_end
    StoreLE<uint64_t>(s + kBlockSum, Hash64(s, kBlockSum));
  }
}

// Directory listing for the walks after every input (cleaning the sandbox, looking for
// temporaries, checking the neighbours): getdents64 into buffers kept from input to input, one
// per depth of a walk. std::filesystem's iterators and readdir allocate per directory and per
// entry, and under ASan those allocations cost more than the walks' system calls.
class DirReader {
 public:
  // Calls fn(name, d_type) for every entry of the open directory `fd` but "." and "..", from
  // where `fd` is positioned, until fn returns false. `depth` picks the buffer: a walk passes
  // depth + 1 to the calls it makes inside fn. False when fn stopped it or getdents64 failed.
  template <class Fn>
  static bool ForEach(int fd, size_t depth, Fn&& fn) {
    char* buf = Buffer(depth);
    for (;;) {
      long n = ::syscall(SYS_getdents64, fd, buf, kBufferSize);
      if (n <= 0) return n == 0;
      for (long off = 0; off < n;) {
        const auto* d = reinterpret_cast<const Dirent64*>(buf + off);
        off += d->d_reclen;
        const char* name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        unsigned char type = d->d_type;
        if (type == DT_UNKNOWN) {  // a file system that does not say
          struct stat st;
          if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        if (!fn(name, type)) return false;
      }
    }
  }

 private:
  static char* Buffer(size_t depth) {
    static std::vector<std::unique_ptr<char[]>> buffers;
    while (buffers.size() <= depth) buffers.push_back(std::make_unique<char[]>(kBufferSize));
    return buffers[depth].get();  // stays put when `buffers` grows
  }
  struct Dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
  };
  static constexpr size_t kBufferSize = 8192;
};

int OpenDir(int dirfd, const char* name) {
  return ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Empties directory `fd` (made writable first, at every level: an image may set mode 0).
void EmptyDir(int fd, size_t depth) {
  DirReader::ForEach(fd, depth, [&](const char* name, unsigned char type) {
    if (type != DT_DIR) {
      ::unlinkat(fd, name, 0);
      return true;
    }
    ::fchmodat(fd, name, 0700, 0);  // a directory, not a symlink: nothing is followed
    int sub = OpenDir(fd, name);
    if (sub >= 0) {
      EmptyDir(sub, depth + 1);
      ::close(sub);
    }
    ::unlinkat(fd, name, AT_REMOVEDIR);
    return true;
  });
}

// The restore's sandbox: <base>/dest is the destination, <base>/outside an empty directory and
// <base>/victim a file, neighbours a hostile image would aim at (seeds carry symlinks to them).
class Sandbox {
 public:
  static Sandbox& Get() {
    static Sandbox sandbox;
    return sandbox;
  }
  const std::string& dest() const { return dest_; }

  // Removes the destination (making directories writable first: an image may set mode 0).
  void Clean() {
    struct stat st;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (::fstatat(base_fd_, "dest", &st, AT_SYMLINK_NOFOLLOW) != 0) break;  // none (left)
      if (!S_ISDIR(st.st_mode)) {
        ::unlinkat(base_fd_, "dest", 0);
        continue;
      }
      ::fchmodat(base_fd_, "dest", 0700, 0);
      int fd = OpenDir(base_fd_, "dest");
      if (fd >= 0) {
        EmptyDir(fd, 0);
        ::close(fd);
      }
      // Fails when an entry escaped the listing (one removed while read): the next attempt
      // lists again.
      ::unlinkat(base_fd_, "dest", AT_REMOVEDIR);
    }
    WB_FUZZ_CHECK(::fstatat(base_fd_, "dest", &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT,
                  "cannot clean " + dest_);
  }

  // Nothing next to the destination changed.
  void CheckNeighbours() const {
    int outside = 0, victim = 0, other = 0;
    ::lseek(base_fd_, 0, SEEK_SET);
    WB_FUZZ_CHECK(DirReader::ForEach(base_fd_, 0,
                                     [&](const char* name, unsigned char) {
                                       std::string_view n = name;
                                       outside += n == "outside";
                                       victim += n == "victim";
                                       other += n != "outside" && n != "victim" && n != "dest";
                                       return true;
                                     }),
                  "cannot list " + base_);
    WB_FUZZ_CHECK(outside == 1 && victim == 1 && other == 0,
                  "an entry appeared or vanished next to the destination");
    int fd = OpenDir(base_fd_, "outside");
    WB_FUZZ_CHECK(fd >= 0, "outside/ is no longer a directory");
    bool empty = DirReader::ForEach(fd, 0, [](const char*, unsigned char) { return false; });
    ::close(fd);
    WB_FUZZ_CHECK(empty, "something was written into outside/");
    struct stat st;
    WB_FUZZ_CHECK(::fstatat(base_fd_, "victim", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(st.st_mode) && st.st_size == 7 && (st.st_mode & 07777) == 0644,
                  "the victim file changed");
  }

 private:
  Sandbox() {
    // tmpfs when there is one: unpack ends with syncfs.
    std::string tmpl = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/warmboot-fuzz-XXXXXX";
    WB_FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    char resolved[PATH_MAX];
    WB_FUZZ_CHECK(::realpath(tmpl.c_str(), resolved) != nullptr, "realpath");
    base_ = resolved;
    dest_ = base_ + "/dest";
    base_fd_ = OpenDir(AT_FDCWD, base_.c_str());
    WB_FUZZ_CHECK(base_fd_ >= 0, "cannot open " + base_);
    fs::create_directory(base_ + "/outside");
    FILE* f = std::fopen((base_ + "/victim").c_str(), "w");
    WB_FUZZ_CHECK(f != nullptr, "victim");
    std::fputs("victim\n", f);
    std::fclose(f);
    ::chmod((base_ + "/victim").c_str(), 0644);
  }
  ~Sandbox() {
    Clean();
    ::close(base_fd_);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  std::string base_, dest_;
  int base_fd_ = -1;
};

// A JSON document's text is valid UTF-8 JSON whatever the image holds.
void CheckJson(const nlohmann::json& j) {
  std::string text = DumpJson(j, 2);
  WB_FUZZ_CHECK(IsValidUtf8(text), "JSON text is not UTF-8");
  // accept() runs the same parser as parse() without building the document.
  WB_FUZZ_CHECK(nlohmann::json::accept(text), "JSON text does not parse back");
}

void CheckDamageList(const VerifyReport& r) {
  for (size_t i = 0; i < r.damaged.size(); ++i) {
    const DamagedSegment& d = r.damaged[i];
    WB_FUZZ_CHECK(d.index < r.segments, "damaged segment index out of range");
    WB_FUZZ_CHECK(i == 0 || r.damaged[i - 1].index < d.index, "damage not sorted by segment");
    WB_FUZZ_CHECK(!d.reason.empty(), "damage without a reason");
    for (size_t k = 1; k < d.damaged_ranges.size(); ++k) {
      WB_FUZZ_CHECK(d.damaged_ranges[k - 1].offset < d.damaged_ranges[k].offset,
                    "damaged ranges not sorted");
    }
  }
}

std::set<uint64_t> DamagedSet(const VerifyReport& r) {
  std::set<uint64_t> out;
  for (const DamagedSegment& d : r.damaged) out.insert(d.index);
  return out;
}

// Parses report.json (SAX: no document is built) for what is checked of it: an object whose
// "damaged" array has an entry per damaged segment.
struct DamageCounter : nlohmann::json_sax<nlohmann::json> {
  bool object = false;  // the document is an object
  size_t damaged = 0;   // entries of its "damaged" array

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(size_t) override {
    if (depth_ == 0) object = true;
    Value();
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) damaged_next_ = k == "damaged";
    return true;
  }
  bool start_array(size_t) override {
    Value();
    if (depth_ == 1 && damaged_next_) in_damaged_ = true;
    ++depth_;
    return true;
  }
  bool end_array() override {
    if (--depth_ == 1) in_damaged_ = false;
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  // A value starts at the current depth: directly in "damaged", it is an entry.
  bool Value() {
    if (in_damaged_ && depth_ == 2) ++damaged;
    return true;
  }
  int depth_ = 0;
  bool damaged_next_ = false, in_damaged_ = false;
};

// A name unpack gives a temporary (unpack.cc, TempName): ".wb-tmp.", 8 lowercase hex digits of
// a token drawn per unpack, ".", a segment index.
bool IsTemporaryName(std::string_view n) {
  constexpr std::string_view kPrefix = ".wb-tmp.";
  if (!n.starts_with(kPrefix) || n.size() < kPrefix.size() + 10) return false;
  n.remove_prefix(kPrefix.size());
  for (size_t i = 0; i < 8; ++i) {
    if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) return false;
  }
  if (n[8] != '.') return false;
  n.remove_prefix(9);
  return std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An entry the image itself names: a segment unpack restored, or the quarantined copy of a
// damaged one. (An image may hold a file called like a temporary.)
bool IsImageEntry(std::string_view rel, const InspectReport& inspected, const UnpackReport& u) {
  for (const SegmentInfo& s : inspected.segments) {
    if (s.record_ok && s.path == rel) return true;
  }
  for (const DamagedSegment& d : u.damaged) {
    if (d.quarantined_as == rel) return true;
  }
  return false;
}

// No entry of directory `fd` (`rel` beneath the destination, "" for the destination), or
// beneath it, is a temporary of unpack's: a file or symlink with a temporary's name that the
// image does not name itself. Directories are never temporaries.
void CheckNoTemporaries(int fd, size_t depth, const std::string& rel,
                        const InspectReport& inspected, const UnpackReport& u) {
  DirReader::ForEach(fd, depth, [&](const char* name, unsigned char type) {
    if (type != DT_DIR) {
      if (IsTemporaryName(name)) {
        std::string entry = rel.empty() ? name : rel + "/" + name;
        WB_FUZZ_CHECK(IsImageEntry(entry, inspected, u), "temporary left behind: " + entry);
      }
      return true;
    }
    int sub = OpenDir(fd, name);
    if (sub >= 0) {
      CheckNoTemporaries(sub, depth + 1, rel.empty() ? name : rel + "/" + name, inspected, u);
      ::close(sub);
    }
    return true;
  });
}

// What unpack says it restored is there: every sound segment at its path, with its type, size
// and target; every quarantined file under .quarantine/; no temporary left behind.
void CheckRestored(const std::string& dest, const InspectReport& inspected, const UnpackReport& u) {
  std::set<uint64_t> damaged = DamagedSet(u);
  std::string p;
  for (const SegmentInfo& s : inspected.segments) {
    if (!s.record_ok || damaged.count(s.index)) continue;
    p.assign(dest).append("/").append(s.path);
    struct stat st;
    WB_FUZZ_CHECK(::lstat(p.c_str(), &st) == 0, "restored segment missing: " + s.path);
    switch (s.type) {
      case format::EntryType::kFile:
        WB_FUZZ_CHECK(S_ISREG(st.st_mode) && uint64_t(st.st_size) == s.size,
                      "restored file differs: " + s.path);
        break;
      case format::EntryType::kDirectory:
        WB_FUZZ_CHECK(S_ISDIR(st.st_mode), "restored directory differs: " + s.path);
        break;
      case format::EntryType::kSymlink: {
        std::vector<char> buf(s.target.size() + 2);
        ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
        WB_FUZZ_CHECK(
            S_ISLNK(st.st_mode) && n >= 0 && std::string(buf.data(), size_t(n)) == s.target,
            "restored symlink differs: " + s.path);
        break;
      }
    }
  }
  for (const DamagedSegment& d : u.damaged) {
    if (d.quarantined_as.empty()) continue;
    struct stat st;
    WB_FUZZ_CHECK(::lstat((dest + "/" + d.quarantined_as).c_str(), &st) == 0 && S_ISREG(st.st_mode),
                  "quarantined file missing: " + d.quarantined_as);
  }
  if (u.partial()) {
    std::FILE* f = std::fopen((dest + "/.quarantine/report.json").c_str(), "r");
    WB_FUZZ_CHECK(f != nullptr, "partial restore without .quarantine/report.json");
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    WB_FUZZ_CHECK(IsValidUtf8(text), "report.json is not UTF-8");
    DamageCounter report;
    WB_FUZZ_CHECK(nlohmann::json::sax_parse(text, &report) && report.object &&
                      report.damaged == u.damaged.size(),
                  "report.json does not list the damage");
  }
  int fd = OpenDir(AT_FDCWD, dest.c_str());
  WB_FUZZ_CHECK(fd >= 0, "cannot open the destination " + dest);
  CheckNoTemporaries(fd, 0, "", inspected, u);
  ::close(fd);
}

}  // namespace

int FuzzImage(const uint8_t* data, size_t size) {
  if (size < P::kSize) return 0;
  const uint8_t repair = data[0], options = data[1];
  const uint32_t bad_offset = LoadLE<uint32_t>(data + 2);
  const uint16_t bad_length = LoadLE<uint16_t>(data + 6);
  std::vector<uint8_t> bytes(data + P::kSize, data + size);
  Repair(bytes, repair);

  MemoryMedia media(bytes.size(), "fuzz");
  if (!bytes.empty()) std::memcpy(media.bytes().data(), bytes.data(), bytes.size());
  if (options & P::kBadRange) media.SetKnownBadRanges({{bad_offset, bad_length}});
  if (options & P::kTruncate) media.TruncateReadable(bad_offset);

  // Inspect: every image with a readable header is described; nothing else is an error.
  (void)FindImageMagic(media);
  auto shallow = InspectImage(media, InspectDepth::kHeaderAndSeal);
  auto inspected = InspectImage(media);
  WB_FUZZ_CHECK(shallow.ok() == inspected.ok() || !inspected.ok(),
                "the header-and-seal inspection failed where the full one succeeded");
  if (!inspected.ok()) {
    WB_FUZZ_CHECK(inspected.status().code() == Code::kNoImage,
                  "inspect failed with " + inspected.status().ToString());
  } else {
    WB_FUZZ_CHECK(inspected->segments.size() == inspected->header.segment_count,
                  "inspect lists a different number of segments");
    CheckJson(ToJson(*inspected));
  }

  VerifyOptions vo;
  vo.threads = 1;
  auto verified = VerifyImage(media, vo);
  if (!verified.ok()) {
    WB_FUZZ_CHECK(verified.status().code() == Code::kNoImage,
                  "verify failed with " + verified.status().ToString());
    WB_FUZZ_CHECK(
        !inspected.ok() || inspected->state != ImageState::kSealed,
        "verify found no image where inspect found a sealed one: " + verified.status().ToString());
  } else {
    WB_FUZZ_CHECK(inspected.ok() && inspected->state == ImageState::kSealed,
                  "verify accepted an image inspect does not call sealed");
    CheckDamageList(*verified);
    CheckJson(ToJson(*verified));
  }

  Sandbox& sb = Sandbox::Get();
  UnpackOptions uo;
  uo.threads = 1;
  uo.consume = options & P::kConsume;
  uo.restore_owner = (options & P::kOwners) && ::geteuid() == 0;
  const std::vector<uint8_t> seal_before(
      media.bytes().begin() + std::min<size_t>(4096, bytes.size()),
      media.bytes().begin() + std::min<size_t>(8192, bytes.size()));
  for (int run = 0; run < ((options & P::kMergeTwice) ? 2 : 1); ++run) {
    uo.merge = run > 0;
    ArmWriteGuard(sb.dest());
    auto unpacked = UnpackImage(media, sb.dest(), uo);
    DisarmWriteGuard();
    sb.CheckNeighbours();
    if (!unpacked.ok()) {
      WB_FUZZ_CHECK(unpacked.status().code() == Code::kNoImage,
                    "unpack failed with " + unpacked.status().ToString());
      if (run == 0) {
        WB_FUZZ_CHECK(!verified.ok(), "unpack found no image where verify found one");
        WB_FUZZ_CHECK(!fs::exists(fs::symlink_status(sb.dest())),
                      "unpack created its destination for no image");
      } else {
        WB_FUZZ_CHECK(uo.consume, "a second unpack found no image");
      }
      break;
    }
    WB_FUZZ_CHECK(verified.ok(), "unpack restored an image verify rejected");
    CheckDamageList(*unpacked);
    CheckJson(ToJson(*unpacked));
    // Unpack verifies what verify verifies: it finds at least the same damage.
    std::set<uint64_t> v = DamagedSet(*verified), u = DamagedSet(*unpacked);
    WB_FUZZ_CHECK(std::includes(u.begin(), u.end(), v.begin(), v.end()),
                  "verify reports damage unpack does not");
    WB_FUZZ_CHECK(verified->image_problems == unpacked->image_problems,
                  "verify and unpack report different image problems");
    CheckRestored(sb.dest(), *inspected, *unpacked);
    if (uo.consume) {
      WB_FUZZ_CHECK(unpacked->consumed, "--consume did not consume");
      auto after = InspectImage(media);
      WB_FUZZ_CHECK(after.ok() && after->state == ImageState::kConsumed,
                    "the image does not read as consumed after --consume");
      // Consuming rewrites state, consumed_ns and the checksum only (format.md 5.4). The
      // ranges between are compared whole: byte by byte, every comparison was traced.
      const uint8_t* now = media.bytes().data() + 4096;
      const size_t end = std::min<size_t>(seal_before.size(), format::kBlockChecksumOffset);
      for (auto [from, to] : {std::pair<size_t, size_t>{0, 12}, {16, 64}, {72, end}}) {
        to = std::min(to, end);
        if (from >= to || std::memcmp(now + from, seal_before.data() + from, to - from) == 0) {
          continue;
        }
        size_t i = from;
        while (now[i] == seal_before[i]) ++i;
        WB_FUZZ_CHECK(false, "consume changed seal byte " + std::to_string(i));
      }
    }
  }
  sb.Clean();
  return 0;
}

}  // namespace warmboot::fuzz
