#include "image/report_record.h"

#include <cstring>
#include <vector>

#include "image/checksum.h"
#include "image/format.h"
#include "util/endian.h"

namespace warmboot {
namespace {
constexpr char kMagic[8] = {'W', 'B', 'R', 'E', 'P', 'O', 'R', 'T'};
constexpr size_t kHeader = 32;
}  // namespace

uint64_t ReportRecordOffset(uint64_t image_end) {
  return (image_end + format::kBlockSize - 1) / format::kBlockSize * format::kBlockSize;
}

Status WriteReportRecord(Media& media, uint64_t image_end, const std::string& json) {
  if (json.size() + kHeader > kReportRecordMax) return InvalidArgument("report too large");
  uint64_t off = ReportRecordOffset(image_end);
  if (off > media.capacity() || kHeader + json.size() > media.capacity() - off) {
    return NoSpace("no room for the report after the image");
  }
  std::vector<uint8_t> buf(kHeader + json.size(), 0);
  std::memcpy(buf.data(), kMagic, 8);
  StoreLE<uint32_t>(buf.data() + 8, 1);
  StoreLE<uint64_t>(buf.data() + 16, json.size());
  StoreLE<uint64_t>(buf.data() + 24, Hash64(json.data(), json.size()));
  std::memcpy(buf.data() + kHeader, json.data(), json.size());
  WB_RETURN_IF_ERROR(media.WriteAt(off, buf));
  return media.Flush();
}

Result<std::string> ReadReportRecord(Media& media, uint64_t image_end) {
  uint64_t off = ReportRecordOffset(image_end);
  if (off > media.size() || media.size() - off < kHeader) return NotFound("no report record");
  uint8_t h[kHeader];
  WB_RETURN_IF_ERROR(media.ReadAt(off, {h, kHeader}));
  if (std::memcmp(h, kMagic, 8) != 0 || LoadLE<uint32_t>(h + 8) != 1) {
    return NotFound("no report record");
  }
  uint64_t len = LoadLE<uint64_t>(h + 16);
  if (len > kReportRecordMax - kHeader || len > media.size() - off - kHeader) {
    return Corruption("report record has an impossible length");
  }
  std::string json(len, '\0');
  WB_RETURN_IF_ERROR(media.ReadAt(off + kHeader, {reinterpret_cast<uint8_t*>(json.data()), len}));
  if (Hash64(json.data(), json.size()) != LoadLE<uint64_t>(h + 24)) {
    return Corruption("report record is damaged (checksum mismatch)");
  }
  return json;
}

}  // namespace warmboot
