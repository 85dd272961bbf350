// One lock for every command that changes the pmem namespace (preserve, restore, give-back,
// discard, reboot), so two of them never interleave: an flock(2) on a file that names its holder. A
// second command waits up to a bound, then refuses, saying which process holds the lock and since
// when. REQUIRES: every such command takes it before its first look at the device. The kernel drops
// it when the holder exits, however it exits.
#pragma once

#include <chrono>
#include <string>

#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot {

class MachineLock {
 public:
  // Takes the lock at `path` (creating the file and its directory), waiting up to `wait`.
  // `command` is recorded for whoever finds it held. kBusy when the wait runs out.
  static Result<MachineLock> Acquire(const std::string& path, const std::string& command,
                                     std::chrono::milliseconds wait);

  MachineLock(MachineLock&&) = default;
  MachineLock& operator=(MachineLock&&) = default;

 private:
  explicit MachineLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

}  // namespace warmboot
