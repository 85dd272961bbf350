// The seam between the image code and where the image lives: /dev/pmem0, a pre-allocated file
// standing in for it, or memory (tests, fault injection). Reads and writes are positional and
// may run concurrently from several threads on disjoint ranges.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace warmboot {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool Overlaps(uint64_t off, uint64_t len) const { return off < end() && offset < off + len; }
};

class Media {
 public:
  virtual ~Media() = default;

  // Human-readable name for messages ("/dev/pmem0").
  virtual const std::string& name() const = 0;
  // Bytes an image may occupy.
  virtual uint64_t capacity() const = 0;
  // Bytes currently readable (a truncated file reads as a short medium).
  virtual uint64_t size() const = 0;

  // Reads exactly out.size() bytes or fails; reading past size() is a truncation error.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;
  // Writes all buffers contiguously starting at offset, or fails.
  virtual Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) = 0;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) {
    struct iovec v {
      const_cast<uint8_t*>(data.data()), data.size()
    };
    return WriteAt(offset, &v, 1);
  }
  // Direct I/O granularity. Writes that start and end on multiples of it, from buffers aligned
  // to it, go straight to the medium. Any other write is read-modify-written in whole blocks, so
  // it must not run concurrently with another write touching one of those blocks. 1 when the
  // medium has no such constraint (buffered I/O, memory). A power of two, at most
  // kMaxWriteAlignment.
  virtual uint32_t write_alignment() const { return 1; }

  // Makes every completed write durable (fdatasync; on pmem this flushes CPU caches).
  virtual Status Flush() = 0;

  // Known media errors (poison) as byte ranges; reading them may raise a machine check, so the
  // reader reports chunks over them as damaged without touching them.
  virtual std::vector<ByteRange> KnownBadRanges() const { return bad_ranges_; }
  // Whether [offset, +length) touches a known bad range: bytes never to read.
  bool OverKnownBadRange(uint64_t offset, uint64_t length) const {
    for (const ByteRange& b : KnownBadRanges()) {
      if (length != 0 && b.Overlaps(offset, length)) return true;
    }
    return false;
  }
  void SetKnownBadRanges(std::vector<ByteRange> ranges) { bad_ranges_ = std::move(ranges); }

 private:
  std::vector<ByteRange> bad_ranges_;
};

// The largest direct I/O block a medium may ask for (FileMedia falls back to buffered I/O on a
// device whose block is larger). Writers that plan before the medium is open assume it.
inline constexpr uint32_t kMaxWriteAlignment = 4096;

enum class OpenMode { kReadOnly, kReadWrite, kCreate };

// Direct I/O (O_DIRECT) bypasses the page cache: on /dev/pmem0 each byte is copied once, straight
// into persistent memory, and a multi-GiB image does not fill the page cache of a machine that
// has just given memory away. kAuto uses it for block devices when the kernel accepts it.
enum class DirectIo { kAuto, kOn, kOff };
Result<DirectIo> ParseDirectIo(std::string_view text);  // "auto", "on", "off"

struct FileMediaOptions {
  OpenMode mode = OpenMode::kReadOnly;
  // Caps the capacity (tests use it to model a small device); 0 means no cap.
  uint64_t capacity_limit = 0;
  DirectIo direct_io = DirectIo::kAuto;
};

// A regular file or a block device. A block device's capacity is its size; an existing
// non-empty regular file is written in place (never truncated), so its size is its capacity; a
// new or empty file may grow up to the free space of its filesystem. With direct I/O the
// capacity is rounded down to the direct I/O block.
Result<std::unique_ptr<Media>> OpenFileMedia(const std::string& path, FileMediaOptions options);

// An in-memory medium of fixed size, for tests. Supports injected faults.
class MemoryMedia : public Media {
 public:
  explicit MemoryMedia(uint64_t size, std::string name = "memory");

  const std::string& name() const override { return name_; }
  uint64_t capacity() const override { return bytes_.size(); }
  uint64_t size() const override { return readable_; }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override;
  Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) override;
  using Media::WriteAt;
  Status Flush() override;

  std::vector<uint8_t>& bytes() { return bytes_; }
  // Models a truncated medium: only the first `n` bytes read back.
  void TruncateReadable(uint64_t n) { readable_ = n < bytes_.size() ? n : bytes_.size(); }
  // Power cut: after `n` more bytes are written, every write fails (partial writes land).
  void FailWritesAfter(uint64_t n) { write_budget_ = n; }
  uint64_t bytes_written() const { return bytes_written_; }
  // Models a direct-I/O medium's granularity (what write_alignment() reports); tests then check
  // where the writer put its data.
  void SetWriteAlignment(uint32_t alignment) { alignment_ = alignment; }
  uint32_t write_alignment() const override { return alignment_; }
  int flush_count() const { return flushes_; }

 private:
  std::string name_;
  std::vector<uint8_t> bytes_;
  uint64_t readable_;
  uint64_t write_budget_ = UINT64_MAX;
  uint64_t bytes_written_ = 0;
  int flushes_ = 0;
  uint32_t alignment_ = 1;
  std::mutex mu_;
};

}  // namespace warmboot
