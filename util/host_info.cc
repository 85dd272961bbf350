#include "util/host_info.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>

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

Status DropCleanPageCache() {
  const char* path = "/proc/sys/vm/drop_caches";
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(std::string("cannot open ") + path, errno);
  const ssize_t n = ::write(fd, "1\n", 2);
  const int err = errno;
  ::close(fd);
  if (n != 2) return ErrnoError(std::string("cannot write ") + path, n < 0 ? err : EIO);
  return Status::Ok();
}

}  // namespace warmboot
