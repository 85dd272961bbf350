// A warm reboot through the service manager (docs/systemd.md), in two halves.
//
// WarmReboot is `warmboot reboot`, run while the applications still run. It checks everything
// that can be checked: the namespace, the checkpoint round (the applications answer; their sets
// are then frozen), that their state and the state directory's fit the namespace, the next
// kernel and its command line. It loads that kernel, whose command line names the image to come,
// leaves the round held in warmbootd and the plan in report_dir, and asks systemd for a kexec.
// Where memory allows (config offline_early, offline_early_reserve) it also offlines the
// namespace's memory blocks first, so that the services' stop and the preserve after it do not
// wait for the migration: the blackout does not include it. Until systemd takes over nothing
// has changed but the loaded kernel and the offline blocks, which a refusal unloads and onlines
// again; with fallback_cold a refusal becomes an ordinary reboot, its cause kept in history_dir.
//
// PreserveAtShutdown is warmboot-preserve.service's stop, once the services have stopped: when
// the shutdown under way ends in kexec it adopts the held round and preserves (hot-remove,
// write, seal) with the image name and the kernel chosen before, and leaves the jump to systemd.
// Any other shutdown (poweroff, an ordinary reboot) it leaves alone.
//
// PrepareAtShutdown is warmboot-prepare.service's stop, which systemd runs before the
// applications' stops (the unit is ordered after the targets that start them): when the shutdown
// ends in kexec (or in a reboot warmboot makes one: RebootBecomesKexec) and warmboot reboot did
// not start it (a plain `systemctl kexec`; `shutdown -r` or `systemctl reboot` with the kernel
// warmboot loaded), it runs the checkpoint round
// while the applications still run, and leaves the round held and a plan naming the image for
// PreserveAtShutdown. Nothing can be refused there any more (systemd is taking the machine down):
// the preserve checks before its point of no return, as always.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "orchestration/service_manager.h"
#include "orchestration/this_boot.h"
#include "preserve/preserve.h"

namespace warmboot {

// What WarmReboot leaves for the preserve at shutdown (report_dir/pending-reboot.json; only the
// boot that wrote it acts on it).
struct PendingReboot {
  Uuid boot_id{};
  Uuid image{};
  uint64_t round = 0;  // 0: no round (warmbootd was not running)
  bool kexec_loaded = false;
  int64_t started_ns = 0;
  // When the machine was handed to systemd (just before StartKexec): the blackout's start.
  int64_t handed_over_ns = 0;
  // How long offlining the blocks took before that (0: it was not done early).
  double offline_early_seconds = 0;
};
Status SavePendingReboot(const Config& config, const PendingReboot& pending);
// This boot's, or nullopt.
Result<std::optional<PendingReboot>> LoadPendingReboot(const Config& config, const Uuid& boot_id);
void ClearPendingReboot(const Config& config);
// A warm reboot of this boot is under way: its plan is left and systemd still has the kexec job
// queued (or cannot say: then it is taken as under way). A plan whose job was cancelled is
// stale. `services` null: the real one.
bool RebootUnderWay(const Config& config, const Uuid& boot_id, ServiceManager* services);

// The kernel `warmboot kexec --load-only` loaded in this boot (report_dir/kexec-loaded.json).
// While it is loaded, `systemctl reboot` is a warm reboot too: systemd 255 and later make it a
// kexec by themselves; on older systemd (Debian 12's 252) the shutdown stays an ordinary reboot,
// the preserve seals the state all the same and leaves the jump marker (kRebootJumpDir), and
// warmboot's system-shutdown hook (systemd/system-shutdown/warmboot) jumps into the kernel.
Status SaveLoadedKernel(const Config& config, const Uuid& boot_id);
void ClearLoadedKernel(const Config& config);
// The shutdown under way is an ordinary reboot that warmboot makes a kexec: systemd has a start
// job for reboot.target, and the kernel warmboot loaded in this boot is still loaded.
// Not when the reboot carries an argument for the firmware (`reboot_param`, systemd's
// /run/systemd/reboot-param, exists).
bool RebootBecomesKexec(const Config& config, const Uuid& boot_id, ServiceManager* services,
                        KexecSystem* kexec_system, const std::string& reboot_param);
inline constexpr char kRebootParam[] = "/run/systemd/reboot-param";
// Where the preserve tells the system-shutdown hook to jump: DIR/kexec-at-reboot.json, naming
// the image. /run outlives every unmount of the shutdown.
inline constexpr char kRebootJumpDir[] = "/run/warmboot";
inline constexpr char kRebootJumpName[] = "kexec-at-reboot";

// How long warmbootd holds a round for the preserve at shutdown to adopt: a plan older than this
// has lost its round (a kexec job cancelled then, and the plan left behind).
inline constexpr uint64_t kRoundHoldMs = 600000;

struct RebootOptions {
  bool dry_run = false;                 // checks only: no round (the apps are not alarmed), no load
  bool fallback_cold = false;           // a refusal becomes an ordinary reboot
  uint64_t hold_ms = kRoundHoldMs;      // how long the round waits for the preserve at shutdown
  KexecSystem* kexec_system = nullptr;  // null: the real one
  ServiceManager* services = nullptr;   // null: the real one
  TransitionOptions transition;         // for the early offline and its rollback
  // The memory available now, in bytes (the early offline's check). Null: /proc/meminfo's.
  std::function<uint64_t()> mem_available;
  // The round, held for `hold_ms` after this process leaves (cli: RunCheckpointRound). kNotFound:
  // no daemon runs. Null: no round.
  std::function<Result<CheckpointRound>(uint64_t deadline_ms, uint64_t hold_ms)> checkpoint;
  // Ends round N once this process has let go of it (adopt, then end-round): systemd refused
  // the kexec after the round was left held. Null: the round's hold runs out by itself.
  std::function<void(uint64_t round)> end_held;
};

enum class RebootOutcome {
  kChecked,  // dry run: everything checked, nothing changed
  kWarm,     // systemd is taking the machine down into the next kernel
  kCold,     // refused; an ordinary reboot is under way (fallback_cold)
  kRefused,  // refused; nothing changed, no reboot
};
const char* RebootOutcomeName(RebootOutcome outcome);

struct RebootReport {
  Status status;  // why not warm: ok for kChecked and kWarm
  RebootOutcome outcome = RebootOutcome::kRefused;
  int64_t started_ns = 0;
  PreserveReport checks;  // the plan: probe, round, image plan, kexec check
  std::optional<KexecLoadReport> kexec_load;
  std::string image;  // the image's name on the next kernel's command line
  uint64_t round = 0;
  // The early offline: its steps when taken, else why not (both empty in a dry run).
  PhaseLog offline_early;
  std::string offline_early_why_not;
  std::vector<std::string> notes;
};

RebootReport WarmReboot(PmemPlatform& platform, const Config& config, const RebootOptions& options,
                        const ThisBoot& boot);
nlohmann::json ToJson(const RebootReport& report);

struct ShutdownOptions {
  std::string jump_dir = kRebootJumpDir;    // see kRebootJumpDir
  std::string reboot_param = kRebootParam;  // see RebootBecomesKexec
  TransitionOptions transition;
  KexecSystem* kexec_system = nullptr;
  ServiceManager* services = nullptr;
  std::function<int()> interrupted;
  // Adopts round N held by warmboot reboot (cli: RunCheckpointRound adopting it).
  std::function<Result<CheckpointRound>(uint64_t round)> adopt;
  // A round of its own, when warmboot reboot did not run one (plain `systemctl kexec`).
  std::function<Result<CheckpointRound>(uint64_t deadline_ms)> checkpoint;
};

struct ShutdownReport {
  bool acted = false;
  bool by_reboot = false;  // an ordinary reboot made a kexec (RebootBecomesKexec)
  std::string why_not;     // when it did not act
  std::optional<PendingReboot> pending;
  PreserveReport preserve;
};

struct PrepareOptions {
  std::string reboot_param = kRebootParam;  // see RebootBecomesKexec
  ServiceManager* services = nullptr;       // null: the real one
  KexecSystem* kexec_system = nullptr;      // null: the real one
  uint64_t hold_ms = kRoundHoldMs;          // how long the round waits for the preserve at shutdown
  // The round, held for `hold_ms` after this process leaves (cli: RunCheckpointRound). kNotFound:
  // no daemon runs.
  std::function<Result<CheckpointRound>(uint64_t deadline_ms, uint64_t hold_ms)> checkpoint;
};

struct PrepareReport {
  bool acted = false;   // the round ran, and is held with the plan left for the preserve
  std::string why_not;  // when it did not act
  uint64_t round = 0;
  std::string image;
  nlohmann::json checkpoint;  // the daemon's "checkpointed" reply
};

PrepareReport PrepareAtShutdown(const Config& config, const PrepareOptions& options,
                                const ThisBoot& boot);

ShutdownReport PreserveAtShutdown(PmemPlatform& platform, const Config& config,
                                  const ShutdownOptions& options, const ThisBoot& boot);

}  // namespace warmboot
