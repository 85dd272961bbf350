// The JSON form of a Status: {"code": "no-space", "message": "..."}, as every --json error and
// every report carries it.
#pragma once

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace warmboot {

nlohmann::json ToJson(const Status& status);

}  // namespace warmboot
