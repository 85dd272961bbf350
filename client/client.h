// The checkpoint API's C++ client (docs/api.md): an application registers under a name, hands
// its state to warmbootd as segments (bytes, or a sealed memfd / a tmpfs file passed by
// descriptor, so a gigabyte costs no copy) and gets them back.
//
//   auto c = warmboot::client::Client::Connect("db");
//   if (!c.ok()) ...                              // c.status().message() says why
//   c->PutFd("heap", memfd);                      // memfd sealed: F_SEAL_WRITE|GROW|SHRINK
//   c->PutBytes("index", bytes);
//   auto fd = c->Get("heap");                     // a read-only descriptor
//
// Blocking; one request at a time per Client. A Client is not thread-safe; use one per thread
// or guard it. Errors carry the daemon's code as Status codes (not-found -> kNotFound, quota ->
// kNoSpace, permission -> kPermission, bad-name / bad-fd / bad-request -> kInvalidArgument) and
// its message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace warmboot::client {

inline constexpr const char* kDefaultSocket = "/run/warmboot/api.sock";

struct Segment {
  std::string name;
  uint64_t size = 0;
  std::string kind;  // "bytes" or "fd"
  uid_t uid = 0;     // with List(all): whose it is
  std::string app;
};

class Client {
 public:
  // Connects and registers as `app`. kNotFound when no daemon listens on `socket_path`.
  static Result<Client> Connect(const std::string& app,
                                const std::string& socket_path = kDefaultSocket);
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Stores `bytes` (at most 1 MiB) as `segment`, replacing one of that name.
  Status PutBytes(const std::string& segment, std::string_view bytes);
  // Hands `fd` over as `segment` (the daemon gets its own copy of the descriptor; `fd` stays
  // the caller's). A memfd must be sealed against writes, growing and shrinking.
  Status PutFd(const std::string& segment, int fd);
  // A new read-only descriptor of `segment` (the caller closes it); its size in *size.
  Result<int> Get(const std::string& segment, uint64_t* size = nullptr);
  // The segment's bytes, read through Get (for small segments).
  Result<std::string> GetBytes(const std::string& segment);
  // This app's segments, by name; with `all` (root only) every app's.
  Result<std::vector<Segment>> List(bool all = false);
  // Removes `segment`; its size.
  Result<uint64_t> Drop(const std::string& segment);

  // The daemon instance this client registered with: a new one means the daemon restarted.
  const std::string& daemon_instance() const { return instance_; }
  uid_t uid() const { return uid_; }
  // How many segments the app had when it registered.
  uint64_t segments_at_hello() const { return segments_at_hello_; }

 private:
  Client() = default;
  struct Reply;
  Result<Reply> Call(const std::string& body_json, std::string_view data, int fd,
                     const char* expect);

  int fd_ = -1;
  uint64_t next_id_ = 1;
  std::string instance_;
  uid_t uid_ = 0;
  uint64_t segments_at_hello_ = 0;
};

}  // namespace warmboot::client
