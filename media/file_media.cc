// Media over a file descriptor: /dev/pmem0 or a regular file standing in for it.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "media/media.h"
#include "util/align.h"
#include "util/aligned_buffer.h"
#include "util/io.h"
#include "util/unique_fd.h"

namespace warmboot {
namespace {

// Reads up to `len` bytes at `offset`; fewer only at the end of the file.
Result<size_t> PreadUpTo(int fd, uint8_t* out, size_t len, uint64_t offset,
                         const std::string& name) {
  size_t done = 0;
  if (int err = PreadFull(fd, out, len, offset, &done); err != 0) {
    return ErrnoError(name + ": read at offset " + std::to_string(offset + done), err);
  }
  return done;
}

Status PwritevAll(int fd, const struct iovec* iov, int iovcnt, uint64_t offset,
                  const std::string& name) {
  if (int err = warmboot::PwritevAll(fd, iov, iovcnt, offset); err != 0) {
    return ErrnoError(name + ": write at offset " + std::to_string(offset), err);
  }
  return Status::Ok();
}

// Whole aligned blocks around an unaligned request, for direct I/O. One per thread: workers
// read and write concurrently.
AlignedBuffer& Bounce(size_t size) {
  thread_local AlignedBuffer buffer;
  if (buffer.size() < size) buffer.Reset(size);
  return buffer;
}

class FileMedia : public Media {
 public:
  FileMedia(std::string name, int fd, uint64_t capacity, uint64_t size, uint32_t alignment)
      : name_(std::move(name)), fd_(fd), capacity_(capacity), size_(size), align_(alignment) {}
  ~FileMedia() override { ::close(fd_); }

  const std::string& name() const override { return name_; }
  uint64_t capacity() const override { return capacity_; }
  uint64_t size() const override { return size_.load(std::memory_order_relaxed); }
  uint32_t write_alignment() const override { return align_; }

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    const uint64_t size = this->size();
    if (offset > size || out.size() > size - offset) {
      return Corruption(name_ + ": read of " + std::to_string(out.size()) + " bytes at offset " +
                        std::to_string(offset) + " is past the end (" + std::to_string(size) +
                        " bytes): image truncated");
    }
    if (out.empty()) return Status::Ok();
    uint8_t* dst = out.data();
    uint64_t lo = offset, len = out.size();
    const bool bounce = !IsAligned(offset, align_) || !IsAligned(len, align_) ||
                        !IsAligned(reinterpret_cast<uintptr_t>(dst), align_);
    if (bounce) {
      lo = AlignDown(offset, align_);
      len = AlignUp(offset + out.size(), align_) - lo;
      dst = Bounce(len).data();
    }
    WB_ASSIGN_OR_RETURN(size_t got, PreadUpTo(fd_, dst, len, lo, name_));
    if (got < offset - lo + out.size()) return Corruption(name_ + ": unexpected end of medium");
    if (bounce) std::memcpy(out.data(), dst + (offset - lo), out.size());
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) override {
    uint64_t total = 0;
    bool aligned = IsAligned(offset, align_);
    for (int i = 0; i < iovcnt; ++i) {
      total += iov[i].iov_len;
      aligned = aligned && IsAligned(iov[i].iov_len, align_) &&
                IsAligned(reinterpret_cast<uintptr_t>(iov[i].iov_base), align_);
    }
    if (offset > capacity_ || total > capacity_ - offset) {
      return NoSpace(name_ + ": write past capacity");
    }
    if (total == 0) return Status::Ok();
    if (aligned) {
      WB_RETURN_IF_ERROR(PwritevAll(fd_, iov, iovcnt, offset, name_));
    } else {
      WB_RETURN_IF_ERROR(WriteBlocks(offset, iov, iovcnt, total));
    }
    // Workers write concurrently: the size only grows, to the furthest end written.
    uint64_t seen = size_.load(std::memory_order_relaxed);
    while (seen < offset + total &&
           !size_.compare_exchange_weak(seen, offset + total, std::memory_order_relaxed)) {
    }
    return Status::Ok();
  }

  Status Flush() override {
    if (::fdatasync(fd_) != 0) return ErrnoError(name_ + ": flush", errno);
    return Status::Ok();
  }

 private:
  // Direct I/O of an unaligned write: read the partial edge blocks, lay the data over them and
  // write whole blocks (capacity is a whole number of blocks, so they always fit).
  Status WriteBlocks(uint64_t offset, const struct iovec* iov, int iovcnt, uint64_t total) {
    const uint64_t lo = AlignDown(offset, align_);
    const uint64_t hi = AlignUp(offset + total, align_);
    uint8_t* buf = Bounce(hi - lo).data();
    auto load_block = [&](uint64_t at) -> Status {
      WB_ASSIGN_OR_RETURN(size_t got, PreadUpTo(fd_, buf + (at - lo), align_, at, name_));
      std::memset(buf + (at - lo) + got, 0, align_ - got);  // past the end of a growing file
      return Status::Ok();
    };
    if (offset != lo) WB_RETURN_IF_ERROR(load_block(lo));
    if (offset + total != hi && (hi - align_ != lo || offset == lo)) {
      WB_RETURN_IF_ERROR(load_block(hi - align_));
    }
    uint8_t* p = buf + (offset - lo);
    for (int i = 0; i < iovcnt; ++i) {
      if (iov[i].iov_len) std::memcpy(p, iov[i].iov_base, iov[i].iov_len);
      p += iov[i].iov_len;
    }
    struct iovec whole {
      buf, hi - lo
    };
    return PwritevAll(fd_, &whole, 1, lo, name_);
  }

  std::string name_;
  int fd_;
  uint64_t capacity_;
  std::atomic<uint64_t> size_;
  uint32_t align_;
};

// What a medium cannot be: anything but a regular file or a block device.
std::string NotAMedium(const std::string& path, mode_t mode) {
  const char* what = S_ISFIFO(mode)   ? "a FIFO"
                     : S_ISDIR(mode)  ? "a directory"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISSOCK(mode) ? "a socket"
                                      : "of another type";
  return path + " is neither a regular file nor a block device (it is " + what + ")";
}

}  // namespace

Result<DirectIo> ParseDirectIo(std::string_view text) {
  if (text == "auto") return DirectIo::kAuto;
  if (text == "on") return DirectIo::kOn;
  if (text == "off") return DirectIo::kOff;
  return UsageError("--direct-io takes auto, on or off, not '" + std::string(text) + "'");
}

Result<std::unique_ptr<Media>> OpenFileMedia(const std::string& path, FileMediaOptions options) {
  // Only a regular file or a block device is a medium. Anything else is refused before it is
  // opened (opening a FIFO waits for a writer, a device may act on open), and, in case the path
  // changed in between, opened without blocking and checked again.
  struct stat pre;
  const bool exists = ::stat(path.c_str(), &pre) == 0;
  if (exists && !S_ISREG(pre.st_mode) && !S_ISBLK(pre.st_mode)) {
    return InvalidArgument(NotAMedium(path, pre.st_mode));
  }
  int flags = O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  switch (options.mode) {
    case OpenMode::kReadOnly:
      flags |= O_RDONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case OpenMode::kCreate:
      flags |= O_RDWR | O_CREAT;
      break;
  }
  // A block device warmboot writes is opened exclusively: meanwhile the kernel refuses a mount,
  // another exclusive opener (mkfs, a second warmboot) and ndctl's disable of the namespace.
  if (options.mode != OpenMode::kReadOnly && exists && S_ISBLK(pre.st_mode)) {
    flags = (flags & ~O_CREAT) | O_EXCL;  // with O_CREAT, O_EXCL would mean "must not exist"
  }
  UniqueFd fd(::open(path.c_str(), flags, 0600));
  if (!fd.valid()) {
    if (errno == EBUSY && (flags & O_EXCL)) {
      return Status(Code::kBusy, "cannot open " + path +
                                     " exclusively: it is mounted or held open by another "
                                     "program (see 'fuser -v " +
                                     path + "')");
    }
    return ErrnoError("cannot open image " + path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat image " + path, errno);
  uint64_t size = 0, capacity = 0;
  uint32_t block = 4096;  // direct I/O granularity of a regular file: the page size is safe
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return ErrnoError("cannot read the size of block device " + path, errno);
    }
    int logical = 0;
    if (::ioctl(fd.get(), BLKSSZGET, &logical) == 0 && logical > 0) {
      block = static_cast<uint32_t>(logical);
    }
    capacity = size;
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
    capacity = size;
    if (size == 0 && options.mode != OpenMode::kReadOnly) {
      // A new file grows: its capacity is what its filesystem has free.
      struct statvfs vfs;
      capacity = ::fstatvfs(fd.get(), &vfs) == 0
                     ? static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize
                     : UINT64_MAX;
    }
  } else {
    return InvalidArgument(NotAMedium(path, st.st_mode));
  }
  if (int fl = ::fcntl(fd.get(), F_GETFL);
      fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return ErrnoError("cannot set up image " + path, errno);
  }
  if (options.capacity_limit != 0) capacity = std::min(capacity, options.capacity_limit);

  const bool want_direct = options.direct_io == DirectIo::kOn ||
                           (options.direct_io == DirectIo::kAuto && S_ISBLK(st.st_mode));
  uint32_t alignment = 1;
  if (want_direct) {
    const bool usable = block >= 512 && block <= kMaxWriteAlignment && IsPowerOfTwo(block);
    // O_DIRECT is turned on through fcntl on the open descriptor: no second open that could
    // reach a different file.
    int fl = ::fcntl(fd.get(), F_GETFL);
    if (usable && fl >= 0 && ::fcntl(fd.get(), F_SETFL, fl | O_DIRECT) == 0) {
      alignment = block;
      capacity = AlignDown(capacity, block);
    } else if (options.direct_io == DirectIo::kOn) {
      return Status(Code::kUnsupported, "direct I/O is not available on " + path +
                                            (usable ? ": " + std::string(std::strerror(errno))
                                                    : ": its block size " + std::to_string(block) +
                                                          " is not a power of two from 512 to " +
                                                          std::to_string(kMaxWriteAlignment)) +
                                            "; use --direct-io off");
    }
  }
  return std::unique_ptr<Media>(new FileMedia(path, fd.release(), capacity, size, alignment));
}

}  // namespace warmboot
