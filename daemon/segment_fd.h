// The descriptors a segment is kept in (docs/api.md, "put"). warmbootd keeps every segment as a
// descriptor: one an application handed over (no byte copied) or a sealed memfd of its own
// holding the bytes it was sent, so its memory stays small whatever the state's size.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot::daemon {

struct SegmentFd {
  UniqueFd fd;
  uint64_t size = 0;
  bool sealed = false;  // a memfd no descriptor can change
  // The snapshot rule, for a tmpfs file (not sealed): what it was when handed over.
  int64_t mtime_ns = 0, ctime_ns = 0;
  // The group of the process that handed it over (SO_PEERCRED): the restored file's. Taken at
  // hand-over so preserve, at shutdown, asks no user database (NSS may wait on a network or a
  // service already stopped).
  gid_t gid = 0;
};

// Takes a descriptor received from a client (the caller's `fd` is consumed either way). Refused
// (kInvalidArgument, saying which rule): not readable or O_PATH; not a regular file (a pipe, a
// socket, a device, a directory); a memfd without F_SEAL_WRITE, F_SEAL_GROW and F_SEAL_SHRINK; a
// regular file not on tmpfs.
Result<SegmentFd> AcceptFd(UniqueFd fd);

// A sealed memfd named `name` holding `bytes`.
Result<SegmentFd> BytesSegment(std::string_view name, std::string_view bytes);

// A new read-only descriptor of the same file, with its own offset (through /proc/self/fd).
Result<UniqueFd> ReopenReadOnly(int fd);

// For a tmpfs file taken under the snapshot rule: Ok while its size, mtime and ctime are as when
// it was handed over, else kCorruption saying what changed.
Status CheckSnapshot(const SegmentFd& segment);

}  // namespace warmboot::daemon
