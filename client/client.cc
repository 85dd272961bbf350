#include "client/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>

#include "api/fd_passing.h"
#include "api/names.h"
#include "api/wire.h"

namespace warmboot::client {

using nlohmann::json;

struct Client::Reply {
  json body;
  std::string data;
  int fd = -1;  // owned by the caller once returned
};

// What has arrived and not been claimed: the decoder's partial frame, descriptors that came
// ahead of their frames, and notices (prepare) that arrived while waiting for a reply.
struct Client::Inbox {
  api::FrameDecoder decoder{api::kMaxReplyBody};       // replies may be larger than requests
  int64_t reply_timeout_ms = Client::kReplyTimeoutMs;  // -1: no limit
  std::deque<int> fds;
  std::deque<Reply> notices;
  uint64_t next_id = 1;
  // What welcome said.
  std::string instance;
  uid_t uid = 0;
  uint64_t segments_at_hello = 0;
  bool daemon_keeps = false;
  std::vector<Lost> lost_at_hello;
  ~Inbox() {
    for (int f : fds) ::close(f);
    for (Reply& r : notices) {
      if (r.fd >= 0) ::close(r.fd);
    }
  }
};

namespace {

Code CodeFor(const std::string& code) {
  if (code == "not-found") return Code::kNotFound;
  if (code == "quota") return Code::kNoSpace;
  if (code == "permission") return Code::kPermission;
  if (code == "busy") return Code::kBusy;
  if (code == "bad-name" || code == "bad-fd" || code == "bad-request" || code == "unknown-op" ||
      code == "not-registered") {
    return Code::kInvalidArgument;
  }
  if (code == "unsupported-version") return Code::kUnsupported;
  return Code::kIoError;
}

// body[key] when it has the type asked for, else `fallback` (a daemon's reply is input too).
uint64_t UintField(const json& body, const char* key, uint64_t fallback = 0) {
  auto it = body.find(key);
  return it != body.end() && it->is_number_unsigned() ? it->get<uint64_t>() : fallback;
}
std::string StringField(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

using Clock = std::chrono::steady_clock;

// ReadMore's end of stream (Connect tells a socket with no daemon behind it by it).
constexpr const char* kClosed = "warmbootd closed the connection";

// Milliseconds left until `until` for poll (-1: no limit, never negative otherwise).
int LeftMs(std::optional<Clock::time_point> until) {
  if (!until) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*until - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

// Sends a whole frame by `until`. *partial: some of it went and the rest did not (the stream is
// then broken).
Status SendFrame(int sock, const std::string& bytes, int fd, std::optional<Clock::time_point> until,
                 bool* partial) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = api::SendWithFd(sock, bytes.data() + sent, bytes.size() - sent, sent == 0 ? fd : -1,
                                MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) {
        *partial = sent > 0;
        return Status(Code::kIoError, kClosed);
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *partial = sent > 0;
        return ErrnoError("cannot send to warmbootd", errno);
      }
      struct pollfd p {
        sock, POLLOUT, 0
      };
      int r;
      while ((r = ::poll(&p, 1, LeftMs(until))) < 0 && errno == EINTR) {
      }
      if (r == 0) {
        *partial = sent > 0;
        return Status(Code::kBusy, "warmbootd took no more of a request within the timeout");
      }
      continue;
    }
    sent += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Client::Client() : inbox_(std::make_unique<Inbox>()) {}

Client::Client(Client&& o) noexcept {
  *this = std::move(o);
}

Client& Client::operator=(Client&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    inbox_ = std::move(o.inbox_);
  }
  return *this;
}

const std::string& Client::daemon_instance() const {
  return inbox_->instance;
}
uid_t Client::uid() const {
  return inbox_->uid;
}
uint64_t Client::segments_at_hello() const {
  return inbox_->segments_at_hello;
}
bool Client::daemon_keeps() const {
  return inbox_->daemon_keeps;
}
const std::vector<Client::Lost>& Client::lost_at_hello() const {
  return inbox_->lost_at_hello;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Client> Client::Connect(const std::string& app, const std::string& socket_path,
                               uint32_t deadline_ms, bool observer) {
  struct sockaddr_un addr {};
  if (socket_path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("the socket path " + socket_path + " is too long");
  }
  Client c;
  c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) return ErrnoError("cannot create a socket", errno);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  // A Unix socket's connect waits while the listener's queue is full (a daemon that stopped
  // accepting): bounded by the send timeout, then EAGAIN. Sends use MSG_DONTWAIT and poll.
  struct timeval wait {
    kConnectTimeoutMs / 1000, (kConnectTimeoutMs % 1000) * 1000
  };
  (void)::setsockopt(c.fd_, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  int rc;
  while ((rc = ::connect(c.fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr)) != 0 &&
         errno == EINTR) {
  }
  if (rc != 0) {
    const int err = errno;
    if (err == EAGAIN) {
      return Status(Code::kBusy, "warmbootd at " + socket_path + " accepted no connection within " +
                                     std::to_string(kConnectTimeoutMs) +
                                     " ms (its queue is full: is it hung? systemctl status "
                                     "warmbootd)");
    }
    return Status(err == ENOENT || err == ECONNREFUSED ? Code::kNotFound : Code::kIoError,
                  "cannot connect to warmbootd at " + socket_path + ": " + std::strerror(err) +
                      (err == ENOENT || err == ECONNREFUSED ? " (is warmbootd running?)" : ""));
  }
  json hello{{"op", "hello"}, {"versions", {api::kVersion}}, {"app", app}};
  if (deadline_ms != 0) hello["deadline_ms"] = deadline_ms;
  if (observer) hello["observer"] = true;
  auto welcome = c.Call(hello.dump(), {}, -1, "welcome");
  if (!welcome.ok() && welcome.status().code() == Code::kIoError &&
      welcome.status().message().rfind(kClosed, 0) == 0) {
    // Accepted and closed before any welcome: no daemon behind the socket (systemd refuses to
    // start one while the socket unit is being stopped, at shutdown).
    return Status(Code::kNotFound, "warmbootd is not running: " + socket_path +
                                       " accepted the connection and closed it unanswered");
  }
  if (!welcome.ok()) return welcome.status();
  Reply& r = *welcome;
  Inbox& in = *c.inbox_;
  in.instance = StringField(r.body, "daemon");
  in.uid = static_cast<uid_t>(UintField(r.body, "uid"));
  in.segments_at_hello = UintField(r.body, "segments");
  in.daemon_keeps = r.body.value("kept", false);
  if (auto lost = r.body.find("lost"); lost != r.body.end() && lost->is_array()) {
    for (const json& l : *lost) {
      in.lost_at_hello.push_back({StringField(l, "segment"), StringField(l, "reason")});
    }
  }
  return c;
}

Result<bool> Client::ReadMore(int timeout_ms) {
  if (timeout_ms >= 0) {
    struct pollfd p {
      fd_, POLLIN, 0
    };
    int n;
    while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (n < 0) return ErrnoError("cannot wait for warmbootd", errno);
    if (n == 0) return false;
  }
  char buf[64 * 1024];
  std::vector<int> received;
  bool truncated = false;
  ssize_t n;
  while ((n = api::ReceiveWithFds(fd_, buf, sizeof buf, 0, 4, &received, &truncated)) < 0 &&
         errno == EINTR) {
  }
  if (n < 0 && errno == ECONNRESET) return Status(Code::kIoError, kClosed);
  if (n < 0) return ErrnoError("cannot read from warmbootd", errno);
  for (int f : received) inbox_->fds.push_back(f);
  if (truncated) {
    // The kernel dropped a descriptor it could not install here: the replies no longer match
    // what came with them, so nothing more can be trusted on this connection.
    ::close(fd_);
    fd_ = -1;
    return Status(Code::kIoError,
                  "a descriptor from warmbootd was dropped: this process has no descriptor "
                  "free (RLIMIT_NOFILE; close some, or raise the limit); the connection is "
                  "closed: connect again");
  }
  if (n == 0) return Status(Code::kIoError, kClosed);
  inbox_->decoder.Feed(std::string_view(buf, static_cast<size_t>(n)));
  return true;
}

Result<Client::Reply> Client::Call(const std::string& body_json, std::string_view data, int fd,
                                   const char* expect, std::optional<int64_t> timeout_ms) {
  const std::string request = StringField(json::parse(body_json), "op");
  const int64_t limit = timeout_ms.value_or(inbox_->reply_timeout_ms);
  std::optional<Clock::time_point> until;
  if (limit >= 0) until = Clock::now() + std::chrono::milliseconds(limit);
  WB_ASSIGN_OR_RETURN(uint64_t id, Send(body_json, data, fd, until));
  return Await(id, request, expect, limit, until);
}

Result<uint64_t> Client::Send(const std::string& body_json, std::string_view data, int fd,
                              std::optional<Clock::time_point> until) {
  if (fd_ < 0) return Status(Code::kIoError, "not connected");
  json body = json::parse(body_json);
  const uint64_t id = inbox_->next_id++;
  body["id"] = id;
  api::Frame frame;
  frame.body = std::move(body);
  frame.data = std::string(data);
  frame.fd_count = fd >= 0 ? 1 : 0;
  WB_ASSIGN_OR_RETURN(std::string bytes, api::EncodeFrame(frame));
  bool partial = false;
  if (Status s = SendFrame(fd_, bytes, fd, until, &partial); !s.ok()) {
    if (partial) {  // half a frame went: nothing more can be said on this connection
      ::close(fd_);
      fd_ = -1;
      return Status(s.code(), s.message() + "; the connection is closed: connect again");
    }
    return s;
  }
  return id;
}

Result<Client::Reply> Client::Await(uint64_t id, const std::string& request, const char* expect,
                                    int64_t limit, std::optional<Clock::time_point> until) {
  Inbox& in = *inbox_;
  for (;;) {
    while (auto f = in.decoder.Next()) {
      Reply r{std::move(f->body), std::move(f->data), -1};
      if (f->fd_count > 0) {
        if (in.fds.empty()) {
          return Status(Code::kCorruption, "warmbootd announced a descriptor that did not arrive");
        }
        r.fd = in.fds.front();
        in.fds.pop_front();
      }
      if (!r.body.contains("id") || r.body["id"] != id) {
        // Not the reply: a notice (prepare) for WaitForPrepare, or something to ignore.
        if (StringField(r.body, "op") == "prepare") {
          in.notices.push_back(std::move(r));
        } else if (r.fd >= 0) {
          ::close(r.fd);
        }
        continue;
      }
      const std::string op = StringField(r.body, "op");
      if (op == "error" || op != expect) {
        if (r.fd >= 0) ::close(r.fd);
        if (op == "error") {
          return Status(CodeFor(StringField(r.body, "code")), StringField(r.body, "message"));
        }
        return Status(Code::kCorruption,
                      "warmbootd answered " + op + " where " + expect + " was expected");
      }
      return r;
    }
    if (!in.decoder.status().ok()) {
      return Status(Code::kCorruption,
                    "warmbootd sent a broken frame: " + in.decoder.status().message());
    }
    if (fd_ < 0) return Status(Code::kIoError, "not connected");
    WB_ASSIGN_OR_RETURN(bool got, ReadMore(LeftMs(until)));
    if (!got && until && Clock::now() >= *until) {
      return Status(Code::kBusy,
                    "warmbootd did not answer " + request + " within " + std::to_string(limit) +
                        " ms; it may still carry it out: look (list, status) before doing it " +
                        "again (is warmbootd hung? systemctl status warmbootd)");
    }
  }
}

void Client::SetReplyTimeout(int timeout_ms) {
  inbox_->reply_timeout_ms = timeout_ms > 0 ? timeout_ms : -1;
}

Result<std::optional<Prepare>> Client::WaitForPrepare(int timeout_ms) {
  Inbox& in = *inbox_;
  for (;;) {
    while (auto f = in.decoder.Next()) {
      Reply r{std::move(f->body), std::move(f->data), -1};
      if (f->fd_count > 0 && !in.fds.empty()) {
        ::close(in.fds.front());
        in.fds.pop_front();
      }
      if (StringField(r.body, "op") == "prepare") in.notices.push_back(std::move(r));
    }
    if (!in.notices.empty()) {
      Reply r = std::move(in.notices.front());
      in.notices.pop_front();
      return std::optional<Prepare>(
          Prepare{UintField(r.body, "round"), UintField(r.body, "deadline_ms")});
    }
    if (!in.decoder.status().ok()) {
      return Status(Code::kCorruption,
                    "warmbootd sent a broken frame: " + in.decoder.status().message());
    }
    WB_ASSIGN_OR_RETURN(bool got, ReadMore(timeout_ms));
    if (!got) return std::optional<Prepare>();
  }
}

Status Client::Ready(uint64_t round) {
  json body{{"op", "ready"}, {"round", round}};
  return Call(body.dump(), {}, -1, "noted").status();
}

Status Client::Decline(uint64_t round, const std::string& reason) {
  json body{{"op", "decline"}, {"round", round}, {"reason", reason}};
  return Call(body.dump(-1, ' ', false, json::error_handler_t::replace), {}, -1, "noted").status();
}

namespace {

RoundResult RoundResultFrom(const json& body) {
  RoundResult out;
  out.round = UintField(body, "round");
  auto complete = body.find("complete");
  out.complete = complete != body.end() && complete->is_boolean() && complete->get<bool>();
  out.ready = UintField(body, "ready");
  out.segments = UintField(body, "segments");
  out.bytes = UintField(body, "bytes");
  if (auto apps = body.find("apps"); apps != body.end() && apps->is_array()) {
    for (const json& a : *apps) {
      if (!a.is_object()) continue;
      out.apps.push_back({static_cast<uid_t>(UintField(a, "uid")), StringField(a, "app"),
                          StringField(a, "answer"), StringField(a, "reason")});
    }
  }
  return out;
}

}  // namespace

Result<RoundResult> Client::Checkpoint(uint32_t deadline_ms, uint32_t hold_ms) {
  json body{{"op", "checkpoint"}, {"deadline_ms", deadline_ms}};
  if (hold_ms > 0) body["hold_ms"] = hold_ms;
  // The daemon answers by the deadline; the margin covers a busy machine.
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "checkpointed",
                                    inbox_->reply_timeout_ms < 0
                                        ? int64_t{-1}
                                        : int64_t{deadline_ms} + inbox_->reply_timeout_ms));
  return RoundResultFrom(r.body);
}

Result<RoundResult> Client::Adopt(uint64_t round, uint32_t hold_ms) {
  json body{{"op", "adopt"}, {"round", round}};
  if (hold_ms > 0) body["hold_ms"] = hold_ms;
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "checkpointed"));
  return RoundResultFrom(r.body);
}

namespace {

Result<Exported> ExportedFrom(const json& body, int fd) {
  if (fd < 0) return Status(Code::kCorruption, "warmbootd exported a segment without a descriptor");
  Exported e;
  e.index = UintField(body, "index");
  e.total = UintField(body, "total");
  e.uid = static_cast<uid_t>(UintField(body, "uid"));
  e.gid = static_cast<gid_t>(UintField(body, "gid"));
  e.app = StringField(body, "app");
  e.segment = StringField(body, "segment");
  e.kind = StringField(body, "kind");
  e.size = UintField(body, "size");
  e.fd = fd;
  return e;
}

}  // namespace

Result<Exported> Client::Export(uint64_t index) {
  json body{{"op", "export"}, {"index", index}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "exported"));
  return ExportedFrom(r.body, r.fd);
}

Result<std::vector<Exported>> Client::ExportRange(uint64_t from, uint64_t count, unsigned window) {
  window = std::clamp(window, 1u, 128u);  // the daemon queues 256 replies at most
  std::vector<Exported> out;
  out.reserve(count);
  std::deque<uint64_t> in_flight;
  uint64_t next = from;
  const uint64_t end = from + count;
  auto fail = [&](Status s) {
    for (Exported& e : out) ::close(e.fd);
    // Replies still coming are recognised by their ids and dropped by later calls.
    return s;
  };
  const int64_t limit = inbox_->reply_timeout_ms;
  while (out.size() < count) {
    while (next < end && in_flight.size() < window) {
      std::optional<Clock::time_point> until;
      if (limit >= 0) until = Clock::now() + std::chrono::milliseconds(limit);
      auto id = Send(json{{"op", "export"}, {"index", next}}.dump(), {}, -1, until);
      if (!id.ok()) return fail(id.status());
      in_flight.push_back(*id);
      ++next;
    }
    std::optional<Clock::time_point> until;
    if (limit >= 0) until = Clock::now() + std::chrono::milliseconds(limit);
    auto r = Await(in_flight.front(), "export", "exported", limit, until);
    if (!r.ok()) return fail(r.status());
    in_flight.pop_front();
    auto e = ExportedFrom(r->body, r->fd);
    if (!e.ok()) return fail(e.status());
    out.push_back(std::move(*e));
  }
  return out;
}

Result<RestoredView> Client::Restored() {
  RestoredView v;
  // In pages (docs/api.md): asked again from the next entry until all `total` have come.
  for (uint64_t from = 0;;) {
    json body{{"op", "restored"}, {"from", from}};
    WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "restored"));
    auto warm = r.body.find("warm");
    v.warm = warm != r.body.end() && warm->is_boolean() && warm->get<bool>();
    v.generation = UintField(r.body, "generation");
    v.preserved_ns = static_cast<int64_t>(UintField(r.body, "preserved_ns"));
    uint64_t got = 0;
    if (auto s = r.body.find("segments"); s != r.body.end() && s->is_array()) {
      got += s->size();
      for (const json& e : *s) {
        if (e.is_object()) v.segments.emplace_back(StringField(e, "segment"), UintField(e, "size"));
      }
    }
    if (auto d = r.body.find("damaged"); d != r.body.end() && d->is_array()) {
      got += d->size();
      for (const json& e : *d) {
        if (e.is_string()) v.damaged.push_back(e.get<std::string>());
      }
    }
    from += got;
    if (got == 0 || from >= UintField(r.body, "total")) return v;
  }
}

Result<int> Client::GetRestored(const std::string& segment, uint64_t* size) {
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "get"}, {"segment", segment}, {"restored", true}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "segment"));
  if (r.fd < 0) return Status(Code::kCorruption, "warmbootd answered get without a descriptor");
  if (size != nullptr) *size = UintField(r.body, "size");
  return r.fd;
}

Result<uint64_t> Client::ReleaseRestored(const std::string& segment) {
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "release"}, {"segment", segment}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "released"));
  return UintField(r.body, "size");
}

Status Client::EndRound() {
  json body{{"op", "end-round"}};
  return Call(body.dump(), {}, -1, "round-ended").status();
}

Status Client::PutBytes(const std::string& segment, std::string_view bytes) {
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "put"}, {"segment", segment}, {"kind", "bytes"}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), bytes, -1, "stored"));
  return Status::Ok();
}

Status Client::PutFd(const std::string& segment, int fd) {
  if (fd < 0) return InvalidArgument("PutFd needs a descriptor");
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "put"}, {"segment", segment}, {"kind", "fd"}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, fd, "stored"));
  return Status::Ok();
}

Result<int> Client::Get(const std::string& segment, uint64_t* size) {
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "get"}, {"segment", segment}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "segment"));
  if (r.fd < 0) return Status(Code::kCorruption, "warmbootd answered get without a descriptor");
  if (size != nullptr) *size = UintField(r.body, "size");
  return r.fd;
}

Result<std::string> Client::GetBytes(const std::string& segment) {
  uint64_t size = 0;
  WB_ASSIGN_OR_RETURN(int fd, Get(segment, &size));
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return ErrnoError("cannot read segment " + segment, err);
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

Result<std::vector<Segment>> Client::List(bool all) {
  std::vector<Segment> out;
  // In pages, as Restored.
  for (uint64_t from = 0;;) {
    json body{{"op", "list"}, {"all", all}, {"from", from}};
    WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "segments"));
    if (!r.body.contains("segments") || !r.body["segments"].is_array()) return out;
    const json& page = r.body["segments"];
    for (const json& s : page) {
      if (!s.is_object()) continue;
      out.push_back(Segment{StringField(s, "segment"), UintField(s, "size"), StringField(s, "kind"),
                            static_cast<uid_t>(UintField(s, "uid")), StringField(s, "app")});
    }
    from += page.size();
    if (page.empty() || from >= UintField(r.body, "total")) return out;
  }
}

Result<std::string> Client::StatusJson() {
  WB_ASSIGN_OR_RETURN(Reply r, Call(json{{"op", "status"}}.dump(), {}, -1, "status"));
  r.body.erase("op");
  r.body.erase("id");
  return r.body.dump();
}

Result<uint64_t> Client::Drop(const std::string& segment) {
  WB_RETURN_IF_ERROR(api::CheckName("segment name", segment));
  json body{{"op", "drop"}, {"segment", segment}};
  WB_ASSIGN_OR_RETURN(Reply r, Call(body.dump(), {}, -1, "dropped"));
  return UintField(r.body, "size");
}

}  // namespace warmboot::client
