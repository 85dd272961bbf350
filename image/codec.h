// Per-chunk compression: zstd with a cheap incompressibility probe, and the decision whether a
// compressed chunk pays for itself. One ChunkCompressor/ChunkDecompressor per worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "image/image.h"

namespace warmboot {

size_t CompressBound(size_t raw_length);

class ChunkCompressor {
 public:
  explicit ChunkCompressor(const CompressionPolicy& policy);
  ~ChunkCompressor();
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  // Compresses `raw` into `out` (at least CompressBound(raw.size()) bytes). Returns the
  // compressed length, or 0 when the chunk should be stored raw (the probe found it
  // incompressible, or compression would save too little).
  size_t Compress(std::span<const uint8_t> raw, std::span<uint8_t> out);

 private:
  CompressionPolicy::Mode mode_;
  int level_;
  void* cctx_;
};

class ChunkDecompressor {
 public:
  ChunkDecompressor();
  ~ChunkDecompressor();
  ChunkDecompressor(const ChunkDecompressor&) = delete;
  ChunkDecompressor& operator=(const ChunkDecompressor&) = delete;

  // Fails unless `in` decompresses to exactly out.size() bytes.
  Status Decompress(std::span<const uint8_t> in, std::span<uint8_t> out);

 private:
  void* dctx_;
};

}  // namespace warmboot
