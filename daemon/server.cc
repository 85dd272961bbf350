#include "daemon/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>

#include "daemon/connection.h"
#include "util/uuid.h"

namespace warmboot::daemon {

using boost::asio::local::stream_protocol;

struct Server::Impl {
  explicit Impl(boost::asio::io_context& io) : acceptor(io) {}
  stream_protocol::acceptor acceptor;
};

namespace {

// A socket file left by a daemon that died: nothing accepts on it.
bool StaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  const bool refused = ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 &&
                       errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

}  // namespace

Server::Server(boost::asio::io_context& io, ServerOptions options)
    : io_(io),
      options_(std::move(options)),
      instance_(UuidToString(RandomUuid())),
      store_(options_.limits),
      impl_(std::make_unique<Impl>(io)) {}

Server::~Server() {
  Stop();
}

Result<std::unique_ptr<Server>> Server::Create(boost::asio::io_context& io, ServerOptions options) {
  std::unique_ptr<Server> s(new Server(io, std::move(options)));
  boost::system::error_code ec;
  const ServerOptions& o = s->options_;
  if (o.listen_fd >= 0) {
    s->impl_->acceptor.assign(stream_protocol(), o.listen_fd, ec);
    if (ec) return IoError("cannot adopt the listening socket: " + ec.message());
  } else {
    if (o.socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return InvalidArgument("the socket path " + o.socket_path + " is too long");
    }
    std::error_code dir_ec;  // a missing directory shows up in bind's error
    std::filesystem::create_directories(std::filesystem::path(o.socket_path).parent_path(), dir_ec);
    struct stat st;
    if (::lstat(o.socket_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return InvalidArgument(o.socket_path + " exists and is not a socket; not replacing it");
      }
      if (!StaleSocket(o.socket_path)) {
        return Status(Code::kBusy, "another warmbootd serves " + o.socket_path);
      }
      ::unlink(o.socket_path.c_str());
    }
    auto& a = s->impl_->acceptor;
    a.open(stream_protocol(), ec);
    if (!ec) a.bind(stream_protocol::endpoint(o.socket_path), ec);
    if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) return IoError("cannot listen on " + o.socket_path + ": " + ec.message());
    // Anyone may connect; SO_PEERCRED decides what each may touch.
    ::chmod(o.socket_path.c_str(), 0666);
  }
  s->Accept();
  return s;
}

void Server::Accept() {
  impl_->acceptor.async_accept(
      [this](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !impl_->acceptor.is_open()) return;
        if (!ec) {
          struct ucred cred {};
          socklen_t len = sizeof cred;
          if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            size_t same_uid = 0;
            for (const auto& c : connections_) same_uid += c->uid() == cred.uid;
            auto c = std::make_shared<Connection>(*this, std::move(socket), cred.uid, cred.pid);
            connections_.insert(c);
            if (connections_.size() > options_.max_connections ||
                same_uid >= options_.max_connections_per_uid) {
              c->Refuse("too many connections" +
                        std::string(same_uid >= options_.max_connections_per_uid
                                        ? " from uid " + std::to_string(cred.uid)
                                        : ""));
            } else {
              c->Start();
            }
          }
        }
        Accept();
      });
}

void Server::Forget(const std::shared_ptr<Connection>& c) {
  connections_.erase(c);
}

void Server::Stop() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  if (options_.listen_fd < 0 && !options_.socket_path.empty()) {
    // Only our own socket file (a successor may already have replaced it).
    struct stat st;
    if (::lstat(options_.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      ::unlink(options_.socket_path.c_str());
    }
  }
  auto all = connections_;
  for (const auto& c : all) c->Close();
}

}  // namespace warmboot::daemon
