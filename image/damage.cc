#include "image/damage.h"

#include <algorithm>

namespace warmboot {

DamageLog::DamageLog(const LoadedImage& img) : img_(img) {
  for (uint64_t i = 0; i < img.segments.size(); ++i) {
    if (!img.segments[i].ok) {
      DamagedSegment d;
      d.index = i;
      d.path = img.segments[i].path;  // empty when the record's checksum failed
      d.reason = img.segments[i].problem;
      by_segment_[i] = d;
    }
  }
}

void DamageLog::Add(uint64_t segment, ByteRange range, const std::string& reason) {
  std::lock_guard lock(mu_);
  DamagedSegment& d = by_segment_[segment];
  // Workers report in any order: keep the reason of the earliest damaged range so reports are
  // the same from run to run.
  bool first = d.reason.empty();
  bool earlier =
      range.length && std::all_of(d.damaged_ranges.begin(), d.damaged_ranges.end(),
                                  [&](const ByteRange& r) { return range.offset < r.offset; });
  if (first || earlier) {
    d.index = segment;
    d.path = img_.segments[segment].path;
    d.reason = reason;
  }
  if (range.length) d.damaged_ranges.push_back(range);
}

bool DamageLog::IsDamaged(uint64_t segment) const {
  std::lock_guard lock(mu_);
  return by_segment_.count(segment) != 0;
}

void DamageLog::SetQuarantined(uint64_t segment, const std::string& where) {
  std::lock_guard lock(mu_);
  by_segment_[segment].quarantined_as = where;
}

void DamageLog::NoteNotQuarantined(uint64_t segment, const std::string& why) {
  std::lock_guard lock(mu_);
  by_segment_[segment].reason += "; not quarantined: " + why;
}

std::vector<DamagedSegment> DamageLog::Take() {
  std::lock_guard lock(mu_);
  std::vector<DamagedSegment> out;
  for (auto& [i, d] : by_segment_) {
    std::sort(d.damaged_ranges.begin(), d.damaged_ranges.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
    out.push_back(std::move(d));
  }
  by_segment_.clear();
  return out;
}

}  // namespace warmboot
