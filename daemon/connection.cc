#include "daemon/connection.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "api/fd_passing.h"
#include "api/names.h"
#include "daemon/server.h"
#include "util/json_text.h"

namespace warmboot::daemon {
namespace {

using boost::asio::local::stream_protocol;
using nlohmann::json;

// Descriptors a client may have sent ahead of the frames that claim them.
constexpr size_t kMaxPendingFds = 4;

const char* ErrorCodeFor(Code code) {
  switch (code) {
    case Code::kNotFound:
      return "not-found";
    case Code::kNoSpace:
      return "quota";
    case Code::kPermission:
      return "permission";
    case Code::kBusy:
      return "busy";
    default:
      return "internal";
  }
}

// A reply's entries (list, restored) go in pages that keep its body well under a frame's limit:
// the request names the first entry it wants (`from`), the reply how many there are (`total`).
constexpr size_t kPageBytes = api::kMaxBody - 4096;

// The page from entry `from` of `total`: as many as fit kPageBytes (at least one). `make(i)`
// builds entry i; only the page's entries are built, so paging through N entries costs O(N)
// documents in all, not O(N) per page.
template <typename Make>
json Page(uint64_t total, uint64_t from, Make make) {
  json page = json::array();
  size_t bytes = 0;
  for (uint64_t i = from; i < total; ++i) {
    json entry = make(i);
    const size_t n = DumpJson(entry).size() + 1;
    if (!page.empty() && bytes + n > kPageBytes) break;
    bytes += n;
    page.push_back(std::move(entry));
  }
  return page;
}

bool PageFrom(const json& body, uint64_t* from, json& reply) {
  *from = 0;
  auto f = body.find("from");
  if (f == body.end()) return true;
  if (!f->is_number_unsigned()) {
    reply = {{"error", "bad-request"}, {"message", "from is the index of an entry, a number"}};
    return false;
  }
  *from = f->get<uint64_t>();
  return true;
}

// body[key] as a string, or nullopt.
std::optional<std::string> StringField(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Connection::Connection(Server& server, stream_protocol::socket socket, uid_t uid, gid_t gid,
                       pid_t pid)
    : server_(server),
      socket_(std::move(socket)),
      frame_timer_(socket_.get_executor()),
      uid_(uid),
      gid_(gid),
      pid_(pid) {}

void Connection::Start() {
  ReadSome();
}

void Connection::Refuse(const std::string& why) {
  Error(nullptr, "busy", why, true);
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  frame_timer_.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
  server_.Forget(shared_from_this());
}

void Connection::ReadSome() {
  socket_.async_wait(stream_protocol::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec || self->closed_) return;
                       self->OnReadable();
                     });
}

void Connection::OnReadable() {
  static thread_local char buf[64 * 1024];
  std::vector<int> received;
  bool truncated = false;
  ssize_t n = api::ReceiveWithFds(socket_.native_handle(), buf, sizeof buf, MSG_DONTWAIT,
                                  kMaxPendingFds + 1, &received, &truncated);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ReadSome();
    return Close();
  }
  for (int fd : received) fds_.emplace_back(fd);
  if (n == 0) return Close();
  if (truncated || fds_.size() > kMaxPendingFds) {
    return Error(nullptr, "bad-frame",
                 truncated ? "descriptors were dropped on the way in: more sent ahead of the "
                             "frames announcing them than allowed, or warmbootd has no "
                             "descriptor free (RLIMIT_NOFILE)"
                           : "too many descriptors sent ahead of the frames that announce them",
                 true);
  }
  decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)));
  while (!closing_) {
    std::optional<api::Frame> frame = decoder_.Next();
    if (!frame) break;
    if (frame->fd_count > fds_.size()) {
      return Error(frame->body.value("id", json()), "bad-frame",
                   "the frame announces a descriptor that did not arrive with it", true);
    }
    std::deque<UniqueFd> mine;
    for (uint16_t i = 0; i < frame->fd_count; ++i) {
      mine.push_back(std::move(fds_.front()));
      fds_.pop_front();
    }
    Handle(std::move(*frame), std::move(mine));
  }
  if (!decoder_.status().ok() && !closing_) {
    return Error(nullptr, "bad-frame", decoder_.status().message(), true);
  }
  ArmFrameTimer();
  if (!closing_) ReadSome();
}

void Connection::ArmFrameTimer() {
  if (decoder_.pending() == 0) {
    if (timer_armed_) frame_timer_.cancel();
    timer_armed_ = false;
    return;
  }
  if (timer_armed_) return;
  timer_armed_ = true;
  frame_timer_.expires_after(server_.options().frame_timeout);
  frame_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_ || !self->timer_armed_) return;
    self->timer_armed_ = false;
    if (self->decoder_.pending() > 0) {
      self->Error(nullptr, "timeout",
                  "a frame was begun and not finished within " +
                      std::to_string(self->server_.options().frame_timeout.count()) + " ms",
                  true);
    }
  });
}

void Connection::Handle(api::Frame frame, std::deque<UniqueFd> fds) {
  const json& body = frame.body;
  json id = body.contains("id") && body["id"].is_number_unsigned() ? body["id"] : json();
  const std::string op = body["op"].get<std::string>();
  json reply = json::object();
  UniqueFd out_fd;
  if (op != "hello" && !owner_) {
    return Error(id, "not-registered", "send hello first, naming the application");
  }
  if (frame.fd_count > 0 && op != "put") {
    return Error(id, "bad-request", "only put takes a descriptor");
  }
  if (op == "hello") {
    HandleHello(body, reply);
  } else if (op == "put") {
    HandlePut(body, frame.data, fds, reply);
  } else if (op == "get") {
    HandleGet(body, reply, &out_fd);
  } else if (op == "list") {
    HandleList(body, reply);
  } else if (op == "drop") {
    HandleDrop(body, reply);
  } else if (op == "checkpoint") {
    if (!HandleCheckpoint(body, id, reply)) return;  // answered when the round ends
  } else if (op == "adopt") {
    if (!HandleAdopt(body, id, reply)) return;  // answered with the round's result
  } else if (op == "ready" || op == "decline") {
    if (!HandleAnswer(body, id, op == "ready", reply)) return;
  } else if (op == "export") {
    HandleExport(body, reply, &out_fd);
  } else if (op == "status") {
    reply = server_.StatusFor(uid_);
    reply["op"] = "status";
  } else if (op == "restored") {
    HandleRestored(body, reply);
  } else if (op == "release") {
    HandleRelease(body, reply);
  } else if (op == "end-round") {
    Status s = server_.ReleaseRound(this);
    reply = s.ok() ? json{{"op", "round-ended"}}
                   : json{{"error", "bad-request"}, {"message", s.message()}};
  } else {
    return Error(id, "unknown-op", "unknown op '" + op + "'");
  }
  if (reply.contains("error")) {
    const bool close = reply.value("close", false);
    return Error(id, reply["error"], reply.value("message", ""), close);
  }
  if (!id.is_null()) reply["id"] = id;
  Send(std::move(reply), std::move(out_fd));
}

// Fills `reply` with the answer, or with {"error", "message"[, "close"]}.
void Connection::HandleHello(const json& body, json& reply) {
  if (owner_) {
    reply = {{"error", "bad-request"}, {"message", "already registered as " + owner_->app}};
    return;
  }
  auto versions = body.find("versions");
  bool speaks = false;
  if (versions != body.end() && versions->is_array()) {
    for (const json& v : *versions)
      speaks = speaks || (v.is_number_unsigned() && v == api::kVersion);
  }
  if (!speaks) {
    reply = {{"error", "unsupported-version"},
             {"message", "this daemon speaks protocol version 1 only"},
             {"close", true}};
    return;
  }
  auto app = StringField(body, "app");
  if (!app) {
    reply = {{"error", "bad-request"}, {"message", "hello needs \"app\", a string"}};
    return;
  }
  if (Status s = api::CheckName("application name", *app); !s.ok()) {
    reply = {{"error", "bad-name"}, {"message", s.message()}};
    return;
  }
  if (auto d = body.find("deadline_ms"); d != body.end()) {
    if (!d->is_number_unsigned() || d->get<uint64_t>() == 0 || d->get<uint64_t>() > 3600000) {
      reply = {{"error", "bad-request"},
               {"message", "deadline_ms is a number of milliseconds from 1 to 3600000"}};
      return;
    }
    deadline_ = std::chrono::milliseconds(d->get<uint64_t>());
  }
  if (auto o = body.find("observer"); o != body.end()) {
    if (!o->is_boolean()) {
      reply = {{"error", "bad-request"}, {"message", "observer is true or false"}};
      return;
    }
    observer_ = o->get<bool>();
  }
  owner_ = Owner{uid_, *app};
  reply = {{"op", "welcome"},
           {"version", api::kVersion},
           {"uid", uid_},
           {"app", *app},
           {"daemon", server_.instance()},
           {"segments", server_.store().Count(*owner_)},
           {"kept", server_.keeps()}};
  // What a restart of the daemon could not bring back: the app must hand it over again.
  json lost = json::array();
  for (const auto& [segment, why] : server_.Lost(*owner_)) {
    lost.push_back({{"segment", segment}, {"reason", why}});
  }
  if (!lost.empty()) reply["lost"] = std::move(lost);
}

// A ready app's set stays as it declared it until the round ends (daemon/round.h).
bool Connection::Frozen(json& reply) const {
  if (!server_.Frozen(*owner_)) return false;
  reply = {{"error", "busy"},
           {"message", owner_->app + " answered ready: its set is frozen until the warm reboot "
                                     "or the end of the round"}};
  return true;
}

void Connection::HandlePut(const json& body, const std::string& data, std::deque<UniqueFd>& fds,
                           json& reply) {
  auto name = StringField(body, "segment");
  auto kind = StringField(body, "kind");
  if (!name || !kind || (*kind != "bytes" && *kind != "fd")) {
    reply = {{"error", "bad-request"},
             {"message", "put needs \"segment\" (a string) and \"kind\" (\"bytes\" or \"fd\")"}};
    return;
  }
  if (Status s = api::CheckName("segment name", *name); !s.ok()) {
    reply = {{"error", "bad-name"}, {"message", s.message()}};
    return;
  }
  if (Frozen(reply)) return;
  // Filled by one of the two branches below (a Result holds a value or an error, never neither).
  Result<SegmentFd> seg = Status(Code::kInvalidArgument, "no segment");
  if (*kind == "bytes") {
    if (!fds.empty()) {
      reply = {{"error", "bad-request"}, {"message", "a bytes segment comes without a descriptor"}};
      return;
    }
    seg = BytesSegment(*name, data);
  } else {
    if (fds.size() != 1 || !data.empty()) {
      reply = {{"error", "bad-request"},
               {"message", "an fd segment comes with one descriptor and no data"}};
      return;
    }
    seg = AcceptFd(std::move(fds.front()));
    if (!seg.ok()) {
      reply = {{"error", "bad-fd"}, {"message", seg.status().message()}};
      return;
    }
  }
  if (!seg.ok()) {
    reply = {{"error", "internal"}, {"message", seg.status().message()}};
    return;
  }
  const uint64_t size = seg->size;
  seg->gid = gid_;
  auto placed = server_.Put(
      *owner_, *name, *kind == "bytes" ? SegmentKind::kBytes : SegmentKind::kFd, std::move(*seg));
  if (!placed.ok()) {
    reply = {{"error", ErrorCodeFor(placed.status().code())},
             {"message", placed.status().message()}};
    return;
  }
  reply = {{"op", "stored"}, {"segment", *name}, {"size", size}};
}

void Connection::HandleGet(const json& body, json& reply, UniqueFd* fd) {
  auto name = StringField(body, "segment");
  if (!name) {
    reply = {{"error", "bad-request"}, {"message", "get needs \"segment\", a string"}};
    return;
  }
  if (auto r = body.find("restored"); r != body.end() && r->is_boolean() && r->get<bool>()) {
    auto seg = server_.restored().Find(*owner_, *name);
    if (!seg.ok()) {
      reply = {{"error", ErrorCodeFor(seg.status().code())}, {"message", seg.status().message()}};
      return;
    }
    UniqueFd f(::open((*seg)->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!f.valid()) {
      reply = {{"error", "not-found"},
               {"message", "cannot open " + (*seg)->path + ": " + std::strerror(errno)}};
      return;
    }
    *fd = std::move(f);
    reply = {{"op", "segment"}, {"segment", *name}, {"size", (*seg)->size}, {"restored", true}};
    return;
  }
  auto seg = server_.store().Get(*owner_, *name);
  if (!seg.ok()) {
    reply = {{"error", ErrorCodeFor(seg.status().code())}, {"message", seg.status().message()}};
    return;
  }
  auto ro = ReopenReadOnly((*seg)->fd.get());
  if (!ro.ok()) {
    reply = {{"error", "internal"}, {"message", ro.status().message()}};
    return;
  }
  *fd = std::move(*ro);
  reply = {{"op", "segment"}, {"segment", *name}, {"size", (*seg)->size}};
}

void Connection::HandleList(const json& body, json& reply) {
  auto all_it = body.find("all");
  const bool all = all_it != body.end() && all_it->is_boolean() && all_it->get<bool>();
  if (all && uid_ != 0) {
    reply = {{"error", "permission"}, {"message", "only root lists every application's segments"}};
    return;
  }
  uint64_t from;
  if (!PageFrom(body, &from, reply)) return;
  const Store& store = server_.store();
  const uint64_t total = all ? store.Segments() : store.Count(*owner_);
  // A page holds at most kPageBytes of entries of at least ~40 bytes each.
  const std::vector<SegmentEntry> entries =
      store.List(all ? nullptr : &*owner_, from, kPageBytes / 40 + 1);
  json page = Page(std::min<uint64_t>(total, from + entries.size()), from, [&](uint64_t i) {
    const SegmentEntry& e = entries[i - from];
    json j{{"segment", e.name}, {"size", e.size}, {"kind", SegmentKindName(e.kind)}};
    if (all) {
      j["uid"] = e.owner.uid;
      j["app"] = e.owner.app;
    }
    return j;
  });
  reply = {{"op", "segments"}, {"segments", std::move(page)}, {"from", from}, {"total", total}};
}

void Connection::HandleDrop(const json& body, json& reply) {
  auto name = StringField(body, "segment");
  if (!name) {
    reply = {{"error", "bad-request"}, {"message", "drop needs \"segment\", a string"}};
    return;
  }
  if (Frozen(reply)) return;
  auto dropped = server_.Drop(*owner_, *name);
  if (!dropped.ok()) {
    reply = {{"error", ErrorCodeFor(dropped.status().code())},
             {"message", dropped.status().message()}};
    return;
  }
  reply = {{"op", "dropped"}, {"segment", *name}, {"size", dropped->size}};
}

namespace {

// body[key] as milliseconds from 1 to an hour; `fallback` when absent. False (with `reply`
// filled) when it is there and not such a number.
bool Millis(const json& body, const char* key, std::optional<uint64_t> fallback, uint64_t* out,
            json& reply) {
  auto v = body.find(key);
  if (v == body.end() && fallback) {
    *out = *fallback;
    return true;
  }
  if (v == body.end() || !v->is_number_unsigned() || v->get<uint64_t>() == 0 ||
      v->get<uint64_t>() > 3600000) {
    reply = {{"error", "bad-request"},
             {"message", std::string(key) + " is milliseconds, from 1 to 3600000"}};
    return false;
  }
  *out = v->get<uint64_t>();
  return true;
}

}  // namespace

bool Connection::HandleCheckpoint(const json& body, const json& id, json& reply) {
  if (uid_ != 0) {
    reply = {{"error", "permission"}, {"message", "only root starts a checkpoint round"}};
    return true;
  }
  uint64_t deadline = 0, hold = 0;
  if (!Millis(body, "deadline_ms", std::nullopt, &deadline, reply) ||
      !Millis(body, "hold_ms", 0, &hold, reply)) {
    return true;
  }
  Status s = server_.StartRound(shared_from_this(), id, std::chrono::milliseconds(deadline),
                                std::chrono::milliseconds(hold));
  if (!s.ok()) {
    reply = {{"error", ErrorCodeFor(s.code())}, {"message", s.message()}};
    return true;
  }
  return false;
}

bool Connection::HandleAdopt(const json& body, const json& id, json& reply) {
  if (uid_ != 0) {
    reply = {{"error", "permission"}, {"message", "only root adopts a checkpoint round"}};
    return true;
  }
  auto round = body.find("round");
  uint64_t hold = 0;
  if (round == body.end() || !round->is_number_unsigned()) {
    reply = {{"error", "bad-request"}, {"message", "adopt names the round, a number"}};
    return true;
  }
  if (!Millis(body, "hold_ms", 0, &hold, reply)) return true;
  Status s = server_.AdoptRound(shared_from_this(), id, round->get<uint64_t>(),
                                std::chrono::milliseconds(hold));
  if (!s.ok()) {
    reply = {{"error", ErrorCodeFor(s.code())}, {"message", s.message()}};
    return true;
  }
  return false;
}

bool Connection::HandleAnswer(const json& body, const json& id, bool ready, json& reply) {
  auto round = body.find("round");
  if (round == body.end() || !round->is_number_unsigned()) {
    reply = {{"error", "bad-request"}, {"message", "ready and decline name the round"}};
    return true;
  }
  std::string reason = StringField(body, "reason").value_or("");
  Status s = server_.AnswerRound(*owner_, round->get<uint64_t>(), ready, reason);
  if (!s.ok()) {
    reply = {{"error", "bad-request"}, {"message", s.message()}};
    return true;
  }
  // Every app of a round gets this reply: written directly, not built as a document (numbers
  // and fixed words only, so nothing needs escaping).
  std::string text = "{\"op\":\"noted\",\"round\":" + std::to_string(round->get<uint64_t>()) +
                     ",\"answer\":\"" + (ready ? "ready" : "declined") + "\"";
  if (!id.is_null()) text += ",\"id\":" + std::to_string(id.get<uint64_t>());
  text += '}';
  NotifyEncoded(std::make_shared<const std::string>(api::EncodeFrameText(text)));
  return false;
}

void Connection::HandleExport(const json& body, json& reply, UniqueFd* fd) {
  auto index = body.find("index");
  if (index == body.end() || !index->is_number_unsigned()) {
    reply = {{"error", "bad-request"}, {"message", "export needs index, a number"}};
    return;
  }
  uint64_t total = 0;
  auto e = server_.ExportedSegment(this, index->get<uint64_t>(), &total);
  if (!e.ok()) {
    reply = {{"error", e.status().code() == Code::kNotFound ? "not-found" : "bad-request"},
             {"message", e.status().message()}};
    return;
  }
  auto seg = server_.store().Get(e->owner, e->name);
  if (!seg.ok()) {
    reply = {{"error", "not-found"}, {"message", seg.status().message()}};
    return;
  }
  auto ro = ReopenReadOnly((*seg)->fd.get());
  if (!ro.ok()) {
    reply = {{"error", "internal"}, {"message", ro.status().message()}};
    return;
  }
  *fd = std::move(*ro);
  reply = {{"op", "exported"},
           {"index", index->get<uint64_t>()},
           {"total", total},
           {"uid", e->owner.uid},
           {"gid", (*seg)->gid},
           {"app", e->owner.app},
           {"segment", e->name},
           {"size", (*seg)->size},
           {"kind", SegmentKindName(e->kind)}};
}

void Connection::HandleRestored(const json& body, json& reply) {
  uint64_t from;
  if (!PageFrom(body, &from, reply)) return;
  const RestoredState& r = server_.restored();
  // One sequence by name, paged; each entry goes to segments (sound) or damaged.
  const auto& mine = r.For(*owner_);
  json segments = json::array(), damaged = json::array();
  for (json& e : Page(mine.size(), from, [&](uint64_t i) {
         const RestoredSegment& s = mine[i];
         return s.damaged ? json(s.name) : json{{"segment", s.name}, {"size", s.size}};
       })) {
    (e.is_string() ? damaged : segments).push_back(std::move(e));
  }
  reply = {{"op", "restored"},
           {"warm", r.warm()},
           {"generation", r.generation()},
           {"preserved_ns", r.preserved_ns()},
           {"segments", segments},
           {"damaged", damaged},
           {"from", from},
           {"total", mine.size()}};
}

void Connection::HandleRelease(const json& body, json& reply) {
  auto name = StringField(body, "segment");
  if (!name) {
    reply = {{"error", "bad-request"}, {"message", "release needs \"segment\", a string"}};
    return;
  }
  auto size = server_.restored().Release(*owner_, *name);
  if (!size.ok()) {
    reply = {{"error", ErrorCodeFor(size.status().code())}, {"message", size.status().message()}};
    return;
  }
  reply = {{"op", "released"}, {"segment", *name}, {"size", *size}};
}

void Connection::Error(const json& id, const std::string& code, const std::string& message,
                       bool close) {
  json body{{"op", "error"}, {"code", code}, {"message", message}};
  if (!id.is_null()) body["id"] = id;
  Send(std::move(body));
  if (close) {
    closing_ = true;
    if (!writing_ && out_.empty()) Close();
  }
}

void Connection::Send(json body, UniqueFd fd) {
  if (closed_) return;
  if (out_.size() >= server_.options().max_queued_replies) return Close();  // it does not read
  api::Frame frame;
  frame.body = std::move(body);
  frame.fd_count = fd.valid() ? 1 : 0;
  auto bytes = api::EncodeFrame(frame, api::kMaxReplyBody);
  if (!bytes.ok()) {
    // Never a silent close: the client is told, and the connection goes on.
    api::Frame error;
    error.body = {{"op", "error"},
                  {"code", "too-large"},
                  {"message", "the reply does not fit in a frame: " + bytes.status().message()}};
    if (frame.body.contains("id")) error.body["id"] = frame.body["id"];
    bytes = api::EncodeFrame(error, api::kMaxReplyBody);
    if (!bytes.ok()) return Close();
    fd = UniqueFd();
  }
  Queue(std::make_shared<const std::string>(std::move(*bytes)), std::move(fd));
}

void Connection::NotifyEncoded(std::shared_ptr<const std::string> frame) {
  if (closed_) return;
  if (out_.size() >= server_.options().max_queued_replies) return Close();  // it does not read
  Queue(std::move(frame), UniqueFd());
}

void Connection::Queue(std::shared_ptr<const std::string> bytes, UniqueFd fd) {
  out_.push_back(Outgoing{std::move(bytes), std::move(fd), 0});
  if (!writing_) WriteSome();
}

void Connection::WriteSome() {
  writing_ = true;
  while (!out_.empty() && !closed_) {
    Outgoing& o = out_.front();
    ssize_t n =
        api::SendWithFd(socket_.native_handle(), o.bytes->data() + o.sent, o.bytes->size() - o.sent,
                        o.fd.valid() ? o.fd.get() : -1, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        socket_.async_wait(stream_protocol::socket::wait_write,
                           [self = shared_from_this()](const boost::system::error_code& ec) {
                             if (ec || self->closed_) return;
                             self->WriteSome();
                           });
        return;
      }
      writing_ = false;
      return Close();
    }
    o.fd = UniqueFd();  // the descriptor went with the first byte
    o.sent += static_cast<size_t>(n);
    if (o.sent == o.bytes->size()) out_.pop_front();
  }
  writing_ = false;
  if (closing_) Close();
}

}  // namespace warmboot::daemon
