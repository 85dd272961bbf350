// warmboot reboot and warmboot-preserve.service's stop, over the simulated namespace, a real
// warmbootd on a temporary socket, FakeKexecSystem and FakeServiceManager: the round runs while
// the apps run and is held; the kernel is loaded before the services stop; the preserve at
// shutdown adopts the round and writes the image the loaded kernel's command line names; a
// refusal changes nothing (or, with fallback_cold, reboots the ordinary way and says why); a
// shutdown that is not a kexec is left alone.
#include "preserve/reboot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <thread>

#include "cli/checkpoint_round.h"
#include "client/client.h"
#include "daemon/server.h"
#include "orchestration/machine_lock.h"
#include "orchestration/report_store.h"
#include "pmem/transitions.h"
#include "restore/restore.h"
#include "restore/timeline.h"
#include "testing/api_daemon.h"
#include "testing/fake_kexec_system.h"
#include "testing/fake_service_manager.h"
#include "testing/sim_machine.h"
#include "testing/test_util.h"
#include "util/host_info.h"

namespace warmboot {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;

using testing::FakeKexecSystem;
using testing::FakeServiceManager;

class RebootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = testing::MakeSimMachine(dir_.path());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    sim_ = std::move(m->sim);
    config_ = m->config;
    config_.api_socket = dir_ / "api.sock";
    config_.checkpoint_deadline_ms = 3000;
    testing::MakeDirs(config_.state_dir);
    testing::WriteFile(config_.state_dir + "/plain", "a state-directory file");
    daemon_ = std::make_unique<testing::ApiDaemon>(config_.api_socket, daemon::ServerOptions{});
    auto app = client::Client::Connect("db", config_.api_socket);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::make_unique<client::Client>(std::move(*app));
    ASSERT_TRUE(app_->PutBytes("index", "db's index").ok());
    boot_.boot_id = RandomUuid();
  }
  // A warm reboot while the application answers the round ready.
  RebootReport RebootAnswered(const RebootOptions& o) {
    std::thread app = Answer();
    RebootReport r = WarmReboot(*sim_, config_, o, boot_);
    app.join();
    return r;
  }
  // warmboot-prepare.service's stop while the application answers the round ready.
  PrepareReport PrepareAnswered() {
    PrepareOptions po;
    po.reboot_param = dir_ / "reboot-param";
    po.services = &services_;
    po.kexec_system = &kexec_;
    po.hold_ms = 60000;
    po.checkpoint = [this](uint64_t deadline_ms, uint64_t hold_ms) {
      return cli::RunCheckpointRound(config_.api_socket, deadline_ms, hold_ms);
    };
    std::thread app = Answer();
    PrepareReport p = PrepareAtShutdown(config_, po, boot_);
    app.join();
    return p;
  }
  // The app answers the next round ready.
  std::thread Answer() {
    return std::thread([this] {
      auto p = app_->WaitForPrepare(10000);
      ASSERT_TRUE(p.ok() && p->has_value()) << p.status().ToString();
      EXPECT_TRUE(app_->Ready((*p)->round).ok());
    });
  }
  RebootOptions Options() {
    RebootOptions o;
    o.kexec_system = &kexec_;
    o.services = &services_;
    o.checkpoint = [this](uint64_t deadline_ms, uint64_t hold_ms) {
      return cli::RunCheckpointRound(config_.api_socket, deadline_ms, hold_ms);
    };
    o.end_held = [this](uint64_t round) { (void)cli::EndHeldRound(config_.api_socket, round); };
    o.transition = testing::NoSleepTransitions();
    o.mem_available = [this] { return available_; };
    return o;
  }
  uint64_t OnlineBlocks() {
    auto info = sim_->Probe();
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->OnlineBlocks() : 0;
  }
  ShutdownOptions AtShutdown() {
    ShutdownOptions o;
    o.jump_dir = dir_.path();
    o.reboot_param = dir_ / "reboot-param";
    o.transition = testing::NoSleepTransitions();
    o.kexec_system = &kexec_;
    o.services = &services_;
    o.adopt = [this](uint64_t round) {
      return cli::AdoptCheckpointRound(config_.api_socket, round);
    };
    o.checkpoint = [this](uint64_t deadline_ms) {
      return cli::RunCheckpointRound(config_.api_socket, deadline_ms);
    };
    return o;
  }
  void ExpectNothingChanged() {
    auto info = sim_->Probe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mode, PmemMode::kSystemRam);
    EXPECT_EQ(info->OnlineBlocks(), 4u);
    EXPECT_FALSE(kexec_.Loaded()) << "the next kernel is unloaded";
    EXPECT_TRUE(app_->PutBytes("index", "thawed").ok()) << "the round ended: the set thawed";
    auto pending = LoadPendingReboot(config_, boot_.boot_id);
    ASSERT_TRUE(pending.ok());
    EXPECT_FALSE(pending->has_value());
  }

  testing::TempDir dir_;
  uint64_t available_ = 8ull << 30;  // the memory available, as /proc/meminfo would say
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
  FakeKexecSystem kexec_;
  FakeServiceManager services_;
  ThisBoot boot_;
  std::unique_ptr<testing::ApiDaemon> daemon_;
  std::unique_ptr<client::Client> app_;
};

TEST_F(RebootTest, TheRoundRunsFirstTheKernelLoadsThenSystemdTakesOverAndTheStateComesBack) {
  RebootReport r = RebootAnswered(Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RebootOutcome::kWarm);
  EXPECT_EQ(services_.kexec_starts, 1);
  ASSERT_EQ(kexec_.loads.size(), 1u);
  EXPECT_NE(kexec_.loads[0].cmdline.find("warmboot.image=" + r.image), std::string::npos)
      << kexec_.loads[0].cmdline;
  EXPECT_EQ(r.checks.checkpoint.value("ready", 0), 1);
  // The memory is out already, taken out while the services ran (there is room): blocks
  // offlined, kmem unbound, the namespace raw. The set is frozen while the services stop.
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw) << "hot-removed while the services ran";
  EXPECT_EQ(sim_->leaked_blocks(), 0u);
  EXPECT_TRUE(r.offline_early_why_not.empty()) << r.offline_early_why_not;
  std::vector<std::string> early;
  for (const Phase& p : r.offline_early.phases()) early.push_back(p.name);
  EXPECT_NE(std::find(early.begin(), early.end(), "unbind kmem (hot-remove)"), early.end());
  EXPECT_NE(std::find(early.begin(), early.end(), "namespace to raw"), early.end());
  EXPECT_EQ(app_->PutBytes("index", "too late").code(), Code::kBusy);
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->round, r.round);
  // The blackout begins when systemd is asked: after the checks and the load.
  const int64_t handed_over = (*pending)->handed_over_ns;
  EXPECT_GE(handed_over, r.started_ns);

  // The services stop (the app goes), then warmboot-preserve.service's stop.
  app_.reset();
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.acted) << s.why_not;
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_EQ(s.preserve.handed_over_ns, handed_over) << "carried into the preserve's report";
  EXPECT_TRUE(s.preserve.image_sealed);
  EXPECT_EQ(UuidToString(s.preserve.pack->image_uuid), r.image) << "the image the kernel names";
  EXPECT_EQ(kexec_.loads.size(), 1u) << "the kernel loaded before the services stopped is kept";
  EXPECT_EQ(kexec_.reboots, 0) << "systemd jumps, not warmboot";
  EXPECT_EQ(s.preserve.checkpoint.value("ready", 0), 1) << "the held round, adopted";
  for (const Phase& p : s.preserve.phases.phases()) {
    EXPECT_TRUE(p.name != "unbind kmem (hot-remove)" && p.name != "namespace to raw" &&
                p.name != "offline memory blocks")
        << p.name << ": done before the services stopped";
  }
  EXPECT_GT((*pending)->offline_early_seconds, 0);
  EXPECT_TRUE(std::any_of(s.preserve.notes.begin(), s.preserve.notes.end(),
                          [](const std::string& n) {
                            return n.find("before the services stopped") != std::string::npos;
                          }))
      << "the report says the offline was off the blackout";
  auto kept = LoadReport(config_.history_dir, "last-preserve");
  ASSERT_TRUE(kept.ok()) << "the next boot finds the report";
  EXPECT_GT((*kept)["offline_early_seconds"].get<double>(), 0) << "the kept report says so too";

  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = testing::NoSleepTransitions();
  ro.mount_tmpfs = false;
  // The simulated kernel boots now: its boot clock starts here.
  const int64_t booted = NowUnixNanos();
  ro.clock = [booted] {
    ClockSnapshot c = TakeClockSnapshot();
    c.boottime_ns = c.realtime_ns - booted;
    return c;
  };
  RestoreReport back = Restore(*sim_, config_, ro);
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  EXPECT_EQ(back.outcome, RestoreOutcome::kRestored) << back.message;
  // Through the image into the next boot's restore report, and from there onto the timeline.
  const nlohmann::json restored = ToJson(back);
  EXPECT_EQ(restored["preserve_report"].value("handed_over_ns", int64_t{0}), handed_over);
  auto timeline = TimelineFromRestore(restored);
  ASSERT_TRUE(timeline.ok()) << timeline.status().ToString();
  EXPECT_EQ(timeline->start_event, "handed-over");
  EXPECT_EQ(timeline->start_ns, handed_over);
  ASSERT_FALSE(timeline->segments.empty());
  EXPECT_EQ(timeline->segments.front().name, "services stopping");
  EXPECT_EQ(testing::ReadFile(config_.restore_dir + "/.warmboot-api/" +
                              std::to_string(::geteuid()) + "/db/index"),
            "db's index");
  EXPECT_EQ(testing::ReadFile(config_.restore_dir + "/plain"), "a state-directory file");
}

// systemd may start the preserve's stop as soon as the kexec is asked for: by then warmboot
// reboot has let go of the round, so the preserve can adopt it.
TEST_F(RebootTest, TheRoundIsLetGoBeforeSystemdIsAsked) {
  bool adopted = false;
  std::string why;
  services_.on_start_kexec = [&] {
    auto pending = LoadPendingReboot(config_, boot_.boot_id);
    ASSERT_TRUE(pending.ok() && pending->has_value());
    // The daemon sees the close a moment later: a few tries, as preserve --systemd makes.
    for (int i = 0; i < 50 && !adopted; ++i) {
      auto a = cli::AdoptCheckpointRound(config_.api_socket, (*pending)->round);
      adopted = a.ok();
      why = a.status().ToString();
      if (!adopted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  EXPECT_TRUE(adopted) << why;
}

TEST_F(RebootTest, ARefusalChangesNothing) {
  config_.kernel = "/boot/vmlinuz-missing";
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("vmlinuz-missing"), std::string::npos) << r.status.message();
  EXPECT_EQ(services_.kexec_starts + services_.reboot_starts, 0);
  EXPECT_TRUE(kexec_.loads.empty());
  ExpectNothingChanged();
}

TEST_F(RebootTest, WithFallbackColdARefusalRebootsTheOrdinaryWayAndKeepsWhy) {
  config_.kernel = "/boot/vmlinuz-missing";
  ASSERT_TRUE(SaveLoadedKernel(config_, boot_.boot_id).ok());  // an earlier kexec --load-only
  RebootOptions o = Options();
  o.fallback_cold = true;
  RebootReport r = RebootAnswered(o);
  EXPECT_EQ(r.outcome, RebootOutcome::kCold);
  EXPECT_EQ(services_.reboot_starts, 1);
  EXPECT_FALSE(LoadReport(config_.report_dir, "kexec-loaded").ok())
      << "the ordinary reboot is not made a warm one";
  EXPECT_EQ(services_.kexec_starts, 0);
  auto cause = LoadReport(config_.history_dir, "reboot-cause");
  ASSERT_TRUE(cause.ok()) << cause.status().ToString();
  EXPECT_EQ((*cause)["reboot"], "cold");
  EXPECT_NE((*cause)["cause"].get<std::string>().find("vmlinuz-missing"), std::string::npos);
  ExpectNothingChanged();
}

TEST_F(RebootTest, WhenSystemdRefusesTheKexecTheKernelIsUnloaded) {
  services_.start_kexec_result = Status(Code::kIoError, "'systemctl kexec' failed (exit 1)");
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_EQ(kexec_.loads.size(), 1u);
  EXPECT_EQ(kexec_.unloads, 1);
  ExpectNothingChanged();
}

TEST_F(RebootTest, WithoutRoomTheBlocksStayOnlineForThePreserveAtShutdown) {
  // 4 blocks of 128 MiB online, 1 GiB reserve: 1.4 GiB available is not enough.
  available_ = (1ull << 30) + (400ull << 20);
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  EXPECT_EQ(OnlineBlocks(), 4u);
  EXPECT_NE(r.offline_early_why_not.find("offline_early_reserve"), std::string::npos)
      << r.offline_early_why_not;
  app_.reset();
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_TRUE(s.preserve.image_sealed) << "the preserve at shutdown offlined them";
}

TEST_F(RebootTest, OfflineEarlyNoLeavesTheBlocksOnline) {
  config_.offline_early = false;
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  EXPECT_EQ(OnlineBlocks(), 4u);
  EXPECT_NE(r.offline_early_why_not.find("offline_early = no"), std::string::npos);
}

TEST_F(RebootTest, ABlockThatWillNotGoOfflineEarlyIsNoReasonToStop) {
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 2, -1);
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  EXPECT_EQ(OnlineBlocks(), 4u) << "every block back online";
  EXPECT_NE(r.offline_early_why_not.find("the preserve at shutdown offlines them"),
            std::string::npos)
      << r.offline_early_why_not;
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->offline_early_seconds, 0);
}

TEST_F(RebootTest, WhenSystemdRefusesTheKexecTheMemoryTakenOutEarlyComesBack) {
  services_.start_kexec_result = Status(Code::kIoError, "'systemctl kexec' failed (exit 1)");
  bool were_out = false;
  services_.on_start_kexec = [&] { were_out = sim_->mode() == PmemMode::kRaw; };
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_TRUE(were_out) << "hot-removed before systemd was asked";
  ExpectNothingChanged();
}

TEST_F(RebootTest, ANamespaceOwnedOnlyByItsDaxInfoBlockIsOfflinedEarlyNotHotRemoved) {
  // Not named in the configuration, no label: the dax info block (which going raw clears) is
  // what marks it as warmboot's, so the hot-remove waits for the preserve, which writes the
  // image (the mark of a raw namespace) in the same go.
  config_.namespace_name = "";
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  EXPECT_EQ(sim_->mode(), PmemMode::kSystemRam);
  EXPECT_EQ(OnlineBlocks(), 0u) << "offlined early";
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
    return n.find("offlined early, not hot-removed") != std::string::npos;
  }));
  app_.reset();
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_TRUE(s.preserve.image_sealed);
}

TEST_F(RebootTest, AHotRemoveThatFailsEarlyRefusesTheRebootAndGivesTheMemoryBack) {
  // The blocks went offline, then the namespace would not go raw: the preserve at shutdown
  // would meet the same failure with the services stopped, so the reboot stops here.
  sim_->FailStep(PmemStep::kReconfigure, Status(Code::kIoError, "reconfigure: device busy"));
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_NE(r.status.message().find("taking the memory out early failed"), std::string::npos)
      << r.status.ToString();
  EXPECT_EQ(services_.kexec_starts, 0);
  EXPECT_TRUE(kexec_.loads.empty()) << "the kernel loads only once the memory is out";
  ExpectNothingChanged();
  EXPECT_EQ(sim_->leaked_blocks(), 0u);
}

TEST_F(RebootTest, ARefusalAfterAnOfflineThatFailedHalfWayStillOnlinesTheBlocks) {
  // One block never goes, and bringing the others back fails once: the early offline ends with
  // three blocks offline. systemd then refuses the kexec.
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 2, -1);
  sim_->FailStep(PmemStep::kOnline, Status(Code::kIoError, "online failed"));
  services_.start_kexec_result = Status(Code::kIoError, "'systemctl kexec' failed (exit 1)");
  RebootReport r = RebootAnswered(Options());
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_FALSE(r.offline_early_why_not.empty());
  ExpectNothingChanged();
}

TEST_F(RebootTest, ASignalDuringTheChecksStopsBeforeAnythingIsLoaded) {
  RebootOptions o = Options();
  o.transition.interrupted = [] { return SIGINT; };
  RebootReport r = RebootAnswered(o);
  EXPECT_EQ(r.status.code(), Code::kInterrupted) << r.status.ToString();
  EXPECT_TRUE(kexec_.loads.empty());
  EXPECT_EQ(services_.kexec_starts, 0);
  ExpectNothingChanged();
}

// --fallback cold is for refusals, not for being told to stop (Ctrl-C, a dropped session) nor
// for another warmboot command at work (a restore the reboot would kill).
TEST_F(RebootTest, WithFallbackColdASignalOrAHeldLockStillRebootsNothing) {
  RebootOptions o = Options();
  o.fallback_cold = true;
  o.transition.interrupted = [] { return SIGINT; };
  RebootReport r = RebootAnswered(o);
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_EQ(r.status.code(), Code::kInterrupted) << r.status.ToString();
  EXPECT_EQ(services_.reboot_starts, 0);

  auto held = MachineLock::Acquire(config_.lock_file, "restore", std::chrono::milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  config_.lock_wait_ms = 10;
  RebootOptions plain = Options();
  plain.fallback_cold = true;
  RebootReport busy = WarmReboot(*sim_, config_, plain, boot_);
  EXPECT_EQ(busy.outcome, RebootOutcome::kRefused) << busy.status.ToString();
  EXPECT_EQ(services_.reboot_starts, 0);
  ExpectNothingChanged();
}

// warmboot-preserve.service stopped, disabled or masked: no preserve would run at the shutdown
// and the next boot would find nothing. Refused before the applications are asked, and in a dry
// run too.
TEST_F(RebootTest, APreserveUnitThatIsNotActiveIsRefused) {
  services_.preserve_unit_state = "inactive";
  RebootOptions dry = Options();
  dry.dry_run = true;
  RebootReport checked = WarmReboot(*sim_, config_, dry, boot_);
  EXPECT_EQ(checked.outcome, RebootOutcome::kRefused);
  EXPECT_NE(checked.status.message().find("warmboot-preserve.service is inactive"),
            std::string::npos)
      << checked.status.ToString();
  RebootReport r = WarmReboot(*sim_, config_, Options(), boot_);
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_EQ(r.round, 0u);  // the applications were not asked
  EXPECT_EQ(services_.kexec_starts, 0);
  EXPECT_TRUE(kexec_.loads.empty());
  ExpectNothingChanged();
}

TEST_F(RebootTest, ASignalDuringTheEarlyOfflineStopsTheRebootAndOnlinesTheBlocks) {
  RebootOptions o = Options();
  sim_->SetBlockBusy(SimulatedPmem::kFirstBlock + 1, 1);  // one retry: the signal is seen there
  // As DeferredSignals: the signal arrives once a block is offline and stays until taken.
  auto arrived = std::make_shared<bool>(false);
  o.transition.interrupted = [this, arrived] {
    if (OnlineBlocks() < 4) *arrived = true;
    return *arrived ? SIGTERM : 0;
  };
  RebootReport r = RebootAnswered(o);
  EXPECT_EQ(r.outcome, RebootOutcome::kRefused);
  EXPECT_EQ(r.status.code(), Code::kInterrupted) << r.status.ToString();
  EXPECT_EQ(services_.kexec_starts, 0);
  EXPECT_TRUE(kexec_.loads.empty()) << "the kernel loads only once the memory is out";
  ExpectNothingChanged();
}

TEST_F(RebootTest, AShutdownThatIsNotAKexecLeavesARawNamespaceRaw) {
  // A namespace the preserve checks accept but whose memory is not System RAM (raw: it may hold
  // a kept image): nothing is offlined early, and nothing may be "given back" at the stop.
  ASSERT_TRUE(ToRaw(*sim_, testing::NoSleepTransitions(), nullptr).ok());
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  services_.kexec_pending = false;  // the operator powered off instead
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  EXPECT_FALSE(s.acted);
  EXPECT_EQ(sim_->mode(), PmemMode::kRaw) << "left exactly as it was";
}

TEST_F(RebootTest, AWarmRebootIsUnderWayOnlyWhileSystemdHasTheKexecJob) {
  EXPECT_FALSE(RebootUnderWay(config_, boot_.boot_id, &services_)) << "no plan";
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm) << r.status.ToString();
  services_.kexec_pending = true;
  EXPECT_TRUE(RebootUnderWay(config_, boot_.boot_id, &services_));
  // The job cancelled after systemd took it: the plan is stale, and 'warmboot give-back' may
  // return the memory taken out early.
  services_.kexec_pending = false;
  EXPECT_FALSE(RebootUnderWay(config_, boot_.boot_id, &services_));
  ThisBoot other = boot_;
  other.boot_id[0] ^= 1;
  services_.kexec_pending = true;
  EXPECT_FALSE(RebootUnderWay(config_, other.boot_id, &services_)) << "another boot's plan";
}

TEST_F(RebootTest, ADryRunAsksNoAppAndLoadsNothing) {
  RebootOptions o = Options();
  o.dry_run = true;
  RebootReport r = WarmReboot(*sim_, config_, o, boot_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outcome, RebootOutcome::kChecked);
  EXPECT_TRUE(r.checks.checkpoint.is_null());
  auto p = app_->WaitForPrepare(100);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_value()) << "the app was not told";
  EXPECT_TRUE(kexec_.loads.empty());
  EXPECT_EQ(services_.kexec_starts, 0);
  EXPECT_EQ(OnlineBlocks(), 4u) << "nothing offlined";
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
    return n.find("would be offlined and hot-removed before the services stop") !=
           std::string::npos;
  })) << "it says the offline would be early";
}

TEST_F(RebootTest, AShutdownThatIsNotAKexecIsLeftAlone) {
  RebootReport r = RebootAnswered(Options());
  ASSERT_EQ(r.outcome, RebootOutcome::kWarm);
  services_.kexec_pending = false;  // the operator powered off instead
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  EXPECT_FALSE(s.acted);
  EXPECT_NE(s.why_not.find("does not end in kexec"), std::string::npos) << s.why_not;
  auto info = sim_->Probe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode, PmemMode::kSystemRam);
  EXPECT_EQ(info->OnlineBlocks(), 4u) << "the blocks offlined early are given back";
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(pending->has_value());
}

TEST_F(RebootTest, APlainSystemctlKexecPreservesTheStateDirectoryAndNamesTheAppsCold) {
  services_.kexec_pending = true;  // no warmboot reboot ran: the apps have stopped
  app_.reset();
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.acted);
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_EQ(s.preserve.checkpoint.value("ready", 1), 0);
  bool named = false;
  for (const std::string& n : s.preserve.notes) named = named || n.find("starts cold: db") == 0;
  EXPECT_TRUE(named) << "the app with segments but no connection is named";
  EXPECT_EQ(kexec_.loads.size(), 1u) << "loaded here, none being loaded before";
}

// warmboot-prepare.service's stop, before the applications stop: a plain `systemctl kexec` (no
// warmboot reboot) still asks them while they run, and the preserve after their stop adopts that
// round and writes the image the plan names, loading the kernel itself.
TEST_F(RebootTest, APlainSystemctlKexecAsksTheAppsBeforeTheyStopAndTheirStateIsKept) {
  services_.kexec_pending = true;
  PrepareReport p = PrepareAnswered();
  ASSERT_TRUE(p.acted) << p.why_not;
  EXPECT_EQ(p.checkpoint.value("ready", 0), 1) << "the app answered while it ran";
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok() && pending->has_value()) << "the plan is left for the preserve";
  EXPECT_EQ((*pending)->round, p.round);
  EXPECT_FALSE((*pending)->kexec_loaded) << "the preserve loads the kernel";
  EXPECT_GT((*pending)->handed_over_ns, 0) << "the blackout begins with the shutdown";
  app_.reset();  // then systemd stops the app
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.acted) << s.why_not;
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_EQ(s.preserve.checkpoint.value("ready", 0), 1) << "the held round, adopted";
  EXPECT_EQ(UuidToString(s.preserve.pack->image_uuid), p.image) << "the image the plan names";
  ASSERT_EQ(kexec_.loads.size(), 1u) << "loaded by the preserve";
  EXPECT_NE(kexec_.loads[0].cmdline.find(p.image), std::string::npos)
      << "its command line names the image";
}

TEST_F(RebootTest, ThePrepareAtShutdownLeavesEveryOtherShutdownAlone) {
  PrepareOptions po;
  po.services = &services_;
  int rounds = 0;
  po.checkpoint = [&](uint64_t, uint64_t) -> Result<CheckpointRound> {
    ++rounds;
    return Status(Code::kNotFound, "not asked");
  };
  services_.kexec_pending = false;  // a poweroff, an ordinary reboot, a package upgrade
  PrepareReport p = PrepareAtShutdown(config_, po, boot_);
  EXPECT_FALSE(p.acted);
  EXPECT_NE(p.why_not.find("does not end in kexec"), std::string::npos) << p.why_not;
  services_.kexec_pending_error = IoError("no bus");
  p = PrepareAtShutdown(config_, po, boot_);
  EXPECT_FALSE(p.acted);
  EXPECT_NE(p.why_not.find("cannot tell"), std::string::npos) << p.why_not;
  services_.kexec_pending_error = Status::Ok();
  // Nothing would seal the state: the apps are not asked (nor frozen).
  services_.kexec_pending = true;
  services_.preserve_unit_state = "inactive";
  p = PrepareAtShutdown(config_, po, boot_);
  EXPECT_FALSE(p.acted);
  EXPECT_NE(p.why_not.find("nothing would seal"), std::string::npos) << p.why_not;
  services_.preserve_unit_state = "active";
  // warmboot reboot ran the round already: its plan stands.
  const int64_t now = NowUnixNanos();
  PendingReboot earlier{boot_.boot_id, RandomUuid(), 7, true, now - 1000, now, 0};
  ASSERT_TRUE(SavePendingReboot(config_, earlier).ok());
  p = PrepareAtShutdown(config_, po, boot_);
  EXPECT_FALSE(p.acted);
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->round, 7u) << "warmboot reboot's plan is kept";
  EXPECT_EQ(rounds, 0) << "no round in any of these";
}

// A plan older than a round's hold was left by a kexec job cancelled then: this shutdown runs a
// round of its own instead of trusting a round that is gone.
TEST_F(RebootTest, APlanLeftByACancelledKexecIsNotThisShutdownsRound) {
  services_.kexec_pending = true;
  const int64_t long_ago = NowUnixNanos() - 11 * 60 * kNsPerSecond;
  PendingReboot left{boot_.boot_id, RandomUuid(), 7, false, long_ago, long_ago, 0};
  ASSERT_TRUE(SavePendingReboot(config_, left).ok());
  PrepareReport p = PrepareAnswered();
  ASSERT_TRUE(p.acted) << p.why_not;
  auto pending = LoadPendingReboot(config_, boot_.boot_id);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->round, p.round) << "the new round's plan";
  EXPECT_NE((*pending)->round, 7u);
  EXPECT_GT((*pending)->handed_over_ns, long_ago) << "the blackout begins with this shutdown";
}

// `systemctl reboot` with the kernel `warmboot kexec --load-only` loaded (systemd before 255
// keeps it an ordinary reboot): the apps are asked before they stop, the state is sealed and the
// kernel loaded again naming it, and the system-shutdown hook is told to jump. Without that
// kernel, or with another one loaded, a reboot stays ordinary.
TEST_F(RebootTest, AnOrdinaryRebootWithWarmbootsKernelLoadedIsWarm) {
  services_.reboot_pending = true;
  // No kernel of warmboot's: left alone (the app is not asked).
  PrepareOptions none;
  none.reboot_param = dir_ / "reboot-param";
  none.services = &services_;
  none.kexec_system = &kexec_;
  none.checkpoint = [](uint64_t, uint64_t) -> Result<CheckpointRound> {
    return Status(Code::kIoError, "not asked");
  };
  PrepareReport p = PrepareAtShutdown(config_, none, boot_);
  EXPECT_FALSE(p.acted);
  EXPECT_NE(p.why_not.find("does not end in kexec"), std::string::npos) << p.why_not;
  // Loaded by warmboot kexec --load-only in this boot.
  ASSERT_TRUE(LoadKexec(*ResolveKexecPlan(KexecRequest{}, kexec_), kexec_).ok());
  ASSERT_TRUE(SaveLoadedKernel(config_, boot_.boot_id).ok());
  p = PrepareAnswered();
  ASSERT_TRUE(p.acted) << p.why_not;
  EXPECT_EQ(p.checkpoint.value("ready", 0), 1) << "asked while it ran";
  app_.reset();
  ShutdownReport s = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  ASSERT_TRUE(s.acted) << s.why_not;
  EXPECT_TRUE(s.by_reboot);
  ASSERT_TRUE(s.preserve.status.ok()) << s.preserve.status.ToString();
  EXPECT_EQ(s.preserve.checkpoint.value("ready", 0), 1) << "the prepare's round, adopted";
  EXPECT_EQ(UuidToString(s.preserve.pack->image_uuid), p.image);
  EXPECT_NE(kexec_.loads.back().cmdline.find(p.image), std::string::npos)
      << "loaded again, naming the image";
  auto marker = LoadReport(dir_.path(), "kexec-at-reboot");
  ASSERT_TRUE(marker.ok()) << "the hook is told to jump";
  EXPECT_EQ(marker->value("image", ""), p.image);
  EXPECT_EQ(kexec_.reboots, 0) << "the hook jumps, not warmboot";

  // A reboot with an argument for the firmware (`systemctl reboot ARG`) is honoured: ordinary.
  testing::WriteFile(dir_ / "reboot-param", "recovery");
  EXPECT_FALSE(
      RebootBecomesKexec(config_, boot_.boot_id, &services_, &kexec_, dir_ / "reboot-param"));
  ::unlink((dir_ / "reboot-param").c_str());
  EXPECT_TRUE(
      RebootBecomesKexec(config_, boot_.boot_id, &services_, &kexec_, dir_ / "reboot-param"));
  // The kernel unloaded (warmboot kexec --unload): the next reboot is ordinary, and a marker
  // left from before is gone.
  ClearLoadedKernel(config_);
  ShutdownReport again = PreserveAtShutdown(*sim_, config_, AtShutdown(), boot_);
  EXPECT_FALSE(again.acted);
  EXPECT_FALSE(LoadReport(dir_.path(), "kexec-at-reboot").ok()) << "no stale jump";
}

// The shutdown's adopt retries the daemon's busy answer, for a window in all: a daemon that
// stopped answering (each try a 30 s client timeout, also kBusy) costs one try, not fifty.
TEST(RetryWhileBusyTest, ADaemonThatStoppedAnsweringCostsOneTimeoutNotOnePerTry) {
  std::chrono::steady_clock::time_point clock{};
  int tries = 0;
  auto wedged = [&]() -> Result<CheckpointRound> {
    ++tries;
    clock += std::chrono::seconds(30);
    return Status(Code::kBusy, "warmbootd did not answer adopt within 30000 ms");
  };
  auto r = cli::RetryWhileBusy(
      wedged, std::chrono::seconds(5), [&] { return clock; },
      [&] { clock += std::chrono::milliseconds(100); });
  EXPECT_EQ(r.status().code(), Code::kBusy);
  EXPECT_EQ(tries, 1);
}

TEST(RetryWhileBusyTest, ABusyDaemonIsAskedAgainUntilItLetsGo) {
  std::chrono::steady_clock::time_point clock{};
  int tries = 0;
  auto closing = [&]() -> Result<CheckpointRound> {
    if (++tries < 4) return Status(Code::kBusy, "round 7 is held by another connection");
    return Status(Code::kNotFound, "no round 7");
  };
  auto r = cli::RetryWhileBusy(
      closing, std::chrono::seconds(5), [&] { return clock; },
      [&] { clock += std::chrono::milliseconds(100); });
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(tries, 4);
  // And no longer than the window.
  tries = 0;
  auto always = [&]() -> Result<CheckpointRound> {
    ++tries;
    return Status(Code::kBusy, "held");
  };
  (void)cli::RetryWhileBusy(
      always, std::chrono::seconds(5), [&] { return clock; },
      [&] { clock += std::chrono::milliseconds(100); });
  EXPECT_EQ(tries, 51);
}

}  // namespace
}  // namespace warmboot
