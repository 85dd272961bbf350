// A page-aligned heap buffer. Pages are only touched when written, so large reserved buffers
// cost no resident memory until used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "util/align.h"

namespace warmboot {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size) { Reset(size); }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  void Reset(size_t size) {
    std::free(data_);
    size_ = size;
    size_t rounded = AlignUp(size, 4096);
    data_ = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded ? rounded : 4096));
    if (data_ == nullptr) throw std::bad_alloc();
  }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace warmboot
