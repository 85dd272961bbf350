#include "image/zero.h"

#include <cstdlib>
#include <memory>
#include <mutex>

#include "image/checksum.h"

namespace warmboot {

uint64_t ZeroHash(size_t n) {
  thread_local size_t cached_len = SIZE_MAX;
  thread_local uint64_t cached_hash = 0;
  if (n != cached_len) {
    // calloc of a large block maps the shared zero page: no resident memory is used.
    std::unique_ptr<uint8_t, decltype(&std::free)> zeros(
        static_cast<uint8_t*>(std::calloc(n ? n : 1, 1)), &std::free);
    cached_hash = Hash64(zeros.get(), n);
    cached_len = n;
  }
  return cached_hash;
}

}  // namespace warmboot
