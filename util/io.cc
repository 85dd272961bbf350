#include "util/io.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace warmboot {
namespace {

// One loop for all four: `step` transfers at most `left` bytes at `done` and returns what
// read(2)/write(2) would.
template <typename Step>
int Loop(size_t len, size_t* got, bool writing, Step step) {
  size_t done = 0;
  int err = 0;
  while (done < len) {
    ssize_t n = step(done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) {
      if (writing) err = EIO;  // a write that makes no progress would loop forever
      break;                   // a read: the end of the file
    }
    done += static_cast<size_t>(n);
  }
  if (got != nullptr) *got = done;
  return err;
}

}  // namespace

int WriteAll(int fd, const void* data, size_t len) {
  auto p = static_cast<const char*>(data);
  return Loop(len, nullptr, true, [&](size_t at, size_t n) { return ::write(fd, p + at, n); });
}

int PwriteAll(int fd, const void* data, size_t len, uint64_t offset) {
  auto p = static_cast<const char*>(data);
  return Loop(len, nullptr, true, [&](size_t at, size_t n) {
    return ::pwrite(fd, p + at, n, static_cast<off_t>(offset + at));
  });
}

int PwritevAll(int fd, const struct iovec* iov, int iovcnt, uint64_t offset) {
  std::vector<struct iovec> rest(iov, iov + iovcnt);
  size_t first = 0;
  uint64_t pos = offset;
  while (true) {
    while (first < rest.size() && rest[first].iov_len == 0) ++first;
    if (first == rest.size()) break;
    const int n = static_cast<int>(std::min<size_t>(rest.size() - first, IOV_MAX));
    ssize_t w = ::pwritev(fd, rest.data() + first, n, static_cast<off_t>(pos));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    pos += static_cast<uint64_t>(w);
    size_t left = static_cast<size_t>(w);
    while (first < rest.size() && left >= rest[first].iov_len) left -= rest[first++].iov_len;
    if (first < rest.size()) {
      rest[first].iov_base = static_cast<char*>(rest[first].iov_base) + left;
      rest[first].iov_len -= left;
    }
  }
  return 0;
}

int ReadFull(int fd, void* out, size_t len, size_t* got) {
  auto p = static_cast<char*>(out);
  return Loop(len, got, false, [&](size_t at, size_t n) { return ::read(fd, p + at, n); });
}

int PreadFull(int fd, void* out, size_t len, uint64_t offset, size_t* got) {
  auto p = static_cast<char*>(out);
  return Loop(len, got, false, [&](size_t at, size_t n) {
    return ::pread(fd, p + at, n, static_cast<off_t>(offset + at));
  });
}

}  // namespace warmboot
