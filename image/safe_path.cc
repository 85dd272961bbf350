#include "image/safe_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/format.h"

namespace warmboot {

Status ValidateRelativePath(std::string_view path) {
  if (path.empty()) return Corruption("empty path");
  if (path.size() > format::kMaxPathLength) return Corruption("path longer than 4095 bytes");
  if (path.find('\0') != std::string_view::npos) return Corruption("path contains a NUL byte");
  if (path.front() == '/') return Corruption("absolute path");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty()) return Corruption("empty path component");
    if (comp == "." || comp == "..") return Corruption("'.' or '..' path component");
    if (comp.size() > 255) return Corruption("path component longer than 255 bytes");
    start = end + 1;
  }
  return Status::Ok();
}

std::pair<std::string_view, std::string_view> SplitParent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

Result<UniqueFd> OpenDirBeneath(int rootfd, std::string_view rel, bool create_missing) {
  UniqueFd cur(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return ErrnoError("dup", errno);
  size_t start = 0;
  while (start < rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string comp(rel.substr(start, end - start));
    if (comp.empty() || comp == "." || comp == "..") {
      return Corruption("refusing path component '" + comp + "' in " + std::string(rel));
    }
    int fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create_missing) {
      if (::mkdirat(cur.get(), comp.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoError("cannot create directory " + std::string(rel.substr(0, end)), errno);
      }
      fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        return Corruption(std::string(rel.substr(0, end)) +
                          " is not a directory (a symlink or file is in the way)");
      }
      return ErrnoError("cannot open directory " + std::string(rel.substr(0, end)), err);
    }
    cur = UniqueFd(fd);
    start = end + 1;
  }
  return cur;
}

}  // namespace warmboot
