// A service manager's fd store for tests (daemon/fd_store.h): keeps a duplicate of every
// descriptor under its name, as systemd does, and passes duplicates back as the manager would
// to the next instance. Header-only: only the suites that link warmboot_daemon include it.
#pragma once

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/fd_store.h"

namespace warmboot::testing {

class FakeFdStore : public daemon::FdStore {
 public:
  Status Add(const std::string& name, int fd) override {
    if (fail_adds) return IoError("the fake manager refuses " + name);
    // As systemd (service_add_fd_store): an open file description it already keeps is skipped,
    // under whatever name it was kept, and the sender is not told.
    for (const auto& [n, fds] : kept) {
      for (const UniqueFd& k : fds) {
        if (::syscall(SYS_kcmp, ::getpid(), ::getpid(), KCMP_FILE, fd, k.get()) == 0) {
          return Status::Ok();
        }
      }
    }
    kept[name].emplace_back(::dup(fd));
    return Status::Ok();
  }
  Status Remove(const std::string& name) override {
    kept.erase(name);
    return Status::Ok();
  }
  // What a restart passes to the next instance.
  std::vector<daemon::NamedFd> PassBack() const {
    std::vector<daemon::NamedFd> out;
    for (const auto& [name, fds] : kept) {
      for (const UniqueFd& fd : fds) out.push_back({name, UniqueFd(::dup(fd.get()))});
    }
    return out;
  }
  size_t Count(const std::string& prefix) const {
    size_t n = 0;
    for (const auto& [name, fds] : kept) n += name.starts_with(prefix) ? fds.size() : 0;
    return n;
  }
  std::map<std::string, std::vector<UniqueFd>> kept;
  bool fail_adds = false;
};

}  // namespace warmboot::testing
