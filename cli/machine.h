// What the machine-level commands (preserve, restore, status, kexec) act on. The `warmboot`
// binary passes the real machine (cli/main.cc: libndctl/libdaxctl and the kexec system calls);
// tests pass a simulated namespace (testing/sim_warmboot.cc), so the product binary contains no
// simulator and no configuration can select one.
#pragma once

#include <functional>
#include <memory>

#include "kexec/kexec.h"
#include "orchestration/config.h"
#include "orchestration/service_manager.h"
#include "orchestration/this_boot.h"
#include "pmem/pmem.h"
#include "restore/boot_restore.h"
#include "util/clock_snapshot.h"
#include "util/host_info.h"

namespace warmboot::cli {

struct Machine {
  std::function<Result<std::unique_ptr<PmemPlatform>>(const Config&)> open_platform;
  KexecSystem* kexec = nullptr;
  // systemd, which takes a warm reboot down (warmboot reboot; preserve --systemd). Null: the real.
  ServiceManager* services = nullptr;
  // False where the host is not the machine whose namespace is driven (a simulated one):
  // preserve then never kexecs and `kexec` refuses.
  bool can_kexec = true;
  // This boot's identity and command line, by which restore and status tell the image meant
  // for this boot from a stale one (the real machine: ReadThisBoot).
  std::function<ThisBoot()> this_boot = ReadThisBoot;
  // Whether / is still the initramfs (restore --boot then leaves the history, on /var, to the
  // run in the real root).
  std::function<bool()> in_initramfs = RunningInInitramfs;
  // The clocks restore records for the reboot's timeline (restore/timeline.h); a simulated
  // machine gives its simulated boot's.
  std::function<ClockSnapshot()> clock = TakeClockSnapshot;
  // The memory available (the early offline's check, preserve/reboot.h) and the page cache
  // dropped before offlining (drop_page_cache = yes). Null drop: the cache is kept.
  std::function<uint64_t()> mem_available = MemAvailableBytes;
  std::function<Status()> drop_page_cache = DropCleanPageCache;
  // What ZONE_MOVABLE holds (the drop's decision, the offline's migration rate). Null: unknown.
  std::function<std::optional<ZoneUse>(int node)> movable_use = MovableZoneUse;
};

// PID 1 is systemd (machine.services, or the real service manager): warmboot then never reboots
// by itself (reboot(2)); systemd takes the machine down (docs/systemd.md).
bool UnderSystemd(const Machine& machine);

// The whole command line: `warmboot COMMAND [ARGS]`. Returns the exit code (docs/cli.md).
int Run(int argc, char** argv, const Machine& machine);

}  // namespace warmboot::cli
