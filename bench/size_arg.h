// "4096", "64K", "1M", "2G" (binary units) for the bench programs' command lines.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace warmboot::bench {

inline bool ParseSize(const std::string& text, uint64_t* out) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return false;
  std::string unit(end);
  uint64_t mult = 1;
  if (unit == "K" || unit == "KiB")
    mult = 1ull << 10;
  else if (unit == "M" || unit == "MiB")
    mult = 1ull << 20;
  else if (unit == "G" || unit == "GiB")
    mult = 1ull << 30;
  else if (!unit.empty() && unit != "B")
    return false;
  *out = n * mult;
  return true;
}

}  // namespace warmboot::bench
