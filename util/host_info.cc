#include "util/host_info.h"

#include <sys/utsname.h>

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

}  // namespace warmboot
