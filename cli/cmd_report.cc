#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/applications_ready.h"
#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/output.h"
#include "orchestration/report_store.h"
#include "restore/timeline.h"
#include "restore/timeline_svg.h"
#include "util/json_text.h"
#include "util/printable.h"
#include "util/read_file.h"
#include "util/time_text.h"

namespace warmboot::cli {

static constexpr const char* kReportHelp =
    R"(usage: warmboot report [--config F] [--from RESTORE_JSON] [--svg FILE] [--json]

The last warm reboot's timeline, as warmboot knows it: from the moment 'warmboot reboot' handed
the machine to systemd, through the services stopping, each preserve phase, the rest of the
shutdown and the kexec, the new kernel's boot, each restore phase, to the end of the restore
(then warmboot-state.target). One line per segment, with its start and duration; warmboot's own
phases are marked. It is read from this boot's restore report (report_dir/restore.json), which
carries the preserve's report from the image; --from reads a saved copy instead.

The jump between the kernels is measured by the CPU's time-stamp counter where it kept counting
through the kexec, else by the realtime clock, which after a kexec comes from the RTC in whole
seconds until NTP sets it (up to about a second off); the report says which, and how far off.
Then, where systemd can be asked (as root, without --from), the applications starting, to the
moment the last service ordered after warmboot-state.target became active (a Type=notify one:
when it said READY=1 after taking its state back); the blackout itself ends with the restore.

  --config F          configuration file (default /etc/warmboot/warmboot.conf)
  --from FILE         a restore report to draw (as 'warmboot restore --json' prints it, or a copy
                      of report_dir/restore.json)
  --svg FILE          also draw the timeline as an SVG picture into FILE: a time axis, one bar
                      per segment, warmboot's phases in blue, systemd's and the kernels' in grey

Exit codes: 0 shown (and drawn); 1 no warm reboot's timeline (this boot's restore restored
nothing, or its reports predate the clocks the timeline needs), or FILE cannot be written; 2
usage.
)";

int CmdReport(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv, {{"config", true}, {"from", true}, {"svg", true}}, "report",
                               kReportHelp, json, &early);
  if (!args) return early;
  nlohmann::json restore;
  if (auto from = args->Get("from")) {
    auto text = ReadRegularFile(*from, kMaxReportBytes);
    if (!text.ok()) return ReportError(text.status(), json, "report");
    restore = nlohmann::json::parse(*text, nullptr, false);
    if (restore.is_discarded()) {
      return ReportError(Corruption(*from + " is not valid JSON"), json, "report");
    }
  } else {
    auto config = ConfigFromArgs(*args);
    if (!config.ok()) return ReportError(config.status(), json, "report");
    auto loaded = LoadReport(config->report_dir, "restore");
    if (!loaded.ok()) return ReportError(loaded.status(), json, "report");
    restore = *loaded;
  }
  auto timeline = TimelineFromRestore(restore);
  if (!timeline.ok()) return ReportError(timeline.status(), json, "report");
  // This boot's own report: its applications, as systemd started them (not a saved copy's).
  if (!args->Has("from") &&
      JsonString(restore, "boot_id") == UuidToString(machine.this_boot().boot_id)) {
    AddApplicationsFromSystemd(&*timeline, machine);
  }
  const Timeline& t = *timeline;

  nlohmann::json out = ToJson(t);
  if (auto svg = args->Get("svg")) {
    const std::string tmp = *svg + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    f << TimelineSvg(t);
    f.close();
    if (!f || std::rename(tmp.c_str(), svg->c_str()) != 0) {
      std::remove(tmp.c_str());
      return ReportError(IoError("cannot write " + *svg), json, "report");
    }
    out["svg"] = *svg;
  }
  if (json) {
    PrintJson(out, kExitOk);
    return kExitOk;
  }
  std::printf("warm reboot of %s: blackout %.3f s, warmboot's own phases %.3f s (%.0f %%)\n",
              HumanMoment(t.start_ns, t.start_ns).substr(0, 20).c_str(), t.seconds,
              t.warmboot_seconds, t.seconds > 0 ? 100 * t.warmboot_seconds / t.seconds : 0.0);
  std::printf("  %9s %9s\n", "start", "seconds");
  bool restore_end = false;
  auto end_of_restore = [&] {
    if (!restore_end) {
      std::printf("  %9.3f            end of the restore; warmboot-state.target follows\n",
                  t.seconds);
    }
    restore_end = true;
  };
  for (const TimelineSegment& s : t.segments) {
    if (s.stage == "applications") end_of_restore();
    std::printf("  %9.3f %9.3f  %s %s%s\n", s.start, s.seconds, s.warmboot ? "*" : " ",
                Printable(s.name).c_str(), s.ok ? "" : "  FAILED");
  }
  end_of_restore();
  if (t.applications_ready) {
    std::printf("  %9.3f            applications ready again (their units active in systemd)\n",
                *t.applications_ready);
  }
  std::printf("  (* warmboot's own phases; the kexec measured by %s, within %.3g s",
              t.kexec_method.c_str(), t.kexec_error_seconds);
  if (t.realtime_error_seconds) {
    std::printf("; the RTC-set realtime clock was off by %.3f s", *t.realtime_error_seconds);
  }
  std::printf(")\n");
  for (const std::string& n : t.notes) std::cout << "  note: " << Printable(n) << "\n";
  if (out.contains("svg"))
    std::cout << "  drawn in " << Printable(out["svg"].get<std::string>()) << "\n";
  return kExitOk;
}

}  // namespace warmboot::cli
