// The C ABI (client/client_c.h) against warmbootd for real, on a temporary socket: segments by
// descriptor and by bytes, each daemon error as its wb_error code, wb_list and wb_list_free,
// NULL arguments refused rather than dereferenced, failures with and without a client, a
// daemon that goes away; the checkpoint round answered from C (a round run by the C++ admin
// client), the restored view after a reboot (a restore dir and report made by the test).
#include "client/client_c.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "client/client.h"
#include "daemon/server.h"
#include "testing/api_daemon.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using Daemon = testing::ApiDaemon;
using testing::SealedMemfd;

std::string ReadAll(int fd) {
  return testing::ReadAllFd(fd);
}

bool Has(const char* text, const std::string& needle) {
  return std::string(text).find(needle) != std::string::npos;
}

class ClientCTest : public ::testing::Test {
 protected:
  std::string Socket() const { return dir_.path() + "/api.sock"; }
  wb_client* Connect(const char* app) {
    wb_client* c = nullptr;
    EXPECT_EQ(wb_client_connect(app, Socket().c_str(), &c), WB_OK) << wb_last_error(nullptr);
    return c;
  }
  testing::TempDir dir_;
};

TEST_F(ClientCTest, MemfdAndBytesGoInAndComeBackIdentical) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  const std::string big = testing::RandomBytes(3 << 20, 7);
  int memfd = SealedMemfd(big);
  ASSERT_EQ(wb_put_fd(c, "heap", memfd), WB_OK) << wb_last_error(c);
  ::close(memfd);
  const std::string small = "small state";
  ASSERT_EQ(wb_put_bytes(c, "index", small.data(), small.size()), WB_OK) << wb_last_error(c);
  ASSERT_EQ(wb_put_bytes(c, "empty", nullptr, 0), WB_OK) << wb_last_error(c);

  int fd = -1;
  uint64_t size = 0;
  ASSERT_EQ(wb_get(c, "heap", &fd, &size), WB_OK) << wb_last_error(c);
  EXPECT_EQ(size, big.size());
  EXPECT_EQ(ReadAll(fd), big);
  EXPECT_LT(::write(fd, "x", 1), 0);  // read-only
  EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ::close(fd);
  ASSERT_EQ(wb_get(c, "index", &fd, nullptr), WB_OK) << wb_last_error(c);
  EXPECT_EQ(ReadAll(fd), small);
  ::close(fd);
  ASSERT_EQ(wb_get(c, "empty", &fd, &size), WB_OK) << wb_last_error(c);
  EXPECT_EQ(size, 0u);
  ::close(fd);

  ASSERT_EQ(wb_drop(c, "heap", &size), WB_OK) << wb_last_error(c);
  EXPECT_EQ(size, big.size());
  ASSERT_EQ(wb_drop(c, "index", nullptr), WB_OK) << wb_last_error(c);
  wb_client_close(c);

  // What a closed client handed over stays with the daemon.
  c = Connect("db");
  ASSERT_EQ(wb_get(c, "empty", &fd, &size), WB_OK) << wb_last_error(c);
  ::close(fd);
  wb_client_close(c);
}

TEST_F(ClientCTest, EachFailureHasItsCodeAndMessage) {
  daemon::ServerOptions o;
  o.limits.bytes_per_app = 100;
  Daemon d(Socket(), o);
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  int fd = 123;
  uint64_t size = 99;

  EXPECT_EQ(wb_get(c, "missing", &fd, &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(size, 0u);
  EXPECT_TRUE(Has(wb_last_error(c), "missing")) << wb_last_error(c);
  // The thread's message says the same: it records every failure.
  EXPECT_STREQ(wb_last_error(nullptr), wb_last_error(c));
  EXPECT_EQ(wb_drop(c, "missing", &size), WB_ERR_NOT_FOUND);

  for (const char* name : {"..", ".", "a/b", "tab\there", "\xff\xfe", ""}) {
    EXPECT_EQ(wb_put_bytes(c, name, "x", 1), WB_ERR_INVALID) << name;
    EXPECT_EQ(wb_get(c, name, &fd, nullptr), WB_ERR_INVALID) << name;
  }
  const std::string long_name(256, 'n');
  EXPECT_EQ(wb_put_bytes(c, long_name.c_str(), "x", 1), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "255")) << wb_last_error(c);

  // A memfd that could still change is refused, saying why.
  int unsealed = SealedMemfd("grows", 0);
  EXPECT_EQ(wb_put_fd(c, "x", unsealed), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "not sealed")) << wb_last_error(c);
  ::close(unsealed);
  EXPECT_EQ(wb_put_fd(c, "x", -1), WB_ERR_INVALID);

  // More than 1 MiB of bytes never leaves the library; over the app's quota the daemon says.
  const std::string too_big((1 << 20) + 1, 'b');
  EXPECT_EQ(wb_put_bytes(c, "big", too_big.data(), too_big.size()), WB_ERR_INVALID);
  const std::string over_quota(101, 'q');
  EXPECT_EQ(wb_put_bytes(c, "q", over_quota.data(), over_quota.size()), WB_ERR_QUOTA);
  EXPECT_STRNE(wb_last_error(c), "");

  // The connection is still good after every refusal above.
  EXPECT_EQ(wb_put_bytes(c, "ok", "fine", 4), WB_OK) << wb_last_error(c);
  wb_client_close(c);

  // Failures without a client: a bad app name (with or without a daemon), no daemon.
  wb_client* none = reinterpret_cast<wb_client*>(0x1);
  EXPECT_EQ(wb_client_connect("../etc", Socket().c_str(), &none), WB_ERR_INVALID);
  EXPECT_EQ(none, nullptr);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "application name")) << wb_last_error(nullptr);
  const std::string nowhere = dir_.path() + "/nobody-listens.sock";
  EXPECT_EQ(wb_client_connect("db", nowhere.c_str(), &none), WB_ERR_NO_DAEMON);
  EXPECT_EQ(none, nullptr);
  EXPECT_TRUE(Has(wb_last_error(nullptr), nowhere)) << wb_last_error(nullptr);
  EXPECT_EQ(wb_client_connect("../etc", nowhere.c_str(), &none), WB_ERR_INVALID);
}

TEST_F(ClientCTest, ListReturnsAnArrayToFree) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  wb_segment* list = reinterpret_cast<wb_segment*>(0x1);
  size_t count = 99;
  ASSERT_EQ(wb_list(c, 0, &list, &count), WB_OK) << wb_last_error(c);
  EXPECT_EQ(list, nullptr);
  EXPECT_EQ(count, 0u);
  wb_list_free(list);

  ASSERT_EQ(wb_put_bytes(c, "zeta", "zz", 2), WB_OK);
  ASSERT_EQ(wb_put_bytes(c, "alpha", "a", 1), WB_OK);
  int memfd = SealedMemfd(std::string(5000, 'm'));
  ASSERT_EQ(wb_put_fd(c, "middle", memfd), WB_OK) << wb_last_error(c);
  ::close(memfd);
  wb_client* other = Connect("web");
  ASSERT_EQ(wb_put_bytes(other, "page", "p", 1), WB_OK);

  ASSERT_EQ(wb_list(c, 0, &list, &count), WB_OK) << wb_last_error(c);
  ASSERT_EQ(count, 3u);
  EXPECT_STREQ(list[0].name, "alpha");
  EXPECT_EQ(list[0].size, 1u);
  EXPECT_STREQ(list[0].kind, "bytes");
  EXPECT_STREQ(list[1].name, "middle");
  EXPECT_EQ(list[1].size, 5000u);
  EXPECT_STREQ(list[1].kind, "fd");
  EXPECT_STREQ(list[2].name, "zeta");
  EXPECT_STREQ(list[2].app, "");
  wb_list_free(list);

  // Every app's: root only (the daemon says permission to anyone else).
  int rc = wb_list(other, 1, &list, &count);
  if (::geteuid() != 0) {
    EXPECT_EQ(rc, WB_ERR_PERMISSION);
    EXPECT_EQ(list, nullptr);
  } else {
    ASSERT_EQ(rc, WB_OK) << wb_last_error(other);
    ASSERT_EQ(count, 4u);
    bool saw_web = false;
    for (size_t i = 0; i < count; ++i) {
      EXPECT_EQ(list[i].uid, 0u);
      saw_web =
          saw_web || (std::string(list[i].app) == "web" && std::string(list[i].name) == "page");
    }
    EXPECT_TRUE(saw_web);
    wb_list_free(list);
  }
  wb_client_close(other);
  wb_client_close(c);
}

TEST_F(ClientCTest, NullArgumentsAreRefusedNotDereferenced) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  int fd = 5;
  uint64_t size = 5;
  wb_segment* list = nullptr;
  size_t count = 0;

  EXPECT_EQ(wb_client_connect("db", Socket().c_str(), nullptr), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "out is NULL")) << wb_last_error(nullptr);
  wb_client* out = nullptr;
  EXPECT_EQ(wb_client_connect(nullptr, Socket().c_str(), &out), WB_ERR_INVALID);
  EXPECT_EQ(out, nullptr);

  EXPECT_EQ(wb_put_bytes(nullptr, "s", "x", 1), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "client is NULL")) << wb_last_error(nullptr);
  EXPECT_EQ(wb_put_bytes(c, nullptr, "x", 1), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "segment is NULL")) << wb_last_error(c);
  EXPECT_EQ(wb_put_bytes(c, "s", nullptr, 1), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "data is NULL")) << wb_last_error(c);
  EXPECT_EQ(wb_put_fd(nullptr, "s", 0), WB_ERR_INVALID);
  EXPECT_EQ(wb_put_fd(c, nullptr, 0), WB_ERR_INVALID);
  EXPECT_EQ(wb_get(nullptr, "s", &fd, &size), WB_ERR_INVALID);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(wb_get(c, nullptr, &fd, &size), WB_ERR_INVALID);
  EXPECT_EQ(wb_get(c, "s", nullptr, &size), WB_ERR_INVALID);
  EXPECT_EQ(wb_drop(nullptr, "s", &size), WB_ERR_INVALID);
  EXPECT_EQ(wb_drop(c, nullptr, &size), WB_ERR_INVALID);
  EXPECT_EQ(wb_list(nullptr, 0, &list, &count), WB_ERR_INVALID);
  EXPECT_EQ(wb_list(c, 0, nullptr, &count), WB_ERR_INVALID);
  EXPECT_EQ(wb_list(c, 0, &list, nullptr), WB_ERR_INVALID);
  wb_client_close(nullptr);
  wb_list_free(nullptr);

  // The round and the restored view.
  EXPECT_EQ(wb_client_connect_ex("db", Socket().c_str(), 0, 0, nullptr), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "wb_client_connect_ex: out is NULL"))
      << wb_last_error(nullptr);
  EXPECT_EQ(wb_client_connect_ex(nullptr, Socket().c_str(), 0, 0, &out), WB_ERR_INVALID);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(wb_client_fd(nullptr), -1);
  uint64_t round = 5, deadline = 5;
  int got = 5;
  EXPECT_EQ(wb_wait_prepare(nullptr, 0, &round, &deadline, &got), WB_ERR_INVALID);
  EXPECT_EQ(round, 0u);
  EXPECT_EQ(deadline, 0u);
  EXPECT_EQ(got, 0);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "client is NULL")) << wb_last_error(nullptr);
  EXPECT_EQ(wb_wait_prepare(c, 0, nullptr, &deadline, &got), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "round_out is NULL")) << wb_last_error(c);
  EXPECT_EQ(wb_wait_prepare(c, 0, &round, &deadline, nullptr), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "got_out is NULL")) << wb_last_error(c);
  EXPECT_EQ(wb_ready(nullptr, 1), WB_ERR_INVALID);
  EXPECT_EQ(wb_decline(nullptr, 1, "why"), WB_ERR_INVALID);
  wb_restored_view* view = reinterpret_cast<wb_restored_view*>(0x1);
  EXPECT_EQ(wb_restored(nullptr, &view), WB_ERR_INVALID);
  EXPECT_EQ(view, nullptr);
  EXPECT_EQ(wb_restored(c, nullptr), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "out is NULL")) << wb_last_error(c);
  wb_restored_free(nullptr);
  fd = 5;
  size = 5;
  EXPECT_EQ(wb_get_restored(nullptr, "s", &fd, &size), WB_ERR_INVALID);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(wb_get_restored(c, nullptr, &fd, &size), WB_ERR_INVALID);
  EXPECT_EQ(wb_get_restored(c, "s", nullptr, &size), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "fd_out is NULL")) << wb_last_error(c);
  size = 5;
  EXPECT_EQ(wb_release_restored(nullptr, "s", &size), WB_ERR_INVALID);
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(wb_release_restored(c, nullptr, &size), WB_ERR_INVALID);
  EXPECT_TRUE(Has(wb_last_error(c), "segment is NULL")) << wb_last_error(c);
  EXPECT_NE(wb_last_error(nullptr), nullptr);
  EXPECT_STREQ(wb_error_name(WB_ERR_NOT_FOUND), "not-found");
  EXPECT_STREQ(wb_error_name(-7), "unknown");

  // None of it touched the daemon: nothing was stored, the connection still works.
  ASSERT_EQ(wb_list(c, 0, &list, &count), WB_OK) << wb_last_error(c);
  EXPECT_EQ(count, 0u);
  wb_client_close(c);
}

// --- The checkpoint round, answered through the C ABI; the round is run by the C++ admin client
// (root only, an observer: not told of its own round).

class ClientCRoundTest : public ClientCTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "running a round needs root";
  }
  // Runs a round of `deadline_ms` on another thread, as warmboot preserve does: the round's
  // result is Result(); the round is then held (the ready sets frozen) until EndRound().
  void StartRound(uint32_t deadline_ms) {
    admin_thread_ = std::thread([this, deadline_ms] {
      std::optional<client::RoundResult> result;
      auto admin = client::Client::Connect("warmboot", Socket(), 0, /*observer=*/true);
      EXPECT_TRUE(admin.ok()) << admin.status().ToString();
      if (admin.ok()) {
        auto r = admin->Checkpoint(deadline_ms);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (r.ok()) result = *r;
      }
      result_.set_value(result);
      ended_.get_future().wait();
      if (result) {
        EXPECT_TRUE(admin->EndRound().ok());
      }
    });
  }
  client::RoundResult Result() {
    std::optional<client::RoundResult> r = result_.get_future().get();
    EXPECT_TRUE(r.has_value());
    return r.value_or(client::RoundResult{});
  }
  void EndRound() {
    ended_.set_value();
    admin_thread_.join();
  }
  static const client::RoundResult::App* Find(const client::RoundResult& r,
                                              const std::string& app) {
    for (const auto& a : r.apps) {
      if (a.app == app) return &a;
    }
    return nullptr;
  }
  void TearDown() override {
    if (admin_thread_.joinable()) EndRound();  // a test that failed before it ended the round
  }

  std::thread admin_thread_;
  std::promise<std::optional<client::RoundResult>> result_;
  std::promise<void> ended_;
};

TEST_F(ClientCRoundTest, AClientPolledForThePrepareAnswersReadyAndItsSetIsFrozen) {
  Daemon d(Socket());
  wb_client* c = nullptr;
  ASSERT_EQ(wb_client_connect_ex("db", Socket().c_str(), 5000, 0, &c), WB_OK)
      << wb_last_error(nullptr);
  ASSERT_EQ(wb_put_bytes(c, "before", "put before", 10), WB_OK) << wb_last_error(c);
  const int fd = wb_client_fd(c);
  ASSERT_GE(fd, 0);

  StartRound(10000);
  struct pollfd p {
    fd, POLLIN, 0
  };
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  uint64_t round = 0, deadline = 0;
  int got = 0;
  ASSERT_EQ(wb_wait_prepare(c, 0, &round, &deadline, &got), WB_OK) << wb_last_error(c);
  ASSERT_EQ(got, 1);
  EXPECT_EQ(round, 1u);
  EXPECT_EQ(deadline, 5000u);  // the app's own deadline, shorter than the round's
  ASSERT_EQ(wb_put_bytes(c, "during", "put during", 10), WB_OK) << wb_last_error(c);
  ASSERT_EQ(wb_ready(c, round), WB_OK) << wb_last_error(c);
  // Frozen until the round ends; a second answer is refused.
  EXPECT_EQ(wb_put_bytes(c, "late", "x", 1), WB_ERR_BUSY);
  EXPECT_EQ(wb_drop(c, "before", nullptr), WB_ERR_BUSY);
  EXPECT_EQ(wb_decline(c, round, "changed my mind"), WB_ERR_INVALID);
  EXPECT_STRNE(wb_last_error(c), "");

  const client::RoundResult r = Result();
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.round, 1u);
  ASSERT_EQ(r.apps.size(), 1u);
  EXPECT_EQ(r.apps[0].app, "db");
  EXPECT_EQ(r.apps[0].answer, "ready");
  EXPECT_EQ(r.segments, 2u);
  EXPECT_EQ(r.bytes, 20u);
  EXPECT_EQ(wb_put_bytes(c, "late", "x", 1), WB_ERR_BUSY);  // held by the admin
  EndRound();
  // The round ended: the set thawed, and an answer now is for no round.
  EXPECT_EQ(wb_put_bytes(c, "late", "x", 1), WB_OK) << wb_last_error(c);
  EXPECT_EQ(wb_ready(c, round), WB_ERR_INVALID);
  wb_client_close(c);
}

TEST_F(ClientCRoundTest, ADeclineAndItsReasonShowInTheRoundsResult) {
  Daemon d(Socket());
  wb_client* ready = Connect("db");
  wb_client* declines = Connect("cache");
  wb_client* quiet = Connect("quiet");  // declines with no reason
  wb_client* tool = nullptr;
  ASSERT_EQ(wb_client_connect_ex("tool", Socket().c_str(), 0, 1, &tool), WB_OK)
      << wb_last_error(nullptr);
  ASSERT_TRUE(ready != nullptr && declines != nullptr && quiet != nullptr);

  StartRound(10000);
  uint64_t round = 0, deadline = 0;
  int got = 0;
  // The deadline pointer is optional.
  ASSERT_EQ(wb_wait_prepare(declines, 10000, &round, nullptr, &got), WB_OK)
      << wb_last_error(declines);
  ASSERT_EQ(got, 1);
  EXPECT_EQ(wb_decline(declines, round, "mid-compaction"), WB_OK) << wb_last_error(declines);
  ASSERT_EQ(wb_wait_prepare(quiet, -1, &round, &deadline, &got), WB_OK) << wb_last_error(quiet);
  ASSERT_EQ(got, 1);
  EXPECT_EQ(deadline, 10000u);
  EXPECT_EQ(wb_decline(quiet, round, nullptr), WB_OK) << wb_last_error(quiet);
  ASSERT_EQ(wb_wait_prepare(ready, 10000, &round, &deadline, &got), WB_OK) << wb_last_error(ready);
  ASSERT_EQ(got, 1);
  EXPECT_EQ(wb_ready(ready, round), WB_OK) << wb_last_error(ready);

  const client::RoundResult r = Result();
  EndRound();
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.ready, 1u);
  ASSERT_EQ(r.apps.size(), 3u);  // the observer is not one of them
  ASSERT_NE(Find(r, "db"), nullptr);
  EXPECT_EQ(Find(r, "db")->answer, "ready");
  ASSERT_NE(Find(r, "cache"), nullptr);
  EXPECT_EQ(Find(r, "cache")->answer, "declined");
  EXPECT_EQ(Find(r, "cache")->reason, "mid-compaction");
  ASSERT_NE(Find(r, "quiet"), nullptr);
  EXPECT_EQ(Find(r, "quiet")->answer, "declined");
  EXPECT_EQ(Find(r, "quiet")->reason, "");
  // The observer was not told.
  ASSERT_EQ(wb_wait_prepare(tool, 0, &round, &deadline, &got), WB_OK) << wb_last_error(tool);
  EXPECT_EQ(got, 0);
  for (wb_client* c : {ready, declines, quiet, tool}) wb_client_close(c);
}

TEST_F(ClientCTest, AWaitWithNoRoundTimesOutWithGotZero) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  uint64_t round = 7, deadline = 7;
  int got = 7;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(wb_wait_prepare(c, 100, &round, &deadline, &got), WB_OK) << wb_last_error(c);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  EXPECT_EQ(got, 0);
  EXPECT_EQ(round, 0u);
  EXPECT_EQ(deadline, 0u);
  got = 7;
  ASSERT_EQ(wb_wait_prepare(c, 0, &round, &deadline, &got), WB_OK) << wb_last_error(c);
  EXPECT_EQ(got, 0);
  // Answering a round that is not running is refused; the connection stays good.
  EXPECT_EQ(wb_ready(c, 1), WB_ERR_INVALID);
  EXPECT_STRNE(wb_last_error(c), "");
  EXPECT_EQ(wb_decline(c, 1, "no"), WB_ERR_INVALID);
  EXPECT_EQ(wb_put_bytes(c, "s", "x", 1), WB_OK) << wb_last_error(c);
  // A lost daemon is an error, not a wait that times out.
  d.Stop();
  EXPECT_EQ(wb_wait_prepare(c, 1000, &round, &deadline, &got), WB_ERR_IO);
  EXPECT_EQ(got, 0);
  wb_client_close(c);

  // An app's deadline over the protocol's hour is refused before connecting.
  wb_client* out = reinterpret_cast<wb_client*>(0x1);
  EXPECT_EQ(wb_client_connect_ex("db", Socket().c_str(), 3600001, 0, &out), WB_ERR_INVALID);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Has(wb_last_error(nullptr), "deadline_ms")) << wb_last_error(nullptr);
}

// --- The restored view: what restore left under RESTORE_DIR/.warmboot-api/UID/APP and its report.

class ClientCRestoredTest : public ClientCTest {
 protected:
  void SetUp() override {
    restore_ = dir_.path() + "/restore";
    report_ = dir_.path() + "/report";
    app_dir_ = restore_ + "/.warmboot-api/" + std::to_string(::geteuid()) + "/db";
    testing::MakeDirs(app_dir_);
    testing::MakeDirs(report_);
    testing::WriteFile(app_dir_ + "/heap", heap_, 0600);
    testing::WriteFile(app_dir_ + "/index", "idx", 0600);
    testing::WriteFile(report_ + "/restore.json",
                       R"({"outcome":"restored","unpack":{"image":{"generation":3,"created_ns":5},)"
                       R"("damaged":[{"path":".warmboot-api/)" +
                           std::to_string(::geteuid()) + R"(/db/bad"}]}})");
  }
  daemon::ServerOptions Options() const {
    daemon::ServerOptions o;
    o.restore_dir = restore_;
    o.report_dir = report_;
    return o;
  }

  std::string restore_, report_, app_dir_;
  const std::string heap_ = testing::RandomBytes(100000, 3);
};

TEST_F(ClientCRestoredTest, TheViewSaysWhatCameBackAndReleaseFreesIt) {
  Daemon d(Socket(), Options());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  wb_restored_view* v = nullptr;
  ASSERT_EQ(wb_restored(c, &v), WB_OK) << wb_last_error(c);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->warm, 1);
  EXPECT_EQ(v->generation, 3u);
  EXPECT_EQ(v->preserved_ns, 5);
  ASSERT_EQ(v->segment_count, 2u);
  EXPECT_STREQ(v->segments[0].name, "heap");
  EXPECT_EQ(v->segments[0].size, heap_.size());
  EXPECT_STREQ(v->segments[1].name, "index");
  EXPECT_EQ(v->segments[1].size, 3u);
  ASSERT_EQ(v->damaged_count, 1u);
  EXPECT_STREQ(v->damaged[0], "bad");
  wb_restored_free(v);

  int fd = -1;
  uint64_t size = 0;
  ASSERT_EQ(wb_get_restored(c, "heap", &fd, &size), WB_OK) << wb_last_error(c);
  EXPECT_EQ(size, heap_.size());
  EXPECT_EQ(ReadAll(fd), heap_);
  EXPECT_LT(::write(fd, "x", 1), 0);  // read-only
  EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ::close(fd);
  ASSERT_EQ(wb_get_restored(c, "index", &fd, nullptr), WB_OK) << wb_last_error(c);
  EXPECT_EQ(ReadAll(fd), "idx");
  ::close(fd);
  // Damaged (quarantined) and unknown segments are not served; restored ones are not segments.
  EXPECT_EQ(wb_get_restored(c, "bad", &fd, &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(fd, -1);
  EXPECT_TRUE(Has(wb_last_error(c), "damaged")) << wb_last_error(c);
  EXPECT_EQ(wb_get_restored(c, "missing", &fd, &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(wb_get(c, "heap", &fd, &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(wb_get_restored(c, "../x", &fd, &size), WB_ERR_INVALID);

  // Release: the file is gone, and so is the segment from the view.
  ASSERT_EQ(wb_release_restored(c, "heap", &size), WB_OK) << wb_last_error(c);
  EXPECT_EQ(size, heap_.size());
  EXPECT_FALSE(testing::Exists(app_dir_ + "/heap"));
  EXPECT_TRUE(testing::Exists(app_dir_ + "/index"));
  EXPECT_EQ(wb_get_restored(c, "heap", &fd, &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(wb_release_restored(c, "heap", &size), WB_ERR_NOT_FOUND);
  EXPECT_EQ(size, 0u);
  ASSERT_EQ(wb_restored(c, &v), WB_OK) << wb_last_error(c);
  ASSERT_EQ(v->segment_count, 1u);
  EXPECT_STREQ(v->segments[0].name, "index");
  wb_restored_free(v);
  ASSERT_EQ(wb_release_restored(c, "index", nullptr), WB_OK) << wb_last_error(c);
  EXPECT_FALSE(testing::Exists(app_dir_ + "/index"));
  wb_client_close(c);

  // Another app of the same uid got nothing back.
  c = Connect("web");
  ASSERT_EQ(wb_restored(c, &v), WB_OK) << wb_last_error(c);
  EXPECT_EQ(v->warm, 1);
  EXPECT_EQ(v->segment_count, 0u);
  EXPECT_EQ(v->segments, nullptr);
  EXPECT_EQ(v->damaged_count, 0u);
  EXPECT_EQ(v->damaged, nullptr);
  wb_restored_free(v);
  wb_client_close(c);
}

TEST_F(ClientCTest, AColdBootHasAnEmptyView) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  wb_restored_view* v = nullptr;
  ASSERT_EQ(wb_restored(c, &v), WB_OK) << wb_last_error(c);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->warm, 0);
  EXPECT_EQ(v->generation, 0u);
  EXPECT_EQ(v->segment_count, 0u);
  EXPECT_EQ(v->damaged_count, 0u);
  wb_restored_free(v);
  wb_client_close(c);
}

TEST_F(ClientCTest, ADaemonThatGoesAwayIsAnIoErrorNotACrash) {
  Daemon d(Socket());
  wb_client* c = Connect("db");
  ASSERT_NE(c, nullptr);
  d.Stop();
  int fd = 0;
  EXPECT_EQ(wb_put_bytes(c, "s", "x", 1), WB_ERR_IO);
  EXPECT_EQ(wb_get(c, "s", &fd, nullptr), WB_ERR_IO);
  EXPECT_STRNE(wb_last_error(c), "");
  wb_client_close(c);
}

TEST_F(ClientCTest, EachThreadKeepsItsOwnLastMessage) {
  wb_client* out = nullptr;
  EXPECT_EQ(wb_client_connect("../here", Socket().c_str(), &out), WB_ERR_INVALID);
  const std::string mine = wb_last_error(nullptr);
  std::string theirs;
  std::thread t([&] {
    EXPECT_STREQ(wb_last_error(nullptr), "");
    const std::string nowhere = dir_.path() + "/none.sock";
    EXPECT_EQ(wb_client_connect("db", nowhere.c_str(), &out), WB_ERR_NO_DAEMON);
    theirs = wb_last_error(nullptr);
  });
  t.join();
  EXPECT_EQ(wb_last_error(nullptr), mine);
  EXPECT_NE(theirs, mine);
}

}  // namespace
}  // namespace warmboot
