// XXH3-64 through libxxhash's runtime dispatcher, so AVX2 is used where the CPU has it without
// building for a specific -march.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace warmboot {

uint64_t Hash64(const void* data, size_t length);
inline uint64_t Hash64(std::span<const uint8_t> s) {
  return Hash64(s.data(), s.size());
}

// Incremental hashing for records that cover two separate byte ranges.
class Hasher64 {
 public:
  Hasher64();
  ~Hasher64();
  Hasher64(const Hasher64&) = delete;
  Hasher64& operator=(const Hasher64&) = delete;
  void Update(const void* data, size_t length);
  uint64_t Digest() const;

 private:
  void* state_;
};

}  // namespace warmboot
