// Human lines for damaged segments, shared by verify and unpack.
#pragma once

#include <ostream>

#include "image/image.h"

namespace warmboot::cli {

void PrintDamage(std::ostream& out, const VerifyReport& report);

}  // namespace warmboot::cli
