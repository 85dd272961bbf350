#include "restore/give_back.h"

#include "orchestration/machine_lock.h"
#include "orchestration/report_store.h"
#include "orchestration/return_memory.h"
#include "pmem/pmem_json.h"
#include "restore/metrics_text.h"
#include "restore/restore.h"
#include "util/json_text.h"
#include "util/status_json.h"

namespace warmboot {

const char* GiveBackOutcomeName(GiveBackOutcome o) {
  switch (o) {
    case GiveBackOutcome::kGivenBack:
      return "given-back";
    case GiveBackOutcome::kNothingToDo:
      return "nothing-to-do";
    case GiveBackOutcome::kImageWaiting:
      return "image-waiting";
    case GiveBackOutcome::kRebootUnderWay:
      return "reboot-under-way";
    case GiveBackOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

nlohmann::json ToJson(const GiveBackReport& r) {
  nlohmann::json j{{"ok", r.status.ok()},          {"outcome", GiveBackOutcomeName(r.outcome)},
                   {"message", r.message},         {"started_ns", r.started_ns},
                   {"finished_ns", r.finished_ns}, {"phases", r.phases.ToJson()},
                   {"recorded", r.recorded},       {"notes", r.notes}};
  if (!r.status.ok()) j["error"] = ToJson(r.status);
  if (r.device) j["device"] = ToJson(*r.device);
  return j;
}

namespace {

void RunGiveBack(PmemPlatform& platform, const Config& config, const GiveBackOptions& options,
                 GiveBackReport& r) {
  std::string what;
  PmemInfo found;
  auto done = ReturnMemory(platform, config, options.transition, &r.phases, &what, &found);
  if (!found.name.empty()) r.device = found;
  if (!done.ok()) {
    r.status = done.status();
    r.outcome = GiveBackOutcome::kFailed;
    r.message = done.status().message();
    return;
  }
  switch (*done) {
    case MemoryReturn::kReturned:
      r.outcome = GiveBackOutcome::kGivenBack;
      r.message = what;
      break;
    case MemoryReturn::kAlready:
      r.outcome = GiveBackOutcome::kNothingToDo;
      r.message = what + ": nothing to do";
      break;
    case MemoryReturn::kImageWaiting:
      r.outcome = GiveBackOutcome::kImageWaiting;
      r.message = what +
                  ": nothing was changed. 'warmboot restore' restores it and gives the memory "
                  "back; 'warmboot status' says more";
      break;
  }
}

// The state came back but the restore's own give-back failed: the give-back is owed as if it had
// been left for later.
bool GiveBackFailedInRestore(const nlohmann::json& restore) {
  const std::string outcome = JsonString(restore, "outcome");
  return (outcome == "restored" || outcome == "partial") && !JsonBool(restore, "memory_returned") &&
         !JsonBool(restore, "image_kept") && !JsonBool(restore, "give_back_deferred");
}

// GiveBackLeftForLater, over `restore` (ThisBootsRestore).
bool LeftForLater(const Config& config, const nlohmann::json& restore, std::string* why_not) {
  if (restore.is_null()) {
    *why_not = "no restore report of this boot in " + config.report_dir;
  } else if (restore.contains("give_back")) {
    *why_not = "the give-back this boot's restore left for later is done";
  } else if (!JsonBool(restore, "give_back_deferred") && !GiveBackFailedInRestore(restore)) {
    *why_not = "this boot's restore (" + JsonString(restore, "outcome") + ") " +
               (JsonBool(restore, "memory_returned") ? "gave the memory back itself"
                                                     : "left no give-back for later");
  } else {
    return true;
  }
  return false;
}

}  // namespace

void RecordGiveBack(const Config& config, const std::string& boot_id, GiveBackReport& r) {
  nlohmann::json restore = ThisBootsRestore(config, boot_id);
  std::string why_not;
  if (!LeftForLater(config, restore, &why_not)) return;
  // An image waiting changed nothing: a later run records. Nothing to do is recorded too: the
  // memory came back another way (discard, a preserve's rollback, a hand-run restore), and the
  // records must not say otherwise for the rest of the boot.
  if (r.outcome == GiveBackOutcome::kImageWaiting) return;
  nlohmann::json gb{{"ok", r.status.ok()},          {"outcome", GiveBackOutcomeName(r.outcome)},
                    {"message", r.message},         {"started_ns", r.started_ns},
                    {"finished_ns", r.finished_ns}, {"phases", r.phases.ToJson()}};
  if (!r.status.ok()) gb["error"] = ToJson(r.status);
  if (r.outcome == GiveBackOutcome::kFailed) {
    // A failure is kept for status, but the next run may still record its success.
    restore["give_back_failed"] = gb;
  } else {
    restore["give_back"] = gb;
    restore["memory_returned"] = true;
    restore.erase("give_back_failed");
  }
  Status s = SaveReport(config.report_dir, "restore", restore);
  if (!s.ok()) {
    r.notes.push_back("not recorded in this boot's restore report: " + s.message());
    return;
  }
  r.recorded = r.outcome != GiveBackOutcome::kFailed;
  if (!r.recorded) return;
  // The boot's record, as the restore left it, said the memory was not back yet. (The history
  // line, appended at the restore, keeps what it said then.)
  auto boot = LoadReport(config.report_dir, "boot");
  if (boot.ok() && boot->is_object() && JsonString(*boot, "boot_id") == boot_id &&
      boot->contains("restore") && (*boot)["restore"].is_object()) {
    (*boot)["restore"]["memory_returned"] = true;
    Status b = SaveReport(config.report_dir, "boot", *boot);
    if (!b.ok()) r.notes.push_back("the boot's record not updated: " + b.message());
  }
  // So did the metrics. No sealed image waits once the memory is back (a sealed one is never
  // given back), which the files alone do not say.
  if (const std::string path = MetricsPath(config); !path.empty()) {
    MetricsFacts facts = MetricsFactsFromFiles(config, boot_id);
    facts.state_waiting = false;
    Status m = WriteMetricsFile(path, MetricsText(facts));
    if (!m.ok() && m.code() != Code::kNotFound) r.notes.push_back(m.message());
  }
}

bool GiveBackLeftForLater(const Config& config, const std::string& boot_id, std::string* why_not) {
  return LeftForLater(config, ThisBootsRestore(config, boot_id), why_not);
}

GiveBackReport GiveBack(PmemPlatform& platform, const Config& config,
                        const GiveBackOptions& options) {
  GiveBackReport r;
  r.started_ns = NowUnixNanos();
  auto lock = MachineLock::Acquire(config.lock_file, "give-back",
                                   std::chrono::milliseconds(config.lock_wait_ms));
  if (!lock.ok()) {
    r.status = lock.status();
    r.message = lock.status().message();
    r.finished_ns = NowUnixNanos();
    return r;
  }
  if (options.reboot_under_way && options.reboot_under_way()) {
    r.outcome = GiveBackOutcome::kRebootUnderWay;
    r.message =
        "a warm reboot is under way (warmboot reboot left its plan for the shutdown): the memory "
        "stays for the preserve; nothing was changed";
    r.finished_ns = NowUnixNanos();
    return r;
  }
  RunGiveBack(platform, config, options, r);
  r.finished_ns = NowUnixNanos();
  const ThisBoot boot = options.boot ? *options.boot : ReadThisBoot();
  RecordGiveBack(config, UuidToString(boot.boot_id), r);
  return r;
}

}  // namespace warmboot
