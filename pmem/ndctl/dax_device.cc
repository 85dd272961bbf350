// The namespace's device-dax instance and its driver: kmem (the memory is System RAM) or
// device_dax (a character device), bound as `daxctl reconfigure-device` does, or unbound.
#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include <string>

#include "pmem/ndctl/internal.h"
#include "pmem/pmem.h"
#include "util/status.h"

namespace warmboot {
namespace ndctl_internal {

// daxctl disable-device: daxctl_dev_disable(). For kmem this is the hot-remove; the kernel
// lets it happen even with blocks online (they stay in use, leaked).
Status NdctlPmemPlatform::DisableDax() {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (st.mode != PmemMode::kSystemRam && st.mode != PmemMode::kDevdax) {
    return InvalidArgument(t.name + " has no dax device (it is in " + DescribeMode(st) + " mode)");
  }
  if (st.dax.dev == nullptr) {
    return s->Fail(Code::kNotFound, t.name + ": " + ndctl_dax_get_devname(st.dax.dax) +
                                        " shows no device-dax instance");
  }
  std::string dev = daxctl_dev_get_devname(st.dax.dev);
  int rc = daxctl_dev_disable(st.dax.dev);
  if (rc < 0) return Hint(s->Error(dev + ": cannot unbind its driver", rc), "check 'daxctl list'");
  if (daxctl_dev_is_enabled(st.dax.dev)) {
    return s->Fail(Code::kBusy, dev + ": still bound to a driver after the unbind");
  }
  s->log().Clear();
  return Status::Ok();
}

// daxctl reconfigure-device -m system-ram|devdax (reconfig_mode_system_ram() /
// reconfig_mode_devdax()): unbind the other driver if one is bound, then
// daxctl_dev_enable_ram() / daxctl_dev_enable_devdax().
Status NdctlPmemPlatform::EnableDax(PmemMode mode) {
  if (mode != PmemMode::kSystemRam && mode != PmemMode::kDevdax) {
    return InvalidArgument(std::string("a dax device is enabled as devdax or system-ram, not ") +
                           PmemModeName(mode));
  }
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (st.mode != PmemMode::kSystemRam && st.mode != PmemMode::kDevdax) {
    return InvalidArgument(t.name + " has no dax device (it is in " + DescribeMode(st) +
                           " mode): reconfigure it to devdax first");
  }
  if (st.dax.dev == nullptr) {
    return s->Fail(Code::kNotFound, t.name + ": " + ndctl_dax_get_devname(st.dax.dax) +
                                        " shows no device-dax instance");
  }
  std::string dev = daxctl_dev_get_devname(st.dax.dev);
  bool want_ram = mode == PmemMode::kSystemRam;
  if (st.dax.enabled && st.dax.kmem == want_ram) return Status::Ok();
  WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
  WB_ASSIGN_OR_RETURN(auto blocks, DaxBlocks(st.dax.dev, block_size));
  std::string online = BlockNames(blocks, true);
  if (!online.empty()) {
    if (st.dax.kmem) {
      return Status(Code::kBusy, dev + ": " + online +
                                     " are online; offline them before leaving system-ram mode");
    }
    // kmem cannot claim a range the kernel still uses.
    return Status(Code::kBusy, dev + ": " + online +
                                   " are still in use by the kernel (leaked when kmem was "
                                   "unbound with them online); reboot to get them back");
  }
  if (st.dax.enabled) {
    int rc = daxctl_dev_disable(st.dax.dev);
    if (rc < 0) return s->Error(dev + ": cannot unbind its current driver", rc);
  }
  int rc = want_ram ? daxctl_dev_enable_ram(st.dax.dev) : daxctl_dev_enable_devdax(st.dax.dev);
  if (rc < 0) {
    Status err = s->Error(
        dev + (want_ram ? ": cannot bind kmem (hot-plug its memory)" : ": cannot bind device_dax"),
        rc);
    return want_ram ? Hint(err, "is the kmem module available ('modprobe kmem')?") : err;
  }
  bool kmem = daxctl_dev_get_memory(st.dax.dev) != nullptr;
  if (!daxctl_dev_is_enabled(st.dax.dev) || kmem != want_ram) {
    return s->Fail(Code::kIoError, dev + ": not bound to " + (want_ram ? "kmem" : "device_dax") +
                                       " after enabling it");
  }
  s->log().Clear();
  return Status::Ok();
}

}  // namespace ndctl_internal
}  // namespace warmboot
