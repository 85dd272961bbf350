// Builds images byte by byte for the crafted-image tests: a valid image from a list of entries
// (or parsed from one the packer wrote), whose records and header fields a test then rewrites.
// Rechecksum() recomputes every checksum (segment records, tables, header block, seal) so only
// the reader's semantic checks can catch what was changed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/format.h"
#include "image/layout.h"
#include "media/media.h"
#include "util/status.h"

namespace warmboot::testing {

struct CraftEntry {
  format::EntryType type = format::EntryType::kFile;
  std::string path;    // raw bytes: may hold anything, NULs included
  std::string target;  // symlinks
  std::string data;    // files
  uint32_t mode = 0644;
  int64_t mtime_ns = 1600000000123456789;
  uint32_t uid = 0, gid = 0;
};
CraftEntry CraftFile(std::string path, std::string data, uint32_t mode = 0644);
CraftEntry CraftDir(std::string path, uint32_t mode = 0755);
CraftEntry CraftSymlink(std::string path, std::string target);

class CraftedImage {
 public:
  format::Header header;
  format::Seal seal;
  std::vector<format::SegmentRecord> segments;
  std::vector<std::string> paths, targets;  // per segment; names are rebuilt from these
  std::vector<format::ChunkRecord> chunks;
  std::vector<uint8_t> names;
  std::vector<uint8_t> data;  // the data region, placed at format::kDataOffset
  Layout layout;              // where Write() puts the tables
  bool sealed = true;         // Write() writes a matching seal

  // A valid image of `entries`, laid out as the packer lays them out (raw chunks; all-zero
  // chunks as zero chunks; with `zstd`, chunks that compress are stored compressed).
  static CraftedImage Build(const std::vector<CraftEntry>& entries, uint32_t chunk_size = 4096,
                            bool zstd = false);
  // Reads an image the packer wrote.
  static Result<CraftedImage> Parse(Media& media);

  // Rebuilds the names region from paths/targets (setting path_length, target_length and
  // name_offset), then Rechecksum().
  void Finalize();
  // Keeps every record field as it is and recomputes: each segment checksum (over the record
  // and the names bytes it points at, where those lie inside the names region), the layout,
  // the header's geometry, totals and table checksums. Tamper with `header` after this.
  void Rechecksum();
  // Appends a raw chunk of `bytes` to the data region and returns its record (not added to
  // `chunks`).
  format::ChunkRecord AppendRawChunk(const std::string& bytes);

  // Encodes everything (header block checksum, matching seal) into a new medium of exactly
  // layout.image_end + extra bytes.
  std::unique_ptr<MemoryMedia> Write(uint64_t extra = 0) const;
  void WriteTo(MemoryMedia& media) const;

  std::vector<uint8_t> EncodedSegments() const;
  std::vector<uint8_t> EncodedChunks() const;
};

// XXH3-64, as the format uses it.
uint64_t Hash(const std::string& bytes);

}  // namespace warmboot::testing
