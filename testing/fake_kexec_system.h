// A KexecSystem for tests: files, capabilities and kernel answers are set up front, calls are
// recorded. Nothing here loads a kernel or reboots: the fake kexec_loaded flag is a map entry.
#pragma once

#include <linux/kexec.h>

#include <cerrno>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kexec/kexec.h"

namespace warmboot::testing {

class FakeKexecSystem : public KexecSystem {
 public:
  struct File {
    int err = 0;  // what open() answers (EACCES: unreadable)
    bool regular = true;
    uint64_t size = 8 << 20;
  };
  struct Load {
    std::string kernel, initrd;  // the paths behind the descriptors ("" = none)
    std::string cmdline;
    unsigned long flags = 0;
  };

  static constexpr const char* kRelease = "6.1.0-test";
  static constexpr const char* kKernel = "/boot/vmlinuz-6.1.0-test";
  static constexpr const char* kInitrd = "/boot/initrd.img-6.1.0-test";

  FakeKexecSystem() {
    text["/proc/cmdline"] =
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-test root=/dev/vda1 ro memmap=528M!4G console=ttyS0\n";
    text["/sys/kernel/kexec_loaded"] = "0\n";
    text["/proc/sys/kernel/kexec_load_disabled"] = "0\n";
    text["/sys/kernel/security/lockdown"] = "[none] integrity confidentiality\n";
    files[kKernel] = File{};
    files[kInitrd] = File{};
  }

  // Setup.
  std::string release = kRelease;
  std::map<std::string, std::string> text;  // ReadFile; absent = ENOENT
  std::map<std::string, File> files;        // Open; absent = ENOENT
  bool boot_capability = true;
  int probe_errno = EINVAL;     // kexec_file_load exists
  std::deque<int> load_errnos;  // successive answers to loads; none left = 0
  int unload_errno = 0;
  std::function<void()> on_load;  // called inside every load (not an unload), before it answers
  bool load_sets_loaded = true;   // a successful load (or kexec -l) sets kexec_loaded to 1
  std::string kexec_tools = "/usr/sbin/kexec";  // "" = not installed
  ProgramResult tools_result;                   // what kexec -l / -u answer
  int reboot_errno = EINVAL;

  // Record.
  std::vector<Load> loads;
  int unloads = 0;
  std::vector<std::vector<std::string>> runs;
  int syncs = 0;
  int reboots = 0;
  std::set<int> open_fds;

  bool Loaded() const {
    return text.count("/sys/kernel/kexec_loaded") && text.at("/sys/kernel/kexec_loaded") == "1\n";
  }
  void SetLoaded(bool loaded) { text["/sys/kernel/kexec_loaded"] = loaded ? "1\n" : "0\n"; }

  std::string KernelRelease() override { return release; }
  Result<std::string> ReadFile(const std::string& path) override {
    auto it = text.find(path);
    if (it == text.end()) return ErrnoError("cannot open " + path, ENOENT);
    return it->second;
  }
  int Open(const std::string& path, OpenedFile* file) override {
    auto it = files.find(path);
    if (it == files.end()) return ENOENT;
    if (it->second.err != 0) return it->second.err;
    file->fd = next_fd_++;
    file->regular = it->second.regular;
    file->size = it->second.size;
    open_fds.insert(file->fd);
    fd_paths_[file->fd] = path;
    return 0;
  }
  void Close(int fd) override { open_fds.erase(fd); }
  bool HasBootCapability() override { return boot_capability; }
  int ProbeFileLoad() override { return probe_errno; }
  int KexecFileLoad(int kernel_fd, int initrd_fd, const std::string& cmdline,
                    unsigned long flags) override {
    if (flags & KEXEC_FILE_UNLOAD) {
      ++unloads;
      if (unload_errno == 0) SetLoaded(false);
      return unload_errno;
    }
    if (!open_fds.count(kernel_fd)) return EBADF;
    if (!(flags & KEXEC_FILE_NO_INITRAMFS) && !open_fds.count(initrd_fd)) return EBADF;
    if (on_load) on_load();
    Load l;
    l.kernel = PathOf(kernel_fd);
    if (!(flags & KEXEC_FILE_NO_INITRAMFS)) l.initrd = PathOf(initrd_fd);
    l.cmdline = cmdline;
    l.flags = flags;
    loads.push_back(l);
    int err = 0;
    if (!load_errnos.empty()) {
      err = load_errnos.front();
      load_errnos.pop_front();
    }
    if (err == 0 && load_sets_loaded) SetLoaded(true);
    return err;
  }
  std::string FindProgram(const std::string& name) override {
    return name == "kexec" ? kexec_tools : "";
  }
  Result<ProgramResult> Run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds) override {
    runs.push_back(argv);
    if (tools_result.exit_code == 0 && load_sets_loaded) {
      SetLoaded(argv.size() > 1 && argv[1] != "-u");
    }
    return tools_result;
  }
  void Sync() override { ++syncs; }
  int RebootKexec() override {
    ++reboots;
    return reboot_errno;
  }

 private:
  std::string PathOf(int fd) const {
    auto it = fd_paths_.find(fd);
    return it == fd_paths_.end() ? "" : it->second;
  }
  int next_fd_ = 100;
  std::map<int, std::string> fd_paths_;
};

}  // namespace warmboot::testing
