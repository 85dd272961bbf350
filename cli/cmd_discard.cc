#include <iostream>

#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/output.h"
#include "restore/restore.h"
#include "util/deferred_signals.h"

namespace warmboot::cli {

static constexpr const char* kDiscardHelp =
    R"(usage: warmboot discard --yes [--config F] [--json]

Gives up the state waiting on the pmem namespace on purpose: marks the sealed image consumed
without restoring it, then gives the namespace's memory back to System RAM. Restore keeps a
sealed image (and its memory out of System RAM) for as long as its state could not be
restored; this is the way out when that state is no longer wanted. Without --yes nothing
happens.
)";

int CmdDiscard(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"yes", false}}, "discard", kDiscardHelp,
                               json, &early);
  if (!args) return early;
  if (!args->Has("yes")) {
    return ReportError(UsageError("discard destroys the waiting state: add --yes to mean it "
                                  "('warmboot status' shows what is waiting)"),
                       json, "discard");
  }
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "discard");
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "discard");
  RestoreOptions options;
  options.transition = TransitionOptionsFrom(*config);
  PhaseLog log;
  std::string what;
  DeferredSignals signals;  // a discard is finished, never abandoned half-way
  Status s = Discard(**platform, *config, options, &log, &what);
  if (!s.ok()) return ReportError(s, json, "discard");
  if (json) {
    PrintJson({{"discarded", what}, {"phases", log.ToJson()}}, kExitOk);
  } else {
    std::cout << what << "; the pmem is System RAM again\n";
  }
  return kExitOk;
}

}  // namespace warmboot::cli
