// The real PmemPlatform, over libndctl and libdaxctl (pmem/ndctl/internal.h lists its pieces).
#pragma once

#include <memory>
#include <string>

#include "pmem/pmem.h"

namespace warmboot {

// `namespace_name` may be empty: then the single pmem namespace on the machine is used (more
// than one is an error naming them).
Result<std::unique_ptr<PmemPlatform>> OpenRealPmemPlatform(const std::string& namespace_name);

}  // namespace warmboot
