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
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

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
};

class Connection;

class Server {
 public:
  static Result<std::unique_ptr<Server>> Create(boost::asio::io_context& io, ServerOptions options);
  ~Server();

  // Stops accepting and closes every connection; io.run() then returns.
  void Stop();

  const ServerOptions& options() const { return options_; }
  const std::string& instance() const { return instance_; }
  Store& store() { return store_; }
  RestoredState& restored() { return restored_; }
  size_t connections() const { return connections_.size(); }

  // Connection's: it closed.
  void Forget(const std::shared_ptr<Connection>& c);

  // --- The checkpoint round (daemon/round.h). One at a time; started by a root connection (the
  // admin: warmboot preserve), which gets the result as the reply to `id` and holds the round
  // (the ready sets frozen) until it releases it or closes.
  Status StartRound(const std::shared_ptr<Connection>& admin, const nlohmann::json& id,
                    std::chrono::milliseconds deadline);
  Status AnswerRound(const Owner& owner, uint64_t round, bool ready, const std::string& reason);
  // A finished round held by `admin`: its ready apps' segment `index` of `total`.
  Result<SegmentEntry> ExportedSegment(const Connection* admin, uint64_t index, uint64_t* total);
  Status ReleaseRound(const Connection* admin);
  // The owner's set is frozen: it answered ready in the round running or held.
  bool Frozen(const Owner& owner) const;

 private:
  struct Impl;
  Server(boost::asio::io_context& io, ServerOptions options);
  void Accept();
  void MaybeFinishRound();
  void FinishRound();

  boost::asio::io_context& io_;
  ServerOptions options_;
  std::string instance_;
  Store store_;
  RestoredState restored_;
  std::unique_ptr<Impl> impl_;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace warmboot::daemon
