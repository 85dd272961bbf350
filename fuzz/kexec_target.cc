// The kexec command-line handling: filtering /proc/cmdline and resolving, checking and loading a
// plan, over the fake kexec system.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/kernel_cmdline.h"
#include "fuzz/targets.h"
#include "kexec/kexec.h"
#include "testing/fake_kexec_system.h"
#include "util/json_text.h"
#include "util/strings.h"

namespace warmboot::fuzz {

// What FilterRunningCmdline promises (kexec/kexec.h), checked against the kernel's reading:
// the parameters the kernel would see as BOOT_IMAGE, initrd, elfcorehdr or
// kexec_jump_back_entry before "--" are gone, and every other parameter and init's arguments
// reach the next kernel as this kernel read them.
void CheckFiltered(const std::string& proc, const FilteredCmdline& f) {
  static const std::vector<std::string> kDropped = {"BOOT_IMAGE", "initrd", "elfcorehdr",
                                                    "kexec_jump_back_entry", kImageTokenParam};
  auto is_dropped = [&](const KernelParam& p) {
    for (const std::string& d : kDropped) {
      if (p.param == d) return true;
    }
    return false;
  };
  KernelCmdline before = ParseKernelCmdline(proc), after = ParseKernelCmdline(f.cmdline);
  for (const KernelParam& p : after.params) {
    WB_FUZZ_CHECK(!is_dropped(p), "the next kernel would still see " + p.param + "=" + p.value);
  }
  std::vector<KernelParam> kept;
  for (const KernelParam& p : before.params) {
    if (!is_dropped(p)) kept.push_back(p);
  }
  WB_FUZZ_CHECK(kept.size() == after.params.size(), "parameters were lost or added");
  for (size_t i = 0; i < kept.size(); ++i) {
    WB_FUZZ_CHECK(kept[i].param == after.params[i].param &&
                      kept[i].has_value == after.params[i].has_value &&
                      kept[i].value == after.params[i].value,
                  "parameter " + std::to_string(i) + " changed: " + kept[i].param);
  }
  WB_FUZZ_CHECK(before.has_init_args == after.has_init_args &&
                    ParseKernelCmdline(before.init_args).params.size() ==
                        ParseKernelCmdline(after.init_args).params.size(),
                "init's arguments changed");
  // Filtering what was filtered changes nothing.
  FilteredCmdline again = FilterRunningCmdline(f.cmdline);
  WB_FUZZ_CHECK(again.cmdline == f.cmdline && again.dropped.empty(), "filtering is not stable");
}

int FuzzKexec(const uint8_t* data, size_t size) {
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0' && fields.size() < 6) {
      fields.emplace_back();
    } else {
      fields.back() += static_cast<char>(data[i]);
    }
  }
  fields.resize(6);
  const std::string& proc = fields[0];
  FilteredCmdline f = FilterRunningCmdline(proc);
  CheckFiltered(proc, f);

  testing::FakeKexecSystem sys;
  sys.text["/proc/cmdline"] = proc;
  sys.release = fields[5];
  KexecRequest request{fields[1], fields[2], fields[3], fields[4]};
  for (const std::string& path : {request.kernel, request.initrd}) {
    if (!path.empty()) sys.files[path] = testing::FakeKexecSystem::File{};
  }
  if (!sys.release.empty()) {
    sys.files["/boot/vmlinuz-" + sys.release] = {};
    sys.files["/boot/initrd.img-" + sys.release] = {};
  }
  auto plan = ResolveKexecPlan(request, sys);
  // A quote the kernel would leave open among its own parameters swallows warmboot.image=: the
  // plan is refused then, and only then (kexec/plan.cc).
  const std::string base_line = Trim(request.cmdline).empty() ? f.cmdline : Trim(request.cmdline);
  const bool open_quote = ParseKernelCmdline(base_line).unterminated_quote ||
                          ParseKernelCmdline(Trim(request.append)).unterminated_quote;
  if (!plan.ok()) {
    if (plan.status().message().find("unpaired double quote") != std::string::npos) {
      WB_FUZZ_CHECK(open_quote,
                    "refused for a quote the kernel would close: " + plan.status().ToString());
      return 0;
    }
    WB_FUZZ_CHECK(request.kernel.empty() && sys.release.empty(),
                  "no plan: " + plan.status().ToString());
    return 0;
  }
  WB_FUZZ_CHECK(!open_quote, "a plan whose kernel parameters leave a quote open");
  // The plan keeps the base (the configured line, or the filtered running one) and the append
  // as the kernel reads them, without any warmboot.image= of theirs (kexec.h). Dropping one
  // rejoins the line with single spaces, so compare the parameters, not the text.
  const std::string base = Trim(request.cmdline).empty() ? f.cmdline : Trim(request.cmdline);
  const std::string append = Trim(request.append);
  auto without_token = [](const std::string& line) {
    KernelCmdline k = ParseKernelCmdline(line);
    std::erase_if(k.params, [](const KernelParam& p) { return p.param == kImageTokenParam; });
    return k;
  };
  // The append adds only what the base lacks (the running line carries the last warm reboot's
  // append): the base comes first, unchanged; then nothing but appended parameters; and every
  // appended parameter is there.
  const KernelCmdline base_k = without_token(base), append_k = without_token(append);
  const KernelCmdline got = without_token(plan->cmdline);
  auto same = [](const KernelParam& a, const KernelParam& b) {
    return a.param == b.param && a.has_value == b.has_value && a.value == b.value;
  };
  auto holds = [&](const KernelCmdline& k, const KernelParam& p) {
    return std::any_of(k.params.begin(), k.params.end(),
                       [&](const KernelParam& q) { return same(p, q); });
  };
  // An unbalanced quote makes the kernel read all that follows it as the last parameter's value
  // (the appended parameters too): the parameters cannot be compared one by one then.
  if (std::count(base.begin(), base.end(), '"') % 2 != 0 ||
      std::count(append.begin(), append.end(), '"') % 2 != 0) {
    (void)DumpJson(ToJson(*plan));
    return 0;
  }
  WB_FUZZ_CHECK(got.params.size() >= base_k.params.size(),
                "the plan's command line lost parameters of the base");
  for (size_t i = 0; i < got.params.size(); ++i) {
    if (i < base_k.params.size()) {
      WB_FUZZ_CHECK(
          same(base_k.params[i], got.params[i]),
          "the plan changed parameter " + std::to_string(i) + ": " + base_k.params[i].param);
    } else {
      WB_FUZZ_CHECK(holds(append_k, got.params[i]),
                    "the plan gained a parameter the append does not have: " + got.params[i].param);
    }
  }
  for (const KernelParam& p : append_k.params) {
    WB_FUZZ_CHECK(holds(got, p), "the plan lost an appended parameter: " + p.param);
  }
  // A "--" with nothing after it gives init nothing: the same as none.
  auto init = [](const KernelCmdline& k) {
    return k.has_init_args && std::any_of(k.init_args.begin(), k.init_args.end(), [](char c) {
             return c != '\0' && !KernelIsSpace(static_cast<unsigned char>(c));
           });
  };
  WB_FUZZ_CHECK(init(got) == (init(base_k) || init(append_k)),
                "the plan changed whether init has arguments");
  (void)DumpJson(ToJson(*plan));
  Status check = CheckKexecPlan(&*plan, sys);
  WB_FUZZ_CHECK(check.ok() == (plan->cmdline.size() <= kMaxKexecCmdline),
                "check: " + check.ToString());
  if (!check.ok()) return 0;
  auto loaded = LoadKexec(*plan, sys);
  WB_FUZZ_CHECK(loaded.ok(), "load: " + loaded.status().ToString());
  WB_FUZZ_CHECK(!sys.loads.empty() && sys.loads.back().cmdline == plan->cmdline,
                "the kernel was handed another command line");
  // What the next kernel reads is the plan's command line, all of it (a NUL would cut it).
  WB_FUZZ_CHECK(plan->cmdline.find('\0') == std::string::npos,
                "the command line has a NUL byte: the next kernel would read less of it");
  return 0;
}

}  // namespace warmboot::fuzz
