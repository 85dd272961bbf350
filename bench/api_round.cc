// api_round: a checkpoint round with N connected apps all answering ready at once, against a
// bare Unix-socket ping-pong with N peers; for bench/api (see bench/README.md).
//
//   api_round --warmbootd PATH --dir DIR [--apps 1,100,1000] [--runs 10]
//
// For each count N, one forked responder process opens N app connections to a warmbootd this
// program started (with its connection limits raised) and N peer connections to a socket this
// program listens on, then serves them all from one epoll loop: every frame that reads
// {"op": "prepare", "round": R} is answered at once with {"op": "ready", "round": R}, whoever
// sent it, and anything else is read and dropped. In alternating order, every run times:
//   round:    Client::Checkpoint as warmboot preserve sends it, until the daemon's checkpointed
//             reply (the daemon tells N apps, takes N answers, acknowledges each); end-round
//             untimed;
//   baseline: the same prepare frame written to each of the N peers, then epoll until every
//             peer's whole ready frame has been read back.
//   relay:    the round's shape without the daemon's work: the prepare frame sent to a relay
//             process, which writes it to N more connections of the responder, reads back every
//             whole ready frame and then answers with one. A round is two ping-pongs in series
//             (preserve to daemon, daemon to apps), so with few apps 2 x baseline is a floor no
//             daemon can beat; the relay measures that floor.
// Both sides have the same responder, the same frames and the same number of connections; the
// round adds the daemon. Prints one JSON object: every run's seconds per count, and the daemon's
// CPU time per round.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/wire.h"
#include "bench/daemon_process.h"
#include "bench/fd_limit.h"
#include "client/client.h"

namespace {

using namespace warmboot;
using namespace warmboot::bench;
using nlohmann::json;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Encode(json body) {
  api::Frame f;
  f.body = std::move(body);
  auto bytes = api::EncodeFrame(f);
  if (!bytes.ok()) Fail(bytes.status().message());
  return *bytes;
}

std::string Prepare(uint64_t round) {
  return Encode({{"op", "prepare"}, {"round", round}, {"deadline_ms", 10000}});
}
std::string Ready(uint64_t round) {
  return Encode({{"op", "ready"}, {"round", round}});
}

void SendAll(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
}

int ConnectTo(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (fd < 0 || ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    Fail("cannot connect to " + path + ": " + std::strerror(errno));
  }
  return fd;
}

// The next whole frame from a blocking socket.
api::Frame ReadFrame(int fd, api::FrameDecoder& d) {
  char buf[4096];
  for (;;) {
    if (auto f = d.Next()) return std::move(*f);
    if (!d.status().ok()) Fail("a broken frame: " + d.status().message());
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) Fail("the connection closed");
    d.Feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

// The responder (a child process): N apps registered with the daemon, N peers connected to the
// baseline's socket, one epoll loop answering both alike. Exits when `control` closes.
[[noreturn]] void Respond(int n, const std::string& daemon_socket, const std::string& peer_socket,
                          const std::string& relay_socket, int control) {
  struct Conn {
    int fd;
    api::FrameDecoder decoder;
  };
  std::vector<Conn> conns;
  conns.reserve(3 * n);
  for (int i = 0; i < n; ++i) {
    char app[32];
    std::snprintf(app, sizeof app, "app-%04d", i);
    Conn c{ConnectTo(daemon_socket), api::FrameDecoder()};
    SendAll(c.fd, Encode({{"op", "hello"}, {"versions", {api::kVersion}}, {"app", app}}));
    api::Frame welcome = ReadFrame(c.fd, c.decoder);
    if (welcome.body.value("op", "") != "welcome") Fail("hello: " + welcome.body.dump());
    conns.push_back(std::move(c));
  }
  for (int i = 0; i < n; ++i) conns.push_back(Conn{ConnectTo(peer_socket), api::FrameDecoder()});
  for (int i = 0; i < n; ++i) conns.push_back(Conn{ConnectTo(relay_socket), api::FrameDecoder()});
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < conns.size(); ++i) {
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  struct epoll_event cev {};
  cev.events = EPOLLIN;
  cev.data.u64 = UINT64_MAX;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, control, &cev);
  if (::write(control, "R", 1) != 1) ::_exit(1);
  std::vector<struct epoll_event> events(256);
  char buf[64 * 1024];
  for (;;) {
    int got = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) ::_exit(1);
    for (int e = 0; e < got; ++e) {
      if (events[e].data.u64 == UINT64_MAX) ::_exit(0);  // the parent is done with us
      Conn& c = conns[events[e].data.u64];
      ssize_t r;
      while ((r = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        c.decoder.Feed(std::string_view(buf, static_cast<size_t>(r)));
      }
      if (r == 0) ::_exit(0);
      while (auto f = c.decoder.Next()) {
        if (f->body.value("op", "") == "prepare") SendAll(c.fd, Ready(f->body.value("round", 0u)));
      }
    }
  }
}

struct Count {
  int n;
  std::vector<double> round_s, baseline_s, relay_s;
  std::vector<uint64_t> daemon_cpu_ns;
};

int Listen(const std::string& path) {
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    Fail("cannot listen on " + path);
  }
  return fd;
}

// The relay (a child process): one connection from the timer (accepted first), then N from the
// responder. Each frame from the timer goes to all N; once every one of them has sent back a
// whole frame of `answer` bytes, the timer gets one such frame. Exits when the timer closes.
[[noreturn]] void Relay(int listener, int n, size_t answer) {
  int timer = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  std::vector<int> apps;
  for (int i = 0; i < n; ++i) apps.push_back(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i <= apps.size(); ++i) {
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.u64 = i;  // apps.size() is the timer
    ::epoll_ctl(ep, EPOLL_CTL_ADD, i == apps.size() ? timer : apps[i], &ev);
  }
  std::vector<size_t> got(apps.size(), 0);
  size_t done = 0;
  std::vector<struct epoll_event> events(256);
  char buf[64 * 1024];
  for (;;) {
    int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) ::_exit(1);
    for (int e = 0; e < k; ++e) {
      const size_t i = events[e].data.u64;
      const int fd = i == apps.size() ? timer : apps[i];
      ssize_t r;
      while ((r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        if (i == apps.size()) {  // a prepare: on to every app
          std::fill(got.begin(), got.end(), 0);
          done = 0;
          for (int a : apps) SendAll(a, std::string(buf, static_cast<size_t>(r)));
        } else {
          got[i] += static_cast<size_t>(r);
          if (got[i] == answer && ++done == apps.size()) SendAll(timer, Ready(0));
          if (got[i] > answer) ::_exit(1);
        }
      }
      if (r == 0) ::_exit(0);
    }
  }
}

// The relay counts bytes, not frames: every relayed prepare names the same round, so every
// ready frame has the same size.
constexpr uint64_t kRelayRound = 1;

// One frame to the relay, and its one frame back.
double Relayed(int relay) {
  const std::string ping = Prepare(kRelayRound);
  const size_t want = Ready(0).size();
  char buf[4096];
  const double t0 = Now();
  SendAll(relay, ping);
  for (size_t got = 0; got < want;) {
    ssize_t r = ::recv(relay, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) Fail("the relay closed");
    got += static_cast<size_t>(r);
  }
  return Now() - t0;
}

// Sends the prepare frame to every peer and waits until each has answered in full.
double PingPong(const std::vector<int>& peers, int ep, uint64_t round) {
  const std::string ping = Prepare(round);
  const size_t want = Ready(round).size();
  std::vector<size_t> got(peers.size(), 0);
  size_t done = 0;
  std::vector<struct epoll_event> events(256);
  char buf[4096];
  const double t0 = Now();
  for (int fd : peers) SendAll(fd, ping);
  while (done < peers.size()) {
    int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) Fail("the peers did not answer within 10 s");
    for (int e = 0; e < k; ++e) {
      const size_t i = events[e].data.u64;
      ssize_t r;
      while ((r = ::recv(peers[i], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        got[i] += static_cast<size_t>(r);
      }
      if (r == 0) Fail("a peer closed");
      if (got[i] == want) ++done;
      if (got[i] > want) Fail("a peer answered more than one frame");
    }
  }
  const double t = Now() - t0;
  return t;
}

void Measure(Count& c, int runs, const std::string& dir, DaemonProcess& daemon,
             client::Client& admin, uint64_t* next_round) {
  const std::string daemon_socket = dir + "/api.sock", peer_socket = dir + "/peers.sock";
  ::unlink(peer_socket.c_str());
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", peer_socket.c_str());
  if (::bind(listener, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, SOMAXCONN) != 0) {
    Fail("cannot listen on " + peer_socket);
  }
  const std::string relay_socket = dir + "/relay.sock";
  int relay_listener = Listen(relay_socket);
  pid_t relay_pid = ::fork();
  if (relay_pid < 0) Fail("fork");
  if (relay_pid == 0) {
    ::close(listener);
    ::close(admin.fd());
    Relay(relay_listener, c.n, Ready(kRelayRound).size());
  }
  ::close(relay_listener);
  const int relay = ConnectTo(relay_socket);  // accepted first, as the timer
  int control[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) Fail("socketpair");
  pid_t pid = ::fork();
  if (pid < 0) Fail("fork");
  if (pid == 0) {
    ::close(control[0]);
    ::close(listener);
    ::close(admin.fd());  // the admin's connection stays the parent's alone
    ::close(relay);
    Respond(c.n, daemon_socket, peer_socket, relay_socket, control[1]);
  }
  ::close(control[1]);
  std::vector<int> peers;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < c.n; ++i) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) Fail(std::string("accept: ") + std::strerror(errno));
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.u64 = peers.size();
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    peers.push_back(fd);
  }
  char ready;
  if (::read(control[0], &ready, 1) != 1) Fail("the responder failed");

  // Untimed: until the daemon counts exactly these N apps (a previous responder's connections
  // may still be closing), and once more for both sides to warm up.
  for (int tries = 0;; ++tries) {
    auto rr = admin.Checkpoint(10000);
    if (!rr.ok()) Fail("checkpoint: " + rr.status().message());
    if (Status s = admin.EndRound(); !s.ok()) Fail("end-round: " + s.message());
    ++*next_round;
    if (rr->complete && rr->apps.size() == static_cast<size_t>(c.n)) break;
    if (tries == 200) Fail("the daemon never counted " + std::to_string(c.n) + " apps");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  PingPong(peers, ep, *next_round);
  Relayed(relay);

  for (int r = 0; r < runs; ++r) {
    for (int k = 0; k < 3; ++k) {
      switch ((r + k) % 3) {  // each side comes first in every third run
        case 0: {
          const ProcessUsage u0 = daemon.Usage();
          const double t0 = Now();
          auto rr = admin.Checkpoint(10000);
          const double t = Now() - t0;
          const ProcessUsage u1 = daemon.Usage();
          if (!rr.ok()) Fail("checkpoint: " + rr.status().message());
          if (!rr->complete || rr->ready != static_cast<uint64_t>(c.n)) {
            Fail("round with " + std::to_string(c.n) + " apps: " + std::to_string(rr->ready) +
                 " ready");
          }
          if (Status s = admin.EndRound(); !s.ok()) Fail("end-round: " + s.message());
          *next_round = rr->round + 1;
          c.round_s.push_back(t);
          c.daemon_cpu_ns.push_back(u1.cpu_ns - u0.cpu_ns);
          break;
        }
        case 1:
          c.baseline_s.push_back(PingPong(peers, ep, *next_round));
          break;
        default:
          c.relay_s.push_back(Relayed(relay));
      }
    }
  }
  ::close(relay);
  ::waitpid(relay_pid, nullptr, 0);
  ::close(control[0]);
  ::waitpid(pid, nullptr, 0);
  for (int fd : peers) ::close(fd);
  ::close(ep);
  ::close(listener);
}

[[noreturn]] void Usage() {
  Fail("usage: api_round --warmbootd PATH --dir DIR [--apps 1,100,1000] [--runs 10]");
}

}  // namespace

int main(int argc, char** argv) {
  std::string warmbootd, dir, apps = "1,100,1000";
  int runs = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage();
    const std::string v = argv[++i];
    if (a == "--warmbootd") {
      warmbootd = v;
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--apps") {
      apps = v;
    } else if (a == "--runs") {
      runs = std::atoi(v.c_str());
    } else {
      Usage();
    }
  }
  std::vector<Count> counts;
  int most = 0;
  std::stringstream list(apps);
  for (std::string item; std::getline(list, item, ',');) {
    const int n = std::atoi(item.c_str());
    if (n < 1) Usage();
    counts.push_back({n, {}, {}, {}, {}});
    most = std::max(most, n);
  }
  if (warmbootd.empty() || dir.empty() || runs < 1 || counts.empty()) Usage();
  // The responder holds 3 N connections; the daemon, the relay and this program N each.
  RaiseFdLimit(3 * static_cast<uint64_t>(most) + 64);
  const std::string limit = std::to_string(most + 16);
  auto daemon =
      DaemonProcess::Start({warmbootd,
                            dir + "/api.sock",
                            dir,
                            {"--max-connections", limit, "--max-connections-per-uid", limit}});
  auto admin = client::Client::Connect("bench-admin", dir + "/api.sock", 0, /*observer=*/true);
  if (!admin.ok()) Fail("admin: " + admin.status().message());
  uint64_t next_round = 1;
  json out = json::array();
  for (Count& c : counts) {
    Measure(c, runs, dir, *daemon, *admin, &next_round);
    out.push_back({{"apps", c.n},
                   {"round_s", c.round_s},
                   {"baseline_s", c.baseline_s},
                   {"relay_s", c.relay_s},
                   {"daemon_cpu_ns", c.daemon_cpu_ns}});
  }
  std::printf("%s\n", json{{"counts", out}}.dump().c_str());
  return 0;
}
