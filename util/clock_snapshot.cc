#include "util/clock_snapshot.h"

#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace warmboot {
namespace {

int64_t Read(clockid_t id) {
  struct timespec ts {};
  ::clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

ClockSnapshot TakeClockSnapshot() {
  ClockSnapshot c;
  c.realtime_ns = Read(CLOCK_REALTIME);
#if defined(__x86_64__)
  c.tsc = __rdtsc();
#endif
  c.boottime_ns = Read(CLOCK_BOOTTIME);
  return c;
}

nlohmann::json ToJson(const ClockSnapshot& c) {
  return {{"realtime_ns", c.realtime_ns}, {"boottime_ns", c.boottime_ns}, {"tsc", c.tsc}};
}

bool ClockFromJson(const nlohmann::json& j, ClockSnapshot* c) {
  if (!j.is_object()) return false;
  const auto rt = j.find("realtime_ns"), bt = j.find("boottime_ns"), tsc = j.find("tsc");
  if (rt == j.end() || bt == j.end() || !rt->is_number_integer() || !bt->is_number_integer()) {
    return false;
  }
  c->realtime_ns = rt->get<int64_t>();
  c->boottime_ns = bt->get<int64_t>();
  c->tsc = tsc != j.end() && tsc->is_number_unsigned() ? tsc->get<uint64_t>() : 0;
  return true;
}

}  // namespace warmboot
