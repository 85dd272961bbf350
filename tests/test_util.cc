#include "tests/test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace warmboot::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/warmboot-test-XXXXXX";
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
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void MakeDirs(const std::string& path) { fs::create_directories(path); }

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
    if (ReadFile(a) != ReadFile(b)) return "contents differ: " + rel;
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

}  // namespace warmboot::testing
