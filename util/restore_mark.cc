#include "util/restore_mark.h"

#include <fcntl.h>
#include <sys/xattr.h>

#include "util/unique_fd.h"
#include "util/uuid.h"

namespace warmboot {

std::string ReadRestoreMark(int dirfd) {
  char buf[64];
  const ssize_t n = ::fgetxattr(dirfd, kRestoreMarkXattr, buf, sizeof buf);
  Uuid u;
  if (n <= 0 || !ParseUuid(std::string(buf, static_cast<size_t>(n)), &u)) return "";
  return UuidToString(u);
}

std::string ReadRestoreMark(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return fd.valid() ? ReadRestoreMark(fd.get()) : std::string();
}

}  // namespace warmboot
