#include "util/phase_log.h"

namespace warmboot {

nlohmann::json PhaseLog::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Phase& p : phases_) {
    nlohmann::json j{{"phase", p.name}, {"seconds", p.seconds}, {"ok", p.ok}};
    if (!p.detail.empty()) j["detail"] = p.detail;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace warmboot
