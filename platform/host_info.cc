#include "platform/host_info.h"

#include <sys/random.h>
#include <sys/utsname.h>

#include <chrono>
#include <fstream>

namespace warmboot {

format::Uuid CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  format::Uuid id{};
  if (in >> text) format::ParseUuid(text, &id);
  return id;
}

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "";
  return u.release;
}

format::Uuid RandomUuid() {
  format::Uuid u{};
  size_t got = 0;
  while (got < u.size()) {
    ssize_t n = getrandom(u.data() + got, u.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  return u;
}

int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace warmboot
