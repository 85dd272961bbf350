// The C ABI (client/client_c.h) against warmbootd for real, on a temporary socket: segments by
// descriptor and by bytes, each daemon error as its wb_error code, wb_list and wb_list_free,
// NULL arguments refused rather than dereferenced, failures with and without a client, a
// daemon that goes away.
#include "client/client_c.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <thread>

#include "daemon/server.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

// A daemon on its own thread and io_context, as warmbootd runs it (as tests/daemon has it).
class Daemon {
 public:
  explicit Daemon(const std::string& socket, daemon::ServerOptions o = {}) {
    o.socket_path = socket;
    auto s = daemon::Server::Create(io_, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Daemon() { Stop(); }
  void Stop() {
    if (server_) boost::asio::post(io_, [this] { server_->Stop(); });
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<daemon::Server> server_;
  std::thread thread_;
};

// A memfd holding `bytes`, sealed with `seals`.
int SealedMemfd(const std::string& bytes, int seals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) {
  int fd = ::memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  if (seals != 0) {
    EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, seals), 0);
  }
  return fd;
}

std::string ReadAll(int fd) {
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
  EXPECT_NE(wb_last_error(nullptr), nullptr);
  EXPECT_STREQ(wb_error_name(WB_ERR_NOT_FOUND), "not-found");
  EXPECT_STREQ(wb_error_name(-7), "unknown");

  // None of it touched the daemon: nothing was stored, the connection still works.
  ASSERT_EQ(wb_list(c, 0, &list, &count), WB_OK) << wb_last_error(c);
  EXPECT_EQ(count, 0u);
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
