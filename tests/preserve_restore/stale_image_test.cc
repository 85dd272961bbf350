// Restore acts on its own only on the image this boot is meant to restore (issue 9, item 10):
// the one its command line names (warmboot.image=), or one sealed earlier in the same boot. A
// stale image is kept, with its memory, until asked for by uuid or by the configured policy.
#include <gtest/gtest.h>

#include <filesystem>

#include "preserve/preserve.h"
#include "restore/restore.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

class StaleImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto machine = testing::MakeSimMachine(dir_.path());
    ASSERT_TRUE(machine.ok()) << machine.status().ToString();
    sim_ = std::move(machine->sim);
    config_ = machine->config;
    testing::MakeDirs(config_.state_dir + "/app");
    testing::WriteRandomFile(config_.state_dir + "/app/table", 1 << 20, 3);
    PreserveOptions po;
    po.transition = testing::NoSleepTransitions();
    PreserveReport p = Preserve(*sim_, config_, po);
    ASSERT_TRUE(p.status.ok()) << p.status.ToString();
    uuid_ = UuidToString(p.pack->image_uuid);
    sim_->Reboot();
  }
  // A restore in a new boot whose command line is `cmdline`.
  RestoreReport RestoreIn(const std::string& cmdline, const std::string& image = "") {
    RestoreOptions o;
    o.transition = testing::NoSleepTransitions();
    o.mount_tmpfs = false;
    o.boot = ThisBoot{RandomUuid(), cmdline};
    o.image = image;
    return Restore(*sim_, config_, o);
  }
  void ExpectKept(const RestoreReport& r) {
    EXPECT_TRUE(r.image_kept);
    EXPECT_FALSE(r.memory_returned);
    EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
    EXPECT_FALSE(std::filesystem::exists(config_.restore_dir + "/app"));
    auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
    ASSERT_TRUE(media.ok());
    auto inspect = InspectImage(**media, InspectDepth::kHeaderAndSeal);
    ASSERT_TRUE(inspect.ok());
    EXPECT_EQ(inspect->state, ImageState::kSealed);
  }
  void ExpectRestored(const RestoreReport& r) {
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.outcome, RestoreOutcome::kRestored) << r.message;
    EXPECT_TRUE(r.memory_returned);
    EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  }

  testing::TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
  std::string uuid_;
};

TEST_F(StaleImageTest, ABootThatNamesNoImageKeepsItAndSaysHowToRestoreIt) {
  RestoreReport r = RestoreIn("root=/dev/vda1 ro");
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RestoreOutcome::kStale);
  EXPECT_EQ(r.image_intent, "stale");
  EXPECT_EQ(r.named_image, "");
  EXPECT_NE(r.message.find("was not meant for this boot"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("names no image"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("warmboot restore --image " + uuid_), std::string::npos) << r.message;
  ExpectKept(r);

  // Asked for by its uuid, it is restored.
  RestoreReport again = RestoreIn("root=/dev/vda1 ro", uuid_);
  ExpectRestored(again);
  EXPECT_EQ(again.image_intent, "requested");
}

TEST_F(StaleImageTest, ABootThatNamesAnotherImageKeepsThisOne) {
  const std::string other = UuidToString(RandomUuid());
  RestoreReport r = RestoreIn("ro warmboot.image=" + other);
  EXPECT_EQ(r.outcome, RestoreOutcome::kStale);
  EXPECT_EQ(r.named_image, other);
  EXPECT_NE(r.message.find("names image " + other), std::string::npos) << r.message;
  ExpectKept(r);
}

TEST_F(StaleImageTest, TheImageTheBootNamesIsRestored) {
  RestoreReport r = RestoreIn("ro \"warmboot.image=" + uuid_ + "\" quiet");
  ExpectRestored(r);
  EXPECT_EQ(r.image_intent, "named");
}

TEST_F(StaleImageTest, AfterBareDoubleDashTheTokenIsInitsAndNamesNothing) {
  RestoreReport r = RestoreIn("ro -- warmboot.image=" + uuid_);
  EXPECT_EQ(r.outcome, RestoreOutcome::kStale);
  ExpectKept(r);
}

TEST_F(StaleImageTest, ThePolicyRestoresStaleImages) {
  config_.restore_stale_images = true;
  RestoreReport r = RestoreIn("root=/dev/vda1");
  ExpectRestored(r);
  EXPECT_EQ(r.image_intent, "policy");
}

TEST_F(StaleImageTest, ARequestForAnotherImageIsRefusedAndTheImageKept) {
  RestoreReport r = RestoreIn("root=/dev/vda1", UuidToString(RandomUuid()));
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.ToString();
  EXPECT_NE(r.message.find("not "), std::string::npos);
  ExpectKept(r);
}

TEST_F(StaleImageTest, AnImageSealedInThisBootIsTakenBack) {
  RestoreOptions o;
  o.transition = testing::NoSleepTransitions();
  o.mount_tmpfs = false;
  auto media = sim_->OpenRawMedia(OpenMode::kReadOnly);
  ASSERT_TRUE(media.ok());
  auto inspect = InspectImage(**media, InspectDepth::kHeaderAndSeal);
  ASSERT_TRUE(inspect.ok());
  media->reset();
  o.boot = ThisBoot{inspect->header.writer_boot_id, "root=/dev/vda1"};
  RestoreReport r = Restore(*sim_, config_, o);
  ExpectRestored(r);
  EXPECT_EQ(r.image_intent, "same-boot");
}

}  // namespace
}  // namespace warmboot
