// KexecSystem over the real system calls. Nothing here decides anything: the decisions and the
// messages are above the seam, where the tests reach them.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "kexec/kexec.h"
#include "util/deferred_signals.h"
#include "util/host_info.h"

extern char** environ;

namespace warmboot {
namespace {

// A flag no kernel defines: kexec_file_load refuses it with EINVAL before doing anything (after
// its permission check), and a kernel without the call answers ENOSYS.
constexpr unsigned long kProbeFlag = 1ul << 31;
constexpr size_t kMaxOutput = 64 * 1024;

class RealKexecSystemImpl final : public KexecSystem {
 public:
  std::string KernelRelease() override { return warmboot::KernelRelease(); }

  Result<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("cannot open " + path, errno);
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return ErrnoError("cannot read " + path, err);
      }
      if (n == 0 || out.size() >= kMaxOutput) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  int Open(const std::string& path, OpenedFile* file) override {
    // O_NONBLOCK: a FIFO named as the kernel must not hang the shutdown (no effect on files).
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return err;
    }
    file->fd = fd;
    file->regular = S_ISREG(st.st_mode);
    file->size = static_cast<uint64_t>(st.st_size);
    return 0;
  }

  void Close(int fd) override {
    if (fd >= 0) ::close(fd);
  }

  bool HasBootCapability() override {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return ::geteuid() == 0;
    return (data[CAP_SYS_BOOT / 32].effective & (1u << (CAP_SYS_BOOT % 32))) != 0;
  }

  int ProbeFileLoad() override { return FileLoadSyscall(-1, -1, 0, nullptr, kProbeFlag); }

  int KexecFileLoad(int kernel_fd, int initrd_fd, const std::string& cmdline,
                    unsigned long flags) override {
    if (flags & KEXEC_FILE_UNLOAD) return FileLoadSyscall(-1, -1, 0, nullptr, flags);
    return FileLoadSyscall(kernel_fd, initrd_fd, cmdline.size() + 1, cmdline.c_str(), flags);
  }

  std::string FindProgram(const std::string& name) override {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
      std::stringstream ss(path);
      for (std::string d; std::getline(ss, d, ':');) dirs.push_back(d.empty() ? "." : d);
    }
    dirs.push_back("/sbin");
    dirs.push_back("/usr/sbin");
    for (const std::string& d : dirs) {
      std::string p = d + "/" + name;
      struct stat st;
      if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) {
        return p;
      }
    }
    return "";
  }

  Result<ProgramResult> Run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) override {
    if (argv.empty()) return InvalidArgument("nothing to run");
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    SpawnSignalDefaults attr;
    int err = posix_spawn(&pid, argv[0].c_str(), &actions, attr.get(), args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipefd[1]);
    if (err != 0) {
      ::close(pipefd[0]);
      return ErrnoError("cannot run " + argv[0], err);
    }
    ProgramResult result;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      struct pollfd p {
        pipefd[0], POLLIN, 0
      };
      int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {  // its time is up: the program and whatever it started
        timed_out = true;
        ::kill(-pid, SIGKILL);
        break;
      }
      ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (result.output.size() < kMaxOutput) result.output.append(buf, static_cast<size_t>(n));
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return ErrnoError("waiting for " + argv[0], errno);
    }
    if (timed_out) {
      return Status(Code::kBusy, argv[0] + " did not finish within " +
                                     std::to_string(timeout.count()) + " ms and was stopped");
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return result;
  }

  void Sync() override { ::sync(); }

  int RebootKexec() override {
    if (::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC,
                  nullptr) != 0) {
      return errno;
    }
    return 0;
  }

 private:
  static int FileLoadSyscall(int kernel_fd, int initrd_fd, unsigned long cmdline_len,
                             const char* cmdline, unsigned long flags) {
#ifdef SYS_kexec_file_load
    if (::syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, cmdline_len, cmdline, flags) != 0) {
      return errno;
    }
    return 0;
#else
    (void)kernel_fd, (void)initrd_fd, (void)cmdline_len, (void)cmdline, (void)flags;
    return ENOSYS;
#endif
  }
};

}  // namespace

KexecSystem& RealKexecSystem() {
  static RealKexecSystemImpl system;
  return system;
}

}  // namespace warmboot
