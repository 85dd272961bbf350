// Where the metadata regions of an image go, given its counts. Shared by the packer (worst-case
// capacity planning and final placement) and the reader (limits).
#pragma once

#include <cstdint>

#include "image/format.h"
#include "util/align.h"

namespace warmboot {

struct Layout {
  uint64_t segment_table_offset = 0;
  uint64_t chunk_table_offset = 0;
  uint64_t names_offset = 0;
  uint64_t image_end = 0;
};

// Data occupies [kDataOffset, kDataOffset + data_bytes); the tables follow at the next block.
inline Layout ComputeLayout(uint64_t segments, uint64_t chunks, uint64_t names_length,
                            uint64_t data_bytes) {
  Layout l;
  uint64_t data_end = format::kDataOffset + data_bytes;
  l.segment_table_offset = AlignUp(data_end, format::kBlockSize);
  l.chunk_table_offset = l.segment_table_offset + segments * format::kSegmentRecordSize;
  l.names_offset = l.chunk_table_offset + chunks * format::kChunkRecordSize;
  l.image_end = l.names_offset + names_length;
  return l;
}

// Readers refuse metadata regions larger than this (about 2.5 million entries): it bounds the
// memory a crafted header can make a reader allocate.
inline constexpr uint64_t kMaxMetadataBytes = 256ull << 20;

}  // namespace warmboot
