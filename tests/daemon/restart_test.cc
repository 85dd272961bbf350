// A restart of warmbootd loses nothing an app handed over when a service manager keeps it in its
// fd store (daemon/fd_store.h), and an app is told, by name, what could not come back; without
// one, hello says a restart loses it. Also: the capacity check against the pmem's size.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "client/client.h"
#include "daemon/journal.h"
#include "testing/api_daemon.h"
#include "testing/child_process.h"
#include "testing/fake_fd_store.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using client::Client;
using testing::ChildProcess;
using testing::ReadAllFd;
using testing::SealedMemfd;
using Daemon = testing::ApiDaemon;

class RestartTest : public ::testing::Test {
 protected:
  std::string Socket() const { return dir_.path() + "/api.sock"; }
  daemon::ServerOptions Options() {
    daemon::ServerOptions o;
    o.fd_store = &store_;
    return o;
  }
  Client Connect(const std::string& app) {
    auto c = Client::Connect(app, Socket());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }
  std::string TmpfsFile(const std::string& content) {
    const std::string path =
        "/dev/shm/wb-restart-test-" + std::to_string(::getpid()) + "-" + std::to_string(files_++);
    testing::WriteFile(path, content);
    return path;
  }
  testing::TempDir dir_;
  testing::FakeFdStore store_;
  int files_ = 0;
};

TEST_F(RestartTest, EverySegmentComesBackIdenticalAfterARestart) {
  const std::string heap(3 << 20, 'h');
  std::string first;
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    EXPECT_TRUE(c.daemon_keeps());
    ASSERT_TRUE(c.PutBytes("index", "old").ok());
    ASSERT_TRUE(c.PutBytes("index", "new").ok());  // replaced: the old one leaves the store
    int memfd = SealedMemfd(heap);
    ASSERT_TRUE(c.PutFd("heap", memfd).ok());
    ::close(memfd);
    ASSERT_TRUE(c.PutBytes("scratch", "gone").ok());
    ASSERT_TRUE(*c.Drop("scratch") == 4u);
    Client other = Connect("cache");
    ASSERT_TRUE(other.PutBytes("k", "v").ok());
    first = c.daemon_instance();
    EXPECT_EQ(store_.Count("seg-"), 3u);
    EXPECT_EQ(store_.Count("journal-"), 1u);
  }
  Daemon d(Socket(), Options(), store_.PassBack());
  EXPECT_TRUE(d.reload().journal);
  EXPECT_EQ(d.reload().segments, 3u);
  EXPECT_EQ(d.reload().lost, 0u);
  EXPECT_TRUE(d.reload().notes.empty()) << d.reload().notes.front();
  Client c = Connect("db");
  EXPECT_NE(c.daemon_instance(), first);
  EXPECT_EQ(c.segments_at_hello(), 2u);
  EXPECT_TRUE(c.lost_at_hello().empty());
  EXPECT_EQ(*c.GetBytes("index"), "new");
  auto fd = c.Get("heap");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadAllFd(*fd), heap);
  ::close(*fd);
  EXPECT_EQ(c.Get("scratch").status().code(), Code::kNotFound);
  EXPECT_EQ(*Connect("cache").GetBytes("k"), "v");
  // The new instance's journal replaced the old one.
  EXPECT_EQ(store_.Count("journal-"), 1u);
  EXPECT_EQ(store_.kept.count("journal-2"), 1u);

  // And again: changes made by the second instance survive a third.
  ASSERT_TRUE(c.PutBytes("after", "restart").ok());
  ASSERT_TRUE(*c.Drop("index") == 3u);
  d.Stop();
  Daemon third(Socket(), Options(), store_.PassBack());
  Client c3 = Connect("db");
  EXPECT_EQ(c3.segments_at_hello(), 2u);
  EXPECT_EQ(*c3.GetBytes("after"), "restart");
  EXPECT_EQ(c3.Get("index").status().code(), Code::kNotFound);
}

// The group a segment was handed over with (SO_PEERCRED) is what preserve gives its file: it
// comes back with the segment after a restart, from the journal.
TEST_F(RestartTest, TheGroupOfTheHandOverComesBackAfterARestart) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing the group needs root";
  {
    ChildProcess child([&] {
      if (::setgid(4242) != 0) return 10;
      auto c = Client::Connect("db", Socket());
      return c.ok() && c->PutBytes("k", "v").ok() ? 0 : 11;
    });
    ASSERT_TRUE(child.ok());
    Daemon d(Socket(), Options());
    ASSERT_EQ(child.Wait(), "");
  }
  Daemon d(Socket(), Options(), store_.PassBack());
  ASSERT_EQ(d.reload().segments, 1u);
  Client app = Connect("db");
  std::thread ready([&] {
    auto p = app.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(app.Ready((*p)->round).ok());
  });
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(5000);
  ready.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto e = admin.Export(0);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->segment, "k");
  EXPECT_EQ(e->gid, 4242u);
  ::close(e->fd);
}

// systemd keeps one copy of an open file description: the daemon keeps a description of its
// own per segment, so the app's memfd handed over twice (a retry, a replacement, two names)
// comes back under each name.
TEST_F(RestartTest, TheSameDescriptorHandedOverTwiceComesBackUnderEachName) {
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    int memfd = SealedMemfd("state");
    ASSERT_TRUE(c.PutFd("state", memfd).ok());
    ASSERT_TRUE(c.PutFd("state", memfd).ok());  // a retry: replaces the first
    ASSERT_TRUE(c.PutFd("copy", memfd).ok());
    ::close(memfd);
  }
  Daemon d(Socket(), Options(), store_.PassBack());
  EXPECT_EQ(d.reload().lost, 0u);
  Client c = Connect("db");
  EXPECT_TRUE(c.lost_at_hello().empty()) << c.lost_at_hello().front().reason;
  EXPECT_EQ(*c.GetBytes("state"), "state");
  EXPECT_EQ(*c.GetBytes("copy"), "state");
}

// Once keeping fails, nothing kept before comes back either: not a set that misses the drops
// made since.
TEST_F(RestartTest, AfterAFailureToKeepNothingComesBackHalf) {
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    ASSERT_TRUE(c.PutBytes("secret", "old").ok());
    store_.fail_adds = true;
    ASSERT_TRUE(c.PutBytes("other", "x").ok());  // not kept: keeping stops here
    ASSERT_TRUE(*c.Drop("secret") == 3u);
  }
  store_.fail_adds = false;
  EXPECT_EQ(store_.Count("journal-"), 0u);
  Daemon d(Socket(), Options(), store_.PassBack());
  Client c = Connect("db");
  EXPECT_EQ(c.Get("secret").status().code(), Code::kNotFound);
  EXPECT_EQ(c.segments_at_hello(), 0u);
  EXPECT_TRUE(c.daemon_keeps());  // a new start keeps again
}

// A journal is rewritten once it is mostly history, so it does not grow without bound.
TEST_F(RestartTest, TheJournalIsCompacted) {
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    for (int i = 0; i < 1500; ++i) ASSERT_TRUE(c.PutBytes("counter", std::to_string(i)).ok());
    EXPECT_EQ(store_.Count("journal-"), 1u);
    EXPECT_EQ(store_.kept.count("journal-1"), 0u) << "never compacted";
    EXPECT_EQ(store_.Count("seg-"), 1u);
  }
  Daemon d(Socket(), Options(), store_.PassBack());
  EXPECT_EQ(*Connect("db").GetBytes("counter"), "1499");
}

TEST_F(RestartTest, WhatCannotComeBackIsNamedToItsApp) {
  const std::string path = TmpfsFile("snapshot");
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    ASSERT_TRUE(c.PutBytes("index", "kept").ok());
    int memfd = SealedMemfd("heap");
    ASSERT_TRUE(c.PutFd("heap", memfd).ok());
    ::close(memfd);
    int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(c.PutFd("file", file).ok());
    ::close(file);
  }
  // The manager lost the heap's descriptor, and the tmpfs file was written while the daemon
  // was down (the snapshot rule).
  for (auto it = store_.kept.begin(); it != store_.kept.end(); ++it) {
    if (it->first == "seg-2") {
      store_.kept.erase(it);
      break;
    }
  }
  ::usleep(10000);  // a later mtime
  testing::WriteFile(path, "changed!");
  Daemon d(Socket(), Options(), store_.PassBack());
  EXPECT_EQ(d.reload().segments, 1u);
  EXPECT_EQ(d.reload().lost, 2u);
  Client c = Connect("db");
  EXPECT_EQ(c.segments_at_hello(), 1u);
  ASSERT_EQ(c.lost_at_hello().size(), 2u);
  EXPECT_EQ(c.lost_at_hello()[0].segment, "file");
  EXPECT_NE(c.lost_at_hello()[0].reason.find("changed"), std::string::npos)
      << c.lost_at_hello()[0].reason;
  EXPECT_EQ(c.lost_at_hello()[1].segment, "heap");
  EXPECT_NE(c.lost_at_hello()[1].reason.find("did not pass it back"), std::string::npos);
  EXPECT_EQ(*c.GetBytes("index"), "kept");
  // Another app is told nothing of db's; db stops being told once it hands the heap over again.
  EXPECT_TRUE(Connect("cache").lost_at_hello().empty());
  ASSERT_TRUE(c.PutBytes("heap", "again").ok());
  ASSERT_EQ(Connect("db").lost_at_hello().size(), 1u);
  ::unlink(path.c_str());
}

TEST_F(RestartTest, ACrashBetweenTheTwoWritesLosesNothingNamed) {
  {
    Daemon d(Socket(), Options());
    Client c = Connect("db");
    ASSERT_TRUE(c.PutBytes("a", "1").ok());
    ASSERT_TRUE(c.PutBytes("b", "2").ok());
  }
  // A descriptor kept with no journal line naming it (a crash after FDSTORE, before the line),
  // and a torn last line (a crash mid-append).
  int stray = SealedMemfd("stray");
  ASSERT_TRUE(store_.Add("seg-99", stray).ok());
  ::close(stray);
  const int journal = store_.kept.at("journal-1").front().get();
  struct stat st;
  ASSERT_EQ(::fstat(journal, &st), 0);
  const std::string torn = R"({"put": 100, "uid": 0, "ap)";
  ASSERT_EQ(::pwrite(journal, torn.data(), torn.size(), st.st_size),
            static_cast<ssize_t>(torn.size()));
  Daemon d(Socket(), Options(), store_.PassBack());
  EXPECT_EQ(d.reload().segments, 2u);
  EXPECT_EQ(d.reload().lost, 0u);
  EXPECT_EQ(d.reload().notes.size(), 2u);  // the torn line, the stray descriptor
  EXPECT_EQ(store_.kept.count("seg-99"), 0u);
  Client c = Connect("db");
  EXPECT_EQ(*c.GetBytes("a"), "1");
  EXPECT_EQ(*c.GetBytes("b"), "2");
  // A new segment does not take a kept one's id.
  ASSERT_TRUE(c.PutBytes("c", "3").ok());
  EXPECT_EQ(store_.Count("seg-"), 3u);
}

TEST_F(RestartTest, WithoutAnFdStoreHelloSaysARestartLosesIt) {
  Daemon d(Socket());
  Client c = Connect("db");
  EXPECT_FALSE(c.daemon_keeps());
}

TEST_F(RestartTest, AManagerThatRefusesIsReportedAndTheSegmentStillServed) {
  Daemon d(Socket(), Options());
  store_.fail_adds = true;
  Client c = Connect("db");
  EXPECT_TRUE(c.daemon_keeps());
  ASSERT_TRUE(c.PutBytes("a", "1").ok());
  EXPECT_EQ(*c.GetBytes("a"), "1");
  EXPECT_FALSE(Connect("db").daemon_keeps());
}

TEST(CapacityTest, AHandOverPastThePmemsSizeIsRefusedSayingHowMuchIsMissing) {
  testing::TempDir dir;
  daemon::ServerOptions o;
  o.limits.capacity = 1 << 20;
  Daemon d(dir.path() + "/api.sock", o);
  auto a = Client::Connect("a", dir.path() + "/api.sock");
  auto b = Client::Connect("b", dir.path() + "/api.sock");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->PutBytes("x", std::string(700 << 10, 'x')).ok());
  Status s = b->PutBytes("y", std::string(400 << 10, 'y'));
  EXPECT_EQ(s.code(), Code::kNoSpace);
  EXPECT_NE(s.message().find("short by 76.0 KiB"), std::string::npos) << s.message();
  // Replacing counts only the difference; dropping makes room.
  EXPECT_TRUE(a->PutBytes("x", std::string(600 << 10, 'x')).ok());
  EXPECT_TRUE(b->PutBytes("y", std::string(400 << 10, 'y')).ok());
}

TEST(JournalTest, AJournalIsReadBackAsWritten) {
  auto j = daemon::Journal::Create(7);
  ASSERT_TRUE(j.ok());
  daemon::Journal::Entry e;
  e.segment = {{1000, "db"}, "heap", daemon::SegmentKind::kFd, 42, 5};
  e.sealed = true;
  e.gid = 4242;
  ASSERT_TRUE(j->Put(e).ok());
  e.segment.id = 6;
  e.segment.name = "gone";
  ASSERT_TRUE(j->Put(e).ok());
  ASSERT_TRUE(j->Drop(6).ok());
  auto c = daemon::Journal::Read(j->fd());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->generation, 7u);
  ASSERT_EQ(c->live.size(), 1u);
  EXPECT_EQ(c->live.at(5).segment.owner.app, "db");
  EXPECT_EQ(c->live.at(5).segment.owner.uid, 1000u);
  EXPECT_EQ(c->live.at(5).segment.size, 42u);
  EXPECT_EQ(c->live.at(5).gid, 4242u);
  EXPECT_EQ(c->bad_lines, 0u);
  int not_journal = SealedMemfd("{\"put\": 1}\n");
  EXPECT_EQ(daemon::Journal::Read(not_journal).status().code(), Code::kInvalidArgument);
  ::close(not_journal);
}

}  // namespace
}  // namespace warmboot
