#include "api/wire.h"

#include "util/endian.h"
#include "util/json_text.h"

namespace warmboot::api {

Result<std::string> EncodeFrame(const Frame& frame, uint32_t max_body) {
  const std::string body = DumpJson(frame.body);
  if (body.size() > max_body) {
    return InvalidArgument("a frame's body is " + std::to_string(body.size()) +
                           " bytes, more than " + std::to_string(max_body));
  }
  if (frame.data.size() > kMaxData) {
    return InvalidArgument("a frame's data is " + std::to_string(frame.data.size()) +
                           " bytes, more than " + std::to_string(kMaxData));
  }
  if (frame.fd_count > kMaxFds) return InvalidArgument("a frame carries at most one descriptor");
  std::string out(kHeaderSize, '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  StoreLE<uint32_t>(h, kMagic);
  StoreLE<uint16_t>(h + 4, kVersion);
  StoreLE<uint16_t>(h + 6, frame.fd_count);
  StoreLE<uint32_t>(h + 8, static_cast<uint32_t>(body.size()));
  StoreLE<uint32_t>(h + 12, static_cast<uint32_t>(frame.data.size()));
  out += body;
  out += frame.data;
  return out;
}

std::string EncodeFrameText(std::string_view json_text) {
  std::string out(kHeaderSize, '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  StoreLE<uint32_t>(h, kMagic);
  StoreLE<uint16_t>(h + 4, kVersion);
  StoreLE<uint16_t>(h + 6, 0);
  StoreLE<uint32_t>(h + 8, static_cast<uint32_t>(json_text.size()));
  StoreLE<uint32_t>(h + 12, 0);
  out += json_text;
  return out;
}

Status FrameDecoder::Fail(const std::string& why) {
  status_ = Status(Code::kCorruption, why);
  buffer_.clear();
  offset_ = 0;
  return status_;
}

uint16_t FrameDecoder::pending_fds() const {
  if (!status_.ok() || pending() < kHeaderSize) return 0;
  return LoadLE<uint16_t>(reinterpret_cast<const uint8_t*>(buffer_.data() + offset_ + 6));
}

std::optional<Frame> FrameDecoder::Next() {
  if (!status_.ok() || pending() < kHeaderSize) return std::nullopt;
  const auto* h = reinterpret_cast<const uint8_t*>(buffer_.data() + offset_);
  if (LoadLE<uint32_t>(h) != kMagic) {
    (void)Fail("not a warmboot API frame (bad magic)");
    return std::nullopt;
  }
  const uint16_t version = LoadLE<uint16_t>(h + 4);
  if (version != kVersion) {
    (void)Fail("frame version " + std::to_string(version) + "; this side speaks " +
               std::to_string(kVersion));
    return std::nullopt;
  }
  Frame f;
  f.fd_count = LoadLE<uint16_t>(h + 6);
  const uint32_t body_len = LoadLE<uint32_t>(h + 8), data_len = LoadLE<uint32_t>(h + 12);
  if (f.fd_count > kMaxFds) {
    (void)Fail("a frame announces " + std::to_string(f.fd_count) +
               " descriptors; at most 1 is allowed");
    return std::nullopt;
  }
  if (body_len < 2 || body_len > max_body_) {
    (void)Fail("a frame's body of " + std::to_string(body_len) + " bytes (2 to " +
               std::to_string(max_body_) + " allowed)");
    return std::nullopt;
  }
  if (data_len > kMaxData) {
    (void)Fail("a frame's data of " + std::to_string(data_len) + " bytes (at most " +
               std::to_string(kMaxData) + " allowed)");
    return std::nullopt;
  }
  if (pending() < kHeaderSize + body_len + data_len) return std::nullopt;
  std::string_view body(buffer_.data() + offset_ + kHeaderSize, body_len);
  f.body = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (f.body.is_discarded() || !f.body.is_object()) {
    (void)Fail("a frame's body is not a JSON object");
    return std::nullopt;
  }
  if (!f.body.contains("op") || !f.body["op"].is_string()) {
    (void)Fail("a frame's body has no \"op\" string");
    return std::nullopt;
  }
  f.data.assign(buffer_.data() + offset_ + kHeaderSize + body_len, data_len);
  offset_ += kHeaderSize + body_len + data_len;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (1u << 20)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return f;
}

}  // namespace warmboot::api
