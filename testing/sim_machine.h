// A simulated machine for the preserve/restore tests: a 528 MiB namespace (4 blocks of
// 128 MiB, as in the VM) already given to System RAM, and a config whose directories live
// under a test's temporary directory.
#pragma once

#include <memory>
#include <string>

#include "orchestration/config.h"
#include "pmem/transitions.h"
#include "testing/simulated_pmem.h"

namespace warmboot::testing {

// Transitions that never sleep between offline retries.
inline TransitionOptions NoSleepTransitions() {
  TransitionOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  return o;
}

struct SimMachine {
  std::unique_ptr<SimulatedPmem> sim;
  Config config;
};

// Cold boot: the region is created raw and given to System RAM, as restore does when it finds
// nothing.
inline Result<SimMachine> MakeSimMachine(const std::string& dir, bool labeled = false) {
  WB_ASSIGN_OR_RETURN(auto sim, SimulatedPmem::Create(dir + "/sim", 528ull << 20, labeled));
  WB_RETURN_IF_ERROR(ToSystemRam(*sim, NoSleepTransitions(), nullptr));
  SimMachine m{std::move(sim), Config{}};
  m.config.namespace_name = "namespace0.0";  // handed to warmboot, as a deployment does
  m.config.state_dir = dir + "/state";
  m.config.restore_dir = dir + "/restore";
  m.config.report_dir = dir + "/reports";
  m.config.history_dir = dir + "/history";
  m.config.lock_file = dir + "/lock";
  m.config.chunk_size = 64 * 1024;
  return m;
}

}  // namespace warmboot::testing
