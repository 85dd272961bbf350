// warmboot: keep application state across a kexec reboot. See docs/cli.md.
#include "cli/machine.h"
#include "kexec/kexec.h"
#include "pmem/ndctl/platform.h"

int main(int argc, char** argv) {
  using namespace warmboot;
  cli::Machine machine;
  machine.open_platform = [](const Config& config) {
    return OpenRealPmemPlatform(config.namespace_name);
  };
  machine.kexec = &RealKexecSystem();
  return cli::Run(argc, argv, machine);
}
