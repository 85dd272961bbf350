// preserve: the shutdown hook. Plans (device present and in a known mode, state fits), then
// passes the point of no return: memory out of System RAM, namespace raw, image written, flushed
// and sealed. A failure before the point of no return leaves the machine as it was; a failure
// after it leaves either a sealed image or none (and gives the memory back when it can).
// With `kexec`, the next kernel is checked in the plan and loaded once the image is sealed; the
// caller reboots into it (ExecuteKexec) after saving and printing the report.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "image/image.h"
#include "kexec/kexec.h"
#include "orchestration/config.h"
#include "orchestration/this_boot.h"
#include "pmem/pmem.h"
#include "pmem/transitions.h"
#include "util/clock_snapshot.h"
#include "util/phase_log.h"

namespace warmboot {

// The applications' part, when warmbootd runs (docs/api.md, "The checkpoint round"): the round's
// result and the ready apps' segments as image entries under .warmboot-api/UID/APP/SEGMENT,
// read from their descriptors. `keep` holds what must stay alive until the pack ends (the
// connection that holds the round, so the sets stay frozen, and the descriptors).
struct CheckpointRound {
  nlohmann::json result;               // the daemon's "checkpointed" reply
  bool complete = false;               // every app answered ready
  std::vector<std::string> not_ready;  // "db (uid 1000): declined: mid-compaction"
  std::vector<ExtraEntry> entries;
  std::shared_ptr<void> keep;
  // Ends a held round now, its sets thawed (a warm reboot refused before it began). Null: the
  // round ends when `keep` goes.
  std::function<void()> end;
};

struct PreserveOptions {
  bool dry_run = false;
  TransitionOptions transition;
  // Check the kexec plan before the point of no return and load the next kernel after the image
  // is sealed. Off unless asked for (the CLI asks unless --no-kexec).
  bool kexec = false;
  KexecSystem* kexec_system = nullptr;  // null: the real one
  // Asked between steps (the CLI: util/deferred_signals.h). A signal before the point of no
  // return rolls everything back; after it the image is completed and sealed, and preserve
  // stops there without loading the next kernel. Null: never asked.
  std::function<int()> interrupted;
  // Runs the checkpoint round with the given deadline; kNotFound when no daemon runs (then the
  // state directory alone is packed). Null: no round.
  std::function<Result<CheckpointRound>(uint64_t deadline_ms)> checkpoint;
  // The image's name, chosen earlier (warmboot reboot loads the next kernel, whose command line
  // names it, before the services stop). Unset: a new one.
  std::optional<Uuid> image_uuid;
  // The next kernel was loaded by warmboot reboot with this image's name: kept when the kernel
  // says one is loaded, loaded again when not.
  bool kexec_preloaded = false;
  // When warmboot reboot handed the machine to systemd (ns since the epoch; 0: it did not, e.g.
  // a plain 'warmboot preserve'): where the blackout begins, carried in the report to the next
  // boot (restore/timeline.h).
  int64_t handed_over_ns = 0;
  // How long warmboot reboot spent offlining the blocks before the services stopped (0: it did
  // not), for the report.
  double offline_early_seconds = 0;
  // This boot (unset: read from /proc), which decides whether a sealed image found on a raw
  // namespace is this boot's own (written over) or an earlier boot's (refused).
  std::optional<ThisBoot> boot;
};

struct PreserveReport {
  Status status;
  bool dry_run = false;
  bool memory_removed = false;  // the point of no return was passed
  bool image_sealed = false;
  // Refused because a sealed image of an earlier boot waits on the namespace, never restored.
  bool earlier_image_waits = false;
  int64_t started_ns = 0;
  int64_t handed_over_ns = 0;        // options.handed_over_ns
  double offline_early_seconds = 0;  // options.offline_early_seconds
  // The clocks at the start and just before the report is written onto the medium: the old
  // kernel's last moment the next boot can know (restore/timeline.h).
  ClockSnapshot clock_start;
  std::optional<ClockSnapshot> clock_last;
  PhaseLog phases;
  std::optional<PmemInfo> device;  // as found
  std::optional<PackPlanSummary> plan;
  uint64_t capacity = 0;
  std::optional<PackReport> pack;
  std::optional<KexecPlan> kexec;             // with options.kexec: the next kernel, checked
  std::optional<KexecLoadReport> kexec_load;  // loaded (status ok); the caller reboots into it
  std::vector<std::string> notes;
  nlohmann::json checkpoint;  // the round's result, when one ran
};

PreserveReport Preserve(PmemPlatform& platform, const Config& config,
                        const PreserveOptions& options);

nlohmann::json ToJson(const PreserveReport& report);

}  // namespace warmboot
