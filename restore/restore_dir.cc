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

// The value of attribute `name` on `fd`; nullopt when it has none (or it cannot be read).
std::optional<std::string> Xattr(int fd, const char* name) {
  char buf[512];
  const ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// A directory this user made, that no one else can write: anyone who can write the top of
// restore_dir could have made one of the name an earlier tree goes to, to catch it.
bool OwnDirectory(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
         (st.st_mode & 022) == 0;
}

UniqueFd OpenDir(int root, const std::string& name) {
  return UniqueFd(::openat(root, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// An earlier tree set aside by a restore: its own directory, tagged when it was made.
bool IsEarlierTree(int root, const std::string& name) {
  if (name.rfind(kEarlierTreePrefix, 0) != 0) return false;
  UniqueFd fd = OpenDir(root, name);
  return fd.valid() && OwnDirectory(fd.get()) && Xattr(fd.get(), kEarlierTreeXattr).has_value();
}

// The entries of the tree in `root`: what a restore would merge into. lost+found (the root of
// a filesystem) and earlier trees already set aside are not part of it.
Result<std::vector<std::string>> TreeEntries(int root, const std::string& dir) {
  int fd = ::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot read " + dir, errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("cannot read " + dir, err);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;  // readdir's end and its error differ only by errno; the checks below set it
    struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "lost+found" || IsEarlierTree(root, name)) {
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

bool ValidAsideName(const std::string& name) {
  return name.size() > std::strlen(kEarlierTreePrefix) && name.rfind(kEarlierTreePrefix, 0) == 0 &&
         name.find('/') == std::string::npos;
}

// Where a run before this one began moving the tree with mark `mark` ("MARK/NAME" on
// restore_dir); "" when no run did, or it was another tree's.
std::string MovingPlace(int root, const std::string& mark) {
  const std::optional<std::string> moving = Xattr(root, kRestoreDirMovingXattr);
  const size_t slash = moving ? moving->find('/') : std::string::npos;
  if (slash == std::string::npos || moving->substr(0, slash) != mark) return "";
  const std::string was = moving->substr(slash + 1);
  return ValidAsideName(was) ? was : "";
}

// The directory to move the tree with mark `mark` into, opened: the one a run before this one
// began moving the same tree into (`moving`, "MARK/NAME"), when it is still warmboot's own;
// else `base`, base.2, base.3, ... made fresh. Each name is noted on restore_dir before it is
// made, so that a run stopped anywhere is finished into the same place.
Result<UniqueFd> AsideDirectory(int root, const std::string& dir, const std::string& mark,
                                const std::string& base, std::string* name) {
  if (const std::string was = MovingPlace(root, mark); !was.empty()) {
    if (UniqueFd fd = OpenDir(root, was); fd.valid() && OwnDirectory(fd.get())) {
      // Tagged now if the run before stopped between making it and tagging it.
      (void)::fsetxattr(fd.get(), kEarlierTreeXattr, mark.data(), mark.size(), 0);
      *name = was;
      return fd;
    }
  }
  for (int i = 1; i <= 100; ++i) {
    const std::string n = i == 1 ? base : base + "." + std::to_string(i);
    const std::string note = mark + "/" + n;
    (void)::fsetxattr(root, kRestoreDirMovingXattr, note.data(), note.size(), 0);
    if (::mkdirat(root, n.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      return ErrnoError("cannot make " + dir + "/" + n + " to move the earlier tree in " + dir +
                            " into; nothing was restored",
                        errno);
    }
    UniqueFd fd = OpenDir(root, n);
    if (!fd.valid() || !OwnDirectory(fd.get())) continue;  // replaced at once: not ours
    (void)::fsetxattr(fd.get(), kEarlierTreeXattr, mark.data(), mark.size(), 0);
    *name = n;
    return fd;
  }
  return Status(Code::kIoError, "no free name for the earlier tree in " + dir + " (" + base +
                                    ", .2 to .100 are taken); nothing was restored");
}

// renameat2(RENAME_NOREPLACE), or where the kernel or filesystem has no such flag, a rename
// after checking nothing is in the way (restore holds the machine's lock).
int RenameNoReplace(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  if (::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  struct stat st;
  if (::fstatat(to_dir, to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::renameat(from_dir, from.c_str(), to_dir, to.c_str());
}

// Where the last earlier tree was set aside, if it is still there as warmboot's: what a run
// that finds its own tree (an interrupted one finished the move) reports.
std::string LastAside(int root, const std::string& dir) {
  auto name = Xattr(root, kRestoreDirAsideXattr);
  return name && ValidAsideName(*name) && IsEarlierTree(root, *name) ? dir + "/" + *name : "";
}

}  // namespace

Result<std::string> ClaimRestoreDir(const std::string& dir_in, const std::string& image_uuid,
                                    std::vector<std::string>* notes) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // "link/" would follow a link
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError("cannot open " + dir, errno);
  const std::optional<std::string> read_mark = ReadRestoreMark(root.get());
  if (!read_mark) {
    return ErrnoError(
        "cannot read the mark of " + dir + " (" + kRestoreMarkXattr + "); nothing was restored",
        errno);
  }
  const std::string mark = *read_mark;
  if (mark == image_uuid) {
    // Its own tree: an interrupted run of this image is finished where it is.
    (void)::fremovexattr(root.get(), kRestoreDirMovingXattr);
    return LastAside(root.get(), dir);
  }
  std::string moved_to, name;
  size_t moved = 0;
  // Until nothing is left: an application still writing may make an entry meanwhile.
  for (int pass = 0; pass < 8; ++pass) {
    WB_ASSIGN_OR_RETURN(std::vector<std::string> names, TreeEntries(root.get(), dir));
    if (names.empty()) break;
    if (pass == 7) {
      return Status(Code::kBusy, "entries keep appearing in " + dir + " (" +
                                     Printable(names.front()) +
                                     ") while its earlier tree is moved aside: stop what writes "
                                     "there and run restore again; nothing was restored");
    }
    WB_ASSIGN_OR_RETURN(
        UniqueFd aside,
        AsideDirectory(root.get(), dir, mark,
                       kEarlierTreePrefix + (mark.empty() ? "unmarked-" + UtcStamp() : mark),
                       &name));
    moved_to = dir + "/" + name;
    for (const std::string& n : names) {
      if (n == name) continue;  // the place itself, not yet tagged when listed
      if (RenameNoReplace(root.get(), n, aside.get(), n) != 0) {
        return ErrnoError("cannot move " + Printable(dir + "/" + n) + " into " + moved_to +
                              " (the earlier tree in " + dir +
                              " is set aside, not merged into); nothing was restored",
                          errno);
      }
      ++moved;
    }
  }
  if (moved_to.empty()) {
    // Nothing left to move; a run before this one may have moved it all, then stopped.
    if (const std::string was = MovingPlace(root.get(), mark);
        !was.empty() && IsEarlierTree(root.get(), was)) {
      name = was;
      moved_to = dir + "/" + was;
    }
  } else {
    notes->push_back(
        dir + " held " +
        (mark.empty() ? std::string("a tree of no image warmboot knows")
                      : "image " + mark + "'s tree, from an earlier restore") +
        ": it was moved to " + moved_to + " (" + std::to_string(moved) + " entr" +
        (moved == 1 ? "y" : "ies") +
        " this run); nothing of it is served as this image's. Delete it once nothing needs it");
  }
  if (::fsetxattr(root.get(), kRestoreMarkXattr, image_uuid.data(), image_uuid.size(), 0) != 0) {
    notes->push_back("could not mark " + dir + " as image " + image_uuid + "'s (" +
                     kRestoreMarkXattr + ": " + std::strerror(errno) +
                     "; it takes a filesystem with extended attributes, and root): a later "
                     "restore will set this tree aside as a stranger's");
  }
  if (!name.empty()) {
    (void)::fsetxattr(root.get(), kRestoreDirAsideXattr, name.data(), name.size(), 0);
  } else {
    (void)::fremovexattr(root.get(), kRestoreDirAsideXattr);
  }
  (void)::fremovexattr(root.get(), kRestoreDirMovingXattr);
  return moved_to;
}

}  // namespace warmboot
