// warmbootd's server: one io_context, a Unix stream socket, one Connection per client
// (daemon/connection.h). The peer's uid (SO_PEERCRED, read at accept) decides what it may touch.
//
//   boost::asio::io_context io;
//   auto server = Server::Create(io, options);   // binds options.socket_path, or adopts
//   io.run();                                    // options.listen_fd (systemd)
//
// Not thread-safe: everything runs on the io_context's one thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "daemon/fd_store.h"
#include "daemon/journal.h"
#include "daemon/restored.h"
#include "daemon/store.h"
#include "util/status.h"

namespace warmboot::daemon {

struct ServerOptions {
  std::string socket_path = "/run/warmboot/api.sock";
  int listen_fd = -1;  // a listening socket handed over by systemd; then socket_path is unused
  StoreLimits limits;
  size_t max_connections = 1024;
  size_t max_connections_per_uid = 64;
  std::chrono::milliseconds frame_timeout{10000};  // to finish a frame once it has begun
  size_t max_queued_replies = 256;
  // Where restore put the applications' segments and its report: the restored view
  // (daemon/restored.h). Empty: none.
  std::string restore_dir, report_dir;
  // Keeps what apps hand over across a restart of warmbootd (daemon/fd_store.h); null: a
  // restart loses it, and hello says so. Not owned.
  FdStore* fd_store = nullptr;
};

// What Create brought back from the fd store.
struct ReloadSummary {
  bool journal = false;  // a journal was passed back
  uint64_t generation = 0;
  uint64_t segments = 0, bytes = 0;
  uint64_t lost = 0;               // named by the journal, not brought back
  std::vector<std::string> notes;  // what went wrong, for the log
};

class Connection;

class Server {
 public:
  // `kept`: what the manager passed back from the last instance's fd store ("seg-ID",
  // "journal-GEN"); with options.fd_store, Create puts those segments back.
  static Result<std::unique_ptr<Server>> Create(boost::asio::io_context& io, ServerOptions options,
                                                std::vector<NamedFd> kept = {});
  ~Server();

  // Stops accepting and closes every connection; io.run() then returns.
  void Stop();

  const ServerOptions& options() const { return options_; }
  const std::string& instance() const { return instance_; }
  Store& store() { return store_; }
  // The restored view, read again first when a restore since has changed the tree or the
  // report it was read from (daemon/restored.h).
  RestoredState& restored();
  size_t connections() const { return connections_.size(); }

  // Puts and drops go through the server, which keeps the fd store in step with the store.
  Result<Store::Placed> Put(const Owner& owner, const std::string& name, SegmentKind kind,
                            SegmentFd segment);
  Result<SegmentEntry> Drop(const Owner& owner, const std::string& name);
  // Whether what is handed over now survives a restart of warmbootd; if not, why.
  bool keeps() const { return journal_.has_value() && keep_error_.empty(); }
  const std::string& keep_error() const { return keep_error_; }
  const ReloadSummary& reload() const { return reload_; }
  // What the last restart could not bring back of `owner`'s: segment name -> why. It stays
  // named until the app puts or drops a segment of that name.
  std::map<std::string, std::string> Lost(const Owner& owner) const;

  // Connection's: it closed.
  void Forget(const std::shared_ptr<Connection>& c);

  // --- The checkpoint round (daemon/round.h). One at a time; started by a root connection (the
  // admin: warmboot preserve), which gets the result as the reply to `id` and holds the round
  // (the ready sets frozen) until it releases it or closes.
  // `hold` > 0: the finished round outlives the admin's connection by that long, for another
  // root connection to adopt (AdoptRound: the result again, and the round is its own).
  Status StartRound(const std::shared_ptr<Connection>& admin, const nlohmann::json& id,
                    std::chrono::milliseconds deadline,
                    std::chrono::milliseconds hold = std::chrono::milliseconds(0));
  Status AdoptRound(const std::shared_ptr<Connection>& admin, const nlohmann::json& id,
                    uint64_t round, std::chrono::milliseconds hold);
  Status AnswerRound(const Owner& owner, uint64_t round, bool ready, const std::string& reason);
  // A finished round held by `admin`: its ready apps' segment `index` of `total`.
  Result<SegmentEntry> ExportedSegment(const Connection* admin, uint64_t index, uint64_t* total);
  Status ReleaseRound(const Connection* admin);
  // What `status` shows to `uid` (docs/api.md, "status"): the daemon, each app (of that uid; of
  // every uid for root) with its connections and segments, and the rounds. Root sees all.
  nlohmann::json StatusFor(uid_t uid) const;
  // The owner's set is frozen: it answered ready in the round running or held.
  bool Frozen(const Owner& owner) const;

 private:
  struct Impl;
  Server(boost::asio::io_context& io, ServerOptions options);
  void Accept();
  void MaybeFinishRound();
  void FinishRound();
  // The finished round's exported sets and result (its ready apps' snapshots checked again).
  void ComputeExport();
  // The finished round's `checkpointed` result, as the reply to `id`.
  void SendResult(Connection& admin, const nlohmann::json& id);
  void Reload(std::vector<NamedFd> kept);
  // Keeping state across a restart failed: from here on nothing is kept (hello says so).
  void KeepFailed(const Status& s);
  // A fresh journal of what is held now, kept before `old_names` and the current one go.
  Status WriteJournal(uint64_t generation, std::vector<std::string> old_names);
  void MaybeCompactJournal();
  Status KeepDescriptor(uint64_t id, int fd);

  boost::asio::io_context& io_;
  ServerOptions options_;
  std::string instance_;
  Store store_;
  RestoredState restored_;
  std::optional<Journal> journal_;
  std::string keep_error_;
  ReloadSummary reload_;
  std::map<Owner, std::map<std::string, std::string>> lost_;
  std::unique_ptr<Impl> impl_;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace warmboot::daemon
