// The restore of a boot ('warmboot restore --boot'), as the initramfs and
// warmboot-restore.service run it: at most one restore per boot, then the boot recorded.
//
// Both may run in one boot: the initramfs-tools script before the root is mounted, the unit once
// it is (for machines whose initramfs lacks the hook, or where it could not run). The second run
// finds this boot's restore report in report_dir (the initramfs's /run is moved into the real
// root, and the report with it), says so and restores nothing, unless that restore failed (or
// its give-back did): then
// it tries again, as the real root may have what the initramfs lacked. Either way it records the
// boot type (boot_record.h) in report_dir/boot.json, and appends it to history_dir/boots.jsonl
// once per boot, when history_dir can be reached: never from the initramfs, where /var is not
// mounted and a file written would vanish with it. A warm boot's record carries its blackout
// (restore/timeline.h) in brief, so the history keeps it. Last, it writes the metrics file
// (restore/metrics_text.h) where the configuration and the machine allow; never failing for it.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orchestration/config.h"
#include "pmem/pmem.h"
#include "restore/boot_record.h"
#include "restore/restore.h"

namespace warmboot {

// True when / is an initramfs, where the real root is not mounted yet: an initrd that says so
// (/etc/initrd-release, systemd's rule: dracut's and mkosi's), or / a rootfs (ramfs or tmpfs)
// whose PID 1 is not systemd. initramfs-tools' PID 1 is its /init script; a diskless machine
// whose root is a tmpfs runs systemd there, and is the real root.
bool RunningInInitramfs();
// The same from what it reads: /etc/initrd-release, the root's statfs f_type, PID 1's comm.
bool LooksLikeInitramfs(bool initrd_release, int64_t root_fs_type, const std::string& pid1_comm);

struct BootRestoreOptions {
  // How to restore; its `boot` (unset: the running kernel's) is the boot being recorded, and
  // its `ran_in` says where this run is.
  RestoreOptions restore;
  // The root is not mounted yet: history_dir is not read nor written (the run in the real root
  // does both).
  bool in_initramfs = false;
  // Opens the namespace's platform, owned by the caller; called only when this run restores.
  std::function<Result<PmemPlatform*>()> open_platform;
};

struct BootRestoreResult {
  // This run restored (false: this boot's restore had already run, and succeeded or was kept).
  bool restored_now = false;
  // This run's error (the platform could not be opened, or the restore's own); ok when it did
  // not restore.
  Status status;
  std::optional<RestoreReport> report;  // this run's restore, when it ran one
  nlohmann::json restore;               // this boot's restore report (this run's or the earlier)
  std::string earlier_note;             // what this run found of an earlier run ("" = none)
  BootRecord record;
  nlohmann::json boot;  // report_dir/boot.json as written
  std::string history;  // what became of the history line, in words
  // What became of the metrics file (restore/metrics_text.h), in words: written, or why not.
  std::string metrics;
  std::string line;  // one line saying what happened, for the console and the journal
};

BootRestoreResult RestoreBoot(const Config& config, const BootRestoreOptions& options);

}  // namespace warmboot
