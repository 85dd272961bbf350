// The clocks read together at one moment, so that a timeline can cross a kexec. The old kernel's
// CLOCK_REALTIME (NTP-disciplined) dates its moments; the new kernel's CLOCK_BOOTTIME starts at
// zero when it boots, and its CLOCK_REALTIME comes from the RTC (whole seconds) until NTP steps
// it. The time-stamp counter, where the CPU has one that runs at a constant rate, is not reset by
// a kexec (no CPU reset happens), so it measures the jump itself; restore/timeline.h decides
// which to believe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace warmboot {

struct ClockSnapshot {
  int64_t realtime_ns = 0;  // CLOCK_REALTIME
  int64_t boottime_ns = 0;  // CLOCK_BOOTTIME: since this kernel booted, suspend included
  uint64_t tsc = 0;         // the time-stamp counter; 0 where there is none (not x86-64)
};

// Reads the three back to back (the TSC between the other two, so that it falls within them).
ClockSnapshot TakeClockSnapshot();

// {"realtime_ns", "boottime_ns", "tsc"}; the TSC as a number (it fits in 64 bits unsigned).
nlohmann::json ToJson(const ClockSnapshot& clock);
// The inverse; false when `j` is not such an object (a report from before clocks were recorded).
bool ClockFromJson(const nlohmann::json& j, ClockSnapshot* clock);

}  // namespace warmboot
