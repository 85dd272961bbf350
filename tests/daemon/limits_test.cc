// warmbootd at the edges of what the system gives it: out of descriptors it pauses accepting
// instead of spinning, and keeps serving the connections it has.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/wire.h"
#include "client/client.h"
#include "daemon/server.h"
#include "testing/api_daemon.h"
#include "testing/child_process.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizer = true;  // forks a daemon and times its CPU: not under sanitizers
#else
constexpr bool kSanitizer = false;
#endif

// user + system CPU of `pid`, in clock ticks (/proc/PID/stat fields 14 and 15).
long CpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

int ConnectRaw(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(DaemonLimitsTest, OutOfDescriptorsItPausesInsteadOfSpinning) {
  if (kSanitizer) GTEST_SKIP() << "times a forked daemon's CPU";
  testing::TempDir dir;
  const std::string socket = dir.path() + "/api.sock";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct rlimit few {
      24, 24
    };
    ::setrlimit(RLIMIT_NOFILE, &few);
    boost::asio::io_context io;
    daemon::ServerOptions o;
    o.socket_path = socket;
    auto s = daemon::Server::Create(io, o);
    if (!s.ok()) ::_exit(1);
    io.run();
    ::_exit(0);
  }
  std::vector<int> fds;
  for (int tries = 0; tries < 200; ++tries) {  // until it listens
    int fd = ConnectRaw(socket);
    if (fd >= 0) {
      fds.push_back(fd);
      break;
    }
    ::usleep(10000);
  }
  ASSERT_EQ(fds.size(), 1u);
  // More connections than it has descriptors for: the rest wait in the listen queue.
  for (int i = 0; i < 40; ++i) {
    int fd = ConnectRaw(socket);
    if (fd >= 0) fds.push_back(fd);
  }
  ::usleep(200000);
  const long before = CpuTicks(pid);
  ::sleep(1);
  const long used = CpuTicks(pid) - before;
  const long hz = ::sysconf(_SC_CLK_TCK);
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  for (int fd : fds) ::close(fd);
  // Spinning on a failing accept takes the best part of a CPU; pausing, next to nothing.
  EXPECT_LT(used, hz / 5) << "the daemon used " << used << " of " << hz
                          << " ticks in a second with connections it could not accept";
}

}  // namespace
}  // namespace warmboot

namespace warmboot {
namespace {

// A Unix socket listening at `path` with `backlog`, and its address; -1 when it cannot be made.
int ListenAt(const std::string& path, int backlog, struct sockaddr_un* addr) {
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = {};
  addr->sun_family = AF_UNIX;
  std::snprintf(addr->sun_path, sizeof addr->sun_path, "%s", path.c_str());
  if (::bind(listener, reinterpret_cast<struct sockaddr*>(addr), sizeof *addr) != 0 ||
      ::listen(listener, backlog) != 0) {
    ::close(listener);
    return -1;
  }
  return listener;
}

// A "daemon" that welcomes and then never answers: the client's request fails in its timeout.
TEST(ClientTimeoutTest, ADaemonThatStopsAnsweringIsAnErrorNotAHang) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/api.sock";
  struct sockaddr_un addr;
  int listener = ListenAt(path, 4, &addr);
  ASSERT_GE(listener, 0);
  std::thread silent([&] {
    int c = ::accept(listener, nullptr, nullptr);
    api::FrameDecoder d;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(c, buf, sizeof buf)) > 0) {
      d.Feed(std::string_view(buf, static_cast<size_t>(n)));
      while (auto f = d.Next()) {
        if (f->body["op"] != "hello") continue;  // everything after hello goes unanswered
        api::Frame w;
        w.body = {{"op", "welcome"}, {"id", f->body["id"]}, {"version", 1}, {"daemon", "x"}};
        auto bytes = api::EncodeFrame(w);
        (void)!::write(c, bytes->data(), bytes->size());
      }
    }
    ::close(c);
  });
  {
    auto c = client::Client::Connect("db", path);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    c->SetReplyTimeout(200);
    Status s = c->PutBytes("index", "x");
    EXPECT_EQ(s.code(), Code::kBusy);
    EXPECT_NE(s.message().find("did not answer put within 200 ms"), std::string::npos)
        << s.message();
    auto r = c->Checkpoint(100);  // its deadline, and the timeout on top
    EXPECT_EQ(r.status().code(), Code::kBusy);
  }
  silent.join();
  ::close(listener);
}

// A daemon that stopped accepting, its queue full: connect would wait for ever (preserve at
// shutdown, its SIGTERM deferred, until systemd's SIGKILL). It is bounded and said.
TEST(ClientTimeoutTest, ADaemonWhoseQueueIsFullIsAnErrorNotAHang) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/api.sock";
  struct sockaddr_un addr;
  int listener = ListenAt(path, 0, &addr);  // never accepted
  ASSERT_GE(listener, 0);
  std::vector<int> queued;
  for (int i = 0; i < 8; ++i) {  // fill the queue
    int q = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (::connect(q, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(q);
      break;
    }
    queued.push_back(q);
  }
  ASSERT_FALSE(queued.empty());
  const auto start = std::chrono::steady_clock::now();
  auto c = client::Client::Connect("db", path);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c.status().code(), Code::kBusy) << c.status().ToString();
  EXPECT_NE(c.status().message().find("accepted no connection within"), std::string::npos)
      << c.status().message();
  EXPECT_LT(took, std::chrono::seconds(10));
  for (int q : queued) ::close(q);
  ::close(listener);
}

}  // namespace
}  // namespace warmboot

namespace warmboot {
namespace {

// A client out of descriptors is told so, instead of later "a descriptor did not arrive".
TEST(ClientLimitsTest, ADescriptorTheClientHasNoRoomForIsNamedAsSuch) {
  testing::TempDir dir;
  const std::string socket = dir.path() + "/api.sock";
  testing::ChildProcess child([&] {
    auto c = client::Client::Connect("db", socket);
    if (!c.ok()) return 10;
    struct rlimit few {
      64, 64
    };
    if (::setrlimit(RLIMIT_NOFILE, &few) != 0) return 11;
    while (::open("/dev/null", O_RDONLY) >= 0) {
    }
    auto fd = c->Get("m");
    if (fd.ok()) return 12;
    if (fd.status().message().find("no descriptor free") == std::string::npos) return 13;
    return 0;
  });
  ASSERT_TRUE(child.ok());
  testing::ApiDaemon d(socket);
  {
    auto c = client::Client::Connect("db", socket);
    ASSERT_TRUE(c.ok());
    int memfd = testing::SealedMemfd("state");
    ASSERT_TRUE(c->PutFd("m", memfd).ok());
    ::close(memfd);
  }
  EXPECT_EQ(child.Wait(), "");
}

}  // namespace
}  // namespace warmboot
