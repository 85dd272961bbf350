#include "util/host_info.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/io.h"
#include "util/unique_fd.h"

namespace warmboot {

Uuid CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  Uuid id{};
  if (in >> text) ParseUuid(text, &id);
  return id;
}

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "";
  return u.release;
}

int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t MemAvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib << 10;
  }
  return UINT64_MAX;
}

std::optional<ZoneUse> MovableZoneUseFrom(const std::string& zoneinfo, int node) {
  std::istringstream in(zoneinfo);
  std::string line;
  bool in_zone = false, found = false;
  uint64_t free_pages = 0, managed = 0, file = 0;
  ZoneUse use;
  auto close_zone = [&] {
    if (in_zone && managed >= free_pages) use.in_use_bytes += managed - free_pages;
    if (in_zone) use.file_bytes += file;
    in_zone = false;
  };
  while (std::getline(in, line)) {
    int n = -1;
    char zone[32] = {0};
    if (std::sscanf(line.c_str(), "Node %d, zone %31s", &n, zone) == 2) {
      close_zone();
      in_zone = std::string(zone) == "Movable" && (node < 0 || n == node);
      found = found || in_zone;
      free_pages = managed = file = 0;
      continue;
    }
    if (!in_zone) continue;
    unsigned long long v = 0;
    if (std::sscanf(line.c_str(), " pages free %llu", &v) == 1) free_pages = v;
    if (std::sscanf(line.c_str(), " managed %llu", &v) == 1) managed = v;
    if (std::sscanf(line.c_str(), " nr_zone_inactive_file %llu", &v) == 1) file += v;
    if (std::sscanf(line.c_str(), " nr_zone_active_file %llu", &v) == 1) file += v;
  }
  close_zone();
  if (!found) return std::nullopt;
  // Counted in pages so far (the zone's own unit), bytes from here.
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  use.in_use_bytes *= page;
  use.file_bytes *= page;
  return use;
}

std::optional<ZoneUse> MovableZoneUse(int node) {
  std::ifstream in("/proc/zoneinfo");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return MovableZoneUseFrom(text.str(), node);
}

Status DropCleanPageCache() {
  const char* path = "/proc/sys/vm/drop_caches";
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(std::string("cannot open ") + path, errno);
  if (int err = WriteAll(fd.get(), "1\n", 2)) {
    return ErrnoError(std::string("cannot write ") + path, err);
  }
  return Status::Ok();
}

}  // namespace warmboot
