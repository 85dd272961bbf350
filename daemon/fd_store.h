// Where warmbootd keeps what apps handed over across its own restart or crash: the service
// manager's file-descriptor store (systemd: FDSTORE=1, FileDescriptorStoreMax=). Every segment's
// descriptor is kept under "seg-ID", and a journal memfd (daemon/journal.h) under "journal-GEN"
// says whose each is. The manager passes them back to the next instance (sd_listen_fds_with_names)
// and Server::Create puts the segments back (docs/api.md, "A daemon restart").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot::daemon {

class FdStore {
 public:
  virtual ~FdStore() = default;
  // The manager keeps a duplicate of `fd` under `name`.
  virtual Status Add(const std::string& name, int fd) = 0;
  // The manager closes every descriptor it keeps under `name`.
  virtual Status Remove(const std::string& name) = 0;
};

// A descriptor the manager passed back, with the name it was kept under.
struct NamedFd {
  std::string name;
  UniqueFd fd;
};

// systemd's fd store, through $NOTIFY_SOCKET; null when warmbootd runs without a service
// manager (a restart then loses what apps handed over, and hello says so).
std::unique_ptr<FdStore> SystemdFdStore();

}  // namespace warmboot::daemon
