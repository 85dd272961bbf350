// One client of warmbootd: reads frames (descriptors arrive with SCM_RIGHTS beside the bytes),
// answers each request in order, and closes the connection on a broken frame, a frame not
// finished in time, or a client that does not read its replies. Lives as long as a handler
// holds it (shared_from_this), as in Boost.Asio's examples.
#pragma once

#include <sys/types.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "api/wire.h"
#include "daemon/store.h"
#include "util/unique_fd.h"

namespace warmboot::daemon {

class Server;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server, boost::asio::local::stream_protocol::socket socket, uid_t uid,
             gid_t gid, pid_t pid);
  void Start();
  // Answers `busy` and closes (over the server's connection limits).
  void Refuse(const std::string& why);
  void Close();
  uid_t uid() const { return uid_; }
  const std::optional<Owner>& owner() const { return owner_; }
  // How long this app asked to be given to checkpoint (hello's deadline_ms), at most a round's.
  std::chrono::milliseconds deadline() const { return deadline_; }
  // Registered to look, not to take part: tools (warmboot api, warmboot preserve) are not told
  // of rounds (hello's "observer": true).
  bool observer() const { return observer_; }
  // Sends a frame the client did not ask for (prepare), or a reply completed later.
  void Notify(nlohmann::json body) { Send(std::move(body)); }
  // The same, already encoded: a round's prepare is encoded once for every app told.
  void NotifyEncoded(std::shared_ptr<const std::string> frame);

 private:
  struct Outgoing {
    std::shared_ptr<const std::string> bytes;
    UniqueFd fd;
    size_t sent = 0;
  };

  void ReadSome();
  void OnReadable();
  void Handle(api::Frame frame, std::deque<UniqueFd> fds);
  void HandleHello(const nlohmann::json& body, nlohmann::json& reply);
  void HandlePut(const nlohmann::json& body, const std::string& data, std::deque<UniqueFd>& fds,
                 nlohmann::json& reply);
  void HandleGet(const nlohmann::json& body, nlohmann::json& reply, UniqueFd* fd);
  void HandleList(const nlohmann::json& body, nlohmann::json& reply);
  void HandleDrop(const nlohmann::json& body, nlohmann::json& reply);
  // Returns false when the reply comes later (a round's result).
  bool HandleCheckpoint(const nlohmann::json& body, const nlohmann::json& id,
                        nlohmann::json& reply);
  bool HandleAdopt(const nlohmann::json& body, const nlohmann::json& id, nlohmann::json& reply);
  // Returns false when it has answered already (noted, on every app's path of a round).
  bool HandleAnswer(const nlohmann::json& body, const nlohmann::json& id, bool ready,
                    nlohmann::json& reply);
  void HandleExport(const nlohmann::json& body, nlohmann::json& reply, UniqueFd* fd);
  void HandleRestored(const nlohmann::json& body, nlohmann::json& reply);
  // Fills `reply` with `busy` when this app's set is frozen by a round.
  bool Frozen(nlohmann::json& reply) const;
  void HandleRelease(const nlohmann::json& body, nlohmann::json& reply);
  // Queues an error reply; `close` ends the connection once it is sent.
  void Error(const nlohmann::json& id, const std::string& code, const std::string& message,
             bool close = false);
  void Send(nlohmann::json body, UniqueFd fd = UniqueFd());
  void Queue(std::shared_ptr<const std::string> bytes, UniqueFd fd);
  void WriteSome();
  void ArmFrameTimer();

  Server& server_;
  boost::asio::local::stream_protocol::socket socket_;
  boost::asio::steady_timer frame_timer_;
  const uid_t uid_;
  const gid_t gid_;
  const pid_t pid_;
  std::chrono::milliseconds deadline_{std::chrono::hours(1)};
  bool observer_ = false;
  std::optional<Owner> owner_;  // after hello
  api::FrameDecoder decoder_;
  std::deque<UniqueFd> fds_;  // received, not yet claimed by a frame
  std::deque<Outgoing> out_;
  bool writing_ = false, closing_ = false, closed_ = false, timer_armed_ = false;
};

}  // namespace warmboot::daemon
