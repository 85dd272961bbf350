#include "orchestration/return_memory.h"

#include <algorithm>

#include "image/image.h"
#include "orchestration/ownership_check.h"
#include "util/bytes.h"

namespace warmboot {
namespace {

bool AllOnlineMovable(const PmemInfo& info) {
  return info.mode == PmemMode::kSystemRam && !info.blocks.empty() &&
         std::all_of(info.blocks.begin(), info.blocks.end(),
                     [](const MemoryBlockState& b) { return b.online && b.zone == "Movable"; });
}

}  // namespace

Result<MemoryReturn> ReturnMemory(PmemPlatform& platform, const Config& config,
                                  const TransitionOptions& transition, PhaseLog* log,
                                  std::string* what, PmemInfo* found) {
  PhaseLog scratch;
  if (log == nullptr) log = &scratch;
  auto probe = log->Start("probe device");
  auto probed = platform.Probe();
  probe.Done(probed.ok(), probed.ok() ? PmemModeName(probed->mode) : probed.status().message());
  if (!probed.ok()) return probed.status();
  PmemInfo info = *probed;
  if (found != nullptr) *found = info;
  WB_RETURN_IF_ERROR(CheckOwned(platform, info, config));
  if (info.mode == PmemMode::kDisabled) {
    // Up raw first: an image on it is looked at before anything is reconfigured.
    auto up = log->Start("enable namespace (raw)");
    Status s = platform.EnableNamespace();
    Result<PmemInfo> now = s.ok() ? platform.Probe() : Result<PmemInfo>(s);
    up.Done(now.ok(), now.ok() ? PmemModeName(now->mode) : now.status().message());
    if (!now.ok()) return now.status().WithContext("cannot enable " + info.name);
    info = *now;
    WB_RETURN_IF_ERROR(CheckOwned(platform, info, config));
  }
  if (info.mode == PmemMode::kRaw) {
    auto look = log->Start("find image");
    auto media = platform.OpenRawMedia(OpenMode::kReadOnly);
    if (!media.ok()) {
      look.Done(false, media.status().message());
      return media.status().WithContext("cannot read " + info.name +
                                        " to check that no sealed image waits on it; nothing "
                                        "was changed");
    }
    auto device = ReadImageOnDevice(**media);
    if (!device.ok()) {
      look.Done(false, device.status().message());
      return device.status().WithContext("cannot tell whether a sealed image waits on " +
                                         info.name + "; nothing was changed");
    }
    if (device->sealed()) {
      const format::Header& h = device->image->header;
      look.Done(true, "sealed, generation " + std::to_string(h.generation));
      *what = "a sealed image (generation " + std::to_string(h.generation) + ", " +
              HumanBytes(h.total_raw_bytes) + " of state) waits on " + (*media)->name();
      return MemoryReturn::kImageWaiting;
    }
    look.Done(true, !device->written ? "none"
                    : device->image  ? ImageStateName(device->image->state)
                                     : device->why_none);
  } else if (AllOnlineMovable(info)) {
    *what = "the pmem (" + info.name + ", " + HumanBytes(info.size) +
            ") is System RAM already, every block online";
    return MemoryReturn::kAlready;
  }
  WB_RETURN_IF_ERROR(ToSystemRam(platform, transition, log)
                         .WithContext("giving " + info.name + " back to System RAM failed"));
  *what = "the pmem (" + info.name + ", " + HumanBytes(info.size) + ") is System RAM again";
  return MemoryReturn::kReturned;
}

}  // namespace warmboot
