#include <algorithm>
#include <cstring>
#include <mutex>

#include "media/media.h"

namespace warmboot {

MemoryMedia::MemoryMedia(uint64_t size, std::string name)
    : name_(std::move(name)), bytes_(size, 0), readable_(size) {}

Status MemoryMedia::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset > readable_ || out.size() > readable_ - offset) {
    return Corruption(name_ + ": read past the end: image truncated");
  }
  for (const ByteRange& r : KnownBadRanges()) {
    if (r.Overlaps(offset, out.size())) return IoError(name_ + ": media error (poison)");
  }
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return Status::Ok();
}

Status MemoryMedia::WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) {
  // Writers run concurrently on disjoint ranges; the power-cut budget is shared.
  std::lock_guard lock(mu_);
  uint64_t pos = offset;
  for (int i = 0; i < iovcnt; ++i) {
    uint64_t len = iov[i].iov_len;
    if (pos > bytes_.size() || len > bytes_.size() - pos)
      return NoSpace(name_ + ": write past capacity");
    uint64_t allowed = std::min(len, write_budget_);
    if (allowed != 0) std::memcpy(bytes_.data() + pos, iov[i].iov_base, allowed);
    write_budget_ -= allowed;
    bytes_written_ += allowed;
    if (allowed < len) return IoError(name_ + ": injected write failure (power cut)");
    pos += len;
  }
  return Status::Ok();
}

Status MemoryMedia::Flush() {
  if (write_budget_ == 0) return IoError(name_ + ": injected flush failure (power cut)");
  ++flushes_;
  return Status::Ok();
}

}  // namespace warmboot
