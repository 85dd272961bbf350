// warmbootd for real, on a temporary socket, through the client library and through raw
// sockets: segments by bytes and by descriptor, many apps at once, isolation between uids,
// quotas, hostile names and descriptors, broken frames, a daemon restart (docs/api.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "api/wire.h"
#include "client/client.h"
#include "daemon/segment_fd.h"
#include "daemon/server.h"
#include "testing/api_daemon.h"
#include "testing/child_process.h"
#include "testing/test_util.h"
#include "util/endian.h"
#include "util/restore_mark.h"
#include "util/xoshiro.h"

namespace warmboot {
namespace {

using testing::ChildProcess;

using client::Client;
using client::RoundResult;
using nlohmann::json;

using Daemon = testing::ApiDaemon;
using testing::SealedMemfd;

using testing::ReadAllFd;

std::string Random(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  Xoshiro256 rng(seed);
  for (size_t i = 0; i + 8 <= n; i += 8)
    StoreLE<uint64_t>(reinterpret_cast<uint8_t*>(&s[i]), rng.Next());
  return s;
}

class DaemonTest : public ::testing::Test {
 protected:
  std::string Socket() const { return dir_.path() + "/api.sock"; }
  Client Connect(const std::string& app, bool observer = false) {
    auto c = Client::Connect(app, Socket(), 0, observer);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }
  testing::TempDir dir_;
};

TEST_F(DaemonTest, BytesAndDescriptorsGoInAndComeBackIdentical) {
  Daemon d(Socket());
  Client c = Connect("db");
  EXPECT_EQ(c.daemon_instance(), d.instance());
  ASSERT_TRUE(c.PutBytes("index", "small state").ok());
  const std::string big = Random(64 << 20, 1);
  int memfd = SealedMemfd(big);
  ASSERT_TRUE(c.PutFd("heap", memfd).ok());
  ::close(memfd);
  // A file on tmpfs, taken under the snapshot rule.
  const std::string path = "/dev/shm/wb-daemon-test-" + std::to_string(::getpid());
  testing::WriteFile(path, "tmpfs file");
  int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(c.PutFd("file", file).ok());
  ::close(file);
  ::unlink(path.c_str());

  EXPECT_EQ(*c.GetBytes("index"), "small state");
  uint64_t size = 0;
  auto fd = c.Get("heap", &size);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(size, big.size());
  EXPECT_EQ(ReadAllFd(*fd), big);
  // Read-only: the daemon's copy cannot be written through it.
  EXPECT_LT(::write(*fd, "x", 1), 0);
  ::close(*fd);
  EXPECT_EQ(*c.GetBytes("file"), "tmpfs file");

  auto list = c.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "file");
  EXPECT_EQ((*list)[1].name, "heap");
  EXPECT_EQ((*list)[1].kind, "fd");
  EXPECT_EQ((*list)[2].kind, "bytes");
  EXPECT_EQ(*c.Drop("heap"), big.size());
  EXPECT_EQ(c.Get("heap").status().code(), Code::kNotFound);
  EXPECT_EQ(c.Drop("heap").status().code(), Code::kNotFound);

  // Another connection of the same app sees what the first handed over.
  Client again = Connect("db");
  EXPECT_EQ(again.segments_at_hello(), 2u);
  EXPECT_EQ(*again.GetBytes("index"), "small state");
}

TEST_F(DaemonTest, ManyAppsAtOnce) {
  Daemon d(Socket());
  std::vector<Client> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(Connect("app" + std::to_string(i)));
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(clients[i].PutBytes("s", "state of " + std::to_string(i)).ok());
  }
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(*clients[i].GetBytes("s"), "state of " + std::to_string(i));
  auto all = clients[0].List(true);  // the test runs as root
  if (::geteuid() == 0) {
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 64u);
  }
}

// Every segment the daemon holds is a descriptor: a few thousand pass the soft open-file limit
// a process starts with (1024 under systemd and in an initramfs) long before the hard one.
TEST_F(DaemonTest, MoreSegmentsThanTheSoftOpenFileLimitItStartedWith) {
  testing::OpenFileLimit limit(256);
  if (!limit.ok()) GTEST_SKIP() << "the hard open-file limit is below 1024";
  Daemon d(Socket());
  Client c = Connect("db");
  for (int i = 0; i < 600; ++i) {
    Status s = c.PutBytes("s" + std::to_string(i), "state " + std::to_string(i));
    ASSERT_TRUE(s.ok()) << "segment " << i << ": " << s.ToString();
  }
  EXPECT_EQ(c.List()->size(), 600u);
  EXPECT_EQ(*c.GetBytes("s599"), "state 599");
}

// A list of thousands of segments is longer than a frame's body may be (64 KiB): it comes in
// pages, which the client puts together.
TEST_F(DaemonTest, ListsLongerThanAFrameComeWhole) {
  Daemon d(Socket());
  Client c = Connect("db");
  const std::string pad(100, 'x');
  for (int i = 0; i < 3000; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d-", i);
    ASSERT_TRUE(c.PutBytes(name + pad, std::to_string(i)).ok()) << i;
  }
  Client other = Connect("cache");
  ASSERT_TRUE(other.PutBytes("hot", "x").ok());
  auto list = c.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3000u);
  EXPECT_EQ((*list)[0].name, "00000-" + pad);
  EXPECT_EQ((*list)[2999].name, "02999-" + pad);
  EXPECT_EQ((*list)[2999].size, 4u);
  if (::geteuid() == 0) {
    auto all = c.List(true);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->size(), 3001u);
    EXPECT_EQ((*all)[3000].app, "db");
    EXPECT_EQ((*all)[0].app, "cache");
  }
  // The connection is still good.
  EXPECT_EQ(*c.GetBytes("00007-" + pad), "7");
}

// After the reboot: the restored view of an app with thousands of segments, in pages too.
TEST_F(DaemonTest, ARestoredViewLongerThanAFrameComesWhole) {
  const std::string restore = dir_.path() + "/restore", report = dir_.path() + "/reports";
  const std::string app = restore + "/.warmboot-api/" + std::to_string(::geteuid()) + "/db";
  testing::MakeDirs(app);
  testing::MakeDirs(report);
  const std::string pad(100, 'x');
  for (int i = 0; i < 2000; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d-", i);
    testing::WriteFile(app + "/" + name + pad, std::to_string(i), 0600);
  }
  testing::WriteFile(report + "/restore.json",
                     R"({"outcome":"restored","unpack":{"image":{"generation":2},"damaged":[)"
                     R"({"path":".warmboot-api/)" +
                         std::to_string(::geteuid()) + R"(/db/zz-bad"}]}})");
  daemon::ServerOptions o;
  o.restore_dir = restore;
  o.report_dir = report;
  Daemon d(Socket(), o);
  Client c = Connect("db");
  auto view = c.Restored();
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->warm);
  EXPECT_EQ(view->generation, 2u);
  ASSERT_EQ(view->segments.size(), 2000u);
  EXPECT_EQ(view->segments[1999].first, "01999-" + pad);
  EXPECT_EQ(view->segments[1999].second, 4u);
  EXPECT_EQ(view->damaged, std::vector<std::string>{"zz-bad"});
  EXPECT_EQ(*c.ReleaseRestored("00000-" + pad), 1u);
  EXPECT_EQ(c.Restored()->segments.size(), 1999u);
}

// A restore of another image in the same boot (preserve --no-kexec, a kexec that failed, then
// warmboot restore) moves the first tree aside, marks the directory as the new image's, unpacks,
// then saves its report. A warmbootd that read the first tree serves nothing while the tree and
// the report disagree, then the new tree; a release removes nothing of another tree.
TEST_F(DaemonTest, ATreeARestoreReplacedIsReadAgainBeforeItIsServed) {
  if (::geteuid() != 0) GTEST_SKIP() << "the restore directory's mark (trusted.*) needs root";
  const std::string restore = dir_.path() + "/restore", report = dir_.path() + "/reports";
  const std::string uid = std::to_string(::geteuid());
  testing::MakeDirs(report);
  auto mark = [&](const std::string& image) {
    ASSERT_EQ(::setxattr(restore.c_str(), kRestoreMarkXattr, image.data(), image.size(), 0), 0)
        << std::strerror(errno);
  };
  auto unpack = [&](const std::string& image, const std::string& segment) {
    testing::MakeDirs(restore + "/.warmboot-api/" + uid + "/db");
    testing::WriteFile(restore + "/.warmboot-api/" + uid + "/db/" + segment, image + "'s", 0600);
  };
  auto save_report = [&](const std::string& image, int generation) {
    const std::string tmp = report + "/restore.json.tmp";
    testing::WriteFile(tmp, R"({"outcome":"restored","unpack":{"image":{"generation":)" +
                                std::to_string(generation) + R"(,"uuid":")" + image + R"("}}})");
    ASSERT_EQ(::rename(tmp.c_str(), (report + "/restore.json").c_str()), 0);
  };
  const std::string a = "11111111-1111-4111-8111-111111111111";
  const std::string b = "22222222-2222-4222-8222-222222222222";
  testing::MakeDirs(restore);
  mark(a);
  unpack(a, "first");
  save_report(a, 1);
  daemon::ServerOptions o;
  o.restore_dir = restore;
  o.report_dir = report;
  Daemon d(Socket(), o);
  Client c = Connect("db");
  ASSERT_EQ(c.Restored()->segments.size(), 1u);
  EXPECT_EQ(c.Restored()->segments[0].first, "first");

  // The second restore, as restore/restore_dir.cc and restore.cc go: aside, mark, unpack...
  const std::string aside = restore + "/.warmboot-earlier." + a;
  testing::MakeDirs(aside);
  ASSERT_EQ(::rename((restore + "/.warmboot-api").c_str(), (aside + "/.warmboot-api").c_str()), 0);
  mark(b);
  unpack(b, "second");
  auto during = c.Restored();
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_FALSE(during->warm);
  EXPECT_TRUE(during->segments.empty());
  EXPECT_EQ(c.GetRestored("second").status().code(), Code::kNotFound);
  EXPECT_EQ(c.ReleaseRestored("first").status().code(), Code::kNotFound);

  // ... and its report: the new tree is served.
  save_report(b, 2);
  auto view = c.Restored();
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->warm);
  EXPECT_EQ(view->generation, 2u);
  ASSERT_EQ(view->segments.size(), 1u);
  EXPECT_EQ(view->segments[0].first, "second");
  auto fd = c.GetRestored("second");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadAllFd(*fd), b + "'s");
  ::close(*fd);
  EXPECT_EQ(c.ReleaseRestored("first").status().code(), Code::kNotFound);
  EXPECT_EQ(testing::ReadFile(aside + "/.warmboot-api/" + uid + "/db/first"), a + "'s");
}

TEST_F(DaemonTest, DescriptorsThatCannotBeTrustedAreRefusedSayingWhy) {
  Daemon d(Socket());
  Client c = Connect("db");
  auto refused = [&](int fd, const std::string& why) {
    Status s = c.PutFd("x", fd);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
    ::close(fd);
  };
  refused(SealedMemfd("grows", 0), "not sealed");
  refused(SealedMemfd("grows", F_SEAL_WRITE), "not sealed");
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::close(p[1]);
  refused(p[0], "a pipe");
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ::close(sv[1]);
  refused(sv[0], "a socket");
  refused(::open("/dev/null", O_RDONLY), "a device");
  refused(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY), "a directory");
  const std::string path = "/dev/shm/wb-daemon-o-path-" + std::to_string(::getpid());
  testing::WriteFile(path, "x");
  refused(::open(path.c_str(), O_PATH), "O_PATH");
  refused(::open(path.c_str(), O_WRONLY), "write-only");
  ::unlink(path.c_str());
  // A regular file that is not on tmpfs (the test's own binary).
  refused(::open("/proc/self/exe", O_RDONLY), "not on tmpfs");
  EXPECT_TRUE(c.List()->empty());
}

TEST_F(DaemonTest, HostileNamesAreRefusedByTheClientAndByTheDaemon) {
  Daemon d(Socket());
  Client c = Connect("db");
  for (std::string name : {std::string(".."), std::string("a/b"), std::string("a\0b", 3),
                           std::string(256, 'n'), std::string("\xff\xfe")}) {
    EXPECT_EQ(c.PutBytes(name, "x").code(), Code::kInvalidArgument) << name;
  }
  EXPECT_FALSE(Client::Connect("../etc", Socket()).ok());
}

TEST_F(DaemonTest, AnotherUidCannotTouchTheSegmentsOrListThemAll) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another uid needs root";
  // The child: nobody, registering under the same app name.
  ChildProcess child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
    auto c = Client::Connect("db", Socket());
    if (!c.ok()) return 11;
    if (c->uid() != 65534) return 12;
    if (c->segments_at_hello() != 0) return 13;
    if (c->Get("secret").status().code() != Code::kNotFound) return 14;
    if (c->Drop("secret").status().code() != Code::kNotFound) return 15;
    auto list = c->List();
    if (!list.ok() || !list->empty()) return 16;
    if (c->List(true).status().code() != Code::kPermission) return 17;
    // Its own "secret" replaces nothing of root's.
    if (!c->PutBytes("secret", "nobody's").ok()) return 18;
    return 0;
  });
  ASSERT_TRUE(child.ok());
  Daemon d(Socket());
  Client root = Connect("db");
  ASSERT_TRUE(root.PutBytes("secret", "root's").ok());
  ::chmod(dir_.path().c_str(), 0755);
  ASSERT_EQ(child.Wait(), "") << "the child's check failed";
  EXPECT_EQ(*root.GetBytes("secret"), "root's");
  auto all = root.List(true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(DaemonTest, QuotasRefuseSayingHowMuchIsMissing) {
  daemon::ServerOptions o;
  o.limits.bytes_per_app = 1000;
  o.limits.segments_per_app = 2;
  Daemon d(Socket(), o);
  Client c = Connect("db");
  ASSERT_TRUE(c.PutBytes("a", std::string(600, 'a')).ok());
  Status s = c.PutBytes("b", std::string(600, 'b'));
  EXPECT_EQ(s.code(), Code::kNoSpace);
  EXPECT_NE(s.message().find("short by 200 B"), std::string::npos) << s.message();
  ASSERT_TRUE(c.PutBytes("a", std::string(900, 'a')).ok());  // a replacement counts once
  ASSERT_TRUE(c.PutBytes("b", std::string(100, 'b')).ok());
  EXPECT_EQ(c.PutBytes("c", "c").code(), Code::kNoSpace);
}

// --- Raw sockets: what a broken or hostile client sends.

int RawConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  struct timeval tv {
    5, 0
  };
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Every frame the daemon sends until it closes the connection (or 5 s pass).
std::vector<json> ReadUntilClosed(int fd) {
  std::vector<json> got;
  api::FrameDecoder d;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    d.Feed(std::string_view(buf, static_cast<size_t>(n)));
    while (auto f = d.Next()) got.push_back(f->body);
  }
  EXPECT_EQ(n, 0) << "the daemon did not close the connection";
  return got;
}

std::string Frame(const json& body, const std::string& data = "") {
  api::Frame f;
  f.body = body;
  f.data = data;
  return *api::EncodeFrame(f);
}

TEST_F(DaemonTest, BrokenFramesGetAnErrorAndTheConnectionClosedAndOthersAreServed) {
  daemon::ServerOptions o;
  o.frame_timeout = std::chrono::milliseconds(300);
  Daemon d(Socket(), o);
  Client bystander = Connect("bystander");
  ASSERT_TRUE(bystander.PutBytes("s", "kept").ok());
  const std::string hello = Frame({{"op", "hello"}, {"versions", {1}}, {"app", "x"}});
  struct Case {
    std::string name, bytes, code;
  };
  std::string header = Frame({{"op", "list"}}).substr(0, 16);
  std::vector<Case> cases = {
      {"garbage", "GET / HTTP/1.1\r\n\r\n", "bad-frame"},
      {"oversized body", std::string("WBAP\x01\x00\x00\x00\xff\xff\xff\x00\x00\x00\x00\x00", 16),
       "bad-frame"},
      {"unknown version", std::string("WBAP\x07\x00", 6) + header.substr(6) + "{}", "bad-frame"},
      {"not JSON", std::string("WBAP\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00", 16) + "{x}",
       "bad-frame"},
      {"a descriptor announced, none sent",
       std::string("WBAP\x01\x00\x01\x00\x0e\x00\x00\x00\x00\x00\x00\x00", 16) +
           "{\"op\":\"put\"}  ",
       "bad-frame"},
      {"no version in common", Frame({{"op", "hello"}, {"versions", {2, 3}}, {"app", "x"}}),
       "unsupported-version"},
      {"truncated, then silence", hello.substr(0, 20), "timeout"},
  };
  for (const Case& c : cases) {
    int fd = RawConnect(Socket());
    ASSERT_EQ(::send(fd, c.bytes.data(), c.bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(c.bytes.size()));
    std::vector<json> got = ReadUntilClosed(fd);
    ::close(fd);
    ASSERT_FALSE(got.empty()) << c.name;
    EXPECT_EQ(got.back()["op"], "error") << c.name;
    EXPECT_EQ(got.back()["code"], c.code) << c.name << ": " << got.back().dump();
    EXPECT_EQ(*bystander.GetBytes("s"), "kept") << "after " << c.name;
  }
}

TEST_F(DaemonTest, BadRequestsAreAnsweredAndTheConnectionKept) {
  Daemon d(Socket());
  int fd = RawConnect(Socket());
  std::string bytes = Frame({{"op", "list"}, {"id", 1}}) +
                      Frame({{"op", "hello"}, {"id", 2}, {"versions", {1}}, {"app", "x"}}) +
                      Frame({{"op", "fly"}, {"id", 3}}) +
                      Frame({{"op", "put"}, {"id", 4}, {"segment", "a"}}) +
                      Frame({{"op", "get"}, {"id", 5}, {"segment", 5}}) +
                      Frame({{"op", "list"}, {"id", 6}, {"all", "yes"}});
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  ::shutdown(fd, SHUT_WR);
  std::vector<json> got = ReadUntilClosed(fd);
  ::close(fd);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0]["code"], "not-registered");
  EXPECT_EQ(got[1]["op"], "welcome");
  EXPECT_EQ(got[2]["code"], "unknown-op");
  EXPECT_EQ(got[3]["code"], "bad-request");
  EXPECT_EQ(got[4]["code"], "bad-request");
  EXPECT_EQ(got[5]["op"], "segments");
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["id"], i + 1);
}

TEST_F(DaemonTest, ARestartedDaemonIsANewInstanceTheClientCanTell) {
  std::string first;
  {
    Daemon d(Socket());
    Client c = Connect("db");
    ASSERT_TRUE(c.PutBytes("s", "x").ok());
    first = c.daemon_instance();
  }
  Daemon d(Socket());  // the socket file the first left is replaced
  Client c = Connect("db");
  EXPECT_NE(c.daemon_instance(), first);
  EXPECT_EQ(c.segments_at_hello(), 0u);
}

TEST_F(DaemonTest, ASecondDaemonOnTheSameSocketIsRefused) {
  Daemon d(Socket());
  boost::asio::io_context io;
  daemon::ServerOptions o;
  o.socket_path = Socket();
  auto second = daemon::Server::Create(io, o);
  EXPECT_EQ(second.status().code(), Code::kBusy) << second.status().ToString();
}

// --- The checkpoint round: prepare, ready / decline, deadlines, export, frozen sets.

const RoundResult::App* Find(const client::RoundResult& r, const std::string& app) {
  for (const auto& a : r.apps) {
    if (a.app == app) return &a;
  }
  return nullptr;
}

TEST_F(DaemonTest, OnlySetsCompletedByReadyArePreservedAndEveryOtherAppIsNamed) {
  Daemon d(Socket());
  {
    Client gone = Connect("gone");  // hands over, then exits before the round
    ASSERT_TRUE(gone.PutBytes("s", "old").ok());
  }
  Client ready = Connect("ready"), declines = Connect("declines"), silent = Connect("silent");
  auto crashes = std::make_unique<Client>(Connect("crashes"));
  ASSERT_TRUE(ready.PutBytes("before", "put before the round").ok());
  ASSERT_TRUE(crashes->PutBytes("half", "x").ok());
  std::thread ready_app([&] {
    auto p = ready.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value()) << p.status().ToString();
    EXPECT_EQ((*p)->deadline_ms, 1500u);
    int memfd = SealedMemfd(std::string(1 << 20, 'm'));
    ASSERT_TRUE(ready.PutFd("heap", memfd).ok());
    ::close(memfd);
    ASSERT_TRUE(ready.Ready((*p)->round).ok());
    // Its set is now frozen.
    EXPECT_EQ(ready.PutBytes("late", "x").code(), Code::kBusy);
  });
  std::thread declining_app([&] {
    auto p = declines.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(declines.Decline((*p)->round, "mid-compaction").ok());
  });
  std::thread crashing_app([&] {
    auto p = crashes->WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    crashes.reset();  // dies mid-checkpoint
  });
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(1500);
  ready_app.join();
  declining_app.join();
  crashing_app.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->ready, 1u);
  ASSERT_EQ(r->apps.size(), 5u);
  EXPECT_EQ(Find(*r, "ready")->answer, "ready");
  EXPECT_EQ(Find(*r, "declines")->answer, "declined");
  EXPECT_EQ(Find(*r, "declines")->reason, "mid-compaction");
  EXPECT_EQ(Find(*r, "silent")->answer, "missed");
  EXPECT_EQ(Find(*r, "crashes")->answer, "disconnected");
  EXPECT_EQ(Find(*r, "gone")->answer, "absent");
  // Exported: the ready app's set, and nothing of the others.
  ASSERT_EQ(r->segments, 2u);
  EXPECT_EQ(r->bytes, (1u << 20) + 20);
  auto e0 = admin.Export(0), e1 = admin.Export(1);
  ASSERT_TRUE(e0.ok() && e1.ok()) << e0.status().ToString() << e1.status().ToString();
  EXPECT_EQ(e0->segment, "before");
  EXPECT_EQ(ReadAllFd(e0->fd), "put before the round");
  EXPECT_EQ(e1->segment, "heap");
  EXPECT_EQ(e1->size, 1u << 20);
  EXPECT_EQ(e1->total, 2u);
  ::close(e0->fd);
  ::close(e1->fd);
  EXPECT_EQ(admin.Export(2).status().code(), Code::kNotFound);
  // A second round waits for this one; releasing it thaws the ready app's set.
  Client other_admin = Connect("warmboot");
  EXPECT_EQ(other_admin.Checkpoint(100).status().code(), Code::kBusy);
  ASSERT_TRUE(admin.EndRound().ok());
  EXPECT_TRUE(ready.PutBytes("late", "x").ok());
}

// Export walks the ready sets by index: in order (as preserve does), and any other order too.
TEST_F(DaemonTest, ExportHandsOutEveryReadySegmentInAnyOrder) {
  Daemon d(Socket());
  Client a = Connect("a"), b = Connect("b");
  for (Client* c : {&a, &b}) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(c->PutBytes("s" + std::to_string(i), c == &a ? "a" : "bb").ok());
    }
  }
  auto answer = [](Client& c) {
    auto p = c.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(c.Ready((*p)->round).ok());
  };
  std::thread ta(answer, std::ref(a)), tb(answer, std::ref(b));
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(10000);
  ta.join();
  tb.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->segments, 10u);
  EXPECT_EQ(r->bytes, 15u);
  auto name = [&](uint64_t i) {
    auto e = admin.Export(i);
    EXPECT_TRUE(e.ok()) << i << ": " << e.status().ToString();
    if (!e.ok()) return std::string();
    ::close(e->fd);
    return e->app + "/" + e->segment;
  };
  std::vector<std::string> in_order;
  for (uint64_t i = 0; i < 10; ++i) in_order.push_back(name(i));
  EXPECT_EQ(in_order.front(), "a/s0");
  EXPECT_EQ(in_order[5], "b/s0");
  EXPECT_EQ(in_order.back(), "b/s4");
  for (uint64_t i : {9, 3, 4, 0, 5, 6, 2, 8, 7, 1, 1, 2}) EXPECT_EQ(name(i), in_order[i]) << i;
  EXPECT_EQ(admin.Export(10).status().code(), Code::kNotFound);
  // Pipelined, with fewer requests in flight than segments: the same, in order.
  auto range = admin.ExportRange(0, 10, /*window=*/3);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  ASSERT_EQ(range->size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ((*range)[i].app + "/" + (*range)[i].segment, in_order[i]) << i;
    EXPECT_EQ(ReadAllFd((*range)[i].fd), (*range)[i].app == "a" ? "a" : "bb");
    ::close((*range)[i].fd);
  }
  // Past the end: an error, and the connection still answers in step.
  EXPECT_EQ(admin.ExportRange(8, 4, 2).status().code(), Code::kNotFound);
  EXPECT_EQ(name(9), in_order[9]);
}

// warmboot reboot runs the round while the apps run and leaves; the preserve that writes the
// image after they stopped adopts it: the sets stay frozen in between, and only for so long.
TEST_F(DaemonTest, AHeldRoundOutlivesItsAdminUntilAdoptedOrItsHoldEnds) {
  Daemon d(Socket());
  Client app = Connect("db");
  ASSERT_TRUE(app.PutBytes("index", "v1").ok());
  auto answer = [&] {
    auto p = app.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(app.Ready((*p)->round).ok());
  };
  uint64_t round = 0;
  {
    std::thread t(answer);
    Client reboot = Connect("warmboot", /*observer=*/true);
    auto r = reboot.Checkpoint(10000, /*hold_ms=*/60000);
    t.join();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->complete);
    round = r->round;
  }  // its connection closes
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(app.PutBytes("index", "v2").code(), Code::kBusy) << "still frozen";
  Client preserve = Connect("warmboot", /*observer=*/true);
  EXPECT_EQ(preserve.Adopt(round + 1).status().code(), Code::kNotFound);
  auto adopted = preserve.Adopt(round);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ(adopted->round, round);
  EXPECT_EQ(adopted->ready, 1u);
  ASSERT_EQ(adopted->segments, 1u);
  Client other = Connect("warmboot", /*observer=*/true);
  EXPECT_EQ(other.Adopt(round).status().code(), Code::kBusy) << "one admin at a time";
  auto e = preserve.Export(0);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(ReadAllFd(e->fd), "v1");
  ::close(e->fd);
  ASSERT_TRUE(preserve.EndRound().ok());
  EXPECT_TRUE(app.PutBytes("index", "v2").ok()) << "thawed";

  // Held for 200 ms with nobody adopting it: it ends, and the set thaws.
  {
    std::thread t(answer);
    Client reboot = Connect("warmboot", /*observer=*/true);
    auto r = reboot.Checkpoint(10000, /*hold_ms=*/200);
    t.join();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    round = r->round;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(app.PutBytes("index", "v3").code(), Code::kBusy);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(app.PutBytes("index", "v3").ok()) << "the hold ended";
  EXPECT_EQ(preserve.Adopt(round).status().code(), Code::kNotFound);

  // An adopter that leaves without end-round, and asked for no hold of its own, ends it.
  {
    std::thread t(answer);
    Client reboot = Connect("warmboot", /*observer=*/true);
    auto r = reboot.Checkpoint(10000, /*hold_ms=*/60000);
    t.join();
    ASSERT_TRUE(r.ok());
    round = r->round;
  }
  {
    Client adopter = Connect("warmboot", /*observer=*/true);
    ASSERT_TRUE(adopter.Adopt(round).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(app.PutBytes("index", "v4").ok());

  // A round held for an hour does not keep the daemon from stopping (SIGTERM).
  {
    std::thread t(answer);
    Client reboot = Connect("warmboot", /*observer=*/true);
    ASSERT_TRUE(reboot.Checkpoint(10000, /*hold_ms=*/3600000).ok());
    t.join();
  }
  auto stopped = std::async(std::launch::async, [&] { d.Stop(); });
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the daemon did not stop: a held round's timer kept it running";
}

TEST_F(DaemonTest, AnAppsOwnDeadlineIsKeptAndAReleasedAdminThawsTheSets) {
  Daemon d(Socket());
  auto quick = Client::Connect("quick", Socket(), /*deadline_ms=*/100);
  ASSERT_TRUE(quick.ok());
  std::thread app([&] {
    auto p = quick->WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    EXPECT_EQ((*p)->deadline_ms, 100u);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_FALSE(quick->Ready((*p)->round).ok());  // too late: its own deadline passed
  });
  {
    Client admin = Connect("warmboot");
    auto r = admin.Checkpoint(5000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Find(*r, "quick")->answer, "missed");
    app.join();
  }
  // The admin closed: the next round can start, and it is complete when every app is ready.
  std::thread again([&] {
    auto p = quick->WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(quick->Ready((*p)->round).ok());
  });
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(5000);
  again.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->round, 2u);
}

TEST_F(DaemonTest, ATmpfsFileChangedBeforeReadyMakesTheSetTorn) {
  Daemon d(Socket());
  Client app = Connect("db");
  const std::string path = "/dev/shm/wb-torn-" + std::to_string(::getpid());
  testing::WriteFile(path, "v1");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(app.PutFd("file", fd).ok());
  ::close(fd);
  std::thread t([&] {
    auto p = app.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    testing::WriteFile(path, "v2, longer");  // rewritten in place after the hand-over
    ASSERT_TRUE(app.Ready((*p)->round).ok());
  });
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(5000);
  t.join();
  ::unlink(path.c_str());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Find(*r, "db")->answer, "torn");
  EXPECT_NE(Find(*r, "db")->reason.find("segment 'file'"), std::string::npos);
  EXPECT_EQ(r->segments, 0u);
}

// A held round waits minutes for the preserve at shutdown: the snapshot rule is checked again
// when it is adopted, so a tmpfs file rewritten meanwhile (the app, stopping) is not packed.
TEST_F(DaemonTest, ATmpfsFileChangedWhileTheRoundIsHeldMakesTheSetTornAtAdoption) {
  Daemon d(Socket());
  Client app = Connect("db");
  const std::string path = "/dev/shm/wb-torn-held-" + std::to_string(::getpid());
  testing::WriteFile(path, "v1");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(app.PutFd("file", fd).ok());
  ::close(fd);
  std::thread t([&] {
    auto p = app.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(app.Ready((*p)->round).ok());
  });
  uint64_t round = 0;
  {
    Client reboot = Connect("warmboot", /*observer=*/true);
    auto r = reboot.Checkpoint(5000, /*hold_ms=*/60000);
    t.join();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Find(*r, "db")->answer, "ready");
    EXPECT_EQ(r->segments, 1u);
    round = r->round;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::WriteFile(path, "v2, longer");
  Client preserve = Connect("warmboot", /*observer=*/true);
  auto adopted = preserve.Adopt(round);
  ::unlink(path.c_str());
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ(Find(*adopted, "db")->answer, "torn");
  EXPECT_EQ(adopted->segments, 0u);
  EXPECT_EQ(preserve.Export(0).status().code(), Code::kNotFound);
}

// Every reason goes into the one result frame: each is bounded.
TEST_F(DaemonTest, ALongDeclineReasonIsCut) {
  Daemon d(Socket());
  Client app = Connect("db");
  std::thread t([&] {
    auto p = app.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(app.Decline((*p)->round, std::string(5000, 'r')).ok());
  });
  Client admin = Connect("warmboot", /*observer=*/true);
  auto r = admin.Checkpoint(5000);
  t.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Find(*r, "db")->reason.size(), 1024u);
}

// At shutdown systemd accepts on warmbootd's socket and closes at once (it will not start the
// daemon while the socket unit stops): that is no daemon, not an I/O error, so preserve packs
// the state directory alone.
TEST_F(DaemonTest, ASocketThatAcceptsAndClosesIsNoDaemon) {
  const std::string path = Socket();
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  std::thread closer([&] {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
  });
  auto c = Client::Connect("warmboot", path, 0, /*observer=*/true);
  closer.join();
  ::close(listener);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound) << c.status().message();
}

TEST_F(DaemonTest, ObserversAreNotToldOfRounds) {
  Daemon d(Socket());
  auto tool = Client::Connect("warmboot-cli", Socket(), 0, /*observer=*/true);
  ASSERT_TRUE(tool.ok());
  Client admin = Connect("warmboot");
  auto r = admin.Checkpoint(5000);  // nobody to wait for: answered at once
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->apps.empty());
  EXPECT_TRUE(r->complete);
  auto p = tool->WaitForPrepare(0);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_value());
}

TEST_F(DaemonTest, OnlyRootRunsARound) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another uid needs root";
  ChildProcess child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
    auto c = Client::Connect("warmboot", Socket());
    if (!c.ok()) return 11;
    if (c->Checkpoint(100).status().code() != Code::kPermission) return 12;
    if (c->Export(0).status().code() != Code::kInvalidArgument) return 13;
    return 0;
  });
  ASSERT_TRUE(child.ok());
  Daemon d(Socket());
  ::chmod(dir_.path().c_str(), 0755);
  EXPECT_EQ(child.Wait(), "");
}

TEST_F(DaemonTest, StatusShowsWhoIsRegisteredAndHowTheLastRoundWasAnswered) {
  // Another uid, at the end: sees its own apps only, and none of the round's answers.
  std::optional<ChildProcess> other;
  if (::geteuid() == 0) {
    other.emplace([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
      auto c = Client::Connect("mine", Socket());
      if (!c.ok()) return 11;
      auto s = c->StatusJson();
      if (!s.ok()) return 12;
      json j = json::parse(*s, nullptr, false);
      if (!j.is_object() || j["apps"].size() != 1 || j["apps"][0]["app"] != "mine") return 13;
      if (!j["last_round"]["apps"].empty()) return 14;
      return 0;
    });
    ASSERT_TRUE(other->ok());
  }
  Daemon d(Socket());
  Client db = Connect("db");
  ASSERT_TRUE(db.PutBytes("index", "12345").ok());
  Client cache = Connect("cache");  // never answers
  std::thread t([&] {
    auto p = db.WaitForPrepare(10000);
    ASSERT_TRUE(p.ok() && p->has_value());
    ASSERT_TRUE(db.Ready((*p)->round).ok());
  });
  // The admin connects as warmboot preserve does: an observer, not an app.
  auto admin_c = Client::Connect("warmboot", Socket(), 0, /*observer=*/true);
  ASSERT_TRUE(admin_c.ok());
  Client& admin = *admin_c;
  auto r = admin.Checkpoint(300);
  t.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(admin.EndRound().ok());
  auto tool = Client::Connect("warmboot-cli", Socket(), 0, /*observer=*/true);
  ASSERT_TRUE(tool.ok());
  auto text = tool->StatusJson();
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  json st = json::parse(*text);
  EXPECT_EQ(st["daemon"], d.instance());
  EXPECT_EQ(st["kept"], false);
  EXPECT_EQ(st["segments"], 1);
  // Apps, not tools or the admin: db and cache, by name.
  ASSERT_EQ(st["apps"].size(), 2u) << st.dump();
  EXPECT_EQ(st["apps"][0]["app"], "cache");
  EXPECT_EQ(st["apps"][0]["connections"], 1);
  EXPECT_EQ(st["apps"][1]["app"], "db");
  EXPECT_EQ(st["apps"][1]["segments"], 1);
  EXPECT_EQ(st["apps"][1]["bytes"], 5);
  EXPECT_FALSE(st.contains("round"));
  ASSERT_TRUE(st.contains("last_round"));
  EXPECT_EQ(st["last_round"]["ready"], 1);
  EXPECT_EQ(st["last_round"]["apps"][0]["answer"], "missed");
  EXPECT_EQ(st["last_round"]["apps"][1]["answer"], "ready");

  if (!other) return;
  ::chmod(dir_.path().c_str(), 0755);
  EXPECT_EQ(other->Wait(), "");
}

TEST(SnapshotRuleTest, ATmpfsFileWrittenAfterTheHandOverIsCaught) {
  const std::string path = "/dev/shm/wb-snapshot-" + std::to_string(::getpid());
  testing::WriteFile(path, "before");
  auto seg = daemon::AcceptFd(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  EXPECT_TRUE(daemon::CheckSnapshot(*seg).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::WriteFile(path, "after!");
  EXPECT_EQ(daemon::CheckSnapshot(*seg).code(), Code::kCorruption);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace warmboot
