#include "util/bytes.h"

#include <cstdio>

namespace warmboot {

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", n / double(1ull << 30));
  else if (n >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / double(1ull << 20));
  else if (n >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KiB", n / double(1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  return buf;
}

std::string ExactBytes(uint64_t n) {
  std::string exact = std::to_string(n) + " bytes";
  return n < (1ull << 10) ? exact : exact + " (" + HumanBytes(n) + ")";
}

std::string Rate(uint64_t bytes, double seconds) {
  if (seconds <= 0) return "-";
  return HumanBytes(static_cast<uint64_t>(bytes / seconds)) + "/s";
}

}  // namespace warmboot
