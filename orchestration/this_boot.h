// Which sealed image this boot is meant to restore. Preserve names its image on the next
// kernel's command line (warmboot.image=UUID, kexec/kexec.h); restore acts on its own only on
// that image, or on one sealed earlier in this same boot (a preserve not followed by a reboot,
// taken back). Any other sealed image is stale: left over from a restore that failed before a
// cold boot, or written before a reboot that did not go through warmboot. Restoring it on its
// own would hand applications old state as if it were new, so it waits for an explicit request
// (or the stale_images = restore policy). docs/safety.md, "Stale images".
#pragma once

#include <string>

#include "image/format.h"
#include "util/uuid.h"

namespace warmboot {

// This boot as restore judges an image by it.
struct ThisBoot {
  Uuid boot_id{};       // /proc/sys/kernel/random/boot_id
  std::string cmdline;  // /proc/cmdline
};

// The running kernel's.
ThisBoot ReadThisBoot();

enum class ImageIntent {
  kNamed,     // this boot's command line names the image
  kSameBoot,  // the image was sealed in this boot
  kStale,     // neither
};

struct ImageJudgement {
  ImageIntent intent = ImageIntent::kStale;
  // The image this boot's command line names ("" = none).
  std::string token;
  // Why, in words: "this boot's command line names it", "sealed earlier in this boot",
  // "this boot's command line names no image (no warmboot.image=)", "this boot's command line
  // names image U".
  std::string reason;
};

ImageJudgement JudgeImage(const format::Header& header, const ThisBoot& boot);

// The image this boot's command line names: its uuid text, or "" when none (or not a uuid).
std::string NamedImage(const ThisBoot& boot);

}  // namespace warmboot
