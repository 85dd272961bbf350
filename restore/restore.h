// restore: early in the next boot. Finds the raw namespace, restores a sealed image into a
// tmpfs (partial where damaged), consumes the seal, clears known media errors, and gives the
// memory back to System RAM. A sealed image is never given up by a failure: when its state
// cannot be restored (no room, a write error) the image stays sealed and the namespace raw
// until a later restore succeeds or the state is discarded on purpose (Discard).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "image/image.h"
#include "orchestration/config.h"
#include "orchestration/this_boot.h"
#include "pmem/pmem.h"
#include "pmem/transitions.h"
#include "util/clock_snapshot.h"
#include "util/phase_log.h"

namespace warmboot {

enum class RestoreOutcome {
  kRestored,          // everything restored
  kPartial,           // damaged segments quarantined, the rest restored
  kNothingToRestore,  // the namespace was not raw: no preserve happened
  kAlreadyRestored,   // the image was consumed by an earlier (interrupted) restore
  kNoValidImage,      // raw namespace without a sealed image (none, unsealed, damaged header)
  kStale,             // a sealed image this boot was not meant to restore: kept, not restored
  kFailed,            // an error stopped the restore
};
const char* RestoreOutcomeName(RestoreOutcome outcome);

struct RestoreOptions {
  TransitionOptions transition;
  // Mount a tmpfs on the restore directory when it is not one already.
  bool mount_tmpfs = true;
  // This boot (unset: the running kernel's): decides whether a sealed image is meant for it
  // (orchestration/this_boot.h).
  std::optional<ThisBoot> boot;
  // Restore the sealed image with this uuid even if this boot was not meant to ('warmboot
  // restore --image UUID'); a different sealed image is then refused. "" = none.
  std::string image;
  // Where this restore runs, for its report: "initramfs" (before the root is mounted) or
  // "system".
  std::string ran_in = "system";
  // Once a state is restored, leave the namespace raw and its memory out of System RAM for
  // GiveBack (restore/give_back.h) to return after the applications have started: the restore at
  // boot with give_back_late. Only when at least the configuration's give_back_late_reserve is
  // available after the restore; otherwise the memory goes back at once, as without it.
  bool give_back_late = false;
  // MemAvailable, for that decision. Null: the machine's (/proc/meminfo).
  std::function<uint64_t()> mem_available;
  // Reads the clocks at the restore's start and end (restore/timeline.h). Null: the machine's
  // (TakeClockSnapshot); a simulated machine gives its own boot's.
  std::function<ClockSnapshot()> clock;
};

struct RestoreReport {
  Status status;  // ok unless something failed outright
  RestoreOutcome outcome = RestoreOutcome::kFailed;
  std::string message;
  bool memory_returned = false;
  // The state was restored and the memory left for GiveBack (options.give_back_late): the
  // namespace is raw, its image consumed.
  bool give_back_deferred = false;
  // A sealed image was found but its state not (fully) restored: the image stays sealed and the
  // namespace raw, so running restore again after fixing the cause restores everything.
  bool image_kept = false;
  int64_t started_ns = 0;
  // The clocks when the restore began and ended: with the preserve report's, they place the
  // kexec and this kernel's boot on the reboot's timeline (restore/timeline.h).
  ClockSnapshot clock_start;
  std::optional<ClockSnapshot> clock_end;
  PhaseLog phases;
  std::optional<PmemInfo> device;
  std::optional<UnpackReport> unpack;
  std::vector<ByteRange> bad_ranges;
  nlohmann::json preserve_report;  // read back from the medium, when present
  // Where another image's tree, found in restore_dir, was moved before this one was restored
  // into it (restore_dir.h); "" = none was there.
  std::string earlier_tree;
  std::vector<std::string> notes;
  // The image this boot's command line names ("" = none: a cold boot, or a reboot not through
  // warmboot), and why the sealed image found was restored or kept: "named", "same-boot",
  // "requested" (--image), "policy" (stale_images = restore), "stale" ("" = no sealed image).
  std::string named_image;
  std::string image_intent;
  // The boot this restore ran in (its boot_id), and where: a later run in the same boot knows
  // this boot's restore already ran (boot_restore.h).
  std::string boot_id;
  std::string ran_in;
};

RestoreReport Restore(PmemPlatform& platform, const Config& config, const RestoreOptions& options);

// report_dir/restore.json when it is the restore report of boot `boot_id`, else null.
nlohmann::json ThisBootsRestore(const Config& config, const std::string& boot_id);

// Gives up a waiting state on purpose: consumes the sealed image without restoring it, then
// gives the memory back. What was discarded (generation, size) is said in *what.
Status Discard(PmemPlatform& platform, const Config& config, const RestoreOptions& options,
               PhaseLog* log, std::string* what);

nlohmann::json ToJson(const RestoreReport& report);

}  // namespace warmboot
