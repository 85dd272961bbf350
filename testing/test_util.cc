#include "testing/test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>

#include "image/image.h"
#include "util/timespec.h"

namespace warmboot::testing {

namespace fs = std::filesystem;

namespace {
// $TMPDIR when set; else /dev/shm when it is a writable directory (unpack ends with syncfs, which
// on a busy disk costs far more than the tests themselves); else /tmp.
std::string TempBase() {
  if (const char* base = std::getenv("TMPDIR"); base != nullptr && *base != '\0') return base;
  struct stat st;
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return "/tmp";
}
}  // namespace

TempDir::TempDir() : TempDir(TempBase()) {}

TempDir::TempDir(const std::string& base) {
  std::string tmpl = base + "/warmboot-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Make everything writable first so read-only directories can be removed.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      ::chmod(it->path().c_str(), 0700);
    }
  }
  fs::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& contents, unsigned mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  ::chmod(path.c_str(), mode);
}

void WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> buf(8192);
  while (size > 0) {
    for (auto& w : buf) w = rng();
    uint64_t n = std::min<uint64_t>(size, buf.size() * 8);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    size -= n;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::string out(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

void MakeDirs(const std::string& path) {
  fs::create_directories(path);
}

namespace {

std::string DiffEntry(const std::string& a, const std::string& b, const std::string& rel) {
  struct stat sa, sb;
  if (::lstat(a.c_str(), &sa) != 0) return "missing in first: " + rel;
  if (::lstat(b.c_str(), &sb) != 0) return "missing in second: " + rel;
  if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return "type differs: " + rel;
  if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
    return "mode differs: " + rel;
  }
  if (!S_ISDIR(sa.st_mode) &&
      (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
    return "mtime differs: " + rel;
  }
  if (S_ISLNK(sa.st_mode)) {
    if (fs::read_symlink(a) != fs::read_symlink(b)) return "symlink target differs: " + rel;
  } else if (S_ISREG(sa.st_mode)) {
    if (sa.st_size != sb.st_size) return "size differs: " + rel;
    if (!SameContents(a, b)) return "contents differ: " + rel;
  } else if (S_ISDIR(sa.st_mode)) {
    if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec) {
      return "directory mtime differs: " + rel;
    }
  }
  return "";
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string Walk(const std::string& a, const std::string& b, const std::string& rel,
                 const std::vector<std::string>& ignore) {
  auto la = List(a), lb = List(b);
  if (rel.empty()) {
    for (const std::string& i : ignore) {
      la.erase(std::remove(la.begin(), la.end(), i), la.end());
      lb.erase(std::remove(lb.begin(), lb.end(), i), lb.end());
    }
  }
  if (la != lb) return "entries differ in " + (rel.empty() ? std::string(".") : rel);
  for (const std::string& n : la) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string d = DiffEntry(a + "/" + n, b + "/" + n, r);
    if (!d.empty()) return d;
    struct stat st;
    if (::lstat((a + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      d = Walk(a + "/" + n, b + "/" + n, r, ignore);
      if (!d.empty()) return d;
    }
  }
  return "";
}

}  // namespace

std::string DiffTrees(const std::string& a, const std::string& b,
                      const std::vector<std::string>& ignore) {
  return Walk(a, b, "", ignore);
}

std::string DiffPath(const std::string& root_a, const std::string& root_b, const std::string& rel) {
  return DiffEntry(root_a + "/" + rel, root_b + "/" + rel, rel);
}

namespace {
void ListInto(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const std::string& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    out->push_back(r);
    struct stat st;
    if (::lstat((root + "/" + r).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) ListInto(root, r, out);
  }
}
}  // namespace

std::vector<std::string> ListTree(const std::string& root) {
  std::vector<std::string> out;
  ListInto(root, "", &out);
  std::sort(out.begin(), out.end());
  return out;
}

bool SameContents(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  if (sa.st_size != sb.st_size) return false;
  if (sa.st_size == 0) return true;  // without opening: a mode 0000 file is unreadable to non-root
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  constexpr size_t kBuf = 256 << 10;
  // Allocated once per thread, never zero-filled: this runs for every file of big trees.
  thread_local std::unique_ptr<char[]> ba(new char[kBuf]), bb(new char[kBuf]);
  for (;;) {
    fa.read(ba.get(), kBuf);
    fb.read(bb.get(), kBuf);
    std::streamsize na = fa.gcount(), nb = fb.gcount();
    if (na != nb) return false;
    if (std::memcmp(ba.get(), bb.get(), static_cast<size_t>(na)) != 0) return false;
    if (na < static_cast<std::streamsize>(kBuf)) return true;  // both ended here
  }
}

std::string RandomBytes(uint64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; i += 8) {
    uint64_t w = rng();
    std::memcpy(s.data() + i, &w, std::min<uint64_t>(8, size - i));
  }
  return s;
}

std::string TextBytes(uint64_t size, uint64_t seed) {
  static const char* kWords[] = {"warm",  "boot",    "kexec", "state", "image", "seal",
                                 "chunk", "segment", "pmem",  "the",   "of",    "restore",
                                 "and",   "verify",  "data",  "file"};
  std::mt19937_64 rng(seed);
  std::string s;
  s.reserve(size + 16);
  while (s.size() < size) {
    s += kWords[rng() % 16];
    s += (rng() % 11 == 0) ? '\n' : ' ';
  }
  s.resize(size);
  return s;
}

void SetMtime(const std::string& path, int64_t ns) {
  struct timespec t = TimespecFromNanos(ns);
  struct timespec times[2] = {t, t};
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    throw std::runtime_error("utimensat " + path + ": " + std::strerror(errno));
  }
}

void MakeSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& islands,
                    const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("ftruncate");
  for (uint64_t off : islands) {
    if (::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(data.size())) {
      throw std::runtime_error("pwrite " + path);
    }
  }
  ::close(fd);
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

PackReport MustPack(const std::string& state, Media& media, const PackOptions& options) {
  auto r = PackImage(state, media, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return PackReport{};
  return *r;
}

std::unique_ptr<MemoryMedia> CopyMedia(MemoryMedia& media) {
  auto copy = std::make_unique<MemoryMedia>(media.capacity(), media.name());
  copy->bytes() = media.bytes();
  copy->TruncateReadable(media.size());
  return copy;
}

int FindDamaged(const VerifyReport& report, uint64_t segment) {
  for (size_t i = 0; i < report.damaged.size(); ++i) {
    if (report.damaged[i].index == segment) return static_cast<int>(i);
  }
  return -1;
}

std::vector<uint64_t> DamagedIndices(const VerifyReport& report) {
  std::vector<uint64_t> out;
  for (const DamagedSegment& d : report.damaged) out.push_back(d.index);
  std::sort(out.begin(), out.end());
  return out;
}

std::string DiffSegmentsExcept(const std::string& state, const std::string& dest,
                               const InspectReport& pristine, const std::vector<uint64_t>& skip) {
  for (const SegmentInfo& s : pristine.segments) {
    if (std::find(skip.begin(), skip.end(), s.index) != skip.end()) continue;
    std::string d = DiffPath(state, dest, s.path);
    if (!d.empty()) return "segment " + std::to_string(s.index) + ": " + d;
  }
  return "";
}

Sandbox::Sandbox() {
  MakeDirs(root / "outside");
  WriteFile(root / "victim", "original victim contents\n");
  before_ = Outside();
}

std::vector<std::string> Sandbox::Outside() const {
  std::vector<std::string> out;
  for (const std::string& p : ListTree(root.path())) {
    if (p != "dest" && !p.starts_with("dest/")) out.push_back(p);
  }
  return out;
}

std::string Sandbox::CheckOutsideUntouched() const {
  std::vector<std::string> now = Outside();
  if (now != before_) {
    std::string msg = "entries outside DEST changed:";
    for (const std::string& p : now) {
      if (std::find(before_.begin(), before_.end(), p) == before_.end()) msg += " +" + p;
    }
    for (const std::string& p : before_) {
      if (std::find(now.begin(), now.end(), p) == now.end()) msg += " -" + p;
    }
    return msg;
  }
  if (ReadFile(root / "victim") != "original victim contents\n") return "victim was modified";
  return "";
}

int SegmentIndex(Media& media, const std::string& path) {
  auto r = InspectImage(media);
  if (!r.ok()) return -1;
  for (const SegmentInfo& s : r->segments) {
    if (s.record_ok && s.path == path) return static_cast<int>(s.index);
  }
  return -1;
}

void MakeSmallState(const std::string& root) {
  MakeDirs(root + "/d/sub");
  WriteFile(root + "/a.txt", TextBytes(5000, 1), 0640);
  WriteFile(root + "/d/b.bin", RandomBytes(10000, 2), 0600);
  WriteFile(root + "/d/zero", std::string(8192, '\0'), 0644);
  WriteFile(root + "/d/sub/c", RandomBytes(100, 3), 0755);
  WriteFile(root + "/empty", "", 0644);
  if (::symlink("a.txt", (root + "/link").c_str()) != 0) throw std::runtime_error("symlink");
  int64_t t = 1700000000123456789;
  for (const char* p : {"a.txt", "d/b.bin", "d/zero", "d/sub/c", "empty", "link", "d/sub", "d"}) {
    SetMtime(root + "/" + p, t += 1000000007);
  }
}

}  // namespace warmboot::testing
