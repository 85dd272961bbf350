#include "image/image_reader.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "image/checksum.h"
#include "image/codec.h"
#include "image/layout.h"
#include "image/safe_path.h"
#include "util/host_info.h"

namespace warmboot {
namespace {

using format::kBlockSize;

bool AddOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

// [off, off+len) must lie in [lo, hi) without overflow.
bool Within(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi) {
  uint64_t end;
  return !AddOverflows(off, len, &end) && off >= lo && end <= hi;
}

Status CheckGeometry(const format::Header& h, uint64_t media_size) {
  // Readers take any size in range (format.md 4); only writers use multiples of 4096.
  if (h.chunk_size < format::kMinChunkSize || h.chunk_size > format::kMaxChunkSize) {
    return NoImage("image header has an invalid chunk size " + std::to_string(h.chunk_size));
  }
  if (h.image_end > media_size) {
    return NoImage("image truncated: it ends at byte " + std::to_string(h.image_end) +
                   " but the medium has " + std::to_string(media_size) + " bytes");
  }
  const uint64_t max_records = kMaxMetadataBytes / format::kChunkRecordSize;
  if (h.segment_count > max_records || h.chunk_count > max_records ||
      h.names_length > kMaxMetadataBytes ||
      h.segment_table_length() + h.chunk_table_length() + h.names_length > kMaxMetadataBytes) {
    return NoImage("image metadata is larger than the 256 MiB a reader accepts");
  }
  struct Region {
    const char* name;
    uint64_t off, len;
  } regions[] = {{"data", h.data_offset, h.data_length},
                 {"segment table", h.segment_table_offset, h.segment_table_length()},
                 {"chunk table", h.chunk_table_offset, h.chunk_table_length()},
                 {"names", h.names_offset, h.names_length}};
  for (const Region& r : regions) {
    if (!Within(r.off, r.len, format::kDataOffset, h.image_end)) {
      return NoImage(std::string("image header places the ") + r.name +
                     " outside the image (damaged or crafted header)");
    }
  }
  for (size_t i = 0; i < 4; ++i) {
    for (size_t j = i + 1; j < 4; ++j) {
      const Region& a = regions[i];
      const Region& b = regions[j];
      if (a.len && b.len && a.off < b.off + b.len && b.off < a.off + a.len) {
        return NoImage(std::string("image header makes the ") + a.name + " and the " + b.name +
                       " overlap (damaged or crafted header)");
      }
    }
  }
  return Status::Ok();
}

std::string CheckChunk(const format::Header& h, const format::ChunkRecord& c,
                       std::span<const uint8_t, format::kChunkRecordSize> raw) {
  for (size_t i = 25; i < format::kChunkRecordSize; ++i) {
    if (raw[i] != 0) return "chunk record has non-zero reserved bytes";
  }
  switch (c.codec) {
    case format::Codec::kZero:
      if (c.stored_length != 0) return "zero chunk with stored bytes";
      return "";
    case format::Codec::kRaw:
      if (c.stored_length != c.raw_length) return "raw chunk whose stored and raw sizes differ";
      break;
    case format::Codec::kZstd:
      if (c.stored_length == 0 || c.stored_length > CompressBound(c.raw_length)) {
        return "compressed chunk with an impossible stored size";
      }
      break;
    default:
      return "chunk with unknown codec " + std::to_string(static_cast<int>(c.codec));
  }
  if (!Within(c.offset, c.stored_length, h.data_offset, h.data_offset + h.data_length)) {
    return "chunk stored outside the data region";
  }
  return "";
}

}  // namespace

Result<LoadedImage> LoadImage(Media& media, SealRequirement requirement, LoadDepth depth) {
  if (media.size() < format::kMinImageSize) {
    return NoImage("no image on " + media.name() + ": it holds " + std::to_string(media.size()) +
                   " bytes, less than an image header and seal");
  }
  const std::vector<ByteRange> bad = media.KnownBadRanges();
  auto over_poison = [&](uint64_t off, uint64_t len) {
    for (const ByteRange& b : bad) {
      if (len && b.Overlaps(off, len)) return true;
    }
    return false;
  };
  if (over_poison(0, format::kDataOffset)) {
    return NoImage("the image header or seal lies over a known media error on " + media.name() +
                   "; not read");
  }
  LoadedImage img;
  std::vector<uint8_t> block(kBlockSize);
  std::span<const uint8_t, kBlockSize> bspan(block.data(), kBlockSize);
  WB_RETURN_IF_ERROR(media.ReadAt(format::kHeaderOffset, block));
  WB_ASSIGN_OR_RETURN(img.header, format::DecodeHeader(bspan));
  const uint64_t header_checksum = format::BlockChecksum(bspan);
  const format::Header& h = img.header;

  WB_RETURN_IF_ERROR(media.ReadAt(format::kSealOffset, block));
  auto seal = format::DecodeSeal(bspan);
  if (!seal.ok()) {
    img.seal_problem = seal.status().message();
  } else if (seal->header_checksum != header_checksum || seal->image_uuid != h.image_uuid ||
             seal->generation != h.generation || seal->image_end != h.image_end) {
    img.seal_problem = "the seal belongs to another image (stale seal)";
  } else {
    img.seal = *seal;
    img.state =
        seal->state == format::SealState::kConsumed ? ImageState::kConsumed : ImageState::kSealed;
  }
  if (requirement == SealRequirement::kSealed) {
    if (img.state == ImageState::kUnsealed) {
      return NoImage("no sealed image on " + media.name() + ": " + img.seal_problem +
                     "; an unsealed image (writer interrupted) is never restored");
    }
    if (img.state == ImageState::kConsumed) {
      return NoImage("the image on " + media.name() +
                     " was already restored (its seal is "
                     "consumed); it is never restored twice");
    }
  }
  WB_RETURN_IF_ERROR(CheckGeometry(h, media.size()));
  if (depth == LoadDepth::kHeaderAndSeal) return img;

  if (over_poison(h.segment_table_offset, h.segment_table_length()) ||
      over_poison(h.chunk_table_offset, h.chunk_table_length()) ||
      over_poison(h.names_offset, h.names_length)) {
    return NoImage("the image tables lie over a known media error on " + media.name() +
                   "; not read");
  }
  // Tables: one read each, bounded by CheckGeometry.
  std::vector<uint8_t> segs(h.segment_table_length()), chunks(h.chunk_table_length()),
      names(h.names_length);
  WB_RETURN_IF_ERROR(media.ReadAt(h.segment_table_offset, segs));
  WB_RETURN_IF_ERROR(media.ReadAt(h.chunk_table_offset, chunks));
  WB_RETURN_IF_ERROR(media.ReadAt(h.names_offset, names));
  img.tables_ok = Hash64(segs) == h.segment_table_checksum &&
                  Hash64(chunks) == h.chunk_table_checksum && Hash64(names) == h.names_checksum;

  img.chunks.resize(h.chunk_count);
  img.chunk_problems.resize(h.chunk_count);
  for (uint64_t i = 0; i < h.chunk_count; ++i) {
    std::span<const uint8_t, format::kChunkRecordSize> raw(
        chunks.data() + i * format::kChunkRecordSize, format::kChunkRecordSize);
    img.chunks[i] = format::DecodeChunk(raw);
    img.chunk_problems[i] = CheckChunk(h, img.chunks[i], raw);
  }
  // Stored ranges of distinct chunks never overlap in an image a writer made.
  std::vector<uint64_t> order;
  for (uint64_t i = 0; i < h.chunk_count; ++i) {
    if (img.chunk_problems[i].empty() && img.chunks[i].stored_length) order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](uint64_t a, uint64_t b) { return img.chunks[a].offset < img.chunks[b].offset; });
  uint64_t max_end = 0, max_owner = 0;
  for (uint64_t c : order) {
    const auto& ch = img.chunks[c];
    if (ch.offset < max_end) {
      img.chunk_problems[max_owner] = img.chunk_problems[c] =
          "chunk overlaps another chunk on the medium";
    }
    if (ch.offset + ch.stored_length > max_end) {
      max_end = ch.offset + ch.stored_length;
      max_owner = c;
    }
  }

  img.segments.resize(h.segment_count);
  std::vector<uint64_t> chunk_owner(h.chunk_count, UINT64_MAX);
  std::map<uint64_t, uint64_t> owned;  // the chunk ranges of sound segments: first -> end
  std::unordered_map<std::string_view, format::EntryType> seen;
  for (uint64_t i = 0; i < h.segment_count; ++i) {
    LoadedSegment& s = img.segments[i];
    std::span<const uint8_t, format::kSegmentRecordSize> raw(
        segs.data() + i * format::kSegmentRecordSize, format::kSegmentRecordSize);
    s.record = format::DecodeSegment(raw);
    const format::SegmentRecord& r = s.record;
    auto fail = [&](std::string why) {
      s.ok = false;
      s.problem = std::move(why);
    };
    uint64_t name_len = uint64_t{r.path_length} + r.target_length;
    if (!Within(r.name_offset, name_len, 0, names.size())) {
      fail("segment record points outside the names region");
      continue;
    }
    // A path or target longer than any valid one damages the record by rule 3 or 5 whatever
    // its checksum: it is not hashed (format.md 6.4). Hashing up to the whole names region for
    // each of millions of crafted records was hours of work.
    if (r.path_length > format::kMaxPathLength) {
      fail("unsafe path in image: longer than " + std::to_string(format::kMaxPathLength) +
           " bytes");
      continue;
    }
    if (r.target_length > format::kMaxSymlinkTarget) {
      fail(r.type == format::EntryType::kSymlink ? "symlink record with an invalid target"
           : r.type == format::EntryType::kFile
               ? "file record with an inconsistent size or chunk range"
           : r.type == format::EntryType::kDirectory
               ? "directory record with a size, chunks or a target"
               : "unknown entry type " + std::to_string(static_cast<int>(r.type)));
      continue;
    }
    std::span<const uint8_t> name_bytes(names.data() + r.name_offset, name_len);
    if (format::SegmentChecksum(raw, name_bytes) != r.checksum) {
      fail("segment record is damaged (checksum mismatch)");
      continue;
    }
    s.path.assign(reinterpret_cast<const char*>(name_bytes.data()), r.path_length);
    s.target.assign(reinterpret_cast<const char*>(name_bytes.data()) + r.path_length,
                    r.target_length);
    if (Status ps = ValidateRelativePath(s.path); !ps.ok()) {
      fail("unsafe path in image: " + ps.message());
      continue;
    }
    if (r.mode > 07777) {
      fail("mode has bits beyond 07777");
      continue;
    }
    switch (r.type) {
      case format::EntryType::kFile: {
        uint64_t expect = r.size / h.chunk_size + (r.size % h.chunk_size != 0);
        if (r.target_length != 0 || r.chunk_count != expect ||
            !Within(r.first_chunk, r.chunk_count, 0, h.chunk_count)) {
          fail("file record with an inconsistent size or chunk range");
          continue;
        }
        break;
      }
      case format::EntryType::kDirectory:
        if (r.size != 0 || r.chunk_count != 0 || r.target_length != 0) {
          fail("directory record with a size, chunks or a target");
          continue;
        }
        break;
      case format::EntryType::kSymlink:
        if (r.target_length == 0 || r.target_length > format::kMaxSymlinkTarget ||
            r.size != r.target_length || r.chunk_count != 0 ||
            s.target.find('\0') != std::string::npos) {
          fail("symlink record with an invalid target");
          continue;
        }
        break;
      default:
        fail("unknown entry type " + std::to_string(static_cast<int>(r.type)));
        continue;
    }
    auto [it, inserted] = seen.emplace(std::string_view(s.path), r.type);
    if (!inserted) {
      fail("duplicate path (an earlier segment has the same path)");
      continue;
    }
    // The first chunk of the range that a sound segment owns already, by the owned ranges (one
    // lookup: scanning the range chunk by chunk was quadratic in a crafted image).
    if (r.chunk_count > 0) {
      const uint64_t b = r.first_chunk, e = r.first_chunk + r.chunk_count;
      auto next = owned.upper_bound(b);
      uint64_t shared = UINT64_MAX;
      if (next != owned.begin() && std::prev(next)->second > b) {
        shared = b;
      } else if (next != owned.end() && next->first < e) {
        shared = next->first;
      }
      if (shared != UINT64_MAX) {
        fail("shares chunk " + std::to_string(shared) + " with segment " +
             std::to_string(chunk_owner[shared]));
        continue;
      }
      owned.emplace(b, e);
    }
    // Only chunks of a sound segment are checked against its layout, and the first reason
    // found for a chunk is kept.
    for (uint64_t k = 0; k < r.chunk_count; ++k) {
      uint64_t c = r.first_chunk + k;
      chunk_owner[c] = i;
      if (img.chunk_problems[c].empty() &&
          img.chunks[c].raw_length != ChunkFileRange(h, r, k).length) {
        img.chunk_problems[c] = "chunk size does not match the file's layout";
      }
    }
  }
  // A path beneath another segment's file or symlink cannot exist: the image contradicts itself,
  // so that segment is damaged. With this, whatever stops unpack from writing a sound segment is
  // the destination's doing, never the image's.
  for (LoadedSegment& s : img.segments) {
    if (!s.ok) continue;
    for (size_t slash = s.path.find('/'); slash != std::string::npos;
         slash = s.path.find('/', slash + 1)) {
      auto it = seen.find(std::string_view(s.path).substr(0, slash));
      if (it != seen.end() && it->second != format::EntryType::kDirectory) {
        s.ok = false;
        s.problem = "lies beneath " + std::string(it->first) + ", which the image makes a " +
                    (it->second == format::EntryType::kSymlink ? "symlink" : "file");
        break;
      }
    }
  }
  if (!img.tables_ok) {
    img.image_problems.push_back(
        "image tables do not match their checksums; damage is reported per segment where it "
        "can be attributed");
  }
  return img;
}

}  // namespace warmboot
