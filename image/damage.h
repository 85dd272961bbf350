// Collects damage per segment from many worker threads and reports it in segment order, the
// corruption reporter of the image reader.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/image_reader.h"

namespace warmboot {

class DamageLog {
 public:
  // Starts with the segments whose records are already known to be bad.
  explicit DamageLog(const LoadedImage& img);

  void Add(uint64_t segment, ByteRange file_range, const std::string& reason);
  bool IsDamaged(uint64_t segment) const;
  // Sets where a damaged segment's salvaged bytes were put.
  void SetQuarantined(uint64_t segment, const std::string& where);
  // Says why a damaged segment's salvaged bytes could not be put in quarantine.
  void NoteNotQuarantined(uint64_t segment, const std::string& why);
  std::vector<DamagedSegment> Take();

 private:
  const LoadedImage& img_;
  mutable std::mutex mu_;
  std::map<uint64_t, DamagedSegment> by_segment_;
};

}  // namespace warmboot
