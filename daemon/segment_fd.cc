#include "daemon/segment_fd.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "util/io.h"

namespace warmboot::daemon {
namespace {

constexpr int kFrozen = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;

int64_t Nanos(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

// A memfd's /proc/self/fd link reads "/memfd:NAME (deleted)".
bool IsMemfd(int fd) {
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  return n >= 7 && std::string_view(link, static_cast<size_t>(n)).starts_with("/memfd:");
}

}  // namespace

Result<SegmentFd> AcceptFd(UniqueFd fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) return ErrnoError("cannot read the descriptor's flags", errno);
  if (flags & O_PATH)
    return InvalidArgument("the descriptor was opened with O_PATH: it cannot be read");
  if ((flags & O_ACCMODE) == O_WRONLY) return InvalidArgument("the descriptor is write-only");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat the descriptor", errno);
  if (!S_ISREG(st.st_mode)) {
    const char* what = S_ISFIFO(st.st_mode)                         ? "a pipe"
                       : S_ISSOCK(st.st_mode)                       ? "a socket"
                       : S_ISDIR(st.st_mode)                        ? "a directory"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                    : "not a regular file";
    return InvalidArgument(std::string("the descriptor is ") + what +
                           "; only memfds and regular files on tmpfs are taken");
  }
  SegmentFd s;
  s.size = static_cast<uint64_t>(st.st_size);
  if (IsMemfd(fd.get())) {
    const int seals = ::fcntl(fd.get(), F_GET_SEALS);
    if (seals < 0 || (seals & kFrozen) != kFrozen) {
      return InvalidArgument(
          "the memfd is not sealed: add F_SEAL_WRITE, F_SEAL_GROW and F_SEAL_SHRINK "
          "(fcntl F_ADD_SEALS; create it with MFD_ALLOW_SEALING) so its content cannot change "
          "after the hand-over");
    }
    s.sealed = true;
  } else {
    struct statfs fs;
    if (::fstatfs(fd.get(), &fs) != 0) return ErrnoError("cannot statfs the descriptor", errno);
    if (fs.f_type != TMPFS_MAGIC) {
      return InvalidArgument(
          "the file is not on tmpfs: hand over a sealed memfd, or a file on tmpfs");
    }
    s.mtime_ns = Nanos(st.st_mtim);
    s.ctime_ns = Nanos(st.st_ctim);
  }
  s.fd = std::move(fd);
  return s;
}

Result<SegmentFd> BytesSegment(std::string_view name, std::string_view bytes) {
  std::string label = "warmboot:" + std::string(name.substr(0, 200));
  UniqueFd fd(::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoError("cannot create a memfd", errno);
  if (int err = WriteAll(fd.get(), bytes.data(), bytes.size()); err != 0) {
    return ErrnoError("cannot write a memfd", err);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, kFrozen | F_SEAL_SEAL) != 0) {
    return ErrnoError("cannot seal a memfd", errno);
  }
  SegmentFd s;
  s.fd = std::move(fd);
  s.size = bytes.size();
  s.sealed = true;
  return s;
}

Result<UniqueFd> ReopenReadOnly(int fd) {
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  UniqueFd out(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!out.valid()) return ErrnoError("cannot reopen a segment read-only", errno);
  return out;
}

Status CheckSnapshot(const SegmentFd& s) {
  if (s.sealed) return Status::Ok();
  struct stat st;
  if (::fstat(s.fd.get(), &st) != 0) return ErrnoError("cannot stat a segment", errno);
  if (static_cast<uint64_t>(st.st_size) != s.size) {
    return Status(Code::kCorruption, "its size changed from " + std::to_string(s.size) + " to " +
                                         std::to_string(st.st_size) + " bytes after the hand-over");
  }
  if (Nanos(st.st_mtim) != s.mtime_ns || Nanos(st.st_ctim) != s.ctime_ns) {
    return Status(Code::kCorruption, "it was written after the hand-over");
  }
  return Status::Ok();
}

}  // namespace warmboot::daemon
