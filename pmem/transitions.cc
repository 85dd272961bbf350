#include "pmem/transitions.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "util/bytes.h"
#include "util/deferred_signals.h"

namespace warmboot {
namespace {

// Sleeps `d` between offline attempts, in slices, so a signal is acted on within 50 ms rather
// than after a pause that doubles with every attempt. Returns the signal, or 0.
int Pause(const TransitionOptions& o, std::chrono::milliseconds d) {
  if (o.sleep) {
    o.sleep(d);
    return o.interrupted ? o.interrupted() : 0;
  }
  constexpr std::chrono::milliseconds kSlice{50};
  const auto end = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (int sig = o.interrupted ? o.interrupted() : 0) return sig;
    const auto left = end - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return 0;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, kSlice));
  }
}

// Holds the auto-online policy at "offline" for its lifetime, then puts the old one back.
class PolicyHold {
 public:
  explicit PolicyHold(PmemPlatform& p) : p_(p) {}
  Status Hold() {
    WB_ASSIGN_OR_RETURN(saved_, p_.GetAutoOnlinePolicy());
    held_ = true;
    if (saved_ == "offline") return Status::Ok();
    return p_.SetAutoOnlinePolicy("offline");
  }
  Status Restore() {
    if (!held_ || saved_ == "offline") return Status::Ok();
    held_ = false;
    return p_.SetAutoOnlinePolicy(saved_);
  }
  ~PolicyHold() { (void)Restore(); }

 private:
  PmemPlatform& p_;
  std::string saved_;
  bool held_ = false;
};

// What the namespace is now, for a message: "namespace0.0 is devdax, its memory out of System
// RAM", "dax0.0 has 3 of 4 memory blocks online".
std::string DescribeNow(PmemPlatform& platform) {
  auto now = platform.Probe();
  if (!now.ok()) return "its state cannot be read (" + now.status().message() + ")";
  if (now->mode != PmemMode::kSystemRam) {
    return now->name + " is " + PmemModeName(now->mode) + ", its memory out of System RAM";
  }
  return now->dax_device + " has " + std::to_string(now->OnlineBlocks()) + " of " +
         std::to_string(now->blocks.size()) + " memory blocks online";
}

// True when the namespace is System RAM with every block online: the state before ToRaw.
bool AsBefore(PmemPlatform& platform) {
  auto now = platform.Probe();
  return now.ok() && now->mode == PmemMode::kSystemRam && !now->blocks.empty() &&
         now->OnlineBlocks() == now->blocks.size();
}

// Brings every block back online after a refused offline; says what happened, as the devices
// show it afterwards (never "nothing changed" unless that is so).
Status RollBack(PmemPlatform& platform, PolicyHold& hold, const Status& cause, PhaseLog* log) {
  auto t = log->Start("rollback: online all blocks");
  Status online = platform.OnlineMemory(true);
  Status policy = hold.Restore();
  const bool as_before = AsBefore(platform);
  t.Done(online.ok() && policy.ok() && as_before, online.ok() ? "" : online.message());
  if (!online.ok() || !as_before) {
    return Status(cause.code(), cause.message() + "; bringing the blocks back online failed (" +
                                    (online.ok() ? DescribeNow(platform) : online.message()) +
                                    "): run 'warmboot restore' to give the memory back");
  }
  if (!policy.ok()) {
    return Status(cause.code(), cause.message() +
                                    "; all blocks are back online, but the auto-online policy "
                                    "could not be put back (" +
                                    policy.message() + ")");
  }
  return Status(cause.code(), cause.message() + "; all blocks are back online, nothing changed");
}

// The online blocks that are not in ZONE_MOVABLE: the kernel may put its own allocations
// there, and then the next preserve cannot take them offline.
std::vector<MemoryBlockState> OutsideMovable(const PmemInfo& info) {
  std::vector<MemoryBlockState> wrong;
  for (const MemoryBlockState& b : info.blocks) {
    if (b.online && b.zone != "Movable") wrong.push_back(b);
  }
  return wrong;
}

// Offlines every block, retrying what is busy with a doubling pause, within the step's deadline
// (the pauses a test replaces count as time spent). Stops early when interrupted.
Status OfflineWithRetries(PmemPlatform& platform, const TransitionOptions& options, int* attempts) {
  const auto start = std::chrono::steady_clock::now();
  std::chrono::milliseconds paused{0};
  auto spent = [&] {
    auto real = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    return options.sleep ? real + paused : real;
  };
  Status s;
  auto pause = options.offline_backoff;
  for (*attempts = 1;; ++*attempts) {
    auto left = options.offline_timeout - spent();
    s = platform.OfflineMemory(options.offline_block_timeout,
                               std::max(left, std::chrono::milliseconds(1)));
    if (s.ok() || s.code() != Code::kBusy) return s;
    auto interrupted = [&](int sig) {
      return Status(Code::kInterrupted, std::string("interrupted by ") + SignalName(sig) +
                                            " while offlining, after " + std::to_string(*attempts) +
                                            " attempt(s) (the last: " + s.message() + ")");
    };
    if (int sig = options.interrupted ? options.interrupted() : 0) return interrupted(sig);
    if (*attempts >= options.offline_attempts) return s;
    if (spent() + pause >= options.offline_timeout) {
      return Status(Code::kBusy, "the offline step ran out of its " +
                                     std::to_string(options.offline_timeout.count()) + " ms (" +
                                     s.message() + ")");
    }
    if (int sig = Pause(options, pause)) return interrupted(sig);
    paused += pause;
    pause *= 2;
  }
}

// Offlines every block of a namespace in System RAM (the auto-online policy held by the
// caller) and checks them all offline; on a refusal every block comes back online.
Status OfflineAndCheck(PmemPlatform& platform, const TransitionOptions& options, PolicyHold& hold,
                       const PmemInfo& info, PhaseLog* log) {
  auto interrupted = [&](const char* when) -> Status {
    const int sig = options.interrupted ? options.interrupted() : 0;
    if (sig == 0) return Status::Ok();
    return RollBack(
        platform, hold,
        Status(Code::kInterrupted, std::string("interrupted by ") + SignalName(sig) + " " + when),
        log);
  };
  WB_RETURN_IF_ERROR(interrupted("before offlining"));
  // On its own node (an NVDIMM) the blocks' Movable zone is theirs alone; with memmap= they
  // share node 0, whose Movable zone is then the blocks' unless movablecore= made more.
  auto use = options.movable_use ? options.movable_use(info.target_node) : std::nullopt;
  if (options.drop_page_cache && info.OnlineBlocks() > 0) {
    auto drop = log->Start("drop clean page cache");
    if (use && use->file_bytes < kDropPageCacheFrom) {
      drop.Done(true, "kept: ZONE_MOVABLE holds " + HumanBytes(use->file_bytes) +
                          " of page cache, below " + HumanBytes(kDropPageCacheFrom));
    } else if (Status s = options.drop_page_cache(); !s.ok()) {
      drop.Done(false, s.message() + " (offlining copies it instead)");
    } else {
      auto after = use ? options.movable_use(info.target_node) : std::nullopt;
      drop.Done(true, after ? HumanBytes(use->file_bytes) + " of page cache in ZONE_MOVABLE, " +
                                  HumanBytes(after->file_bytes) + " after"
                            : "");
      if (after) use = after;
    }
  }
  auto offline = log->Start("offline memory blocks");
  const auto started = std::chrono::steady_clock::now();
  int attempt = 0;
  Status s = OfflineWithRetries(platform, options, &attempt);
  std::string migrated;
  // Only what this offline moved: blocks offline already (warmboot reboot's early offline)
  // migrate nothing now.
  if (s.ok() && use && info.OnlineBlocks() > 0) {
    const uint64_t in_use = use->in_use_bytes;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.2f GiB/s", secs > 0 ? in_use / secs / (1 << 30) : 0.0);
    migrated = ", " + HumanBytes(in_use) + " in use in ZONE_MOVABLE migrated (" + rate + ")";
  }
  offline.Done(s.ok(),
               std::to_string(attempt) + " attempt(s)" + (s.ok() ? migrated : ": " + s.message()));
  if (!s.ok()) {
    auto now = platform.Probe();
    std::string which = now.ok() ? BlockNames(now->blocks, true) : "";
    return RollBack(
        platform, hold,
        Status(s.code(), "cannot take " + info.dax_device + " out of System RAM: " +
                             (which.empty() ? s.message() : which + " stayed online") + " after " +
                             std::to_string(attempt) + " attempt(s) (" + s.message() + ")"),
        log);
  }
  // Trust but verify: unbinding kmem with a block online would leak it, and writing the raw
  // device over memory the kernel still uses would corrupt the kernel.
  auto check = log->Start("check all blocks offline");
  auto now = platform.Probe();
  if (!now.ok()) {
    check.Done(false, now.status().message());
    return RollBack(platform, hold, now.status(), log);
  }
  std::string still = BlockNames(now->blocks, true);
  check.Done(still.empty(), still);
  if (!still.empty()) {
    return RollBack(platform, hold,
                    Status(Code::kBusy, still + " of " + info.dax_device +
                                            " are online after offlining reported success"),
                    log);
  }
  return Status::Ok();
}

}  // namespace

Status ToRaw(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log) {
  PhaseLog scratch;
  if (log == nullptr) log = &scratch;
  auto probe = log->Start("probe");
  auto info = platform.Probe();
  probe.Done(info.ok(), info.ok() ? PmemModeName(info->mode) : info.status().message());
  if (!info.ok()) return info.status();
  if (info->mode == PmemMode::kRaw) return Status::Ok();
  if (info->mode == PmemMode::kDisabled) {
    return InvalidArgument(info->name +
                           " is disabled (a reconfiguration that failed half-way): run "
                           "'warmboot restore', which brings it back, then preserve again");
  }
  if (info->mode == PmemMode::kFsdax || info->mode == PmemMode::kUnknown) {
    return InvalidArgument(info->name + " is in " + PmemModeName(info->mode) +
                           " mode; warmboot manages a namespace in system-ram, devdax or raw mode");
  }

  if (info->mode == PmemMode::kSystemRam) {
    PolicyHold hold(platform);
    WB_RETURN_IF_ERROR(hold.Hold());
    WB_RETURN_IF_ERROR(OfflineAndCheck(platform, options, hold, *info, log));
    if (int sig = options.interrupted ? options.interrupted() : 0) {
      return RollBack(platform, hold,
                      Status(Code::kInterrupted, std::string("interrupted by ") + SignalName(sig) +
                                                     " before the unbind"),
                      log);
    }
    auto unbind = log->Start("unbind kmem (hot-remove)");
    Status s = platform.DisableDax();
    unbind.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok()) {
      auto now = platform.Probe();
      if (now.ok() && now->mode == PmemMode::kSystemRam) return RollBack(platform, hold, s, log);
      // The unbind took the memory away and still reported a failure: bind it again.
      (void)hold.Restore();
      Status back = ToSystemRam(platform, options, log);
      return Status(s.code(),
                    "unbinding kmem from " + info->dax_device + " failed (" + s.message() +
                        ") after it had removed the memory; " +
                        (back.ok() ? "the memory is back in System RAM (kmem bound again, every "
                                     "block online movable)"
                                   : "giving it back failed too (" + back.message() +
                                         "), so the memory is out of System RAM: run 'warmboot "
                                         "restore' to give it back"));
    }
    WB_RETURN_IF_ERROR(hold.Restore());
  }

  auto reconf = log->Start("namespace to raw");
  Status s = platform.ReconfigureNamespace(PmemMode::kRaw);
  reconf.Done(s.ok(), s.ok() ? "" : s.message());
  if (!s.ok()) {
    // Memory is already out of System RAM; put it back so the machine keeps its RAM (from a
    // namespace the failure left disabled, too).
    Status back = ToSystemRam(platform, options, log);
    return Status(s.code(), "cannot make " + info->name + " raw: " + s.message() +
                                (back.ok() ? "; its memory is back in System RAM"
                                           : "; giving its memory back also failed (" +
                                                 back.message() + "), so " + DescribeNow(platform) +
                                                 ": run 'warmboot restore' to give it back"));
  }
  return Status::Ok();
}

Status OfflineAll(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log) {
  PhaseLog scratch;
  if (log == nullptr) log = &scratch;
  WB_ASSIGN_OR_RETURN(PmemInfo info, platform.Probe());
  if (info.mode != PmemMode::kSystemRam) {
    return InvalidArgument(info.name + " is in " + PmemModeName(info.mode) +
                           " mode: no memory of its is System RAM to offline");
  }
  if (info.OnlineBlocks() == 0) return Status::Ok();
  PolicyHold hold(platform);
  WB_RETURN_IF_ERROR(hold.Hold());
  WB_RETURN_IF_ERROR(OfflineAndCheck(platform, options, hold, info, log));
  return hold.Restore();
}

Status ToSystemRam(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log) {
  PhaseLog scratch;
  if (log == nullptr) log = &scratch;
  WB_ASSIGN_OR_RETURN(PmemInfo info, platform.Probe());
  if (info.mode == PmemMode::kDisabled) {
    // A reconfiguration or rename that failed half-way took it down: bring it up raw first.
    auto t = log->Start("enable namespace (raw)");
    Status s = platform.EnableNamespace();
    t.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok()) return Status(s.code(), "cannot enable " + info.name + ": " + s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
  }
  if (info.mode == PmemMode::kRaw) {
    auto t = log->Start("namespace to devdax");
    Status s = platform.ReconfigureNamespace(PmemMode::kDevdax);
    t.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok()) return Status(s.code(), "cannot make " + info.name + " devdax: " + s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
  }
  // Kernels built to online hot-plugged memory (MEMORY_HOTPLUG_DEFAULT_ONLINE, ONLINE_AUTO), or
  // told to by auto_online_blocks, put kmem's blocks in a kernel zone the moment they appear.
  // The policy is held at "offline" across the bind so warmboot onlines them itself, movable.
  PolicyHold hold(platform);
  if (info.mode == PmemMode::kDevdax) {
    if (Status held = hold.Hold(); !held.ok()) {
      // Not fatal: the memory still goes back, and the zones are checked and repaired below.
      log->Start("hold auto-online policy").Done(false, held.message());
    }
    auto t = log->Start("bind kmem (hot-plug)");
    Status s = platform.EnableDax(PmemMode::kSystemRam);
    t.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok())
      return Status(s.code(), "cannot give " + info.dax_device + " to kmem: " + s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
  }
  if (info.mode != PmemMode::kSystemRam) {
    return InvalidArgument(info.name + " is in " + PmemModeName(info.mode) +
                           " mode; cannot make it System RAM");
  }
  if (!BlockNames(info.blocks, false).empty()) {
    auto t = log->Start("online memory blocks (movable)");
    Status s = platform.OnlineMemory(true);
    t.Done(s.ok(), s.ok() ? "" : s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
    // A zone complaint with every block online is repaired below; anything else is an error.
    if (!s.ok() && !BlockNames(info.blocks, false).empty()) {
      return Status(s.code(), "cannot online " + info.dax_device + ": " + s.message());
    }
  }
  WB_RETURN_IF_ERROR(hold.Restore());
  std::string offline = BlockNames(info.blocks, false);
  if (!offline.empty() || info.blocks.empty()) {
    return IoError(
        info.dax_device + ": " +
        (info.blocks.empty() ? "kmem added no memory blocks" : offline + " stayed offline"));
  }
  // Something onlined them first (a udev rule, the policy before warmboot held it, an agent):
  // freshly added blocks hold little, so they are moved to ZONE_MOVABLE while that is cheap.
  if (std::vector<MemoryBlockState> wrong = OutsideMovable(info); !wrong.empty()) {
    const std::string which = BlockNames(wrong, true) + " (zone " + wrong.front().zone + ")";
    auto t = log->Start("repair zones (offline, online movable)");
    int attempts = 0;
    Status s = OfflineWithRetries(platform, options, &attempts);
    if (s.ok()) s = platform.OnlineMemory(true);
    auto now = platform.Probe();
    if (s.ok() && now.ok() && OutsideMovable(*now).empty() &&
        BlockNames(now->blocks, false).empty()) {
      t.Done(true, which + " moved to Movable");
      return Status::Ok();
    }
    t.Done(false, s.ok() ? "still outside Movable" : s.message());
    if (now.ok() && !BlockNames(now->blocks, false).empty()) {
      (void)platform.OnlineMemory(true);  // never leave the memory offline for a zone's sake
    }
    return Status(Code::kBusy,
                  info.dax_device + ": " + which +
                      " were onlined outside ZONE_MOVABLE by someone else and could not be "
                      "moved (" +
                      (s.ok() ? std::string("still outside Movable") : s.message()) +
                      "). They are System RAM, but the kernel may pin them and the next preserve "
                      "then cannot take them offline: keep memory/auto_online_blocks at offline "
                      "(see 'warmboot status') and reboot to retry");
  }
  return Status::Ok();
}

}  // namespace warmboot
