// The C ABI (client/client_c.h) over the C++ client. Every entry point runs its body inside
// Guard: a C caller cannot catch a C++ exception (unwinding through C frames is undefined), so
// whatever is thrown (bad_alloc, a json error on a reply) becomes a code and a message here.
// Messages are kept in fixed buffers so that recording a failure can itself never fail.
#include "client/client_c.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/names.h"
#include "client/client.h"

namespace {

using warmboot::Code;
using warmboot::Result;
using warmboot::Status;
using warmboot::client::Client;

constexpr size_t kMessageBytes = 1024;

// Copies the concatenated `parts` into `buf`; when too long, cut where no UTF-8 character is
// split (the message is shown to people and may be passed on as JSON).
void StoreMessage(char (&buf)[kMessageBytes],
                  std::initializer_list<std::string_view> parts) noexcept {
  size_t n = 0;
  bool cut = false;
  for (std::string_view part : parts) {
    size_t take = std::min(part.size(), kMessageBytes - 1 - n);
    std::memcpy(buf + n, part.data(), take);
    n += take;
    cut = cut || take < part.size();
  }
  if (cut && n > 0) {
    size_t lead = n - 1;
    while (lead > 0 && (static_cast<unsigned char>(buf[lead]) & 0xC0) == 0x80) --lead;
    const unsigned char b = static_cast<unsigned char>(buf[lead]);
    const size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    if (lead + len > n) n = lead;
  }
  buf[n] = '\0';
}

thread_local char tls_error[kMessageBytes] = "";

}  // namespace

struct wb_client {
  explicit wb_client(Client c) : client(std::move(c)) {}
  Client client;
  char last_error[kMessageBytes] = "";
};

namespace {

int CodeFor(Code code) {
  switch (code) {
    case Code::kOk:
      return WB_OK;
    case Code::kNotFound:
      return WB_ERR_NOT_FOUND;
    case Code::kNoSpace:
      return WB_ERR_QUOTA;
    case Code::kPermission:
      return WB_ERR_PERMISSION;
    case Code::kInvalidArgument:
    case Code::kUsage:
      return WB_ERR_INVALID;
    case Code::kBusy:
      return WB_ERR_BUSY;
    case Code::kUnsupported:
      return WB_ERR_UNSUPPORTED;
    case Code::kCorruption:
      return WB_ERR_PROTOCOL;
    case Code::kIoError:
    case Code::kNoImage:
    case Code::kInterrupted:
      return WB_ERR_IO;
  }
  return WB_ERR_INTERNAL;
}

int Fail(wb_client* c, int code, std::initializer_list<std::string_view> message) noexcept {
  StoreMessage(tls_error, message);
  if (c != nullptr) StoreMessage(c->last_error, message);
  return code;
}

// Runs `body` (returning a Status) for entry point `fn`; its failure, or anything it throws,
// becomes a code and a message. `map` turns a Status code into a wb_error.
template <typename Body, typename Map>
int Guard(wb_client* c, const char* fn, Body&& body, Map&& map) noexcept {
  try {
    Status s = body();
    if (s.ok()) return WB_OK;
    return Fail(c, map(s.code()), {s.message()});
  } catch (const std::bad_alloc&) {
    return Fail(c, WB_ERR_NO_MEMORY, {fn, ": out of memory"});
  } catch (const std::exception& e) {
    return Fail(c, WB_ERR_INTERNAL, {fn, ": internal error: ", e.what()});
  } catch (...) {
    return Fail(c, WB_ERR_INTERNAL, {fn, ": internal error (an unknown exception)"});
  }
}
template <typename Body>
int Guard(wb_client* c, const char* fn, Body&& body) noexcept {
  return Guard(c, fn, std::forward<Body>(body), CodeFor);
}

Status Null(const char* fn, const char* what) {
  return Status(Code::kInvalidArgument, std::string(fn) + ": " + what + " is NULL");
}

constexpr uint32_t kMaxDeadlineMs = 3600000;  // hello's deadline_ms (docs/api.md)

// wb_client_connect and wb_client_connect_ex, as entry point `fn`.
int ConnectAs(const char* fn, const char* app, const char* socket_path, uint32_t deadline_ms,
              int observer, wb_client** out) noexcept {
  if (out != nullptr) *out = nullptr;
  // Connect's kNotFound can only mean the socket: the daemon answers hello with no not-found.
  auto map = [](Code code) { return code == Code::kNotFound ? WB_ERR_NO_DAEMON : CodeFor(code); };
  return Guard(
      nullptr, fn,
      [&]() -> Status {
        if (out == nullptr) return Null(fn, "out");
        if (app == nullptr) return Null(fn, "app");
        // Checked before connecting, so a bad name is WB_ERR_INVALID with or without a daemon.
        WB_RETURN_IF_ERROR(warmboot::api::CheckName("application name", app));
        if (deadline_ms > kMaxDeadlineMs) {
          return Status(Code::kInvalidArgument, std::string(fn) +
                                                    ": deadline_ms is 0 (the round's) or up to " +
                                                    std::to_string(kMaxDeadlineMs) + ", not " +
                                                    std::to_string(deadline_ms));
        }
        auto c = Client::Connect(
            app, socket_path != nullptr ? socket_path : warmboot::client::kDefaultSocket,
            deadline_ms, observer != 0);
        if (!c.ok()) return c.status();
        *out = new wb_client(std::move(*c));
        return Status::Ok();
      },
      map);
}

// Copies `view` into one malloc'd block: the struct, the segments, the damaged names' pointers,
// then every string; wb_restored_free is then one free(). Each part's size keeps the next one
// aligned (the structs and pointer arrays are multiples of 8 bytes; strings come last).
wb_restored_view* CopyView(const warmboot::client::RestoredView& view) {
  const size_t n_seg = view.segments.size(), n_dmg = view.damaged.size();
  size_t bytes =
      sizeof(wb_restored_view) + n_seg * sizeof(wb_restored_segment) + n_dmg * sizeof(const char*);
  for (const auto& [name, size] : view.segments) bytes += name.size() + 1;
  for (const std::string& name : view.damaged) bytes += name.size() + 1;
  void* block = std::malloc(bytes);
  if (block == nullptr) throw std::bad_alloc();
  char* at = static_cast<char*>(block);
  auto* out = new (at) wb_restored_view{};
  at += sizeof(wb_restored_view);
  auto* segments = reinterpret_cast<wb_restored_segment*>(at);
  at += n_seg * sizeof(wb_restored_segment);
  auto* damaged = reinterpret_cast<const char**>(at);
  at += n_dmg * sizeof(const char*);
  auto put = [&at](const std::string& s) {
    const char* str = at;
    std::memcpy(at, s.c_str(), s.size() + 1);
    at += s.size() + 1;
    return str;
  };
  for (size_t i = 0; i < n_seg; ++i) {
    segments[i].name = put(view.segments[i].first);
    segments[i].size = view.segments[i].second;
  }
  for (size_t i = 0; i < n_dmg; ++i) damaged[i] = put(view.damaged[i]);
  out->warm = view.warm ? 1 : 0;
  out->generation = view.generation;
  out->preserved_ns = view.preserved_ns;
  out->segments = n_seg != 0 ? segments : nullptr;
  out->segment_count = n_seg;
  out->damaged = n_dmg != 0 ? damaged : nullptr;
  out->damaged_count = n_dmg;
  return out;
}

}  // namespace

extern "C" {

int wb_client_connect(const char* app, const char* socket_path, wb_client** out) {
  return ConnectAs("wb_client_connect", app, socket_path, 0, 0, out);
}

int wb_client_connect_ex(const char* app, const char* socket_path, uint32_t deadline_ms,
                         int observer, wb_client** out) {
  return ConnectAs("wb_client_connect_ex", app, socket_path, deadline_ms, observer, out);
}

int wb_client_fd(const wb_client* client) {
  return client != nullptr ? client->client.fd() : -1;
}

void wb_set_reply_timeout(wb_client* client, int timeout_ms) {
  if (client != nullptr) client->client.SetReplyTimeout(timeout_ms);
}

int wb_daemon_keeps(const wb_client* client) {
  return client != nullptr && client->client.daemon_keeps() ? 1 : 0;
}

size_t wb_lost_count(const wb_client* client) {
  return client != nullptr ? client->client.lost_at_hello().size() : 0;
}

const char* wb_lost_segment(const wb_client* client, size_t i) {
  if (client == nullptr || i >= client->client.lost_at_hello().size()) return nullptr;
  return client->client.lost_at_hello()[i].segment.c_str();
}

void wb_client_close(wb_client* client) {
  delete client;  // ~Client closes the socket; nothing in it throws
}

int wb_put_bytes(wb_client* client, const char* segment, const void* data, size_t size) {
  return Guard(client, "wb_put_bytes", [&]() -> Status {
    if (client == nullptr) return Null("wb_put_bytes", "client");
    if (segment == nullptr) return Null("wb_put_bytes", "segment");
    if (data == nullptr && size != 0) return Null("wb_put_bytes", "data");
    std::string_view bytes =
        size == 0 ? std::string_view() : std::string_view(static_cast<const char*>(data), size);
    return client->client.PutBytes(segment, bytes);
  });
}

int wb_put_fd(wb_client* client, const char* segment, int fd) {
  return Guard(client, "wb_put_fd", [&]() -> Status {
    if (client == nullptr) return Null("wb_put_fd", "client");
    if (segment == nullptr) return Null("wb_put_fd", "segment");
    return client->client.PutFd(segment, fd);
  });
}

int wb_get(wb_client* client, const char* segment, int* fd_out, uint64_t* size_out) {
  if (fd_out != nullptr) *fd_out = -1;
  if (size_out != nullptr) *size_out = 0;
  return Guard(client, "wb_get", [&]() -> Status {
    if (client == nullptr) return Null("wb_get", "client");
    if (segment == nullptr) return Null("wb_get", "segment");
    if (fd_out == nullptr) return Null("wb_get", "fd_out");
    uint64_t size = 0;
    Result<int> fd = client->client.Get(segment, &size);
    if (!fd.ok()) return fd.status();
    *fd_out = *fd;
    if (size_out != nullptr) *size_out = size;
    return Status::Ok();
  });
}

int wb_drop(wb_client* client, const char* segment, uint64_t* size_out) {
  if (size_out != nullptr) *size_out = 0;
  return Guard(client, "wb_drop", [&]() -> Status {
    if (client == nullptr) return Null("wb_drop", "client");
    if (segment == nullptr) return Null("wb_drop", "segment");
    Result<uint64_t> size = client->client.Drop(segment);
    if (!size.ok()) return size.status();
    if (size_out != nullptr) *size_out = *size;
    return Status::Ok();
  });
}

int wb_list(wb_client* client, int all, wb_segment** segments_out, size_t* count_out) {
  if (segments_out != nullptr) *segments_out = nullptr;
  if (count_out != nullptr) *count_out = 0;
  return Guard(client, "wb_list", [&]() -> Status {
    if (client == nullptr) return Null("wb_list", "client");
    if (segments_out == nullptr) return Null("wb_list", "segments_out");
    if (count_out == nullptr) return Null("wb_list", "count_out");
    Result<std::vector<warmboot::client::Segment>> list = client->client.List(all != 0);
    if (!list.ok()) return list.status();
    if (list->empty()) return Status::Ok();
    // One allocation: the array, then every string; wb_list_free is then one free().
    size_t bytes = list->size() * sizeof(wb_segment);
    for (const auto& s : *list) bytes += s.name.size() + s.kind.size() + s.app.size() + 3;
    void* block = std::malloc(bytes);
    if (block == nullptr) throw std::bad_alloc();
    auto* array = static_cast<wb_segment*>(block);
    char* text = static_cast<char*>(block) + list->size() * sizeof(wb_segment);
    auto put = [&text](const std::string& s) {
      const char* at = text;
      std::memcpy(text, s.c_str(), s.size() + 1);
      text += s.size() + 1;
      return at;
    };
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& s = (*list)[i];
      array[i].name = put(s.name);
      array[i].size = s.size;
      array[i].kind = put(s.kind);
      array[i].uid = s.uid;
      array[i].app = put(s.app);
    }
    *segments_out = array;
    *count_out = list->size();
    return Status::Ok();
  });
}

void wb_list_free(wb_segment* segments) {
  std::free(segments);
}

int wb_wait_prepare(wb_client* client, int timeout_ms, uint64_t* round_out,
                    uint64_t* deadline_ms_out, int* got_out) {
  if (round_out != nullptr) *round_out = 0;
  if (deadline_ms_out != nullptr) *deadline_ms_out = 0;
  if (got_out != nullptr) *got_out = 0;
  return Guard(client, "wb_wait_prepare", [&]() -> Status {
    if (client == nullptr) return Null("wb_wait_prepare", "client");
    if (round_out == nullptr) return Null("wb_wait_prepare", "round_out");
    if (got_out == nullptr) return Null("wb_wait_prepare", "got_out");
    auto p = client->client.WaitForPrepare(timeout_ms < 0 ? -1 : timeout_ms);
    if (!p.ok()) return p.status();
    if (!p->has_value()) return Status::Ok();
    *round_out = (*p)->round;
    if (deadline_ms_out != nullptr) *deadline_ms_out = (*p)->deadline_ms;
    *got_out = 1;
    return Status::Ok();
  });
}

int wb_ready(wb_client* client, uint64_t round) {
  return Guard(client, "wb_ready", [&]() -> Status {
    if (client == nullptr) return Null("wb_ready", "client");
    return client->client.Ready(round);
  });
}

int wb_decline(wb_client* client, uint64_t round, const char* reason) {
  return Guard(client, "wb_decline", [&]() -> Status {
    if (client == nullptr) return Null("wb_decline", "client");
    return client->client.Decline(round, reason != nullptr ? reason : "");
  });
}

int wb_restored(wb_client* client, wb_restored_view** out) {
  if (out != nullptr) *out = nullptr;
  return Guard(client, "wb_restored", [&]() -> Status {
    if (client == nullptr) return Null("wb_restored", "client");
    if (out == nullptr) return Null("wb_restored", "out");
    Result<warmboot::client::RestoredView> view = client->client.Restored();
    if (!view.ok()) return view.status();
    *out = CopyView(*view);
    return Status::Ok();
  });
}

void wb_restored_free(wb_restored_view* view) {
  std::free(view);
}

int wb_get_restored(wb_client* client, const char* segment, int* fd_out, uint64_t* size_out) {
  if (fd_out != nullptr) *fd_out = -1;
  if (size_out != nullptr) *size_out = 0;
  return Guard(client, "wb_get_restored", [&]() -> Status {
    if (client == nullptr) return Null("wb_get_restored", "client");
    if (segment == nullptr) return Null("wb_get_restored", "segment");
    if (fd_out == nullptr) return Null("wb_get_restored", "fd_out");
    uint64_t size = 0;
    Result<int> fd = client->client.GetRestored(segment, &size);
    if (!fd.ok()) return fd.status();
    *fd_out = *fd;
    if (size_out != nullptr) *size_out = size;
    return Status::Ok();
  });
}

int wb_release_restored(wb_client* client, const char* segment, uint64_t* size_out) {
  if (size_out != nullptr) *size_out = 0;
  return Guard(client, "wb_release_restored", [&]() -> Status {
    if (client == nullptr) return Null("wb_release_restored", "client");
    if (segment == nullptr) return Null("wb_release_restored", "segment");
    Result<uint64_t> size = client->client.ReleaseRestored(segment);
    if (!size.ok()) return size.status();
    if (size_out != nullptr) *size_out = *size;
    return Status::Ok();
  });
}

const char* wb_last_error(const wb_client* client) {
  return client != nullptr ? client->last_error : tls_error;
}

const char* wb_error_name(int code) {
  switch (code) {
    case WB_OK:
      return "ok";
    case WB_ERR_NOT_FOUND:
      return "not-found";
    case WB_ERR_QUOTA:
      return "quota";
    case WB_ERR_PERMISSION:
      return "permission";
    case WB_ERR_INVALID:
      return "invalid";
    case WB_ERR_BUSY:
      return "busy";
    case WB_ERR_IO:
      return "io";
    case WB_ERR_UNSUPPORTED:
      return "unsupported";
    case WB_ERR_NO_DAEMON:
      return "no-daemon";
    case WB_ERR_PROTOCOL:
      return "protocol";
    case WB_ERR_NO_MEMORY:
      return "no-memory";
    case WB_ERR_INTERNAL:
      return "internal";
  }
  return "unknown";
}

}  // extern "C"
