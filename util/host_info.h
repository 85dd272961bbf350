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
// Drops the kernel's clean page cache (writes 1 to /proc/sys/vm/drop_caches; root only). Dirty
// pages stay, and whatever is read again comes back from its file.
Status DropCleanPageCache();

}  // namespace warmboot
