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

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace warmboot::client {

inline constexpr const char* kDefaultSocket = "/run/warmboot/api.sock";

// A warm reboot is coming (the daemon's prepare): put what the set needs, then Ready(round) —
// or Decline(round, why) — within deadline_ms. Only a set completed by Ready is preserved.
struct Prepare {
  uint64_t round = 0;
  uint64_t deadline_ms = 0;
};

// What the last warm reboot brought back for this app (Restored): whether this boot is warm,
// the image's generation and when it was written, its segments and the damaged ones.
struct RestoredView {
  bool warm = false;
  uint64_t generation = 0;
  int64_t preserved_ns = 0;
  std::vector<std::pair<std::string, uint64_t>> segments;  // name, size
  std::vector<std::string> damaged;                        // quarantined: start these cold
};

// The result of a checkpoint round (Checkpoint, root only: what warmboot preserve runs).
struct RoundResult {
  struct App {
    uid_t uid = 0;
    std::string app;
    std::string answer;  // ready, declined, missed, disconnected, absent, torn
    std::string reason;
  };
  uint64_t round = 0;
  bool complete = false;  // every app answered ready
  uint64_t ready = 0;
  uint64_t segments = 0, bytes = 0;  // of the ready apps: what Export hands out
  std::vector<App> apps;
};

// One segment of a finished round's ready sets (Export).
struct Exported {
  uint64_t index = 0, total = 0;
  uid_t uid = 0;
  gid_t gid = 0;  // of the process that handed it over
  std::string app, segment, kind;
  uint64_t size = 0;
  int fd = -1;  // read-only; the caller closes it
};

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
  // `deadline_ms`: the most time this app wants to be given to checkpoint (0: the round's).
  // `observer`: a tool that looks and is not an application: not told of rounds.
  static Result<Client> Connect(const std::string& app,
                                const std::string& socket_path = kDefaultSocket,
                                uint32_t deadline_ms = 0, bool observer = false);
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
  // The daemon's status (docs/api.md, "status") as its JSON text: each app of this uid (every
  // uid's for root) with connections and segments, the round running and the last one.
  Result<std::string> StatusJson();
  // Removes `segment`; its size.
  Result<uint64_t> Drop(const std::string& segment);

  // --- After the reboot: what came back. GetRestored opens a restored segment read-only (the
  // file is the app's own, 0600, in the restore tmpfs: it may also open it itself);
  // ReleaseRestored removes it, freeing its memory.
  Result<RestoredView> Restored();
  Result<int> GetRestored(const std::string& segment, uint64_t* size = nullptr);
  Result<uint64_t> ReleaseRestored(const std::string& segment);

  // --- Being told of a warm reboot. Poll fd() for input (or just call this): waits up to
  // `timeout_ms` (-1: forever) for a prepare; nullopt when none came in time.
  Result<std::optional<Prepare>> WaitForPrepare(int timeout_ms);
  Status Ready(uint64_t round);
  Status Decline(uint64_t round, const std::string& reason);
  int fd() const { return fd_; }

  // --- Running a round (root; warmboot preserve): tells every connected app, waits for their
  // answers or the deadline, and holds the ready sets frozen until EndRound or disconnect.
  // `hold_ms` > 0: once finished, the round outlives this connection by that long, frozen, for
  // another root connection to Adopt (its result again; then export and end it there).
  Result<RoundResult> Checkpoint(uint32_t deadline_ms, uint32_t hold_ms = 0);
  Result<RoundResult> Adopt(uint64_t round, uint32_t hold_ms = 0);
  Result<Exported> Export(uint64_t index);
  // Segments [from, from + count) of the round, as Export would give them one by one, with up
  // to `window` requests in flight: the cost of a round trip is paid once per window, not once
  // per segment. On an error the descriptors already received are closed.
  Result<std::vector<Exported>> ExportRange(uint64_t from, uint64_t count, unsigned window = 64);
  Status EndRound();

  // How long a request may take, sending it and waiting for its reply, before it fails with
  // kBusy (default 30 s; a round's Checkpoint waits its deadline on top; 0 or less: no limit).
  // A hung daemon is then an error, never a hang. A request whose reply did not come in time may
  // still be carried out: look (List, Status) before doing it again.
  void SetReplyTimeout(int timeout_ms);

  // The daemon instance this client registered with: a new one means the daemon restarted.
  const std::string& daemon_instance() const;
  uid_t uid() const;
  // How many segments the app had when it registered.
  uint64_t segments_at_hello() const;
  // Whether the daemon keeps what is handed over across its own restart (systemd's fd store).
  // False: a restart loses it; an app that sees a new daemon_instance() hands it over again.
  bool daemon_keeps() const;
  // What the daemon's last restart could not bring back of this app's: hand these over again.
  struct Lost {
    std::string segment;
    std::string reason;
  };
  const std::vector<Lost>& lost_at_hello() const;

 private:
  Client();
  struct Reply;
  struct Inbox;
  // Sends a request and waits for its reply, within `timeout_ms` (nullopt: the client's reply
  // timeout; negative: no limit). A reply that comes later is recognised by its id and dropped.
  Result<Reply> Call(const std::string& body_json, std::string_view data, int fd,
                     const char* expect, std::optional<int64_t> timeout_ms = std::nullopt);
  // Call's halves, for requests in flight together: Send returns the request's id; Await takes
  // the replies in order until that id's. `limit_ms` and `until` as Call works them out.
  Result<uint64_t> Send(const std::string& body_json, std::string_view data, int fd,
                        std::optional<std::chrono::steady_clock::time_point> until);
  Result<Reply> Await(uint64_t id, const std::string& request, const char* expect, int64_t limit_ms,
                      std::optional<std::chrono::steady_clock::time_point> until);
  static constexpr int kReplyTimeoutMs = 30000;
  // How long Connect waits for a daemon whose queue of connections is full.
  static constexpr int kConnectTimeoutMs = 5000;
  // Reads what the daemon sent (waiting up to timeout_ms, -1 forever); false when nothing came.
  Result<bool> ReadMore(int timeout_ms);

  // Only these two: everything else lives behind inbox_, so the class's layout (part of the
  // shared library's ABI) does not change as the client learns more.
  int fd_ = -1;
  std::unique_ptr<Inbox> inbox_;
};

}  // namespace warmboot::client
