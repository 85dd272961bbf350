// preserve with kexec on, over the simulated platform and FakeKexecSystem: the kexec plan is
// checked before the point of no return, the kernel is loaded after the image is sealed, and a
// failed load leaves a sealed image, a running machine and a restore that works.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "preserve/preserve.h"
#include "restore/restore.h"
#include "testing/fake_kexec_system.h"
#include "testing/sim_machine.h"
#include "testing/simulated_pmem.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::FakeKexecSystem;
using testing::TempDir;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class KexecPreserveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto machine = testing::MakeSimMachine(dir_.path());
    ASSERT_TRUE(machine.ok()) << machine.status().ToString();
    sim_ = std::move(machine->sim);
    config_ = machine->config;
    testing::MakeDirs(config_.state_dir + "/app");
    testing::WriteFile(config_.state_dir + "/app/db", std::string(300000, 'd'));
    testing::WriteFile(config_.state_dir + "/app/config", "port = 1\n", 0600);
  }
  static TransitionOptions Fast() { return testing::NoSleepTransitions(); }
  PreserveOptions Opts() {
    PreserveOptions o;
    o.transition = Fast();
    o.kexec = true;
    o.kexec_system = &kexec_;
    return o;
  }
  std::vector<std::string> PhaseNames(const PreserveReport& r) {
    std::vector<std::string> names;
    for (const Phase& p : r.phases.phases()) names.push_back(p.name);
    return names;
  }
  size_t PhaseIndex(const PreserveReport& r, const std::string& name) {
    auto names = PhaseNames(r);
    return std::find(names.begin(), names.end(), name) - names.begin();
  }
  void ExpectMemoryOnline() {
    auto info = sim_->Probe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mode, PmemMode::kSystemRam);
    EXPECT_EQ(info->OnlineBlocks(), 4u);
  }

  TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
  FakeKexecSystem kexec_;
};

TEST_F(KexecPreserveTest, OffUnlessAskedFor) {
  PreserveOptions o;
  o.transition = Fast();
  EXPECT_FALSE(o.kexec);
  PreserveReport r = Preserve(*sim_, config_, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.kexec.has_value());
  EXPECT_FALSE(ToJson(r).contains("kexec"));
}

TEST_F(KexecPreserveTest, LoadsTheNextKernelAfterTheSealAndNeverReboots) {
  config_.append = "warmboot=1";
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.image_sealed);
  ASSERT_TRUE(r.kexec_load.has_value());
  EXPECT_EQ(r.kexec_load->loader, KexecLoader::kFileLoad);
  ASSERT_EQ(kexec_.loads.size(), 1u);
  EXPECT_TRUE(Contains(kexec_.loads[0].cmdline, "memmap=528M!4G"));
  EXPECT_TRUE(Contains(kexec_.loads[0].cmdline, "warmboot=1"));
  EXPECT_TRUE(kexec_.Loaded());
  EXPECT_EQ(kexec_.reboots, 0);  // the CLI reboots, after the report is out
  EXPECT_EQ(kexec_.syncs, 0);
  // Checked in the plan (before anything changed), loaded after the seal, before the report.
  EXPECT_LT(PhaseIndex(r, "check kexec"), PhaseIndex(r, "write image"));
  EXPECT_LT(PhaseIndex(r, "write image"), PhaseIndex(r, "kexec load"));
  EXPECT_LT(PhaseIndex(r, "kexec load"), PhaseIndex(r, "write report"));
  nlohmann::json j = ToJson(r);
  EXPECT_EQ(j["kexec"]["kernel"], FakeKexecSystem::kKernel);
  EXPECT_EQ(j["kexec"]["loaded"], true);
  EXPECT_EQ(j["kexec"]["loader"], "kexec_file_load");

  // The next boot reads how the kernel was loaded from the report on the medium.
  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = Fast();
  ro.mount_tmpfs = false;
  RestoreReport restored = Restore(*sim_, config_, ro);
  ASSERT_EQ(restored.outcome, RestoreOutcome::kRestored) << restored.message;
  EXPECT_EQ(restored.preserve_report["kexec"]["loaded"], true);
}

// The kernel loads while the image is written (off the critical path), but never before the
// memory is out of System RAM: until then the kernel may place the next kernel's segments in it.
TEST_F(KexecPreserveTest, TheKernelLoadsOnceTheMemoryIsOutWhileTheImageIsWritten) {
  std::optional<PmemMode> mode_at_load;
  kexec_.on_load = [&] {
    auto info = sim_->Probe();
    if (info.ok()) mode_at_load = info->mode;
  };
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(mode_at_load.has_value());
  EXPECT_EQ(*mode_at_load, PmemMode::kRaw);
  const Phase& load = r.phases.phases()[PhaseIndex(r, "kexec load")];
  EXPECT_TRUE(Contains(load.detail, "loaded while the image was written")) << load.detail;
  EXPECT_TRUE(kexec_.Loaded());
}

// A write that fails after the load began: the kernel loaded meanwhile names an image that was
// never sealed, so it is unloaded again along with the memory going back.
TEST_F(KexecPreserveTest, AFailedWriteUnloadsTheKernelLoadedMeanwhile) {
  sim_->FailWritesAfter(4096);
  PreserveReport r = Preserve(*sim_, config_, Opts());
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(r.image_sealed);
  ASSERT_EQ(kexec_.loads.size(), 1u);
  EXPECT_EQ(kexec_.unloads, 1);
  EXPECT_FALSE(kexec_.Loaded());
  EXPECT_FALSE(r.kexec_load.has_value());
  ExpectMemoryOnline();
}

TEST_F(KexecPreserveTest, FallbackIsReported) {
  kexec_.probe_errno = ENOSYS;
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(r.kexec_load.has_value());
  EXPECT_EQ(r.kexec_load->loader, KexecLoader::kKexecTools);
  const Phase& load = r.phases.phases()[PhaseIndex(r, "kexec load")];
  EXPECT_TRUE(Contains(load.detail, "kexec_file_load unavailable (ENOSYS)")) << load.detail;
  EXPECT_EQ(ToJson(r)["kexec"]["loader"], "kexec-tools");
}

TEST_F(KexecPreserveTest, FailedCheckChangesNothing) {
  config_.kernel = "/boot/vmlinuz-missing";
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), Code::kNotFound);
  EXPECT_TRUE(Contains(r.status.message(), "/boot/vmlinuz-missing")) << r.status.message();
  EXPECT_TRUE(Contains(r.status.message(), "nothing changed")) << r.status.message();
  EXPECT_FALSE(r.memory_removed);
  EXPECT_FALSE(r.image_sealed);
  EXPECT_TRUE(kexec_.loads.empty());
  ExpectMemoryOnline();
}

TEST_F(KexecPreserveTest, NotRootIsRefusedBeforeHotRemove) {
  kexec_.boot_capability = false;
  PreserveReport r = Preserve(*sim_, config_, Opts());
  EXPECT_TRUE(Contains(r.status.message(), "kexec needs root")) << r.status.message();
  EXPECT_FALSE(r.memory_removed);
  ExpectMemoryOnline();
}

TEST_F(KexecPreserveTest, DryRunChecksKexecAndLoadsNothing) {
  PreserveOptions o = Opts();
  o.dry_run = true;
  PreserveReport r = Preserve(*sim_, config_, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(r.kexec.has_value());
  EXPECT_EQ(r.kexec->kernel, FakeKexecSystem::kKernel);
  EXPECT_LT(PhaseIndex(r, "check kexec"), r.phases.phases().size());
  EXPECT_TRUE(kexec_.loads.empty());
  ExpectMemoryOnline();
}

// --- The legacy (memmap=) region across the kexec: refused before the point of no return.

TEST_F(KexecPreserveTest, ACommandLineWithoutTheMemmapIsRefusedBeforeHotRemove) {
  // The simulated namespace is legacy pmem at 4 GiB; /proc/cmdline has memmap=528M!4G.
  for (const auto& [cmdline, append] : std::vector<std::pair<std::string, std::string>>{
           {"root=/dev/vda1 ro console=ttyS0", ""},   // dropped
           {"root=/dev/vda1 ro memmap=512M!4G", ""},  // changed
           {"", "memmap=exactmap memmap=3G@0"},       // undone by an append
       }) {
    config_.cmdline = cmdline;
    config_.append = append;
    PreserveReport r = Preserve(*sim_, config_, Opts());
    ASSERT_FALSE(r.status.ok()) << cmdline << append;
    EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
    const std::string& m = r.status.message();
    EXPECT_TRUE(Contains(m, "Keep memmap=528M!4G")) << m;
    EXPECT_TRUE(Contains(m, "namespace0.0")) << m;
    EXPECT_TRUE(Contains(m, "nothing changed")) << m;
    EXPECT_FALSE(r.memory_removed);
    EXPECT_FALSE(r.image_sealed);
    EXPECT_TRUE(kexec_.loads.empty());
    EXPECT_TRUE(kexec_.runs.empty());
    ExpectMemoryOnline();
    EXPECT_EQ(testing::ReadFile(config_.state_dir + "/app/db"), std::string(300000, 'd'));
    const Phase& check = r.phases.phases()[PhaseIndex(r, "check kexec")];
    EXPECT_FALSE(check.ok);
    EXPECT_EQ(PhaseIndex(r, "offline memory blocks"), r.phases.phases().size());
  }
}

TEST_F(KexecPreserveTest, ACommandLineThatKeepsTheMemmapIsLoaded) {
  config_.cmdline = "root=/dev/vda1 ro memmap=528M!4G";
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(kexec_.loads.size(), 1u);
  ASSERT_TRUE(r.pack.has_value());
  // The next kernel's command line names the image it is to restore.
  EXPECT_EQ(kexec_.loads[0].cmdline,
            "root=/dev/vda1 ro memmap=528M!4G warmboot.image=" + UuidToString(r.pack->image_uuid));
  EXPECT_EQ(ToJson(r)["kexec"]["legacy_pmem"]["phys_start"], 4ull << 30);
}

TEST_F(KexecPreserveTest, TheNextBootRestoresTheImageItsCommandLineNames) {
  // The token of an earlier warm reboot, carried in a configured command line, is replaced.
  config_.cmdline =
      "root=/dev/vda1 warmboot.image=00000000-0000-4000-8000-000000000001 ro "
      "memmap=528M!4G -- init-arg";
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(kexec_.loads.size(), 1u);
  const std::string token = "warmboot.image=" + UuidToString(r.pack->image_uuid);
  EXPECT_EQ(kexec_.loads[0].cmdline, "root=/dev/vda1 ro memmap=528M!4G " + token + " -- init-arg");
  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = Fast();
  ro.boot = ThisBoot{RandomUuid(), kexec_.loads[0].cmdline};
  RestoreReport restored = Restore(*sim_, config_, ro);
  ASSERT_TRUE(restored.status.ok()) << restored.status.ToString();
  EXPECT_EQ(restored.outcome, RestoreOutcome::kRestored);
  EXPECT_EQ(restored.image_intent, "named");
  EXPECT_EQ(restored.named_image, UuidToString(r.pack->image_uuid));
}

TEST_F(KexecPreserveTest, AnNvdimmNeedsNoMemmap) {
  TempDir nv_dir;
  auto nv = testing::MakeSimMachine(nv_dir.path(), /*labeled=*/true);
  ASSERT_TRUE(nv.ok()) << nv.status().ToString();
  testing::MakeDirs(nv->config.state_dir);
  testing::WriteFile(nv->config.state_dir + "/db", "state");
  nv->config.cmdline = "root=/dev/vda1 ro";
  kexec_.probe_errno = ENOSYS;  // and kexec-tools may load anywhere: the NVDIMM is not RAM there
  PreserveReport r = Preserve(*nv->sim, nv->config, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(kexec_.runs.size(), 1u);
  EXPECT_EQ(kexec_.runs[0][3], FakeKexecSystem::kKernel);  // no --mem-max
  EXPECT_FALSE(ToJson(r)["kexec"].contains("legacy_pmem"));
}

TEST_F(KexecPreserveTest, KexecToolsLoadsBelowTheLegacyRegion) {
  kexec_.probe_errno = ENOSYS;
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(kexec_.runs.size(), 1u);
  const std::vector<std::string>& argv = kexec_.runs[0];
  // The region starts at 4 GiB: nothing may end above 0xffffffff.
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--mem-max=0xffffffff"), argv.end())
      << ::testing::PrintToString(argv);
  EXPECT_TRUE(Contains(r.kexec->loader_note, "--mem-max=0xffffffff")) << r.kexec->loader_note;
}

TEST_F(KexecPreserveTest, KexecToolsIsRefusedWhereTheRegionsAddressIsUnknown) {
  sim_->SetPhysStart(0);
  kexec_.probe_errno = ENOSYS;
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), Code::kUnsupported);
  const std::string& m = r.status.message();
  EXPECT_TRUE(Contains(m, "kexec_file_load unavailable (ENOSYS")) << m;
  EXPECT_TRUE(Contains(m, "would load the next kernel over the pmem region of namespace0.0")) << m;
  EXPECT_TRUE(Contains(m, "nothing changed")) << m;
  EXPECT_FALSE(r.memory_removed);
  EXPECT_FALSE(r.image_sealed);
  EXPECT_TRUE(kexec_.runs.empty());
  ExpectMemoryOnline();
}

TEST_F(KexecPreserveTest, FailedLoadAfterTheSealLeavesAUsableMachine) {
  kexec_.load_errnos = {EBUSY};
  PreserveReport r = Preserve(*sim_, config_, Opts());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), Code::kBusy);
  EXPECT_TRUE(r.image_sealed);
  EXPECT_FALSE(r.kexec_load.has_value());
  const std::string& m = r.status.message();
  EXPECT_TRUE(Contains(m, "the image is sealed")) << m;
  EXPECT_TRUE(Contains(m, "another kexec load is in progress")) << m;
  EXPECT_TRUE(Contains(m, "warmboot restore")) << m;
  EXPECT_TRUE(Contains(m, "memmap=")) << m;
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw);
  EXPECT_EQ(ToJson(r)["kexec"]["loaded"], false);

  // 'warmboot restore' in the same boot takes the state back and returns the memory.
  RestoreOptions ro;
  ro.transition = Fast();
  ro.mount_tmpfs = false;
  RestoreReport restored = Restore(*sim_, config_, ro);
  ASSERT_EQ(restored.outcome, RestoreOutcome::kRestored) << restored.message;
  EXPECT_EQ(testing::DiffTrees(config_.state_dir, config_.restore_dir), "");
  ExpectMemoryOnline();
}

}  // namespace
}  // namespace warmboot
