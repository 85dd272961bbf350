// inspect: describe an image from its header, seal and tables, without reading chunk data.
#include <cstring>

#include "image/image.h"
#include "image/image_reader.h"

namespace warmboot {

const char* ImageStateName(ImageState state) {
  switch (state) {
    case ImageState::kSealed:
      return "sealed";
    case ImageState::kConsumed:
      return "consumed";
    case ImageState::kUnsealed:
      return "unsealed";
  }
  return "unknown";
}

Result<bool> FindImageMagic(Media& media) {
  if (media.size() < format::kBlockSize) return false;
  uint8_t magic[8];
  if (media.OverKnownBadRange(format::kHeaderOffset, sizeof magic)) {
    return Corruption("the image header on " + media.name() +
                      " lies over a known media error (not read): whether an image is there "
                      "cannot be told");
  }
  WB_RETURN_IF_ERROR(media.ReadAt(format::kHeaderOffset, {magic, sizeof magic})
                         .WithContext("cannot read the image header on " + media.name()));
  return std::memcmp(magic, format::kHeaderMagic.data(), sizeof magic) == 0;
}

Result<ImageOnDevice> ReadImageOnDevice(Media& media) {
  ImageOnDevice d;
  WB_ASSIGN_OR_RETURN(d.written, FindImageMagic(media));
  if (!d.written) return d;
  if (media.OverKnownBadRange(0, format::kDataOffset)) {
    return Corruption("the image header or seal on " + media.name() +
                      " lies over a known media error (not read): whether a sealed image is "
                      "there cannot be told");
  }
  auto r = InspectImage(media, InspectDepth::kHeaderAndSeal);
  if (r.ok()) {
    d.image = std::move(*r);
  } else if (r.status().code() == Code::kNoImage) {
    d.why_none = r.status().message();  // a verdict: written, not valid
  } else {
    return r.status().WithContext("cannot read the image on " + media.name());
  }
  return d;
}

Result<uint64_t> BytesToRestore(Media& media) {
  WB_ASSIGN_OR_RETURN(LoadedImage img,
                      LoadImage(media, SealRequirement::kAnyState, LoadDepth::kAll));
  uint64_t bytes = 0;
  for (const format::ChunkRecord& c : img.chunks) {
    if (c.codec != format::Codec::kZero) bytes += c.raw_length;
  }
  return bytes;
}

Result<InspectReport> InspectImage(Media& media, InspectDepth depth) {
  WB_ASSIGN_OR_RETURN(LoadedImage img,
                      LoadImage(media, SealRequirement::kAnyState,
                                depth == InspectDepth::kHeaderAndSeal ? LoadDepth::kHeaderAndSeal
                                                                      : LoadDepth::kAll));
  InspectReport report;
  report.header = img.header;
  report.state = img.state;
  if (img.state != ImageState::kUnsealed) report.seal = img.seal;
  report.seal_problem = img.seal_problem;
  report.tables_ok = img.tables_ok;
  for (uint64_t i = 0; i < img.segments.size(); ++i) {
    const LoadedSegment& s = img.segments[i];
    SegmentInfo info;
    info.index = i;
    info.record_ok = s.ok;
    info.problem = s.problem;
    if (s.ok) {
      const format::SegmentRecord& r = s.record;
      info.path = s.path;
      info.type = r.type;
      info.target = s.target;
      info.mode = r.mode;
      info.uid = r.uid;
      info.gid = r.gid;
      info.mtime_ns = r.mtime_ns;
      info.size = r.size;
      info.chunks = r.chunk_count;
      for (uint64_t k = 0; k < r.chunk_count; ++k) {
        const format::ChunkRecord& c = img.chunks[r.first_chunk + k];
        info.stored_bytes += c.stored_length;
        if (c.codec == format::Codec::kZero) ++info.zero_chunks;
        if (c.codec == format::Codec::kZstd) ++info.zstd_chunks;
      }
    }
    report.segments.push_back(std::move(info));
  }
  return report;
}

}  // namespace warmboot
