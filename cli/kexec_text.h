// Human text for a kexec plan, shared by 'warmboot kexec' and 'warmboot preserve'.
#pragma once

#include <string>

#include "kexec/kexec.h"

namespace warmboot::cli {

// "  kernel   /boot/vmlinuz-...\n  initrd   ...\n  cmdline  ... (from /proc/cmdline; ...)\n"
std::string KexecPlanText(const KexecPlan& plan);

}  // namespace warmboot::cli
