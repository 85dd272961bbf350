// give-back: the pmem back to System RAM once no state waits on it ('warmboot give-back',
// warmboot-give-back.service).
//
// The restore at boot leaves the namespace raw after restoring a state when the configuration
// asks (give_back_late): the reconfigurations and the hot-plug (devdax, kmem, every block
// online) then run after warmboot-state.target, while the applications start, not in the
// blackout before them. GiveBack finishes that, and anything else a transition left half-way
// (blocks offlined early by a warm reboot that never happened, a disabled namespace). A sealed
// image is never touched: its state waits for 'warmboot restore', and so does its memory.
//
// When this boot's restore deferred its give-back, the give-back is recorded in that restore's
// report (report_dir/restore.json: "give_back", and memory_returned), which 'warmboot status',
// the metrics and the timeline read.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orchestration/config.h"
#include "orchestration/this_boot.h"
#include "pmem/pmem.h"
#include "pmem/transitions.h"
#include "util/phase_log.h"

namespace warmboot {

enum class GiveBackOutcome {
  kGivenBack,     // the namespace's memory is System RAM again, every block online
  kNothingToDo,   // it was already
  kImageWaiting,  // a sealed image waits on the namespace: nothing was changed
  // warmboot reboot has begun a warm reboot (its plan is left for the shutdown): the memory it
  // may have taken out is the preserve's to write into; nothing was changed
  kRebootUnderWay,
  kFailed,  // an error stopped it (the message says which step)
};
const char* GiveBackOutcomeName(GiveBackOutcome outcome);

struct GiveBackOptions {
  TransitionOptions transition;
  // This boot (unset: the running kernel's): its restore report is the one the give-back is
  // recorded in.
  std::optional<ThisBoot> boot;
  // Whether a warm reboot of this boot is under way (preserve/reboot.h's plan). Asked once the
  // lock is held: a give-back that waited for warmboot reboot's lock must not hot-plug the
  // memory back while the machine goes down. Null: never.
  std::function<bool()> reboot_under_way;
};

struct GiveBackReport {
  Status status;  // ok unless it failed
  GiveBackOutcome outcome = GiveBackOutcome::kFailed;
  std::string message;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  PhaseLog phases;
  std::optional<PmemInfo> device;  // as found
  // This boot's restore had deferred its give-back, and this one is recorded in its report.
  bool recorded = false;
  std::vector<std::string> notes;
};

GiveBackReport GiveBack(PmemPlatform& platform, const Config& config,
                        const GiveBackOptions& options);

nlohmann::json ToJson(const GiveBackReport& report);

// Records `r` into this boot's restore report (and the boot's record and the metrics) when that
// restore left the give-back for later and none has done it yet; else does nothing. GiveBack
// calls it; so does a hand-run 'warmboot restore' that gave the memory back in its place.
void RecordGiveBack(const Config& config, const std::string& boot_id, GiveBackReport& r);

// Whether this boot's restore (report_dir/restore.json of `boot_id`) left the give-back for
// later and no give-back has done it yet. 'warmboot give-back --boot', as
// warmboot-give-back.service runs it, acts only then: on a cold boot, or where the restore
// failed (its own unit says so), it has nothing to add. *why_not says why not, when not.
bool GiveBackLeftForLater(const Config& config, const std::string& boot_id, std::string* why_not);

}  // namespace warmboot
