// Facts about the running system (recorded in image headers and reports).
#pragma once

#include <cstdint>
#include <string>

#include "util/uuid.h"

namespace warmboot {

// /proc/sys/kernel/random/boot_id, or all zeros where it cannot be read.
Uuid CurrentBootId();
// uname -r.
std::string KernelRelease();
int64_t NowUnixNanos();

}  // namespace warmboot
