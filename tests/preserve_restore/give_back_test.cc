// The give-back off the blackout (issue 12): the restore at boot leaves the pmem raw once it has
// restored a state, and GiveBack returns it to System RAM after the applications have started,
// recorded in that restore's report. A sealed image is never touched by it.
#include "restore/give_back.h"

#include <gtest/gtest.h>

#include "image/image.h"
#include "orchestration/report_store.h"
#include "preserve/preserve.h"
#include "restore/restore.h"
#include "sim_machine_test.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::Has;

class GiveBackTest : public testing::SimMachineTest {
 protected:
  void PreserveAndReboot() {
    PreserveOptions o;
    o.transition = testing::NoSleepTransitions();
    PreserveReport p = Preserve(*sim_, config_, o);
    ASSERT_TRUE(p.status.ok()) << p.status.ToString();
    sim_->Reboot();
  }
  // The restore at boot: give_back_late, with `available` bytes of MemAvailable after it.
  RestoreReport BootRestore(uint64_t available = 8ull << 30) {
    RestoreOptions o;
    o.transition = testing::NoSleepTransitions();
    o.mount_tmpfs = false;
    o.give_back_late = true;
    o.mem_available = [available] { return available; };
    return Restore(*sim_, config_, o);
  }
  GiveBackReport DoGiveBack() {
    GiveBackOptions o;
    o.transition = testing::NoSleepTransitions();
    return GiveBack(*sim_, config_, o);
  }
  ImageState StateOnDevice() {
    auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
    EXPECT_TRUE(media.ok());
    auto r = InspectImage(**media, InspectDepth::kHeaderAndSeal);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->state : ImageState::kUnsealed;
  }
  nlohmann::json SavedRestore() {
    auto j = LoadReport(config_.report_dir, "restore");
    EXPECT_TRUE(j.ok());
    return j.ok() ? *j : nlohmann::json();
  }
};

TEST_F(GiveBackTest, TheBootsRestoreLeavesThePmemRawAndGiveBackReturnsItAfterwards) {
  PreserveAndReboot();
  RestoreReport r = BootRestore();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  // The state is back; the hot-plug is not done yet, and the restore's phases do not hold it.
  EXPECT_TRUE(r.give_back_deferred);
  EXPECT_FALSE(r.memory_returned);
  EXPECT_TRUE(Has(r.message, "after warmboot-state.target")) << r.message;
  for (const Phase& p : r.phases.phases()) {
    EXPECT_FALSE(Has(p.name, "kmem") || Has(p.name, "devdax") || Has(p.name, "online")) << p.name;
  }
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  EXPECT_EQ(StateOnDevice(), ImageState::kConsumed);
  EXPECT_TRUE(SavedRestore().value("give_back_deferred", false));

  GiveBackReport g = DoGiveBack();
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kGivenBack) << g.message;
  EXPECT_TRUE(g.recorded);
  ExpectSystemRam();
  // Recorded where status, the metrics and the timeline read this boot's restore.
  nlohmann::json saved = SavedRestore();
  EXPECT_TRUE(saved.value("memory_returned", false));
  ASSERT_TRUE(saved.contains("give_back")) << saved.dump();
  EXPECT_EQ(saved["give_back"].value("outcome", ""), "given-back");
  EXPECT_GE(saved["give_back"].value("finished_ns", int64_t{0}),
            saved["give_back"].value("started_ns", int64_t{1}));
  EXPECT_EQ(saved.value("outcome", ""), "restored");  // the restore's own facts are kept

  // Once more: nothing to do, and the record stays the first give-back's.
  GiveBackReport again = DoGiveBack();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.outcome, GiveBackOutcome::kNothingToDo) << again.message;
  EXPECT_FALSE(again.recorded);
  EXPECT_EQ(SavedRestore()["give_back"], saved["give_back"]);
}

TEST_F(GiveBackTest, WithoutTheReserveAvailableTheRestoreGivesBackAtOnce) {
  config_.give_back_late_reserve = 2ull << 30;
  PreserveAndReboot();
  RestoreReport r = BootRestore(1ull << 30);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.give_back_deferred);
  EXPECT_TRUE(r.memory_returned);
  bool said = false;
  for (const std::string& n : r.notes) said = said || Has(n, "give_back_late_reserve");
  EXPECT_TRUE(said);
  ExpectSystemRam();
}

TEST_F(GiveBackTest, WhenTheMemoryAvailableCannotBeReadTheRestoreGivesBackAtOnce) {
  PreserveAndReboot();
  RestoreReport r = BootRestore(UINT64_MAX);  // MemAvailableBytes: /proc/meminfo unreadable
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.give_back_deferred);
  EXPECT_TRUE(r.memory_returned);
  ExpectSystemRam();
}

TEST_F(GiveBackTest, ARestoreOutsideTheBootAndAColdBootGiveBackAtOnce) {
  // Nothing restored (a cold boot): nothing waits for the applications, the memory goes back.
  ASSERT_TRUE(ToRaw(*sim_, testing::NoSleepTransitions(), nullptr).ok());
  RestoreReport cold = BootRestore();
  ASSERT_TRUE(cold.status.ok()) << cold.status.ToString();
  EXPECT_EQ(cold.outcome, RestoreOutcome::kNothingToRestore) << cold.message;
  EXPECT_FALSE(cold.give_back_deferred);
  ExpectSystemRam();
  // 'warmboot restore' by hand (give_back_late unset) gives back at once after restoring.
  PreserveAndReboot();
  RestoreReport r = RestoreByHand();
  ASSERT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_FALSE(r.give_back_deferred);
  ExpectSystemRam();
}

TEST_F(GiveBackTest, ASealedImageIsNeverTouched) {
  PreserveAndReboot();
  GiveBackReport g = DoGiveBack();
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kImageWaiting);
  EXPECT_TRUE(Has(g.message, "warmboot restore")) << g.message;
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  EXPECT_EQ(StateOnDevice(), ImageState::kSealed);
  // Its state is still there to restore.
  RestoreReport r = BootRestore();
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
}

TEST_F(GiveBackTest, ADisabledNamespaceIsLookedAtRawBeforeAnythingIsReconfigured) {
  Make(true);
  PreserveAndReboot();
  sim_->FailStep(PmemStep::kEnableNamespace, IoError("enable failed"));
  // A rename that cannot bring the raw namespace back up leaves it disabled, image and all.
  EXPECT_FALSE(sim_->SetLabelName("x").ok());
  ASSERT_EQ(sim_->mode(), PmemMode::kDisabled);
  GiveBackReport g = DoGiveBack();
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kImageWaiting);
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  EXPECT_EQ(StateOnDevice(), ImageState::kSealed);
}

TEST_F(GiveBackTest, BlocksLeftOfflineByAnEarlyOfflineComeBack) {
  PhaseLog log;
  ASSERT_TRUE(OfflineAll(*sim_, testing::NoSleepTransitions(), &log).ok());
  ASSERT_EQ(sim_->Probe()->OnlineBlocks(), 0u);
  GiveBackReport g = DoGiveBack();
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kGivenBack) << g.message;
  EXPECT_FALSE(g.recorded);  // no deferred restore in this boot to record it in
  ExpectSystemRam();
}

TEST_F(GiveBackTest, AFailedGiveBackIsRecordedAndARunAfterTheFixFinishes) {
  PreserveAndReboot();
  ASSERT_TRUE(BootRestore().give_back_deferred);
  sim_->FailStep(PmemStep::kEnableDax, IoError("kmem: probe failed"));
  GiveBackReport g = DoGiveBack();
  ASSERT_FALSE(g.status.ok());
  EXPECT_EQ(g.outcome, GiveBackOutcome::kFailed);
  EXPECT_TRUE(Has(g.message, "giving namespace0.0 back to System RAM failed")) << g.message;
  nlohmann::json saved = SavedRestore();
  EXPECT_FALSE(saved.value("memory_returned", true));
  ASSERT_TRUE(saved.contains("give_back_failed")) << saved.dump();
  EXPECT_FALSE(saved.contains("give_back"));

  GiveBackReport again = DoGiveBack();
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.outcome, GiveBackOutcome::kGivenBack);
  EXPECT_TRUE(again.recorded);
  saved = SavedRestore();
  EXPECT_TRUE(saved.value("memory_returned", false));
  EXPECT_TRUE(saved.contains("give_back"));
  EXPECT_FALSE(saved.contains("give_back_failed"));
  ExpectSystemRam();
}

TEST_F(GiveBackTest, MemoryThatCameBackAnotherWayIsRecordedAsBack) {
  PreserveAndReboot();
  ASSERT_TRUE(BootRestore().give_back_deferred);
  // Something else returned it meanwhile (a discard, a preserve's rollback, a hand-run restore).
  ASSERT_TRUE(ToSystemRam(*sim_, testing::NoSleepTransitions(), nullptr).ok());
  GiveBackReport g = DoGiveBack();
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kNothingToDo);
  EXPECT_TRUE(g.recorded);
  nlohmann::json saved = SavedRestore();
  EXPECT_TRUE(saved.value("memory_returned", false)) << "not 'not returned' for the whole boot";
  ASSERT_TRUE(saved.contains("give_back"));
  EXPECT_EQ(saved["give_back"].value("outcome", ""), "nothing-to-do");
  std::string why;
  EXPECT_FALSE(GiveBackLeftForLater(config_, saved.value("boot_id", ""), &why));
}

// An operator's 'warmboot restore' after the boot's restore finds nothing to restore: the boot's
// report (what came back, what was quarantined) stays; the run is a line in it and a file of its
// own, and the memory it gave back stands for the give-back that was owed.
TEST_F(GiveBackTest, AHandRunRestoreKeepsTheBootsReportAndStandsForTheGiveBack) {
  PreserveAndReboot();
  ASSERT_TRUE(BootRestore().give_back_deferred);
  const nlohmann::json before = SavedRestore();
  RestoreReport hand = RestoreByHand();
  ASSERT_TRUE(hand.status.ok()) << hand.status.ToString();
  EXPECT_EQ(hand.outcome, RestoreOutcome::kAlreadyRestored) << hand.message;
  EXPECT_TRUE(hand.memory_returned);
  ExpectSystemRam();
  nlohmann::json saved = SavedRestore();
  EXPECT_EQ(saved.value("outcome", ""), "restored") << saved.dump();
  EXPECT_EQ(saved["unpack"], before["unpack"]);
  ASSERT_TRUE(saved["later_runs"].is_array());
  ASSERT_EQ(saved["later_runs"].size(), 1u);
  EXPECT_EQ(saved["later_runs"][0].value("outcome", ""), "already-restored");
  EXPECT_TRUE(saved.value("memory_returned", false));
  ASSERT_TRUE(saved.contains("give_back")) << saved.dump();
  EXPECT_EQ(saved["give_back"].value("outcome", ""), "given-back");
  auto last = LoadReport(config_.report_dir, "restore-last");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->value("outcome", ""), "already-restored");
  std::string why;
  EXPECT_FALSE(GiveBackLeftForLater(config_, saved.value("boot_id", ""), &why));

  // Once the memory is back: nothing to restore, and the boot's report still stands.
  RestoreReport again = RestoreByHand();
  EXPECT_EQ(again.outcome, RestoreOutcome::kNothingToRestore) << again.message;
  saved = SavedRestore();
  EXPECT_EQ(saved.value("outcome", ""), "restored");
  EXPECT_EQ(saved["later_runs"].size(), 2u);
  EXPECT_EQ(saved["give_back"].value("outcome", ""), "given-back");
}

// One that fails (here giving the memory back) is a line of the kept report too, with its error,
// and leaves the give-back owed.
TEST_F(GiveBackTest, AHandRunRestoreThatFailsIsALineOfTheBootsReport) {
  PreserveAndReboot();
  ASSERT_TRUE(BootRestore().give_back_deferred);
  sim_->FailStep(PmemStep::kReconfigure, Status(Code::kIoError, "injected: EIO"));
  RestoreReport hand = RestoreByHand();
  EXPECT_FALSE(hand.status.ok());
  nlohmann::json saved = SavedRestore();
  EXPECT_EQ(saved.value("outcome", ""), "restored");
  ASSERT_EQ(saved["later_runs"].size(), 1u);
  EXPECT_FALSE(saved["later_runs"][0].value("ok", true));
  EXPECT_TRUE(Has(saved["later_runs"][0].value("error", ""), "injected: EIO"))
      << saved["later_runs"].dump();
  EXPECT_FALSE(saved.contains("give_back"));
  std::string why;
  EXPECT_TRUE(GiveBackLeftForLater(config_, saved.value("boot_id", ""), &why)) << why;
}

TEST_F(GiveBackTest, AWarmRebootUnderWayIsLeftItsMemory) {
  PreserveAndReboot();
  ASSERT_TRUE(BootRestore().give_back_deferred);
  GiveBackOptions o;
  o.transition = testing::NoSleepTransitions();
  o.reboot_under_way = [] { return true; };
  GiveBackReport g = GiveBack(*sim_, config_, o);
  ASSERT_TRUE(g.status.ok()) << g.status.ToString();
  EXPECT_EQ(g.outcome, GiveBackOutcome::kRebootUnderWay) << g.message;
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw) << "nothing changed";
  EXPECT_FALSE(SavedRestore().contains("give_back"));
}

TEST_F(GiveBackTest, ANamespaceThatIsNotWarmbootsIsLeftAlone) {
  config_.namespace_name = "namespace0.0";
  ASSERT_TRUE(ToRaw(*sim_, testing::NoSleepTransitions(), nullptr).ok());
  ASSERT_TRUE(sim_->AdminReconfigure(PmemMode::kFsdax).ok());
  GiveBackReport g = DoGiveBack();
  EXPECT_FALSE(g.status.ok());
  EXPECT_EQ(sim_->mode(), PmemMode::kFsdax);
}

}  // namespace
}  // namespace warmboot
