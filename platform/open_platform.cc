#include "platform/simulated_pmem.h"
#include "warmboot/config.h"
#include "warmboot/pmem.h"

namespace warmboot {

Result<std::unique_ptr<PmemPlatform>> OpenPlatform(const Config& config) {
  if (config.platform.rfind("simulated:", 0) == 0) {
    WB_ASSIGN_OR_RETURN(auto sim, SimulatedPmem::Open(config.platform.substr(10)));
    return std::unique_ptr<PmemPlatform>(std::move(sim));
  }
  return OpenRealPmemPlatform(config.namespace_name);
}

}  // namespace warmboot
