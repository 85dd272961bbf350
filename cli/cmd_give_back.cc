#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/output.h"
#include "preserve/reboot.h"
#include "restore/give_back.h"
#include "util/deferred_signals.h"
#include "util/printable.h"
#include "util/status_json.h"

namespace warmboot::cli {

static constexpr const char* kGiveBackHelp =
    R"(usage: warmboot give-back [--config F] [--boot] [--json]

Gives the pmem namespace's memory back to System RAM (namespace devdax, kmem, every block
online movable) when no state waits on it. The restore at boot leaves it for later once it has
restored a state (give_back_late = yes): warmboot-give-back.service runs this after
warmboot-state.target, while the applications start, so that the hot-plug is not part of the
blackout. It also finishes what a warm reboot that never happened left (blocks offline, a raw
namespace). A sealed image is never touched: its state waits for 'warmboot restore'.

  --config F   configuration file (default /etc/warmboot/warmboot.conf)
  --boot       as warmboot-give-back.service runs it: only when this boot's restore left the
               give-back for later and it is not done yet; otherwise one line saying why not
               (exit 0)

Exit codes: 0 given back, or nothing to do; 5 a sealed image waits (nothing changed: 'warmboot
restore'); 1 error.
)";

int CmdGiveBack(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"boot", false}}, "give-back",
                               kGiveBackHelp, json, &early);
  if (!args) return early;
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "give-back");
  std::string why_not;
  if (args->Has("boot") &&
      !GiveBackLeftForLater(*config, UuidToString(machine.this_boot().boot_id), &why_not)) {
    if (json) {
      PrintJson({{"outcome", "not-needed"}, {"message", why_not}}, kExitOk);
    } else {
      std::cout << "warmboot: nothing left to give back: " << Printable(why_not) << "\n";
    }
    return kExitOk;
  }
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "give-back");
  GiveBackOptions options;
  options.transition = TransitionOptionsFrom(*config);
  options.boot = machine.this_boot();
  options.reboot_under_way = [&config, &machine] {
    return RebootUnderWay(*config, machine.this_boot().boot_id, machine.services);
  };
  DeferredSignals signals;  // a reconfiguration is finished, never abandoned half-way
  GiveBackReport r = GiveBack(**platform, *config, options);
  const int code = !r.status.ok()                                ? ExitCodeFor(r.status)
                   : r.outcome == GiveBackOutcome::kImageWaiting ? kExitStale
                                                                 : kExitOk;
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  // The steps, when it took any (finding nothing to do is one line).
  const bool acted = r.outcome == GiveBackOutcome::kGivenBack || !r.status.ok();
  if (acted) PrintPhases(r.phases);
  PrintNotes(r.notes);
  if (r.status.ok()) {
    std::cout << GiveBackOutcomeName(r.outcome) << ": " << Printable(r.message) << "\n";
  } else {
    std::cerr << "warmboot give-back: " << Printable(r.message)
              << "; fix the cause and run 'warmboot give-back' again\n";
  }
  return code;
}

}  // namespace warmboot::cli
