#include "cli/applications_ready.h"

#include <set>
#include <string>
#include <vector>

namespace warmboot::cli {

void AddApplicationsFromSystemd(Timeline* t, const Machine& machine) {
  if (!UnderSystemd(machine)) return;
  ServiceManager& services = machine.services != nullptr ? *machine.services : RealServiceManager();
  auto units = services.ServicesAfter("warmboot-state.target");
  if (!units.ok()) {
    t->notes.push_back("the applications' readiness was not measured: " + units.status().message());
    return;
  }
  // After the target too, but warmboot's: the give-back and the prepare unit.
  static const std::set<std::string> kOwn = {
      "warmboot-give-back.service", "warmboot-prepare.service", "warmboot-preserve.service",
      "warmboot-restore.service", "warmbootd.service"};
  // A unit that became active after the boot's start-up finished was restarted since: its time
  // says nothing of this boot's readiness. 0: the start-up is still under way.
  auto finished = services.StartupFinishedMonotonicUs();
  const uint64_t finished_us = finished.ok() ? *finished : 0;
  std::vector<ApplicationReady> ready;
  std::vector<std::string> waiting;
  for (const ServiceManager::UnitStart& u : *units) {
    if (kOwn.count(u.unit) != 0) continue;
    if (finished_us != 0 && u.active_enter_monotonic_us > finished_us) {
      t->notes.push_back(
          u.unit + " became active after the boot finished (restarted since): " + "not counted");
      continue;
    }
    if (u.active_state == "active" && u.active_enter_monotonic_us > 0) {
      ready.push_back({u.unit, u.active_enter_monotonic_us / 1e6});
    } else {
      waiting.push_back(u.unit + " is " + u.active_state);
    }
  }
  AddApplicationsReady(t, ready, waiting);
}

}  // namespace warmboot::cli
