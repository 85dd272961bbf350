#include "image/format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "image/checksum.h"
#include "util/endian.h"

namespace warmboot::format {
namespace {

// Header field offsets (docs/format.md, "Header block").
enum HeaderField : size_t {
  kHMagic = 0,
  kHMajor = 8,
  kHMinor = 10,
  kHHeaderSize = 12,
  kHCompat = 16,
  kHIncompat = 24,
  kHUuid = 32,
  kHGeneration = 48,
  kHBootId = 56,
  kHKernelRelease = 72,  // 64 bytes, NUL-padded
  kHCreated = 136,
  kHChunkSize = 144,
  kHReserved0 = 148,
  kHCapacity = 152,
  kHDataOffset = 160,
  kHDataLength = 168,
  kHSegmentCount = 176,
  kHSegmentTableOffset = 184,
  kHChunkCount = 192,
  kHChunkTableOffset = 200,
  kHNamesOffset = 208,
  kHNamesLength = 216,
  kHSegmentTableChecksum = 224,
  kHChunkTableChecksum = 232,
  kHNamesChecksum = 240,
  kHTotalRaw = 248,
  kHTotalStored = 256,
  kHImageEnd = 264,
  kHeaderSize = 272,
};
constexpr size_t kKernelReleaseBytes = 64;

// Seal field offsets (docs/format.md, "Seal block").
enum SealField : size_t {
  kSMagic = 0,
  kSMajor = 8,
  kSMinor = 10,
  kSState = 12,
  kSUuid = 16,
  kSGeneration = 32,
  kSHeaderChecksum = 40,
  kSImageEnd = 48,
  kSSealed = 56,
  kSConsumed = 64,
  kSealSize = 72,
};

// Segment record field offsets.
enum SegmentField : size_t {
  kRType = 0,
  kRReserved0 = 1,
  kRPathLength = 2,
  kRTargetLength = 4,
  kRMode = 8,
  kRUid = 12,
  kRGid = 16,
  kRReserved1 = 20,
  kRMtime = 24,
  kRSize = 32,
  kRFirstChunk = 40,
  kRChunkCount = 48,
  kRNameOffset = 56,
  kRReserved2 = 64,
  kRChecksum = 72,
};

// Chunk record field offsets.
enum ChunkField : size_t {
  kCOffset = 0,
  kCStored = 8,
  kCRaw = 12,
  kCHash = 16,
  kCCodec = 24,
};

void FinishBlock(std::span<uint8_t, kBlockSize> out) {
  StoreLE<uint64_t>(out.data() + kBlockChecksumOffset, Hash64(out.data(), kBlockChecksumOffset));
}

}  // namespace

const char* EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDirectory:
      return "dir";
    case EntryType::kSymlink:
      return "symlink";
  }
  return "unknown";
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kRaw:
      return "raw";
    case Codec::kZstd:
      return "zstd";
    case Codec::kZero:
      return "zero";
  }
  return "unknown";
}

uint64_t BlockChecksum(std::span<const uint8_t, kBlockSize> in) {
  return Hash64(in.data(), kBlockChecksumOffset);
}

void EncodeHeader(const Header& h, std::span<uint8_t, kBlockSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kBlockSize);
  std::memcpy(p + kHMagic, kHeaderMagic.data(), kHeaderMagic.size());
  StoreLE<uint16_t>(p + kHMajor, h.major);
  StoreLE<uint16_t>(p + kHMinor, h.minor);
  StoreLE<uint32_t>(p + kHHeaderSize, kHeaderSize);
  StoreLE<uint64_t>(p + kHCompat, h.compat_flags);
  StoreLE<uint64_t>(p + kHIncompat, h.incompat_flags);
  std::memcpy(p + kHUuid, h.image_uuid.data(), 16);
  StoreLE<uint64_t>(p + kHGeneration, h.generation);
  std::memcpy(p + kHBootId, h.writer_boot_id.data(), 16);
  std::memcpy(p + kHKernelRelease, h.kernel_release.data(),
              std::min(h.kernel_release.size(), kKernelReleaseBytes));
  StoreLE<int64_t>(p + kHCreated, h.created_ns);
  StoreLE<uint32_t>(p + kHChunkSize, h.chunk_size);
  StoreLE<uint64_t>(p + kHCapacity, h.capacity);
  StoreLE<uint64_t>(p + kHDataOffset, h.data_offset);
  StoreLE<uint64_t>(p + kHDataLength, h.data_length);
  StoreLE<uint64_t>(p + kHSegmentCount, h.segment_count);
  StoreLE<uint64_t>(p + kHSegmentTableOffset, h.segment_table_offset);
  StoreLE<uint64_t>(p + kHChunkCount, h.chunk_count);
  StoreLE<uint64_t>(p + kHChunkTableOffset, h.chunk_table_offset);
  StoreLE<uint64_t>(p + kHNamesOffset, h.names_offset);
  StoreLE<uint64_t>(p + kHNamesLength, h.names_length);
  StoreLE<uint64_t>(p + kHSegmentTableChecksum, h.segment_table_checksum);
  StoreLE<uint64_t>(p + kHChunkTableChecksum, h.chunk_table_checksum);
  StoreLE<uint64_t>(p + kHNamesChecksum, h.names_checksum);
  StoreLE<uint64_t>(p + kHTotalRaw, h.total_raw_bytes);
  StoreLE<uint64_t>(p + kHTotalStored, h.total_stored_bytes);
  StoreLE<uint64_t>(p + kHImageEnd, h.image_end);
  FinishBlock(out);
}

Result<Header> DecodeHeader(std::span<const uint8_t, kBlockSize> in) {
  const uint8_t* p = in.data();
  if (std::memcmp(p + kHMagic, kHeaderMagic.data(), kHeaderMagic.size()) != 0) {
    return NoImage("no image header (magic not found at offset 0)");
  }
  if (LoadLE<uint64_t>(p + kBlockChecksumOffset) != BlockChecksum(in)) {
    return NoImage("image header is damaged (checksum mismatch)");
  }
  Header h;
  h.major = LoadLE<uint16_t>(p + kHMajor);
  h.minor = LoadLE<uint16_t>(p + kHMinor);
  if (h.major != kMajorVersion) {
    return NoImage("image format version " + std::to_string(h.major) + "." +
                   std::to_string(h.minor) + " is not supported (this warmboot reads " +
                   std::to_string(kMajorVersion) + ".x)");
  }
  if (LoadLE<uint32_t>(p + kHHeaderSize) < kHeaderSize) {
    return NoImage("image header size field is smaller than version 1 requires");
  }
  h.compat_flags = LoadLE<uint64_t>(p + kHCompat);
  h.incompat_flags = LoadLE<uint64_t>(p + kHIncompat);
  if ((h.incompat_flags & ~kKnownIncompatFlags) != 0) {
    return NoImage("image uses features this warmboot does not know (incompat flags 0x" + [&] {
      char b[17];
      std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(h.incompat_flags));
      return std::string(b);
    }() + ")");
  }
  std::memcpy(h.image_uuid.data(), p + kHUuid, 16);
  h.generation = LoadLE<uint64_t>(p + kHGeneration);
  std::memcpy(h.writer_boot_id.data(), p + kHBootId, 16);
  const char* kr = reinterpret_cast<const char*>(p + kHKernelRelease);
  h.kernel_release.assign(kr, strnlen(kr, kKernelReleaseBytes));
  h.created_ns = LoadLE<int64_t>(p + kHCreated);
  h.chunk_size = LoadLE<uint32_t>(p + kHChunkSize);
  h.capacity = LoadLE<uint64_t>(p + kHCapacity);
  h.data_offset = LoadLE<uint64_t>(p + kHDataOffset);
  h.data_length = LoadLE<uint64_t>(p + kHDataLength);
  h.segment_count = LoadLE<uint64_t>(p + kHSegmentCount);
  h.segment_table_offset = LoadLE<uint64_t>(p + kHSegmentTableOffset);
  h.chunk_count = LoadLE<uint64_t>(p + kHChunkCount);
  h.chunk_table_offset = LoadLE<uint64_t>(p + kHChunkTableOffset);
  h.names_offset = LoadLE<uint64_t>(p + kHNamesOffset);
  h.names_length = LoadLE<uint64_t>(p + kHNamesLength);
  h.segment_table_checksum = LoadLE<uint64_t>(p + kHSegmentTableChecksum);
  h.chunk_table_checksum = LoadLE<uint64_t>(p + kHChunkTableChecksum);
  h.names_checksum = LoadLE<uint64_t>(p + kHNamesChecksum);
  h.total_raw_bytes = LoadLE<uint64_t>(p + kHTotalRaw);
  h.total_stored_bytes = LoadLE<uint64_t>(p + kHTotalStored);
  h.image_end = LoadLE<uint64_t>(p + kHImageEnd);
  return h;
}

void EncodeSeal(const Seal& s, std::span<uint8_t, kBlockSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kBlockSize);
  std::memcpy(p + kSMagic, kSealMagic.data(), kSealMagic.size());
  StoreLE<uint16_t>(p + kSMajor, s.major);
  StoreLE<uint16_t>(p + kSMinor, s.minor);
  StoreLE<uint32_t>(p + kSState, static_cast<uint32_t>(s.state));
  std::memcpy(p + kSUuid, s.image_uuid.data(), 16);
  StoreLE<uint64_t>(p + kSGeneration, s.generation);
  StoreLE<uint64_t>(p + kSHeaderChecksum, s.header_checksum);
  StoreLE<uint64_t>(p + kSImageEnd, s.image_end);
  StoreLE<int64_t>(p + kSSealed, s.sealed_ns);
  StoreLE<int64_t>(p + kSConsumed, s.consumed_ns);
  FinishBlock(out);
}

Result<Seal> DecodeSeal(std::span<const uint8_t, kBlockSize> in) {
  const uint8_t* p = in.data();
  if (std::memcmp(p + kSMagic, kSealMagic.data(), kSealMagic.size()) != 0) {
    return NoImage("image is not sealed (no seal record at offset 4096)");
  }
  if (LoadLE<uint64_t>(p + kBlockChecksumOffset) != BlockChecksum(in)) {
    return NoImage("seal record is damaged (checksum mismatch)");
  }
  Seal s;
  s.major = LoadLE<uint16_t>(p + kSMajor);
  s.minor = LoadLE<uint16_t>(p + kSMinor);
  if (s.major != kMajorVersion) {
    return NoImage("seal format version " + std::to_string(s.major) + " is not supported");
  }
  uint32_t state = LoadLE<uint32_t>(p + kSState);
  if (state != static_cast<uint32_t>(SealState::kSealed) &&
      state != static_cast<uint32_t>(SealState::kConsumed)) {
    return NoImage("seal record has an unknown state " + std::to_string(state));
  }
  s.state = static_cast<SealState>(state);
  std::memcpy(s.image_uuid.data(), p + kSUuid, 16);
  s.generation = LoadLE<uint64_t>(p + kSGeneration);
  s.header_checksum = LoadLE<uint64_t>(p + kSHeaderChecksum);
  s.image_end = LoadLE<uint64_t>(p + kSImageEnd);
  s.sealed_ns = LoadLE<int64_t>(p + kSSealed);
  s.consumed_ns = LoadLE<int64_t>(p + kSConsumed);
  return s;
}

void MarkSealConsumed(std::span<uint8_t, kBlockSize> block, int64_t consumed_ns) {
  StoreLE<uint32_t>(block.data() + kSState, static_cast<uint32_t>(SealState::kConsumed));
  StoreLE<int64_t>(block.data() + kSConsumed, consumed_ns);
  FinishBlock(block);
}

void EncodeSegment(const SegmentRecord& r, std::span<uint8_t, kSegmentRecordSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kSegmentRecordSize);
  p[kRType] = static_cast<uint8_t>(r.type);
  StoreLE<uint16_t>(p + kRPathLength, r.path_length);
  StoreLE<uint32_t>(p + kRTargetLength, r.target_length);
  StoreLE<uint32_t>(p + kRMode, r.mode);
  StoreLE<uint32_t>(p + kRUid, r.uid);
  StoreLE<uint32_t>(p + kRGid, r.gid);
  StoreLE<int64_t>(p + kRMtime, r.mtime_ns);
  StoreLE<uint64_t>(p + kRSize, r.size);
  StoreLE<uint64_t>(p + kRFirstChunk, r.first_chunk);
  StoreLE<uint64_t>(p + kRChunkCount, r.chunk_count);
  StoreLE<uint64_t>(p + kRNameOffset, r.name_offset);
  StoreLE<uint64_t>(p + kRChecksum, r.checksum);
}

SegmentRecord DecodeSegment(std::span<const uint8_t, kSegmentRecordSize> in) {
  const uint8_t* p = in.data();
  SegmentRecord r;
  r.type = static_cast<EntryType>(p[kRType]);
  r.path_length = LoadLE<uint16_t>(p + kRPathLength);
  r.target_length = LoadLE<uint32_t>(p + kRTargetLength);
  r.mode = LoadLE<uint32_t>(p + kRMode);
  r.uid = LoadLE<uint32_t>(p + kRUid);
  r.gid = LoadLE<uint32_t>(p + kRGid);
  r.mtime_ns = LoadLE<int64_t>(p + kRMtime);
  r.size = LoadLE<uint64_t>(p + kRSize);
  r.first_chunk = LoadLE<uint64_t>(p + kRFirstChunk);
  r.chunk_count = LoadLE<uint64_t>(p + kRChunkCount);
  r.name_offset = LoadLE<uint64_t>(p + kRNameOffset);
  r.checksum = LoadLE<uint64_t>(p + kRChecksum);
  return r;
}

uint64_t SegmentChecksum(std::span<const uint8_t, kSegmentRecordSize> record,
                         std::span<const uint8_t> names) {
  Hasher64 h;
  h.Update(record.data(), kRChecksum);
  h.Update(names.data(), names.size());
  return h.Digest();
}

void EncodeChunk(const ChunkRecord& r, std::span<uint8_t, kChunkRecordSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kChunkRecordSize);
  StoreLE<uint64_t>(p + kCOffset, r.offset);
  StoreLE<uint32_t>(p + kCStored, r.stored_length);
  StoreLE<uint32_t>(p + kCRaw, r.raw_length);
  StoreLE<uint64_t>(p + kCHash, r.hash);
  p[kCCodec] = static_cast<uint8_t>(r.codec);
}

ChunkRecord DecodeChunk(std::span<const uint8_t, kChunkRecordSize> in) {
  const uint8_t* p = in.data();
  ChunkRecord r;
  r.offset = LoadLE<uint64_t>(p + kCOffset);
  r.stored_length = LoadLE<uint32_t>(p + kCStored);
  r.raw_length = LoadLE<uint32_t>(p + kCRaw);
  r.hash = LoadLE<uint64_t>(p + kCHash);
  r.codec = static_cast<Codec>(p[kCCodec]);
  return r;
}

}  // namespace warmboot::format
