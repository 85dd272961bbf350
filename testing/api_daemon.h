// warmbootd for tests: a real daemon::Server on its own thread and io_context, as warmbootd runs
// it, on a temporary socket; and a sealed memfd to hand over. Header-only: only the suites that
// link warmboot_daemon include it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/server.h"

namespace warmboot::testing {

class ApiDaemon {
 public:
  // `kept`: what a service manager passes back from the last instance's fd store.
  explicit ApiDaemon(const std::string& socket, daemon::ServerOptions o = {},
                     std::vector<daemon::NamedFd> kept = {}) {
    o.socket_path = socket;
    auto s = daemon::Server::Create(io_, o, std::move(kept));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    server_ = std::move(*s);
    instance_ = server_->instance();
    reload_ = server_->reload();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ApiDaemon() { Stop(); }
  // Stops it as SIGTERM stops warmbootd: connections closed, the socket file removed.
  void Stop() {
    if (server_) boost::asio::post(io_, [this] { server_->Stop(); });
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  const std::string& instance() const { return instance_; }
  // What it brought back from the fd store when it started.
  const daemon::ReloadSummary& reload() const { return reload_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<daemon::Server> server_;
  std::string instance_;
  daemon::ReloadSummary reload_;
  std::thread thread_;
};

// RLIMIT_NOFILE's soft limit set to `soft` for the scope (the hard one kept), then put back.
// ok() is false when the hard limit is below 1024 (or the limit cannot be read).
class OpenFileLimit {
 public:
  explicit OpenFileLimit(rlim_t soft) {
    if (::getrlimit(RLIMIT_NOFILE, &old_) != 0 || old_.rlim_max < 1024) return;
    Set(soft);
    ok_ = true;
  }
  ~OpenFileLimit() {
    if (ok_) ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  void Set(rlim_t soft) {
    struct rlimit l = old_;
    l.rlim_cur = soft;
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &l), 0);
  }
  bool ok() const { return ok_; }

 private:
  struct rlimit old_ {};
  bool ok_ = false;
};

// A memfd holding `bytes`, sealed with `seals` (none: 0).
inline int SealedMemfd(const std::string& bytes,
                       int seals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) {
  int fd = ::memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  if (seals != 0) {
    EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, seals), 0);
  }
  return fd;
}

// Everything `fd` holds, read with pread from offset 0.
inline std::string ReadAllFd(int fd) {
  std::string out;
  char buf[1 << 16];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

}  // namespace warmboot::testing
