// Media over a file descriptor: /dev/pmem0 or a regular file standing in for it.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "warmboot/media.h"

namespace warmboot {
namespace {

class FileMedia : public Media {
 public:
  FileMedia(std::string name, int fd, uint64_t capacity, uint64_t size)
      : name_(std::move(name)), fd_(fd), capacity_(capacity), size_(size) {}
  ~FileMedia() override { ::close(fd_); }

  const std::string& name() const override { return name_; }
  uint64_t capacity() const override { return capacity_; }
  uint64_t size() const override { return size_; }

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size_ || out.size() > size_ - offset) {
      return Corruption(name_ + ": read of " + std::to_string(out.size()) + " bytes at offset " +
                        std::to_string(offset) + " is past the end (" + std::to_string(size_) +
                        " bytes): image truncated");
    }
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(name_ + ": read at offset " + std::to_string(offset + done), errno);
      }
      if (n == 0) return Corruption(name_ + ": unexpected end of medium");
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) override {
    uint64_t total = 0;
    for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
    if (offset > capacity_ || total > capacity_ - offset) {
      return NoSpace(name_ + ": write past capacity");
    }
    // pwritev may write partially; advance through the vector until all is written.
    std::vector<struct iovec> rest(iov, iov + iovcnt);
    size_t first = 0;
    uint64_t pos = offset;
    while (first < rest.size()) {
      int cnt = static_cast<int>(std::min<size_t>(rest.size() - first, IOV_MAX));
      ssize_t n = ::pwritev(fd_, rest.data() + first, cnt, static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(name_ + ": write at offset " + std::to_string(pos), errno);
      }
      pos += static_cast<uint64_t>(n);
      size_t left = static_cast<size_t>(n);
      while (first < rest.size() && left >= rest[first].iov_len) left -= rest[first++].iov_len;
      if (first < rest.size()) {
        rest[first].iov_base = static_cast<char*>(rest[first].iov_base) + left;
        rest[first].iov_len -= left;
      }
    }
    size_ = std::max(size_, pos);
    return Status::Ok();
  }

  Status Flush() override {
    if (::fdatasync(fd_) != 0) return ErrnoError(name_ + ": flush", errno);
    return Status::Ok();
  }

 private:
  std::string name_;
  int fd_;
  uint64_t capacity_;
  uint64_t size_;
};

}  // namespace

Result<std::unique_ptr<Media>> OpenFileMedia(const std::string& path, FileMediaOptions options) {
  int flags = O_CLOEXEC;
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
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) return ErrnoError("cannot open image " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat image " + path, err);
  }
  uint64_t size = 0, capacity = 0;
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read the size of block device " + path, err);
    }
    capacity = size;
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
    capacity = size;
    if (size == 0 && options.mode != OpenMode::kReadOnly) {
      // A new file grows: its capacity is what its filesystem has free.
      struct statvfs vfs;
      capacity = ::fstatvfs(fd, &vfs) == 0 ? static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize
                                           : UINT64_MAX;
    }
  } else {
    ::close(fd);
    return InvalidArgument(path + " is neither a regular file nor a block device");
  }
  if (options.capacity_limit != 0) capacity = std::min(capacity, options.capacity_limit);
  return std::unique_ptr<Media>(new FileMedia(path, fd, capacity, size));
}

}  // namespace warmboot
