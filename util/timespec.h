// Nanoseconds since the epoch (as the image records mtimes) to a struct timespec, whose
// tv_nsec must lie in [0, 1e9) also for times before 1970.
#pragma once

#include <time.h>

#include <cstdint>

namespace warmboot {

inline struct timespec TimespecFromNanos(int64_t ns) {
  struct timespec t;
  t.tv_sec = ns / 1000000000;
  t.tv_nsec = ns % 1000000000;
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1000000000;
    t.tv_sec -= 1;
  }
  return t;
}

}  // namespace warmboot
