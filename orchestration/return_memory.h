// Returns a warmboot namespace's memory to System RAM unless a state waits on it: what the
// give-back after a warm boot's restore does (restore/give_back.h), and what a warm reboot that
// did not happen does with the memory warmboot reboot took out early (preserve/reboot.h).
//
// A disabled namespace is enabled raw first, so that an image on it is looked at before
// anything is reconfigured; a raw namespace holding a sealed image is left exactly as it is
// (its state waits for 'warmboot restore'). Anything else goes through ToSystemRam, which is
// idempotent. Only a namespace that is warmboot's (orchestration/ownership_check.h) is touched;
// the caller holds the machine lock.
#pragma once

#include <string>

#include "orchestration/config.h"
#include "pmem/pmem.h"
#include "pmem/transitions.h"
#include "util/phase_log.h"
#include "util/status.h"

namespace warmboot {

enum class MemoryReturn {
  kReturned,      // System RAM again, every block online movable
  kAlready,       // it was: nothing done
  kImageWaiting,  // a sealed image waits on the raw namespace: nothing done
};

// *what says what was found or done, in words (for a message); *found, when given, the
// namespace as first probed.
Result<MemoryReturn> ReturnMemory(PmemPlatform& platform, const Config& config,
                                  const TransitionOptions& transition, PhaseLog* log,
                                  std::string* what, PmemInfo* found = nullptr);

}  // namespace warmboot
