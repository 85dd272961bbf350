#include "fuzz/write_guard.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace warmboot::fuzz {
namespace {

std::atomic<bool> g_armed{false};
std::atomic<unsigned long> g_checks{0};
std::string g_root;

[[noreturn]] void Violation(const char* call, const std::string& what, const std::string& why) {
  std::fprintf(stderr, "write guard: %s on %s: %s (destination %s)\n", call, what.c_str(),
               why.c_str(), g_root.c_str());
  std::abort();
}

bool Beneath(std::string_view p) {
  return p == g_root ||
         (p.size() > g_root.size() && p.starts_with(g_root) && p[g_root.size()] == '/');
}

// The checks run on every write-type call the library makes, and build their paths in scratch
// strings that keep their capacity (one set per thread): a path string built and freed per call
// cost more, under ASan, than the call it checked.
struct Scratch {
  std::string dir, entry;
};
Scratch& Buffers() {
  thread_local Scratch s;
  return s;
}

// /proc/self/fd, opened by ArmWriteGuard for the process that arms the guard (a forked child
// arms it again and gets its own): a readlinkat beneath it costs half a readlink of the whole
// "/proc/self/fd/N".
int g_proc_fd = -1;
pid_t g_proc_fd_pid = -1;

// The path of what `fd` refers to (empty when unknown), without the " (deleted)" of an
// unlinked file, into `out`.
void FdPath(int fd, std::string& out) {
  char link[32], buf[PATH_MAX + 1];
  std::snprintf(link, sizeof link, "%d", fd);
  ssize_t n = ::readlinkat(g_proc_fd, link, buf, PATH_MAX);
  out.assign(buf, n < 0 ? 0 : static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (out.size() > kDeleted.size() && out.ends_with(kDeleted)) {
    out.resize(out.size() - kDeleted.size());
  }
}

void DirPath(int dirfd, std::string& out) {
  if (dirfd != AT_FDCWD) return FdPath(dirfd, out);
  char buf[PATH_MAX + 1];
  out.assign(::getcwd(buf, sizeof buf) ? buf : "");
}

// The entry `name` in directory `dirfd` (or a path, for AT_FDCWD) must lie beneath the root.
// Names are single components, as the library walks paths one at a time; an absolute or
// multi-component path has its parent resolved (symlinks followed, as the kernel would).
void CheckEntry(const char* call, int dirfd, const char* name) {
  if (!g_armed.load(std::memory_order_relaxed)) return;
  g_checks.fetch_add(1, std::memory_order_relaxed);
  std::string_view n = name ? name : "";
  Scratch& b = Buffers();
  std::string& entry = b.entry;
  if (n.find('/') == std::string_view::npos) {
    if (n.empty() || n == "." || n == "..") {
      Violation(call, "'" + std::string(n) + "'", "not an entry name");
    }
    DirPath(dirfd, entry);
    entry += '/';
    entry += n;
  } else {
    std::string& full = b.dir;
    if (n[0] == '/') {
      full.assign(n);
    } else {
      DirPath(dirfd, full);
      full += '/';
      full += n;
    }
    while (full.size() > 1 && full.back() == '/') full.pop_back();
    size_t slash = full.rfind('/');
    std::string_view base = std::string_view(full).substr(slash + 1);
    if (base == "." || base == "..") Violation(call, full, "not an entry name");
    char resolved[PATH_MAX + 1] = "/";
    if (slash != 0) {
      full[slash] = '\0';  // the parent, as a C string; `base` follows it
      if (::realpath(full.c_str(), resolved) == nullptr) return;  // the call itself will fail
    }
    entry.assign(resolved);
    entry += '/';
    entry += base;
  }
  if (!Beneath(entry)) Violation(call, entry, "outside the destination");
}

// A descriptor the library writes through, or just opened, must refer to something beneath the
// root when it is a file or directory (pipes and terminals are not the file system's).
void CheckFd(const char* call, int fd) {
  if (!g_armed.load(std::memory_order_relaxed) || fd < 0) return;
  g_checks.fetch_add(1, std::memory_order_relaxed);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return;
  std::string& p = Buffers().entry;
  FdPath(fd, p);
  if (!Beneath(p)) Violation(call, p, "outside the destination");
}

// A call that would follow a symlink at `name` (no AT_SYMLINK_NOFOLLOW).
void CheckNoFollow(const char* call, int dirfd, const char* name, int flags) {
  if (!g_armed.load(std::memory_order_relaxed) || (flags & AT_SYMLINK_NOFOLLOW)) return;
  struct stat st;
  if (name && *name && ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    std::string dir;
    DirPath(dirfd, dir);
    Violation(call, dir + "/" + name, "follows a symlink");
  }
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

}  // namespace

void ArmWriteGuard(const std::string& root) {
  g_root = root;
  if (g_proc_fd < 0 || g_proc_fd_pid != ::getpid()) {
    if (g_proc_fd >= 0) ::close(g_proc_fd);
    g_proc_fd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // not armed yet
    g_proc_fd_pid = ::getpid();
    if (g_proc_fd < 0) Violation("open", "/proc/self/fd", std::strerror(errno));
  }
  g_armed.store(true);
}

void DisarmWriteGuard() {
  g_armed.store(false);
}

unsigned long WriteGuardChecks() {
  return g_checks.load();
}

}  // namespace warmboot::fuzz

using namespace warmboot::fuzz;

extern "C" {

int __real_open(const char* path, int flags, ...);
int __real_open64(const char* path, int flags, ...);
int __real_openat(int dirfd, const char* path, int flags, ...);
int __real_openat64(int dirfd, const char* path, int flags, ...);
int __real_mkdir(const char* path, mode_t mode);
int __real_mkdirat(int dirfd, const char* name, mode_t mode);
int __real_renameat(int olddirfd, const char* oldname, int newdirfd, const char* newname);
int __real_symlinkat(const char* target, int dirfd, const char* name);
int __real_unlinkat(int dirfd, const char* name, int flags);
int __real_fchownat(int dirfd, const char* name, uid_t uid, gid_t gid, int flags);
int __real_utimensat(int dirfd, const char* name, const struct timespec times[2], int flags);
int __real_fchown(int fd, uid_t uid, gid_t gid);
int __real_fchmod(int fd, mode_t mode);
int __real_futimens(int fd, const struct timespec times[2]);
int __real_ftruncate(int fd, off_t length);
int __real_ftruncate64(int fd, off_t length);
ssize_t __real_pwrite(int fd, const void* buf, size_t n, off_t offset);
ssize_t __real_pwrite64(int fd, const void* buf, size_t n, off_t offset);
ssize_t __real_write(int fd, const void* buf, size_t n);

namespace {
int OpenChecked(const char* call, int dirfd, const char* path, int fd) {
  if (fd >= 0) CheckFd(call, fd);
  (void)dirfd;
  (void)path;
  return fd;
}
}  // namespace

int __wrap_open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) CheckEntry("open", AT_FDCWD, path);
  return OpenChecked("open", AT_FDCWD, path, __real_open(path, flags, mode));
}

int __wrap_open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) CheckEntry("open64", AT_FDCWD, path);
  return OpenChecked("open64", AT_FDCWD, path, __real_open64(path, flags, mode));
}

int __wrap_openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) CheckEntry("openat", dirfd, path);
  return OpenChecked("openat", dirfd, path, __real_openat(dirfd, path, flags, mode));
}

int __wrap_openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (flags & (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)) CheckEntry("openat64", dirfd, path);
  return OpenChecked("openat64", dirfd, path, __real_openat64(dirfd, path, flags, mode));
}

int __wrap_mkdir(const char* path, mode_t mode) {
  CheckEntry("mkdir", AT_FDCWD, path);
  return __real_mkdir(path, mode);
}

int __wrap_mkdirat(int dirfd, const char* name, mode_t mode) {
  CheckEntry("mkdirat", dirfd, name);
  return __real_mkdirat(dirfd, name, mode);
}

int __wrap_renameat(int olddirfd, const char* oldname, int newdirfd, const char* newname) {
  CheckEntry("renameat (from)", olddirfd, oldname);
  CheckEntry("renameat (to)", newdirfd, newname);
  return __real_renameat(olddirfd, oldname, newdirfd, newname);
}

int __wrap_symlinkat(const char* target, int dirfd, const char* name) {
  CheckEntry("symlinkat", dirfd, name);
  return __real_symlinkat(target, dirfd, name);
}

int __wrap_unlinkat(int dirfd, const char* name, int flags) {
  CheckEntry("unlinkat", dirfd, name);
  return __real_unlinkat(dirfd, name, flags);
}

int __wrap_fchownat(int dirfd, const char* name, uid_t uid, gid_t gid, int flags) {
  if ((flags & AT_EMPTY_PATH) && (name == nullptr || *name == '\0')) {
    CheckFd("fchownat", dirfd);
  } else {
    CheckEntry("fchownat", dirfd, name);
    CheckNoFollow("fchownat", dirfd, name, flags);
  }
  return __real_fchownat(dirfd, name, uid, gid, flags);
}

int __wrap_utimensat(int dirfd, const char* name, const struct timespec times[2], int flags) {
  if (name == nullptr) {
    CheckFd("utimensat", dirfd);
  } else {
    CheckEntry("utimensat", dirfd, name);
    CheckNoFollow("utimensat", dirfd, name, flags);
  }
  return __real_utimensat(dirfd, name, times, flags);
}

int __wrap_fchown(int fd, uid_t uid, gid_t gid) {
  CheckFd("fchown", fd);
  return __real_fchown(fd, uid, gid);
}

int __wrap_fchmod(int fd, mode_t mode) {
  CheckFd("fchmod", fd);
  return __real_fchmod(fd, mode);
}

int __wrap_futimens(int fd, const struct timespec times[2]) {
  CheckFd("futimens", fd);
  return __real_futimens(fd, times);
}

int __wrap_ftruncate(int fd, off_t length) {
  CheckFd("ftruncate", fd);
  return __real_ftruncate(fd, length);
}

int __wrap_ftruncate64(int fd, off_t length) {
  CheckFd("ftruncate64", fd);
  return __real_ftruncate64(fd, length);
}

ssize_t __wrap_pwrite(int fd, const void* buf, size_t n, off_t offset) {
  CheckFd("pwrite", fd);
  return __real_pwrite(fd, buf, n, offset);
}

ssize_t __wrap_pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  CheckFd("pwrite64", fd);
  return __real_pwrite64(fd, buf, n, offset);
}

ssize_t __wrap_write(int fd, const void* buf, size_t n) {
  CheckFd("write", fd);
  return __real_write(fd, buf, n);
}

}  // extern "C"
