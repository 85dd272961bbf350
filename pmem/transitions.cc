#include "pmem/transitions.h"

#include <thread>

namespace warmboot {
namespace {

void Pause(const TransitionOptions& o, std::chrono::milliseconds d) {
  if (o.sleep)
    o.sleep(d);
  else
    std::this_thread::sleep_for(d);
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

// Brings every block back online after a refused offline; says what happened.
Status RollBack(PmemPlatform& platform, PolicyHold& hold, const Status& cause, PhaseLog* log) {
  auto t = log->Start("rollback: online all blocks");
  Status online = platform.OnlineMemory(true);
  Status policy = hold.Restore();
  t.Done(online.ok() && policy.ok(), online.ok() ? "" : online.message());
  if (!online.ok()) {
    return Status(cause.code(), cause.message() +
                                    "; bringing the blocks back online also failed (" +
                                    online.message() + "): check 'daxctl list -M'");
  }
  return Status(cause.code(), cause.message() + "; all blocks are back online, nothing changed");
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
  if (info->mode == PmemMode::kFsdax || info->mode == PmemMode::kUnknown) {
    return InvalidArgument(info->name + " is in " + PmemModeName(info->mode) +
                           " mode; warmboot manages a namespace in system-ram, devdax or raw mode");
  }

  if (info->mode == PmemMode::kSystemRam) {
    PolicyHold hold(platform);
    WB_RETURN_IF_ERROR(hold.Hold());
    auto offline = log->Start("offline memory blocks");
    Status s;
    auto pause = options.offline_backoff;
    int attempt = 1;
    for (;; ++attempt) {
      s = platform.OfflineMemory();
      if (s.ok() || s.code() != Code::kBusy || attempt >= options.offline_attempts) break;
      Pause(options, pause);
      pause *= 2;
    }
    offline.Done(s.ok(),
                 std::to_string(attempt) + " attempt(s)" + (s.ok() ? "" : ": " + s.message()));
    if (!s.ok()) {
      auto now = platform.Probe();
      std::string which = now.ok() ? BlockNames(now->blocks, true) : "";
      return RollBack(
          platform, hold,
          Status(s.code(), "cannot take " + info->dax_device + " out of System RAM: " +
                               (which.empty() ? s.message() : which + " stayed online") +
                               " after " + std::to_string(attempt) + " attempt(s) (" + s.message() +
                               ")"),
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
                      Status(Code::kBusy, still + " of " + info->dax_device +
                                              " are online after offlining reported success"),
                      log);
    }
    auto unbind = log->Start("unbind kmem (hot-remove)");
    s = platform.DisableDax();
    unbind.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok()) return RollBack(platform, hold, s, log);
    WB_RETURN_IF_ERROR(hold.Restore());
  }

  auto reconf = log->Start("namespace to raw");
  Status s = platform.ReconfigureNamespace(PmemMode::kRaw);
  reconf.Done(s.ok(), s.ok() ? "" : s.message());
  if (!s.ok()) {
    // Memory is already out of System RAM; put it back so the machine keeps its RAM.
    Status back = ToSystemRam(platform, options, log);
    return Status(s.code(),
                  "cannot make " + info->name + " raw: " + s.message() +
                      (back.ok() ? "; its memory is back in System RAM"
                                 : "; giving its memory back also failed: " + back.message()));
  }
  return Status::Ok();
}

Status ToSystemRam(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log) {
  (void)options;
  PhaseLog scratch;
  if (log == nullptr) log = &scratch;
  WB_ASSIGN_OR_RETURN(PmemInfo info, platform.Probe());
  if (info.mode == PmemMode::kRaw || info.mode == PmemMode::kFsdax) {
    auto t = log->Start("namespace to devdax");
    Status s = platform.ReconfigureNamespace(PmemMode::kDevdax);
    t.Done(s.ok(), s.ok() ? "" : s.message());
    if (!s.ok()) return Status(s.code(), "cannot make " + info.name + " devdax: " + s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
  }
  if (info.mode == PmemMode::kDevdax) {
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
    if (!s.ok()) return Status(s.code(), "cannot online " + info.dax_device + ": " + s.message());
    WB_ASSIGN_OR_RETURN(info, platform.Probe());
  }
  std::string offline = BlockNames(info.blocks, false);
  if (!offline.empty() || info.blocks.empty()) {
    return IoError(
        info.dax_device + ": " +
        (info.blocks.empty() ? "kmem added no memory blocks" : offline + " stayed offline"));
  }
  return Status::Ok();
}

}  // namespace warmboot
