#include "daemon/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <map>
#include <optional>

#include "api/wire.h"
#include "daemon/connection.h"
#include "daemon/round.h"
#include "util/bytes.h"
#include "util/fd_limit.h"
#include "util/uuid.h"

namespace warmboot::daemon {

using boost::asio::local::stream_protocol;

struct Server::Impl {
  explicit Impl(boost::asio::io_context& io)
      : acceptor(io), accept_pause(io), round_timer(io), hold_timer(io) {}
  stream_protocol::acceptor acceptor;
  boost::asio::steady_timer accept_pause;
  // The round, while one is running or held.
  // Shared with last_round once finished (no answer changes it after that).
  std::shared_ptr<Round> round;
  std::weak_ptr<Connection> admin;
  nlohmann::json admin_id;
  bool finished = false;
  // What the held round exports: the ready apps with their segment counts, and a cursor (the
  // last segment exported), so preserve's walk in index order costs a lookup per segment and
  // no copy of the list (tens of thousands of entries would double the daemon's memory).
  std::vector<std::pair<Owner, uint64_t>> exported;
  uint64_t exported_total = 0;
  std::optional<std::pair<uint64_t, SegmentEntry>> cursor;
  void ClearExport() {
    exported.clear();
    exported_total = 0;
    cursor.reset();
  }
  // The round ends: the sets thaw.
  void EndRound() {
    round_timer.cancel();
    hold_timer.cancel();
    round.reset();
    admin.reset();
    hold = std::chrono::milliseconds(0);
    result.clear();
    ClearExport();
  }
  // Nobody holds the finished round: it waits `hold` for an adopter, then ends.
  void ArmHold() {
    hold_timer.expires_after(hold);
    hold_timer.async_wait([this, r = round](const boost::system::error_code& ec) {
      if (ec || round != r || admin.lock()) return;
      EndRound();
    });
  }
  boost::asio::steady_timer round_timer;
  // A round started with hold_ms outlives its admin's connection by that long, frozen, for
  // another admin to adopt (warmboot reboot runs the round while the apps run; the preserve
  // that writes the image, after they stopped, adopts it). 0: it ends with its admin.
  std::chrono::milliseconds hold{0};
  boost::asio::steady_timer hold_timer;
  // The finished round's result members (no braces, no id), sent again to an adopter.
  std::string result;
  uint64_t rounds = 0;
  // The last finished round and when it finished, for status.
  std::shared_ptr<const Round> last_round;
  int64_t last_round_ns = 0;
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

RestoredState& Server::restored() {
  if (!options_.restore_dir.empty() &&
      restored_.Replaced(options_.restore_dir, options_.report_dir)) {
    restored_ = RestoredState::Load(options_.restore_dir, options_.report_dir);
  }
  return restored_;
}

Result<std::unique_ptr<Server>> Server::Create(boost::asio::io_context& io, ServerOptions options,
                                               std::vector<NamedFd> kept) {
  // Every segment held is a descriptor (util/fd_limit.h).
  RaiseOpenFileLimit();
  std::unique_ptr<Server> s(new Server(io, std::move(options)));
  if (!s->options_.restore_dir.empty()) {
    s->restored_ = RestoredState::Load(s->options_.restore_dir, s->options_.report_dir);
  }
  if (s->options_.fd_store != nullptr) s->Reload(std::move(kept));
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
  impl_->acceptor.async_accept([this](const boost::system::error_code& ec,
                                      stream_protocol::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !impl_->acceptor.is_open()) return;
    if (!ec) {
      struct ucred cred {};
      socklen_t len = sizeof cred;
      if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        size_t same_uid = 0;
        for (const auto& c : connections_) same_uid += c->uid() == cred.uid;
        auto c =
            std::make_shared<Connection>(*this, std::move(socket), cred.uid, cred.gid, cred.pid);
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
    } else {
      // Out of descriptors (EMFILE, ENFILE) or memory: the waiting connection stays queued
      // and accept would fail again at once. Pause instead of spinning; those served go on.
      impl_->accept_pause.expires_after(std::chrono::milliseconds(100));
      impl_->accept_pause.async_wait([this](const boost::system::error_code& e) {
        if (!e && impl_->acceptor.is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

void Server::Forget(const std::shared_ptr<Connection>& c) {
  connections_.erase(c);
  Impl& im = *impl_;
  if (!im.round) return;
  if (im.admin.lock() == c) {
    // The admin is gone (preserve ended, or died): the round ends and the sets thaw, unless it
    // is held for an adopter; a held round still running goes on, and waits once finished.
    im.admin.reset();
    if (im.hold.count() == 0) return im.EndRound();
    if (im.finished) im.ArmHold();
    return;
  }
  if (!c->owner() || c->observer() || im.finished) return;
  for (const auto& other : connections_) {
    if (other->owner() == c->owner()) return;  // another connection of the app can answer
  }
  im.round->Disconnected(*c->owner());
  MaybeFinishRound();
}

Status Server::StartRound(const std::shared_ptr<Connection>& admin, const nlohmann::json& id,
                          std::chrono::milliseconds deadline, std::chrono::milliseconds hold) {
  Impl& im = *impl_;
  if (im.round) {
    return Status(Code::kBusy, "round " + std::to_string(im.round->number()) +
                                   " is still running or held by another warmboot command");
  }
  const auto now = Round::Clock::now();
  im.round = std::make_shared<Round>(++im.rounds, now + deadline);
  im.admin = admin;
  im.admin_id = id;
  im.hold = hold;
  im.finished = false;
  im.ClearExport();
  std::set<Owner> told;
  // Apps mostly share a deadline: each distinct prepare frame is encoded once.
  std::map<int64_t, std::shared_ptr<const std::string>> prepares;
  // A copy: a client whose replies are not read is closed by NotifyEncoded, which removes it
  // from connections_.
  const std::vector<std::shared_ptr<Connection>> targets(connections_.begin(), connections_.end());
  for (const auto& c : targets) {
    if (c == admin || !c->owner() || c->observer()) continue;
    const auto mine = std::min(deadline, c->deadline());
    if (told.insert(*c->owner()).second) im.round->Expect(*c->owner(), now + mine);
    auto& frame = prepares[mine.count()];
    if (!frame) {
      api::Frame f;
      f.body = {{"op", "prepare"}, {"round", im.round->number()}, {"deadline_ms", mine.count()}};
      auto bytes = api::EncodeFrame(f);
      if (!bytes.ok()) {  // cannot happen: a few fields
        im.EndRound();
        return bytes.status();
      }
      frame = std::make_shared<const std::string>(std::move(*bytes));
    }
    c->NotifyEncoded(frame);
  }
  for (const Owner& o : store_.Owners()) {
    if (!told.count(o)) im.round->Absent(o);
  }
  im.round_timer.expires_after(deadline);
  im.round_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !impl_->round || impl_->finished) return;
    impl_->round->Expire(Round::Clock::now());
    FinishRound();
  });
  MaybeFinishRound();
  return Status::Ok();
}

Status Server::AnswerRound(const Owner& owner, uint64_t round, bool ready,
                           const std::string& reason) {
  Impl& im = *impl_;
  if (!im.round || im.round->number() != round || im.finished) {
    return InvalidArgument("round " + std::to_string(round) + " is not running");
  }
  Status s = im.round->Record(owner, ready, reason, Round::Clock::now());
  MaybeFinishRound();
  return s;
}

void Server::MaybeFinishRound() {
  Impl& im = *impl_;
  if (!im.round || im.finished) return;
  im.round->Expire(Round::Clock::now());
  if (im.round->Done()) FinishRound();
}

void Server::FinishRound() {
  Impl& im = *impl_;
  im.finished = true;
  im.round_timer.cancel();
  ComputeExport();
  if (auto admin = im.admin.lock()) {
    SendResult(*admin, im.admin_id);
  } else if (im.hold.count() > 0) {
    im.ArmHold();  // its admin left while it ran
  }
  im.last_round = im.round;
  im.last_round_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
}

void Server::ComputeExport() {
  Impl& im = *impl_;
  // The snapshot rule is checked here, when the round finishes, and again when a held round is
  // adopted: its tmpfs files had the whole hold to change.
  im.round->CheckSnapshots(store_);
  im.exported = im.round->Exported(store_);
  im.exported_total = 0;
  im.cursor.reset();
  uint64_t bytes = 0;
  for (const auto& [owner, count] : im.exported) {
    im.exported_total += count;
    bytes += store_.BytesOf(owner);
  }
  im.result.clear();
  im.round->AppendResult(im.result);
  im.result +=
      ",\"segments\":" + std::to_string(im.exported_total) + ",\"bytes\":" + std::to_string(bytes);
}

void Server::SendResult(Connection& admin, const nlohmann::json& id) {
  Impl& im = *impl_;
  std::string text = "{\"op\":\"checkpointed\"," + im.result;
  if (!id.is_null()) text += ",\"id\":" + std::to_string(id.get<uint64_t>());
  text += '}';
  if (text.size() <= api::kMaxReplyBody) {
    admin.NotifyEncoded(std::make_shared<const std::string>(api::EncodeFrameText(text)));
    return;
  }
  nlohmann::json error{
      {"op", "error"},
      {"code", "too-large"},
      {"message", "the round's result is " + std::to_string(text.size()) +
                      " bytes, more than a frame's " + std::to_string(api::kMaxReplyBody)}};
  if (!id.is_null()) error["id"] = id;
  admin.Notify(std::move(error));
}

Status Server::AdoptRound(const std::shared_ptr<Connection>& admin, const nlohmann::json& id,
                          uint64_t round, std::chrono::milliseconds hold) {
  Impl& im = *impl_;
  if (!im.round || im.round->number() != round) {
    return Status(Code::kNotFound,
                  "no round " + std::to_string(round) + " is held" +
                      (im.round ? " (round " + std::to_string(im.round->number()) + " is)" : ""));
  }
  if (!im.finished) {
    return Status(Code::kBusy, "round " + std::to_string(round) + " is still running");
  }
  if (auto holder = im.admin.lock(); holder && holder != admin) {
    return Status(Code::kBusy,
                  "round " + std::to_string(round) + " is held by another warmboot command");
  }
  im.hold_timer.cancel();
  im.admin = admin;
  im.admin_id = id;
  im.hold = hold;
  ComputeExport();
  SendResult(*admin, id);
  return Status::Ok();
}

Result<SegmentEntry> Server::ExportedSegment(const Connection* admin, uint64_t index,
                                             uint64_t* total) {
  Impl& im = *impl_;
  if (!im.round || !im.finished || im.admin.lock().get() != admin) {
    return InvalidArgument("no finished round held by this connection");
  }
  *total = im.exported_total;
  if (index >= im.exported_total) {
    return Status(Code::kNotFound, "round " + std::to_string(im.round->number()) + " has " +
                                       std::to_string(im.exported_total) + " segments");
  }
  uint64_t offset = index;
  for (const auto& [owner, count] : im.exported) {
    if (offset >= count) {
      offset -= count;
      continue;
    }
    const bool next = im.cursor && im.cursor->first + 1 == index && offset > 0 &&
                      im.cursor->second.owner == owner;
    auto e = store_.At(owner, offset, next ? &im.cursor->second.name : nullptr);
    if (!e) break;
    im.cursor.emplace(index, *e);
    return *e;
  }
  // Cannot happen while the ready sets are frozen.
  return Status(Code::kNotFound, "segment " + std::to_string(index) + " of round " +
                                     std::to_string(im.round->number()) + " is gone");
}

Status Server::ReleaseRound(const Connection* admin) {
  Impl& im = *impl_;
  if (!im.round || im.admin.lock().get() != admin) {
    return InvalidArgument("no round held by this connection");
  }
  im.EndRound();
  return Status::Ok();
}

void Server::KeepFailed(const Status& s) {
  if (keep_error_.empty()) keep_error_ = s.message();
  // Nothing half kept: without a journal the next instance brings nothing back (and removes
  // the descriptors as strays), rather than a set that misses the drops made from here on.
  if (journal_) {
    (void)options_.fd_store->Remove(journal_->name());
    journal_.reset();
  }
}

Status Server::WriteJournal(uint64_t generation, std::vector<std::string> old_names) {
  auto fresh = Journal::Create(generation);
  if (!fresh.ok()) return fresh.status();
  Status written;
  for (const Owner& o : store_.Owners()) {
    store_.ForEach(o, [&](const SegmentEntry& se, const SegmentFd& seg) {
      if (written.ok()) written = fresh->Put({se, seg.sealed, seg.mtime_ns, seg.ctime_ns, seg.gid});
    });
    WB_RETURN_IF_ERROR(written);
  }
  // Kept before the old ones go: whichever a crash leaves, the newest complete journal names
  // every segment.
  WB_RETURN_IF_ERROR(options_.fd_store->Add(fresh->name(), fresh->fd()));
  if (journal_) old_names.push_back(journal_->name());
  journal_ = std::move(*fresh);
  for (const std::string& name : old_names) {
    if (name != journal_->name()) (void)options_.fd_store->Remove(name);
  }
  return Status::Ok();
}

void Server::MaybeCompactJournal() {
  // A journal grows with every change; rewritten once it is mostly history.
  if (!journal_ || journal_->lines() <= 2 * store_.Segments() + 1024) return;
  if (Status s = WriteJournal(journal_->generation() + 1, {}); !s.ok()) KeepFailed(s);
}

Status Server::KeepDescriptor(uint64_t id, int fd) {
  // A description of its own: systemd keeps one copy of an open file description (it skips a
  // second name for the same one), so the app's own, handed over twice or to two apps, would be
  // kept once and lost with whichever name is removed first.
  WB_ASSIGN_OR_RETURN(UniqueFd own, ReopenReadOnly(fd));
  return options_.fd_store->Add("seg-" + std::to_string(id), own.get());
}

Result<Store::Placed> Server::Put(const Owner& owner, const std::string& name, SegmentKind kind,
                                  SegmentFd segment) {
  Journal::Entry e;
  e.segment = {owner, name, kind, segment.size, 0};
  e.sealed = segment.sealed;
  e.mtime_ns = segment.mtime_ns;
  e.ctime_ns = segment.ctime_ns;
  e.gid = segment.gid;
  const int fd = segment.fd.get();  // the store owns it from here
  auto placed = store_.Put(owner, name, kind, std::move(segment));
  if (!placed.ok()) return placed;
  if (auto it = lost_.find(owner); it != lost_.end()) {
    it->second.erase(name);
    if (it->second.empty()) lost_.erase(it);
  }
  if (!journal_) return placed;
  // The descriptor first, then the line naming it: a crash between leaves a descriptor no
  // journal names, which the next instance removes, never a name without its descriptor.
  e.segment.id = placed->id;
  Status s = KeepDescriptor(placed->id, fd);
  if (s.ok()) s = journal_->Put(e);
  if (s.ok() && placed->replaced != 0) {
    s = journal_->Drop(placed->replaced);
    if (s.ok()) s = options_.fd_store->Remove("seg-" + std::to_string(placed->replaced));
  }
  if (!s.ok()) KeepFailed(s);
  MaybeCompactJournal();
  return placed;
}

Result<SegmentEntry> Server::Drop(const Owner& owner, const std::string& name) {
  auto dropped = store_.Drop(owner, name);
  if (auto it = lost_.find(owner); it != lost_.end()) {
    if (it->second.erase(name) > 0 && !dropped.ok()) {
      if (it->second.empty()) lost_.erase(it);
      return SegmentEntry{owner, name, SegmentKind::kBytes, 0, 0};  // forgotten, as asked
    }
    if (it->second.empty()) lost_.erase(it);
  }
  if (!dropped.ok() || !journal_) return dropped;
  // The line first: a crash between leaves a descriptor no journal names (removed next time).
  Status s = journal_->Drop(dropped->id);
  if (s.ok()) s = options_.fd_store->Remove("seg-" + std::to_string(dropped->id));
  if (!s.ok()) KeepFailed(s);
  MaybeCompactJournal();
  return dropped;
}

std::map<std::string, std::string> Server::Lost(const Owner& owner) const {
  auto it = lost_.find(owner);
  return it == lost_.end() ? std::map<std::string, std::string>{} : it->second;
}

namespace {

// "seg-ID" -> ID, or 0.
uint64_t SegmentId(const std::string& name) {
  if (!name.starts_with("seg-") || name.size() > 24) return 0;
  uint64_t id = 0;
  for (char c : name.substr(4)) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

}  // namespace

void Server::Reload(std::vector<NamedFd> kept) {
  ReloadSummary& r = reload_;
  FdStore& fds = *options_.fd_store;
  std::map<uint64_t, NamedFd> segments;
  std::set<uint64_t> twice;  // a name kept twice: which is which cannot be told
  uint64_t max_id = 0;
  std::optional<Journal::Contents> journal;
  std::vector<std::string> journals;
  for (NamedFd& k : kept) {
    if (uint64_t id = SegmentId(k.name); id != 0) {
      max_id = std::max(max_id, id);
      if (!segments.emplace(id, std::move(k)).second) twice.insert(id);
    } else if (k.name.starts_with("journal-")) {
      journals.push_back(k.name);
      auto c = Journal::Read(k.fd.get());
      if (!c.ok()) {
        r.notes.push_back(k.name + ": " + c.status().message());
      } else if (!journal || c->generation > journal->generation) {
        journal = std::move(*c);
      }
    } else {
      r.notes.push_back("ignored a descriptor named '" + k.name + "' in the fd store");
      (void)fds.Remove(k.name);
    }
  }
  for (uint64_t id : twice) {
    segments.erase(id);
    (void)fds.Remove("seg-" + std::to_string(id));
  }
  if (journal) {
    r.journal = true;
    r.generation = journal->generation;
    if (journal->bad_lines > 0) {
      r.notes.push_back("the journal had " + std::to_string(journal->bad_lines) +
                        " line(s) not understood (a crash mid-write tears the last)");
    }
    for (const auto& [id, e] : journal->live) max_id = std::max(max_id, id);
    for (auto& [id, e] : journal->live) {
      const SegmentEntry& se = e.segment;
      auto lose = [&](const std::string& why) {
        lost_[se.owner][se.name] = why;
        ++r.lost;
        (void)fds.Remove("seg-" + std::to_string(id));
      };
      if (twice.count(id)) {
        lose("warmbootd restarted and found two descriptors kept under its name");
        continue;
      }
      auto it = segments.find(id);
      if (it == segments.end()) {
        lose("warmbootd restarted and the service manager did not pass it back");
        continue;
      }
      UniqueFd fd = std::move(it->second.fd);
      segments.erase(it);
      auto seg = AcceptFd(std::move(fd));
      if (!seg.ok()) {
        lose("warmbootd restarted and refused it: " + seg.status().message());
        continue;
      }
      if (!seg->sealed) {  // the snapshot rule holds across the restart too
        seg->size = se.size;
        seg->mtime_ns = e.mtime_ns;
        seg->ctime_ns = e.ctime_ns;
        if (Status c = CheckSnapshot(*seg); !c.ok()) {
          lose("it changed while warmbootd restarted: " + c.message());
          continue;
        }
      } else if (seg->size != se.size) {
        lose("its size is not the one handed over");
        continue;
      }
      seg->gid = e.gid;
      auto placed = store_.Put(se.owner, se.name, se.kind, std::move(*seg), id);
      if (!placed.ok()) {
        lose("warmbootd restarted and its limits refuse it: " + placed.status().message());
        continue;
      }
      if (placed->replaced != 0) {  // a crash between a replacement's put and drop lines
        (void)fds.Remove("seg-" + std::to_string(placed->replaced));
        --r.segments;
      }
      ++r.segments;
      r.bytes += se.size;
    }
  }
  // New segments never take a name seen here, kept or lost.
  store_.SkipIds(max_id + 1);
  for (auto& [id, k] : segments) {  // descriptors no journal names: a crash between the two
    (void)fds.Remove(k.name);
  }
  if (!segments.empty()) {
    r.notes.push_back(std::to_string(segments.size()) + " kept descriptor(s) named by no " +
                      "journal were removed");
  }
  if (Status s = WriteJournal(r.generation + 1, journals); !s.ok()) {
    // Nothing comes back half next time: the old journals go too.
    for (const std::string& name : journals) (void)fds.Remove(name);
    KeepFailed(s);
  }
}

nlohmann::json Server::StatusFor(uid_t uid) const {
  using nlohmann::json;
  const bool root = uid == 0;
  struct AppState {
    uint64_t connections = 0;
  };
  std::map<Owner, AppState> apps;
  for (const auto& c : connections_) {
    if (!c->owner() || c->observer() || (!root && c->uid() != uid)) continue;
    ++apps[*c->owner()].connections;
  }
  for (const Owner& o : store_.Owners()) {
    if (root || o.uid == uid) apps[o];
  }
  json list = json::array();
  for (const auto& [owner, a] : apps) {
    json j{{"uid", owner.uid},
           {"app", owner.app},
           {"connections", a.connections},
           {"segments", store_.Count(owner)},
           {"bytes", store_.BytesOf(owner)}};
    if (auto lost = lost_.find(owner); lost != lost_.end()) j["lost"] = lost->second.size();
    list.push_back(std::move(j));
  }
  const StoreLimits& l = store_.limits();
  json out{{"daemon", instance_},           {"kept", keeps()},         {"apps", std::move(list)},
           {"segments", store_.Segments()}, {"bytes", store_.Bytes()}, {"capacity", l.capacity}};
  if (!keep_error_.empty()) out["keep_error"] = keep_error_;
  if (reload_.journal) {
    out["reload"] = {{"generation", reload_.generation},
                     {"segments", reload_.segments},
                     {"bytes", reload_.bytes},
                     {"lost", reload_.lost}};
  }
  // A round's answers name apps: another uid's only to root.
  auto mine = [&](json r) {
    if (!root && r.contains("apps")) {
      json kept = json::array();
      uint64_t ready = 0;
      for (const json& a : r["apps"]) {
        if (a.value("uid", uid_t(-1)) != uid) continue;
        ready += a.value("answer", "") == std::string("ready");
        kept.push_back(a);
      }
      r["ready"] = ready;
      r["complete"] = ready == kept.size();
      r["apps"] = std::move(kept);
    }
    return r;
  };
  const Impl& im = *impl_;
  if (im.round) {
    json r = mine(im.round->ToJson());
    r["running"] = !im.finished;
    // Finished and held: the ready sets stay frozen until preserve exports them and ends it.
    if (im.finished) {
      r["held"] = true;
      r["admin_connected"] = !im.admin.expired();
    }
    out["round"] = std::move(r);
  }
  if (im.last_round) {
    json r = mine(im.last_round->ToJson());
    r["finished_ns"] = im.last_round_ns;
    out["last_round"] = std::move(r);
  }
  return out;
}

bool Server::Frozen(const Owner& owner) const {
  return impl_->round && impl_->round->IsReady(owner);
}

void Server::Stop() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_pause.cancel();
  if (options_.listen_fd < 0 && !options_.socket_path.empty()) {
    // Only our own socket file (a successor may already have replaced it).
    struct stat st;
    if (::lstat(options_.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      ::unlink(options_.socket_path.c_str());
    }
  }
  auto all = connections_;
  for (const auto& c : all) c->Close();
  // A round running or held keeps timers that would keep the io_context (and the process) up.
  impl_->EndRound();
}

}  // namespace warmboot::daemon
