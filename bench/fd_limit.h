// The benchmarks that hold thousands of connections or segments need more descriptors than the
// usual soft limit (1024): raised to the hard limit (util/fd_limit.h); warmbootd, started after,
// inherits it.
#pragma once

#include <cstdint>
#include <string>

#include "bench/daemon_process.h"
#include "util/fd_limit.h"

namespace warmboot::bench {

// Fatal when the limit cannot reach `needed`.
inline void RaiseFdLimit(uint64_t needed) {
  const rlim_t now = RaiseOpenFileLimit();
  if (now != RLIM_INFINITY && now < needed) {
    Fail("needs " + std::to_string(needed) + " descriptors; RLIMIT_NOFILE allows " +
         std::to_string(now) + " (raise the hard limit: ulimit -Hn, or run as root)");
  }
}

}  // namespace warmboot::bench
