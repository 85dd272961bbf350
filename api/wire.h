// The checkpoint API's frames (docs/api.md section 2): a 16-byte header, a JSON body, raw data.
// Pure: encodes into and decodes from byte buffers; descriptors travel beside the bytes and
// are matched to frames by the caller (each frame says how many it brings).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace warmboot::api {

inline constexpr uint32_t kMagic = 0x50414257;  // "WBAP" as bytes
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kHeaderSize = 16;
inline constexpr uint32_t kMaxBody = 64 * 1024;
// A frame the daemon sends may be larger: a round's result names every app.
inline constexpr uint32_t kMaxReplyBody = 4 * 1024 * 1024;
inline constexpr uint32_t kMaxData = 1024 * 1024;
inline constexpr uint16_t kMaxFds = 1;

struct Frame {
  nlohmann::json body;  // an object with "op"
  std::string data;
  uint16_t fd_count = 0;
};

// The frame's bytes (header, body, data). The body is dumped as JSON text; its size must not
// exceed `max_body` (kMaxBody from a client, kMaxReplyBody from the daemon), nor the data
// kMaxData (InvalidArgument).
Result<std::string> EncodeFrame(const Frame& frame, uint32_t max_body = kMaxBody);
// A frame with no data and no descriptor whose body is `json_text`, which the caller has
// written as a JSON object (fixed-shape replies on a hot path skip building a document).
std::string EncodeFrameText(std::string_view json_text);

// Reads frames from a byte stream fed in pieces.
//   FrameDecoder d;
//   d.Feed(bytes);
//   while (auto f = d.Next()) { ... }   // Next(): a whole frame, nullopt until one is complete
//   if (!d.status().ok()) { ... }       // a broken frame: the stream is unusable from here
class FrameDecoder {
 public:
  // `max_body`: the largest body taken (the daemon: kMaxBody; a client: kMaxReplyBody).
  explicit FrameDecoder(uint32_t max_body = kMaxBody) : max_body_(max_body) {}
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next whole frame; nullopt while incomplete or once broken (status() says why).
  std::optional<Frame> Next();
  const Status& status() const { return status_; }
  // Bytes of a frame begun and not finished (0 between frames): the daemon times these out.
  size_t pending() const { return buffer_.size() - offset_; }
  // The fd_count of the frame whose header has arrived and whose rest has not, else 0.
  uint16_t pending_fds() const;

 private:
  Status Fail(const std::string& why);
  uint32_t max_body_;
  std::string buffer_;
  size_t offset_ = 0;
  Status status_;
};

}  // namespace warmboot::api
