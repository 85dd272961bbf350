// The restore of a boot ('warmboot restore --boot', restore/boot_restore.h) and the boot type it
// records (restore/boot_record.h): at most one restore per boot whether the initramfs or the
// unit runs first, the history appended once and never from the initramfs, and warm / cold /
// failed-warm with the reason, taken from the previous preserve where it speaks for this boot.
#include <gtest/gtest.h>
#include <linux/magic.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "orchestration/machine_lock.h"
#include "orchestration/report_store.h"
#include "preserve/preserve.h"
#include "restore/boot_restore.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"
#include "util/host_info.h"
#include "util/json_text.h"

namespace warmboot {
namespace {

class BootRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto machine = testing::MakeSimMachine(dir_.path());
    ASSERT_TRUE(machine.ok()) << machine.status().ToString();
    sim_ = std::move(machine->sim);
    config_ = machine->config;
    config_.history_dir = dir_.path() + "/history";
    boot_ = ThisBoot{RandomUuid(), "root=/dev/vda ro"};
  }
  // A new boot (the report_dir is /run: it starts empty) with this command line.
  void NewBoot(const std::string& cmdline) {
    sim_->Reboot();
    std::filesystem::remove_all(config_.report_dir);
    boot_ = ThisBoot{RandomUuid(), cmdline};
  }
  BootRestoreResult Run(bool in_initramfs, bool platform_fails = false) {
    BootRestoreOptions o;
    o.restore.transition = testing::NoSleepTransitions();
    o.restore.mount_tmpfs = false;
    o.restore.boot = boot_;
    o.restore.ran_in = in_initramfs ? "initramfs" : "system";
    o.in_initramfs = in_initramfs;
    o.open_platform = [this, platform_fails]() -> Result<PmemPlatform*> {
      if (platform_fails) return NotFound("no pmem namespace found");
      return sim_.get();
    };
    return RestoreBoot(config_, o);
  }
  std::string Preserve() {
    testing::MakeDirs(config_.state_dir + "/app");
    testing::WriteRandomFile(config_.state_dir + "/app/table", 1 << 20, 5);
    PreserveOptions po;
    po.transition = testing::NoSleepTransitions();
    PreserveReport p = warmboot::Preserve(*sim_, config_, po);
    EXPECT_TRUE(p.status.ok()) << p.status.ToString();
    return UuidToString(p.pack->image_uuid);
  }
  std::vector<nlohmann::json> History() {
    std::vector<nlohmann::json> lines;
    std::ifstream in(config_.history_dir + "/boots.jsonl");
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
  void SaveLastPreserve(const nlohmann::json& j) {
    ASSERT_TRUE(SaveReport(config_.history_dir, "last-preserve", j).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
  ThisBoot boot_;
};

// The initramfs is a rootfs whose PID 1 is initramfs-tools' /init, or an initrd that says so; a
// diskless machine's tmpfs root under systemd is the real root, where the boot's history goes.
TEST(InitramfsTest, ARootfsIsTheInitramfsUnlessSystemdRunsThere) {
  EXPECT_TRUE(LooksLikeInitramfs(false, RAMFS_MAGIC, "init"));
  EXPECT_TRUE(LooksLikeInitramfs(false, TMPFS_MAGIC, "init"));
  EXPECT_TRUE(LooksLikeInitramfs(false, TMPFS_MAGIC, ""));  // /proc/1/comm unreadable
  EXPECT_FALSE(LooksLikeInitramfs(false, TMPFS_MAGIC, "systemd"));
  EXPECT_FALSE(LooksLikeInitramfs(false, EXT4_SUPER_MAGIC, "init"));
  EXPECT_FALSE(LooksLikeInitramfs(false, EXT4_SUPER_MAGIC, "systemd"));
  // A systemd initrd (dracut, mkosi) says what it is.
  EXPECT_TRUE(LooksLikeInitramfs(true, TMPFS_MAGIC, "systemd"));
}

TEST_F(BootRecordTest, AColdBootIsRecordedOnceAndASecondRunRestoresNothing) {
  BootRestoreResult first = Run(false);
  EXPECT_TRUE(first.restored_now);
  EXPECT_EQ(first.restore["outcome"], "nothing-to-restore");
  EXPECT_EQ(first.record.type, BootType::kCold);
  EXPECT_EQ(first.record.reason, "this boot's command line names no image");
  EXPECT_EQ(first.boot["boot_id"], UuidToString(boot_.boot_id));
  EXPECT_EQ(first.boot["type"], "cold");
  auto saved = LoadReport(config_.report_dir, "boot");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ((*saved)["type"], "cold");
  ASSERT_EQ(History().size(), 1u);

  BootRestoreResult second = Run(false);
  EXPECT_FALSE(second.restored_now);
  EXPECT_FALSE(second.report.has_value());
  EXPECT_NE(second.line.find("this boot's restore already ran (in the system, "
                             "nothing-to-restore): nothing to do"),
            std::string::npos)
      << second.line;
  EXPECT_NE(second.history.find("already in"), std::string::npos) << second.history;
  EXPECT_EQ(History().size(), 1u);
}

TEST_F(BootRecordTest, TheInitramfsRestoresAndTheUnitOnlyAppendsTheHistory) {
  BootRestoreResult initramfs = Run(true);
  EXPECT_TRUE(initramfs.restored_now);
  EXPECT_EQ(initramfs.restore["ran_in"], "initramfs");
  EXPECT_NE(initramfs.history.find("left to warmboot-restore.service"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(config_.history_dir));

  BootRestoreResult unit = Run(false);
  EXPECT_FALSE(unit.restored_now);
  EXPECT_NE(unit.earlier_note.find("already ran (in the initramfs"), std::string::npos)
      << unit.earlier_note;
  EXPECT_EQ(unit.record.type, BootType::kCold);
  ASSERT_EQ(History().size(), 1u);
  EXPECT_EQ(History()[0]["restore"]["ran_in"], "initramfs");
  EXPECT_EQ(History()[0]["boot_id"], UuidToString(boot_.boot_id));
}

TEST_F(BootRecordTest, AFailedInitramfsRestoreIsTriedAgainInTheRealRoot) {
  BootRestoreResult initramfs = Run(true, /*platform_fails=*/true);
  EXPECT_TRUE(initramfs.restored_now);
  EXPECT_FALSE(initramfs.status.ok());
  EXPECT_EQ(initramfs.restore["outcome"], "failed");
  EXPECT_NE(initramfs.record.reason.find("the restore failed: no pmem namespace found"),
            std::string::npos)
      << initramfs.record.reason;

  BootRestoreResult unit = Run(false);
  EXPECT_TRUE(unit.restored_now);
  EXPECT_TRUE(unit.status.ok()) << unit.status.ToString();
  EXPECT_NE(unit.earlier_note.find("failed (no pmem namespace found); trying again"),
            std::string::npos)
      << unit.earlier_note;
  EXPECT_EQ(unit.restore["outcome"], "nothing-to-restore");
}

// The state came back in the initramfs but giving the memory back failed there: the unit's run
// tries the give-back again (it saw an outcome other than "failed" and did nothing, and the
// memory stayed out for the whole boot).
TEST_F(BootRecordTest, AGiveBackThatFailedInTheInitramfsIsTriedAgainInTheRealRoot) {
  const std::string uuid = Preserve();
  NewBoot("root=/dev/vda ro warmboot.image=" + uuid);
  sim_->FailStep(PmemStep::kReconfigure, Status(Code::kIoError, "injected: devdax refused"));
  BootRestoreResult initramfs = Run(true);
  EXPECT_EQ(initramfs.restore["outcome"], "restored");
  EXPECT_FALSE(JsonBool(initramfs.restore, "memory_returned"));
  EXPECT_NE(sim_->mode(), PmemMode::kSystemRam);

  BootRestoreResult unit = Run(false);
  EXPECT_TRUE(unit.restored_now);
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
  EXPECT_EQ(unit.record.type, BootType::kWarm) << unit.record.reason;
  // The boot's report still says what came back, now with the give-back it owed, and the boot's
  // record is built from it (the blackout included).
  auto kept = LoadReport(config_.report_dir, "restore");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)["outcome"], "restored");
  EXPECT_EQ(JsonString((*kept)["give_back"], "outcome"), "given-back") << kept->dump();
  EXPECT_EQ(unit.restore["outcome"], "restored");
}

TEST_F(BootRecordTest, TheNamedImageRestoredIsAWarmBoot) {
  const std::string uuid = Preserve();
  NewBoot("root=/dev/vda ro warmboot.image=" + uuid);
  BootRestoreResult r = Run(true);
  EXPECT_EQ(r.restore["outcome"], "restored");
  EXPECT_EQ(r.record.type, BootType::kWarm) << r.record.reason;
  EXPECT_EQ(r.boot["named_image"], uuid);
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
}

TEST_F(BootRecordTest, ANamedImageThatIsNotThereIsAFailedWarmBoot) {
  const std::string uuid = UuidToString(RandomUuid());
  NewBoot("root=/dev/vda ro warmboot.image=" + uuid);
  BootRestoreResult r = Run(false);
  EXPECT_EQ(r.record.type, BootType::kFailedWarm);
  EXPECT_NE(r.record.reason.find("names image " + uuid + ", but the restore found no image"),
            std::string::npos)
      << r.record.reason;
  EXPECT_EQ(r.boot["type"], "failed-warm");
}

TEST_F(BootRecordTest, TheFailedPreserveOfTheNamedImageGivesTheReason) {
  const std::string uuid = UuidToString(RandomUuid());
  SaveLastPreserve({{"ok", false},
                    {"started_ns", NowUnixNanos()},
                    {"pack", {{"uuid", uuid}}},
                    {"error", {{"code", "io-error"}, {"message", "cannot write /dev/pmem0"}}}});
  NewBoot("root=/dev/vda ro warmboot.image=" + uuid);
  BootRestoreResult r = Run(false);
  EXPECT_EQ(r.record.type, BootType::kFailedWarm);
  EXPECT_TRUE(r.record.used_last_preserve);
  EXPECT_NE(r.record.reason.find("the preserve that was to write it failed: cannot write "
                                 "/dev/pmem0"),
            std::string::npos)
      << r.record.reason;
  EXPECT_EQ(r.boot["last_preserve"]["image"], uuid);
}

TEST_F(BootRecordTest, APreserveThatFailedInThePreviousBootMakesAnUnnamedBootFailedWarm) {
  Run(false);  // the previous boot, recorded
  SaveLastPreserve({{"ok", false},
                    {"started_ns", NowUnixNanos() + 1},
                    {"error", {{"code", "busy"}, {"message", "cannot offline memory block 17"}}}});
  NewBoot("root=/dev/vda ro");
  BootRestoreResult r = Run(false);
  EXPECT_EQ(r.record.type, BootType::kFailedWarm);
  EXPECT_NE(r.record.reason.find("the previous boot's preserve failed: cannot offline memory "
                                 "block 17"),
            std::string::npos)
      << r.record.reason;
  ASSERT_EQ(History().size(), 2u);
  EXPECT_EQ(History()[1]["type"], "failed-warm");

  // A boot later, the same failed preserve is older than the last boot on record: cold.
  NewBoot("root=/dev/vda ro");
  EXPECT_EQ(Run(false).record.type, BootType::kCold);
}

TEST_F(BootRecordTest, ASealedImageWhoseKexecNeverHappenedIsAFailedWarmBoot) {
  Run(false);  // the previous boot, recorded
  const std::string uuid = Preserve();
  SaveLastPreserve({{"ok", true},
                    {"image_sealed", true},
                    {"started_ns", NowUnixNanos()},
                    {"pack", {{"uuid", uuid}}}});
  NewBoot("root=/dev/vda ro");  // a reboot through the firmware
  BootRestoreResult r = Run(false);
  EXPECT_EQ(r.restore["outcome"], "stale-image");
  EXPECT_EQ(r.record.type, BootType::kFailedWarm);
  EXPECT_NE(r.record.reason.find("sealed image " + uuid +
                                 ", but this boot was not started by "
                                 "its kexec"),
            std::string::npos)
      << r.record.reason;
}

TEST_F(BootRecordTest, AWarmRebootRefusedAndMadeColdSaysWhy) {
  Run(false);  // the boot that was asked to reboot warm
  ASSERT_TRUE(SaveReport(config_.history_dir, "reboot-cause",
                         {{"reboot", "cold"},
                          {"cause", "the state does not fit: 900 MiB in 528 MiB"},
                          {"code", "no-space"},
                          {"at_ns", NowUnixNanos()},
                          {"boot_id", UuidToString(boot_.boot_id)}})
                  .ok());
  NewBoot("root=/dev/vda ro");
  BootRestoreResult r = Run(false);
  EXPECT_EQ(r.record.type, BootType::kCold);
  EXPECT_TRUE(r.record.used_reboot_cause);
  EXPECT_EQ(r.record.reason,
            "the warm reboot was refused and fell back to an ordinary one: the state does not "
            "fit: 900 MiB in 528 MiB");
  EXPECT_EQ(r.boot["reboot_cause"]["code"], "no-space");

  // The boot after that one is plainly cold.
  NewBoot("root=/dev/vda ro");
  EXPECT_EQ(Run(false).record.reason, "this boot's command line names no image");
}

// A restore --boot that runs while a give-back holds the machine lock writes the boot's record
// from the report as the give-back left it, not as it read it before: its memory_returned is
// not undone.
TEST_F(BootRecordTest, TheRecordIsWrittenFromTheReportAsTheLockHolderLeftIt) {
  Preserve();
  NewBoot("root=/dev/vda ro");
  ASSERT_TRUE(Run(false).restored_now);
  auto restore = LoadReport(config_.report_dir, "restore");
  ASSERT_TRUE(restore.ok());
  restore->erase("memory_returned");
  (*restore)["memory_returned"] = false;  // the state of the report before a give-back
  ASSERT_TRUE(SaveReport(config_.report_dir, "restore", *restore).ok());
  auto held = MachineLock::Acquire(config_.lock_file, "give-back", std::chrono::milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  BootRestoreResult again;
  std::thread unit([&] { again = Run(false); });  // reads the report, then waits for the lock
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  (*restore)["memory_returned"] = true;  // what the give-back records, under its lock
  ASSERT_TRUE(SaveReport(config_.report_dir, "restore", *restore).ok());
  { MachineLock release = std::move(*held); }
  unit.join();
  EXPECT_FALSE(again.restored_now);
  auto boot = LoadReport(config_.report_dir, "boot");
  ASSERT_TRUE(boot.ok());
  EXPECT_TRUE((*boot)["restore"].value("memory_returned", false)) << boot->dump();
}

TEST_F(BootRecordTest, ATornHistoryLineIsSkipped) {
  std::filesystem::create_directories(config_.history_dir);
  std::ofstream(config_.history_dir + "/boots.jsonl")
      << R"({"boot_id":"x","type":"cold","recorded_ns":5})"
      << "\n{\"boot_id\":\"y\",\"ty";
  auto tail = ReadHistoryTail(config_.history_dir, "z");
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->previous["boot_id"], "x");
  EXPECT_FALSE(tail->this_boot_recorded);
  // The next record starts on a line of its own: glued onto the torn one, it was lost with it.
  ASSERT_TRUE(AppendHistory(config_.history_dir, {{"boot_id", "z"}, {"type", "warm"}}).ok());
  auto after = ReadHistoryTail(config_.history_dir, "z");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->this_boot_recorded);
  auto warm = LastBootOfType(config_.history_dir, "warm");
  ASSERT_TRUE(warm.ok());
  EXPECT_EQ(JsonString(*warm, "boot_id"), "z");
}

}  // namespace
}  // namespace warmboot
