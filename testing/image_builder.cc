#include "testing/image_builder.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "image/checksum.h"
#include "image/zero.h"

namespace warmboot::testing {

using format::kBlockSize;

CraftEntry CraftFile(std::string path, std::string data, uint32_t mode) {
  CraftEntry e;
  e.type = format::EntryType::kFile;
  e.path = std::move(path);
  e.data = std::move(data);
  e.mode = mode;
  return e;
}

CraftEntry CraftDir(std::string path, uint32_t mode) {
  CraftEntry e;
  e.type = format::EntryType::kDirectory;
  e.path = std::move(path);
  e.mode = mode;
  return e;
}

CraftEntry CraftSymlink(std::string path, std::string target) {
  CraftEntry e;
  e.type = format::EntryType::kSymlink;
  e.path = std::move(path);
  e.target = std::move(target);
  e.mode = 0777;
  return e;
}

uint64_t Hash(const std::string& bytes) {
  return Hash64(bytes.data(), bytes.size());
}

format::ChunkRecord CraftedImage::AppendRawChunk(const std::string& bytes) {
  format::ChunkRecord c;
  c.codec = format::Codec::kRaw;
  c.offset = format::kDataOffset + data.size();
  c.stored_length = static_cast<uint32_t>(bytes.size());
  c.raw_length = static_cast<uint32_t>(bytes.size());
  c.hash = Hash(bytes);
  data.insert(data.end(), bytes.begin(), bytes.end());
  return c;
}

CraftedImage CraftedImage::Build(const std::vector<CraftEntry>& entries, uint32_t chunk_size,
                                 bool zstd) {
  CraftedImage img;
  img.header.chunk_size = chunk_size;
  img.header.generation = 1;
  for (size_t i = 0; i < img.header.image_uuid.size(); ++i) {
    img.header.image_uuid[i] = static_cast<uint8_t>(0xc0 + i);
  }
  img.header.kernel_release = "crafted";
  img.header.created_ns = 1700000000000000000;
  img.seal.sealed_ns = 1700000000500000000;
  for (const CraftEntry& e : entries) {
    format::SegmentRecord r;
    r.type = e.type;
    r.mode = e.mode;
    r.uid = e.uid;
    r.gid = e.gid;
    r.mtime_ns = e.mtime_ns;
    r.first_chunk = img.chunks.size();
    if (e.type == format::EntryType::kFile) {
      r.size = e.data.size();
      for (uint64_t off = 0; off < e.data.size(); off += chunk_size) {
        std::string raw = e.data.substr(off, chunk_size);
        bool zero = std::all_of(raw.begin(), raw.end(), [](char c) { return c == 0; });
        if (zero) {
          format::ChunkRecord c;
          c.codec = format::Codec::kZero;
          c.raw_length = static_cast<uint32_t>(raw.size());
          c.hash = ZeroHash(raw.size());
          img.chunks.push_back(c);
          continue;
        }
        if (zstd) {
          std::string packed(ZSTD_compressBound(raw.size()), '\0');
          size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 3);
          if (!ZSTD_isError(n) && n + raw.size() / 32 < raw.size()) {
            format::ChunkRecord c;
            c.codec = format::Codec::kZstd;
            c.offset = format::kDataOffset + img.data.size();
            c.stored_length = static_cast<uint32_t>(n);
            c.raw_length = static_cast<uint32_t>(raw.size());
            c.hash = Hash(raw);
            img.data.insert(img.data.end(), packed.begin(), packed.begin() + n);
            img.chunks.push_back(c);
            continue;
          }
        }
        img.chunks.push_back(img.AppendRawChunk(raw));
      }
      r.chunk_count = img.chunks.size() - r.first_chunk;
    } else if (e.type == format::EntryType::kSymlink) {
      r.size = e.target.size();
    }
    if (r.chunk_count == 0) r.first_chunk = img.chunks.size();
    img.segments.push_back(r);
    img.paths.push_back(e.path);
    img.targets.push_back(e.target);
  }
  img.Finalize();
  img.header.capacity = img.layout.image_end;
  return img;
}

Result<CraftedImage> CraftedImage::Parse(Media& media) {
  CraftedImage img;
  std::vector<uint8_t> block(kBlockSize);
  WB_RETURN_IF_ERROR(media.ReadAt(format::kHeaderOffset, block));
  WB_ASSIGN_OR_RETURN(img.header, format::DecodeHeader(std::span<const uint8_t, kBlockSize>(
                                      block.data(), kBlockSize)));
  WB_RETURN_IF_ERROR(media.ReadAt(format::kSealOffset, block));
  auto seal = format::DecodeSeal(std::span<const uint8_t, kBlockSize>(block.data(), kBlockSize));
  if (seal.ok()) img.seal = *seal;
  img.sealed = seal.ok();
  const format::Header& h = img.header;
  std::vector<uint8_t> segs(h.segment_table_length()), chunks(h.chunk_table_length());
  img.names.resize(h.names_length);
  img.data.resize(h.data_length);
  WB_RETURN_IF_ERROR(media.ReadAt(h.segment_table_offset, segs));
  WB_RETURN_IF_ERROR(media.ReadAt(h.chunk_table_offset, chunks));
  WB_RETURN_IF_ERROR(media.ReadAt(h.names_offset, img.names));
  WB_RETURN_IF_ERROR(media.ReadAt(h.data_offset, img.data));
  for (uint64_t i = 0; i < h.segment_count; ++i) {
    format::SegmentRecord r =
        format::DecodeSegment(std::span<const uint8_t, format::kSegmentRecordSize>(
            segs.data() + i * format::kSegmentRecordSize, format::kSegmentRecordSize));
    const char* p = reinterpret_cast<const char*>(img.names.data()) + r.name_offset;
    img.paths.emplace_back(p, r.path_length);
    img.targets.emplace_back(p + r.path_length, r.target_length);
    img.segments.push_back(r);
  }
  for (uint64_t i = 0; i < h.chunk_count; ++i) {
    img.chunks.push_back(format::DecodeChunk(std::span<const uint8_t, format::kChunkRecordSize>(
        chunks.data() + i * format::kChunkRecordSize, format::kChunkRecordSize)));
  }
  img.layout =
      ComputeLayout(img.segments.size(), img.chunks.size(), img.names.size(), img.data.size());
  return img;
}

void CraftedImage::Finalize() {
  names.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    format::SegmentRecord& r = segments[i];
    r.name_offset = names.size();
    r.path_length = static_cast<uint16_t>(paths[i].size());
    r.target_length = static_cast<uint32_t>(targets[i].size());
    names.insert(names.end(), paths[i].begin(), paths[i].end());
    names.insert(names.end(), targets[i].begin(), targets[i].end());
  }
  Rechecksum();
}

void CraftedImage::Rechecksum() {
  for (format::SegmentRecord& r : segments) {
    std::vector<uint8_t> rec(format::kSegmentRecordSize);
    format::EncodeSegment(r,
                          std::span<uint8_t, format::kSegmentRecordSize>(rec.data(), rec.size()));
    uint64_t len = uint64_t{r.path_length} + r.target_length;
    std::span<const uint8_t> name_bytes;
    if (r.name_offset <= names.size() && len <= names.size() - r.name_offset) {
      name_bytes = std::span<const uint8_t>(names.data() + r.name_offset, len);
    }
    r.checksum = format::SegmentChecksum(
        std::span<const uint8_t, format::kSegmentRecordSize>(rec.data(), rec.size()), name_bytes);
  }
  layout = ComputeLayout(segments.size(), chunks.size(), names.size(), data.size());
  std::vector<uint8_t> segs = EncodedSegments(), chunk_table = EncodedChunks();
  header.data_offset = format::kDataOffset;
  header.data_length = data.size();
  header.segment_count = segments.size();
  header.segment_table_offset = layout.segment_table_offset;
  header.chunk_count = chunks.size();
  header.chunk_table_offset = layout.chunk_table_offset;
  header.names_offset = layout.names_offset;
  header.names_length = names.size();
  header.segment_table_checksum = Hash64(segs.data(), segs.size());
  header.chunk_table_checksum = Hash64(chunk_table.data(), chunk_table.size());
  header.names_checksum = Hash64(names.data(), names.size());
  header.total_raw_bytes = 0;
  for (const format::SegmentRecord& r : segments) {
    if (r.type == format::EntryType::kFile) header.total_raw_bytes += r.size;
  }
  header.total_stored_bytes = data.size();
  header.image_end = layout.image_end;
}

std::vector<uint8_t> CraftedImage::EncodedSegments() const {
  std::vector<uint8_t> out(segments.size() * format::kSegmentRecordSize);
  for (size_t i = 0; i < segments.size(); ++i) {
    format::EncodeSegment(
        segments[i], std::span<uint8_t, format::kSegmentRecordSize>(
                         out.data() + i * format::kSegmentRecordSize, format::kSegmentRecordSize));
  }
  return out;
}

std::vector<uint8_t> CraftedImage::EncodedChunks() const {
  std::vector<uint8_t> out(chunks.size() * format::kChunkRecordSize);
  for (size_t i = 0; i < chunks.size(); ++i) {
    format::EncodeChunk(chunks[i],
                        std::span<uint8_t, format::kChunkRecordSize>(
                            out.data() + i * format::kChunkRecordSize, format::kChunkRecordSize));
  }
  return out;
}

std::unique_ptr<MemoryMedia> CraftedImage::Write(uint64_t extra) const {
  auto media = std::make_unique<MemoryMedia>(
      std::max<uint64_t>(layout.image_end, format::kMinImageSize) + extra, "crafted");
  WriteTo(*media);
  return media;
}

void CraftedImage::WriteTo(MemoryMedia& media) const {
  std::vector<uint8_t>& b = media.bytes();
  auto put = [&](uint64_t off, const uint8_t* p, size_t n) {
    if (n) std::memcpy(b.data() + off, p, n);
  };
  std::vector<uint8_t> segs = EncodedSegments(), chunk_table = EncodedChunks();
  put(format::kDataOffset, data.data(), data.size());
  put(layout.segment_table_offset, segs.data(), segs.size());
  put(layout.chunk_table_offset, chunk_table.data(), chunk_table.size());
  put(layout.names_offset, names.data(), names.size());
  std::vector<uint8_t> block(kBlockSize);
  std::span<uint8_t, kBlockSize> hb(block.data(), kBlockSize);
  format::EncodeHeader(header, hb);
  put(format::kHeaderOffset, block.data(), kBlockSize);
  format::Seal s = seal;
  s.image_uuid = header.image_uuid;
  s.generation = header.generation;
  s.image_end = header.image_end;
  s.header_checksum = format::BlockChecksum(hb);
  format::EncodeSeal(s, hb);
  if (!sealed) std::fill(block.begin(), block.end(), 0);
  put(format::kSealOffset, block.data(), kBlockSize);
}

}  // namespace warmboot::testing
