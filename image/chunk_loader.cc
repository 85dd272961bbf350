#include "image/chunk_loader.h"

#include "image/checksum.h"
#include "image/zero.h"

namespace warmboot {

ChunkLoader::ChunkLoader(Media& media, uint32_t chunk_size, std::vector<ByteRange> bad_ranges)
    : media_(media), bad_ranges_(std::move(bad_ranges)), raw_(chunk_size) {}

Status ChunkLoader::Load(const format::ChunkRecord& c, std::span<const uint8_t>* out) {
  *out = {};
  if (c.raw_length > raw_.size()) return Corruption("chunk larger than the image's chunk size");
  if (c.codec == format::Codec::kZero) {
    if (c.hash != ZeroHash(c.raw_length)) return Corruption("zero chunk with a wrong checksum");
    return Status::Ok();
  }
  for (const ByteRange& bad : bad_ranges_) {
    if (bad.Overlaps(c.offset, c.stored_length)) {
      return IoError("chunk lies over a known media error (bad block); not read");
    }
  }
  uint8_t* raw = raw_.data();
  if (c.codec == format::Codec::kZstd) {
    if (stored_.size() < c.stored_length) stored_.Reset(CompressBound(raw_.size()));
    std::span<uint8_t> in(stored_.data(), c.stored_length);
    WB_RETURN_IF_ERROR(media_.ReadAt(c.offset, in));
    WB_RETURN_IF_ERROR(decompressor_.Decompress(in, {raw, c.raw_length}));
  } else {
    WB_RETURN_IF_ERROR(media_.ReadAt(c.offset, {raw, c.raw_length}));
  }
  if (Hash64(raw, c.raw_length) != c.hash) return Corruption("checksum mismatch");
  *out = {raw, c.raw_length};
  return Status::Ok();
}

}  // namespace warmboot
