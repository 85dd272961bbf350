// Facts about the running system (recorded in image headers and reports).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/status.h"
#include "util/uuid.h"

namespace warmboot {

// /proc/sys/kernel/random/boot_id, or all zeros where it cannot be read.
Uuid CurrentBootId();
// uname -r.
std::string KernelRelease();
int64_t NowUnixNanos();
// MemAvailable from /proc/meminfo, in bytes; UINT64_MAX where it cannot be read.
uint64_t MemAvailableBytes();
// What ZONE_MOVABLE holds on `node`, or on every node when node < 0, as /proc/zoneinfo gives
// it: in use (managed less free pages) and of that the page cache (its file LRU pages).
// Offlining kmem's blocks migrates what is in use there: that over the offline's time is the
// machine's migration rate. Nullopt when there is no Movable zone to read.
struct ZoneUse {
  uint64_t in_use_bytes = 0;
  uint64_t file_bytes = 0;
};
std::optional<ZoneUse> MovableZoneUse(int node);
std::optional<ZoneUse> MovableZoneUseFrom(const std::string& zoneinfo, int node);
// Drops the kernel's clean page cache (writes 1 to /proc/sys/vm/drop_caches; root only). Dirty
// pages stay, and whatever is read again comes back from its file.
Status DropCleanPageCache();

}  // namespace warmboot
