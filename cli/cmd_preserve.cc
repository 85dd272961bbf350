#include <chrono>
#include <iostream>
#include <thread>

#include "cli/checkpoint_round.h"
#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/kexec_text.h"
#include "cli/output.h"
#include "preserve/preserve.h"
#include "preserve/reboot.h"
#include "util/bytes.h"
#include "util/deferred_signals.h"
#include "util/json_text.h"
#include "util/printable.h"
#include "util/status_json.h"

namespace warmboot::cli {

static constexpr const char* kPreserveHelp =
    R"(usage: warmboot preserve [--config F] [--dry-run] [--no-kexec] [--systemd | --systemd-prepare]
                         [--json]

The shutdown hook. Plans first (device present and in a known mode, state fits the namespace);
then, past the point of no return, offlines every memory block of the dax device, checks they
are all offline, unbinds kmem (hot-remove), makes the namespace raw and writes the state as a
sealed image. If blocks refuse to go offline, they are all brought back and nothing changes.
Then it loads the next kernel (see 'warmboot kexec --help': the configuration's kernel,
initrd, cmdline and append), prints and saves the report, and reboots into it. The kexec is
checked in the plan, before anything changes. If the load fails after the image is sealed
(exit 3), the machine keeps running with the image sealed: 'warmboot kexec' retries, and
'warmboot restore' takes the state back and returns the memory.

  --config F   configuration file (default /etc/warmboot/warmboot.conf)
  --dry-run    plan only: report what would happen, change nothing
  --no-kexec   stop after the image is sealed; no kexec
  --systemd    warmboot-preserve.service's stop, once the services have stopped: only when the
               shutdown under way ends in kexec ('warmboot reboot', 'systemctl kexec'; also
               'systemctl reboot' with the kernel 'warmboot kexec --load-only' loaded); adopts
               the round warmboot reboot held, keeps the kernel it loaded, and leaves the jump
               to systemd. Any other shutdown it leaves alone (exit 0)
  --systemd-prepare
               warmboot-prepare.service's stop, before the applications stop: when the
               shutdown ends in kexec and 'warmboot reboot' did not start it (a plain
               'systemctl kexec'), runs the checkpoint round while they still run and leaves it
               held for --systemd. Any other shutdown it leaves alone (exit 0)
)";

namespace {

// The last step, after the report is saved and printed: returns only when it failed.
// The report went out before the jump (nothing runs after one); a jump that fails adds a
// second JSON document, the outcome (docs/cli.md).
int Reboot(KexecSystem& kexec, bool json) {
  std::cout.flush();
  std::fflush(stdout);
  Status s = ExecuteKexec(kexec);
  Status failed = IoError(
      "the image is sealed and the next kernel loaded, but the reboot failed: " + s.message() +
      ". 'warmboot kexec' retries; 'warmboot restore' takes the state back and returns the memory");
  if (json) {
    std::cout << DumpJson({{"ok", false}, {"exit_code", kExitPartial}, {"error", ToJson(failed)}},
                          2)
              << "\n";
  }
  std::cerr << "warmboot preserve: " << Printable(failed.message(), true) << "\n";
  return kExitPartial;
}

}  // namespace

// The service's stop: the services are down, systemd jumps once it returns.
static int PreserveForSystemd(const Config& config, const Machine& machine, PmemPlatform& platform,
                              bool json) {
  ShutdownOptions options;
  options.transition = TransitionOptionsFrom(config);
  if (config.drop_page_cache) options.transition.drop_page_cache = machine.drop_page_cache;
  options.transition.movable_use = machine.movable_use;
  options.kexec_system = machine.kexec;
  options.services = machine.services;
  DeferredSignals signals;
  options.interrupted = [&signals] { return signals.Take(); };
  const std::string socket = config.api_socket;
  std::vector<std::string> notes;
  options.adopt = [socket, &notes](uint64_t round) -> Result<CheckpointRound> {
    // busy: warmboot reboot's connection is still closing (the daemon has not seen it go).
    auto adopted =
        RetryWhileBusy([&] { return AdoptCheckpointRound(socket, round); }, std::chrono::seconds(5),
                       std::chrono::steady_clock::now,
                       [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); });
    if (adopted.ok() || adopted.status().code() != Code::kNotFound) return adopted;
    // Its hold ran out, or the daemon restarted: the applications have stopped, so a round now
    // names them all as starting cold.
    notes.push_back("the round held before the services stopped is gone (" +
                    adopted.status().message() + "): the applications start cold");
    return RunCheckpointRound(socket, 1000);
  };
  options.checkpoint = [socket](uint64_t deadline_ms) {
    return RunCheckpointRound(socket, deadline_ms);
  };
  ShutdownReport r = PreserveAtShutdown(platform, config, options, machine.this_boot());
  if (!r.acted) {
    if (json) {
      PrintJson({{"acted", false}, {"why_not", r.why_not}}, kExitOk);
    } else {
      std::cout << "warmboot preserve: " << r.why_not << "\n";
    }
    return kExitOk;
  }
  for (std::string& n : notes) r.preserve.notes.push_back(std::move(n));
  const PreserveReport& p = r.preserve;
  const int code = p.status.ok() ? kExitOk : p.image_sealed ? kExitPartial : ExitCodeFor(p.status);
  if (json) {
    nlohmann::json j = ToJson(p);
    j["acted"] = true;
    PrintJson(std::move(j), code);
    return code;
  }
  PrintPhases(p.phases);
  PrintNotes(p.notes);
  if (p.status.ok()) {
    std::cout << "state preserved: " << HumanBytes(p.pack->raw_bytes) << " sealed on "
              << p.device->name << "; systemd now jumps into the next kernel\n";
  } else {
    std::cerr << "warmboot preserve: " << Printable(p.status.message(), true) << "\n"
              << (p.image_sealed ? "  the image is sealed: the next boot restores it\n"
                                 : "  no image: the next boot starts cold and says why\n");
  }
  return code;
}

// The prepare unit's stop: the applications still run; systemd stops them once it returns.
static int PrepareForSystemd(const Config& config, const Machine& machine, bool json) {
  PrepareOptions options;
  options.services = machine.services;
  options.kexec_system = machine.kexec;
  options.checkpoint = [socket = config.api_socket](uint64_t deadline_ms, uint64_t hold_ms) {
    return RunCheckpointRound(socket, deadline_ms, hold_ms);
  };
  PrepareReport r = PrepareAtShutdown(config, options, machine.this_boot());
  if (json) {
    nlohmann::json j{{"acted", r.acted}};
    if (r.acted) {
      j["round"] = r.round;
      j["image"] = r.image;
      j["checkpoint"] = r.checkpoint;
    } else {
      j["why_not"] = r.why_not;
    }
    PrintJson(std::move(j), kExitOk);
    return kExitOk;
  }
  if (!r.acted) {
    std::cout << "warmboot preserve: " << Printable(r.why_not, true) << "\n";
    return kExitOk;
  }
  std::cout << "checkpoint round " << r.round << ": " << JsonInt(r.checkpoint, "ready")
            << " application(s) ready; held for warmboot-preserve.service, which seals image "
            << r.image << " once the applications have stopped\n";
  return kExitOk;
}

int CmdPreserve(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv,
                               {{"config", true},
                                {"dry-run", false},
                                {"no-kexec", false},
                                {"systemd", false},
                                {"systemd-prepare", false}},
                               "preserve", kPreserveHelp, json, &early);
  if (!args) return early;
  // Usage first (exit 2), whatever the configuration and the machine.
  const bool prepare = args->Has("systemd-prepare");
  if ((args->Has("systemd") || prepare) && (args->Has("dry-run") || args->Has("no-kexec"))) {
    return ReportError(UsageError(std::string(prepare ? "--systemd-prepare" : "--systemd") +
                                  " takes neither --dry-run nor --no-kexec"),
                       json, "preserve");
  }
  if (args->Has("systemd") && prepare) {
    return ReportError(UsageError("--systemd and --systemd-prepare are two units' stops: one"),
                       json, "preserve");
  }
  // Standalone, preserve reboots by itself (reboot(2)): under systemd that would skip the
  // services' ordered stop and the file systems' unmount. systemd takes the warm path instead.
  if (!args->Has("systemd") && !prepare && !args->Has("dry-run") && !args->Has("no-kexec") &&
      UnderSystemd(machine)) {
    return ReportError(
        InvalidArgument("PID 1 is systemd: a reboot from here would skip the services' ordered "
                        "stop. 'warmboot reboot' takes the warm path through systemd; 'warmboot "
                        "preserve --no-kexec' seals the state without rebooting; nothing changed"),
        json, "preserve");
  }
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "preserve");
  if (prepare) return PrepareForSystemd(*config, machine, json);
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "preserve");
  if (args->Has("systemd")) {
    return PreserveForSystemd(*config, machine, **platform, json);
  }
  PreserveOptions options;
  options.dry_run = args->Has("dry-run");
  options.transition = TransitionOptionsFrom(*config);
  if (config->drop_page_cache) options.transition.drop_page_cache = machine.drop_page_cache;
  options.transition.movable_use = machine.movable_use;
  options.kexec = !args->Has("no-kexec") && machine.can_kexec;
  options.kexec_system = machine.kexec;
  DeferredSignals signals;  // before any worker thread starts: they inherit the mask
  options.interrupted = [&signals] { return signals.Take(); };
  // The applications are asked only when the reboot is for real (a dry run does not alarm them).
  if (!options.dry_run) {
    options.checkpoint = [socket = config->api_socket](uint64_t deadline_ms) {
      return RunCheckpointRound(socket, deadline_ms);
    };
  }
  PreserveReport r = Preserve(**platform, *config, options);
  // Sealed but not kexec'd: partial.
  int code = r.status.ok() ? kExitOk : r.image_sealed ? kExitPartial : ExitCodeFor(r.status);
  if (json) {
    PrintJson(ToJson(r), code);
    return r.kexec_load ? Reboot(*machine.kexec, json) : code;
  }
  PrintPhases(r.phases);
  PrintNotes(r.notes);
  if (!r.status.ok()) {
    std::cerr << "warmboot preserve: " << Printable(r.status.message(), true) << "\n";
    const auto& phases = r.phases.phases();
    if (!phases.empty() && phases.back().name == "check kexec" && !phases.back().ok) {
      std::cerr << "  ('warmboot preserve --no-kexec' preserves without kexec)\n";
    }
    return code;
  }
  if (r.dry_run) {
    std::cout << "preserve would fit: " << HumanBytes(r.plan->worst_case_image_bytes) << " of "
              << HumanBytes(r.capacity) << " at most; nothing changed\n";
    if (r.kexec) {
      std::cout << "then kexec (" << KexecLoaderName(r.kexec->loader) << "):\n"
                << KexecPlanText(*r.kexec);
    }
  } else if (r.kexec_load) {
    std::cout << "state preserved: " << HumanBytes(r.pack->raw_bytes) << " sealed on "
              << r.device->name << " (image " << HumanBytes(r.pack->image_bytes) << ")\n"
              << "next kernel loaded (" << KexecLoaderName(r.kexec_load->loader) << "):\n"
              << KexecPlanText(*r.kexec) << "rebooting into it now; 'warmboot restore' runs "
              << "there early in boot\n";
    return Reboot(*machine.kexec, json);
  } else {
    std::cout
        << "state preserved: " << HumanBytes(r.pack->raw_bytes) << " sealed on " << r.device->name
        << " (image " << HumanBytes(r.pack->image_bytes) << ")\n"
        << "  next: 'warmboot kexec' reboots into the next kernel; 'warmboot restore' runs there "
           "early in boot\n";
  }
  return code;
}

}  // namespace warmboot::cli
