#include "preserve/reboot.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "orchestration/machine_lock.h"
#include "orchestration/report_store.h"
#include "orchestration/return_memory.h"
#include "pmem/ownership.h"
#include "pmem/transitions.h"
#include "util/bytes.h"
#include "util/deferred_signals.h"
#include "util/host_info.h"
#include "util/json_text.h"

namespace warmboot {
namespace {

// Its stop seals the state at the shutdown (systemd/warmboot-preserve.service).
constexpr char kPreserveUnit[] = "warmboot-preserve.service";

constexpr const char* kPendingName = "pending-reboot";
constexpr const char* kLoadedName = "kexec-loaded";

KexecSystem& Kexec(KexecSystem* sys) {
  return sys != nullptr ? *sys : RealKexecSystem();
}
ServiceManager& Services(ServiceManager* s) {
  return s != nullptr ? *s : RealServiceManager();
}

}  // namespace

Status SavePendingReboot(const Config& config, const PendingReboot& p) {
  return SaveReport(config.report_dir, kPendingName,
                    {{"boot_id", UuidToString(p.boot_id)},
                     {"image", UuidToString(p.image)},
                     {"round", p.round},
                     {"kexec_loaded", p.kexec_loaded},
                     {"started_ns", p.started_ns},
                     {"handed_over_ns", p.handed_over_ns},
                     {"offline_early_seconds", p.offline_early_seconds}});
}

Result<std::optional<PendingReboot>> LoadPendingReboot(const Config& config, const Uuid& boot_id) {
  auto j = LoadReport(config.report_dir, kPendingName);
  if (!j.ok() && j.status().code() == Code::kNotFound) return std::optional<PendingReboot>();
  if (!j.ok()) return j.status();
  const std::string where = config.report_dir + "/" + kPendingName + ".json";
  PendingReboot p;
  try {
    if (!ParseUuid(j->at("boot_id").get<std::string>(), &p.boot_id) ||
        !ParseUuid(j->at("image").get<std::string>(), &p.image)) {
      return Corruption(where + ": boot_id and image must be UUIDs");
    }
    p.round = j->at("round").get<uint64_t>();
    p.kexec_loaded = j->at("kexec_loaded").get<bool>();
    p.started_ns = j->at("started_ns").get<int64_t>();
    p.handed_over_ns = j->value("handed_over_ns", int64_t{0});  // absent before it was recorded
    p.offline_early_seconds = j->value("offline_early_seconds", 0.0);
  } catch (const nlohmann::json::exception& e) {
    return Corruption(where + ": " + e.what());
  }
  if (p.boot_id != boot_id) return std::optional<PendingReboot>();  // an earlier boot's
  return std::optional<PendingReboot>(p);
}

bool RebootUnderWay(const Config& config, const Uuid& boot_id, ServiceManager* services) {
  auto pending = LoadPendingReboot(config, boot_id);
  if (!pending.ok() || !pending->has_value()) return false;
  auto kexec = Services(services).KexecPending();
  return !kexec.ok() || *kexec;
}

Status SaveLoadedKernel(const Config& config, const Uuid& boot_id) {
  return SaveReport(config.report_dir, kLoadedName,
                    {{"boot_id", UuidToString(boot_id)}, {"at_ns", NowUnixNanos()}});
}

void ClearLoadedKernel(const Config& config) {
  ::unlink((config.report_dir + "/" + kLoadedName + ".json").c_str());
}

bool RebootBecomesKexec(const Config& config, const Uuid& boot_id, ServiceManager* services,
                        KexecSystem* kexec_system, const std::string& reboot_param) {
  auto reboot = Services(services).RebootPending();
  if (!reboot.ok() || !*reboot) return false;
  // `systemctl reboot ARG` (or `reboot ARG`) asks the firmware for something: honoured.
  if (!reboot_param.empty() && ::access(reboot_param.c_str(), F_OK) == 0) return false;
  auto marker = LoadReport(config.report_dir, kLoadedName);
  if (!marker.ok() || JsonString(*marker, "boot_id") != UuidToString(boot_id)) return false;
  auto loaded = KexecLoaded(Kexec(kexec_system));
  return loaded.ok() && *loaded;
}

void ClearPendingReboot(const Config& config) {
  ::unlink((config.report_dir + "/" + kPendingName + ".json").c_str());
}

namespace {

// Whether the blocks can go offline early: "" when they can (*online_bytes says how much), else
// why not. Offlining moves what they hold into the rest of memory, and while the services
// still run they need that memory: offline_early_reserve must stay available afterwards.
std::string WhyNotEarly(PmemPlatform& platform, const Config& config, const RebootOptions& options,
                        uint64_t* online_bytes, PmemInfo* found) {
  auto info = platform.Probe();
  if (!info.ok()) return "cannot read the namespace: " + info.status().message();
  *found = *info;
  if (info->mode != PmemMode::kSystemRam) {
    return info->name + " is in " + PmemModeName(info->mode) +
           " mode: none of its memory is System RAM";
  }
  if (info->OnlineBlocks() == 0) {
    return "every memory block of " + info->dax_device + " is offline already";
  }
  const uint64_t online = info->OnlineBlocks() * info->memory_block_size;
  *online_bytes = online;
  const uint64_t available = options.mem_available ? options.mem_available() : MemAvailableBytes();
  if (available == UINT64_MAX) {
    return "the memory available cannot be read (/proc/meminfo): the preserve at shutdown "
           "offlines the blocks";
  }
  if (available < online + config.offline_early_reserve) {
    return "the memory available (" + HumanBytes(available) + ") would fall below " +
           HumanBytes(config.offline_early_reserve) + " (offline_early_reserve) without the " +
           HumanBytes(online) + " online in " + info->dax_device +
           ": the preserve at shutdown offlines the blocks";
  }
  return "";
}

// Why the early step stops at the offline for this namespace (OwnedWhenRaw is false).
std::string NotHotRemovedEarly(const PmemInfo& info) {
  return "not hot-removed: " + info.name +
         " is warmboot's only by its dax info block, which going raw clears; the preserve at "
         "shutdown hot-removes it and writes the image in one go (name it in the configuration, "
         "namespace = " +
         info.name + ", to hot-remove it early too)";
}

// Takes the memory out early where WhyNotEarly allows: every block offlined, then kmem unbound
// and the namespace raw, so that the preserve at shutdown only writes. A refusal of the offline
// (pages that will not move yet) is no reason to stop: the blocks are back online and the
// preserve at shutdown offlines them, with the services stopped. Sets *attempted once blocks may
// have been offlined (then a refusal of the reboot gives the memory back, whatever the outcome
// here). Returns the time it took; 0 when not done (why_not says why), or an error when
// interrupted or when the hot-remove failed (the preserve at shutdown would meet the same
// failure, with the services stopped: the reboot is refused instead).
Result<double> OfflineEarly(PmemPlatform& platform, const Config& config,
                            const RebootOptions& options, RebootReport& r, bool* attempted) {
  uint64_t online = 0;
  PmemInfo info;
  r.offline_early_why_not = WhyNotEarly(platform, config, options, &online, &info);
  if (!r.offline_early_why_not.empty()) return 0.0;
  // Not the page cache: that helps only an offline inside the blackout, and the services still
  // running would read it back.
  TransitionOptions transition = options.transition;
  transition.drop_page_cache = nullptr;
  *attempted = true;
  const auto start = std::chrono::steady_clock::now();
  Status s = OfflineAll(platform, transition, &r.offline_early);
  if (s.code() == Code::kInterrupted) return s;
  if (!s.ok()) {
    r.offline_early_why_not = s.message() + "; the preserve at shutdown offlines them";
    return 0.0;
  }
  // Going raw clears the dax info block. Where that block is what marks the namespace as
  // warmboot's, nothing would own it until the image is written: the preserve at shutdown
  // does both in one go.
  if (!OwnedWhenRaw(info, !config.namespace_name.empty())) {
    r.notes.push_back("offlined early, " + NotHotRemovedEarly(info));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // Every block is offline: ToRaw goes on from there (checked offline, unbind, raw), and rolls
  // back on a signal before the unbind.
  s = ToRaw(platform, transition, &r.offline_early);
  if (s.code() == Code::kInterrupted) return s;
  if (!s.ok()) return s.WithContext("taking the memory out early failed");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Gives back what the early step took out (blocks offline, kmem unbound, the namespace raw), in
// whatever state it got to: orchestration/return_memory.h, which never touches a sealed image.
// Called only once the early step was attempted.
Status GiveBackEarly(PmemPlatform& platform, const Config& config,
                     const TransitionOptions& transition, PhaseLog* log,
                     std::vector<std::string>* notes) {
  std::string what;
  auto done = ReturnMemory(platform, config, transition, log, &what);
  if (!done.ok()) {
    notes->push_back("giving back the memory taken out early failed (" + done.status().message() +
                     "): run 'warmboot give-back'");
    return done.status();
  }
  if (*done == MemoryReturn::kReturned) {
    notes->push_back("the memory taken out early is back in System RAM");
  } else if (*done == MemoryReturn::kImageWaiting) {
    notes->push_back(what + ": left as it is");
  }
  return Status::Ok();
}

}  // namespace

const char* RebootOutcomeName(RebootOutcome o) {
  switch (o) {
    case RebootOutcome::kChecked:
      return "checked";
    case RebootOutcome::kWarm:
      return "warm";
    case RebootOutcome::kCold:
      return "cold";
    case RebootOutcome::kRefused:
      return "refused";
  }
  return "unknown";
}

RebootReport WarmReboot(PmemPlatform& platform, const Config& config, const RebootOptions& options,
                        const ThisBoot& boot) {
  RebootReport r;
  r.started_ns = NowUnixNanos();
  ServiceManager& services = Services(options.services);
  KexecSystem& kexec = Kexec(options.kexec_system);
  const Uuid image = RandomUuid();
  r.image = UuidToString(image);
  std::function<void()> end_round;  // while set, the round is ours to end
  bool loaded = false;
  bool offlined = false;  // the early offline may have taken blocks out: a refusal onlines them

  // Every refusal leaves the machine as it was: the round ended (the sets thaw), the kernel
  // unloaded. With fallback_cold it becomes an ordinary reboot, its cause kept for the next boot.
  // Not for every cause: a signal (Ctrl-C, a dropped session) asks to stop, not to reboot; a
  // held lock is a restore or discard at work, which the reboot would kill; a sealed image of an
  // earlier boot waits, which a cold reboot loses on memmap= pmem. Those are refused plainly.
  auto refuse = [&](Status why, bool cold_allowed = true) {
    if (end_round) end_round();
    end_round = nullptr;
    if (loaded) {
      Status s = UnloadKexec(kexec);
      ClearLoadedKernel(config);  // no kernel of warmboot's is loaded any more
      if (!s.ok()) r.notes.push_back("could not unload the next kernel: " + s.message());
    }
    Status back;
    if (offlined) back = GiveBackEarly(platform, config, options.transition, nullptr, &r.notes);
    r.status = back.ok() ? std::move(why)
                         : Status(why.code(), why.message() +
                                                  "; but the memory taken out early is NOT back "
                                                  "in System RAM (" +
                                                  back.message() + "): run 'warmboot give-back'");
    r.outcome = RebootOutcome::kRefused;
    if (!options.fallback_cold || options.dry_run) return;
    if (!cold_allowed || r.status.code() == Code::kInterrupted) {
      r.notes.push_back("no ordinary reboot either, although --fallback cold asked: " +
                        std::string(r.status.code() == Code::kInterrupted ? "a signal asked to stop"
                                    : r.checks.earlier_image_waits
                                        ? "a cold reboot would lose the state waiting on the pmem"
                                        : "another warmboot command holds the machine") +
                        "; the machine keeps running");
      return;
    }
    Status kept = SaveReport(config.history_dir, "reboot-cause",
                             {{"reboot", "cold"},
                              {"cause", r.status.message()},
                              {"code", CodeName(r.status.code())},
                              {"at_ns", NowUnixNanos()},
                              {"boot_id", UuidToString(boot.boot_id)}});
    if (!kept.ok()) r.notes.push_back("the cause was not kept: " + kept.message());
    // Cold means cold: a kernel 'warmboot kexec --load-only' left would make the units treat
    // this reboot as a warm one (RebootBecomesKexec).
    ClearLoadedKernel(config);
    Status s = services.StartReboot();
    if (s.ok()) {
      r.outcome = RebootOutcome::kCold;
    } else {
      r.notes.push_back("the ordinary reboot failed too: " + s.message());
    }
  };

  // One warm reboot at a time, and none while a preserve, restore or discard runs: two would
  // load kernels naming different images. Released when this returns, before the preserve at
  // shutdown takes it.
  std::optional<MachineLock> lock;
  if (!options.dry_run) {
    auto taken = MachineLock::Acquire(config.lock_file, "reboot",
                                      std::chrono::milliseconds(config.lock_wait_ms));
    if (!taken.ok()) {
      // Held by another command (busy) is no cause to reboot; a lock file that cannot be opened
      // is an ordinary refusal.
      refuse(taken.status(), taken.status().code() != Code::kBusy);
      return r;
    }
    lock.emplace(std::move(*taken));
  }
  if (!options.dry_run && !services.Present()) {
    refuse(InvalidArgument(
        "PID 1 is not systemd: 'warmboot preserve' preserves and reboots by itself"));
    return r;
  }
  // The state is sealed by warmboot-preserve.service's stop: stopped, disabled or masked, no
  // preserve would run, and the next boot would find nothing (checked in a dry run too).
  if (services.Present()) {
    auto state = services.UnitActiveState(kPreserveUnit);
    if (!state.ok() || *state != "active") {
      refuse(state.ok() ? InvalidArgument(std::string(kPreserveUnit) + " is " + *state +
                                          ": nothing would seal the state at the shutdown. "
                                          "'systemctl start " +
                                          kPreserveUnit +
                                          "' (enabled, it starts at boot; "
                                          "without persistent memory its conditions keep it "
                                          "inactive), then try again; nothing changed")
                        : state.status().WithContext("nothing changed"));
      return r;
    }
  }
  PreserveOptions checks;
  checks.dry_run = true;
  checks.kexec = true;
  checks.kexec_system = options.kexec_system;
  checks.image_uuid = image;
  if (!options.dry_run && options.checkpoint) {
    checks.checkpoint = [&](uint64_t deadline_ms) {
      auto got = options.checkpoint(deadline_ms, options.hold_ms);
      if (got.ok()) end_round = got->end;
      return got;
    };
  }
  r.checks = Preserve(platform, config, checks);
  // Null when no round ran (a dry run, or warmbootd not running).
  r.round = static_cast<uint64_t>(std::max<int64_t>(0, JsonInt(r.checks.checkpoint, "round")));
  if (!r.checks.status.ok()) {
    refuse(r.checks.status, !r.checks.earlier_image_waits);
    return r;
  }
  if (options.dry_run) {
    r.outcome = RebootOutcome::kChecked;
    if (config.offline_early) {
      uint64_t online = 0;
      PmemInfo info;
      const std::string why = WhyNotEarly(platform, config, options, &online, &info);
      if (!why.empty()) {
        r.notes.push_back("not offlined early: " + why);
      } else if (!OwnedWhenRaw(info, !config.namespace_name.empty())) {
        r.notes.push_back("the " + HumanBytes(online) +
                          " of memory blocks would be offlined before the services stop (off "
                          "the blackout), " +
                          NotHotRemovedEarly(info));
      } else {
        r.notes.push_back("the " + HumanBytes(online) +
                          " of memory blocks would be offlined and hot-removed before the "
                          "services stop (off the blackout)");
      }
    } else {
      r.notes.push_back(
          "not offlined early: offline_early = no: the preserve at shutdown offlines the blocks");
    }
    r.notes.push_back("dry run: checked only (the applications were not asked), nothing changed");
    return r;
  }
  // A signal that arrived during the checks (held back while blocks may be offlined) stops here.
  auto stopped = [&]() -> bool {
    const int sig = options.transition.interrupted ? options.transition.interrupted() : 0;
    if (sig != 0) {
      refuse(Status(Code::kInterrupted, std::string("interrupted by ") + SignalName(sig) +
                                            " before systemd took the machine; nothing changed"));
    }
    return sig != 0;
  };
  if (stopped()) return r;
  // The memory out now, while the services run: off the blackout.
  double offline_seconds = 0;
  if (config.offline_early) {
    auto early = OfflineEarly(platform, config, options, r, &offlined);
    if (!early.ok()) {
      refuse(early.status().WithContext("the warm reboot was stopped"));
      return r;
    }
    offline_seconds = *early;
  } else {
    r.offline_early_why_not = "offline_early = no: the preserve at shutdown offlines the blocks";
  }
  if (stopped()) return r;
  // Loaded now, off the blackout too, and after the hot-remove where there was one: the kernel
  // then cannot place the next kernel's segments in the pmem (kernels before 5.10 may place
  // them in kmem's System RAM; the image would be overwritten at the jump).
  auto load = LoadKexec(*r.checks.kexec, kexec);
  if (!load.ok()) {
    refuse(load.status().WithContext("cannot load the next kernel; nothing changed"));
    return r;
  }
  loaded = true;
  r.kexec_load = *load;
  if (stopped()) return r;
  // Stamped here, the last step before StartKexec (the save is one small fsync'd file): the
  // blackout the next boot reports begins when systemd is asked.
  PendingReboot pending{boot.boot_id, image,          r.round,        true,
                        r.started_ns, NowUnixNanos(), offline_seconds};
  if (Status s = SavePendingReboot(config, pending); !s.ok()) {
    refuse(s.WithContext("cannot leave the plan for the shutdown; nothing changed"));
    return r;
  }
  // This process lets go of the round before systemd starts stopping things: the preserve at
  // shutdown adopts it, and the daemon lets only one connection hold it.
  const bool had_round = static_cast<bool>(end_round);
  end_round = nullptr;
  if (Status s = services.StartKexec(); !s.ok()) {
    ClearPendingReboot(config);
    if (had_round && options.end_held) options.end_held(r.round);
    refuse(s.WithContext("systemd did not take the kexec; nothing changed"));
    return r;
  }
  r.outcome = RebootOutcome::kWarm;
  return r;
}

nlohmann::json ToJson(const RebootReport& r) {
  nlohmann::json j{{"outcome", RebootOutcomeName(r.outcome)},
                   {"started_ns", r.started_ns},
                   {"image", r.image},
                   {"round", r.round},
                   {"checks", ToJson(r.checks)},
                   {"notes", r.notes}};
  if (!r.status.ok()) {
    j["cause"] = r.status.message();
    j["code"] = CodeName(r.status.code());
  }
  if (r.kexec_load) j["kexec_load"] = ToJson(*r.kexec_load);
  if (!r.offline_early.phases().empty() || !r.offline_early_why_not.empty()) {
    j["offline_early"] = {
        {"phases", r.offline_early.ToJson()},
        {"why_not", r.offline_early_why_not.empty() ? nlohmann::json(nullptr)
                                                    : nlohmann::json(r.offline_early_why_not)}};
  }
  return j;
}

PrepareReport PrepareAtShutdown(const Config& config, const PrepareOptions& options,
                                const ThisBoot& boot) {
  PrepareReport r;
  auto pending = LoadPendingReboot(config, boot.boot_id);
  if (!pending.ok()) {
    // Not written over: the preserve at shutdown reads it and says what is wrong with it.
    r.why_not = "the reboot's plan cannot be read (" + pending.status().message() +
                "): no round now; the preserve at shutdown runs its own";
    return r;
  }
  // A plan older than a round's hold was left by a kexec job cancelled then: its round is gone,
  // and this shutdown gets a round and a plan of its own.
  const bool stale = pending->has_value() && NowUnixNanos() - (*pending)->handed_over_ns >
                                                 static_cast<int64_t>(options.hold_ms) * 1000000;
  if (pending->has_value() && !stale) {
    r.why_not = "the round for this shutdown ran already (warmboot reboot's, round " +
                std::to_string((*pending)->round) + ")";
    return r;
  }
  ServiceManager& services = Services(options.services);
  auto kexec = services.KexecPending();
  if (!kexec.ok()) {
    r.why_not = "cannot tell whether the shutdown ends in kexec (" + kexec.status().message() +
                "): no round; the preserve at shutdown decides";
    return r;
  }
  if (!*kexec && !RebootBecomesKexec(config, boot.boot_id, options.services, options.kexec_system,
                                     options.reboot_param)) {
    r.why_not = "the shutdown under way does not end in kexec: no round";
    return r;
  }
  if (!options.checkpoint) {
    r.why_not = "no checkpoint round to run";
    return r;
  }
  // Nothing would seal what the applications hand over: they are not asked (and not frozen).
  auto preserve_unit = services.UnitActiveState(kPreserveUnit);
  if (!preserve_unit.ok() || *preserve_unit != "active") {
    r.why_not = std::string(kPreserveUnit) + " is " +
                (preserve_unit.ok() ? *preserve_unit
                                    : "unknown (" + preserve_unit.status().message() + ")") +
                ": nothing would seal the state at this shutdown; no round";
    return r;
  }
  const int64_t started = NowUnixNanos();
  auto round = options.checkpoint(config.checkpoint_deadline_ms, options.hold_ms);
  if (!round.ok()) {
    r.why_not = round.status().code() == Code::kNotFound
                    ? "warmbootd is not running: no round (the preserve packs the state directory)"
                    : "the checkpoint round failed (" + round.status().message() +
                          "): the preserve at shutdown runs its own";
    return r;
  }
  r.checkpoint = round->result;
  r.round = static_cast<uint64_t>(std::max<int64_t>(0, JsonInt(round->result, "round")));
  const Uuid image = RandomUuid();
  r.image = UuidToString(image);
  // The kernel is not loaded here: the preserve loads it, its command line naming this image,
  // once the memory is out of System RAM. The blackout begins with the shutdown, here.
  PendingReboot plan{boot.boot_id, image, r.round, false, started, started, 0};
  if (Status s = SavePendingReboot(config, plan); !s.ok()) {
    // Without the plan the preserve would not adopt it: ended now, it runs its own round.
    if (round->end) round->end();
    r.why_not = "cannot leave the plan for the preserve (" + s.message() +
                "): the round is ended; the preserve at shutdown runs its own";
    return r;
  }
  r.acted = true;
  return r;
}

ShutdownReport PreserveAtShutdown(PmemPlatform& platform, const Config& config,
                                  const ShutdownOptions& options, const ThisBoot& boot) {
  ShutdownReport r;
  // Only this shutdown's preserve tells the hook to jump.
  const std::string jump = options.jump_dir + "/" + kRebootJumpName + ".json";
  ::unlink(jump.c_str());
  auto pending = LoadPendingReboot(config, boot.boot_id);
  if (pending.ok()) r.pending = *pending;
  auto kexec = Services(options.services).KexecPending();
  r.by_reboot = kexec.ok() && !*kexec &&
                RebootBecomesKexec(config, boot.boot_id, options.services, options.kexec_system,
                                   options.reboot_param);
  if (kexec.ok() && !*kexec && !r.by_reboot) {
    ClearPendingReboot(config);
    r.why_not = "the shutdown under way does not end in kexec: nothing to preserve" +
                std::string(r.pending ? " (the round held for it ends by itself)" : "");
    // Whatever comes next, memory warmboot reboot took out early is not left stranded.
    if (r.pending && r.pending->offline_early_seconds > 0) {
      std::vector<std::string> notes;
      // Under the lock, as every change to the namespace (a hand-run give-back may race it).
      auto lock = MachineLock::Acquire(config.lock_file, "preserve",
                                       std::chrono::milliseconds(config.lock_wait_ms));
      if (!lock.ok()) {
        notes.push_back("the memory taken out early was not given back: " +
                        lock.status().message() + "; run 'warmboot give-back'");
      } else {
        (void)GiveBackEarly(platform, config, options.transition, nullptr, &notes);
      }
      for (const std::string& n : notes) r.why_not += "; " + n;
    }
    return r;
  }
  if (!kexec.ok() && !r.pending) {
    r.why_not = "cannot tell whether the shutdown ends in kexec (" + kexec.status().message() +
                ") and warmboot reboot did not start it: nothing preserved";
    return r;
  }
  PreserveOptions po;
  po.transition = options.transition;
  po.kexec = true;
  po.kexec_system = options.kexec_system;
  po.interrupted = options.interrupted;
  if (r.pending) {
    po.image_uuid = r.pending->image;
    po.kexec_preloaded = r.pending->kexec_loaded;
    po.handed_over_ns = r.pending->handed_over_ns;
    po.offline_early_seconds = r.pending->offline_early_seconds;
    const uint64_t round = r.pending->round;
    if (round != 0 && options.adopt) {
      po.checkpoint = [&options, round](uint64_t) { return options.adopt(round); };
    } else if (round == 0) {
      po.checkpoint = nullptr;  // warmbootd did not run when the reboot began
    }
  } else {
    // A plain `systemctl kexec`: the applications have stopped; a round names them cold.
    po.checkpoint = options.checkpoint;
  }
  r.acted = true;
  r.preserve = Preserve(platform, config, po);
  if (!pending.ok()) r.preserve.notes.push_back("the reboot's plan: " + pending.status().message());
  ClearPendingReboot(config);
  // systemd reboots the ordinary way: warmboot's system-shutdown hook jumps instead, once
  // everything is unmounted, where the image is sealed and its kernel loaded.
  if (r.by_reboot && r.preserve.status.ok() && r.preserve.kexec_load) {
    Status s = SaveReport(options.jump_dir, kRebootJumpName,
                          {{"boot_id", UuidToString(boot.boot_id)},
                           {"image", UuidToString(r.preserve.pack->image_uuid)}});
    r.preserve.notes.push_back(
        s.ok() ? "systemd reboots the ordinary way (systemd before 255): warmboot's "
                 "system-shutdown hook jumps into the next kernel instead"
               : "the reboot goes through the firmware: cannot tell the system-shutdown hook to "
                 "jump (" +
                     s.message() + "); the next boot finds the image sealed, not named");
  }
  return r;
}

}  // namespace warmboot
