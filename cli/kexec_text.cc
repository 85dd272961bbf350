#include "cli/kexec_text.h"

namespace warmboot::cli {

std::string KexecPlanText(const KexecPlan& p) {
  std::string t = "  kernel   " + p.kernel + "\n";
  t += "  initrd   " + (p.initrd.empty() ? std::string("none") : p.initrd) + "\n";
  t += "  cmdline  " + p.cmdline;
  if (p.cmdline_origin == "/proc/cmdline") {
    t += "\n           (this kernel's /proc/cmdline";
    if (!p.dropped.empty()) {
      t += "; not carried over:";
      for (const std::string& d : p.dropped) t += " " + d;
    }
    t += ")";
  }
  t += "\n";
  if (!p.image_token.empty()) {
    t += "  image    " + p.image_token + " (warmboot.image=: the next boot restores it)\n";
  }
  return t;
}

}  // namespace warmboot::cli
