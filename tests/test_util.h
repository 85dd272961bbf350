// Helpers for tests: temporary directories, tree builders and tree comparison.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "warmboot/image.h"

namespace warmboot::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
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

// Compares two trees: types, contents, symlink targets, modes and mtimes. Returns a
// description of the first difference, or "" when equal. Entries named in `ignore` (relative
// paths at the top level) are skipped.
std::string DiffTrees(const std::string& a, const std::string& b,
                      const std::vector<std::string>& ignore = {".quarantine"});

}  // namespace warmboot::testing
