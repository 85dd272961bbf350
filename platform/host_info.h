// Facts about the running system recorded in an image header.
#pragma once

#include <cstdint>
#include <string>

#include "warmboot/format.h"

namespace warmboot {

// /proc/sys/kernel/random/boot_id, or all zeros where it cannot be read.
format::Uuid CurrentBootId();
// uname -r.
std::string KernelRelease();
// A random (version 4) UUID.
format::Uuid RandomUuid();
int64_t NowUnixNanos();

}  // namespace warmboot
