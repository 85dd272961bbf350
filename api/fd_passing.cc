#include "api/fd_passing.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace warmboot::api {

namespace {
constexpr size_t kMaxControlFds = 16;
}  // namespace

ssize_t SendWithFd(int sock, const void* data, size_t len, int fd, int flags) {
  struct iovec iov {
    const_cast<void*>(data), len
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return ::sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
}

ssize_t ReceiveWithFds(int sock, void* buf, size_t len, int flags, size_t max_fds,
                       std::vector<int>* fds, bool* truncated) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxControlFds)];
  struct iovec iov {
    buf, len
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * std::min(max_fds, kMaxControlFds));
  const ssize_t n = ::recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  *truncated = n >= 0 && (msg.msg_flags & MSG_CTRUNC) != 0;
  if (n < 0) return n;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds->push_back(fd);
    }
  }
  return n;
}

}  // namespace warmboot::api
