#include "orchestration/ownership_check.h"

#include "image/image.h"
#include "pmem/ownership.h"

namespace warmboot {

Status CheckOwned(PmemPlatform& platform, const PmemInfo& info, const Config& config) {
  bool carries_image = false;
  if (info.mode == PmemMode::kRaw) {
    auto media = platform.OpenRawMedia(OpenMode::kReadOnly);
    if (!media.ok()) return media.status().WithContext("cannot read " + info.name);
    carries_image = HasImageMagic(**media);
  }
  // The platform resolved a configured name to this very namespace.
  return CheckOwnership(info, !config.namespace_name.empty(), carries_image);
}

}  // namespace warmboot
