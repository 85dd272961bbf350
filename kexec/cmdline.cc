// The next kernel's command line, when it is the running kernel's: /proc/cmdline, less what
// belongs to this boot only (see FilterRunningCmdline in warmboot/kexec.h).
#include <algorithm>
#include <array>
#include <string_view>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"

namespace warmboot {
namespace {

// Parameters (up to the '=') that describe this boot, not the next one.
constexpr std::array<std::string_view, 5> kDropped = {"BOOT_IMAGE", "initrd", "elfcorehdr",
                                                      "kexec_jump_back_entry", kImageTokenParam};

// The kernel's isspace() (lib/ctype.c): space, \t, \n, \v, \f, \r and 0xa0 (Latin-1's no-break
// space) all separate parameters.
bool IsKernelSpace(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

// A parameter's name as the kernel's next_arg() reads it: a leading quote is not part of it;
// it ends at the first '=' after its first character; without a value, a quoted parameter's
// closing quote is not part of it either ("initrd=x" and "--" in quotes count as such).
std::string_view ParamName(std::string_view token, bool* has_value) {
  bool quoted = false;
  if (!token.empty() && token.front() == '"') {
    token.remove_prefix(1);
    quoted = true;
  }
  size_t eq = token.empty() ? std::string_view::npos : token.find('=', 1);
  *has_value = eq != std::string_view::npos;
  if (*has_value) return token.substr(0, eq);
  if (quoted && !token.empty() && token.back() == '"') token.remove_suffix(1);
  return token;
}

bool IsDropped(const std::string& param) {
  bool has_value;
  std::string_view name = ParamName(param, &has_value);
  for (std::string_view d : kDropped) {
    if (name == d) return true;
  }
  return false;
}

// A bare "--" (quoted or not) ends the kernel's parameters.
bool IsEndOfParams(const std::string& param) {
  bool has_value;
  return ParamName(param, &has_value) == "--" && !has_value;
}

}  // namespace

std::optional<std::string> CmdlineParam(const std::string& cmdline, const std::string& name) {
  std::optional<std::string> value;
  for (const std::string& p : SplitCmdline(cmdline)) {
    if (IsEndOfParams(p)) break;
    bool has_value;
    if (ParamName(p, &has_value) != name || !has_value) continue;
    std::string v = p.substr(p.find('=', p.front() == '"' ? 2 : 1) + 1);
    std::erase(v, '"');
    value = v;
  }
  return value;
}

std::string kexec_internal::WithoutParam(const std::string& cmdline, std::string_view name,
                                         std::vector<std::string>* dropped) {
  std::string out;
  bool init_args = false;
  const size_t before = dropped->size();
  for (const std::string& p : SplitCmdline(cmdline)) {
    if (!init_args && IsEndOfParams(p)) init_args = true;
    bool has_value;
    if (!init_args && ParamName(p, &has_value) == name) {
      dropped->push_back(p);
      continue;
    }
    if (!out.empty()) out += ' ';
    out += p;
  }
  // Nothing dropped: the command line exactly as given (its spacing included).
  return dropped->size() == before ? cmdline : out;
}

std::string kexec_internal::WithParam(const std::string& cmdline, const std::string& param) {
  std::string out;
  bool added = false;
  for (const std::string& p : SplitCmdline(cmdline)) {
    if (!added && IsEndOfParams(p)) {
      out += (out.empty() ? "" : " ") + param;
      added = true;
    }
    out += (out.empty() ? "" : " ") + p;
  }
  if (!added) return cmdline.empty() ? param : cmdline + " " + param;
  return out;
}

std::string kexec_internal::WithAppended(const std::string& cmdline, const std::string& append) {
  // What the command line has already, kernel parameters and init's arguments apart.
  std::vector<std::string> kernel, init;
  bool has_end = false;
  for (std::string& p : SplitCmdline(cmdline)) {
    if (!has_end && IsEndOfParams(p)) {
      has_end = true;
    } else {
      (has_end ? init : kernel).push_back(std::move(p));
    }
  }
  auto has = [](const std::vector<std::string>& v, const std::string& p) {
    return std::find(v.begin(), v.end(), p) != v.end();
  };
  std::string out = cmdline;
  bool init_args = false;
  for (std::string& p : SplitCmdline(append)) {
    if (!init_args && IsEndOfParams(p)) {
      init_args = true;
    } else if (!init_args && !has(kernel, p)) {
      out = WithParam(out, p);
      kernel.push_back(std::move(p));
    } else if (init_args && !has(init, p)) {
      out += std::string(out.empty() ? "" : " ") + (has_end ? "" : "-- ") + p;
      has_end = true;
      init.push_back(std::move(p));
    }
  }
  return out;
}

bool kexec_internal::KernelQuotesPaired(const std::string& cmdline) {
  // An unpaired quote before "--" swallows the rest, "--" included, into one token: its count
  // is odd. After "--", quotes are init's business.
  for (const std::string& p : SplitCmdline(cmdline)) {
    if (IsEndOfParams(p)) return true;
    if (std::count(p.begin(), p.end(), '"') % 2 != 0) return false;
  }
  return true;
}

std::vector<std::string> SplitCmdline(const std::string& cmdline) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, in_token = false;
  for (char c : cmdline) {
    if (c == '"') quoted = !quoted;
    if (!quoted && IsKernelSpace(c)) {
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
    if (!init_args && IsEndOfParams(p)) init_args = true;
    if (!init_args && IsDropped(p)) {
      f.dropped.push_back(p);
      continue;
    }
    if (!f.cmdline.empty()) f.cmdline += ' ';
    f.cmdline += p;
  }
  return f;
}

}  // namespace warmboot
