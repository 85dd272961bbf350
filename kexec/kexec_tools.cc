// kexec-tools' kexec(8) as the fallback loader, run without a shell.
#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"
#include "util/strings.h"

namespace warmboot::kexec_internal {
namespace {

// The tail of a program's output: its last lines say why it failed.
std::string Tail(const std::string& output) {
  std::string t = Trim(output);
  constexpr size_t kMax = 600;
  if (t.size() > kMax) t = "..." + t.substr(t.size() - kMax);
  for (char& c : t) {
    if (c == '\n') c = ' ';
  }
  return t.empty() ? "no output" : t;
}

Status RunKexec(const std::vector<std::string>& argv, const std::string& what, KexecSystem& sys) {
  // kexec(8) reads two files and loads them: far less than this, unless something is wrong.
  auto r = sys.Run(argv, std::chrono::seconds(120));
  if (!r.ok()) return r.status().WithContext("cannot run " + argv[0]);
  if (r->exit_code != 0) {
    std::string how = r->exit_code > 0 ? "exit " + std::to_string(r->exit_code)
                                       : "killed by signal " + std::to_string(-r->exit_code);
    return IoError(what + " failed (" + how + "): " + Tail(r->output));
  }
  return Status::Ok();
}

}  // namespace

Status LoadWithKexecTools(const KexecPlan& plan, const std::string& kexec, KexecSystem& sys) {
  // -c: the kexec_load syscall, since kexec_file_load is what could not load.
  std::vector<std::string> argv{kexec, "-c", "-l"};
  if (uint64_t max = KexecToolsMemMax(plan)) argv.push_back("--mem-max=" + Hex(max));
  argv.push_back(plan.kernel);
  if (!plan.initrd.empty()) argv.push_back("--initrd=" + plan.initrd);
  argv.push_back("--command-line=" + plan.cmdline);
  return RunKexec(argv, kexec + " -l " + plan.kernel, sys);
}

Status UnloadWithKexecTools(const std::string& kexec, KexecSystem& sys) {
  return RunKexec({kexec, "-u"}, kexec + " -u", sys);
}

}  // namespace warmboot::kexec_internal
