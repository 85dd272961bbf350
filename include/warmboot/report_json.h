// JSON forms of the library's reports: what `--json` prints and what is kept on disk
// (.quarantine/report.json, later the preserve/restore reports).
#pragma once

#include <nlohmann/json.hpp>

#include "warmboot/image.h"
#include "warmboot/pmem.h"
#include "warmboot/status.h"

namespace warmboot {

nlohmann::json ToJson(const Status& status);
nlohmann::json ToJson(const format::Header& header);
nlohmann::json ToJson(const format::Seal& seal);
nlohmann::json ToJson(const PackReport& report);
nlohmann::json ToJson(const VerifyReport& report);
nlohmann::json ToJson(const UnpackReport& report);
nlohmann::json ToJson(const InspectReport& report);
nlohmann::json ToJson(const DamagedSegment& damaged);
nlohmann::json ToJson(const PmemInfo& info);
// The damaged segments and image problems alone (the quarantine report).
nlohmann::json DamageReportJson(const VerifyReport& report);

}  // namespace warmboot
