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

namespace warmboot {
namespace {

// The value of attribute `name` on `fd`, "" when there is none.
std::string Xattr(int fd, const char* name) {
  char buf[256];
  const ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// A directory of warmboot's own: made by a run as this user, writable by no one else (anyone
// who can write the top of restore_dir could have made one of that name to catch a tree).
bool OwnDirectory(const struct stat& st) {
  return S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

bool IsEarlierTree(int dirfd, const std::string& name) {
  if (name.rfind(kEarlierTreePrefix, 0) != 0) return false;
  struct stat st;
  return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && OwnDirectory(st);
}

// The entries of the tree in `dirfd`: what a restore would merge into. lost+found (the root of
// a filesystem) and earlier trees already set aside are not part of it.
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
    if (name == "." || name == ".." || name == "lost+found" || IsEarlierTree(dirfd, name)) {
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

// The directory to move the tree into, opened: `resume` (a run before this one began moving
// into it) when it is still warmboot's own, else `base` or base.2, base.3, ... made fresh.
Result<UniqueFd> AsideDirectory(int root, const std::string& dir, const std::string& base,
                                const std::string& resume, std::string* name) {
  auto open_own = [&](const std::string& n) {
    UniqueFd fd(::openat(root, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (fd.valid() && (::fstat(fd.get(), &st) != 0 || !OwnDirectory(st))) fd = UniqueFd();
    return fd;
  };
  if (!resume.empty() && resume.rfind(kEarlierTreePrefix, 0) == 0 &&
      resume.find('/') == std::string::npos) {
    if (UniqueFd fd = open_own(resume); fd.valid()) {
      *name = resume;
      return fd;
    }
  }
  for (int i = 1; i <= 100; ++i) {
    const std::string n = i == 1 ? base : base + "." + std::to_string(i);
    if (::mkdirat(root, n.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      return ErrnoError("cannot make " + dir + "/" + n + " to move the earlier tree in " + dir +
                            " into; nothing was restored",
                        errno);
    }
    if (UniqueFd fd = open_own(n); fd.valid()) {
      *name = n;
      return fd;
    }
  }
  return Status(Code::kIoError, "no free name for the earlier tree in " + dir + " (" + base +
                                    ", .2 to .100 are taken); nothing was restored");
}

// renameat2(RENAME_NOREPLACE), or where the filesystem has no such flag, a rename after
// checking nothing is in the way (restore holds the machine's lock: nobody else moves these).
int RenameNoReplace(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  if (::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL) return -1;
  struct stat st;
  if (::fstatat(to_dir, to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::renameat(from_dir, from.c_str(), to_dir, to.c_str());
}

}  // namespace

Result<std::string> ClaimRestoreDir(const std::string& dir_in, const std::string& image_uuid,
                                    std::vector<std::string>* notes) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // "link/" would follow a link
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError("cannot open " + dir, errno);
  const std::string mark = ReadRestoreMark(root.get());
  if (mark == image_uuid) return std::string();  // its own tree: an interrupted run resumed
  // A run before this one that was stopped while moving says where it moved to.
  const std::string resume = Xattr(root.get(), kRestoreDirMovingXattr);
  WB_ASSIGN_OR_RETURN(std::vector<std::string> names, TreeEntries(root.get(), dir));
  std::string moved_to;
  if (!names.empty()) {
    std::string name;
    WB_ASSIGN_OR_RETURN(
        UniqueFd aside,
        AsideDirectory(root.get(), dir,
                       kEarlierTreePrefix + (mark.empty() ? "unmarked-" + UtcStamp() : mark),
                       resume, &name));
    moved_to = dir + "/" + name;
    if (name != resume) {
      (void)::fsetxattr(root.get(), kRestoreDirMovingXattr, name.data(), name.size(), 0);
    }
    for (const std::string& n : names) {
      if (RenameNoReplace(root.get(), n, aside.get(), n) != 0) {
        return ErrnoError("cannot move " + Printable(dir + "/" + n) + " into " + moved_to +
                              " (the earlier tree in " + dir +
                              " is set aside, not merged into); nothing was restored",
                          errno);
      }
    }
    notes->push_back(dir + " held " +
                     (mark.empty() ? std::string("a tree of no image warmboot knows")
                                   : "image " + mark + "'s tree, from an earlier restore") +
                     ": it was moved to " + moved_to + " (" + std::to_string(names.size()) +
                     " entr" + (names.size() == 1 ? "y" : "ies") +
                     "); nothing of it is served as this image's. Delete it once nothing needs it");
  } else if (!resume.empty() && IsEarlierTree(root.get(), resume)) {
    moved_to = dir + "/" + resume;  // the run before moved everything, then stopped
  }
  if (::fsetxattr(root.get(), kRestoreDirImageXattr, image_uuid.data(), image_uuid.size(), 0) !=
      0) {
    notes->push_back("could not mark " + dir + " as image " + image_uuid + "'s (" +
                     kRestoreDirImageXattr + ": " + std::strerror(errno) +
                     "; it takes a filesystem with extended attributes, and root): a later "
                     "restore will set this tree aside as a stranger's");
  }
  (void)::fremovexattr(root.get(), kRestoreDirMovingXattr);
  return moved_to;
}

}  // namespace warmboot
