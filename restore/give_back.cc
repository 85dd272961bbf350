#include "restore/give_back.h"

#include <algorithm>

#include "image/image.h"
#include "orchestration/machine_lock.h"
#include "orchestration/ownership_check.h"
#include "orchestration/report_store.h"
#include "pmem/pmem_json.h"
#include "restore/metrics_text.h"
#include "util/bytes.h"
#include "util/json_text.h"
#include "util/status_json.h"
#include "util/time_text.h"

namespace warmboot {

const char* GiveBackOutcomeName(GiveBackOutcome o) {
  switch (o) {
    case GiveBackOutcome::kGivenBack:
      return "given-back";
    case GiveBackOutcome::kNothingToDo:
      return "nothing-to-do";
    case GiveBackOutcome::kImageWaiting:
      return "image-waiting";
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

bool AllOnlineMovable(const PmemInfo& info) {
  return info.mode == PmemMode::kSystemRam && !info.blocks.empty() &&
         std::all_of(info.blocks.begin(), info.blocks.end(),
                     [](const MemoryBlockState& b) { return b.online && b.zone == "Movable"; });
}

void RunGiveBack(PmemPlatform& platform, const Config& config, const GiveBackOptions& options,
                 GiveBackReport& r) {
  auto fail = [&r](const Status& s) {
    r.status = s;
    r.outcome = GiveBackOutcome::kFailed;
    r.message = s.message();
  };
  auto probe = r.phases.Start("probe device");
  auto info = platform.Probe();
  probe.Done(info.ok(), info.ok() ? PmemModeName(info->mode) : info.status().message());
  if (!info.ok()) return fail(info.status());
  r.device = *info;
  if (Status owned = CheckOwned(platform, *info, config); !owned.ok()) return fail(owned);
  if (info->mode == PmemMode::kDisabled) {
    // Up raw first: an image on it is looked at before anything is reconfigured.
    auto up = r.phases.Start("enable namespace (raw)");
    Status s = platform.EnableNamespace();
    if (s.ok()) {
      info = platform.Probe();
      if (!info.ok()) s = info.status();
    }
    up.Done(s.ok(), s.ok() ? PmemModeName(info->mode) : s.message());
    if (!s.ok()) return fail(s.WithContext("cannot enable " + r.device->name));
    if (Status owned = CheckOwned(platform, *info, config); !owned.ok()) return fail(owned);
  }
  if (info->mode == PmemMode::kRaw) {
    auto look = r.phases.Start("find image");
    auto media = platform.OpenRawMedia(OpenMode::kReadOnly);
    if (!media.ok()) {
      look.Done(false, media.status().message());
      return fail(media.status().WithContext("cannot read " + info->name +
                                             " to check that no sealed image waits on it; nothing "
                                             "was changed"));
    }
    const bool magic = HasImageMagic(**media);
    auto inspect = magic ? InspectImage(**media, InspectDepth::kHeaderAndSeal)
                         : Result<InspectReport>(NotFound("no image"));
    if (inspect.ok() && inspect->state == ImageState::kSealed) {
      const format::Header& h = inspect->header;
      look.Done(true, "sealed, generation " + std::to_string(h.generation));
      r.outcome = GiveBackOutcome::kImageWaiting;
      r.message = "a sealed image (generation " + std::to_string(h.generation) + ", " +
                  HumanBytes(h.total_raw_bytes) + " of state) waits on " + (*media)->name() +
                  ": nothing was changed. 'warmboot restore' restores it and " +
                  "gives the memory back; 'warmboot status' says more";
      return;
    }
    look.Done(true, !magic         ? "none"
                    : inspect.ok() ? ImageStateName(inspect->state)
                                   : inspect.status().message());
  } else if (AllOnlineMovable(*info)) {
    r.outcome = GiveBackOutcome::kNothingToDo;
    r.message = "the pmem (" + info->name + ", " + HumanBytes(info->size) +
                ") is System RAM already, every block online: nothing to do";
    return;
  }
  Status s = ToSystemRam(platform, options.transition, &r.phases);
  if (!s.ok()) {
    return fail(s.WithContext("giving " + info->name + " back to System RAM failed"));
  }
  r.outcome = GiveBackOutcome::kGivenBack;
  r.message = "the pmem (" + info->name + ", " + HumanBytes(info->size) + ") is System RAM again";
}

// Into this boot's restore report, when that restore left the give-back for later.
void Record(const Config& config, const std::string& boot_id, GiveBackReport& r) {
  auto restore = LoadReport(config.report_dir, "restore");
  if (!restore.ok() || !restore->is_object() || JsonString(*restore, "boot_id") != boot_id ||
      !JsonBool(*restore, "give_back_deferred") || restore->contains("give_back")) {
    return;
  }
  // Only what the give-back did: one that found nothing to do or an image waiting changed
  // nothing, and a later run records then.
  if (r.outcome != GiveBackOutcome::kGivenBack && r.outcome != GiveBackOutcome::kFailed) return;
  nlohmann::json gb{{"ok", r.status.ok()},          {"outcome", GiveBackOutcomeName(r.outcome)},
                    {"message", r.message},         {"started_ns", r.started_ns},
                    {"finished_ns", r.finished_ns}, {"phases", r.phases.ToJson()}};
  if (!r.status.ok()) gb["error"] = ToJson(r.status);
  if (r.outcome == GiveBackOutcome::kFailed) {
    // A failure is kept for status, but the next run may still record its success.
    (*restore)["give_back_failed"] = gb;
  } else {
    (*restore)["give_back"] = gb;
    (*restore)["memory_returned"] = true;
    restore->erase("give_back_failed");
  }
  Status s = SaveReport(config.report_dir, "restore", *restore);
  if (!s.ok()) {
    r.notes.push_back("not recorded in this boot's restore report: " + s.message());
    return;
  }
  r.recorded = r.outcome == GiveBackOutcome::kGivenBack;
  // The metrics the boot's restore wrote said the memory was not back yet.
  if (const std::string path = MetricsPath(config); !path.empty()) {
    Status m = WriteMetricsFile(path, MetricsText(MetricsFactsFromFiles(config, boot_id)));
    if (!m.ok() && m.code() != Code::kNotFound) r.notes.push_back(m.message());
  }
}

}  // namespace

bool GiveBackLeftForLater(const Config& config, const std::string& boot_id, std::string* why_not) {
  auto restore = LoadReport(config.report_dir, "restore");
  if (!restore.ok() || !restore->is_object() || JsonString(*restore, "boot_id") != boot_id) {
    *why_not = "no restore report of this boot in " + config.report_dir;
  } else if (restore->contains("give_back")) {
    *why_not = "the give-back this boot's restore left for later is done";
  } else if (!JsonBool(*restore, "give_back_deferred")) {
    *why_not = "this boot's restore (" + JsonString(*restore, "outcome") + ") " +
               (JsonBool(*restore, "memory_returned") ? "gave the memory back itself"
                                                      : "left no give-back for later");
  } else {
    return true;
  }
  return false;
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
  RunGiveBack(platform, config, options, r);
  r.finished_ns = NowUnixNanos();
  const ThisBoot boot = options.boot ? *options.boot : ReadThisBoot();
  Record(config, UuidToString(boot.boot_id), r);
  return r;
}

}  // namespace warmboot
