// preserve -> restore over the simulated platform: the machine-level guarantees of issue 3.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "image/report_record.h"
#include "orchestration/machine_lock.h"
#include "pmem/ownership.h"
#include "preserve/preserve.h"
#include "restore/give_back.h"
#include "restore/restore.h"
#include "restore/restore_dir.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"
#include "util/deferred_signals.h"
#include "util/uuid.h"

namespace warmboot {
namespace {

using testing::TempDir;

class PreserveRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto machine = testing::MakeSimMachine(dir_.path());
    ASSERT_TRUE(machine.ok()) << machine.status().ToString();
    sim_ = std::move(machine->sim);
    config_ = machine->config;
    testing::MakeDirs(config_.state_dir + "/app/db");
    testing::WriteRandomFile(config_.state_dir + "/app/db/table", 3 << 20, 7);
    testing::WriteFile(config_.state_dir + "/app/config", "port = 1\n", 0600);
    for (int i = 0; i < 50; ++i) {
      testing::WriteFile(config_.state_dir + "/app/small" + std::to_string(i), std::to_string(i));
    }
    ASSERT_EQ(::symlink("db/table", (config_.state_dir + "/app/current").c_str()), 0);
    // A pristine copy to prove the state dir is never touched.
    ASSERT_EQ(std::system(("cp -a " + config_.state_dir + " " + (dir_ / "pristine")).c_str()), 0);
  }

  static TransitionOptions Fast() { return testing::NoSleepTransitions(); }
  // The report's phase of that name, or null.
  static const Phase* FindPhase(const PreserveReport& p, const std::string& name) {
    for (const Phase& ph : p.phases.phases()) {
      if (ph.name == name) return &ph;
    }
    return nullptr;
  }
  PreserveOptions PreserveOpts() {
    PreserveOptions o;
    o.transition = Fast();
    return o;
  }
  RestoreOptions RestoreOpts() {
    RestoreOptions o;
    o.transition = Fast();
    o.mount_tmpfs = false;
    return o;
  }
  void ExpectMachineAsBefore() {
    auto info = sim_->Probe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mode, PmemMode::kSystemRam);
    EXPECT_EQ(info->OnlineBlocks(), 4u);
    EXPECT_EQ(info->blocks.size(), 4u);
    EXPECT_EQ(sim_->leaked_blocks(), 0u);
    EXPECT_EQ(testing::DiffTrees(dir_ / "pristine", config_.state_dir), "");
  }

  TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
};

TEST_F(PreserveRestoreTest, FullRoundTrip) {
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.image_sealed);
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  EXPECT_EQ(sim_->leaked_blocks(), 0u);
  sim_->Reboot();

  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_TRUE(r.memory_returned);
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  auto info = sim_->Probe();
  EXPECT_EQ(info->mode, PmemMode::kSystemRam);
  EXPECT_EQ(info->OnlineBlocks(), 4u);
  for (const auto& b : info->blocks) EXPECT_EQ(b.zone, "Movable");
  // The preserve report travelled through the reboot on the medium.
  ASSERT_FALSE(r.preserve_report.is_null());
  EXPECT_TRUE(r.preserve_report.value("image_sealed", false));
  EXPECT_TRUE(std::filesystem::exists(config_.report_dir + "/restore.json"));
}

// The preserve report lies past the sealed image, outside its seal: a preserve that sealed but
// never wrote its own leaves an earlier image's there, which must not speak for this restore
// (its timeline and metrics).
TEST_F(PreserveRestoreTest, AnotherImagesPreserveReportIsNotUsed) {
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  {
    auto media = sim_->OpenRawMedia(OpenMode::kReadWrite);
    ASSERT_TRUE(media.ok());
    auto inspect = InspectImage(**media);
    ASSERT_TRUE(inspect.ok());
    const nlohmann::json other = {{"image_sealed", true},
                                  {"pack", {{"uuid", UuidToString(RandomUuid())}}}};
    ASSERT_TRUE(WriteReportRecord(**media, inspect->header.image_end, other.dump()).ok());
  }
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_TRUE(r.preserve_report.is_null()) << r.preserve_report.dump();
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
    return n.find("is another image's") != std::string::npos;
  }));
}

TEST_F(PreserveRestoreTest, SecondCycleWorks) {
  for (int cycle = 0; cycle < 2; ++cycle) {
    PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
    ASSERT_TRUE(p.status.ok()) << p.status.ToString();
    EXPECT_EQ(p.pack->generation, static_cast<uint64_t>(cycle + 1));
    sim_->Reboot();
    std::filesystem::remove_all(config_.restore_dir);
    RestoreReport r = Restore(*sim_, config_, RestoreOpts());
    ASSERT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
    EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  }
}

TEST_F(PreserveRestoreTest, DryRunChangesNothing) {
  PreserveOptions o = PreserveOpts();
  o.dry_run = true;
  PreserveReport p = Preserve(*sim_, config_, o);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_TRUE(p.plan.has_value());
  EXPECT_GT(p.plan->worst_case_image_bytes, 3u << 20);
  ExpectMachineAsBefore();
}

TEST_F(PreserveRestoreTest, StateLargerThanRegionIsRefusedBeforeHotRemove) {
  testing::WriteRandomFile(config_.state_dir + "/huge", 600ull << 20, 3);
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_FALSE(p.status.ok());
  EXPECT_EQ(p.status.code(), Code::kNoSpace);
  EXPECT_NE(p.status.message().find("short by"), std::string::npos) << p.status.message();
  EXPECT_FALSE(p.memory_removed);
  std::filesystem::remove(config_.state_dir + "/huge");
  ExpectMachineAsBefore();
}

// Every step before the point of no return, failed: the blocks stay online, the policy is
// put back and the state dir is untouched.
TEST_F(PreserveRestoreTest, FailureBeforePointOfNoReturnLeavesMachineAsBefore) {
  const PmemStep steps[] = {PmemStep::kProbe, PmemStep::kGetPolicy, PmemStep::kSetPolicy,
                            PmemStep::kOffline, PmemStep::kDisableDax};
  ASSERT_TRUE(sim_->SetAutoOnlinePolicy("online_movable").ok());
  for (PmemStep step : steps) {
    SCOPED_TRACE(PmemStepName(step));
    sim_->FailStep(step, IoError(std::string("injected failure at ") + PmemStepName(step)));
    PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
    EXPECT_FALSE(p.status.ok());
    EXPECT_FALSE(p.image_sealed);
    ExpectMachineAsBefore();
    EXPECT_EQ(*sim_->GetAutoOnlinePolicy(), "online_movable");
  }
}

TEST_F(PreserveRestoreTest, BusyBlockIsRetriedThenSucceeds) {
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 1, 3);
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
}

TEST_F(PreserveRestoreTest, BlockThatNeverOfflinesRollsBackNamingIt) {
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 2, -1);
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_FALSE(p.status.ok());
  EXPECT_EQ(p.status.code(), Code::kBusy);
  EXPECT_NE(p.status.message().find("memory" + std::to_string(SimulatedPmem::kFirstBlock + 2)),
            std::string::npos)
      << p.status.message();
  EXPECT_NE(p.status.message().find("back online"), std::string::npos);
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 2, 0);
  ExpectMachineAsBefore();
}

TEST_F(PreserveRestoreTest, TheCleanPageCacheIsDroppedOnceBeforeTheFirstOffline) {
  PreserveOptions o = PreserveOpts();
  int drops = 0;
  uint64_t online_at_drop = 0;
  o.transition.drop_page_cache = [&] {
    ++drops;
    online_at_drop = sim_->Probe()->OnlineBlocks();
    return Status::Ok();
  };
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 1, 2);  // retries do not drop it again
  PreserveReport p = Preserve(*sim_, config_, o);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(online_at_drop, 4u) << "before any block was offlined";
}

TEST_F(PreserveRestoreTest, TheOfflineSaysWhatItMigratedAndHowFast) {
  PreserveOptions o = PreserveOpts();
  int asked_node = -2;
  o.transition.movable_use = [&](int node) {
    asked_node = node;
    return std::optional<ZoneUse>(ZoneUse{uint64_t{300} << 20, 0});
  };
  PreserveReport p = Preserve(*sim_, config_, o);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  const Phase* offline = FindPhase(p, "offline memory blocks");
  ASSERT_NE(offline, nullptr);
  EXPECT_NE(offline->detail.find("300.0 MiB in use in ZONE_MOVABLE migrated ("), std::string::npos)
      << offline->detail;
  EXPECT_NE(offline->detail.find("GiB/s)"), std::string::npos) << offline->detail;
  EXPECT_EQ(asked_node, sim_->Probe()->target_node) << "the blocks' own node";
}

TEST_F(PreserveRestoreTest, ThePageCacheIsDroppedOnlyWhenTheBlocksZoneHoldsEnoughOfIt) {
  auto run = [&](uint64_t file_bytes, int* drops) {
    sim_->Reboot();
    (void)Restore(*sim_, config_, RestoreOpts());
    PreserveOptions o = PreserveOpts();
    o.transition.movable_use = [file_bytes, drops](int) {
      // Once dropped, the zone's cache is gone.
      return std::optional<ZoneUse>(ZoneUse{512ull << 20, *drops > 0 ? 0 : file_bytes});
    };
    o.transition.drop_page_cache = [drops] {
      ++*drops;
      return Status::Ok();
    };
    return Preserve(*sim_, config_, o);
  };
  int drops = 0;
  PreserveReport small = run(kDropPageCacheFrom - 4096, &drops);
  ASSERT_TRUE(small.status.ok()) << small.status.ToString();
  EXPECT_EQ(drops, 0);
  ASSERT_NE(FindPhase(small, "drop clean page cache"), nullptr);
  EXPECT_NE(FindPhase(small, "drop clean page cache")->detail.find("kept"), std::string::npos);
  drops = 0;
  PreserveReport large = run(256ull << 20, &drops);
  ASSERT_TRUE(large.status.ok()) << large.status.ToString();
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(FindPhase(large, "drop clean page cache")->detail,
            "256.0 MiB of page cache in ZONE_MOVABLE, 0 B after");
}

TEST_F(PreserveRestoreTest, ACachesDropThatFailsIsLoggedAndTheOfflineGoesOn) {
  PreserveOptions o = PreserveOpts();
  o.transition.drop_page_cache = [] {
    return Status(Code::kPermission, "cannot open /proc/sys/vm/drop_caches");
  };
  PreserveReport p = Preserve(*sim_, config_, o);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  const Phase* drop = FindPhase(p, "drop clean page cache");
  ASSERT_NE(drop, nullptr);
  EXPECT_FALSE(drop->ok);
  EXPECT_NE(drop->detail.find("drop_caches"), std::string::npos) << drop->detail;
}

TEST_F(PreserveRestoreTest, OfflineAllLeavesTheBlocksOfflineAndToRawGoesOnFromThere) {
  ASSERT_TRUE(sim_->SetAutoOnlinePolicy("online_movable").ok());
  PhaseLog log;
  ASSERT_TRUE(OfflineAll(*sim_, Fast(), &log).ok());
  auto info = sim_->Probe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode, PmemMode::kSystemRam);
  EXPECT_EQ(info->OnlineBlocks(), 0u);
  EXPECT_EQ(*sim_->GetAutoOnlinePolicy(), "online_movable") << "the policy is put back";
  EXPECT_TRUE(OfflineAll(*sim_, Fast(), nullptr).ok()) << "nothing left to do";
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
}

TEST_F(PreserveRestoreTest, OfflineAllThatIsRefusedBringsEveryBlockBack) {
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 3, -1);
  Status s = OfflineAll(*sim_, Fast(), nullptr);
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  EXPECT_NE(s.message().find("back online"), std::string::npos) << s.message();
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 3, 0);
  ExpectMachineAsBefore();
}

// After the point of no return: either a restorable image or one restore clearly rejects,
// never wrong data.
TEST_F(PreserveRestoreTest, FailureAfterPointOfNoReturnNeverGivesWrongData) {
  const PmemStep steps[] = {PmemStep::kReconfigure, PmemStep::kOpenRaw};
  for (PmemStep step : steps) {
    SCOPED_TRACE(PmemStepName(step));
    sim_->FailStep(step, IoError("injected"));
    PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
    EXPECT_FALSE(p.status.ok());
    // The memory was given back: the machine runs on.
    ExpectMachineAsBefore();
  }
  for (uint64_t budget : {uint64_t{0}, uint64_t{4096}, uint64_t{1} << 20, uint64_t{3} << 20}) {
    SCOPED_TRACE(budget);
    sim_->FailWritesAfter(budget);
    PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
    sim_->FailWritesAfter(UINT64_MAX >> 2);
    EXPECT_FALSE(p.status.ok());
    EXPECT_FALSE(p.image_sealed);
    ExpectMachineAsBefore();
    // A crash instead of the give-back: the namespace is raw with an unsealed image.
    ASSERT_TRUE(ToRaw(*sim_, Fast(), nullptr).ok());
    sim_->Reboot();
    std::filesystem::remove_all(config_.restore_dir);
    RestoreReport r = Restore(*sim_, config_, RestoreOpts());
    // The give-back reconfigured the namespace (its info block replaced the image's first
    // blocks), so restore finds no image or an unsealed one; never data.
    EXPECT_TRUE(r.outcome == RestoreOutcome::kNothingToRestore ||
                r.outcome == RestoreOutcome::kNoValidImage)
        << r.message;
    EXPECT_TRUE(r.memory_returned);
    EXPECT_FALSE(std::filesystem::exists(config_.restore_dir + "/app"));
  }
}

TEST_F(PreserveRestoreTest, PowerCutMidImageThenRebootRestoresNothingAndReturnsMemory) {
  PreserveReport first = Preserve(*sim_, config_, PreserveOpts());  // an older, valid image
  ASSERT_TRUE(first.status.ok());
  sim_->Reboot();
  ASSERT_EQ(Restore(*sim_, config_, RestoreOpts()).outcome, RestoreOutcome::kRestored);
  // Now the machine dies while writing the next image (no give-back: the kernel is gone).
  ASSERT_TRUE(ToRaw(*sim_, Fast(), nullptr).ok());
  auto media = sim_->OpenRawMedia(OpenMode::kReadWrite);
  ASSERT_TRUE(media.ok());
  sim_->FailWritesAfter(1 << 20);
  auto cut = sim_->OpenRawMedia(OpenMode::kReadWrite);
  ASSERT_TRUE(cut.ok());
  PackOptions po;
  po.chunk_size = config_.chunk_size;
  EXPECT_FALSE(PackImage(config_.state_dir, **cut, po).ok());
  sim_->Reboot();
  std::filesystem::remove_all(config_.restore_dir);
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kNoValidImage) << r.message;
  EXPECT_NE(r.message.find("not sealed"), std::string::npos) << r.message;
  EXPECT_TRUE(r.memory_returned);
}

TEST_F(PreserveRestoreTest, BadBlocksOverChunksAreSkippedReportedAndCleared) {
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok());
  // Poison inside the first data chunks (the image's data starts at 8 KiB).
  sim_->AddBadRange({8192 + 4096, 512});
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_EQ(r.outcome, RestoreOutcome::kPartial) << r.message;
  ASSERT_TRUE(r.unpack.has_value());
  ASSERT_FALSE(r.unpack->damaged.empty());
  EXPECT_NE(r.unpack->damaged[0].reason.find("bad block"), std::string::npos);
  EXPECT_EQ(r.bad_ranges.size(), 1u);
  EXPECT_TRUE(sim_->KnownBadRanges()->empty());  // cleared before the memory went back
  EXPECT_TRUE(r.memory_returned);
  // Everything else is restored byte for byte.
  EXPECT_EQ(testing::ReadFile(config_.restore_dir + "/app/config"), "port = 1\n");
}

TEST_F(PreserveRestoreTest, InterruptedRestoreRunAgainFinishesTheJob) {
  ASSERT_TRUE(Preserve(*sim_, config_, PreserveOpts()).status.ok());
  sim_->Reboot();
  sim_->FailStep(PmemStep::kEnableDax, IoError("injected: kmem bind failed"));
  RestoreReport first = Restore(*sim_, config_, RestoreOpts());
  EXPECT_FALSE(first.memory_returned);
  RestoreReport again = Restore(*sim_, config_, RestoreOpts());
  EXPECT_TRUE(again.memory_returned) << again.message;
  EXPECT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  EXPECT_EQ(sim_->Probe()->OnlineBlocks(), 4u);
}

// A second image restored in the same boot (a preserve --no-kexec, a kexec that failed, then a
// restore) gets a tree of its own: the first one's files are not left among its own, where
// warmbootd would serve them as this image's. The first tree is moved aside, never deleted.
TEST_F(PreserveRestoreTest, ASecondImageInTheSameBootIsNotMergedIntoTheFirstsTree) {
  if (::geteuid() != 0) GTEST_SKIP() << "the restore directory's mark (trusted.*) needs root";
  ASSERT_TRUE(Preserve(*sim_, config_, PreserveOpts()).status.ok());
  sim_->Reboot();
  RestoreReport first = Restore(*sim_, config_, RestoreOpts());
  ASSERT_EQ(first.outcome, RestoreOutcome::kRestored) << first.message;
  EXPECT_EQ(first.earlier_tree, "");
  const std::string first_uuid = UuidToString(first.unpack->header.image_uuid);
  testing::WriteFile(config_.restore_dir + "/app/written-since", "an application's file");

  // The state changes: a file goes, one comes. Preserved and restored again, in this boot.
  std::filesystem::remove(config_.state_dir + "/app/config");
  testing::WriteFile(config_.state_dir + "/app/new", "new state");
  ASSERT_TRUE(Preserve(*sim_, config_, PreserveOpts()).status.ok());
  RestoreReport second = Restore(*sim_, config_, RestoreOpts());
  ASSERT_EQ(second.outcome, RestoreOutcome::kRestored) << second.message;
  const std::string aside = config_.restore_dir + "/.warmboot-earlier." + first_uuid;
  EXPECT_EQ(second.earlier_tree, aside);
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir,
                               {".quarantine", ".warmboot-earlier." + first_uuid}),
            "");
  EXPECT_FALSE(testing::Exists(config_.restore_dir + "/app/config"));
  // The first tree, whole, with what the applications wrote into it.
  EXPECT_EQ(testing::ReadFile(aside + "/app/config"), "port = 1\n");
  EXPECT_EQ(testing::ReadFile(aside + "/app/written-since"), "an application's file");
  EXPECT_TRUE(std::any_of(second.notes.begin(), second.notes.end(), [&](const std::string& n) {
    return n.find("image " + first_uuid + "'s tree") != std::string::npos &&
           n.find(aside) != std::string::npos;
  })) << nlohmann::json(second.notes).dump();
  EXPECT_EQ(ToJson(second)["earlier_tree"], aside);
}

// What is in restore_dir without a mark (put there by hand, or on a filesystem that takes no
// extended attributes) is another tree too; lost+found stays where it is.
TEST_F(PreserveRestoreTest, AnUnmarkedTreeIsSetAsideAndLostAndFoundStays) {
  if (::geteuid() != 0) GTEST_SKIP() << "the restore directory's mark (trusted.*) needs root";
  testing::MakeDirs(config_.restore_dir + "/lost+found");
  testing::WriteFile(config_.restore_dir + "/app", "an operator's file where a directory goes");
  ASSERT_TRUE(Preserve(*sim_, config_, PreserveOpts()).status.ok());
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  ASSERT_EQ(r.earlier_tree.rfind(config_.restore_dir + "/.warmboot-earlier.unmarked-", 0), 0u)
      << r.earlier_tree;
  EXPECT_EQ(testing::ReadFile(r.earlier_tree + "/app"),
            "an operator's file where a directory goes");
  EXPECT_TRUE(testing::Exists(config_.restore_dir + "/lost+found"));
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir,
                               {".quarantine", "lost+found",
                                r.earlier_tree.substr(config_.restore_dir.size() + 1)}),
            "");
}

TEST_F(PreserveRestoreTest, ColdBootWithoutPreserveIsNothingToRestore) {
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.outcome, RestoreOutcome::kNothingToRestore);
  EXPECT_TRUE(r.memory_returned);
}

TEST_F(PreserveRestoreTest, UnbindWithOnlineBlocksLeaksThemInTheSimulator) {
  // The kernel rule the transitions guard against: kmem unbind always succeeds.
  ASSERT_TRUE(sim_->DisableDax().ok());
  EXPECT_EQ(sim_->leaked_blocks(), 4u);
  EXPECT_EQ(sim_->EnableDax(PmemMode::kSystemRam).code(), Code::kBusy);
  sim_->Reboot();
  EXPECT_EQ(sim_->leaked_blocks(), 0u);
}

namespace warmboot {
namespace {

TEST(PreserveLabelTest, LabeledNamespaceIsNamedWarmboot) {
  testing::TempDir dir;
  auto machine = testing::MakeSimMachine(dir.path(), /*labeled=*/true);
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  auto& sim = machine->sim;
  Config& config = machine->config;
  testing::MakeDirs(config.state_dir);
  testing::WriteFile(config.state_dir + "/f", "x");
  PreserveOptions o;
  o.transition = testing::NoSleepTransitions();
  PreserveReport r = Preserve(*sim, config, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(sim->Probe()->label_name, "warmboot");
}

}  // namespace
}  // namespace warmboot

// --- A sealed image is never given up by a failed restore (the data-loss item 1).

// A sealed image an earlier boot left, never restored (its restore kept it: no room, a stale
// image), is the only copy of that state: a preserve that would write over it refuses and
// says what to do. This boot's own sealed image is written over: its state is still the state
// directory's.
TEST_F(PreserveRestoreTest, AnEarlierBootsSealedImageIsNotWrittenOver) {
  PreserveReport first = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  sim_->Reboot();
  PreserveOptions next_boot = PreserveOpts();
  next_boot.boot = ThisBoot{RandomUuid(), "root=/dev/vda1"};
  PreserveReport over = Preserve(*sim_, config_, next_boot);
  EXPECT_FALSE(over.status.ok());
  EXPECT_FALSE(over.memory_removed);
  EXPECT_NE(over.status.message().find("'warmboot restore --image"), std::string::npos)
      << over.status.ToString();
  auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
  ASSERT_TRUE(media.ok());
  auto inspect = InspectImage(**media);
  ASSERT_TRUE(inspect.ok()) << inspect.status().ToString();
  EXPECT_EQ(inspect->state, ImageState::kSealed);
  EXPECT_EQ(inspect->header.image_uuid, first.pack->image_uuid);

  // In the boot that sealed it (preserve --no-kexec, then again): written over.
  PreserveReport again = Preserve(*sim_, config_, PreserveOpts());
  EXPECT_TRUE(again.status.ok()) << again.status.ToString();
}

class KeptImageTest : public PreserveRestoreTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
    PreserveRestoreTest::SetUp();
    PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
    ASSERT_TRUE(p.status.ok()) << p.status.ToString();
    sim_->Reboot();
  }
  // Restores into a directory on disk (/var/tmp on most machines), where restore mounts a tmpfs
  // of its own, and returns that mount's entry in the mount table ("" when it is not a tmpfs:
  // /var/tmp is one here, so the test says it cannot tell).
  std::string RestoreIntoItsOwnTmpfs(const testing::TempDir& disk) {
    RestoreOptions o = RestoreOpts();
    o.mount_tmpfs = true;
    config_.restore_dir = disk / "restore";
    RestoreReport r = Restore(*sim_, config_, o);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
    const std::string entry = MountEntry(config_.restore_dir);
    return entry.find(" tmpfs ") == std::string::npos ? "" : entry;
  }
  void TearDown() override {
    // Our tmpfs may sit on the small one: take both down.
    while (::umount2(config_.restore_dir.c_str(), MNT_DETACH) == 0) {
    }
  }
  // The restore directory on a 4 MiB tmpfs, as a /run too small for the state.
  void SmallRestoreDir() {
    testing::MakeDirs(config_.restore_dir);
    ASSERT_EQ(::mount("tmpfs", config_.restore_dir.c_str(), "tmpfs", 0, "size=4m"), 0);
  }
  // The last mount table line for `dir` ("" when none).
  static std::string MountEntry(const std::string& dir) {
    std::ifstream in("/proc/self/mounts");  // a proc file: no size to read up to
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.find(" " + dir + " ") != std::string::npos) last = line;
    }
    return last;
  }
  void ExpectImageWaiting() {
    EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
    auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
    ASSERT_TRUE(media.ok());
    auto inspect = InspectImage(**media);
    ASSERT_TRUE(inspect.ok()) << inspect.status().ToString();
    EXPECT_EQ(inspect->state, ImageState::kSealed);
  }
};

TEST_F(KeptImageTest, NoRoomIsRefusedBeforeTheFirstByteAndTheImageStays) {
  SmallRestoreDir();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());  // may not mount its own tmpfs
  EXPECT_EQ(r.outcome, RestoreOutcome::kFailed);
  EXPECT_EQ(r.status.code(), Code::kNoSpace) << r.status.ToString();
  EXPECT_TRUE(r.image_kept);
  EXPECT_FALSE(r.memory_returned);
  EXPECT_NE(r.message.find("warmboot discard"), std::string::npos) << r.message;
  EXPECT_TRUE(std::filesystem::is_empty(config_.restore_dir));
  ExpectImageWaiting();

  // The cause fixed (restore may mount a tmpfs sized from the header): everything comes back.
  RestoreOptions o = RestoreOpts();
  o.mount_tmpfs = true;
  RestoreReport again = Restore(*sim_, config_, o);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.outcome, RestoreOutcome::kRestored) << again.message;
  EXPECT_FALSE(again.image_kept);
  EXPECT_TRUE(again.memory_returned);
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
  // A tmpfs that was there is only grown: its huge pages stay whoever mounted it's choice.
  EXPECT_EQ(MountEntry(config_.restore_dir).find("huge=within_size"), std::string::npos);
}

// A tmpfs restore mounts for itself takes 2 MiB pages for whole files where the kernel has them
// (restore.cc): the option shows in the mount table.
TEST_F(KeptImageTest, ItsOwnTmpfsTakesHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/shmem_enabled")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  testing::TempDir disk("/var/tmp");
  const std::string entry = RestoreIntoItsOwnTmpfs(disk);
  ASSERT_FALSE(HasFailure());
  if (entry.empty()) GTEST_SKIP() << "/var/tmp is a tmpfs here";
  EXPECT_NE(entry.find("huge=within_size"), std::string::npos) << entry;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  ::umount2(config_.restore_dir.c_str(), MNT_DETACH);
}

TEST_F(KeptImageTest, WhereThePmemHasANodeOfItsOwnItsOwnTmpfsPrefersTheDevicesNode) {
  sim_->SetTargetNode(1);  // an NVDIMM: kmem's memory is node 1, the device sits on node 0
  testing::TempDir disk("/var/tmp");
  const std::string entry = RestoreIntoItsOwnTmpfs(disk);
  ASSERT_FALSE(HasFailure());
  if (entry.empty()) GTEST_SKIP() << "/var/tmp is a tmpfs here";
  ::umount2(config_.restore_dir.c_str(), MNT_DETACH);
  if (!std::filesystem::exists("/sys/devices/system/node/node0")) {
    GTEST_SKIP() << "a kernel without NUMA refuses mpol=";
  }
  EXPECT_NE(entry.find("mpol=prefer:0"), std::string::npos) << entry;
}

TEST_F(KeptImageTest, AWriteFailureKeepsTheImageAndARerunFinishes) {
  // A file where the state has a directory, in a tree marked as this image's (an interrupted
  // run of it; a stranger's tree would be set aside): the unpack fails part-way.
  testing::MakeDirs(config_.restore_dir);
  testing::WriteFile(config_.restore_dir + "/app", "in the way");
  std::string uuid;
  {
    auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
    ASSERT_TRUE(media.ok());
    auto inspect = InspectImage(**media);
    ASSERT_TRUE(inspect.ok());
    uuid = UuidToString(inspect->header.image_uuid);
  }
  ASSERT_EQ(::setxattr(config_.restore_dir.c_str(), kRestoreMarkXattr, uuid.data(), uuid.size(), 0),
            0)
      << std::strerror(errno);
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kFailed) << r.message;
  EXPECT_TRUE(r.image_kept);
  EXPECT_FALSE(r.memory_returned);
  ExpectImageWaiting();

  std::filesystem::remove(config_.restore_dir + "/app");
  RestoreReport again = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(again.outcome, RestoreOutcome::kRestored) << again.message;
  EXPECT_EQ(again.earlier_tree, "");  // its own tree, finished, not set aside
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  EXPECT_TRUE(again.memory_returned);
}

// Unknown is not "none": a header that cannot be read (here a known media error over it, which
// is never read) may be a sealed image, the only copy of the state. Restore and give-back keep it
// and its memory (they took it for a cold boot's empty device and gave the memory back, which
// overwrites the image); discard gives it up on purpose.
TEST_F(KeptImageTest, AHeaderThatCannotBeReadIsNotAnEmptyDevice) {
  sim_->AddBadRange({0, 4096});
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(r.image_kept);
  EXPECT_FALSE(r.memory_returned);
  EXPECT_NE(r.message.find("cannot tell whether a sealed image waits"), std::string::npos)
      << r.message;
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  GiveBackOptions g;
  g.transition = testing::NoSleepTransitions();
  GiveBackReport back = GiveBack(*sim_, config_, g);
  EXPECT_FALSE(back.status.ok());
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);

  PhaseLog log;
  std::string what;
  ASSERT_TRUE(Discard(*sim_, config_, RestoreOpts(), &log, &what).ok());
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
}

// The same over the seal: not read, so not a verdict ("no valid image") either.
TEST_F(KeptImageTest, AMediaErrorOverTheSealIsNotAVerdict) {
  sim_->AddBadRange({format::kSealOffset, 512});
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(r.image_kept);
  EXPECT_FALSE(r.memory_returned);
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
}

// A raw device that cannot be opened is the same: nothing is given back.
TEST_F(KeptImageTest, ARawDeviceThatCannotBeOpenedKeepsItsMemory) {
  // The ownership check's open succeeds, restore's own fails (EBUSY: another opener).
  sim_->FailStep(PmemStep::kOpenRaw, Status(Code::kBusy, "/dev/pmem0 is open elsewhere"), 1, 1);
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.status.code(), Code::kBusy) << r.status.ToString();
  EXPECT_TRUE(r.image_kept);
  EXPECT_FALSE(r.memory_returned);
  ExpectImageWaiting();
  RestoreReport again = Restore(*sim_, config_, RestoreOpts());  // the cause gone
  EXPECT_EQ(again.outcome, RestoreOutcome::kRestored) << again.message;
}

// restore_dir a symbolic link (to an application's data on disk): restore mounted its tmpfs over
// the directory the link names, hiding that data, before unpack refused the link.
TEST_F(KeptImageTest, ASymlinkedRestoreDirIsRefusedBeforeAnythingIsMounted) {
  testing::TempDir disk("/var/tmp");
  const std::string target = disk.path() + "/app-data";
  testing::MakeDirs(target);
  testing::WriteFile(target + "/precious", "keep me");
  config_.restore_dir = disk.path() + "/restore";
  ASSERT_EQ(::symlink(target.c_str(), config_.restore_dir.c_str()), 0);
  RestoreOptions o = RestoreOpts();
  o.mount_tmpfs = true;
  RestoreReport r = Restore(*sim_, config_, o);
  const std::string mounted = MountEntry(target);
  if (!mounted.empty()) ::umount2(target.c_str(), MNT_DETACH);
  EXPECT_EQ(mounted, "");
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("is a symbolic link"), std::string::npos)
      << r.status.ToString();
  EXPECT_TRUE(r.image_kept);
  EXPECT_EQ(testing::ReadFile(target + "/precious"), "keep me");
  config_.restore_dir = target;  // TearDown unmounts nothing of ours
}

// A sparse file's holes take no room in the restore's tmpfs: sized by the files' sizes, a state
// with a large sparse file (an mmap'd table, mostly holes) was refused on every boot.
TEST_F(PreserveRestoreTest, ASparseFilesHolesNeedNoRoom) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  {
    std::ofstream f(config_.state_dir + "/app/sparse", std::ios::binary);
    f.seekp((256ll << 20) - 1);
    f.put('x');
  }
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  testing::MakeDirs(config_.restore_dir);
  ASSERT_EQ(::mount("tmpfs", config_.restore_dir.c_str(), "tmpfs", 0, "size=32m"), 0);
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  ::umount2(config_.restore_dir.c_str(), MNT_DETACH);
}

TEST_F(KeptImageTest, DiscardGivesTheStateUpOnPurpose) {
  SmallRestoreDir();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_TRUE(r.image_kept);
  PhaseLog log;
  std::string what;
  ASSERT_TRUE(Discard(*sim_, config_, RestoreOpts(), &log, &what).ok());
  EXPECT_NE(what.find("discarded generation 1"), std::string::npos) << what;
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
  // Nothing waits any more: a later restore finds nothing to do and never restores it.
  RestoreReport later = Restore(*sim_, config_, RestoreOpts());
  EXPECT_NE(later.outcome, RestoreOutcome::kRestored);
}

// --- Hot-plugged memory lands in ZONE_MOVABLE whatever the kernel's own policy (item 3).

TEST_F(PreserveRestoreTest, AKernelThatOnlinesHotPluggedMemoryStillGetsMovableBlocks) {
  sim_->SetBootPolicy("online");  // bookworm-backports' 6.12, sid's 7.x
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  auto info = sim_->Probe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->OnlineBlocks(), 4u);
  for (const auto& b : info->blocks) EXPECT_EQ(b.zone, "Movable") << "memory" << b.index;
  EXPECT_EQ(*sim_->GetAutoOnlinePolicy(), "online") << "the policy is put back";
}

TEST_F(PreserveRestoreTest, BlocksOnlinedIntoAKernelZoneAreMovedToMovable) {
  sim_->SetBootPolicy("online");
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  // The policy cannot be held (as if another agent onlined the blocks first).
  sim_->FailStep(PmemStep::kSetPolicy, IoError("read-only sysfs"), 1);
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  bool repaired = false;
  for (const Phase& ph : r.phases.phases())
    repaired |= ph.name.starts_with("repair zones") && ph.ok;
  EXPECT_TRUE(repaired);
  auto after = sim_->Probe();  // held: a range-for over a temporary's member would dangle
  ASSERT_TRUE(after.ok());
  for (const auto& b : after->blocks) EXPECT_EQ(b.zone, "Movable") << "memory" << b.index;
}

TEST_F(PreserveRestoreTest, AKernelZoneThatCannotBeRepairedIsSaidPlainly) {
  sim_->SetBootPolicy("online");
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  sim_->FailStep(PmemStep::kSetPolicy, IoError("read-only sysfs"), 1);
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 1, -1);  // the kernel pinned it
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored);  // the state is back all the same
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("outside ZONE_MOVABLE"), std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("memory17"), std::string::npos) << r.status.message();
  EXPECT_EQ(sim_->Probe()->OnlineBlocks(), 4u) << "the memory is never left offline";
}

// --- One command at a time (item 6).

TEST_F(PreserveRestoreTest, ASecondCommandWaitsThenRefusesNamingTheHolder) {
  auto held = MachineLock::Acquire(config_.lock_file, "restore", std::chrono::milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  config_.lock_wait_ms = 200;
  auto start = std::chrono::steady_clock::now();
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ(p.status.code(), Code::kBusy) << p.status.ToString();
  EXPECT_NE(p.status.message().find("pid " + std::to_string(::getpid()) + ", warmboot restore"),
            std::string::npos)
      << p.status.message();
  EXPECT_FALSE(p.memory_removed);
  ExpectMachineAsBefore();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.status.code(), Code::kBusy);
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);

  { auto released = std::move(*held); }  // the holder exits
  PreserveReport again = Preserve(*sim_, config_, PreserveOpts());
  EXPECT_TRUE(again.status.ok()) << again.status.ToString();
}

// --- warmboot acts only on its own namespace (item 2) and keeps its dax uuid (item 13).

class OwnershipTest : public PreserveRestoreTest {
 protected:
  // What a namespace looks like from outside: mode, info block, the first blocks of data.
  std::string Snapshot() {
    auto info = sim_->Probe();
    std::string head = testing::ReadFile(sim_->image_path()).substr(0, 1 << 20);
    return std::string(PmemModeName(info->mode)) + UuidToString(info->dax_uuid) +
           std::to_string(info->OnlineBlocks()) + head;
  }
  void ExpectLeftAlone(const std::string& before, const Status& s) {
    EXPECT_EQ(s.code(), Code::kPermission) << s.ToString();
    EXPECT_NE(s.message().find("leaves it exactly as it is"), std::string::npos) << s.message();
    EXPECT_TRUE(Snapshot() == before) << "the namespace was touched";
  }
};

TEST_F(OwnershipTest, AnAdminsFsdaxNamespaceIsNeverTaken) {
  ASSERT_TRUE(ToRaw(*sim_, Fast(), nullptr).ok());
  ASSERT_TRUE(sim_->AdminReconfigure(PmemMode::kFsdax).ok());
  const std::string before = Snapshot();
  for (bool configured : {false, true}) {  // not even when the configuration names it
    config_.namespace_name = configured ? "namespace0.0" : "";
    RestoreReport r = Restore(*sim_, config_, RestoreOpts());
    ExpectLeftAlone(before, r.status);
    EXPECT_FALSE(r.memory_returned);
    ExpectLeftAlone(before, Preserve(*sim_, config_, PreserveOpts()).status);
    PhaseLog log;
    std::string what;
    ExpectLeftAlone(before, Discard(*sim_, config_, RestoreOpts(), &log, &what));
  }
}

TEST_F(OwnershipTest, ARawNamespaceWithAFilesystemIsNeverTaken) {
  ASSERT_TRUE(ToRaw(*sim_, Fast(), nullptr).ok());
  std::string sb(2048, '\0');
  sb[1080] = 0x53;
  sb[1081] = static_cast<char>(0xef);
  {
    std::fstream f(sim_->image_path(), std::ios::in | std::ios::out | std::ios::binary);
    f.write(sb.data(), static_cast<std::streamsize>(sb.size()));
  }
  const std::string before = Snapshot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());  // configured, still refused
  ExpectLeftAlone(before, r.status);
  EXPECT_NE(r.status.message().find("ext4"), std::string::npos) << r.status.message();
}

TEST_F(OwnershipTest, AnUnconfiguredNamespaceIsTakenOnlyWhenMarkedAsWarmboots) {
  config_.namespace_name = "";
  // Marked: warmboot's own reconfiguration gave the dax device warmboot's uuid for it.
  auto info = sim_->Probe();
  EXPECT_EQ(info->dax_uuid, WarmbootDaxUuid(info->identity));
  PreserveReport p = Preserve(*sim_, config_, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());  // raw, with warmboot's image
  ASSERT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(sim_->Probe()->dax_uuid, info->dax_uuid) << "the uuid is the same every cycle";

  // An administrator's devdax namespace (another uuid): left alone, and told how to hand over.
  ASSERT_TRUE(ToRaw(*sim_, Fast(), nullptr).ok());
  ASSERT_TRUE(sim_->AdminReconfigure(PmemMode::kDevdax).ok());
  const std::string before = Snapshot();
  RestoreReport admin = Restore(*sim_, config_, RestoreOpts());
  ExpectLeftAlone(before, admin.status);
  EXPECT_NE(admin.status.message().find("namespace = namespace0.0"), std::string::npos);
  // Handed over by name: warmboot takes it.
  config_.namespace_name = "namespace0.0";
  RestoreReport handed = Restore(*sim_, config_, RestoreOpts());
  EXPECT_TRUE(handed.status.ok()) << handed.status.ToString();
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
}

TEST_F(OwnershipTest, ALabelNamedWarmbootMarksANvdimmNamespace) {
  testing::TempDir other;
  auto machine = testing::MakeSimMachine(other.path(), /*labeled=*/true);
  ASSERT_TRUE(machine.ok());
  machine->config.namespace_name = "";
  testing::MakeDirs(machine->config.state_dir);
  testing::WriteFile(machine->config.state_dir + "/f", "x");
  PreserveReport p = Preserve(*machine->sim, machine->config, PreserveOpts());
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(machine->sim->Probe()->label_name, "warmboot");
}

// --- Bounded offlining (item 4) and signals (item 7).

TEST_F(PreserveRestoreTest, AnOfflineThatNeverEndsIsBoundedAndRolledBack) {
  sim_->SetBlockHangs(SimulatedPmem::kFirstBlock + 2, true);
  PreserveOptions o = PreserveOpts();
  o.transition.offline_attempts = 1000;
  o.transition.offline_block_timeout = std::chrono::milliseconds(500);
  o.transition.offline_timeout = std::chrono::milliseconds(3000);  // the pauses count
  PreserveReport p = Preserve(*sim_, config_, o);
  EXPECT_EQ(p.status.code(), Code::kBusy) << p.status.ToString();
  EXPECT_NE(p.status.message().find("ran out of its 3000 ms"), std::string::npos)
      << p.status.message();
  EXPECT_NE(p.status.message().find("not offline after"), std::string::npos);
  EXPECT_NE(p.status.message().find("nothing changed"), std::string::npos);
  EXPECT_EQ(*sim_->GetAutoOnlinePolicy(), "offline");
  ExpectMachineAsBefore();
}

// Many blocks that never go offline hold the step for its budget, not for a block timeout each
// (10 s x 4 here; 256 blocks of a large machine would be 43 minutes).
TEST_F(PreserveRestoreTest, ManyHangingBlocksTakeTheStepsBudgetNotATimeoutEach) {
  for (uint64_t i = 0; i < 4; ++i) sim_->SetBlockHangs(SimulatedPmem::kFirstBlock + i, true);
  PreserveOptions o = PreserveOpts();
  o.transition.offline_attempts = 1;
  o.transition.offline_block_timeout = std::chrono::milliseconds(10000);
  o.transition.offline_timeout = std::chrono::milliseconds(15000);
  PreserveReport p = Preserve(*sim_, config_, o);
  EXPECT_EQ(p.status.code(), Code::kBusy) << p.status.ToString();
  EXPECT_LE(sim_->offline_waited(), std::chrono::milliseconds(15000));
  ExpectMachineAsBefore();
}

TEST_F(PreserveRestoreTest, ASignalBeforeThePointOfNoReturnChangesNothing) {
  // Asked while blocks are being offlined: every block goes back online.
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 1, 2);
  sim_->SetBootPolicy("online_movable");
  PreserveOptions o = PreserveOpts();
  o.interrupted = [] { return SIGTERM; };
  o.transition.interrupted = [] { return SIGTERM; };
  PreserveReport p = Preserve(*sim_, config_, o);
  EXPECT_EQ(p.status.code(), Code::kInterrupted) << p.status.ToString();
  EXPECT_NE(p.status.message().find("SIGTERM"), std::string::npos);
  EXPECT_FALSE(p.memory_removed);
  EXPECT_EQ(*sim_->GetAutoOnlinePolicy(), "online_movable") << "the policy is put back";
  ExpectMachineAsBefore();
}

TEST_F(PreserveRestoreTest, ASignalDuringTheRetryPauseIsActedOnAtOnce) {
  // A pause of 20 s between attempts (real sleeping); the signal comes 0.2 s into it. Without
  // sliced pauses the preserve would sleep the whole 20 s before noticing.
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock, -1);
  PreserveOptions o = PreserveOpts();
  o.transition.sleep = nullptr;
  o.transition.offline_backoff = std::chrono::milliseconds(20000);
  const auto start = std::chrono::steady_clock::now();
  auto signal_after_200ms = [start] {
    return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(200) ? SIGTERM : 0;
  };
  o.interrupted = signal_after_200ms;
  o.transition.interrupted = signal_after_200ms;
  PreserveReport p = Preserve(*sim_, config_, o);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(p.status.code(), Code::kInterrupted) << p.status.ToString();
  EXPECT_LT(took, std::chrono::seconds(10)) << "the signal waited for the pause to end";
  ExpectMachineAsBefore();
}

TEST_F(PreserveRestoreTest, ASignalAfterThePointOfNoReturnStillSealsTheImage) {
  PreserveOptions o = PreserveOpts();
  // The signal arrives once the memory is out (during the write): held back until sealed.
  o.interrupted = [this] { return sim_->mode() == PmemMode::kRaw ? SIGINT : 0; };
  PreserveReport p = Preserve(*sim_, config_, o);
  EXPECT_EQ(p.status.code(), Code::kInterrupted) << p.status.ToString();
  EXPECT_TRUE(p.image_sealed);
  EXPECT_NE(p.status.message().find("completed and sealed"), std::string::npos);
  sim_->Reboot();
  RestoreReport r = Restore(*sim_, config_, RestoreOpts());
  EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
}

TEST(DeferredSignalsTest, HoldsSignalsUntilTakenAndPutsTheMaskBack) {
  {
    DeferredSignals held;
    EXPECT_EQ(held.Take(), 0);
    ASSERT_EQ(::raise(SIGTERM), 0);  // pending, not delivered: the test lives on
    EXPECT_EQ(held.Take(), SIGTERM);
    EXPECT_EQ(held.Take(), SIGTERM) << "a stop asked for stays asked for";
  }
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  EXPECT_FALSE(sigismember(&now, SIGTERM));
}

}  // namespace
}  // namespace warmboot
