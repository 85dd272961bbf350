// restore_floor: the fastest way to get a tree's bytes into fresh files: allocation and one copy,
// nothing else. bench/run measures unpack against it on the same tmpfs.
//
//   restore_floor SRC DEST [--threads N] [--by-copy]
//
// SRC's regular files are mapped and faulted in (the bytes are in memory, as an image's are);
// then DEST and SRC's directories are made and every file is created and filled with pwrite(2)
// straight from its mapping, on N threads (default: one per CPU), a file cut into 16 MiB pieces
// so one large file keeps every thread busy (unpack cuts the same way). No reading through a
// buffer, no checksum, no metadata, no rename. With --by-copy nothing is mapped: each piece is
// read out of its file with pread into a 2 MiB buffer per thread and written from there, the
// two copies any restore pays that reads its medium by copy (dd's way; unpack's on a file
// image, and on /dev/pmem0 where the read is direct). Prints one JSON object: bytes, files,
// threads, and best_seconds, its own clock around the copy alone (mapping excluded); bench/run
// times the whole process, as it times unpack.
#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint64_t kPiece = 16 << 20;
constexpr uint64_t kCopyUnit = 2 << 20;  // --by-copy's buffer: a huge page, as unpack writes

struct File {
  std::string path;  // relative to SRC
  uint64_t size = 0;
  const uint8_t* data = nullptr;
};

std::string g_src;
std::vector<std::string> g_dirs;
std::vector<File> g_files;

int Visit(const char* path, const struct stat* st, int type, struct FTW*) {
  std::string rel = std::string(path).substr(g_src.size());
  if (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  if (type == FTW_D && !rel.empty()) g_dirs.push_back(rel);
  if (type == FTW_F && S_ISREG(st->st_mode)) {
    g_files.push_back({rel, static_cast<uint64_t>(st->st_size), nullptr});
  }
  return 0;
}

struct Task {
  size_t file;
  uint64_t begin, end;
};

int Usage() {
  std::fprintf(stderr, "usage: restore_floor SRC DEST [--threads N] [--by-copy]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  bool by_copy = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--by-copy") {
      by_copy = true;
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (g_src.empty()) {
      g_src = a;
    } else if (dest.empty()) {
      dest = a;
    } else {
      return Usage();
    }
  }
  if (g_src.empty() || dest.empty()) return Usage();
  while (g_src.size() > 1 && g_src.back() == '/') g_src.pop_back();
  if (::nftw(g_src.c_str(), Visit, 64, FTW_PHYS) != 0) {
    std::perror(g_src.c_str());
    return 1;
  }
  uint64_t bytes = 0;
  std::vector<Task> tasks;
  std::vector<std::vector<Task>> split;
  for (size_t i = 0; i < g_files.size(); ++i) {
    File& f = g_files[i];
    bytes += f.size;
    if (f.size > 0 && !by_copy) {
      int fd = ::open((g_src + "/" + f.path).c_str(), O_RDONLY | O_CLOEXEC);
      void* m = fd < 0 ? MAP_FAILED
                       : ::mmap(nullptr, f.size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
      if (fd >= 0) ::close(fd);
      if (m == MAP_FAILED) {
        std::perror(f.path.c_str());
        return 1;
      }
      f.data = static_cast<const uint8_t*>(m);
    }
    if (f.size <= kPiece) {
      tasks.push_back({i, 0, f.size});
      continue;
    }
    split.emplace_back();
    for (uint64_t o = 0; o < f.size; o += kPiece) {
      split.back().push_back({i, o, std::min(f.size, o + kPiece)});
    }
  }
  // Round-robin over the large files, as unpack orders its tasks.
  for (size_t round = 0, added = 1; added; ++round) {
    added = 0;
    for (const auto& pieces : split) {
      if (round < pieces.size()) {
        tasks.push_back(pieces[round]);
        ++added;
      }
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  if (::mkdir(dest.c_str(), 0755) != 0) {
    std::perror(dest.c_str());
    return 1;
  }
  for (const std::string& d : g_dirs) {
    if (::mkdir((dest + "/" + d).c_str(), 0755) != 0) {
      std::perror(d.c_str());
      return 1;
    }
  }
  // Files cut in pieces are sized first, as unpack sizes every file it creates: on a
  // huge=within_size tmpfs the size decides which pages may be 2 MiB.
  for (const auto& pieces : split) {
    const File& f = g_files[pieces.front().file];
    int fd = ::open((dest + "/" + f.path).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(f.size)) != 0) {
      std::perror(f.path.c_str());
      return 1;
    }
    ::close(fd);
  }
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};  // the first errno
  auto fail = [&](int err) {
    int expected = 0;
    failed.compare_exchange_strong(expected, err);
  };
  // Writes [begin, end) of the file from `data` (its bytes at `begin`).
  auto write_all = [&](int fd, const uint8_t* data, uint64_t begin, uint64_t end) {
    for (uint64_t o = begin; o < end;) {
      ssize_t w = ::pwrite(fd, data + (o - begin), end - o, static_cast<off_t>(o));
      if (w <= 0) {
        fail(w < 0 ? errno : EIO);
        return false;
      }
      o += static_cast<uint64_t>(w);
    }
    return true;
  };
  auto work = [&] {
    std::vector<uint8_t> buffer(by_copy ? kCopyUnit : 0);
    for (size_t n; (n = next.fetch_add(1)) < tasks.size();) {
      const Task& t = tasks[n];
      const File& f = g_files[t.file];
      int fd = ::open((dest + "/" + f.path).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return fail(errno);
      if (!by_copy) {
        write_all(fd, f.data + t.begin, t.begin, t.end);
        ::close(fd);
        continue;
      }
      int in = ::open((g_src + "/" + f.path).c_str(), O_RDONLY | O_CLOEXEC);
      if (in < 0) {
        fail(errno);
        ::close(fd);
        return;
      }
      for (uint64_t o = t.begin; o < t.end;) {
        const uint64_t want = std::min<uint64_t>(kCopyUnit, t.end - o);
        ssize_t r = ::pread(in, buffer.data(), want, static_cast<off_t>(o));
        if (r <= 0) {
          fail(r < 0 ? errno : EIO);
          break;
        }
        if (!write_all(fd, buffer.data(), o, o + static_cast<uint64_t>(r))) break;
        o += static_cast<uint64_t>(r);
      }
      ::close(in);
      ::close(fd);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  auto t1 = std::chrono::steady_clock::now();
  if (int err = failed.load()) {
    std::fprintf(stderr, "restore_floor: a write into %s failed: %s\n", dest.c_str(),
                 std::strerror(err));
    return 1;
  }
  std::printf(
      "{\"bytes\": %llu, \"files\": %zu, \"directories\": %zu, \"threads\": %u, "
      "\"by_copy\": %s, "
      "\"best_seconds\": %.6f, \"bytes_per_second\": %.0f}\n",
      static_cast<unsigned long long>(bytes), g_files.size(), g_dirs.size(), threads,
      by_copy ? "true" : "false", std::chrono::duration<double>(t1 - t0).count(),
      bytes / std::chrono::duration<double>(t1 - t0).count());
  return 0;
}
