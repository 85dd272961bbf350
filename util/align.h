// Rounding to a power-of-two boundary: image regions, direct I/O blocks, page-aligned buffers.
#pragma once

#include <cstdint>

namespace warmboot {

// `a` must be a power of two.
constexpr uint64_t AlignDown(uint64_t v, uint64_t a) {
  return v & ~(a - 1);
}
constexpr uint64_t AlignUp(uint64_t v, uint64_t a) {
  return AlignDown(v + a - 1, a);
}
constexpr bool IsAligned(uint64_t v, uint64_t a) {
  return (v & (a - 1)) == 0;
}
constexpr bool IsPowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace warmboot
