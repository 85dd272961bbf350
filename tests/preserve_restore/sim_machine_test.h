// A test fixture over a simulated machine (testing/sim_machine.h) holding 1 MiB of state: its
// namespace is System RAM, as after a cold boot's restore; Make(true) makes it an NVDIMM's
// labelled namespace instead.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "restore/restore.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"

namespace warmboot::testing {

inline bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class SimMachineTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(false); }
  void Make(bool labeled) {
    if (labeled) MakeDirs(dir_.path() + "/nv");
    auto machine = MakeSimMachine(dir_.path() + (labeled ? "/nv" : ""), labeled);
    ASSERT_TRUE(machine.ok()) << machine.status().ToString();
    sim_ = std::move(machine->sim);
    config_ = machine->config;
    MakeDirs(config_.state_dir + "/app");
    WriteRandomFile(config_.state_dir + "/app/table", 1 << 20, 5);
  }
  // An operator's 'warmboot restore' (no --boot): the memory goes back at once.
  RestoreReport RestoreByHand() {
    RestoreOptions o;
    o.transition = NoSleepTransitions();
    o.mount_tmpfs = false;
    return Restore(*sim_, config_, o);
  }
  void ExpectSystemRam() {
    auto info = sim_->Probe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mode, PmemMode::kSystemRam);
    EXPECT_EQ(info->OnlineBlocks(), 4u);
    for (const auto& b : info->blocks) EXPECT_EQ(b.zone, "Movable");
  }

  TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
};

}  // namespace warmboot::testing
