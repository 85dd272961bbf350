// The last warm reboot's blackout as warmboot can know it, computed from the restore report of
// the boot it led to (restore.h's ToJson, report_dir/restore.json), which carries the preserve
// report read back from the medium.
//
// The blackout begins when `warmboot reboot` handed the machine to systemd (the preserve
// report's handed_over_ns; a preserve without it, by hand or under a plain `systemctl kexec`,
// begins it at its own start) and ends when the restore ends, which is as far as warmboot sees:
// warmboot-state.target follows it (at once from warmboot-restore.service; after the root is
// mounted and systemd started when the initramfs restored), and applications' own readiness is
// theirs. Its segments, contiguous and in order:
//
//   services stopping    system    hand-over -> the preserve's start (systemd stopping units)
//   preserve: PHASE      warmboot  each preserve phase, one after another
//   shutdown and kexec   system    the preserve's last phase -> the new kernel's clock zero: the
//                                  rest of the shutdown, the jump, the kernel's earliest boot
//   kernel boot          system    clock zero -> the restore's start (initramfs or system)
//   restore: PHASE       warmboot  each restore phase
//   applications starting system   the restore's end -> the last application ready again
//                                  (AddApplicationsReady; only where systemd says)
//
// Moments before the jump are the old kernel's CLOCK_REALTIME; after it, the new kernel's
// CLOCK_BOOTTIME (zero at its boot). Only "shutdown and kexec" crosses, measured one of two ways:
//   tsc       (restore start TSC - the preserve's last TSC) / TSC rate - restore start boottime.
//             The TSC keeps counting through a kexec (no CPU reset); its rate is calibrated
//             against CLOCK_BOOTTIME over the restore (or the preserve), so no sleep is needed.
//   realtime  (restore start realtime - boottime) - the preserve's last realtime. After a kexec
//             the new kernel's realtime comes from the RTC, in whole seconds, until NTP steps it:
//             off by up to a second (more where the RTC drifted).
// tsc is used where both reports have it and it is plausible (the counter went forward, the gap
// is not negative and within kPlausibleSeconds of the realtime's); its disagreement with the
// realtime method is reported as what the RTC got wrong in this boot.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace warmboot {

struct TimelineSegment {
  std::string name;       // "services stopping", "preserve: write image", "kernel boot", ...
  std::string stage;      // "services", "preserve", "kexec", "kernel", "restore"
  bool warmboot = false;  // one of warmboot's own phases (else systemd's or the kernels')
  double start = 0;       // seconds from the blackout's start
  double seconds = 0;
  bool ok = true;
  std::string detail;
};

// An application back in the new boot: a unit ordered after warmboot-state.target, active since
// `boottime_seconds` on the new kernel's clock (systemd's ActiveEnterTimestampMonotonic: a
// Type=notify unit is active once it said READY=1, after taking its state back).
struct ApplicationReady {
  std::string unit;
  double boottime_seconds = 0;
};

struct Timeline {
  int64_t start_ns = 0;     // the blackout's start (the old kernel's realtime)
  std::string start_event;  // "handed-over" (to systemd) or "preserve-start"
  double seconds = 0;       // the blackout: start -> the restore's end
  double warmboot_seconds = 0;
  std::string kexec_method;  // "tsc" or "realtime"
  // How far "shutdown and kexec" may be off: the TSC calibration's bound, or 1 s for realtime.
  double kexec_error_seconds = 0;
  // With tsc: realtime's gap minus the TSC's, what the RTC-set clock got wrong in this boot.
  std::optional<double> realtime_error_seconds;
  std::string image;  // the preserved image's uuid
  uint64_t generation = 0;
  uint64_t preserved_bytes = 0;  // the state packed (file bytes)
  uint64_t restored_bytes = 0;   // the state restored (file bytes)
  std::string restore_outcome;   // "restored", "partial", ...
  std::string ran_in;            // where the restore ran: "initramfs" or "system"
  std::vector<TimelineSegment> segments;
  std::vector<std::string> notes;  // why a measure was not used, a clamp
  double kernel_zero = 0;          // the new kernel's clock zero, in seconds from the start
  // When the last application was ready again, in seconds from the start, and each one's
  // (AddApplicationsReady); unset: not measured.
  std::optional<double> applications_ready;
  std::vector<std::pair<std::string, double>> applications;
};

// A TSC gap further than this from the realtime's is not believed (a counter reset, a clock
// stepped): the RTC's own error is about a second.
inline constexpr double kPlausibleSeconds = 5.0;

// From a restore report. kNotFound when it is not a warm reboot's restore (no preserve report,
// or nothing restored); kUnsupported when the reports predate the clocks this needs.
Result<Timeline> TimelineFromRestore(const nlohmann::json& restore);

// Ends the timeline at the applications' readiness: the segment "applications starting" from
// the restore's end to the last of `ready`, and applications_ready. `waiting` names units not
// ready yet (a note each). The blackout itself (seconds, warmboot_seconds) stays the restore's.
void AddApplicationsReady(Timeline* timeline, const std::vector<ApplicationReady>& ready,
                          const std::vector<std::string>& waiting);

nlohmann::json ToJson(const Timeline& timeline);

}  // namespace warmboot
