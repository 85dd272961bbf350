#include <iostream>

#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/damage_text.h"
#include "cli/output.h"
#include "restore/restore.h"
#include "util/deferred_signals.h"

namespace warmboot::cli {

static constexpr const char* kRestoreHelp =
    R"(usage: warmboot restore [--config F] [--json]

Runs early in boot, as root, with nothing else using the pmem. Finds the raw namespace, restores
a sealed image into the restore directory (a tmpfs), consumes the seal, clears known media
errors and gives the memory back to System RAM. An absent, unsealed or damaged image is
reported plainly; whatever is intact is restored and the memory is given back in every case.
A namespace already in devdax/system-ram mode means no preserve happened (exit 0).

Exit codes: 0 restored or nothing to restore, 3 partial, 4 no valid image, 1 error.
)";

int CmdRestore(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(argv, {{"config", true}});
  if (!args.ok()) return ReportError(args.status(), json, "restore");
  if (args->Has("help")) {
    std::cout << kRestoreHelp;
    return kExitOk;
  }
  if (!args->positional.empty()) {
    return ReportError(UsageError("restore takes no positional arguments"), json, "restore");
  }
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "restore");
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "restore");
  RestoreOptions options;
  options.transition = TransitionOptionsFrom(*config);
  // A restore is finished, never abandoned half-way: signals wait until it is done.
  DeferredSignals signals;
  RestoreReport r = Restore(**platform, *config, options);
  if (int sig = signals.Take()) {
    r.notes.push_back(std::string(SignalName(sig)) +
                      " arrived during the restore, which finished "
                      "first");
  }
  int code = !r.status.ok()                               ? ExitCodeFor(r.status)
             : r.outcome == RestoreOutcome::kPartial      ? kExitPartial
             : r.outcome == RestoreOutcome::kNoValidImage ? kExitNoImage
                                                          : kExitOk;
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  for (const Phase& p : r.phases.phases()) {
    std::printf("  %-32s %8.3f s  %s%s\n", p.name.c_str(), p.seconds,
                p.ok ? "" : "FAILED: ", p.detail.c_str());
  }
  if (r.unpack && r.unpack->partial()) PrintDamage(std::cout, *r.unpack);
  for (const std::string& n : r.notes) std::cout << "  note: " << n << "\n";
  std::cout << RestoreOutcomeName(r.outcome) << ": " << r.message << "\n"
            << (r.memory_returned ? "  the pmem is System RAM again\n"
                                  : "  the pmem was NOT given back to System RAM; see the notes\n");
  if (!r.status.ok()) std::cerr << "warmboot restore: " << r.status.message() << "\n";
  return code;
}

}  // namespace warmboot::cli
