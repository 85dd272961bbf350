// Every committed fuzz input, run through its target: the seeds (fuzz/seeds/<target>/) and the
// reproducer of every finding (fuzz/regressions/<target>/). A target aborts on a broken
// invariant, naming it; the input is printed first. See fuzz/README.md.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.h"
#include "fuzz/write_guard.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

namespace fs = std::filesystem;

// Feeds every file under fuzz/<kind>/<target>/ to `fn`; returns how many.
size_t RunAll(const std::string& target, int (*fn)(const uint8_t*, size_t)) {
  size_t n = 0;
  for (const char* kind : {"seeds", "regressions"}) {
    fs::path dir = fs::path(WARMBOOT_SOURCE_DIR) / "fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      std::fprintf(stderr, "%s: %s\n", target.c_str(), f.c_str());
      std::ifstream in(f, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0) << f;
      ++n;
    }
  }
  return n;
}

TEST(FuzzRegressionsTest, Image) {
  unsigned long checks = fuzz::WriteGuardChecks();
  EXPECT_GT(RunAll("image", fuzz::FuzzImage), 0u);
  EXPECT_GT(fuzz::WriteGuardChecks(), checks) << "the write guard checked nothing";
}

// The guard is in the link and live: a write next to the destination aborts, one beneath it
// does not.
TEST(FuzzRegressionsTest, WriteGuardCatchesAWriteOutside) {
  testing::TempDir dir;
  std::string dest = dir / "dest";
  ASSERT_EQ(::mkdir(dest.c_str(), 0700), 0);
  fuzz::ArmWriteGuard(dest);
  int fd = ::open((dest + "/inside").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  fuzz::DisarmWriteGuard();
  EXPECT_GE(fd, 0);
  if (fd >= 0) ::close(fd);
  EXPECT_DEATH(
      {
        fuzz::ArmWriteGuard(dest);
        ::open((dir / "outside").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      },
      "write guard: open on .*/outside: outside the destination");
  ASSERT_EQ(::symlink(dir.path().c_str(), (dest + "/up").c_str()), 0);
  EXPECT_DEATH(
      {
        fuzz::ArmWriteGuard(dest);
        ::openat(AT_FDCWD, (dest + "/up/x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      },
      "write guard: openat on .*/x: outside the destination");
}

TEST(FuzzRegressionsTest, Api) {
  EXPECT_GT(RunAll("api", fuzz::FuzzApi), 0u);
}

TEST(FuzzRegressionsTest, Config) {
  EXPECT_GT(RunAll("config", fuzz::FuzzConfig), 0u);
}

TEST(FuzzRegressionsTest, Kexec) {
  EXPECT_GT(RunAll("kexec", fuzz::FuzzKexec), 0u);
}

}  // namespace
}  // namespace warmboot
