// A service manager for tests: says whether PID 1 is systemd and whether a kexec is pending as
// told, and records what it was asked to start. Nothing here reboots.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orchestration/service_manager.h"

namespace warmboot::testing {

class FakeServiceManager : public ServiceManager {
 public:
  bool present = true;
  bool kexec_pending = false;
  Status kexec_pending_error;  // returned instead, when set
  Status start_kexec_result;
  Status start_reboot_result;
  int kexec_starts = 0, reboot_starts = 0;
  // Runs inside StartKexec: what systemd starts doing at once (the preserve's stop, say).
  std::function<void()> on_start_kexec;

  std::string preserve_unit_state = "active";  // warmboot-preserve.service's ActiveState

  bool Present() override { return present; }
  Result<std::string> UnitActiveState(const std::string& unit) override {
    return unit == "warmboot-preserve.service" ? preserve_unit_state : std::string("active");
  }
  Result<bool> KexecPending() override {
    if (!kexec_pending_error.ok()) return kexec_pending_error;
    return kexec_pending;
  }
  bool reboot_pending = false;  // an ordinary reboot (reboot.target) is under way
  Result<bool> RebootPending() override { return reboot_pending; }
  Status StartKexec() override {
    ++kexec_starts;
    if (on_start_kexec) on_start_kexec();
    if (start_kexec_result.ok()) kexec_pending = true;  // systemd queued kexec.target
    return start_kexec_result;
  }
  Status StartReboot() override {
    ++reboot_starts;
    return start_reboot_result;
  }
  std::vector<UnitStart> services_after;  // what ServicesAfter answers
  Status services_after_error;            // returned instead, when set
  Result<std::vector<UnitStart>> ServicesAfter(const std::string&) override {
    if (!services_after_error.ok()) return services_after_error;
    return services_after;
  }
  uint64_t startup_finished_us = 0;  // what StartupFinishedMonotonicUs answers
  Result<uint64_t> StartupFinishedMonotonicUs() override { return startup_finished_us; }
};

}  // namespace warmboot::testing
