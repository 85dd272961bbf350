#include <iostream>

#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/damage_text.h"
#include "cli/output.h"
#include "restore/boot_restore.h"
#include "restore/restore.h"
#include "util/deferred_signals.h"
#include "util/printable.h"
#include "util/status_json.h"

namespace warmboot::cli {

static constexpr const char* kRestoreHelp =
    R"(usage: warmboot restore [--config F] [--image UUID] [--boot] [--json]

Runs early in boot, as root, with nothing else using the pmem. Finds the raw namespace and the
sealed image on it, restores its state into the restore directory (a tmpfs, mounted or grown
when the directory cannot hold the state), consumes the seal, clears known media errors and
gives the memory back to System RAM. Damaged segments are quarantined and the rest restored.

It restores on its own only the image this boot is meant for: the one named on the kernel's
command line by the preserve that kexec'd into it (warmboot.image=UUID), or one sealed earlier
in this same boot. Any other sealed image is stale: it is kept, with its memory, and restored
only with --image or the configuration's `stale_images = restore`.

A sealed image is never given up by a failure: when its state cannot be restored (no room, a
write error) the image stays sealed and the namespace raw; run restore again once the cause is
fixed, or 'warmboot discard --yes' to give the state up. With no image, an unsealed or a
consumed one, the memory goes back to System RAM.

  --config F     configuration file (default /etc/warmboot/warmboot.conf)
  --image UUID   restore this sealed image even if this boot was not meant to (see 'warmboot
                 status'); a different sealed image is refused
  --boot         the restore of this boot, as the initramfs and warmboot-restore.service run
                 it: restores only when this boot's restore has not run yet (or failed), then
                 records the boot type (warm, cold, failed-warm, with the reason) in
                 report_dir/boot.json and once in history_dir/boots.jsonl (not from the
                 initramfs: /var is not mounted there). Prints one line. Once it has
                 restored a state it leaves the memory for 'warmboot give-back' (run by
                 warmboot-give-back.service after warmboot-state.target: off the blackout)
                 when give_back_late = yes and give_back_late_reserve is available.

Exit codes: 0 restored or nothing to restore, 3 partial, 4 no valid image, 5 a stale image was
kept (not restored), 1 error (also: the image was kept after a failure). With --boot: 0 too
when this boot's restore had already run, and when the namespace is not warmboot's (left as
it is: warmboot is installed but not set up).
)";

static int RestoreExitCode(const RestoreReport& r) {
  return !r.status.ok()                               ? ExitCodeFor(r.status)
         : r.outcome == RestoreOutcome::kPartial      ? kExitPartial
         : r.outcome == RestoreOutcome::kNoValidImage ? kExitNoImage
         : r.outcome == RestoreOutcome::kStale        ? kExitStale
                                                      : kExitOk;
}

// --boot: at most one restore per boot, then the boot recorded (restore/boot_restore.h).
static int BootRestore(const Config& config, const RestoreOptions& options, bool in_initramfs,
                       const Machine& machine, bool json) {
  BootRestoreOptions bo;
  bo.restore = options;
  bo.in_initramfs = in_initramfs;
  std::unique_ptr<PmemPlatform> platform;
  bo.open_platform = [&]() -> Result<PmemPlatform*> {
    auto p = machine.open_platform(config);
    if (!p.ok()) return p.status();
    platform = std::move(*p);
    return platform.get();
  };
  DeferredSignals signals;  // as below: a restore is never abandoned half-way
  BootRestoreResult r = RestoreBoot(config, bo);
  // A namespace that is not warmboot's (a machine where warmboot is installed, not yet set up)
  // is left as it is: an outcome of the boot, not its failure (the unit would show failed on
  // every boot).
  const bool not_ours = r.report && r.report->status.code() == Code::kPermission;
  const int code = !r.restored_now ? kExitOk
                   : not_ours      ? kExitOk
                   : r.report      ? RestoreExitCode(*r.report)
                                   : ExitCodeFor(r.status);
  if (json) {
    nlohmann::json out{{"restored_now", r.restored_now},
                       {"boot", r.boot},
                       {"restore", r.restore},
                       {"line", r.line},
                       {"metrics", r.metrics}};
    if (!r.earlier_note.empty()) out["earlier"] = r.earlier_note;
    if (!r.status.ok()) out["error"] = ToJson(r.status);
    PrintJson(out, code);
  } else {
    std::cout << "warmboot: " << Printable(r.line) << "\n";
    if (not_ours) {
      std::cout << "warmboot: installed but idle: the namespace is left as it is; name it in "
                << (config.source_path.empty() ? std::string("the configuration")
                                               : config.source_path)
                << " (namespace = ...) to use it\n";
    }
  }
  return code;
}

int CmdRestore(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"image", true}, {"boot", false}},
                               "restore", kRestoreHelp, json, &early);
  if (!args) return early;
  // Usage first (exit 2), whatever the configuration and the machine.
  RestoreOptions options;
  if (auto v = args->Get("image")) {
    Uuid u;
    if (!ParseUuid(*v, &u)) {
      return ReportError(UsageError("--image takes an image's uuid (as 'warmboot status' shows "
                                    "it), not '" +
                                    *v + "'"),
                         json, "restore");
    }
    options.image = UuidToString(u);
  }
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "restore");
  options.transition = TransitionOptionsFrom(*config);
  options.boot = machine.this_boot();
  options.clock = machine.clock;
  const bool in_initramfs = machine.in_initramfs();
  options.ran_in = in_initramfs ? "initramfs" : "system";
  // At boot the hot-plug waits until the applications have started (warmboot-give-back.service).
  options.give_back_late = args->Has("boot") && config->give_back_late;
  if (args->Has("boot")) return BootRestore(*config, options, in_initramfs, machine, json);
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "restore");
  // A restore is finished, never abandoned half-way: signals wait until it is done.
  DeferredSignals signals;
  RestoreReport r = Restore(**platform, *config, options);
  if (int sig = signals.Take()) {
    r.notes.push_back(std::string(SignalName(sig)) +
                      " arrived during the restore, which finished "
                      "first");
  }
  int code = RestoreExitCode(r);
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  PrintPhases(r.phases);
  if (r.unpack && r.unpack->partial()) PrintDamage(std::cout, *r.unpack);
  PrintNotes(r.notes);
  std::cout << RestoreOutcomeName(r.outcome) << ": " << Printable(r.message, true) << "\n";
  if (r.memory_returned) {
    std::cout << "  the pmem is System RAM again\n";
  } else if (!r.image_kept) {
    std::cout << "  the pmem was NOT given back to System RAM; see the notes\n";
  }
  if (!r.status.ok()) {
    std::cerr << "warmboot restore: " << Printable(r.status.message(), true) << "\n";
  }
  return code;
}

}  // namespace warmboot::cli
