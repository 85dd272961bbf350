// The one place preserve, restore, discard and status decide whether the probed namespace is
// warmboot's to act on (the rule: pmem/ownership.h). Reads the start of a raw namespace to see
// whether it carries a warmboot image; changes nothing.
#pragma once

#include "orchestration/config.h"
#include "pmem/pmem.h"

namespace warmboot {

Status CheckOwned(PmemPlatform& platform, const PmemInfo& info, const Config& config);

}  // namespace warmboot
