// The on-media image format, version 1. docs/format.md is the normative spec; this header is
// its C++ form. All integers are little-endian and fixed-width; the decoders below never trust
// a length or offset they have not bounds-checked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "util/status.h"
#include "util/uuid.h"

namespace warmboot::format {

inline constexpr uint16_t kMajorVersion = 1;
inline constexpr uint16_t kMinorVersion = 0;

inline constexpr uint64_t kBlockSize = 4096;
inline constexpr uint64_t kHeaderOffset = 0;   // block 0
inline constexpr uint64_t kSealOffset = 4096;  // block 1
inline constexpr uint64_t kDataOffset = 8192;  // data region starts at block 2
inline constexpr uint64_t kMinImageSize = kDataOffset;

inline constexpr std::array<uint8_t, 8> kHeaderMagic = {'W', 'A', 'R', 'M', 'B', 'O', 'O', 'T'};
inline constexpr std::array<uint8_t, 8> kSealMagic = {'W', 'B', 'S', 'E', 'A', 'L', '0', '1'};

inline constexpr uint32_t kDefaultChunkSize = 1u << 20;
inline constexpr uint32_t kMinChunkSize = 4096;
inline constexpr uint32_t kMaxChunkSize = 64u << 20;
// What a writer may choose: a multiple of 4096 from 4 KiB to 64 MiB (the configuration, the
// command line and the packer ask this one rule).
inline constexpr bool ValidChunkSize(uint64_t n) {
  return n >= kMinChunkSize && n <= kMaxChunkSize && n % 4096 == 0;
}

inline constexpr size_t kSegmentRecordSize = 80;
inline constexpr size_t kChunkRecordSize = 32;
inline constexpr size_t kMaxPathLength = 4095;  // PATH_MAX - 1
inline constexpr size_t kMaxSymlinkTarget = 4095;

// The checksum of a block-sized record sits in its last 8 bytes and covers everything before.
inline constexpr size_t kBlockChecksumOffset = kBlockSize - 8;

// No compat/incompat feature bits are defined in 1.0; a reader rejects any unknown incompat bit.
inline constexpr uint64_t kKnownIncompatFlags = 0;

// The image records 16-byte UUIDs (util/uuid.h).
using ::warmboot::Uuid;

struct Header {
  uint16_t major = kMajorVersion;
  uint16_t minor = kMinorVersion;
  uint64_t compat_flags = 0;
  uint64_t incompat_flags = 0;
  Uuid image_uuid{};
  uint64_t generation = 0;
  Uuid writer_boot_id{};
  std::string kernel_release;  // at most 64 bytes on media
  int64_t created_ns = 0;      // Unix epoch, nanoseconds
  uint32_t chunk_size = kDefaultChunkSize;
  uint64_t capacity = 0;  // media capacity the writer planned for
  uint64_t data_offset = kDataOffset;
  uint64_t data_length = 0;
  uint64_t segment_count = 0;
  uint64_t segment_table_offset = 0;
  uint64_t chunk_count = 0;
  uint64_t chunk_table_offset = 0;
  uint64_t names_offset = 0;
  uint64_t names_length = 0;
  uint64_t segment_table_checksum = 0;
  uint64_t chunk_table_checksum = 0;
  uint64_t names_checksum = 0;
  uint64_t total_raw_bytes = 0;     // sum of file sizes
  uint64_t total_stored_bytes = 0;  // bytes of chunk data on media
  uint64_t image_end = 0;           // first byte past the image

  uint64_t segment_table_length() const { return segment_count * kSegmentRecordSize; }
  uint64_t chunk_table_length() const { return chunk_count * kChunkRecordSize; }
};

enum class SealState : uint32_t { kSealed = 1, kConsumed = 2 };

struct Seal {
  uint16_t major = kMajorVersion;
  uint16_t minor = kMinorVersion;
  SealState state = SealState::kSealed;
  Uuid image_uuid{};
  uint64_t generation = 0;
  uint64_t header_checksum = 0;
  uint64_t image_end = 0;
  int64_t sealed_ns = 0;
  int64_t consumed_ns = 0;
};

enum class EntryType : uint8_t { kFile = 1, kDirectory = 2, kSymlink = 3 };
const char* EntryTypeName(EntryType type);

struct SegmentRecord {
  EntryType type = EntryType::kFile;
  uint16_t path_length = 0;
  uint32_t target_length = 0;  // symlinks only
  uint32_t mode = 0;           // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;
  uint64_t size = 0;  // files: bytes; symlinks: target length; directories: 0
  uint64_t first_chunk = 0;
  uint64_t chunk_count = 0;
  uint64_t name_offset = 0;  // into the names region: path bytes, then target bytes
  uint64_t checksum = 0;     // over the 72 record bytes before it, then path and target bytes
};

enum class Codec : uint8_t { kRaw = 0, kZstd = 1, kZero = 2 };
const char* CodecName(Codec codec);

struct ChunkRecord {
  uint64_t offset = 0;  // absolute media offset of the stored bytes
  uint32_t stored_length = 0;
  uint32_t raw_length = 0;
  uint64_t hash = 0;  // XXH3-64 of the raw (uncompressed) bytes
  Codec codec = Codec::kRaw;
};

// Encoders write exactly one block (header, seal) or one record; the block checksum is filled in.
void EncodeHeader(const Header& h, std::span<uint8_t, kBlockSize> out);
void EncodeSeal(const Seal& s, std::span<uint8_t, kBlockSize> out);
void EncodeSegment(const SegmentRecord& r, std::span<uint8_t, kSegmentRecordSize> out);
void EncodeChunk(const ChunkRecord& r, std::span<uint8_t, kChunkRecordSize> out);

// Decoders check magic, checksum and version; they do not check geometry against the media.
Result<Header> DecodeHeader(std::span<const uint8_t, kBlockSize> in);
Result<Seal> DecodeSeal(std::span<const uint8_t, kBlockSize> in);
// Consuming (docs/format.md 5.4) in place: sets `state` to consumed and `consumed_ns` in an
// encoded seal block and refreshes its checksum; every other byte, reserved ones included (a
// later minor version may define them), stays as it is.
void MarkSealConsumed(std::span<uint8_t, kBlockSize> block, int64_t consumed_ns);
uint64_t BlockChecksum(std::span<const uint8_t, kBlockSize> in);
// Segment decoding cannot fail structurally (fixed size); the caller checks the checksum with
// SegmentChecksum() once it has the names bytes.
SegmentRecord DecodeSegment(std::span<const uint8_t, kSegmentRecordSize> in);
uint64_t SegmentChecksum(std::span<const uint8_t, kSegmentRecordSize> record,
                         std::span<const uint8_t> names);
ChunkRecord DecodeChunk(std::span<const uint8_t, kChunkRecordSize> in);

using ::warmboot::ParseUuid;
using ::warmboot::UuidToString;

}  // namespace warmboot::format
