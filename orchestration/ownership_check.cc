#include "orchestration/ownership_check.h"

#include "image/image.h"
#include "pmem/ownership.h"

namespace warmboot {

Status CheckOwned(PmemPlatform& platform, const PmemInfo& info, const Config& config) {
  bool carries_image = false;
  if (info.mode == PmemMode::kRaw) {
    auto media = platform.OpenRawMedia(OpenMode::kReadOnly);
    if (!media.ok()) return media.status().WithContext("cannot read " + info.name);
    auto magic = FindImageMagic(**media);
    if (magic.ok()) {
      carries_image = *magic;
    } else if (!OwnedWhenRaw(info, !config.namespace_name.empty()) ||
               !info.foreign_signature.empty()) {
      // Only an image would make it warmboot's, and none can be read.
      return magic.status().WithContext("cannot tell whether " + info.name + " is warmboot's");
    }
  }
  // The platform resolved a configured name to this very namespace.
  return CheckOwnership(info, !config.namespace_name.empty(), carries_image);
}

}  // namespace warmboot
