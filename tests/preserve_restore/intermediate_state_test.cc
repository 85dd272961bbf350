// Every state a failed transition can leave is reported as it is, and one command brings it back
// (issue 9, item 11): a reconfiguration or rename that fails after taking the namespace down
// leaves it disabled; an unbind can fail after it removed the memory; an online can fail after
// the state was restored.
#include <gtest/gtest.h>

#include "pmem/ownership.h"
#include "preserve/preserve.h"
#include "restore/restore.h"
#include "sim_machine_test.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::Has;

class IntermediateStateTest : public testing::SimMachineTest {
 protected:
  PreserveReport DoPreserve() {
    PreserveOptions o;
    o.transition = testing::NoSleepTransitions();
    return Preserve(*sim_, config_, o);
  }
  RestoreReport DoRestore() { return RestoreByHand(); }
};

TEST_F(IntermediateStateTest, AReconfigurationLeftDisabledIsBroughtBackByTheRollback) {
  sim_->FailStep(PmemStep::kEnableNamespace, IoError("enable: No such device or address"));
  PreserveReport r = DoPreserve();
  ASSERT_FALSE(r.status.ok());
  EXPECT_TRUE(Has(r.status.message(), "its memory is back in System RAM")) << r.status.message();
  EXPECT_FALSE(r.memory_removed);
  ExpectSystemRam();
}

TEST_F(IntermediateStateTest, ADisabledNamespaceTheRollbackCannotFixIsSaidAndRestoreFixesIt) {
  sim_->FailStep(PmemStep::kEnableNamespace, IoError("enable: No such device or address"), 2);
  PreserveReport r = DoPreserve();
  ASSERT_FALSE(r.status.ok());
  EXPECT_TRUE(r.memory_removed);
  EXPECT_TRUE(Has(r.status.message(), "namespace0.0 is disabled")) << r.status.message();
  EXPECT_TRUE(Has(r.status.message(), "run 'warmboot restore'")) << r.status.message();
  EXPECT_EQ(sim_->mode(), PmemMode::kDisabled);

  // preserve refuses and points at restore; restore brings every part back.
  PreserveReport again = DoPreserve();
  EXPECT_TRUE(Has(again.status.message(), "run 'warmboot restore'")) << again.status.message();
  RestoreReport back = DoRestore();
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  EXPECT_EQ(back.outcome, RestoreOutcome::kNothingToRestore) << back.message;
  EXPECT_TRUE(back.memory_returned);
  ExpectSystemRam();
}

TEST_F(IntermediateStateTest, ADisabledNamespaceWithASealedImageIsRestored) {
  Make(true);
  PreserveReport p = DoPreserve();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->FailStep(PmemStep::kEnableNamespace, IoError("enable failed"));
  // A rename that cannot bring the raw namespace back up leaves it disabled, image and all.
  EXPECT_FALSE(sim_->SetLabelName("x").ok());
  ASSERT_EQ(sim_->mode(), PmemMode::kDisabled);
  RestoreReport r = DoRestore();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  ExpectSystemRam();
}

TEST_F(IntermediateStateTest, ALabelRenameThatLeavesItDisabledGivesTheMemoryBack) {
  Make(true);
  sim_->FailStep(PmemStep::kEnableNamespace, IoError("enable failed"));
  PreserveReport r = DoPreserve();
  ASSERT_FALSE(r.status.ok());
  EXPECT_FALSE(r.image_sealed);
  EXPECT_TRUE(Has(r.status.message(), "memory is back in System RAM")) << r.status.message();
  ExpectSystemRam();
}

TEST_F(IntermediateStateTest, AnUnbindThatFailsAfterRemovingTheMemoryIsNotCalledNothingChanged) {
  sim_->FailStep(PmemStep::kDisableDaxAfterUnbind, IoError("daxctl: dax0.0: disable failed"));
  PreserveReport r = DoPreserve();
  ASSERT_FALSE(r.status.ok());
  EXPECT_FALSE(Has(r.status.message(), "nothing changed")) << r.status.message();
  EXPECT_TRUE(Has(r.status.message(), "after it had removed the memory")) << r.status.message();
  EXPECT_TRUE(Has(r.status.message(), "back in System RAM")) << r.status.message();
  EXPECT_FALSE(r.memory_removed);
  ExpectSystemRam();
}

TEST_F(IntermediateStateTest, ARestoreWhoseOnlineFailsSaysTheStateIsBackButTheMemoryIsNot) {
  PreserveReport p = DoPreserve();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  sim_->FailStep(PmemStep::kOnline, Status(Code::kBusy, "memory16: notifier refused"));
  RestoreReport r = DoRestore();
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored);
  EXPECT_FALSE(r.memory_returned);
  EXPECT_TRUE(Has(r.message, "giving the memory back to System RAM failed")) << r.message;
  // Run again: nothing left to restore, the memory comes back.
  RestoreReport again = DoRestore();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.memory_returned);
  ExpectSystemRam();
}

TEST(DisabledOwnershipTest, OnlyTheConfigurationOrTheLabelHandsOverADisabledNamespace) {
  PmemInfo info;
  info.name = "namespace1.0";
  info.mode = PmemMode::kDisabled;
  EXPECT_EQ(CheckOwnership(info, false, false).code(), Code::kPermission);
  EXPECT_TRUE(CheckOwnership(info, true, false).ok());
  info.labeled = true;
  info.label_name = "warmboot";
  EXPECT_TRUE(CheckOwnership(info, false, false).ok());
}

}  // namespace
}  // namespace warmboot
