// warmboot preserve with warmbootd running, over the simulated namespace: the checkpoint round
// runs before anything changes, the ready apps' segments go into the image straight from the
// daemon's descriptors (.warmboot-api/UID/APP/SEGMENT), an app that is not ready starts cold and
// is named, and the incomplete_checkpoint policy can stop the preserve before the point of no
// return. Restore brings the segments back as files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <thread>

#include "cli/checkpoint_round.h"
#include "client/client.h"
#include "daemon/server.h"
#include "restore/restore.h"
#include "testing/api_daemon.h"
#include "testing/child_process.h"
#include "testing/sim_machine.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::SealedMemfd;

// A daemon on `socket`, serving the restored view of `restore_dir` and `report_dir` if given.
std::unique_ptr<testing::ApiDaemon> Daemon(const std::string& socket,
                                           const std::string& restore_dir = "",
                                           const std::string& report_dir = "") {
  daemon::ServerOptions o;
  o.restore_dir = restore_dir;
  o.report_dir = report_dir;
  return std::make_unique<testing::ApiDaemon>(socket, o);
}

class PreserveRoundTest : public ::testing::Test {
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
  }
  PreserveReport DoPreserve() {
    PreserveOptions o;
    o.transition = testing::NoSleepTransitions();
    o.checkpoint = [this](uint64_t ms) { return cli::RunCheckpointRound(config_.api_socket, ms); };
    return Preserve(*sim_, config_, o);
  }
  // An app that hands over `heap`, then answers the round with ready (or declines).
  std::thread App(client::Client& c, bool ready) {
    return std::thread([&c, ready] {
      auto p = c.WaitForPrepare(10000);
      ASSERT_TRUE(p.ok() && p->has_value()) << p.status().ToString();
      Status s = ready ? c.Ready((*p)->round) : c.Decline((*p)->round, "rebuilding its index");
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }

  testing::TempDir dir_;
  std::unique_ptr<SimulatedPmem> sim_;
  Config config_;
};

TEST_F(PreserveRoundTest, ReadyAppsArePreservedFromTheirDescriptorsAndTheOthersNamed) {
  auto d = Daemon(config_.api_socket);
  auto db = client::Client::Connect("db", config_.api_socket);
  auto cache = client::Client::Connect("cache", config_.api_socket);
  ASSERT_TRUE(db.ok() && cache.ok());
  const std::string heap = testing::RandomBytes(5 << 20, 4);
  int fd = SealedMemfd(heap);
  ASSERT_TRUE(db->PutFd("heap", fd).ok());
  ::close(fd);
  ASSERT_TRUE(db->PutBytes("index", "db's index").ok());
  ASSERT_TRUE(cache->PutBytes("hot", "cache's").ok());
  std::thread a = App(*db, true), b = App(*cache, false);
  PreserveReport r = DoPreserve();
  a.join();
  b.join();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.image_sealed);
  EXPECT_EQ(r.checkpoint.value("ready", 0), 1);
  EXPECT_EQ(r.checkpoint.value("segments", 0), 2);
  bool named = false;
  for (const std::string& n : r.notes) named = named || n.find("starts cold: cache") == 0;
  EXPECT_TRUE(named) << "the declining app is named in the report";
  EXPECT_EQ(ToJson(r)["checkpoint"]["apps"].size(), 2u);

  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = testing::NoSleepTransitions();
  ro.mount_tmpfs = false;
  RestoreReport back = Restore(*sim_, config_, ro);
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  EXPECT_EQ(back.outcome, RestoreOutcome::kRestored) << back.message;
  const std::string root = config_.restore_dir + "/.warmboot-api/" + std::to_string(::geteuid());
  EXPECT_EQ(testing::ReadFile(root + "/db/heap"), heap);
  EXPECT_EQ(testing::ReadFile(root + "/db/index"), "db's index");
  EXPECT_FALSE(std::filesystem::exists(root + "/cache")) << "a declined set is not preserved";
  EXPECT_EQ(testing::ReadFile(config_.restore_dir + "/plain"), "a state-directory file");

  // The next boot's daemon serves it back: warm for db, with its segments; cold for cache.
  d.reset();
  auto next = Daemon(config_.api_socket, config_.restore_dir, config_.report_dir);
  auto db2 = client::Client::Connect("db", config_.api_socket);
  ASSERT_TRUE(db2.ok());
  auto view = db2->Restored();
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->warm);
  EXPECT_EQ(view->generation, r.pack->generation);
  EXPECT_EQ(view->segments.size(), 2u);
  EXPECT_TRUE(view->damaged.empty());
  uint64_t size = 0;
  auto restored_fd = db2->GetRestored("heap", &size);
  ASSERT_TRUE(restored_fd.ok()) << restored_fd.status().ToString();
  EXPECT_EQ(size, heap.size());
  std::string got(size, '\0');
  EXPECT_EQ(::pread(*restored_fd, got.data(), size, 0), static_cast<ssize_t>(size));
  EXPECT_EQ(got, heap);
  ::close(*restored_fd);
  EXPECT_EQ(*db2->ReleaseRestored("heap"), heap.size());
  EXPECT_FALSE(std::filesystem::exists(root + "/db/heap")) << "released: its memory is freed";
  EXPECT_EQ(db2->GetRestored("heap").status().code(), Code::kNotFound);
  auto cache2 = client::Client::Connect("cache", config_.api_socket);
  auto cold = cache2->Restored();
  ASSERT_TRUE(cold.ok());
  EXPECT_TRUE(cold->segments.empty()) << "cache declined: it starts cold";
}

// preserve holds a descriptor for every segment it exports until the image is written: a few
// thousand pass the soft open-file limit it started with. (The daemon shares this process and
// has raised the limit already; it is set low again just before the round.)
TEST_F(PreserveRoundTest, MoreSegmentsThanTheSoftOpenFileLimitPreserveStartedWith) {
  auto d = Daemon(config_.api_socket);
  auto db = client::Client::Connect("db", config_.api_socket);
  ASSERT_TRUE(db.ok());
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(db->PutBytes("s" + std::to_string(i), "state " + std::to_string(i)).ok()) << i;
  }
  size_t open = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    open += !e.is_directory();
  testing::OpenFileLimit limit(open + 200);
  if (!limit.ok()) GTEST_SKIP() << "the hard open-file limit is below 1024";
  std::thread a = App(*db, true);
  PreserveReport r = DoPreserve();
  a.join();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.checkpoint.value("segments", 0), 600);
  EXPECT_TRUE(r.image_sealed);
}

// Where every application keeps its state with warmbootd, nothing makes the state directory (in
// /run by default): the segments alone are preserved.
TEST_F(PreserveRoundTest, WithTheDaemonAMissingStateDirectoryIsAnEmptyOne) {
  std::filesystem::remove_all(config_.state_dir);
  auto d = Daemon(config_.api_socket);
  auto db = client::Client::Connect("db", config_.api_socket);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->PutBytes("index", "db's index").ok());
  std::thread a = App(*db, true);
  PreserveReport r = DoPreserve();
  a.join();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.image_sealed);
  EXPECT_EQ(r.checkpoint.value("segments", 0), 1);

  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = testing::NoSleepTransitions();
  ro.mount_tmpfs = false;
  RestoreReport back = Restore(*sim_, config_, ro);
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  EXPECT_EQ(testing::ReadFile(config_.restore_dir + "/.warmboot-api/" +
                              std::to_string(::geteuid()) + "/db/index"),
            "db's index");
}

TEST_F(PreserveRoundTest, TheAbortPolicyStopsBeforeAnythingChanges) {
  config_.continue_incomplete_checkpoint = false;
  auto d = Daemon(config_.api_socket);
  auto cache = client::Client::Connect("cache", config_.api_socket);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(cache->PutBytes("hot", "x").ok());
  std::thread b = App(*cache, false);
  PreserveReport r = DoPreserve();
  b.join();
  EXPECT_EQ(r.status.code(), Code::kBusy) << r.status.ToString();
  EXPECT_NE(r.status.message().find("cache (uid"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("Nothing changed"), std::string::npos);
  EXPECT_FALSE(r.memory_removed);
  auto info = sim_->Probe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode, PmemMode::kSystemRam);
  EXPECT_EQ(info->OnlineBlocks(), 4u);
  // The round was released when preserve's connection closed: the set can change again.
  EXPECT_TRUE(cache->PutBytes("hot", "y").ok());
}

// Another user's segments come back as that user's: its uid, the group it handed them over with
// (not one looked up in the user database at shutdown), mode 0600.
TEST_F(PreserveRoundTest, AnotherUsersSegmentsComeBackAsItsOwn) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another uid needs root";
  int registered[2];
  ASSERT_EQ(::pipe2(registered, O_CLOEXEC), 0);
  // nobody (65534, whose primary group is 65534), in a group of no user's
  testing::ChildProcess child([&] {
    ::close(registered[0]);
    if (::setgid(4242) != 0 || ::setuid(65534) != 0) return 10;
    auto c = client::Client::Connect("nob", config_.api_socket);
    if (!c.ok() || !c->PutBytes("k", "nobody's").ok()) return 11;
    if (::write(registered[1], "R", 1) != 1) return 12;
    auto p = c->WaitForPrepare(10000);
    if (!p.ok() || !p->has_value() || !c->Ready((*p)->round).ok()) return 13;
    return 0;
  });
  ::close(registered[1]);
  if (!child.ok()) ::close(registered[0]);
  ASSERT_TRUE(child.ok());
  auto d = Daemon(config_.api_socket);
  ::chmod(dir_.path().c_str(), 0755);
  child.Start();
  char ready = 0;
  const ssize_t got = ::read(registered[0], &ready, 1);
  ::close(registered[0]);
  ASSERT_EQ(got, 1) << "the child did not register: " << child.Wait();
  PreserveReport r = DoPreserve();
  ASSERT_EQ(child.Wait(), "");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  sim_->Reboot();
  RestoreOptions ro;
  ro.transition = testing::NoSleepTransitions();
  ro.mount_tmpfs = false;
  RestoreReport back = Restore(*sim_, config_, ro);
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  const std::string app = config_.restore_dir + "/.warmboot-api/65534/nob";
  for (const std::string& path : {app, app + "/k"}) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, 65534u) << path;
    EXPECT_EQ(st.st_gid, 4242u) << path;
    EXPECT_EQ(st.st_mode & 07777, path == app ? 0700u : 0600u) << path;
  }
  EXPECT_EQ(testing::ReadFile(app + "/k"), "nobody's");
}

TEST_F(PreserveRoundTest, WithoutADaemonTheStateDirectoryIsPackedAlone) {
  PreserveReport r = DoPreserve();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.checkpoint.is_null());
  const Phase& round = r.phases.phases()[1];
  EXPECT_EQ(round.name, "checkpoint round");
  EXPECT_NE(round.detail.find("not running"), std::string::npos) << round.detail;
}

}  // namespace
}  // namespace warmboot
