#include "util/restore_mark.h"

#include <fcntl.h>
#include <sys/xattr.h>

#include <cerrno>

#include "util/unique_fd.h"
#include "util/uuid.h"

namespace warmboot {

std::optional<std::string> ReadRestoreMark(int dirfd) {
  char buf[64];
  const ssize_t n = ::fgetxattr(dirfd, kRestoreMarkXattr, buf, sizeof buf);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP || errno == ERANGE) return std::string();
    return std::nullopt;
  }
  Uuid u;
  if (!ParseUuid(std::string(buf, static_cast<size_t>(n)), &u)) return std::string();
  return UuidToString(u);
}

std::optional<std::string> ReadRestoreMark(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::string();
    return std::nullopt;
  }
  return ReadRestoreMark(fd.get());
}

}  // namespace warmboot
