// The service manager that takes the machine down, when one runs (systemd). Inside a running
// systemd warmboot never calls reboot(2) itself: `warmboot reboot` asks systemd for the kexec
// (or, refused with --fallback cold, an ordinary reboot), the services stop in order, and
// warmboot-preserve.service writes the image as they finish (docs/systemd.md). Real: sd-bus on
// systemd's private socket and systemctl; fake: testing/fake_service_manager.h.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace warmboot {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // PID 1 is systemd (sd_booted).
  virtual bool Present() = 0;
  // A shutdown that ends in kexec is under way or queued: kexec.target has a start job.
  virtual Result<bool> KexecPending() = 0;
  // An ordinary reboot is under way or queued: reboot.target has a start job.
  virtual Result<bool> RebootPending() = 0;
  // The unit's ActiveState ("active", "inactive", "failed", ...; "inactive" for a unit that is
  // not loaded). warmboot reboot asks it of warmboot-preserve.service, whose stop seals the state.
  virtual Result<std::string> UnitActiveState(const std::string& unit) = 0;
  // `systemctl kexec` / `systemctl reboot`: queued, not waited for. The reboot goes through the
  // firmware even with a kernel loaded (from systemd 255 `systemctl reboot` would kexec into it).
  virtual Status StartKexec() = 0;
  virtual Status StartReboot() = 0;
  // The services ordered after `target` (its Before= list, which systemd keeps for their After=),
  // each with its ActiveState and when it last became active: ActiveEnterTimestampMonotonic, in
  // microseconds of this boot's CLOCK_MONOTONIC (0: never).
  struct UnitStart {
    std::string unit;
    std::string active_state;
    uint64_t active_enter_monotonic_us = 0;
  };
  virtual Result<std::vector<UnitStart>> ServicesAfter(const std::string& target) = 0;
  // When this boot's start-up finished (systemd's FinishTimestampMonotonic, µs; 0: not yet).
  virtual Result<uint64_t> StartupFinishedMonotonicUs() = 0;
};

ServiceManager& RealServiceManager();

}  // namespace warmboot
