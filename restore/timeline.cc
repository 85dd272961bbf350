#include "restore/timeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/clock_snapshot.h"
#include "util/json_text.h"

namespace warmboot {
namespace {

constexpr double kNs = 1e9;

// A calibration shorter than this is dominated by the reads' own jitter.
constexpr int64_t kMinCalibrationNs = 1000000;
// How long one ClockSnapshot takes to read, at most: the TSC may be this far from the others.
constexpr double kReadJitterSeconds = 2e-6;

uint64_t Uint(const nlohmann::json& j, const char* key, const char* sub) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return 0;
  auto s = it->find(sub);
  return s != it->end() && s->is_number_unsigned() ? s->get<uint64_t>() : 0;
}

// Appends one segment per phase from `at`, and returns where the last one ends.
double AddPhases(const nlohmann::json& phases, const std::string& stage, double at,
                 std::vector<TimelineSegment>* out) {
  if (!phases.is_array()) return at;
  for (const auto& p : phases) {
    if (!p.is_object()) continue;
    TimelineSegment s;
    s.name = stage + ": " + JsonString(p, "phase");
    s.stage = stage;
    s.warmboot = true;
    s.start = at;
    s.seconds = std::max(0.0, PhaseSeconds(p));
    s.ok = JsonBool(p, "ok", true);
    s.detail = JsonString(p, "detail");
    at += s.seconds;
    out->push_back(std::move(s));
  }
  return at;
}

bool Clock(const nlohmann::json& report, const char* which, ClockSnapshot* c) {
  auto it = report.find("clock");
  return it != report.end() && it->is_object() && it->contains(which) &&
         ClockFromJson((*it)[which], c);
}

// TSC ticks per second over one kernel's interval [a, b]; 0 when it cannot tell.
double TscRate(const ClockSnapshot& a, const ClockSnapshot& b, int64_t* span_ns) {
  *span_ns = b.boottime_ns - a.boottime_ns;
  if (a.tsc == 0 || b.tsc <= a.tsc || *span_ns < kMinCalibrationNs) return 0;
  return static_cast<double>(b.tsc - a.tsc) / (*span_ns / kNs);
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

}  // namespace

Result<Timeline> TimelineFromRestore(const nlohmann::json& restore) {
  if (!restore.is_object()) return NotFound("no restore report");
  const std::string outcome = JsonString(restore, "outcome");
  if (outcome != "restored" && outcome != "partial") {
    return NotFound("this boot's restore restored nothing (" +
                    (outcome.empty() ? std::string("no outcome") : outcome) +
                    "): no warm reboot to draw");
  }
  auto pr = restore.find("preserve_report");
  if (pr == restore.end() || !pr->is_object()) {
    return NotFound("the restored image carries no preserve report");
  }
  const nlohmann::json& preserve = *pr;
  ClockSnapshot p_start, p_last, r_start, r_end;
  const bool have_p_start = Clock(preserve, "start", &p_start);
  const bool have_p_last = Clock(preserve, "last", &p_last);
  if (!Clock(restore, "start", &r_start) || !have_p_last) {
    return Unsupported(
        "the reports predate the clocks a timeline needs (written by an older warmboot)");
  }
  const bool have_r_end = Clock(restore, "end", &r_end);

  Timeline t;
  if (preserve.contains("pack") && preserve["pack"].is_object()) {
    t.image = JsonString(preserve["pack"], "uuid");
  }
  t.generation = Uint(preserve, "pack", "generation");
  t.preserved_bytes = Uint(preserve, "pack", "raw_bytes");
  t.restored_bytes = Uint(restore, "unpack", "bytes_written");
  t.restore_outcome = outcome;
  t.ran_in = JsonString(restore, "ran_in");

  const int64_t preserve_start = JsonInt(preserve, "started_ns");
  const int64_t handed_over = JsonInt(preserve, "handed_over_ns");
  if (handed_over > 0 && handed_over <= preserve_start) {
    t.start_ns = handed_over;
    t.start_event = "handed-over";
    t.segments.push_back({"services stopping", "services", false, 0,
                          (preserve_start - handed_over) / kNs, true,
                          "systemd stops the applications, then warmboot-preserve.service"});
  } else {
    t.start_ns = preserve_start;
    t.start_event = "preserve-start";
    t.notes.push_back(
        "the preserve was not started by 'warmboot reboot': the blackout is "
        "counted from the preserve's start");
  }
  const double preserve_at = (preserve_start - t.start_ns) / kNs;
  const double preserve_end =
      AddPhases(preserve.contains("phases") ? preserve["phases"] : nlohmann::json(), "preserve",
                preserve_at, &t.segments);
  // The old kernel's last moment on the timeline, by its realtime clock.
  const double last = (p_last.realtime_ns - t.start_ns) / kNs;

  // The jump: from the old kernel's last moment to the new kernel's clock zero.
  const double gap_rt = ((r_start.realtime_ns - r_start.boottime_ns) - p_last.realtime_ns) / kNs;
  double gap = gap_rt;
  t.kexec_method = "realtime";
  t.kexec_error_seconds = 1.0;
  if (r_start.tsc != 0 && p_last.tsc != 0) {
    int64_t span_r = 0, span_p = 0;
    const double rate_r = have_r_end ? TscRate(r_start, r_end, &span_r) : 0;
    const double rate_p = have_p_start ? TscRate(p_start, p_last, &span_p) : 0;
    const double rate = span_r >= span_p && rate_r > 0 ? rate_r : rate_p > 0 ? rate_p : rate_r;
    const int64_t span = rate == rate_r ? span_r : span_p;
    if (rate <= 0) {
      t.notes.push_back(
          "the TSC's rate could not be calibrated (the restore and the preserve "
          "were too short): the jump is measured by the realtime clock");
    } else if (r_start.tsc <= p_last.tsc) {
      t.notes.push_back(
          "the TSC did not count on across the jump (it was reset): the jump is "
          "measured by the realtime clock");
    } else {
      const double elapsed = static_cast<double>(r_start.tsc - p_last.tsc) / rate;
      const double gap_tsc = elapsed - r_start.boottime_ns / kNs;
      if (gap_tsc < -0.01 || std::fabs(gap_tsc - gap_rt) > kPlausibleSeconds) {
        t.notes.push_back("the TSC says the jump took " + Seconds(gap_tsc) +
                          " and the realtime clock " + Seconds(gap_rt) +
                          ": too far apart to believe the TSC; the realtime clock is used");
      } else {
        gap = gap_tsc;
        t.kexec_method = "tsc";
        // The rate's error (both ends of its interval read within the jitter) over the time the
        // counter ran, plus the two reads across the jump.
        t.kexec_error_seconds =
            elapsed * (2 * kReadJitterSeconds) / (span / kNs) + 2 * kReadJitterSeconds;
        t.realtime_error_seconds = gap_rt - gap_tsc;
      }
    }
  }
  if (gap < 0) {
    t.notes.push_back("the realtime clock puts the new kernel's start " + Seconds(-gap) +
                      " before the old kernel's last moment (the RTC it was set from is whole "
                      "seconds): counted as 0");
    gap = 0;
  }
  const double kernel_zero = last + gap;
  t.kernel_zero = kernel_zero;
  TimelineSegment jump{"shutdown and kexec",
                       "kexec",
                       false,
                       preserve_end,
                       std::max(0.0, kernel_zero - preserve_end),
                       true,
                       "the rest of the shutdown, the jump into the next kernel (measured by " +
                           t.kexec_method + ")"};
  t.segments.push_back(jump);
  const double restore_at = kernel_zero + r_start.boottime_ns / kNs;
  t.segments.push_back({"kernel boot", "kernel", false, kernel_zero, r_start.boottime_ns / kNs,
                        true,
                        t.ran_in == "initramfs" ? "the kernel, then the initramfs until restore"
                                                : "the kernel and the system until restore"});
  const double phases_end =
      AddPhases(restore.contains("phases") ? restore["phases"] : nlohmann::json(), "restore",
                restore_at, &t.segments);
  // Steps between phases are not timed: the clocks at both ends say how long the restore was.
  const double restore_end =
      have_r_end
          ? std::max(phases_end, restore_at + (r_end.boottime_ns - r_start.boottime_ns) / kNs)
          : phases_end;
  t.seconds = restore_end;
  for (const TimelineSegment& s : t.segments) {
    if (s.warmboot) t.warmboot_seconds += s.seconds;
  }
  return t;
}

void AddApplicationsReady(Timeline* t, const std::vector<ApplicationReady>& ready,
                          const std::vector<std::string>& waiting) {
  for (const std::string& w : waiting) t->notes.push_back("not ready yet: " + w);
  if (ready.empty()) {
    t->notes.push_back(
        "no application unit ordered after warmboot-state.target is active: the "
        "applications' readiness is not measured");
    return;
  }
  double last = 0;
  std::string last_unit;
  t->applications.clear();
  for (const ApplicationReady& a : ready) {
    const double at = t->kernel_zero + a.boottime_seconds;
    t->applications.emplace_back(a.unit, at);
    if (last_unit.empty() || at > last) {
      last = at;
      last_unit = a.unit;
    }
  }
  t->applications_ready = last;
  if (last > t->seconds) {
    t->segments.push_back({"applications starting", "applications", false, t->seconds,
                           last - t->seconds, true,
                           "systemd starts the units after warmboot-state.target; the last "
                           "ready: " +
                               last_unit});
  }
}

nlohmann::json ToJson(const Timeline& t) {
  nlohmann::json segments = nlohmann::json::array();
  for (const TimelineSegment& s : t.segments) {
    nlohmann::json j{{"name", s.name},   {"stage", s.stage},     {"warmboot", s.warmboot},
                     {"start", s.start}, {"seconds", s.seconds}, {"ok", s.ok}};
    if (!s.detail.empty()) j["detail"] = s.detail;
    segments.push_back(std::move(j));
  }
  nlohmann::json j{{"start_ns", t.start_ns},
                   {"start_event", t.start_event},
                   {"seconds", t.seconds},
                   {"warmboot_seconds", t.warmboot_seconds},
                   {"kexec_method", t.kexec_method},
                   {"kexec_error_seconds", t.kexec_error_seconds},
                   {"image", t.image},
                   {"generation", t.generation},
                   {"preserved_bytes", t.preserved_bytes},
                   {"restored_bytes", t.restored_bytes},
                   {"restore_outcome", t.restore_outcome},
                   {"ran_in", t.ran_in},

                   {"segments", std::move(segments)},
                   {"notes", t.notes}};
  if (t.applications_ready) {
    nlohmann::json units = nlohmann::json::array();
    for (const auto& [unit, at] : t.applications)
      units.push_back({{"unit", unit}, {"seconds", at}});
    j["applications_ready"] = {{"seconds", *t.applications_ready}, {"units", std::move(units)}};
  } else {
    j["applications_ready"] = nullptr;
  }
  j["realtime_error_seconds"] = t.realtime_error_seconds ? nlohmann::json(*t.realtime_error_seconds)
                                                         : nlohmann::json(nullptr);
  return j;
}

}  // namespace warmboot
