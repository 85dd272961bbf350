// consume: rewrite the seal as consumed so the image is never restored twice. The header and
// data stay readable for inspection.
#include <vector>

#include "image/image.h"
#include "util/host_info.h"

namespace warmboot {

Status ConsumeImage(Media& media) {
  std::vector<uint8_t> block(format::kBlockSize);
  std::span<uint8_t, format::kBlockSize> b(block.data(), block.size());
  WB_RETURN_IF_ERROR(media.ReadAt(format::kSealOffset, block));
  WB_ASSIGN_OR_RETURN(format::Seal seal, format::DecodeSeal(b));
  if (seal.state == format::SealState::kConsumed) return Status::Ok();
  // Only state and consumed_ns change: the seal's reserved bytes are kept (format.md 5.4, 13).
  format::MarkSealConsumed(b, NowUnixNanos());
  WB_RETURN_IF_ERROR(media.WriteAt(format::kSealOffset, block));
  return media.Flush();
}

}  // namespace warmboot
