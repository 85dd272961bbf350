#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/applications_ready.h"
#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/output.h"
#include "image/image.h"
#include "image/image_json.h"
#include "orchestration/ownership_check.h"
#include "orchestration/report_store.h"
#include "orchestration/this_boot.h"
#include "pmem/hotplug_warnings.h"
#include "pmem/pmem_json.h"
#include "restore/boot_record.h"
#include "restore/metrics_text.h"
#include "restore/timeline.h"
#include "util/bytes.h"
#include "util/host_info.h"
#include "util/json_text.h"
#include "util/printable.h"
#include "util/time_text.h"

namespace warmboot::cli {

static constexpr const char* kStatusHelp =
    R"(usage: warmboot status [--config F] [--prometheus FILE] [--json]

One screen: this boot's type as 'warmboot restore --boot' recorded it (warm, cold or failed-warm,
with why); the last warm reboot's blackout as warmboot sees it, from the hand-over to systemd to
the end of the restore, by stage (services stopping, preserve, shutdown and kexec, kernel boot,
restore; 'warmboot report' shows every phase and draws it); the pmem namespace (mode, memory
blocks online/total); what state is waiting (a sealed image on the namespace, the restored tree);
the last preserve and restore; warnings; and what to do next.

  --config F         configuration file (default /etc/warmboot/warmboot.conf)
  --prometheus FILE  also write the metrics as a Prometheus text file for node_exporter's
                     textfile collector (atomically: FILE.tmp, then rename). 'warmboot restore
                     --boot' writes the configuration's metrics_file at every boot.

Metrics (all gauges; docs/cli.md, "Metrics"): warmboot_boot_type{type}, warmboot_restore_outcome
{outcome}, warmboot_restore_success, warmboot_restore_seconds, warmboot_restore_phase_seconds
{phase}, warmboot_restored_bytes, warmboot_memory_returned, warmboot_give_back_seconds,
warmboot_preserve_success, warmboot_preserve_image_sealed,
warmboot_preserve_seconds, warmboot_preserve_phase_seconds{phase}, warmboot_preserved_bytes,
warmboot_preserved_image_bytes, warmboot_image_generation, warmboot_blackout_seconds,
warmboot_blackout_warmboot_seconds, warmboot_blackout_segment_seconds{owner,segment},
warmboot_blackout_kexec_error_seconds, warmboot_last_warm_reboot_timestamp_seconds,
warmboot_preserve_timestamp_seconds, warmboot_boot_recorded_timestamp_seconds,
warmboot_state_waiting.

Exit codes: 0 shown; 1 the namespace cannot be found, or --prometheus FILE cannot be written
(the status is still printed); 2 usage.
)";

namespace {

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

// One line per stage of the blackout; a stage of several phases names its three longest.
std::vector<std::string> StageLines(const Timeline& t) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < t.segments.size();) {
    const std::string stage = t.segments[i].stage;
    std::vector<const TimelineSegment*> group;
    double total = 0;
    bool ok = true;
    for (; i < t.segments.size() && t.segments[i].stage == stage; ++i) {
      group.push_back(&t.segments[i]);
      total += t.segments[i].seconds;
      ok = ok && t.segments[i].ok;
    }
    std::string name = group.size() == 1 ? group[0]->name : stage;
    char head[96];
    std::snprintf(head, sizeof head, "  %-20s %9.3f s  ", name.c_str(), total);
    std::string line = head;
    if (group.size() > 1) {
      std::vector<const TimelineSegment*> top = group;
      std::stable_sort(top.begin(), top.end(),
                       [](auto* a, auto* b) { return a->seconds > b->seconds; });
      line += "warmboot" + std::string(ok ? "" : ", FAILED") + ":";
      for (size_t k = 0; k < top.size() && k < 3; ++k) {
        const std::string& n = top[k]->name;
        line += (k ? ", " : " ") + n.substr(n.find(": ") + 2) + " " + Secs(top[k]->seconds);
      }
    } else if (stage == "kexec") {
      char err[64];
      std::snprintf(err, sizeof err, "measured by %s (within %.3f ms)", t.kexec_method.c_str(),
                    t.kexec_error_seconds * 1e3);
      line += err;
      if (t.realtime_error_seconds) {
        line += "; the RTC-set clock was off by " + Secs(*t.realtime_error_seconds);
      }
    } else if (stage == "kernel") {
      line += t.ran_in == "initramfs" ? "the kernel and the initramfs until the restore"
                                      : "the kernel and the system until the restore";
    } else if (stage == "applications") {
      line += group[0]->detail;
    } else {
      line += group[0]->warmboot ? "warmboot" : "systemd";
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

// ", and the last 'warmboot restore' run after it failed: WHY" when the restore report kept for
// this boot lists a later run (later_runs) that failed; else empty.
static std::string LaterRunFailed(const nlohmann::json& restore) {
  if (!restore.is_object() || !restore.contains("later_runs") ||
      !restore["later_runs"].is_array() || restore["later_runs"].empty()) {
    return "";
  }
  const nlohmann::json& last = restore["later_runs"].back();
  if (!last.is_object() || JsonBool(last, "ok", true)) return "";
  return ", and the last 'warmboot restore' run after it failed: " + JsonString(last, "error") +
         " (report_dir/restore-last.json)";
}

int CmdStatus(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"prometheus", true}}, "status",
                               kStatusHelp, json, &early);
  if (!args) return early;
  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "status");
  auto platform = machine.open_platform(*config);
  if (!platform.ok()) return ReportError(platform.status(), json, "status");
  auto info = (*platform)->Probe();
  if (!info.ok()) return ReportError(info.status(), json, "status");

  nlohmann::json out{{"device", ToJson(*info)}};
  auto policy = (*platform)->GetAutoOnlinePolicy();
  std::vector<std::string> warnings = HotplugWarnings(policy.ok() ? *policy : "");
  Status owned = CheckOwned(**platform, *info, *config);
  out["owned"] = owned.ok();
  if (!owned.ok()) warnings.insert(warnings.begin(), owned.message());
  out["warnings"] = warnings;
  std::string image_line = "no image (namespace not raw)";
  std::string waiting;  // what to do about a sealed image nobody restored yet
  if (info->mode == PmemMode::kDisabled) {
    image_line = "no image readable (namespace disabled)";
    waiting = info->name +
              " is disabled: a reconfiguration or rename failed half-way. 'warmboot restore' "
              "brings it back (restoring any image on it) and returns its memory to System RAM";
  }
  if (info->mode == PmemMode::kRaw) {
    auto media = (*platform)->OpenRawMedia(OpenMode::kReadOnly);
    // Read as restore and give-back read it (ReadImageOnDevice): unknown is not "none".
    Result<ImageOnDevice> device =
        media.ok() ? ReadImageOnDevice(**media) : Result<ImageOnDevice>(media.status());
    if (device.ok()) {
      const std::optional<InspectReport>& r = device->image;
      if (r) {
        out["image"] = {{"state", ImageStateName(r->state)},
                        {"generation", r->header.generation},
                        {"uuid", format::UuidToString(r->header.image_uuid)},
                        {"raw_bytes", r->header.total_raw_bytes},
                        {"image_bytes", r->header.image_end}};
        image_line = std::string(ImageStateName(r->state)) + " image, generation " +
                     std::to_string(r->header.generation) + ", " +
                     HumanBytes(r->header.total_raw_bytes) + " of state";
        if (r->state == ImageState::kSealed) {
          const ImageJudgement judged = JudgeImage(r->header, machine.this_boot());
          const bool stale = judged.intent == ImageIntent::kStale;
          out["image"]["stale"] = stale;
          out["image"]["why"] = judged.reason;
          waiting = std::string(stale ? "stale state is waiting (" + judged.reason + "; written " +
                                            HumanMoment(r->header.created_ns, NowUnixNanos()) +
                                            "), and the namespace's "
                                      : "state is waiting to be restored, and the namespace's ") +
                    HumanBytes(info->size) +
                    " are out of System RAM until it is: 'warmboot restore" +
                    (stale ? " --image " + format::UuidToString(r->header.image_uuid) : "") +
                    "' restores it and returns the memory; 'warmboot discard --yes' gives the "
                    "state up";
        }
        out["image"]["waiting"] = r->state == ImageState::kSealed;
      } else {
        const std::string why =
            device->written ? device->why_none : "nothing was ever written on " + info->name;
        out["image"] = {{"state", "none"}, {"reason", why}, {"waiting", false}};
        image_line = "no image: " + why;
      }
    } else {
      // Unknown is not "none": reporting no state waiting would invite a give-back that
      // destroys it, and silence the warmboot_state_waiting alert.
      const Status& s = device.status();
      out["image"] = {{"state", "unknown"}, {"error", ToJson(s)}, {"waiting", nullptr}};
      image_line = "image not readable: " + s.message();
      waiting = "whether state is waiting on " + info->name + " is unknown: its image could not " +
                "be read (" + s.message() +
                "). Run 'warmboot status' as root or fix the cause; 'warmboot discard --yes' "
                "gives up whatever is there";
    }
  }
  for (const char* name : {"preserve", "restore"}) {
    auto rep = LoadReport(config->report_dir, name);
    out[std::string("last_") + name] = rep.ok() ? *rep : nlohmann::json(nullptr);
  }
  // This boot's record only: a report_dir that outlives a boot must not speak for the next.
  auto boot = LoadReport(config->report_dir, "boot");
  const std::string boot_id = UuidToString(machine.this_boot().boot_id);
  out["boot"] = boot.ok() && boot->is_object() && boot->value("boot_id", "") == boot_id
                    ? *boot
                    : nlohmann::json(nullptr);

  // The last warm reboot: this boot's, with every phase, when this boot was warm; else the
  // history's last warm boot, in brief (its phases went with report_dir at the reboot).
  MetricsFacts facts = MetricsFactsFromFiles(*config, boot_id);
  if (facts.timeline) AddApplicationsFromSystemd(&*facts.timeline, machine);
  out["timeline"] = facts.timeline ? ToJson(*facts.timeline) : nlohmann::json(nullptr);
  out["last_warm_boot"] = facts.last_warm.is_object() ? facts.last_warm : nlohmann::json(nullptr);
  // Null when the image could not be read: waiting unknown.
  const nlohmann::json image_waiting =
      out.contains("image") ? out["image"]["waiting"] : nlohmann::json(false);
  const bool sealed_waiting = image_waiting.is_boolean() && image_waiting.get<bool>();

  // What state there is: a sealed image waiting, and the tree this boot's restore wrote.
  const nlohmann::json& restore = facts.restore;
  const std::string outcome = JsonString(restore, "outcome");
  std::error_code ec;
  const bool tree = std::filesystem::is_directory(config->restore_dir, ec) &&
                    !std::filesystem::is_empty(config->restore_dir, ec);
  out["state"] = {{"image_waiting", image_waiting},
                  {"restore_dir", config->restore_dir},
                  {"restored_tree", tree}};
  if ((outcome == "restored" || outcome == "partial") && restore.contains("unpack")) {
    out["state"]["restored_bytes"] =
        static_cast<uint64_t>(JsonInt(restore["unpack"], "bytes_written"));
    out["state"]["quarantined"] = outcome == "partial";
  }
  std::string state_line;
  if (image_waiting.is_null()) {
    state_line = "unknown: the image on " + info->name + " could not be read (see below)";
  } else if (sealed_waiting) {
    state_line = "a sealed image is waiting on " + info->name + " (see below)";
  } else if (tree) {
    state_line = "restored state in " + config->restore_dir;
    if (out["state"].contains("restored_bytes")) {
      state_line += " (" + HumanBytes(out["state"]["restored_bytes"].get<uint64_t>()) +
                    (outcome == "partial" ? ", damaged files in .quarantine" : "") + ")";
    }
    state_line += "; no image waiting";
  } else {
    state_line = "nothing restored in this boot, no image waiting";
  }

  // What to do next, the most pressing first.
  const nlohmann::json& b = out["boot"];
  const std::string type = JsonString(b, "type");
  std::string next;
  if (image_waiting.is_null()) {
    next = waiting;  // unreadable: not known to be foreign either
  } else if (!owned.ok()) {
    next =
        "the namespace is not warmboot's: name it in the configuration (namespace =) or leave "
        "it alone";
  } else if (!waiting.empty()) {
    next = waiting;
  } else if (info->mode == PmemMode::kSystemRam && info->OnlineBlocks() < info->blocks.size()) {
    // What a warm reboot that never happened leaves (warmboot reboot offlines early, and a
    // kexec job cancelled after systemd took it brings nothing back).
    next = BlockNames(info->blocks, false) + " of " + info->dax_device +
           " are offline: that memory is out of use. 'warmboot give-back' brings it back online";
  } else if (info->mode == PmemMode::kRaw || info->mode == PmemMode::kDevdax) {
    // No state waits on it (that case is above): its memory is out of use until given back.
    const bool deferred = JsonBool(restore, "give_back_deferred") && !restore.contains("give_back");
    next = "the pmem (" + info->name + ", " + HumanBytes(info->size) +
           ") is out of System RAM with no state waiting on it" +
           (deferred ? ": this boot's restore left it for warmboot-give-back.service, after "
                       "warmboot-state.target" +
                           std::string(restore.contains("give_back_failed")
                                           ? ", which failed: " +
                                                 JsonString(restore["give_back_failed"], "message")
                                           : "")
                     : "") +
           LaterRunFailed(restore) + ". 'warmboot give-back' returns it now";
  } else if (b.is_null()) {
    next =
        "'warmboot restore --boot' has not run in this boot: check warmboot-restore.service "
        "(systemctl status warmboot-restore.service)";
  } else if (type == "failed-warm") {
    next =
        "the state did not come back (the reason above): applications start cold; fix the "
        "cause before the next 'warmboot reboot --dry-run'";
  } else if (type == "warm") {
    next = "nothing: the state is back in " + config->restore_dir +
           "; 'warmboot report --svg FILE' draws the blackout";
  } else {
    next = "nothing; for a warm reboot: 'warmboot reboot --dry-run', then 'warmboot reboot'";
  }
  out["next"] = next;

  int code = kExitOk;
  if (auto path = args->Get("prometheus")) {
    MetricsFacts mf = facts;
    if (image_waiting.is_boolean()) mf.state_waiting = sealed_waiting;
    Status s = WriteMetricsFile(*path, MetricsText(mf));
    out["prometheus"] = {{"path", *path}, {"written", s.ok()}};
    if (!s.ok()) {
      out["prometheus"]["error"] = ToJson(s);
      if (!json) std::cerr << "warmboot status: " << s.message() << "\n";
      code = kExitError;
    }
  }
  if (json) {
    PrintJson(out, code);
    return code;
  }

  std::cout << "this boot: "
            << (b.is_null() ? "not recorded ('warmboot restore --boot' has not run in it)"
                            : Printable(type + " (" + JsonString(b, "reason") + ")"))
            << "\n";
  const int64_t now = NowUnixNanos();
  if (facts.timeline) {
    const Timeline& t = *facts.timeline;
    std::cout << "last warm reboot: this one, " << HumanMoment(t.start_ns, now) << ": blackout "
              << Secs(t.seconds) << ", warmboot's own " << Secs(t.warmboot_seconds) << " ("
              << static_cast<int>(t.seconds > 0 ? 100 * t.warmboot_seconds / t.seconds + 0.5 : 0)
              << " %)\n";
    for (const std::string& line : StageLines(t)) std::cout << Printable(line) << "\n";
    if (t.applications_ready) {
      std::cout << "  applications ready again " << Secs(*t.applications_ready)
                << " after the blackout began (systemd: their units active)\n";
    } else {
      std::cout << "  then warmboot-state.target; the applications' readiness is not measured "
                   "(no application unit ordered after it is active)\n";
    }
  } else if (facts.last_warm.is_object() && facts.last_warm.contains("blackout")) {
    const nlohmann::json& bo = facts.last_warm["blackout"];
    std::cout << "last warm reboot: " << HumanMoment(JsonInt(bo, "start_ns"), now) << ": blackout "
              << Secs(JsonNumber(bo, "seconds")) << ", warmboot's own "
              << Secs(JsonNumber(bo, "warmboot_seconds"))
              << " (its phases went with that boot's reports)\n";
  } else {
    std::cout << "last warm reboot: none on record in " << config->history_dir << "\n";
  }
  std::cout << "pmem: " << info->name << " (" << info->region << "): " << PmemModeName(info->mode)
            << ", " << HumanBytes(info->size);
  if (info->mode == PmemMode::kSystemRam) {
    std::cout << ", " << info->OnlineBlocks() << "/" << info->blocks.size()
              << " memory blocks online";
  }
  std::cout << "\n  " << image_line << "\n";
  std::cout << "state: " << Printable(state_line) << "\n";
  for (const char* name : {"preserve", "restore"}) {
    const nlohmann::json& rep = out[std::string("last_") + name];
    std::cout << "last " << name << ": ";
    if (rep.is_null()) {
      std::cout << "none in " << config->report_dir << "\n";
      continue;
    }
    const std::string o = rep.contains("outcome") && rep["outcome"].is_string()
                              ? rep["outcome"].get<std::string>()
                              : "";
    std::cout << (o == "stale-image"    ? "kept a stale image, restored nothing"
                  : JsonBool(rep, "ok") ? "ok"
                                        : "failed");
    if (!o.empty()) std::cout << " (" << o << ")";
    if (rep.contains("started_ns") && rep["started_ns"].is_number_integer()) {
      std::cout << ", " << HumanMoment(rep["started_ns"].get<int64_t>(), now);
    }
    if (rep.contains("error") && rep["error"].is_object()) {
      std::cout << ": " << Printable(JsonString(rep["error"], "message"));
    }
    std::cout << "\n";
  }
  for (const std::string& w : warnings) std::cout << "warning: " << Printable(w) << "\n";
  std::cout << "next: " << Printable(next) << "\n";
  if (out.contains("prometheus") && out["prometheus"]["written"].get<bool>()) {
    std::cout << "metrics written to " << Printable(out["prometheus"]["path"].get<std::string>())
              << "\n";
  }
  return code;
}

}  // namespace warmboot::cli
