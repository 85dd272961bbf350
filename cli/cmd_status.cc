#include <iostream>

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
#include "util/bytes.h"
#include "util/host_info.h"
#include "util/printable.h"
#include "util/time_text.h"

namespace warmboot::cli {

static constexpr const char* kStatusHelp =
    R"(usage: warmboot status [--config F] [--json]

Shows the pmem namespace (mode, memory blocks online/total, capacity), the image on it when it
is raw (sealed, consumed or unsealed; a sealed one is stale when this boot was not meant to
restore it), what to do about state that is waiting, the last preserve and restore reports, and
this boot's type as 'warmboot restore --boot' recorded it: warm, cold or failed-warm, with why.
)";

int CmdStatus(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(argv, {{"config", true}});
  if (!args.ok()) return ReportError(args.status(), json, "status");
  if (args->Has("help")) {
    std::cout << kStatusHelp;
    return kExitOk;
  }
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
    if (media.ok()) {
      auto r = InspectImage(**media);
      if (r.ok()) {
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
        out["image"] = {{"state", "none"}, {"reason", r.status().message()}};
        image_line = "no image: " + r.status().message();
      }
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
  if (json) {
    PrintJson(out, kExitOk);
    return kExitOk;
  }
  std::cout << info->name << " (" << info->region << "): " << PmemModeName(info->mode) << ", "
            << HumanBytes(info->size);
  if (info->mode == PmemMode::kSystemRam) {
    std::cout << ", " << info->OnlineBlocks() << "/" << info->blocks.size()
              << " memory blocks online";
  }
  std::cout << "\n  " << image_line << "\n";
  const nlohmann::json& b = out["boot"];
  std::cout << "  this boot: "
            << (b.is_null() ? "not recorded ('warmboot restore --boot' has not run in it)"
                            : Printable(b.value("type", "") + " (" + b.value("reason", "") + ")"))
            << "\n";
  if (!waiting.empty()) std::cout << "  " << waiting << "\n";
  for (const std::string& w : warnings) std::cout << "  warning: " << w << "\n";
  for (const char* name : {"preserve", "restore"}) {
    const nlohmann::json& rep = out[std::string("last_") + name];
    std::cout << "  last " << name << ": ";
    if (rep.is_null()) {
      std::cout << "none in " << config->report_dir << "\n";
    } else {
      const std::string outcome = rep.contains("outcome") && rep["outcome"].is_string()
                                      ? rep["outcome"].get<std::string>()
                                      : "";
      std::cout << (outcome == "stale-image" ? "kept a stale image, restored nothing"
                    : rep.value("ok", false) ? "ok"
                                             : "failed");
      if (rep.contains("outcome")) std::cout << " (" << rep["outcome"].get<std::string>() << ")";
      if (rep.contains("error")) std::cout << ": " << rep["error"].value("message", "");
      std::cout << "\n";
    }
  }
  return kExitOk;
}

}  // namespace warmboot::cli
