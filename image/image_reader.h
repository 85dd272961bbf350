// Loads and validates an image's header, seal and tables. Nothing here trusts an offset or a
// length from the medium before checking it; damage confined to one segment's records marks
// that segment, not the image.
#pragma once

#include <string>
#include <vector>

#include "image/format.h"
#include "image/image.h"
#include "media/media.h"

namespace warmboot {

struct LoadedSegment {
  format::SegmentRecord record;
  std::string path;    // trusted only when ok
  std::string target;  // symlinks
  bool ok = true;
  std::string problem;  // why not ok
};

struct LoadedImage {
  format::Header header;
  format::Seal seal;
  ImageState state = ImageState::kUnsealed;
  std::string seal_problem;
  bool tables_ok = true;  // all three table checksums matched
  std::vector<LoadedSegment> segments;
  std::vector<format::ChunkRecord> chunks;
  std::vector<std::string> chunk_problems;  // per chunk; empty string when structurally sound
  std::vector<std::string> image_problems;  // damage not attributable to a segment
};

enum class SealRequirement { kSealed, kAnyState };
// kHeaderAndSeal stops before the tables: the state and the header's geometry, without reading
// and checking the tables (restore decides with it, then unpack loads everything once).
enum class LoadDepth { kHeaderAndSeal, kAll };

// kNoImage when there is no valid header, or (kSealed) no valid unconsumed seal, or the tables
// lie outside the medium (truncated or crafted).
Result<LoadedImage> LoadImage(Media& media, SealRequirement requirement,
                              LoadDepth depth = LoadDepth::kAll);

// File byte range covered by chunk `k` of a segment.
inline ByteRange ChunkFileRange(const format::Header& h, const format::SegmentRecord& r,
                                uint64_t k) {
  uint64_t off = k * h.chunk_size;
  uint64_t len = r.size - off < h.chunk_size ? r.size - off : h.chunk_size;
  return {off, len};
}

}  // namespace warmboot
