#include "image/state_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/unique_fd.h"

namespace warmboot {
namespace {

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Marks the chunks that lie wholly inside holes, using SEEK_DATA/SEEK_HOLE.
Status FindHoleChunks(int dirfd, const std::string& name, const std::string& path, uint64_t size,
                      uint32_t chunk_size, std::vector<bool>* holes) {
  // O_NONBLOCK: a file swapped for a FIFO since it was listed must not hold the plan.
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open " + path, errno);
  uint64_t chunks = (size + chunk_size - 1) / chunk_size;
  holes->assign(chunks, true);
  off_t pos = 0;
  while (static_cast<uint64_t>(pos) < size) {
    off_t data = ::lseek(fd.get(), pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data after pos
      holes->clear();             // filesystem cannot tell: treat as dense
      return Status::Ok();
    }
    off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
    if (hole < 0) hole = static_cast<off_t>(size);
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    for (uint64_t c = static_cast<uint64_t>(data) / chunk_size; c * chunk_size < end; ++c) {
      (*holes)[c] = false;
    }
    pos = hole;
  }
  if (std::find(holes->begin(), holes->end(), true) == holes->end()) holes->clear();
  return Status::Ok();
}

Status Walk(int dirfd, const std::string& prefix, uint32_t chunk_size,
            std::vector<StateEntry>* out) {
  int dup = ::dup(dirfd);
  if (dup < 0) return ErrnoError("cannot read directory " + prefix, errno);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    int err = errno;
    ::close(dup);
    return ErrnoError("cannot read directory " + prefix, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(dir)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoError("cannot read directory " + prefix, err);
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (path.size() > format::kMaxPathLength) {
      return InvalidArgument("path too long for an image (" + std::to_string(path.size()) +
                             " bytes, limit " + std::to_string(format::kMaxPathLength) +
                             "): " + path);
    }
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoError("cannot stat " + path, errno);
    }
    StateEntry e;
    e.path = path;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_ns = Nanos(st.st_mtim);
    e.ctime_ns = Nanos(st.st_ctim);
    if (S_ISREG(st.st_mode)) {
      e.type = format::EntryType::kFile;
      e.size = static_cast<uint64_t>(st.st_size);
      // Only files using fewer blocks than their size can have holes worth finding.
      if (e.size >= chunk_size && static_cast<uint64_t>(st.st_blocks) * 512 < e.size) {
        WB_RETURN_IF_ERROR(FindHoleChunks(dirfd, name, path, e.size, chunk_size, &e.hole_chunks));
      }
      out->push_back(std::move(e));
    } else if (S_ISDIR(st.st_mode)) {
      e.type = format::EntryType::kDirectory;
      out->push_back(std::move(e));
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) return ErrnoError("cannot open directory " + path, errno);
      WB_RETURN_IF_ERROR(Walk(sub.get(), path, chunk_size, out));
    } else if (S_ISLNK(st.st_mode)) {
      e.type = format::EntryType::kSymlink;
      std::string target(format::kMaxSymlinkTarget + 1, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoError("cannot read symlink " + path, errno);
      if (static_cast<size_t>(n) > format::kMaxSymlinkTarget || n == 0) {
        return InvalidArgument("symlink target too long for an image: " + path);
      }
      target.resize(static_cast<size_t>(n));
      e.size = target.size();
      e.target = std::move(target);
      out->push_back(std::move(e));
    } else {
      const char* kind = S_ISSOCK(st.st_mode)   ? "a socket"
                         : S_ISFIFO(st.st_mode) ? "a FIFO"
                         : S_ISCHR(st.st_mode)  ? "a character device"
                         : S_ISBLK(st.st_mode)  ? "a block device"
                                                : "of an unknown type";
      return Unsupported(path + " is " + kind +
                         "; an image carries only regular files, directories and symlinks "
                         "(remove it from the state directory)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<StateEntry>> ScanStateTree(const std::string& root, uint32_t chunk_size) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOTDIR) return InvalidArgument("state directory " + root + " is not a directory");
    return ErrnoError("cannot open state directory " + root, err);
  }
  std::vector<StateEntry> entries;
  WB_RETURN_IF_ERROR(Walk(fd.get(), "", chunk_size, &entries));
  return entries;
}

}  // namespace warmboot
