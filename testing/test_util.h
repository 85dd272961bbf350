// Helpers for tests: temporary directories, tree builders and tree comparison.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/image.h"
#include "media/media.h"

namespace warmboot::testing {

// A fresh directory under $TMPDIR (else /dev/shm when writable, else /tmp), removed with its
// contents on destruction.
class TempDir {
 public:
  TempDir();
  // Under `base` instead of the default (e.g. a disk filesystem where tmpfs cannot serve).
  explicit TempDir(const std::string& base);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& contents, unsigned mode = 0644);
void WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed);
std::string ReadFile(const std::string& path);
void MakeDirs(const std::string& path);

// Random bytes / compressible text, deterministic in `seed`.
std::string RandomBytes(uint64_t size, uint64_t seed);
std::string TextBytes(uint64_t size, uint64_t seed);

// Sets the mtime (and atime) of `path` without following a symlink.
void SetMtime(const std::string& path, int64_t ns);
// A sparse file of `size` bytes (ftruncate) with `data` written at each offset in `islands`.
void MakeSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& islands,
                    const std::string& data);
// Allocated bytes of a file (st_blocks * 512).
uint64_t AllocatedBytes(const std::string& path);
bool Exists(const std::string& path);  // lstat succeeds

// Compares two trees: types, contents, symlink targets, modes and mtimes. Returns a
// description of the first difference, or "" when equal. Entries named in `ignore` (relative
// paths at the top level) are skipped.
std::string DiffTrees(const std::string& a, const std::string& b,
                      const std::vector<std::string>& ignore = {".quarantine"});
// Compares one entry `rel` under two roots (not recursing); "" when equal.
std::string DiffPath(const std::string& root_a, const std::string& root_b, const std::string& rel);
// Every path under `root`, relative, sorted; symlinks are listed, never followed.
std::vector<std::string> ListTree(const std::string& root);
// Byte-wise file comparison without loading whole files.
bool SameContents(const std::string& a, const std::string& b);

// Packs `state` into `media`, failing the current test on error.
PackReport MustPack(const std::string& state, Media& media, const PackOptions& options = {});
// A byte-for-byte copy of a medium (faults and bad ranges not copied).
std::unique_ptr<MemoryMedia> CopyMedia(MemoryMedia& media);
// Index of the damaged entry for `segment` in a report, or -1.
int FindDamaged(const VerifyReport& report, uint64_t segment);
// Indices of all damaged segments, in order.
std::vector<uint64_t> DamagedIndices(const VerifyReport& report);
// Compares (DiffPath) every segment listed in `pristine` (an inspection of the image before it
// was damaged) except those in `skip`, between the state tree and a restore of it.
std::string DiffSegmentsExcept(const std::string& state, const std::string& dest,
                               const InspectReport& pristine, const std::vector<uint64_t>& skip);

// A directory to restore into, with neighbours a hostile image might try to reach: root/dest is
// the destination (not created), root/outside an empty directory, root/victim a file.
class Sandbox {
 public:
  Sandbox();
  TempDir root;
  std::string dest() const { return root / "dest"; }
  std::string outside() const { return root / "outside"; }
  std::string victim() const { return root / "victim"; }
  // "" when nothing outside root/dest was created, removed or (the victim) modified.
  std::string CheckOutsideUntouched() const;

 private:
  std::vector<std::string> Outside() const;
  std::vector<std::string> before_;
};

// Segment index of `path` according to InspectImage, or -1.
int SegmentIndex(Media& media, const std::string& path);

// A small tree used by the fault-injection tests (packed with 4 KiB chunks it has a few
// multi-chunk files, a zero file, an empty file, directories and a symlink):
//   a.txt (5000 B text), d/ , d/b.bin (10000 B random), d/zero (8192 zero bytes), d/sub/,
//   d/sub/c (100 B), empty (0 B), link -> a.txt
void MakeSmallState(const std::string& root);

}  // namespace warmboot::testing
