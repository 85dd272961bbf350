// The service manager that takes the machine down, when one runs (systemd). Inside a running
// systemd warmboot never calls reboot(2) itself: `warmboot reboot` asks systemd for the kexec
// (or, refused with --fallback cold, an ordinary reboot), the services stop in order, and
// warmboot-preserve.service writes the image as they finish (docs/systemd.md). Real: sd-bus on
// systemd's private socket and systemctl; fake: testing/fake_service_manager.h.
#pragma once

#include "util/status.h"

namespace warmboot {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // PID 1 is systemd (sd_booted).
  virtual bool Present() = 0;
  // A shutdown that ends in kexec is under way or queued: kexec.target has a start job.
  virtual Result<bool> KexecPending() = 0;
  // `systemctl kexec` / `systemctl reboot`: queued, not waited for.
  virtual Status StartKexec() = 0;
  virtual Status StartReboot() = 0;
};

ServiceManager& RealServiceManager();

}  // namespace warmboot
