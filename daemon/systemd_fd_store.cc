#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "daemon/fd_store.h"

namespace warmboot::daemon {
namespace {

class SystemdStore : public FdStore {
 public:
  Status Add(const std::string& name, int fd) override {
    const std::string msg = "FDSTORE=1\nFDNAME=" + name;
    int r = sd_pid_notify_with_fds(0, 0, msg.c_str(), &fd, 1);
    if (r <= 0) return Failed("keep", name, r);
    return Status::Ok();
  }
  Status Remove(const std::string& name) override {
    const std::string msg = "FDSTOREREMOVE=1\nFDNAME=" + name;
    int r = sd_pid_notify(0, 0, msg.c_str());
    if (r <= 0) return Failed("remove", name, r);
    return Status::Ok();
  }

 private:
  static Status Failed(const char* what, const std::string& name, int r) {
    return IoError(std::string("cannot ") + what + " " + name + " in systemd's fd store: " +
                   (r == 0 ? "$NOTIFY_SOCKET is not set" : std::strerror(-r)));
  }
};

}  // namespace

std::unique_ptr<FdStore> SystemdFdStore() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return nullptr;
  return std::make_unique<SystemdStore>();
}

}  // namespace warmboot::daemon
