// A JSON report kept on the medium just after an image (at the next 4 KiB boundary), so the
// preserve report can be read after the reboot even from an initramfs. It is written after the
// seal and is not part of the image: a damaged or missing record never affects restore.
//   [0,8) "WBREPORT"  [8,12) u32 version=1  [12,16) u32 zero  [16,24) u64 length
//   [24,32) u64 XXH3-64 of the JSON bytes   [32, 32+length) JSON
#pragma once

#include <cstdint>
#include <string>

#include "media/media.h"
#include "util/status.h"

namespace warmboot {

inline constexpr uint64_t kReportRecordMax = 256 * 1024;

uint64_t ReportRecordOffset(uint64_t image_end);
Status WriteReportRecord(Media& media, uint64_t image_end, const std::string& json);
Result<std::string> ReadReportRecord(Media& media, uint64_t image_end);

}  // namespace warmboot
