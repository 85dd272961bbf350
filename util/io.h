// Whole-buffer reads and writes that retry EINTR and short transfers. Each returns 0 or an errno
// value (EIO when the kernel made no progress without saying why), so every caller names what
// failed in its own words.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace warmboot {

int WriteAll(int fd, const void* data, size_t len);
int PwriteAll(int fd, const void* data, size_t len, uint64_t offset);
// The buffers one after the other from `offset`, through short writes; any number of them.
int PwritevAll(int fd, const struct iovec* iov, int iovcnt, uint64_t offset);
// Read until `len` bytes or the end of the file; *got says how many arrived (also on error).
int ReadFull(int fd, void* out, size_t len, size_t* got);
int PreadFull(int fd, void* out, size_t len, uint64_t offset, size_t* got);

}  // namespace warmboot
