#include <iostream>
#include <optional>

#include "cli/checkpoint_round.h"
#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/kexec_text.h"
#include "cli/output.h"
#include "preserve/reboot.h"
#include "util/bytes.h"
#include "util/deferred_signals.h"
#include "util/printable.h"

namespace warmboot::cli {

static constexpr const char* kRebootHelp =
    R"(usage: warmboot reboot [--config F] [--dry-run] [--fallback cold|none] [--json]

A warm reboot, the one command for an operator or a fleet tool. While the applications still
run it checks everything that can be checked: the namespace is warmboot's and in a known mode;
the applications answer the checkpoint round (through warmbootd, if it runs), after which their
sets are frozen; their state and the state directory's fit the namespace; the next kernel and
its command line load. It loads that kernel, takes the namespace's memory out while the
services run when offline_early_reserve stays available (blocks offline, kmem unbound, the
namespace raw: off the blackout; blocks that will not go offline are no reason to stop), and
asks systemd for 'systemctl kexec': the services stop in order, warmboot-preserve.service then
writes and seals the image (hot-removing the memory first if it is still in), and systemd jumps
into the next kernel. Until systemd takes over nothing has changed but the loaded kernel and
the memory taken out, which a refusal unloads and gives back.

  --config F             configuration file (default /etc/warmboot/warmboot.conf)
  --dry-run              the checks only: the applications are not asked, nothing is loaded
  --fallback cold|none   cold: a refusal becomes an ordinary reboot ('systemctl reboot'), its
                         cause kept in history_dir (reboot-cause.json) for 'warmboot status';
                         none (default): a refusal changes nothing and exits 1
  --json                 the report as JSON

Exit codes: 0 a reboot is under way (warm, or cold with --fallback cold: the output says which)
or, with --dry-run, every check passed; 1 refused, nothing changed, no reboot; 2 usage.
Without systemd as PID 1 it refuses: 'warmboot preserve' preserves and reboots by itself.
)";

int CmdReboot(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"dry-run", false}, {"fallback", true}},
                               "reboot", kRebootHelp, json, &early);
  if (!args) return early;
  const std::string fallback = args->Get("fallback").value_or("none");
  if (fallback != "cold" && fallback != "none") {
    return ReportError(UsageError("--fallback takes cold or none, not '" + fallback + "'"), json,
                       "reboot");
  }
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "reboot");
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "reboot");
  RebootOptions options;
  options.dry_run = args->Has("dry-run");
  options.fallback_cold = fallback == "cold";
  options.kexec_system = machine.kexec;
  options.services = machine.services;
  options.transition = TransitionOptionsFrom(*config);
  if (config->drop_page_cache) options.transition.drop_page_cache = machine.drop_page_cache;
  options.transition.movable_use = machine.movable_use;
  options.mem_available = machine.mem_available;
  // A signal while blocks may be offlined early is acted on between steps: what was offlined
  // comes back online before this exits. A dry run changes nothing and is simply stopped.
  std::optional<DeferredSignals> signals;
  if (!options.dry_run) {
    signals.emplace();
    options.transition.interrupted = [&signals] { return signals->Take(); };
  }
  options.checkpoint = [socket = config->api_socket](uint64_t deadline_ms, uint64_t hold_ms) {
    return RunCheckpointRound(socket, deadline_ms, hold_ms);
  };
  options.end_held = [socket = config->api_socket](uint64_t round) {
    (void)EndHeldRound(socket, round);
  };
  if (!machine.can_kexec && !options.dry_run) {
    return ReportError(InvalidArgument("this machine cannot kexec (a simulated namespace)"), json,
                       "reboot");
  }
  RebootReport r = WarmReboot(**platform, *config, options, machine.this_boot());
  // Once systemd has the machine (warm, or cold by --fallback), a late signal changes nothing:
  // the reboot is under way, and this prints and exits 0 rather than die by it.
  if (signals && (r.outcome == RebootOutcome::kWarm || r.outcome == RebootOutcome::kCold)) {
    signals->Dismiss();
  }
  const int code = r.outcome == RebootOutcome::kRefused ? ExitCodeFor(r.status) : kExitOk;
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  PrintPhases(r.checks.phases);
  PrintPhases(r.offline_early);
  PrintNotes(r.checks.notes);
  if (!r.offline_early_why_not.empty() && r.outcome != RebootOutcome::kChecked) {
    PrintNotes({"not offlined early: " + r.offline_early_why_not});
  }
  PrintNotes(r.notes);
  switch (r.outcome) {
    case RebootOutcome::kChecked:
      std::cout << "a warm reboot would go ahead: " << HumanBytes(r.checks.plan->raw_bytes)
                << " of state, the next kernel " << r.checks.kexec->kernel
                << "; nothing changed. 'warmboot reboot' does it\n";
      break;
    case RebootOutcome::kWarm:
      std::cout << "warm reboot under way: the next kernel is loaded (image " << r.image
                << "), systemd stops the services, then warmboot-preserve.service seals the "
                   "state; 'warmboot status' in the next boot shows how it went\n";
      break;
    case RebootOutcome::kCold:
      std::cerr << "warmboot reboot: not warm: " << Printable(r.status.message(), true) << "\n";
      std::cout << "ordinary (cold) reboot under way, as --fallback cold asked; the cause is kept "
                   "for 'warmboot status'\n";
      break;
    case RebootOutcome::kRefused:
      if (options.dry_run) {
        std::cerr << "warmboot reboot: a warm reboot would be refused: "
                  << Printable(r.status.message(), true) << "\n";
        break;
      }
      std::cerr << "warmboot reboot: " << Printable(r.status.message(), true) << "\n"
                << (options.fallback_cold
                        ? "  nothing changed and the machine keeps running: no ordinary reboot "
                          "for this cause (see the note)\n"
                        : "  nothing changed and the machine keeps running; '--fallback cold' "
                          "reboots the ordinary way instead\n");
      break;
  }
  return code;
}

}  // namespace warmboot::cli
