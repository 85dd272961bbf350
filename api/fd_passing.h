// Bytes with descriptors over a Unix stream socket (SCM_RIGHTS), as the checkpoint API's frames
// carry them (docs/api.md section 1): a descriptor rides on the first byte of its frame.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <vector>

namespace warmboot::api {

// One sendmsg of `len` bytes with `fd` attached (-1: none). Returns what sendmsg returns (bytes
// sent, or -1 with errno). MSG_NOSIGNAL always; `flags` adds e.g. MSG_DONTWAIT.
ssize_t SendWithFd(int sock, const void* data, size_t len, int fd, int flags);

// One recvmsg into `buf`; descriptors that came along are appended to *fds (close-on-exec), at
// most `max_fds` at a time. *truncated is set when the kernel had more descriptors than fitted
// (they were closed by it). Returns what recvmsg returns.
ssize_t ReceiveWithFds(int sock, void* buf, size_t len, int flags, size_t max_fds,
                       std::vector<int>* fds, bool* truncated);

}  // namespace warmboot::api
