#include "restore/boot_restore.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "orchestration/machine_lock.h"
#include "orchestration/report_store.h"
#include "restore/metrics_text.h"
#include "restore/timeline.h"
#include "util/host_info.h"
#include "util/json_text.h"

namespace warmboot {

bool LooksLikeInitramfs(bool initrd_release, int64_t root_fs_type, const std::string& pid1_comm) {
  if (initrd_release) return true;
  const bool rootfs = root_fs_type == RAMFS_MAGIC || root_fs_type == TMPFS_MAGIC;
  return rootfs && pid1_comm != "systemd";
}

bool RunningInInitramfs() {
  struct statfs fs;
  if (::statfs("/", &fs) != 0) return false;
  std::string comm;  // proc files have no size: read to the line's end
  std::ifstream in("/proc/1/comm");
  std::getline(in, comm);
  return LooksLikeInitramfs(::access("/etc/initrd-release", F_OK) == 0,
                            static_cast<int64_t>(fs.f_type), comm);
}

namespace {

// The report of a restore that never started: the platform could not be opened (no namespace,
// libndctl refused). Saved like any restore's, so the boot's record and 'warmboot status' see it.
nlohmann::json NoPlatformReport(const Status& s, const ThisBoot& boot, const std::string& ran_in) {
  RestoreReport r;
  r.status = s;
  r.message = s.message();
  r.started_ns = NowUnixNanos();
  r.named_image = NamedImage(boot);
  r.boot_id = UuidToString(boot.boot_id);
  r.ran_in = ran_in;
  return ToJson(r);
}

double RestoreSeconds(const nlohmann::json& restore) {
  double seconds = 0;
  if (restore.contains("phases") && restore["phases"].is_array()) {
    for (const auto& ph : restore["phases"]) seconds += PhaseSeconds(ph);
  }
  return seconds;
}

}  // namespace

BootRestoreResult RestoreBoot(const Config& config, const BootRestoreOptions& options) {
  BootRestoreResult res;
  RestoreOptions ro = options.restore;
  const ThisBoot boot = ro.boot ? *ro.boot : ReadThisBoot();
  ro.boot = boot;
  const std::string boot_id = UuidToString(boot.boot_id);

  const nlohmann::json earlier = ThisBootsRestore(config, boot_id);
  const bool earlier_here = !earlier.is_null();
  // Fields read with JsonString: a damaged report must not throw out of the boot's restore.
  const std::string ran_in =
      JsonString(earlier, "ran_in").empty() ? "system" : JsonString(earlier, "ran_in");
  // A run whose state came back but whose give-back failed (ok false, outcome not "failed") is
  // tried again too: nothing else would give the memory back in this boot.
  const bool earlier_failed =
      JsonString(earlier, "outcome") == "failed" || !JsonBool(earlier, "ok", true);
  if (earlier_here && !earlier_failed) {
    res.restore = earlier;
    res.earlier_note = "this boot's restore already ran (in the " + ran_in + ", " +
                       JsonString(earlier, "outcome") + "): nothing to do";
  } else {
    if (earlier_here) {
      // The real root may have what the initramfs lacked (a module, room): one more try.
      res.earlier_note = "this boot's restore in the " + ran_in + " failed (" +
                         JsonString(earlier, "message") + "); trying again";
    }
    res.restored_now = true;
    auto platform = options.open_platform();
    if (!platform.ok()) {
      res.status = platform.status();
      res.restore = NoPlatformReport(platform.status(), boot, ro.ran_in);
      Status s = SaveReport(config.report_dir, "restore", res.restore);
      (void)s;  // the boot record below still says what happened
    } else {
      res.report = Restore(**platform, config, ro);
      res.status = res.report->status;
      res.restore = ToJson(*res.report);
    }
  }

  // The boot's record and the metrics are written from this boot's restore report under the
  // machine lock, the report read again once it is held: a give-back (or a hand-run restore)
  // records into that report under the same lock, and what this run read before would undo it.
  // Restore took and let go of the lock itself; without it, the record is written all the same.
  auto lock = MachineLock::Acquire(config.lock_file, "restore --boot",
                                   std::chrono::milliseconds(config.lock_wait_ms));
  if (lock.ok()) {
    // The same report (this run's, when it restored: not an older one left by a failed save).
    // Or the boot's report this run kept, listing it in later_runs (it restored nothing: the
    // retry of a give-back that failed), which still says what came back.
    nlohmann::json now = ThisBootsRestore(config, boot_id);
    const int64_t started = JsonInt(res.restore, "started_ns");
    bool listed = false;
    if (auto it = now.is_object() ? now.find("later_runs") : now.end();
        it != now.end() && it->is_array()) {
      for (const nlohmann::json& l : *it) listed = listed || JsonInt(l, "started_ns") == started;
    }
    if (!now.is_null() && (!res.restored_now || JsonInt(now, "started_ns") == started || listed)) {
      res.restore = std::move(now);
    }
  }
  BootFacts facts;
  facts.boot_id = boot_id;
  facts.restore = res.restore;
  bool recorded = false;
  if (!options.in_initramfs) {
    facts.history_readable = true;
    auto preserve = LoadReport(config.history_dir, "last-preserve");
    if (preserve.ok()) facts.last_preserve = *preserve;
    auto cause = LoadReport(config.history_dir, "reboot-cause");
    if (cause.ok()) facts.reboot_cause = *cause;
    auto tail = ReadHistoryTail(config.history_dir, boot_id);
    if (tail.ok()) {
      facts.last_boot = tail->previous;
      recorded = tail->this_boot_recorded;
    }
  }
  res.record = ClassifyBoot(facts);
  res.boot = BootRecordJson(res.record, facts, NowUnixNanos());
  auto timeline = TimelineFromRestore(res.restore);
  if (timeline.ok()) {
    res.boot["blackout"] = {{"start_ns", timeline->start_ns},
                            {"start_event", timeline->start_event},
                            {"seconds", timeline->seconds},
                            {"warmboot_seconds", timeline->warmboot_seconds},
                            {"kexec_method", timeline->kexec_method}};
  }
  const std::string history_file = config.history_dir + "/boots.jsonl";
  if (options.in_initramfs) {
    res.history = "left to warmboot-restore.service (the root, and " + config.history_dir +
                  " with it, is not mounted yet)";
  } else if (recorded) {
    res.history = "already in " + history_file;
  } else {
    Status s = AppendHistory(config.history_dir, res.boot);
    res.history = s.ok() ? "appended to " + history_file : "not recorded: " + s.message();
  }
  res.boot["history"] = res.history;
  Status saved = SaveReport(config.report_dir, "boot", res.boot);
  if (!saved.ok()) res.history += "; " + saved.message();

  if (const std::string path = MetricsPath(config); path.empty()) {
    res.metrics = "not written (metrics_file = none)";
  } else {
    MetricsFacts mf;
    mf.boot = res.boot;
    mf.restore = res.restore;
    mf.preserve = LastPreserveReport(config);
    if (timeline.ok()) mf.timeline = *timeline;
    if (!options.in_initramfs) {
      auto warm = LastBootOfType(config.history_dir, "warm");
      if (warm.ok()) mf.last_warm = *warm;
    }
    mf.state_waiting =
        JsonBool(res.restore, "image_kept") || JsonString(res.restore, "outcome") == "stale-image";
    Status s = WriteMetricsFile(path, MetricsText(mf));
    res.metrics = s.ok() ? "written to " + path : s.message();
  }

  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", RestoreSeconds(res.restore));
  const std::string outcome = JsonString(res.restore, "outcome");
  const bool returned = JsonBool(res.restore, "memory_returned");
  res.line = std::string(BootTypeName(res.record.type)) + " boot: " + res.record.reason + "; " +
             (res.restored_now ? "restore " + outcome + " in " + secs + " s" +
                                     (returned ? ", the pmem is System RAM"
                                      : JsonBool(res.restore, "give_back_deferred")
                                          ? ", the pmem goes back to System RAM after "
                                            "warmboot-state.target"
                                          : "")
                               : res.earlier_note) +
             (res.restored_now && !res.earlier_note.empty() ? " (" + res.earlier_note + ")" : "") +
             "; history " + res.history;
  return res;
}

}  // namespace warmboot
