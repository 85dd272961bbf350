// Little-endian fixed-width load/store, independent of host byte order and alignment.
#pragma once

#include <cstdint>
#include <cstring>

namespace warmboot {

template <typename T>
inline void StoreLE(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}

template <typename T>
inline T LoadLE(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<T>(v);
}

}  // namespace warmboot
