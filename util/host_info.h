// Facts about the running system (recorded in image headers and reports).
#pragma once

#include <cstdint>
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
// The bytes in use in ZONE_MOVABLE (managed less free pages, as /proc/zoneinfo gives them) on
// `node`, or on every node when node < 0; UINT64_MAX when there is no Movable zone to read.
// Offlining kmem's blocks migrates what is in use there: this over the offline's time is the
// machine's migration rate.
uint64_t MovableInUseBytes(int node);
uint64_t MovableInUseBytesFrom(const std::string& zoneinfo, int node);
// Drops the kernel's clean page cache (writes 1 to /proc/sys/vm/drop_caches; root only). Dirty
// pages stay, and whatever is read again comes back from its file.
Status DropCleanPageCache();

}  // namespace warmboot
