// warmboot-sim: the warmboot command over a simulated namespace, for tests that drive
// preserve, restore and status as separate processes (tests/cli/machine_cli_test.sh). The
// namespace is the one kept in $WARMBOOT_SIM_DIR (made with wb-simctl create). It never kexecs:
// the host is not the machine whose namespace it drives. Its boot (id, command line) is the one
// `wb-simctl reboot` last wrote (testing/sim_boot.h), else the host's.
#include <cstdlib>
#include <string>

#include "cli/machine.h"
#include "testing/fake_service_manager.h"
#include "testing/sim_boot.h"
#include "testing/simulated_pmem.h"

int main(int argc, char** argv) {
  using namespace warmboot;
  cli::Machine machine;
  machine.open_platform = [](const Config&) -> Result<std::unique_ptr<PmemPlatform>> {
    const char* dir = std::getenv("WARMBOOT_SIM_DIR");
    if (dir == nullptr || *dir == '\0') {
      return InvalidArgument("warmboot-sim: set WARMBOOT_SIM_DIR to a simulated namespace");
    }
    WB_ASSIGN_OR_RETURN(auto sim, SimulatedPmem::Open(dir));
    return std::unique_ptr<PmemPlatform>(std::move(sim));
  };
  machine.this_boot = [] {
    const char* dir = std::getenv("WARMBOOT_SIM_DIR");
    auto boot = dir != nullptr ? testing::ReadSimBoot(dir) : std::nullopt;
    return boot ? *boot : ReadThisBoot();
  };
  machine.clock = [] {
    ClockSnapshot c = TakeClockSnapshot();
    const char* dir = std::getenv("WARMBOOT_SIM_DIR");
    auto booted = dir != nullptr ? testing::ReadSimBootedNs(dir) : std::nullopt;
    // The simulated kernel's boot clock starts at the simulated reboot.
    if (booted) c.boottime_ns = c.realtime_ns - *booted;
    return c;
  };
  machine.kexec = &RealKexecSystem();
  machine.can_kexec = false;
  // WARMBOOT_SIM_SYSTEMD=1: PID 1 is systemd (no kexec pending); otherwise the host's own.
  static testing::FakeServiceManager systemd;
  const char* under = std::getenv("WARMBOOT_SIM_SYSTEMD");
  if (under != nullptr && std::string(under) == "1") machine.services = &systemd;
  // The host's page cache and zones are not the simulated machine's.
  machine.drop_page_cache = nullptr;
  machine.movable_use = nullptr;
  return cli::Run(argc, argv, machine);
}
