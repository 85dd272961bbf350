// The last preserve and restore reports, kept as JSON files in the configured report_dir so
// `warmboot status` (and people) can read them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace warmboot {

// Writes dir/NAME.json atomically (temporary file, fsync, rename).
Status SaveReport(const std::string& dir, const std::string& name, const nlohmann::json& report);
// Reads dir/NAME.json; kNotFound when there is none; an error naming it when it is not a
// regular file or not JSON.
Result<nlohmann::json> LoadReport(const std::string& dir, const std::string& name);

}  // namespace warmboot
