#include "util/fd_limit.h"

namespace warmboot {

rlim_t RaiseOpenFileLimit() {
  struct rlimit l;
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return 0;
  if (l.rlim_cur < l.rlim_max) {
    const rlim_t before = l.rlim_cur;
    l.rlim_cur = l.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &l) != 0) return before;
  }
  return l.rlim_cur;
}

}  // namespace warmboot
