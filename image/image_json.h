// JSON forms of the image reports: what `--json` prints and what is kept on disk
// (.quarantine/report.json, and inside the preserve/restore reports).
#pragma once

#include <nlohmann/json.hpp>

#include "image/image.h"
#include "util/status.h"
#include "util/status_json.h"

namespace warmboot {

nlohmann::json ToJson(const format::Header& header);
nlohmann::json ToJson(const format::Seal& seal);
nlohmann::json ToJson(const PackReport& report);
nlohmann::json ToJson(const VerifyReport& report);
nlohmann::json ToJson(const UnpackReport& report);
nlohmann::json ToJson(const InspectReport& report);
nlohmann::json ToJson(const DamagedSegment& damaged);
// The damaged segments and image problems alone (the quarantine report).
nlohmann::json DamageReportJson(const VerifyReport& report);

}  // namespace warmboot
