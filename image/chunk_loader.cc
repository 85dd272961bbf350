#include "image/chunk_loader.h"

#include <algorithm>

#include "image/checksum.h"
#include "image/zero.h"

namespace warmboot {

ChunkLoader::ChunkLoader(Media& media, uint32_t chunk_size, std::vector<ByteRange> bad_ranges)
    : media_(media), bad_ranges_(std::move(bad_ranges)), chunk_size_(chunk_size) {}

// The buffers grow to what the chunks read so far need, not to the image's chunk size up front:
// a loader is made per worker for every verify and unpack, and the chunk size (up to 64 MiB) is
// what a large image's chunks hold, while a small image's one short chunk holds a few bytes.
// Doubling keeps a run of ever larger chunks from reallocating each time; an image whose chunks
// are full-sized (the common case) allocates once, as before.
uint8_t* ChunkLoader::RawBuffer(uint32_t raw_length) {
  if (raw_.data() == nullptr || raw_.size() < raw_length) {
    raw_.Reset(std::min<uint64_t>(chunk_size_, std::max<uint64_t>(raw_length, 2 * raw_.size())));
  }
  return raw_.data();
}

Status ChunkLoader::Load(const format::ChunkRecord& c, std::span<const uint8_t>* out) {
  *out = {};
  if (c.raw_length > chunk_size_) return Corruption("chunk larger than the image's chunk size");
  if (c.codec == format::Codec::kZero) {
    if (c.hash != ZeroHash(c.raw_length)) return Corruption("zero chunk with a wrong checksum");
    return Status::Ok();
  }
  for (const ByteRange& bad : bad_ranges_) {
    if (bad.Overlaps(c.offset, c.stored_length)) {
      return IoError("chunk lies over a known media error (bad block); not read");
    }
  }
  uint8_t* raw = RawBuffer(c.raw_length);
  if (c.codec == format::Codec::kZstd) {
    // The reader bounds stored_length by CompressBound(raw_length) (image_reader.cc).
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
