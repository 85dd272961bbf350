// The benchmarks that hold thousands of connections or segments need more descriptors than the
// usual soft limit (1024): raise it to the hard limit. warmbootd, started after, inherits it.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <string>

#include "bench/daemon_process.h"

namespace warmboot::bench {

// Fatal when the hard limit is below `needed`.
inline void RaiseFdLimit(uint64_t needed) {
  struct rlimit r;
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) Fail("getrlimit(RLIMIT_NOFILE) failed");
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < needed) {
    Fail("needs " + std::to_string(needed) + " descriptors; the hard RLIMIT_NOFILE is " +
         std::to_string(r.rlim_max) + " (raise it: ulimit -Hn, or run as root)");
  }
  r.rlim_cur = r.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) Fail("setrlimit(RLIMIT_NOFILE) failed");
}

}  // namespace warmboot::bench
