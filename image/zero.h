#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warmboot {

// True when every byte is zero; memcmp against itself shifted by one is vectorised by libc and
// stops at the first non-zero byte, so random data costs almost nothing.
inline bool IsAllZero(const uint8_t* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

// XXH3-64 of `n` zero bytes (cached for the last length asked).
uint64_t ZeroHash(size_t n);

}  // namespace warmboot
