// Application and segment names (docs/api.md section 3): 1 to 255 bytes of UTF-8, no control
// character, no '/', not "." or "..". They become file names in the restore directory.
#pragma once

#include <string_view>

#include "util/status.h"

namespace warmboot::api {

inline constexpr size_t kMaxNameBytes = 255;

// Ok, or InvalidArgument naming the rule `name` (what, e.g. "segment name") breaks.
Status CheckName(std::string_view what, std::string_view name);

}  // namespace warmboot::api
