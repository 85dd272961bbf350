// Reads one chunk from the medium and proves it: bounds and known bad ranges first (never read
// poison), then decompression, then the XXH3 of the raw bytes. A loader owns the buffer a loaded
// chunk lies in until its next Load: one per worker, or several (unpack batches writes).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "image/codec.h"
#include "image/format.h"
#include "media/media.h"
#include "util/aligned_buffer.h"

namespace warmboot {

class ChunkLoader {
 public:
  ChunkLoader(Media& media, uint32_t chunk_size, std::vector<ByteRange> bad_ranges);

  // On success *out holds the chunk's raw bytes, or is empty for a zero chunk (the caller
  // leaves a hole). On failure the Status says why the chunk is damaged.
  Status Load(const format::ChunkRecord& chunk, std::span<const uint8_t>* out);

 private:
  uint8_t* RawBuffer(uint32_t raw_length);

  Media& media_;
  std::vector<ByteRange> bad_ranges_;
  uint32_t chunk_size_;
  AlignedBuffer stored_;
  AlignedBuffer raw_;
  ChunkDecompressor decompressor_;
};

}  // namespace warmboot
