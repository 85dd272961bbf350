// The JSON form of a namespace's state: what `status --json` prints and the reports keep.
#pragma once

#include <nlohmann/json.hpp>

#include "pmem/pmem.h"

namespace warmboot {

nlohmann::json ToJson(const PmemInfo& info);

}  // namespace warmboot
