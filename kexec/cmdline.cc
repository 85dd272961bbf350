// The next kernel's command line, when it is the running kernel's: /proc/cmdline, less what
// belongs to this boot only (see FilterRunningCmdline in warmboot/kexec.h).
#include <array>
#include <string_view>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"

namespace warmboot {
namespace {

// Parameters (up to the '=') that describe this boot, not the next one.
constexpr std::array<std::string_view, 4> kDropped = {"BOOT_IMAGE", "initrd", "elfcorehdr",
                                                      "kexec_jump_back_entry"};

bool IsDropped(const std::string& param) {
  std::string_view name(param);
  name = name.substr(0, name.find('='));
  for (std::string_view d : kDropped) {
    if (name == d) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> SplitCmdline(const std::string& cmdline) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, in_token = false;
  for (char c : cmdline) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == ' ' || c == '\t' || c == '\n')) {
      if (in_token) out.push_back(cur);
      cur.clear();
      in_token = false;
      continue;
    }
    cur += c;
    in_token = true;
  }
  if (in_token) out.push_back(cur);
  return out;
}

FilteredCmdline FilterRunningCmdline(const std::string& proc_cmdline) {
  FilteredCmdline f;
  bool init_args = false;  // after a bare "--": init's arguments, kept as they are
  for (const std::string& p : SplitCmdline(proc_cmdline)) {
    if (!init_args && p == "--") init_args = true;
    if (!init_args && IsDropped(p)) {
      f.dropped.push_back(p);
      continue;
    }
    if (!f.cmdline.empty()) f.cmdline += ' ';
    f.cmdline += p;
  }
  return f;
}

namespace kexec_internal {}  // namespace kexec_internal

}  // namespace warmboot
