// What this boot was, for warm-reboot accounting: warm (the image this boot's command line names
// was restored), cold (no image named, none meant), or failed-warm (a warm reboot was meant and
// its state is not here), with the reason in words. The record is derived, never guessed at
// again later: from this boot's restore report (its JSON, as report_dir/restore.json holds it,
// whichever run wrote it: the initramfs or warmboot-restore.service) and, where /var can be
// read, the previous preserve's report (history_dir/last-preserve.json) and the last boot in the
// history. It is kept as report_dir/boot.json for this boot and appended once to
// history_dir/boots.jsonl.
//
// Why failed-warm needs the previous preserve: a warm reboot whose preserve failed, or whose
// image was sealed but whose kexec never happened, comes back with no image named, which alone
// looks like a cold boot. The preserve's report, written before the reboot, tells them apart.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace warmboot {

enum class BootType { kWarm, kCold, kFailedWarm };
const char* BootTypeName(BootType type);  // "warm", "cold", "failed-warm"

// What ClassifyBoot reads. Every JSON may be null (not there, or not readable yet: in the
// initramfs /var is not mounted).
struct BootFacts {
  std::string boot_id;           // this boot's (/proc/sys/kernel/random/boot_id)
  nlohmann::json restore;        // this boot's restore report (restore.h's ToJson)
  nlohmann::json last_preserve;  // history_dir/last-preserve.json ('warmboot preserve --json')
  nlohmann::json last_boot;      // the last record in history_dir/boots.jsonl (an earlier boot)
  // history_dir/reboot-cause.json: why 'warmboot reboot --fallback cold' rebooted cold
  // ({"reboot": "cold", "cause", "code", "at_ns", "boot_id"} of the boot that rebooted).
  nlohmann::json reboot_cause;
  bool history_readable = false;  // history_dir could be read (false in the initramfs)
};

struct BootRecord {
  BootType type = BootType::kCold;
  std::string reason;       // why, in words; never empty
  std::string named_image;  // the image this boot's command line names ("" = none)
  // Whether the previous preserve's report was taken into account: it decides only when it is
  // of the shutdown that led to this boot (names the image this boot names, or is newer than the
  // last recorded boot).
  bool used_last_preserve = false;
  // Whether the cause of a warm reboot refused and made cold (reboot-cause.json) is this boot's:
  // the boot that wrote it is the last one on record, or it is newer than that boot's record.
  bool used_reboot_cause = false;
};

// REQUIRES: facts.restore is a restore report (an object with "outcome"); a null one (no restore
// ran in this boot) gives a cold or failed-warm boot whose reason says so.
BootRecord ClassifyBoot(const BootFacts& facts);

// The record as report_dir/boot.json and each line of boots.jsonl hold it: boot_id, type,
// reason, named_image, recorded_ns, restore (outcome, ok, ran_in, started_ns, seconds, error),
// last_preserve (its started_ns, ok, image, error) when it was used.
nlohmann::json BootRecordJson(const BootRecord& record, const BootFacts& facts, int64_t now_ns);

// What dir/boots.jsonl says before this boot's line: the last record of another boot (null
// when none) and whether this boot is recorded already. kNotFound when there is no history yet.
// A line torn by a power cut is skipped.
struct HistoryTail {
  nlohmann::json previous;
  bool this_boot_recorded = false;
};
Result<HistoryTail> ReadHistoryTail(const std::string& dir, const std::string& boot_id);
// The last record of `type` ("warm", ...) in dir/boots.jsonl, or null when there is none;
// kNotFound when there is no history yet. The last warm reboot's blackout outlives the boot.
Result<nlohmann::json> LastBootOfType(const std::string& dir, const std::string& type);
// Appends `record` as one line to dir/boots.jsonl (creating dir and the file), and fsyncs it.
Status AppendHistory(const std::string& dir, const nlohmann::json& record);

}  // namespace warmboot
