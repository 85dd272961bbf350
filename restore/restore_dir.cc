#include "restore/restore_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/printable.h"
#include "util/unique_fd.h"
#include "util/uuid.h"

namespace warmboot {
namespace {

// The uuid the mark names, "" when there is none (or it is not a uuid).
std::string MarkOf(int dirfd) {
  char buf[64];
  const ssize_t n = ::fgetxattr(dirfd, kRestoreDirImageXattr, buf, sizeof buf);
  if (n <= 0) return "";
  Uuid u;
  if (!ParseUuid(std::string(buf, static_cast<size_t>(n)), &u)) return "";
  return UuidToString(u);
}

// The entries of the tree in `dirfd`: what a restore would merge into.
Result<std::vector<std::string>> TreeEntries(int dirfd, const std::string& dir) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot read " + dir, errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("cannot read " + dir, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "lost+found" ||
        name.rfind(kEarlierTreePrefix, 0) == 0) {
      continue;
    }
    names.push_back(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoError("cannot read " + dir, err);
  return names;
}

std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::string> ClaimRestoreDir(const std::string& dir, const std::string& image_uuid,
                                    std::vector<std::string>* notes) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError("cannot open " + dir, errno);
  const std::string mark = MarkOf(root.get());
  std::string moved_to;
  if (mark != image_uuid) {
    WB_ASSIGN_OR_RETURN(std::vector<std::string> names, TreeEntries(root.get(), dir));
    if (!names.empty()) {
      const std::string name =
          kEarlierTreePrefix + (mark.empty() ? "unmarked-" + UtcStamp() : mark);
      moved_to = dir + "/" + name;
      if (::mkdirat(root.get(), name.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoError("cannot make " + moved_to + " to move the earlier tree in " + dir +
                              " into; nothing was restored",
                          errno);
      }
      UniqueFd aside(
          ::openat(root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!aside.valid()) return ErrnoError("cannot open " + moved_to, errno);
      for (const std::string& n : names) {
        // Never over something already there (a run before this one moved part of the tree).
        if (::renameat2(root.get(), n.c_str(), aside.get(), n.c_str(), RENAME_NOREPLACE) != 0) {
          return ErrnoError("cannot move " + Printable(dir + "/" + n) + " into " + moved_to +
                                " (the earlier tree in " + dir +
                                " is set aside, not merged into); nothing was restored",
                            errno);
        }
      }
      notes->push_back(
          dir + " held " +
          (mark.empty() ? std::string("a tree of no image warmboot knows")
                        : "image " + mark + "'s tree, from an earlier restore") +
          ": it was moved, whole, to " + moved_to + " (" + std::to_string(names.size()) + " entr" +
          (names.size() == 1 ? "y" : "ies") +
          "); nothing of it is served as this image's. Delete it once nothing needs it");
    }
  }
  if (mark != image_uuid && ::fsetxattr(root.get(), kRestoreDirImageXattr, image_uuid.data(),
                                        image_uuid.size(), 0) != 0) {
    notes->push_back("could not mark " + dir + " as image " + image_uuid + "'s (" +
                     kRestoreDirImageXattr + ": " + std::strerror(errno) +
                     "): a later restore will set this tree aside as a stranger's");
  }
  return moved_to;
}

}  // namespace warmboot
