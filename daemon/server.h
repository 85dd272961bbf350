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
#include <set>
#include <string>

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
  size_t connections() const { return connections_.size(); }

  // Connection's: it closed.
  void Forget(const std::shared_ptr<Connection>& c);

 private:
  struct Impl;
  Server(boost::asio::io_context& io, ServerOptions options);
  void Accept();

  boost::asio::io_context& io_;
  ServerOptions options_;
  std::string instance_;
  Store store_;
  std::unique_ptr<Impl> impl_;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace warmboot::daemon
