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

}  // namespace

extern "C" {

int wb_client_connect(const char* app, const char* socket_path, wb_client** out) {
  if (out != nullptr) *out = nullptr;
  // Connect's kNotFound can only mean the socket: the daemon answers hello with no not-found.
  auto map = [](Code code) { return code == Code::kNotFound ? WB_ERR_NO_DAEMON : CodeFor(code); };
  return Guard(
      nullptr, "wb_client_connect",
      [&]() -> Status {
        if (out == nullptr) return Null("wb_client_connect", "out");
        if (app == nullptr) return Null("wb_client_connect", "app");
        // Checked before connecting, so a bad name is WB_ERR_INVALID with or without a daemon.
        WB_RETURN_IF_ERROR(warmboot::api::CheckName("application name", app));
        auto c = Client::Connect(
            app, socket_path != nullptr ? socket_path : warmboot::client::kDefaultSocket);
        if (!c.ok()) return c.status();
        *out = new wb_client(std::move(*c));
        return Status::Ok();
      },
      map);
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
